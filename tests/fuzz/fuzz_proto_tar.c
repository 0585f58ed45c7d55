// component: proto
// SPDX-License-Identifier: Apache-2.0
/* The file-copy tar reader on arbitrary archives: it must refuse or extract, never crash,
 * and never create anything outside its destination (checked around it after each run).
 * The same archive then goes through the copy-out reader (tar_extract_untrusted, a 64 KiB
 * limit): nothing outside, and inside no setuid/setgid bit, no device node or FIFO. */
#include "memfd_input.h"
#include "proto/tar.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static char base[64];

static int bad_modes;
static int check_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)p;
    (void)flag;
    (void)f;
    if ((st->st_mode & 06000) || S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ||
        S_ISFIFO(st->st_mode))
        bad_modes++;
    return 0;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    remove(p);
    return 0;
}

/* Entries of dir other than `allowed` (may be NULL). */
static int strangers(const char *dir, const char *allowed)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
            (!allowed || strcmp(de->d_name, allowed)))
            n++;
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        snprintf(base, sizeof base, "/tmp/fuzz_proto_tar.%d", (int)getpid());
    char box[128], dest[128], outside[128];
    snprintf(box, sizeof box, "%s/box", base);
    snprintf(dest, sizeof dest, "%s/box/dest", base);
    snprintf(outside, sizeof outside, "%s/outside", base);
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    mkdir(base, 0700);
    mkdir(box, 0700);
    mkdir(outside, 0700);
    int fd = memfd_input("tar", data, size);
    if (fd < 0)
        return 0;
    struct bl_error e;
    tar_extract(fd, dest, NULL, &e);
    if (strangers(box, "dest") || strangers(outside, NULL) || strangers(base, NULL) != 2)
        __builtin_trap(); /* something was written outside dest */
    nftw(dest, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    lseek(fd, 0, SEEK_SET);
    struct tar_untrusted u = { .max_bytes = 65536 };
    tar_extract_untrusted(fd, dest, &u, NULL, &e);
    close(fd);
    if (strangers(box, "dest") || strangers(outside, NULL) || strangers(base, NULL) != 2)
        __builtin_trap(); /* something was written outside dest */
    bad_modes = 0;
    nftw(dest, check_one, 16, FTW_PHYS);
    if (bad_modes)
        __builtin_trap(); /* a setuid bit or a device came out of a copy out */
    return 0;
}
