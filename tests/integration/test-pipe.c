/* SPDX-License-Identifier: MIT */
/*
 * Pipe rendezvous against a real mpxd, with real processes: forked children
 * that each connect on their own and meet at a pipe name through
 * mpx_pipe_open(), then talk over the descriptor they received. Covered:
 * both modes (a socketpair for duplex, a pipe for read/write, whichever
 * party comes first), the rendezvous timeout (< 0, 0, > 0), a third party
 * waiting for the next pairing, messages of 0 bytes to several MiB both
 * ways through mpx_pipe_send() and mpx_pipe_recv(), a party killed while
 * waiting leaving the next pairing intact, the descriptor used with plain
 * read, write and poll (and non-blocking), a message cut short, a closed
 * reader giving -EPIPE rather than SIGPIPE, delete and shutdown while
 * waiting, wrong types and modes, and a channel that outlives the daemon
 * (the daemon is not in the data path).
 *
 * Each test starts its own daemon and stops it in teardown, where a crash or
 * (with MPX_TEST_VALGRIND=1) a memory error of the daemon fails the test.
 * Processes wait for each other through pipes, blocking calls and the
 * daemon's own counters (harness_wait_field), never through sleeps.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "monotonic.h"

#define WATCHDOG_S              120
#define WATCHDOG_VALGRIND_S     900

/* How long a child waits at most for data that must come (poll), in ms. */
#define DATA_WAIT_MS            30000

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-pipe", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* ---- helpers of the forked children: no cmocka in there, just an exit status ---- */

/* Write a report of two bytes (who, and whom it met) in one write(), which pipes never interleave. */
static bool put_report(int fd, uint8_t self, uint8_t partner) {
        uint8_t b[2] = { self, partner };
        ssize_t n;

        do
                n = write(fd, b, 2);
        while (n < 0 && errno == EINTR);
        return n == 2;
}

/* In the test: read one report from a pipe: who reported in *ret_self, and whom it met (returned). */
static uint8_t read_report(int fd, uint8_t *ret_self) {
        uint8_t b[2] = { 0, 0 };
        ssize_t n;

        do
                n = read(fd, b, 2);
        while (n < 0 && errno == EINTR);
        if (n != 2)
                fail_msg("reading a report: %s", n == 0 ? "end of file" : n < 0 ? strerror(errno) : "short");
        if (ret_self)
                *ret_self = b[0];
        return b[1];
}

static void make_pipe(int fds[2]) {
        assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
}

/* In the test: a child exited 0. */
static void assert_child_ok(pid_t pid) {
        int status = harness_wait(pid);

        if (status != 0)
                fail_msg("child %ld exited with status %d", (long) pid, status);
}

/* The byte at offset i of a test message of size bytes. */
static uint8_t pattern(size_t size, size_t i) {
        return (uint8_t) (i * 31 + size * 7 + (i >> 12));
}

static uint8_t *pattern_new(size_t size) {
        uint8_t *p = malloc(size ? size : 1);

        if (p)
                for (size_t i = 0; i < size; i++)
                        p[i] = pattern(size, i);
        return p;
}

/* A received message is size bytes of the pattern. */
static bool pattern_ok(const mpx_buf *b, size_t size) {
        const uint8_t *p = b->data;

        if (b->size != size || !b->data)
                return false;
        for (size_t i = 0; i < size; i++)
                if (p[i] != pattern(size, i))
                        return false;
        return true;
}

/* Wait until fd is readable: true, or false after DATA_WAIT_MS. */
static bool wait_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n;

        do
                n = poll(&p, 1, DATA_WAIT_MS);
        while (n < 0 && errno == EINTR);
        return n == 1;
}

/* What a party is and does. */
struct party {
        const char *socket;
        const char *name;
        int mode;
        int64_t timeout_ms;
        int expect;                     /* what mpx_pipe_open() must return */
        uint8_t self;                   /* a letter naming this party */
        int report_fd;                  /* -1, or where to report (self, the partner's letter or 0) */
        int go_fd;                      /* -1, or read it to end of file after opening, before talking */
        int close_fds[4];               /* the parent's pipe ends this child must close first, or -1 */
};

