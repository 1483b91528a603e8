/* SPDX-License-Identifier: MIT */
/*
 * What a connection holds of queues: its deliveries of joinable queues (and
 * their leases), the plain-queue items of its replies not yet written in
 * full, and the queues it declared for itself (QUEUE_CONNECTION). When the
 * connection is lost, items go back to the head of their queues, in order,
 * and its own queues are deleted.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "log.h"
#include "mpxd.h"
#include "queue-internal.h"
#include "wire.h"

TAILQ_HEAD(queue_touched, queue);
TAILQ_HEAD(unsent_list, unsent_items);

/*
 * Most replies carry a few small items: their records fit in UNSENT_BLOCK
 * bytes. Up to UNSENT_POOL such blocks are kept for reuse when freed, since
 * a client with many gets in flight has more of them alive at once than
 * glibc keeps of one size in its per-thread cache, and the slower path then
 * cost about 120 instructions per get.
 */
#define UNSENT_BLOCK 256u
#define UNSENT_POOL 64u

static void *unsent_pool[UNSENT_POOL];
static unsigned unsent_pooled;

struct unsent_items *unsent_new(const struct queue *q, size_t records) {
        size_t at = (sizeof(struct unsent_items) + q->obj.name_len + 1 + 7) & ~(size_t) 7;
        struct unsent_items *u;
        bool pooled;

        if (records > UINT32_MAX - at - sizeof(struct chunk))
                return NULL;
        pooled = at + chunk_size((uint32_t) records) <= UNSENT_BLOCK;
        if (pooled && unsent_pooled)
                u = unsent_pool[--unsent_pooled];
        else
                u = malloc(pooled ? UNSENT_BLOCK : at + chunk_size((uint32_t) records));
        if (!u)
                return NULL;
        u->end = 0;
        u->serial = q->obj.serial;
        u->user = NULL;
        u->mixed = false;
        u->pooled = pooled;
        u->n = 0;
        u->bytes = 0;
        u->chunk = chunk_init((char *) u + at, u, (uint32_t) records, q->obj.durable);
        u->name_len = q->obj.name_len;
        memcpy(u->name, q->obj.name, q->obj.name_len + 1);
        return u;
}

void unsent_free(struct unsent_items *u) {
        if (u->mixed)
                chunk_uncharge(u->chunk);
        else
                user_uncharge_many(u->user, u->bytes, u->n);
        if (u->pooled && unsent_pooled < UNSENT_POOL)
                unsent_pool[unsent_pooled++] = u;
        else
                free(u);
}

void queue_unsent_pool_free(void) {
        while (unsent_pooled)
                free(unsent_pool[--unsent_pooled]);
}

unsigned queue_client_deliveries(const struct client *c) {
        const struct delivery *d;
        unsigned n = 0;

        TAILQ_FOREACH(d, &client_shared(c)->deliveries, link)
                n++;
        return n;
}

/* Milliseconds until the earliest lease of the client's attached deliveries runs out; -1 for none. */
int64_t queue_client_next_lease(const struct client *c) {
        const struct delivery *d;
        uint64_t first = UINT64_MAX, t = loop_now_ms;

        TAILQ_FOREACH(d, &client_shared(c)->deliveries, link)
                if (d->deadline_ms && d->deadline_ms < first)
                        first = d->deadline_ms;
        if (first == UINT64_MAX)
                return -1;
        return first > t ? (int64_t) (first - t) : 0;
}

void queue_client_written(struct client *c, uint64_t written) {
        struct unsent_items *u;

        while ((u = TAILQ_FIRST(&client_shared(c)->unsent)) && u->end <= written) {
                TAILQ_REMOVE(&client_shared(c)->unsent, u, link);
                unsent_free(u);
        }
}

/*
 * Items of a reply that was not written in full go back to the head of
 * their queue, in order, as if never handed out: the record kept the
 * delivery counts they had; redelivered counts them, as gets did (gets
 * minus redelivered is what was delivered). The reply's chunk is linked at
 * the head as it is, and the record goes with it. A durable queue's journal
 * gets the items last first, each put back at the head on replay, which
 * leaves them in order.
 */
static void queue_put_back(struct queue *q, struct unsent_items *u) {
        struct chunk *c = u->chunk;

        /* The record counted its items and their cost as the reply was built. */
        q->count += u->n;
        q->bytes += u->bytes;
        q->redelivered += u->n;
        if (q->obj.durable)
                queue_journal_put_back(q, c);
        if (c->head == c->tail)
                unsent_free(u);
        else
                store_push_head(&q->items, c);
}

/* The queue an unsent reply's items came from, if it still exists; NULL if it was deleted. */
static struct queue *unsent_queue(const struct unsent_items *u) {
        struct object *o = object_find(u->name, u->name_len);

        return o && o->serial == u->serial && o->ops->type == WIRE_TYPE_QUEUE ? queue_of(o) : NULL;
}

/* Mark a queue to be served once everything a lost client held is back. */
static void queue_touch(struct queue *q, struct queue_touched *touched) {
        if (q->serve_pending)
                return;
        q->serve_pending = true;
        TAILQ_INSERT_TAIL(touched, q, serve_link);
}

/*
 * The client_lost hook: put back at the head of their queues, in order, what
 * a lost client had taken: its undone joinable items, and the plain-queue
 * items of replies that were not written in full. Then delete the queues it
 * owns (QUEUE_CONNECTION).
 */
void queue_client_lost(struct client *c) {
        struct queue_touched touched = TAILQ_HEAD_INITIALIZER(touched);
        struct unsent_items *u;
        struct delivery *d;
        struct queue *q = NULL;

        /* Replies newest first, each at the head: the oldest reply's items end up first. */
        while ((u = TAILQ_LAST(&client_shared(c)->unsent, unsent_list))) {
                TAILQ_REMOVE(&client_shared(c)->unsent, u, link);
                q = unsent_queue(u);
                if (q) {
                        /* Debug only: a client that gets and closes in a loop must not flood the log. */
                        log_debug("queue '%s': a reply to %s was not written; its items go back", q->obj.name,
                                  client_describe(c));
                        queue_put_back(q, u);
                        queue_touch(q, &touched);
                } else
                        unsent_free(u);
        }

        /*
         * Walk the client's deliveries newest first, pushing each back at the
         * head of its queue: the oldest ends up first, in the original order.
         * Serve only once all are back, or a later item could overtake.
         */
        while ((d = TAILQ_LAST(&client_shared(c)->deliveries, delivery_list))) {
                q = d->queue;
                delivery_give_back(d);
                q->redelivered++;
                queue_touch(q, &touched);
        }
        while ((q = TAILQ_FIRST(&touched))) {
                TAILQ_REMOVE(&touched, q, serve_link);
                q->serve_pending = false;
                if (q->joinable)
                        log_info("queue '%s': %s left items undone; redelivering", q->obj.name,
                                 client_describe(c));
                queue_serve(q);
        }
        /* Its own queues go with it; their other getters and putters are told EIDRM. */
        while ((q = TAILQ_FIRST(&client_shared(c)->owned_queues))) {
                log_info("queue '%s': deleted with %s, which created it for itself", q->obj.name,
                         client_describe(c));
                object_delete(&q->obj, -EIDRM);
        }
}
