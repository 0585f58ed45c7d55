// SPDX-License-Identifier: Apache-2.0
/* SHA-256 (FIPS 180-4) of a buffer, in plain C. For code that hashes a few KiB once per
 * process, where OpenSSL's first EVP call (its library and provider set-up, several ms
 * natively and hundreds under the lab's TCG) would cost more than the hashing: the KVM
 * engine's snapshot checksum and CPU fingerprint, on a resume's critical path. Large or
 * streamed data (image blobs) keeps OpenSSL's faster code. */
#ifndef BL_SHA256_H
#define BL_SHA256_H

#include <stddef.h>
#include <stdint.h>

void sha256(const void *data, size_t len, uint8_t out[32]);

#endif
