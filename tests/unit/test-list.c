/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's shared lists (daemon/list.c), without any socket:
 * socketless clients (client_new(-1)) are fed request frames with
 * client_feed() and their replies are parsed back out of their output
 * buffers, one frame at a time.
 *
 * Covered, against Python's list as the reference (tables of cases whose
 * expected results were produced by Python): append and extend (atomic, n =
 * 0 included), get, set and pop with negative and out-of-range indexes,
 * insert's clamping, remove and index (first equal item, empty items), slice
 * clamping with MPX_SLICE_END (INT64_MAX) as None, slices continued over
 * several frames when they exceed half of max_frame, clear, a large list,
 * max_message, INFO fields, DELETE, and every protocol error a client can
 * cause: each opcode's body truncated at every byte or with a trailing byte
 * (EPROTO, whether or not the list exists), no such list (ENOENT), another
 * type (EPROTOTYPE), no HELLO. Allocation failures are not injected here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "list.h"
#include "mpxd.h"
#include "user.h"
#include "unit-client.h"

/* ---- list helpers ---- */

static void declare_at(struct client *c, const char *name, uint8_t created, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_LIST_DECLARE, "n", name);

        check_at(read_u8_at(&rep, file, line) == created, file, line, "created is not %u", created);
}

#define declare(c, name) declare_at(c, name, 1, __FILE__, __LINE__)

/* Append an item; the new length must be len. */
static void append_at(struct client *c, const char *name, const char *item, uint64_t len, const char *file,
                      int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_LIST_APPEND, "ns", name, item);

        check_at(read_u64_at(&rep, file, line) == len, file, line, "length is not %llu", (unsigned long long) len);
}

#define append(c, name, item, len) append_at(c, name, item, len, __FILE__, __LINE__)

/* Replace the whole list with the items of a string split at ','; "" is the empty list. */
static void fill_at(struct client *c, const char *name, const char *items, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_LIST_CLEAR, "n", name);
        uint64_t len = 0;
        const char *p = items;

        check_status_at(&rep, WIRE_OK, file, line);
        if (!*items)
                return;
        for (;;) {
                const char *comma = strchr(p, ',');
                size_t n = comma ? (size_t) (comma - p) : strlen(p);

                rep = call_at(file, line, c, WIRE_OP_LIST_APPEND, "nx", name, p, n);
                check_at(read_u64_at(&rep, file, line) == ++len, file, line, "bad length");
                if (!comma)
                        break;
                p = comma + 1;
        }
}

#define fill(c, name, items) fill_at(c, name, items, __FILE__, __LINE__)

/*
 * One SLICE reply: checks next and stop and returns the items joined by ','
 * in out. Returns n.
 */
static uint32_t slice_at(struct client *c, const char *name, int64_t start, int64_t stop, uint64_t *ret_next,
                         uint64_t *ret_stop, char *out, size_t out_size, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_LIST_SLICE, "nii", name, start, stop);
        uint32_t n = 0;
        size_t at = 0;

        check_status_at(&rep, WIRE_OK, file, line);
        check_at(wire_get_u64(&rep.r, ret_next) && wire_get_u64(&rep.r, ret_stop) && wire_get_u32(&rep.r, &n),
                 file, line, "bad SLICE reply");
        out[0] = '\0';
        for (uint32_t i = 0; i < n; i++) {
                const void *data = NULL;
                uint32_t size = 0;
                int len;

                check_at(wire_get_bytes(&rep.r, &data, &size), file, line, "bad item");
                len = snprintf(out + at, out_size - at, "%s%.*s", i ? "," : "", (int) size, (const char *) data);
                check_at(len >= 0 && (size_t) len < out_size - at, file, line, "slice too long");
                at += (size_t) len;
        }
        check_at(wire_reader_done(&rep.r), file, line, "stray bytes after the items");
        return n;
}

/* The whole list (one reply) must read want, items joined by ','. */
static void assert_list_at(struct client *c, const char *name, const char *want, const char *file, int line) {
        char got[8192];
        uint64_t next = 0, stop = 0;

        (void) slice_at(c, name, 0, INT64_MAX, &next, &stop, got, sizeof(got), file, line);
        check_at(next == stop, file, line, "the whole list did not fit in one reply");
        check_at(strcmp(got, want) == 0, file, line, "list is [%s], expected [%s]", got, want);
}

