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

#include "barrier.h"
#include "client.h"
#include "event.h"
#include "mpxd.h"
#include "object.h"
#include "unit-client.h"

#define info_field(c, name, key) info_field_at(c, name, WIRE_TYPE_ANY, key, __FILE__, __LINE__)

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
        struct frame r;
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
        struct client *a = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *w[3];

        edeclare(a, "e");
        send_wait(a, 1, "e", 0);
        assert_status(a, 1, WIRE_OP_EVENT_WAIT, WIRE_EAGAIN);
        assert_int_equal(mpxd.n_waiters, 0);
        for (int i = 0; i < 3; i++) {
                w[i] = client_add(*state, "test");
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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");

        send_request(a, 1, WIRE_OP_BARRIER_DECLARE, "nw", "b", 0u);
        assert_status(a, 1, WIRE_OP_BARRIER_DECLARE, WIRE_EINVAL);
        bdeclare(a, "b", 3);
        send_request(a, 2, WIRE_OP_BARRIER_DECLARE, "nw", "b", 3u);
        assert_u8(a, 2, WIRE_OP_BARRIER_DECLARE, 0);
        send_request(a, 3, WIRE_OP_BARRIER_DECLARE, "nw", "b", 4u);
        assert_status(a, 3, WIRE_OP_BARRIER_DECLARE, WIRE_EEXIST);
        send_request(a, 4, WIRE_OP_BARRIER_DECLARE, "nw", "b", 0u);
        assert_status(a, 4, WIRE_OP_BARRIER_DECLARE, WIRE_EINVAL);
        assert_int_equal(barrier_declare("b", 1, 3, NULL), 0);
        assert_int_equal(barrier_declare("b", 1, 2, NULL), -EEXIST);
        assert_int_equal(barrier_declare("c", 1, 0, NULL), -EINVAL);
        assert_int_equal(info_field(a, "b", "parties"), 3);
}

static void test_barrier_rounds(void **state) {
        struct client *c[4];

        for (int i = 0; i < 4; i++)
                c[i] = client_add(*state, "test");
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
                struct frame r[MAX_REPLIES];
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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");
        struct client *d = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", 60000);
        send_named(b, 3, WIRE_OP_DELETE, "b");
        {
                struct frame r[MAX_REPLIES];

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
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

        bdeclare(a, "b", 3);
        send_bwait(a, 1, "b", -1);
        send_bwait(b, 2, "b", -1);
        send_bwait(c, 3, "b", -1);
        assert_index(a, 1, 0);
        assert_index(b, 2, 1);
        assert_index(c, 3, 2);
        send_bwait(a, 4, "b", -1);
        send_bwait(b, 5, "b", -1);
        check_info_fields(c, "b", WIRE_TYPE_BARRIER, { "size", 2 }, { "parties", 3 }, { "waiting", 2 },
                          { "waiters", 2 }, { "broken", 0 }, { "rounds", 1 }, { "breaks", 0 }, { "resets", 0 },
                          { "timeouts", 0 });
        assert_true(info_field(c, "b", "age_ms") >= 0);
        assert_true(info_field(c, "b", "idle_ms") >= 0);

        edeclare(c, "e");
        set(c, "e");
        check_info_fields(c, "e", WIRE_TYPE_EVENT, { "size", 1 }, { "set", 1 });
        clear(c, "e");
        check_info_fields(c, "e", WIRE_TYPE_EVENT, { "size", 0 }, { "waiters", 0 });
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
        struct client *a = client_add(*state, "test");

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
        assert_int_equal(barrier_declare("e", 1, 2, NULL), -EPROTOTYPE);
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
        struct client *a = client_add(*state, "test");
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
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_is_set(a, "e", 0);
        assert_int_equal(info_field(a, "b", "rounds"), 0);
        assert_int_equal(info_field(a, "b", "broken"), 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_object_limit(void **state) {
        struct client *a = client_add(*state, "test");

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
                unit_client_test(test_event_set_clear),
                unit_client_test(test_event_wait),
                unit_client_test(test_event_timeout),
                unit_client_test(test_event_lost_waiter),
                unit_client_test(test_event_delete_and_shutdown),
                unit_client_test(test_barrier_declare_rules),
                unit_client_test(test_barrier_rounds),
                unit_client_test(test_barrier_timeout_breaks),
                unit_client_test(test_barrier_disconnect_breaks),
                unit_client_test(test_barrier_reset_and_abort),
                unit_client_test(test_barrier_timeout_zero),
                unit_client_test(test_barrier_delete_and_shutdown),
                unit_client_test(test_barrier_info_fields),
                unit_client_test(test_wrong_type_and_missing),
                unit_client_test(test_malformed_bodies),
                unit_client_test(test_object_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
