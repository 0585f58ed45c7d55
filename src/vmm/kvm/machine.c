// SPDX-License-Identifier: Apache-2.0
/* The KVM machine: VM and memory set-up, buses, interrupt lines, and the vCPU threads that
 * run the guest and dispatch its I/O exits to device models (machine.h). */
#include "vmm/kvm/machine.h"
#include "vmm/kvm/kvm_stats.h"

#include "common/clock.h"
#include "vmm/jail/jail.h"

#include "vmm/snapshot.h"
#include "vmm/virtio/virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUS_MAX 48
#define MAX_GSI 24
#define MAX_IOEVENTFDS 256

struct bus_range {
    uint64_t base, len;
    const struct bus_ops *ops;
    void *opaque;
};

struct bus {
    struct bus_range r[BUS_MAX];
    int n;
};

struct vcpu {
    struct machine *m;
    unsigned id;
    int fd;
    struct kvm_run *run;
    pthread_t thread;
    bool started;
};

struct machine {
    int kvm_fd, vm_fd;
    struct guest_mem mem;
    size_t run_size;
    unsigned ncpus;
    struct vcpu *vcpus;
    struct bus mmio, pio;
    int irqfd[MAX_GSI];
    struct virtio_dev *virtio[BUS_MAX];
    int nvirtio;
    struct evloop *loop;
    pthread_t loop_thread;
    bool loop_started;

    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool stopping;
    unsigned running; /* vCPU threads not yet returned */
    bool joined;
    struct machine_exit exit;

    atomic_uint_fast64_t exits;
    atomic_uint_fast64_t first_run_ns, ready_ns;

    /* snapshots: vCPUs parked at a clean point (machine_save), and a machine whose vCPUs
     * were restored rather than set up for a boot */
    atomic_bool parking;
    unsigned parked;
    bool restored;
    struct { const struct machine_state_ops *ops; void *opaque; } states[4];
    int nstates;
};

/* ---- buses -------------------------------------------------------------------------- */

static int bus_add(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
                   void *opaque, const char *what, struct bl_error *err)
{
    if (len == 0 || base + len < base)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s range %#llx+%#llx is invalid", what,
                      (unsigned long long)base, (unsigned long long)len);
    for (int i = 0; i < b->n; i++)
        if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
            return bl_err(err, BOXLITE_ERR_INVALID, "%s range %#llx+%#llx overlaps another",
                          what, (unsigned long long)base, (unsigned long long)len);
    if (b->n == BUS_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "%s bus is full", what);
    b->r[b->n++] = (struct bus_range){ base, len, ops, opaque };
    return 0;
}

static const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
    for (int i = 0; i < b->n; i++) {
        const struct bus_range *r = &b->r[i];
        if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base))
            return r;
    }
    return NULL;
}

/* Unclaimed addresses read as zeros and swallow writes, like an empty bus. */
static void bus_access(const struct bus *b, uint64_t addr, uint8_t *data, uint32_t len,
                       bool write)
{
    const struct bus_range *r = bus_find(b, addr, len);
    if (!r) {
        if (!write)
            memset(data, 0, len);
        return;
    }
    if (write) {
        if (r->ops->write)
            r->ops->write(r->opaque, addr - r->base, data, len);
    } else if (r->ops->read) {
        r->ops->read(r->opaque, addr - r->base, data, len);
    } else {
        memset(data, 0, len);
    }
}

int machine_add_mmio(struct machine *m, uint64_t base, uint64_t len, const struct bus_ops *ops,
                     void *opaque, struct bl_error *err)
{
    return bus_add(&m->mmio, base, len, ops, opaque, "MMIO", err);
}

int machine_add_pio(struct machine *m, uint64_t base, uint64_t len, const struct bus_ops *ops,
                    void *opaque, struct bl_error *err)
{
    return bus_add(&m->pio, base, len, ops, opaque, "port I/O", err);
}

/* ---- interrupts and virtio ------------------------------------------------------------ */

static void irqfd_trigger(void *opaque, uint32_t gsi)
{
    struct machine *m = opaque;
    uint64_t one = 1;
    if (gsi < MAX_GSI && m->irqfd[gsi] >= 0 && write(m->irqfd[gsi], &one, sizeof one) < 0) {
        /* EAGAIN: the counter is saturated, the interrupt is pending anyway */
    }
}

