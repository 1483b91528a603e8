/* SPDX-License-Identifier: MIT */
/*
 * Barriers, with the semantics of Python's Barrier (without its action
 * callable): parties processes call WAIT; the first parties - 1 park, and
 * the last one's arrival releases them all together, each answered with its
 * arrival index (0 for the first to arrive, parties - 1 for the last), after
 * which the barrier is empty again for the next round.
 *
 * A barrier breaks (Python's BrokenBarrierError) when a parked party's
 * timeout passes, when a parked party's connection closes, or on ABORT:
 * the parties waiting are answered ENOTRECOVERABLE (the one that timed out
 * gets ETIMEDOUT), and so is every later WAIT until RESET. RESET answers the
 * parties waiting ENOTRECOVERABLE too and leaves the barrier fresh and whole.
 * A WAIT with timeout 0 that is not the last party is answered EAGAIN and
 * breaks nothing: it never joined the round. A parked WAIT its client
 * cancels (CANCEL) is answered ECANCELED and breaks nothing either: the
 * party withdraws from the round, the parties that arrived after it move up
 * one index, and the round needs one more arrival.
 *
 * Storage: the parties parked in this round, in arrival order, each waiter
 * carrying its index. Every other way a parked party leaves early breaks
 * the barrier and empties the round, and a withdrawal renumbers the rest,
 * so the index of the next arrival is always the number of parties parked.
 */
#include <errno.h>
#include <stdlib.h>

#include "mpxd.h"
#include "ref.h"

struct barrier {
        struct object obj;
        uint32_t parties;
        uint32_t n_waiting;             /* parties parked in this round */
        bool broken;
        /*
         * Set while this file answers the parked parties itself: a client
         * lost on the way (no memory for its reply) must not break the
         * barrier from inside that loop.
         */
        bool busy;
        struct waiter_list waiting;
        uint64_t rounds;                /* rounds completed */
        uint64_t breaks;                /* times it broke: timeout, disconnect, abort */
        uint64_t resets;
};

static const struct object_type barrier_type;

static struct barrier *barrier_of(struct object *o) {
        return container_of(o, struct barrier, obj);
}

/* ---- storage API ---- */

/* Answer a WAIT with its arrival index; a reply that cannot be built is answered ENOMEM. */
static void barrier_reply_index(struct client *c, uint32_t id, uint16_t op, uint32_t index) {
        struct wire_buf *b;
        size_t start;

        b = client_reply_begin(c, id, op, &start);
        if (!b) {
                client_reply_status(c, id, op, -ENOMEM);
                return;
        }
        if (wire_put_u32(b, index) < 0) {
                client_reply_abort(c, start, -ENOMEM, id, op);
                return;
        }
        client_reply_end(c, start);
}

/* Answer every parked party except keep (which may be NULL) with neg_errno; the round is over. */
static void barrier_fail_waiting(struct barrier *b, struct waiter *keep, int neg_errno) {
        struct waiter *w;

        b->busy = true;
        for (;;) {
                w = TAILQ_FIRST(&b->waiting);
                if (w && w == keep)
                        w = TAILQ_NEXT(w, obj_link);
                if (!w)
                        break;
                wait_fail(w, neg_errno);
        }
        b->busy = false;
        b->n_waiting = 0;
}

/* Break the barrier: the parked parties, all but keep, get ENOTRECOVERABLE. */
static void barrier_break(struct barrier *b, struct waiter *keep) {
        if (!b->broken)
                b->breaks++;
        b->broken = true;
        barrier_fail_waiting(b, keep, -ENOTRECOVERABLE);
}

/*
 * The last party arrived: answer the parked ones with their indexes, in
 * arrival order, and start the next round. Each waiter is freed before its
 * reply is queued, since a reply that cannot be queued loses its client.
 */
static void barrier_release(struct barrier *b) {
        struct waiter *w;

        b->busy = true;
        while ((w = TAILQ_FIRST(&b->waiting))) {
                struct client *c = w->client;
                uint32_t id = w->id, index = w->max;
                uint16_t op = w->op;

                wait_free(w);
                barrier_reply_index(c, id, op, index);
        }
        b->busy = false;
        b->n_waiting = 0;
        b->rounds++;
}

/*
 * A cancelled party never arrived: the parties behind it move up one place,
 * and the round waits for one more. Nothing breaks.
 */
static void barrier_withdraw(struct barrier *b, struct waiter *w) {
        struct waiter *later;

        for (later = TAILQ_NEXT(w, obj_link); later; later = TAILQ_NEXT(later, obj_link))
                later->max--;
        b->n_waiting--;
        log_debug("barrier '%s': a party withdrew, %u waiting", b->obj.name, b->n_waiting);
}

/* Nothing to serve: a round completes only on an arrival. */
/*
 * A parked party leaves early: on timeout or disconnect the barrier breaks
 * for the others; on CANCEL the party withdraws.
 */
static void barrier_waiter_left(struct object *o, struct waiter *w, int why) {
        struct barrier *b = barrier_of(o);

        if (b->busy)
                return;
        if (why == -ECANCELED) {
                barrier_withdraw(b, w);
                return;
        }
        log_debug("barrier '%s': a party left (%s), breaking it", o->name,
                  why == -ETIMEDOUT ? "timeout" : "disconnect");
        barrier_break(b, w);
}

static void barrier_wake_all(struct object *o, int neg_errno) {
        barrier_fail_waiting(barrier_of(o), NULL, neg_errno);
}

