// SPDX-License-Identifier: Apache-2.0
/* A KVM virtual machine: guest RAM in memslots, the MMIO and port I/O buses that route
 * exits to device models, interrupt lines (irqfd), queue-notify ioeventfds, an event-loop
 * thread for device back ends, and one thread per vCPU. The engine (kvm_engine.c) builds a
 * box's machine on it; tests build tiny machines that run hand-assembled code. */
#ifndef VMM_KVM_MACHINE_H
#define VMM_KVM_MACHINE_H

#include "common/clock.h"
#include "common/error.h"
#include "vmm/arch/arch.h"
#include "vmm/core/device.h"
#include "vmm/core/evloop.h"
#include "vmm/core/mem.h"

#include <stdbool.h>
#include <stdint.h>

struct machine;
struct virtio_dev;

struct machine_exit {
    bool powered_off;  /* the guest ended itself (power-off, reset, triple fault) */
    bool killed;       /* machine_stop(..., killed) from the host */
    bool failed;       /* KVM or a vCPU failed */
    bool paused;       /* machine_save saved it and ended it */
    int guest_status;  /* as reported through the control page, else -1 */
    char reason[256];
};

/* Opens /dev/kvm, creates the VM with ram_bytes of guest RAM (not pre-faulted) and the
 * arch's interrupt controller, and starts nothing yet. */
int machine_create(struct machine **out, uint64_t ram_bytes, unsigned ncpus,
                   struct bl_error *err);
/* Stops everything still running and frees the machine. NULL-safe. */
void machine_destroy(struct machine *m);

struct guest_mem *machine_mem(struct machine *m);
int machine_kvm_fd(struct machine *m); /* /dev/kvm, for system-wide queries */
/* KVM's own counters of this VM and its vCPUs (kvm_stats.h); NULL where the kernel keeps
 * none. After machine_create, before the jail's filters (an ioctl per vCPU). */
struct kvm_counters *machine_counters(struct machine *m);
struct evloop *machine_loop(struct machine *m);

/* Routes guest accesses to [base, base+len) to ops/opaque. Only before machine_start. */
int machine_add_mmio(struct machine *m, uint64_t base, uint64_t len, const struct bus_ops *ops,
                     void *opaque, struct bl_error *err);
int machine_add_pio(struct machine *m, uint64_t base, uint64_t len, const struct bus_ops *ops,
                    void *opaque, struct bl_error *err);
/* An edge-triggered interrupt line on gsi (an irqfd). */
int machine_irq(struct machine *m, uint32_t gsi, struct irq_line *out, struct bl_error *err);
/* A level-triggered one (KVM_IRQ_LINE in the architecture's encoding), low at first. */
int machine_irq_level(struct machine *m, uint32_t gsi, struct irq_line *out,
                      struct bl_error *err);
/* A virtio-mmio device at base: register window on the MMIO bus, one eventfd per queue on
 * the event loop, each also a KVM ioeventfd on QueueNotify. The machine frees dev. */
int machine_add_virtio(struct machine *m, struct virtio_dev *dev, uint64_t base,
                       struct bl_error *err);

/* Starts the event loop and the vCPU threads; the boot vCPU enters boot->entry. */
int machine_start(struct machine *m, const struct arch_boot *boot, struct bl_error *err);
/* Ends the VM (the first call's reason wins); any thread, also a vCPU's. */
void machine_stop(struct machine *m, bool powered_off, bool killed, int guest_status,
                  const char *reason);
/* Blocks until the VM ended and every vCPU thread returned. */
void machine_wait(struct machine *m, struct machine_exit *out);
/* Like machine_wait but gives up after timeout_ms (returns false then). */
bool machine_wait_timeout(struct machine *m, int timeout_ms, struct machine_exit *out);

/* Figures, all times on CLOCK_MONOTONIC in nanoseconds (0 = not yet). */
struct machine_stats {
    uint64_t vm_exits;
    uint64_t first_run_ns; /* the first KVM_RUN was entered */
    uint64_t ready_ns;     /* machine_mark_ready was called */
};
void machine_stats(struct machine *m, struct machine_stats *out);
void machine_mark_ready(struct machine *m);
/* Bytes of guest RAM resident in this process (to subtract from its RSS). */
uint64_t machine_guest_rss(struct machine *m);
/* Offers guest RAM to KSM (madvise MADV_MERGEABLE; vmm.json "ksm"): identical pages of
 * this and other guests may then share one host page, at the price of a timing side
 * channel between them (docs/architecture.md). */
int machine_ksm(struct machine *m, struct bl_error *err);

/* ---- snapshots (src/vmm/snapshot.h) ----------------------------------------------------
 * machine_save stops every vCPU at a clean point (out of KVM_RUN, no port or MMIO access
 * half done) and the event loop, writes guest RAM to mem_path (a new file renamed into place)
 * and then the state file (vCPUs, irqchip, PIT, clock, every virtio device) to state_path,
 * and ends the VM (machine_wait then returns, its exit paused). ident gives the build id and CPU
 * fingerprint. On failure nothing is ended: the VM runs on.
 * machine_create_from maps guest RAM from a memory file copy-on-write; after the devices
 * were added as in the saved machine, machine_restore checks the state file against
 * expect (build, CPU, RAM size) and the machine's shape, restores it, and machine_start
 * then runs the vCPUs from where they stopped (boot is ignored). */
struct vmsnap_ident;
struct arch_cpu;
int machine_create_from(struct machine **out, uint64_t ram_bytes, unsigned ncpus, int mem_fd,
                        struct bl_error *err);
int machine_save(struct machine *m, const struct vmsnap_ident *ident, const char *mem_path,
                 const char *state_path, struct bl_error *err);
/* Device state that is not virtio's (the UART, core/device.h): saved in a section of its
 * own, restored in the order added. Before machine_start. */
int machine_add_state(struct machine *m, const struct machine_state_ops *ops, void *opaque,
                      struct bl_error *err);
int machine_restore(struct machine *m, const uint8_t *data, size_t len,
                    const struct vmsnap_ident *expect, const struct arch_cpu *cpu,
                    struct bl_error *err);

#endif
