/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend's semaphores, events and barriers: each op reads its
 * request body, checks what mpxd checks before it looks at the object, and
 * calls a function of client/redis/sync.lua, whose header comment gives the
 * keys.
 *
 * The requests that wait are called again by the backend until they
 * succeed, so the first call and the later ones differ where the first one
 * changes something: an EVENT_WAIT remembers how many SETs it saw (a SET
 * followed at once by a CLEAR still releases it), a BARRIER_WAIT arrives
 * once and then only asks whether its round completed. Those calls change
 * their own arguments in their reply functions and say REDIS_CALL_WAIT.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "mpx-redis.h"

/* The largest value and max of a semaphore: what an i64 carries. */
#define SEM_VALUE_MAX ((uint64_t) INT64_MAX)

/* ---- shared pieces ---- */

/* The clock of the backend's deadlines. */
static int64_t monotonic_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The ops whose body is a name alone: call fn with the client id when with_client. */
static int name_only(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply,
                     bool with_client) {
        if (redis_call_name(c, body) < 0 || !wire_reader_done(body))
                return -EPROTO;
        if (redis_call_begin(c, fn, reply) < 0 || (with_client && redis_arg_client(c) < 0))
                return -ENOMEM;
        return 0;
}

/* The ops whose body is a name and an i64 timeout_ms. */
static int name_timeout(struct redis_call *c, struct wire_reader *body, int64_t *timeout_ms) {
        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, timeout_ms) || !wire_reader_done(body))
                return -EPROTO;
        return 0;
}

/* ---- semaphores ---- */

/* SEM_DECLARE: name, u64 value, u64 max[, u32 flags] -> u8 created. */
static int sem_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint64_t value, max;
        uint32_t flags = 0, sem_flags;

        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &value) || !wire_get_u64(body, &max) ||
            (!wire_reader_done(body) && !wire_get_u32(body, &flags)) || !wire_reader_done(body))
                return -EPROTO;
        /* DURABLE is Redis's own persistence: nothing to do, but never with COUNTED. */
        if ((flags & WIRE_DECLARE_COUNTED) && (flags & WIRE_DECLARE_DURABLE))
                return -EINVAL;
        sem_flags = flags & ~(WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
        if ((sem_flags & ~(WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO)) || value > SEM_VALUE_MAX)
                return -EINVAL;
        if (sem_flags & WIRE_SEM_BOUNDED) {
                if (max == 0 || max < value || max > SEM_VALUE_MAX)
                        return -EINVAL;
        } else if (max != 0)
                return -EINVAL;
        if (redis_call_begin(c, "mpx_sem_declare", redis_reply_declared) < 0 || redis_arg_u64(c, value) < 0 ||
            redis_arg_u64(c, max) < 0 || redis_arg_u64(c, sem_flags) < 0)
                return -ENOMEM;
        return redis_arg_declare(c, flags);
}

/*
 * ACQUIRE's answer: bit 0, a holder died (EOWNERDEAD, the unit is taken all
 * the same); bit 1, the unit is held by this client (SEM_UNDO); -1, no unit
 * and timeout 0; -(ticket) - 1, no unit yet: wait in the line with that
 * ticket (u[0]), and call again with it.
 */
static int sem_acquire_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) body;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        if (v == -1)
                return -EAGAIN;
        if (v < 0) {
                /* In the line: held, so that the line forgets it when this client goes. */
                c->holds = true;
                c->u[0] = (uint64_t) -(v + 1);
                if (redis_arg_set_u64(c, 0, c->u[0]) < 0)
                        return -ENOMEM;
                return REDIS_CALL_WAIT;
        }
        if (v & 2)
                c->holds = true;
        return (v & 1) ? -EOWNERDEAD : 0;
}

/* The clean-up call's answer: the acquirer left the line; it ends with the status kept in u[1]. */
static int sem_leave_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        (void) r;
        (void) body;
        return -(int) c->u[1];
}

/* A parked acquirer that times out or is cancelled leaves the line, not to hold up those behind it. */
static int sem_abandon(struct redis_call *c, int err) {
        if ((err != -ETIMEDOUT && err != -ECANCELED) || c->u[0] == 0)
                return 0;
        c->u[1] = (uint64_t) -err;
        if (redis_call_begin(c, "mpx_sem_leave", sem_leave_reply) < 0 || redis_arg_u64(c, c->u[0]) < 0 ||
            redis_arg_client(c) < 0)
                return 0;
        return 1;
}

