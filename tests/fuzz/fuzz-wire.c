/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the frame codec (common/wire.c) and libmpx's field-list parser,
 * the code that reads bytes a peer chose. Each input goes through:
 *  - the header decoder, at every frame boundary of the input read as a
 *    stream of frames, each header encoded again to the same 12 bytes;
 *  - a reader program: the first byte n says that the next n bytes are
 *    the program, one wire_get_* reader per byte, run over the rest of the
 *    input as a body. Every value read is encoded again with its
 *    wire_put_* counterpart, and the encoding must equal the bytes the
 *    reads consumed; a failed read must stick and move nothing;
 *  - the field-list parser (INFO, LIST and STATS replies) over the whole
 *    input; what it parses is encoded again, parsed again and must be the
 *    same fields;
 *  - the name, status and type tables, with the input's first bytes.
 * A mismatch aborts with a message, which libFuzzer reports as a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "mpx-internal.h"
#include "fuzz.h"

enum reader_op {
        READ_U8,
        READ_U16,
        READ_U32,
        READ_U64,
        READ_I64,
        READ_NAME,
        READ_BYTES,
        READ_STR,
        _READ_MAX,
};

static _Noreturn void fuzz_fail(const char *what) {
        fprintf(stderr, "fuzz-wire: %s\n", what);
        abort();
}

static void check(bool ok, const char *what) {
        if (!ok)
                fuzz_fail(what);
}

/* A pointer the reader returned lies inside the body. */
static void check_inside(const void *p, size_t len, const uint8_t *body, size_t size) {
        const uint8_t *q = p;

        check(q >= body && len <= size && q - body <= (ptrdiff_t) (size - len), "a reader returned memory outside the body");
}

/* Read one value of the kind op says and append its encoding to out: true if the read worked. */
static bool read_and_encode(struct wire_reader *r, enum reader_op op, struct wire_buf *out, const uint8_t *body,
                            size_t size) {
        uint8_t u8;
        uint16_t u16, str_len;
        uint32_t u32, bytes_len;
        uint64_t u64;
        int64_t i64;
        const char *name, *str;
        const void *bytes;
        size_t name_len;
        int k = 0;

        switch (op) {
        case READ_U8:
                if (!wire_get_u8(r, &u8))
                        return false;
                k = wire_put_u8(out, u8);
                break;
        case READ_U16:
                if (!wire_get_u16(r, &u16))
                        return false;
                k = wire_put_u16(out, u16);
                break;
        case READ_U32:
                if (!wire_get_u32(r, &u32))
                        return false;
                k = wire_put_u32(out, u32);
                break;
        case READ_U64:
                if (!wire_get_u64(r, &u64))
                        return false;
                k = wire_put_u64(out, u64);
                break;
        case READ_I64:
                if (!wire_get_i64(r, &i64))
                        return false;
                k = wire_put_i64(out, i64);
                break;
        case READ_NAME:
                if (!wire_get_name(r, &name, &name_len))
                        return false;
                check_inside(name, name_len, body, size);
                check(wire_name_valid(name, name_len), "wire_get_name returned an invalid name");
                k = wire_put_name(out, name, name_len);
                break;
        case READ_BYTES:
                if (!wire_get_bytes(r, &bytes, &bytes_len))
                        return false;
                check_inside(bytes, bytes_len, body, size);
                k = wire_put_bytes(out, bytes, bytes_len);
                break;
        case READ_STR:
                if (!wire_get_str(r, &str, &str_len))
                        return false;
                check_inside(str, str_len, body, size);
                k = wire_put_str(out, str, str_len);
                break;
        default:
                fuzz_fail("unknown reader op");
        }
        check(k == 0, "encoding a value just read failed");
        return true;
}

/* Run the reader program over body; what was read must encode back to the bytes consumed. */
static void fuzz_reader_program(const uint8_t *program, size_t n_ops, const uint8_t *body, size_t size) {
        struct wire_reader r;
        struct wire_buf out;
        size_t consumed = 0;

        wire_buf_init(&out);
        wire_reader_init(&r, body, size);
        for (size_t i = 0; i < n_ops; i++) {
                size_t left = r.left;
                bool ok = read_and_encode(&r, (enum reader_op) (program[i] % _READ_MAX), &out, body, size);

                check(r.left <= left, "a read made the reader grow");
                if (!ok) {
                        check(r.bad, "a failed read left the reader good");
                        continue;
                }
                check(!r.bad, "a read that worked left the reader bad");
                consumed = size - r.left;
        }
        check(wire_reader_done(&r) == (!r.bad && r.left == 0), "wire_reader_done disagrees with the reader");
        if (r.bad) {
                /* Bad sticks: nothing more is read or moved. */
                size_t left = r.left;
                uint8_t u8;

                check(!wire_get_u8(&r, &u8) && r.left == left, "a bad reader read on");
        }
        check(out.len == consumed && (consumed == 0 || memcmp(out.data, body, consumed) == 0),
              "values read do not encode back to the bytes they came from");
        wire_buf_done(&out);
}

