/*
 * pywsgi_loader.h: how a server module (or the C test host) loads the
 * gateway library: dlopen() with RTLD_GLOBAL, the ABI version check, and
 * the entry points.
 *
 * RTLD_GLOBAL matters: the gateway library pulls in libpython, and
 * extension modules such as _json or numpy resolve their Py* symbols
 * against the global namespace; without it they fail with "undefined
 * symbol: PyExc_...".
 */

#ifndef PYWSGI_LOADER_H
#define PYWSGI_LOADER_H

#include "pywsgi.h"

typedef struct {
    void          *dl;
    int          (*init)(const pywsgi_config *cfg, char *err, size_t errlen);
    int          (*handle)(pywsgi_request *r);
    int          (*start)(pywsgi_request *r);
    int          (*next)(pywsgi_request *r);
    void         (*cancel)(pywsgi_request *r);
    void         (*fini)(void);
    const volatile int *(*gil)(void);
    void         (*count)(int which);
    void         (*gauge_add)(int which, int app, int64_t delta);
} pywsgi_gateway;

/* Load the library at path.  0, or -1 with the reason in err: the file
   cannot be loaded (dlerror's text), or it was built for another ABI. */
int pywsgi_gateway_open(pywsgi_gateway *gw, const char *path, char *err,
    size_t errlen);

/* The gateway that was installed with the module: the module lives in
   <pkg>/modules/, the library in <pkg>/ under the name the build baked in
   (PYWSGI_GATEWAY_FILE).  `self` is any symbol of the module.  0, or -1
   when the module's own path cannot be found or buf is too small. */
int pywsgi_gateway_default_path(const void *self, char *buf, size_t len);

/* The worker-wide part of a pywsgi_config, which every module fills alike:
   cfg zeroed, this ABI's version, the io table and mode, SERVER_SOFTWARE.
   The module then sets the Python home and path, the app and the wsgi.*
   flags, which only it knows. */
void pywsgi_config_init(pywsgi_config *cfg, const pywsgi_io *io,
    int io_mode, const char *server);

#endif /* PYWSGI_LOADER_H */
