/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of mpxd as a system service, against real daemons: the
 * notify protocol read from a NOTIFY_SOCKET the test binds (READY, STATUS,
 * WATCHDOG at half of WATCHDOG_USEC, STOPPING, in that order), the
 * configuration file at start and on SIGHUP (a changed file: new objects
 * appear, existing ones keep their contents, the new log level and limits
 * apply; a broken file: the old configuration stays and STATUS= says so),
 * command-line options over the file, --check-config, the limits on clients
 * and objects, SIGTERM with 1,000 clients blocked (all answered ESHUTDOWN,
 * exit 0 within 2 seconds, measured), SIGCHLD and SIGPIPE, logging for the
 * journal, and socket activation through systemd-socket-activate.
 *
 * Nothing waits by sleeping: readiness and reloads are known from the
 * daemon's own notifications, blocked clients from its statistics, and every
 * read has a deadline so that a hung daemon fails a test instead of hanging
 * it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "text-file.h"
#include "monotonic.h"
#include "request-builder.h"
#include "wire.h"
#include "temp-dir.h"

/* The clients of the shutdown test, each blocked in a queue get. */
#define BLOCKED_CLIENTS 1000
/* What the issue allows for a stop with that many clients. */
#define SHUTDOWN_BOUND_MS 2000

struct fixture {
        struct harness_daemon d;
        bool running;                   /* d is up; teardown stops it and checks its exit status */
        char dir[256];                  /* the test's own folder, for files and logs */
        char conf[300];                 /* dir/mpxd.conf */
        char log[300];                  /* dir/mpxd.log, the daemon's stderr when asked */
        int *raw;                       /* raw connections; teardown closes them */
        size_t n_raw;
};

/* How long one expected event may take: a few seconds, more under valgrind. */
static int64_t io_timeout_ms(void) {
        return harness_under_valgrind() ? 60000 : 10000;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_non_null(temp_dir_make(f->dir, sizeof(f->dir), "mpx-service"));
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        snprintf(f->log, sizeof(f->log), "%s/mpxd.log", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status;

        for (size_t i = 0; i < f->n_raw; i++)
                if (f->raw[i] >= 0)
                        close(f->raw[i]);
        free(f->raw);
        if (f->running) {
                status = harness_stop(&f->d);
                if (status != 0)
                        fail_msg("mpxd exited with status %d", status);
        }
        assert_int_equal(temp_dir_remove(f->dir), 0);
        free(f);
        return 0;
}

/* ---- files ---- */

/* The whole file, NUL-terminated; free it. "" if it does not exist. */
static char *read_text(const char *path) {
        FILE *in = fopen(path, "r");
        char *buf = NULL;
        size_t len = 0, cap = 0;
        int ch;

        if (!in)
                return strdup("");
        while ((ch = fgetc(in)) != EOF) {
                if (len + 2 > cap) {
                        cap = cap ? cap * 2 : 4096;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                buf[len++] = (char) ch;
        }
        fclose(in);
        if (!buf)
                return strdup("");
        buf[len] = '\0';
        return buf;
}

/* How many times needle occurs in haystack. */
static unsigned count_of(const char *haystack, const char *needle) {
        unsigned n = 0;

        for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
                n++;
        return n;
}

/* ---- the notify socket ---- */

/* The next datagram within timeout_ms, NUL-terminated in buf: true, or false on timeout. */
static bool notify_next(int fd, char *buf, size_t size, int64_t timeout_ms) {
        int64_t deadline = monotonic_ms() + timeout_ms;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - monotonic_ms();
                ssize_t n;

                if (left < 0)
                        return false;
                if (poll(&p, 1, (int) left) <= 0)
                        continue;
                n = recv(fd, buf, size - 1, MSG_DONTWAIT);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                return true;
        }
}

/* Read datagrams until one contains needle; fail the test after the I/O timeout. */
#define notify_wait_for(fd, needle, buf, size) notify_wait_for_at(fd, needle, buf, size, __FILE__, __LINE__)
static void notify_wait_for_at(int fd, const char *needle, char *buf, size_t size, const char *file, int line) {
        int64_t deadline = monotonic_ms() + io_timeout_ms();

        for (;;) {
                int64_t left = deadline - monotonic_ms();

                if (left <= 0 || !notify_next(fd, buf, size, left)) {
                        print_error("no notification with %s\n", needle);
                        _fail(file, line);
                }
                if (strstr(buf, needle))
                        return;
        }
}

/* A datagram socket bound at dir/name, as NOTIFY_SOCKET. */
static int notify_open(const char *dir, const char *name, char *ret_path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(ret_path, size, "%s/%s", dir, name);
        assert_true(strlen(ret_path) < sizeof(sa.sun_path));
        memcpy(sa.sun_path, ret_path, strlen(ret_path) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

/* ---- processes ---- */

/* Run argv with stdout and stderr into files, and return its exit status. */
static int run(const char *const *argv, const char *out_path, const char *err_path) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
                int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
                        _exit(126);
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        return child_wait(pid);
}

/* SIGTERM the daemon and reap it here; its exit status. */
static int stop_daemon(struct fixture *f) {
        int status;

        assert_int_equal(kill(f->d.pid, SIGTERM), 0);
        status = child_wait(f->d.pid);
        f->d.pid = 0;
        f->running = false;
        harness_stop(&f->d);            /* only removes its folder now */
        return status;
}

static void start(struct fixture *f, const struct daemon_options *o) {
        harness_start_with(&f->d, o);
        f->running = true;
}

/* The type of an object, as INFO names it; "" if there is no such object. */
static void type_of(mpx *m, const char *name, char *buf, size_t size) {
        mpx_info info = { 0 };
        int r = mpx_object_info(m, name, &info);

        snprintf(buf, size, "%s", r == 0 && info.type ? info.type : "");
        mpx_info_clear(&info);
}

/* ---- raw connections ---- */

static int raw_connect(struct fixture *f, const char *path) {
        int fd = harness_raw_connect(path);
        int *grown;

        if (fd < 0)
                fail_msg("connect(%s): %s", path, strerror(errno));
        grown = realloc(f->raw, (f->n_raw + 1) * sizeof(*grown));
        assert_non_null(grown);
        f->raw = grown;
        f->raw[f->n_raw++] = fd;
        return fd;
}

/* Append HELLO (id 1) and, when queue is set, a GET on it that waits forever (id 2). */
static void build_hello_get(struct wire_buf *b, const char *queue) {
        append_request(b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "blocked");
        if (queue)
                append_request(b, 2, WIRE_OP_QUEUE_GET, "niw", queue, (int64_t) -1, (uint32_t) 0);
}

static void raw_send(int fd, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        fail_msg("send: %s", strerror(errno));
                p += n;
                len -= (size_t) n;
        }
}

/*
 * Read everything until the peer closes, before the deadline: the bytes in
 * buf, their number returned; -1 on timeout.
 */
static ssize_t raw_read_all(int fd, uint8_t *buf, size_t size, int64_t deadline) {
        size_t got = 0;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - monotonic_ms();
                ssize_t n;

                if (left <= 0)
                        return -1;
                if (poll(&p, 1, (int) left) <= 0)
                        continue;
                n = recv(fd, buf + got, size - got, MSG_DONTWAIT);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0 || got + (size_t) n == size)
                        return (ssize_t) (got + (n > 0 ? (size_t) n : 0));
                got += (size_t) n;
        }
}

