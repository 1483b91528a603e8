/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues, with the semantics of Python's Queue and
 * JoinableQueue made exact: qsize is the true count, close ends the stream
 * for consumers once drained, and a joinable item taken by a connection that
 * closes before task_done goes back to the head of the queue.
 *
 * Storage: items in FIFO order; getters, putters and joiners on FIFO wait
 * lists, served strictly in arrival order (a put_many that does not fit
 * blocks the puts behind it). "unfinished" is what join waits for: items
 * waiting plus deliveries not done.
 *
 * This file holds the storage, serving and the requests of every queue;
 * queue-joinable.c the deliveries of joinable queues, their leases and
 * their own requests; queue-client.c what a lost connection gives back;
 * queue-journal.c the records of durable queues. queue-internal.h is what
 * they share.
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
#include "queue-internal.h"
#include "queue.h"
#include "user.h"
#include "wait.h"
#include "wire.h"

const uint64_t queue_item_overhead = QUEUE_ITEM_OVERHEAD;

static const struct object_type queue_type, joinable_type;

/*
 * The payload of a put parked until there is room: its n items, already
 * charged, in a chunk of their own that is linked at the tail of the queue
 * when they fit (queue_admit), or freed with the waiter if they never do.
 */
struct parked_put {
        struct chunk *chunk;
        uint32_t n;
        uint64_t bytes;                 /* item_cost() of the items */
};

static struct parked_put *parked_of(struct waiter *w) {
        return w->payload;
}

/* The waiter_free hook: a parked put's items that never went in. */
static void queue_waiter_free(struct waiter *w) {
        struct parked_put *p = parked_of(w);

        if (p->chunk)
                chunk_free(p->chunk);
        free(p);
}


/* Reply overhead of one item: u64 tag, u32 deliveries, u32 payload length. */
#define ITEM_WIRE_OVERHEAD 16u

/* ---- storage API ---- */

/*
 * Count the n items just added at the tail, bytes of item_cost() in all.
 * In a durable queue each is numbered and recorded as it is added.
 */
static void queue_added(struct queue *q, uint32_t n, uint64_t bytes) {
        q->bytes += bytes;
        q->count += n;
        q->puts += n;
}

/*
 * Add the n payloads of body (bytes fields, checked), put by user, at the
 * tail; records_max is RECORD_MAX() of them all. -ENOMEM with nothing added.
 */
static int queue_append(struct queue *q, struct wire_reader body, uint32_t n, size_t records_max,
                        struct user *user) {
        struct item it = { .user = user, .put_ms = loop_now_ms };
        uint64_t bytes = 0;

        /* A batch reserves room for all first, to go in whole or not at all; one item takes its exact room. */
        if (n > 1 && store_reserve(&q->items, records_max, q->obj.durable) < 0)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                const void *data;

                (void) wire_get_bytes(&body, &data, &it.size);
                it.data = data;
                it.seq = q->obj.durable ? q->next_seq + 1 : 0;
                if (n > 1)
                        store_append(&q->items, &it);
                else if (store_add(&q->items, &it, q->obj.durable) < 0)
                        return -ENOMEM;
                if (q->obj.durable)
                        q->next_seq = it.seq;
                user_charge(user, item_cost(it.size));
                bytes += item_cost(it.size);
                if (q->obj.durable)
                        queue_journal_put(q, &it);
        }
        queue_added(q, n, bytes);
        return 0;
}

/*
 * A parked put's items in a chunk of their own, charged to user, with put
 * times and numbers relative to bases that queue_admit() sets (0 and 0 to
 * n - 1 until then); NULL when out of memory.
 */
static struct parked_put *parked_new(const struct queue *q, struct wire_reader body, uint32_t n,
                                     struct user *user) {
        struct parked_put *p = malloc(sizeof(*p));
        struct item it = { .user = user };
        struct wire_reader r = body;
        struct chunk bases;
        const void *data;
        uint64_t len = 0;

        if (!p)
                return NULL;
        /* The exact room: the chunk stays as it is in the queue once admitted. */
        (void) chunk_init(&bases, NULL, 0, q->obj.durable);
        for (uint32_t i = 0; i < n; i++) {
                (void) wire_get_bytes(&r, &data, &it.size);
                it.seq = i;
                len += record_len(&bases, &it);
        }
        p->chunk = len <= UINT32_MAX - sizeof(struct chunk) ? malloc(chunk_size((uint32_t) len)) : NULL;
        if (!p->chunk) {
                free(p);
                return NULL;
        }
        p->chunk = chunk_init(p->chunk, p->chunk, (uint32_t) len, q->obj.durable);
        p->n = n;
        p->bytes = 0;
        for (uint32_t i = 0; i < n; i++) {
                (void) wire_get_bytes(&body, &data, &it.size);
                it.data = data;
                it.seq = i;
                chunk_append(p->chunk, &it);
                user_charge(user, item_cost(it.size));
                p->bytes += item_cost(it.size);
        }
        return p;
}

