/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues, with the semantics of Python's Queue and
 * JoinableQueue made exact: qsize is the true count, close ends the stream
 * for consumers once drained, and a joinable item taken by a connection that
 * closes before task_done goes back to the head of the queue.
 *
 * Storage: items in FIFO order; getters, putters and joiners on FIFO wait
 * lists, served strictly in arrival order (a put_many that does not fit
 * blocks the puts behind it). A joinable item handed out becomes a delivery,
 * found by tag, and linked either to the connection that took it or, when
 * taken detached, to the queue. "unfinished" is what join waits for: items
 * waiting plus deliveries not done.
 *
 * A joinable queue may give its deliveries a lease, its time-to-run (TTR):
 * a delivery not done nor touched within it goes back to the head of the
 * queue, as one whose connection closed does, so that a consumer that hangs
 * or dies holding a detached delivery does not keep it forever. Each leased
 * delivery has a libevent timer of its own (libevent keeps them in a heap).
 *
 * The first half of the file is the storage API, the second the request
 * handlers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "queue.h"
#include "user.h"
#include "wait.h"
#include "wire.h"

/*
 * One payload. Items are the bulk of the daemon's memory, so the header is
 * kept to 32 bytes: a singly-linked list suffices, since items leave a queue
 * only from its head. An item is charged to the user that put it from its
 * allocation to its free (item_new, item_free), whether it waits in a
 * putter's pending list, in the queue or in a delivery.
 */
struct item {
        STAILQ_ENTRY(item) link;
        struct user *user;              /* charged for its size and QUEUE_ITEM_OVERHEAD */
        uint64_t put_ms;                /* when it was first put */
        uint32_t size;
        uint32_t deliveries;            /* how many times it was handed out */
        uint8_t data[];
};

/*
 * What an item holds on top of its payload: its header, the sequence number
 * a durable queue's item carries (counted for every item, so that the cost
 * is one figure), and two words for malloc's chunk header and its rounding
 * up to 16 bytes. It is charged with the payload, so that empty items
 * cannot get round limits.max_memory.
 */
#define QUEUE_ITEM_OVERHEAD (sizeof(struct item) + sizeof(uint64_t) + 2 * sizeof(void *))

const uint64_t queue_item_overhead = QUEUE_ITEM_OVERHEAD;

/* The bytes an item of size payload bytes is charged for. */
static uint64_t item_cost(uint32_t size) {
        return (uint64_t) size + QUEUE_ITEM_OVERHEAD;
}

static uint64_t item_bytes(const struct item *it) {
        return item_cost(it->size);
}

struct delivery {
        UT_hash_handle hh;              /* in queue->by_tag */
        uint64_t tag;
        struct item *item;
        struct queue *queue;
        struct client *client;          /* NULL when detached */
        TAILQ_ENTRY(delivery) link;     /* in client->deliveries or queue->detached */
        uint32_t ttr_ms;                /* its lease, restarted by TOUCH; 0: none */
        uint64_t deadline_ms;           /* 0: no lease */
        struct event lease;             /* fires at deadline_ms */
};

/*
 * The items of a plain queue in one reply not yet written in full. They stay
 * charged to their putters until the kernel accepts the reply's last byte
 * (queue_client_written frees them); if the client is lost before, they were
 * never delivered and go back to the head of their queue (queue_client_lost).
 * The queue is found again by name and serial: it may be deleted meanwhile.
 */
struct unsent_items {
        TAILQ_ENTRY(unsent_items) link;         /* in client->unsent, oldest reply first */
        uint64_t end;                           /* client->out_written once the reply is written */
        uint64_t serial;                        /* of the queue */
        struct item_list items;
        size_t name_len;
        char name[];
};

struct queue {
        struct object obj;
        uint64_t maxsize;               /* 0: unbounded */
        bool joinable;
        bool closed;

        struct item_list items;
        uint64_t count;                 /* items waiting */
        uint64_t bytes;                 /* item_bytes() of the items waiting and delivered */

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

static const struct object_type queue_type, joinable_type;
static void queue_client_lost(struct client *c);

static void queue_serve(struct queue *q);

/* The payload of a put parked until there is room: its items, freed with the waiter if never appended. */
struct parked_put {
        struct item_list items;
        uint32_t n;
};

static struct parked_put *parked_of(struct waiter *w) {
        return w->payload;
}

/* The waiter_free hook: a parked put's items that never went in. */
static void queue_waiter_free(struct waiter *w) {
        queue_items_free(&parked_of(w)->items);
        free(w->payload);
}
TAILQ_HEAD(queue_touched, queue);
TAILQ_HEAD(unsent_list, unsent_items);

#define QUEUE_TYPES ((1u << WIRE_TYPE_QUEUE) | (1u << WIRE_TYPE_JOINABLE))

/* Reply overhead of one item: u64 tag, u32 deliveries, u32 payload length. */
#define ITEM_WIRE_OVERHEAD 16u

static struct queue *queue_of(struct object *o) {
        return container_of(o, struct queue, obj);
}

/* ---- storage API ---- */

/*
 * An item of a durable queue carries its sequence number (u64, in host
 * order) right after its payload: the journal names items by it, and items
 * of queues that are not durable cost nothing more.
 */
static uint64_t item_seq(const struct item *it) {
        uint64_t seq;

        memcpy(&seq, it->data + it->size, sizeof(seq));
        return seq;
}

static void item_set_seq(struct item *it, uint64_t seq) {
        memcpy(it->data + it->size, &seq, sizeof(seq));
}

/* A copy of a payload, charged to user; the caller checked user_may_hold(). */
static struct item *item_new(const struct queue *q, const void *data, uint32_t size, struct user *user) {
        struct item *it = malloc(sizeof(*it) + size + (q->obj.durable ? sizeof(uint64_t) : 0));

