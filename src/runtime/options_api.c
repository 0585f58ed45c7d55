// SPDX-License-Identifier: Apache-2.0
/* The exported boxlite_options_* functions: argument checks, then options.c. */
#include "runtime/api_error.h"
#include "runtime/options.h"

#include <stdlib.h>

BOXLITE_API int boxlite_options_new(boxlite_options **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return api_fail(BOXLITE_ERR_NOMEM, "options: out of memory");
    opts_init(*out);
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_options_from_json(const char *json, boxlite_options **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(json, "json is NULL");
    struct bl_error err = {0};
    boxlite_options *o = calloc(1, sizeof *o);
    if (!o)
        return api_fail(BOXLITE_ERR_NOMEM, "options: out of memory");
    opts_init(o);
    int r = opts_from_json(o, json, &err);
    if (r) {
        opts_clear(o);
        free(o);
        return api_return(r, &err);
    }
    *out = o;
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_options_to_json(const boxlite_options *o, char **json_out)
{
    API_CHECK_ARG(o && json_out, "NULL argument");
    *json_out = opts_to_json(o);
    if (!*json_out)
        return api_fail(BOXLITE_ERR_NOMEM, "options: out of memory");
    return api_return(0, NULL);
}

BOXLITE_API void boxlite_options_free(boxlite_options *o)
{
    if (!o)
        return;
    opts_clear(o);
    free(o);
}

/* Each setter: check the handle, run the shared setter, publish the outcome. */
#define SETTER(call)                                                               \
    do {                                                                           \
        API_CHECK_ARG(o, "options handle is NULL");                                \
        struct bl_error err = {0};                                                 \
        return api_return((call), &err);                                           \
    } while (0)

BOXLITE_API int boxlite_options_set_image(boxlite_options *o, const char *v)
{ SETTER(opts_set_str(&o->image, "image", v, &err)); }
BOXLITE_API int boxlite_options_set_rootfs_path(boxlite_options *o, const char *v)
{ SETTER(opts_set_str(&o->rootfs_path, "rootfs_path", v, &err)); }
BOXLITE_API int boxlite_options_set_cpus(boxlite_options *o, int v)
{ SETTER(opts_set_cpus(o, v, &err)); }
BOXLITE_API int boxlite_options_set_memory_mib(boxlite_options *o, int v)
{ SETTER(opts_set_memory(o, v, &err)); }
BOXLITE_API int boxlite_options_set_disk_size_gb(boxlite_options *o, int v)
{ SETTER(opts_set_disk(o, v, &err)); }
BOXLITE_API int boxlite_options_set_env(boxlite_options *o, const char *k, const char *v)
{ SETTER(opts_set_env(o, k, v, &err)); }
BOXLITE_API int boxlite_options_set_working_dir(boxlite_options *o, const char *v)
{ SETTER(opts_set_str(&o->working_dir, "working_dir", v, &err)); }
BOXLITE_API int boxlite_options_set_user(boxlite_options *o, const char *v)
{ SETTER(opts_set_str(&o->user, "user", v, &err)); }
BOXLITE_API int boxlite_options_add_volume(boxlite_options *o, const char *host,
                                           const char *guest, int ro)
{ SETTER(opts_add_volume(o, host, guest, ro != 0, &err)); }
BOXLITE_API int boxlite_options_add_port(boxlite_options *o, int host_port, int guest_port,
                                         const char *proto, const char *host_addr)
{ SETTER(opts_add_port(o, host_port, guest_port, proto, host_addr, &err)); }
BOXLITE_API int boxlite_options_set_network(boxlite_options *o, int v)
{ SETTER((o->network = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_network_mode(boxlite_options *o, const char *v)
{ SETTER(opts_set_network_mode(o, v, &err)); }
BOXLITE_API int boxlite_options_add_allow_net(boxlite_options *o, const char *rule)
{ SETTER(opts_add_net_rule(o, false, rule, &err)); }
BOXLITE_API int boxlite_options_add_deny_net(boxlite_options *o, const char *rule)
{ SETTER(opts_add_net_rule(o, true, rule, &err)); }
BOXLITE_API int boxlite_options_add_allow_host(boxlite_options *o, int port, const char *proto)
{ SETTER(opts_add_allow_host(o, port, proto, &err)); }
BOXLITE_API int boxlite_options_set_name(boxlite_options *o, const char *v)
{ SETTER(opts_set_name(o, v, &err)); }
BOXLITE_API int boxlite_options_set_auto_remove(boxlite_options *o, int v)
{ SETTER((o->auto_remove = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_detach(boxlite_options *o, int v)
{ SETTER((o->detach = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_ready_timeout_ms(boxlite_options *o, int v)
{ SETTER(opts_set_ready_timeout(o, v, &err)); }
BOXLITE_API int boxlite_options_set_engine(boxlite_options *o, const char *v)
{ SETTER(opts_set_engine(o, v, &err)); }
BOXLITE_API int boxlite_options_set_cpu_template(boxlite_options *o, const char *v)
{ SETTER(opts_set_cpu_template(o, v, &err)); }
BOXLITE_API int boxlite_options_set_platform(boxlite_options *o, const char *v)
{ SETTER(opts_set_platform(o, v, &err)); }
BOXLITE_API int boxlite_options_set_cmd(boxlite_options *o, const char *const *argv)
{ SETTER(opts_set_argv(o, "cmd", argv, -1, &err)); }
BOXLITE_API int boxlite_options_set_entrypoint(boxlite_options *o, const char *const *argv)
{ SETTER(opts_set_argv(o, "entrypoint", argv, -1, &err)); }
BOXLITE_API int boxlite_options_set_main_process(boxlite_options *o, int v)
{ SETTER((o->main_process = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_healthcheck(boxlite_options *o, const char *const *test,
                                                long long interval_ms, long long timeout_ms,
                                                int retries, long long start_period_ms)
{ SETTER(opts_set_health(o, test, -1, interval_ms, timeout_ms, retries, start_period_ms, &err)); }
BOXLITE_API int boxlite_options_set_log_rotation(boxlite_options *o, long long max_bytes,
                                                 int max_files)
{ SETTER(opts_set_log(o, max_bytes, max_files, &err)); }
BOXLITE_API int boxlite_options_set_label(boxlite_options *o, const char *k, const char *v)
{ SETTER(opts_set_label(o, k, v, &err)); }
BOXLITE_API int boxlite_options_set_hostname(boxlite_options *o, const char *v)
{ SETTER(opts_set_hostname(o, v, &err)); }
BOXLITE_API int boxlite_options_set_read_only(boxlite_options *o, int v)
{ SETTER((o->read_only = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_restart(boxlite_options *o, const char *policy, int max)
{ SETTER(opts_set_restart(o, policy, max, &err)); }
BOXLITE_API int boxlite_options_set_stdin_open(boxlite_options *o, int v)
{ SETTER((o->stdin_open = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_tty(boxlite_options *o, int v)
{ SETTER((o->tty = v != 0, 0)); }
BOXLITE_API int boxlite_options_set_idle_pause(boxlite_options *o, int v)
{
    SETTER(v < 0 || v > 365 * 24 * 3600
               ? bl_err(&err, BOXLITE_ERR_INVALID, "idle_pause_s: %d is not between 0 and "
                        "31536000", v)
               : (o->idle_pause_s = v, 0));
}
BOXLITE_API int boxlite_options_set_balloon_target(boxlite_options *o, int mib)
{
    /* the upper bound, memory_mib, is checked at create: the two may come in any order */
    SETTER(mib != 0 && (mib < BL_MIN_BALLOON_MIB || mib > BL_MAX_MEMORY_MIB)
               ? bl_err(&err, BOXLITE_ERR_INVALID, "balloon_target_mib: %d is not 0 or between "
                        "%d and the box's memory_mib", mib, BL_MIN_BALLOON_MIB)
               : (o->balloon_target_mib = mib, 0));
}
BOXLITE_API int boxlite_options_set_free_page_reporting(boxlite_options *o, int enabled)
{ SETTER((o->no_page_reporting = enabled == 0, 0)); }
BOXLITE_API int boxlite_options_set_ksm(boxlite_options *o, int enabled)
{ SETTER((o->ksm = enabled != 0, 0)); }
BOXLITE_API int boxlite_options_set_rootfs_share(boxlite_options *o, int v)
{ SETTER((o->rootfs_share = v != 0, 0)); }
