// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* PSCI decoding (a64_psci_decode) on arbitrary guest registers and vCPU states: the guest
 * chooses x0..x3, so every answer must stay inside the spec's codes and a CPU_ON may only
 * name an existing vCPU that is off, at an aligned entry. */
#include "vmm/arch/aarch64/aarch64.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t r[7] = { 0 };
    memcpy(r, data, size < sizeof r ? size : sizeof r);
    struct a64_psci_state st = { .ncpus = (unsigned)(r[4] % 200), .on = { r[5], r[6] } };
    struct a64_psci_call c;
    a64_psci_decode(&st, 0, r[0], r[1], r[2], r[3], &c);
    if (c.action == A64_PSCI_ACT_CPU_ON &&
        (c.target >= st.ncpus || c.target >= A64_PSCI_MAX_CPUS ||
         (st.on[c.target / 64] >> (c.target % 64) & 1) || (c.entry & 3) ||
         a64_mpidr(c.target) != ((uint32_t)r[0] & A64_PSCI_SMC64 ? r[1] : (uint32_t)r[1])))
        __builtin_trap();
    if (c.action == A64_PSCI_ACT_RETURN && c.ret < -9 && (uint32_t)r[0] != A64_PSCI_VERSION &&
        (uint32_t)r[0] != A64_SMCCC_VERSION)
        __builtin_trap();
    return 0;
}