        if (!it)
                return NULL;
        it->user = user;
        it->put_ms = 0;
        it->size = size;
        it->deliveries = 0;
        memcpy(it->data, data, size);
        user_charge(user, item_cost(size));
        return it;
}

static void item_free(struct item *it) {
        user_uncharge(it->user, item_bytes(it));
        free(it);
}

void queue_items_free(struct item_list *items) {
        struct item *it;

        while ((it = STAILQ_FIRST(items))) {
                STAILQ_REMOVE_HEAD(items, link);
                item_free(it);
        }
}

/* ---- the journal of a durable queue ---- */

/* Number a new item and record it. */
static void queue_journal_put(struct queue *q, struct item *it) {
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
static void queue_journal_put_back(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_PUT);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)) | wire_put_bytes(b, it->data, it->size));
}

/* Record that an item left for good: a plain get, or a joinable item done. */
static void queue_journal_remove(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_REMOVE);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)));
}

/*
 * Record how many times an item of a durable joinable queue was handed out,
 * so that after a restart its next consumer still learns that it may be
 * half processed.
 */
static void queue_journal_delivered(struct queue *q, const struct item *it) {
        struct wire_buf *b = journal_begin(&q->obj, JOURNAL_QUEUE_DELIVERED);

        if (b)
                journal_end(wire_put_u64(b, item_seq(it)) | wire_put_u32(b, it->deliveries));
}

static void queue_journal_purge(struct queue *q) {
        struct item *it;

        STAILQ_FOREACH(it, &q->items, link)
                queue_journal_remove(q, it);
}

