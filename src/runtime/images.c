// SPDX-License-Identifier: Apache-2.0
/* The image section of the public API: pull with progress, list, remove (refused while a
 * box was created from the image) and garbage collection that keeps the boxes' disk bases. */
#include "runtime/images.h"
#include "runtime/snapshot.h"

#include "common/boxpath.h"
#include "common/cleanup.h"
#include "disk/qcow2.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "runtime/api_error.h"
#include "runtime/platform.h"
#include "runtime/runtime.h"

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX (8u << 20)
#define MANIFEST_MAX (4u << 20)

/* ---- what every pull gets ------------------------------------------------------------- */

static void strv_free(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

/* The runtime's "insecure_registries" (else $BOXLITE_INSECURE_REGISTRIES) as a
 * NULL-terminated list; NULL when unset. */
static int insecure_from_env(const boxlite_runtime *rt, char ***out, struct bl_error *err)
{
    *out = NULL;
    const char *v = rt_settings_get(&rt->settings, RT_SET_INSECURE);
    if (!v || !*v)
        return 0;
    size_t n = 1;
    for (const char *p = v; *p; p++)
        n += *p == ',';
    char **list = calloc(n + 1, sizeof *list);
    if (!list)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    size_t k = 0;
    for (const char *p = v; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len && !(list[k++] = strndup(p, len))) {
            strv_free(list);
            return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
        }
        p = e ? e + 1 : p + len;
        if (!e)
            break;
    }
    *out = list;
    return 0;
}

static void collect_notice(void *ud, const char *msg)
{
    struct rt_pull *p = ud;
    size_t used = strlen(p->notices);
    snprintf(p->notices + used, sizeof p->notices - used, "%s%s", used ? "\n" : "", msg);
}

int rt_pull_open(boxlite_runtime *rt, struct rt_pull *p, struct bl_error *err)
{
    memset(p, 0, sizeof *p);
    int r = insecure_from_env(rt, &p->insecure, err);
    if (r < 0)
        return r;
    /* "docker_config" is DOCKER_CONFIG's folder; only the option is handled here (the
     * registry client reads the variable itself). */
    if (rt->settings.v[RT_SET_DOCKER_CONFIG]) {
        snprintf(p->docker_config, sizeof p->docker_config, "%s/config.json",
                 rt->settings.v[RT_SET_DOCKER_CONFIG]);
        p->po.registry.docker_config = p->docker_config;
    }
    const char *anon = rt_settings_get(&rt->settings, RT_SET_ANONYMOUS_PULLS);
    p->po.registry.anonymous = anon && !strcmp(anon, "1");
    pthread_mutex_lock(&rt->lock);
    char *json = rt->registries_json ? strdup(rt->registries_json) : NULL;
    int missing = rt->registries_json && !json;
    pthread_mutex_unlock(&rt->lock);
    if (missing)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    else if (json)
        r = regconf_parse(&p->conf, json, strlen(json), err);
    else {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/registries.json", rt->home);
        r = regconf_load(&p->conf, path, err);
    }
    free(json);
    if (r < 0) {
        strv_free(p->insecure);
        return r;
    }
    p->po.registry.insecure = (const char *const *)p->insecure;
    p->po.conf = &p->conf;
    p->po.notice = collect_notice;
    p->po.notice_ud = p;
    return 0;
}

void rt_pull_close(struct rt_pull *p)
{
    api_notice("%s", p->notices);
    strv_free(p->insecure);
    regconf_free(&p->conf);
}

