/* SPDX-License-Identifier: MIT */
/*
 * Shared lists: Python's Manager().list() as a named object of mpxd. Items
 * are opaque bytes of up to max_message bytes each; indexes are Python's,
 * negative ones counting from the end, with Python's rules for what is out
 * of range (get, set, pop: -ERANGE) and what is clamped (insert, slice).
 *
 * Storage: a growable array of pointers to items, so that indexing is O(1)
 * and insert, pop and remove in the middle move pointers only (as CPython's
 * list does). The array grows by doubling and shrinks by half once it is a
 * quarter full.
 *
 * Every request is complete before its reply is queued. Room for the reply
 * and everything a change needs (array capacity, item copies) is allocated
 * before the first change, so a request that fails (-ENOMEM included) leaves
 * the list as it was. A slice reply is bounded to about half a frame; the
 * client asks again from where it stopped. Lists have no waiters. This file
 * does not deal with permissions or persistence.
 *
 * Every change gives the list a new version, drawn from one clock for all
 * lists that starts at a random point when mpxd starts, so that a version
 * is never seen twice: a client that read a list (SLICE with its version)
 * can replace a part of it (SPLICE) only if nothing changed in between,
 * which is how sort() and reverse() of Python's list are made atomic
 * without the daemon knowing how to compare items.
 *
 * The first half of the file is the storage API, the second the request
 * handlers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>

#include "client.h"
#include "journal.h"
#include "list.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "user.h"
#include "wire.h"

/* The smallest array a list allocates. */
#define LIST_MIN_CAP 16u

/* One item, charged to the user that put it from list_item_new to list_item_free. */
struct list_item {
        struct user *user;
        uint32_t size;
        uint8_t data[];
};

/*
 * What an item holds on top of its payload: its header, its slot in the
 * list's array of pointers, and two words for malloc's chunk header and its
 * rounding up to 16 bytes. It is charged with the payload, so that empty
 * items cannot get round limits.max_memory.
 */
#define LIST_ITEM_OVERHEAD (sizeof(struct list_item) + sizeof(struct list_item *) + 2 * sizeof(void *))

const uint64_t list_item_overhead = LIST_ITEM_OVERHEAD;

/* The bytes an item of size payload bytes is charged for. */
static uint64_t list_item_cost(uint32_t size) {
        return (uint64_t) size + LIST_ITEM_OVERHEAD;
}

static uint64_t list_item_bytes(const struct list_item *it) {
        return list_item_cost(it->size);
}

struct list {
        struct object obj;
        struct list_item **items;
        size_t len;
        size_t cap;
        uint64_t bytes;                 /* list_item_bytes() of the items held */
        uint64_t version;               /* changes with every change (list_changed) */

        /* counters for INFO */
        uint64_t added, removed, sets, gets, slices, splices;
};

static const struct object_type list_type;

static struct list *list_of(struct object *o) {
        return container_of(o, struct list, obj);
}

/* ---- storage API ---- */

/* A new version for l: the next tick of a clock started at a random point. */
static void list_changed(struct list *l) {
        static uint64_t clock;

        if (clock == 0) {
                uint32_t start = 0;

                /* Without randomness the clock still moves; only a restart could repeat versions. */
                (void) !getrandom(&start, sizeof(start), GRND_NONBLOCK);
                clock = (uint64_t) start << 32 | 1;
        }
        l->version = ++clock;
}

/* A copy of data, charged to user; the caller checked user_may_hold(). */
static struct list_item *list_item_new(const void *data, uint32_t size, struct user *user) {
        struct list_item *it = malloc(sizeof(*it) + size);

        if (!it)
                return NULL;
        it->user = user;
        it->size = size;
        if (size)
                memcpy(it->data, data, size);
        user_charge(user, list_item_cost(size));
        return it;
}

static void list_item_free(struct list_item *it) {
        user_uncharge(it->user, list_item_bytes(it));
        free(it);
}

