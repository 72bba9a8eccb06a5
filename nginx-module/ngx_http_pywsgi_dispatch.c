
/*
 * Threads mode's dispatcher: the steps of requests (see
 * ngx_http_pywsgi_step.c) onto a thread pool, on as many threads as the
 * app can use: one while the app computes, one per request while it waits.
 *
 * A step that computes needs the GIL, so a second thread only queues on it
 * and every step then pays a handoff from thread to thread; a step that
 * waits (a database, a sleep, an upstream) holds no GIL, and every other
 * waiting request deserves a thread of its own at once.  What tells the
 * two apart is the GIL itself: the gateway gives the address of its "held"
 * flag (pywsgi_gil()), read here without taking it.
 *
 * Each pool has a queue of steps and "runners", long tasks on the pool
 * that take steps one after the other, keeping their Python thread state.
 * A runner is FREE (not on the pool), POSTED (a task given to the pool,
 * not yet started: it waits for a free thread), COMING (woken, about to
 * take a step), BUSY (in a step) or PARKED (waiting on its own condition
 * variable, most recent first, so the one woken has warm caches; a parked
 * runner keeps its pool thread).  The rules, all under one mutex per
 * worker:
 *
 *   - a step that waits with no runner COMING (or POSTED, for less than
 *     NGX_HTTP_PYWSGI_LATE us: one that waits longer finds every thread
 *     of the pool taken, and no more are posted) gets one more runner when
 *     the GIL is free (every BUSY runner waits on something), or when
 *     every BUSY runner has been in its step for NGX_HTTP_PYWSGI_STALL us
 *     (a long computation: the GIL's switch interval then shares it, so a
 *     short request is not held up; one such runner per
 *     NGX_HTTP_PYWSGI_SHARE us); a PARKED runner is woken first;
 *   - that is checked once in each cycle of the loop that queued steps
 *     (after its I/O events, so that a runner woken does not take the
 *     CPU from the loop before it has queued them all), by the newest
 *     PARKED runner while steps wait (the GIL of an app that waits frees
 *     within microseconds, so it looks again after NGX_HTTP_PYWSGI_POLL
 *     us, and twice as late each time it finds no room, up to
 *     NGX_HTTP_PYWSGI_POLL_MAX: an app that computes is not polled often;
 *     a cycle that queues steps when it does not poll wakes it to), and
 *     by a timer of the loop, which adds more at once the more are BUSY;
 *   - after a step a runner takes the next one, unless the GIL is held by
 *     another thread: then that one computes, and this one parks;
 *   - a runner parked for NGX_HTTP_PYWSGI_PARK ms leaves the pool.
 *
 * Finished steps go to one list per worker; the loop learns of them from
 * an eventfd, written only when that list was empty, and completes them in
 * the order they finished.
 *
 * Why this design, measured in bench/concurrency_bench.py and
 * bench/nginx_bench.py (their figures, with the peers', are in the
 * README's Performance section, where they are kept current): the
 * dispatcher before it added a runner only when
 * every running one had been in its step for 2 ms and let a runner leave
 * after a step while another was younger than that, so an app that waits
 * a few milliseconds ran on a handful of threads (a fixed ceiling of about
 * one step started per 2 ms, whatever the pool); one thread per step, as
 * nginx's own thread tasks do, made CPU-bound apps convoy on the GIL.
 */


#include "ngx_http_pywsgi_module.h"

#if (NGX_HAVE_EVENTFD)
#include <sys/eventfd.h>
#endif


#define NGX_HTTP_PYWSGI_YOUNG  50           /* us */
#define NGX_HTTP_PYWSGI_STALL  2000         /* us */
#define NGX_HTTP_PYWSGI_SHARE  10000        /* us */
#define NGX_HTTP_PYWSGI_PARK   100          /* ms */
#define NGX_HTTP_PYWSGI_POLL   25           /* us, doubling ... */
#define NGX_HTTP_PYWSGI_POLL_MAX  200       /* us: ... up to this */
#define NGX_HTTP_PYWSGI_TICK   1            /* ms */
#define NGX_HTTP_PYWSGI_LATE   1000         /* us */


typedef enum {
    NGX_HTTP_PYWSGI_FREE = 0,
    NGX_HTTP_PYWSGI_POSTED,
    NGX_HTTP_PYWSGI_COMING,
    NGX_HTTP_PYWSGI_BUSY,
    NGX_HTTP_PYWSGI_PARKED
} ngx_http_pywsgi_runner_state_e;


