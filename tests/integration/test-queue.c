/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues against a real mpxd, driven through libmpx by
 * real forked processes, each with its own connection: many producers and
 * consumers through one bounded queue, back-pressure, every timeout path of
 * get, put and join, FIFO order among waiters, close and drain, delete while
 * blocked, task_done and join, redelivery after a consumer is killed, a
 * getter killed while blocked, put_many and get_many, detached gets, and
 * payload sizes up to the daemon's limit.
 *
 * Each test starts its own daemon and stops it in teardown, where a crash or
 * (with MPX_TEST_VALGRIND=1) a memory error of the daemon fails the test.
 * Processes synchronise through the daemon's own counters (getters, putters,
 * joiners, clients), pipes and blocking calls, never through sleeps. A
 * blocked request that must not hold up the connection's later requests
 * cannot be shown through the synchronous library; test-protocol covers it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "monotonic.h"

/* A test that runs longer than this has hung: stop the whole program. */
#define WATCHDOG_S              60
#define WATCHDOG_VALGRIND_S     900

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-queue", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* ---- helpers of the forked children: no cmocka in there, just an exit status ---- */

/* True if an item holds exactly the string s. */
static bool item_is(const mpx_item *it, const char *s) {
        return it->size == strlen(s) && memcmp(it->data, s, it->size) == 0;
}

/*
 * Take one item as a string (at most size - 1 bytes, NUL-terminated), with
 * its tag and deliveries if asked. Returns what mpx_queue_get_flags returns,
 * or -E2BIG for an item too long for buf.
 */
static int get_str(mpx *m, const char *queue, int64_t timeout_ms, unsigned flags,
                   char *buf, size_t size, uint64_t *ret_tag, uint32_t *ret_deliveries) {
        mpx_item it = { 0 };
        int r = mpx_queue_get_flags(m, queue, timeout_ms, flags, &it);

        if (r < 0)
                return r;
        if (it.size >= size) {
                mpx_item_clear(&it);
                return -E2BIG;
        }
        memcpy(buf, it.data, it.size);
        buf[it.size] = '\0';
        if (ret_tag)
                *ret_tag = it.tag;
        if (ret_deliveries)
                *ret_deliveries = it.deliveries;
        mpx_item_clear(&it);
        return 0;
}

static int put_str(mpx *m, const char *queue, const char *s, int64_t timeout_ms) {
        return mpx_queue_put(m, queue, s, strlen(s), timeout_ms);
}

/* In the test: take one item and check that it is the string expect. */
#define assert_get_str(m, queue, timeout_ms, expect)                                            \
        do {                                                                                    \
                char b_[256];                                                                   \
                int r_ = get_str((m), (queue), (timeout_ms), 0, b_, sizeof(b_), NULL, NULL);    \
                assert_int_equal(r_, 0);                                                        \
                assert_string_equal(b_, (expect));                                              \
        } while (0)

/* ---- a child doing one (usually blocking) operation ---- */

enum child_op {
        OP_GET,         /* expect: the result; payload: the item expected on success (NULL: any) */
        OP_PUT,         /* payload: the item */
        OP_PUT_MANY,    /* payload: the items, separated by ',' */
        OP_GET_MANY,    /* payload: the items expected on success, separated by ',' */
        OP_JOIN,
};

struct op_child {
        const char *socket;
        enum child_op op;
        const char *queue;
        const char *payload;
        int64_t timeout_ms;
        int expect;                     /* what the call must return */
};

/* Split a list of items separated by ',' into iov (pointing into s): the count. */
static size_t split_items(const char *s, struct iovec *iov, size_t max) {
        size_t n = 0;

        while (n < max) {
                const char *comma = strchr(s, ',');
                size_t len = comma ? (size_t) (comma - s) : strlen(s);

                iov[n++] = (struct iovec) { .iov_base = (void *) s, .iov_len = len };
                if (!comma)
                        break;
                s = comma + 1;
        }
        return n;
}

static int op_child_run(void *arg) {
        const struct op_child *c = arg;
        mpx *m = harness_child_connect(c->socket);
        mpx_item it = { 0 };
        int r;

        child_check(m);
        switch (c->op) {
        case OP_GET:
                r = mpx_queue_get(m, c->queue, c->timeout_ms, &it);
                child_check_r(r, c->expect);
                if (r == 0 && c->payload) {
                        if (!item_is(&it, c->payload)) {
                                fprintf(stderr, "child %ld: got '%.*s', expected '%s'\n",
                                        (long) getpid(), (int) it.size, (const char *) it.data,
                                        c->payload);
                                return 1;
                        }
                }
                mpx_item_clear(&it);
                break;
        case OP_PUT:
                child_check_r(put_str(m, c->queue, c->payload, c->timeout_ms), c->expect);
                break;
        case OP_PUT_MANY: {
                struct iovec iov[16];
                size_t n = split_items(c->payload, iov, 16);

                child_check_r(mpx_queue_put_many(m, c->queue, iov, n, c->timeout_ms), c->expect);
                break;
        }
        case OP_GET_MANY: {
                struct iovec want[16];
                mpx_item items[16] = { { 0 } };
                size_t n = split_items(c->payload, want, 16);

                /* Ask for more than expected: exactly the expected ones must come. */
                r = mpx_queue_get_many(m, c->queue, items, 16, c->timeout_ms);
                child_check_r(r, c->expect < 0 ? c->expect : (int) n);
                for (int i = 0; i < r; i++) {
                        child_check(items[i].size == want[i].iov_len);
                        child_check(memcmp(items[i].data, want[i].iov_base, want[i].iov_len) == 0);
                        mpx_item_clear(&items[i]);
                }
                break;
        }
        case OP_JOIN:
                child_check_r(mpx_queue_join(m, c->queue, c->timeout_ms), c->expect);
                break;
        }
        mpx_disconnect(m);
        return 0;
}

/* Fork a child that connects and does one operation, checking its result. */
static pid_t spawn_op(struct harness_fixture *f, enum child_op op, const char *queue, const char *payload,
                      int64_t timeout_ms, int expect) {
        struct op_child c = {
                .socket = f->d.socket,
                .op = op,
                .queue = queue,
                .payload = payload,
                .timeout_ms = timeout_ms,
                .expect = expect,
        };

        /* The child gets its own copy of c at fork time. */
        return harness_fork(op_child_run, &c);
}

/* ---- 1. many producers and consumers through one bounded queue ---- */

#define STRESS_PRODUCERS        4
#define STRESS_CONSUMERS        4

struct record {
        uint32_t producer;
        uint32_t seq;
};

struct stress_arg {
        const char *socket;
        const char *queue;
        unsigned index;
        uint32_t per_producer;          /* items each producer puts */
        char path[400];                 /* consumers: where they write what they got */
};

