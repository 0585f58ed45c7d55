// SPDX-License-Identifier: Apache-2.0
#include "common/userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int proc_write(pid_t pid, const char *file, const char *text)
{
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof path, "/proc/self/%s", file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    return n == (ssize_t)strlen(text) ? 0 : -e;
}

/* The child behind userns_idmap_fd: born in the namespace, it waits for the pipe to close.
 * It shares our memory (CLONE_VM: no copy of page tables) and our thread's TLS, so it makes
 * raw system calls only (a libc wrapper would set our errno). */
static int idmap_child(void *arg)
{
    const int *sync = arg;
    char c;
    syscall(SYS_close, sync[1]);
    syscall(SYS_read, sync[0], &c, 1);
    return 0;
}

int userns_idmap_fd(uid_t inner, uid_t outer, gid_t ginner, gid_t gouter, uint32_t count)
{
    /* the child's stack is ours: it ends before we return (waitpid below) */
    char stack[16384] __attribute__((aligned(64)));
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = clone(idmap_child, stack + sizeof stack, CLONE_NEWUSER | CLONE_VM | SIGCHLD,
                      sync);
    int fd = -1, e = errno;
    if (pid > 0) {
        char map[64], gmap[64], path[64];
        snprintf(map, sizeof map, "%u %u %u\n", (unsigned)inner, (unsigned)outer, count);
        snprintf(gmap, sizeof gmap, "%u %u %u\n", (unsigned)ginner, (unsigned)gouter, count);
        snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
        int r = proc_write(pid, "uid_map", map);
        if (!r)
            r = proc_write(pid, "gid_map", gmap);
        if (!r && (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            r = -errno;
        e = -r;
    }
    close(sync[0]);
    close(sync[1]); /* the child reads end of file and ends */
    if (pid > 0)
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
        }
    errno = e;
    return fd;
}
