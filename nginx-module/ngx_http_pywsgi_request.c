
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
    ngx_http_pywsgi_loc_conf_t *plcf, pywsgi_cgi *cgi);
static ngx_int_t ngx_http_pywsgi_local_addr(ngx_connection_t *c,
    ngx_str_t *text);
static ngx_int_t ngx_http_pywsgi_status(ngx_http_request_t *r, int rc);
static ngx_int_t ngx_http_pywsgi_headers(ngx_http_request_t *r,
    pywsgi_env *env);
static ngx_int_t ngx_http_pywsgi_params(ngx_http_request_t *r,
    ngx_http_pywsgi_loc_conf_t *plcf, ngx_str_t *values, pywsgi_env *env);
static off_t ngx_http_pywsgi_body_size(ngx_http_request_t *r);


ngx_int_t
ngx_http_pywsgi_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (ngx_http_pywsgi_retiring()) {
        r->keepalive = 0;            /* the client reconnects elsewhere */
    }

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
    ctx->rec.timeout_ms = (uint32_t) plcf->timeout;
    ctx->queue_timeout = plcf->queue_timeout;
    ctx->queued = plcf->queue_timeout ? ngx_http_pywsgi_clock() : 0;
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
    pywsgi_cgi                cgi;
    pywsgi_env                env;
    ngx_list_part_t          *part;
    ngx_table_elt_t          *h;
    ngx_http_pywsgi_param_t  *param;

    rc = ngx_http_pywsgi_cgi(r, plcf, &cgi);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the upper bound of what the blob holds: the CGI variables, each
       header and each pywsgi_param */

    size = pywsgi_env_cgi_size(&cgi);

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

    rc = ngx_http_pywsgi_status(r, pywsgi_env_add_cgi(&env, &cgi));

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


/* NGX_OK, or the status to answer (pywsgi_env_status: the rule is csrc's) */

static ngx_int_t
ngx_http_pywsgi_status(ngx_http_request_t *r, int rc)
{
    switch (pywsgi_env_status(rc)) {

    case 0:
        return NGX_OK;

    case NGX_HTTP_BAD_REQUEST:
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "%s",
                      pywsgi_env_error(rc));
        return NGX_HTTP_BAD_REQUEST;

    default:
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0, "%s",
                      pywsgi_env_error(rc));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
}


#define ngx_http_pywsgi_str(s)  (pywsgi_str) { (char *) (s).data, (s).len }


/* the CGI variables of r, the names and rules csrc/pywsgi_env.c's */

static ngx_int_t
ngx_http_pywsgi_cgi(ngx_http_request_t *r, ngx_http_pywsgi_loc_conf_t *plcf,
    pywsgi_cgi *cgi)
{
    ngx_str_t                  local, name;
    ngx_connection_t          *c;
    ngx_http_core_srv_conf_t  *cscf;

    c = r->connection;

    if (ngx_http_pywsgi_local_addr(c, &local) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* SERVER_NAME: the server's name, else the Host of the request, else
       the address the request came in on; never empty (PEP 3333) */

    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);
    name = cscf->server_name;

    if (name.len == 0) {
        name = r->headers_in.server.len ? r->headers_in.server : local;
    }

    ngx_memzero(cgi, sizeof(pywsgi_cgi));

    cgi->request_method = ngx_http_pywsgi_str(r->method_name);
    cgi->query_string = ngx_http_pywsgi_str(r->args);
    cgi->request_uri = ngx_http_pywsgi_str(r->unparsed_uri);
    cgi->server_protocol = ngx_http_pywsgi_str(r->http_protocol);
    cgi->server_name = ngx_http_pywsgi_str(name);
    cgi->server_addr = ngx_http_pywsgi_str(local);
    cgi->remote_addr = ngx_http_pywsgi_str(c->addr_text);
    cgi->mount = ngx_http_pywsgi_str(plcf->mount);
    cgi->path = ngx_http_pywsgi_str(r->uri);
    cgi->server_port = ngx_inet_get_port(c->local_sockaddr);
    cgi->remote_port = ngx_inet_get_port(c->sockaddr);

#if (NGX_HTTP_SSL)
    cgi->https = (c->ssl != NULL);
#endif

    return NGX_OK;
}


/*
 * The text of the address c came in on (SERVER_ADDR), valid until the next
 * call.  ngx_sock_ntop() for each request was the dearest of the CGI
 * variables (bench/nginx_profile.py), and a worker's connections mostly
 * share one address, so the last one's text is kept, found by the address
 * itself.  Only the event loop calls it: no lock.
 */

static ngx_int_t
ngx_http_pywsgi_local_addr(ngx_connection_t *c, ngx_str_t *text)
{
    static socklen_t       socklen;
    static ngx_sockaddr_t  sockaddr;
    static size_t          len;
    static u_char          addr[NGX_SOCKADDR_STRLEN];

    if (ngx_connection_local_sockaddr(c, NULL, 0) != NGX_OK) {
        return NGX_ERROR;
    }

    if (c->local_socklen != socklen
        || ngx_memcmp(c->local_sockaddr, &sockaddr, socklen) != 0)
    {
        len = ngx_sock_ntop(c->local_sockaddr, c->local_socklen, addr,
                            NGX_SOCKADDR_STRLEN, 0);

        socklen = ngx_min(c->local_socklen, (socklen_t) sizeof(sockaddr));
        ngx_memcpy(&sockaddr, c->local_sockaddr, socklen);
    }

    text->data = addr;
    text->len = len;

    return NGX_OK;
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

    log = (ctx && ctx->request) ? ctx->request->connection->log
                                : ngx_cycle->log;

    /* PYWSGI_LOG_* are syslog's severities; nginx's levels are those plus
       one (NGX_LOG_EMERG is 1, syslog's LOG_EMERG 0) */

    ngx_log_error((ngx_uint_t) level + NGX_LOG_EMERG, log, 0, "%*s", n, msg);
}
