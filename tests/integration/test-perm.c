/* SPDX-License-Identifier: MIT */
/*
 * Object permissions against a real mpxd, from processes that really run as
 * other users: each check forks a child that drops root (setgroups, setgid,
 * setuid) to one of four made-up users and talks to the daemon through
 * libmpx, so the daemon judges it by its real SO_PEERCRED and SO_PEERGROUPS.
 *
 *      owner   uid 4301, primary group 4401, supplementary 4402
 *      member  uid 4302, primary group 4403, supplementary 4401 (the owner's group)
 *      other   uid 4303, primary group 4404
 *      admin   uid 4305, primary group 4405, supplementary 4244 (admin_group)
 *
 * Covered: every cell of owner/group/other x read/write/admin under many
 * modes; the access class of one request of every kind on queues, dicts,
 * lists, semaphores, events, barriers, values and arrays; who owns a new
 * object; CHMOD and CHOWN rules; root and the admin group overriding the
 * mode; one log line per refused client and object; a reload's new
 * default mode and the owners the configuration gives its objects; a
 * worker whose job results are refused going on with the next job; and a
 * client with sixty supplementary groups.
 *
 * It needs root to change users: run as anyone else, it exits 77 (skipped).
 * The daemon's folder and socket are opened to everyone here, for this test
 * only.
 */
#include <errno.h>
#include <grp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "text-file.h"
#include "monotonic.h"
#include "macros.h"
#include "temp-dir.h"

#define WATCHDOG_S      300

#define ADMIN_GROUP     4244u

/* A made-up user: its credentials, as the child takes them. */
struct user {
        const char *what;
        uid_t uid;
        gid_t gid;
        gid_t groups[64];
        size_t n_groups;
};

static const struct user owner = { "owner", 4301, 4401, { 4402 }, 1 };
static const struct user member = { "member", 4302, 4403, { 4401 }, 1 };
static const struct user other = { "other", 4303, 4404, { 0 }, 0 };
static const struct user admin = { "admin", 4305, 4405, { ADMIN_GROUP }, 1 };

struct fixture {
        struct harness_daemon d;
        mpx *m;                         /* root's connection */
        char dir[256];                  /* configuration and the daemon's log */
        char conf[300];
        char log[300];
};

/* What a child does once it runs as its user and is connected; 0 when every check held. */
typedef int (*child_fn)(mpx *m, void *arg);

struct child {
        const struct fixture *f;
        const struct user *u;
        child_fn fn;
        void *arg;
};

/* In the forked child: become the user, connect, run the checks. */
static int child_main(void *arg) {
        const struct child *c = arg;
        mpx *m = NULL;
        int r;

        if (setgroups(c->u->n_groups, c->u->groups) < 0 || setgid(c->u->gid) < 0 || setuid(c->u->uid) < 0) {
                fprintf(stderr, "child: cannot become %s: %s\n", c->u->what, strerror(errno));
                return 100;
        }
        r = mpx_connect(c->f->d.socket, &m);
        if (r < 0) {
                fprintf(stderr, "child: %s cannot connect: %s\n", c->u->what, mpx_strerror(r));
                return 101;
        }
        r = c->fn(m, c->arg);
        mpx_disconnect(m);
        return r;
}

/* Run fn as user u in a child process; its exit status. */
static int run_as(const struct fixture *f, const struct user *u, child_fn fn, void *arg) {
        struct child c = { f, u, fn, arg };

        return harness_wait(harness_fork(child_main, &c));
}

