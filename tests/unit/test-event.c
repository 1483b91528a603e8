/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's events (daemon/event.c) and barriers
 * (daemon/barrier.c), without any socket: socketless clients
 * (client_new(-1)) are fed request frames with client_feed() and their
 * replies are parsed back out of their output buffers. Timeouts are real
 * 1 ms libevent timers, fired by running the event loop until the expected
 * waiters are gone.
 *
 * Events: set, clear, is_set, immediate and blocked waits, set waking every
 * waiter, timeouts, a lost waiter, delete and shutdown while blocked.
 * Barriers: arrival indexes and rounds, one party, a broken barrier on a
 * timeout and on a disconnect, reset and abort, timeout 0 (EAGAIN without
 * breaking, or completing as the last party), two parties on one connection,
 * delete and shutdown. Both: declare rules, wrong types, malformed bodies,
 * INFO fields, the object limit. Allocation failures are not injected here.
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

#include "mpxd.h"

#define MAX_CLIENTS     10
#define MAX_REPLIES     16
#define REPLY_BODY_MAX  1024

/* An id no test uses for its own requests, for helper round trips. */
#define HELPER_ID       0xfff0u

/* One parsed reply frame. */
struct reply {
        struct wire_header h;
        uint8_t body[REPLY_BODY_MAX];
};

/* The clients of one test; teardown loses those still here. */
struct fixture {
        struct client *c[MAX_CLIENTS];
};

/* Fail at the caller's line with a message. */
#define check_at(cond, file, line, ...)                         \
        do {                                                    \
                if (!(cond)) {                                  \
                        print_error(__VA_ARGS__);               \
                        print_error("\n");                      \
                        _fail(file, line);                      \
                }                                               \
        } while (0)

/* ---- building requests ---- */

/*
 * Feed c one request frame. Each character of fmt encodes one argument:
 *      n  name (const char *)
 *      b  u8 (unsigned)
 *      w  u32 (uint32_t)
 *      q  u64 (uint64_t)
 *      i  i64 (int64_t)
 *      r  raw bytes (const void *, size_t)
 */
static void send_request(struct client *c, uint32_t id, uint16_t op, const char *fmt, ...) {
        struct wire_buf b;
        size_t start;
        va_list ap;

        wire_buf_init(&b);
        assert_int_equal(wire_frame_begin(&b, id, op, 0, &start), 0);
        va_start(ap, fmt);
        for (const char *p = fmt; *p; p++) {
                const char *s;
                const void *raw;
                size_t len;
                int r = -1;

                switch (*p) {
                case 'n':
                        s = va_arg(ap, const char *);
                        r = wire_put_name(&b, s, strlen(s));
                        break;
                case 'b':
                        r = wire_put_u8(&b, (uint8_t) va_arg(ap, unsigned));
                        break;
                case 'w':
                        r = wire_put_u32(&b, va_arg(ap, uint32_t));
                        break;
                case 'q':
                        r = wire_put_u64(&b, va_arg(ap, uint64_t));
                        break;
                case 'i':
                        r = wire_put_i64(&b, va_arg(ap, int64_t));
                        break;
                case 'r':
                        raw = va_arg(ap, const void *);
                        len = va_arg(ap, size_t);
                        r = wire_put_raw(&b, raw, len);
                        break;
                default:
                        fail_msg("bad request format character '%c'", *p);
                }
                assert_int_equal(r, 0);
        }
        va_end(ap);
        wire_frame_end(&b, start);
        client_feed(c, b.data, b.len);
        wire_buf_done(&b);
}

/* Requests whose body is a name (INFO, DELETE, and many of each type). */
static void send_named(struct client *c, uint32_t id, uint16_t op, const char *name) {
        send_request(c, id, op, "n", name);
}

/* ---- reading replies ---- */

