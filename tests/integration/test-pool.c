/* SPDX-License-Identifier: MIT */
/*
 * Pools of worker processes against a real mpxd: workers are real processes
 * the daemon forks and execs (tests/integration/pool-worker, which reports
 * what it sees through a queue of the same daemon). Covered: the workers'
 * environment, process group, descriptors, signal state and log output;
 * restarts with back-off by each policy; a hundred crashes and no zombie;
 * scaling up and down; signals; stop with a grace period and a second
 * stopper; mpxd's SIGTERM with workers that ignore SIGTERM, none left
 * behind; EACCES for a client that is not an admin on pools not its own,
 * the admin group, and workers run as pool_user; pools of users that are
 * not superusers, run as their own uid, out of reach of other users, within
 * a quota of workers; jobs with mpx_job_submit(), mpx_job_wait() and
 * mpx_worker_run(), including a failed job, a result too large, a worker
 * killed mid-job and a closed queue; pools declared in the configuration and
 * on reload; and mpxctl's pool commands.
 *
 * Each test starts its own daemon (socket mode 0666 in a folder anyone may
 * enter, so that a test can talk to it as nobody) and stops it in teardown,
 * where a crash or (with MPX_TEST_VALGRIND=1) a memory error of the daemon
 * fails the test. Processes synchronise through what the daemon reports
 * (INFO fields, items in queues), never through sleeps; the few time
 * measurements are lower bounds the daemon must respect.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "text-file.h"
#include "monotonic.h"
#include "request-builder.h"
#include "wire.h"
#include "temp-dir.h"

/* A test that runs longer than this has hung: stop the whole program. */
#define WATCHDOG_S              120
#define WATCHDOG_VALGRIND_S     1200

/* Conditions are waited for this long before a test fails. */
#define WAIT_MS                 30000
#define WAIT_VALGRIND_MS        300000

#define ADMIN_GID               4242u
#define NOBODY                  65534u

/* Worker pids a test saw, checked to be gone (and killed if not) in teardown. */
#define MAX_PIDS                256

struct fixture {
        struct harness_daemon d;
        mpx *m;
        char dir[256];                  /* the test's own folder: configuration, the daemon's log */
        char conf[300];
        char log[300];
        char worker[4096];              /* tests/integration/pool-worker */
        bool stopped;                   /* the test stopped the daemon itself */
        pid_t pids[MAX_PIDS];
        size_t n_pids;
};

static int64_t wait_ms(void) {
        return harness_under_valgrind() ? WAIT_VALGRIND_MS : WAIT_MS;
}

static void pause_1ms(void) {
        struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };

        nanosleep(&ts, NULL);
}

/* Where pool-worker is: $MPX_POOL_WORKER, or beside mpxd in the build tree. */
static void find_worker(char *buf, size_t size) {
        const char *env = getenv("MPX_POOL_WORKER"), *mpxd = getenv("MPXD");
        const char *slash;

        if (env) {
                snprintf(buf, size, "%s", env);
                return;
        }
        assert_non_null(mpxd);
        slash = strrchr(mpxd, '/');
        snprintf(buf, size, "%.*s/tests/integration/pool-worker", slash ? (int) (slash - mpxd) : 1,
                 slash ? mpxd : ".");
}

/* Start the daemon with a configuration (NULL: an empty one) and extra environment. */
static void start_daemon(struct fixture *f, const char *config, const char *const *env) {
        static const char *const args[] = { "-m", "0666", NULL };
        struct daemon_options o = { .args = args, .env = env, .stderr_path = f->log };

        text_file_write(f->conf, "%s", config ? config : "");
        o.config = f->conf;
        harness_start_with(&f->d, &o);
        /* Anyone may reach the socket: the tests that run as nobody need it. */
        assert_int_equal(chmod(f->d.dir, 0755), 0);
        f->m = harness_connect(&f->d);
        f->stopped = false;
}

static int stop_daemon(struct fixture *f) {
        f->m = mpx_disconnect(f->m);
        f->stopped = true;
        return harness_stop(&f->d);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog("test-pool", harness_under_valgrind() ? WATCHDOG_VALGRIND_S : WATCHDOG_S);
        assert_non_null(temp_dir_make(f->dir, sizeof(f->dir), "mpx-pool-test"));
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        snprintf(f->log, sizeof(f->log), "%s/mpxd.log", f->dir);
        find_worker(f->worker, sizeof(f->worker));
        if (access(f->worker, X_OK) < 0)
                fail_msg("%s: %s", f->worker, strerror(errno));
        start_daemon(f, NULL, NULL);
        *state = f;
        return 0;
}

/* true if pid is a process (a zombie counts). */
static bool pid_alive(pid_t pid) {
        return kill(pid, 0) == 0 || errno != ESRCH;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status = 0;
        size_t left = 0;

        if (!f->stopped)
                status = stop_daemon(f);
        /* No worker outlives its daemon; one that does is killed here and fails the test. */
        for (size_t i = 0; i < f->n_pids; i++)
                if (pid_alive(f->pids[i])) {
                        fprintf(stderr, "worker pid %ld outlived mpxd\n", (long) f->pids[i]);
                        kill(f->pids[i], SIGKILL);
                        left++;
                }
        if (status != 0 || left > 0)
                harness_show_log(f->log);
        (void) temp_dir_remove(f->dir);
        free(f);
        alarm(0);
        /* A crash, a leak or a memory error of the daemon fails the test. */
        assert_int_equal(status, 0);
        assert_int_equal(left, 0);
        return 0;
}

/* ---- helpers ---- */

static void track_pid(struct fixture *f, pid_t pid) {
        for (size_t i = 0; i < f->n_pids; i++)
                if (f->pids[i] == pid)
                        return;
        assert_true(f->n_pids < MAX_PIDS);
        f->pids[f->n_pids++] = pid;
}

/* Start a pool that must be new, running pool-worker with up to two arguments. */
static void start_pool(struct fixture *f, const char *name, uint32_t workers, int restart, const char *mode,
                       const char *arg1, const char *arg2) {
        const char *argv[] = { f->worker, mode, arg1, arg2, NULL };
        int r = mpx_pool_start(f->m, name, workers, restart, argv);

        if (r != 1)
                fail_msg("mpx_pool_start(%s): %d (%s)", name, r, mpx_strerror(r));
}

/* Take one item as a string; fails the test if none comes in time. */
static void get_text(struct fixture *f, const char *queue, char *buf, size_t size) {
        mpx_item it;
        int r = mpx_queue_get(f->m, queue, wait_ms(), &it);

        if (r < 0)
                fail_msg("get from %s: %s", queue, mpx_strerror(r));
        assert_true(it.size < size);
        memcpy(buf, it.data, it.size);
        buf[it.size] = '\0';
        mpx_item_clear(&it);
}

