// SPDX-License-Identifier: Apache-2.0
/* Reading a box's logs as the per-box process rotates them (src/vmm/logrot.h: <log> is the
 * newest, <log>.1 older, up to <log>.<files-1>; a rotation is a rename). A reader goes from
 * the oldest retained file to the newest; at the end of a file it finds where that file
 * went (by inode) and continues with the next newer one, so a rotation between two reads
 * loses nothing it can still reach. With times asked for, each file's time index
 * (common/logindex.h, written by src/vmm/logrot.c) dates and filters its lines. The
 * console's last lines (boxlite_box_console) too. */
#include "runtime/runtime.h"

#include "common/boxpath.h"
#include "common/clock.h"
#include "common/logindex.h"
#include "runtime/api_error.h"
#include "runtime/spawn.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES BL_MAX_LOG_MAX_FILES
#define STAMP_LEN 31 /* "2026-12-04T18:35:39.123456789Z " */

/* The time index of the file being read (common/logindex.h), read as the reader goes. */
struct log_index {
    int fd;                 /* -1: no index for this file (its lines have no time) */
    uint8_t buf[4096];
    size_t pos, len;
    bool have_next, bad;    /* bad: a record broke the rules; the rest is not used */
    uint64_t next_off;
    int64_t next_ns;
    bool have_cur, seen;
    int64_t cur_ns;
    uint64_t last_off;
};

struct boxlite_log {
    char *path;
    int files;   /* how many to look at: <path>, <path>.1 ... <path>.<files-1> */
    int fd;
    dev_t dev;
    ino_t ino;
    /* With times asked for (since, until, timestamps): lines are filtered and dated. */
    bool timed, stamps;
    int64_t since, until; /* 0: none */
    bool ended;           /* until passed and everything up to it was read */
    struct log_index ix;
    char raw[65536];
    size_t rpos, rlen;
    uint64_t raw_off;     /* offset in the current file of raw[0] */
    bool line_start, keep;
    char pend[STAMP_LEN + 1];
    size_t ppos, plen;
    /* "from": where an earlier reader stopped (boxlite_log_position) */
    bool from;
    uint64_t from_ino, from_off, from_state;
    int64_t from_since, from_until;
};

static void name_of(const struct boxlite_log *l, int idx, bool index, char *out, size_t len)
{
    if (idx == 0)
        snprintf(out, len, "%s%s", l->path, index ? LOGIDX_SUFFIX : "");
    else
        snprintf(out, len, "%s.%d%s", l->path, idx, index ? LOGIDX_SUFFIX : "");
}

static void index_close(struct log_index *x)
{
    if (x->fd >= 0)
        close(x->fd);
    memset(x, 0, sizeof *x);
    x->fd = -1;
}

/* The index of the file just opened: the one whose header names its inode, looked for
 * under its own name first, then under the others (a rotation between the two opens). */
static void index_open(struct boxlite_log *l, int idx)
{
    index_close(&l->ix);
    for (int k = -1; k < l->files; k++) {
        if (k == idx)
            continue;
        char p[4300];
        name_of(l, k < 0 ? idx : k, true, p, sizeof p);
        int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
        if (fd < 0)
            continue;
        uint8_t h[LOGIDX_HDR_SIZE];
        struct stat st;
        /* a regular file only: a FIFO planted there would block the reader */
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            read(fd, h, sizeof h) == (ssize_t)sizeof h &&
            logidx_header_ok(h, sizeof h, (uint64_t)l->ino)) {
            l->ix.fd = fd;
            return;
        }
        close(fd);
    }
}

/* The next record into next_off/next_ns; false at the index's end for now (it may grow)
 * or once it broke the rules (offsets must grow strictly). */
static bool index_fetch(struct log_index *x)
{
    if (x->have_next)
        return true;
    if (x->fd < 0 || x->bad)
        return false;
    if (x->len - x->pos < LOGIDX_REC_SIZE) {
        memmove(x->buf, x->buf + x->pos, x->len - x->pos);
        x->len -= x->pos;
        x->pos = 0;
        ssize_t n = read(x->fd, x->buf + x->len, sizeof x->buf - x->len);
        if (n > 0)
            x->len += (size_t)n;
        if (x->len < LOGIDX_REC_SIZE)
            return false;
    }
    logidx_record_get(x->buf + x->pos, &x->next_off, &x->next_ns);
    x->pos += LOGIDX_REC_SIZE;
    if (x->seen && x->next_off <= x->last_off) {
        x->bad = true;
        return false;
    }
    x->seen = true;
    x->last_off = x->next_off;
    x->have_next = true;
    return true;
}

