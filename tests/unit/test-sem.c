/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's semaphores and locks (daemon/sem.c), without any
 * socket: socketless clients (client_new(-1)) are fed request frames with
 * client_feed() and their replies are parsed back out of their output
 * buffers. Timeouts are real 1 ms libevent timers, fired by running the
 * event loop until the expected waiters are gone.
 *
 * Covered: acquire and release, value, bounded release (ERANGE), the value
 * cap of unbounded semaphores, FIFO acquirers (across clients and pipelined
 * on one), timeouts, SEM_UNDO when a client is lost (holders, served
 * waiters, capped at a bounded max) and NO_UNDO, releases by holders and
 * non-holders, the report of a holder that died (EOWNERDEAD, once), delete
 * and shutdown while blocked, a lost blocked client,
 * declare rules and conflicts, wrong types, malformed bodies, INFO fields,
 * the object limit.
 * Allocation failures are not injected here.
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

#include "client.h"
#include "mpxd.h"
#include "object.h"
#include "sem.h"
#include "unit-client.h"

#define info_field(c, name, key) info_field_at(c, name, WIRE_TYPE_ANY, key, __FILE__, __LINE__)

/* ---- semaphore requests ---- */

static void send_declare(struct client *c, uint32_t id, const char *name, uint64_t value, uint64_t max,
                         uint32_t flags) {
        send_request(c, id, WIRE_OP_SEM_DECLARE, "nqqw", name, value, max, flags);
}

static void send_acquire(struct client *c, uint32_t id, const char *name, int64_t timeout_ms) {
        send_request(c, id, WIRE_OP_SEM_ACQUIRE, "ni", name, timeout_ms);
}

/* Declare a semaphore that must be new. */
static void declare_at(struct client *c, const char *name, uint64_t value, uint64_t max, uint32_t flags,
                       const char *file, int line) {
        send_declare(c, HELPER_ID, name, value, max, flags);
        assert_u8_at(c, HELPER_ID, WIRE_OP_SEM_DECLARE, 1, file, line);
}

#define declare(c, name, value, max, flags) declare_at(c, name, value, max, flags, __FILE__, __LINE__)

/* An acquire that must succeed at once. */
static void acquire_at(struct client *c, const char *name, const char *file, int line) {
        send_acquire(c, HELPER_ID, name, 0);
        assert_status_at(c, HELPER_ID, WIRE_OP_SEM_ACQUIRE, WIRE_OK, file, line);
}

#define acquire(c, name) acquire_at(c, name, __FILE__, __LINE__)

/* A release with this status. */
static void release_at(struct client *c, const char *name, uint16_t status, const char *file, int line) {
        send_named(c, HELPER_ID, WIRE_OP_SEM_RELEASE, name);
        assert_status_at(c, HELPER_ID, WIRE_OP_SEM_RELEASE, status, file, line);
}

#define release(c, name) release_at(c, name, WIRE_OK, __FILE__, __LINE__)
#define release_fails(c, name, status) release_at(c, name, status, __FILE__, __LINE__)

/* Ask VALUE and compare both fields. */
static void assert_value_at(struct client *c, const char *name, uint64_t value, uint64_t max,
                            const char *file, int line) {
        struct frame rep;
        struct wire_reader r;
        uint64_t got_value = 0, got_max = 0;

        assert_no_reply_at(c, file, line);
        send_named(c, HELPER_ID, WIRE_OP_SEM_VALUE, name);
        assert_reply_at(c, &rep, HELPER_ID, WIRE_OP_SEM_VALUE, WIRE_OK, file, line);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        check_at(wire_get_u64(&r, &got_value) && wire_get_u64(&r, &got_max) && wire_reader_done(&r), file,
                 line, "malformed VALUE reply");
        check_at(got_value == value && got_max == max, file, line,
                 "semaphore '%s': value %llu max %llu, expected %llu %llu", name,
                 (unsigned long long) got_value, (unsigned long long) got_max, (unsigned long long) value,
                 (unsigned long long) max);
}

