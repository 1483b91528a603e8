/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of the mpx wire protocol against a real mpxd: raw bytes
 * over a plain AF_UNIX socket, with libmpx connections as the well-behaved
 * bystanders. They cover the HELLO handshake, every per-request protocol
 * error (no HELLO, unknown opcode, malformed body) after which the
 * connection goes on, the fatal one (a frame over max_frame) after which the
 * daemon closes it, garbage and fuzzed frames, clients that stall, vanish or
 * never read their replies, pipelining, CANCEL of parked requests of every
 * kind (and its race with puts), shutdown while blocked, and how the
 * daemon treats its socket path: a second daemon on a live socket refuses to
 * start, a stale socket file is replaced.
 *
 * Every read has a deadline, so a daemon that hangs fails a test instead of
 * blocking it; nothing waits by sleeping. What the queues mean is tested in
 * test-queue; this file owns the bytes and the connections.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check-at.h"
#include "harness.h"
#include "monotonic.h"
#include "macros.h"
#include "request-builder.h"
#include "wire.h"
#include "temp-dir.h"

#define MAX_RAW         16
#define MAX_MPX         4
#define MAX_KIDS        2
#define REPLY_BODY_MAX  4096

/* Ids the helpers use for their own round trips. */
#define HELPER_ID       0xfff0u

/* One reply frame; only the first REPLY_BODY_MAX bytes of its body are kept. */
struct reply {
        struct wire_header h;
        uint8_t body[REPLY_BODY_MAX];
};

/* An mpxd this file starts itself, with its stderr on a pipe. */
struct kid {
        pid_t pid;
        int err_fd;                     /* read end of its stderr: EOF once it has exited */
        char err[2048];                 /* what it wrote there, NUL-terminated */
        size_t err_len;
};

struct fixture {
        struct harness_daemon d;
        bool running;                   /* d is up; teardown stops it and checks its exit status */
        int raw[MAX_RAW];
        mpx *m[MAX_MPX];
        struct kid kids[MAX_KIDS];
        char dir[256];                  /* a folder of the test's own, or "" */
};

/* How long one reply, or one exit, may take: a few seconds, more under valgrind. */
static int64_t io_timeout_ms(void) {
        return harness_under_valgrind() ? 60000 : 5000;
}

/* ---- raw connections ---- */

/* Put path into a socket address; it must fit. */
static void set_sun_path(struct sockaddr_un *sa, const char *path) {
        size_t len = strlen(path);

        if (len >= sizeof(sa->sun_path))
                fail_msg("socket path too long: %s", path);
        memcpy(sa->sun_path, path, len + 1);
}

/* Connect a plain blocking socket to the daemon; teardown closes it. */
static int raw_open(struct fixture *f) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t i;
        int fd;

        for (i = 0; i < MAX_RAW && f->raw[i] >= 0; i++)
                ;
        assert_true(i < MAX_RAW);
        set_sun_path(&sa, f->d.socket);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                fail_msg("connect(%s): %s", sa.sun_path, strerror(errno));
        f->raw[i] = fd;
        return fd;
}

/* Close a raw connection now: the daemon sees the peer vanish. */
static void raw_close(struct fixture *f, int fd) {
        for (size_t i = 0; i < MAX_RAW; i++)
                if (f->raw[i] == fd) {
                        close(fd);
                        f->raw[i] = -1;
                        return;
                }
        fail_msg("fd %d is not a raw connection of the test", fd);
}

