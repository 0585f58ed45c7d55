// SPDX-License-Identifier: Apache-2.0
/* The host-guest agent protocol (docs/protocol.md): frames on one byte stream, channels
 * multiplexed on it, credit-based flow control per channel and stream, and a small
 * tag-length-value encoding for request bodies. libc only: built into the musl agent too. */
#ifndef PROTO_PROTO_H
#define PROTO_PROTO_H

#include "common/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HDR_SIZE 12
#define PROTO_MAX_PAYLOAD 65536u  /* bytes after the header, both directions */
#define PROTO_WINDOW (256u * 1024) /* initial credit per channel and data stream */

/* Frame types. Values are stable; a receiver rejects any other with an ERROR frame. */
enum proto_type {
    PROTO_HELLO = 0x01,    /* ch 0, both ways: version handshake; the agent's says the box is ready */
    PROTO_ERROR = 0x02,    /* on a channel: the request failed (ends the channel); ch 0: conn */
    PROTO_PING = 0x03,     /* ch 0: answered by PONG with the same payload */
    PROTO_PONG = 0x04,
    PROTO_EVENT = 0x05,    /* ch 0, agent: something the host did not ask for happened */
    PROTO_STATUS = 0x06,   /* ch 0, box socket only: client asks, per-box process answers
                            * (src/proto/control.h); never reaches the agent */
    PROTO_EXIT = 0x07,     /* ch 0, box socket only: the per-box process says the box ended */
    PROTO_PAUSE = 0x08,    /* ch 0, box socket only: save the box's memory and end its process;
                            * the per-box process answers PAUSE (saved) or ERROR */
    PROTO_BALLOON = 0x09,  /* ch 0, box socket only: set the balloon target (docs "Balloon");
                            * the per-box process answers BALLOON or ERROR */
    PROTO_EXEC = 0x10,     /* host: open a channel running a process */
    PROTO_COPY_IN = 0x11,  /* host: open a channel extracting a tar stream (stream 0) */
    PROTO_COPY_OUT = 0x12, /* host: open a channel producing a tar stream (stream 1) */
    PROTO_SETUP = 0x13,    /* host: mount rootfs/volumes, network, container */
    PROTO_SHUTDOWN = 0x14, /* host: stop everything and power off */
    PROTO_IDENTITY = 0x15, /* host: the box is a fork: new hostname, MAC, clock, RNG seed */
    PROTO_KILL = 0x16,     /* host: signal the box's main process (docker kill, attach --sig-proxy) */
    PROTO_FSFREEZE = 0x18, /* host: freeze (FIFREEZE) or thaw the container's root fs */
    PROTO_RECLAIM = 0x19,  /* host: drop the guest's caches, compact its free memory (the
                            * balloon's free page reporting then gives it to the host) */
    PROTO_VOLUMES = 0x1A,  /* host: unmount the box's volumes (before a pause) or mount them */
    PROTO_GROUP_LIMITS = 0x1C, /* host: new limits of a process group (EXEC GROUP): pids.max */
    PROTO_HOLD = 0x1E,     /* ch 0, box socket only: hold every other connection's requests
                            * back (a pause's first step) or let them through again; the
                            * per-box process answers HOLD or ERROR (docs "Pause") */
    PROTO_DATA = 0x20,     /* bytes of one stream (header `stream`) */
    PROTO_EOF = 0x21,      /* that stream ended */
    PROTO_CREDIT = 0x22,   /* receiver grants u32 more bytes on `stream` */
    PROTO_SIGNAL = 0x23,   /* host: signal the process (group with tty) */
    PROTO_RESIZE = 0x24,   /* host: terminal rows, cols */
    PROTO_RESULT = 0x25,   /* agent: the request finished (ends the channel) */
    PROTO_CLOSE = 0x26,    /* host: abandon the channel (kills its process); no reply */
};

enum proto_stream { PROTO_STDIN = 0, PROTO_STDOUT = 1, PROTO_STDERR = 2 };