/* SEM_ACQUIRE: name, i64 timeout_ms -> (empty). */
static int sem_acquire(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        int err;

        (void) out;
        err = name_timeout(c, body, &c->timeout_ms);
        if (err < 0)
                return err;
        c->u[0] = 0;
        c->abandon = sem_abandon;
        if (redis_call_begin(c, "mpx_sem_acquire", sem_acquire_reply) < 0 || redis_arg_str(c, "-") < 0 ||
            redis_arg_client(c) < 0 || redis_arg_lease(c) < 0 || redis_arg_str(c, c->timeout_ms ? "1" : "0") < 0)
                return -ENOMEM;
        return 0;
}

/* SEM_RELEASE: name -> (empty). The client id says whose holding the unit comes from. */
static int sem_release(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_sem_release", redis_reply_empty, true);
}

/* VALUE's answer: { value, max } as decimal text. */
static int sem_value_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t value, max;

        (void) c;
        if (!redis_reply_u64(redis_reply_at(r, 0), &value) || !redis_reply_u64(redis_reply_at(r, 1), &max))
                return -EPROTO;
        return wire_put_u64(body, value) | wire_put_u64(body, max);
}

/* SEM_VALUE: name -> u64 value, u64 max. */
static int sem_value(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_sem_value", sem_value_reply, false);
}

/* ---- events ---- */

/* EVENT_DECLARE: name[, u32 flags] -> u8 created. An event is never durable. */
static int event_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint32_t flags = 0;

        (void) out;
        if (redis_call_name(c, body) < 0 || (body->left > 0 && !wire_get_u32(body, &flags)) ||
            !wire_reader_done(body))
                return -EPROTO;
        if (flags & ~WIRE_DECLARE_COUNTED)
                return -EINVAL;
        if (redis_call_begin(c, "mpx_event_declare", redis_reply_declared) < 0)
                return -ENOMEM;
        return redis_arg_declare(c, flags);
}

static int event_set(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_event_set", redis_reply_empty, false);
}

static int event_clear(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_event_clear", redis_reply_empty, false);
}

static int event_is_set(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_event_is_set", redis_reply_as_u8, false);
}

/*
 * WAIT's answer: 1, released; 0, not released and timeout 0; { sets, token }:
 * parked (u[0] set, u[1] the SETs it saw, u[2] its token), to be called
 * again with them, so that any later SET releases this waiter even if a
 * CLEAR follows before it asks.
 */
static int event_wait_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) body;
        if (r->type != REDIS_REPLY_ARRAY) {
                if (!redis_reply_i64(r, &v))
                        return -EPROTO;
                return v ? 0 : -EAGAIN;
        }
        if (!redis_reply_u64(redis_reply_at(r, 0), &c->u[1]) || !redis_reply_u64(redis_reply_at(r, 1), &c->u[2]))
                return -EPROTO;
        /* A waiter is held, so that INFO stops counting it when its client goes. */
        c->holds = true;
        c->u[0] = 1;
        if (redis_arg_set_u64(c, 0, c->u[1]) < 0 || redis_arg_set_u64(c, 2, c->u[2]) < 0)
                return -ENOMEM;
        return REDIS_CALL_WAIT;
}

/* The clean-up call's answer: 1, a SET released the waiter first after all; else the status kept in u[3]. */
static int event_leave_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) body;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        return v ? 0 : -(int) c->u[3];
}

/* A parked waiter that times out or is cancelled stops being one. */
static int event_abandon(struct redis_call *c, int err) {
        if ((err != -ETIMEDOUT && err != -ECANCELED) || !c->u[0])
                return 0;
        c->u[3] = (uint64_t) -err;
        if (redis_call_begin(c, "mpx_event_leave", event_leave_reply) < 0 || redis_arg_u64(c, c->u[1]) < 0 ||
            redis_arg_u64(c, c->u[2]) < 0 || redis_arg_client(c) < 0)
                return 0;
        return 1;
}

/* EVENT_WAIT: name, i64 timeout_ms -> (empty). */
static int event_wait(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        int err, r = 0;

        (void) out;
        err = name_timeout(c, body, &c->timeout_ms);
        if (err < 0)
                return err;
        c->u[0] = 0;
        c->abandon = event_abandon;
        r |= redis_call_begin(c, "mpx_event_wait", event_wait_reply);
        r |= redis_arg_str(c, "-");
        r |= redis_arg_str(c, c->timeout_ms ? "1" : "0");
        r |= redis_arg_u64(c, 0);
        r |= redis_arg_client(c);
        r |= redis_arg_lease(c);
        return r < 0 ? -ENOMEM : 0;
}

