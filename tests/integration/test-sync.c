/* SPDX-License-Identifier: MIT */
/*
 * Semaphores, events and barriers against a real mpxd, driven through libmpx
 * by real forked processes, each with its own connection: Semaphore(3) over
 * ten processes (never more than three inside, entry in arrival order), a
 * lock, SEM_UNDO when a holder is killed with SIGKILL (and its absence with
 * NO_UNDO), the next owner of a lock whose holder was killed told so once
 * (-EOWNERDEAD), an event set waking waiters in several processes, a barrier of
 * four releasing everyone together with each index once, a barrier broken
 * by a timeout and by a party killed while waiting, reset and abort, delete
 * while blocked (EIDRM) and shutdown while blocked (ESHUTDOWN).
 *
 * Each test starts its own daemon and stops it in teardown, where a crash or
 * (with MPX_TEST_VALGRIND=1) a memory error of the daemon fails the test.
 * Processes synchronise through the daemon's own counters (acquirers,
 * waiters, waiting, clients), pipes and blocking calls, never through
 * sleeps. The count of processes inside the semaphore is kept by the
 * processes themselves in a shared anonymous mapping, so that it does not
 * depend on the daemon being right.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* A test that runs longer than this has hung: stop the whole program. */
#define WATCHDOG_S              60
#define WATCHDOG_VALGRIND_S     900

#define TASKS                   10
#define SLOTS                   3

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-sync", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* ---- helpers of the forked children: no cmocka in there, just an exit status ---- */

/* In the test: read one report byte from a pipe. */
static uint8_t read_report(int fd) {
        uint8_t b = 0;
        int r = harness_get_byte(fd, &b);

        if (r != 1)
                fail_msg("reading a report: %s", r == 0 ? "end of file" : strerror(errno));
        return b;
}

/* In the test: nothing is waiting in a (non-blocking) pipe. */
static void assert_pipe_empty(int fd) {
        uint8_t b;
        ssize_t n = read(fd, &b, 1);

        if (n >= 0 || errno != EAGAIN)
                fail_msg("a report arrived too early (read gave %zd, byte %u)", n, n > 0 ? b : 0);
}

static void make_pipe(int fds[2], bool nonblocking_read) {
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
        if (nonblocking_read)
                assert_int_equal(fcntl(fds[0], F_SETFL, O_NONBLOCK), 0);
}

static void close_pipe(int fds[2]) {
        close(fds[0]);
        close(fds[1]);
}

/* ---- a child doing one (usually blocking) operation ---- */

enum child_op {
        OP_ACQUIRE,             /* count: units to take, one call each */
        OP_EVENT_WAIT,
        OP_BARRIER_WAIT,        /* reports its arrival index */
};

struct op_child {
        const char *socket;
        enum child_op op;
        const char *name;
        int64_t timeout_ms;
        int expect;             /* what the (last) call must return, or ANY_INDEX (a barrier index) */
        unsigned count;         /* OP_ACQUIRE: how many units */
        int report_fd;          /* -1, or where to write one byte once the call returned as expected */
        int hold_fd;            /* -1, or read it to end of file first: keeps the connection until killed */
        bool release;           /* OP_ACQUIRE: release the unit once acquired (0 or -EOWNERDEAD) */
};

/* Any arrival index, 0 to 255, is right. */
#define ANY_INDEX 1000

static int op_child_run(void *arg) {
        const struct op_child *a = arg;
        mpx *m = harness_child_connect(a->socket);
        int r = -1;

        child_check(m);
        switch (a->op) {
        case OP_ACQUIRE:
                for (unsigned i = 0; i < (a->count ? a->count : 1); i++) {
                        r = mpx_sem_acquire(m, a->name, a->timeout_ms);
                        if (r < 0)
                                break;
                }
                /* -EOWNERDEAD is an acquire too: the unit is held. */
                if (a->release && (r == 0 || r == -EOWNERDEAD))
                        child_check_r(mpx_sem_release(m, a->name), 0);
                break;
        case OP_EVENT_WAIT:
                r = mpx_event_wait(m, a->name, a->timeout_ms);
                break;
        case OP_BARRIER_WAIT:
                r = mpx_barrier_wait(m, a->name, a->timeout_ms);
                break;
        }
        if (a->expect == ANY_INDEX)
                child_check(r >= 0 && r < 256);
        else
                child_check_r(r, a->expect);
        if (a->report_fd >= 0)
                child_check(harness_put_byte(a->report_fd, (uint8_t) (r >= 0 ? r : 255)));
        if (a->hold_fd >= 0) {
                uint8_t b;

                while (harness_get_byte(a->hold_fd, &b) > 0)
                        ;
        }
        mpx_disconnect(m);
        return 0;
}

