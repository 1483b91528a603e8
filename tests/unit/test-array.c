/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's typed values and arrays (daemon/array.c), without a
 * daemon process: socketless clients (client_new(-1)) are fed request frames
 * with client_feed() and their replies are parsed back out of their output
 * buffers. MAP is also checked through a real socketpair client, whose
 * reply is read with recvmsg() to get the memfd and map it.
 *
 * Most tests are tables over every type code: element sizes, get and set of
 * elements and runs, negative indices and ranges, wrap-around of every
 * integer type on add (and the cases of Python's ctypes: Value('i',
 * 2**31-1) + 1, Value('b', 200)), float and double add, compare-and-set hit
 * and miss (bit for bit), and the INFO fields. Every GET, SET, ADD and CAS
 * names the type code it expects, as clients do. Then declare conflicts,
 * wrong object types, wrong type codes, malformed bodies, size limits and
 * the memory's lifetime.
 * Allocation failures are not injected here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client-internal.h"
#include "client.h"
#include "field-list.h"
#include "mpxd.h"
#include "round-trip.h"

/* Every type code, its size, and whether it is a signed, unsigned, float or byte type. */
enum kind { SIGNED, UNSIGNED, FLOAT, CHAR };

static const struct tcase {
        char code;
        unsigned size;
        enum kind kind;
} types[] = {
        { 'b', 1, SIGNED }, { 'B', 1, UNSIGNED }, { 'h', 2, SIGNED }, { 'H', 2, UNSIGNED },
        { 'i', 4, SIGNED }, { 'I', 4, UNSIGNED }, { 'l', 8, SIGNED }, { 'L', 8, UNSIGNED },
        { 'q', 8, SIGNED }, { 'Q', 8, UNSIGNED }, { 'f', 4, FLOAT },  { 'd', 8, FLOAT },
        { 'c', 1, CHAR },
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

/* ---- elements as bits ---- */

/* Write the low size bytes of bits in host order, as a C array of that type holds them. */
static void put_bits(void *dst, unsigned size, uint64_t bits) {
        uint8_t v8 = (uint8_t) bits;
        uint16_t v16 = (uint16_t) bits;
        uint32_t v32 = (uint32_t) bits;

        if (size == 1)
                memcpy(dst, &v8, 1);
        else if (size == 2)
                memcpy(dst, &v16, 2);
        else if (size == 4)
                memcpy(dst, &v32, 4);
        else
                memcpy(dst, &bits, 8);
}

static uint64_t get_bits(const void *src, unsigned size) {
        uint8_t v8;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;

        if (size == 1) {
                memcpy(&v8, src, 1);
                return v8;
        }
        if (size == 2) {
                memcpy(&v16, src, 2);
                return v16;
        }
        if (size == 4) {
                memcpy(&v32, src, 4);
                return v32;
        }
        memcpy(&v64, src, 8);
        return v64;
}

/* All ones in the low size bytes. */
static uint64_t mask_of(unsigned size) {
        return size == 8 ? UINT64_MAX : (UINT64_C(1) << (8 * size)) - 1;
}

static uint64_t float_bits(float f) {
        uint32_t v;

        memcpy(&v, &f, 4);
        return v;
}

static uint64_t double_bits(double d) {
        uint64_t v;

        memcpy(&v, &d, 8);
        return v;
}

/* A distinct, type-valid element per (type, i): a number for numbers, a letter for 'c'. */
static uint64_t sample(const struct tcase *t, unsigned i) {
        switch (t->kind) {
        case FLOAT:
                return t->size == 4 ? float_bits(1.5f + (float) i) : double_bits(0.25 + i);
        case CHAR:
                return 'A' + i;
        default:
                /* Negative for signed types, to exercise the sign. */
                return (t->kind == SIGNED ? (uint64_t) -(int64_t) (i + 3) : i * 37 + 5) & mask_of(t->size);
        }
}

/* ---- requests and replies ---- */

/* DECLARE; on success *ret_created gets the u8 reply. */
static uint16_t declare(struct client *c, const char *name, char code, uint32_t length, uint32_t flags,
                        const void *initial, size_t initial_len, int *ret_created) {
        struct reply r;
        uint16_t st = call(c, WIRE_OP_ARRAY_DECLARE, &r, "nbwwx", name, (unsigned) (uint8_t) code, length,
                           flags, initial, initial_len);

        if (st == WIRE_OK) {
                assert_int_equal(r.h.body_len, 1);
                if (ret_created)
                        *ret_created = r.body[0];
        }
        return st;
}

/* A declare that must create the object. */
static void declare_new(struct client *c, const char *name, char code, uint32_t length, uint32_t flags,
                        const void *initial, size_t initial_len) {
        int created = -1;

        assert_int_equal(declare(c, name, code, length, flags, initial, initial_len, &created), WIRE_OK);
        assert_int_equal(created, 1);
}

/* The size of one element of a type code of the table. */
static unsigned size_of(char code) {
        for (size_t i = 0; i < N_TYPES; i++)
                if (types[i].code == code)
                        return types[i].size;
        fail_msg("no type code '%c' in the table", code);
        return 0;
}

/*
 * GET as an array of type code: the elements' bytes into out (room for
 * count * 8), the reply's type code in *ret_code.
 */
static uint16_t get(struct client *c, const char *name, char code, int64_t index, uint32_t count, void *out,
                    size_t *ret_len, char *ret_code) {
        struct reply r;
        struct wire_reader rd;
        const void *data;
        uint32_t len;
        uint8_t reply_code;
        uint16_t st = call(c, WIRE_OP_ARRAY_GET, &r, "nbiw", name, (unsigned) (uint8_t) code, index, count);

        if (st != WIRE_OK)
                return st;
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u8(&rd, &reply_code) && wire_get_bytes(&rd, &data, &len) && wire_reader_done(&rd));
        /* The daemon answers only for the type code asked for. */
        assert_int_equal(reply_code, (uint8_t) code);
        assert_int_equal(len, (size_t) count * size_of(code));
        if (out && len)
                memcpy(out, data, len);
        if (ret_len)
                *ret_len = len;
        if (ret_code)
                *ret_code = (char) reply_code;
        return st;
}

/* GET of one element of type code: its bits. */
static uint64_t get_one(struct client *c, const char *name, char code, int64_t index) {
        uint8_t buf[8];
        size_t len = 0;

        assert_int_equal(get(c, name, code, index, 1, buf, &len, NULL), WIRE_OK);
        assert_int_equal(len, size_of(code));
        return get_bits(buf, size_of(code));
}

