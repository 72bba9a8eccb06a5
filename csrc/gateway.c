/*
 * gateway.c: the C half of the gateway library.
 *
 * It boots CPython in the calling process before the first cffi call, so
 * that we, not cffi, choose the Python home or venv, leave the signal
 * handlers to the server and turn start-up failures into messages (a
 * PyStatus, never an exit() of the server).  cffi then finds Python
 * initialised and only attaches its side.  The entry points of pywsgi.h
 * are thin wrappers over the Python side (pywsgi_py_*) that fail fast and
 * quietly once start-up has failed; cffi would print a line per call.
 *
 * Compiled into the cffi-built library by pywsgi_embed/_build.py, which
 * defines PYWSGI_PYTHON_EXECUTABLE: the interpreter that built it, the
 * default when no Python home is configured.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pywsgi.h"
#include "gateway.h"

#ifndef PYWSGI_PYTHON_EXECUTABLE
#error "build with -DPYWSGI_PYTHON_EXECUTABLE=\"/path/to/python\""
#endif


enum {
    GW_COLD = 0,     /* Python not started in this process */
    GW_READY,        /* started, requests may run */
    GW_BROKEN,       /* start-up failed: every call fails at once */
    GW_DONE          /* pywsgi_fini() ran */
};

static int add_fastio(char *err, size_t errlen);

static volatile int     gw_state = GW_COLD;
static const pywsgi_io *gw_io;
static pid_t            gw_pid;
static char             gw_boot_error[1024];
static pthread_mutex_t  gw_init_lock = PTHREAD_MUTEX_INITIALIZER;


unsigned int
pywsgi_abi_version(void)
{
    return PYWSGI_ABI_VERSION;
}


const char *
pywsgi_gateway_path(void)
{
    Dl_info  info;

    if (dladdr((void *) pywsgi_abi_version, &info) == 0
        || info.dli_fname == NULL)
    {
        return "";
    }

    return info.dli_fname;
}


static int
is_file(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}


/*
 * A venv's pyvenv.cfg names the Python it was made with ("version = 3.11.7"
 * from venv, "version_info = 3.11.7.final.0" from virtualenv).  Booting
 * libpython 3.11 on a 3.12 venv ends in "No module named 'encodings'", so
 * say what is wrong before trying.
 */
static int
check_venv_version(const char *cfg_path, char *err, size_t errlen)
{
    FILE  *f;
    char   line[256], want[32];
    int    major, minor, ok;

    f = fopen(cfg_path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", cfg_path,
                 strerror(errno));
        return -1;
    }

    ok = 1;

    while (fgets(line, sizeof(line), f) != NULL) {
        if ((sscanf(line, "version = %d.%d", &major, &minor) == 2
             || sscanf(line, "version_info = %d.%d", &major, &minor) == 2)
            && (major != PY_MAJOR_VERSION || minor != PY_MINOR_VERSION))
        {
            ok = 0;
            break;
        }
    }

    fclose(f);

    if (!ok) {
        snprintf(want, sizeof(want), "%d.%d", PY_MAJOR_VERSION,
                 PY_MINOR_VERSION);
        snprintf(err, errlen, "the venv of %s is Python %d.%d, but this "
                 "gateway was built for Python %s: install pywsgi-embed "
                 "with that venv's python (it builds a matching module), or "
                 "point the Python home at a %s venv", cfg_path, major,
                 minor, want, want);
        return -1;
    }

    return 0;
}


/*
 * Point PyConfig at the configured Python: a venv through its python
 * executable, so that getpath reads pyvenv.cfg as for a real run; an
 * installation prefix through PyConfig.home.
 */
