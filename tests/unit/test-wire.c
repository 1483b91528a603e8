/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the wire codec (common/wire.c): every primitive through a
 * wire_buf and back through a wire_reader, the exact little-endian bytes,
 * header layout, framing, field lists, every malformed-input case the
 * reader must refuse, name validation, and the status, opcode and type
 * tables. No I/O and no daemon; allocation failure is only reached through
 * sizes too large to reserve, not through fault injection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* Sentinels written into outputs before a failing get, to prove it left them alone. */
#define SENTINEL_U8     0xa5u
#define SENTINEL_U16    0xa5a5u
#define SENTINEL_U32    0xa5a5a5a5u
#define SENTINEL_U64    UINT64_C(0xa5a5a5a5a5a5a5a5)
#define SENTINEL_I64    INT64_C(-0x5a5a5a5a5a5a5a5b)

static const char sentinel_text[] = "sentinel";

static int setup_buf(void **state) {
        struct wire_buf *b = malloc(sizeof(*b));

        if (!b)
                return -1;
        wire_buf_init(b);
        *state = b;
        return 0;
}

static int teardown_buf(void **state) {
        struct wire_buf *b = *state;

        wire_buf_done(b);
        free(b);
        return 0;
}

/* Assert that the buffer holds exactly the n bytes of expect. */
static void assert_buf_bytes(const struct wire_buf *b, const void *expect, size_t n) {
        assert_int_equal(b->len, n);
        if (n)
                assert_memory_equal(b->data, expect, n);
}

/* Assert that every kind of get fails on r and leaves its outputs alone. */
static void assert_all_gets_fail(struct wire_reader *r) {
        uint8_t u8 = SENTINEL_U8;
        uint16_t u16 = SENTINEL_U16;
        uint32_t u32 = SENTINEL_U32;
        uint64_t u64 = SENTINEL_U64;
        int64_t i64 = SENTINEL_I64;
        const char *s = sentinel_text;
        const void *v = sentinel_text;
        size_t slen = 77;
        uint32_t blen = 77;
        uint16_t tlen = 77;

        assert_false(wire_get_u8(r, &u8));
        assert_false(wire_get_u16(r, &u16));
        assert_false(wire_get_u32(r, &u32));
        assert_false(wire_get_u64(r, &u64));
        assert_false(wire_get_i64(r, &i64));
        assert_false(wire_get_name(r, &s, &slen));
        assert_ptr_equal(s, sentinel_text);
        assert_int_equal(slen, 77);
        assert_false(wire_get_bytes(r, &v, &blen));
        assert_ptr_equal(v, sentinel_text);
        assert_int_equal(blen, 77);
        assert_false(wire_get_str(r, &s, &tlen));
        assert_ptr_equal(s, sentinel_text);
        assert_int_equal(tlen, 77);

        assert_int_equal(u8, SENTINEL_U8);
        assert_int_equal(u16, SENTINEL_U16);
        assert_int_equal(u32, SENTINEL_U32);
        assert_true(u64 == SENTINEL_U64);
        assert_true(i64 == SENTINEL_I64);
        assert_true(r->bad);
        assert_false(wire_reader_done(r));
}

/* Round trips of each primitive, and their exact bytes. */

static void test_u8_round_trip(void **state) {
        static const uint8_t values[] = { 0, 1, 0x7f, 0x80, 0xfe, 0xff };
        static const uint8_t expect[] = { 0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff };
        struct wire_buf *b = *state;
        struct wire_reader r;

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(wire_put_u8(b, values[i]), 0);
        assert_buf_bytes(b, expect, sizeof(expect));

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint8_t v = SENTINEL_U8;

                assert_true(wire_get_u8(&r, &v));
                assert_int_equal(v, values[i]);
        }
        assert_true(wire_reader_done(&r));
}

static void test_u16_round_trip(void **state) {
        static const uint16_t values[] = { 0, 1, 0x00ff, 0x0100, 0x0102, 0x7fff, 0x8000, 0xffff };
        static const uint8_t expect_0102[] = { 0x02, 0x01 };
        struct wire_buf *b = *state;
        struct wire_reader r;

        assert_int_equal(wire_put_u16(b, 0x0102), 0);
        assert_buf_bytes(b, expect_0102, sizeof(expect_0102));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(wire_put_u16(b, values[i]), 0);
        assert_int_equal(b->len, 2 * ELEMENTSOF(values));

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint16_t v = SENTINEL_U16;

                assert_true(wire_get_u16(&r, &v));
                assert_int_equal(v, values[i]);
        }
        assert_true(wire_reader_done(&r));
}

static void test_u32_round_trip(void **state) {
        static const uint32_t values[] = {
                0, 1, 0xff, 0x100, 0xffff, 0x10000, 0x01020304, 0x7fffffff, 0x80000000, 0xffffffff,
        };
        static const uint8_t expect_01020304[] = { 0x04, 0x03, 0x02, 0x01 };
        static const uint8_t expect_max[] = { 0xff, 0xff, 0xff, 0xff };
        struct wire_buf *b = *state;
        struct wire_reader r;

        assert_int_equal(wire_put_u32(b, 0x01020304), 0);
        assert_buf_bytes(b, expect_01020304, sizeof(expect_01020304));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_u32(b, UINT32_MAX), 0);
        assert_buf_bytes(b, expect_max, sizeof(expect_max));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(wire_put_u32(b, values[i]), 0);
        assert_int_equal(b->len, 4 * ELEMENTSOF(values));

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint32_t v = SENTINEL_U32;

                assert_true(wire_get_u32(&r, &v));
                assert_int_equal(v, values[i]);
        }
        assert_true(wire_reader_done(&r));
}

static void test_u64_round_trip(void **state) {
        static const uint64_t values[] = {
                0, 1, 0xff, UINT64_C(0xffffffff), UINT64_C(0x100000000),
                UINT64_C(0x0102030405060708), UINT64_C(0x7fffffffffffffff),
                UINT64_C(0x8000000000000000), UINT64_MAX,
        };
        static const uint8_t expect_0102[] = { 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01 };
        static const uint8_t expect_hi[] = { 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 };
        struct wire_buf *b = *state;
        struct wire_reader r;

        assert_int_equal(wire_put_u64(b, UINT64_C(0x0102030405060708)), 0);
        assert_buf_bytes(b, expect_0102, sizeof(expect_0102));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_u64(b, UINT64_C(0x100000000)), 0);
        assert_buf_bytes(b, expect_hi, sizeof(expect_hi));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(wire_put_u64(b, values[i]), 0);
        assert_int_equal(b->len, 8 * ELEMENTSOF(values));

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                uint64_t v = SENTINEL_U64;

                assert_true(wire_get_u64(&r, &v));
                assert_true(v == values[i]);
        }
        assert_true(wire_reader_done(&r));
}

static void test_i64_round_trip(void **state) {
        static const int64_t values[] = {
                0, 1, -1, -2, 42, -42, INT32_MAX, INT32_MIN, (int64_t) INT32_MIN - 1,
                INT64_MAX, INT64_MIN, INT64_MIN + 1, INT64_MAX - 1,
        };
        static const uint8_t expect_m1[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t expect_m2[] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        static const uint8_t expect_min[] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80 };
        static const uint8_t expect_max[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
        struct wire_buf *b = *state;
        struct wire_reader r;

        assert_int_equal(wire_put_i64(b, -1), 0);
        assert_buf_bytes(b, expect_m1, sizeof(expect_m1));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_i64(b, -2), 0);
        assert_buf_bytes(b, expect_m2, sizeof(expect_m2));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_i64(b, INT64_MIN), 0);
        assert_buf_bytes(b, expect_min, sizeof(expect_min));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_i64(b, INT64_MAX), 0);
        assert_buf_bytes(b, expect_max, sizeof(expect_max));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                assert_int_equal(wire_put_i64(b, values[i]), 0);
        assert_int_equal(b->len, 8 * ELEMENTSOF(values));

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                int64_t v = SENTINEL_I64;

                assert_true(wire_get_i64(&r, &v));
                assert_true(v == values[i]);
        }
        assert_true(wire_reader_done(&r));
}

