/* SPDX-License-Identifier: MIT */
/*
 * Fault tests against a real mpxd: clients are real forked processes, each
 * with its own connection, killed with SIGKILL at every step of an exchange.
 *
 * - mid-frame: a raw client writes the first k bytes of a small exchange
 *   (HELLO, a PUT, an ACQUIRE and a GET that blocks) and is killed, for
 *   every k from 0 to the whole exchange: inside a header, between header
 *   and body, inside a body, after a whole frame;
 * - while blocked: in a queue get, a put on a full queue, a join, a
 *   semaphore acquire, an event wait, a barrier wait (the barrier breaks and
 *   the other party is told) and a pipe open; a live waiter parked behind a
 *   killed one is served next;
 * - while holding semaphore units (for every number of units taken): they
 *   come back, and the next owner is told that a holder died;
 * - while holding undone joinable items (for every number taken): they are
 *   redelivered exactly once, in order, with their delivery count raised;
 * - in the middle of a pipelined batch, after reading each number of its
 *   replies, and with megabytes of replies it never reads.
 *
 * After each kill the daemon must answer, list no client of the dead process,
 * have no waiter left (in its totals and in the accounts of the uid), no semaphore unit held and no delivery undone by
 * anyone dead, and its counters must add up (puts = gets - redelivered +
 * size + delivered). Each test starts its own daemon and stops it in
 * teardown, where a crash or (with MPX_TEST_VALGRIND=1) a memory error fails
 * the test. Synchronisation is by pipes, waitpid and polls of the daemon's
 * state with deadlines, never by sleeping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "macros.h"
#include "request-builder.h"
#include "wire.h"

/* A test that runs longer than this has hung: stop the whole program. */
#define WATCHDOG_S              300
#define WATCHDOG_VALGRIND_S     3000

struct fixture {
        struct harness_daemon d;
        mpx *m;                         /* the test's own connection */
        int report[2];                  /* children write one byte here once they are where they should die */
        int hold[2];                    /* children read this until they are killed; nobody writes */
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog("test-fault", harness_under_valgrind() ? WATCHDOG_VALGRIND_S : WATCHDOG_S);
        assert_int_equal(pipe2(f->report, O_CLOEXEC), 0);
        assert_int_equal(pipe2(f->hold, O_CLOEXEC), 0);
        harness_start(&f->d, NULL);
        f->m = harness_connect(&f->d);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status;

        f->m = mpx_disconnect(f->m);
        status = harness_stop(&f->d);
        for (int i = 0; i < 2; i++) {
                close(f->report[i]);
                close(f->hold[i]);
        }
        free(f);
        alarm(0);
        /* A crash, a leak or a memory error of the daemon fails the test. */
        assert_int_equal(status, 0);
        return 0;
}

/* ---- in the children: no cmocka, an exit status ---- */

/* Report, then wait to be killed: the hold pipe never has a byte nor an end. */
static int report_and_hold(const struct fixture *f) {
        uint8_t b;
        ssize_t n;

        if (!harness_put_byte(f->report[1], 1))
                return 1;
        do
                n = read(f->hold[0], &b, 1);
        while (n != 0);
        return 1;
}

/* ---- raw frames, built with the daemon's own codec ---- */

static void frame_hello(struct wire_buf *b, uint32_t id) {
        append_request(b, id, WIRE_OP_HELLO, "wt", WIRE_VERSION, "fault");
}

static void frame_put(struct wire_buf *b, uint32_t id, const char *queue, const void *data, uint32_t size) {
        append_request(b, id, WIRE_OP_QUEUE_PUT, "nix", queue, (int64_t) -1, data, (size_t) size);
}

static void frame_get(struct wire_buf *b, uint32_t id, const char *queue, int64_t timeout_ms) {
        append_request(b, id, WIRE_OP_QUEUE_GET, "niw", queue, timeout_ms, (uint32_t) 0);
}

static void frame_acquire(struct wire_buf *b, uint32_t id, const char *sem) {
        append_request(b, id, WIRE_OP_SEM_ACQUIRE, "ni", sem, (int64_t) -1);
}

/* A raw client: HELLO, then send bytes, read some replies, report, and wait to be killed. */
struct raw_child {
        const struct fixture *f;
        bool hello_in_bytes;            /* bytes start with HELLO: send nothing before them */
        const uint8_t *bytes;
        size_t len;
        unsigned read_replies;
};

