// SPDX-License-Identifier: Apache-2.0
/* `boxlite-vmm --status SOCKET [--wait MS] [--pid PID] [--until-exit | --now]`: a client of the box
 * socket for scripts (tests, benchmarks) that run boxlite-vmm themselves. */
#ifndef VMM_STATUS_TOOL_H
#define VMM_STATUS_TOOL_H

/* argv[0] is "--status". Returns the process's exit status. */
int vmm_status_tool(int argc, char **argv);

#endif