/* The value of key in a report of pool-worker env ("key=value" lines). */
static void report_get(const char *report, const char *key, char *buf, size_t size) {
        size_t klen = strlen(key);

        for (const char *p = report; *p; ) {
                const char *end = strchrnul(p, '\n');

                if ((size_t) (end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        snprintf(buf, size, "%.*s", (int) (end - p - (long) klen - 1), p + klen + 1);
                        return;
                }
                p = *end ? end + 1 : end;
        }
        fail_msg("report without %s:\n%s", key, report);
}

static long report_long(const char *report, const char *key) {
        char v[64];

        report_get(report, key, v, sizeof(v));
        return strtol(v, NULL, 10);
}

/* Wait until an INFO field is at least value. */
static void wait_field_ge(mpx *m, const char *name, const char *key, int64_t value) {
        int64_t deadline = monotonic_ms() + wait_ms(), got;

        while ((got = harness_field(m, name, key)) < value) {
                if (monotonic_ms() > deadline)
                        fail_msg("%s %s: waited for at least %lld, still %lld", name, key, (long long) value,
                                 (long long) got);
                pause_1ms();
        }
}

/* Wait until an INFO field equals value. */
static void wait_field(mpx *m, const char *name, const char *key, int64_t value) {
        int64_t deadline = monotonic_ms() + wait_ms(), got;

        while ((got = harness_field(m, name, key)) != value) {
                if (monotonic_ms() > deadline)
                        fail_msg("%s %s: waited for %lld, still %lld", name, key, (long long) value,
                                 (long long) got);
                pause_1ms();
        }
}

/* A string field of INFO, copied into buf. */
static void info_str(mpx *m, const char *name, const char *key, char *buf, size_t size) {
        mpx_info info = { 0 };
        const mpx_field *fl;
        int r = mpx_object_info(m, name, &info);

        if (r < 0)
                fail_msg("info %s: %s", name, mpx_strerror(r));
        fl = mpx_info_get(&info, key);
        if (!fl || !fl->is_str)
                fail_msg("info %s: no text field %s", name, key);
        snprintf(buf, size, "%s", fl->str);
        mpx_info_clear(&info);
}

/* true if the daemon's log holds a line containing text. */
static bool log_has(const struct fixture *f, const char *text) {
        FILE *fp = fopen(f->log, "r");
        char line[4096];
        bool found = false;

        if (!fp)
                return false;
        while (!found && fgets(line, sizeof(line), fp))
                found = strstr(line, text) != NULL;
        fclose(fp);
        return found;
}

/* Wait until the daemon's log holds text (it writes as things happen). */
static void wait_log(const struct fixture *f, const char *text) {
        int64_t deadline = monotonic_ms() + wait_ms();

        while (!log_has(f, text)) {
                if (monotonic_ms() > deadline)
                        fail_msg("the daemon's log never said: %s", text);
                pause_1ms();
        }
}

/* Children of pid, and how many of them are zombies, from /proc. */
static unsigned children_of(pid_t parent, unsigned *ret_zombies) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        unsigned n = 0, z = 0;

        assert_non_null(d);
        while ((e = readdir(d))) {
                char path[300], buf[1024], *close_paren, state;
                long ppid;
                FILE *fp;
                size_t len;

                if (e->d_name[0] < '0' || e->d_name[0] > '9')
                        continue;
                snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
                fp = fopen(path, "r");
                if (!fp)
                        continue;
                len = fread(buf, 1, sizeof(buf) - 1, fp);
                fclose(fp);
                buf[len] = '\0';
                /* "pid (comm) S ppid ...": comm may hold anything, so read after the last ')'. */
                close_paren = strrchr(buf, ')');
                if (!close_paren || sscanf(close_paren + 1, " %c %ld", &state, &ppid) != 2 || ppid != parent)
                        continue;
                n++;
                if (state == 'Z')
                        z++;
        }
        closedir(d);
        *ret_zombies = z;
        return n;
}