static int setup(void **state) {
        static const char *const args[] = { "-m", "0666", NULL };
        struct fixture *f = calloc(1, sizeof(*f));
        struct daemon_options o = { .args = args };

        assert_non_null(f);
        harness_watchdog("test-perm", WATCHDOG_S);
        assert_non_null(temp_dir_make(f->dir, sizeof(f->dir), "mpx-perm-test"));
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        snprintf(f->log, sizeof(f->log), "%s/mpxd.log", f->dir);
        text_file_write(f->conf, "admin_group = \"%u\";\n", ADMIN_GROUP);
        o.config = f->conf;
        o.stderr_path = f->log;
        harness_start_with(&f->d, &o);
        /* The made-up users must reach the socket: open its folder, for this test only. */
        assert_int_equal(chmod(f->d.dir, 0755), 0);
        f->m = harness_connect(&f->d);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status;

        f->m = mpx_disconnect(f->m);
        status = harness_stop(&f->d);
        if (status != 0 || getenv("MPX_TEST_SHOW_LOG"))
                harness_show_log(f->log);
        (void) temp_dir_remove(f->dir);
        free(f);
        alarm(0);
        assert_int_equal(status, 0);
        return 0;
}

/* ---- the matrix: owner, group, other x read, write, admin ---- */

/*
 * What each class may do under a mode: owner's r w a, group's, other's
 * ('-' where refused), as ipc_perm and files have it.
 */
static const struct {
        unsigned mode;
        const char *rights;
} matrix[] = {
        { 0660, "rwarw----" }, { 0640, "rwar-----" }, { 0600, "rwa------" }, { 0666, "rwarw-rw-" },
        { 0644, "rwar--r--" }, { 0604, "rwa---r--" }, { 0000, "--a------" }, { 0400, "r-a------" },
        { 0200, "-wa------" }, { 0060, "--arw----" }, { 0006, "--a---rw-" }, { 0462, "r-arw--w-" },
        { 0777, "rwarw-rw-" }, { 0111, "--a------" },
};

/* Exit status bits of a child that tried the three rights on queue "q". */
#define TRIED_READ      1
#define TRIED_WRITE     2
#define TRIED_ADMIN     4
#define TRIED_ODD       64      /* an answer that is neither success nor EACCES */

/* One status bit per right the user has on queue q: read (QSIZE), write (PUT), admin (PURGE). */
static int try_rights(mpx *m, void *arg) {
        const char *q = arg;
        int64_t size = mpx_queue_qsize(m, q), purged;
        int put = mpx_queue_put(m, q, "x", 1, 0), got = 0;

        purged = mpx_queue_purge(m, q);
        got |= size >= 0 ? TRIED_READ : size == -EACCES ? 0 : TRIED_ODD;
        got |= put == 0 ? TRIED_WRITE : put == -EACCES ? 0 : TRIED_ODD;
        got |= purged >= 0 ? TRIED_ADMIN : purged == -EACCES ? 0 : TRIED_ODD;
        return got;
}

static void rights_string(int got, char ret[static 4]) {
        ret[0] = got & TRIED_READ ? 'r' : '-';
        ret[1] = got & TRIED_WRITE ? 'w' : '-';
        ret[2] = got & TRIED_ADMIN ? 'a' : '-';
        ret[3] = '\0';
}

/* The owner creates queue q: it is the owner's, with its primary group and the default mode. */
static int create_queue(mpx *m, void *arg) {
        child_check(mpx_queue_declare(m, arg, 0, 0) == 1);
        return 0;
}

static void test_matrix(void **state) {
        const struct user *classes[] = { &owner, &member, &other };
        struct fixture *f = *state;
        char got[4];

        assert_int_equal(run_as(f, &owner, create_queue, "q"), 0);
        assert_int_equal(harness_field(f->m, "q", "uid"), owner.uid);
        assert_int_equal(harness_field(f->m, "q", "gid"), owner.gid);
        assert_int_equal(harness_field(f->m, "q", "mode"), 0660);
        for (size_t i = 0; i < ARRAY_SIZE(matrix); i++) {
                /* Root may change any object's mode. */
                assert_int_equal(mpx_chmod(f->m, "q", matrix[i].mode), 0);
                for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
                        int status = run_as(f, classes[c], try_rights, "q");

                        assert_false(status & ~(TRIED_READ | TRIED_WRITE | TRIED_ADMIN));
                        rights_string(status, got);
                        if (memcmp(got, matrix[i].rights + 3 * c, 3) != 0)
                                fail_msg("mode %04o, %s: %s, expected %.3s", matrix[i].mode, classes[c]->what,
                                         got, matrix[i].rights + 3 * c);
                }
        }
        /* Root and the admin group may do everything, even under mode 0. */
        assert_int_equal(mpx_chmod(f->m, "q", 0), 0);
        assert_int_equal(try_rights(f->m, "q"), TRIED_READ | TRIED_WRITE | TRIED_ADMIN);
        assert_int_equal(run_as(f, &admin, try_rights, "q"), TRIED_READ | TRIED_WRITE | TRIED_ADMIN);
}

