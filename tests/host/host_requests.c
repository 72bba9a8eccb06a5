/*
 * host_requests.c: the kinds of request the C test host sends, each checked
 * against what it asked for (tests/host/host_app.py echoes a per-request
 * id): one-item lists, bodies read in pieces, chunked bodies, streams,
 * _json/_decimal, write(), app errors, and the step mode with cancel.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"


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

void
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