/* ---- the notify protocol ---- */

#define WATCHDOG_PINGS 8
static void test_notify_protocol(void **state) {
        static const char *const env[] = { "WATCHDOG_USEC=200000", NULL };
        struct fixture *f = *state;
        struct daemon_options o = { .env = env, .watchdog_pid = true, .keep_notify = true };
        char buf[1024], want[64];
        int64_t ready_ms, first_ping_ms = 0, last_ping_ms = 0, status_ms;
        unsigned pings = 0;
        mpx *m;

        start(f, &o);
        ready_ms = monotonic_ms();
        /* READY=1 comes first, with the status and the main pid. */
        assert_int_equal(f->d.before_ready, 0);
        assert_non_null(strstr(f->d.ready, "READY=1"));
        assert_non_null(strstr(f->d.ready, "STATUS=serving 0 clients, 0 objects, 0 waiters"));
        snprintf(want, sizeof(want), "MAINPID=%ld", (long) f->d.pid);
        assert_non_null(strstr(f->d.ready, want));

        /* WATCHDOG=1 at half of WATCHDOG_USEC: every 100 ms. */
        while (pings < WATCHDOG_PINGS) {
                notify_wait_for(f->d.notify_fd, "WATCHDOG=1", buf, sizeof(buf));
                last_ping_ms = monotonic_ms();
                if (pings++ == 0)
                        first_ping_ms = last_ping_ms;
        }
        /*
         * The times are when the test read each ping, not when it was sent: a
         * first read delayed by a loaded machine shortens the span by as much,
         * so the span is long enough to allow 150 ms of such delay and still
         * tell every 100 ms from every 50.
         */
        if (last_ping_ms - first_ping_ms < (WATCHDOG_PINGS - 1) * 100 - 150)
                fail_msg("%d pings in %lld ms: more often than every 100 ms", WATCHDOG_PINGS,
                         (long long) (last_ping_ms - first_ping_ms));

        /* STATUS= follows what the daemon serves, at most once a second. */
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "jobs", 0, 0), 1);
        notify_wait_for(f->d.notify_fd, "STATUS=serving 1 client, 1 object, 0 waiters", buf, sizeof(buf));
        status_ms = monotonic_ms();
        if (status_ms - ready_ms < 900)
                fail_msg("STATUS= changed %lld ms after READY=1, sooner than a second",
                         (long long) (status_ms - ready_ms));
        mpx_disconnect(m);

        /* STOPPING=1 last; nothing after it but the exit. */
        assert_int_equal(kill(f->d.pid, SIGTERM), 0);
        notify_wait_for(f->d.notify_fd, "STOPPING=1", buf, sizeof(buf));
        assert_int_equal(child_wait(f->d.pid), 0);
        f->d.pid = 0;
        while (notify_next(f->d.notify_fd, buf, sizeof(buf), 0)) {
                assert_null(strstr(buf, "READY=1"));
                assert_null(strstr(buf, "WATCHDOG=1"));
        }
        f->running = false;
        harness_stop(&f->d);
}

