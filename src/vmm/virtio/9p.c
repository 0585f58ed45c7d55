/* virtio-9p transport: gathers each request chain into a flat buffer, has the 9P server
 * (fs/p9.c) answer it, and scatters the reply into the chain's writable buffers. */
#include "vmm/virtio/9p.h"

#include "vmm/fs/p9.h"

#include <stdlib.h>
#include <string.h>

struct v9p {
    struct virtio_dev dev;
    struct p9_server *srv;
    uint8_t config[2 + VIRTIO_9P_TAG_MAX];
    size_t config_len;
    uint8_t *req, *resp; /* p9_server_max_msize() bytes each */
    size_t bufsize;
    struct virtq_elem el;
};

static uint64_t v9p_features(struct virtio_dev *dev)
{
    return 1ull << VIRTIO_9P_MOUNT_TAG;
}

static void v9p_config_read(struct virtio_dev *dev, uint64_t off, uint8_t *data, uint32_t len)
{
    struct v9p *v = dev->priv;
    memset(data, 0, len);
    if (off < v->config_len && len <= v->config_len - off)
        memcpy(data, v->config + off, len);
    else if (off < v->config_len)
        memcpy(data, v->config + off, v->config_len - off); /* a read across the end */
}

static void v9p_notify(struct virtio_dev *dev, uint16_t qidx)
{
    struct v9p *v = dev->priv;
    struct virtq *q = &dev->queues[0];
    uint16_t old = q->used_idx;
    while (virtq_pop(q, &v->el) == 1) {
        struct virtq_elem *e = &v->el;
        /* A request larger than our buffer is cut short; its size field then disagrees
         * with the length and the server answers Rlerror with the request's tag. */
        size_t n = iov_to_buf(e->out, e->out_num, 0, v->req,
                              e->out_len < v->bufsize ? e->out_len : v->bufsize);
        size_t cap = e->in_len < v->bufsize ? e->in_len : v->bufsize;
        size_t rlen = p9_handle(v->srv, v->req, n, v->resp, cap);
        uint32_t written = (uint32_t)iov_from_buf(e->in, e->in_num, 0, v->resp, rlen);
        if (virtq_push(q, e, written) < 0)
            break;
    }
    virtio_dev_interrupt(dev, 0, old);
}

static void v9p_free(struct virtio_dev *dev)
{
    struct v9p *v = dev->priv;
    p9_server_free(v->srv);
    free(v->req);
    free(v->resp);
    free(v);
}

static const struct virtio_dev_ops v9p_ops = {
    .name = "9p",
    .device_id = 9,
    .num_queues = 1,
    .queue_max_size = VIRTIO_9P_QUEUE_SIZE,
    .features = v9p_features,
    .config_read = v9p_config_read,
    .notify = v9p_notify,
    .free = v9p_free,
};

int virtio_9p_new(struct virtio_dev **out, const struct guest_mem *mem, struct irq_line irq,
                  const char *tag, const char *root, bool readonly, struct bl_error *err)
{
    size_t tlen = tag ? strlen(tag) : 0;
    if (tlen == 0 || tlen > VIRTIO_9P_TAG_MAX)
        return bl_err(err, BOXLITE_ERR_INVALID, "virtio-9p: mount tag must be 1..%d bytes",
                      VIRTIO_9P_TAG_MAX);
    struct v9p *v = calloc(1, sizeof *v);
    if (!v)
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-9p: out of memory");
    int rc = p9_server_new(&v->srv, root, readonly, 0, err);
    if (rc < 0) {
        free(v);
        return bl_err_prefix(err, "virtio-9p %s", tag);
    }
    v->bufsize = p9_server_max_msize(v->srv);
    v->req = malloc(v->bufsize);
    v->resp = malloc(v->bufsize);
    v->config[0] = (uint8_t)tlen;
    v->config[1] = (uint8_t)(tlen >> 8);
    memcpy(v->config + 2, tag, tlen);
    v->config_len = 2 + tlen;
    if (!v->req || !v->resp || virtio_dev_init(&v->dev, &v9p_ops, v, mem, irq) < 0) {
        v9p_free(&v->dev);
        return bl_err(err, BOXLITE_ERR_NOMEM, "virtio-9p: out of memory");
    }
    *out = &v->dev;
    return 0;
}