/* Parse every reply frame of c into ret (at most max) and clear its output; returns how many. */
static size_t take_replies_at(struct client *c, struct reply *ret, size_t max, const char *file, int line) {
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

#define take_replies(c, ret, max) take_replies_at(c, ret, max, __FILE__, __LINE__)

/* Check one parsed reply's header. */
static void check_header_at(const struct reply *r, uint32_t id, uint16_t op, uint16_t status,
                            const char *file, int line) {
        check_at(r->h.id == id && r->h.op == op && r->h.status == status, file, line,
                 "reply id %u op %u status %u, expected id %u op %u status %u", r->h.id, r->h.op,
                 r->h.status, id, op, status);
}

#define check_header(r, id, op, status) check_header_at(r, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting, with this header; it is copied into *ret. */
static void assert_reply_at(struct client *c, struct reply *ret, uint32_t id, uint16_t op, uint16_t status,
                            const char *file, int line) {
        struct reply all[MAX_REPLIES];
        size_t n = take_replies_at(c, all, MAX_REPLIES, file, line);

        check_at(n == 1, file, line, "%zu replies, expected 1 (id %u op %u status %u)", n, id, op, status);
        check_header_at(&all[0], id, op, status, file, line);
        *ret = all[0];
}

#define assert_reply(c, ret, id, op, status) assert_reply_at(c, ret, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting: this status and an empty body. */
static void assert_status_at(struct client *c, uint32_t id, uint16_t op, uint16_t status, const char *file,
                             int line) {
        struct reply r;

        assert_reply_at(c, &r, id, op, status, file, line);
        check_at(r.h.body_len == 0, file, line, "reply body of %u bytes, expected none", r.h.body_len);
}

#define assert_status(c, id, op, status) assert_status_at(c, id, op, status, __FILE__, __LINE__)

/* Exactly one reply is waiting: OK and a body of one u8 equal to v. */
static void assert_u8_at(struct client *c, uint32_t id, uint16_t op, uint8_t v, const char *file, int line) {
        struct reply r;

        assert_reply_at(c, &r, id, op, WIRE_OK, file, line);
        check_at(r.h.body_len == 1 && r.body[0] == v, file, line,
                 "reply body of %u bytes (%u), expected u8 %u", r.h.body_len, r.h.body_len ? r.body[0] : 0, v);
}

#define assert_u8(c, id, op, v) assert_u8_at(c, id, op, v, __FILE__, __LINE__)

/* No reply is waiting. */
static void assert_no_reply_at(struct client *c, const char *file, int line) {
        struct wire_header h = { 0 };

        if (c->out.len - c->out_off >= WIRE_HEADER_SIZE)
                wire_header_decode(c->out.data + c->out_off, &h);
        check_at(c->out.len == c->out_off, file, line, "unexpected reply: id %u op %u status %u", h.id, h.op,
                 h.status);
}

#define assert_no_reply(c) assert_no_reply_at(c, __FILE__, __LINE__)

/* The value of an integer field of the INFO reply about name. */
static int64_t info_field_at(struct client *c, const char *name, const char *key, const char *file,
                             int line) {
        struct reply rep;
        struct wire_reader r;
        uint8_t type = 0;
        uint16_t n = 0;

        assert_no_reply_at(c, file, line);
        send_named(c, HELPER_ID, WIRE_OP_INFO, name);
        assert_reply_at(c, &rep, HELPER_ID, WIRE_OP_INFO, WIRE_OK, file, line);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        check_at(wire_get_u8(&r, &type) && wire_get_u16(&r, &n), file, line, "malformed INFO reply");
        for (uint16_t i = 0; i < n; i++) {
                uint8_t key_len = 0, kind = 0;
                const char *text;
                uint16_t text_len;
                int64_t v = 0;
                bool match;

                check_at(wire_get_u8(&r, &key_len) && r.left >= key_len, file, line, "malformed field");
                match = key_len == strlen(key) && memcmp(r.p, key, key_len) == 0;
                r.p += key_len;
                r.left -= key_len;
                check_at(wire_get_u8(&r, &kind) && kind <= WIRE_FIELD_STR, file, line, "malformed field");
                if (kind == WIRE_FIELD_INT)
                        check_at(wire_get_i64(&r, &v), file, line, "malformed field");
                else
                        check_at(wire_get_str(&r, &text, &text_len), file, line, "malformed field");
                if (match) {
                        check_at(kind == WIRE_FIELD_INT, file, line, "field %s is not a number", key);
                        return v;
                }
        }
        check_at(false, file, line, "INFO '%s' has no field %s", name, key);
        return 0;
}

#define info_field(c, name, key) info_field_at(c, name, key, __FILE__, __LINE__)

/* ---- clients and the loop ---- */

/* A new socketless client that has opened its session, registered for teardown. */
static struct client *client_add(struct fixture *f) {
        struct client *c;
        struct reply rep;
        size_t i;

        for (i = 0; i < MAX_CLIENTS && f->c[i]; i++)
                ;
        assert_true(i < MAX_CLIENTS);
        c = client_new(-1);
        assert_non_null(c);
        f->c[i] = c;
        send_request(c, HELPER_ID, WIRE_OP_HELLO, "wr", WIRE_VERSION, "\x04\0test", (size_t) 6);
        assert_reply(c, &rep, HELPER_ID, WIRE_OP_HELLO, WIRE_OK);
        assert_true(c->hello_done);
        return c;
}

/* Lose a client as if its socket had closed; it must not be used afterwards. */
static void client_drop(struct fixture *f, struct client *c) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (f->c[i] == c) {
                        f->c[i] = NULL;
                        client_lost(c, "test");
                        return;
                }
        fail_msg("client not in the fixture");
}