/* Fill in a child's arguments; set more fields, then harness_fork(op_child_run, a). */
static void init_op(struct harness_fixture *f, struct op_child *a, enum child_op op, const char *name,
                    int64_t timeout_ms, int expect) {
        *a = (struct op_child) {
                .socket = f->d.socket,
                .op = op,
                .name = name,
                .timeout_ms = timeout_ms,
                .expect = expect,
                .report_fd = -1,
                .hold_fd = -1,
        };
}

/* Start a child doing one operation with nothing more to it. */
static pid_t spawn_op(struct harness_fixture *f, struct op_child *a, enum child_op op, const char *name,
                      int64_t timeout_ms, int expect) {
        init_op(f, a, op, name, timeout_ms, expect);
        return harness_fork(op_child_run, a);
}

/* In the test: a child exited 0. */
static void assert_child_ok(pid_t pid) {
        int status = harness_wait(pid);

        if (status != 0)
                fail_msg("child %ld exited with status %d", (long) pid, status);
}

/* ---- 1. Semaphore(3) over ten processes ---- */

/* What the processes of the semaphore test share, in a MAP_SHARED mapping. */
struct shared {
        atomic_int inside;              /* processes between acquire and release */
        atomic_int max_inside;          /* the most seen at once */
        atomic_int entered;             /* processes that got in */
};

struct task_child {
        const char *socket;
        struct shared *sh;
        uint8_t index;
        int report_fd;                  /* write: index once inside */
        int go_fd;                      /* read: one byte (or end of file) to leave */
};

static int task_child_run(void *arg) {
        const struct task_child *t = arg;
        mpx *m = harness_child_connect(t->socket);
        int now, max;
        uint8_t b;

        child_check(m);
        child_check_r(mpx_sem_acquire(m, "tasks", -1), 0);
        now = atomic_fetch_add(&t->sh->inside, 1) + 1;
        atomic_fetch_add(&t->sh->entered, 1);
        max = atomic_load(&t->sh->max_inside);
        while (now > max && !atomic_compare_exchange_weak(&t->sh->max_inside, &max, now))
                ;
        child_check(harness_put_byte(t->report_fd, t->index));
        child_check(harness_get_byte(t->go_fd, &b) >= 0);
        /* Leave before giving the unit back, so that inside never counts a process that is out. */
        atomic_fetch_sub(&t->sh->inside, 1);
        child_check_r(mpx_sem_release(m, "tasks"), 0);
        mpx_disconnect(m);
        return 0;
}

