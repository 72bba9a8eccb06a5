/*
 * pywsgi_spec.c: parsing an app spec, once for both server modules
 * (see pywsgi_spec.h).
 */

#include <string.h>

#include "pywsgi_spec.h"


static const char  default_name[] = "application";


static int
ends_with_py(const char *s, size_t n)
{
    return n >= 3 && memcmp(s + n - 3, ".py", 3) == 0;
}


static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
           || c == '\f';
}


/* an ASCII Python identifier (the names of WSGI callables) */

static int
is_identifier(const char *s, size_t n)
{
    size_t  i;
    char    c;

    if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
        {
            return 0;
        }
    }

    return 1;
}


const char *
pywsgi_spec_parse(const char *spec, size_t len, pywsgi_spec *out)
{
    const char  *colon, *name;
    size_t       nlen;

    while (len && is_blank(spec[0])) {
        spec++;
        len--;
    }

    while (len && is_blank(spec[len - 1])) {
        len--;
    }

    if (len == 0) {
        return "no app given";
    }

    colon = NULL;

    for (name = spec + len; name > spec; name--) {
        if (name[-1] == ':') {
            colon = name - 1;
            break;
        }
    }

    memset(out, 0, sizeof(pywsgi_spec));

    if (colon != NULL) {
        name = colon + 1;
        nlen = spec + len - name;

        if (memchr(name, '/', nlen) != NULL || ends_with_py(name, nlen)) {
            colon = NULL;                   /* "dir:x/app.py" is a path */
        }
    }

    if (colon == NULL) {
        out->target = spec;
        out->target_len = len;
        out->rest = spec + len;
        out->name = default_name;
        out->name_len = sizeof(default_name) - 1;

    } else {
        out->target = spec;
        out->target_len = colon - spec;
        out->rest = colon;
        out->rest_len = spec + len - colon;
        out->name = colon + 1;
        out->name_len = spec + len - out->name;

        if (out->name_len >= 2
            && memcmp(out->name + out->name_len - 2, "()", 2) == 0)
        {
            out->call = 1;
            out->name_len -= 2;
        }
    }

    if (!is_identifier(out->name, out->name_len)) {
        return "the callable is not a Python name";
    }

    out->is_file = memchr(out->target, '/', out->target_len) != NULL
                   || ends_with_py(out->target, out->target_len);

    if (out->target_len == 0) {
        return "no app given";
    }

    return NULL;
}
