/*
 * pywsgi_check_main.c: pywsgi-check, the config-time check of the server
 * modules (csrc/pywsgi_check.c) as a command, for what must check the
 * apps outside a server's master: a worker's reload-file watch
 * (pywsgi_embed/reload.py).  A worker cannot fork itself to check (its
 * Python threads would deadlock the child); it can run this, and the
 * apps are then loaded by the very code "nginx -t" and "apache2 -t" run.
 *
 *   pywsgi-check --gateway LIB { [--home DIR] [--path P:Q] [--chdir DIR]
 *                [--env NAME=VALUE]... --app SPEC }...
 *
 * Each --app takes the options given since the previous one: they are the
 * fields of that app's pywsgi_config.  It runs as whoever starts it (a
 * worker already is the workers' user) in its environment and directory.
 *
 * Output: "ok\n" when every app loaded, else the first failure's message
 * (the traceback of an import error) and exit status 1.  The answer is the
 * output, not the status: an nginx worker reaps its children itself.
 * Whatever the apps write while they import (print, or C code on file
 * descriptor 1) goes to stderr, the server's error log for a worker, so
 * that stdout carries the answer alone.
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pywsgi_check.h"
#include "pywsgi_loader.h"

#define CHECK_ERRLEN  65536


static const char *usage =
    "usage: pywsgi-check --gateway LIB { [--home DIR] [--path P:Q] "
    "[--chdir DIR] [--env NAME=VALUE]... --app SPEC }...\n";


/* the apps cannot serve here: any request callback fails */

static ssize_t
no_read(void *handle, char *buf, size_t n)
{
    return -1;
}


static int
no_start(void *handle, int status, const char *status_line,
    size_t status_len, const char *headers, size_t headers_len,
    size_t nheaders, const char *body, size_t body_len, int flags)
{
    return -1;
}


static int
no_write(void *handle, const char *buf, size_t n)
{
    return -1;
}


static int
no_sendfile(void *handle, int fd, int64_t offset, int64_t n)
{
    return -1;
}


static void
log_stderr(void *handle, int level, const char *msg, size_t n)
{
    fprintf(stderr, "%.*s\n", (int) n, msg);
}


static const pywsgi_io  check_io = {
    no_read, no_start, no_write, no_sendfile, log_stderr, NULL
};


/* "NAME=VALUE" appended to cfg's "NAME\0VALUE\0" pairs */
static int
add_env(pywsgi_config *cfg, const char *pair)
{
    char        *env;
    const char  *eq;
    size_t       len;

    eq = strchr(pair, '=');
    if (eq == NULL || eq == pair) {
        fprintf(stderr, "pywsgi-check: --env takes NAME=VALUE, not %s\n",
                pair);
        return -1;
    }

    len = strlen(pair) + 1;
    env = realloc((char *) cfg->process_env, cfg->process_env_len + len);
    if (env == NULL) {
        return -1;
    }

    memcpy(env + cfg->process_env_len, pair, len);
    env[cfg->process_env_len + (eq - pair)] = '\0';
    cfg->process_env = env;
    cfg->process_env_len += len;

    return 0;
}


/* argv into chk's gateway and one config per --app; -1 on a usage error */
static int
parse(int argc, char **argv, pywsgi_check *chk, pywsgi_config *cfgs)
{
    int             i, pending;
    const char     *opt, *val;
    pywsgi_config  *cfg;

    pending = 0;                       /* an app's options, no --app yet */
    cfg = &cfgs[0];
    pywsgi_config_init(cfg, &check_io, PYWSGI_IO_BLOCKING, "pywsgi-check");

    for (i = 1; i + 1 < argc; i += 2) {
        opt = argv[i];
        val = argv[i + 1];

        if (strcmp(opt, "--gateway") == 0) {
            chk->gateway = val;
            continue;
        }

        pending = 1;

        if (strcmp(opt, "--home") == 0) {
            cfg->python_home = val;
        } else if (strcmp(opt, "--path") == 0) {
            cfg->python_path = val;
        } else if (strcmp(opt, "--chdir") == 0) {
            cfg->chdir = val;
        } else if (strcmp(opt, "--env") == 0) {
            if (add_env(cfg, val) != 0) {
                return -1;
            }
        } else if (strcmp(opt, "--app") == 0) {
            pending = 0;
            cfg->app = val;
            cfg = &cfgs[++chk->napps];
            pywsgi_config_init(cfg, &check_io, PYWSGI_IO_BLOCKING,
                               "pywsgi-check");
        } else {
            return -1;
        }
    }

    return (i == argc && !pending && chk->gateway != NULL && chk->napps > 0)
           ? 0 : -1;
}


int
main(int argc, char **argv)
{
    int             failed, fd;
    char           *err;
    FILE           *answer;
    sigset_t        none;
    pywsgi_check    chk;
    pywsgi_config  *cfgs;

    /* started from a worker's thread that blocks every signal, and by a
       server that may ignore SIGCHLD: the check's child must be waitable
       and killable as any process */
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGCHLD, SIG_DFL);

    memset(&chk, 0, sizeof(pywsgi_check));

    /* at most one app per two arguments, and the one being filled */
    cfgs = calloc((size_t) argc / 2 + 1, sizeof(pywsgi_config));
    err = malloc(CHECK_ERRLEN);

    if (cfgs == NULL || err == NULL) {
        fprintf(stderr, "pywsgi-check: %s\n", strerror(errno));
        return 2;
    }

    if (parse(argc, argv, &chk, cfgs) != 0) {
        fputs(usage, stderr);
        return 2;
    }

    chk.apps = cfgs;

    /* close-on-exec: a process an app starts must not hold the answer */
    fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
    answer = fd == -1 ? NULL : fdopen(fd, "w");

    if (answer == NULL || dup2(STDERR_FILENO, STDOUT_FILENO) == -1) {
        fprintf(stderr, "pywsgi-check: %s\n", strerror(errno));
        return 2;
    }

    if (pywsgi_check_apps(&chk, &failed, err, CHECK_ERRLEN) == 0) {
        fputs("ok\n", answer);
        return 0;
    }

    if (failed >= 0) {
        fprintf(answer, "%s cannot be loaded: %s\n", cfgs[failed].app, err);
    } else {
        fprintf(answer, "%s\n", err);
    }

    return 1;
}
