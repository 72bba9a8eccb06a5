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
 *               [--churn K]
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

#include "pywsgi.h"
#include "pywsgi_env.h"
#include "pywsgi_headers.h"
#include "pywsgi_loader.h"

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
} opt = { NULL, NULL, NULL, 2, 4, 8000, 120, 0, 7, 0, 0, 0 };

static pywsgi_gateway   gw;
static int              app_id;
static int              child_no;
static volatile long    failures;
static pthread_mutex_t  print_lock = PTHREAD_MUTEX_INITIALIZER;


static void
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


/* ---- one request: what the "server" sends and receives ----------------- */

typedef struct {
    /* the request body, handed out at most read_max bytes per read() */
    const char  *body;
    size_t       body_len;
    size_t       body_pos;
    size_t       read_max;

    /* what the gateway sent */
    int          starts;
    int          calls;          /* start + write + sendfile calls */
    int          status;
    int          flags;
    char         status_line[64];
    char        *headers;
    size_t       headers_len;
    size_t       nheaders;
    char        *out;
    size_t       out_len;
    size_t       out_cap;
    int          log_lines;
    char         first_error[160];
} host_req;


static void
append(host_req *hr, const char *data, size_t n)
{
    if (hr->out_len + n > hr->out_cap) {
        hr->out_cap = (hr->out_len + n) * 2 + 256;
        hr->out = realloc(hr->out, hr->out_cap);
        if (hr->out == NULL) {
            abort();
        }
    }

    memcpy(hr->out + hr->out_len, data, n);
    hr->out_len += n;
}


static ssize_t
host_read(void *handle, char *buf, size_t n)
{
    host_req  *hr = handle;
    size_t     left;

    left = hr->body_len - hr->body_pos;
    if (n > left) {
        n = left;
    }
    if (hr->read_max && n > hr->read_max) {
        n = hr->read_max;
    }

    memcpy(buf, hr->body + hr->body_pos, n);
    hr->body_pos += n;

    return (ssize_t) n;
}


static int
host_start(void *handle, int status, const char *line, size_t line_len,
    const char *headers, size_t headers_len, size_t nheaders,
    const char *body, size_t body_len, int flags)
{
    host_req  *hr = handle;

    hr->starts++;
    hr->calls++;
    hr->status = status;
    hr->flags = flags;
    snprintf(hr->status_line, sizeof(hr->status_line), "%.*s",
             (int) line_len, line);

    free(hr->headers);
    hr->headers = malloc(headers_len + 1);
    if (hr->headers == NULL) {
        abort();
    }
    memcpy(hr->headers, headers, headers_len);
    hr->headers_len = headers_len;
    hr->nheaders = nheaders;

    append(hr, body, body_len);
    return 0;
}


static int
host_write(void *handle, const char *buf, size_t n)
{
    host_req  *hr = handle;

    hr->calls++;
    append(hr, buf, n);
    return 0;
}


static int
host_sendfile(void *handle, int fd, int64_t offset, int64_t n)
{
    host_req  *hr = handle;
    char       buf[8192];
    ssize_t    got;

    hr->calls++;

    while (n > 0) {
        got = pread(fd, buf, n < (int64_t) sizeof(buf) ? (size_t) n
                    : sizeof(buf), offset);
        if (got <= 0) {
            return -1;
        }
        append(hr, buf, got);
        offset += got;
        n -= got;
    }

    return 0;
}


static void
host_log(void *handle, int level, const char *msg, size_t n)
{
    host_req  *hr = handle;

    if (hr == NULL) {
        pthread_mutex_lock(&print_lock);
        fprintf(stderr, "[worker log %d] %.*s\n", level, (int) n, msg);
        pthread_mutex_unlock(&print_lock);
        return;
    }

    hr->log_lines++;

    /* the exception line of a traceback: "RuntimeError: ..." */

    if (hr->first_error[0] == '\0' && n && msg[0] != ' '
        && memmem(msg, n, "Error: ", 7) != NULL)
    {
        snprintf(hr->first_error, sizeof(hr->first_error), "%.*s",
                 (int) n, msg);
    }
}


static const pywsgi_io  host_io = {
    host_read, host_start, host_write, host_sendfile, host_log
};


static void
host_req_free(host_req *hr)
{
    free(hr->headers);
    free(hr->out);
}


/* the value of a response header, or NULL */
static const char *
header(host_req *hr, const char *name)
{
    pywsgi_headers   h;
    const char      *n, *v;
    size_t           nlen, vlen;

    pywsgi_headers_init(&h, hr->headers, hr->headers_len);

    while (pywsgi_headers_next(&h, &n, &nlen, &v, &vlen)) {
        if (nlen == strlen(name) && strncasecmp(n, name, nlen) == 0) {
            return v;
        }
    }

    return NULL;
}