/* Connect and open; the descriptor, or -1 after a message (or when the open is to fail, as expected). */
static int party_open(const struct party *p, mpx **ret_m, int *ret_r) {
        mpx *m = NULL;
        int fd = -1, r;

        for (int i = 0; i < 4; i++)
                if (p->close_fds[i] >= 0)
                        close(p->close_fds[i]);
        r = mpx_connect(p->socket, &m);
        if (r < 0) {
                fprintf(stderr, "child %ld: mpx_connect(%s): %s\n", (long) getpid(), p->socket, mpx_strerror(r));
                *ret_r = r;
                return -1;
        }
        r = mpx_pipe_open(m, p->name, p->mode, p->timeout_ms, &fd);
        *ret_m = m;
        *ret_r = r;
        return r < 0 ? -1 : fd;
}

static void party_init(struct party *p, const struct harness_fixture *f, const char *name, int mode,
                       uint8_t self) {
        *p = (struct party) {
                .socket = f->d.socket,
                .name = name,
                .mode = mode,
                .timeout_ms = -1,
                .self = self,
                .report_fd = -1,
                .go_fd = -1,
                .close_fds = { -1, -1, -1, -1 },
        };
}

/* Wait for the parent's go: end of file on go_fd. */
static void party_wait_go(const struct party *p) {
        uint8_t b;

        if (p->go_fd >= 0)
                while (harness_get_byte(p->go_fd, &b) > 0)
                        ;
}

/*
 * A party that says who it is and learns who its partner is: a writer sends
 * its letter, a reader receives the partner's, a duplex party does both;
 * each reports (self, partner), a writer (self, 0). When the open is to
 * fail, it checks the error and reports (self, 255).
 */
static int hello_party(void *arg) {
        const struct party *p = arg;
        mpx_buf got = { 0 };
        mpx *m = NULL;
        int fd, r;

        fd = party_open(p, &m, &r);
        child_check_r(r, p->expect);
        if (r < 0) {
                if (p->report_fd >= 0)
                        child_check(put_report(p->report_fd, p->self, 255));
                mpx_disconnect(m);
                return 0;
        }
        /* The daemon is done with us: the connection is not needed for the channel. */
        m = mpx_disconnect(m);
        party_wait_go(p);
        if (p->mode == MPX_PIPE_READ) {
                child_check_r(mpx_pipe_recv(fd, &got), 0);
        } else if (p->mode == MPX_PIPE_WRITE) {
                child_check_r(mpx_pipe_send(fd, &p->self, 1), 0);
        } else {
                child_check_r(mpx_pipe_send(fd, &p->self, 1), 0);
                child_check_r(mpx_pipe_recv(fd, &got), 0);
        }
        if (p->mode != MPX_PIPE_WRITE) {
                child_check(got.size == 1);
                if (p->report_fd >= 0)
                        child_check(put_report(p->report_fd, p->self, *(uint8_t *) got.data));
                mpx_buf_clear(&got);
        } else if (p->report_fd >= 0)
                child_check(put_report(p->report_fd, p->self, 0));
        close(fd);
        return 0;
}

/* In the test: create the pipe object without pairing, so that its fields can be waited on. */
static void pipe_create(mpx *m, const char *name) {
        int fd = -1;

        assert_int_equal(mpx_pipe_open(m, name, MPX_PIPE_READ, 1, &fd), -ETIMEDOUT);
        assert_int_equal(fd, -1);
}

/* ---- 1. duplex ---- */

struct talk_arg {
        const char *socket;
        const char *name;
        int mode;
        bool first;                     /* sends first (duplex), or is the writer */
};

/*
 * The seeds' exchange in both directions on a duplex channel: a request one
 * way, a tuple-like answer the other, then each checks the end it got.
 */
static int duplex_child(void *arg) {
        const struct talk_arg *a = arg;
        static const char request[] = "app1 requests login", answer[] = "Dave\0" "123";
        mpx_buf got = { 0 };
        struct stat st;
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, MPX_PIPE_DUPLEX, -1, &fd), 0);
        child_check(fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
        child_check(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        if (a->first) {
                child_check_r(mpx_pipe_send(fd, request, sizeof(request) - 1), 0);
                child_check_r(mpx_pipe_recv(fd, &got), 0);
                child_check(got.size == sizeof(answer) - 1 && memcmp(got.data, answer, got.size) == 0);
        } else {
                child_check_r(mpx_pipe_recv(fd, &got), 0);
                child_check(got.size == sizeof(request) - 1 && memcmp(got.data, request, got.size) == 0);
                child_check_r(mpx_pipe_send(fd, answer, sizeof(answer) - 1), 0);
        }
        mpx_buf_clear(&got);
        /* The other side closes: the next receive says so. */
        child_check_r(shutdown(fd, SHUT_WR), 0);
        child_check_r(mpx_pipe_recv(fd, &got), -EPIPE);
        close(fd);
        mpx_disconnect(m);
        return 0;
}

static void test_duplex(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg a = { f->d.socket, "p", MPX_PIPE_DUPLEX, true };
        struct talk_arg b = { f->d.socket, "p", MPX_PIPE_DUPLEX, false };
        pid_t pa, pb;

        pa = harness_fork(duplex_child, &a);
        pb = harness_fork(duplex_child, &b);
        assert_child_ok(pa);
        assert_child_ok(pb);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 1);
        assert_int_equal(harness_field(f->m, "p", "size"), 0);
}

