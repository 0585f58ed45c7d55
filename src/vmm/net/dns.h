// SPDX-License-Identifier: Apache-2.0
/* The DNS replies a box receives, read so that host-name rules (--allow-net NAME) can follow
 * the addresses the name resolves to (RFC 1035 section 4: header, question, answer records,
 * name compression 4.1.4; AAAA from RFC 3596). Only what that needs is read: the question's
 * name and the answer section's CNAME, A and AAAA records. The input comes from the network:
 * every length and pointer is checked, compression loops end, a name with a label that is
 * not a plain host-name label (a dot or a control byte inside it) is not matched. */
#ifndef VMM_NET_DNS_H
#define VMM_NET_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 253
#define DNS_MAX_ANSWERS 32 /* more in one reply are ignored */
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28

struct dns_answer {
    char owner[DNS_NAME_MAX + 1]; /* lower case, no final dot; "" if not a plain name */
    uint16_t type;                /* DNS_TYPE_A, _AAAA or _CNAME (others are skipped) */
    uint32_t ttl;
    uint8_t addr[16];             /* A: 4 bytes, AAAA: 16 */
    char target[DNS_NAME_MAX + 1]; /* CNAME */
};

struct dns_reply {
    char qname[DNS_NAME_MAX + 1];
    unsigned nanswers;
    struct dns_answer answers[DNS_MAX_ANSWERS];
};

/* Parses a DNS message that is a reply (QR set, one question, class IN). Returns 0, or -1
 * when the message is not such a reply or is malformed. */
int dns_reply_parse(const uint8_t *msg, size_t len, struct dns_reply *out);
/* The ID of a DNS message (0 when shorter than a header). */
uint16_t dns_id(const uint8_t *msg, size_t len);
/* A standard query (QR clear, one question): its name into qname (DNS_NAME_MAX + 1 bytes;
 * "" for a name that is not a plain host name). Returns 0 or -1. */
int dns_query_parse(const uint8_t *msg, size_t len, char *qname);

/* Calls fn for every A/AAAA answer reached from the question's name through CNAME records
 * (in any order, at most 8 links): the addresses the name resolved to. family is AF_INET or
 * AF_INET6. Returns how many. */
unsigned dns_reply_addresses(const struct dns_reply *r,
                             void (*fn)(void *arg, int family, const uint8_t *addr,
                                        uint32_t ttl),
                             void *arg);

#endif
