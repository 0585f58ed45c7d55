/* The KVM engine (engine.h): builds one box's machine and boots it. The sequence reads top
 * to bottom in kvm_start(): memory and VM, legacy devices, virtio devices, command line,
 * kernel, vCPUs. */
#include "vmm/engine.h"

#include "common/cleanup.h"
#include "vmm/arch/arch.h"
#include "vmm/disk/disk.h"
#include "vmm/hw/i8042.h"
#include "vmm/kvm/machine.h"
#include "vmm/kvm/stopgap.h"
#include "vmm/virtio/blk.h"
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
#include <unistd.h>

/* "Process start" for the figures: BOXLITE_SPAWN_NS, the CLOCK_MONOTONIC time at which the
 * parent (the library, a benchmark) spawned us, when it says so; else the moment before
 * main() runs, which misses only the exec and the dynamic loader's work. */
static uint64_t process_start_ns;
__attribute__((constructor)) static void note_process_start(void)
{
    process_start_ns = mono_ns();
    const char *s = getenv("BOXLITE_SPAWN_NS");
    char *end;
    if (s && *s) {
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && v > 0 && v <= process_start_ns)
            process_start_ns = v;
    }
}

struct engine {
    struct machine *m;
    int console_fd;
    struct sg_uart uart;
    struct sg_ctl ctl;
    struct i8042 kbd;
    unsigned nvirtio;
    char cmdline[4096];
    size_t cmdlen;
    uint64_t guest_rss, guest_rss_at; /* cached machine_guest_rss() and when */
};

static bool kvm_available(char *why, size_t why_len)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    bool hw = false;
    if (f) {
        char line[4096];
        while (!hw && fgets(line, sizeof line, f))
            if (strncmp(line, "flags", 5) == 0 && (strstr(line, " vmx") || strstr(line, " svm")))
                hw = true;
        fclose(f);
    }
    /* For measuring and debugging on hosts whose /dev/kvm is not hardware-backed (the
     * build machines': guest kernel mode is emulated there, so Linux boots very slowly and
     * never reaches user space). Never set by the library. */
    const char *any = getenv("BOXLITE_KVM_ANY_HOST");
    if (any && strcmp(any, "1") == 0)
        hw = true;
    if (!hw) {
        snprintf(why, why_len, "the CPU has no hardware virtualization (no vmx or svm flag)");
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
    /* What machine_create() needs; creating a throw-away VM here would cost milliseconds. */
    if (ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
        ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) <= 0 ||
        ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) <= 0) {
        snprintf(why, why_len, "/dev/kvm lacks the in-kernel irqchip, irqfd or ioeventfd");
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

/* Puts a virtio device in the next slot and announces it on the command line. */
static int add_virtio(struct engine *e, struct virtio_dev *dev, struct bl_error *err)
{
    uint64_t base = arch_layout.virtio_gpa + (uint64_t)e->nvirtio * 0x1000;
    uint32_t gsi = arch_layout.virtio_gsi + e->nvirtio;
    if (machine_add_virtio(e->m, dev, base, err) < 0)
        return -err->code;
    e->nvirtio++;
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

static void on_exit_status(void *opaque, int status)
{
    machine_stop(opaque, true, false, status, "guest powered off");
}

static int add_devices(struct engine *e, const struct vmm_config *cfg, struct bl_error *err)
{
    struct machine *m = e->m;
    struct irq_line irq;

    /* Legacy: the console UART, the i8042 reset line, the control page. */
    if (machine_irq(m, arch_layout.serial_gsi, &irq, err) < 0)
        return -err->code;
    sg_uart_init(&e->uart, irq, e->console_fd);
    e->kbd = (struct i8042){ .reset = on_guest_reset, .opaque = m };
    e->ctl = (struct sg_ctl){ .ready = on_ready, .exit = on_exit_status, .opaque = m };
    if (machine_add_pio(m, arch_layout.serial_addr, 8, &sg_uart_ops, &e->uart, err) < 0 ||
        machine_add_pio(m, I8042_COMMAND_PORT, 1, &i8042_bus_ops, &e->kbd, err) < 0 ||
        machine_add_mmio(m, arch_layout.ctl_gpa, 0x1000, &sg_ctl_ops, &e->ctl, err) < 0)
        return -err->code;

    /* Disks first, so the rootfs is vda. */
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        struct disk *d;
        struct virtio_dev *dev;
        char serial[21];
        snprintf(serial, sizeof serial, "boxlite-disk%u", i & 0xff);
        if (disk_open(&d, cfg->disks[i].path, cfg->disks[i].readonly, err) < 0 ||
            next_irq(e, &irq, err) < 0 ||
            blk_new(&dev, machine_mem(m), irq, d, serial, err) < 0 || add_virtio(e, dev, err) < 0)
            return bl_err_prefix(err, "disk %s", cfg->disks[i].path);
    }
    struct virtio_dev *rng;
    if (next_irq(e, &irq, err) < 0 || rng_new(&rng, machine_mem(m), irq, err) < 0 ||
        add_virtio(e, rng, err) < 0)
        return bl_err_prefix(err, "virtio-rng");
    if (cfg->nshares || cfg->network)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED,
                      "the KVM engine does not have shares and networking wired yet");
    return 0;
}