/* SET of len bytes of elements, as an array of type code. */
static uint16_t set(struct client *c, const char *name, char code, int64_t index, const void *data, size_t len) {
        return call(c, WIRE_OP_ARRAY_SET, NULL, "nbix", name, (unsigned) (uint8_t) code, index, data, len);
}

static void set_one(struct client *c, const char *name, char code, int64_t index, uint64_t bits) {
        uint8_t buf[8];

        put_bits(buf, size_of(code), bits);
        assert_int_equal(set(c, name, code, index, buf, size_of(code)), WIRE_OK);
}

/* ADD of one element's bits, as an array of type code; the new element's bits in *ret_new. */
static uint16_t add(struct client *c, const char *name, char code, int64_t index, uint64_t delta,
                    uint64_t *ret_new) {
        unsigned size = size_of(code);
        struct reply r;
        struct wire_reader rd;
        const void *data;
        uint32_t len;
        uint8_t buf[8];
        uint16_t st;

        put_bits(buf, size, delta);
        st = call(c, WIRE_OP_ARRAY_ADD, &r, "nbix", name, (unsigned) (uint8_t) code, index, buf, (size_t) size);
        if (st != WIRE_OK)
                return st;
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_bytes(&rd, &data, &len) && wire_reader_done(&rd));
        assert_int_equal(len, size);
        if (ret_new)
                *ret_new = get_bits(data, size);
        return st;
}

/* CAS as an array of type code; *ret_swapped and *ret_current from the reply. */
static uint16_t cas(struct client *c, const char *name, char code, int64_t index, uint64_t expected,
                    uint64_t desired, bool *ret_swapped, uint64_t *ret_current) {
        unsigned size = size_of(code);
        struct reply r;
        struct wire_reader rd;
        const void *data;
        uint32_t len;
        uint8_t e[8], d[8], swapped;
        uint16_t st;

        put_bits(e, size, expected);
        put_bits(d, size, desired);
        st = call(c, WIRE_OP_ARRAY_CAS, &r, "nbixx", name, (unsigned) (uint8_t) code, index, e, (size_t) size, d,
                  (size_t) size);
        if (st != WIRE_OK)
                return st;
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u8(&rd, &swapped) && wire_get_bytes(&rd, &data, &len) && wire_reader_done(&rd));
        assert_true(swapped <= 1);
        assert_int_equal(len, size);
        *ret_swapped = swapped;
        *ret_current = get_bits(data, size);
        return st;
}

/* An integer field of the daemon's STATS, which must exist. */
static int64_t stats_int(struct client *c, const char *key) {
        struct reply r;
        struct wire_reader rd;
        struct field f;

        assert_int_equal(call(c, WIRE_OP_STATS, &r, ""), WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        if (!field_list_read(&rd, key, &f))
                fail_msg("STATS has no field %s", key);
        assert_int_equal(f.kind, WIRE_FIELD_INT);
        return f.num;
}

/* ---- the fixture: clients, each of which may own a socket (round-trip.h) ---- */

static int setup(void **state) {
        return fixture_setup(state, sizeof(struct fixture));
}

static int teardown(void **state) {
        fixture_teardown(*state);
        return 0;
}

/* ---- tests ---- */

static void test_sizes(void **state) {
        struct client *a = client_add(*state, -1);
        static const char bad[] = { 'x', 'u', 'w', 'g', 'e', 'F', 'D', 'C', 'Z', 0, (char) 0xff };

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                char name[16], s[256], code = 0;
                size_t len = 99;

                snprintf(name, sizeof(name), "a.%c", t->code);
                declare_new(a, name, t->code, 3, 0, NULL, 0);
                assert_int_equal(info_int(a, name, "itemsize"), t->size);
                assert_int_equal(info_int(a, name, "length"), 3);
                assert_int_equal(info_int(a, name, "size"), 3);
                assert_int_equal(info_int(a, name, "bytes"), 3 * t->size);
                info_str(a, name, "typecode", s);
                assert_int_equal(strlen(s), 1);
                assert_int_equal(s[0], t->code);
                /* A GET of no elements checks the type code, and answers it. */
                assert_int_equal(get(a, name, t->code, 0, 0, NULL, &len, &code), WIRE_OK);
                assert_int_equal(len, 0);
                assert_int_equal(code, t->code);
                /* Zero-filled. */
                for (int k = 0; k < 3; k++)
                        assert_int_equal(get_one(a, name, t->code, k), 0);
        }
        for (size_t i = 0; i < sizeof(bad); i++)
                assert_int_equal(declare(a, "bad", bad[i], 1, 0, NULL, 0, NULL), WIRE_EINVAL);
        assert_int_equal(mpxd.n_objects, N_TYPES);
}

static void test_set_get_runs(void **state) {
        struct client *a = client_add(*state, -1);

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                uint8_t init[4 * 8], got[4 * 8], two[2 * 8];
                size_t len = 0;
                char name[16];

                snprintf(name, sizeof(name), "a.%c", t->code);
                for (unsigned k = 0; k < 4; k++)
                        put_bits(init + k * t->size, t->size, sample(t, k));
                declare_new(a, name, t->code, 4, 0, init, 4 * t->size);

                /* The whole array, as declared. */
                assert_int_equal(get(a, name, t->code, 0, 4, got, &len, NULL), WIRE_OK);
                assert_int_equal(len, 4 * t->size);
                assert_memory_equal(got, init, len);

                /* Negative indices count from the end. */
                assert_int_equal(get_one(a, name, t->code, -1), sample(t, 3));
                assert_int_equal(get_one(a, name, t->code, -4), sample(t, 0));
                assert_int_equal(get(a, name, t->code, -3, 2, got, &len, NULL), WIRE_OK);
                assert_memory_equal(got, init + t->size, 2 * t->size);

                /* A run of two at index 1, then one element at -1. */
                put_bits(two, t->size, sample(t, 7));
                put_bits(two + t->size, t->size, sample(t, 8));
                assert_int_equal(set(a, name, t->code, 1, two, 2 * t->size), WIRE_OK);
                set_one(a, name, t->code, -1, sample(t, 9));
                assert_int_equal(get_one(a, name, t->code, 0), sample(t, 0));
                assert_int_equal(get_one(a, name, t->code, 1), sample(t, 7));
                assert_int_equal(get_one(a, name, t->code, 2), sample(t, 8));
                assert_int_equal(get_one(a, name, t->code, 3), sample(t, 9));

                /* An empty run is allowed and changes nothing. */
                assert_int_equal(set(a, name, t->code, 4, "", 0), WIRE_OK);
                assert_int_equal(get(a, name, t->code, 4, 0, got, &len, NULL), WIRE_OK);
                assert_int_equal(len, 0);
                assert_int_equal(get_one(a, name, t->code, 3), sample(t, 9));
        }
}

