/* SPDX-License-Identifier: MIT */
/*
 * The storage of a shared dict (dict-table.c), for dict.c: its entries in
 * two uthash tables keyed with SipHash, and the steps that change them,
 * count and charge what they hold, and journal a durable dict's changes.
 * Private to dict.c and dict-table.c.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "macros.h"
#include "object.h"

struct user;

struct dict_entry {
        UT_hash_handle hh;              /* in dict->entries: by key, in insertion order */
        UT_hash_handle hs;              /* in dict->by_serial */
        uint64_t serial;                /* insertion order; the DICT_ITEMS cursor */
        uint8_t *value;                 /* malloc'd, never NULL (one byte for an empty value) */
        struct user *user;              /* charged for dict_entry_bytes(): who stored the value */
        uint32_t value_size;
        uint32_t key_size;
        uint8_t key[];
};

struct dict {
        struct object obj;
        struct dict_entry *entries;     /* uthash head by key */
        struct dict_entry *by_serial;   /* uthash head by serial, same entries */
        uint64_t count;                 /* keys */
        uint64_t bytes;                 /* dict_entry_bytes() of the entries held */
        uint64_t next_serial;

        /* counters for INFO */
        uint64_t sets, gets, misses, deletes, incrs, cas_swapped, cas_failed, pages;
};

static inline struct dict *dict_of(struct object *o) {
        return container_of(o, struct dict, obj);
}

/* A malloc'd copy of a value; one byte is allocated for an empty one. */
uint8_t *dict_value_dup(const void *data, uint32_t size);
/* A new entry, not yet in the dict; it takes ownership of value. */
struct dict_entry *dict_entry_new(const void *key, uint32_t key_size, uint8_t *value, uint32_t value_size);
/* Free an entry that is in no table (NULL is nothing). */
void dict_entry_free(struct dict_entry *e);
/* The entry of key, or NULL. */
struct dict_entry *dict_find(struct dict *d, const void *key, uint32_t key_size);

/* The journal records of a durable dict's changes (the caller checks durable). */
void dict_journal_set(struct dict *d, const struct dict_entry *e);
void dict_journal_del(struct dict *d, const struct dict_entry *e);
void dict_journal_clear(struct dict *d);

/* The bytes an entry of this key and value is charged for, and those an entry is. */
uint64_t dict_entry_cost(uint32_t key_size, uint32_t value_size);
uint64_t dict_entry_bytes(const struct dict_entry *e);

/*
 * Link a new entry into both tables, at the end of the insertion order: 0,
 * or -ENOMEM with the dict as it was. Nothing is counted or charged yet:
 * see dict_account().
 */
int dict_link(struct dict *d, struct dict_entry *e);
/* Undo dict_link() of the last linked entry (a batch that cannot finish). */
void dict_unlink(struct dict *d, struct dict_entry *e);
/* Count a linked entry, with its value, and charge it to user. */
void dict_account(struct dict *d, struct dict_entry *e, struct user *user);
/*
 * Replace an entry's value in place (the key keeps its place); takes
 * ownership of value. The whole entry is charged to user from now on.
 */
void dict_replace(struct dict *d, struct dict_entry *e, uint8_t *value, uint32_t value_size, struct user *user);
/* Unlink an entry and free it. */
void dict_remove(struct dict *d, struct dict_entry *e);
/*
 * d[key] = value, charged to user: replace in place or insert at the end.
 * 0, -ENOSPC or -ENOMEM (the dict unchanged).
 */
int dict_store(struct dict *d, const void *key, uint32_t key_size, const void *value, uint32_t value_size,
               struct user *user);
/* Remove every entry; returns how many there were. */
uint64_t dict_clear(struct dict *d);
/*
 * The first entry inserted after the one whose serial is cursor (0: the
 * first entry), or NULL, even when the cursor's entry is gone.
 */
struct dict_entry *dict_resume(struct dict *d, uint64_t cursor);
