/*
 * pywsgi_env.c: the CGI mapping rules, once for both servers
 * (see pywsgi_env.h).
 */

#include <string.h>

#include "pywsgi_env.h"
#include "pywsgi_headers.h"


static const char  http_prefix[] = "HTTP_";
#define HTTP_PREFIX_LEN  (sizeof(http_prefix) - 1)


void
pywsgi_env_init(pywsgi_env *env, char *buf, size_t cap)
{
    env->data = buf;
    env->len = 0;
    env->cap = cap;
    env->seen = 0;
}


static void
put(pywsgi_env *env, const char *s, size_t n)
{
    /* an empty value may have no data at all (nginx's empty ngx_str_t):
       memcpy() from NULL is undefined even for 0 bytes (UBSan says so) */

    if (n) {
        memcpy(env->data + env->len, s, n);
    }

    env->len += n;
    env->data[env->len++] = '\0';
}


int
pywsgi_env_add(pywsgi_env *env, const char *key, size_t klen,
    const char *val, size_t vlen)
{
    if (vlen && memchr(val, '\0', vlen) != NULL) {
        return PYWSGI_ENV_BAD;
    }

    if (env->cap - env->len < PYWSGI_ENV_VAR_SIZE(klen, vlen)) {
        return PYWSGI_ENV_FULL;
    }

    put(env, key, klen);
    put(env, val, vlen);

    return PYWSGI_ENV_OK;
}


int
pywsgi_env_add_cstr(pywsgi_env *env, const char *key, const char *val,
    size_t vlen)
{
    return pywsgi_env_add(env, key, strlen(key), val, vlen);
}


/*
 * Where the value of key starts in the blob, or NULL.  Only called when
 * the bloom bit says the key may be there, so the walk is rare.
 */
static char *
find_value(pywsgi_env *env, const char *key, size_t klen)
{
    char  *p, *end, *k;

    p = env->data;
    end = env->data + env->len;

    while (p < end) {
        k = p;
        p += strlen(p) + 1;

        if ((size_t) (p - k - 1) == klen && memcmp(k, key, klen) == 0) {
            return p;
        }

        p += strlen(p) + 1;
    }

    return NULL;
}


/* insert sep + val at the end of the existing value at v */
static void
merge_value(pywsgi_env *env, char *v, const char *sep, const char *val,
    size_t vlen)
{
    char    *end;
    size_t   add, tail;

    end = v + strlen(v);                 /* the value's NUL */
    add = strlen(sep) + vlen;
    tail = env->data + env->len - end;

    memmove(end + add, end, tail);
    memcpy(end, sep, strlen(sep));
    memcpy(end + strlen(sep), val, vlen);
    env->len += add;
}


int
pywsgi_env_add_header(pywsgi_env *env, const char *name, size_t nlen,
    const char *val, size_t vlen)
{
    char      key[HTTP_PREFIX_LEN + 256], *k, *v;
    size_t    i, klen;
    unsigned  bit;
    unsigned char  c;

    if (nlen == 0 || nlen > 255 || memchr(name, '_', nlen) != NULL
        || pywsgi_name_is(name, nlen, "proxy"))
    {
        return PYWSGI_ENV_SKIPPED;
    }

    if (vlen && memchr(val, '\0', vlen) != NULL) {
        return PYWSGI_ENV_BAD;
    }

    if (env->cap - env->len < PYWSGI_ENV_HEADER_SIZE(nlen, vlen)) {
        return PYWSGI_ENV_FULL;
    }

    if (pywsgi_name_is(name, nlen, "content-type")
        || pywsgi_name_is(name, nlen, "content-length"))
    {
        k = key;                  /* CONTENT_TYPE, CONTENT_LENGTH */

    } else {
        memcpy(key, http_prefix, HTTP_PREFIX_LEN);
        k = key + HTTP_PREFIX_LEN;
    }

    for (i = 0; i < nlen; i++) {
        c = (unsigned char) name[i];
        k[i] = (c == '-') ? '_' : (c >= 'a' && c <= 'z') ? c - 32 : c;
    }

    klen = (k - key) + nlen;
    bit = ((unsigned) klen * 31 + (unsigned char) key[klen - 1]
           + (unsigned char) key[klen / 2]) & 63;

    if (env->seen & ((uint64_t) 1 << bit)) {
        v = find_value(env, key, klen);

        if (v != NULL) {
            merge_value(env, v,
                        pywsgi_name_is(name, nlen, "cookie") ? "; " : ", ",
                        val, vlen);
            return PYWSGI_ENV_OK;
        }
    }

    env->seen |= (uint64_t) 1 << bit;

    put(env, key, klen);
    put(env, val, vlen);

    return PYWSGI_ENV_OK;
}


int
pywsgi_env_add_path(pywsgi_env *env, const char *mount, size_t mlen,
    const char *path, size_t plen)
{
    int  rc;

    /* refuse before writing SCRIPT_NAME, so that a refused path leaves
       the blob as it was */

    if (plen && memchr(path, '\0', plen) != NULL) {
        return PYWSGI_ENV_BAD;
    }

    if (env->cap - env->len < PYWSGI_ENV_PATH_SIZE(mlen, plen)) {
        return PYWSGI_ENV_FULL;
    }

    while (mlen && mount[mlen - 1] == '/') {
        mlen--;                       /* "/app/" mounts as "/app" */
    }

    /* the path is under the mount point when it equals it or continues
       with '/': "/application" is not under "/app" */

    if (mlen > plen || memcmp(mount, path, mlen) != 0
        || (plen > mlen && path[mlen] != '/'))
    {
        mlen = 0;
    }

    rc = pywsgi_env_add(env, "SCRIPT_NAME", sizeof("SCRIPT_NAME") - 1,
                        path, mlen);
    if (rc != PYWSGI_ENV_OK) {
        return rc;
    }

    return pywsgi_env_add(env, "PATH_INFO", sizeof("PATH_INFO") - 1,
                          path + mlen, plen - mlen);
}