static void test_semaphore_ten_tasks(void **state) {
        struct harness_fixture *f = *state;
        struct shared *sh;
        struct task_child t[TASKS];
        pid_t pids[TASKS];
        int go[TASKS][2], report[2];
        bool inside[TASKS] = { false };
        uint8_t next_expected = SLOTS;

        sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(sh != MAP_FAILED);
        atomic_init(&sh->inside, 0);
        atomic_init(&sh->max_inside, 0);
        atomic_init(&sh->entered, 0);
        make_pipe(report, false);
        assert_int_equal(mpx_sem_declare(f->m, "tasks", SLOTS, 0, 0), 1);

        /*
         * Start the processes one at a time, so that their order of arrival
         * is known: the first three get in at once, each later one is seen
         * parked (acquirers) before the next starts.
         */
        for (uint8_t i = 0; i < TASKS; i++) {
                make_pipe(go[i], false);
                t[i] = (struct task_child) {
                        .socket = f->d.socket,
                        .sh = sh,
                        .index = i,
                        .report_fd = report[1],
                        .go_fd = go[i][0],
                };
                pids[i] = harness_fork(task_child_run, &t[i]);
                if (i < SLOTS) {
                        assert_int_equal(read_report(report[0]), i);
                        inside[i] = true;
                } else
                        harness_wait_field(f->m, "tasks", "acquirers", i - SLOTS + 1);
        }
        /* Saturated: three inside, seven parked, no unit free. */
        assert_int_equal(atomic_load(&sh->inside), SLOTS);
        assert_int_equal(mpx_sem_value(f->m, "tasks"), 0);
        assert_int_equal(harness_field(f->m, "tasks", "holders"), SLOTS);
        assert_int_equal(harness_field(f->m, "tasks", "acquirers"), TASKS - SLOTS);

        /*
         * Let one out at a time, oldest holder first: each release lets
         * exactly the next parked process in, in arrival order.
         */
        for (uint8_t out = 0; out < TASKS; out++) {
                assert_true(inside[out]);
                assert_true(harness_put_byte(go[out][1], 1));
                inside[out] = false;
                assert_child_ok(pids[out]);
                if (next_expected < TASKS) {
                        uint8_t in = read_report(report[0]);

                        if (in != next_expected)
                                fail_msg("process %u got in before process %u", in, next_expected);
                        inside[in] = true;
                        next_expected++;
                }
                assert_true(atomic_load(&sh->inside) <= SLOTS);
        }
        assert_int_equal(atomic_load(&sh->entered), TASKS);
        assert_int_equal(atomic_load(&sh->inside), 0);
        assert_int_equal(atomic_load(&sh->max_inside), SLOTS);
        assert_int_equal(mpx_sem_value(f->m, "tasks"), SLOTS);
        assert_int_equal(harness_field(f->m, "tasks", "acquisitions"), TASKS);
        assert_int_equal(harness_field(f->m, "tasks", "releases"), TASKS);
        assert_int_equal(harness_field(f->m, "tasks", "holders"), 0);

        for (int i = 0; i < TASKS; i++)
                close_pipe(go[i]);
        close_pipe(report);
        munmap(sh, sizeof(*sh));
}

/* ---- 2. a lock, from the library ---- */

static void test_lock_basics(void **state) {
        struct harness_fixture *f = *state;
        struct op_child a;
        pid_t pid;

        assert_int_equal(mpx_sem_declare(f->m, "lock", 1, 1, MPX_SEM_BOUNDED), 1);
        assert_int_equal(mpx_sem_declare(f->m, "lock", 1, 1, MPX_SEM_BOUNDED), 0);
        assert_int_equal(mpx_sem_declare(f->m, "lock", 1, 2, MPX_SEM_BOUNDED), -EEXIST);
        assert_int_equal(mpx_sem_declare(f->m, "lock", 1, 1, 1u << 5), -EINVAL);
        assert_int_equal(mpx_sem_declare(f->m, "bad", 2, 1, MPX_SEM_BOUNDED), -EINVAL);
        assert_int_equal(mpx_sem_release(f->m, "lock"), -ERANGE);
        assert_int_equal(mpx_sem_acquire(f->m, "lock", 0), 0);
        assert_int_equal(mpx_sem_acquire(f->m, "lock", 0), -EAGAIN);
        assert_int_equal(mpx_sem_acquire(f->m, "lock", 20), -ETIMEDOUT);
        assert_int_equal(mpx_sem_value(f->m, "lock"), 0);

        /* Another process waits for the lock and gets it when it is released. */
        pid = spawn_op(f, &a, OP_ACQUIRE, "lock", -1, 0);
        harness_wait_field(f->m, "lock", "acquirers", 1);
        assert_int_equal(mpx_sem_release(f->m, "lock"), 0);
        assert_child_ok(pid);
        /* It exited holding the lock: SEM_UNDO gave it back. */
        harness_wait_stat(f->m, "clients", 1);
        assert_int_equal(mpx_sem_value(f->m, "lock"), 1);
        assert_int_equal(harness_field(f->m, "lock", "undone"), 1);

        assert_int_equal(mpx_sem_acquire(f->m, "nothing", 0), -ENOENT);
        assert_int_equal(mpx_event_declare(f->m, "lock"), -EPROTOTYPE);
        assert_int_equal(mpx_sem_value(f->m, "bad name!"), -EINVAL);
}

/* ---- 3. SEM_UNDO: a holder killed with SIGKILL ---- */

