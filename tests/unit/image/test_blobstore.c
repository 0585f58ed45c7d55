// SPDX-License-Identifier: Apache-2.0
#include "harness/harness.h"
#include "image/blobstore.h"
#include "image/image.h"
#include "tarbuild.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int files_in(const char *dir)
{
    char cmd[800], out[32];
    snprintf(cmd, sizeof cmd, "ls -A %s | wc -l", dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    int n = fgets(out, sizeof out, p) ? atoi(out) : -1;
    pclose(p);
    return n;
}

TEST(put_read_and_verify)
{
    struct blobstore bs;
    struct bl_error e = {0};
    REQUIRE(blobstore_open(&bs, harness_tmpdir(), &e) == 0);
    CHECK(bs.root[0] == '/');
    char d[DIGEST_LEN + 1];
    REQUIRE(blobstore_put(&bs, NULL, "hello", 5, d, &e) == 0);
    CHECK_STR(d, "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    CHECK(blobstore_has(&bs, d, 5));
    CHECK(!blobstore_has(&bs, d, 6));
    CHECK(!blobstore_has(&bs, "sha256:../../etc/passwd", -1));
    char *data;
    size_t len;
    REQUIRE(blobstore_read(&bs, d, 100, &data, &len, &e) == 0);
    CHECK_EQ(len, 5);
    free(data);
    CHECK(blobstore_read(&bs, d, 4, &data, &len, &e) < 0);
    /* Wrong expectation: refused, nothing stored. */
    CHECK(blobstore_put(&bs, "sha256:0000000000000000000000000000000000000000000000000000000000000000", "x", 1, NULL, &e) < 0);
    CHECK(strstr(e.msg, "does not match") != NULL);
    /* Corrupted on disk afterwards: reading says so. */
    char p[PATH_MAX];
    blobstore_path(&bs, d, p, sizeof p);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fputs("jello", f);
    fclose(f);
    CHECK(blobstore_read(&bs, d, 100, &data, &len, &e) < 0);
    CHECK(strstr(e.msg, "corrupt") != NULL);
}

TEST(writer_checks_size_and_digest_and_resumes)
{
    struct blobstore bs;
    struct bl_error e = {0};
    REQUIRE(blobstore_open(&bs, harness_tmpdir(), &e) == 0);
    char tmpdir[PATH_MAX], blobs[PATH_MAX];
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", bs.root);
    snprintf(blobs, sizeof blobs, "%s/blobs/sha256", bs.root);
    const char *hello = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    struct blob_writer w, w2;
    REQUIRE(blob_writer_open(&w, &bs, hello, 5, &e) == 0);
    CHECK_EQ(w.written, 0);
    CHECK_EQ(files_in(tmpdir), 1);
    /* one writer per blob: a second one (another process, or another pull here) waits */
    CHECK_EQ(blob_writer_open(&w2, &bs, hello, 5, &e), BLOB_WRITER_BUSY);
    REQUIRE(blob_writer_write(&w, "hel", 3, &e) == 0);
    /* a short blob is not stored, but its bytes stay for the next writer */
    CHECK(blob_writer_commit(&w, &e) < 0);
    CHECK(strstr(e.msg, "truncated") != NULL);
    CHECK(!blobstore_has(&bs, hello, -1));
    CHECK_EQ(files_in(tmpdir), 1);
    REQUIRE(blob_writer_open(&w, &bs, hello, 5, &e) == 0);
    CHECK_EQ(w.written, 3);
    CHECK_EQ(w.resumed_from, 3);
    CHECK(blob_writer_write(&w, "lo!", 3, &e) < 0); /* more than the descriptor says */
    CHECK(strstr(e.msg, "more bytes") != NULL);
    REQUIRE(blob_writer_write(&w, "lo", 2, &e) == 0);
    REQUIRE(blob_writer_commit(&w, &e) == 0); /* the digest covers the resumed prefix */
    CHECK(blobstore_has(&bs, hello, 5));
    CHECK_EQ(files_in(tmpdir), 0);
    CHECK_EQ(files_in(blobs), 1);
    /* wrong bytes are discarded, whoever wrote them */
    const char *world = "sha256:486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7";
    REQUIRE(blob_writer_open(&w, &bs, world, 5, &e) == 0);
    REQUIRE(blob_writer_write(&w, "jello", 5, &e) == 0);
    CHECK(blob_writer_commit(&w, &e) < 0);
    CHECK(strstr(e.msg, "does not match") != NULL);
    CHECK_EQ(files_in(tmpdir), 0);
    /* a restart empties the file; an abort keeps it; a discard removes it */
    REQUIRE(blob_writer_open(&w, &bs, world, -1, &e) == 0);
    REQUIRE(blob_writer_write(&w, "xx", 2, &e) == 0);
    REQUIRE(blob_writer_restart(&w, &e) == 0);
    REQUIRE(blob_writer_write(&w, "wor", 3, &e) == 0);
    blob_writer_abort(&w);
    CHECK_EQ(files_in(tmpdir), 1);
    REQUIRE(blob_writer_open(&w, &bs, world, -1, &e) == 0);
    CHECK_EQ(w.written, 3);
    blob_writer_discard(&w);
    CHECK_EQ(files_in(tmpdir), 0);
    /* another size for the same digest (the registry changed it): a new partial file, and
     * the old one, which nobody will resume, is gone at once */
    REQUIRE(blob_writer_open(&w, &bs, world, 5, &e) == 0);
    REQUIRE(blob_writer_write(&w, "wo", 2, &e) == 0);
    blob_writer_abort(&w);
    CHECK_EQ(files_in(tmpdir), 1);
    REQUIRE(blob_writer_open(&w, &bs, world, 6, &e) == 0);
    CHECK_EQ(w.written, 0);
    CHECK_EQ(files_in(tmpdir), 1);
    /* ...unless a writer holds it (another process fetching that size now) */
    REQUIRE(blob_writer_open(&w2, &bs, world, 7, &e) == 0);
    CHECK_EQ(files_in(tmpdir), 2);
    blob_writer_abort(&w2);
    blob_writer_abort(&w);
    REQUIRE(blob_writer_open(&w, &bs, world, 7, &e) == 0);
    blob_writer_discard(&w);
    CHECK_EQ(files_in(tmpdir), 0);
    CHECK(blob_writer_open(&w, &bs, "md5:abc", 1, &e) < 0);
}

TEST(index_records_and_lookup)
{
    struct blobstore bs;
    struct bl_error e = {0};
    REQUIRE(blobstore_open(&bs, harness_tmpdir(), &e) == 0);
    char *blobs[] = {"sha256:aa", "sha256:bb"};
    struct image_record r = {.ref = "example.com/a:1", .manifest = "sha256:m1", .config = "sha256:c1",
                             .id = "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
                             .blobs = blobs, .n_blobs = 2};
    REQUIRE(image_index_put(&bs, &r, &e) == 0);
    r.ref = "example.com/a:2";
    r.id = "1234567890abcdefffff567890abcdef1234567890abcdef1234567890abcdef";
    REQUIRE(image_index_put(&bs, &r, &e) == 0);
    struct image_record got;
    REQUIRE(image_index_get(&bs, "example.com/a:1", &got, &e) == 0);
    CHECK_STR(got.manifest, "sha256:m1");
    CHECK_EQ(got.n_blobs, 2);
    image_record_free(&got);
    REQUIRE(image_index_get(&bs, "1234567890abcdefff", &got, &e) == 0);
    CHECK_STR(got.ref, "example.com/a:2");
    image_record_free(&got);
    CHECK(image_index_get(&bs, "1234567890abcdef", &got, &e) < 0);
    CHECK(strstr(e.msg, "ambiguous") != NULL);
    CHECK(image_index_get(&bs, "1234", &got, &e) < 0); /* too short to be an id */
    CHECK_EQ(e.code, BOXLITE_ERR_NOT_FOUND);
    REQUIRE(image_index_remove(&bs, "example.com/a:1", &e) == 0);
    CHECK(image_index_remove(&bs, "example.com/a:1", &e) < 0);
    /* A damaged index is an error, never an empty store. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", bs.root);
    FILE *f = fopen(p, "w");
    REQUIRE(f);
    fputs("{garbage", f);
    fclose(f);
    CHECK(image_index_get(&bs, "example.com/a:2", &got, &e) < 0);
    CHECK_EQ(e.code, BOXLITE_ERR_IO);
}

TEST(gc_removes_stale_temp_files_only)
{
    struct blobstore bs;
    struct bl_error e = {0};
    REQUIRE(blobstore_open(&bs, harness_tmpdir(), &e) == 0);
    char old[PATH_MAX], fresh[PATH_MAX];
    snprintf(old, sizeof old, "%s/tmp/unpack-old", bs.root);
    snprintf(fresh, sizeof fresh, "%s/tmp/blob-fresh", bs.root);
    REQUIRE(mkdir(old, 0755) == 0);
    char inner[PATH_MAX + 10];
    snprintf(inner, sizeof inner, "%s/ro", old);
    REQUIRE(mkdir(inner, 0555) == 0);
    close(open(fresh, O_CREAT | O_WRONLY, 0644));
    struct timespec ts[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
    utimensat(AT_FDCWD, old, ts, 0);
    /* Half-made bases: a dead builder's goes, a running one's stays. */
    char dead[PATH_MAX], live[PATH_MAX];
    snprintf(dead, sizeof dead, "%s/rootfs/abc.ext4.tmp.Xy12Zw", bs.root);
    snprintf(live, sizeof live, "%s/rootfs/def.ext4.tmp.Ab34Cd", bs.root);
    close(open(dead, O_CREAT | O_WRONLY, 0644));
    close(open(live, O_CREAT | O_WRONLY, 0644));
    utimensat(AT_FDCWD, dead, ts, 0);
    REQUIRE(blobstore_gc(&bs, NULL, NULL, &e) == 0);
    CHECK(access(old, F_OK) != 0);
    CHECK(access(fresh, F_OK) == 0);
    CHECK(access(dead, F_OK) != 0);
    CHECK(access(live, F_OK) == 0);
}

/* A layer damaged in the store after the pull is caught when the base is (re)built. */
TEST(prepare_verifies_layers_in_the_store)
{
    char layout[600], cmd[1400];
    snprintf(layout, sizeof layout, "%s/fx", harness_tmpdir());
    snprintf(cmd, sizeof cmd, "python3 tests/fixtures/mkimages.py %s layers >&2", layout);
    if (system(cmd) != 0)
        harness_need("fixtures need python3 and the repository root");
    struct image_store st;
    struct bl_error e = {0};
    char home[700];
    snprintf(home, sizeof home, "%s/home", harness_tmpdir());
    REQUIRE(image_store_open(&st, home, &e) == 0);
    struct image_record rec;
    snprintf(layout + strlen(layout), sizeof layout - strlen(layout), "/layers");
    REQUIRE(image_import_oci_layout(&st, layout, NULL, NULL, &rec, &e) == 0);
    /* The last blob of the record is the top layer (uncompressed tar): flip a byte. */
    char p[PATH_MAX];
    blobstore_path(&st.bs, rec.blobs[rec.n_blobs - 1], p, sizeof p);
    snprintf(cmd, sizeof cmd, "python3 -c \"p='%s';b=bytearray(open(p,'rb').read());b[600]^=1;open(p,'wb').write(b)\"", p);
    REQUIRE(system(cmd) == 0);
    char path[PATH_MAX];
    CHECK(image_prepare(&st, rec.id, NULL, path, sizeof path, &e) < 0);
    CHECK(strstr(e.msg, "does not match its digest") != NULL);
    CHECK(access(path, F_OK) != 0);
    image_record_free(&rec);
}
