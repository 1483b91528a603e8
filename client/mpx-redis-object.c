/* SPDX-License-Identifier: MIT */
/*
 * The requests on objects of any type over Redis: PING, INFO, LIST, DELETE,
 * STATS, REF and UNREF (client/redis/object.lua); and those that have no
 * meaning without mpxd: the clients and users it sees, permissions (a Redis
 * ACL user decides what a connection may touch), pipes and pools (they pass
 * descriptors or start processes on one host).
 */
#include <string.h>

#include "mpx-redis.h"

/* LIST's cursor across a cluster: the master's ordinal above, its SCAN cursor below. */
#define LIST_CURSOR_BITS        48
#define LIST_CURSOR_MASK        ((UINT64_C(1) << LIST_CURSOR_BITS) - 1)
#define LIST_MAX_DEFAULT        1000u

static int ping_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        return redis_reply_as_bytes(c, r, body);
}

static int op_ping(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        const void *echo;
        uint32_t len;
        int r;

        (void) out;
        if (!wire_get_bytes(body, &echo, &len) || !wire_reader_done(body))
                return -EPROTO;
        r = redis_call_begin_keyless(c, "mpx_ping", ping_reply);
        return r < 0 ? r : redis_arg_bytes(c, echo, len);
}

/* A field list from elements from.. of an array reply: key, value, key, value ... */
static int put_fields(struct wire_buf *b, const redisReply *r, size_t from) {
        struct wire_fields f;
        int e = wire_fields_begin(b, &f);

        for (size_t i = from; e >= 0 && i + 1 < r->elements; i += 2) {
                const redisReply *k = r->element[i], *v = r->element[i + 1];
                char key[256], text[1024];

                if (k->type != REDIS_REPLY_STRING || k->len == 0 || k->len >= sizeof(key))
                        return -EPROTO;
                memcpy(key, k->str, k->len);
                key[k->len] = '\0';
                if (v->type == REDIS_REPLY_INTEGER)
                        e = wire_put_field_int(b, &f, key, v->integer);
                else if (v->type == REDIS_REPLY_STRING && v->len < sizeof(text)) {
                        memcpy(text, v->str, v->len);
                        text[v->len] = '\0';
                        e = wire_put_field_str(b, &f, key, text);
                } else
                        return -EPROTO;
        }
        if (e >= 0)
                wire_fields_end(b, &f);
        return e;
}

/* INFO's reply: { type, key, value, ... } -> u8 type, fields. */
static int put_info(struct wire_buf *b, const redisReply *r) {
        int64_t type;
        int e;

        if (!r || r->type != REDIS_REPLY_ARRAY || !redis_reply_i64(redis_reply_at(r, 0), &type) || type <= 0 ||
            type >= _WIRE_TYPE_MAX)
                return -EPROTO;
        e = wire_put_u8(b, (uint8_t) type);
        return e < 0 ? e : put_fields(b, r, 1);
}

static int info_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        (void) c;
        return put_info(body, r);
}

static int op_info(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_reader_done(body))
                return -EPROTO;
        return redis_call_begin(c, "mpx_info", info_reply);
}

static int op_delete(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_reader_done(body))
                return -EPROTO;
        return redis_call_begin(c, "mpx_delete", redis_reply_empty);
}

/*
 * LIST: one node's page. c->u[0] is the master's ordinal. Its reply is
 * { scan cursor, name, info, ... }: the next cursor is that node's, or the
 * next master's start once its scan is done.
 */
static int list_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t scan, next;
        size_t at;
        uint32_t n = 0;
        int e;

        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 1 || !redis_reply_u64(r->element[0], &scan) ||
            scan > LIST_CURSOR_MASK)
                return -EPROTO;
        next = scan ? (c->u[0] << LIST_CURSOR_BITS) | scan : 0;
        if (!scan && redis_master(c->rb, (unsigned) c->u[0] + 1) >= 0)
                next = (c->u[0] + 1) << LIST_CURSOR_BITS;
        /* mpx's cursor 0 means "done": a next master's start needs a bit of its own. */
        if (next && (next & LIST_CURSOR_MASK) == 0)
                next |= LIST_CURSOR_MASK;
        e = wire_put_u64(body, next);
        at = body->len;
        if (e >= 0)
                e = wire_put_u32(body, 0);
        for (size_t i = 1; e >= 0 && i + 1 < r->elements; i += 2) {
                const void *name;
                size_t len;

                if (!redis_reply_bytes(r->element[i], &name, &len) || !wire_name_valid(name, len))
                        return -EPROTO;
                e = wire_put_name(body, name, len);
                if (e >= 0)
                        e = put_info(body, r->element[i + 1]);
                n++;
        }
        if (e >= 0)
                wire_patch_u32(body, at, n);
        return e;
}

