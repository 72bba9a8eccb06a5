/*
 * The response: the gateway's start, write and sendfile callbacks turned
 * into r->status, r->headers_out and brigades down Apache's output
 * filters.  Each chunk is passed with a FLUSH bucket, so it reaches the
 * client (blocking on a slow one: Apache's own flow control) before the
 * app is asked for the next; a whole body goes with EOS in one pass.
 * Buckets of the app's bytes are transient: a filter that keeps them
 * copies them, as the gateway reuses its buffers after each call.
 */

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"
#include "util_filter.h"

#include <unistd.h>

#include "mod_pywsgi.h"
#include "pywsgi_headers.h"

APLOG_USE_MODULE(pywsgi);


/* the brigade down the filters: 0, or -1 when the client is gone */

static int
pass(pywsgi_ctx *ctx)
{
    apr_status_t  rv;

    rv = ap_pass_brigade(ctx->r->output_filters, ctx->bb);
    apr_brigade_cleanup(ctx->bb);

    return (rv == APR_SUCCESS && !ctx->r->connection->aborted) ? 0 : -1;
}


static void
add_bytes(pywsgi_ctx *ctx, const char *buf, size_t n)
{
    apr_bucket  *b;

    b = apr_bucket_transient_create(buf, n, ctx->bb->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(ctx->bb, b);
}


static void
add_flush(pywsgi_ctx *ctx)
{
    APR_BRIGADE_INSERT_TAIL(ctx->bb,
                            apr_bucket_flush_create(ctx->bb->bucket_alloc));
}


static void
add_eos(pywsgi_ctx *ctx)
{
    APR_BRIGADE_INSERT_TAIL(ctx->bb,
                            apr_bucket_eos_create(ctx->bb->bucket_alloc));
    ctx->eos = 1;
}


/* a Content-Length's value, which the gateway let through as digits
   only: 1 when it is all digits and fits an apr_off_t, as apr_strtoff()
   would take it, without its sign, space and locale rules */

static int
parse_length(const char *value, size_t vlen, apr_off_t *clen)
{
    int           d;
    size_t        i;
    apr_int64_t   n;

    if (vlen == 0) {
        return 0;
    }

    n = 0;

    for (i = 0; i < vlen; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return 0;
        }

        d = value[i] - '0';

        if (n > (APR_INT64_MAX - d) / 10) {
            return 0;
        }

        n = n * 10 + d;
    }

    *clen = (apr_off_t) n;

    return *clen == n;
}


/* headers are "Name\0Value\0" pairs, already validated by the gateway;
   one copy into the pool, then r->headers_out points into it */

static void
set_headers(pywsgi_ctx *ctx, const char *headers, size_t len)
{
    request_rec     *r = ctx->r;
    char            *blob;
    const char      *name, *value;
    size_t           nlen, vlen;
    apr_off_t        clen;
    pywsgi_headers   h;

    blob = apr_pmemdup(r->pool, headers, len);
    pywsgi_headers_init(&h, blob, len);

    while (pywsgi_headers_next(&h, &name, &nlen, &value, &vlen)) {
        if (mod_pywsgi_header_is(name, nlen, "Content-Type")) {
            ap_set_content_type(r, value);

        } else if (mod_pywsgi_header_is(name, nlen, "Content-Length")
                   && parse_length(value, vlen, &clen))
        {
            ap_set_content_length(r, clen);
            ctx->declared = clen;

        } else {
            apr_table_addn(r->headers_out, name, value);
        }
    }
}


