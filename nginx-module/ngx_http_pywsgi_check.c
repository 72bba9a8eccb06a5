
/*
 * Loading every app once while nginx reads its configuration, so that an
 * app that cannot be imported fails "nginx -t", start-up and "nginx -s
 * reload" with the file, the line and the app's traceback: on a reload the
 * old workers then keep serving, where a worker that failed at start would
 * leave the server without workers.
 *
 * The master must never start Python itself (its workers would inherit an
 * interpreter forked without the CPython fork protocol), so a child does
 * it: it loads the gateway and the apps, writes the first failure to a pipe
 * and exits; the master only reads.
 *
 * The child takes the workers' environment first (nginx keeps only TZ and
 * what "env" directives name or set, which must come before http { }) and
 * their working_directory: an app that needs a variable imports here only
 * if it will import in the workers.
 */


#include "ngx_http_pywsgi_module.h"

#include <sys/wait.h>


static void ngx_http_pywsgi_check_child(ngx_cycle_t *cycle,
    ngx_http_pywsgi_main_conf_t *pmcf, u_char *python_path, int fd);
static void ngx_http_pywsgi_check_as_worker(ngx_cycle_t *cycle, int fd);
static void ngx_http_pywsgi_check_fail(int fd, ngx_int_t index,
    const char *err);
static ssize_t ngx_http_pywsgi_check_read(int fd, u_char *buf, size_t len);


ngx_int_t
ngx_http_pywsgi_check_apps(ngx_conf_t *cf, ngx_http_pywsgi_main_conf_t *pmcf)
{
    int                     fds[2], status;
    u_char                 *python_path, *buf, *msg;
    pid_t                   pid;
    ssize_t                 n;
    ngx_int_t               index;
    ngx_http_pywsgi_app_t  *app;

    python_path = ngx_http_pywsgi_python_path(cf->pool, pmcf);

    buf = ngx_pnalloc(cf->pool, NGX_HTTP_PYWSGI_ERRLEN + 1);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "pywsgi: pipe() failed");
        return NGX_ERROR;
    }

    pid = fork();

    if (pid == -1) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, ngx_errno,
                      "pywsgi: fork() failed");
        close(fds[0]);
        close(fds[1]);
        return NGX_ERROR;
    }

    if (pid == 0) {
        close(fds[0]);
        ngx_http_pywsgi_check_child(cf->cycle, pmcf, python_path, fds[1]);
        /* unreachable */
    }

    close(fds[1]);
    n = ngx_http_pywsgi_check_read(fds[0], buf, NGX_HTTP_PYWSGI_ERRLEN);
    close(fds[0]);

    while (waitpid(pid, &status, 0) == -1 && ngx_errno == NGX_EINTR) {
        /* void */
    }

    if (n == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return NGX_OK;
    }

    if (n <= 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "pywsgi: the process that loads the apps to check them "
                      "died (status %d): see the messages above", status);
        return NGX_ERROR;
    }

    /* "<app index>\n<message>" */

    buf[n] = '\0';
    msg = (u_char *) ngx_strchr(buf, '\n');

    if (msg) {
        index = ngx_atoi(buf, msg - buf);
        msg++;

    } else {
        index = NGX_ERROR;
        msg = buf;
    }

    app = pmcf->apps.elts;

    if (index >= 0 && (ngx_uint_t) index < pmcf->apps.nelts) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "pywsgi_app \"%V\" in %s:%ui cannot be loaded: %s",
                      &app[index].spec, app[index].file, app[index].line, msg);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "pywsgi: %s", msg);
    }

    return NGX_ERROR;
}


static void
ngx_http_pywsgi_check_child(ngx_cycle_t *cycle,
    ngx_http_pywsgi_main_conf_t *pmcf, u_char *python_path, int fd)
{
    char                    path[NGX_MAX_PATH];
    static char             err[NGX_HTTP_PYWSGI_ERRLEN];
    ngx_uint_t              i;
    pywsgi_config           cfg;
    pywsgi_gateway          gw;
    ngx_http_pywsgi_app_t  *app;

    ngx_http_pywsgi_check_as_worker(cycle, fd);

    if (ngx_http_pywsgi_gateway_path(pmcf, path, sizeof(path)) != NGX_OK) {
        ngx_http_pywsgi_check_fail(fd, -1,
                                   "cannot find the gateway library next to "
                                   "the module: set pywsgi_gateway");
    }

    if (pywsgi_gateway_open(&gw, path, err, sizeof(err)) != 0) {
        ngx_http_pywsgi_check_fail(fd, -1, err);
    }

    app = pmcf->apps.elts;

    for (i = 0; i < pmcf->apps.nelts; i++) {
        ngx_http_pywsgi_config(pmcf, &app[i], 0, python_path, &cfg);

        if (gw.init(&cfg, err, sizeof(err)) < 0) {
            ngx_http_pywsgi_check_fail(fd, i, err);
        }
    }

    /* no atexit handlers, no flushing of the master's stdio buffers */
    _exit(0);
}


/* what ngx_worker_process_init() does to a worker's environment and
   working directory */

static void
ngx_http_pywsgi_check_as_worker(ngx_cycle_t *cycle, int fd)
{
    ngx_core_conf_t  *ccf;

    if (ngx_set_environment(cycle, NULL) == NULL) {
        ngx_http_pywsgi_check_fail(fd, -1, "cannot set the workers' "
                                   "environment in the check process");
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    if (ccf->working_directory.len
        && chdir((char *) ccf->working_directory.data) == -1)
    {
        ngx_http_pywsgi_check_fail(fd, -1, "cannot enter the "
                                   "working_directory in the check process");
    }
}


static void
ngx_http_pywsgi_check_fail(int fd, ngx_int_t index, const char *err)
{
    u_char   head[NGX_INT_T_LEN + 2], *p;
    size_t   len;
    ssize_t  n;

    p = ngx_sprintf(head, "%i\n", index);

    n = write(fd, head, p - head);
    len = ngx_strlen(err);

    while (n >= 0 && len) {
        n = write(fd, err, len);
        err += n;
        len -= n;
    }

    _exit(1);
}


static ssize_t
ngx_http_pywsgi_check_read(int fd, u_char *buf, size_t len)
{
    ssize_t  n, total;

    total = 0;

    while ((size_t) total < len) {
        n = read(fd, buf + total, len - total);

        if (n == -1 && ngx_errno == NGX_EINTR) {
            continue;
        }

        if (n <= 0) {
            break;
        }

        total += n;
    }

    return total;
}
