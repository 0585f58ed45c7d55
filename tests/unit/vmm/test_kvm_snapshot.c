// SPDX-License-Identifier: Apache-2.0
/* The KVM machine's snapshot on this host's /dev/kvm (any KVM, also our build machines'
 * paravirtual one, which runs hand-assembled guest code): a 64-bit guest sets a register
 * once and then counts in memory forever, storing that register on every round. The
 * machine is saved while it runs (vCPUs parked, RAM to a file, state to another), ended,
 * and a second machine restored from the two files counts on from where the first
 * stopped with the register it never set itself: registers, memory and the virtio
 * transport came back. A state file from a machine of another shape is refused. */
#include "harness/harness.h"
#include "vmm/arch/arch.h"
#include "vmm/kvm/machine.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/virtio.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CODE_GPA 0x10000
#define COUNT_GPA 0x3000
#define R15_GPA 0x3008
#define ENTRIES_GPA 0x3010
#define RAM (64ull << 20)
#define MAGIC 0x0123456789abcdefull

static const uint8_t guest[] = {
    0x49, 0xbf, 0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01, /* mov r15, MAGIC */
    0x48, 0xff, 0x04, 0x25, 0x10, 0x30, 0x00, 0x00, /* inc qword [0x3010]: entries */
    /* loop: */
    0x48, 0xff, 0x04, 0x25, 0x00, 0x30, 0x00, 0x00, /* inc qword [0x3000] */
    0x4c, 0x89, 0x3c, 0x25, 0x08, 0x30, 0x00, 0x00, /* mov [0x3008], r15 */
    0xeb, 0xee,                                     /* jmp loop */
};

static void dev_free(struct virtio_dev *dev) { free(dev); }
static const struct virtio_dev_ops dev_ops = {
    .name = "snaptest", .device_id = 4, .num_queues = 2, .queue_max_size = 64, .free = dev_free,
};

static struct machine *new_machine(int mem_fd, unsigned ncpus, struct virtio_dev **devp)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0)
        harness_skip("no usable /dev/kvm; proven by tests/e2e/lab_smoke.sh (the lab's KVM)");
    struct machine *m = NULL;
    struct bl_error err = { 0 };
    int r = mem_fd >= 0 ? machine_create_from(&m, RAM, ncpus, mem_fd, &err)
                        : machine_create(&m, RAM, ncpus, &err);
    if (r < 0) {
        machine_destroy(m);
        harness_fail(__FILE__, __LINE__, "machine_create: %s", err.msg);
        return NULL;
    }
    struct irq_line irq;
    struct virtio_dev *dev = calloc(1, sizeof *dev);
    if (machine_irq(m, arch_layout.virtio_gsi, &irq, &err) < 0 || !dev ||
        virtio_dev_init(dev, &dev_ops, NULL, machine_mem(m), irq) < 0 ||
        machine_add_virtio(m, dev, arch_layout.virtio_gpa, &err) < 0) {
        harness_fail(__FILE__, __LINE__, "virtio device: %s", err.msg);
        machine_destroy(m);
        return NULL;
    }
    *devp = dev;
    return m;
}

/* Drives the transport as a driver would (virtio-mmio register writes), so that there is
 * transport state to save: features negotiated, queue 1 configured and ready. */
static void wr(struct virtio_dev *d, uint64_t off, uint32_t v)
{
    virtio_mmio_bus_ops.write(d, off, (const uint8_t *)&v, 4);
}
static uint32_t rd(struct virtio_dev *d, uint64_t off)
{
    uint32_t v = 0;
    virtio_mmio_bus_ops.read(d, off, (uint8_t *)&v, 4);
    return v;
}

static void configure(struct virtio_dev *d)
{
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr(d, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_FEATURES_OK);
    wr(d, VIRTIO_MMIO_QUEUE_SEL, 1);
    wr(d, VIRTIO_MMIO_QUEUE_NUM, 32);
    wr(d, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x100000);
    wr(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x101000);
    wr(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x102000);
    wr(d, VIRTIO_MMIO_QUEUE_READY, 1);
    wr(d, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
                                  VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
}

/* Waits on the guest's own progress (its counter passing `past`), bounded. */
static bool counter_passes(struct machine *m, uint64_t past, int timeout_ms)
{
    volatile uint64_t *count = gm_ptr(machine_mem(m), COUNT_GPA, 8);
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (*count > past)
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
            return false;
        sched_yield();
    }
}

