// SPDX-License-Identifier: Apache-2.0
/* The KVM engine (engine.h): builds one box's machine and boots it. The sequence reads top
 * to bottom in kvm_start(): memory and VM, legacy devices, virtio devices, command line,
 * kernel, vCPUs. */
#include "vmm/engine.h"

#include "common/cleanup.h"
#include "common/guest_abi.h"
#include "disk/disk.h"
#include "vmm/arch/arch.h"
#include "vmm/hw/ctl.h"
#include "vmm/hw/i8042.h"
#include "vmm/hw/pl011.h"
#include "vmm/hw/serial.h"
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/kvm_stats.h"
#include "vmm/kvm/machine.h"
#include "vmm/net/boxnet.h"
#include "vmm/snapshot.h"
#include "vmm/virtio/9p.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/rng.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>


/* The agent's port on virtio-console (docs/architecture.md). */

struct engine {
    struct machine *m;
    int console_fd; /* the console log */
    int agent_fd;   /* our end of the agent port's socket pair */
    struct serial *serial; /* the console UART: an 8250 (x86_64) */
    struct pl011 *pl011;   /* or a PL011 (aarch64) */
    struct ctl *ctl;
    struct i8042 kbd;
    struct slirp_net *net;
    uint16_t *host_ports; /* bound port per config port forward */
    unsigned nports;
    unsigned nvirtio;
    struct arch_mmio_dev virtio[64]; /* where each is, for arch_load_kernel */
    char cmdline[4096];
    size_t cmdlen;
    uint64_t guest_rss, guest_rss_at; /* cached machine_guest_rss() and when */
    struct arch_cpu *cpu;             /* the CPU template the guest sees */
    int boot_timer_fd;                /* kvm_boot_timeout_ms, or -1 */
    uint32_t boot_timeout_ms;
    struct virtio_dev *balloon;       /* owned by the machine; NULL before add_balloon */
    uint32_t memory_mib, balloon_target_mib;
    char *mem_path; /* vmm.json memory.file: where a pause writes guest RAM, or NULL */
    /* KVM's counters (kvm_stats.h) for kvm_mark: NULL where the host keeps none; the last
     * mark's name and time (ms since the spawn) */
    struct kvm_counters *counters;
    char mark_what[64];
    double mark_ms;
};

/* What machine_create() and the boot need beyond the API itself (arch.h adds the
 * architecture's own); checking here is cheaper than creating a throw-away VM. */
static const struct arch_kvm_cap common_caps[] = {
    { KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" }, { KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
    { KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },             { KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
    { KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" }, { 0, NULL },
};

int engine_kvm_missing_caps(int kvm_fd, char *missing, size_t len)
{
    int n = 0;
    if (len)
        missing[0] = '\0';
    const struct arch_kvm_cap *lists[] = { common_caps, arch_kvm_caps };
    for (size_t l = 0; l < 2; l++)
        for (const struct arch_kvm_cap *c = lists[l]; c->name; c++)
            if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, c->cap) <= 0) {
                size_t used = strlen(missing);
                if (used < len)
                    snprintf(missing + used, len - used, "%s%s", n ? ", " : "", c->name);
                n++;
            }
    return n;
}

static bool kvm_available(char *why, size_t why_len)
{
    bool hw = arch_host_virt(NULL);
    /* For measuring and debugging on hosts whose /dev/kvm is not hardware-backed (the
     * build machines': guest kernel mode is emulated there, so Linux boots very slowly and
     * never reaches user space). Never set by the library. */
    const char *any = getenv("BOXLITE_KVM_ANY_HOST");
    if (any && strcmp(any, "1") == 0)
        hw = true;
    if (!hw) {
        snprintf(why, why_len, "the CPU has no hardware virtualization (no %s flag)",
                 arch_host_virt_wanted);
        return false;
    }
    int fd cleanup_close = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "/dev/kvm: %s", strerror(errno));
        return false;
    }
    if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
        snprintf(why, why_len, "/dev/kvm: unexpected API version");
        return false;
    }
    char missing[256];
    if (engine_kvm_missing_caps(fd, missing, sizeof missing) > 0) {
        snprintf(why, why_len, "/dev/kvm lacks %s", missing);
        return false;
    }
    return true;
}

