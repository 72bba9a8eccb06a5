
/*
 * ngx_http_pywsgi_shed: overload shedding in threads mode.
 *
 * pywsgi_queue_max: a request that finds that many steps already waiting
 * for a thread of its pool gets a 503 at once, on the loop.
 *
 * pywsgi_queue_timeout:  A request whose first step waited longer than
 * that for a pool thread is answered 503 by the thread that takes it,
 * without entering the app: under overload the requests that would run
 * late anyway make room for those that can still be served in time.
 * Only the first step is shed; a response under way always finishes.
 */


#include "ngx_http_pywsgi_module.h"


static u_char  ngx_http_pywsgi_503_status[] = "503 Service Unavailable";
static u_char  ngx_http_pywsgi_503_headers[] =
    "Content-Type\0text/plain; charset=utf-8\0Retry-After\0" "1\0";
static u_char  ngx_http_pywsgi_503_body[] = "503 Service Unavailable";


/* a clock the pool threads can read: ngx_current_msec is the loop's */

ngx_msec_t
ngx_http_pywsgi_clock(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* on a pool thread, a step just taken from the queue: 1 if it was shed
   (ctx->rc is PYWSGI_DONE, the 503 is the step's output, the loop sends
   it as it sends any step's), 0 if it runs */

ngx_uint_t
ngx_http_pywsgi_shed(ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_msec_t              waited;
    ngx_http_pywsgi_head_t  head;

    if (ctx->state != NGX_HTTP_PYWSGI_START || ctx->queue_timeout == 0) {
        return 0;
    }

    waited = ngx_http_pywsgi_clock() - ctx->queued;

    if (waited <= ctx->queue_timeout) {
        return 0;
    }

    head.status = NGX_HTTP_SERVICE_UNAVAILABLE;
    head.status_line = ngx_http_pywsgi_503_status;
    head.status_len = sizeof(ngx_http_pywsgi_503_status) - 1;
    head.headers = ngx_http_pywsgi_503_headers;
    head.headers_len = sizeof(ngx_http_pywsgi_503_headers) - 1;
    head.nheaders = 2;

    if (ngx_http_pywsgi_step_head(ctx, &head,
                                  (char *) ngx_http_pywsgi_503_body,
                                  sizeof(ngx_http_pywsgi_503_body) - 1)
        != 0)
    {
        ctx->rc = PYWSGI_FAIL;
        return 1;
    }

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "pywsgi: a request waited %M ms for a thread, past "
                  "pywsgi_queue_timeout %M ms: 503, the app not called",
                  waited, ctx->queue_timeout);

    ctx->rc = PYWSGI_DONE;
    ngx_http_pywsgi_gw.count(PYWSGI_COUNT_QUEUE_TIMEOUT);

    return 1;
}


/* on the loop, before a request's first step is queued: 1 if the queue is
   full, the request answered 503 and ctx freed */

ngx_uint_t
ngx_http_pywsgi_overfull(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_uint_t                   waiting;
    ngx_http_pywsgi_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pywsgi_module);

    if (plcf->queue_max == 0) {
        return 0;
    }

    waiting = ngx_http_pywsgi_queue_waiting(ctx->queue);

    if (waiting < (ngx_uint_t) plcf->queue_max) {
        return 0;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "pywsgi: %ui requests wait for a thread, "
                  "pywsgi_queue_max %i: 503, the app not called",
                  waiting, plcf->queue_max);

    ngx_http_pywsgi_gw.count(PYWSGI_COUNT_QUEUE_FULL);

    ngx_http_pywsgi_free(ctx);
    ngx_http_finalize_request(r, NGX_HTTP_SERVICE_UNAVAILABLE);

    return 1;
}
