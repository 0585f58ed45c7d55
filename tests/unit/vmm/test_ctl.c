// SPDX-License-Identifier: Apache-2.0
/* The control page: ready mark and exit status, each once, through callbacks. */
#include "harness/harness.h"
#include "vmm/hw/ctl.h"

struct seen {
    int ready, exits;
    uint32_t status;
};
static void on_ready(void *o) { ((struct seen *)o)->ready++; }
static void on_exit_status(void *o, uint32_t st)
{
    ((struct seen *)o)->exits++;
    ((struct seen *)o)->status = st;
}
static const struct ctl_ops ops = { on_ready, on_exit_status };

static void w32(struct ctl *c, uint64_t off, uint32_t v) { ctl_bus_ops.write(c, off, (uint8_t *)&v, 4); }
static uint32_t r32(struct ctl *c, uint64_t off)
{
    uint32_t v;
    ctl_bus_ops.read(c, off, (uint8_t *)&v, 4);
    return v;
}

TEST(ready_and_exit_status_once)
{
    struct seen s = { 0 };
    struct ctl *c = ctl_new(&ops, &s);
    REQUIRE(c);
    CHECK_EQ(r32(c, GUEST_CTL_REG_ID), GUEST_CTL_ID);
    CHECK_EQ(r32(c, GUEST_CTL_REG_READY), 0);
    w32(c, GUEST_CTL_REG_READY, 0x1234); /* wrong magic: nothing */
    CHECK_EQ(s.ready, 0);
    w32(c, GUEST_CTL_REG_READY, GUEST_CTL_READY_MAGIC);
    w32(c, GUEST_CTL_REG_READY, GUEST_CTL_READY_MAGIC);
    CHECK_EQ(s.ready, 1);
    CHECK_EQ(r32(c, GUEST_CTL_REG_READY), 1);
    w32(c, GUEST_CTL_REG_EXIT, 42);
    w32(c, GUEST_CTL_REG_EXIT, 7);
    CHECK_EQ(s.exits, 1);
    CHECK_EQ(s.status, 42);
    ctl_free(c);
    ctl_free(NULL);
}

TEST(odd_accesses_ignored)
{
    struct seen s = { 0 };
    struct ctl *c = ctl_new(&ops, &s);
    REQUIRE(c);
    uint16_t h = GUEST_CTL_READY_MAGIC;
    ctl_bus_ops.write(c, GUEST_CTL_REG_READY, (uint8_t *)&h, 2);
    w32(c, GUEST_CTL_REG_READY + 1, GUEST_CTL_READY_MAGIC);
    uint64_t q = GUEST_CTL_READY_MAGIC;
    ctl_bus_ops.write(c, GUEST_CTL_REG_READY, (uint8_t *)&q, 8);
    w32(c, 0xffc, 0);
    CHECK_EQ(s.ready, 0);
    CHECK_EQ(s.exits, 0);
    uint8_t b = 0xff;
    ctl_bus_ops.read(c, GUEST_CTL_REG_ID, &b, 1);
    CHECK_EQ(b, 0);
    /* no callbacks set: no crash */
    struct ctl *bare = ctl_new(NULL, NULL);
    w32(bare, GUEST_CTL_REG_READY, GUEST_CTL_READY_MAGIC);
    w32(bare, GUEST_CTL_REG_EXIT, 1);
    ctl_free(bare);
    ctl_free(c);
}
