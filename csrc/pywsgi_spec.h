/*
 * pywsgi_spec.h: the syntax of an app spec, for the server modules at
 * config time (pywsgi_embed/loader.py's parse_spec is the Python twin, and
 * tests/unit/test_spec.py holds the one table of cases both must pass):
 *
 *     path/to/file.py              the callable `application` in that file
 *     path/to/file.py:name         another callable
 *     package.module:name          an importable module
 *     package.module:factory()     a factory called without arguments
 *
 * The last ':' splits the target from the name, unless what follows it
 * holds a '/' or ends in ".py" (then it is all a path); a target holding a
 * '/' or ending in ".py" is a file.  A module resolves a relative file
 * against its config (docs/ARCHITECTURE.md, "App specs").
 *
 * tests/unit reads the marked section below with cffi, as it stands.
 */

#ifndef PYWSGI_SPEC_H
#define PYWSGI_SPEC_H

#include <stddef.h>

/* ---- BEGIN CFFI SPEC ---- */

typedef struct {
    const char  *target;     /* the file path or the module, in the spec */
    size_t       target_len;
    const char  *rest;       /* what follows the target: ":name", ":f()" */
    size_t       rest_len;   /* or "" (then the name is "application") */
    const char  *name;       /* the callable's name, without "()" */
    size_t       name_len;
    int          call;       /* the name is a factory: name() */
    int          is_file;    /* the target is a file, not a module */
} pywsgi_spec;

/* Parse the len bytes of spec (surrounding blanks ignored) into out, which
   points into spec.  NULL, or why spec is no app spec. */
const char *pywsgi_spec_parse(const char *spec, size_t len,
    pywsgi_spec *out);

/* ---- END CFFI SPEC ---- */

#endif /* PYWSGI_SPEC_H */
