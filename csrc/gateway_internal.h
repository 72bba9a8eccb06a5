/*
 * gateway_internal.h: what the C files of the gateway library share among
 * themselves (never seen by the server modules nor by cffi's cdef).
 *
 *   gateway_entry.c   the entry points of pywsgi.h, the library's state
 *   gateway_boot.c    booting CPython in the worker
 *   gateway_io.c      the io wrappers its Python side calls (gateway.h)
 *   gateway_fastio.c  pywsgi_embed._fastio, the same without a GIL release
 *   gateway_environ.c the environ built in C, the apps' table
 *   gateway_environ_last.c  the same made from the app's last environ
 *   gateway_serve.c   pywsgi_handle() and the steps: the GIL, the environ,
 *                     the call into the Python side
 *   gateway_respond.c the app called from C, its common answer sent
 *   gateway_heads.c   the memo of valid heads that answer uses
 *   gateway_gil.c     pywsgi_gil(), the GIL's held flag (Py_BUILD_CORE)
 */

#ifndef PYWSGI_GATEWAY_INTERNAL_H
#define PYWSGI_GATEWAY_INTERNAL_H

#include <stddef.h>
#include <string.h>
#include <sys/types.h>

#include "pywsgi.h"

/* start Python in this process for cfg; the GIL is released on return.
   -1 with the reason in err. */
int pywsgi_gw_boot(const pywsgi_config *cfg, char *err, size_t errlen);

/* "<what>: <type>: <message>" of the pending Python exception into err;
   the exception is cleared.  Call holding the GIL. */
void pywsgi_gw_exception_text(const char *what, char *err, size_t errlen);

/* register pywsgi_embed._fastio in sys.modules (holding the GIL) */
int pywsgi_gw_add_fastio(char *err, size_t errlen);

/* what pywsgi_embed._environ.register() made known of an app (all new
   references, held for the life of the worker) */
typedef struct _object  *pywsgi_gw_object;      /* a PyObject *, without
                                                   Python.h here */
typedef struct {
    pywsgi_gw_object  template;  /* environ's part common to requests */
    pywsgi_gw_object  app;       /* gateway.App */
    pywsgi_gw_object  serve;     /* gateway.serve_environ */
    pywsgi_gw_object  start;     /* gateway.start_environ */
    pywsgi_gw_object  call;      /* the app's callable (App.call) */
} pywsgi_gw_app;

/* the app of id, NULL when none was registered; holding the GIL */
const pywsgi_gw_app *pywsgi_gw_app_of(int id);

/* gateway.next_step and gateway.cancel_step (set_steps()), or NULL */
pywsgi_gw_object pywsgi_gw_next_step(void);
pywsgi_gw_object pywsgi_gw_cancel_step(void);

/* a new environ dict: template's copy with the pairs of the blob; NULL
   with a Python exception set; holding the GIL */
pywsgi_gw_object pywsgi_gw_environ_new(pywsgi_gw_object template,
    const char *blob, size_t len);

/* one key/value pair of a record's packed blob (pywsgi_env.h); the
   splitter is inline, as it runs for every pair of every request */
typedef struct {
    const char  *key;
    size_t       key_len;
    const char  *val;
    size_t       val_len;
} pywsgi_gw_pair;


/* the next key/value pair of a blob at *p, which stops before end (the
   blob's final NUL), *p moved past it: 1, or 0 when none is left (a key
   left without a value is dropped) */
static inline int
pywsgi_gw_next_pair(const char **p, const char *end, pywsgi_gw_pair *pair)
{
    const char  *q, *v;

    if (*p >= end) {
        return 0;
    }

    q = memchr(*p, '\0', end - *p);
    if (q == NULL) {
        return 0;
    }

    v = q + 1;
    q = memchr(v, '\0', end - v);
    if (q == NULL) {
        q = end;
    }

    pair->key = *p;
    pair->key_len = v - 1 - *p;
    pair->val = v;
    pair->val_len = q - v;

    *p = q + 1;

    return 1;
}

/* pair set in env as str (gateway_environ.c): 0 with new references to
   its key and value, -1 with a Python exception */
int pywsgi_gw_environ_put(pywsgi_gw_object env, const pywsgi_gw_pair *pair,
    pywsgi_gw_object *key, pywsgi_gw_object *val);

/* a new reference to the latin-1 str of the len bytes at p, from the
   cache of gateway_environ.c; NULL with a Python exception */
pywsgi_gw_object pywsgi_gw_str_of(const char *p, size_t len);

/* the same environ as pywsgi_gw_environ_new(), made from the last one of
   app when the keys are the same (gateway_environ_last.c) */
pywsgi_gw_object pywsgi_gw_environ_of(int app, pywsgi_gw_object template,
    const char *blob, size_t len);
void pywsgi_gw_environ_forget(int app);

/* the memo of valid heads (gateway_heads.c): head_of()'s answer for an
   exact str status and exact list of headers, or NULL and the hash that
   pywsgi_gw_head_keep() takes (-1: not the kind kept); holding the GIL */
pywsgi_gw_object pywsgi_gw_head_find(pywsgi_gw_object status,
    pywsgi_gw_object headers, ssize_t *hash);
int pywsgi_gw_head_keep(pywsgi_gw_object status, pywsgi_gw_object headers,
    ssize_t hash, pywsgi_gw_object hit);

/* the app called from C and its common answer sent from C
   (gateway_respond.c): whether request r of app a may take that path,
   and the path, which gives a new reference to a PYWSGI_* code (an int)
   or to the Response with more to send, NULL with a Python exception */
int pywsgi_gw_respond_fast(const pywsgi_gw_app *a, const pywsgi_request *r);
pywsgi_gw_object pywsgi_gw_respond(const pywsgi_gw_app *a,
    pywsgi_gw_object environ, void *handle);

/* _environ.set_response() and _environ.running() */
pywsgi_gw_object pywsgi_gw_set_response(pywsgi_gw_object self,
    pywsgi_gw_object const *args, ssize_t nargs);
pywsgi_gw_object pywsgi_gw_running(pywsgi_gw_object self,
    pywsgi_gw_object unused);

/* the request entry points could not take the request in C (no app
   registered for it, an empty record, no memory): pywsgi_py_serve()
   takes it and says what is wrong */
#define PYWSGI_GW_FALLBACK  (-1)

#endif /* PYWSGI_GATEWAY_INTERNAL_H */
