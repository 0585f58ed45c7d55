// SPDX-License-Identifier: Apache-2.0
/* PSCI call decoding (src/vmm/arch/aarch64/psci.c) against Arm DEN0022: each function id in
 * its SMC32 and SMC64 forms, the return codes for bad targets, addresses and unknown ids,
 * SMC32 arguments cut to 32 bits, and the MPIDR <-> vCPU mapping KVM uses. */
#include "harness/harness.h"
#include "vmm/arch/aarch64/aarch64.h"

static struct a64_psci_call call(const struct a64_psci_state *st, uint64_t x0, uint64_t x1,
                                 uint64_t x2, uint64_t x3)
{
    struct a64_psci_call c;
    a64_psci_decode(st, 0, x0, x1, x2, x3, &c);
    return c;
}

/* 4 vCPUs, 0 and 2 running */
static const struct a64_psci_state st4 = { .ncpus = 4, .on = { 0x5 } };

TEST(psci_version_features_and_unknown_ids)
{
    struct a64_psci_call c = call(&st4, A64_PSCI_VERSION, 0, 0, 0);
    CHECK_EQ(c.action, A64_PSCI_ACT_RETURN);
    CHECK_EQ(c.ret, 0x10000); /* 1.0: major in bits 16-30 */
    CHECK_EQ(call(&st4, A64_SMCCC_VERSION, 0, 0, 0).ret, 0x10001);
    /* the id is W0: garbage in x0's upper half does not change the call */
    CHECK_EQ(call(&st4, 0xdead000000000000ull | A64_PSCI_VERSION, 0, 0, 0).ret, 0x10000);

    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_CPU_ON, 0, 0).ret, A64_PSCI_SUCCESS);
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_CPU_ON | A64_PSCI_SMC64, 0, 0).ret, 0);
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_SYSTEM_OFF, 0, 0).ret, 0);
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_FEATURES, 0, 0).ret, 0);
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_MIGRATE, 0, 0).ret,
             A64_PSCI_NOT_SUPPORTED);
    /* SYSTEM_OFF has no SMC64 form; 0x8400000b (SYSTEM_SUSPEND) is not implemented */
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, A64_PSCI_SYSTEM_OFF | A64_PSCI_SMC64, 0, 0).ret,
             A64_PSCI_NOT_SUPPORTED);
    CHECK_EQ(call(&st4, A64_PSCI_FEATURES, 0x8400000b, 0, 0).ret, A64_PSCI_NOT_SUPPORTED);

    /* unknown ids, yielding calls (bit 31 clear), SMC64 forms that do not exist */
    uint64_t bad[] = { 0x8400000b, 0x8400ffff, 0x04000000, 0xc4000008, 0xc4000000,
                       A64_SMCCC_ARCH_FEATURES, 0x86000000, 0 };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = call(&st4, bad[i], 0, 0, 0);
        CHECK_EQ(c.action, A64_PSCI_ACT_RETURN);
        CHECK_EQ(c.ret, A64_PSCI_NOT_SUPPORTED);
    }
    CHECK_EQ(call(&st4, A64_PSCI_MIGRATE, 0, 0, 0).ret, A64_PSCI_NOT_SUPPORTED);
    CHECK_EQ(call(&st4, A64_PSCI_MIGRATE_INFO_TYPE, 0, 0, 0).ret, 2);
}

