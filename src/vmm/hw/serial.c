// SPDX-License-Identifier: Apache-2.0
/* 8250/16550A UART (register set as in the National Semiconductor PC16550D data sheet):
 * THR always empty (bytes leave at once to the log fd), a 64-byte receive FIFO, interrupt
 * identification by priority, loopback for the driver's self-test, scratch register. */
#include "vmm/hw/serial.h"

#include "vmm/snapshot.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UART_RX 0  /* in: receive buffer (DLAB=0) */
#define UART_TX 0  /* out: transmit holding (DLAB=0) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_IIR 2 /* in: interrupt identification */
#define UART_FCR 2 /* out: FIFO control */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_RDI 0x01  /* receive data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IIR_NO_INT 0x01
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_FIFO 0xc0 /* FIFOs enabled: what makes Linux say 16550A */
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define RX_FIFO 64

struct serial {
    pthread_mutex_t lock;
    int out_fd;
    struct irq_line irq;
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
    bool thri_pending;
    bool irq_pending; /* last computed line state, to raise edges only */
    uint8_t rx[RX_FIFO];
    unsigned rx_head, rx_count;
};

struct serial *serial_new(int out_fd, struct irq_line irq)
{
    struct serial *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->out_fd = out_fd;
    s->irq = irq;
    s->dll = 12; /* 9600 baud, as firmware would leave it */
    s->mcr = 0x08;
    return s;
}

void serial_free(struct serial *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static uint8_t iir(struct serial *s)
{
    uint8_t fifo = (s->fcr & FCR_ENABLE) ? IIR_FIFO : 0;
    if ((s->ier & IER_RDI) && s->rx_count)
        return fifo | IIR_RDI;
    if ((s->ier & IER_THRI) && s->thri_pending)
        return fifo | IIR_THRI;
    return fifo | IIR_NO_INT;
}

/* Returns whether to raise an edge (called with the lock held, raised after it). */
static bool update_irq(struct serial *s)
{
    bool pending = !(iir(s) & IIR_NO_INT);
    bool edge = pending && !s->irq_pending;
    s->irq_pending = pending;
    return edge;
}

static void rx_push(struct serial *s, uint8_t b)
{
    if (s->rx_count == RX_FIFO)
        return; /* overrun: the byte is lost, as on the real part */
    s->rx[(s->rx_head + s->rx_count) % RX_FIFO] = b;
    s->rx_count++;
}

static void transmit(struct serial *s, uint8_t b)
{
    if (s->mcr & MCR_LOOP) {
        rx_push(s, b);
    } else if (s->out_fd >= 0) {
        ssize_t r;
        do
            r = write(s->out_fd, &b, 1);
        while (r < 0 && errno == EINTR);
    }
    s->thri_pending = true;
}

static uint8_t msr(struct serial *s)
{
    if (!(s->mcr & MCR_LOOP))
        return 0xb0; /* DCD, DSR, CTS: a terminal is attached */
    /* loopback: CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2 */
    uint8_t m = s->mcr;
    return (uint8_t)(((m & 0x02) ? 0x10 : 0) | ((m & 0x01) ? 0x20 : 0) |
                     ((m & 0x04) ? 0x40 : 0) | ((m & 0x08) ? 0x80 : 0));
}

static uint8_t reg_read(struct serial *s, uint64_t off)
{
    bool dlab = s->lcr & LCR_DLAB;
    switch (off) {
    case UART_RX:
        if (dlab)
            return s->dll;
        if (!s->rx_count)
            return 0;
        {
            uint8_t b = s->rx[s->rx_head];
            s->rx_head = (s->rx_head + 1) % RX_FIFO;
            s->rx_count--;
            return b;
        }
    case UART_IER: return dlab ? s->dlm : s->ier;
    case UART_IIR: {
        uint8_t v = iir(s);
        if ((v & 0x0f) == IIR_THRI)
            s->thri_pending = false; /* reading IIR acknowledges THRE */
        return v;
    }
    case UART_LCR: return s->lcr;
    case UART_MCR: return s->mcr;
    case UART_LSR: return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
    case UART_MSR: return msr(s);
    case UART_SCR: return s->scr;
    default: return 0;
    }
}

static void reg_write(struct serial *s, uint64_t off, uint8_t v)
{
    bool dlab = s->lcr & LCR_DLAB;
    switch (off) {
    case UART_TX:
        if (dlab)
            s->dll = v;
        else
            transmit(s, v);
        break;
    case UART_IER:
        if (dlab) {
            s->dlm = v;
        } else {
            /* Enabling THRI with the holding register empty interrupts at once. */
            if ((v & IER_THRI) && !(s->ier & IER_THRI))
                s->thri_pending = true;
            s->ier = v & 0x0f;
        }
        break;
    case UART_FCR:
        if (v & FCR_CLEAR_RX)
            s->rx_count = 0;
        s->fcr = v & 0xc9; /* enable, DMA mode, trigger level */
        break;
    case UART_LCR: s->lcr = v; break;
    case UART_MCR: s->mcr = v & 0x1f; break;
    case UART_SCR: s->scr = v; break;
    default: break; /* LSR and MSR are read-only */
    }
}

static void serial_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct serial *s = opaque;
    for (uint32_t i = 0; i < len; i++)
        data[i] = 0;
    if (len != 1 || off >= SERIAL_IO_SIZE)
        return;
    pthread_mutex_lock(&s->lock);
    data[0] = reg_read(s, off);
    bool edge = update_irq(s);
    pthread_mutex_unlock(&s->lock);
    if (edge)
        irq_trigger(&s->irq);
}

