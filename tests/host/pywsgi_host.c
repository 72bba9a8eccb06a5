/*
 * pywsgi_host.c: a C test host for the gateway library, loading it the way
 * a server module does (pywsgi_gateway_open: dlopen RTLD_NOW|RTLD_GLOBAL,
 * ABI check), never including Python.h.
 *
 * Default mode: fork N children (a server's workers); each boots Python
 * with pywsgi_init after the fork and runs requests from T threads at
 * once, through pywsgi_handle and through the step mode (pywsgi_start,
 * pywsgi_next, pywsgi_cancel), checking every response against what the
 * request asked for (tests/host/host_app.py echoes a per-request id).  The
 * parent waits with a timeout, so a deadlock is a failure, not a hang.
 * --churn K: a new thread every K requests (threads end, Python stays).
 *
 *   pywsgi_host --gateway LIB --app SPEC [--children 2] [--threads 4]
 *               [--requests 8000] [--timeout 120] [--python-home DIR]
 *               [--churn K] [--nonblocking]
 *   pywsgi_host --gateway LIB --app SPEC --bench N [--rounds R]
 *   pywsgi_host --gateway LIB --app SPEC --init-error
 *   pywsgi_host --gateway LIB --app SPEC --dump-env
 *
 * --bench: one thread, no fork, a hello-world request with an 18-pair
 * environ like a browser's, timed per call (under callgrind, only the
 * timed loop is collected: run with --collect-atstart=no).
 * --init-error: pywsgi_init must fail; prints its message, then checks
 * that requests fail fast with PYWSGI_FAIL.
 * --dump-env: write the --bench request's environ blob to stdout.
 *
 * Exit status: 0 all good, 1 a check failed, 2 a child crashed or timed
 * out, 3 usage or init error.
 *
 * This file: options, the workers (fork, threads, the parent's deadline),
 * --bench, --init-error.  host_io.c: the io callbacks and the environ
 * blob; host_requests.c: the kinds of request and their checks.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "host.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif

#ifndef HAVE_CALLGRIND
#define CALLGRIND_TOGGLE_COLLECT
#endif


/* ---- options and shared state ------------------------------------------ */

static struct {
    const char  *gateway;
    const char  *app;
    const char  *python_home;
    int          children;
    int          threads;
    long         requests;
    int          timeout;
    long         bench;
    int          rounds;
    int          init_error;
    int          dump_env;
    long         churn;
    int          nonblocking;
    long         max_requests;      /* pywsgi_config.max_requests */
    int          step;              /* --bench through pywsgi_start/next,
                                       as nginx calls the gateway */
} opt = { NULL, NULL, NULL, 2, 4, 8000, 120, 0, 7, 0, 0, 0, 0, 0, 0 };

pywsgi_gateway          gw;
int                     app_id;
int                     child_no;
static volatile long    failures;
pthread_mutex_t         print_lock = PTHREAD_MUTEX_INITIALIZER;


void
failf(const char *id, const char *fmt, ...)
{
    va_list  ap;
    long     n;

    n = __sync_add_and_fetch(&failures, 1);
    if (n > 20) {
        return;                       /* enough to see what is wrong */
    }

    pthread_mutex_lock(&print_lock);
    fprintf(stderr, "FAIL child %d request %s: ", child_no, id);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&print_lock);
}


/* ---- workers ------------------------------------------------------------ */

typedef struct {
    int   no;
    long  first;       /* of this thread slot's requests */
    long  count;
} thread_arg;


static void *
thread_main(void *p)
{
    thread_arg  *ta = p;
    char         id[48];
    long         i, n;

    for (i = ta->first; i < ta->first + ta->count; i++) {
        n = (long) ta->no * 1000003 + i;  /* every kind on every thread */
        snprintf(id, sizeof(id), "%d%02d%06ld", child_no + 1, ta->no, i);
        one_request(n, id);
    }

    return NULL;
}


static int
boot(char *err, size_t errlen)
{
    pywsgi_config  cfg;

    pywsgi_config_init(&cfg, &host_io,
                       opt.nonblocking ? PYWSGI_IO_NONBLOCKING
                                       : PYWSGI_IO_BLOCKING,
                       "pywsgi_host/1");
    cfg.python_home = opt.python_home;
    cfg.app = opt.app;
    cfg.multithread = opt.threads > 1;
    cfg.multiprocess = opt.children > 1;
    cfg.max_requests = opt.max_requests;

    app_id = gw.init(&cfg, err, errlen);
    return app_id;
}


