// SPDX-License-Identifier: Apache-2.0
/* KVM's binary statistics (kvm_stats.h): a stats file is a header, an id string, one
 * descriptor per statistic (flags, exponent, size, offset, bucket size, name) and a block
 * of u64 values (Linux's Documentation/virt/kvm/api.rst, "KVM_GET_STATS_FD"). The layout is
 * read once; a mark reads only the values (one pread per file). */
#include "vmm/kvm/kvm_stats.h"

#include "common/cleanup.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The descriptor's kinds (api.rst, "struct kvm_stats_desc"), here so that older headers
 * build too. */
#define STATS_TYPE_MASK 0xf
#define STATS_TYPE_CUMULATIVE 0
#define STATS_TYPE_PEAK 2
#define STATS_HEADER_LEN 24 /* flags, name_size, num_desc, id, desc and data offsets */
#define STATS_DESC_LEN 16   /* flags, exponent, size, offset, bucket_size; the name follows */
#define STATS_NAME_SIZE_MAX 4096
#define STATS_DESC_MAX 65536

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v); /* the kernel writes its own byte order */
    return v;
}

static uint16_t get16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The header's name size and descriptor count are within what is read at all. */
static bool counts_ok(uint32_t name_size, uint32_t num_desc)
{
    return name_size && name_size <= STATS_NAME_SIZE_MAX && num_desc <= STATS_DESC_MAX;
}

size_t kvm_stats_head_len(const uint8_t *hdr, size_t len)
{
    if (len < STATS_HEADER_LEN)
        return 0;
    uint32_t name_size = get32(hdr + 4), num_desc = get32(hdr + 8), desc_offset = get32(hdr + 16);
    if (!counts_ok(name_size, num_desc))
        return 0;
    uint64_t end = desc_offset + (uint64_t)num_desc * (STATS_DESC_LEN + name_size);
    if (end > KVM_STATS_HEAD_MAX)
        return 0;
    return end < STATS_HEADER_LEN ? STATS_HEADER_LEN : (size_t)end;
}

int kvm_stats_parse(const uint8_t *buf, size_t len, struct kvm_stats_layout *out,
                    struct bl_error *err)
{
    out->n = 0;
    out->data_len = 0;
    if (len < STATS_HEADER_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: %zu bytes, shorter than the header",
                      len);
    uint32_t name_size = get32(buf + 4), num_desc = get32(buf + 8);
    uint32_t desc_offset = get32(buf + 16), data_offset = get32(buf + 20);
    if (!counts_ok(name_size, num_desc))
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: %u descriptors with %u-byte names",
                      num_desc, name_size);
    uint64_t stride = STATS_DESC_LEN + (uint64_t)name_size;
    if (desc_offset < STATS_HEADER_LEN || desc_offset + stride * num_desc > len)
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: descriptors at %u (%u of %llu "
                      "bytes) outside the %zu bytes read", desc_offset, num_desc,
                      (unsigned long long)stride, len);
    if (data_offset < STATS_HEADER_LEN)
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: data at %u, inside the header",
                      data_offset);
    for (uint32_t i = 0; i < num_desc; i++) {
        const uint8_t *d = buf + desc_offset + stride * i;
        const char *name = (const char *)d + STATS_DESC_LEN;
        if (!memchr(name, 0, name_size))
            return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: descriptor %u's name is not "
                          "terminated", i);
        uint32_t type = get32(d) & STATS_TYPE_MASK, offset = get32(d + 8);
        uint16_t size = get16(d + 6);
        size_t nlen = strlen(name);
        /* histograms (size > 1) and names we could not print whole are left out */
        if (size != 1 || type > STATS_TYPE_PEAK || !nlen || nlen >= KVM_STATS_NAME_MAX)
            continue;
        if (offset > KVM_STATS_DATA_MAX - sizeof(uint64_t))
            return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: %s's value at %u, beyond %u "
                          "bytes", name, offset, KVM_STATS_DATA_MAX);
        if (out->n == KVM_STATS_MAX)
            continue;
        struct kvm_stat *s = &out->s[out->n++];
        memcpy(s->name, name, nlen + 1);
        s->offset = offset;
        s->type = type;
        if (offset + sizeof(uint64_t) > out->data_len)
            out->data_len = offset + (uint32_t)sizeof(uint64_t);
    }
    if (!out->n)
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: no single-value statistic");
    if ((uint64_t)data_offset + out->data_len > UINT32_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "KVM stats: data at %u too far", data_offset);
    out->data_offset = data_offset;
    return 0;
}

struct stats_file {
    int fd;
    struct kvm_stats_layout lay;
    uint64_t *mark, *now; /* lay.n values each */
    uint8_t *data;        /* lay.data_len bytes */
};

struct kvm_counters {
    unsigned nfiles; /* the VM's, then one per vCPU */
    struct stats_file f[];
};

/* The layout of the stats file fd, read once. */
static int file_open(struct stats_file *sf, int fd)
{
    sf->fd = fd;
    uint8_t hdr[STATS_HEADER_LEN];
    if (pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr)
        return -1;
    size_t need = kvm_stats_head_len(hdr, sizeof hdr);
    uint8_t *head cleanup_free = need ? malloc(need) : NULL;
    struct bl_error err = { 0 };
    if (!head || pread(fd, head, need, 0) != (ssize_t)need ||
        kvm_stats_parse(head, need, &sf->lay, &err) < 0)
        return -1;
    sf->mark = calloc(sf->lay.n, sizeof *sf->mark);
    sf->now = calloc(sf->lay.n, sizeof *sf->now);
    sf->data = malloc(sf->lay.data_len);
    return sf->mark && sf->now && sf->data ? 0 : -1;
}