/* Make room for extra more items: 0 or -ENOMEM (the list unchanged). */
static int list_reserve(struct list *l, size_t extra) {
        struct list_item **p;
        size_t cap;

        if (extra <= l->cap - l->len)
                return 0;
        if (extra > SIZE_MAX / sizeof(*p) / 2 - l->len)
                return -ENOMEM;
        cap = l->cap ? l->cap * 2 : LIST_MIN_CAP;
        if (cap < l->len + extra)
                cap = l->len + extra;
        p = realloc(l->items, cap * sizeof(*p));
        if (!p)
                return -ENOMEM;
        l->items = p;
        l->cap = cap;
        return 0;
}

/* Give memory back once the array is a quarter full; a failure to shrink is harmless. */
static void list_shrink(struct list *l) {
        struct list_item **p;
        size_t cap;

        if (l->len == 0) {
                free(l->items);
                l->items = NULL;
                l->cap = 0;
                return;
        }
        if (l->cap <= LIST_MIN_CAP || l->len > l->cap / 4)
                return;
        cap = l->cap / 2;
        p = realloc(l->items, cap * sizeof(*p));
        if (p) {
                l->items = p;
                l->cap = cap;
        }
}

/* ---- the journal of a durable list ---- */

/* Record that the item at pos was inserted (kind JOURNAL_LIST_INSERT) or replaced (JOURNAL_LIST_SET). */
static void list_journal_item(struct list *l, uint16_t kind, size_t pos) {
        struct wire_buf *b = journal_begin(&l->obj, kind);

        if (b)
                journal_end(wire_put_u64(b, pos) | wire_put_bytes(b, l->items[pos]->data, l->items[pos]->size));
}

static void list_journal_del(struct list *l, size_t pos) {
        struct wire_buf *b = journal_begin(&l->obj, JOURNAL_LIST_DEL);

        if (b)
                journal_end(wire_put_u64(b, pos));
}

static void list_journal_clear(struct list *l) {
        if (journal_begin(&l->obj, JOURNAL_LIST_CLEAR))
                journal_end(0);
}

/* Put an item (owned by the list from now on) at pos <= len; room was reserved. */
static void list_put_at(struct list *l, size_t pos, struct list_item *it) {
        memmove(l->items + pos + 1, l->items + pos, (l->len - pos) * sizeof(*l->items));
        l->items[pos] = it;
        l->len++;
        l->bytes += list_item_bytes(it);
        l->added++;
        list_changed(l);
        if (l->obj.durable)
                list_journal_item(l, JOURNAL_LIST_INSERT, pos);
}

/* Unlink the item at pos < len and return it; the caller frees it. */
static struct list_item *list_take_at(struct list *l, size_t pos) {
        struct list_item *it = l->items[pos];

        if (l->obj.durable)
                list_journal_del(l, pos);
        memmove(l->items + pos, l->items + pos + 1, (l->len - pos - 1) * sizeof(*l->items));
        l->len--;
        l->bytes -= list_item_bytes(it);
        l->removed++;
        list_changed(l);
        return it;
}

/* Remove every item; returns how many there were. */
static uint64_t list_clear(struct list *l) {
        size_t n = l->len;

        for (size_t i = 0; i < n; i++)
                list_item_free(l->items[i]);
        l->len = 0;
        l->bytes = 0;
        l->removed += n;
        list_changed(l);
        list_shrink(l);
        return n;
}

/* Python's l[index] rule: a position, or -ERANGE. */
static int list_index(const struct list *l, int64_t index, size_t *ret) {
        int64_t n = (int64_t) l->len;

        if (index < 0)
                index += n;
        if (index < 0 || index >= n)
                return -ERANGE;
        *ret = (size_t) index;
        return 0;
}

/* Python's clamping of insert positions and slice bounds: always in 0..len. */
static size_t list_clamp(const struct list *l, int64_t index) {
        int64_t n = (int64_t) l->len;

        if (index < 0) {
                index += n;
                if (index < 0)
                        index = 0;
        } else if (index > n)
                index = n;
        return (size_t) index;
}

/* The position of the first item equal to data, or -ENOENT. */
static int list_find(const struct list *l, const void *data, uint32_t size, size_t *ret) {
        for (size_t i = 0; i < l->len; i++) {
                const struct list_item *it = l->items[i];

                if (it->size == size && (size == 0 || memcmp(it->data, data, size) == 0)) {
                        *ret = i;
                        return 0;
                }
        }
        return -ENOENT;
}

static void list_free(struct object *o) {
        struct list *l = list_of(o);

        (void) list_clear(l);
        free(l->items);
        free(l);
}

