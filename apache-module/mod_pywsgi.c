/*
 * mod_pywsgi: WSGI apps inside Apache httpd, in-process (see mod_pywsgi.h
 * for the files).  This file: the directives and the hooks.
 *
 *   LoadModule pywsgi_module .../pywsgi_embed/modules/mod_pywsgi.so
 *
 * The directives are documented in README.md ("Apache"), how the module
 * works in docs/ARCHITECTURE.md.
 *
 * Chunked request bodies are accepted (de-chunked by Apache's HTTP input
 * filter; wsgi.input reads to the end, CONTENT_LENGTH is absent).
 */

#include "http_core.h"
#include "http_request.h"
#include "apr_strings.h"

#include "mod_pywsgi.h"


mod_pywsgi_globals_t  mod_pywsgi_globals;


/*
 * The app spec, parsed by csrc/pywsgi_spec.c.  A relative file is taken
 * from the directory of the config file the directive is in (where its
 * author sees it, as nginx takes it from its config's), and must exist, so
 * that "apache2 -t" reports a wrong path with the directive's line.
 */
static const char *
resolve_spec(cmd_parms *cmd, const char *spec, const char **out)
{
    char          *dir, *path;
    const char    *err, *target;
    apr_finfo_t    finfo;
    pywsgi_spec    ps;

    err = pywsgi_spec_parse(spec, strlen(spec), &ps);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "PyWSGIApp \"%s\": %s "
                            "(file.py[:callable], module:callable or "
                            "module:factory())", spec, err);
    }

    target = apr_pstrmemdup(cmd->pool, ps.target, ps.target_len);

    if (!ps.is_file) {
        *out = apr_pstrmemdup(cmd->pool, ps.target,
                              ps.target_len + ps.rest_len);
        return NULL;                       /* a module: found in the child */
    }

    dir = ap_make_dirstr_parent(cmd->temp_pool, cmd->directive->filename);

    if (apr_filepath_merge(&path, dir, target, 0, cmd->pool) != APR_SUCCESS)
    {
        return apr_pstrcat(cmd->pool, "PyWSGIApp: invalid path ", target,
                           NULL);
    }

    if (apr_stat(&finfo, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS
        || finfo.filetype != APR_REG)
    {
        return apr_pstrcat(cmd->pool, "PyWSGIApp: ", path, ": no such file",
                           NULL);
    }

    *out = apr_pstrcat(cmd->pool, path,
                       apr_pstrmemdup(cmd->temp_pool, ps.rest, ps.rest_len),
                       NULL);
    return NULL;
}


static const char *
set_app(cmd_parms *cmd, void *dummy, const char *prefix, const char *spec)
{
    const char           *err;
    apr_size_t            len;
    pywsgi_mount         *m, **other;
    pywsgi_server_conf   *conf;
    int                   i;

    if (prefix[0] != '/') {
        return apr_pstrcat(cmd->pool, "PyWSGIApp: the URL prefix \"", prefix,
                           "\" does not start with /", NULL);
    }

    len = strlen(prefix);
    while (len && prefix[len - 1] == '/') {
        len--;                           /* "/app/" is "/app", "/" is "" */
    }

    conf = ap_get_module_config(cmd->server->module_config, &pywsgi_module);
    other = (pywsgi_mount **) conf->mounts->elts;

    for (i = 0; i < conf->mounts->nelts; i++) {
        if (other[i]->prefix_len == len
            && strncmp(other[i]->prefix, prefix, len) == 0)
        {
            return apr_psprintf(cmd->pool, "PyWSGIApp: %s is already mounted "
                                "at %s", other[i]->where, prefix);
        }
    }

    m = apr_pcalloc(cmd->pool, sizeof(pywsgi_mount));
    m->prefix = apr_pstrmemdup(cmd->pool, prefix, len);
    m->prefix_len = len;
    m->where = apr_psprintf(cmd->pool, "%s:%d",
                            cmd->directive->filename,
                            cmd->directive->line_num);

    err = resolve_spec(cmd, spec, &m->spec);
    if (err != NULL) {
        return err;
    }

    m->index = mod_pywsgi_globals.mounts->nelts;
    APR_ARRAY_PUSH(mod_pywsgi_globals.mounts, pywsgi_mount *) = m;
    APR_ARRAY_PUSH(conf->mounts, pywsgi_mount *) = m;

    return NULL;
}


