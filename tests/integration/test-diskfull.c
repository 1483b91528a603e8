/* SPDX-License-Identifier: MIT */
/*
 * A full disk under the journal, for real: the durability directory is a
 * small tmpfs the test mounts (root only: without root, or where mounting
 * is not allowed, the test says so and is skipped). Producers put numbered
 * items on a durable queue and consumers take them, each recording in
 * shared memory what it was told of every request; meanwhile the test fills
 * the filesystem with a file of its own until it has no room, checks that
 * everyone is refused ENOSPC with their connections kept while reads and a
 * queue that is not durable are served, deletes the file, and checks that
 * the work resumes by itself. After MPX_DISKFULL_ROUNDS such rounds (1 by
 * default) the consumers stop, the daemon is killed with SIGKILL under
 * load, started again on the same filesystem, and the queue is drained:
 * every acknowledged put is there or was taken exactly once, no refused put
 * is anywhere, nothing is there twice, and each producer's items are in
 * order. The figures are printed on stderr.
 *
 * Nothing waits by sleeping: every wait is on a count in shared memory or
 * on what the daemon reports, and has a deadline.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "text-file.h"
#include "monotonic.h"
#include "temp-dir.h"

#define WATCHDOG_S              600
#define PRODUCERS               3
#define CONSUMERS               2
#define MAX_ITEMS               60000
/* The filesystem under the journal, and the journal's segments on it. */
#define TMPFS_OPTIONS           "size=4m,mode=0700"
#define COMPACT_SIZE            (256u << 10)
/* Acknowledged puts to wait for before filling the disk and after making room. */
#define ACKS_BETWEEN            200u
#define DEADLINE_MS             60000
/* A consumer's get waits this long for an item before it looks at the stop flag again. */
#define GET_TIMEOUT_MS          100
#define QUEUE                   "dq"
#define PLAIN                   "nq"

/* What a producer was told of the put of one item. */
enum put_state { PUT_UNANSWERED, PUT_ACKNOWLEDGED, PUT_REFUSED };

/* Shared by the test and its workers. */
struct shared {
        atomic_uchar put[PRODUCERS][MAX_ITEMS];         /* enum put_state */
        atomic_uchar taken[PRODUCERS][MAX_ITEMS];       /* times a consumer received the item */
        atomic_uint acked;
        atomic_uint refused_puts[PRODUCERS];
        atomic_uint refused_gets[CONSUMERS];
        atomic_bool full;                               /* the test is filling the disk: wait after a refusal */
        atomic_bool stop_consumers;
};

struct fixture {
        struct harness_daemon d;
        bool running, mounted;
        char dir[256];                  /* the test's folder */
        char state[300];                /* dir/state: the tmpfs, the durability directory */
        char conf[300];
        char log[300];                  /* the daemon's stderr */
        char filler[320];               /* state/filler */
        struct shared *s;
};

struct worker {
        const char *socket;
        struct shared *s;
        unsigned id;
};

/* Poll a condition that other processes make true, with a deadline; never a fixed sleep. */
#define WAIT_FOR(cond, what)                                                                    \
        do {                                                                                    \
                int64_t deadline_ = monotonic_ms() + DEADLINE_MS;                               \
                struct timespec pause_ = { 0, 500000 };                                         \
                while (!(cond)) {                                                               \
                        if (monotonic_ms() > deadline_)                                         \
                                fail_msg("waited %d ms for %s", DEADLINE_MS, what);             \
                        nanosleep(&pause_, NULL);                                               \
                }                                                                               \
        } while (0)

/* In a worker: after a refusal, wait until the test made room again (false after a deadline). */
static bool wait_room(struct shared *s) {
        int64_t deadline = monotonic_ms() + 2 * DEADLINE_MS;
        struct timespec pause = { 0, 500000 };

        while (atomic_load(&s->full))
                if (monotonic_ms() > deadline)
                        return false;
                else
                        nanosleep(&pause, NULL);
        return true;
}

static bool refusal(int r) {
        return r == -ENOSPC || r == -EIO;
}

