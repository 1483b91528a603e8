/* SPDX-License-Identifier: MIT */
/*
 * The request table (op.c): the request being handled, dispatching a frame
 * to its handler, and the reply helpers handlers share.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "perm.h"
#include "wire.h"

struct client;

/*
 * A field of a request's body that op_dispatch parsed for its handler: the
 * member is the field's letter in op_table (object_parse_request).
 */
union op_field {
        uint8_t b;
        uint32_t w;
        uint64_t q;
        int64_t i;
        struct {
                const void *data;
                uint32_t size;
        } s, v;
};

/* The most fields after its name that op_table parses for a request. */
#define OP_FIELDS_MAX 5

/*
 * A request op_dispatch hands to its handler: what the reply answers (id,
 * op), and what every object lookup the handler makes with it checks
 * (object_lookup): its client and the access class of its opcode. It lives
 * on op_dispatch's stack, for the handler's call only. Code outside a
 * request (the configuration, timers, serving waiters, journal replay)
 * passes NULL instead, and nothing is checked.
 *
 * For an opcode whose op_table entry names the types of its object, the
 * body is parsed and the object found before the handler runs: obj is that
 * object and f the fields after its name, in the entry's order. For any
 * other opcode both are unset and the handler parses the body itself.
 */
struct request {
        uint32_t id;
        uint16_t op;
        bool changes;                   /* it may change the object it names: durable ones need journal room */
        enum perm_access access;
        uint32_t body_len;              /* the room a change needs in the journal */
        struct client *client;
        struct object *obj;
        union op_field f[OP_FIELDS_MAX];
};

/*
 * A request handler, as op_table names it: it acts on req->obj (or parses
 * the body from r and looks its object up, for the opcodes whose entry
 * names no types), and returns 0 once it has replied or parked the request,
 * or a negative errno that op_dispatch answers. The type headers declare
 * their handlers with it.
 */
typedef int op_handler(struct client *c, const struct request *req, struct wire_reader *r);

/* Handle one complete frame of a client. */
void op_dispatch(struct client *c, const struct wire_header *h, const uint8_t *body);

/*
 * Reply helpers for handlers: a reply whose body is one value. They return 0
 * (the reply is queued) or -ENOMEM (nothing queued; op_dispatch answers it).
 */
int op_reply_u8(struct client *c, const struct request *req, uint8_t v);
/* A reply with status 0 and no body; returns 0, so that a handler can end with it. */
int op_reply_ok(struct client *c, const struct request *req);
int op_reply_u64(struct client *c, const struct request *req, uint64_t v);
int op_reply_i64(struct client *c, const struct request *req, int64_t v);
int op_reply_bytes(struct client *c, const struct request *req, const void *data, size_t len);
/*
 * A reply to request id (opcode op) of client c whose body is the values
 * that follow fmt, one character each, as object_parse_request reads them:
 * 'b' u8 (passed as an int), 'w' u32, 'q' u64, 'i' i64 (each passed as
 * exactly that type: cast what is not), 's' bytes (a const void * and a
 * uint32_t size). 0, or -ENOMEM with nothing queued.
 */
#define op_reply_to(c, id, op, ...) op_reply_fd((c), (id), (op), -1, __VA_ARGS__)
/* op_reply_to the request being handled. */
#define op_reply(c, req, ...) op_reply_to((c), (req)->id, (req)->op, __VA_ARGS__)
/*
 * op_reply_to with a duplicate of fd sent along (SCM_RIGHTS; fd -1: none):
 * 0, or a negative errno (-EMFILE when no descriptor is left) with nothing
 * queued.
 */
int op_reply_fd(struct client *c, uint32_t id, uint16_t op, int fd, const char *fmt, ...);

/*
 * A reply that returns one page of a listing: u64 next_cursor, u32 n, then
 * n entries the caller appends to b. op_page_begin queues the two counts as
 * zeros, op_page_end writes them and ends the reply; an entry that does not
 * fit in memory ends it with op_page_abort instead.
 */
struct op_page {
        struct wire_buf *b;             /* where the entries go */
        size_t start;                   /* the reply's frame */
        size_t at;                      /* its next_cursor and n */
        uint32_t max;                   /* entries the page may hold */
        uint32_t n;                     /* entries appended: the caller counts them */
};

/* Begin a page of max entries, at most most (max 0: most): 0, or -ENOMEM with nothing queued. */
int op_page_begin(struct client *c, const struct request *req, uint32_t max, uint32_t most, struct op_page *pg);
/* Write next_cursor (0: the listing is complete) and n, and queue the reply; 0. */
int op_page_end(struct client *c, struct op_page *pg, uint64_t next_cursor);
/* Drop the page begun; returns -ENOMEM, for the handler to return. */
int op_page_abort(struct client *c, struct op_page *pg);