TEST(psci_cpu_on_checks_target_state_and_entry)
{
    uint32_t on64 = A64_PSCI_CPU_ON | A64_PSCI_SMC64;
    struct a64_psci_call c = call(&st4, on64, 1, 0x40080000, 0x1234);
    CHECK_EQ(c.action, A64_PSCI_ACT_CPU_ON);
    CHECK_EQ(c.ret, A64_PSCI_SUCCESS);
    CHECK_EQ(c.target, 1);
    CHECK_EQ(c.entry, 0x40080000);
    CHECK_EQ(c.context, 0x1234);
    /* a 64-bit entry point survives in the SMC64 form */
    c = call(&st4, on64, 3, 0x100000000ull, 7);
    CHECK_EQ(c.action, A64_PSCI_ACT_CPU_ON);
    CHECK_EQ(c.entry, 0x100000000ull);
    /* the SMC32 form takes W registers: the upper halves are not the call's */
    c = call(&st4, A64_PSCI_CPU_ON, 0xffffffff00000001ull, 0xabcd000040080000ull, 1ull << 40);
    CHECK_EQ(c.action, A64_PSCI_ACT_CPU_ON);
    CHECK_EQ(c.target, 1);
    CHECK_EQ(c.entry, 0x40080000);
    CHECK_EQ(c.context, 0);

    c = call(&st4, on64, 2, 0x40080000, 0); /* running already */
    CHECK_EQ(c.action, A64_PSCI_ACT_RETURN);
    CHECK_EQ(c.ret, A64_PSCI_ALREADY_ON);
    CHECK_EQ(call(&st4, on64, 0, 0x40080000, 0).ret, A64_PSCI_ALREADY_ON);
    CHECK_EQ(call(&st4, on64, 4, 0x40080000, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    CHECK_EQ(call(&st4, on64, 1ull << 32, 0x40080000, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    CHECK_EQ(call(&st4, on64, 0x10, 0x40080000, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    CHECK_EQ(call(&st4, on64, 1ull << 63, 0x40080000, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    CHECK_EQ(call(&st4, on64, 1, 0x40080002, 0).ret, A64_PSCI_INVALID_ADDRESS);
    CHECK_EQ(call(&st4, on64, 1, 0x40080002, 0).action, A64_PSCI_ACT_RETURN);

    /* vCPU 17 of 20 is MPIDR Aff1 1, Aff0 1 */
    struct a64_psci_state st20 = { .ncpus = 20, .on = { 1 } };
    c = call(&st20, on64, 0x101, 0x40080000, 0);
    CHECK_EQ(c.action, A64_PSCI_ACT_CPU_ON);
    CHECK_EQ(c.target, 17);
    CHECK_EQ(call(&st20, on64, 17, 0x40080000, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    /* vCPU 100 lives in on[1] */
    struct a64_psci_state st128 = { .ncpus = 128, .on = { 1, 1ull << 36 } };
    CHECK_EQ(call(&st128, on64, a64_mpidr(100), 0x40080000, 0).ret, A64_PSCI_ALREADY_ON);
    CHECK_EQ(call(&st128, on64, a64_mpidr(101), 0x40080000, 0).action, A64_PSCI_ACT_CPU_ON);
    /* a state claiming more CPUs than tracked stays inside its bitmap */
    struct a64_psci_state huge = { .ncpus = 100000, .on = { 1 } };
    CHECK_EQ(call(&huge, on64, a64_mpidr(300), 0x40080000, 0).ret,
             A64_PSCI_INVALID_PARAMETERS);
}

TEST(psci_affinity_info_cpu_off_suspend_and_system_calls)
{
    uint32_t aff64 = A64_PSCI_AFFINITY_INFO | A64_PSCI_SMC64;
    CHECK_EQ(call(&st4, aff64, 2, 0, 0).ret, 0); /* on */
    CHECK_EQ(call(&st4, aff64, 1, 0, 0).ret, 1); /* off */
    CHECK_EQ(call(&st4, A64_PSCI_AFFINITY_INFO, 0xffffffff00000000ull, 0, 0).ret, 0);
    CHECK_EQ(call(&st4, aff64, 1, 1, 0).ret, A64_PSCI_INVALID_PARAMETERS);
    CHECK_EQ(call(&st4, aff64, 9, 0, 0).ret, A64_PSCI_INVALID_PARAMETERS);

    CHECK_EQ(call(&st4, A64_PSCI_CPU_OFF, 0, 0, 0).action, A64_PSCI_ACT_CPU_OFF);
    struct a64_psci_call c = call(&st4, A64_PSCI_CPU_SUSPEND | A64_PSCI_SMC64, 0, 0, 0);
    CHECK_EQ(c.action, A64_PSCI_ACT_SUSPEND);
    CHECK_EQ(c.ret, A64_PSCI_SUCCESS);
    CHECK_EQ(call(&st4, A64_PSCI_SYSTEM_OFF, 0, 0, 0).action, A64_PSCI_ACT_SYSTEM_OFF);
    CHECK_EQ(call(&st4, A64_PSCI_SYSTEM_RESET, 0, 0, 0).action, A64_PSCI_ACT_SYSTEM_RESET);
    /* Linux's own ids as it calls them (include/uapi/linux/psci.h PSCI_0_2_FN_*) */
    CHECK_EQ(call(&st4, 0x84000008, 0, 0, 0).action, A64_PSCI_ACT_SYSTEM_OFF);
    CHECK_EQ(call(&st4, 0xc4000003, 1, 0x40000000, 0).action, A64_PSCI_ACT_CPU_ON);
}

TEST(psci_mpidr_round_trips)
{
    for (unsigned id = 0; id < A64_PSCI_MAX_CPUS; id++)
        CHECK_EQ(a64_mpidr_to_vcpu(a64_mpidr(id), A64_PSCI_MAX_CPUS), (int)id);
    CHECK_EQ(a64_mpidr_to_vcpu(0x80000000ull, 4), -1); /* the RES1 bit 31 of MPIDR_EL1 */
    CHECK_EQ(a64_mpidr_to_vcpu(0x1000000ull, 4), -1);  /* bit 24 (MT) */
    CHECK_EQ(a64_mpidr_to_vcpu(0x3, 4), 3);
    CHECK_EQ(a64_mpidr_to_vcpu(0x3, 3), -1);
}
