/*
 * gateway_internal.h: what the C files of the gateway library share among
 * themselves (never seen by the server modules nor by cffi's cdef).
 *
 *   gateway_entry.c   the entry points of pywsgi.h, the library's state
 *   gateway_boot.c    booting CPython in the worker
 *   gateway_io.c      the io wrappers its Python side calls (gateway.h)
 *   gateway_fastio.c  pywsgi_embed._fastio, the same without a GIL release
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

#endif /* PYWSGI_GATEWAY_INTERNAL_H */
