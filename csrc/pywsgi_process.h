/*
 * pywsgi_process.h: the rules of the worker-wide process settings both
 * modules read from their configuration (pywsgi_config.process_env and
 * .chdir), so that nginx and Apache refuse the same bad values at config
 * time.  The gateway applies them (csrc/gateway_boot.c, pywsgi_embed/gateway.py).
 */

#ifndef PYWSGI_PROCESS_H
#define PYWSGI_PROCESS_H

#include <stddef.h>
#include <string.h>

/* NULL when name can be an environment variable's name, else why not:
   setenv() refuses "" and a name with '=' (the rest of "NAME=VALUE") */
static inline const char *
pywsgi_process_env_name_error(const char *name, size_t len)
{
    if (len == 0) {
        return "an environment variable needs a name";
    }

    if (memchr(name, '=', len) != NULL) {
        return "an environment variable's name has no \"=\" (give the "
               "name and the value as two arguments)";
    }

    if (memchr(name, '\0', len) != NULL) {
        return "an environment variable's name has no NUL byte";
    }

    return NULL;
}

#endif /* PYWSGI_PROCESS_H */
