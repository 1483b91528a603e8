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
#include "wire.h"

/* Number a new item and record it. */
void queue_journal_put(struct queue *q, struct item *it) {
        struct wire_buf *b;

        item_set_seq(it, ++q->next_seq);
        b = journal_begin(&q->obj, JOURNAL_QUEUE_PUT);
        if (b)
                journal_end(wire_put_u64(b, q->next_seq) | wire_put_bytes(b, it->data, it->size));
}

/*
 * Record that an item taken by a plain get came back: a put with the
 * sequence number it already had, which replay puts back at the head.
 */
void queue_journal_put_back(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_PUT);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)) | wire_put_bytes(b, it->data, it->size));
}

/* Record that an item left for good: a plain get, or a joinable item done. */
void queue_journal_remove(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_REMOVE);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)));
}

/*
 * Record how many times an item of a durable joinable queue was handed out,
 * so that after a restart its next consumer still learns that it may be
 * half processed.
 */
void queue_journal_delivered(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_DELIVERED);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)) | wire_put_u32(b, it->deliveries));
}

void queue_journal_purge(struct queue *q) {
        struct item *it;

        STAILQ_FOREACH(it, &q->items, link)
                queue_journal_remove(q, it);
}

void queue_journal_close(struct queue *q) {
        if (journal_begin(&q->obj, JOURNAL_QUEUE_CLOSE))
                journal_end(0);
}

static int item_seq_compare(const void *a, const void *b) {
        uint64_t x = item_seq(*(struct item *const *) a), y = item_seq(*(struct item *const *) b);

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
        struct item **all = malloc((total ? total : 1) * sizeof(*all));
        struct delivery *d, *tmp;
        struct item *it;

        if (!all)
                return -ENOMEM;
        STAILQ_FOREACH(it, &q->items, link)
                all[n++] = it;
        HASH_ITER(hh, q->by_tag, d, tmp)
                all[n++] = d->item;
        qsort(all, n, sizeof(*all), item_seq_compare);
        journal_create(o, q->maxsize, q->ttr_ms, 0);
        for (size_t i = 0; i < n; i++) {
                struct wire_buf *b = journal_begin(o, JOURNAL_QUEUE_PUT);

                if (b)
                        journal_end(wire_put_u64(b, item_seq(all[i])) | wire_put_bytes(b, all[i]->data, all[i]->size));
                if (all[i]->deliveries)
                        queue_journal_delivered(q, all[i]);
        }
        free(all);
        if (q->closed)
                queue_journal_close(q);
        return 0;
}

/*
 * The waiting item numbered seq, or NULL. Items leave and are handed out
 * from near the head: those before it are deliveries not done.
 */
static struct item *queue_replay_find(struct queue *q, uint64_t seq) {
        struct item *it;

        STAILQ_FOREACH(it, &q->items, link)
                if (item_seq(it) == seq)
                        return it;
        return NULL;
}

/* Take out the waiting item numbered seq; false if there is none. */
static bool queue_replay_remove(struct queue *q, uint64_t seq) {
        struct item *it = queue_replay_find(q, seq);

        if (!it)
                return false;
        STAILQ_REMOVE(&q->items, it, item, link);
        q->count--;
        q->bytes -= item_bytes(it);
        item_free(it);
        return true;
}

/* Give the waiting item numbered seq its recorded delivery count. */
static int queue_replay_delivered(struct queue *q, struct wire_reader *r) {
        uint32_t deliveries;
        uint64_t seq;
        struct item *it;

        if (!wire_get_u64(r, &seq) || !wire_get_u32(r, &deliveries) || !wire_reader_done(r))
                return -EBADMSG;
        it = queue_replay_find(q, seq);
        if (!it)
                return -ENOENT;
        it->deliveries = deliveries;
        return 0;
}

/* true if an item numbered seq waits in the queue. */
static bool queue_replay_has(const struct queue *q, uint64_t seq) {
        const struct item *it;

        STAILQ_FOREACH(it, &q->items, link)
                if (item_seq(it) == seq)
                        return true;
        return false;
}

/*
 * Apply a journal record of a durable queue, at start. A put numbered past
 * every item so far is a new item, at the tail; one with an old number is an
 * item put back after a get whose reply was never written, at the head.
 */
int queue_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct queue *q = queue_of(o);
        const void *data;
        uint32_t size;
        uint64_t seq;
        struct item *it;

        switch (kind) {
        case JOURNAL_QUEUE_PUT:
                if (!wire_get_u64(r, &seq) || !wire_get_bytes(r, &data, &size) || !wire_reader_done(r))
                        return -EBADMSG;
                /* Recovered items are charged to nobody, as the configuration's objects are. */
                it = item_new(q, data, size, NULL);
                if (!it)
                        return -ENOMEM;
                item_set_seq(it, seq);
                it->put_ms = now_ms();
                if (seq > q->next_seq)
                        STAILQ_INSERT_TAIL(&q->items, it, link);
                else if (queue_replay_has(q, seq)) {
                        /* Put back after a removal that was never written: it is there already. */
                        item_free(it);
                        return 0;
                } else
                        STAILQ_INSERT_HEAD(&q->items, it, link);
                q->count++;
                q->bytes += item_cost(size);
                if (seq > q->next_seq)
                        q->next_seq = seq;
                return 0;
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
