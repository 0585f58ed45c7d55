// SPDX-License-Identifier: Apache-2.0
/* The KVM machine on this host's /dev/kvm (any KVM, also the paravirtual one of our build
 * machines, where guest kernel mode is emulated): a hand-assembled 64-bit guest, entered
 * through the arch code's long-mode set-up, writes to the serial port, performs a
 * virtio-mmio register handshake against the real transport, sets up a queue and kicks it
 * (the kick travels by ioeventfd to the event loop and the device, which tells the guest),
 * and resets the machine through the i8042. The VMM side records what it saw. */
#include "harness/harness.h"
#include "vmm/arch/arch.h"
#include "vmm/hw/i8042.h"
#include "vmm/hw/serial.h"
#include "vmm/kvm/kvm_stats.h"
#include "vmm/kvm/machine.h"
#include "vmm/virtio/virtio.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CODE_GPA 0x10000
#define RESULT_GPA 0x3000
#define RAM (64ull << 20)

/* A device model with one queue and no device features: enough for the transport. A kick
 * that reaches it on the event loop thread (QueueNotify -> ioeventfd -> eventfd -> loop)
 * is counted in guest memory at KICK_GPA, where the guest waits for it. */
#define KICK_GPA (RESULT_GPA + 28)
static void test_dev_notify(struct virtio_dev *dev, uint16_t q)
{
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    uint32_t *kick = gm_ptr(dev->mem, KICK_GPA, 4);
    if (kick && strcmp(name, "evloop") == 0)
        __atomic_add_fetch(kick, 1, __ATOMIC_SEQ_CST);
}
static void test_dev_free(struct virtio_dev *dev) { free(dev); }
static const struct virtio_dev_ops test_dev_ops = {
    .name = "smoke",
    .device_id = 4,
    .num_queues = 1,
    .queue_max_size = 64,
    .notify = test_dev_notify,
    .free = test_dev_free,
};

static void on_reset(void *opaque)
{
    machine_stop(opaque, true, false, -1, "guest reset (i8042)");
}

static struct machine *new_machine(void)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        harness_skip("no usable /dev/kvm; proven by tests/e2e/lab_smoke.sh (kvm_probe in the lab)");
    struct machine *m = NULL;
    struct bl_error err = { 0 };
    if (machine_create(&m, RAM, 1, &err) < 0) {
        machine_destroy(m);
        harness_fail(__FILE__, __LINE__, "machine_create: %s", err.msg);
        return NULL;
    }
    return m;
}

static int load_code(struct machine *m, const uint8_t *code, size_t len, struct arch_boot *boot)
{
    struct bl_error err = { 0 };
    struct guest_mem *gm = machine_mem(m);
    uint8_t *dst = gm_ptr(gm, CODE_GPA, len);
    if (!dst || arch_write_cpu_tables(gm, &err) < 0)
        return -1;
    memcpy(dst, code, len);
    *boot = (struct arch_boot){ .entry = CODE_GPA, .long_mode = true, .ncpus = 1 };
    return 0;
}

/* mov al, c; out dx, al */
#define OUTCH(c) 0xb0, (c), 0xee

