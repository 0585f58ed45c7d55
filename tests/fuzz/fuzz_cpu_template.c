// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* CPU templates over arbitrary supported-CPUID tables (a user's `boxlite-vmm --cpuid`
 * report is such input): the text is parsed, every template and "auto" applied. A malformed
 * table or an unsatisfiable template is an error; a result that breaks the templates' rules
 * (a bit the host lacks or the template does not list, AMX, an XSAVE leaf that disagrees
 * with the features) is BOXLITE_ERR_INTERNAL from the built-in check, and aborts here. */
#include "vmm/arch/arch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = { "auto", NULL };
    for (int pass = 0; pass < 2; pass++)
        for (const char *const *t = pass ? arch_cpu_templates : names; *t; t++) {
            struct arch_cpu *c = NULL;
            struct bl_error err = { 0 };
            int r = arch_cpu_from_dump((const char *)data, size, *t, &c, &err);
            if (r == -BOXLITE_ERR_INTERNAL) {
                fprintf(stderr, "template %s: %s\n", *t, err.msg);
                abort();
            }
            if (r == 0 && !arch_cpu_template(c))
                abort();
            arch_cpu_free(c);
        }
    return 0;
}