static int cmdline_add(struct engine *e, struct bl_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cmdline_add(struct engine *e, struct bl_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(e->cmdline + e->cmdlen, sizeof e->cmdline - e->cmdlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof e->cmdline - e->cmdlen)
        return bl_err(err, BOXLITE_ERR_INVALID, "kernel command line too long");
    e->cmdlen += (size_t)n;
    return 0;
}

/* Puts a virtio device in the next slot and announces it: on the command line, or to
 * arch_load_kernel (aarch64's device tree). */
static int add_virtio(struct engine *e, struct virtio_dev *dev, struct bl_error *err)
{
    uint64_t base = arch_layout.virtio_gpa + (uint64_t)e->nvirtio * 0x1000;
    uint32_t gsi = arch_layout.virtio_gsi + e->nvirtio;
    if (e->nvirtio >= sizeof e->virtio / sizeof e->virtio[0]) {
        virtio_dev_free(dev);
        return bl_err(err, BOXLITE_ERR_INVALID, "too many virtio devices");
    }
    if (machine_add_virtio(e->m, dev, base, err) < 0)
        return -err->code;
    e->virtio[e->nvirtio++] = (struct arch_mmio_dev){ .base = base, .gsi = gsi };
    if (!arch_layout.virtio_cmdline)
        return 0;
    return cmdline_add(e, err, " virtio_mmio.device=4K@%#llx:%u", (unsigned long long)base, gsi);
}

/* The interrupt line of the next virtio slot. */
static int next_irq(struct engine *e, struct irq_line *irq, struct bl_error *err)
{
    if (e->nvirtio >= arch_layout.virtio_max)
        return bl_err(err, BOXLITE_ERR_INVALID, "more than %u virtio devices",
                      arch_layout.virtio_max);
    return machine_irq(e->m, arch_layout.virtio_gsi + e->nvirtio, irq, err);
}

static void on_guest_reset(void *opaque)
{
    machine_stop(opaque, true, false, -1, "guest rebooted (i8042 reset)");
}

static void on_ready(void *opaque) { machine_mark_ready(opaque); }

static void on_exit_status(void *opaque, uint32_t status)
{
    machine_stop(opaque, true, false, (int)status, "guest powered off");
}

static const struct ctl_ops ctl_ops = { .ready = on_ready, .exit_status = on_exit_status };

/* The console UART of the architecture's model (arch_layout.uart). */
static int add_uart(struct engine *e, struct bl_error *err)
{
    struct machine *m = e->m;
    struct irq_line irq;
    if (arch_layout.uart == ARCH_UART_PL011) {
        /* level-triggered on the GIC, as the device tree says */
        if (machine_irq_level(m, arch_layout.serial_gsi, &irq, err) < 0)
            return -err->code;
        if (!(e->pl011 = pl011_new(e->console_fd, irq)))
            return bl_errno(err, ENOMEM, "PL011");
        if (machine_add_mmio(m, arch_layout.serial_addr, PL011_MMIO_SIZE, &pl011_bus_ops,
                             e->pl011, err) < 0 ||
            machine_add_state(m, &pl011_state_ops, e->pl011, err) < 0)
            return -err->code;
        return 0;
    }
    if (machine_irq(m, arch_layout.serial_gsi, &irq, err) < 0)
        return -err->code;
    if (!(e->serial = serial_new(e->console_fd, irq)))
        return bl_errno(err, ENOMEM, "serial port");
    int r = arch_layout.serial_pio
                ? machine_add_pio(m, arch_layout.serial_addr, SERIAL_IO_SIZE, &serial_bus_ops,
                                  e->serial, err)
                : machine_add_mmio(m, arch_layout.serial_addr, SERIAL_IO_SIZE, &serial_bus_ops,
                                   e->serial, err);
    if (r < 0 || machine_add_state(m, &serial_state_ops, e->serial, err) < 0)
        return -err->code;
    return 0;
}

static int add_legacy(struct engine *e, struct bl_error *err)
{
    struct machine *m = e->m;
    if (add_uart(e, err) < 0)
        return -err->code;
    e->ctl = ctl_new(&ctl_ops, m);
    if (!e->ctl)
        return bl_errno(err, ENOMEM, "legacy devices");
    e->kbd = (struct i8042){ .reset = on_guest_reset, .opaque = m };
    if ((arch_layout.reset_port &&
         machine_add_pio(m, arch_layout.reset_port, 1, &i8042_bus_ops, &e->kbd, err) < 0) ||
        machine_add_mmio(m, arch_layout.ctl_gpa, GUEST_CTL_SIZE, &ctl_bus_ops, e->ctl, err) < 0)
        return -err->code;
    return 0;
}

static int add_disks(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        struct disk *d;
        struct virtio_dev *dev;
        struct irq_line irq;
        char serial[21];
        snprintf(serial, sizeof serial, "boxlite-disk%u", i & 0xff);
        if (disk_open_fmt(&d, cfg->disks[i].path, cfg->disks[i].format, cfg->disks[i].readonly, err) < 0)
            return bl_err_prefix(err, "disk %s", cfg->disks[i].path);
        if (next_irq(e, &irq, err) < 0) {
            disk_close(d);
            return -err->code;
        }
        if (blk_new(&dev, machine_mem(e->m), irq, d, serial, err) < 0 || add_virtio(e, dev, err) < 0)
            return bl_err_prefix(err, "disk %s", cfg->disks[i].path);
    }
    return 0;
}