static int op_list(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint64_t cursor, scan;
        uint32_t max;
        uint8_t type;
        int e;

        (void) out;
        if (!wire_get_u64(body, &cursor) || !wire_get_u32(body, &max) || !wire_get_u8(body, &type) ||
            !wire_reader_done(body))
                return -EPROTO;
        if (type >= _WIRE_TYPE_MAX)
                return -EINVAL;
        if (max == 0 || max > LIST_MAX_DEFAULT)
                max = LIST_MAX_DEFAULT;
        scan = cursor & LIST_CURSOR_MASK;
        if (scan == LIST_CURSOR_MASK)
                scan = 0;
        c->u[0] = cursor >> LIST_CURSOR_BITS;
        c->node = redis_master(c->rb, (unsigned) c->u[0]);
        if (c->node < 0)
                return -EINVAL;
        e = redis_call_begin_keyless(c, "mpx_list", list_reply);
        if (e >= 0)
                e = redis_arg_u64(c, scan);
        if (e >= 0)
                e = redis_arg_u64(c, max);
        if (e >= 0)
                e = redis_arg_u64(c, type);
        return e;
}

static int op_stats(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        if (!wire_reader_done(body))
                return -EPROTO;
        c->reply = NULL;
        return redis_stats(c->rb, out);
}

static int ref_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        /* A reference held by this client is renewed with its other holdings. */
        c->holds = c->u[0] == 0;
        return redis_reply_as_u64(c, r, body);
}

static int op_ref(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint32_t lease;
        int e;

        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_get_u32(body, &lease) || !wire_reader_done(body))
                return -EPROTO;
        c->u[0] = lease;
        e = redis_call_begin(c, "mpx_ref", ref_reply);
        if (e >= 0)
                e = redis_arg_client(c);
        if (e >= 0)
                e = redis_arg_u64(c, lease);
        if (e >= 0)
                e = redis_arg_lease(c);
        return e;
}

static int op_unref(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        uint64_t token;
        int e;

        (void) out;
        if (redis_call_name(c, body) < 0 || !wire_get_u64(body, &token) || !wire_reader_done(body))
                return -EPROTO;
        e = redis_call_begin(c, "mpx_unref", redis_reply_as_u8);
        if (e >= 0)
                e = redis_arg_client(c);
        if (e >= 0)
                e = redis_arg_u64(c, token);
        return e;
}

/*
 * DECLARE's answer: u8 created. A counted declare takes a reference (the
 * first, or one more when the object was counted already) held by this client.
 */
static int declared_reply(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t created;

        if (!redis_reply_i64(r, &created) || created < 0 || created > 1)
                return -EPROTO;
        if (c->u[0])
                c->holds = true;
        return wire_put_u8(body, (uint8_t) created);
}

/* DECLARE of a dict or list: name[, u32 flags] -> u8 created. Durability is Redis's own: nothing to do. */
int redis_declare_name_flags(struct redis_call *c, struct wire_reader *body, const char *fn) {
        uint32_t flags = 0;
        bool counted;
        int r;

        if (redis_call_name(c, body) < 0 || (body->left > 0 && !wire_get_u32(body, &flags)) ||
            !wire_reader_done(body))
                return -EPROTO;
        if (flags & ~(WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED))
                return -EINVAL;
        if ((flags & WIRE_DECLARE_DURABLE) && (flags & WIRE_DECLARE_COUNTED))
                return -EINVAL;
        counted = flags & WIRE_DECLARE_COUNTED;
        c->u[0] = counted;
        r = redis_call_begin(c, fn, declared_reply);
        if (r == 0)
                r = redis_arg_u64(c, counted);
        if (r == 0 && counted)
                r = redis_arg_client(c);
        if (r == 0 && counted)
                r = redis_arg_lease(c);
        return r;
}

/* What only mpxd can answer: peers' credentials, permissions, descriptors and processes. */
static int op_unsupported(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        (void) c;
        (void) body;
        (void) out;
        return -EOPNOTSUPP;
}

const struct redis_op redis_object_ops[] = {
        { WIRE_OP_PING, op_ping },
        { WIRE_OP_LIST, op_list },
        { WIRE_OP_INFO, op_info },
        { WIRE_OP_DELETE, op_delete },
        { WIRE_OP_STATS, op_stats },
        { WIRE_OP_REF, op_ref },
        { WIRE_OP_UNREF, op_unref },
        { WIRE_OP_CLIENTS, op_unsupported },
        { WIRE_OP_USERS, op_unsupported },
        { WIRE_OP_CHMOD, op_unsupported },
        { WIRE_OP_CHOWN, op_unsupported },
        { WIRE_OP_PIPE_OPEN, op_unsupported },
        { WIRE_OP_POOL_START, op_unsupported },
        { WIRE_OP_POOL_SCALE, op_unsupported },
        { WIRE_OP_POOL_SIGNAL, op_unsupported },
        { WIRE_OP_POOL_STOP, op_unsupported },
        { 0, NULL },
};