BOXLITE_API int boxlite_runtime_set_registries(boxlite_runtime *rt, const char *json)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    struct bl_error err = {0};
    char *copy = NULL;
    if (json) {
        struct regconf c;
        int r = regconf_parse(&c, json, strlen(json), &err);
        if (r < 0)
            return api_return(r, &err);
        regconf_free(&c);
        if (!(copy = strdup(json)))
            return api_fail(BOXLITE_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_lock(&rt->lock);
    free(rt->registries_json);
    rt->registries_json = copy;
    pthread_mutex_unlock(&rt->lock);
    return api_return(0, NULL);
}

/* ---- pull ----------------------------------------------------------------------------- */

struct pull_progress {
    boxlite_pull_progress_fn fn;
    void *ud;
    size_t n_layers; /* known once the reference is resolved */
};

static void on_resolved(void *ud, size_t n_layers)
{
    ((struct pull_progress *)ud)->n_layers = n_layers;
}

/* Blob i of the pull: 0 is the config, the layers follow in order. Only layers are
 * reported. */
static int on_progress(void *ud, size_t i, const char *digest, uint64_t done, uint64_t total)
{
    struct pull_progress *pp = ud;
    if (i == 0)
        return 0;
    return pp->fn(pp->ud, (int)i - 1, (int)pp->n_layers, digest, done, total) !=
           BOXLITE_PULL_CONTINUE;
}

BOXLITE_API int boxlite_image_pull(boxlite_runtime *rt, const char *ref,
                                   boxlite_pull_progress_fn progress, void *user_data)
{
    return boxlite_image_pull_platform(rt, ref, NULL, progress, user_data);
}

BOXLITE_API int boxlite_image_pull_platform(boxlite_runtime *rt, const char *ref,
                                            const char *platform,
                                            boxlite_pull_progress_fn progress, void *user_data)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(ref && *ref, "reference is NULL or empty");
    api_notice("%s", "");
    struct bl_error err = { 0 };
    struct rt_platform plat;
    int r;
    if (platform && *platform && (r = rt_platform_parse(platform, &plat, NULL, 0, &err)) < 0)
        return api_return(r, &err);
    struct image_store *store;
    if ((r = rt_images(rt, &store, &err)))
        return api_return(r, &err);
    struct rt_pull pl;
    if ((r = rt_pull_open(rt, &pl, &err)) < 0)
        return api_return(r, &err);
    if (platform && *platform) { /* as a box of that platform pulls it (lifecycle.c) */
        pl.po.os = plat.os;
        pl.po.arch = plat.arch;
        pl.po.variant = plat.variant[0] ? plat.variant : NULL;
    }
    struct pull_progress pp = { .fn = progress, .ud = user_data };
    if (progress) {
        pl.po.registry.progress = on_progress;
        pl.po.registry.progress_ud = &pp;
        pl.po.resolved = on_resolved;
        pl.po.resolved_ud = &pp;
    }
    struct image_record rec = { 0 };
    r = image_pull(store, ref, &pl.po, &rec, &err);
    image_record_free(&rec);
    if (r)
        rt_images_after_failed_pull(rt, &err);
    rt_pull_close(&pl);
    return api_return(r, &err);
}

/* ---- list ----------------------------------------------------------------------------- */

/* The image config's "created" (RFC 3339), or NULL. */
static json_t *config_created(struct image_store *s, const char *config)
{
    cleanup_free char *body = NULL;
    size_t len;
    if (!config || blobstore_read(&s->bs, config, CONFIG_MAX, &body, &len, NULL) < 0)
        return json_null();
    json_t *c = json_loadb(body, len, 0, NULL);
    const char *v = json_string_value(json_object_get(c, "created"));
    json_t *out = v ? json_string(v) : json_null();
    json_decref(c);
    return out;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

BOXLITE_API int boxlite_image_list(boxlite_runtime *rt, char **json_out)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(json_out, "json_out is NULL");
    *json_out = NULL;
    struct bl_error err = { 0 };
    struct image_store *store;
    int r = rt_images(rt, &store, &err);
    if (r)
        return api_return(r, &err);
    /* index.json is replaced by rename, so reading it without its lock sees one version. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/index.json", store->bs.root);
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    if (!root && access(p, F_OK) == 0)
        return api_fail(BOXLITE_ERR_IO, "image index %s: %s", p, je.text);
    json_t *out = json_array();
    if (!out) {
        json_decref(root);
        return api_fail(BOXLITE_ERR_NOMEM, "out of memory");
    }
    json_t *images = json_object_get(root, "images");
    /* jansson iterates objects in insertion order; sort for a stable listing. */
    const char *k;
    json_t *v;
    size_t n = json_object_size(images), i = 0;
    const char **keys = calloc(n + 1, sizeof *keys);
    json_object_foreach(images, k, v)
    {
        if (keys)
            keys[i++] = k;
    }
    if (keys)
        qsort(keys, i, sizeof *keys, cmp_str);
    for (size_t j = 0; keys && j < i; j++) {
        v = json_object_get(images, keys[j]);
        uint64_t size = 0;
        size_t nb, layers = 0;
        json_t *b;
        json_array_foreach(json_object_get(v, "blobs"), nb, b)
        {
            const char *d = json_string_value(b);
            struct stat st;
            char bp[PATH_MAX];
            if (!d || !image_digest_valid(d))
                continue;
            blobstore_path(&store->bs, d, bp, sizeof bp);
            if (stat(bp, &st) == 0)
                size += (uint64_t)st.st_size;
        }
        /* blobs: [index,] manifest, config, layers... (image_pull's record) */
        size_t nblobs = json_array_size(json_object_get(v, "blobs"));
        const char *man = json_string_value(json_object_get(v, "manifest"));
        const char *first = json_string_value(json_array_get(json_object_get(v, "blobs"), 0));
        size_t lead = man && first && strcmp(first, man) != 0 ? 3 : 2;
        layers = nblobs > lead ? nblobs - lead : 0;
        const char *id = json_string_value(json_object_get(v, "id"));
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:I, s:I, s:o}", "ref", keys[j], "id", id ? id : "", "size",
                           (json_int_t)size, "layers", (json_int_t)layers, "created",
                           config_created(store, json_string_value(json_object_get(v, "config")))));
    }
    free(keys);
    char *s = keys || n == 0 ? json_dumps(out, JSON_COMPACT) : NULL;
    json_decref(out);
    json_decref(root);
    if (!s)
        return api_fail(BOXLITE_ERR_NOMEM, "out of memory");
    *json_out = s;
    return api_return(0, NULL);
}

