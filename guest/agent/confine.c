// SPDX-License-Identifier: Apache-2.0
/* The process's seccomp filter (runtime-spec config-linux.md "Seccomp"; EXEC SECCOMP,
 * docs/protocol.md): a classic BPF program the host compiled from the container's profile,
 * installed with seccomp(2) SECCOMP_SET_MODE_FILTER. Without no_new_privs the kernel lets
 * only a process with CAP_SYS_ADMIN in its namespace install one, so, as runc does, the
 * filter goes in before the user and capabilities change when no_new_privs is off, and
 * last, after no_new_privs, when it is on (the profile then also governs the steps that
 * follow it, as it does under runc). */
#include "agent.h"

#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* seccomp(2)'s structures and constants (linux/filter.h, linux/seccomp.h, which the musl
 * build does not see) */
#define SECCOMP_SET_MODE_FILTER 1
struct bpf_insn_classic {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
};
struct bpf_prog_classic {
    unsigned short len;
    struct bpf_insn_classic *filter;
};

int process_seccomp(const struct proto_exec_req *r, bool after_nnp, struct bl_error *e)
{
    if (!r->seccomp_len || after_nnp != r->no_new_privs)
        return 0;
    /* the decoder bounded it: 1 to PROTO_SECCOMP_MAX_INSNS whole instructions */
    struct bpf_prog_classic prog = { .len = (unsigned short)(r->seccomp_len / 8),
                                     .filter = (struct bpf_insn_classic *)r->seccomp };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, (unsigned)r->seccomp_flags, &prog) < 0)
        return bl_errno(e, errno, "install the seccomp filter (%u instructions, flags %#x)",
                        prog.len, r->seccomp_flags);
    return 0;
}