/* Start a child that takes units of a semaphore, reports, and keeps its connection until killed. */
static pid_t spawn_holder(struct harness_fixture *f, struct op_child *a, const char *name, unsigned units,
                          int report_fd, int hold_fd) {
        init_op(f, a, OP_ACQUIRE, name, -1, 0);
        a->count = units;
        a->report_fd = report_fd;
        a->hold_fd = hold_fd;
        return harness_fork(op_child_run, a);
}

static void test_killed_holder_gives_back(void **state) {
        struct harness_fixture *f = *state;
        struct op_child holder, waiter;
        int report[2], hold[2];
        pid_t hp, wp;

        make_pipe(report, false);
        make_pipe(hold, false);
        assert_int_equal(mpx_sem_declare(f->m, "s", 2, 0, 0), 1);

        /* The holder takes both units, reports, and keeps its connection open. */
        hp = spawn_holder(f, &holder, "s", 2, report[1], hold[0]);
        assert_int_equal(read_report(report[0]), 0);
        assert_int_equal(mpx_sem_value(f->m, "s"), 0);
        assert_int_equal(harness_field(f->m, "s", "held"), 2);
        assert_int_equal(harness_field(f->m, "s", "holders"), 1);

        wp = spawn_op(f, &waiter, OP_ACQUIRE, "s", -1, -EOWNERDEAD);
        harness_wait_field(f->m, "s", "acquirers", 1);

        /* SIGKILL: no release, only the connection closing; the waiter is told a holder died. */
        harness_kill(hp);
        assert_child_ok(wp);
        harness_wait_stat(f->m, "clients", 1);
        /* Two units came back; the waiter took one and, exiting, gave it back too. */
        assert_int_equal(mpx_sem_value(f->m, "s"), 2);
        assert_int_equal(harness_field(f->m, "s", "undone"), 3);
        assert_int_equal(harness_field(f->m, "s", "holders"), 0);

        /* Without SEM_UNDO the units of a killed holder stay taken until someone releases them. */
        assert_int_equal(mpx_sem_declare(f->m, "n", 2, 0, MPX_SEM_NO_UNDO), 1);
        hp = spawn_holder(f, &holder, "n", 2, report[1], hold[0]);
        assert_int_equal(read_report(report[0]), 0);
        wp = spawn_op(f, &waiter, OP_ACQUIRE, "n", -1, 0);
        harness_wait_field(f->m, "n", "acquirers", 1);
        harness_kill(hp);
        harness_wait_stat(f->m, "clients", 2);
        assert_int_equal(mpx_sem_value(f->m, "n"), 0);
        assert_int_equal(harness_field(f->m, "n", "undone"), 0);
        assert_int_equal(harness_field(f->m, "n", "acquirers"), 1);
        assert_int_equal(mpx_sem_release(f->m, "n"), 0);
        assert_child_ok(wp);
        close_pipe(report);
        close_pipe(hold);
}

/*
 * A lock whose holder was killed: the next acquirer owns it and is told so
 * (-EOWNERDEAD) exactly once, whether it was waiting or came later; the one
 * after it gets a plain 0.
 */
static void test_robust_lock(void **state) {
        struct harness_fixture *f = *state;
        struct op_child holder, next[3];
        int report[2], hold[2];
        pid_t hp, np[3];

        make_pipe(report, false);
        make_pipe(hold, false);
        assert_int_equal(mpx_sem_declare(f->m, "lock", 1, 1, MPX_SEM_BOUNDED), 1);
        assert_int_equal(harness_field(f->m, "lock", "owner_died"), 0);

        /* Two rounds: a waiter parked when the holder dies, then an acquirer arriving later. */
        for (int round = 0; round < 2; round++) {
                hp = spawn_holder(f, &holder, "lock", 1, report[1], hold[0]);
                assert_int_equal(read_report(report[0]), 0);
                if (round == 0) {
                        for (int i = 0; i < 2; i++) {
                                init_op(f, &next[i], OP_ACQUIRE, "lock", -1, i == 0 ? -EOWNERDEAD : 0);
                                next[i].release = true;
                                np[i] = harness_fork(op_child_run, &next[i]);
                                harness_wait_field(f->m, "lock", "acquirers", i + 1);
                        }
                        harness_kill(hp);
                        assert_child_ok(np[0]);
                        assert_child_ok(np[1]);
                } else {
                        harness_kill(hp);
                        harness_wait_field(f->m, "lock", "owner_dead", 1);
                        assert_int_equal(mpx_sem_acquire(f->m, "lock", 0), -EOWNERDEAD);
                        /* The units are held: nobody else gets the lock. */
                        assert_int_equal(mpx_sem_value(f->m, "lock"), 0);
                        np[2] = spawn_op(f, &next[2], OP_ACQUIRE, "lock", 0, -EAGAIN);
                        assert_child_ok(np[2]);
                        assert_int_equal(mpx_sem_release(f->m, "lock"), 0);
                        assert_int_equal(mpx_sem_acquire(f->m, "lock", 0), 0);
                        assert_int_equal(mpx_sem_release(f->m, "lock"), 0);
                }
        }
        assert_int_equal(harness_field(f->m, "lock", "owner_died"), 2);
        assert_int_equal(harness_field(f->m, "lock", "owner_dead"), 0);
        assert_int_equal(mpx_sem_value(f->m, "lock"), 1);
        assert_int_equal(harness_field(f->m, "lock", "holders"), 0);
        close_pipe(report);
        close_pipe(hold);
}