/* ---- every kind of request has its access class ---- */

/* One request; its result, success or a negative errno. */
struct op {
        const char *what;
        char right;                     /* 'r', 'w' or 'a' */
        int (*call)(mpx *m);
};

static int q_get(mpx *m) {
        mpx_item it;
        int r = mpx_queue_get(m, "sq", 0, &it);

        if (r == 0)
                mpx_item_clear(&it);
        return r;
}
static int q_peek(mpx *m) {
        mpx_item it[1];
        int r = mpx_queue_peek(m, "sq", it, 1);

        for (int i = 0; i < r; i++)
                mpx_item_clear(&it[i]);
        return r;
}
static int q_qsize(mpx *m) { return (int) mpx_queue_qsize(m, "sq"); }
static int q_declare(mpx *m) { return mpx_queue_declare(m, "sq", 0, 0); }
static int q_join(mpx *m) { return mpx_queue_join(m, "jq", 0); }
static int q_done(mpx *m) { return mpx_queue_task_done(m, "jq", 12345); }
static int q_put(mpx *m) { return mpx_queue_put(m, "sq", "x", 1, 0); }
static int q_close(mpx *m) { return mpx_queue_close(m, "sq"); }
static int q_purge(mpx *m) { return (int) mpx_queue_purge(m, "sq"); }
static int d_get(mpx *m) {
        mpx_buf b;
        int r = mpx_dict_get(m, "sd", "k", 1, &b);

        if (r == 0)
                mpx_buf_clear(&b);
        return r;
}
static int d_len(mpx *m) { return (int) mpx_dict_len(m, "sd"); }
static int d_contains(mpx *m) { return mpx_dict_contains(m, "sd", "k", 1); }
static int d_set(mpx *m) { return mpx_dict_set(m, "sd", "k", 1, "v", 1); }
static int d_incr(mpx *m) { return mpx_dict_incr(m, "sd", "n", 1, 1, NULL); }
static int d_clear(mpx *m) { return (int) mpx_dict_clear(m, "sd"); }
static int l_len(mpx *m) { return (int) mpx_list_len(m, "sl"); }
static int l_append(mpx *m) { return (int) mpx_list_append(m, "sl", "x", 1); }
static int s_value(mpx *m) { return (int) mpx_sem_value(m, "ss"); }
static int s_acquire(mpx *m) { return mpx_sem_acquire(m, "ss", 0); }
static int s_release(mpx *m) { return mpx_sem_release(m, "ss"); }
static int e_is_set(mpx *m) { return mpx_event_is_set(m, "se"); }
static int e_wait(mpx *m) { return mpx_event_wait(m, "se", 0); }
static int e_set(mpx *m) { return mpx_event_set(m, "se"); }
static int e_clear(mpx *m) { return mpx_event_clear(m, "se"); }
static int b_wait(mpx *m) { return mpx_barrier_wait(m, "sb", 0); }
static int b_reset(mpx *m) { return mpx_barrier_reset(m, "sb"); }
static int a_get(mpx *m) {
        int32_t v;

        return mpx_array_get(m, "sa", 'i', 0, 1, &v);
}
static int a_set(mpx *m) {
        int32_t v = 7;

        return mpx_array_set(m, "sa", 'i', 0, 1, &v);
}
static int a_map(mpx *m) {
        mpx_map map;
        int r = mpx_array_map(m, "sa", &map);

        if (r == 0)
                mpx_map_release(&map);
        return r;
}
static int o_info(mpx *m) {
        mpx_info info;
        int r = mpx_object_info(m, "sd", &info);

        if (r == 0)
                mpx_info_clear(&info);
        return r;
}
static int o_chmod(mpx *m) { return mpx_chmod(m, "sl", 0666); }
static int o_delete(mpx *m) { return mpx_delete(m, "se"); }

