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


/* s (a latin-1 str of the blob) holds the len bytes at p */
static int
holds(PyObject *s, const char *p, size_t len)
{
    return (size_t) PyUnicode_GET_LENGTH(s) == len
           && memcmp(PyUnicode_DATA(s), p, len) == 0;
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


/* the pairs have the last request's keys */
static int
same_keys(const gw_last *last, const gw_pair *pairs, Py_ssize_t n)
{
    Py_ssize_t  i;

    if (last->full == NULL || n != last->npairs) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!holds(last->keys[i], pairs[i].key, pairs[i].key_len)) {
            return 0;
        }
    }

    return 1;
}


/* the last environ with the values that changed set (in it too), copied;
   NULL with a Python exception */
static PyObject *
from_last(gw_last *last, const gw_pair *pairs, Py_ssize_t n)
{
    PyObject    *val;
    Py_ssize_t   i;
    int          rc;

    for (i = 0; i < n; i++) {
        if (holds(last->vals[i], pairs[i].val, pairs[i].val_len)) {
            continue;
        }

        val = pywsgi_gw_str_of(pairs[i].val, pairs[i].val_len);
        rc = val ? PyDict_SetItem(last->full, last->keys[i], val) : -1;
        Py_XDECREF(val);              /* full holds it */

        if (rc != 0) {
            forget(last);
            return NULL;
        }

        last->vals[i] = val;
    }

    return PyDict_Copy(last->full);
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

    n = pairs_of(blob, len, pairs);
    last = (n > 0 && app >= 0) ? last_of(app) : NULL;

    if (last == NULL) {
        PyErr_Clear();
        return pywsgi_gw_environ_new(template, blob, len);
    }

    if (same_keys(last, pairs, n)) {
        env = from_last(last, pairs, n);
        if (env != NULL) {
            return env;
        }

        PyErr_Clear();
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
