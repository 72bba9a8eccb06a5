/*
 * pywsgi_check.h: the config-time check both server modules run (nginx in
 * its postconfiguration, so "nginx -t", start-up and "nginx -s reload";
 * Apache in check_config on the real reading, so "apache2 -t" and
 * start-up): a child process starts Python and imports every app exactly
 * as a worker will, as the workers' user, and reports the first failure.
 *
 * What it catches is everything the gateway refuses at a worker's start
 * (csrc/gateway_boot.c): an app that cannot be imported, a Python home that is
 * not a Python, a venv or libpython of another Python than the gateway was
 * built for, a libpython the workers' user cannot read.  The server's
 * master never starts Python itself (its workers would inherit an
 * interpreter forked without the CPython fork protocol), it only reads
 * the child's answer from a pipe.
 *
 * The same check is a command, pywsgi-check (pywsgi_check_main.c), that a
 * worker's reload-file watch runs: one check for every kind of reload.
 */

#ifndef PYWSGI_CHECK_H
#define PYWSGI_CHECK_H

#include <sys/types.h>

#include "pywsgi.h"


typedef struct {
    const char           *gateway;     /* the gateway library's path */
    const pywsgi_config  *apps;        /* one config per app */
    int                   napps;

    /* the workers' identity: when the check runs as root and user is not
       NULL, the child switches to it first (initgroups, setgid, setuid,
       in the servers' own order) so that it reads what a worker can */
    const char           *user;
    uid_t                 uid;
    gid_t                 gid;

    /* the server's own preparation of a worker, run first in the child
       (NULL: none), e.g. nginx's environment: NULL, or why it failed */
    const char         *(*prepare)(void *data);
    void                 *prepare_data;

    /* the workers' working directory, entered after the user switch as
       the workers do (NULL: the server's) */
    const char           *workdir;
} pywsgi_check;


/*
 * Run the check.  0 when every app loaded; else -1 with the message in
 * err and in *failed the index of the app that failed, or -1 when the
 * failure is not one app's (the gateway, Python itself, the user switch).
 */
int pywsgi_check_apps(const pywsgi_check *chk, int *failed, char *err,
    size_t errlen);

#endif /* PYWSGI_CHECK_H */