#define assert_list(c, name, want) assert_list_at(c, name, want, __FILE__, __LINE__)

static uint64_t len_at(struct client *c, const char *name, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_LIST_LEN, "n", name);

        return read_u64_at(&rep, file, line);
}

#define list_len(c, name) len_at(c, name, __FILE__, __LINE__)

#define info_field(c, name, key) info_field_at(c, name, WIRE_TYPE_LIST, key, __FILE__, __LINE__)

/* ---- tests ---- */

static void test_declare(void **state) {
        struct client *a = client_add(*state, "test-list");

        declare(a, "l");
        declare_at(a, "l", 0, __FILE__, __LINE__);
        assert_int_equal(list_len(a, "l"), 0);
        assert_list(a, "l", "");

        expect(WIRE_OK, a, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        expect(WIRE_EPROTOTYPE, a, WIRE_OP_LIST_DECLARE, "n", "q");
        expect(WIRE_EPROTOTYPE, a, WIRE_OP_DICT_DECLARE, "n", "l");

        assert_int_equal(list_declare("cfg", 3), 1);
        assert_int_equal(list_declare("cfg", 3), 0);
        assert_int_equal(list_declare("q", 1), -EPROTOTYPE);
        assert_int_equal(list_declare("bad name", 8), -EINVAL);
        assert_int_equal(mpxd.n_objects, 3);
}

static void test_append_extend(void **state) {
        static const char bin[] = { 0, 'x', 0 };
        struct client *a = client_add(*state, "test-list");
        struct client *b = client_add(*state, "test-list");
        struct reply rep;

        declare(a, "l");
        append(a, "l", "a", 1);
        append(b, "l", "b", 2);
        append(a, "l", "", 3);
        rep = call(a, WIRE_OP_LIST_EXTEND, "nwsss", "l", 3u, "c", "d", "e");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 6);
        rep = call(a, WIRE_OP_LIST_EXTEND, "nw", "l", 0u);
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 6);
        assert_list(b, "l", "a,b,,c,d,e");

        /* Binary items are kept exactly. */
        rep = call(a, WIRE_OP_LIST_APPEND, "nx", "l", bin, sizeof(bin));
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 7);
        rep = call(a, WIRE_OP_LIST_GET, "ni", "l", (int64_t) -1);
        check_bytes_at(&rep, bin, sizeof(bin), __FILE__, __LINE__);
        assert_int_equal(info_field(a, "l", "size"), 7);
        assert_int_equal(info_field(a, "l", "bytes"), 5 + 3 + 7 * list_item_overhead);
        assert_int_equal(info_field(a, "l", "added"), 7);

        /* extend is all or nothing. */
        mpxd.max_message = 2;
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_EXTEND, "nwsss", "l", 3u, "x", "yyy", "z");
        assert_int_equal(list_len(a, "l"), 7);
}

/* get and set, one index per row, on [a, b, c, d, e] (Python's results). */
static void test_get_set_indexes(void **state) {
        static const struct {
                int64_t index;
                const char *item;       /* NULL: IndexError */
        } cases[] = {
                { 0, "a" }, { 1, "b" }, { 4, "e" }, { 5, NULL }, { 6, NULL }, { 100, NULL },
                { -1, "e" }, { -2, "d" }, { -5, "a" }, { -6, NULL }, { -100, NULL },
                { INT64_MAX, NULL }, { INT64_MIN, NULL }, { INT64_MIN + 1, NULL },
        };
        struct client *a = client_add(*state, "test-list");

        declare(a, "l");
        fill(a, "l", "a,b,c,d,e");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct reply rep = call(a, WIRE_OP_LIST_GET, "ni", "l", cases[i].index);

                if (cases[i].item)
                        check_bytes_at(&rep, cases[i].item, strlen(cases[i].item), __FILE__, __LINE__);
                else
                        check_status_at(&rep, WIRE_ERANGE, __FILE__, __LINE__);

                rep = call(a, WIRE_OP_LIST_SET, "nis", "l", cases[i].index, "X");
                if (cases[i].item) {
                        char want[16];
                        int64_t pos = cases[i].index < 0 ? cases[i].index + 5 : cases[i].index;

                        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                        snprintf(want, sizeof(want), "%s", "a,b,c,d,e");
                        want[pos * 2] = 'X';
                        assert_list(a, "l", want);
                        fill(a, "l", "a,b,c,d,e");
                } else {
                        check_status_at(&rep, WIRE_ERANGE, __FILE__, __LINE__);
                        assert_list(a, "l", "a,b,c,d,e");
                }
        }

        /* An empty list has no index at all. */
        fill(a, "l", "");
        expect(WIRE_ERANGE, a, WIRE_OP_LIST_GET, "ni", "l", (int64_t) 0);
        expect(WIRE_ERANGE, a, WIRE_OP_LIST_GET, "ni", "l", (int64_t) -1);
        expect(WIRE_ERANGE, a, WIRE_OP_LIST_SET, "nis", "l", (int64_t) 0, "x");
        assert_int_equal(info_field(a, "l", "sets"), 6);
}

