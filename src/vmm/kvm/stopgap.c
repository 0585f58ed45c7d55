/* Stand-ins for two small devices until the shared models in src/vmm/hw/ land: an 8250
 * UART doing just what Linux's 8250 driver needs to find a 16550A and transmit (no receive),
 * and the BoxLite control page (docs/architecture.md). The engine uses these only when
 * src/vmm/hw/serial.c and ctl.c are absent. */
#include "vmm/kvm/stopgap.h"

#include <string.h>
#include <unistd.h>

/* 8250/16550 registers (offsets from the base port) and bits */
#define UART_RX 0
#define UART_IER 1
#define UART_IIR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7
#define UART_LCR_DLAB 0x80
#define UART_IER_THRI 0x02
#define UART_IIR_NO_INT 0x01
#define UART_IIR_THRI 0x02
#define UART_IIR_FIFO 0xc0
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40
#define UART_MSR_DCD_DSR_CTS 0xb0

static bool thr_irq(const struct sg_uart *u) { return (u->ier & UART_IER_THRI) && u->thre_pending; }

/* The line is edge-triggered: raise it when the UART goes from quiet to interrupting. */
static void update_irq(struct sg_uart *u, bool before)
{
    if (!before && thr_irq(u))
        irq_trigger(&u->irq);
}

static void uart_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    struct sg_uart *u = opaque;
    memset(data, 0, len);
    pthread_mutex_lock(&u->lock);
    bool dlab = u->lcr & UART_LCR_DLAB;
    switch (off) {
    case UART_RX: data[0] = dlab ? u->dll : 0; break;
    case UART_IER: data[0] = dlab ? u->dlm : u->ier; break;
    case UART_IIR:
        data[0] = (u->fcr & 1 ? UART_IIR_FIFO : 0) |
                  (thr_irq(u) ? UART_IIR_THRI : UART_IIR_NO_INT);
        u->thre_pending = false; /* reading IIR acknowledges THRE */
        break;
    case UART_LCR: data[0] = u->lcr; break;
    case UART_MCR: data[0] = u->mcr; break;
    case UART_LSR: data[0] = UART_LSR_THRE | UART_LSR_TEMT; break;
    case UART_MSR: data[0] = UART_MSR_DCD_DSR_CTS; break;
    case UART_SCR: data[0] = u->scr; break;
    }
    pthread_mutex_unlock(&u->lock);
}

static void uart_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct sg_uart *u = opaque;
    pthread_mutex_lock(&u->lock);
    bool before = thr_irq(u);
    bool dlab = u->lcr & UART_LCR_DLAB;
    uint8_t v = data[0];
    switch (off) {
    case UART_RX:
        if (dlab) {
            u->dll = v;
            break;
        }
        if (u->out_fd >= 0 && write(u->out_fd, &v, 1) < 0) {
            /* a full or broken log must not stop the guest */
        }
        if (u->sink)
            u->sink(u->sink_opaque, v);
        u->thre_pending = true; /* transmitted at once: THR is empty again */
        before = false;         /* a new THRE event */
        break;
    case UART_IER:
        if (dlab) {
            u->dlm = v;
            break;
        }
        if (!(u->ier & UART_IER_THRI) && (v & UART_IER_THRI))
            u->thre_pending = true;
        u->ier = v & 0x0f;
        break;
    case UART_IIR: u->fcr = v; break;
    case UART_LCR: u->lcr = v; break;
    case UART_MCR: u->mcr = v & 0x1f; break;
    case UART_SCR: u->scr = v; break;
    }
    update_irq(u, before);
    pthread_mutex_unlock(&u->lock);
}

const struct bus_ops sg_uart_ops = { .read = uart_read, .write = uart_write };

void sg_uart_init(struct sg_uart *u, struct irq_line irq, int out_fd)
{
    memset(u, 0, sizeof *u);
    pthread_mutex_init(&u->lock, NULL);
    u->irq = irq;
    u->out_fd = out_fd;
}

/* ---- control page ------------------------------------------------------------------- */

#define CTL_READY 0x0
#define CTL_EXIT 0x4
#define CTL_READY_MAGIC 0x7ead

static void ctl_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
    memset(data, 0, len);
}

static void ctl_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
    struct sg_ctl *c = opaque;
    if (len != 4)
        return;
    uint32_t v;
    memcpy(&v, data, 4);
    if (off == CTL_READY && v == CTL_READY_MAGIC && c->ready)
        c->ready(c->opaque);
    else if (off == CTL_EXIT && c->exit)
        c->exit(c->opaque, (int)v);
}

const struct bus_ops sg_ctl_ops = { .read = ctl_read, .write = ctl_write };
