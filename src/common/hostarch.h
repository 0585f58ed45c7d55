// SPDX-License-Identifier: Apache-2.0
/* The host's architecture under the name OCI image indexes use (image-spec
 * image-index.md, "platform.architecture": Go's GOARCH values). */
#ifndef BL_HOSTARCH_H
#define BL_HOSTARCH_H

/* "amd64", "arm64", or uname's machine for the others. Static storage. */
const char *host_oci_arch(void);
/* The mapping alone: "x86_64" -> "amd64", "aarch64" -> "arm64", else machine. */
const char *oci_arch_of(const char *machine);

/* The other way: "amd64" -> "x86_64", "arm64" -> "aarch64", else the name itself (uname's
 * machine, the name QEMU's binaries and the VMM's "arch" use). */
const char *machine_of_oci_arch(const char *oci_arch);
/* uname's machine for this host ("x86_64", "aarch64"). Static storage. */
const char *host_machine(void);

#endif