/* Run a program with stdout captured into out; its exit status (128 + signal). */
static int run_capture(const char *const *argv, char *out, size_t size) {
        int p[2], status;
        size_t len = 0;
        pid_t pid;

        assert_int_equal(pipe(p), 0);
        fflush(NULL);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], 1);
                close(p[0]);
                close(p[1]);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(p[1]);
        for (;;) {
                ssize_t n = read(p[0], out + len, size - 1 - len);

                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        out[len] = '\0';
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Drop root for uid and gid with these supplementary groups, in a forked child; false on failure. */
static bool become(uid_t uid, gid_t gid, const gid_t *groups, size_t n) {
        return setgroups(n, groups) == 0 && setgid(gid) == 0 && setuid(uid) == 0;
}

/* ---- tests ---- */

static void test_environment(void **state) {
        struct fixture *f = *state;
        bool seen[3] = { false };
        char report[8192], v[4096], pids[256], text[256];

        assert_int_equal(mpx_queue_declare(f->m, "reports", 0, 0), 1);
        start_pool(f, "envpool", 3, MPX_RESTART_ON_FAILURE, "env", "reports", NULL);
        for (int i = 0; i < 3; i++) {
                long pid, w;

                get_text(f, "reports", report, sizeof(report));
                pid = report_long(report, "pid");
                track_pid(f, (pid_t) pid);
                w = report_long(report, "worker");
                assert_true(w >= 0 && w < 3 && !seen[w]);
                seen[w] = true;
                report_get(report, "pool", v, sizeof(v));
                assert_string_equal(v, "envpool");
                report_get(report, "socket", v, sizeof(v));
                assert_string_equal(v, f->d.socket);
                /* The service manager's socket is the daemon's alone. */
                report_get(report, "notify", v, sizeof(v));
                assert_string_equal(v, "");
                assert_int_equal(report_long(report, "ppid"), f->d.pid);
                /* A session and process group of its own. */
                assert_int_equal(report_long(report, "pgid"), pid);
                assert_int_equal(report_long(report, "sid"), pid);
                /* Without pool_user, workers run as mpxd does. */
                assert_int_equal(report_long(report, "uid"), (long) geteuid());
                /* Nothing of the daemon's: no descriptor, no blocked or ignored signal. */
                report_get(report, "fds", v, sizeof(v));
                assert_string_equal(v, "");
                report_get(report, "sigblk", v, sizeof(v));
                assert_string_equal(v, "0000000000000000");
                report_get(report, "sigign", v, sizeof(v));
                assert_string_equal(v, "0000000000000000");
                report_get(report, "stdin", v, sizeof(v));
                assert_string_equal(v, "/dev/null");
                report_get(report, "stdout", v, sizeof(v));
                assert_true(strncmp(v, "pipe:", 5) == 0);
        }
        assert_int_equal(harness_field(f->m, "envpool", "size"), 3);
        assert_int_equal(harness_field(f->m, "envpool", "workers"), 3);
        assert_int_equal(harness_field(f->m, "envpool", "started"), 3);
        info_str(f->m, "envpool", "pids", pids, sizeof(pids));
        for (size_t i = 0; i < f->n_pids; i++) {
                snprintf(v, sizeof(v), "%ld", (long) f->pids[i]);
                assert_non_null(strstr(pids, v));
        }
        info_str(f->m, "envpool", "restart", v, sizeof(v));
        assert_string_equal(v, "on-failure");

        /* stdout and stderr go to the daemon's log, line by line, with the pool and the worker. */
        for (int i = 0; i < 3; i++) {
                snprintf(text, sizeof(text), "pool 'envpool' worker %d: hello from worker %d", i, i);
                wait_log(f, text);
                snprintf(text, sizeof(text), "pool 'envpool' worker %d: a line on stderr from worker %d", i, i);
                wait_log(f, text);
        }

        /* Stop: SIGTERM ends them, the reply comes once all are reaped, and the pool is gone. */
        assert_int_equal(mpx_pool_stop(f->m, "envpool", 10000), 0);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
        {
                mpx_info info;

                assert_int_equal(mpx_object_info(f->m, "envpool", &info), -ENOENT);
        }
        snprintf(text, sizeof(text), "(pid %ld) was killed by signal 15 (SIGTERM)", (long) f->pids[0]);
        wait_log(f, text);
}

static void test_restart_backoff(void **state) {
        struct fixture *f = *state;
        int64_t stamps[5];
        char text[64];

        assert_int_equal(mpx_queue_declare(f->m, "stamps", 0, 0), 1);
        assert_int_equal(mpx_queue_declare(f->m, "other", 0, 0), 1);
        start_pool(f, "crashy", 1, MPX_RESTART_ON_FAILURE, "stamp", "stamps", "3");
        for (int i = 0; i < 5; i++) {
                get_text(f, "stamps", text, sizeof(text));
                stamps[i] = strtoll(text, NULL, 10);
        }
        /*
         * Each start comes at least the back-off after the previous worker
         * ended, which is after it wrote its stamp: 100, 200, 400, 800 ms
         * (less a few ms: the stamps are truncated to ms, and libevent rounds
         * its timers to them).
         */
        for (int i = 0; i < 4; i++)
                if (stamps[i + 1] - stamps[i] < (100 << i) - 5)
                        fail_msg("restart %d came %lld ms after the previous start; expected at least %d", i + 1,
                                 (long long) (stamps[i + 1] - stamps[i]), 100 << i);
        wait_field_ge(f->m, "crashy", "restarts", 4);
        wait_field_ge(f->m, "crashy", "exits", 4);
        wait_log(f, "pool 'crashy': worker 0 (pid ");
        wait_log(f, "exited with status 3 after");
        wait_log(f, "restarting it in 800 ms");

        /* Exit 0 under on-failure, and a failure under never: neither comes back. */
        start_pool(f, "clean", 1, MPX_RESTART_ON_FAILURE, "stamp", "other", "0");
        start_pool(f, "once", 1, MPX_RESTART_NEVER, "stamp", "other", "3");
        /* Exit 0 under always: it does. */
        start_pool(f, "again", 1, MPX_RESTART_ALWAYS, "stamp", "other", "0");
        for (int i = 0; i < 4; i++)
                get_text(f, "other", text, sizeof(text));
        wait_field(f->m, "clean", "exits", 1);
        wait_field(f->m, "once", "exits", 1);
        /* A clock: crashy's next start is 1.6 s after its last end, far past a restart's 100 ms. */
        get_text(f, "stamps", text, sizeof(text));
        assert_int_equal(harness_field(f->m, "clean", "restarts"), 0);
        assert_int_equal(harness_field(f->m, "clean", "size"), 0);
        assert_int_equal(harness_field(f->m, "once", "restarts"), 0);
        assert_int_equal(harness_field(f->m, "once", "size"), 0);
        wait_field_ge(f->m, "again", "restarts", 1);
        wait_log(f, "not restarted (restart on-failure)");
        wait_log(f, "not restarted (restart never)");

        /* Pools whose workers are down stop at once. */
        assert_int_equal(mpx_pool_stop(f->m, "clean", 0), 0);
        assert_int_equal(mpx_pool_stop(f->m, "once", 0), 0);
        assert_int_equal(mpx_pool_stop(f->m, "crashy", 0), 0);
        assert_int_equal(mpx_pool_stop(f->m, "again", 0), 0);
}

static void test_no_zombies(void **state) {
        struct fixture *f = *state;
        unsigned zombies = 99, children;

        /* Twenty workers that exit 3 or die of SIGKILL at once, restarted always: a hundred crashes. */
        start_pool(f, "crash", 20, MPX_RESTART_ALWAYS, "crash", NULL, NULL);
        wait_field_ge(f->m, "crash", "exits", 100);
        assert_true(harness_field(f->m, "crash", "restarts") >= 80);
        /* None is running once the pool is scaled to nothing: then every one has been reaped. */
        assert_int_equal(mpx_pool_scale(f->m, "crash", 0), 0);
        wait_field(f->m, "crash", "size", 0);
        children = children_of(f->d.pid, &zombies);
        assert_int_equal(zombies, 0);
        assert_int_equal(children, 0);
        wait_log(f, "exited with status 3");
        wait_log(f, "was killed by signal 9 (SIGKILL)");
        assert_int_equal(mpx_pool_stop(f->m, "crash", 0), 0);
}

static void test_scale(void **state) {
        struct fixture *f = *state;
        char report[8192], pids[256], v[32];
        pid_t first = 0, by_index[5] = { 0 };

        assert_int_equal(mpx_queue_declare(f->m, "r", 0, 0), 1);
        start_pool(f, "sc", 2, MPX_RESTART_ON_FAILURE, "env", "r", NULL);
        for (int i = 0; i < 2; i++) {
                get_text(f, "r", report, sizeof(report));
                by_index[report_long(report, "worker")] = (pid_t) report_long(report, "pid");
        }
        first = by_index[0];
        /* Up: three more, with the next indexes. */
        assert_int_equal(mpx_pool_scale(f->m, "sc", 5), 0);
        for (int i = 0; i < 3; i++) {
                long w;

                get_text(f, "r", report, sizeof(report));
                w = report_long(report, "worker");
                assert_true(w >= 2 && w < 5 && by_index[w] == 0);
                by_index[w] = (pid_t) report_long(report, "pid");
        }
        for (int i = 0; i < 5; i++)
                track_pid(f, by_index[i]);
        assert_int_equal(harness_field(f->m, "sc", "size"), 5);
        assert_int_equal(harness_field(f->m, "sc", "workers"), 5);
        /* Down: the highest indexes go, worker 0 stays. */
        assert_int_equal(mpx_pool_scale(f->m, "sc", 1), 0);
        assert_int_equal(harness_field(f->m, "sc", "workers"), 1);
        wait_field(f->m, "sc", "size", 1);
        info_str(f->m, "sc", "pids", pids, sizeof(pids));
        snprintf(v, sizeof(v), "%ld", (long) first);
        assert_string_equal(pids, v);
        for (int i = 1; i < 5; i++)
                assert_false(pid_alive(by_index[i]));
        /* Scaled away is not a failure: nothing restarted. */
        assert_int_equal(harness_field(f->m, "sc", "restarts"), 0);
        assert_int_equal(harness_field(f->m, "sc", "exits"), 4);
        /* Up again: new processes for indexes 1 and 2. */
        assert_int_equal(mpx_pool_scale(f->m, "sc", 3), 0);
        for (int i = 0; i < 2; i++) {
                long w;

                get_text(f, "r", report, sizeof(report));
                w = report_long(report, "worker");
                assert_true(w == 1 || w == 2);
                track_pid(f, (pid_t) report_long(report, "pid"));
        }
        wait_field(f->m, "sc", "size", 3);
        assert_int_equal(mpx_pool_scale(f->m, "sc", 0), 0);
        wait_field(f->m, "sc", "size", 0);
        info_str(f->m, "sc", "pids", pids, sizeof(pids));
        assert_string_equal(pids, "");
        assert_int_equal(mpx_pool_scale(f->m, "sc", 1025), -EINVAL);
        assert_int_equal(mpx_pool_scale(f->m, "absent", 1), -ENOENT);
        assert_int_equal(mpx_pool_stop(f->m, "sc", 0), 0);
}

static void test_signal(void **state) {
        struct fixture *f = *state;
        char text[64];
        bool seen[3] = { false };
        int w, sig;

        assert_int_equal(mpx_queue_declare(f->m, "sig", 0, 0), 1);
        start_pool(f, "sg", 3, MPX_RESTART_ON_FAILURE, "signals", "sig", NULL);
        for (int i = 0; i < 3; i++) {
                get_text(f, "sig", text, sizeof(text));
                assert_true(strncmp(text, "ready ", 6) == 0);
        }
        assert_int_equal(mpx_pool_signal(f->m, "sg", SIGUSR1), 3);
        for (int i = 0; i < 3; i++) {
                get_text(f, "sig", text, sizeof(text));
                assert_int_equal(sscanf(text, "%d %d", &w, &sig), 2);
                assert_int_equal(sig, SIGUSR1);
                assert_true(w >= 0 && w < 3 && !seen[w]);
                seen[w] = true;
        }
        assert_int_equal(mpx_pool_signal(f->m, "sg", SIGHUP), 3);
        for (int i = 0; i < 3; i++) {
                get_text(f, "sig", text, sizeof(text));
                assert_int_equal(sscanf(text, "%d %d", &w, &sig), 2);
                assert_int_equal(sig, SIGHUP);
        }
        assert_int_equal(harness_field(f->m, "sg", "signals"), 6);
        assert_int_equal(harness_field(f->m, "sg", "restarts"), 0);
        assert_int_equal(mpx_pool_signal(f->m, "sg", 0), -EINVAL);
        assert_int_equal(mpx_pool_signal(f->m, "sg", 65), -EINVAL);
        assert_int_equal(mpx_pool_signal(f->m, "absent", SIGHUP), -ENOENT);
        /* A signal that ends the workers is a failure: the policy brings them back. */
        assert_int_equal(mpx_pool_signal(f->m, "sg", SIGTERM), 3);
        for (int i = 0; i < 3; i++) {
                get_text(f, "sig", text, sizeof(text));
                assert_true(strncmp(text, "ready ", 6) == 0);
        }
        wait_field(f->m, "sg", "restarts", 3);
        wait_log(f, "was killed by signal 15 (SIGTERM) after");
        assert_int_equal(mpx_pool_stop(f->m, "sg", 10000), 0);
}

struct stopper {
        const char *socket;
        const char *pool;
        int64_t grace_ms;
};

static int stop_child(void *arg) {
        const struct stopper *s = arg;
        mpx *m = NULL;
        int r;

        child_check(mpx_connect(s->socket, &m) == 0);
        r = mpx_pool_stop(m, s->pool, s->grace_ms);
        mpx_disconnect(m);
        child_check(r == 0);
        return 0;
}

static void test_stop(void **state) {
        struct fixture *f = *state;
        struct stopper s = { .socket = f->d.socket, .pool = "stubborn", .grace_ms = -1 };
        const char *argv[] = { f->worker, "ignore-term", "st", NULL };
        char text[64];
        int64_t t0, took;
        pid_t child;

        assert_int_equal(mpx_queue_declare(f->m, "st", 0, 0), 1);
        start_pool(f, "stubborn", 2, MPX_RESTART_ALWAYS, "ignore-term", "st", NULL);
        for (int i = 0; i < 2; i++) {
                get_text(f, "st", text, sizeof(text));
                track_pid(f, (pid_t) strtol(text + 6, NULL, 10));
        }
        /* A first stopper without a grace period waits, since the workers ignore SIGTERM. */
        child = harness_fork(stop_child, &s);
        wait_field(f->m, "stubborn", "waiters", 1);
        assert_int_equal(harness_field(f->m, "stubborn", "stopping"), 1);
        assert_int_equal(harness_field(f->m, "stubborn", "size"), 2);
        /* A stopping pool is neither scaled nor started again. */
        assert_int_equal(mpx_pool_scale(f->m, "stubborn", 4), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "stubborn", 2, MPX_RESTART_ALWAYS, argv), -EEXIST);
        /* A second with 300 ms: SIGKILL then, and both are answered. */
        t0 = monotonic_ms();
        assert_int_equal(mpx_pool_stop(f->m, "stubborn", 300), 0);
        took = monotonic_ms() - t0;
        assert_true(took >= 295);
        assert_int_equal(harness_wait(child), 0);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
        wait_log(f, "is still running after its grace period; sending SIGKILL");
        wait_log(f, "was killed by signal 9 (SIGKILL)");
        {
                mpx_info info;

                assert_int_equal(mpx_object_info(f->m, "stubborn", &info), -ENOENT);
        }
        /* Grace 0 kills at once. */
        start_pool(f, "quick", 1, MPX_RESTART_ALWAYS, "ignore-term", "st", NULL);
        get_text(f, "st", text, sizeof(text));
        track_pid(f, (pid_t) strtol(text + 6, NULL, 10));
        assert_int_equal(mpx_pool_stop(f->m, "quick", 0), 0);
        assert_false(pid_alive(f->pids[f->n_pids - 1]));
        assert_int_equal(mpx_pool_stop(f->m, "quick", 0), -ENOENT);
}

