/*
 * pywsgi_loader.c: load the gateway library (see pywsgi_loader.h).
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* dladdr */
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "pywsgi_loader.h"

#ifndef PYWSGI_GATEWAY_FILE
#error "build with -DPYWSGI_GATEWAY_FILE=\"_gateway<EXT_SUFFIX>\""
#endif


static void *
entry(pywsgi_gateway *gw, const char *name, const char *path, char *err,
    size_t errlen)
{
    void  *sym;

    sym = dlsym(gw->dl, name);

    if (sym == NULL) {
        snprintf(err, errlen, "%s is not a pywsgi gateway library: "
                 "it has no %s()", path, name);
    }

    return sym;
}


int
pywsgi_gateway_open(pywsgi_gateway *gw, const char *path, char *err,
    size_t errlen)
{
    unsigned int  (*abi_version)(void);
    unsigned int    abi;
    const char     *why;

    memset(gw, 0, sizeof(pywsgi_gateway));

    gw->dl = dlopen(path, RTLD_NOW | RTLD_GLOBAL);

    if (gw->dl == NULL) {
        why = dlerror();
        snprintf(err, errlen, "cannot load the gateway library: %s%s", why,
                 strstr(why, "libpython") == NULL ? ""
                 : " (the Python pywsgi-embed was built with: can this "
                   "process's user read it and every directory above it?)");
        return -1;
    }

    abi_version = (unsigned int (*)(void))
                  entry(gw, "pywsgi_abi_version", path, err, errlen);
    if (abi_version == NULL) {
        return -1;
    }

    abi = abi_version();

    if (abi != PYWSGI_ABI_VERSION) {
        snprintf(err, errlen, "the gateway library %s speaks ABI version %u "
                 "but this module was built for version %u: build both "
                 "from the same pywsgi-embed", path, abi, PYWSGI_ABI_VERSION);
        return -1;
    }

#define PYWSGI_ENTRY(field, name)                                            \
    *(void **) &gw->field = entry(gw, name, path, err, errlen);              \
    if (gw->field == NULL) {                                                 \
        return -1;                                                           \
    }

    PYWSGI_ENTRY(init, "pywsgi_init")
    PYWSGI_ENTRY(handle, "pywsgi_handle")
    PYWSGI_ENTRY(start, "pywsgi_start")
    PYWSGI_ENTRY(next, "pywsgi_next")
    PYWSGI_ENTRY(cancel, "pywsgi_cancel")
    PYWSGI_ENTRY(fini, "pywsgi_fini")
    PYWSGI_ENTRY(count, "pywsgi_count")
    PYWSGI_ENTRY(gauge_add, "pywsgi_gauge_add")
    PYWSGI_ENTRY(gil, "pywsgi_gil")

#undef PYWSGI_ENTRY

    return 0;
}


int
pywsgi_gateway_default_path(const void *self, char *buf, size_t len)
{
    Dl_info      info;
    const char  *slash;
    int          n;

    if (dladdr(self, &info) == 0 || info.dli_fname == NULL) {
        return -1;
    }

    /* <pkg>/modules/the_module.so -> <pkg>/PYWSGI_GATEWAY_FILE */

    slash = strrchr(info.dli_fname, '/');
    if (slash == NULL) {
        return -1;
    }

    n = snprintf(buf, len, "%.*s/../%s", (int) (slash - info.dli_fname),
                 info.dli_fname, PYWSGI_GATEWAY_FILE);

    return (n < 0 || (size_t) n >= len) ? -1 : 0;
}


void
pywsgi_config_init(pywsgi_config *cfg, const pywsgi_io *io, int io_mode,
    const char *server)
{
    memset(cfg, 0, sizeof(pywsgi_config));

    cfg->abi_version = PYWSGI_ABI_VERSION;
    cfg->io = io;
    cfg->io_mode = io_mode;
    cfg->server = server;
}