/* Run the event loop until only n waiters are left: their timers fire. */
static void run_until_waiters(unsigned n) {
        for (int i = 0; i < 1000 && mpxd.n_waiters != n; i++)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        assert_int_equal(mpxd.n_waiters, n);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return -1;
        log_set_level(LOG_LEVEL_ERR);
        if (mpxd_init() < 0) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (f->c[i])
                        client_lost(f->c[i], "test");
        mpxd_done();
        free(f);
        return 0;
}

/* ---- event and barrier requests ---- */

static void send_wait(struct client *c, uint32_t id, const char *name, int64_t timeout_ms) {
        send_request(c, id, WIRE_OP_EVENT_WAIT, "ni", name, timeout_ms);
}

static void send_bwait(struct client *c, uint32_t id, const char *name, int64_t timeout_ms) {
        send_request(c, id, WIRE_OP_BARRIER_WAIT, "ni", name, timeout_ms);
}

/* A request whose body is a name and that must succeed with an empty reply. */
static void named_ok_at(struct client *c, uint16_t op, const char *name, const char *file, int line) {
        send_named(c, HELPER_ID, op, name);
        assert_status_at(c, HELPER_ID, op, WIRE_OK, file, line);
}

#define set(c, name) named_ok_at(c, WIRE_OP_EVENT_SET, name, __FILE__, __LINE__)
#define clear(c, name) named_ok_at(c, WIRE_OP_EVENT_CLEAR, name, __FILE__, __LINE__)
#define reset(c, name) named_ok_at(c, WIRE_OP_BARRIER_RESET, name, __FILE__, __LINE__)
#define abort_barrier(c, name) named_ok_at(c, WIRE_OP_BARRIER_ABORT, name, __FILE__, __LINE__)

/* Declare an event that must be new. */
static void edeclare_at(struct client *c, const char *name, const char *file, int line) {
        send_named(c, HELPER_ID, WIRE_OP_EVENT_DECLARE, name);
        assert_u8_at(c, HELPER_ID, WIRE_OP_EVENT_DECLARE, 1, file, line);
}

#define edeclare(c, name) edeclare_at(c, name, __FILE__, __LINE__)

/* Ask IS_SET and compare. */
static void assert_is_set_at(struct client *c, const char *name, uint8_t v, const char *file, int line) {
        assert_no_reply_at(c, file, line);
        send_named(c, HELPER_ID, WIRE_OP_EVENT_IS_SET, name);
        assert_u8_at(c, HELPER_ID, WIRE_OP_EVENT_IS_SET, v, file, line);
}

#define assert_is_set(c, name, v) assert_is_set_at(c, name, v, __FILE__, __LINE__)

/* Declare a barrier that must be new. */
static void bdeclare_at(struct client *c, const char *name, uint32_t parties, const char *file, int line) {
        send_request(c, HELPER_ID, WIRE_OP_BARRIER_DECLARE, "nw", name, parties);
        assert_u8_at(c, HELPER_ID, WIRE_OP_BARRIER_DECLARE, 1, file, line);
}

#define bdeclare(c, name, parties) bdeclare_at(c, name, parties, __FILE__, __LINE__)

/* Exactly one reply is waiting: a WAIT answered OK with this arrival index. */
static void assert_index_at(struct client *c, uint32_t id, uint32_t index, const char *file, int line) {
        struct reply r;
        struct wire_reader rd;
        uint32_t got = 0;

        assert_reply_at(c, &r, id, WIRE_OP_BARRIER_WAIT, WIRE_OK, file, line);
        wire_reader_init(&rd, r.body, r.h.body_len);
        check_at(wire_get_u32(&rd, &got) && wire_reader_done(&rd), file, line, "malformed WAIT reply");
        check_at(got == index, file, line, "arrival index %u, expected %u", got, index);
}

#define assert_index(c, id, index) assert_index_at(c, id, index, __FILE__, __LINE__)

/* ---- events ---- */

