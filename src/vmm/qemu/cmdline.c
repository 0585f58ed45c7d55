// SPDX-License-Identifier: Apache-2.0
/* The QEMU command line for one box: the machine of the box's architecture (machine.c: a
 * microvm on x86_64, its virtio-mmio devices announced to the guest by QEMU on the kernel
 * command line; -M virt on aarch64, announced in its device tree), everything else taken
 * from the box's config. */
#include "vmm/qemu/qemu.h"

#include "common/cleanup.h"
#include "common/guest_abi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct argv_builder {
    char **v;
    size_t n, cap;
    bool oom;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        char **v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->oom = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int r = vasprintf(&b->v[b->n], fmt, ap);
    va_end(ap);
    if (r < 0) {
        b->v[b->n] = NULL;
        b->oom = true;
        return;
    }
    b->v[++b->n] = NULL;
}

/* QEMU's option syntax: a comma inside a value is written twice. */
static char *opt_escape(const char *s)
{
    size_t commas = 0;
    for (const char *p = s; *p; p++)
        commas += *p == ',';
    char *out = malloc(strlen(s) + commas + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = s; *p; p++) {
        *o++ = *p;
        if (*p == ',')
            *o++ = ',';
    }
    *o = 0;
    return out;
}

int qemu_disk_format(const char *path, const char **format, struct bl_error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    unsigned char magic[4] = {0};
    ssize_t n = pread(fd, magic, sizeof magic, 0);
    if (n < 0)
        return bl_errno(err, errno, "read %s", path);
    /* qcow2: "QFI\xfb" (QEMU docs/interop/qcow2.txt, header offset 0) */
    *format = n == 4 && memcmp(magic, "QFI\xfb", 4) == 0 ? "qcow2" : "raw";
    return 0;
}

static bool has_comma_free_text(const char *s) { return s && !strchr(s, ','); }

unsigned qemu_virtio_devices(const struct vmm_config *cfg, const struct qemu_launch *l)
{
    /* disks, shares, the console's serial device, the rng, and the network */
    return cfg->ndisks + cfg->nshares + 2 + (cfg->network && l->net_fd >= 0);
}

