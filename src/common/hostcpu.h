/* What the host's CPU says about itself (/proc/cpuinfo), for choosing an engine and for
 * `boxlite doctor`. */
#ifndef BL_HOSTCPU_H
#define BL_HOSTCPU_H

#include <stdbool.h>

/* Whether the first CPU's "flags" line holds flag as a whole word ("svm", "hypervisor"). */
bool host_cpu_has_flag(const char *flag);
/* "vmx", "svm", or NULL when the CPU offers no hardware virtualization. */
const char *host_cpu_virt_flag(void);

#endif
