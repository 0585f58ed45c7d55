// SPDX-License-Identifier: Apache-2.0
/* Disk snapshots, clones, export and import through the public API, on boxes that are never
 * booted: the disk is written and read through the disk layer (the same qcow2 code the KVM
 * engine runs), every image is checked with qemu-img, and hostile archives are built with
 * libarchive from a good one. Inside a running guest: tests/e2e/snapshot.sh. */
#include "boxlite.h"
#include "disk/disk.h"
#include "harness/harness.h"
#include "runtime/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char rootfs[600];

static boxlite_runtime *open_home(const char *name)
{
    char home[800];
    snprintf(home, sizeof home, "%s/%s", harness_tmpdir(), name);
    boxlite_runtime *rt = NULL;
    if (boxlite_runtime_open(home, &rt) != BOXLITE_OK)
        harness_fail(__FILE__, __LINE__, "open: %s", boxlite_errmsg());
    return rt;
}

static boxlite_box *make_box(boxlite_runtime *rt, const char *name)
{
    snprintf(rootfs, sizeof rootfs, "%s/rootfs", harness_tmpdir());
    mkdir(rootfs, 0755);
    char p[700];
    snprintf(p, sizeof p, "%s/hello", rootfs);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("hello\n", f);
        fclose(f);
    }
    boxlite_options *o = NULL;
    boxlite_box *b = NULL;
    boxlite_options_new(&o);
    boxlite_options_set_rootfs_path(o, rootfs);
    boxlite_options_set_auto_remove(o, 0);
    boxlite_options_set_name(o, name);
    if (boxlite_box_create(rt, o, &b) != BOXLITE_OK)
        harness_fail(__FILE__, __LINE__, "create: %s", boxlite_errmsg());
    boxlite_options_free(o);
    return b;
}

static void box_dir(boxlite_runtime *rt_home_name_unused, boxlite_box *b, const char *home,
                    char *out, size_t n)
{
    (void)rt_home_name_unused;
    snprintf(out, n, "%s/%s/boxes/%s", harness_tmpdir(), home, boxlite_box_id(b));
}

/* Writes len bytes of c at off into the box's disk (through its whole chain). */
static int disk_put(const char *dir, uint64_t off, char c)
{
    char p[900], buf[4096];
    snprintf(p, sizeof p, "%s/disk.qcow2", dir);
    memset(buf, c, sizeof buf);
    struct disk *d = NULL;
    struct bl_error err = { 0 };
    if (disk_open_fmt(&d, p, "qcow2", 0, &err) < 0) {
        printf("# %s\n", err.msg);
        return -1;
    }
    int r = disk_write(d, buf, off, sizeof buf, &err);
    disk_close(d);
    return r;
}

/* The byte at off of the box's disk, or -1. */
static int disk_get(const char *dir, uint64_t off)
{
    char p[900];
    unsigned char buf[512];
    snprintf(p, sizeof p, "%s/disk.qcow2", dir);
    struct disk *d = NULL;
    struct bl_error err = { 0 };
    if (disk_open_fmt(&d, p, "qcow2", 1, &err) < 0) {
        printf("# %s\n", err.msg);
        return -1;
    }
    int r = disk_read(d, buf, off, sizeof buf, &err);
    disk_close(d);
    return r < 0 ? -1 : buf[0];
}

/* SHA-256 of the whole virtual disk, read through the chain. */
static void disk_sum(const char *dir, char out[65])
{
    char p[900];
    snprintf(p, sizeof p, "%s/disk.qcow2", dir);
    struct disk *d = NULL;
    struct bl_error err = { 0 };
    strcpy(out, "unreadable");
    if (disk_open_fmt(&d, p, "qcow2", 1, &err) < 0)
        return;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    static unsigned char buf[1 << 20];
    for (uint64_t off = 0; off < d->size; off += sizeof buf) {
        size_t n = d->size - off < sizeof buf ? (size_t)(d->size - off) : sizeof buf;
        if (disk_read(d, buf, off, n, &err) < 0)
            break;
        EVP_DigestUpdate(c, buf, n);
    }
    unsigned char md[32];
    unsigned len;
    EVP_DigestFinal_ex(c, md, &len);
    EVP_MD_CTX_free(c);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    disk_close(d);
}

