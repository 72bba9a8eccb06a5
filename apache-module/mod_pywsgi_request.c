/*
 * Requests: which ones are ours (translate_name, like an Alias), the
 * handler that turns the request_rec into a pywsgi_request record and
 * calls the gateway on the handler's own thread, and the body reader.
 */

#include "http_core.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_strings.h"

#include <limits.h>

#include "mod_pywsgi.h"
#include "pywsgi_env.h"

APLOG_USE_MODULE(pywsgi);


/* ---- which requests are ours ------------------------------------------ */

/* the mount with the longest prefix that r->uri (decoded, normalised) is
   under: "/app" takes "/app" and "/app/x", never "/application" */

static pywsgi_mount *
find_mount(request_rec *r)
{
    int                   i;
    apr_size_t            len;
    pywsgi_mount        **m, *best;
    pywsgi_server_conf   *conf;

    conf = ap_get_module_config(r->server->module_config, &pywsgi_module);
    m = (pywsgi_mount **) conf->mounts->elts;
    best = NULL;

    for (i = 0; i < conf->mounts->nelts; i++) {
        len = m[i]->prefix_len;

        if ((best == NULL || len > best->prefix_len)
            && strncmp(r->uri, m[i]->prefix, len) == 0
            && (r->uri[len] == '/' || r->uri[len] == '\0'))
        {
            best = m[i];
        }
    }

    return best;
}


int
mod_pywsgi_translate(request_rec *r)
{
    pywsgi_mount  *m;

    if (r->uri[0] != '/' || r->proxyreq != PROXYREQ_NONE) {
        return DECLINED;
    }

    m = find_mount(r);
    if (m == NULL) {
        return DECLINED;
    }

    ap_set_module_config(r->request_config, &pywsgi_module, m);
    r->filename = apr_pstrcat(r->pool, "pywsgi:", m->spec, NULL);

    return OK;
}


/* an app is no file: no <Directory> walk (as for mod_proxy); <Location>
   sections still apply, Apache walks them after this hook */

int
mod_pywsgi_map_to_storage(request_rec *r)
{
    return ap_get_module_config(r->request_config, &pywsgi_module)
           ? OK : DECLINED;
}


/* mod_mime would guess a type from the app's file name: the app says it */

int
mod_pywsgi_type_checker(request_rec *r)
{
    if (ap_get_module_config(r->request_config, &pywsgi_module) == NULL) {
        return DECLINED;
    }

    r->handler = PYWSGI_HANDLER;
    return OK;
}


/* ---- the environ record ----------------------------------------------- */

static pywsgi_str
str_of(const char *s)
{
    pywsgi_str  v = { s, s ? strlen(s) : 0 };

    return v;
}


/* the CGI variables of r, the names and rules csrc/pywsgi_env.c's */

static void
cgi_vars(request_rec *r, pywsgi_mount *m, pywsgi_cgi *cgi)
{
    conn_rec  *c = r->connection;

    memset(cgi, 0, sizeof(pywsgi_cgi));

    cgi->request_method = str_of(r->method);
    cgi->query_string = str_of(r->args);
    cgi->request_uri = str_of(r->unparsed_uri);
    cgi->server_protocol = str_of(r->protocol);
    cgi->server_name = str_of(ap_get_server_name(r));
    cgi->server_addr = str_of(c->local_ip);
    cgi->remote_addr = str_of(r->useragent_ip);
    cgi->remote_user = str_of(r->user);
    cgi->auth_type = str_of(r->user ? r->ap_auth_type : NULL);
    cgi->mount.val = m->prefix;
    cgi->mount.len = m->prefix_len;
    cgi->path = str_of(r->uri);
    cgi->server_port = ap_get_server_port(r);
    cgi->remote_port = r->useragent_addr ? r->useragent_addr->port
                                         : c->client_addr->port;
    cgi->https = (ap_cstr_casecmp(ap_http_scheme(r), "https") == 0);
}


static int
hidden_header(const char *key, apr_size_t klen, int pass_auth)
{
    return pass_auth != 1
           && (mod_pywsgi_header_is(key, klen, "Authorization")
               || mod_pywsgi_header_is(key, klen, "Proxy-Authorization"));
}


static apr_size_t
table_size(const apr_array_header_t *t, int headers)
{
    int                 i;
    apr_size_t          size;
    apr_table_entry_t  *e = (apr_table_entry_t *) t->elts;

    size = 0;

    for (i = 0; i < t->nelts; i++) {
        if (e[i].key != NULL && e[i].val != NULL) {
            size += headers
                    ? PYWSGI_ENV_HEADER_SIZE(strlen(e[i].key),
                                             strlen(e[i].val))
                    : PYWSGI_ENV_VAR_SIZE(strlen(e[i].key),
                                          strlen(e[i].val));
        }
    }

    return size;
}


static int
add_table(pywsgi_env *env, const apr_array_header_t *t)
{
    int                 i, rc;
    apr_table_entry_t  *e = (apr_table_entry_t *) t->elts;

    for (i = 0; i < t->nelts; i++) {
        if (e[i].key == NULL || e[i].val == NULL) {
            continue;
        }

        rc = pywsgi_env_add(env, e[i].key, strlen(e[i].key), e[i].val,
                            strlen(e[i].val));
        if (rc != PYWSGI_ENV_OK) {
            return rc;
        }
    }

    return PYWSGI_ENV_OK;
}