/* The time of the line starting at offset off: the last record at or before it. Records
 * are consumed once, so a whole read costs one pass over the index, whose records are at
 * most one per byte of the log (strictly growing offsets). */
static bool line_time(struct log_index *x, uint64_t off, int64_t *ns)
{
    while (index_fetch(x) && x->next_off <= off) {
        x->cur_ns = x->next_ns;
        x->have_cur = true;
        x->have_next = false;
    }
    *ns = x->cur_ns;
    return x->have_cur;
}

static bool open_idx(struct boxlite_log *l, int idx)
{
    char p[4300];
    name_of(l, idx, false, p, sizeof p);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    l->fd = fd;
    l->dev = st.st_dev;
    l->ino = st.st_ino;
    l->raw_off = 0;
    l->rpos = l->rlen = 0;
    if (l->timed)
        index_open(l, idx);
    return true;
}

/* Where the file we hold is now: its index, or -1 when it is no longer retained. */
static int where_now(const struct boxlite_log *l)
{
    for (int i = 0; i < l->files; i++) {
        char p[4300];
        struct stat st;
        name_of(l, i, false, p, sizeof p);
        if (stat(p, &st) == 0 && st.st_ino == l->ino && st.st_dev == l->dev)
            return i;
    }
    return -1;
}

/* Opens the oldest retained file newer than index `after` (after = files: the oldest). */
static bool open_older_first(struct boxlite_log *l, int after)
{
    for (int i = after - 1; i >= 0; i--)
        if (open_idx(l, i))
            return true;
    return false;
}

static int log_open_path(const char *path, int files, boxlite_log **out)
{
    *out = NULL;
    boxlite_log *l = calloc(1, sizeof *l);
    if (!l || !(l->path = strdup(path))) {
        free(l);
        return api_fail(BOXLITE_ERR_NOMEM, "logs: out of memory");
    }
    l->files = files < 1 ? 1 : files > MAX_FILES ? MAX_FILES : files;
    l->fd = -1;
    l->ix.fd = -1;
    l->line_start = true;
    *out = l;
    return 0;
}

/* Docker's time forms for --since/--until, as ns since the epoch: a duration back from now
 * (Go's syntax: "10m", "1h30m", "1.5h", "300ms"), Unix seconds ("1733300000",
 * "1733300000.5"), RFC 3339 ("2026-12-04T18:35:39Z", fraction and +hh:mm allowed; without
 * a zone, local time as Docker reads it) or a date ("2026-12-04", local midnight). */