static const uint8_t guest[] = {
    0x66, 0xba, 0xf8, 0x03,                   /* mov dx, 0x3f8 */
    OUTCH('B'), OUTCH('o'), OUTCH('x'), OUTCH('L'), OUTCH('i'), OUTCH('t'), OUTCH('e'),
    OUTCH('\n'),
    0x48, 0xbb, 0x00, 0x10, 0x00, 0xd0, 0, 0, 0, 0, /* mov rbx, 0xd0001000 (virtio 0) */
    0xbf, 0x00, 0x30, 0x00, 0x00,             /* mov edi, RESULT_GPA */
    0x8b, 0x03, 0x89, 0x07,                   /* [rdi+0]  = MagicValue */
    0x8b, 0x43, 0x04, 0x89, 0x47, 0x04,       /* [rdi+4]  = Version */
    0x8b, 0x43, 0x08, 0x89, 0x47, 0x08,       /* [rdi+8]  = DeviceID */
    0x8b, 0x43, 0x0c, 0x89, 0x47, 0x0c,       /* [rdi+12] = VendorID */
    0xc7, 0x43, 0x70, 0x01, 0, 0, 0,          /* Status = ACKNOWLEDGE */
    0xc7, 0x43, 0x70, 0x03, 0, 0, 0,          /* Status |= DRIVER */
    0xc7, 0x43, 0x14, 0x01, 0, 0, 0,          /* DeviceFeaturesSel = 1 */
    0x8b, 0x43, 0x10, 0x89, 0x47, 0x10,       /* [rdi+16] = DeviceFeatures[63:32] */
    0xc7, 0x43, 0x24, 0x01, 0, 0, 0,          /* DriverFeaturesSel = 1 */
    0xc7, 0x43, 0x20, 0x01, 0, 0, 0,          /* DriverFeatures = VERSION_1 */
    0xc7, 0x43, 0x70, 0x0b, 0, 0, 0,          /* Status |= FEATURES_OK */
    0x8b, 0x43, 0x70, 0x89, 0x47, 0x14,       /* [rdi+20] = Status */
    0x8b, 0x43, 0x34, 0x89, 0x47, 0x18,       /* [rdi+24] = QueueNumMax (queue 0) */
    0xc7, 0x43, 0x30, 0, 0, 0, 0,             /* QueueSel = 0 */
    0xc7, 0x43, 0x38, 0x08, 0, 0, 0,          /* QueueNum = 8 */
    0xc7, 0x83, 0x80, 0, 0, 0, 0x00, 0x40, 0, 0, /* QueueDescLow = 0x4000 */
    0xc7, 0x83, 0x90, 0, 0, 0, 0x00, 0x50, 0, 0, /* QueueDriverLow = 0x5000 */
    0xc7, 0x83, 0xa0, 0, 0, 0, 0x00, 0x60, 0, 0, /* QueueDeviceLow = 0x6000 */
    0xc7, 0x43, 0x44, 0x01, 0, 0, 0,          /* QueueReady = 1 */
    0xc7, 0x43, 0x70, 0x0f, 0, 0, 0,          /* Status |= DRIVER_OK */
    0xc7, 0x43, 0x50, 0, 0, 0, 0,             /* QueueNotify = 0 (the ioeventfd) */
    0x8b, 0x47, 0x1c, 0x85, 0xc0, 0x74, 0xf9, /* wait until [rdi+28] (KICK_GPA) != 0 */
    0xb0, 0xfe, 0xe6, 0x64,                   /* out 0x64, 0xfe: i8042 reset */
    0xf4, 0xeb, 0xfd,                         /* hlt; jmp back (not reached) */
};

