/* SPDX-License-Identifier: MIT */
/*
 * A queue's items as chunks of packed records (queue-store.h says why).
 *
 * A record is
 *
 *      varint size
 *      varint slot << 1 | handed_out   (the user's slot, user_slot())
 *      varint deliveries               (only when handed_out)
 *      varint zigzag(put_ms - chunk->base_ms)
 *      varint zigzag(seq - chunk->base_seq)    (only in a chunk with seqs)
 *      size bytes of payload
 *
 * with LEB128 varints. Records are read in order from a chunk's head, and
 * taken from the head; only a journal's replay takes one out of the middle
 * or rewrites one, which moves the records after it.
 *
 * Chunks grow from CHUNK_MIN to CHUNK_MAX bytes as a queue fills, so that a
 * queue holding one item does not hold 8 KiB, and one holding a million
 * items spends half a byte per item on chunk headers. A chunk emptied from
 * its head is freed at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue-store.h"
#include "user.h"

/* The allocation of a queue's first chunk, and of any chunk once a queue fills. */
#define CHUNK_MIN 256u
#define CHUNK_MAX 8192u

/* LEB128 (varint_get() is in the header). Most fields of most records take one byte: that case first, in line. */
static inline uint8_t *varint_put(uint8_t *p, uint64_t v) {
        if (v < 0x80) {
                *p = (uint8_t) v;
                return p + 1;
        }
        while (v >= 0x80) {
                *p++ = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        *p++ = (uint8_t) v;
        return p;
}

static inline uint32_t varint_len(uint64_t v) {
        uint32_t n = 1;

        while (v >= 0x80) {
                v >>= 7;
                n++;
        }
        return n;
}

/* Differences either way in few bytes: 0, -1, 1, -2 ... as 0, 1, 2, 3 ... */
static uint64_t zigzag(uint64_t x, uint64_t base) {
        uint64_t d = x - base;          /* the difference in two's complement */

        return (d << 1) ^ (0 - (d >> 63));
}

static uint64_t record_who(const struct item *it) {
        return (uint64_t) user_slot(it->user) << 1 | (it->deliveries != 0);
}

uint32_t record_len(const struct chunk *c, const struct item *it) {
        uint32_t n = varint_len(it->size) + varint_len(record_who(it)) + varint_len(zigzag(it->put_ms, c->base_ms));

        if (it->deliveries)
                n += varint_len(it->deliveries);
        if (c->seqs)
                n += varint_len(zigzag(it->seq, c->base_seq));
        return n + it->size;
}

uint32_t record_len_alone(const struct item *it, bool seqs) {
        /* Its put time and number are its chunk's bases: one byte each. */
        return varint_len(it->size) + varint_len(record_who(it)) + (it->deliveries ? varint_len(it->deliveries) : 0) +
               1 + (seqs ? 1 : 0) + it->size;
}

/* Write the header of *it's record in c at p; its end. */
static uint8_t *record_header(const struct chunk *c, uint8_t *p, const struct item *it) {
        p = varint_put(p, it->size);
        p = varint_put(p, record_who(it));
        if (it->deliveries)
                p = varint_put(p, it->deliveries);
        p = varint_put(p, zigzag(it->put_ms, c->base_ms));
        if (c->seqs)
                p = varint_put(p, zigzag(it->seq, c->base_seq));
        return p;
}

/* Write *it as a record of c at p; the end of the record. */
static uint8_t *record_write(const struct chunk *c, uint8_t *p, const struct item *it) {
        p = record_header(c, p, it);
        memcpy(p, it->data, it->size);
        return p + it->size;
}

struct chunk *chunk_init(void *mem, void *block, uint32_t cap, bool seqs) {
        struct chunk *c = mem;

        c->block = block;
        c->base_ms = c->base_seq = 0;
        c->head = c->tail = 0;
        c->cap = cap;
        c->seqs = seqs;
        return c;
}

void chunk_append(struct chunk *c, const struct item *it) {
        /* An empty chunk takes its bases from its first record, so that the differences stay small. */
        if (c->head == c->tail) {
                c->head = c->tail = 0;
                c->base_ms = it->put_ms;
                c->base_seq = it->seq;
        }
        c->tail = (uint32_t) (record_write(c, c->data + c->tail, it) - c->data);
}

void chunk_uncharge(struct chunk *c) {
        struct item it;

        CHUNK_FOREACH(c, off, it)
                user_uncharge(it.user, item_cost(it.size));
}

void chunk_free(struct chunk *c) {
        chunk_uncharge(c);
        free(c->block);
}

/* A chunk of its own allocation with cap bytes of room, or NULL. */
static struct chunk *chunk_new(uint32_t cap, bool seqs) {
        void *mem = malloc(chunk_size(cap));

        return mem ? chunk_init(mem, mem, cap, seqs) : NULL;
}

int store_reserve(struct item_store *s, size_t bytes, bool seqs) {
        struct chunk *tail = TAILQ_LAST(&s->chunks, chunk_list);
        size_t size = CHUNK_MIN;
        struct chunk *c;

        if (tail && tail->block == tail && chunk_room(tail) >= bytes)
                return 0;
        if (bytes > UINT32_MAX - sizeof(*c))
                return -ENOMEM;
        /* A queue that filled its last chunk gets one twice as large, up to CHUNK_MAX. */
        if (tail && chunk_size(tail->cap) * 2 > size)
                size = chunk_size(tail->cap) * 2 > CHUNK_MAX ? CHUNK_MAX : chunk_size(tail->cap) * 2;
        if (size < chunk_size((uint32_t) bytes))
                size = chunk_size((uint32_t) bytes);
        c = chunk_new((uint32_t) (size - sizeof(*c)), seqs);
        if (!c)
                return -ENOMEM;
        TAILQ_INSERT_TAIL(&s->chunks, c, link);
        return 0;
}

void store_append(struct item_store *s, const struct item *it) {
        chunk_append(TAILQ_LAST(&s->chunks, chunk_list), it);
}

int store_add(struct item_store *s, const struct item *it, bool seqs) {
        struct chunk *tail = TAILQ_LAST(&s->chunks, chunk_list);

        /* Its exact length: a chunk is filled to the last byte a record fits in. */
        if (!tail || tail->block != tail || record_len(tail, it) > chunk_room(tail))
                if (store_reserve(s, RECORD_MAX(it->size), seqs) < 0)
                        return -ENOMEM;
        store_append(s, it);
        return 0;
}

void store_push_head(struct item_store *s, struct chunk *c) {
        TAILQ_INSERT_HEAD(&s->chunks, c, link);
}

void store_push_tail(struct item_store *s, struct chunk *c) {
        TAILQ_INSERT_TAIL(&s->chunks, c, link);
}

int store_insert_head(struct item_store *s, const struct item *it, bool seqs) {
        struct chunk *c = TAILQ_FIRST(&s->chunks);
        uint32_t len;

        /* Into the room the items taken from the head left, relative to its bases. */
        if (c && c->head < c->tail && c->seqs == seqs) {
                len = record_len(c, it);
                if (len <= c->head) {
                        c->head -= len;
                        (void) record_write(c, c->data + c->head, it);
                        return 0;
                }
        }
        c = chunk_new(RECORD_MAX(it->size) > CHUNK_MIN ? (uint32_t) RECORD_MAX(it->size) : CHUNK_MIN, seqs);
        if (!c)
                return -ENOMEM;
        chunk_append(c, it);
        store_push_head(s, c);
        return 0;
}

uint64_t varint_get_long(const uint8_t **pp) {
        const uint8_t *p = *pp;
        uint64_t v = 0;
        unsigned shift = 0;

        while (*p & 0x80) {
                v |= (uint64_t) (*p++ & 0x7f) << shift;
                shift += 7;
        }
        v |= (uint64_t) *p++ << shift;
        *pp = p;
        return v;
}

void store_remove_any(struct item_store *s, const struct item *it) {
        struct chunk *c = it->chunk;

        if (it->off == c->head)
                c->head += it->len;
        else {
                memmove(c->data + it->off, c->data + it->off + it->len, c->tail - it->off - it->len);
                c->tail -= it->len;
        }
        if (c->head == c->tail) {
                TAILQ_REMOVE(&s->chunks, c, link);
                free(c->block);
        }
}

/* Move c's records into a chunk of its own with cap bytes of room, in its place; NULL when out of memory. */
static struct chunk *store_regrow(struct item_store *s, struct chunk *c, uint32_t cap) {
        struct chunk *n = chunk_new(cap, c->seqs);

        if (!n)
                return NULL;
        n->base_ms = c->base_ms;
        n->base_seq = c->base_seq;
        n->tail = c->tail - c->head;
        memcpy(n->data, c->data + c->head, n->tail);
        TAILQ_INSERT_AFTER(&s->chunks, c, n, link);
        TAILQ_REMOVE(&s->chunks, c, link);
        free(c->block);
        return n;
}

int store_set_deliveries(struct item_store *s, struct item *it, uint32_t deliveries) {
        struct chunk *c = it->chunk;
        uint32_t off = it->off, old_len = it->len, old_deliveries = it->deliveries, len, grow;
        uint8_t header[40], *end;

        it->deliveries = deliveries;
        len = record_len(c, it);
        grow = len > old_len ? len - old_len : 0;
        if (grow > chunk_room(c)) {
                off -= c->head;
                c = store_regrow(s, c, c->tail - c->head + grow);
                if (!c) {
                        it->deliveries = old_deliveries;
                        return -ENOMEM;
                }
        }
        /* The header changes length: the payload and the records after it move, in the order that keeps them. */
        end = record_header(c, header, it);
        if (len >= old_len) {
                memmove(c->data + off + len, c->data + off + old_len, c->tail - off - old_len);
                memmove(c->data + off + len - it->size, c->data + off + old_len - it->size, it->size);
        } else {
                memmove(c->data + off + len - it->size, c->data + off + old_len - it->size, it->size);
                memmove(c->data + off + len, c->data + off + old_len, c->tail - off - old_len);
        }
        memcpy(c->data + off, header, (size_t) (end - header));
        c->tail = c->tail + len - old_len;
        record_read(c, off, it);
        return 0;
}

void store_clear(struct item_store *s) {
        struct chunk *c;

        while ((c = TAILQ_FIRST(&s->chunks))) {
                TAILQ_REMOVE(&s->chunks, c, link);
                chunk_free(c);
        }
}