/* virtio-console with the agent's port, bridged to a socket pair whose other end is the
 * engine's agent_fd. */
static int add_console(struct engine *e, struct bl_error *err)
{
    int sv[2];
    struct virtio_dev *dev;
    struct irq_line irq;
    if (next_irq(e, &irq, err) < 0 ||
        console_new(&dev, machine_mem(e->m), irq, machine_loop(e->m), 2, err) < 0)
        return bl_err_prefix(err, "virtio-console");
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0) {
        virtio_dev_free(dev);
        return bl_errno(err, errno, "virtio-console: socketpair");
    }
    e->agent_fd = sv[1];
    if (console_add_port(dev, GUEST_AGENT_PORT, sv[0], err) < 0) {
        virtio_dev_free(dev);
        return bl_err_prefix(err, "virtio-console");
    }
    return add_virtio(e, dev, err) < 0 ? bl_err_prefix(err, "virtio-console") : 0;
}

static int add_network(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    /* The stack, its policy and its forwards are the QEMU engine's too (boxnet.c). */
    e->host_ports = calloc(cfg->nports ? cfg->nports : 1, sizeof *e->host_ports);
    if (!e->host_ports)
        return bl_errno(err, ENOMEM, "network");
    e->nports = cfg->nports;
    if (boxnet_new(&e->net, cfg, e->host_ports, err) < 0)
        return -err->code;
    struct virtio_dev *dev;
    struct irq_line irq;
    if (next_irq(e, &irq, err) < 0 ||
        virtio_net_new(&dev, machine_mem(e->m), irq, machine_loop(e->m),
                       cfg->mac_set ? cfg->mac : NULL,
                       slirp_net_backend(e->net), err) < 0 ||
        add_virtio(e, dev, err) < 0)
        return bl_err_prefix(err, "virtio-net");
    return 0;
}

static int add_shares(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    for (unsigned i = 0; i < cfg->nshares; i++) {
        const struct vmm_share_cfg *sh = &cfg->shares[i];
        struct virtio_dev *dev;
        struct irq_line irq;
        /* our 9p server keeps mapped-xattr records only: it cannot yet serve a rootfs as
         * the host laid it out (symlinks), which the QEMU engine does */
        if (sh->rootfs)
            return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "share %s: a shared rootfs needs the "
                          "QEMU engine", sh->tag);
        if (next_irq(e, &irq, err) < 0 ||
            virtio_9p_new(&dev, machine_mem(e->m), irq, sh->tag, sh->path, sh->readonly, err) < 0 ||
            add_virtio(e, dev, err) < 0)
            return bl_err_prefix(err, "share %s (%s)", sh->tag, sh->path);
    }
    return 0;
}

/* virtio-balloon (balloon.c), last so that the other devices keep their slots: free page
 * reporting and the target from vmm.json "balloon"; BALLOON moves the target later. */