static void test_no_watchdog_for_another_pid(void **state) {
        static const char *const env[] = { "WATCHDOG_USEC=200000", "WATCHDOG_PID=1", NULL };
        struct fixture *f = *state;
        struct daemon_options o = { .env = env, .keep_notify = true };
        char buf[1024];
        mpx *m;

        /* sd_watchdog_enabled() ignores a watchdog meant for another process. */
        start(f, &o);
        m = harness_connect(&f->d);
        /* A second of notifications (STATUS= needs one to change) without a ping. */
        for (;;) {
                assert_true(notify_next(f->d.notify_fd, buf, sizeof(buf), io_timeout_ms()));
                assert_null(strstr(buf, "WATCHDOG=1"));
                if (strstr(buf, "STATUS=serving 1 client"))
                        break;
        }
        mpx_disconnect(m);
}

/* ---- configuration at start ---- */

static void test_objects_declared_at_start(void **state) {
        struct fixture *f = *state;
        struct daemon_options o = { .config = f->conf };
        char type[32];
        int32_t v;
        char hello[5];
        mpx *m;

        text_file_write(f->conf,
                   "objects = {\n"
                   "  queues = ( { name = \"jobs\"; maxsize = 5; joinable = true; }, { name = \"plain\"; } );\n"
                   "  semaphores = ( { name = \"slots\"; value = 3; } );\n"
                   "  dicts = ( \"settings\" );\n"
                   "  lists = ( \"history\" );\n"
                   "  events = ( \"go\" );\n"
                   "  barriers = ( { name = \"start\"; parties = 2; } );\n"
                   "  values = ( { name = \"balance\"; typecode = \"i\"; initial = 5000; } );\n"
                   "  arrays = ( { name = \"greeting\"; typecode = \"c\"; initial = \"Hello\"; } );\n"
                   "};\n");
        start(f, &o);
        m = harness_connect(&f->d);
        assert_int_equal(harness_stat(m, "objects"), 9);
        type_of(m, "jobs", type, sizeof(type));
        assert_string_equal(type, "joinable");
        assert_int_equal(harness_field(m, "jobs", "maxsize"), 5);
        type_of(m, "plain", type, sizeof(type));
        assert_string_equal(type, "queue");
        /* Declared as configured, a client's declare finds them as they are. */
        assert_int_equal(mpx_queue_declare(m, "plain", 0, 0), 0);
        assert_int_equal(mpx_queue_declare(m, "plain", 7, 0), -EEXIST);
        type_of(m, "slots", type, sizeof(type));
        assert_string_equal(type, "semaphore");
        assert_int_equal(mpx_sem_value(m, "slots"), 3);
        type_of(m, "settings", type, sizeof(type));
        assert_string_equal(type, "dict");
        type_of(m, "history", type, sizeof(type));
        assert_string_equal(type, "list");
        type_of(m, "go", type, sizeof(type));
        assert_string_equal(type, "event");
        type_of(m, "start", type, sizeof(type));
        assert_string_equal(type, "barrier");
        type_of(m, "balance", type, sizeof(type));
        assert_string_equal(type, "value");
        assert_int_equal(mpx_array_get(m, "balance", 'i', 0, 1, &v), 0);
        assert_int_equal(v, 5000);
        type_of(m, "greeting", type, sizeof(type));
        assert_string_equal(type, "array");
        assert_int_equal(harness_field(m, "greeting", "length"), 5);
        assert_int_equal(mpx_array_get(m, "greeting", 'c', 0, 5, hello), 0);
        assert_memory_equal(hello, "Hello", 5);
        mpx_disconnect(m);
}