/* ---- raw frames, for CANCEL ---- */

/* A plain connection to the daemon that has said HELLO. */
static int raw_session(const struct fixture *f) {
        int fd = harness_raw_connect(f->d.socket);
        struct wire_buf b;

        assert_true(fd >= 0);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "test-pool");
        assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
        wire_buf_done(&b);
        return fd;
}

/* Read one reply frame, within the test's wait; its body is skipped. */
static void raw_reply(int fd, struct wire_header *h) {
        uint8_t buf[256];
        size_t got = 0, want = WIRE_HEADER_SIZE;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        while (got < want) {
                ssize_t n;

                assert_true(poll(&pfd, 1, (int) wait_ms()) == 1);
                n = read(fd, buf + got, want - got);
                assert_true(n > 0);
                got += (size_t) n;
                if (got == WIRE_HEADER_SIZE && want == WIRE_HEADER_SIZE) {
                        wire_header_decode(buf, h);
                        assert_true(h->body_len <= sizeof(buf) - WIRE_HEADER_SIZE);
                        want += h->body_len;
                }
        }
}

/* A POOL_STOP cancelled (CANCEL) is answered ECANCELED, and the pool keeps stopping. */
static void test_stop_cancelled(void **state) {
        struct fixture *f = *state;
        struct wire_header h;
        struct wire_buf b;
        char text[64];
        int fd;

        assert_int_equal(mpx_queue_declare(f->m, "sc", 0, 0), 1);
        start_pool(f, "held", 1, MPX_RESTART_ALWAYS, "ignore-term", "sc", NULL);
        get_text(f, "sc", text, sizeof(text));
        track_pid(f, (pid_t) strtol(text + 6, NULL, 10));
        fd = raw_session(f);
        raw_reply(fd, &h);
        assert_int_equal(h.status, WIRE_OK);
        /* The worker ignores SIGTERM: without a grace period the stop waits. */
        wire_buf_init(&b);
        append_request(&b, 7, WIRE_OP_POOL_STOP, "ni", "held", (int64_t) -1);
        assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
        wait_field(f->m, "held", "waiters", 1);
        b.len = 0;
        append_request(&b, 8, WIRE_OP_CANCEL, "w", (uint32_t) 7);
        assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
        wire_buf_done(&b);
        raw_reply(fd, &h);
        assert_true(h.id == 7 && h.op == WIRE_OP_POOL_STOP && h.status == WIRE_ECANCELED && h.body_len == 0);
        raw_reply(fd, &h);
        assert_true(h.id == 8 && h.op == WIRE_OP_CANCEL && h.status == WIRE_OK && h.body_len == 4);
        close(fd);

        assert_int_equal(harness_field(f->m, "held", "waiters"), 0);
        assert_int_equal(harness_field(f->m, "held", "stopping"), 1);
        assert_int_equal(mpx_pool_scale(f->m, "held", 2), -EINVAL);
        assert_true(pid_alive(f->pids[f->n_pids - 1]));
        /* It still stops: another stop kills the worker and is answered. */
        assert_int_equal(mpx_pool_stop(f->m, "held", 0), 0);
        assert_false(pid_alive(f->pids[f->n_pids - 1]));
        assert_int_equal(mpx_pool_stop(f->m, "held", 0), -ENOENT);
}

