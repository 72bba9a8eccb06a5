/*
 * pywsgi_recycle.c: the recycling limits of a worker, and pywsgi_retire().
 *
 * Checked between requests, by the thread that finished one: the count
 * against max_requests plus a jitter drawn once per worker, and the
 * resident size from /proc/self/statm against max_rss (read only when a
 * limit is set: one pread of a file kept open).  max_lifetime has a thread
 * of its own that sleeps until the worker's time is up, so that an idle
 * worker retires too (it blocks every signal: they belong to the server's
 * own threads).  The first limit passed
 * retires the worker through the module's pywsgi_io.retire: the module
 * stops accepting, lets the requests in flight finish and exits, and its
 * master starts a fresh worker.  A worker retires once: the state below
 * goes SERVING -> RETIRING and never back.
 */

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pywsgi.h"
#include "pywsgi_recycle.h"


enum {
    RECYCLE_SERVING = 0,
    RECYCLE_RETIRING
};


static struct {
    const pywsgi_io       *io;
    uint64_t               max_requests;  /* with the jitter drawn */
    uint64_t               max_lifetime;
    uint64_t               max_rss;
    time_t                 started;       /* CLOCK_MONOTONIC seconds */
    int                    timer;         /* the lifetime thread runs */
    int                    statm;         /* /proc/self/statm, or -1 */
    long                   page;
    atomic_uint_fast64_t   requests;
    atomic_int             state;
} recycle = { NULL, 0, 0, 0, 0, 0, -1, 0, 0, RECYCLE_SERVING };


static time_t
now_seconds(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}


static void *
lifetime_timer(void *data)
{
    char             reason[96];
    struct timespec  end;

    end.tv_sec = recycle.started + (time_t) recycle.max_lifetime;
    end.tv_nsec = 0;

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) != 0)
    {
        /* EINTR: sleep on to the same end */
    }

    snprintf(reason, sizeof(reason), "lived %llu s (max_lifetime)",
             (unsigned long long) recycle.max_lifetime);
    pywsgi_retire(reason);

    return NULL;
}


static void
start_lifetime_timer(void)
{
    pthread_t       thread;
    pthread_attr_t  attr;
    sigset_t        all, old;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);

    if (pthread_attr_init(&attr) == 0) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        recycle.timer = (pthread_create(&thread, &attr, lifetime_timer, NULL)
                         == 0);
        pthread_attr_destroy(&attr);
    }

    pthread_sigmask(SIG_SETMASK, &old, NULL);
}


void
pywsgi_recycle_configure(const pywsgi_config *cfg)
{
    uint64_t  jitter;

    if (recycle.io == NULL) {
        recycle.started = now_seconds();
    }

    recycle.io = cfg->io;
    recycle.max_requests = cfg->max_requests;
    recycle.max_lifetime = cfg->max_lifetime;
    recycle.max_rss = cfg->max_rss;

    if (cfg->max_requests && cfg->max_requests_jitter) {
        /* drawn per worker: the pid and the clock differ between workers
           started together, which is all the spread needs */
        jitter = ((uint64_t) getpid() * 2654435761u
                  ^ (uint64_t) time(NULL) * 40503u)
                 % (cfg->max_requests_jitter + 1);
        recycle.max_requests += jitter;
    }

    if (cfg->max_lifetime && !recycle.timer) {
        start_lifetime_timer();
    }

    if (cfg->max_rss && recycle.statm < 0) {
        recycle.statm = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
        recycle.page = sysconf(_SC_PAGESIZE);
    }
}


static uint64_t
rss_bytes(void)
{
    char                buf[128];
    ssize_t             n;
    unsigned long long  size, resident;

    if (recycle.statm < 0) {
        return 0;
    }

    n = pread(recycle.statm, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }

    buf[n] = '\0';

    if (sscanf(buf, "%llu %llu", &size, &resident) != 2) {
        return 0;
    }

    return (uint64_t) resident * (uint64_t) recycle.page;
}


void
pywsgi_recycle_request_done(void)
{
    char      reason[160];
    uint64_t  n, rss;

    n = atomic_fetch_add(&recycle.requests, 1) + 1;

    if (atomic_load(&recycle.state) != RECYCLE_SERVING) {
        return;
    }

    if (recycle.max_requests && n >= recycle.max_requests) {
        snprintf(reason, sizeof(reason), "served %llu requests "
                 "(max_requests %llu with jitter)", (unsigned long long) n,
                 (unsigned long long) recycle.max_requests);
        pywsgi_retire(reason);
        return;
    }

    if (recycle.max_rss) {
        rss = rss_bytes();

        if (rss >= recycle.max_rss) {
            snprintf(reason, sizeof(reason), "resident memory %llu bytes "
                     "(max_rss %llu)", (unsigned long long) rss,
                     (unsigned long long) recycle.max_rss);
            pywsgi_retire(reason);
        }
    }
}


void
pywsgi_retire(const char *reason)
{
    int  serving = RECYCLE_SERVING;

    if (!atomic_compare_exchange_strong(&recycle.state, &serving,
                                        RECYCLE_RETIRING))
    {
        return;
    }

    if (recycle.io != NULL && recycle.io->retire != NULL) {
        recycle.io->retire(NULL, reason, strlen(reason));

    } else if (recycle.io != NULL && recycle.io->log != NULL) {
        char  msg[256];
        int   len;

        len = snprintf(msg, sizeof(msg), "pywsgi: cannot retire the worker "
                       "(%s): the server module has no retire callback",
                       reason);
        recycle.io->log(NULL, PYWSGI_LOG_WARN, msg,
                        len < (int) sizeof(msg) ? (size_t) len
                        : sizeof(msg) - 1);
    }
}
