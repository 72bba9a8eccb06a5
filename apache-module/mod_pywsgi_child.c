/*
 * Each child process: load the gateway library and import the apps after
 * the fork (child_init), run Python's exit functions when the child ends,
 * and the log callback.
 *
 * An app that cannot be imported in a child is logged at CRIT with its
 * traceback, once per child, and its mount answers 500 at once (no Python
 * call, one short log line per request); the other apps of the server
 * keep working.  Making the child exit instead would not do what a user
 * wants: Apache shuts the whole server down when a child exits with
 * APEXIT_CHILDFATAL (every virtual host goes down for one broken app,
 * also on a graceful restart with a typo in new code), and respawns
 * without end on other codes.  An app that cannot be imported at all
 * already failed start-up and "apache2 -t" (mod_pywsgi_check.c): this is
 * for an app that breaks between the check and a child's start.
 */

#include "http_core.h"
#include "ap_mpm.h"
#include "unixd.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include <unistd.h>

#include "mod_pywsgi.h"

APLOG_USE_MODULE(pywsgi);


pywsgi_gateway  mod_pywsgi_gw;

static struct {
    int                   *ids;       /* gateway app id per mount, or -1 */
    int                    count;
    server_rec            *server;    /* for lines of no request */
    volatile apr_uint32_t  inflight;  /* requests inside the gateway */
} child;


const pywsgi_io  mod_pywsgi_io_table = {
    mod_pywsgi_read,
    mod_pywsgi_start,
    mod_pywsgi_write,
    mod_pywsgi_sendfile,
    mod_pywsgi_log,
    mod_pywsgi_retire
};


/* the lines of a message (a traceback) after its head, which its caller
   logged with its own tag: one log entry per line */
static void
log_lines(int level, server_rec *s, const char *text)
{
    const char  *nl;

    while (*text) {
        nl = strchr(text, '\n');
        if (nl == NULL) {
            nl = text + strlen(text);
        }

        ap_log_error(APLOG_MARK, level, 0, s, APLOGNO(90006) "%.*s",
                     (int) (nl - text), text);
        text = *nl ? nl + 1 : nl;
    }
}


static const char *
python_path(apr_pool_t *p)
{
    apr_array_header_t  *paths = mod_pywsgi_globals.python_path;

    if (paths->nelts == 0) {
        return NULL;
    }

    return apr_array_pstrcat(p, paths, ':');
}


const char *
mod_pywsgi_gateway_path(char *buf, size_t len)
{
    if (mod_pywsgi_globals.gateway != NULL) {
        return mod_pywsgi_globals.gateway;
    }

    if (pywsgi_gateway_default_path((const void *) &pywsgi_module, buf, len)
        != 0)
    {
        return NULL;
    }

    return buf;
}


/* the PyWSGIProcessEnv pairs as pywsgi_config.process_env takes them */
static const char *
process_env(apr_pool_t *p, apr_size_t *len)
{
    apr_array_header_t  *vars = mod_pywsgi_globals.process_env;
    apr_table_entry_t   *e = (apr_table_entry_t *) vars->elts;
    apr_size_t           n, klen, vlen;
    char                *blob, *at;
    int                  i;

    n = 0;
    for (i = 0; i < vars->nelts; i++) {
        n += strlen(e[i].key) + 1 + strlen(e[i].val) + 1;
    }

    *len = n;
    if (n == 0) {
        return NULL;
    }

    blob = apr_palloc(p, n);
    at = blob;

    for (i = 0; i < vars->nelts; i++) {
        klen = strlen(e[i].key) + 1;
        vlen = strlen(e[i].val) + 1;
        memcpy(at, e[i].key, klen);
        memcpy(at + klen, e[i].val, vlen);
        at += klen + vlen;
    }

    return blob;
}


static int
open_gateway(apr_pool_t *p, server_rec *s, char *err, size_t errlen)
{
    char         buf[4096];
    const char  *path;

    path = mod_pywsgi_gateway_path(buf, sizeof(buf));

    if (path == NULL) {
        apr_cpystrn(err, "cannot find the gateway library next to "
                    "mod_pywsgi.so: set PyWSGIGateway", errlen);
        return -1;
    }

    return pywsgi_gateway_open(&mod_pywsgi_gw, path, err, errlen);
}


/* what every app of this server shares: cfg->app is left to set */
void
mod_pywsgi_app_config(apr_pool_t *p, pywsgi_config *cfg)
{
    int  threads;

    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &threads) != APR_SUCCESS) {
        threads = 1;
    }

    /* our callbacks block (ap_pass_brigade waits for a slow client), so
       the gateway releases the GIL around them, except around start() of
       a small whole body, which only copies it (mod_pywsgi_output.c) */

    pywsgi_config_init(cfg, &mod_pywsgi_io_table, PYWSGI_IO_SMALL_LAST,
                       ap_get_server_banner());

    cfg->python_home = mod_pywsgi_globals.python_home;
    cfg->python_path = python_path(p);
    cfg->multithread = threads > 1;
    cfg->multiprocess = 1;
    cfg->process_env = process_env(p, &cfg->process_env_len);
    cfg->chdir = mod_pywsgi_globals.chdir;
}


