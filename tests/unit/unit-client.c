/* SPDX-License-Identifier: MIT */
/*
 * Scaffolding shared by the unit tests of mpxd's object types (see
 * unit-client.h): socketless clients, request frames built from a format
 * string, replies parsed out of a client's output buffer, and the cmocka
 * fixture that sets the daemon up and tears it down around each test.
 */
#include "unit-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-internal.h"
#include "client.h"
#include "field-list.h"
#include "mpxd.h"

/* The body of the last reply taken by take_reply_at() (one at a time). */
static struct wire_buf reply_copy;

/* ---- replies of helper round trips ---- */

/* Take the next reply frame of c; its body is copied and read through ret->r. */
void take_reply_at(struct client *c, struct reply *ret, const char *file, int line) {
        size_t avail = c->out.len - c->out_off;
        struct wire_header h;

        check_at(avail >= WIRE_HEADER_SIZE, file, line, "no reply");
        wire_header_decode(c->out.data + c->out_off, &h);
        check_at(avail - WIRE_HEADER_SIZE >= h.body_len, file, line, "reply of %u bytes cut short", h.body_len);
        reply_copy.len = 0;
        assert_int_equal(wire_put_raw(&reply_copy, c->out.data + c->out_off + WIRE_HEADER_SIZE, h.body_len), 0);
        c->out_off += WIRE_HEADER_SIZE + h.body_len;
        if (c->out_off == c->out.len) {
                c->out.len = 0;
                c->out_off = 0;
        }
        ret->h = h;
        wire_reader_init(&ret->r, reply_copy.data, h.body_len);
}

/* No reply is waiting. */
void assert_no_reply_at(struct client *c, const char *file, int line) {
        struct wire_header h = { 0 };

        if (c->out.len - c->out_off >= WIRE_HEADER_SIZE)
                wire_header_decode(c->out.data + c->out_off, &h);
        check_at(c->out.len == c->out_off, file, line, "unexpected reply: id %u op %u status %u", h.id, h.op,
                 h.status);
}

/* Send one request with HELPER_ID and take its reply, which must be the only one. */
struct reply call_at(const char *file, int line, struct client *c, uint16_t op, const char *fmt, ...) {
        struct reply rep;
        va_list ap;

        assert_no_reply_at(c, file, line);
        va_start(ap, fmt);
        send_request_v(c, HELPER_ID, op, fmt, ap);
        va_end(ap);
        take_reply_at(c, &rep, file, line);
        check_at(rep.h.id == HELPER_ID && rep.h.op == op, file, line, "reply id %u op %u, expected id %u op %u",
                 rep.h.id, rep.h.op, HELPER_ID, op);
        assert_no_reply_at(c, file, line);
        return rep;
}

/* A reply's status, with an empty body unless it is OK. */
void check_status_at(const struct reply *rep, uint16_t status, const char *file, int line) {
        check_at(rep->h.status == status, file, line, "status %u, expected %u", rep->h.status, status);
        check_at(status == WIRE_OK || rep->h.body_len == 0, file, line, "error reply with a body of %u bytes",
                 rep->h.body_len);
}

/* The one u64 of an OK reply. */
uint64_t read_u64_at(struct reply *rep, const char *file, int line) {
        uint64_t v = 0;

        check_status_at(rep, WIRE_OK, file, line);
        check_at(wire_get_u64(&rep->r, &v) && wire_reader_done(&rep->r), file, line, "not one u64");
        return v;
}

/* The one i64 of an OK reply. */
int64_t read_i64_at(struct reply *rep, const char *file, int line) {
        int64_t v = 0;

        check_status_at(rep, WIRE_OK, file, line);
        check_at(wire_get_i64(&rep->r, &v) && wire_reader_done(&rep->r), file, line, "not one i64");
        return v;
}

/* The one u8 of an OK reply. */
uint8_t read_u8_at(struct reply *rep, const char *file, int line) {
        uint8_t v = 0;

        check_status_at(rep, WIRE_OK, file, line);
        check_at(wire_get_u8(&rep->r, &v) && wire_reader_done(&rep->r), file, line, "not one u8");
        return v;
}

