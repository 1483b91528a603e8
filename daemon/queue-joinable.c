/* SPDX-License-Identifier: MIT */
/*
 * What joinable queues add to queues: a joinable item handed out becomes a
 * delivery, found by tag, linked to the connection that took it or, taken
 * detached, to the queue, until TASK_DONE (or DONE_GET) finishes it; JOIN
 * waits until nothing is unfinished. A delivery may have a lease, its
 * time-to-run: one not done nor touched within it goes back to the head of
 * the queue, as one whose connection closed does (queue-client.c). Each
 * leased delivery has a libevent timer of its own.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "client.h"
#include "log.h"
#include "mpxd.h"
#include "op.h"
#include "queue-internal.h"
#include "wire.h"

struct delivery *delivery_new(struct queue *q, struct client *c, const struct item *it, uint32_t ttr_ms) {
        struct item handed = *it;
        struct delivery *d;
        uint32_t len;

        handed.deliveries++;
        len = record_len_alone(&handed, q->obj.durable);
        d = malloc(sizeof(*d) + chunk_size(len));
        if (!d)
                return NULL;
        d->ttr_ms = ttr_ms ? ttr_ms : q->ttr_ms;
        d->lease = d->ttr_ms ? evtimer_new(mpxd.base, delivery_expired, d) : NULL;
        if (d->ttr_ms && !d->lease) {
                free(d);
                return NULL;
        }
        /*
         * The delivery is filed by its tag before the item leaves the
         * queue: a table that cannot grow refuses the getter with -ENOMEM
         * while the item is still at the head, exactly where it was, with
         * its counters, its tag and the journal untouched; nothing has to
         * be put back. A parked getter is answered -ENOMEM the same way
         * (queue_serve): parking it again could retry forever on a table
         * that cannot grow.
         */
        d->tag = q->next_tag + 1;
        HASH_ADD(hh, q->by_tag, tag, sizeof(d->tag), d);
        if (hash_add_failed()) {
                if (d->lease)
                        event_free(d->lease);
                free(d);
                return NULL;
        }
        q->next_tag = d->tag;
        d->chunk = chunk_init(d + 1, d, len, q->obj.durable);
        chunk_append(d->chunk, &handed);
        d->queue = q;
        d->client = c;
        d->deadline_ms = 0;
        if (d->ttr_ms)
                delivery_lease(d, d->ttr_ms);
        if (q->obj.durable)
                queue_journal_delivered(q, &handed);
        if (c)
                TAILQ_INSERT_TAIL(&client_shared(c)->deliveries, d, link);
        else
                TAILQ_INSERT_TAIL(&q->detached, d, link);
        q->n_delivered++;
        return d;
}

/* Take a delivery out of its queue's table, its list and the timers; its item stays. */
static void delivery_unlink(struct delivery *d) {
        struct queue *q = d->queue;

        HASH_DELETE(hh, q->by_tag, d);
        if (d->client)
                TAILQ_REMOVE(&client_shared(d->client)->deliveries, d, link);
        else
                TAILQ_REMOVE(&q->detached, d, link);
        if (d->lease) {
                /* Also from the lease's own callback, which libevent allows. */
                event_free(d->lease);
                d->lease = NULL;
        }
        q->n_delivered--;
}

/* Forget a finished delivery and free its item. */
void delivery_finish(struct delivery *d) {
        struct queue *q = d->queue;

        struct item it;

        delivery_unlink(d);
        delivery_item(d, &it);
        q->bytes -= item_cost(it.size);
        chunk_free(d->chunk);
}

/*
 * Put an unfinished delivery's item back at the head of its queue, to be
 * handed out again (with deliveries + 1); the caller serves the queue.
 */
void delivery_give_back(struct delivery *d) {
        struct queue *q = d->queue;

        delivery_unlink(d);
        /* The delivery's memory goes with its chunk, once the item is taken again. */
        store_push_head(&q->items, d->chunk);
        q->count++;
}

/* (Re)start a delivery's lease: it ends ttr_ms from now. */
void delivery_lease(struct delivery *d, uint32_t ttr_ms) {
        struct timeval tv = { .tv_sec = ttr_ms / 1000, .tv_usec = (ttr_ms % 1000) * 1000 };

        d->deadline_ms = loop_now_ms + ttr_ms;
        evtimer_add(d->lease, &tv);
}

