// component: vmm
// SPDX-License-Identifier: Apache-2.0
/* Fuzzes the KVM engine's snapshot parser (src/vmm/snapshot.c), which reads a file from a
 * folder the box's user can write. The checksum would stop almost every mutation at the
 * door, so the input's checksum is made right before parsing (what a forger does) and the
 * checks behind it are explored; a second pass parses the input as it is. Whatever is
 * accepted must be self-consistent: every section inside the buffer, in order; each
 * section's payload is also walked as a list of records (vmsnap_rec_check/get). */
#include "vmm/snapshot.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static void check(const uint8_t *p, size_t n)
{
    struct vmsnap_view v;
    struct bl_error err = { 0 };
    if (vmsnap_parse(p, n, NULL, &v, &err) != 0) {
        if (!err.msg[0])
            __builtin_trap(); /* every refusal explains itself */
        return;
    }
    for (uint32_t i = 0; i < v.n; i++) {
        const struct vmsnap_section *s = &v.sec[i];
        if (s->data < p + SNAP_HEADER_LEN || s->len > SNAP_MAX_SECTION ||
            s->data + s->len > p + n - SNAP_TRAILER_LEN || s->type == 0 ||
            s->type >= SNAP_SEC_END)
            __builtin_trap();
        if (i && (s->type < v.sec[i - 1].type ||
                  (s->type == v.sec[i - 1].type && s->instance <= v.sec[i - 1].instance)))
            __builtin_trap();
        /* payloads are record lists: the record walker gets the same hostile bytes */
        struct bl_error rerr = { 0 };
        if (vmsnap_rec_check(s->data, s->len, 16, "fuzz", &rerr) == 0) {
            size_t n = 0;
            for (uint32_t t = 0; t < 16; t++) {
                const uint8_t *d = vmsnap_rec_get(s->data, s->len, t, &n);
                if (d && (d < s->data || d + n > s->data + s->len))
                    __builtin_trap();
            }
        } else if (!rerr.msg[0]) {
            __builtin_trap();
        }
        volatile uint8_t sink = s->len ? s->data[s->len - 1] : 0; /* ASan checks the bound */
        (void)sink;
    }
    vmsnap_view_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check(data, size);
    if (size < SNAP_HEADER_LEN + SNAP_TRAILER_LEN || size > SNAP_MAX_FILE)
        return 0;
    uint8_t *c = malloc(size);
    if (!c)
        return 0;
    memcpy(c, data, size);
    /* the header's own length field follows the input, so the walk is reached */
    for (int i = 0; i < 8; i++)
        c[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    unsigned n = 32;
    EVP_Digest(c, size - 32, c + size - 32, &n, EVP_sha256(), NULL);
    check(c, size);
    free(c);
    return 0;
}