/* ---- remove and garbage collection ------------------------------------------------------ */

int rt_qcow2_backing_file(const char *path, char *out, size_t n, struct bl_error *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bl_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bl_errno(err, errno, "stat %s", path);
    struct qcow2_header *h = malloc(sizeof *h);
    if (!h)
        return bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    struct bl_error e = {0};
    int r = qcow2_header_read(fd, (uint64_t)st.st_size, h, &e);
    if (r < 0) { /* whatever is wrong with it, the file is unreadable as an overlay */
        free(h);
        return bl_err(err, BOXLITE_ERR_IO, "%s: %s", path, e.msg);
    }
    r = h->backing_file[0] != 0;
    if (snprintf(out, n, "%s", h->backing_file) >= (int)n)
        r = bl_err(err, BOXLITE_ERR_IO, "%s: backing file name too long", path);
    free(h);
    return r;
}

struct box_scan {
    boxlite_runtime *rt;
    struct image_store *store;
    const char *ref;   /* normalised reference being removed, or NULL */
    char *user;        /* first box found using it */
    char **bases;      /* base names (image id or dir-<hex>) of box disks */
    size_t nbases;
    int failed;
};

/* Whether a box's image (as given at create) names the record `ref`. */
static int box_uses(struct box_scan *sc, const char *image)
{
    if (!image)
        return 0;
    if (!strcmp(image, sc->ref))
        return 1;
    struct image_ref r;
    if (image_ref_parse(&r, image, NULL) == 0) {
        cleanup_free char *norm = image_ref_string(&r);
        image_ref_free(&r);
        if (norm && !strcmp(norm, sc->ref))
            return 1;
    }
    struct image_record rec;
    int uses = 0;
    if (image_index_get(&sc->store->bs, image, &rec, NULL) == 0) {
        uses = !strcmp(rec.ref, sc->ref);
        image_record_free(&rec);
    }
    return uses;
}

static int scan_box(void *ctx, const struct box_record *rec)
{
    struct box_scan *sc = ctx;
    if (sc->ref && !sc->user) {
        json_t *o = json_loads(rec->options ? rec->options : "{}", 0, NULL);
        const char *image = json_string_value(json_object_get(o, "image"));
        if (box_uses(sc, image ? image : rec->image) &&
            !(sc->user = strdup(rec->name && *rec->name ? rec->name : rec->id)))
            sc->failed = 1;
        json_decref(o);
    }
    char dir[PATH_MAX], disk[PATH_MAX + 16], base[1024];
    if (box_dir_path(dir, sizeof dir, sc->rt->home, rec->id) < 0 ||
        box_file_path(disk, sizeof disk, dir, BOX_DISK, 0) < 0 || access(disk, F_OK) != 0 || snap_disk_base(disk, base, sizeof base, NULL) <= 0)
        return 0;
    const char *name = strrchr(base, '/');
    name = name ? name + 1 : base;
    size_t len = strlen(name);
    if (len > 5 && !strcmp(name + len - 5, ".ext4"))
        len -= 5;
    char **nb = realloc(sc->bases, (sc->nbases + 2) * sizeof *nb);
    if (!nb || !(nb[sc->nbases] = strndup(name, len))) {
        if (nb)
            sc->bases = nb;
        sc->failed = 1;
        return 0;
    }
    sc->bases = nb;
    sc->bases[++sc->nbases] = NULL;
    return 0;
}