static int
set_home(PyConfig *pc, const char *home, char *err, size_t errlen)
{
    char       path[PATH_MAX];
    PyStatus   st;

    if (home == NULL || home[0] == '\0') {
        st = PyConfig_SetBytesString(pc, &pc->executable,
                                     PYWSGI_PYTHON_EXECUTABLE);
        goto done;
    }

    snprintf(path, sizeof(path), "%s/pyvenv.cfg", home);

    if (is_file(path)) {
        if (check_venv_version(path, err, errlen) != 0) {
            return -1;
        }

        snprintf(path, sizeof(path), "%s/bin/python%d.%d", home,
                 PY_MAJOR_VERSION, PY_MINOR_VERSION);
        if (!is_file(path)) {
            snprintf(path, sizeof(path), "%s/bin/python3", home);
        }

        st = PyConfig_SetBytesString(pc, &pc->executable, path);
        goto done;
    }

    snprintf(path, sizeof(path), "%s/lib/python%d.%d/os.py", home,
             PY_MAJOR_VERSION, PY_MINOR_VERSION);

    if (!is_file(path)) {
        snprintf(err, errlen, "the Python home %s is neither a venv (no "
                 "pyvenv.cfg) nor a Python %d.%d installation (no %s)", home,
                 PY_MAJOR_VERSION, PY_MINOR_VERSION, path);
        return -1;
    }

    st = PyConfig_SetBytesString(pc, &pc->home, home);

done:

    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "Python home %s: %s", home ? home : "(default)",
                 st.err_msg ? st.err_msg : "invalid");
        return -1;
    }

    return 0;
}


/* "<type>: <message>" of the pending Python exception, which is cleared */
static void
exception_text(const char *what, char *err, size_t errlen)
{
    PyObject    *type, *value, *tb, *s;
    const char  *msg;

    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);

    s = value ? PyObject_Str(value) : NULL;
    msg = s ? PyUnicode_AsUTF8(s) : NULL;

    snprintf(err, errlen, "%s: %s: %s", what,
             type ? ((PyTypeObject *) type)->tp_name : "error",
             msg ? msg : "(no message)");

    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
}


/*
 * The directory holding the pywsgi_embed package this library belongs to
 * goes at the end of sys.path: the venv's own packages win, but cffi's
 * _cffi_backend is found even in a venv that lacks it.
 */
static int
add_own_site(char *err, size_t errlen)
{
    char       site[PATH_MAX];
    char      *slash;
    PyObject  *path, *dir;
    int        i, rc;

    snprintf(site, sizeof(site), "%s", pywsgi_gateway_path());

    for (i = 0; i < 2; i++) {          /* <site>/pywsgi_embed/_gateway.so */
        slash = strrchr(site, '/');
        if (slash == NULL) {
            return 0;
        }
        *slash = '\0';
    }

    path = PySys_GetObject("path");    /* borrowed */
    dir = PyUnicode_DecodeFSDefault(site);

    rc = (path && dir) ? PyList_Append(path, dir) : -1;
    Py_XDECREF(dir);

    if (rc != 0) {
        exception_text("cannot extend sys.path", err, errlen);
        return -1;
    }

    return 0;
}


static int
check_cffi(char *err, size_t errlen)
{
    PyObject  *m;

    m = PyImport_ImportModule("_cffi_backend");

    if (m == NULL) {
        exception_text("the configured Python cannot import cffi (install "
                       "cffi in it)", err, errlen);
        return -1;
    }

    Py_DECREF(m);
    return 0;
}


/*
 * The worker's environment variables of the configuration, set before
 * Python starts: os.environ is built from the C environment at start-up,
 * and PYTHON* variables (PYTHONHASHSEED, PYTHONWARNINGS, ...) and TZ take
 * effect as they would for a process started with them.  The modules
 * checked the names at config time (pywsgi_process.h); setenv() checks
 * again.
 */
static int
set_process_env(const pywsgi_config *cfg, char *err, size_t errlen)
{
    const char  *p, *end, *name, *value;

    if (cfg->process_env == NULL) {
        return 0;
    }

    p = cfg->process_env;
    end = p + cfg->process_env_len;

    while (p < end) {
        name = p;
        value = memchr(name, '\0', end - name);

        if (value == NULL || ++value >= end
            || memchr(value, '\0', end - value) == NULL)
        {
            snprintf(err, errlen, "the module's process_env is not "
                     "\"NAME\\0VALUE\\0\" pairs");
            return -1;
        }

        if (setenv(name, value, 1) != 0) {
            snprintf(err, errlen, "cannot set the environment variable "
                     "\"%s\": %s", name, strerror(errno));
            return -1;
        }

        p = value + strlen(value) + 1;
    }

    return 0;
}


