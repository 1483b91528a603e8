/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues over Redis: each request of the queue family
 * becomes one call of a function of client/redis/queue.lua, which keeps the
 * items, the deliveries and their leases (the key layout is described
 * there).
 *
 * The ops here only read the request body (all of it, so that a malformed
 * body is EPROTO whatever the object), pass its fields on and turn the
 * function's answer into the reply body PROTOCOL.md gives. Every check that
 * depends on the object (ENOENT, EPROTOTYPE, then flags, counts, TTR) is made
 * by the Lua, in mpxd's order. A request that would wait fails there with
 * EAGAIN and the backend parks it; those that may wait take the timeout of
 * their body.
 *
 * Items cross from the Lua as a flat array: tag, deliveries, payload for
 * each.
 */
#include <errno.h>

#include "mpx-redis.h"

/* The declare flags this backend knows. */
#define QUEUE_DECLARE_FLAGS (WIRE_QUEUE_JOINABLE | WIRE_QUEUE_CONNECTION | WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED)

/* The optional u32 ttr_ms that ends GET, GET_MANY and DONE_GET: 0 (the queue's) when absent. */
static bool read_get_ttr(struct wire_reader *body, uint32_t *ttr_ms) {
        *ttr_ms = 0;
        if (wire_reader_done(body))
                return true;
        return wire_get_u32(body, ttr_ms) && wire_reader_done(body);
}

/* Write the n items of an array reply: u64 tag, u32 deliveries, bytes payload each. */
static int put_items(const redisReply *r, size_t n, struct wire_buf *body) {
        for (size_t i = 0; i < n; i++) {
                const void *data;
                size_t size;
                uint64_t tag, deliveries;

                if (!redis_reply_u64(redis_reply_at(r, 3 * i), &tag) ||
                    !redis_reply_u64(redis_reply_at(r, 3 * i + 1), &deliveries) ||
                    !redis_reply_bytes(redis_reply_at(r, 3 * i + 2), &data, &size) ||
                    deliveries > UINT32_MAX || size > UINT32_MAX)
                        return -EPROTO;
                if (wire_put_u64(body, tag) < 0 || wire_put_u32(body, (uint32_t) deliveries) < 0 ||
                    wire_put_bytes(body, data, (uint32_t) size) < 0)
                        return -ENOMEM;
        }
        return 0;
}

/* The number of items in an array reply of items; false if it is not one. */
static bool item_count(const redisReply *r, size_t *n) {
        if (r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0)
                return false;
        *n = r->elements / 3;
        return true;
}

/*
 * The lines of parked requests of a queue, which INFO counts: a request
 * that may wait names its line, its client and its id (-1 when it may
 * not wait), so that the Lua can list it while it waits.
 */
enum wait_line { LINE_GETTERS, LINE_PUTTERS, LINE_JOINERS };

static const char *const line_keys[] = { ":getters", ":putters", ":joiners" };

/* The clean-up call's answer: the status the parked request ended with. */
static int unwaited(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        return -(int) c->u[2];
}

/*
 * A parked request that timed out or was cancelled leaves its line at
 * once, rather than when its listing runs out.
 */
static int unwait(struct redis_call *c, int err) {
        if (!c->was_parked || (err != -ETIMEDOUT && err != -ECANCELED))
                return 0;
        c->u[2] = (uint64_t) -err;
        if (redis_call_begin(c, "mpx_queue_unwait", unwaited) < 0 || redis_arg_str(c, line_keys[c->u[1]]) < 0 ||
            redis_arg_client(c) < 0 || redis_arg_i64(c, c->id) < 0)
                return 0;
        return 1;
}

/* Begin the call of a request that may wait in line: its first arguments are client and request id. */
static int begin_waiting(struct redis_call *c, const char *fn, redis_reply_fn *reply, enum wait_line line) {
        int r = redis_call_begin(c, fn, reply);

        c->u[1] = line;
        c->abandon = unwait;
        if (r == 0)
                r = redis_arg_client(c);
        if (r == 0)
                r = redis_arg_i64(c, c->timeout_ms == 0 ? -1 : (int64_t) c->id);
        return r;
}

