// SPDX-License-Identifier: Apache-2.0
/* boxlite-vmm's diagnostic modes (main.c dispatches to them): what can run here, for
 * `boxlite doctor` and for bug reports. Each prints to stdout and returns the exit status. */
#ifndef VMM_CHECK_H
#define VMM_CHECK_H

/* --check --json: the engines, KVM's state and capabilities, the CPU templates this host
 * satisfies (docs/architecture.md, "boxlite-vmm --check --json"). */
int vmm_check_json(void);
/* --cpuid: the host's KVM_GET_SUPPORTED_CPUID as text (arch_cpu_host_dump). */
int vmm_cpuid_dump(void);
/* --cpu-templates [NAME]: what each template (or NAME) exposes. */
int vmm_cpu_templates(const char *name);

#endif