/* An OK reply that is one bytes field equal to want. */
void check_bytes_at(struct reply *rep, const void *want, size_t want_len, const char *file, int line) {
        const void *data = NULL;
        uint32_t size = 0;

        check_status_at(rep, WIRE_OK, file, line);
        check_at(wire_get_bytes(&rep->r, &data, &size) && wire_reader_done(&rep->r), file, line, "not one bytes");
        check_at(size == want_len && memcmp(data, want, size) == 0, file, line, "got '%.*s', expected '%.*s'",
                 (int) size, (const char *) data, (int) want_len, (const char *) want);
}

/* The value of an integer field of the INFO reply about name. */
/* Find key in the INFO reply about name (of type, unless WIRE_TYPE_ANY), which must have it, and of kind. */
static struct field info_find_at(struct client *c, const char *name, uint8_t type, const char *key, uint8_t kind,
                                 const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_INFO, "n", name);
        struct field fl;
        uint8_t got_type = 0;

        check_status_at(&rep, WIRE_OK, file, line);
        check_at(wire_get_u8(&rep.r, &got_type), file, line, "malformed INFO reply");
        check_at(type == WIRE_TYPE_ANY || got_type == type, file, line, "'%s' is of type %u", name, got_type);
        check_at(field_list_read_at(&rep.r, key, &fl, file, line), file, line, "INFO '%s' has no field %s", name,
                 key);
        check_at(fl.kind == kind, file, line, "field %s is of kind %u", key, fl.kind);
        return fl;
}

/* The value of an integer field of the INFO reply about name. */
int64_t info_field_at(struct client *c, const char *name, uint8_t type, const char *key, const char *file,
                      int line) {
        return info_find_at(c, name, type, key, WIRE_FIELD_INT, file, line).num;
}

/* Every field of want has its value in the INFO reply about name. */
void check_info_fields_at(struct client *c, const char *name, uint8_t type, const struct info_want *want,
                          size_t n, const char *file, int line) {
        struct reply rep = call_at(file, line, c, WIRE_OP_INFO, "n", name);
        uint8_t got_type = 0;

        check_status_at(&rep, WIRE_OK, file, line);
        check_at(wire_get_u8(&rep.r, &got_type), file, line, "malformed INFO reply");
        check_at(type == WIRE_TYPE_ANY || got_type == type, file, line, "'%s' is of type %u", name, got_type);
        for (size_t i = 0; i < n; i++) {
                struct wire_reader r = rep.r;
                struct field fl;

                check_at(field_list_read_at(&r, want[i].key, &fl, file, line), file, line,
                         "INFO '%s' has no field %s", name, want[i].key);
                check_at(fl.kind == WIRE_FIELD_INT, file, line, "field %s is not a number", want[i].key);
                if (fl.num != want[i].value)
                        print_error("INFO '%s': field %s\n", name, want[i].key);
                _assert_int_equal(cast_to_largest_integral_type(fl.num),
                                  cast_to_largest_integral_type(want[i].value), file, line);
        }
}

/* The text of a str field of the INFO reply about name, into s (size bytes, NUL-terminated). */
void info_str_at(struct client *c, const char *name, uint8_t type, const char *key, char *s, size_t size,
                 const char *file, int line) {
        struct field fl = info_find_at(c, name, type, key, WIRE_FIELD_STR, file, line);

        snprintf(s, size, "%.*s", (int) fl.str_len, fl.str);
}

/* ---- all the replies waiting ---- */

