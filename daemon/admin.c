/* SPDX-License-Identifier: MIT */
/*
 * Requests that act on any object or on the daemon as a whole: LIST, INFO,
 * DELETE, STATS, CLIENTS and USERS, the operations behind mpxctl ls, info,
 * rm, stats, clients and users.
 * Each object type describes itself (object_type.describe); this file only
 * frames the answers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "client.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "queue.h"
#include "sem.h"
#include "user.h"
#include "wait.h"
#include "wire.h"

/* Most objects in one LIST page, whatever the client asks. */
#define LIST_PAGE_MAX 1000u

/*
 * Append one object's description: u8 type, field list. Without contents
 * (a LIST entry of an object the client may not read), only the fields every
 * object has that tell who owns it: what it holds is not shown.
 */
static int put_description(struct wire_buf *b, struct object *o, bool contents) {
        struct wire_fields f;
        int r;

        r = wire_put_u8(b, o->ops->type);
        if (r >= 0)
                r = wire_fields_begin(b, &f);
        if (r >= 0 && contents)
                r = o->ops->describe(o, b, &f);
        /* Fields every object has, whatever its type. */
        if (r >= 0 && contents)
                r = wire_put_field_int(b, &f, "requests", (int64_t) o->requests);
        if (r >= 0)
                r = wire_put_field_int(b, &f, "uid", o->uid);
        if (r >= 0)
                r = wire_put_field_int(b, &f, "gid", o->gid);
        if (r >= 0)
                r = wire_put_field_int(b, &f, "mode", o->mode);
        if (r >= 0)
                r = wire_put_field_int(b, &f, "durable", o->durable);
        /* Only counted objects have references: other objects' descriptions stay as they were. */
        if (r >= 0 && o->counted)
                r = wire_put_field_int(b, &f, "refs", o->n_refs);
        if (r >= 0 && o->counted)
                r = wire_put_field_int(b, &f, "refs_in_transit", o->n_transit);
        if (r >= 0)
                wire_fields_end(b, &f);
        return r;
}

/*
 * Where listings go on. Each page of a listing walked the objects from the
 * first to its cursor: paging through a million objects was quadratic, and
 * the last pages held the loop for a fifth of a second each. The last pages
 * handed out remember the object their cursor names (the first not yet
 * listed); a page that goes on from one starts there, and a cursor no slot
 * remembers walks once. An object deleted meanwhile hands its slots to the
 * next one, which is then the first of serial above the cursor.
 */
#define LIST_RESUMES 8

static struct list_resume {
        bool used;
        uint64_t cursor;
        struct object *first;           /* the first object of serial above cursor; NULL: none */
} list_resumes[LIST_RESUMES];
static unsigned list_resume_next;

/* The first object of serial above cursor, and the slot that knew it (-1: none did). */
static struct object *list_start(uint64_t cursor, int *slot) {
        struct object *o;

        *slot = -1;
        for (int i = 0; i < LIST_RESUMES; i++) {
                /* An end of the listing (first NULL) may have been passed by objects created since. */
                if (list_resumes[i].used && list_resumes[i].cursor == cursor && list_resumes[i].first) {
                        *slot = i;
                        return list_resumes[i].first;
                }
        }
        TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                if (o->serial > cursor)
                        break;
        return o;
}

/* Remember where the page after cursor starts: in the slot this listing used, else the oldest. */
static void list_remember(int slot, uint64_t cursor, struct object *first) {
        if (slot < 0)
                slot = (int) (list_resume_next++ % LIST_RESUMES);
        list_resumes[slot] = (struct list_resume) { true, cursor, first };
}

void admin_object_deleted(struct object *o) {
        for (int i = 0; i < LIST_RESUMES; i++)
                if (list_resumes[i].used && list_resumes[i].first == o)
                        list_resumes[i].first = TAILQ_NEXT(o, link);
}

