/* SPDX-License-Identifier: MIT */
/*
 * What the files of queues share (queue.c, queue-journal.c,
 * queue-client.c): items, deliveries, unsent replies and struct queue, with
 * the small steps all three use. Private to those files; queue.h is the
 * interface of queues for the rest of the daemon.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "hash.h"
#include "macros.h"
#include "object.h"
#include "queue-store.h"
#include "queue.h"
#include "user.h"
#include "wait.h"

struct client;
struct request;
struct user;
struct wire_reader;

/*
 * An item handed out by a joinable queue, until it is done. Its item is a
 * chunk of one record in the same allocation (delivery_item() reads it),
 * with its delivery count already raised, ready to go back to the head of
 * the queue as it is.
 */
struct delivery {
        UT_hash_handle hh;              /* in queue->by_tag */
        uint64_t tag;
        struct chunk *chunk;            /* its item: in this allocation, right after the struct */
        struct queue *queue;
        struct client *client;          /* NULL when detached */
        TAILQ_ENTRY(delivery) link;     /* in client->deliveries or queue->detached */
        uint32_t ttr_ms;                /* its lease, restarted by TOUCH; 0: none */
        uint64_t deadline_ms;           /* 0: no lease */
        struct event *lease;            /* fires at deadline_ms; NULL without a TTR */
};

/*
 * The items of a plain queue in one reply not yet written in full, as a
 * chunk in the same allocation, with the delivery counts they had in the
 * queue. They stay charged to their putters until the kernel accepts the
 * reply's last byte (queue_client_written frees them); if the client is
 * lost before, they were never delivered and the chunk goes back to the
 * head of their queue (queue_client_lost). The queue is found again by name
 * and serial: it may be deleted meanwhile.
 */
struct unsent_items {
        TAILQ_ENTRY(unsent_items) link;         /* in client->unsent, oldest reply first */
        uint64_t end;                           /* client->out_written once the reply is written */
        uint64_t serial;                        /* of the queue */
        struct chunk *chunk;                    /* the items, after the name */
        /* What they are charged, so that a reply written is uncharged without reading its records. */
        struct user *user;                      /* of them all, unless mixed */
        bool mixed;                             /* of several users */
        bool pooled;                            /* an UNSENT_BLOCK, kept for reuse when freed */
        uint32_t n;
        uint64_t bytes;
        size_t name_len;
        char name[];
};

struct queue {
        struct object obj;
        uint64_t maxsize;               /* 0: unbounded */
        bool joinable;
        bool closed;

        struct item_store items;
        uint64_t count;                 /* items waiting */
        uint64_t bytes;                 /* item_cost() of the items waiting and delivered */

        struct delivery *by_tag;        /* uthash of deliveries not done */
        uint64_t n_delivered;
        uint64_t next_tag;
        struct delivery_list detached;

        struct waiter_list getters;
        struct waiter_list putters;
        struct waiter_list joiners;

        uint32_t ttr_ms;                /* the lease of a delivery; 0: none */
        uint64_t puts, gets, redelivered, expired;
        uint64_t next_seq;              /* durable: the sequence number of the last item put */

        bool serve_pending;             /* on a local list in queue_client_lost */
        TAILQ_ENTRY(queue) serve_link;

        struct client *owner;           /* QUEUE_CONNECTION: deleted when this client is lost */
        TAILQ_ENTRY(queue) owner_link;  /* in owner->owned_queues */
};

static inline struct queue *queue_of(struct object *o) {
        return container_of(o, struct queue, obj);
}

static inline uint64_t queue_unfinished(const struct queue *q) {
        return q->count + q->n_delivered;
}

/* true if n more items fit. */
static inline bool queue_has_room(const struct queue *q, uint64_t n) {
        return q->maxsize == 0 || (q->count <= q->maxsize && n <= q->maxsize - q->count);
}

/* queue.c: what the other files need of the storage. */
/* Serve the queue's waiters after any change. */
void queue_serve(struct queue *q);
/* The common end of GET, GET_MANY and DONE_GET: items now, a parked getter, or an error. */
int queue_get_common(struct client *c, const struct request *req, struct queue *q, int64_t timeout_ms,
                     uint32_t flags, uint32_t max, uint32_t ttr_ms);
/* Parse the optional u32 ttr_ms that ends a get's body (0 when left out). */
bool queue_get_ttr(struct wire_reader *r, uint32_t *ttr_ms);
/* queue-client.c: the records of replies not yet written. */
/*
 * A record for the plain-queue items (records bytes of them at most) a
 * reply to a client with a socket will carry, or NULL when out of memory. A
 * socketless client's replies are taken from its buffer by its caller at
 * once: they are delivered as they are made.
 */
struct unsent_items *unsent_new(const struct queue *q, size_t records);
/* Free the record of an unsent reply and uncharge the items it holds. */
void unsent_free(struct unsent_items *u);

/* Keep *it in the record of a reply not yet written. */
static inline void unsent_add(struct unsent_items *u, const struct item *it) {
        chunk_copy(u->chunk, it);
        if (u->n++ == 0)
                u->user = it->user;
        u->mixed |= u->user != it->user;
        u->bytes += item_cost(it->size);
}

/* queue-journal.c: the records of a durable queue's changes (the caller checks durable), dump and replay. */
void queue_journal_put(struct queue *q, const struct item *it);
void queue_journal_put_back(struct queue *q, struct chunk *c);
void queue_journal_remove(struct queue *q, const struct item *it);
void queue_journal_delivered(struct queue *q, const struct item *it);
void queue_journal_purge(struct queue *q);
void queue_journal_close(struct queue *q);
int queue_dump(struct object *o);
int queue_replay(struct object *o, uint16_t kind, struct wire_reader *r);

/* queue-joinable.c: deliveries and their leases. */
/*
 * Hand out *it (the head of q) as a delivery to client c (NULL with
 * WIRE_GET_DETACH), filed by a new tag, with a lease of ttr_ms (0: the
 * queue's); NULL when out of memory, with nothing changed.
 */
struct delivery *delivery_new(struct queue *q, struct client *c, const struct item *it, uint32_t ttr_ms);
/* The item of a delivery. */
static inline void delivery_item(const struct delivery *d, struct item *it) {
        record_read(d->chunk, d->chunk->head, it);
}
/* Forget a finished delivery and free its item. */
void delivery_finish(struct delivery *d);
/* Put an unfinished delivery's item back at the head of its queue; the caller serves the queue. */
void delivery_give_back(struct delivery *d);
/* (Re)start a delivery's lease: it ends ttr_ms from now. */
void delivery_lease(struct delivery *d, uint32_t ttr_ms);
/* The timer of a lease that ran out. */
void delivery_expired(evutil_socket_t fd, short what, void *arg);

/* queue-client.c: the client_lost hook of queues. */
void queue_client_lost(struct client *c);