int machine_irq(struct machine *m, uint32_t gsi, struct irq_line *out, struct bl_error *err)
{
    if (gsi >= MAX_GSI)
        return bl_err(err, BOXLITE_ERR_INVALID, "GSI %u is out of range", gsi);
    /* The eventfd now, its KVM_IRQFD in machine_start: aarch64's GIC takes irqfds only once
     * initialised (arch_vm_finish). A trigger before then stays counted in the eventfd and
     * is delivered when the irqfd is registered. */
    if (m->irqfd[gsi] < 0) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0)
            return bl_errno(err, errno, "eventfd for GSI %u", gsi);
        m->irqfd[gsi] = fd;
    }
    *out = (struct irq_line){ .trigger = irqfd_trigger, .opaque = m, .gsi = gsi };
    return 0;
}

static void line_set_level(void *opaque, uint32_t gsi, int level)
{
    struct machine *m = opaque;
    struct kvm_irq_level l = { .irq = arch_irq_line(gsi), .level = (uint32_t)!!level };
    if (ioctl(m->vm_fd, KVM_IRQ_LINE, &l) < 0) {
        /* nothing to tell the device: a line within MAX_GSI is one the controller has */
    }
}

int machine_irq_level(struct machine *m, uint32_t gsi, struct irq_line *out,
                      struct bl_error *err)
{
    /* not tried here: aarch64's GIC takes no KVM_IRQ_LINE before arch_vm_finish */
    if (gsi >= MAX_GSI)
        return bl_err(err, BOXLITE_ERR_INVALID, "GSI %u is out of range", gsi);
    *out = (struct irq_line){ .set_level = line_set_level, .opaque = m, .gsi = gsi };
    return 0;
}

int machine_add_virtio(struct machine *m, struct virtio_dev *dev, uint64_t base,
                       struct bl_error *err)
{
    if (m->nvirtio == BUS_MAX) {
        virtio_dev_free(dev);
        return bl_err(err, BOXLITE_ERR_INVALID, "too many virtio devices");
    }
    m->virtio[m->nvirtio++] = dev; /* ours to free from here on */
    int r = virtio_dev_use_eventfds(dev, m->loop);
    if (r < 0)
        return bl_errno(err, -r, "virtio-%s: queue eventfds", dev->ops->name);
    for (uint16_t q = 0; q < dev->ops->num_queues; q++) {
        struct kvm_ioeventfd io = {
            .datamatch = q,
            .addr = base + VIRTIO_MMIO_QUEUE_NOTIFY,
            .len = 4,
            .fd = dev->queue_eventfds[q],
            .flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
        };
        /* Without it the transport signals the same eventfd from the vCPU thread: slower,
         * still correct, so a refusal is not fatal. */
        if (ioctl(m->vm_fd, KVM_IOEVENTFD, &io) < 0 && q == 0)
            fprintf(stderr, "boxlite-vmm: virtio-%s: KVM_IOEVENTFD: %s (using exits)\n",
                    dev->ops->name, strerror(errno));
    }
    if (machine_add_mmio(m, base, VIRTIO_MMIO_SIZE, &virtio_mmio_bus_ops, dev, err) < 0)
        return bl_err_prefix(err, "virtio-%s", dev->ops->name);
    return 0;
}

/* ---- creation ------------------------------------------------------------------------- */

int machine_kvm_fd(struct machine *m) { return m->kvm_fd; }

struct kvm_counters *machine_counters(struct machine *m)
{
    int fds[m->ncpus ? m->ncpus : 1];
    for (unsigned i = 0; i < m->ncpus; i++)
        fds[i] = m->vcpus[i].fd;
    return kvm_counters_open(m->vm_fd, fds, m->ncpus);
}

struct guest_mem *machine_mem(struct machine *m) { return &m->mem; }
struct evloop *machine_loop(struct machine *m) { return m->loop; }

static void kick_handler(int sig) { (void)sig; }

static void install_kick_handler(void)
{
    struct sigaction sa = { .sa_handler = kick_handler };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGRTMIN, &sa, NULL); /* no SA_RESTART: KVM_RUN returns EINTR */
}

static int create(struct machine **out, uint64_t ram_bytes, unsigned ncpus, int mem_fd,
                  struct bl_error *err);

int machine_create(struct machine **out, uint64_t ram_bytes, unsigned ncpus,
                   struct bl_error *err)
{
    return create(out, ram_bytes, ncpus, -1, err);
}