/* Put items "p:n" one at a time and record what each put was told, until the daemon goes away. */
static int producer(void *arg) {
        const struct worker *w = arg;
        mpx *m = NULL;

        child_check_r(mpx_connect(w->socket, &m), 0);
        for (unsigned n = 0; n < MAX_ITEMS; n++) {
                char item[32];
                int len = snprintf(item, sizeof(item), "%u:%u", w->id, n), r;

                r = mpx_queue_put(m, QUEUE, item, (size_t) len, -1);
                if (r == 0) {
                        atomic_store(&w->s->put[w->id][n], PUT_ACKNOWLEDGED);
                        atomic_fetch_add(&w->s->acked, 1);
                } else if (refusal(r)) {
                        child_check_r(r, -ENOSPC);
                        atomic_store(&w->s->put[w->id][n], PUT_REFUSED);
                        atomic_fetch_add(&w->s->refused_puts[w->id], 1);
                        child_check(wait_room(w->s));
                } else
                        break;
        }
        mpx_disconnect(m);
        return 0;
}

/* Take items and record each one received, until told to stop. */
static int consumer(void *arg) {
        const struct worker *w = arg;
        mpx *m = NULL;

        child_check_r(mpx_connect(w->socket, &m), 0);
        while (!atomic_load(&w->s->stop_consumers)) {
                mpx_item it = { 0 };
                unsigned p, n;
                int r = mpx_queue_get(m, QUEUE, GET_TIMEOUT_MS, &it);

                if (r == -ETIMEDOUT)
                        continue;
                if (refusal(r)) {
                        child_check_r(r, -ENOSPC);
                        atomic_fetch_add(&w->s->refused_gets[w->id], 1);
                        child_check(wait_room(w->s));
                        continue;
                }
                child_check_r(r, 0);
                child_check(harness_parse_item(it.data, it.size, PRODUCERS, MAX_ITEMS, &p, &n));
                atomic_fetch_add(&w->s->taken[p][n], 1);
                mpx_item_clear(&it);
        }
        mpx_disconnect(m);
        return 0;
}

static void write_conf(struct fixture *f) {
        text_file_write(f->conf, "durability = {\n  directory = \"%s\";\n  sync = \"always\";\n"
                        "  compact_size = %u;\n};\n", f->state, COMPACT_SIZE);
}

static void start(struct fixture *f) {
        struct daemon_options o = { .config = f->conf, .stderr_path = f->log };

        harness_start_with(&f->d, &o);
        f->running = true;
}