static int list_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct list *l = list_of(o);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", (int64_t) l->len);
        r |= wire_put_field_int(b, f, "bytes", (int64_t) l->bytes);
        r |= wire_put_field_int(b, f, "added", (int64_t) l->added);
        r |= wire_put_field_int(b, f, "removed", (int64_t) l->removed);
        r |= wire_put_field_int(b, f, "sets", (int64_t) l->sets);
        r |= wire_put_field_int(b, f, "gets", (int64_t) l->gets);
        r |= wire_put_field_int(b, f, "slices", (int64_t) l->slices);
        r |= wire_put_field_int(b, f, "splices", (int64_t) l->splices);
        r |= object_describe_age(o, b, f);
        return r < 0 ? -ENOMEM : 0;
}

static uint64_t list_bytes(struct object *o) {
        return list_of(o)->bytes;
}

/* The records that recreate the list: every item in order. */
static int list_dump(struct object *o) {
        struct list *l = list_of(o);

        journal_create(o, 0, 0, 0);
        for (size_t i = 0; i < l->len; i++)
                list_journal_item(l, JOURNAL_LIST_INSERT, i);
        return 0;
}

/* Apply a journal record of a durable list, at start. */
static int list_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct list *l = list_of(o);
        struct list_item *it;
        const void *data;
        uint32_t size;
        uint64_t pos;

        if (kind == JOURNAL_LIST_CLEAR) {
                (void) list_clear(l);
                return 0;
        }
        if (!wire_get_u64(r, &pos))
                return -EBADMSG;
        if (kind == JOURNAL_LIST_DEL) {
                if (!wire_reader_done(r) || pos >= l->len)
                        return -EBADMSG;
                list_item_free(list_take_at(l, (size_t) pos));
                list_shrink(l);
                return 0;
        }
        if ((kind != JOURNAL_LIST_INSERT && kind != JOURNAL_LIST_SET) || !wire_get_bytes(r, &data, &size) ||
            !wire_reader_done(r) || pos > l->len || (kind == JOURNAL_LIST_SET && pos == l->len))
                return -EBADMSG;
        /* Recovered items are charged to nobody, as the configuration's objects are. */
        it = list_item_new(data, size, NULL);
        if (!it || (kind == JOURNAL_LIST_INSERT && list_reserve(l, 1) < 0)) {
                if (it)
                        list_item_free(it);
                return -ENOMEM;
        }
        if (kind == JOURNAL_LIST_INSERT) {
                list_put_at(l, (size_t) pos, it);
                return 0;
        }
        l->bytes -= list_item_bytes(l->items[pos]);
        list_item_free(l->items[pos]);
        l->items[pos] = it;
        l->bytes += list_item_cost(size);
        return 0;
}

/* A new list has a version of its own, as after any change. */
static int list_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        (void) name, (void) len, (void) params;
        list_changed(list_of(o));
        return 0;
}

static const struct object_type list_type = {
        .type = WIRE_TYPE_LIST,
        .describe = list_describe,
        .free = list_free,
        .bytes = list_bytes,
        .dump = list_dump,
        .replay = list_replay,
        .size = sizeof(struct list),
        .declare_init = list_declare_init,
};

/* Create a list, or find the one of that name. */
int list_declare(const char *name, size_t len) {
        return object_declare(NULL, name, len, &list_type, NULL, NULL);
}

/* ---- request handlers ---- */

/* Find the list a request names, once its body is parsed. */
#define LIST_FIND(req, name, len, ret) OBJECT_FIND_AS(req, name, len, 1u << WIRE_TYPE_LIST, ret)

/* The position of the item a request's first field, an index, names, or -ERANGE. */
static ssize_t list_request_index(const struct request *req) {
        size_t pos;
        int err = list_index(list_of(req->obj), req->f[0].i, &pos);

        return err < 0 ? err : (ssize_t) pos;
}

/* The position of the first item equal to a request's first field, or -ENOENT. */
static ssize_t list_request_item(const struct request *req) {
        size_t pos;
        int err = list_find(list_of(req->obj), req->f[0].v.data, req->f[0].v.size, &pos);

        return err < 0 ? err : (ssize_t) pos;
}