/* Encode fields back into a field list. */
static void encode_fields(struct wire_buf *b, const mpx_field *fields, size_t n) {
        struct wire_fields f;
        int k = wire_fields_begin(b, &f);

        for (size_t i = 0; i < n && k == 0; i++)
                k = fields[i].is_str ? wire_put_field_str(b, &f, fields[i].key, fields[i].str) :
                                       wire_put_field_int(b, &f, fields[i].key, fields[i].num);
        check(k == 0, "encoding parsed fields failed");
        wire_fields_end(b, &f);
}

static bool fields_equal(const mpx_field *a, const mpx_field *b, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (strcmp(a[i].key, b[i].key) != 0 || a[i].is_str != b[i].is_str)
                        return false;
                if (a[i].is_str ? strcmp(a[i].str, b[i].str) != 0 : a[i].num != b[i].num)
                        return false;
        }
        return true;
}

/*
 * Parse a field list; encode what was parsed, parse that again and compare.
 * (Not the bytes themselves: a key or a text with a NUL in it is cut there.)
 */
static void fuzz_fields(const uint8_t *data, size_t size) {
        struct wire_reader r, r2;
        mpx_field *fields = NULL, *again = NULL;
        size_t n = 0, n_again = 0;
        struct wire_buf b;
        int k;

        wire_reader_init(&r, data, size);
        k = conn_get_fields(&r, &fields, &n);
        if (k < 0) {
                check(k == -EPROTO || k == -ENOMEM, "the field parser failed with an unexpected error");
                return;
        }
        wire_buf_init(&b);
        encode_fields(&b, fields, n);
        wire_reader_init(&r2, b.data, b.len);
        k = conn_get_fields(&r2, &again, &n_again);
        check(k == 0 && n_again == n && wire_reader_done(&r2), "encoded fields do not parse back");
        check(fields_equal(fields, again, n), "fields parsed back differ");
        conn_fields_free(fields, n);
        conn_fields_free(again, n_again);
        wire_buf_done(&b);
}

/* Read the input as a stream of frames, as the daemon and libmpx do; each header encodes back. */
static void fuzz_frames(const uint8_t *data, size_t size) {
        size_t off = 0;

        while (size - off >= WIRE_HEADER_SIZE) {
                struct wire_header h;
                uint8_t again[WIRE_HEADER_SIZE];

                wire_header_decode(data + off, &h);
                wire_header_encode(again, &h);
                check(memcmp(again, data + off, WIRE_HEADER_SIZE) == 0, "a header does not encode back");
                if (size - off - WIRE_HEADER_SIZE < h.body_len)
                        break;
                off += WIRE_HEADER_SIZE + h.body_len;
        }
}

/* The tables: statuses map to errno values and back, type names to types and back, names are checked. */
static void fuzz_tables(const uint8_t *data, size_t size) {
        uint16_t v = (uint16_t) (data[0] | (size > 1 ? data[1] << 8 : 0));
        const char *type = wire_type_name(data[0]);
        const char *op = wire_op_name(v);

        if (v < _WIRE_STATUS_MAX)
                check(wire_status_from_errno(wire_status_to_errno(v)) == v, "a status does not map back");
        else
                check(wire_status_to_errno(v) == -EPROTO, "an unknown status is not -EPROTO");
        if (type)
                check(wire_type_from_name(type) == data[0], "a type name does not map back");
        check(!op || *op, "an opcode has an empty name");
        (void) wire_name_valid(data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t n_ops;

        if (size == 0)
                return 0;
        fuzz_tables(data, size);
        fuzz_frames(data, size);
        fuzz_fields(data, size);
        n_ops = data[0];
        if (n_ops > size - 1)
                n_ops = size - 1;
        fuzz_reader_program(data + 1, n_ops, data + 1 + n_ops, size - 1 - n_ops);
        return 0;
}
