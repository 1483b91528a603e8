/* SPDX-License-Identifier: MIT */
/*
 * Shared dicts: Python's Manager().dict() as a named object of mpxd, with
 * atomic increment and compare-and-set on top. Keys and values are opaque
 * bytes of up to max_message bytes each.
 *
 * Storage (dict-table.c): every key is one entry, kept in insertion order,
 * with a serial that grows along it. DICT_ITEMS pages through that order
 * with the serial of the last entry it returned as its cursor: the next
 * page starts right after that entry, or, when it was removed in between,
 * at the first entry with a larger serial. A key present during the whole
 * walk is therefore returned exactly once, however other keys come and go,
 * and no page is larger than DICT_PAGE_MAX entries or about half a frame,
 * so that listing a huge dict never holds the loop for long.
 *
 * Every request is complete before its reply is queued. Room for a reply is
 * reserved before the dict changes, and everything a change needs is
 * allocated before the first change, so a request that fails (-ENOMEM
 * included) leaves the dict as it was. Dicts have no waiters. This file
 * does not deal with permissions or persistence.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dict-table.h"
#include "dict.h"
#include "hash.h"
#include "journal.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "user.h"
#include "wire.h"

/* Most entries in one DICT_ITEMS page, whatever the client asks. */
#define DICT_PAGE_MAX 1000u

/* The longest decimal text of an int64_t: a sign and 19 digits. */
#define DICT_INT_TEXT_MAX 20

/*
 * Parse a value as a signed 64-bit decimal integer: an optional '-' and one
 * or more ASCII digits, nothing else (no '+', no spaces). 0, -EINVAL (not an
 * integer) or -ERANGE (an integer that does not fit in 64 bits).
 */
static int dict_parse_int(const uint8_t *p, uint32_t size, int64_t *ret) {
        bool negative = size > 0 && p[0] == '-';
        uint32_t i = negative ? 1 : 0;
        uint64_t v = 0, limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;
        bool too_big = false;

        if (i == size)
                return -EINVAL;
        for (; i < size; i++) {
                unsigned digit;

                if (p[i] < '0' || p[i] > '9')
                        return -EINVAL;
                digit = (unsigned) (p[i] - '0');
                if (v > (limit - digit) / 10)
                        too_big = true;
                else
                        v = v * 10 + digit;
        }
        if (too_big)
                return -ERANGE;
        *ret = negative ? (int64_t) (0 - v) : (int64_t) v;
        return 0;
}

static void dict_free(struct object *o) {
        struct dict *d = dict_of(o);

        (void) dict_clear(d);
        free(d);
}

static int dict_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct dict *d = dict_of(o);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", (int64_t) d->count);
        r |= wire_put_field_int(b, f, "bytes", (int64_t) d->bytes);
        r |= wire_put_field_int(b, f, "sets", (int64_t) d->sets);
        r |= wire_put_field_int(b, f, "gets", (int64_t) d->gets);
        r |= wire_put_field_int(b, f, "misses", (int64_t) d->misses);
        r |= wire_put_field_int(b, f, "deletes", (int64_t) d->deletes);
        r |= wire_put_field_int(b, f, "incrs", (int64_t) d->incrs);
        r |= wire_put_field_int(b, f, "cas_swapped", (int64_t) d->cas_swapped);
        r |= wire_put_field_int(b, f, "cas_failed", (int64_t) d->cas_failed);
        r |= wire_put_field_int(b, f, "pages", (int64_t) d->pages);
        r |= object_describe_age(o, b, f);
        return r < 0 ? -ENOMEM : 0;
}

static uint64_t dict_bytes(struct object *o) {
        return dict_of(o)->bytes;
}

/* The records that recreate the dict: every key in insertion order. */
static int dict_dump(struct object *o) {
        struct dict *d = dict_of(o);
        struct dict_entry *e;

        journal_create(o, 0, 0, 0);
        for (e = d->entries; e; e = e->hh.next)
                dict_journal_set(d, e);
        return 0;
}

