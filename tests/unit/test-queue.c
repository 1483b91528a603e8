/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's queues and of the request path in front of them
 * (daemon/queue.c, wait.c, op.c, client.c framing), without any socket:
 * socketless clients (client_new(-1)) are fed request frames with
 * client_feed() and their replies are parsed back out of their output
 * buffers. Timeouts are real libevent timers of 1 ms on mpxd.base, fired by
 * running the event loop until the expected waiters are gone.
 *
 * Covered: FIFO order, non-blocking and blocking gets and puts, waiter
 * order, timeouts (and timeouts so long they mean none), a request pipelined
 * behind a blocked one, maxsize back-pressure with strict putter order,
 * close, purge, delete, clients lost while blocked or while holding joinable
 * deliveries (redelivery in order, onto closed or full queues), task_done,
 * join, type and declare conflicts, max_message, and every protocol error a
 * client can cause (malformed bodies, unknown opcodes, no HELLO, another
 * protocol version, an oversized frame, frames split anywhere).
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
#include <sys/socket.h>
#include <unistd.h>

#include "client-internal.h"
#include "client.h"
#include "mpxd.h"
#include "unit-client.h"
#include "user.h"

/* ---- building requests ---- */

static void send_declare(struct client *c, uint32_t id, const char *name, uint64_t maxsize, uint32_t flags) {
        send_request(c, id, WIRE_OP_QUEUE_DECLARE, "nqw", name, maxsize, flags);
}

static void send_put(struct client *c, uint32_t id, const char *name, int64_t timeout_ms,
                     const char *payload) {
        send_request(c, id, WIRE_OP_QUEUE_PUT, "nis", name, timeout_ms, payload);
}

static void send_put_many(struct client *c, uint32_t id, const char *name, int64_t timeout_ms,
                          const char *const *payloads, uint32_t n) {
        struct wire_buf b;

        wire_buf_init(&b);
        append_request(&b, id, WIRE_OP_QUEUE_PUT_MANY, "niw", name, timeout_ms, n);
        /* The items follow the header's body: append them and patch body_len. */
        for (uint32_t i = 0; i < n; i++)
                assert_int_equal(wire_put_bytes(&b, payloads[i], (uint32_t) strlen(payloads[i])), 0);
        wire_frame_end(&b, 0);
        feed_buf(c, &b);
}

static void send_get(struct client *c, uint32_t id, const char *name, int64_t timeout_ms, uint32_t flags) {
        send_request(c, id, WIRE_OP_QUEUE_GET, "niw", name, timeout_ms, flags);
}

static void send_get_many(struct client *c, uint32_t id, const char *name, int64_t timeout_ms, uint32_t flags,
                          uint32_t max) {
        send_request(c, id, WIRE_OP_QUEUE_GET_MANY, "niww", name, timeout_ms, flags, max);
}

static void send_task_done(struct client *c, uint32_t id, const char *name, uint64_t tag) {
        send_request(c, id, WIRE_OP_QUEUE_TASK_DONE, "nq", name, tag);
}

static void send_join(struct client *c, uint32_t id, const char *name, int64_t timeout_ms) {
        send_request(c, id, WIRE_OP_QUEUE_JOIN, "ni", name, timeout_ms);
}

static void send_hello(struct client *c, uint32_t id, uint32_t version) {
        send_request(c, id, WIRE_OP_HELLO, "wt", version, "test-queue");
}

/* ---- reading replies ---- */

/* Read one item (u64 tag, u32 deliveries, bytes payload) and compare it. */
static uint64_t read_item_at(struct wire_reader *r, const char *payload, uint32_t deliveries,
                             const char *file, int line) {
        uint64_t tag = 0;
        uint32_t got_deliveries = 0, size = 0;
        const void *data = NULL;

        check_at(wire_get_u64(r, &tag) && wire_get_u32(r, &got_deliveries) && wire_get_bytes(r, &data, &size),
                 file, line, "malformed item");
        check_at(size == strlen(payload) && memcmp(data, payload, size) == 0, file, line,
                 "item '%.*s', expected '%s'", (int) size, (const char *) data, payload);
        check_at(got_deliveries == deliveries, file, line, "item '%s' delivered %u times, expected %u",
                 payload, got_deliveries, deliveries);
        return tag;
}

/* Exactly one GET reply with this payload is waiting; returns its tag. */
static uint64_t assert_item_at(struct client *c, uint32_t id, const char *payload, uint32_t deliveries,
                               const char *file, int line) {
        struct frame rep;
        struct wire_reader r;
        uint64_t tag;

        assert_reply_at(c, &rep, id, WIRE_OP_QUEUE_GET, WIRE_OK, file, line);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        tag = read_item_at(&r, payload, deliveries, file, line);
        check_at(wire_reader_done(&r), file, line, "stray bytes after the item");
        return tag;
}

#define assert_item(c, id, payload, deliveries) assert_item_at(c, id, payload, deliveries, __FILE__, __LINE__)

/* Exactly one GET_MANY reply with these n payloads (each delivered once) is waiting. */
static void assert_items_at(struct client *c, uint32_t id, const char *const *payloads, uint32_t n,
                            const char *file, int line) {
        struct frame rep;
        struct wire_reader r;
        uint32_t got = 0;

        assert_reply_at(c, &rep, id, WIRE_OP_QUEUE_GET_MANY, WIRE_OK, file, line);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        check_at(wire_get_u32(&r, &got) && got == n, file, line, "%u items, expected %u", got, n);
        for (uint32_t i = 0; i < n; i++)
                (void) read_item_at(&r, payloads[i], 1, file, line);
        check_at(wire_reader_done(&r), file, line, "stray bytes after the items");
}

#define assert_items(c, id, payloads, n) assert_items_at(c, id, payloads, n, __FILE__, __LINE__)

/* Ask QSIZE and compare every field. */
static void assert_qsize_at(struct client *c, const char *name, uint64_t size, uint64_t maxsize,
                            uint64_t unfinished, uint8_t closed, const char *file, int line) {
        struct frame rep;
        struct wire_reader r;
        uint64_t got_size = 0, got_maxsize = 0, got_unfinished = 0;
        uint8_t got_closed = 0;

        assert_no_reply_at(c, file, line);
        send_named(c, HELPER_ID, WIRE_OP_QUEUE_QSIZE, name);
        assert_reply_at(c, &rep, HELPER_ID, WIRE_OP_QUEUE_QSIZE, WIRE_OK, file, line);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        check_at(wire_get_u64(&r, &got_size) && wire_get_u64(&r, &got_maxsize) &&
                 wire_get_u64(&r, &got_unfinished) && wire_get_u8(&r, &got_closed) && wire_reader_done(&r),
                 file, line, "malformed QSIZE reply");
        check_at(got_size == size && got_maxsize == maxsize && got_unfinished == unfinished &&
                 got_closed == closed, file, line,
                 "queue '%s': size %llu maxsize %llu unfinished %llu closed %u, expected %llu %llu %llu %u",
                 name, (unsigned long long) got_size, (unsigned long long) got_maxsize,
                 (unsigned long long) got_unfinished, got_closed, (unsigned long long) size,
                 (unsigned long long) maxsize, (unsigned long long) unfinished, closed);
}

#define assert_qsize(c, name, size, maxsize, unfinished, closed) \
        assert_qsize_at(c, name, size, maxsize, unfinished, closed, __FILE__, __LINE__)

/* Declare a queue that must be new. */
static void declare_at(struct client *c, const char *name, uint64_t maxsize, uint32_t flags, const char *file,
                       int line) {
        struct frame rep;

        send_declare(c, HELPER_ID, name, maxsize, flags);
        assert_reply_at(c, &rep, HELPER_ID, WIRE_OP_QUEUE_DECLARE, WIRE_OK, file, line);
        check_at(rep.h.body_len == 1 && rep.body[0] == 1, file, line, "queue '%s' was not created", name);
}

#define declare(c, name, maxsize, flags) declare_at(c, name, maxsize, flags, __FILE__, __LINE__)

/* A put that must succeed at once. */
static void put_at(struct client *c, const char *name, const char *payload, const char *file, int line) {
        send_put(c, HELPER_ID, name, 0, payload);
        assert_status_at(c, HELPER_ID, WIRE_OP_QUEUE_PUT, WIRE_OK, file, line);
}

#define put(c, name, payload) put_at(c, name, payload, __FILE__, __LINE__)

/* A get that must succeed at once; returns the tag. */
static uint64_t get_at(struct client *c, const char *name, uint32_t flags, const char *payload,
                       uint32_t deliveries, const char *file, int line) {
        send_get(c, HELPER_ID, name, 0, flags);
        return assert_item_at(c, HELPER_ID, payload, deliveries, file, line);
}

#define get(c, name, payload) get_at(c, name, 0, payload, 1, __FILE__, __LINE__)
#define get_flags(c, name, flags, payload, deliveries) \
        get_at(c, name, flags, payload, deliveries, __FILE__, __LINE__)

#define info_field(c, name, key) info_field_at(c, name, WIRE_TYPE_ANY, key, __FILE__, __LINE__)

/* ---- tests ---- */

