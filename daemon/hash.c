/* SPDX-License-Identifier: MIT */
/*
 * The allocator of uthash's tables (see hash.h): malloc, with a failure that
 * unit tests can ask for, so that every HASH_ADD site's out-of-memory path
 * is tested.
 */
#include <stdlib.h>

#include "hash.h"

bool hash_oom;
unsigned hash_fail_countdown;

void *hash_malloc(size_t size) {
        if (hash_fail_countdown && --hash_fail_countdown == 0)
                return NULL;
        return malloc(size);
}
