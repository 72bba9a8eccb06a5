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

typedef struct {
    const char  *key;
    const char  *val;
} pywsgi_var;

#define PYWSGI_MAX_VARS  16


/* the CGI variables of r; returns how many */

static int
cgi_vars(request_rec *r, pywsgi_var *v, char *ports)
{
    int          i, n, kept;
    conn_rec    *c = r->connection;
    apr_port_t   rport;

    n = 0;

    v[n].key = "REQUEST_METHOD";   v[n++].val = r->method;
    v[n].key = "QUERY_STRING";     v[n++].val = r->args ? r->args : "";
    v[n].key = "REQUEST_URI";      v[n++].val = r->unparsed_uri;
    v[n].key = "SERVER_PROTOCOL";  v[n++].val = r->protocol;
    v[n].key = "SERVER_NAME";      v[n++].val = ap_get_server_name(r);
    v[n].key = "SERVER_ADDR";      v[n++].val = c->local_ip;
    v[n].key = "REMOTE_ADDR";      v[n++].val = r->useragent_ip;

    rport = r->useragent_addr ? r->useragent_addr->port
                              : c->client_addr->port;

    apr_snprintf(ports, 16, "%u", (unsigned) ap_get_server_port(r));
    apr_snprintf(ports + 16, 16, "%u", (unsigned) rport);

    v[n].key = "SERVER_PORT";      v[n++].val = ports;
    v[n].key = "REMOTE_PORT";      v[n++].val = ports + 16;

    if (ap_cstr_casecmp(ap_http_scheme(r), "https") == 0) {
        v[n].key = "HTTPS";            v[n++].val = "on";
        v[n].key = "wsgi.url_scheme";  v[n++].val = "https";
    }

    if (r->user != NULL) {
        v[n].key = "REMOTE_USER";      v[n++].val = r->user;

        if (r->ap_auth_type != NULL) {
            v[n].key = "AUTH_TYPE";    v[n++].val = r->ap_auth_type;
        }
    }

    /* a variable Apache does not know is omitted, never '' */

    for (i = 0, kept = 0; i < n; i++) {
        if (v[i].val != NULL) {
            v[kept++] = v[i];
        }
    }

    return kept;
}


static int
hidden_header(const char *key, int pass_auth)
{
    return pass_auth != 1
           && (ap_cstr_casecmp(key, "Authorization") == 0
               || ap_cstr_casecmp(key, "Proxy-Authorization") == 0);
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
    apr_table_entry_t  *e = (apr_table_entry_t *) t->elts;

    /* Apache has joined repeated headers already */

    for (i = 0; i < t->nelts; i++) {
        if (e[i].key == NULL || e[i].val == NULL
            || hidden_header(e[i].key, pass_auth))
        {
            continue;
        }

        rc = pywsgi_env_add_header(env, e[i].key, strlen(e[i].key),
                                   e[i].val, strlen(e[i].val));
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
fill_env(request_rec *r, pywsgi_mount *m, pywsgi_env *env,
    const apr_array_header_t *extra, pywsgi_var *v, int nvars,
    int pass_auth)
{
    int  i, rc;

    rc = add_table(env, extra);

    if (rc == PYWSGI_ENV_OK) {
        rc = add_table(env, apr_table_elts(r->subprocess_env));
    }

    for (i = 0; rc == PYWSGI_ENV_OK && i < nvars; i++) {
        rc = pywsgi_env_add_cstr(env, v[i].key, v[i].val, strlen(v[i].val));
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = pywsgi_env_add_path(env, m->prefix, m->prefix_len, r->uri,
                                 strlen(r->uri));
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = add_headers(env, apr_table_elts(r->headers_in), pass_auth);
    }

    return rc;
}


static int
build_environ(request_rec *r, pywsgi_mount *m, pywsgi_request *rec)
{
    int                   i, n, rc;
    char                  ports[32], *buf;
    apr_size_t            size;
    pywsgi_env            env;
    pywsgi_var            v[PYWSGI_MAX_VARS];
    pywsgi_dir_conf      *dconf;
    pywsgi_server_conf   *sconf;

    sconf = ap_get_module_config(r->server->module_config, &pywsgi_module);
    dconf = ap_get_module_config(r->per_dir_config, &pywsgi_module);

    n = cgi_vars(r, v, ports);

    /* an upper bound of what the blob holds */

    size = PYWSGI_ENV_PATH_SIZE(m->prefix_len, strlen(r->uri))
           + table_size(sconf->environ, 0)
           + table_size(apr_table_elts(r->subprocess_env), 0)
           + table_size(apr_table_elts(r->headers_in), 1);

    for (i = 0; i < n; i++) {
        size += PYWSGI_ENV_VAR_SIZE(strlen(v[i].key), strlen(v[i].val));
    }

    buf = apr_palloc(r->pool, size);
    pywsgi_env_init(&env, buf, size);

    rc = fill_env(r, m, &env, sconf->environ, v, n, dconf->pass_auth);

    if (rc == PYWSGI_ENV_BAD) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      "pywsgi: a NUL byte in the request, refused");
        return HTTP_BAD_REQUEST;
    }

    if (rc != PYWSGI_ENV_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "pywsgi: the environ buffer is too small (a bug)");
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
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
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