/* Parse every reply frame of c into ret (at most max) and clear its output. */
size_t take_replies_at(struct client *c, struct frame *ret, size_t max, const char *file, int line) {
        size_t off = c->out_off, n = 0;

        while (c->out.len - off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(c->out.data + off, &h);
                check_at(c->out.len - off - WIRE_HEADER_SIZE >= h.body_len, file, line,
                         "reply frame of %u bytes is cut short", h.body_len);
                check_at(n < max, file, line, "more than %zu replies", max);
                check_at(h.body_len <= REPLY_BODY_MAX, file, line, "reply body of %u bytes", h.body_len);
                ret[n].h = h;
                memcpy(ret[n].body, c->out.data + off + WIRE_HEADER_SIZE, h.body_len);
                n++;
                off += WIRE_HEADER_SIZE + h.body_len;
        }
        check_at(off == c->out.len, file, line, "%zu stray bytes after the replies", c->out.len - off);
        c->out.len = 0;
        c->out_off = 0;
        return n;
}

/* Parse and forget every reply of c. */
size_t drop_replies_at(struct client *c, const char *file, int line) {
        struct frame r[MAX_REPLIES];

        return take_replies_at(c, r, MAX_REPLIES, file, line);
}

/* Check one parsed reply's header. */
void check_header_at(const struct frame *r, uint32_t id, uint16_t op, uint16_t status, const char *file,
                     int line) {
        check_at(r->h.id == id && r->h.op == op && r->h.status == status, file, line,
                 "reply id %u op %u status %u, expected id %u op %u status %u", r->h.id, r->h.op,
                 r->h.status, id, op, status);
}

/* Exactly one reply is waiting, with this header; it is copied into *ret. */
void assert_reply_at(struct client *c, struct frame *ret, uint32_t id, uint16_t op, uint16_t status,
                     const char *file, int line) {
        struct frame all[MAX_REPLIES];
        size_t n = take_replies_at(c, all, MAX_REPLIES, file, line);

        check_at(n == 1, file, line, "%zu replies, expected 1 (id %u op %u status %u)", n, id, op, status);
        check_header_at(&all[0], id, op, status, file, line);
        *ret = all[0];
}

/* Exactly one reply is waiting: this status and an empty body. */
void assert_status_at(struct client *c, uint32_t id, uint16_t op, uint16_t status, const char *file, int line) {
        struct frame r;

        assert_reply_at(c, &r, id, op, status, file, line);
        check_at(r.h.body_len == 0, file, line, "reply body of %u bytes, expected none", r.h.body_len);
}

/* Exactly one reply is waiting: OK and a body of one u8 equal to v. */
void assert_u8_at(struct client *c, uint32_t id, uint16_t op, uint8_t v, const char *file, int line) {
        struct frame r;

        assert_reply_at(c, &r, id, op, WIRE_OK, file, line);
        check_at(r.h.body_len == 1 && r.body[0] == v, file, line,
                 "reply body of %u bytes (%u), expected u8 %u", r.h.body_len, r.h.body_len ? r.body[0] : 0, v);
}

/* ---- every opcode of a type, each with a well-formed body ---- */

/* A well-formed body for name, as described in unit-client.h. */
void build_valid_body(struct wire_buf *b, const char *name, const char *fmt) {
        wire_buf_init(b);
        assert_int_equal(wire_put_name(b, name, strlen(name)), 0);
        for (const char *p = fmt; *p; p++) {
                switch (*p) {
                case 's':
                        assert_int_equal(wire_put_bytes(b, "k", 1), 0);
                        break;
                case 'i':
                        assert_int_equal(wire_put_i64(b, -1), 0);
                        break;
                case 'q':
                        assert_int_equal(wire_put_u64(b, 0), 0);
                        break;
                case 'w':
                        assert_int_equal(wire_put_u32(b, 1), 0);
                        break;
                case 'b':
                        assert_int_equal(wire_put_u8(b, 1), 0);
                        break;
                default:
                        fail_msg("bad format character '%c'", *p);
                }
        }
}

/* Send a body and check the status of the one reply. */
void expect_body_at(struct client *c, uint16_t op, const void *body, size_t len, uint16_t status,
                    const char *file, int line) {
        struct reply rep;

        assert_no_reply_at(c, file, line);
        send_body(c, 7, op, body, len);
        take_reply_at(c, &rep, file, line);
        check_at(rep.h.id == 7 && rep.h.op == op, file, line, "reply to another request");
        check_at(rep.h.status == status, file, line, "op %u, %zu body bytes: status %u, expected %u", op, len,
                 rep.h.status, status);
        assert_no_reply_at(c, file, line);
}

