/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend's lists: each LIST_* request becomes one call of an
 * mpx_list_* function of client/redis/list.lua, and its answer the reply
 * body docs/PROTOCOL.md gives (9.32-9.43, 9.76).
 *
 * The body is read in full first, so that a malformed one is EPROTO
 * whatever Redis holds. Indexes go to the Lua as decimal text and are
 * resolved there, against the length the list has at that moment; so are
 * LIST_SLICE's flags, checked after the object as mpxd does. Sizes over
 * max_message are libmpx's own check, made before a request is queued.
 * Lists never wait.
 */
#include <errno.h>

#include "mpx-redis.h"

/* The most bytes a LIST_SLICE reply body holds: half a frame, as in mpxd. */
#define LIST_SLICE_BYTES (WIRE_DEFAULT_MAX_FRAME / 2)

/* Start the call of fn on the object named at the head of body. */
static int list_begin(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        if (redis_call_name(c, body) < 0)
                return -EPROTO;
        return redis_call_begin(c, fn, reply);
}

/* The requests whose body is the name alone. */
static int list_name_only(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        int r = list_begin(c, body, fn, reply);

        if (r == 0 && !wire_reader_done(body))
                return -EPROTO;
        return r;
}

/* The requests whose body is name, bytes item. */
static int list_name_item(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        const void *item;
        uint32_t size;
        int r = list_begin(c, body, fn, reply);

        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &item, &size) || !wire_reader_done(body))
                return -EPROTO;
        return redis_arg_bytes(c, item, size);
}

/* The requests whose body is name, i64 index. */
static int list_name_index(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        int64_t index;
        int r = list_begin(c, body, fn, reply);

        if (r < 0)
                return r;
        if (!wire_get_i64(body, &index) || !wire_reader_done(body))
                return -EPROTO;
        return redis_arg_i64(c, index);
}

/* The requests whose body is name, i64 index, bytes item. */
static int list_name_index_item(struct redis_call *c, struct wire_reader *body, const char *fn,
                                redis_reply_fn *reply) {
        const void *item;
        uint32_t size;
        int64_t index;
        int r = list_begin(c, body, fn, reply);

        if (r < 0)
                return r;
        if (!wire_get_i64(body, &index) || !wire_get_bytes(body, &item, &size) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_arg_i64(c, index);
        if (r == 0)
                r = redis_arg_bytes(c, item, size);
        return r;
}

/* Add the n items that end a request (u32 n already read) as arguments. */
static int list_items_args(struct redis_call *c, struct wire_reader *body, uint32_t n) {
        for (uint32_t i = 0; i < n; i++) {
                const void *item;
                uint32_t size;
                int r;

                if (!wire_get_bytes(body, &item, &size))
                        return -EPROTO;
                r = redis_arg_bytes(c, item, size);
                if (r < 0)
                        return r;
        }
        return wire_reader_done(body) ? 0 : -EPROTO;
}

/* Put element i of an array reply as a bytes field. */
static int list_put_element(struct wire_buf *body, const redisReply *r, size_t i) {
        const void *p;
        size_t n;

        if (!redis_reply_bytes(redis_reply_at(r, i), &p, &n) || n > UINT32_MAX)
                return -EPROTO;
        return wire_put_bytes(body, p, (uint32_t) n);
}

/* DECLARE: name[, u32 flags] -> u8 created, as dicts declare (mpx-redis-object.c). */
static int list_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return redis_declare_name_flags(c, body, "mpx_list_declare");
}

/* APPEND: name, bytes item -> u64 len. */
static int list_append(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_item(c, body, "mpx_list_append", redis_reply_as_u64);
}

/* EXTEND: name, u32 n, n x bytes -> u64 len; one call, so all or nothing. */
static int list_extend(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        uint32_t n;
        int r;

        (void) reply;
        r = list_begin(c, body, "mpx_list_extend", redis_reply_as_u64);
        if (r < 0)
                return r;
        if (!wire_get_u32(body, &n))
                return -EPROTO;
        return list_items_args(c, body, n);
}

/* GET: name, i64 index -> bytes item. */
static int list_get(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_index(c, body, "mpx_list_get", redis_reply_as_bytes);
}

/* SET: name, i64 index, bytes item -> (empty). */
static int list_set(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_index_item(c, body, "mpx_list_set", redis_reply_empty);
}

/* INSERT: name, i64 index, bytes item -> u64 len. */
static int list_insert(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_index_item(c, body, "mpx_list_insert", redis_reply_as_u64);
}

/* POP: name, i64 index -> bytes item. */
static int list_pop(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_index(c, body, "mpx_list_pop", redis_reply_as_bytes);
}

/* REMOVE: name, bytes item -> (empty). */
static int list_remove(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_item(c, body, "mpx_list_remove", redis_reply_empty);
}

