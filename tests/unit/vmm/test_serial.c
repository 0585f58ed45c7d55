// SPDX-License-Identifier: Apache-2.0
/* The 8250 UART: Linux's 16550A detection sequence, transmit to the log fd, interrupts,
 * receive FIFO and loopback. */
#include "harness/harness.h"
#include "vmm/hw/serial.h"

#include <fcntl.h>
#include <unistd.h>

static int irqs;
static void count(void *o, uint32_t gsi) { irqs++; }

static uint8_t in(struct serial *s, unsigned off)
{
    uint8_t v = 0xaa;
    serial_bus_ops.read(s, off, &v, 1);
    return v;
}
static void out(struct serial *s, unsigned off, uint8_t v) { serial_bus_ops.write(s, off, &v, 1); }

TEST(linux_autoconfig_sees_16550a)
{
    struct serial *s = serial_new(-1, (struct irq_line){ .trigger = count, .gsi = 4 });
    REQUIRE(s);
    /* scratch register read-back (autoconfig's "is there a UART") */
    out(s, 7, 0xa5);
    CHECK_EQ(in(s, 7), 0xa5);
    out(s, 7, 0x5a);
    CHECK_EQ(in(s, 7), 0x5a);
    /* IER: writes of 0 read back as 0, the upper nibble is not kept */
    out(s, 1, 0);
    CHECK_EQ(in(s, 1), 0);
    out(s, 1, 0xff);
    CHECK_EQ(in(s, 1) & 0xf0, 0);
    out(s, 1, 0);
    /* loopback test: MCR = LOOP | OUT2 | RTS, MSR high nibble must read 0x90 */
    out(s, 4, 0x1a);
    CHECK_EQ(in(s, 6) & 0xf0, 0x90);
    out(s, 4, 0x08);
    /* FIFO: FCR enable, IIR top bits 0xc0 = 16550A */
    out(s, 2, 0x07);
    CHECK_EQ(in(s, 2) & 0xc0, 0xc0);
    CHECK_EQ(in(s, 2), 0xc1); /* no interrupt pending */
    CHECK_EQ(in(s, 5), 0x60); /* THRE | TEMT, no data */
    /* divisor latch */
    out(s, 3, 0x80);
    out(s, 0, 1);
    out(s, 1, 0);
    CHECK_EQ(in(s, 0), 1);
    out(s, 3, 0x03);
    CHECK_EQ(in(s, 3), 0x03);
    serial_free(s);
}

TEST(transmit_goes_to_log_fd)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/console.log", harness_tmpdir());
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    struct serial *s = serial_new(fd, (struct irq_line){ 0 });
    const char *msg = "Linux version 6.1\n";
    for (const char *p = msg; *p; p++)
        out(s, 0, (uint8_t)*p);
    char buf[64] = { 0 };
    CHECK_EQ(pread(fd, buf, sizeof(buf), 0), (ssize_t)strlen(msg));
    CHECK_STR(buf, msg);
    serial_free(s);
    close(fd);
}

TEST(thre_interrupt)
{
    irqs = 0;
    struct serial *s = serial_new(-1, (struct irq_line){ .trigger = count, .gsi = 4 });
    out(s, 2, 0x07);
    out(s, 1, 0x02); /* enable THRI: THR is empty, so an interrupt at once */
    CHECK_EQ(irqs, 1);
    CHECK_EQ(in(s, 2), 0xc2);
    CHECK_EQ(in(s, 2), 0xc1); /* reading IIR acknowledged it */
    out(s, 0, 'x');          /* sent at once: THRE again, a new edge */
    CHECK_EQ(irqs, 2);
    CHECK_EQ(in(s, 2), 0xc2);
    /* Linux's THRE test: IER off, on again re-asserts */
    out(s, 1, 0);
    out(s, 1, 0x02);
    CHECK_EQ(in(s, 2), 0xc2);
    out(s, 1, 0);
    CHECK_EQ(in(s, 2), 0xc1);
    serial_free(s);
}

TEST(receive_fifo_and_rdi)
{
    irqs = 0;
    struct serial *s = serial_new(-1, (struct irq_line){ .trigger = count, .gsi = 4 });
    out(s, 2, 0x07);
    out(s, 1, 0x01);
    CHECK_EQ(irqs, 0);
    CHECK_EQ(serial_input(s, "ab", 2), 2);
    CHECK_EQ(irqs, 1);
    CHECK_EQ(in(s, 5) & 0x01, 1);
    CHECK_EQ(in(s, 2), 0xc4);
    CHECK_EQ(in(s, 0), 'a');
    CHECK_EQ(in(s, 0), 'b');
    CHECK_EQ(in(s, 5) & 0x01, 0);
    CHECK_EQ(in(s, 2), 0xc1);
    char big[100];
    memset(big, 'z', sizeof(big));
    CHECK_EQ(serial_input(s, big, sizeof(big)), 64); /* the FIFO is bounded */
    out(s, 2, 0x03);                                 /* clear it */
    CHECK_EQ(in(s, 5) & 0x01, 0);
    /* loopback: transmitted bytes come back, nothing reaches the log */
    out(s, 4, 0x10);
    out(s, 0, 'L');
    CHECK_EQ(in(s, 0), 'L');
    /* odd accesses */
    uint16_t w = 0xffff;
    serial_bus_ops.read(s, 0, (uint8_t *)&w, 2);
    CHECK_EQ(w, 0);
    out(s, 9, 1);
    serial_free(s);
    serial_free(NULL);
}
