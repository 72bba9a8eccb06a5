/*
 * gateway_respond.c: the app called from C, and its most common answer
 * (a status, headers it sent before, and a one-item list of bytes) sent
 * from C, without a Python frame of ours.
 *
 * The app gets a responder (pywsgi_embed._environ.Responder) as its
 * start_response.  The responder holds one state field:
 *
 *   CALLED   the app runs and has not called start_response yet;
 *   HEAD     start_response gave a status and headers that head_of()
 *            (pywsgi_embed/headers.py) accepted before, found in the memo
 *            of gateway_heads.c, or asked of Python (head_for());
 *   ADOPTED  a Python Response (pywsgi_embed/response.py adopt()) holds
 *            the response from here on, and every call of the responder
 *            is the Response's: write(), a second start_response, one with
 *            exc_info, arguments of the wrong kind, or anything that the
 *            app returned but the one-item list;
 *   ENDED    the request was answered here and its handle is the
 *            server's again: a call (of a start_response or write the app
 *            kept) is an error, never a write to that handle.
 *
 * When the app returns, a HEAD responder with a one-item list of
 * non-empty bytes, no Content-Length of the app's, a status with a body
 * and a method that is not HEAD is answered at once: the same test and
 * the same single start() call as response.start() makes.  Anything else
 * is adopted and resume() (response.py) goes on as start() would have.
 * So every PEP 3333 rule stays in Python; what C does is what a memo of
 * Python's answers allows.
 *
 * Requests answered here have no gateway frame for watchdog.report() to
 * find, so the responders in flight are linked in a list it reads
 * (running()).  Everything here runs holding the GIL.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <time.h>

#include "pywsgi.h"
#include "gateway.h"
#include "gateway_internal.h"


typedef enum {
    GW_CALLED = 0,
    GW_HEAD,
    GW_ADOPTED,
    GW_ENDED
} gw_respond_state;


typedef struct gw_responder_s  gw_responder;

struct gw_responder_s {
    PyObject_HEAD
    vectorcallfunc     vectorcall;
    gw_respond_state   state;
    void              *handle;
    PyObject          *environ;
    PyObject          *call;         /* the app, for its warnings */
    PyObject          *hit;          /* head_of()'s answer, from HEAD */
    PyObject          *resp;         /* the Response, in ADOPTED */

    /* from the hit: */
    long               left;         /* the app's Content-Length, or -1 */
    long               code;

    /* in flight, for watchdog.report() */
    gw_responder      *prev;
    gw_responder      *next;
    unsigned long      tid;
    double             began;
};


/* the Python side's functions (set_response()) */
static PyObject  *gw_adopt;          /* (handle, environ, call, hit) */
static PyObject  *gw_resume;         /* (resp, result, exc) */
static PyObject  *gw_head_for;       /* (call, handle, status, headers) */

static int        gw_fast;           /* set_response(..., fast) */
static int        gw_io_mode;        /* pywsgi_config.io_mode, when the
                                        start() may be called holding the
                                        GIL (pywsgi_embed._fastio) */

static gw_responder  *gw_flying;     /* the responders of running apps */

/* interned names, made by set_response() */
static PyObject  *gw_str_write;
static PyObject  *gw_str_start_response;
static PyObject  *gw_str_gone;
static PyObject  *gw_str_method;

static PyTypeObject  gw_responder_type;


/* ---- the Response taking over ------------------------------------------ */

/* the responder's Response, adopting it first if need be (borrowed) */
static PyObject *
adopted(gw_responder *rs)
{
    PyObject  *args[4], *resp;

    if (rs->state == GW_ADOPTED) {
        return rs->resp;
    }

    if (rs->state == GW_ENDED) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() or write() "
                        "called after the response ended");
        return NULL;
    }

    args[0] = PyLong_FromVoidPtr(rs->handle);
    if (args[0] == NULL) {
        return NULL;
    }

    args[1] = rs->environ;
    args[2] = rs->call;
    args[3] = rs->hit ? rs->hit : Py_None;

    resp = PyObject_Vectorcall(gw_adopt, args, 4, NULL);
    Py_DECREF(args[0]);

    if (resp == NULL) {
        return NULL;
    }

    rs->resp = resp;
    rs->state = GW_ADOPTED;

    return resp;
}


/* what resume() makes of what the app did (result, or exc): a code or
   the Response */