static int stress_producer(void *arg) {
        const struct stress_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);

        child_check(m);
        for (uint32_t seq = 0; seq < a->per_producer; seq++) {
                struct record rec = { .producer = a->index, .seq = seq };

                child_check_r(mpx_queue_put(m, a->queue, &rec, sizeof(rec), -1), 0);
        }
        mpx_disconnect(m);
        return 0;
}

/* Take items until the queue is closed and drained, writing each to a file. */
static int stress_consumer(void *arg) {
        const struct stress_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        FILE *out = fopen(a->path, "we");
        int r;

        child_check(m);
        child_check(out);
        for (;;) {
                mpx_item it = { 0 };

                r = mpx_queue_get(m, a->queue, -1, &it);
                if (r == -EPIPE)
                        break;
                child_check_r(r, 0);
                child_check(it.size == sizeof(struct record));
                child_check(fwrite(it.data, it.size, 1, out) == 1);
                mpx_item_clear(&it);
        }
        child_check(fclose(out) == 0);
        mpx_disconnect(m);
        return 0;
}

static void test_many_producers_consumers(void **state) {
        struct harness_fixture *f = *state;
        const uint32_t total = harness_under_valgrind() ? 10000 : 100000;
        const uint32_t per = total / STRESS_PRODUCERS;
        struct stress_arg pa[STRESS_PRODUCERS], ca[STRESS_CONSUMERS];
        pid_t producers[STRESS_PRODUCERS], consumers[STRESS_CONSUMERS];
        uint8_t *seen = calloc(total, 1);
        uint64_t received = 0;
        int64_t t0 = monotonic_ms();

        assert_non_null(seen);
        print_message("moving %u messages: %d producers, %d consumers, maxsize 1000\n",
                      (unsigned) total, STRESS_PRODUCERS, STRESS_CONSUMERS);
        assert_int_equal(mpx_queue_declare(f->m, "stress", 1000, 0), 1);

        for (unsigned i = 0; i < STRESS_CONSUMERS; i++) {
                ca[i] = (struct stress_arg) { .socket = f->d.socket, .queue = "stress", .index = i };
                snprintf(ca[i].path, sizeof(ca[i].path), "%s/consumer-%u", f->d.dir, i);
                consumers[i] = harness_fork(stress_consumer, &ca[i]);
        }
        for (unsigned i = 0; i < STRESS_PRODUCERS; i++) {
                pa[i] = (struct stress_arg) {
                        .socket = f->d.socket, .queue = "stress", .index = i, .per_producer = per,
                };
                producers[i] = harness_fork(stress_producer, &pa[i]);
        }
        for (unsigned i = 0; i < STRESS_PRODUCERS; i++)
                assert_int_equal(harness_wait(producers[i]), 0);
        /* Everything is in; the consumers drain the queue, then get -EPIPE and disconnect. */
        assert_int_equal(mpx_queue_close(f->m, "stress"), 0);
        harness_wait_stat(f->m, "clients", 1);
        for (unsigned i = 0; i < STRESS_CONSUMERS; i++)
                assert_int_equal(harness_wait(consumers[i]), 0);
        print_message("moved in %lld ms\n", (long long) (monotonic_ms() - t0));

        /* Each message exactly once; per producer, in order as each consumer saw them. */
        for (unsigned i = 0; i < STRESS_CONSUMERS; i++) {
                FILE *in = fopen(ca[i].path, "re");
                int64_t last[STRESS_PRODUCERS];
                struct record rec;

                assert_non_null(in);
                for (unsigned p = 0; p < STRESS_PRODUCERS; p++)
                        last[p] = -1;
                while (fread(&rec, sizeof(rec), 1, in) == 1) {
                        assert_in_range(rec.producer, 0, STRESS_PRODUCERS - 1);
                        assert_in_range(rec.seq, 0, per - 1);
                        if ((int64_t) rec.seq <= last[rec.producer])
                                fail_msg("consumer %u got item %u of producer %u after item %lld", i,
                                         rec.seq, rec.producer, (long long) last[rec.producer]);
                        last[rec.producer] = rec.seq;
                        if (seen[(size_t) rec.producer * per + rec.seq]++)
                                fail_msg("item %u of producer %u was delivered twice", rec.seq,
                                         rec.producer);
                        received++;
                }
                assert_true(feof(in));
                fclose(in);
        }
        assert_int_equal(received, total);
        for (uint32_t k = 0; k < total; k++)
                if (!seen[k])
                        fail_msg("item %u of producer %u was lost", k % per, k / per);
        free(seen);

        assert_int_equal(harness_field(f->m, "stress", "puts"), total);
        assert_int_equal(harness_field(f->m, "stress", "gets"), total);
        assert_int_equal(mpx_queue_qsize(f->m, "stress"), 0);
        assert_int_equal(harness_field(f->m, "stress", "bytes"), 0);
}

/* ---- 2. maxsize back-pressure ---- */

static void test_maxsize_backpressure(void **state) {
        struct harness_fixture *f = *state;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 2, 0), 1);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);
        assert_int_equal(mpx_queue_empty(f->m, "q"), 1);
        assert_int_equal(mpx_queue_full(f->m, "q"), 0);

        assert_int_equal(put_str(f->m, "q", "a", 0), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 1);
        assert_int_equal(mpx_queue_empty(f->m, "q"), 0);
        assert_int_equal(mpx_queue_full(f->m, "q"), 0);
        assert_int_equal(put_str(f->m, "q", "b", 0), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 2);
        assert_int_equal(mpx_queue_full(f->m, "q"), 1);

        /* A third does not fit and is not kept. */
        assert_int_equal(put_str(f->m, "q", "x", 0), -EAGAIN);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 2);

        pid = spawn_op(f, OP_PUT, "q", "c", -1, 0);
        harness_wait_field(f->m, "q", "putters", 1);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 2);
        assert_get_str(f->m, "q", 0, "a");
        assert_int_equal(harness_field(f->m, "q", "putters"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 2);
        assert_int_equal(mpx_queue_full(f->m, "q"), 1);

        assert_get_str(f->m, "q", 0, "b");
        assert_int_equal(mpx_queue_full(f->m, "q"), 0);
        assert_get_str(f->m, "q", 0, "c");
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);
        assert_int_equal(mpx_queue_empty(f->m, "q"), 1);
        assert_int_equal(mpx_queue_full(f->m, "q"), 0);

        /* An unbounded queue is never full. */
        assert_int_equal(mpx_queue_declare(f->m, "unbounded", 0, 0), 1);
        for (int i = 0; i < 100; i++)
                assert_int_equal(put_str(f->m, "unbounded", "u", 0), 0);
        assert_int_equal(mpx_queue_full(f->m, "unbounded"), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "unbounded"), 100);
}

/* ---- 3. timeouts of get, put and join ---- */