/* ---- 4. events ---- */

static void test_event_wakes_all(void **state) {
        struct harness_fixture *f = *state;
        struct op_child w[4], z;
        pid_t pids[4], zp;

        assert_int_equal(mpx_event_declare(f->m, "go"), 1);
        assert_int_equal(mpx_event_declare(f->m, "go"), 0);
        assert_int_equal(mpx_event_is_set(f->m, "go"), 0);
        assert_int_equal(mpx_event_wait(f->m, "go", 0), -EAGAIN);
        assert_int_equal(mpx_event_wait(f->m, "go", 20), -ETIMEDOUT);

        zp = spawn_op(f, &z, OP_EVENT_WAIT, "go", 0, -EAGAIN);
        assert_child_ok(zp);
        for (int i = 0; i < 4; i++)
                pids[i] = spawn_op(f, &w[i], OP_EVENT_WAIT, "go", i == 3 ? 60000 : -1, 0);
        harness_wait_field(f->m, "go", "waiters", 4);
        assert_int_equal(mpx_event_set(f->m, "go"), 0);
        for (int i = 0; i < 4; i++)
                assert_child_ok(pids[i]);
        assert_int_equal(harness_field(f->m, "go", "woken"), 4);

        /* While set, waits return at once, in other processes too. */
        assert_int_equal(mpx_event_is_set(f->m, "go"), 1);
        zp = spawn_op(f, &z, OP_EVENT_WAIT, "go", 0, 0);
        assert_child_ok(zp);
        assert_int_equal(mpx_event_clear(f->m, "go"), 0);
        assert_int_equal(mpx_event_is_set(f->m, "go"), 0);
        zp = spawn_op(f, &z, OP_EVENT_WAIT, "go", 30, -ETIMEDOUT);
        assert_child_ok(zp);
        assert_int_equal(harness_field(f->m, "go", "timeouts"), 2);
}

/* ---- 5. barriers ---- */

static void test_barrier_releases_together(void **state) {
        struct harness_fixture *f = *state;
        struct op_child p[3];
        pid_t pids[3];
        int report[2];

        make_pipe(report, true);
        assert_int_equal(mpx_barrier_declare(f->m, "b", 4), 1);
        assert_int_equal(mpx_barrier_declare(f->m, "b", 4), 0);
        assert_int_equal(mpx_barrier_declare(f->m, "b", 5), -EEXIST);
        assert_int_equal(mpx_barrier_declare(f->m, "b", 0), -EINVAL);

        for (int round = 1; round <= 3; round++) {
                bool seen[4] = { false };
                int mine;

                /* Three processes arrive and wait; none of them is let through early. */
                for (int i = 0; i < 3; i++) {
                        init_op(f, &p[i], OP_BARRIER_WAIT, "b", -1, ANY_INDEX);
                        p[i].report_fd = report[1];
                        pids[i] = harness_fork(op_child_run, &p[i]);
                }
                harness_wait_field(f->m, "b", "waiting", 3);
                assert_pipe_empty(report[0]);
                /* This process is the fourth: as the last party even timeout 0 completes the round. */
                assert_int_equal(mpx_barrier_wait(f->m, "b", round == 2 ? -1 : 0), 3);
                /* It released them all: every index once. */
                for (int i = 0; i < 3; i++)
                        assert_child_ok(pids[i]);
                mine = 3;
                seen[mine] = true;
                for (int i = 0; i < 3; i++) {
                        uint8_t index = read_report(report[0]);

                        assert_true(index < 4);
                        if (seen[index])
                                fail_msg("index %u given twice in round %d", index, round);
                        seen[index] = true;
                }
                assert_pipe_empty(report[0]);
                assert_int_equal(harness_field(f->m, "b", "rounds"), round);
                assert_int_equal(harness_field(f->m, "b", "waiting"), 0);
        }
        /* Timeout 0 and not the last party: EAGAIN, and the barrier is whole. */
        assert_int_equal(mpx_barrier_wait(f->m, "b", 0), -EAGAIN);
        assert_int_equal(harness_field(f->m, "b", "broken"), 0);
        close_pipe(report);
}

