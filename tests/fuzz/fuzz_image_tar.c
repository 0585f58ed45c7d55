// component: image
/* Layer tarballs: entry paths, links, whiteouts, applied to a scratch directory. Checks
 * that nothing appears outside it. */
#include "image/unpack.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)f;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static char base[64];

static void cleanup_base(void) { nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0]) {
        snprintf(base, sizeof base, "/tmp/fuzz-tar.XXXXXX");
        if (!mkdtemp(base))
            abort();
        atexit(cleanup_base);
    }
    char root[128], sentinel[128];
    snprintf(root, sizeof root, "%s/root", base);
    snprintf(sentinel, sizeof sentinel, "%s/outside", base);
    mkdir(root, 0755);
    int fd = open(root, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        abort();
    struct fsmeta m;
    fsmeta_init(&m);
    struct bl_error e = {0};
    layer_apply_mem(fd, data, size, &m, &e);
    /* Same bytes as a path. */
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = 0;
        char out[4096];
        if (unpack_clean_path(s, out, sizeof out, &e) == 0 &&
            (out[0] == '/' || strstr(out, "//") || !strcmp(out, "..") || !strncmp(out, "../", 3) ||
             strstr(out, "/../") || (strlen(out) >= 3 && !strcmp(out + strlen(out) - 3, "/.."))))
            abort();
        free(s);
    }
    fsmeta_free(&m);
    close(fd);
    /* Only "root" may exist in base. */
    struct stat st;
    if (lstat(sentinel, &st) == 0)
        abort();
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
