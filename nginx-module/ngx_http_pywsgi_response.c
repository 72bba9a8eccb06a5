
/*
 * A request's life on the event loop, in both modes: a series of steps
 * (ngx_http_pywsgi_step.c) and what the loop does with each one's output.
 *
 * The first step runs pywsgi_start() (the app up to its first body
 * chunk), each later one pywsgi_next() (one more chunk).  In threads mode
 * a step runs on the thread pool (queued by ngx_http_pywsgi_dispatch.c);
 * in inline mode on the loop itself, from a posted event, so that other
 * connections get their turn between two chunks.  Either way the step
 * only copies what the app made into memory of the ctx; its completion,
 * here, hands that to nginx, and the next step runs only once nginx has
 * sent it all (the output drained): a slow client holds back the app
 * instead of filling memory, and holds no thread while it reads.
 *
 * ctx->state says where the request is (see ngx_http_pywsgi_module.h);
 * every way out (the response complete, cut, failed, the client gone, the
 * request finalized by nginx under our feet) goes through
 * ngx_http_pywsgi_close(): an app still mid-response is closed by one more
 * step (its iterable's close() runs, on a pool thread in threads mode),
 * then the ctx is freed.
 *
 * While a threads-mode step runs the request is pinned (r->main->blocked,
 * as nginx's own thread handlers do) and a timer keeps a gracefully
 * quitting worker alive; if the request goes away anyway, the pool cleanup
 * clears ctx->request and the step's completion closes the app.
 */


#include "ngx_http_pywsgi_module.h"


#define NGX_HTTP_PYWSGI_HOLD  60000


