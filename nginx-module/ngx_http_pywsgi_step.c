
/*
 * One step of a request (see ngx_http_pywsgi_response.c): on a pool
 * thread in threads mode, on the loop in inline mode.  The io callbacks
 * of a step only copy what the app produced (status and headers, body
 * bytes, a dup of a file_wrapper file) into memory of the ctx, malloc'd:
 * a pool thread never touches nginx structures, and in both modes the
 * loop sends the copies once the step is over and frees them once sent.
 * Only the ctx fields marked "the step's" in ngx_http_pywsgi_module.h are
 * written here.
 */


#include "ngx_http_pywsgi_module.h"


static int ngx_http_pywsgi_append(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_seg_t *seg);


void
ngx_http_pywsgi_step(ngx_http_pywsgi_ctx_t *ctx)
{
    switch (ctx->state) {

    case NGX_HTTP_PYWSGI_START:
        ctx->rc = ngx_http_pywsgi_gw.start(&ctx->rec);
        break;

    case NGX_HTTP_PYWSGI_NEXT:
        ctx->rc = ngx_http_pywsgi_gw.next(&ctx->rec);
        break;

    default: /* NGX_HTTP_PYWSGI_CLOSE */
        ngx_http_pywsgi_gw.cancel(&ctx->rec);
        ctx->rc = PYWSGI_ABORT;
    }
}


int
ngx_http_pywsgi_step_head(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_head_t *head, const char *body, size_t len)
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

    return ngx_http_pywsgi_step_write(ctx, body, len);
}


int
ngx_http_pywsgi_step_write(ngx_http_pywsgi_ctx_t *ctx, const char *buf,
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
ngx_http_pywsgi_step_sendfile(ngx_http_pywsgi_ctx_t *ctx, int fd,
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


void
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