/* INDEX: name, bytes item -> u64 index. */
static int list_index(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_item(c, body, "mpx_list_index", redis_reply_as_u64);
}

/* LEN: name -> u64 len. */
static int list_len(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_only(c, body, "mpx_list_len", redis_reply_as_u64);
}

/*
 * SLICE's answer: { next, stop, version, items... } -> u64 next, u64 stop,
 * u32 n, n x bytes, and u64 version when c->u[0] has WIRE_SLICE_VERSION.
 */
static int list_sliced(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t next, stop, version;
        size_t n;
        int err;

        if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || !redis_reply_u64(redis_reply_at(r, 0), &next) ||
            !redis_reply_u64(redis_reply_at(r, 1), &stop) || !redis_reply_u64(redis_reply_at(r, 2), &version))
                return -EPROTO;
        n = r->elements - 3;
        if (n > UINT32_MAX || next > stop)
                return -EPROTO;
        err = wire_put_u64(body, next);
        if (err == 0)
                err = wire_put_u64(body, stop);
        if (err == 0)
                err = wire_put_u32(body, (uint32_t) n);
        for (size_t i = 3; err == 0 && i < r->elements; i++)
                err = list_put_element(body, r, i);
        if (err == 0 && (c->u[0] & WIRE_SLICE_VERSION))
                err = wire_put_u64(body, version);
        return err;
}

/* SLICE: name, i64 start, i64 stop[, u32 flags] -> u64 next, u64 stop, u32 n, n x bytes[, u64 version]. */
static int list_slice(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        int64_t start, stop;
        uint32_t flags = 0;
        int r;

        (void) reply;
        r = list_begin(c, body, "mpx_list_slice", list_sliced);
        if (r < 0)
                return r;
        if (!wire_get_i64(body, &start) || !wire_get_i64(body, &stop) ||
            (body->left > 0 && !wire_get_u32(body, &flags)) || !wire_reader_done(body))
                return -EPROTO;
        /* The Lua refuses other flags (EINVAL), after the object's own checks. */
        c->u[0] = flags;
        r = redis_arg_i64(c, start);
        if (r == 0)
                r = redis_arg_i64(c, stop);
        if (r == 0)
                r = redis_arg_u64(c, flags);
        if (r == 0)
                r = redis_arg_u64(c, LIST_SLICE_BYTES);
        return r;
}

/* CLEAR: name -> u64 removed. */
static int list_clear(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return list_name_only(c, body, "mpx_list_clear", redis_reply_as_u64);
}

/* SPLICE's answer: { done, version, len } -> u8 done, u64 version, u64 len. */
static int list_spliced(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t done;
        uint64_t version, len;
        int err;

        (void) c;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !redis_reply_i64(redis_reply_at(r, 0), &done) ||
            done < 0 || done > 1 || !redis_reply_u64(redis_reply_at(r, 1), &version) ||
            !redis_reply_u64(redis_reply_at(r, 2), &len))
                return -EPROTO;
        err = wire_put_u8(body, (uint8_t) done);
        if (err == 0)
                err = wire_put_u64(body, version);
        if (err == 0)
                err = wire_put_u64(body, len);
        return err;
}

/* SPLICE: name, i64 start, i64 stop, u64 if_version, u32 n, n x bytes -> u8 done, u64 version, u64 len. */
static int list_splice(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        int64_t start, stop;
        uint64_t if_version;
        uint32_t n;
        int r;

        (void) reply;
        r = list_begin(c, body, "mpx_list_splice", list_spliced);
        if (r < 0)
                return r;
        if (!wire_get_i64(body, &start) || !wire_get_i64(body, &stop) || !wire_get_u64(body, &if_version) ||
            !wire_get_u32(body, &n))
                return -EPROTO;
        r = redis_arg_i64(c, start);
        if (r == 0)
                r = redis_arg_i64(c, stop);
        if (r == 0)
                r = redis_arg_u64(c, if_version);
        if (r < 0)
                return r;
        return list_items_args(c, body, n);
}

const struct redis_op redis_list_ops[] = {
        { WIRE_OP_LIST_DECLARE, list_declare },
        { WIRE_OP_LIST_APPEND, list_append },
        { WIRE_OP_LIST_EXTEND, list_extend },
        { WIRE_OP_LIST_GET, list_get },
        { WIRE_OP_LIST_SET, list_set },
        { WIRE_OP_LIST_INSERT, list_insert },
        { WIRE_OP_LIST_POP, list_pop },
        { WIRE_OP_LIST_REMOVE, list_remove },
        { WIRE_OP_LIST_INDEX, list_index },
        { WIRE_OP_LIST_LEN, list_len },
        { WIRE_OP_LIST_SLICE, list_slice },
        { WIRE_OP_LIST_CLEAR, list_clear },
        { WIRE_OP_LIST_SPLICE, list_splice },
        { 0, NULL },
};