/* Every qcow2 in the folder passes `qemu-img check`; returns how many were checked. */
static int qemu_img_check_all(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 6, ".qcow2"))
            continue;
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "qemu-img check -q '%s/%s'", dir, e->d_name);
        if (system(cmd) != 0)
            harness_fail(__FILE__, __LINE__, "qemu-img check %s/%s failed", dir, e->d_name);
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void need_tools(void)
{
    if (access("/usr/bin/qemu-img", X_OK) != 0)
        harness_need("qemu-img (qemu-utils)");
}

#define OFF_A (1u << 20)
#define OFF_B (3u << 20)

TEST_TIMEOUT(snapshot_restore_brings_back_the_disk, 120)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    boxlite_box *b = make_box(rt, "snap");
    REQUIRE(b);
    char dir[900];
    box_dir(rt, b, "h", dir, sizeof dir);
    /* a box never started gets its disk at its first snapshot */
    REQUIRE(boxlite_snapshot_create(b, "s1") == BOXLITE_OK);
    REQUIRE(disk_put(dir, OFF_A, 'A') == 0);
    REQUIRE(boxlite_snapshot_create(b, "s2") == BOXLITE_OK);
    REQUIRE(disk_put(dir, OFF_A, 'B') == 0);
    REQUIRE(disk_put(dir, OFF_B, 'B') == 0);
    CHECK_EQ(disk_get(dir, OFF_A), 'B');
    CHECK_EQ(boxlite_snapshot_create(b, "s2"), BOXLITE_ERR_EXISTS);
    CHECK_EQ(boxlite_snapshot_create(b, "../x"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_snapshot_restore(b, "nope"), BOXLITE_ERR_NOT_FOUND);

    REQUIRE(boxlite_snapshot_restore(b, "s2") == BOXLITE_OK);
    CHECK_EQ(disk_get(dir, OFF_A), 'A');
    CHECK_EQ(disk_get(dir, OFF_B), 0); /* written after s2: gone */
    REQUIRE(boxlite_snapshot_restore(b, "s1") == BOXLITE_OK);
    CHECK_EQ(disk_get(dir, OFF_A), 0);
    /* the restore kept s2: back to it again */
    REQUIRE(boxlite_snapshot_restore(b, "s2") == BOXLITE_OK);
    CHECK_EQ(disk_get(dir, OFF_A), 'A');

    char *js = NULL;
    REQUIRE(boxlite_snapshot_list(b, &js) == BOXLITE_OK);
    json_t *a = json_loads(js, 0, NULL);
    boxlite_free(js);
    CHECK_EQ(json_array_size(a), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(a, 0), "name")), "s1");
    CHECK_STR(json_string_value(json_object_get(json_array_get(a, 1), "name")), "s2");
    json_decref(a);
    CHECK(qemu_img_check_all(dir) >= 3);

    /* removing both names keeps what the disk still sits on, and nothing else */
    REQUIRE(boxlite_snapshot_remove(b, "s1") == BOXLITE_OK);
    REQUIRE(boxlite_snapshot_remove(b, "s2") == BOXLITE_OK);
    CHECK_EQ(boxlite_snapshot_remove(b, "s2"), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(disk_get(dir, OFF_A), 'A');
    CHECK_EQ(qemu_img_check_all(dir), 3); /* disk.qcow2 over s2's layer over s1's */
    REQUIRE(boxlite_snapshot_list(b, &js) == BOXLITE_OK);
    CHECK_STR(js, "[]");
    boxlite_free(js);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

TEST_TIMEOUT(clone_is_independent_of_its_source, 120)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    boxlite_box *src = make_box(rt, "src");
    REQUIRE(src);
    char sdir[900], cdir[900];
    box_dir(rt, src, "h", sdir, sizeof sdir);
    REQUIRE(boxlite_snapshot_create(src, "first") == BOXLITE_OK);
    REQUIRE(disk_put(sdir, OFF_A, 'S') == 0);
    boxlite_box *cl = NULL;
    REQUIRE(boxlite_box_clone(rt, "src", "copy", &cl) == BOXLITE_OK);
    boxlite_box *again = NULL;
    CHECK_EQ(boxlite_box_clone(rt, "src", "copy", &again), BOXLITE_ERR_EXISTS);
    CHECK(again == NULL);
    box_dir(rt, cl, "h", cdir, sizeof cdir);
    CHECK_EQ(disk_get(cdir, OFF_A), 'S'); /* the source's history */
    REQUIRE(disk_put(sdir, OFF_A, 'T') == 0);
    REQUIRE(disk_put(cdir, OFF_B, 'C') == 0);
    CHECK_EQ(disk_get(sdir, OFF_A), 'T');
    CHECK_EQ(disk_get(cdir, OFF_A), 'S');
    CHECK_EQ(disk_get(sdir, OFF_B), 0);
    CHECK_EQ(disk_get(cdir, OFF_B), 'C');
    CHECK(qemu_img_check_all(sdir) >= 2);
    CHECK(qemu_img_check_all(cdir) >= 2);
    /* the clone outlives its source (its layers are its own names for the same files) */
    REQUIRE(boxlite_box_remove(rt, "src", 1) == BOXLITE_OK);
    CHECK_EQ(disk_get(cdir, OFF_A), 'S');
    CHECK_EQ(disk_get(cdir, OFF_B), 'C');
    boxlite_box_free(src);
    boxlite_box_free(cl);
    boxlite_runtime_close(rt);
}