/* ---- barriers ---- */

/*
 * A BARRIER_WAIT's state between calls, in c->u: u[0] is what it is
 * waiting as (one of these), u[1] and u[2] the round it is parked in and its
 * arrival token, u[3] whether it waits the barrier's own timeout (until the
 * first answer says which), then the status a clean-up call ends with.
 */
enum {
        BARRIER_NEW = 0,                /* not arrived yet */
        BARRIER_PARKED = 1,             /* arrived, parked in round u[1] as token u[2] */
        BARRIER_QUEUED = 2,             /* a round is held for its action: arrive once it passes */
};

/* The arguments of mpx_barrier_wait after the key: mode, timeout, client, lease, round, token. */
#define BARRIER_ARG_MODE        0
#define BARRIER_ARG_ROUND       4
#define BARRIER_ARG_TOKEN       5

/* BARRIER_DECLARE: name, u32 parties[, u32 flags[, i64 timeout_ms]] -> u8 created. */
static int barrier_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint32_t parties, flags = 0;
        int64_t timeout_ms = -1;
        bool has_flags, has_timeout;

        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_get_u32(body, &parties))
                return -EPROTO;
        has_flags = body->left > 0;
        if (has_flags && !wire_get_u32(body, &flags))
                return -EPROTO;
        has_timeout = body->left > 0;
        if ((has_timeout && !wire_get_i64(body, &timeout_ms)) || !wire_reader_done(body))
                return -EPROTO;
        if ((flags & ~(WIRE_DECLARE_COUNTED | WIRE_BARRIER_ACTION)) || timeout_ms == WIRE_TIMEOUT_DEFAULT ||
            parties == 0)
                return -EINVAL;
        /* Every negative timeout is "none", and compares equal to any other. */
        if (timeout_ms < 0)
                timeout_ms = -1;
        if (redis_call_begin(c, "mpx_barrier_declare", redis_reply_declared) < 0 || redis_arg_u64(c, parties) < 0 ||
            redis_arg_str(c, (flags & WIRE_BARRIER_ACTION) ? "1" : "0") < 0 || redis_arg_i64(c, timeout_ms) < 0 ||
            redis_arg_str(c, has_flags ? "1" : "0") < 0 || redis_arg_str(c, has_timeout ? "1" : "0") < 0)
                return -ENOMEM;
        return redis_arg_declare(c, flags);
}

/*
 * WAIT's answer: { kind, timeout, ... } (see mpx_barrier_wait). timeout is
 * the one the party waits, the barrier's own for TIMEOUT_DEFAULT.
 */
static int barrier_wait_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t kind, timeout_ms, index;
        uint64_t round, token;

        if (!redis_reply_i64(redis_reply_at(r, 0), &kind) || !redis_reply_i64(redis_reply_at(r, 1), &timeout_ms))
                return -EPROTO;
        /*
         * The timeout the party waits is known now when it is the barrier's
         * own: the backend set no deadline for it (a retry of a parked party
         * answers none: it has its own already).
         */
        if (c->u[0] == BARRIER_NEW && c->u[3]) {
                c->u[3] = 0;
                c->timeout_ms = timeout_ms;
                if (timeout_ms > 0)
                        c->deadline = monotonic_ms() + timeout_ms;
        }
        switch (kind) {
        case 3:
                /* This party runs the action and holds the round till its PASS. */
                c->holds = true;
                /* fall through */
        case 0:
                if (!redis_reply_i64(redis_reply_at(r, 2), &index) || index < 0 || index > UINT32_MAX)
                        return -EPROTO;
                return wire_put_u32(body, (uint32_t) index);
        case 1:
                if (!redis_reply_u64(redis_reply_at(r, 2), &round) || !redis_reply_u64(redis_reply_at(r, 3), &token))
                        return -EPROTO;
                /* Parked: its lease keeps the round from waiting for it if it dies. */
                c->holds = true;
                c->u[0] = BARRIER_PARKED;
                c->u[1] = round;
                c->u[2] = token;
                if (redis_arg_set_str(c, BARRIER_ARG_MODE, "check") < 0 ||
                    redis_arg_set_u64(c, BARRIER_ARG_ROUND, round) < 0 ||
                    redis_arg_set_u64(c, BARRIER_ARG_TOKEN, token) < 0)
                        return -ENOMEM;
                return REDIS_CALL_WAIT;
        case 2:
                c->u[0] = BARRIER_QUEUED;
                return REDIS_CALL_WAIT;
        default:
                return -EPROTO;
        }
}

