// SPDX-License-Identifier: Apache-2.0
/* What the log fuzz targets (fuzz_logindex, fuzz_log_position) share: a folder of their own,
 * made at the first input and removed at exit, holding console.log and its time index. */
#ifndef BOXLITE_FUZZ_LOG_DIR_H
#define BOXLITE_FUZZ_LOG_DIR_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char log_dir[64];
static char log_path[128]; /* log_dir/console.log */

static void log_dir_put(const char *name, const void *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", log_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (n && write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void log_dir_cleanup(void)
{
    char p[128];
    snprintf(p, sizeof p, "%s/console.log.idx", log_dir);
    unlink(p);
    unlink(log_path);
    rmdir(log_dir);
}

/* console.log holding the log's bytes, a new inode each time (as a rotation makes, so an
 * index of the previous input never matches by chance); its inode. tmpl names the folder
 * (mkdtemp) at the first call. */
static uint64_t log_dir_write(const char *tmpl, const void *log, size_t len)
{
    if (!log_dir[0]) {
        snprintf(log_dir, sizeof log_dir, "%s", tmpl);
        if (!mkdtemp(log_dir))
            abort();
        snprintf(log_path, sizeof log_path, "%s/console.log", log_dir);
        atexit(log_dir_cleanup);
    }
    unlink(log_path);
    log_dir_put("console.log", log, len);
    struct stat st;
    if (stat(log_path, &st) != 0)
        abort();
    return (uint64_t)st.st_ino;
}

#endif