int rt_log_time_parse(const char *s, int64_t now_ns, int64_t *out, struct bl_error *err)
{
    if (!s || !*s || strlen(s) > 64)
        return bl_err(err, BOXLITE_ERR_INVALID, "time \"%s\": empty or too long", s ? s : "");
    const char *p = s;
    /* a duration: number+unit, repeated */
    bool dur = false;
    double total = 0;
    while (*p && (isdigit((unsigned char)*p) || *p == '.')) {
        char *e;
        double v = strtod(p, &e);
        if (e == p)
            break;
        static const struct { const char *u; double ns; } units[] = {
            { "ns", 1 }, { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "ms", 1e6 }, { "s", 1e9 },
            { "m", 60e9 }, { "h", 3600e9 },
        };
        size_t best = 0;
        double mul = 0;
        for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
            size_t n = strlen(units[i].u);
            if (n > best && !strncmp(e, units[i].u, n)) {
                best = n;
                mul = units[i].ns;
            }
        }
        if (!best)
            break;
        total += v * mul;
        p = e + best;
        dur = true;
    }
    if (dur && !*p) {
        if (total > 1e18)
            return bl_err(err, BOXLITE_ERR_INVALID, "time \"%s\": too far back", s);
        *out = now_ns - (int64_t)total;
        return 0;
    }
    /* Unix seconds, with an optional fraction (Docker's "seconds[.nanoseconds]") */
    p = s;
    if (isdigit((unsigned char)*p)) {
        char *e;
        errno = 0;
        unsigned long long sec = strtoull(p, &e, 10);
        if (!errno && sec < 10000000000ULL && (!*e || *e == '.')) {
            int64_t ns = 0;
            bool ok = true;
            if (*e == '.') {
                int digits = 0;
                for (e++; isdigit((unsigned char)*e); e++, digits++)
                    if (digits < 9)
                        ns = ns * 10 + (*e - '0');
                ok = digits > 0 && !*e;
                for (; digits < 9; digits++)
                    ns *= 10;
            }
            if (ok) {
                *out = (int64_t)sec * 1000000000LL + ns;
                return 0;
            }
        }
    }
    /* RFC 3339 (or its date, or date and minutes) */
    struct tm tm = { 0 };
    int n = 0;
    int64_t frac = 0;
    const char *rest = NULL;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3 && n == 10) {
        rest = s + n;
        if (*rest == 'T' || *rest == 't' || *rest == ' ') {
            int m = 0;
            if (sscanf(rest + 1, "%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &m) == 2 && m == 5) {
                rest += 1 + m;
                if (*rest == ':') {
                    int k = 0;
                    if (sscanf(rest + 1, "%2d%n", &tm.tm_sec, &k) != 1 || k != 2)
                        rest = NULL;
                    else
                        rest += 1 + k;
                }
                if (rest && *rest == '.') {
                    int digits = 0;
                    for (rest++; isdigit((unsigned char)*rest); rest++, digits++)
                        if (digits < 9)
                            frac = frac * 10 + (*rest - '0');
                    if (!digits)
                        rest = NULL;
                    for (; digits < 9; digits++)
                        frac *= 10;
                }
            } else {
                rest = NULL;
            }
        }
    }
    if (!rest || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 1970)
        return bl_err(err, BOXLITE_ERR_INVALID,
                      "time \"%s\": expected a duration (10m, 1h30m), Unix seconds or an RFC "
                      "3339 time (2026-12-04T18:35:39Z)", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t;
    if (!*rest) {
        tm.tm_isdst = -1;
        t = mktime(&tm); /* no zone: local time */
    } else if ((*rest == 'Z' || *rest == 'z') && !rest[1]) {
        t = timegm(&tm);
    } else if ((*rest == '+' || *rest == '-') && isdigit((unsigned char)rest[1]) &&
               isdigit((unsigned char)rest[2]) && rest[3] == ':' &&
               isdigit((unsigned char)rest[4]) && isdigit((unsigned char)rest[5]) && !rest[6]) {
        int off = ((rest[1] - '0') * 10 + rest[2] - '0') * 3600 +
                  ((rest[4] - '0') * 10 + rest[5] - '0') * 60;
        t = timegm(&tm) - (*rest == '+' ? off : -off);
    } else {
        return bl_err(err, BOXLITE_ERR_INVALID, "time \"%s\": unknown zone \"%s\"", s, rest);
    }
    if (t == (time_t)-1)
        return bl_err(err, BOXLITE_ERR_INVALID, "time \"%s\": out of range", s);
    *out = (int64_t)t * 1000000000LL + frac;
    return 0;
}

/* "since"/"until": a string in one of rt_log_time_parse's forms, or a number of seconds. */
static int time_opt(json_t *v, const char *key, int64_t now, int64_t *out, struct bl_error *err)
{
    if (json_is_string(v))
        return rt_log_time_parse(json_string_value(v), now, out, err) < 0
                   ? bl_err_prefix(err, "logs %s", key)
                   : 0;
    if (json_is_number(v) && json_number_value(v) >= 0 && json_number_value(v) < 1e10) {
        *out = (int64_t)(json_number_value(v) * 1e9);
        return 0;
    }
    return bl_err(err, BOXLITE_ERR_INVALID,
                  "logs %s: expected a time string (10m, RFC 3339) or Unix seconds", key);
}

/* A position (boxlite_log_position): "INO.OFF.STATE.SINCE.UNTIL", five decimal numbers:
 * the file by its inode, the offset in it, the line's state there (POS_*) and the first
 * reader's since and until in ns (0: none), so a relative time keeps what it meant then.
 * Hostile (a remote client hands it back): digits only, each bounded, and the file it
 * names is looked for among the log's own, never opened by a name it carries. */
enum { POS_LINE = 0, POS_KEPT = 1, POS_DROPPED = 2, POS_STAMP = 3 /* + bytes of it sent */ };

static int position_parse(boxlite_log *l, const char *s, struct bl_error *err)
{
    uint64_t v[5];
    const char *p = s;
    for (int i = 0; i < 5; i++) {
        if (!isdigit((unsigned char)*p))
            goto bad;
        char *e;
        errno = 0;
        unsigned long long n = strtoull(p, &e, 10);
        if (errno || e - p > 20 || *e != (i < 4 ? '.' : '\0'))
            goto bad;
        v[i] = n;
        p = e + (i < 4);
    }
    if (v[2] > POS_STAMP + STAMP_LEN || v[1] > INT64_MAX || v[3] > INT64_MAX ||
        v[4] > INT64_MAX)
        goto bad;
    l->from = true;
    l->from_ino = v[0];
    l->from_off = v[1];
    l->from_state = v[2];
    l->from_since = (int64_t)v[3];
    l->from_until = (int64_t)v[4];
    return 0;
bad:
    return bl_err(err, BOXLITE_ERR_INVALID, "logs from: \"%.64s\" is not a log position", s);
}

static int log_options(boxlite_log *l, const char *json, struct bl_error *err)
{
    if (!json || !*json)
        return 0;
    json_error_t je;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return bl_err(err, BOXLITE_ERR_INVALID, "logs options: not a JSON object (%s)", je.text);
    }
    int64_t now = (int64_t)wall_ns();
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (!strcmp(key, "since") || !strcmp(key, "until")) {
            int64_t t;
            if ((rc = time_opt(v, key, now, &t, err)) < 0)
                break;
            *(key[0] == 's' ? &l->since : &l->until) = t ? t : 1;
        } else if (!strcmp(key, "timestamps") && json_is_boolean(v)) {
            l->stamps = json_is_true(v);
        } else if (!strcmp(key, "from") && json_is_string(v)) {
            if ((rc = position_parse(l, json_string_value(v), err)) < 0)
                break;
        } else {
            rc = bl_err(err, BOXLITE_ERR_INVALID, "logs options: unknown or mistyped \"%s\"", key);
            break;
        }
    }
    json_decref(root);
    if (rc == 0 && l->from) {
        /* the first reader's window holds, as it was then: a relative time read again
         * now would move it */
        l->since = l->from_since;
        l->until = l->from_until;
        if (l->from_state && !l->stamps && l->from_state >= POS_STAMP)
            return bl_err(err, BOXLITE_ERR_INVALID, "logs from: a position inside a time "
                                                    "stamp, but no timestamps asked for");
    }
    l->timed = l->stamps || l->since || l->until || (l->from && l->from_state);
    return rc;
}