/* An i64 and a u64 share their encoding: the bits of one read back as the other. */
static void test_i64_u64_same_encoding(void **state) {
        struct wire_buf *b = *state;
        struct wire_reader r;
        uint64_t u = 0;
        int64_t i = 0;

        assert_int_equal(wire_put_i64(b, -1), 0);
        assert_int_equal(wire_put_u64(b, UINT64_C(0x8000000000000000)), 0);
        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u64(&r, &u));
        assert_true(u == UINT64_MAX);
        assert_true(wire_get_i64(&r, &i));
        assert_true(i == INT64_MIN);
        assert_true(wire_reader_done(&r));
}

static void test_name_round_trip(void **state) {
        static const char *const names[] = {
                "a", "Z", "0", "queue", "jobs.high", "a_b:c/d@e-f", "._:/@-", "MiXeD09",
        };
        static const uint8_t expect_q[] = { 0x05, 'q', 'u', 'e', 'u', 'e' };
        struct wire_buf *b = *state;
        struct wire_reader r;

        assert_int_equal(wire_put_name(b, "queue", 5), 0);
        assert_buf_bytes(b, expect_q, sizeof(expect_q));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                assert_int_equal(wire_put_name(b, names[i], strlen(names[i])), 0);

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const char *n = NULL;
                size_t len = 0;

                assert_true(wire_get_name(&r, &n, &len));
                assert_int_equal(len, strlen(names[i]));
                assert_memory_equal(n, names[i], len);
                /* The name points into the body, no copy. */
                assert_true((const uint8_t *) n > b->data);
                assert_true((const uint8_t *) n < b->data + b->len);
        }
        assert_true(wire_reader_done(&r));
}

static void test_name_255_round_trip(void **state) {
        struct wire_buf *b = *state;
        struct wire_reader r;
        char name[255];
        const char *n = NULL;
        size_t len = 0;

        for (size_t i = 0; i < sizeof(name); i++)
                name[i] = "abcXYZ019._:/@-"[i % 15];
        assert_int_equal(wire_put_name(b, name, sizeof(name)), 0);
        assert_int_equal(b->len, 256);
        assert_int_equal(b->data[0], 255);
        assert_memory_equal(b->data + 1, name, sizeof(name));

        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_name(&r, &n, &len));
        assert_int_equal(len, 255);
        assert_ptr_equal(n, b->data + 1);
        assert_true(wire_reader_done(&r));
}

static void test_bytes_round_trip(void **state) {
        static const uint8_t payload[] = { 'x', 0x00, 'z', 0xff, 0x80 };
        static const uint8_t expect[] = { 0x05, 0x00, 0x00, 0x00, 'x', 0x00, 'z', 0xff, 0x80 };
        static const uint8_t expect_empty[] = { 0x00, 0x00, 0x00, 0x00 };
        struct wire_buf *b = *state;
        struct wire_reader r;
        uint8_t big[1000];
        const void *v;
        uint32_t len;

        assert_int_equal(wire_put_bytes(b, payload, sizeof(payload)), 0);
        assert_buf_bytes(b, expect, sizeof(expect));
        wire_buf_consume(b, b->len);

        assert_int_equal(wire_put_bytes(b, "", 0), 0);
        assert_buf_bytes(b, expect_empty, sizeof(expect_empty));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (uint8_t) (i * 7);

        assert_int_equal(wire_put_bytes(b, payload, sizeof(payload)), 0);
        assert_int_equal(wire_put_bytes(b, "", 0), 0);
        assert_int_equal(wire_put_bytes(b, NULL, 0), 0);
        assert_int_equal(wire_put_bytes(b, big, sizeof(big)), 0);
        assert_int_equal(b->len, 4 + 5 + 4 + 4 + 4 + 1000);

        wire_reader_init(&r, b->data, b->len);
        v = NULL;
        len = 77;
        assert_true(wire_get_bytes(&r, &v, &len));
        assert_int_equal(len, sizeof(payload));
        assert_memory_equal(v, payload, sizeof(payload));

        v = NULL;
        len = 77;
        assert_true(wire_get_bytes(&r, &v, &len));
        assert_int_equal(len, 0);
        assert_non_null(v);

        len = 77;
        assert_true(wire_get_bytes(&r, &v, &len));
        assert_int_equal(len, 0);

        assert_true(wire_get_bytes(&r, &v, &len));
        assert_int_equal(len, sizeof(big));
        assert_memory_equal(v, big, sizeof(big));
        assert_true(wire_reader_done(&r));
}

/* A queue item in one step is the same bytes as its u64, u32 and bytes fields one by one. */
static void test_item_as_its_fields(void **state) {
        static const uint8_t payload[] = { 'x', 0x00, 0xff };
        struct wire_buf *b = *state, fields;
        struct wire_reader r;
        uint64_t tag;
        uint32_t deliveries, len;
        const void *v;

        wire_buf_init(&fields);
        assert_int_equal(wire_put_item(b, 0x0102030405060708ull, 3, payload, sizeof(payload)), 0);
        assert_int_equal(wire_put_item(b, 0, 0, NULL, 0), 0);
        assert_int_equal(wire_put_u64(&fields, 0x0102030405060708ull) | wire_put_u32(&fields, 3) |
                                 wire_put_bytes(&fields, payload, sizeof(payload)) | wire_put_u64(&fields, 0) |
                                 wire_put_u32(&fields, 0) | wire_put_bytes(&fields, NULL, 0),
                         0);
        assert_buf_bytes(b, fields.data, fields.len);
        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u64(&r, &tag) && wire_get_u32(&r, &deliveries) && wire_get_bytes(&r, &v, &len));
        assert_int_equal(tag, 0x0102030405060708ull);
        assert_int_equal(deliveries, 3);
        assert_int_equal(len, sizeof(payload));
        assert_memory_equal(v, payload, sizeof(payload));
        wire_buf_done(&fields);
}

static void test_str_round_trip(void **state) {
        static const char *const strs[] = {
                "", "hello", "caf\xc3\xa9 \xe2\x82\xac", "with space *",
        };
        static const uint8_t expect[] = { 0x05, 0x00, 'h', 'e', 'l', 'l', 'o' };
        static const uint8_t expect_empty[] = { 0x00, 0x00 };
        struct wire_buf *b = *state;
        struct wire_reader r;
        char *longer;
        const char *s;
        uint16_t len;

        assert_int_equal(wire_put_str(b, "hello", 5), 0);
        assert_buf_bytes(b, expect, sizeof(expect));
        wire_buf_consume(b, b->len);
        assert_int_equal(wire_put_str(b, "", 0), 0);
        assert_buf_bytes(b, expect_empty, sizeof(expect_empty));
        wire_buf_consume(b, b->len);

        for (size_t i = 0; i < ELEMENTSOF(strs); i++)
                assert_int_equal(wire_put_str(b, strs[i], strlen(strs[i])), 0);

        /* The longest str the u16 length allows. */
        longer = malloc(UINT16_MAX);
        assert_non_null(longer);
        memset(longer, 'q', UINT16_MAX);
        assert_int_equal(wire_put_str(b, longer, UINT16_MAX), 0);

        wire_reader_init(&r, b->data, b->len);
        for (size_t i = 0; i < ELEMENTSOF(strs); i++) {
                s = NULL;
                len = 7777;
                assert_true(wire_get_str(&r, &s, &len));
                assert_int_equal(len, strlen(strs[i]));
                assert_non_null(s);
                if (len)
                        assert_memory_equal(s, strs[i], len);
        }
        assert_true(wire_get_str(&r, &s, &len));
        assert_int_equal(len, UINT16_MAX);
        assert_memory_equal(s, longer, UINT16_MAX);
        assert_true(wire_reader_done(&r));
        free(longer);
}

