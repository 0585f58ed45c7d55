// SPDX-License-Identifier: Apache-2.0
/* The one thing a micro-VM needs from the PC keyboard controller: its reset line. A guest
 * writing 0xfe (pulse reset) to the command port 0x64 asks for a reboot, which BoxLite
 * treats as power-off. Status reads say "no data, input buffer empty". */
#ifndef VMM_HW_I8042_H
#define VMM_HW_I8042_H

#include "vmm/core/device.h"

#define I8042_COMMAND_PORT 0x64

struct i8042 {
    void (*reset)(void *opaque); /* called from the vCPU thread that wrote the command */
    void *opaque;
};

/* Bus ops for the 1-byte command port; opaque = struct i8042 *. */
extern const struct bus_ops i8042_bus_ops;

#endif
