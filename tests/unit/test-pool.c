/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's pools of worker processes (daemon/pool.c) without a
 * socket and without workers: socketless clients (client_new(-1)) are fed
 * request frames and their replies are read back from their output
 * buffers. The event loop is never run, so the start timers a pool arms
 * never fire and nothing is forked, except one child that stands for a
 * client with a supplementary group (when the test runs as root).
 *
 * Covered: the back-off arithmetic and restart policy names, START (created,
 * the same again, another command or policy, wrong type, every invalid
 * argument, a command that is not there), SCALE, SIGNAL and STOP of pools
 * without workers, malformed bodies of every request, EACCES for a client
 * that is neither root nor mpxd's user nor in the admin group on pools not
 * its own, the admin group by primary and by supplementary group, the rule
 * that only root starts pools of a root mpxd without pool_user, user pools
 * (started by anyone else, run as the starter, controlled by it and by
 * superusers alone, within its quota of workers), the object limit, and the
 * pools, admin_group and pool_user settings of the configuration.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "configfile.h"
#include "mpxd.h"
#include "pool.h"
#include "queue.h"
#include "user.h"
#include "unit-client.h"
#include "temp-dir.h"
#include "text-file.h"

/* A uid and gid no test process has. */
#define NOBODY          65534u
#define ADMIN_GID       4242u

/* The clients of one test (unit-fixture.h), and a folder of its own. */
struct pool_fixture {
        struct fixture f;
        char dir[256];
};

/* ---- reading replies (the rest is in unit-client.h) ---- */

/* Exactly one reply is waiting: OK and a body of one u32 equal to v. */
static void assert_u32_at(struct client *c, uint32_t id, uint16_t op, uint32_t v, const char *file, int line) {
        struct frame r;
        struct wire_reader rd;
        uint32_t got = 0;

        assert_reply_at(c, &r, id, op, WIRE_OK, file, line);
        wire_reader_init(&rd, r.body, r.h.body_len);
        check_at(wire_get_u32(&rd, &got) && wire_reader_done(&rd) && got == v, file, line,
                 "reply body of %u bytes (u32 %u), expected u32 %u", r.h.body_len, got, v);
}

#define assert_u32(c, id, op, v) assert_u32_at(c, id, op, v, __FILE__, __LINE__)

#define info_int(c, name, key) info_field_at(c, name, WIRE_TYPE_POOL, key, __FILE__, __LINE__)

#define assert_info_str(c, name, key, expected)                                                 \
        do {                                                                                    \
                char _s[1024];                                                                  \
                info_str_at(c, name, WIRE_TYPE_POOL, key, _s, sizeof(_s), __FILE__, __LINE__);  \
                assert_string_equal(_s, expected);                                              \
        } while (0)

/* ---- clients ---- */

/* A new socketless client with these credentials that has said HELLO. */
static struct client *client_as(struct pool_fixture *f, uid_t uid, gid_t gid, pid_t pid) {
        /* Charged to its own uid, as a peer of that uid would be. */
        return client_add_with(&f->f, "test", pid, uid, gid);
}

/* A client that is root. */
static struct client *root_client(struct pool_fixture *f) {
        return client_as(f, 0, 0, 0);
}

/* A client that is nobody: not root, not mpxd's user (unless the test runs as nobody). */
static struct client *nobody_client(struct pool_fixture *f) {
        return client_as(f, NOBODY, NOBODY, 0);
}

/* START name workers restart with a command of one or two arguments (arg1 may be NULL). */
static void send_start(struct client *c, uint32_t id, const char *name, uint32_t workers, unsigned restart,
                       const char *arg0, const char *arg1) {
        if (arg1)
                send_request(c, id, WIRE_OP_POOL_START, "nwbhtt", name, workers, restart, 2u, arg0, arg1);
        else
                send_request(c, id, WIRE_OP_POOL_START, "nwbht", name, workers, restart, 1u, arg0);
}

