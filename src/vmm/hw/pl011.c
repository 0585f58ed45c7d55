// SPDX-License-Identifier: Apache-2.0
/* Arm PrimeCell UART PL011 (register set as in the PL011 Technical Reference Manual, Arm DDI
 * 0183, r1p5): the transmit FIFO is always empty (bytes leave at once to the log fd), a
 * 32-entry receive FIFO, the raw/masked interrupt status pair, and the peripheral and
 * PrimeCell ID registers Linux's AMBA bus reads to bind the amba-pl011 driver. */
#include "vmm/hw/pl011.h"
#include "vmm/snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* register offsets (TRM 3.2, "Summary of registers") */
#define UARTDR 0x000
#define UARTRSR 0x004
#define UARTFR 0x018
#define UARTILPR 0x020
#define UARTIBRD 0x024
#define UARTFBRD 0x028
#define UARTLCR_H 0x02c
#define UARTCR 0x030
#define UARTIFLS 0x034
#define UARTIMSC 0x038
#define UARTRIS 0x03c
#define UARTMIS 0x040
#define UARTICR 0x044
#define UARTDMACR 0x048
#define UARTPERIPHID0 0xfe0 /* ... 0xffc: PeriphID0-3, PCellID0-3, one byte each */

#define FR_RXFE 0x10 /* receive FIFO empty */
#define FR_RXFF 0x40 /* receive FIFO full */
#define FR_TXFE 0x80 /* transmit FIFO empty */
#define INT_RX 0x10  /* RXRIS/RXIM: receive */
#define INT_TX 0x20  /* TXRIS/TXIM: transmit */
#define INT_RT 0x40  /* RTRIS/RTIM: receive timeout */
#define INT_ALL 0x7ff

#define RX_FIFO 32

/* PeriphID 0x00141011 (part 0x011, designer Arm 0x41, revision r1p5) and the PrimeCell id
 * 0xb105f00d (TRM 3.3.14-15); amba-pl011 matches id 0x00041011 under mask 0x000fffff. */
static const uint8_t id_regs[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

struct pl011 {
    pthread_mutex_t lock;
    int out_fd;
    struct irq_line irq;
    uint32_t ris, imsc, cr, lcr_h, ibrd, fbrd, ifls, ilpr, dmacr;
    bool level; /* the line as last driven */
    uint8_t rx[RX_FIFO];
    unsigned rx_head, rx_count;
};

struct pl011 *pl011_new(int out_fd, struct irq_line irq)
{
    struct pl011 *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    pthread_mutex_init(&u->lock, NULL);
    u->out_fd = out_fd;
    u->irq = irq;
    u->cr = 0x300; /* reset value: TXE and RXE set, UART disabled (TRM 3.3.8) */
    u->ifls = 0x12;
    return u;
}

void pl011_free(struct pl011 *u)
{
    if (!u)
        return;
    pthread_mutex_destroy(&u->lock);
    free(u);
}

/* Drives the line from RIS & IMSC; called with the lock held. */
static void update(struct pl011 *u)
{
    bool level = (u->ris & u->imsc) != 0;
    if (level != u->level) {
        u->level = level;
        irq_set_level(&u->irq, level);
    }
}

size_t pl011_input(struct pl011 *u, const void *buf, size_t len)
{
    const uint8_t *b = buf;
    size_t n = 0;
    pthread_mutex_lock(&u->lock);
    for (; n < len && u->rx_count < RX_FIFO; n++, u->rx_count++)
        u->rx[(u->rx_head + u->rx_count) % RX_FIFO] = b[n];
    if (n) /* no receive timer: data waiting raises both receive interrupts */
        u->ris |= INT_RX | INT_RT;
    update(u);
    pthread_mutex_unlock(&u->lock);
    return n;
}

static void transmit(struct pl011 *u, uint8_t c)
{
    if (u->out_fd >= 0) {
        ssize_t r;
        do
            r = write(u->out_fd, &c, 1);
        while (r < 0 && errno == EINTR); /* a full pipe drops the byte, as serial.c does */
    }
    /* the FIFO drained at once: its level is below any trigger level */
    u->ris |= INT_TX;
}

static uint32_t read_reg(struct pl011 *u, uint64_t off)
{
    switch (off) {
    case UARTDR: {
        if (!u->rx_count)
            return 0;
        uint32_t c = u->rx[u->rx_head];
        u->rx_head = (u->rx_head + 1) % RX_FIFO;
        if (--u->rx_count == 0)
            u->ris &= ~(uint32_t)(INT_RX | INT_RT);
        update(u);
        return c;
    }
    case UARTRSR:
        return 0; /* no framing, parity, break or overrun errors */
    case UARTFR:
        return FR_TXFE | (u->rx_count ? 0 : FR_RXFE) | (u->rx_count == RX_FIFO ? FR_RXFF : 0);
    case UARTILPR: return u->ilpr;
    case UARTIBRD: return u->ibrd;
    case UARTFBRD: return u->fbrd;
    case UARTLCR_H: return u->lcr_h;
    case UARTCR: return u->cr;
    case UARTIFLS: return u->ifls;
    case UARTIMSC: return u->imsc;
    case UARTRIS: return u->ris;
    case UARTMIS: return u->ris & u->imsc;
    case UARTDMACR: return u->dmacr;
    default:
        if (off >= UARTPERIPHID0 && off < UARTPERIPHID0 + 4 * sizeof id_regs && off % 4 == 0)
            return id_regs[(off - UARTPERIPHID0) / 4];
        return 0;
    }
}

static void write_reg(struct pl011 *u, uint64_t off, uint32_t v)
{
    switch (off) {
    case UARTDR: transmit(u, (uint8_t)v); break;
    case UARTRSR: break; /* a write clears the error flags, of which there are none */
    case UARTILPR: u->ilpr = v & 0xff; break;
    case UARTIBRD: u->ibrd = v & 0xffff; break;
    case UARTFBRD: u->fbrd = v & 0x3f; break;
    case UARTLCR_H: u->lcr_h = v & 0xff; break;
    case UARTCR: u->cr = v & 0xff87; break;
    case UARTIFLS: u->ifls = v & 0x3f; break;
    case UARTIMSC: u->imsc = v & INT_ALL; break;
    case UARTICR:
        u->ris &= ~(v & INT_ALL);
        if (u->rx_count) /* data still waiting raises its interrupt again */
            u->ris |= INT_RX | INT_RT;
        break;
    case UARTDMACR: u->dmacr = v & 7; break;
    default: break; /* read-only or unknown: ignored */
    }
    update(u);
}

static void bus_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
    struct pl011 *u = opaque;
    pthread_mutex_lock(&u->lock);
    uint32_t v = read_reg(u, offset & ~3ull) >> (8 * (offset & 3));
    pthread_mutex_unlock(&u->lock);
    memset(data, 0, len);
    memcpy(data, &v, len < 4 ? len : 4);
}