TEST_TIMEOUT(kvm_guest_serial_virtio_reset, 120)
{
    struct machine *m = new_machine();
    REQUIRE(m);
    struct bl_error err = { 0 };
    char log[512];
    snprintf(log, sizeof log, "%s/console.log", harness_tmpdir());
    int log_fd = open(log, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(log_fd >= 0);
    struct irq_line irq;
    REQUIRE(machine_irq(m, arch_layout.serial_gsi, &irq, &err) == 0);
    struct serial *uart = serial_new(log_fd, irq);
    REQUIRE(uart);
    struct i8042 kbd = { .reset = on_reset, .opaque = m };
    REQUIRE(machine_add_pio(m, SERIAL_COM1_PORT, SERIAL_IO_SIZE, &serial_bus_ops, uart, &err) == 0);
    REQUIRE(machine_add_pio(m, I8042_COMMAND_PORT, 1, &i8042_bus_ops, &kbd, &err) == 0);
    CHECK(machine_add_pio(m, 0x3fc, 1, &i8042_bus_ops, &kbd, &err) < 0); /* overlap refused */

    REQUIRE(machine_irq(m, arch_layout.virtio_gsi, &irq, &err) == 0);
    struct virtio_dev *dev = calloc(1, sizeof *dev);
    REQUIRE(dev);
    REQUIRE(virtio_dev_init(dev, &test_dev_ops, NULL, machine_mem(m), irq) == 0);
    if (machine_add_virtio(m, dev, arch_layout.virtio_gpa, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "machine_add_virtio: %s", err.msg);
        machine_destroy(m);
        return;
    }

    struct arch_boot boot;
    REQUIRE(load_code(m, guest, sizeof guest, &boot) == 0);
    /* KVM's own counters (kvm_stats.c), the kernel's word on the same run */
    struct kvm_counters *kc = machine_counters(m);
    if (machine_start(m, &boot, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "machine_start: %s", err.msg);
        kvm_counters_free(kc);
        machine_destroy(m);
        return;
    }
    struct machine_exit ex;
    bool ended = machine_wait_timeout(m, 60000, &ex);
    if (!ended) {
        machine_stop(m, false, true, -1, "test timeout");
        machine_wait(m, &ex);
    }
    CHECK(ended);
    if (!ex.powered_off)
        harness_fail(__FILE__, __LINE__, "VM did not power off: %s", ex.reason);
    CHECK_STR(ex.reason, "guest reset (i8042)");
    CHECK(!ex.killed && !ex.failed);
    CHECK_EQ(ex.guest_status, -1);

    char out[64] = "";
    CHECK(pread(log_fd, out, sizeof out - 1, 0) == 8);
    CHECK_STR(out, "BoxLite\n");
    const uint32_t *res = gm_ptr(machine_mem(m), RESULT_GPA, 32);
    REQUIRE(res);
    CHECK_EQ(res[0], 0x74726976); /* "virt" */
    CHECK_EQ(res[1], 2);          /* modern virtio-mmio */
    CHECK_EQ(res[2], 4);
    CHECK(res[4] & 1);            /* VERSION_1 offered */
    CHECK_EQ(res[5], 0x0b);       /* FEATURES_OK accepted */
    CHECK_EQ(res[6], 64);
    CHECK(res[7] >= 1);           /* the kick reached the device on the event loop */
    CHECK_EQ(dev->status, 0x0f);
    CHECK_EQ(dev->driver_features, 1ull << 32);

    struct machine_stats st;
    machine_stats(m, &st);
    CHECK(st.first_run_ns > 0);
    /* 8 serial writes, 13 + 7 MMIO accesses (not QueueNotify, an ioeventfd), the reset */
    if (st.vm_exits < 29)
        harness_fail(__FILE__, __LINE__, "only %llu VM exits", (unsigned long long)st.vm_exits);
    /* the kernel counted the 8 serial writes as port I/O exits (Linux >= 5.14 has stats) */
    char line[8192] = "";
    FILE *f = fmemopen(line, sizeof line, "w");
    REQUIRE(f);
    kvm_counters_mark(kc, f, "the run", 1.0);
    fclose(f);
    kvm_counters_free(kc);
    const char *io = strstr(line, " io_exits ");
    CHECK(io != NULL);
    if (io && atoi(io + 10) < 8)
        harness_fail(__FILE__, __LINE__, "KVM counted %d port I/O exits: %s", atoi(io + 10), line);
    machine_destroy(m);
    serial_free(uart);
    close(log_fd);
}

/* A guest spinning in kernel mode is ended from the host: the vCPU thread is kicked out
 * of KVM_RUN and the machine reports a kill. */
TEST_TIMEOUT(kvm_forced_stop, 60)
{
    struct machine *m = new_machine();
    REQUIRE(m);
    static const uint8_t spin[] = { 0xeb, 0xfe }; /* jmp . */
    struct arch_boot boot;
    struct bl_error err = { 0 };
    REQUIRE(load_code(m, spin, sizeof spin, &boot) == 0);
    REQUIRE(machine_start(m, &boot, &err) == 0);
    struct machine_exit ex;
    CHECK(!machine_wait_timeout(m, 200, &ex)); /* still running */
    machine_stop(m, false, true, -1, "stopped by test");
    CHECK(machine_wait_timeout(m, 20000, &ex));
    CHECK(ex.killed);
    CHECK(!ex.powered_off);
    CHECK_STR(ex.reason, "stopped by test");
    machine_destroy(m);
}

/* A triple fault (an exception with no usable IDT) ends the VM as a guest shutdown, the
 * way Linux's reboot=t does. */
TEST_TIMEOUT(kvm_triple_fault_is_shutdown, 60)
{
    struct machine *m = new_machine();
    REQUIRE(m);
    static const uint8_t fault[] = { 0x0f, 0x0b }; /* ud2: #UD, IDT limit 7 -> triple */
    struct arch_boot boot;
    struct bl_error err = { 0 };
    REQUIRE(load_code(m, fault, sizeof fault, &boot) == 0);
    REQUIRE(machine_start(m, &boot, &err) == 0);
    struct machine_exit ex;
    bool ended = machine_wait_timeout(m, 20000, &ex);
    if (!ended) {
        machine_stop(m, false, true, -1, "test timeout");
        machine_wait(m, &ex);
    }
    CHECK(ended);
    if (!ex.powered_off)
        harness_fail(__FILE__, __LINE__, "not a shutdown: %s", ex.reason);
    machine_destroy(m);
}
