/* SPDX-License-Identifier: MIT */
/*
 * Scaffolding shared by the unit tests of mpxd's object types, which run the
 * daemon's code without any socket: a fixture of socketless clients
 * (client_new(-1)) opened with HELLO and lost at teardown, request frames
 * built from a format string and fed with client_feed(), and replies parsed
 * back out of a client's output buffer. Two styles of reply are offered: a
 * struct reply is the only reply of a helper round trip (call()), its body
 * read through a wire_reader; a struct frame is one of all the replies
 * waiting (take_replies(), assert_reply()), its body copied. The *_at
 * functions report failures at the caller's file and line; the macros
 * without _at pass __FILE__ and __LINE__.
 */
#ifndef MPX_UNIT_CLIENT_H
#define MPX_UNIT_CLIENT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>

#include "check-at.h"
#include "client.h"
#include "request-builder.h"
#include "unit-fixture.h"

#define MAX_REPLIES     16
#define REPLY_BODY_MAX  1024

/* An id no test uses for its own requests, for helper round trips. */
#define HELPER_ID       0xfff0u

/* The only reply of a round trip: its header, and a reader over a copy of its body. */
struct reply {
        struct wire_header h;
        struct wire_reader r;
};

/* One of the replies taken at once: its header and a copy of its body. */
struct frame {
        struct wire_header h;
        uint8_t body[REPLY_BODY_MAX];
};

/* ---- replies of helper round trips ---- */

/* Take the next reply frame of c; its body is copied and read through ret->r. */
void take_reply_at(struct client *c, struct reply *ret, const char *file, int line);

/* No reply is waiting. */
void assert_no_reply_at(struct client *c, const char *file, int line);

#define assert_no_reply(c) assert_no_reply_at(c, __FILE__, __LINE__)

/* Send one request with HELPER_ID and take its reply, which must be the only one. */
struct reply call_at(const char *file, int line, struct client *c, uint16_t op, const char *fmt, ...);

#define call(c, op, ...) call_at(__FILE__, __LINE__, (c), (op), __VA_ARGS__)

/* A reply's status, with an empty body unless it is OK. */
void check_status_at(const struct reply *rep, uint16_t status, const char *file, int line);

/* Send a request and check the status of its reply. */
#define expect(status, c, op, ...)                                                      \
        do {                                                                            \
                struct reply rep_ = call(c, op, __VA_ARGS__);                           \
                check_status_at(&rep_, status, __FILE__, __LINE__);                     \
        } while (0)

/* Send a request that must succeed with an empty reply. */
#define expect_empty(c, op, ...)                                                        \
        do {                                                                            \
                struct reply rep_ = call(c, op, __VA_ARGS__);                           \
                check_status_at(&rep_, WIRE_OK, __FILE__, __LINE__);                    \
                check_at(rep_.h.body_len == 0, __FILE__, __LINE__, "unexpected body");  \
        } while (0)

/* The one u64 of an OK reply, which must then be complete. */
uint64_t read_u64_at(struct reply *rep, const char *file, int line);

/* The one i64 of an OK reply, which must then be complete. */
int64_t read_i64_at(struct reply *rep, const char *file, int line);

/* The one u8 of an OK reply, which must then be complete. */
uint8_t read_u8_at(struct reply *rep, const char *file, int line);

/* An OK reply that is one bytes field equal to want (want_len bytes). */
void check_bytes_at(struct reply *rep, const void *want, size_t want_len, const char *file, int line);

/*
 * The value of an integer field of the INFO reply about name; unless type is
 * WIRE_TYPE_ANY, the object must be of that type.
 */
int64_t info_field_at(struct client *c, const char *name, uint8_t type, const char *key, const char *file,
                      int line);

/* An integer field an INFO reply must have, and its value. */
struct info_want {
        const char *key;
        int64_t value;
};

/*
 * Every field of want (n of them) has its value in the INFO reply about name
 * (of type, unless WIRE_TYPE_ANY); a failure names the field.
 */
void check_info_fields_at(struct client *c, const char *name, uint8_t type, const struct info_want *want,
                          size_t n, const char *file, int line);

/* check_info_fields(c, name, type, { "key", value }, ...) */
#define check_info_fields(c, name, type, ...)                                                           \
        check_info_fields_at(c, name, type, (const struct info_want[]) { __VA_ARGS__ },                 \
                             ARRAY_SIZE(((const struct info_want[]) { __VA_ARGS__ })), __FILE__, __LINE__)