int machine_create_from(struct machine **out, uint64_t ram_bytes, unsigned ncpus, int mem_fd,
                        struct bl_error *err)
{
    struct stat st;
    uint64_t gpa[2], size[2], total = 0;
    int nr = arch_ram_ranges(ram_bytes, gpa, size);
    for (int i = 0; i < nr; i++)
        total += size[i];
    *out = NULL;
    if (fstat(mem_fd, &st) < 0)
        return bl_errno(err, errno, "memory file");
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != total)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "memory file: %lld bytes, the box has %llu of RAM",
                      (long long)st.st_size, (unsigned long long)total);
    return create(out, ram_bytes, ncpus, mem_fd, err);
}

static int create(struct machine **out, uint64_t ram_bytes, unsigned ncpus, int mem_fd,
                  struct bl_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_kick_handler);

    struct machine *m = calloc(1, sizeof *m);
    if (!m)
        return bl_errno(err, ENOMEM, "machine");
    m->kvm_fd = m->vm_fd = -1;
    for (int i = 0; i < MAX_GSI; i++)
        m->irqfd[i] = -1;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    m->exit.guest_status = -1;
    m->ncpus = ncpus;
    *out = m; /* machine_destroy() undoes a partial set-up */

    if (ncpus == 0 || ncpus > 64)
        return bl_err(err, BOXLITE_ERR_INVALID, "%u vCPUs: 1 to 64 are supported", ncpus);
    m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (m->kvm_fd < 0)
        return bl_errno(err, errno, "open /dev/kvm");
    int api = ioctl(m->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION)
        return bl_err(err, BOXLITE_ERR_ENGINE, "/dev/kvm speaks API %d, not %d", api,
                      KVM_API_VERSION);
    static const struct { int cap; const char *name; } caps[] = {
        { KVM_CAP_IRQCHIP, "IRQCHIP" },     { KVM_CAP_IRQFD, "IRQFD" },
        { KVM_CAP_IOEVENTFD, "IOEVENTFD" }, { KVM_CAP_USER_MEMORY, "USER_MEMORY" },
        { KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
        if (ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
            return bl_err(err, BOXLITE_ERR_ENGINE, "/dev/kvm lacks KVM_CAP_%s", caps[i].name);
    int rs = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (rs < (int)sizeof(struct kvm_run))
        return bl_errno(err, errno, "KVM_GET_VCPU_MMAP_SIZE");
    m->run_size = (size_t)rs;
    m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
    if (m->vm_fd < 0)
        return bl_errno(err, errno, "KVM_CREATE_VM");

    uint64_t gpa[2], size[2], file_off = 0;
    int nr = arch_ram_ranges(ram_bytes, gpa, size);
    for (int i = 0; i < nr; i++) {
        /* Not pre-faulted: the guest's pages arrive as it touches them; from a snapshot's
         * memory file, copy-on-write (the file stays as saved, forks may share it). */
        void *host = mem_fd >= 0 ? gm_map_file(mem_fd, file_off, size[i])
                                 : gm_map_anon(size[i]);
        file_off += size[i];
        if (!host)
            return bl_errno(err, errno, "map %llu MiB of guest RAM",
                            (unsigned long long)(size[i] >> 20));
        madvise(host, size[i], MADV_DONTFORK);
        if (gm_add_region(&m->mem, gpa[i], size[i], host) < 0) {
            munmap(host, size[i]);
            return bl_err(err, BOXLITE_ERR_INTERNAL, "guest RAM region");
        }
        struct kvm_userspace_memory_region slot = {
            .slot = (uint32_t)i,
            .guest_phys_addr = gpa[i],
            .memory_size = size[i],
            .userspace_addr = (uint64_t)(uintptr_t)host,
        };
        if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
            return bl_errno(err, errno, "KVM_SET_USER_MEMORY_REGION");
    }
    if (arch_vm_init(m->vm_fd, err) < 0)
        return -err->code;

    m->loop = evloop_new();
    if (!m->loop)
        return bl_errno(err, ENOMEM, "event loop");
    m->vcpus = calloc(ncpus, sizeof *m->vcpus);
    if (!m->vcpus)
        return bl_errno(err, ENOMEM, "vCPUs");
    for (unsigned i = 0; i < ncpus; i++) {
        struct vcpu *v = &m->vcpus[i];
        v->m = m;
        v->id = i;
        v->fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
        if (v->fd < 0)
            return bl_errno(err, errno, "KVM_CREATE_VCPU %u", i);
        v->run = mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
        if (v->run == MAP_FAILED) {
            v->run = NULL;
            return bl_errno(err, errno, "map vCPU %u", i);
        }
    }
    return 0;
}

/* ---- running -------------------------------------------------------------------------- */

static void fail_exit(struct vcpu *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_exit(struct vcpu *v, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    struct machine *m = v->m;
    pthread_mutex_lock(&m->lock);
    if (!m->stopping)
        m->exit.failed = true;
    pthread_mutex_unlock(&m->lock);
    machine_stop(m, false, false, -1, reason);
}

static void internal_error(struct vcpu *v)
{
    struct kvm_run *run = v->run;
    char data[200] = "";
    size_t n = 0;
    for (uint32_t i = 0; i < run->internal.ndata && i < 4 && n < sizeof data; i++)
        n += (size_t)snprintf(data + n, sizeof data - n, " %#llx",
                              (unsigned long long)run->internal.data[i]);
    fail_exit(v, "vCPU %u: KVM_EXIT_INTERNAL_ERROR suberror %u, data%s", v->id,
              run->internal.suberror, data);
}

/* Handles one exit; false ends this vCPU. */
static bool handle_exit(struct vcpu *v)
{
    struct machine *m = v->m;
    struct kvm_run *run = v->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO: {
        uint8_t *data = (uint8_t *)run + run->io.data_offset;
        /* A string instruction (rep ins/outs) arrives as count accesses in a row. */
        for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
            bus_access(&m->pio, run->io.port, data, run->io.size,
                       run->io.direction == KVM_EXIT_IO_OUT);
        return true;
    }
    case KVM_EXIT_MMIO:
        if (run->mmio.len > 8)
            return true;
        bus_access(&m->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
                   run->mmio.is_write);
        return true;
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return true;
    case KVM_EXIT_SHUTDOWN:
        machine_stop(m, true, false, -1, "guest shut down (reboot or triple fault)");
        return false;
    case KVM_EXIT_SYSTEM_EVENT:
        machine_stop(m, true, false, -1,
                     run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "guest reset"
                                                                      : "guest powered off");
        return false;
    case KVM_EXIT_HLT: /* only without an in-kernel LAPIC; nothing can wake it */
        machine_stop(m, true, false, -1, "guest halted");
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        internal_error(v);
        return false;
    case KVM_EXIT_FAIL_ENTRY:
        fail_exit(v, "vCPU %u: KVM_EXIT_FAIL_ENTRY, hardware reason %#llx", v->id,
                  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return false;
    default:
        fail_exit(v, "vCPU %u: unexpected KVM exit %u", v->id, run->exit_reason);
        return false;
    }
}

/* A clean point for a snapshot (api.rst, "immediate_exit"): one more KVM_RUN with
 * immediate_exit set completes an MMIO or port read the last exit left half done and
 * returns at once without running the guest; then the thread waits until unparked. */
static void park(struct vcpu *v)
{
    struct machine *m = v->m;
    v->run->immediate_exit = 1;
    while (ioctl(v->fd, KVM_RUN, 0) == 0) {
        /* an exit that was pending is handled like any other */
        if (!handle_exit(v))
            break;
    }
    pthread_mutex_lock(&m->lock);
    v->run->immediate_exit = atomic_load(&m->stopping);
    m->parked++;
    pthread_cond_broadcast(&m->cond);
    while (atomic_load(&m->parking) && !atomic_load(&m->stopping))
        pthread_cond_wait(&m->cond, &m->lock);
    m->parked--;
    if (!atomic_load(&m->stopping))
        v->run->immediate_exit = 0;
    pthread_mutex_unlock(&m->lock);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *v = arg;
    struct machine *m = v->m;
    char name[16];
    snprintf(name, sizeof name, "vcpu%u", v->id);
    pthread_setname_np(pthread_self(), name);
    jail_thread_enter(JAIL_VCPU);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    while (!atomic_load(&m->stopping)) {
        if (atomic_load(&m->parking)) {
            park(v);
            continue;
        }
        if (v->id == 0 && atomic_load(&m->first_run_ns) == 0)
            atomic_store(&m->first_run_ns, mono_ns());
        if (ioctl(v->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fail_exit(v, "vCPU %u: KVM_RUN: %s", v->id, strerror(errno));
            break;
        }
        atomic_fetch_add(&m->exits, 1);
        if (!handle_exit(v))
            break;
    }
    pthread_mutex_lock(&m->lock);
    m->running--;
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

static void *loop_thread(void *arg)
{
    struct machine *m = arg;
    pthread_setname_np(pthread_self(), "evloop");
    jail_thread_enter(JAIL_IO);
    if (evloop_run(m->loop) < 0)
        machine_stop(m, false, false, -1, "event loop failed");
    return NULL;
}

int machine_start(struct machine *m, const struct arch_boot *boot, struct bl_error *err)
{
    struct arch_boot b = *boot;
    b.ncpus = m->ncpus;
    for (unsigned i = 0; i < m->ncpus && !m->restored; i++)
        if (arch_vcpu_init(m->kvm_fd, m->vcpus[i].fd, i, &b, err) < 0)
            return bl_err_prefix(err, "vCPU %u", i);
    if (!m->restored && arch_vm_finish(m->vm_fd, err) < 0)
        return -err->code;
    for (uint32_t gsi = 0; gsi < MAX_GSI; gsi++) {
        struct kvm_irqfd irqfd = { .fd = (uint32_t)m->irqfd[gsi], .gsi = gsi };
        if (m->irqfd[gsi] >= 0 && ioctl(m->vm_fd, KVM_IRQFD, &irqfd) < 0)
            return bl_errno(err, errno, "KVM_IRQFD for GSI %u", gsi);
    }
    /* Threads start with the kick signal blocked; vCPU threads unblock it themselves. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    /* vCPUs first: the guest needs no device back end in its first milliseconds, and the
     * figure that matters is how soon it runs. */
    int r = 0;
    for (unsigned i = 0; i < m->ncpus && r == 0; i++) {
        pthread_mutex_lock(&m->lock);
        m->running++;
        pthread_mutex_unlock(&m->lock);
        r = pthread_create(&m->vcpus[i].thread, NULL, vcpu_thread, &m->vcpus[i]);
        if (r == 0) {
            m->vcpus[i].started = true;
        } else {
            pthread_mutex_lock(&m->lock);
            m->running--;
            pthread_mutex_unlock(&m->lock);
        }
    }
    if (r == 0 && (r = pthread_create(&m->loop_thread, NULL, loop_thread, m)) == 0)
        m->loop_started = true;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (r != 0) {
        machine_stop(m, false, false, -1, "could not start threads");
        return bl_errno(err, r, "start vCPU threads");
    }
    return 0;
}

void machine_stop(struct machine *m, bool powered_off, bool killed, int guest_status,
                  const char *reason)
{
    pthread_mutex_lock(&m->lock);
    if (!atomic_load(&m->stopping)) {
        m->exit.powered_off = powered_off;
        m->exit.killed = killed;
        m->exit.guest_status = guest_status;
        snprintf(m->exit.reason, sizeof m->exit.reason, "%s", reason);
        atomic_store(&m->stopping, true);
    }
    /* Kick every vCPU out of KVM_RUN; immediate_exit covers one about to enter it. */
    for (unsigned i = 0; i < m->ncpus; i++) {
        if (m->vcpus && m->vcpus[i].run)
            m->vcpus[i].run->immediate_exit = 1;
        /* not once joined: the thread's handle is gone then (machine_destroy after
         * machine_wait), and pthread_kill on it faults (seen with 2 vCPUs on aarch64) */
        if (m->vcpus && m->vcpus[i].started && !m->joined &&
            !pthread_equal(m->vcpus[i].thread, pthread_self()))
            pthread_kill(m->vcpus[i].thread, SIGRTMIN);
    }
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
    if (m->loop)
        evloop_stop(m->loop);
}

static void join_all(struct machine *m)
{
    pthread_mutex_lock(&m->lock);
    bool done = m->joined;
    m->joined = true; /* under the lock: machine_stop reads it */
    pthread_mutex_unlock(&m->lock);
    if (done)
        return;
    for (unsigned i = 0; m->vcpus && i < m->ncpus; i++)
        if (m->vcpus[i].started)
            pthread_join(m->vcpus[i].thread, NULL);
    if (m->loop_started)
        pthread_join(m->loop_thread, NULL);
}

bool machine_wait_timeout(struct machine *m, int timeout_ms, struct machine_exit *out)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&m->lock);
    while (!(atomic_load(&m->stopping) && m->running == 0)) {
        if (timeout_ms < 0)
            pthread_cond_wait(&m->cond, &m->lock);
        else if (pthread_cond_timedwait(&m->cond, &m->lock, &dl) == ETIMEDOUT)
            break;
    }
    bool done = atomic_load(&m->stopping) && m->running == 0;
    pthread_mutex_unlock(&m->lock);
    if (!done)
        return false;
    join_all(m);
    if (out)
        *out = m->exit;
    return true;
}

void machine_wait(struct machine *m, struct machine_exit *out)
{
    machine_wait_timeout(m, -1, out);
}

void machine_destroy(struct machine *m)
{
    if (!m)
        return;
    machine_stop(m, false, true, -1, "machine destroyed");
    machine_wait(m, NULL);
    for (int i = 0; i < m->nvirtio; i++)
        virtio_dev_free(m->virtio[i]);
    for (unsigned i = 0; m->vcpus && i < m->ncpus; i++) {
        if (m->vcpus[i].run)
            munmap(m->vcpus[i].run, m->run_size);
        if (m->vcpus[i].fd > 0)
            close(m->vcpus[i].fd);
    }
    free(m->vcpus);
    evloop_free(m->loop);
    for (int i = 0; i < MAX_GSI; i++)
        if (m->irqfd[i] >= 0)
            close(m->irqfd[i]);
    if (m->vm_fd >= 0)
        close(m->vm_fd);
    if (m->kvm_fd >= 0)
        close(m->kvm_fd);
    for (int i = 0; i < m->mem.nregions; i++)
        munmap(m->mem.regions[i].host, m->mem.regions[i].size);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    free(m);
}

/* ---- figures -------------------------------------------------------------------------- */

void machine_mark_ready(struct machine *m)
{
    uint_fast64_t zero = 0;
    atomic_compare_exchange_strong(&m->ready_ns, &zero, mono_ns());
}

void machine_stats(struct machine *m, struct machine_stats *out)
{
    out->vm_exits = atomic_load(&m->exits);
    out->first_run_ns = atomic_load(&m->first_run_ns);
    out->ready_ns = atomic_load(&m->ready_ns);
}

uint64_t machine_guest_rss(struct machine *m)
{
    FILE *f = fopen("/proc/self/smaps", "re");
    if (!f)
        return 0;
    char line[512];
    bool inside = false;
    uint64_t total = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long lo, hi, kb;
        if (sscanf(line, "%llx-%llx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            /* The kernel may merge adjacent guest regions into one mapping: a mapping is
             * guest RAM when the regions cover all of it. */
            uint64_t covered = 0;
            for (int i = 0; i < m->mem.nregions; i++) {
                uint64_t b = (uint64_t)(uintptr_t)m->mem.regions[i].host;
                uint64_t e = b + m->mem.regions[i].size;
                uint64_t s = lo > b ? lo : b, t = hi < e ? hi : e;
                if (s < t)
                    covered += t - s;
            }
            inside = hi > lo && covered == hi - lo;
        } else if (inside && sscanf(line, "Rss: %llu kB", &kb) == 1) {
            total += kb * 1024;
        }
    }
    fclose(f);
    return total;
}

int machine_ksm(struct machine *m, struct bl_error *err)
{
    for (int i = 0; i < m->mem.nregions; i++)
        if (madvise(m->mem.regions[i].host, m->mem.regions[i].size, MADV_MERGEABLE) < 0)
            return bl_errno(err, errno, "ksm: MADV_MERGEABLE on %llu MiB of guest RAM",
                            (unsigned long long)(m->mem.regions[i].size >> 20));
    return 0;
}

/* ---- snapshots (machine.h) ------------------------------------------------------------- */

enum { M_SHAPE = 1, M_REGIONS, M_END };

int machine_add_state(struct machine *m, const struct machine_state_ops *ops, void *opaque,
                      struct bl_error *err)
{
    if (m->nstates == (int)(sizeof m->states / sizeof m->states[0]))
        return bl_err(err, BOXLITE_ERR_INTERNAL, "too many device states");
    m->states[m->nstates].ops = ops;
    m->states[m->nstates++].opaque = opaque;
    return 0;
}

static void park_all(struct machine *m)
{
    pthread_mutex_lock(&m->lock);
    atomic_store(&m->parking, true);
    for (unsigned i = 0; i < m->ncpus; i++) {
        if (m->vcpus[i].run)
            m->vcpus[i].run->immediate_exit = 1;
        if (m->vcpus[i].started)
            pthread_kill(m->vcpus[i].thread, SIGRTMIN);
    }
    while (m->parked < m->running && !atomic_load(&m->stopping))
        pthread_cond_wait(&m->cond, &m->lock);
    pthread_mutex_unlock(&m->lock);
    /* The device back ends work on the event loop: stopped too, so that neither guest
     * memory nor a queue changes while they are written out. */
    if (m->loop_started) {
        evloop_stop(m->loop);
        pthread_join(m->loop_thread, NULL);
        m->loop_started = false;
    }
}

static void unpark_all(struct machine *m)
{
    if (!atomic_load(&m->stopping) && !m->loop_started) {
        sigset_t set, old;
        sigemptyset(&set);
        sigaddset(&set, SIGRTMIN);
        pthread_sigmask(SIG_BLOCK, &set, &old);
        if (pthread_create(&m->loop_thread, NULL, loop_thread, m) == 0)
            m->loop_started = true;
        else
            machine_stop(m, false, false, -1, "could not restart the event loop");
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_lock(&m->lock);
    atomic_store(&m->parking, false);
    pthread_cond_broadcast(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

int machine_save(struct machine *m, const struct vmsnap_ident *ident, const char *mem_path,
                 const char *state_path, struct bl_error *err)
{
    if (atomic_load(&m->stopping))
        return bl_err(err, BOXLITE_ERR_STATE, "the VM has ended");
    park_all(m);
    if (atomic_load(&m->stopping)) {
        unpark_all(m);
        return bl_err(err, BOXLITE_ERR_STATE, "the VM ended while it was being paused");
    }
    /* Devices that answer on threads of their own (virtio-9p) return what they hold first:
     * the interrupts that raises must be in the interrupt controller's state saved next. */
    for (int i = 0; i < m->nvirtio; i++)
        virtio_dev_quiesce(m->virtio[i]);
    struct vmsnap_ident id = *ident;
    id.mem_bytes = gm_total(&m->mem);
    struct vmsnap_buf b, p = { 0 };
    vmsnap_begin(&b, &id);
    uint32_t shape[2] = { m->ncpus, (uint32_t)m->mem.nregions };
    vmsnap_rec(&p, M_SHAPE, shape, sizeof shape);
    uint64_t regions[2 * GM_MAX_REGIONS];
    for (int i = 0; i < m->mem.nregions; i++) {
        regions[2 * i] = m->mem.regions[i].gpa;
        regions[2 * i + 1] = m->mem.regions[i].size;
    }
    vmsnap_rec(&p, M_REGIONS, regions, (size_t)m->mem.nregions * 16);
    vmsnap_add(&b, SNAP_SEC_MACHINE, 0, p.p, p.len);
    vmsnap_buf_free(&p);
    int r = arch_vm_save(m->vm_fd, &p, err);
    vmsnap_add(&b, SNAP_SEC_VM, 0, p.p, p.len);
    vmsnap_buf_free(&p);
    for (unsigned i = 0; r == 0 && i < m->ncpus; i++) {
        if ((r = arch_vcpu_save(m->kvm_fd, m->vcpus[i].fd, &p, err)) < 0)
            bl_err_prefix(err, "vCPU %u", i);
        vmsnap_add(&b, SNAP_SEC_VCPU, i, p.p, p.len);
        vmsnap_buf_free(&p);
    }
    for (int i = 0; r == 0 && i < m->nvirtio; i++) {
        virtio_dev_save(m->virtio[i], &p);
        vmsnap_add(&b, SNAP_SEC_VIRTIO, (uint32_t)i, p.p, p.len);
        vmsnap_fail_from(&b, &p);
        vmsnap_buf_free(&p);
    }
    for (int i = 0; r == 0 && i < m->nstates; i++) {
        m->states[i].ops->save(m->states[i].opaque, &p);
        vmsnap_add(&b, SNAP_SEC_DEVICE, (uint32_t)i, p.p, p.len);
        vmsnap_fail_from(&b, &p);
        vmsnap_buf_free(&p);
    }
    if (r == 0)
        r = vmsnap_finish(&b, err);
    /* RAM first, into a new file renamed over the old one (which a restored machine still
     * maps: rewriting it in place would pull pages from under that mapping); the state
     * last: a state file that exists is a whole snapshot. */
    char tmp[4200];
    if (r == 0 && snprintf(tmp, sizeof tmp, "%s.tmp", mem_path) >= (int)sizeof tmp)
        r = bl_err(err, BOXLITE_ERR_INVALID, "memory file path is too long");
    if (r == 0) {
        unlink(tmp);
        int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        int e = fd < 0 ? errno : -gm_save(&m->mem, fd);
        if (fd >= 0)
            close(fd);
        if (e == 0 && rename(tmp, mem_path) < 0)
            e = errno;
        if (e) {
            unlink(tmp);
            r = bl_errno(err, e, "write guest RAM to %s", mem_path);
        }
    }
    if (r == 0)
        r = vmsnap_write_file(&b, state_path, err);
    vmsnap_buf_free(&b);
    if (r < 0) {
        unpark_all(m); /* the VM runs on */
        return r;
    }
    /* Saved: the VM ends here, its vCPUs still parked. */
    pthread_mutex_lock(&m->lock);
    if (!atomic_load(&m->stopping))
        m->exit.paused = true;
    pthread_mutex_unlock(&m->lock);
    machine_stop(m, false, false, -1, "paused: memory saved");
    return 0;
}

int machine_restore(struct machine *m, const uint8_t *data, size_t len,
                    const struct vmsnap_ident *expect, const struct arch_cpu *cpu,
                    struct bl_error *err)
{
    struct vmsnap_ident want = *expect;
    want.mem_bytes = gm_total(&m->mem);
    struct vmsnap_view v;
    int r = vmsnap_parse(data, len, &want, &v, err);
    if (r < 0)
        return r;
    uint32_t want_n = 2 + m->ncpus + (uint32_t)m->nvirtio + (uint32_t)m->nstates;
    const struct vmsnap_section *sm = vmsnap_find(&v, SNAP_SEC_MACHINE, 0);
    const struct vmsnap_section *svm = vmsnap_find(&v, SNAP_SEC_VM, 0);
    uint32_t shape[2];
    uint64_t regions[2 * GM_MAX_REGIONS];
    if (v.n != want_n || !sm || !svm) {
        r = bl_err(err, BOXLITE_ERR_INVALID,
                   "snapshot has %u sections; a machine of %u vCPUs, %d virtio and %d other "
                   "devices has %u", v.n, m->ncpus, m->nvirtio, m->nstates, want_n);
    } else if ((r = vmsnap_rec_check(sm->data, sm->len, M_END, "machine", err)) == 0 &&
               (r = vmsnap_rec_copy(sm->data, sm->len, M_SHAPE, shape, sizeof shape,
                                    "machine", err)) == 0) {
        if (shape[0] != m->ncpus || shape[1] != (uint32_t)m->mem.nregions)
            r = bl_err(err, BOXLITE_ERR_INVALID,
                       "snapshot of %u vCPUs and %u RAM regions; this box has %u and %d",
                       shape[0], shape[1], m->ncpus, m->mem.nregions);
        else if ((r = vmsnap_rec_copy(sm->data, sm->len, M_REGIONS, regions,
                                      (size_t)m->mem.nregions * 16, "machine", err)) == 0)
            for (int i = 0; i < m->mem.nregions && r == 0; i++)
                if (regions[2 * i] != m->mem.regions[i].gpa ||
                    regions[2 * i + 1] != m->mem.regions[i].size)
                    r = bl_err(err, BOXLITE_ERR_INVALID,
                               "snapshot RAM region %d differs from this box's", i);
    }
    struct arch_boot boot = { .ncpus = m->ncpus, .cpu = cpu }; /* CPUID and defaults only */
    for (unsigned i = 0; r == 0 && i < m->ncpus; i++)
        if ((r = arch_vcpu_init(m->kvm_fd, m->vcpus[i].fd, i, &boot, err)) < 0)
            bl_err_prefix(err, "vCPU %u", i);
    if (r == 0)
        r = arch_vm_restore(m->vm_fd, svm->data, svm->len, err);
    for (unsigned i = 0; r == 0 && i < m->ncpus; i++) {
        const struct vmsnap_section *s = vmsnap_find(&v, SNAP_SEC_VCPU, i);
        r = s ? arch_vcpu_restore(m->kvm_fd, m->vcpus[i].fd, i, s->data, s->len, err)
              : bl_err(err, BOXLITE_ERR_INVALID, "snapshot has no state for vCPU %u", i);
    }
    for (int i = 0; r == 0 && i < m->nvirtio; i++) {
        const struct vmsnap_section *s = vmsnap_find(&v, SNAP_SEC_VIRTIO, (uint32_t)i);
        r = s ? virtio_dev_restore(m->virtio[i], s->data, s->len, err)
              : bl_err(err, BOXLITE_ERR_INVALID, "snapshot has no state for virtio device %d", i);
    }
    for (int i = 0; r == 0 && i < m->nstates; i++) {
        const struct vmsnap_section *s = vmsnap_find(&v, SNAP_SEC_DEVICE, (uint32_t)i);
        r = s ? m->states[i].ops->restore(m->states[i].opaque, s->data, s->len, err)
              : bl_err(err, BOXLITE_ERR_INVALID, "snapshot has no state for the %s",
                       m->states[i].ops->name);
    }
    vmsnap_view_free(&v);
    if (r < 0)
        return bl_err_prefix(err, "restore");
    for (int i = 0; i < m->nvirtio; i++)
        virtio_dev_resume(m->virtio[i]);
    m->restored = true;
    return 0;
}