/* Insert one copied item at pos and answer with the new length. */
static int list_add_one(struct client *c, const struct request *req, struct list *l, size_t pos,
                        const void *data, uint32_t size) {
        struct list_item *it;
        int err;

        err = user_may_hold(client_shared(c)->user, list_item_cost(size), 0, 0);
        if (err < 0)
                return err;
        if (list_reserve(l, 1) < 0 || client_reply_reserve(c, 8) < 0)
                return -ENOMEM;
        it = list_item_new(data, size, client_shared(c)->user);
        if (!it)
                return -ENOMEM;
        list_put_at(l, pos, it);
        return op_reply_u64(c, req, l->len);
}

/* DECLARE: name [, u32 flags] -> u8 created. */
int list_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return object_handle_declare_plain(c, req, r, &list_type, WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
}

/* APPEND: name, bytes item -> u64 len. */
int list_handle_append(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);

        return list_add_one(c, req, l, l->len, req->f[0].v.data, req->f[0].v.size);
}

/*
 * Read the "u32 n, n x bytes" that ends an EXTEND or SPLICE body, to check
 * the items before anything changes (*ret_items is where they start, *ret_n
 * how many, *ret_cost what they cost), then find the list named: 0,
 * -EPROTO, as LIST_FIND, or -EMSGSIZE for an item over max_message.
 */
static int list_find_with_items(const struct request *req, struct wire_reader *r, const char *name, size_t len,
                                struct list **ret, struct wire_reader *ret_items, uint32_t *ret_n,
                                uint64_t *ret_cost) {
        bool too_big = false;
        int err;

        if (!wire_get_u32(r, ret_n))
                return -EPROTO;
        *ret_items = *r;
        *ret_cost = 0;
        for (uint32_t i = 0; i < *ret_n; i++) {
                const void *data;
                uint32_t size;

                if (!wire_get_bytes(r, &data, &size))
                        return -EPROTO;
                too_big |= size > mpxd.max_message;
                *ret_cost += list_item_cost(size);
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        err = LIST_FIND(req, name, len, ret);
        if (err < 0)
                return err;
        return too_big ? -EMSGSIZE : 0;
}

/* EXTEND: name, u32 n, n x bytes -> u64 len. All or nothing; n may be 0. */
int list_handle_extend(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct list *l = NULL;
        struct wire_reader body;
        uint64_t total;
        uint32_t n;
        int err;

        if (!wire_get_name(r, &name, &len))
                return -EPROTO;
        err = list_find_with_items(req, r, name, len, &l, &body, &n, &total);
        if (err < 0)
                return err;
        err = user_may_hold(client_shared(c)->user, total, 0, 0);
        if (err < 0)
                return err;
        if (list_reserve(l, n) < 0 || client_reply_reserve(c, 8) < 0)
                return -ENOMEM;
        /* Copy into the spare room past the end; the length moves only once all are there. */
        for (uint32_t i = 0; i < n; i++) {
                const void *data;
                uint32_t size;

                (void) wire_get_bytes(&body, &data, &size);
                l->items[l->len + i] = list_item_new(data, size, client_shared(c)->user);
                if (!l->items[l->len + i]) {
                        while (i > 0)
                                list_item_free(l->items[l->len + --i]);
                        return -ENOMEM;
                }
        }
        for (uint32_t i = 0; i < n; i++)
                l->bytes += list_item_bytes(l->items[l->len + i]);
        l->len += n;
        l->added += n;
        list_changed(l);
        for (uint32_t i = 0; l->obj.durable && i < n; i++)
                list_journal_item(l, JOURNAL_LIST_INSERT, l->len - n + i);
        return op_reply_u64(c, req, l->len);
}

/* GET: name, i64 index -> bytes item. */
int list_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);
        ssize_t pos = list_request_index(req);

        if (pos < 0)
                return (int) pos;
        l->gets++;
        return op_reply_bytes(c, req, l->items[pos]->data, l->items[pos]->size);
}

