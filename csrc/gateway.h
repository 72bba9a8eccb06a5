/*
 * gateway.h: inside the gateway library, the C functions its Python side
 * calls (pywsgi_embed/_build.py feeds the marked section to cffi).
 *
 * The Python side reaches the server's pywsgi_io callbacks through these
 * rather than by calling the function pointers from Python: cffi compiles
 * a direct wrapper for each function declared here, where a call through
 * a cdata function pointer goes through libffi and converts every argument
 * generically (0.7 us for start()'s ten arguments, measured).  Like any
 * cffi call, each releases the GIL while the server works.  start() takes
 * fewer, fused arguments on this side: each one costs a conversion.
 *
 * Handles are integers on the Python side (the intptr_t of the module's
 * void *): the fast path below takes them as plain ints.  When the module
 * says its callbacks never block (pywsgi_config.io_mode), the boot
 * also registers pywsgi_embed._fastio, C-API functions with the same
 * arguments as pywsgi_gw_start/write/sendfile that call the module without
 * releasing the GIL (cffi always releases it around a call).
 */

#ifndef PYWSGI_GATEWAY_H
#define PYWSGI_GATEWAY_H

#include "pywsgi.h"

/* ---- BEGIN CFFI GATEWAY ---- */

/* the worker's io table (pywsgi_config.io of the first app loaded) */
void pywsgi_gw_set_io(const pywsgi_io *io);

/* flag of pywsgi_gw_start: append "Content-Length: body_len" */
#define PYWSGI_GW_ADD_LENGTH 256

ssize_t pywsgi_gw_read(intptr_t handle, char *buf, size_t n);

/* pywsgi_io.start of a "head": the status line and the headers in one
   blob, "200 OK\0Name\0Value\0...", as pywsgi_embed/headers.py packs
   it (validated there: a 3-digit code, no NUL in the status line) */
int pywsgi_gw_start(intptr_t handle, const char *head, size_t head_len,
    size_t nheaders, const char *body, size_t body_len, int flags);
int pywsgi_gw_write(intptr_t handle, const char *buf, size_t n);
int pywsgi_gw_sendfile(intptr_t handle, int fd, int64_t offset, int64_t n);
void pywsgi_gw_log(intptr_t handle, int level, const char *msg, size_t n);

/* register pywsgi_embed._environ in sys.modules (gateway_environ.c),
   once; takes the GIL itself.  0, or -1 with the traceback on stderr */
int pywsgi_gw_environ_init(void);

/* gateway_watch.c: the stacks dump (pywsgi_embed/watchdog.py): from now on, signal signo
   writes one byte to fd (the write end of the watchdog's pipe, made
   non-blocking), whichever thread it lands on; 0, or -1 with errno */
int pywsgi_gw_stacks_signal(int signo, int fd);

/* pywsgi_retire() (pywsgi.h), for pywsgi_embed.retire() */
void pywsgi_gw_retire(const char *reason);

/* pywsgi_count() adds to counters[which] from now on: the worker's slot
   of the status handler's shared file (pywsgi_embed/metrics.py) */
void pywsgi_gw_set_counters(int64_t *counters);

/* pywsgi_gauge_add() moves gauges[app * stride + which] from now on, for
   the apps below napps (and below PYWSGI_GW_GAUGE_APPS): the worker's
   slot again; first it adds there the moves made before this call */
#define PYWSGI_GW_GAUGE_APPS 8
void pywsgi_gw_set_gauges(int64_t *gauges, size_t stride, int napps);

/* gateway_serve.c: pywsgi_handle(), pywsgi_start(), pywsgi_next() and
   pywsgi_cancel() once the gateway runs (gateway_entry.c checks that and
   counts the finished requests), callable from the unit tests too: each
   takes the GIL itself (cffi releases it around the call) */
int pywsgi_gw_serve(pywsgi_request *r);
int pywsgi_gw_step_start(pywsgi_request *r);
int pywsgi_gw_step_next(pywsgi_request *r);
void pywsgi_gw_step_cancel(pywsgi_request *r);

/* ---- END CFFI GATEWAY ---- */

#endif /* PYWSGI_GATEWAY_H */