/* ---- the request environ ------------------------------------------------- */

typedef struct {
    char        buf[4096];
    pywsgi_env  env;
} host_env;


#define ADD(call)                                                            \
    if ((call) != PYWSGI_ENV_OK) {                                           \
        fprintf(stderr, "environ blob too small\n");                         \
        abort();                                                             \
    }

/*
 * An environ like a browser's: 11 CGI variables and 7 headers, 18 pairs;
 * id, when given, goes in an X-Id header, and a body length in
 * Content-Length (-1: none, as for a chunked body).
 */
static void
build_env(host_env *he, const char *method, const char *path,
    const char *query, const char *id, long content_length)
{
    pywsgi_env  *e = &he->env;
    char         num[32];

    pywsgi_env_init(e, he->buf, sizeof(he->buf));

    ADD(pywsgi_env_add_cstr(e, "REQUEST_METHOD", method, strlen(method)))
    ADD(pywsgi_env_add_path(e, "", 0, path, strlen(path)))
    ADD(pywsgi_env_add_cstr(e, "QUERY_STRING", query, strlen(query)))
    ADD(pywsgi_env_add_cstr(e, "REQUEST_URI", path, strlen(path)))
    ADD(pywsgi_env_add_cstr(e, "SERVER_NAME", "localhost", 9))
    ADD(pywsgi_env_add_cstr(e, "SERVER_PORT", "8080", 4))
    ADD(pywsgi_env_add_cstr(e, "SERVER_PROTOCOL", "HTTP/1.1", 8))
    ADD(pywsgi_env_add_cstr(e, "REMOTE_ADDR", "127.0.0.1", 9))
    ADD(pywsgi_env_add_cstr(e, "REMOTE_PORT", "51234", 5))
    ADD(pywsgi_env_add_cstr(e, "SERVER_ADDR", "127.0.0.1", 9))

#define HDR(n, v)  ADD(pywsgi_env_add_header(e, n, strlen(n), v, strlen(v)))

    HDR("Host", "localhost:8080")
    HDR("User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
        "Gecko/20100101 Firefox/120.0")
    HDR("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,"
        "image/avif,image/webp,*/*;q=0.8")
    HDR("Accept-Encoding", "gzip, deflate, br")
    HDR("Accept-Language", "en-US,en;q=0.5")
    HDR("Cookie", "sessionid=8c1b2f0e6a4d4f3e9b7a; csrftoken=Zx81Qp0aLk")
    HDR("Connection", "keep-alive")

    if (id != NULL) {
        HDR("X-Id", id)
    }

    if (content_length >= 0) {
        snprintf(num, sizeof(num), "%ld", content_length);
        HDR("Content-Length", num)
        HDR("Content-Type", "application/octet-stream")
    }

#undef HDR
}


static void
init_request(pywsgi_request *r, host_env *he, host_req *hr, long clen)
{
    memset(r, 0, sizeof(*r));
    r->app = app_id;
    r->env = he->buf;
    r->env_len = he->env.len;
    r->content_length = clen;
    r->handle = hr;
    r->state = NULL;
}


/* ---- the checks, one per kind of request -------------------------------- */

static int
check_ok(host_req *hr, const char *id, int code, const char *want,
    size_t want_len)
{
    const char  *xid;

    if (code != PYWSGI_DONE) {
        failf(id, "returned %d, not DONE (%s)", code, hr->first_error);
        return 0;
    }
    if (hr->starts != 1 || hr->status != 200
        || strcmp(hr->status_line, "200 OK") != 0)
    {
        failf(id, "%d start() calls, status %d \"%s\" (%s)", hr->starts,
              hr->status, hr->status_line, hr->first_error);
        return 0;
    }
    xid = header(hr, "X-Id");
    if (xid == NULL || strcmp(xid, id) != 0) {
        failf(id, "X-Id is %s", xid ? xid : "missing");
        return 0;
    }
    if (hr->out_len != want_len || memcmp(hr->out, want, want_len) != 0) {
        failf(id, "body of %zu bytes, %zu expected: \"%.60s\"", hr->out_len,
              want_len, hr->out_len ? hr->out : "");
        return 0;
    }
    return 1;
}


static void
check_length_header(host_req *hr, const char *id)
{
    const char  *cl;

    cl = header(hr, "Content-Length");
    if (cl == NULL || (size_t) atol(cl) != hr->out_len
        || !(hr->flags & PYWSGI_BODY_LAST) || hr->calls != 1)
    {
        failf(id, "a one-item list: Content-Length %s, flags %d, %d calls",
              cl ? cl : "missing", hr->flags, hr->calls);
    }
}