/* Start a pool that must be new: "sh -c exit" (nothing runs: the loop never does here). */
static void start_pool(struct client *c, const char *name, uint32_t workers) {
        send_start(c, HELPER_ID, name, workers, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_u8(c, HELPER_ID, WIRE_OP_POOL_START, 1);
}

static int setup(void **state) {
        struct pool_fixture *f;

        if (fixture_setup(state, sizeof(*f)) < 0)
                return -1;
        f = *state;
        mpxd.config = config_new();
        if (!mpxd.config || !temp_dir_make(f->dir, sizeof(f->dir), "mpx-pool")) {
                fixture_teardown(&f->f);
                return -1;
        }
        return 0;
}

static int teardown(void **state) {
        struct pool_fixture *f = *state;
        char dir[sizeof(f->dir)];

        memcpy(dir, f->dir, sizeof(dir));
        /* Deletes the pools, and with them their start timers: nothing is forked. */
        fixture_teardown(&f->f);
        assert_int_equal(temp_dir_remove(dir), 0);
        return 0;
}

/* ---- tests ---- */

static void test_backoff(void **state) {
        uint64_t d = 0;
        const uint64_t expected[] = { 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000 };

        /* A worker that fails at once, again and again: 100 ms doubling up to 30 s. */
        for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
                d = pool_backoff_next_ms(d, 5);
                assert_int_equal(d, expected[i]);
        }
        /* One that ran for a while starts over; just under the while, it does not. */
        assert_int_equal(pool_backoff_next_ms(30000, 10000), 100);
        assert_int_equal(pool_backoff_next_ms(30000, 60000), 100);
        assert_int_equal(pool_backoff_next_ms(800, 9999), 1600);
        assert_int_equal(pool_backoff_next_ms(0, 0), 100);
        assert_int_equal(pool_backoff_next_ms(20000, 0), 30000);
}

static void test_restart_names(void **state) {
        assert_int_equal(pool_restart_from_string("always"), WIRE_RESTART_ALWAYS);
        assert_int_equal(pool_restart_from_string("on-failure"), WIRE_RESTART_ON_FAILURE);
        assert_int_equal(pool_restart_from_string("never"), WIRE_RESTART_NEVER);
        assert_int_equal(pool_restart_from_string("sometimes"), -EINVAL);
        assert_int_equal(pool_restart_from_string("Always"), -EINVAL);
        assert_int_equal(pool_restart_from_string(NULL), -EINVAL);
        assert_string_equal(pool_restart_to_string(WIRE_RESTART_ON_FAILURE), "on-failure");
        assert_null(pool_restart_to_string(3));
}