/* ---- export and import ------------------------------------------------------------------ */

static void exported(boxlite_runtime *rt, char *file, size_t n, char sum[65])
{
    boxlite_box *b = make_box(rt, "orig");
    char dir[900];
    box_dir(rt, b, "h", dir, sizeof dir);
    if (boxlite_snapshot_create(b, "s1") != BOXLITE_OK || disk_put(dir, OFF_A, 'E') < 0)
        harness_fail(__FILE__, __LINE__, "set-up: %s", boxlite_errmsg());
    snprintf(file, n, "%s/orig.box", harness_tmpdir());
    if (boxlite_box_export(b, file) != BOXLITE_OK)
        harness_fail(__FILE__, __LINE__, "export: %s", boxlite_errmsg());
    disk_sum(dir, sum);
    boxlite_box_free(b);
}

TEST_TIMEOUT(export_then_import_on_a_fresh_home_gives_the_same_disk, 180)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    char file[900], sum[65], sum2[65];
    exported(rt, file, sizeof file, sum);
    boxlite_runtime *fresh = open_home("fresh");
    REQUIRE(fresh);
    boxlite_box *b = NULL;
    REQUIRE(boxlite_box_import(fresh, file, NULL, &b) == BOXLITE_OK);
    CHECK_STR(boxlite_box_name(b), "orig");
    char dir[900];
    box_dir(fresh, b, "fresh", dir, sizeof dir);
    disk_sum(dir, sum2);
    CHECK_STR(sum2, sum);
    CHECK_EQ(disk_get(dir, OFF_A), 'E');
    CHECK(qemu_img_check_all(dir) >= 2);
    /* the same name twice: refused, nothing left; another name: a second box */
    boxlite_box *b2 = NULL;
    CHECK_EQ(boxlite_box_import(fresh, file, NULL, &b2), BOXLITE_ERR_EXISTS);
    REQUIRE(boxlite_box_import(fresh, file, "again", &b2) == BOXLITE_OK);
    /* writes to one import are not in the other */
    char dir2[900];
    box_dir(fresh, b2, "fresh", dir2, sizeof dir2);
    REQUIRE(disk_put(dir2, OFF_A, 'X') == 0);
    CHECK_EQ(disk_get(dir, OFF_A), 'E');
    /* an imported box exports again (its base is a layer of its own) */
    char file2[900];
    snprintf(file2, sizeof file2, "%s/again.box", harness_tmpdir());
    CHECK_EQ(boxlite_box_export(b2, file2), BOXLITE_OK);
    char imp[900];
    snprintf(imp, sizeof imp, "%s/fresh/import-tmp", harness_tmpdir());
    CHECK_EQ(count_entries(imp), 0);
    boxlite_box_free(b);
    boxlite_box_free(b2);
    boxlite_runtime_close(fresh);
    boxlite_runtime_close(rt);
}

