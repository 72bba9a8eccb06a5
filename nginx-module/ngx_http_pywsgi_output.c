
/*
 * The app's status and headers, and buffers over its body, into nginx:
 * always on the event loop.
 */


#include "ngx_http_pywsgi_module.h"
#include "pywsgi_headers.h"


static ngx_int_t ngx_http_pywsgi_set_header(ngx_http_request_t *r,
    const char *name, size_t nlen, const char *value, size_t vlen);
static u_char *ngx_http_pywsgi_copy(ngx_http_request_t *r, const char *s,
    size_t len);


ngx_int_t
ngx_http_pywsgi_send_head(ngx_http_request_t *r, ngx_http_pywsgi_head_t *head)
{
    size_t          nlen, vlen;
    const char     *name, *value;
    pywsgi_headers  it;

    r->headers_out.status = head->status;

    /* the app's reason phrase: "HTTP/1.1 " + "299 Custom" */

    r->headers_out.status_line.data = ngx_http_pywsgi_copy(r,
                                          (char *) head->status_line,
                                          head->status_len);
    if (r->headers_out.status_line.data == NULL) {
        return NGX_ERROR;
    }

    r->headers_out.status_line.len = head->status_len;

    /*
     * the header filter applies its no-body rules to 204 and 304 only when
     * status_line is empty, and to 1xx never: a body after such a head
     * would be read as the next response on the connection
     */

    if (head->status < NGX_HTTP_OK
        || head->status == NGX_HTTP_NO_CONTENT
        || head->status == NGX_HTTP_NOT_MODIFIED)
    {
        r->header_only = 1;
    }

    pywsgi_headers_init(&it, (char *) head->headers, head->headers_len);

    while (pywsgi_headers_next(&it, &name, &nlen, &value, &vlen)) {
        if (ngx_http_pywsgi_set_header(r, name, nlen, value, vlen)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_send_header(r);
}


static ngx_int_t
ngx_http_pywsgi_set_header(ngx_http_request_t *r, const char *name,
    size_t nlen, const char *value, size_t vlen)
{
    ngx_table_elt_t  *h;

    /* the headers nginx writes itself from headers_out fields */

    if (pywsgi_name_is(name, nlen, "content-type")) {
        r->headers_out.content_type.data = ngx_http_pywsgi_copy(r, value,
                                                                vlen);
        if (r->headers_out.content_type.data == NULL) {
            return NGX_ERROR;
        }

        r->headers_out.content_type.len = vlen;
        r->headers_out.content_type_len = vlen;
        r->headers_out.content_type_lowcase = NULL;
        return NGX_OK;
    }

    if (pywsgi_name_is(name, nlen, "content-length")) {
        r->headers_out.content_length_n = ngx_atoof((u_char *) value, vlen);
        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.len = nlen;
    h->key.data = ngx_http_pywsgi_copy(r, name, nlen);
    h->value.len = vlen;
    h->value.data = ngx_http_pywsgi_copy(r, value, vlen);
    h->lowcase_key = NULL;

    if (h->key.data == NULL || h->value.data == NULL) {
        return NGX_ERROR;
    }

    /* the app's Server and Date replace nginx's own, and its
       Content-Encoding keeps gzip from compressing the body again */

    if (pywsgi_name_is(name, nlen, "server")) {
        r->headers_out.server = h;

    } else if (pywsgi_name_is(name, nlen, "date")) {
        r->headers_out.date = h;

    } else if (pywsgi_name_is(name, nlen, "content-encoding")) {
        r->headers_out.content_encoding = h;
    }

    return NGX_OK;
}


static u_char *
ngx_http_pywsgi_copy(ngx_http_request_t *r, const char *s, size_t len)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


static ngx_chain_t *
ngx_http_pywsgi_get_buf(ngx_http_request_t *r, ngx_chain_t **free)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_chain_get_free_buf(r->pool, free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    ngx_memzero(b, sizeof(ngx_buf_t));

    b->tag = (ngx_buf_tag_t) &ngx_http_pywsgi_module;
    b->flush = 1;              /* each chunk reaches the client before the
                                  app is asked for the next */
    return cl;
}


/* a buffer over data, which must live until nginx has sent it */

ngx_chain_t *
ngx_http_pywsgi_chain_memory(ngx_http_request_t *r, ngx_chain_t **free,
    u_char *data, size_t len)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = ngx_http_pywsgi_get_buf(r, free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    b->start = data;
    b->pos = data;
    b->last = data + len;
    b->end = data + len;
    b->memory = 1;

    return cl;
}


ngx_chain_t *
ngx_http_pywsgi_chain_file(ngx_http_request_t *r, ngx_chain_t **free,
    ngx_fd_t fd, off_t offset, size_t len)
{
    ngx_buf_t    *b;
    ngx_file_t   *file;
    ngx_chain_t  *cl;

    file = ngx_pcalloc(r->pool, sizeof(ngx_file_t));
    if (file == NULL) {
        return NULL;
    }

    file->fd = fd;
    ngx_str_set(&file->name, "wsgi.file_wrapper");
    file->log = r->connection->log;

    cl = ngx_http_pywsgi_get_buf(r, free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;
    b->in_file = 1;
    b->file = file;
    b->file_pos = offset;
    b->file_last = offset + len;

    return cl;
}


/* a descriptor of ours that nginx will read: closed with the request */

ngx_int_t
ngx_http_pywsgi_keep_fd(ngx_http_request_t *r, ngx_fd_t fd)
{
    ngx_pool_cleanup_t        *cln;
    ngx_pool_cleanup_file_t   *clnf;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_pool_cleanup_file_t));
    if (cln == NULL) {
        ngx_close_file(fd);
        return NGX_ERROR;
    }

    cln->handler = ngx_pool_cleanup_file;
    clnf = cln->data;
    clnf->fd = fd;
    clnf->name = (u_char *) "wsgi.file_wrapper";
    clnf->log = r->connection->log;

    return NGX_OK;
}


/* the app closes its file as soon as the callback returns: nginx, which
   may send it later, gets a dup */

ngx_fd_t
ngx_http_pywsgi_dup(ngx_log_t *log, int fd)
{
    ngx_fd_t  nfd;

    nfd = dup(fd);

    if (nfd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "pywsgi: dup() of the file_wrapper file failed");
    }

    return nfd;
}