static void stamp(char *out, int64_t ns);

/* Opens the file an earlier reader held (by its inode) where it stopped, in the line state
 * it had there. A file no longer retained had every byte read or rotated away: the reader
 * starts at the oldest retained one, as a fresh reader does. */
static int resume_at(boxlite_log *l, struct bl_error *err)
{
    int idx = -1;
    for (int i = 0; i < l->files && idx < 0; i++) {
        char p[4300];
        struct stat st;
        name_of(l, i, false, p, sizeof p);
        if (stat(p, &st) == 0 && (uint64_t)st.st_ino == l->from_ino)
            idx = i;
    }
    if (idx < 0 || !open_idx(l, idx) || (uint64_t)l->ino != l->from_ino) {
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        open_older_first(l, l->files);
        return 0;
    }
    struct stat st;
    if (fstat(l->fd, &st) != 0 || l->from_off > (uint64_t)st.st_size ||
        lseek(l->fd, (off_t)l->from_off, SEEK_SET) < 0)
        return bl_err(err, BOXLITE_ERR_INVALID, "logs from: beyond the end of its file");
    l->raw_off = l->from_off;
    l->line_start = l->from_state == POS_LINE;
    l->keep = l->from_state != POS_DROPPED;
    if (l->from_state >= POS_STAMP) {
        int64_t t;
        if (!line_time(&l->ix, l->from_off, &t))
            return bl_err(err, BOXLITE_ERR_INVALID, "logs from: that line has no time");
        stamp(l->pend, t);
        l->plen = STAMP_LEN;
        l->ppos = (size_t)(l->from_state - POS_STAMP);
    }
    return 0;
}