static void test_event_set_clear(void **state) {
        struct client *a = client_add(*state);

        edeclare(a, "e");
        assert_is_set(a, "e", 0);
        set(a, "e");
        assert_is_set(a, "e", 1);
        set(a, "e");                    /* setting a set event is no error */
        assert_is_set(a, "e", 1);
        clear(a, "e");
        assert_is_set(a, "e", 0);
        clear(a, "e");
        assert_is_set(a, "e", 0);
        assert_int_equal(info_field(a, "e", "sets"), 2);
        assert_int_equal(info_field(a, "e", "clears"), 2);

        /* Declaring again finds it, as it is. */
        set(a, "e");
        send_named(a, 1, WIRE_OP_EVENT_DECLARE, "e");
        assert_u8(a, 1, WIRE_OP_EVENT_DECLARE, 0);
        assert_is_set(a, "e", 1);
        assert_int_equal(event_declare("e", 1), 0);
        assert_int_equal(event_declare("f", 1), 1);
}

static void test_event_wait(void **state) {
        struct client *a = client_add(*state);
        struct client *w[3];

        edeclare(a, "e");
        send_wait(a, 1, "e", 0);
        assert_status(a, 1, WIRE_OP_EVENT_WAIT, WIRE_EAGAIN);
        assert_int_equal(mpxd.n_waiters, 0);
        for (int i = 0; i < 3; i++) {
                w[i] = client_add(*state);
                send_wait(w[i], 10 + (uint32_t) i, "e", i == 2 ? 60000 : -1);
                assert_no_reply(w[i]);
        }
        assert_int_equal(info_field(a, "e", "waiters"), 3);
        /* One SET wakes every waiter. */
        set(a, "e");
        for (int i = 0; i < 3; i++)
                assert_status(w[i], 10 + (uint32_t) i, WIRE_OP_EVENT_WAIT, WIRE_OK);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(info_field(a, "e", "woken"), 3);
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 0);

        /* While set, a wait returns at once, whatever its timeout. */
        send_wait(a, 2, "e", 0);
        assert_status(a, 2, WIRE_OP_EVENT_WAIT, WIRE_OK);
        send_wait(a, 3, "e", -1);
        assert_status(a, 3, WIRE_OP_EVENT_WAIT, WIRE_OK);

        /* After a clear, waits block again; a clear does not wake anyone. */
        clear(a, "e");
        send_wait(w[0], 4, "e", -1);
        assert_no_reply(w[0]);
        clear(a, "e");
        assert_no_reply(w[0]);
        set(a, "e");
        assert_status(w[0], 4, WIRE_OP_EVENT_WAIT, WIRE_OK);
}

static void test_event_timeout(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);

        edeclare(a, "e");
        send_wait(a, 1, "e", 1);
        send_wait(b, 2, "e", -1);
        run_until_waiters(1);
        assert_status(a, 1, WIRE_OP_EVENT_WAIT, WIRE_ETIMEDOUT);
        assert_no_reply(b);
        assert_int_equal(info_field(a, "e", "timeouts"), 1);
        set(a, "e");
        assert_status(b, 2, WIRE_OP_EVENT_WAIT, WIRE_OK);
        assert_no_reply(a);
}

static void test_event_lost_waiter(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);
        struct client *c = client_add(*state);

        edeclare(a, "e");
        send_wait(b, 1, "e", -1);
        send_wait(c, 2, "e", -1);
        client_drop(*state, b);
        assert_int_equal(info_field(a, "e", "waiters"), 1);
        set(a, "e");
        assert_status(c, 2, WIRE_OP_EVENT_WAIT, WIRE_OK);
        assert_int_equal(info_field(a, "e", "woken"), 1);
}

static void test_event_delete_and_shutdown(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);

        edeclare(a, "e");
        send_wait(b, 1, "e", -1);
        send_named(a, 2, WIRE_OP_DELETE, "e");
        assert_status(a, 2, WIRE_OP_DELETE, WIRE_OK);
        assert_status(b, 1, WIRE_OP_EVENT_WAIT, WIRE_EIDRM);
        send_wait(b, 3, "e", 0);
        assert_status(b, 3, WIRE_OP_EVENT_WAIT, WIRE_ENOENT);

        edeclare(a, "e");
        send_wait(b, 4, "e", 60000);
        object_delete_all(-ESHUTDOWN);
        assert_status(b, 4, WIRE_OP_EVENT_WAIT, WIRE_ESHUTDOWN);
        assert_int_equal(mpxd.n_waiters, 0);
}

/* ---- barriers ---- */

