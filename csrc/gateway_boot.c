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
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "pywsgi.h"
#include "gateway_internal.h"

#ifndef PYWSGI_PYTHON_EXECUTABLE
#error "build with -DPYWSGI_PYTHON_EXECUTABLE=\"/path/to/python\""
#endif


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
        pywsgi_gw_exception_text("cannot extend sys.path", err, errlen);
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
        pywsgi_gw_exception_text("the configured Python cannot import "
                                 "cffi (install cffi in it)", err, errlen);
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


int
pywsgi_gw_boot(const pywsgi_config *cfg, char *err, size_t errlen)
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
        rc = pywsgi_gw_add_fastio(err, errlen);
    }

    /* requests take the GIL through cffi, from any thread */
    PyEval_SaveThread();

    return rc;
}
