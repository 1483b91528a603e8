/* SPDX-License-Identifier: MIT */
/*
 * Requests that act on any object or on the daemon as a whole: LIST, INFO,
 * DELETE and STATS, the operations behind mpxctl ls, info, rm and stats.
 * Each object type describes itself (object_type.describe); this file only
 * frames the answers.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mpxd.h"

/* Most objects in one LIST page, whatever the client asks. */
#define LIST_PAGE_MAX 1000u

/* Append one object's description: u8 type, field list. */
static int put_description(struct wire_buf *b, struct object *o) {
        struct wire_fields f;
        int r;

        r = wire_put_u8(b, o->ops->type);
        if (r >= 0)
                r = wire_fields_begin(b, &f);
        if (r >= 0)
                r = o->ops->describe(o, b, &f);
        if (r >= 0)
                wire_fields_end(b, &f);
        return r;
}

/*
 * LIST: u64 cursor, u32 max, u8 type -> u64 next_cursor, u32 n,
 * n x (name, u8 type, fields). Objects are listed in creation order; the
 * cursor is opaque to clients: one less than the creation serial of the
 * first object not yet listed, 0 when the list is complete. A page stops
 * early once the reply is large, so that no listing holds the loop for long.
 */
int admin_handle_list(struct client *c, const struct request *req, struct wire_reader *r) {
        uint64_t cursor, next = 0;
        uint32_t max, n = 0;
        uint8_t type;
        struct object *o;
        struct wire_buf *b;
        size_t start, at;
        uint8_t tmp[8];

        if (!wire_get_u64(r, &cursor) || !wire_get_u32(r, &max) || !wire_get_u8(r, &type) ||
            !wire_reader_done(r))
                return -EPROTO;
        if (type >= _WIRE_TYPE_MAX)
                return -EINVAL;
        if (max == 0 || max > LIST_PAGE_MAX)
                max = LIST_PAGE_MAX;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        at = b->len;
        if (wire_put_u64(b, 0) < 0 || wire_put_u32(b, 0) < 0)
                goto nomem;
        TAILQ_FOREACH(o, &mpxd.objects_ordered, link) {
                if (o->serial <= cursor || (type && o->ops->type != type))
                        continue;
                if (n == max || b->len - start > mpxd.max_frame / 2) {
                        next = o->serial - 1;
                        break;
                }
                if (wire_put_name(b, o->name, o->name_len) < 0 || put_description(b, o) < 0)
                        goto nomem;
                n++;
        }
        for (int i = 0; i < 8; i++)
                tmp[i] = (uint8_t) (next >> (8 * i));
        memcpy(b->data + at, tmp, 8);
        for (int i = 0; i < 4; i++)
                tmp[i] = (uint8_t) (n >> (8 * i));
        memcpy(b->data + at + 8, tmp, 4);
        client_reply_end(c, start);
        return 0;
nomem:
        client_reply_abort(c, start, -ENOMEM, req->id, req->op);
        return 0;
}

/* INFO: name -> u8 type, fields. */
int admin_handle_info(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len, start;
        struct object *o;
        struct wire_buf *b;

        if (!wire_get_name(r, &name, &len) || !wire_reader_done(r))
                return -EPROTO;
        o = object_find(name, len);
        if (!o)
                return -ENOENT;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        if (put_description(b, o) < 0) {
                client_reply_abort(c, start, -ENOMEM, req->id, req->op);
                return 0;
        }
        client_reply_end(c, start);
        return 0;
}

/* DELETE: name. Its waiters get -EIDRM. */
int admin_handle_delete(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct object *o;

        if (!wire_get_name(r, &name, &len) || !wire_reader_done(r))
                return -EPROTO;
        o = object_find(name, len);
        if (!o)
                return -ENOENT;
        log_info("object '%s' deleted by %s", o->name, client_describe(c));
        object_delete(o, -EIDRM);
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}

/* STATS: -> fields. */
int admin_handle_stats(struct client *c, const struct request *req, struct wire_reader *r) {
        struct wire_fields f;
        struct wire_buf *b;
        size_t start;
        int err = 0;

        if (!wire_reader_done(r))
                return -EPROTO;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        err |= wire_fields_begin(b, &f);
        err |= wire_put_field_str(b, &f, "version", MPX_VERSION);
        err |= wire_put_field_int(b, &f, "protocol", WIRE_VERSION);
        err |= wire_put_field_int(b, &f, "pid", getpid());
        err |= wire_put_field_int(b, &f, "uptime_ms", (int64_t) (now_ms() - mpxd.started_ms));
        err |= wire_put_field_int(b, &f, "clients", mpxd.n_clients);
        err |= wire_put_field_int(b, &f, "objects", mpxd.n_objects);
        err |= wire_put_field_int(b, &f, "waiters", mpxd.n_waiters);
        err |= wire_put_field_int(b, &f, "requests", (int64_t) mpxd.requests);
        err |= wire_put_field_int(b, &f, "max_message", mpxd.max_message);
        err |= wire_put_field_int(b, &f, "max_frame", mpxd.max_frame);
        if (err < 0) {
                client_reply_abort(c, start, -ENOMEM, req->id, req->op);
                return 0;
        }
        wire_fields_end(b, &f);
        client_reply_end(c, start);
        return 0;
}
