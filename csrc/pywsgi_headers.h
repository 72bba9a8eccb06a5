/*
 * pywsgi_headers.h: walking the response headers that pywsgi_io.start
 * receives, "Name\0Value\0" pairs already validated by the gateway.
 */

#ifndef PYWSGI_HEADERS_H
#define PYWSGI_HEADERS_H

#include <stddef.h>
#include <string.h>

typedef struct {
    const char  *p;
    const char  *end;
} pywsgi_headers;

static inline void
pywsgi_headers_init(pywsgi_headers *h, const char *blob, size_t len)
{
    h->p = blob;
    h->end = blob + len;
}

/* the next pair, or 0 at the end */
static inline int
pywsgi_headers_next(pywsgi_headers *h, const char **name, size_t *nlen,
    const char **value, size_t *vlen)
{
    if (h->p >= h->end) {
        return 0;
    }

    *name = h->p;
    *nlen = strlen(h->p);
    *value = *name + *nlen + 1;
    *vlen = strlen(*value);
    h->p = *value + *vlen + 1;

    return 1;
}

/*
 * The header name of nlen bytes is lower (a lowercase literal), in any
 * case: inline, since strncasecmp() called for each known name was a good
 * part of what a response head cost (bench/nginx_profile.py).
 */
#define pywsgi_name_is(name, nlen, lower)                                   \
    pywsgi_name_equals(name, nlen, lower, sizeof(lower) - 1)

static inline int
pywsgi_name_equals(const char *name, size_t nlen, const char *lower,
    size_t llen)
{
    size_t         i;
    unsigned char  c, l;

    if (nlen != llen) {
        return 0;
    }

    for (i = 0; i < nlen; i++) {
        c = (unsigned char) name[i];
        l = (unsigned char) lower[i];

        /* c | 0x20 is l for l's uppercase letter, and for l alone */

        if (c != l && !(l >= 'a' && l <= 'z' && (c | 0x20) == l)) {
            return 0;
        }
    }

    return 1;
}

#endif /* PYWSGI_HEADERS_H */
