/*
 * gateway_watch.c: what pywsgi_embed/watchdog.py and metrics.py need of C:
 * the stacks-dump signal, the module's counters in the status handler's
 * shared slot (pywsgi_count() of pywsgi.h), and pywsgi_retire() for the
 * Python side.
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


void
pywsgi_gw_retire(const char *reason)
{
    pywsgi_retire(reason);
}
