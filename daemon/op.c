/* SPDX-License-Identifier: MIT */
/*
 * The request table: opcode -> handler, and the session requests (HELLO,
 * PING, CANCEL) that belong to no object. A handler returns 0 when it has replied or
 * parked the request as a waiter, or a negative errno that op_dispatch sends
 * back as the reply status; the handler's file decides everything else.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admin.h"
#include "array.h"
#include "barrier.h"
#include "client.h"
#include "dict.h"
#include "event.h"
#include "journal.h"
#include "list.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "pipe.h"
#include "pool.h"
#include "queue.h"
#include "ref.h"
#include "sem.h"
#include "wait.h"
#include "wire.h"

static op_handler op_handle_hello, op_handle_ping, op_handle_cancel;

/* The type masks of op_table: one type, or any. */
#define TYPE(t) (1u << WIRE_TYPE_##t)
#define ANY_TYPE (~0u)

enum {
        OP_BEFORE_HELLO = 1 << 0,       /* allowed before HELLO */
        OP_CHANGES = 1 << 1,            /* may change the object it names (journal_admit) */
};

/*
 * Each opcode with the access it needs to the object it names (PERM_NONE:
 * none, or it only creates one). A DECLARE needs READ of an object that
 * exists; pools add their own rule on top of ADMIN (pool.c: a user pool is
 * for the user its workers run as, any other for superusers). OP_CHANGES
 * marks what may change a durable object, GET and TASK_DONE included (they
 * take items out): the journal must have room for it first. A row that names
 * the types of its object has its body parsed and its object found before
 * the handler runs: parse, then look up, then act.
 */