static int add_balloon(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    struct irq_line irq;
    struct balloon_cfg bc = { .ram_bytes = (uint64_t)cfg->memory_mib << 20,
                              .target_mib = cfg->balloon_target_mib,
                              .free_page_reporting = cfg->balloon_reporting };
    if (next_irq(e, &irq, err) < 0 || balloon_new(&e->balloon, machine_mem(e->m), irq, &bc, err) < 0)
        return bl_err_prefix(err, "virtio-balloon");
    e->balloon_target_mib = cfg->balloon_target_mib;
    if (add_virtio(e, e->balloon, err) < 0) {
        e->balloon = NULL; /* machine_add_virtio freed it */
        return bl_err_prefix(err, "virtio-balloon");
    }
    return 0;
}

static int add_devices(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    struct virtio_dev *rng;
    struct irq_line irq;
    /* Disks first, so the rootfs is vda. */
    if (add_legacy(e, err) < 0 || add_disks(e, cfg, err) < 0 || add_console(e, err) < 0)
        return -err->code;
    if (next_irq(e, &irq, err) < 0 || rng_new(&rng, machine_mem(e->m), irq, err) < 0 ||
        add_virtio(e, rng, err) < 0)
        return bl_err_prefix(err, "virtio-rng");
    if ((cfg->network && add_network(e, cfg, err) < 0) || add_shares(e, cfg, err) < 0 ||
        add_balloon(e, cfg, err) < 0)
        return -err->code;
    return 0;
}

/* kvm_boot_timeout_ms (config.h): a guest that is not ready by then ends the VM, with a
 * reason that says so, so that the library can start the box again on QEMU. */
static void on_boot_deadline(void *opaque, int fd, uint32_t events)
{
    struct engine *e = opaque;
    uint64_t n;
    if (read(fd, &n, sizeof n) < 0) {
        /* a timerfd read fails only if it has not expired: spurious wake-up */
    }
    evloop_del(machine_loop(e->m), fd);
    struct machine_stats s;
    machine_stats(e->m, &s);
    if (s.ready_ns)
        return;
    char reason[128];
    snprintf(reason, sizeof reason, "the guest was not ready within %u ms (kvm_boot_timeout_ms)",
             e->boot_timeout_ms);
    machine_stop(e->m, false, false, -1, reason);
}

static int arm_boot_deadline(struct engine *e, uint32_t ms, struct bl_error *err)
{
    e->boot_timeout_ms = ms;
    e->boot_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec it = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 } };
    if (e->boot_timer_fd < 0 || timerfd_settime(e->boot_timer_fd, 0, &it, NULL) < 0)
        return bl_errno(err, errno, "boot deadline timer");
    int r = evloop_add(machine_loop(e->m), e->boot_timer_fd, EPOLLIN, on_boot_deadline, e);
    return r < 0 ? bl_errno(err, -r, "boot deadline timer") : 0;
}

/* test_break_boot (config.h): a boot that fails on purpose, to prove the fallback to QEMU.
 * Both enter the kernel somewhere it is not: "triple-fault" far above RAM and the boot page
 * tables (the first fetch faults, and with no usable IDT the fault becomes a triple fault:
 * KVM_EXIT_SHUTDOWN); "internal-error" on the control page, which is MMIO (KVM cannot fetch
 * instructions from MMIO: KVM_EXIT_INTERNAL_ERROR). */
static void break_boot(const char *kind, struct arch_boot *boot)
{
    if (!kind)
        return;
    boot->entry = strcmp(kind, "internal-error") == 0 ? arch_layout.ctl_gpa : 1ull << 40;
}

static void kvm_destroy(struct engine *e)
{
    if (!e)
        return;
    machine_destroy(e->m); /* vCPUs and the event loop stop, virtio devices are freed */
    kvm_counters_free(e->counters);
    if (e->boot_timer_fd >= 0)
        close(e->boot_timer_fd);
    arch_cpu_free(e->cpu);
    free(e->mem_path);
    slirp_net_free(e->net);
    free(e->host_ports);
    serial_free(e->serial);
    pl011_free(e->pl011);
    ctl_free(e->ctl);
    if (e->agent_fd >= 0)
        close(e->agent_fd);
    if (e->console_fd >= 0)
        close(e->console_fd);
    free(e);
}

