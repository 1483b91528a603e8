/* SPDX-License-Identifier: MIT */
/*
 * The storage of a shared dict: every key is one entry, in two uthash
 * tables at once: by key (whose application order is the insertion order
 * Python keeps; a value overwritten is replaced inside its entry, so its key
 * keeps its place) and by serial number. An entry takes the next serial of
 * its dict when its key is inserted, so serials grow along the insertion
 * order, which dict_resume() pages through (see dict.c, DICT_ITEMS).
 *
 * Each step here leaves the dict as it was when it fails (-ENOMEM
 * included), counts and charges what an entry holds, and journals the
 * changes of a durable dict. Requests, replies and permissions are dict.c's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dict-table.h"
#include "journal.h"
#include "mpxd.h"
#include "user.h"
#include "wire.h"

static unsigned dict_hash(const void *data, size_t len);

/*
 * The tables of this file hash with SipHash-1-3 under a key drawn at random
 * once per process, instead of uthash's fixed Jenkins hash, so that a client
 * cannot pick keys that all land in one bucket and make every lookup slow
 * for everyone. uthash hashes where its macros are expanded and keeps each
 * entry's hash for deleting and resizing, so this affects only the tables
 * of this file, and all of them.
 */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = dict_hash((keyptr), (size_t) (keylen)))

#define DICT_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define DICT_SIPROUND(v0, v1, v2, v3)                                                           \
        do {                                                                                    \
                v0 += v1; v1 = DICT_ROTL(v1, 13); v1 ^= v0; v0 = DICT_ROTL(v0, 32);            \
                v2 += v3; v3 = DICT_ROTL(v3, 16); v3 ^= v2;                                     \
                v0 += v3; v3 = DICT_ROTL(v3, 21); v3 ^= v0;                                     \
                v2 += v1; v1 = DICT_ROTL(v1, 17); v1 ^= v2; v2 = DICT_ROTL(v2, 32);            \
        } while (0)

/* SipHash-1-3 of data under a per-process random key, folded to uthash's width. */
static unsigned dict_hash(const void *data, size_t len) {
        static uint64_t k0, k1;
        static bool seeded;
        const uint8_t *p = data;
        uint64_t v0, v1, v2, v3, m, last = (uint64_t) len << 56;

        if (!seeded) {
                uint64_t key[2];

                if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t) sizeof(key)) {
                        /* No entropy yet (early boot): weaker, but still not a constant. */
                        key[0] = now_ms() ^ ((uint64_t) getpid() << 32);
                        key[1] = (uint64_t) (uintptr_t) &k0 ^ 0x9e3779b97f4a7c15u;
                }
                k0 = key[0];
                k1 = key[1];
                seeded = true;
        }
        v0 = k0 ^ 0x736f6d6570736575u;
        v1 = k1 ^ 0x646f72616e646f6du;
        v2 = k0 ^ 0x6c7967656e657261u;
        v3 = k1 ^ 0x7465646279746573u;
        for (; len >= 8; len -= 8, p += 8) {
                m = 0;
                for (int i = 0; i < 8; i++)
                        m |= (uint64_t) p[i] << (8 * i);
                v3 ^= m;
                DICT_SIPROUND(v0, v1, v2, v3);
                v0 ^= m;
        }
        for (size_t i = 0; i < len; i++)
                last |= (uint64_t) p[i] << (8 * i);
        v3 ^= last;
        DICT_SIPROUND(v0, v1, v2, v3);
        v0 ^= last;
        v2 ^= 0xff;
        for (int i = 0; i < 3; i++)
                DICT_SIPROUND(v0, v1, v2, v3);
        m = v0 ^ v1 ^ v2 ^ v3;
        return (unsigned) (m ^ (m >> 32));
}

/* A malloc'd copy of a value; one byte is allocated for an empty one. */
uint8_t *dict_value_dup(const void *data, uint32_t size) {
        uint8_t *v = malloc(size ? size : 1);

        if (v && size)
                memcpy(v, data, size);
        return v;
}