/* insert, one index per row, into [a, b, c] (Python's results: never an error). */
static void test_insert_clamping(void **state) {
        static const struct {
                int64_t index;
                const char *after;
        } cases[] = {
                { 0, "X,a,b,c" }, { 1, "a,X,b,c" }, { 2, "a,b,X,c" }, { 3, "a,b,c,X" }, { 4, "a,b,c,X" },
                { 100, "a,b,c,X" }, { INT64_MAX, "a,b,c,X" },
                { -1, "a,b,X,c" }, { -2, "a,X,b,c" }, { -3, "X,a,b,c" }, { -4, "X,a,b,c" },
                { -100, "X,a,b,c" }, { INT64_MIN, "X,a,b,c" },
        };
        struct client *a = client_add(*state, "test-list");
        struct reply rep;

        declare(a, "l");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                fill(a, "l", "a,b,c");
                rep = call(a, WIRE_OP_LIST_INSERT, "nis", "l", cases[i].index, "X");
                assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 4);
                assert_list(a, "l", cases[i].after);
        }
        /* Into an empty list, anywhere. */
        fill(a, "l", "");
        rep = call(a, WIRE_OP_LIST_INSERT, "nis", "l", (int64_t) -5, "b");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 1);
        rep = call(a, WIRE_OP_LIST_INSERT, "nis", "l", (int64_t) 5, "c");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 2);
        rep = call(a, WIRE_OP_LIST_INSERT, "nis", "l", (int64_t) 0, "a");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 3);
        assert_list(a, "l", "a,b,c");
}

/* pop, one index per row, from [a, b, c, d] (Python's results). */
static void test_pop(void **state) {
        static const struct {
                int64_t index;
                const char *item;       /* NULL: IndexError */
                const char *after;
        } cases[] = {
                { -1, "d", "a,b,c" }, { 0, "a", "b,c,d" }, { 1, "b", "a,c,d" }, { 3, "d", "a,b,c" },
                { -2, "c", "a,b,d" }, { -4, "a", "b,c,d" },
                { 4, NULL, "a,b,c,d" }, { -5, NULL, "a,b,c,d" }, { INT64_MAX, NULL, "a,b,c,d" },
                { INT64_MIN, NULL, "a,b,c,d" },
        };
        struct client *a = client_add(*state, "test-list");
        struct reply rep;

        declare(a, "l");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                fill(a, "l", "a,b,c,d");
                rep = call(a, WIRE_OP_LIST_POP, "ni", "l", cases[i].index);
                if (cases[i].item)
                        check_bytes_at(&rep, cases[i].item, strlen(cases[i].item), __FILE__, __LINE__);
                else
                        check_status_at(&rep, WIRE_ERANGE, __FILE__, __LINE__);
                assert_list(a, "l", cases[i].after);
        }
        /* Popping everything, then the empty list. */
        fill(a, "l", "x,y");
        rep = call(a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) -1);
        check_bytes_at(&rep, "y", 1, __FILE__, __LINE__);
        rep = call(a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) -1);
        check_bytes_at(&rep, "x", 1, __FILE__, __LINE__);
        expect(WIRE_ERANGE, a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) -1);
        expect(WIRE_ERANGE, a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) 0);
        assert_int_equal(info_field(a, "l", "bytes"), 0);
}