/* ---- 2. read and write, in both arrival orders ---- */

#define STREAM_MESSAGES 2000

/* The writer sends STREAM_MESSAGES numbered messages and closes; the reader takes them in order, then EPIPE. */
static int stream_child(void *arg) {
        const struct talk_arg *a = arg;
        mpx_buf got = { 0 };
        struct stat st;
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, a->mode, -1, &fd), 0);
        child_check(fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode));
        if (a->mode == MPX_PIPE_WRITE) {
                child_check((fcntl(fd, F_GETFL) & O_ACCMODE) == O_WRONLY);
                for (uint32_t i = 0; i < STREAM_MESSAGES; i++) {
                        char text[32];
                        int n = snprintf(text, sizeof(text), "message %u", i);

                        child_check_r(mpx_pipe_send(fd, text, (size_t) n), 0);
                }
        } else {
                child_check((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDONLY);
                for (uint32_t i = 0; i < STREAM_MESSAGES; i++) {
                        char text[32];
                        int n = snprintf(text, sizeof(text), "message %u", i);

                        child_check_r(mpx_pipe_recv(fd, &got), 0);
                        child_check(got.size == (size_t) n && memcmp(got.data, text, got.size) == 0);
                        mpx_buf_clear(&got);
                }
                child_check_r(mpx_pipe_recv(fd, &got), -EPIPE);
        }
        close(fd);
        mpx_disconnect(m);
        return 0;
}

static void test_read_write(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg r = { f->d.socket, "p", MPX_PIPE_READ, false };
        struct talk_arg w = { f->d.socket, "p", MPX_PIPE_WRITE, true };
        pid_t pr, pw;

        pipe_create(f->m, "p");
        /* The reader first. */
        pr = harness_fork(stream_child, &r);
        harness_wait_field(f->m, "p", "readers", 1);
        pw = harness_fork(stream_child, &w);
        assert_child_ok(pr);
        assert_child_ok(pw);
        /* The writer first. */
        pw = harness_fork(stream_child, &w);
        harness_wait_field(f->m, "p", "writers", 1);
        pr = harness_fork(stream_child, &r);
        assert_child_ok(pw);
        assert_child_ok(pr);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 2);
}

/* ---- 3. the rendezvous timeout ---- */

static void test_rendezvous_timeout(void **state) {
        struct harness_fixture *f = *state;
        struct party p;
        int64_t t0, elapsed;
        pid_t pid;
        int fd = -1;

        /* 0: nobody waits. */
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_DUPLEX, 0, &fd), -EAGAIN);
        assert_int_equal(fd, -1);
        /* > 0: the time passes. */
        t0 = monotonic_ms();
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_WRITE, 300, &fd), -ETIMEDOUT);
        elapsed = monotonic_ms() - t0;
        assert_int_equal(fd, -1);
        assert_true(elapsed >= 290);
        assert_true(elapsed < 20000);
        assert_int_equal(harness_field(f->m, "p", "size"), 0);
        assert_int_equal(harness_field(f->m, "p", "timeouts"), 1);
        /* The writer that gave up is not paired with a reader that comes later. */
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_READ, 0, &fd), -EAGAIN);

        /* A party waiting with a timeout is paired before it runs out; 0 pairs with it at once. */
        party_init(&p, f, "p", MPX_PIPE_READ, 'r');
        p.timeout_ms = 60000;
        pid = harness_fork(hello_party, &p);
        harness_wait_field(f->m, "p", "readers", 1);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_WRITE, 0, &fd), 0);
        assert_int_equal(mpx_pipe_send(fd, "w", 1), 0);
        close(fd);
        assert_child_ok(pid);

        /* A child waiting forever (-1) is still there when a short timeout of another has passed. */
        party_init(&p, f, "p", MPX_PIPE_DUPLEX, 'd');
        pid = harness_fork(hello_party, &p);
        harness_wait_field(f->m, "p", "duplex", 1);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_READ, 50, &fd), -ETIMEDOUT);
        assert_int_equal(harness_field(f->m, "p", "duplex"), 1);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_DUPLEX, 0, &fd), 0);
        assert_int_equal(mpx_pipe_send(fd, "x", 1), 0);
        {
                mpx_buf got = { 0 };

                assert_int_equal(mpx_pipe_recv(fd, &got), 0);
                assert_int_equal(got.size, 1);
                assert_int_equal(*(char *) got.data, 'd');
                mpx_buf_clear(&got);
        }
        close(fd);
        assert_child_ok(pid);
}