static void test_put_get_fifo(void **state) {
        struct client *a = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        put(a, "q", "one");
        put(a, "q", "two");
        put(a, "q", "three");
        assert_qsize(a, "q", 3, 0, 0, 0);
        assert_int_equal(get(a, "q", "one"), 0);        /* a plain queue has no tags */
        assert_int_equal(get(a, "q", "two"), 0);
        put(a, "q", "four");
        assert_int_equal(get(a, "q", "three"), 0);
        assert_int_equal(get(a, "q", "four"), 0);
        assert_qsize(a, "q", 0, 0, 0, 0);

        /* An empty payload is an item too. */
        put(a, "q", "");
        (void) get(a, "q", "");
        assert_qsize(a, "q", 0, 0, 0, 0);
}

static void test_get_many(void **state) {
        static const char *const five[] = { "a", "b", "c", "d", "e" };
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        send_put_many(a, 1, "q", 0, five, 5);
        assert_status(a, 1, WIRE_OP_QUEUE_PUT_MANY, WIRE_OK);
        send_get_many(a, 2, "q", 0, 0, 3);
        assert_items(a, 2, five, 3);
        send_get_many(a, 3, "q", 0, 0, 10);
        assert_items(a, 3, five + 3, 2);
        send_get_many(a, 4, "q", 0, 0, 10);
        assert_status(a, 4, WIRE_OP_QUEUE_GET_MANY, WIRE_EAGAIN);
        send_get_many(a, 5, "q", 0, 0, 0);
        assert_status(a, 5, WIRE_OP_QUEUE_GET_MANY, WIRE_EINVAL);

        /* A blocked get_many takes everything a put_many brings, up to its max. */
        send_get_many(b, 6, "q", -1, 0, 10);
        assert_no_reply(b);
        send_put_many(a, 7, "q", 0, five, 3);
        assert_status(a, 7, WIRE_OP_QUEUE_PUT_MANY, WIRE_OK);
        assert_items(b, 6, five, 3);
        assert_qsize(a, "q", 0, 0, 0, 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

/* A client on one end of a socket pair (the test keeps the other in *ret_peer), after HELLO. */
static struct client *client_with_socket(struct fixture *f, uid_t uid, gid_t gid, int *ret_peer) {
        struct client *c;
        struct frame rep;
        int sv[2];

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        c = fixture_keep(f, client_new_as(sv[0], getpid(), uid, gid));
        send_request(c, HELPER_ID, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-queue");
        assert_reply(c, &rep, HELPER_ID, WIRE_OP_HELLO, WIRE_OK);
        *ret_peer = sv[1];
        return c;
}

static uint64_t user_bytes(uid_t uid) {
        struct user *u = user_find(uid);

        assert_non_null(u);
        return u->bytes;
}

/*
 * A reply to a client with a socket holds its items, still charged to their
 * putters, until the kernel takes its last byte. Items of two users in one
 * GET_MANY: once the reply is written, each is uncharged from its own user;
 * if the client is lost first, they go back to the head of the queue in
 * order, charged as before, and are handed out as if for the first time.
 */
static void test_unsent_reply_of_two_users(void **state) {
        static const char *const order[] = { "a1", "b1", "a2", "b2" };
        struct client *a = client_add_as(*state, "test-queue", 4242, 4242);
        /* Another uid of the queue's group, which may put and get. */
        struct client *b = client_add_as(*state, "test-queue", 4243, 4242);
        struct client *s;
        char got[256];
        ssize_t n;
        int peer;

        declare(a, "q", 0, 0);
        for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 4; i++)
                        put(i % 2 ? b : a, "q", order[i]);
                assert_int_equal(user_bytes(4242), 2 * (2 + queue_item_overhead));
                assert_int_equal(user_bytes(4243), 2 * (2 + queue_item_overhead));
                s = client_with_socket(*state, 4244, 4242, &peer);
                send_get_many(s, 9, "q", 0, 0, 4);
                assert_int_equal(info_field_at(a, "q", WIRE_TYPE_QUEUE, "size", __FILE__, __LINE__), 0);
                /* Not written yet: still charged. */
                assert_int_equal(user_bytes(4242), 2 * (2 + queue_item_overhead));
                if (round == 0) {
                        client_flush_dirty();
                        n = read(peer, got, sizeof(got));
                        assert_true(n > 0);
                        assert_non_null(memmem(got, (size_t) n, "a1", 2));
                        assert_int_equal(user_bytes(4242), 0);
                        assert_int_equal(user_bytes(4243), 0);
                        assert_int_equal(info_field_at(a, "q", WIRE_TYPE_QUEUE, "redelivered", __FILE__, __LINE__), 0);
                        client_drop(*state, s);
                } else {
                        client_drop(*state, s);
                        assert_int_equal(info_field_at(a, "q", WIRE_TYPE_QUEUE, "redelivered", __FILE__, __LINE__), 4);
                        assert_int_equal(user_bytes(4243), 2 * (2 + queue_item_overhead));
                        /* Back in order, handed out for the first time. */
                        send_get_many(a, 10, "q", 0, 0, 10);
                        assert_items(a, 10, order, 4);
                        assert_int_equal(user_bytes(4242), 0);
                        assert_int_equal(user_bytes(4243), 0);
                }
                close(peer);
        }
        assert_int_equal(info_field_at(a, "q", WIRE_TYPE_QUEUE, "bytes", __FILE__, __LINE__), 0);
}

static void test_nonblocking_empty(void **state) {
        struct client *a = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        send_get(a, 1, "q", 0, 0);
        assert_status(a, 1, WIRE_OP_QUEUE_GET, WIRE_EAGAIN);
        assert_int_equal(mpxd.n_waiters, 0);
        send_get(a, 2, "nothing", 0, 0);
        assert_status(a, 2, WIRE_OP_QUEUE_GET, WIRE_ENOENT);
        send_put(a, 3, "nothing", 0, "x");
        assert_status(a, 3, WIRE_OP_QUEUE_PUT, WIRE_ENOENT);
        send_get(a, 4, "q", 0, 2);
        assert_status(a, 4, WIRE_OP_QUEUE_GET, WIRE_EINVAL);    /* unknown flag */
}

static void test_blocked_get_served_by_put(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        send_get(a, 77, "q", -1, 0);
        assert_no_reply(a);
        assert_int_equal(mpxd.n_waiters, 1);

        /* Later requests of the blocked client go on. */
        send_request(a, 78, WIRE_OP_PING, "s", "still here");
        assert_int_equal(drop_replies(a), 1);

        send_put(b, 5, "q", 0, "hello");
        assert_status(b, 5, WIRE_OP_QUEUE_PUT, WIRE_OK);
        assert_item(a, 77, "hello", 1);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_qsize(a, "q", 0, 0, 0, 0);

        /* A waiter with a long timeout that is served leaves no timer behind. */
        send_get(a, 79, "q", 60000, 0);
        assert_no_reply(a);
        put(b, "q", "again");
        assert_item(a, 79, "again", 1);
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 0);
}

static void test_waiter_order(void **state) {
        struct client *p = client_add(*state, "test-queue");
        struct client *g[3];

        declare(p, "q", 0, 0);
        for (int i = 0; i < 3; i++) {
                g[i] = client_add(*state, "test-queue");
                send_get(g[i], 100 + (uint32_t) i, "q", -1, 0);
                assert_no_reply(g[i]);
        }
        assert_int_equal(mpxd.n_waiters, 3);
        put(p, "q", "first");
        assert_item(g[0], 100, "first", 1);
        assert_no_reply(g[1]);
        assert_no_reply(g[2]);
        put(p, "q", "second");
        put(p, "q", "third");
        assert_item(g[1], 101, "second", 1);
        assert_item(g[2], 102, "third", 1);
        assert_int_equal(mpxd.n_waiters, 0);

        /* Two waiters of the same client are served in their order too. */
        send_get(g[0], 1, "q", -1, 0);
        send_get(g[0], 2, "q", -1, 0);
        send_put_many(p, 3, "q", 0, (const char *const[]) { "x", "y" }, 2);
        assert_status(p, 3, WIRE_OP_QUEUE_PUT_MANY, WIRE_OK);
        {
                struct frame r[MAX_REPLIES];
                struct wire_reader rd;

                assert_int_equal(take_replies(g[0], r, MAX_REPLIES), 2);
                check_header(&r[0], 1, WIRE_OP_QUEUE_GET, WIRE_OK);
                wire_reader_init(&rd, r[0].body, r[0].h.body_len);
                (void) read_item_at(&rd, "x", 1, __FILE__, __LINE__);
                check_header(&r[1], 2, WIRE_OP_QUEUE_GET, WIRE_OK);
                wire_reader_init(&rd, r[1].body, r[1].h.body_len);
                (void) read_item_at(&rd, "y", 1, __FILE__, __LINE__);
        }
}