static void test_ranges(void **state) {
        struct client *a = client_add(*state, -1);
        static const struct {
                int64_t index;
                uint32_t count;
                uint16_t status;
        } cases[] = {
                { 0, 5, WIRE_OK },              { 4, 1, WIRE_OK },           { 5, 0, WIRE_OK },
                { -5, 5, WIRE_OK },             { -1, 1, WIRE_OK },          { -5, 0, WIRE_OK },
                { 0, 6, WIRE_ERANGE },          { 5, 1, WIRE_ERANGE },       { 6, 0, WIRE_ERANGE },
                { 4, 2, WIRE_ERANGE },          { -6, 1, WIRE_ERANGE },      { -6, 0, WIRE_ERANGE },
                { -1, 2, WIRE_ERANGE },         { 1, UINT32_MAX, WIRE_ERANGE },
                { INT64_MAX, 1, WIRE_ERANGE },  { INT64_MIN, 0, WIRE_ERANGE }, { INT64_MIN + 1, 1, WIRE_ERANGE },
                { (int64_t) 1 << 32, 0, WIRE_ERANGE },
        };

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                uint8_t buf[16 * 8];
                char name[16];

                snprintf(name, sizeof(name), "a.%c", t->code);
                declare_new(a, name, t->code, 5, 0, NULL, 0);
                for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
                        size_t len = 0;
                        uint64_t v = 0;
                        bool swapped = false;
                        uint16_t want_one;

                        assert_int_equal(get(a, name, t->code, cases[k].index, cases[k].count, buf, &len, NULL),
                                         cases[k].status);
                        if (cases[k].count <= 16) {
                                memset(buf, 0x5a, sizeof(buf));
                                assert_int_equal(set(a, name, t->code, cases[k].index, buf,
                                                     cases[k].count * t->size),
                                                 cases[k].status);
                        }
                        /* One element: add and cas need the index itself to be inside. */
                        want_one = cases[k].index >= -5 && cases[k].index < 5 ? WIRE_OK : WIRE_ERANGE;
                        if (t->kind != CHAR)
                                assert_int_equal(add(a, name, t->code, cases[k].index, 0, &v), want_one);
                        assert_int_equal(cas(a, name, t->code, cases[k].index, 1, 2, &swapped, &v), want_one);
                }
                /* Only the in-range sets wrote: every element holds the 0x5a pattern, or 0 when none did. */
                for (int k = 0; k < 5; k++)
                        assert_int_equal(get_one(a, name, t->code, k), 0x5a5a5a5a5a5a5a5aull & mask_of(t->size));
        }
}

/* The cases of Python's ctypes, spelled out. */
static void test_wraparound_named(void **state) {
        struct client *a = client_add(*state, -1);
        int32_t i32 = INT32_MAX, one32 = 1;
        int8_t b = (int8_t) 200;                /* Value('b', 200): the caller's bytes, truncated */
        uint8_t B = 255, oneB = 1;
        uint64_t Q = UINT64_MAX, oneQ = 1, v = 0;

        declare_new(a, "i", 'i', 1, WIRE_ARRAY_VALUE, &i32, 4);
        assert_int_equal(add(a, "i", 'i', 0, (uint32_t) one32, &v), WIRE_OK);
        assert_int_equal((int32_t) (uint32_t) v, INT32_MIN);
        assert_int_equal((int32_t) (uint32_t) get_one(a, "i", 'i', 0), INT32_MIN);

        declare_new(a, "b", 'b', 1, WIRE_ARRAY_VALUE, &b, 1);
        assert_int_equal((int8_t) get_one(a, "b", 'b', 0), -56);
        assert_int_equal(add(a, "b", 'b', 0, 100, &v), WIRE_OK);         /* -56 + 100 */
        assert_int_equal((int8_t) v, 44);
        assert_int_equal(add(a, "b", 'b', 0, 100, &v), WIRE_OK);         /* 44 + 100 wraps */
        assert_int_equal((int8_t) v, -112);

        declare_new(a, "B", 'B', 1, WIRE_ARRAY_VALUE, &B, 1);
        assert_int_equal(add(a, "B", 'B', 0, oneB, &v), WIRE_OK);
        assert_int_equal(v, 0);

        declare_new(a, "Q", 'Q', 1, WIRE_ARRAY_VALUE, &Q, 8);
        assert_int_equal(add(a, "Q", 'Q', 0, oneQ, &v), WIRE_OK);
        assert_int_equal(v, 0);
        /* Adding all ones subtracts one, and wraps below zero. */
        assert_int_equal(add(a, "Q", 'Q', 0, UINT64_MAX, &v), WIRE_OK);
        assert_true(v == UINT64_MAX);
}

/* Every integer type: its maximum plus one is its minimum, its minimum minus one its maximum. */
static void test_wraparound_table(void **state) {
        struct client *a = client_add(*state, -1);

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                uint64_t mask = mask_of(t->size), max, min, v = 0;
                char name[16];

                if (t->kind != SIGNED && t->kind != UNSIGNED)
                        continue;
                max = t->kind == SIGNED ? mask >> 1 : mask;
                min = t->kind == SIGNED ? (mask >> 1) + 1 : 0;
                snprintf(name, sizeof(name), "v.%c", t->code);
                declare_new(a, name, t->code, 2, 0, NULL, 0);
                set_one(a, name, t->code, 0, max);
                assert_int_equal(add(a, name, t->code, 0, 1, &v), WIRE_OK);
                assert_true(v == min);
                assert_true(get_one(a, name, t->code, 0) == min);
                /* -1 is all ones in the element's width. */
                assert_int_equal(add(a, name, t->code, 0, mask, &v), WIRE_OK);
                assert_true(v == max);
                /* Plain arithmetic in the middle, at a negative index. */
                set_one(a, name, t->code, -1, 40);
                assert_int_equal(add(a, name, t->code, -1, 2, &v), WIRE_OK);
                assert_int_equal(v, 42);
                assert_int_equal(add(a, name, t->code, -1, (uint64_t) -50 & mask, &v), WIRE_OK);
                assert_true(v == ((uint64_t) -8 & mask));
                assert_int_equal(info_int(a, name, "adds"), 4);
        }
}

