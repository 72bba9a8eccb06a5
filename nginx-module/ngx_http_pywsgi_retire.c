
/*
 * Retiring a worker gracefully: THE way a worker of this module ends
 * before nginx asks it to (recycling limits, a touched reload file, a
 * timeout watchdog, the app's pywsgi_embed.retire()).
 *
 * ngx_http_pywsgi_retire() is the gateway's pywsgi_io.retire: any thread
 * may call it, at any time, and it never blocks.  It only moves the state
 * from SERVING to RETIRING, keeps the reason and writes a byte to a pipe
 * of this module; the loop reads it and drains for a moment: the worker
 * still serves, but every response of an app says "Connection: close"
 * (ngx_http_pywsgi_retiring()), so that clients that keep connections
 * busy learn to reconnect instead of finding them closed.  Then it does
 * what "nginx -s quit" does to a worker (ngx_quit): it closes its
 * listening sockets and idle keep-alive connections, answers the requests
 * in flight, and exits with code 0 once none is left.  The master sees a worker it did not stop exit and
 * starts a fresh one at once; the listening sockets stay open in the
 * master and the other workers, so no connection is refused meanwhile.
 *
 * The wait is bounded: after pywsgi_retire_timeout a worker that still
 * runs a request (an app stuck in C holds a pool thread for ever) exits
 * with code 1, which the master also respawns.  Code 2 never: the master
 * would not respawn it.
 */


#include "ngx_http_pywsgi_module.h"


#define NGX_HTTP_PYWSGI_SERVING   0
#define NGX_HTTP_PYWSGI_RETIRING  1

#define NGX_HTTP_PYWSGI_REASON    256

/* the drain: long enough for a client that sends request after request
   on one connection to get a "Connection: close" answer */
#define NGX_HTTP_PYWSGI_DRAIN     1000


static void ngx_http_pywsgi_retire_handler(ngx_event_t *ev);
static void ngx_http_pywsgi_retire_quit(ngx_event_t *ev);
static void ngx_http_pywsgi_retire_expired(ngx_event_t *ev);


static ngx_atomic_t       ngx_http_pywsgi_retire_state;
static u_char             ngx_http_pywsgi_reason[NGX_HTTP_PYWSGI_REASON];
static ngx_fd_t           ngx_http_pywsgi_retire_fd[2] = { -1, -1 };
static ngx_connection_t  *ngx_http_pywsgi_retire_conn;
static ngx_event_t        ngx_http_pywsgi_retire_timer;
static ngx_event_t        ngx_http_pywsgi_drain_timer;
static ngx_msec_t         ngx_http_pywsgi_retire_timeout;


/* the gateway's pywsgi_io.retire: any thread, async-signal-safe */

void
ngx_http_pywsgi_retire(void *handle, const char *reason, size_t n)
{
    u_char  one = 1;

    if (!ngx_atomic_cmp_set(&ngx_http_pywsgi_retire_state,
                            NGX_HTTP_PYWSGI_SERVING,
                            NGX_HTTP_PYWSGI_RETIRING))
    {
        return;
    }

    n = ngx_min(n, NGX_HTTP_PYWSGI_REASON - 1);
    ngx_memcpy(ngx_http_pywsgi_reason, reason, n);
    ngx_http_pywsgi_reason[n] = '\0';

    if (ngx_http_pywsgi_retire_fd[1] != -1) {
        (void) write(ngx_http_pywsgi_retire_fd[1], &one, 1);
    }
}


ngx_uint_t
ngx_http_pywsgi_retiring(void)
{
    return ngx_http_pywsgi_retire_state != NGX_HTTP_PYWSGI_SERVING;
}


/* on the loop: the graceful end of this worker */

static void
ngx_http_pywsgi_retire_handler(ngx_event_t *ev)
{
    u_char  buf[16];

    while (read(ngx_http_pywsgi_retire_fd[0], buf, sizeof(buf)) > 0) {
        /* void */
    }

    if (ngx_http_pywsgi_drain_timer.handler) {
        return;                                   /* once */
    }

    ngx_log_error(NGX_LOG_NOTICE, ev->log, 0,
                  "pywsgi: worker process %P retires: %s", ngx_pid,
                  ngx_http_pywsgi_reason);

    ngx_http_pywsgi_retire_timer.handler = ngx_http_pywsgi_retire_expired;
    ngx_http_pywsgi_retire_timer.log = ev->log;
    ngx_http_pywsgi_retire_timer.cancelable = 1;  /* it keeps no one */

    ngx_add_timer(&ngx_http_pywsgi_retire_timer,
                  ngx_http_pywsgi_retire_timeout);

    ngx_http_pywsgi_drain_timer.handler = ngx_http_pywsgi_retire_quit;
    ngx_http_pywsgi_drain_timer.log = ev->log;
    ngx_http_pywsgi_drain_timer.cancelable = 1;  /* nginx quits: no wait */

    ngx_add_timer(&ngx_http_pywsgi_drain_timer, NGX_HTTP_PYWSGI_DRAIN);
}


static void
ngx_http_pywsgi_retire_quit(ngx_event_t *ev)
{
    /* the worker cycle acts on it once this handler returns */
    ngx_quit = 1;
}


static void
ngx_http_pywsgi_retire_expired(ngx_event_t *ev)
{
    ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                  "pywsgi: worker process %P still runs requests %M ms "
                  "after it began to retire (pywsgi_retire_timeout): it "
                  "exits now", ngx_pid, ngx_http_pywsgi_retire_timeout);

    /* a thread may be stuck inside Python holding the GIL: no atexit */
    _exit(1);
}


ngx_int_t
ngx_http_pywsgi_retire_init(ngx_cycle_t *cycle, ngx_msec_t timeout)
{
    ngx_event_t       *rev;
    ngx_connection_t  *c;

    ngx_http_pywsgi_retire_timeout = timeout;

    if (pipe(ngx_http_pywsgi_retire_fd) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      "pywsgi: pipe() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(ngx_http_pywsgi_retire_fd[0]) == -1
        || ngx_nonblocking(ngx_http_pywsgi_retire_fd[1]) == -1)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, ngx_errno,
                      ngx_nonblocking_n " failed");
        return NGX_ERROR;
    }

    c = ngx_get_connection(ngx_http_pywsgi_retire_fd[0], cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    rev = c->read;
    rev->handler = ngx_http_pywsgi_retire_handler;
    rev->log = cycle->log;

    if (ngx_add_event(rev, NGX_READ_EVENT, 0) != NGX_OK) {
        ngx_close_connection(c);
        return NGX_ERROR;
    }

    ngx_http_pywsgi_retire_conn = c;

    /* a limit passed while the apps were loading */

    if (ngx_http_pywsgi_retiring()) {
        ngx_post_event(rev, &ngx_posted_events);
    }

    return NGX_OK;
}


void
ngx_http_pywsgi_retire_exit(void)
{
    if (ngx_http_pywsgi_retire_conn) {
        ngx_close_connection(ngx_http_pywsgi_retire_conn);
        ngx_http_pywsgi_retire_conn = NULL;
        ngx_http_pywsgi_retire_fd[0] = -1;
    }

    /* the write end stays open until the process ends: a thread may
       still retire, and must not write into a reused descriptor */
}