static const struct op_entry {
        uint16_t op;
        unsigned flags;
        enum perm_access access;
        op_handler *handle;
        /*
         * The types (1 << type) of the object the request names, when
         * op_dispatch parses the body and finds the object for the handler
         * (object_parse_request); 0 when the handler parses the body itself.
         */
        unsigned types;
        const char *fields;             /* the fields after the name, as object_parse_request reads them */
} op_table[] = {
        { WIRE_OP_QUEUE_PUT, OP_CHANGES, PERM_WRITE, queue_handle_put, 0, NULL },
        { WIRE_OP_QUEUE_GET, OP_CHANGES, PERM_READ, queue_handle_get, 0, NULL },
        { WIRE_OP_QUEUE_TASK_DONE, OP_CHANGES, PERM_READ, queue_handle_task_done, TYPE(JOINABLE), "q" },
        { WIRE_OP_QUEUE_DONE_GET, OP_CHANGES, PERM_READ, queue_handle_done_get, 0, NULL },
        { WIRE_OP_QUEUE_PUT_MANY, OP_CHANGES, PERM_WRITE, queue_handle_put_many, 0, NULL },
        { WIRE_OP_QUEUE_GET_MANY, OP_CHANGES, PERM_READ, queue_handle_get_many, 0, NULL },
        { WIRE_OP_QUEUE_QSIZE, 0, PERM_READ, queue_handle_qsize, QUEUE_TYPES, "" },
        { WIRE_OP_QUEUE_DECLARE, 0, PERM_READ, queue_handle_declare, 0, NULL },
        { WIRE_OP_QUEUE_CLOSE, OP_CHANGES, PERM_ADMIN, queue_handle_close, QUEUE_TYPES, "" },
        { WIRE_OP_QUEUE_JOIN, 0, PERM_READ, queue_handle_join, TYPE(JOINABLE), "i" },
        { WIRE_OP_QUEUE_PURGE, OP_CHANGES, PERM_ADMIN, queue_handle_purge, QUEUE_TYPES, "" },
        { WIRE_OP_DICT_SET, OP_CHANGES, PERM_WRITE, dict_handle_set, TYPE(DICT), "vv" },
        { WIRE_OP_DICT_GET, 0, PERM_READ, dict_handle_get, TYPE(DICT), "v" },
        { WIRE_OP_DICT_INCR, OP_CHANGES, PERM_WRITE, dict_handle_incr, TYPE(DICT), "vi" },
        { WIRE_OP_SEM_ACQUIRE, OP_CHANGES, PERM_WRITE, sem_handle_acquire, TYPE(SEMAPHORE), "i" },
        { WIRE_OP_SEM_RELEASE, OP_CHANGES, PERM_WRITE, sem_handle_release, TYPE(SEMAPHORE), "" },
        { WIRE_OP_ARRAY_GET, 0, PERM_READ, array_handle_get, 0, NULL },
        { WIRE_OP_ARRAY_SET, OP_CHANGES, PERM_WRITE, array_handle_set, 0, NULL },
        { WIRE_OP_ARRAY_ADD, OP_CHANGES, PERM_WRITE, array_handle_add, 0, NULL },
        { WIRE_OP_DICT_DECLARE, 0, PERM_READ, dict_handle_declare, 0, NULL },
        { WIRE_OP_DICT_DEL, OP_CHANGES, PERM_WRITE, dict_handle_del, TYPE(DICT), "v" },
        { WIRE_OP_DICT_CONTAINS, 0, PERM_READ, dict_handle_contains, TYPE(DICT), "v" },
        { WIRE_OP_DICT_LEN, 0, PERM_READ, dict_handle_len, TYPE(DICT), "" },
        { WIRE_OP_DICT_ITEMS, 0, PERM_READ, dict_handle_items, TYPE(DICT), "qwb" },
        { WIRE_OP_DICT_POP, OP_CHANGES, PERM_WRITE, dict_handle_pop, TYPE(DICT), "v" },
        { WIRE_OP_DICT_SETDEFAULT, OP_CHANGES, PERM_WRITE, dict_handle_setdefault, TYPE(DICT), "vv" },
        { WIRE_OP_DICT_UPDATE, OP_CHANGES, PERM_WRITE, dict_handle_update, 0, NULL },
        { WIRE_OP_DICT_CLEAR, OP_CHANGES, PERM_WRITE, dict_handle_clear, TYPE(DICT), "" },
        { WIRE_OP_DICT_CAS, OP_CHANGES, PERM_WRITE, dict_handle_cas, TYPE(DICT), "sbsbs" },
        { WIRE_OP_DICT_POPITEM, OP_CHANGES, PERM_WRITE, dict_handle_popitem, TYPE(DICT), "" },
        { WIRE_OP_LIST_DECLARE, 0, PERM_READ, list_handle_declare, 0, NULL },
        { WIRE_OP_LIST_APPEND, OP_CHANGES, PERM_WRITE, list_handle_append, TYPE(LIST), "v" },
        { WIRE_OP_LIST_EXTEND, OP_CHANGES, PERM_WRITE, list_handle_extend, 0, NULL },
        { WIRE_OP_LIST_GET, 0, PERM_READ, list_handle_get, TYPE(LIST), "i" },
        { WIRE_OP_LIST_SET, OP_CHANGES, PERM_WRITE, list_handle_set, TYPE(LIST), "iv" },
        { WIRE_OP_LIST_INSERT, OP_CHANGES, PERM_WRITE, list_handle_insert, TYPE(LIST), "iv" },
        { WIRE_OP_LIST_POP, OP_CHANGES, PERM_WRITE, list_handle_pop, TYPE(LIST), "i" },
        { WIRE_OP_LIST_REMOVE, OP_CHANGES, PERM_WRITE, list_handle_remove, TYPE(LIST), "v" },
        { WIRE_OP_LIST_INDEX, 0, PERM_READ, list_handle_index, TYPE(LIST), "v" },
        { WIRE_OP_LIST_LEN, 0, PERM_READ, list_handle_len, TYPE(LIST), "" },
        { WIRE_OP_LIST_SLICE, 0, PERM_READ, list_handle_slice, 0, NULL },
        { WIRE_OP_LIST_SPLICE, OP_CHANGES, PERM_WRITE, list_handle_splice, 0, NULL },
        { WIRE_OP_LIST_CLEAR, OP_CHANGES, PERM_WRITE, list_handle_clear, TYPE(LIST), "" },
        { WIRE_OP_SEM_DECLARE, 0, PERM_READ, sem_handle_declare, 0, NULL },
        { WIRE_OP_SEM_VALUE, 0, PERM_READ, sem_handle_value, TYPE(SEMAPHORE), "" },
        { WIRE_OP_EVENT_DECLARE, 0, PERM_READ, event_handle_declare, 0, NULL },
        { WIRE_OP_EVENT_SET, 0, PERM_WRITE, event_handle_set, TYPE(EVENT), "" },
        { WIRE_OP_EVENT_CLEAR, 0, PERM_WRITE, event_handle_clear, TYPE(EVENT), "" },
        { WIRE_OP_EVENT_IS_SET, 0, PERM_READ, event_handle_is_set, TYPE(EVENT), "" },
        { WIRE_OP_EVENT_WAIT, 0, PERM_READ, event_handle_wait, TYPE(EVENT), "i" },
        { WIRE_OP_BARRIER_DECLARE, 0, PERM_READ, barrier_handle_declare, 0, NULL },
        { WIRE_OP_BARRIER_WAIT, 0, PERM_WRITE, barrier_handle_wait, TYPE(BARRIER), "i" },
        { WIRE_OP_BARRIER_RESET, 0, PERM_WRITE, barrier_handle_reset, TYPE(BARRIER), "" },
        { WIRE_OP_BARRIER_ABORT, 0, PERM_WRITE, barrier_handle_abort, TYPE(BARRIER), "" },
        { WIRE_OP_BARRIER_PASS, 0, PERM_WRITE, barrier_handle_pass, TYPE(BARRIER), "" },
        { WIRE_OP_ARRAY_DECLARE, 0, PERM_READ, array_handle_declare, 0, NULL },
        { WIRE_OP_ARRAY_CAS, OP_CHANGES, PERM_WRITE, array_handle_cas, 0, NULL },
        { WIRE_OP_ARRAY_MAP, 0, PERM_WRITE, array_handle_map, ARRAY_TYPES, "" },
        { WIRE_OP_PIPE_OPEN, 0, PERM_WRITE, pipe_handle_open, 0, NULL },
        { WIRE_OP_POOL_START, 0, PERM_ADMIN, pool_handle_start, 0, NULL },
        { WIRE_OP_POOL_SCALE, 0, PERM_ADMIN, pool_handle_scale, TYPE(POOL), "w" },
        { WIRE_OP_POOL_SIGNAL, 0, PERM_ADMIN, pool_handle_signal, TYPE(POOL), "w" },
        { WIRE_OP_POOL_STOP, 0, PERM_ADMIN, pool_handle_stop, TYPE(POOL), "i" },
        { WIRE_OP_HELLO, OP_BEFORE_HELLO, PERM_NONE, op_handle_hello, 0, NULL },
        { WIRE_OP_PING, OP_BEFORE_HELLO, PERM_NONE, op_handle_ping, 0, NULL },
        { WIRE_OP_CANCEL, 0, PERM_NONE, op_handle_cancel, 0, NULL },
        { WIRE_OP_LIST, 0, PERM_NONE, admin_handle_list, 0, NULL },
        { WIRE_OP_INFO, 0, PERM_READ, admin_handle_info, 0, NULL },
        { WIRE_OP_DELETE, OP_CHANGES, PERM_ADMIN, admin_handle_delete, 0, NULL },
        { WIRE_OP_STATS, 0, PERM_NONE, admin_handle_stats, 0, NULL },
        { WIRE_OP_CLIENTS, 0, PERM_NONE, admin_handle_clients, 0, NULL },
        { WIRE_OP_USERS, 0, PERM_NONE, admin_handle_users, 0, NULL },
        { WIRE_OP_REF, 0, PERM_READ, ref_handle_ref, 0, NULL },
        { WIRE_OP_UNREF, 0, PERM_READ, ref_handle_unref, 0, NULL },
        { WIRE_OP_QUEUE_PEEK, 0, PERM_READ, queue_handle_peek, QUEUE_TYPES, "w" },
        { WIRE_OP_QUEUE_TOUCH, 0, PERM_READ, queue_handle_touch, TYPE(JOINABLE), "q" },
        { WIRE_OP_CHMOD, OP_CHANGES, PERM_ADMIN, perm_handle_chmod, 0, NULL },
        { WIRE_OP_CHOWN, OP_CHANGES, PERM_ADMIN, perm_handle_chown, ANY_TYPE, "ww" },
};

