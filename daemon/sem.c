/* SPDX-License-Identifier: MIT */
/*
 * Semaphores and locks, with the semantics of Python's Semaphore,
 * BoundedSemaphore and Lock, plus System V's SEM_UNDO: units a connection
 * acquired and did not release are given back when it closes.
 *
 * Storage: a value, the bound of a bounded semaphore, and one FIFO line of
 * acquirers, served strictly in arrival order (nobody overtakes a parked
 * acquirer, even when a unit is free). For SEM_UNDO each (connection,
 * semaphore) pair that holds units has one struct sem_hold, linked into the
 * client's holds and into the semaphore's, and counting the units. A release
 * by a connection that holds units of the semaphore lowers its count; a
 * release by any other connection just adds a unit, as in Python, where any
 * process may release.
 *
 * A lock is a semaphore of value 1 bounded at 1; this file does not know
 * locks apart. It deliberately has no notion of an owner: a lock released by
 * another connection is released.
 *
 * Robustness, as a robust mutex's EOWNERDEAD: a connection that ends while
 * it holds units (SEM_UNDO) may have left half-done whatever the semaphore
 * guards. Its units come back, and the semaphore remembers that a holder
 * died; the next acquire that succeeds takes its unit and is answered
 * EOWNERDEAD instead of OK, once, so that exactly one new owner repairs.
 *
 * The first half of the file is the storage API, the second the request
 * handlers.
 */
#include <errno.h>
#include <stdlib.h>

#include "client.h"
#include "journal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "sem.h"
#include "wait.h"
#include "wire.h"

/* The largest value of any semaphore: what an i64 (mpx_sem_value) can carry. */
#define SEM_VALUE_MAX ((uint64_t) INT64_MAX)

#define SEM_FLAGS (WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO)

/* Units one connection holds of one semaphore (SEM_UNDO); only while units > 0. */
struct sem_hold {
        struct client *client;
        struct sem *sem;
        uint64_t units;                 /* acquired and not released */
        TAILQ_ENTRY(sem_hold) link;     /* in client->holds */
        TAILQ_ENTRY(sem_hold) sem_link; /* in sem->holds */
};

TAILQ_HEAD(sem_hold_list, sem_hold);

struct sem {
        struct object obj;
        uint64_t value;                 /* units free now */
        uint64_t initial;               /* the value it was declared with */
        uint64_t max;                   /* bounded: the most value may be; 0 when unbounded */
        uint32_t flags;                 /* WIRE_SEM_* */

        struct waiter_list acquirers;
        struct sem_hold_list holds;
        uint64_t n_holders;             /* connections with a hold */
        uint64_t held;                  /* units over all holds */

        uint64_t acquisitions;          /* units handed out */
        uint64_t releases;              /* successful RELEASE requests */
        uint64_t undone;                /* units given back for closed connections */
        uint64_t owner_died;            /* connections that closed holding units */
        bool holder_died;               /* the next successful acquire is told EOWNERDEAD */
        bool journaled_owner_dead;      /* the flag of the last value record */
};

static const struct object_type sem_type;

static struct sem *sem_of(struct object *o) {
        return container_of(o, struct sem, obj);
}

/* ---- storage API ---- */

static bool sem_undo(const struct sem *s) {
        return !(s->flags & WIRE_SEM_NO_UNDO);
}

/* The most value may be: max for a bounded semaphore, else SEM_VALUE_MAX. */
static uint64_t sem_cap(const struct sem *s) {
        return (s->flags & WIRE_SEM_BOUNDED) ? s->max : SEM_VALUE_MAX;
}

/*
 * Whether a restart now would leave the semaphore marked: every connection
 * ends, so a unit held under SEM_UNDO is a holder that died, as is a mark
 * no acquirer was told of yet.
 */
static bool sem_owner_dead_at_restart(const struct sem *s) {
        return s->holder_died || s->held > 0;
}

/*
 * The journal of a durable semaphore records its value as it would be with
 * every SEM_UNDO hold given back: after a restart no connection holds
 * anything. An acquire or a release under SEM_UNDO leaves that unchanged,
 * unless it changes the owner-dead flag recorded with the value.
 */
