/* BoxLite: run OCI images in lightweight virtual machines, as a library.
 *
 * This is the one public header. Everything here is exported from libboxlite.so;
 * everything else is hidden. Errors: every function that can fail returns a
 * boxlite_code (BOXLITE_OK is 0) and, where it has a handle, leaves a message that
 * boxlite_errmsg() returns until the next call on that handle. */
#ifndef BOXLITE_H
#define BOXLITE_H

#ifdef __cplusplus
extern "C" {
#endif

#define BOXLITE_VERSION_MAJOR 0
#define BOXLITE_VERSION_MINOR 1
#define BOXLITE_VERSION_PATCH 0
#define BOXLITE_VERSION "0.1.0"

#if defined(__GNUC__)
#define BOXLITE_API __attribute__((visibility("default")))
#else
#define BOXLITE_API
#endif

/* Result codes: stable numbers, never reused. */
typedef enum boxlite_code {
    BOXLITE_OK = 0,
    BOXLITE_ERR_INVALID = 1,     /* bad argument or option */
    BOXLITE_ERR_NOT_FOUND = 2,   /* no such box, image, file */
    BOXLITE_ERR_EXISTS = 3,      /* name taken, already there */
    BOXLITE_ERR_STATE = 4,       /* not allowed in the object's current state */
    BOXLITE_ERR_IO = 5,          /* a system call failed */
    BOXLITE_ERR_NOMEM = 6,
    BOXLITE_ERR_ENGINE = 7,      /* the VMM or QEMU failed or is missing */
    BOXLITE_ERR_TIMEOUT = 8,
    BOXLITE_ERR_IMAGE = 9,       /* registry, manifest, layer or digest problem */
    BOXLITE_ERR_AUTH = 10,       /* registry refused our credentials */
    BOXLITE_ERR_NETWORK = 11,
    BOXLITE_ERR_PROTOCOL = 12,   /* the agent or a peer broke the protocol */
    BOXLITE_ERR_UNSUPPORTED = 13,
    BOXLITE_ERR_INTERNAL = 14,
} boxlite_code;

/* "0.1.0": the library's version, which may differ from BOXLITE_VERSION at build time. */
BOXLITE_API const char *boxlite_version(void);
/* A short English name for a code ("not found"). Never NULL. */
BOXLITE_API const char *boxlite_code_str(int code);

#ifdef __cplusplus
}
#endif
#endif
