// SPDX-License-Identifier: Apache-2.0
/* The PL011 UART (src/vmm/hw/pl011.c): the ID registers Linux's AMBA bus matches the
 * amba-pl011 driver on, transmit to the log fd, the level-triggered interrupt line driven
 * from RIS & IMSC, the receive FIFO, accesses the driver never makes, and its snapshot
 * state (a hostile FIFO position refused). */
#include "harness/harness.h"
#include "vmm/hw/pl011.h"
#include "vmm/snapshot.h"

#include <fcntl.h>
#include <unistd.h>

static int level = -1, changes;
static void set_level(void *o, uint32_t gsi, int l)
{
    (void)o;
    (void)gsi;
    level = l;
    changes++;
}
static struct irq_line line(void) { return (struct irq_line){ .set_level = set_level, .gsi = 1 }; }

static uint32_t rd(struct pl011 *u, unsigned off)
{
    uint32_t v = 0xdeadbeef;
    pl011_bus_ops.read(u, off, (uint8_t *)&v, 4);
    return v;
}
static void wr(struct pl011 *u, unsigned off, uint32_t v)
{
    pl011_bus_ops.write(u, off, (const uint8_t *)&v, 4);
}

TEST(amba_ids_match_the_pl011_driver)
{
    struct pl011 *u = pl011_new(-1, line());
    REQUIRE(u);
    uint32_t periph = 0, cell = 0;
    for (unsigned i = 0; i < 4; i++) {
        periph |= (rd(u, 0xfe0 + 4 * i) & 0xff) << (8 * i);
        cell |= (rd(u, 0xff0 + 4 * i) & 0xff) << (8 * i);
    }
    /* drivers/tty/serial/amba-pl011.c: { .id = 0x00041011, .mask = 0x000fffff } */
    CHECK_EQ(periph & 0x000fffff, 0x00041011u);
    CHECK_EQ(cell, 0xb105f00du); /* AMBA_CID, include/linux/amba/bus.h */
    /* flags at reset: transmit FIFO empty, receive FIFO empty, never busy */
    CHECK_EQ(rd(u, 0x018), 0x90u);
    CHECK_EQ(rd(u, 0x030), 0x300u); /* UARTCR reset value */
    pl011_free(u);
}

TEST(transmit_goes_to_log_fd_and_raises_tx)
{
    char path[512];
    snprintf(path, sizeof path, "%s/console.log", harness_tmpdir());
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    level = -1;
    changes = 0;
    struct pl011 *u = pl011_new(fd, line());
    REQUIRE(u);
    wr(u, 0x030, 0x301); /* UARTEN | TXE | RXE */
    /* earlycon's byte store to DR */
    uint8_t b = 'h';
    pl011_bus_ops.write(u, 0x000, &b, 1);
    wr(u, 0x000, 'i');
    char got[4] = { 0 };
    CHECK_EQ(pread(fd, got, sizeof got, 0), 2);
    CHECK_STR(got, "hi");
    /* TX is raw-pending but masked: the line stays low */
    CHECK(rd(u, 0x03c) & 0x20);
    CHECK_EQ(rd(u, 0x040), 0u);
    CHECK_EQ(changes, 0);
    wr(u, 0x038, 0x20); /* TXIM */
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(u, 0x040), 0x20u);
    wr(u, 0x044, 0x20); /* ICR clears it */
    CHECK_EQ(level, 0);
    CHECK_EQ(changes, 2);
    pl011_free(u);
    close(fd);
}

TEST(receive_fifo_and_its_interrupt)
{
    level = -1;
    changes = 0;
    struct pl011 *u = pl011_new(-1, line());
    REQUIRE(u);
    wr(u, 0x038, 0x50); /* RXIM | RTIM, as pl011_startup sets them */
    CHECK_EQ(pl011_input(u, "ab", 2), 2u);
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(u, 0x018) & 0x10, 0u); /* not empty */
    CHECK_EQ(rd(u, 0x040), 0x50u);
    /* the driver clears the other sources, not RX/RT, and reads until RXFE */
    wr(u, 0x044, 0x7ff & ~0x70u);
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(u, 0x000), (uint32_t)'a');
    CHECK_EQ(level, 1);
    CHECK_EQ(rd(u, 0x000), (uint32_t)'b');
    CHECK_EQ(level, 0);
    CHECK_EQ(rd(u, 0x018) & 0x10, 0x10u);
    CHECK_EQ(rd(u, 0x000), 0u); /* empty FIFO reads 0 */
    /* a full FIFO takes no more */
    char many[40];
    memset(many, 'x', sizeof many);
    CHECK_EQ(pl011_input(u, many, sizeof many), 32u);
    CHECK(rd(u, 0x018) & 0x40); /* RXFF */
    /* ICR of RX with data still waiting raises it again */
    wr(u, 0x044, 0x50);
    CHECK_EQ(rd(u, 0x03c) & 0x50, 0x50u);
    pl011_free(u);
}