/* DECLARE's answer: created. */
static int declared(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t created;

        if (!redis_reply_i64(r, &created) || (created != 0 && created != 1))
                return -EPROTO;
        /*
         * A counted declare takes a reference, created or not; a connection's
         * queue is held by its creator. (A lease renewed where nothing is
         * held ends by itself.)
         */
        if (c->u[0] & (WIRE_DECLARE_COUNTED | WIRE_QUEUE_CONNECTION))
                c->holds = true;
        return wire_put_u8(body, (uint8_t) created);
}

/* DECLARE: name, u64 maxsize[, u32 flags[, u32 ttr_ms]] -> u8 created. */
static int queue_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint32_t flags = 0, ttr_ms = 0;
        uint64_t maxsize;
        bool has_ttr;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &maxsize))
                return -EPROTO;
        if (!wire_reader_done(body) && !wire_get_u32(body, &flags))
                return -EPROTO;
        has_ttr = !wire_reader_done(body);
        if (has_ttr && (!wire_get_u32(body, &ttr_ms) || !wire_reader_done(body)))
                return -EPROTO;
        if (flags & ~QUEUE_DECLARE_FLAGS)
                return -EINVAL;
        /* A connection's queue ends with it: never durable nor counted; nor is a counted object durable. */
        if ((flags & WIRE_QUEUE_CONNECTION) && (flags & (WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED)))
                return -EINVAL;
        if ((flags & WIRE_DECLARE_COUNTED) && (flags & WIRE_DECLARE_DURABLE))
                return -EINVAL;
        c->u[0] = flags;
        r = redis_call_begin(c, "mpx_queue_declare", declared);
        if (r == 0)
                r = redis_arg_u64(c, maxsize);
        if (r == 0)
                r = redis_arg_u64(c, flags);
        if (r == 0)
                r = redis_arg_i64(c, has_ttr ? (int64_t) ttr_ms : -1);
        if (r == 0)
                r = redis_arg_client(c);
        if (r == 0)
                r = redis_arg_lease(c);
        return r;
}

/*
 * A payload over the limit this backend announces in HELLO: EMSGSIZE, once
 * the queue is found (ENOENT and EPROTOTYPE come first, as from mpxd).
 * libmpx refuses such payloads itself; this is for other clients' frames.
 */
static int refuse_too_big(struct redis_call *c) {
        int r = redis_call_begin(c, "mpx_queue_refuse", redis_reply_empty);

        return r < 0 ? r : redis_arg_str(c, "EMSGSIZE");
}

/* PUT: name, i64 timeout_ms, bytes payload -> (empty). */
static int queue_put(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        const void *data;
        uint32_t size;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, &c->timeout_ms) ||
            !wire_get_bytes(body, &data, &size) || !wire_reader_done(body))
                return -EPROTO;
        if (size > WIRE_DEFAULT_MAX_MESSAGE)
                return refuse_too_big(c);
        r = begin_waiting(c, "mpx_queue_put", redis_reply_empty, LINE_PUTTERS);
        if (r == 0)
                r = redis_arg_bytes(c, data, size);
        return r;
}

/*
 * PUT_MANY: name, i64 timeout_ms, u32 n, n x bytes -> (empty). All or none:
 * the Lua puts them in one step when there is room for all (EINVAL for n 0).
 */
static int queue_put_many(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        struct wire_reader items;
        bool too_big = false;
        uint32_t n;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, &c->timeout_ms) || !wire_get_u32(body, &n))
                return -EPROTO;
        items = *body;
        for (uint32_t i = 0; i < n; i++) {
                const void *data;
                uint32_t size;

                if (!wire_get_bytes(body, &data, &size))
                        return -EPROTO;
                too_big |= size > WIRE_DEFAULT_MAX_MESSAGE;
        }
        if (!wire_reader_done(body))
                return -EPROTO;
        if (too_big && n > 0)
                return refuse_too_big(c);
        r = begin_waiting(c, "mpx_queue_put", redis_reply_empty, LINE_PUTTERS);
        for (uint32_t i = 0; r == 0 && i < n; i++) {
                const void *data;
                uint32_t size;

                (void) wire_get_bytes(&items, &data, &size);
                r = redis_arg_bytes(c, data, size);
        }
        return r;
}

