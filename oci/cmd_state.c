// SPDX-License-Identifier: Apache-2.0
/* The commands that only read: state (runtime-spec runtime.md "Query State"), ps, and
 * features (runtime-spec features.md). */
#include "runtime.h"


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_state(int argc, char **argv, int i)
{
    const struct flag fl[] = { FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "state"))
        return 1;
    if (i != argc - 1)
        return fail("state: usage: state CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    char *js = oci_state_report(&st, status_of(&st));
    oci_state_free(&st);
    if (!js)
        return fail("out of memory");
    printf("%s\n", js);
    free(js);
    return 0;
}

int cmd_ps(int argc, char **argv, int i)
{
    const char *format = "table";
    const struct flag fl[] = { FLAG_V("format", 'f', &format),
                               FLAG_END };
    if (parse_flags(argc, argv, &i, fl, "ps"))
        return 1;
    if (i >= argc)
        return fail("ps: usage: ps [--format table|json] CONTAINER-ID");
    struct oci_state st;
    if (load_state(argv[i], &st))
        return 1;
    /* the host processes of the container: its relay (the guest's are inside the VM) */
    bool alive = status_of(&st) != OCI_STOPPED;
    if (!strcmp(format, "json"))
        printf(alive ? "[%lld]\n" : "[]\n", (long long)st.pid);
    else if (!strcmp(format, "table"))
        printf(alive ? "PID\n%lld\n" : "PID\n", (long long)st.pid);
    else
        return fail("ps: unknown format %s", format);
    oci_state_free(&st);
    return 0;
}

int cmd_features(int argc, char **argv, int i)
{
    (void)argc;
    (void)argv;
    (void)i;
    /* runtime-spec features.md: what this runtime understands */
    printf("{\n"
           "  \"ociVersionMin\": \"1.0.0\",\n"
           "  \"ociVersionMax\": \"%s\",\n"
           "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", "
           "\"startContainer\", \"poststart\", \"poststop\"],\n"
           "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\"],\n"
           "  \"linux\": {\n"
           "    \"namespaces\": [\"pid\", \"network\", \"mount\", \"uts\", \"ipc\"],\n"
           "    \"capabilities\": [],\n"
           /* systemd: the driver that asks systemd; --systemd-cgroup's layout needs none */
           "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, "
           "\"systemdUser\": false},\n"
           "    \"seccomp\": %s,\n"
           "    \"apparmor\": {\"enabled\": false},\n"
           "    \"selinux\": {\"enabled\": false}\n"
           "  },\n"
           "  \"annotations\": {\n"
           "    \"io.boxlite.runtime.version\": \"%s\",\n"
           "    \"io.boxlite.vm\": \"true\"\n"
           "  }\n"
           "}\n",
           OCI_SPEC_VERSION, oci_seccomp_features(), boxlite_version());
    return 0;
}