static int raw_child_run(void *arg) {
        const struct raw_child *a = arg;
        struct wire_buf hello;
        struct wire_header h;
        int fd = harness_raw_connect(a->f->d.socket);

        child_check(fd >= 0);
        if (!a->hello_in_bytes) {
                wire_buf_init(&hello);
                frame_hello(&hello, 1);
                child_check(harness_write_all(fd, hello.data, hello.len));
                wire_buf_done(&hello);
                child_check(harness_read_reply(fd, &h) && h.status == WIRE_OK);
        }
        child_check(harness_write_all(fd, a->bytes, a->len));
        for (unsigned i = 0; i < a->read_replies; i++)
                child_check(harness_read_reply(fd, &h));
        return report_and_hold(a->f);
}

/* ---- in the test ---- */

static void read_report(struct fixture *f) {
        uint8_t b;
        ssize_t n;

        do
                n = read(f->report[0], &b, 1);
        while (n < 0 && errno == EINTR);
        if (n != 1)
                fail_msg("a child did not report (read gave %zd)", n);
}

static void assert_child_exit(pid_t pid, int want) {
        int status = harness_wait(pid);

        if (status != want)
                fail_msg("child %ld exited with status %d, expected %d", (long) pid, status, want);
}

/*
 * After a kill: the daemon answers, has n_clients connections (the test's
 * own and live children), none of them the dead process, no waiter beyond
 * n_waiters, and no client lists semaphore units, deliveries or waits
 * unless it is alive.
 */
static void assert_recovered(struct fixture *f, pid_t dead, int64_t n_clients, int64_t n_waiters) {
        mpx_info *items = NULL;
        size_t n = 0;
        uint64_t next = 0;

        harness_wait_stat(f->m, "clients", n_clients);
        harness_wait_stat(f->m, "waiters", n_waiters);
        assert_int_equal(mpx_ping(f->m), 0);
        assert_int_equal(mpx_clients(f->m, 0, 1000, &items, &n, &next), 0);
        assert_int_equal(n, (size_t) n_clients);
        for (size_t i = 0; i < n; i++) {
                const mpx_field *pid = mpx_info_get(&items[i], "pid");

                assert_non_null(pid);
                if (pid->num == dead)
                        fail_msg("the daemon still lists the killed process %ld", (long) dead);
        }
        mpx_objects_free(items, n);
        /* The accounts of the uid (every process here has the test's) agree. */
        assert_int_equal(mpx_users(f->m, 0, 100, &items, &n, &next), 0);
        assert_int_equal(n, 1);
        assert_int_equal(mpx_info_get(&items[0], "clients")->num, n_clients);
        assert_int_equal(mpx_info_get(&items[0], "waiters")->num, n_waiters);
        mpx_objects_free(items, n);
}

/* Every queue counter adds up: what was put is what was taken (net of redeliveries) plus what is left. */
static void assert_queue_books(mpx *m, const char *name) {
        int64_t puts = harness_field(m, name, "puts"), gets = harness_field(m, name, "gets");
        int64_t redelivered = harness_field(m, name, "redelivered"), size = harness_field(m, name, "size");
        int64_t delivered = harness_field(m, name, "delivered");

        if (puts != gets - redelivered + size + delivered)
                fail_msg("queue %s: puts %lld != gets %lld - redelivered %lld + size %lld + delivered %lld", name,
                         (long long) puts, (long long) gets, (long long) redelivered, (long long) size,
                         (long long) delivered);
}

/* Take one item that must be there, with this payload and delivery count. */
static void take_item(mpx *m, const char *queue, const char *payload, uint32_t deliveries) {
        mpx_item it = { 0 };
        int r = mpx_queue_get(m, queue, 0, &it);

        if (r < 0)
                fail_msg("get from %s: %s, expected '%s'", queue, mpx_strerror(r), payload);
        if (it.size != strlen(payload) || memcmp(it.data, payload, it.size) != 0 || it.deliveries != deliveries)
                fail_msg("get from %s gave '%.*s' (deliveries %u), expected '%s' (deliveries %u)", queue,
                         (int) it.size, (const char *) it.data, it.deliveries, payload, deliveries);
        if (it.tag)
                assert_int_equal(mpx_queue_task_done(m, queue, it.tag), 0);
        mpx_item_clear(&it);
}

/* ---- 1. killed in the middle of a frame, at every byte ---- */