int rt_log_open_path(const char *path, int files, const char *options_json, boxlite_log **out)
{
    struct bl_error err = { 0 };
    int rc = log_open_path(path, files, out);
    if (rc)
        return rc;
    if (log_options(*out, options_json, &err) < 0) {
        boxlite_log_close(*out);
        *out = NULL;
        return api_fail(err.code, "%s", err.msg);
    }
    if (!(*out)->from || !(*out)->from_ino) {
        open_older_first(*out, (*out)->files);
    } else if (resume_at(*out, &err) < 0) {
        boxlite_log_close(*out);
        *out = NULL;
        return api_fail(err.code, "%s", err.msg);
    }
    return api_return(0, NULL);
}

BOXLITE_API int boxlite_box_log_open_with(boxlite_box *b, const char *which,
                                          const char *options_json, boxlite_log **out)
{
    API_CHECK_ARG(out, "out is NULL");
    *out = NULL;
    API_CHECK_ARG(b && which, "NULL argument");
    const char *file = !strcmp(which, "console") ? "console.log"
                       : !strcmp(which, "vmm")   ? "vmm.log"
                                                 : NULL;
    if (!file)
        return api_fail(BOXLITE_ERR_INVALID, "logs: \"%s\" is not console or vmm", which);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", b->dir, file);
    /* Look past the box's own setting: it may have been changed since the log was
     * written, and a missing file costs one stat. */
    int files = b->opts.log_max_files > BL_DEFAULT_LOG_MAX_FILES ? b->opts.log_max_files
                                                                : BL_DEFAULT_LOG_MAX_FILES;
    return rt_log_open_path(path, files, options_json, out);
}

BOXLITE_API int boxlite_box_log_open(boxlite_box *b, const char *which, boxlite_log **out)
{
    return boxlite_box_log_open_with(b, which, NULL, out);
}

/* The log's bytes as they are, across rotations. */
static long long raw_read(boxlite_log *l, void *buf, size_t len)
{
    for (int hops = 0; hops <= l->files + 1; hops++) {
        if (l->fd < 0 && !open_older_first(l, l->files))
            return 0; /* no log yet */
        ssize_t n = read(l->fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            api_fail(BOXLITE_ERR_IO, "read log %s: %s", l->path, strerror(errno));
            return -1;
        }
        if (n > 0)
            return n;
        /* End of this file: the newest still growing, or one rotated away from under us. */
        int at = where_now(l);
        if (at == 0)
            return 0;
        /* Keep the file we hold until a newer one opens: between a rotation's rename and
         * the new file's creation there is none, and starting over from the oldest would
         * read this one again. */
        int held = l->fd;
        struct log_index kept = l->ix;
        l->ix.fd = -1;
        l->fd = -1;
        if (!open_older_first(l, at < 0 ? l->files : at)) {
            l->fd = held;
            index_close(&l->ix);
            l->ix = kept;
            return 0;
        }
        index_close(&kept);
        close(held);
    }
    return 0;
}

static void stamp(char *out, int64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000LL);
    long frac = (long)(ns % 1000000000LL);
    if (frac < 0) {
        frac += 1000000000L;
        sec--;
    }
    struct tm tm;
    gmtime_r(&sec, &tm);
    char date[24];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, STAMP_LEN + 1, "%.19s.%09ldZ ", date, frac);
}

/* Lines filtered by time and dated. A line's fate is decided at its first byte (its
 * record is written before it), so a line still being written is given as it grows. */
