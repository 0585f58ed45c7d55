// SPDX-License-Identifier: Apache-2.0
/* Registry settings: <home>/registries.json, or the same JSON through the C API
 * (boxlite_runtime_set_registries) and the SDKs.
 *
 *   { "search": ["registry.example.com", "docker.io"],
 *     "registries": {
 *       "docker.io": { "mirrors": ["mirror.example:5000"] },
 *       "registry.example.com": { "ca_file": "/etc/ssl/example-ca.pem", "insecure": false,
 *                                 "username": "u", "password": "p" } } }
 *
 * search: the registries a short name ("alpine", "team/app") is looked for in, in order
 *   (default: docker.io alone); the name it was found under is recorded and reported.
 * mirrors: tried in order before the registry itself, which is the fallback. A tag is
 *   resolved to a digest at the registry itself when it answers, with a HEAD request that
 *   Docker Hub's rate limit does not count (a mirror resolves it only when the registry
 *   cannot be reached, and the pull says so); the manifests and blobs then come from the
 *   mirror, checked against that digest, and a mirror that serves other bytes is refused.
 * ca_file: an extra CA bundle (PEM) for that registry's TLS; insecure: plain HTTP allowed
 *   and certificates not verified (as BOXLITE_INSECURE_REGISTRIES); username/password: used
 *   instead of the docker config's credentials.
 * Unknown keys, bad host names and relative CA paths are errors that name them. */
#ifndef IMAGE_REGCONF_H
#define IMAGE_REGCONF_H

#include "common/error.h"

#include <stddef.h>

struct regconf_entry {
    char *host;
    char **mirrors; /* NULL-terminated */
    size_t n_mirrors;
    char *ca_file;
    int insecure;
    char *username, *password;
};

struct regconf {
    char **search; /* NULL-terminated; NULL = docker.io alone */
    size_t n_search;
    struct regconf_entry *entries;
    size_t n_entries;
};

int regconf_parse(struct regconf *c, const char *json, size_t len, struct bl_error *err);
/* A missing file is an empty configuration. */
int regconf_load(struct regconf *c, const char *path, struct bl_error *err);
/* The entry for a registry name ("docker.io", "host:port"), or NULL. */
const struct regconf_entry *regconf_find(const struct regconf *c, const char *host);
void regconf_free(struct regconf *c);

#endif