#define assert_value(c, name, value, max) assert_value_at(c, name, value, max, __FILE__, __LINE__)

/* ---- tests ---- */

static void test_acquire_release(void **state) {
        struct client *a = client_add(*state, "test");

        declare(a, "s", 2, 0, 0);
        assert_value(a, "s", 2, 0);
        acquire(a, "s");
        acquire(a, "s");
        assert_value(a, "s", 0, 0);
        send_acquire(a, 1, "s", 0);
        assert_status(a, 1, WIRE_OP_SEM_ACQUIRE, WIRE_EAGAIN);
        assert_int_equal(mpxd.n_waiters, 0);
        release(a, "s");
        assert_value(a, "s", 1, 0);
        acquire(a, "s");
        release(a, "s");
        release(a, "s");
        assert_value(a, "s", 2, 0);
        assert_int_equal(info_field(a, "s", "acquisitions"), 3);
        assert_int_equal(info_field(a, "s", "releases"), 3);

        /* A semaphore of 0 blocks its first acquire. */
        declare(a, "zero", 0, 0, 0);
        send_acquire(a, 2, "zero", 0);
        assert_status(a, 2, WIRE_OP_SEM_ACQUIRE, WIRE_EAGAIN);
}

static void test_declare_rules(void **state) {
        static const struct {
                uint64_t value, max;
                uint32_t flags;
                uint16_t status;
                uint8_t created;
        } cases[] = {
                /* name "s" is declared 3, unbounded, undo before the table runs */
                { 3, 0, 0, WIRE_OK, 0 },                                /* identical: existed */
                { 4, 0, 0, WIRE_EEXIST, 0 },                            /* other value */
                { 3, 0, WIRE_SEM_NO_UNDO, WIRE_EEXIST, 0 },             /* other flags */
                { 3, 3, WIRE_SEM_BOUNDED, WIRE_EEXIST, 0 },             /* bounded now */
                { 3, 0, 4, WIRE_EINVAL, 0 },                            /* unknown flag */
                { 3, 5, 0, WIRE_EINVAL, 0 },                            /* max without BOUNDED */
                { 3, 0, WIRE_SEM_BOUNDED, WIRE_EINVAL, 0 },             /* bounded at 0 */
                { 4, 3, WIRE_SEM_BOUNDED, WIRE_EINVAL, 0 },             /* value over max */
                { (uint64_t) INT64_MAX + 1, 0, 0, WIRE_EINVAL, 0 },     /* value over the i64 range */
                { 1, (uint64_t) INT64_MAX + 1, WIRE_SEM_BOUNDED, WIRE_EINVAL, 0 },
        };
        struct client *a = client_add(*state, "test");

        declare(a, "s", 3, 0, 0);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                send_declare(a, (uint32_t) i, "s", cases[i].value, cases[i].max, cases[i].flags);
                if (cases[i].status == WIRE_OK)
                        assert_u8(a, (uint32_t) i, WIRE_OP_SEM_DECLARE, cases[i].created);
                else
                        assert_status(a, (uint32_t) i, WIRE_OP_SEM_DECLARE, cases[i].status);
        }
        /* The declared value is what is compared, not the value now. */
        acquire(a, "s");
        send_declare(a, 50, "s", 3, 0, 0);
        assert_u8(a, 50, WIRE_OP_SEM_DECLARE, 0);

        /* A lock; a bounded semaphore of 0 out of 2; the largest bounds. */
        declare(a, "lock", 1, 1, WIRE_SEM_BOUNDED);
        assert_value(a, "lock", 1, 1);
        declare(a, "b", 0, 2, WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO);
        assert_value(a, "b", 0, 2);
        declare(a, "big", (uint64_t) INT64_MAX, (uint64_t) INT64_MAX, WIRE_SEM_BOUNDED);

        /* Another type's name, and a semaphore's name for another type. */
        send_request(a, 60, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        assert_u8(a, 60, WIRE_OP_QUEUE_DECLARE, 1);
        send_declare(a, 61, "q", 1, 0, 0);
        assert_status(a, 61, WIRE_OP_SEM_DECLARE, WIRE_EPROTOTYPE);
        send_request(a, 62, WIRE_OP_QUEUE_DECLARE, "nqw", "s", (uint64_t) 0, 0u);
        assert_status(a, 62, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTOTYPE);

        /* From inside the daemon (configuration) the same rules apply. */
        assert_int_equal(sem_declare("cfg", 3, 1, 1, WIRE_SEM_BOUNDED), 1);
        assert_int_equal(sem_declare("cfg", 3, 1, 1, WIRE_SEM_BOUNDED), 0);
        assert_int_equal(sem_declare("cfg", 3, 1, 2, WIRE_SEM_BOUNDED), -EEXIST);
        assert_int_equal(sem_declare("q", 1, 1, 0, 0), -EPROTOTYPE);
}

