/* SPDX-License-Identifier: MIT */
/*
 * Field lists read back by the tests: the fields of INFO, STATS, LIST,
 * CLIENTS and USERS replies (u16 n, then n times u8 key length, key, u8
 * kind, then an i64 or a str; docs/PROTOCOL.md), and of the daemon's own
 * stats functions. One reader, so that every test walks a list the same
 * way and checks that it is well formed. For cmocka tests only.
 */
#ifndef MPX_TESTS_FIELD_LIST_H
#define MPX_TESTS_FIELD_LIST_H

#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

/* One field, pointing into the list it was read from. */
struct field {
        uint8_t kind;                   /* WIRE_FIELD_INT or WIRE_FIELD_STR */
        int64_t num;                    /* an INT's value */
        const char *str;                /* a STR's text, str_len bytes, not NUL-terminated */
        uint16_t str_len;
};

/*
 * Read a whole field list from r. With a key, the first field of that name
 * is copied into *ret (may be NULL), and the return value says whether there
 * was one. A list that is cut short or malformed fails the test at file, line.
 */
bool field_list_read_at(struct wire_reader *r, const char *key, struct field *ret, const char *file, int line);

#define field_list_read(r, key, ret) field_list_read_at(r, key, ret, __FILE__, __LINE__)

#endif