static void test_killed_mid_frame(void **state) {
        struct fixture *f = *state;
        struct wire_buf b;
        size_t put_end, acquire_end;
        int64_t owner_died = 0;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "empty", 0, 0), 1);
        assert_int_equal(mpx_sem_declare(f->m, "s", 1, 1, MPX_SEM_BOUNDED), 1);

        /* One exchange: HELLO, a put, an acquire that succeeds, a get that blocks. */
        wire_buf_init(&b);
        frame_hello(&b, 1);
        frame_put(&b, 2, "q", "item", 4);
        put_end = b.len;
        frame_acquire(&b, 3, "s");
        acquire_end = b.len;
        frame_get(&b, 4, "empty", -1);

        for (size_t k = 0; k <= b.len; k++) {
                struct raw_child a = { .f = f, .hello_in_bytes = true, .bytes = b.data, .len = k };
                pid_t pid = harness_fork(raw_child_run, &a);

                read_report(f);
                harness_kill(pid);
                assert_recovered(f, pid, 1, 0);
                /* What was sent whole was done; nothing half-sent was. */
                assert_int_equal(mpx_queue_qsize(f->m, "q"), k >= put_end ? 1 : 0);
                if (k >= acquire_end)
                        owner_died++;
                assert_int_equal(harness_field(f->m, "s", "owner_died"), owner_died);
                assert_int_equal(mpx_sem_value(f->m, "s"), 1);
                assert_int_equal(harness_field(f->m, "s", "held"), 0);
                assert_int_equal(harness_field(f->m, "empty", "getters"), 0);
                if (k >= put_end)
                        take_item(f->m, "q", "item", 1);
                /* Take the report of the dead holder, so the next round starts alike. */
                if (k >= acquire_end) {
                        assert_int_equal(mpx_sem_acquire(f->m, "s", 0), -EOWNERDEAD);
                        assert_int_equal(mpx_sem_release(f->m, "s"), 0);
                }
        }
        assert_queue_books(f->m, "q");
        assert_int_equal(harness_field(f->m, "q", "puts"), (int64_t) (b.len - put_end + 1));
        wire_buf_done(&b);
}

/* ---- 2. killed while blocked ---- */

enum blocked_op {
        BLOCK_GET,
        BLOCK_PUT_FULL,
        BLOCK_JOIN,
        BLOCK_ACQUIRE,
        BLOCK_EVENT,
        BLOCK_BARRIER,
        BLOCK_PIPE,
};

struct blocked_child {
        const struct fixture *f;
        enum blocked_op op;
        int expect;                     /* what the call returns if it is not killed */
};

static int blocked_child_run(void *arg) {
        const struct blocked_child *a = arg;
        mpx *m = harness_child_connect(a->f->d.socket);
        mpx_item it = { 0 };
        int r = -1, fd = -1;

        child_check(m);
        switch (a->op) {
        case BLOCK_GET:
                r = mpx_queue_get(m, "q", -1, &it);
                break;
        case BLOCK_PUT_FULL:
                r = mpx_queue_put(m, "full", "late", 4, -1);
                break;
        case BLOCK_JOIN:
                r = mpx_queue_join(m, "jq", -1);
                break;
        case BLOCK_ACQUIRE:
                r = mpx_sem_acquire(m, "s0", -1);
                break;
        case BLOCK_EVENT:
                r = mpx_event_wait(m, "ev", -1);
                break;
        case BLOCK_BARRIER:
                r = mpx_barrier_wait(m, "bar", -1);
                break;
        case BLOCK_PIPE:
                r = mpx_pipe_open(m, "p", MPX_PIPE_READ, -1, &fd);
                break;
        }
        child_check_r(r, a->expect);
        mpx_item_clear(&it);
        mpx_disconnect(m);
        return 0;
}

static pid_t spawn_blocked(struct fixture *f, struct blocked_child *a, enum blocked_op op, int expect) {
        *a = (struct blocked_child) { .f = f, .op = op, .expect = expect };
        return harness_fork(blocked_child_run, a);
}