/* A new entry, not yet in the dict; it takes ownership of value. */
struct dict_entry *dict_entry_new(const void *key, uint32_t key_size, uint8_t *value, uint32_t value_size) {
        struct dict_entry *e = malloc(sizeof(*e) + key_size);

        if (!e)
                return NULL;
        memset(e, 0, sizeof(*e));
        e->key_size = key_size;
        if (key_size)
                memcpy(e->key, key, key_size);
        e->value = value;
        e->value_size = value_size;
        return e;
}

void dict_entry_free(struct dict_entry *e) {
        if (!e)
                return;
        free(e->value);
        free(e);
}

struct dict_entry *dict_find(struct dict *d, const void *key, uint32_t key_size) {
        struct dict_entry *e;

        HASH_FIND(hh, d->entries, key, key_size, e);
        return e;
}

/* ---- the journal of a durable dict ---- */

void dict_journal_set(struct dict *d, const struct dict_entry *e) {
        struct wire_buf *b = journal_begin(&d->obj, JOURNAL_DICT_SET);

        if (b)
                journal_end(wire_put_bytes(b, e->key, e->key_size) | wire_put_bytes(b, e->value, e->value_size));
}

void dict_journal_del(struct dict *d, const struct dict_entry *e) {
        struct wire_buf *b = journal_begin(&d->obj, JOURNAL_DICT_DEL);

        if (b)
                journal_end(wire_put_bytes(b, e->key, e->key_size));
}

void dict_journal_clear(struct dict *d) {
        if (journal_begin(&d->obj, JOURNAL_DICT_CLEAR))
                journal_end(0);
}

/*
 * What an entry holds on top of its key and value: its header (with both
 * tables' hash handles), two words for each of its two allocations
 * (malloc's chunk header and rounding up to 16 bytes; the value takes one
 * even when empty) and two for its share of the tables' bucket arrays. It
 * is charged with the key and value, so that empty entries cannot get round
 * limits.max_memory.
 */
#define DICT_ENTRY_OVERHEAD (sizeof(struct dict_entry) + 6 * sizeof(void *))

const uint64_t dict_entry_overhead = DICT_ENTRY_OVERHEAD;

/* The bytes an entry of this key and value is charged for. */
uint64_t dict_entry_cost(uint32_t key_size, uint32_t value_size) {
        return (uint64_t) key_size + value_size + DICT_ENTRY_OVERHEAD;
}

uint64_t dict_entry_bytes(const struct dict_entry *e) {
        return dict_entry_cost(e->key_size, e->value_size);
}

/*
 * Link a new entry into both tables, at the end of the insertion order: 0,
 * or -ENOMEM with the dict as it was (a second table's failure undoes the
 * first's add). Nothing is counted or charged yet: see dict_account().
 */
int dict_link(struct dict *d, struct dict_entry *e) {
        e->serial = d->next_serial + 1;
        HASH_ADD_KEYPTR(hh, d->entries, e->key, e->key_size, e);
        if (hash_add_failed())
                return -ENOMEM;
        HASH_ADD(hs, d->by_serial, serial, sizeof(e->serial), e);
        if (hash_add_failed()) {
                HASH_DELETE(hh, d->entries, e);
                return -ENOMEM;
        }
        d->next_serial = e->serial;
        return 0;
}

/* Undo dict_link() of the last linked entry (a batch that cannot finish). */
void dict_unlink(struct dict *d, struct dict_entry *e) {
        HASH_DELETE(hh, d->entries, e);
        HASH_DELETE(hs, d->by_serial, e);
        d->next_serial = e->serial - 1;
}

/* Count a linked entry, with its value, and charge it to user. */
void dict_account(struct dict *d, struct dict_entry *e, struct user *user) {
        d->count++;
        d->bytes += dict_entry_bytes(e);
        e->user = user;
        user_charge(user, dict_entry_bytes(e));
        if (d->obj.durable)
                dict_journal_set(d, e);
}

