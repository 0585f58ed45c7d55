// SPDX-License-Identifier: Apache-2.0
/* Reference grammar from the distribution project's reference package (docs only):
 *   path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [._] | __ | -+
 *   tag := [\w][\w.-]{0,127}, digest := algorithm ":" hex; repository name <= 255 chars. */
#include "image/ref.h"

#include "common/cleanup.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX 4096
#define NAME_MAX_LEN 255

int image_digest_valid(const char *d)
{
    if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 7 + 64)
        return 0;
    for (const char *p = d + 7; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static int alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* One path component: alnum runs joined by ".", "_", "__" or one or more "-". */
static int component_valid(const char *s, size_t n)
{
    if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
        return 0;
    for (size_t i = 0; i < n;) {
        if (alnum_lower(s[i])) {
            i++;
            continue;
        }
        size_t j = i;
        if (s[i] == '.') {
            j = i + 1;
        } else if (s[i] == '_') {
            j = i + 1;
            if (j < n && s[j] == '_')
                j++;
        } else if (s[i] == '-') {
            while (j < n && s[j] == '-')
                j++;
        } else {
            return 0;
        }
        if (j >= n || !alnum_lower(s[j]))
            return 0;
        i = j;
    }
    return 1;
}

static int has_upper(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z')
            return 1;
    return 0;
}

int image_host_valid(const char *s, size_t n)
{
    /* host[:port]; host is DNS labels or an IPv6 literal in brackets. */
    if (n == 0)
        return 0;
    size_t hostlen = n;
    const char *colon = NULL;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return 0;
        for (const char *p = s + 1; p < end; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
                return 0;
        hostlen = (size_t)(end - s) + 1;
        if (hostlen < n) {
            if (s[hostlen] != ':')
                return 0;
            colon = s + hostlen;
        }
    } else {
        colon = memchr(s, ':', n);
        if (colon)
            hostlen = (size_t)(colon - s);
        if (hostlen == 0)
            return 0;
        for (size_t i = 0; i < hostlen; i++) {
            char c = s[i];
            if (!isalnum((unsigned char)c) && c != '-' && c != '.')
                return 0;
        }
        if (s[0] == '-' || s[0] == '.' || s[hostlen - 1] == '-' || s[hostlen - 1] == '.')
            return 0;
    }
    if (colon) {
        const char *p = colon + 1, *end = s + n;
        if (p == end || end - p > 5)
            return 0;
        for (; p < end; p++)
            if (!isdigit((unsigned char)*p))
                return 0;
        if (atoi(colon + 1) > 65535)
            return 0;
    }
    return 1;
}

static int tag_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > 128)
        return 0;
    if (!(isalnum((unsigned char)t[0]) || t[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
            return 0;
    return 1;
}

void image_ref_free(struct image_ref *r)
{
    if (!r)
        return;
    free(r->registry);
    free(r->repository);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof *r);
}

int image_ref_parse(struct image_ref *out, const char *s, struct bl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!s || !*s)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference: empty");
    size_t len = strlen(s);
    if (len > REF_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference: too long");
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "invalid image reference \"%.200s\": contains whitespace or a "
                          "control/non-ASCII character", s);

    cleanup_free char *buf = strdup(s);
    if (!buf)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");

    char *digest = NULL, *tag = NULL;
    char *at = strchr(buf, '@');
    if (at) {
        *at = 0;
        digest = at + 1;
        if (strchr(digest, '@'))
            return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": more than one '@'", s);
        if (!image_digest_valid(digest))
            return bl_err(err, BOXLITE_ERR_INVALID,
                          "invalid image reference \"%.200s\": digest must be sha256:<64 "
                          "lowercase hex digits>", s);
    }
    /* A tag is after the last ':' that follows the last '/'. */
    char *slash = strrchr(buf, '/');
    char *colon = strrchr(slash ? slash : buf, ':');
    if (colon) {
        *colon = 0;
        tag = colon + 1;
        if (!tag_valid(tag))
            return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": bad tag \"%.130s\"", s, tag);
    }

    char *name = buf;
    const char *registry = "docker.io";
    char *first_slash = strchr(name, '/');
    if (first_slash) {
        size_t n = (size_t)(first_slash - name);
        int is_host = memchr(name, '.', n) || memchr(name, ':', n) ||
                      (n == 9 && !memcmp(name, "localhost", 9)) || has_upper(name, n);
        if (is_host) {
            if (!image_host_valid(name, n))
                return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": bad registry host", s);
            *first_slash = 0;
            registry = name;
            name = first_slash + 1;
        }
    }
    if (!*name)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": no repository name", s);
    if (strlen(name) > NAME_MAX_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": repository name longer than %d", s, NAME_MAX_LEN);
    for (char *p = name;;) {
        char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (has_upper(p, n))
            return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": repository name must be lowercase", s);
        if (!component_valid(p, n))
            return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": bad repository name component \"%.*s\"", s, (int)(n > 100 ? 100 : n), p);
        if (!e)
            break;
        p = e + 1;
    }
    if (!strcmp(registry, "index.docker.io") || !strcmp(registry, "registry-1.docker.io"))
        registry = "docker.io";

    int official = !strcmp(registry, "docker.io") && !strchr(name, '/');
    /* The limit is on the normalised name, registry included, as Docker counts it. */
    if (strlen(registry) + 1 + (official ? 8 : 0) + strlen(name) > NAME_MAX_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "invalid image reference \"%.200s\": repository name longer than %d", s, NAME_MAX_LEN);
    out->registry = strdup(registry);
    if (official) {
        out->repository = malloc(strlen(name) + 9);
        if (out->repository)
            sprintf(out->repository, "library/%s", name);
    } else {
        out->repository = strdup(name);
    }
    out->tag = tag ? strdup(tag) : digest ? NULL : strdup("latest");
    out->digest = digest ? strdup(digest) : NULL;
    if (!out->registry || !out->repository || (!out->tag && !digest) || (digest && !out->digest)) {
        image_ref_free(out);
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    }
    return 0;
}

char *image_ref_string(const struct image_ref *r)
{
    char *s = NULL;
    int n = asprintf(&s, "%s/%s%s%s%s%s", r->registry, r->repository, r->tag ? ":" : "",
                     r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "");
    return n < 0 ? NULL : s;
}

const char *image_ref_api_host(const struct image_ref *r)
{
    return strcmp(r->registry, "docker.io") == 0 ? "registry-1.docker.io" : r->registry;
}

const char *image_ref_reference(const struct image_ref *r)
{
    return r->digest ? r->digest : r->tag;
}

int image_ref_has_registry(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return 0;
    size_t n = (size_t)(slash - s);
    return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && !memcmp(s, "localhost", 9)) || has_upper(s, n);
}
