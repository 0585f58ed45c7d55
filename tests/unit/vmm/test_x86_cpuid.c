// SPDX-License-Identifier: Apache-2.0
/* x86_64 CPU templates (src/vmm/arch/x86_64/cpu_template.c) against the KVM-supported CPUID
 * tables of real CPUs in tests/unit/vmm/cpuid/: lab-*.txt recorded from kvm-amd in the lab
 * with several QEMU CPU models (tests/lab/record-cpuid.sh), intel-*.txt and amd-genoa.txt
 * constructed from the vendors' documented bits (construct.py says how). Each test names
 * what a user would see: the template chosen, what a template hides, the error naming the
 * features a host lacks; and the text form of the tables. */
#include "harness/harness.h"
#include "vmm/arch/arch.h"
#include "vmm/arch/x86_64/x86.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/unit/vmm/cpuid/"

struct table {
    unsigned n;
    struct kvm_cpuid_entry2 e[X86_CPUID_MAX];
};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    *len = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf)
        buf[*len] = 0;
    return buf;
}

static void load(const char *name, struct table *t)
{
    char path[256];
    size_t len;
    snprintf(path, sizeof path, DATA "%s.txt", name);
    char *text = slurp(path, &len);
    if (!text)
        harness_fail(__FILE__, __LINE__, "cannot read %s", path);
    struct bl_error err = { 0 };
    if (!text || x86_cpuid_parse(text, len, t->e, X86_CPUID_MAX, &t->n, &err) < 0)
        harness_fail(__FILE__, __LINE__, "%s: %s", path, err.msg);
    free(text);
}

static const struct kvm_cpuid_entry2 *get(const struct table *t, uint32_t leaf, uint32_t sub)
{
    for (unsigned i = 0; i < t->n; i++)
        if (t->e[i].function == leaf &&
            (!(t->e[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || t->e[i].index == sub))
            return &t->e[i];
    return NULL;
}

/* Applies name ("auto" too) to the table; returns the error code (0 on success). */
static int apply(const struct table *host, const char *name, struct table *out,
                 const char **chosen, struct bl_error *err)
{
    if (!strcmp(name, "auto"))
        return -x86_template_auto(host->e, host->n, out->e, &out->n, chosen, err);
    *chosen = name;
    return -x86_template_apply(name, host->e, host->n, out->e, &out->n, err);
}

#define BIT(t, leaf, sub, reg, bit) (get(t, leaf, sub) ? (get(t, leaf, sub)->reg >> (bit) & 1) : 0)
static uint64_t xcr0(const struct table *t)
{
    const struct kvm_cpuid_entry2 *d = get(t, 0xd, 0);
    return d ? (uint64_t)d->edx << 32 | d->eax : 0;
}

/* Every table in the folder, and what "auto" must choose for it. */
static const struct {
    const char *name, *auto_choice; /* NULL: no template fits */
} tables[] = {
    { "lab-max", "v3" },           { "lab-epyc", "v3" },
    { "lab-epyc-rome", "v3" },     { "lab-epyc-milan", "v3" },
    { "lab-opteron_g3", NULL },
    { "intel-sapphirerapids", "v3" }, { "intel-skylake", "v3" },
    { "intel-westmere", "baseline" }, { "intel-penryn", NULL },
    { "amd-genoa", "v3" },
};

TEST(every_table_in_the_folder_is_listed_and_parses)
{
    DIR *d = opendir(DATA);
    REQUIRE(d);
    unsigned files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".txt"))
            continue;
        files++;
        bool listed = false;
        for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
            listed |= strncmp(tables[i].name, de->d_name, l - 4) == 0 && strlen(tables[i].name) == l - 4;
        if (!listed)
            harness_fail(__FILE__, __LINE__, "%s is not in the test's list", de->d_name);
    }
    closedir(d);
    CHECK_EQ(files, sizeof tables / sizeof tables[0]);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        static struct table t;
        load(tables[i].name, &t);
        CHECK(t.n >= 15);
        /* as KVM answers: its own leaves are there, and the vendor leaf */
        CHECK(get(&t, 0x40000000, 0) != NULL);
        CHECK(get(&t, 0, 0) != NULL && get(&t, 1, 0) != NULL);
    }
}