static unsigned
mix(unsigned x)
{
    x ^= x >> 16;
    x *= 0x7feb352d;
    x ^= x >> 15;
    return x;
}


static void
do_hello(const char *id)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], query[64], want[256];
    int             n;

    snprintf(path, sizeof(path), "/hello/%s", id);
    snprintf(query, sizeof(query), "q=%s", id);
    build_env(&he, "GET", path, query, id, -1);
    init_request(&r, &he, &hr, 0);

    n = snprintf(want, sizeof(want), "hello %s %s %s", id, path, query);

    if (check_ok(&hr, id, gw.handle(&r), want, n)) {
        check_length_header(&hr, id);
    }

    host_req_free(&hr);
}


/* a POST whose body (made from id) comes back; chunked: no length */
static void
do_echo(const char *id, unsigned seed, int chunked)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], *body;
    size_t          len, i;

    len = mix(seed) % 70000;
    body = malloc(len + 1);
    for (i = 0; i < len; i++) {
        body[i] = (char) (i * 31 + seed);
    }

    snprintf(path, sizeof(path), "/echo/%s", id);
    build_env(&he, "POST", path, "", id, chunked ? -1 : (long) len);
    init_request(&r, &he, &hr, chunked ? -1 : (long) len);
    hr.body = body;
    hr.body_len = len;
    hr.read_max = 1 + mix(seed + 1) % 9000;

    check_ok(&hr, id, gw.handle(&r), body, len);

    host_req_free(&hr);
    free(body);
}


static void
do_lines(const char *id, unsigned seed)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], body[4096];
    size_t          len;
    int             i, count;

    count = 1 + mix(seed) % 40;
    len = 0;
    for (i = 0; i < count; i++) {
        len += snprintf(body + len, sizeof(body) - len, "line %d of %s\n",
                        i, id);
    }

    snprintf(path, sizeof(path), "/lines/%s", id);
    build_env(&he, "PUT", path, "", id, -1);
    init_request(&r, &he, &hr, -1);
    hr.body = body;
    hr.body_len = len;
    hr.read_max = 1 + mix(seed + 2) % 50;

    check_ok(&hr, id, gw.handle(&r), body, len);

    host_req_free(&hr);
}


static size_t
stream_body(char *buf, size_t size, const char *id, int count)
{
    size_t  len = 0;
    int     j;

    for (j = 0; j < count; j++) {
        len += snprintf(buf + len, size - len, "%s:%d\n", id, j);
    }

    return len;
}


static void
do_stream(const char *id, unsigned seed)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], query[32], want[4096];
    int             count;
    size_t          len;

    count = 1 + mix(seed) % 17;
    snprintf(path, sizeof(path), "/stream/%s", id);
    snprintf(query, sizeof(query), "n=%d", count);
    build_env(&he, "GET", path, query, id, -1);
    init_request(&r, &he, &hr, 0);
    len = stream_body(want, sizeof(want), id, count);

    if (check_ok(&hr, id, gw.handle(&r), want, len)) {
        if (hr.calls != count || (hr.flags & PYWSGI_BODY_LAST)
            || header(&hr, "Content-Length") != NULL)
        {
            failf(id, "a stream of %d chunks came in %d calls, flags %d",
                  count, hr.calls, hr.flags);
        }
    }

    host_req_free(&hr);
}


static void
do_cext(const char *id)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], want[128];
    long            n;
    int             len;

    n = atol(id);
    snprintf(path, sizeof(path), "/cext/%s", id);
    build_env(&he, "GET", path, "", id, -1);
    init_request(&r, &he, &hr, 0);
    len = snprintf(want, sizeof(want), "{\"half\": \"%ld.%ld\", \"id\": %ld}",
                   n / 2, (n % 2) * 5, n);

    check_ok(&hr, id, gw.handle(&r), want, len);

    host_req_free(&hr);
}


static void
do_write(const char *id)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], want[64];
    int             len;

    snprintf(path, sizeof(path), "/write/%s", id);
    build_env(&he, "GET", path, "", id, -1);
    init_request(&r, &he, &hr, 0);
    len = snprintf(want, sizeof(want), "w%s", id);

    check_ok(&hr, id, gw.handle(&r), want, len);

    host_req_free(&hr);
}


static void
do_error(const char *id)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], want[64];
    int             code;
    static const char  body500[] = "500 Internal Server Error";

    snprintf(path, sizeof(path), "/error/%s", id);
    build_env(&he, "GET", path, "", id, -1);
    init_request(&r, &he, &hr, 0);
    snprintf(want, sizeof(want), "RuntimeError: host error %s", id);

    code = gw.handle(&r);

    if (code != PYWSGI_DONE || hr.status != 500 || hr.starts != 1
        || hr.out_len != sizeof(body500) - 1
        || memcmp(hr.out, body500, hr.out_len) != 0)
    {
        failf(id, "an app error gave %d, status %d", code, hr.status);

    } else if (hr.log_lines < 3 || strcmp(hr.first_error, want) != 0) {
        failf(id, "an app error logged %d lines, first error \"%s\"",
              hr.log_lines, hr.first_error);
    }

    host_req_free(&hr);
}