/* The console log: a file, or a descriptor we hold named as /proc/self/fd/N or /dev/fd/N
 * (used as it is: reopening it would be refused to the jailed VMM for a pipe its parent
 * made, and is needless). */
static int open_console(const char *path)
{
    int n;
    if (vmm_path_names_fd(path, &n))
        return fcntl(n, F_DUPFD_CLOEXEC, 0);
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* KVM's counters from here on (kvm_mark logs them), opened before the jail's filters. */
static void open_counters(struct engine *e, const char *what)
{
    e->counters = machine_counters(e->m);
    snprintf(e->mark_what, sizeof e->mark_what, "%s", what);
    e->mark_ms = engine_ms_since_start();
}

/* What a snapshot must match: this build, the CPU the guest sees. */
static int snap_ident(struct engine *e, struct vmsnap_ident *id, struct bl_error *err)
{
    *id = (struct vmsnap_ident){ 0 };
    vmsnap_build_id(id); /* none (a build without the note): only such builds match */
    return arch_cpu_fingerprint(machine_kvm_fd(e->m), e->cpu, id->cpu, err);
}

/* Resume (vmm.json memory.incoming): the machine as the paused one was built, RAM mapped
 * copy-on-write from memory.file, no kernel loaded; the saved state put back and deleted
 * before the guest runs again, as on the QEMU engine (a state file is a box to resume). */
static int kvm_resume(struct engine **out, struct engine *e, const struct vmm_config *cfg,
                      struct bl_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    struct vmsnap_ident id;
    /* where a resume's time goes, for its log line (bench/lab_pause.sh prints it) */
    double t[6];
    t[0] = engine_ms_since_start();
    int fd = open(cfg->memory_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        bl_errno(err, errno, "open %s", cfg->memory_file);
        goto fail;
    }
    int r = machine_create_from(&e->m, (uint64_t)cfg->memory_mib << 20, cfg->cpus, fd, err);
    close(fd); /* the mappings keep the file */
    t[1] = engine_ms_since_start();
    if (r < 0 || add_devices(e, cfg, err) < 0)
        goto fail;
    t[2] = engine_ms_since_start();
    if (arch_cpu_new(machine_kvm_fd(e->m), cfg->cpu_template, &e->cpu, err) < 0 ||
        snap_ident(e, &id, err) < 0 ||
        vmsnap_read_file(cfg->memory_incoming, &data, &len, err) < 0)
        goto fail;
    t[3] = engine_ms_since_start();
    if (machine_restore(e->m, data, len, &id, e->cpu, err) < 0)
        goto fail;
    if (e->balloon) {
        /* the target as it was at the pause (a BALLOON since the start moved it), not
         * vmm.json's: the guest's balloon holds what that target asked for */
        struct balloon_stats bs;
        balloon_get_stats(e->balloon, &bs);
        e->balloon_target_mib = bs.target_mib;
    }
    t[4] = engine_ms_since_start();
    free(data);
    data = NULL;
    if (unlink(cfg->memory_incoming) < 0 && errno != ENOENT) {
        bl_errno(err, errno, "remove %s", cfg->memory_incoming);
        goto fail;
    }
    struct arch_boot boot = { .cpu = e->cpu }; /* ignored: the vCPUs go on where they were */
    open_counters(e, "restored");
    if (machine_start(e->m, &boot, err) < 0)
        goto fail;
    t[5] = engine_ms_since_start();
    fprintf(stderr, "boxlite-vmm: resumed %.1f ms after the spawn: before the engine %.1f, "
            "VM and RAM mapped %.1f, devices %.1f, CPU and state file %.1f, state checked and "
            "restored %.1f, vCPUs started %.1f\n", t[5], t[0], t[1] - t[0], t[2] - t[1],
            t[3] - t[2], t[4] - t[3], t[5] - t[4]);
    *out = e;
    return 0;
fail:
    free(data);
    bl_err_prefix(err, "KVM engine: resume");
    kvm_destroy(e);
    return -err->code;
}

static int kvm_start(struct engine **out, const struct vmm_config *cfg, struct bl_error *err)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return bl_errno(err, ENOMEM, "KVM engine");
    *out = NULL;
    e->console_fd = e->agent_fd = e->boot_timer_fd = -1;
    if (cfg->console_pipe) {
        /* the per-box process's pump writes the log (rotated) */
        e->console_fd = fcntl(cfg->console_fd, F_DUPFD_CLOEXEC, 0);
        if (e->console_fd < 0) {
            free(e);
            return bl_errno(err, errno, "console pipe");
        }
    } else if (cfg->console_log) {
        e->console_fd = open_console(cfg->console_log);
        if (e->console_fd < 0) {
            free(e);
            return bl_errno(err, errno, "console log %s", cfg->console_log);
        }
    }
    struct arch_boot boot;
    uint64_t ram = (uint64_t)cfg->memory_mib << 20;
    e->memory_mib = cfg->memory_mib;
    if (cfg->memory_file && !(e->mem_path = strdup(cfg->memory_file))) {
        kvm_destroy(e);
        return bl_errno(err, ENOMEM, "KVM engine");
    }
    if (cfg->memory_incoming)
        return kvm_resume(out, e, cfg, err);
    if (machine_create(&e->m, ram, cfg->cpus, err) < 0 ||
        cmdline_add(e, err, "%s", arch_layout.base_cmdline) < 0 || add_devices(e, cfg, err) < 0 ||
        /* tells the agent this machine has the control page for its ready mark */
        cmdline_add(e, err, " " GUEST_CMDLINE_PREFIX GUEST_KEY_CTL "=1") < 0 ||
        /* free page reporting's order (the agent makes it hold on 6.1), no legacy ptys
         * (guest_abi.h) */
        cmdline_add(e, err, " " GUEST_DENSITY_ARGS) < 0 ||
        (cfg->cmdline && *cfg->cmdline && cmdline_add(e, err, " %s", cfg->cmdline) < 0))
        goto fail;
    struct arch_kernel k = { .kernel = cfg->kernel, .initrd = cfg->initrd,
                             .cmdline = e->cmdline, .ncpus = cfg->cpus,
                             .virtio = e->virtio, .nvirtio = e->nvirtio };
    /* KSM after the kernel is placed: its file mappings over guest RAM are VMAs of their
     * own, and they are to be offered too. */
    if (arch_load_kernel(machine_mem(e->m), &k, &boot, err) < 0 ||
        (cfg->ksm && machine_ksm(e->m, err) < 0) ||
        arch_cpu_new(machine_kvm_fd(e->m), cfg->cpu_template, &e->cpu, err) < 0)
        goto fail;
    boot.cpu = e->cpu;
    break_boot(cfg->test_break_boot, &boot);
    open_counters(e, "started");
    if ((cfg->kvm_boot_timeout_ms && arm_boot_deadline(e, cfg->kvm_boot_timeout_ms, err) < 0) ||
        machine_start(e->m, &boot, err) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    bl_err_prefix(err, "KVM engine");
    kvm_destroy(e);
    return -err->code;
}

static int kvm_agent_fd(struct engine *e) { return e->agent_fd; }

static int kvm_host_port(struct engine *e, unsigned i)
{
    return e && i < e->nports ? e->host_ports[i] : 0;
}

static int kvm_stop(struct engine *e, bool force, struct bl_error *err)
{
    /* The per-box process asks the agent to power off before it comes here, so both kinds
     * end the VM now; force only changes what the exit says. */
    machine_stop(e->m, false, true, -1, force ? "killed" : "stopped on request");
    return 0;
}

/* Pause: guest RAM to memory.file, the machine's state to state_path, the VM ends
 * (machine_save). On failure the VM runs on. */
static int kvm_pause(struct engine *e, const char *state_path, struct bl_error *err)
{
    if (!e->mem_path)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "the box has no memory file");
    struct vmsnap_ident id;
    if (snap_ident(e, &id, err) < 0)
        return -err->code;
    return machine_save(e->m, &id, e->mem_path, state_path, err);
}

