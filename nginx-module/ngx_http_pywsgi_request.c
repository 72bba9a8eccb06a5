
/*
 * The content handler: nginx reads the whole request body first (memory
 * or a temp file, client_max_body_size applies, chunked bodies are
 * de-chunked), then the request becomes a pywsgi_request record and runs
 * inline or on the thread pool.  The read and log callbacks live here too.
 */


#include "ngx_http_pywsgi_module.h"


static void ngx_http_pywsgi_body_handler(ngx_http_request_t *r);
static ngx_http_pywsgi_ctx_t *ngx_http_pywsgi_create_ctx(
    ngx_http_request_t *r);
static void ngx_http_pywsgi_cleanup(void *data);
static ngx_int_t ngx_http_pywsgi_environ(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, pywsgi_request *rec);
static ngx_int_t ngx_http_pywsgi_cgi(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, pywsgi_env *env);
static ngx_int_t ngx_http_pywsgi_headers(ngx_http_request_t *r,
    pywsgi_env *env);
static ngx_int_t ngx_http_pywsgi_params(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, ngx_str_t *values, pywsgi_env *env);
static off_t ngx_http_pywsgi_body_size(ngx_http_request_t *r);


ngx_int_t
ngx_http_pywsgi_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    rc = ngx_http_read_client_request_body(r, ngx_http_pywsgi_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_pywsgi_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_http_pywsgi_ctx_t        *ctx;
    ngx_http_pywsgi_loc_conf_t   *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pywsgi_module);

    ctx = ngx_http_pywsgi_create_ctx(r);
    if (ctx == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    rc = ngx_http_pywsgi_environ(r, plcf, &ctx->rec);

    if (rc != NGX_OK) {
        ngx_http_pywsgi_free(ctx);
        ngx_http_finalize_request(r, rc);
        return;
    }

    ngx_http_pywsgi_run(r, ctx);
}


static ngx_http_pywsgi_ctx_t *
ngx_http_pywsgi_create_ctx(ngx_http_request_t *r)
{
    ngx_http_pywsgi_ctx_t        *ctx;
    ngx_http_pywsgi_loc_conf_t   *plcf;
    ngx_http_pywsgi_main_conf_t  *pmcf;
    ngx_http_pywsgi_app_t        *app;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_pywsgi_module);
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_pywsgi_module);
    app = pmcf->apps.elts;

    /* outside r->pool: a thread may still use it after the request */

    ctx = ngx_calloc(sizeof(ngx_http_pywsgi_ctx_t), r->connection->log);
    if (ctx == NULL) {
        return NULL;
    }

    ctx->cleanup = ngx_pool_cleanup_add(r->pool, 0);
    if (ctx->cleanup == NULL) {
        ngx_free(ctx);
        return NULL;
    }

    ctx->cleanup->handler = ngx_http_pywsgi_cleanup;
    ctx->cleanup->data = ctx;

    ctx->request = r;
    ctx->rec.app = app[plcf->app].id;
    ctx->rec.handle = ctx;
    ctx->body = r->request_body ? r->request_body->bufs : NULL;

    ngx_http_set_ctx(r, ctx, ngx_http_pywsgi_module);

    return ctx;
}


/* r->pool is going away: the request must not be touched any more; with
   no step in flight the app is closed now, else when the step is over */

static void
ngx_http_pywsgi_cleanup(void *data)
{
    ngx_http_pywsgi_ctx_t  *ctx = data;

    ctx->request = NULL;
    ctx->cleanup = NULL;

    if (ctx->state == NGX_HTTP_PYWSGI_SEND) {
        ngx_http_pywsgi_close(ctx);
    }
}


