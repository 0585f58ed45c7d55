// component: image
// SPDX-License-Identifier: Apache-2.0
/* Layer tarballs applied to an ext4 image by the builder (src/image/ext4build.c): entry
 * paths, links, whiteouts, opaque markers, sizes, extended attributes. Each input is applied
 * twice, as a lower and an upper layer, so that whiteouts and replacements meet entries of
 * a lower layer. A hostile layer must give an error, never a crash; an image that builds
 * must be one e2fsck finds nothing wrong with; nothing may appear beside it. */
#include "image/ext4build.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[64], empty[128], out[128];

static void cleanup_base(void)
{
    unlink(empty);
    unlink(out);
    rmdir(base);
}

/* Only the empty image and, after a build, the image itself may be in base. */
static void check_nothing_else(void)
{
    DIR *d = opendir(base);
    if (!d)
        abort();
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "empty.ext4") &&
            strcmp(de->d_name, "out.ext4")) {
            fprintf(stderr, "unexpected file %s/%s\n", base, de->d_name);
            abort();
        }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bl_error e = {0};
    struct ext4b *b;
    if (!base[0]) {
        snprintf(base, sizeof base, "/tmp/fuzz-tar.XXXXXX");
        if (!mkdtemp(base))
            abort();
        snprintf(empty, sizeof empty, "%s/empty.ext4", base);
        snprintf(out, sizeof out, "%s/out.ext4", base);
        atexit(cleanup_base);
        if (ext4b_create(&b, empty, 0, &e) < 0 || ext4b_finish(b, EXT4B_KEEP_SIZE, NULL, &e) < 0) {
            fprintf(stderr, "empty image: %s\n", e.msg);
            abort();
        }
        ext4b_free(b);
    }
    if (ext4b_create_from(&b, out, empty, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        abort();
    }
    int r = ext4b_apply_mem(b, data, size, &e);
    if (r == 0)
        r = ext4b_apply_mem(b, data, size, &e);
    if (r == 0 && ext4b_finish(b, EXT4B_KEEP_SIZE, NULL, &e) < 0) {
        /* Only the host may fail here (a full disk), never the layer. */
        fprintf(stderr, "finish: %s\n", e.msg);
        abort();
    }
    ext4b_free(b);
    if (r == 0) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "e2fsck -fn %s >/dev/null 2>&1", out);
        int st = system(cmd);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            snprintf(cmd, sizeof cmd, "e2fsck -fn %s >&2", out);
            if (system(cmd)) {
            }
            abort();
        }
    } else if (access(out, F_OK) == 0) {
        abort(); /* a failed build leaves nothing */
    }
    check_nothing_else();
    unlink(out);
    /* Same bytes as a path. */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = 0;
        char p[4096];
        if (ext4b_clean_path(s, p, sizeof p, &e) == 0 &&
            (p[0] == '/' || strstr(p, "//") || !strcmp(p, "..") || !strncmp(p, "../", 3) || strstr(p, "/../") ||
             (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/.."))))
            abort();
        free(s);
    }
    return 0;
}
