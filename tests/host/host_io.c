/*
 * host_io.c: the "server" side of the C test host: the pywsgi_io callbacks
 * that record what the gateway sends for one request, and the request's
 * environ blob, built with the same csrc/ helpers the server modules use.
 */

#define _GNU_SOURCE                 /* memmem */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "host.h"
#include "pywsgi_headers.h"


/* ---- one request: what the "server" sends and receives ----------------- */


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


/* a worker retiring: say so, once per call (the gateway calls it once) */

static void
host_retire(void *handle, const char *reason, size_t n)
{
    pthread_mutex_lock(&print_lock);
    fprintf(stderr, "[worker retire %d] %.*s\n", (int) getpid(), (int) n,
            reason);
    pthread_mutex_unlock(&print_lock);
}


const pywsgi_io  host_io = {
    host_read, host_start, host_write, host_sendfile, host_log, host_retire
};


void
host_req_free(host_req *hr)
{
    free(hr->headers);
    free(hr->out);
}


/* the value of a response header, or NULL */
const char *
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
void
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


void
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