typedef struct ngx_http_pywsgi_runner_s  ngx_http_pywsgi_runner_t;

struct ngx_http_pywsgi_queue_s {
    ngx_thread_pool_t           *pool;
    ngx_http_pywsgi_ctx_t       *head;          /* steps waiting */
    ngx_http_pywsgi_ctx_t      **last;
    ngx_uint_t                   nwaiting;      /* the status handler's
                                                   "queued" follows it */
    ngx_http_pywsgi_runner_t    *runners;       /* all ever made */
    ngx_http_pywsgi_runner_t    *parked;        /* newest first */
    ngx_uint_t                   ncoming;
    ngx_uint_t                   nposted;
    ngx_uint_t                   full;          /* a POSTED runner waits
                                                   for a thread of the pool:
                                                   all are taken */
    ngx_uint_t                   nbusy;
    ngx_uint_t                   poll;          /* us, of the newest parked */
    ngx_http_pywsgi_runner_t    *poller;        /* parked, and waits for
                                                   that long only */
    uint64_t                     shared;        /* us: a runner was added
                                                   beside a long step */
    ngx_event_t                  watch;         /* while steps wait */
    ngx_event_t                  kick;          /* steps queued in this
                                                   cycle of the loop */
};


struct ngx_http_pywsgi_runner_s {
    ngx_thread_task_t            task;
    ngx_http_pywsgi_queue_t     *queue;
    ngx_http_pywsgi_runner_t    *next;          /* in queue->runners */
    ngx_http_pywsgi_runner_t    *next_parked;
    pthread_cond_t               cond;
    ngx_http_pywsgi_runner_state_e  state;
    uint64_t                     since;         /* us: BUSY or POSTED
                                                   since */
};


static void ngx_http_pywsgi_runner(void *data, ngx_log_t *log);
static ngx_http_pywsgi_ctx_t *ngx_http_pywsgi_take(
    ngx_http_pywsgi_queue_t *q, ngx_http_pywsgi_runner_t *rn);
static ngx_uint_t ngx_http_pywsgi_park(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn, ngx_log_t *log);
static void ngx_http_pywsgi_unpark(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn);
static void ngx_http_pywsgi_leave_state(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn);
static ngx_uint_t ngx_http_pywsgi_coming(ngx_http_pywsgi_queue_t *q);
static ngx_uint_t ngx_http_pywsgi_room(ngx_http_pywsgi_queue_t *q);
static void ngx_http_pywsgi_poke(ngx_http_pywsgi_queue_t *q);
static ngx_uint_t ngx_http_pywsgi_gil_held(void);
static ngx_uint_t ngx_http_pywsgi_add(ngx_http_pywsgi_queue_t *q,
    ngx_uint_t n, ngx_http_pywsgi_runner_t **spawned);
static ngx_http_pywsgi_runner_t *ngx_http_pywsgi_spawn(
    ngx_http_pywsgi_queue_t *q);