static const struct op ops[] = {
        { "queue get", 'r', q_get }, { "queue peek", 'r', q_peek }, { "queue qsize", 'r', q_qsize },
        { "queue declare", 'r', q_declare }, { "queue join", 'r', q_join }, { "queue task_done", 'r', q_done },
        { "queue put", 'w', q_put }, { "queue close", 'a', q_close }, { "queue purge", 'a', q_purge },
        { "dict get", 'r', d_get }, { "dict len", 'r', d_len }, { "dict contains", 'r', d_contains },
        { "dict set", 'w', d_set }, { "dict incr", 'w', d_incr }, { "dict clear", 'w', d_clear },
        { "list len", 'r', l_len }, { "list append", 'w', l_append },
        { "sem value", 'r', s_value }, { "sem acquire", 'w', s_acquire }, { "sem release", 'w', s_release },
        { "event is_set", 'r', e_is_set }, { "event wait", 'r', e_wait }, { "event set", 'w', e_set },
        { "event clear", 'w', e_clear }, { "barrier wait", 'w', b_wait }, { "barrier reset", 'w', b_reset },
        { "array get", 'r', a_get }, { "array set", 'w', a_set }, { "array map", 'w', a_map },
        { "info", 'r', o_info }, { "chmod", 'a', o_chmod }, { "delete", 'a', o_delete },
};

/* The owner creates one object of each kind, then gives them the mode in arg. */
static int create_objects(mpx *m, void *arg) {
        unsigned mode = *(const unsigned *) arg;
        static const char *const names[] = { "sq", "jq", "sd", "sl", "ss", "se", "sb", "sa" };

        child_check(mpx_queue_declare(m, "sq", 0, 0) == 1);
        child_check(mpx_queue_declare(m, "jq", 0, MPX_QUEUE_JOINABLE) == 1);
        child_check(mpx_dict_declare(m, "sd") == 1);
        child_check(mpx_list_declare(m, "sl") == 1);
        child_check(mpx_sem_declare(m, "ss", 5, 0, 0) == 1);
        child_check(mpx_event_declare(m, "se") == 1);
        child_check(mpx_barrier_declare(m, "sb", 3) == 1);
        child_check(mpx_array_declare(m, "sa", 'i', 4, NULL) == 1);
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                child_check(mpx_chmod(m, names[i], mode) == 0);
        return 0;
}

/* Run every op; each that is in rights (a string of 'r', 'w', 'a') must not be refused, the others must. */
static int try_ops(mpx *m, void *arg) {
        const char *rights = arg;
        int bad = 0;

        for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                int r = ops[i].call(m);
                bool allowed = strchr(rights, ops[i].right) != NULL;

                if (allowed ? r == -EACCES : r != -EACCES) {
                        fprintf(stderr, "child: %s: %s, expected %s\n", ops[i].what,
                                r < 0 ? mpx_strerror(r) : "allowed", allowed ? "allowed" : "EACCES");
                        bad = 1;
                }
        }
        return bad;
}

static void test_access_classes(void **state) {
        struct fixture *f = *state;
        unsigned mode = 0640;

        assert_int_equal(run_as(f, &owner, create_objects, &mode), 0);
        /* 0640: the group reads, others nothing; nobody but the owner may do the owner's. */
        assert_int_equal(run_as(f, &member, try_ops, "r"), 0);
        assert_int_equal(run_as(f, &other, try_ops, ""), 0);
        /* 0606: the group gets nothing although others get read and write. */
        mode = 0606;
        /* A chown that changes nothing changes nothing. */
        assert_int_equal(mpx_chown(f->m, "sq", (uid_t) -1, (gid_t) -1), 0);
        assert_int_equal(harness_field(f->m, "sq", "uid"), owner.uid);
        for (const char *const *n = (const char *const[]) { "sq", "jq", "sd", "sl", "ss", "se", "sb", "sa", NULL };
             *n; n++)
                assert_int_equal(mpx_chmod(f->m, *n, mode), 0);
        assert_int_equal(run_as(f, &member, try_ops, ""), 0);
        assert_int_equal(run_as(f, &other, try_ops, "rw"), 0);
        /* The owner may do everything (it deletes the event and chmods the list last). */
        assert_int_equal(run_as(f, &owner, try_ops, "rwa"), 0);
        assert_int_equal(mpx_object_info(f->m, "se", &(mpx_info) { 0 }), -ENOENT);
}

