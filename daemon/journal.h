/* SPDX-License-Identifier: MIT */
/*
 * Durable objects (journal.c): the journal of their changes, its records,
 * and what a request does before and after it changes a durable object.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "object.h"
#include "wire.h"

struct config;

enum journal_sync {
        JOURNAL_SYNC_ALWAYS,            /* fdatasync() before acknowledging, shared by a batch */
        JOURNAL_SYNC_EVERYSEC,          /* fdatasync() once a second */
        JOURNAL_SYNC_NO,                /* write() only */
};

#define JOURNAL_DEFAULT_COMPACT_SIZE (UINT64_C(64) << 20)
#define JOURNAL_MIN_COMPACT_SIZE (UINT64_C(4) << 10)

/* Record kinds; the numbers are on disk and never reused. */
enum journal_kind {
        JOURNAL_HEADER = 1,             /* str magic, u32 format, u64 segment (the snapshot: the last it covers) */
        JOURNAL_CREATE = 2,             /* name, u8 type, u64 a, u64 b, u32 flags (see journal_create) */
        JOURNAL_DELETE = 3,             /* name */
        JOURNAL_OWNER = 4,              /* name, u32 uid, u32 gid, u16 mode */
        JOURNAL_QUEUE_PUT = 10,         /* name, u64 seq, bytes item */
        JOURNAL_QUEUE_REMOVE = 11,      /* name, u64 seq */
        JOURNAL_QUEUE_CLOSE = 12,       /* name */
        JOURNAL_QUEUE_DELIVERED = 13,   /* name, u64 seq, u32 deliveries (format 3) */
        JOURNAL_DICT_SET = 20,          /* name, bytes key, bytes value */
        JOURNAL_DICT_DEL = 21,          /* name, bytes key */
        JOURNAL_DICT_CLEAR = 22,        /* name */
        JOURNAL_LIST_INSERT = 30,       /* name, u64 index, bytes item */
        JOURNAL_LIST_SET = 31,          /* name, u64 index, bytes item */
        JOURNAL_LIST_DEL = 32,          /* name, u64 index */
        JOURNAL_LIST_CLEAR = 33,        /* name */
        JOURNAL_SEM_VALUE = 40,         /* name, u64 value (every SEM_UNDO hold given back), u8 owner dead (format 2) */
        JOURNAL_ARRAY_SET = 50,         /* name, u32 first, bytes elements */
        JOURNAL_ARRAY_IMAGE = 51,       /* name, bytes every element */
};

/* "always", "everysec", "no" <-> enum journal_sync; -EINVAL or NULL when unknown. */
int journal_sync_from_string(const char *s);
const char *journal_sync_to_string(enum journal_sync sync);
/*
 * At start: lock the configured directory, recover the durable objects it
 * holds, and open a new segment. 0 (also when durability is off) or a
 * negative errno.
 */
int journal_open(const struct config *c);
/* On reload: the sync policy, the default and compact_size (the directory only at start). */
void journal_configure(const struct config *c);
/* Commit, compact into the snapshot when compact (a clean shutdown), close. */
void journal_close(bool compact);
bool journal_enabled(void);
/* The journal is being read back at start: limits and quotas admit what it recreates. */
bool journal_replaying(void);
/* Tests: the journal_fail_countdown-th next record fails as out of memory (1: the next one), 0 never. */
extern unsigned journal_fail_countdown;
/* Tests: while set (a negative errno), reserving room on disk fails with it, as a full disk would. */
extern int journal_reserve_fails;
/* Tests: while set (a negative errno), the everysec syncs report it, as a failed fdatasync() would. */
extern int journal_sync_fails;
/*
 * Before a request changes durable object o (op.c marks such requests
 * OP_CHANGES; object_lookup asks): 0 when the journal has room for what a
 * request of need bytes may record, on disk and reserved, or the negative
 * errno the change is refused with, before anything changed: -ENOSPC (no
 * room), -EIO (the journal cannot be written, or records were lost and a
 * snapshot is not yet written).
 */
int journal_admit_slow(size_t need);
static inline int journal_admit(const struct object *o, size_t need) {
        return o->durable ? journal_admit_slow(need) : 0;
}
/* For changes no client asked for (array images): whether need bytes of records fit now; refuses nothing. */
bool journal_has_room(size_t need);
/* STATS fields: durability, journal_*. */
int journal_stats(struct wire_buf *b, struct wire_fields *f);

/* Set while records (or reads of uncommitted changes) hold replies back; op.c clears it per request. */
extern bool journal_replies_held;
/* Records appended since start. */
extern uint64_t journal_appended;
void journal_touch_slow(void);
/* A request named o: if it is durable, its reply waits for records not yet written. */
static inline void journal_touch(const struct object *o) {
        if (o->durable)
                journal_touch_slow();
}

/*
 * Build one record of object o (NULL for a header): journal_begin returns
 * the buffer to append the body to (wire_put_*), or NULL when nothing is to
 * be recorded; journal_end(0) seals it, journal_end(err < 0) drops it and
 * withholds the acknowledgements of the batch.
 */
struct wire_buf *journal_begin(const struct object *o, uint16_t kind);
void journal_end(int err);
/*
 * The create record: queue, joinable (a maxsize), semaphore (a initial, b
 * max, flags), value and array (a typecode, b length, flags); dict and list 0.
 */
int journal_create(const struct object *o, uint64_t a, uint64_t b, uint32_t flags);
/* The object is being deleted (DELETE): record it. */
void journal_delete(struct object *o);
/* Its owner, group or mode changed (or were set after its creation): record them. */
void journal_owner_slow(const struct object *o);
static inline void journal_owner(const struct object *o) {
        if (o->durable)
                journal_owner_slow(o);
}
/*
 * Before a declare: -EINVAL for a durable declare without a directory;
 * for one that would create a durable object, what journal_admit says
 * of need bytes (the declare request's body; 0 outside a request).
 */
int journal_declare_check(const char *name, size_t len, uint32_t flags, uint32_t need);
/*
 * After a declare that returned created (1, 0 or a negative errno): make a
 * new object durable as flags (WIRE_DECLARE_DURABLE) or the default say and
 * record it; an existing one of the other durability is -EEXIST.
 */
int journal_declared(const char *name, size_t len, int created, uint32_t flags);
/* journal_declared, for the object the declare found or created (NULL: -ENOENT). */
int journal_declared_object(struct object *o, int created, uint32_t flags);