static void test_daemon_sigterm(void **state) {
        static const char *const env[] = { "POOL_WORKER_OUTLIVE_MPXD=1", NULL };
        struct fixture *f = *state;
        char text[8192];
        int64_t t0, took;

        /* Workers that do not die with the daemon by themselves: only mpxd can end them. */
        assert_int_equal(stop_daemon(f), 0);
        start_daemon(f, NULL, env);
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        start_pool(f, "plain", 3, MPX_RESTART_ALWAYS, "env", "q", NULL);
        start_pool(f, "stubborn", 2, MPX_RESTART_ALWAYS, "ignore-term", "q", NULL);
        for (int i = 0; i < 5; i++) {
                get_text(f, "q", text, sizeof(text));
                if (strncmp(text, "ready ", 6) == 0)
                        track_pid(f, (pid_t) strtol(text + 6, NULL, 10));
                else
                        track_pid(f, (pid_t) report_long(text, "pid"));
        }
        assert_int_equal(f->n_pids, 5);
        t0 = monotonic_ms();
        assert_int_equal(stop_daemon(f), 0);
        took = monotonic_ms() - t0;
        /* SIGTERM, a second, SIGKILL: within mpxd's two-second budget. */
        if (!harness_under_valgrind())
                assert_true(took < 2500);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
        assert_true(log_has(f, "stopping 5 pool workers"));
        assert_true(log_has(f, "still running a second after SIGTERM; sending SIGKILL"));
}

struct as_user {
        const char *socket;
        const char *worker;
        gid_t groups[1];
        size_t n_groups;
};

/* A client that is nobody, in no group: refused everything but reading on root's pool. */
static int stranger_child(void *arg) {
        const struct as_user *u = arg;
        const char *argv[] = { u->worker, "env", "q", NULL };
        mpx_info info;
        mpx *m = NULL;

        child_check(become(NOBODY, NOBODY, u->groups, u->n_groups));
        child_check(mpx_connect(u->socket, &m) == 0);
        child_check(mpx_pool_start(m, "p", 1, MPX_RESTART_ON_FAILURE, argv) == -EACCES);
        child_check(mpx_pool_scale(m, "p", 3) == -EACCES);
        child_check(mpx_pool_signal(m, "p", SIGKILL) == -EACCES);
        child_check(mpx_pool_stop(m, "p", 0) == -EACCES);
        child_check(mpx_pool_stop(m, "absent", 0) == -ENOENT);
        /* Deleting a pool kills its workers: refused too, and the pool stays. */
        child_check(mpx_delete(m, "p") == -EACCES);
        child_check(mpx_object_info(m, "p", &info) == 0);
        child_check(mpx_info_get(&info, "workers")->num == 1);
        mpx_info_clear(&info);
        mpx_disconnect(m);
        return 0;
}

/* A member of the admin group: it may scale, but not start pools of a root mpxd without pool_user. */
static int member_child(void *arg) {
        const struct as_user *u = arg;
        const char *argv[] = { u->worker, "env", "q", NULL };
        mpx *m = NULL;

        child_check(become(NOBODY, NOBODY, u->groups, u->n_groups));
        child_check(mpx_connect(u->socket, &m) == 0);
        child_check(mpx_pool_signal(m, "p", SIGCONT) == 1);
        child_check(mpx_pool_scale(m, "p", 2) == 0);
        child_check(mpx_pool_start(m, "mine", 1, MPX_RESTART_ALWAYS, argv) == -EACCES);
        mpx_disconnect(m);
        return 0;
}

static void test_non_admin(void **state) {
        struct fixture *f = *state;
        struct as_user u = { .groups = { ADMIN_GID } };
        char text[8192];

        if (geteuid() != 0)
                skip();
        assert_int_equal(stop_daemon(f), 0);
        start_daemon(f, "admin_group = \"4242\";\n", NULL);
        u.socket = f->d.socket;
        u.worker = f->worker;
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        start_pool(f, "p", 1, MPX_RESTART_ON_FAILURE, "env", "q", NULL);
        get_text(f, "q", text, sizeof(text));
        track_pid(f, (pid_t) report_long(text, "pid"));

        u.n_groups = 0;
        assert_int_equal(harness_wait(harness_fork(stranger_child, &u)), 0);
        assert_int_equal(harness_field(f->m, "p", "workers"), 1);
        assert_int_equal(harness_field(f->m, "p", "size"), 1);
        wait_log(f, "no admin right; refusing with EACCES");

        /* The group, as a supplementary group only. */
        u.n_groups = 1;
        assert_int_equal(harness_wait(harness_fork(member_child, &u)), 0);
        get_text(f, "q", text, sizeof(text));
        track_pid(f, (pid_t) report_long(text, "pid"));
        assert_int_equal(harness_field(f->m, "p", "workers"), 2);
        wait_log(f, "pool_user is not set, so workers would run as root; refusing with EACCES");
        assert_int_equal(mpx_pool_stop(f->m, "p", 10000), 0);
}

/* A member of the admin group starts a pool; the workers run as pool_user. */
static int starter_child(void *arg) {
        const struct as_user *u = arg;
        const char *argv[] = { u->worker, "env", "nbq", NULL };
        mpx *m = NULL;

        child_check(become(NOBODY, NOBODY, u->groups, u->n_groups));
        child_check(mpx_connect(u->socket, &m) == 0);
        child_check(mpx_pool_start(m, "nb", 2, MPX_RESTART_ON_FAILURE, argv) == 1);
        mpx_disconnect(m);
        return 0;
}

/* In a child: can nobody run the worker (the build tree may be private)? */
static int nobody_can_run(void *arg) {
        gid_t none[1] = { NOBODY };

        return become(NOBODY, NOBODY, none, 0) && access((const char *) arg, X_OK) == 0 ? 0 : 1;
}

static void test_pool_user(void **state) {
        struct fixture *f = *state;
        struct as_user u = { .groups = { ADMIN_GID }, .n_groups = 1 };
        struct passwd *pw = getpwuid(NOBODY);
        char config[512], text[8192];

        if (geteuid() != 0 || !pw || harness_wait(harness_fork(nobody_can_run, f->worker)) != 0)
                skip();
        assert_int_equal(stop_daemon(f), 0);
        snprintf(config, sizeof(config), "admin_group = \"4242\";\npool_user = \"%s\";\n", pw->pw_name);
        start_daemon(f, config, NULL);
        u.socket = f->d.socket;
        u.worker = f->worker;
        assert_int_equal(mpx_queue_declare(f->m, "nbq", 0, 0), 1);
        /* Root's queue: the workers, running as nobody, may write to it only once it says so. */
        assert_int_equal(mpx_chmod(f->m, "nbq", 0666), 0);
        assert_int_equal(harness_wait(harness_fork(starter_child, &u)), 0);
        for (int i = 0; i < 2; i++) {
                get_text(f, "nbq", text, sizeof(text));
                track_pid(f, (pid_t) report_long(text, "pid"));
                assert_int_equal(report_long(text, "uid"), (long) pw->pw_uid);
                assert_int_equal(report_long(text, "gid"), (long) pw->pw_gid);
        }
        wait_log(f, "started (pid");
        assert_true(log_has(f, "as user "));
        assert_int_equal(mpx_pool_stop(f->m, "nb", 10000), 0);
}

/* ---- user pools: two made-up users, no entry in the user database ---- */

#define USER_A                  40001u
#define USER_B                  40002u
/* The limit of open files A starts its first pool with. */
#define USER_NOFILE_CUR         321
#define USER_NOFILE_MAX         654

