/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend's values and arrays: each op reads its request body,
 * checks what mpxd checks before it looks at the object (the body, then the
 * type code, 14.3), and calls a function of client/redis/array.lua, whose
 * header comment gives the keys. Elements cross as the bytes the wire
 * carries, in the host's byte order, and are stored so.
 *
 * ARRAY_MAP is not served: the elements live in Redis, possibly on another
 * host, and there is no memory to hand out (EOPNOTSUPP).
 */
#include <errno.h>
#include <stdint.h>

#include "mpx-redis.h"
#include "typecode.h"

/* The largest array: the largest string Redis stores (mpxd's limit is 1 GiB). */
#define ARRAY_MAX_BYTES (UINT64_C(512) * 1024 * 1024)

/* The name, then the type code (the op checks it is one: EINVAL, whether or not the name exists). */
static int name_typecode(struct redis_call *c, struct wire_reader *body, uint8_t *typecode) {
        if (redis_call_name(c, body) < 0 || !wire_get_u8(body, typecode))
                return -EPROTO;
        return 0;
}

/* Start the call of fn with the type code as its first argument; u[0] keeps it for the reply. */
static int begin_typed(struct redis_call *c, const char *fn, redis_reply_fn *reply, uint8_t typecode,
                       int64_t index) {
        char code[2] = { (char) typecode, '\0' };

        c->u[0] = typecode;
        if (redis_call_begin(c, fn, reply) < 0 || redis_arg_str(c, code) < 0 || redis_arg_i64(c, index) < 0)
                return -ENOMEM;
        return 0;
}

/* ARRAY_DECLARE: name, u8 typecode, u32 length, u32 flags, bytes initial -> u8 created. */
static int array_declare(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        const struct typecode *t;
        const void *initial;
        uint32_t length, flags, initial_len, kind_flags;
        uint8_t typecode;
        char code[2];
        int r = 0;

        (void) out;
        if (name_typecode(c, body, &typecode) < 0 || !wire_get_u32(body, &length) || !wire_get_u32(body, &flags) ||
            !wire_get_bytes(body, &initial, &initial_len) || !wire_reader_done(body))
                return -EPROTO;
        t = typecode_find((char) typecode);
        if (!t)
                return -EINVAL;
        if (initial_len > WIRE_DEFAULT_MAX_MESSAGE)
                return -EMSGSIZE;
        /* No initial bytes means zeros; otherwise exactly length elements. */
        if (initial_len != 0 && initial_len != (uint64_t) length * t->size)
                return -EINVAL;
        if ((flags & WIRE_DECLARE_COUNTED) && (flags & WIRE_DECLARE_DURABLE))
                return -EINVAL;
        kind_flags = flags & ~(WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
        if (length == 0 || (kind_flags & ~WIRE_ARRAY_VALUE) || ((kind_flags & WIRE_ARRAY_VALUE) && length != 1))
                return -EINVAL;
        if ((uint64_t) length * t->size > ARRAY_MAX_BYTES)
                return -ENOSPC;
        code[0] = (char) typecode;
        code[1] = '\0';
        r |= redis_call_begin(c, "mpx_array_declare", redis_reply_declared);
        r |= redis_arg_str(c, code);
        r |= redis_arg_u64(c, length);
        r |= redis_arg_str(c, (kind_flags & WIRE_ARRAY_VALUE) ? "1" : "0");
        r |= redis_arg_bytes(c, initial, initial_len);
        r |= redis_arg_declare(c, flags);
        return r < 0 ? -ENOMEM : 0;
}

/* GET's answer: the elements, after the type code the request named. */
static int array_get_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        const void *p;
        size_t n;

        if (!redis_reply_bytes(r, &p, &n) || n > UINT32_MAX)
                return -EPROTO;
        return wire_put_u8(body, (uint8_t) c->u[0]) | wire_put_bytes(body, p, (uint32_t) n);
}