static void test_get_timeouts(void **state) {
        struct harness_fixture *f = *state;
        mpx_item it = { 0 };
        int64_t t0;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);

        assert_int_equal(mpx_queue_get(f->m, "q", 0, &it), -EAGAIN);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 0);

        t0 = monotonic_ms();
        assert_int_equal(mpx_queue_get(f->m, "q", 50, &it), -ETIMEDOUT);
        assert_true(monotonic_ms() - t0 >= 45);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 1);
        assert_int_equal(harness_field(f->m, "q", "getters"), 0);
        assert_null(it.data);

        /* Negative: waits until served. */
        pid = spawn_op(f, OP_GET, "q", "late", -1, 0);
        harness_wait_field(f->m, "q", "getters", 1);
        assert_int_equal(put_str(f->m, "q", "late", 0), 0);
        assert_int_equal(harness_field(f->m, "q", "getters"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 1);

        /* An item there is taken at once, whatever the timeout. */
        assert_int_equal(put_str(f->m, "q", "now", 0), 0);
        assert_get_str(f->m, "q", 0, "now");
}

static void test_put_timeouts(void **state) {
        struct harness_fixture *f = *state;
        int64_t t0;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 1, 0), 1);
        assert_int_equal(put_str(f->m, "q", "a", 0), 0);

        assert_int_equal(put_str(f->m, "q", "b", 0), -EAGAIN);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 0);

        t0 = monotonic_ms();
        assert_int_equal(put_str(f->m, "q", "b", 50), -ETIMEDOUT);
        assert_true(monotonic_ms() - t0 >= 45);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 1);
        assert_int_equal(harness_field(f->m, "q", "putters"), 0);
        /* Neither refused item went in. */
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 1);
        assert_int_equal(harness_field(f->m, "q", "puts"), 1);

        pid = spawn_op(f, OP_PUT, "q", "c", -1, 0);
        harness_wait_field(f->m, "q", "putters", 1);
        assert_get_str(f->m, "q", 0, "a");
        assert_int_equal(harness_field(f->m, "q", "putters"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_get_str(f->m, "q", 0, "c");
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "timeouts"), 1);
}

static void test_join_timeouts(void **state) {
        struct harness_fixture *f = *state;
        int64_t t0;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "j", 0, MPX_QUEUE_JOINABLE), 1);
        /* Nothing unfinished: join returns at once. */
        assert_int_equal(mpx_queue_join(f->m, "j", 0), 0);
        assert_int_equal(put_str(f->m, "j", "a", 0), 0);

        assert_int_equal(mpx_queue_join(f->m, "j", 0), -EAGAIN);
        assert_int_equal(harness_field(f->m, "j", "timeouts"), 0);

        t0 = monotonic_ms();
        assert_int_equal(mpx_queue_join(f->m, "j", 50), -ETIMEDOUT);
        assert_true(monotonic_ms() - t0 >= 45);
        assert_int_equal(harness_field(f->m, "j", "timeouts"), 1);
        assert_int_equal(harness_field(f->m, "j", "joiners"), 0);

        pid = spawn_op(f, OP_JOIN, "j", NULL, -1, 0);
        harness_wait_field(f->m, "j", "joiners", 1);
        /* Taken is not done: the joiner still waits. */
        assert_get_str(f->m, "j", 0, "a");
        assert_int_equal(harness_field(f->m, "j", "joiners"), 1);
        assert_int_equal(harness_field(f->m, "j", "unfinished"), 1);
        assert_int_equal(mpx_queue_task_done(f->m, "j", 0), 0);
        assert_int_equal(harness_field(f->m, "j", "joiners"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(harness_field(f->m, "j", "timeouts"), 1);
}

/* ---- 4. FIFO order among waiters ---- */

static void test_waiters_fifo(void **state) {
        struct harness_fixture *f = *state;
        static const char *const items[] = { "item-0", "item-1", "item-2" };
        pid_t pids[3];

        /* Getters are served in the order they asked. */
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        for (int i = 0; i < 3; i++) {
                pids[i] = spawn_op(f, OP_GET, "q", items[i], -1, 0);
                harness_wait_field(f->m, "q", "getters", i + 1);
        }
        for (int i = 0; i < 3; i++)
                assert_int_equal(put_str(f->m, "q", items[i], 0), 0);
        assert_int_equal(harness_field(f->m, "q", "getters"), 0);
        for (int i = 0; i < 3; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);

        /* So are putters waiting for room. */
        assert_int_equal(mpx_queue_declare(f->m, "full", 1, 0), 1);
        assert_int_equal(put_str(f->m, "full", "first", 0), 0);
        for (int i = 0; i < 3; i++) {
                pids[i] = spawn_op(f, OP_PUT, "full", items[i], -1, 0);
                harness_wait_field(f->m, "full", "putters", i + 1);
        }
        assert_get_str(f->m, "full", 0, "first");
        /* Each get lets exactly the oldest waiting putter in. */
        for (int i = 0; i < 3; i++) {
                assert_int_equal(harness_field(f->m, "full", "putters"), 2 - i);
                assert_int_equal(harness_wait(pids[i]), 0);
                assert_get_str(f->m, "full", 0, items[i]);
        }
        assert_int_equal(mpx_queue_qsize(f->m, "full"), 0);
}

/* ---- 5. close and drain ---- */

static void test_close_drains(void **state) {
        struct harness_fixture *f = *state;
        mpx_queue_status st;
        mpx_item it = { 0 };

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(put_str(f->m, "q", "a", 0), 0);
        assert_int_equal(put_str(f->m, "q", "b", 0), 0);
        assert_int_equal(mpx_queue_close(f->m, "q"), 0);
        assert_int_equal(mpx_queue_close(f->m, "q"), 0);
        assert_int_equal(mpx_queue_stat(f->m, "q", &st), 0);
        assert_int_equal(st.closed, 1);
        assert_int_equal(st.size, 2);

        assert_int_equal(put_str(f->m, "q", "c", 0), -EPIPE);
        assert_int_equal(put_str(f->m, "q", "c", -1), -EPIPE);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 2);

        /* What was left is still delivered, in order, then the stream ends. */
        assert_get_str(f->m, "q", -1, "a");
        assert_get_str(f->m, "q", -1, "b");
        assert_int_equal(mpx_queue_get(f->m, "q", 0, &it), -EPIPE);
        assert_int_equal(mpx_queue_get(f->m, "q", 50, &it), -EPIPE);
        assert_int_equal(mpx_queue_get(f->m, "q", -1, &it), -EPIPE);
        assert_int_equal(mpx_queue_get_many(f->m, "q", &it, 1, -1), -EPIPE);
        assert_null(it.data);
}

static void test_close_wakes_getter(void **state) {
        struct harness_fixture *f = *state;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        pid = spawn_op(f, OP_GET, "q", NULL, -1, -EPIPE);
        harness_wait_field(f->m, "q", "getters", 1);
        assert_int_equal(mpx_queue_close(f->m, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "getters"), 0);
        assert_int_equal(harness_wait(pid), 0);
}

