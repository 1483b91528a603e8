/* SPDX-License-Identifier: MIT */
/*
 * The integration test harness: start a real mpxd on a private socket in a
 * temporary folder, fork worker processes that drive it through libmpx, wait
 * for conditions the daemon reports (never for time), and clean up every
 * process and file, even when a test fails half-way.
 *
 * mpxd is found through $MPXD (set by make check). With MPX_TEST_VALGRIND=1
 * it runs under valgrind's memcheck, and stopping it fails the test on any
 * error or leak.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <unistd.h>

#include "mpx.h"
#include "spawn.h"

/*
 * Start mpxd with extra arguments (NULL-terminated, may be NULL) and wait for
 * it to report READY=1 on a notify socket the harness owns. Fails the test
 * (cmocka fail_msg) if it does not come up.
 */
void harness_start(struct harness_daemon *d, const char *const *extra_args);

/* As harness_start, with the options of daemon_spawn_with (a configuration file, environment ...). */
void harness_start_with(struct harness_daemon *d, const struct daemon_options *o);

/* SIGTERM the daemon, reap it, remove its folder; returns its exit status (-1 if killed). */
int harness_stop(struct harness_daemon *d);

/* Connect to the daemon, failing the test if that is not possible. */
mpx *harness_connect(const struct harness_daemon *d);

/*
 * Fork a child that runs fn(arg) and exits with its return value. The child
 * dies with the test process (PR_SET_PDEATHSIG), so nothing outlives a failure.
 */
pid_t harness_fork(int (*fn)(void *arg), void *arg);

/* Reap a child and return its exit status, or 128 + signal number. */
int harness_wait(pid_t pid);

/* Kill a child with SIGKILL and reap it. */
void harness_kill(pid_t pid);

/*
 * Wait until the object's INFO field (e.g. "getters") equals value, polling
 * the daemon; fails the test after 20 seconds. This is how a test knows that
 * another process is blocked, without sleeping.
 */
void harness_wait_field(mpx *m, const char *name, const char *field, int64_t value);

/* As harness_wait_field for a daemon-wide STATS field ("clients", "waiters"). */
void harness_wait_stat(mpx *m, const char *field, int64_t value);

/*
 * Copy a daemon's log (its stderr, kept in a file) to the test's stderr under
 * a heading: how a failed test that keeps the log shows what mpxd said.
 */
void harness_show_log(const char *path);

/* The value of an INFO field of an object; fails the test if absent. */
int64_t harness_field(mpx *m, const char *name, const char *field);

/* The value of a numeric field of the daemon's STATS; fails the test if absent. */
int64_t harness_stat(mpx *m, const char *field);

/*
 * True when make check runs the daemons under valgrind (MPX_TEST_VALGRIND=1):
 * tests then allow more time, or skip what valgrind makes meaningless.
 */
bool harness_under_valgrind(void);

/*
 * Arm a watchdog for one test, so that a hung test cannot hang make check:
 * after seconds, print "<program>: watchdog: a test hung, giving up" and
 * exit 1 (forked children and mpxd die with the test). alarm(0) disarms it.
 */
void harness_watchdog(const char *program, unsigned seconds);

/*
 * Connect from a forked child, where cmocka must not run: NULL on failure,
 * after a message that names the child and the socket.
 */
mpx *harness_child_connect(const char *socket);

/*
 * The fixture most integration tests share: one daemon and the test's own
 * connection to it. A test that stops the daemon itself clears running.
 */
struct harness_fixture {
        struct harness_daemon d;
        mpx *m;                         /* the test's own connection */
        bool running;                   /* the daemon still runs: the teardown stops it */
};

/*
 * The setup of such a test: arm the watchdog for program (watchdog_s, or
 * valgrind_s under valgrind), start mpxd with extra arguments
 * (NULL-terminated, may be NULL) and connect to it.
 */
struct harness_fixture *harness_fixture_new(const char *program, unsigned watchdog_s, unsigned valgrind_s,
                                            const char *const *extra_args);

/*
 * Its teardown: disconnect, stop the daemon if it still runs, free the
 * fixture and disarm the watchdog. Returns the daemon's exit status (0 when
 * the test had stopped it), which a crash, leak or memory error makes non-zero.
 */
int harness_fixture_free(struct harness_fixture *f);