static void test_options_override_file(void **state) {
        static const char *const args[] = { "--max-message", "2000", "-q", NULL };
        struct fixture *f = *state;
        struct daemon_options o = { .config = f->conf, .args = args, .stderr_path = f->log };
        char *log;
        mpx *m;

        text_file_write(f->conf,
                   "socket = { path = \"/nonexistent/mpxd.sock\"; };\n"
                   "log = { level = \"debug\"; };\n"
                   "limits = { max_message = 1000; };\n");
        /* -s (from the harness) wins over socket.path, or the daemon could not start. */
        start(f, &o);
        m = harness_connect(&f->d);
        assert_int_equal(harness_stat(m, "max_message"), 2000);
        assert_int_equal(mpx_max_message(m), 2000);
        mpx_disconnect(m);
        assert_int_equal(stop_daemon(f), 0);
        /* -q wins over level = "debug": no debug line, no info line. */
        log = read_text(f->log);
        assert_null(strstr(log, "debug:"));
        assert_null(strstr(log, "info:"));
        free(log);
}

static void test_bad_config_does_not_start(void **state) {
        struct fixture *f = *state;
        char sock[320], out[320], err[320], want[1024];
        const char *argv[] = { getenv("MPXD"), "-c", f->conf, "-s", sock, NULL };
        char *text;

        snprintf(sock, sizeof(sock), "%s/mpxd.sock", f->dir);
        snprintf(out, sizeof(out), "%s/out", f->dir);
        snprintf(err, sizeof(err), "%s/err", f->dir);
        text_file_write(f->conf, "limits = {\n  max_clients = 0;\n};\n");
        assert_int_equal(run(argv, out, err), 1);
        text = read_text(err);
        snprintf(want, sizeof(want),
                 "mpxd: error: %s:2: limits.max_clients: expected an integer from 1 to 1000000, got 0\n"
                 "mpxd: error: not starting: the configuration is not valid\n", f->conf);
        assert_string_equal(text, want);
        free(text);
        /* It never listened. */
        assert_int_equal(access(sock, F_OK), -1);

        /* A file named with -c must exist; the default one need not. */
        unlink(f->conf);
        assert_int_equal(run(argv, out, err), 1);
        text = read_text(err);
        snprintf(want, sizeof(want), "mpxd: error: %s: cannot open: No such file or directory\n", f->conf);
        assert_non_null(strstr(text, want));
        free(text);
}

static void test_check_config(void **state) {
        struct fixture *f = *state;
        char out[320], err[320], want[2048];
        const char *argv[] = { getenv("MPXD"), "--check-config", "-c", f->conf, NULL, NULL, NULL };
        char *text;

        snprintf(out, sizeof(out), "%s/out", f->dir);
        snprintf(err, sizeof(err), "%s/err", f->dir);

        text_file_write(f->conf, "objects = { queues = ( { name = \"jobs\"; } ); };\n");
        assert_int_equal(run(argv, out, err), 0);
        text = read_text(out);
        snprintf(want, sizeof(want), "%s: valid; 1 object declared\n", f->conf);
        assert_string_equal(text, want);
        free(text);

        /* Every error, in the order of the file, then the verdict. */
        text_file_write(f->conf,
                   "log = { level = \"loud\"; };\n"
                   "limits = {\n"
                   "  max_clients = 0;\n"
                   "};\n");
        assert_int_equal(run(argv, out, err), 1);
        text = read_text(err);
        snprintf(want, sizeof(want),
                 "%s:1: log.level: expected one of \"error\", \"warning\", \"notice\", \"info\", \"debug\", "
                 "got \"loud\"\n"
                 "%s:3: limits.max_clients: expected an integer from 1 to 1000000, got 0\n"
                 "mpxd: %s is not valid\n", f->conf, f->conf, f->conf);
        assert_string_equal(text, want);
        free(text);

        /* The shipped file is valid. */
        argv[3] = getenv("MPX_CONF");
        if (argv[3]) {
                assert_int_equal(run(argv, out, err), 0);
                argv[3] = f->conf;
        }

        /* Options are checked with the file. */
        text_file_write(f->conf, "%s", "");
        argv[4] = "--socket-group";
        argv[5] = "no-such-group-of-mpx";
        assert_int_equal(run(argv, out, err), 1);
        text = read_text(err);
        assert_non_null(strstr(text, "--socket-group: 'no-such-group-of-mpx' is not the name or number of an "
                                     "existing group\n"));
        free(text);

        /* A missing file named with -c is an error. */
        argv[4] = NULL;
        unlink(f->conf);
        assert_int_equal(run(argv, out, err), 1);
        text = read_text(err);
        snprintf(want, sizeof(want), "%s: cannot open: No such file or directory\nmpxd: %s is not valid\n",
                 f->conf, f->conf);
        assert_string_equal(text, want);
        free(text);
}

