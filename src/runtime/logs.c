// SPDX-License-Identifier: Apache-2.0
/* Reading a box's logs as the per-box process rotates them (src/vmm/logrot.h: <log> is the
 * newest, <log>.1 older, up to <log>.<files-1>; a rotation is a rename). A reader goes from
 * the oldest retained file to the newest; at the end of a file it finds where that file
 * went (by inode) and continues with the next newer one, so a rotation between two reads
 * loses nothing it can still reach. The console's last lines (boxlite_box_console) too. */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "runtime/api_error.h"
#include "runtime/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FILES BL_MAX_LOG_MAX_FILES

struct boxlite_log {
    char *path;
    int files;   /* how many to look at: <path>, <path>.1 ... <path>.<files-1> */
    int fd;
    dev_t dev;
    ino_t ino;
};

static void name_of(const struct boxlite_log *l, int idx, char *out, size_t len)
{
    if (idx == 0)
        snprintf(out, len, "%s", l->path);
    else
        snprintf(out, len, "%s.%d", l->path, idx);
}

static bool open_idx(struct boxlite_log *l, int idx)
{
    char p[4300];
    name_of(l, idx, p, sizeof p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    l->fd = fd;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    return true;
}

/* Where the file we hold is now: its index, or -1 when it is no longer retained. */
static int where_now(const struct boxlite_log *l)
{
    for (int i = 0; i < l->files; i++) {
        char p[4300];
        struct stat st;
        name_of(l, i, p, sizeof p);
        if (stat(p, &st) == 0 && st.st_ino == l->ino && st.st_dev == l->dev)
            return i;
    }
    return -1;
}

/* Opens the oldest retained file newer than index `after` (after = files: the oldest). */
static bool open_older_first(struct boxlite_log *l, int after)
{
    for (int i = after - 1; i >= 0; i--)
        if (open_idx(l, i))
            return true;
    return false;
}

BOXLITE_API int boxlite_box_log_open(boxlite_box *b, const char *which, boxlite_log **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(b && which, "NULL argument");
    const char *file = !strcmp(which, "console") ? "console.log"
                       : !strcmp(which, "vmm")   ? "vmm.log"
                                                 : NULL;
    if (!file)
        return api_fail(BOXLITE_ERR_INVALID, "logs: \"%s\" is not console or vmm", which);
    boxlite_log *l = calloc(1, sizeof *l);
    if (!l || asprintf(&l->path, "%s/%s", b->dir, file) < 0) {
        free(l);
        return api_fail(BOXLITE_ERR_NOMEM, "logs: out of memory");
    }
    /* Look past the box's own setting: it may have been changed since the log was
     * written, and a missing file costs one stat. */
    l->files = b->opts.log_max_files > BL_DEFAULT_LOG_MAX_FILES ? b->opts.log_max_files
                                                               : BL_DEFAULT_LOG_MAX_FILES;
    if (l->files > MAX_FILES)
        l->files = MAX_FILES;
    l->fd = -1;
    open_older_first(l, l->files);
    *out = l;
    return api_return(0, NULL);
}

BOXLITE_API long long boxlite_log_read(boxlite_log *l, void *buf, size_t len)
{
    if (!l || (!buf && len)) {
        api_fail(BOXLITE_ERR_INVALID, "boxlite_log_read: NULL argument");
        return -1;
    }
    for (int hops = 0; hops <= l->files + 1; hops++) {
        if (l->fd < 0 && !open_older_first(l, l->files))
            return 0; /* no log yet */
        ssize_t n = read(l->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            api_fail(BOXLITE_ERR_IO, "read log %s: %s", l->path, strerror(errno));
            return -1;
        }
        if (n > 0)
            return n;
        /* End of this file: the newest still growing, or one rotated away from under us. */
        int at = where_now(l);
        if (at == 0)
            return 0;
        /* Keep the file we hold until a newer one opens: between a rotation's rename and
         * the new file's creation there is none, and starting over from the oldest would
         * read this one again. */
        int held = l->fd;
        l->fd = -1;
        if (!open_older_first(l, at < 0 ? l->files : at)) {
            l->fd = held;
            return 0;
        }
        close(held);
    }
    return 0;
}

BOXLITE_API void boxlite_log_close(boxlite_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l->path);
    free(l);
}

BOXLITE_API int boxlite_box_console(boxlite_box *b, char **text_out)
{
    API_CHECK_ARG(b && text_out, "NULL argument");
    *text_out = NULL;
    char path[4200];
    box_file_path(path, sizeof path, b->dir, BOX_CONSOLE_LOG, 0);
    /* The newest file may have just been started by a rotation: then the lines are in the
     * one before. */
    char *text = rt_tail_file(path, 1000);
    if (!text || !*text) {
        free(text);
        box_file_path(path, sizeof path, b->dir, BOX_CONSOLE_LOG, 1);
        text = rt_tail_file(path, 1000);
    }
    if (!text)
        return api_fail(BOXLITE_ERR_NOT_FOUND, "box %s has no console log yet", b->name);
    *text_out = text;
    return api_return(0, NULL);
}