/* Opcodes are below this; the table is indexed by opcode once, on first use. */
#define OP_INDEX_SIZE 1000

static const struct op_entry *op_find(uint16_t op) {
        static const struct op_entry *index[OP_INDEX_SIZE];
        static bool indexed;

        if (!indexed) {
                for (size_t i = 0; i < ARRAY_SIZE(op_table); i++)
                        index[op_table[i].op] = &op_table[i];
                indexed = true;
        }
        return op < OP_INDEX_SIZE ? index[op] : NULL;
}

void op_dispatch(struct client *c, const struct wire_header *h, const uint8_t *body) {
        const struct op_entry *e = op_find(h->op);
        struct request req;             /* obj and f are set for an entry with types only */
        struct wire_reader r;
        int ret;

        journal_replies_held = false;
        mpxd.requests++;
        if (h->op / 100 < ARRAY_SIZE(mpxd.requests_by_family))
                mpxd.requests_by_family[h->op / 100]++;
        log_debug("%s: request %u op %u (%s), %u bytes", client_describe(c), h->id, h->op,
                  wire_op_name(h->op) ?: "unknown", h->body_len);
        if (!e) {
                client_reply_status(c, h->id, h->op, -EOPNOTSUPP);
                return;
        }
        if (client_state(c) == CLIENT_NEW && !(e->flags & OP_BEFORE_HELLO)) {
                client_reply_status(c, h->id, h->op, -EPROTO);
                return;
        }
        wire_reader_init(&r, body, h->body_len);
        req.id = h->id;
        req.op = h->op;
        req.client = c;
        req.body_len = h->body_len;
        /* Every object lookup for the request checks its access (object_lookup). */
        req.access = e->access;
        req.changes = e->flags & OP_CHANGES;
        /* Parse, then look up, then act. */
        ret = e->types ? object_parse_request(&req, &r, e->types, e->fields) : 0;
        if (ret == 0)
                ret = e->handle(c, &req, &r);
        if (ret < 0)
                client_reply_status(c, h->id, h->op, ret);
        /* The request changed or read a durable object that the journal does not have yet. */
        if (journal_replies_held) {
                client_hold(c);
                journal_replies_held = false;
        }
}