static void test_close_wakes_putter(void **state) {
        struct harness_fixture *f = *state;
        mpx_item it = { 0 };
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 1, 0), 1);
        assert_int_equal(put_str(f->m, "q", "kept", 0), 0);
        pid = spawn_op(f, OP_PUT, "q", "refused", -1, -EPIPE);
        harness_wait_field(f->m, "q", "putters", 1);
        assert_int_equal(mpx_queue_close(f->m, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "putters"), 0);
        assert_int_equal(harness_wait(pid), 0);

        /* The item put before the close is still there; the refused one is not. */
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 1);
        assert_get_str(f->m, "q", 0, "kept");
        assert_int_equal(mpx_queue_get(f->m, "q", 0, &it), -EPIPE);
}

/* ---- 6. delete while blocked ---- */

static void test_delete_while_blocked(void **state) {
        struct harness_fixture *f = *state;
        mpx_item it = { 0 };
        uint64_t tag;
        char buf[16];
        pid_t pids[4];

        /*
         * A getter waits only on an empty queue and a putter only on a full
         * one, so they block on two queues: "a" is empty with one item taken
         * and not done (a getter and a joiner wait), "b" is full (a putter and
         * a joiner wait).
         */
        assert_int_equal(mpx_queue_declare(f->m, "a", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(f->m, "b", 1, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(put_str(f->m, "a", "taken", 0), 0);
        assert_int_equal(get_str(f->m, "a", 0, 0, buf, sizeof(buf), &tag, NULL), 0);
        assert_int_equal(put_str(f->m, "b", "full", 0), 0);

        pids[0] = spawn_op(f, OP_GET, "a", NULL, -1, -EIDRM);
        harness_wait_field(f->m, "a", "getters", 1);
        pids[1] = spawn_op(f, OP_JOIN, "a", NULL, -1, -EIDRM);
        harness_wait_field(f->m, "a", "joiners", 1);
        pids[2] = spawn_op(f, OP_PUT, "b", "more", -1, -EIDRM);
        harness_wait_field(f->m, "b", "putters", 1);
        pids[3] = spawn_op(f, OP_JOIN, "b", NULL, -1, -EIDRM);
        harness_wait_field(f->m, "b", "joiners", 1);
        harness_wait_stat(f->m, "waiters", 4);

        assert_int_equal(mpx_delete(f->m, "a"), 0);
        assert_int_equal(mpx_delete(f->m, "b"), 0);
        /* Everyone was answered before the reply to delete. */
        harness_wait_stat(f->m, "waiters", 0);
        for (int i = 0; i < 4; i++)
                assert_int_equal(harness_wait(pids[i]), 0);

        /* Gone: every later operation says so. */
        assert_int_equal(put_str(f->m, "a", "x", 0), -ENOENT);
        assert_int_equal(put_str(f->m, "b", "x", -1), -ENOENT);
        assert_int_equal(mpx_queue_get(f->m, "a", -1, &it), -ENOENT);
        assert_int_equal(mpx_queue_get_many(f->m, "b", &it, 1, 0), -ENOENT);
        assert_int_equal(mpx_queue_qsize(f->m, "a"), -ENOENT);
        assert_int_equal(mpx_queue_task_done(f->m, "a", tag), -ENOENT);
        assert_int_equal(mpx_queue_task_done(f->m, "a", 0), -ENOENT);
        assert_int_equal(mpx_queue_join(f->m, "b", -1), -ENOENT);
        assert_int_equal(mpx_queue_close(f->m, "a"), -ENOENT);
        assert_int_equal(mpx_queue_purge(f->m, "b"), -ENOENT);
        assert_int_equal(mpx_delete(f->m, "a"), -ENOENT);
        assert_null(it.data);

        /* The name is free for a new object, which starts empty. */
        assert_int_equal(mpx_queue_declare(f->m, "a", 0, 0), 1);
        assert_int_equal(mpx_queue_qsize(f->m, "a"), 0);
}

/* ---- 7. joinable queues: task_done, join, declare ---- */

static void test_joinable_task_done(void **state) {
        struct harness_fixture *f = *state;
        mpx_queue_status st;
        uint64_t ta, tb, tc;
        uint32_t deliveries;
        char buf[16];
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "j", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(put_str(f->m, "j", "a", 0), 0);
        assert_int_equal(put_str(f->m, "j", "b", 0), 0);
        assert_int_equal(put_str(f->m, "j", "c", 0), 0);
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.unfinished, 3);
        assert_int_equal(mpx_queue_join(f->m, "j", 0), -EAGAIN);

        assert_int_equal(get_str(f->m, "j", 0, 0, buf, sizeof(buf), &ta, &deliveries), 0);
        assert_string_equal(buf, "a");
        assert_int_equal(deliveries, 1);
        assert_int_equal(get_str(f->m, "j", 0, 0, buf, sizeof(buf), &tb, NULL), 0);
        assert_string_equal(buf, "b");
        assert_int_equal(get_str(f->m, "j", 0, 0, buf, sizeof(buf), &tc, NULL), 0);
        assert_string_equal(buf, "c");
        assert_true(ta != 0 && tb != 0 && tc != 0);
        assert_true(ta != tb && tb != tc && ta != tc);

        /* Taken is not finished. */
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.size, 0);
        assert_int_equal(st.unfinished, 3);
        assert_int_equal(harness_field(f->m, "j", "delivered"), 3);
        assert_int_equal(mpx_queue_join(f->m, "j", 0), -EAGAIN);

        /* By tag, out of order; a tag is finished once. */
        assert_int_equal(mpx_queue_task_done(f->m, "j", tb), 0);
        assert_int_equal(mpx_queue_task_done(f->m, "j", tb), -ENOENT);
        assert_int_equal(mpx_queue_task_done(f->m, "j", tc + 1000), -ENOENT);
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.unfinished, 2);

        /* Without a tag: the connection's oldest undone delivery, "a". */
        assert_int_equal(mpx_queue_task_done(f->m, "j", 0), 0);
        assert_int_equal(mpx_queue_task_done(f->m, "j", ta), -ENOENT);
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.unfinished, 1);

        /* A joiner waits for the last one. */
        pid = spawn_op(f, OP_JOIN, "j", NULL, -1, 0);
        harness_wait_field(f->m, "j", "joiners", 1);
        assert_int_equal(mpx_queue_task_done(f->m, "j", tc), 0);
        assert_int_equal(harness_field(f->m, "j", "joiners"), 0);
        assert_int_equal(harness_wait(pid), 0);

        /* Once too often. */
        assert_int_equal(mpx_queue_task_done(f->m, "j", 0), -EINVAL);
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.unfinished, 0);
        assert_int_equal(mpx_queue_join(f->m, "j", 0), 0);
        assert_int_equal(mpx_queue_join(f->m, "j", -1), 0);

        /* A plain queue has no tags, task_done or join. */
        assert_int_equal(mpx_queue_declare(f->m, "plain", 0, 0), 1);
        assert_int_equal(put_str(f->m, "plain", "p", 0), 0);
        assert_int_equal(get_str(f->m, "plain", 0, 0, buf, sizeof(buf), &ta, &deliveries), 0);
        assert_int_equal(ta, 0);
        assert_int_equal(deliveries, 1);
        assert_int_equal(mpx_queue_task_done(f->m, "plain", 0), -EPROTOTYPE);
        assert_int_equal(mpx_queue_task_done(f->m, "plain", 1), -EPROTOTYPE);
        assert_int_equal(mpx_queue_join(f->m, "plain", 0), -EPROTOTYPE);
        assert_int_equal(mpx_queue_join(f->m, "plain", -1), -EPROTOTYPE);
        assert_int_equal(mpx_queue_stat(f->m, "plain", &st), 0);
        assert_int_equal(st.unfinished, 0);
}