static void test_bounded_release(void **state) {
        static const struct {
                const char *name;
                uint64_t value, max;
                uint32_t flags;
                unsigned acquires;      /* then releases until ERANGE */
                unsigned releases_ok;
        } cases[] = {
                { "lock", 1, 1, WIRE_SEM_BOUNDED, 1, 1 },
                { "lock-no-undo", 1, 1, WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO, 1, 1 },
                { "bounded-2", 2, 2, WIRE_SEM_BOUNDED, 0, 0 },
                { "bounded-room", 1, 3, WIRE_SEM_BOUNDED, 1, 3 },
                { "empty-of-2", 0, 2, WIRE_SEM_BOUNDED, 0, 2 },
        };
        struct client *a = client_add(*state, "test");

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                declare(a, cases[i].name, cases[i].value, cases[i].max, cases[i].flags);
                for (unsigned k = 0; k < cases[i].acquires; k++)
                        acquire(a, cases[i].name);
                for (unsigned k = 0; k < cases[i].releases_ok; k++)
                        release(a, cases[i].name);
                release_fails(a, cases[i].name, WIRE_ERANGE);
                /* A failed release changes nothing. */
                assert_value(a, cases[i].name, cases[i].max, cases[i].max);
                assert_int_equal(info_field(a, cases[i].name, "releases"), cases[i].releases_ok);
                assert_int_equal(info_field(a, cases[i].name, "holders"), 0);
        }
}

static void test_unbounded_cap(void **state) {
        struct client *a = client_add(*state, "test");

        /* An unbounded semaphore grows past its initial value ... */
        declare(a, "s", 0, 0, 0);
        release(a, "s");
        release(a, "s");
        release(a, "s");
        assert_value(a, "s", 3, 0);
        /* ... up to the largest i64. */
        declare(a, "huge", (uint64_t) INT64_MAX - 1, 0, 0);
        release(a, "huge");
        release_fails(a, "huge", WIRE_ERANGE);
        assert_value(a, "huge", (uint64_t) INT64_MAX, 0);
        assert_int_equal(info_field(a, "huge", "value"), INT64_MAX);
}