/* What a test file starts the daemon of each of its tests with (harness_setup). */
struct harness_options {
        const char *program;            /* the test program's name, for the watchdog's message */
        unsigned watchdog_s;            /* a test that runs longer has hung */
        unsigned valgrind_s;            /* the same under valgrind */
        const char *const *args;        /* mpxd's extra arguments, NULL-terminated; may be NULL */
};

/*
 * The cmocka setup of the common fixture: *state holds the test's options
 * (const struct harness_options *, cmocka's initial state) and then its
 * harness_fixture_new().
 */
int harness_setup(void **state);

/* Its teardown: harness_fixture_free(), and a crash, leak or memory error of the daemon fails the test. */
int harness_teardown(void **state);

/*
 * A test table's entry: f with the common fixture, its daemon started with
 * the options the test file names harness_options.
 */
#define harness_test(f) harness_test_with(f, &harness_options)

/* The same with other options. */
#define harness_test_with(f, options)                                                           \
        cmocka_unit_test_prestate_setup_teardown(f, harness_setup, harness_teardown, (void *) (options))

/*
 * A test table's entry in a test file whose fixture is its own: f between
 * that file's static setup() and teardown().
 */
#define harness_own_test(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- raw connections: frames written by hand, for what libmpx would not send ---- */

struct wire_header;

/* A connection to the daemon's socket at path without any HELLO: its fd, or -1 with errno set. */
int harness_raw_connect(const char *path);

/* Write all of len bytes (blocking); false if the connection broke (no SIGPIPE). */
bool harness_write_all(int fd, const void *data, size_t len);

/* Read exactly len bytes (blocking); false at the end of the stream (errno 0) or on an error. */
bool harness_read_all(int fd, void *dst, size_t len);

/* Read one reply frame's header into *ret and skip its body; false at the end of the stream. */
bool harness_read_reply(int fd, struct wire_header *ret);

/* Read exactly n bytes a forked child writes to a pipe, failing the test if it exits first. */
void harness_read_pipe(int fd, void *buf, size_t n);

/* ---- items numbered by their producer ---- */

/*
 * Parse an item "p:n", the n-th item of producer p, as the tests that count
 * every item of several producers write them: false unless it is one, with
 * p below max_p and n below max_n.
 */
bool harness_parse_item(const void *data, size_t size, unsigned max_p, unsigned max_n, unsigned *ret_p,
                        unsigned *ret_n);

/*
 * Drain queue, without waiting, of such items (and mark each done, for a
 * joinable queue): every item must be one, and each producer's items must
 * come in order, each once, or the test fails. found[p * max_n + n] (max_p
 * times max_n of them) is set to whether item p:n came, last[p] (max_p) to
 * the last item of p that came, -1 for none. Returns how many came.
 */
unsigned harness_drain_items(mpx *m, const char *queue, bool done, unsigned max_p, unsigned max_n, uint8_t *found,
                             int *last);

/* ---- one-byte reports through pipes, which children and tests both use ---- */

/* Write one byte (a child's report); false if it could not. */
bool harness_put_byte(int fd, uint8_t b);

/* Read one byte: 1, 0 at the end of the stream, -1 on an error. */
int harness_get_byte(int fd, uint8_t *ret);

/*
 * Checks inside forked children, where cmocka must not run: on failure they
 * print where and what, and return 1 from the child's function, which
 * harness_wait() then reports to the test.
 */
#define child_check(cond)                                                                       \
        do {                                                                                    \
                if (!(cond)) {                                                                  \
                        fprintf(stderr, "%s:%d: child %ld: check failed: %s\n", __FILE__,      \
                                __LINE__, (long) getpid(), #cond);                              \
                        return 1;                                                               \
                }                                                                               \
        } while (0)

/* An mpx_strerror() for check messages: "" for what is not a negative errno. */
static inline const char *child_strerror(int64_t v) {
        return v < 0 && v > INT_MIN ? mpx_strerror((int) v) : "";
}

/* Check that got (a return value or a count) equals want; errors are named. */
#define child_check_r(got, want)                                                                \
        do {                                                                                    \
                int64_t g_ = (got), w_ = (want);                                                \
                if (g_ != w_) {                                                                 \
                        fprintf(stderr, "%s:%d: child %ld: %s gave %lld (%s), expected %lld (%s)\n", \
                                __FILE__, __LINE__, (long) getpid(), #got, (long long) g_,      \
                                child_strerror(g_), (long long) w_, child_strerror(w_));        \
                        return 1;                                                               \
                }                                                                               \
        } while (0)
