/* SPDX-License-Identifier: MIT */
/*
 * The integration test harness (see harness.h).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "monotonic.h"
#include "wire.h"

#define CONDITION_TIMEOUT_MS 20000

void harness_start(struct harness_daemon *d, const char *const *extra_args) {
        char err[512];

        if (daemon_spawn(d, extra_args, err, sizeof(err)) < 0)
                fail_msg("%s", err);
}

void harness_start_with(struct harness_daemon *d, const struct daemon_options *o) {
        char err[512];

        if (daemon_spawn_with(d, o, err, sizeof(err)) < 0)
                fail_msg("%s", err);
}

int harness_stop(struct harness_daemon *d) {
        return daemon_stop(d);
}

mpx *harness_connect(const struct harness_daemon *d) {
        mpx *m = NULL;
        int r = mpx_connect(d->socket, &m);

        if (r < 0)
                fail_msg("mpx_connect(%s): %s", d->socket, mpx_strerror(r));
        return m;
}

pid_t harness_fork(int (*fn)(void *arg), void *arg) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                fail_msg("fork: %s", strerror(errno));
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                _exit(fn(arg));
        }
        return pid;
}

int harness_wait(pid_t pid) {
        return child_wait(pid);
}

void harness_kill(pid_t pid) {
        kill(pid, SIGKILL);
        (void) harness_wait(pid);
}

int64_t harness_field(mpx *m, const char *name, const char *field) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int64_t v;
        int r = mpx_object_info(m, name, &info);

        if (r < 0)
                fail_msg("info %s: %s", name, mpx_strerror(r));
        f = mpx_info_get(&info, field);
        if (!f || f->is_str)
                fail_msg("info %s: no numeric field %s", name, field);
        v = f->num;
        mpx_info_clear(&info);
        return v;
}

/* Poll until get() returns value; a short pause between polls keeps the daemon free. */
static void wait_until(mpx *m, const char *what, int64_t (*get)(mpx *, const char *, const char *),
                       const char *name, const char *field, int64_t value) {
        int64_t deadline = monotonic_ms() + CONDITION_TIMEOUT_MS, got;
        struct timespec pause = { .tv_sec = 0, .tv_nsec = 1000000 };

        while ((got = get(m, name, field)) != value) {
                if (monotonic_ms() > deadline)
                        fail_msg("%s %s: waited for %lld, still %lld", what, field, (long long) value,
                                 (long long) got);
                nanosleep(&pause, NULL);
        }
}

void harness_wait_field(mpx *m, const char *name, const char *field, int64_t value) {
        wait_until(m, name, harness_field, name, field, value);
}

int64_t harness_stat(mpx *m, const char *field) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int64_t v;
        int r = mpx_stats(m, &info);

        if (r < 0)
                fail_msg("stats: %s", mpx_strerror(r));
        f = mpx_info_get(&info, field);
        if (!f || f->is_str)
                fail_msg("stats: no numeric field %s", field);
        v = f->num;
        mpx_info_clear(&info);
        return v;
}

static int64_t stat_field(mpx *m, const char *unused, const char *field) {
        (void) unused;
        return harness_stat(m, field);
}

void harness_wait_stat(mpx *m, const char *field, int64_t value) {
        wait_until(m, "stats", stat_field, NULL, field, value);
}

bool harness_under_valgrind(void) {
        const char *v = getenv("MPX_TEST_VALGRIND");

        return v && strcmp(v, "1") == 0;
}

/* What the watchdog says, written before it is armed: its handler may only write(). */
static char watchdog_msg[256];
static size_t watchdog_msg_len;

static void watchdog_fire(int sig) {
        (void) sig;
        (void) !write(STDERR_FILENO, watchdog_msg, watchdog_msg_len);
        _exit(1);
}

void harness_watchdog(const char *program, unsigned seconds) {
        int n = snprintf(watchdog_msg, sizeof(watchdog_msg), "%s: watchdog: a test hung, giving up\n", program);

        watchdog_msg_len = n < 0 ? 0 : (size_t) n < sizeof(watchdog_msg) ? (size_t) n : sizeof(watchdog_msg) - 1;
        signal(SIGALRM, watchdog_fire);
        alarm(seconds);
}

mpx *harness_child_connect(const char *socket) {
        mpx *m = NULL;
        int r = mpx_connect(socket, &m);

        if (r < 0) {
                fprintf(stderr, "child %ld: mpx_connect(%s): %s\n", (long) getpid(), socket, mpx_strerror(r));
                return NULL;
        }
        return m;
}