static void test_barrier_timeout_breaks(void **state) {
        struct harness_fixture *f = *state;
        struct op_child a, b, c;
        pid_t pa, pb, pc;

        assert_int_equal(mpx_barrier_declare(f->m, "b", 3), 1);
        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "b", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "b", "waiting", 1);
        /* The second party gives up after 50 ms: it gets ETIMEDOUT, the first ENOTRECOVERABLE. */
        pb = spawn_op(f, &b, OP_BARRIER_WAIT, "b", 50, -ETIMEDOUT);
        assert_child_ok(pb);
        assert_child_ok(pa);
        assert_int_equal(harness_field(f->m, "b", "broken"), 1);
        assert_int_equal(harness_field(f->m, "b", "timeouts"), 1);
        /* Broken until reset, for waits of any timeout. */
        assert_int_equal(mpx_barrier_wait(f->m, "b", -1), -ENOTRECOVERABLE);
        assert_int_equal(mpx_barrier_wait(f->m, "b", 0), -ENOTRECOVERABLE);

        /* After a reset, a full round goes through again. */
        assert_int_equal(mpx_barrier_reset(f->m, "b"), 0);
        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "b", -1, ANY_INDEX);
        pb = spawn_op(f, &b, OP_BARRIER_WAIT, "b", 60000, ANY_INDEX);
        harness_wait_field(f->m, "b", "waiting", 2);
        assert_int_equal(mpx_barrier_wait(f->m, "b", -1), 2);
        assert_child_ok(pa);
        assert_child_ok(pb);

        /* Abort breaks it for the waiting parties and for later ones; reset mends it. */
        pc = spawn_op(f, &c, OP_BARRIER_WAIT, "b", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "b", "waiting", 1);
        assert_int_equal(mpx_barrier_abort(f->m, "b"), 0);
        assert_child_ok(pc);
        assert_int_equal(mpx_barrier_wait(f->m, "b", -1), -ENOTRECOVERABLE);
        /* Reset: the waiting parties get ENOTRECOVERABLE, and the barrier is whole again. */
        assert_int_equal(mpx_barrier_reset(f->m, "b"), 0);
        pc = spawn_op(f, &c, OP_BARRIER_WAIT, "b", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "b", "waiting", 1);
        assert_int_equal(mpx_barrier_reset(f->m, "b"), 0);
        assert_child_ok(pc);
        assert_int_equal(harness_field(f->m, "b", "broken"), 0);
        assert_int_equal(harness_field(f->m, "b", "rounds"), 1);
}

static void test_barrier_killed_party_breaks(void **state) {
        struct harness_fixture *f = *state;
        struct op_child a, b;
        pid_t pa, pb;

        assert_int_equal(mpx_barrier_declare(f->m, "b", 3), 1);
        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "b", -1, -ENOTRECOVERABLE);
        pb = spawn_op(f, &b, OP_BARRIER_WAIT, "b", -1, 0);
        harness_wait_field(f->m, "b", "waiting", 2);
        harness_kill(pb);
        assert_child_ok(pa);
        assert_int_equal(harness_field(f->m, "b", "broken"), 1);
        assert_int_equal(harness_field(f->m, "b", "waiting"), 0);
        assert_int_equal(mpx_barrier_wait(f->m, "b", 0), -ENOTRECOVERABLE);
}

/*
 * A barrier with an action: the last party is answered at once and holds
 * the round while the others stay parked, until its PASS; parties arriving
 * meanwhile wait for the next round. ABORT from the holder, or the holder's
 * end, breaks the barrier instead.
 */