static int kvm_wait(struct engine *e, struct engine_exit *out)
{
    struct machine_exit x;
    machine_wait(e->m, &x);
    *out = (struct engine_exit){ .powered_off = x.powered_off, .killed = x.killed,
                                 .paused = x.paused, .guest_status = x.guest_status };
    snprintf(out->reason, sizeof out->reason, "%s", x.reason);
    return x.failed ? -BOXLITE_ERR_ENGINE : 0;
}

static uint64_t self_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long long size, res;
    uint64_t r = 0;
    if (f && fscanf(f, "%llu %llu", &size, &res) == 2)
        r = res * (uint64_t)sysconf(_SC_PAGESIZE);
    if (f)
        fclose(f);
    return r;
}

static int kvm_stats(struct engine *e, struct engine_stats *out)
{
    struct machine_stats s;
    machine_stats(e->m, &s);
    memset(out, 0, sizeof *out);
    out->cpu_template = arch_cpu_template(e->cpu);
    out->vm_exits = s.vm_exits;
    if (e->net) {
        struct net_stats ns;
        slirp_net_stats(e->net, &ns);
        out->net_rx_bytes = ns.rx_bytes;
        out->net_tx_bytes = ns.tx_bytes;
        out->net_connections = ns.tcp_out + ns.tcp_in;
        out->net_allowed = ns.conn_allowed;
        out->net_denied = ns.conn_denied;
    }
    if (s.first_run_ns)
        out->start_to_first_run_ms = (double)(s.first_run_ns - engine_start_ns()) / 1e6;
    if (s.ready_ns)
        out->start_to_ready_ms = (double)(s.ready_ns - engine_start_ns()) / 1e6;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->cpu_user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec;
        out->cpu_sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
    }
    /* The VMM's own memory: the process's resident set minus guest RAM. Walking smaps
     * costs milliseconds, and the per-box process polls; once a second is enough. */
    uint64_t now = mono_ns();
    if (!e->guest_rss_at || now - e->guest_rss_at > 1000000000ull ||
        (s.ready_ns && e->guest_rss_at < s.ready_ns)) { /* fresh at the ready mark */
        e->guest_rss = machine_guest_rss(e->m);
        e->guest_rss_at = now;
    }
    uint64_t rss = self_rss(), guest = e->guest_rss;
    out->rss_bytes = rss > guest ? rss - guest : 0;
    out->host_rss_bytes = rss; /* one process: the VMM is the engine */
    out->guest_resident_bytes = guest;
    if (e->balloon) {
        struct balloon_stats bs;
        balloon_get_stats(e->balloon, &bs);
        /* pages the device really took, not the driver's claim (config "actual") */
        uint64_t held_mib = bs.inflated_pages * BALLOON_PAGE_SIZE >> 20;
        out->balloon_target_mib = e->balloon_target_mib;
        out->balloon_actual_mib = held_mib < e->memory_mib ? e->memory_mib - (uint32_t)held_mib : 0;
        out->mem_returned_bytes = bs.returned_bytes;
    }
    return 0;
}

