/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's shared dicts (daemon/dict.c), without any socket:
 * socketless clients (client_new(-1)) are fed request frames with
 * client_feed() and their replies are parsed back out of their output
 * buffers, one frame at a time.
 *
 * Covered: declare and type conflicts, set/get/del/contains/len with binary
 * and empty keys and values, Python's insertion order (an overwrite keeps
 * the key's place, a delete and set moves it to the end), pop, setdefault,
 * update (atomic, duplicate keys, existing keys), clear, INCR's parsing and
 * overflow edge cases, CAS in all four expect/set combinations, DICT_ITEMS
 * paging (page caps by count and by size, keys/values/items, cursors whose
 * entry was deleted, keys added and removed between pages, a large dict),
 * max_message, INFO fields, DELETE, and every protocol error a client can
 * cause: each opcode's body truncated at every byte or with a trailing byte
 * (EPROTO, whether or not the dict exists), no such dict (ENOENT), another
 * type (EPROTOTYPE), no HELLO. Allocation failures are not injected here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "dict.h"
#include "mpxd.h"
#include "user.h"
#include "unit-client.h"

/* ---- dict helpers ---- */

static void declare_at(struct client *c, const char *name, uint8_t created, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_DICT_DECLARE, "n", name);

        check_at(read_u8_at(&rep, file, line) == created, file, line, "created is not %u", created);
}

#define declare(c, name) declare_at(c, name, 1, __FILE__, __LINE__)

static void set_at(struct client *c, const char *name, const char *key, const char *value, const char *file,
                   int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_DICT_SET, "nss", name, key, value);

        check_status_at(&rep, WIRE_OK, file, line);
        check_at(rep.h.body_len == 0, file, line, "SET reply with a body");
}

#define set(c, name, key, value) set_at(c, name, key, value, __FILE__, __LINE__)

/* d[key] must be value. */
static void get_is_at(struct client *c, const char *name, const char *key, const char *value, const char *file,
                      int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_DICT_GET, "ns", name, key);

        check_bytes_at(&rep, value, strlen(value), file, line);
}

#define get_is(c, name, key, value) get_is_at(c, name, key, value, __FILE__, __LINE__)

static uint64_t len_at(struct client *c, const char *name, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_DICT_LEN, "n", name);

        return read_u64_at(&rep, file, line);
}

#define dict_len(c, name) len_at(c, name, __FILE__, __LINE__)

/* One page of DICT_ITEMS, copied out as strings joined by ',' ("k=v" for items). */
struct page {
        uint64_t next;
        uint32_t n;
        char text[8192];
};

static void items_at(struct client *c, const char *name, uint64_t cursor, uint32_t max, uint8_t what,
                     struct page *ret, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_DICT_ITEMS, "nqwb", name, cursor, max, (unsigned) what);
        size_t at = 0;

        check_status_at(&rep, WIRE_OK, file, line);
        check_at(wire_get_u64(&rep.r, &ret->next) && wire_get_u32(&rep.r, &ret->n), file, line, "bad page");
        ret->text[0] = '\0';
        for (uint32_t i = 0; i < ret->n; i++) {
                const void *k = NULL, *v = NULL;
                uint32_t ks = 0, vs = 0;
                int len;

                if (what & WIRE_DICT_KEYS)
                        check_at(wire_get_bytes(&rep.r, &k, &ks), file, line, "bad key");
                if (what & WIRE_DICT_VALUES)
                        check_at(wire_get_bytes(&rep.r, &v, &vs), file, line, "bad value");
                if (what == (WIRE_DICT_KEYS | WIRE_DICT_VALUES))
                        len = snprintf(ret->text + at, sizeof(ret->text) - at, "%s%.*s=%.*s", i ? "," : "",
                                       (int) ks, (const char *) k, (int) vs, (const char *) v);
                else if (what & WIRE_DICT_KEYS)
                        len = snprintf(ret->text + at, sizeof(ret->text) - at, "%s%.*s", i ? "," : "", (int) ks,
                                       (const char *) k);
                else
                        len = snprintf(ret->text + at, sizeof(ret->text) - at, "%s%.*s", i ? "," : "", (int) vs,
                                       (const char *) v);
                check_at(len > 0 && (size_t) len < sizeof(ret->text) - at, file, line, "page text too long");
                at += (size_t) len;
        }
        check_at(wire_reader_done(&rep.r), file, line, "stray bytes after the page");
}

#define items(c, name, cursor, max, what, ret) items_at(c, name, cursor, max, what, ret, __FILE__, __LINE__)