static ngx_int_t ngx_http_pywsgi_post(ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_inline_handler(ngx_event_t *ev);
static void ngx_http_pywsgi_hold_handler(ngx_event_t *ev);
static void ngx_http_pywsgi_after_step(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static ngx_int_t ngx_http_pywsgi_output(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx, ngx_uint_t last);
static ngx_chain_t *ngx_http_pywsgi_segments(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static ngx_uint_t ngx_http_pywsgi_drained(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_wait(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_write_handler(ngx_http_request_t *r);
static void ngx_http_pywsgi_next(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_finish(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx, int rc, ngx_int_t out);
static void ngx_http_pywsgi_finalize(ngx_http_request_t *r, int rc,
    ngx_int_t out);
static ngx_int_t ngx_http_pywsgi_keep_sent(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);


/* the request body is read: run the app */

void
ngx_http_pywsgi_run(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_http_pywsgi_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pywsgi_module);

    ctx->mode = plcf->mode;
    ctx->queue = plcf->queue;
    ctx->out_last = &ctx->out;
    ctx->state = NGX_HTTP_PYWSGI_START;

    /* inline mode too runs even its first step from a posted event, not
       here: this may be called from within ngx_http_read_client_request_body()
       (a body already read), and a response that ends here, cut or failed,
       would free the request under the callers' feet */

    ctx->event.handler = (ctx->mode == NGX_HTTP_PYWSGI_INLINE)
                         ? ngx_http_pywsgi_inline_handler
                         : ngx_http_pywsgi_hold_handler;

    if (ngx_http_pywsgi_post(ctx) != NGX_OK) {
        ngx_http_pywsgi_free(ctx);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


/* the step of ctx->state, later: on the pool, or from a posted event */

static ngx_int_t
ngx_http_pywsgi_post(ngx_http_pywsgi_ctx_t *ctx)
{
    ctx->event.data = ctx;
    ctx->event.log = ngx_cycle->log;

    if (ctx->mode == NGX_HTTP_PYWSGI_INLINE) {
        ngx_post_event(&ctx->event, &ngx_posted_events);
        return NGX_OK;
    }

    if (ngx_http_pywsgi_dispatch(ctx->queue, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ctx->request) {
        ctx->request->main->blocked++;
    }

    ngx_add_timer(&ctx->event, NGX_HTTP_PYWSGI_HOLD);

    return NGX_OK;
}


static void
ngx_http_pywsgi_inline_handler(ngx_event_t *ev)
{
    ngx_http_pywsgi_ctx_t  *ctx = ev->data;

    if (ctx->request == NULL && ctx->state != NGX_HTTP_PYWSGI_CLOSE) {
        /* finalized by nginx while the step waited for its turn */
        ctx->rc = PYWSGI_ABORT;

    } else {
        ngx_http_pywsgi_step(ctx);
    }

    ngx_http_pywsgi_step_done(ctx);
}


static void
ngx_http_pywsgi_hold_handler(ngx_event_t *ev)
{
    /* a step still runs: the timer is all it takes to keep a quitting
       worker alive */

    ngx_add_timer(ev, NGX_HTTP_PYWSGI_HOLD);
}


/* on the loop, once a step has run */

void
ngx_http_pywsgi_step_done(ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (ctx->mode == NGX_HTTP_PYWSGI_THREADS) {
        if (ctx->event.timer_set) {
            ngx_del_timer(&ctx->event);
        }

        if (r) {
            r->main->blocked--;
        }
    }

    if (r == NULL || ctx->state == NGX_HTTP_PYWSGI_CLOSE) {
        /* the request went away while the step waited or ran, or this was
           the step that closed the app */
        ngx_http_pywsgi_close(ctx);
        return;
    }

    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ngx_http_pywsgi_after_step(r, ctx);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_pywsgi_after_step(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    int        rc;
    ngx_int_t  out;

    rc = ctx->rc;

    if (r->connection->error) {
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    out = ngx_http_pywsgi_output(r, ctx, rc == PYWSGI_DONE);

    if (out == NGX_ERROR) {
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    if (rc != PYWSGI_MORE) {
        ngx_http_pywsgi_finish(r, ctx, rc, out);
        return;
    }

    if (r->header_only) {
        /* HEAD: the body is not wanted, the app is closed early */
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_DONE, out);
        return;
    }

    if (ngx_http_pywsgi_drained(r, ctx)) {
        ngx_http_pywsgi_next(r, ctx);
        return;
    }

    ngx_http_pywsgi_wait(r, ctx);
}


/* what the last step made, into nginx: the head, then the segments, the
   last of them marked as the end of the response when it is */

static ngx_int_t
ngx_http_pywsgi_output(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx,
    ngx_uint_t last)
{
    ngx_int_t     rc;
    ngx_chain_t  *out, *cl;

    rc = NGX_OK;

    if (ctx->head) {
        rc = ngx_http_pywsgi_send_head(r, ctx->head);

        ngx_free(ctx->head);
        ctx->head = NULL;

        if (rc == NGX_ERROR || rc > NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (r->header_only || !r->header_sent) {
        return rc;
    }

    if (ctx->out == NULL) {
        return last ? ngx_http_send_special(r, NGX_HTTP_LAST) : rc;
    }

    out = ngx_http_pywsgi_segments(r, ctx);
    if (out == NULL) {
        return NGX_ERROR;
    }

    if (last) {
        for (cl = out; cl->next; cl = cl->next) { /* void */ }

        cl->buf->last_buf = (r == r->main);
        cl->buf->last_in_chain = 1;
    }

    rc = ngx_http_output_filter(r, out);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_pywsgi_module);

    return rc;
}


/* the segments as buffers; they move to ctx->sent, freed once drained */

static ngx_chain_t *
ngx_http_pywsgi_segments(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_chain_t             *out, **ll, *cl;
    ngx_http_pywsgi_seg_t   *seg, *next;

    out = NULL;
    ll = &out;

    for (seg = ctx->out; seg; seg = next) {
        next = seg->next;

        if (seg->fd != NGX_INVALID_FILE) {
            /* the dup made by the step is the request's now */
            if (ngx_http_pywsgi_keep_fd(r, seg->fd) != NGX_OK) {
                seg->fd = NGX_INVALID_FILE;
                return NULL;
            }

            cl = ngx_http_pywsgi_chain_file(r, &ctx->free, seg->fd,
                                            seg->offset, seg->len);
            seg->fd = NGX_INVALID_FILE;

        } else {
            cl = ngx_http_pywsgi_chain_memory(r, &ctx->free, seg->data,
                                              seg->len);
        }

        if (cl == NULL) {
            return NULL;
        }

        *ll = cl;
        ll = &cl->next;

        seg->next = ctx->sent;
        ctx->sent = seg;
    }

    ctx->out = NULL;
    ctx->out_last = &ctx->out;

    return out;
}


static ngx_uint_t
ngx_http_pywsgi_drained(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    return ctx->busy == NULL && !r->buffered && !r->postponed
           && !(r == r->main && r->connection->buffered);
}


/* wait for the client to take the output, like ngx_http_writer() */

static void
ngx_http_pywsgi_wait(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    ctx->state = NGX_HTTP_PYWSGI_SEND;

    clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);
    wev = r->connection->write;

    r->write_event_handler = ngx_http_pywsgi_write_handler;

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
    }
}


static void
ngx_http_pywsgi_write_handler(ngx_http_request_t *r)
{
    ngx_int_t               rc;
    ngx_event_t            *wev;
    ngx_chain_t            *out;
    ngx_connection_t       *c;
    ngx_http_pywsgi_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_pywsgi_module);
    c = r->connection;
    wev = c->write;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "client timed out");
        c->timedout = 1;
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    if (!wev->delayed) {
        out = NULL;
        rc = ngx_http_output_filter(r, NULL);

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                                (ngx_buf_tag_t) &ngx_http_pywsgi_module);

        if (rc == NGX_ERROR) {
            ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
            return;
        }

        if (ngx_http_pywsgi_drained(r, ctx)) {
            if (wev->timer_set) {
                ngx_del_timer(wev);
            }

            r->write_event_handler = ngx_http_request_empty_handler;
            ngx_http_pywsgi_next(r, ctx);
            return;
        }
    }

    ngx_http_pywsgi_wait(r, ctx);
}


/* the output drained: free it and ask the app for more */

static void
ngx_http_pywsgi_next(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_http_pywsgi_free_segments(ctx->sent);
    ctx->sent = NULL;

    ctx->state = NGX_HTTP_PYWSGI_NEXT;

    if (ngx_http_pywsgi_post(ctx) != NGX_OK) {
        ngx_http_pywsgi_finish(r, ctx, PYWSGI_ABORT, NGX_ERROR);
    }
}


/* the response is over (rc: DONE, ABORT, FAIL), or must end now */

static void
ngx_http_pywsgi_finish(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx,
    int rc, ngx_int_t out)
{
    if (ctx->sent && ngx_http_pywsgi_keep_sent(r, ctx) != NGX_OK) {
        rc = PYWSGI_ABORT;
    }

    /* the request is nginx's alone from here: it may be gone once
       finalized */

    ctx->cleanup->handler = NULL;
    ctx->request = NULL;

    ngx_http_pywsgi_finalize(r, rc, out);

    ngx_http_pywsgi_close(ctx);
}


/*
 * By the gateway's result: DONE completes the response (its last buffer
 * went out with the output), ABORT drops the connection so that the
 * client sees a truncated response, never a complete-looking one (no
 * chunked terminator), FAIL answers 500 if nothing was sent.
 */

static void
ngx_http_pywsgi_finalize(ngx_http_request_t *r, int rc, ngx_int_t out)
{
    if (rc == PYWSGI_DONE && r->header_sent) {
        ngx_http_finalize_request(r, out);
        return;
    }

    if ((rc == PYWSGI_FAIL || rc == PYWSGI_DONE) && !r->header_sent) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->connection->error = 1;
    ngx_http_finalize_request(r, NGX_ERROR);
}


/*
 * The one way out, the request gone or detached: an app still
 * mid-response is closed by a CLOSE step (its completion comes back
 * here), then the ctx is freed.
 */

void
ngx_http_pywsgi_close(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ctx->rec.state != NULL && ctx->state != NGX_HTTP_PYWSGI_CLOSE) {
        ctx->state = NGX_HTTP_PYWSGI_CLOSE;

        if (ctx->mode == NGX_HTTP_PYWSGI_THREADS
            && ngx_http_pywsgi_post(ctx) == NGX_OK)
        {
            return;
        }

        /* inline mode, or the pool refused the step: close the app here
           rather than never */
        ngx_http_pywsgi_step(ctx);
    }

    ngx_http_pywsgi_free(ctx);
}


/* buffers still being sent point into ctx->sent: the request keeps them */

static ngx_int_t
ngx_http_pywsgi_keep_sent(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_pywsgi_free_segments;
    cln->data = ctx->sent;
    ctx->sent = NULL;

    return NGX_OK;
}


void
ngx_http_pywsgi_free(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ctx->request && ctx->cleanup) {
        ctx->cleanup->handler = NULL;
    }

    if (ctx->event.timer_set) {
        ngx_del_timer(&ctx->event);
    }

    if (ctx->event.posted) {
        ngx_delete_posted_event(&ctx->event);
    }

    ngx_free(ctx->head);
    ngx_http_pywsgi_free_segments(ctx->out);
    ngx_http_pywsgi_free_segments(ctx->sent);
    ngx_free(ctx);
}
