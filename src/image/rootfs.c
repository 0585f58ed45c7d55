// SPDX-License-Identifier: Apache-2.0
#include "image/rootfs.h"

#include "common/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define BLOCK 4096ULL
#define MIB (1024ULL * 1024)

static int find_tool(const char *name, char *out, size_t n)
{
    if (strchr(name, '/')) {
        snprintf(out, n, "%s", name);
        return access(out, X_OK) == 0 ? 0 : -1;
    }
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "/usr/sbin:/sbin:%s", path ? path : "/usr/bin:/bin");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, n, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

int run_tool(char *const argv[], int stderr_is_error, struct bl_error *err)
{
    char exe[PATH_MAX];
    if (find_tool(argv[0], exe, sizeof exe) < 0)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "%s not found (install e2fsprogs)", argv[0]);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return bl_errno(err, errno, "pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
    pid_t pid;
    int rc = posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return bl_errno(err, rc, "run %s", exe);
    }
    /* Keep the first line and the last bytes of stderr. */
    char first[256] = "", tail[768] = "";
    size_t tlen = 0, total = 0;
    int in_first = 1;
    char buf[4096];
    ssize_t n;
    while ((n = read(pipefd[0], buf, sizeof buf)) != 0) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (ssize_t i = 0; i < n; i++) {
            char c = buf[i];
            if (in_first) {
                size_t fl = strlen(first);
                if (c == '\n')
                    in_first = 0;
                else if (fl + 1 < sizeof first) {
                    first[fl] = c;
                    first[fl + 1] = 0;
                }
                continue;
            }
            total++;
            if (tlen + 1 >= sizeof tail) {
                memmove(tail, tail + 1, tlen - 1);
                tlen--;
            }
            tail[tlen++] = c == '\n' ? ';' : c;
            tail[tlen] = 0;
        }
    }
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return bl_errno(err, errno, "wait %s", exe);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return bl_err(err, BOXLITE_ERR_IO, "%s failed (%s %d): %s%s%s", argv[0],
                      WIFEXITED(status) ? "exit" : "signal",
                      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), first,
                      tlen ? " " : "", tail);
    if (stderr_is_error && total > 0)
        return bl_err(err, BOXLITE_ERR_IO, "%s reported errors: %s", argv[0], tail);
    return 0;
}

/* One pass over the tree: sizes for mke2fs, and the debugfs corrections. */
struct walk {
    size_t rootlen;
    FILE *script; /* NULL: nothing to correct (the caller is root) */
    uint64_t blocks, inodes, fixups, bytes;
    int bad_name;
    char bad[256];
    uid_t self_uid;
    gid_t self_gid;
};
static __thread struct walk *cur_walk;

/* debugfs reads commands with its own tokenizer: quote names, double an inner quote. */
static void put_quoted(FILE *f, const char *path)
{
    fputc('"', f);
    for (const char *p = path; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static void fix(struct walk *w, const char *path, const char *field, unsigned long v)
{
    fputs("sif ", w->script);
    put_quoted(w->script, path);
    fprintf(w->script, " %s %lu\n", field, v);
    w->fixups++;
}

static int walk_entry(const char *fpath, const struct stat *st, int flag, struct FTW *ftw)
{
    struct walk *w = cur_walk;
    (void)flag;
    (void)ftw;
    const char *rel = fpath + w->rootlen;
    char path[PATH_MAX + 2];
    snprintf(path, sizeof path, "/%s", *rel == '/' ? rel + 1 : rel);
    if (strchr(path, '\n') && !w->bad_name) {
        w->bad_name = 1;
        snprintf(w->bad, sizeof w->bad, "%s", path);
    }
    w->inodes++;
    if (S_ISREG(st->st_mode)) {
        w->blocks += ((uint64_t)st->st_size + BLOCK - 1) / BLOCK;
        w->bytes += (uint64_t)st->st_size;
    } else if (S_ISDIR(st->st_mode) || S_ISLNK(st->st_mode)) {
        w->blocks += 1;
    }
    if (w->script) {
        if (st->st_uid == w->self_uid)
            fix(w, path, "uid", 0);
        if (st->st_gid == w->self_gid)
            fix(w, path, "gid", 0);
    }
    return 0;
}

int rootfs_build_ext4(const char *dir, const char *out_path, uint64_t headroom, struct rootfs_stats *stp,
                      struct bl_error *err)
{
    struct rootfs_stats local;
    if (!stp)
        stp = &local;
    memset(stp, 0, sizeof *stp);
    char tmp[PATH_MAX], script[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out_path) >= (int)sizeof tmp)
        return bl_err(err, BOXLITE_ERR_INVALID, "path too long: %.100s", out_path);
    cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "create %s", tmp);
    snprintf(script, sizeof script, "%s.debugfs", tmp);
    int r = 0;
    struct walk w = {.rootlen = strlen(dir), .self_uid = geteuid(), .self_gid = getegid()};
    if (w.self_uid != 0 && !(w.script = fopen(script, "we"))) {
        r = bl_errno(err, errno, "create %s", script);
        goto fail;
    }
    cur_walk = &w;
    int wr = nftw(dir, walk_entry, 64, FTW_PHYS);
    cur_walk = NULL;
    if (w.script && fclose(w.script) != 0 && !r)
        r = bl_errno(err, errno, "write %s", script);
    if (wr != 0)
        r = bl_errno(err, errno, "walk %s", dir);
    else if (w.bad_name)
        r = bl_err(err, BOXLITE_ERR_UNSUPPORTED, "file name with a newline cannot be put in ext4 image: %s", w.bad);
    if (r < 0)
        goto fail;

    /* Room for data, directories and inode tables (256-byte inodes), a journal, slack. */
    uint64_t inodes = w.inodes + w.inodes / 4 + 4096;
    uint64_t data = w.blocks * BLOCK;
    uint64_t size = data + data / 8 + inodes * 256 + 64 * MIB + headroom;
    size = (size + MIB - 1) / MIB * MIB;
    if (ftruncate(fd, (off_t)size) < 0) {
        r = bl_errno(err, errno, "size %s", tmp);
        goto fail;
    }
    char inodes_s[32];
    snprintf(inodes_s, sizeof inodes_s, "%llu", (unsigned long long)inodes);
    char *mkfs[] = {"mke2fs", "-q", "-F", "-t", "ext4", "-b", "4096", "-N", inodes_s, "-L", "boxlite-root",
                    "-d", (char *)dir, tmp, NULL};
    if ((r = run_tool(mkfs, 0, err)) < 0)
        goto fail;
    char *dbg[] = {"debugfs", "-w", "-f", script, tmp, NULL};
    if (w.fixups && (r = run_tool(dbg, 1, err)) < 0)
        goto fail;
    if (fsync(fd) < 0) {
        r = bl_errno(err, errno, "sync %s", tmp);
        goto fail;
    }
    /* A base is read by the jailed per-box process through a bind of its own; where no
     * idmapped mount is possible (tmpfs before 6.3) that process's uid is not the owner's:
     * readable by every user (the home's 0700 keeps other users out on the host). */
    if (fchmod(fd, 0644) < 0) {
        r = bl_errno(err, errno, "chmod %s", tmp);
        goto fail;
    }
    if (rename(tmp, out_path) < 0) {
        r = bl_errno(err, errno, "rename to %s", out_path);
        goto fail;
    }
    unlink(script);
    stp->files = w.inodes;
    stp->bytes = w.bytes;
    stp->fixups = w.fixups;
    stp->image_size = size;
    return 0;
fail:
    unlink(tmp);
    unlink(script);
    return bl_err_prefix(err, "build ext4 %s", out_path);
}