static void sem_journal_value(struct sem *s) {
        uint64_t cap = sem_cap(s), v = s->held > cap - s->value ? cap : s->value + s->held;
        bool dead = sem_owner_dead_at_restart(s);
        struct wire_buf *b = journal_begin(&s->obj, JOURNAL_SEM_VALUE);

        if (!b)
                return;
        journal_end(wire_put_u64(b, v) | wire_put_u8(b, dead));
        s->journaled_owner_dead = dead;
}

/* After a change under SEM_UNDO, which leaves the value recorded as it was: the flag may have changed. */
static void sem_journal_owner_dead(struct sem *s) {
        if (s->obj.durable && sem_owner_dead_at_restart(s) != s->journaled_owner_dead)
                sem_journal_value(s);
}

/* The hold of client c on s; NULL if c holds no unit of s. */
static struct sem_hold *sem_hold_find(struct sem *s, struct client *c) {
        struct sem_hold *h;

        /* A connection rarely holds many semaphores: its own list is the short one. */
        TAILQ_FOREACH(h, &client_shared(c)->holds, link)
                if (h->sem == s)
                        return h;
        return NULL;
}

/* Unlink a hold from its client and its semaphore and free it; its units are forgotten. */
static void sem_hold_free(struct sem_hold *h) {
        struct sem *s = h->sem;

        TAILQ_REMOVE(&client_shared(h->client)->holds, h, link);
        TAILQ_REMOVE(&s->holds, h, sem_link);
        s->n_holders--;
        s->held -= h->units;
        free(h);
}

/*
 * Hand one unit (value > 0) to client c, recording it in c's hold for
 * SEM_UNDO. Returns 0, -EOWNERDEAD (the unit is taken, and c is the first
 * owner since a holder died), or -ENOMEM with nothing taken.
 */
static int sem_take(struct sem *s, struct client *c) {
        struct sem_hold *h = NULL;
        bool died;

        if (sem_undo(s)) {
                h = sem_hold_find(s, c);
                if (!h) {
                        h = calloc(1, sizeof(*h));
                        if (!h)
                                return -ENOMEM;
                        h->client = c;
                        h->sem = s;
                        TAILQ_INSERT_TAIL(&client_shared(c)->holds, h, link);
                        TAILQ_INSERT_TAIL(&s->holds, h, sem_link);
                        s->n_holders++;
                }
                h->units++;
                s->held++;
        }
        s->value--;
        s->acquisitions++;
        died = s->holder_died;
        s->holder_died = false;
        if (s->obj.durable && !h)
                sem_journal_value(s);
        else
                sem_journal_owner_dead(s);
        s->obj.active_ms = now_ms();
        return died ? -EOWNERDEAD : 0;
}

/*
 * Add units to the value, never past the cap. A unit given back for a closed
 * connection that someone else already released (a non-holder's release)
 * would go past a bounded semaphore's max; it is not given twice.
 */
static void sem_add(struct sem *s, uint64_t units) {
        uint64_t room = sem_cap(s) - s->value;

        s->value += units < room ? units : room;
}

/*
 * Hand free units to the parked acquirers, in arrival order. The waiter is
 * freed before its reply is queued: a reply that cannot be queued loses the
 * client, and with it every waiter it has. A client that is about to be lost
 * (overflowed by others' replies, or closing) is passed over: a unit handed
 * to it would never be used, and without SEM_UNDO never come back. Its
 * waiters are cancelled when it goes, and the semaphore served again.
 */
static void sem_serve(struct sem *s) {
        struct waiter *w, *next;

        for (w = TAILQ_FIRST(&s->acquirers); w && s->value > 0; w = next) {
                struct client *c = w->client;
                uint32_t id = w->id;
                uint16_t op = w->op;
                int r;

                next = TAILQ_NEXT(w, obj_link);
                /* A unit handed to a client on its way out would go with it (for good without SEM_UNDO). */
                if (client_doomed(c))
                        continue;
                r = sem_take(s, c);
                wait_free(w);
                client_reply_status(c, id, op, r);
        }
}

static void sem_serve_object(struct object *o) {
        sem_serve(sem_of(o));
}

static void sem_wake_all(struct object *o, int neg_errno) {
        wait_fail_all(&sem_of(o)->acquirers, neg_errno);
}

static void sem_free(struct object *o) {
        struct sem *s = sem_of(o);
        struct sem_hold *h;

        /* The holds are on their clients' lists too: unlink them there. */
        while ((h = TAILQ_FIRST(&s->holds)))
                sem_hold_free(h);
        free(s);
}