static void test_remove_index(void **state) {
        struct client *a = client_add(*state, "test-list");
        struct reply rep;

        declare(a, "l");
        fill(a, "l", "a,b,a,,c,");
        rep = call(a, WIRE_OP_LIST_INDEX, "ns", "l", "a");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 0);
        rep = call(a, WIRE_OP_LIST_INDEX, "ns", "l", "c");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 4);
        rep = call(a, WIRE_OP_LIST_INDEX, "ns", "l", "");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 3);
        expect(WIRE_ENOENT, a, WIRE_OP_LIST_INDEX, "ns", "l", "z");
        expect(WIRE_ENOENT, a, WIRE_OP_LIST_INDEX, "ns", "l", "aa");

        /* remove takes the first equal item only. */
        expect_empty(a, WIRE_OP_LIST_REMOVE, "ns", "l", "a");
        assert_list(a, "l", "b,a,,c,");
        rep = call(a, WIRE_OP_LIST_INDEX, "ns", "l", "a");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 1);
        expect_empty(a, WIRE_OP_LIST_REMOVE, "ns", "l", "");
        assert_list(a, "l", "b,a,c,");
        expect_empty(a, WIRE_OP_LIST_REMOVE, "ns", "l", "");
        assert_list(a, "l", "b,a,c");
        expect(WIRE_ENOENT, a, WIRE_OP_LIST_REMOVE, "ns", "l", "");
        expect(WIRE_ENOENT, a, WIRE_OP_LIST_REMOVE, "ns", "l", "z");
        assert_list(a, "l", "b,a,c");
        assert_int_equal(info_field(a, "l", "removed"), 3);
}

/* slice, one (start, stop) per row, of ["0" .. "9"] (Python's l[start:stop] and slice.indices()). */
static void test_slice_clamping(void **state) {
        static const struct {
                int64_t start, stop;
                uint64_t resolved_stop;
                const char *items;
        } cases[] = {
                { 0, INT64_MAX, 10, "0,1,2,3,4,5,6,7,8,9" },
                { 0, 10, 10, "0,1,2,3,4,5,6,7,8,9" },
                { 0, 5, 5, "0,1,2,3,4" },
                { 2, 5, 5, "2,3,4" },
                { 5, 2, 5, "" },
                { -3, INT64_MAX, 10, "7,8,9" },
                { -3, -1, 9, "7,8" },
                { -100, 3, 3, "0,1,2" },
                { 3, 100, 10, "3,4,5,6,7,8,9" },
                { -100, -100, 0, "" },
                { 100, INT64_MAX, 10, "" },
                { INT64_MIN, INT64_MAX, 10, "0,1,2,3,4,5,6,7,8,9" },
                { INT64_MIN, INT64_MIN, 0, "" },
                { INT64_MAX, INT64_MAX, 10, "" },
                { 0, 0, 0, "" },
                { 9, 10, 10, "9" },
                { -1, INT64_MAX, 10, "9" },
                { -10, -9, 1, "0" },
                { -11, 1, 1, "0" },
                { 4, -4, 6, "4,5" },
                { 4, -7, 4, "" },
        };
        struct client *a = client_add(*state, "test-list");
        char got[256];

        declare(a, "l");
        fill(a, "l", "0,1,2,3,4,5,6,7,8,9");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                uint64_t next = 99, stop = 99;

                (void) slice_at(a, "l", cases[i].start, cases[i].stop, &next, &stop, got, sizeof(got), __FILE__,
                                __LINE__);
                if (strcmp(got, cases[i].items) != 0 || stop != cases[i].resolved_stop || next != stop)
                        fail_msg("l[%lld:%lld]: [%s] next %llu stop %llu, expected [%s] stop %llu",
                                 (long long) cases[i].start, (long long) cases[i].stop, got,
                                 (unsigned long long) next, (unsigned long long) stop, cases[i].items,
                                 (unsigned long long) cases[i].resolved_stop);
        }
        /* The empty list. */
        fill(a, "l", "");
        {
                uint64_t next = 99, stop = 99;

                assert_int_equal(slice_at(a, "l", -5, 5, &next, &stop, got, sizeof(got), __FILE__, __LINE__), 0);
                assert_int_equal(next, 0);
                assert_int_equal(stop, 0);
        }
}