static ngx_int_t
ngx_http_pywsgi_environ(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, pywsgi_request *rec)
{
    size_t                    size;
    u_char                   *buf;
    ngx_int_t                 rc;
    ngx_str_t                *values;
    ngx_uint_t                i;
    pywsgi_env                env;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_pywsgi_param_t  *param;

    /* the upper bound of what the blob holds: the fixed CGI variables
       (names, ports, the protocol and addresses fit in 512 bytes), the
       strings of the request, each header and each pywsgi_param */

    size = 512 + r->method_name.len + r->args.len + r->unparsed_uri.len
           + r->http_protocol.len + r->headers_in.server.len
           + PYWSGI_ENV_PATH_SIZE(plcf->mount.len, r->uri.len);

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        size += PYWSGI_ENV_HEADER_SIZE(h[i].key.len, h[i].value.len);
    }

    values = NULL;

    if (plcf->params) {
        values = ngx_palloc(r->pool, plcf->params->nelts * sizeof(ngx_str_t));
        if (values == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        param = plcf->params->elts;

        for (i = 0; i < plcf->params->nelts; i++) {
            if (ngx_http_complex_value(r, &param[i].value, &values[i])
                != NGX_OK)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            size += PYWSGI_ENV_VAR_SIZE(param[i].key.len, values[i].len);
        }
    }

    buf = ngx_pnalloc(r->pool, size);
    if (buf == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pywsgi_env_init(&env, (char *) buf, size);

    rc = ngx_http_pywsgi_cgi(r, plcf, &env);

    if (rc == NGX_OK) {
        rc = ngx_http_pywsgi_headers(r, &env);
    }

    if (rc == NGX_OK && values) {
        rc = ngx_http_pywsgi_params(r, plcf, values, &env);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    rec->env = (const char *) buf;
    rec->env_len = env.len;
    rec->content_length = ngx_http_pywsgi_body_size(r);

    return NGX_OK;
}


/* NGX_OK, or the status to answer: a NUL in a value is a bad request */

static ngx_int_t
ngx_http_pywsgi_status(ngx_http_request_t *r, int rc)
{
    if (rc == PYWSGI_ENV_OK || rc == PYWSGI_ENV_SKIPPED) {
        return NGX_OK;
    }

    if (rc == PYWSGI_ENV_BAD) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "pywsgi: a NUL byte in the request, refused");
        return NGX_HTTP_BAD_REQUEST;
    }

    ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                  "pywsgi: the environ buffer is too small");
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


#define ngx_http_pywsgi_var(env, key, s)                                     \
    pywsgi_env_add(env, key, sizeof(key) - 1, (char *) (s).data, (s).len)


static ngx_int_t
ngx_http_pywsgi_cgi(ngx_http_request_t *r, ngx_http_pywsgi_loc_conf_t *plcf,
    pywsgi_env *env)
{
    int                        rc;
    u_char                     addr[NGX_SOCKADDR_STRLEN];
    u_char                     lport[NGX_INT_T_LEN], rport[NGX_INT_T_LEN];
    ngx_str_t                  local, name, s;
    ngx_connection_t          *c;
    ngx_http_core_srv_conf_t  *cscf;

    c = r->connection;

    local.len = NGX_SOCKADDR_STRLEN;
    local.data = addr;

    if (ngx_connection_local_sockaddr(c, &local, 0) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* SERVER_NAME: the server's name, else the Host of the request, else
       the address the request came in on; never empty (PEP 3333) */

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    name = cscf->server_name;

    if (name.len == 0) {
        name = r->headers_in.server.len ? r->headers_in.server : local;
    }

    rc = ngx_http_pywsgi_var(env, "REQUEST_METHOD", r->method_name);

    if (rc == PYWSGI_ENV_OK) {
        rc = pywsgi_env_add_path(env, (char *) plcf->mount.data,
                                 plcf->mount.len, (char *) r->uri.data,
                                 r->uri.len);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "QUERY_STRING", r->args);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "REQUEST_URI", r->unparsed_uri);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "SERVER_PROTOCOL", r->http_protocol);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "SERVER_NAME", name);
    }

    if (rc == PYWSGI_ENV_OK) {
        s.data = lport;
        s.len = ngx_sprintf(lport, "%ui", ngx_inet_get_port(c->local_sockaddr))
                - lport;
        rc = ngx_http_pywsgi_var(env, "SERVER_PORT", s);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "SERVER_ADDR", local);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = ngx_http_pywsgi_var(env, "REMOTE_ADDR", c->addr_text);
    }

    if (rc == PYWSGI_ENV_OK) {
        s.data = rport;
        s.len = ngx_sprintf(rport, "%ui", ngx_inet_get_port(c->sockaddr))
                - rport;
        rc = ngx_http_pywsgi_var(env, "REMOTE_PORT", s);
    }

