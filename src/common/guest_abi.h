// SPDX-License-Identifier: Apache-2.0
/* What the host (boxlite-vmm, both engines) and the guest (the static agent, PID 1) must
 * agree on, in one header both include: the control page, the agent's port, the kernel
 * command-line words the host writes. The protocol spoken on the port is src/proto/
 * (docs/protocol.md); the machine's other addresses are the host's alone (arch_layout). */
#ifndef BL_GUEST_ABI_H
#define BL_GUEST_ABI_H

/* The virtio-console port the agent speaks docs/protocol.md on (virtio spec 1.2 §5.3.6.2:
 * the port name a VIRTIO_CONSOLE_PORT_NAME message gives; QEMU's virtserialport name=). */
#define GUEST_AGENT_PORT "boxlite.agent"

/* ---- the BoxLite control page (KVM engine only; docs/architecture.md, "Guest addresses")
 * 4 KiB of MMIO at GUEST_CTL_PAGE on the x86_64 machine (arch_layout.ctl_gpa is this
 * value): the agent says it is ready and reports its exit status before power-off. The
 * agent uses it only when the command line has GUEST_KEY_CTL=1. */
#define GUEST_CTL_PAGE 0xd0000000ull
#define GUEST_CTL_SIZE 0x1000
#define GUEST_CTL_REG_READY 0x0 /* write u32 GUEST_CTL_READY_MAGIC: the agent is ready */
#define GUEST_CTL_REG_EXIT 0x4  /* write u32: the guest's exit status; power-off follows */
#define GUEST_CTL_REG_ID 0x8    /* read u32: GUEST_CTL_ID, the page is there */
#define GUEST_CTL_READY_MAGIC 0x7ead
#define GUEST_CTL_ID 0x424c5831 /* "1XLB" read as little-endian bytes "BLX1" */

/* ---- kernel command-line words: "boxlite.KEY=VALUE" (docs/protocol.md, "Guest
 * configuration"). The host writes GUEST_KEY_CTL; the others come from the box's options
 * (vmm.json's cmdline) and tests. */
#define GUEST_CMDLINE_PREFIX "boxlite."
#define GUEST_KEY_CTL "ctl"           /* 1: the control page exists */
#define GUEST_KEY_ROOT "root"         /* the root filesystem's device */
#define GUEST_KEY_FSTYPE "fstype"     /* its filesystem */
#define GUEST_KEY_HOSTNAME "hostname"
#define GUEST_KEY_NET "net"           /* 0: no network set-up */
#define GUEST_KEY_IP "ip"             /* ADDR/PREFIX */
#define GUEST_KEY_GW "gw"
#define GUEST_KEY_DNS "dns"
#define GUEST_KEY_MTU "mtu"           /* eth0's MTU (a NIC in a network namespace) */
#define GUEST_KEY_MAC "mac"           /* eth0's MAC, aa:bb:cc:dd:ee:ff (the same) */
#define GUEST_KEY_VOL "vol"           /* TAG:/guest/path[:ro|:rw] (9p) */
#define GUEST_KEY_DISK "disk"         /* DEV:/guest/path[:ro|:rw][:FSTYPE] */
#define GUEST_KEY_FAULT_EXIT_MS "fault_exit_ms" /* tests: the agent exits after N ms */

/* Free page reporting's granularity (issue 21; Linux mm/page_reporting.c): the engines put
 * GUEST_REPORTING_ORDER_PARAM=GUEST_REPORTING_ORDER on the kernel command line, so that a
 * freed chunk of 2^order pages goes back to the host, not only whole pageblocks (order 9 or
 * 10, 2-4 MiB); the agent makes it hold on kernels that overwrite it (guest/agent/reporting.c). */
#define GUEST_REPORTING_ORDER_PARAM "page_reporting.page_reporting_order"
#define GUEST_REPORTING_ORDER 5 /* 128 KiB with 4 KiB pages */
#define GUEST_REPORTING_ORDER_ARG GUEST_REPORTING_ORDER_PARAM "=5" /* = GUEST_REPORTING_ORDER */
#define GUEST_REPORTING_ORDER_SYSFS "/sys/module/page_reporting/parameters/page_reporting_order"

/* No BSD ("legacy") pseudo-terminals (issue 21e; Linux drivers/tty/pty.c legacy_count):
 * the kernel config keeps CONFIG_LEGACY_PTYS and its 256 pairs would each be a device in
 * sysfs and devtmpfs: 1.3 MiB of every idle guest's slab. Nothing uses them:
 * containers get Unix 98 ptys (/dev/pts), and their /dev never had the BSD nodes. A word on
 * the command line rather than a kernel rebuild, so a later BOXLITE_KERNEL_CMDLINE word
 * (pty.legacy_count=N) still brings them back. */
#define GUEST_NO_LEGACY_PTYS_ARG "pty.legacy_count=0"
/* What both engines put on every guest's command line for density. */
#define GUEST_DENSITY_ARGS GUEST_REPORTING_ORDER_ARG " " GUEST_NO_LEGACY_PTYS_ARG

#endif
