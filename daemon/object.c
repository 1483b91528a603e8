/* SPDX-License-Identifier: MIT */
/*
 * The name registry: each name maps to one object of one type. It owns the
 * lookup (a uthash table by name) and the creation order (a list, which is
 * the cursor order of LIST). What an object holds belongs to its type's file.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "client.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "ref.h"
#include "user.h"
#include "wire.h"

/*
 * The client_lost hooks of the types that have had an object, each once:
 * a type with no object ever registered holds nothing for any client, and
 * client.c need not know which types keep something per client.
 */
static void (*lost_hooks[_WIRE_TYPE_MAX])(struct client *c);
static unsigned n_lost_hooks;

static void object_note_type(const struct object_type *ops) {
        if (!ops->client_lost)
                return;
        for (unsigned i = 0; i < n_lost_hooks; i++)
                if (lost_hooks[i] == ops->client_lost)
                        return;
        lost_hooks[n_lost_hooks++] = ops->client_lost;
}

void object_client_lost(struct client *c) {
        for (unsigned i = 0; i < n_lost_hooks; i++)
                lost_hooks[i](c);
        ref_client_lost(c);
}

struct object *object_find(const char *name, size_t len) {
        struct object *o;

        HASH_FIND(hh, mpxd.objects, name, len, o);
        return o;
}

/*
 * What request req may do with the object o it found: access it as its
 * access class says (perm_check) and, when it changes a durable object,
 * have room in the journal. Nothing is checked outside a request (NULL).
 * In line in both lookups: it is on the path of almost every request.
 */
static inline int object_admit(const struct request *req, struct object *o) {
        int err;

        if (!req)
                return 0;
        err = perm_check(req, o);
        if (err < 0)
                return err;
        /* A change of a durable object is refused before it is made when the journal cannot take it. */
        return req->changes ? journal_admit(o, req->body_len) : 0;
}

int object_lookup(const struct request *req, const char *name, size_t len, struct object **ret) {
        struct object *o = object_find(name, len);
        int err;

        *ret = NULL;
        if (!o)
                return 0;
        err = object_admit(req, o);
        if (err < 0)
                return err;
        *ret = o;
        return 0;
}

int object_find_typed(const struct request *req, const char *name, size_t len, unsigned type_mask,
                      struct object **ret) {
        struct object *o = object_find(name, len);
        int err;

        if (!o)
                return -ENOENT;
        err = object_admit(req, o);
        if (err < 0)
                return err;
        if (!(type_mask & (1u << o->ops->type)))
                return -EPROTOTYPE;
        o->requests++;
        o->active_ms = loop_now_ms;
        journal_touch(o);
        *ret = o;
        return 0;
}

/*
 * Parse the fields of fmt into f (object_parse_request): 0, -EPROTO when the
 * body does not hold them, or -EMSGSIZE when it does but a 'v' field is
 * larger than a message may be.
 */
