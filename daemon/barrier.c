/* SPDX-License-Identifier: MIT */
/*
 * Barriers, with the semantics of Python's Barrier: parties processes call
 * WAIT; the first parties - 1 park, and the last one's arrival releases
 * them all together, each answered with its arrival index (0 for the first
 * to arrive, parties - 1 for the last), after which the barrier is empty
 * again for the next round.
 *
 * A barrier declared with an action (WIRE_BARRIER_ACTION) has its callable
 * run by the last arrival before the others go, as Python runs it: the last
 * party is answered at once and holds the round while the others stay
 * parked; its PASS releases them, its ABORT (the action failed) or its
 * connection's end breaks the barrier. Parties arriving meanwhile queue for
 * the next round and enter it, in order, once the round is passed. A
 * barrier also keeps the default timeout of its WAITs (WIRE_TIMEOUT_DEFAULT),
 * as Python's Barrier(timeout=) does.
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
 * While a round is held, its parked parties keep their indexes (the round
 * is complete) and new arrivals wait on a second list without one.
 */
#include <errno.h>
#include <stdlib.h>

#include "barrier.h"
#include "client.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "ref.h"
#include "wait.h"
#include "wire.h"

struct barrier {
        struct object obj;
        uint32_t parties;
        bool action;                    /* the last arrival runs an action, then PASS */
        int64_t timeout_ms;             /* WAIT's default (WIRE_TIMEOUT_DEFAULT); negative: none */
        uint32_t n_waiting;             /* parties parked in this round */
        bool broken;
        struct client *holder;          /* running the action of the round parked, or NULL */
        LIST_ENTRY(barrier) held_link;  /* in held_barriers while it has a holder */
        struct waiter_list queued;      /* arrived while the round was held: no index yet */
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

/* The barriers whose round a connection holds: few, scanned when a connection ends. */
static LIST_HEAD(, barrier) held_barriers = LIST_HEAD_INITIALIZER(held_barriers);

static struct barrier *barrier_of(struct object *o) {
        return container_of(o, struct barrier, obj);
}

/* ---- storage API ---- */

/* Answer a WAIT with its arrival index; a reply that cannot be built is answered ENOMEM. */
static void barrier_reply_index(struct client *c, uint32_t id, uint16_t op, uint32_t index) {
        if (op_reply_to(c, id, op, "w", index) < 0)
                client_reply_status(c, id, op, -ENOMEM);
}

static void barrier_hold(struct barrier *b, struct client *c) {
        b->holder = c;
        LIST_INSERT_HEAD(&held_barriers, b, held_link);
}

static void barrier_unhold(struct barrier *b) {
        if (!b->holder)
                return;
        LIST_REMOVE(b, held_link);
        b->holder = NULL;
}

/* Answer every waiter of list except keep (which may be NULL) with neg_errno. */
static void barrier_fail_list(struct waiter_list *list, struct waiter *keep, int neg_errno) {
        struct waiter *w;

        for (;;) {
                w = TAILQ_FIRST(list);
                if (w && w == keep)
                        w = TAILQ_NEXT(w, obj_link);
                if (!w)
                        break;
                wait_fail(w, neg_errno);
        }
}

/*
 * Answer every parked and queued party except keep (which may be NULL) with
 * neg_errno; the round is over, and so is a hold of it.
 */
static void barrier_fail_waiting(struct barrier *b, struct waiter *keep, int neg_errno) {
        b->busy = true;
        barrier_fail_list(&b->waiting, keep, neg_errno);
        barrier_fail_list(&b->queued, keep, neg_errno);
        b->busy = false;
        b->n_waiting = 0;
        barrier_unhold(b);
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
 * The last arrival of a round: without an action the round is released and
 * the last party answered; with one, the last party is answered and holds
 * the round until its PASS.
 */
static void barrier_complete(struct barrier *b, struct client *c, uint32_t id, uint16_t op) {
        uint32_t index = b->parties - 1;

        if (!b->action) {
                /* The parked parties are answered first, then this last one. */
                barrier_release(b);
                barrier_reply_index(c, id, op, index);
                return;
        }
        barrier_hold(b, c);
        barrier_reply_index(c, id, op, index);
}

/* After a PASS: the parties queued meanwhile arrive now, in order, until one holds a round again. */
static void barrier_enter_queued(struct barrier *b) {
        struct waiter *w;

        while (!b->holder && !b->broken && (w = TAILQ_FIRST(&b->queued))) {
                if (b->n_waiting == b->parties - 1) {
                        struct client *c = w->client;
                        uint32_t id = w->id;
                        uint16_t op = w->op;

                        wait_free(w);
                        barrier_complete(b, c, id, op);
                        continue;
                }
                TAILQ_REMOVE(&b->queued, w, obj_link);
                w->list = &b->waiting;
                TAILQ_INSERT_TAIL(&b->waiting, w, obj_link);
                w->max = b->n_waiting++;
        }
}

/*
 * A cancelled party never arrived: the parties behind it move up one place,
 * and the round waits for one more. Nothing breaks. A party queued behind a
 * held round only leaves the queue; one of the held round leaves it (the
 * round is complete: the others keep their indexes).
 */
static void barrier_withdraw(struct barrier *b, struct waiter *w) {
        struct waiter *later;

        if (w->list == &b->queued)
                return;
        if (b->holder) {
                b->n_waiting--;
                return;
        }
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
        struct barrier *b = barrier_of(o);

        barrier_unhold(b);
        free(b);
}

static int barrier_describe(struct object *o, struct wire_buf *buf, struct wire_fields *f) {
        struct barrier *b = barrier_of(o);
        int r = 0;

        r |= wire_put_field_int(buf, f, "size", b->n_waiting);
        r |= wire_put_field_int(buf, f, "parties", b->parties);
        r |= wire_put_field_int(buf, f, "waiting", b->n_waiting);
        r |= wire_put_field_int(buf, f, "waiters", b->n_waiting + wait_count(&b->queued));
        r |= wire_put_field_int(buf, f, "broken", b->broken);
        r |= wire_put_field_int(buf, f, "action", b->action);
        r |= wire_put_field_int(buf, f, "held", b->holder != NULL);
        r |= wire_put_field_int(buf, f, "timeout_ms", b->timeout_ms < 0 ? -1 : b->timeout_ms);
        r |= wire_put_field_int(buf, f, "rounds", (int64_t) b->rounds);
        r |= wire_put_field_int(buf, f, "breaks", (int64_t) b->breaks);
        r |= wire_put_field_int(buf, f, "resets", (int64_t) b->resets);
        r |= wire_put_field_int(buf, f, "timeouts", (int64_t) o->timeouts);
        r |= object_describe_age(o, buf, f);
        return r < 0 ? -ENOMEM : 0;
}

static void barrier_client_lost(struct client *c);

/* What a declare asks of a barrier: its parties, and opt (NULL: any action and timeout) as far as given. */
struct barrier_params {
        uint32_t parties;
        const struct barrier_options *opt;
        bool any_timeout;               /* opt's timeout was not given: the barrier's own matches */
};

static int barrier_declare_check(const void *params) {
        const struct barrier_params *p = params;

        return p->parties == 0 ? -EINVAL : 0;
}

/* The barrier that exists is for as many parties, with the action and timeout that are asked for. */
static int barrier_declare_match(struct object *o, const void *params) {
        const struct barrier_params *p = params;
        const struct barrier *b = barrier_of(o);
        const struct barrier_options *opt = p->opt;

        if (b->parties != p->parties)
                return -EEXIST;
        if (opt && opt->action != b->action)
                return -EEXIST;
        if (opt && !p->any_timeout && ((opt->timeout_ms < 0) != (b->timeout_ms < 0) ||
                                       (opt->timeout_ms >= 0 && opt->timeout_ms != b->timeout_ms)))
                return -EEXIST;
        return 0;
}

/* A new barrier, for the parties, action and timeout declared. */
static int barrier_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        const struct barrier_params *p = params;
        struct barrier *b = barrier_of(o);

        (void) name, (void) len;
        b->parties = p->parties;
        b->action = p->opt && p->opt->action;
        b->timeout_ms = p->opt ? p->opt->timeout_ms : -1;
        TAILQ_INIT(&b->waiting);
        TAILQ_INIT(&b->queued);
        return 0;
}

static const struct object_type barrier_type = {
        .type = WIRE_TYPE_BARRIER,
        .wake_all = barrier_wake_all,
        .describe = barrier_describe,
        .free = barrier_free,
        .waiter_left = barrier_waiter_left,
        .client_lost = barrier_client_lost,
        .declare_check = barrier_declare_check,
        .declare_match = barrier_declare_match,
        .size = sizeof(struct barrier),
        .declare_init = barrier_declare_init,
};

/* ---- request handlers ---- */

/* Create a barrier, or check that it exists for as many parties and as opt asks (see barrier.h). */
int barrier_declare(const char *name, size_t len, uint32_t parties, const struct barrier_options *opt) {
        struct barrier_params p = { .parties = parties, .opt = opt };

        return object_declare(NULL, name, len, &barrier_type, &p, NULL);
}

/*
 * DECLARE: name, u32 parties [, u32 flags [, i64 timeout_ms]] -> u8 created.
 * A barrier is never durable. A body that stops after parties matches any
 * action and timeout; one with flags matches the action, and with
 * timeout_ms the timeout too.
 */
int barrier_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier_options opt = { .timeout_ms = -1 };
        struct barrier_params p = { .any_timeout = true };
        const char *name;
        size_t len;
        uint32_t flags = 0;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &p.parties))
                return -EPROTO;
        if (r->left > 0) {
                if (!wire_get_u32(r, &flags))
                        return -EPROTO;
                p.opt = &opt;
        }
        if (r->left > 0) {
                if (!wire_get_i64(r, &opt.timeout_ms))
                        return -EPROTO;
                p.any_timeout = false;
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        if (flags & ~(WIRE_DECLARE_COUNTED | WIRE_BARRIER_ACTION))
                return -EINVAL;
        opt.action = flags & WIRE_BARRIER_ACTION;
        if (opt.timeout_ms == WIRE_TIMEOUT_DEFAULT)
                return -EINVAL;
        return object_handle_declare(c, req, name, len, &barrier_type, &p, flags & WIRE_DECLARE_COUNTED);
}

