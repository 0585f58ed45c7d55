/* Stand-in UART and control page for the KVM engine (stopgap.c). */
#ifndef VMM_KVM_STOPGAP_H
#define VMM_KVM_STOPGAP_H

#include "vmm/core/device.h"

#include <pthread.h>
#include <stdbool.h>

struct sg_uart {
    pthread_mutex_t lock;
    struct irq_line irq;
    int out_fd;                              /* console log, or -1 */
    void (*sink)(void *opaque, uint8_t c);   /* also sees every byte, may be NULL */
    void *sink_opaque;
    uint8_t ier, lcr, mcr, fcr, scr, dll, dlm;
    bool thre_pending;
};
void sg_uart_init(struct sg_uart *u, struct irq_line irq, int out_fd);
extern const struct bus_ops sg_uart_ops; /* 8 ports, opaque = struct sg_uart * */

struct sg_ctl {
    void (*ready)(void *opaque);
    void (*exit)(void *opaque, int status);
    void *opaque;
};
extern const struct bus_ops sg_ctl_ops; /* 4 KiB, opaque = struct sg_ctl * */

#endif
