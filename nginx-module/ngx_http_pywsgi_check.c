
/*
 * Loading every app once while nginx reads its configuration, so that an
 * app that cannot be imported, or a Python that cannot start, fails "nginx
 * -t", start-up and "nginx -s reload" with the file, the line and the
 * reason: on a reload the old workers then keep serving, where a worker
 * that failed at start would leave the master holding the port with no
 * worker.  The check itself (a child, as the workers' user) is shared with
 * the Apache module: csrc/pywsgi_check.c.
 *
 * The child takes the workers' environment first (nginx keeps only TZ and
 * what "env" directives name or set, which must come before http { }) and
 * their working_directory: an app that needs a variable imports here only
 * if it will import in the workers.
 */


#include "ngx_http_pywsgi_module.h"
#include "pywsgi_check.h"

#include <pwd.h>
#include <grp.h>


static ngx_int_t ngx_http_pywsgi_check_user(ngx_conf_t *cf,
    pywsgi_check *chk);
static const char *ngx_http_pywsgi_check_env(void *data);


ngx_int_t
ngx_http_pywsgi_check_apps(ngx_conf_t *cf, ngx_http_pywsgi_main_conf_t *pmcf)
{
    int                     failed;
    char                    path[NGX_MAX_PATH], *err;
    u_char                 *python_path;
    ngx_uint_t              i;
    pywsgi_check            chk;
    pywsgi_config          *cfgs;
    ngx_core_conf_t        *ccf;
    ngx_http_pywsgi_app_t  *app;

    if (ngx_http_pywsgi_gateway_path(pmcf, path, sizeof(path)) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "pywsgi: cannot find the gateway library next to the "
                      "module: set pywsgi_gateway");
        return NGX_ERROR;
    }

    python_path = ngx_http_pywsgi_python_path(cf->pool, pmcf);
    cfgs = ngx_pcalloc(cf->pool, pmcf->apps.nelts * sizeof(pywsgi_config));
    err = ngx_pnalloc(cf->pool, NGX_HTTP_PYWSGI_ERRLEN);

    if (cfgs == NULL || err == NULL) {
        return NGX_ERROR;
    }

    app = pmcf->apps.elts;

    for (i = 0; i < pmcf->apps.nelts; i++) {
        ngx_http_pywsgi_config(pmcf, &app[i], 0, python_path, &cfgs[i]);
    }

    ngx_memzero(&chk, sizeof(pywsgi_check));
    chk.gateway = path;
    chk.apps = cfgs;
    chk.napps = (int) pmcf->apps.nelts;

    if (ngx_http_pywsgi_check_user(cf, &chk) != NGX_OK) {
        return NGX_ERROR;
    }

    /* what ngx_worker_process_init() does to a worker's environment and
       working directory */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    chk.prepare = ngx_http_pywsgi_check_env;
    chk.prepare_data = cf->cycle;

    if (ccf->working_directory.len) {
        chk.workdir = (const char *) ccf->working_directory.data;
    }

    if (pywsgi_check_apps(&chk, &failed, err, NGX_HTTP_PYWSGI_ERRLEN) == 0) {
        return NGX_OK;
    }

    if (failed >= 0 && (ngx_uint_t) failed < pmcf->apps.nelts) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "pywsgi_app \"%V\" in %s:%ui cannot be loaded: %s",
                      &app[failed].spec, app[failed].file, app[failed].line,
                      err);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "pywsgi: %s", err);
    }

    return NGX_ERROR;
}


/*
 * The workers' user: the "user" directive when it came before the http
 * block (it usually opens the file), else the default nginx itself gives
 * a master started as root (NGX_USER, "nobody").
 */
static ngx_int_t
ngx_http_pywsgi_check_user(ngx_conf_t *cf, pywsgi_check *chk)
{
    struct group     *grp;
    struct passwd    *pwd;
    ngx_core_conf_t  *ccf;

    if (geteuid() != 0) {
        return NGX_OK;                 /* the workers run as we do */
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        chk->user = ccf->username;
        chk->uid = ccf->user;
        chk->gid = ccf->group;
        return NGX_OK;
    }

    pwd = getpwnam(NGX_USER);
    grp = getgrnam(NGX_GROUP);

    if (pwd == NULL || grp == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "pywsgi: the default workers' user \"" NGX_USER "\" "
                      "or group \"" NGX_GROUP "\" does not exist: set "
                      "\"user\" before the http block");
        return NGX_ERROR;
    }

    chk->user = NGX_USER;
    chk->uid = pwd->pw_uid;
    chk->gid = grp->gr_gid;

    return NGX_OK;
}


static const char *
ngx_http_pywsgi_check_env(void *data)
{
    ngx_cycle_t  *cycle = data;

    if (ngx_set_environment(cycle, NULL) == NULL) {
        return "cannot set the workers' environment in the check process";
    }

    return NULL;
}