static void bus_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
    struct pl011 *u = opaque;
    uint32_t v = 0;
    if (offset & 3)
        return; /* the registers are word aligned; a byte store goes to the low byte */
    memcpy(&v, data, len < 4 ? len : 4);
    pthread_mutex_lock(&u->lock);
    write_reg(u, offset, v);
    pthread_mutex_unlock(&u->lock);
}

const struct bus_ops pl011_bus_ops = { .read = bus_read, .write = bus_write };

/* ---- snapshots ------------------------------------------------------------------------------ */

struct saved_pl011 {
    uint32_t ris, imsc, cr, lcr_h, ibrd, fbrd, ifls, ilpr, dmacr;
    uint32_t level, rx_head, rx_count;
    uint8_t rx[RX_FIFO];
};

static void pl011_save(void *opaque, struct vmsnap_buf *p)
{
    struct pl011 *u = opaque;
    pthread_mutex_lock(&u->lock);
    struct saved_pl011 v = { .ris = u->ris, .imsc = u->imsc, .cr = u->cr, .lcr_h = u->lcr_h,
                             .ibrd = u->ibrd, .fbrd = u->fbrd, .ifls = u->ifls, .ilpr = u->ilpr,
                             .dmacr = u->dmacr, .level = u->level, .rx_head = u->rx_head,
                             .rx_count = u->rx_count };
    memcpy(v.rx, u->rx, sizeof v.rx);
    pthread_mutex_unlock(&u->lock);
    vmsnap_rec(p, 1, &v, sizeof v);
}

/* The line's level comes back with the GIC's state (its input levels are saved there);
 * the model only remembers what it last drove, so its next change is told to the GIC. */
static int pl011_restore(void *opaque, const uint8_t *p, size_t len, struct bl_error *err)
{
    struct pl011 *u = opaque;
    struct saved_pl011 v;
    if (vmsnap_rec_check(p, len, 2, "PL011", err) < 0 ||
        vmsnap_rec_copy(p, len, 1, &v, sizeof v, "PL011", err) < 0)
        return -err->code;
    if (v.rx_head >= RX_FIFO || v.rx_count > RX_FIFO)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: PL011: receive FIFO %u+%u",
                      v.rx_head, v.rx_count);
    pthread_mutex_lock(&u->lock);
    u->ris = v.ris & INT_ALL;
    u->imsc = v.imsc & INT_ALL;
    u->cr = v.cr & 0xffff;
    u->lcr_h = v.lcr_h & 0xff;
    u->ibrd = v.ibrd & 0xffff;
    u->fbrd = v.fbrd & 0x3f;
    u->ifls = v.ifls & 0x3f;
    u->ilpr = v.ilpr & 0xff;
    u->dmacr = v.dmacr & 7;
    u->level = v.level != 0;
    u->rx_head = v.rx_head;
    u->rx_count = v.rx_count;
    memcpy(u->rx, v.rx, sizeof u->rx);
    pthread_mutex_unlock(&u->lock);
    return 0;
}

const struct machine_state_ops pl011_state_ops = {
    .name = "PL011", .save = pl011_save, .restore = pl011_restore,
};