/*
 * The items a get took. An attached delivery of a joinable queue (tag not
 * 0) is held by this client: its connection renews the lease and gives it
 * back at disconnect.
 */
static void note_holding(struct redis_call *c, const redisReply *r) {
        uint64_t tag;

        if (!(c->u[0] & WIRE_GET_DETACH) && redis_reply_u64(redis_reply_at(r, 0), &tag) && tag != 0)
                c->holds = true;
}

/* GET's and DONE_GET's answer: one item. */
static int got_one(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        size_t n;

        if (!item_count(r, &n) || n != 1)
                return -EPROTO;
        note_holding(c, r);
        return put_items(r, 1, body);
}

/* GET_MANY's answer: u32 n, n items. */
static int got_many(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        size_t n;

        if (!item_count(r, &n) || n == 0 || n > UINT32_MAX)
                return -EPROTO;
        note_holding(c, r);
        if (wire_put_u32(body, (uint32_t) n) < 0)
                return -ENOMEM;
        return put_items(r, n, body);
}

/* The arguments of mpx_queue_get after the key: client, request, flags, max, ttr_ms, lease. */
static int get_args(struct redis_call *c, redis_reply_fn *reply, uint32_t flags, uint32_t max, uint32_t ttr_ms) {
        int r;

        c->u[0] = flags;
        r = begin_waiting(c, "mpx_queue_get", reply, LINE_GETTERS);
        if (r == 0)
                r = redis_arg_u64(c, flags);
        if (r == 0)
                r = redis_arg_u64(c, max);
        if (r == 0)
                r = redis_arg_u64(c, ttr_ms);
        if (r == 0)
                r = redis_arg_lease(c);
        return r;
}

/* GET: name, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item. */
static int queue_get(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint32_t flags, ttr_ms;

        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, &c->timeout_ms) || !wire_get_u32(body, &flags) ||
            !read_get_ttr(body, &ttr_ms))
                return -EPROTO;
        return get_args(c, got_one, flags, 1, ttr_ms);
}

/* GET_MANY: name, i64 timeout_ms, u32 flags, u32 max[, u32 ttr_ms] -> u32 n, n x item. */
static int queue_get_many(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint32_t flags, max, ttr_ms;

        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, &c->timeout_ms) || !wire_get_u32(body, &flags) ||
            !wire_get_u32(body, &max) || !read_get_ttr(body, &ttr_ms))
                return -EPROTO;
        return get_args(c, got_many, flags, max, ttr_ms);
}

/* mpx_queue_done_get's argument after client and request: 1 to finish the tag, 0 once an earlier call did. */
#define DONE_GET_ARG_FINISH 2

/*
 * DONE_GET's answer: an item, or 0 when the finish was done and the get
 * must wait. The call then waits with its finish turned off, so that its
 * retries only get (the tag is finished once, as mpxd does it).
 */
static int done_got(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int r2;

        if (r->type != REDIS_REPLY_INTEGER)
                return got_one(c, r, body);
        r2 = redis_arg_set_u64(c, DONE_GET_ARG_FINISH, 0);
        if (r2 < 0)
                return r2;
        return c->timeout_ms == 0 ? -EAGAIN : REDIS_CALL_WAIT;
}

/* DONE_GET: name, u64 tag, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item. */
static int queue_done_get(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint32_t flags, ttr_ms;
        uint64_t tag;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &tag) || !wire_get_i64(body, &c->timeout_ms) ||
            !wire_get_u32(body, &flags) || !read_get_ttr(body, &ttr_ms))
                return -EPROTO;
        c->u[0] = flags;
        r = begin_waiting(c, "mpx_queue_done_get", done_got, LINE_GETTERS);
        if (r == 0)
                r = redis_arg_u64(c, 1);
        if (r == 0)
                r = redis_arg_u64(c, tag);
        if (r == 0)
                r = redis_arg_u64(c, flags);
        if (r == 0)
                r = redis_arg_u64(c, ttr_ms);
        if (r == 0)
                r = redis_arg_lease(c);
        return r;
}