static PyObject *
resume(gw_responder *rs, PyObject *result, PyObject *exc)
{
    PyObject  *args[3], *resp;

    resp = adopted(rs);
    if (resp == NULL) {
        return NULL;
    }

    args[0] = resp;
    args[1] = result ? result : Py_None;
    args[2] = exc ? exc : Py_None;

    return PyObject_Vectorcall(gw_resume, args, 3, NULL);
}


/* ---- start_response and write ------------------------------------------ */

static PyObject *
responder_write(PyObject *self, PyObject *data)
{
    PyObject  *resp;

    resp = adopted((gw_responder *) self);
    if (resp == NULL) {
        return NULL;
    }

    return PyObject_CallMethodOneArg(resp, gw_str_write, data);
}


static PyMethodDef  responder_write_def = {
    "write", responder_write, METH_O,
    "write(data): the body's next bytes, before the iterable's (PEP 3333)"
};


/* the Response's start_response, with the app's arguments */
static PyObject *
delegate(gw_responder *rs, PyObject *const *args, size_t nargsf,
    PyObject *kwnames)
{
    PyObject  *resp, *method, *res;

    resp = adopted(rs);
    if (resp == NULL) {
        return NULL;
    }

    method = PyObject_GetAttr(resp, gw_str_start_response);
    if (method == NULL) {
        return NULL;
    }

    res = PyObject_Vectorcall(method, args, nargsf, kwnames);
    Py_DECREF(method);

    return res;
}


/* head_of()'s answer for a list the memo does not hold, kept there */
static PyObject *
head_asked(gw_responder *rs, PyObject *status, PyObject *headers,
    Py_hash_t hash)
{
    PyObject  *args[4], *hit;

    args[0] = rs->call;
    args[1] = PyLong_FromVoidPtr(rs->handle);
    args[2] = status;
    args[3] = headers;

    if (args[1] == NULL) {
        return NULL;
    }

    hit = PyObject_Vectorcall(gw_head_for, args, 4, NULL);
    Py_DECREF(args[1]);

    if (hit != NULL && pywsgi_gw_head_keep(status, headers, hash, hit) != 0)
    {
        Py_CLEAR(hit);
    }

    return hit;                     /* a new reference */
}


/* take hit, (head, count, length, code) from head_of() */
static int
take_head(gw_responder *rs, PyObject *hit)
{
    if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) != 4) {
        PyErr_SetString(PyExc_SystemError, "head_for() gave no head");
        return -1;
    }

    rs->left = PyLong_AsLong(PyTuple_GET_ITEM(hit, 2));
    rs->code = PyLong_AsLong(PyTuple_GET_ITEM(hit, 3));

    if (PyErr_Occurred()) {
        return -1;
    }

    Py_INCREF(hit);
    Py_XSETREF(rs->hit, hit);
    rs->state = GW_HEAD;

    return 0;
}


static PyObject *
responder_call(PyObject *self, PyObject *const *args, size_t nargsf,
    PyObject *kwnames)
{
    gw_responder  *rs;
    Py_ssize_t     nargs;
    Py_hash_t      hash;
    PyObject      *hit;
    int            rc;

    rs = (gw_responder *) self;
    nargs = PyVectorcall_NARGS(nargsf);

    /* the first call with (status, headers[, None]): the memo's case */
    if (rs->state != GW_CALLED || kwnames != NULL || nargs < 2 || nargs > 3
        || (nargs == 3 && args[2] != Py_None)
        || !PyList_CheckExact(args[1]))
    {
        return delegate(rs, args, nargsf, kwnames);
    }

    hit = pywsgi_gw_head_find(args[0], args[1], &hash);

    if (hit != NULL) {
        rc = take_head(rs, hit);

    } else {
        hit = head_asked(rs, args[0], args[1], hash);
        if (hit == NULL) {
            return NULL;             /* the app sees head_of()'s error */
        }

        rc = take_head(rs, hit);
        Py_DECREF(hit);
    }

    return rc == 0 ? PyCFunction_New(&responder_write_def, self) : NULL;
}


/* ---- the responder ----------------------------------------------------- */

static double
monotonic_now(void)
{
    struct timespec  ts;

    /* time.monotonic()'s clock, which watchdog.report() compares with */
    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec * 1e-9;
}