static void test_timeouts(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        declare(a, "full", 1, 0);
        put(a, "full", "x");

        send_get(a, 5, "q", 1, 0);
        send_get_many(b, 6, "q", 1, 0, 4);
        send_put(b, 7, "full", 1, "y");
        assert_no_reply(a);
        assert_no_reply(b);
        assert_int_equal(mpxd.n_waiters, 3);

        run_until_waiters(0);
        assert_status(a, 5, WIRE_OP_QUEUE_GET, WIRE_ETIMEDOUT);
        {
                struct frame r[MAX_REPLIES];
                size_t n = take_replies(b, r, MAX_REPLIES);

                /* The two timers may fire in either order. */
                assert_int_equal(n, 2);
                if (r[0].h.id == 7) {
                        struct frame t = r[0];
                        r[0] = r[1];
                        r[1] = t;
                }
                check_header(&r[0], 6, WIRE_OP_QUEUE_GET_MANY, WIRE_ETIMEDOUT);
                check_header(&r[1], 7, WIRE_OP_QUEUE_PUT, WIRE_ETIMEDOUT);
        }
        /* The put that timed out did not add its item. */
        assert_qsize(a, "full", 1, 1, 0, 0);
        assert_qsize(a, "q", 0, 0, 0, 0);

        /* A timed-out getter does not take what comes later. */
        put(b, "q", "later");
        (void) get(b, "q", "later");
}

