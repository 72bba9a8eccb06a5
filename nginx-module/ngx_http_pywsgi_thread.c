
/*
 * Threads mode: the event loop never runs Python.
 *
 * A request is a series of steps on the thread pool (queued by
 * ngx_http_pywsgi_dispatch.c, which picks the threads).  The first runs
 * pywsgi_start() (the app up to its first body chunk), each later one
 * pywsgi_next() (one more chunk).  On the pool thread the io callbacks
 * only copy what the app produced into memory of the request's ctx
 * (malloc'd, never nginx structures).  The step's completion, on the
 * loop, hands that to nginx; the next step is queued only once nginx
 * has sent it all (the output drained), so a slow client holds back the
 * app instead of filling memory, and holds no thread while it reads.
 *
 * While a step runs the request is pinned (r->main->blocked, as nginx's
 * own thread handlers do) and a timer keeps a gracefully quitting worker
 * alive.  If the request goes away anyway, a pool cleanup clears
 * ctx->request; the next completion then cancels the app (its iterable's
 * close() runs on a pool thread too) and frees the ctx.
 */


#include "ngx_http_pywsgi_module.h"


#define NGX_HTTP_PYWSGI_HOLD  60000


static ngx_int_t ngx_http_pywsgi_post(ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_hold_handler(ngx_event_t *ev);
static void ngx_http_pywsgi_after_step(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static ngx_int_t ngx_http_pywsgi_output(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static ngx_chain_t *ngx_http_pywsgi_segments(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static ngx_uint_t ngx_http_pywsgi_drained(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_wait(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_write_handler(ngx_http_request_t *r);
static void ngx_http_pywsgi_next(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_end(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx, int rc, ngx_int_t out);
static void ngx_http_pywsgi_abandon(ngx_http_pywsgi_ctx_t *ctx);
static ngx_int_t ngx_http_pywsgi_keep_sent(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx);
static void ngx_http_pywsgi_free_segments(void *data);
static int ngx_http_pywsgi_append(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_seg_t *seg);


void
ngx_http_pywsgi_run_threaded(ngx_http_request_t *r,
    ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_http_pywsgi_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pywsgi_module);

    ctx->queue = plcf->queue;
    ctx->out_last = &ctx->out;

    ctx->hold.data = ctx;
    ctx->hold.handler = ngx_http_pywsgi_hold_handler;
    ctx->hold.log = ngx_cycle->log;

    if (ngx_http_pywsgi_post(ctx) != NGX_OK) {
        ngx_http_pywsgi_free(ctx);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static ngx_int_t
ngx_http_pywsgi_post(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ngx_http_pywsgi_dispatch(ctx->queue, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->posted = 1;

    if (ctx->request) {
        ctx->request->main->blocked++;
    }

    ngx_add_timer(&ctx->hold, NGX_HTTP_PYWSGI_HOLD);

    return NGX_OK;
}


/* on a pool thread, called by a runner of ngx_http_pywsgi_dispatch.c */

void
ngx_http_pywsgi_step(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ctx->cancel) {
        ngx_http_pywsgi_gw.cancel(&ctx->rec);
        ctx->rc = PYWSGI_ABORT;

    } else if (!ctx->started) {
        ctx->started = 1;
        ctx->rc = ngx_http_pywsgi_gw.start(&ctx->rec);

    } else {
        ctx->rc = ngx_http_pywsgi_gw.next(&ctx->rec);
    }
}


static void
ngx_http_pywsgi_hold_handler(ngx_event_t *ev)
{
    ngx_http_pywsgi_ctx_t  *ctx = ev->data;

    if (ctx->posted) {
        ngx_add_timer(ev, NGX_HTTP_PYWSGI_HOLD);
    }
}


/* on the loop, once a step has run */

void
ngx_http_pywsgi_step_done(ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    ctx->posted = 0;

    if (ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    r = ctx->request;

    if (r == NULL) {
        /* the request went away while the app ran, or this was the step
           that cancelled the app */
        ngx_http_pywsgi_abandon(ctx);
        return;
    }

    r->main->blocked--;
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
        ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    out = ngx_http_pywsgi_output(r, ctx);

    if (out == NGX_ERROR) {
        ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    if (rc != PYWSGI_MORE) {
        ngx_http_pywsgi_end(r, ctx, rc, out);
        return;
    }

    if (r->header_only) {
        /* HEAD: the body is not wanted, the app is closed early */
        ngx_http_pywsgi_end(r, ctx, PYWSGI_DONE, out);
        return;
    }

    if (ngx_http_pywsgi_drained(r, ctx)) {
        ngx_http_pywsgi_next(r, ctx);
        return;
    }

    ngx_http_pywsgi_wait(r, ctx);
}


/* what the last step made: the head, then the segments, into nginx */

static ngx_int_t
ngx_http_pywsgi_output(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    ngx_int_t     rc;
    ngx_chain_t  *out;

    rc = NGX_OK;

    if (ctx->head) {
        rc = ngx_http_pywsgi_send_head(r, ctx->head);

        ngx_free(ctx->head);
        ctx->head = NULL;

        if (rc == NGX_ERROR || rc > NGX_OK) {
            return NGX_ERROR;
        }

        ctx->header_sent = 1;
    }

    if (ctx->out == NULL || r->header_only) {
        return rc;
    }

    out = ngx_http_pywsgi_segments(r, ctx);
    if (out == NULL) {
        return NGX_ERROR;
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
            /* the dup made on the thread is the request's now */
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

    clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);
    wev = r->connection->write;

    r->write_event_handler = ngx_http_pywsgi_write_handler;

    if (!wev->delayed) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
        ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
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
        ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
        return;
    }

    if (!wev->delayed) {
        out = NULL;
        rc = ngx_http_output_filter(r, NULL);

        ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                                (ngx_buf_tag_t) &ngx_http_pywsgi_module);

        if (rc == NGX_ERROR) {
            ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
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

    if (ngx_http_pywsgi_post(ctx) != NGX_OK) {
        ngx_http_pywsgi_end(r, ctx, PYWSGI_ABORT, NGX_ERROR);
    }
}


/* the response is over (rc: DONE, ABORT, FAIL), or must end now */

static void
ngx_http_pywsgi_end(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx,
    int rc, ngx_int_t out)
{
    if (ctx->sent && ngx_http_pywsgi_keep_sent(r, ctx) != NGX_OK) {
        rc = PYWSGI_ABORT;
    }

    if (rc == PYWSGI_DONE && ctx->last_sent == 0 && !ctx->header_sent) {
        rc = PYWSGI_FAIL;
    }

    ngx_http_pywsgi_finalize(r, ctx, rc, out);

    /* the request may be gone now; the app too, unless it is mid-response
       (ended early: a client gone, HEAD): then it is cancelled on a thread */

    if (ctx->request) {
        ctx->cleanup->handler = NULL;
        ctx->request = NULL;
    }

    ngx_http_pywsgi_abandon(ctx);
}


/* a ctx without its request: cancel the app on a thread, or free it */

static void
ngx_http_pywsgi_abandon(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ctx->rec.state != NULL && !ctx->cancel) {
        ctx->cancel = 1;

        if (ngx_http_pywsgi_post(ctx) == NGX_OK) {
            return;
        }

        /* the pool refused the step: close the app here rather than never */
        ngx_http_pywsgi_gw.cancel(&ctx->rec);
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


static void
ngx_http_pywsgi_free_segments(void *data)
{
    ngx_http_pywsgi_seg_t  *seg = data;

    ngx_http_pywsgi_seg_t  *next;

    for ( /* void */ ; seg; seg = next) {
        next = seg->next;

        if (seg->fd != NGX_INVALID_FILE) {
            ngx_close_file(seg->fd);
        }

        ngx_free(seg);
    }
}


void
ngx_http_pywsgi_free(ngx_http_pywsgi_ctx_t *ctx)
{
    if (ctx->request && ctx->cleanup) {
        ctx->cleanup->handler = NULL;
    }

    if (ctx->hold.timer_set) {
        ngx_del_timer(&ctx->hold);
    }

    ngx_free(ctx->head);
    ngx_http_pywsgi_free_segments(ctx->out);
    ngx_http_pywsgi_free_segments(ctx->sent);
    ngx_free(ctx);
}


/*
 * The io callbacks of threads mode, on a pool thread: copies only.
 */

int
ngx_http_pywsgi_thread_start(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_head_t *head, const char *body, size_t len, int flags)
{
    u_char                  *p;
    ngx_http_pywsgi_head_t  *h;

    h = ngx_alloc(sizeof(ngx_http_pywsgi_head_t) + head->status_len
                  + head->headers_len, ngx_cycle->log);
    if (h == NULL) {
        return -1;
    }

    p = (u_char *) (h + 1);

    *h = *head;
    h->status_line = p;
    p = ngx_cpymem(p, head->status_line, head->status_len);
    h->headers = p;
    ngx_memcpy(p, head->headers, head->headers_len);

    ngx_free(ctx->head);
    ctx->head = h;

    if (len == 0) {
        return 0;
    }

    return ngx_http_pywsgi_thread_write(ctx, body, len);
}


int
ngx_http_pywsgi_thread_write(ngx_http_pywsgi_ctx_t *ctx, const char *buf,
    size_t n)
{
    ngx_http_pywsgi_seg_t  *seg;

    if (n == 0) {
        return 0;
    }

    seg = ngx_alloc(offsetof(ngx_http_pywsgi_seg_t, data) + n,
                    ngx_cycle->log);
    if (seg == NULL) {
        return -1;
    }

    seg->fd = NGX_INVALID_FILE;
    seg->offset = 0;
    seg->len = n;
    ngx_memcpy(seg->data, buf, n);

    return ngx_http_pywsgi_append(ctx, seg);
}


int
ngx_http_pywsgi_thread_sendfile(ngx_http_pywsgi_ctx_t *ctx, int fd,
    int64_t offset, int64_t n)
{
    ngx_http_pywsgi_seg_t  *seg;

    if (n == 0) {
        return 0;
    }

    seg = ngx_alloc(sizeof(ngx_http_pywsgi_seg_t), ngx_cycle->log);
    if (seg == NULL) {
        return -1;
    }

    /* the app closes its file once this returns */

    seg->fd = ngx_http_pywsgi_dup(ngx_cycle->log, fd);

    if (seg->fd == NGX_INVALID_FILE) {
        ngx_free(seg);
        return -1;
    }

    seg->offset = (off_t) offset;
    seg->len = (size_t) n;

    return ngx_http_pywsgi_append(ctx, seg);
}


static int
ngx_http_pywsgi_append(ngx_http_pywsgi_ctx_t *ctx, ngx_http_pywsgi_seg_t *seg)
{
    seg->next = NULL;
    *ctx->out_last = seg;
    ctx->out_last = &seg->next;

    return 0;
}