/* ---- chmod and chown ---- */

static int owner_chown(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_chmod(m, "c", 0600) == 0);
        /* Its own groups, primary or supplementary: yes. */
        child_check(mpx_chown(m, "c", (uid_t) -1, 4402) == 0);
        child_check(mpx_chown(m, "c", owner.uid, owner.gid) == 0);
        /* A group it is not in, or another owner: no. */
        child_check(mpx_chown(m, "c", (uid_t) -1, member.gid) == -EACCES);
        child_check(mpx_chown(m, "c", member.uid, (gid_t) -1) == -EACCES);
        child_check(mpx_chmod(m, "c", 010000) == -EINVAL);
        child_check(mpx_chmod(m, "absent", 0600) == -ENOENT);
        return 0;
}

static int member_chmod(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_chmod(m, "c", 0666) == -EACCES);
        child_check(mpx_chown(m, "c", (uid_t) -1, member.gid) == -EACCES);
        return 0;
}

/* The admin group gives the object away, to anyone. */
static int admin_chown(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_chown(m, "c", member.uid, member.gid) == 0);
        return 0;
}

/* The new owner may write it and change its mode; the old owner has lost everything. */
static int member_owns(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_dict_set(m, "c", "k", 1, "v", 1) == 0);
        child_check(mpx_chmod(m, "c", 0640) == 0);
        return 0;
}

static int owner_lost(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_dict_len(m, "c") == -EACCES);
        child_check(mpx_chmod(m, "c", 0666) == -EACCES);
        child_check(mpx_delete(m, "c") == -EACCES);
        return 0;
}

static int create_dict(mpx *m, void *arg) {
        child_check(mpx_dict_declare(m, arg) == 1);
        return 0;
}

static void test_chmod_chown(void **state) {
        struct fixture *f = *state;

        assert_int_equal(run_as(f, &owner, create_dict, "c"), 0);
        assert_int_equal(run_as(f, &owner, owner_chown, NULL), 0);
        assert_int_equal(harness_field(f->m, "c", "mode"), 0600);
        assert_int_equal(harness_field(f->m, "c", "gid"), owner.gid);
        assert_int_equal(run_as(f, &member, member_chmod, NULL), 0);
        assert_int_equal(run_as(f, &admin, admin_chown, NULL), 0);
        assert_int_equal(harness_field(f->m, "c", "uid"), member.uid);
        assert_int_equal(run_as(f, &member, member_owns, NULL), 0);
        assert_int_equal(run_as(f, &owner, owner_lost, NULL), 0);
        /* Root may give it to any number, user or not. */
        assert_int_equal(mpx_chown(f->m, "c", 77777, 88888), 0);
        assert_int_equal(harness_field(f->m, "c", "uid"), 77777);
        assert_int_equal(harness_field(f->m, "c", "gid"), 88888);
        assert_int_equal(harness_field(f->m, "c", "mode"), 0640);
}

/* ---- one log line per refused client and object ---- */

/* Lines of the daemon's log that contain every one of the texts (NULL-terminated). */
static unsigned log_count(const struct fixture *f, ...) {
        FILE *fp = fopen(f->log, "r");
        char line[4096];
        unsigned n = 0;

        assert_non_null(fp);
        while (fgets(line, sizeof(line), fp)) {
                bool all = true;
                va_list ap;

                va_start(ap, f);
                for (const char *t = va_arg(ap, const char *); t; t = va_arg(ap, const char *))
                        all &= strstr(line, t) != NULL;
                va_end(ap);
                n += all;
        }
        fclose(fp);
        return n;
}