/*
 * Run each slot's requests on threads: one thread per slot, or with
 * --churn K a new thread every K requests, so that threads end while
 * Python lives on (cffi then frees their thread states).
 */
static int
run_threads(long per_child)
{
    pthread_t   tids[64];
    thread_arg  args[64];
    long        total[64], batch;
    int         i, left;

    for (i = 0; i < opt.threads; i++) {
        args[i].no = i;
        args[i].first = 0;
        total[i] = per_child / opt.threads + (i < per_child % opt.threads);
    }

    do {
        left = 0;

        for (i = 0; i < opt.threads; i++) {
            batch = total[i] - args[i].first;
            if (opt.churn > 0 && batch > opt.churn) {
                batch = opt.churn;
            }
            args[i].count = batch;
            if (pthread_create(&tids[i], NULL, thread_main, &args[i]) != 0) {
                fprintf(stderr, "pthread_create failed\n");
                return -1;
            }
        }

        for (i = 0; i < opt.threads; i++) {
            pthread_join(tids[i], NULL);
            args[i].first += args[i].count;
            left += args[i].first < total[i];
        }

    } while (left);

    return 0;
}


/* a worker: Python booted after the fork, requests from threads */
static int
child(int no)
{
    char   err[4096];
    long   per_child;

    child_no = no;

    if (boot(err, sizeof(err)) < 0) {
        fprintf(stderr, "child %d: pywsgi_init failed: %s\n", no, err);
        return 3;
    }

    per_child = opt.requests / (opt.children ? opt.children : 1);

    if (run_threads(per_child) != 0) {
        return 3;
    }

    gw.fini();

    printf("child %d (pid %d): %ld requests from %d threads, %ld failed\n",
           no, (int) getpid(), per_child, opt.threads, failures);
    fflush(stdout);

    return failures ? 1 : 0;
}


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


/* the parent: start the children, wait for them with a deadline */
static int
supervise(void)
{
    pid_t   pids[64], pid;
    int     i, status, left, rc;
    double  deadline;

    fflush(stdout);

    for (i = 0; i < opt.children; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            exit(child(i));
        }
        if (pids[i] < 0) {
            perror("fork");
            return 3;
        }
    }

    rc = 0;
    left = opt.children;
    deadline = now() + opt.timeout;

    while (left > 0) {
        pid = waitpid(-1, &status, WNOHANG);

        if (pid == 0) {
            if (now() > deadline) {
                fprintf(stderr, "TIMEOUT: %d children still running after "
                        "%d s (a deadlock?); killing them\n", left,
                        opt.timeout);
                for (i = 0; i < opt.children; i++) {
                    kill(pids[i], SIGKILL);
                }
                while (waitpid(-1, NULL, 0) > 0) { }
                return 2;
            }
            usleep(20000);
            continue;
        }

        if (pid < 0) {
            perror("waitpid");
            return 2;
        }

        left--;

        if (WIFSIGNALED(status)) {
            fprintf(stderr, "CRASH: child pid %d killed by signal %d\n",
                    (int) pid, WTERMSIG(status));
            rc = 2;

        } else if (WEXITSTATUS(status) != 0 && rc == 0) {
            rc = WEXITSTATUS(status);
        }
    }

    if (rc == 0) {
        printf("OK: %d children x %d threads, %ld requests\n", opt.children,
               opt.threads, opt.requests);
    }

    return rc;
}


/* ---- --bench and --init-error ------------------------------------------ */