/* A slice larger than half a frame comes in several replies, continued at the absolute next index. */
static void test_slice_frames(void **state) {
        struct client *a = client_add(*state, "test-list");
        char item[101], got[8192], all[8192] = "";
        uint64_t next = 0, stop = 0;
        int64_t start = -30;
        unsigned replies = 0;
        size_t at = 0;

        declare(a, "l");
        for (int i = 0; i < 40; i++) {
                snprintf(item, sizeof(item), "%02d%098d", i, 0);
                append(a, "l", item, (uint64_t) i + 1);
        }
        /* Half of 1024: 20 bytes of header fields, 104 per item: four items per reply. */
        mpxd.max_frame = 1024;
        do {
                uint32_t n = slice_at(a, "l", start, replies ? (int64_t) stop : -2, &next, &stop, got, sizeof(got),
                                      __FILE__, __LINE__);

                assert_int_equal(stop, 38);
                assert_true(n == 4 || (n == 2 && next == stop));
                assert_int_equal(next, (replies ? (uint64_t) start : 10) + n);
                at += (size_t) snprintf(all + at, sizeof(all) - at, "%s%s", at ? "," : "", got);
                start = (int64_t) next;
                replies++;
        } while (next < stop);
        assert_int_equal(replies, 7);
        /* Items 10 to 37 in order. */
        for (int i = 10; i < 38; i++) {
                char *p = all + (size_t) (i - 10) * 101;

                assert_true(p[0] == '0' + i / 10 && p[1] == '0' + i % 10);
        }
        /* One item over the half frame still comes, alone. */
        mpxd.max_frame = 128;
        assert_int_equal(slice_at(a, "l", 0, INT64_MAX, &next, &stop, got, sizeof(got), __FILE__, __LINE__), 1);
        assert_int_equal(next, 1);
        assert_int_equal(stop, 40);
        assert_true(info_field(a, "l", "slices") >= 8);
}

static void test_clear_and_large(void **state) {
        enum { N = 100000 };
        struct client *a = client_add(*state, "test-list");
        struct reply rep;
        uint64_t next = 0, stop = 0, len = 0;
        char got[64];

        declare(a, "l");
        rep = call(a, WIRE_OP_LIST_CLEAR, "n", "l");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 0);

        /* 100000 items in batches of 1000; then front pops and back pops. */
        for (int i = 0; i < N; i += 1000) {
                struct wire_buf body;

                wire_buf_init(&body);
                assert_int_equal(wire_put_name(&body, "l", 1), 0);
                assert_int_equal(wire_put_u32(&body, 1000), 0);
                for (int j = 0; j < 1000; j++) {
                        char s[16];
                        int n = snprintf(s, sizeof(s), "%d", i + j);

                        assert_int_equal(wire_put_bytes(&body, s, (uint32_t) n), 0);
                }
                send_body(a, 1, WIRE_OP_LIST_EXTEND, body.data, body.len);
                wire_buf_done(&body);
                take_reply_at(a, &rep, __FILE__, __LINE__);
                len = read_u64_at(&rep, __FILE__, __LINE__);
        }
        assert_int_equal(len, N);
        rep = call(a, WIRE_OP_LIST_INDEX, "ns", "l", "99999");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), N - 1);
        (void) slice_at(a, "l", -3, INT64_MAX, &next, &stop, got, sizeof(got), __FILE__, __LINE__);
        assert_string_equal(got, "99997,99998,99999");
        for (int i = 0; i < 1000; i++) {
                char s[16];

                rep = call(a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) 0);
                snprintf(s, sizeof(s), "%d", i);
                check_bytes_at(&rep, s, strlen(s), __FILE__, __LINE__);
        }
        for (int i = 0; i < N - 2000; i++) {
                rep = call(a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) -1);
                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        }
        assert_int_equal(list_len(a, "l"), 1000);
        rep = call(a, WIRE_OP_LIST_GET, "ni", "l", (int64_t) -1);
        check_bytes_at(&rep, "1999", 4, __FILE__, __LINE__);
        rep = call(a, WIRE_OP_LIST_CLEAR, "n", "l");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 1000);
        assert_int_equal(list_len(a, "l"), 0);
        assert_int_equal(info_field(a, "l", "bytes"), 0);
        append(a, "l", "again", 1);
        assert_list(a, "l", "again");
}