/*
 * LIST: u64 cursor, u32 max, u8 type -> u64 next_cursor, u32 n,
 * n x (name, u8 type, fields). Objects are listed in creation order; the
 * cursor is opaque to clients: one less than the creation serial of the
 * first object not yet listed, 0 when the list is complete. A page stops
 * early once the reply is large, so that no listing holds the loop for long.
 * Every object is listed, as ipcs lists every one; of those the client may
 * not read, only the name, the type, the owner, the group, the mode and
 * durability, so that a listing reveals nothing INFO would refuse.
 */
int admin_handle_list(struct client *c, const struct request *req, struct wire_reader *r) {
        uint64_t cursor, next = 0;
        uint32_t max;
        uint8_t type;
        struct object *o;
        struct op_page pg;
        int slot;

        if (!wire_get_u64(r, &cursor) || !wire_get_u32(r, &max) || !wire_get_u8(r, &type) ||
            !wire_reader_done(r))
                return -EPROTO;
        if (type >= _WIRE_TYPE_MAX)
                return -EINVAL;
        if (op_page_begin(c, req, max, LIST_PAGE_MAX, &pg) < 0)
                return -ENOMEM;
        for (o = list_start(cursor, &slot); o; o = TAILQ_NEXT(o, link)) {
                if (type && o->ops->type != type)
                        continue;
                if (pg.n == pg.max || pg.b->len - pg.start > mpxd.max_frame / 2) {
                        next = o->serial - 1;
                        list_remember(slot, next, o);
                        break;
                }
                if (wire_put_name(pg.b, o->name, o->name_len) < 0 ||
                    put_description(pg.b, o, perm_may(c, o, PERM_READ)) < 0)
                        return op_page_abort(c, &pg);
                pg.n++;
        }
        return op_page_end(c, &pg, next);
}

/*
 * Parse a body that is a name and find the object of any type it names: 0,
 * -EPROTO, -ENOENT or -EACCES. Unlike object_find_typed it leaves the
 * object's request count and idle time alone: reading about an object or
 * deleting it is no use of it.
 */
static int admin_parse_find(const struct request *req, struct wire_reader *r, struct object **ret) {
        const char *name;
        size_t len;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_reader_done(r))
                return -EPROTO;
        err = object_lookup(req, name, len, ret);
        if (err < 0)
                return err;
        return *ret ? 0 : -ENOENT;
}

/* INFO: name -> u8 type, fields. */
int admin_handle_info(struct client *c, const struct request *req, struct wire_reader *r) {
        size_t start;
        struct object *o;
        struct wire_buf *b;
        int err;

        err = admin_parse_find(req, r, &o);
        if (err < 0)
                return err;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        if (put_description(b, o, true) < 0) {
                client_reply_discard(c, start);
                return -ENOMEM;
        }
        client_reply_end(c, start);
        return 0;
}

/* DELETE: name. Its waiters get -EIDRM. */
int admin_handle_delete(struct client *c, const struct request *req, struct wire_reader *r) {
        struct object *o;
        int err;

        err = admin_parse_find(req, r, &o);
        if (err < 0)
                return err;
        if (o->ops->may_delete) {
                err = o->ops->may_delete(o, c);
                if (err < 0)
                        return err;
        }
        log_info("object '%s' deleted by %s", o->name, client_describe(c));
        object_delete(o, -EIDRM);
        return op_reply_ok(c, req);
}

/* Resident memory of the daemon, from /proc/self/statm; 0 if unknown. */
static uint64_t rss_bytes(void) {
        unsigned long size, resident;
        FILE *f = fopen("/proc/self/statm", "re");
        int n;

        if (!f)
                return 0;
        n = fscanf(f, "%lu %lu", &size, &resident);
        fclose(f);
        return n == 2 ? (uint64_t) resident * (uint64_t) sysconf(_SC_PAGESIZE) : 0;
}