/* A parked put's items enter at the tail, put now, numbered after the last. */
static void queue_admit(struct queue *q, struct parked_put *p) {
        struct chunk *c = p->chunk;
        struct item it;

        c->base_ms = loop_now_ms;
        if (q->obj.durable) {
                c->base_seq = q->next_seq + 1;
                q->next_seq += p->n;
                CHUNK_FOREACH(c, off, it)
                        queue_journal_put(q, &it);
        }
        store_push_tail(&q->items, c);
        p->chunk = NULL;
        queue_added(q, p->n, p->bytes);
}

/*
 * The head item *it has been handed out (copied into a reply, a reply's
 * record or a delivery): it leaves the queue, and *it with it.
 */
static void queue_taken(struct queue *q, const struct item *it) {
        if (!q->joinable) {
                if (q->obj.durable)
                        queue_journal_remove(q, it);
                q->bytes -= item_cost(it->size);
        }
        q->count--;
        q->gets++;
        store_remove(&q->items, it);
}

/* Append one item to a reply: u64 tag, u32 deliveries, bytes payload (room is reserved). */
static void put_item(struct wire_buf *b, const struct item *it, uint32_t deliveries, uint64_t tag) {
        (void) wire_put_item(b, tag, deliveries, it->data, it->size);
}

/*
 * Answer a getter (GET or GET_MANY) from the head of the queue, which is not
 * empty. Room in the reply is reserved before anything is taken, so an item
 * is never lost to a failed allocation. Returns 0, or -ENOMEM with nothing
 * taken and nothing written: the caller answers it (client.h's rule).
 */
static int queue_reply_items(struct queue *q, struct client *c, uint32_t id, uint16_t op,
                             uint32_t flags, uint32_t max, uint32_t ttr_ms) {
        bool many = op == WIRE_OP_QUEUE_GET_MANY;
        size_t need = many ? 4 : 0, start, count_at = 0, records_max = 0, records = 0;
        bool one_chunk = true;
        struct unsent_items *unsent = NULL;
        uint32_t n = 0;
        struct wire_buf *b;
        struct item it, probe;

        /* How many items fit in one reply frame: the head's, and for GET_MANY those after it. */
        (void) store_head(&q->items, &it);
        probe = it;
        do {
                size_t more = ITEM_WIRE_OVERHEAD + probe.size;
                if (n == max || (n > 0 && need + more > mpxd.max_frame))
                        break;
                need += more;
                records_max += RECORD_MAX(probe.size);
                records += probe.len;
                one_chunk &= probe.chunk == it.chunk;
                n++;
        } while (many && store_next(&q->items, &probe));
        if (client_reply_reserve(c, need) < 0)
                return -ENOMEM;
        if (!q->joinable && client_has_socket(c)) {
                /* Records of one chunk are copied as they are (chunk_copy); others may grow. */
                unsent = unsent_new(q, one_chunk ? records : records_max);
                if (!unsent)
                        return -ENOMEM;
        }
        b = client_reply_begin(c, id, op, &start);
        if (many) {
                count_at = b->len;
                (void) wire_put_u32(b, 0);
        }
        for (uint32_t i = 0; i < n; i++) {
                uint64_t tag = 0;

                /* Items are taken from the head: the next one is the head again. */
                if (i > 0)
                        (void) store_head(&q->items, &it);
                if (q->joinable) {
                        struct delivery *d = delivery_new(q, flags & WIRE_GET_DETACH ? NULL : c, &it, ttr_ms);

                        if (!d) {
                                if (i == 0) {
                                        client_reply_discard(c, start);
                                        return -ENOMEM;
                                }
                                n = i;
                                break;
                        }
                        tag = d->tag;
                }
                put_item(b, &it, it.deliveries + 1, tag);
                /* A reply's record keeps the count the item had in the queue, to go back as it was. */
                if (unsent)
                        unsent_add(unsent, &it);
                else if (!q->joinable)
                        user_uncharge(it.user, item_cost(it.size));
                queue_taken(q, &it);
        }
        if (many)
                wire_patch_u32(b, count_at, n);
        /* Also outside a request (a parked getter served): items not written yet hold the reply. */
        journal_touch(&q->obj);
        client_reply_end(c, start);
        if (unsent) {
                unsent->end = client_output_end(c);
                TAILQ_INSERT_TAIL(&client_shared(c)->unsent, unsent, link);
        }
        q->obj.active_ms = loop_now_ms;
        return 0;
}