/* Insert a new entry, charged to user: 0, or -ENOMEM with the dict as it was. */
static int dict_insert(struct dict *d, struct dict_entry *e, struct user *user) {
        int err = dict_link(d, e);

        if (err < 0)
                return err;
        dict_account(d, e, user);
        return 0;
}

/*
 * Replace an entry's value in place (the key keeps its place); takes
 * ownership of value. The whole entry is charged to user from now on.
 */
void dict_replace(struct dict *d, struct dict_entry *e, uint8_t *value, uint32_t value_size, struct user *user) {
        d->bytes -= e->value_size;
        user_uncharge(e->user, dict_entry_bytes(e));
        free(e->value);
        e->value = value;
        e->value_size = value_size;
        d->bytes += value_size;
        e->user = user;
        user_charge(user, dict_entry_bytes(e));
        if (d->obj.durable)
                dict_journal_set(d, e);
}

/* Unlink an entry and free it. */
void dict_remove(struct dict *d, struct dict_entry *e) {
        HASH_DELETE(hh, d->entries, e);
        HASH_DELETE(hs, d->by_serial, e);
        d->count--;
        d->bytes -= dict_entry_bytes(e);
        d->deletes++;
        user_uncharge(e->user, dict_entry_bytes(e));
        dict_entry_free(e);
}

/*
 * Whether user may store value_size bytes at key (found at e, or NULL):
 * the entry's old bytes are released, from whoever they are charged to.
 */
static int dict_may_store(struct user *user, struct dict_entry *e, uint32_t key_size, uint32_t value_size) {
        uint64_t add = dict_entry_cost(key_size, value_size), old = e ? dict_entry_bytes(e) : 0;

        return user_may_hold(user, add, e && e->user == user ? old : 0, e && e->user != user ? old : 0);
}

/*
 * d[key] = value, charged to user: replace in place or insert at the end.
 * 0, -ENOSPC or -ENOMEM (the dict unchanged).
 */
int dict_store(struct dict *d, const void *key, uint32_t key_size, const void *value, uint32_t value_size,
               struct user *user) {
        struct dict_entry *e = dict_find(d, key, key_size);
        uint8_t *v;
        int err;

        err = dict_may_store(user, e, key_size, value_size);
        if (err < 0)
                return err;
        v = dict_value_dup(value, value_size);
        if (!v)
                return -ENOMEM;
        if (e)
                dict_replace(d, e, v, value_size, user);
        else {
                e = dict_entry_new(key, key_size, v, value_size);
                if (!e) {
                        free(v);
                        return -ENOMEM;
                }
                err = dict_insert(d, e, user);
                if (err < 0) {
                        dict_entry_free(e);
                        return err;
                }
        }
        d->sets++;
        return 0;
}

/* Remove every entry; returns how many there were. */
uint64_t dict_clear(struct dict *d) {
        struct dict_entry *e, *tmp;
        uint64_t n = d->count;

        HASH_ITER(hh, d->entries, e, tmp)
                dict_remove(d, e);
        return n;
}

/*
 * The first entry inserted after the one whose serial is cursor (0: the
 * first entry), or NULL. Entries are in serial order, so when the cursor's
 * entry is gone, the walk resumes at the first larger serial, scanning from
 * whichever end of the order is nearer in serials.
 */
struct dict_entry *dict_resume(struct dict *d, uint64_t cursor) {
        struct dict_entry *e, *first = d->entries, *last;

        if (!first || cursor == 0)
                return first;
        HASH_FIND(hs, d->by_serial, &cursor, sizeof(cursor), e);
        if (e)
                return e->hh.next;
        last = ELMT_FROM_HH(first->hh.tbl, first->hh.tbl->tail);
        if (cursor >= last->serial)
                return NULL;
        if (cursor < first->serial)
                return first;
        if (cursor - first->serial < last->serial - cursor) {
                for (e = first; e->serial <= cursor; e = e->hh.next)
                        ;
                return e;
        }
        for (e = last; e->hh.prev && ((struct dict_entry *) e->hh.prev)->serial > cursor; e = e->hh.prev)
                ;
        return e;
}

