#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Constructs the KVM_GET_SUPPORTED_CPUID tables of CPUs the lab cannot emulate (Intel: the
lab needs AMD SVM; AMD with AVX-512: QEMU's TCG lacks it), for the CPU template tests.

These are NOT recordings. Each table is built here from named features, bit positions as
the Intel SDM vol. 2A ("CPUID--CPU Identification", tables 3-8 to 3-10 and the leaf 0xD
description) and AMD APM vol. 3 (appendix E) define them, for a CPU whose feature list is
public (Intel's and AMD's product pages, the flags Linux prints for it), laid out the way
Linux 6.1's arch/x86/kvm/cpuid.c answers KVM_GET_SUPPORTED_CPUID: hypervisor and x2APIC
bits set, KVM's leaves 0x40000000/1 added, OSXSAVE/OSPKE clear, topology and caches as the
host reports them. Values no test looks at (cache descriptors, brand strings) are plausible,
not exact. Run it to regenerate intel-*.txt and amd-genoa.txt beside it.
"""
import os

EAX, EBX, ECX, EDX = range(4)
here = os.path.dirname(os.path.abspath(__file__))

# (leaf, subleaf, reg, bit)
BITS = {
    # leaf 1 EDX
    "fpu": (1, 0, EDX, 0), "vme": (1, 0, EDX, 1), "de": (1, 0, EDX, 2), "pse": (1, 0, EDX, 3),
    "tsc": (1, 0, EDX, 4), "msr": (1, 0, EDX, 5), "pae": (1, 0, EDX, 6), "mce": (1, 0, EDX, 7),
    "cx8": (1, 0, EDX, 8), "apic": (1, 0, EDX, 9), "sep": (1, 0, EDX, 11), "mtrr": (1, 0, EDX, 12),
    "pge": (1, 0, EDX, 13), "mca": (1, 0, EDX, 14), "cmov": (1, 0, EDX, 15), "pat": (1, 0, EDX, 16),
    "pse36": (1, 0, EDX, 17), "clflush": (1, 0, EDX, 19), "mmx": (1, 0, EDX, 23),
    "fxsr": (1, 0, EDX, 24), "sse": (1, 0, EDX, 25), "sse2": (1, 0, EDX, 26), "ss": (1, 0, EDX, 27),
    # leaf 1 ECX
    "sse3": (1, 0, ECX, 0), "pclmulqdq": (1, 0, ECX, 1), "vmx": (1, 0, ECX, 5),
    "ssse3": (1, 0, ECX, 9), "fma": (1, 0, ECX, 12), "cx16": (1, 0, ECX, 13),
    "pdcm": (1, 0, ECX, 15), "pcid": (1, 0, ECX, 17), "sse4_1": (1, 0, ECX, 19),
    "sse4_2": (1, 0, ECX, 20), "x2apic": (1, 0, ECX, 21), "movbe": (1, 0, ECX, 22),
    "popcnt": (1, 0, ECX, 23), "tsc_deadline_timer": (1, 0, ECX, 24), "aes": (1, 0, ECX, 25),
    "xsave": (1, 0, ECX, 26), "avx": (1, 0, ECX, 28), "f16c": (1, 0, ECX, 29),
    "rdrand": (1, 0, ECX, 30), "hypervisor": (1, 0, ECX, 31),
    # leaf 7.0 EBX
    "fsgsbase": (7, 0, EBX, 0), "tsc_adjust": (7, 0, EBX, 1), "sgx": (7, 0, EBX, 2),
    "bmi1": (7, 0, EBX, 3), "hle": (7, 0, EBX, 4), "avx2": (7, 0, EBX, 5),
    "fdp_excptn_only": (7, 0, EBX, 6), "smep": (7, 0, EBX, 7), "bmi2": (7, 0, EBX, 8),
    "erms": (7, 0, EBX, 9), "invpcid": (7, 0, EBX, 10), "rtm": (7, 0, EBX, 11),
    "mpx": (7, 0, EBX, 14), "avx512f": (7, 0, EBX, 16), "avx512dq": (7, 0, EBX, 17),
    "rdseed": (7, 0, EBX, 18), "adx": (7, 0, EBX, 19), "smap": (7, 0, EBX, 20),
    "avx512ifma": (7, 0, EBX, 21), "clflushopt": (7, 0, EBX, 23), "clwb": (7, 0, EBX, 24),
    "intel_pt": (7, 0, EBX, 25), "avx512cd": (7, 0, EBX, 28), "sha_ni": (7, 0, EBX, 29),
    "avx512bw": (7, 0, EBX, 30), "avx512vl": (7, 0, EBX, 31),
    # leaf 7.0 ECX
    "avx512vbmi": (7, 0, ECX, 1), "umip": (7, 0, ECX, 2), "pku": (7, 0, ECX, 3),
    "waitpkg": (7, 0, ECX, 5), "avx512_vbmi2": (7, 0, ECX, 6), "gfni": (7, 0, ECX, 8),
    "vaes": (7, 0, ECX, 9), "vpclmulqdq": (7, 0, ECX, 10), "avx512_vnni": (7, 0, ECX, 11),
    "avx512_bitalg": (7, 0, ECX, 12), "tme": (7, 0, ECX, 13), "avx512_vpopcntdq": (7, 0, ECX, 14),
    "la57": (7, 0, ECX, 16), "rdpid": (7, 0, ECX, 22), "bus_lock_detect": (7, 0, ECX, 24),
    "cldemote": (7, 0, ECX, 25), "movdiri": (7, 0, ECX, 27), "movdir64b": (7, 0, ECX, 28),
    "enqcmd": (7, 0, ECX, 29), "sgx_lc": (7, 0, ECX, 30),
    # leaf 7.0 EDX
    "fsrm": (7, 0, EDX, 4), "avx512_vp2intersect": (7, 0, EDX, 8), "md_clear": (7, 0, EDX, 10),
    "serialize": (7, 0, EDX, 14), "tsxldtrk": (7, 0, EDX, 16), "amx_bf16": (7, 0, EDX, 22),
    "avx512_fp16": (7, 0, EDX, 23), "amx_tile": (7, 0, EDX, 24), "amx_int8": (7, 0, EDX, 25),
    "spec_ctrl": (7, 0, EDX, 26), "intel_stibp": (7, 0, EDX, 27), "flush_l1d": (7, 0, EDX, 28),
    "arch_capabilities": (7, 0, EDX, 29), "spec_ctrl_ssbd": (7, 0, EDX, 31),
    # leaf 7.1 EAX
    "avx_vnni": (7, 1, EAX, 4), "avx512_bf16": (7, 1, EAX, 5), "fzrm": (7, 1, EAX, 10),
    "fsrs": (7, 1, EAX, 11), "fsrc": (7, 1, EAX, 12), "amx_fp16": (7, 1, EAX, 21),
    # leaf 0xD.1 EAX
    "xsaveopt": (0xd, 1, EAX, 0), "xsavec": (0xd, 1, EAX, 1), "xgetbv1": (0xd, 1, EAX, 2),
    "xsaves": (0xd, 1, EAX, 3), "xfd": (0xd, 1, EAX, 4),
    # 0x80000001
    "lahf_lm": (0x80000001, 0, ECX, 0), "svm": (0x80000001, 0, ECX, 2),
    "cr8_legacy": (0x80000001, 0, ECX, 4), "lzcnt": (0x80000001, 0, ECX, 5),
    "sse4a": (0x80000001, 0, ECX, 6), "misalignsse": (0x80000001, 0, ECX, 7),
    "3dnowprefetch": (0x80000001, 0, ECX, 8), "topoext": (0x80000001, 0, ECX, 22),
    "perfctr_core": (0x80000001, 0, ECX, 23),
    "syscall": (0x80000001, 0, EDX, 11), "nx": (0x80000001, 0, EDX, 20),
    "mmxext": (0x80000001, 0, EDX, 22), "fxsr_opt": (0x80000001, 0, EDX, 25),
    "pdpe1gb": (0x80000001, 0, EDX, 26), "rdtscp": (0x80000001, 0, EDX, 27),
    "lm": (0x80000001, 0, EDX, 29),
    # 0x80000008 EBX
    "clzero": (0x80000008, 0, EBX, 0), "xsaveerptr": (0x80000008, 0, EBX, 2),
    "wbnoinvd": (0x80000008, 0, EBX, 9), "ibpb": (0x80000008, 0, EBX, 12),
    "ibrs": (0x80000008, 0, EBX, 14), "amd_stibp": (0x80000008, 0, EBX, 15),
    "amd_ssbd": (0x80000008, 0, EBX, 24), "virt_ssbd": (0x80000008, 0, EBX, 25),
    "amd_psfd": (0x80000008, 0, EBX, 28),
    # 0x80000021 EAX
    "no_nested_data_bp": (0x80000021, 0, EAX, 0), "lfence_rdtsc": (0x80000021, 0, EAX, 2),
    "null_sel_clr_base": (0x80000021, 0, EAX, 6), "autoibrs": (0x80000021, 0, EAX, 8),
}

# AMD mirrors these leaf 1 EDX bits in 0x80000001 EDX (APM vol. 3, E.4.2).
AMD_MIRROR = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 14, 15, 16, 17, 23, 24]

# KVM's own leaves (Documentation/virt/kvm/x86/cpuid.rst) with the feature bits the lab's
# kvm-amd of Linux 6.1 reports (tests/unit/vmm/cpuid/lab-*.txt, leaf 0x40000001).
KVM_FEATURES = 0x01007efb


def regs4(s):
    """16 characters as four little-endian registers (vendor and brand strings)."""
    b = s.encode().ljust(16, b"\0")
    return [int.from_bytes(b[i:i + 4], "little") for i in range(0, 16, 4)]


class Table:
    def __init__(self):
        self.e = {}  # (leaf, sub) -> [flags, eax, ebx, ecx, edx]

    def put(self, leaf, sub=0, eax=0, ebx=0, ecx=0, edx=0, indexed=False):
        self.e[(leaf, sub)] = [1 if indexed else 0, eax, ebx, ecx, edx]

    def set(self, names):
        for n in names:
            leaf, sub, reg, bit = BITS[n]
            self.e[(leaf, sub)][1 + reg] |= 1 << bit

    def text(self, comment):
        out = ["# boxlite cpuid table 1: function index flags eax ebx ecx edx"]
        out += ["# " + l for l in comment.strip().splitlines()]
        for (leaf, sub) in sorted(self.e):
            f, a, b, c, d = self.e[(leaf, sub)]
            out.append(f"0x{leaf:08x} 0x{sub:x} 0x{f:x} 0x{a:08x} 0x{b:08x} 0x{c:08x} 0x{d:08x}")
        return "\n".join(out) + "\n"


def common(t, vendor, max_basic, max_ext, signature, ebx1, brand, features, xsave=None,
           leaf7_max=0):
    v = regs4(vendor)
    t.put(0, eax=max_basic, ebx=v[0], ecx=v[2], edx=v[1])
    t.put(1, eax=signature, ebx=ebx1)
    if max_basic >= 7:
        t.put(7, 0, eax=leaf7_max, indexed=True)
        for s in range(1, leaf7_max + 1):
            t.put(7, s, indexed=True)
    if xsave:
        comps, xfeatures = xsave  # {component: (size, offset)}, 0xD.1 feature names
        mask = 3
        top = 576
        for c, (size, off) in comps.items():
            mask |= 1 << c
            top = max(top, size + off)
        t.put(0xd, 0, eax=mask & 0xffffffff, ebx=576, ecx=top, edx=mask >> 32, indexed=True)
        t.put(0xd, 1, indexed=True)
        for c, (size, off) in comps.items():
            t.put(0xd, c, eax=size, ebx=off, ecx=2 if c >= 17 else 0, indexed=True)
    t.put(0x40000000, eax=0x40000001, ebx=0x4b4d564b, ecx=0x564b4d56, edx=0x4d)
    t.put(0x40000001, eax=KVM_FEATURES)
    t.put(0x80000000, eax=max_ext)
    t.put(0x80000001)
    b = regs4(brand[0:16]) + regs4(brand[16:32]) + regs4(brand[32:48])
    for i in range(3):
        t.put(0x80000002 + i, *b[4 * i:4 * i + 4])
    t.put(0x80000006, ecx=0x01006040)
    t.put(0x80000007, edx=1 << 8)  # invariant TSC
    t.put(0x80000008, eax=0x3030)
    if max_ext >= 0x80000021:
        t.put(0x80000021)
    # what KVM always reports
    t.set(["x2apic", "hypervisor"] + features)
    if xsave:
        t.set(xsave[1])
    if vendor == "AuthenticAMD":
        e = t.e[(0x80000001, 0)]
        e[4] |= t.e[(1, 0)][4] & sum(1 << b for b in AMD_MIRROR)


def intel_caches(t, max_basic):
    t.put(2, eax=0x00feff01, edx=0x000000f0)
    for s, (typ, level, ways, sets) in enumerate([(1, 1, 12, 64), (2, 1, 8, 64), (3, 2, 16, 2048), (3, 3, 15, 65536)]):
        t.put(4, s, eax=typ | level << 5 | 1 << 8, ebx=(ways - 1) << 22 | 63, ecx=sets - 1, indexed=True)
    t.put(4, 4, indexed=True)
    t.put(6, eax=1 << 2)  # ARAT
    t.put(0xb, 0, eax=1, ebx=2, ecx=0x100, indexed=True)
    t.put(0xb, 1, eax=7, ebx=112, ecx=0x201, indexed=True)
    t.put(0xb, 2, ecx=2, indexed=True)


X86_64_V1 = ["fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", "sep", "mtrr",
             "pge", "mca", "cmov", "pat", "pse36", "clflush", "mmx", "fxsr", "sse", "sse2", "ss",
             "syscall", "nx", "lm"]


def sapphire_rapids():
    """Intel Xeon Platinum 8480+ (Sapphire Rapids, family 6 model 0x8f): AVX-512 with FP16,
    AMX (BF16, INT8, tiles), VMX, PKU, LA57, XFD; the XSAVE layout of AMX parts
    (XCR0 0x602e7, 11008-byte area), leaf 0x1F, the architectural PMU (0xA), AMX leaves
    0x1D/0x1E. KVM here reports AMX as a kernel that granted the guest permission does."""
    t = Table()
    intel_caches(t, 0x1f)
    comps = {2: (256, 576), 5: (64, 1088), 6: (512, 1152), 7: (1024, 1664), 9: (8, 2688),
             17: (64, 2752), 18: (8192, 2816)}
    common(t, "GenuineIntel", 0x1f, 0x80000008, 0x000806f8, 0x00800800,
           "Intel(R) Xeon(R) Platinum 8480+", X86_64_V1 + [
               "sse3", "pclmulqdq", "vmx", "ssse3", "fma", "cx16", "pdcm", "pcid", "sse4_1",
               "sse4_2", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", "avx", "f16c",
               "rdrand", "fsgsbase", "tsc_adjust", "bmi1", "hle", "avx2", "fdp_excptn_only",
               "smep", "bmi2", "erms", "invpcid", "rtm", "avx512f", "avx512dq", "rdseed", "adx",
               "smap", "avx512ifma", "clflushopt", "clwb", "avx512cd", "sha_ni", "avx512bw",
               "avx512vl", "avx512vbmi", "umip", "pku", "waitpkg", "avx512_vbmi2", "gfni",
               "vaes", "vpclmulqdq", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq",
               "la57", "rdpid", "bus_lock_detect", "cldemote", "movdiri", "movdir64b",
               "fsrm", "md_clear", "serialize", "tsxldtrk", "amx_bf16", "avx512_fp16",
               "amx_tile", "amx_int8", "spec_ctrl", "intel_stibp", "flush_l1d",
               "arch_capabilities", "spec_ctrl_ssbd", "avx_vnni", "avx512_bf16", "fzrm",
               "fsrs", "fsrc", "lahf_lm", "lzcnt", "3dnowprefetch", "pdpe1gb", "rdtscp"],
           xsave=(comps, ["xsaveopt", "xsavec", "xgetbv1", "xsaves", "xfd"]), leaf7_max=1)
    t.put(0xa, eax=0x07300802 | 0x8 << 8, ebx=0, edx=0x8603)  # PMU v2, 8 counters, 3 fixed
    t.put(0x1d, 0, eax=1, indexed=True)
    t.put(0x1d, 1, eax=0x04002000, ebx=0x00080040, ecx=0x10, indexed=True)
    t.put(0x1e, 0, ebx=0x4010, indexed=True)
    for s, (a, b, c) in enumerate([(1, 2, 0x100), (7, 112, 0x201), (0, 0, 2)]):
        t.put(0x1f, s, eax=a, ebx=b, ecx=c, indexed=True)
    t.e[(0x80000008, 0)][1] = 0x392e  # 46 physical, 57 virtual address bits
    t.set(["wbnoinvd"])
    return t


def skylake_client():
    """Intel Core i7-6700 (Skylake, family 6 model 0x5e): AVX2 without AVX-512, MPX (XSAVE
    components 3 and 4: a 1088-byte area), SGX (leaf 0x12), VMX, no PKU."""
    t = Table()
    intel_caches(t, 0x16)
    comps = {2: (256, 576), 3: (64, 960), 4: (64, 1024)}
    common(t, "GenuineIntel", 0x16, 0x80000008, 0x000506e3, 0x00100800,
           "Intel(R) Core(TM) i7-6700 CPU @ 3.40GHz", X86_64_V1 + [
               "sse3", "pclmulqdq", "vmx", "ssse3", "fma", "cx16", "pdcm", "pcid", "sse4_1",
               "sse4_2", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", "avx", "f16c",
               "rdrand", "fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2",
               "fdp_excptn_only", "smep", "bmi2", "erms", "invpcid", "rtm", "mpx", "rdseed",
               "adx", "smap", "clflushopt", "intel_pt", "md_clear", "spec_ctrl", "intel_stibp",
               "flush_l1d", "arch_capabilities", "spec_ctrl_ssbd", "lahf_lm", "lzcnt",
               "3dnowprefetch", "pdpe1gb", "rdtscp"],
           xsave=(comps, ["xsaveopt", "xsavec", "xgetbv1", "xsaves"]))
    t.put(0xa, eax=0x07300404, edx=0x0603)
    t.put(0x12, 0, eax=1, edx=0x241f, indexed=True)
    t.put(0x12, 1, eax=0x36, ecx=0x1f, indexed=True)
    t.put(0x14, 0, eax=1, ebx=0xf, ecx=0x7, indexed=True)
    t.put(0x16, eax=0xd48, ebx=0xfa0, ecx=0x64)
    t.put(0x15, eax=2, ebx=0x11c)
    return t


def westmere():
    """Intel Xeon X5670 (Westmere-EP, family 6 model 0x2c): SSE4.2, POPCNT, AES and
    PCLMULQDQ but no XSAVE and no AVX: x86-64-v2 and nothing above."""
    t = Table()
    intel_caches(t, 0xb)
    common(t, "GenuineIntel", 0xb, 0x80000008, 0x000206c2, 0x00200800,
           "Intel(R) Xeon(R) CPU           X5670  @ 2.93GHz", X86_64_V1 + [
               "sse3", "pclmulqdq", "vmx", "ssse3", "cx16", "pdcm", "pcid", "sse4_1", "sse4_2",
               "popcnt", "aes", "lahf_lm", "pdpe1gb", "rdtscp"])
    t.put(0xa, eax=0x07300403, edx=0x0603)
    return t


def penryn():
    """Intel Core 2 Duo E8400 (Penryn, family 6 model 0x17): SSSE3 and SSE4.1 but no SSE4.2
    and no POPCNT (below x86-64-v2); XSAVE with x87 and SSE state only."""
    t = Table()
    intel_caches(t, 0xd)
    common(t, "GenuineIntel", 0xd, 0x80000008, 0x0001067a, 0x00020800,
           "Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz", X86_64_V1 + [
               "sse3", "vmx", "ssse3", "cx16", "pdcm", "sse4_1", "xsave", "lahf_lm"],
           xsave=({}, []))
    t.put(0xa, eax=0x07280202, edx=0x0503)
    return t


def genoa():
    """AMD EPYC 9654 (Zen 4 "Genoa", family 0x19 model 0x11): AVX-512 (with BF16), PKU,
    LA57, SVM, leaf 0x80000021 (AutoIBRS, LFENCE serialising), XSAVE components up to PKRU
    (2696-byte area), no AMX."""
    t = Table()
    t.put(5, eax=0x40, ebx=0x40, ecx=3, edx=0x11)
    t.put(6, eax=1 << 2, ecx=1)
    t.put(0xb, 0, eax=1, ebx=2, ecx=0x100, indexed=True)
    t.put(0xb, 1, eax=7, ebx=192, ecx=0x201, indexed=True)
    comps = {2: (256, 576), 5: (64, 832), 6: (512, 896), 7: (1024, 1408), 9: (8, 2432)}
    common(t, "AuthenticAMD", 0x10, 0x80000021, 0x00a10f11, 0x00800800,
           "AMD EPYC 9654 96-Core Processor", X86_64_V1 + [
               "sse3", "pclmulqdq", "ssse3", "fma", "cx16", "pcid", "sse4_1", "sse4_2", "movbe",
               "popcnt", "aes", "xsave", "avx", "f16c", "rdrand", "fsgsbase", "tsc_adjust",
               "bmi1", "avx2", "smep", "bmi2", "erms", "invpcid", "avx512f", "avx512dq",
               "rdseed", "adx", "smap", "avx512ifma", "clflushopt", "clwb", "avx512cd",
               "sha_ni", "avx512bw", "avx512vl", "avx512vbmi", "umip", "pku", "avx512_vbmi2",
               "gfni", "vaes", "vpclmulqdq", "avx512_vnni", "avx512_bitalg",
               "avx512_vpopcntdq", "la57", "rdpid", "fsrm", "avx512_bf16", "lahf_lm", "svm",
               "cr8_legacy", "lzcnt", "sse4a", "misalignsse", "3dnowprefetch", "topoext",
               "mmxext", "fxsr_opt", "pdpe1gb", "rdtscp", "clzero", "xsaveerptr", "wbnoinvd",
               "ibpb", "ibrs", "amd_stibp", "amd_ssbd", "virt_ssbd", "amd_psfd",
               "no_nested_data_bp", "lfence_rdtsc", "null_sel_clr_base", "autoibrs"],
           xsave=(comps, ["xsaveopt", "xsavec", "xgetbv1", "xsaves"]), leaf7_max=1)
    t.put(0x8000000a, eax=1, ebx=0x8000, edx=0x1ebfbcff)
    t.put(0x8000001d, 0, eax=0x4121, ebx=0x1c0003f, ecx=0x3f, indexed=True)
    t.put(0x8000001e)
    t.put(0x8000001f, eax=0x1, ebx=0x16f)
    t.e[(0x80000008, 0)][1] = 0x3030
    return t


for name, fn in [("intel-sapphirerapids", sapphire_rapids), ("intel-skylake", skylake_client),
                 ("intel-westmere", westmere), ("intel-penryn", penryn), ("amd-genoa", genoa)]:
    t = fn()
    doc = ("constructed by tests/unit/vmm/cpuid/construct.py (not recorded): " + name + "\n" +
           fn.__doc__.strip().replace("\n    ", "\n"))
    with open(os.path.join(here, name + ".txt"), "w") as f:
        f.write(t.text(doc))
    print(name, len(t.e), "entries")