/* ---- 4. a third party ---- */

static void test_third_party(void **state) {
        struct harness_fixture *f = *state;
        struct party p[4];
        int rep[2];
        pid_t pid[4];
        uint8_t partner[256] = { 0 };
        uint8_t self = 0, met;

        make_pipe(rep);
        pipe_create(f->m, "p");
        for (int i = 0; i < 4; i++) {
                party_init(&p[i], f, "p", MPX_PIPE_DUPLEX, (uint8_t) ('A' + i));
                p[i].report_fd = rep[1];
                p[i].close_fds[0] = rep[0];
        }
        /* A waits, B pairs with it. */
        pid[0] = harness_fork(hello_party, &p[0]);
        harness_wait_field(f->m, "p", "size", 1);
        pid[1] = harness_fork(hello_party, &p[1]);
        harness_wait_field(f->m, "p", "pairs", 1);
        /* C, the third, waits for the next pairing, which D makes. */
        pid[2] = harness_fork(hello_party, &p[2]);
        harness_wait_field(f->m, "p", "size", 1);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 1);
        pid[3] = harness_fork(hello_party, &p[3]);
        for (int i = 0; i < 4; i++)
                assert_child_ok(pid[i]);
        close(rep[1]);
        /* Each child reported whom it met: A and B, then C and D. */
        for (int i = 0; i < 4; i++) {
                met = read_report(rep[0], &self);
                assert_true(self >= 'A' && self <= 'D');
                assert_int_equal(partner[self], 0);
                partner[self] = met;
        }
        close(rep[0]);
        assert_int_equal(partner['A'], 'B');
        assert_int_equal(partner['B'], 'A');
        assert_int_equal(partner['C'], 'D');
        assert_int_equal(partner['D'], 'C');
        assert_int_equal(harness_field(f->m, "p", "pairs"), 2);
        assert_int_equal(harness_field(f->m, "p", "size"), 0);
}

/*
 * Who paired with whom, exactly: readers R0, R1, R2 wait in that order;
 * writers W0, W1, W2 arrive one by one, each sending its letter; reader i
 * must receive writer i's.
 */
static void test_arrival_order(void **state) {
        struct harness_fixture *f = *state;
        struct party r[3], w[3];
        int rep[3][2];
        pid_t pr[3], pw[3];

        pipe_create(f->m, "p");
        for (int i = 0; i < 3; i++) {
                make_pipe(rep[i]);
                party_init(&r[i], f, "p", MPX_PIPE_READ, (uint8_t) ('a' + i));
                r[i].report_fd = rep[i][1];
                r[i].close_fds[0] = rep[i][0];
                pr[i] = harness_fork(hello_party, &r[i]);
                harness_wait_field(f->m, "p", "readers", i + 1);
        }
        for (int i = 0; i < 3; i++) {
                party_init(&w[i], f, "p", MPX_PIPE_WRITE, (uint8_t) ('A' + i));
                pw[i] = harness_fork(hello_party, &w[i]);
                harness_wait_field(f->m, "p", "pairs", i + 1);
        }
        for (int i = 0; i < 3; i++) {
                assert_child_ok(pr[i]);
                assert_child_ok(pw[i]);
                close(rep[i][1]);
                assert_int_equal(read_report(rep[i][0], NULL), 'A' + i);
                close(rep[i][0]);
        }
}

/* ---- 5. messages of 0 bytes to several MiB ---- */

static const size_t sizes[] = {
        0, 1, 3, 4, 5, 4095, 4096, 4097, 65535, 65536, 65537, 1u << 20, (1u << 20) + 7, (8u << 20) + 3,
};
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

