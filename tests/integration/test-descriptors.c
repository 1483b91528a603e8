/* SPDX-License-Identifier: MIT */
/*
 * mpxd out of file descriptors: a daemon started with a limit of open files
 * far below what limits.max_clients needs says so once at start; clients
 * past the limit are refused EUSERS, one at a time, never left hanging in
 * mpx_connect(); connections that hold the daemon's reserve descriptor
 * without ever sending a request cost it no CPU and the log a line or two,
 * not a line per wake-up; and once connections close, new clients are
 * served again. The figures are printed on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

/* The daemon's limit of open files, far below what the default max_clients (4096) needs. */
#define NOFILE 64
/* Connections the test may hold: more than the daemon can take. */
#define MAX_HELD 128
/* Clients that connect past the limit and must all be refused. */
#define OVER 20
/* Connections that never send a request, and the window the daemon's CPU is measured over. */
#define SILENT 8
#define WINDOW_MS 2500

/* A client left hanging in mpx_connect() fails the test instead of hanging it. */
#define WATCHDOG_S 60

struct fixture {
        struct harness_daemon d;
        char log[320];
        mpx *held[MAX_HELD];
        unsigned n_held;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));
        struct daemon_options o = { .nofile = NOFILE };

        assert_non_null(f);
        harness_watchdog("test-descriptors", WATCHDOG_S);
        snprintf(f->log, sizeof(f->log), "%s/mpxd-descriptors-%ld.log", getenv("TMPDIR") ?: "/tmp", (long) getpid());
        o.stderr_path = f->log;
        harness_start_with(&f->d, &o);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status;

        for (unsigned i = 0; i < f->n_held; i++)
                mpx_disconnect(f->held[i]);
        status = harness_stop(&f->d);
        unlink(f->log);
        free(f);
        alarm(0);
        assert_int_equal(status, 0);
        return 0;
}

/* The daemon's CPU time so far, in clock ticks (utime + stime of /proc/PID/stat). */
static uint64_t cpu_ticks(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long utime = 0, stime = 0;
        FILE *fp;

        snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
        fp = fopen(path, "r");
        assert_non_null(fp);
        assert_non_null(fgets(buf, sizeof(buf), fp));
        fclose(fp);
        /* Fields after the command name, which may hold spaces: state is the 3rd, utime the 14th. */
        p = strrchr(buf, ')');
        assert_non_null(p);
        assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime), 2);
        return utime + stime;
}

/* Lines of the daemon's log that contain needle. */
static unsigned log_lines(const char *path, const char *needle) {
        char line[2048];
        unsigned n = 0;
        FILE *fp = fopen(path, "r");

        if (!fp)
                return 0;
        while (fgets(line, sizeof(line), fp))
                n += strstr(line, needle) != NULL;
        fclose(fp);
        return n;
}

/* A connection that never sends anything: it holds what the daemon accepts it with. */
static int connect_silent(const char *socket_path) {
        int fd = harness_raw_connect(socket_path);

        assert_true(fd >= 0);
        return fd;
}

static void test_out_of_descriptors(void **state) {
        static const char *const sleeper[] = { "/bin/sleep", "600", NULL };
        struct fixture *f = *state;
        struct timespec window = { WINDOW_MS / 1000, (WINDOW_MS % 1000) * 1000000L };
        unsigned refused = 0, lines_before, lines_after, warnings;
        int silent[SILENT], r = 0;
        uint64_t ticks;
        long hz = sysconf(_SC_CLK_TCK);
        mpx *m;

        /* Said once at start: 4096 clients cannot fit under 64 descriptors. */
        warnings = log_lines(f->log, "and mpxd's own descriptors need");
        assert_int_equal(warnings, 1);

        /* A pool's workers hold a log pipe each: more than fit are refused, and nothing is made. */
        m = harness_connect(&f->d);
        assert_int_equal(mpx_pool_start(m, "sleepers", NOFILE, MPX_RESTART_NEVER, sleeper), -EUSERS);
        assert_int_equal(mpx_object_info(m, "sleepers", &(mpx_info) { 0 }), -ENOENT);
        assert_int_equal(mpx_pool_start(m, "sleepers", 2, MPX_RESTART_NEVER, sleeper), 1);
        assert_int_equal(mpx_pool_scale(m, "sleepers", NOFILE), -EUSERS);
        assert_int_equal(harness_field(m, "sleepers", "workers"), 2);
        assert_int_equal(mpx_pool_stop(m, "sleepers", 0), 0);
        mpx_disconnect(m);

        /* Fill the daemon: connections succeed until it is out of descriptors, then EUSERS. */
        while (f->n_held < MAX_HELD) {
                r = mpx_connect(f->d.socket, &m);
                if (r < 0)
                        break;
                f->held[f->n_held++] = m;
        }
        if (r != -EUSERS)
                fail_msg("after %u clients, mpx_connect: %s", f->n_held, mpx_strerror(r));
        assert_true(f->n_held > 8 && f->n_held < NOFILE);

        /* Past the limit every client is told so, at once, and none hangs. */
        for (int i = 0; i < OVER; i++) {
                r = mpx_connect(f->d.socket, &m);
                refused += r == -EUSERS;
                if (r == 0)
                        mpx_disconnect(m);
        }
        assert_int_equal(refused, OVER);

        /*
         * Connections that never send their first request hold the reserve
         * until their refusal times out, while the others wait in the
         * backlog: the daemon sleeps meanwhile, and the log stays short.
         */
        lines_before = log_lines(f->log, "out of file descriptors");
        ticks = cpu_ticks(f->d.pid);
        for (int i = 0; i < SILENT; i++)
                silent[i] = connect_silent(f->d.socket);
        nanosleep(&window, NULL);
        ticks = cpu_ticks(f->d.pid) - ticks;
        lines_after = log_lines(f->log, "out of file descriptors");
        for (int i = 0; i < SILENT; i++)
                close(silent[i]);
        assert_true(ticks * 1000 / (uint64_t) hz <= 100);
        assert_true(lines_after - lines_before <= 1);
        assert_true(lines_after <= 2);

        /* Room again: once connections close, a new client is served. */
        for (int i = 0; i < 4; i++) {
                f->n_held--;
                f->held[f->n_held] = mpx_disconnect(f->held[f->n_held]);
        }
        m = NULL;
        for (int tries = 0; tries < 200 && (r = mpx_connect(f->d.socket, &m)) == -EUSERS; tries++)
                ;
        assert_int_equal(r, 0);
        assert_int_equal(mpx_queue_declare(m, "after", 0, 0), 1);
        f->held[f->n_held++] = m;
        fprintf(stderr,
                "test-descriptors: limit %d: %u clients held, %u of %u past the limit refused EUSERS; %d silent "
                "connections for %d ms: %" PRIu64 " ms of daemon CPU, %u log lines about the shortage in all; "
                "served again after 4 closed\n",
                NOFILE, f->n_held - 1, refused, OVER, SILENT, WINDOW_MS, ticks * 1000 / (uint64_t) hz, lines_after);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_out_of_descriptors, setup, teardown),
        };

        /* Valgrind takes descriptors of its own under the daemon's limit and answers for it: nothing to measure. */
        if (harness_under_valgrind()) {
                printf("test-descriptors: skipped under valgrind, which keeps descriptors of its own within the "
                       "daemon's limit of open files\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
