// SPDX-License-Identifier: Apache-2.0
/* The clocks every component reads, written once. CLOCK_MONOTONIC for durations and
 * deadlines (never jumps), CLOCK_REALTIME for what is shown or stored as a date,
 * CLOCK_BOOTTIME for the guest's time since boot. */
#ifndef BL_CLOCK_H
#define BL_CLOCK_H

#include <stdint.h>

uint64_t mono_ns(void);
uint64_t mono_us(void);
uint64_t mono_ms(void);
double mono_ms_f(void); /* with its fraction, for figures */
uint64_t wall_ns(void);
uint64_t wall_ms(void);
uint64_t boot_ns(void);

#endif