static void test_start(void **state) {
        struct client *a = root_client(*state);

        send_start(a, 1, "p", 3, WIRE_RESTART_ALWAYS, "sh", "-c");
        assert_u8(a, 1, WIRE_OP_POOL_START, 1);
        check_info_fields(a, "p", WIRE_TYPE_POOL, { "size", 0 }, { "workers", 3 }, { "restarts", 0 },
                          { "exits", 0 }, { "waiters", 0 }, { "stopping", 0 });
        assert_info_str(a, "p", "restart", "always");
        assert_info_str(a, "p", "command", "sh -c");
        assert_info_str(a, "p", "pids", "");

        /* The same again is no new pool; another command or policy is refused. */
        send_start(a, 2, "p", 5, WIRE_RESTART_ALWAYS, "sh", "-c");
        assert_u8(a, 2, WIRE_OP_POOL_START, 0);
        assert_int_equal(info_int(a, "p", "workers"), 3);
        send_start(a, 3, "p", 3, WIRE_RESTART_ALWAYS, "sh", "-e");
        assert_status(a, 3, WIRE_OP_POOL_START, WIRE_EEXIST);
        send_start(a, 4, "p", 3, WIRE_RESTART_NEVER, "sh", "-c");
        assert_status(a, 4, WIRE_OP_POOL_START, WIRE_EEXIST);
        send_start(a, 5, "p", 3, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(a, 5, WIRE_OP_POOL_START, WIRE_EEXIST);

        /* Another type's name. */
        assert_int_equal(queue_declare("q", 1, 0, false), 1);
        send_start(a, 6, "q", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(a, 6, WIRE_OP_POOL_START, WIRE_EPROTOTYPE);

        /* Arguments are shown as a shell would read them back. */
        send_request(a, 7, WIRE_OP_POOL_START, "nwbhttt", "quoted", 1u, WIRE_RESTART_NEVER, 3u, "sh", "a b",
                     "it's");
        assert_u8(a, 7, WIRE_OP_POOL_START, 1);
        assert_info_str(a, "quoted", "command", "sh 'a b' 'it'\\''s'");
        assert_info_str(a, "quoted", "restart", "never");

        /* pool_declare is what the configuration uses. */
        assert_int_equal(pool_declare("p", 1, 3, WIRE_RESTART_ALWAYS, "sh\0-c", 6), 0);
        assert_int_equal(pool_declare("p", 1, 3, WIRE_RESTART_ALWAYS, "sh\0-e", 6), -EEXIST);
        assert_int_equal(pool_declare("q", 1, 3, WIRE_RESTART_ALWAYS, "sh", 3), -EPROTOTYPE);
        assert_int_equal(pool_declare("r", 1, 0, WIRE_RESTART_ALWAYS, "sh", 3), -EINVAL);
        assert_int_equal(pool_declare("r", 1, 1, 7, "sh", 3), -EINVAL);
        assert_int_equal(pool_declare("r", 1, 1, WIRE_RESTART_ALWAYS, "sh", 2), -EINVAL);
        assert_int_equal(pool_declare("r", 1, 1, WIRE_RESTART_ALWAYS, "\0x", 3), -EINVAL);
        assert_int_equal(pool_declare("r", 1, POOL_MAX_WORKERS + 1, WIRE_RESTART_ALWAYS, "sh", 3), -EINVAL);
        assert_int_equal(pool_declare("r", 1, POOL_MAX_WORKERS, WIRE_RESTART_ALWAYS, "sh", 3), 1);
}

static void test_start_invalid(void **state) {
        struct client *a = root_client(*state);

        send_start(a, 1, "p", 0, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(a, 1, WIRE_OP_POOL_START, WIRE_EINVAL);
        send_start(a, 2, "p", POOL_MAX_WORKERS + 1, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(a, 2, WIRE_OP_POOL_START, WIRE_EINVAL);
        send_start(a, 3, "p", 1, 3, "sh", NULL);
        assert_status(a, 3, WIRE_OP_POOL_START, WIRE_EINVAL);
        send_request(a, 4, WIRE_OP_POOL_START, "nwbh", "p", 1u, WIRE_RESTART_ALWAYS, 0u);
        assert_status(a, 4, WIRE_OP_POOL_START, WIRE_EINVAL);
        send_start(a, 5, "p", 1, WIRE_RESTART_ALWAYS, "", "x");
        assert_status(a, 5, WIRE_OP_POOL_START, WIRE_EINVAL);
        /* A str with a NUL in it cannot be an argument. */
        send_request(a, 6, WIRE_OP_POOL_START, "nwbhr", "p", 1u, WIRE_RESTART_ALWAYS, 1u, "\x04\0sh\0x",
                     (size_t) 6);
        assert_status(a, 6, WIRE_OP_POOL_START, WIRE_EINVAL);
        /* A command that is not an executable file, in PATH or by path. */
        send_start(a, 7, "p", 1, WIRE_RESTART_ALWAYS, "no-such-command-of-mpx", NULL);
        assert_status(a, 7, WIRE_OP_POOL_START, WIRE_ENOENT);
        send_start(a, 8, "p", 1, WIRE_RESTART_ALWAYS, "/no/such/file", NULL);
        assert_status(a, 8, WIRE_OP_POOL_START, WIRE_ENOENT);
        send_start(a, 9, "p", 1, WIRE_RESTART_ALWAYS, "/", NULL);
        assert_status(a, 9, WIRE_OP_POOL_START, WIRE_ENOENT);
        /* A bad pool name is a malformed request. */
        send_request(a, 10, WIRE_OP_POOL_START, "r", "\x03" "a b", (size_t) 4);
        assert_status(a, 10, WIRE_OP_POOL_START, WIRE_EPROTO);
        /* None of that made a pool. */
        send_request(a, 11, WIRE_OP_INFO, "n", "p");
        assert_status(a, 11, WIRE_OP_INFO, WIRE_ENOENT);
        assert_int_equal(mpxd.n_objects, 0);
}

static void test_malformed(void **state) {
        struct pool_fixture *f = *state;
        struct client *a = root_client(f);
        struct client *n = nobody_client(f);

        start_pool(a, "p", 1);
        /* Cut short, or with bytes after the body; the reply is EPROTO, even to a stranger. */
        send_request(a, 1, WIRE_OP_POOL_START, "nwb", "p", 1u, WIRE_RESTART_ALWAYS);
        assert_status(a, 1, WIRE_OP_POOL_START, WIRE_EPROTO);
        send_request(a, 2, WIRE_OP_POOL_START, "nwbht", "p", 1u, WIRE_RESTART_ALWAYS, 2u, "sh");
        assert_status(a, 2, WIRE_OP_POOL_START, WIRE_EPROTO);
        send_request(a, 3, WIRE_OP_POOL_START, "nwbhtb", "p", 1u, WIRE_RESTART_ALWAYS, 1u, "sh", 0u);
        assert_status(a, 3, WIRE_OP_POOL_START, WIRE_EPROTO);
        send_request(n, 4, WIRE_OP_POOL_START, "nwbht", "p", 1u, WIRE_RESTART_ALWAYS, 2u, "sh");
        assert_status(n, 4, WIRE_OP_POOL_START, WIRE_EPROTO);
        send_request(a, 5, WIRE_OP_POOL_SCALE, "n", "p");
        assert_status(a, 5, WIRE_OP_POOL_SCALE, WIRE_EPROTO);
        send_request(a, 6, WIRE_OP_POOL_SCALE, "nwb", "p", 2u, 0u);
        assert_status(a, 6, WIRE_OP_POOL_SCALE, WIRE_EPROTO);
        send_request(a, 7, WIRE_OP_POOL_SIGNAL, "nh", "p", 15u);
        assert_status(a, 7, WIRE_OP_POOL_SIGNAL, WIRE_EPROTO);
        send_request(a, 8, WIRE_OP_POOL_SIGNAL, "nww", "p", 15u, 15u);
        assert_status(a, 8, WIRE_OP_POOL_SIGNAL, WIRE_EPROTO);
        send_request(a, 9, WIRE_OP_POOL_STOP, "nw", "p", 0u);
        assert_status(a, 9, WIRE_OP_POOL_STOP, WIRE_EPROTO);
        send_request(a, 10, WIRE_OP_POOL_STOP, "r", "\0", (size_t) 1);
        assert_status(a, 10, WIRE_OP_POOL_STOP, WIRE_EPROTO);
        send_request(n, 11, WIRE_OP_POOL_STOP, "nii", "p", (int64_t) 0, (int64_t) 0);
        assert_status(n, 11, WIRE_OP_POOL_STOP, WIRE_EPROTO);
        /* The pool is as it was, and both connections go on. */
        assert_int_equal(info_int(a, "p", "workers"), 1);
        assert_int_equal(info_int(n, "p", "stopping"), 0);
}

static void test_non_admin(void **state) {
        struct pool_fixture *f = *state;
        struct client *a = root_client(f);
        struct client *n = nobody_client(f);

        if (geteuid() == NOBODY)
                skip();
        start_pool(a, "p", 2);
        /* A daemon that is not root cannot run workers as nobody: nobody may not start pools. */
        if (geteuid() != 0) {
                send_start(n, 1, "mine", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
                assert_status(n, 1, WIRE_OP_POOL_START, WIRE_EACCES);
                send_request(n, 7, WIRE_OP_INFO, "n", "mine");
                assert_status(n, 7, WIRE_OP_INFO, WIRE_ENOENT);
        }
        /* Root's pool is root's, even for a start that would change nothing. */
        send_start(n, 2, "p", 1, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_status(n, 2, WIRE_OP_POOL_START, WIRE_EACCES);
        send_request(n, 3, WIRE_OP_POOL_SCALE, "nw", "p", 5u);
        assert_status(n, 3, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        send_request(n, 4, WIRE_OP_POOL_SIGNAL, "nw", "p", (uint32_t) SIGKILL);
        assert_status(n, 4, WIRE_OP_POOL_SIGNAL, WIRE_EACCES);
        send_request(n, 5, WIRE_OP_POOL_STOP, "ni", "p", (int64_t) 0);
        assert_status(n, 5, WIRE_OP_POOL_STOP, WIRE_EACCES);
        /* The name is looked up first: anyone may learn that a pool does not exist. */
        send_request(n, 6, WIRE_OP_POOL_STOP, "ni", "absent", (int64_t) 0);
        assert_status(n, 6, WIRE_OP_POOL_STOP, WIRE_ENOENT);
        send_request(n, 9, WIRE_OP_DELETE, "n", "p");
        assert_status(n, 9, WIRE_OP_DELETE, WIRE_EACCES);
        /* Reading about it is allowed, and nothing changed. */
        assert_int_equal(info_int(n, "p", "workers"), 2);
        assert_int_equal(info_int(n, "p", "stopping"), 0);
        /* mpxd's own user may, whoever that is. */
        if (geteuid() != 0) {
                struct client *self = client_as(f, geteuid(), getegid(), 0);

                send_request(self, 8, WIRE_OP_POOL_SCALE, "nw", "p", 3u);
                assert_status(self, 8, WIRE_OP_POOL_SCALE, WIRE_OK);
        }
}

static void test_admin_group(void **state) {
        struct pool_fixture *f = *state;
        struct client *a = root_client(f);
        struct client *member = client_as(f, 1000, ADMIN_GID, 0);
        struct client *other = client_as(f, 1001, 1001, 0);

        if (geteuid() == 1000 || geteuid() == 1001)
                skip();
        start_pool(a, "p", 1);
        mpxd.config->admin_gid = ADMIN_GID;
        send_request(member, 1, WIRE_OP_POOL_SCALE, "nw", "p", 2u);
        assert_status(member, 1, WIRE_OP_POOL_SCALE, WIRE_OK);
        send_request(member, 2, WIRE_OP_POOL_SIGNAL, "nw", "p", (uint32_t) SIGHUP);
        assert_u32(member, 2, WIRE_OP_POOL_SIGNAL, 0);
        send_request(other, 3, WIRE_OP_POOL_SCALE, "nw", "p", 3u);
        assert_status(other, 3, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        assert_int_equal(info_int(a, "p", "workers"), 2);

        /* A root mpxd without pool_user would run the member's command as root: refused. */
        if (geteuid() == 0) {
                send_start(member, 4, "m", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
                assert_status(member, 4, WIRE_OP_POOL_START, WIRE_EACCES);
                mpxd.config->pool_user = strdup("nobody");
                assert_non_null(mpxd.config->pool_user);
                mpxd.config->pool_uid = NOBODY;
                mpxd.config->pool_gid = NOBODY;
        }
        send_start(member, 5, "m", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_u8(member, 5, WIRE_OP_POOL_START, 1);

        /* Without an admin group, the member is nobody special. */
        mpxd.config->admin_gid = (gid_t) -1;
        send_request(member, 6, WIRE_OP_POOL_SCALE, "nw", "p", 1u);
        assert_status(member, 6, WIRE_OP_POOL_SCALE, WIRE_EACCES);
}

/*
 * A child with a supplementary group, standing for a client process: it says
 * it is ready on ready[1], then waits for the end of file on hold[0].
 */
static pid_t fork_member(const int hold[2], const int ready[2]) {
        pid_t pid = fork();
        gid_t g = ADMIN_GID;
        char c;

        assert_true(pid >= 0);
        if (pid == 0) {
                close(hold[1]);
                close(ready[0]);
                if (setgroups(1, &g) < 0 || setgid(1000) < 0 || setuid(1000) < 0)
                        _exit(1);
                (void) !write(ready[1], "x", 1);
                (void) !read(hold[0], &c, 1);
                _exit(0);
        }
        return pid;
}

static void test_admin_supplementary_group(void **state) {
        struct pool_fixture *f = *state;
        int hold[2], ready[2], status;
        struct client *a, *c;
        char ch;
        pid_t pid;

        if (geteuid() != 0)
                skip();
        a = root_client(f);
        start_pool(a, "p", 1);
        mpxd.config->admin_gid = ADMIN_GID;
        assert_int_equal(pipe(hold), 0);
        assert_int_equal(pipe(ready), 0);
        pid = fork_member(hold, ready);
        close(ready[1]);
        assert_int_equal(read(ready[0], &ch, 1), 1);
        /* Its primary group is not the admin group; /proc tells the supplementary one. */
        c = client_as(f, 1000, 1000, pid);
        send_request(c, 1, WIRE_OP_POOL_SCALE, "nw", "p", 4u);
        assert_status(c, 1, WIRE_OP_POOL_SCALE, WIRE_OK);
        /* A client that claims that pid with another uid does not get its groups. */
        c = client_as(f, 1001, 1001, pid);
        send_request(c, 2, WIRE_OP_POOL_SCALE, "nw", "p", 5u);
        assert_status(c, 2, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        close(hold[1]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        close(hold[0]);
        close(ready[0]);
        assert_int_equal(info_int(a, "p", "workers"), 4);
}

/*
 * User pools (a root mpxd): nobody starts one of its own; the other user may
 * not touch it, nobody and root may; the quota of workers counts slots.
 */
static void test_user_pool(void **state) {
        struct pool_fixture *f = *state;
        struct client *a, *n, *other;
        char prog[300];
        struct user *u;

        if (geteuid() != 0)
                skip();
        a = root_client(f);
        n = nobody_client(f);
        other = client_as(f, 1001, 1001, 0);
        mpxd.per_user.max_workers = 4;
        start_pool(n, "mine", 2);
        assert_int_equal(info_int(a, "mine", "uid"), NOBODY);
        u = user_find(NOBODY);
        assert_non_null(u);
        assert_int_equal(u->n_workers, 2);
        /* The same start again is the same pool; from root it would be another (workers as pool_user). */
        send_start(n, 1, "mine", 1, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_u8(n, 1, WIRE_OP_POOL_START, 0);
        send_start(a, 2, "mine", 1, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_status(a, 2, WIRE_OP_POOL_START, WIRE_EEXIST);

        /* Another user may read about it, and nothing more. */
        assert_int_equal(info_int(other, "mine", "workers"), 2);
        send_request(other, 3, WIRE_OP_POOL_SCALE, "nw", "mine", 1u);
        assert_status(other, 3, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        send_request(other, 4, WIRE_OP_POOL_SIGNAL, "nw", "mine", (uint32_t) SIGKILL);
        assert_status(other, 4, WIRE_OP_POOL_SIGNAL, WIRE_EACCES);
        send_request(other, 5, WIRE_OP_POOL_STOP, "ni", "mine", (int64_t) 0);
        assert_status(other, 5, WIRE_OP_POOL_STOP, WIRE_EACCES);
        send_request(other, 6, WIRE_OP_DELETE, "n", "mine");
        assert_status(other, 6, WIRE_OP_DELETE, WIRE_EACCES);
        send_start(other, 7, "mine", 1, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_status(other, 7, WIRE_OP_POOL_START, WIRE_EACCES);

        /* Its user may, within its quota of four workers over all its pools. */
        send_request(n, 8, WIRE_OP_POOL_SCALE, "nw", "mine", 3u);
        assert_status(n, 8, WIRE_OP_POOL_SCALE, WIRE_OK);
        send_request(n, 9, WIRE_OP_POOL_SCALE, "nw", "mine", 5u);
        assert_status(n, 9, WIRE_OP_POOL_SCALE, WIRE_EUSERS);
        send_start(n, 10, "more", 2, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(n, 10, WIRE_OP_POOL_START, WIRE_EUSERS);
        assert_int_equal(u->refused[USER_REFUSED_WORKERS], 2);
        send_start(n, 11, "more", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_u8(n, 11, WIRE_OP_POOL_START, 1);
        assert_int_equal(u->n_workers, 4);
        send_request(n, 12, WIRE_OP_POOL_SIGNAL, "nw", "mine", (uint32_t) SIGHUP);
        assert_u32(n, 12, WIRE_OP_POOL_SIGNAL, 0);
        /* Slots without a process are given back at once. */
        send_request(n, 13, WIRE_OP_POOL_SCALE, "nw", "mine", 1u);
        assert_status(n, 13, WIRE_OP_POOL_SCALE, WIRE_OK);
        assert_int_equal(u->n_workers, 2);
        /* A program in a folder only root may enter is not there, for nobody. */
        snprintf(prog, sizeof(prog), "%s/prog", f->dir);
        text_file_write(prog, "%s", "");
        assert_int_equal(chmod(prog, 0755), 0);
        assert_int_equal(chmod(f->dir, 0700), 0);
        send_start(n, 14, "secret", 1, WIRE_RESTART_ALWAYS, prog, NULL);
        assert_status(n, 14, WIRE_OP_POOL_START, WIRE_ENOENT);
        /* The check left mpxd's own rights as they were. */
        assert_int_equal(access(prog, X_OK), 0);
        assert_int_equal(unlink(prog), 0);

        /* Root may do everything; the quota is the pool's user's, whoever scales. */
        send_request(a, 15, WIRE_OP_POOL_SCALE, "nw", "mine", 3u);
        assert_status(a, 15, WIRE_OP_POOL_SCALE, WIRE_OK);
        send_request(a, 16, WIRE_OP_POOL_SCALE, "nw", "mine", 4u);
        assert_status(a, 16, WIRE_OP_POOL_SCALE, WIRE_EUSERS);
        /* A CHOWN does not give nobody's processes to another user, nor leave them to nobody. */
        send_request(a, 17, WIRE_OP_CHOWN, "nww", "mine", 1001u, 1001u);
        assert_status(a, 17, WIRE_OP_CHOWN, WIRE_OK);
        send_request(other, 18, WIRE_OP_POOL_SCALE, "nw", "mine", 1u);
        assert_status(other, 18, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        send_request(n, 19, WIRE_OP_POOL_SCALE, "nw", "mine", 1u);
        assert_status(n, 19, WIRE_OP_POOL_SCALE, WIRE_EACCES);
        send_request(a, 20, WIRE_OP_POOL_STOP, "ni", "mine", (int64_t) 0);
        assert_status(a, 20, WIRE_OP_POOL_STOP, WIRE_OK);
        send_request(n, 21, WIRE_OP_POOL_STOP, "ni", "more", (int64_t) 0);
        assert_status(n, 21, WIRE_OP_POOL_STOP, WIRE_OK);
        assert_int_equal(u->n_workers, 0);
}

static void test_scale_signal_stop_without_workers(void **state) {
        struct client *a = root_client(*state);

        start_pool(a, "p", 3);
        send_request(a, 1, WIRE_OP_POOL_SCALE, "nw", "p", 5u);
        assert_status(a, 1, WIRE_OP_POOL_SCALE, WIRE_OK);
        assert_int_equal(info_int(a, "p", "workers"), 5);
        send_request(a, 2, WIRE_OP_POOL_SCALE, "nw", "p", 0u);
        assert_status(a, 2, WIRE_OP_POOL_SCALE, WIRE_OK);
        assert_int_equal(info_int(a, "p", "workers"), 0);
        send_request(a, 3, WIRE_OP_POOL_SCALE, "nw", "p", POOL_MAX_WORKERS + 1);
        assert_status(a, 3, WIRE_OP_POOL_SCALE, WIRE_EINVAL);
        send_request(a, 4, WIRE_OP_POOL_SCALE, "nw", "p", 2u);
        assert_status(a, 4, WIRE_OP_POOL_SCALE, WIRE_OK);
        send_request(a, 5, WIRE_OP_POOL_SCALE, "nw", "absent", 2u);
        assert_status(a, 5, WIRE_OP_POOL_SCALE, WIRE_ENOENT);

        /* No worker runs: none is signalled. */
        send_request(a, 6, WIRE_OP_POOL_SIGNAL, "nw", "p", (uint32_t) SIGTERM);
        assert_u32(a, 6, WIRE_OP_POOL_SIGNAL, 0);
        send_request(a, 7, WIRE_OP_POOL_SIGNAL, "nw", "p", 0u);
        assert_status(a, 7, WIRE_OP_POOL_SIGNAL, WIRE_EINVAL);
        send_request(a, 8, WIRE_OP_POOL_SIGNAL, "nw", "p", 65u);
        assert_status(a, 8, WIRE_OP_POOL_SIGNAL, WIRE_EINVAL);
        send_request(a, 9, WIRE_OP_POOL_SIGNAL, "nw", "absent", 1u);
        assert_status(a, 9, WIRE_OP_POOL_SIGNAL, WIRE_ENOENT);

        /* Wrong types. */
        assert_int_equal(queue_declare("q", 1, 0, false), 1);
        send_request(a, 10, WIRE_OP_POOL_SCALE, "nw", "q", 1u);
        assert_status(a, 10, WIRE_OP_POOL_SCALE, WIRE_EPROTOTYPE);
        send_request(a, 11, WIRE_OP_POOL_SIGNAL, "nw", "q", 1u);
        assert_status(a, 11, WIRE_OP_POOL_SIGNAL, WIRE_EPROTOTYPE);
        send_request(a, 12, WIRE_OP_POOL_STOP, "ni", "q", (int64_t) 0);
        assert_status(a, 12, WIRE_OP_POOL_STOP, WIRE_EPROTOTYPE);

        /* Stopping a pool without workers is done at once, and it is gone. */
        send_request(a, 13, WIRE_OP_POOL_STOP, "ni", "p", (int64_t) -1);
        assert_status(a, 13, WIRE_OP_POOL_STOP, WIRE_OK);
        send_request(a, 14, WIRE_OP_INFO, "n", "p");
        assert_status(a, 14, WIRE_OP_INFO, WIRE_ENOENT);
        send_request(a, 15, WIRE_OP_POOL_STOP, "ni", "p", (int64_t) 0);
        assert_status(a, 15, WIRE_OP_POOL_STOP, WIRE_ENOENT);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(mpxd.n_objects, 1);

        /* DELETE works on a pool as on anything. */
        start_pool(a, "d", 2);
        send_request(a, 16, WIRE_OP_DELETE, "n", "d");
        assert_status(a, 16, WIRE_OP_DELETE, WIRE_OK);
        assert_int_equal(mpxd.n_objects, 1);
}

static void test_object_limit(void **state) {
        struct client *a = root_client(*state);

        mpxd.max_objects = 1;
        start_pool(a, "p", 1);
        send_start(a, 1, "p2", 1, WIRE_RESTART_ALWAYS, "sh", NULL);
        assert_status(a, 1, WIRE_OP_POOL_START, WIRE_EUSERS);
        /* The one that exists is no new object. */
        send_start(a, 2, "p", 1, WIRE_RESTART_ON_FAILURE, "sh", "exit");
        assert_u8(a, 2, WIRE_OP_POOL_START, 0);
}

/* ---- the configuration ---- */

/* Write text to dir/mpxd.conf and load it: its result; *ret or *ret_errors set. */
static int load_text(struct pool_fixture *f, const char *text, struct config **ret, char **ret_errors) {
        char path[300];

        snprintf(path, sizeof(path), "%s/mpxd.conf", f->dir);
        text_file_write(path, "%s", text);
        *ret = NULL;
        *ret_errors = NULL;
        return config_load(path, true, ret, ret_errors);
}

/* The text must fail to load with an error that contains want. */
static void assert_config_error(struct pool_fixture *f, const char *text, const char *want) {
        struct config *c;
        char *errors;

        assert_int_equal(load_text(f, text, &c, &errors), -EINVAL);
        assert_non_null(errors);
        if (!strstr(errors, want))
                fail_msg("errors:\n%s\nexpected one to contain: %s", errors, want);
        free(errors);
}

static void test_config(void **state) {
        struct pool_fixture *f = *state;
        struct config *c;
        char *errors;

        assert_int_equal(load_text(f,
                                   "admin_group = \"0\";\n"
                                   "pool_user = \"root\";\n"
                                   "objects = {\n"
                                   "  pools = (\n"
                                   "    { name = \"web\"; workers = 4; restart = \"always\"; command = [ \"sh\", \"-c\", \"exit\" ]; },\n"
                                   "    { name = \"one\"; command = ( \"true\" ); }\n"
                                   "  );\n"
                                   "};\n", &c, &errors), 0);
        assert_int_equal(c->admin_gid, 0);
        assert_string_equal(c->admin_group, "0");
        assert_string_equal(c->pool_user, "root");
        assert_int_equal(c->pool_uid, 0);
        assert_int_equal(c->pool_gid, 0);
        assert_int_equal(c->n_objects, 2);
        assert_int_equal(c->objects[0].type, WIRE_TYPE_POOL);
        assert_string_equal(c->objects[0].name, "web");
        assert_int_equal(c->objects[0].workers, 4);
        assert_int_equal(c->objects[0].restart, WIRE_RESTART_ALWAYS);
        assert_int_equal(c->objects[0].command_size, 11);
        assert_memory_equal(c->objects[0].initial, "sh\0-c\0exit\0", 11);
        /* Defaults: one worker, restarted on failure. */
        assert_int_equal(c->objects[1].workers, 1);
        assert_int_equal(c->objects[1].restart, WIRE_RESTART_ON_FAILURE);
        assert_int_equal(c->objects[1].command_size, 5);

        /* Declared as a client's START would be, without the start itself: the loop never runs here. */
        assert_int_equal(config_declare(&c->objects[0]), 1);
        assert_int_equal(config_declare(&c->objects[0]), 0);
        assert_int_equal(config_declare(&c->objects[1]), 1);
        config_free(c);

        /* Without the settings: nobody but root, and no user to run as. */
        assert_int_equal(load_text(f, "", &c, &errors), 0);
        assert_int_equal(c->admin_gid, (gid_t) -1);
        assert_null(c->admin_group);
        assert_null(c->pool_user);
        config_free(c);
}

static void test_config_errors(void **state) {
        struct pool_fixture *f = *state;

        assert_config_error(f, "objects = { pools = ( { name = \"p\"; } ); };\n",
                            "1: objects.pools[0].command: missing; expected the program and its arguments");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; command = \"sh -c x\"; } ); };\n",
                            "1: objects.pools[0].command: expected the program and its arguments as strings, "
                            "such as [ \"worker\", \"--queue\", \"jobs\" ], got \"sh -c x\"");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; command = [ ]; } ); };\n",
                            "1: objects.pools[0].command: 0 strings; expected 1 to 1024");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; command = ( \"sh\", 5 ); } ); };\n",
                            "1: objects.pools[0].command[1]: expected a string, got 5");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; command = [ \"\" ]; } ); };\n",
                            "1: objects.pools[0].command[0]: expected the program's name or path, got \"\"");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; workers = 0; command = [ \"sh\" ]; } ); };\n",
                            "1: objects.pools[0].workers: expected an integer from 1 to 1024, got 0");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; restart = \"no\"; command = [ \"sh\" ]; } ); };\n",
                            "1: objects.pools[0].restart: expected one of \"always\", \"on-failure\", \"never\", "
                            "got \"no\"");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; user = \"x\"; command = [ \"sh\" ]; } ); };\n",
                            "1: objects.pools[0].user: unknown setting; expected one of name, workers, restart, "
                            "command");
        assert_config_error(f, "objects = { pools = ( { name = \"p\"; command = [ \"sh\" ]; } );\n"
                            "            queues = ( { name = \"p\"; } ); };\n",
                            "1: objects.pools[0].name: \"p\" is already declared at line 2");
        assert_config_error(f, "admin_group = \"no-such-group-of-mpx\";\n",
                            "1: admin_group: expected the name or number of an existing group, got "
                            "\"no-such-group-of-mpx\"");
        assert_config_error(f, "admin_group = 5;\n",
                            "1: admin_group: expected a group name or number in quotes, got 5");
        assert_config_error(f, "pool_user = \"no-such-user-of-mpx\";\n",
                            "1: pool_user: expected the name or number of an existing user, got "
                            "\"no-such-user-of-mpx\"");
        assert_config_error(f, "pool_user = true;\n",
                            "1: pool_user: expected a user name or number in quotes, got true");
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_backoff),
                T(test_restart_names),
                T(test_start),
                T(test_start_invalid),
                T(test_malformed),
                T(test_non_admin),
                T(test_admin_group),
                T(test_admin_supplementary_group),
                T(test_user_pool),
                T(test_scale_signal_stop_without_workers),
                T(test_object_limit),
                T(test_config),
                T(test_config_errors),
#undef T
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