static int
cmp_double(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


/* one --bench request: pywsgi_handle, or the steps nginx takes */
static int
bench_one(pywsgi_request *r)
{
    int  code;

    if (!opt.step) {
        return gw.handle(r);
    }

    code = gw.start(r);
    while (code == PYWSGI_MORE) {
        code = gw.next(r);
    }

    return code;
}


static int
bench(void)
{
    char            err[4096];
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    double          t0, times[64];
    long            i;
    int             round, code;

    if (boot(err, sizeof(err)) < 0) {
        fprintf(stderr, "pywsgi_init failed: %s\n", err);
        return 3;
    }

    build_env(&he, "GET", "/bench", "", NULL, -1);
    init_request(&r, &he, &hr, 0);

    for (i = 0; i < 2000; i++) {               /* warm the caches */
        hr.out_len = 0;
        bench_one(&r);
    }

    if (opt.rounds > 64) {
        opt.rounds = 64;
    }

    for (round = 0; round < opt.rounds; round++) {
        CALLGRIND_TOGGLE_COLLECT;
        t0 = now();

        for (i = 0; i < opt.bench; i++) {
            hr.out_len = 0;
            code = bench_one(&r);
            if (code != PYWSGI_DONE || hr.out_len != 13) {
                fprintf(stderr, "bench request failed: %d\n", code);
                return 1;
            }
        }

        times[round] = (now() - t0) / opt.bench;
        CALLGRIND_TOGGLE_COLLECT;
    }

    printf("bench: %ld calls x %d rounds, ns per call:", opt.bench,
           opt.rounds);
    for (round = 0; round < opt.rounds; round++) {
        printf(" %.0f", times[round] * 1e9);
    }
    qsort(times, opt.rounds, sizeof(double), cmp_double);
    printf("\nmedian_ns %.1f\n", times[opt.rounds / 2] * 1e9);

    host_req_free(&hr);
    gw.fini();
    return 0;
}


static int
init_error(void)
{
    char            err[4096];
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    int             i, code;

    if (boot(err, sizeof(err)) >= 0) {
        fprintf(stderr, "pywsgi_init of %s succeeded, a failure was "
                "expected\n", opt.app);
        return 1;
    }

    printf("init error: %s\n", err);

    build_env(&he, "GET", "/hello/1", "", "1", -1);
    init_request(&r, &he, &hr, 0);
    r.app = -1;

    for (i = 0; i < 3; i++) {
        code = gw.handle(&r);
        if (code != PYWSGI_FAIL || hr.calls != 0) {
            fprintf(stderr, "a request after a failed init returned %d\n",
                    code);
            return 1;
        }
    }

    printf("requests after it: PYWSGI_FAIL, nothing sent\n");
    host_req_free(&hr);
    return 0;
}


/* the --bench request's environ blob, raw, for the Python side of
   bench/gateway_overhead.py to build the same environ */
static int
dump_env(void)
{
    host_env  he;

    build_env(&he, "GET", "/bench", "", NULL, -1);
    fwrite(he.buf, 1, he.env.len, stdout);
    return 0;
}


/* ---- main --------------------------------------------------------------- */

static void
usage(void)
{
    fprintf(stderr, "usage: pywsgi_host --gateway LIB --app SPEC "
            "[--children N] [--threads N] [--requests N] [--timeout S] "
            "[--python-home DIR] [--churn K] [--nonblocking] "
            "[--bench N [--rounds R] [--step]] "
            "[--max-requests N] "
            "[--init-error] "
            "[--dump-env]\n");
    exit(3);
}


int
main(int argc, char **argv)
{
    char  err[4096];
    int   i;

    for (i = 1; i < argc; i++) {
        const char  *a = argv[i];
        const char  *v = (i + 1 < argc) ? argv[i + 1] : NULL;

        if (strcmp(a, "--init-error") == 0) {
            opt.init_error = 1;
            continue;
        }
        if (strcmp(a, "--dump-env") == 0) {
            opt.dump_env = 1;
            continue;
        }
        if (strcmp(a, "--step") == 0) {
            opt.step = 1;
            continue;
        }
        if (strcmp(a, "--nonblocking") == 0) {
            opt.nonblocking = 1;      /* our callbacks only copy */
            continue;
        }
        if (v == NULL) {
            usage();
        }
        i++;

        if (strcmp(a, "--gateway") == 0) opt.gateway = v;
        else if (strcmp(a, "--app") == 0) opt.app = v;
        else if (strcmp(a, "--python-home") == 0) opt.python_home = v;
        else if (strcmp(a, "--children") == 0) opt.children = atoi(v);
        else if (strcmp(a, "--threads") == 0) opt.threads = atoi(v);
        else if (strcmp(a, "--requests") == 0) opt.requests = atol(v);
        else if (strcmp(a, "--timeout") == 0) opt.timeout = atoi(v);
        else if (strcmp(a, "--bench") == 0) opt.bench = atol(v);
        else if (strcmp(a, "--rounds") == 0) opt.rounds = atoi(v);
        else if (strcmp(a, "--churn") == 0) opt.churn = atol(v);
        else if (strcmp(a, "--max-requests") == 0) opt.max_requests = atol(v);
        else usage();
    }

    if (opt.gateway == NULL || opt.app == NULL || opt.threads < 1
        || opt.threads > 64 || opt.children < 0 || opt.children > 64
        || opt.rounds < 1)
    {
        usage();
    }

    if (pywsgi_gateway_open(&gw, opt.gateway, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 3;
    }

    if (opt.init_error) {
        return init_error();
    }

    if (opt.dump_env) {
        return dump_env();
    }

    if (opt.bench > 0) {
        return bench();
    }

    if (opt.children == 0) {
        return child(0);               /* in this process: for debugging */
    }

    return supervise();
}