static void test_float_add(void **state) {
        struct client *a = client_add(*state, -1);
        volatile double x = 0.1, y = 0.2;
        volatile float big = 16777216.0f;
        uint64_t v = 0;
        float f;
        double d;

        declare_new(a, "f", 'f', 1, WIRE_ARRAY_VALUE, NULL, 0);
        assert_int_equal(add(a, "f", 'f', 0, float_bits(1.5f), &v), WIRE_OK);
        assert_int_equal(add(a, "f", 'f', 0, float_bits(2.25f), &v), WIRE_OK);
        assert_true(v == float_bits(3.75f));
        /* Float arithmetic, not double: 2**24 + 1 is 2**24 in a float. */
        set_one(a, "f", 'f', 0, float_bits(big));
        assert_int_equal(add(a, "f", 'f', 0, float_bits(1.0f), &v), WIRE_OK);
        f = big;
        assert_true(v == float_bits(f));
        assert_int_equal(add(a, "f", 'f', 0, float_bits(-16777216.0f), &v), WIRE_OK);
        assert_true(v == float_bits(0.0f));

        declare_new(a, "d", 'd', 3, 0, NULL, 0);
        set_one(a, "d", 'd', 2, double_bits(x));
        assert_int_equal(add(a, "d", 'd', -1, double_bits(y), &v), WIRE_OK);
        d = x + y;
        assert_true(v == double_bits(d));               /* 0.30000000000000004 */
        assert_true(v != double_bits(0.3));
        assert_int_equal(add(a, "d", 'd', 0, double_bits(-2.5), &v), WIRE_OK);
        assert_true(v == double_bits(-2.5));
        assert_int_equal(add(a, "d", 'd', 0, double_bits(INFINITY), &v), WIRE_OK);
        assert_true(v == double_bits(INFINITY));
        assert_true(get_one(a, "d", 'd', 1) == double_bits(0.0));
}

static void test_add_rules(void **state) {
        struct client *a = client_add(*state, -1);
        uint8_t eight[8] = { 1 };

        declare_new(a, "c", 'c', 3, 0, "abc", 3);
        assert_int_equal(add(a, "c", 'c', 0, 1, NULL), WIRE_EINVAL);      /* no add on bytes */
        assert_int_equal(get_one(a, "c", 'c', 0), 'a');
        declare_new(a, "i", 'i', 2, 0, NULL, 0);
        /* The delta is exactly one element. */
        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbix", "i", 'i', (int64_t) 0, eight, (size_t) 8),
                         WIRE_EINVAL);
        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbix", "i", 'i', (int64_t) 0, eight, (size_t) 0),
                         WIRE_EINVAL);
        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbix", "i", 'i', (int64_t) 0, eight, (size_t) 3),
                         WIRE_EINVAL);
        assert_int_equal(get_one(a, "i", 'i', 0), 0);
        assert_int_equal(info_int(a, "i", "adds"), 0);
        assert_int_equal(info_int(a, "c", "adds"), 0);
}

static void test_cas_hit_and_miss(void **state) {
        struct client *a = client_add(*state, -1);

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                uint64_t cur = 0, s1 = sample(t, 1), s2 = sample(t, 2), s3 = sample(t, 3);
                bool swapped = true;
                char name[16];

                snprintf(name, sizeof(name), "a.%c", t->code);
                declare_new(a, name, t->code, 3, 0, NULL, 0);
                set_one(a, name, t->code, 1, s1);

                /* Miss: the element stays, and its value comes back. */
                assert_int_equal(cas(a, name, t->code, 1, s2, s3, &swapped, &cur), WIRE_OK);
                assert_false(swapped);
                assert_true(cur == s1);
                assert_true(get_one(a, name, t->code, 1) == s1);

                /* Hit, through a negative index. */
                assert_int_equal(cas(a, name, t->code, -2, s1, s2, &swapped, &cur), WIRE_OK);
                assert_true(swapped);
                assert_true(cur == s2);
                assert_true(get_one(a, name, t->code, 1) == s2);
                /* The neighbours are untouched. */
                assert_int_equal(get_one(a, name, t->code, 0), 0);
                assert_int_equal(get_one(a, name, t->code, 2), 0);
                assert_int_equal(info_int(a, name, "sets"), 2);         /* the SET and the swap */

                /* Wrong sizes. */
                assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbixx", name, (unsigned) t->code, (int64_t) 1,
                                      "12345678", (size_t) t->size + 1, "12345678", (size_t) t->size),
                                 WIRE_EINVAL);
                assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbixx", name, (unsigned) t->code, (int64_t) 1,
                                      "12345678", (size_t) t->size, "", (size_t) 0),
                                 WIRE_EINVAL);
                assert_true(get_one(a, name, t->code, 1) == s2);
        }
}

/* Floats compare bit for bit: -0.0 is not 0.0, and a NaN matches itself. */
static void test_cas_bitwise_floats(void **state) {
        struct client *a = client_add(*state, -1);
        uint64_t cur = 0, nan_bits = double_bits(NAN);
        bool swapped = true;

        declare_new(a, "d", 'd', 1, 0, NULL, 0);
        assert_int_equal(cas(a, "d", 'd', 0, double_bits(-0.0), double_bits(1.0), &swapped, &cur), WIRE_OK);
        assert_false(swapped);
        assert_true(cur == double_bits(0.0));
        set_one(a, "d", 'd', 0, nan_bits);
        assert_int_equal(cas(a, "d", 'd', 0, nan_bits, double_bits(2.0), &swapped, &cur), WIRE_OK);
        assert_true(swapped);
        assert_true(cur == double_bits(2.0));

        declare_new(a, "f", 'f', 1, 0, NULL, 0);
        assert_int_equal(cas(a, "f", 'f', 0, float_bits(-0.0f), float_bits(1.0f), &swapped, &cur), WIRE_OK);
        assert_false(swapped);
        assert_int_equal(cas(a, "f", 'f', 0, float_bits(0.0f), float_bits(1.0f), &swapped, &cur), WIRE_OK);
        assert_true(swapped);
        assert_true(cur == float_bits(1.0f));
}

static void test_set_sizes(void **state) {
        struct client *a = client_add(*state, -1);

        for (size_t i = 0; i < N_TYPES; i++) {
                const struct tcase *t = &types[i];
                char name[16];

                if (t->size == 1)
                        continue;
                snprintf(name, sizeof(name), "a.%c", t->code);
                declare_new(a, name, t->code, 4, 0, NULL, 0);
                /* Bytes that are not a whole number of elements. */
                for (size_t len = 1; len < 2 * t->size; len++)
                        if (len % t->size)
                                assert_int_equal(set(a, name, t->code, 0,
                                                     "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a"
                                                     "\x0b\x0c\x0d\x0e\x0f", len), WIRE_EINVAL);
                for (int k = 0; k < 4; k++)
                        assert_int_equal(get_one(a, name, t->code, k), 0);
                assert_int_equal(info_int(a, name, "sets"), 0);
        }
}

