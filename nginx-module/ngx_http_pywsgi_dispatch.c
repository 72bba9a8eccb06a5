
/*
 * Threads mode's dispatcher: the steps of requests (see
 * ngx_http_pywsgi_thread.c) onto a thread pool, on as few threads as keep
 * the app busy.
 *
 * Why not one nginx thread task per step: each post wakes an idle pool
 * thread; with an app that only computes, all of them then queue on the
 * GIL and every step costs a handoff from thread to thread.  Measured with
 * the hello-world app, wrk -c16, one worker: 16 threads 25k req/s and 4.2
 * context switches a request, one thread 42k and 0.4.  More threads than
 * one pay only while steps block (sleep, a database, a slow upstream).
 *
 * So each pool has a queue of steps, and "runners", long tasks on the
 * pool, take them one after the other, holding on to their Python thread
 * state; when the queue is empty, one runner waits on a condition variable
 * for NGX_HTTP_PYWSGI_PARK ms, the others leave.  A runner is stalled
 * when its step has run for NGX_HTTP_PYWSGI_STALL ms (blocks, or computes);
 * a step is queued with a new runner only when no runner is healthy (not
 * stalled), decided when a step is queued and by a timer while steps wait,
 * and a runner leaves after a step when another one is healthy.  So a pool
 * runs about one runner more than it has blocked ones, never more than
 * its threads.
 *
 * Finished steps go to one list per worker; the loop learns of them from
 * an eventfd, written only when that list was empty, and completes them in
 * the order they finished.
 *
 * Measured (bench/nginx_bench.py, 2 cores): a 16-thread pool went from
 * 0.22 to 0.49 of nginx's "return 200".  A runner that spun (sched_yield)
 * for the next step instead of waiting on the condition variable answered
 * single requests faster, but cost 12% under load here, where the
 * spinning core is one the loop and the client need.
 */


#include "ngx_http_pywsgi_module.h"

#if (NGX_HAVE_EVENTFD)
#include <sys/eventfd.h>
#endif


#define NGX_HTTP_PYWSGI_STALL  2
#define NGX_HTTP_PYWSGI_PARK   100


typedef struct ngx_http_pywsgi_runner_s  ngx_http_pywsgi_runner_t;

struct ngx_http_pywsgi_queue_s {
    ngx_thread_pool_t           *pool;
    ngx_http_pywsgi_ctx_t       *head;          /* steps waiting */
    ngx_http_pywsgi_ctx_t      **last;
    ngx_http_pywsgi_runner_t    *runners;       /* all ever made */
    ngx_uint_t                   nrunning;
    ngx_uint_t                   parked;        /* a runner waits on cond */
    pthread_cond_t               cond;
    ngx_event_t                  watch;         /* while steps wait */
};


struct ngx_http_pywsgi_runner_s {
    ngx_thread_task_t            task;
    ngx_http_pywsgi_queue_t     *queue;
    ngx_http_pywsgi_runner_t    *next;
    ngx_msec_t                   since;         /* its step began */
    ngx_uint_t                   running;       /* posted, not yet left */
    ngx_uint_t                   busy;          /* in a step */
};


static void ngx_http_pywsgi_runner(void *data, ngx_log_t *log);
static ngx_http_pywsgi_ctx_t *ngx_http_pywsgi_park(
    ngx_http_pywsgi_queue_t *q);
static ngx_int_t ngx_http_pywsgi_cond_init(ngx_http_pywsgi_queue_t *q,
    ngx_log_t *log);
static ngx_uint_t ngx_http_pywsgi_healthy(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *except);
static ngx_http_pywsgi_runner_t *ngx_http_pywsgi_spawn(
    ngx_http_pywsgi_queue_t *q);
static ngx_int_t ngx_http_pywsgi_post_runner(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn);
static void ngx_http_pywsgi_watch(ngx_event_t *ev);
static void ngx_http_pywsgi_runner_left(ngx_event_t *ev);
static void ngx_http_pywsgi_notify(void);
static void ngx_http_pywsgi_done_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_pywsgi_notify_open(ngx_cycle_t *cycle);
static ngx_msec_t ngx_http_pywsgi_now(void);


