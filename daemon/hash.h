/* SPDX-License-Identifier: MIT */
/*
 * uthash as mpxd uses it (hash.c): the configuration that makes a failed
 * allocation recoverable instead of fatal, then uthash itself. Include this,
 * never <uthash.h> directly, so that every HASH_ADD site expands with it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/*
 * uthash must not exit on out-of-memory (its default): a failed allocation in
 * HASH_ADD (a new table, or a bucket expansion, which is rolled back) leaves
 * the element out of the table and sets hash_oom. Every HASH_ADD site checks
 * hash_add_failed() and answers -ENOMEM with nothing changed. hash.c.
 */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) do { (void) (obj); hash_oom = true; } while (0)
#define uthash_malloc(sz) hash_malloc(sz)
#define uthash_free(ptr, sz) free(ptr)
extern bool hash_oom;
void *hash_malloc(size_t size);
/* true (once) if the last HASH_ADD failed for lack of memory. */
static inline bool hash_add_failed(void) {
        bool failed = hash_oom;

        hash_oom = false;
        return failed;
}
/*
 * For unit tests only, to reach the failure paths: when non-zero, the
 * hash_fail_countdown-th next uthash allocation fails (1: the next one),
 * once. The daemon never sets it.
 */
extern unsigned hash_fail_countdown;
#include <uthash.h>