/* The whole dict walked with pages of max, as "k=v,..." in *out (size out_size). */
static void walk_at(struct client *c, const char *name, uint32_t max, char *out, size_t out_size,
                    const char *file, int line) {
        struct page p;
        uint64_t cursor = 0;
        size_t at = 0;

        out[0] = '\0';
        do {
                items_at(c, name, cursor, max, WIRE_DICT_KEYS | WIRE_DICT_VALUES, &p, file, line);
                check_at(p.n > 0 || p.next == 0, file, line, "an empty page that is not the last");
                if (p.n > 0) {
                        int len = snprintf(out + at, out_size - at, "%s%s", at ? "," : "", p.text);

                        check_at(len >= 0 && (size_t) len < out_size - at, file, line, "walk too long");
                        at += (size_t) len;
                }
                cursor = p.next;
        } while (cursor != 0);
}

/* The whole dict, walked page by page, must read want. */
#define assert_walk(c, name, max, want)                                                 \
        do {                                                                            \
                char w_[8192];                                                          \
                walk_at(c, name, max, w_, sizeof(w_), __FILE__, __LINE__);              \
                assert_string_equal(w_, want);                                          \
        } while (0)

#define info_field(c, name, key) info_field_at(c, name, WIRE_TYPE_DICT, key, __FILE__, __LINE__)

/* ---- tests ---- */

static void test_declare(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        declare_at(a, "d", 0, __FILE__, __LINE__);
        assert_int_equal(dict_len(a, "d"), 0);

        /* Another type's name, and the other way round. */
        expect(WIRE_OK, a, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        expect(WIRE_EPROTOTYPE, a, WIRE_OP_DICT_DECLARE, "n", "q");
        expect(WIRE_EPROTOTYPE, a, WIRE_OP_QUEUE_DECLARE, "nqw", "d", (uint64_t) 0, 0u);
        expect(WIRE_EPROTOTYPE, a, WIRE_OP_LIST_DECLARE, "n", "d");

        /* From inside the daemon, as the configuration would. */
        assert_int_equal(dict_declare("cfg", 3), 1);
        assert_int_equal(dict_declare("cfg", 3), 0);
        assert_int_equal(dict_declare("q", 1), -EPROTOTYPE);
        assert_int_equal(dict_declare("bad name", 8), -EINVAL);
        assert_int_equal(dict_declare("", 0), -EINVAL);
        assert_int_equal(mpxd.n_objects, 3);
}

static void test_set_get_del(void **state) {
        static const char bin_key[] = { 'a', 0, 'b', (char) 0xff };
        static const char bin_value[] = { 0, 0, 1 };
        struct client *a = client_add(*state, "test-dict");
        struct reply rep;

        declare(a, "d");
        set(a, "d", "x", "1");
        set(a, "d", "y", "2");
        get_is(a, "d", "x", "1");
        get_is(a, "d", "y", "2");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "z");
        assert_int_equal(dict_len(a, "d"), 2);

        /* Overwrite. */
        set(a, "d", "x", "one");
        get_is(a, "d", "x", "one");
        assert_int_equal(dict_len(a, "d"), 2);

        /* Empty keys and values are keys and values too. */
        set(a, "d", "", "empty key");
        set(a, "d", "empty value", "");
        get_is(a, "d", "", "empty key");
        get_is(a, "d", "empty value", "");

        /* Binary keys and values, NUL bytes included, are exact. */
        expect_empty(a, WIRE_OP_DICT_SET, "nxx", "d", bin_key, sizeof(bin_key), bin_value, sizeof(bin_value));
        rep = call(a, WIRE_OP_DICT_GET, "nx", "d", bin_key, sizeof(bin_key));
        check_bytes_at(&rep, bin_value, sizeof(bin_value), __FILE__, __LINE__);
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "nx", "d", bin_key, (size_t) 1);
        rep = call(a, WIRE_OP_DICT_CONTAINS, "nx", "d", bin_key, sizeof(bin_key));
        assert_int_equal(read_u8_at(&rep, __FILE__, __LINE__), 1);
        rep = call(a, WIRE_OP_DICT_CONTAINS, "nx", "d", bin_key, (size_t) 2);
        assert_int_equal(read_u8_at(&rep, __FILE__, __LINE__), 0);
        assert_int_equal(dict_len(a, "d"), 5);

        /* del: once, then ENOENT. */
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "y");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_DEL, "ns", "d", "y");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "y");
        rep = call(a, WIRE_OP_DICT_CONTAINS, "ns", "d", "y");
        assert_int_equal(read_u8_at(&rep, __FILE__, __LINE__), 0);
        assert_int_equal(dict_len(a, "d"), 4);

        /* Another client sees the same dict. */
        struct client *b = client_add(*state, "test-dict");
        get_is(b, "d", "x", "one");
        assert_int_equal(info_field(b, "d", "size"), 4);
}