/* Every primitive, interleaved, read back in order. */
static void test_mixed_sequence(void **state) {
        struct wire_buf *b = *state;
        struct wire_reader r;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        int64_t i64;
        const char *n;
        size_t nlen;
        const void *v;
        uint32_t blen;
        const char *s;
        uint16_t slen;

        assert_int_equal(wire_put_u8(b, 0xab), 0);
        assert_int_equal(wire_put_name(b, "q1", 2), 0);
        assert_int_equal(wire_put_i64(b, -5000), 0);
        assert_int_equal(wire_put_bytes(b, "abc", 3), 0);
        assert_int_equal(wire_put_u16(b, 0xbeef), 0);
        assert_int_equal(wire_put_str(b, "hi", 2), 0);
        assert_int_equal(wire_put_u32(b, 0xdeadbeef), 0);
        assert_int_equal(wire_put_u64(b, UINT64_C(0x1122334455667788)), 0);
        assert_int_equal(b->len, 1 + 3 + 8 + 7 + 2 + 4 + 4 + 8);

        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u8(&r, &u8));
        assert_int_equal(u8, 0xab);
        assert_true(wire_get_name(&r, &n, &nlen));
        assert_int_equal(nlen, 2);
        assert_memory_equal(n, "q1", 2);
        assert_true(wire_get_i64(&r, &i64));
        assert_true(i64 == -5000);
        assert_true(wire_get_bytes(&r, &v, &blen));
        assert_int_equal(blen, 3);
        assert_memory_equal(v, "abc", 3);
        assert_true(wire_get_u16(&r, &u16));
        assert_int_equal(u16, 0xbeef);
        assert_true(wire_get_str(&r, &s, &slen));
        assert_int_equal(slen, 2);
        assert_memory_equal(s, "hi", 2);
        assert_true(wire_get_u32(&r, &u32));
        assert_int_equal(u32, 0xdeadbeef);
        assert_false(wire_reader_done(&r));
        assert_true(wire_get_u64(&r, &u64));
        assert_true(u64 == UINT64_C(0x1122334455667788));
        assert_true(wire_reader_done(&r));
}

/* Header. */

static void test_header_layout(void **state) {
        static const uint8_t expect[WIRE_HEADER_SIZE] = {
                0x04, 0x03, 0x02, 0x01,         /* body_len */
                0x08, 0x07, 0x06, 0x05,         /* id */
                0x0a, 0x09,                     /* op */
                0x0c, 0x0b,                     /* status */
        };
        struct wire_header h = {
                .body_len = 0x01020304, .id = 0x05060708, .op = 0x090a, .status = 0x0b0c,
        };
        struct wire_header d;
        uint8_t raw[WIRE_HEADER_SIZE + 2];

        assert_int_equal(WIRE_HEADER_SIZE, 12);

        /* The encoder writes exactly 12 bytes, no more. */
        memset(raw, 0xee, sizeof(raw));
        wire_header_encode(raw, &h);
        assert_memory_equal(raw, expect, WIRE_HEADER_SIZE);
        assert_int_equal(raw[12], 0xee);
        assert_int_equal(raw[13], 0xee);

        memset(&d, 0, sizeof(d));
        wire_header_decode(expect, &d);
        assert_int_equal(d.body_len, 0x01020304);
        assert_int_equal(d.id, 0x05060708);
        assert_int_equal(d.op, 0x090a);
        assert_int_equal(d.status, 0x0b0c);
}

static void test_header_round_trip(void **state) {
        static const struct wire_header headers[] = {
                { 0, 0, 0, 0 },
                { 5, 1, WIRE_OP_PING, WIRE_OK },
                { UINT32_MAX, UINT32_MAX, UINT16_MAX, UINT16_MAX },
                { WIRE_DEFAULT_MAX_FRAME, 0x80000000, WIRE_OP_QUEUE_GET, WIRE_ETIMEDOUT },
        };
        uint8_t raw[WIRE_HEADER_SIZE];

        for (size_t i = 0; i < ELEMENTSOF(headers); i++) {
                struct wire_header d = { 1, 2, 3, 4 };

                wire_header_encode(raw, &headers[i]);
                wire_header_decode(raw, &d);
                assert_int_equal(d.body_len, headers[i].body_len);
                assert_int_equal(d.id, headers[i].id);
                assert_int_equal(d.op, headers[i].op);
                assert_int_equal(d.status, headers[i].status);
        }

        /* Decoding from an odd address works: loads are byte by byte. */
        {
                uint8_t unaligned[WIRE_HEADER_SIZE + 1];
                struct wire_header d;

                wire_header_encode(unaligned + 1, &headers[3]);
                wire_header_decode(unaligned + 1, &d);
                assert_int_equal(d.body_len, WIRE_DEFAULT_MAX_FRAME);
                assert_int_equal(d.id, 0x80000000);
                assert_int_equal(d.op, WIRE_OP_QUEUE_GET);
                assert_int_equal(d.status, WIRE_ETIMEDOUT);
        }
}

/* Framing. */

static void test_frame_begin_end(void **state) {
        static const uint8_t expect[] = {
                0x09, 0x00, 0x00, 0x00,         /* body_len 9 */
                0x2a, 0x00, 0x00, 0x00,         /* id 42 */
                0xc9, 0x00,                     /* op 201 */
                0x00, 0x00,                     /* status 0 */
                0x01, 'q',                      /* name "q" */
                0x03, 0x00, 0x00, 0x00,         /* bytes "abc" */
                'a', 'b', 'c',
        };
        struct wire_buf *b = *state;
        struct wire_header h;
        size_t start = 999;

        assert_int_equal(wire_frame_begin(b, 42, WIRE_OP_QUEUE_PUT, WIRE_OK, &start), 0);
        assert_int_equal(start, 0);
        assert_int_equal(b->len, WIRE_HEADER_SIZE);
        wire_header_decode(b->data, &h);
        assert_int_equal(h.body_len, 0);
        assert_int_equal(h.id, 42);
        assert_int_equal(h.op, WIRE_OP_QUEUE_PUT);
        assert_int_equal(h.status, WIRE_OK);

        assert_int_equal(wire_put_name(b, "q", 1), 0);
        assert_int_equal(wire_put_bytes(b, "abc", 3), 0);
        wire_frame_end(b, start);
        assert_buf_bytes(b, expect, sizeof(expect));
}

static void test_frame_empty_body(void **state) {
        struct wire_buf *b = *state;
        struct wire_header h;
        size_t start;

        assert_int_equal(wire_frame_begin(b, 7, WIRE_OP_STATS, WIRE_EUSERS, &start), 0);
        wire_frame_end(b, start);
        assert_int_equal(b->len, WIRE_HEADER_SIZE);
        wire_header_decode(b->data, &h);
        assert_int_equal(h.body_len, 0);
        assert_int_equal(h.id, 7);
        assert_int_equal(h.op, WIRE_OP_STATS);
        assert_int_equal(h.status, WIRE_EUSERS);
}

/* A frame begun after other data in the buffer reports its own offset. */
static void test_frame_begin_after_data(void **state) {
        struct wire_buf *b = *state;
        struct wire_header h;
        size_t start;

        assert_int_equal(wire_put_raw(b, "abc", 3), 0);
        assert_int_equal(wire_frame_begin(b, 1, WIRE_OP_HELLO, 0, &start), 0);
        assert_int_equal(start, 3);
        assert_int_equal(wire_put_u32(b, WIRE_VERSION), 0);
        wire_frame_end(b, start);
        assert_int_equal(b->len, 3 + WIRE_HEADER_SIZE + 4);
        assert_memory_equal(b->data, "abc", 3);
        wire_header_decode(b->data + start, &h);
        assert_int_equal(h.body_len, 4);
        assert_int_equal(h.op, WIRE_OP_HELLO);
}