static int
add_headers(pywsgi_env *env, const apr_array_header_t *t, int pass_auth)
{
    int                 i, rc;
    apr_size_t          klen;
    apr_table_entry_t  *e = (apr_table_entry_t *) t->elts;

    /* Apache has joined repeated headers already */

    for (i = 0; i < t->nelts; i++) {
        if (e[i].key == NULL || e[i].val == NULL) {
            continue;
        }

        klen = strlen(e[i].key);

        if (hidden_header(e[i].key, klen, pass_auth)) {
            continue;
        }

        rc = pywsgi_env_add_header(env, e[i].key, klen, e[i].val,
                                   strlen(e[i].val));
        if (rc != PYWSGI_ENV_OK && rc != PYWSGI_ENV_SKIPPED) {
            return rc;
        }
    }

    return PYWSGI_ENV_OK;
}


/*
 * The blob, in the order in which later entries win: PyWSGIEnv, then
 * SetEnv & co (r->subprocess_env), then the CGI variables and headers.
 */
static int
fill_env(request_rec *r, pywsgi_env *env, const apr_array_header_t *extra,
    const pywsgi_cgi *cgi, int pass_auth)
{
    int  rc;

    rc = add_table(env, extra);

    if (rc == PYWSGI_ENV_OK) {
        rc = add_table(env, apr_table_elts(r->subprocess_env));
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = pywsgi_env_add_cgi(env, cgi);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = add_headers(env, apr_table_elts(r->headers_in), pass_auth);
    }

    return rc;
}


static int
build_environ(request_rec *r, pywsgi_mount *m, pywsgi_request *rec)
{
    int                   rc;
    char                 *buf;
    apr_size_t            size;
    pywsgi_cgi            cgi;
    pywsgi_env            env;
    pywsgi_dir_conf      *dconf;
    pywsgi_server_conf   *sconf;

    sconf = ap_get_module_config(r->server->module_config, &pywsgi_module);
    dconf = ap_get_module_config(r->per_dir_config, &pywsgi_module);

    cgi_vars(r, m, &cgi);

    /* an upper bound of what the blob holds */

    size = pywsgi_env_cgi_size(&cgi)
           + table_size(sconf->environ, 0)
           + table_size(apr_table_elts(r->subprocess_env), 0)
           + table_size(apr_table_elts(r->headers_in), 1);

    buf = apr_palloc(r->pool, size);
    pywsgi_env_init(&env, buf, size);

    rc = fill_env(r, &env, sconf->environ, &cgi, dconf->pass_auth);

    /* the status and its message are csrc's rule (pywsgi_env_status) */

    switch (pywsgi_env_status(rc)) {

    case 0:
        break;

    case HTTP_BAD_REQUEST:
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, APLOGNO(90012) "%s",
                      pywsgi_env_error(rc));
        return HTTP_BAD_REQUEST;

    default:
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(90013) "%s",
                      pywsgi_env_error(rc));
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    rec->env = buf;
    rec->env_len = env.len;

    return OK;
}


/* ---- the handler ------------------------------------------------------- */

static uint32_t
request_timeout(request_rec *r)
{
    pywsgi_dir_conf  *conf;

    conf = ap_get_module_config(r->per_dir_config, &pywsgi_module);

    return (conf && conf->timeout_ms > 0) ? (uint32_t) conf->timeout_ms : 0;
}


int
mod_pywsgi_handler(request_rec *r)
{
    int              id, rc;
    pywsgi_ctx      *ctx;
    pywsgi_mount    *m;
    pywsgi_request   rec;

    if (r->handler == NULL || strcmp(r->handler, PYWSGI_HANDLER) != 0) {
        return DECLINED;
    }

    m = ap_get_module_config(r->request_config, &pywsgi_module);
    if (m == NULL) {
        return DECLINED;          /* SetHandler pywsgi-app off a mount */
    }

    id = mod_pywsgi_app_id(m);

    if (id < 0) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, APLOGNO(90014)
                      "PyWSGIApp %s %s (%s) did not load in this child: "
                      "see the messages logged when it started",
                      *m->prefix ? m->prefix : "/", m->spec, m->where);
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    /* chunked bodies are de-chunked by Apache's HTTP input filter; the
       first read answers "Expect: 100-continue" */

    rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK);
    if (rc != OK) {
        return rc;
    }

    rc = build_environ(r, m, &rec);
    if (rc != OK) {
        return rc;
    }

    ctx = apr_pcalloc(r->pool, sizeof(pywsgi_ctx));
    ctx->r = r;
    ctx->bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);

    rec.app = id;
    rec.content_length = r->read_chunked ? -1 : r->remaining;
    rec.handle = ctx;
    rec.state = NULL;
    rec.timeout_ms = request_timeout(r);

    if (mod_pywsgi_retiring()) {
        r->connection->keepalive = AP_CONN_CLOSE;   /* reconnect elsewhere */
    }

    mod_pywsgi_request_begins();
    rc = mod_pywsgi_gw.handle(&rec);
    mod_pywsgi_request_ends();

    return mod_pywsgi_finish(ctx, rc);
}


/* the read callback: body bytes through Apache's input filters */

ssize_t
mod_pywsgi_read(void *handle, char *buf, size_t n)
{
    pywsgi_ctx  *ctx = handle;
    long         got;

    if (n > LONG_MAX) {
        n = LONG_MAX;
    }

    got = ap_get_client_block(ctx->r, buf, n);

    return got < 0 ? -1 : got;
}