static void scan_free(struct box_scan *sc)
{
    free(sc->user);
    for (size_t i = 0; i < sc->nbases; i++)
        free(sc->bases[i]);
    free(sc->bases);
}

void rt_images_after_failed_pull(boxlite_runtime *rt, struct bl_error *err)
{
    if (err->errnum != ENOSPC && err->errnum != EDQUOT &&
        !strstr(err->msg, strerror(ENOSPC)) && !strstr(err->msg, strerror(EDQUOT)))
        return;
    /* The layers it did store belong to no image: kept, they would leave the disk full
     * for every command after this one. */
    struct gc_stats st = { 0 };
    struct bl_error ignored = { 0 };
    if (rt_images_gc(rt, &st, &ignored) == 0 && st.bytes_freed) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof err->msg - n,
                 " (the %llu bytes this pull had stored were removed)",
                 (unsigned long long)st.bytes_freed);
    }
}

int rt_images_gc(boxlite_runtime *rt, struct gc_stats *st, struct bl_error *err)
{
    struct image_store *store;
    int r = rt_images(rt, &store, err);
    if (r)
        return r;
    struct box_scan sc = { .rt = rt, .store = store };
    r = state_box_each(rt->db, BOX_STATE_ANY, scan_box, &sc, err);
    if (!r && sc.failed)
        r = bl_err(err, BOXLITE_ERR_NOMEM, "out of memory");
    if (!r)
        r = image_gc(store, (const char *const *)sc.bases, st, err);
    scan_free(&sc);
    return r ? bl_err_prefix(err, "garbage collection") : 0;
}

BOXLITE_API int boxlite_image_remove(boxlite_runtime *rt, const char *ref, int force)
{
    API_CHECK_ARG(rt, "runtime is NULL");
    API_CHECK_ARG(ref && *ref, "reference is NULL or empty");
    struct bl_error err = { 0 };
    struct image_store *store;
    int r = rt_images(rt, &store, &err);
    if (r)
        return api_return(r, &err);
    struct image_record rec = { 0 };
    /* A reference as stored, its normalised form, or an image id (prefix). */
    r = image_index_get(&store->bs, ref, &rec, &err);
    if (r == -BOXLITE_ERR_NOT_FOUND) {
        struct image_ref pr;
        struct bl_error perr = { 0 };
        if (strncmp(ref, "oci:", 4) != 0 && image_ref_parse(&pr, ref, &perr) < 0) {
            bl_err_prefix(&perr, "rmi");
            return api_return(-perr.code, &perr);
        }
        if (strncmp(ref, "oci:", 4) != 0) {
            cleanup_free char *norm = image_ref_string(&pr);
            image_ref_free(&pr);
            if (norm) {
                bl_err_clear(&err);
                r = image_index_get(&store->bs, norm, &rec, &err);
            }
        } else {
            /* Imports are recorded as "oci:<realpath>[:tag]" (the tag after the last ':'
             * that follows the last '/'). */
            char dir[PATH_MAX], real[PATH_MAX], norm[2 * PATH_MAX];
            snprintf(dir, sizeof dir, "%s", ref + 4);
            char *slash = strrchr(dir, '/');
            char *colon = strrchr(slash ? slash : dir, ':');
            if (colon)
                *colon = 0;
            if (realpath(dir, real)) {
                snprintf(norm, sizeof norm, "oci:%s%s%s", real, colon ? ":" : "",
                         colon ? colon + 1 : "");
                bl_err_clear(&err);
                r = image_index_get(&store->bs, norm, &rec, &err);
            }
        }
    }
    if (r) {
        bl_err_prefix(&err, "rmi %s", ref);
        return api_return(r, &err);
    }
    struct box_scan sc = { .rt = rt, .store = store, .ref = rec.ref };
    r = state_box_each(rt->db, BOX_STATE_ANY, scan_box, &sc, &err);
    if (!r && sc.failed)
        r = bl_err(&err, BOXLITE_ERR_NOMEM, "out of memory");
    if (!r && sc.user && !force)
        r = bl_err(&err, BOXLITE_ERR_STATE,
                   "image %s is used by box %s (remove the box first, or force)", rec.ref,
                   sc.user);
    if (!r)
        r = image_index_remove(&store->bs, rec.ref, &err);
    if (!r)
        r = image_gc(store, (const char *const *)sc.bases, NULL, &err);
    if (r)
        bl_err_prefix(&err, "rmi %s", ref);
    scan_free(&sc);
    image_record_free(&rec);
    return api_return(r, &err);
}
