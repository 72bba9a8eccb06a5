/*
 * gateway_serve.c: the way of a request into the Python side, for
 * pywsgi_handle() (Apache) and the steps, pywsgi_start(), pywsgi_next()
 * and pywsgi_cancel() (nginx).
 *
 * Each takes the GIL itself and calls the functions that
 * pywsgi_embed/gateway.py registered (gateway_environ.c) through the C
 * API, with the environ already built in C: cffi's generic entry for an
 * extern "Python" function (its argument conversions, its own GIL dance,
 * and in step mode a cffi handle per response kept in a dict) is left to
 * what this path does not take, whose Python side then says what is wrong
 * with the request.
 *
 * In step mode the record's state is the response object gateway.
 * start_environ returned (a strong reference): pywsgi_next() hands it to
 * gateway.next_step until the response ends, pywsgi_cancel() to
 * gateway.cancel_step; either way the reference is dropped and the state
 * is NULL again.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "pywsgi.h"
#include "gateway.h"
#include "gateway_internal.h"


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


/* what cffi does for an extern "Python" function that raised: the
   traceback to stderr (the server log), the error value */
static int
raised(PyObject *fn)
{
    PyErr_WriteUnraisable(fn);
    return PYWSGI_ABORT;
}


/* the PYWSGI_* code that a Python function returned (res, a new
   reference, taken) */
static int
code_of(PyObject *res, PyObject *fn)
{
    long  rc;

    rc = PyLong_AsLong(res);
    Py_DECREF(res);

    if (rc == -1 && PyErr_Occurred()) {
        return raised(fn);
    }

    return (int) rc;
}


/*
 * The call of r's app: from C (gateway_respond.c) when the request may
 * take that path, else through its entry (serve or start): what it
 * returned (a PYWSGI_* code, or in step mode the Response with more to
 * send), or NULL with *rc: PYWSGI_GW_FALLBACK when the call could not be
 * made here, PYWSGI_ABORT when it raised.
 */
static PyObject *
call_app(pywsgi_request *r, int start, int *rc)
{
    const pywsgi_gw_app  *a;
    PyObject             *args[5], *env, *fn, *res;

    a = pywsgi_gw_app_of(r->app);

    if (a == NULL || r->env_len < 2) {
        *rc = PYWSGI_GW_FALLBACK;
        return NULL;
    }

    env = pywsgi_gw_environ_of(r->app, a->template, r->env, r->env_len);
    if (env == NULL) {
        PyErr_Clear();
        *rc = PYWSGI_GW_FALLBACK;             /* Python reports it */
        return NULL;
    }

    fn = start ? a->start : a->serve;

    if (pywsgi_gw_respond_fast(a, r)) {
        res = pywsgi_gw_respond(a, env, r->handle);
        Py_DECREF(env);

        if (res == NULL) {
            *rc = raised(fn);
        }

        return res;
    }

    args[0] = a->app;
    args[1] = env;
    args[2] = PyLong_FromLongLong(r->content_length);
    args[3] = PyLong_FromVoidPtr(r->handle);
    args[4] = PyLong_FromUnsignedLong(r->timeout_ms);

    res = (args[2] && args[3] && args[4])
          ? PyObject_Vectorcall(fn, args, 5, NULL) : NULL;

    Py_DECREF(env);
    Py_XDECREF(args[2]);
    Py_XDECREF(args[3]);
    Py_XDECREF(args[4]);

    if (res == NULL) {
        *rc = raised(fn);
    }

    return res;
}


/* the rest of a response that the first step did not finish, to its end
   (resp, a new reference, taken) */
static int
run_steps(PyObject *resp)
{
    PyObject  *fn, *res;
    int        rc;

    fn = pywsgi_gw_next_step();

    do {
        res = PyObject_Vectorcall(fn, &resp, 1, NULL);
        rc = res ? code_of(res, fn) : raised(fn);
    } while (rc == PYWSGI_MORE);

    Py_DECREF(resp);

    return rc;
}


static int
serve_locked(pywsgi_request *r)
{
    PyObject  *res;
    int        rc;

    res = call_app(r, 0, &rc);
    if (res == NULL) {
        return rc;
    }

    if (!PyLong_CheckExact(res)) {
        return run_steps(res);             /* gateway_respond.c's */
    }

    return code_of(res, pywsgi_gw_app_of(r->app)->serve);
}


/* a response start_environ did not finish is the record's state */
static int
start_locked(pywsgi_request *r)
{
    PyObject  *res;
    int        rc;

    res = call_app(r, 1, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PyLong_CheckExact(res)) {
        return code_of(res, pywsgi_gw_app_of(r->app)->start);
    }

    r->state = res;

    return PYWSGI_MORE;
}


/* what the C path could not take, through cffi's entry, without the GIL
   (it takes it itself): the Python side reports why and answers FAIL
   before any app code runs */
static int
fallback(pywsgi_request *r)
{
    return pywsgi_py_serve(r->app, r->env, r->env_len, r->content_length,
                           (intptr_t) r->handle, r->timeout_ms);
}


int
pywsgi_gw_serve(pywsgi_request *r)
{
    PyGILState_STATE  st;
    int               rc;

    st = gil_ensure();
    rc = serve_locked(r);
    PyGILState_Release(st);

    return rc == PYWSGI_GW_FALLBACK ? fallback(r) : rc;
}


int
pywsgi_gw_step_start(pywsgi_request *r)
{
    PyGILState_STATE  st;
    int               rc;

    r->state = NULL;

    st = gil_ensure();
    rc = start_locked(r);
    PyGILState_Release(st);

    return rc == PYWSGI_GW_FALLBACK ? fallback(r) : rc;
}


/* the response of r ended: drop it (holding the GIL) */
static void
release_state(pywsgi_request *r)
{
    PyObject  *resp;

    resp = r->state;
    r->state = NULL;
    Py_DECREF(resp);
}


int
pywsgi_gw_step_next(pywsgi_request *r)
{
    PyGILState_STATE   st;
    PyObject          *fn, *resp, *res;
    int                rc;

    if (r->state == NULL) {
        return PYWSGI_FAIL;
    }

    st = gil_ensure();

    fn = pywsgi_gw_next_step();
    resp = r->state;

    res = PyObject_Vectorcall(fn, &resp, 1, NULL);
    rc = res ? code_of(res, fn) : raised(fn);

    if (rc != PYWSGI_MORE) {
        release_state(r);
    }

    PyGILState_Release(st);

    return rc;
}


void
pywsgi_gw_step_cancel(pywsgi_request *r)
{
    PyGILState_STATE   st;
    PyObject          *fn, *resp, *res;

    if (r->state == NULL) {
        return;
    }

    st = gil_ensure();

    fn = pywsgi_gw_cancel_step();
    resp = r->state;

    res = PyObject_Vectorcall(fn, &resp, 1, NULL);
    if (res == NULL) {
        (void) raised(fn);

    } else {
        Py_DECREF(res);
    }

    release_state(r);

    PyGILState_Release(st);
}