int
mod_pywsgi_start(void *handle, int status, const char *status_line,
    size_t status_len, const char *headers, size_t headers_len,
    size_t nheaders, const char *body, size_t body_len, int flags)
{
    pywsgi_ctx   *ctx = handle;
    request_rec  *r = ctx->r;

    ctx->declared = -1;
    r->status = status;

    /* Apache treats 204 and 304 as bodyless (AP_STATUS_IS_HEADER_ONLY)
       but not 1xx, whose head would get a "Content-Length: 0" */

    if (status < HTTP_OK) {
        r->header_only = 1;
    }

    r->status_line = apr_pstrmemdup(r->pool, status_line, status_len);
    set_headers(ctx, headers, headers_len);
    ctx->started = 1;

    if ((flags & PYWSGI_BODY_LAST) && body_len <= PYWSGI_SMALL_BODY) {
        /* a small whole body: copied, and passed with the end by the
           handler once the gateway returned.  This call never blocks, so
           the gateway makes it holding the GIL (PYWSGI_IO_SMALL_LAST): no
           GIL handoff in the middle of the common request */
        if (body_len) {
            APR_BRIGADE_INSERT_TAIL(ctx->bb,
                apr_bucket_heap_create(body, body_len, NULL,
                                       ctx->bb->bucket_alloc));
        }
        return 0;
    }

    if (body_len) {
        add_bytes(ctx, body, body_len);
    }

    /* a body shorter than its Content-Length must not go with EOS: the
       content length filter would turn the header into the bytes it saw,
       and the cut response would look complete */

    if ((flags & PYWSGI_BODY_LAST) && ctx->declared <= (apr_off_t) body_len) {
        add_eos(ctx);              /* EOS sends what is left: no FLUSH */
        return pass(ctx);
    }

    if (body_len == 0) {
        return 0;                  /* the head goes with the first bytes */
    }

    add_flush(ctx);
    return pass(ctx);
}


int
mod_pywsgi_write(void *handle, const char *buf, size_t n)
{
    pywsgi_ctx  *ctx = handle;

    if (n == 0) {
        return 0;
    }

    add_bytes(ctx, buf, n);
    add_flush(ctx);

    return pass(ctx);
}


static apr_status_t
close_fd(void *data)
{
    close((int) (intptr_t) data);
    return APR_SUCCESS;
}


/*
 * wsgi.file_wrapper: a file bucket over a dup() of the app's descriptor
 * (the app closes its file as soon as we return), closed with the
 * request.  With EnableSendfile On, Apache's core sends it with
 * sendfile(); EnableMMAP is honoured as by the default handler.
 */
int
mod_pywsgi_sendfile(void *handle, int fd, int64_t offset, int64_t n)
{
    int                fd2;
    apr_int32_t        flags;
    apr_file_t        *file;
    apr_bucket        *b;
    pywsgi_ctx        *ctx = handle;
    request_rec       *r = ctx->r;
    core_dir_config   *d;

    fd2 = dup(fd);

    if (fd2 == -1) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, errno, r, APLOGNO(90011)
                      "pywsgi: dup() of the file_wrapper's file failed");
        return -1;
    }

    apr_pool_cleanup_register(r->pool, (void *) (intptr_t) fd2, close_fd,
                              apr_pool_cleanup_null);

    d = ap_get_core_module_config(r->per_dir_config);

    flags = APR_FOPEN_READ;
    if (d->enable_sendfile == ENABLE_SENDFILE_ON) {
        flags |= APR_FOPEN_SENDFILE_ENABLED;
    }

    if (apr_os_file_put(&file, &fd2, flags, r->pool) != APR_SUCCESS) {
        return -1;
    }

    b = apr_brigade_insert_file(ctx->bb, file, (apr_off_t) offset,
                                (apr_off_t) n, r->pool);

#if APR_HAS_MMAP
    if (d->enable_mmap == ENABLE_MMAP_OFF) {
        (void) apr_bucket_file_enable_mmap(b, 0);
    }
#else
    (void) b;
#endif

    add_flush(ctx);
    return pass(ctx);
}


/*
 * The response failed after it began: the client must see it cut short.
 * An error bucket of 502 is how Apache's own proxy says so: the chunk
 * filter then writes no last chunk, and the connection is closed.
 */
static void
abort_response(pywsgi_ctx *ctx)
{
    request_rec  *r = ctx->r;

    r->connection->keepalive = AP_CONN_CLOSE;

    if (ctx->eos) {
        return;
    }

    APR_BRIGADE_INSERT_TAIL(ctx->bb,
                            ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL,
                                                   r->pool,
                                                   ctx->bb->bucket_alloc));
    add_eos(ctx);
    (void) pass(ctx);
}


/* the handler's status once the gateway returned rc */

int
mod_pywsgi_finish(pywsgi_ctx *ctx, int rc)
{
    if (rc == PYWSGI_DONE) {
        if (!ctx->eos) {           /* with a small body start() kept */
            add_eos(ctx);
            (void) pass(ctx);
        }

        return OK;
    }

    if (rc == PYWSGI_FAIL && !ctx->started) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!APR_BRIGADE_EMPTY(ctx->bb)) {
        add_flush(ctx);            /* what the app got out, then the cut */
        (void) pass(ctx);
    }

    abort_response(ctx);
    return OK;
}
