// SPDX-License-Identifier: Apache-2.0
/* The container record of boxlite-runtime (state.h) and runtime-spec's state document
 * (runtime.md "State": ociVersion, id, status, pid, bundle, annotations). */
#include "oci/state.h"

#include "common/cleanup.h"
#include "common/io.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int oci_id_valid(const char *id, struct bl_error *err)
{
    size_t n = strlen(id);
    if (!n || n > OCI_ID_MAX || !strcmp(id, ".") || !strcmp(id, ".."))
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid container id \"%.200s\"", id);
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.'))
            return bl_err(err, BOXLITE_ERR_INVALID, "invalid container id \"%.200s\"", id);
    }
    return 0;
}

const char *oci_status_name(enum oci_status s)
{
    switch (s) {
    case OCI_CREATING: return "creating";
    case OCI_CREATED: return "created";
    case OCI_RUNNING: return "running";
    case OCI_STOPPED: return "stopped";
    case OCI_PAUSED: return "paused";
    }
    return "stopped";
}

static int str_field(json_t *root, const char *k, char **out, struct bl_error *err)
{
    json_t *v = json_object_get(root, k);
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return bl_err(err, BOXLITE_ERR_INVALID, "state: %s is not a string", k);
    if (!(*out = strdup(json_string_value(v))))
        return bl_err(err, BOXLITE_ERR_NOMEM, "state: out of memory");
    return 0;
}

int oci_state_parse(const char *json, size_t len, struct oci_state *out, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return bl_err(err, BOXLITE_ERR_INVALID, "state: not a JSON object");
    }
    struct oci_state s = { 0 };
    int r = str_field(root, "id", &s.id, err);
    if (!r)
        r = oci_id_valid(s.id, err);
    if (!r)
        r = str_field(root, "bundle", &s.bundle, err);
    if (!r)
        r = str_field(root, "rootfs", &s.rootfs, err);
    if (!r)
        r = str_field(root, "created", &s.created, err);
    if (!r)
        r = str_field(root, "box", &s.box, err);
    json_t *pid = json_object_get(root, "pid"), *start = json_object_get(root, "pid_start");
    if (!r && (!json_is_integer(pid) || json_integer_value(pid) < 1 ||
               json_integer_value(pid) > (1 << 22) || !json_is_integer(start) ||
               json_integer_value(start) < 0))
        r = bl_err(err, BOXLITE_ERR_INVALID, "state: pid or pid_start is not valid");
    if (!r) {
        s.pid = json_integer_value(pid);
        s.pid_start = (uint64_t)json_integer_value(start);
    }
    json_decref(root);
    if (r) {
        oci_state_free(&s);
        return r;
    }
    *out = s;
    return 0;
}

char *oci_state_dump(const struct oci_state *st)
{
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I}", "id", st->id, "bundle",
                          st->bundle, "rootfs", st->rootfs, "created", st->created, "box",
                          st->box, "pid",
                          (json_int_t)st->pid, "pid_start", (json_int_t)st->pid_start);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

char *oci_state_report(const struct oci_state *st, enum oci_status status)
{
    json_int_t pid = status == OCI_STOPPED ? 0 : (json_int_t)st->pid;
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:{}}", "ociVersion",
                          OCI_SPEC_VERSION, "id", st->id, "status", oci_status_name(status),
                          "pid", pid, "bundle", st->bundle, "rootfs", st->rootfs, "created",
                          st->created, "owner", "", "annotations");
    char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    return s;
}

void oci_state_free(struct oci_state *st)
{
    if (!st)
        return;
    free(st->id);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->box);
    memset(st, 0, sizeof *st);
}

int oci_write_atomic(const char *path, const char *data, size_t len, struct bl_error *err)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof tmp)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %s", path);
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", tmp);
    if (io_write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e, "write %s", tmp);
    }
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return bl_errno(err, e, "rename %s to %s", tmp, path);
    }
    return 0;
}

void oci_now_rfc3339(char *out, size_t len)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char day[40];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%09ldZ", day, ts.tv_nsec);
}