/* Field tags of the TLV bodies (see docs/protocol.md for which frame carries which). */
enum proto_tag {
    T_VERSION = 1, T_VERSION_MIN = 2, T_AGENT = 3, T_BOOT_MS = 4, T_READY = 5,
    T_TIME_NS = 6, T_CONTROL = 7,                                            /* HELLO */
    T_CODE = 10, T_MESSAGE = 11,                                             /* ERROR */
    T_ARG = 20, T_ENV = 21, T_CWD = 22, T_USER = 23, T_TTY = 24, T_ROWS = 25, T_COLS = 26,
    T_TIMEOUT_MS = 27, T_DETACH = 28, T_ATTACH = 29,                         /* EXEC */
    T_EXIT_CODE = 30, T_SIGNO = 31, T_TIMED_OUT = 32, T_DURATION_US = 33, T_BYTES = 34,
    T_PATH = 40,                                                             /* COPY_* */
    T_ROOT_DEV = 50, T_ROOT_FSTYPE = 51, T_ROOT_DIR = 52, T_VOLUME = 53, T_HOSTNAME = 54,
    T_NET = 55, T_NET_ADDR = 56, T_NET_GW = 57, T_NET_DNS = 58, T_DISK = 59, /* SETUP */
    T_CREDIT = 60,                                                           /* CREDIT */
    T_MAIN = 61,                                                  /* SETUP: main process */
    T_ROOT_RO = 62,                                         /* SETUP: root read-only */
    T_RESTART = 63, T_RESTART_MAX = 64,             /* SETUP: the main process's restarts */
    T_MAIN_STDIN = 65,                         /* SETUP: the main process's stdin is open */
    T_MAC = 66, T_SEED = 67,                        /* IDENTITY (+ HOSTNAME, TIME_NS) */
    T_EVENT = 70, T_WHO = 71, T_OOM = 72, T_RESTARTS = 73,                   /* EVENT */
    T_FREEZE = 120,                                /* FSFREEZE: 1 freeze, 0 thaw */
    T_MOUNT = 121,                                 /* VOLUMES: 1 mount, 0 unmount */
    /* STATUS and EXIT (src/proto/control.h) */
    T_STATE = 80, T_ENGINE = 81, T_CPU_TEMPLATE = 82, T_NOTICE = 83, T_HOST_PORT = 84,
    T_HEALTH = 85, T_FIRST_RUN_US = 86, T_READY_US = 87, T_VM_EXITS = 88,
    T_CPU_USER_US = 89, T_CPU_SYS_US = 90, T_RSS_BYTES = 91, T_NET_RX = 92, T_NET_TX = 93,
    T_NET_CONNS = 94, T_NET_ALLOWED = 95, T_NET_DENIED = 96, T_AGENT_BOOT_MS = 97,
    T_REASON = 100, T_STOP_REASON = 101, T_REQUESTED = 102, T_GUEST_STATUS = 103,
    T_POWERED_OFF = 104, T_KILLED = 105, T_ENGINE_FAILED = 106, T_START_ERROR = 107,
    T_RESTART_COUNT = 108,                        /* STATUS and EXIT: restarts so far */
    T_PAUSED = 109,                           /* EXIT: the box's memory was saved (paused) */
    /* BALLOON and STATUS: guest memory (docs/protocol.md, "Balloon") */
    T_BALLOON_TARGET_MIB = 110, T_BALLOON_ACTUAL_MIB = 111, T_MEM_RETURNED_BYTES = 112,
    T_GUEST_RESIDENT_BYTES = 113, T_HOST_RSS_BYTES = 114,
    T_IDLE_MS = 115,                 /* STATUS: ms since the last request opened or ended */
    /* EXEC: what the process may do (runtime-spec's process fields; docs/protocol.md,
     * "The process's limits and privileges") */
    T_RLIMIT = 130, T_CAPS = 131, T_NO_NEW_PRIVS = 132, T_GROUPS = 133, T_UMASK = 134,
    T_OOM_SCORE_ADJ = 135,
    T_ROOT = 136, /* EXEC: a folder of the container that becomes the process's root (a pod) */
    T_SECCOMP = 137, T_SECCOMP_FLAGS = 138, /* EXEC: a seccomp filter (classic BPF) and flags */
    /* EXEC: the container's view, set up in its mount namespace before the process */
    T_MASK = 139, T_RO_PATH = 140, T_SYSCTL = 141, T_DEVICE = 142,
    T_GROUP = 143,    /* EXEC: the process group (a cgroup in the guest) of a container */
    T_PIDS_MAX = 144, /* EXEC, GROUP_LIMITS: that group's most processes (pids.max) */
    T_TMPFS = 165,    /* EXEC: a tmpfs mount of the container (struct proto_tmpfs) */
    T_HOLD = 180,     /* HOLD: 1 take the hold, 0 release it; the per-box process's HELLO: 1,
                       * it understands HOLD */
    T_PAUSE_SHARES = 181, /* STATUS, EXIT: what a pause does with the volumes (control.h) */
};