/* What a child of user A or B does; each step is one child process. */
enum user_step {
        A_CAN_RUN,              /* may A run the worker (the build tree may be private)? */
        A_START,
        B_REFUSED,
        A_CONTROLS,
        A_STOPS,
        A_LINGER_START,
        A_LINGER_SCALE,
        A_STARTS_AGAIN,
};

struct user_child {
        const struct fixture *f;
        uid_t uid;
        enum user_step step;
};

static int user_steps(mpx *m, const struct fixture *f, enum user_step step) {
        const char *argv[] = { f->worker, "env", "ua", NULL };
        const char *crash[] = { f->worker, "crash", NULL };
        const char *linger[] = { f->worker, "ignore-term", "ua", NULL };
        mpx_info info;

        switch (step) {
        case A_CAN_RUN:
                return 0;
        case A_START:
                /* A's own queue: its workers, running as A, may put on it; root may read it. */
                child_check_r(mpx_queue_declare(m, "ua", 0, 0), 1);
                child_check_r(mpx_pool_start(m, "pa", 2, MPX_RESTART_ON_FAILURE, argv), 1);
                child_check_r(mpx_pool_start(m, "pa", 2, MPX_RESTART_ON_FAILURE, argv), 0);
                /* Two more would pass A's quota of three. */
                child_check_r(mpx_pool_start(m, "pa2", 2, MPX_RESTART_ON_FAILURE, argv), -EUSERS);
                return 0;
        case B_REFUSED:
                child_check_r(mpx_pool_scale(m, "pa", 1), -EACCES);
                child_check_r(mpx_pool_signal(m, "pa", SIGKILL), -EACCES);
                child_check_r(mpx_pool_stop(m, "pa", 0), -EACCES);
                child_check_r(mpx_delete(m, "pa"), -EACCES);
                child_check_r(mpx_pool_start(m, "pa", 2, MPX_RESTART_ON_FAILURE, argv), -EACCES);
                /* Reading about it is allowed. */
                child_check_r(mpx_object_info(m, "pa", &info), 0);
                child_check_r(mpx_info_get(&info, "uid")->num, USER_A);
                child_check_r(mpx_info_get(&info, "workers")->num, 2);
                mpx_info_clear(&info);
                /* B has a quota of its own: three workers, which end at once and are not restarted. */
                child_check_r(mpx_pool_start(m, "pb", 3, MPX_RESTART_NEVER, crash), 1);
                child_check_r(mpx_pool_stop(m, "pb", 10000), 0);
                return 0;
        case A_CONTROLS:
                child_check_r(mpx_pool_signal(m, "pa", SIGCONT), 2);
                child_check_r(mpx_pool_scale(m, "pa", 3), 0);
                child_check_r(mpx_pool_scale(m, "pa", 4), -EUSERS);
                return 0;
        case A_STOPS:
                child_check_r(mpx_pool_stop(m, "pa", 10000), 0);
                child_check_r(mpx_object_info(m, "pa", &info), -ENOENT);
                return 0;
        case A_LINGER_START:
                child_check_r(mpx_pool_start(m, "pi", 2, MPX_RESTART_ON_FAILURE, linger), 1);
                return 0;
        case A_LINGER_SCALE:
                /* Scaled away, they ignore SIGTERM and still count until they are gone. */
                child_check_r(mpx_pool_scale(m, "pi", 0), 0);
                child_check_r(mpx_pool_scale(m, "pi", 2), -EUSERS);
                child_check_r(mpx_pool_scale(m, "pi", 1), 0);
                return 0;
        case A_STARTS_AGAIN:
                /* The stopped pools' workers were given back to the quota. */
                child_check_r(mpx_pool_start(m, "pc", 1, MPX_RESTART_ON_FAILURE, argv), 1);
                return 0;
        }
        return 1;
}

/* In a forked child: become the user (its uid as its group, no other group), connect, do the step. */
static int user_child_main(void *arg) {
        const struct user_child *u = arg;
        mpx *m = NULL;
        int r;

        child_check(become(u->uid, u->uid, NULL, 0));
        if (u->step == A_CAN_RUN)
                return access(u->f->worker, X_OK) == 0 ? 0 : 1;
        /*
         * The workers of the pool it starts take its limits, which the test
         * knows by these; valgrind lets nobody change the limit of open files
         * (its mpxd's workers could not take them).
         */
        if (u->step == A_START && !harness_under_valgrind()) {
                struct rlimit nofile = { USER_NOFILE_CUR, USER_NOFILE_MAX };

                child_check(setrlimit(RLIMIT_NOFILE, &nofile) == 0);
        }
        child_check_r(mpx_connect(u->f->d.socket, &m), 0);
        r = user_steps(m, u->f, u->step);
        mpx_disconnect(m);
        return r;
}

static int run_user_step(const struct fixture *f, uid_t uid, enum user_step step) {
        struct user_child u = { f, uid, step };

        return harness_wait(harness_fork(user_child_main, &u));
}

/*
 * One report of a worker of A's: it runs as A, with A's uid as its only
 * group, and with the limit of open files nofile ("cur/max") of the process
 * that started its pool (NULL: not checked).
 */
static void check_user_report(struct fixture *f, const char *pool, const char *nofile) {
        char report[8192], v[256], want[256];

        get_text(f, "ua", report, sizeof(report));
        track_pid(f, (pid_t) report_long(report, "pid"));
        report_get(report, "pool", v, sizeof(v));
        assert_string_equal(v, pool);
        assert_int_equal(report_long(report, "ppid"), f->d.pid);
        snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", USER_A, USER_A, USER_A, USER_A);
        report_get(report, "uids", v, sizeof(v));
        assert_string_equal(v, want);
        report_get(report, "gids", v, sizeof(v));
        assert_string_equal(v, want);
        snprintf(want, sizeof(want), "%u", USER_A);
        report_get(report, "groups", v, sizeof(v));
        assert_string_equal(v, want);
        /* Not in the user database: its name is its number, its home /. */
        report_get(report, "user", v, sizeof(v));
        assert_string_equal(v, want);
        report_get(report, "home", v, sizeof(v));
        assert_string_equal(v, "/");
        report_get(report, "nofile", v, sizeof(v));
        if (nofile)
                assert_string_equal(v, nofile);
}

/* The workers charged to uid, as USERS says. */
static int64_t user_workers(struct fixture *f, uid_t uid) {
        mpx_info *items = NULL;
        size_t n = 0;
        uint64_t next = 0;
        int64_t workers = -1;

        assert_int_equal(mpx_users(f->m, 0, 0, &items, &n, &next), 0);
        assert_int_equal(next, 0);
        for (size_t i = 0; i < n; i++)
                if (mpx_info_get(&items[i], "uid")->num == (int64_t) uid)
                        workers = mpx_info_get(&items[i], "workers")->num;
        mpx_objects_free(items, n);
        return workers;
}

/* A "ready PID" of an ignore-term worker of A's: its pid is tracked. */
static void get_ready(struct fixture *f) {
        char text[64];

        get_text(f, "ua", text, sizeof(text));
        assert_true(strncmp(text, "ready ", 6) == 0);
        track_pid(f, (pid_t) strtol(text + 6, NULL, 10));
}

/*
 * Users that are not superusers start pools of their own processes: A's
 * workers run as A, B may not touch them, A and root may, and each user has
 * its quota of workers.
 */