/* A copy of the archive at in, written to out with a mutation: for each member, edit()
 * may rename it, change its type or size, replace its bytes, or drop it; extra() may add
 * members at the end. */
struct mut {
    const char *name;  /* member to change */
    const char *rename;
    int type;          /* AE_IFLNK, AE_IFDIR ...; 0 keeps AE_IFREG */
    long flip;         /* byte offset to flip, or -1 */
    const void *data;  /* replacement bytes (size from len) */
    size_t len;
    const char *extra; /* a member appended after the others, or NULL */
    bool drop;
};

static int rewrite(const char *in, const char *out, const struct mut *m)
{
    struct archive *r = archive_read_new(), *w = archive_write_new();
    archive_read_support_format_tar(r);
    archive_read_support_filter_zstd(r);
    archive_write_set_format_pax_restricted(w);
    archive_write_add_filter_zstd(w);
    if (archive_read_open_filename(r, in, 65536) != ARCHIVE_OK ||
        archive_write_open_filename(w, out) != ARCHIVE_OK)
        return -1;
    struct archive_entry *e;
    static char buf[1 << 20];
    while (archive_read_next_header(r, &e) == ARCHIVE_OK) {
        bool hit = m->name && !strcmp(archive_entry_pathname(e), m->name);
        if (hit && m->drop)
            continue;
        struct archive_entry *o = archive_entry_clone(e);
        if (hit && m->rename)
            archive_entry_set_pathname(o, m->rename);
        if (hit && m->type == AE_IFLNK) {
            archive_entry_set_filetype(o, AE_IFLNK);
            archive_entry_set_symlink(o, "/etc/passwd");
            archive_entry_set_size(o, 0);
        }
        if (hit && m->data)
            archive_entry_set_size(o, (la_int64_t)m->len);
        archive_write_header(w, o);
        archive_entry_free(o);
        if (hit && m->type == AE_IFLNK)
            continue;
        if (hit && m->data) {
            archive_write_data(w, m->data, m->len);
            continue;
        }
        long pos = 0;
        la_ssize_t n;
        while ((n = archive_read_data(r, buf, sizeof buf)) > 0) {
            if (hit && m->flip >= pos && m->flip < pos + n)
                buf[m->flip - pos] ^= 0x5a;
            archive_write_data(w, buf, (size_t)n);
            pos += n;
        }
    }
    if (m->extra) {
        e = archive_entry_new();
        archive_entry_set_pathname(e, m->extra);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 4);
        archive_write_header(w, e);
        archive_write_data(w, "evil", 4);
        archive_entry_free(e);
    }
    archive_write_close(w);
    archive_write_free(w);
    archive_read_free(r);
    return 0;
}

/* The member's bytes from the archive (small members only). */
static char *member_text(const char *file, const char *name, size_t *len)
{
    struct archive *r = archive_read_new();
    archive_read_support_format_tar(r);
    archive_read_support_filter_zstd(r);
    char *out = NULL;
    struct archive_entry *e;
    if (archive_read_open_filename(r, file, 65536) == ARCHIVE_OK)
        while (!out && archive_read_next_header(r, &e) == ARCHIVE_OK)
            if (!strcmp(archive_entry_pathname(e), name)) {
                size_t n = (size_t)archive_entry_size(e);
                out = calloc(1, n + 1);
                archive_read_data(r, out, n);
                *len = n;
            }
    archive_read_free(r);
    return out;
}