/* The other user, refused again and again on two objects over one connection. */
static int refused_often(mpx *m, void *arg) {
        (void) arg;
        for (int i = 0; i < 20; i++) {
                child_check(mpx_queue_qsize(m, "lq") == -EACCES);
                child_check(mpx_queue_put(m, "lq", "x", 1, 0) == -EACCES);
                child_check(mpx_delete(m, "lq") == -EACCES);
        }
        child_check(mpx_dict_set(m, "ld", "k", 1, "v", 1) == -EACCES);
        child_check(mpx_dict_set(m, "ld", "k", 1, "v", 1) == -EACCES);
        return 0;
}

static int create_log_objects(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_queue_declare(m, "lq", 0, 0) == 1);
        child_check(mpx_dict_declare(m, "ld") == 1);
        return 0;
}

static void test_refusals_logged_once(void **state) {
        struct fixture *f = *state;

        assert_int_equal(run_as(f, &owner, create_log_objects, NULL), 0);
        assert_int_equal(run_as(f, &other, refused_often, NULL), 0);
        /* The child had its answers: the daemon wrote its lines before them. */
        assert_int_equal(log_count(f, "uid 4303", "may not", NULL), 2);
        assert_int_equal(log_count(f, "uid 4303", "may not queue.qsize queue 'lq'", "owner 4301, group 4401",
                                   "mode rw-rw----", "no read right", "EACCES", NULL), 1);
        assert_int_equal(log_count(f, "uid 4303", "may not dict.set dict 'ld'", "no write right", NULL), 1);
        /* Another connection of the same user is another client: logged once more. */
        assert_int_equal(run_as(f, &other, refused_often, NULL), 0);
        assert_int_equal(log_count(f, "uid 4303", "may not", NULL), 4);
        /* Nobody else was refused. */
        assert_int_equal(log_count(f, "may not", NULL), 4);
}

/* ---- many supplementary groups ---- */

static int read_dict(mpx *m, void *arg) {
        child_check(mpx_dict_len(m, arg) == 0);
        child_check(mpx_dict_set(m, arg, "k", 1, "v", 1) == -EACCES);
        return 0;
}

/* The kernel's list of a peer's groups grows past the first guess of its size (32). */
static void test_many_groups(void **state) {
        struct fixture *f = *state;
        struct user crowd = { "crowd", 4306, 4406, { 0 }, 60 };

        for (size_t i = 0; i < crowd.n_groups; i++)
                crowd.groups[i] = 4500 + (gid_t) i;
        assert_int_equal(mpx_dict_declare(f->m, "g"), 1);
        assert_int_equal(mpx_chown(f->m, "g", (uid_t) -1, 4559), 0);
        assert_int_equal(mpx_chmod(f->m, "g", 0640), 0);
        assert_int_equal(run_as(f, &crowd, read_dict, "g"), 0);
}

/* ---- a worker that may not write its job's result queue ---- */

static int echo_job(void *arg, const mpx_item *job, mpx_buf *ret_result) {
        (void) arg;
        ret_result->data = malloc(job->size ? job->size : 1);
        if (!ret_result->data)
                return -ENOMEM;
        memcpy(ret_result->data, job->data, job->size);
        ret_result->size = job->size;
        return 0;
}

/* Serve jobs until the queue is closed; the results are refused, and the loop goes on. */
static int refused_worker(mpx *m, void *arg) {
        (void) arg;
        child_check(mpx_worker_run(m, "jobs", echo_job, NULL) == 0);
        return 0;
}

