// component: oci
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes boxlite-runtime's config.json and state.json decoding (src/oci/spec.c, state.c):
 * a bundle is the caller's file and a state record lies in a folder others may write, so
 * any bytes may be there. The first byte picks the parser (config, exec process, state,
 * memory size, signal, update's resources, a cgroupsPath in either form); the decoders must refuse or accept without crashing, leaking or
 * reading past the input, and what they accept must be consistent (args non-empty, cwd
 * absolute, env KEY=VALUE, a seccomp program of whole instructions, the container's view
 * as the agent will take it). linux.seccomp goes through libseccomp here, as at create. */
#include "oci/resources.h"
#include "oci/spec.h"
#include "oci/state.h"
#include "proto/proto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    struct bl_error err = { 0 };
    switch (data[0] % 7) {
    case 0: {
        struct oci_spec s;
        if (oci_spec_parse(text, len, &s, &err) == 0) {
            if (!s.process.args[0] || !s.process.args[0][0] || s.process.cwd[0] != '/' ||
                !s.root_path[0])
                abort();
            for (size_t i = 0; s.process.env[i]; i++)
                if (!strchr(s.process.env[i], '=') || s.process.env[i][0] == '=')
                    abort();
            for (size_t i = 0; i < s.nmounts; i++) {
                const char *to = s.mounts[i].tmpfs_options;
                uint32_t fl;
                char data[PROTO_TMPFS_DATA_MAX];
                if (s.mounts[i].destination[0] != '/')
                    abort();
                /* a tmpfs's options and destination as the guest takes them */
                if (to && (proto_tmpfs_options(to, &fl, data, sizeof data, &err) != 0 ||
                           fl & ~PROTO_TMPFS_FLAGS ||
                           !proto_confine_path_ok(s.mounts[i].destination)))
                    abort();
            }
            if (s.cpus < 0 || s.cpus > 256 || s.memory_mib < 0)
                abort();
            /* what reaches the guest: whole BPF instructions within the kernel's bound,
             * paths absolute without "..", known device types */
            if (s.seccomp.len % 8 || s.seccomp.len / 8 > BOXLITE_SECCOMP_MAX_INSNS ||
                (s.seccomp.len && !s.seccomp.bpf))
                abort();
            for (size_t i = 0; s.view.masked && s.view.masked[i]; i++)
                if (!proto_confine_path_ok(s.view.masked[i]))
                    abort();
            for (size_t i = 0; s.view.readonly && s.view.readonly[i]; i++)
                if (!proto_confine_path_ok(s.view.readonly[i]))
                    abort();
            for (size_t i = 0; s.view.sysctl && s.view.sysctl[i]; i++)
                if (!proto_sysctl_ok(s.view.sysctl[i]))
                    abort();
            for (size_t i = 0; i < s.view.ndevices; i++)
                if (!strchr("cbup", s.view.devices[i].type) || !s.view.devices[i].type ||
                    !proto_confine_path_ok(s.view.devices[i].path))
                    abort();
            oci_spec_free(&s);
        }
        break;
    }
    case 1: {
        struct oci_process p;
        if (oci_process_parse(text, len, &p, &err) == 0)
            oci_process_free(&p);
        break;
    }
    case 2: {
        struct oci_state st;
        if (oci_state_parse(text, len, &st, &err) == 0) {
            if (oci_id_valid(st.id, NULL) != 0 || st.pid < 1)
                abort();
            free(oci_state_report(&st, OCI_RUNNING));
            free(oci_state_dump(&st));
            oci_state_free(&st);
        }
        break;
    }
    case 5: {
        struct oci_resources r;
        if (oci_resources_parse(text, len, &r, &err) == 0) {
            /* what reaches a cgroup file: bounded, digits, commas and dashes */
            if (strlen(r.cpuset_cpus) >= OCI_CPUSET_MAX ||
                strspn(r.cpuset_cpus, "0123456789,-") != strlen(r.cpuset_cpus) ||
                (r.has_mem_limit && r.mem_limit < -1) ||
                (r.has_cpu_period && (r.cpu_period < 1000 || r.cpu_period > 1000000)))
                abort();
        }
        break;
    }
    default: {
        /* the short strings: a NUL-terminated copy */
        char *s = malloc(len + 1);
        if (!s)
            return 0;
        memcpy(s, text, len);
        s[len] = 0;
        int v = 0;
        char path[256];
        if (data[0] % 7 == 6) {
            /* the second byte picks the form; an accepted path never climbs out */
            if (oci_cgroup_path(s, len && s[0] & 1, "c", path, sizeof path, &err) == 0 &&
                (strlen(path) >= sizeof path || !strcmp(path, "..") || strstr(path, "/../") ||
                 !strncmp(path, "../", 3) ||
                 (strlen(path) >= 3 && !strcmp(path + strlen(path) - 3, "/.."))))
                abort();
        } else if (data[0] % 7 == 3) {
            if (oci_parse_memory_mib(s, &v, &err) == 0 && (v < 1 || v > (1 << 20)))
                abort();
        } else if (oci_parse_signal(s, &v, &err) == 0 && (v < 1 || v > 64)) {
            abort();
        }
        free(s);
        break;
    }
    }
    return 0;
}
