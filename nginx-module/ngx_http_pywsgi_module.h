
/*
 * ngx_http_pywsgi_module: WSGI apps inside nginx, in-process.
 *
 * Files:
 *   ngx_http_pywsgi_module.c   directives, configuration, worker start/exit
 *   ngx_http_pywsgi_check.c    loading the apps in a child at config time
 *   ngx_http_pywsgi_request.c  the content handler, the record, the body
 *   ngx_http_pywsgi_response.c a request's life on the loop: its steps,
 *                              their output into nginx chunk by chunk,
 *                              waiting for it to drain, the one way out
 *   ngx_http_pywsgi_step.c     one step, on a pool thread (threads mode)
 *                              or the loop (inline): the gateway call, the
 *                              io callbacks that copy what the app made
 *   ngx_http_pywsgi_output.c   status, headers and buffers into nginx
 *   ngx_http_pywsgi_dispatch.c threads mode: the steps of requests onto
 *                              the pool, as many threads as the app can use
 */


#ifndef _NGX_HTTP_PYWSGI_MODULE_H_INCLUDED_
#define _NGX_HTTP_PYWSGI_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#if !(NGX_THREADS)
#error "ngx_http_pywsgi_module needs nginx built --with-threads"
#endif

#include <ngx_thread_pool.h>

#include "pywsgi.h"
#include "pywsgi_env.h"
#include "pywsgi_loader.h"
#include "pywsgi_process.h"
#include "pywsgi_spec.h"


#define NGX_HTTP_PYWSGI_INLINE   0
#define NGX_HTTP_PYWSGI_THREADS  1

#define NGX_HTTP_PYWSGI_ERRLEN   8192


typedef struct ngx_http_pywsgi_seg_s    ngx_http_pywsgi_seg_t;
typedef struct ngx_http_pywsgi_queue_s  ngx_http_pywsgi_queue_t;
typedef struct ngx_http_pywsgi_ctx_s    ngx_http_pywsgi_ctx_t;


typedef struct {
    ngx_str_t                    spec;
    ngx_uint_t                   mode;
    int                          id;        /* the gateway's, per worker */
    u_char                      *file;      /* where pywsgi_app was */
    ngx_uint_t                   line;
} ngx_http_pywsgi_app_t;


typedef struct {
    ngx_str_t                    key;
    ngx_http_complex_value_t     value;
    ngx_uint_t                   if_not_empty;
} ngx_http_pywsgi_param_t;


typedef struct {
    ngx_str_t                    python_home;
    ngx_array_t                 *python_path;   /* of ngx_str_t */
    ngx_str_t                    gateway;
    ngx_flag_t                   check;
    ngx_array_t                 *process_env;   /* of ngx_keyval_t */
    ngx_str_t                    process_env_blob; /* "k\0v\0" pairs */
    ngx_str_t                    chdir;
    ngx_array_t                  apps;          /* ngx_http_pywsgi_app_t */
    ngx_array_t                  queues;        /* of queue pointers, one
                                                   per thread pool */
} ngx_http_pywsgi_main_conf_t;


typedef struct {
    ngx_str_t                    spec;          /* pywsgi_app, not inherited */
    u_char                      *file;
    ngx_uint_t                   line;
    ngx_int_t                    app;           /* index in apps, or -1 */
    ngx_str_t                    mount;         /* becomes SCRIPT_NAME */
    ngx_uint_t                   mode;
    ngx_str_t                    pool_name;
    ngx_http_pywsgi_queue_t     *queue;         /* that of pool_name */
    ngx_array_t                 *params;        /* ngx_http_pywsgi_param_t */
} ngx_http_pywsgi_loc_conf_t;


/* threads mode: output made on a pool thread, for the loop to send */
struct ngx_http_pywsgi_seg_s {
    ngx_http_pywsgi_seg_t       *next;
    ngx_fd_t                     fd;        /* a dup, or NGX_INVALID_FILE */
    off_t                        offset;
    size_t                       len;
    u_char                       data[1];   /* memory segments */
};


typedef struct {
    int                          status;
    u_char                      *status_line;
    size_t                       status_len;
    u_char                      *headers;
    size_t                       headers_len;
    size_t                       nheaders;
} ngx_http_pywsgi_head_t;


/*
 * Where a request is.  START, NEXT and CLOSE: a step of that kind is
 * queued or runs (threads mode: on a pool thread, the loop then keeps off
 * the fields marked "the step's" below; inline mode: on the loop, at once
 * or from a posted event).  SEND: the loop waits for the client to take
 * the output of the last step before it runs the next.
 */
typedef enum {
    NGX_HTTP_PYWSGI_START = 0,      /* pywsgi_start(): the app up to its
                                       first body chunk */
    NGX_HTTP_PYWSGI_NEXT,           /* pywsgi_next(): one more chunk */
    NGX_HTTP_PYWSGI_SEND,           /* the output drains to the client */
    NGX_HTTP_PYWSGI_CLOSE           /* pywsgi_cancel(): the request ended
                                       while the app was mid-response */
} ngx_http_pywsgi_state_e;


/*
 * One request.  Allocated with malloc, not from r->pool: in threads mode a
 * step may still run after nginx finalized the request; the pool cleanup
 * then clears ctx->request and the step's completion closes the app.
 */