static void test_insertion_order(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        set(a, "d", "a", "1");
        set(a, "d", "b", "2");
        set(a, "d", "c", "3");
        assert_walk(a, "d", 0, "a=1,b=2,c=3");

        /* An overwritten value keeps its key's place, as in Python. */
        set(a, "d", "a", "10");
        assert_walk(a, "d", 0, "a=10,b=2,c=3");

        /* A key deleted and set again goes to the end. */
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "a");
        set(a, "d", "a", "100");
        assert_walk(a, "d", 0, "b=2,c=3,a=100");

        /* Keys only, values only. */
        struct page p;
        items(a, "d", 0, 0, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "b,c,a");
        assert_int_equal(p.next, 0);
        items(a, "d", 0, 0, WIRE_DICT_VALUES, &p);
        assert_string_equal(p.text, "2,3,100");

        /* what must ask for something, and nothing unknown. */
        expect(WIRE_EINVAL, a, WIRE_OP_DICT_ITEMS, "nqwb", "d", (uint64_t) 0, 0u, 0u);
        expect(WIRE_EINVAL, a, WIRE_OP_DICT_ITEMS, "nqwb", "d", (uint64_t) 0, 0u, 4u);
        expect(WIRE_EINVAL, a, WIRE_OP_DICT_ITEMS, "nqwb", "d", (uint64_t) 0, 0u, 7u);

        /* An empty dict is one empty, final page. */
        declare(a, "e");
        items(a, "e", 0, 0, WIRE_DICT_KEYS | WIRE_DICT_VALUES, &p);
        assert_int_equal(p.n, 0);
        assert_int_equal(p.next, 0);
}

static void test_items_paging(void **state) {
        struct client *a = client_add(*state, "test-dict");
        struct page p;
        uint64_t c1, c2;

        declare(a, "d");
        for (int i = 1; i <= 10; i++) {
                char k[8];

                snprintf(k, sizeof(k), "%d", i);
                set(a, "d", k, k);
        }
        assert_walk(a, "d", 3, "1=1,2=2,3=3,4=4,5=5,6=6,7=7,8=8,9=9,10=10");
        assert_walk(a, "d", 10, "1=1,2=2,3=3,4=4,5=5,6=6,7=7,8=8,9=9,10=10");
        assert_walk(a, "d", 1, "1=1,2=2,3=3,4=4,5=5,6=6,7=7,8=8,9=9,10=10");

        /* A page that ends exactly at the end is the last one. */
        items(a, "d", 0, 10, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 10);
        assert_int_equal(p.next, 0);
        items(a, "d", 0, 9, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 9);
        assert_true(p.next != 0);

        /* A cursor whose entry is gone: the walk goes on after it (scanning forward). */
        items(a, "d", 0, 2, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "1,2");
        c1 = p.next;
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "2");
        items(a, "d", c1, 2, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "3,4");

        /* ... and when every entry up to it is gone too. */
        c2 = p.next;
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "1");
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "3");
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "4");
        items(a, "d", c2, 2, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "5,6");

        /* Near the end, the scan goes backwards: same answer. */
        items(a, "d", p.next, 3, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "7,8,9");
        c1 = p.next;
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "9");
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "8");
        items(a, "d", c1, 3, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "10");
        assert_int_equal(p.next, 0);

        /* A key added during the walk, after the cursor, is seen; a cursor past the end gives nothing. */
        items(a, "d", 0, 1, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "5");
        c1 = p.next;
        set(a, "d", "new", "n");
        items(a, "d", c1, 0, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "6,7,10,new");
        items(a, "d", UINT64_MAX, 0, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 0);
        assert_int_equal(p.next, 0);

        /* The last entry deleted under the cursor: the walk is over. */
        items(a, "d", 0, 5, WIRE_DICT_KEYS, &p);
        assert_string_equal(p.text, "5,6,7,10,new");
        assert_int_equal(p.next, 0);
        items(a, "d", 0, 4, WIRE_DICT_KEYS, &p);
        c1 = p.next;
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "10");
        expect_empty(a, WIRE_OP_DICT_DEL, "ns", "d", "new");
        items(a, "d", c1, 4, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 0);
        assert_int_equal(p.next, 0);
        assert_true(info_field(a, "d", "pages") > 0);
}

static void test_items_page_limits(void **state) {
        struct client *a = client_add(*state, "test-dict");
        char value[201];
        struct page p;
        uint64_t cursor = 0, total = 0;

        declare(a, "d");
        /* 2500 keys: a page holds at most 1000 entries, whatever max says. */
        for (int i = 0; i < 2500; i++) {
                char k[16];

                snprintf(k, sizeof(k), "k%04d", i);
                expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", k, "v");
        }
        items(a, "d", 0, 0, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 1000);
        items(a, "d", 0, 5000, WIRE_DICT_KEYS, &p);
        assert_int_equal(p.n, 1000);
        do {
                struct reply rep = call(a, WIRE_OP_DICT_ITEMS, "nqwb", "d", cursor, 0u, (unsigned) WIRE_DICT_KEYS);
                uint32_t n = 0;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u64(&rep.r, &cursor) && wire_get_u32(&rep.r, &n));
                total += n;
        } while (cursor);
        assert_int_equal(total, 2500);
        expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");

        /* A page stops before half of max_frame, but always holds one entry. */
        mpxd.max_frame = 2048;
        memset(value, 'v', 200);
        value[200] = '\0';
        for (int i = 0; i < 20; i++) {
                char k[8];

                snprintf(k, sizeof(k), "%02d", i);
                expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", k, value);
        }
        cursor = 0;
        total = 0;
        do {
                struct reply rep = call(a, WIRE_OP_DICT_ITEMS, "nqwb", "d", cursor, 0u,
                                        (unsigned) (WIRE_DICT_KEYS | WIRE_DICT_VALUES));
                uint32_t n = 0;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(rep.h.body_len <= 1024);
                assert_true(wire_get_u64(&rep.r, &cursor) && wire_get_u32(&rep.r, &n));
                /* 12 + n * (4 + 2 + 4 + 200) <= 1024: four per page. */
                assert_true(n == 4);
                total += n;
        } while (cursor);
        assert_int_equal(total, 20);

        /* One entry larger than the half frame still comes, alone. */
        mpxd.max_frame = 256;
        items(a, "d", 0, 0, WIRE_DICT_VALUES, &p);
        assert_int_equal(p.n, 1);
        assert_true(p.next != 0);
}