/* WAIT: name, i64 timeout_ms -> u32 arrival index. */
int barrier_handle_wait(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = barrier_of(req->obj);
        struct waiter *w;
        int64_t timeout_ms = req->f[0].i;
        uint32_t index;

        if (timeout_ms == WIRE_TIMEOUT_DEFAULT)
                timeout_ms = b->timeout_ms < 0 ? -1 : b->timeout_ms;
        if (b->broken)
                return -ENOTRECOVERABLE;
        if (b->holder) {
                /* A round is held for its action: this party is the next round's, once it passes. */
                if (timeout_ms == 0)
                        return -EAGAIN;
                return wait_add(c, req, &b->obj, &b->queued, timeout_ms) ? 0 : -errno;
        }
        index = b->n_waiting;
        if (index == b->parties - 1) {
                barrier_complete(b, c, req->id, req->op);
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
        struct barrier *b = barrier_of(req->obj);

        b->resets++;
        barrier_fail_waiting(b, NULL, -ENOTRECOVERABLE);
        b->broken = false;
        return op_reply_ok(c, req);
}

/* ABORT: name. Break the barrier until RESET. */
int barrier_handle_abort(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = barrier_of(req->obj);

        barrier_break(b, NULL);
        return op_reply_ok(c, req);
}

/*
 * PASS: name. The action of the round this connection holds ran: release
 * the round, then let the parties queued meanwhile arrive. EINVAL when this
 * connection holds no round of it; ENOTRECOVERABLE when the barrier broke
 * meanwhile (a parked party's timeout, ABORT, RESET).
 */
int barrier_handle_pass(struct client *c, const struct request *req, struct wire_reader *r) {
        struct barrier *b = barrier_of(req->obj);

        if (b->broken)
                return -ENOTRECOVERABLE;
        if (b->holder != c)
                return -EINVAL;
        barrier_unhold(b);
        barrier_release(b);
        client_reply_status(c, req->id, req->op, 0);
        barrier_enter_queued(b);
        return 0;
}

/* The client_lost hook: a round a lost client held for its action breaks. */
static void barrier_client_lost(struct client *c) {
        struct barrier *b, *next;

        for (b = LIST_FIRST(&held_barriers); b; b = next) {
                next = LIST_NEXT(b, held_link);
                if (b->holder != c)
                        continue;
                log_debug("barrier '%s': the party running its action is gone, breaking it", b->obj.name);
                barrier_break(b, NULL);
        }
}
