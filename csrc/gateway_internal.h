/*
 * gateway_internal.h: what the C files of the gateway library share among
 * themselves (never seen by the server modules nor by cffi's cdef).
 *
 *   gateway_entry.c   the entry points of pywsgi.h, the library's state
 *   gateway_boot.c    booting CPython in the worker
 *   gateway_io.c      the io wrappers its Python side calls (gateway.h)
 *   gateway_fastio.c  pywsgi_embed._fastio, the same without a GIL release
 *   gateway_environ.c the environ built in C, pywsgi_handle()'s way in
 *   gateway_gil.c     pywsgi_gil(), the GIL's held flag (Py_BUILD_CORE)
 */

#ifndef PYWSGI_GATEWAY_INTERNAL_H
#define PYWSGI_GATEWAY_INTERNAL_H

#include <stddef.h>

#include "pywsgi.h"

/* start Python in this process for cfg; the GIL is released on return.
   -1 with the reason in err. */
int pywsgi_gw_boot(const pywsgi_config *cfg, char *err, size_t errlen);

/* "<what>: <type>: <message>" of the pending Python exception into err;
   the exception is cleared.  Call holding the GIL. */
void pywsgi_gw_exception_text(const char *what, char *err, size_t errlen);

/* register pywsgi_embed._fastio in sys.modules (holding the GIL) */
int pywsgi_gw_add_fastio(char *err, size_t errlen);

/* pywsgi_gw_serve() could not take the request (no app registered for
   it, an empty record, no memory): pywsgi_py_serve() takes it and says
   what is wrong */
#define PYWSGI_GW_FALLBACK  (-1)

/* pywsgi_handle() through the apps that pywsgi_embed._environ.register()
   made known: the GIL, the environ, the call; PYWSGI_DONE, PYWSGI_ABORT,
   PYWSGI_FAIL or PYWSGI_GW_FALLBACK.  Call without the GIL. */
int pywsgi_gw_serve(pywsgi_request *r);

#endif /* PYWSGI_GATEWAY_INTERNAL_H */