static void test_barrier_action(void **state) {
        struct harness_fixture *f = *state;
        struct op_child a, b, c, d, e, g;
        int report[2], hold[2];
        mpx *other;
        pid_t pa, pb, pc, pd, pe, pg;

        other = harness_child_connect(f->d.socket);
        assert_non_null(other);
        assert_int_equal(mpx_barrier_declare_flags(f->m, "act", 3, MPX_BARRIER_ACTION), 1);
        assert_int_equal(mpx_barrier_declare_flags(f->m, "act", 3, 0), -EEXIST);
        assert_int_equal(mpx_barrier_declare(f->m, "act", 3), 0);
        assert_int_equal(harness_field(f->m, "act", "action"), 1);

        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "act", -1, ANY_INDEX);
        pb = spawn_op(f, &b, OP_BARRIER_WAIT, "act", -1, ANY_INDEX);
        harness_wait_field(f->m, "act", "waiting", 2);
        /* The last party runs the action: it is answered, the others stay. */
        assert_int_equal(mpx_barrier_wait(f->m, "act", -1), 2);
        assert_int_equal(harness_field(f->m, "act", "held"), 1);
        assert_int_equal(harness_field(f->m, "act", "waiting"), 2);
        /* An arrival now is the next round's. */
        pc = spawn_op(f, &c, OP_BARRIER_WAIT, "act", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "act", "waiters", 3);
        assert_int_equal(mpx_barrier_wait(other, "act", 0), -EAGAIN);
        /* Only the holder passes. */
        assert_int_equal(mpx_barrier_pass(other, "act"), -EINVAL);
        assert_int_equal(mpx_barrier_pass(f->m, "act"), 0);
        assert_child_ok(pa);
        assert_child_ok(pb);
        assert_int_equal(harness_field(f->m, "act", "rounds"), 1);
        assert_int_equal(harness_field(f->m, "act", "held"), 0);
        assert_int_equal(harness_field(f->m, "act", "waiting"), 1);
        assert_int_equal(mpx_barrier_pass(f->m, "act"), -EINVAL);

        /* The action failed: the holder aborts, the round's parties get ENOTRECOVERABLE. */
        pd = spawn_op(f, &d, OP_BARRIER_WAIT, "act", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "act", "waiting", 2);
        assert_int_equal(mpx_barrier_wait(f->m, "act", -1), 2);
        assert_int_equal(mpx_barrier_abort(f->m, "act"), 0);
        assert_child_ok(pc);
        assert_child_ok(pd);
        assert_int_equal(mpx_barrier_pass(f->m, "act"), -ENOTRECOVERABLE);

        /* The holder's process is killed before its PASS: the barrier breaks. */
        assert_int_equal(mpx_barrier_reset(f->m, "act"), 0);
        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "act", -1, -ENOTRECOVERABLE);
        pe = spawn_op(f, &e, OP_BARRIER_WAIT, "act", -1, -ENOTRECOVERABLE);
        harness_wait_field(f->m, "act", "waiting", 2);
        make_pipe(report, false);
        make_pipe(hold, false);
        init_op(f, &g, OP_BARRIER_WAIT, "act", -1, 2);
        g.report_fd = report[1];
        g.hold_fd = hold[0];            /* never written: it waits until killed */
        pg = harness_fork(op_child_run, &g);
        assert_int_equal(read_report(report[0]), 2);
        harness_kill(pg);
        assert_child_ok(pa);
        assert_child_ok(pe);
        assert_int_equal(harness_field(f->m, "act", "broken"), 1);
        close_pipe(report);
        close_pipe(hold);
        mpx_disconnect(other);
}