static void test_declare_conflicts(void **state) {
        struct client *a = client_add(*state, -1);
        int32_t init[3] = { 1, 2, 3 }, other[3] = { 7, 8, 9 }, got[3];
        int created = -1;
        size_t len = 0;

        declare_new(a, "a", 'i', 3, 0, init, sizeof(init));
        /* The same again: existed, and the initial contents are ignored. */
        assert_int_equal(declare(a, "a", 'i', 3, 0, other, sizeof(other), &created), WIRE_OK);
        assert_int_equal(created, 0);
        assert_int_equal(declare(a, "a", 'i', 3, 0, NULL, 0, &created), WIRE_OK);
        assert_int_equal(created, 0);
        assert_int_equal(get(a, "a", 'i', 0, 3, got, &len, NULL), WIRE_OK);
        assert_memory_equal(got, init, sizeof(init));
        /* Another length or type code. */
        assert_int_equal(declare(a, "a", 'i', 4, 0, NULL, 0, NULL), WIRE_EEXIST);
        assert_int_equal(declare(a, "a", 'I', 3, 0, NULL, 0, NULL), WIRE_EEXIST);
        assert_int_equal(declare(a, "a", 'f', 3, 0, NULL, 0, NULL), WIRE_EEXIST);
        /* A value is another type than an array, and the other way round. */
        assert_int_equal(declare(a, "a", 'i', 1, WIRE_ARRAY_VALUE, NULL, 0, NULL), WIRE_EPROTOTYPE);
        declare_new(a, "v", 'i', 1, WIRE_ARRAY_VALUE, NULL, 0);
        assert_int_equal(declare(a, "v", 'i', 1, 0, NULL, 0, NULL), WIRE_EPROTOTYPE);
        assert_int_equal(declare(a, "v", 'i', 1, WIRE_ARRAY_VALUE, NULL, 0, &created), WIRE_OK);
        assert_int_equal(created, 0);
        assert_int_equal(declare(a, "v", 'q', 1, WIRE_ARRAY_VALUE, NULL, 0, NULL), WIRE_EEXIST);
        /* A name of another type. */
        assert_int_equal(call(a, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "q", (uint64_t) 0, 0u), WIRE_OK);
        assert_int_equal(declare(a, "q", 'i', 1, 0, NULL, 0, NULL), WIRE_EPROTOTYPE);
        assert_int_equal(declare(a, "q", 'i', 1, WIRE_ARRAY_VALUE, NULL, 0, NULL), WIRE_EPROTOTYPE);

        /* Bad arguments, whether or not the name exists. */
        assert_int_equal(declare(a, "new", 'i', 0, 0, NULL, 0, NULL), WIRE_EINVAL);
        assert_int_equal(declare(a, "a", 'i', 0, 0, NULL, 0, NULL), WIRE_EINVAL);
        assert_int_equal(declare(a, "new", 'i', 2, WIRE_ARRAY_VALUE, NULL, 0, NULL), WIRE_EINVAL);
        assert_int_equal(declare(a, "new", 'i', 1, 2, NULL, 0, NULL), WIRE_EINVAL);
        assert_int_equal(declare(a, "new", 'i', 3, 0, init, 8, NULL), WIRE_EINVAL);      /* 2 of 3 */
        assert_int_equal(declare(a, "new", 'i', 3, 0, init, 10, NULL), WIRE_EINVAL);     /* not whole */
        assert_int_equal(declare(a, "new", 'i', 2, 0, init, 12, NULL), WIRE_EINVAL);     /* too many */
        assert_int_equal(declare(a, "new", 'x', 1, 0, NULL, 0, NULL), WIRE_EINVAL);
        /* More memory than an array may have: a limit, not a crash. */
        assert_int_equal(declare(a, "new", 'd', UINT32_MAX, 0, NULL, 0, NULL), WIRE_ENOSPC);
        assert_int_equal(mpxd.n_objects, 3);
}

static void test_value_info(void **state) {
        struct client *a = client_add(*state, -1);
        static const struct {
                char code;
                uint64_t bits;
                const char *text;
        } cases[] = {
                { 'b', 0xc8, "-56" },
                { 'B', 0xc8, "200" },
                { 'h', 0x8000, "-32768" },
                { 'H', 0xffff, "65535" },
                { 'i', 0x80000000u, "-2147483648" },
                { 'I', 0xffffffffu, "4294967295" },
                { 'l', 0x8000000000000000ull, "-9223372036854775808" },
                { 'L', 0xffffffffffffffffull, "18446744073709551615" },
                { 'q', 0xfffffffffffffffbull, "-5" },
                { 'Q', 0xffffffffffffffffull, "18446744073709551615" },
                { 'f', 0x3dcccccd, "0.10000000149011612" },     /* 0.1f */
                { 'd', 0x3fb999999999999aull, "0.10000000000000001" },
                { 'c', 'H', "H" },
                { 'c', 0x01, "\\x01" },
                { 'c', 0xff, "\\xff" },
        };
        uint8_t type = 0, kind = 0;
        int64_t num = 0;
        char s[256];

        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                unsigned size = 0;
                uint8_t buf[8];
                char name[16];

                for (size_t k = 0; k < N_TYPES; k++)
                        if (types[k].code == cases[i].code)
                                size = types[k].size;
                snprintf(name, sizeof(name), "v%zu", i);
                put_bits(buf, size, cases[i].bits);
                declare_new(a, name, cases[i].code, 1, WIRE_ARRAY_VALUE, buf, size);
                assert_true(info_field(a, name, "value", &type, &kind, &num, s));
                assert_int_equal(type, WIRE_TYPE_VALUE);
                assert_int_equal(kind, WIRE_FIELD_STR);
                assert_string_equal(s, cases[i].text);
                assert_int_equal(info_int(a, name, "length"), 1);
        }
        /* An array is listed as an array and has no "value". */
        declare_new(a, "arr", 'i', 1, 0, NULL, 0);
        assert_false(info_field(a, "arr", "value", &type, &kind, &num, s));
        assert_int_equal(type, WIRE_TYPE_ARRAY);
        /* A value follows what is set and added. */
        set_one(a, "v4", 'i', 0, 7);
        assert_int_equal(add(a, "v4", 'i', 0, 5, NULL), WIRE_OK);
        info_str(a, "v4", "value", s);
        assert_string_equal(s, "12");
}