/* Write all of data before the deadline: 0, or a negative errno (EPIPE, ECONNRESET ...). */
static int raw_write(int fd, const void *data, size_t len) {
        const uint8_t *p = data;
        int64_t deadline = monotonic_ms() + io_timeout_ms();

        while (len > 0) {
                struct pollfd pfd = { .fd = fd, .events = POLLOUT };
                int64_t left = deadline - monotonic_ms();
                ssize_t n;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void raw_send_at(int fd, const void *data, size_t len, const char *file, int line) {
        int r = raw_write(fd, data, len);

        check_at(r == 0, file, line, "sending %zu bytes: %s", len, strerror(-r));
}

#define raw_send(fd, data, len) raw_send_at(fd, data, len, __FILE__, __LINE__)

/*
 * Read exactly len bytes before the deadline. Returns len, or the number read
 * before the peer closed (end of file or ECONNRESET), or -ETIMEDOUT.
 */
static ssize_t raw_read_exact(int fd, void *dst, size_t len, int64_t deadline) {
        uint8_t *p = dst;
        size_t got = 0;

        while (got < len) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - monotonic_ms();
                ssize_t n;

                if (left <= 0)
                        return -ETIMEDOUT;
                if (poll(&pfd, 1, (int) left) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (!pfd.revents)
                        continue;
                n = recv(fd, p + got, len - got, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == ECONNRESET)
                                break;
                        return -errno;
                }
                if (n == 0)
                        break;
                got += (size_t) n;
        }
        return (ssize_t) got;
}

/* Read one reply frame: 1, or 0 when the daemon closed the connection first. */
static int raw_reply_at(int fd, struct reply *ret, const char *file, int line) {
        int64_t deadline = monotonic_ms() + io_timeout_ms();
        uint8_t hdr[WIRE_HEADER_SIZE];
        ssize_t n = raw_read_exact(fd, hdr, sizeof(hdr), deadline);
        size_t keep;

        check_at(n != -ETIMEDOUT, file, line, "no reply within %lld ms", (long long) io_timeout_ms());
        check_at(n >= 0, file, line, "reading a reply: %s", strerror((int) -n));
        if (n == 0)
                return 0;
        check_at(n == (ssize_t) sizeof(hdr), file, line, "the connection ended inside a reply header");
        wire_header_decode(hdr, &ret->h);
        check_at(ret->h.body_len <= WIRE_DEFAULT_MAX_FRAME + 64 * 1024, file, line,
                 "reply announces a body of %u bytes", ret->h.body_len);
        keep = ret->h.body_len < REPLY_BODY_MAX ? ret->h.body_len : REPLY_BODY_MAX;
        n = raw_read_exact(fd, ret->body, keep, deadline);
        check_at(n == (ssize_t) keep, file, line, "reply body cut short");
        /* Skip what does not fit. */
        for (size_t left = ret->h.body_len - keep; left > 0;) {
                uint8_t scratch[4096];
                size_t k = left < sizeof(scratch) ? left : sizeof(scratch);

                n = raw_read_exact(fd, scratch, k, deadline);
                check_at(n == (ssize_t) k, file, line, "reply body cut short");
                left -= k;
        }
        return 1;
}

#define raw_reply(fd, ret) raw_reply_at(fd, ret, __FILE__, __LINE__)

/* Read one reply and check its header. */
static void raw_expect_at(int fd, struct reply *ret, uint32_t id, uint16_t op, uint16_t status,
                          const char *file, int line) {
        struct reply local;

        if (!ret)
                ret = &local;
        check_at(raw_reply_at(fd, ret, file, line) == 1, file, line,
                 "connection closed, expected a reply id %u op %u status %u", id, op, status);
        check_at(ret->h.id == id && ret->h.op == op && ret->h.status == status, file, line,
                 "reply id %u op %u status %u, expected id %u op %u status %u", ret->h.id, ret->h.op,
                 ret->h.status, id, op, status);
}

#define raw_expect(fd, ret, id, op, status) raw_expect_at(fd, ret, id, op, status, __FILE__, __LINE__)

/* The daemon closes the connection without sending anything more. */
static void raw_expect_eof_at(int fd, const char *file, int line) {
        struct reply r;

        check_at(raw_reply_at(fd, &r, file, line) == 0, file, line,
                 "expected the connection to close, got a reply id %u op %u status %u", r.h.id, r.h.op,
                 r.h.status);
}

#define raw_expect_eof(fd) raw_expect_eof_at(fd, __FILE__, __LINE__)

/* Send one request frame as append_request describes it. */
static void raw_request(int fd, uint32_t id, uint16_t op, const char *fmt, ...) {
        struct wire_buf b;
        va_list ap;

        wire_buf_init(&b);
        va_start(ap, fmt);
        append_request_v(&b, id, op, fmt, ap);
        va_end(ap);
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
}

/* HELLO with version 1; fails the test unless it is accepted. */
static void raw_hello_at(int fd, const char *file, int line) {
        raw_request(fd, HELPER_ID, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-protocol");
        raw_expect_at(fd, NULL, HELPER_ID, WIRE_OP_HELLO, WIRE_OK, file, line);
}

#define raw_hello(fd) raw_hello_at(fd, __FILE__, __LINE__)

/* A raw connection that has said HELLO. */
static int raw_session(struct fixture *f) {
        int fd = raw_open(f);

        raw_hello(fd);
        return fd;
}

/* Check the body of a GET reply: one item with this payload. */
static void check_item_at(const struct reply *r, const char *payload, const char *file, int line) {
        struct wire_reader rd;
        uint64_t tag;
        uint32_t deliveries, size = 0;
        const void *data = NULL;

        wire_reader_init(&rd, r->body, r->h.body_len);
        check_at(wire_get_u64(&rd, &tag) && wire_get_u32(&rd, &deliveries) &&
                 wire_get_bytes(&rd, &data, &size) && wire_reader_done(&rd), file, line, "malformed item");
        check_at(size == strlen(payload) && memcmp(data, payload, size) == 0, file, line,
                 "item '%.*s', expected '%s'", (int) size, (const char *) data, payload);
}

#define check_item(r, payload) check_item_at(r, payload, __FILE__, __LINE__)

/* ---- libmpx connections ---- */

/* A libmpx connection; teardown disconnects it. */
static mpx *lib_open(struct fixture *f) {
        for (size_t i = 0; i < MAX_MPX; i++)
                if (!f->m[i]) {
                        f->m[i] = harness_connect(&f->d);
                        return f->m[i];
                }
        fail_msg("too many libmpx connections");
        return NULL;
}

/* m still gets full service: a ping and a put/get round trip on a queue of its own. */
static void assert_served_at(mpx *m, const char *file, int line) {
        static unsigned n;
        char name[32], payload[32];
        mpx_item item = { 0 };
        int r;

        snprintf(name, sizeof(name), "served-%u", n);
        snprintf(payload, sizeof(payload), "payload-%u", n++);
        r = mpx_ping(m);
        check_at(r == 0, file, line, "ping: %s", mpx_strerror(r));
        r = mpx_queue_declare(m, name, 0, 0);
        check_at(r == 1, file, line, "declare %s: %d %s", name, r, mpx_strerror(r));
        r = mpx_queue_put(m, name, payload, strlen(payload), 0);
        check_at(r == 0, file, line, "put: %s", mpx_strerror(r));
        r = mpx_queue_get(m, name, 0, &item);
        check_at(r == 0, file, line, "get: %s", mpx_strerror(r));
        check_at(item.size == strlen(payload) && memcmp(item.data, payload, item.size) == 0, file, line,
                 "got another item");
        mpx_item_clear(&item);
        r = mpx_delete(m, name);
        check_at(r == 0, file, line, "delete: %s", mpx_strerror(r));
}

#define assert_served(m) assert_served_at(m, __FILE__, __LINE__)

/* ---- daemons this file starts itself ---- */

/*
 * Start $MPXD -s socket and extra arguments (NULL-terminated, may be NULL), under valgrind if
 * asked, telling READY=1 to notify_path if not NULL.
 */
static void kid_spawn(struct kid *k, const char *socket, const char *notify_path, const char *const *extra) {
        const char *mpxd = getenv("MPXD");
        const char *argv[32];
        int argc = 0, pipefd[2];

        if (!mpxd)
                fail_msg("MPXD is not set: run the tests with make check");
        if (harness_under_valgrind())
                argc += daemon_valgrind_argv(argv + argc);
        argv[argc++] = mpxd;
        argv[argc++] = "-s";
        argv[argc++] = socket;
        for (size_t i = 0; extra && extra[i] && argc < 30; i++)
                argv[argc++] = extra[i];
        argv[argc] = NULL;

        assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
        fflush(NULL);
        k->pid = fork();
        assert_true(k->pid >= 0);
        if (k->pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                dup2(pipefd[1], STDERR_FILENO);
                if (notify_path)
                        setenv("NOTIFY_SOCKET", notify_path, 1);
                else
                        unsetenv("NOTIFY_SOCKET");
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(pipefd[1]);
        k->err_fd = pipefd[0];
        k->err_len = 0;
        k->err[0] = '\0';
}

/* Take what the kid wrote to stderr; false at end of file (it has exited). */
static bool kid_drain(struct kid *k) {
        char buf[512];
        ssize_t n = read(k->err_fd, buf, sizeof(buf));

        if (n < 0)
                return errno == EINTR || errno == EAGAIN;
        if (n == 0)
                return false;
        for (ssize_t i = 0; i < n && k->err_len + 1 < sizeof(k->err); i++)
                k->err[k->err_len++] = buf[i];
        k->err[k->err_len] = '\0';
        return true;
}

/* Wait for the kid to exit (its stderr reaches end of file) and return its exit status. */
static int kid_wait_at(struct kid *k, const char *file, int line) {
        int64_t deadline = monotonic_ms() + io_timeout_ms() * 2;
        int status;

        for (;;) {
                struct pollfd p = { .fd = k->err_fd, .events = POLLIN };
                int64_t left = deadline - monotonic_ms();

                check_at(left > 0, file, line, "mpxd (pid %ld) did not exit; it said: %s", (long) k->pid,
                         k->err);
                if (poll(&p, 1, (int) left) <= 0)
                        continue;
                if (!kid_drain(k))
                        break;
        }
        close(k->err_fd);
        k->err_fd = -1;
        while (waitpid(k->pid, &status, 0) < 0)
                check_at(errno == EINTR, file, line, "waitpid: %s", strerror(errno));
        k->pid = 0;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define kid_wait(k) kid_wait_at(k, __FILE__, __LINE__)

/* Wait for READY=1 on the notify socket, failing early if the kid exits instead. */
static void kid_wait_ready_at(struct kid *k, int notify_fd, const char *file, int line) {
        int64_t deadline = monotonic_ms() + (harness_under_valgrind() ? 60000 : 10000);

        for (;;) {
                struct pollfd p[2] = {
                        { .fd = notify_fd, .events = POLLIN },
                        { .fd = k->err_fd, .events = POLLIN },
                };
                int64_t left = deadline - monotonic_ms();
                char buf[512];
                ssize_t n;

                check_at(left > 0, file, line, "mpxd did not become ready; it said: %s", k->err);
                if (poll(p, 2, (int) left) <= 0)
                        continue;
                if (p[1].revents)
                        check_at(kid_drain(k), file, line, "mpxd exited before it was ready; it said: %s",
                                 k->err);
                if (!p[0].revents)
                        continue;
                n = recv(notify_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                if (strstr(buf, "READY=1"))
                        return;
        }
}

#define kid_wait_ready(k, notify_fd) kid_wait_ready_at(k, notify_fd, __FILE__, __LINE__)

/* A datagram socket for sd_notify at dir/name. */
static int notify_open(const char *dir, const char *name, char *ret_path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(ret_path, size, "%s/%s", dir, name);
        set_sun_path(&sa, ret_path);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                fail_msg("bind %s: %s", ret_path, strerror(errno));
        return fd;
}

/* ---- setup and teardown ---- */

static struct fixture *fixture_new(void) {
        struct fixture *f = calloc(1, sizeof(*f));

        if (!f)
                return NULL;
        for (size_t i = 0; i < MAX_RAW; i++)
                f->raw[i] = -1;
        for (size_t i = 0; i < MAX_KIDS; i++)
                f->kids[i].err_fd = -1;
        return f;
}

static int setup_with_args(void **state, const char *const *args) {
        struct fixture *f = fixture_new();

        if (!f)
                return -1;
        /* A dead peer must give EPIPE here, not kill the test. */
        signal(SIGPIPE, SIG_IGN);
        *state = f;
        harness_start(&f->d, args);
        f->running = true;
        return 0;
}

static int setup(void **state) {
        return setup_with_args(state, NULL);
}

static int setup_small_message(void **state) {
        static const char *const args[] = { "--max-message", "1000", NULL };

        return setup_with_args(state, args);
}

static int setup_max_message_limit(void **state) {
        static const char *const args[] = { "--max-message", "16776192", NULL };

        return setup_with_args(state, args);
}

/* No harness daemon: the test starts its own in a folder of its own. */
static int setup_own_dir(void **state) {
        struct fixture *f = fixture_new();

        if (!f)
                return -1;
        signal(SIGPIPE, SIG_IGN);
        if (!temp_dir_make(f->dir, sizeof(f->dir), "mpx-proto")) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status = 0;

        for (size_t i = 0; i < MAX_RAW; i++)
                if (f->raw[i] >= 0)
                        close(f->raw[i]);
        for (size_t i = 0; i < MAX_MPX; i++)
                mpx_disconnect(f->m[i]);
        for (size_t i = 0; i < MAX_KIDS; i++) {
                struct kid *k = &f->kids[i];

                if (k->pid > 0) {
                        kill(k->pid, SIGKILL);
                        (void) harness_wait(k->pid);
                }
                if (k->err_fd >= 0)
                        close(k->err_fd);
        }
        if (f->dir[0] && temp_dir_remove(f->dir) != 0)
                fprintf(stderr, "could not remove %s\n", f->dir);
        if (f->running)
                status = harness_stop(&f->d);
        free(f);
        /* 0: mpxd stopped cleanly on SIGTERM (and, under valgrind, without errors or leaks). */
        assert_int_equal(status, 0);
        return 0;
}

/* ---- tests ---- */

static void test_hello_handshake(void **state) {
        struct fixture *f = *state;
        int fd = raw_open(f);
        struct reply r;
        struct wire_reader rd;
        uint32_t version = 0, max_message = 0, max_frame = 0;
        const char *server = NULL;
        uint16_t server_len = 0;

        raw_request(fd, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-protocol");
        raw_expect(fd, &r, 1, WIRE_OP_HELLO, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version));
        assert_true(wire_get_u32(&rd, &max_message));
        assert_true(wire_get_u32(&rd, &max_frame));
        assert_true(wire_get_str(&rd, &server, &server_len));
        assert_true(wire_reader_done(&rd));
        assert_int_equal(version, 1);
        assert_int_equal(max_message, WIRE_DEFAULT_MAX_MESSAGE);
        assert_int_equal(max_frame, WIRE_DEFAULT_MAX_FRAME);
        assert_true(server_len > 5);
        assert_memory_equal(server, "mpxd ", 5);

        /* Another version: EPROTO, and the body says which one the daemon speaks. */
        fd = raw_open(f);
        raw_request(fd, 2, WIRE_OP_HELLO, "wt", 7u, "from-the-future");
        raw_expect(fd, &r, 2, WIRE_OP_HELLO, WIRE_EPROTO);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version));
        assert_int_equal(version, WIRE_VERSION);
        /* No session yet, but the connection is still open for a HELLO it can speak. */
        raw_request(fd, 3, WIRE_OP_QUEUE_QSIZE, "n", "q");
        raw_expect(fd, NULL, 3, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        raw_hello(fd);
        raw_request(fd, 4, WIRE_OP_QUEUE_QSIZE, "n", "q");
        raw_expect(fd, NULL, 4, WIRE_OP_QUEUE_QSIZE, WIRE_ENOENT);

        /* libmpx agrees. */
        assert_int_equal(mpx_max_message(lib_open(f)), WIRE_DEFAULT_MAX_MESSAGE);
}

static void test_hello_announces_max_message(void **state) {
        struct fixture *f = *state;
        int fd = raw_open(f);
        struct reply r;
        struct wire_reader rd;
        uint32_t version = 0, max_message = 0;
        char payload[1002];
        mpx *m;

        raw_request(fd, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-protocol");
        raw_expect(fd, &r, 1, WIRE_OP_HELLO, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version) && wire_get_u32(&rd, &max_message));
        assert_int_equal(max_message, 1000);

        /* One byte over the limit is refused, the limit itself is not, and the connection goes on. */
        raw_request(fd, 2, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 2, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        memset(payload, 'x', sizeof(payload) - 1);
        payload[sizeof(payload) - 1] = '\0';
        raw_request(fd, 3, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload);
        raw_expect(fd, NULL, 3, WIRE_OP_QUEUE_PUT, WIRE_EMSGSIZE);
        payload[1000] = '\0';
        raw_request(fd, 4, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload);
        raw_expect(fd, NULL, 4, WIRE_OP_QUEUE_PUT, WIRE_OK);

        /* PUT_MANY is all or none: one payload over the limit and nothing is queued. */
        payload[1000] = 'x';
        raw_request(fd, 5, WIRE_OP_QUEUE_PUT_MANY, "niwss", "q", (int64_t) 0, 2u, "small", payload);
        raw_expect(fd, NULL, 5, WIRE_OP_QUEUE_PUT_MANY, WIRE_EMSGSIZE);
        raw_request(fd, 6, WIRE_OP_PING, "s", "still open");
        raw_expect(fd, NULL, 6, WIRE_OP_PING, WIRE_OK);

        m = lib_open(f);
        assert_int_equal(mpx_max_message(m), 1000);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        assert_int_equal(mpx_queue_put(m, "q", payload, 1001, 0), -EMSGSIZE);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
}

static void test_max_message_limit(void **state) {
        enum { LIMIT = WIRE_DEFAULT_MAX_FRAME - 1024 };
        static const char *const over[] = { "--max-message", "16776193", NULL };
        struct fixture *f = *state;
        int fd = raw_open(f);
        char name[256], other[300];
        struct reply r;
        struct wire_reader rd;
        uint32_t version = 0, max_message = 0;
        uint8_t *payload = malloc(LIMIT);
        int status;

        /* This daemon runs with the largest --max-message there is ... */
        raw_request(fd, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-protocol");
        raw_expect(fd, &r, 1, WIRE_OP_HELLO, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u32(&rd, &version) && wire_get_u32(&rd, &max_message));
        assert_int_equal(max_message, LIMIT);

        /* ... and a payload of that size fits in one frame even with the longest name. */
        memset(name, 'n', 255);
        name[255] = '\0';
        assert_non_null(payload);
        memset(payload, 0xab, LIMIT);
        raw_request(fd, 2, WIRE_OP_QUEUE_DECLARE, "nqw", name, (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 2, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        raw_request(fd, 3, WIRE_OP_QUEUE_PUT, "niwr", name, (int64_t) 0, (uint32_t) LIMIT, payload,
                    (size_t) LIMIT);
        raw_expect(fd, NULL, 3, WIRE_OP_QUEUE_PUT, WIRE_OK);
        raw_request(fd, 4, WIRE_OP_QUEUE_GET, "niw", name, (int64_t) 0, 0u);
        raw_expect(fd, &r, 4, WIRE_OP_QUEUE_GET, WIRE_OK);
        assert_int_equal(r.h.body_len, 8 + 4 + 4 + LIMIT);
        free(payload);

        /* One byte more is refused on the command line: usage error, exit status 2. */
        snprintf(other, sizeof(other), "%s/other.sock", f->d.dir);
        kid_spawn(&f->kids[0], other, NULL, over);
        status = kid_wait(&f->kids[0]);
        if (status != 2)
                fail_msg("mpxd --max-message 16776193 exited %d, expected 2; it said: %s", status,
                         f->kids[0].err);
}

static void test_frame_of_max_frame(void **state) {
        struct fixture *f = *state;
        int fd = raw_session(f);
        uint8_t *frame = calloc(1, WIRE_HEADER_SIZE + WIRE_DEFAULT_MAX_FRAME);
        struct wire_header h = {
                .body_len = WIRE_DEFAULT_MAX_FRAME,
                .id = 77,
                .op = WIRE_OP_PING,
                .status = 3,
        };
        uint32_t echo_len = WIRE_DEFAULT_MAX_FRAME - 4;
        struct reply r;

        /* A body of exactly max_frame is a normal frame; the status of a request is ignored. */
        assert_non_null(frame);
        wire_header_encode(frame, &h);
        for (int i = 0; i < 4; i++)
                frame[WIRE_HEADER_SIZE + i] = (uint8_t) (echo_len >> (8 * i));
        frame[WIRE_HEADER_SIZE + 4] = 'e';
        raw_send(fd, frame, WIRE_HEADER_SIZE + WIRE_DEFAULT_MAX_FRAME);
        free(frame);
        raw_expect(fd, &r, 77, WIRE_OP_PING, WIRE_OK);
        assert_int_equal(r.h.body_len, WIRE_DEFAULT_MAX_FRAME);
        assert_int_equal(r.body[4], 'e');
        raw_request(fd, 78, WIRE_OP_PING, "s", "next");
        raw_expect(fd, NULL, 78, WIRE_OP_PING, WIRE_OK);
}

static void test_request_before_hello(void **state) {
        struct fixture *f = *state;
        int fd = raw_open(f);
        struct reply r;
        mpx *m = lib_open(f);

        raw_request(fd, 10, WIRE_OP_QUEUE_DECLARE, "nqw", "early", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 10, WIRE_OP_QUEUE_DECLARE, WIRE_EPROTO);
        raw_request(fd, 11, WIRE_OP_STATS, "");
        raw_expect(fd, NULL, 11, WIRE_OP_STATS, WIRE_EPROTO);
        /* PING needs no session. */
        raw_request(fd, 12, WIRE_OP_PING, "s", "abc");
        raw_expect(fd, &r, 12, WIRE_OP_PING, WIRE_OK);
        assert_int_equal(r.h.body_len, 4 + 3);
        assert_memory_equal(r.body + 4, "abc", 3);
        assert_int_equal(mpx_queue_qsize(m, "early"), -ENOENT);

        raw_hello(fd);
        raw_request(fd, 13, WIRE_OP_QUEUE_DECLARE, "nqw", "early", (uint64_t) 0, 0u);
        raw_expect(fd, &r, 13, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
        assert_int_equal(r.h.body_len, 1);
        assert_int_equal(r.body[0], 1);
        assert_int_equal(mpx_queue_qsize(m, "early"), 0);
}

static void test_unknown_opcode(void **state) {
        struct fixture *f = *state;
        int fd = raw_open(f);

        raw_request(fd, 20, 4242, "w", 1u);
        raw_expect(fd, NULL, 20, 4242, WIRE_EOPNOTSUPP);
        raw_hello(fd);
        raw_request(fd, 21, 4242, "");
        raw_expect(fd, NULL, 21, 4242, WIRE_EOPNOTSUPP);
        raw_request(fd, 22, UINT16_MAX, "r", "\xff\xff\xff\xff\xff\xff\xff\xff", (size_t) 8);
        raw_expect(fd, NULL, 22, UINT16_MAX, WIRE_EOPNOTSUPP);
        raw_request(fd, 23, 0, "");
        raw_expect(fd, NULL, 23, 0, WIRE_EOPNOTSUPP);
        /* The connection goes on. */
        raw_request(fd, 24, WIRE_OP_PING, "s", "");
        raw_expect(fd, NULL, 24, WIRE_OP_PING, WIRE_OK);
        raw_request(fd, 25, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 25, WIRE_OP_QUEUE_DECLARE, WIRE_OK);
}

static void test_malformed_body(void **state) {
        static const uint8_t bad_name[] = { 3, 'a', ' ', 'b' };
        static const uint8_t long_bytes[] = { 0xff, 0xff, 0, 0, 'a' };
        struct fixture *f = *state;
        int fd = raw_session(f);
        struct reply r;

        raw_request(fd, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 1, WIRE_OP_QUEUE_DECLARE, WIRE_OK);

        /* Truncated body. */
        raw_request(fd, 2, WIRE_OP_QUEUE_PUT, "ni", "q", (int64_t) 0);
        raw_expect(fd, NULL, 2, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        /* A payload announced longer than the body. */
        raw_request(fd, 3, WIRE_OP_QUEUE_PUT, "nir", "q", (int64_t) 0, long_bytes, sizeof(long_bytes));
        raw_expect(fd, NULL, 3, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        /* Trailing bytes. */
        raw_request(fd, 4, WIRE_OP_QUEUE_PUT, "nisb", "q", (int64_t) 0, "x", 0u);
        raw_expect(fd, NULL, 4, WIRE_OP_QUEUE_PUT, WIRE_EPROTO);
        /* A bad name. */
        raw_request(fd, 5, WIRE_OP_QUEUE_QSIZE, "r", bad_name, sizeof(bad_name));
        raw_expect(fd, NULL, 5, WIRE_OP_QUEUE_QSIZE, WIRE_EPROTO);
        /* An empty body where one is needed. */
        raw_request(fd, 6, WIRE_OP_QUEUE_GET, "");
        raw_expect(fd, NULL, 6, WIRE_OP_QUEUE_GET, WIRE_EPROTO);
        raw_request(fd, 7, WIRE_OP_LIST, "qw", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 7, WIRE_OP_LIST, WIRE_EPROTO);

        /* The connection goes on, and nothing malformed entered the queue. */
        raw_request(fd, 8, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "good");
        raw_expect(fd, NULL, 8, WIRE_OP_QUEUE_PUT, WIRE_OK);
        raw_request(fd, 9, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        raw_expect(fd, &r, 9, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "good");
        raw_request(fd, 10, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        raw_expect(fd, NULL, 10, WIRE_OP_QUEUE_GET, WIRE_EAGAIN);
}

static void test_frame_over_max_frame(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        uint8_t hdr[WIRE_HEADER_SIZE];
        struct wire_header h = {
                .body_len = WIRE_DEFAULT_MAX_FRAME + 1,
                .id = 99,
                .op = WIRE_OP_QUEUE_PUT,
        };

        /* Only the header: the daemon answers without waiting for the body, then closes. */
        wire_header_encode(hdr, &h);
        raw_send(fd, hdr, sizeof(hdr));
        raw_expect(fd, NULL, 99, WIRE_OP_QUEUE_PUT, WIRE_EMSGSIZE);
        raw_expect_eof(fd);
        raw_close(f, fd);
        harness_wait_stat(m, "clients", 1);

        /* The same, as the first frame of a connection, with the largest body_len there is. */
        fd = raw_open(f);
        h.body_len = UINT32_MAX;
        h.id = 100;
        h.op = WIRE_OP_PING;
        wire_header_encode(hdr, &h);
        raw_send(fd, hdr, sizeof(hdr));
        raw_expect(fd, NULL, 100, WIRE_OP_PING, WIRE_EMSGSIZE);
        raw_expect_eof(fd);

        /*
         * Behind pipelined requests, with a parked GET and an attached delivery: what came before
         * is answered, then EMSGSIZE, then the connection closes; the parked GET is dropped and
         * the delivery goes back to the queue.
         */
        assert_int_equal(mpx_queue_declare(m, "j", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(m, "empty", 0, 0), 1);
        assert_int_equal(mpx_queue_put(m, "j", "held", 4, 0), 0);
        fd = raw_session(f);
        {
                struct wire_buf b;
                struct reply r;

                wire_buf_init(&b);
                append_request(&b, 1, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 0, 0u);
                append_request(&b, 2, WIRE_OP_QUEUE_GET, "niw", "empty", (int64_t) -1, 0u);
                append_request(&b, 3, WIRE_OP_PING, "s", "before");
                h.body_len = WIRE_DEFAULT_MAX_FRAME + 1;
                h.id = 4;
                h.op = WIRE_OP_QUEUE_PUT;
                wire_header_encode(hdr, &h);
                assert_int_equal(wire_put_raw(&b, hdr, sizeof(hdr)), 0);
                /* Not read by the daemon. */
                append_request(&b, 5, WIRE_OP_PING, "s", "after");
                raw_send(fd, b.data, b.len);
                wire_buf_done(&b);
                raw_expect(fd, &r, 1, WIRE_OP_QUEUE_GET, WIRE_OK);
                check_item(&r, "held");
                raw_expect(fd, NULL, 3, WIRE_OP_PING, WIRE_OK);
                raw_expect(fd, NULL, 4, WIRE_OP_QUEUE_PUT, WIRE_EMSGSIZE);
                raw_expect_eof(fd);
        }
        harness_wait_stat(m, "clients", 1);
        assert_int_equal(harness_field(m, "empty", "getters"), 0);
        assert_int_equal(harness_field(m, "j", "redelivered"), 1);
        {
                mpx_item item = { 0 };

                assert_int_equal(mpx_queue_get(m, "j", 0, &item), 0);
                assert_int_equal(item.deliveries, 2);
                assert_int_equal(item.size, 4);
                assert_memory_equal(item.data, "held", 4);
                assert_int_equal(mpx_queue_task_done(m, "j", item.tag), 0);
                mpx_item_clear(&item);
        }

        /* Everyone else is still served. */
        assert_served(m);
        fd = raw_session(f);
        raw_request(fd, 1, WIRE_OP_PING, "s", "ok");
        raw_expect(fd, NULL, 1, WIRE_OP_PING, WIRE_OK);
}

/* A xorshift generator: the same "random" bytes on every run. */
static uint64_t next_random(uint64_t *s) {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        return *s;
}

/* Read replies until the daemon closes the connection; each must be a sane frame. */
static unsigned drain_until_closed(int fd) {
        struct reply r;
        unsigned n = 0;

        while (raw_reply(fd, &r) == 1) {
                assert_true(r.h.status < _WIRE_STATUS_MAX);
                n++;
        }
        return n;
}

static void test_garbage(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        uint8_t garbage[4096];

        /* Pure random bytes, with and without HELLO first, several seeds. */
        for (uint64_t seed = 1; seed <= 8; seed++) {
                uint64_t s = seed * 0x9e3779b97f4a7c15u;
                int fd = seed % 2 ? raw_open(f) : raw_session(f);

                for (size_t i = 0; i < sizeof(garbage); i += 8) {
                        uint64_t v = next_random(&s);
                        memcpy(garbage + i, &v, 8);
                }
                /* The daemon may close half-way: a failed write is fine here. */
                (void) raw_write(fd, garbage, sizeof(garbage));
                /* End of our input, so a random "partial frame" cannot keep it waiting. */
                (void) shutdown(fd, SHUT_WR);
                (void) drain_until_closed(fd);
                raw_close(f, fd);
        }

        /* Zeros: 341 empty frames of opcode 0, then 4 bytes of a header that never completes. */
        {
                int fd = raw_open(f);
                unsigned n;

                memset(garbage, 0, sizeof(garbage));
                raw_send(fd, garbage, sizeof(garbage));
                assert_int_equal(shutdown(fd, SHUT_WR), 0);
                n = drain_until_closed(fd);
                assert_int_equal(n, sizeof(garbage) / WIRE_HEADER_SIZE);
                raw_close(f, fd);
        }

        /* Random frames of sane length, every opcode and status, no HELLO: one reply each. */
        {
                enum { FRAMES = 500 };
                uint64_t s = 42;
                int fd = raw_open(f);
                struct wire_buf b;
                unsigned n;

                wire_buf_init(&b);
                for (unsigned i = 0; i < FRAMES; i++) {
                        uint64_t v = next_random(&s);
                        struct wire_header h = {
                                .body_len = (uint32_t) (v % 40),
                                .id = (uint32_t) (v >> 8),
                                .op = (uint16_t) (i % 2 ? v >> 40 : (v >> 40) % 300),
                                .status = (uint16_t) (v >> 24),
                        };
                        uint8_t hdr[WIRE_HEADER_SIZE];

                        wire_header_encode(hdr, &h);
                        assert_int_equal(wire_put_raw(&b, hdr, sizeof(hdr)), 0);
                        for (uint32_t k = 0; k < h.body_len; k++)
                                assert_int_equal(wire_put_u8(&b, (uint8_t) next_random(&s)), 0);
                }
                raw_send(fd, b.data, b.len);
                wire_buf_done(&b);
                assert_int_equal(shutdown(fd, SHUT_WR), 0);
                n = drain_until_closed(fd);
                assert_int_equal(n, FRAMES);
                raw_close(f, fd);
        }

        harness_wait_stat(m, "clients", 1);
        assert_served(m);
}

static void test_fuzzed_frames(void **state) {
        static const uint16_t ops[] = {
                WIRE_OP_HELLO, WIRE_OP_PING, WIRE_OP_LIST, WIRE_OP_INFO, WIRE_OP_DELETE, WIRE_OP_STATS,
                WIRE_OP_QUEUE_DECLARE, WIRE_OP_QUEUE_PUT, WIRE_OP_QUEUE_GET, WIRE_OP_QUEUE_PUT_MANY,
                WIRE_OP_QUEUE_GET_MANY, WIRE_OP_QUEUE_QSIZE, WIRE_OP_QUEUE_CLOSE, WIRE_OP_QUEUE_TASK_DONE,
                WIRE_OP_QUEUE_JOIN, WIRE_OP_QUEUE_PURGE, 3, 99, 104, 210, 300, 4242,
        };
        enum { N_FRAMES = 2000, LAST_ID = 0xf00du };
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        uint64_t s = 0x0123456789abcdefu;
        struct wire_buf b;
        struct reply r;
        unsigned replies = 0;

        /* Queues whose names the fuzzer uses, so that lookups succeed and bodies are parsed further. */
        assert_int_equal(mpx_queue_declare(m, "fz", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(m, "jz", 4, MPX_QUEUE_JOINABLE), 1);

        wire_buf_init(&b);
        for (uint32_t id = 1; id <= N_FRAMES; id++) {
                uint64_t v = next_random(&s);
                uint16_t op = ops[v % ARRAY_SIZE(ops)];
                size_t len = (v >> 8) % 48, start;

                assert_int_equal(wire_frame_begin(&b, id, op, 0, &start), 0);
                /* Most bodies start with a valid name; the rest is random. */
                if ((v >> 16) % 4 != 0)
                        assert_int_equal(wire_put_name(&b, (v >> 20) % 2 ? "fz" : "jz", 2), 0);
                for (size_t i = 0; i < len; i++)
                        assert_int_equal(wire_put_u8(&b, (uint8_t) next_random(&s)), 0);
                wire_frame_end(&b, start);
        }
        append_request(&b, LAST_ID, WIRE_OP_PING, "s", "end");
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);

        /* Every reply answers a request we sent; the last PING proves none was dropped on the floor. */
        for (;;) {
                assert_int_equal(raw_reply(fd, &r), 1);
                assert_true(r.h.status < _WIRE_STATUS_MAX);
                if (r.h.id == LAST_ID)
                        break;
                assert_true(r.h.id >= 1 && r.h.id <= N_FRAMES);
                replies++;
        }
        assert_int_equal(r.h.op, WIRE_OP_PING);
        assert_int_equal(r.h.status, WIRE_OK);
        assert_true(replies > 0);

        /* The connection and the daemon go on. */
        raw_request(fd, 1, WIRE_OP_PING, "s", "still");
        do
                assert_int_equal(raw_reply(fd, &r), 1);
        while (r.h.id != 1 || r.h.op != WIRE_OP_PING);
        assert_int_equal(r.h.status, WIRE_OK);
        assert_served(m);
}

static void test_stalled_half_frame(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int stalled = raw_session(f);
        int half_header = raw_session(f);
        int big = raw_session(f);
        struct wire_buf b;
        struct reply r;
        size_t half;
        uint8_t *chunk;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);

        /* Half of a PUT frame ... */
        wire_buf_init(&b);
        append_request(&b, 7, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "from the stalled one");
        half = b.len / 2;
        raw_send(stalled, b.data, half);
        /* ... five bytes of a header ... */
        raw_send(half_header, b.data, 5);
        /* ... and 256 KiB of a frame announcing 1 MiB. */
        chunk = calloc(1, 256 * 1024);
        assert_non_null(chunk);
        {
                struct wire_header h = { .body_len = 1024 * 1024, .id = 9, .op = WIRE_OP_PING };

                wire_header_encode(chunk, &h);
                /* A PING body: u32 length, then the bytes. */
                chunk[WIRE_HEADER_SIZE + 0] = (uint8_t) ((1024 * 1024 - 4) & 0xff);
                chunk[WIRE_HEADER_SIZE + 1] = (uint8_t) (((1024 * 1024 - 4) >> 8) & 0xff);
                chunk[WIRE_HEADER_SIZE + 2] = (uint8_t) (((1024 * 1024 - 4) >> 16) & 0xff);
                chunk[WIRE_HEADER_SIZE + 3] = 0;
        }
        raw_send(big, chunk, 256 * 1024);

        /* Meanwhile another client is served at once, many times over. */
        for (int i = 0; i < 20; i++)
                assert_served(m);
        harness_wait_stat(m, "clients", 4);
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);

        /* The stalled clients finish their frames and get their answers. */
        raw_send(stalled, b.data + half, b.len - half);
        raw_expect(stalled, NULL, 7, WIRE_OP_QUEUE_PUT, WIRE_OK);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        raw_send(half_header, b.data + 5, b.len - 5);
        raw_expect(half_header, NULL, 7, WIRE_OP_QUEUE_PUT, WIRE_OK);
        memset(chunk, 0, 256 * 1024);
        for (int i = 0; i < 3; i++)
                raw_send(big, chunk, 256 * 1024);
        raw_send(big, chunk, WIRE_HEADER_SIZE);   /* the header counted against the first chunk */
        raw_expect(big, &r, 9, WIRE_OP_PING, WIRE_OK);
        assert_int_equal(r.h.body_len, 1024 * 1024);
        free(chunk);
        wire_buf_done(&b);
        assert_int_equal(mpx_queue_qsize(m, "q"), 2);
}

static void test_vanish_mid_frame(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        struct wire_buf b;
        int fd;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "never complete");

        /* Mid-body. */
        fd = raw_session(f);
        raw_send(fd, b.data, b.len - 3);
        raw_close(f, fd);
        /* Mid-header. */
        fd = raw_session(f);
        raw_send(fd, b.data, 7);
        raw_close(f, fd);
        /* Mid-frame, right behind a blocked GET. */
        fd = raw_session(f);
        raw_request(fd, 2, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 1);
        raw_send(fd, b.data, b.len - 1);
        raw_close(f, fd);

        harness_wait_stat(m, "clients", 1);
        harness_wait_field(m, "q", "getters", 0);
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
        /* The vanished getter does not swallow the next item. */
        assert_int_equal(mpx_queue_put(m, "q", "kept", 4, 0), 0);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        wire_buf_done(&b);
        assert_served(m);
}

static void test_pipelining(void **state) {
        enum { N = 1000 };
        struct fixture *f = *state;
        int fd = raw_session(f);
        struct wire_buf b;
        struct reply r;
        char payload[32];

        raw_request(fd, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "pipe", (uint64_t) 0, 0u);
        raw_expect(fd, NULL, 1, WIRE_OP_QUEUE_DECLARE, WIRE_OK);

        /* 1000 PUTs in one write. */
        wire_buf_init(&b);
        for (uint32_t i = 0; i < N; i++) {
                snprintf(payload, sizeof(payload), "item-%u", i);
                append_request(&b, 1000 + i, WIRE_OP_QUEUE_PUT, "nis", "pipe", (int64_t) 0, payload);
        }
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
        for (uint32_t i = 0; i < N; i++)
                raw_expect(fd, NULL, 1000 + i, WIRE_OP_QUEUE_PUT, WIRE_OK);

        /* 1000 GETs in one write: the items come back in order. */
        wire_buf_init(&b);
        for (uint32_t i = 0; i < N; i++)
                append_request(&b, 5000 + i, WIRE_OP_QUEUE_GET, "niw", "pipe", (int64_t) 0, 0u);
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
        for (uint32_t i = 0; i < N; i++) {
                raw_expect(fd, &r, 5000 + i, WIRE_OP_QUEUE_GET, WIRE_OK);
                snprintf(payload, sizeof(payload), "item-%u", i);
                check_item(&r, payload);
        }
        raw_request(fd, 2, WIRE_OP_QUEUE_GET, "niw", "pipe", (int64_t) 0, 0u);
        raw_expect(fd, NULL, 2, WIRE_OP_QUEUE_GET, WIRE_EAGAIN);
}

static void test_pipelined_behind_blocked_get(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        struct wire_buf b;
        struct reply r;
        struct wire_reader rd;
        uint64_t size = 99;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        append_request(&b, 2, WIRE_OP_QUEUE_QSIZE, "n", "q");
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);

        /* QSIZE first, though it was sent second. */
        raw_expect(fd, &r, 2, WIRE_OP_QUEUE_QSIZE, WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u64(&rd, &size));
        assert_int_equal(size, 0);
        harness_wait_field(m, "q", "getters", 1);

        /* A put from another connection wakes GET id 1. */
        assert_int_equal(mpx_queue_put(m, "q", "wake", 4, 0), 0);
        raw_expect(fd, &r, 1, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "wake");
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
}

/* ---- CANCEL ---- */

/* Send CANCEL id cancel_id of request target; expect target's ECANCELED first when n is 1. */
static void raw_cancel_at(int fd, uint32_t cancel_id, uint32_t target, uint16_t target_op, uint32_t n,
                          const char *file, int line) {
        struct reply r;

        raw_request(fd, cancel_id, WIRE_OP_CANCEL, "w", target);
        if (n > 0) {
                raw_expect_at(fd, &r, target, target_op, WIRE_ECANCELED, file, line);
                check_at(r.h.body_len == 0, file, line, "ECANCELED reply with a body of %u bytes", r.h.body_len);
        }
        raw_expect_at(fd, &r, cancel_id, WIRE_OP_CANCEL, WIRE_OK, file, line);
        check_at(r.h.body_len == 4, file, line, "CANCEL reply of %u bytes", r.h.body_len);
        check_at(r.body[0] == n && r.body[1] == 0 && r.body[2] == 0 && r.body[3] == 0, file, line,
                 "CANCEL answered n = %u, expected %u", r.body[0], n);
}

#define raw_cancel(fd, cancel_id, target, target_op, n) \
        raw_cancel_at(fd, cancel_id, target, target_op, n, __FILE__, __LINE__)

/* Nothing more is pending on fd: a PING is the next reply. */
static void raw_expect_quiet_at(int fd, const char *file, int line) {
        raw_request(fd, HELPER_ID, WIRE_OP_PING, "s", "");
        raw_expect_at(fd, NULL, HELPER_ID, WIRE_OP_PING, WIRE_OK, file, line);
}

#define raw_expect_quiet(fd) raw_expect_quiet_at(fd, __FILE__, __LINE__)

/* A parked GET cancelled: its reply first, then CANCEL's n = 1; it took no item. */
static void test_cancel_parked_get(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        struct wire_buf b;
        struct reply r;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        /* GET and CANCEL in one write: the GET is parked before the CANCEL is read. */
        wire_buf_init(&b);
        append_request(&b, 10, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        append_request(&b, 11, WIRE_OP_CANCEL, "w", 10u);
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
        raw_expect(fd, &r, 10, WIRE_OP_QUEUE_GET, WIRE_ECANCELED);
        assert_int_equal(r.h.body_len, 0);
        raw_expect(fd, &r, 11, WIRE_OP_CANCEL, WIRE_OK);
        assert_int_equal(r.h.body_len, 4);
        assert_memory_equal(r.body, "\x01\x00\x00\x00", 4);
        assert_int_equal(harness_field(m, "q", "getters"), 0);

        /* A later put stays in the queue: the cancelled GET does not take it. */
        assert_int_equal(mpx_queue_put(m, "q", "x", 1, 0), 0);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        raw_request(fd, 12, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        raw_expect(fd, &r, 12, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "x");
        raw_expect_quiet(fd);

        /* GET_MANY and JOIN (a joinable queue with work unfinished) cancel the same way. */
        assert_int_equal(mpx_queue_declare(m, "j", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_put(m, "j", "w", 1, 0), 0);
        raw_request(fd, 13, WIRE_OP_QUEUE_JOIN, "ni", "j", (int64_t) -1);
        raw_request(fd, 14, WIRE_OP_QUEUE_GET_MANY, "niww", "q", (int64_t) -1, 0u, 5u);
        harness_wait_field(m, "j", "joiners", 1);
        harness_wait_field(m, "q", "getters", 1);
        raw_cancel(fd, 15, 14, WIRE_OP_QUEUE_GET_MANY, 1);
        raw_cancel(fd, 16, 13, WIRE_OP_QUEUE_JOIN, 1);
        assert_int_equal(harness_field(m, "j", "joiners"), 0);
        assert_int_equal(mpx_queue_qsize(m, "j"), 1);
        raw_expect_quiet(fd);
}

/* CANCEL of a request answered already, or of an id never sent: n = 0 and no other reply. */
static void test_cancel_answered_or_unknown(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        struct reply r;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        /* Answered at once. */
        assert_int_equal(mpx_queue_put(m, "q", "a", 1, 0), 0);
        raw_request(fd, 20, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        raw_expect(fd, &r, 20, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "a");
        raw_cancel(fd, 21, 20, 0, 0);
        /* Parked, then served by another connection's put before the CANCEL. */
        raw_request(fd, 22, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 1);
        assert_int_equal(mpx_queue_put(m, "q", "b", 1, 0), 0);
        raw_expect(fd, &r, 22, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "b");
        raw_cancel(fd, 23, 22, 0, 0);
        /* Cancelled once: a second CANCEL finds nothing. */
        raw_request(fd, 24, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        raw_cancel(fd, 25, 24, WIRE_OP_QUEUE_GET, 1);
        raw_cancel(fd, 26, 24, 0, 0);
        /* Never sent; a CANCEL of itself. */
        raw_cancel(fd, 27, 12345, 0, 0);
        raw_cancel(fd, 28, 28, 0, 0);
        raw_expect_quiet(fd);
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
}

/* A malformed CANCEL, or one before HELLO, is EPROTO and cancels nothing. */
static void test_cancel_malformed(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int early = raw_open(f);
        int fd = raw_session(f);

        raw_request(early, 1, WIRE_OP_CANCEL, "w", 1u);
        raw_expect(early, NULL, 1, WIRE_OP_CANCEL, WIRE_EPROTO);

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        raw_request(fd, 30, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 1);
        raw_request(fd, 31, WIRE_OP_CANCEL, "");
        raw_expect(fd, NULL, 31, WIRE_OP_CANCEL, WIRE_EPROTO);
        raw_request(fd, 32, WIRE_OP_CANCEL, "r", "\x1e\x00", (size_t) 2);
        raw_expect(fd, NULL, 32, WIRE_OP_CANCEL, WIRE_EPROTO);
        raw_request(fd, 33, WIRE_OP_CANCEL, "wb", 30u, 0u);
        raw_expect(fd, NULL, 33, WIRE_OP_CANCEL, WIRE_EPROTO);
        assert_int_equal(harness_field(m, "q", "getters"), 1);
        raw_cancel(fd, 34, 30, WIRE_OP_QUEUE_GET, 1);
}

/* A parked SEM_ACQUIRE cancelled took no unit. */
static void test_cancel_sem_acquire(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);

        assert_int_equal(mpx_sem_declare(m, "s", 0, 1, MPX_SEM_BOUNDED), 1);
        raw_request(fd, 40, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) -1);
        harness_wait_field(m, "s", "waiters", 1);
        raw_cancel(fd, 41, 40, WIRE_OP_SEM_ACQUIRE, 1);
        assert_int_equal(harness_field(m, "s", "waiters"), 0);
        assert_int_equal(mpx_sem_value(m, "s"), 0);
        /* The released unit stays free: the cancelled acquire does not take it. */
        assert_int_equal(mpx_sem_release(m, "s"), 0);
        assert_int_equal(mpx_sem_value(m, "s"), 1);
        raw_expect_quiet(fd);
        raw_request(fd, 42, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) 0);
        raw_expect(fd, NULL, 42, WIRE_OP_SEM_ACQUIRE, WIRE_OK);
        assert_int_equal(mpx_sem_value(m, "s"), 0);
}

/* Read a BARRIER_WAIT reply with its arrival index. */
static void expect_barrier_index_at(int fd, uint32_t id, uint32_t index, const char *file, int line) {
        struct reply r;

        raw_expect_at(fd, &r, id, WIRE_OP_BARRIER_WAIT, WIRE_OK, file, line);
        check_at(r.h.body_len == 4, file, line, "BARRIER_WAIT reply of %u bytes", r.h.body_len);
        check_at(r.body[0] == index && !r.body[1] && !r.body[2] && !r.body[3], file, line,
                 "arrival index %u, expected %u", r.body[0], index);
}

#define expect_barrier_index(fd, id, index) expect_barrier_index_at(fd, id, index, __FILE__, __LINE__)

/*
 * A barrier of 3 with 2 parked: the first cancels and withdraws; the barrier
 * is not broken, the other party keeps waiting (now index 0), and two more
 * arrivals complete the round.
 */
static void test_cancel_barrier_wait(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int a = raw_session(f), b = raw_session(f), c = raw_session(f);

        assert_int_equal(mpx_barrier_declare(m, "bar", 3), 1);
        raw_request(a, 50, WIRE_OP_BARRIER_WAIT, "ni", "bar", (int64_t) -1);
        harness_wait_field(m, "bar", "waiting", 1);
        raw_request(b, 51, WIRE_OP_BARRIER_WAIT, "ni", "bar", (int64_t) -1);
        harness_wait_field(m, "bar", "waiting", 2);
        raw_cancel(a, 52, 50, WIRE_OP_BARRIER_WAIT, 1);
        assert_int_equal(harness_field(m, "bar", "waiting"), 1);
        assert_int_equal(harness_field(m, "bar", "broken"), 0);
        assert_int_equal(harness_field(m, "bar", "breaks"), 0);
        raw_expect_quiet(b);

        /* Two more arrive: c parks, a comes back as the last party. */
        raw_request(c, 53, WIRE_OP_BARRIER_WAIT, "ni", "bar", (int64_t) -1);
        harness_wait_field(m, "bar", "waiting", 2);
        raw_request(a, 54, WIRE_OP_BARRIER_WAIT, "ni", "bar", (int64_t) -1);
        expect_barrier_index(a, 54, 2);
        expect_barrier_index(b, 51, 0);
        expect_barrier_index(c, 53, 1);
        assert_int_equal(harness_field(m, "bar", "rounds"), 1);
        assert_int_equal(harness_field(m, "bar", "waiting"), 0);
        raw_expect_quiet(a);
        raw_expect_quiet(b);
        raw_expect_quiet(c);

        /* Cancelling the last of the parked parties leaves the round empty, and whole. */
        raw_request(c, 55, WIRE_OP_BARRIER_WAIT, "ni", "bar", (int64_t) -1);
        harness_wait_field(m, "bar", "waiting", 1);
        raw_cancel(c, 56, 55, WIRE_OP_BARRIER_WAIT, 1);
        assert_int_equal(harness_field(m, "bar", "waiting"), 0);
        assert_int_equal(harness_field(m, "bar", "broken"), 0);
}

/*
 * A parked PUT or PUT_MANY on a full queue cancelled put nothing; a PUT_MANY
 * cancelled at the head lets a smaller PUT behind it in, answered before
 * the CANCEL.
 */
static void test_cancel_parked_put(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        struct reply r;

        assert_int_equal(mpx_queue_declare(m, "full", 2, 0), 1);
        assert_int_equal(mpx_queue_put(m, "full", "a", 1, 0), 0);
        /* Room for one: the PUT_MANY of two waits, and the PUT behind it. */
        raw_request(fd, 60, WIRE_OP_QUEUE_PUT_MANY, "niwss", "full", (int64_t) -1, 2u, "c", "d");
        raw_request(fd, 61, WIRE_OP_QUEUE_PUT, "nis", "full", (int64_t) -1, "b");
        harness_wait_field(m, "full", "putters", 2);
        raw_request(fd, 62, WIRE_OP_CANCEL, "w", 60u);
        raw_expect(fd, &r, 60, WIRE_OP_QUEUE_PUT_MANY, WIRE_ECANCELED);
        assert_int_equal(r.h.body_len, 0);
        raw_expect(fd, NULL, 61, WIRE_OP_QUEUE_PUT, WIRE_OK);
        raw_expect(fd, &r, 62, WIRE_OP_CANCEL, WIRE_OK);
        assert_memory_equal(r.body, "\x01\x00\x00\x00", 4);
        /* Full now: a PUT waits, and cancelled, adds nothing. */
        raw_request(fd, 63, WIRE_OP_QUEUE_PUT, "nis", "full", (int64_t) -1, "e");
        harness_wait_field(m, "full", "putters", 1);
        raw_cancel(fd, 64, 63, WIRE_OP_QUEUE_PUT, 1);
        assert_int_equal(harness_field(m, "full", "putters"), 0);
        assert_int_equal(mpx_queue_qsize(m, "full"), 2);
        raw_request(fd, 65, WIRE_OP_QUEUE_GET, "niw", "full", (int64_t) 0, 0u);
        raw_expect(fd, &r, 65, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "a");
        raw_request(fd, 66, WIRE_OP_QUEUE_GET, "niw", "full", (int64_t) 0, 0u);
        raw_expect(fd, &r, 66, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "b");
        raw_request(fd, 67, WIRE_OP_QUEUE_GET, "niw", "full", (int64_t) 0, 0u);
        raw_expect(fd, NULL, 67, WIRE_OP_QUEUE_GET, WIRE_EAGAIN);
        raw_expect_quiet(fd);
}

/* A parked EVENT_WAIT cancelled is not answered again when the event is set. */
static void test_cancel_event_wait(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);

        assert_int_equal(mpx_event_declare(m, "ev"), 1);
        raw_request(fd, 70, WIRE_OP_EVENT_WAIT, "ni", "ev", (int64_t) 60000);
        raw_request(fd, 71, WIRE_OP_EVENT_WAIT, "ni", "ev", (int64_t) -1);
        harness_wait_field(m, "ev", "waiters", 2);
        raw_cancel(fd, 72, 70, WIRE_OP_EVENT_WAIT, 1);
        assert_int_equal(harness_field(m, "ev", "waiters"), 1);
        assert_int_equal(mpx_event_set(m, "ev"), 0);
        /* Only the other wait is answered. */
        raw_expect(fd, NULL, 71, WIRE_OP_EVENT_WAIT, WIRE_OK);
        raw_expect_quiet(fd);
        assert_int_equal(harness_field(m, "ev", "timeouts"), 0);
}

/* A parked PIPE_OPEN cancelled withdraws: a partner that comes later does not find it. */
static void test_cancel_pipe_open(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int a = raw_session(f), b = raw_session(f);

        raw_request(a, 90, WIRE_OP_PIPE_OPEN, "nbi", "p", 1u, (int64_t) -1);
        harness_wait_field(m, "p", "readers", 1);
        raw_cancel(a, 91, 90, WIRE_OP_PIPE_OPEN, 1);
        assert_int_equal(harness_field(m, "p", "readers"), 0);
        raw_request(b, 92, WIRE_OP_PIPE_OPEN, "nbi", "p", 2u, (int64_t) 0);
        raw_expect(b, NULL, 92, WIRE_OP_PIPE_OPEN, WIRE_EAGAIN);
        assert_int_equal(harness_field(m, "p", "pairs"), 0);
        raw_expect_quiet(a);
}

/* CANCEL ends only its own connection's requests, whatever their ids. */
static void test_cancel_other_connection(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int a = raw_session(f), b = raw_session(f);
        struct reply r;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        raw_request(a, 80, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 1);
        raw_request(b, 80, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 2);
        /* b cancels its own 80 ... */
        raw_cancel(b, 81, 80, WIRE_OP_QUEUE_GET, 1);
        /* ... and an id that only a has parked. */
        raw_request(a, 82, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 2);
        raw_cancel(b, 83, 82, 0, 0);
        assert_int_equal(harness_field(m, "q", "getters"), 2);
        /* a's GETs still wait and are served in order. */
        assert_int_equal(mpx_queue_put(m, "q", "x", 1, 0), 0);
        assert_int_equal(mpx_queue_put(m, "q", "y", 1, 0), 0);
        raw_expect(a, &r, 80, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "x");
        raw_expect(a, &r, 82, WIRE_OP_QUEUE_GET, WIRE_OK);
        check_item(&r, "y");
        raw_expect_quiet(a);
        raw_expect_quiet(b);
}

/*
 * One connection parks 1000 GETs on an empty queue and cancels them all
 * while another puts 500 items, the writes interleaved (the cancels end
 * halfway through the puts). Every GET gets
 * exactly one reply, before its CANCEL's; CANCEL says 1 exactly for the
 * GETs answered ECANCELED; every item is either in a GET reply or still in
 * the queue, exactly once.
 */
static void test_cancel_race_with_puts(void **state) {
        enum { GETS = 1000, ITEMS = 500, ROUNDS = 10, GET_ID = 100000, CANCEL_ID = 200000, PUT_ID = 300000 };
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int a = raw_session(f), p = raw_session(f);
        static int get_reply_at[GETS], cancel_reply_at[GETS], cancelled[GETS], seen[ITEMS];
        struct wire_buf ba, bp;
        struct reply r;
        unsigned got_items = 0, n_cancelled = 0, left = 0;
        char payload[32];

        memset(get_reply_at, -1, sizeof(get_reply_at));
        memset(cancel_reply_at, -1, sizeof(cancel_reply_at));
        memset(cancelled, 0, sizeof(cancelled));
        memset(seen, 0, sizeof(seen));
        assert_int_equal(mpx_queue_declare(m, "race", 0, 0), 1);
        wire_buf_init(&ba);
        for (uint32_t i = 0; i < GETS; i++)
                append_request(&ba, GET_ID + i, WIRE_OP_QUEUE_GET, "niw", "race", (int64_t) -1, 0u);
        raw_send(a, ba.data, ba.len);
        wire_buf_done(&ba);
        harness_wait_field(m, "race", "getters", GETS);

        /* The cancels and the puts, in alternating slices, neither side waiting for replies. */
        for (uint32_t round = 0; round < ROUNDS; round++) {
                wire_buf_init(&ba);
                wire_buf_init(&bp);
                /* The cancels go twice as fast: the last rounds' items find no GET left. */
                for (uint32_t i = round * 2 * GETS / ROUNDS; i < (round + 1) * 2 * GETS / ROUNDS && i < GETS; i++)
                        append_request(&ba, CANCEL_ID + i, WIRE_OP_CANCEL, "w", GET_ID + i);
                for (uint32_t i = round * ITEMS / ROUNDS; i < (round + 1) * ITEMS / ROUNDS; i++) {
                        snprintf(payload, sizeof(payload), "item-%u", i);
                        append_request(&bp, PUT_ID + i, WIRE_OP_QUEUE_PUT, "nis", "race", (int64_t) 0, payload);
                }
                /* Puts first in even rounds, cancels first in odd ones. */
                if (round % 2 == 0)
                        raw_send(p, bp.data, bp.len);
                if (ba.len > 0)
                        raw_send(a, ba.data, ba.len);
                if (round % 2 == 1)
                        raw_send(p, bp.data, bp.len);
                wire_buf_done(&ba);
                wire_buf_done(&bp);
                /* The round's puts are handled before the next round is sent; the cancels may not be. */
                for (uint32_t i = round * ITEMS / ROUNDS; i < (round + 1) * ITEMS / ROUNDS; i++)
                        raw_expect(p, NULL, PUT_ID + i, WIRE_OP_QUEUE_PUT, WIRE_OK);
        }

        /* Every GET and every CANCEL answered once; nothing else. */
        for (int k = 0; k < 2 * GETS; k++) {
                assert_int_equal(raw_reply(a, &r), 1);
                if (r.h.op == WIRE_OP_QUEUE_GET) {
                        uint32_t i = r.h.id - GET_ID;
                        struct wire_reader rd;
                        uint64_t tag;
                        uint32_t deliveries, size;
                        const void *data;
                        unsigned item;

                        assert_true(r.h.id >= GET_ID && i < GETS);
                        assert_int_equal(get_reply_at[i], -1);
                        get_reply_at[i] = k;
                        if (r.h.status == WIRE_ECANCELED) {
                                assert_int_equal(r.h.body_len, 0);
                                cancelled[i] = 1;
                                continue;
                        }
                        assert_int_equal(r.h.status, WIRE_OK);
                        wire_reader_init(&rd, r.body, r.h.body_len);
                        assert_true(wire_get_u64(&rd, &tag) && wire_get_u32(&rd, &deliveries) &&
                                    wire_get_bytes(&rd, &data, &size) && wire_reader_done(&rd));
                        assert_true(size < sizeof(payload));
                        memcpy(payload, data, size);
                        payload[size] = '\0';
                        assert_int_equal(sscanf(payload, "item-%u", &item), 1);
                        assert_true(item < ITEMS);
                        assert_int_equal(seen[item], 0);
                        seen[item] = 1;
                        got_items++;
                } else {
                        uint32_t i = r.h.id - CANCEL_ID;

                        assert_int_equal(r.h.op, WIRE_OP_CANCEL);
                        assert_int_equal(r.h.status, WIRE_OK);
                        assert_true(r.h.id >= CANCEL_ID && i < GETS);
                        assert_int_equal(cancel_reply_at[i], -1);
                        cancel_reply_at[i] = k;
                        /* The GET's reply came first, and n says whether CANCEL ended it. */
                        assert_true(get_reply_at[i] >= 0 && get_reply_at[i] < k);
                        assert_int_equal(r.h.body_len, 4);
                        assert_int_equal(r.body[0], cancelled[i]);
                        assert_memory_equal(r.body + 1, "\0\0\0", 3);
                        n_cancelled += cancelled[i];
                }
        }
        raw_expect_quiet(a);
        assert_int_equal(harness_field(m, "race", "getters"), 0);

        /* What no GET took is still in the queue, once. */
        for (;;) {
                mpx_item item = { 0 };
                unsigned n;
                int rc = mpx_queue_get(m, "race", 0, &item);

                if (rc == -EAGAIN)
                        break;
                assert_int_equal(rc, 0);
                assert_true(item.size < sizeof(payload));
                memcpy(payload, item.data, item.size);
                payload[item.size] = '\0';
                mpx_item_clear(&item);
                assert_int_equal(sscanf(payload, "item-%u", &n), 1);
                assert_true(n < ITEMS);
                assert_int_equal(seen[n], 0);
                seen[n] = 1;
                left++;
        }
        assert_int_equal(got_items + left, ITEMS);
        assert_int_equal(got_items + n_cancelled, GETS);
        for (unsigned i = 0; i < ITEMS; i++)
                assert_int_equal(seen[i], 1);
        print_message("race: %u items taken by GETs, %u left in the queue, %u GETs cancelled\n", got_items, left,
                      n_cancelled);
}


static void test_close_without_reading(void **state) {
        enum { PINGS = 64, PAYLOAD = 32 * 1024 };
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int fd = raw_session(f);
        struct wire_buf b;
        char *payload = malloc(PAYLOAD + 1);

        /* 2 MiB of replies, far more than the socket holds, and nobody reads them. */
        assert_non_null(payload);
        memset(payload, 'r', PAYLOAD);
        payload[PAYLOAD] = '\0';
        wire_buf_init(&b);
        for (uint32_t i = 0; i < PINGS; i++)
                append_request(&b, i, WIRE_OP_PING, "s", payload);
        raw_send(fd, b.data, b.len);
        wire_buf_done(&b);
        free(payload);
        /* The daemon is answering (the rest does not fit in the socket): go away now. */
        raw_expect(fd, NULL, 0, WIRE_OP_PING, WIRE_OK);
        raw_close(f, fd);

        harness_wait_stat(m, "clients", 1);
        assert_served(m);

        /* The same with a blocked GET pending, closing before its wake-up is read. */
        fd = raw_session(f);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        raw_request(fd, 1, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        harness_wait_field(m, "q", "getters", 1);
        assert_int_equal(mpx_queue_put(m, "q", "lost", 4, 0), 0);
        raw_close(f, fd);
        harness_wait_stat(m, "clients", 1);
        assert_served(m);
}

static void test_shutdown_while_blocked(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        int getter = raw_session(f);
        int putter = raw_session(f);
        int joiner = raw_session(f);
        int idle = raw_session(f);
        int status;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(m, "full", 1, 0), 1);
        assert_int_equal(mpx_queue_declare(m, "j", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_put(m, "full", "x", 1, 0), 0);
        assert_int_equal(mpx_queue_put(m, "j", "y", 1, 0), 0);
        raw_request(getter, 5, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        raw_request(putter, 6, WIRE_OP_QUEUE_PUT, "nis", "full", (int64_t) -1, "z");
        raw_request(joiner, 7, WIRE_OP_QUEUE_JOIN, "ni", "j", (int64_t) -1);
        harness_wait_stat(m, "waiters", 3);

        /* SIGTERM: every waiter is answered ESHUTDOWN, then the connections close, and mpxd exits 0. */
        f->running = false;
        status = harness_stop(&f->d);
        raw_expect(getter, NULL, 5, WIRE_OP_QUEUE_GET, WIRE_ESHUTDOWN);
        raw_expect_eof(getter);
        raw_expect(putter, NULL, 6, WIRE_OP_QUEUE_PUT, WIRE_ESHUTDOWN);
        raw_expect_eof(putter);
        raw_expect(joiner, NULL, 7, WIRE_OP_QUEUE_JOIN, WIRE_ESHUTDOWN);
        raw_expect_eof(joiner);
        raw_expect_eof(idle);
        assert_int_equal(mpx_ping(m), -ECONNRESET);
        assert_int_equal(status, 0);
}

static void test_second_daemon_refused(void **state) {
        struct fixture *f = *state;
        mpx *m = lib_open(f);
        struct kid *k = &f->kids[0];
        struct stat st;
        int status, fd;

        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        kid_spawn(k, f->d.socket, NULL, NULL);
        status = kid_wait(k);
        if (status != 1)
                fail_msg("a second mpxd on a live socket exited %d, expected 1; it said: %s", status, k->err);

        /* The first one still serves, on the same socket file. */
        assert_int_equal(stat(f->d.socket, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_served(m);
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
        fd = raw_session(f);
        raw_request(fd, 1, WIRE_OP_QUEUE_QSIZE, "n", "q");
        raw_expect(fd, NULL, 1, WIRE_OP_QUEUE_QSIZE, WIRE_OK);
}

/* Start a kid on path, wait until it is ready, check it serves, SIGTERM it and expect exit 0. */
static void serve_and_stop(struct fixture *f, struct kid *k, const char *path) {
        char notify_path[300];
        int notify_fd = notify_open(f->dir, "notify.sock", notify_path, sizeof(notify_path));
        mpx *m = NULL;
        struct stat st;
        int r, status;

        kid_spawn(k, path, notify_path, NULL);
        kid_wait_ready(k, notify_fd);
        close(notify_fd);
        unlink(notify_path);

        r = mpx_connect(path, &m);
        if (r < 0)
                fail_msg("mpx_connect(%s): %s; mpxd said: %s", path, mpx_strerror(r), k->err);
        assert_int_equal(mpx_ping(m), 0);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        assert_int_equal(mpx_queue_put(m, "q", "x", 1, 0), 0);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        mpx_disconnect(m);

        assert_int_equal(kill(k->pid, SIGTERM), 0);
        status = kid_wait(k);
        if (status != 0)
                fail_msg("mpxd exited %d on SIGTERM; it said: %s", status, k->err);
        /* It bound the socket, so it removed it. */
        assert_int_equal(stat(path, &st), -1);
        assert_int_equal(errno, ENOENT);
}

static void test_stale_socket_replaced(void **state) {
        struct fixture *f = *state;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char path[300];
        struct stat st;
        int fd;

        /* A socket file nobody listens on, as a crashed daemon leaves it. */
        snprintf(path, sizeof(path), "%s/mpxd.sock", f->dir);
        set_sun_path(&sa, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), -1);
        assert_int_equal(errno, ECONNREFUSED);
        close(fd);

        serve_and_stop(f, &f->kids[0], path);
}

static void test_killed_daemon_replaced(void **state) {
        struct fixture *f = *state;
        char notify_path[300], path[300];
        struct kid *first = &f->kids[0];
        int notify_fd, status;
        struct stat st;

        /* A daemon killed with SIGKILL leaves its socket and its lock file behind. */
        snprintf(path, sizeof(path), "%s/mpxd.sock", f->dir);
        notify_fd = notify_open(f->dir, "notify-first.sock", notify_path, sizeof(notify_path));
        kid_spawn(first, path, notify_path, NULL);
        kid_wait_ready(first, notify_fd);
        close(notify_fd);
        assert_int_equal(kill(first->pid, SIGKILL), 0);
        status = kid_wait(first);
        assert_int_equal(status, 128 + SIGKILL);
        assert_int_equal(stat(path, &st), 0);

        serve_and_stop(f, &f->kids[1], path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define TS(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)
                harness_own_test(test_hello_handshake),
                TS(test_hello_announces_max_message, setup_small_message),
                TS(test_max_message_limit, setup_max_message_limit),
                harness_own_test(test_frame_of_max_frame),
                harness_own_test(test_request_before_hello),
                harness_own_test(test_unknown_opcode),
                harness_own_test(test_malformed_body),
                harness_own_test(test_frame_over_max_frame),
                harness_own_test(test_garbage),
                harness_own_test(test_fuzzed_frames),
                harness_own_test(test_stalled_half_frame),
                harness_own_test(test_vanish_mid_frame),
                harness_own_test(test_pipelining),
                harness_own_test(test_pipelined_behind_blocked_get),
                harness_own_test(test_cancel_parked_get),
                harness_own_test(test_cancel_answered_or_unknown),
                harness_own_test(test_cancel_malformed),
                harness_own_test(test_cancel_sem_acquire),
                harness_own_test(test_cancel_barrier_wait),
                harness_own_test(test_cancel_parked_put),
                harness_own_test(test_cancel_event_wait),
                harness_own_test(test_cancel_pipe_open),
                harness_own_test(test_cancel_other_connection),
                harness_own_test(test_cancel_race_with_puts),
                harness_own_test(test_close_without_reading),
                harness_own_test(test_shutdown_while_blocked),
                harness_own_test(test_second_daemon_refused),
                TS(test_stale_socket_replaced, setup_own_dir),
                TS(test_killed_daemon_replaced, setup_own_dir),
#undef TS
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
