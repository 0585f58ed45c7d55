// SPDX-License-Identifier: Apache-2.0
/* i8042 keyboard controller, command port only: 0xfe pulses the CPU reset line (the 8042's
 * output port bit 0), the classic way a PC reboots. */
#include "vmm/hw/i8042.h"

#include <string.h>

#define I8042_CMD_PULSE_RESET 0xfe

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, uint32_t len)
{
    memset(data, 0, len); /* status: output buffer empty, input buffer empty */
}

static void i8042_write(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len)
{
    struct i8042 *k = opaque;
    if (offset == 0 && data[0] == I8042_CMD_PULSE_RESET && k->reset)
        k->reset(k->opaque);
}

const struct bus_ops i8042_bus_ops = { .read = i8042_read, .write = i8042_write };