static void barrier_free(struct object *o) {
        free(barrier_of(o));
}

static int barrier_describe(struct object *o, struct wire_buf *buf, struct wire_fields *f) {
        struct barrier *b = barrier_of(o);
        uint64_t t = now_ms();
        int r = 0;

        r |= wire_put_field_int(buf, f, "size", b->n_waiting);
        r |= wire_put_field_int(buf, f, "parties", b->parties);
        r |= wire_put_field_int(buf, f, "waiting", b->n_waiting);
        r |= wire_put_field_int(buf, f, "waiters", b->n_waiting);
        r |= wire_put_field_int(buf, f, "broken", b->broken);
        r |= wire_put_field_int(buf, f, "rounds", (int64_t) b->rounds);
        r |= wire_put_field_int(buf, f, "breaks", (int64_t) b->breaks);
        r |= wire_put_field_int(buf, f, "resets", (int64_t) b->resets);
        r |= wire_put_field_int(buf, f, "timeouts", (int64_t) o->timeouts);
        r |= wire_put_field_int(buf, f, "age_ms", (int64_t) (t - o->created_ms));
        r |= wire_put_field_int(buf, f, "idle_ms", (int64_t) (t - o->active_ms));
        return r < 0 ? -ENOMEM : 0;
}

static const struct object_type barrier_type = {
        .type = WIRE_TYPE_BARRIER,
        .wake_all = barrier_wake_all,
        .describe = barrier_describe,
        .free = barrier_free,
        .waiter_left = barrier_waiter_left,
};

/* ---- request handlers ---- */

/* Create a barrier, or check that it exists for as many parties (see mpxd.h). */
int barrier_declare(const char *name, size_t len, uint32_t parties) {
        struct object *o;
        struct barrier *b;
        int err;

        if (parties == 0)
                return -EINVAL;
        /* An object that exists is found for the request: declaring it again needs read access. */
        err = object_lookup(name, len, &o);
        if (err < 0)
                return err;
        if (o) {
                if (o->ops != &barrier_type)
                        return -EPROTOTYPE;
                return barrier_of(o)->parties == parties ? 0 : -EEXIST;
        }
        if (object_check_limit() < 0)
                return -EUSERS;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->parties = parties;
        TAILQ_INIT(&b->waiting);
        if (object_register(&b->obj, name, len, &barrier_type) < 0) {
                free(b);
                return -ENOMEM;
        }
        return 1;
}

/* Find the barrier named at the reader's position. */
static int barrier_lookup(struct wire_reader *r, struct barrier **ret) {
        const char *name;
        size_t len;
        struct object *o;
        int err;

        if (!wire_get_name(r, &name, &len))
                return -EPROTO;
        err = object_find_typed(name, len, 1u << WIRE_TYPE_BARRIER, &o);
        if (err < 0)
                return err;
        *ret = barrier_of(o);
        return 0;
}

/* DECLARE: name, u32 parties [, u32 flags] -> u8 created. A barrier is never durable. */
int barrier_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        uint32_t parties, flags = 0;
        int created;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &parties) ||
            (r->left > 0 && !wire_get_u32(r, &flags)) || !wire_reader_done(r))
                return -EPROTO;
        if (flags & ~WIRE_DECLARE_COUNTED)
                return -EINVAL;
        created = barrier_declare(name, len, parties);
        if (flags & WIRE_DECLARE_COUNTED)
                created = ref_declared(c, name, len, created);
        if (created < 0)
                return created;
        return op_reply_u8(c, req, (uint8_t) created);
}

/* WAIT: name, i64 timeout_ms -> u32 arrival index. */
int barrier_handle_wait(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = NULL;
        struct waiter *w;
        int64_t timeout_ms;
        uint32_t index;
        int err;

        err = barrier_lookup(r, &b);
        if (err == -EPROTO)
                return err;
        if (!wire_get_i64(r, &timeout_ms) || !wire_reader_done(r))
                return -EPROTO;
        if (err < 0)
                return err;
        b->obj.active_ms = now_ms();
        if (b->broken)
                return -ENOTRECOVERABLE;
        index = b->n_waiting;
        if (index == b->parties - 1) {
                /* The parked parties are answered first, then this last one. */
                barrier_release(b);
                barrier_reply_index(c, req->id, req->op, index);
                return 0;
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        w = wait_add(c, req, &b->obj, &b->waiting, timeout_ms);
        if (!w)
                return -errno;
        w->max = index;                 /* the arrival index, answered on release */
        b->n_waiting++;
        return 0;
}

/* RESET: name. The parked parties get ENOTRECOVERABLE; the barrier is fresh and whole. */
int barrier_handle_reset(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = NULL;
        int err;

        err = barrier_lookup(r, &b);
        if (err == -EPROTO || !wire_reader_done(r))
                return -EPROTO;
        if (err < 0)
                return err;
        b->obj.active_ms = now_ms();
        b->resets++;
        barrier_fail_waiting(b, NULL, -ENOTRECOVERABLE);
        b->broken = false;
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}

/* ABORT: name. Break the barrier until RESET. */
int barrier_handle_abort(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = NULL;
        int err;

        err = barrier_lookup(r, &b);
        if (err == -EPROTO || !wire_reader_done(r))
                return -EPROTO;
        if (err < 0)
                return err;
        b->obj.active_ms = now_ms();
        barrier_break(b, NULL);
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}