int op_reply_ok(struct client *c, const struct request *req) {
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}

int op_reply_u8(struct client *c, const struct request *req, uint8_t v) {
        return op_reply(c, req, "b", v);
}

int op_reply_u64(struct client *c, const struct request *req, uint64_t v) {
        return op_reply(c, req, "q", v);
}

int op_reply_i64(struct client *c, const struct request *req, int64_t v) {
        return op_reply(c, req, "i", v);
}

int op_reply_bytes(struct client *c, const struct request *req, const void *data, size_t len) {
        if (len > UINT32_MAX)
                return -EMSGSIZE;
        return op_reply(c, req, "s", data, (uint32_t) len);
}

/* Append the values of fmt (op_reply_to) to b: 0 or -ENOMEM. */
static int op_put_values(struct wire_buf *b, const char *fmt, va_list ap) {
        int r = 0;

        for (; *fmt && r >= 0; fmt++) {
                switch (*fmt) {
                case 'b':
                        r = wire_put_u8(b, (uint8_t) va_arg(ap, int));
                        break;
                case 'w':
                        r = wire_put_u32(b, va_arg(ap, uint32_t));
                        break;
                case 'q':
                        r = wire_put_u64(b, va_arg(ap, uint64_t));
                        break;
                case 'i':
                        r = wire_put_i64(b, va_arg(ap, int64_t));
                        break;
                case 's': {
                        const void *data = va_arg(ap, const void *);

                        r = wire_put_bytes(b, data, va_arg(ap, uint32_t));
                        break;
                }
                }
        }
        return r < 0 ? -ENOMEM : 0;
}