static int kvm_start(struct engine **out, const struct vmm_config *cfg, struct bl_error *err)
{
    struct engine *e = calloc(1, sizeof *e);
    if (!e)
        return bl_errno(err, ENOMEM, "KVM engine");
    *out = NULL;
    e->console_fd = -1;
    if (cfg->console_log) {
        e->console_fd = open(cfg->console_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (e->console_fd < 0) {
            free(e);
            return bl_errno(err, errno, "console log %s", cfg->console_log);
        }
    }
    struct arch_boot boot;
    uint64_t ram = (uint64_t)cfg->memory_mib << 20;
    if (machine_create(&e->m, ram, cfg->cpus, err) < 0 ||
        cmdline_add(e, err, "%s", arch_layout.base_cmdline) < 0 || add_devices(e, cfg, err) < 0 ||
        (cfg->cmdline && *cfg->cmdline && cmdline_add(e, err, " %s", cfg->cmdline) < 0))
        goto fail;
    struct arch_kernel k = { .kernel = cfg->kernel, .initrd = cfg->initrd,
                             .cmdline = e->cmdline, .ncpus = cfg->cpus };
    if (arch_load_kernel(machine_mem(e->m), &k, &boot, err) < 0 ||
        machine_start(e->m, &boot, err) < 0)
        goto fail;
    *out = e;
    return 0;
fail:
    bl_err_prefix(err, "KVM engine");
    machine_destroy(e->m);
    if (e->console_fd >= 0)
        close(e->console_fd);
    free(e);
    return -err->code;
}

static int kvm_agent_fd(struct engine *e) { return -1; /* virtio-console not wired yet */ }

static int kvm_stop(struct engine *e, bool force, struct bl_error *err)
{
    /* The per-box process asks the agent to power off before it comes here, so both kinds
     * end the VM now; force only changes what the exit says. */
    machine_stop(e->m, false, true, -1, force ? "killed" : "stopped on request");
    return 0;
}

static int kvm_wait(struct engine *e, struct engine_exit *out)
{
    struct machine_exit x;
    machine_wait(e->m, &x);
    *out = (struct engine_exit){ .powered_off = x.powered_off, .killed = x.killed,
                                 .guest_status = x.guest_status };
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
    out->vm_exits = s.vm_exits;
    if (s.first_run_ns)
        out->start_to_first_run_ms = (double)(s.first_run_ns - process_start_ns) / 1e6;
    if (s.ready_ns)
        out->start_to_ready_ms = (double)(s.ready_ns - process_start_ns) / 1e6;
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        out->cpu_user_us = (uint64_t)ru.ru_utime.tv_sec * 1000000 + (uint64_t)ru.ru_utime.tv_usec;
        out->cpu_sys_us = (uint64_t)ru.ru_stime.tv_sec * 1000000 + (uint64_t)ru.ru_stime.tv_usec;
    }
    /* The VMM's own memory: the process's resident set minus guest RAM. Walking smaps
     * costs milliseconds, and the per-box process polls; once a second is enough. */
    uint64_t now = mono_ns();
    if (!e->guest_rss_at || now - e->guest_rss_at > 1000000000ull) {
        e->guest_rss = machine_guest_rss(e->m);
        e->guest_rss_at = now;
    }
    uint64_t rss = self_rss(), guest = e->guest_rss;
    out->rss_bytes = rss > guest ? rss - guest : 0;
    return 0;
}

static void kvm_destroy(struct engine *e)
{
    if (!e)
        return;
    machine_destroy(e->m);
    if (e->console_fd >= 0)
        close(e->console_fd);
    free(e);
}

const struct engine_ops engine_kvm_ops = {
    .name = "kvm",
    .available = kvm_available,
    .start = kvm_start,
    .agent_fd = kvm_agent_fd,
    .stop = kvm_stop,
    .wait = kvm_wait,
    .stats = kvm_stats,
    .destroy = kvm_destroy,
};