/* A barrier keeps the default timeout of its waits, as Barrier(timeout=) does. */
static void test_barrier_stored_timeout(void **state) {
        struct harness_fixture *f = *state;
        struct op_child a;
        pid_t pa;

        assert_int_equal(mpx_barrier_declare_timeout(f->m, "tb", 2, 0, 50), 1);
        assert_int_equal(harness_field(f->m, "tb", "timeout_ms"), 50);
        assert_int_equal(mpx_barrier_declare_timeout(f->m, "tb", 2, 0, 60), -EEXIST);
        assert_int_equal(mpx_barrier_declare_timeout(f->m, "tb", 2, 0, -1), -EEXIST);
        /* Without a timeout, a declare matches the barrier's own. */
        assert_int_equal(mpx_barrier_declare_flags(f->m, "tb", 2, 0), 0);
        assert_int_equal(mpx_barrier_declare(f->m, "tb", 2), 0);
        /* Alone at a barrier of two, a wait of the barrier's timeout gives up after it. */
        assert_int_equal(mpx_barrier_wait(f->m, "tb", MPX_TIMEOUT_DEFAULT), -ETIMEDOUT);
        assert_int_equal(harness_field(f->m, "tb", "broken"), 1);

        /* No stored timeout: the default wait waits as long as it takes. */
        assert_int_equal(mpx_barrier_declare_timeout(f->m, "nt", 2, 0, -1), 1);
        assert_int_equal(harness_field(f->m, "nt", "timeout_ms"), -1);
        pa = spawn_op(f, &a, OP_BARRIER_WAIT, "nt", MPX_TIMEOUT_DEFAULT, 0);
        harness_wait_field(f->m, "nt", "waiting", 1);
        assert_int_equal(mpx_barrier_wait(f->m, "nt", MPX_TIMEOUT_DEFAULT), 1);
        assert_child_ok(pa);
}

/* ---- 6. delete and shutdown while blocked ---- */

static void declare_all_three(mpx *m) {
        assert_int_equal(mpx_sem_declare(m, "s", 0, 0, 0), 1);
        assert_int_equal(mpx_event_declare(m, "e"), 1);
        assert_int_equal(mpx_barrier_declare(m, "b", 2), 1);
}

static void test_delete_while_blocked(void **state) {
        struct harness_fixture *f = *state;
        struct op_child c[3];
        pid_t pids[3];

        declare_all_three(f->m);
        pids[0] = spawn_op(f, &c[0], OP_ACQUIRE, "s", -1, -EIDRM);
        pids[1] = spawn_op(f, &c[1], OP_EVENT_WAIT, "e", 60000, -EIDRM);
        pids[2] = spawn_op(f, &c[2], OP_BARRIER_WAIT, "b", -1, -EIDRM);
        harness_wait_field(f->m, "s", "acquirers", 1);
        harness_wait_field(f->m, "e", "waiters", 1);
        harness_wait_field(f->m, "b", "waiting", 1);
        assert_int_equal(mpx_delete(f->m, "s"), 0);
        assert_child_ok(pids[0]);
        assert_int_equal(mpx_delete(f->m, "e"), 0);
        assert_child_ok(pids[1]);
        assert_int_equal(mpx_delete(f->m, "b"), 0);
        assert_child_ok(pids[2]);
        assert_int_equal(mpx_sem_value(f->m, "s"), -ENOENT);
        assert_int_equal(mpx_event_is_set(f->m, "e"), -ENOENT);
        assert_int_equal(mpx_barrier_wait(f->m, "b", 0), -ENOENT);
}

static void test_shutdown_while_blocked(void **state) {
        struct harness_fixture *f = *state;
        struct op_child c[3];
        pid_t pids[3];
        int status;

        declare_all_three(f->m);
        pids[0] = spawn_op(f, &c[0], OP_ACQUIRE, "s", -1, -ESHUTDOWN);
        pids[1] = spawn_op(f, &c[1], OP_EVENT_WAIT, "e", -1, -ESHUTDOWN);
        pids[2] = spawn_op(f, &c[2], OP_BARRIER_WAIT, "b", -1, -ESHUTDOWN);
        harness_wait_stat(f->m, "waiters", 3);
        f->running = false;
        status = harness_stop(&f->d);
        for (int i = 0; i < 3; i++)
                assert_child_ok(pids[i]);
        assert_int_equal(status, 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_semaphore_ten_tasks),
                harness_test(test_lock_basics),
                harness_test(test_killed_holder_gives_back),
                harness_test(test_robust_lock),
                harness_test(test_event_wakes_all),
                harness_test(test_barrier_releases_together),
                harness_test(test_barrier_timeout_breaks),
                harness_test(test_barrier_killed_party_breaks),
                harness_test(test_barrier_action),
                harness_test(test_barrier_stored_timeout),
                harness_test(test_delete_while_blocked),
                harness_test(test_shutdown_while_blocked),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