static void test_counters(void **state) {
        struct client *a = client_add(*state, -1);
        uint8_t buf[8];
        bool swapped;
        uint64_t cur;

        declare_new(a, "a", 'h', 6, 0, NULL, 0);
        assert_int_equal(info_int(a, "a", "maps"), 0);
        assert_int_equal(info_int(a, "a", "sets"), 0);
        assert_int_equal(info_int(a, "a", "adds"), 0);
        assert_int_equal(info_int(a, "a", "bytes"), 12);
        assert_true(info_int(a, "a", "age_ms") >= 0);
        assert_true(info_int(a, "a", "idle_ms") >= 0);
        put_bits(buf, 2, 3);
        assert_int_equal(set(a, "a", 'h', 0, buf, 2), WIRE_OK);
        assert_int_equal(set(a, "a", 'h', 9, buf, 2), WIRE_ERANGE);           /* not counted */
        assert_int_equal(add(a, "a", 'h', 0, 1, NULL), WIRE_OK);
        assert_int_equal(add(a, "a", 'h', 1, 1, NULL), WIRE_OK);
        assert_int_equal(cas(a, "a", 'h', 0, 99, 1, &swapped, &cur), WIRE_OK);     /* miss: not a set */
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "n", "a"), WIRE_OK);
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "n", "a"), WIRE_OK);
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "n", "a"), WIRE_OK);
        assert_int_equal(info_int(a, "a", "sets"), 1);
        assert_int_equal(info_int(a, "a", "adds"), 2);
        assert_int_equal(info_int(a, "a", "maps"), 3);
        /* The daemon-wide total counts the memory of arrays and values. */
        declare_new(a, "v", 'd', 1, WIRE_ARRAY_VALUE, NULL, 0);
        assert_int_equal(stats_int(a, "bytes"), 12 + 8);
}

static void test_wrong_type_and_missing(void **state) {
        struct client *a = client_add(*state, -1);
        static const uint16_t ops[] = { WIRE_OP_ARRAY_GET, WIRE_OP_ARRAY_SET, WIRE_OP_ARRAY_ADD, WIRE_OP_ARRAY_CAS,
                                        WIRE_OP_ARRAY_MAP };
        uint8_t four[4] = { 0 };

        assert_int_equal(call(a, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "q", (uint64_t) 0, 0u), WIRE_OK);
        for (int pass = 0; pass < 2; pass++) {
                const char *name = pass == 0 ? "q" : "missing";
                uint16_t want = pass == 0 ? WIRE_EPROTOTYPE : WIRE_ENOENT;

                for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
                        uint16_t st;

                        switch (ops[i]) {
                        case WIRE_OP_ARRAY_GET:
                                st = call(a, ops[i], NULL, "nbiw", name, 'i', (int64_t) 0, 1u);
                                break;
                        case WIRE_OP_ARRAY_SET:
                        case WIRE_OP_ARRAY_ADD:
                                st = call(a, ops[i], NULL, "nbix", name, 'i', (int64_t) 0, four, (size_t) 4);
                                break;
                        case WIRE_OP_ARRAY_CAS:
                                st = call(a, ops[i], NULL, "nbixx", name, 'i', (int64_t) 0, four, (size_t) 4, four,
                                          (size_t) 4);
                                break;
                        default:
                                st = call(a, ops[i], NULL, "n", name);
                                break;
                        }
                        assert_int_equal(st, want);
                }
        }
        /* Queue operations on an array are the wrong type too. */
        declare_new(a, "a", 'i', 1, 0, NULL, 0);
        assert_int_equal(call(a, WIRE_OP_QUEUE_QSIZE, NULL, "n", "a"), WIRE_EPROTOTYPE);
        /* Values take every array operation. */
        declare_new(a, "v", 'i', 1, WIRE_ARRAY_VALUE, NULL, 0);
        assert_int_equal(add(a, "v", 'i', -1, 3, NULL), WIRE_OK);
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "n", "v"), WIRE_OK);
}

/*
 * A type code other than the array's, on every access: EPROTOTYPE, before
 * the size and range checks, and nothing is read, written or counted. The
 * wrong codes include those of the same size as the array's ('I' and 'f'
 * for an 'i'), with which the bytes alone would have been taken.
 */
