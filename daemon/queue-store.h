/* SPDX-License-Identifier: MIT */
/*
 * The storage of a queue's items (queue-store.c): chunks of packed records
 * in FIFO order, the way Redis keeps a list as a quicklist of listpacks.
 * A record is a few varints (size, user, delivery count, put time and, in a
 * durable queue, sequence number, the last three relative to the chunk)
 * followed by the payload, so that a 64-byte item costs about 68 bytes
 * where a malloc'd item with its own header cost 112.
 *
 * Items that leave the queue for a while keep the same form: a delivery of
 * a joinable queue holds its item in a chunk of one record, a reply not yet
 * written holds its items in a chunk of their own. Putting them back at the
 * head of the queue links that chunk there, so it cannot fail for want of
 * memory, as the old list's relinking could not.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/queue.h>

#include "user.h"

/*
 * One item, decoded from its record. data points into the record and lives
 * as long as it; chunk and off say where the record is, len how long.
 */
struct item {
        const uint8_t *data;
        uint32_t size;
        uint32_t deliveries;            /* times handed out so far */
        uint64_t put_ms;                /* when it was first put */
        uint64_t seq;                   /* durable queues: the journal's number for it */
        struct user *user;              /* charged for item_cost(size) */
        struct chunk *chunk;
        uint32_t off, len;
};

/*
 * Records from data[head] to data[tail]. block is the allocation the chunk
 * lives in: the chunk itself, or the delivery or unsent reply that holds it.
 */
struct chunk {
        TAILQ_ENTRY(chunk) link;
        void *block;
        uint64_t base_ms;               /* put times are stored relative to these */
        uint64_t base_seq;
        uint32_t head, tail, cap;
        bool seqs;                      /* its records carry a sequence number (a durable queue's) */
        uint8_t data[];
};

TAILQ_HEAD(chunk_list, chunk);

struct item_store {
        struct chunk_list chunks;
};

/*
 * What an item is charged for on top of its payload: its record's header
 * (4 bytes for a small item put once; 5 with a durable queue's number) and
 * its share of the chunk, rounded up. Charged with the payload wherever the
 * item is, so that empty items cannot get round limits.max_memory.
 */
#define QUEUE_ITEM_OVERHEAD 8u

/* The most bytes a record of size payload bytes can take. */
#define RECORD_MAX(size) ((size_t) (size) + 40)

/* The bytes an item of size payload bytes is charged for. */
static inline uint64_t item_cost(uint32_t size) {
        return (uint64_t) size + QUEUE_ITEM_OVERHEAD;
}

static inline void store_init(struct item_store *s) {
        TAILQ_INIT(&s->chunks);
}

static inline bool store_empty(const struct item_store *s) {
        return TAILQ_EMPTY(&s->chunks);
}

/* The bytes *it takes as a record of chunk c, and as the first record of a chunk with seqs or not. */
uint32_t record_len(const struct chunk *c, const struct item *it);
uint32_t record_len_alone(const struct item *it, bool seqs);

/* Lay out an empty chunk of cap bytes of records in memory of chunk_size(cap) bytes from block. */
struct chunk *chunk_init(void *mem, void *block, uint32_t cap, bool seqs);
static inline size_t chunk_size(uint32_t cap) {
        return sizeof(struct chunk) + cap;
}
/* Append *it to c, which has room for record_len() more bytes (chunk_room). */
void chunk_append(struct chunk *c, const struct item *it);

static inline uint32_t chunk_room(const struct chunk *c) {
        return c->cap - c->tail;
}

/* ---- reading records: in line, since a get reads each item once or twice ---- */

uint64_t varint_get_long(const uint8_t **pp);

/* An LEB128 varint at *pp, which moves past it. */
static inline uint64_t varint_get(const uint8_t **pp) {
        uint8_t b = **pp;

        if (b < 0x80) {
                (*pp)++;
                return b;
        }
        return varint_get_long(pp);
}

/* base plus a difference stored zigzag (0, -1, 1, -2 ... as 0, 1, 2, 3 ...). */
static inline uint64_t unzigzag(uint64_t z, uint64_t base) {
        return base + ((z >> 1) ^ (~(z & 1) + 1));
}