static void queue_journal_close(struct queue *q) {
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
static int queue_dump(struct object *o) {
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
static int queue_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
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

static uint64_t queue_unfinished(const struct queue *q) {
        return q->count + q->n_delivered;
}

/* true if n more items fit. */
static bool queue_has_room(const struct queue *q, uint64_t n) {
        return q->maxsize == 0 || (q->count <= q->maxsize && n <= q->maxsize - q->count);
}

/* Append items (moved out of list) at the tail. */
static void queue_append(struct queue *q, struct item_list *list, uint32_t n) {
        uint64_t t = loop_now_ms;
        struct item *it;

        STAILQ_FOREACH(it, list, link) {
                it->put_ms = t;
                q->bytes += item_bytes(it);
                if (q->obj.durable)
                        queue_journal_put(q, it);
        }
        STAILQ_CONCAT(&q->items, list);
        q->count += n;
        q->puts += n;
}

/* Take a delivery out of its queue's table, its list and the timers; its item stays. */
static void delivery_unlink(struct delivery *d) {
        struct queue *q = d->queue;

        HASH_DELETE(hh, q->by_tag, d);
        if (d->client)
                TAILQ_REMOVE(&d->client->deliveries, d, link);
        else
                TAILQ_REMOVE(&q->detached, d, link);
        if (d->deadline_ms)
                evtimer_del(&d->lease);
        q->n_delivered--;
}

/* Forget a finished delivery and free its item. */
static void delivery_finish(struct delivery *d) {
        struct queue *q = d->queue;

        delivery_unlink(d);
        q->bytes -= item_bytes(d->item);
        item_free(d->item);
        free(d);
}

/*
 * Put an unfinished delivery's item back at the head of its queue, to be
 * handed out again (with deliveries + 1); the caller serves the queue.
 */
static void delivery_give_back(struct delivery *d) {
        struct queue *q = d->queue;

        delivery_unlink(d);
        STAILQ_INSERT_HEAD(&q->items, d->item, link);
        q->count++;
        free(d);
}

/* (Re)start a delivery's lease: it ends ttr_ms from now. */
static void delivery_lease(struct delivery *d, uint32_t ttr_ms) {
        struct timeval tv = { .tv_sec = ttr_ms / 1000, .tv_usec = (ttr_ms % 1000) * 1000 };

        d->deadline_ms = loop_now_ms + ttr_ms;
        evtimer_add(&d->lease, &tv);
}

/* A lease ran out: the item goes back to the head of the queue, as on a disconnect. */
static void delivery_expired(evutil_socket_t fd, short what, void *arg) {
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
 * Take the head item for client c. For a joinable queue it becomes a
 * delivery (tied to c unless detached) and *ret_tag is its tag; otherwise the
 * caller owns and frees the item. Returns NULL only on -ENOMEM, leaving the
 * queue as it was.
 */
static struct item *queue_take(struct queue *q, struct client *c, uint32_t flags, uint32_t ttr_ms,
                               uint64_t *ret_tag) {
        struct item *it = STAILQ_FIRST(&q->items);
        struct delivery *d = NULL;

        if (q->joinable) {
                d = calloc(1, sizeof(*d));
                if (!d)
                        return NULL;
                /*
                 * The delivery is filed by its tag before the item leaves
                 * the queue: a table that cannot grow refuses the getter
                 * with -ENOMEM while the item is still at the head, exactly
                 * where it was, with its counters, its tag and the journal
                 * untouched; nothing has to be put back. A parked getter is
                 * answered -ENOMEM the same way (queue_reply_items): parking
                 * it again could retry forever on a table that cannot grow.
                 */
                d->tag = q->next_tag + 1;
                HASH_ADD(hh, q->by_tag, tag, sizeof(d->tag), d);
                if (hash_add_failed()) {
                        free(d);
                        return NULL;
                }
                q->next_tag = d->tag;
        }
        STAILQ_REMOVE_HEAD(&q->items, link);
        q->count--;
        q->gets++;
        it->deliveries++;
        if (!d && q->obj.durable)
                queue_journal_remove(q, it);
        if (!d) {
                q->bytes -= item_bytes(it);
                *ret_tag = 0;
                return it;
        }
        d->item = it;
        d->queue = q;
        evtimer_assign(&d->lease, mpxd.base, delivery_expired, d);
        d->ttr_ms = ttr_ms ? ttr_ms : q->ttr_ms;
        if (d->ttr_ms)
                delivery_lease(d, d->ttr_ms);
        if (q->obj.durable)
                queue_journal_delivered(q, it);
        if (flags & WIRE_GET_DETACH)
                TAILQ_INSERT_TAIL(&q->detached, d, link);
        else {
                d->client = c;
                TAILQ_INSERT_TAIL(&c->deliveries, d, link);
        }
        q->n_delivered++;
        *ret_tag = d->tag;
        return it;
}

/*
 * A record of the plain-queue items a reply to a client with a socket will
 * carry, or NULL when out of memory. A socketless client's replies are taken
 * from its buffer by its caller at once: they are delivered as they are made.
 */
static struct unsent_items *unsent_new(const struct queue *q) {
        struct unsent_items *u = malloc(sizeof(*u) + q->obj.name_len + 1);

        if (!u)
                return NULL;
        u->end = 0;
        u->serial = q->obj.serial;
        STAILQ_INIT(&u->items);
        u->name_len = q->obj.name_len;
        memcpy(u->name, q->obj.name, q->obj.name_len + 1);
        return u;
}

static void unsent_free(struct unsent_items *u) {
        queue_items_free(&u->items);
        free(u);
}

/* Append one item to a reply: u64 tag, u32 deliveries, bytes payload (room is reserved). */
static void put_item(struct wire_buf *b, const struct item *it, uint64_t tag) {
        (void) wire_put_u64(b, tag);
        (void) wire_put_u32(b, it->deliveries);
        (void) wire_put_bytes(b, it->data, it->size);
}

/*
 * Answer a getter (GET or GET_MANY) from the head of the queue, which is not
 * empty. Room in the reply is reserved before anything is taken, so an item
 * is never lost to a failed allocation. Returns 0 or -ENOMEM.
 */
static int queue_reply_items(struct queue *q, struct client *c, uint32_t id, uint16_t op,
                             uint32_t flags, uint32_t max, uint32_t ttr_ms) {
        bool many = op == WIRE_OP_QUEUE_GET_MANY;
        size_t need = many ? 4 : 0, start, count_at = 0;
        struct unsent_items *unsent = NULL;
        uint32_t n = 0;
        struct wire_buf *b;
        struct item *it;

        /* How many items fit in one reply frame. */
        STAILQ_FOREACH(it, &q->items, link) {
                size_t more = ITEM_WIRE_OVERHEAD + it->size;
                if (n == max || (n > 0 && need + more > mpxd.max_frame))
                        break;
                need += more;
                n++;
                if (!many)
                        break;
        }
        if (wire_buf_reserve(&c->out, WIRE_HEADER_SIZE + need) < 0)
                return -ENOMEM;
        if (!q->joinable && c->fd >= 0) {
                unsent = unsent_new(q);
                if (!unsent)
                        return -ENOMEM;
        }
        b = client_reply_begin(c, id, op, &start);
        if (many) {
                count_at = b->len;
                (void) wire_put_u32(b, 0);
        }
        for (uint32_t i = 0; i < n; i++) {
                uint64_t tag;
                struct item *got = queue_take(q, c, flags, ttr_ms, &tag);
                if (!got) {
                        if (i == 0) {
                                /* Only a joinable take fails, and joinable replies keep no record: kept safe anyway. */
                                if (unsent)
                                        unsent_free(unsent);
                                client_reply_abort(c, start, -ENOMEM, id, op);
                                return 0;
                        }
                        n = i;
                        break;
                }
                put_item(b, got, tag);
                if (unsent)
                        STAILQ_INSERT_TAIL(&unsent->items, got, link);
                else if (!q->joinable)
                        item_free(got);
        }
        if (many)
                wire_patch_u32(b, count_at, n);
        /* Also outside a request (a parked getter served): items not written yet hold the reply. */
        journal_touch(&q->obj);
        client_reply_end(c, start);
        if (unsent) {
                unsent->end = c->out_written + (c->out.len - c->out_off);
                TAILQ_INSERT_TAIL(&c->unsent, unsent, link);
        }
        q->obj.active_ms = loop_now_ms;
        return 0;
}

/*
 * Serve waiters after any change: admit putters that now fit, in order; hand
 * items to getters, in order; end the stream for getters of a closed, drained
 * queue; release joiners when nothing is unfinished.
 */
static void queue_serve(struct queue *q) {
        for (;;) {
                struct waiter *w, *next;
                bool progress = false;

                while ((w = TAILQ_FIRST(&q->putters)) && queue_has_room(q, parked_of(w)->n)) {
                        queue_append(q, &parked_of(w)->items, parked_of(w)->n);
                        parked_of(w)->n = 0;
                        client_reply_status(w->client, w->id, w->op, 0);
                        wait_free(w);
                }
                for (w = TAILQ_FIRST(&q->getters); w && q->count > 0; w = next) {
                        next = TAILQ_NEXT(w, obj_link);
                        /* An overflowed client is lost once this event is handled: items stay for others. */
                        if (client_state(w->client) == CLIENT_OVERFLOWED)
                                continue;
                        if (queue_reply_items(q, w->client, w->id, w->op, w->flags, w->max, w->ttr_ms) < 0)
                                break;
                        wait_free(w);
                        progress = true;
                }
                /* Getters made room: putters may fit now. */
                if (!progress || TAILQ_EMPTY(&q->putters))
                        break;
        }
        if (q->closed && q->count == 0)
                wait_fail_all(&q->getters, -EPIPE);
        if (queue_unfinished(q) == 0)
                wait_fail_all(&q->joiners, 0);
}

static void queue_serve_object(struct object *o) {
        queue_serve(queue_of(o));
}

static void queue_wake_all(struct object *o, int neg_errno) {
        struct queue *q = queue_of(o);

        wait_fail_all(&q->getters, neg_errno);
        wait_fail_all(&q->putters, neg_errno);
        wait_fail_all(&q->joiners, neg_errno);
}

static void queue_free(struct object *o) {
        struct queue *q = queue_of(o);
        struct delivery *d, *tmp;

        if (q->owner)
                TAILQ_REMOVE(&q->owner->owned_queues, q, owner_link);
        HASH_ITER(hh, q->by_tag, d, tmp)
                delivery_finish(d);
        queue_items_free(&q->items);
        free(q);
}

/*
 * Milliseconds from t to the earliest deadline of the queue's deliveries
 * (0 if it passed), or -1 when none has a lease. Only INFO asks, so the
 * deliveries are scanned.
 */
static int64_t queue_next_deadline(const struct queue *q, uint64_t t) {
        const struct delivery *d, *tmp;
        uint64_t first = UINT64_MAX;

        HASH_ITER(hh, q->by_tag, d, tmp)
                if (d->deadline_ms && d->deadline_ms < first)
                        first = d->deadline_ms;
        if (first == UINT64_MAX)
                return -1;
        return first > t ? (int64_t) (first - t) : 0;
}

static int queue_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct queue *q = queue_of(o);
        uint64_t t = now_ms();
        struct item *head = STAILQ_FIRST(&q->items);
        unsigned getters = wait_count(&q->getters), putters = wait_count(&q->putters);
        unsigned joiners = wait_count(&q->joiners);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", (int64_t) q->count);
        r |= wire_put_field_int(b, f, "maxsize", (int64_t) q->maxsize);
        r |= wire_put_field_int(b, f, "bytes", (int64_t) q->bytes);
        r |= wire_put_field_int(b, f, "delivered", (int64_t) q->n_delivered);
        r |= wire_put_field_int(b, f, "unfinished", (int64_t) (q->joinable ? queue_unfinished(q) : 0));
        r |= wire_put_field_int(b, f, "closed", q->closed);
        r |= wire_put_field_int(b, f, "connection", q->owner ? (int64_t) q->owner->id : 0);
        r |= wire_put_field_int(b, f, "getters", getters);
        r |= wire_put_field_int(b, f, "putters", putters);
        r |= wire_put_field_int(b, f, "joiners", joiners);
        r |= wire_put_field_int(b, f, "waiters", getters + putters + joiners);
        r |= wire_put_field_int(b, f, "puts", (int64_t) q->puts);
        r |= wire_put_field_int(b, f, "gets", (int64_t) q->gets);
        r |= wire_put_field_int(b, f, "redelivered", (int64_t) q->redelivered);
        r |= wire_put_field_int(b, f, "ttr_ms", (int64_t) q->ttr_ms);
        r |= wire_put_field_int(b, f, "expired", (int64_t) q->expired);
        r |= wire_put_field_int(b, f, "lease_ms", queue_next_deadline(q, t));
        r |= wire_put_field_int(b, f, "timeouts", (int64_t) o->timeouts);
        r |= wire_put_field_int(b, f, "age_ms", (int64_t) (t - o->created_ms));
        r |= wire_put_field_int(b, f, "idle_ms", (int64_t) (t - o->active_ms));
        r |= wire_put_field_int(b, f, "oldest_ms", head ? (int64_t) (t - head->put_ms) : 0);
        return r < 0 ? -ENOMEM : 0;
}

/* Bytes (payload and item overhead) waiting, delivered, and parked with putters waiting for room. */
static uint64_t queue_bytes(struct object *o) {
        struct queue *q = queue_of(o);
        uint64_t sum = q->bytes;
        struct waiter *w;
        struct item *it;

        TAILQ_FOREACH(w, &q->putters, obj_link)
                STAILQ_FOREACH(it, &parked_of(w)->items, link)
                        sum += item_bytes(it);
        return sum;
}

/* What a declare asks of a queue: its maxsize, its kind, the lease of its deliveries (< 0: not given). */
struct queue_params {
        uint64_t maxsize;
        bool joinable;
        int64_t ttr_ms;
};

/* The queue that exists is the one declared again: the same maxsize, and the same lease when one is given. */
static int queue_declare_match(struct object *o, const void *params) {
        const struct queue_params *p = params;

        if (p->ttr_ms >= 0 && queue_of(o)->ttr_ms != p->ttr_ms)
                return -EEXIST;
        return queue_of(o)->maxsize == p->maxsize ? 0 : -EEXIST;
}

/* Only deliveries of a joinable queue have a lease, of at most UINT32_MAX ms. */
static int queue_declare_check_new(const void *params) {
        const struct queue_params *p = params;

        return p->ttr_ms > UINT32_MAX || (p->ttr_ms > 0 && !p->joinable) ? -EINVAL : 0;
}

/* A new queue, empty, of the maxsize and lease declared. */
static int queue_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        const struct queue_params *p = params;
        struct queue *q = queue_of(o);

        (void) name, (void) len;
        q->maxsize = p->maxsize;
        q->joinable = p->joinable;
        q->ttr_ms = p->ttr_ms > 0 ? (uint32_t) p->ttr_ms : 0;
        STAILQ_INIT(&q->items);
        TAILQ_INIT(&q->detached);
        TAILQ_INIT(&q->getters);
        TAILQ_INIT(&q->putters);
        TAILQ_INIT(&q->joiners);
        return 0;
}

/* The hooks of queues and joinable queues: the same code, the wire type apart. */
#define QUEUE_TYPE_HOOKS                                     \
        .wake_all = queue_wake_all,                          \
        .serve = queue_serve_object,                         \
        .describe = queue_describe,                          \
        .free = queue_free,                                  \
        .bytes = queue_bytes,                                \
        .dump = queue_dump,                                  \
        .replay = queue_replay,                              \
        .client_lost = queue_client_lost,                    \
        .waiter_free = queue_waiter_free,                    \
        .declare_match = queue_declare_match,                \
        .declare_check_new = queue_declare_check_new,        \
        .size = sizeof(struct queue),                        \
        .declare_init = queue_declare_init

static const struct object_type queue_type = {
        .type = WIRE_TYPE_QUEUE,
        QUEUE_TYPE_HOOKS,
};

static const struct object_type joinable_type = {
        .type = WIRE_TYPE_JOINABLE,
        QUEUE_TYPE_HOOKS,
};

unsigned queue_client_deliveries(const struct client *c) {
        const struct delivery *d;
        unsigned n = 0;

        TAILQ_FOREACH(d, &c->deliveries, link)
                n++;
        return n;
}

/* Milliseconds until the earliest lease of the client's attached deliveries runs out; -1 for none. */
int64_t queue_client_next_lease(const struct client *c) {
        const struct delivery *d;
        uint64_t first = UINT64_MAX, t = loop_now_ms;

        TAILQ_FOREACH(d, &c->deliveries, link)
                if (d->deadline_ms && d->deadline_ms < first)
                        first = d->deadline_ms;
        if (first == UINT64_MAX)
                return -1;
        return first > t ? (int64_t) (first - t) : 0;
}

void queue_client_written(struct client *c) {
        struct unsent_items *u;

        while ((u = TAILQ_FIRST(&c->unsent)) && u->end <= c->out_written) {
                TAILQ_REMOVE(&c->unsent, u, link);
                unsent_free(u);
        }
}

/*
 * Items of a reply that was not written in full go back to the head of
 * their queue, in order, as if never handed out: each item's deliveries
 * count goes back down; redelivered counts them, as gets did (gets minus
 * redelivered is what was delivered). Inserting each at the head,
 * last first, leaves them in order; a durable queue's replay does the same
 * with the records in that order.
 */
static void queue_put_back(struct queue *q, struct item_list *items) {
        struct item_list reversed = STAILQ_HEAD_INITIALIZER(reversed);
        struct item *it;

        while ((it = STAILQ_FIRST(items))) {
                STAILQ_REMOVE_HEAD(items, link);
                STAILQ_INSERT_HEAD(&reversed, it, link);
        }
        while ((it = STAILQ_FIRST(&reversed))) {
                STAILQ_REMOVE_HEAD(&reversed, link);
                STAILQ_INSERT_HEAD(&q->items, it, link);
                q->count++;
                q->bytes += item_bytes(it);
                q->redelivered++;
                it->deliveries--;
                if (q->obj.durable)
                        queue_journal_put_back(q, it);
        }
}

/* The queue an unsent reply's items came from, if it still exists; NULL if it was deleted. */
static struct queue *unsent_queue(const struct unsent_items *u) {
        struct object *o = object_find(u->name, u->name_len);

        return o && o->serial == u->serial && o->ops == &queue_type ? queue_of(o) : NULL;
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
static void queue_client_lost(struct client *c) {
        struct queue_touched touched = TAILQ_HEAD_INITIALIZER(touched);
        struct unsent_items *u;
        struct delivery *d;
        struct queue *q = NULL;

        /* Replies newest first, each at the head: the oldest reply's items end up first. */
        while ((u = TAILQ_LAST(&c->unsent, unsent_list))) {
                TAILQ_REMOVE(&c->unsent, u, link);
                q = unsent_queue(u);
                if (q) {
                        /* Debug only: a client that gets and closes in a loop must not flood the log. */
                        log_debug("queue '%s': a reply to %s was not written; its items go back", q->obj.name,
                                  client_describe(c));
                        queue_put_back(q, &u->items);
                        queue_touch(q, &touched);
                }
                unsent_free(u);
        }

        /*
         * Walk the client's deliveries newest first, pushing each back at the
         * head of its queue: the oldest ends up first, in the original order.
         * Serve only once all are back, or a later item could overtake.
         */
        while ((d = TAILQ_LAST(&c->deliveries, delivery_list))) {
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
        while ((q = TAILQ_FIRST(&c->owned_queues))) {
                log_info("queue '%s': deleted with %s, which created it for itself", q->obj.name,
                         client_describe(c));
                object_delete(&q->obj, -EIDRM);
        }
}

/* ---- request handlers ---- */

int queue_declare(const char *name, size_t len, uint64_t maxsize, bool joinable) {
        return queue_declare_lease(name, len, maxsize, joinable, -1);
}

/*
 * Declare a queue whose deliveries have a lease of ttr_ms (joinable only).
 * ttr_ms < 0 was not given: a new queue has none, and an existing one
 * matches whatever it has.
 */
int queue_declare_lease(const char *name, size_t len, uint64_t maxsize, bool joinable, int64_t ttr_ms) {
        struct queue_params p = { .maxsize = maxsize, .joinable = joinable, .ttr_ms = ttr_ms };

        return object_declare(name, len, joinable ? &joinable_type : &queue_type, &p, NULL);
}

/*
 * After a declare with QUEUE_CONNECTION that returned created: a new queue
 * belongs to client c, is deleted when c is lost, and is never durable (not
 * even under durability.default). An existing queue stays as it is, and a
 * durable one is -EEXIST, as for any declare of the other durability.
 */
static int queue_declared_for(struct client *c, struct object *o, int created) {
        struct queue *q;

        if (created < 0)
                return created;
        if (created == 0) {
                journal_touch(o);
                return o->durable ? -EEXIST : 0;
        }
        q = queue_of(o);
        q->owner = c;
        TAILQ_INSERT_TAIL(&c->owned_queues, q, owner_link);
        return created;
}

/* DECLARE: name, u64 maxsize, u32 flags[, u32 ttr_ms] -> u8 created. */
int queue_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        const struct object_type *type;
        struct queue_params p = { .ttr_ms = -1 };
        struct object *o = NULL;
        const char *name;
        size_t len;
        uint32_t flags = 0, ttr;
        int created;

        /* flags and ttr_ms may be left out, from the end: 0, and no TTR asked for. */
        if (!wire_get_name(r, &name, &len) || !wire_get_u64(r, &p.maxsize) ||
            (!wire_reader_done(r) && !wire_get_u32(r, &flags)))
                return -EPROTO;
        if (!wire_reader_done(r)) {
                if (!wire_get_u32(r, &ttr) || !wire_reader_done(r))
                        return -EPROTO;
                p.ttr_ms = ttr;
        }
        if (flags & ~(WIRE_QUEUE_JOINABLE | WIRE_QUEUE_CONNECTION | WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED))
                return -EINVAL;
        /* A queue that ends with its connection has nothing to come back to after a restart. */
        if ((flags & WIRE_QUEUE_CONNECTION) && (flags & (WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED)))
                return -EINVAL;
        p.joinable = flags & WIRE_QUEUE_JOINABLE;
        type = p.joinable ? &joinable_type : &queue_type;
        if (!(flags & WIRE_QUEUE_CONNECTION))
                return object_handle_declare(c, req, name, len, type, &p, flags);
        created = object_declare_check(type, name, len, flags);
        if (created == 0)
                created = object_declare(name, len, type, &p, &o);
        created = queue_declared_for(c, o, created);
        if (created < 0)
                return created;
        return op_reply_u8(c, req, (uint8_t) created);
}

/*
 * The common end of PUT and PUT_MANY: the items (n of them, already copied)
 * enter the queue now, wait for room, or fail.
 */
static int queue_put_items(struct client *c, const struct request *req, struct queue *q,
                           struct item_list *items, uint32_t n, int64_t timeout_ms) {
        struct parked_put *p;
        struct waiter *w;
        int err;

        if (q->closed) {
                queue_items_free(items);
                return -EPIPE;
        }
        if (q->maxsize && n > q->maxsize) {
                queue_items_free(items);
                return -EINVAL;
        }
        /* Strict arrival order: nobody overtakes a waiting putter. */
        if (TAILQ_EMPTY(&q->putters) && queue_has_room(q, n)) {
                queue_append(q, items, n);
                client_reply_status(c, req->id, req->op, 0);
                queue_serve(q);
                return 0;
        }
        if (timeout_ms == 0) {
                queue_items_free(items);
                return -EAGAIN;
        }
        p = malloc(sizeof(*p));
        w = p ? wait_add(c, req, &q->obj, &q->putters, timeout_ms) : NULL;
        if (!w) {
                err = p ? -errno : -ENOMEM;
                free(p);
                queue_items_free(items);
                return err;
        }
        STAILQ_INIT(&p->items);
        STAILQ_CONCAT(&p->items, items);
        p->n = n;
        w->payload = p;
        return 0;
}

/* PUT: name, i64 timeout_ms, bytes payload. */
int queue_handle_put(struct client *c, const struct request *req, struct wire_reader *r) {
        struct item_list items = STAILQ_HEAD_INITIALIZER(items);
        struct queue *q = NULL;
        int64_t timeout_ms;
        const void *data;
        uint32_t size;
        struct item *it;
        const char *name;
        size_t len;
        int err;

        /* The busiest request: parsed in line rather than through object_parse_find's format. */
        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &timeout_ms) || !wire_get_bytes(r, &data, &size) ||
            !wire_reader_done(r))
                return -EPROTO;
        err = OBJECT_FIND_AS(name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (size > mpxd.max_message)
                return -EMSGSIZE;
        err = user_may_hold(c->user, item_cost(size), 0, 0);
        if (err < 0)
                return err;
        it = item_new(q, data, size, c->user);
        if (!it)
                return -ENOMEM;
        STAILQ_INSERT_TAIL(&items, it, link);
        return queue_put_items(c, req, q, &items, 1, timeout_ms);
}

/* PUT_MANY: name, i64 timeout_ms, u32 n, n x bytes. All or none. */
int queue_handle_put_many(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct item_list items = STAILQ_HEAD_INITIALIZER(items);
        struct wire_reader body;
        struct queue *q = NULL;
        int64_t timeout_ms;
        bool too_big = false;
        uint64_t total = 0;
        uint32_t n;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &timeout_ms) || !wire_get_u32(r, &n))
                return -EPROTO;
        /* Check the whole body before anything is allocated. */
        body = *r;
        for (uint32_t i = 0; i < n; i++) {
                const void *data;
                uint32_t size;

                if (!wire_get_bytes(r, &data, &size))
                        return -EPROTO;
                too_big |= size > mpxd.max_message;
                total += item_cost(size);
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        err = OBJECT_FIND_AS(name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (n == 0)
                return -EINVAL;
        if (too_big)
                return -EMSGSIZE;
        err = user_may_hold(c->user, total, 0, 0);
        if (err < 0)
                return err;
        for (uint32_t i = 0; i < n; i++) {
                const void *data;
                uint32_t size;
                struct item *it;

                (void) wire_get_bytes(&body, &data, &size);
                it = item_new(q, data, size, c->user);
                if (!it) {
                        queue_items_free(&items);
                        return -ENOMEM;
                }
                STAILQ_INSERT_TAIL(&items, it, link);
        }
        return queue_put_items(c, req, q, &items, n, timeout_ms);
}

/*
 * The common end of GET and GET_MANY: answer from the queue now, end the
 * stream of a closed and drained queue, or wait.
 */
static int queue_get_common(struct client *c, const struct request *req, struct queue *q,
                            int64_t timeout_ms, uint32_t flags, uint32_t max, uint32_t ttr_ms) {
        struct waiter *w;

        if (flags & ~WIRE_GET_DETACH)
                return -EINVAL;
        /* A lease of its own is for the deliveries of a joinable queue. */
        if (ttr_ms && !q->joinable)
                return -EINVAL;
        if (q->count > 0 && TAILQ_EMPTY(&q->getters)) {
                int err = queue_reply_items(q, c, req->id, req->op, flags, max, ttr_ms);
                if (err < 0)
                        return err;
                /* Taking items made room for waiting putters. */
                queue_serve(q);
                return 0;
        }
        if (q->closed)
                return -EPIPE;
        if (timeout_ms == 0)
                return -EAGAIN;
        w = wait_add(c, req, &q->obj, &q->getters, timeout_ms);
        if (!w)
                return -errno;
        w->flags = flags;
        w->max = max;
        w->ttr_ms = ttr_ms;
        return 0;
}

/* The optional u32 ttr_ms that ends GET and GET_MANY: 0 when absent (the queue's TTR). */
static bool queue_get_ttr(struct wire_reader *r, uint32_t *ttr_ms) {
        *ttr_ms = 0;
        if (wire_reader_done(r))
                return true;
        return wire_get_u32(r, ttr_ms) && wire_reader_done(r);
}

/* GET: name, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item. */
int queue_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct queue *q = NULL;
        int64_t timeout_ms;
        uint32_t flags, ttr_ms;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &timeout_ms) || !wire_get_u32(r, &flags) ||
            !queue_get_ttr(r, &ttr_ms))
                return -EPROTO;
        err = OBJECT_FIND_AS(name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        return queue_get_common(c, req, q, timeout_ms, flags, 1, ttr_ms);
}