struct proto_hdr {
    uint32_t len;     /* payload bytes, <= PROTO_MAX_PAYLOAD */
    uint16_t type;    /* enum proto_type */
    uint8_t stream;   /* DATA/EOF/CREDIT only; 0 otherwise */
    uint8_t flags;    /* must be 0 in version 1 */
    uint32_t channel; /* 0 = the connection itself */
};

void proto_hdr_encode(uint8_t out[PROTO_HDR_SIZE], const struct proto_hdr *h);
/* Decodes a header and checks its length bound: the one error after which the stream cannot
 * be followed any more. Returns 0 or -BOXLITE_ERR_PROTOCOL. */
int proto_hdr_decode(const uint8_t in[PROTO_HDR_SIZE], struct proto_hdr *h, struct bl_error *err);
/* Checks the rest of a well-framed header: known type, flags, stream range, channel use
 * (connection frames on 0, channel frames elsewhere), fixed payload sizes. A frame failing
 * this is skipped and answered with an ERROR; the stream goes on. */
int proto_hdr_check(const struct proto_hdr *h, struct bl_error *err);
/* Whether 12 bytes are the header of a HELLO frame (used to resynchronise after a framing
 * error: the receiver drops bytes until the peer's next HELLO). */
bool proto_is_hello_hdr(const uint8_t in[PROTO_HDR_SIZE]);
const char *proto_type_name(unsigned type);

/* ---- frame reassembly from a byte stream ------------------------------------------------
 * Feed it bytes as they arrive; it hands out whole frames. After a malformed header the
 * stream cannot be resynchronised: the reader stays failed. */
struct proto_reader {
    uint8_t buf[PROTO_HDR_SIZE + PROTO_MAX_PAYLOAD];
    size_t have;
    bool done; /* buf holds a frame already handed out */
    bool failed;
};
/* In the failed state: drops bytes until a HELLO header, then resumes. Returns bytes used. */
size_t proto_reader_resync(struct proto_reader *r, const uint8_t *data, size_t len);
/* Consumes up to len bytes of data (*used says how many). Returns 1 with *h and *payload set
 * when a frame is complete (payload valid until the next call; only its length is checked:
 * call proto_hdr_check), 0 when more input is needed, negative on an oversized frame (the
 * reader is then failed; proto_reader_resync drops input until a HELLO header). */
int proto_reader_feed(struct proto_reader *r, const uint8_t *data, size_t len, size_t *used,
                      struct proto_hdr *h, const uint8_t **payload, struct bl_error *err);

/* ---- output buffer: frames queued for a non-blocking fd ------------------------------- */
struct proto_buf {
    uint8_t *data;
    size_t len, off, cap;
};
int proto_buf_put(struct proto_buf *b, const void *p, size_t n);
int proto_buf_frame(struct proto_buf *b, uint16_t type, uint32_t channel, uint8_t stream,
                    const void *payload, size_t len);
static inline size_t proto_buf_pending(const struct proto_buf *b) { return b->len - b->off; }
/* Writes what it can. Returns 0, or -errno on a real error (EAGAIN is not one). */
int proto_buf_flush(struct proto_buf *b, int fd);
void proto_buf_free(struct proto_buf *b);

/* ---- TLV bodies: u16 tag, u16 length, value; integers are 8-byte little-endian ------- */
struct tlv_writer {
    uint8_t buf[PROTO_MAX_PAYLOAD];
    size_t len;
    bool overflow;
};
void tlv_init(struct tlv_writer *w);
void tlv_bytes(struct tlv_writer *w, uint16_t tag, const void *p, size_t n);
void tlv_str(struct tlv_writer *w, uint16_t tag, const char *s);
void tlv_u64(struct tlv_writer *w, uint16_t tag, uint64_t v);