static void test_job_result_refused(void **state) {
        struct fixture *f = *state;
        mpx_job job[2];
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "jobs", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_chmod(f->m, "jobs", 0666), 0);
        /* The result queues are root's, 0660: the other user's worker may not put on them. */
        assert_int_equal(mpx_job_submit(f->m, "jobs", "a", 1, &job[0]), 0);
        assert_int_equal(mpx_job_submit(f->m, "jobs", "b", 1, &job[1]), 0);
        {
                struct child c = { f, &other, refused_worker, NULL };

                pid = harness_fork(child_main, &c);
        }
        /* Both jobs are done (not handed to the next worker forever); no result came. */
        harness_wait_field(f->m, "jobs", "unfinished", 0);
        assert_int_equal(mpx_job_wait(f->m, &job[0], 0, NULL), -EAGAIN);
        assert_int_equal(mpx_job_wait(f->m, &job[1], 0, NULL), -EAGAIN);
        assert_int_equal(mpx_queue_close(f->m, "jobs"), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(log_count(f, "uid 4303", "may not queue.put queue 'mpx.job.", "no write right", NULL), 2);
        assert_int_equal(mpx_delete(f->m, job[0].result_queue), 0);
        assert_int_equal(mpx_delete(f->m, job[1].result_queue), 0);
}

/* ---- the configuration: the default mode, and owners of declared objects ---- */

/* Wait until the daemon has an object of that name (a reload declared it); fails after 30 s. */
static void wait_object(mpx *m, const char *name) {
        int64_t deadline = monotonic_ms() + 30000;
        mpx_info info;
        int r;

        while ((r = mpx_object_info(m, name, &info)) == -ENOENT) {
                if (monotonic_ms() > deadline)
                        fail_msg("object %s never appeared", name);
                nanosleep(&(struct timespec) { .tv_nsec = 1000000 }, NULL);
        }
        assert_int_equal(r, 0);
        mpx_info_clear(&info);
}

static int read_conf_objects(mpx *m, void *arg) {
        (void) arg;
        /* Root's, in the member's group, mode 0620: the member may write and not read. */
        child_check(mpx_dict_set(m, "conf-d", "k", 1, "v", 1) == 0);
        child_check(mpx_dict_len(m, "conf-d") == -EACCES);
        /* mpxd's own, with the new default 0604: others read, and only read. */
        child_check(mpx_dict_len(m, "plain-d") == 0);
        child_check(mpx_dict_set(m, "plain-d", "k", 1, "v", 1) == -EACCES);
        child_check(mpx_queue_qsize(m, "after") == 0);
        child_check(mpx_queue_qsize(m, "before") == -EACCES);
        return 0;
}

static void test_reload_default_mode(void **state) {
        struct fixture *f = *state;

        assert_int_equal(mpx_queue_declare(f->m, "before", 0, 0), 1);
        text_file_write(f->conf, "admin_group = \"%u\";\n"
                        "permissions = { default_mode = \"0604\"; };\n"
                        "objects = { dicts = ( { name = \"conf-d\"; owner = \"root\"; group = \"4403\"; mode = 0620; },\n"
                        "                      \"plain-d\" ); };\n", ADMIN_GROUP);
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        wait_object(f->m, "plain-d");
        /* Objects created afterwards get the new default; existing ones keep theirs. */
        assert_int_equal(mpx_queue_declare(f->m, "after", 0, 0), 1);
        assert_int_equal(harness_field(f->m, "after", "mode"), 0604);
        assert_int_equal(harness_field(f->m, "before", "mode"), 0660);
        assert_int_equal(harness_field(f->m, "plain-d", "uid"), 0);
        assert_int_equal(harness_field(f->m, "plain-d", "mode"), 0604);
        assert_int_equal(harness_field(f->m, "conf-d", "uid"), 0);
        assert_int_equal(harness_field(f->m, "conf-d", "gid"), member.gid);
        assert_int_equal(harness_field(f->m, "conf-d", "mode"), 0620);
        assert_int_equal(run_as(f, &member, read_conf_objects, NULL), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_matrix),
                harness_own_test(test_access_classes),
                harness_own_test(test_chmod_chown),
                harness_own_test(test_refusals_logged_once),
                harness_own_test(test_reload_default_mode),
                harness_own_test(test_job_result_refused),
                harness_own_test(test_many_groups),
        };

        if (geteuid() != 0) {
                printf("test-perm: not root: cannot run clients as other users; skipped\n");
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