/* SET: name, i64 index, bytes item -> (empty). */
int list_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);
        const void *data = req->f[1].v.data;
        uint32_t size = req->f[1].v.size;
        ssize_t pos = list_request_index(req);
        struct user *user = client_shared(c)->user;
        struct list_item *it, *old;
        int err;

        if (pos < 0)
                return (int) pos;
        /* The old item's bytes are released, from whoever put it. */
        old = l->items[pos];
        err = user_may_hold(user, list_item_cost(size), old->user == user ? list_item_bytes(old) : 0,
                            old->user != user ? list_item_bytes(old) : 0);
        if (err < 0)
                return err;
        it = list_item_new(data, size, user);
        if (!it)
                return -ENOMEM;
        l->bytes -= list_item_bytes(old);
        list_item_free(old);
        l->items[pos] = it;
        l->bytes += list_item_cost(size);
        l->sets++;
        list_changed(l);
        if (l->obj.durable)
                list_journal_item(l, JOURNAL_LIST_SET, pos);
        return op_reply_ok(c, req);
}

/* INSERT: name, i64 index, bytes item -> u64 len. The index is clamped, as in Python. */
int list_handle_insert(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);

        return list_add_one(c, req, l, list_clamp(l, req->f[0].i), req->f[1].v.data, req->f[1].v.size);
}

/* POP: name, i64 index -> bytes item; -1 is the last item. */
int list_handle_pop(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);
        ssize_t pos = list_request_index(req);
        int err;

        if (pos < 0)
                return (int) pos;
        /* The reply holds a copy of the item: queue it first, then remove. */
        err = op_reply_bytes(c, req, l->items[pos]->data, l->items[pos]->size);
        if (err < 0)
                return err;
        list_item_free(list_take_at(l, pos));
        list_shrink(l);
        return 0;
}

/* REMOVE: name, bytes item -> (empty). The first equal item goes. */
int list_handle_remove(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);
        ssize_t pos = list_request_item(req);

        if (pos < 0)
                return (int) pos;
        list_item_free(list_take_at(l, pos));
        list_shrink(l);
        return op_reply_ok(c, req);
}

/* INDEX: name, bytes item -> u64 index of the first equal item. */
int list_handle_index(struct client *c, const struct request *req, struct wire_reader *r) {
        ssize_t pos = list_request_item(req);

        if (pos < 0)
                return (int) pos;
        return op_reply_u64(c, req, pos);
}

/* LEN: name -> u64 len. */
int list_handle_len(struct client *c, const struct request *req, struct wire_reader *r) {
        return op_reply_u64(c, req, list_of(req->obj)->len);
}

/*
 * SLICE: name, i64 start, i64 stop[, u32 flags] -> u64 next, u64 stop, u32 n,
 * n x bytes[, u64 version]; the version only with WIRE_SLICE_VERSION.
 * start and stop are clamped as in Python (INT64_MAX is "to the end"), and a
 * stop before start is start. The reply holds the items from start on, n of
 * them, stopping before the item that would take the body past half of
 * max_frame (at least one is always returned); next is the index of the
 * first item not returned, and equals stop when the slice is complete.
 */
int list_handle_slice(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct list *l = NULL;
        struct wire_buf *b;
        int64_t start_index, stop_index;
        size_t start, stop, pos, frame, at, limit = mpxd.max_frame / 2;
        uint32_t n = 0, flags = 0;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &start_index) || !wire_get_i64(r, &stop_index) ||
            (r->left > 0 && !wire_get_u32(r, &flags)) || !wire_reader_done(r))
                return -EPROTO;
        err = LIST_FIND(req, name, len, &l);
        if (err < 0)
                return err;
        if (flags & ~WIRE_SLICE_VERSION)
                return -EINVAL;
        start = list_clamp(l, start_index);
        stop = list_clamp(l, stop_index);
        if (stop < start)
                stop = start;

        b = client_reply_begin(c, req->id, req->op, &frame);
        if (!b)
                return -ENOMEM;
        at = b->len;
        if (wire_put_u64(b, 0) < 0 || wire_put_u64(b, stop) < 0 || wire_put_u32(b, 0) < 0)
                goto nomem;
        for (pos = start; pos < stop; pos++) {
                const struct list_item *it = l->items[pos];

                if (n > 0 && b->len - frame - WIRE_HEADER_SIZE + 4 + (size_t) it->size > limit)
                        break;
                if (wire_put_bytes(b, it->data, it->size) < 0)
                        goto nomem;
                n++;
        }
        if ((flags & WIRE_SLICE_VERSION) && wire_put_u64(b, l->version) < 0)
                goto nomem;
        wire_patch_u64(b, at, pos);
        wire_patch_u32(b, at + 16, n);
        client_reply_end(c, frame);
        l->slices++;
        return 0;
