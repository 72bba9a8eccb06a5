/*
 * pywsgi.h: the ABI between a web server module and the gateway library.
 *
 * This file is the single source of truth.  Both server modules include it;
 * pywsgi_embed/_build.py reads the two marked sections below and feeds them
 * to cffi as they stand, so nothing here is declared twice.  Inside the
 * marked sections: plain C only, no #if, and #define only for integers.
 *
 * The flow of one request:
 *   1. the module packs the CGI variables and the request headers into one
 *      latin-1 blob of NUL-terminated key/value strings (pywsgi_env.h
 *      applies the mapping rules), and fills a pywsgi_request;
 *   2. it calls pywsgi_handle() (or, on nginx's thread pool, pywsgi_start()
 *      and then pywsgi_next() once per chunk);
 *   3. the gateway calls back through the module's pywsgi_io table: read
 *      the body, start the response, write chunks, send a file, log.
 *
 * Bump PYWSGI_ABI_VERSION on any change to the sections below: a module
 * and a gateway library of different versions refuse to run together.
 */

#ifndef PYWSGI_H
#define PYWSGI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- BEGIN CFFI C ---- */

#define PYWSGI_ABI_VERSION 10

/* results of pywsgi_handle(), pywsgi_start() and pywsgi_next() */
#define PYWSGI_DONE  0    /* the response is complete */
#define PYWSGI_MORE  1    /* step mode: more to come, call pywsgi_next() */
#define PYWSGI_ABORT 2    /* output began, then failed: drop the connection */
#define PYWSGI_FAIL  3    /* nothing was sent and the gateway cannot run:
                             the module answers 500 itself */

/* levels of pywsgi_io.log: syslog's severities (LOG_ERR, LOG_WARNING,
   LOG_INFO), which are Apache's APLOG_* and nginx's NGX_LOG_* less one */
#define PYWSGI_LOG_ERROR 3
#define PYWSGI_LOG_WARN  4
#define PYWSGI_LOG_INFO  6

/* flags of pywsgi_io.start */
#define PYWSGI_BODY_LAST 1  /* the body passed is the whole response body */

/* values of pywsgi_config.io_mode */
#define PYWSGI_IO_BLOCKING   0  /* any callback may block: the gateway
                                   releases the GIL around each */
#define PYWSGI_IO_NONBLOCKING 1 /* no callback blocks: each is called
                                   holding the GIL */
#define PYWSGI_IO_SMALL_LAST 2  /* only start() with PYWSGI_BODY_LAST and at
                                   most PYWSGI_SMALL_BODY body bytes never
                                   blocks (the module copies the body and
                                   sends it once pywsgi_handle returned):
                                   that call holds the GIL, the others
                                   release it (Apache) */
#define PYWSGI_SMALL_BODY 65536

/*
 * The module's callbacks.  `handle` is pywsgi_request.handle, or NULL for
 * messages that belong to no request (start-up, wsgi.errors at large).
 * The gateway calls them without holding the GIL, from whichever thread
 * runs the request.
 */
typedef struct pywsgi_io {
    /* copy up to n request body bytes into buf: the count, 0 at the end of
       the body, -1 on error (client gone, timeout) */
    ssize_t (*read)(void *handle, char *buf, size_t n);

    /* the status ("200 OK", with its code), the headers as nheaders
       "Name\0Value\0" pairs (validated: no CR, LF or NUL inside, no
       hop-by-hop names), and the first body bytes (may be empty);
       0 or -1 when the client is gone */
    int (*start)(void *handle, int status, const char *status_line,
                 size_t status_len, const char *headers, size_t headers_len,
                 size_t nheaders, const char *body, size_t body_len,
                 int flags);

    /* more body bytes, to be handed to the client before the next call;
       0 or -1 when the client is gone */
    int (*write)(void *handle, const char *buf, size_t n);

    /* n bytes of file descriptor fd from offset, as body bytes; the module
       dup()s fd if it sends later; 0 or -1 when the client is gone */
    int (*sendfile)(void *handle, int fd, int64_t offset, int64_t n);

    /* one message (no trailing newline) for the server's error log */
    void (*log)(void *handle, int level, const char *msg, size_t n);

    /* retire this worker gracefully, for `reason` (n bytes, for the log):
       it stops accepting connections, finishes the requests in flight
       within the server's bound, exits with a status its master respawns
       and a fresh worker takes its place.  Callable from any thread, at
       any time, more than once (the first call wins); it never blocks and
       calls nothing in Python.  NULL: the module cannot retire workers.
       handle is NULL or the request during which the worker decided. */
    void (*retire)(void *handle, const char *reason, size_t n);
} pywsgi_io;