struct tlv_field {
    uint16_t tag;
    uint16_t len;
    const uint8_t *val;
};
struct tlv_iter {
    const uint8_t *p;
    size_t len, off;
};
void tlv_iter_init(struct tlv_iter *it, const void *p, size_t len);
/* 1 with *f set, 0 at the end, negative (BOXLITE_ERR_PROTOCOL) on a truncated field. */
int tlv_next(struct tlv_iter *it, struct tlv_field *f, struct bl_error *err);
/* Field accessors: strings must not contain NUL; integers must be 8 bytes. Fill `out`
 * (a malloc'd NUL-terminated copy for strings). */
int tlv_get_str(const struct tlv_field *f, char **out, struct bl_error *err);
int tlv_get_u64(const struct tlv_field *f, uint64_t *out, struct bl_error *err);
/* A string field into a fixed buffer of cap bytes: cut to fit, NUL bytes refused. */
int tlv_get_str_buf(const struct tlv_field *f, char *out, size_t cap, struct bl_error *err);

/* ---- request and result bodies -------------------------------------------------------- */
/* Bounds of the EXEC fields RLIMIT and GROUPS (docs/protocol.md). */
#define PROTO_RLIMIT_RESOURCES 16 /* Linux's generic RLIMIT_* numbers are 0..15 */
#define PROTO_MAX_GROUPS 1024
enum { PROTO_CAP_BOUNDING, PROTO_CAP_EFFECTIVE, PROTO_CAP_PERMITTED, PROTO_CAP_INHERITABLE,
       PROTO_CAP_AMBIENT, PROTO_CAP_SETS };
struct proto_rlimit {
    uint32_t resource; /* RLIMIT_* (asm-generic/resource.h numbering) */
    uint64_t soft, hard; /* ~0 = unlimited; soft <= hard */
};
struct proto_exec_req {
    char **argv;  /* NULL-terminated, argc >= 1 */
    char **env;   /* NULL-terminated "K=V" */
    char *cwd, *user;
    bool tty;
    uint32_t rows, cols;
    uint64_t timeout_ms; /* 0 = none */
    bool detach;         /* runs on its own (exec -d): the channel ends once it started */
    bool attach;         /* no process: stdin goes to the main process's (attach) */
    /* the process's limits and privileges; each absent = as the agent's processes are */
    struct proto_rlimit *rlimits; /* RLIMIT(130), one per resource */
    unsigned nrlimits;
    bool has_caps;                 /* CAPS(131): the five sets exactly, bit N = capability N */
    uint64_t caps[PROTO_CAP_SETS];
    bool no_new_privs;             /* NO_NEW_PRIVS(132) */
    bool has_groups;               /* GROUPS(133): the supplementary groups exactly */
    uint32_t *groups;
    unsigned ngroups;
    bool has_umask;                /* UMASK(134) */
    uint32_t umask;
    bool has_oom_score_adj;        /* OOM_SCORE_ADJ(135) */
    int32_t oom_score_adj;
    char *root; /* ROOT(136): absolute, beneath the container's root, no "." or ".."; NULL =
                 * the container's root */
    /* SECCOMP(137): struct sock_filter[] (u16 code, u8 jt, u8 jf, u32 k, little-endian as the
     * host and guest are), 1 to PROTO_SECCOMP_MAX_INSNS instructions; NULL = none.
     * SECCOMP_FLAGS(138): seccomp(2)'s SECCOMP_FILTER_FLAG_TSYNC|LOG|SPEC_ALLOW only. */
    uint8_t *seccomp;
    uint32_t seccomp_len; /* bytes */
    uint32_t seccomp_flags;
    /* The container's view (runtime-spec linux.maskedPaths, readonlyPaths, sysctl,
     * devices), made in the container's mount namespace before the process starts: sent
     * with its first process, they stay for the later ones. NULL-terminated, each at most
     * PROTO_MAX_CONFINE entries. MASK(139), RO_PATH(140): absolute paths, no ".."
     * component. SYSCTL(141): "name=value", name dotted or slashed, relative, no "..".
     * DEVICE(142): see struct proto_device. */
    char **masked;
    size_t nmasked;
    char **ro_paths;
    size_t nro_paths;
    char **sysctl;
    size_t nsysctl;
    struct proto_device *devices;
    size_t ndevices;
    /* TMPFS(165): the spec's tmpfs mounts, made in its order, before the rest of the view
     * (runc mounts before it makes devices and masks). See struct proto_tmpfs. */
    struct proto_tmpfs *tmpfs;
    size_t ntmpfs;
    /* GROUP(143): the process joins the guest's cgroup of that name (PROTO_GROUP_NAME_MAX,
     * [A-Za-z0-9_.+-]); the execution that made it leads it, and when the leader's process
     * ends or its channel closes, every process left in the group is killed (a container's
     * processes end with its main process, as in a PID namespace). NULL = none. */
    char *group;
    uint64_t pids_max; /* PIDS_MAX(144): the group's pids.max when it is made; 0 = none */
};
#define PROTO_MAX_CONFINE 256
/* DEVICE(142): u8 type ('c', 'b', 'u' = c, 'p' = FIFO), 3 bytes 0, u32 major, minor, mode
 * (permission bits, at most 07777), uid, gid (little-endian), then the absolute path (no
 * NUL, no ".." component). */