static void test_declare_rules(void **state) {
        struct harness_fixture *f = *state;
        mpx_queue_status st;

        assert_int_equal(mpx_queue_declare(f->m, "j", 10, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(f->m, "j", 10, MPX_QUEUE_JOINABLE), 0);
        assert_int_equal(mpx_queue_declare(f->m, "j", 11, MPX_QUEUE_JOINABLE), -EEXIST);
        assert_int_equal(mpx_queue_declare(f->m, "j", 0, MPX_QUEUE_JOINABLE), -EEXIST);
        assert_int_equal(mpx_queue_declare(f->m, "j", 10, 0), -EPROTOTYPE);

        assert_int_equal(mpx_queue_declare(f->m, "p", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "p", 0, 0), 0);
        assert_int_equal(mpx_queue_declare(f->m, "p", 3, 0), -EEXIST);
        assert_int_equal(mpx_queue_declare(f->m, "p", 0, MPX_QUEUE_JOINABLE), -EPROTOTYPE);

        /* A second declare leaves the queue as it was. */
        assert_int_equal(put_str(f->m, "j", "x", 0), 0);
        assert_int_equal(mpx_queue_declare(f->m, "j", 10, MPX_QUEUE_JOINABLE), 0);
        assert_int_equal(mpx_queue_stat(f->m, "j", &st), 0);
        assert_int_equal(st.size, 1);
        assert_int_equal(st.maxsize, 10);
        assert_int_equal(st.unfinished, 1);

        assert_int_equal(mpx_queue_declare(f->m, "bad name", 0, 0), -EINVAL);
        assert_int_equal(mpx_queue_declare(f->m, "", 0, 0), -EINVAL);
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 1u << 7), -EINVAL);

        /* Operations on a name never declared. */
        assert_int_equal(put_str(f->m, "nothing", "x", 0), -ENOENT);
        assert_int_equal(mpx_queue_join(f->m, "nothing", 0), -ENOENT);
        assert_int_equal(mpx_queue_task_done(f->m, "nothing", 0), -ENOENT);
}

/* ---- 8. a consumer killed while holding joinable items ---- */

struct holder_arg {
        const char *socket;
        int fd;                         /* write end of the pipe to the parent */
};

/* Take three items, tell the parent, then hold them until killed. */
static int holder_child(void *arg) {
        const struct holder_arg *a = arg;
        static const char *const want[] = { "i0", "i1", "i2" };
        mpx *m = harness_child_connect(a->socket);

        child_check(m);
        for (int i = 0; i < 3; i++) {
                mpx_item it = { 0 };

                child_check_r(mpx_queue_get(m, "work", -1, &it), 0);
                child_check(item_is(&it, want[i]));
                child_check(it.deliveries == 1);
                mpx_item_clear(&it);
        }
        child_check(write(a->fd, "x", 1) == 1);
        for (;;)
                pause();
}

/* Take the three redelivered items then the two others, in order, and finish them. */
static int second_consumer(void *arg) {
        const char *socket = arg;
        static const char *const want[] = { "i0", "i1", "i2", "i3", "i4" };
        static const uint32_t want_deliveries[] = { 2, 2, 2, 1, 1 };
        mpx *m = harness_child_connect(socket);

        child_check(m);
        for (int i = 0; i < 5; i++) {
                mpx_item it = { 0 };

                child_check_r(mpx_queue_get(m, "work", 0, &it), 0);
                if (!item_is(&it, want[i]) || it.deliveries != want_deliveries[i]) {
                        fprintf(stderr, "second consumer: item %d is '%.*s' delivered %u times, "
                                "expected '%s' delivered %u times\n", i, (int) it.size,
                                (const char *) it.data, it.deliveries, want[i], want_deliveries[i]);
                        return 1;
                }
                child_check_r(mpx_queue_task_done(m, "work", it.tag), 0);
                mpx_item_clear(&it);
        }
        mpx_disconnect(m);
        return 0;
}

static void test_killed_consumer_redelivery(void **state) {
        struct harness_fixture *f = *state;
        struct holder_arg ha = { .socket = f->d.socket };
        mpx_queue_status st;
        int fds[2];
        char c;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "work", 0, MPX_QUEUE_JOINABLE), 1);
        for (int i = 0; i < 5; i++) {
                char item[8];

                snprintf(item, sizeof(item), "i%d", i);
                assert_int_equal(put_str(f->m, "work", item, 0), 0);
        }

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        ha.fd = fds[1];
        pid = harness_fork(holder_child, &ha);
        close(fds[1]);
        harness_read_pipe(fds[0], &c, 1);
        close(fds[0]);
        assert_int_equal(harness_field(f->m, "work", "delivered"), 3);
        assert_int_equal(mpx_queue_qsize(f->m, "work"), 2);

        harness_kill(pid);
        /* The daemon learns of the kill on its own time: wait until the items are back. */
        harness_wait_field(f->m, "work", "redelivered", 3);
        assert_int_equal(harness_field(f->m, "work", "delivered"), 0);
        assert_int_equal(mpx_queue_stat(f->m, "work", &st), 0);
        assert_int_equal(st.size, 5);
        assert_int_equal(st.unfinished, 5);
        assert_int_equal(mpx_queue_join(f->m, "work", 0), -EAGAIN);

        pid = harness_fork(second_consumer, f->d.socket);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_join(f->m, "work", -1), 0);
        assert_int_equal(harness_field(f->m, "work", "redelivered"), 3);
        assert_int_equal(harness_field(f->m, "work", "gets"), 8);
        assert_int_equal(harness_field(f->m, "work", "bytes"), 0);
}

/* ---- 9. a getter killed while blocked ---- */

static void test_killed_getter_loses_nothing(void **state) {
        struct harness_fixture *f = *state;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        pid = spawn_op(f, OP_GET, "q", NULL, -1, 0);
        harness_wait_field(f->m, "q", "getters", 1);
        harness_kill(pid);
        harness_wait_field(f->m, "q", "getters", 0);
        harness_wait_stat(f->m, "clients", 1);

        assert_int_equal(put_str(f->m, "q", "kept", 0), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 1);
        assert_get_str(f->m, "q", 0, "kept");
        assert_int_equal(harness_field(f->m, "q", "gets"), 1);
}