static void ngx_http_pywsgi_post_runners(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn);
static void ngx_http_pywsgi_watch(ngx_event_t *ev);
static void ngx_http_pywsgi_kick(ngx_event_t *ev);
static void ngx_http_pywsgi_runner_left(ngx_event_t *ev);
static void ngx_http_pywsgi_notify(void);
static void ngx_http_pywsgi_done_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pywsgi_notify_open(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_pywsgi_cond_init(pthread_cond_t *cond,
    ngx_log_t *log);
static void ngx_http_pywsgi_deadline(struct timespec *ts, ngx_msec_t ms,
    ngx_uint_t us);
static uint64_t ngx_http_pywsgi_now(void);


/* per worker: the lock of all queues and of the finished steps */
static ngx_thread_mutex_t        ngx_http_pywsgi_mutex;
static ngx_http_pywsgi_ctx_t    *ngx_http_pywsgi_done;    /* newest first */
static ngx_connection_t         *ngx_http_pywsgi_notify_conn;
static ngx_fd_t                  ngx_http_pywsgi_notify_fd[2] = { -1, -1 };
static const volatile int       *ngx_http_pywsgi_gil;     /* NULL: no GIL */


/* at configuration: one queue per pool, however many locations use it */

ngx_http_pywsgi_queue_t *
ngx_http_pywsgi_queue_add(ngx_conf_t *cf, ngx_array_t *queues,
    ngx_thread_pool_t *pool)
{
    ngx_uint_t                 i;
    ngx_http_pywsgi_queue_t   *q, **qp;

    qp = queues->elts;

    for (i = 0; i < queues->nelts; i++) {
        if (qp[i]->pool == pool) {
            return qp[i];
        }
    }

    q = ngx_pcalloc(cf->pool, sizeof(ngx_http_pywsgi_queue_t));
    if (q == NULL) {
        return NULL;
    }

    qp = ngx_array_push(queues);
    if (qp == NULL) {
        return NULL;
    }

    q->pool = pool;
    q->last = &q->head;
    q->poll = NGX_HTTP_PYWSGI_POLL;
    *qp = q;

    return q;
}


/* in each worker, once Python runs, before the first request */

ngx_int_t
ngx_http_pywsgi_dispatch_init(ngx_cycle_t *cycle, ngx_array_t *queues)
{
    ngx_uint_t                 i;
    ngx_http_pywsgi_queue_t  **qp;

    if (queues->nelts == 0) {
        return NGX_OK;
    }

    if (ngx_thread_mutex_create(&ngx_http_pywsgi_mutex, cycle->log)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_pywsgi_gil = ngx_http_pywsgi_gw.gil();

    qp = queues->elts;

    for (i = 0; i < queues->nelts; i++) {
        qp[i]->watch.handler = ngx_http_pywsgi_watch;
        qp[i]->watch.data = qp[i];
        qp[i]->watch.log = cycle->log;
        qp[i]->watch.cancelable = 1;
        qp[i]->kick.handler = ngx_http_pywsgi_kick;
        qp[i]->kick.data = qp[i];
        qp[i]->kick.log = cycle->log;
    }

    return ngx_http_pywsgi_notify_open(cycle);
}


void
ngx_http_pywsgi_dispatch_exit(void)
{
    /* the pools' threads have been joined by now (ngx_thread_pool_module
       exits first): nothing writes to the eventfd any more */

    if (ngx_http_pywsgi_notify_conn) {
        ngx_close_connection(ngx_http_pywsgi_notify_conn);
        ngx_http_pywsgi_notify_conn = NULL;
    }

    if (ngx_http_pywsgi_notify_fd[1] != ngx_http_pywsgi_notify_fd[0]) {
        (void) close(ngx_http_pywsgi_notify_fd[1]);
    }

    ngx_http_pywsgi_notify_fd[0] = -1;
    ngx_http_pywsgi_notify_fd[1] = -1;
}


/* on the loop: the steps waiting for a thread of q now */

ngx_uint_t
ngx_http_pywsgi_queue_waiting(ngx_http_pywsgi_queue_t *q)
{
    ngx_uint_t  n;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);
    n = q->nwaiting;
    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    return n;
}


/* on the loop: queue a step (runners for it: ngx_http_pywsgi_kick());
   ngx_http_pywsgi_step_done() follows */

ngx_int_t
ngx_http_pywsgi_dispatch(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_ctx_t *ctx)
{
    ctx->next_step = NULL;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    *q->last = ctx;
    q->last = &ctx->next_step;
    q->nwaiting++;
    ngx_http_pywsgi_gw.gauge_add(PYWSGI_GAUGE_QUEUED, ctx->rec.app, 1);

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    if (!q->kick.posted) {
        ngx_post_event(&q->kick, &ngx_posted_events);
    }

    if (!q->watch.timer_set) {
        ngx_add_timer(&q->watch, NGX_HTTP_PYWSGI_TICK);
    }

    return NGX_OK;
}


/*
 * On the loop, once in each of its cycles that queued steps (a posted
 * event, run after the cycle's I/O events): one more runner if
 * ngx_http_pywsgi_room() says so, else the newest parked runner told to
 * look soon, not while one runner computes alone (it takes the steps).
 * Once for all the steps a cycle reads, not at each: a runner woken at
 * the first took the CPU from the loop before it had queued the others,
 * a switch back and forth for each request (bench/nginx_bench.py).
 */

static void
ngx_http_pywsgi_kick(ngx_event_t *ev)
{
    ngx_uint_t                 added;
    ngx_http_pywsgi_queue_t   *q;
    ngx_http_pywsgi_runner_t  *spawned;

    q = ev->data;
    spawned = NULL;
    added = 0;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ev->log);

    if (ngx_http_pywsgi_room(q)) {
        added = ngx_http_pywsgi_add(q, 1, &spawned);
    }

    if (added == 0 && q->parked && q->poller == NULL
        && q->nwaiting > ngx_http_pywsgi_coming(q)
        && (q->nbusy > 1 || !ngx_http_pywsgi_gil_held()))
    {
        ngx_http_pywsgi_poke(q);
    }

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ev->log);

    /* a runner the pool refuses is FREE again: the steps wait for the
       runners there are, or the next try of the timer */

    ngx_http_pywsgi_post_runners(q, spawned);
}