/* GET_MANY: name, i64 timeout_ms, u32 flags, u32 max[, u32 ttr_ms] -> u32 n, n x item. */
int queue_handle_get_many(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct queue *q = NULL;
        int64_t timeout_ms;
        uint32_t flags, max, ttr_ms;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &timeout_ms) || !wire_get_u32(r, &flags) ||
            !wire_get_u32(r, &max) || !queue_get_ttr(r, &ttr_ms))
                return -EPROTO;
        err = OBJECT_FIND_AS(name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (max == 0)
                return -EINVAL;
        return queue_get_common(c, req, q, timeout_ms, flags, max, ttr_ms);
}

/* QSIZE: name -> u64 size, u64 maxsize, u64 unfinished, u8 closed. */
int queue_handle_qsize(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        struct wire_buf *b;
        size_t start;
        int err;

        err = OBJECT_PARSE_AS(r, QUEUE_TYPES, &q, "");
        if (err < 0)
                return err;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        if (wire_put_u64(b, q->count) < 0 || wire_put_u64(b, q->maxsize) < 0 ||
            wire_put_u64(b, q->joinable ? queue_unfinished(q) : 0) < 0 || wire_put_u8(b, q->closed) < 0) {
                client_reply_abort(c, start, -ENOMEM, req->id, req->op);
                return 0;
        }
        client_reply_end(c, start);
        return 0;
}