/* Keys stable during the walk are seen exactly once while others come and go between pages. */
static void test_items_concurrent_changes(void **state) {
        enum { N = 300 };
        struct client *a = client_add(*state, "test-dict");
        struct client *b = client_add(*state, "test-dict");
        unsigned seen[N] = { 0 };
        unsigned added = 0, cursor_deleted = 0, rounds = 0;
        uint64_t cursor = 0;

        declare(a, "d");
        for (int i = 0; i < N; i++) {
                char k[16];

                snprintf(k, sizeof(k), "k%03d", i);
                expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", k, "v");
        }
        /* Even keys are stable; b deletes, re-adds and overwrites odd ones, and adds new keys. */
        do {
                struct reply rep = call(a, WIRE_OP_DICT_ITEMS, "nqwb", "d", cursor, 7u, (unsigned) WIRE_DICT_KEYS);
                char last[16] = "";
                uint32_t n = 0;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u64(&rep.r, &cursor) && wire_get_u32(&rep.r, &n));
                assert_true(n > 0 || cursor == 0);
                for (uint32_t i = 0; i < n; i++) {
                        const void *k;
                        uint32_t ks;
                        int idx;

                        assert_true(wire_get_bytes(&rep.r, &k, &ks));
                        assert_true(ks < sizeof(last));
                        memcpy(last, k, ks);
                        last[ks] = '\0';
                        if (last[0] == 'k' && sscanf(last + 1, "%d", &idx) == 1 && idx >= 0 && idx < N)
                                seen[idx]++;
                }
                assert_true(wire_reader_done(&rep.r));
                rounds++;

                /* The entry under the cursor goes, when it may. */
                if (last[0] == 'k' && (atoi(last + 1) % 2) == 1) {
                        expect_empty(b, WIRE_OP_DICT_DEL, "ns", "d", last);
                        cursor_deleted++;
                }
                /* Odd keys ahead and behind go, come back at the end, get new values. */
                for (int j = 0; j < 3; j++) {
                        char k[16];
                        int idx = (int) ((rounds * 37 + (unsigned) j * 101) % N) | 1;

                        snprintf(k, sizeof(k), "k%03d", idx);
                        if (j == 0) {
                                struct reply r2 = call(b, WIRE_OP_DICT_DEL, "ns", "d", k);
                                assert_true(r2.h.status == WIRE_OK || r2.h.status == WIRE_ENOENT);
                        } else
                                expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", k, j == 1 ? "again" : "changed");
                }
                /* Stable keys get new values: they keep their place. */
                {
                        char k[16];

                        snprintf(k, sizeof(k), "k%03d", (int) ((rounds * 11) % N) & ~1);
                        expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", k, "overwritten");
                }
                {
                        char k[16];

                        snprintf(k, sizeof(k), "new%u", added++);
                        expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", k, "n");
                }
        } while (cursor != 0);

        for (int i = 0; i < N; i += 2)
                if (seen[i] != 1)
                        fail_msg("stable key k%03d seen %u times", i, seen[i]);
        /* An odd key is a new entry each time it comes back: at most once per life. */
        for (int i = 1; i < N; i += 2)
                assert_true(seen[i] <= rounds);
        assert_true(cursor_deleted > 5);
        print_message("walk of %u pages, %u cursor entries deleted under it\n", rounds, cursor_deleted);
}