static gw_responder *
responder_new(void *handle, PyObject *environ, PyObject *call)
{
    gw_responder  *rs;

    rs = PyObject_GC_New(gw_responder, &gw_responder_type);
    if (rs == NULL) {
        return NULL;
    }

    rs->vectorcall = responder_call;
    rs->state = GW_CALLED;
    rs->handle = handle;
    Py_INCREF(environ);
    rs->environ = environ;
    Py_INCREF(call);
    rs->call = call;
    rs->hit = NULL;
    rs->resp = NULL;

    rs->tid = PyThread_get_thread_ident();
    rs->began = monotonic_now();
    rs->prev = NULL;
    rs->next = gw_flying;
    if (gw_flying != NULL) {
        gw_flying->prev = rs;
    }
    gw_flying = rs;

    PyObject_GC_Track(rs);

    return rs;
}


/* the app's call is over: out of the list of those in flight */
static void
responder_landed(gw_responder *rs)
{
    if (rs->prev != NULL) {
        rs->prev->next = rs->next;

    } else {
        gw_flying = rs->next;
    }

    if (rs->next != NULL) {
        rs->next->prev = rs->prev;
    }

    rs->prev = rs->next = NULL;
}


static int
responder_traverse(PyObject *self, visitproc visit, void *arg)
{
    gw_responder  *rs = (gw_responder *) self;

    Py_VISIT(rs->environ);
    Py_VISIT(rs->call);
    Py_VISIT(rs->hit);
    Py_VISIT(rs->resp);

    return 0;
}


static int
responder_clear(PyObject *self)
{
    gw_responder  *rs = (gw_responder *) self;

    Py_CLEAR(rs->environ);
    Py_CLEAR(rs->call);
    Py_CLEAR(rs->hit);
    Py_CLEAR(rs->resp);

    return 0;
}


static void
responder_dealloc(PyObject *self)
{
    PyObject_GC_UnTrack(self);
    (void) responder_clear(self);
    PyObject_GC_Del(self);
}


static PyTypeObject  gw_responder_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pywsgi_embed._environ.Responder",
    .tp_doc = "start_response(status, headers, exc_info=None) of a request "
              "(csrc/gateway_respond.c)",
    .tp_basicsize = sizeof(gw_responder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC
                | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(gw_responder, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = responder_traverse,
    .tp_clear = responder_clear,
    .tp_dealloc = responder_dealloc,
};


/* ---- the answer ---------------------------------------------------------- */

/* the one-item list of rs answered at once: a new reference to its body
   (the list may be shared with other threads), else NULL */
static PyObject *
whole_body(gw_responder *rs, PyObject *result)
{
    PyObject  *body, *method;

    if (rs->state != GW_HEAD || !PyList_CheckExact(result)
        || PyList_GET_SIZE(result) != 1 || rs->left >= 0
        || rs->code < 200 || rs->code == 204 || rs->code == 304)
    {
        return NULL;
    }

    body = PyList_GET_ITEM(result, 0);
    if (!PyBytes_CheckExact(body) || PyBytes_GET_SIZE(body) == 0) {
        return NULL;
    }

    method = PyDict_GetItemWithError(rs->environ, gw_str_method);
    if (method == NULL) {
        PyErr_Clear();              /* no method: start() sends it too */

    } else if (PyUnicode_CheckExact(method)
               && PyUnicode_CompareWithASCIIString(method, "HEAD") == 0)
    {
        return NULL;
    }

    Py_INCREF(body);
    return body;
}


/* status, headers and body in one start(): DONE, or what gone() says */
static PyObject *
send_whole(gw_responder *rs, PyObject *body)
{
    const char     *head;
    Py_ssize_t      head_len, n, count;
    PyObject       *resp;
    PyThreadState  *saved;
    int             rc, hold;

    head = PyBytes_AS_STRING(PyTuple_GET_ITEM(rs->hit, 0));
    head_len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(rs->hit, 0));
    count = PyLong_AsSsize_t(PyTuple_GET_ITEM(rs->hit, 1));
    n = PyBytes_GET_SIZE(body);

    /* the GIL is kept only around a callback the module says never
       blocks, as response.py's _start_small and _start do */
    hold = gw_io_mode == PYWSGI_IO_NONBLOCKING
           || (gw_io_mode == PYWSGI_IO_SMALL_LAST && n <= PYWSGI_SMALL_BODY);

    saved = hold ? NULL : PyEval_SaveThread();

    rc = pywsgi_gw_start((intptr_t) rs->handle, head, head_len, count,
                         PyBytes_AS_STRING(body), n,
                         PYWSGI_BODY_LAST | PYWSGI_GW_ADD_LENGTH);

    if (saved != NULL) {
        PyEval_RestoreThread(saved);
    }

    if (rc == 0) {
        return PyLong_FromLong(PYWSGI_DONE);
    }

    resp = adopted(rs);

    return resp ? PyObject_CallMethodNoArgs(resp, gw_str_gone) : NULL;
}


