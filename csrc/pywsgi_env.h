/*
 * pywsgi_env.h: building the packed environ of a pywsgi_request.
 *
 * The blob is a run of NUL-terminated strings, key then value:
 *     "REQUEST_METHOD\0GET\0PATH_INFO\0/x\0HTTP_HOST\0example.org\0"
 * The gateway turns it into the environ dict with one decode and one
 * split.  Both server modules fill it through these helpers, so the CGI
 * mapping rules live here once:
 *   - a request header "Foo-Bar" becomes HTTP_FOO_BAR; Content-Type and
 *     Content-Length become CONTENT_TYPE and CONTENT_LENGTH;
 *   - names containing '_' are dropped (X_Foo must not pose as X-Foo), and
 *     so is Proxy (httpoxy: it would become HTTP_PROXY);
 *   - a repeated header is joined with ", " (RFC 3875), Cookie with "; "
 *     (RFC 6265, and HTTP/2 sends one cookie per header);
 *   - SCRIPT_NAME and PATH_INFO come from the mount point and the decoded
 *     path, with SCRIPT_NAME never "/".
 * A NUL inside a value would shift every pair after it (a header could
 * forge REMOTE_USER), so values with a NUL are refused.
 *
 * The caller gives the buffer: size it with the PYWSGI_ENV_*_SIZE macros
 * (upper bounds), then add.  Nothing here allocates.
 */

#ifndef PYWSGI_ENV_H
#define PYWSGI_ENV_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    char      *data;
    size_t     len;
    size_t     cap;
    uint64_t   seen;    /* one bit per hash of each HTTP_* key added, so
                           a repeated header is looked for only when its
                           bit is already set */
} pywsgi_env;

#define PYWSGI_ENV_OK       0
#define PYWSGI_ENV_SKIPPED  1   /* dropped by the rules above: not an error */
#define PYWSGI_ENV_FULL    -1   /* the buffer is too small: a sizing bug */
#define PYWSGI_ENV_BAD     -2   /* a NUL inside: answer 400 */

/* bytes that one variable / one header / the path may add at most */
#define PYWSGI_ENV_VAR_SIZE(klen, vlen)     ((klen) + (vlen) + 2)
#define PYWSGI_ENV_HEADER_SIZE(nlen, vlen)  ((nlen) + (vlen) + 9)
#define PYWSGI_ENV_PATH_SIZE(mlen, ulen)    ((mlen) + (ulen) + 24)

void pywsgi_env_init(pywsgi_env *env, char *buf, size_t cap);

/* a CGI variable or any other key, taken as it is */
int pywsgi_env_add(pywsgi_env *env, const char *key, size_t klen,
    const char *val, size_t vlen);

/* a NUL-terminated key, for the fixed CGI names */
int pywsgi_env_add_cstr(pywsgi_env *env, const char *key, const char *val,
    size_t vlen);

/* a request header, mapped by the rules above */
int pywsgi_env_add_header(pywsgi_env *env, const char *name, size_t nlen,
    const char *val, size_t vlen);

/* SCRIPT_NAME and PATH_INFO: the mount point (a prefix such as "/app" or
   "/app/"; "" or "/" for the root) and the percent-decoded path.  A path
   outside the mount point goes whole into PATH_INFO. */
int pywsgi_env_add_path(pywsgi_env *env, const char *mount, size_t mlen,
    const char *path, size_t plen);

#endif /* PYWSGI_ENV_H */