/* per worker: the lock of all queues and of the finished steps */
static ngx_thread_mutex_t        ngx_http_pywsgi_mutex;
static ngx_http_pywsgi_ctx_t    *ngx_http_pywsgi_done;    /* newest first */
static ngx_connection_t         *ngx_http_pywsgi_notify_conn;
static ngx_fd_t                  ngx_http_pywsgi_notify_fd[2] = { -1, -1 };


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
    *qp = q;

    return q;
}


/* in each worker, before the first request */

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

    qp = queues->elts;

    for (i = 0; i < queues->nelts; i++) {
        if (ngx_http_pywsgi_cond_init(qp[i], cycle->log) != NGX_OK) {
            return NGX_ERROR;
        }

        qp[i]->watch.handler = ngx_http_pywsgi_watch;
        qp[i]->watch.data = qp[i];
        qp[i]->watch.log = cycle->log;
        qp[i]->watch.cancelable = 1;
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


/* on the loop: queue a step; ngx_http_pywsgi_step_done() follows */

ngx_int_t
ngx_http_pywsgi_dispatch(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_http_pywsgi_ctx_t     **pp;
    ngx_http_pywsgi_runner_t   *rn;

    ctx->next_step = NULL;
    rn = NULL;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    *q->last = ctx;
    q->last = &ctx->next_step;

    if (q->parked) {
        (void) pthread_cond_signal(&q->cond);

    } else if (!ngx_http_pywsgi_healthy(q, NULL)) {
        rn = ngx_http_pywsgi_spawn(q);
    }

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    if (rn && ngx_http_pywsgi_post_runner(q, rn) != NGX_OK) {

        ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

        if (q->nrunning > 0) {
            /* a runner already there takes it, later */
            rn = NULL;

        } else {
            for (pp = &q->head; *pp != ctx; pp = &(*pp)->next_step) {
                /* void */
            }

            *pp = ctx->next_step;

            if (q->last == &ctx->next_step) {
                q->last = pp;
            }
        }

        ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

        if (rn) {
            return NGX_ERROR;
        }
    }

    if (!q->watch.timer_set) {
        ngx_add_timer(&q->watch, NGX_HTTP_PYWSGI_STALL);
    }

    return NGX_OK;
}


/* on a pool thread */

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
        ctx = q->head;

        if (ctx == NULL) {
            ctx = ngx_http_pywsgi_park(q);

            if (ctx == NULL) {
                break;
            }
        }

        q->head = ctx->next_step;

        if (q->head == NULL) {
            q->last = &q->head;
        }

        rn->busy = 1;
        rn->since = ngx_http_pywsgi_now();

        ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);

        ngx_http_pywsgi_step(ctx);

        ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, log);

        rn->busy = 0;

        notify = (ngx_http_pywsgi_done == NULL);
        ctx->next_step = ngx_http_pywsgi_done;
        ngx_http_pywsgi_done = ctx;

        if (notify) {
            ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);
            ngx_http_pywsgi_notify();
            ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, log);
        }

        if (ngx_http_pywsgi_healthy(q, rn)) {
            /* another runner keeps up: one is enough */
            break;
        }
    }

    rn->running = 0;
    q->nrunning--;

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, log);
}


/*
 * Under the mutex, the queue empty: wait a while for a step rather than
 * leave, if no other runner waits already.  A runner that left is posted
 * anew, to whichever pool thread nginx wakes, with cold caches: measured,
 * a 16-thread pool then made 15% fewer requests than a 1-thread one.
 */

static ngx_http_pywsgi_ctx_t *
ngx_http_pywsgi_park(ngx_http_pywsgi_queue_t *q)
{
    struct timespec  until;

    if (q->parked) {
        return NULL;
    }

    (void) clock_gettime(CLOCK_MONOTONIC, &until);

    until.tv_nsec += NGX_HTTP_PYWSGI_PARK * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;

    q->parked = 1;

    while (q->head == NULL) {
        if (pthread_cond_timedwait(&q->cond, &ngx_http_pywsgi_mutex, &until)
            != 0)
        {
            /* ETIMEDOUT */
            break;
        }
    }

    q->parked = 0;

    return q->head;
}


