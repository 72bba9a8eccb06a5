/*
 * Every app loaded once while Apache reads its configuration, in a child
 * process and as the children's user (csrc/pywsgi_check.c, shared with
 * the nginx module): an app that cannot be imported, or a Python home or
 * venv that cannot start, fails "apache2 -t" and start-up with the
 * directive's file and line and the reason, instead of a server that
 * answers 500 to everything.  mod_wsgi loaded beside it is refused too.
 *
 * Apache reads its configuration twice at start: the first reading only
 * probes, so the check runs on the real one (and on every restart), and
 * on "apache2 -t", which stops after the first.  A graceful restart whose
 * new config fails the check stops the server, as any config error does:
 * run "apache2ctl configtest" (or "apache2 -t") first.
 */

#include "http_core.h"
#include "unixd.h"
#include "apr_strings.h"

#include "mod_pywsgi.h"
#include "pywsgi_check.h"

APLOG_USE_MODULE(pywsgi);


static int
real_reading(void)
{
    return ap_state_query(AP_SQ_RUN_MODE) == AP_SQ_RM_CONFIG_TEST
           || ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
}


/* the children's identity, as mod_unixd will set it */
static void
children_user(pywsgi_check *chk)
{
    if (mod_pywsgi_globals.run_as_root) {
        return;                          /* PyWSGIRunAsRoot: they stay root */
    }

    chk->user = ap_unixd_config.user_name;
    chk->uid = ap_unixd_config.user_id;
    chk->gid = ap_unixd_config.group_id;
}


/*
 * mod_wsgi (Debian's libapache2-mod-wsgi-py3) embeds its own Python in the
 * same processes: one libpython, two owners of its GIL state, and
 * children that abort at every stop ("PyEval_AcquireThread: the function
 * must be called with the GIL held").  Its module name is its source file.
 */
static const char *
mod_wsgi_loaded(void)
{
    module  *m;

    for (m = ap_top_module; m != NULL; m = m->next) {
        if (m != &pywsgi_module && strstr(m->name, "mod_wsgi") != NULL) {
            return m->name;
        }
    }

    return NULL;
}


int
mod_pywsgi_check_config(apr_pool_t *pconf, apr_pool_t *plog,
    apr_pool_t *ptemp, server_rec *s)
{
    int             i, failed;
    char            buf[4096], *err;
    pywsgi_check    chk;
    pywsgi_mount  **mounts;
    pywsgi_config  *cfgs;

    if (mod_pywsgi_globals.mounts->nelts == 0 || !real_reading()) {
        return OK;
    }

    if (mod_wsgi_loaded() != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     APLOGNO(90001) "pywsgi: mod_wsgi (%s) is loaded in "
                     "this Apache too: both embed Python in the same "
                     "processes, and its children would abort at every "
                     "stop; disable one (Debian: a2dismod wsgi)",
                     mod_wsgi_loaded());
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    memset(&chk, 0, sizeof(pywsgi_check));

    chk.gateway = mod_pywsgi_gateway_path(buf, sizeof(buf));
    if (chk.gateway == NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     APLOGNO(90002) "pywsgi: cannot find the gateway "
                     "library next to mod_pywsgi.so: set PyWSGIGateway");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    chk.napps = mod_pywsgi_globals.mounts->nelts;
    cfgs = apr_pcalloc(ptemp, chk.napps * sizeof(pywsgi_config));
    mounts = (pywsgi_mount **) mod_pywsgi_globals.mounts->elts;

    for (i = 0; i < chk.napps; i++) {
        mod_pywsgi_app_config(ptemp, &cfgs[i]);
        cfgs[i].app = mounts[i]->spec;
    }

    chk.apps = cfgs;
    children_user(&chk);

    err = apr_palloc(ptemp, PYWSGI_ERRLEN);

    if (pywsgi_check_apps(&chk, &failed, err, PYWSGI_ERRLEN) == 0) {
        return OK;
    }

    if (failed >= 0 && failed < chk.napps) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     APLOGNO(90003) "PyWSGIApp %s %s (%s) cannot be "
                     "loaded: %s",
                     *mounts[failed]->prefix ? mounts[failed]->prefix : "/",
                     mounts[failed]->spec, mounts[failed]->where, err);

    } else {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s,
                     APLOGNO(90004) "pywsgi: %s", err);
    }

    return HTTP_INTERNAL_SERVER_ERROR;
}