/* Decode the record at c->data[off] into *it. */
static inline void record_read(struct chunk *c, uint32_t off, struct item *it) {
        const uint8_t *p = c->data + off;
        uint64_t who;

        it->size = (uint32_t) varint_get(&p);
        who = varint_get(&p);
        it->user = user_at_slot((uint32_t) (who >> 1));
        it->deliveries = who & 1 ? (uint32_t) varint_get(&p) : 0;
        it->put_ms = unzigzag(varint_get(&p), c->base_ms);
        it->seq = c->seqs ? unzigzag(varint_get(&p), c->base_seq) : 0;
        it->data = p;
        it->chunk = c;
        it->off = off;
        it->len = (uint32_t) (p - (c->data + off)) + it->size;
}

/*
 * Append *it, read from a record of another chunk, to c as chunk_append()
 * does: the record is copied as it is when both chunks have the same bases
 * (an empty one takes those of the first), as they do for the items of one
 * get, taken from one chunk. In line: a get copies each item so.
 */
static inline void chunk_copy(struct chunk *c, const struct item *it) {
        const struct chunk *from = it->chunk;

        if (c->head == c->tail) {
                c->head = c->tail = 0;
                c->base_ms = from->base_ms;
                c->base_seq = from->base_seq;
        }
        if (c->base_ms != from->base_ms || c->base_seq != from->base_seq || c->seqs != from->seqs) {
                chunk_append(c, it);
                return;
        }
        memcpy(c->data + c->tail, from->data + it->off, it->len);
        c->tail += it->len;
}

/* Iterate over the records of chunk c; off is a new uint32_t, it a struct item. */
#define CHUNK_FOREACH(c, off, it) \
        for (uint32_t off = (c)->head; off < (c)->tail && (record_read((c), off, &(it)), true); off += (it).len)

/* The first item of the store, false if it is empty. */
static inline bool store_head(const struct item_store *s, struct item *it) {
        struct chunk *c = TAILQ_FIRST(&s->chunks);

        if (!c)
                return false;
        record_read(c, c->head, it);
        return true;
}

/* The item after *it, false at the end. */
static inline bool store_next(const struct item_store *s, struct item *it) {
        struct chunk *c = it->chunk;
        uint32_t off = it->off + it->len;

        (void) s;
        if (off >= c->tail) {
                c = TAILQ_NEXT(c, link);
                if (!c)
                        return false;
                off = c->head;
        }
        record_read(c, off, it);
        return true;
}
/* Iterate over every item of s, head first; it is a struct item. */
#define STORE_FOREACH(s, it) for (bool more_ = store_head((s), &(it)); more_; more_ = store_next((s), &(it)))

/* Make room at the tail for records of bytes bytes in all (RECORD_MAX of each); -ENOMEM. */
int store_reserve(struct item_store *s, size_t bytes, bool seqs);
/* Append *it at the tail, in room store_reserve() made. */
void store_append(struct item_store *s, const struct item *it);
/* Append *it at the tail, in a new chunk if it does not fit; -ENOMEM. */
int store_add(struct item_store *s, const struct item *it, bool seqs);
/* Link a whole chunk, with its records, at the head or the tail. */
void store_push_head(struct item_store *s, struct chunk *c);
void store_push_tail(struct item_store *s, struct chunk *c);
/* Put *it first, in a chunk of its own when the head has no room; -ENOMEM. */
int store_insert_head(struct item_store *s, const struct item *it, bool seqs);
/* Take out the record *it was read from (anywhere; the head costs nothing). */
void store_remove_any(struct item_store *s, const struct item *it);
static inline void store_remove(struct item_store *s, const struct item *it) {
        struct chunk *c = it->chunk;

        /* The head of a chunk that keeps other records: the common case, in line. */
        if (it->off == c->head && c->head + it->len < c->tail) {
                c->head += it->len;
                return;
        }
        store_remove_any(s, it);
}
/* Give the record *it was read from a new delivery count; -ENOMEM if its chunk cannot grow. */
int store_set_deliveries(struct item_store *s, struct item *it, uint32_t deliveries);
/* Remove every item, uncharging each from its user, and free the chunks. */
void store_clear(struct item_store *s);
/* Uncharge each of a chunk's records from its user. */
void chunk_uncharge(struct chunk *c);
/* Free a chunk's records (uncharged) and its block. */
void chunk_free(struct chunk *c);