/* Request counters by opcode family, as "requests_<family>" fields. */
static int put_family_counts(struct wire_buf *b, struct wire_fields *f) {
        static const char *const family[ARRAY_SIZE(mpxd.requests_by_family)] = {
                "session", "admin", "queue", "dict", "list", "sem", "event", "array", "pipe",
        };
        char key[64];
        int err = 0;

        for (size_t i = 0; i < ARRAY_SIZE(family); i++) {
                if (!family[i])
                        continue;
                snprintf(key, sizeof(key), "requests_%s", family[i]);
                err |= wire_put_field_int(b, f, key, (int64_t) mpxd.requests_by_family[i]);
        }
        return err;
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
        err |= wire_put_field_int(b, &f, "bytes", (int64_t) mpxd.bytes_held);
        err |= wire_put_field_int(b, &f, "max_memory", (int64_t) mpxd.max_memory);
        err |= wire_put_field_int(b, &f, "users", mpxd.n_users);
        err |= wire_put_field_int(b, &f, "rss_bytes", (int64_t) rss_bytes());
        err |= put_family_counts(b, &f);
        err |= journal_stats(b, &f);
        if (err < 0) {
                client_reply_discard(c, start);
                return -ENOMEM;
        }
        wire_fields_end(b, &f);
        client_reply_end(c, start);
        return 0;
}

/* "queue.get 'jobs', sem.acquire 'db'": what the client's waiters wait on, for the CLIENTS reply. */
static void describe_waits(const struct client *c, char *buf, size_t size) {
        const struct waiter *w;
        size_t len = 0;

        buf[0] = '\0';
        TAILQ_FOREACH(w, &client_shared(c)->waiters, client_link) {
                int n = snprintf(buf + len, size - len, "%s%s '%s'", len ? ", " : "",
                                 wire_op_name(w->op) ?: "?", w->object->name);
                if (n < 0 || (size_t) n >= size - len)
                        break;
                len += (size_t) n;
        }
}

/* Append one client's fields. */
static int put_client(struct wire_buf *b, const struct client *c, uint64_t t) {
        const struct waiter *w, *oldest = TAILQ_FIRST(&client_shared(c)->waiters);
        struct wire_fields f;
        char waits[512];
        unsigned n_waits = 0;
        int err = 0;

        TAILQ_FOREACH(w, &client_shared(c)->waiters, client_link)
                n_waits++;
        describe_waits(c, waits, sizeof(waits));
        err |= wire_fields_begin(b, &f);
        err |= client_put_fields(c, b, &f, t);
        err |= wire_put_field_int(b, &f, "deliveries", queue_client_deliveries(c));
        err |= wire_put_field_int(b, &f, "lease_ms", queue_client_next_lease(c));
        err |= wire_put_field_int(b, &f, "sem_units", (int64_t) sem_client_units(c));
        err |= wire_put_field_int(b, &f, "waiting", n_waits);
        err |= wire_put_field_str(b, &f, "waiting_on", waits);
        /* The same for programs, of the oldest parked request: nothing to parse out of the text above. */
        err |= wire_put_field_str(b, &f, "waiting_op", oldest ? wire_op_name(oldest->op) ?: "" : "");
        err |= wire_put_field_str(b, &f, "waiting_object", oldest ? oldest->object->name : "");
        if (err < 0)
                return -ENOMEM;
        wire_fields_end(b, &f);
        return 0;
}

/*
 * CLIENTS: u64 cursor, u32 max -> u64 next_cursor, u32 n, n x fields.
 * Clients are listed in connection order; the cursor is one less than the id
 * of the first client not yet listed, 0 when the list is complete.
 */