/* The BALLOON control frame (main.c checks the range). */
static int kvm_balloon(struct engine *e, uint32_t target_mib, struct bl_error *err)
{
    if (!e->balloon)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "this box has no balloon device");
    balloon_set_target(e->balloon, target_mib);
    e->balloon_target_mib = target_mib;
    /* fresh cached figures: the guest RAM resident is worth re-reading soon */
    e->guest_rss_at = 0;
    return 0;
}

static void kvm_mark(struct engine *e, const char *what)
{
    if (!e->counters)
        return;
    double now = engine_ms_since_start();
    char phase[160];
    snprintf(phase, sizeof phase, "%s -> %s", e->mark_what, what);
    kvm_counters_mark(e->counters, stderr, phase, now - e->mark_ms);
    snprintf(e->mark_what, sizeof e->mark_what, "%s", what);
    e->mark_ms = now;
}

const struct engine_ops engine_kvm_ops = {
    .name = "kvm",
    .available = kvm_available,
    .start = kvm_start,
    .agent_fd = kvm_agent_fd,
    .stop = kvm_stop,
    .wait = kvm_wait,
    .stats = kvm_stats,
    .host_port = kvm_host_port,
    .destroy = kvm_destroy,
    .balloon = kvm_balloon,
    .pause = kvm_pause,
    .mark = kvm_mark,
    /* virtio-9p saves the guest's 9P sessions (fs/p9_session.c): volumes stay mounted, and
     * the library learns it from STATUS and the pause's EXIT (PAUSE_SHARES, main.c) */
    .pause_shares = PAUSE_SHARES_KEPT,
};