/* CLOSE: name. Putters fail now; getters once the queue is drained. */
int queue_handle_close(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        int err;

        err = OBJECT_PARSE_AS(r, QUEUE_TYPES, &q, "");
        if (err < 0)
                return err;
        if (q->obj.durable && !q->closed)
                queue_journal_close(q);
        q->closed = true;
        client_reply_status(c, req->id, req->op, 0);
        wait_fail_all(&q->putters, -EPIPE);
        queue_serve(q);
        return 0;
}

/* PURGE: name -> u64 removed. Deliveries not done are kept. */
int queue_handle_purge(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        struct wire_buf *b;
        uint64_t removed;
        struct item *it;
        size_t start;
        int err;

        err = OBJECT_PARSE_AS(r, QUEUE_TYPES, &q, "");
        if (err < 0)
                return err;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b || wire_put_u64(b, q->count) < 0) {
                if (b)
                        wire_frame_abort(b, start);
                return -ENOMEM;
        }
        removed = q->count;
        if (q->obj.durable)
                queue_journal_purge(q);
        STAILQ_FOREACH(it, &q->items, link)
                q->bytes -= item_bytes(it);
        queue_items_free(&q->items);
        q->count = 0;
        client_reply_end(c, start);
        log_info("queue '%s': %s purged %llu waiting items", q->obj.name, client_describe(c),
                 (unsigned long long) removed);
        queue_serve(q);
        return 0;
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
                TAILQ_FOREACH(d, &c->deliveries, link)
                        if (d->queue == q)
                                break;
                if (!d)
                        d = TAILQ_FIRST(&q->detached);
                if (!d)
                        return -EINVAL;
        }
        if (q->obj.durable)
                queue_journal_remove(q, d->item);
        delivery_finish(d);
        return 0;
}

