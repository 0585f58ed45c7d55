// SPDX-License-Identifier: Apache-2.0
/* A client for the QEMU Machine Protocol (QMP): newline-separated JSON objects over a
 * stream socket (QEMU docs/interop/qmp-spec.txt). One command at a time; events that
 * arrive meanwhile are remembered (the last SHUTDOWN is what the engine reports). */
#ifndef VMM_QEMU_QMP_H
#define VMM_QEMU_QMP_H

#include "common/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A message larger than this is a protocol error (QEMU's answers are a few KiB). */
#define QMP_MAX_MESSAGE (1u << 20)

enum qmp_kind { QMP_GREETING, QMP_RETURN, QMP_ERROR, QMP_EVENT };

struct qmp_msg {
    enum qmp_kind kind;
    json_t *json;          /* the whole message, owned */
    json_t *value;         /* borrowed: "return" value, event "data" (may be NULL) */
    const char *error_class, *error_desc; /* QMP_ERROR, borrowed from json */
    const char *event;     /* QMP_EVENT name, borrowed */
};

void qmp_msg_free(struct qmp_msg *m);

/* Classifies one message (one line without its newline). Anything that is not a JSON
 * object of a known shape is a BOXLITE_ERR_PROTOCOL error. */
int qmp_msg_parse(const char *line, size_t len, struct qmp_msg *out, struct bl_error *err);

/* The incremental reader: bytes in, whole messages out. */
struct qmp_reader {
    char *buf;
    size_t len, cap;
};
/* Appends bytes; an over-long message without a newline is an error. */
int qmp_reader_feed(struct qmp_reader *r, const void *data, size_t len, struct bl_error *err);
/* 1 and *out filled when a whole message is buffered, 0 when more bytes are needed, <0 on a
 * malformed message (which is consumed, so the caller may go on). Blank lines are skipped. */
int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *out, struct bl_error *err);
void qmp_reader_free(struct qmp_reader *r);

struct qmp {
    int fd; /* owned */
    struct qmp_reader rd;
    bool eof;
    /* The last SHUTDOWN event seen: "reason" (e.g. "guest-shutdown", "host-qmp-quit"). */
    bool shutdown_seen, shutdown_guest;
    char shutdown_reason[64];
    unsigned events_seen;
    /* The last MIGRATION event's status ("setup", "active", "completed", "failed"...). */
    char migration_status[32];
};

/* Takes ownership of fd (a connected stream socket), reads the greeting and leaves
 * capability negotiation so commands may be sent. */
int qmp_open(struct qmp *q, int fd, int timeout_ms, struct bl_error *err);
/* Runs one command. args (may be NULL) is stolen. On success *ret (if not NULL) receives a
 * new reference to the "return" value. A QMP error answer is BOXLITE_ERR_ENGINE with QEMU's
 * description. */
int qmp_execute(struct qmp *q, const char *command, json_t *args, json_t **ret, int timeout_ms,
                struct bl_error *err);
/* The same, passing fd along (SCM_RIGHTS) as QMP's getfd and add-fd expect; no answer value. */
int qmp_execute_fd(struct qmp *q, const char *command, json_t *args, int fd, int timeout_ms,
                   struct bl_error *err);
/* Reads until a MIGRATION event says the migration completed (0) or failed (an error);
 * needs the "events" migration capability. Other events are noted as usual. */
int qmp_wait_migration(struct qmp *q, int timeout_ms, struct bl_error *err);
/* A human monitor command (e.g. "info version"); *out receives its text (free()). */
int qmp_hmp(struct qmp *q, const char *command_line, char **out, int timeout_ms,
            struct bl_error *err);
/* Reads whatever QEMU still sends (events) until end of stream or timeout_ms. */
void qmp_drain(struct qmp *q, int timeout_ms);
void qmp_close(struct qmp *q);

#endif
