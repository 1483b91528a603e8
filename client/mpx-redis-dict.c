/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend's dicts: each DICT_* request becomes one call of an
 * mpx_dict_* function of client/redis/dict.lua, and its answer the reply
 * body docs/PROTOCOL.md gives (9.19-9.31, 9.75).
 *
 * The body is read in full first, so that a malformed one is EPROTO
 * whatever Redis holds. Checks mpxd makes after finding the object (DICT_ITEMS'
 * what, DICT_CAS's flags) are made by the Lua, in mpxd's order. Sizes over
 * max_message are libmpx's own check, made before a request is queued.
 * Dicts never wait.
 */
#include <errno.h>

#include "mpx-redis.h"

/* The most bytes of entries a DICT_ITEMS page holds: half a frame, as in mpxd. */
#define DICT_PAGE_BYTES (WIRE_DEFAULT_MAX_FRAME / 2)

/* Start the call of fn on the object named at the head of body. */
static int dict_begin(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        if (redis_call_name(c, body) < 0)
                return -EPROTO;
        return redis_call_begin(c, fn, reply);
}

/* The requests whose body is the name alone. */
static int dict_name_only(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        int r = dict_begin(c, body, fn, reply);

        if (r == 0 && !wire_reader_done(body))
                return -EPROTO;
        return r;
}

/* The requests whose body is name, bytes key. */
static int dict_name_key(struct redis_call *c, struct wire_reader *body, const char *fn, redis_reply_fn *reply) {
        const void *key;
        uint32_t key_size;
        int r = dict_begin(c, body, fn, reply);

        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &key, &key_size) || !wire_reader_done(body))
                return -EPROTO;
        return redis_arg_bytes(c, key, key_size);
}

/* DECLARE: name[, u32 flags] -> u8 created, as lists declare (mpx-redis-object.c). */
static int dict_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return redis_declare_name_flags(c, body, "mpx_dict_declare");
}

/* SET: name, bytes key, bytes value -> (empty). */
static int dict_set(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        const void *key, *value;
        uint32_t key_size, value_size;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_set", redis_reply_empty);
        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &key, &key_size) || !wire_get_bytes(body, &value, &value_size) ||
            !wire_reader_done(body))
                return -EPROTO;
        r = redis_arg_bytes(c, key, key_size);
        if (r == 0)
                r = redis_arg_bytes(c, value, value_size);
        return r;
}

/* GET: name, bytes key -> bytes value. */
static int dict_get(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_key(c, body, "mpx_dict_get", redis_reply_as_bytes);
}

/* DEL: name, bytes key -> (empty). */
static int dict_del(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_key(c, body, "mpx_dict_del", redis_reply_empty);
}

/* CONTAINS: name, bytes key -> u8 present. */
static int dict_contains(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_key(c, body, "mpx_dict_contains", redis_reply_as_u8);
}

/* LEN: name -> u64 len. */
static int dict_len(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_only(c, body, "mpx_dict_len", redis_reply_as_u64);
}

/* Put element i of an array reply as a bytes field. */
static int dict_put_element(struct wire_buf *body, const redisReply *r, size_t i) {
        const void *p;
        size_t n;

        if (!redis_reply_bytes(redis_reply_at(r, i), &p, &n) || n > UINT32_MAX)
                return -EPROTO;
        return wire_put_bytes(body, p, (uint32_t) n);
}

/*
 * ITEMS' answer: { next_cursor, entries... }, each entry c->u[0] elements
 * (the key and the value, or one of them) -> u64 next_cursor, u32 n, n x entry.
 */
static int dict_items_page(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        size_t per = c->u[0], n;
        uint64_t next;
        int err;

        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || (r->elements - 1) % per != 0 ||
            !redis_reply_u64(redis_reply_at(r, 0), &next))
                return -EPROTO;
        n = (r->elements - 1) / per;
        if (n > UINT32_MAX || (n == 0 && next != 0))
                return -EPROTO;
        err = wire_put_u64(body, next);
        if (err == 0)
                err = wire_put_u32(body, (uint32_t) n);
        for (size_t i = 1; err == 0 && i < r->elements; i++)
                err = dict_put_element(body, r, i);
        return err;
}

/* ITEMS: name, u64 cursor, u32 max, u8 what -> u64 next_cursor, u32 n, n x entry. */
static int dict_items(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        uint64_t cursor;
        uint32_t max;
        uint8_t what;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_items", dict_items_page);
        if (r < 0)
                return r;
        if (!wire_get_u64(body, &cursor) || !wire_get_u32(body, &max) || !wire_get_u8(body, &what) ||
            !wire_reader_done(body))
                return -EPROTO;
        /* The Lua refuses another what (EINVAL), after the object's own checks. */
        c->u[0] = what == (WIRE_DICT_KEYS | WIRE_DICT_VALUES) ? 2 : 1;
        r = redis_arg_u64(c, cursor);
        if (r == 0)
                r = redis_arg_u64(c, max);
        if (r == 0)
                r = redis_arg_u64(c, what);
        if (r == 0)
                r = redis_arg_u64(c, DICT_PAGE_BYTES);
        return r;
}

/* POP: name, bytes key -> bytes value. */
static int dict_pop(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_key(c, body, "mpx_dict_pop", redis_reply_as_bytes);
}

