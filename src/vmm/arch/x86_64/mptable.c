// SPDX-License-Identifier: Apache-2.0
/* The MP table (Intel MultiProcessor Specification 1.4, chapter 4): how a Linux guest
 * without ACPI learns its CPUs, the IOAPIC and how ISA interrupts reach it. Written at the
 * start of the EBDA, where Linux's MP scan looks first (the e820 map leaves it out of RAM). */
#include "x86.h"

#include <string.h>

#define MPC_SPEC_REV 4 /* MP spec 1.4 */
#define MP_APIC_VERSION 0x14
#define MP_IOAPIC_VERSION 0x11

enum { MP_PROCESSOR = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_INTSRC = 3, MP_LINTSRC = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define CPU_ENABLED 1
#define CPU_BSP 2
#define MP_BUS_ISA 0

static uint8_t checksum(const uint8_t *p, size_t n)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)(0 - sum);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

int x86_write_mptable(struct guest_mem *gm, unsigned ncpus, struct bl_error *err)
{
    /* floating pointer (16) + header (44) + cpus (20 each) + bus, ioapic (8) + irqs (8 each) */
    size_t cfg_len = 44 + 20 * (size_t)ncpus + 8 + 8 + 8 * (X86_IOAPIC_PINS + 2);
    size_t total = 16 + cfg_len;
    if (ncpus == 0 || ncpus > 254 || X86_EBDA_START + total > 0xa0000)
        return bl_err(err, BOXLITE_ERR_INVALID, "MP table: %u CPUs do not fit", ncpus);
    uint8_t *base = gm_ptr(gm, X86_EBDA_START, total);
    if (!base)
        return bl_err(err, BOXLITE_ERR_INTERNAL, "MP table: no guest memory at %#x",
                      X86_EBDA_START);
    memset(base, 0, total);

    uint8_t *fp = base, *cfg = base + 16, *e = cfg + 44;
    uint8_t ioapic_id = (uint8_t)ncpus; /* after the CPUs' APIC ids */
    for (unsigned i = 0; i < ncpus; i++, e += 20) {
        e[0] = MP_PROCESSOR;
        e[1] = (uint8_t)i; /* local APIC id, as CPUID leaf 1 reports it */
        e[2] = MP_APIC_VERSION;
        e[3] = CPU_ENABLED | (i == 0 ? CPU_BSP : 0);
        put32(e + 4, 0x600);         /* signature: family 6 */
        put32(e + 8, 0x201);         /* features: FPU, APIC */
    }
    e[0] = MP_BUS;
    e[1] = MP_BUS_ISA;
    memcpy(e + 2, "ISA   ", 6);
    e += 8;
    e[0] = MP_IOAPIC;
    e[1] = ioapic_id;
    e[2] = MP_IOAPIC_VERSION;
    e[3] = 1; /* enabled */
    put32(e + 4, X86_IOAPIC_ADDR);
    e += 8;
    /* ISA IRQ n -> IOAPIC pin n, polarity and trigger "conforming to the bus" (ISA: edge,
     * active high), which is what the serial port and virtio-mmio's irqfd pulses are. */
    for (unsigned pin = 0; pin < X86_IOAPIC_PINS; pin++, e += 8) {
        e[0] = MP_INTSRC;
        e[1] = MP_INT;
        put16(e + 2, 0);
        e[4] = MP_BUS_ISA;
        e[5] = (uint8_t)pin;
        e[6] = ioapic_id;
        e[7] = (uint8_t)pin;
    }
    /* LINT0 takes the PIC's ExtINT, LINT1 NMI, on every local APIC (0xff). */
    e[0] = MP_LINTSRC;
    e[1] = MP_EXTINT;
    e[4] = MP_BUS_ISA;
    e[6] = 0xff;
    e[7] = 0;
    e += 8;
    e[0] = MP_LINTSRC;
    e[1] = MP_NMI;
    e[4] = MP_BUS_ISA;
    e[6] = 0xff;
    e[7] = 1;
    e += 8;

    memcpy(cfg, "PCMP", 4);
    put16(cfg + 4, (uint16_t)cfg_len);
    cfg[6] = MPC_SPEC_REV;
    memcpy(cfg + 8, "BOXLITE ", 8);
    memcpy(cfg + 16, "MICROVM     ", 12);
    put16(cfg + 34, (uint16_t)(ncpus + 1 + 1 + X86_IOAPIC_PINS + 2)); /* entry count */
    put32(cfg + 36, X86_LAPIC_ADDR);
    cfg[7] = checksum(cfg, cfg_len);

    memcpy(fp, "_MP_", 4);
    put32(fp + 4, X86_EBDA_START + 16);
    fp[8] = 1; /* length in 16-byte units */
    fp[9] = MPC_SPEC_REV;
    fp[10] = checksum(fp, 16);
    return 0;
}