static void test_wrong_typecode(void **state) {
        static const char wrong[] = { 'b', 'B', 'h', 'H', 'I', 'l', 'L', 'q', 'Q', 'f', 'd', 'c' };
        struct client *a = client_add(*state, -1);
        int32_t init[3] = { 10, 20, 30 };
        uint8_t buf[64], big[5 * 8];
        bool swapped = false;
        uint64_t v = 0;
        size_t len = 0;

        declare_new(a, "a", 'i', 3, 0, init, sizeof(init));
        declare_new(a, "v", 'd', 1, WIRE_ARRAY_VALUE, NULL, 0);
        memset(big, 0x7f, sizeof(big));
        for (size_t i = 0; i < sizeof(wrong); i++) {
                char code = wrong[i];
                unsigned size = size_of(code);

                memset(buf, 0x7f, sizeof(buf));
                assert_int_equal(get(a, "a", code, 0, 1, buf, &len, NULL), WIRE_EPROTOTYPE);
                assert_int_equal(get(a, "a", code, 0, 3, buf, &len, NULL), WIRE_EPROTOTYPE);
                assert_int_equal(get(a, "a", code, 0, 0, NULL, &len, NULL), WIRE_EPROTOTYPE);
                /* Elements the size of the wrong type, of the array's, and none. */
                assert_int_equal(set(a, "a", code, 0, big, size), WIRE_EPROTOTYPE);
                assert_int_equal(set(a, "a", code, 0, big, 4), WIRE_EPROTOTYPE);
                assert_int_equal(set(a, "a", code, 0, big, 3 * size), WIRE_EPROTOTYPE);
                assert_int_equal(set(a, "a", code, 0, "", 0), WIRE_EPROTOTYPE);
                assert_int_equal(add(a, "a", code, 1, 1, &v), WIRE_EPROTOTYPE);
                assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbix", "a", (unsigned) code, (int64_t) 1, big,
                                      (size_t) 4), WIRE_EPROTOTYPE);
                /* The expected bits are the element's: only the type code stands in the way. */
                assert_int_equal(cas(a, "a", code, 2, 30, 99, &swapped, &v), WIRE_EPROTOTYPE);
                assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbixx", "a", (unsigned) code, (int64_t) 2,
                                      &init[2], (size_t) 4, big, (size_t) 4), WIRE_EPROTOTYPE);
                /* The type code is checked before the index. */
                assert_int_equal(get(a, "a", code, 7, 1, buf, &len, NULL), WIRE_EPROTOTYPE);
                assert_int_equal(add(a, "a", code, -9, 1, &v), WIRE_EPROTOTYPE);
                /* And a value is an array of its own type code too. */
                if (code != 'd') {
                        assert_int_equal(get(a, "v", code, 0, 1, buf, &len, NULL), WIRE_EPROTOTYPE);
                        assert_int_equal(set(a, "v", code, 0, big, size), WIRE_EPROTOTYPE);
                        assert_int_equal(add(a, "v", code, 0, 1, &v), WIRE_EPROTOTYPE);
                        assert_int_equal(cas(a, "v", code, 0, 0, 1, &swapped, &v), WIRE_EPROTOTYPE);
                }
        }
        assert_int_equal(get(a, "a", 'i', 0, 1, buf, &len, NULL), WIRE_OK);
        assert_int_equal(get(a, "v", 'i', 0, 1, buf, &len, NULL), WIRE_EPROTOTYPE);

        /* Nothing changed, and nothing but the requests was counted. */
        for (int k = 0; k < 3; k++)
                assert_int_equal(get_one(a, "a", 'i', k), (uint32_t) init[k]);
        assert_int_equal(get_one(a, "v", 'd', 0), 0);
        assert_int_equal(info_int(a, "a", "sets"), 0);
        assert_int_equal(info_int(a, "a", "adds"), 0);
        assert_int_equal(info_int(a, "v", "sets"), 0);
        assert_int_equal(info_int(a, "v", "adds"), 0);

        /* Not a type code at all is a bad argument, whatever the name is. */
        assert_int_equal(call(a, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "q", (uint64_t) 0, 0u), WIRE_OK);
        for (int k = 0; k < 3; k++) {
                const char *name = k == 0 ? "a" : k == 1 ? "q" : "missing";

                assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "nbiw", name, 'x', (int64_t) 0, 1u),
                                 WIRE_EINVAL);
                assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nbix", name, 0u, (int64_t) 0, big, (size_t) 4),
                                 WIRE_EINVAL);
                assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbix", name, 'I' | 0x80u, (int64_t) 0, big,
                                      (size_t) 4), WIRE_EINVAL);
                assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbixx", name, 'u', (int64_t) 0, big, (size_t) 4,
                                      big, (size_t) 4), WIRE_EINVAL);
        }
        /* A type code does not make another object an array, nor a missing one exist. */
        assert_int_equal(get(a, "q", 'i', 0, 1, buf, &len, NULL), WIRE_EPROTOTYPE);
        assert_int_equal(add(a, "missing", 'i', 0, 1, &v), WIRE_ENOENT);
        assert_int_equal(get_one(a, "a", 'i', 2), 30);
        assert_int_equal(client_state(a), CLIENT_READY);
}

static void test_malformed_bodies(void **state) {
        static const uint8_t bad_name[] = { 4, 'b', 'a', 'd', '!' };
        static const uint8_t long_bytes[] = { 100, 0, 0, 0, 'a', 'b', 'c' };
        struct client *a = client_add(*state, -1);
        uint8_t four[4] = { 1, 0, 0, 0 };

        declare_new(a, "a", 'i', 2, 0, NULL, 0);
        for (int pass = 0; pass < 2; pass++) {
                /* The same on an existing and a missing name: the body is checked first. */
                const char *n = pass == 0 ? "a" : "missing";

                /* DECLARE: truncated, without initial, trailing byte. */
                assert_int_equal(call(a, WIRE_OP_ARRAY_DECLARE, NULL, "nbw", n, 'i', 1u), WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_DECLARE, NULL, "nbww", n, 'i', 1u, 0u), WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_DECLARE, NULL, "nbwwxb", n, 'i', 1u, 0u, "", (size_t) 0, 0u),
                                 WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_DECLARE, NULL, "nbwwr", n, 'i', 1u, 0u, long_bytes,
                                      sizeof(long_bytes)), WIRE_EPROTO);
                /*
                 * GET, SET, ADD and CAS: truncated before and after the type
                 * code, and a trailing byte. A bad body is EPROTO whatever its
                 * type code says: right, wrong ('q') or none at all ('x').
                 */
                for (int k = 0; k < 3; k++) {
                        unsigned code = "iqx"[k];

                        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "n", n), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "nb", n, code), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "nbi", n, code, (int64_t) 0),
                                         WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "nbiwb", n, code, (int64_t) 0, 1u, 0u),
                                         WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "nbw", n, code, 1u), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nb", n, code), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nbi", n, code, (int64_t) 0),
                                         WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nbixb", n, code, (int64_t) 0, four,
                                              (size_t) 4, 0u), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nbir", n, code, (int64_t) 0, long_bytes,
                                              sizeof(long_bytes)), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nb", n, code), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbi", n, code, (int64_t) 0),
                                         WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nbixb", n, code, (int64_t) 0, four,
                                              (size_t) 4, 0u), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbix", n, code, (int64_t) 0, four,
                                              (size_t) 4), WIRE_EPROTO);
                        assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nbixxb", n, code, (int64_t) 0, four,
                                              (size_t) 4, four, (size_t) 4, 0u), WIRE_EPROTO);
                }
                /* The bodies of before the type code was added are malformed now. */
                assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "niw", n, (int64_t) 0, 1u), WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_SET, NULL, "nix", n, (int64_t) 0, four, (size_t) 4),
                                 WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_ADD, NULL, "nix", n, (int64_t) 0, four, (size_t) 4),
                                 WIRE_EPROTO);
                assert_int_equal(call(a, WIRE_OP_ARRAY_CAS, NULL, "nixx", n, (int64_t) 0, four, (size_t) 4, four,
                                      (size_t) 4), WIRE_EPROTO);
                /* MAP */
                assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "nb", n, 0u), WIRE_EPROTO);
        }
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, ""), WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_ARRAY_GET, NULL, "rbiw", bad_name, sizeof(bad_name), 'i', (int64_t) 0,
                              1u), WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_ARRAY_DECLARE, NULL, "rbwwx", bad_name, sizeof(bad_name), 'i', 1u, 0u,
                              "", (size_t) 0), WIRE_EPROTO);

        /* Nothing changed, nothing was created, and the connection goes on. */
        assert_int_equal(mpxd.n_objects, 1);
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_int_equal(get_one(a, "a", 'i', 0), 0);
        assert_int_equal(add(a, "a", 'i', 0, 1, NULL), WIRE_OK);
}