TEST(odd_accesses_are_harmless)
{
    struct pl011 *u = pl011_new(-1, line());
    REQUIRE(u);
    /* unaligned writes are dropped; reads of holes and past the ids are zero */
    uint32_t v = 0x41;
    pl011_bus_ops.write(u, 0x001, (const uint8_t *)&v, 1);
    pl011_bus_ops.write(u, 0x039, (const uint8_t *)&v, 2);
    CHECK_EQ(rd(u, 0x038), 0u);
    CHECK_EQ(rd(u, 0x100), 0u);
    CHECK_EQ(rd(u, 0xffc) & 0xff, 0xb1u);
    uint8_t b8[8];
    memset(b8, 0xee, sizeof b8);
    pl011_bus_ops.read(u, 0x018, b8, 8); /* an 8-byte read: the register, then zeros */
    CHECK_EQ(b8[0], 0x90);
    CHECK_EQ(b8[4], 0);
    uint8_t b1 = 0xee;
    pl011_bus_ops.read(u, 0xfe1, &b1, 1); /* a byte inside a word register */
    CHECK_EQ(b1, 0);
    /* the masks keep reserved bits out */
    wr(u, 0x038, 0xffffffff);
    CHECK_EQ(rd(u, 0x038), 0x7ffu);
    pl011_free(u);
    pl011_free(NULL);
}

TEST(snapshot_state_round_trip)
{
    level = -1;
    struct pl011 *u = pl011_new(-1, line());
    REQUIRE(u);
    wr(u, 0x038, 0x50);  /* IMSC */
    wr(u, 0x02c, 0x70);  /* LCR_H: 8 bits, FIFOs */
    wr(u, 0x030, 0x301); /* CR: enabled */
    CHECK_EQ(pl011_input(u, "xyz", 3), 3u);
    CHECK_EQ(rd(u, 0x000), (uint32_t)'x');
    struct vmsnap_buf p = { 0 };
    pl011_state_ops.save(u, &p);
    REQUIRE(!p.failed);
    struct pl011 *v = pl011_new(-1, line());
    REQUIRE(v);
    struct bl_error err = { 0 };
    int changes0 = changes;
    CHECK_EQ(pl011_state_ops.restore(v, p.p, p.len, &err), 0);
    CHECK_EQ(changes, changes0); /* the line's level comes back with the GIC's state */
    CHECK_EQ(rd(v, 0x038), 0x50u);
    CHECK_EQ(rd(v, 0x02c), 0x70u);
    CHECK_EQ(rd(v, 0x030), 0x301u);
    CHECK_EQ(rd(v, 0x040), 0x50u); /* RX and RT still pending and unmasked */
    CHECK_EQ(rd(v, 0x000), (uint32_t)'y');
    CHECK_EQ(rd(v, 0x000), (uint32_t)'z');
    CHECK_EQ(level, 0); /* the FIFO drained on the restored model: its line dropped */
    /* the receive FIFO's head one past its end: refused, the model untouched */
    size_t n = 0;
    uint8_t *rec = (uint8_t *)vmsnap_rec_get(p.p, p.len, 1, &n);
    REQUIRE(rec && n > 40);
    uint32_t bad = 32;
    memcpy(rec + 40, &bad, 4); /* rx_head, after nine registers and the level */
    struct pl011 *w = pl011_new(-1, line());
    REQUIRE(w);
    CHECK_EQ(pl011_state_ops.restore(w, p.p, p.len, &err), -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "receive FIFO 32+") != NULL);
    CHECK_EQ(rd(w, 0x038), 0u);
    CHECK_EQ(pl011_state_ops.restore(w, p.p, p.len / 2, &err), -BOXLITE_ERR_INVALID);
    vmsnap_buf_free(&p);
    pl011_free(u);
    pl011_free(v);
    pl011_free(w);
}