static int
boot(const pywsgi_config *cfg, char *err, size_t errlen)
{
    PyConfig   pc;
    PyStatus   st;
    int        rc;

    if (set_process_env(cfg, err, errlen) != 0) {
        return -1;
    }

    PyConfig_InitPythonConfig(&pc);

    pc.install_signal_handlers = 0;   /* signals belong to the server */
    pc.parse_argv = 0;
    pc.user_site_directory = 0;       /* ~/.local of the server's user */
    pc.buffered_stdio = 0;

    if (set_home(&pc, cfg->python_home, err, errlen) != 0) {
        PyConfig_Clear(&pc);
        return -1;
    }

    st = Py_InitializeFromConfig(&pc);
    PyConfig_Clear(&pc);

    if (PyStatus_Exception(st)) {
        snprintf(err, errlen, "Python failed to start%s%s: %s",
                 st.func ? " in " : "", st.func ? st.func : "",
                 st.err_msg ? st.err_msg : "(no message)");
        return -1;
    }

    rc = add_own_site(err, errlen);
    if (rc == 0) {
        rc = check_cffi(err, errlen);
    }
    if (rc == 0) {
        rc = add_fastio(err, errlen);
    }

    /* requests take the GIL through cffi, from any thread */
    PyEval_SaveThread();

    return rc;
}


int
pywsgi_init(const pywsgi_config *cfg, char *err, size_t errlen)
{
    int  id;

    if (errlen) {
        err[0] = '\0';
    }

    if (cfg == NULL || cfg->abi_version != PYWSGI_ABI_VERSION) {
        snprintf(err, errlen, "the module speaks ABI version %u, the gateway "
                 "library %u: build both from the same pywsgi-embed",
                 cfg ? cfg->abi_version : 0, PYWSGI_ABI_VERSION);
        return -1;
    }

    pthread_mutex_lock(&gw_init_lock);

    if (gw_state == GW_READY && gw_pid != getpid()) {
        snprintf(err, errlen, "Python was started in process %d, which then "
                 "forked: start it in each worker after the fork",
                 (int) gw_pid);
        id = -1;
        goto done;
    }

    if (gw_state == GW_COLD) {
        gw_pid = getpid();

        if (boot(cfg, gw_boot_error, sizeof(gw_boot_error)) != 0) {
            gw_state = GW_BROKEN;

        } else {
            gw_state = GW_READY;
        }
    }

    if (gw_state != GW_READY) {
        snprintf(err, errlen, "%s", gw_boot_error[0] ? gw_boot_error
                 : "the gateway is stopped");
        id = -1;
        goto done;
    }

    /* cffi returns 0 when its own start-up code failed (it prints why on
       stderr), so the Python side answers id + 1 */

    id = pywsgi_py_load(cfg, err, errlen) - 1;

    if (id < 0 && errlen && err[0] == '\0') {
        snprintf(err, errlen, "the gateway's Python side failed to start: "
                 "the traceback went to stderr (the server's error log)");
    }

done:

    pthread_mutex_unlock(&gw_init_lock);
    return id;
}


int
pywsgi_handle(pywsgi_request *r)
{
    if (gw_state != GW_READY) {
        return PYWSGI_FAIL;
    }

    return pywsgi_py_serve(r->app, r->env, r->env_len, r->content_length,
                           (intptr_t) r->handle);
}


int
pywsgi_start(pywsgi_request *r)
{
    if (gw_state != GW_READY) {
        return PYWSGI_FAIL;
    }

    r->state = NULL;

    return pywsgi_py_step(r);
}


int
pywsgi_next(pywsgi_request *r)
{
    if (gw_state != GW_READY || r->state == NULL) {
        return PYWSGI_FAIL;
    }

    return pywsgi_py_step(r);
}


void
pywsgi_cancel(pywsgi_request *r)
{
    if (gw_state == GW_READY && r->state != NULL) {
        pywsgi_py_cancel(r);
    }
}