static void test_max_message(void **state) {
        struct client *a = client_add(*state, -1);
        uint32_t saved = mpxd.max_message;
        uint8_t buf[64] = { 0 };
        size_t len = 0;

        declare_new(a, "a", 'i', 16, 0, NULL, 0);
        mpxd.max_message = 16;
        /* 4 elements of 4 bytes fit, 5 do not. */
        assert_int_equal(get(a, "a", 'i', 0, 4, buf, &len, NULL), WIRE_OK);
        assert_int_equal(get(a, "a", 'i', 0, 5, buf, &len, NULL), WIRE_EMSGSIZE);
        assert_int_equal(set(a, "a", 'i', 0, buf, 16), WIRE_OK);
        assert_int_equal(set(a, "a", 'i', 0, buf, 20), WIRE_EMSGSIZE);
        assert_int_equal(declare(a, "b", 'i', 5, 0, buf, 20, NULL), WIRE_EMSGSIZE);
        /* Without initial contents a large array is fine: it is filled with set or a mapping. */
        declare_new(a, "b", 'i', 5, 0, NULL, 0);
        mpxd.max_message = saved;
}

/* MAP from a socketless client: the reply's body, and a descriptor queued with it. */
static void test_map_reply(void **state) {
        struct client *a = client_add(*state, -1);
        struct wire_reader rd;
        struct reply r;
        uint64_t size = 0;
        uint32_t length = 0;
        uint8_t code = 0;

        declare_new(a, "a", 'd', 5, 0, NULL, 0);
        assert_true(TAILQ_EMPTY(&a->out_fds));
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, &r, "n", "a"), WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u8(&rd, &code) && wire_get_u32(&rd, &length) && wire_get_u64(&rd, &size) &&
                    wire_reader_done(&rd));
        assert_int_equal(code, 'd');
        assert_int_equal(length, 5);
        assert_int_equal(size, 40);
        assert_false(TAILQ_EMPTY(&a->out_fds));
        /* A failed MAP sends no descriptor. */
        assert_int_equal(call(a, WIRE_OP_ARRAY_MAP, NULL, "n", "missing"), WIRE_ENOENT);
}

/* MAP through a real socket: the memfd arrives with the reply, maps, and is the array's memory. */
static void test_map_socketpair(void **state) {
        struct fixture *f = *state;
        struct client *a;
        struct wire_header h;
        struct wire_reader rd;
        struct stat st;
        uint8_t body[4096], code = 0;
        uint32_t length = 0;
        uint64_t size = 0, v = 0;
        int32_t init[4] = { 10, 20, 30, 40 }, *mem;
        int sv[2], fd = -1, flags;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        /*
         * call() takes replies straight out of the output buffer, so HELLO and
         * DECLARE never reach the socket; the frames fed below do.
         */
        a = client_add(f, sv[0]);
        declare_new(a, "a", 'i', 4, 0, init, sizeof(init));

        /* Pipelined: a PING before and after the MAP; only the MAP's frame carries a descriptor. */
        {
                struct wire_buf b;

                wire_buf_init(&b);
                append_request(&b, 1, WIRE_OP_PING, "s", "x");
                append_request(&b, 2, WIRE_OP_ARRAY_MAP, "n", "a");
                append_request(&b, 3, WIRE_OP_PING, "s", "y");
                feed_buf(a, &b);
        }
        assert_false(TAILQ_EMPTY(&a->out_fds));
        client_flush_dirty();
        assert_true(TAILQ_EMPTY(&a->out_fds));

        recv_frame(sv[1], &h, body, &fd);
        assert_int_equal(h.id, 1);
        assert_int_equal(fd, -1);
        recv_frame(sv[1], &h, body, &fd);
        assert_int_equal(h.id, 2);
        assert_int_equal(h.status, WIRE_OK);
        assert_true(fd >= 0);
        wire_reader_init(&rd, body, h.body_len);
        assert_true(wire_get_u8(&rd, &code) && wire_get_u32(&rd, &length) && wire_get_u64(&rd, &size) &&
                    wire_reader_done(&rd));
        assert_int_equal(code, 'i');
        assert_int_equal(length, 4);
        assert_int_equal(size, 16);
        {
                int fd3 = -1;

                recv_frame(sv[1], &h, body, &fd3);
                assert_int_equal(h.id, 3);
                assert_int_equal(fd3, -1);
        }

        /* The memfd: the array's size, sealed against resizing. */
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, 16);
        flags = fcntl(fd, F_GET_SEALS);
        assert_true(flags >= 0);
        assert_true((flags & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
                    (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
        assert_int_equal(ftruncate(fd, 0), -1);
        assert_int_equal(ftruncate(fd, 4096), -1);

        mem = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        assert_true(mem != MAP_FAILED);
        close(fd);

        /* The daemon's memory, both ways. */
        assert_int_equal(__atomic_load_n(&mem[2], __ATOMIC_SEQ_CST), 30);
        __atomic_store_n(&mem[1], -7, __ATOMIC_SEQ_CST);
        assert_int_equal((int32_t) (uint32_t) get_one(a, "a", 'i', 1), -7);
        assert_int_equal(add(a, "a", 'i', -1, 2, &v), WIRE_OK);
        assert_int_equal(__atomic_load_n(&mem[3], __ATOMIC_SEQ_CST), 42);
        __atomic_fetch_add(&mem[3], 100, __ATOMIC_SEQ_CST);
        assert_int_equal(add(a, "a", 'i', 3, 0, &v), WIRE_OK);
        assert_int_equal(v, 142);

        /* Deleted: the mapping stays valid, and the name is free for a new, zeroed array. */
        assert_int_equal(call(a, WIRE_OP_DELETE, NULL, "n", "a"), WIRE_OK);
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mem[0], 10);
        mem[0] = 11;
        assert_int_equal(mem[0], 11);
        declare_new(a, "a", 'i', 4, 0, NULL, 0);
        assert_int_equal(get_one(a, "a", 'i', 0), 0);
        assert_int_equal(munmap(mem, (size_t) size), 0);
        client_flush_dirty();
        close(sv[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_sizes),
                T(test_set_get_runs),
                T(test_ranges),
                T(test_wraparound_named),
                T(test_wraparound_table),
                T(test_float_add),
                T(test_add_rules),
                T(test_cas_hit_and_miss),
                T(test_cas_bitwise_floats),
                T(test_set_sizes),
                T(test_declare_conflicts),
                T(test_value_info),
                T(test_counters),
                T(test_wrong_type_and_missing),
                T(test_wrong_typecode),
                T(test_malformed_bodies),
                T(test_max_message),
                T(test_map_reply),
                T(test_map_socketpair),
#undef T
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
