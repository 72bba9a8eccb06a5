/*
 * gateway_boot.c: booting CPython in the server's worker, inside the
 * gateway library.
 *
 * Python is started here before the first cffi call, so that we, not
 * cffi, choose the Python home or venv, leave the signal handlers to the
 * server and turn start-up failures into messages (a PyStatus, never an
 * exit() of the server).  cffi then finds Python initialised and only
 * attaches its side.
 *
 * pywsgi_embed/_build.py defines PYWSGI_PYTHON_EXECUTABLE: the interpreter
 * that built the library, the default when no Python home is configured.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pywsgi.h"
#include "gateway_internal.h"
#include "python_identity.h"

#ifndef PYWSGI_PYTHON_EXECUTABLE
#error "build with -DPYWSGI_PYTHON_EXECUTABLE=\"/path/to/python\""
#endif

#ifndef PYWSGI_CFFI_BACKEND
#error "build with -DPYWSGI_CFFI_BACKEND=\"/path/to/_cffi_backend.so\""
#endif



static int
is_file(const char *path)
{
    struct stat  st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
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
        if (pywsgi_identity_venv(home, path, err, errlen) != 0) {
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

    if (pywsgi_identity_prefix(home, err, errlen) != 0) {
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
void
pywsgi_gw_exception_text(const char *what, char *err, size_t errlen)
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

    /* the modules load <pkg>/modules/../_gateway.so: resolve the ".."
       (and symlinks) before stripping components */

    if (realpath(pywsgi_gateway_path(), site) == NULL) {
        return 0;
    }

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
        pywsgi_gw_exception_text("cannot extend sys.path", err, errlen);
        return -1;
    }

    return 0;
}


/*
 * cffi's C half, _cffi_backend, is an extension module of the very Python
 * the gateway was built with.  It is found through sys.path (the venv's
 * own, or the package's site-packages, see add_own_site); a checkout built
 * in place has no cffi beside the package, so then the file the build
 * used (PYWSGI_CFFI_BACKEND) is loaded by its path, without putting the
 * build's whole site-packages on the app's sys.path.
 */
static int
check_cffi(char *err, size_t errlen)
{
    PyObject  *m, *globals, *rc;

    m = PyImport_ImportModule("_cffi_backend");

    if (m != NULL) {
        Py_DECREF(m);
        return 0;
    }

    PyErr_Clear();

    globals = PyDict_New();
    rc = NULL;

    if (globals != NULL
        && PyDict_SetItemString(globals, "__builtins__",
                                PyEval_GetBuiltins()) == 0)
    {
        rc = PyRun_String(
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location(\n"
            "    '_cffi_backend', " "'" PYWSGI_CFFI_BACKEND "')\n"
            "m = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(m)\n"
            "sys.modules['_cffi_backend'] = m\n",
            Py_file_input, globals, globals);
    }

    Py_XDECREF(globals);

    if (rc == NULL) {
        pywsgi_gw_exception_text("the configured Python cannot import "
                                 "cffi, nor load the one pywsgi-embed was "
                                 "built with (" PYWSGI_CFFI_BACKEND "): "
                                 "install cffi in it", err, errlen);
        return -1;
    }

    Py_DECREF(rc);
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

    if (pywsgi_identity_libpython(err, errlen) != 0) {
        return -1;
    }

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
        snprintf(err, errlen, "%s%s%s", st.func ? st.func : "",
                 st.func ? ": " : "",
                 st.err_msg ? st.err_msg : "(no message)");
        return -1;
    }

    rc = add_own_site(err, errlen);
    if (rc == 0) {
        rc = check_cffi(err, errlen);
    }
    if (rc == 0) {
        rc = pywsgi_gw_add_fastio(err, errlen);
    }

    /* requests take the GIL through cffi, from any thread */
    PyEval_SaveThread();

    return rc;
}


/* boot(), its message marked as Python's own failure, not the app's */
int
pywsgi_gw_boot(const pywsgi_config *cfg, char *err, size_t errlen)
{
    size_t  n;

    n = sizeof(PYWSGI_PYTHON_FAILED) - 1;

    if (errlen <= n + 1) {
        return boot(cfg, err, errlen);
    }

    if (boot(cfg, err + n, errlen - n) == 0) {
        return 0;
    }

    memcpy(err, PYWSGI_PYTHON_FAILED, n);
    return -1;
}