/* The clean-up call's answer: { 0, index }, the round completed first after all; { 1 }, the party left. */
static int barrier_leave_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t kind, index;

        if (!redis_reply_i64(redis_reply_at(r, 0), &kind))
                return -EPROTO;
        if (kind == 1)
                return -(int) c->u[3];
        if (kind != 0 || !redis_reply_i64(redis_reply_at(r, 1), &index) || index < 0 || index > UINT32_MAX)
                return -EPROTO;
        return wire_put_u32(body, (uint32_t) index);
}

/*
 * A parked party whose timeout passed breaks the barrier, as Python's does;
 * one that is cancelled withdraws from its round. Either is a call of its
 * own (mpx_barrier_leave), which may still find the round completed.
 */
static int barrier_abandon(struct redis_call *c, int err) {
        if ((err != -ETIMEDOUT && err != -ECANCELED) || c->u[0] == BARRIER_NEW)
                return 0;
        c->u[3] = (uint64_t) -err;
        if (redis_call_begin(c, "mpx_barrier_leave", barrier_leave_reply) < 0 ||
            redis_arg_str(c, err == -ETIMEDOUT ? "timeout" : "cancel") < 0 || redis_arg_u64(c, c->u[0]) < 0 ||
            redis_arg_u64(c, c->u[1]) < 0 || redis_arg_u64(c, c->u[2]) < 0 || redis_arg_client(c) < 0)
                return 0;
        return 1;
}

/* BARRIER_WAIT: name, i64 timeout_ms -> u32 arrival index. */
static int barrier_wait(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        int64_t timeout_ms;
        int err, r = 0;

        (void) out;
        err = name_timeout(c, body, &timeout_ms);
        if (err < 0)
                return err;
        /*
         * The barrier's own timeout is in Redis: the first call answers it.
         * Till then, 0: the first call never parks by failing EAGAIN unless
         * the timeout it waits is 0.
         */
        c->timeout_ms = timeout_ms == WIRE_TIMEOUT_DEFAULT ? 0 : timeout_ms;
        c->u[0] = BARRIER_NEW;
        c->u[3] = timeout_ms == WIRE_TIMEOUT_DEFAULT;
        c->abandon = barrier_abandon;
        r |= redis_call_begin(c, "mpx_barrier_wait", barrier_wait_reply);
        r |= redis_arg_str(c, "arrive");
        r |= timeout_ms == WIRE_TIMEOUT_DEFAULT ? redis_arg_str(c, "default") : redis_arg_i64(c, timeout_ms);
        r |= redis_arg_client(c);
        r |= redis_arg_lease(c);
        r |= redis_arg_u64(c, 0);
        r |= redis_arg_u64(c, 0);
        return r < 0 ? -ENOMEM : 0;
}

static int barrier_reset(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_barrier_reset", redis_reply_empty, false);
}

static int barrier_abort(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_barrier_abort", redis_reply_empty, false);
}

/* BARRIER_PASS: name -> (empty); the client id says who holds the round. */
static int barrier_pass(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        return name_only(c, body, "mpx_barrier_pass", redis_reply_empty, true);
}

const struct redis_op redis_sync_ops[] = {
        { WIRE_OP_SEM_DECLARE, sem_declare },
        { WIRE_OP_SEM_ACQUIRE, sem_acquire },
        { WIRE_OP_SEM_RELEASE, sem_release },
        { WIRE_OP_SEM_VALUE, sem_value },
        { WIRE_OP_EVENT_DECLARE, event_declare },
        { WIRE_OP_EVENT_SET, event_set },
        { WIRE_OP_EVENT_CLEAR, event_clear },
        { WIRE_OP_EVENT_IS_SET, event_is_set },
        { WIRE_OP_EVENT_WAIT, event_wait },
        { WIRE_OP_BARRIER_DECLARE, barrier_declare },
        { WIRE_OP_BARRIER_WAIT, barrier_wait },
        { WIRE_OP_BARRIER_RESET, barrier_reset },
        { WIRE_OP_BARRIER_ABORT, barrier_abort },
        { WIRE_OP_BARRIER_PASS, barrier_pass },
        { 0, NULL },
};