/* Cut anywhere, one byte too many, a bad name: EPROTO for every opcode of ops. */
void check_malformed_bodies_at(struct client *c, const struct op_body *ops, size_t n, const char *name,
                               const char *file, int line) {
        static const uint8_t bad_name[] = { 4, 'b', 'a', 'd', '!' };
        const char *const names[] = { name, "missing" };
        struct wire_buf b;

        for (size_t i = 0; i < n; i++) {
                for (size_t k = 0; k < ARRAY_SIZE(names); k++) {
                        build_valid_body(&b, names[k], ops[i].fmt);
                        for (size_t len = 0; len < b.len; len++)
                                expect_body_at(c, ops[i].op, b.data, len, WIRE_EPROTO, file, line);
                        assert_int_equal(wire_put_u8(&b, 0), 0);
                        expect_body_at(c, ops[i].op, b.data, b.len, WIRE_EPROTO, file, line);
                        wire_buf_done(&b);
                }
                build_valid_body(&b, name, ops[i].fmt);
                memcpy(b.data, bad_name, sizeof(bad_name));
                expect_body_at(c, ops[i].op, b.data, b.len, WIRE_EPROTO, file, line);
                wire_buf_done(&b);
        }
}

/* ENOENT on a missing object (but for the declaration), EPROTOTYPE on objects of other types. */
void check_missing_and_wrong_type_at(struct client *c, const struct op_body *ops, size_t n, uint16_t declare_op,
                                     const char *other1, const char *other2, const char *file, int line) {
        struct wire_buf b;

        for (size_t i = 0; i < n; i++) {
                if (ops[i].op != declare_op) {
                        build_valid_body(&b, "missing", ops[i].fmt);
                        expect_body_at(c, ops[i].op, b.data, b.len, WIRE_ENOENT, file, line);
                        wire_buf_done(&b);
                }
                build_valid_body(&b, other1, ops[i].fmt);
                expect_body_at(c, ops[i].op, b.data, b.len, WIRE_EPROTOTYPE, file, line);
                wire_buf_done(&b);
                build_valid_body(&b, other2, ops[i].fmt);
                expect_body_at(c, ops[i].op, b.data, b.len, WIRE_EPROTOTYPE, file, line);
                wire_buf_done(&b);
        }
}

/* ---- clients, the loop, the fixture ---- */

/* A new socketless client registered for teardown, with a session unless hello_name is NULL. */
struct client *client_add(struct fixture *f, const char *hello_name) {
        return client_add_as(f, hello_name, geteuid(), getegid());
}

/* A socketless client of a chosen uid and gid; client_add() is one of mpxd's own user. */
struct client *client_add_as(struct fixture *f, const char *hello_name, uid_t uid, gid_t gid) {
        return client_add_with(f, hello_name, 0, uid, gid);
}

/* A socketless client of a chosen pid, uid and gid. */
struct client *client_add_with(struct fixture *f, const char *hello_name, pid_t pid, uid_t uid, gid_t gid) {
        struct client *c = fixture_keep(f, client_new_as(-1, pid, uid, gid));

        if (hello_name) {
                struct frame rep;

                send_request(c, HELPER_ID, WIRE_OP_HELLO, "wt", WIRE_VERSION, hello_name);
                assert_reply(c, &rep, HELPER_ID, WIRE_OP_HELLO, WIRE_OK);
                assert_int_equal(client_state(c), CLIENT_READY);
        }
        return c;
}

/* The cmocka setup of every test. */
int unit_setup(void **state) {
        if (fixture_setup(state, sizeof(struct fixture)) < 0)
                return -1;
        wire_buf_init(&reply_copy);
        return 0;
}

/* The cmocka teardown of every test. */
int unit_teardown(void **state) {
        fixture_teardown(*state);
        wire_buf_done(&reply_copy);
        return 0;
}