/* TASK_DONE: name, u64 tag (queue_finish()'s rule) -> (empty). */
int queue_handle_task_done(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        uint64_t tag;
        int err;

        err = OBJECT_PARSE_AS(r, 1u << WIRE_TYPE_JOINABLE, &q, "q", &tag);
        if (err < 0)
                return err;
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
        err = OBJECT_FIND_AS(name, len, 1u << WIRE_TYPE_JOINABLE, &q);
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
        struct queue *q = NULL;
        struct delivery *d;
        uint64_t tag;
        int err;

        err = OBJECT_PARSE_AS(r, 1u << WIRE_TYPE_JOINABLE, &q, "q", &tag);
        if (err < 0)
                return err;
        HASH_FIND(hh, q->by_tag, &tag, sizeof(tag), d);
        if (!d)
                return -ENOENT;
        if (d->ttr_ms)
                delivery_lease(d, d->ttr_ms);
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}

/* JOIN: name, i64 timeout_ms. Waits until nothing is unfinished. */
int queue_handle_join(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        int64_t timeout_ms;
        int err;

        err = OBJECT_PARSE_AS(r, 1u << WIRE_TYPE_JOINABLE, &q, "i", &timeout_ms);
        if (err < 0)
                return err;
        if (queue_unfinished(q) == 0) {
                client_reply_status(c, req->id, req->op, 0);
                return 0;
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        return wait_add(c, req, &q->obj, &q->joiners, timeout_ms) ? 0 : -errno;
}

/*
 * PEEK: name, u32 max -> u32 n, n x item. The first items, as GET would hand
 * them out, without taking them (tag 0); a reply stops at half a frame.
 */
int queue_handle_peek(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        struct wire_buf *b;
        struct item *it;
        size_t start, count_at;
        uint32_t max, n = 0;
        int err;

        err = OBJECT_PARSE_AS(r, QUEUE_TYPES, &q, "w", &max);
        if (err < 0)
                return err;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        count_at = b->len;
        if (wire_put_u32(b, 0) < 0)
                goto nomem;
        STAILQ_FOREACH(it, &q->items, link) {
                if (n == max || (n > 0 && b->len - start + ITEM_WIRE_OVERHEAD + it->size > mpxd.max_frame / 2))
                        break;
                if (wire_buf_reserve(b, ITEM_WIRE_OVERHEAD + it->size) < 0)
                        goto nomem;
                put_item(b, it, 0);
                n++;
        }
        wire_patch_u32(b, count_at, n);
        client_reply_end(c, start);
        return 0;
nomem:
        client_reply_abort(c, start, -ENOMEM, req->id, req->op);
        return 0;
}
