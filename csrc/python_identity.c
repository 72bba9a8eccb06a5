/*
 * python_identity.c: the Python a worker gets is the one the gateway was
 * built for, or the worker refuses to start with both named.
 *
 * Three ways to get another Python, all seen on real machines:
 *   - the workers' user cannot read the build's libpython (a pyenv under
 *     a home folder of mode 700, workers as www-data): the dynamic loader
 *     silently takes another library of the same soname (Debian's own
 *     libpython3.11.so.1.0), and a different interpreter runs;
 *   - a venv made by another build of the same version (Debian's 3.11.2
 *     venv, a gateway built on pyenv's 3.11.7): the build's libpython
 *     reads the other build's standard library and dies deep inside it
 *     ("No module named 'math'" from datetime.py);
 *   - a Python home that is another installation's prefix.
 *
 * _build.py bakes in what the build saw: PYWSGI_PYTHON_VERSION
 * (sys.version, which names the build), PYWSGI_LIBPYTHON (the library
 * file linked) and PYWSGI_BASE_PREFIX (sys.base_prefix), all resolved.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE                 /* dladdr */
#endif

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python_identity.h"

#if !defined(PYWSGI_PYTHON_VERSION) || !defined(PYWSGI_LIBPYTHON)           \
    || !defined(PYWSGI_BASE_PREFIX)
#error "build with PYWSGI_PYTHON_VERSION, PYWSGI_LIBPYTHON, PYWSGI_BASE_PREFIX"
#endif


/* "user www-data (uid 33)" of this process */
static const char *
who(char *buf, size_t len)
{
    struct passwd  *pw;

    pw = getpwuid(geteuid());
    snprintf(buf, len, "user %s (uid %d)", pw ? pw->pw_name : "?",
             (int) geteuid());
    return buf;
}


/* ": <who> cannot read <file>: ..." when that is the reason, else "" */
static void
unreadable_hint(const char *file, char *hint, size_t len)
{
    char  user[128];

    hint[0] = '\0';

    if (access(file, R_OK) == 0) {
        return;
    }

    snprintf(hint, len, "; the %s cannot read %s (%s): make it and every "
             "directory above it readable by that user, or install the "
             "Python and pywsgi-embed where it can read them (not under a "
             "home folder of mode 700)", who(user, sizeof(user)), file,
             strerror(errno));
}


int
pywsgi_identity_libpython(char *err, size_t errlen)
{
    char         hint[1024];
    Dl_info      info;
    const char  *loaded;

    if (strcmp(Py_GetVersion(), PYWSGI_PYTHON_VERSION) == 0) {
        return 0;
    }

    loaded = "(unknown file)";
    if (dladdr((void *) Py_GetVersion, &info) != 0 && info.dli_fname) {
        loaded = info.dli_fname;
    }

    unreadable_hint(PYWSGI_LIBPYTHON, hint, sizeof(hint));

    snprintf(err, errlen, "the gateway was built for Python "
             PYWSGI_PYTHON_VERSION " (" PYWSGI_LIBPYTHON "), but this "
             "process loaded Python %s from %s%s", Py_GetVersion(), loaded,
             hint);
    return -1;
}


/* the value of "key = value" in line, or NULL */
static char *
cfg_value(char *line, const char *key)
{
    size_t  n, len;

    n = strlen(key);

    if (strncmp(line, key, n) != 0) {
        return NULL;
    }

    line += n;
    line += strspn(line, " \t");

    if (*line != '=') {
        return NULL;
    }

    line++;
    line += strspn(line, " \t");

    len = strcspn(line, "\r\n");
    line[len] = '\0';
    return line;
}


/* the parent of dir, resolved when it can be: <prefix>/bin -> <prefix> */
static void
parent_of(const char *dir, char *out, size_t len)
{
    char  *slash;

    if (realpath(dir, out) == NULL) {
        snprintf(out, len, "%s", dir);
    }

    slash = strrchr(out, '/');
    if (slash != NULL && slash != out) {
        *slash = '\0';
    }
}


int
pywsgi_identity_venv(const char *home, const char *cfg_path, char *err,
    size_t errlen)
{
    FILE  *f;
    char   line[PATH_MAX + 64], base[PATH_MAX], version[64], *v;

    f = fopen(cfg_path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", cfg_path,
                 strerror(errno));
        return -1;
    }

    base[0] = '\0';
    snprintf(version, sizeof(version), "unknown version");

    while (fgets(line, sizeof(line), f) != NULL) {
        if ((v = cfg_value(line, "home")) != NULL) {
            parent_of(v, base, sizeof(base));

        } else if ((v = cfg_value(line, "version")) != NULL
                   || (v = cfg_value(line, "version_info")) != NULL)
        {
            snprintf(version, sizeof(version), "%s", v);
        }
    }

    fclose(f);

    if (base[0] == '\0' || strcmp(base, PYWSGI_BASE_PREFIX) == 0) {
        return 0;
    }

    snprintf(err, errlen, "the venv %s was made by the Python in %s "
             "(Python %s, see %s), but this gateway was built for the "
             "Python in " PYWSGI_BASE_PREFIX " (Python %d.%d.%d): make the "
             "venv with " PYWSGI_BASE_PREFIX "/bin/python%d.%d -m venv, or "
             "install pywsgi-embed with the venv's own python (that builds "
             "a gateway for it)", home, base, version, cfg_path,
             PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION,
             PY_MAJOR_VERSION, PY_MINOR_VERSION);
    return -1;
}


int
pywsgi_identity_prefix(const char *home, char *err, size_t errlen)
{
    char  path[PATH_MAX];

    if (realpath(home, path) == NULL) {
        snprintf(path, sizeof(path), "%s", home);
    }

    if (strcmp(path, PYWSGI_BASE_PREFIX) == 0) {
        return 0;
    }

    snprintf(err, errlen, "the Python home %s is another Python "
             "installation than the one this gateway was built for ("
             PYWSGI_BASE_PREFIX ", Python %d.%d.%d): point the Python home "
             "at " PYWSGI_BASE_PREFIX " or at a venv made by its python, or "
             "install pywsgi-embed with %s's own python", home,
             PY_MAJOR_VERSION, PY_MINOR_VERSION, PY_MICRO_VERSION, home);
    return -1;
}