static int sem_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct sem *s = sem_of(o);
        unsigned acquirers = wait_count(&s->acquirers);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", (int64_t) s->value);
        r |= wire_put_field_int(b, f, "value", (int64_t) s->value);
        r |= wire_put_field_int(b, f, "initial", (int64_t) s->initial);
        r |= wire_put_field_int(b, f, "max", (int64_t) s->max);
        r |= wire_put_field_int(b, f, "bounded", !!(s->flags & WIRE_SEM_BOUNDED));
        r |= wire_put_field_int(b, f, "undo", sem_undo(s));
        r |= wire_put_field_int(b, f, "acquirers", acquirers);
        r |= wire_put_field_int(b, f, "waiters", acquirers);
        r |= wire_put_field_int(b, f, "holders", (int64_t) s->n_holders);
        r |= wire_put_field_int(b, f, "held", (int64_t) s->held);
        r |= wire_put_field_int(b, f, "acquisitions", (int64_t) s->acquisitions);
        r |= wire_put_field_int(b, f, "releases", (int64_t) s->releases);
        r |= wire_put_field_int(b, f, "undone", (int64_t) s->undone);
        r |= wire_put_field_int(b, f, "owner_died", (int64_t) s->owner_died);
        r |= wire_put_field_int(b, f, "owner_dead", s->holder_died);
        r |= wire_put_field_int(b, f, "timeouts", (int64_t) o->timeouts);
        r |= object_describe_age(o, b, f);
        return r < 0 ? -ENOMEM : 0;
}

/* The records that recreate the semaphore: its parameters and its value. */
static int sem_dump(struct object *o) {
        struct sem *s = sem_of(o);

        journal_create(o, s->initial, s->max, s->flags);
        sem_journal_value(s);
        return 0;
}

/* Apply a journal record of a durable semaphore, at start. */
static int sem_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct sem *s = sem_of(o);
        uint8_t dead = 0;
        uint64_t v;

        /* The owner-dead flag is absent from records of format 1. */
        if (kind != JOURNAL_SEM_VALUE || !wire_get_u64(r, &v) || v > sem_cap(s) ||
            (!wire_reader_done(r) && (!wire_get_u8(r, &dead) || dead > 1 || !wire_reader_done(r))))
                return -EBADMSG;
        s->value = v;
        s->holder_died = dead;
        s->journaled_owner_dead = dead;
        return 0;
}

static void sem_client_lost(struct client *c);

/* What a declare asks of a semaphore: its value, its bound (bounded only) and its own flags. */
struct sem_params {
        uint64_t value, max;
        uint32_t flags;
};

/* Parameters no semaphore may have: -EINVAL, whether or not it exists. */
static int sem_declare_check(const void *params) {
        const struct sem_params *p = params;

        if (p->flags & ~SEM_FLAGS)
                return -EINVAL;
        if (p->value > SEM_VALUE_MAX)
                return -EINVAL;
        if (p->flags & WIRE_SEM_BOUNDED)
                /* A bound of 0 could never be released into; max is an i64 in INFO. */
                return p->max == 0 || p->max < p->value || p->max > SEM_VALUE_MAX ? -EINVAL : 0;
        return p->max != 0 ? -EINVAL : 0;
}

/* The semaphore that exists was declared with the same value, bound and flags. */
static int sem_declare_match(struct object *o, const void *params) {
        const struct sem_params *p = params;
        const struct sem *s = sem_of(o);

        return s->initial == p->value && s->max == p->max && s->flags == p->flags ? 0 : -EEXIST;
}

/* A new semaphore: its value is the one declared, nobody holds or waits. */
static int sem_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        const struct sem_params *p = params;
        struct sem *s = sem_of(o);

        (void) name, (void) len;
        s->value = s->initial = p->value;
        s->max = p->max;
        s->flags = p->flags;
        TAILQ_INIT(&s->acquirers);
        TAILQ_INIT(&s->holds);
        return 0;
}