int qemu_build_argv(const struct vmm_config *cfg, const struct qemu_launch *l, char ***argv,
                    struct bl_error *err)
{
    *argv = NULL;
    if (!cfg->kernel || !cfg->initrd)
        return bl_err(err, BOXLITE_ERR_INVALID, "kernel and initrd are required");
    if (cfg->cpus < 1 || cfg->memory_mib < 16)
        return bl_err(err, BOXLITE_ERR_INVALID, "cpus (%u) and memory_mib (%u) too small",
                      cfg->cpus, cfg->memory_mib);
    const struct qemu_machine *m = l->machine ? l->machine : qemu_machine_for(cfg->arch);
    if (!m)
        return bl_err(err, BOXLITE_ERR_UNSUPPORTED, "QEMU engine: no machine for arch \"%s\"",
                      cfg->arch ? cfg->arch : "?");
    /* each virtio device takes a transport; QEMU's own refusal of one too many ("No
     * 'virtio-bus' bus found") names neither the cause nor the limit */
    unsigned devices = qemu_virtio_devices(cfg, l);
    if (devices > m->transports)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "the box needs %u virtio devices (%u disks, %u shares: the "
                      "rootfs and the volumes, the console, the rng%s) but QEMU's %.*s machine has "
                      "%u virtio-mmio slots: use fewer volumes or disks", devices, cfg->ndisks,
                      cfg->nshares, cfg->network && l->net_fd >= 0 ? ", the network" : "",
                      (int)strcspn(m->machine, ","), m->machine, m->transports);
    struct argv_builder b = {0};
    add(&b, "%s", l->binary);
    add(&b, "-M");
    /* with a memory file, RAM is that file (migrate.c) */
    /* mem-merge: QEMU marks guest RAM MADV_MERGEABLE unless told not to; KSM is the box's
     * choice, off by default (docs/architecture.md "Density": a side channel). */
    add(&b, "%s,mem-merge=%s%s", m->machine, cfg->ksm ? "on" : "off",
        cfg->memory_file ? ",memory-backend=mem" : "");
    add(&b, "-accel");
    /* TCG's translation cache: QEMU 7.2 reserves 1 GiB (an eighth of host RAM at most) and
     * fills it before it flushes; a micro-VM's working set of code is far smaller, and
     * every page of the cache it touched stays resident. */
    if (!l->kvm && cfg->tcg_tb_mib)
        add(&b, "tcg,tb-size=%u", cfg->tcg_tb_mib);
    else
        add(&b, "%s", l->kvm ? "kvm" : "tcg");
    add(&b, "-cpu");
    add(&b, "%s", l->kvm ? "host" : "max");
    add(&b, "-smp");
    add(&b, "%u", cfg->cpus);
    add(&b, "-m");
    add(&b, "%uM", cfg->memory_mib);
    if (cfg->memory_file) {
        /* share=on: the guest writes the box's own file, so a pause need not copy RAM;
         * share=off: a frozen file mapped MAP_PRIVATE, pages shared with every other box
         * mapping it until written (fork). QEMU 7.2 opens it read-write all the same (its
         * readonly=on maps guest RAM read-only, as a ROM; rom=off came in QEMU 8.2), so the
         * forks of one box are one trust domain: docs/architecture.md. The path has no
         * comma (config.c). */
        add(&b, "-object");
        add(&b, "memory-backend-file,id=mem,size=%uM,mem-path=%s,share=%s", cfg->memory_mib,
            cfg->memory_file, cfg->memory_shared ? "on" : "off");
    }
    if (cfg->memory_incoming) {
        /* The device state comes over QMP (migrate-incoming) once the capabilities are set */
        add(&b, "-incoming");
        add(&b, "defer");
        add(&b, "-S"); /* stays stopped once loaded: the state file goes first (qemu.c) */
    }
    add(&b, "-nodefaults");
    add(&b, "-no-user-config");
    add(&b, "-nographic");
    add(&b, "-no-reboot");
    /* QEMU itself may not spawn processes, raise privileges or use obsolete calls. */
    add(&b, "-sandbox");
    add(&b, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
    /* A resume boots nothing: the guest's kernel is in its RAM file already. QEMU would
     * read the kernel and initramfs all the same and keep a copy of each in its heap for
     * the next reset (hw/core/loader.c's ROM blobs): ~20 MiB of every resumed box's and
     * fork's own memory, and time at start-up. Their RAM blocks are the same without them
     * (the kernel lands in guest RAM, not in a ROM of its own), so the stream loads. */
    if (!cfg->memory_incoming || !m->resume_without_kernel) {
        add(&b, "-kernel");
        add(&b, "%s", cfg->kernel);
        add(&b, "-initrd");
        add(&b, "%s", cfg->initrd);
        add(&b, "-append");
        if (cfg->cmdline && *cfg->cmdline)
            add(&b, "console=%s %s%s %s", m->console, m->words, QEMU_GUEST_CMDLINE_REST,
                cfg->cmdline);
        else
            add(&b, "console=%s %s%s", m->console, m->words, QEMU_GUEST_CMDLINE_REST);
    }

    /* Control: QMP and the agent's port on sockets the engine already holds. */
    add(&b, "-chardev");
    add(&b, "socket,id=qmp,fd=%d", l->qmp_fd);
    add(&b, "-mon");
    add(&b, "chardev=qmp,mode=control");

    /* The serial console goes to the per-box process's pipe (which writes the log, rotated),
     * to the console log, or nowhere. */
    if (l->console_fd >= 3) {
        add(&b, "-chardev");
        add(&b, "file,id=console,path=/dev/fd/%d", l->console_fd);
        add(&b, "-serial");
        add(&b, "chardev:console");
    } else if (cfg->console_log) {
        cleanup_free char *p = opt_escape(cfg->console_log);
        add(&b, "-chardev");
        add(&b, "file,id=console,path=%s", p ? p : "");
        add(&b, "-serial");
        add(&b, "chardev:console");
    } else {
        add(&b, "-serial");
        add(&b, "null");
    }

    for (unsigned k = 0; k < cfg->ndisks; k++) {
        unsigned i = m->disks_reversed ? cfg->ndisks - 1 - k : k; /* machine.c */
        const char *fmt = cfg->disks[i].format;
        int rc = fmt ? 0 : qemu_disk_format(cfg->disks[i].path, &fmt, err);
        if (rc < 0) {
            qemu_argv_free(b.v);
            return bl_err_prefix(err, "disk %u", i);
        }
        cleanup_free char *p = opt_escape(cfg->disks[i].path);
        add(&b, "-drive");
        /* werror/rerror=report: a host error (disk full) fails the guest's request; QEMU's
         * default would pause the VM, a box that reads as running and answers nothing. */
        add(&b, "id=disk%u,if=none,file=%s,format=%s,cache=writeback,discard=unmap,"
                "werror=report,rerror=report%s", i,
            p ? p : "", fmt, cfg->disks[i].readonly ? ",readonly=on" : "");
        add(&b, "-device");
        add(&b, "virtio-blk-device,drive=disk%u", i);
    }

    add(&b, "-device");
    add(&b, "virtio-serial-device,max_ports=2");
    add(&b, "-chardev");
    add(&b, "socket,id=agent,fd=%d", l->agent_fd);
    add(&b, "-device");
    add(&b, "virtserialport,chardev=agent,name=" GUEST_AGENT_PORT);

    if (cfg->network && l->net_fd >= 0) {
        /* QEMU's virtio-net talks to the per-box process, which runs the box's network
         * (src/vmm/net/): one frame per datagram on a socket QEMU inherits. */
        add(&b, "-netdev");
        if (cfg->netns) /* a tap in the container's namespace (src/vmm/net/netns.h) */
            add(&b, "tap,id=net0,fd=%d", l->net_fd);
        else
            add(&b, "dgram,id=net0,local.type=fd,local.str=%d", l->net_fd);
        add(&b, "-device");
        add(&b, "virtio-net-device,netdev=net0");
    }

    for (unsigned i = 0; i < cfg->nshares; i++) {
        const struct vmm_share_cfg *s = &cfg->shares[i];
        if (!s->tag || !*s->tag || strlen(s->tag) > 31 || !has_comma_free_text(s->tag)) {
            qemu_argv_free(b.v);
            return bl_err(err, BOXLITE_ERR_INVALID, "share %u: bad tag", i);
        }
        cleanup_free char *p = opt_escape(s->path ? s->path : "");
        /* mapped-xattr: the guest's chmod and chown are recorded in user.virtfs.* attributes,
         * never applied to the host file, which QEMU creates 0600 (directories 0700) as its
         * own user; symlinks and special files become plain files holding the record.
         * security_model=none would hand a guest's setuid bit to the host file. Our 9p
         * server keeps the same records (src/vmm/fs/p9_meta.h), so a volume reads the same
         * under both engines. A filesystem without user.* attributes (tmpfs before Linux
         * 6.6) refuses the guest's new files here rather than losing their modes. */
        add(&b, "-fsdev");
        add(&b, "local,id=fs%u,path=%s,security_model=%s%s", i, p ? p : "",
            s->rootfs ? "none" : "mapped-xattr", s->readonly ? ",readonly=on" : "");
        add(&b, "-device");
        add(&b, "virtio-9p-device,fsdev=fs%u,mount_tag=%s", i, s->tag);
    }

    add(&b, "-device");
    add(&b, "virtio-rng-device");

    /* The balloon (docs/protocol.md "Balloon"): free page reporting gives the pages the
     * guest frees back to the host (QEMU punches them out of a shared memory file, or
     * drops them with MADV_DONTNEED); the target is set over QMP (qemu.c). The machine has
     * m->transports virtio-mmio slots (microvm: QEMU_MICROVM_TRANSPORTS): a box whose disks
     * and volumes take them all runs without one (BALLOON then answers UNSUPPORTED). */
    if (qemu_virtio_devices(cfg, l) < m->transports) {
        add(&b, "-device");
        add(&b, "virtio-balloon-device,id=balloon0,free-page-reporting=%s",
            cfg->balloon_reporting ? "on" : "off");
    }

    if (b.oom) {
        qemu_argv_free(b.v);
        return bl_errno(err, ENOMEM, "QEMU command line");
    }
    *argv = b.v;
    return 0;
}

void qemu_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}
