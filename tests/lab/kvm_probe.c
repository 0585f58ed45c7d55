// SPDX-License-Identifier: Apache-2.0
/* kvm_probe: proves a /dev/kvm runs guest code, independent of the project's VMM.
 * Creates a VM with 64 KiB of memory, an in-kernel irqchip, one vCPU in real mode, and runs
 * a small program: it sums 1..1000 in a loop, writes the low 16 bits of the sum to I/O port
 * 0x10, writes a byte string to port 0x3f8 one out per byte, and signals the end on port 0x11. Checks each exit.
 * Built static by lab-check.sh (not by the Makefile: it is a lab tool, not a component).
 * Prints "kvm_probe: ok" and exits 0 on success, prints the failing step and exits 1 otherwise.
 * usage: kvm_probe [/dev/kvm] */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MEM_SIZE 0x10000
#define LOAD_AT 0x1000

static void on_alarm(int sig) { (void)sig; }

static int fail(const char *what)
{
    printf("kvm_probe: FAIL: %s: %s\n", what, strerror(errno));
    return 1;
}

int main(int argc, char **argv)
{
    const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
    /* Real-mode code at 0x1000 (assembled by hand, bytes commented):
     *   xor ax,ax ; mov cx,1000 ; l: add ax,cx ; loop l ; mov dx,0x10 ; out dx,ax
     *   mov si,msg ; mov dx,0x3f8 ; n: lodsb ; test al,al ; jz h ; out dx,al ; jmp n
     *   h: out 0x11,al ; hlt ; msg: "hello from the guest\n",0 */
    static const char msg[] = "hello from the guest\n";
    uint8_t code[] = {
        0x31, 0xc0,             /* xor ax,ax */
        0xb9, 0xe8, 0x03,       /* mov cx,1000 */
        0x01, 0xc8,             /* l: add ax,cx */
        0xe2, 0xfc,             /* loop l */
        0xba, 0x10, 0x00,       /* mov dx,0x10 */
        0xef,                   /* out dx,ax */
        0xbe, 0x00, 0x00,       /* mov si,msg (patched below) */
        0xba, 0xf8, 0x03,       /* mov dx,0x3f8 */
        0xac,                   /* n: lodsb */
        0x84, 0xc0,             /* test al,al */
        0x74, 0x03,             /* jz h */
        0xee,                   /* out dx,al */
        0xeb, 0xf8,             /* jmp n */
        0xe6, 0x11,             /* h: out 0x11,al: done (with an in-kernel irqchip, */
        0xf4,                   /* hlt: hlt waits in the kernel, it does not exit) */
    };
    uint16_t msg_at = LOAD_AT + sizeof(code);
    code[14] = msg_at & 0xff;
    code[15] = msg_at >> 8;

    int kvm = open(dev, O_RDWR | O_CLOEXEC);
    if (kvm < 0) return fail(dev);
    int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) { printf("kvm_probe: FAIL: API version %d\n", api); return 1; }
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) return fail("KVM_CREATE_VM");
    if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) return fail("KVM_SET_TSS_ADDR");
    if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) return fail("KVM_CREATE_IRQCHIP");

    uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return fail("mmap");
    memcpy(mem + LOAD_AT, code, sizeof(code));
    memcpy(mem + msg_at, msg, sizeof(msg));
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) return fail("KVM_SET_USER_MEMORY_REGION");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) return fail("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) return fail("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) return fail("mmap kvm_run");

    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) return fail("KVM_GET_SREGS");
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) return fail("KVM_SET_SREGS");
    struct kvm_regs regs = { .rip = LOAD_AT, .rflags = 0x2 };
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) return fail("KVM_SET_REGS");

    char out[sizeof(msg)] = {0};
    size_t nout = 0;
    unsigned sum = 0, exits = 0;
    int got_sum = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    /* A guest that never exits must not hang the probe: SIGALRM interrupts KVM_RUN. */
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    alarm(20);
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR && ioctl(vcpu, KVM_GET_REGS, &regs) == 0)
                printf("kvm_probe: FAIL: no exit within 20 s after %u exits (rip 0x%llx, ax 0x%llx, cx 0x%llx)\n",
                       exits, regs.rip, regs.rax, regs.rcx);
            return fail("KVM_RUN");
        }
        exits++;
        if (run->exit_reason == KVM_EXIT_IO && run->io.port == 0x11) break;
        if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            if (run->io.port == 0x10 && run->io.size == 2) {
                sum = data[0] | data[1] << 8;
                got_sum = 1;
            } else if (run->io.port == 0x3f8 && run->io.size == 1 && nout < sizeof(out) - 1) {
                out[nout++] = (char)data[0];
            } else {
                printf("kvm_probe: FAIL: unexpected out to port 0x%x size %u\n", run->io.port, run->io.size);
                return 1;
            }
            continue;
        }
        printf("kvm_probe: FAIL: unexpected exit reason %u (internal error suberror %u)\n",
               run->exit_reason, run->internal.suberror);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
    if (!got_sum || sum != (500500 & 0xffff)) {
        printf("kvm_probe: FAIL: the guest's sum is %u, expected %u\n", sum, 500500 & 0xffff);
        return 1;
    }
    if (strcmp(out, msg) != 0) {
        printf("kvm_probe: FAIL: the guest wrote \"%s\"\n", out);
        return 1;
    }
    printf("kvm_probe: guest said: %s", out);
    printf("kvm_probe: ok: sum %u, %u exits, %.0f us in KVM_RUN\n", sum, exits, us);
    return 0;
}