static const struct object_type sem_type = {
        .type = WIRE_TYPE_SEMAPHORE,
        .wake_all = sem_wake_all,
        .serve = sem_serve_object,
        .describe = sem_describe,
        .free = sem_free,
        .dump = sem_dump,
        .replay = sem_replay,
        .client_lost = sem_client_lost,
        .declare_check = sem_declare_check,
        .declare_match = sem_declare_match,
        .size = sizeof(struct sem),
        .declare_init = sem_declare_init,
};

/* Give back every unit a lost client held (SEM_UNDO) and serve the acquirers. */
static void sem_client_lost(struct client *c) {
        struct sem_hold *h;

        /*
         * Its waiters are gone already (wait_cancel_client), so serving
         * cannot hand a unit back to this client and make a new hold.
         */
        while ((h = TAILQ_FIRST(&client_shared(c)->holds))) {
                struct sem *s = h->sem;
                uint64_t units = h->units;

                sem_hold_free(h);
                sem_add(s, units);
                s->holder_died = true;
                if (s->obj.durable)
                        sem_journal_value(s);
                s->undone += units;
                s->owner_died++;
                s->obj.active_ms = now_ms();
                log_info("semaphore '%s': %s held %llu unit%s; giving %s back", s->obj.name,
                         client_describe(c), (unsigned long long) units, units == 1 ? "" : "s",
                         units == 1 ? "it" : "them");
                sem_serve(s);
        }
}

/* ---- request handlers ---- */

/* Create a semaphore, or check that it exists with these parameters (see sem.h). */
int sem_declare(const char *name, size_t len, uint64_t value, uint64_t max, uint32_t flags) {
        struct sem_params p = { .value = value, .max = max, .flags = flags };

        return object_declare(NULL, name, len, &sem_type, &p, NULL);
}

/* DECLARE: name, u64 value, u64 max, u32 flags -> u8 created. */
int sem_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        struct sem_params p;
        const char *name;
        size_t len;
        uint32_t flags = 0;

        /* flags may be left out: 0. */
        if (!wire_get_name(r, &name, &len) || !wire_get_u64(r, &p.value) || !wire_get_u64(r, &p.max) ||
            (!wire_reader_done(r) && !wire_get_u32(r, &flags)) || !wire_reader_done(r))
                return -EPROTO;
        p.flags = flags & ~(WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
        return object_handle_declare(c, req, name, len, &sem_type, &p, flags);
}

/* ACQUIRE: name, i64 timeout_ms. One unit, now or in arrival order. */
int sem_handle_acquire(struct client *c, const struct request *req, struct wire_reader *r) {
        struct sem *s = sem_of(req->obj);
        int64_t timeout_ms = req->f[0].i;
        int err;

        /* Strict arrival order: nobody overtakes a parked acquirer. */
        if (s->value > 0 && TAILQ_EMPTY(&s->acquirers)) {
                err = sem_take(s, c);
                if (err < 0 && err != -EOWNERDEAD)
                        return err;
                client_reply_status(c, req->id, req->op, err);
                return 0;
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        return wait_add(c, req, &s->obj, &s->acquirers, timeout_ms) ? 0 : -errno;
}

/* RELEASE: name. One unit back, from the caller's hold if it has one. */
int sem_handle_release(struct client *c, const struct request *req, struct wire_reader *r) {
        struct sem_hold *h;
        bool held;
        struct sem *s = sem_of(req->obj);

        if (s->value >= sem_cap(s))
                return -ERANGE;
        h = sem_undo(s) ? sem_hold_find(s, c) : NULL;
        held = h != NULL;
        if (h) {
                h->units--;
                s->held--;
                if (h->units == 0)
                        sem_hold_free(h);
        }
        s->value++;
        s->releases++;
        /* A unit back into a hold leaves the journaled value as it was. */
        if (s->obj.durable && !held)
                sem_journal_value(s);
        else
                sem_journal_owner_dead(s);
        client_reply_status(c, req->id, req->op, 0);
        sem_serve(s);
        return 0;
}

/* VALUE: name -> u64 value, u64 max. */
int sem_handle_value(struct client *c, const struct request *req, struct wire_reader *r) {
        struct sem *s = sem_of(req->obj);

        return op_reply(c, req, "qq", s->value, s->max);
}

uint64_t sem_client_units(const struct client *c) {
        const struct sem_hold *h;
        uint64_t units = 0;

        TAILQ_FOREACH(h, &client_shared(c)->holds, link)
                units += h->units;
        return units;
}
