// SPDX-License-Identifier: Apache-2.0
/* OpenSSL's libcrypto, loaded on its first use (lazylib.h explains why): its load and set-up
 * alone cost more of a process's start than all the other libraries left (about 3.7 ms
 * natively), and an exec, a start, a pause or a resume hashes nothing with it. Include this
 * instead of <openssl/...>. Without the library every call fails the way it fails by
 * itself (0, NULL, -1), a comparison says "different", and the two calls whose callers
 * cannot see a failure leave their output defined: EVP_EncodeBlock an empty string, SHA1 a
 * zero digest (a WebSocket key no client accepts). OPENSSL_cleanse still clears. */
#ifndef BOXLITE_COMMON_LAZY_CRYPTO_H
#define BOXLITE_COMMON_LAZY_CRYPTO_H

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <string.h>

#include "common/lazylib.h"

#define LAZY_CRYPTO_FNS(X)                                                                  \
    X(EVP_sha256) X(EVP_MD_CTX_new) X(EVP_MD_CTX_free) X(EVP_DigestInit_ex)                \
    X(EVP_DigestUpdate) X(EVP_DigestFinal_ex) X(EVP_EncodeBlock) X(EVP_DecodeBlock)       \
    X(RAND_bytes) X(SHA1) X(CRYPTO_memcmp) X(OPENSSL_cleanse)

LAZYLIB_DECLARE(crypto, LAZY_CRYPTO_FNS)

static inline int lazy_crypto_no_encode(unsigned char *t, const unsigned char *f, int n)
{
    t[0] = 0;
    return 0;
}

static inline unsigned char *lazy_crypto_no_sha1(const unsigned char *d, size_t n, unsigned char *md)
{
    memset(md, 0, 20);
    return NULL;
}

#define EVP_sha256(...) LAZY_CALL(lazy_crypto, EVP_sha256, NULL, __VA_ARGS__)
#define EVP_MD_CTX_new(...) LAZY_CALL(lazy_crypto, EVP_MD_CTX_new, NULL, __VA_ARGS__)
#define EVP_MD_CTX_free(...) LAZY_CALL(lazy_crypto, EVP_MD_CTX_free, (void)0, __VA_ARGS__)
#define EVP_DigestInit_ex(...) LAZY_CALL(lazy_crypto, EVP_DigestInit_ex, 0, __VA_ARGS__)
#define EVP_DigestUpdate(...) LAZY_CALL(lazy_crypto, EVP_DigestUpdate, 0, __VA_ARGS__)
#define EVP_DigestFinal_ex(...) LAZY_CALL(lazy_crypto, EVP_DigestFinal_ex, 0, __VA_ARGS__)
#define EVP_EncodeBlock(...) \
    LAZY_CALL(lazy_crypto, EVP_EncodeBlock, lazy_crypto_no_encode(__VA_ARGS__), __VA_ARGS__)
#define EVP_DecodeBlock(...) LAZY_CALL(lazy_crypto, EVP_DecodeBlock, -1, __VA_ARGS__)
#define RAND_bytes(...) LAZY_CALL(lazy_crypto, RAND_bytes, 0, __VA_ARGS__)
#define SHA1(...) LAZY_CALL(lazy_crypto, SHA1, lazy_crypto_no_sha1(__VA_ARGS__), __VA_ARGS__)
#define CRYPTO_memcmp(...) LAZY_CALL(lazy_crypto, CRYPTO_memcmp, 1, __VA_ARGS__)
#define OPENSSL_cleanse(...) \
    LAZY_CALL(lazy_crypto, OPENSSL_cleanse, explicit_bzero(__VA_ARGS__), __VA_ARGS__)

#endif
