/*
 * gateway_fastio.c: pywsgi_embed._fastio, a CPython extension module
 * inside the gateway library.
 *
 * pywsgi_gw_start/write/sendfile for a module whose callbacks never
 * block, called without releasing the GIL.  cffi releases
 * it around every C call; with many pool threads each release hands the
 * GIL to a waiting thread, a context switch in the middle of a request.
 * Same arguments as the cffi functions (the lengths are taken from the
 * bytes), so the Python side swaps one set for the other.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pywsgi.h"
#include "gateway.h"
#include "gateway_internal.h"


static int
fastio_args(Py_ssize_t nargs, Py_ssize_t want, const char *name)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes %zd arguments (%zd given)",
                     name, want, nargs);
        return -1;
    }

    return 0;
}


static PyObject *
fastio_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    char        *head, *body;
    void        *handle;
    long         flags;
    Py_ssize_t   head_len, body_len, nheaders;

    /* (handle, head, head_len, nheaders, body, body_len, flags) */

    if (fastio_args(nargs, 7, "start") != 0
        || PyBytes_AsStringAndSize(args[1], &head, &head_len) != 0
        || PyBytes_AsStringAndSize(args[4], &body, &body_len) != 0)
    {
        return NULL;
    }

    handle = PyLong_AsVoidPtr(args[0]);
    nheaders = PyLong_AsSsize_t(args[3]);
    flags = PyLong_AsLong(args[6]);

    if (PyErr_Occurred()) {
        return NULL;
    }

    return PyLong_FromLong(pywsgi_gw_start((intptr_t) handle, head, head_len,
                                           nheaders, body, body_len,
                                           (int) flags));
}


static PyObject *
fastio_write(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    char        *data;
    void        *handle;
    Py_ssize_t   len;

    /* (handle, data, len) */

    if (fastio_args(nargs, 3, "write") != 0
        || PyBytes_AsStringAndSize(args[1], &data, &len) != 0)
    {
        return NULL;
    }

    handle = PyLong_AsVoidPtr(args[0]);

    if (PyErr_Occurred()) {
        return NULL;
    }

    return PyLong_FromLong(pywsgi_gw_write((intptr_t) handle, data, len));
}


static PyObject *
fastio_sendfile(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    int        fd;
    void      *handle;
    long long  offset, n;

    /* (handle, fd, offset, n) */

    if (fastio_args(nargs, 4, "sendfile") != 0) {
        return NULL;
    }

    handle = PyLong_AsVoidPtr(args[0]);
    fd = (int) PyLong_AsLong(args[1]);
    offset = PyLong_AsLongLong(args[2]);
    n = PyLong_AsLongLong(args[3]);

    if (PyErr_Occurred()) {
        return NULL;
    }

    return PyLong_FromLong(pywsgi_gw_sendfile((intptr_t) handle, fd, offset,
                                              n));
}


static PyMethodDef  fastio_methods[] = {
    { "start", (PyCFunction) (void (*)(void)) fastio_start, METH_FASTCALL,
      "pywsgi_gw_start(), the GIL held" },
    { "write", (PyCFunction) (void (*)(void)) fastio_write, METH_FASTCALL,
      "pywsgi_gw_write(), the GIL held" },
    { "sendfile", (PyCFunction) (void (*)(void)) fastio_sendfile,
      METH_FASTCALL, "pywsgi_gw_sendfile(), the GIL held" },
    { NULL, NULL, 0, NULL }
};


static struct PyModuleDef  fastio_module = {
    PyModuleDef_HEAD_INIT, "pywsgi_embed._fastio",
    "The io calls of a module whose callbacks never block, GIL held.", -1,
    fastio_methods, NULL, NULL, NULL, NULL
};


int
pywsgi_gw_add_fastio(char *err, size_t errlen)
{
    PyObject  *m;
    int        rc;

    m = PyModule_Create(&fastio_module);
    rc = m ? PyDict_SetItemString(PyImport_GetModuleDict(),
                                  "pywsgi_embed._fastio", m) : -1;
    Py_XDECREF(m);

    if (rc != 0) {
        pywsgi_gw_exception_text("cannot create pywsgi_embed._fastio", err,
                                 errlen);
        return -1;
    }

    return 0;
}

