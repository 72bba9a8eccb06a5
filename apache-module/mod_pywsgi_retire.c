/*
 * Retiring a child gracefully: THE way a child of this module ends before
 * Apache asks it to (recycling limits, a touched PyWSGIReloadFile, a
 * timeout watchdog, the app's pywsgi_embed.retire()).
 *
 * mod_pywsgi_retire() is the gateway's pywsgi_io.retire: any thread, at
 * any time, the first call wins.  What Apache offers a module differs by
 * MPM:
 *
 *   prefork   the child raises AP_SIG_GRACEFUL (SIGUSR1) in itself: the
 *             MPM's own graceful child stop (prefork's stop_listening):
 *             it closes its listeners, ends the connection it serves and
 *             exits; the parent starts children to keep MinSpareServers.
 *
 *   worker,   these MPMs stop a child gracefully only from inside (their
 *   event     signal_threads(), static: MaxConnectionsPerChild) or when
 *             the parent says so through the pipe of death, to whichever
 *             child reads it first; a child cannot signal its parent (root)
 *             either.  So the child leaves a note in a page shared with
 *             the parent, and our monitor hook, which the MPM runs in the
 *             parent about once a second, asks for Apache's graceful
 *             restart (AP_SIG_GRACEFUL in the parent, what "apachectl
 *             graceful" does): every child finishes its requests in
 *             flight and is replaced; the listeners stay open in the
 *             parent, so no connection is refused.  One child's limit
 *             replaces them all: per-child recycling by connection count
 *             is Apache's own MaxConnectionsPerChild.
 *
 * Meanwhile the child's responses say "Connection: close".  The wait is
 * bounded: a child still alive PyWSGIRetireTimeout seconds after it began
 * to retire (a request stuck in C) exits with code 1, which Apache
 * replaces like any child.
 */

#include "http_core.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "apr_atomic.h"
#include "apr_thread_proc.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mod_pywsgi.h"

APLOG_USE_MODULE(pywsgi);


#define RETIRE_SERVING   0
#define RETIRE_RETIRING  1


/* shared by the parent and its children of one generation */
typedef struct {
    volatile apr_uint32_t  restart;     /* a child asked for a restart */
    pid_t                  pid;
    char                   reason[240];
} retire_note;


static retire_note            *note;
static volatile apr_uint32_t   state = RETIRE_SERVING;


static apr_status_t
unmap_note(void *data)
{
    munmap(data, sizeof(retire_note));

    if (note == data) {
        note = NULL;
    }

    return APR_SUCCESS;
}


/* post_config, in the parent, before the children exist */

int
mod_pywsgi_retire_setup(apr_pool_t *pconf, server_rec *s)
{
    void  *page;

    page = mmap(NULL, sizeof(retire_note), PROT_READ | PROT_WRITE,
                MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    if (page == MAP_FAILED) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, APLOGNO(90015)
                     "pywsgi: cannot map the page children retire through");
        return HTTP_INTERNAL_SERVER_ERROR;
    }

    memset(page, 0, sizeof(retire_note));
    note = page;
    apr_pool_cleanup_register(pconf, page, unmap_note, apr_pool_cleanup_null);

    return OK;
}


/* the monitor hook: in the parent, about once a second */

int
mod_pywsgi_retire_monitor(apr_pool_t *p, server_rec *s)
{
    if (note == NULL || !apr_atomic_cas32(&note->restart, 0, 1)) {
        return DECLINED;
    }

    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(90016)
                 "pywsgi: child %d retires (%.*s): graceful restart",
                 (int) note->pid, (int) sizeof(note->reason), note->reason);

    kill(getpid(), AP_SIG_GRACEFUL);

    return DECLINED;
}


static void * APR_THREAD_FUNC
retire_deadline(apr_thread_t *thread, void *data)
{
    server_rec  *s = data;

    apr_sleep(apr_time_from_sec(mod_pywsgi_globals.retire_timeout));

    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, APLOGNO(90017)
                 "pywsgi: child %d still runs requests %d s after it began "
                 "to retire (PyWSGIRetireTimeout): it exits now",
                 (int) getpid(), mod_pywsgi_globals.retire_timeout);

    /* a thread may be stuck inside Python holding the GIL: no atexit */
    _exit(1);

    return NULL;
}


void
mod_pywsgi_retire(void *handle, const char *reason, size_t n)
{
    int                  threaded;
    server_rec          *s;
    apr_pool_t          *pool;
    apr_thread_t        *thread;
    apr_threadattr_t    *attr;

    if (apr_atomic_cas32(&state, RETIRE_RETIRING, RETIRE_SERVING)
        != RETIRE_SERVING)
    {
        return;
    }

    s = mod_pywsgi_server();
    n = n < sizeof(note->reason) ? n : sizeof(note->reason) - 1;

    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, APLOGNO(90018)
                 "pywsgi: child %d retires: %.*s", (int) getpid(), (int) n,
                 reason);

    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) != APR_SUCCESS) {
        threaded = AP_MPMQ_STATIC;
    }

    if (threaded == AP_MPMQ_NOT_SUPPORTED) {
        kill(getpid(), AP_SIG_GRACEFUL);

    } else if (note != NULL) {
        memcpy(note->reason, reason, n);
        note->reason[n] = '\0';
        note->pid = getpid();
        apr_atomic_set32(&note->restart, 1);
    }

    if (mod_pywsgi_globals.retire_timeout > 0
        && apr_pool_create(&pool, NULL) == APR_SUCCESS
        && apr_threadattr_create(&attr, pool) == APR_SUCCESS
        && apr_threadattr_detach_set(attr, 1) == APR_SUCCESS)
    {
        (void) apr_thread_create(&thread, attr, retire_deadline, s, pool);
    }
}


int
mod_pywsgi_retiring(void)
{
    return apr_atomic_read32(&state) != RETIRE_SERVING;
}