static void test_killed_while_blocked(void **state) {
        static const struct {
                enum blocked_op op;
                const char *object, *field;
        } cases[] = {
                { BLOCK_GET, "q", "getters" },
                { BLOCK_PUT_FULL, "full", "putters" },
                { BLOCK_JOIN, "jq", "joiners" },
                { BLOCK_ACQUIRE, "s0", "acquirers" },
                { BLOCK_EVENT, "ev", "waiters" },
                { BLOCK_BARRIER, "bar", "waiting" },
                { BLOCK_PIPE, "p", "waiters" },
        };
        struct fixture *f = *state;
        struct blocked_child a, other;
        mpx_item it = { 0 };
        pid_t pid, other_pid;
        int fd;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "full", 1, 0), 1);
        assert_int_equal(mpx_queue_put(f->m, "full", "first", 5, 0), 0);
        assert_int_equal(mpx_queue_declare(f->m, "jq", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_put(f->m, "jq", "unfinished", 10, 0), 0);
        assert_int_equal(mpx_sem_declare(f->m, "s0", 0, 0, 0), 1);
        assert_int_equal(mpx_event_declare(f->m, "ev"), 1);
        assert_int_equal(mpx_barrier_declare(f->m, "bar", 3), 1);
        /* The pipe exists once somebody waited at it: a first party that times out makes it. */
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_READ, 1, &fd), -ETIMEDOUT);

        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                bool barrier = cases[i].op == BLOCK_BARRIER;

                /* A barrier breaks: a second party, left alive, is told so. */
                if (barrier) {
                        other_pid = spawn_blocked(f, &other, BLOCK_BARRIER, -ENOTRECOVERABLE);
                        harness_wait_field(f->m, "bar", "waiting", 1);
                }
                pid = spawn_blocked(f, &a, cases[i].op, 0);
                harness_wait_field(f->m, cases[i].object, cases[i].field, barrier ? 2 : 1);
                harness_kill(pid);
                if (barrier)
                        assert_child_exit(other_pid, 0);
                assert_recovered(f, pid, 1, 0);
                assert_int_equal(harness_field(f->m, cases[i].object, cases[i].field), 0);
        }

        /* Nothing went to the dead: an item put now is the test's to take. */
        assert_int_equal(mpx_queue_put(f->m, "q", "x", 1, 0), 0);
        take_item(f->m, "q", "x", 1);
        assert_queue_books(f->m, "q");
        /* The dead putter's item never entered the full queue. */
        assert_int_equal(mpx_queue_qsize(f->m, "full"), 1);
        take_item(f->m, "full", "first", 1);
        assert_int_equal(mpx_queue_get(f->m, "full", 0, &it), -EAGAIN);
        assert_queue_books(f->m, "full");
        /* The item a joiner waited for is still unfinished; finishing it lets join through. */
        assert_int_equal(mpx_queue_join(f->m, "jq", 0), -EAGAIN);
        take_item(f->m, "jq", "unfinished", 1);
        assert_int_equal(mpx_queue_join(f->m, "jq", 0), 0);
        /* No unit went to the dead acquirer. */
        assert_int_equal(mpx_sem_release(f->m, "s0"), 0);
        assert_int_equal(mpx_sem_value(f->m, "s0"), 1);
        assert_int_equal(harness_field(f->m, "s0", "acquisitions"), 0);
        assert_int_equal(harness_field(f->m, "s0", "owner_died"), 0);
        /* Setting the event wakes nobody. */
        assert_int_equal(mpx_event_set(f->m, "ev"), 0);
        assert_int_equal(harness_field(f->m, "ev", "woken"), 0);
        /* The barrier broke, as documented, until reset. */
        assert_int_equal(harness_field(f->m, "bar", "broken"), 1);
        assert_int_equal(mpx_barrier_wait(f->m, "bar", 0), -ENOTRECOVERABLE);
        assert_int_equal(mpx_barrier_reset(f->m, "bar"), 0);
        /* Nobody is waiting at the pipe any more. */
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_WRITE, 0, &fd), -EAGAIN);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 0);
}

/* A live waiter parked behind a killed one is served next, and gets what the dead one would have. */
struct behind_child {
        const struct fixture *f;
        enum blocked_op op;
};

static int behind_child_run(void *arg) {
        const struct behind_child *a = arg;
        mpx *m = harness_child_connect(a->f->d.socket);
        mpx_item it = { 0 };

        child_check(m);
        switch (a->op) {
        case BLOCK_GET:
                child_check_r(mpx_queue_get(m, "q", -1, &it), 0);
                child_check(it.size == 4 && memcmp(it.data, "next", 4) == 0);
                mpx_item_clear(&it);
                break;
        case BLOCK_PUT_FULL:
                child_check_r(mpx_queue_put(m, "full", "live", 4, -1), 0);
                break;
        default:
                /* Nobody held a unit: no holder died. */
                child_check_r(mpx_sem_acquire(m, "s0", -1), 0);
                child_check_r(mpx_sem_release(m, "s0"), 0);
                break;
        }
        mpx_disconnect(m);
        return 0;
}