static int file_read(struct stats_file *sf)
{
    const struct kvm_stats_layout *l = &sf->lay;
    if (pread(sf->fd, sf->data, l->data_len, l->data_offset) != (ssize_t)l->data_len)
        return -1;
    for (unsigned i = 0; i < l->n; i++)
        memcpy(&sf->now[i], sf->data + l->s[i].offset, sizeof sf->now[i]);
    return 0;
}

void kvm_counters_free(struct kvm_counters *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nfiles; i++) {
        if (c->f[i].fd >= 0)
            close(c->f[i].fd);
        free(c->f[i].mark);
        free(c->f[i].now);
        free(c->f[i].data);
    }
    free(c);
}

struct kvm_counters *kvm_counters_from_fds(int vm_stats_fd, const int *vcpu_stats_fds,
                                           unsigned ncpus)
{
    struct kvm_counters *c = calloc(1, sizeof *c + (ncpus + 1) * sizeof c->f[0]);
    if (!c) {
        close(vm_stats_fd);
        for (unsigned i = 0; i < ncpus; i++)
            close(vcpu_stats_fds[i]);
        return NULL;
    }
    c->nfiles = ncpus + 1;
    for (unsigned i = 0; i < c->nfiles; i++)
        c->f[i].fd = i ? vcpu_stats_fds[i - 1] : vm_stats_fd;
    for (unsigned i = 0; i < c->nfiles; i++)
        if (c->f[i].fd < 0 || file_open(&c->f[i], c->f[i].fd) < 0 || file_read(&c->f[i]) < 0) {
            kvm_counters_free(c);
            return NULL;
        }
    for (unsigned i = 0; i < c->nfiles; i++)
        memcpy(c->f[i].mark, c->f[i].now, c->f[i].lay.n * sizeof *c->f[i].mark);
    return c;
}

struct kvm_counters *kvm_counters_open(int vm_fd, const int *vcpu_fds, unsigned ncpus)
{
#ifdef KVM_GET_STATS_FD
    int *fds = calloc(ncpus ? ncpus : 1, sizeof *fds);
    if (!fds)
        return NULL;
    int vm = ioctl(vm_fd, KVM_GET_STATS_FD, 0);
    for (unsigned i = 0; i < ncpus; i++)
        fds[i] = vm < 0 ? -1 : ioctl(vcpu_fds[i], KVM_GET_STATS_FD, 0);
    struct kvm_counters *c = kvm_counters_from_fds(vm, fds, ncpus);
    free(fds);
    return c;
#else
    (void)vm_fd, (void)vcpu_fds, (void)ncpus;
    return NULL;
#endif
}

/* Statistic `name`'s change since the mark (cumulative) or value now (the others), summed
 * over files [from, to). */
static uint64_t value_of(const struct kvm_counters *c, unsigned from, unsigned to,
                         const char *name, uint32_t type)
{
    uint64_t v = 0;
    for (unsigned i = from; i < to; i++) {
        const struct stats_file *sf = &c->f[i];
        for (unsigned k = 0; k < sf->lay.n; k++)
            if (!strcmp(sf->lay.s[k].name, name)) {
                v += type == STATS_TYPE_CUMULATIVE ? sf->now[k] - sf->mark[k] : sf->now[k];
                break;
            }
    }
    return v;
}

/* " name N, name N" for every statistic of file `first` that is not 0, the values summed
 * over [first, to). */
static void append_file(const struct kvm_counters *c, unsigned first, unsigned to, char *out,
                        size_t len, size_t *used)
{
    const struct kvm_stats_layout *l = &c->f[first].lay;
    bool any = false;
    for (unsigned k = 0; k < l->n && *used < len; k++) {
        uint64_t v = value_of(c, first, to, l->s[k].name, l->s[k].type);
        if (!v || !strcmp(l->s[k].name, "exits"))
            continue;
        int w = snprintf(out + *used, len - *used, "%s %s %llu", any ? "," : "",
                         l->s[k].name, (unsigned long long)v);
        if (w > 0)
            *used += (size_t)w;
        any = true;
    }
}

void kvm_counters_mark(struct kvm_counters *c, FILE *f, const char *phase, double phase_ms)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->nfiles; i++)
        if (file_read(&c->f[i]) < 0)
            return;
    char line[8192];
    size_t used = 0;
    uint64_t exits = c->nfiles > 1 ? value_of(c, 1, c->nfiles, "exits", STATS_TYPE_CUMULATIVE) : 0;
    int w = snprintf(line, sizeof line, "boxlite-vmm: KVM counters, %s, %.1f ms: %llu exits "
                     "(%.1f us each); vCPUs", phase, phase_ms, (unsigned long long)exits,
                     exits ? phase_ms * 1000.0 / (double)exits : 0.0);
    used = w > 0 ? (size_t)w : 0;
    if (c->nfiles > 1)
        append_file(c, 1, c->nfiles, line, sizeof line, &used);
    if (used < sizeof line) {
        w = snprintf(line + used, sizeof line - used, "; VM");
        used += w > 0 ? (size_t)w : 0;
    }
    append_file(c, 0, 1, line, sizeof line, &used);
    if (used >= sizeof line)
        used = sizeof line - 1;
    fprintf(f, "%.*s\n", (int)used, line);
    fflush(f);
    for (unsigned i = 0; i < c->nfiles; i++)
        memcpy(c->f[i].mark, c->f[i].now, c->f[i].lay.n * sizeof *c->f[i].mark);
}