/* ---- the CGI variables of a request ----------------------------------- */

#define PORT_LEN  sizeof("65535")

/* every variable of cgi with the bytes its name may take, in the order
   they are added; SCRIPT_NAME and PATH_INFO are sized apart */

#define CGI_VAR(name, field)                                                \
    { name, sizeof(name) - 1, &(cgi)->field }

#define CGI_VARS(cgi)                                                       \
    CGI_VAR("REQUEST_METHOD", request_method),                             \
    CGI_VAR("QUERY_STRING", query_string),                                 \
    CGI_VAR("REQUEST_URI", request_uri),                                   \
    CGI_VAR("SERVER_PROTOCOL", server_protocol),                           \
    CGI_VAR("SERVER_NAME", server_name),                                   \
    CGI_VAR("SERVER_ADDR", server_addr),                                   \
    CGI_VAR("REMOTE_ADDR", remote_addr),                                   \
    CGI_VAR("REMOTE_USER", remote_user),                                   \
    CGI_VAR("AUTH_TYPE", auth_type)

/* the name's length with it: strlen() of each name, twice a request,
   showed in bench/nginx_profile.py */
typedef struct {
    const char        *key;
    size_t             klen;
    const pywsgi_str  *val;
} cgi_var;

/* the fixed names, both ports, HTTPS and wsgi.url_scheme fit in this */
#define CGI_FIXED_SIZE  256


size_t
pywsgi_env_cgi_size(const pywsgi_cgi *cgi)
{
    size_t    size, i;
    cgi_var   vars[] = { CGI_VARS(cgi) };

    size = CGI_FIXED_SIZE
           + PYWSGI_ENV_PATH_SIZE(cgi->mount.len, cgi->path.len);

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        size += PYWSGI_ENV_VAR_SIZE(vars[i].klen, vars[i].val->len);
    }

    return size;
}


/* the port in decimal: two of them a request, where snprintf() alone
   cost more than the rest of the CGI variables (bench/nginx_profile.py) */
static int
add_port(pywsgi_env *env, const char *key, size_t klen, unsigned port)
{
    char    buf[PORT_LEN + 8], *p;

    if (port == 0) {
        return PYWSGI_ENV_OK;          /* unknown: omitted */
    }

    p = buf + sizeof(buf);

    do {
        *--p = (char) ('0' + port % 10);
        port /= 10;
    } while (port != 0 && p > buf);

    return pywsgi_env_add(env, key, klen, p, (size_t) (buf + sizeof(buf) - p));
}


int
pywsgi_env_add_cgi(pywsgi_env *env, const pywsgi_cgi *cgi)
{
    int       rc;
    size_t    i;
    cgi_var   vars[] = { CGI_VARS(cgi) };

    rc = PYWSGI_ENV_OK;

    for (i = 0; rc == PYWSGI_ENV_OK && i < sizeof(vars) / sizeof(vars[0]);
         i++)
    {
        if (vars[i].val->val != NULL) {
            rc = pywsgi_env_add(env, vars[i].key, vars[i].klen,
                                vars[i].val->val, vars[i].val->len);

        } else if (vars[i].val == &cgi->query_string) {
            rc = pywsgi_env_add(env, vars[i].key, vars[i].klen, "", 0);
        }
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = add_port(env, "SERVER_PORT", sizeof("SERVER_PORT") - 1,
                      cgi->server_port);
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = add_port(env, "REMOTE_PORT", sizeof("REMOTE_PORT") - 1,
                      cgi->remote_port);
    }

    if (rc == PYWSGI_ENV_OK && cgi->https) {
        rc = pywsgi_env_add_cstr(env, "HTTPS", "on", 2);

        if (rc == PYWSGI_ENV_OK) {
            rc = pywsgi_env_add_cstr(env, "wsgi.url_scheme", "https", 5);
        }
    }

    if (rc == PYWSGI_ENV_OK) {
        rc = pywsgi_env_add_path(env, cgi->mount.val ? cgi->mount.val : "",
                                 cgi->mount.len,
                                 cgi->path.val ? cgi->path.val : "",
                                 cgi->path.len);
    }

    return rc;
}


int
pywsgi_env_status(int rc)
{
    switch (rc) {
    case PYWSGI_ENV_OK:
    case PYWSGI_ENV_SKIPPED:
        return 0;
    case PYWSGI_ENV_BAD:
        return 400;
    default:
        return 500;
    }
}


const char *
pywsgi_env_error(int rc)
{
    switch (rc) {
    case PYWSGI_ENV_OK:
    case PYWSGI_ENV_SKIPPED:
        return "";
    case PYWSGI_ENV_BAD:
        return "pywsgi: a NUL byte in the request, refused";
    default:
        return "pywsgi: the environ buffer is too small (a bug)";
    }
}