/* the directory arg of a main-server directive, relative to ServerRoot */
static const char *
global_directory(cmd_parms *cmd, const char *arg, const char **path)
{
    const char   *err;
    apr_finfo_t   finfo;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }

    *path = ap_server_root_relative(cmd->pool, arg);

    if (*path == NULL
        || apr_stat(&finfo, *path, APR_FINFO_TYPE, cmd->temp_pool)
           != APR_SUCCESS
        || finfo.filetype != APR_DIR)
    {
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", arg,
                           ": no such directory", NULL);
    }

    return NULL;
}


static const char *
set_python_home(cmd_parms *cmd, void *dummy, const char *arg)
{
    return global_directory(cmd, arg, &mod_pywsgi_globals.python_home);
}


static const char *
add_python_path(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char  *err, *path;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }

    if (strchr(arg, ':') != NULL) {
        return "PyWSGIPythonPath: give one directory per argument "
               "(no ':' inside)";
    }

    path = ap_server_root_relative(cmd->pool, arg);
    if (path == NULL) {
        return apr_pstrcat(cmd->pool, "PyWSGIPythonPath: invalid path ", arg,
                           NULL);
    }

    APR_ARRAY_PUSH(mod_pywsgi_globals.python_path, const char *) = path;
    return NULL;
}


static const char *
set_env(cmd_parms *cmd, void *dummy, const char *key, const char *value)
{
    pywsgi_server_conf  *conf;
    apr_table_entry_t   *e;

    conf = ap_get_module_config(cmd->server->module_config, &pywsgi_module);

    e = &APR_ARRAY_PUSH(conf->environ, apr_table_entry_t);
    e->key = (char *) key;
    e->val = (char *) value;
    e->key_checksum = 0;

    return NULL;
}


static const char *
add_process_env(cmd_parms *cmd, void *dummy, const char *name,
    const char *value)
{
    const char         *err;
    apr_table_entry_t  *e;
    int                 i;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }

    err = pywsgi_process_env_name_error(name, strlen(name));
    if (err != NULL) {
        return apr_pstrcat(cmd->pool, "PyWSGIProcessEnv \"", name, "\": ",
                           err, NULL);
    }

    e = (apr_table_entry_t *) mod_pywsgi_globals.process_env->elts;

    for (i = 0; i < mod_pywsgi_globals.process_env->nelts; i++) {
        if (strcmp(e[i].key, name) == 0) {
            return apr_pstrcat(cmd->pool, "PyWSGIProcessEnv: \"", name,
                               "\" is set twice", NULL);
        }
    }

    e = &APR_ARRAY_PUSH(mod_pywsgi_globals.process_env, apr_table_entry_t);
    e->key = (char *) name;
    e->val = (char *) value;
    e->key_checksum = 0;

    return NULL;
}


static const char *
set_chdir(cmd_parms *cmd, void *dummy, const char *arg)
{
    return global_directory(cmd, arg, &mod_pywsgi_globals.chdir);
}


static const char *
set_gateway(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char   *err, *path;
    apr_finfo_t   finfo;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }

    path = ap_server_root_relative(cmd->pool, arg);

    if (path == NULL
        || apr_stat(&finfo, path, APR_FINFO_TYPE, cmd->temp_pool)
           != APR_SUCCESS)
    {
        return apr_pstrcat(cmd->pool, "PyWSGIGateway: ", arg,
                           ": no such file", NULL);
    }

    mod_pywsgi_globals.gateway = path;
    return NULL;
}


static const char *
set_run_as_root(cmd_parms *cmd, void *dummy, int on)
{
    const char  *err;

    err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    if (err != NULL) {
        return err;
    }

    mod_pywsgi_globals.run_as_root = on;
    return NULL;
}