struct proto_device {
    char type;
    uint32_t major, minor, mode, uid, gid;
    char *path;
};
/* TMPFS(165): u32 flags (mount(2)'s MS_*, PROTO_TMPFS_FLAGS only, little-endian), the
 * absolute destination (no ".." component), a NUL, then the data string (tmpfs(5)'s
 * options, as proto_tmpfs_options writes it; may be empty). */
struct proto_tmpfs {
    char *path;
    uint32_t flags;
    char *data;
};
/* MS_RDONLY NOSUID NODEV NOEXEC SYNCHRONOUS DIRSYNC NOATIME NODIRATIME RELATIME STRICTATIME */
#define PROTO_TMPFS_FLAGS 0x1200C9Fu
#define PROTO_TMPFS_DATA_MAX 256u
/* A tmpfs mount's options ("size=1m,mode=1770,nosuid") into mount(2)'s flags and the data
 * string of at most cap - 1 bytes (src/proto/tmpfs.c); an unknown word or a value with
 * other than [A-Za-z0-9:%.-] is an error (BOXLITE_ERR_INVALID). */
int proto_tmpfs_options(const char *opts, uint32_t *flags, char *data, size_t cap,
                        struct bl_error *err);
#define PROTO_DEVICE_FIXED 24
#define PROTO_DEVICE_PATH_MAX 4096u
/* Whether a path the container's view names is absolute with no ".." component. */
bool proto_confine_path_ok(const char *p);
/* Whether "name=value" names a file under /proc/sys: a name not empty, not starting with
 * "/" or ".", with no component starting with "." (so no ".."). */
bool proto_sysctl_ok(const char *kv);
#define PROTO_SECCOMP_MAX_INSNS 4096 /* BPF_MAXINSNS */
#define PROTO_SECCOMP_FLAGS 7u
#define PROTO_GROUP_NAME_MAX 128
/* A GROUP name as the agent takes it: 1..PROTO_GROUP_NAME_MAX of [A-Za-z0-9_.+-], not "." or "..". */
bool proto_group_name_ok(const char *name);
/* GROUP_LIMITS body: GROUP(143) the name of a group an EXEC made, PIDS_MAX(144) its new
 * pids.max (0 = none, "max"); both required. */
struct proto_group_limits {
    char group[PROTO_GROUP_NAME_MAX + 1];
    uint64_t pids_max;
};
void proto_group_limits_encode(const struct proto_group_limits *g, struct tlv_writer *w);
int proto_group_limits_decode(struct proto_group_limits *g, const void *p, size_t len,
                              struct bl_error *err);
int proto_exec_req_encode(const struct proto_exec_req *r, struct tlv_writer *w, struct bl_error *err);
int proto_exec_req_decode(struct proto_exec_req *r, const void *p, size_t len, struct bl_error *err);
void proto_exec_req_free(struct proto_exec_req *r);

struct proto_result {
    int64_t exit_code;  /* valid when signo == 0 */
    int64_t signo;
    bool timed_out;
    uint64_t duration_us;
    uint64_t bytes;     /* copy requests: bytes of tar processed */
};
void proto_result_encode(const struct proto_result *r, struct tlv_writer *w);
int proto_result_decode(struct proto_result *r, const void *p, size_t len, struct bl_error *err);