/* ---- SIGHUP ---- */

static void test_reload_changed_file(void **state) {
        struct fixture *f = *state;
        struct daemon_options o = { .config = f->conf, .keep_notify = true, .stderr_path = f->log };
        char buf[1024], type[32];
        uint8_t big[1500] = { 0 };
        char *log;
        mpx *m, *m2;

        text_file_write(f->conf,
                   "log = { level = \"warning\"; };\n"
                   "limits = { max_message = 1000; };\n"
                   "objects = { queues = ( { name = \"jobs\"; maxsize = 10; } ); };\n");
        start(f, &o);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_put(m, "jobs", "one", 3, 0), 0);
        assert_int_equal(mpx_queue_put(m, "jobs", "two", 3, 0), 0);
        assert_int_equal(mpx_queue_put(m, "jobs", big, sizeof(big), 0), -EMSGSIZE);
        /* A client's own object is not the file's business. */
        assert_int_equal(mpx_queue_declare(m, "mine", 0, 0), 1);

        text_file_replace(f->conf,
                     "log = { level = \"debug\"; };\n"
                     "limits = { max_message = 2000; };\n"
                     "objects = {\n"
                     "  queues = ( { name = \"jobs\"; maxsize = 10; }, { name = \"later\"; joinable = true; } );\n"
                     "  dicts = ( \"settings\" );\n"
                     "};\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        notify_wait_for(f->d.notify_fd, "RELOADING=1", buf, sizeof(buf));
        assert_non_null(strstr(buf, "MONOTONIC_USEC="));
        notify_wait_for(f->d.notify_fd, "READY=1", buf, sizeof(buf));
        assert_non_null(strstr(buf, "STATUS=serving 1 client, 4 objects"));
        assert_null(strstr(buf, "failed"));

        /* New objects appear; existing ones keep their contents. */
        type_of(m, "later", type, sizeof(type));
        assert_string_equal(type, "joinable");
        type_of(m, "settings", type, sizeof(type));
        assert_string_equal(type, "dict");
        assert_int_equal(mpx_queue_qsize(m, "jobs"), 2);
        type_of(m, "mine", type, sizeof(type));
        assert_string_equal(type, "queue");
        /* The new limit applies at once, and new clients are told. */
        assert_int_equal(harness_stat(m, "max_message"), 2000);
        m2 = harness_connect(&f->d);
        assert_int_equal(mpx_max_message(m2), 2000);
        assert_int_equal(mpx_queue_put(m2, "jobs", big, sizeof(big), 0), 0);
        mpx_disconnect(m2);
        mpx_disconnect(m);

        assert_int_equal(stop_daemon(f), 0);
        log = read_text(f->log);
        /* At warning, the start said nothing; at debug, the new connections are logged. */
        assert_null(strstr(log, "serving on"));
        assert_non_null(strstr(log, "info: reloaded"));
        assert_non_null(strstr(log, "debug: client 2 "));
        assert_int_equal(count_of(log, ") connected\n"), 1);
        free(log);
}