static void test_frame_abort(void **state) {
        struct wire_buf *b = *state;
        struct wire_header h;
        uint8_t *snapshot;
        size_t start, first_len;

        /* Abort of the only frame empties the buffer. */
        assert_int_equal(wire_frame_begin(b, 1, WIRE_OP_PING, 0, &start), 0);
        assert_int_equal(wire_put_bytes(b, "zz", 2), 0);
        wire_frame_abort(b, start);
        assert_int_equal(b->len, 0);

        /* Abort of a second frame leaves the first one exactly as it was. */
        assert_int_equal(wire_frame_begin(b, 2, WIRE_OP_PING, 0, &start), 0);
        assert_int_equal(wire_put_bytes(b, "echo", 4), 0);
        wire_frame_end(b, start);
        first_len = b->len;
        snapshot = malloc(first_len);
        assert_non_null(snapshot);
        memcpy(snapshot, b->data, first_len);

        assert_int_equal(wire_frame_begin(b, 3, WIRE_OP_QUEUE_GET, 0, &start), 0);
        assert_int_equal(start, first_len);
        assert_int_equal(wire_put_name(b, "other", 5), 0);
        assert_int_equal(wire_put_i64(b, -1), 0);
        wire_frame_abort(b, start);
        assert_buf_bytes(b, snapshot, first_len);

        /* The next frame goes where the aborted one was. */
        assert_int_equal(wire_frame_begin(b, 4, WIRE_OP_DELETE, 0, &start), 0);
        assert_int_equal(start, first_len);
        assert_int_equal(wire_put_name(b, "x", 1), 0);
        wire_frame_end(b, start);
        assert_int_equal(b->len, first_len + WIRE_HEADER_SIZE + 2);
        assert_memory_equal(b->data, snapshot, first_len);
        wire_header_decode(b->data + start, &h);
        assert_int_equal(h.body_len, 2);
        assert_int_equal(h.id, 4);
        assert_int_equal(h.op, WIRE_OP_DELETE);
        free(snapshot);
}

/* Two frames back to back, then parsed out of the buffer as a reader of a stream would. */
static void test_frame_back_to_back(void **state) {
        struct wire_buf *b = *state;
        struct wire_header h;
        struct wire_reader r;
        size_t s1, s2, off;
        const void *v;
        uint32_t blen;
        const char *n;
        size_t nlen;
        int64_t t;

        assert_int_equal(wire_frame_begin(b, 10, WIRE_OP_PING, 0, &s1), 0);
        assert_int_equal(wire_put_bytes(b, "ping!", 5), 0);
        wire_frame_end(b, s1);
        assert_int_equal(wire_frame_begin(b, 11, WIRE_OP_QUEUE_JOIN, 0, &s2), 0);
        assert_int_equal(s2, WIRE_HEADER_SIZE + 9);
        assert_int_equal(wire_put_name(b, "jobs", 4), 0);
        assert_int_equal(wire_put_i64(b, -1), 0);
        wire_frame_end(b, s2);
        assert_int_equal(b->len, 2 * WIRE_HEADER_SIZE + 9 + 13);

        off = 0;
        wire_header_decode(b->data + off, &h);
        assert_int_equal(h.body_len, 9);
        assert_int_equal(h.id, 10);
        assert_int_equal(h.op, WIRE_OP_PING);
        wire_reader_init(&r, b->data + off + WIRE_HEADER_SIZE, h.body_len);
        assert_true(wire_get_bytes(&r, &v, &blen));
        assert_int_equal(blen, 5);
        assert_memory_equal(v, "ping!", 5);
        assert_true(wire_reader_done(&r));
        off += WIRE_HEADER_SIZE + h.body_len;

        wire_header_decode(b->data + off, &h);
        assert_int_equal(h.body_len, 13);
        assert_int_equal(h.id, 11);
        assert_int_equal(h.op, WIRE_OP_QUEUE_JOIN);
        wire_reader_init(&r, b->data + off + WIRE_HEADER_SIZE, h.body_len);
        assert_true(wire_get_name(&r, &n, &nlen));
        assert_int_equal(nlen, 4);
        assert_memory_equal(n, "jobs", 4);
        assert_true(wire_get_i64(&r, &t));
        assert_true(t == -1);
        assert_true(wire_reader_done(&r));
        off += WIRE_HEADER_SIZE + h.body_len;
        assert_int_equal(off, b->len);

        /* Consuming the first frame leaves the second at the front, intact. */
        wire_buf_consume(b, s2);
        wire_header_decode(b->data, &h);
        assert_int_equal(h.id, 11);
        assert_int_equal(h.body_len, 13);
        assert_int_equal(b->len, WIRE_HEADER_SIZE + 13);
}

/* Malformed input. */

static void test_truncated_integers(void **state) {
        static const uint8_t full[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        struct wire_reader r;

        for (size_t len = 0; len < 1; len++) {
                uint8_t v = SENTINEL_U8;

                wire_reader_init(&r, full, len);
                assert_false(wire_get_u8(&r, &v));
                assert_int_equal(v, SENTINEL_U8);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }
        for (size_t len = 0; len < 2; len++) {
                uint16_t v = SENTINEL_U16;

                wire_reader_init(&r, full, len);
                assert_false(wire_get_u16(&r, &v));
                assert_int_equal(v, SENTINEL_U16);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }
        for (size_t len = 0; len < 4; len++) {
                uint32_t v = SENTINEL_U32;

                wire_reader_init(&r, full, len);
                assert_false(wire_get_u32(&r, &v));
                assert_int_equal(v, SENTINEL_U32);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }
        for (size_t len = 0; len < 8; len++) {
                uint64_t v = SENTINEL_U64;
                int64_t i = SENTINEL_I64;

                wire_reader_init(&r, full, len);
                assert_false(wire_get_u64(&r, &v));
                assert_true(v == SENTINEL_U64);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));

                wire_reader_init(&r, full, len);
                assert_false(wire_get_i64(&r, &i));
                assert_true(i == SENTINEL_I64);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }

        /* Truncated after a good value: the good one is read, the next fails. */
        for (size_t len = 9; len < 16; len++) {
                uint8_t body[16];
                uint64_t v = 0;

                memset(body, 0x11, sizeof(body));
                wire_reader_init(&r, body, len);
                assert_true(wire_get_u64(&r, &v));
                assert_true(v == UINT64_C(0x1111111111111111));
                v = SENTINEL_U64;
                assert_false(wire_get_u64(&r, &v));
                assert_true(v == SENTINEL_U64);
                assert_false(wire_reader_done(&r));
        }
}

static void test_truncated_bytes(void **state) {
        static const uint8_t short_by_one[] = { 0x05, 0x00, 0x00, 0x00, 'a', 'b', 'c', 'd' };
        static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'a', 'b' };
        static const uint8_t high_bit[] = { 0x00, 0x00, 0x00, 0x80, 'a' };
        struct wire_reader r;
        const void *v;
        uint32_t len;

        /* The length prefix itself cut short, at every length. */
        for (size_t n = 0; n < 4; n++) {
                v = sentinel_text;
                len = 77;
                wire_reader_init(&r, short_by_one, n);
                assert_false(wire_get_bytes(&r, &v, &len));
                assert_ptr_equal(v, sentinel_text);
                assert_int_equal(len, 77);
                assert_false(wire_reader_done(&r));
        }

        /* Every body shorter than the prefix claims. */
        for (size_t n = 4; n <= sizeof(short_by_one); n++) {
                v = sentinel_text;
                len = 77;
                wire_reader_init(&r, short_by_one, n);
                assert_false(wire_get_bytes(&r, &v, &len));
                assert_ptr_equal(v, sentinel_text);
                assert_int_equal(len, 77);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }

        v = sentinel_text;
        len = 77;
        wire_reader_init(&r, huge, sizeof(huge));
        assert_false(wire_get_bytes(&r, &v, &len));
        assert_ptr_equal(v, sentinel_text);
        assert_int_equal(len, 77);
        assert_false(wire_reader_done(&r));

        wire_reader_init(&r, high_bit, sizeof(high_bit));
        assert_false(wire_get_bytes(&r, &v, &len));
        assert_ptr_equal(v, sentinel_text);
        assert_false(wire_reader_done(&r));
}