/* ---- 10. put_many and get_many ---- */

static void test_put_many_get_many(void **state) {
        struct harness_fixture *f = *state;
        static const char *const words[] = { "zero", "one", "two", "three", "four" };
        struct iovec iov[5];
        mpx_item items[10] = { 0 };
        int64_t r1, r2, per_stats;
        pid_t pid;
        int n;

        for (int i = 0; i < 5; i++)
                iov[i] = (struct iovec) {
                        .iov_base = (void *) words[i],
                        .iov_len = strlen(words[i]),
                };

        /* One round trip each way, in order: the daemon counts one request. */
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        r1 = harness_stat(f->m, "requests");
        per_stats = harness_stat(f->m, "requests") - r1;
        r1 = harness_stat(f->m, "requests");
        assert_int_equal(mpx_queue_put_many(f->m, "q", iov, 5, 0), 0);
        r2 = harness_stat(f->m, "requests");
        assert_int_equal(r2 - r1, per_stats + 1);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 5);

        r1 = harness_stat(f->m, "requests");
        n = mpx_queue_get_many(f->m, "q", items, 3, 0);
        r2 = harness_stat(f->m, "requests");
        assert_int_equal(r2 - r1, per_stats + 1);
        assert_int_equal(n, 3);
        for (int i = 0; i < 3; i++) {
                assert_true(item_is(&items[i], words[i]));
                mpx_item_clear(&items[i]);
        }
        /* min(max, available). */
        n = mpx_queue_get_many(f->m, "q", items, 10, 0);
        assert_int_equal(n, 2);
        for (int i = 0; i < 2; i++) {
                assert_true(item_is(&items[i], words[3 + i]));
                mpx_item_clear(&items[i]);
        }
        assert_int_equal(mpx_queue_get_many(f->m, "q", items, 10, 0), -EAGAIN);
        assert_int_equal(mpx_queue_get_many(f->m, "q", items, 10, 50), -ETIMEDOUT);

        /* Bounded: more than maxsize can never fit. */
        assert_int_equal(mpx_queue_declare(f->m, "b", 3, 0), 1);
        assert_int_equal(mpx_queue_put_many(f->m, "b", iov, 4, 0), -EINVAL);
        assert_int_equal(mpx_queue_put_many(f->m, "b", iov, 4, -1), -EINVAL);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 0);
        assert_int_equal(mpx_queue_put_many(f->m, "b", iov, 2, 0), 0);
        /* All or none: two do not fit where there is room for one, and none go in. */
        assert_int_equal(mpx_queue_put_many(f->m, "b", &iov[3], 2, 0), -EAGAIN);
        assert_int_equal(mpx_queue_put_many(f->m, "b", &iov[3], 2, 50), -ETIMEDOUT);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 2);
        assert_int_equal(mpx_queue_put_many(f->m, "b", &iov[2], 1, 0), 0);
        assert_int_equal(mpx_queue_full(f->m, "b"), 1);
        assert_int_equal(mpx_queue_put_many(f->m, "b", &iov[3], 2, 0), -EAGAIN);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 3);

        pid = spawn_op(f, OP_PUT_MANY, "b", "c0,c1", -1, 0);
        harness_wait_field(f->m, "b", "putters", 1);
        /* Room for one is not room for two. */
        assert_get_str(f->m, "b", 0, "zero");
        assert_int_equal(harness_field(f->m, "b", "putters"), 1);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 2);
        assert_get_str(f->m, "b", 0, "one");
        assert_int_equal(harness_field(f->m, "b", "putters"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 3);

        n = mpx_queue_get_many(f->m, "b", items, 10, -1);
        assert_int_equal(n, 3);
        assert_true(item_is(&items[0], "two"));
        assert_true(item_is(&items[1], "c0"));
        assert_true(item_is(&items[2], "c1"));
        for (int i = 0; i < n; i++)
                mpx_item_clear(&items[i]);

        /* A blocked get_many wakes for the first item and takes all that are there. */
        pid = spawn_op(f, OP_GET_MANY, "b", "three,four", -1, 0);
        harness_wait_field(f->m, "b", "getters", 1);
        assert_int_equal(mpx_queue_put_many(f->m, "b", &iov[3], 2, 0), 0);
        assert_int_equal(harness_field(f->m, "b", "getters"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "b"), 0);
}

/* ---- 11. detached gets ---- */

struct detach_arg {
        const char *socket;
        const char *expect;
        int fd;                         /* write end: the tag goes to the parent */
};

/* Take one item detached, send its tag to the parent, and disconnect without task_done. */
static int detach_child(void *arg) {
        const struct detach_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        mpx_item it = { 0 };

        child_check(m);
        child_check_r(mpx_queue_get_flags(m, "jobs", 0, MPX_GET_DETACH, &it), 0);
        child_check(item_is(&it, a->expect));
        child_check(it.tag != 0);
        child_check(write(a->fd, &it.tag, sizeof(it.tag)) == sizeof(it.tag));
        mpx_item_clear(&it);
        mpx_disconnect(m);
        return 0;
}

/* Run detach_child to its end and return the tag it took. */
static uint64_t take_detached(struct harness_fixture *f, const char *expect) {
        struct detach_arg a = { .socket = f->d.socket, .expect = expect };
        uint64_t tag;
        int fds[2];
        pid_t pid;

        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        a.fd = fds[1];
        pid = harness_fork(detach_child, &a);
        close(fds[1]);
        harness_read_pipe(fds[0], &tag, sizeof(tag));
        close(fds[0]);
        assert_int_equal(harness_wait(pid), 0);
        /* The daemon has seen the child's connection close. */
        harness_wait_stat(f->m, "clients", 1);
        return tag;
}

/* ---- leases (time-to-run) ---- */

struct lease_holder {
        const char *socket;
        int tag_fd;                     /* the delivery's tag is written here */
};

/* Take a detached delivery of "j", say its tag, then hang until killed. */
static int lease_holder_run(void *arg) {
        const struct lease_holder *h = arg;
        mpx_item it = { 0 };
        mpx *m = harness_child_connect(h->socket);

        child_check(m != NULL);
        child_check(mpx_queue_get_flags(m, "j", 0, MPX_GET_DETACH, &it) == 0);
        child_check(item_is(&it, "job") && it.deliveries == 1);
        child_check(write(h->tag_fd, &it.tag, sizeof(it.tag)) == (ssize_t) sizeof(it.tag));
        for (;;)
                pause();
}

/*
 * A consumer killed while it holds a detached delivery: once the lease
 * runs out the item comes back with deliveries 2, its old tag is refused,
 * and JOIN returns once the new delivery is done.
 */