/* on a pool thread: take steps until parked for long */

static void
ngx_http_pywsgi_runner(void *data, ngx_log_t *log)
{
    ngx_http_pywsgi_runner_t  *rn = data;

    ngx_uint_t                 notify;
    ngx_http_pywsgi_ctx_t     *ctx;
    ngx_http_pywsgi_queue_t   *q;

    q = rn->queue;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, log);

    for ( ;; ) {
        ctx = ngx_http_pywsgi_take(q, rn);

        if (ctx == NULL) {
            if (ngx_http_pywsgi_park(q, rn, log)) {
                continue;
            }

            break;
        }

        ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);

        if (!ngx_http_pywsgi_shed(ctx)) {
            ngx_http_pywsgi_step(ctx);
        }

        ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, log);

        notify = (ngx_http_pywsgi_done == NULL);
        ctx->next_step = ngx_http_pywsgi_done;
        ngx_http_pywsgi_done = ctx;

        if (notify) {
            ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);
            ngx_http_pywsgi_notify();
            ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, log);
        }

        if (q->head && ngx_http_pywsgi_gil_held()) {
            /* another thread computes: it takes the next step, this one
               would only queue on the GIL */
            if (!ngx_http_pywsgi_park(q, rn, log)) {
                break;
            }
        }
    }

    rn->state = NGX_HTTP_PYWSGI_FREE;

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);
}


/* under the mutex: the next step for rn, which becomes BUSY */

static ngx_http_pywsgi_ctx_t *
ngx_http_pywsgi_take(ngx_http_pywsgi_queue_t *q, ngx_http_pywsgi_runner_t *rn)
{
    ngx_http_pywsgi_ctx_t  *ctx;

    ngx_http_pywsgi_leave_state(q, rn);

    ctx = q->head;

    if (ctx == NULL) {
        return NULL;
    }

    q->head = ctx->next_step;

    if (q->head == NULL) {
        q->last = &q->head;
    }

    q->nwaiting--;
    ngx_http_pywsgi_gw.gauge_add(PYWSGI_GAUGE_QUEUED, ctx->rec.app, -1);

    rn->state = NGX_HTTP_PYWSGI_BUSY;
    rn->since = ngx_http_pywsgi_now();
    q->nbusy++;

    return ctx;
}


/*
 * Under the mutex: wait to be woken (1: take a step), or leave after
 * NGX_HTTP_PYWSGI_PARK ms (0).  The newest parked runner looks every
 * NGX_HTTP_PYWSGI_POLL us whether waiting steps can use it.
 */

static ngx_uint_t
ngx_http_pywsgi_park(ngx_http_pywsgi_queue_t *q, ngx_http_pywsgi_runner_t *rn,
    ngx_log_t *log)
{
    uint64_t         parked;
    struct timespec  until;

    ngx_http_pywsgi_leave_state(q, rn);

    rn->state = NGX_HTTP_PYWSGI_PARKED;
    rn->next_parked = q->parked;
    q->parked = rn;
    parked = ngx_http_pywsgi_now();

    for ( ;; ) {
        if (q->parked == rn && q->nwaiting > ngx_http_pywsgi_coming(q)) {
            ngx_http_pywsgi_deadline(&until, 0, q->poll);
            q->poller = rn;

        } else {
            ngx_http_pywsgi_deadline(&until, NGX_HTTP_PYWSGI_PARK, 0);
        }

        (void) pthread_cond_timedwait(&rn->cond,
                                      &ngx_http_pywsgi_mutex, &until);

        if (q->poller == rn) {
            q->poller = NULL;
        }

        if (rn->state == NGX_HTTP_PYWSGI_COMING) {
            /* woken by ngx_http_pywsgi_add() */
            return 1;
        }

        if (q->parked == rn && q->nwaiting > ngx_http_pywsgi_coming(q)) {

            if (ngx_http_pywsgi_room(q)) {
                q->poll = NGX_HTTP_PYWSGI_POLL;
                ngx_http_pywsgi_unpark(q, rn);
                rn->state = NGX_HTTP_PYWSGI_COMING;
                q->ncoming++;
                return 1;
            }

            if (q->poll < NGX_HTTP_PYWSGI_POLL_MAX) {
                q->poll *= 2;
            }
        }

        if (ngx_http_pywsgi_now() - parked >= NGX_HTTP_PYWSGI_PARK * 1000) {
            ngx_http_pywsgi_unpark(q, rn);
            return 0;
        }
    }
}


