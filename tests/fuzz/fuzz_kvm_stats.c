// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the reader of KVM's binary statistics (src/vmm/kvm/kvm_stats.c): a stats file is
 * the kernel's, read by offsets and counts it states. The input is a whole stats file: its
 * head is parsed from memory, and the file itself (a memfd) is read and marked as the
 * engine reads a VM's and a vCPU's; nothing may be read outside it, and what is kept must
 * lie inside the bounds the parse promises. */
#include "vmm/kvm/kvm_stats.h"

#include "memfd_input.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    static struct kvm_stats_layout l;
    struct bl_error err = { 0 };
    size_t head = kvm_stats_head_len(data, size);
    if (head > KVM_STATS_HEAD_MAX)
        abort();
    if (kvm_stats_parse(data, size, &l, &err) == 0) {
        if (!l.n || l.n > KVM_STATS_MAX || l.data_len > KVM_STATS_DATA_MAX)
            abort();
        for (unsigned i = 0; i < l.n; i++) {
            size_t n = strnlen(l.s[i].name, KVM_STATS_NAME_MAX);
            if (!n || n == KVM_STATS_NAME_MAX || l.s[i].offset + 8ull > l.data_len ||
                l.s[i].type > 2)
                abort();
        }
    } else if (!err.msg[0]) {
        abort(); /* refused without saying why */
    }
    /* the same bytes as a VM's and a vCPU's stats file */
    int vm = memfd_input("kvm-vm", data, size), cpu = memfd_input("kvm-vcpu", data, size);
    struct kvm_counters *c = kvm_counters_from_fds(vm, &cpu, 1);
    if (c) {
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            kvm_counters_mark(c, f, "fuzz", 1.0);
            fclose(f);
        }
    }
    kvm_counters_free(c);
    return 0;
}