TEST(auto_picks_the_most_capable_template_the_host_fully_supports)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        static struct table host, out;
        const char *chosen = NULL;
        struct bl_error err = { 0 };
        load(tables[i].name, &host);
        int code = apply(&host, "auto", &out, &chosen, &err);
        if (tables[i].auto_choice) {
            if (code)
                harness_fail(__FILE__, __LINE__, "%s: %s", tables[i].name, err.msg);
            else if (strcmp(chosen, tables[i].auto_choice))
                harness_fail(__FILE__, __LINE__, "%s: auto chose %s, expected %s",
                             tables[i].name, chosen, tables[i].auto_choice);
        } else {
            CHECK_EQ(code, BOXLITE_ERR_UNSUPPORTED);
            CHECK(strstr(err.msg, "no CPU template fits this host") != NULL);
            CHECK(strstr(err.msg, "\"host\" template") != NULL);
        }
    }
}

TEST(a_template_the_host_cannot_satisfy_names_what_is_missing)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("intel-westmere", &host); /* SSE4.2 and AES, no XSAVE or AVX */
    CHECK_EQ(apply(&host, "v3", &out, &chosen, &err), BOXLITE_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "CPU template v3: the host's KVM lacks fma, movbe, xsave, avx, f16c, "
                       "bmi1, avx2, bmi2, lzcnt");
    load("intel-penryn", &host); /* SSE4.1, no SSE4.2 or POPCNT */
    CHECK_EQ(apply(&host, "baseline", &out, &chosen, &err), BOXLITE_ERR_UNSUPPORTED);
    CHECK_STR(err.msg, "CPU template baseline: the host's KVM lacks sse4_2, popcnt");
    /* and the pass-through still works there: a user can opt in */
    CHECK_EQ(apply(&host, "host", &out, &chosen, &err), 0);
    CHECK_EQ(xcr0(&out), 3); /* XSAVE with x87 and SSE state only */
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 576);
    load("lab-opteron_g3", &host); /* recorded: a 2007 Opteron lacks x86-64-v2 */
    CHECK_EQ(apply(&host, "baseline", &out, &chosen, &err), BOXLITE_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "lacks sse3") == NULL); /* it has SSE3 ... */
    CHECK(strstr(err.msg, "ssse3") != NULL);       /* ... but not SSSE3 */
    CHECK(strstr(err.msg, "sse4_2") != NULL);
    CHECK_EQ(apply(&host, "sockets", &out, &chosen, &err), BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "unknown CPU template \"sockets\"") != NULL);
}

TEST(v3_on_sapphire_rapids_hides_avx512_amx_vmx_and_their_state)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("intel-sapphirerapids", &host);
    REQUIRE(apply(&host, "v3", &out, &chosen, &err) == 0);
    /* the level's features are there */
    CHECK(BIT(&out, 7, 0, ebx, 5));   /* avx2 */
    CHECK(BIT(&out, 1, 0, ecx, 28));  /* avx */
    CHECK(BIT(&out, 0x80000001, 0, ecx, 5)); /* lzcnt */
    CHECK(BIT(&out, 1, 0, ecx, 25));  /* aes: an extra the host has */
    CHECK(BIT(&out, 7, 0, ebx, 20));  /* smap: platform */
    CHECK(BIT(&out, 7, 0, edx, 26));  /* spec_ctrl: mitigations stay choosable */
    /* what the template hides */
    CHECK(!BIT(&out, 7, 0, ebx, 16)); /* avx512f */
    CHECK(!BIT(&out, 7, 0, ebx, 31)); /* avx512vl */
    CHECK(!BIT(&out, 7, 0, edx, 24)); /* amx_tile */
    CHECK(!BIT(&out, 7, 0, ecx, 3));  /* pku */
    CHECK(!BIT(&out, 7, 0, ecx, 16)); /* la57 */
    CHECK(!BIT(&out, 1, 0, ecx, 5));  /* vmx: no nested virtualization in boxes */
    CHECK(!BIT(&out, 7, 0, ebx, 4) && !BIT(&out, 7, 0, ebx, 11)); /* hle, rtm */
    CHECK(!BIT(&out, 1, 0, ecx, 27)); /* osxsave: the guest's CR4 decides */
    CHECK_EQ(get(&out, 7, 0)->eax, 0); /* no leaf 7 sub-leaf 1 ... */
    CHECK(get(&out, 7, 1) == NULL);
    for (unsigned i = 0; i < out.n; i++) {
        uint32_t f = out.e[i].function;
        CHECK(f != 0xa && f != 0x1d && f != 0x1e); /* PMU, AMX palettes */
        CHECK(!(f == 7 && out.e[i].index == 1)); /* AVX-VNNI, BF16 ... */
    }
    /* XSAVE: x87, SSE, AVX only; the area sized for them; XSAVES and XFD gone */
    CHECK_EQ(xcr0(&out), 0x7);
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 576 + 256);
    CHECK(get(&out, 0xd, 2) != NULL);
    CHECK(get(&out, 0xd, 5) == NULL); /* no opmask component layout */
    CHECK(get(&out, 0xd, 18) == NULL);
    CHECK_EQ(get(&out, 0xd, 1)->eax, 0x7); /* xsaveopt, xsavec, xgetbv1 */
    /* identification is the host's */
    CHECK_EQ(get(&out, 0, 0)->ebx, get(&host, 0, 0)->ebx);
    CHECK_EQ(get(&out, 1, 0)->eax, get(&host, 1, 0)->eax);
    CHECK(get(&out, 0x40000001, 0) != NULL);
}