static void
ngx_http_pywsgi_unpark(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn)
{
    ngx_http_pywsgi_runner_t  **pp;

    for (pp = &q->parked; *pp; pp = &(*pp)->next_parked) {
        if (*pp == rn) {
            *pp = rn->next_parked;
            break;
        }
    }

    rn->next_parked = NULL;
    rn->state = NGX_HTTP_PYWSGI_FREE;
}


/* under the mutex: rn leaves its state for another; it is FREE now */

static void
ngx_http_pywsgi_leave_state(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn)
{
    switch (rn->state) {

    case NGX_HTTP_PYWSGI_POSTED:
        q->nposted--;
        break;

    case NGX_HTTP_PYWSGI_COMING:
        q->ncoming--;
        break;

    case NGX_HTTP_PYWSGI_BUSY:
        q->nbusy--;
        break;

    default:
        break;
    }

    rn->state = NGX_HTTP_PYWSGI_FREE;
}


/*
 * Under the mutex: the runners about to take a step: the COMING ones, and
 * the POSTED ones given to the pool less than LATE us ago.  One posted
 * longer ago waits for a thread: the pool's threads are all taken (by
 * BUSY and PARKED runners), so q->full stops ngx_http_pywsgi_add() from
 * posting more, and it wakes parked ones instead.
 */

static ngx_uint_t
ngx_http_pywsgi_coming(ngx_http_pywsgi_queue_t *q)
{
    uint64_t                   now;
    ngx_uint_t                 fresh;
    ngx_http_pywsgi_runner_t  *rn;

    q->full = 0;

    if (q->nposted == 0) {
        return q->ncoming;
    }

    now = ngx_http_pywsgi_now();
    fresh = 0;

    for (rn = q->runners; rn; rn = rn->next) {
        if (rn->state != NGX_HTTP_PYWSGI_POSTED) {
            continue;
        }

        if (now - rn->since < NGX_HTTP_PYWSGI_LATE) {
            fresh++;

        } else {
            q->full = 1;
        }
    }

    return q->ncoming + fresh;
}


/*
 * Under the mutex: how many more runners may take waiting steps now?
 * None while one is COMING already.  When no thread holds the GIL and no
 * BUSY runner has only just begun its step (it may not have taken the
 * GIL yet: the GIL is free between two steps of an app that computes),
 * the BUSY ones all wait on something: as many more as are BUSY, plus
 * one.  When every BUSY one has been in its step for STALL us (a long
 * computation, or one the machine keeps from its core), one more, at most
 * one per SHARE us: else a burst of CPU-bound steps on a loaded machine
 * would end up on every thread of the pool.
 */

static ngx_uint_t
ngx_http_pywsgi_room(ngx_http_pywsgi_queue_t *q)
{
    uint64_t                   now, age;
    ngx_uint_t                 young, stalled;
    ngx_http_pywsgi_runner_t  *rn;

    if (q->nwaiting == 0 || ngx_http_pywsgi_coming(q) > 0) {
        return 0;
    }

    now = ngx_http_pywsgi_now();
    young = 0;
    stalled = 1;

    for (rn = q->runners; rn; rn = rn->next) {
        if (rn->state != NGX_HTTP_PYWSGI_BUSY) {
            continue;
        }

        age = now - rn->since;

        if (age < NGX_HTTP_PYWSGI_YOUNG) {
            young = 1;
        }

        if (age < NGX_HTTP_PYWSGI_STALL) {
            stalled = 0;
        }
    }

    if (!young && !ngx_http_pywsgi_gil_held()) {
        return q->nbusy + 1;
    }

    if (stalled && now - q->shared >= NGX_HTTP_PYWSGI_SHARE) {
        q->shared = now;
        return 1;
    }

    return 0;
}