static void
init_app(pywsgi_config *cfg, pywsgi_mount *m, server_rec *s, char *err)
{
    int  id;

    cfg->app = m->spec;

    id = mod_pywsgi_gw.init(cfg, err, PYWSGI_ERRLEN);
    child.ids[m->index] = id;

    if (id < 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(90005)
                     "PyWSGIApp %s %s (%s) cannot be loaded, it answers "
                     "500 in this child (pid %d):",
                     *m->prefix ? m->prefix : "/", m->spec, m->where,
                     (int) getpid());
        log_lines(APLOG_CRIT, s, err);
    }
}


static apr_status_t
child_exit(void *data)
{
    apr_uint32_t  n;

    /* after an ungraceful stop a thread may still be inside Python (or
       prefork's signal handler interrupted it): leave Python alone then,
       the process is ending anyway */

    n = apr_atomic_read32(&child.inflight);

    if (n == 0) {
        mod_pywsgi_gw.fini();

    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, child.server, APLOGNO(90007)
                     "pywsgi: %u request(s) still running at exit, "
                     "Python's atexit functions are skipped", n);
    }

    return APR_SUCCESS;
}


void
mod_pywsgi_child_init(apr_pool_t *p, server_rec *s)
{
    int              i;
    char            *err;
    pywsgi_config    cfg;
    pywsgi_mount   **mounts;

    child.server = s;
    child.count = mod_pywsgi_globals.mounts->nelts;

    if (child.count == 0) {
        return;                           /* no app: no Python */
    }

    child.ids = apr_palloc(p, child.count * sizeof(int));
    for (i = 0; i < child.count; i++) {
        child.ids[i] = -1;
    }

    err = apr_palloc(p, PYWSGI_ERRLEN);

    if (open_gateway(p, s, err, PYWSGI_ERRLEN) != 0) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, APLOGNO(90019)
                     "pywsgi: every PyWSGIApp answers 500:");
        log_lines(APLOG_CRIT, s, err);
        return;
    }

    mod_pywsgi_app_config(p, &cfg);

    cfg.max_requests = mod_pywsgi_globals.max_requests;
    cfg.max_requests_jitter = mod_pywsgi_globals.max_requests_jitter;
    cfg.max_lifetime = mod_pywsgi_globals.max_lifetime;
    cfg.max_rss = mod_pywsgi_globals.max_rss;
    cfg.reload_file = mod_pywsgi_globals.reload_file;

    mounts = (pywsgi_mount **) mod_pywsgi_globals.mounts->elts;

    for (i = 0; i < child.count; i++) {
        init_app(&cfg, mounts[i], s, err);
    }

    apr_pool_cleanup_register(p, NULL, child_exit, apr_pool_cleanup_null);
}


int
mod_pywsgi_app_id(const pywsgi_mount *mount)
{
    return (mount->index < child.count) ? child.ids[mount->index] : -1;
}


void
mod_pywsgi_request_begins(void)
{
    apr_atomic_inc32(&child.inflight);
}


void
mod_pywsgi_request_ends(void)
{
    apr_atomic_dec32(&child.inflight);
}


server_rec *
mod_pywsgi_server(void)
{
    return child.server;
}


/* the gateway's log lines: the request's own log when there is one */

void
mod_pywsgi_log(void *handle, int level, const char *msg, size_t n)
{
    pywsgi_ctx  *ctx = handle;

    /* PYWSGI_LOG_* are syslog's severities, as APLOG_* are */

    if (ctx != NULL) {
        ap_log_rerror(APLOG_MARK, level, 0, ctx->r, APLOGNO(90008)
                      "%.*s", (int) n, msg);

    } else {
        ap_log_error(APLOG_MARK, level, 0, child.server, APLOGNO(90009)
                     "%.*s", (int) n, msg);
    }
}


/*
 * PyWSGIRunAsRoot: Apache refuses "User root", so tell mod_unixd, after
 * it read User and Group, that the children keep the root identity the
 * server started with.  Its drop_privileges hook then switches to root,
 * which changes nothing.
 */
int
mod_pywsgi_keep_root(apr_pool_t *p, server_rec *s)
{
    if (!mod_pywsgi_globals.run_as_root || geteuid() != 0) {
        return OK;
    }

    ap_unixd_config.user_name = "root";
    ap_unixd_config.user_id = 0;
    ap_unixd_config.group_name = "root";
    ap_unixd_config.group_id = 0;

    if (ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(90010)
                     "pywsgi: PyWSGIRunAsRoot On: the children run as root");
    }

    return OK;
}