/*
 * Serve waiters after any change: admit putters that now fit, in order; hand
 * items to getters, in order; end the stream for getters of a closed, drained
 * queue; release joiners when nothing is unfinished.
 */
void queue_serve(struct queue *q) {
        for (;;) {
                struct waiter *w, *next;
                bool progress = false;
                int err;

                while ((w = TAILQ_FIRST(&q->putters)) && queue_has_room(q, parked_of(w)->n)) {
                        queue_admit(q, parked_of(w));
                        client_reply_status(w->client, w->id, w->op, 0);
                        wait_free(w);
                }
                for (w = TAILQ_FIRST(&q->getters); w && q->count > 0; w = next) {
                        next = TAILQ_NEXT(w, obj_link);
                        /*
                         * An overflowed client is lost once this event is handled: items stay
                         * for others. A closing one is served: what is queued for it is written
                         * before the close, and what is not comes back (queue_client_lost).
                         */
                        if (client_state(w->client) == CLIENT_OVERFLOWED)
                                continue;
                        err = queue_reply_items(q, w->client, w->id, w->op, w->flags, w->max, w->ttr_ms);
                        if (err < 0) {
                                /* Parked again, it could retry forever on memory that does not come (queue_take). */
                                wait_fail(w, err);
                                break;
                        }
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
                TAILQ_REMOVE(&client_shared(q->owner)->owned_queues, q, owner_link);
        HASH_ITER(hh, q->by_tag, d, tmp)
                delivery_finish(d);
        store_clear(&q->items);
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
        struct item head;
        bool any = store_head(&q->items, &head);
        unsigned getters = wait_count(&q->getters), putters = wait_count(&q->putters);
        unsigned joiners = wait_count(&q->joiners);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", (int64_t) q->count);
        r |= wire_put_field_int(b, f, "maxsize", (int64_t) q->maxsize);
        r |= wire_put_field_int(b, f, "bytes", (int64_t) q->bytes);
        r |= wire_put_field_int(b, f, "delivered", (int64_t) q->n_delivered);
        r |= wire_put_field_int(b, f, "unfinished", (int64_t) (q->joinable ? queue_unfinished(q) : 0));
        r |= wire_put_field_int(b, f, "closed", q->closed);
        r |= wire_put_field_int(b, f, "connection", q->owner ? (int64_t) client_shared(q->owner)->id : 0);
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
        r |= object_describe_age(o, b, f);
        r |= wire_put_field_int(b, f, "oldest_ms", any ? (int64_t) (t - head.put_ms) : 0);
        return r < 0 ? -ENOMEM : 0;
}

/* Bytes (payload and item overhead) waiting, delivered, and parked with putters waiting for room. */
static uint64_t queue_bytes(struct object *o) {
        struct queue *q = queue_of(o);
        uint64_t sum = q->bytes;
        struct waiter *w;

        TAILQ_FOREACH(w, &q->putters, obj_link)
                sum += parked_of(w)->bytes;
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
        store_init(&q->items);
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

        return object_declare(NULL, name, len, joinable ? &joinable_type : &queue_type, &p, NULL);
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
        TAILQ_INSERT_TAIL(&client_shared(c)->owned_queues, q, owner_link);
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
        created = object_declare_check(req, type, name, len, flags);
        if (created == 0)
                created = object_declare(req, name, len, type, &p, &o);
        created = queue_declared_for(c, o, created);
        if (created < 0)
                return created;
        return op_reply_u8(c, req, (uint8_t) created);
}

/*
 * The common end of PUT and PUT_MANY, charged to c's user (who may hold
 * them): the n payloads of body (bytes fields, checked), records_max bytes
 * as records at most, enter the queue now, wait for room, or fail.
 */
static int queue_put_items(struct client *c, const struct request *req, struct queue *q,
                           struct wire_reader body, uint32_t n, size_t records_max, int64_t timeout_ms) {
        struct parked_put *p;
        struct waiter *w;
        int err;

        if (q->closed)
                return -EPIPE;
        if (q->maxsize && n > q->maxsize)
                return -EINVAL;
        /* Strict arrival order: nobody overtakes a waiting putter. */
        if (TAILQ_EMPTY(&q->putters) && queue_has_room(q, n)) {
                err = queue_append(q, body, n, records_max, client_shared(c)->user);
                if (err < 0)
                        return err;
                client_reply_status(c, req->id, req->op, 0);
                queue_serve(q);
                return 0;
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        p = parked_new(q, body, n, client_shared(c)->user);
        w = p ? wait_add(c, req, &q->obj, &q->putters, timeout_ms) : NULL;
        if (!w) {
                err = p ? -errno : -ENOMEM;
                if (p) {
                        chunk_free(p->chunk);
                        free(p);
                }
                return err;
        }
        w->payload = p;
        return 0;
}

/* PUT: name, i64 timeout_ms, bytes payload. */
int queue_handle_put(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = NULL;
        struct wire_reader body;
        int64_t timeout_ms;
        const void *data;
        uint32_t size;
        const char *name;
        size_t len;
        int err;

        /* The busiest request: parsed here, in line, rather than by op_dispatch through a format. */
        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &timeout_ms))
                return -EPROTO;
        body = *r;
        if (!wire_get_bytes(r, &data, &size) || !wire_reader_done(r))
                return -EPROTO;
        err = OBJECT_FIND_AS(req, name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (size > mpxd.max_message)
                return -EMSGSIZE;
        err = user_may_hold(client_shared(c)->user, item_cost(size), 0, 0);
        if (err < 0)
                return err;
        return queue_put_items(c, req, q, body, 1, RECORD_MAX(size), timeout_ms);
}

/* PUT_MANY: name, i64 timeout_ms, u32 n, n x bytes. All or none. */
int queue_handle_put_many(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len, records_max = 0;
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
                records_max += RECORD_MAX(size);
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        err = OBJECT_FIND_AS(req, name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (n == 0)
                return -EINVAL;
        if (too_big)
                return -EMSGSIZE;
        err = user_may_hold(client_shared(c)->user, total, 0, 0);
        if (err < 0)
                return err;
        return queue_put_items(c, req, q, body, n, records_max, timeout_ms);
}

/*
 * The common end of GET and GET_MANY: answer from the queue now, end the
 * stream of a closed and drained queue, or wait.
 */
int queue_get_common(struct client *c, const struct request *req, struct queue *q,
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
bool queue_get_ttr(struct wire_reader *r, uint32_t *ttr_ms) {
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
        err = OBJECT_FIND_AS(req, name, len, QUEUE_TYPES, &q);
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
        err = OBJECT_FIND_AS(req, name, len, QUEUE_TYPES, &q);
        if (err < 0)
                return err;
        if (max == 0)
                return -EINVAL;
        return queue_get_common(c, req, q, timeout_ms, flags, max, ttr_ms);
}

/* QSIZE: name -> u64 size, u64 maxsize, u64 unfinished, u8 closed. */
int queue_handle_qsize(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);

        return op_reply(c, req, "qqqb", q->count, q->maxsize, (uint64_t) (q->joinable ? queue_unfinished(q) : 0),
                        (int) q->closed);
}

/* CLOSE: name. Putters fail now; getters once the queue is drained. */
int queue_handle_close(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);

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
        struct queue *q = queue_of(req->obj);
        struct wire_buf *b;
        uint64_t removed;
        struct item it;
        size_t start;

        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b || wire_put_u64(b, q->count) < 0) {
                if (b)
                        wire_frame_abort(b, start);
                return -ENOMEM;
        }
        removed = q->count;
        if (q->obj.durable)
                queue_journal_purge(q);
        STORE_FOREACH(&q->items, it)
                q->bytes -= item_cost(it.size);
        store_clear(&q->items);
        q->count = 0;
        client_reply_end(c, start);
        log_info("queue '%s': %s purged %llu waiting items", q->obj.name, client_describe(c),
                 (unsigned long long) removed);
        queue_serve(q);
        return 0;
}

/*
 * PEEK: name, u32 max -> u32 n, n x item. The first items, as GET would hand
 * them out, without taking them (tag 0); a reply stops at half a frame.
 */
int queue_handle_peek(struct client *c, const struct request *req, struct wire_reader *r) {
        struct queue *q = queue_of(req->obj);
        uint32_t max = req->f[0].w, n = 0;
        struct wire_buf *b;
        struct item it;
        size_t start, count_at;

        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        count_at = b->len;
        if (wire_put_u32(b, 0) < 0)
                goto nomem;
        STORE_FOREACH(&q->items, it) {
                if (n == max || (n > 0 && b->len - start + ITEM_WIRE_OVERHEAD + it.size > mpxd.max_frame / 2))
                        break;
                if (wire_buf_reserve(b, ITEM_WIRE_OVERHEAD + it.size) < 0)
                        goto nomem;
                put_item(b, &it, it.deliveries, 0);
                n++;
        }
        wire_patch_u32(b, count_at, n);
        client_reply_end(c, start);
        return 0;
nomem:
        client_reply_discard(c, start);
        return -ENOMEM;
}