static void test_waiter_behind_killed_one(void **state) {
        static const struct {
                enum blocked_op op;
                const char *object, *field;
        } cases[] = {
                { BLOCK_GET, "q", "getters" },
                { BLOCK_PUT_FULL, "full", "putters" },
                { BLOCK_ACQUIRE, "s0", "acquirers" },
        };
        struct fixture *f = *state;
        struct blocked_child dead;
        struct behind_child live;
        pid_t dead_pid, live_pid;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "full", 1, 0), 1);
        assert_int_equal(mpx_queue_put(f->m, "full", "first", 5, 0), 0);
        assert_int_equal(mpx_sem_declare(f->m, "s0", 0, 0, 0), 1);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                dead_pid = spawn_blocked(f, &dead, cases[i].op, 0);
                harness_wait_field(f->m, cases[i].object, cases[i].field, 1);
                live = (struct behind_child) { .f = f, .op = cases[i].op };
                live_pid = harness_fork(behind_child_run, &live);
                harness_wait_field(f->m, cases[i].object, cases[i].field, 2);
                harness_kill(dead_pid);
                harness_wait_field(f->m, cases[i].object, cases[i].field, 1);
                switch (cases[i].op) {
                case BLOCK_GET:
                        assert_int_equal(mpx_queue_put(f->m, "q", "next", 4, 0), 0);
                        break;
                case BLOCK_PUT_FULL:
                        take_item(f->m, "full", "first", 1);
                        break;
                default:
                        assert_int_equal(mpx_sem_release(f->m, "s0"), 0);
                        break;
                }
                assert_child_exit(live_pid, 0);
                assert_recovered(f, dead_pid, 1, 0);
        }
        /* The live putter's item entered, the dead one's never did. */
        take_item(f->m, "full", "live", 1);
        assert_int_equal(mpx_queue_qsize(f->m, "full"), 0);
        assert_queue_books(f->m, "q");
        assert_queue_books(f->m, "full");
        assert_int_equal(mpx_sem_value(f->m, "s0"), 1);
        assert_int_equal(harness_field(f->m, "s0", "owner_died"), 0);
}

/* ---- 3. killed while holding semaphore units ---- */

struct holder_child {
        const struct fixture *f;
        unsigned units;                 /* of "a" */
        bool lock;                      /* and the lock "b" */
};

static int holder_child_run(void *arg) {
        const struct holder_child *a = arg;
        mpx *m = harness_child_connect(a->f->d.socket);

        child_check(m);
        for (unsigned i = 0; i < a->units; i++) {
                int r = mpx_sem_acquire(m, "a", -1);

                child_check(r == 0 || r == -EOWNERDEAD);
        }
        if (a->lock)
                child_check_r(mpx_sem_acquire(m, "b", -1), 0);
        return report_and_hold(a->f);
}

/* A waiter for the lock: it must be told that the holder died, and release. */
static int lock_waiter_run(void *arg) {
        const struct fixture *f = arg;
        mpx *m = harness_child_connect(f->d.socket);

        child_check(m);
        child_check_r(mpx_sem_acquire(m, "b", -1), -EOWNERDEAD);
        child_check_r(mpx_sem_release(m, "b"), 0);
        mpx_disconnect(m);
        return 0;
}

static void test_killed_holding_units(void **state) {
        struct fixture *f = *state;
        struct holder_child a;
        int64_t died_a = 0;
        pid_t pid, waiter;

        assert_int_equal(mpx_sem_declare(f->m, "a", 3, 0, 0), 1);
        assert_int_equal(mpx_sem_declare(f->m, "b", 1, 1, MPX_SEM_BOUNDED), 1);

        /* Killed after taking each number of units: all of them come back. */
        for (unsigned units = 0; units <= 3; units++) {
                a = (struct holder_child) { .f = f, .units = units };
                pid = harness_fork(holder_child_run, &a);
                read_report(f);
                assert_int_equal(mpx_sem_value(f->m, "a"), 3 - units);
                harness_kill(pid);
                assert_recovered(f, pid, 1, 0);
                assert_int_equal(mpx_sem_value(f->m, "a"), 3);
                assert_int_equal(harness_field(f->m, "a", "held"), 0);
                assert_int_equal(harness_field(f->m, "a", "holders"), 0);
                if (units > 0)
                        died_a++;
                assert_int_equal(harness_field(f->m, "a", "owner_died"), died_a);
                assert_int_equal(harness_field(f->m, "a", "owner_dead"), units > 0);
        }
        assert_int_equal(harness_field(f->m, "a", "undone"), 6);

        /* Holding units of two semaphores, with a waiter for the lock. */
        a = (struct holder_child) { .f = f, .units = 2, .lock = true };
        pid = harness_fork(holder_child_run, &a);
        read_report(f);
        waiter = harness_fork(lock_waiter_run, f);
        harness_wait_field(f->m, "b", "acquirers", 1);
        harness_kill(pid);
        assert_child_exit(waiter, 0);
        assert_recovered(f, pid, 1, 0);
        assert_int_equal(mpx_sem_value(f->m, "a"), 3);
        assert_int_equal(mpx_sem_value(f->m, "b"), 1);
        assert_int_equal(harness_field(f->m, "b", "owner_died"), 1);
        assert_int_equal(harness_field(f->m, "b", "owner_dead"), 0);
        /* "a" has had no acquire since its holders died: the next one is told, once. */
        assert_int_equal(mpx_sem_acquire(f->m, "a", 0), -EOWNERDEAD);
        assert_int_equal(mpx_sem_acquire(f->m, "a", 0), 0);
        assert_int_equal(mpx_sem_release(f->m, "a"), 0);
        assert_int_equal(mpx_sem_release(f->m, "a"), 0);
        assert_int_equal(mpx_sem_value(f->m, "a"), 3);
}