nomem:
        client_reply_discard(c, frame);
        return -ENOMEM;
}

/* CLEAR: name -> u64 removed. */
int list_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        struct list *l = list_of(req->obj);
        uint64_t removed;

        if (client_reply_reserve(c, 8) < 0)
                return -ENOMEM;
        if (l->obj.durable)
                list_journal_clear(l);
        removed = list_clear(l);
        return op_reply_u64(c, req, removed);
}

/* The reply of SPLICE: u8 done, u64 version, u64 len. */
static int list_reply_splice(struct client *c, const struct request *req, const struct list *l, bool done) {
        return op_reply(c, req, "bqq", done, l->version, (uint64_t) l->len);
}

/*
 * SPLICE: name, i64 start, i64 stop, u64 if_version, u32 n, n x bytes -> u8
 * done, u64 version, u64 len. l[start:stop] = items, with SLICE's clamping.
 * With if_version other than 0 it is done only if the list's version is
 * still that one; otherwise nothing changes and done is 0.
 */
int list_handle_splice(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct list *l = NULL;
        struct list_item **fresh = NULL;
        struct wire_reader body;
        int64_t start_index, stop_index;
        uint64_t if_version, total, gone_own = 0, gone_other = 0;
        size_t start, stop, removed;
        uint32_t n;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &start_index) || !wire_get_i64(r, &stop_index) ||
            !wire_get_u64(r, &if_version))
                return -EPROTO;
        err = list_find_with_items(req, r, name, len, &l, &body, &n, &total);
        if (err < 0)
                return err;
        if (if_version != 0 && if_version != l->version)
                return list_reply_splice(c, req, l, false);
        start = list_clamp(l, start_index);
        stop = list_clamp(l, stop_index);
        if (stop < start)
                stop = start;
        removed = stop - start;
        /* What goes is released from whoever put it, as SET does. */
        for (size_t i = start; i < stop; i++) {
                if (l->items[i]->user == client_shared(c)->user)
                        gone_own += list_item_bytes(l->items[i]);
                else
                        gone_other += list_item_bytes(l->items[i]);
        }
        err = user_may_hold(client_shared(c)->user, total, gone_own, gone_other);
        if (err < 0)
                return err;
        /* Everything that can fail first: the array's room, the copies, the reply's room. */
        if ((n > removed && list_reserve(l, n - removed) < 0) || client_reply_reserve(c, 1 + 8 + 8) < 0)
                return -ENOMEM;
        fresh = calloc(n ? n : 1, sizeof(*fresh));
        if (!fresh)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                const void *data;
                uint32_t size;

                (void) wire_get_bytes(&body, &data, &size);
                fresh[i] = list_item_new(data, size, client_shared(c)->user);
                if (!fresh[i]) {
                        while (i > 0)
                                list_item_free(fresh[--i]);
                        free(fresh);
                        return -ENOMEM;
                }
        }
        /* One move of the tail, however many items go and come (a sort replaces them all). */
        for (size_t i = start; i < stop; i++) {
                l->bytes -= list_item_bytes(l->items[i]);
                list_item_free(l->items[i]);
        }
        if (l->len > stop)
                memmove(l->items + start + n, l->items + stop, (l->len - stop) * sizeof(*l->items));
        for (uint32_t i = 0; i < n; i++) {
                l->items[start + i] = fresh[i];
                l->bytes += list_item_bytes(fresh[i]);
        }
        free(fresh);
        l->len = l->len - removed + n;
        l->removed += removed;
        l->added += n;
        /* The journal sees a delete per item gone, then an insert per item come, as they apply in turn. */
        for (size_t i = 0; l->obj.durable && i < removed; i++)
                list_journal_del(l, start);
        for (uint32_t i = 0; l->obj.durable && i < n; i++)
                list_journal_item(l, JOURNAL_LIST_INSERT, start + i);
        list_shrink(l);
        list_changed(l);
        l->splices++;
        return list_reply_splice(c, req, l, true);
}
