// SPDX-License-Identifier: Apache-2.0
/* linux.maskedPaths, readonlyPaths, sysctl and devices as boxlite-runtime reads them
 * (src/oci/view.c): Podman's values taken as they are, each malformed field refused by
 * name. What the guest makes of them is proven by tests/e2e/oci_process.sh and the
 * runtime-tools cases linux_masked_paths, _readonly_paths, _sysctl, _devices. */
#include "harness/harness.h"
#include "oci/spec.h"

#include <string.h>

static int parse(const char *linux_json, struct oci_spec *s, struct bl_error *err)
{
    char doc[4096];
    snprintf(doc, sizeof doc, "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"r\"}, "
             "\"process\": {\"args\": [\"sh\"]}, \"linux\": %s}", linux_json);
    return oci_spec_parse(doc, strlen(doc), s, err);
}

TEST(podman_view)
{
    struct oci_spec s;
    struct bl_error err = { 0 };
    REQUIRE(parse("{\"maskedPaths\": [\"/proc/acpi\", \"/proc/kcore\", \"/sys/firmware\"], "
                  "\"readonlyPaths\": [\"/proc/sys\", \"/proc/sysrq-trigger\"], "
                  "\"sysctl\": {\"net.ipv4.ping_group_range\": \"0 0\", \"kernel.domainname\": "
                  "\"a..b\"}, \"devices\": [{\"path\": \"/dev/fuse\", \"type\": \"c\", "
                  "\"major\": 10, \"minor\": 229, \"fileMode\": 8630, \"uid\": 0, \"gid\": 0}, "
                  "{\"path\": \"/dev/pipe\", \"type\": \"p\"}]}", &s, &err) == 0);
    CHECK_STR(s.view.masked[2], "/sys/firmware");
    CHECK(s.view.masked[3] == NULL);
    CHECK_STR(s.view.readonly[1], "/proc/sysrq-trigger");
    CHECK_STR(s.view.sysctl[0], "net.ipv4.ping_group_range=0 0");
    CHECK_STR(s.view.sysctl[1], "kernel.domainname=a..b"); /* a value may hold dots */
    REQUIRE(s.view.ndevices == 2);
    CHECK_EQ(s.view.devices[0].type, 'c');
    CHECK_EQ(s.view.devices[0].minor, 229);
    CHECK_EQ(s.view.devices[0].mode, 0666); /* Go's S_IFCHR|0666: the type bits dropped */
    CHECK_EQ(s.view.devices[1].mode, 0666); /* absent: runc's default */
    oci_spec_free(&s);
}

TEST(view_refusals_name_the_field)
{
    static const struct {
        const char *json, *want;
    } bad[] = {
        { "{\"maskedPaths\": [\"proc/kcore\"]}", "maskedPaths[0] must be an absolute path" },
        { "{\"maskedPaths\": [\"/proc/../etc\"]}", "maskedPaths[0] must be an absolute path" },
        { "{\"readonlyPaths\": [\"/a\", 3]}", "readonlyPaths[1] must be an absolute path" },
        { "{\"readonlyPaths\": \"/proc\"}", "readonlyPaths must be an array" },
        { "{\"sysctl\": {\"/etc/passwd\": \"x\"}}", "\"/etc/passwd\": a name under /proc/sys" },
        { "{\"sysctl\": {\"net/../../x\": \"1\"}}", "a name under /proc/sys" },
        { "{\"sysctl\": {\"kernel.x\": 1}}", "linux.sysctl.kernel.x must be a string" },
        { "{\"devices\": [{\"path\": \"/dev/x\", \"type\": \"x\"}]}", "devices[0].type must be" },
        { "{\"devices\": [{\"path\": \"dev/x\", \"type\": \"c\"}]}", "devices[0].path must be" },
        { "{\"devices\": [{\"path\": \"/dev/x\", \"type\": \"b\", \"major\": -1}]}",
          "devices[0].major must be an integer" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct oci_spec s;
        struct bl_error err = { 0 };
        CHECK(parse(bad[i].json, &s, &err) < 0);
        if (!strstr(err.msg, bad[i].want))
            harness_fail(__FILE__, __LINE__, "%s: \"%s\" lacks \"%s\"", bad[i].json, err.msg,
                         bad[i].want);
    }
}