static void test_pipelined_behind_blocked(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct wire_buf batch;
        struct frame r;

        declare(a, "q", 0, 0);
        wire_buf_init(&batch);
        append_request(&batch, 1, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        append_request(&batch, 2, WIRE_OP_QUEUE_QSIZE, "n", "q");
        feed_buf(a, &batch);

        /* Only QSIZE is answered; GET id 1 still waits. */
        assert_reply(a, &r, 2, WIRE_OP_QUEUE_QSIZE, WIRE_OK);
        assert_int_equal(r.h.body_len, 8 + 8 + 8 + 1);
        assert_int_equal(mpxd.n_waiters, 1);

        send_put(b, 3, "q", 0, "for one");
        assert_status(b, 3, WIRE_OP_QUEUE_PUT, WIRE_OK);
        assert_item(a, 1, "for one", 1);
}

static void test_maxsize_backpressure(void **state) {
        static const char *const three[] = { "m1", "m2", "m3" };
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        declare(a, "q", 2, 0);
        put(a, "q", "a");
        put(a, "q", "b");
        send_put(a, 1, "q", 0, "c");
        assert_status(a, 1, WIRE_OP_QUEUE_PUT, WIRE_EAGAIN);
        send_put_many(a, 2, "q", -1, three, 3);
        assert_status(a, 2, WIRE_OP_QUEUE_PUT_MANY, WIRE_EINVAL);     /* more than maxsize, ever */

        send_put(b, 7, "q", -1, "c");
        assert_no_reply(b);
        assert_qsize(a, "q", 2, 2, 0, 0);

        /* A get makes room: the blocked put goes in behind what was there. */
        (void) get(a, "q", "a");
        assert_status(b, 7, WIRE_OP_QUEUE_PUT, WIRE_OK);
        assert_qsize(a, "q", 2, 2, 0, 0);
        (void) get(a, "q", "b");
        (void) get(a, "q", "c");
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_putters_strict_fifo(void **state) {
        static const char *const three[] = { "m1", "m2", "m3" };
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct client *c = client_add(*state, "test-queue");

        declare(a, "q", 3, 0);
        put(a, "q", "p1");
        put(a, "q", "p2");

        /* The batch needs 3 slots and there is 1: it waits ... */
        send_put_many(b, 10, "q", -1, three, 3);
        assert_no_reply(b);
        /* ... and a single put behind it waits too, though it would fit. */
        send_put(c, 20, "q", -1, "s");
        assert_no_reply(c);
        send_put(c, 21, "q", 0, "never");
        assert_status(c, 21, WIRE_OP_QUEUE_PUT, WIRE_EAGAIN);
        assert_qsize(a, "q", 2, 3, 0, 0);
        assert_int_equal(mpxd.n_waiters, 2);

        (void) get(a, "q", "p1");       /* 2 free: not yet */
        assert_no_reply(b);
        assert_no_reply(c);
        (void) get(a, "q", "p2");       /* 3 free: the batch, not the single put */
        assert_status(b, 10, WIRE_OP_QUEUE_PUT_MANY, WIRE_OK);
        assert_no_reply(c);
        (void) get(a, "q", "m1");
        assert_status(c, 20, WIRE_OP_QUEUE_PUT, WIRE_OK);
        (void) get(a, "q", "m2");
        (void) get(a, "q", "m3");
        (void) get(a, "q", "s");
        assert_qsize(a, "q", 0, 3, 0, 0);
}

static void test_putter_head_timeout_lets_next_in(void **state) {
        static const char *const two[] = { "big1", "big2" };
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        declare(a, "q", 2, 0);
        put(a, "q", "x");
        send_put_many(a, 1, "q", 1, two, 2);
        send_put(b, 2, "q", -1, "small");
        assert_no_reply(a);
        assert_no_reply(b);

        run_until_waiters(0);
        assert_status(a, 1, WIRE_OP_QUEUE_PUT_MANY, WIRE_ETIMEDOUT);
        assert_status(b, 2, WIRE_OP_QUEUE_PUT, WIRE_OK);
        (void) get(a, "q", "x");
        (void) get(a, "q", "small");
}

static void test_close(void **state) {
        static const char *const one[] = { "z" };
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct client *c = client_add(*state, "test-queue");

        /* Puts fail at once; getters take what is left, then the stream ends. */
        declare(a, "q", 0, 0);
        put(a, "q", "left");
        send_named(a, 1, WIRE_OP_QUEUE_CLOSE, "q");
        assert_status(a, 1, WIRE_OP_QUEUE_CLOSE, WIRE_OK);
        assert_qsize(a, "q", 1, 0, 0, 1);
        send_put(a, 2, "q", -1, "late");
        assert_status(a, 2, WIRE_OP_QUEUE_PUT, WIRE_EPIPE);
        send_put_many(a, 3, "q", 0, one, 1);
        assert_status(a, 3, WIRE_OP_QUEUE_PUT_MANY, WIRE_EPIPE);
        (void) get(a, "q", "left");
        send_get(a, 4, "q", -1, 0);
        assert_status(a, 4, WIRE_OP_QUEUE_GET, WIRE_EPIPE);
        send_get(a, 5, "q", 0, 0);
        assert_status(a, 5, WIRE_OP_QUEUE_GET, WIRE_EPIPE);
        send_get_many(a, 6, "q", 10, 0, 5);
        assert_status(a, 6, WIRE_OP_QUEUE_GET_MANY, WIRE_EPIPE);
        send_named(a, 7, WIRE_OP_QUEUE_CLOSE, "q");
        assert_status(a, 7, WIRE_OP_QUEUE_CLOSE, WIRE_OK);      /* twice is fine */
        assert_int_equal(mpxd.n_waiters, 0);

        /* Blocked getters of an empty queue are woken with EPIPE. */
        declare(a, "r", 0, 0);
        send_get(b, 10, "r", -1, 0);
        send_get_many(c, 11, "r", -1, 0, 3);
        send_named(a, 12, WIRE_OP_QUEUE_CLOSE, "r");
        assert_status(a, 12, WIRE_OP_QUEUE_CLOSE, WIRE_OK);
        assert_status(b, 10, WIRE_OP_QUEUE_GET, WIRE_EPIPE);
        assert_status(c, 11, WIRE_OP_QUEUE_GET_MANY, WIRE_EPIPE);

        /* Blocked putters are woken with EPIPE; what was queued stays. */
        declare(a, "s", 1, 0);
        put(a, "s", "kept");
        send_put(b, 20, "s", -1, "dropped");
        send_named(a, 21, WIRE_OP_QUEUE_CLOSE, "s");
        assert_status(a, 21, WIRE_OP_QUEUE_CLOSE, WIRE_OK);
        assert_status(b, 20, WIRE_OP_QUEUE_PUT, WIRE_EPIPE);
        assert_qsize(a, "s", 1, 1, 0, 1);
        (void) get(c, "s", "kept");
        send_get(c, 22, "s", 0, 0);
        assert_status(c, 22, WIRE_OP_QUEUE_GET, WIRE_EPIPE);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_purge(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct frame r;
        struct wire_reader rd;
        uint64_t removed = 0;

        declare(a, "q", 2, 0);
        put(a, "q", "1");
        put(a, "q", "2");
        send_put(b, 5, "q", -1, "3");
        assert_no_reply(b);
        send_named(a, 6, WIRE_OP_QUEUE_PURGE, "q");
        assert_reply(a, &r, 6, WIRE_OP_QUEUE_PURGE, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u64(&rd, &removed) && wire_reader_done(&rd));
        assert_int_equal(removed, 2);
        /* The room made lets the blocked put in. */
        assert_status(b, 5, WIRE_OP_QUEUE_PUT, WIRE_OK);
        assert_qsize(a, "q", 1, 2, 0, 0);
        (void) get(a, "q", "3");
}

static void test_delete_wakes_waiters(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *putter = client_add(*state, "test-queue");
        struct client *joiner = client_add(*state, "test-queue");
        struct client *getter = client_add(*state, "test-queue");
        struct client *holder = client_add(*state, "test-queue");

        declare(a, "j", 1, WIRE_QUEUE_JOINABLE);
        declare(a, "e", 0, 0);
        put(a, "j", "taken");
        (void) get(holder, "j", "taken");               /* a delivery not done */
        put(a, "j", "queued");
        send_put(putter, 1, "j", -1, "blocked");
        send_join(joiner, 2, "j", -1);
        send_get(getter, 3, "e", -1, 0);
        assert_int_equal(mpxd.n_waiters, 3);
        assert_qsize(a, "j", 1, 1, 2, 0);

        send_named(a, 4, WIRE_OP_DELETE, "j");
        assert_status(a, 4, WIRE_OP_DELETE, WIRE_OK);
        assert_status(putter, 1, WIRE_OP_QUEUE_PUT, WIRE_EIDRM);
        assert_status(joiner, 2, WIRE_OP_QUEUE_JOIN, WIRE_EIDRM);
        assert_no_reply(getter);
        send_named(a, 5, WIRE_OP_DELETE, "e");
        assert_status(a, 5, WIRE_OP_DELETE, WIRE_OK);
        assert_status(getter, 3, WIRE_OP_QUEUE_GET, WIRE_EIDRM);
        assert_int_equal(mpxd.n_waiters, 0);

        send_named(a, 6, WIRE_OP_QUEUE_QSIZE, "j");
        assert_status(a, 6, WIRE_OP_QUEUE_QSIZE, WIRE_ENOENT);
        send_named(a, 7, WIRE_OP_DELETE, "j");
        assert_status(a, 7, WIRE_OP_DELETE, WIRE_ENOENT);
        send_task_done(holder, 8, "j", 0);
        assert_status(holder, 8, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);

        /* The holder's delivery went with the queue: losing it now touches nothing freed. */
        assert_true(TAILQ_EMPTY(&client_shared(holder)->deliveries));
        client_drop(*state, holder);

        /* The name is free again, for any type. */
        declare(a, "j", 0, 0);
}

static void test_lost_getter(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct client *c = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        send_get(b, 1, "q", -1, 0);
        send_get(b, 2, "q", 60000, 0);
        assert_int_equal(mpxd.n_waiters, 2);
        client_drop(*state, b);
        assert_int_equal(mpxd.n_waiters, 0);

        /* Nobody waits any more: the item stays in the queue. */
        put(a, "q", "kept");
        assert_qsize(a, "q", 1, 0, 0, 0);
        (void) get(c, "q", "kept");

        /* A lost putter's blocked item never enters the queue. */
        declare(a, "full", 1, 0);
        put(a, "full", "x");
        send_put(c, 3, "full", -1, "never");
        assert_int_equal(mpxd.n_waiters, 1);
        client_drop(*state, c);
        assert_int_equal(mpxd.n_waiters, 0);
        (void) get(a, "full", "x");
        assert_qsize(a, "full", 0, 1, 0, 0);
}

static void test_lost_consumer_redelivers(void **state) {
        static const char *const five[] = { "a", "b", "c", "d", "e" };
        struct client *p = client_add(*state, "test-queue");
        struct client *c1 = client_add(*state, "test-queue");
        struct client *c2 = client_add(*state, "test-queue");
        uint64_t tc, ta, tb;

        declare(p, "j", 0, WIRE_QUEUE_JOINABLE);
        send_put_many(p, 1, "j", 0, five, 5);
        assert_status(p, 1, WIRE_OP_QUEUE_PUT_MANY, WIRE_OK);
        assert_int_not_equal(get(c1, "j", "a"), 0);
        (void) get(c1, "j", "b");
        tc = get(c2, "j", "c");
        (void) get_flags(c1, "j", WIRE_GET_DETACH, "d", 1);
        assert_qsize(p, "j", 1, 0, 5, 0);

        /* c1 goes: a and b go back to the head, in order; d was detached. */
        client_drop(*state, c1);
        assert_qsize(p, "j", 3, 0, 5, 0);
        ta = get_flags(c2, "j", 0, "a", 2);
        tb = get_flags(c2, "j", 0, "b", 2);
        (void) get(c2, "j", "e");
        assert_int_not_equal(ta, tb);
        assert_int_not_equal(ta, tc);

        /* A getter blocked when a consumer goes receives the redelivered item. */
        send_get(p, 2, "j", -1, 0);
        assert_no_reply(p);
        client_drop(*state, c2);
        {
                struct frame r;
                struct wire_reader rd;

                assert_reply(p, &r, 2, WIRE_OP_QUEUE_GET, WIRE_OK);
                wire_reader_init(&rd, r.body, r.h.body_len);
                /* c2 held c, a, b, e in that order: the oldest comes back first. */
                (void) read_item_at(&rd, "c", 2, __FILE__, __LINE__);
                assert_true(wire_reader_done(&rd));
        }
        (void) get_flags(p, "j", 0, "a", 3);
        (void) get_flags(p, "j", 0, "b", 3);
        (void) get_flags(p, "j", 0, "e", 2);
        assert_qsize(p, "j", 0, 0, 5, 0);

        /* Finish everything: four of p's own, then the detached d. */
        for (uint32_t i = 0; i < 5; i++) {
                send_task_done(p, 10 + i, "j", 0);
                assert_status(p, 10 + i, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        }
        assert_qsize(p, "j", 0, 0, 0, 0);
}

static void test_task_done(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        uint64_t t1, t2, t3;

        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        put(a, "j", "1");
        put(a, "j", "2");
        put(a, "j", "3");
        assert_qsize(a, "j", 3, 0, 3, 0);
        t1 = get(a, "j", "1");
        t2 = get(a, "j", "2");
        t3 = get(a, "j", "3");
        assert_true(t1 != 0 && t2 != 0 && t3 != 0 && t1 != t2 && t2 != t3 && t1 != t3);
        assert_qsize(a, "j", 0, 0, 3, 0);

        /* By tag. */
        send_task_done(a, 1, "j", t2);
        assert_status(a, 1, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_qsize(a, "j", 0, 0, 2, 0);
        send_task_done(a, 2, "j", t2);
        assert_status(a, 2, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);     /* already done */

        /* Untagged: this connection's oldest, so t1. */
        send_task_done(a, 3, "j", 0);
        assert_status(a, 3, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        send_task_done(a, 4, "j", t1);
        assert_status(a, 4, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);
        assert_qsize(a, "j", 0, 0, 1, 0);

        /* Another connection holds nothing: untagged is too often ... */
        send_task_done(b, 5, "j", 0);
        assert_status(b, 5, WIRE_OP_QUEUE_TASK_DONE, WIRE_EINVAL);
        /* ... but any connection may finish by tag. */
        send_task_done(b, 6, "j", t3);
        assert_status(b, 6, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_qsize(a, "j", 0, 0, 0, 0);

        send_task_done(a, 7, "j", 0);
        assert_status(a, 7, WIRE_OP_QUEUE_TASK_DONE, WIRE_EINVAL);
        send_task_done(a, 8, "j", 999);
        assert_status(a, 8, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);
        send_task_done(a, 9, "nothing", 0);
        assert_status(a, 9, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);

        /* A detached delivery is finished by anyone's untagged task_done. */
        put(a, "j", "4");
        (void) get_flags(a, "j", WIRE_GET_DETACH, "4", 1);
        send_task_done(b, 10, "j", 0);
        assert_status(b, 10, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_qsize(a, "j", 0, 0, 0, 0);
}

/* One DONE_GET reply with this payload; returns its tag. */
static uint64_t assert_done_get_item(struct client *c, uint32_t id, const char *payload, uint32_t deliveries) {
        struct frame rep;
        struct wire_reader r;
        uint64_t tag;

        assert_reply(c, &rep, id, WIRE_OP_QUEUE_DONE_GET, WIRE_OK);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        tag = read_item_at(&r, payload, deliveries, __FILE__, __LINE__);
        assert_true(wire_reader_done(&r));
        return tag;
}

/*
 * DONE_GET finishes a delivery and takes the next item in one request: a
 * refused finish does nothing else, any other answer means it finished;
 * parked, it is served like a GET, and the finish releases joiners first.
 */
static void test_done_get(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        uint64_t t1, t2, t3;

        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        declare(a, "p", 0, 0);
        put(a, "j", "1");
        put(a, "j", "2");
        t1 = get(a, "j", "1");

        /* Finish 1, take 2. */
        send_request(a, 1, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", t1, (int64_t) -1, (uint32_t) 0);
        t2 = assert_done_get_item(a, 1, "2", 1);
        assert_true(t2 != t1);
        assert_qsize(a, "j", 0, 0, 1, 0);

        /* A refused finish takes nothing: an unknown tag, nothing to finish, bad flags, a plain queue. */
        put(a, "j", "3");
        send_request(a, 2, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", t1, (int64_t) 0, (uint32_t) 0);
        assert_status(a, 2, WIRE_OP_QUEUE_DONE_GET, WIRE_ENOENT);
        send_request(b, 3, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", (uint64_t) 0, (int64_t) 0, (uint32_t) 0);
        assert_status(b, 3, WIRE_OP_QUEUE_DONE_GET, WIRE_EINVAL);
        send_request(a, 4, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", t2, (int64_t) 0, (uint32_t) 0x80);
        assert_status(a, 4, WIRE_OP_QUEUE_DONE_GET, WIRE_EINVAL);
        send_request(a, 5, WIRE_OP_QUEUE_DONE_GET, "nqiw", "p", t2, (int64_t) 0, (uint32_t) 0);
        assert_status(a, 5, WIRE_OP_QUEUE_DONE_GET, WIRE_EPROTOTYPE);
        send_request(a, 6, WIRE_OP_QUEUE_DONE_GET, "nqi", "j", t2, (int64_t) 0);
        assert_status(a, 6, WIRE_OP_QUEUE_DONE_GET, WIRE_EPROTO);
        assert_qsize(a, "j", 1, 0, 2, 0);

        /* Untagged: this connection's oldest (2), then 3 taken detached. */
        send_request(a, 7, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", (uint64_t) 0, (int64_t) 0,
                     (uint32_t) WIRE_GET_DETACH);
        t3 = assert_done_get_item(a, 7, "3", 1);
        assert_qsize(a, "j", 0, 0, 1, 0);

        /* Finished though the get finds nothing: EAGAIN at timeout 0. */
        send_request(a, 8, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", t3, (int64_t) 0, (uint32_t) 0);
        assert_status(a, 8, WIRE_OP_QUEUE_DONE_GET, WIRE_EAGAIN);
        assert_qsize(a, "j", 0, 0, 0, 0);

        /* Parked: the finish releases a joiner at once, the next put serves the get. */
        put(a, "j", "4");
        t1 = get(a, "j", "4");
        send_join(b, 9, "j", -1);
        assert_no_reply(b);
        send_request(a, 10, WIRE_OP_QUEUE_DONE_GET, "nqiw", "j", t1, (int64_t) -1, (uint32_t) 0);
        assert_status(b, 9, WIRE_OP_QUEUE_JOIN, WIRE_OK);
        assert_no_reply(a);
        put(b, "j", "5");
        (void) assert_done_get_item(a, 10, "5", 1);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_join(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct client *c = client_add(*state, "test-queue");

        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        send_join(a, 1, "j", 0);
        assert_status(a, 1, WIRE_OP_QUEUE_JOIN, WIRE_OK);
        send_join(a, 2, "j", -1);
        assert_status(a, 2, WIRE_OP_QUEUE_JOIN, WIRE_OK);

        put(a, "j", "work");
        send_join(a, 3, "j", 0);
        assert_status(a, 3, WIRE_OP_QUEUE_JOIN, WIRE_EAGAIN);
        send_join(b, 4, "j", -1);
        send_join(c, 5, "j", 1);
        assert_no_reply(b);
        assert_no_reply(c);
        run_until_waiters(1);
        assert_status(c, 5, WIRE_OP_QUEUE_JOIN, WIRE_ETIMEDOUT);
        assert_no_reply(b);

        /* Taken is not finished. */
        (void) get(a, "j", "work");
        assert_no_reply(b);
        send_task_done(a, 6, "j", 0);
        assert_status(a, 6, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_status(b, 4, WIRE_OP_QUEUE_JOIN, WIRE_OK);
        assert_int_equal(mpxd.n_waiters, 0);

        send_join(a, 7, "nothing", -1);
        assert_status(a, 7, WIRE_OP_QUEUE_JOIN, WIRE_ENOENT);
}

static void test_wrong_type(void **state) {
        struct client *a = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);
        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        send_task_done(a, 1, "q", 0);
        assert_status(a, 1, WIRE_OP_QUEUE_TASK_DONE, WIRE_EPROTOTYPE);
        send_join(a, 2, "q", 0);
        assert_status(a, 2, WIRE_OP_QUEUE_JOIN, WIRE_EPROTOTYPE);
        send_declare(a, 3, "q", 0, WIRE_QUEUE_JOINABLE);
        assert_status(a, 3, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTOTYPE);
        send_declare(a, 4, "j", 0, 0);
        assert_status(a, 4, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTOTYPE);

        /* Plain queue operations work on both types. */
        put(a, "j", "x");
        (void) get(a, "j", "x");
        assert_qsize(a, "j", 0, 0, 1, 0);
}

static void test_declare_conflicts(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct frame r;

        declare(a, "q", 5, 0);
        send_declare(a, 1, "q", 5, 0);
        assert_reply(a, &r, 1, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        assert_int_equal(r.h.body_len, 1);
        assert_int_equal(r.body[0], 0);                 /* existed */
        send_declare(a, 2, "q", 6, 0);
        assert_status(a, 2, WIRE_OP_QUEUE_DECLARE, WIRE_EEXIST);
        send_declare(a, 3, "q", 0, 0);
        assert_status(a, 3, WIRE_OP_QUEUE_DECLARE, WIRE_EEXIST);
        send_declare(a, 4, "other", 0, 0x80);
        assert_status(a, 4, WIRE_OP_QUEUE_DECLARE, WIRE_EINVAL);       /* unknown flag */
        assert_qsize(a, "q", 0, 5, 0, 0);
        assert_int_equal(mpxd.n_objects, 1);
}

static void test_malformed_bodies(void **state) {
        static const uint8_t bad_name[] = { 4, 'b', 'a', 'd', '!' };
        static const uint8_t empty_name[] = { 0 };
        static const uint8_t short_name[] = { 10, 'q' };
        static const uint8_t long_bytes[] = { 100, 0, 0, 0, 'a', 'b', 'c' };
        struct client *a = client_add(*state, "test-queue");

        declare(a, "q", 0, 0);

        /* Truncated: no payload, a payload shorter than announced, half an integer. */
        send_request(a, 1, WIRE_OP_QUEUE_PUT, "ni", "q", (int64_t) 0);
        assert_status(a, 1, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        send_request(a, 2, WIRE_OP_QUEUE_PUT, "nir", "q", (int64_t) 0, long_bytes, sizeof(long_bytes));
        assert_status(a, 2, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        send_request(a, 3, WIRE_OP_QUEUE_GET, "nw", "q", 0u);
        assert_status(a, 3, WIRE_OP_QUEUE_GET, WIRE_EPROTO);
        send_request(a, 4, WIRE_OP_QUEUE_DECLARE, "nqb", "new", (uint64_t) 0, 0u);
        assert_status(a, 4, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTO);
        send_request(a, 5, WIRE_OP_QUEUE_QSIZE, "");
        assert_status(a, 5, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        send_request(a, 6, WIRE_OP_QUEUE_PUT_MANY, "niwss", "q", (int64_t) 0, 3u, "x", "y");
        assert_status(a, 6, WIRE_OP_QUEUE_PUT_MANY, WIRE_EPROTO);
        send_request(a, 7, WIRE_OP_QUEUE_TASK_DONE, "nw", "q", 0u);
        assert_status(a, 7, WIRE_OP_QUEUE_TASK_DONE, WIRE_EPROTO);
        send_request(a, 8, WIRE_OP_PING, "r", "\x05\0\0", (size_t) 3);
        assert_status(a, 8, WIRE_OP_PING, WIRE_EPROTO);

        /* Trailing bytes after a complete body. */
        send_request(a, 10, WIRE_OP_QUEUE_PUT, "nisb", "q", (int64_t) 0, "x", 0u);
        assert_status(a, 10, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        send_request(a, 11, WIRE_OP_QUEUE_GET, "niwb", "q", (int64_t) 0, 0u, 0u);
        assert_status(a, 11, WIRE_OP_QUEUE_GET, WIRE_EPROTO);
        send_request(a, 12, WIRE_OP_QUEUE_QSIZE, "nb", "q", 0u);
        assert_status(a, 12, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        send_request(a, 13, WIRE_OP_QUEUE_PUT_MANY, "niwsb", "q", (int64_t) 0, 1u, "x", 0u);
        assert_status(a, 13, WIRE_OP_QUEUE_PUT_MANY, WIRE_EPROTO);
        send_request(a, 14, WIRE_OP_QUEUE_DECLARE, "nqwb", "new", (uint64_t) 0, 0u, 0u);
        assert_status(a, 14, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTO);
        send_request(a, 15, WIRE_OP_STATS, "b", 0u);
        assert_status(a, 15, WIRE_OP_STATS, WIRE_EPROTO);

        /* Bad names: a forbidden byte, zero length, shorter than announced. */
        send_request(a, 20, WIRE_OP_QUEUE_PUT, "ris", bad_name, sizeof(bad_name), (int64_t) 0, "x");
        assert_status(a, 20, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        send_request(a, 21, WIRE_OP_QUEUE_DECLARE, "rqw", empty_name, sizeof(empty_name), (uint64_t) 0, 0u);
        assert_status(a, 21, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTO);
        send_request(a, 22, WIRE_OP_QUEUE_QSIZE, "r", short_name, sizeof(short_name));
        assert_status(a, 22, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        send_request(a, 23, WIRE_OP_DELETE, "r", bad_name, sizeof(bad_name));
        assert_status(a, 23, WIRE_OP_DELETE, WIRE_EPROTO);

        /* A malformed request for a queue that does not exist is still EPROTO. */
        send_request(a, 24, WIRE_OP_QUEUE_PUT, "ni", "missing", (int64_t) 0);
        assert_status(a, 24, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);

        /* Well formed but empty batch. */
        send_request(a, 25, WIRE_OP_QUEUE_PUT_MANY, "niw", "q", (int64_t) 0, 0u);
        assert_status(a, 25, WIRE_OP_QUEUE_PUT_MANY, WIRE_EINVAL);

        /* None of it changed anything, and the connection goes on. */
        assert_qsize(a, "q", 0, 0, 0, 0);
        assert_int_equal(mpxd.n_objects, 1);
        assert_int_equal(client_state(a), CLIENT_READY);
        put(a, "q", "fine");
        (void) get(a, "q", "fine");
}

static void test_unknown_opcode(void **state) {
        struct client *a = client_add(*state, NULL);

        /* Unknown opcodes are answered even before HELLO, with id and op echoed. */
        send_request(a, 41, 9999, "w", 1u);
        assert_status(a, 41, 9999, WIRE_EOPNOTSUPP);
        send_hello(a, 42, WIRE_VERSION);
        assert_int_equal(drop_replies(a), 1);
        send_request(a, 43, 0, "");
        assert_status(a, 43, 0, WIRE_EOPNOTSUPP);
        send_request(a, 44, 299, "n", "q");
        assert_status(a, 44, 299, WIRE_EOPNOTSUPP);
        send_request(a, 45, UINT16_MAX, "");
        assert_status(a, 45, UINT16_MAX, WIRE_EOPNOTSUPP);
        assert_int_equal(client_state(a), CLIENT_READY);
        declare(a, "q", 0, 0);
}

static void test_request_before_hello(void **state) {
        struct client *a = client_add(*state, NULL);
        struct frame r;

        send_declare(a, 1, "q", 0, 0);
        assert_status(a, 1, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTO);
        assert_int_equal(mpxd.n_objects, 0);
        send_named(a, 2, WIRE_OP_QUEUE_QSIZE, "q");
        assert_status(a, 2, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        send_request(a, 3, WIRE_OP_STATS, "");
        assert_status(a, 3, WIRE_OP_STATS, WIRE_EPROTO);

        /* PING is allowed before HELLO. */
        send_request(a, 4, WIRE_OP_PING, "s", "ping");
        assert_reply(a, &r, 4, WIRE_OP_PING, WIRE_OK);
        assert_int_equal(r.h.body_len, 4 + 4);
        assert_memory_equal(r.body + 4, "ping", 4);

        send_hello(a, 5, WIRE_VERSION);
        assert_reply(a, &r, 5, WIRE_OP_HELLO, WIRE_OK);
        declare(a, "q", 0, 0);
}

static void test_hello(void **state) {
        struct client *a = client_add(*state, NULL);
        struct frame r;
        struct wire_reader rd;
        uint32_t version = 0, max_message = 0, max_frame = 0;
        const char *server = NULL;
        uint16_t server_len = 0;

        /* Another version: EPROTO, with a body saying which version the daemon speaks. */
        send_hello(a, 7, WIRE_VERSION + 1);
        assert_reply(a, &r, 7, WIRE_OP_HELLO, WIRE_EPROTO);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version) && wire_get_u32(&rd, &max_message) &&
                    wire_get_u32(&rd, &max_frame) && wire_get_str(&rd, &server, &server_len) &&
                    wire_reader_done(&rd));
        assert_int_equal(version, WIRE_VERSION);
        assert_int_equal(max_message, mpxd.max_message);
        assert_int_equal(max_frame, mpxd.max_frame);
        assert_true(server_len > 5 && memcmp(server, "mpxd ", 5) == 0);
        assert_int_equal(client_state(a), CLIENT_NEW);

        /* Still no session. */
        send_named(a, 8, WIRE_OP_QUEUE_QSIZE, "q");
        assert_status(a, 8, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);

        /* A malformed HELLO. */
        send_request(a, 9, WIRE_OP_HELLO, "w", WIRE_VERSION);
        assert_status(a, 9, WIRE_OP_HELLO, WIRE_EPROTO);
        send_request(a, 10, WIRE_OP_HELLO, "wtb", WIRE_VERSION, "x", 0u);
        assert_status(a, 10, WIRE_OP_HELLO, WIRE_EPROTO);
        assert_int_equal(client_state(a), CLIENT_NEW);

        /* The right version. */
        send_hello(a, 11, WIRE_VERSION);
        assert_reply(a, &r, 11, WIRE_OP_HELLO, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version) && wire_get_u32(&rd, &max_message) &&
                    wire_get_u32(&rd, &max_frame) && wire_get_str(&rd, &server, &server_len) &&
                    wire_reader_done(&rd));
        assert_int_equal(version, WIRE_VERSION);
        assert_int_equal(max_message, WIRE_DEFAULT_MAX_MESSAGE);
        assert_int_equal(max_frame, WIRE_DEFAULT_MAX_FRAME);
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_string_equal(a->name, "test-queue");
}

static void test_frame_too_large(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct wire_buf batch;
        struct frame r[MAX_REPLIES];
        uint8_t hdr[WIRE_HEADER_SIZE];
        struct wire_header h = { .body_len = WIRE_DEFAULT_MAX_FRAME + 1, .id = 42, .op = WIRE_OP_QUEUE_PUT };

        declare(a, "q", 0, 0);

        /* Only the header: the daemon must not wait for 16 MiB of body. */
        wire_header_encode(hdr, &h);
        client_feed(a, hdr, sizeof(hdr));
        assert_status(a, 42, WIRE_OP_QUEUE_PUT, WIRE_EMSGSIZE);
        assert_int_equal(client_state(a), CLIENT_CLOSING);
        /* Nothing more is read from a closing client. */
        send_named(a, 43, WIRE_OP_QUEUE_QSIZE, "q");
        assert_no_reply(a);

        /* With a smaller limit: a body of exactly max_frame passes, one more byte does not. */
        mpxd.max_frame = 64;
        wire_buf_init(&batch);
        {
                char payload[64 - 4 + 1];

                memset(payload, 'p', sizeof(payload) - 1);
                payload[sizeof(payload) - 1] = '\0';
                append_request(&batch, 1, WIRE_OP_PING, "s", payload);
                payload[sizeof(payload) - 2] = '\0';
                append_request(&batch, 2, WIRE_OP_PING, "s", payload);
                payload[sizeof(payload) - 2] = 'p';
                append_request(&batch, 3, WIRE_OP_PING, "sb", payload, 0u);
                append_request(&batch, 4, WIRE_OP_PING, "s", "after");
        }
        feed_buf(b, &batch);
        /* The frames before the oversized one are answered, none after it. */
        assert_int_equal(take_replies(b, r, MAX_REPLIES), 3);
        check_header(&r[0], 1, WIRE_OP_PING, WIRE_OK);
        assert_int_equal(r[0].h.body_len, 64);
        check_header(&r[1], 2, WIRE_OP_PING, WIRE_OK);
        check_header(&r[2], 3, WIRE_OP_PING, WIRE_EMSGSIZE);
        assert_int_equal(client_state(b), CLIENT_CLOSING);
}

static void test_partial_frames(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct wire_buf frames;
        struct frame r[MAX_REPLIES];
        size_t first_len;

        declare(a, "q", 0, 0);
        wire_buf_init(&frames);
        append_request(&frames, 1, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "bytewise");
        first_len = frames.len;
        append_request(&frames, 2, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);

        /* One byte at a time: each frame is answered when its last byte arrives, not before. */
        for (size_t i = 0; i < frames.len; i++) {
                client_feed(a, frames.data + i, 1);
                if (i + 1 < first_len)
                        assert_no_reply(a);
                else if (i + 1 == first_len)
                        assert_status(a, 1, WIRE_OP_QUEUE_PUT, WIRE_OK);
                else if (i + 1 < frames.len)
                        assert_no_reply(a);
        }
        assert_int_equal(take_replies(a, r, MAX_REPLIES), 1);
        check_header(&r[0], 2, WIRE_OP_QUEUE_GET, WIRE_OK);
        assert_int_equal(a->in.len, 0);

        /* Two frames and a half in one feed: two answers, the half is kept. */
        wire_buf_done(&frames);
        append_request(&frames, 3, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "again");
        append_request(&frames, 4, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        append_request(&frames, 5, WIRE_OP_QUEUE_QSIZE, "n", "q");
        client_feed(a, frames.data, frames.len - 3);
        assert_int_equal(take_replies(a, r, MAX_REPLIES), 2);
        check_header(&r[0], 3, WIRE_OP_QUEUE_PUT, WIRE_OK);
        check_header(&r[1], 4, WIRE_OP_QUEUE_GET, WIRE_OK);
        client_feed(a, frames.data + frames.len - 3, 3);
        assert_int_equal(take_replies(a, r, MAX_REPLIES), 1);
        check_header(&r[0], 5, WIRE_OP_QUEUE_QSIZE, WIRE_OK);
        wire_buf_done(&frames);
}

static void test_huge_timeout_waits_forever(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");

        /* Past about 68 years a timeout is no timeout: the request waits, it does not fail. */
        declare(a, "q", 0, 0);
        send_get(a, 1, "q", INT64_MAX, 0);
        send_get(a, 2, "q", (int64_t) INT32_MAX * 1000 + 1, 0);
        send_get(a, 3, "q", (int64_t) INT32_MAX * 1000, 0);
        assert_no_reply(a);
        assert_int_equal(mpxd.n_waiters, 3);
        /* Only the last one has a timer. */
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 1);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_no_reply(a);

        put(b, "q", "one");
        put(b, "q", "two");
        put(b, "q", "three");
        {
                struct frame r[MAX_REPLIES];
                struct wire_reader rd;
                static const char *const want[] = { "one", "two", "three" };

                assert_int_equal(take_replies(a, r, MAX_REPLIES), 3);
                for (int i = 0; i < 3; i++) {
                        check_header(&r[i], (uint32_t) i + 1, WIRE_OP_QUEUE_GET, WIRE_OK);
                        wire_reader_init(&rd, r[i].body, r[i].h.body_len);
                        (void) read_item_at(&rd, want[i], 1, __FILE__, __LINE__);
                }
        }
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 0);
}

static void test_delete_answers_waiters_first(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct frame r[MAX_REPLIES];
        struct wire_buf batch;

        /* The deleting connection is itself parked on the queue: its EIDRM comes before the DELETE's OK. */
        declare(a, "q", 0, 0);
        wire_buf_init(&batch);
        append_request(&batch, 1, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        append_request(&batch, 2, WIRE_OP_QUEUE_GET_MANY, "niww", "q", (int64_t) 5000, 0u, 4u);
        append_request(&batch, 3, WIRE_OP_DELETE, "n", "q");
        feed_buf(a, &batch);
        assert_int_equal(take_replies(a, r, MAX_REPLIES), 3);
        check_header(&r[0], 1, WIRE_OP_QUEUE_GET, WIRE_EIDRM);
        check_header(&r[1], 2, WIRE_OP_QUEUE_GET_MANY, WIRE_EIDRM);
        check_header(&r[2], 3, WIRE_OP_DELETE, WIRE_OK);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(event_base_get_num_events(mpxd.base, EVENT_BASE_COUNT_ADDED), 0);

        /* A new joinable queue of the same name numbers its tags from 1 again. */
        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        put(a, "j", "x");
        put(a, "j", "y");
        assert_int_equal(get(a, "j", "x"), 1);
        assert_int_equal(get(a, "j", "y"), 2);
        send_named(a, 4, WIRE_OP_DELETE, "j");
        assert_status(a, 4, WIRE_OP_DELETE, WIRE_OK);
        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        put(a, "j", "z");
        assert_int_equal(get(a, "j", "z"), 1);
}

static void test_purge_joinable(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct frame r;

        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        put(a, "j", "taken");
        put(a, "j", "waiting1");
        put(a, "j", "waiting2");
        (void) get(a, "j", "taken");
        send_join(b, 1, "j", -1);
        assert_no_reply(b);

        /* Deliveries not done are kept: the joiner still waits for one. */
        send_named(a, 2, WIRE_OP_QUEUE_PURGE, "j");
        assert_reply(a, &r, 2, WIRE_OP_QUEUE_PURGE, WIRE_OK);
        assert_int_equal(r.h.body_len, 8);
        assert_int_equal(r.body[0], 2);
        assert_qsize(a, "j", 0, 0, 1, 0);
        assert_no_reply(b);
        send_task_done(a, 3, "j", 0);
        assert_status(a, 3, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_status(b, 1, WIRE_OP_QUEUE_JOIN, WIRE_OK);

        /* A purge that removes the last unfinished items releases the joiners. */
        put(a, "j", "p");
        send_join(b, 4, "j", -1);
        assert_no_reply(b);
        send_named(a, 5, WIRE_OP_QUEUE_PURGE, "j");
        assert_reply(a, &r, 5, WIRE_OP_QUEUE_PURGE, WIRE_OK);
        assert_status(b, 4, WIRE_OP_QUEUE_JOIN, WIRE_OK);
        assert_int_equal(mpxd.n_waiters, 0);
}

static void test_redelivery_to_closed_queue(void **state) {
        struct client *p = client_add(*state, "test-queue");
        struct client *c1 = client_add(*state, "test-queue");
        struct client *c2 = client_add(*state, "test-queue");

        declare(p, "j", 0, WIRE_QUEUE_JOINABLE);
        put(p, "j", "a");
        (void) get(c1, "j", "a");
        send_named(p, 1, WIRE_OP_QUEUE_CLOSE, "j");
        assert_status(p, 1, WIRE_OP_QUEUE_CLOSE, WIRE_OK);
        send_get(c2, 2, "j", -1, 0);
        assert_status(c2, 2, WIRE_OP_QUEUE_GET, WIRE_EPIPE);

        /* The item goes back although the queue is closed; JOIN still waits for it. */
        send_join(p, 3, "j", -1);
        assert_no_reply(p);
        client_drop(*state, c1);
        assert_qsize(p, "j", 1, 0, 1, 1);
        assert_int_equal(info_field(p, "j", "redelivered"), 1);
        (void) get_flags(c2, "j", 0, "a", 2);
        send_get(c2, 4, "j", -1, 0);
        assert_status(c2, 4, WIRE_OP_QUEUE_GET, WIRE_EPIPE);
        /* TASK_DONE and JOIN go on on a closed queue. */
        send_task_done(c2, 5, "j", 0);
        assert_status(c2, 5, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_status(p, 3, WIRE_OP_QUEUE_JOIN, WIRE_OK);
}

/* A DECLARE with a TTR; status, and for OK whether it created the queue (1) or not (0). */
static void declare_ttr_at(struct client *c, const char *name, uint32_t flags, uint32_t ttr_ms, uint8_t status,
                           uint8_t created, const char *file, int line) {
        struct frame rep;

        send_request(c, HELPER_ID, WIRE_OP_QUEUE_DECLARE, "nqww", name, (uint64_t) 0, flags, ttr_ms);
        if (status != WIRE_OK) {
                assert_status_at(c, HELPER_ID, WIRE_OP_QUEUE_DECLARE, status, file, line);
                return;
        }
        assert_reply_at(c, &rep, HELPER_ID, WIRE_OP_QUEUE_DECLARE, WIRE_OK, file, line);
        check_at(rep.h.body_len == 1 && rep.body[0] == created, file, line, "queue '%s': created %u", name,
                 rep.h.body_len ? rep.body[0] : 9);
}

#define declare_ttr(c, name, flags, ttr_ms, status, created) \
        declare_ttr_at(c, name, flags, ttr_ms, status, created, __FILE__, __LINE__)

/* Run the event loop until the queue's leases ran out n times in all. */
static void run_until_expired(struct client *c, const char *name, int64_t n) {
        for (int i = 0; i < 1000 && info_field(c, name, "expired") != n; i++)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        assert_int_equal(info_field(c, name, "expired"), n);
}

/* The TTR at declare: joinable queues only, and part of what must match when given. */
static void test_lease_declare(void **state) {
        struct client *a = client_add(*state, "test-queue");

        declare_ttr(a, "j", WIRE_QUEUE_JOINABLE, 5000, WIRE_OK, 1);
        assert_int_equal(info_field(a, "j", "ttr_ms"), 5000);
        assert_int_equal(info_field(a, "j", "lease_ms"), -1);
        declare_ttr(a, "j", WIRE_QUEUE_JOINABLE, 4000, WIRE_EEXIST, 0);
        declare_ttr(a, "j", WIRE_QUEUE_JOINABLE, 5000, WIRE_OK, 0);
        /* Without the field any TTR matches. */
        send_declare(a, 3, "j", 0, WIRE_QUEUE_JOINABLE);
        assert_reply(a, &(struct frame) { 0 }, 3, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        declare_ttr(a, "p", 0, 5000, WIRE_EINVAL, 0);
        declare_ttr(a, "p", 0, 0, WIRE_OK, 1);
        assert_int_equal(info_field(a, "p", "ttr_ms"), 0);
        /* A delivery being leased shows when its lease ends. */
        put(a, "j", "x");
        (void) get_flags(a, "j", 0, "x", 1);
        assert_in_range(info_field(a, "j", "lease_ms"), 0, 5000);
        send_request(a, 6, WIRE_OP_QUEUE_TOUCH, "nq", "p", (uint64_t) 1);
        assert_status(a, 6, WIRE_OP_QUEUE_TOUCH, WIRE_EPROTOTYPE);
        send_request(a, 7, WIRE_OP_QUEUE_TOUCH, "nq", "j", (uint64_t) 99);
        assert_status(a, 7, WIRE_OP_QUEUE_TOUCH, WIRE_ENOENT);
}

/*
 * A delivery whose lease runs out, detached or not, goes back to the head
 * of the queue and is handed out again with deliveries + 1; its old tag is
 * gone, so the late consumer cannot finish or touch what is now another's.
 */
static void test_lease_expiry_redelivers(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct client *c = client_add(*state, "test-queue");
        struct frame r;
        struct wire_reader rd;
        uint64_t old, tag;

        declare_ttr(a, "j", WIRE_QUEUE_JOINABLE, 1, WIRE_OK, 1);
        put(a, "j", "x");
        old = get_flags(a, "j", WIRE_GET_DETACH, "x", 1);
        send_join(a, 2, "j", -1);
        send_get(b, 3, "j", -1, 0);
        assert_no_reply(a);
        assert_no_reply(b);

        /* The blocked getter receives x again once the lease runs out. */
        run_until_expired(a, "j", 1);
        assert_reply(b, &r, 3, WIRE_OP_QUEUE_GET, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        tag = read_item_at(&rd, "x", 2, __FILE__, __LINE__);
        assert_int_not_equal(tag, old);
        assert_int_equal(info_field(a, "j", "redelivered"), 0);
        send_task_done(a, 4, "j", old);
        assert_status(a, 4, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);
        send_request(a, 5, WIRE_OP_QUEUE_TOUCH, "nq", "j", old);
        assert_status(a, 5, WIRE_OP_QUEUE_TOUCH, WIRE_ENOENT);
        assert_no_reply(a);

        /* The new holder touches and finishes it: JOIN returns. */
        send_request(b, 6, WIRE_OP_QUEUE_TOUCH, "nq", "j", tag);
        assert_status(b, 6, WIRE_OP_QUEUE_TOUCH, WIRE_OK);
        send_task_done(b, 7, "j", tag);
        assert_status(b, 7, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);
        assert_status(a, 2, WIRE_OP_QUEUE_JOIN, WIRE_OK);

        /* An attached delivery whose lease ran out is not redelivered again when its connection goes. */
        put(a, "j", "y");
        (void) get_flags(c, "j", 0, "y", 1);
        run_until_expired(a, "j", 2);
        assert_qsize(a, "j", 1, 0, 1, 0);
        client_drop(*state, c);
        assert_qsize(a, "j", 1, 0, 1, 0);
        assert_int_equal(info_field(a, "j", "redelivered"), 0);
        (void) get_flags(a, "j", 0, "y", 2);
}

/*
 * A GET may give its delivery a lease of its own, on a queue with or
 * without one; a parked getter's lease starts when it is served, and a
 * plain queue refuses one.
 */
static void test_lease_per_get(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct client *b = client_add(*state, "test-queue");
        struct frame r;
        struct wire_reader rd;
        uint64_t tag;

        declare(a, "j", 0, WIRE_QUEUE_JOINABLE);
        declare(a, "p", 0, 0);
        put(a, "p", "x");
        send_request(a, 1, WIRE_OP_QUEUE_GET, "niww", "p", (int64_t) 0, 0u, 1u);
        assert_status(a, 1, WIRE_OP_QUEUE_GET, WIRE_EINVAL);
        send_request(a, 2, WIRE_OP_QUEUE_GET_MANY, "niwww", "p", (int64_t) 0, 0u, 4u, 1u);
        assert_status(a, 2, WIRE_OP_QUEUE_GET_MANY, WIRE_EINVAL);

        /* Parked with a 1 ms lease: served by a put, then given back. */
        send_request(b, 3, WIRE_OP_QUEUE_GET, "niww", "j", (int64_t) -1, WIRE_GET_DETACH, 1u);
        assert_no_reply(b);
        put(a, "j", "y");
        assert_reply(b, &r, 3, WIRE_OP_QUEUE_GET, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        tag = read_item_at(&rd, "y", 1, __FILE__, __LINE__);
        assert_in_range(info_field(a, "j", "lease_ms"), 0, 1);
        run_until_expired(a, "j", 1);
        send_task_done(b, 4, "j", tag);
        assert_status(b, 4, WIRE_OP_QUEUE_TASK_DONE, WIRE_ENOENT);

        /* A plain GET of the queue without a TTR has no lease. */
        (void) get_flags(a, "j", 0, "y", 2);
        assert_int_equal(info_field(a, "j", "lease_ms"), -1);
        assert_int_equal(info_field(a, "j", "ttr_ms"), 0);
        send_task_done(a, 5, "j", 0);
        assert_status(a, 5, WIRE_OP_QUEUE_TASK_DONE, WIRE_OK);

        /* GET_MANY with a lease: every delivery has it. */
        put(a, "j", "1");
        put(a, "j", "2");
        send_request(a, 6, WIRE_OP_QUEUE_GET_MANY, "niwww", "j", (int64_t) 0, 0u, 4u, 1u);
        assert_reply(a, &r, 6, WIRE_OP_QUEUE_GET_MANY, WIRE_OK);
        run_until_expired(a, "j", 3);
        assert_qsize(a, "j", 2, 0, 2, 0);
}

static void test_redelivery_over_maxsize(void **state) {
        struct client *p = client_add(*state, "test-queue");
        struct client *c1 = client_add(*state, "test-queue");
        struct client *c2 = client_add(*state, "test-queue");

        declare(p, "j", 1, WIRE_QUEUE_JOINABLE);
        put(p, "j", "a");
        (void) get(c1, "j", "a");
        /* A delivery not done does not count against maxsize. */
        put(p, "j", "b");
        assert_qsize(p, "j", 1, 1, 2, 0);

        /* Redelivery goes over maxsize for a while; puts wait until size is below it again. */
        client_drop(*state, c1);
        assert_qsize(p, "j", 2, 1, 2, 0);
        send_put(p, 1, "j", 0, "c");
        assert_status(p, 1, WIRE_OP_QUEUE_PUT, WIRE_EAGAIN);
        send_put(p, 2, "j", -1, "c");
        assert_no_reply(p);
        (void) get_flags(c2, "j", 0, "a", 2);
        assert_no_reply(p);                     /* size 1, maxsize 1: still full */
        (void) get(c2, "j", "b");
        assert_status(p, 2, WIRE_OP_QUEUE_PUT, WIRE_OK);
        (void) get(c2, "j", "c");
        assert_int_equal(info_field(p, "j", "redelivered"), 1);
        assert_int_equal(info_field(p, "j", "puts"), 3);
        assert_int_equal(info_field(p, "j", "gets"), 4);
        assert_int_equal(info_field(p, "j", "delivered"), 3);
}

static void test_max_message(void **state) {
        static const char *const batch[] = { "fits", "123456789" };
        struct client *a = client_add(*state, "test-queue");

        mpxd.max_message = 8;
        declare(a, "q", 0, 0);
        send_put(a, 1, "q", 0, "123456789");
        assert_status(a, 1, WIRE_OP_QUEUE_PUT, WIRE_EMSGSIZE);
        /* All or none: one payload too large and nothing is queued. */
        send_put_many(a, 2, "q", 0, batch, 2);
        assert_status(a, 2, WIRE_OP_QUEUE_PUT_MANY, WIRE_EMSGSIZE);
        assert_qsize(a, "q", 0, 0, 0, 0);
        /* The connection goes on; the limit itself is accepted. */
        assert_int_equal(client_state(a), CLIENT_READY);
        put(a, "q", "12345678");
        (void) get(a, "q", "12345678");
}

static void test_hello_again(void **state) {
        struct client *a = client_add(*state, "test-queue");
        struct frame r;

        /* HELLO on an open session: answered the same way, new name, session still open. */
        send_request(a, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "renamed");
        assert_reply(a, &r, 1, WIRE_OP_HELLO, WIRE_OK);
        assert_int_equal(client_state(a), CLIENT_READY);
        assert_string_equal(a->name, "renamed");
        /* The name is kept to 63 bytes. */
        send_request(a, 2, WIRE_OP_HELLO, "wt", WIRE_VERSION,
                     "0123456789012345678901234567890123456789012345678901234567890123456789");
        assert_reply(a, &r, 2, WIRE_OP_HELLO, WIRE_OK);
        assert_int_equal(strlen(a->name), 63);
        /* Another version is refused and changes nothing: the name stays, the session stays open. */
        send_request(a, 3, WIRE_OP_HELLO, "wt", WIRE_VERSION + 1, "other");
        assert_reply(a, &r, 3, WIRE_OP_HELLO, WIRE_EPROTO);
        assert_int_equal(strlen(a->name), 63);
        assert_int_equal(client_state(a), CLIENT_READY);
        /* Bytes that are not printable ASCII are shown as '?'. */
        send_request(a, 4, WIRE_OP_HELLO, "wt", WIRE_VERSION, "tab\there");
        assert_reply(a, &r, 4, WIRE_OP_HELLO, WIRE_OK);
        assert_string_equal(a->name, "tab?here");
        declare(a, "q", 0, 0);
        /* QUEUE_DECLARE's flags may be left out: 0, a plain queue. */
        send_request(a, 5, WIRE_OP_QUEUE_DECLARE, "nq", "no-flags", (uint64_t) 3);
        assert_reply(a, &r, 5, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        assert_int_equal(r.body[0], 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_put_get_fifo),
                unit_client_test(test_get_many),
                unit_client_test(test_unsent_reply_of_two_users),
                unit_client_test(test_nonblocking_empty),
                unit_client_test(test_blocked_get_served_by_put),
                unit_client_test(test_waiter_order),
                unit_client_test(test_timeouts),
                unit_client_test(test_pipelined_behind_blocked),
                unit_client_test(test_maxsize_backpressure),
                unit_client_test(test_putters_strict_fifo),
                unit_client_test(test_putter_head_timeout_lets_next_in),
                unit_client_test(test_close),
                unit_client_test(test_purge),
                unit_client_test(test_delete_wakes_waiters),
                unit_client_test(test_lost_getter),
                unit_client_test(test_lost_consumer_redelivers),
                unit_client_test(test_task_done),
                unit_client_test(test_done_get),
                unit_client_test(test_join),
                unit_client_test(test_wrong_type),
                unit_client_test(test_declare_conflicts),
                unit_client_test(test_malformed_bodies),
                unit_client_test(test_unknown_opcode),
                unit_client_test(test_request_before_hello),
                unit_client_test(test_hello),
                unit_client_test(test_frame_too_large),
                unit_client_test(test_partial_frames),
                unit_client_test(test_huge_timeout_waits_forever),
                unit_client_test(test_delete_answers_waiters_first),
                unit_client_test(test_purge_joinable),
                unit_client_test(test_redelivery_to_closed_queue),
                unit_client_test(test_redelivery_over_maxsize),
                unit_client_test(test_lease_declare),
                unit_client_test(test_lease_expiry_redelivers),
                unit_client_test(test_lease_per_get),
                unit_client_test(test_max_message),
                unit_client_test(test_hello_again),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
