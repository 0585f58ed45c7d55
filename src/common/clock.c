// SPDX-License-Identifier: Apache-2.0
/* clock.h */
#include "common/clock.h"

#include <time.h>

static uint64_t ns_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ns(void) { return ns_of(CLOCK_MONOTONIC); }
uint64_t mono_us(void) { return ns_of(CLOCK_MONOTONIC) / 1000u; }
uint64_t mono_ms(void) { return ns_of(CLOCK_MONOTONIC) / 1000000u; }
double mono_ms_f(void) { return (double)ns_of(CLOCK_MONOTONIC) / 1e6; }
uint64_t wall_ns(void) { return ns_of(CLOCK_REALTIME); }
uint64_t wall_ms(void) { return ns_of(CLOCK_REALTIME) / 1000000u; }
uint64_t boot_ns(void) { return ns_of(CLOCK_BOOTTIME); }