/*
 * The first party sends every size; the second receives each, checks it,
 * and (on a duplex channel) sends it back, which the first checks in turn.
 */
static int sizes_child(void *arg) {
        const struct talk_arg *a = arg;
        mpx_buf got = { 0 };
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, a->mode, -1, &fd), 0);
        mpx_disconnect(m);
        for (size_t i = 0; i < N_SIZES; i++) {
                if (a->first) {
                        uint8_t *msg = pattern_new(sizes[i]);

                        child_check(msg);
                        child_check_r(mpx_pipe_send(fd, msg, sizes[i]), 0);
                        free(msg);
                        if (a->mode == MPX_PIPE_DUPLEX) {
                                child_check_r(mpx_pipe_recv(fd, &got), 0);
                                child_check(pattern_ok(&got, sizes[i]));
                                mpx_buf_clear(&got);
                        }
                } else {
                        child_check_r(mpx_pipe_recv(fd, &got), 0);
                        child_check(pattern_ok(&got, sizes[i]));
                        if (a->mode == MPX_PIPE_DUPLEX)
                                child_check_r(mpx_pipe_send(fd, got.data, got.size), 0);
                        mpx_buf_clear(&got);
                }
        }
        if (!a->first)
                child_check_r(mpx_pipe_recv(fd, &got), -EPIPE);
        close(fd);
        return 0;
}

static void test_message_sizes(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg a[4] = {
                { f->d.socket, "simplex", MPX_PIPE_WRITE, true },
                { f->d.socket, "simplex", MPX_PIPE_READ, false },
                { f->d.socket, "duplex", MPX_PIPE_DUPLEX, true },
                { f->d.socket, "duplex", MPX_PIPE_DUPLEX, false },
        };
        pid_t pid[4];

        for (int i = 0; i < 4; i++)
                pid[i] = harness_fork(sizes_child, &a[i]);
        for (int i = 0; i < 4; i++)
                assert_child_ok(pid[i]);
        assert_int_equal(harness_field(f->m, "simplex", "pairs"), 1);
        assert_int_equal(harness_field(f->m, "duplex", "pairs"), 1);
}

/* ---- 6. a party killed while waiting ---- */

static void test_killed_while_waiting(void **state) {
        struct harness_fixture *f = *state;
        struct party r1, r2, w, d1, d2, d3;
        int rep[2], rep_d[2];
        pid_t p1, p2, pw, pd1, pd2, pd3;

        make_pipe(rep);
        make_pipe(rep_d);
        pipe_create(f->m, "p");
        party_init(&r1, f, "p", MPX_PIPE_READ, '1');
        party_init(&r2, f, "p", MPX_PIPE_READ, '2');
        r2.report_fd = rep[1];
        r2.close_fds[0] = rep[0];
        p1 = harness_fork(hello_party, &r1);
        harness_wait_field(f->m, "p", "readers", 1);
        p2 = harness_fork(hello_party, &r2);
        harness_wait_field(f->m, "p", "readers", 2);
        /* The first reader dies while it waits: the daemon drops it. */
        harness_kill(p1);
        harness_wait_field(f->m, "p", "readers", 1);
        /* The writer gets the second reader, which receives what it sent. */
        party_init(&w, f, "p", MPX_PIPE_WRITE, 'W');
        pw = harness_fork(hello_party, &w);
        assert_child_ok(pw);
        assert_child_ok(p2);
        close(rep[1]);
        assert_int_equal(read_report(rep[0], NULL), 'W');
        close(rep[0]);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 1);

        /* A duplex party killed while waiting: the next two duplex parties pair with each other. */
        party_init(&d1, f, "p", MPX_PIPE_DUPLEX, 'x');
        pd1 = harness_fork(hello_party, &d1);
        harness_wait_field(f->m, "p", "duplex", 1);
        harness_kill(pd1);
        harness_wait_field(f->m, "p", "duplex", 0);
        party_init(&d2, f, "p", MPX_PIPE_DUPLEX, 'y');
        party_init(&d3, f, "p", MPX_PIPE_DUPLEX, 'z');
        d2.report_fd = rep_d[1];
        d2.close_fds[0] = rep_d[0];
        pd2 = harness_fork(hello_party, &d2);
        harness_wait_field(f->m, "p", "duplex", 1);
        pd3 = harness_fork(hello_party, &d3);
        assert_child_ok(pd2);
        assert_child_ok(pd3);
        close(rep_d[1]);
        assert_int_equal(read_report(rep_d[0], NULL), 'z');
        close(rep_d[0]);
        assert_int_equal(harness_field(f->m, "p", "pairs"), 2);
        assert_int_equal(harness_field(f->m, "p", "size"), 0);
}