static void refused(boxlite_runtime *rt, const char *file, const char *why, const char *needle)
{
    boxlite_box *b = NULL;
    int r = boxlite_box_import(rt, file, "victim", &b);
    if (r == BOXLITE_OK) {
        harness_fail(__FILE__, __LINE__, "%s: imported", why);
        boxlite_box_remove(rt, "victim", 1);
        boxlite_box_free(b);
        return;
    }
    printf("# %s: %s\n", why, boxlite_errmsg());
    if (needle && !strstr(boxlite_errmsg(), needle))
        harness_fail(__FILE__, __LINE__, "%s: message lacks \"%s\"", why, needle);
    char p[900];
    snprintf(p, sizeof p, "%s/fresh/boxes", harness_tmpdir());
    if (count_entries(p) != 0)
        harness_fail(__FILE__, __LINE__, "%s: a box folder was left behind", why);
    snprintf(p, sizeof p, "%s/fresh/import-tmp", harness_tmpdir());
    if (count_entries(p) != 0)
        harness_fail(__FILE__, __LINE__, "%s: the staging folder was left behind", why);
    char *js = NULL;
    if (boxlite_box_list(rt, NULL, &js) == BOXLITE_OK && strcmp(js, "[]"))
        harness_fail(__FILE__, __LINE__, "%s: a box record was left: %s", why, js);
    boxlite_free(js);
}

TEST_TIMEOUT(corrupt_and_hostile_archives_are_refused_leaving_nothing, 300)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    char file[900], sum[65], bad[900];
    exported(rt, file, sizeof file, sum);
    boxlite_runtime *fresh = open_home("fresh");
    REQUIRE(fresh);
    snprintf(bad, sizeof bad, "%s/bad.box", harness_tmpdir());
    const struct mut none = { .flip = -1 };
    struct mut m;

    /* truncated: the file cut in half */
    struct stat st;
    REQUIRE(stat(file, &st) == 0);
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "head -c %lld '%s' > '%s'", (long long)st.st_size / 2, file, bad);
    REQUIRE(system(cmd) == 0);
    refused(fresh, bad, "truncated file", NULL);
    /* truncated near the end: every member but the last whole */
    snprintf(cmd, sizeof cmd, "head -c %lld '%s' > '%s'", (long long)st.st_size - 300, file, bad);
    REQUIRE(system(cmd) == 0);
    refused(fresh, bad, "truncated end", NULL);
    /* altered bytes in a layer and in the base */
    m = none, m.name = "disk/1.qcow2", m.flip = 200000;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "altered layer", "SHA-256");
    m = none, m.name = "disk/0.raw", m.flip = 1025;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "altered base", "SHA-256");
    /* an altered manifest (its checksum no longer matches) */
    size_t mlen = 0;
    char *mtext = member_text(file, "manifest.json", &mlen);
    REQUIRE(mtext);
    char *p = strstr(mtext, "\"memory_mib\": 512");
    REQUIRE(p);
    memcpy(p, "\"memory_mib\": 640", 17);
    m = none, m.name = "manifest.json", m.data = mtext, m.len = mlen;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "altered manifest", "manifest.sha256");
    free(mtext);
    /* path traversal, symlinks, extra and missing members */
    m = none, m.name = "disk/1.qcow2", m.rename = "../../../../tmp/evil.qcow2";
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "path traversal", "expected");
    CHECK(access("/tmp/evil.qcow2", F_OK) != 0);
    m = none, m.name = "disk/1.qcow2", m.type = AE_IFLNK;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "symlink member", NULL);
    m = none, m.extra = "../evil";
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "extra member", "members after");
    m = none, m.name = "disk/0.raw", m.drop = true;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "missing member", NULL);
    /* oversized: a member larger than the manifest says */
    static char big[300000];
    m = none, m.name = "disk/1.qcow2", m.data = big, m.len = sizeof big;
    REQUIRE(rewrite(file, bad, &m) == 0);
    refused(fresh, bad, "oversized member", "the manifest says");
    /* not an archive at all */
    snprintf(cmd, sizeof cmd, "head -c 4096 /dev/urandom > '%s'", bad);
    REQUIRE(system(cmd) == 0);
    refused(fresh, bad, "random bytes", NULL);
    boxlite_runtime_close(fresh);
    boxlite_runtime_close(rt);
}

/* A hostile qcow2 header whose backing file points outside, with a manifest and checksums
 * that match it (what an attacker would send): refused on the header itself. */
