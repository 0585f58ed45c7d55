// SPDX-License-Identifier: Apache-2.0
/* virtio-9p through the MMIO transport: the mount tag in config space, requests and
 * replies through the ring (including a reply scattered over a header buffer and data
 * pages, as Linux's zero-copy reads post them), bad chains, and a snapshot that keeps the
 * guest's 9P session. */
#include "harness/harness.h"
#include "vmm/fs/p9.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/9p.h"
#include "vq_driver.h"
#include "vmm/core/evloop.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct rig {
    struct vqd_ram ram;
    struct irq_count irqs;
    struct virtio_dev *dev;
    struct vqd q;
};

static int rig_up(struct rig *r, const char *tag, bool ro)
{
    memset(r, 0, sizeof *r);
    char path[4096];
    snprintf(path, sizeof path, "%s/share", harness_tmpdir());
    mkdir(path, 0755);
    char file[4200];
    snprintf(file, sizeof file, "%s/f.txt", path);
    FILE *f = fopen(file, "w");
    if (!f)
        return -1;
    fputs("0123456789abcdef", f);
    fclose(f);
    if (vqd_ram_init(&r->ram) < 0)
        return -1;
    if (virtio_9p_new(&r->dev, &r->ram.mem, irq_count_line(&r->irqs), tag, path, ro, NULL) < 0)
        return -1;
    vqd_init(&r->q, &r->ram, 0, 64);
    struct vqd *qs[] = { &r->q };
    return (vqd_handshake(r->dev, 1ull << VIRTIO_9P_MOUNT_TAG, qs, 1) &
            VIRTIO_CONFIG_S_DRIVER_OK)
               ? 0
               : -1;
}

struct msg {
    uint8_t b[1024];
    size_t n;
};
static void put(struct msg *m, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        m->b[m->n++] = (uint8_t)(v >> (8 * i));
}
static void put_s(struct msg *m, const char *s)
{
    put(m, strlen(s), 2);
    memcpy(m->b + m->n, s, strlen(s));
    m->n += strlen(s);
}
static void begin(struct msg *m, uint8_t type)
{
    m->n = 0;
    put(m, 0, 4);
    put(m, type, 1);
    put(m, 7, 2);
}
static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Sends m with reply room split as in_sizes; returns the used length, reply in in[0..]. */
static uint32_t rpc(struct rig *r, struct msg *m, const uint32_t *in_sizes, unsigned nin,
                    uint64_t *in_gpa)
{
    for (int i = 0; i < 4; i++)
        m->b[i] = (uint8_t)(m->n >> (8 * i));
    uint64_t a[8];
    uint32_t l[8];
    a[0] = vqd_alloc(&r->q, (uint32_t)m->n);
    l[0] = (uint32_t)m->n;
    memcpy(vqd_host(&r->ram, a[0]), m->b, m->n);
    for (unsigned i = 0; i < nin; i++) {
        a[1 + i] = in_gpa[i] = vqd_alloc(&r->q, in_sizes[i]);
        l[1 + i] = in_sizes[i];
    }
    vqd_add(&r->q, a, l, 1, nin);
    vqd_kick(r->dev, 0);
    uint32_t id, len;
    if (!vqd_get_used(&r->q, &id, &len))
        return 0;
    return len;
}

/* A Tversion (msize 8192) with its size written, for a request put on the ring by hand. */
static void tversion(struct msg *m)
{
    begin(m, P9_TVERSION);
    put(m, 8192, 4);
    put_s(m, "9P2000.L");
    for (int i = 0; i < 4; i++)
        m->b[i] = (uint8_t)(m->n >> (8 * i));
}

/* After session(): the guest's fid 2 on f.txt, walked from the root (fid 1) and opened
 * read-only, as a read of it starts. */