static long long timed_read(boxlite_log *l, char *out, size_t len)
{
    size_t made = 0;
    while (made < len) {
        if (l->ppos < l->plen) {
            size_t k = l->plen - l->ppos < len - made ? l->plen - l->ppos : len - made;
            memcpy(out + made, l->pend + l->ppos, k);
            l->ppos += k;
            made += k;
            continue;
        }
        if (l->rpos == l->rlen) {
            int held = l->fd;
            ino_t ino = l->ino;
            long long n = raw_read(l, l->raw, sizeof l->raw);
            if (n < 0)
                return made ? (long long)made : -1;
            if (n == 0)
                break;
            if (l->fd == held && l->ino == ino)
                l->raw_off += l->rlen; /* same file: these bytes follow the last ones */
            l->rpos = 0;
            l->rlen = (size_t)n;
        }
        if (l->line_start) {
            int64_t t = 0;
            bool known = line_time(&l->ix, l->raw_off + l->rpos, &t);
            l->keep = (!l->since || (known && t >= l->since)) &&
                      (!l->until || (known && t <= l->until));
            l->line_start = false;
            if (l->keep && l->stamps && known) {
                stamp(l->pend, t);
                l->ppos = 0;
                l->plen = STAMP_LEN;
            }
            continue;
        }
        const char *from = l->raw + l->rpos;
        size_t avail = l->rlen - l->rpos;
        const char *nl = memchr(from, '\n', avail);
        size_t k = nl ? (size_t)(nl - from) + 1 : avail;
        if (l->keep) {
            if (k > len - made)
                k = len - made;
            memcpy(out + made, from, k);
            made += k;
        }
        l->rpos += k;
        if (from[k - 1] == '\n')
            l->line_start = true;
    }
    return (long long)made;
}

BOXLITE_API long long boxlite_log_read(boxlite_log *l, void *buf, size_t len)
{
    if (!l || (!buf && len)) {
        api_fail(BOXLITE_ERR_INVALID, "boxlite_log_read: NULL argument");
        return -1;
    }
    long long n = l->timed ? timed_read(l, buf, len) : raw_read(l, buf, len);
    /* A line is indexed when the per-box process writes it, a moment after it arrived:
     * the reader waits a second past `until` for the last of them before it says ended. */
    if (n == 0 && l->until && (int64_t)wall_ns() > l->until + 1000000000)
        l->ended = true;
    return n;
}

BOXLITE_API int boxlite_log_ended(boxlite_log *l)
{
    return l && l->ended;
}

BOXLITE_API int boxlite_log_position(boxlite_log *l, char *buf, size_t len)
{
    API_CHECK_ARG(l && buf, "NULL argument");
    uint64_t ino = 0, off = 0, state = POS_LINE;
    if (l->fd >= 0) {
        ino = (uint64_t)l->ino;
        if (l->timed) {
            off = l->raw_off + l->rpos;
            state = l->ppos < l->plen ? POS_STAMP + l->ppos
                    : l->line_start   ? POS_LINE
                    : l->keep         ? POS_KEPT
                                      : POS_DROPPED;
        } else {
            off_t at = lseek(l->fd, 0, SEEK_CUR);
            off = at < 0 ? 0 : (uint64_t)at;
        }
    }
    int n = snprintf(buf, len, "%llu.%llu.%llu.%lld.%lld", (unsigned long long)ino,
                     (unsigned long long)off, (unsigned long long)state,
                     (long long)(l->since > 0 ? l->since : 0),
                     (long long)(l->until > 0 ? l->until : 0));
    if (n < 0 || (size_t)n >= len)
        return api_fail(BOXLITE_ERR_INVALID, "boxlite_log_position: buffer of %zu bytes is "
                                             "too small", len);
    return api_return(0, NULL);
}

BOXLITE_API void boxlite_log_close(boxlite_log *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    index_close(&l->ix);
    free(l->path);
    free(l);
}

BOXLITE_API int boxlite_box_console(boxlite_box *b, char **text_out)
{
    API_CHECK_ARG(b && text_out, "NULL argument");
    *text_out = NULL;
    char path[4200];
    box_file_path(path, sizeof path, b->dir, BOX_CONSOLE_LOG, 0);
    /* The newest file may have just been started by a rotation: then the lines are in the
     * one before. */
    char *text = rt_tail_file(path, 1000);
    if (!text || !*text) {
        free(text);
        box_file_path(path, sizeof path, b->dir, BOX_CONSOLE_LOG, 1);
        text = rt_tail_file(path, 1000);
    }
    if (!text)
        return api_fail(BOXLITE_ERR_NOT_FOUND, "box %s has no console log yet", b->name);
    *text_out = text;
    return api_return(0, NULL);
}