/* the exception the app raised, with its traceback, taken */
static PyObject *
raised_by_app(void)
{
    PyObject  *type, *value, *tb;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);

    if (tb != NULL && value != NULL) {
        (void) PyException_SetTraceback(value, tb);
    }

    Py_XDECREF(type);
    Py_XDECREF(tb);

    return value;
}


/*
 * The app of a called with environ for the request of handle, as
 * response.start() calls it: a new reference to a PYWSGI_* code (an int)
 * or to the Response that has more to send; NULL with a Python exception
 * when the gateway itself failed.
 */
PyObject *
pywsgi_gw_respond(const pywsgi_gw_app *a, PyObject *environ, void *handle)
{
    gw_responder  *rs;
    PyObject      *args[2], *result, *body, *exc, *out;

    rs = responder_new(handle, environ, a->call);
    if (rs == NULL) {
        return NULL;
    }

    args[0] = environ;
    args[1] = (PyObject *) rs;

    result = PyObject_Vectorcall(a->call, args, 2, NULL);

    if (result == NULL) {
        exc = raised_by_app();
        out = resume(rs, NULL, exc);
        Py_XDECREF(exc);

    } else {
        body = whole_body(rs, result);
        if (body != NULL) {
            out = send_whole(rs, body);
            Py_DECREF(body);

        } else {
            out = resume(rs, result, NULL);
        }

        Py_DECREF(result);
    }

    responder_landed(rs);
    if (rs->state != GW_ADOPTED) {
        rs->state = GW_ENDED;
    }
    Py_DECREF(rs);

    return out;
}


/* the request of a may be answered here: nothing to read, no timeout,
   no metrics (both need watchdog.py's frames) */
int
pywsgi_gw_respond_fast(const pywsgi_gw_app *a, const pywsgi_request *r)
{
    return gw_fast && a->call != NULL && r->content_length == 0
           && r->timeout_ms == 0;
}


/* ---- pywsgi_embed._environ's part --------------------------------------- */

static int
names_made(void)
{
    if (gw_str_write == NULL) {
        gw_str_write = PyUnicode_InternFromString("write");
        gw_str_start_response = PyUnicode_InternFromString("start_response");
        gw_str_gone = PyUnicode_InternFromString("gone");
        gw_str_method = PyUnicode_InternFromString("REQUEST_METHOD");
    }

    return gw_str_write && gw_str_start_response && gw_str_gone
           && gw_str_method ? 0 : -1;
}


/* set_response(adopt, resume, head_for, fast, io_mode) */
PyObject *
pywsgi_gw_set_response(PyObject *self, PyObject *const *args,
    Py_ssize_t nargs)
{
    int  k;

    if (nargs != 5 || !PyCallable_Check(args[0])
        || !PyCallable_Check(args[1]) || !PyCallable_Check(args[2]))
    {
        PyErr_SetString(PyExc_TypeError, "set_response() takes (adopt, "
                        "resume, head_for, fast: bool, io_mode: int)");
        return NULL;
    }

    if (PyType_Ready(&gw_responder_type) != 0 || names_made() != 0) {
        return NULL;
    }

    gw_fast = PyObject_IsTrue(args[3]);
    gw_io_mode = (int) PyLong_AsLong(args[4]);
    if (gw_fast < 0 || PyErr_Occurred()) {
        gw_fast = 0;
        return NULL;
    }

    for (k = 0; k < 3; k++) {
        Py_INCREF(args[k]);
    }

    Py_XSETREF(gw_adopt, args[0]);
    Py_XSETREF(gw_resume, args[1]);
    Py_XSETREF(gw_head_for, args[2]);

    Py_RETURN_NONE;
}


/* running(): (thread id, environ, began) of each app called here */
PyObject *
pywsgi_gw_running(PyObject *self, PyObject *unused)
{
    gw_responder  *rs;
    PyObject      *list, *item;

    list = PyList_New(0);

    for (rs = gw_flying; list != NULL && rs != NULL; rs = rs->next) {
        item = Py_BuildValue("(kOd)", rs->tid, rs->environ, rs->began);
        if (item == NULL || PyList_Append(list, item) != 0) {
            Py_CLEAR(list);
        }
        Py_XDECREF(item);
    }

    return list;
}
