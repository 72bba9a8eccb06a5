/*
 * gateway_environ.c: the environ dict of a request, built in C from the
 * record's packed blob, and pywsgi_handle()'s way into the Python side.
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
 *                           that start in Python (step mode, the tests);
 *   register(app_id, template, app, serve)
 *                           what pywsgi_handle() needs of an app: it then
 *                           takes the GIL itself, builds the environ and
 *                           calls serve(app, environ, content_length,
 *                           handle), without cffi's generic entry (its
 *                           argument conversions and its own GIL dance).
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
static PyObject *
str_of(const char *p, size_t len)
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
static PyObject *
environ_new(PyObject *template, const char *blob, size_t len)
{
    const char  *p, *end, *q, *v;
    PyObject    *env, *key, *val;
    int          rc;

    env = PyDict_Copy(template);
    if (env == NULL || len == 0) {
        return env;
    }

    p = blob;
    end = blob + len - 1;

    while (p < end) {
        q = memchr(p, '\0', end - p);
        if (q == NULL) {
            break;                            /* a key without a value */
        }

        v = q + 1;
        q = memchr(v, '\0', end - v);
        if (q == NULL) {
            q = end;
        }

        key = str_of(p, v - 1 - p);
        val = key ? str_of(v, q - v) : NULL;

        rc = val ? PyDict_SetItem(env, key, val) : -1;
        Py_XDECREF(key);
        Py_XDECREF(val);

        if (rc != 0) {
            Py_DECREF(env);
            return NULL;
        }

        p = q + 1;
    }

    return env;
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

    return environ_new(args[0], PyBytes_AS_STRING(args[1]),
                       PyBytes_GET_SIZE(args[1]));
}


/* ---- the apps pywsgi_handle() serves ------------------------------------ */

typedef struct {
    PyObject  *template;
    PyObject  *app;
    PyObject  *serve;
} gw_app;

static gw_app      *gw_apps;
static Py_ssize_t   gw_napps;


static PyObject *
environ_register(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t   id, i;
    gw_app      *apps, *a;

    /* (app_id, template, app, serve) */

    if (nargs != 4 || !PyDict_CheckExact(args[1])
        || !PyCallable_Check(args[3]))
    {
        PyErr_SetString(PyExc_TypeError, "register() takes (app_id, "
                        "template: dict, app, serve: callable)");
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
        apps = PyMem_Realloc(gw_apps, (id + 1) * sizeof(gw_app));
        if (apps == NULL) {
            return PyErr_NoMemory();
        }

        for (i = gw_napps; i <= id; i++) {
            apps[i].template = apps[i].app = apps[i].serve = NULL;
        }

        gw_apps = apps;
        gw_napps = id + 1;
    }

    a = &gw_apps[id];
    Py_INCREF(args[1]);
    Py_INCREF(args[2]);
    Py_INCREF(args[3]);
    Py_XSETREF(a->template, args[1]);
    Py_XSETREF(a->app, args[2]);
    Py_XSETREF(a->serve, args[3]);

    Py_RETURN_NONE;
}


/*
 * The calling thread's Python thread state, made on its first request and
 * kept: PyGILState_Release() would otherwise delete it at the end of each
 * request and the next would make it anew.  The extra Ensure is never
 * released; the GIL is, by the outer Release.
 */
static PyGILState_STATE
gil_ensure(void)
{
    static __thread int  pinned;
    PyGILState_STATE     st;

    st = PyGILState_Ensure();

    if (!pinned) {
        (void) PyGILState_Ensure();
        pinned = 1;
    }

    return st;
}


static int
serve_locked(pywsgi_request *r)
{
    gw_app     *a;
    PyObject   *args[4], *env, *res;
    long        rc;

    if (r->app < 0 || r->app >= gw_napps || gw_apps[r->app].serve == NULL
        || r->env_len < 2)
    {
        return PYWSGI_GW_FALLBACK;
    }

    a = &gw_apps[r->app];

    env = environ_new(a->template, r->env, r->env_len);
    if (env == NULL) {
        PyErr_Clear();
        return PYWSGI_GW_FALLBACK;          /* Python reports it */
    }

    args[0] = a->app;
    args[1] = env;
    args[2] = PyLong_FromLongLong(r->content_length);
    args[3] = PyLong_FromVoidPtr(r->handle);

    res = (args[2] && args[3])
          ? PyObject_Vectorcall(a->serve, args, 4, NULL) : NULL;

    Py_DECREF(env);
    Py_XDECREF(args[2]);
    Py_XDECREF(args[3]);

    rc = res ? PyLong_AsLong(res) : -1;
    Py_XDECREF(res);

    if (PyErr_Occurred()) {
        /* what cffi does for an extern "Python" function that raised:
           the traceback to stderr (the server log), the error value */
        PyErr_WriteUnraisable(a->serve);
        return PYWSGI_ABORT;
    }

    return (int) rc;
}


int
pywsgi_gw_serve(pywsgi_request *r)
{
    PyGILState_STATE  st;
    int               rc;

    if (gw_napps == 0) {                  /* nothing registered: no GIL */
        return PYWSGI_GW_FALLBACK;
    }

    st = gil_ensure();
    rc = serve_locked(r);
    PyGILState_Release(st);

    return rc;
}


/* ---- the module --------------------------------------------------------- */

static PyMethodDef  environ_methods[] = {
    { "build", (PyCFunction) (void (*)(void)) environ_build, METH_FASTCALL,
      "build(template, blob): template's copy with the blob's pairs" },
    { "register", (PyCFunction) (void (*)(void)) environ_register,
      METH_FASTCALL,
      "register(app_id, template, app, serve): what pywsgi_handle() runs" },
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
