/*
 * gateway_environ.c: the environ dict of a request, built in C from the
 * record's packed blob, and the table of what the request entry points
 * (gateway_serve.c) call on the Python side.
 *
 * The blob ("KEY\0value\0...", see pywsgi_env.h) already follows the CGI
 * mapping rules, so making the environ is a copy: the app's template dict
 * (everything that is the same in every request of a worker, made by
 * pywsgi_embed/gateway.py) copied, then one latin-1 str per key and value.
 * Every PEP 3333 rule that is more than a copy stays in Python.
 *
 * The keys and most values repeat from request to request (REQUEST_METHOD,
 * HTTP_HOST, "GET", the browser's Accept...), so their str objects are
 * kept in a small bounded cache and reused: no allocation, no decode, and
 * a reused key carries its hash, which the dict insert then need not
 * compute.  str objects are immutable, so sharing them is safe.
 *
 * pywsgi_embed._environ, registered by pywsgi_gw_environ_init(), gives the
 * Python side:
 *   build(template, blob)   the environ of a blob (bytes), for the paths
 *                           that start in Python (the fallback, the
 *                           tests);
 *   register(app_id, template, app, serve, start)
 *                           what pywsgi_handle() and pywsgi_start() need
 *                           of an app: they take the GIL themselves,
 *                           build the environ and call serve (or start)
 *                           (app, environ, content_length, handle,
 *                           timeout_ms), without cffi's generic entry (its
 *                           argument conversions and its own GIL dance);
 *   set_steps(next, cancel) what pywsgi_next() and pywsgi_cancel() call
 *                           with the response that start returned;
 *   set_response(...), running()
 *                           gateway_respond.c's (the app called from C).
 *
 * Everything here runs holding the GIL, which guards the tables.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "pywsgi.h"
#include "gateway.h"
#include "gateway_internal.h"


/* ---- the string cache -------------------------------------------------- */

#define GW_STRS_SLOTS  512       /* a power of two */
#define GW_STR_LEN_MAX 256       /* longer strings are never kept */

typedef struct {
    PyObject  *str;              /* NULL: a free slot */
    size_t     len;
} gw_str;

static gw_str  gw_strs[GW_STRS_SLOTS];


/* a slot for p (at least 2 bytes): its length and its first and last 8
   bytes (or 2), mixed */
static size_t
str_slot(const char *p, size_t len)
{
    uint64_t  a, b;
    uint16_t  a2, b2;

    if (len >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + len - 8, 8);

    } else {
        memcpy(&a2, p, 2);
        memcpy(&b2, p + len - 2, 2);
        a = a2;
        b = b2;
    }

    a = (a ^ (b * 0x9e3779b97f4a7c15ull) ^ len) * 0xff51afd7ed558ccdull;

    return (size_t) (a >> 40) & (GW_STRS_SLOTS - 1);
}


/*
 * A new reference to the str of p (latin-1, len bytes), NULL on error.
 * A direct-mapped cache: a hit is the str of the last request that had
 * the same bytes in this slot; a miss replaces it.  A latin-1 str holds
 * the blob's bytes as they are (one byte a character), which the
 * comparison relies on.
 */
PyObject *
pywsgi_gw_str_of(const char *p, size_t len)
{
    gw_str    *c;
    PyObject  *s;

    if (len > GW_STR_LEN_MAX || len < 2) {
        /* "" and one character are CPython's own singletons */
        return PyUnicode_DecodeLatin1(p, len, NULL);
    }

    c = &gw_strs[str_slot(p, len)];

    if (c->str != NULL && c->len == len
        && memcmp(PyUnicode_DATA(c->str), p, len) == 0)
    {
        Py_INCREF(c->str);
        return c->str;
    }

    s = PyUnicode_DecodeLatin1(p, len, NULL);
    if (s == NULL) {
        return NULL;
    }

    Py_INCREF(s);
    Py_XSETREF(c->str, s);
    c->len = len;

    return s;
}


/* ---- the environ -------------------------------------------------------- */

/*
 * A copy of template with the pairs of blob added.  The blob's last byte
 * (its final NUL) is dropped and the rest cut at each NUL; the parts pair
 * up as key, value, and a key left without a value is dropped: exactly
 * what the Python rule dict(zip(parts[::2], parts[1::2])) would make.
 */
PyObject *
pywsgi_gw_environ_new(PyObject *template, const char *blob, size_t len)
{
    const char      *p;
    PyObject        *env, *key, *val;
    pywsgi_gw_pair   pair;

    env = PyDict_Copy(template);
    if (env == NULL || len == 0) {
        return env;
    }

    p = blob;

    while (pywsgi_gw_next_pair(&p, blob + len - 1, &pair)) {
        if (pywsgi_gw_environ_put(env, &pair, &key, &val) != 0) {
            Py_DECREF(env);
            return NULL;
        }

        Py_DECREF(key);
        Py_DECREF(val);
    }

    return env;
}


/* pair's key and value as str set in env: 0 with new references to both
   in *key and *val, or -1 with a Python exception */
int
pywsgi_gw_environ_put(PyObject *env, const pywsgi_gw_pair *pair,
    PyObject **key, PyObject **val)
{
    *key = pywsgi_gw_str_of(pair->key, pair->key_len);
    *val = *key ? pywsgi_gw_str_of(pair->val, pair->val_len) : NULL;

    if (*val != NULL && PyDict_SetItem(env, *key, *val) == 0) {
        return 0;
    }

    Py_CLEAR(*key);
    Py_CLEAR(*val);

    return -1;
}


