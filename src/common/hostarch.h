// SPDX-License-Identifier: Apache-2.0
/* The host's architecture under the name OCI image indexes use (image-spec
 * image-index.md, "platform.architecture": Go's GOARCH values). */
#ifndef BL_HOSTARCH_H
#define BL_HOSTARCH_H

/* "amd64", "arm64", or uname's machine for the others. Static storage. */
const char *host_oci_arch(void);
/* The mapping alone: "x86_64" -> "amd64", "aarch64" -> "arm64", else machine. */
const char *oci_arch_of(const char *machine);

#endif