/* A lease ran out: the item goes back to the head of the queue, as on a disconnect. */
void delivery_expired(evutil_socket_t fd, short what, void *arg) {
        struct delivery *d = arg;
        struct queue *q = d->queue;

        (void) fd;
        (void) what;
        log_info("queue '%s': delivery %" PRIu64 " ran out of its lease; redelivering", q->obj.name, d->tag);
        delivery_give_back(d);
        q->expired++;
        queue_serve(q);
}

/*
 * Finish a delivery of a joinable queue: tag's, or with tag 0 this
 * connection's oldest delivery of the queue, else the queue's oldest
 * detached one. -ENOENT for an unknown tag, -EINVAL when there is nothing
 * left to finish (task_done() called too many times).
 */
static int queue_finish(struct client *c, struct queue *q, uint64_t tag) {
        struct delivery *d = NULL;

        if (tag) {
                HASH_FIND(hh, q->by_tag, &tag, sizeof(tag), d);
                if (!d)
                        return -ENOENT;
        } else {
                TAILQ_FOREACH(d, &client_shared(c)->deliveries, link)
                        if (d->queue == q)
                                break;
                if (!d)
                        d = TAILQ_FIRST(&q->detached);
                if (!d)
                        return -EINVAL;
        }
        if (q->obj.durable) {
                struct item it;

                delivery_item(d, &it);
                queue_journal_remove(q, &it);
        }
        delivery_finish(d);
        return 0;
}

/* TASK_DONE: name, u64 tag (queue_finish()'s rule) -> (empty). */
int queue_handle_task_done(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);
        uint64_t tag = req->f[0].q;
        int err;

        err = queue_finish(c, q, tag);
        if (err < 0)
                return err;
        client_reply_status(c, req->id, req->op, 0);
        queue_serve(q);
        return 0;
}

/*
 * DONE_GET: name, u64 tag, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item.
 * A consumer's step in one round trip: TASK_DONE of tag, then GET. When the
 * finish fails (ENOENT, EINVAL) nothing else happens; any other answer
 * means the delivery is finished, whatever became of the get. Bad flags are
 * refused before anything is finished.
 */
int queue_handle_done_get(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct queue *q = NULL;
        int64_t timeout_ms;
        uint32_t flags, ttr_ms;
        uint64_t tag;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u64(r, &tag) || !wire_get_i64(r, &timeout_ms) ||
            !wire_get_u32(r, &flags) || !queue_get_ttr(r, &ttr_ms))
                return -EPROTO;
        err = OBJECT_FIND_AS(req, name, len, 1u << WIRE_TYPE_JOINABLE, &q);
        if (err < 0)
                return err;
        if (flags & ~WIRE_GET_DETACH)
                return -EINVAL;
        err = queue_finish(c, q, tag);
        if (err < 0)
                return err;
        /* Joiners the finish released, putters it made room for, getters before this one. */
        queue_serve(q);
        return queue_get_common(c, req, q, timeout_ms, flags, 1, ttr_ms);
}

/*
 * TOUCH: name, u64 tag. Restarts the lease of a delivery not done: it ends
 * its TTR (its GET's, or the queue's) from now. A delivery whose lease ran out is gone (ENOENT);
 * on a queue without leases there is nothing to extend, and TOUCH of a
 * delivery not done succeeds.
 */
int queue_handle_touch(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);
        struct delivery *d;
        uint64_t tag = req->f[0].q;

        HASH_FIND(hh, q->by_tag, &tag, sizeof(tag), d);
        if (!d)
                return -ENOENT;
        if (d->ttr_ms)
                delivery_lease(d, d->ttr_ms);
        return op_reply_ok(c, req);
}

/* JOIN: name, i64 timeout_ms. Waits until nothing is unfinished. */
int queue_handle_join(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);
        int64_t timeout_ms = req->f[0].i;

        if (queue_unfinished(q) == 0) {
                return op_reply_ok(c, req);
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        return wait_add(c, req, &q->obj, &q->joiners, timeout_ms) ? 0 : -errno;
}
