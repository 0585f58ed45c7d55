// component: vmm
/* The QEMU engine's readers of QEMU output (which carries guest-influenced data): the QMP
 * line reader and message classifier, "info usernet" parsing, and the pcap counter fed
 * from QEMU's packet dumps. The first byte picks the reader; for the streaming ones the
 * rest is fed in chunks whose sizes come from the input. */
#include "vmm/qemu/qemu.h"
#include "vmm/qemu/qmp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint8_t which = data[0] % 3, chunk = data[1];
    data += 2;
    size -= 2;
    struct bl_error err = {0};
    if (which == 0) {
        struct qmp_reader r = {0};
        size_t step = chunk ? chunk : 1;
        for (size_t off = 0; off < size; off += step) {
            size_t n = size - off < step ? size - off : step;
            if (qmp_reader_feed(&r, data + off, n, &err) < 0)
                break;
            struct qmp_msg m;
            int rc;
            while ((rc = qmp_reader_next(&r, &m, &err)) != 0) {
                if (rc == 1) {
                    if (m.kind == QMP_ERROR && (!m.error_desc || !m.error_class))
                        abort();
                    if (m.kind == QMP_EVENT && !m.event)
                        abort();
                    qmp_msg_free(&m);
                }
            }
        }
        qmp_reader_free(&r);
    } else if (which == 1) {
        char *text = malloc(size + 1);
        if (!text)
            return 0;
        memcpy(text, data, size);
        text[size] = 0;
        struct usernet_fwd f[8];
        unsigned n = 0;
        if (qemu_usernet_parse(text, f, 8, &n, &err) == 0) {
            if (n > 8)
                abort();
            struct vmm_port_cfg ports[2] = {{.host_port = 0, .guest_port = 80},
                                            {.udp = true, .host_port = 53, .guest_port = 53}};
            struct vmm_config cfg = {.network = true, .ports = ports, .nports = 2};
            uint16_t chosen[2];
            qemu_ports_resolve(&cfg, f, n, chosen, &err);
        }
        free(text);
    } else {
        struct netcount c = {0};
        size_t step = chunk ? chunk : 1;
        for (size_t off = 0; off < size; off += step)
            netcount_feed(&c, data + off, size - off < step ? size - off : step);
        if (c.have > sizeof c.hold || c.tcp_syns > c.packets)
            abort();
    }
    return 0;
}