static const command_rec pywsgi_cmds[] = {
    AP_INIT_TAKE2("PyWSGIApp", set_app, NULL, RSRC_CONF,
                  "a URL prefix and a WSGI app: /path/app.py[:callable] "
                  "or package.module:callable"),
    AP_INIT_TAKE1("PyWSGIPythonHome", set_python_home, NULL, RSRC_CONF,
                  "the venv or Python prefix the apps run in"),
    AP_INIT_ITERATE("PyWSGIPythonPath", add_python_path, NULL, RSRC_CONF,
                    "directories to put first on sys.path"),
    AP_INIT_TAKE2("PyWSGIEnv", set_env, NULL, RSRC_CONF,
                  "an extra environ entry: KEY VALUE"),
    AP_INIT_FLAG("PyWSGIPassAuthorization", ap_set_flag_slot,
                 (void *) APR_OFFSETOF(pywsgi_dir_conf, pass_auth),
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,
                 "On: the apps see the Authorization header (default Off)"),
    AP_INIT_TAKE2("PyWSGIProcessEnv", add_process_env, NULL, RSRC_CONF,
                  "an environment variable of the children: NAME VALUE"),
    AP_INIT_TAKE1("PyWSGIChdir", set_chdir, NULL, RSRC_CONF,
                  "the children's working directory"),
    AP_INIT_TAKE1("PyWSGIGateway", set_gateway, NULL, RSRC_CONF,
                  "the pywsgi-embed gateway library to load"),
    AP_INIT_FLAG("PyWSGIRunAsRoot", set_run_as_root, NULL, RSRC_CONF,
                 "On: a root Apache keeps its children as root "
                 "(development only)"),
    { NULL }
};


static void *
create_server_conf(apr_pool_t *p, server_rec *s)
{
    pywsgi_server_conf  *conf;

    conf = apr_pcalloc(p, sizeof(pywsgi_server_conf));
    conf->mounts = apr_array_make(p, 4, sizeof(pywsgi_mount *));
    conf->environ = apr_array_make(p, 4, sizeof(apr_table_entry_t));

    return conf;
}


static void *
merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    pywsgi_server_conf  *base = basev, *add = addv, *conf;

    conf = apr_pcalloc(p, sizeof(pywsgi_server_conf));
    conf->mounts = apr_array_append(p, add->mounts, base->mounts);
    conf->environ = apr_array_append(p, base->environ, add->environ);

    return conf;
}


static void *
create_dir_conf(apr_pool_t *p, char *dir)
{
    pywsgi_dir_conf  *conf;

    conf = apr_pcalloc(p, sizeof(pywsgi_dir_conf));
    conf->pass_auth = PYWSGI_FLAG_UNSET;

    return conf;
}


static void *
merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    pywsgi_dir_conf  *base = basev, *add = addv, *conf;

    conf = apr_pcalloc(p, sizeof(pywsgi_dir_conf));
    conf->pass_auth = add->pass_auth != PYWSGI_FLAG_UNSET ? add->pass_auth
                                                          : base->pass_auth;
    return conf;
}


/* Apache reads its configuration twice at start and again on each
   restart: start every reading from nothing (and do nothing costly) */

static int
pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    memset(&mod_pywsgi_globals, 0, sizeof(mod_pywsgi_globals));
    mod_pywsgi_globals.python_path = apr_array_make(pconf, 4,
                                                    sizeof(const char *));
    mod_pywsgi_globals.mounts = apr_array_make(pconf, 8,
                                               sizeof(pywsgi_mount *));
    mod_pywsgi_globals.process_env = apr_array_make(pconf, 4,
                                                sizeof(apr_table_entry_t));

    return OK;
}


static int
post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
    server_rec *s)
{
    return mod_pywsgi_keep_root(pconf, s);
}


static void
register_hooks(apr_pool_t *p)
{
    /* mod_alias first: an Alias under a mount (static files) wins */
    static const char * const after_alias[] = { "mod_alias.c", NULL };

    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(mod_pywsgi_check_config, NULL, NULL,
                         APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(mod_pywsgi_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_translate_name(mod_pywsgi_translate, after_alias, NULL,
                           APR_HOOK_MIDDLE);
    ap_hook_map_to_storage(mod_pywsgi_map_to_storage, NULL, NULL,
                           APR_HOOK_FIRST);
    ap_hook_type_checker(mod_pywsgi_type_checker, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(mod_pywsgi_handler, NULL, NULL, APR_HOOK_MIDDLE);
}


AP_DECLARE_MODULE(pywsgi) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    pywsgi_cmds,
    register_hooks
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    , AP_MODULE_FLAG_NONE
#endif
};