struct ngx_http_pywsgi_ctx_s {
    /* the loop's */
    ngx_http_pywsgi_state_e      state;
    ngx_uint_t                   mode;          /* NGX_HTTP_PYWSGI_INLINE
                                                   or _THREADS */
    ngx_http_request_t          *request;       /* NULL once it is gone */
    ngx_pool_cleanup_t          *cleanup;       /* clears request */
    ngx_http_pywsgi_queue_t     *queue;
    ngx_http_pywsgi_ctx_t       *next_step;     /* the dispatcher's: in a
                                                   queue, or done */
    ngx_event_t                  event;         /* threads mode: a timer
                                                   that keeps a quitting
                                                   worker alive while a step
                                                   runs; inline mode: posts
                                                   the next step */
    ngx_http_pywsgi_seg_t       *sent;          /* given to nginx */
    ngx_chain_t                 *free;
    ngx_chain_t                 *busy;

    /* the step's: written by a step, read by the loop once it is over */
    pywsgi_request               rec;
    ngx_chain_t                 *body;          /* read callback position */
    off_t                        body_pos;
    int                          rc;            /* of the last step */
    ngx_http_pywsgi_head_t      *head;
    ngx_http_pywsgi_seg_t       *out;
    ngx_http_pywsgi_seg_t      **out_last;
};


extern ngx_module_t    ngx_http_pywsgi_module;
extern pywsgi_gateway  ngx_http_pywsgi_gw;
extern pywsgi_io       ngx_http_pywsgi_io;


/* ngx_http_pywsgi_module.c */
ngx_int_t ngx_http_pywsgi_gateway_path(ngx_http_pywsgi_main_conf_t *pmcf,
    char *buf, size_t len);
void ngx_http_pywsgi_config(ngx_http_pywsgi_main_conf_t *pmcf,
    ngx_http_pywsgi_app_t *app, ngx_uint_t multiprocess, u_char *python_path,
    pywsgi_config *cfg);
u_char *ngx_http_pywsgi_python_path(ngx_pool_t *pool,
    ngx_http_pywsgi_main_conf_t *pmcf);

/* ngx_http_pywsgi_check.c */
ngx_int_t ngx_http_pywsgi_check_apps(ngx_conf_t *cf,
    ngx_http_pywsgi_main_conf_t *pmcf);

/* ngx_http_pywsgi_request.c */
ngx_int_t ngx_http_pywsgi_handler(ngx_http_request_t *r);
ssize_t ngx_http_pywsgi_read(void *handle, char *buf, size_t n);
void ngx_http_pywsgi_log(void *handle, int level, const char *msg, size_t n);

/* ngx_http_pywsgi_output.c */
ngx_int_t ngx_http_pywsgi_send_head(ngx_http_request_t *r,
    ngx_http_pywsgi_head_t *head);
ngx_chain_t *ngx_http_pywsgi_chain_memory(ngx_http_request_t *r,
    ngx_chain_t **free, u_char *data, size_t len);
ngx_chain_t *ngx_http_pywsgi_chain_file(ngx_http_request_t *r,
    ngx_chain_t **free, ngx_fd_t fd, off_t offset, size_t len);
ngx_int_t ngx_http_pywsgi_keep_fd(ngx_http_request_t *r, ngx_fd_t fd);
ngx_fd_t ngx_http_pywsgi_dup(ngx_log_t *log, int fd);

/* ngx_http_pywsgi_response.c */
void ngx_http_pywsgi_run(ngx_http_request_t *r, ngx_http_pywsgi_ctx_t *ctx);
void ngx_http_pywsgi_step_done(ngx_http_pywsgi_ctx_t *ctx);
void ngx_http_pywsgi_close(ngx_http_pywsgi_ctx_t *ctx);
void ngx_http_pywsgi_free(ngx_http_pywsgi_ctx_t *ctx);

/* ngx_http_pywsgi_step.c */
void ngx_http_pywsgi_step(ngx_http_pywsgi_ctx_t *ctx);
int ngx_http_pywsgi_step_head(ngx_http_pywsgi_ctx_t *ctx,
    ngx_http_pywsgi_head_t *head, const char *body, size_t len);
int ngx_http_pywsgi_step_write(ngx_http_pywsgi_ctx_t *ctx,
    const char *buf, size_t n);
int ngx_http_pywsgi_step_sendfile(ngx_http_pywsgi_ctx_t *ctx, int fd,
    int64_t offset, int64_t n);
void ngx_http_pywsgi_free_segments(void *data);

/* ngx_http_pywsgi_dispatch.c */
ngx_http_pywsgi_queue_t *ngx_http_pywsgi_queue_add(ngx_conf_t *cf,
    ngx_array_t *queues, ngx_thread_pool_t *pool);
ngx_int_t ngx_http_pywsgi_dispatch_init(ngx_cycle_t *cycle,
    ngx_array_t *queues);
void ngx_http_pywsgi_dispatch_exit(void);
ngx_int_t ngx_http_pywsgi_dispatch(ngx_http_pywsgi_queue_t *q,
    ngx_http_pywsgi_ctx_t *ctx);


#endif /* _NGX_HTTP_PYWSGI_MODULE_H_INCLUDED_ */