/* step mode: one output call per step, MORE until DONE */
static void
do_steps(const char *id, unsigned seed)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], query[32], want[4096];
    int             count, code, steps;
    size_t          len;

    count = 2 + mix(seed) % 10;
    snprintf(path, sizeof(path), "/stream/%s", id);
    snprintf(query, sizeof(query), "n=%d", count);
    build_env(&he, "GET", path, query, id, -1);
    init_request(&r, &he, &hr, 0);
    len = stream_body(want, sizeof(want), id, count);

    steps = 0;
    code = gw.start(&r);

    while (code == PYWSGI_MORE) {
        steps++;
        if (hr.calls != steps || r.state == NULL) {
            failf(id, "step %d: %d output calls so far", steps, hr.calls);
            gw.cancel(&r);
            host_req_free(&hr);
            return;
        }
        code = gw.next(&r);
    }

    if (check_ok(&hr, id, code, want, len)) {
        if (steps != count || r.state != NULL) {
            failf(id, "%d chunks in %d steps, state %p", count, steps,
                  r.state);
        }
    }

    host_req_free(&hr);
}


/* step mode cancelled after the first chunk: the iterable is closed */
static void
do_cancel(const char *id)
{
    host_env        he;
    host_req        hr = { 0 }, hr2 = { 0 };
    pywsgi_request  r;
    char            path[64];
    int             code;

    snprintf(path, sizeof(path), "/stream/%s", id);
    build_env(&he, "GET", path, "n=5", id, -1);
    init_request(&r, &he, &hr, 0);

    code = gw.start(&r);
    if (code != PYWSGI_MORE) {
        failf(id, "pywsgi_start of a stream returned %d", code);
        host_req_free(&hr);
        return;
    }

    gw.cancel(&r);
    if (r.state != NULL) {
        failf(id, "state not cleared by pywsgi_cancel");
    }
    host_req_free(&hr);

    snprintf(path, sizeof(path), "/closed/%s", id);
    build_env(&he, "GET", path, "", id, -1);
    init_request(&r, &he, &hr2, 0);
    check_ok(&hr2, id, gw.handle(&r), "yes", 3);
    host_req_free(&hr2);
}


/* step mode on a one-item list: done in the first step */
static void
do_step_whole(const char *id)
{
    host_env        he;
    host_req        hr = { 0 };
    pywsgi_request  r;
    char            path[64], want[256];
    int             n;

    snprintf(path, sizeof(path), "/hello/%s", id);
    build_env(&he, "GET", path, "", id, -1);
    init_request(&r, &he, &hr, 0);
    n = snprintf(want, sizeof(want), "hello %s %s ", id, path);

    if (check_ok(&hr, id, gw.start(&r), want, n)) {
        check_length_header(&hr, id);
    }

    host_req_free(&hr);
}


#define NKINDS 12

static void
one_request(long n, const char *id)
{
    unsigned  seed = (unsigned) n * 2654435761u;

    switch (n % NKINDS) {
    case 0:  do_hello(id); break;
    case 1:  do_echo(id, seed, 0); break;
    case 2:  do_echo(id, seed, 1); break;
    case 3:  do_lines(id, seed); break;
    case 4:  do_stream(id, seed); break;
    case 5:  do_cext(id); break;
    case 6:  do_write(id); break;
    case 7:  do_error(id); break;
    case 8:  do_steps(id, seed); break;
    case 9:  do_cancel(id); break;
    case 10: do_step_whole(id); break;
    default: do_hello(id); break;
    }
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

    memset(&cfg, 0, sizeof(cfg));
    cfg.abi_version = PYWSGI_ABI_VERSION;
    cfg.python_home = opt.python_home;
    cfg.app = opt.app;
    cfg.server = "pywsgi_host/1";
    cfg.io = &host_io;
    cfg.multithread = opt.threads > 1;
    cfg.multiprocess = opt.children > 1;

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
        gw.handle(&r);
    }

    if (opt.rounds > 64) {
        opt.rounds = 64;
    }

    for (round = 0; round < opt.rounds; round++) {
        CALLGRIND_TOGGLE_COLLECT;
        t0 = now();

        for (i = 0; i < opt.bench; i++) {
            hr.out_len = 0;
            code = gw.handle(&r);
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
            "[--python-home DIR] [--churn K] [--bench N [--rounds R]] "
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
