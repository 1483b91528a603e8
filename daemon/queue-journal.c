/* SPDX-License-Identifier: MIT */
/*
 * The journal of a durable queue: the records of its changes (an item
 * numbered and put, put back, removed, handed out again, the queue closed),
 * the records that recreate it (dump) and their application at start
 * (replay). An item of a durable queue carries its sequence number, by
 * which the records name it. When to record is queue.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "mpxd.h"
#include "queue-internal.h"
#include "user.h"
#include "wire.h"

/* Record an item added at the tail, numbered it->seq. */
void queue_journal_put(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_PUT);

        if (b)
                journal_end(wire_put_u64(b, it->seq) | wire_put_bytes(b, it->data, it->size));
}

/*
 * Record that the items of chunk c, taken by a plain get, came back: each a
 * put with the number it already had, which replay puts back at the head,
 * so last first to leave them in order. Records are read forwards only.
 */
void queue_journal_put_back(struct queue *q, struct chunk *c) {
        uint32_t n = 0, *offs;
        struct item it;

        CHUNK_FOREACH(c, off, it)
                n++;
        offs = malloc((n ? n : 1) * sizeof(*offs));
        if (offs) {
                uint32_t i = 0;

                CHUNK_FOREACH(c, off, it)
                        offs[i++] = off;
                while (i--) {
                        record_read(c, offs[i], &it);
                        queue_journal_put(q, &it);
                }
                free(offs);
                return;
        }
        /* Out of memory: find each last record by a walk from the head. */
        for (uint32_t end = c->tail; end > c->head; end = it.off) {
                uint32_t last = c->head;

                for (uint32_t off = c->head; off < end; off += it.len) {
                        record_read(c, off, &it);
                        last = off;
                }
                record_read(c, last, &it);
                queue_journal_put(q, &it);
        }
}

/* Record that an item left for good: a plain get, or a joinable item done. */
void queue_journal_remove(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_REMOVE);

        if (b)
                journal_end(wire_put_u64(b, it->seq));
}

/*
 * Record how many times an item of a durable joinable queue was handed out,
 * so that after a restart its next consumer still learns that it may be
 * half processed.
 */
void queue_journal_delivered(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_DELIVERED);

        if (b)
                journal_end(wire_put_u64(b, it->seq) | wire_put_u32(b, it->deliveries));
}

void queue_journal_purge(struct queue *q) {
        struct item it;

        STORE_FOREACH(&q->items, it)
                queue_journal_remove(q, &it);
}

void queue_journal_close(struct queue *q) {
        if (journal_begin(&q->obj, JOURNAL_QUEUE_CLOSE))
                journal_end(0);
}

static int item_seq_compare(const void *a, const void *b) {
        uint64_t x = ((const struct item *) a)->seq, y = ((const struct item *) b)->seq;

        return x < y ? -1 : x > y;
}

/*
 * The records that recreate the queue: its parameters, then every item in
 * sequence order, those handed out and not done included (they come back
 * ready), each followed by its delivery count if it was handed out, then
 * whether it is closed.
 */
int queue_dump(struct object *o) {
        struct queue *q = queue_of(o);
        size_t n = 0, total = (size_t) (q->count + q->n_delivered);
        struct item *all = malloc((total ? total : 1) * sizeof(*all));
        struct delivery *d, *tmp;
        struct item it;

        if (!all)
                return -ENOMEM;
        STORE_FOREACH(&q->items, it)
                all[n++] = it;
        HASH_ITER(hh, q->by_tag, d, tmp)
                delivery_item(d, &all[n++]);
        qsort(all, n, sizeof(*all), item_seq_compare);
        journal_create(o, q->maxsize, q->ttr_ms, 0);
        for (size_t i = 0; i < n; i++) {
                queue_journal_put(q, &all[i]);
                if (all[i].deliveries)
                        queue_journal_delivered(q, &all[i]);
        }
        free(all);
        if (q->closed)
                queue_journal_close(q);
        return 0;
}

/*
 * The waiting item numbered seq into *it; false if there is none. Items
 * leave and are handed out from near the head: those before it are
 * deliveries not done.
 */
static bool queue_replay_find(struct queue *q, uint64_t seq, struct item *it) {
        STORE_FOREACH(&q->items, *it)
                if (it->seq == seq)
                        return true;
        return false;
}

/* Take out the waiting item numbered seq; false if there is none. */
static bool queue_replay_remove(struct queue *q, uint64_t seq) {
        struct item it;

        if (!queue_replay_find(q, seq, &it))
                return false;
        q->count--;
        q->bytes -= item_cost(it.size);
        user_uncharge(it.user, item_cost(it.size));
        store_remove(&q->items, &it);
        return true;
}

/* Give the waiting item numbered seq its recorded delivery count. */
static int queue_replay_delivered(struct queue *q, struct wire_reader *r) {
        uint32_t deliveries;
        uint64_t seq;
        struct item it;

        if (!wire_get_u64(r, &seq) || !wire_get_u32(r, &deliveries) || !wire_reader_done(r))
                return -EBADMSG;
        if (!queue_replay_find(q, seq, &it))
                return -ENOENT;
        return store_set_deliveries(&q->items, &it, deliveries);
}

/*
 * Apply a journal record of a durable queue, at start. A put numbered past
 * every item so far is a new item, at the tail; one with an old number is an
 * item put back after a get whose reply was never written, at the head.
 * Recovered items are charged to nobody, as the configuration's objects are.
 */
static int queue_replay_put(struct queue *q, struct wire_reader *r) {
        struct item it = { .put_ms = now_ms() }, there;
        const void *data;
        int err;

        if (!wire_get_u64(r, &it.seq) || !wire_get_bytes(r, &data, &it.size) || !wire_reader_done(r))
                return -EBADMSG;
        it.data = data;
        if (it.seq > q->next_seq) {
                err = store_add(&q->items, &it, q->obj.durable);
                q->next_seq = it.seq;
        } else if (queue_replay_find(q, it.seq, &there))
                /* Put back after a removal that was never written: it is there already. */
                return 0;
        else
                err = store_insert_head(&q->items, &it, q->obj.durable);
        if (err < 0)
                return err;
        user_charge(NULL, item_cost(it.size));
        q->count++;
        q->bytes += item_cost(it.size);
        return 0;
}

int queue_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct queue *q = queue_of(o);
        uint64_t seq;

        switch (kind) {
        case JOURNAL_QUEUE_PUT:
                return queue_replay_put(q, r);
        case JOURNAL_QUEUE_REMOVE:
                if (!wire_get_u64(r, &seq) || !wire_reader_done(r))
                        return -EBADMSG;
                return queue_replay_remove(q, seq) ? 0 : -ENOENT;
        case JOURNAL_QUEUE_DELIVERED:
                return queue_replay_delivered(q, r);
        case JOURNAL_QUEUE_CLOSE:
                q->closed = true;
                return 0;
        }
        return -EBADMSG;
}
