/*
 * python_identity.h: inside the gateway library, the checks that the
 * Python a worker gets is the one the gateway was built for (see
 * python_identity.c).  Each returns 0, or -1 with a message in err that
 * names both Pythons and says what to do.
 */

#ifndef PYWSGI_PYTHON_IDENTITY_H
#define PYWSGI_PYTHON_IDENTITY_H

#include <stddef.h>

/* the libpython this process loaded (before Python starts) */
int pywsgi_identity_libpython(char *err, size_t errlen);

/* a venv's pyvenv.cfg: made by the build's Python */
int pywsgi_identity_venv(const char *home, const char *cfg_path, char *err,
    size_t errlen);

/* a Python home that is an installation prefix: the build's own */
int pywsgi_identity_prefix(const char *home, char *err, size_t errlen);

#endif /* PYWSGI_PYTHON_IDENTITY_H */