static void test_barrier_declare_rules(void **state) {
        struct client *a = client_add(*state);

        send_request(a, 1, WIRE_OP_BARRIER_DECLARE, "nw", "b", 0u);
        assert_status(a, 1, WIRE_OP_BARRIER_DECLARE, WIRE_EINVAL);
        bdeclare(a, "b", 3);
        send_request(a, 2, WIRE_OP_BARRIER_DECLARE, "nw", "b", 3u);
        assert_u8(a, 2, WIRE_OP_BARRIER_DECLARE, 0);
        send_request(a, 3, WIRE_OP_BARRIER_DECLARE, "nw", "b", 4u);
        assert_status(a, 3, WIRE_OP_BARRIER_DECLARE, WIRE_EEXIST);
        send_request(a, 4, WIRE_OP_BARRIER_DECLARE, "nw", "b", 0u);
        assert_status(a, 4, WIRE_OP_BARRIER_DECLARE, WIRE_EINVAL);
        assert_int_equal(barrier_declare("b", 1, 3), 0);
        assert_int_equal(barrier_declare("b", 1, 2), -EEXIST);
        assert_int_equal(barrier_declare("c", 1, 0), -EINVAL);
        assert_int_equal(info_field(a, "b", "parties"), 3);
}

static void test_barrier_rounds(void **state) {
        struct client *c[4];

        for (int i = 0; i < 4; i++)
                c[i] = client_add(*state);
        bdeclare(c[0], "b", 4);
        for (uint32_t round = 0; round < 3; round++) {
                /* A different arrival order each round: index k goes to the k-th arrival. */
                for (uint32_t k = 0; k < 3; k++) {
                        struct client *x = c[(k + round) % 4];

                        send_bwait(x, 100 * round + k, "b", -1);
                        assert_no_reply(x);
                }
                assert_int_equal(info_field(c[(3 + round) % 4], "b", "waiting"), 3);
                send_bwait(c[(3 + round) % 4], 100 * round + 3, "b", -1);
                for (uint32_t k = 0; k < 4; k++)
                        assert_index(c[(k + round) % 4], 100 * round + k, k);
                assert_int_equal(mpxd.n_waiters, 0);
                assert_int_equal(info_field(c[0], "b", "rounds"), round + 1);
                assert_int_equal(info_field(c[0], "b", "waiting"), 0);
                assert_int_equal(info_field(c[0], "b", "broken"), 0);
        }

        /* One party: every wait passes at once with index 0. */
        bdeclare(c[0], "one", 1);
        send_bwait(c[0], 1, "one", 0);
        assert_index(c[0], 1, 0);
        send_bwait(c[0], 2, "one", -1);
        assert_index(c[0], 2, 0);
        assert_int_equal(info_field(c[0], "one", "rounds"), 2);

        /* Two parties from one connection, pipelined: the second releases the first. */
        bdeclare(c[1], "two", 2);
        send_bwait(c[1], 3, "two", -1);
        send_bwait(c[1], 4, "two", -1);
        {
                struct reply r[MAX_REPLIES];
                struct wire_reader rd;
                uint32_t got = 9;

                assert_int_equal(take_replies(c[1], r, MAX_REPLIES), 2);
                check_header(&r[0], 3, WIRE_OP_BARRIER_WAIT, WIRE_OK);
                wire_reader_init(&rd, r[0].body, r[0].h.body_len);
                assert_true(wire_get_u32(&rd, &got) && wire_reader_done(&rd));
                assert_int_equal(got, 0);
                check_header(&r[1], 4, WIRE_OP_BARRIER_WAIT, WIRE_OK);
                wire_reader_init(&rd, r[1].body, r[1].h.body_len);
                assert_true(wire_get_u32(&rd, &got) && wire_reader_done(&rd));
                assert_int_equal(got, 1);
        }
}