/* Apply a journal record of a durable dict, at start. */
static int dict_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct dict *d = dict_of(o);
        const void *key, *value;
        uint32_t key_size, value_size;
        struct dict_entry *e;

        switch (kind) {
        case JOURNAL_DICT_SET:
                if (!wire_get_bytes(r, &key, &key_size) || !wire_get_bytes(r, &value, &value_size) ||
                    !wire_reader_done(r))
                        return -EBADMSG;
                /* Recovered entries are charged to nobody, as the configuration's are. */
                return dict_store(d, key, key_size, value, value_size, NULL);
        case JOURNAL_DICT_DEL:
                if (!wire_get_bytes(r, &key, &key_size) || !wire_reader_done(r))
                        return -EBADMSG;
                e = dict_find(d, key, key_size);
                if (!e)
                        return -ENOENT;
                dict_remove(d, e);
                return 0;
        case JOURNAL_DICT_CLEAR:
                (void) dict_clear(d);
                return 0;
        }
        return -EBADMSG;
}

static const struct object_type dict_type = {
        .type = WIRE_TYPE_DICT,
        .describe = dict_describe,
        .free = dict_free,
        .bytes = dict_bytes,
        .dump = dict_dump,
        .replay = dict_replay,
        .size = sizeof(struct dict),
};

/* Create a dict, or find the one of that name. */
int dict_declare(const char *name, size_t len) {
        return object_declare(NULL, name, len, &dict_type, NULL, NULL);
}

/* ---- request handlers ---- */

/* A (bytes key, bytes value) pair of a request: SET's, SETDEFAULT's, each of UPDATE's. */
struct dict_pair {
        const void *key, *value;
        uint32_t key_size, value_size;
};

/* Read the next pair of a body: false when the body ends first. */
static bool dict_pair_next(struct wire_reader *r, struct dict_pair *p) {
        return wire_get_bytes(r, &p->key, &p->key_size) && wire_get_bytes(r, &p->value, &p->value_size);
}

/* The entry of key, or NULL: a miss, counted for INFO. */
static struct dict_entry *dict_find_counted(struct dict *d, const void *key, uint32_t key_size) {
        struct dict_entry *e = dict_find(d, key, key_size);

        if (!e)
                d->misses++;
        return e;
}

/* The entry of the key a request names (its first field), or NULL: a miss, counted for INFO. */
static struct dict_entry *dict_request_entry(const struct request *req) {
        return dict_find_counted(dict_of(req->obj), req->f[0].v.data, req->f[0].v.size);
}

/* A key removed by a request: journaled when the dict is durable, then unlinked and freed. */
static void dict_delete(struct dict *d, struct dict_entry *e) {
        if (d->obj.durable)
                dict_journal_del(d, e);
        dict_remove(d, e);
}

/*
 * Answer a POP or POPITEM with the entry's value, after its key with
 * with_key, then delete it: the reply holds copies, so it is queued first.
 */
static int dict_reply_delete(struct client *c, const struct request *req, struct dict *d, struct dict_entry *e,
                             bool with_key) {
        int err = with_key ? op_reply(c, req, "ss", e->key, e->key_size, e->value, e->value_size) :
                             op_reply(c, req, "s", e->value, e->value_size);

        if (err < 0)
                return err;
        dict_delete(d, e);
        return 0;
}

/* DECLARE: name [, u32 flags] -> u8 created. */
int dict_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return object_handle_declare_plain(c, req, r, &dict_type, WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
}

/* SET: name, bytes key, bytes value -> (empty). */
int dict_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        const union op_field *key = &req->f[0], *value = &req->f[1];
        int err;

        err = dict_store(dict_of(req->obj), key->v.data, key->v.size, value->v.data, value->v.size,
                         client_shared(c)->user);
        if (err < 0)
                return err;
        return op_reply_ok(c, req);
}

/* GET: name, bytes key -> bytes value. */
int dict_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict_entry *e;

        dict_of(req->obj)->gets++;
        e = dict_request_entry(req);
        if (!e)
                return -ENOENT;
        return op_reply_bytes(c, req, e->value, e->value_size);
}

/* DEL: name, bytes key -> (empty). */
int dict_handle_del(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict_entry *e = dict_request_entry(req);

        if (!e)
                return -ENOENT;
        dict_delete(dict_of(req->obj), e);
        return op_reply_ok(c, req);
}