static void open_f_txt(struct rig *r)
{
    struct msg m;
    uint64_t in[1];
    uint32_t one[] = { 8192 };
    begin(&m, P9_TWALK);
    put(&m, 1, 4);
    put(&m, 2, 4);
    put(&m, 1, 2);
    put_s(&m, "f.txt");
    CHECK_EQ(rpc(r, &m, one, 1, in), 7 + 2 + 13);
    begin(&m, P9_TLOPEN);
    put(&m, 2, 4);
    put(&m, 0, 4);
    CHECK_EQ(rpc(r, &m, one, 1, in), 7 + 13 + 4);
}

/* rig_up with an event loop: requests then go to the device's worker and their replies
 * come back through the loop. The loop, or NULL. */
static struct evloop *rig_up_looped(struct rig *r)
{
    struct evloop *loop = rig_up(r, "vol0", false) == 0 ? evloop_new() : NULL;
    if (loop && virtio_dev_use_eventfds(r->dev, loop) < 0) {
        evloop_free(loop);
        loop = NULL;
    }
    return loop;
}

/* Tversion (msize 8192), then Tattach of fid 1 to the root: a mount, as Linux starts one.
 * The replies' lengths into *version and *attach. */
static void session(struct rig *r, uint32_t *version, uint32_t *attach)
{
    struct msg m;
    uint64_t in[1];
    uint32_t one[] = { 8192 };
    tversion(&m);
    *version = rpc(r, &m, one, 1, in);
    CHECK_EQ(((uint8_t *)vqd_host(&r->ram, in[0]))[4], P9_RVERSION);
    begin(&m, P9_TATTACH);
    put(&m, 1, 4);
    put(&m, P9_NOFID, 4);
    put_s(&m, "root");
    put_s(&m, "");
    put(&m, 0, 4);
    *attach = rpc(r, &m, one, 1, in);
}