static void test_max_message(void **state) {
        struct client *a = client_add(*state, "test-list");

        declare(a, "l");
        mpxd.max_message = 4;
        append(a, "l", "1234", 1);
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_APPEND, "ns", "l", "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_EXTEND, "nwss", "l", 2u, "1", "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_SET, "nis", "l", (int64_t) 0, "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_INSERT, "nis", "l", (int64_t) 0, "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_REMOVE, "ns", "l", "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_LIST_INDEX, "ns", "l", "12345");
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_list(a, "l", "1234");
}

static void test_info_and_delete(void **state) {
        struct client *a = client_add(*state, "test-list");

        declare(a, "l");
        fill(a, "l", "a,bb");
        expect(WIRE_OK, a, WIRE_OP_LIST_GET, "ni", "l", (int64_t) 0);
        assert_int_equal(info_field(a, "l", "size"), 2);
        assert_int_equal(info_field(a, "l", "bytes"), 3 + 2 * list_item_overhead);
        assert_int_equal(info_field(a, "l", "gets"), 1);
        assert_true(info_field(a, "l", "age_ms") >= 0);
        assert_true(info_field(a, "l", "idle_ms") >= 0);
        expect_empty(a, WIRE_OP_DELETE, "n", "l");
        expect(WIRE_ENOENT, a, WIRE_OP_LIST_LEN, "n", "l");
        declare(a, "l");
        assert_list(a, "l", "");
        append(a, "l", "left behind", 1);        /* freed by mpxd_done */
}

/* Every list opcode with a well-formed body (s "k", i -1, w 1). */
static const struct op_body list_ops[] = {
        { WIRE_OP_LIST_DECLARE, "" },
        { WIRE_OP_LIST_APPEND, "s" },
        { WIRE_OP_LIST_EXTEND, "ws" },
        { WIRE_OP_LIST_GET, "i" },
        { WIRE_OP_LIST_SET, "is" },
        { WIRE_OP_LIST_INSERT, "is" },
        { WIRE_OP_LIST_POP, "i" },
        { WIRE_OP_LIST_REMOVE, "s" },
        { WIRE_OP_LIST_INDEX, "s" },
        { WIRE_OP_LIST_LEN, "" },
        { WIRE_OP_LIST_SLICE, "ii" },
        { WIRE_OP_LIST_CLEAR, "" },
};

static void test_malformed_bodies(void **state) {
        struct client *a = client_add(*state, "test-list");

        declare(a, "l");
        append(a, "l", "k", 1);
        check_malformed_bodies(a, list_ops, "l");
        expect(WIRE_EPROTO, a, WIRE_OP_LIST_EXTEND, "nws", "l", 2u, "k");
        expect(WIRE_EPROTO, a, WIRE_OP_LIST_APPEND, "nr", "l", "\x10\0\0\0k", (size_t) 5);
        assert_int_equal(mpxd.n_objects, 1);
        assert_list(a, "l", "k");
        assert_int_equal(client_state(a), CLIENT_READY);
}

static void test_no_such_list_and_wrong_type(void **state) {
        struct client *a = client_add(*state, "test-list");

        expect(WIRE_OK, a, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "n", "d");
        check_missing_and_wrong_type(a, list_ops, WIRE_OP_LIST_DECLARE, "q", "d");
        assert_int_equal(mpxd.n_objects, 2);
}

static void test_before_hello(void **state) {
        struct client *a = client_add(*state, NULL);
        struct wire_buf b;

        build_valid_body(&b, "l", "");
        expect_body_at(a, WIRE_OP_LIST_DECLARE, b.data, b.len, WIRE_EPROTO, __FILE__, __LINE__);
        wire_buf_done(&b);
        assert_int_equal(mpxd.n_objects, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_declare),
                unit_client_test(test_append_extend),
                unit_client_test(test_get_set_indexes),
                unit_client_test(test_insert_clamping),
                unit_client_test(test_pop),
                unit_client_test(test_remove_index),
                unit_client_test(test_slice_clamping),
                unit_client_test(test_slice_frames),
                unit_client_test(test_clear_and_large),
                unit_client_test(test_max_message),
                unit_client_test(test_info_and_delete),
                unit_client_test(test_malformed_bodies),
                unit_client_test(test_no_such_list_and_wrong_type),
                unit_client_test(test_before_hello),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