/* QSIZE's answer: size, maxsize, unfinished, closed. */
static int sized(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t size, maxsize, unfinished, closed;

        (void) c;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 || !redis_reply_u64(redis_reply_at(r, 0), &size) ||
            !redis_reply_u64(redis_reply_at(r, 1), &maxsize) ||
            !redis_reply_u64(redis_reply_at(r, 2), &unfinished) || !redis_reply_u64(redis_reply_at(r, 3), &closed))
                return -EPROTO;
        if (wire_put_u64(body, size) < 0 || wire_put_u64(body, maxsize) < 0 || wire_put_u64(body, unfinished) < 0 ||
            wire_put_u8(body, closed != 0) < 0)
                return -ENOMEM;
        return 0;
}

/* An op whose body is the name alone, calling fn. */
static int name_only(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        if (redis_call_name(c, body) < 0 || !wire_reader_done(body))
                return -EPROTO;
        return redis_call_begin(c, fn, reply);
}

/* QSIZE: name -> u64 size, u64 maxsize, u64 unfinished, u8 closed. */
static int queue_qsize(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        return name_only(c, body, "mpx_queue_qsize", sized);
}

/* CLOSE: name -> (empty). */
static int queue_close(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        return name_only(c, body, "mpx_queue_close", redis_reply_empty);
}

/* PURGE: name -> u64 removed. */
static int queue_purge(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        return name_only(c, body, "mpx_queue_purge", redis_reply_as_u64);
}

/* TASK_DONE: name, u64 tag -> (empty). Tag 0 needs to know whose oldest delivery. */
static int queue_task_done(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint64_t tag;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &tag) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_call_begin(c, "mpx_queue_task_done", redis_reply_empty);
        if (r == 0)
                r = redis_arg_u64(c, tag);
        if (r == 0)
                r = redis_arg_client(c);
        return r;
}

/* JOIN: name, i64 timeout_ms -> (empty), once nothing is unfinished. */
static int queue_join(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        if (redis_call_name(c, body) < 0 || !wire_get_i64(body, &c->timeout_ms) || !wire_reader_done(body))
                return -EPROTO;
        return begin_waiting(c, "mpx_queue_join", redis_reply_empty, LINE_JOINERS);
}

/* PEEK's answer: u32 n, n items (tag 0), possibly none. */
static int peeked(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        size_t n;

        (void) c;
        if (!item_count(r, &n) || n > UINT32_MAX)
                return -EPROTO;
        if (wire_put_u32(body, (uint32_t) n) < 0)
                return -ENOMEM;
        return put_items(r, n, body);
}

/* PEEK: name, u32 max -> u32 n, n x item. */
static int queue_peek(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint32_t max;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_u32(body, &max) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_call_begin(c, "mpx_queue_peek", peeked);
        if (r == 0)
                r = redis_arg_u64(c, max);
        return r;
}

/* TOUCH: name, u64 tag -> (empty): restart the delivery's lease. */
static int queue_touch(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body) {
        uint64_t tag;
        int r;

        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &tag) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_call_begin(c, "mpx_queue_touch", redis_reply_empty);
        if (r == 0)
                r = redis_arg_u64(c, tag);
        return r;
}

const struct redis_op redis_queue_ops[] = {
        { WIRE_OP_QUEUE_DECLARE, queue_declare },
        { WIRE_OP_QUEUE_PUT, queue_put },
        { WIRE_OP_QUEUE_GET, queue_get },
        { WIRE_OP_QUEUE_PUT_MANY, queue_put_many },
        { WIRE_OP_QUEUE_GET_MANY, queue_get_many },
        { WIRE_OP_QUEUE_QSIZE, queue_qsize },
        { WIRE_OP_QUEUE_CLOSE, queue_close },
        { WIRE_OP_QUEUE_TASK_DONE, queue_task_done },
        { WIRE_OP_QUEUE_JOIN, queue_join },
        { WIRE_OP_QUEUE_PURGE, queue_purge },
        { WIRE_OP_QUEUE_PEEK, queue_peek },
        { WIRE_OP_QUEUE_TOUCH, queue_touch },
        { WIRE_OP_QUEUE_DONE_GET, queue_done_get },
        { 0, NULL },
};