/* ---- 7. the descriptor with plain read, write and poll ---- */

/* Read exactly size bytes with plain read(), waiting with poll(). */
static bool read_exact(int fd, void *dst, size_t size) {
        uint8_t *p = dst;

        while (size > 0) {
                ssize_t n;

                if (!wait_readable(fd))
                        return false;
                n = read(fd, p, size);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                size -= (size_t) n;
        }
        return true;
}

static bool write_exact(int fd, const void *src, size_t size) {
        const uint8_t *p = src;

        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                size -= (size_t) n;
        }
        return true;
}

/*
 * The writer: a message with mpx_pipe_send(), one framed by hand with
 * write(), then 1 MiB with mpx_pipe_send() on a non-blocking descriptor.
 */
static int plain_writer(void *arg) {
        const struct talk_arg *a = arg;
        static const uint8_t by_hand[] = { 5, 0, 0, 0, 'h', 'e', 'l', 'l', 'o' };
        uint8_t *big = pattern_new(1u << 20);
        mpx *m = NULL;
        int fd = -1;

        child_check(big);
        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, MPX_PIPE_WRITE, -1, &fd), 0);
        mpx_disconnect(m);
        child_check_r(mpx_pipe_send(fd, "abc", 3), 0);
        child_check(write_exact(fd, by_hand, sizeof(by_hand)));
        child_check(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
        child_check_r(mpx_pipe_send(fd, big, 1u << 20), 0);
        free(big);
        close(fd);
        return 0;
}

/* The reader: the first message by hand (poll, read), the second and third with mpx_pipe_recv(). */
static int plain_reader(void *arg) {
        const struct talk_arg *a = arg;
        struct pollfd pfd;
        mpx_buf got = { 0 };
        uint8_t hdr[4], body[3];
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, MPX_PIPE_READ, -1, &fd), 0);
        mpx_disconnect(m);
        /* The framing on the wire: a u32 little-endian length, then the bytes. */
        child_check(read_exact(fd, hdr, 4));
        child_check(hdr[0] == 3 && hdr[1] == 0 && hdr[2] == 0 && hdr[3] == 0);
        child_check(read_exact(fd, body, 3));
        child_check(memcmp(body, "abc", 3) == 0);
        child_check_r(mpx_pipe_recv(fd, &got), 0);
        child_check(got.size == 5 && memcmp(got.data, "hello", 5) == 0);
        mpx_buf_clear(&got);
        /* Non-blocking on this side too: mpx_pipe_recv() polls for the rest. */
        child_check(fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
        child_check_r(mpx_pipe_recv(fd, &got), 0);
        child_check(pattern_ok(&got, 1u << 20));
        mpx_buf_clear(&got);
        /* The writer closed: poll says so, and so does a receive. */
        pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
        child_check(poll(&pfd, 1, DATA_WAIT_MS) == 1 && (pfd.revents & POLLHUP));
        child_check_r(mpx_pipe_recv(fd, &got), -EPIPE);
        close(fd);
        return 0;
}

static void test_plain_read_write_poll(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg r = { f->d.socket, "p", MPX_PIPE_READ, false };
        struct talk_arg w = { f->d.socket, "p", MPX_PIPE_WRITE, true };
        pid_t pr, pw;

        pr = harness_fork(plain_reader, &r);
        pw = harness_fork(plain_writer, &w);
        assert_child_ok(pw);
        assert_child_ok(pr);
}

/* A duplex end in the test process itself: poll for writability and readability, plain send and recv. */
static int poll_partner(void *arg) {
        const struct talk_arg *a = arg;
        mpx_buf got = { 0 };
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, MPX_PIPE_DUPLEX, -1, &fd), 0);
        mpx_disconnect(m);
        child_check_r(mpx_pipe_recv(fd, &got), 0);
        child_check(got.size == 4 && memcmp(got.data, "ping", 4) == 0);
        mpx_buf_clear(&got);
        child_check_r(mpx_pipe_send(fd, "pong", 4), 0);
        close(fd);
        return 0;
}