static ngx_int_t
ngx_http_pywsgi_cond_init(ngx_http_pywsgi_queue_t *q, ngx_log_t *log)
{
    ngx_err_t           err;
    pthread_condattr_t  attr;

    /* timed waits on the monotonic clock: a clock step does not matter */

    err = pthread_condattr_init(&attr);

    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    }

    if (err == 0) {
        err = pthread_cond_init(&q->cond, &attr);
    }

    if (err != 0) {
        ngx_log_error(NGX_LOG_EMERG, log, err,
                      "pywsgi: pthread_cond_init() failed");
        return NGX_ERROR;
    }

    (void) pthread_condattr_destroy(&attr);

    return NGX_OK;
}


/* is a runner other than "except" running and not stalled?  Under the
   mutex; one not yet started counts as healthy: it will take steps */

static ngx_uint_t
ngx_http_pywsgi_healthy(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *except)
{
    ngx_msec_t                 now;
    ngx_http_pywsgi_runner_t  *rn;

    now = 0;

    for (rn = q->runners; rn; rn = rn->next) {
        if (rn == except || !rn->running) {
            continue;
        }

        if (!rn->busy) {
            return 1;
        }

        if (now == 0) {
            now = ngx_http_pywsgi_now();
        }

        if ((ngx_msec_int_t) (now - rn->since) < NGX_HTTP_PYWSGI_STALL) {
            return 1;
        }
    }

    return 0;
}


/* under the mutex, on the loop: a runner to post (free ones are reused) */

static ngx_http_pywsgi_runner_t *
ngx_http_pywsgi_spawn(ngx_http_pywsgi_queue_t *q)
{
    ngx_http_pywsgi_runner_t  *rn;

    for (rn = q->runners; rn; rn = rn->next) {
        /* the loop has seen it leave: nginx lets its task be posted again */
        if (!rn->running && !rn->task.event.active) {
            break;
        }
    }

    if (rn == NULL) {
        rn = ngx_calloc(sizeof(ngx_http_pywsgi_runner_t), ngx_cycle->log);
        if (rn == NULL) {
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
    }

    rn->running = 1;
    rn->busy = 0;
    q->nrunning++;

    return rn;
}


static ngx_int_t
ngx_http_pywsgi_post_runner(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_runner_t *rn)
{
    if (ngx_thread_task_post(q->pool, &rn->task) == NGX_OK) {
        return NGX_OK;
    }

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ngx_cycle->log);
    rn->running = 0;
    q->nrunning--;
    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ngx_cycle->log);

    return NGX_ERROR;
}


/* steps wait and every runner is stalled: one more */

static void
ngx_http_pywsgi_watch(ngx_event_t *ev)
{
    ngx_uint_t                 waiting;
    ngx_http_pywsgi_queue_t   *q;
    ngx_http_pywsgi_runner_t  *rn;

    q = ev->data;
    rn = NULL;

    ngx_thread_mutex_lock(&ngx_http_pywsgi_mutex, ev->log);

    waiting = (q->head != NULL);

    if (waiting && !ngx_http_pywsgi_healthy(q, NULL)) {
        rn = ngx_http_pywsgi_spawn(q);
    }

    ngx_thread_mutex_unlock(&ngx_http_pywsgi_mutex, ev->log);

    if (rn) {
        /* on failure the steps wait for the runners there are */
        (void) ngx_http_pywsgi_post_runner(q, rn);
    }

    if (waiting) {
        ngx_add_timer(ev, NGX_HTTP_PYWSGI_STALL);
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


static ngx_msec_t
ngx_http_pywsgi_now(void)
{
    struct timespec  ts;

    /* not ngx_current_msec: the loop updates that, and may be asleep */

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