TEST(host_passes_everything_but_permission_gated_amx)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("intel-sapphirerapids", &host);
    REQUIRE(apply(&host, "host", &out, &chosen, &err) == 0);
    CHECK(BIT(&out, 7, 0, ebx, 16));  /* avx512f */
    CHECK(BIT(&out, 7, 0, ecx, 3));   /* pku */
    CHECK(BIT(&out, 1, 0, ecx, 5));   /* vmx */
    CHECK(BIT(&out, 7, 0, edx, 23));  /* avx512_fp16 */
    CHECK(!BIT(&out, 7, 0, edx, 22) && !BIT(&out, 7, 0, edx, 24) && !BIT(&out, 7, 0, edx, 25));
    CHECK(!BIT(&out, 0xd, 1, eax, 4)); /* xfd */
    CHECK(BIT(&out, 0xd, 1, eax, 3));  /* xsaves stays */
    CHECK_EQ(xcr0(&out), 0x2e7);       /* AVX-512 and PKRU, not XTILECFG/XTILEDATA */
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 2688 + 8);
    CHECK(get(&out, 0xd, 9) != NULL);
    CHECK(get(&out, 0xd, 17) == NULL);
    for (unsigned i = 0; i < out.n; i++)
        CHECK(out.e[i].function != 0x1d && out.e[i].function != 0x1e);
    CHECK(get(&out, 0xa, 0) != NULL); /* the PMU leaf stays for host */
}

TEST(skylake_v3_drops_mpx_state_sgx_and_pt)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("intel-skylake", &host);
    CHECK_EQ(xcr0(&host), 0x1f);
    REQUIRE(apply(&host, "auto", &out, &chosen, &err) == 0);
    CHECK_STR(chosen, "v3");
    CHECK_EQ(xcr0(&out), 0x7);
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 832);
    CHECK(!BIT(&out, 7, 0, ebx, 14) && !BIT(&out, 7, 0, ebx, 2) && !BIT(&out, 7, 0, ebx, 25));
    for (unsigned i = 0; i < out.n; i++)
        CHECK(out.e[i].function != 0x12 && out.e[i].function != 0x14);
    /* host keeps MPX's components, laid out as the host says */
    REQUIRE(apply(&host, "host", &out, &chosen, &err) == 0);
    CHECK_EQ(xcr0(&out), 0x1f);
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 1088);
}

TEST(baseline_has_no_xsave_and_nothing_vex_encoded)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    const char *hosts[] = { "intel-sapphirerapids", "amd-genoa", "lab-epyc-milan", "lab-max" };
    for (size_t h = 0; h < 4; h++) {
        load(hosts[h], &host);
        REQUIRE(apply(&host, "baseline", &out, &chosen, &err) == 0);
        CHECK(!BIT(&out, 1, 0, ecx, 26) && !BIT(&out, 1, 0, ecx, 28)); /* xsave, avx */
        CHECK(!BIT(&out, 1, 0, ecx, 12) && !BIT(&out, 1, 0, ecx, 29)); /* fma, f16c */
        CHECK(!BIT(&out, 1, 0, ecx, 22) && !BIT(&out, 7, 0, ebx, 5));  /* movbe, avx2 */
        CHECK(!BIT(&out, 7, 0, ebx, 3) && !BIT(&out, 7, 0, ebx, 8));   /* bmi1, bmi2 */
        CHECK(!BIT(&out, 0x80000001, 0, ecx, 5));                      /* lzcnt */
        CHECK(BIT(&out, 1, 0, ecx, 20) && BIT(&out, 1, 0, ecx, 23));   /* sse4_2, popcnt */
        CHECK(BIT(&out, 0x80000001, 0, ecx, 0));                       /* lahf_lm */
        for (unsigned i = 0; i < out.n; i++)
            CHECK(out.e[i].function != 0xd);
    }
}