static void test_poll_duplex(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg a = { f->d.socket, "p", MPX_PIPE_DUPLEX, false };
        struct pollfd pfd;
        uint8_t buf[8];
        pid_t pid;
        int fd = -1;

        pid = harness_fork(poll_partner, &a);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_DUPLEX, -1, &fd), 0);
        pfd = (struct pollfd) { .fd = fd, .events = POLLIN | POLLOUT };
        assert_int_equal(poll(&pfd, 1, DATA_WAIT_MS), 1);
        assert_true(pfd.revents & POLLOUT);
        assert_false(pfd.revents & POLLIN);
        assert_int_equal(send(fd, "\x04\0\0\0ping", 8, 0), 8);
        assert_true(read_exact(fd, buf, 8));
        assert_memory_equal(buf, "\x04\0\0\0pong", 8);
        /* The partner is gone: end of file, and mpx_pipe_recv() says EPIPE. */
        assert_child_ok(pid);
        assert_true(wait_readable(fd));
        assert_int_equal(read(fd, buf, 1), 0);
        close(fd);
}

/* ---- 8. a message cut short, and a closed reader ---- */

static int cut_writer(void *arg) {
        const struct talk_arg *a = arg;
        static const uint8_t cut[] = { 100, 0, 0, 0, 'o', 'n', 'l', 'y', ' ', 's', 'o', 'm', 'e', '!' };
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, MPX_PIPE_WRITE, -1, &fd), 0);
        mpx_disconnect(m);
        child_check(write_exact(fd, cut, sizeof(cut)));
        close(fd);
        return 0;
}

/* A reader that closes its end at once; the writer must get EPIPE, and live (SIGPIPE is left at its default). */
static int closing_reader(void *arg) {
        const struct talk_arg *a = arg;
        mpx *m = NULL;
        int fd = -1;

        child_check_r(mpx_connect(a->socket, &m), 0);
        child_check_r(mpx_pipe_open(m, a->name, a->mode, -1, &fd), 0);
        mpx_disconnect(m);
        close(fd);
        return 0;
}

static void test_cut_and_closed(void **state) {
        struct harness_fixture *f = *state;
        struct talk_arg w = { f->d.socket, "cut", MPX_PIPE_WRITE, true };
        struct talk_arg r = { f->d.socket, "closed", MPX_PIPE_READ, false };
        struct talk_arg d = { f->d.socket, "closed2", MPX_PIPE_DUPLEX, false };
        mpx_buf got = { 0 };
        uint8_t *big = pattern_new(1u << 20);
        pid_t pid;
        int fd = -1;

        assert_non_null(big);
        signal(SIGPIPE, SIG_DFL);
        pid = harness_fork(cut_writer, &w);
        assert_int_equal(mpx_pipe_open(f->m, "cut", MPX_PIPE_READ, -1, &fd), 0);
        assert_int_equal(mpx_pipe_recv(fd, &got), -EPROTO);
        assert_null(got.data);
        close(fd);
        assert_child_ok(pid);

        /* A pipe whose reader has gone: EPIPE, and this process is still here. */
        pid = harness_fork(closing_reader, &r);
        assert_int_equal(mpx_pipe_open(f->m, "closed", MPX_PIPE_WRITE, -1, &fd), 0);
        assert_child_ok(pid);
        assert_int_equal(mpx_pipe_send(fd, big, 1u << 20), -EPIPE);
        assert_int_equal(mpx_pipe_send(fd, "x", 1), -EPIPE);
        close(fd);
        /* The same on a socket. */
        pid = harness_fork(closing_reader, &d);
        assert_int_equal(mpx_pipe_open(f->m, "closed2", MPX_PIPE_DUPLEX, -1, &fd), 0);
        assert_child_ok(pid);
        assert_int_equal(mpx_pipe_send(fd, big, 1u << 20), -EPIPE);
        close(fd);
        free(big);
        /* No SIGPIPE is left pending for this process either. */
        {
                sigset_t pending;

                assert_int_equal(sigpending(&pending), 0);
                assert_false(sigismember(&pending, SIGPIPE));
        }
}

/* ---- 9. delete, shutdown, wrong type and mode ---- */

static void test_delete_while_waiting(void **state) {
        struct harness_fixture *f = *state;
        struct party r, d;
        pid_t pr, pd;

        pipe_create(f->m, "p");
        party_init(&r, f, "p", MPX_PIPE_READ, 'r');
        r.expect = -EIDRM;
        party_init(&d, f, "p", MPX_PIPE_DUPLEX, 'd');
        d.expect = -EIDRM;
        d.timeout_ms = 60000;
        pr = harness_fork(hello_party, &r);
        pd = harness_fork(hello_party, &d);
        harness_wait_field(f->m, "p", "size", 2);
        assert_int_equal(mpx_delete(f->m, "p"), 0);
        assert_child_ok(pr);
        assert_child_ok(pd);
        {
                mpx_info info = { 0 };

                assert_int_equal(mpx_object_info(f->m, "p", &info), -ENOENT);
        }
}