/* CONTAINS: name, bytes key -> u8 present. */
int dict_handle_contains(struct client *c, const struct request *req, struct wire_reader *r) {
        const union op_field *key = &req->f[0];

        return op_reply_u8(c, req, dict_find(dict_of(req->obj), key->v.data, key->v.size) ? 1 : 0);
}

/* LEN: name -> u64 len. */
int dict_handle_len(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);

        return op_reply_u64(c, req, d->count);
}

/* The size of one DICT_ITEMS entry on the wire. */
static size_t dict_entry_wire_size(const struct dict_entry *e, uint8_t what) {
        size_t n = 0;

        if (what & WIRE_DICT_KEYS)
                n += 4 + (size_t) e->key_size;
        if (what & WIRE_DICT_VALUES)
                n += 4 + (size_t) e->value_size;
        return n;
}

/*
 * ITEMS: name, u64 cursor, u32 max, u8 what -> u64 next_cursor, u32 n,
 * n x entry, where an entry is [bytes key] [bytes value] as what asks.
 * A page ends after max entries (0 or more than DICT_PAGE_MAX: that many),
 * or before the entry that would take the body past half of max_frame; it
 * always holds at least one entry when any is left. next_cursor is the
 * serial of the last entry returned, or 0 when the walk is complete.
 */
int dict_handle_items(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);
        uint64_t cursor = req->f[0].q, next = 0, last = 0;
        uint32_t max = req->f[1].w;
        uint8_t what = req->f[2].b;
        size_t limit = mpxd.max_frame / 2;
        struct dict_entry *e;
        struct op_page pg;

        if (what == 0 || (what & ~(WIRE_DICT_KEYS | WIRE_DICT_VALUES)))
                return -EINVAL;
        if (op_page_begin(c, req, max, DICT_PAGE_MAX, &pg) < 0)
                return -ENOMEM;
        for (e = dict_resume(d, cursor); e; e = e->hh.next) {
                size_t more = dict_entry_wire_size(e, what);

                if (pg.n == pg.max || (pg.n > 0 && pg.b->len - pg.start - WIRE_HEADER_SIZE + more > limit)) {
                        next = last;
                        break;
                }
                if (((what & WIRE_DICT_KEYS) && wire_put_bytes(pg.b, e->key, e->key_size) < 0) ||
                    ((what & WIRE_DICT_VALUES) && wire_put_bytes(pg.b, e->value, e->value_size) < 0))
                        return op_page_abort(c, &pg);
                last = e->serial;
                pg.n++;
        }
        d->pages++;
        return op_page_end(c, &pg, next);
}

/* POP: name, bytes key -> bytes value; the key is removed. */
int dict_handle_pop(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict_entry *e = dict_request_entry(req);

        if (!e)
                return -ENOENT;
        return dict_reply_delete(c, req, dict_of(req->obj), e, false);
}

/*
 * POPITEM: name -> bytes key, bytes value. Removes the key inserted last,
 * as Python's dict.popitem() does; ENOENT when the dict is empty.
 */
int dict_handle_popitem(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);
        struct dict_entry *e;

        if (!d->entries) {
                d->misses++;
                return -ENOENT;
        }
        e = ELMT_FROM_HH(d->entries->hh.tbl, d->entries->hh.tbl->tail);
        return dict_reply_delete(c, req, d, e, true);
}

/* SETDEFAULT: name, bytes key, bytes default -> bytes value (the one stored now). */
int dict_handle_setdefault(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);
        const union op_field *key = &req->f[0], *value = &req->f[1];
        struct dict_entry *e = dict_find(d, key->v.data, key->v.size);
        int err;

        if (e)
                return op_reply_bytes(c, req, e->value, e->value_size);
        if (client_reply_reserve(c, 4 + (size_t) value->v.size) < 0)
                return -ENOMEM;
        err = dict_store(d, key->v.data, key->v.size, value->v.data, value->v.size, client_shared(c)->user);
        if (err < 0)
                return err;
        /* Room was reserved: this reply cannot fail. */
        return op_reply_bytes(c, req, value->v.data, value->v.size);
}

static int dict_entry_ptr_compare(const void *a, const void *b) {
        uintptr_t x = (uintptr_t) *(struct dict_entry *const *) a, y = (uintptr_t) *(struct dict_entry *const *) b;

        return x < y ? -1 : x > y;
}

