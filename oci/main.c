// SPDX-License-Identifier: Apache-2.0
/* boxlite-runtime: an OCI runtime with runc's command line (runtime-spec runtime.md
 * "Operations"; runc's man pages for the flags), so that Podman/conmon, containerd's shim
 * and Docker can run each container in a box. One container = one box, owned by its relay
 * process (relay.c); the bundle's rootfs is shared into the VM (rootfs_share), so the
 * caller sees the container's writes. State: <root>/<id>/state.json (src/oci/state.c). */
#include "runtime.h"

#include <stdio.h>
#include <string.h>

struct runtime_opts opts = { .root = DEFAULT_ROOT };

static void usage(FILE *f)
{
    fprintf(f, "usage: boxlite-runtime [global flags] COMMAND [flags] [ARGS]\n"
               "An OCI runtime (runc's command line): each container runs in a BoxLite micro-VM.\n"
               "commands: create, start, state, kill, delete, exec, ps, features, pause, resume, update\n"
               "global flags: --root DIR (default " DEFAULT_ROOT "), --log FILE, "
               "--log-format text|json, --debug, --systemd-cgroup, --rootless VALUE, "
               "--version\n");
}

int main(int argc, char **argv)
{
    const char *log_format = "text", *rootless = NULL, *criu = NULL;
    bool debug_flag = false, systemd = false, version = false, help = false;
    const struct flag fl[] = {
        FLAG_V("root", 0, &opts.root),
        FLAG_V("log", 0, &opts.log),
        FLAG_V("log-format", 0, &log_format),
        FLAG_B("debug", 0, &debug_flag),
        FLAG_B("systemd-cgroup", 0, &systemd),
        FLAG_V("rootless", 0, &rootless),
        FLAG_V("criu", 0, &criu),
        FLAG_B("version", 'v', &version),
        FLAG_B("help", 'h', &help),
        FLAG_END,
    };
    int i = 1;
    if (parse_flags(argc, argv, &i, fl, "boxlite-runtime"))
        return 1;
    opts.debug = debug_flag;
    opts.systemd_cgroup = systemd;
    if (strcmp(log_format, "text") && strcmp(log_format, "json"))
        return fail("unknown --log-format %s (text or json)", log_format);
    opts.log_json = !strcmp(log_format, "json");
    if (version) {
        printf("boxlite-runtime version %s\nspec: %s\nlibboxlite: %s\n", boxlite_version(),
               OCI_SPEC_VERSION, boxlite_version());
        return 0;
    }
    if (help || i >= argc) {
        usage(help ? stdout : stderr);
        return help ? 0 : 1;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **, int);
    } cmds[] = {
        { "create", cmd_create }, { "start", cmd_start },   { "state", cmd_state },
        { "kill", cmd_kill },     { "delete", cmd_delete }, { "exec", cmd_exec },
        { "ps", cmd_ps },         { "features", cmd_features },
        { "pause", cmd_pause },   { "resume", cmd_resume }, { "update", cmd_update },
    };
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
        if (!strcmp(argv[i], cmds[k].name)) {
            debug("%s", argv[i]);
            return cmds[k].fn(argc, argv, i + 1);
        }
    return fail("unknown command %s", argv[i]);
}