static void test_large_dict(void **state) {
        enum { N = 50000 };
        struct client *a = client_add(*state, "test-dict");
        uint64_t cursor = 0, total = 0;
        unsigned pages = 0;

        declare(a, "big");
        for (int i = 0; i < N; i += 100) {
                struct wire_buf body;
                char keys[100][16];

                /* UPDATE in batches of 100. */
                wire_buf_init(&body);
                assert_int_equal(wire_put_name(&body, "big", 3), 0);
                assert_int_equal(wire_put_u32(&body, 100), 0);
                for (int j = 0; j < 100; j++) {
                        int len = snprintf(keys[j], sizeof(keys[j]), "key%06d", i + j);

                        assert_int_equal(wire_put_bytes(&body, keys[j], (uint32_t) len), 0);
                        assert_int_equal(wire_put_bytes(&body, keys[j] + 3, (uint32_t) len - 3), 0);
                }
                send_body(a, 1, WIRE_OP_DICT_UPDATE, body.data, body.len);
                wire_buf_done(&body);
                {
                        struct reply rep;

                        take_reply_at(a, &rep, __FILE__, __LINE__);
                        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                }
        }
        assert_int_equal(dict_len(a, "big"), N);
        /* Delete every third key, then walk in order with the default page. */
        for (int i = 0; i < N; i += 3) {
                char k[16];

                snprintf(k, sizeof(k), "key%06d", i);
                expect_empty(a, WIRE_OP_DICT_DEL, "ns", "big", k);
        }
        do {
                struct reply rep = call(a, WIRE_OP_DICT_ITEMS, "nqwb", "big", cursor, 0u, (unsigned) WIRE_DICT_KEYS);
                uint32_t n = 0;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u64(&rep.r, &cursor) && wire_get_u32(&rep.r, &n));
                assert_true(n <= 1000);
                for (uint32_t i = 0; i < n; i++) {
                        const void *k;
                        uint32_t ks;
                        char want[16];
                        uint64_t idx = total + total / 2 + 1;  /* the total-th key not divisible by 3 */

                        snprintf(want, sizeof(want), "key%06d", (int) idx);
                        assert_true(wire_get_bytes(&rep.r, &k, &ks));
                        assert_true(ks == strlen(want) && memcmp(k, want, ks) == 0);
                        total++;
                }
                pages++;
        } while (cursor);
        assert_int_equal(total, N - (N + 2) / 3);
        assert_int_equal(pages, (total + 999) / 1000);
}

static void test_pop_setdefault(void **state) {
        struct client *a = client_add(*state, "test-dict");
        struct reply rep;

        declare(a, "d");
        set(a, "d", "a", "1");
        set(a, "d", "b", "2");

        rep = call(a, WIRE_OP_DICT_POP, "ns", "d", "a");
        check_bytes_at(&rep, "1", 1, __FILE__, __LINE__);
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_POP, "ns", "d", "a");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "a");
        assert_int_equal(dict_len(a, "d"), 1);

        /* setdefault: the present value stays; an absent key gets the default, at the end. */
        rep = call(a, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "b", "default");
        check_bytes_at(&rep, "2", 1, __FILE__, __LINE__);
        rep = call(a, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "c", "3");
        check_bytes_at(&rep, "3", 1, __FILE__, __LINE__);
        rep = call(a, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "c", "other");
        check_bytes_at(&rep, "3", 1, __FILE__, __LINE__);
        rep = call(a, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "e", "");
        check_bytes_at(&rep, "", 0, __FILE__, __LINE__);
        assert_walk(a, "d", 0, "b=2,c=3,e=");
}

static void test_update(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        set(a, "d", "a", "1");
        set(a, "d", "b", "2");

        /* Existing keys keep their place; new ones follow in the order given; the last of twins wins. */
        expect_empty(a, WIRE_OP_DICT_UPDATE, "nwssssssss", "d", 4u, "c", "3", "a", "10", "c", "30", "d", "4");
        assert_walk(a, "d", 0, "a=10,b=2,c=30,d=4");
        assert_int_equal(info_field(a, "d", "size"), 4);
        assert_int_equal(info_field(a, "d", "bytes"), 4 + 2 + 1 + 2 + 1 + 4 * dict_entry_overhead);

        /* Nothing at all is an update too. */
        expect_empty(a, WIRE_OP_DICT_UPDATE, "nw", "d", 0u);
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_UPDATE, "nw", "missing", 0u);

        /* All or nothing: one value too large and no pair is stored. */
        mpxd.max_message = 4;
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_UPDATE, "nwssss", "d", 2u, "z", "1", "b", "12345");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_UPDATE, "nwssss", "d", 2u, "z", "1", "12345", "b");
        assert_walk(a, "d", 0, "a=10,b=2,c=30,d=4");
}

static void test_clear(void **state) {
        struct client *a = client_add(*state, "test-dict");
        struct reply rep;

        declare(a, "d");
        rep = call(a, WIRE_OP_DICT_CLEAR, "n", "d");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 0);
        set(a, "d", "a", "1");
        set(a, "d", "b", "2");
        rep = call(a, WIRE_OP_DICT_CLEAR, "n", "d");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 2);
        assert_int_equal(dict_len(a, "d"), 0);
        assert_int_equal(info_field(a, "d", "bytes"), 0);
        assert_walk(a, "d", 0, "");
        set(a, "d", "b", "3");
        assert_walk(a, "d", 0, "b=3");
}

