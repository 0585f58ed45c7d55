// SPDX-License-Identifier: Apache-2.0
/* boxpath.h */
#include "common/boxpath.h"

#include <stdio.h>

static const char *const names[] = {
    [BOX_DISK] = "disk.qcow2",           [BOX_VMM_JSON] = "vmm.json",
    [BOX_VMM_LOG] = "vmm.log",           [BOX_CONSOLE_LOG] = "console.log",
    [BOX_EXIT_JSON] = "exit.json",       [BOX_SOCKET] = "box.sock",
    [BOX_READY] = "ready",               [BOX_CONSOLE_KVM] = "console-kvm.log",
    [BOX_EXIT_KVM] = "exit-kvm.json",
    [BOX_MEMORY] = "memory",             [BOX_MEMORY_STATE] = "memory.state",
    [BOX_MEMORY_BASE] = "memory.base",   [BOX_IDENTITY] = "identity.json",
};

const char *box_file_name(enum box_file f)
{
    return (unsigned)f < sizeof names / sizeof names[0] && names[f] ? names[f] : "unknown";
}

int box_file_path(char *out, size_t len, const char *box_dir, enum box_file f, int rotation)
{
    int n = rotation > 0 ? snprintf(out, len, "%s/%s.%d", box_dir, box_file_name(f), rotation)
                         : snprintf(out, len, "%s/%s", box_dir, box_file_name(f));
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int box_dir_path(char *out, size_t len, const char *home, const char *id)
{
    int n = snprintf(out, len, "%s/boxes/%s", home, id);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