static void test_reload_broken_file(void **state) {
        struct fixture *f = *state;
        struct daemon_options o = { .config = f->conf, .keep_notify = true, .stderr_path = f->log };
        char buf[1024], want[1024];
        char *log;
        mpx *m;

        text_file_write(f->conf,
                   "limits = { max_message = 1000; };\n"
                   "objects = { queues = ( { name = \"jobs\"; } ); };\n");
        start(f, &o);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_put(m, "jobs", "one", 3, 0), 0);

        text_file_replace(f->conf,
                     "limits = {\n"
                     "  max_message = \"big\";\n"
                     "};\n"
                     "objects = { queues = ( { name = \"jobs\"; }, { name = \"never\"; } ); };\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        notify_wait_for(f->d.notify_fd, "RELOADING=1", buf, sizeof(buf));
        notify_wait_for(f->d.notify_fd, "READY=1", buf, sizeof(buf));
        snprintf(want, sizeof(want), "STATUS=serving 1 client, 1 object, 0 waiters; last reload failed, old "
                 "configuration kept: %s:2: limits.max_message: expected an integer from 1 to 16776192, "
                 "got \"big\"", f->conf);
        assert_string_equal(strstr(buf, "STATUS="), want);

        /* The old configuration is in force; nothing of the new one is. */
        assert_int_equal(harness_stat(m, "max_message"), 1000);
        assert_int_equal(harness_stat(m, "objects"), 1);
        assert_int_equal(mpx_queue_qsize(m, "jobs"), 1);

        /* A syntax error is refused the same way. */
        text_file_replace(f->conf, "limits = { max_message = ; };\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        notify_wait_for(f->d.notify_fd, "READY=1", buf, sizeof(buf));
        assert_non_null(strstr(buf, "last reload failed, old configuration kept: "));
        assert_non_null(strstr(buf, "mpxd.conf:1: syntax error"));

        /* A good file again clears the failure. */
        text_file_replace(f->conf, "limits = { max_message = 3000; };\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        notify_wait_for(f->d.notify_fd, "READY=1", buf, sizeof(buf));
        assert_null(strstr(buf, "failed"));
        assert_int_equal(harness_stat(m, "max_message"), 3000);
        mpx_disconnect(m);

        assert_int_equal(stop_daemon(f), 0);
        log = read_text(f->log);
        snprintf(want, sizeof(want), "mpxd: error: %s:2: limits.max_message: expected an integer from 1 to "
                 "16776192, got \"big\"\n", f->conf);
        assert_non_null(strstr(log, want));
        snprintf(want, sizeof(want), "mpxd: error: reloading %s failed; keeping the configuration in force\n",
                 f->conf);
        assert_int_equal(count_of(log, want), 2);
        free(log);
}

/* ---- limits ---- */

static void test_max_clients(void **state) {
        static const char *const args[] = { "--max-clients", "2", NULL };
        struct fixture *f = *state;
        struct daemon_options o = { .args = args };
        struct wire_buf b;
        struct wire_header h;
        uint8_t reply[64];
        mpx *m1, *m2, *m3 = NULL;
        int fd;

        start(f, &o);
        m1 = harness_connect(&f->d);
        m2 = harness_connect(&f->d);
        /* The third is told why, in the reply to its HELLO. */
        assert_int_equal(mpx_connect(f->d.socket, &m3), -EUSERS);
        assert_null(m3);

        /* On the wire: the first request is answered EUSERS, then the connection is closed. */
        fd = raw_connect(f, f->d.socket);
        wire_buf_init(&b);
        build_hello_get(&b, NULL);
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
        assert_int_equal(raw_read_all(fd, reply, sizeof(reply), monotonic_ms() + io_timeout_ms()),
                         WIRE_HEADER_SIZE);
        wire_header_decode(reply, &h);
        assert_int_equal(h.id, 1);
        assert_int_equal(h.op, WIRE_OP_HELLO);
        assert_int_equal(h.status, WIRE_EUSERS);
        assert_int_equal(h.body_len, 0);

        /* One that says nothing is closed all the same. */
        fd = raw_connect(f, f->d.socket);
        assert_int_equal(raw_read_all(fd, reply, sizeof(reply), monotonic_ms() + io_timeout_ms()), 0);

        /* Room again once a client leaves. */
        mpx_disconnect(m1);
        harness_wait_stat(m2, "clients", 1);
        m1 = harness_connect(&f->d);
        assert_int_equal(mpx_ping(m1), 0);
        mpx_disconnect(m1);
        mpx_disconnect(m2);
}

static void test_max_objects(void **state) {
        static const char *const args[] = { "--max-objects", "2", NULL };
        struct fixture *f = *state;
        struct daemon_options o = { .config = f->conf, .args = args };
        mpx *m;

        text_file_write(f->conf, "objects = { queues = ( { name = \"jobs\"; } ); };\n");
        start(f, &o);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "second", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(m, "third", 0, 0), -EUSERS);
        /* What exists may be declared again at the limit. */
        assert_int_equal(mpx_queue_declare(m, "second", 0, 0), 0);
        assert_int_equal(mpx_delete(m, "second"), 0);
        assert_int_equal(mpx_queue_declare(m, "third", 0, 0), 1);
        mpx_disconnect(m);
}

/* ---- SIGTERM with 1,000 blocked clients ---- */

static void test_shutdown_with_blocked_clients(void **state) {
        struct fixture *f = *state;
        struct rlimit rl;
        struct wire_buf b;
        int64_t t0, elapsed, bound = harness_under_valgrind() ? 60000 : SHUTDOWN_BOUND_MS;
        rlim_t need = BLOCKED_CLIENTS + 200;
        mpx *m;
        int status;

        /* Each client is a descriptor here and one in the daemon. */
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_cur < need) {
                if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
                        print_message("open file limit %llu < %llu; skipping\n", (unsigned long long) rl.rlim_max,
                                      (unsigned long long) need);
                        skip();
                }
                rl.rlim_cur = need;
                assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        }
        start(f, NULL);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "jobs", 0, 0), 1);

        wire_buf_init(&b);
        build_hello_get(&b, "jobs");
        for (int i = 0; i < BLOCKED_CLIENTS; i++)
                raw_send(raw_connect(f, f->d.socket), b.data, b.len);
        wire_buf_done(&b);
        harness_wait_stat(m, "waiters", BLOCKED_CLIENTS);
        mpx_disconnect(m);

        t0 = monotonic_ms();
        assert_int_equal(kill(f->d.pid, SIGTERM), 0);
        status = child_wait(f->d.pid);
        elapsed = monotonic_ms() - t0;
        f->d.pid = 0;
        f->running = false;
        print_message("mpxd stopped in %lld ms with %d clients blocked\n", (long long) elapsed, BLOCKED_CLIENTS);
        assert_int_equal(status, 0);
        if (elapsed > bound)
                fail_msg("mpxd took %lld ms to stop, more than %lld", (long long) elapsed, (long long) bound);

        /* Every client got its HELLO reply, then ESHUTDOWN for its get, then the end. */
        for (size_t i = 0; i < f->n_raw; i++) {
                uint8_t buf[512];
                struct wire_header h1, h2;
                ssize_t n = raw_read_all(f->raw[i], buf, sizeof(buf), monotonic_ms() + io_timeout_ms());

                if (n < 2 * (ssize_t) WIRE_HEADER_SIZE)
                        fail_msg("client %zu: %zd bytes before the end", i, n);
                wire_header_decode(buf, &h1);
                assert_int_equal(h1.id, 1);
                assert_int_equal(h1.status, WIRE_OK);
                if ((size_t) n != 2 * WIRE_HEADER_SIZE + h1.body_len)
                        fail_msg("client %zu: %zd bytes, expected HELLO's reply and one more header", i, n);
                wire_header_decode(buf + WIRE_HEADER_SIZE + h1.body_len, &h2);
                assert_int_equal(h2.id, 2);
                assert_int_equal(h2.op, WIRE_OP_QUEUE_GET);
                assert_int_equal(h2.status, WIRE_ESHUTDOWN);
        }
        harness_stop(&f->d);
}