struct proto_volume {
    char *tag;        /* 9p mount tag */
    char *path;       /* guest path inside the container */
    bool readonly;
};
/* An extra block device (virtio-blk in the guest) mounted in the container. */
struct proto_disk {
    char *dev;        /* e.g. /dev/vdb */
    char *fstype;     /* "" or NULL = ext4 */
    char *path;       /* guest path inside the container */
    bool readonly;
};
/* SETUP body; also parsed from the kernel command line (boxlite.* words). */
struct proto_setup {
    char *root_dev;    /* e.g. /dev/vda; NULL = no disk */
    char *root_fstype; /* default ext4 */
    char *root_dir;    /* an existing directory to use as the rootfs (tests, no disk) */
    struct proto_volume *vols;
    unsigned nvols;
    struct proto_disk *disks;
    unsigned ndisks;
    char *hostname;
    bool root_ro;      /* the container's root mounted read-only (--read-only) */
    bool net;          /* configure eth0 */
    char *net_addr;    /* "10.0.2.15/24" */
    char *net_gw, *net_dns;
    char *net_mac;     /* eth0's MAC, NULL: the NIC's own (kernel command line only) */
    uint32_t net_mtu;  /* 0: the NIC's own (kernel command line only) */
    /* The box's main process (MAIN, an EXEC body nested in one field): started once the
     * container is up; its exit ends the box. NULL = none. */
    struct proto_exec_req *main;
    /* Docker's restart policy for the main process (RESTART(63), RESTART_MAX(64)): the
     * agent runs it again in the same container when it ends (docs/protocol.md). */
    uint8_t restart;      /* PROTO_RESTART_* */
    uint32_t restart_max; /* on-failure: at most this many restarts; 0 = no limit */
    bool main_stdin;      /* MAIN_STDIN(65): its stdin a pipe EXEC ATTACH writes (-i) */
};
enum { PROTO_RESTART_NO = 0, PROTO_RESTART_ON_FAILURE = 1, PROTO_RESTART_ALWAYS = 2 };
int proto_setup_encode(const struct proto_setup *s, struct tlv_writer *w, struct bl_error *err);
int proto_setup_decode(struct proto_setup *s, const void *p, size_t len, struct bl_error *err);
void proto_setup_free(struct proto_setup *s);

/* EVENT body. The one kind so far, "container-exit": the container's init or the box's
 * main process ended, and with it the box (the agent shuts down after sending it). */
#define PROTO_EVENT_CONTAINER_EXIT "container-exit"
/* "main-restart": the main process ended and, as the restart policy says, runs again
 * (EXIT_CODE/SIGNO/OOM say how it ended, RESTARTS(73) how many restarts so far). */
#define PROTO_EVENT_MAIN_RESTART "main-restart"
struct proto_event {
    char kind[32];       /* EVENT(70) */
    char who[16];        /* WHO(71): "init" or "main" */
    int64_t exit_code;   /* EXIT_CODE(30), when signo == 0 */
    int64_t signo;       /* SIGNO(31) */
    bool oom;            /* OOM(72): the guest's OOM killer killed it */
    char message[256];   /* MESSAGE(11): the reason in words */
    uint64_t restarts;   /* RESTARTS(73), main-restart only */
};
void proto_event_encode(const struct proto_event *ev, struct tlv_writer *w);
/* Strings longer than their field are cut; missing fields stay empty or 0. */
int proto_event_decode(struct proto_event *ev, const void *p, size_t len, struct bl_error *err);

/* IDENTITY body (a fork's first request after its resume): HOSTNAME(54) (RFC 1123 label
 * characters, at most 64), MAC(66) "xx:xx:xx:xx:xx:xx" (unicast), SEED(67) exactly 32 bytes
 * for the guest's RNG, TIME_NS(6) the host's wall clock. Every field is optional but SEED. */
#define PROTO_SEED_BYTES 32
struct proto_identity {
    char hostname[65];
    char mac[18];
    uint8_t seed[PROTO_SEED_BYTES];
    uint64_t time_ns;
};
int proto_identity_decode(struct proto_identity *id, const void *p, size_t len,
                          struct bl_error *err);
/* "xx:xx:xx:xx:xx:xx", unicast, into 6 bytes (out may be NULL): 0 or -1. */
int proto_mac_parse(const char *s, uint8_t out[6]);

/* ERROR body: boxlite_code + message. */
void proto_error_encode(struct tlv_writer *w, int code, const char *msg);
int proto_error_decode(const void *p, size_t len, int *code, char *msg, size_t msg_len);

static inline void put_le16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t get_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t get_le64(const uint8_t *p)
{
    return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

#endif