struct harness_fixture *harness_fixture_new(const char *program, unsigned watchdog_s, unsigned valgrind_s,
                                            const char *const *extra_args) {
        struct harness_fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog(program, harness_under_valgrind() ? valgrind_s : watchdog_s);
        harness_start(&f->d, extra_args);
        f->running = true;
        f->m = harness_connect(&f->d);
        return f;
}

int harness_fixture_free(struct harness_fixture *f) {
        int status = 0;

        f->m = mpx_disconnect(f->m);
        if (f->running)
                status = harness_stop(&f->d);
        free(f);
        alarm(0);
        return status;
}

int harness_setup(void **state) {
        const struct harness_options *o = *state;

        *state = harness_fixture_new(o->program, o->watchdog_s, o->valgrind_s, o->args);
        return 0;
}

int harness_teardown(void **state) {
        assert_int_equal(harness_fixture_free(*state), 0);
        return 0;
}

bool harness_parse_item(const void *data, size_t size, unsigned max_p, unsigned max_n, unsigned *ret_p,
                        unsigned *ret_n) {
        char buf[32];

        if (size >= sizeof(buf))
                return false;
        memcpy(buf, data, size);
        buf[size] = '\0';
        return sscanf(buf, "%u:%u", ret_p, ret_n) == 2 && *ret_p < max_p && *ret_n < max_n;
}

unsigned harness_drain_items(mpx *m, const char *queue, bool done, unsigned max_p, unsigned max_n, uint8_t *found,
                             int *last) {
        unsigned count = 0;

        memset(found, 0, (size_t) max_p * max_n);
        for (unsigned p = 0; p < max_p; p++)
                last[p] = -1;
        for (;;) {
                mpx_item it = { 0 };
                unsigned p, n;
                int r = mpx_queue_get(m, queue, 0, &it);

                if (r == -EAGAIN)
                        return count;
                assert_int_equal(r, 0);
                assert_true(harness_parse_item(it.data, it.size, max_p, max_n, &p, &n));
                mpx_item_clear(&it);
                if ((int) n <= last[p])
                        fail_msg("%s: item %u:%u after %u:%d: out of order or twice", queue, p, n, p, last[p]);
                last[p] = (int) n;
                found[p * max_n + n] = 1;
                count++;
                if (done)
                        assert_int_equal(mpx_queue_task_done(m, queue, 0), 0);
        }
}

int harness_raw_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -1;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        strcpy(sa.sun_path, path);
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int err = errno;

                close(fd);
                errno = err;
                return -1;
        }
        return fd;
}

bool harness_write_all(int fd, const void *data, size_t len) {
        const uint8_t *p = data;

        while (len > 0) {
                ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

bool harness_read_all(int fd, void *dst, size_t len) {
        uint8_t *p = dst;

        while (len > 0) {
                ssize_t n = read(fd, p, len);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        errno = 0;
                if (n <= 0)
                        return false;
                p += n;
                len -= (size_t) n;
        }
        return true;
}

bool harness_read_reply(int fd, struct wire_header *ret) {
        uint8_t hdr[WIRE_HEADER_SIZE], skip[4096];

        if (!harness_read_all(fd, hdr, sizeof(hdr)))
                return false;
        wire_header_decode(hdr, ret);
        for (uint32_t left = ret->body_len; left > 0;) {
                uint32_t n = left < sizeof(skip) ? left : (uint32_t) sizeof(skip);

                if (!harness_read_all(fd, skip, n))
                        return false;
                left -= n;
        }
        return true;
}

void harness_read_pipe(int fd, void *buf, size_t n) {
        if (!harness_read_all(fd, buf, n))
                fail_msg("pipe: %s", errno ? strerror(errno) : "the child exited before writing");
}

void harness_show_log(const char *path) {
        FILE *fp = fopen(path, "r");
        char line[1024];

        fprintf(stderr, "---- the daemon's log ----\n");
        while (fp && fgets(line, sizeof(line), fp))
                fputs(line, stderr);
        if (fp)
                fclose(fp);
}

bool harness_put_byte(int fd, uint8_t b) {
        ssize_t n;

        do
                n = write(fd, &b, 1);
        while (n < 0 && errno == EINTR);
        return n == 1;
}

int harness_get_byte(int fd, uint8_t *ret) {
        ssize_t n;

        do
                n = read(fd, ret, 1);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -1 : (int) n;
}