/* ---- other signals, logging ---- */

static void test_sigchld_and_sigpipe(void **state) {
        struct fixture *f = *state;
        mpx *m;

        start(f, NULL);
        m = harness_connect(&f->d);
        /* No child exited: the reaper finds nothing and goes on. SIGPIPE is ignored. */
        assert_int_equal(kill(f->d.pid, SIGCHLD), 0);
        assert_int_equal(kill(f->d.pid, SIGPIPE), 0);
        assert_int_equal(mpx_ping(m), 0);
        assert_int_equal(mpx_queue_declare(m, "jobs", 0, 0), 1);
        mpx_disconnect(m);
}

static void test_journal_stream(void **state) {
        struct fixture *f = *state;
        char env_value[64];
        const char *env[] = { env_value, NULL };
        struct daemon_options o = { .env = env, .stderr_path = f->log };
        struct stat st;
        char *log;

        /* With a journal running, the records would go there; this checks the stream form. */
        if (access("/run/systemd/journal/socket", F_OK) == 0)
                skip();
        text_file_write(f->log, "%s", "");
        assert_int_equal(stat(f->log, &st), 0);
        snprintf(env_value, sizeof(env_value), "JOURNAL_STREAM=%lu:%lu", (unsigned long) st.st_dev,
                 (unsigned long) st.st_ino);
        start(f, &o);
        assert_int_equal(stop_daemon(f), 0);
        log = read_text(f->log);
        /* The journal's <N> priority prefix, not the level in words. */
        assert_non_null(strstr(log, "<6>serving on "));
        assert_non_null(strstr(log, "<6>SIGTERM received, stopping\n"));
        assert_null(strstr(log, "mpxd: info:"));
        free(log);
}

/* ---- socket activation ---- */