/*
 * Whether user may store the n pairs of an update: every pair counts as
 * new bytes (a key given twice in one update counts twice, which can only
 * refuse early), and each entry the update replaces releases its old bytes
 * once. 0, -ENOSPC or -ENOMEM.
 */
static int dict_update_may_store(struct dict *d, struct wire_reader pairs, uint32_t n, struct user *user) {
        struct dict_entry **found = malloc((size_t) n * sizeof(*found));
        uint64_t add = 0, freed_own = 0, freed_other = 0;
        size_t n_found = 0;

        if (!found)
                return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
                struct dict_pair p;
                struct dict_entry *e;

                (void) dict_pair_next(&pairs, &p);
                add += dict_entry_cost(p.key_size, p.value_size);
                e = dict_find(d, p.key, p.key_size);
                if (e)
                        found[n_found++] = e;
        }
        qsort(found, n_found, sizeof(*found), dict_entry_ptr_compare);
        for (size_t i = 0; i < n_found; i++) {
                if (i > 0 && found[i] == found[i - 1])
                        continue;
                if (found[i]->user == user)
                        freed_own += dict_entry_bytes(found[i]);
                else
                        freed_other += dict_entry_bytes(found[i]);
        }
        free(found);
        return user_may_hold(user, add, freed_own, freed_other);
}

/*
 * UPDATE: name, u32 n, n x (bytes key, bytes value) -> (empty). All or
 * nothing: the body is checked, then everything the update needs is
 * allocated, then the pairs are stored in order (a key given twice ends with
 * its last value, in the place of its first insertion).
 */
int dict_handle_update(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        struct dict *d = NULL;
        struct wire_reader pairs;
        struct {
                struct dict_entry *entry;       /* for a key absent when the request came */
                uint8_t *value;
        } *prep = NULL;
        bool too_big = false;
        uint32_t n;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &n))
                return -EPROTO;
        pairs = *r;
        for (uint32_t i = 0; i < n; i++) {
                struct dict_pair p;

                if (!dict_pair_next(r, &p))
                        return -EPROTO;
                too_big |= p.key_size > mpxd.max_message || p.value_size > mpxd.max_message;
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        err = OBJECT_FIND_AS(req, name, len, 1u << WIRE_TYPE_DICT, &d);
        if (err < 0)
                return err;
        if (too_big)
                return -EMSGSIZE;
        if (n == 0) {
                return op_reply_ok(c, req);
        }
        err = dict_update_may_store(d, pairs, n, client_shared(c)->user);
        if (err < 0)
                return err;

        prep = calloc(n, sizeof(*prep));
        if (!prep)
                return -ENOMEM;
        {
                struct wire_reader rd = pairs;

                for (uint32_t i = 0; i < n; i++) {
                        struct dict_pair p;

                        (void) dict_pair_next(&rd, &p);
                        prep[i].value = dict_value_dup(p.value, p.value_size);
                        if (!prep[i].value)
                                goto nomem;
                        if (!dict_find(d, p.key, p.key_size)) {
                                prep[i].entry = dict_entry_new(p.key, p.key_size, NULL, 0);
                                if (!prep[i].entry)
                                        goto nomem;
                        }
                }
        }

        /*
         * Link the new keys first, in order, the first of each only: the one
         * step that can fail. A failure unlinks them all again, newest first.
         */
        {
                struct wire_reader rd = pairs;

                for (uint32_t i = 0; i < n; i++) {
                        struct dict_pair p;

                        (void) dict_pair_next(&rd, &p);
                        if (!prep[i].entry || dict_find(d, p.key, p.key_size))
                                continue;
                        if (dict_link(d, prep[i].entry) < 0) {
                                while (i-- > 0)
                                        if (prep[i].entry && dict_find(d, prep[i].entry->key,
                                                                        prep[i].entry->key_size) == prep[i].entry)
                                                dict_unlink(d, prep[i].entry);
                                goto nomem;
                        }
                }
        }

        /* Nothing below fails. */
        for (uint32_t i = 0; i < n; i++) {
                struct dict_pair p;
                struct dict_entry *e;

                (void) dict_pair_next(&pairs, &p);
                d->sets++;
                e = dict_find(d, p.key, p.key_size);
                if (e == prep[i].entry) {
                        /* Linked above for this pair: it gets its value now. */
                        e->value = prep[i].value;
                        e->value_size = p.value_size;
                        dict_account(d, e, client_shared(c)->user);
                } else {
                        /* Present, or inserted by an earlier pair of this batch. */
                        dict_replace(d, e, prep[i].value, p.value_size, client_shared(c)->user);
                        dict_entry_free(prep[i].entry);
                }
        }
        free(prep);
        return op_reply_ok(c, req);

nomem:
        for (uint32_t i = 0; i < n; i++) {
                free(prep[i].value);
                dict_entry_free(prep[i].entry);
        }
        free(prep);
        return -ENOMEM;
}

