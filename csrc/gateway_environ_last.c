/*
 * gateway_environ_last.c: the environ of a request built from the last
 * one of its app.
 *
 * Requests to an app carry the same variables in the same order (the
 * module writes them in a fixed order, and a browser sends its headers
 * in one), and most values repeat too: the host, the browser's Accept
 * lines, the server's own.  So each app keeps a copy of the last environ
 * it was given (made before the app could change it) and the str objects
 * of its pairs.  A request whose keys are those, byte for byte, is that
 * copy copied (one table copy, no insert, no hash) with only the values
 * that differ set; any other is built from its pairs, each set as
 * gateway_environ.c sets them, and becomes the app's last.
 *
 * The result is the same dict either way: the template and the blob's
 * pairs, in the blob's order.  A blob whose keys repeat, or override the
 * template's, is never kept (a later pair's value would hide an earlier
 * one's, which the value comparison cannot see).  A template registered
 * again (gateway.run_once()) forgets the app's last.  Holding the GIL.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include "gateway_internal.h"


#define GW_PAIRS_MAX  64            /* longer blobs are built each time */

typedef pywsgi_gw_pair  gw_pair;

typedef struct {
    PyObject    *full;              /* the last environ's copy, or NULL */
    Py_ssize_t   npairs;
    PyObject    *keys[GW_PAIRS_MAX];    /* held */
    PyObject    *vals[GW_PAIRS_MAX];    /* borrowed from full */
} gw_last;

static gw_last     **gw_lasts;
static Py_ssize_t    gw_nlasts;


/* the pairs of blob, as gateway_environ.c cuts them; -1: too many */
static Py_ssize_t
pairs_of(const char *blob, size_t len, gw_pair *pairs)
{
    const char      *p;
    pywsgi_gw_pair   pair;
    Py_ssize_t       n;

    n = 0;
    p = blob;

    while (len > 0 && pywsgi_gw_next_pair(&p, blob + len - 1, &pair)) {
        if (n == GW_PAIRS_MAX) {
            return -1;
        }

        pairs[n++] = pair;
    }

    return n;
}


static gw_last *
last_of(int app)
{
    gw_last   **lasts;
    Py_ssize_t  i;

    if (app >= gw_nlasts) {
        lasts = PyMem_Realloc(gw_lasts, (app + 1) * sizeof(gw_last *));
        if (lasts == NULL) {
            return NULL;
        }

        for (i = gw_nlasts; i <= app; i++) {
            lasts[i] = NULL;
        }

        gw_lasts = lasts;
        gw_nlasts = app + 1;
    }

    if (gw_lasts[app] == NULL) {
        gw_lasts[app] = PyMem_Calloc(1, sizeof(gw_last));
    }

    return gw_lasts[app];
}


/* the app's last environ forgotten */
static void
forget(gw_last *last)
{
    Py_ssize_t  i;

    Py_CLEAR(last->full);

    for (i = 0; i < last->npairs; i++) {
        Py_CLEAR(last->keys[i]);
    }

    last->npairs = 0;
}


/* the value of pair i becomes the len bytes at p, in full too; -1 with a
   Python exception */
static int
set_value(gw_last *last, Py_ssize_t i, const char *p, size_t len)
{
    PyObject  *val;
    int        rc;

    val = pywsgi_gw_str_of(p, len);
    rc = val ? PyDict_SetItem(last->full, last->keys[i], val) : -1;
    Py_XDECREF(val);                  /* full holds it */

    if (rc == 0) {
        last->vals[i] = val;
    }

    return rc;
}


/*
 * The last environ with the values that changed set (in it too), copied,
 * when blob has the last request's keys: the blob is walked beside the
 * kept pairs, each key and value compared where it lies (cutting the blob
 * into pairs first cost a memchr() per key and value, most of this step
 * in bench/nginx_profile.py).  A key and a value end where
 * pywsgi_gw_next_pair() ends them: at their NUL, the last value at the
 * blob's final one.  NULL when the keys differ, or with a Python
 * exception.
 */
static PyObject *
from_last(gw_last *last, const char *blob, size_t len)
{
    size_t       klen, vlen;
    Py_ssize_t   i;
    const char  *p, *end, *nul;

    if (last->full == NULL || len == 0 || blob[len - 1] != '\0') {
        return NULL;
    }

    p = blob;
    end = blob + len - 1;

    for (i = 0; i < last->npairs; i++) {
        klen = PyUnicode_GET_LENGTH(last->keys[i]);

        if (p >= end || (size_t) (end - p) <= klen || p[klen] != '\0'
            || memcmp(p, PyUnicode_DATA(last->keys[i]), klen) != 0)
        {
            return NULL;
        }

        p += klen + 1;
        vlen = PyUnicode_GET_LENGTH(last->vals[i]);

        if ((size_t) (end - p) < vlen || p[vlen] != '\0'
            || memcmp(p, PyUnicode_DATA(last->vals[i]), vlen) != 0)
        {
            nul = memchr(p, '\0', end - p + 1);      /* found: *end is */
            vlen = nul - p;

            if (set_value(last, i, p, vlen) != 0) {
                forget(last);
                return NULL;
            }
        }

        p += vlen + 1;
    }

    return p >= end ? PyDict_Copy(last->full) : NULL;      /* no more */
}


/* the environ of the pairs built anew (template's copy, each pair set),
   which becomes the app's last before the app can change it; NULL with a
   Python exception */
static PyObject *
built_and_kept(gw_last *last, PyObject *template, const gw_pair *pairs,
    Py_ssize_t n)
{
    PyObject    *env, *val;
    Py_ssize_t   i;

    forget(last);

    env = PyDict_Copy(template);
    if (env == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        if (pywsgi_gw_environ_put(env, &pairs[i], &last->keys[i], &val)
            != 0)
        {
            forget(last);
            Py_DECREF(env);
            return NULL;
        }

        last->npairs = i + 1;
        last->vals[i] = val;          /* env holds it, and full will */
        Py_DECREF(val);
    }

    /* a key that repeats, or is the template's, hides a value: not kept */
    last->full = PyDict_GET_SIZE(env) == PyDict_GET_SIZE(template) + n
                 ? PyDict_Copy(env) : NULL;

    if (last->full == NULL) {
        PyErr_Clear();
        forget(last);
    }

    return env;
}


/*
 * The environ of app's request of blob (len bytes): template's copy with
 * the blob's pairs, made from the app's last environ when the keys are
 * its keys.  NULL with a Python exception.
 */
PyObject *
pywsgi_gw_environ_of(int app, PyObject *template, const char *blob,
    size_t len)
{
    gw_pair     pairs[GW_PAIRS_MAX];
    gw_last    *last;
    PyObject   *env;
    Py_ssize_t  n;

    last = (app >= 0) ? last_of(app) : NULL;

    if (last != NULL) {
        env = from_last(last, blob, len);
        if (env != NULL) {
            return env;
        }
    }

    PyErr_Clear();
    n = pairs_of(blob, len, pairs);

    if (last == NULL || n <= 0) {
        return pywsgi_gw_environ_new(template, blob, len);
    }

    return built_and_kept(last, template, pairs, n);
}


/* app's template changed (register() again): its last environ is stale */
void
pywsgi_gw_environ_forget(int app)
{
    if (app >= 0 && app < gw_nlasts && gw_lasts[app] != NULL) {
        forget(gw_lasts[app]);
    }
}