/* the io callbacks, for the Python side (see gateway.h) */

void
pywsgi_gw_set_io(const pywsgi_io *io)
{
    gw_io = io;
}


ssize_t
pywsgi_gw_read(intptr_t handle, char *buf, size_t n)
{
    if (gw_io == NULL) {             /* no app loaded in this process */
        return -1;
    }

    return gw_io->read((void *) handle, buf, n);
}


/* "Content-Length\0<n>\0" at p; its length */
static size_t
put_length(char *p, size_t n)
{
    static const char  name[] = "Content-Length";
    char               digits[24];
    size_t             len, i;

    memcpy(p, name, sizeof(name));          /* with its NUL */
    len = sizeof(name);

    i = sizeof(digits);
    do {
        digits[--i] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    memcpy(p + len, digits + i, sizeof(digits) - i);
    len += sizeof(digits) - i;
    p[len++] = '\0';

    return len;
}


int
pywsgi_gw_start(intptr_t handle, const char *head, size_t head_len,
    size_t nheaders, const char *body, size_t body_len, int flags)
{
    const char  *headers;
    char         stack[4096], *buf;
    size_t       status_len, headers_len;
    int          status, rc;

    if (gw_io == NULL) {
        return -1;
    }

    status_len = strlen(head);
    status = (head[0] - '0') * 100 + (head[1] - '0') * 10 + (head[2] - '0');
    headers = head + status_len + 1;
    headers_len = head_len - status_len - 1;

    if (!(flags & PYWSGI_GW_ADD_LENGTH)) {
        return gw_io->start((void *) handle, status, head, status_len,
                            headers, headers_len, nheaders, body, body_len,
                            flags);
    }

    /* the headers and a Content-Length, in one blob for the module */

    buf = stack;
    if (headers_len + 40 > sizeof(stack)) {
        buf = malloc(headers_len + 40);
        if (buf == NULL) {
            return -1;
        }
    }

    memcpy(buf, headers, headers_len);
    headers_len += put_length(buf + headers_len, body_len);

    rc = gw_io->start((void *) handle, status, head, status_len, buf,
                      headers_len,
                      nheaders + 1, body, body_len,
                      flags & ~PYWSGI_GW_ADD_LENGTH);

    if (buf != stack) {
        free(buf);
    }

    return rc;
}


int
pywsgi_gw_write(intptr_t handle, const char *buf, size_t n)
{
    if (gw_io == NULL) {
        return -1;
    }

    return gw_io->write((void *) handle, buf, n);
}


int
pywsgi_gw_sendfile(intptr_t handle, int fd, int64_t offset, int64_t n)
{
    if (gw_io == NULL) {
        return -1;
    }

    return gw_io->sendfile((void *) handle, fd, offset, n);
}


void
pywsgi_gw_log(intptr_t handle, int level, const char *msg, size_t n)
{
    if (gw_io != NULL) {
        gw_io->log((void *) handle, level, msg, n);
    }
}


/*
 * pywsgi_embed._fastio: pywsgi_gw_start/write/sendfile for a module whose
 * callbacks never block, called without releasing the GIL.  cffi releases
 * it around every C call; with many pool threads each release hands the
 * GIL to a waiting thread, a context switch in the middle of a request.
 * Same arguments as the cffi functions (the lengths are taken from the
 * bytes), so the Python side swaps one set for the other.
 */

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


static int
add_fastio(char *err, size_t errlen)
{
    PyObject  *m;
    int        rc;

    m = PyModule_Create(&fastio_module);
    rc = m ? PyDict_SetItemString(PyImport_GetModuleDict(),
                                  "pywsgi_embed._fastio", m) : -1;
    Py_XDECREF(m);

    if (rc != 0) {
        exception_text("cannot create pywsgi_embed._fastio", err, errlen);
        return -1;
    }

    return 0;
}


void
pywsgi_fini(void)
{
    if (gw_state == GW_READY && gw_pid == getpid()) {
        gw_state = GW_DONE;
        pywsgi_py_fini();
    }
}