TEST(amd_keeps_its_mirrored_bits_and_loses_svm)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("lab-epyc", &host);
    REQUIRE(apply(&host, "v3", &out, &chosen, &err) == 0);
    uint32_t mirror = 0x0183f3ffu;
    CHECK_EQ(get(&out, 0x80000001, 0)->edx & mirror,
             get(&out, 1, 0)->edx & mirror & get(&host, 0x80000001, 0)->edx);
    CHECK(BIT(&host, 0x80000001, 0, ecx, 2));  /* the lab's L1 offers SVM ... */
    CHECK(!BIT(&out, 0x80000001, 0, ecx, 2));  /* ... boxes do not get it */
    for (unsigned i = 0; i < out.n; i++)
        CHECK(out.e[i].function != 0x8000000a);
    CHECK(BIT(&out, 0x80000001, 0, edx, 29)); /* lm */
    /* Zen 4: AVX-512 hidden, AutoIBRS not listed, LFENCE serialising kept */
    load("amd-genoa", &host);
    REQUIRE(apply(&host, "v3", &out, &chosen, &err) == 0);
    CHECK(!BIT(&out, 7, 0, ebx, 16));
    CHECK(BIT(&out, 0x80000021, 0, eax, 2));
    CHECK(!BIT(&out, 0x80000021, 0, eax, 8));
    CHECK_EQ(xcr0(&out), 7);
    REQUIRE(apply(&host, "host", &out, &chosen, &err) == 0);
    CHECK_EQ(xcr0(&out), 0x2e7);
    CHECK_EQ(get(&out, 0xd, 0)->ecx, 2432 + 8);
}

TEST(every_result_obeys_the_rules_and_never_adds_a_bit)
{
    const char *names[] = { "v3", "baseline", "host" };
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            static struct table host, out;
            const char *chosen;
            struct bl_error err = { 0 };
            load(tables[i].name, &host);
            int code = apply(&host, names[k], &out, &chosen, &err);
            if (code) {
                CHECK_EQ(code, BOXLITE_ERR_UNSUPPORTED);
                continue;
            }
            CHECK_EQ(x86_template_verify(names[k], host.e, host.n, out.e, out.n, &err), 0);
            /* each output leaf exists in the host's table and only loses bits, except the
             * XSAVE leaf's sizes (recomputed) */
            for (unsigned j = 0; j < out.n; j++) {
                const struct kvm_cpuid_entry2 *o = &out.e[j];
                const struct kvm_cpuid_entry2 *h = get(&host, o->function, o->index);
                REQUIRE(h);
                if (o->function == 0xd && o->index == 0)
                    continue;
                if (o->function == 7 && o->index == 0)
                    CHECK((o->eax & ~h->eax) == 0);
                CHECK((o->ebx & ~h->ebx) == 0 && (o->ecx & ~h->ecx) == 0 &&
                      (o->edx & ~h->edx) == 0);
            }
        }
}

TEST(the_rules_catch_a_broken_result)
{
    static struct table host, out;
    const char *chosen;
    struct bl_error err = { 0 };
    load("intel-sapphirerapids", &host);
    REQUIRE(apply(&host, "v3", &out, &chosen, &err) == 0);
    for (unsigned i = 0; i < out.n; i++)
        if (out.e[i].function == 7)
            out.e[i].ebx |= 1u << 16; /* avx512f: the host has it, v3 does not list it */
    CHECK_EQ(x86_template_verify("v3", host.e, host.n, out.e, out.n, &err), -BOXLITE_ERR_INTERNAL);
    CHECK(strstr(err.msg, "does not list") != NULL);
    REQUIRE(apply(&host, "v3", &out, &chosen, &err) == 0);
    for (unsigned i = 0; i < out.n; i++)
        if (out.e[i].function == 0xd && out.e[i].index == 0)
            out.e[i].ecx = 576; /* too small for the AVX state */
    CHECK_EQ(x86_template_verify("v3", host.e, host.n, out.e, out.n, &err), -BOXLITE_ERR_INTERNAL);
    CHECK(strstr(err.msg, "XSAVE area") != NULL);
    load("intel-westmere", &host);
    REQUIRE(apply(&host, "host", &out, &chosen, &err) == 0);
    for (unsigned i = 0; i < out.n; i++)
        if (out.e[i].function == 1)
            out.e[i].ecx |= 1u << 28; /* avx, which Westmere lacks */
    CHECK_EQ(x86_template_verify("host", host.e, host.n, out.e, out.n, &err), -BOXLITE_ERR_INTERNAL);
    CHECK(strstr(err.msg, "the host lacks") != NULL);
}

