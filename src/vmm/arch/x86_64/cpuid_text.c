// SPDX-License-Identifier: Apache-2.0
/* A CPUID table as text: what `boxlite-vmm --cpuid` prints of the host's
 * KVM_GET_SUPPORTED_CPUID (for bug reports), and the form of the recorded tables the
 * template tests read (tests/unit/vmm/cpuid/). One entry per line, seven hexadecimal fields
 * as in struct kvm_cpuid_entry2 (Documentation/virt/kvm/api.rst, KVM_GET_SUPPORTED_CPUID):
 *
 *   # comment
 *   function index flags eax ebx ecx edx
 *   0x00000001 0x0 0x0 0x00a00f11 0x00000800 0xfeda3203 0x178bfbff
 *
 * The input may come from a user's report: every field is bounded, the line count is
 * limited, a repeated leaf is an error. */
#include "x86.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One field: 0x followed by 1..8 hex digits. Advances *p. */
static bool hex_field(const char **p, const char *end, uint32_t *out)
{
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    if (end - s < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return false;
    s += 2;
    uint32_t v = 0;
    int digits = 0;
    for (; s < end && !is_space(*s) && *s != '\n'; s++) {
        char c = *s;
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 || ++digits > 8)
            return false;
        v = v << 4 | (uint32_t)d;
    }
    if (!digits)
        return false;
    *out = v;
    *p = s;
    return true;
}

int x86_cpuid_parse(const char *text, size_t len, struct kvm_cpuid_entry2 *out, unsigned max,
                    unsigned *n, struct bl_error *err)
{
    const char *p = text, *end = text + len;
    unsigned count = 0, line = 0;
    *n = 0;
    while (p < end) {
        line++;
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *s = p;
        while (s < eol && is_space(*s))
            s++;
        if (s < eol && *s != '#') {
            uint32_t f[7];
            for (int i = 0; i < 7; i++)
                if (!hex_field(&s, eol, &f[i]))
                    return bl_err(err, BOXLITE_ERR_INVALID,
                                  "CPUID table line %u: expected 7 hexadecimal fields (0x...)",
                                  line);
            while (s < eol && is_space(*s))
                s++;
            if (s < eol)
                return bl_err(err, BOXLITE_ERR_INVALID, "CPUID table line %u: trailing text",
                              line);
            if (f[2] & ~(uint32_t)KVM_CPUID_FLAG_SIGNIFCANT_INDEX)
                return bl_err(err, BOXLITE_ERR_INVALID,
                              "CPUID table line %u: unknown flags %#x", line, f[2]);
            if (count == max)
                return bl_err(err, BOXLITE_ERR_INVALID, "CPUID table: more than %u entries",
                              max);
            for (unsigned i = 0; i < count; i++)
                if (out[i].function == f[0] && out[i].index == f[1])
                    return bl_err(err, BOXLITE_ERR_INVALID,
                                  "CPUID table line %u: leaf %#x.%u twice", line, f[0], f[1]);
            out[count] = (struct kvm_cpuid_entry2){ .function = f[0], .index = f[1],
                                                    .flags = f[2], .eax = f[3], .ebx = f[4],
                                                    .ecx = f[5], .edx = f[6] };
            count++;
        }
        p = eol < end ? eol + 1 : end;
    }
    *n = count;
    return 0;
}

char *x86_cpuid_format(const struct kvm_cpuid_entry2 *e, unsigned n, const char *comment)
{
    size_t cap = 256 + (comment ? strlen(comment) * 2 : 0) + (size_t)n * 80, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    len += (size_t)snprintf(s, cap, "# boxlite cpuid table 1: function index flags eax ebx ecx edx\n");
    /* The comment may span lines: each becomes its own "# " line. */
    for (const char *c = comment; c && *c && len < cap;) {
        const char *nl = strchr(c, '\n');
        int l = nl ? (int)(nl - c) : (int)strlen(c);
        len += (size_t)snprintf(s + len, cap - len, "# %.*s\n", l, c);
        c = nl ? nl + 1 : c + l;
    }
    for (unsigned i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(s + len, cap - len, "0x%08x 0x%x 0x%x 0x%08x 0x%08x 0x%08x 0x%08x\n",
                                e[i].function, e[i].index, e[i].flags, e[i].eax, e[i].ebx,
                                e[i].ecx, e[i].edx);
    return s;
}