static void test_fifo_acquirers(void **state) {
        struct client *p = client_add(*state, "test");
        struct client *w[4];
        struct frame r[MAX_REPLIES];

        declare(p, "s", 0, 0, 0);
        for (int i = 0; i < 4; i++) {
                w[i] = client_add(*state, "test");
                send_acquire(w[i], 100 + (uint32_t) i, "s", -1);
                assert_no_reply(w[i]);
        }
        assert_int_equal(info_field(p, "s", "acquirers"), 4);
        release(p, "s");
        assert_status(w[0], 100, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        for (int i = 1; i < 4; i++)
                assert_no_reply(w[i]);
        /* A non-blocking acquire does not overtake the parked ones: value is 0 anyway. */
        send_acquire(p, 1, "s", 0);
        assert_status(p, 1, WIRE_OP_SEM_ACQUIRE, WIRE_EAGAIN);
        release(p, "s");
        release(p, "s");
        assert_status(w[1], 101, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_status(w[2], 102, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_no_reply(w[3]);
        /* The holder gives its unit to the next in line. */
        release(w[0], "s");
        assert_status(w[3], 103, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_value(p, "s", 0, 0);

        /* Two acquires pipelined on one connection, served in their order. */
        send_acquire(p, 7, "s", -1);
        send_acquire(p, 8, "s", -1);
        assert_no_reply(p);
        release(w[1], "s");
        release(w[2], "s");
        assert_int_equal(take_replies(p, r, MAX_REPLIES), 2);
        check_header(&r[0], 7, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        check_header(&r[1], 8, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_int_equal(info_field(p, "s", "held"), 3);
        assert_int_equal(info_field(p, "s", "holders"), 2);
}

static void test_timeouts(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

        declare(a, "s", 0, 0, 0);
        send_acquire(a, 1, "s", 1);
        send_acquire(b, 2, "s", -1);
        assert_int_equal(mpxd.n_waiters, 2);
        run_until_waiters(1);
        assert_status(a, 1, WIRE_OP_SEM_ACQUIRE, WIRE_ETIMEDOUT);
        assert_no_reply(b);
        assert_int_equal(info_field(a, "s", "timeouts"), 1);
        /* The unit goes to the one still waiting, not to the one that gave up. */
        release(a, "s");
        assert_status(b, 2, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_no_reply(a);
        assert_value(a, "s", 0, 0);

        /* A waiter served before its timeout leaves no timer behind. */
        send_acquire(a, 3, "s", 60000);
        release(b, "s");
        assert_status(a, 3, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 0);
}

static void test_undo_on_client_lost(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");
        struct client *d = client_add(*state, "test");

        declare(a, "s", 3, 0, 0);
        acquire(a, "s");
        acquire(a, "s");
        acquire(b, "s");
        send_acquire(c, 1, "s", -1);
        send_acquire(d, 2, "s", -1);
        assert_int_equal(info_field(b, "s", "holders"), 2);
        assert_int_equal(info_field(b, "s", "held"), 3);

        /* a dies holding 2: c and d get them, in order; c, the first, is told a holder died. */
        client_drop(*state, a);
        assert_status(c, 1, WIRE_OP_SEM_ACQUIRE, WIRE_EOWNERDEAD);
        assert_status(d, 2, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_value(b, "s", 0, 0);
        assert_int_equal(info_field(b, "s", "undone"), 2);
        assert_int_equal(info_field(b, "s", "holders"), 3);

        /* A unit handed to a waiter is held by it too, and comes back when it dies. */
        client_drop(*state, c);
        assert_value(b, "s", 1, 0);
        client_drop(*state, d);
        assert_value(b, "s", 2, 0);
        /* Units released before closing are not given back twice. */
        release(b, "s");
        client_drop(*state, b);
        {
                struct client *e = client_add(*state, "test");

                assert_value(e, "s", 3, 0);
                assert_int_equal(info_field(e, "s", "holders"), 0);
                assert_int_equal(info_field(e, "s", "held"), 0);
                assert_int_equal(info_field(e, "s", "undone"), 4);
        }
}

/*
 * A holder that dies tells the next owner, once: the acquire that takes the
 * first unit after it is answered EOWNERDEAD with the unit held, the next
 * one OK; whether it waited or came later, and however it is released.
 */
static void test_owner_dead(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");
        struct client *d = client_add(*state, "test");

        declare(a, "lock", 1, 1, WIRE_SEM_BOUNDED);
        acquire(a, "lock");
        send_acquire(b, 1, "lock", -1);
        send_acquire(c, 2, "lock", -1);
        assert_int_equal(info_field(d, "lock", "owner_dead"), 0);

        /* a dies holding the lock: b, parked first, owns it and is told so. */
        client_drop(*state, a);
        assert_status(b, 1, WIRE_OP_SEM_ACQUIRE, WIRE_EOWNERDEAD);
        assert_no_reply(c);
        assert_int_equal(info_field(d, "lock", "owner_died"), 1);
        assert_int_equal(info_field(d, "lock", "owner_dead"), 0);
        assert_int_equal(info_field(d, "lock", "holders"), 1);
        assert_value(d, "lock", 0, 1);

        /* It is held as any unit: b's release hands it to c, with a plain OK. */
        release(b, "lock");
        assert_status(c, 2, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        release(c, "lock");
        acquire(d, "lock");
        release(d, "lock");

        /* Nobody waiting: the flag waits for the next acquire, here from a client that came later. */
        acquire(c, "lock");
        client_drop(*state, c);
        assert_int_equal(info_field(d, "lock", "owner_dead"), 1);
        assert_value(d, "lock", 1, 1);
        send_acquire(d, 3, "lock", 0);
        assert_status(d, 3, WIRE_OP_SEM_ACQUIRE, WIRE_EOWNERDEAD);
        assert_int_equal(info_field(d, "lock", "owner_dead"), 0);
        /* A holder that released before closing left nothing half-done. */
        release(d, "lock");
        {
                struct client *g = client_add(*state, "test");

                acquire(g, "lock");
                release(g, "lock");
                client_drop(*state, g);
        }
        acquire(d, "lock");
        release(d, "lock");
        assert_int_equal(info_field(d, "lock", "owner_died"), 2);

        /*
         * A holder whose unit another connection released for it still died
         * holding it: its unit stops at the bound, and the next owner is told.
         */
        {
                struct client *e = client_add(*state, "test");

                acquire(e, "lock");
                release(b, "lock");
                client_drop(*state, e);
        }
        assert_value(d, "lock", 1, 1);
        assert_int_equal(info_field(d, "lock", "owner_dead"), 1);
        send_acquire(b, 4, "lock", -1);
        assert_status(b, 4, WIRE_OP_SEM_ACQUIRE, WIRE_EOWNERDEAD);
        release(b, "lock");
        assert_int_equal(info_field(d, "lock", "owner_died"), 3);
}

/* Without SEM_UNDO nothing is given back, and no death is reported. */
static void test_owner_dead_not_without_undo(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");

        declare(a, "n", 1, 1, WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO);
        acquire(a, "n");
        client_drop(*state, a);
        release(b, "n");
        acquire(b, "n");
        assert_int_equal(info_field(b, "n", "owner_died"), 0);
}

static void test_no_undo(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

        declare(a, "s", 2, 0, WIRE_SEM_NO_UNDO);
        acquire(a, "s");
        acquire(a, "s");
        send_acquire(b, 1, "s", -1);
        assert_int_equal(info_field(c, "s", "holders"), 0);
        assert_int_equal(info_field(c, "s", "undo"), 0);
        client_drop(*state, a);
        assert_no_reply(b);
        assert_value(c, "s", 0, 0);
        assert_int_equal(info_field(c, "s", "undone"), 0);
        /* The units are gone until someone releases them. */
        release(c, "s");
        assert_status(b, 1, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        client_drop(*state, b);
        assert_value(c, "s", 0, 0);
}

static void test_release_by_holder_and_non_holder(void **state) {
        struct client *a = client_add(*state, "test"), *a2;
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

        /* A holder's release lowers its hold; past it, releases just add units. */
        declare(a, "s", 2, 0, 0);
        acquire(a, "s");
        acquire(a, "s");
        release(a, "s");
        assert_int_equal(info_field(a, "s", "held"), 1);
        assert_int_equal(info_field(a, "s", "holders"), 1);
        release(a, "s");
        assert_int_equal(info_field(a, "s", "holders"), 0);
        release(a, "s");
        assert_value(a, "s", 3, 0);
        client_drop(*state, a);
        assert_value(b, "s", 3, 0);
        a2 = client_add(*state, "test");

        /* A lock released by a non-holder (as Python allows) is released. */
        declare(b, "lock", 1, 1, WIRE_SEM_BOUNDED);
        acquire(b, "lock");
        send_acquire(c, 1, "lock", -1);
        release(a2, "lock");
        assert_status(c, 1, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        /* b still holds its unit in the books, and c one too: value 0. */
        assert_int_equal(info_field(c, "lock", "holders"), 2);
        assert_value(c, "lock", 0, 1);
        /* When b dies its unit goes back, but never past the bound. */
        release(c, "lock");
        assert_value(c, "lock", 1, 1);
        client_drop(*state, b);
        assert_value(c, "lock", 1, 1);
        assert_int_equal(info_field(c, "lock", "holders"), 0);
        assert_int_equal(info_field(c, "lock", "undone"), 1);

        /* On an unbounded semaphore the unit does come back. */
        declare(c, "u", 1, 0, 0);
        {
                struct client *d = client_add(*state, "test");

                acquire(d, "u");
                release(c, "u");
                client_drop(*state, d);
                assert_value(c, "u", 2, 0);
        }
}

static void test_delete_wakes_waiters(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct frame r[MAX_REPLIES];

        declare(a, "s", 1, 0, 0);
        acquire(a, "s");
        send_acquire(b, 1, "s", -1);
        send_acquire(b, 2, "s", 60000);
        assert_int_equal(mpxd.n_waiters, 2);
        send_named(a, 3, WIRE_OP_DELETE, "s");
        assert_status(a, 3, WIRE_OP_DELETE, WIRE_OK);
        assert_int_equal(take_replies(b, r, MAX_REPLIES), 2);
        check_header(&r[0], 1, WIRE_OP_SEM_ACQUIRE, WIRE_EIDRM);
        check_header(&r[1], 2, WIRE_OP_SEM_ACQUIRE, WIRE_EIDRM);
        assert_int_equal(mpxd.n_waiters, 0);
        /* a's hold went with the semaphore: nothing is given back to anything. */
        assert_true(TAILQ_EMPTY(&client_shared(a)->holds));
        send_named(a, 4, WIRE_OP_SEM_RELEASE, "s");
        assert_status(a, 4, WIRE_OP_SEM_RELEASE, WIRE_ENOENT);
        /* A new semaphore of the same name starts afresh. */
        declare(b, "s", 0, 0, 0);
        client_drop(*state, a);
        assert_value(b, "s", 0, 0);
}

static void test_shutdown_wakes_waiters(void **state) {
        struct client *a = client_add(*state, "test");

        declare(a, "s", 1, 0, 0);
        acquire(a, "s");
        send_acquire(a, 1, "s", -1);
        object_delete_all(-ESHUTDOWN);
        assert_status(a, 1, WIRE_OP_SEM_ACQUIRE, WIRE_ESHUTDOWN);
        assert_true(TAILQ_EMPTY(&client_shared(a)->holds));
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_lost_while_blocked(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

        declare(a, "s", 0, 0, 0);
        send_acquire(b, 1, "s", -1);
        send_acquire(c, 2, "s", -1);
        client_drop(*state, b);
        assert_int_equal(info_field(a, "s", "acquirers"), 1);
        release(a, "s");
        assert_status(c, 2, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_value(a, "s", 0, 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_wrong_type_and_missing(void **state) {
        static const struct {
                uint16_t op;
                const char *fmt;
        } ops[] = {
                { WIRE_OP_SEM_ACQUIRE, "ni" },
                { WIRE_OP_SEM_RELEASE, "n" },
                { WIRE_OP_SEM_VALUE, "n" },
        };
        struct client *a = client_add(*state, "test");

        send_request(a, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        assert_u8(a, 1, WIRE_OP_QUEUE_DECLARE, 1);
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                send_request(a, 10 + (uint32_t) i, ops[i].op, ops[i].fmt, "q", (int64_t) 0);
                assert_status(a, 10 + (uint32_t) i, ops[i].op, WIRE_EPROTOTYPE);
                send_request(a, 20 + (uint32_t) i, ops[i].op, ops[i].fmt, "none", (int64_t) 0);
                assert_status(a, 20 + (uint32_t) i, ops[i].op, WIRE_ENOENT);
        }
        /* And a queue request on a semaphore. */
        declare(a, "s", 1, 0, 0);
        send_request(a, 30, WIRE_OP_QUEUE_GET, "niw", "s", (int64_t) 0, 0u);
        assert_status(a, 30, WIRE_OP_QUEUE_GET, WIRE_EPROTOTYPE);
        assert_value(a, "s", 1, 0);
}

static void test_malformed_bodies(void **state) {
        static const uint8_t bad_name[] = { 4, 'b', 'a', 'd', '!' };
        static const uint8_t half_i64[] = { 1, 2, 3, 4 };
        static const struct {
                uint16_t op;
                const char *fmt;        /* "n" + extra, with name "s" or "missing" */
                const void *raw;
                size_t raw_len;
        } cases[] = {
                { WIRE_OP_SEM_DECLARE, "nqqb", NULL, 0 },       /* a byte where the flags may follow */
                { WIRE_OP_SEM_DECLARE, "nqqwb", NULL, 0 },      /* a byte too many */
                { WIRE_OP_SEM_ACQUIRE, "n", NULL, 0 },          /* no timeout */
                { WIRE_OP_SEM_ACQUIRE, "nr", half_i64, sizeof(half_i64) },
                { WIRE_OP_SEM_ACQUIRE, "nib", NULL, 0 },
                { WIRE_OP_SEM_RELEASE, "nb", NULL, 0 },
                { WIRE_OP_SEM_RELEASE, "", NULL, 0 },
                { WIRE_OP_SEM_VALUE, "nb", NULL, 0 },
                { WIRE_OP_SEM_VALUE, "r", bad_name, sizeof(bad_name) },
                { WIRE_OP_SEM_RELEASE, "r", bad_name, sizeof(bad_name) },
        };
        static const char *const names[] = { "s", "missing" };
        struct client *a = client_add(*state, "test");
        uint32_t id = 1;

        declare(a, "s", 1, 1, WIRE_SEM_BOUNDED);
        acquire(a, "s");
        for (size_t n = 0; n < ARRAY_SIZE(names); n++)
                for (size_t i = 0; i < ARRAY_SIZE(cases); i++, id++) {
                        const char *fmt = cases[i].fmt;

                        /* The arguments every format takes, in order; unused ones are ignored. */
                        if (strcmp(fmt, "nqqb") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n], (uint64_t) 1, (uint64_t) 1, 0u);
                        else if (strcmp(fmt, "nqqwb") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n], (uint64_t) 1, (uint64_t) 1,
                                             WIRE_SEM_BOUNDED, 0u);
                        else if (strcmp(fmt, "nr") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n], cases[i].raw,
                                             cases[i].raw_len);
                        else if (strcmp(fmt, "nib") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n], (int64_t) 0, 0u);
                        else if (strcmp(fmt, "nb") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n], 0u);
                        else if (strcmp(fmt, "n") == 0)
                                send_request(a, id, cases[i].op, fmt, names[n]);
                        else if (strcmp(fmt, "r") == 0)
                                send_request(a, id, cases[i].op, fmt, cases[i].raw, cases[i].raw_len);
                        else
                                send_request(a, id, cases[i].op, fmt);
                        assert_status(a, id, cases[i].op, WIRE_EPROTO);
                }
        /* Nothing changed, and the connection goes on. */
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_value(a, "s", 0, 1);
        /* The flags may be left out: 0, a semaphore with SEM_UNDO, unbounded. */
        send_request(a, id, WIRE_OP_SEM_DECLARE, "nqq", "no-flags", (uint64_t) 2, (uint64_t) 0);
        assert_u8_at(a, id, WIRE_OP_SEM_DECLARE, 1, __FILE__, __LINE__);
        assert_value(a, "no-flags", 2, 0);
        assert_int_equal(info_field(a, "s", "releases"), 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_info_fields(void **state) {
        struct client *a = client_add(*state, "test");
        struct client *b = client_add(*state, "test");
        struct client *c = client_add(*state, "test");

        declare(a, "s", 3, 5, WIRE_SEM_BOUNDED);
        acquire(a, "s");
        acquire(a, "s");
        acquire(a, "s");
        release(a, "s");
        acquire(c, "s");
        send_acquire(a, 1, "s", 1);
        run_until_waiters(0);
        assert_status(a, 1, WIRE_OP_SEM_ACQUIRE, WIRE_ETIMEDOUT);
        send_acquire(b, 2, "s", -1);
        check_info_fields(a, "s", WIRE_TYPE_SEMAPHORE, { "size", 0 }, { "value", 0 }, { "initial", 3 },
                          { "max", 5 }, { "bounded", 1 }, { "undo", 1 }, { "acquirers", 1 }, { "waiters", 1 },
                          { "holders", 2 }, { "held", 3 }, { "acquisitions", 4 }, { "releases", 1 },
                          { "undone", 0 }, { "timeouts", 1 }, { "owner_died", 0 }, { "owner_dead", 0 });
        assert_true(info_field(a, "s", "age_ms") >= 0);
        assert_true(info_field(a, "s", "idle_ms") >= 0);

        /* c dies: its unit goes to b, which is told that a holder died. */
        client_drop(*state, c);
        assert_status(b, 2, WIRE_OP_SEM_ACQUIRE, WIRE_EOWNERDEAD);
        check_info_fields(a, "s", WIRE_TYPE_SEMAPHORE, { "owner_died", 1 }, { "owner_dead", 0 },
                          { "undone", 1 }, { "acquisitions", 5 }, { "holders", 2 }, { "held", 3 },
                          { "acquirers", 0 });

        /* An unbounded semaphore without undo says so. */
        declare(a, "u", 0, 0, WIRE_SEM_NO_UNDO);
        check_info_fields(a, "u", WIRE_TYPE_SEMAPHORE, { "bounded", 0 }, { "max", 0 }, { "undo", 0 });
}

static void test_object_limit(void **state) {
        struct client *a = client_add(*state, "test");

        mpxd.max_objects = 1;
        declare(a, "s", 1, 0, 0);
        send_declare(a, 1, "t", 1, 0, 0);
        assert_status(a, 1, WIRE_OP_SEM_DECLARE, WIRE_EUSERS);
        /* Declaring one that exists is no new object. */
        send_declare(a, 2, "s", 1, 0, 0);
        assert_u8(a, 2, WIRE_OP_SEM_DECLARE, 0);
        assert_int_equal(sem_declare("t", 1, 1, 0, 0), -EUSERS);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_acquire_release),
                unit_client_test(test_declare_rules),
                unit_client_test(test_bounded_release),
                unit_client_test(test_unbounded_cap),
                unit_client_test(test_fifo_acquirers),
                unit_client_test(test_timeouts),
                unit_client_test(test_undo_on_client_lost),
                unit_client_test(test_owner_dead),
                unit_client_test(test_owner_dead_not_without_undo),
                unit_client_test(test_no_undo),
                unit_client_test(test_release_by_holder_and_non_holder),
                unit_client_test(test_delete_wakes_waiters),
                unit_client_test(test_shutdown_wakes_waiters),
                unit_client_test(test_lost_while_blocked),
                unit_client_test(test_wrong_type_and_missing),
                unit_client_test(test_malformed_bodies),
                unit_client_test(test_info_fields),
                unit_client_test(test_object_limit),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