static void test_lease_detached_consumer_killed(void **state) {
        struct harness_fixture *f = *state;
        int fds[2];
        uint64_t tag;
        mpx_item it = { 0 };
        pid_t holder, joiner;

        assert_int_equal(mpx_queue_declare_ttr(f->m, "j", 0, MPX_QUEUE_JOINABLE, 200), 1);
        assert_int_equal(harness_field(f->m, "j", "ttr_ms"), 200);
        assert_int_equal(put_str(f->m, "j", "job", 0), 0);
        assert_int_equal(pipe(fds), 0);
        holder = harness_fork(lease_holder_run, &(struct lease_holder) { .socket = f->d.socket, .tag_fd = fds[1] });
        harness_read_pipe(fds[0], &tag, sizeof(tag));
        close(fds[0]);
        close(fds[1]);
        harness_kill(holder);
        joiner = spawn_op(f, OP_JOIN, "j", NULL, -1, 0);
        harness_wait_field(f->m, "j", "joiners", 1);

        harness_wait_field(f->m, "j", "expired", 1);
        assert_int_equal(harness_field(f->m, "j", "redelivered"), 0);
        assert_int_equal(mpx_queue_get(f->m, "j", 0, &it), 0);
        assert_true(item_is(&it, "job"));
        assert_int_equal(it.deliveries, 2);
        assert_int_not_equal(it.tag, tag);
        assert_int_equal(mpx_queue_task_done(f->m, "j", tag), -ENOENT);
        assert_int_equal(mpx_queue_touch(f->m, "j", tag), -ENOENT);
        assert_int_equal(harness_field(f->m, "j", "joiners"), 1);
        assert_int_equal(mpx_queue_task_done(f->m, "j", it.tag), 0);
        mpx_item_clear(&it);
        assert_int_equal(harness_wait(joiner), 0);
        assert_int_equal(harness_field(f->m, "j", "unfinished"), 0);
}

/*
 * TOUCH keeps a delivery for as long as its holder goes on touching it,
 * well past the TTR; once it stops, the lease runs out and the late
 * TASK_DONE is refused.
 */
static void test_lease_touch_extends(void **state) {
        struct harness_fixture *f = *state;
        const int64_t ttr = 300;
        mpx_item it = { 0 };
        int64_t t0;

        assert_int_equal(mpx_queue_declare_ttr(f->m, "j", 0, MPX_QUEUE_JOINABLE, (uint32_t) ttr), 1);
        assert_int_equal(put_str(f->m, "j", "job", 0), 0);
        assert_int_equal(mpx_queue_get(f->m, "j", 0, &it), 0);
        t0 = monotonic_ms();
        /* The pause paces the touches; what is checked is what the daemon says. */
        while (monotonic_ms() - t0 < 4 * ttr) {
                assert_int_equal(mpx_queue_touch(f->m, "j", it.tag), 0);
                assert_in_range(harness_field(f->m, "j", "lease_ms"), 0, ttr);
                (void) poll(NULL, 0, (int) ttr / 6);
        }
        assert_int_equal(harness_field(f->m, "j", "expired"), 0);
        assert_int_equal(harness_field(f->m, "j", "delivered"), 1);

        harness_wait_field(f->m, "j", "expired", 1);
        assert_int_equal(mpx_queue_touch(f->m, "j", it.tag), -ENOENT);
        assert_int_equal(mpx_queue_task_done(f->m, "j", it.tag), -ENOENT);
        assert_int_equal(harness_field(f->m, "j", "size"), 1);
        assert_int_equal(harness_field(f->m, "j", "unfinished"), 1);
        mpx_item_clear(&it);
}

static void test_detached_get(void **state) {
        struct harness_fixture *f = *state;
        mpx_queue_status st;
        mpx_item it = { 0 };
        uint64_t tag, tc, td;
        char buf[16];
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "jobs", 0, MPX_QUEUE_JOINABLE), 1);

        /* Untagged task_done from another connection. */
        assert_int_equal(put_str(f->m, "jobs", "a", 0), 0);
        tag = take_detached(f, "a");
        assert_int_equal(harness_field(f->m, "jobs", "redelivered"), 0);
        assert_int_equal(harness_field(f->m, "jobs", "delivered"), 1);
        assert_int_equal(mpx_queue_stat(f->m, "jobs", &st), 0);
        assert_int_equal(st.size, 0);
        assert_int_equal(st.unfinished, 1);
        assert_int_equal(mpx_queue_get(f->m, "jobs", 0, &it), -EAGAIN);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), -EAGAIN);

        pid = spawn_op(f, OP_JOIN, "jobs", NULL, -1, 0);
        harness_wait_field(f->m, "jobs", "joiners", 1);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", 0), 0);
        assert_int_equal(harness_field(f->m, "jobs", "joiners"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", 0), -EINVAL);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", tag), -ENOENT);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), 0);

        /* By tag from another connection. */
        assert_int_equal(put_str(f->m, "jobs", "b", 0), 0);
        tag = take_detached(f, "b");
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), -EAGAIN);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", tag), 0);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), 0);

        /* Untagged finishes the connection's own delivery before a detached one. */
        assert_int_equal(put_str(f->m, "jobs", "c", 0), 0);
        assert_int_equal(put_str(f->m, "jobs", "d", 0), 0);
        tc = take_detached(f, "c");
        assert_int_equal(get_str(f->m, "jobs", 0, 0, buf, sizeof(buf), &td, NULL), 0);
        assert_string_equal(buf, "d");
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", 0), 0);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", td), -ENOENT);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), -EAGAIN);
        assert_int_equal(mpx_queue_task_done(f->m, "jobs", tc), 0);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), 0);
        assert_int_equal(harness_field(f->m, "jobs", "redelivered"), 0);
        assert_int_equal(harness_field(f->m, "jobs", "bytes"), 0);
}

/* ---- 13. payload sizes ---- */

static void test_payload_sizes(void **state) {
        struct harness_fixture *f = *state;
        size_t max = mpx_max_message(f->m);
        const size_t sizes[] = { 0, 1, 64 * 1024, max };
        uint8_t *buf = malloc(max + 1);
        struct iovec iov;
        uint64_t total = 0;

        assert_non_null(buf);
        assert_true(max >= 64 * 1024);
        for (size_t i = 0; i <= max; i++)
                buf[i] = (uint8_t) (i * 31 + 7);

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                /* A different first byte per item, so that no item can pass for another. */
                buf[0] = (uint8_t) i;
                assert_int_equal(mpx_queue_put(f->m, "q", buf, sizes[i], 0), 0);
                total += sizes[i];
        }
        /* Every item counts its payload and the same overhead, the bytes of an empty item. */
        assert_int_equal(mpx_queue_declare(f->m, "empty", 0, 0), 1);
        assert_int_equal(mpx_queue_put(f->m, "empty", "", 0, 0), 0);
        total += 4 * (uint64_t) harness_field(f->m, "empty", "bytes");
        assert_int_equal(mpx_delete(f->m, "empty"), 0);
        assert_int_equal(harness_field(f->m, "q", "bytes"), total);
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                mpx_item it = { 0 };

                buf[0] = (uint8_t) i;
                assert_int_equal(mpx_queue_get(f->m, "q", 0, &it), 0);
                assert_int_equal(it.size, sizes[i]);
                if (sizes[i] > 0)
                        assert_memory_equal(it.data, buf, sizes[i]);
                mpx_item_clear(&it);
        }

        /* One byte over the limit, alone or in a batch, is refused and nothing goes in. */
        assert_int_equal(mpx_queue_put(f->m, "q", buf, max + 1, 0), -EMSGSIZE);
        iov = (struct iovec) { .iov_base = buf, .iov_len = max + 1 };
        assert_int_equal(mpx_queue_put_many(f->m, "q", &iov, 1, 0), -EMSGSIZE);
        assert_int_equal(mpx_queue_qsize(f->m, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "bytes"), 0);
        /* The connection is still good. */
        assert_int_equal(mpx_ping(f->m), 0);
        free(buf);
}