/* ---- 4. killed while holding undone joinable items ---- */

struct taker_child {
        const struct fixture *f;
        unsigned take;
};

static int taker_child_run(void *arg) {
        const struct taker_child *a = arg;
        mpx *m = harness_child_connect(a->f->d.socket);

        child_check(m);
        for (unsigned i = 0; i < a->take; i++) {
                mpx_item it = { 0 };

                child_check_r(mpx_queue_get(m, "jobs", -1, &it), 0);
                child_check(it.deliveries == 1);
                mpx_item_clear(&it);
        }
        return report_and_hold(a->f);
}

#define JOBS 5

static void test_killed_holding_deliveries(void **state) {
        struct fixture *f = *state;
        int64_t redelivered = 0;
        mpx_item it = { 0 };

        assert_int_equal(mpx_queue_declare(f->m, "jobs", 0, MPX_QUEUE_JOINABLE), 1);
        for (unsigned take = 0; take <= JOBS; take++) {
                struct taker_child a = { .f = f, .take = take };
                char payload[32];
                pid_t pid;

                for (unsigned i = 0; i < JOBS; i++) {
                        snprintf(payload, sizeof(payload), "job %u.%u", take, i);
                        assert_int_equal(mpx_queue_put(f->m, "jobs", payload, strlen(payload), 0), 0);
                }
                pid = harness_fork(taker_child_run, &a);
                read_report(f);
                assert_int_equal(harness_field(f->m, "jobs", "delivered"), take);
                harness_kill(pid);
                assert_recovered(f, pid, 1, 0);
                redelivered += take;
                assert_int_equal(harness_field(f->m, "jobs", "redelivered"), redelivered);
                assert_int_equal(harness_field(f->m, "jobs", "delivered"), 0);
                assert_queue_books(f->m, "jobs");
                /* Each item exactly once, in order; those the dead one took have been delivered twice. */
                for (unsigned i = 0; i < JOBS; i++) {
                        snprintf(payload, sizeof(payload), "job %u.%u", take, i);
                        take_item(f->m, "jobs", payload, i < take ? 2 : 1);
                }
                assert_int_equal(mpx_queue_get(f->m, "jobs", 0, &it), -EAGAIN);
                assert_int_equal(mpx_queue_join(f->m, "jobs", 0), 0);
        }
        assert_queue_books(f->m, "jobs");
}

/* ---- 5. killed in the middle of a pipelined batch ---- */

#define BATCH_ITEMS 4

