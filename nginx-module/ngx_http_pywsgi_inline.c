
/*
 * Inline mode: the event loop calls the app and its callbacks write
 * straight into nginx's output chain.  The fastest path for short,
 * CPU-only apps; a slow app stalls every connection of its worker, and a
 * response larger than the client takes at once stays in memory until it
 * is sent (nginx cannot wait inside the app).  Threads mode has neither
 * limit.
 */


#include "ngx_http_pywsgi_module.h"


static int ngx_http_pywsgi_inline_send(ngx_http_pywsgi_ctx_t *ctx,
    ngx_chain_t *cl, int last);
static ngx_chain_t *ngx_http_pywsgi_inline_copy(ngx_http_request_t *r,
    const char *data, size_t len);


void
ngx_http_pywsgi_run_inline(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx)
{
    int  rc;

    rc = ngx_http_pywsgi_gw.handle(&ctx->rec);

    ngx_http_pywsgi_finalize(r, ctx, rc, ctx->out_rc);
    ngx_http_pywsgi_free(ctx);
}


int
ngx_http_pywsgi_inline_start(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_head_t *head, const char *body, size_t len, int flags)
{
    ngx_int_t            rc;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;

    rc = ngx_http_pywsgi_send_head(r, head);

    if (rc == NGX_ERROR || rc > NGX_OK) {
        return -1;
    }

    ctx->header_sent = 1;
    ctx->out_rc = rc;

    if (r->header_only) {
        return 0;
    }

    if (len == 0 && !(flags & PYWSGI_BODY_LAST)) {
        return 0;
    }

    cl = ngx_http_pywsgi_inline_copy(r, body, len);
    if (cl == NULL) {
        return -1;
    }

    return ngx_http_pywsgi_inline_send(ctx, cl, flags & PYWSGI_BODY_LAST);
}


int
ngx_http_pywsgi_inline_write(ngx_http_pywsgi_ctx_t *ctx, const char *buf,
    size_t n)
{
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r->header_only || n == 0) {
        return r->connection->error ? -1 : 0;
    }

    cl = ngx_http_pywsgi_inline_copy(r, buf, n);
    if (cl == NULL) {
        return -1;
    }

    return ngx_http_pywsgi_inline_send(ctx, cl, 0);
}


int
ngx_http_pywsgi_inline_sendfile(ngx_http_pywsgi_ctx_t *ctx, int fd,
    int64_t offset, int64_t n)
{
    ngx_fd_t             nfd;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = ctx->request;

    if (r->header_only || n == 0) {
        return r->connection->error ? -1 : 0;
    }

    nfd = ngx_http_pywsgi_dup(r->connection->log, fd);

    if (nfd == NGX_INVALID_FILE
        || ngx_http_pywsgi_keep_fd(r, nfd) != NGX_OK)
    {
        return -1;
    }

    cl = ngx_http_pywsgi_chain_file(r, &ctx->free, nfd, (off_t) offset,
                                    (size_t) n);
    if (cl == NULL) {
        return -1;
    }

    return ngx_http_pywsgi_inline_send(ctx, cl, 0);
}


static int
ngx_http_pywsgi_inline_send(ngx_http_pywsgi_ctx_t *ctx, ngx_chain_t *cl,
    int last)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    if (last) {
        cl->buf->last_buf = (r == r->main);
        cl->buf->last_in_chain = 1;
        ctx->last_sent = 1;
    }

    ctx->out_rc = ngx_http_output_filter(r, cl);

    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &cl,
                            (ngx_buf_tag_t) &ngx_http_pywsgi_module);

    if (ctx->out_rc == NGX_ERROR || r->connection->error) {
        return -1;
    }

    return 0;
}


/* the app's bytes live only during the callback: a copy in r->pool */

static ngx_chain_t *
ngx_http_pywsgi_inline_copy(ngx_http_request_t *r, const char *data,
    size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    b = len ? ngx_create_temp_buf(r->pool, len) : ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NULL;
    }

    if (len) {
        b->last = ngx_cpymem(b->last, data, len);
    }

    b->flush = 1;
    cl->buf = b;
    cl->next = NULL;

    return cl;
}
