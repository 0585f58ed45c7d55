// SPDX-License-Identifier: Apache-2.0
/* Files (docs/api.yaml tag Files): PUT .../files?path=P unpacks a tar stream at P in the
 * box, GET .../files?path=P answers P as a tar stream, both through the library's copies
 * (boxlite_box_copy_in, boxlite_box_copy_out_opts), as `boxlite cp` does.
 * The client is hostile: its archive goes to a private scratch directory on disk (never
 * held in memory), bounded by --max-file-bytes before and while it arrives, and is unpacked
 * there with the rules for an untrusted side (proto/tar.h tar_extract_untrusted: no
 * absolute names or "..", no devices, no setuid bits, bounded) before the library copies
 * it in; P itself must be absolute without ".." (serve_guest_path). A download is bounded
 * the same way, as the guest's data it is. */
#include "serve/server.h"

#include "common/io.h"
#include "proto/tar.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A private directory for one request's files, in $TMPDIR (or /tmp), mode 0700. */
int serve_scratch_make(struct req *q)
{
    if (q->scratch[0])
        return 0;
    const char *t = getenv("TMPDIR");
    if (!t || t[0] != '/')
        t = "/tmp";
    if (snprintf(q->scratch, sizeof q->scratch, "%s/boxlite-serve.XXXXXX", t) >=
            (int)sizeof q->scratch ||
        !mkdtemp(q->scratch)) {
        q->scratch[0] = 0;
        return -1;
    }
    return 0;
}

int serve_files_upload_open(struct req *q)
{
    if (serve_scratch_make(q))
        return -1;
    char p[sizeof q->scratch + 16];
    snprintf(p, sizeof p, "%s/in.tar", q->scratch);
    q->upload_fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    return q->upload_fd < 0 ? -1 : 0;
}

void serve_files_cleanup(struct req *q)
{
    if (q->upload_fd > 0)
        close(q->upload_fd);
    q->upload_fd = 0;
    if (q->scratch[0])
        io_remove_tree(q->scratch);
    q->scratch[0] = 0;
}

/* The last component of a normalised path, "." for "/": the archive's root entry. */
static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s && s[1] ? s + 1 : ".";
}

static enum MHD_Result download(struct MHD_Connection *c, struct req *q, boxlite_box *b,
                                const char *path)
{
    bool follow;
    if (serve_bool_arg(req_arg(c, "follow_symlinks"), false, &follow))
        return reply_error(c, q, 400, "InvalidArgumentError", "follow_symlinks: true or false");
    if (follow)
        return reply_error(c, q, 501, "UnsupportedError",
                           "follow_symlinks=true: symlinks are archived as symlinks, never "
                           "followed (a link in the box may point anywhere)");
    if (serve_scratch_make(q))
        return reply_error(c, q, 500, "StorageError", "scratch directory: %s",
                           strerror(errno));
    char out[sizeof q->scratch + 16], tarp[sizeof q->scratch + 16];
    snprintf(out, sizeof out, "%s/out", q->scratch);
    snprintf(tarp, sizeof tarp, "%s/out.tar", q->scratch);
    boxlite_copy_options o = { .size = sizeof o, .max_bytes = q->s->cfg.max_file };
    if (boxlite_box_copy_out_opts(b, path, out, &o) != BOXLITE_OK)
        return reply_lib_error(c, q, "download"); /* a path missing in the box: 404 */
    int fd = open(tarp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return reply_error(c, q, 500, "StorageError", "archive: %s", strerror(errno));
    struct bl_error err = {0};
    uint64_t bytes = 0;
    if (tar_write_as(fd, out, base_name(path), &bytes, &err) || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return reply_error(c, q, 500, "StorageError", "archive: %s", err.msg);
    }
    /* the descriptor keeps the archive alive; the scratch directory goes now */
    io_remove_tree(q->scratch);
    q->scratch[0] = 0;
    struct MHD_Response *r = MHD_create_response_from_fd64(bytes, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/x-tar");
    return reply_response(c, q, 200, r);
}

static enum MHD_Result upload(struct MHD_Connection *c, struct req *q, boxlite_box *b,
                              const char *path)
{
    bool overwrite;
    if (serve_bool_arg(req_arg(c, "overwrite"), true, &overwrite))
        return reply_error(c, q, 400, "InvalidArgumentError", "overwrite: true or false");
    if (!overwrite)
        return reply_error(c, q, 501, "UnsupportedError",
                           "overwrite=false is not implemented: an upload replaces the files "
                           "it names");
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (ct && strncasecmp(ct, "application/x-tar", 17) &&
        strncasecmp(ct, "application/octet-stream", 24))
        return reply_error(c, q, 400, "InvalidArgumentError",
                           "the body is a tar archive (Content-Type application/x-tar)");
    if (q->upload_fd <= 0 || lseek(q->upload_fd, 0, SEEK_SET) != 0)
        return reply_error(c, q, 500, "StorageError", "the upload was not kept");
    char x[sizeof q->scratch + 16];
    snprintf(x, sizeof x, "%s/x", q->scratch);
    struct bl_error err = {0};
    struct tar_untrusted u = { .max_bytes = q->s->cfg.max_file };
    if (tar_extract_untrusted(q->upload_fd, x, &u, NULL, &err))
        return reply_error(c, q, err.code == BOXLITE_ERR_IO ? 500 : 400,
                           err.code == BOXLITE_ERR_IO ? "StorageError" : "InvalidArgumentError",
                           "archive: %s", err.msg);
    struct stat st;
    if (lstat(x, &st) != 0)
        return reply_error(c, q, 400, "InvalidArgumentError", "archive: it holds no entry");
    if (boxlite_box_copy_in(b, x, path) != BOXLITE_OK)
        return reply_lib_error(c, q, "upload");
    return reply_empty(c, q, 204);
}

enum MHD_Result h_files(struct MHD_Connection *c, struct req *q)
{
    char path[SERVE_PATH_MAX + 2];
    struct bl_error err = {0};
    if (serve_guest_path(req_arg(c, "path"), path, sizeof path, &err))
        return reply_error(c, q, 400, "InvalidArgumentError", "%s", err.msg);
    enum MHD_Result res;
    boxlite_box *b = req_box(c, q, &res);
    if (!b)
        return res;
    res = !strcmp(q->method, "GET") ? download(c, q, b, path) : upload(c, q, b, path);
    boxlite_box_free(b);
    return res;
}
