// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* The PL011 UART (src/vmm/hw/pl011.c) driven by any sequence of accesses a guest could make
 * (any offset in its 4 KiB window, any width and value) mixed with host input, checking
 * what must always hold: the interrupt line follows RIS & IMSC, the flags agree with the
 * receive FIFO, and nothing reads or writes outside the device. */
#include "vmm/hw/pl011.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int level;
static void set_level(void *o, uint32_t gsi, int l)
{
    (void)o;
    (void)gsi;
    level = l;
}

static uint32_t rd32(struct pl011 *u, uint64_t off)
{
    uint32_t v = 0;
    pl011_bus_ops.read(u, off, (uint8_t *)&v, 4);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    level = 0;
    struct pl011 *u = pl011_new(-1, (struct irq_line){ .set_level = set_level, .gsi = 1 });
    if (!u)
        return 0;
    static const uint32_t widths[4] = { 1, 2, 4, 8 };
    /* each step: op (1), offset (2), value (4) */
    while (size >= 7) {
        uint8_t op = data[0];
        uint64_t off = (uint64_t)(data[1] | data[2] << 8) % PL011_MMIO_SIZE;
        uint8_t val[8] = { 0 };
        memcpy(val, data + 3, 4);
        uint32_t len = widths[op & 3];
        if (off + len > PL011_MMIO_SIZE)
            off = PL011_MMIO_SIZE - len;
        switch (op >> 6) {
        case 0: pl011_bus_ops.write(u, off, val, len); break;
        case 1: pl011_bus_ops.read(u, off, val, len); break;
        case 2: pl011_input(u, data + 3, 4); break;
        default: { /* a burst that may fill the FIFO, from the rest of the input */
            size_t n = (size_t)(op & 0x3f);
            pl011_input(u, data + 3, n < size - 3 ? n : size - 3);
            break;
        }
        }
        data += 7;
        size -= 7;
        uint32_t ris = rd32(u, 0x03c), imsc = rd32(u, 0x038), mis = rd32(u, 0x040);
        uint32_t fr = rd32(u, 0x018);
        if (mis != (ris & imsc) || level != (mis != 0))
            abort();
        if ((fr & 0x10) && (ris & 0x10)) /* receive pending with an empty FIFO */
            abort();
    }
    pl011_free(u);
    return 0;
}