/* under the mutex: the newest parked runner is to look again, soon */

static void
ngx_http_pywsgi_poke(ngx_http_pywsgi_queue_t *q)
{
    q->poll = NGX_HTTP_PYWSGI_POLL;
    (void) pthread_cond_signal(&q->parked->cond);
}


static ngx_uint_t
ngx_http_pywsgi_gil_held(void)
{
    if (ngx_http_pywsgi_gil == NULL) {
        return 0;
    }

    return __atomic_load_n(ngx_http_pywsgi_gil, __ATOMIC_RELAXED) != 0;
}


/*
 * Under the mutex, on the loop: up to n more runners for the waiting
 * steps, parked ones first; new ones are returned in *spawned (linked by
 * next_parked) for the caller to post once it released the mutex.
 */

static ngx_uint_t
ngx_http_pywsgi_add(ngx_http_pywsgi_queue_t *q, ngx_uint_t n,
    ngx_http_pywsgi_runner_t **spawned)
{
    ngx_uint_t                 added, coming;
    ngx_http_pywsgi_runner_t  *rn;

    coming = ngx_http_pywsgi_coming(q);

    for (added = 0; added < n && q->nwaiting > coming + added; added++) {
        rn = q->parked;

        if (rn) {
            q->parked = rn->next_parked;
            rn->next_parked = NULL;
            rn->state = NGX_HTTP_PYWSGI_COMING;
            q->ncoming++;
            (void) pthread_cond_signal(&rn->cond);
            continue;
        }

        if (q->full) {
            /* every thread is taken: the runner would wait there */
            break;
        }

        rn = ngx_http_pywsgi_spawn(q);
        if (rn == NULL) {
            break;
        }

        rn->state = NGX_HTTP_PYWSGI_POSTED;
        rn->since = ngx_http_pywsgi_now();
        q->nposted++;

        rn->next_parked = *spawned;
        *spawned = rn;
    }

    return added;
}


/* under the mutex, on the loop: a FREE runner (made if need be) */

static ngx_http_pywsgi_runner_t *
ngx_http_pywsgi_spawn(ngx_http_pywsgi_queue_t *q)
{
    ngx_http_pywsgi_runner_t  *rn;

    for (rn = q->runners; rn; rn = rn->next) {
        /* the loop has seen it leave: nginx lets its task be posted again */
        if (rn->state == NGX_HTTP_PYWSGI_FREE && !rn->task.event.active) {
            return rn;
        }
    }

    rn = ngx_calloc(sizeof(ngx_http_pywsgi_runner_t), ngx_cycle->log);
    if (rn == NULL) {
        return NULL;
    }

    if (ngx_http_pywsgi_cond_init(&rn->cond, ngx_cycle->log) != NGX_OK) {
        ngx_free(rn);
        return NULL;
    }

    rn->queue = q;
    rn->task.ctx = rn;
    rn->task.handler = ngx_http_pywsgi_runner;
    rn->task.event.data = rn;
    rn->task.event.handler = ngx_http_pywsgi_runner_left;
    rn->task.event.log = ngx_cycle->log;

    rn->next = q->runners;
    q->runners = rn;

    return rn;
}


/* on the loop, the mutex released: post the runners ngx_http_pywsgi_add()
   made; one the pool refuses is FREE again */

static void
ngx_http_pywsgi_post_runners(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn)
{
    ngx_http_pywsgi_runner_t  *next;

    for ( /* void */ ; rn; rn = next) {
        next = rn->next_parked;
        rn->next_parked = NULL;

        if (ngx_thread_task_post(q->pool, &rn->task) == NGX_OK) {
            continue;
        }

        ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);
        ngx_http_pywsgi_leave_state(q, rn);
        ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);
    }
}


/* while steps wait: more runners when they can run, more at once the more
   are BUSY (a burst of requests that all wait gets threads quickly) */