static void serial_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct serial *s = opaque;
    if (len != 1 || off >= SERIAL_IO_SIZE)
        return;
    pthread_mutex_lock(&s->lock);
    reg_write(s, off, data[0]);
    bool edge = update_irq(s);
    pthread_mutex_unlock(&s->lock);
    if (edge)
        irq_trigger(&s->irq);
}

size_t serial_input(struct serial *s, const void *buf, size_t len)
{
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    while (n < len && s->rx_count < RX_FIFO)
        rx_push(s, ((const uint8_t *)buf)[n++]);
    bool edge = update_irq(s);
    pthread_mutex_unlock(&s->lock);
    if (edge)
        irq_trigger(&s->irq);
    return n;
}

const struct bus_ops serial_bus_ops = { .read = serial_read, .write = serial_write };

/* ---- snapshots ------------------------------------------------------------------------------ */

struct saved_serial {
    uint8_t ier, lcr, mcr, scr, fcr, dll, dlm, thri_pending, irq_pending, pad[3];
    uint32_t rx_head, rx_count;
    uint8_t rx[RX_FIFO];
};

static void serial_save(void *opaque, struct vmsnap_buf *p)
{
    struct serial *s = opaque;
    pthread_mutex_lock(&s->lock);
    struct saved_serial v = { .ier = s->ier, .lcr = s->lcr, .mcr = s->mcr, .scr = s->scr,
                              .fcr = s->fcr, .dll = s->dll, .dlm = s->dlm,
                              .thri_pending = s->thri_pending, .irq_pending = s->irq_pending,
                              .rx_head = s->rx_head, .rx_count = s->rx_count };
    memcpy(v.rx, s->rx, sizeof v.rx);
    pthread_mutex_unlock(&s->lock);
    vmsnap_rec(p, 1, &v, sizeof v);
}

static int serial_restore(void *opaque, const uint8_t *p, size_t len, struct bl_error *err)
{
    struct serial *s = opaque;
    struct saved_serial v;
    if (vmsnap_rec_check(p, len, 2, "serial", err) < 0 ||
        vmsnap_rec_copy(p, len, 1, &v, sizeof v, "serial", err) < 0)
        return -err->code;
    if (v.rx_head >= RX_FIFO || v.rx_count > RX_FIFO)
        return bl_err(err, BOXLITE_ERR_INVALID, "snapshot: serial: receive FIFO %u+%u",
                      v.rx_head, v.rx_count);
    pthread_mutex_lock(&s->lock);
    s->ier = v.ier;
    s->lcr = v.lcr;
    s->mcr = v.mcr;
    s->scr = v.scr;
    s->fcr = v.fcr;
    s->dll = v.dll;
    s->dlm = v.dlm;
    s->thri_pending = v.thri_pending != 0;
    s->irq_pending = v.irq_pending != 0;
    s->rx_head = v.rx_head;
    s->rx_count = v.rx_count;
    memcpy(s->rx, v.rx, sizeof s->rx);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

const struct machine_state_ops serial_state_ops = {
    .name = "serial port", .save = serial_save, .restore = serial_restore,
};