TEST(text_tables_round_trip_and_bad_ones_are_refused)
{
    static struct table a, b;
    load("amd-genoa", &a);
    char *text = x86_cpuid_format(a.e, a.n, "two\nlines");
    REQUIRE(text);
    CHECK(strstr(text, "# two\n# lines\n") != NULL);
    struct bl_error err = { 0 };
    CHECK_EQ(x86_cpuid_parse(text, strlen(text), b.e, X86_CPUID_MAX, &b.n, &err), 0);
    CHECK_EQ(a.n, b.n);
    CHECK_MEM(a.e, b.e, a.n * sizeof a.e[0]);
    free(text);
    static const struct { const char *in, *msg; } bad[] = {
        { "0x1 0x0 0x0 0x1 0x2 0x3\n", "line 1: expected 7 hexadecimal fields" },
        { "# c\n0x1 0x0 0x0 0x1 0x2 0x3 0x4 junk\n", "line 2: trailing text" },
        { "0x1 0x0 0x0 0x1 0x2 0x3 0x123456789\n", "line 1: expected 7" },
        { "0x1 0x0 0x4 0x1 0x2 0x3 0x4\n", "line 1: unknown flags 0x4" },
        { "0x1 0x0 0x0 0x1 0x2 0x3 0x4\n0x1 0x0 0x0 0x1 0x2 0x3 0x4\n", "line 2: leaf 0x1.0 twice" },
        { "1 0 0 1 2 3 4\n", "line 1: expected 7" },
        { "0x 0x0 0x0 0x1 0x2 0x3 0x4\n", "line 1: expected 7" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(x86_cpuid_parse(bad[i].in, strlen(bad[i].in), b.e, X86_CPUID_MAX, &b.n, &err),
                 -BOXLITE_ERR_INVALID);
        if (!strstr(err.msg, bad[i].msg))
            harness_fail(__FILE__, __LINE__, "%s: got \"%s\"", bad[i].msg, err.msg);
    }
    /* more entries than KVM can hold */
    char *many = malloc(300 * 64), *p = many;
    for (int i = 0; i < 300; i++)
        p += sprintf(p, "0x%x 0x0 0x0 0x0 0x0 0x0 0x0\n", 0x40000000 + i);
    CHECK_EQ(x86_cpuid_parse(many, strlen(many), b.e, X86_CPUID_MAX, &b.n, &err),
             -BOXLITE_ERR_INVALID);
    CHECK(strstr(err.msg, "more than 256 entries") != NULL);
    free(many);
}

TEST(the_arch_contract_builds_from_a_dump_and_describes_templates)
{
    size_t len;
    char *dump = slurp(DATA "lab-epyc-milan.txt", &len);
    REQUIRE(dump);
    struct arch_cpu *c = NULL;
    struct bl_error err = { 0 };
    CHECK_EQ(arch_cpu_from_dump(dump, len, NULL, &c, &err), 0);
    CHECK_STR(arch_cpu_template(c), "v3");
    arch_cpu_free(c);
    CHECK_EQ(arch_cpu_from_dump(dump, len, "host", &c, &err), 0);
    CHECK_STR(arch_cpu_template(c), "host");
    arch_cpu_free(c);
    CHECK_EQ(arch_cpu_from_dump(dump, len, "v4", &c, &err), -BOXLITE_ERR_INVALID);
    free(dump);
    CHECK_STR(arch_cpu_templates[0], "v3");
    for (const char *const *t = arch_cpu_templates; *t; t++) {
        char *d = arch_cpu_describe(*t);
        REQUIRE(d);
        CHECK(strncmp(d, *t, strlen(*t)) == 0);
        free(d);
    }
    char *d = arch_cpu_describe("v3");
    CHECK(strstr(d, "avx2(0x7.0:ebx[5])") != NULL);
    CHECK(strstr(d, "XCR0 0x7") != NULL);
    free(d);
    CHECK(arch_cpu_describe("v4") == NULL);
}