/* INCR, one case per row: what the key holds (NULL: absent), the delta, and the outcome. */
static void test_incr(void **state) {
        static const struct {
                const char *before;     /* NULL: absent */
                size_t before_len;      /* 0: strlen(before) */
                int64_t delta;
                uint16_t status;
                int64_t result;
                const char *after;      /* the stored text afterwards (NULL: still absent) */
        } cases[] = {
                { NULL, 0, 5, WIRE_OK, 5, "5" },
                { NULL, 0, 0, WIRE_OK, 0, "0" },
                { NULL, 0, -7, WIRE_OK, -7, "-7" },
                { "10", 0, -3, WIRE_OK, 7, "7" },
                { "-5", 0, 5, WIRE_OK, 0, "0" },
                { "0", 0, INT64_MIN, WIRE_OK, INT64_MIN, "-9223372036854775808" },
                { "007", 0, 1, WIRE_OK, 8, "8" },
                { "-0", 0, 1, WIRE_OK, 1, "1" },
                { "9223372036854775806", 0, 1, WIRE_OK, INT64_MAX, "9223372036854775807" },
                { "9223372036854775807", 0, 0, WIRE_OK, INT64_MAX, "9223372036854775807" },
                { "9223372036854775807", 0, 1, WIRE_ERANGE, 0, "9223372036854775807" },
                { "-9223372036854775808", 0, -1, WIRE_ERANGE, 0, "-9223372036854775808" },
                { "-9223372036854775808", 0, 0, WIRE_OK, INT64_MIN, "-9223372036854775808" },
                { "-9223372036854775807", 0, INT64_MIN, WIRE_ERANGE, 0, "-9223372036854775807" },
                { "1", 0, INT64_MAX, WIRE_ERANGE, 0, "1" },
                { "9223372036854775808", 0, 0, WIRE_ERANGE, 0, "9223372036854775808" },
                { "-9223372036854775809", 0, 0, WIRE_ERANGE, 0, "-9223372036854775809" },
                { "99999999999999999999999", 0, -1, WIRE_ERANGE, 0, "99999999999999999999999" },
                { "", 0, 1, WIRE_EINVAL, 0, "" },
                { "-", 0, 1, WIRE_EINVAL, 0, "-" },
                { "+5", 0, 1, WIRE_EINVAL, 0, "+5" },
                { " 5", 0, 1, WIRE_EINVAL, 0, " 5" },
                { "5 ", 0, 1, WIRE_EINVAL, 0, "5 " },
                { "5\n", 0, 1, WIRE_EINVAL, 0, "5\n" },
                { "--5", 0, 1, WIRE_EINVAL, 0, "--5" },
                { "1e3", 0, 1, WIRE_EINVAL, 0, "1e3" },
                { "0x10", 0, 1, WIRE_EINVAL, 0, "0x10" },
                { "1.5", 0, 1, WIRE_EINVAL, 0, "1.5" },
                { "abc", 0, 1, WIRE_EINVAL, 0, "abc" },
                { "5\0", 2, 1, WIRE_EINVAL, 0, NULL },
        };
        struct client *a = client_add(*state, "test-dict");
        int64_t incrs;

        declare(a, "d");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const char *key = "counter";
                struct reply rep;

                expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
                if (cases[i].before) {
                        size_t len = cases[i].before_len ? cases[i].before_len : strlen(cases[i].before);

                        expect_empty(a, WIRE_OP_DICT_SET, "nsx", "d", key, cases[i].before, len);
                }
                rep = call(a, WIRE_OP_DICT_INCR, "nsi", "d", key, cases[i].delta);
                if (cases[i].status != WIRE_OK)
                        check_status_at(&rep, cases[i].status, __FILE__, __LINE__);
                else
                        assert_int_equal(read_i64_at(&rep, __FILE__, __LINE__), cases[i].result);
                if (cases[i].after)
                        get_is(a, "d", key, cases[i].after);
                assert_int_equal(dict_len(a, "d"), 1);
        }

        /* Many increments add up; another key keeps its place when incremented. */
        expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
        set(a, "d", "n", "0");
        set(a, "d", "z", "z");
        incrs = info_field(a, "d", "incrs");
        for (int i = 0; i < 1000; i++)
                expect(WIRE_OK, a, WIRE_OP_DICT_INCR, "nsi", "d", "n", (int64_t) 3);
        get_is(a, "d", "n", "3000");
        assert_walk(a, "d", 0, "n=3000,z=z");
        assert_int_equal(info_field(a, "d", "incrs"), incrs + 1000);
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_INCR, "nsi", "missing", "n", (int64_t) 1);
}