int op_reply_fd(struct client *c, uint32_t id, uint16_t op, int fd, const char *fmt, ...) {
        struct wire_buf *b;
        size_t start;
        va_list ap;
        int err;

        b = client_reply_begin(c, id, op, &start);
        if (!b)
                return -ENOMEM;
        va_start(ap, fmt);
        err = op_put_values(b, fmt, ap);
        va_end(ap);
        if (err < 0) {
                client_reply_discard(c, start);
                return err;
        }
        client_reply_end(c, start);
        if (fd < 0)
                return 0;
        err = client_reply_attach_fd(c, start, fd);
        if (err < 0)
                /* The frame is the last one in the buffer: take it back. */
                client_reply_discard(c, start);
        return err;
}

int op_page_begin(struct client *c, const struct request *req, uint32_t max, uint32_t most, struct op_page *pg) {
        *pg = (struct op_page) { .max = max == 0 || max > most ? most : max };
        pg->b = client_reply_begin(c, req->id, req->op, &pg->start);
        if (!pg->b)
                return -ENOMEM;
        pg->at = pg->b->len;
        if (wire_put_u64(pg->b, 0) < 0 || wire_put_u32(pg->b, 0) < 0)
                return op_page_abort(c, pg);
        return 0;
}

int op_page_end(struct client *c, struct op_page *pg, uint64_t next_cursor) {
        wire_patch_u64(pg->b, pg->at, next_cursor);
        wire_patch_u32(pg->b, pg->at + 8, pg->n);
        client_reply_end(c, pg->start);
        return 0;
}

int op_page_abort(struct client *c, struct op_page *pg) {
        client_reply_discard(c, pg->start);
        return -ENOMEM;
}

/*
 * HELLO: u32 version, str client_name -> u32 version, u32 max_message,
 * u32 max_frame, str server. Another version is answered with -EPROTO and the
 * same body, so the client can say which version the daemon speaks.
 */
static int op_handle_hello(struct client *c, const struct request *req, struct wire_reader *r) {
        static const char server[] = "mpxd " MPX_VERSION;
        uint32_t version;
        const char *name;
        uint16_t name_len;
        struct wire_buf *b;
        size_t start;

        if (!wire_get_u32(r, &version) || !wire_get_str(r, &name, &name_len) || !wire_reader_done(r))
                return -EPROTO;
        /* A HELLO refused for its version changes nothing, the name the session has included. */
        if (version == WIRE_VERSION)
                client_set_name(c, name, name_len);
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        if (wire_put_u32(b, WIRE_VERSION) < 0 || wire_put_u32(b, mpxd.max_message) < 0 ||
            wire_put_u32(b, mpxd.max_frame) < 0 || wire_put_str(b, server, strlen(server)) < 0) {
                client_reply_discard(c, start);
                return -ENOMEM;
        }
        if (version != WIRE_VERSION) {
                /* Patch the status of the frame just written. */
                struct wire_header h;
                wire_header_decode(b->data + start, &h);
                h.status = WIRE_EPROTO;
                wire_header_encode(b->data + start, &h);
                log_info("%s speaks protocol version %u, not %u", client_describe(c), version, WIRE_VERSION);
        } else
                client_hello_accepted(c);
        client_reply_end(c, start);
        return 0;
}

/* PING: bytes -> the same bytes. */
static int op_handle_ping(struct client *c, const struct request *req, struct wire_reader *r) {
        const void *data;
        uint32_t len;

        if (!wire_get_bytes(r, &data, &len) || !wire_reader_done(r))
                return -EPROTO;
        return op_reply(c, req, "s", data, len);
}

/*
 * CANCEL: u32 id -> u32 n. Every parked request of this connection with that
 * id is answered ECANCELED (before this reply), n of them; 0 when none was
 * parked (answered already, or never sent). Other connections' are untouched.
 */
static int op_handle_cancel(struct client *c, const struct request *req, struct wire_reader *r) {
        uint32_t id;

        if (!wire_get_u32(r, &id) || !wire_reader_done(r))
                return -EPROTO;
        return op_reply(c, req, "w", (uint32_t) wait_cancel_id(c, id));
}