#if (NGX_HTTP_SSL)
    if (rc == PYWSGI_ENV_OK && c->ssl) {
        rc = pywsgi_env_add_cstr(env, "HTTPS", "on", 2);

        if (rc == PYWSGI_ENV_OK) {
            rc = pywsgi_env_add_cstr(env, "wsgi.url_scheme", "https", 5);
        }
    }
#endif

    return ngx_http_pywsgi_status(r, rc);
}


static ngx_int_t
ngx_http_pywsgi_headers(ngx_http_request_t *r, pywsgi_env *env)
{
    int               rc;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        /* repeated headers are joined by pywsgi_env_add_header: nginx
           1.22 does not link them */

        rc = pywsgi_env_add_header(env, (char *) h[i].key.data, h[i].key.len,
                                   (char *) h[i].value.data, h[i].value.len);

        if (rc != PYWSGI_ENV_OK && rc != PYWSGI_ENV_SKIPPED) {
            return ngx_http_pywsgi_status(r, rc);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_pywsgi_params(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, ngx_str_t *values, pywsgi_env *env)
{
    int                       rc;
    ngx_uint_t                i;
    ngx_http_pywsgi_param_t  *param;

    param = plcf->params->elts;

    for (i = 0; i < plcf->params->nelts; i++) {
        if (values[i].len == 0 && param[i].if_not_empty) {
            continue;
        }

        rc = pywsgi_env_add(env, (char *) param[i].key.data, param[i].key.len,
                            (char *) values[i].data, values[i].len);

        if (rc != PYWSGI_ENV_OK) {
            return ngx_http_pywsgi_status(r, rc);
        }
    }

    return NGX_OK;
}


static off_t
ngx_http_pywsgi_body_size(ngx_http_request_t *r)
{
    off_t         size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (r->request_body == NULL) {
        return 0;
    }

    size = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;
        size += b->in_file ? b->file_last - b->file_pos : b->last - b->pos;
    }

    return size;
}


/*
 * The read callback: the body nginx has read, from memory or from its temp
 * file.  On a pool thread in threads mode: it only reads buffers that the
 * loop leaves alone until the request ends.
 */

ssize_t
ngx_http_pywsgi_read(void *handle, char *buf, size_t n)
{
    ngx_http_pywsgi_ctx_t *ctx = handle;

    off_t        left;
    ssize_t      got;
    ngx_buf_t   *b;

    while (ctx->body) {
        b = ctx->body->buf;

        left = (b->in_file ? b->file_last - b->file_pos : b->last - b->pos)
               - ctx->body_pos;

        if (left <= 0) {
            ctx->body = ctx->body->next;
            ctx->body_pos = 0;
            continue;
        }

        if ((off_t) n > left) {
            n = (size_t) left;
        }

        if (b->in_file) {
            do {
                got = pread(b->file->fd, buf, n, b->file_pos + ctx->body_pos);
            } while (got == -1 && ngx_errno == NGX_EINTR);

            if (got <= 0) {
                return -1;
            }

        } else {
            ngx_memcpy(buf, b->pos + ctx->body_pos, n);
            got = n;
        }

        ctx->body_pos += got;
        return got;
    }

    return 0;
}


void
ngx_http_pywsgi_log(void *handle, int level, const char *msg, size_t n)
{
    ngx_http_pywsgi_ctx_t *ctx = handle;

    ngx_log_t   *log;
    ngx_uint_t   lvl;

    log = (ctx && ctx->request) ? ctx->request->connection->log
                                : ngx_cycle->log;

    lvl = (level == PYWSGI_LOG_ERROR) ? NGX_LOG_ERR
          : (level == PYWSGI_LOG_WARN) ? NGX_LOG_WARN : NGX_LOG_INFO;

    ngx_log_error(lvl, log, 0, "%*s", n, msg);
}