static void test_user_pools(void **state) {
        struct fixture *f = *state;
        char a_nofile[64], own_nofile[64];
        const char *a_nofile_check, *own_nofile_check;
        struct rlimit nofile;
        size_t first;

        if (geteuid() != 0 || getpwuid(USER_A) || getpwuid(USER_B) || run_user_step(f, USER_A, A_CAN_RUN) != 0)
                skip();
        assert_int_equal(stop_daemon(f), 0);
        start_daemon(f, "limits = { per_user = { max_workers = 3; }; };\n", NULL);
        /* The limits of A's first start, then those A inherits from this process. */
        snprintf(a_nofile, sizeof(a_nofile), "%d/%d", USER_NOFILE_CUR, USER_NOFILE_MAX);
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
        snprintf(own_nofile, sizeof(own_nofile), "%llu/%llu", (unsigned long long) nofile.rlim_cur,
                 (unsigned long long) nofile.rlim_max);
        /* Under valgrind the workers keep the limit valgrind gave its mpxd. */
        a_nofile_check = harness_under_valgrind() ? NULL : a_nofile;
        own_nofile_check = harness_under_valgrind() ? NULL : own_nofile;

        assert_int_equal(run_user_step(f, USER_A, A_START), 0);
        for (int i = 0; i < 2; i++)
                check_user_report(f, "pa", a_nofile_check);
        assert_int_equal(harness_field(f->m, "pa", "uid"), USER_A);
        wait_log(f, "pool 'pa' started by client");
        assert_true(log_has(f, "its workers run as uid 40001, gid 40001"));
        wait_log(f, "pool 'pa': worker 1 started");
        assert_true(log_has(f, "as user 40001 (uid 40001, gid 40001)"));
        wait_log(f, "uid 40001 has 2 pool workers, 2 more would pass its quota (limits.per_user.max_workers, 3)");
        assert_int_equal(user_workers(f, USER_A), 2);

        assert_int_equal(run_user_step(f, USER_B, B_REFUSED), 0);
        assert_int_equal(harness_field(f->m, "pa", "workers"), 2);
        assert_int_equal(harness_field(f->m, "pa", "size"), 2);
        assert_int_equal(harness_field(f->m, "pa", "signals"), 0);
        /* B is refused as it is for any object of A's, before the pool's own rule. */
        wait_log(f, "pool 'pa' (owner 40001, group 40001, mode rw-rw-r--): no admin right; refusing with EACCES");

        first = f->n_pids;
        assert_int_equal(run_user_step(f, USER_A, A_CONTROLS), 0);
        check_user_report(f, "pa", a_nofile_check);
        wait_field(f->m, "pa", "size", 3);
        assert_int_equal(harness_field(f->m, "pa", "signals"), 2);
        assert_int_equal(user_workers(f, USER_A), 3);
        assert_int_equal(run_user_step(f, USER_A, A_STOPS), 0);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
        assert_true(f->n_pids == first + 1);
        assert_int_equal(user_workers(f, USER_A), 0);

        /* Workers scaled away count until they are reaped: scaling down and up cannot outrun the quota. */
        assert_int_equal(run_user_step(f, USER_A, A_LINGER_START), 0);
        get_ready(f);
        get_ready(f);
        assert_int_equal(run_user_step(f, USER_A, A_LINGER_SCALE), 0);
        get_ready(f);
        assert_int_equal(harness_field(f->m, "pi", "size"), 3);
        assert_int_equal(user_workers(f, USER_A), 3);
        /* Root may stop it; SIGKILL at once. */
        assert_int_equal(mpx_pool_stop(f->m, "pi", 0), 0);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
        assert_int_equal(user_workers(f, USER_A), 0);

        /* Root may do everything with a user's pool; its workers stay the user's. */
        assert_int_equal(run_user_step(f, USER_A, A_STARTS_AGAIN), 0);
        check_user_report(f, "pc", own_nofile_check);
        assert_int_equal(mpx_pool_scale(f->m, "pc", 2), 0);
        check_user_report(f, "pc", own_nofile_check);
        assert_int_equal(mpx_pool_scale(f->m, "pc", 4), -EUSERS);
        assert_int_equal(mpx_pool_signal(f->m, "pc", SIGCONT), 2);
        assert_int_equal(mpx_pool_stop(f->m, "pc", 10000), 0);
        for (size_t i = 0; i < f->n_pids; i++)
                assert_false(pid_alive(f->pids[i]));
}

static void test_jobs(void **state) {
        struct fixture *f = *state;
        mpx_job jobs[10], job;
        mpx_buf res;
        char want[64];
        mpx_info *items = NULL;
        size_t n = 0;
        uint64_t next = 0;

        assert_int_equal(mpx_queue_declare(f->m, "jobs", 0, MPX_QUEUE_JOINABLE), 1);
        start_pool(f, "echo", 2, MPX_RESTART_ON_FAILURE, "echo", "jobs", NULL);
        for (int i = 0; i < 10; i++) {
                snprintf(want, sizeof(want), "job %d", i);
                assert_int_equal(mpx_job_submit(f->m, "jobs", want, strlen(want), &jobs[i]), 0);
        }
        for (int i = 0; i < 10; i++) {
                char got[64];

                assert_int_equal(mpx_job_wait(f->m, &jobs[i], wait_ms(), &res), 0);
                snprintf(got, sizeof(got), "%.*s", (int) res.size, (const char *) res.data);
                snprintf(want, sizeof(want), ":JOB %d:1", i);
                assert_true((got[0] == '0' || got[0] == '1') && strcmp(got + 1, want) == 0);
                mpx_buf_clear(&res);
        }
        /* A result is taken once. */
        assert_int_equal(mpx_job_wait(f->m, &jobs[0], 0, &res), -ENOENT);

        /* A failed job: its error comes back, and the worker is replaced. */
        assert_int_equal(mpx_job_submit(f->m, "jobs", "fail", 4, &job), 0);
        assert_int_equal(mpx_job_wait(f->m, &job, wait_ms(), &res), -EIO);
        wait_field_ge(f->m, "echo", "restarts", 1);
        wait_field(f->m, "echo", "size", 2);
        wait_log(f, "the loop ended: Input/output error");
        /* A result over the limit. */
        assert_int_equal(mpx_job_submit(f->m, "jobs", "big", 3, &job), 0);
        assert_int_equal(mpx_job_wait(f->m, &job, wait_ms(), NULL), -EMSGSIZE);
        /* A worker killed mid-job: the job is run again, and one result comes back. */
        assert_int_equal(mpx_job_submit(f->m, "jobs", "die", 3, &job), 0);
        assert_int_equal(mpx_job_wait(f->m, &job, wait_ms(), &res), 0);
        assert_true(res.size == 7 && memcmp((char *) res.data + 1, ":DIE:2", 6) == 0);
        mpx_buf_clear(&res);
        wait_field_ge(f->m, "echo", "restarts", 2);

        /* No worker: no result yet, then one once a worker is back. */
        assert_int_equal(mpx_pool_scale(f->m, "echo", 0), 0);
        wait_field(f->m, "echo", "size", 0);
        assert_int_equal(mpx_job_submit(f->m, "jobs", "later", 5, &job), 0);
        assert_int_equal(mpx_job_wait(f->m, &job, 0, &res), -EAGAIN);
        assert_int_equal(mpx_job_wait(f->m, &job, 50, &res), -ETIMEDOUT);
        assert_int_equal(mpx_queue_join(f->m, "jobs", 0), -EAGAIN);
        assert_int_equal(mpx_pool_scale(f->m, "echo", 1), 0);
        assert_int_equal(mpx_job_wait(f->m, &job, wait_ms(), &res), 0);
        assert_true(res.size == 9 && memcmp(res.data, "0:LATER:1", 9) == 0);
        mpx_buf_clear(&res);
        assert_int_equal(mpx_queue_join(f->m, "jobs", wait_ms()), 0);

        /* No result queue is left behind. */
        assert_int_equal(mpx_list_objects(f->m, 0, 0, "queue", &items, &n, &next), 0);
        for (size_t i = 0; i < n; i++)
                if (strncmp(items[i].name, "mpx.job.", 8) == 0)
                        fail_msg("result queue %s is left", items[i].name);
        mpx_objects_free(items, n);

        /* The queue closed: the workers' loops end well, and on-failure leaves them down. */
        assert_int_equal(mpx_queue_close(f->m, "jobs"), 0);
        wait_field(f->m, "echo", "size", 0);
        assert_int_equal(mpx_job_submit(f->m, "jobs", "x", 1, &job), -EPIPE);
        assert_int_equal(mpx_job_wait(f->m, &job, 0, NULL), -ENOENT);
        assert_int_equal(mpx_job_submit(f->m, "absent", "x", 1, &job), -ENOENT);
        assert_int_equal(mpx_job_submit(f->m, "jobs", NULL, 1, &job), -EINVAL);
        assert_int_equal(mpx_pool_stop(f->m, "echo", 0), 0);
}