TEST_TIMEOUT(a_layer_whose_backing_file_points_outside_is_refused, 300)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    char file[900], sum[65];
    exported(rt, file, sizeof file, sum);
    boxlite_runtime *fresh = open_home("fresh");
    REQUIRE(fresh);
    /* unpack, point disk/1.qcow2 at /etc/shadow with qemu-img, fix the manifest's sums */
    char x[900], cmd[4000];
    snprintf(x, sizeof x, "%s/x", harness_tmpdir());
    snprintf(cmd, sizeof cmd,
             "set -e; mkdir -p %s; cd %s; tar --zstd -xf '%s'; "
             "qemu-img rebase -u -f qcow2 -b /etc/shadow -F raw disk/1.qcow2; "
             "python3 - <<'EOF'\n"
             "import hashlib, json\n"
             "m = json.load(open('manifest.json'))\n"
             "for d in m['disk']:\n"
             "    d['sha256'] = hashlib.sha256(open(d['member'], 'rb').read()).hexdigest()\n"
             "    d['size'] = len(open(d['member'], 'rb').read())\n"
             "t = json.dumps(m, indent=2).encode()\n"
             "open('manifest.json', 'wb').write(t)\n"
             "open('manifest.sha256', 'w').write(hashlib.sha256(t).hexdigest() + '\\n')\n"
             "EOF\n"
             "members=\"manifest.json $(ls image-config.json 2>/dev/null) $(ls disk | sort -n | sed 's,^,disk/,') manifest.sha256\"; "
             "tar --zstd --format=pax -cf ../hostile.box $members",
             x, x, file);
    REQUIRE(system(cmd) == 0);
    char hostile[900];
    snprintf(hostile, sizeof hostile, "%s/hostile.box", harness_tmpdir());
    refused(fresh, hostile, "backing file outside", "/etc/shadow");
    boxlite_runtime_close(fresh);
    boxlite_runtime_close(rt);
}

TEST(disk_operations_refuse_bad_arguments)
{
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    boxlite_box *b = make_box(rt, "x");
    REQUIRE(b);
    CHECK_EQ(boxlite_snapshot_create(NULL, "a"), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_snapshot_create(b, NULL), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_snapshot_create(b, ""), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_snapshot_create(b, ".hidden"), BOXLITE_ERR_INVALID);
    boxlite_box *c = NULL;
    CHECK_EQ(boxlite_box_clone(rt, "x", "bad/name", &c), BOXLITE_ERR_INVALID);
    CHECK_EQ(boxlite_box_clone(rt, "nobox", "y", &c), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_import(rt, "/nonexistent.box", NULL, &c), BOXLITE_ERR_NOT_FOUND);
    CHECK_EQ(boxlite_box_export(b, "/nonexistent-dir/x.box"), BOXLITE_ERR_NOT_FOUND);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}

#include "runtime/images.h"
#include "runtime/runtime.h"

/* Image garbage collection keeps the base a box's chain ends on, however deep (it used to
 * read only disk.qcow2's own backing file, which is now a layer). */
TEST_TIMEOUT(image_gc_keeps_the_base_under_a_snapshot_chain, 120)
{
    need_tools();
    boxlite_runtime *rt = open_home("h");
    REQUIRE(rt);
    boxlite_box *b = make_box(rt, "kept");
    REQUIRE(b);
    char dir[900], rootfs_dir[900];
    box_dir(rt, b, "h", dir, sizeof dir);
    REQUIRE(boxlite_snapshot_create(b, "s1") == BOXLITE_OK);
    REQUIRE(boxlite_snapshot_create(b, "s2") == BOXLITE_OK);
    snprintf(rootfs_dir, sizeof rootfs_dir, "%s/h/images/rootfs", harness_tmpdir());
    int before = count_entries(rootfs_dir);
    CHECK(before >= 1);
    struct gc_stats st = { 0 };
    struct bl_error err = { 0 };
    REQUIRE(rt_images_gc(rt, &st, &err) == 0);
    CHECK_EQ(count_entries(rootfs_dir), before);
    CHECK_EQ(disk_get(dir, OFF_A), 0); /* the chain still reads to its base */
    char sum[65];
    disk_sum(dir, sum);
    CHECK(strcmp(sum, "unreadable") != 0);
    boxlite_box_free(b);
    boxlite_runtime_close(rt);
}