static void test_truncated_str(void **state) {
        static const uint8_t short_by_one[] = { 0x04, 0x00, 'a', 'b', 'c' };
        static const uint8_t huge[] = { 0xff, 0xff, 'a' };
        struct wire_reader r;
        const char *s;
        uint16_t len;

        for (size_t n = 0; n <= sizeof(short_by_one); n++) {
                s = sentinel_text;
                len = 77;
                wire_reader_init(&r, short_by_one, n);
                assert_false(wire_get_str(&r, &s, &len));
                assert_ptr_equal(s, sentinel_text);
                assert_int_equal(len, 77);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }

        wire_reader_init(&r, huge, sizeof(huge));
        assert_false(wire_get_str(&r, &s, &len));
        assert_ptr_equal(s, sentinel_text);
        assert_int_equal(len, 77);
        assert_false(wire_reader_done(&r));
}

static void test_truncated_name(void **state) {
        static const uint8_t short_by_one[] = { 0x04, 'a', 'b', 'c' };
        static const uint8_t claims_255[] = { 0xff, 'a', 'b' };
        struct wire_reader r;
        const char *n;
        size_t len;

        for (size_t k = 0; k <= sizeof(short_by_one); k++) {
                n = sentinel_text;
                len = 77;
                wire_reader_init(&r, short_by_one, k);
                assert_false(wire_get_name(&r, &n, &len));
                assert_ptr_equal(n, sentinel_text);
                assert_int_equal(len, 77);
                assert_true(r.bad);
                assert_false(wire_reader_done(&r));
        }

        wire_reader_init(&r, claims_255, sizeof(claims_255));
        assert_false(wire_get_name(&r, &n, &len));
        assert_ptr_equal(n, sentinel_text);
        assert_false(wire_reader_done(&r));
}

static void test_name_zero_length(void **state) {
        static const uint8_t zero[] = { 0x00 };
        static const uint8_t zero_then_more[] = { 0x00, 'a', 'b' };
        struct wire_reader r;
        const char *n = sentinel_text;
        size_t len = 77;

        wire_reader_init(&r, zero, sizeof(zero));
        assert_false(wire_get_name(&r, &n, &len));
        assert_ptr_equal(n, sentinel_text);
        assert_int_equal(len, 77);
        assert_true(r.bad);
        assert_false(wire_reader_done(&r));

        wire_reader_init(&r, zero_then_more, sizeof(zero_then_more));
        assert_false(wire_get_name(&r, &n, &len));
        assert_ptr_equal(n, sentinel_text);
        assert_false(wire_reader_done(&r));
}

static void test_name_forbidden_bytes(void **state) {
        static const uint8_t forbidden[] = { ' ', '\0', 0xff, '*' };

        for (size_t i = 0; i < ELEMENTSOF(forbidden); i++) {
                /* The forbidden byte alone, first, in the middle and last. */
                uint8_t bodies[4][4] = {
                        { 1, forbidden[i] },
                        { 3, forbidden[i], 'a', 'b' },
                        { 3, 'a', forbidden[i], 'b' },
                        { 3, 'a', 'b', forbidden[i] },
                };

                for (size_t j = 0; j < ELEMENTSOF(bodies); j++) {
                        struct wire_reader r;
                        const char *n = sentinel_text;
                        size_t len = 77;

                        wire_reader_init(&r, bodies[j], 1 + bodies[j][0]);
                        assert_false(wire_get_name(&r, &n, &len));
                        assert_ptr_equal(n, sentinel_text);
                        assert_int_equal(len, 77);
                        assert_true(r.bad);
                        assert_false(wire_reader_done(&r));
                        assert_all_gets_fail(&r);
                }
        }
}

/* A name of the maximum length, read from hand-made bytes. */
static void test_name_255_accepted(void **state) {
        uint8_t body[256];
        struct wire_reader r;
        const char *n = NULL;
        size_t len = 0;

        body[0] = 255;
        memset(body + 1, 'n', 255);
        body[128] = '@';
        wire_reader_init(&r, body, sizeof(body));
        assert_true(wire_get_name(&r, &n, &len));
        assert_ptr_equal(n, body + 1);
        assert_int_equal(len, 255);
        assert_true(wire_reader_done(&r));
}

/* Once a reader is bad, every get fails, even where the bytes would be enough. */
static void test_bad_is_sticky(void **state) {
        uint8_t body[64];
        struct wire_reader r;
        uint32_t v32 = 0;
        uint64_t v64 = SENTINEL_U64;

        memset(body, 'a', sizeof(body));

        /* Bad from a truncated integer: ask for 8 of the 3 left over after a u32. */
        wire_reader_init(&r, body, 7);
        assert_true(wire_get_u32(&r, &v32));
        assert_false(wire_get_u64(&r, &v64));
        assert_true(v64 == SENTINEL_U64);
        assert_all_gets_fail(&r);

        /* Bad from a too-long bytes prefix, with plenty left for small gets. */
        body[0] = 0xff;
        body[1] = 0xff;
        body[2] = 0x00;
        body[3] = 0x00;
        wire_reader_init(&r, body, sizeof(body));
        {
                const void *v = sentinel_text;
                uint32_t len = 77;

                assert_false(wire_get_bytes(&r, &v, &len));
                assert_ptr_equal(v, sentinel_text);
        }
        assert_all_gets_fail(&r);

        /* Bad from an invalid name, with valid data behind it. */
        body[0] = 2;
        body[1] = 'a';
        body[2] = '*';
        body[3] = 1;
        body[4] = 'b';
        wire_reader_init(&r, body, sizeof(body));
        {
                const char *n = sentinel_text;
                size_t len = 77;

                assert_false(wire_get_name(&r, &n, &len));
                assert_ptr_equal(n, sentinel_text);
        }
        assert_all_gets_fail(&r);

        /* Bad from a zero-length name. */
        body[0] = 0;
        wire_reader_init(&r, body, sizeof(body));
        {
                const char *n = sentinel_text;
                size_t len = 77;

                assert_false(wire_get_name(&r, &n, &len));
        }
        assert_all_gets_fail(&r);

        /* Bad from reading past the end of an empty body. */
        wire_reader_init(&r, body, 0);
        assert_true(wire_reader_done(&r));
        assert_all_gets_fail(&r);

        /* Re-initialising a reader clears the failure. */
        wire_reader_init(&r, body, 4);
        assert_false(r.bad);
        assert_true(wire_get_u32(&r, &v32));
        assert_true(wire_reader_done(&r));
}