/* Whether this process may mount a tmpfs: root, and a system that lets it. */
static bool may_mount(char *why, size_t size) {
        char dir[] = "/tmp/mpx-diskfull-probe-XXXXXX";
        bool ok;

        if (geteuid() != 0) {
                snprintf(why, size, "mounting a small tmpfs for the journal needs root");
                return false;
        }
        if (!mkdtemp(dir)) {
                snprintf(why, size, "cannot make a folder in /tmp: %s", strerror(errno));
                return false;
        }
        ok = mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS) == 0;
        if (!ok)
                snprintf(why, size, "cannot mount a tmpfs: %s", strerror(errno));
        else
                (void) umount2(dir, MNT_DETACH);
        rmdir(dir);
        return ok;
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog("test-diskfull", WATCHDOG_S);
        snprintf(f->dir, sizeof(f->dir), "/tmp/mpx-diskfull-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        snprintf(f->log, sizeof(f->log), "%s/mpxd.log", f->dir);
        snprintf(f->filler, sizeof(f->filler), "%s/filler", f->state);
        assert_int_equal(mkdir(f->state, 0700), 0);
        assert_int_equal(mount("tmpfs", f->state, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTIONS), 0);
        f->mounted = true;
        write_conf(f);
        f->s = mmap(NULL, sizeof(*f->s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(f->s != MAP_FAILED);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status = f->running ? harness_stop(&f->d) : 0;

        if (f->mounted)
                assert_int_equal(umount2(f->state, MNT_DETACH), 0);
        assert_int_equal(temp_dir_remove(f->dir), 0);
        munmap(f->s, sizeof(*f->s));
        free(f);
        alarm(0);
        assert_int_equal(status, 0);
        return 0;
}

/* A string field of STATS, copied. */
static void stat_str(mpx *m, const char *key, char *buf, size_t size) {
        const mpx_field *v;
        mpx_info info;

        assert_int_equal(mpx_stats(m, &info), 0);
        v = mpx_info_get(&info, key);
        assert_non_null(v);
        assert_true(v->is_str);
        snprintf(buf, size, "%s", v->str);
        mpx_info_clear(&info);
}

/* Write the filler file until the filesystem has no room left; its size. */
static uint64_t fill_disk(struct fixture *f) {
        static char block[16384];
        uint64_t size = 0;
        int fd = open(f->filler, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        assert_true(fd >= 0);
        for (;;) {
                ssize_t n = write(fd, block, sizeof(block));

                if (n > 0) {
                        size += (uint64_t) n;
                        continue;
                }
                assert_true(n < 0 && errno == ENOSPC);
                break;
        }
        close(fd);
        return size;
}

static bool everyone_refused(const struct shared *s, const unsigned *puts_before, const unsigned *gets_before) {
        for (unsigned p = 0; p < PRODUCERS; p++)
                if (atomic_load(&s->refused_puts[p]) <= puts_before[p])
                        return false;
        for (unsigned c = 0; c < CONSUMERS; c++)
                if (atomic_load(&s->refused_gets[c]) <= gets_before[c])
                        return false;
        return true;
}

/* While the disk is full: STATS says so, reads and other objects are served, changes refused. */
static void check_while_full(mpx *m) {
        mpx_item it = { 0 };
        char text[256];

        stat_str(m, "journal_state", text, sizeof(text));
        assert_string_equal(text, "full");
        stat_str(m, "journal_refusing", text, sizeof(text));
        assert_true(strstr(text, "no room") != NULL);
        assert_int_equal(mpx_queue_put(m, QUEUE, "x", 1, 0), -ENOSPC);
        assert_true(mpx_queue_qsize(m, QUEUE) >= 0);
        assert_int_equal(mpx_queue_put(m, PLAIN, "served", 6, 0), 0);
        assert_int_equal(mpx_queue_get(m, PLAIN, 0, &it), 0);
        assert_int_equal(it.size, 6);
        mpx_item_clear(&it);
}

/* One round: fill the disk under load, see everyone refused, make room, see the work resume. */
static uint64_t full_round(struct fixture *f, mpx *m) {
        struct shared *s = f->s;
        unsigned puts_before[PRODUCERS], gets_before[CONSUMERS], acked;
        uint64_t filled;
        char text[64];

        for (unsigned p = 0; p < PRODUCERS; p++)
                puts_before[p] = atomic_load(&s->refused_puts[p]);
        for (unsigned c = 0; c < CONSUMERS; c++)
                gets_before[c] = atomic_load(&s->refused_gets[c]);
        atomic_store(&s->full, true);
        filled = fill_disk(f);
        WAIT_FOR(everyone_refused(s, puts_before, gets_before), "every producer and consumer to be refused");
        check_while_full(m);

        assert_int_equal(unlink(f->filler), 0);
        acked = atomic_load(&s->acked);
        atomic_store(&s->full, false);
        WAIT_FOR(atomic_load(&s->acked) >= acked + ACKS_BETWEEN, "puts to be acknowledged again");
        WAIT_FOR((stat_str(m, "journal_state", text, sizeof(text)), strcmp(text, "ok") == 0),
                 "STATS to say the journal is ok again");
        return filled;
}

/* Count the log's lines that contain needle. */
static unsigned log_lines(const char *path, const char *needle) {
        char line[1024];
        unsigned n = 0;
        FILE *l = fopen(path, "r");

        assert_non_null(l);
        while (fgets(line, sizeof(line), l))
                n += strstr(line, needle) != NULL;
        fclose(l);
        return n;
}

/* The books after the restart. */
struct totals {
        uint64_t acknowledged, refused, unanswered, taken, recovered;
        uint64_t lost, refused_applied, duplicated, refused_gets;
};

/* Drain the queue after the restart and hold it against what every worker was told. */
static void check_books(mpx *m, struct shared *s, struct totals *t) {
        static uint8_t found[PRODUCERS][MAX_ITEMS];
        int last[PRODUCERS];

        t->recovered += harness_drain_items(m, QUEUE, false, PRODUCERS, MAX_ITEMS, &found[0][0], last);
        for (unsigned p = 0; p < PRODUCERS; p++)
                for (unsigned n = 0; n < MAX_ITEMS; n++) {
                        unsigned state = atomic_load(&s->put[p][n]), taken = atomic_load(&s->taken[p][n]);
                        unsigned copies = taken + found[p][n];

                        t->taken += taken;
                        t->duplicated += copies > 1;
                        if (state == PUT_ACKNOWLEDGED) {
                                t->acknowledged++;
                                t->lost += copies == 0;
                        } else if (state == PUT_REFUSED) {
                                t->refused++;
                                t->refused_applied += copies > 0;
                        } else if (copies > 0)
                                t->unanswered++;
                }
        for (unsigned c = 0; c < CONSUMERS; c++)
                t->refused_gets += atomic_load(&s->refused_gets[c]);
}

static void test_full_disk_loses_nothing(void **state) {
        struct fixture *f = *state;
        long rounds = getenv("MPX_DISKFULL_ROUNDS") ? strtol(getenv("MPX_DISKFULL_ROUNDS"), NULL, 10) : 1;
        struct worker w[PRODUCERS + CONSUMERS];
        pid_t pids[PRODUCERS + CONSUMERS];
        struct totals t = { 0 };
        uint64_t filled = 0;
        int64_t started = monotonic_ms();
        unsigned acked;
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, QUEUE, 0, MPX_DURABLE), 1);
        assert_int_equal(mpx_queue_declare(m, PLAIN, 0, 0), 1);
        for (unsigned i = 0; i < PRODUCERS + CONSUMERS; i++) {
                w[i] = (struct worker) { .socket = f->d.socket, .s = f->s,
                                         .id = i < PRODUCERS ? i : i - PRODUCERS };
                pids[i] = harness_fork(i < PRODUCERS ? producer : consumer, &w[i]);
        }
        WAIT_FOR(atomic_load(&f->s->acked) >= ACKS_BETWEEN, "the first puts to be acknowledged");
        for (long r = 1; r <= rounds; r++)
                filled += full_round(f, m);

        /* No get may be in flight at the kill: a plain queue's item is gone once its get is written. */
        atomic_store(&f->s->stop_consumers, true);
        for (unsigned i = PRODUCERS; i < PRODUCERS + CONSUMERS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        acked = atomic_load(&f->s->acked);
        WAIT_FOR(atomic_load(&f->s->acked) >= acked + ACKS_BETWEEN / 4, "puts before the kill");
        m = mpx_disconnect(m);
        harness_kill(f->d.pid);
        f->d.pid = 0;
        f->running = false;
        (void) harness_stop(&f->d);
        for (unsigned i = 0; i < PRODUCERS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);

        start(f);
        m = harness_connect(&f->d);
        check_books(m, f->s, &t);
        m = mpx_disconnect(m);
        fprintf(stderr,
                "test-diskfull: %ld round%s of a full disk (%" PRIu64 " bytes of filler in all), then SIGKILL: %" PRIu64
                " puts acknowledged, %" PRIu64 " refused ENOSPC, %" PRIu64 " gets refused ENOSPC, %" PRIu64
                " items taken by consumers, %" PRIu64 " recovered after the kill, %" PRIu64
                " unanswered puts kept; %" PRIu64 " acknowledged lost, %" PRIu64 " refused but applied, %" PRIu64
                " duplicated; %u log lines about refusals; %.1f s\n",
                rounds, rounds == 1 ? "" : "s", filled, t.acknowledged, t.refused, t.refused_gets, t.taken,
                t.recovered, t.unanswered, t.lost, t.refused_applied, t.duplicated,
                log_lines(f->log, "refused"), (double) (monotonic_ms() - started) / 1000);
        assert_int_equal(t.lost, 0);
        assert_int_equal(t.refused_applied, 0);
        assert_int_equal(t.duplicated, 0);
        assert_true(t.refused >= (uint64_t) PRODUCERS * (uint64_t) rounds);
        assert_true(t.unanswered <= PRODUCERS);
        /* Refusals are logged when they start, end, and at most every ten seconds between. */
        assert_true(log_lines(f->log, "refused") <= (unsigned) rounds * 3 + 6 * (unsigned) rounds);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_full_disk_loses_nothing, setup, teardown),
        };
        char why[256];

        if (!may_mount(why, sizeof(why))) {
                printf("test-diskfull: skipped: %s\n", why);
                return 77;
        }
        return cmocka_run_group_tests(tests, NULL, NULL);
}