int admin_handle_clients(struct client *c, const struct request *req, struct wire_reader *r) {
        uint64_t cursor, next = 0, t = now_ms();
        uint32_t max;
        struct client *other;
        struct op_page pg;

        if (!wire_get_u64(r, &cursor) || !wire_get_u32(r, &max) || !wire_reader_done(r))
                return -EPROTO;
        if (op_page_begin(c, req, max, LIST_PAGE_MAX, &pg) < 0)
                return -ENOMEM;
        for (other = client_next(NULL); other; other = client_next(other)) {
                if (client_shared(other)->id <= cursor)
                        continue;
                if (pg.n == pg.max || pg.b->len - pg.start > mpxd.max_frame / 2) {
                        next = client_shared(other)->id - 1;
                        break;
                }
                if (put_client(pg.b, other, t) < 0)
                        return op_page_abort(c, &pg);
                pg.n++;
        }
        return op_page_end(c, &pg, next);
}

static int user_compare(const void *a, const void *b) {
        uid_t x = (*(struct user *const *) a)->uid, y = (*(struct user *const *) b)->uid;

        return x < y ? -1 : x > y;
}

/* Append one user's fields. */
static int put_user(struct wire_buf *b, const struct user *u) {
        struct wire_fields f;
        int err = 0;

        err |= wire_fields_begin(b, &f);
        err |= wire_put_field_int(b, &f, "uid", u->uid);
        err |= wire_put_field_int(b, &f, "clients", u->n_clients);
        err |= wire_put_field_int(b, &f, "objects", u->n_objects);
        err |= wire_put_field_int(b, &f, "waiters", u->n_waiters);
        err |= wire_put_field_int(b, &f, "bytes", (int64_t) u->bytes);
        err |= wire_put_field_int(b, &f, "workers", u->n_workers);
        err |= wire_put_field_int(b, &f, "refused_memory", (int64_t) u->refused[USER_REFUSED_MEMORY]);
        err |= wire_put_field_int(b, &f, "refused_objects", (int64_t) u->refused[USER_REFUSED_OBJECTS]);
        err |= wire_put_field_int(b, &f, "refused_clients", (int64_t) u->refused[USER_REFUSED_CLIENTS]);
        err |= wire_put_field_int(b, &f, "refused_waiters",
                                  (int64_t) (u->refused[USER_REFUSED_WAITERS] + u->refused[USER_REFUSED_CLIENT_WAITERS]));
        err |= wire_put_field_int(b, &f, "refused_workers", (int64_t) u->refused[USER_REFUSED_WORKERS]);
        if (err < 0)
                return -ENOMEM;
        wire_fields_end(b, &f);
        return 0;
}

/*
 * USERS: u64 cursor, u32 max -> u64 next_cursor, u32 n, n x fields. The uids
 * with a connection or something charged, by uid; the cursor is one more
 * than the last uid listed, 0 when the list is complete. There are few uids:
 * sorting them for each page costs less than keeping them sorted.
 */
int admin_handle_users(struct client *c, const struct request *req, struct wire_reader *r) {
        struct user **sorted, *u, *tmp;
        uint64_t cursor, next = 0;
        uint32_t max;
        struct op_page pg;
        size_t count = 0;
        int err;

        if (!wire_get_u64(r, &cursor) || !wire_get_u32(r, &max) || !wire_reader_done(r))
                return -EPROTO;
        sorted = malloc((mpxd.n_users ? mpxd.n_users : 1) * sizeof(*sorted));
        if (!sorted)
                return -ENOMEM;
        HASH_ITER(hh, mpxd.users, u, tmp)
                if (u->uid >= cursor)
                        sorted[count++] = u;
        qsort(sorted, count, sizeof(*sorted), user_compare);
        err = op_page_begin(c, req, max, LIST_PAGE_MAX, &pg);
        for (size_t i = 0; err == 0 && i < count; i++) {
                if (pg.n == pg.max) {
                        next = (uint64_t) sorted[i - 1]->uid + 1;
                        break;
                }
                if (put_user(pg.b, sorted[i]) < 0)
                        err = op_page_abort(c, &pg);
                else
                        pg.n++;
        }
        free(sorted);
        return err < 0 ? err : op_page_end(c, &pg, next);
}