static void test_reader_done_leftover(void **state) {
        static const uint8_t body[] = { 1, 2, 3 };
        struct wire_reader r;
        uint8_t v;
        uint16_t w;

        wire_reader_init(&r, body, sizeof(body));
        assert_false(wire_reader_done(&r));
        assert_true(wire_get_u8(&r, &v));
        assert_int_equal(v, 1);
        assert_false(wire_reader_done(&r));
        assert_true(wire_get_u16(&r, &w));
        assert_int_equal(w, 0x0302);
        assert_true(wire_reader_done(&r));

        /* A valid message followed by trailing garbage is not done. */
        wire_reader_init(&r, body, sizeof(body));
        assert_true(wire_get_u16(&r, &w));
        assert_false(r.bad);
        assert_false(wire_reader_done(&r));

        /* An empty body is done with nothing read. */
        wire_reader_init(&r, body, 0);
        assert_true(wire_reader_done(&r));
        wire_reader_init(&r, NULL, 0);
        assert_true(wire_reader_done(&r));
}

/* Names. */

static bool name_char_allowed(unsigned c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == ':' || c == '/' || c == '@' || c == '-';
}

static void test_name_valid_boundaries(void **state) {
        char name[257];

        memset(name, 'a', sizeof(name));
        assert_false(wire_name_valid(name, 0));
        assert_false(wire_name_valid("", 0));
        assert_true(wire_name_valid(name, 1));
        assert_true(wire_name_valid(name, 2));
        assert_true(wire_name_valid(name, 254));
        assert_true(wire_name_valid(name, 255));
        assert_false(wire_name_valid(name, 256));
        assert_false(wire_name_valid(name, 257));
        assert_false(wire_name_valid(name, SIZE_MAX));

        /* Only the first len bytes count: a bad byte just past the end is fine. */
        name[1] = ' ';
        assert_true(wire_name_valid(name, 1));
        assert_false(wire_name_valid(name, 2));
}

static void test_name_valid_punctuation(void **state) {
        static const char punct[] = "._:/@-";

        for (size_t i = 0; i < sizeof(punct) - 1; i++) {
                char alone[1] = { punct[i] };
                char mid[3] = { 'a', punct[i], 'b' };

                assert_true(wire_name_valid(alone, 1));
                assert_true(wire_name_valid(mid, 3));
        }
        assert_true(wire_name_valid(punct, sizeof(punct) - 1));
        assert_true(wire_name_valid("abcdefghijklmnopqrstuvwxyz", 26));
        assert_true(wire_name_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26));
        assert_true(wire_name_valid("0123456789", 10));
}

/* Every one of the 256 byte values, alone and inside a name. */
static void test_name_valid_every_byte(void **state) {
        for (unsigned c = 0; c < 256; c++) {
                unsigned char alone[1] = { (unsigned char) c };
                unsigned char mid[3] = { 'x', (unsigned char) c, 'y' };
                bool allowed = name_char_allowed(c);

                if (wire_name_valid(alone, 1) != allowed || wire_name_valid(mid, 3) != allowed)
                        fail_msg("byte 0x%02x: expected %s", c, allowed ? "valid" : "invalid");
        }
}

static void test_put_name_rejects(void **state) {
        static const struct {
                const char *name;
                size_t len;
        } bad[] = {
                { "", 0 },
                { "a", 0 },
                { " ", 1 },
                { "a b", 3 },
                { "a\0b", 3 },
                { "\xff", 1 },
                { "q*", 2 },
                { "x\n", 2 },
                { "caf\xc3\xa9", 5 },
        };
        static const uint8_t before[] = { 0x01, 0x02, 0x03 };
        struct wire_buf *b = *state;
        char big[256];

        assert_int_equal(wire_put_raw(b, before, sizeof(before)), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                assert_int_equal(wire_put_name(b, bad[i].name, bad[i].len), -EINVAL);
                assert_buf_bytes(b, before, sizeof(before));
        }

        memset(big, 'a', sizeof(big));
        assert_int_equal(wire_put_name(b, big, 256), -EINVAL);
        assert_buf_bytes(b, before, sizeof(before));
        assert_int_equal(wire_put_name(b, big, 255), 0);
        assert_int_equal(b->len, sizeof(before) + 256);
}

/* Field lists. */

/* Read one field key and kind by hand. */
static void read_field_key(struct wire_reader *r, const char *key, uint8_t kind) {
        uint8_t key_len = 0, k = 0xff;
        uint8_t buf[256];

        assert_true(wire_get_u8(r, &key_len));
        assert_int_equal(key_len, strlen(key));
        for (size_t i = 0; i < key_len; i++)
                assert_true(wire_get_u8(r, &buf[i]));
        assert_memory_equal(buf, key, key_len);
        assert_true(wire_get_u8(r, &k));
        assert_int_equal(k, kind);
}

static void read_field_int(struct wire_reader *r, const char *key, int64_t v) {
        int64_t got = SENTINEL_I64;

        read_field_key(r, key, WIRE_FIELD_INT);
        assert_true(wire_get_i64(r, &got));
        assert_true(got == v);
}

static void read_field_str(struct wire_reader *r, const char *key, const char *s) {
        const char *got = NULL;
        uint16_t len = 0;

        read_field_key(r, key, WIRE_FIELD_STR);
        assert_true(wire_get_str(r, &got, &len));
        assert_int_equal(len, strlen(s));
        if (len)
                assert_memory_equal(got, s, len);
}

static void test_fields(void **state) {
        struct wire_buf *b = *state;
        struct wire_fields f;
        struct wire_reader r;
        uint64_t lead = 0;
        uint16_t n = 0;

        /* Something before the list, so the count is not at offset 0. */
        assert_int_equal(wire_put_u64(b, 0x1234), 0);

        assert_int_equal(wire_fields_begin(b, &f), 0);
        assert_int_equal(f.at, 8);
        assert_int_equal(f.n, 0);
        assert_int_equal(wire_put_field_int(b, &f, "size", 12), 0);
        assert_int_equal(wire_put_field_str(b, &f, "type", "queue"), 0);
        assert_int_equal(wire_put_field_int(b, &f, "min", INT64_MIN), 0);
        assert_int_equal(wire_put_field_str(b, &f, "empty", ""), 0);
        assert_int_equal(wire_put_field_int(b, &f, "neg", -1), 0);
        assert_int_equal(wire_put_field_str(b, &f, "", "no key"), 0);
        assert_int_equal(f.n, 6);
        wire_fields_end(b, &f);
        assert_int_equal(wire_put_u8(b, 0x99), 0);

        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u64(&r, &lead));
        assert_true(lead == 0x1234);
        assert_true(wire_get_u16(&r, &n));
        assert_int_equal(n, 6);
        read_field_int(&r, "size", 12);
        read_field_str(&r, "type", "queue");
        read_field_int(&r, "min", INT64_MIN);
        read_field_str(&r, "empty", "");
        read_field_int(&r, "neg", -1);
        read_field_str(&r, "", "no key");
        {
                uint8_t tail = 0;

                assert_true(wire_get_u8(&r, &tail));
                assert_int_equal(tail, 0x99);
        }
        assert_true(wire_reader_done(&r));
}

static void test_fields_exact_bytes(void **state) {
        static const uint8_t expect[] = {
                0x02, 0x00,                                             /* n = 2 */
                0x01, 'a', 0x00,                                        /* key "a", int */
                0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,         /* -2 */
                0x02, 'b', 'c', 0x01,                                   /* key "bc", str */
                0x02, 0x00, 'x', 'y',                                   /* "xy" */
        };
        struct wire_buf *b = *state;
        struct wire_fields f;

        assert_int_equal(wire_fields_begin(b, &f), 0);
        assert_int_equal(wire_put_field_int(b, &f, "a", -2), 0);
        assert_int_equal(wire_put_field_str(b, &f, "bc", "xy"), 0);
        wire_fields_end(b, &f);
        assert_buf_bytes(b, expect, sizeof(expect));
}

static void test_fields_empty(void **state) {
        static const uint8_t expect[] = { 0x00, 0x00 };
        struct wire_buf *b = *state;
        struct wire_fields f;

        assert_int_equal(wire_fields_begin(b, &f), 0);
        wire_fields_end(b, &f);
        assert_buf_bytes(b, expect, sizeof(expect));
}