static PyObject *
environ_build(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_CheckExact(args[0])
        || !PyBytes_CheckExact(args[1]))
    {
        PyErr_SetString(PyExc_TypeError,
                        "build() takes (template: dict, blob: bytes)");
        return NULL;
    }

    return pywsgi_gw_environ_new(args[0], PyBytes_AS_STRING(args[1]),
                       PyBytes_GET_SIZE(args[1]));
}


/* ---- the apps pywsgi_handle() serves ------------------------------------ */

static pywsgi_gw_app  *gw_apps;
static Py_ssize_t   gw_napps;


static PyObject *
environ_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t   id, i;
    pywsgi_gw_app  *apps, *a;
    Py_ssize_t      k;

    /* (app_id, template, app, serve, start) */

    if (nargs != 5 || !PyDict_CheckExact(args[1])
        || !PyCallable_Check(args[3]) || !PyCallable_Check(args[4]))
    {
        PyErr_SetString(PyExc_TypeError, "register() takes (app_id, "
                        "template: dict, app, serve: callable, "
                        "start: callable)");
        return NULL;
    }

    id = PyLong_AsSsize_t(args[0]);
    if (id < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "register(): app_id < 0");
        }
        return NULL;
    }

    if (id >= gw_napps) {
        apps = PyMem_Realloc(gw_apps, (id + 1) * sizeof(pywsgi_gw_app));
        if (apps == NULL) {
            return PyErr_NoMemory();
        }

        for (i = gw_napps; i <= id; i++) {
            memset(&apps[i], 0, sizeof(pywsgi_gw_app));
        }

        gw_apps = apps;
        gw_napps = id + 1;
    }

    a = &gw_apps[id];
    pywsgi_gw_environ_forget((int) id);

    for (k = 1; k < 5; k++) {
        Py_INCREF(args[k]);
    }

    Py_XSETREF(a->template, args[1]);
    Py_XSETREF(a->app, args[2]);
    Py_XSETREF(a->serve, args[3]);
    Py_XSETREF(a->start, args[4]);

    /* the app's callable, which gateway_respond.c calls itself; NULL
       (that path not taken) when the App has none */
    Py_XSETREF(a->call, PyObject_GetAttrString(args[2], "call"));
    PyErr_Clear();

    Py_RETURN_NONE;
}


static PyObject  *gw_next;
static PyObject  *gw_cancel;


static PyObject *
environ_set_steps(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyCallable_Check(args[0])
        || !PyCallable_Check(args[1]))
    {
        PyErr_SetString(PyExc_TypeError, "set_steps() takes (next: "
                        "callable, cancel: callable)");
        return NULL;
    }

    Py_INCREF(args[0]);
    Py_INCREF(args[1]);
    Py_XSETREF(gw_next, args[0]);
    Py_XSETREF(gw_cancel, args[1]);

    Py_RETURN_NONE;
}


PyObject *
pywsgi_gw_next_step(void)
{
    return gw_next;
}


PyObject *
pywsgi_gw_cancel_step(void)
{
    return gw_cancel;
}


const pywsgi_gw_app *
pywsgi_gw_app_of(int id)
{
    if (id < 0 || id >= gw_napps || gw_apps[id].serve == NULL) {
        return NULL;
    }

    return &gw_apps[id];
}


/* ---- the module --------------------------------------------------------- */

static PyMethodDef  environ_methods[] = {
    { "build", (PyCFunction) (void (*)(void)) environ_build, METH_FASTCALL,
      "build(template, blob): template's copy with the blob's pairs" },
    { "register", (PyCFunction) (void (*)(void)) environ_register,
      METH_FASTCALL,
      "register(app_id, template, app, serve, start): what "
      "pywsgi_handle() and pywsgi_start() run" },
    { "set_steps", (PyCFunction) (void (*)(void)) environ_set_steps,
      METH_FASTCALL,
      "set_steps(next, cancel): what pywsgi_next() and pywsgi_cancel() "
      "call" },
    { "set_response", (PyCFunction) (void (*)(void)) pywsgi_gw_set_response,
      METH_FASTCALL,
      "set_response(adopt, resume, head_for, fast, io_mode): what "
      "gateway_respond.c calls, and whether it answers" },
    { "running", (PyCFunction) pywsgi_gw_running, METH_NOARGS,
      "running(): (thread id, environ, began) of each app called from C" },
    { NULL, NULL, 0, NULL }
};


static struct PyModuleDef  environ_module = {
    PyModuleDef_HEAD_INIT, "pywsgi_embed._environ",
    "The environ of a request, built in C from its packed blob.", -1,
    environ_methods, NULL, NULL, NULL, NULL
};


int
pywsgi_gw_environ_init(void)
{
    PyGILState_STATE  st;
    PyObject         *m, *modules;
    int               rc;

    st = PyGILState_Ensure();

    modules = PyImport_GetModuleDict();
    rc = 0;

    if (PyDict_GetItemString(modules, "pywsgi_embed._environ") == NULL) {
        m = PyModule_Create(&environ_module);
        rc = m ? PyDict_SetItemString(modules, "pywsgi_embed._environ", m)
               : -1;
        Py_XDECREF(m);
    }

    if (rc != 0) {
        PyErr_Print();
    }

    PyGILState_Release(st);
    return rc;
}
