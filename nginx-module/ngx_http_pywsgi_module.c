
/*
 * ngx_http_pywsgi_module: directives, configuration, worker start and exit.
 *
 * The directives are documented in README.md ("nginx"), how the module
 * works in docs/ARCHITECTURE.md.
 *
 * Python starts in each worker process after the fork (init_process), never
 * in the master.  There is no preload-in-the-master: nginx forks workers
 * without telling its modules, so the CPython fork protocol
 * (PyOS_BeforeFork/AfterFork) cannot be followed, and a Python that ran a
 * thread before an unprotected fork can deadlock its children.
 */


#include "ngx_http_pywsgi_module.h"


static int ngx_http_pywsgi_start(void *handle, int status,
    const char *status_line, size_t status_len, const char *headers,
    size_t headers_len, size_t nheaders, const char *body, size_t body_len,
    int flags);
static int ngx_http_pywsgi_write(void *handle, const char *buf, size_t n);
static int ngx_http_pywsgi_sendfile(void *handle, int fd, int64_t offset,
    int64_t n);

static char *ngx_http_pywsgi_app(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pywsgi_param(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pywsgi_process_env(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_pywsgi_chdir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_pywsgi_pack_process_env(ngx_conf_t *cf,
    ngx_http_pywsgi_main_conf_t *pmcf);
static void *ngx_http_pywsgi_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_pywsgi_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_pywsgi_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_pywsgi_register(ngx_conf_t *cf,
    ngx_http_pywsgi_loc_conf_t *plcf);
static ngx_int_t ngx_http_pywsgi_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_pywsgi_init_process(ngx_cycle_t *cycle);
static void ngx_http_pywsgi_exit_process(ngx_cycle_t *cycle);


pywsgi_gateway  ngx_http_pywsgi_gw;

pywsgi_io  ngx_http_pywsgi_io = {
    ngx_http_pywsgi_read,
    ngx_http_pywsgi_start,
    ngx_http_pywsgi_write,
    ngx_http_pywsgi_sendfile,
    ngx_http_pywsgi_log
};

static ngx_uint_t  ngx_http_pywsgi_loaded;


static ngx_conf_enum_t  ngx_http_pywsgi_modes[] = {
    { ngx_string("inline"), NGX_HTTP_PYWSGI_INLINE },
    { ngx_string("threads"), NGX_HTTP_PYWSGI_THREADS },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_pywsgi_commands[] = {

    { ngx_string("pywsgi_app"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_pywsgi_app,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pywsgi_mode"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_loc_conf_t, mode),
      &ngx_http_pywsgi_modes },

    { ngx_string("pywsgi_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_loc_conf_t, pool_name),
      NULL },

    { ngx_string("pywsgi_param"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_pywsgi_param,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pywsgi_python_home"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_main_conf_t, python_home),
      NULL },

    { ngx_string("pywsgi_python_path"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_array_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_main_conf_t, python_path),
      NULL },

    { ngx_string("pywsgi_gateway"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_main_conf_t, gateway),
      NULL },

    { ngx_string("pywsgi_check"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_pywsgi_main_conf_t, check),
      NULL },

    { ngx_string("pywsgi_process_env"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_pywsgi_process_env,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("pywsgi_chdir"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_pywsgi_chdir,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_pywsgi_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_pywsgi_postconfiguration,     /* postconfiguration */

    ngx_http_pywsgi_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_pywsgi_create_loc_conf,       /* create location configuration */
    ngx_http_pywsgi_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_pywsgi_module = {
    NGX_MODULE_V1,
    &ngx_http_pywsgi_module_ctx,           /* module context */
    ngx_http_pywsgi_commands,              /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_pywsgi_init_process,          /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_pywsgi_exit_process,          /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the io callbacks of a step (ngx_http_pywsgi_step.c); read and log are
   ngx_http_pywsgi_request.c's */

static int
ngx_http_pywsgi_start(void *handle, int status, const char *status_line,
    size_t status_len, const char *headers, size_t headers_len,
    size_t nheaders, const char *body, size_t body_len, int flags)
{
    ngx_http_pywsgi_head_t   head;

    head.status = status;
    head.status_line = (u_char *) status_line;
    head.status_len = status_len;
    head.headers = (u_char *) headers;
    head.headers_len = headers_len;
    head.nheaders = nheaders;

    return ngx_http_pywsgi_step_head(handle, &head, body, body_len);
}


static int
ngx_http_pywsgi_write(void *handle, const char *buf, size_t n)
{
    return ngx_http_pywsgi_step_write(handle, buf, n);
}


static int
ngx_http_pywsgi_sendfile(void *handle, int fd, int64_t offset, int64_t n)
{
    return ngx_http_pywsgi_step_sendfile(handle, fd, offset, n);
}


/*
 * The app spec, parsed by csrc/pywsgi_spec.c; a relative file is made
 * absolute against the config prefix (ngx_conf_full_name), as nginx
 * resolves every relative path of its config.
 */
static char *
ngx_http_pywsgi_spec(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *spec)
{
    u_char       *p;
    ngx_str_t     file;
    const char   *err;
    pywsgi_spec   ps;

    err = pywsgi_spec_parse((char *) value->data, value->len, &ps);

    if (err != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "pywsgi_app \"%V\": %s (file.py[:callable], "
                           "module:callable or module:factory())",
                           value, err);
        return NGX_CONF_ERROR;
    }

    if (!ps.is_file || ps.target[0] == '/') {
        spec->data = (u_char *) ps.target;
        spec->len = ps.target_len + ps.rest_len;
        spec->data[spec->len] = '\0';     /* the blanks after it, if any */
        return NGX_CONF_OK;
    }

    file.len = ps.target_len;
    file.data = ngx_pnalloc(cf->pool, file.len);
    if (file.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(file.data, ps.target, file.len);

    if (ngx_conf_full_name(cf->cycle, &file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    spec->len = file.len + ps.rest_len;
    spec->data = ngx_pnalloc(cf->pool, spec->len + 1);
    if (spec->data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(spec->data, file.data, file.len);
    p = ngx_cpymem(p, ps.rest, ps.rest_len);
    *p = '\0';

    return NGX_CONF_OK;
}


static char *
ngx_http_pywsgi_app(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pywsgi_loc_conf_t *plcf = conf;

    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (plcf->spec.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_pywsgi_spec(cf, &value[1], &plcf->spec) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    plcf->file = cf->conf_file->file.name.data;
    plcf->line = cf->conf_file->line;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_pywsgi_handler;

    /* the prefix of a prefix location becomes SCRIPT_NAME */

    if (clcf->regex == NULL && !clcf->named && !clcf->noname) {
        plcf->mount = clcf->name;

        while (plcf->mount.len && plcf->mount.data[plcf->mount.len - 1] == '/')
        {
            plcf->mount.len--;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pywsgi_param(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pywsgi_loc_conf_t *plcf = conf;

    ngx_str_t                         *value;
    ngx_http_pywsgi_param_t           *param;
    ngx_http_compile_complex_value_t   ccv;

    value = cf->args->elts;

    if (plcf->params == NULL) {
        plcf->params = ngx_array_create(cf->pool, 4,
                                        sizeof(ngx_http_pywsgi_param_t));
        if (plcf->params == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    param = ngx_array_push(plcf->params);
    if (param == NULL) {
        return NGX_CONF_ERROR;
    }

    param->key = value[1];
    param->if_not_empty = 0;

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "if_not_empty") != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        param->if_not_empty = 1;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &value[2];
    ccv.complex_value = &param->value;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_pywsgi_process_env(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pywsgi_main_conf_t *pmcf = conf;

    char          *why;
    ngx_str_t     *value;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    value = cf->args->elts;

    why = (char *) pywsgi_process_env_name_error((char *) value[1].data,
                                                 value[1].len);
    if (why) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &value[1],
                           why);
        return NGX_CONF_ERROR;
    }

    if (ngx_strlen(value[2].data) != value[2].len) {
        return "has a NUL byte in its value";
    }

    if (pmcf->process_env == NULL) {
        pmcf->process_env = ngx_array_create(cf->pool, 4,
                                             sizeof(ngx_keyval_t));
        if (pmcf->process_env == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kv = pmcf->process_env->elts;

    for (i = 0; i < pmcf->process_env->nelts; i++) {
        if (kv[i].key.len == value[1].len
            && ngx_strncmp(kv[i].key.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\" is set twice", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    kv = ngx_array_push(pmcf->process_env);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];
    kv->value = value[2];

    return NGX_CONF_OK;
}


static char *
ngx_http_pywsgi_chdir(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_pywsgi_main_conf_t *pmcf = conf;

    ngx_str_t        *value;
    ngx_file_info_t   fi;

    if (pmcf->chdir.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    pmcf->chdir = value[1];

    if (ngx_conf_full_name(cf->cycle, &pmcf->chdir, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_file_info(pmcf->chdir.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_file_info_n " \"%V\" failed", &pmcf->chdir);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is not a directory",
                           &pmcf->chdir);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_pywsgi_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_pywsgi_main_conf_t  *pmcf;

    pmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pywsgi_main_conf_t));
    if (pmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     pmcf->python_home = { 0, NULL };
     *     pmcf->gateway = { 0, NULL };
     *     pmcf->process_env = NULL;
     *     pmcf->process_env_blob = { 0, NULL };
     *     pmcf->chdir = { 0, NULL };
     */

    pmcf->python_path = NGX_CONF_UNSET_PTR;
    pmcf->check = NGX_CONF_UNSET;

    if (ngx_array_init(&pmcf->apps, cf->pool, 2,
                       sizeof(ngx_http_pywsgi_app_t))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&pmcf->queues, cf->pool, 1,
                       sizeof(ngx_http_pywsgi_queue_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return pmcf;
}


static void *
ngx_http_pywsgi_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_pywsgi_loc_conf_t  *plcf;

    plcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_pywsgi_loc_conf_t));
    if (plcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     plcf->spec = { 0, NULL };
     *     plcf->mount = { 0, NULL };
     *     plcf->pool_name = { 0, NULL };
     *     plcf->queue = NULL;
     *     plcf->params = NULL;
     */

    plcf->app = -1;
    plcf->mode = NGX_CONF_UNSET_UINT;

    return plcf;
}


static char *
ngx_http_pywsgi_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_pywsgi_loc_conf_t *prev = parent;
    ngx_http_pywsgi_loc_conf_t *conf = child;

    ngx_thread_pool_t            *pool;
    ngx_http_pywsgi_main_conf_t  *pmcf;

    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_PYWSGI_THREADS);
    ngx_conf_merge_str_value(conf->pool_name, prev->pool_name, "pywsgi");

    if (conf->params == NULL) {
        conf->params = prev->params;
    }

    if (conf->spec.data == NULL) {
        return NGX_CONF_OK;
    }

    if (conf->mode == NGX_HTTP_PYWSGI_THREADS) {
        pool = ngx_thread_pool_add(cf, &conf->pool_name);
        if (pool == NULL) {
            return NGX_CONF_ERROR;
        }

        pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pywsgi_module);

        conf->queue = ngx_http_pywsgi_queue_add(cf, &pmcf->queues, pool);
        if (conf->queue == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_pywsgi_register(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* one app per spec and mode, however many locations mount it */

static ngx_int_t
ngx_http_pywsgi_register(ngx_conf_t *cf, ngx_http_pywsgi_loc_conf_t *plcf)
{
    ngx_uint_t                    i;
    ngx_http_pywsgi_app_t        *app;
    ngx_http_pywsgi_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pywsgi_module);

    app = pmcf->apps.elts;

    for (i = 0; i < pmcf->apps.nelts; i++) {
        if (app[i].mode == plcf->mode
            && app[i].spec.len == plcf->spec.len
            && ngx_strncmp(app[i].spec.data, plcf->spec.data, plcf->spec.len)
               == 0)
        {
            plcf->app = i;
            return NGX_OK;
        }
    }

    app = ngx_array_push(&pmcf->apps);
    if (app == NULL) {
        return NGX_ERROR;
    }

    app->spec = plcf->spec;
    app->mode = plcf->mode;
    app->id = -1;
    app->file = plcf->file;
    app->line = plcf->line;

    plcf->app = pmcf->apps.nelts - 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_pywsgi_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_pywsgi_main_conf_t  *pmcf;

    pmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_pywsgi_module);

    ngx_conf_init_ptr_value(pmcf->python_path, NULL);
    ngx_conf_init_value(pmcf->check, 1);

    if (ngx_http_pywsgi_pack_process_env(cf, pmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (pmcf->apps.nelts == 0 || !pmcf->check) {
        return NGX_OK;
    }

    return ngx_http_pywsgi_check_apps(cf, pmcf);
}


/* the pywsgi_process_env pairs as pywsgi_config.process_env takes them */

static ngx_int_t
ngx_http_pywsgi_pack_process_env(ngx_conf_t *cf,
    ngx_http_pywsgi_main_conf_t *pmcf)
{
    size_t         len;
    u_char        *p;
    ngx_uint_t     i;
    ngx_keyval_t  *kv;

    if (pmcf->process_env == NULL) {
        return NGX_OK;
    }

    kv = pmcf->process_env->elts;
    len = 0;

    for (i = 0; i < pmcf->process_env->nelts; i++) {
        len += kv[i].key.len + 1 + kv[i].value.len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pmcf->process_env_blob.data = p;
    pmcf->process_env_blob.len = len;

    for (i = 0; i < pmcf->process_env->nelts; i++) {
        p = ngx_cpymem(p, kv[i].key.data, kv[i].key.len);
        *p++ = '\0';
        p = ngx_cpymem(p, kv[i].value.data, kv[i].value.len);
        *p++ = '\0';
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_pywsgi_gateway_path(ngx_http_pywsgi_main_conf_t *pmcf, char *buf,
    size_t len)
{
    if (pmcf->gateway.len) {
        if (pmcf->gateway.len >= len) {
            return NGX_ERROR;
        }

        ngx_cpystrn((u_char *) buf, pmcf->gateway.data, pmcf->gateway.len + 1);
        return NGX_OK;
    }

    if (pywsgi_gateway_default_path((void *) &ngx_http_pywsgi_module, buf,
                                    len)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* "dir1:dir2" of the pywsgi_python_path directives, NUL-terminated */

u_char *
ngx_http_pywsgi_python_path(ngx_pool_t *pool,
    ngx_http_pywsgi_main_conf_t *pmcf)
{
    size_t      len;
    u_char     *path, *p;
    ngx_str_t  *dir;
    ngx_uint_t  i;

    if (pmcf->python_path == NULL) {
        return NULL;
    }

    dir = pmcf->python_path->elts;
    len = 1;

    for (i = 0; i < pmcf->python_path->nelts; i++) {
        len += dir[i].len + 1;
    }

    path = ngx_pnalloc(pool, len);
    if (path == NULL) {
        return NULL;
    }

    p = path;

    for (i = 0; i < pmcf->python_path->nelts; i++) {
        if (i) {
            *p++ = ':';
        }

        p = ngx_cpymem(p, dir[i].data, dir[i].len);
    }

    *p = '\0';

    return path;
}


void
ngx_http_pywsgi_config(ngx_http_pywsgi_main_conf_t *pmcf,
    ngx_http_pywsgi_app_t *app, ngx_uint_t multiprocess, u_char *python_path,
    pywsgi_config *cfg)
{
    /* both modes only copy (threads) or queue non-blocking output (inline):
       the gateway may call back holding the GIL */

    pywsgi_config_init(cfg, &ngx_http_pywsgi_io, PYWSGI_IO_NONBLOCKING,
                       NGINX_VER);

    /* the strings of directives are NUL-terminated */

    cfg->python_home = (const char *) pmcf->python_home.data;
    cfg->python_path = (const char *) python_path;
    cfg->app = (const char *) app->spec.data;
    cfg->multithread = (app->mode == NGX_HTTP_PYWSGI_THREADS);
    cfg->multiprocess = multiprocess ? 1 : 0;
    cfg->process_env = (const char *) pmcf->process_env_blob.data;
    cfg->process_env_len = pmcf->process_env_blob.len;
    cfg->chdir = (const char *) pmcf->chdir.data;
}


static ngx_int_t
ngx_http_pywsgi_init_process(ngx_cycle_t *cycle)
{
    char                          path[NGX_MAX_PATH], *err;
    u_char                       *python_path;
    ngx_uint_t                    i;
    pywsgi_config                 cfg;
    ngx_core_conf_t              *ccf;
    ngx_http_pywsgi_app_t        *app;
    ngx_http_pywsgi_main_conf_t  *pmcf;

    pmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_pywsgi_module);

    if (pmcf == NULL || pmcf->apps.nelts == 0) {
        return NGX_OK;
    }

    err = ngx_pcalloc(cycle->pool, NGX_HTTP_PYWSGI_ERRLEN);
    if (err == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_pywsgi_gateway_path(pmcf, path, sizeof(path)) != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "pywsgi: cannot find the gateway library: set "
                      "pywsgi_gateway");
        return NGX_ERROR;
    }

    if (pywsgi_gateway_open(&ngx_http_pywsgi_gw, path, err,
                            NGX_HTTP_PYWSGI_ERRLEN)
        != 0)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "pywsgi: %s", err);
        return NGX_ERROR;
    }

    python_path = ngx_http_pywsgi_python_path(cycle->pool, pmcf);
    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    app = pmcf->apps.elts;

    for (i = 0; i < pmcf->apps.nelts; i++) {
        ngx_http_pywsgi_config(pmcf, &app[i], ccf->worker_processes > 1,
                               python_path, &cfg);

        app[i].id = ngx_http_pywsgi_gw.init(&cfg, err, NGX_HTTP_PYWSGI_ERRLEN);

        if (app[i].id < 0) {
            /* the worker stays and the app's locations answer 500, as on
               Apache: exiting with NGX_ERROR (status 2) would leave the
               master without a worker for good, and any other status
               would make it a crash loop */
            ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                          "pywsgi: cannot load the app \"%V\" of %s:%ui, "
                          "it answers 500 in this worker (pid %P): %s",
                          &app[i].spec, app[i].file, app[i].line, ngx_pid,
                          err);
        }
    }

    ngx_http_pywsgi_loaded = 1;

    return ngx_http_pywsgi_dispatch_init(cycle, &pmcf->queues);
}


static void
ngx_http_pywsgi_exit_process(ngx_cycle_t *cycle)
{
    if (ngx_http_pywsgi_loaded) {
        ngx_http_pywsgi_loaded = 0;
        ngx_http_pywsgi_dispatch_exit();
        ngx_http_pywsgi_gw.fini();
    }
}
