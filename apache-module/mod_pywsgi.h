/*
 * mod_pywsgi: WSGI apps inside Apache httpd, in-process, on the
 * pywsgi-embed gateway (csrc/pywsgi.h).
 *
 * Files:
 *   mod_pywsgi.c          the directives, their configuration, the hooks
 *   mod_pywsgi_child.c    each child: load the gateway, import the apps,
 *                         the worker-level log, exit
 *   mod_pywsgi_request.c  which requests are ours, the handler, the
 *                         environ record, the request body
 *   mod_pywsgi_output.c   status, headers and body into Apache's filters
 *   mod_pywsgi_retire.c   a child retires gracefully: recycling, the
 *                         reload file, any thread's request
 *   mod_pywsgi_check.c    every app loaded once at config time, in a
 *                         child, as the children's user (csrc/pywsgi_check.c)
 *
 * The module never includes Python.h: each child dlopen()s the gateway
 * library (RTLD_GLOBAL) and the handler thread calls it directly.  cffi
 * drops the GIL around every callback below, so Apache's I/O never holds
 * it; the callbacks do no Python work.
 */

#ifndef MOD_PYWSGI_H
#define MOD_PYWSGI_H

#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_tables.h"

#include "pywsgi.h"
#include "pywsgi_loader.h"
#include "pywsgi_process.h"
#include "pywsgi_spec.h"


/*
 * Every ap_log_*() call carries its own tag, APLOGNO(n), as httpd's
 * modules do, so that an "AHn:" of the error log names the one call that
 * wrote it.  Ours are 90000-90999, a range kept to this module: httpd's
 * own AH numbers are below 11000.  A new call takes the next number
 * above the highest in apache-module/; none repeats
 * (tests/apache/test_log_tags.py).
 */

#define PYWSGI_HANDLER    "pywsgi-app"
#define PYWSGI_ERRLEN     8192

#define PYWSGI_FLAG_UNSET  -1


/* a header's NUL-terminated name, of nlen bytes, is the literal lit in any
   case: its length first (most names tried are not), then the spelling
   apps and clients use, and only then ap_cstr_casecmp(), whose loop would
   otherwise run for every name tried on every request and response */
#define mod_pywsgi_header_is(name, nlen, lit)                                \
    ((nlen) == sizeof(lit) - 1                                               \
     && (memcmp(name, lit, sizeof(lit) - 1) == 0                             \
         || ap_cstr_casecmp(name, lit) == 0))


/* one PyWSGIApp: an app at a URL prefix */
typedef struct {
    const char   *prefix;       /* "/app", or "" for the root */
    apr_size_t    prefix_len;
    const char   *spec;         /* for the gateway: a file made absolute */
    const char   *where;        /* "file:line" of the directive */
    int           index;        /* in mod_pywsgi_globals.mounts */
} pywsgi_mount;


/* per server (main or <VirtualHost>); a virtual host inherits the main
   server's mounts after its own, and its environ entries after the main
   server's */
typedef struct {
    apr_array_header_t  *mounts;     /* of pywsgi_mount * */
    apr_array_header_t  *environ;    /* of apr_table_entry_t (PyWSGIEnv) */
} pywsgi_server_conf;


/* per directory (<Location> or server wide) */
typedef struct {
    int           pass_auth;    /* PyWSGIPassAuthorization */
    long          timeout_ms;   /* PyWSGITimeout, PYWSGI_FLAG_UNSET */
} pywsgi_dir_conf;


/* the settings of the whole server: one Python per process */
typedef struct {
    const char          *python_home;
    apr_array_header_t  *python_path;   /* of const char * */
    const char          *gateway;       /* NULL: next to the module */
    int                  run_as_root;
    apr_array_header_t  *mounts;        /* every pywsgi_mount *, by index */
    apr_array_header_t  *process_env;   /* of apr_table_entry_t
                                           (PyWSGIProcessEnv) */
    const char          *chdir;         /* PyWSGIChdir, absolute */
    apr_uint64_t         max_requests;  /* recycling, 0: no limit */
    apr_uint64_t         max_requests_jitter;
    apr_uint64_t         max_lifetime;  /* seconds */
    apr_uint64_t         max_rss;       /* bytes */
    int                  retire_timeout; /* seconds, 0: wait for ever */
    const char          *reload_file;
} mod_pywsgi_globals_t;


/* one request, the handle the gateway gives back to each callback */
typedef struct {
    request_rec         *r;
    apr_bucket_brigade  *bb;
    apr_off_t            declared;      /* the app's Content-Length, or -1 */
    unsigned             started:1;     /* the status and headers are set */
    unsigned             eos:1;         /* the end went to the filters */
} pywsgi_ctx;


extern module AP_MODULE_DECLARE_DATA  pywsgi_module;
extern mod_pywsgi_globals_t           mod_pywsgi_globals;
extern const pywsgi_io                mod_pywsgi_io_table;
extern pywsgi_gateway                 mod_pywsgi_gw;

/* mod_pywsgi_child.c */
void mod_pywsgi_child_init(apr_pool_t *p, server_rec *s);
int mod_pywsgi_app_id(const pywsgi_mount *mount);
void mod_pywsgi_request_begins(void);
void mod_pywsgi_request_ends(void);
void mod_pywsgi_log(void *handle, int level, const char *msg, size_t n);
int mod_pywsgi_keep_root(apr_pool_t *p, server_rec *s);
server_rec *mod_pywsgi_server(void);
const char *mod_pywsgi_gateway_path(char *buf, size_t len);
void mod_pywsgi_app_config(apr_pool_t *p, pywsgi_config *cfg);

/* mod_pywsgi_check.c */
int mod_pywsgi_check_config(apr_pool_t *pconf, apr_pool_t *plog,
    apr_pool_t *ptemp, server_rec *s);

/* mod_pywsgi_request.c */
int mod_pywsgi_translate(request_rec *r);
int mod_pywsgi_map_to_storage(request_rec *r);
int mod_pywsgi_type_checker(request_rec *r);
int mod_pywsgi_handler(request_rec *r);
ssize_t mod_pywsgi_read(void *handle, char *buf, size_t n);

/* mod_pywsgi_output.c */
int mod_pywsgi_start(void *handle, int status, const char *status_line,
    size_t status_len, const char *headers, size_t headers_len,
    size_t nheaders, const char *body, size_t body_len, int flags);
int mod_pywsgi_write(void *handle, const char *buf, size_t n);
int mod_pywsgi_sendfile(void *handle, int fd, int64_t offset, int64_t n);
int mod_pywsgi_finish(pywsgi_ctx *ctx, int rc);

/* mod_pywsgi_retire.c */
int mod_pywsgi_retire_setup(apr_pool_t *pconf, server_rec *s);
int mod_pywsgi_retire_monitor(apr_pool_t *p, server_rec *s);
void mod_pywsgi_retire(void *handle, const char *reason, size_t n);
int mod_pywsgi_retiring(void);

#endif /* MOD_PYWSGI_H */