static void test_shutdown_while_waiting(void **state) {
        struct harness_fixture *f = *state;
        struct party r, d;
        pid_t pr, pd;
        int status;

        party_init(&r, f, "p", MPX_PIPE_READ, 'r');
        r.expect = -ESHUTDOWN;
        party_init(&d, f, "q", MPX_PIPE_DUPLEX, 'd');
        d.expect = -ESHUTDOWN;
        pr = harness_fork(hello_party, &r);
        pd = harness_fork(hello_party, &d);
        harness_wait_stat(f->m, "waiters", 2);
        f->running = false;
        status = harness_stop(&f->d);
        assert_child_ok(pr);
        assert_child_ok(pd);
        assert_int_equal(status, 0);
}

static void test_wrong_type_and_mode(void **state) {
        struct harness_fixture *f = *state;
        int fd = -1;

        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_pipe_open(f->m, "q", MPX_PIPE_DUPLEX, -1, &fd), -EPROTOTYPE);
        assert_int_equal(mpx_pipe_open(f->m, "q", MPX_PIPE_READ, 0, &fd), -EPROTOTYPE);
        assert_int_equal(mpx_pipe_open(f->m, "p", 3, -1, &fd), -EINVAL);
        assert_int_equal(mpx_pipe_open(f->m, "p", -1, -1, &fd), -EINVAL);
        assert_int_equal(mpx_pipe_open(f->m, "bad name", MPX_PIPE_READ, -1, &fd), -EINVAL);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_READ, -1, NULL), -EINVAL);
        assert_int_equal(fd, -1);
        /* A pipe is not a queue either. */
        pipe_create(f->m, "p");
        assert_int_equal(mpx_queue_put(f->m, "p", "x", 1, 0), -EPROTOTYPE);
        /* The helpers refuse what they cannot do. */
        assert_int_equal(mpx_pipe_send(-1, "x", 1), -EINVAL);
        assert_int_equal(mpx_pipe_send(0, NULL, 1), -EINVAL);
        assert_int_equal(mpx_pipe_recv(-1, &(mpx_buf) { 0 }), -EINVAL);
        /* The connection still works. */
        assert_int_equal(mpx_ping(f->m), 0);
}

/* ---- 10. the channel does not need the daemon ---- */

static void test_channel_outlives_daemon(void **state) {
        struct harness_fixture *f = *state;
        struct party a;
        mpx_buf got = { 0 };
        int go[2], fd = -1, status;
        pid_t pid;

        make_pipe(go);
        party_init(&a, f, "p", MPX_PIPE_DUPLEX, 'a');
        a.go_fd = go[0];
        a.close_fds[0] = go[1];
        pid = harness_fork(hello_party, &a);
        assert_int_equal(mpx_pipe_open(f->m, "p", MPX_PIPE_DUPLEX, -1, &fd), 0);
        close(go[0]);
        /* Both parties have their ends: stop the daemon, then let them talk. */
        f->m = mpx_disconnect(f->m);
        f->running = false;
        status = harness_stop(&f->d);
        assert_int_equal(status, 0);
        close(go[1]);
        assert_int_equal(mpx_pipe_send(fd, "b", 1), 0);
        assert_int_equal(mpx_pipe_recv(fd, &got), 0);
        assert_int_equal(got.size, 1);
        assert_int_equal(*(char *) got.data, 'a');
        mpx_buf_clear(&got);
        close(fd);
        assert_child_ok(pid);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_duplex),
                harness_test(test_read_write),
                harness_test(test_rendezvous_timeout),
                harness_test(test_third_party),
                harness_test(test_arrival_order),
                harness_test(test_message_sizes),
                harness_test(test_killed_while_waiting),
                harness_test(test_plain_read_write_poll),
                harness_test(test_poll_duplex),
                harness_test(test_cut_and_closed),
                harness_test(test_delete_while_waiting),
                harness_test(test_shutdown_while_waiting),
                harness_test(test_wrong_type_and_mode),
                harness_test(test_channel_outlives_daemon),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