static void test_killed_mid_batch(void **state) {
        struct fixture *f = *state;
        struct wire_buf b;
        unsigned replies = 2 * BATCH_ITEMS + 1;
        int64_t redelivered = 0;

        assert_int_equal(mpx_queue_declare(f->m, "jq", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(f->m, "empty", 0, 0), 1);
        assert_int_equal(mpx_sem_declare(f->m, "s", 1, 0, 0), 1);

        /* Puts, gets of what was put, an acquire, and a get that blocks: all in one write. */
        wire_buf_init(&b);
        for (unsigned i = 0; i < BATCH_ITEMS; i++) {
                char payload[16];

                snprintf(payload, sizeof(payload), "b%u", i);
                frame_put(&b, 10 + i, "jq", payload, (uint32_t) strlen(payload));
        }
        for (unsigned i = 0; i < BATCH_ITEMS; i++)
                frame_get(&b, 20 + i, "jq", -1);
        frame_acquire(&b, 30, "s");
        frame_get(&b, 31, "empty", -1);

        /* Killed after reading each number of the replies. */
        for (unsigned read = 0; read <= replies; read++) {
                struct raw_child a = { .f = f, .bytes = b.data, .len = b.len, .read_replies = read };
                pid_t pid = harness_fork(raw_child_run, &a);

                read_report(f);
                harness_kill(pid);
                assert_recovered(f, pid, 1, 0);
                redelivered += BATCH_ITEMS;
                assert_int_equal(harness_field(f->m, "jq", "redelivered"), redelivered);
                assert_int_equal(mpx_sem_value(f->m, "s"), 1);
                assert_int_equal(mpx_sem_acquire(f->m, "s", 0), -EOWNERDEAD);
                assert_int_equal(mpx_sem_release(f->m, "s"), 0);
                assert_queue_books(f->m, "jq");
                for (unsigned i = 0; i < BATCH_ITEMS; i++) {
                        char payload[16];

                        snprintf(payload, sizeof(payload), "b%u", i);
                        take_item(f->m, "jq", payload, 2);
                }
                assert_int_equal(mpx_queue_join(f->m, "jq", 0), 0);
        }
        wire_buf_done(&b);
}

/* Megabytes of replies the client never reads: the daemon holds them, then lets go. */
#define BIG_ITEMS 32
#define BIG_SIZE (64u * 1024)

static void test_killed_with_unread_replies(void **state) {
        struct fixture *f = *state;
        struct wire_buf b;
        uint8_t *payload = malloc(BIG_SIZE);
        struct raw_child a;
        mpx_item it = { 0 };
        pid_t pid;

        assert_non_null(payload);
        assert_int_equal(mpx_queue_declare(f->m, "big", 0, MPX_QUEUE_JOINABLE), 1);
        wire_buf_init(&b);
        for (unsigned i = 0; i < BIG_ITEMS; i++) {
                memset(payload, 'a' + (int) i, BIG_SIZE);
                frame_put(&b, 100 + i, "big", payload, BIG_SIZE);
        }
        for (unsigned i = 0; i < BIG_ITEMS; i++)
                frame_get(&b, 200 + i, "big", -1);
        a = (struct raw_child) { .f = f, .bytes = b.data, .len = b.len };
        pid = harness_fork(raw_child_run, &a);
        read_report(f);
        /* Every get was served: the replies sit in the daemon, unread. */
        harness_wait_field(f->m, "big", "delivered", BIG_ITEMS);
        harness_kill(pid);
        assert_recovered(f, pid, 1, 0);
        assert_int_equal(harness_field(f->m, "big", "size"), BIG_ITEMS);
        assert_int_equal(harness_field(f->m, "big", "redelivered"), BIG_ITEMS);
        for (unsigned i = 0; i < BIG_ITEMS; i++) {
                assert_int_equal(mpx_queue_get(f->m, "big", 0, &it), 0);
                assert_int_equal(it.size, BIG_SIZE);
                assert_int_equal(((uint8_t *) it.data)[BIG_SIZE - 1], 'a' + (int) i);
                assert_int_equal(it.deliveries, 2);
                assert_int_equal(mpx_queue_task_done(f->m, "big", it.tag), 0);
                mpx_item_clear(&it);
        }
        assert_int_equal(mpx_queue_join(f->m, "big", 0), 0);
        assert_queue_books(f->m, "big");
        wire_buf_done(&b);
        free(payload);
}

/* ---- 8. replies that never left the daemon ---- */

#define LOST_ROUNDS 20
#define LOST_PER_ROUND 10

static void frame_get_many(struct wire_buf *b, uint32_t id, const char *queue, uint32_t max) {
        append_request(b, id, WIRE_OP_QUEUE_GET_MANY, "niww", queue, (int64_t) 0, (uint32_t) 0, max);
}

/* Stop the daemon, and know it stopped: its parent sees it in waitpid. */
static void daemon_freeze(struct fixture *f) {
        int status;

        assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
        assert_int_equal(waitpid(f->d.pid, &status, WUNTRACED), f->d.pid);
        assert_true(WIFSTOPPED(status));
}

/*
 * Connect, send bytes (a HELLO and requests) and close at once: while the
 * daemon is stopped, so that the connection is gone before it reads a byte
 * and no reply to it can be written.
 */
static void send_and_close(struct fixture *f, const struct wire_buf *b) {
        int fd = harness_raw_connect(f->d.socket);

        assert_true(fd >= 0);
        assert_true(harness_write_all(fd, b->data, b->len));
        close(fd);
}

/* Put count items "NAME-i" for i from first. */
static void put_numbered(mpx *m, const char *queue, unsigned first, unsigned count) {
        for (unsigned i = first; i < first + count; i++) {
                char payload[32];

                snprintf(payload, sizeof(payload), "%s-%u", queue, i);
                assert_int_equal(mpx_queue_put(m, queue, payload, strlen(payload), 0), 0);
        }
}

/* Take count items, which must be "NAME-i" for i from first, each handed out for the first time. */
static void take_numbered(mpx *m, const char *queue, unsigned first, unsigned count) {
        for (unsigned i = first; i < first + count; i++) {
                char payload[32];

                snprintf(payload, sizeof(payload), "%s-%u", queue, i);
                take_item(m, queue, payload, 1);
        }
}

/*
 * GET and GET_MANY of a plain queue from connections that close before their
 * replies can be written: the daemon's write fails, so nobody received the
 * items. Every one goes back to the head of the queue, in order, handed out
 * as if for the first time; none is lost.
 */
static void test_unwritten_get_replies(void **state) {
        struct fixture *f = *state;
        struct wire_buf get, get_many;
        unsigned items = LOST_ROUNDS * LOST_PER_ROUND;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "m", 0, 0), 1);
        put_numbered(f->m, "q", 0, items);
        put_numbered(f->m, "m", 0, 3 * LOST_ROUNDS);
        wire_buf_init(&get);
        frame_hello(&get, 1);
        frame_get(&get, 2, "q", 0);
        wire_buf_init(&get_many);
        frame_hello(&get_many, 1);
        frame_get_many(&get_many, 2, "m", 3);
        for (unsigned round = 1; round <= LOST_ROUNDS; round++) {
                daemon_freeze(f);
                for (unsigned i = 0; i < LOST_PER_ROUND; i++)
                        send_and_close(f, &get);
                send_and_close(f, &get_many);
                assert_int_equal(kill(f->d.pid, SIGCONT), 0);
                harness_wait_field(f->m, "q", "redelivered", round * LOST_PER_ROUND);
                harness_wait_field(f->m, "m", "redelivered", round * 3);
                assert_int_equal(harness_field(f->m, "q", "size"), items);
                assert_int_equal(harness_field(f->m, "m", "size"), 3 * LOST_ROUNDS);
                assert_queue_books(f->m, "q");
                assert_queue_books(f->m, "m");
        }
        harness_wait_stat(f->m, "clients", 1);
        printf("%u GET and %u GET_MANY replies never written: %lld + %lld items put back, %lld + %lld left\n",
               items, LOST_ROUNDS, (long long) harness_field(f->m, "q", "redelivered"),
               (long long) harness_field(f->m, "m", "redelivered"), (long long) harness_field(f->m, "q", "size"),
               (long long) harness_field(f->m, "m", "size"));
        take_numbered(f->m, "q", 0, items);
        take_numbered(f->m, "m", 0, 3 * LOST_ROUNDS);
        assert_queue_books(f->m, "q");
        assert_queue_books(f->m, "m");
        wire_buf_done(&get);
        wire_buf_done(&get_many);
}