/* What pywsgi_init() needs to load one app.  The worker-wide fields (io,
   io_mode) must be the same in every call of a worker: the first call
   takes them, a later one with others is refused.  pywsgi_init() keeps no
   pointer into it except io.  abi_version stays the first field forever.
   The fixed environ of an app travels in each request's blob
   (pywsgi_param, PyWSGIEnv), not here. */
typedef struct pywsgi_config {
    unsigned int      abi_version;  /* PYWSGI_ABI_VERSION of the caller */
    const char       *python_home;  /* venv or install prefix; NULL: built-in */
    const char       *python_path;  /* extra sys.path entries, ':'-separated */
    const char       *app;          /* "file.py[:callable]" or "mod:callable" */
    const char       *server;       /* SERVER_SOFTWARE, e.g. "nginx/1.22.1" */
    const pywsgi_io  *io;           /* the worker's; must outlive every
                                       request */
    int               multithread;  /* wsgi.multithread */
    int               multiprocess; /* wsgi.multiprocess */
    int               io_mode;      /* PYWSGI_IO_*, the worker's: which io
                                       callbacks never block (they copy,
                                       or queue non-blocking output); the
                                       gateway calls those holding the
                                       GIL, sparing a GIL handoff per call
                                       (docs/ARCHITECTURE.md); it releases
                                       the GIL around the others */
    const char       *process_env;  /* the worker's environment variables,
                                       "NAME\0VALUE\0" pairs, set before
                                       Python starts (so os.environ and
                                       PYTHON* settings see them); NULL:
                                       none; read by the first init only */
    size_t            process_env_len;
    const char       *chdir;        /* the worker's working directory,
                                       entered before the first app is
                                       imported; NULL: the folder of a
                                       file app, else left as it is */

    /* recycling (csrc/pywsgi_recycle.c), 0 for "no limit": the gateway
       counts the finished requests of the worker and, between requests
       (the lifetime: on a timer), calls io->retire once one of these is
       passed */
    uint64_t          max_requests;   /* requests, plus up to ... */
    uint64_t          max_requests_jitter; /* ... this many more, drawn
                                       once per worker so that workers
                                       started together do not all retire
                                       together */
    uint64_t          max_lifetime;   /* seconds since the worker started */
    uint64_t          max_rss;        /* bytes of resident memory */
    const char       *reload_file;    /* NULL, or a file whose new mtime
                                       retires the worker once its apps
                                       import again (pywsgi_embed/
                                       reload.py) */
} pywsgi_config;

/* One request, filled by the module; the gateway keeps no pointer to it
   after the call that finished the response. */
typedef struct pywsgi_request {
    int          app;             /* the id pywsgi_init() returned */
    const char  *env;             /* packed environ, see pywsgi_env.h */
    size_t       env_len;         /* bytes in env, the last NUL included */
    int64_t      content_length;  /* request body bytes, -1 if unknown */
    void        *handle;          /* the module's, given back to each io call */
    void        *state;           /* the gateway's; NULL before pywsgi_start */
    uint32_t     timeout_ms;      /* of each step: the app's call up to its
                                     first chunk, then each next chunk; 0:
                                     none (see pywsgi_embed/watchdog.py) */
} pywsgi_request;

/* the gateway library's own file (from dladdr), for its Python side to
   import the pywsgi_embed package it was built with */
const char *pywsgi_gateway_path(void);

/* ---- END CFFI C ---- */


/*
 * The gateway library's entry points, implemented in C (csrc/gateway_entry.c).
 */

/* PYWSGI_ABI_VERSION of the library: check it before anything else */
unsigned int pywsgi_abi_version(void);

