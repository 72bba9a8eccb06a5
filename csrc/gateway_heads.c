/*
 * gateway_heads.c: a memo, in C, of the heads that
 * pywsgi_embed/headers.py head_of() found valid, so that a
 * start_response() called again with an equal status and header list
 * (the usual case: an app answers with the same few) costs a hash and a
 * comparison here instead of a Python call (gateway_respond.c).
 *
 * Every rule stays in Python: only what head_of() accepted is kept, and a
 * miss asks it again.  Only exact str and exact (str, str) tuples in an
 * exact list are looked up; anything else (a subclass, a bad item) goes
 * to Python, which takes or refuses it as it always did.  An entry holds
 * a tuple copy of the list it was made from (immutable, so a later change
 * of the app's list cannot change the entry), compared by value.
 *
 * A direct-mapped table: a collision replaces the older entry, so a
 * worker whose apps send many different header lists keeps the latest.
 * Holding the GIL throughout.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "gateway_internal.h"


#define GW_HEADS_SLOTS  256          /* a power of two */
#define GW_HEADERS_MAX  32           /* longer lists are not kept */


typedef struct {
    Py_hash_t   hash;
    PyObject   *status;              /* NULL: a free slot */
    PyObject   *headers;             /* a tuple of (name, value) tuples */
    PyObject   *hit;                 /* head_of()'s answer */
} gw_head;

static gw_head  gw_heads[GW_HEADS_SLOTS];


/* the str a and b hold the same text (both exact str) */
static int
same_text(PyObject *a, PyObject *b)
{
    Py_ssize_t  len;

    if (a == b) {
        return 1;
    }

    len = PyUnicode_GET_LENGTH(a);

    return len == PyUnicode_GET_LENGTH(b)
           && PyUnicode_KIND(a) == PyUnicode_KIND(b)
           && memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b),
                     len * PyUnicode_KIND(a)) == 0;
}


/* the (name, value) pair of an exact 2-tuple of exact str, else 0 */
static int
pair_of(PyObject *item, PyObject **name, PyObject **value)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
        return 0;
    }

    *name = PyTuple_GET_ITEM(item, 0);
    *value = PyTuple_GET_ITEM(item, 1);

    return PyUnicode_CheckExact(*name) && PyUnicode_CheckExact(*value);
}


/* the hash of status and headers, -1 when they are not the kind kept */
static Py_hash_t
hash_of(PyObject *status, PyObject *headers)
{
    Py_ssize_t   i, n;
    Py_uhash_t   h;
    Py_hash_t    part;
    PyObject    *name, *value;

    n = PyList_GET_SIZE(headers);

    if (!PyUnicode_CheckExact(status) || n > GW_HEADERS_MAX) {
        return -1;
    }

    h = (Py_uhash_t) PyObject_Hash(status) ^ (Py_uhash_t) n;

    for (i = 0; i < n; i++) {
        if (!pair_of(PyList_GET_ITEM(headers, i), &name, &value)) {
            return -1;
        }

        /* str hashes are cached in the objects, and never fail */
        part = PyObject_Hash(name) * 31 + PyObject_Hash(value);
        h = (h ^ (Py_uhash_t) part) * 1000003u;
    }

    h &= (Py_uhash_t) PY_SSIZE_T_MAX;

    return (Py_hash_t) h;
}


static int
same_headers(PyObject *kept, PyObject *headers)
{
    Py_ssize_t   i, n;
    PyObject    *a, *b, *name, *value;

    n = PyTuple_GET_SIZE(kept);
    if (n != PyList_GET_SIZE(headers)) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        a = PyTuple_GET_ITEM(kept, i);
        b = PyList_GET_ITEM(headers, i);

        if (a == b) {
            continue;
        }

        /* b was checked by hash_of() */
        name = PyTuple_GET_ITEM(b, 0);
        value = PyTuple_GET_ITEM(b, 1);

        if (!same_text(PyTuple_GET_ITEM(a, 0), name)
            || !same_text(PyTuple_GET_ITEM(a, 1), value))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * The head of status and headers (an exact list) that head_of() accepted
 * before, else NULL; *hash is what pywsgi_gw_head_keep() takes for them
 * (-1: not the kind kept).
 */
PyObject *
pywsgi_gw_head_find(PyObject *status, PyObject *headers, Py_hash_t *hash)
{
    gw_head  *e;

    *hash = hash_of(status, headers);
    if (*hash == -1) {
        return NULL;
    }

    e = &gw_heads[*hash & (GW_HEADS_SLOTS - 1)];

    if (e->status == NULL || e->hash != *hash
        || !same_text(e->status, status)
        || !same_headers(e->headers, headers))
    {
        return NULL;
    }

    return e->hit;
}


/*
 * Keep hit, head_of()'s answer for status and headers, of the hash
 * pywsgi_gw_head_find() gave.  A bare "NNN" status is not kept, as
 * head_of() does not keep it: each of its calls reaches the app's
 * warning.  0, or -1 with a Python exception set.
 */
int
pywsgi_gw_head_keep(PyObject *status, PyObject *headers, Py_hash_t hash,
    PyObject *hit)
{
    gw_head  *e;
    PyObject        *copy;

    if (hash == -1 || PyUnicode_GET_LENGTH(status) <= 3) {
        return 0;
    }

    copy = PyList_AsTuple(headers);
    if (copy == NULL) {
        return -1;
    }

    e = &gw_heads[hash & (GW_HEADS_SLOTS - 1)];

    Py_INCREF(status);
    Py_INCREF(hit);

    e->hash = hash;
    Py_XSETREF(e->status, status);
    Py_XSETREF(e->headers, copy);
    Py_XSETREF(e->hit, hit);

    return 0;
}