/* CLEAR: name -> u64 removed. */
int dict_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);
        uint64_t removed;

        if (client_reply_reserve(c, 8) < 0)
                return -ENOMEM;
        if (d->obj.durable)
                dict_journal_clear(d);
        removed = dict_clear(d);
        return op_reply_u64(c, req, removed);
}

/*
 * INCR: name, bytes key, i64 delta -> i64 value. The value at key (absent:
 * 0) must be a decimal integer (dict_parse_int); the sum is stored back as
 * decimal text.
 */
int dict_handle_incr(struct client *c, const struct request *req, struct wire_reader *r) {
        char text[DICT_INT_TEXT_MAX + 1];
        struct dict *d = dict_of(req->obj);
        const void *key = req->f[0].v.data;
        uint32_t key_size = req->f[0].v.size;
        int64_t delta = req->f[1].i, value = 0, sum;
        struct dict_entry *e;
        int err, text_len;

        e = dict_find(d, key, key_size);
        if (e) {
                err = dict_parse_int(e->value, e->value_size, &value);
                if (err < 0)
                        return err;
        }
        if (__builtin_add_overflow(value, delta, &sum))
                return -ERANGE;
        text_len = snprintf(text, sizeof(text), "%" PRId64, sum);
        if (client_reply_reserve(c, 8) < 0)
                return -ENOMEM;
        err = dict_store(d, key, key_size, text, (uint32_t) text_len, client_shared(c)->user);
        if (err < 0)
                return err;
        d->incrs++;
        return op_reply_i64(c, req, sum);
}

/*
 * CAS: name, bytes key, u8 expect_present, bytes expected, u8 set_present,
 * bytes new -> u8 swapped, u8 present, bytes current. The condition holds
 * when the key is present with exactly expected (expect_present 1) or absent
 * (expect_present 0, expected is ignored); then new is stored (set_present
 * 1) or the key removed (set_present 0). The reply says whether the
 * condition held and what the key holds after the request.
 */
int dict_handle_cas(struct client *c, const struct request *req, struct wire_reader *r) {
        struct dict *d = dict_of(req->obj);
        const void *key = req->f[0].s.data, *expected = req->f[2].s.data, *new_value = req->f[4].s.data;
        uint32_t key_size = req->f[0].s.size, expected_size = req->f[2].s.size, new_size = req->f[4].s.size;
        uint8_t expect_present = req->f[1].b, set_present = req->f[3].b;
        struct dict_entry *e;
        bool match;
        int err;

        if (expect_present > 1 || set_present > 1)
                return -EINVAL;
        if (key_size > mpxd.max_message || expected_size > mpxd.max_message || new_size > mpxd.max_message)
                return -EMSGSIZE;

        e = dict_find(d, key, key_size);
        if (expect_present)
                match = e && e->value_size == expected_size &&
                        (expected_size == 0 || memcmp(e->value, expected, expected_size) == 0);
        else
                match = !e;
        if (match) {
                if (client_reply_reserve(c, 2 + 4 + (size_t) (set_present ? new_size : 0)) < 0)
                        return -ENOMEM;
                if (set_present) {
                        err = dict_store(d, key, key_size, new_value, new_size, client_shared(c)->user);
                        if (err < 0)
                                return err;
                } else if (e) {
                        dict_delete(d, e);
                }
                d->cas_swapped++;
                e = set_present ? dict_find(d, key, key_size) : NULL;
        } else
                d->cas_failed++;

        /* When the dict changed, room was reserved and this reply cannot fail. */
        return op_reply(c, req, "bbs", match, e ? 1 : 0, e ? e->value : NULL, e ? e->value_size : 0);
}
