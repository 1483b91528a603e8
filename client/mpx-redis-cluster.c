/* SPDX-License-Identifier: MIT */
/*
 * Redis Cluster for libmpx's Redis backend: which of the 16,384 hash slots
 * an object's keys are in, what CLUSTER SLOTS says about who serves them,
 * and the redirections (MOVED, ASK) a node answers with.
 *
 * Every key of object NAME is "mpx:{NAME}...": the part between the braces,
 * the hash tag, is NAME, so the slot is CRC16(NAME) mod 16384, CRC16 being
 * the XMODEM variant the cluster specification names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-redis.h"

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection. */
static uint16_t crc16(const char *p, size_t n) {
        uint16_t crc = 0;

        for (size_t i = 0; i < n; i++) {
                crc ^= (uint16_t) ((uint8_t) p[i] << 8);
                for (int bit = 0; bit < 8; bit++)
                        crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021) : (uint16_t) (crc << 1);
        }
        return crc;
}

unsigned redis_slot(const char *name) {
        return crc16(name, strlen(name)) & (REDIS_SLOTS - 1);
}

/*
 * CLUSTER SLOTS: an array of [start, end, [host, port, id], replicas...].
 * Calls fn for each range with its master's address; the number of ranges,
 * or -EPROTO.
 */
int redis_cluster_slots(const redisReply *r, redis_slots_fn *fn, void *userdata) {
        int n = 0;

        if (!r || r->type != REDIS_REPLY_ARRAY)
                return -EPROTO;
        for (size_t i = 0; i < r->elements; i++) {
                const redisReply *range = r->element[i], *master;
                int64_t start, end, port;
                const void *host;
                size_t host_len;
                char host_z[256];

                if (range->type != REDIS_REPLY_ARRAY || range->elements < 3)
                        return -EPROTO;
                master = range->element[2];
                if (!redis_reply_i64(range->element[0], &start) || !redis_reply_i64(range->element[1], &end) ||
                    master->type != REDIS_REPLY_ARRAY || master->elements < 2 ||
                    !redis_reply_bytes(master->element[0], &host, &host_len) ||
                    !redis_reply_i64(master->element[1], &port))
                        return -EPROTO;
                if (start < 0 || end >= REDIS_SLOTS || start > end || host_len == 0 ||
                    host_len >= sizeof(host_z) || port <= 0 || port > 65535)
                        return -EPROTO;
                memcpy(host_z, host, host_len);
                host_z[host_len] = '\0';
                fn((unsigned) start, (unsigned) end, host_z, (int) port, userdata);
                n++;
        }
        return n;
}

/*
 * A redirection: "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381".
 * Fills slot, host and port and says which (1 MOVED, 2 ASK), or 0 for any
 * other error text.
 */
int redis_redirection(const char *err, unsigned *slot, char *host, size_t host_size, int *port) {
        const char *sp, *colon;
        char *end;
        unsigned long s, p;
        int kind;

        if (strncmp(err, "MOVED ", 6) == 0)
                kind = 1;
        else if (strncmp(err, "ASK ", 4) == 0)
                kind = 2;
        else
                return 0;
        sp = strchr(err, ' ') + 1;
        s = strtoul(sp, &end, 10);
        if (end == sp || *end != ' ' || s >= REDIS_SLOTS)
                return 0;
        sp = end + 1;
        colon = strrchr(sp, ':');
        if (!colon || (size_t) (colon - sp) >= host_size || colon == sp)
                return 0;
        p = strtoul(colon + 1, &end, 10);
        if (*end != '\0' || p == 0 || p > 65535)
                return 0;
        memcpy(host, sp, (size_t) (colon - sp));
        host[colon - sp] = '\0';
        *slot = (unsigned) s;
        *port = (int) p;
        return kind;
}
