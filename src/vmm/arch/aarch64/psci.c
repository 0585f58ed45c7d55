// SPDX-License-Identifier: Apache-2.0
/* PSCI call decoding (Arm DEN0022 PSCI 1.1, section 5 "Interface"; function ids and the
 * SMC32/SMC64 convention from DEN0028 SMCCC 1.1, section 2): what a guest's HVC asks, as a
 * pure function of the registers and which vCPUs run. The guest is hostile: every id and
 * argument is checked, an unknown or malformed call gets the spec's error code. */
#include "aarch64.h"

/* Functions with an SMC64 form (DEN0022 table 5.1: their arguments hold addresses or
 * affinities); the others exist only as SMC32. */
static bool has_smc64(uint32_t base)
{
    return base == A64_PSCI_CPU_SUSPEND || base == A64_PSCI_CPU_ON ||
           base == A64_PSCI_AFFINITY_INFO || base == A64_PSCI_MIGRATE ||
           base == A64_PSCI_MIGRATE_INFO_UP_CPU;
}

/* The functions this decoder implements (PSCI_FEATURES answers 0 for them). */
static bool implemented(uint32_t fid)
{
    uint32_t base = fid & ~A64_PSCI_SMC64;
    if ((fid & A64_PSCI_SMC64) && !has_smc64(base))
        return false;
    switch (base) {
    case A64_PSCI_VERSION:
    case A64_PSCI_CPU_SUSPEND:
    case A64_PSCI_CPU_OFF:
    case A64_PSCI_CPU_ON:
    case A64_PSCI_AFFINITY_INFO:
    case A64_PSCI_MIGRATE_INFO_TYPE:
    case A64_PSCI_SYSTEM_OFF:
    case A64_PSCI_SYSTEM_RESET:
    case A64_PSCI_FEATURES:
        return true;
    default:
        return fid == A64_SMCCC_VERSION;
    }
}

int a64_mpidr_to_vcpu(uint64_t mpidr, unsigned ncpus)
{
    /* Only the affinity fields may be set: Aff0 (bits 0-7, < 16 as KVM assigns it), Aff1
     * (8-15), Aff2 (16-23); Aff3 (32-39) and everything else zero. */
    if (mpidr & ~0xffffffull || (mpidr & 0xff) > 0xf)
        return -1;
    uint64_t id = (mpidr & 0xf) | ((mpidr >> 8) & 0xff) << 4 | ((mpidr >> 16) & 0xff) << 12;
    return id < ncpus && id < A64_PSCI_MAX_CPUS ? (int)id : -1;
}

static bool is_on(const struct a64_psci_state *st, unsigned id)
{
    return id < A64_PSCI_MAX_CPUS && (st->on[id / 64] >> (id % 64) & 1);
}

void a64_psci_decode(const struct a64_psci_state *st, unsigned caller, uint64_t x0, uint64_t x1,
                     uint64_t x2, uint64_t x3, struct a64_psci_call *out)
{
    (void)caller;
    *out = (struct a64_psci_call){ .action = A64_PSCI_ACT_RETURN, .ret = A64_PSCI_NOT_SUPPORTED };
    /* SMCCC: the id is W0; an SMC32 call's arguments are W1..W3, their upper halves are
     * not part of the call. */
    uint32_t fid = (uint32_t)x0;
    if (!(fid & A64_PSCI_SMC64)) {
        x1 = (uint32_t)x1;
        x2 = (uint32_t)x2;
        x3 = (uint32_t)x3;
    }
    if (!implemented(fid))
        return;
    unsigned ncpus = st->ncpus < A64_PSCI_MAX_CPUS ? st->ncpus : A64_PSCI_MAX_CPUS;
    switch (fid & ~A64_PSCI_SMC64) {
    case A64_PSCI_VERSION:
        out->ret = A64_PSCI_IMPL_VERSION;
        return;
    case A64_SMCCC_VERSION:
        out->ret = A64_SMCCC_IMPL_VERSION;
        return;
    case A64_PSCI_FEATURES:
        /* 0 for an implemented function; for CPU_SUSPEND that also says: original
         * power_state format, platform-coordinated mode only (DEN0022 5.1.14) */
        out->ret = (x1 >> 32) == 0 && implemented((uint32_t)x1) ? A64_PSCI_SUCCESS
                                                                : A64_PSCI_NOT_SUPPORTED;
        return;
    case A64_PSCI_CPU_SUSPEND:
        /* any power state is served as standby: the vCPU waits for an interrupt and the
         * call returns SUCCESS, which a powerdown state may also do (DEN0022 5.4.2) */
        out->action = A64_PSCI_ACT_SUSPEND;
        out->ret = A64_PSCI_SUCCESS;
        return;
    case A64_PSCI_CPU_OFF:
        out->action = A64_PSCI_ACT_CPU_OFF;
        out->ret = A64_PSCI_SUCCESS; /* never seen: the vCPU next runs at a CPU_ON's entry */
        return;
    case A64_PSCI_CPU_ON: {
        int id = a64_mpidr_to_vcpu(x1, ncpus);
        if (id < 0)
            out->ret = A64_PSCI_INVALID_PARAMETERS;
        else if (is_on(st, (unsigned)id))
            out->ret = A64_PSCI_ALREADY_ON;
        else if (x2 & 3) /* A64 instructions are 4-byte aligned */
            out->ret = A64_PSCI_INVALID_ADDRESS;
        else {
            out->action = A64_PSCI_ACT_CPU_ON;
            out->ret = A64_PSCI_SUCCESS;
            out->target = (unsigned)id;
            out->entry = x2;
            out->context = x3;
        }
        return;
    }
    case A64_PSCI_AFFINITY_INFO: {
        /* level 0 only: a target names one CPU; 0 = ON, 1 = OFF */
        int id = a64_mpidr_to_vcpu(x1, ncpus);
        if (x2 != 0 || id < 0)
            out->ret = A64_PSCI_INVALID_PARAMETERS;
        else
            out->ret = is_on(st, (unsigned)id) ? 0 : 1;
        return;
    }
    case A64_PSCI_MIGRATE_INFO_TYPE:
        out->ret = 2; /* no Trusted OS: nothing to migrate (DEN0022 5.9) */
        return;
    case A64_PSCI_SYSTEM_OFF:
        out->action = A64_PSCI_ACT_SYSTEM_OFF;
        return;
    case A64_PSCI_SYSTEM_RESET:
        out->action = A64_PSCI_ACT_SYSTEM_RESET;
        return;
    }
}