/* The path of systemd-socket-activate, or NULL when it is not installed. */
static const char *socket_activate_path(void) {
        static const char *const paths[] = { "/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate",
                                             "/usr/local/bin/systemd-socket-activate" };

        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

/*
 * Start mpxd through systemd-socket-activate on the listening sockets at
 * paths (NULL-terminated). It waits for a first connection before it starts
 * mpxd. Returns the pid, which stays the daemon's (it execs).
 */
static pid_t socket_activate(struct fixture *f, const char *notify_path, const char *const *paths) {
        const char *argv[40];
        char notify_env[340];
        int argc = 0;
        pid_t pid;

        argv[argc++] = socket_activate_path();
        for (size_t i = 0; paths[i]; i++) {
                argv[argc++] = "-l";
                argv[argc++] = paths[i];
        }
        snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", notify_path);
        argv[argc++] = "-E";
        argv[argc++] = notify_env;
        if (harness_under_valgrind()) {
                argv[argc++] = "/usr/bin/valgrind";
                argv[argc++] = "-q";
                argv[argc++] = "--error-exitcode=99";
                argv[argc++] = "--leak-check=full";
                argv[argc++] = "--errors-for-leak-kinds=definite,indirect";
        }
        argv[argc++] = getenv("MPXD");
        argv[argc++] = "-c";
        argv[argc++] = f->conf;
        argv[argc] = NULL;
        text_file_write(f->conf, "%s", "");
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int err = open(f->log, O_WRONLY | O_CREAT | O_APPEND, 0644);

                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (err < 0 || dup2(err, 2) < 0)
                        _exit(126);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        return pid;
}

/* Connect to path once it exists: systemd-socket-activate binds it after it starts. */
static int connect_when_there(const char *path, int64_t deadline) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct timespec pause = { .tv_sec = 0, .tv_nsec = 1000000 };

        memcpy(sa.sun_path, path, strlen(path) + 1);
        for (;;) {
                int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

                assert_true(fd >= 0);
                if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0)
                        return fd;
                close(fd);
                if (errno != ENOENT && errno != ECONNREFUSED)
                        fail_msg("connect(%s): %s", path, strerror(errno));
                if (monotonic_ms() > deadline)
                        fail_msg("%s did not appear", path);
                nanosleep(&pause, NULL);
        }
}

static void test_socket_activation(void **state) {
        struct fixture *f = *state;
        char sock[320], notify_path[320], lock[330], buf[1024];
        const char *paths[] = { sock, NULL };
        int64_t deadline = monotonic_ms() + io_timeout_ms();
        struct stat st;
        mpx *m;
        pid_t pid;
        int nfd, fd;
        char *log;

        if (!socket_activate_path())
                skip();
        snprintf(sock, sizeof(sock), "%s/activated.sock", f->dir);
        snprintf(lock, sizeof(lock), "%s.lock", sock);
        nfd = notify_open(f->dir, "notify.sock", notify_path, sizeof(notify_path));
        pid = socket_activate(f, notify_path, paths);

        /* The first connection starts mpxd on the passed socket. */
        fd = connect_when_there(sock, deadline);
        assert_true(notify_next(nfd, buf, sizeof(buf), io_timeout_ms()));
        assert_non_null(strstr(buf, "READY=1"));
        close(fd);
        assert_int_equal(mpx_connect(sock, &m), 0);
        assert_int_equal(mpx_queue_declare(m, "jobs", 0, 0), 1);
        assert_int_equal(mpx_queue_put(m, "jobs", "x", 1, 0), 0);
        assert_int_equal(mpx_queue_qsize(m, "jobs"), 1);
        mpx_disconnect(m);

        assert_int_equal(kill(pid, SIGTERM), 0);
        assert_int_equal(child_wait(pid), 0);
        close(nfd);
        /* The socket belongs to systemd: still there, and no lock file beside it. */
        assert_int_equal(stat(sock, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(access(lock, F_OK), -1);
        log = read_text(f->log);
        assert_non_null(strstr(log, "mpxd: info: serving on the socket passed by systemd\n"));
        free(log);
}

static void test_socket_activation_two_sockets(void **state) {
        struct fixture *f = *state;
        char a[320], b[320], notify_path[320];
        const char *paths[] = { a, b, NULL };
        pid_t pid;
        int nfd, fd;
        char *log;

        if (!socket_activate_path())
                skip();
        snprintf(a, sizeof(a), "%s/a.sock", f->dir);
        snprintf(b, sizeof(b), "%s/b.sock", f->dir);
        nfd = notify_open(f->dir, "notify.sock", notify_path, sizeof(notify_path));
        pid = socket_activate(f, notify_path, paths);
        fd = connect_when_there(a, monotonic_ms() + io_timeout_ms());
        assert_int_equal(child_wait(pid), 1);
        close(fd);
        close(nfd);
        log = read_text(f->log);
        assert_non_null(strstr(log, "mpxd: error: systemd passed 2 sockets; mpxd takes exactly one\n"));
        free(log);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_notify_protocol),
                harness_own_test(test_no_watchdog_for_another_pid),
                harness_own_test(test_objects_declared_at_start),
                harness_own_test(test_options_override_file),
                harness_own_test(test_bad_config_does_not_start),
                harness_own_test(test_check_config),
                harness_own_test(test_reload_changed_file),
                harness_own_test(test_reload_broken_file),
                harness_own_test(test_max_clients),
                harness_own_test(test_max_objects),
                harness_own_test(test_shutdown_with_blocked_clients),
                harness_own_test(test_sigchld_and_sigpipe),
                harness_own_test(test_journal_stream),
                harness_own_test(test_socket_activation),
                harness_own_test(test_socket_activation_two_sockets),
        };

        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
