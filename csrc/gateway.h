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

/* ---- END CFFI GATEWAY ---- */

#endif /* PYWSGI_GATEWAY_H */