static struct vmsnap_ident ident(struct machine *m)
{
    struct vmsnap_ident id = { 0 };
    struct bl_error err = { 0 };
    vmsnap_build_id(&id);
    CHECK(arch_cpu_fingerprint(machine_kvm_fd(m), NULL, id.cpu, &err) == 0);
    return id;
}

TEST_TIMEOUT(a_running_guest_is_saved_and_counts_on_after_restore, 180)
{
    struct virtio_dev *d1, *d2;
    struct machine *m = new_machine(-1, 1, &d1);
    REQUIRE(m);
    struct bl_error err = { 0 };
    uint8_t *code = gm_ptr(machine_mem(m), CODE_GPA, sizeof guest);
    REQUIRE(code && arch_write_cpu_tables(machine_mem(m), &err) == 0);
    memcpy(code, guest, sizeof guest);
    configure(d1);
    struct arch_boot boot = { .entry = CODE_GPA, .long_mode = true, .ncpus = 1 };
    REQUIRE(machine_start(m, &boot, &err) == 0);
    REQUIRE(counter_passes(m, 200, 60000));

    char state[512], mem[512];
    snprintf(state, sizeof state, "%s/state", harness_tmpdir());
    snprintf(mem, sizeof mem, "%s/memory", harness_tmpdir());
    struct vmsnap_ident id = ident(m);
    if (machine_save(m, &id, mem, state, &err) < 0)
        harness_fail(__FILE__, __LINE__, "machine_save: %s", err.msg);
    int mem_fd = open(mem, O_RDONLY);
    REQUIRE(mem_fd >= 0);
    struct machine_exit x;
    REQUIRE(machine_wait_timeout(m, 30000, &x));
    CHECK(strstr(x.reason, "paused") != NULL);
    CHECK(x.paused);
    uint64_t saved = 0, r15 = 0;
    CHECK_EQ(pread(mem_fd, &saved, 8, COUNT_GPA), 8);
    CHECK_EQ(pread(mem_fd, &r15, 8, R15_GPA), 8);
    CHECK(saved > 200);
    CHECK_EQ(r15, MAGIC);
    uint32_t status1 = rd(d1, VIRTIO_MMIO_STATUS);
    machine_destroy(m); /* d1 with it */

    uint8_t *data;
    size_t len;
    REQUIRE(vmsnap_read_file(state, &data, &len, &err) == 0);

    /* another shape: two vCPUs where one was saved */
    m = new_machine(mem_fd, 2, &d2);
    REQUIRE(m);
    CHECK(machine_restore(m, data, len, &id, NULL, &err) < 0);
    CHECK(strstr(err.msg, "sections") != NULL || strstr(err.msg, "vCPU") != NULL);
    machine_destroy(m);

    /* the same shape: it counts on */
    m = new_machine(mem_fd, 1, &d2);
    REQUIRE(m);
    volatile uint64_t *r15_now = gm_ptr(machine_mem(m), R15_GPA, 8);
    *(volatile uint64_t *)r15_now = 0; /* only the restored register can write it back */
    if (machine_restore(m, data, len, &id, NULL, &err) < 0)
        harness_fail(__FILE__, __LINE__, "machine_restore: %s", err.msg);
    /* the transport came back as the driver left it */
    CHECK_EQ(rd(d2, VIRTIO_MMIO_STATUS), status1);
    CHECK(rd(d2, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_DRIVER_OK);
    CHECK(virtio_dev_has_feature(d2, VIRTIO_F_VERSION_1));
    CHECK(d2->queues[1].ready && d2->queues[1].size == 32);
    CHECK_EQ(d2->queues[1].desc_gpa, 0x100000);
    CHECK_EQ(d2->queues[1].used_gpa, 0x102000);
    CHECK(!d2->queues[0].ready);
    boot = (struct arch_boot){ .entry = 0xdead0000, .long_mode = true, .ncpus = 1 }; /* ignored */
    REQUIRE(machine_start(m, &boot, &err) == 0);
    CHECK(counter_passes(m, saved + 200, 60000));
    CHECK_EQ(*r15_now, MAGIC);
    /* not entered again from the top (a vCPU without its registers would fall through
     * the zeros below CODE_GPA into it) */
    CHECK_EQ(*(volatile uint64_t *)gm_ptr(machine_mem(m), ENTRIES_GPA, 8), 1);
    machine_destroy(m);
    /* copy-on-write: the memory file still holds the saved count */
    uint64_t after = 0;
    CHECK_EQ(pread(mem_fd, &after, 8, COUNT_GPA), 8);
    CHECK_EQ(after, saved);
    free(data);
    close(mem_fd);
}
