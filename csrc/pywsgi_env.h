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
 *     path, with SCRIPT_NAME never "/";
 *   - a CGI variable the server has no value for (NULL) is omitted, never
 *     '' (an empty value is kept); QUERY_STRING is always there;
 *   - a refused request is answered 400, a sizing bug 500
 *     (pywsgi_env_status).
 * A NUL inside a value would shift every pair after it (a header could
 * forge REMOTE_USER), so values with a NUL are refused.
 *
 * The caller gives the buffer: size it with the PYWSGI_ENV_*_SIZE macros
 * (upper bounds), then add.  Nothing here allocates.
 *
 * tests/unit reads the marked section below with cffi, as it stands: plain
 * C only in there.
 */

#ifndef PYWSGI_ENV_H
#define PYWSGI_ENV_H

#include <stddef.h>
#include <stdint.h>

#define PYWSGI_ENV_OK       0
#define PYWSGI_ENV_SKIPPED  1   /* dropped by the rules above: not an error */
#define PYWSGI_ENV_FULL    -1   /* the buffer is too small: a sizing bug */
#define PYWSGI_ENV_BAD     -2   /* a NUL inside: answer 400 */

/* bytes that one variable / one header / the path may add at most */
#define PYWSGI_ENV_VAR_SIZE(klen, vlen)     ((klen) + (vlen) + 2)
#define PYWSGI_ENV_HEADER_SIZE(nlen, vlen)  ((nlen) + (vlen) + 9)
#define PYWSGI_ENV_PATH_SIZE(mlen, ulen)    ((mlen) + (ulen) + 24)


/* ---- BEGIN CFFI ENV ---- */

typedef struct {
    char      *data;
    size_t     len;
    size_t     cap;
    uint64_t   seen;    /* one bit per hash of each HTTP_* key added, so
                           a repeated header is looked for only when its
                           bit is already set */
} pywsgi_env;

/* a string of the request as the server holds it: val NULL when the server
   has no value */
typedef struct {
    const char  *val;
    size_t       len;
} pywsgi_str;

/* The CGI variables of one request, filled by the module from its own
   request structure; pywsgi_env_add_cgi() adds them by the rules above */
typedef struct {
    pywsgi_str   request_method;
    pywsgi_str   query_string;
    pywsgi_str   request_uri;
    pywsgi_str   server_protocol;
    pywsgi_str   server_name;
    pywsgi_str   server_addr;
    pywsgi_str   remote_addr;
    pywsgi_str   remote_user;     /* and AUTH_TYPE, when authenticated */
    pywsgi_str   auth_type;
    pywsgi_str   mount;           /* SCRIPT_NAME/PATH_INFO, as for */
    pywsgi_str   path;            /* pywsgi_env_add_path() */
    unsigned     server_port;     /* 0: unknown, omitted */
    unsigned     remote_port;
    int          https;           /* HTTPS=on, wsgi.url_scheme=https */
} pywsgi_cgi;

void pywsgi_env_init(pywsgi_env *env, char *buf, size_t cap);

/* the bytes pywsgi_env_add_cgi() may add at most */
size_t pywsgi_env_cgi_size(const pywsgi_cgi *cgi);

/* every CGI variable of cgi, SCRIPT_NAME and PATH_INFO included */
int pywsgi_env_add_cgi(pywsgi_env *env, const pywsgi_cgi *cgi);

/* what a result of the pywsgi_env_add* functions means for the request:
   0 (go on), 400 (the request is refused) or 500 (a sizing bug), with the
   message the module logs (at info for 400, at error or worse for 500) */
int pywsgi_env_status(int rc);
const char *pywsgi_env_error(int rc);

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

/* ---- END CFFI ENV ---- */

#endif /* PYWSGI_ENV_H */