/* ARRAY_GET: name, u8 typecode, i64 index, u32 count -> u8 typecode, bytes elements. */
static int array_get(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        int64_t index;
        uint32_t count;
        uint8_t typecode;

        (void) out;
        if (name_typecode(c, body, &typecode) < 0 || !wire_get_i64(body, &index) || !wire_get_u32(body, &count) ||
            !wire_reader_done(body))
                return -EPROTO;
        if (!typecode_find((char) typecode))
                return -EINVAL;
        if (begin_typed(c, "mpx_array_get", array_get_reply, typecode, index) < 0 || redis_arg_u64(c, count) < 0)
                return -ENOMEM;
        return 0;
}

/* ARRAY_SET: name, u8 typecode, i64 index, bytes elements -> (empty). */
static int array_set(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        const void *data;
        int64_t index;
        uint32_t len;
        uint8_t typecode;

        (void) out;
        if (name_typecode(c, body, &typecode) < 0 || !wire_get_i64(body, &index) ||
            !wire_get_bytes(body, &data, &len) || !wire_reader_done(body))
                return -EPROTO;
        if (!typecode_find((char) typecode))
                return -EINVAL;
        if (begin_typed(c, "mpx_array_set", redis_reply_empty, typecode, index) < 0 ||
            redis_arg_bytes(c, data, len) < 0)
                return -ENOMEM;
        return 0;
}

/* ARRAY_ADD: name, u8 typecode, i64 index, bytes delta -> bytes new (one element each). */
static int array_add(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        const void *delta;
        int64_t index;
        uint32_t len;
        uint8_t typecode;

        (void) out;
        if (name_typecode(c, body, &typecode) < 0 || !wire_get_i64(body, &index) ||
            !wire_get_bytes(body, &delta, &len) || !wire_reader_done(body))
                return -EPROTO;
        if (!typecode_find((char) typecode))
                return -EINVAL;
        if (begin_typed(c, "mpx_array_add", redis_reply_as_bytes, typecode, index) < 0 ||
            redis_arg_bytes(c, delta, len) < 0)
                return -ENOMEM;
        return 0;
}

/* CAS's answer: { swapped, current }. */
static int array_cas_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t swapped;
        const void *p;
        size_t n;

        (void) c;
        if (!redis_reply_i64(redis_reply_at(r, 0), &swapped) || !redis_reply_bytes(redis_reply_at(r, 1), &p, &n) ||
            n > 8)
                return -EPROTO;
        return wire_put_u8(body, swapped != 0) | wire_put_bytes(body, p, (uint32_t) n);
}

/* ARRAY_CAS: name, u8 typecode, i64 index, bytes expected, bytes new -> u8 swapped, bytes current. */
static int array_cas(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        const void *expected, *desired;
        int64_t index;
        uint32_t expected_len, desired_len;
        uint8_t typecode;

        (void) out;
        if (name_typecode(c, body, &typecode) < 0 || !wire_get_i64(body, &index) ||
            !wire_get_bytes(body, &expected, &expected_len) || !wire_get_bytes(body, &desired, &desired_len) ||
            !wire_reader_done(body))
                return -EPROTO;
        if (!typecode_find((char) typecode))
                return -EINVAL;
        if (begin_typed(c, "mpx_array_cas", array_cas_reply, typecode, index) < 0 ||
            redis_arg_bytes(c, expected, expected_len) < 0 || redis_arg_bytes(c, desired, desired_len) < 0)
                return -ENOMEM;
        return 0;
}

/* ARRAY_MAP: name. No memory to share across hosts. */
static int array_map(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_reader_done(body))
                return -EPROTO;
        return -EOPNOTSUPP;
}

const struct redis_op redis_array_ops[] = {
        { WIRE_OP_ARRAY_DECLARE, array_declare },
        { WIRE_OP_ARRAY_GET, array_get },
        { WIRE_OP_ARRAY_SET, array_set },
        { WIRE_OP_ARRAY_ADD, array_add },
        { WIRE_OP_ARRAY_CAS, array_cas },
        { WIRE_OP_ARRAY_MAP, array_map },
        { 0, NULL },
};