static void
ngx_http_pywsgi_watch(ngx_event_t *ev)
{
    ngx_uint_t                 waiting;
    ngx_http_pywsgi_queue_t   *q;
    ngx_http_pywsgi_runner_t  *spawned;

    q = ev->data;
    spawned = NULL;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ev->log);

    waiting = (q->nwaiting > 0);

    if (ngx_http_pywsgi_add(q, ngx_http_pywsgi_room(q), &spawned) == 0
        && q->parked && q->poller == NULL
        && q->nwaiting > ngx_http_pywsgi_coming(q))
    {
        /* the runner that polled is no longer the newest parked one */
        ngx_http_pywsgi_poke(q);
    }

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ev->log);

    ngx_http_pywsgi_post_runners(q, spawned);

    if (waiting) {
        ngx_add_timer(ev, NGX_HTTP_PYWSGI_TICK);
    }
}


static void
ngx_http_pywsgi_runner_left(ngx_event_t *ev)
{
    /* nothing to do: nginx cleared task.event.active, so the runner can be
       posted again */
}


/* on a pool thread, or the loop: wake the loop up */

static void
ngx_http_pywsgi_notify(void)
{
#if (NGX_HAVE_EVENTFD)
    uint64_t  one = 1;
#else
    u_char    one = 1;
#endif

    /* the counter or a byte: EAGAIN means the loop has one to read */

    (void) write(ngx_http_pywsgi_notify_fd[1], &one, sizeof(one));
}


/* on the loop: complete the steps done, oldest first */

static void
ngx_http_pywsgi_done_handler(ngx_event_t *ev)
{
    u_char                  buf[64];
    ngx_http_pywsgi_ctx_t  *ctx, *next, *done;

    while (read(ngx_http_pywsgi_notify_fd[0], buf, sizeof(buf)) > 0) {
        /* void */
    }

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ev->log);
    ctx = ngx_http_pywsgi_done;
    ngx_http_pywsgi_done = NULL;
    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ev->log);

    for (done = NULL; ctx; ctx = next) {
        next = ctx->next_step;
        ctx->next_step = done;
        done = ctx;
    }

    for (ctx = done; ctx; ctx = next) {
        /* the completion may queue the request's next step */
        next = ctx->next_step;
        ngx_http_pywsgi_step_done(ctx);
    }
}


static ngx_int_t
ngx_http_pywsgi_notify_open(ngx_cycle_t *cycle)
{
    ngx_event_t       *rev;
    ngx_connection_t  *c;

#if (NGX_HAVE_EVENTFD)
    ngx_http_pywsgi_notify_fd[0] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (ngx_http_pywsgi_notify_fd[0] == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "pywsgi: eventfd() failed");
        return NGX_ERROR;
    }

    ngx_http_pywsgi_notify_fd[1] = ngx_http_pywsgi_notify_fd[0];
#else
    if (pipe(ngx_http_pywsgi_notify_fd) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "pywsgi: pipe() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(ngx_http_pywsgi_notify_fd[0]) == -1
        || ngx_nonblocking(ngx_http_pywsgi_notify_fd[1]) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_nonblocking_n " failed");
        return NGX_ERROR;
    }
#endif

    c = ngx_get_connection(ngx_http_pywsgi_notify_fd[0], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    rev = c->read;
    rev->handler = ngx_http_pywsgi_done_handler;
    rev->log = cycle->log;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_http_pywsgi_notify_conn = c;

    return NGX_OK;
}


static ngx_int_t
ngx_http_pywsgi_cond_init(pthread_cond_t *cond, ngx_log_t *log)
{
    ngx_err_t           err;
    pthread_condattr_t  attr;

    /* timed waits on the monotonic clock: a clock step does not matter */

    err = pthread_condattr_init(&attr);

    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    }

    if (err == 0) {
        err = pthread_cond_init(cond, &attr);
    }

    if (err != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, err,
                      "pywsgi: pthread_cond_init() failed");
        return NGX_ERROR;
    }

    (void) pthread_condattr_destroy(&attr);

    return NGX_OK;
}


static void
ngx_http_pywsgi_deadline(struct timespec *ts, ngx_msec_t ms, ngx_uint_t us)
{
    (void) clock_gettime(CLOCK_MONOTONIC, ts);

    ts->tv_nsec += (long) ms * 1000000L + (long) us * 1000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}


/* in us; not ngx_current_msec: the loop updates that, and may be asleep */

static uint64_t
ngx_http_pywsgi_now(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