TEST(p9v_tag_in_config)
{
    struct rig r;
    REQUIRE(rig_up(&r, "vol0", false) == 0);
    CHECK_EQ(mmio_r32(r.dev, VIRTIO_MMIO_DEVICE_ID), 9);
    mmio_w32(r.dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    CHECK(mmio_r32(r.dev, VIRTIO_MMIO_DEVICE_FEATURES) & 1);
    uint16_t len;
    virtio_mmio_bus_ops.read(r.dev, VIRTIO_MMIO_CONFIG, (uint8_t *)&len, 2);
    CHECK_EQ(len, 4);
    char tag[5] = {0};
    for (int i = 0; i < 4; i++)
        virtio_mmio_bus_ops.read(r.dev, VIRTIO_MMIO_CONFIG + 2 + i, (uint8_t *)&tag[i], 1);
    CHECK_STR(tag, "vol0");
    virtio_dev_free(r.dev);
    vqd_ram_free(&r.ram);

    struct virtio_dev *d;
    struct bl_error err = {0};
    CHECK(virtio_9p_new(&d, &r.ram.mem, irq_count_line(&r.irqs), "", "/tmp", false, &err) < 0);
    CHECK(virtio_9p_new(&d, &r.ram.mem, irq_count_line(&r.irqs), "t", "/nonexistent/dir",
                        false, &err) < 0);
    CHECK(strstr(err.msg, "/nonexistent/dir") != NULL);
}

TEST(p9v_session_through_ring)
{
    struct rig r;
    REQUIRE(rig_up(&r, "vol0", false) == 0);
    struct msg m;
    uint64_t in[4];
    uint32_t one[] = { 8192 };

    uint32_t len, alen;
    session(&r, &len, &alen);
    REQUIRE(len == 7 + 4 + 2 + 8);
    CHECK(r.irqs.n >= 1);
    CHECK_EQ(alen, 7 + 13);

    open_f_txt(&r);

    /* a zero-copy style read: an 11-byte header buffer, then the data buffer */
    begin(&m, P9_TREAD);
    put(&m, 2, 4);
    put(&m, 4, 8);
    put(&m, 100, 4);
    uint32_t zc[] = { 11, 4096 };
    len = rpc(&r, &m, zc, 2, in);
    CHECK_EQ(len, 11 + 12);
    uint8_t *h = vqd_host(&r.ram, in[0]);
    CHECK_EQ(h[4], P9_RREAD);
    CHECK_EQ(get(h + 7, 4), 12);
    CHECK_MEM(vqd_host(&r.ram, in[1]), "456789abcdef", 12);

    /* reply room smaller than asked: the read is shortened to fit */
    uint32_t tiny[] = { 15 };
    len = rpc(&r, &m, tiny, 1, in);
    CHECK_EQ(len, 15);
    CHECK_EQ(get((uint8_t *)vqd_host(&r.ram, in[0]) + 7, 4), 4);

    /* no room even for Rlerror: nothing written, device still fine */
    uint32_t none[] = { 4 };
    CHECK_EQ(rpc(&r, &m, none, 1, in), 0);
    CHECK(!r.dev->broken);

    /* a garbage request gets Rlerror */
    begin(&m, P9_TWALK);
    put(&m, 1, 4);
    len = rpc(&r, &m, one, 1, in);
    CHECK_EQ(len, 11);
    CHECK_EQ(((uint8_t *)vqd_host(&r.ram, in[0]))[4], P9_RLERROR);
    CHECK(!r.dev->broken);
    virtio_dev_free(r.dev);
    vqd_ram_free(&r.ram);
}

/* With an event loop the requests go to the device's worker and come back through the
 * loop; a reset while one is in flight drops its reply instead of writing stale rings. */
TEST(p9v_worker_thread_through_loop)
{
    struct rig r;
    struct evloop *loop = rig_up_looped(&r);
    REQUIRE(loop);
    struct msg m;
    uint64_t in[2];
    uint32_t one[] = { 8192 };
    uint32_t id, len = 0;

    tversion(&m);
    uint64_t a[2] = { vqd_alloc(&r.q, (uint32_t)m.n), in[0] = vqd_alloc(&r.q, one[0]) };
    uint32_t l[2] = { (uint32_t)m.n, one[0] };
    memcpy(vqd_host(&r.ram, a[0]), m.b, m.n);
    vqd_add(&r.q, a, l, 1, 1);
    vqd_kick(r.dev, 0);
    bool got = false;
    for (int i = 0; i < 100 && !got; i++) {
        evloop_run_once(loop, 100);
        got = vqd_get_used(&r.q, &id, &len);
    }
    REQUIRE(got);
    CHECK_EQ(len, 7 + 4 + 2 + 8);
    CHECK_EQ(((uint8_t *)vqd_host(&r.ram, in[0]))[4], P9_RVERSION);
    CHECK(r.irqs.n >= 1);

    /* in flight across a reset: popped by the loop, then the driver resets */
    memcpy(vqd_host(&r.ram, a[0]), m.b, m.n);
    vqd_add(&r.q, a, l, 1, 1);
    vqd_kick(r.dev, 0);
    evloop_run_once(loop, 100); /* the notify: the request goes to the worker */
    mmio_w32(r.dev, VIRTIO_MMIO_STATUS, 0);
    for (int i = 0; i < 5; i++)
        evloop_run_once(loop, 100);
    CHECK(!vqd_get_used(&r.q, &id, &len));
    CHECK(!r.dev->broken);

    virtio_dev_free(r.dev);
    evloop_free(loop);
    vqd_ram_free(&r.ram);
}

/* A pause (virtio_dev_save) keeps the guest's session: the resumed device, a new server on
 * the same folder, answers on the fids the guest holds without a new Tversion or Tattach;
 * a damaged model record is refused. */
TEST(p9v_snapshot_keeps_the_session)
{
    struct rig r;
    REQUIRE(rig_up(&r, "vol0", false) == 0);
    struct msg m;
    uint64_t in[1];
    uint32_t one[] = { 8192 }, vlen, alen;
    session(&r, &vlen, &alen);
    CHECK_EQ(alen, 7 + 13);
    open_f_txt(&r);
    struct vmsnap_buf p = { 0 };
    virtio_dev_quiesce(r.dev);
    virtio_dev_save(r.dev, &p);
    CHECK(!p.failed);

    struct virtio_dev *d;
    struct bl_error err = { 0 };
    char path[4096];
    snprintf(path, sizeof path, "%s/share", harness_tmpdir());
    REQUIRE(virtio_9p_new(&d, &r.ram.mem, irq_count_line(&r.irqs), "vol0", path, false, &err) == 0);
    virtio_dev_free(r.dev); /* the paused process's descriptors are gone */
    CHECK_EQ(virtio_dev_restore(d, p.p, p.len, &err), 0);
    virtio_dev_resume(d);
    r.dev = d;
    begin(&m, P9_TREAD); /* fid 2, open before the pause */
    put(&m, 2, 4);
    put(&m, 4, 8);
    put(&m, 100, 4);
    CHECK_EQ(rpc(&r, &m, one, 1, in), 11 + 12);
    CHECK_MEM((uint8_t *)vqd_host(&r.ram, in[0]) + 11, "456789abcdef", 12);
    CHECK(!r.dev->broken);

    /* a model record that is not a session is refused with the reason */
    size_t mlen = 0;
    const uint8_t *model = vmsnap_rec_get(p.p, p.len, 3, &mlen);
    REQUIRE(model && mlen > 16);
    uint8_t junk[8] = { 1 };
    CHECK(r.dev->ops->restore(r.dev, junk, sizeof junk, &err) < 0);
    uint8_t *bad = malloc(mlen);
    REQUIRE(bad);
    memcpy(bad, model, mlen);
    bad[8] ^= 0xff; /* the session's magic */
    CHECK_EQ(r.dev->ops->restore(r.dev, bad, mlen, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "9p session") != NULL);
    free(bad);
    vmsnap_buf_free(&p);
    virtio_dev_free(r.dev);
    vqd_ram_free(&r.ram);
}

/* A request the worker answered while the loop that returns replies was stopped (a pause
 * parks the vCPUs and stops the loop): the quiesce returns it to the guest with its
 * interrupt before anything is saved, so it is neither lost nor answered twice. */
TEST(p9v_quiesce_returns_requests_in_flight)
{
    struct rig r;
    struct evloop *loop = rig_up_looped(&r);
    REQUIRE(loop);
    struct msg m;
    uint32_t id, len = 0;
    tversion(&m);
    uint64_t a[2][2];
    uint32_t l[2] = { (uint32_t)m.n, 8192 };
    for (int k = 0; k < 2; k++) { /* two requests handed to the worker at once */
        a[k][0] = vqd_alloc(&r.q, (uint32_t)m.n);
        a[k][1] = vqd_alloc(&r.q, 8192);
        memcpy(vqd_host(&r.ram, a[k][0]), m.b, m.n);
        vqd_add(&r.q, a[k], l, 1, 1);
    }
    vqd_kick(r.dev, 0);
    evloop_run_once(loop, 100); /* the notify pops both; the loop then stops */
    int irqs = r.irqs.n;
    virtio_dev_quiesce(r.dev);
    for (int k = 0; k < 2; k++) {
        CHECK(vqd_get_used(&r.q, &id, &len));
        CHECK_EQ(len, 7 + 4 + 2 + 8);
        CHECK_EQ(((uint8_t *)vqd_host(&r.ram, a[k][1]))[4], P9_RVERSION);
    }
    CHECK(r.irqs.n > irqs);
    struct vmsnap_buf p = { 0 };
    virtio_dev_save(r.dev, &p);
    CHECK(!p.failed);
    vmsnap_buf_free(&p);
    virtio_dev_free(r.dev);
    evloop_free(loop);
    vqd_ram_free(&r.ram);
}