/*
 * QUEUE_CONNECTION: the queue belongs to the connection that created it and
 * is deleted when that connection closes; its other waiters are told EIDRM.
 * Declaring it again from another connection finds it and takes nothing.
 */
/* Forked before the owner connects (a fork would hold its socket open): gets once told the queue exists. */
struct eidrm_getter {
        const struct harness_fixture *f;
        int go[2];
};

static int getter_told_eidrm(void *arg) {
        struct eidrm_getter *g = arg;
        mpx_item it = { 0 };
        mpx *m = NULL;
        char b;

        close(g->go[1]);
        child_check(read(g->go[0], &b, 1) == 1);
        child_check_r(mpx_connect(g->f->d.socket, &m), 0);
        child_check_r(mpx_queue_get(m, "mine", -1, &it), -EIDRM);
        mpx_disconnect(m);
        return 0;
}

static bool object_exists(mpx *m, const char *name) {
        mpx_info info;
        int r = mpx_object_info(m, name, &info);

        if (r == 0)
                mpx_info_clear(&info);
        else
                assert_int_equal(r, -ENOENT);
        return r == 0;
}

static void test_connection_queue(void **state) {
        struct harness_fixture *f = *state;
        struct eidrm_getter g = { .f = f };
        mpx *owner, *other;
        mpx_item it = { 0 };
        pid_t pid;

        assert_int_equal(pipe(g.go), 0);
        pid = harness_fork(getter_told_eidrm, &g);
        close(g.go[0]);
        owner = harness_connect(&f->d);
        other = harness_connect(&f->d);

        assert_int_equal(mpx_queue_declare(owner, "mine", 0, MPX_QUEUE_CONNECTION), 1);
        assert_true(harness_field(f->m, "mine", "connection") > 0);
        assert_int_equal(mpx_queue_declare(other, "mine", 0, MPX_QUEUE_CONNECTION), 0);
        assert_int_equal(mpx_queue_declare(f->m, "mine", 0, 0), 0);
        assert_int_equal(mpx_queue_declare(f->m, "lasting", 0, 0), 1);
        assert_int_equal(harness_field(f->m, "lasting", "connection"), 0);
        assert_int_equal(mpx_queue_declare(f->m, "d", 0, MPX_QUEUE_CONNECTION | MPX_DURABLE), -EINVAL);
        assert_int_equal(mpx_queue_declare(owner, "j", 0, MPX_QUEUE_CONNECTION | MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_put(other, "mine", "x", 1, 0), 0);
        /* The other connection closes: nothing changes. */
        other = mpx_disconnect(other);
        harness_wait_stat(f->m, "clients", 2);
        assert_int_equal(harness_field(f->m, "mine", "size"), 1);
        assert_int_equal(mpx_queue_get(f->m, "mine", 0, &it), 0);
        mpx_item_clear(&it);
        /* The owner closes while another connection waits on its queue. */
        assert_int_equal(write(g.go[1], "", 1), 1);
        close(g.go[1]);
        harness_wait_field(owner, "mine", "getters", 1);
        owner = mpx_disconnect(owner);
        assert_int_equal(harness_wait(pid), 0);
        assert_false(object_exists(f->m, "mine"));
        assert_false(object_exists(f->m, "j"));
        assert_true(object_exists(f->m, "lasting"));
}

/* A job submitter that dies before mpx_job_wait(): its result queue goes with it. */
struct submitter {
        const struct harness_fixture *f;
        int name[2];                    /* the result queue's name, to the test */
        int hold[2];                    /* read until killed */
};

static int submitter_run(void *arg) {
        struct submitter *s = arg;
        mpx *m = NULL;
        mpx_job job;
        char b;

        child_check_r(mpx_connect(s->f->d.socket, &m), 0);
        child_check_r(mpx_job_submit(m, "jobs", "work", 4, &job), 0);
        child_check(write(s->name[1], job.result_queue, sizeof(job.result_queue)) ==
                    (ssize_t) sizeof(job.result_queue));
        while (read(s->hold[0], &b, 1) != 0)
                ;
        return 1;
}

static void test_job_submitter_dies(void **state) {
        struct harness_fixture *f = *state;
        struct submitter s = { .f = *state };
        char name[sizeof(((mpx_job *) 0)->result_queue)];
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "jobs", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(pipe(s.name), 0);
        assert_int_equal(pipe(s.hold), 0);
        pid = harness_fork(submitter_run, &s);
        close(s.name[1]);
        assert_int_equal(read(s.name[0], name, sizeof(name)), (ssize_t) sizeof(name));
        assert_non_null(memchr(name, '\0', sizeof(name)));
        assert_true(harness_field(f->m, name, "connection") > 0);
        harness_kill(pid);
        harness_wait_stat(f->m, "clients", 1);
        assert_false(object_exists(f->m, name));
        /* The job is still there; a worker's result for it has nowhere to go. */
        assert_int_equal(harness_field(f->m, "jobs", "size"), 1);
        assert_int_equal(mpx_queue_put(f->m, name, "0", 1, 0), -ENOENT);
        close(s.name[0]);
        close(s.hold[0]);
        close(s.hold[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_many_producers_consumers),
                harness_test(test_maxsize_backpressure),
                harness_test(test_get_timeouts),
                harness_test(test_put_timeouts),
                harness_test(test_join_timeouts),
                harness_test(test_waiters_fifo),
                harness_test(test_close_drains),
                harness_test(test_close_wakes_getter),
                harness_test(test_close_wakes_putter),
                harness_test(test_delete_while_blocked),
                harness_test(test_joinable_task_done),
                harness_test(test_declare_rules),
                harness_test(test_killed_consumer_redelivery),
                harness_test(test_killed_getter_loses_nothing),
                harness_test(test_put_many_get_many),
                harness_test(test_detached_get),
                harness_test(test_lease_detached_consumer_killed),
                harness_test(test_lease_touch_extends),
                harness_test(test_payload_sizes),
                harness_test(test_connection_queue),
                harness_test(test_job_submitter_dies),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
