// SPDX-License-Identifier: Apache-2.0
/* A client for the OCI Distribution API v2 (distribution-spec spec.md) over libcurl:
 * manifests by tag or digest, blobs into the blob store, several at once (curl multi).
 *
 * Transport: HTTPS with verified certificates; plain HTTP only for hosts listed as
 * insecure and for localhost / 127.0.0.1 / [::1] (which try HTTPS first, as Docker does).
 * Auth: the registry's challenge decides (WWW-Authenticate, RFC 7235): Bearer tokens from
 * the realm it names (anonymous, with basic credentials, or an identity token as an OAuth2
 * refresh token), or Basic. Credentials come from the options or ~/.docker/config.json
 * ($DOCKER_CONFIG/config.json): the credential helper named for the registry
 * (credHelpers) or the default one (credsStore), run as Docker runs them; else
 * auths.<host>.auth (base64 user:password) or .identitytoken.
 * Redirects (blob storage) are followed; the Authorization header is not sent to another
 * host. Failed transfers (network errors, 5xx, 429, short bodies) are retried with
 * exponential backoff, resuming with a Range request where the last attempt stopped (the
 * running sha256 carries on; a server that ignores the Range restarts the blob); a 429 or
 * 503 waits as long as its Retry-After asks (up to a minute; a longer wait fails at once,
 * naming the registry and the wait). A blob whose bytes do not match its digest is an
 * error at once. A pull that fails or is killed leaves its partial blobs (blobstore.h),
 * which the next pull of the same blobs resumes. */
#ifndef IMAGE_REGISTRY_H
#define IMAGE_REGISTRY_H

#include "common/error.h"
#include "image/blobstore.h"
#include "image/manifest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Called from the thread that runs registry_fetch_blobs: bytes done/total for blob i.
 * Nonzero cancels the fetch: registry_fetch_blobs stops its transfers at once (partial
 * blobs are kept to resume) and fails with BOXLITE_ERR_CANCELLED. */
typedef int (*registry_progress_fn)(void *ud, size_t i, const char *digest, uint64_t done,
                                    uint64_t total);

struct registry_opts {
    const char *docker_config;          /* NULL: $DOCKER_CONFIG or ~/.docker/config.json */
    const char *const *insecure;        /* NULL-terminated "host[:port]" list, may be NULL */
    const char *username, *password;    /* override the config file if set */
    bool anonymous;                     /* no credentials at all (neither of the above nor
                                           a credential helper): a puller acting for others */
    const char *ca_file;                /* extra CA bundle, may be NULL */
    int max_parallel;                   /* blobs at once; 0 = 4 */
    int max_retries;                    /* per request; 0 = 3, -1 = none */
    unsigned retry_base_ms;             /* first backoff; 0 = 200 */
    unsigned helper_timeout_ms;         /* a credential helper's time limit; 0 = 30 s */
    registry_progress_fn progress;
    void *progress_ud;
};

struct registry;

/* host is the canonical registry name (image_ref.registry; docker.io is mapped to its API
 * host). Checks that the registry answers (GET /v2/) and obtains a token if it wants one. */
int registry_open(struct registry **out, const char *registry, const char *repository,
                  const struct registry_opts *opts, struct bl_error *err);
void registry_close(struct registry *r);

/* Fetches a manifest or index by tag or digest. The body is malloc'd (NUL-terminated);
 * content_type may be NULL; digest_out receives the sha256 of the body, which must equal
 * reference when that is a digest. */
int registry_get_manifest(struct registry *r, const char *reference, char **body, size_t *len,
                          char **content_type, char digest_out[DIGEST_LEN + 1],
                          struct bl_error *err);

/* The digest the registry gives a tag, without the manifest: a HEAD request and its
 * Docker-Content-Digest header (distribution-spec, "Checking if content exists"). Docker
 * Hub does not count HEAD requests against its pull rate limit. 1 with digest_out set, 0
 * when the registry answers without a (valid) digest header (or refuses HEAD with 405):
 * GET the manifest instead; negative on an error (404: BOXLITE_ERR_NOT_FOUND). */
int registry_head_manifest(struct registry *r, const char *reference, char digest_out[DIGEST_LEN + 1],
                           struct bl_error *err);

/* What a caller may follow while blobs download, in the downloading thread (any member may
 * be NULL): on_data after bytes of blob i were written to fd (its partial file; written =
 * bytes in it so far, which a restarted download may lower), on_done once blob i is in the
 * store (or was already there, or another process stored it). */
struct registry_fetch_events {
    void (*on_data)(void *ud, size_t i, int fd, uint64_t written);
    void (*on_done)(void *ud, size_t i);
    void *ud;
};

/* Downloads the blobs not yet in the store, up to max_parallel at once. A blob that a
 * killed pull left partly downloaded resumes from where it stopped; one that another
 * process is downloading now is waited for, not fetched twice. ev may be NULL. */
int registry_fetch_blobs(struct registry *r, const struct blobstore *bs,
                         const struct oci_descriptor *blobs, size_t n,
                         const struct registry_fetch_events *ev, struct bl_error *err);

/* The wait a Retry-After value asks for (delay-seconds or an HTTP date, RFC 9110 section
 * 10.2.3), in ms from now; -1 if absent or unreadable. Exposed for tests. */
long registry_retry_after_ms(const char *value, time_t now);

/* Parses one WWW-Authenticate header value into its scheme and the realm/service/scope
 * parameters (each malloc'd or NULL). Exposed for tests and fuzzing. */
struct auth_challenge {
    char scheme[16]; /* "bearer", "basic" (lowercased) */
    char *realm, *service, *scope;
};
int auth_challenge_parse(struct auth_challenge *c, const char *value, struct bl_error *err);
void auth_challenge_free(struct auth_challenge *c);

/* Credentials for a registry from a docker config file (NULL: the default location).
 * Returns 1 if found, 0 if not, negative on a malformed file or a failing helper.
 * helper_timeout_ms: how long a credential helper may take (0 = 30 s). */
struct registry_creds {
    char *username, *password, *identitytoken;
};
int registry_creds_lookup(struct registry_creds *out, const char *config_path, const char *registry,
                          unsigned helper_timeout_ms, struct bl_error *err);
/* Asks docker-credential-<helper> (found in PATH) for server's credentials: 1 found, 0 the
 * helper has none, negative when the helper is missing, fails, answers nonsense or takes
 * longer than timeout_ms (0 = 30 s; it is then killed). */
int credhelper_get(const char *helper, const char *server, unsigned timeout_ms,
                   struct registry_creds *out, struct bl_error *err);
void registry_creds_free(struct registry_creds *c);

#endif