/* CAS, one case per row. */
static void test_cas(void **state) {
        static const struct {
                const char *before;     /* NULL: absent */
                uint8_t expect_present;
                const char *expected;
                uint8_t set_present;
                const char *new_value;
                uint16_t status;
                uint8_t swapped;
                const char *after;      /* NULL: absent afterwards */
        } cases[] = {
                /* expect a value, set a value */
                { "a", 1, "a", 1, "b", WIRE_OK, 1, "b" },
                { "x", 1, "a", 1, "b", WIRE_OK, 0, "x" },
                { NULL, 1, "a", 1, "b", WIRE_OK, 0, NULL },
                { "", 1, "", 1, "b", WIRE_OK, 1, "b" },
                { "ab", 1, "a", 1, "b", WIRE_OK, 0, "ab" },
                { "a", 1, "ab", 1, "b", WIRE_OK, 0, "a" },
                { "a", 1, "a", 1, "", WIRE_OK, 1, "" },
                /* expect absent, set a value */
                { NULL, 0, "", 1, "n", WIRE_OK, 1, "n" },
                { NULL, 0, "ignored", 1, "n", WIRE_OK, 1, "n" },
                { "x", 0, "", 1, "n", WIRE_OK, 0, "x" },
                { "", 0, "", 1, "n", WIRE_OK, 0, "" },
                /* expect a value, delete */
                { "a", 1, "a", 0, "", WIRE_OK, 1, NULL },
                { "x", 1, "a", 0, "", WIRE_OK, 0, "x" },
                { NULL, 1, "a", 0, "", WIRE_OK, 0, NULL },
                /* expect absent, delete: holds, and nothing changes */
                { NULL, 0, "", 0, "", WIRE_OK, 1, NULL },
                { "x", 0, "", 0, "", WIRE_OK, 0, "x" },
                /* bad flags */
                { "a", 2, "a", 1, "b", WIRE_EINVAL, 0, "a" },
                { "a", 1, "a", 2, "b", WIRE_EINVAL, 0, "a" },
        };
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct reply rep;
                uint8_t swapped = 9, present = 9;
                const void *current = NULL;
                uint32_t size = 0;

                expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
                set(a, "d", "first", "1");
                if (cases[i].before)
                        set(a, "d", "k", cases[i].before);
                set(a, "d", "last", "2");
                rep = call(a, WIRE_OP_DICT_CAS, "nsbsbs", "d", "k", (unsigned) cases[i].expect_present,
                           cases[i].expected, (unsigned) cases[i].set_present, cases[i].new_value);
                check_status_at(&rep, cases[i].status, __FILE__, __LINE__);
                if (cases[i].status == WIRE_OK) {
                        assert_true(wire_get_u8(&rep.r, &swapped) && wire_get_u8(&rep.r, &present) &&
                                    wire_get_bytes(&rep.r, &current, &size) && wire_reader_done(&rep.r));
                        assert_int_equal(swapped, cases[i].swapped);
                        assert_int_equal(present, cases[i].after != NULL);
                        if (cases[i].after)
                                assert_true(size == strlen(cases[i].after) &&
                                            memcmp(current, cases[i].after, size) == 0);
                        else
                                assert_int_equal(size, 0);
                }
                if (cases[i].after) {
                        char want[64];

                        get_is(a, "d", "k", cases[i].after);
                        /* A value replaced keeps its place; an inserted one goes to the end. */
                        snprintf(want, sizeof(want), cases[i].before ? "first=1,k=%s,last=2" : "first=1,last=2,k=%s",
                                 cases[i].after);
                        assert_walk(a, "d", 0, want);
                } else
                        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "k");
        }
        assert_true(info_field(a, "d", "cas_swapped") > 0);
        assert_true(info_field(a, "d", "cas_failed") > 0);
}

static void test_max_message(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        mpxd.max_message = 8;
        set(a, "d", "12345678", "12345678");
        get_is(a, "d", "12345678", "12345678");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_SET, "nss", "d", "123456789", "v");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_SET, "nss", "d", "k", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_GET, "ns", "d", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_DEL, "ns", "d", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_CONTAINS, "ns", "d", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_POP, "ns", "d", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "k", "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_INCR, "nsi", "d", "123456789", (int64_t) 1);
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_CAS, "nsbsbs", "d", "k", 0u, "", 1u, "123456789");
        expect(WIRE_EMSGSIZE, a, WIRE_OP_DICT_CAS, "nsbsbs", "d", "k", 1u, "123456789", 1u, "");
        assert_int_equal(dict_len(a, "d"), 1);
        /* The connection goes on. */
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_walk(a, "d", 0, "12345678=12345678");
}