/* More fields than fit one byte of the count: the count is a full u16. */
static void test_fields_many(void **state) {
        struct wire_buf *b = *state;
        struct wire_fields f;
        struct wire_reader r;
        uint16_t n = 0;

        assert_int_equal(wire_fields_begin(b, &f), 0);
        for (int i = 0; i < 300; i++)
                assert_int_equal(wire_put_field_int(b, &f, "k", i), 0);
        wire_fields_end(b, &f);

        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u16(&r, &n));
        assert_int_equal(n, 300);
        for (int i = 0; i < 300; i++)
                read_field_int(&r, "k", i);
        assert_true(wire_reader_done(&r));
}

static void test_field_key_too_long(void **state) {
        struct wire_buf *b = *state;
        struct wire_fields f;
        struct wire_reader r;
        char key[257];
        size_t len_before;
        uint16_t n = 0;

        assert_int_equal(wire_fields_begin(b, &f), 0);
        assert_int_equal(wire_put_field_int(b, &f, "ok", 1), 0);
        len_before = b->len;

        memset(key, 'k', 256);
        key[256] = '\0';
        assert_int_equal(wire_put_field_int(b, &f, key, 5), -EINVAL);
        assert_int_equal(wire_put_field_str(b, &f, key, "v"), -EINVAL);
        assert_int_equal(f.n, 1);
        assert_int_equal(b->len, len_before);

        /* 255 bytes is the longest key. */
        key[255] = '\0';
        assert_int_equal(wire_put_field_int(b, &f, key, 5), 0);
        assert_int_equal(f.n, 2);
        wire_fields_end(b, &f);

        wire_reader_init(&r, b->data, b->len);
        assert_true(wire_get_u16(&r, &n));
        assert_int_equal(n, 2);
        read_field_int(&r, "ok", 1);
        read_field_int(&r, key, 5);
        assert_true(wire_reader_done(&r));
}

/* Status codes and names. */

static void test_status_errno(void **state) {
        static const struct {
                uint16_t status;
                int neg_errno;
        } table[] = {
                { WIRE_OK, 0 },
                { WIRE_EAGAIN, -EAGAIN },
                { WIRE_ETIMEDOUT, -ETIMEDOUT },
                { WIRE_ENOENT, -ENOENT },
                { WIRE_EEXIST, -EEXIST },
                { WIRE_EACCES, -EACCES },
                { WIRE_EMSGSIZE, -EMSGSIZE },
                { WIRE_EPIPE, -EPIPE },
                { WIRE_EIDRM, -EIDRM },
                { WIRE_ESHUTDOWN, -ESHUTDOWN },
                { WIRE_EINVAL, -EINVAL },
                { WIRE_EPROTO, -EPROTO },
                { WIRE_EOPNOTSUPP, -EOPNOTSUPP },
                { WIRE_ENOMEM, -ENOMEM },
                { WIRE_ENOSPC, -ENOSPC },
                { WIRE_ERANGE, -ERANGE },
                { WIRE_EPROTOTYPE, -EPROTOTYPE },
                { WIRE_EUSERS, -EUSERS },
                { WIRE_ENOTRECOVERABLE, -ENOTRECOVERABLE },
                { WIRE_EOWNERDEAD, -EOWNERDEAD },
                { WIRE_EIO, -EIO },
                { WIRE_ECANCELED, -ECANCELED },
        };

        /* The table above lists every status of the enum, in order. */
        assert_int_equal(ELEMENTSOF(table), _WIRE_STATUS_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                assert_int_equal(table[i].status, i);
                assert_int_equal(wire_status_to_errno(table[i].status), table[i].neg_errno);
                assert_int_equal(wire_status_from_errno(table[i].neg_errno), table[i].status);
        }

        /* And the round trip from the status side, for every status. */
        for (unsigned s = 0; s < _WIRE_STATUS_MAX; s++) {
                int e = wire_status_to_errno((uint16_t) s);

                assert_true(e <= 0);
                if (s != WIRE_OK)
                        assert_true(e < 0);
                assert_int_equal(wire_status_from_errno(e), s);
        }
}

static void test_status_unknown(void **state) {
        static const uint16_t unknown[] = {
                _WIRE_STATUS_MAX, _WIRE_STATUS_MAX + 1, 100, 0x7fff, 0xffff,
        };

        for (size_t i = 0; i < ELEMENTSOF(unknown); i++)
                assert_int_equal(wire_status_to_errno(unknown[i]), -EPROTO);

        /* An errno with no wire code maps to WIRE_EINVAL. */
        assert_int_equal(wire_status_from_errno(-EBADF), WIRE_EINVAL);
        assert_int_equal(wire_status_from_errno(-EBADMSG), WIRE_EINVAL);
        assert_int_equal(wire_status_from_errno(-9999), WIRE_EINVAL);
}

static void test_op_name(void **state) {
        static const struct {
                uint16_t op;
                const char *name;
        } known[] = {
                { WIRE_OP_HELLO, "hello" },
                { WIRE_OP_PING, "ping" },
                { WIRE_OP_LIST, "list" },
                { WIRE_OP_INFO, "info" },
                { WIRE_OP_DELETE, "delete" },
                { WIRE_OP_STATS, "stats" },
                { WIRE_OP_CHMOD, "chmod" },
                { WIRE_OP_CHOWN, "chown" },
                { WIRE_OP_USERS, "users" },
                { WIRE_OP_REF, "ref" },
                { WIRE_OP_UNREF, "unref" },
                { WIRE_OP_QUEUE_DECLARE, "queue.declare" },
                { WIRE_OP_QUEUE_PUT, "queue.put" },
                { WIRE_OP_QUEUE_GET, "queue.get" },
                { WIRE_OP_QUEUE_PUT_MANY, "queue.put_many" },
                { WIRE_OP_QUEUE_GET_MANY, "queue.get_many" },
                { WIRE_OP_QUEUE_QSIZE, "queue.qsize" },
                { WIRE_OP_QUEUE_CLOSE, "queue.close" },
                { WIRE_OP_QUEUE_TASK_DONE, "queue.task_done" },
                { WIRE_OP_QUEUE_JOIN, "queue.join" },
                { WIRE_OP_QUEUE_PURGE, "queue.purge" },
                { WIRE_OP_QUEUE_TOUCH, "queue.touch" },
                { WIRE_OP_QUEUE_DONE_GET, "queue.done_get" },
        };
        static const uint16_t unknown[] = { 0, 4, 99, 110, 199, 213, 299, 314, 0xffff };

        for (size_t i = 0; i < ELEMENTSOF(known); i++) {
                const char *n = wire_op_name(known[i].op);

                assert_non_null(n);
                assert_string_equal(n, known[i].name);
        }
        for (size_t i = 0; i < ELEMENTSOF(unknown); i++)
                assert_null(wire_op_name(unknown[i]));
}

static void test_type_name(void **state) {
        assert_string_equal(wire_type_name(WIRE_TYPE_ANY), "any");
        assert_string_equal(wire_type_name(WIRE_TYPE_QUEUE), "queue");
        assert_string_equal(wire_type_name(WIRE_TYPE_JOINABLE), "joinable");
        assert_null(wire_type_name(_WIRE_TYPE_MAX));
        assert_null(wire_type_name(100));
        assert_null(wire_type_name(255));

        assert_int_equal(wire_type_from_name("any"), WIRE_TYPE_ANY);
        assert_int_equal(wire_type_from_name("queue"), WIRE_TYPE_QUEUE);
        assert_int_equal(wire_type_from_name("joinable"), WIRE_TYPE_JOINABLE);
        for (unsigned t = 0; t < _WIRE_TYPE_MAX; t++)
                assert_int_equal(wire_type_from_name(wire_type_name((uint8_t) t)), t);

        assert_int_equal(wire_type_from_name(""), -EINVAL);
        assert_int_equal(wire_type_from_name("nope"), -EINVAL);
        assert_int_equal(wire_type_from_name("Queue"), -EINVAL);
        assert_int_equal(wire_type_from_name("queue "), -EINVAL);
        assert_int_equal(wire_type_from_name("queues"), -EINVAL);
}

