/* SPDX-License-Identifier: MIT */
/* Round trips of the unit tests whose clients may own a real socket (see round-trip.h). */
#include "round-trip.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "client.h"
#include "request-builder.h"

void take_reply(struct client *c, uint16_t op, struct reply *ret) {
        size_t avail = c->out.len - c->out_off;

        assert_true(avail >= WIRE_HEADER_SIZE);
        wire_header_decode(c->out.data + c->out_off, &ret->h);
        assert_int_equal(ret->h.id, ROUND_TRIP_ID);
        assert_int_equal(ret->h.op, op);
        assert_true(ret->h.body_len <= REPLY_BODY_MAX);
        /* Exactly one frame. */
        assert_int_equal(avail, WIRE_HEADER_SIZE + ret->h.body_len);
        memcpy(ret->body, c->out.data + c->out_off + WIRE_HEADER_SIZE, ret->h.body_len);
        c->out.len = 0;
        c->out_off = 0;
}

uint16_t call(struct client *c, uint16_t op, struct reply *ret, const char *fmt, ...) {
        struct reply scratch;
        struct wire_buf b;
        va_list ap;

        if (!ret)
                ret = &scratch;
        wire_buf_init(&b);
        va_start(ap, fmt);
        append_request_v(&b, ROUND_TRIP_ID, op, fmt, ap);
        va_end(ap);
        client_feed(c, b.data, b.len);
        wire_buf_done(&b);
        take_reply(c, op, ret);
        /* Error replies have no body. */
        if (ret->h.status != WIRE_OK)
                assert_int_equal(ret->h.body_len, 0);
        return ret->h.status;
}

/*
 * Find an INFO field of name: the object's type in *ret_type, the field's
 * kind in *ret_kind and its value in *ret_num or ret_str (NUL-terminated,
 * room for 256). Returns false when the object has no such field.
 */
bool info_field(struct client *c, const char *name, const char *key, uint8_t *ret_type,
                       uint8_t *ret_kind, int64_t *ret_num, char *ret_str) {
        struct reply r;
        struct wire_reader rd;
        uint8_t type = 0;
        uint16_t n = 0;

        assert_int_equal(call(c, WIRE_OP_INFO, &r, "n", name), WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u8(&rd, &type) && wire_get_u16(&rd, &n));
        if (ret_type)
                *ret_type = type;
        for (uint16_t i = 0; i < n; i++) {
                uint8_t key_len = 0, kind = 0;
                const char *text = NULL;
                uint16_t text_len = 0;
                int64_t v = 0;
                bool match;

                assert_true(wire_get_u8(&rd, &key_len) && rd.left >= key_len);
                match = key_len == strlen(key) && memcmp(rd.p, key, key_len) == 0;
                rd.p += key_len;
                rd.left -= key_len;
                assert_true(wire_get_u8(&rd, &kind) && kind <= WIRE_FIELD_STR);
                if (kind == WIRE_FIELD_INT)
                        assert_true(wire_get_i64(&rd, &v));
                else
                        assert_true(wire_get_str(&rd, &text, &text_len));
                if (match) {
                        if (ret_kind)
                                *ret_kind = kind;
                        if (kind == WIRE_FIELD_INT && ret_num)
                                *ret_num = v;
                        if (kind == WIRE_FIELD_STR && ret_str) {
                                memcpy(ret_str, text, text_len);
                                ret_str[text_len] = '\0';
                        }
                        return true;
                }
        }
        assert_true(wire_reader_done(&rd));
        return false;
}

/* An integer INFO field that must exist. */
int64_t info_int(struct client *c, const char *name, const char *key) {
        uint8_t kind = 0xff;
        int64_t v = 0;
        char s[256];

        if (!info_field(c, name, key, NULL, &kind, &v, s))
                fail_msg("INFO '%s' has no field %s", name, key);
        assert_int_equal(kind, WIRE_FIELD_INT);
        return v;
}

/* A str INFO field that must exist, into s (room for 256). */
void info_str(struct client *c, const char *name, const char *key, char *s) {
        uint8_t kind = 0xff;
        int64_t v = 0;

        if (!info_field(c, name, key, NULL, &kind, &v, s))
                fail_msg("INFO '%s' has no field %s", name, key);
        assert_int_equal(kind, WIRE_FIELD_STR);
}