/* Boot Python in this process on the first call (never before the fork),
   then import the app of cfg.  Returns the app id (>= 0) for
   pywsgi_request.app, or -1 with the reason (a traceback when the import
   raised) in err.  Call from one thread at a time.  When Python itself
   could not start (not the app), err begins with PYWSGI_PYTHON_FAILED,
   so that a module blames the Python home, not the app. */
int pywsgi_init(const pywsgi_config *cfg, char *err, size_t errlen);

#define PYWSGI_PYTHON_FAILED  "Python cannot start: "

/* Run one request to its end, output through the io callbacks.  Any thread
   may call it; the GIL is taken inside.  Returns PYWSGI_DONE, PYWSGI_ABORT
   or PYWSGI_FAIL. */
int pywsgi_handle(pywsgi_request *r);

/* Step mode, for servers that must not block in the app: pywsgi_start()
   runs the app up to its first body chunk (or the end), pywsgi_next()
   produces one more chunk.  Both return PYWSGI_MORE while the response is
   unfinished, then PYWSGI_DONE, PYWSGI_ABORT or PYWSGI_FAIL; r->state
   carries the response in between.  pywsgi_cancel() ends an unfinished
   response early (the client left): it closes the app's iterable. */
int pywsgi_start(pywsgi_request *r);
int pywsgi_next(pywsgi_request *r);
void pywsgi_cancel(pywsgi_request *r);

/* Retire this worker gracefully (pywsgi_io.retire of the module, with
   the reason in the log): from any thread, never blocks, no GIL needed.
   A timeout watchdog or the app (pywsgi_embed.retire()) calls it; the
   recycling limits of pywsgi_config call it themselves. */
void pywsgi_retire(const char *reason);

/* After pywsgi_init(): the address of the GIL's "held" flag (non-zero while
   some thread holds the GIL), for a scheduler to read without the GIL, a
   hint that may be stale by the time it is read; NULL when this Python has
   no GIL (free-threaded).  Lets nginx's dispatcher tell steps that compute
   (the GIL is busy: more threads would only queue on it) from steps that
   wait (the GIL is free: another thread can run the next step now). */
const volatile int *pywsgi_gil(void);

/* Count an event the module handled without the gateway, for the status
   handler's figures (pywsgi_embed/metrics.py): any thread, no GIL, never
   blocks; a no-op until the worker counts (its status app is loaded and
   it served a request). */
#define PYWSGI_COUNT_QUEUE_TIMEOUT 0  /* a 503 of pywsgi_queue_timeout */
#define PYWSGI_COUNT_QUEUE_FULL    1  /* a 503 of pywsgi_queue_max */
#define PYWSGI_COUNTS              2
void pywsgi_count(int which);

/* Move a gauge of the status handler's figures by delta, for app (the id
   of pywsgi_init()): +1 where the module's measure of something goes up,
   -1 where it goes down, in the same places.  Like pywsgi_count(): any
   thread, no GIL, never blocks; the moves made before the worker counts
   are kept and join its figures once it does. */
#define PYWSGI_GAUGE_QUEUED 0  /* requests waiting for a thread of the
                                  module's own (nginx's threads mode) */
#define PYWSGI_GAUGES       1
void pywsgi_gauge_add(int which, int app, int64_t delta);

/* Worker exit: run Python's atexit functions and flush the log.  Python is
   not finalized: a thread stuck in the app must not hang the server. */
void pywsgi_fini(void);


/* the status handler, a WSGI app of the package (pywsgi_embed/status.py):
   what pywsgi_status / PyWSGIStatus mount */
#define PYWSGI_STATUS_APP "pywsgi_embed.status:application"


/* ---- BEGIN CFFI PYTHON ---- */
/* Internal: implemented in Python (pywsgi_embed/gateway.py through
   @ffi.def_extern), called only by the library's C (gateway_entry.c,
   gateway_serve.c).  Requests go through gateway_serve.c's own way in;
   pywsgi_py_serve takes only what that way cannot (see there). */

int pywsgi_py_load(const pywsgi_config *cfg, char *err, size_t errlen);
int pywsgi_py_serve(int app, const char *env, size_t env_len,
    int64_t content_length, intptr_t handle, uint32_t timeout_ms);
void pywsgi_py_fini(void);

/* ---- END CFFI PYTHON ---- */

#endif /* PYWSGI_H */