static void test_barrier_timeout_breaks(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);
        struct client *c = client_add(*state);

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", 1);
        run_until_waiters(0);
        /* The party whose timeout passed gets ETIMEDOUT; the others ENOTRECOVERABLE. */
        assert_status(b, 2, WIRE_OP_BARRIER_WAIT, WIRE_ETIMEDOUT);
        assert_status(a, 1, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_int_equal(info_field(a, "b", "broken"), 1);
        assert_int_equal(info_field(a, "b", "timeouts"), 1);
        assert_int_equal(info_field(a, "b", "breaks"), 1);
        /* Later waits fail at once, whatever their timeout, until a reset. */
        send_bwait(c, 3, "b", -1);
        assert_status(c, 3, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        send_bwait(c, 4, "b", 0);
        assert_status(c, 4, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        reset(c, "b");
        assert_int_equal(info_field(a, "b", "broken"), 0);
        send_bwait(a, 5, "b", -1);
        send_bwait(b, 6, "b", -1);
        send_bwait(c, 7, "b", -1);
        assert_index(a, 5, 0);
        assert_index(b, 6, 1);
        assert_index(c, 7, 2);
        assert_int_equal(info_field(a, "b", "rounds"), 1);
}

static void test_barrier_disconnect_breaks(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);
        struct client *c = client_add(*state);
        struct client *d = client_add(*state);

        bdeclare(a, "b", 4);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", 60000);
        send_bwait(c, 3, "b", -1);
        client_drop(*state, b);
        assert_status(a, 1, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_status(c, 3, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(info_field(a, "b", "broken"), 1);
        assert_int_equal(info_field(a, "b", "waiting"), 0);
        send_bwait(d, 4, "b", -1);
        assert_status(d, 4, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);

        /* A client that is not waiting leaves nothing broken. */
        reset(a, "b");
        send_bwait(a, 5, "b", -1);
        client_drop(*state, d);
        assert_no_reply(a);
        assert_int_equal(info_field(c, "b", "broken"), 0);
        assert_int_equal(info_field(c, "b", "waiting"), 1);
}

static void test_barrier_reset_and_abort(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);
        struct client *c = client_add(*state);

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", -1);
        /* Reset: the waiting parties get ENOTRECOVERABLE; the barrier is fresh, not broken. */
        reset(c, "b");
        assert_status(a, 1, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_status(b, 2, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_int_equal(info_field(c, "b", "broken"), 0);
        assert_int_equal(info_field(c, "b", "waiting"), 0);
        /* Indexes count from 0 again. */
        send_bwait(a, 3, "b", -1);
        send_bwait(b, 4, "b", -1);
        send_bwait(c, 5, "b", -1);
        assert_index(a, 3, 0);
        assert_index(b, 4, 1);
        assert_index(c, 5, 2);

        /* Abort: the waiting parties and later waits get ENOTRECOVERABLE. */
        send_bwait(a, 6, "b", -1);
        abort_barrier(c, "b");
        assert_status(a, 6, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        assert_int_equal(info_field(c, "b", "broken"), 1);
        send_bwait(b, 7, "b", -1);
        assert_status(b, 7, WIRE_OP_BARRIER_WAIT, WIRE_ENOTRECOVERABLE);
        abort_barrier(c, "b");          /* aborting a broken barrier is no error */
        assert_int_equal(info_field(c, "b", "breaks"), 1);
        reset(c, "b");
        reset(c, "b");                  /* nor resetting a fresh one */
        assert_int_equal(info_field(c, "b", "resets"), 3);
        send_bwait(a, 8, "b", -1);
        assert_no_reply(a);
        assert_int_equal(info_field(c, "b", "waiting"), 1);
}

static void test_barrier_timeout_zero(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);

        bdeclare(a, "b", 2);
        /* Not the last party: EAGAIN, and the barrier is not broken. */
        send_bwait(a, 1, "b", 0);
        assert_status(a, 1, WIRE_OP_BARRIER_WAIT, WIRE_EAGAIN);
        assert_int_equal(info_field(a, "b", "broken"), 0);
        assert_int_equal(info_field(a, "b", "waiting"), 0);
        /* The last party with timeout 0 completes the round. */
        send_bwait(a, 2, "b", -1);
        send_bwait(b, 3, "b", 0);
        assert_index(a, 2, 0);
        assert_index(b, 3, 1);
        assert_int_equal(info_field(a, "b", "rounds"), 1);
}

static void test_barrier_delete_and_shutdown(void **state) {
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", 60000);
        send_named(b, 3, WIRE_OP_DELETE, "b");
        {
                struct reply r[MAX_REPLIES];

                assert_int_equal(take_replies(b, r, MAX_REPLIES), 2);
                check_header(&r[0], 2, WIRE_OP_BARRIER_WAIT, WIRE_EIDRM);
                check_header(&r[1], 3, WIRE_OP_DELETE, WIRE_OK);
        }
        assert_status(a, 1, WIRE_OP_BARRIER_WAIT, WIRE_EIDRM);
        assert_int_equal(mpxd.n_waiters, 0);

        bdeclare(a, "b", 2);
        send_bwait(a, 4, "b", -1);
        object_delete_all(-ESHUTDOWN);
        assert_status(a, 4, WIRE_OP_BARRIER_WAIT, WIRE_ESHUTDOWN);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_barrier_info_fields(void **state) {
        static const struct {
                const char *key;
                int64_t value;
        } expect[] = {
                { "size", 2 }, { "parties", 3 }, { "waiting", 2 }, { "waiters", 2 }, { "broken", 0 },
                { "rounds", 1 }, { "breaks", 0 }, { "resets", 0 }, { "timeouts", 0 },
        };
        struct client *a = client_add(*state);
        struct client *b = client_add(*state);
        struct client *c = client_add(*state);

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", -1);
        send_bwait(c, 3, "b", -1);
        assert_index(a, 1, 0);
        assert_index(b, 2, 1);
        assert_index(c, 3, 2);
        send_bwait(a, 4, "b", -1);
        send_bwait(b, 5, "b", -1);
        for (size_t i = 0; i < ARRAY_SIZE(expect); i++)
                if (info_field(c, "b", expect[i].key) != expect[i].value)
                        fail_msg("field %s is %lld, expected %lld", expect[i].key,
                                 (long long) info_field(c, "b", expect[i].key), (long long) expect[i].value);
        assert_true(info_field(c, "b", "age_ms") >= 0);
        assert_true(info_field(c, "b", "idle_ms") >= 0);

        edeclare(c, "e");
        set(c, "e");
        assert_int_equal(info_field(c, "e", "size"), 1);
        assert_int_equal(info_field(c, "e", "set"), 1);
        clear(c, "e");
        assert_int_equal(info_field(c, "e", "size"), 0);
        assert_int_equal(info_field(c, "e", "waiters"), 0);
        assert_true(info_field(c, "e", "age_ms") >= 0);
        assert_true(info_field(c, "e", "idle_ms") >= 0);
}

/* ---- both ---- */

static void test_wrong_type_and_missing(void **state) {
        static const struct {
                uint16_t op;
                bool timeout;
        } ops[] = {
                { WIRE_OP_EVENT_SET, false },
                { WIRE_OP_EVENT_CLEAR, false },
                { WIRE_OP_EVENT_IS_SET, false },
                { WIRE_OP_EVENT_WAIT, true },
                { WIRE_OP_BARRIER_WAIT, true },
                { WIRE_OP_BARRIER_RESET, false },
                { WIRE_OP_BARRIER_ABORT, false },
        };
        struct client *a = client_add(*state);

        send_request(a, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        assert_u8(a, 1, WIRE_OP_QUEUE_DECLARE, 1);
        edeclare(a, "e");
        bdeclare(a, "b", 2);
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                bool is_event = ops[i].op < WIRE_OP_BARRIER_DECLARE;
                const char *other = is_event ? "b" : "e";
                const char *fmt = ops[i].timeout ? "ni" : "n";
                uint32_t id = 10 * (uint32_t) i;

                send_request(a, id, ops[i].op, fmt, "q", (int64_t) 0);
                assert_status(a, id, ops[i].op, WIRE_EPROTOTYPE);
                send_request(a, id + 1, ops[i].op, fmt, other, (int64_t) 0);
                assert_status(a, id + 1, ops[i].op, WIRE_EPROTOTYPE);
                send_request(a, id + 2, ops[i].op, fmt, "none", (int64_t) 0);
                assert_status(a, id + 2, ops[i].op, WIRE_ENOENT);
        }
        send_named(a, 100, WIRE_OP_EVENT_DECLARE, "b");
        assert_status(a, 100, WIRE_OP_EVENT_DECLARE, WIRE_EPROTOTYPE);
        send_request(a, 101, WIRE_OP_BARRIER_DECLARE, "nw", "e", 2u);
        assert_status(a, 101, WIRE_OP_BARRIER_DECLARE, WIRE_EPROTOTYPE);
        send_request(a, 102, WIRE_OP_SEM_ACQUIRE, "ni", "e", (int64_t) 0);
        assert_status(a, 102, WIRE_OP_SEM_ACQUIRE, WIRE_EPROTOTYPE);
        assert_int_equal(event_declare("q", 1), -EPROTOTYPE);
        assert_int_equal(barrier_declare("e", 1, 2), -EPROTOTYPE);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_malformed_bodies(void **state) {
        static const uint8_t bad_name[] = { 4, 'b', 'a', 'd', '!' };
        static const uint8_t half[] = { 1, 2, 3 };
        /* Each request is "name" + what fmt says after it; every one is malformed. */
        static const struct {
                uint16_t op;
                const char *tail;       /* "", "b" (a stray u8), "i" ... */
        } cases[] = {
                { WIRE_OP_EVENT_DECLARE, "b" },
                { WIRE_OP_EVENT_SET, "b" },
                { WIRE_OP_EVENT_CLEAR, "b" },
                { WIRE_OP_EVENT_IS_SET, "b" },
                { WIRE_OP_EVENT_WAIT, "" },
                { WIRE_OP_EVENT_WAIT, "h" },    /* half an i64 */
                { WIRE_OP_EVENT_WAIT, "ib" },
                { WIRE_OP_BARRIER_DECLARE, "" },
                { WIRE_OP_BARRIER_DECLARE, "h" },
                { WIRE_OP_BARRIER_DECLARE, "wb" },
                { WIRE_OP_BARRIER_WAIT, "" },
                { WIRE_OP_BARRIER_WAIT, "ib" },
                { WIRE_OP_BARRIER_RESET, "b" },
                { WIRE_OP_BARRIER_ABORT, "b" },
        };
        static const char *const names[] = { "e", "b", "missing" };
        struct client *a = client_add(*state);
        uint32_t id = 1;

        edeclare(a, "e");
        bdeclare(a, "b", 1);
        for (size_t n = 0; n < ARRAY_SIZE(names); n++)
                for (size_t i = 0; i < ARRAY_SIZE(cases); i++, id++) {
                        const char *t = cases[i].tail;

                        if (strcmp(t, "") == 0)
                                send_request(a, id, cases[i].op, "n", names[n]);
                        else if (strcmp(t, "b") == 0)
                                send_request(a, id, cases[i].op, "nb", names[n], 0u);
                        else if (strcmp(t, "h") == 0)
                                send_request(a, id, cases[i].op, "nr", names[n], half, sizeof(half));
                        else if (strcmp(t, "ib") == 0)
                                send_request(a, id, cases[i].op, "nib", names[n], (int64_t) 0, 0u);
                        else if (strcmp(t, "wb") == 0)
                                send_request(a, id, cases[i].op, "nwb", names[n], 2u, 0u);
                        else
                                fail_msg("bad case");
                        assert_status(a, id, cases[i].op, WIRE_EPROTO);
                }
        /* Bad names, and no body at all. */
        for (uint16_t op = WIRE_OP_EVENT_DECLARE; op <= WIRE_OP_EVENT_WAIT; op++) {
                send_request(a, id, op, "ri", bad_name, sizeof(bad_name), (int64_t) 0);
                assert_status(a, id++, op, WIRE_EPROTO);
                send_request(a, id, op, "");
                assert_status(a, id++, op, WIRE_EPROTO);
        }
        for (uint16_t op = WIRE_OP_BARRIER_DECLARE; op <= WIRE_OP_BARRIER_ABORT; op++) {
                send_request(a, id, op, "ri", bad_name, sizeof(bad_name), (int64_t) 0);
                assert_status(a, id++, op, WIRE_EPROTO);
                send_request(a, id, op, "");
                assert_status(a, id++, op, WIRE_EPROTO);
        }
        /* Nothing changed, and the connection goes on. */
        assert_false(a->closing);
        assert_is_set(a, "e", 0);
        assert_int_equal(info_field(a, "b", "rounds"), 0);
        assert_int_equal(info_field(a, "b", "broken"), 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_object_limit(void **state) {
        struct client *a = client_add(*state);

        mpxd.max_objects = 2;
        edeclare(a, "e");
        bdeclare(a, "b", 2);
        send_named(a, 1, WIRE_OP_EVENT_DECLARE, "e2");
        assert_status(a, 1, WIRE_OP_EVENT_DECLARE, WIRE_EUSERS);
        send_request(a, 2, WIRE_OP_BARRIER_DECLARE, "nw", "b2", 2u);
        assert_status(a, 2, WIRE_OP_BARRIER_DECLARE, WIRE_EUSERS);
        /* Declaring one that exists is no new object. */
        send_named(a, 3, WIRE_OP_EVENT_DECLARE, "e");
        assert_u8(a, 3, WIRE_OP_EVENT_DECLARE, 0);
        send_request(a, 4, WIRE_OP_BARRIER_DECLARE, "nw", "b", 2u);
        assert_u8(a, 4, WIRE_OP_BARRIER_DECLARE, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_event_set_clear),
                T(test_event_wait),
                T(test_event_timeout),
                T(test_event_lost_waiter),
                T(test_event_delete_and_shutdown),
                T(test_barrier_declare_rules),
                T(test_barrier_rounds),
                T(test_barrier_timeout_breaks),
                T(test_barrier_disconnect_breaks),
                T(test_barrier_reset_and_abort),
                T(test_barrier_timeout_zero),
                T(test_barrier_delete_and_shutdown),
                T(test_barrier_info_fields),
                T(test_wrong_type_and_missing),
                T(test_malformed_bodies),
                T(test_object_limit),
#undef T
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