static int object_parse_fields(struct wire_reader *r, const char *fmt, union op_field *f) {
        bool too_big = false;

        for (; *fmt; fmt++, f++) {
                bool ok = false;

                switch (*fmt) {
                case 'b':
                        ok = wire_get_u8(r, &f->b);
                        break;
                case 'w':
                        ok = wire_get_u32(r, &f->w);
                        break;
                case 'q':
                        ok = wire_get_u64(r, &f->q);
                        break;
                case 'i':
                        ok = wire_get_i64(r, &f->i);
                        break;
                case 's':
                case 'v':
                        ok = wire_get_bytes(r, &f->s.data, &f->s.size);
                        too_big |= *fmt == 'v' && f->s.size > mpxd.max_message;
                        break;
                }
                if (!ok)
                        return -EPROTO;
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        return too_big ? -EMSGSIZE : 0;
}

int object_parse_request(struct request *req, struct wire_reader *r, unsigned type_mask, const char *fmt) {
        const char *name;
        size_t len;
        int parsed, err;

        if (!wire_get_name(r, &name, &len))
                return -EPROTO;
        parsed = object_parse_fields(r, fmt, req->f);
        if (parsed == -EPROTO)
                return parsed;
        err = object_find_typed(req, name, len, type_mask, &req->obj);
        /* A value too large is refused once the object is known to exist and be the caller's to use. */
        return err < 0 ? err : parsed;
}

/* Free an object as its type says (object_type.free), or as it was allocated. */
static void object_free(struct object *o, const struct object_type *type) {
        if (type->free)
                type->free(o);
        else
                free(o);
}

/*
 * Register a new object, initialised by its type, its name set; the name must
 * be free. Its owner is the client of request req, or mpxd itself when req is
 * NULL (perm_init_object). 0, or -ENOMEM with nothing registered: the
 * caller still owns o and frees it.
 */
static int object_register(const struct request *req, struct object *o, const struct object_type *ops) {
        o->ops = ops;
        o->counted = false;
        o->n_refs = o->n_transit = 0;
        TAILQ_INIT(&o->refs);
        /* First what can fail, so that a refusal leaves no trace. */
        HASH_ADD_KEYPTR(hh, mpxd.objects, o->name, o->name_len, o);
        if (hash_add_failed())
                return -ENOMEM;
        object_note_type(ops);
        o->serial = ++mpxd.next_serial;
        o->created_ms = o->active_ms = now_ms();
        perm_init_object(req, o);
        o->user = user_requester(req);
        user_object_created(o->user);
        TAILQ_INSERT_TAIL(&mpxd.objects_ordered, o, link);
        mpxd.n_objects++;
        log_debug("object '%s' (%s) created", o->name, wire_type_name(ops->type));
        return 0;
}

void object_delete(struct object *o, int neg_errno) {
        struct user *creator = o->user;

        journal_delete(o);
        if (o->ops->wake_all)
                o->ops->wake_all(o, neg_errno);
        ref_object_deleted(o);
        HASH_DELETE(hh, mpxd.objects, o);
        admin_object_deleted(o);
        TAILQ_REMOVE(&mpxd.objects_ordered, o, link);
        mpxd.n_objects--;
        log_debug("object '%s' deleted", o->name);
        object_free(o, o->ops);
        /* After free: what the object held was charged to its creator's user too. */
        user_object_deleted(creator);
}

/* A new object of type for params: checked, within the limits, allocated and registered. 1, or a negative errno. */
static int object_declare_new(const struct request *req, const char *name, size_t len,
                              const struct object_type *type, const void *params, struct object **ret) {
        struct object *o;
        int err;

        if (type->declare_check_new) {
                err = type->declare_check_new(params);
                if (err < 0)
                        return err;
        }
        if (object_check_limit(req) < 0)
                return -EUSERS;
        /*
         * The name goes at the end of the object's own allocation: most names
         * are short, a fixed array was most of an empty object, and a separate
         * allocation would keep freed objects' memory from coalescing.
         */
        o = calloc(1, type->size + len + 1);
        if (!o)
                return -ENOMEM;
        o->name = (char *) o + type->size;
        memcpy(o->name, name, len);
        o->name_len = len;
        err = type->declare_init ? type->declare_init(o, name, len, params) : 0;
        if (err == 0)
                err = object_register(req, o, type);
        if (err < 0) {
                object_free(o, type);
                return err;
        }
        if (type->declare_done)
                type->declare_done(o, params);
        *ret = o;
        return 1;
}

int object_declare(const struct request *req, const char *name, size_t len, const struct object_type *type,
                   const void *params, struct object **ret) {
        struct object *o;
        int err;

        if (!wire_name_valid(name, len))
                return -EINVAL;
        if (type->declare_check) {
                err = type->declare_check(params);
                if (err < 0)
                        return err;
        }
        /* An object that exists is found for the request: declaring it again needs read access. */
        err = object_lookup(req, name, len, &o);
        if (err < 0)
                return err;
        if (!o)
                err = object_declare_new(req, name, len, type, params, &o);
        else if (o->ops != type)
                err = -EPROTOTYPE;
        else if (type->declare_match)
                err = type->declare_match(o, params);
        if (err >= 0 && ret)
                *ret = o;
        return err;
}

int object_declare_check(const struct request *req, const struct object_type *type, const char *name, size_t len,
                         uint32_t flags) {
        if (flags & WIRE_DECLARE_COUNTED)
                /* It lives while referred to: nothing of it may come back after a restart. */
                return (flags & WIRE_DECLARE_DURABLE) ? -EINVAL : 0;
        /* A type that cannot be durable is not, whatever durability.default says. */
        return type->dump ? journal_declare_check(name, len, flags, req ? req->body_len : 0) : 0;
}

int object_declared(struct client *c, struct object *o, int created, uint32_t flags) {
        if (created < 0)
                return created;
        if (flags & WIRE_DECLARE_COUNTED)
                return ref_declared(c, o, created);
        return o->ops->dump ? journal_declared_object(o, created, flags) : created;
}

int object_handle_declare(struct client *c, const struct request *req, const char *name, size_t len,
                          const struct object_type *type, const void *params, uint32_t flags) {
        struct object *o = NULL;
        int created;

        created = object_declare_check(req, type, name, len, flags);
        if (created == 0)
                created = object_declare(req, name, len, type, params, &o);
        created = object_declared(c, o, created, flags);
        if (created < 0)
                return created;
        return op_reply_u8(c, req, (uint8_t) created);
}

int object_handle_declare_plain(struct client *c, const struct request *req, struct wire_reader *r,
                                const struct object_type *type, uint32_t allowed) {
        const char *name;
        size_t len;
        uint32_t flags = 0;

        if (!wire_get_name(r, &name, &len) || (r->left > 0 && !wire_get_u32(r, &flags)) || !wire_reader_done(r))
                return -EPROTO;
        if (flags & ~allowed)
                return -EINVAL;
        return object_handle_declare(c, req, name, len, type, NULL, flags);
}

void object_delete_all(int neg_errno) {
        struct object *o;

        while ((o = TAILQ_FIRST(&mpxd.objects_ordered)))
                object_delete(o, neg_errno);
}

int object_describe_age(const struct object *o, struct wire_buf *b, struct wire_fields *f) {
        uint64_t t = now_ms();
        int r = 0;

        r |= wire_put_field_int(b, f, "age_ms", (int64_t) (t - o->created_ms));
        r |= wire_put_field_int(b, f, "idle_ms", (int64_t) (t - o->active_ms));
        return r < 0 ? -ENOMEM : 0;
}

uint64_t object_bytes(struct object *o) {
        return o->ops->bytes ? o->ops->bytes(o) : 0;
}

/*
 * 0 if one more object fits under limits.max_objects and the requester's
 * quota, else -EUSERS (logged at most every 10 s).
 */
int object_check_limit(const struct request *req) {
        static uint64_t logged_ms;
        uint64_t now;

        /* What the journal recreates was admitted once: a lower limit must not drop it at start. */
        if (journal_replaying())
                return 0;
        if (mpxd.max_objects == 0 || mpxd.n_objects < mpxd.max_objects)
                return user_may_create(user_requester(req));
        /* One line per ten seconds at most: a client looping on declare must not flood the log. */
        now = now_ms();
        if (!logged_ms || now - logged_ms >= 10000) {
                logged_ms = now;
                log_warning("%u objects exist, the limit (limits.max_objects); refusing new ones with EUSERS",
                            mpxd.n_objects);
        }
        return -EUSERS;
}
