/*
 * gateway_entry.c: the entry points of pywsgi.h, the gateway library's
 * face to the server modules.
 *
 * pywsgi_init() boots Python once per process (gateway_boot.c) and loads
 * an app; the request entry points are thin wrappers over the way into the
 * Python side (gateway_serve.c) that fail fast and quietly once start-up
 * has failed, and count the requests that ended (pywsgi_recycle.c).
 */

#define _GNU_SOURCE                   /* dladdr() */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pywsgi.h"
#include "gateway.h"
#include "gateway_internal.h"
#include "pywsgi_recycle.h"


enum {
    GW_COLD = 0,     /* Python not started in this process */
    GW_READY,        /* started, requests may run */
    GW_BROKEN,       /* start-up failed: every call fails at once */
    GW_DONE          /* pywsgi_fini() ran */
};

static volatile int     gw_state = GW_COLD;
static pid_t            gw_pid;
static char             gw_boot_error[2048];
static pthread_mutex_t  gw_init_lock = PTHREAD_MUTEX_INITIALIZER;


unsigned int
pywsgi_abi_version(void)
{
    return PYWSGI_ABI_VERSION;
}


const char *
pywsgi_gateway_path(void)
{
    Dl_info  info;

    if (dladdr((void *) pywsgi_abi_version, &info) == 0
        || info.dli_fname == NULL)
    {
        return "";
    }

    return info.dli_fname;
}


int
pywsgi_init(const pywsgi_config *cfg, char *err, size_t errlen)
{
    int  id;

    if (errlen) {
        err[0] = '\0';
    }

    if (cfg == NULL || cfg->abi_version != PYWSGI_ABI_VERSION) {
        snprintf(err, errlen, "the module speaks ABI version %u, the gateway "
                 "library %u: build both from the same pywsgi-embed",
                 cfg ? cfg->abi_version : 0, PYWSGI_ABI_VERSION);
        return -1;
    }

    pthread_mutex_lock(&gw_init_lock);

    if (gw_state == GW_READY && gw_pid != getpid()) {
        snprintf(err, errlen, "Python was started in process %d, which then "
                 "forked: start it in each worker after the fork",
                 (int) gw_pid);
        id = -1;
        goto done;
    }

    if (gw_state == GW_COLD) {
        gw_pid = getpid();

        if (pywsgi_gw_boot(cfg, gw_boot_error, sizeof(gw_boot_error)) != 0) {
            gw_state = GW_BROKEN;

        } else {
            gw_state = GW_READY;
        }
    }

    if (gw_state != GW_READY) {
        snprintf(err, errlen, "%s", gw_boot_error[0] ? gw_boot_error
                 : "the gateway is stopped");
        id = -1;
        goto done;
    }

    /* cffi returns 0 when its own start-up code failed (it prints why on
       stderr), so the Python side answers id + 1 */

    id = pywsgi_py_load(cfg, err, errlen) - 1;

    if (id >= 0) {
        pywsgi_recycle_configure(cfg);
    }

    if (id < 0 && errlen && err[0] == '\0') {
        snprintf(err, errlen, "the gateway's Python side failed to start: "
                 "the traceback went to stderr (the server's error log)");
    }

done:

    pthread_mutex_unlock(&gw_init_lock);
    return id;
}


int
pywsgi_handle(pywsgi_request *r)
{
    int  rc;

    if (gw_state != GW_READY) {
        return PYWSGI_FAIL;
    }

    rc = pywsgi_gw_serve(r);              /* gateway_serve.c */

    pywsgi_recycle_request_done();

    return rc;
}


/* a step that ended its response is a finished request */

static int
step_result(int rc)
{
    if (rc != PYWSGI_MORE) {
        pywsgi_recycle_request_done();
    }

    return rc;
}


int
pywsgi_start(pywsgi_request *r)
{
    if (gw_state != GW_READY) {
        return PYWSGI_FAIL;
    }

    return step_result(pywsgi_gw_step_start(r));
}


int
pywsgi_next(pywsgi_request *r)
{
    if (gw_state != GW_READY || r->state == NULL) {
        return PYWSGI_FAIL;
    }

    return step_result(pywsgi_gw_step_next(r));
}


void
pywsgi_cancel(pywsgi_request *r)
{
    if (gw_state == GW_READY && r->state != NULL) {
        pywsgi_gw_step_cancel(r);
        pywsgi_recycle_request_done();
    }
}


void
pywsgi_fini(void)
{
    if (gw_state == GW_READY && gw_pid == getpid()) {
        gw_state = GW_DONE;
        pywsgi_py_fini();
    }
}
