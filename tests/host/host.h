/*
 * host.h: what the parts of the C test host share (see pywsgi_host.c).
 */

#ifndef PYWSGI_TEST_HOST_H
#define PYWSGI_TEST_HOST_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "pywsgi.h"
#include "pywsgi_env.h"
#include "pywsgi_loader.h"


/* one request: what the "server" sends and receives (host_io.c) */
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


/* a request's environ blob, built with csrc/pywsgi_env.c (host_io.c) */
typedef struct {
    char        buf[4096];
    pywsgi_env  env;
} host_env;


extern const pywsgi_io   host_io;
extern pywsgi_gateway    gw;          /* the gateway library's entries */
extern int               app_id;
extern int               child_no;
extern pthread_mutex_t   print_lock;

/* host_io.c */
void host_req_free(host_req *hr);
const char *header(host_req *hr, const char *name);
void build_env(host_env *he, const char *method, const char *path,
    const char *query, const char *id, long content_length);
void init_request(pywsgi_request *r, host_env *he, host_req *hr, long clen);

/* host_requests.c: one request of kind n % NKINDS, checked */
void one_request(long n, const char *id);

/* pywsgi_host.c: count a failed check and say why (the first 20) */
void failf(const char *id, const char *fmt, ...);

#endif /* PYWSGI_TEST_HOST_H */