/* The text of a str field of the INFO reply about name, into s (size bytes, NUL-terminated). */
void info_str_at(struct client *c, const char *name, uint8_t type, const char *key, char *s, size_t size,
                 const char *file, int line);

/* ---- all the replies waiting ---- */

/* Parse every reply frame of c into ret (at most max) and clear its output; returns how many. */
size_t take_replies_at(struct client *c, struct frame *ret, size_t max, const char *file, int line);

#define take_replies(c, ret, max) take_replies_at(c, ret, max, __FILE__, __LINE__)

/* Parse and forget every reply of c; returns how many there were. */
size_t drop_replies_at(struct client *c, const char *file, int line);

#define drop_replies(c) drop_replies_at(c, __FILE__, __LINE__)

/* Check one parsed reply's header. */
void check_header_at(const struct frame *r, uint32_t id, uint16_t op, uint16_t status, const char *file,
                     int line);

#define check_header(r, id, op, status) check_header_at(r, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting, with this header; it is copied into *ret. */
void assert_reply_at(struct client *c, struct frame *ret, uint32_t id, uint16_t op, uint16_t status,
                     const char *file, int line);

#define assert_reply(c, ret, id, op, status) assert_reply_at(c, ret, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting: this status and an empty body. */
void assert_status_at(struct client *c, uint32_t id, uint16_t op, uint16_t status, const char *file, int line);

#define assert_status(c, id, op, status) assert_status_at(c, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting: OK and a body of one u8 equal to v. */
void assert_u8_at(struct client *c, uint32_t id, uint16_t op, uint8_t v, const char *file, int line);

#define assert_u8(c, id, op, v) assert_u8_at(c, id, op, v, __FILE__, __LINE__)

/* ---- every opcode of a type, each with a well-formed body ---- */

/* An opcode and the fields of a well-formed body after the object's name (see build_valid_body()). */
struct op_body {
        uint16_t op;
        const char *fmt;
};

/*
 * Build a well-formed body into b (initialised here): the name, then fixed
 * arguments per format character (s "k", i -1, q 0, w 1, b 1).
 */
void build_valid_body(struct wire_buf *b, const char *name, const char *fmt);

/* Send a body and check the status of the one reply. */
void expect_body_at(struct client *c, uint16_t op, const void *body, size_t len, uint16_t status,
                    const char *file, int line);

/*
 * Every opcode of ops with its body cut anywhere or one byte too long is
 * EPROTO, whether the object name exists or not ("missing"); with a bad
 * name it is EPROTO too.
 */
void check_malformed_bodies_at(struct client *c, const struct op_body *ops, size_t n, const char *name,
                               const char *file, int line);

#define check_malformed_bodies(c, ops, name) \
        check_malformed_bodies_at(c, ops, ARRAY_SIZE(ops), name, __FILE__, __LINE__)

/*
 * Every opcode of ops but the declaration is ENOENT on a missing object,
 * and every one is EPROTOTYPE on the objects other1 and other2, which are
 * of other types.
 */
void check_missing_and_wrong_type_at(struct client *c, const struct op_body *ops, size_t n, uint16_t declare_op,
                                     const char *other1, const char *other2, const char *file, int line);

#define check_missing_and_wrong_type(c, ops, declare_op, other1, other2) \
        check_missing_and_wrong_type_at(c, ops, ARRAY_SIZE(ops), declare_op, other1, other2, __FILE__, __LINE__)

/* ---- clients and the fixture (the rest of it: unit-fixture.h) ---- */

/*
 * A new socketless client registered for teardown; unless hello_name is
 * NULL, it has opened its session under that client name.
 */
struct client *client_add(struct fixture *f, const char *hello_name);

/*
 * The same for a client of a chosen uid and gid, as if it had connected as
 * that user (client_add's is mpxd's own user, who may do everything).
 */
struct client *client_add_as(struct fixture *f, const char *hello_name, uid_t uid, gid_t gid);

/* The same with the peer's pid too, as the daemon reports it. */
struct client *client_add_with(struct fixture *f, const char *hello_name, pid_t pid, uid_t uid, gid_t gid);

/* The cmocka setup: the daemon's state and an empty fixture. */
int unit_setup(void **state);

/* The cmocka teardown: lose the fixture's clients and free the daemon's state. */
int unit_teardown(void **state);

/* A test table's entry: f between unit_setup() and unit_teardown(). */
#define unit_client_test(f) cmocka_unit_test_setup_teardown(f, unit_setup, unit_teardown)

#endif