/*
 * A parked GET served by a put while its connection is already closed: the
 * item goes back, or stays if the daemon saw the close first. Either way it
 * is not lost, and the next getter has it.
 */
static void test_unwritten_parked_get(void **state) {
        struct fixture *f = *state;
        struct wire_buf b;
        struct wire_header h;
        int getter, putter;

        assert_int_equal(mpx_queue_declare(f->m, "p", 0, 0), 1);
        for (unsigned round = 0; round < LOST_ROUNDS; round++) {
                wire_buf_init(&b);
                frame_hello(&b, 1);
                frame_get(&b, 2, "p", -1);
                getter = harness_raw_connect(f->d.socket);
                assert_true(getter >= 0);
                assert_true(harness_write_all(getter, b.data, b.len));
                harness_wait_field(f->m, "p", "getters", 1);
                wire_buf_done(&b);
                wire_buf_init(&b);
                frame_hello(&b, 1);
                putter = harness_raw_connect(f->d.socket);
                assert_true(putter >= 0);
                assert_true(harness_write_all(putter, b.data, b.len));
                assert_true(harness_read_reply(putter, &h));
                wire_buf_done(&b);
                wire_buf_init(&b);
                frame_put(&b, 2, "p", "parked", 6);
                /* The put, then the close: the daemon serves the getter and cannot answer it. */
                daemon_freeze(f);
                assert_true(harness_write_all(putter, b.data, b.len));
                close(getter);
                wire_buf_done(&b);
                assert_int_equal(kill(f->d.pid, SIGCONT), 0);
                assert_true(harness_read_reply(putter, &h));
                assert_int_equal(h.status, 0);
                close(putter);
                harness_wait_field(f->m, "p", "puts", round + 1);
                harness_wait_stat(f->m, "clients", 1);
                assert_int_equal(harness_field(f->m, "p", "getters"), 0);
                assert_int_equal(harness_field(f->m, "p", "size"), 1);
                assert_queue_books(f->m, "p");
                take_item(f->m, "p", "parked", 1);
        }
        printf("%u parked gets closed before their replies: %lld items put back, 0 lost\n", LOST_ROUNDS,
               (long long) harness_field(f->m, "p", "redelivered"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_killed_mid_frame),
                harness_own_test(test_killed_while_blocked),
                harness_own_test(test_waiter_behind_killed_one),
                harness_own_test(test_killed_holding_units),
                harness_own_test(test_killed_holding_deliveries),
                harness_own_test(test_killed_mid_batch),
                harness_own_test(test_killed_with_unread_replies),
                harness_own_test(test_unwritten_get_replies),
                harness_own_test(test_unwritten_parked_get),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