/* The buffer. */

static void test_buf_init_done(void **state) {
        struct wire_buf b;

        wire_buf_init(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        assert_int_equal(wire_put_u32(&b, 1), 0);
        assert_non_null(b.data);
        wire_buf_done(&b);
        assert_null(b.data);
        assert_int_equal(b.len, 0);
        assert_int_equal(b.cap, 0);
        /* Done twice, or on a never-used buffer, is harmless. */
        wire_buf_done(&b);
}

static void test_buf_consume_partial(void **state) {
        struct wire_buf *b = *state;

        assert_int_equal(wire_put_raw(b, "abcdefgh", 8), 0);
        wire_buf_consume(b, 0);
        assert_buf_bytes(b, "abcdefgh", 8);
        wire_buf_consume(b, 3);
        assert_buf_bytes(b, "defgh", 5);
        wire_buf_consume(b, 1);
        assert_buf_bytes(b, "efgh", 4);

        /* Appending after a consume continues at the new end. */
        assert_int_equal(wire_put_raw(b, "ij", 2), 0);
        assert_buf_bytes(b, "efghij", 6);
        wire_buf_consume(b, 5);
        assert_buf_bytes(b, "j", 1);
}

static void test_buf_consume_full(void **state) {
        struct wire_buf *b = *state;

        assert_int_equal(wire_put_raw(b, "abcdefgh", 8), 0);
        wire_buf_consume(b, 8);
        assert_int_equal(b->len, 0);

        assert_int_equal(wire_put_raw(b, "xyz", 3), 0);
        assert_buf_bytes(b, "xyz", 3);
        wire_buf_consume(b, 100);
        assert_int_equal(b->len, 0);
        wire_buf_consume(b, 1);
        assert_int_equal(b->len, 0);

        assert_int_equal(wire_put_raw(b, "q", 1), 0);
        assert_buf_bytes(b, "q", 1);
}

static void test_buf_reserve_growth(void **state) {
        struct wire_buf *b = *state;
        uint8_t pattern[5000];
        size_t cap;

        for (size_t i = 0; i < sizeof(pattern); i++)
                pattern[i] = (uint8_t) (i * 31 + 7);

        assert_int_equal(wire_buf_reserve(b, 0), 0);
        assert_int_equal(b->len, 0);

        assert_int_equal(wire_put_raw(b, pattern, 100), 0);
        assert_true(b->cap >= 100);

        /* A reserve that fits changes nothing. */
        cap = b->cap;
        assert_int_equal(wire_buf_reserve(b, cap - b->len), 0);
        assert_int_equal(b->cap, cap);
        assert_buf_bytes(b, pattern, 100);

        /* One more byte than fits grows it, keeping the contents. */
        assert_int_equal(wire_buf_reserve(b, cap - b->len + 1), 0);
        assert_true(b->cap > cap);
        assert_true(b->cap >= cap + 1);
        assert_buf_bytes(b, pattern, 100);

        /* A large reserve, then fill it without another reallocation. */
        assert_int_equal(wire_buf_reserve(b, sizeof(pattern) - 100), 0);
        assert_true(b->cap >= sizeof(pattern));
        assert_buf_bytes(b, pattern, 100);
        {
                uint8_t *data = b->data;

                cap = b->cap;
                assert_int_equal(wire_put_raw(b, pattern + 100, sizeof(pattern) - 100), 0);
                assert_ptr_equal(b->data, data);
                assert_int_equal(b->cap, cap);
        }
        assert_buf_bytes(b, pattern, sizeof(pattern));
}

/* Many small appends through several reallocations keep every byte. */
static void test_buf_growth_by_appends(void **state) {
        struct wire_buf *b = *state;

        for (uint32_t i = 0; i < 20000; i++)
                assert_int_equal(wire_put_u32(b, i * 2654435761u), 0);
        assert_int_equal(b->len, 80000);
        assert_true(b->cap >= b->len);
        for (uint32_t i = 0; i < 20000; i++) {
                uint8_t e[4];
                uint32_t v = i * 2654435761u;

                e[0] = (uint8_t) v;
                e[1] = (uint8_t) (v >> 8);
                e[2] = (uint8_t) (v >> 16);
                e[3] = (uint8_t) (v >> 24);
                assert_memory_equal(b->data + 4 * i, e, 4);
        }
}

/* A size no allocator can give fails with -ENOMEM and leaves the buffer alone. */
static void test_buf_reserve_too_large(void **state) {
        struct wire_buf *b = *state;
        uint8_t *data;
        size_t cap;

        assert_int_equal(wire_put_raw(b, "keep", 4), 0);
        data = b->data;
        cap = b->cap;

        assert_int_equal(wire_buf_reserve(b, SIZE_MAX), -ENOMEM);
        assert_int_equal(wire_buf_reserve(b, SIZE_MAX - 4), -ENOMEM);
        assert_int_equal(wire_buf_reserve(b, SIZE_MAX / 2), -ENOMEM);
        assert_int_equal(wire_put_raw(b, "x", SIZE_MAX), -ENOMEM);
        assert_ptr_equal(b->data, data);
        assert_int_equal(b->cap, cap);
        assert_buf_bytes(b, "keep", 4);
}

/* wire_put_raw of nothing is a no-op, even on an empty buffer with a NULL source. */
static void test_put_raw_empty(void **state) {
        struct wire_buf *b = *state;

        assert_int_equal(wire_put_raw(b, NULL, 0), 0);
        assert_int_equal(b->len, 0);
        assert_int_equal(wire_put_raw(b, "ab", 2), 0);
        assert_int_equal(wire_put_raw(b, NULL, 0), 0);
        assert_buf_bytes(b, "ab", 2);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_buf, teardown_buf)

int main(void) {
        const struct CMUnitTest tests[] = {
                T(test_u8_round_trip),
                T(test_u16_round_trip),
                T(test_u32_round_trip),
                T(test_u64_round_trip),
                T(test_i64_round_trip),
                T(test_i64_u64_same_encoding),
                T(test_name_round_trip),
                T(test_name_255_round_trip),
                T(test_bytes_round_trip),
                T(test_item_as_its_fields),
                T(test_str_round_trip),
                T(test_mixed_sequence),
                T(test_header_layout),
                T(test_header_round_trip),
                T(test_frame_begin_end),
                T(test_frame_empty_body),
                T(test_frame_begin_after_data),
                T(test_frame_abort),
                T(test_frame_back_to_back),
                T(test_truncated_integers),
                T(test_truncated_bytes),
                T(test_truncated_str),
                T(test_truncated_name),
                T(test_name_zero_length),
                T(test_name_forbidden_bytes),
                T(test_name_255_accepted),
                T(test_bad_is_sticky),
                T(test_reader_done_leftover),
                T(test_name_valid_boundaries),
                T(test_name_valid_punctuation),
                T(test_name_valid_every_byte),
                T(test_put_name_rejects),
                T(test_fields),
                T(test_fields_exact_bytes),
                T(test_fields_empty),
                T(test_fields_many),
                T(test_field_key_too_long),
                T(test_status_errno),
                T(test_status_unknown),
                T(test_op_name),
                T(test_type_name),
                T(test_buf_init_done),
                T(test_buf_consume_partial),
                T(test_buf_consume_full),
                T(test_buf_reserve_growth),
                T(test_buf_growth_by_appends),
                T(test_buf_reserve_too_large),
                T(test_put_raw_empty),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
