/*
 * gateway_watch.c: what pywsgi_embed/watchdog.py and metrics.py need of C:
 * the stacks-dump signal, the module's counters and gauges in the status
 * handler's shared slot (pywsgi_count() and pywsgi_gauge_add() of
 * pywsgi.h), and pywsgi_retire() for the Python side.
 */

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "pywsgi.h"
#include "gateway.h"
#include "pywsgi_recycle.h"


/* the stacks dump: a C handler, because the server's threads never run
   Python's own signal handlers (those run on the main thread, which is
   the server's event loop or listener); it only wakes the watchdog */

static volatile sig_atomic_t  gw_stacks_fd = -1;


static void
stacks_signal(int signo)
{
    int   saved = errno;
    char  byte = 's';

    (void) signo;

    if (gw_stacks_fd >= 0 && write(gw_stacks_fd, &byte, 1) < 0) {
        /* the pipe is full: a dump is already due */
    }

    errno = saved;
}


int
pywsgi_gw_stacks_signal(int signo, int fd)
{
    struct sigaction  sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stacks_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);

    gw_stacks_fd = fd;

    return sigaction(signo, &sa, NULL);
}


/* the module's counters, in the status handler's shared slot */

static int64_t *volatile  gw_counters;


void
pywsgi_gw_set_counters(int64_t *counters)
{
    gw_counters = counters;
}


void
pywsgi_count(int which)
{
    int64_t  *counters = gw_counters;

    if (counters != NULL && which >= 0 && which < PYWSGI_COUNTS) {
        __atomic_fetch_add(&counters[which], 1, __ATOMIC_RELAXED);
    }
}


/*
 * The module's gauges.  A counter may skip the events before the worker
 * counts; a gauge may not: a request queued before and taken after would
 * leave it at -1 for good.  So the moves made before go here, and the
 * first one to see the slot (pywsgi_gw_set_gauges(), or a move that raced
 * with it) empties them into it.  Every access is sequentially
 * consistent: a move that finds no slot after adding here is followed by
 * set_gauges' emptying, or sees the slot and empties itself.
 */

static int64_t *volatile  gw_gauges;
static size_t             gw_gauge_stride;
static int                gw_gauge_apps;
static int64_t            gw_early[PYWSGI_GW_GAUGE_APPS][PYWSGI_GAUGES];


static void
gauges_catch_up(int64_t *gauges)
{
    int      app, which;
    int64_t  moved;

    for (app = 0; app < gw_gauge_apps; app++) {
        for (which = 0; which < PYWSGI_GAUGES; which++) {
            moved = __atomic_exchange_n(&gw_early[app][which], 0,
                                        __ATOMIC_SEQ_CST);
            if (moved != 0) {
                __atomic_fetch_add(&gauges[app * gw_gauge_stride + which],
                                   moved, __ATOMIC_RELAXED);
            }
        }
    }
}


void
pywsgi_gw_set_gauges(int64_t *gauges, size_t stride, int napps)
{
    gw_gauge_stride = stride;
    gw_gauge_apps = napps < PYWSGI_GW_GAUGE_APPS ? napps
                                                 : PYWSGI_GW_GAUGE_APPS;

    __atomic_store_n(&gw_gauges, gauges, __ATOMIC_SEQ_CST);

    gauges_catch_up(gauges);
}


void
pywsgi_gauge_add(int which, int app, int64_t delta)
{
    int64_t  *gauges;

    if (which < 0 || which >= PYWSGI_GAUGES
        || app < 0 || app >= PYWSGI_GW_GAUGE_APPS)
    {
        return;
    }

    gauges = __atomic_load_n(&gw_gauges, __ATOMIC_SEQ_CST);

    if (gauges != NULL) {
        if (app < gw_gauge_apps) {
            __atomic_fetch_add(&gauges[app * gw_gauge_stride + which], delta,
                               __ATOMIC_RELAXED);
        }
        return;
    }

    __atomic_fetch_add(&gw_early[app][which], delta, __ATOMIC_SEQ_CST);

    gauges = __atomic_load_n(&gw_gauges, __ATOMIC_SEQ_CST);

    if (gauges != NULL) {
        gauges_catch_up(gauges);
    }
}


void
pywsgi_gw_retire(const char *reason)
{
    pywsgi_retire(reason);
}