/* POPITEM's answer: { key, value } -> bytes key, bytes value. */
static int dict_popped_item(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int err;

        (void) c;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
                return -EPROTO;
        err = dict_put_element(body, r, 0);
        if (err == 0)
                err = dict_put_element(body, r, 1);
        return err;
}

/* POPITEM: name -> bytes key, bytes value. */
static int dict_popitem(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_only(c, body, "mpx_dict_popitem", dict_popped_item);
}

/* SETDEFAULT: name, bytes key, bytes default -> bytes value. */
static int dict_setdefault(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        const void *key, *def;
        uint32_t key_size, def_size;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_setdefault", redis_reply_as_bytes);
        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &key, &key_size) || !wire_get_bytes(body, &def, &def_size) ||
            !wire_reader_done(body))
                return -EPROTO;
        r = redis_arg_bytes(c, key, key_size);
        if (r == 0)
                r = redis_arg_bytes(c, def, def_size);
        return r;
}

/* UPDATE: name, u32 n, n x (bytes key, bytes value) -> (empty); one call, so all or nothing. */
static int dict_update(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        uint32_t n;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_update", redis_reply_empty);
        if (r < 0)
                return r;
        if (!wire_get_u32(body, &n))
                return -EPROTO;
        for (uint32_t i = 0; i < n; i++) {
                const void *key, *value;
                uint32_t key_size, value_size;

                if (!wire_get_bytes(body, &key, &key_size) || !wire_get_bytes(body, &value, &value_size))
                        return -EPROTO;
                r = redis_arg_bytes(c, key, key_size);
                if (r == 0)
                        r = redis_arg_bytes(c, value, value_size);
                if (r < 0)
                        return r;
        }
        return wire_reader_done(body) ? 0 : -EPROTO;
}

/* CLEAR: name -> u64 removed. */
static int dict_clear(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        (void) reply;
        return dict_name_only(c, body, "mpx_dict_clear", redis_reply_as_u64);
}

/* INCR: name, bytes key, i64 delta -> i64 value. */
static int dict_incr(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        const void *key;
        uint32_t key_size;
        int64_t delta;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_incr", redis_reply_as_i64);
        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &key, &key_size) || !wire_get_i64(body, &delta) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_arg_bytes(c, key, key_size);
        if (r == 0)
                r = redis_arg_i64(c, delta);
        return r;
}

/* CAS's answer: { swapped, present, current } -> u8 swapped, u8 present, bytes current. */
static int dict_cas_done(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t swapped, present;
        int err;

        (void) c;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || !redis_reply_i64(redis_reply_at(r, 0), &swapped) ||
            !redis_reply_i64(redis_reply_at(r, 1), &present) || swapped < 0 || swapped > 1 || present < 0 ||
            present > 1)
                return -EPROTO;
        err = wire_put_u8(body, (uint8_t) swapped);
        if (err == 0)
                err = wire_put_u8(body, (uint8_t) present);
        if (err == 0)
                err = dict_put_element(body, r, 2);
        return err;
}

/* CAS: name, bytes key, u8 expect_present, bytes expected, u8 set_present, bytes new. */
static int dict_cas(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply) {
        const void *key, *expected, *new_value;
        uint32_t key_size, expected_size, new_size;
        uint8_t expect_present, set_present;
        int r;

        (void) reply;
        r = dict_begin(c, body, "mpx_dict_cas", dict_cas_done);
        if (r < 0)
                return r;
        if (!wire_get_bytes(body, &key, &key_size) || !wire_get_u8(body, &expect_present) ||
            !wire_get_bytes(body, &expected, &expected_size) || !wire_get_u8(body, &set_present) ||
            !wire_get_bytes(body, &new_value, &new_size) || !wire_reader_done(body))
                return -EPROTO;
        /* The flags go as they came: the Lua answers EINVAL for one other than 0 or 1. */
        r = redis_arg_bytes(c, key, key_size);
        if (r == 0)
                r = redis_arg_u64(c, expect_present);
        if (r == 0)
                r = redis_arg_bytes(c, expected, expected_size);
        if (r == 0)
                r = redis_arg_u64(c, set_present);
        if (r == 0)
                r = redis_arg_bytes(c, new_value, new_size);
        return r;
}

const struct redis_op redis_dict_ops[] = {
        { WIRE_OP_DICT_DECLARE, dict_declare },
        { WIRE_OP_DICT_SET, dict_set },
        { WIRE_OP_DICT_GET, dict_get },
        { WIRE_OP_DICT_DEL, dict_del },
        { WIRE_OP_DICT_CONTAINS, dict_contains },
        { WIRE_OP_DICT_LEN, dict_len },
        { WIRE_OP_DICT_ITEMS, dict_items },
        { WIRE_OP_DICT_POP, dict_pop },
        { WIRE_OP_DICT_SETDEFAULT, dict_setdefault },
        { WIRE_OP_DICT_UPDATE, dict_update },
        { WIRE_OP_DICT_CLEAR, dict_clear },
        { WIRE_OP_DICT_INCR, dict_incr },
        { WIRE_OP_DICT_CAS, dict_cas },
        { WIRE_OP_DICT_POPITEM, dict_popitem },
        { 0, NULL },
};