static void test_start_errors(void **state) {
        struct fixture *f = *state;
        const char *missing[] = { "/no/such/program", NULL };
        const char *unknown[] = { "no-such-program-of-mpx", NULL };
        const char *empty[] = { "", NULL };
        const char *env[] = { f->worker, "env", "q", NULL };
        const char *other[] = { f->worker, "env", "other", NULL };
        char text[8192];

        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, missing), -ENOENT);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, unknown), -ENOENT);
        assert_int_equal(mpx_pool_start(f->m, "e", 0, MPX_RESTART_ALWAYS, env), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "e", 1025, MPX_RESTART_ALWAYS, env), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, 9, env), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, NULL), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, empty), -EINVAL);
        assert_int_equal(mpx_pool_start(f->m, "bad name", 1, MPX_RESTART_ALWAYS, env), -EINVAL);
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_pool_start(f->m, "q", 1, MPX_RESTART_ALWAYS, env), -EPROTOTYPE);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, env), 1);
        get_text(f, "q", text, sizeof(text));
        track_pid(f, (pid_t) report_long(text, "pid"));
        assert_int_equal(mpx_pool_start(f->m, "e", 3, MPX_RESTART_ALWAYS, env), 0);
        assert_int_equal(harness_field(f->m, "e", "workers"), 1);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_ALWAYS, other), -EEXIST);
        assert_int_equal(mpx_pool_start(f->m, "e", 1, MPX_RESTART_NEVER, env), -EEXIST);
        assert_int_equal(mpx_pool_stop(f->m, "absent", 0), -ENOENT);
        assert_int_equal(mpx_pool_stop(f->m, "q", 0), -EPROTOTYPE);
        /* DELETE of a running pool kills its workers at once. */
        assert_int_equal(mpx_delete(f->m, "e"), 0);
        wait_log(f, "pool 'e' deleted with 1 worker running; killed them");
        wait_log(f, "of a deleted pool was killed by signal 9 (SIGKILL)");
        assert_false(pid_alive(f->pids[0]));
}

static void test_config_pools(void **state) {
        struct fixture *f = *state;
        char config[12000], text[8192], pids[256], pids_after[256];

        assert_int_equal(stop_daemon(f), 0);
        snprintf(config, sizeof(config),
                 "objects = {\n"
                 "  queues = ( { name = \"cfgq\"; } );\n"
                 "  pools = ( { name = \"cfg\"; workers = 2; restart = \"always\"; "
                 "command = [ \"%s\", \"env\", \"cfgq\" ]; } );\n"
                 "};\n", f->worker);
        start_daemon(f, config, NULL);
        for (int i = 0; i < 2; i++) {
                get_text(f, "cfgq", text, sizeof(text));
                report_get(text, "pool", pids, sizeof(pids));
                assert_string_equal(pids, "cfg");
                track_pid(f, (pid_t) report_long(text, "pid"));
        }
        info_str(f->m, "cfg", "restart", text, sizeof(text));
        assert_string_equal(text, "always");
        info_str(f->m, "cfg", "pids", pids, sizeof(pids));

        /* A reload starts the pools that are new, and leaves the one that runs, even if it changed. */
        snprintf(config, sizeof(config),
                 "objects = {\n"
                 "  queues = ( { name = \"cfgq\"; } );\n"
                 "  pools = ( { name = \"cfg\"; workers = 2; restart = \"always\"; "
                 "command = [ \"%s\", \"env\", \"cfgq\", \"changed\" ]; },\n"
                 "            { name = \"cfg2\"; command = [ \"%s\", \"env\", \"cfgq\" ]; } );\n"
                 "};\n", f->worker, f->worker);
        text_file_write(f->conf, "%s", config);
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        get_text(f, "cfgq", text, sizeof(text));
        report_get(text, "pool", pids_after, sizeof(pids_after));
        assert_string_equal(pids_after, "cfg2");
        track_pid(f, (pid_t) report_long(text, "pid"));
        info_str(f->m, "cfg", "pids", pids_after, sizeof(pids_after));
        assert_string_equal(pids, pids_after);
        wait_log(f, "pool 'cfg' exists with other parameters; keeping it as it is");
        assert_int_equal(harness_field(f->m, "cfg2", "workers"), 1);
        info_str(f->m, "cfg2", "restart", text, sizeof(text));
        assert_string_equal(text, "on-failure");
}

static void test_mpxctl(void **state) {
        struct fixture *f = *state;
        const char *mpxctl = getenv("MPXCTL");
        char out[8192], text[8192];

        if (!mpxctl)
                skip();
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "start", "c", "--workers", "2",
                                       "--restart", "always", "--", f->worker, "env", "q", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
        }
        for (int i = 0; i < 2; i++) {
                get_text(f, "q", text, sizeof(text));
                track_pid(f, (pid_t) report_long(text, "pid"));
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "ls", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                assert_non_null(strstr(out, "NAME"));
                assert_non_null(strstr(out, "COMMAND"));
                assert_non_null(strstr(out, "always"));
                assert_non_null(strstr(out, " env q"));
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "ls", "--type", "pool", "--names", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                assert_string_equal(out, "c\n");
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "info", "c", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                assert_non_null(strstr(out, "type: pool\n"));
                assert_non_null(strstr(out, "size: 2\n"));
                assert_non_null(strstr(out, "workers: 2\n"));
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "info", "q", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 1);
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "signal", "c", "SIGCONT", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                assert_string_equal(out, "2\n");
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "signal", "c", "NOSUCH", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 2);
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "scale", "c", "1", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                wait_field(f->m, "c", "size", 1);
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "start", "d", "--workers", "1", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 2);
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "stop", "c", "--grace", "5", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 0);
                for (size_t i = 0; i < f->n_pids; i++)
                        assert_false(pid_alive(f->pids[i]));
        }
        {
                const char *argv[] = { mpxctl, "-s", f->d.socket, "pool", "stop", "c", NULL };

                assert_int_equal(run_capture(argv, out, sizeof(out)), 1);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_environment),
                harness_own_test(test_restart_backoff),
                harness_own_test(test_no_zombies),
                harness_own_test(test_scale),
                harness_own_test(test_signal),
                harness_own_test(test_stop),
                harness_own_test(test_stop_cancelled),
                harness_own_test(test_daemon_sigterm),
                harness_own_test(test_non_admin),
                harness_own_test(test_pool_user),
                harness_own_test(test_user_pools),
                harness_own_test(test_jobs),
                harness_own_test(test_start_errors),
                harness_own_test(test_config_pools),
                harness_own_test(test_mpxctl),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