static void test_info_and_delete(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        set(a, "d", "key", "value");
        set(a, "d", "key", "v");
        get_is(a, "d", "key", "v");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "nope");
        assert_int_equal(info_field(a, "d", "size"), 1);
        assert_int_equal(info_field(a, "d", "bytes"), 4 + dict_entry_overhead);
        assert_int_equal(info_field(a, "d", "sets"), 2);
        assert_int_equal(info_field(a, "d", "gets"), 2);
        assert_int_equal(info_field(a, "d", "misses"), 1);
        assert_true(info_field(a, "d", "age_ms") >= 0);
        assert_true(info_field(a, "d", "idle_ms") >= 0);

        /* LIST shows it as a dict. */
        {
                struct reply rep = call(a, WIRE_OP_LIST, "qwb", (uint64_t) 0, 0u, (unsigned) WIRE_TYPE_DICT);
                uint64_t next = 1;
                uint32_t n = 0;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u64(&rep.r, &next) && wire_get_u32(&rep.r, &n));
                assert_int_equal(n, 1);
        }

        /* DELETE frees it with its entries; the name is free again. */
        expect_empty(a, WIRE_OP_DELETE, "n", "d");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "key");
        declare(a, "d");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "key");
        set(a, "d", "left", "behind");          /* freed by mpxd_done */
}

/*
 * Every dict opcode with a well-formed body: fixed arguments per format
 * character (s "k", i -1, q 0, w 1, b 1), so that each body is valid.
 */
static const struct op_body dict_ops[] = {
        { WIRE_OP_DICT_DECLARE, "" },
        { WIRE_OP_DICT_SET, "ss" },
        { WIRE_OP_DICT_GET, "s" },
        { WIRE_OP_DICT_DEL, "s" },
        { WIRE_OP_DICT_CONTAINS, "s" },
        { WIRE_OP_DICT_LEN, "" },
        { WIRE_OP_DICT_ITEMS, "qwb" },
        { WIRE_OP_DICT_POP, "s" },
        { WIRE_OP_DICT_SETDEFAULT, "ss" },
        { WIRE_OP_DICT_UPDATE, "wss" },
        { WIRE_OP_DICT_CLEAR, "" },
        { WIRE_OP_DICT_INCR, "si" },
        { WIRE_OP_DICT_CAS, "sbsbs" },
};

static void test_malformed_bodies(void **state) {
        struct client *a = client_add(*state, "test-dict");

        declare(a, "d");
        check_malformed_bodies(a, dict_ops, "d");
        /* A count larger than the pairs that follow. */
        expect(WIRE_EPROTO, a, WIRE_OP_DICT_UPDATE, "nwss", "d", 2u, "k", "v");
        expect(WIRE_EPROTO, a, WIRE_OP_DICT_UPDATE, "nws", "d", 1u, "k");
        /* A length beyond the body. */
        expect(WIRE_EPROTO, a, WIRE_OP_DICT_GET, "nr", "d", "\x10\0\0\0k", (size_t) 5);

        /* Nothing was created or changed, and the connection goes on. */
        assert_int_equal(mpxd.n_objects, 1);
        assert_int_equal(dict_len(a, "d"), 0);
        assert_int_equal(client_state(a), CLIENT_READY);
}

static void test_no_such_dict_and_wrong_type(void **state) {
        struct client *a = client_add(*state, "test-dict");

        expect(WIRE_OK, a, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l");
        check_missing_and_wrong_type(a, dict_ops, WIRE_OP_DICT_DECLARE, "q", "l");
        assert_int_equal(mpxd.n_objects, 2);
}

static void test_before_hello(void **state) {
        struct client *a = client_add(*state, NULL);
        struct wire_buf b;

        build_valid_body(&b, "d", "");
        expect_body_at(a, WIRE_OP_DICT_DECLARE, b.data, b.len, WIRE_EPROTO, __FILE__, __LINE__);
        wire_buf_done(&b);
        assert_int_equal(mpxd.n_objects, 0);
}

/* Requests pipelined in one read are answered in order. */
static void test_pipelined(void **state) {
        struct client *a = client_add(*state, "test-dict");
        struct wire_buf all;
        struct reply rep;

        declare(a, "d");
        wire_buf_init(&all);
        for (uint32_t id = 1; id <= 3; id++)
                append_request(&all, id, WIRE_OP_DICT_INCR, "nsi", "d", "n", (int64_t) 10);
        feed_buf(a, &all);
        for (uint32_t id = 1; id <= 3; id++) {
                int64_t v = 0;

                take_reply_at(a, &rep, __FILE__, __LINE__);
                assert_int_equal(rep.h.id, id);
                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_i64(&rep.r, &v));
                assert_int_equal(v, 10 * (int64_t) id);
        }
        assert_no_reply(a);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_declare),
                unit_client_test(test_set_get_del),
                unit_client_test(test_insertion_order),
                unit_client_test(test_items_paging),
                unit_client_test(test_items_page_limits),
                unit_client_test(test_items_concurrent_changes),
                unit_client_test(test_large_dict),
                unit_client_test(test_pop_setdefault),
                unit_client_test(test_update),
                unit_client_test(test_clear),
                unit_client_test(test_incr),
                unit_client_test(test_cas),
                unit_client_test(test_max_message),
                unit_client_test(test_info_and_delete),
                unit_client_test(test_malformed_bodies),
                unit_client_test(test_no_such_dict_and_wrong_type),
                unit_client_test(test_before_hello),
                unit_client_test(test_pipelined),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
