/* SPDX-License-Identifier: MIT */
/*
 * Durable objects against real daemons that are stopped, killed and started
 * again on the same durability directory: a clean restart keeps every
 * durable type's contents and forgets the other objects; joinable items
 * handed out and not done come back ready after SIGKILL; under sync
 * "always", with producers recording every acknowledged put and consumers
 * every acknowledged get in shared memory, mpxd is killed with SIGKILL at a
 * random moment, again and again, and after each restart every acknowledged
 * item is there exactly once and in order (plain queues) or at least once
 * (joinable queues); writes through a mapping of a durable array are
 * journaled within about a second; each sync policy flushes as it says, and
 * concurrent clients share flushes under "always"; and compaction under load loses nothing
 * while the directory stays small.
 *
 * The kill loop runs MPX_DURABLE_RUNS rounds (default 20, 3 under valgrind)
 * within MPX_DURABLE_SECONDS (default 60); scripts/check.d/40-durable.sh
 * runs it longer (MPX_DURABLE_FILTER selects tests by name). Its figures are printed on stderr. Nothing waits by
 * sleeping: kill points are counts of acknowledgements read from shared
 * memory, and every wait has a deadline.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
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
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

#define WATCHDOG_S              300
#define WATCHDOG_VALGRIND_S     1800

/* The kill loop: producers, items per producer at most, the most acknowledgements before a kill. */
#define PRODUCERS               3
#define MAX_ITEMS               20000
#define KILL_AFTER_MAX          400
/* The compaction test: a small segment. */
#define LOAD_COMPACT_SIZE       16384u
/* The sync policy test: concurrent clients, each putting one item at a time. */
#define SYNC_PUTTERS            8
#define SYNC_PUTS               100
#define ARRAY_LEN(a)            (sizeof(a) / sizeof((a)[0]))
/* How long to wait for the acknowledgements a kill point needs. */
#define PROGRESS_DEADLINE_MS    30000

struct fixture {
        struct harness_daemon d;
        bool running;
        char dir[256];                  /* the test's folder */
        char state[300];                /* dir/state: the durability directory */
        char conf[300];                 /* dir/mpxd.conf */
};

/* What producers and consumers acknowledged, shared with the test process. */
struct shared {
        atomic_uint acked[PRODUCERS];                   /* items 0 .. acked-1 of each producer are acknowledged */
        atomic_uchar taken[PRODUCERS][MAX_ITEMS];       /* items a consumer received */
};

static long env_long(const char *name, long def) {
        const char *v = getenv(name);

        return v && *v ? strtol(v, NULL, 10) : def;
}

/* Write the configuration: durability in dir/state with this sync policy and compaction size. */
static void write_conf(struct fixture *f, const char *sync, unsigned long compact_size) {
        text_file_write(f->conf, "durability = {\n  directory = \"%s\";\n  sync = \"%s\";\n  compact_size = %lu;\n};\n",
                        f->state, sync, compact_size);
}

static void start(struct fixture *f) {
        struct daemon_options o = { .config = f->conf };

        harness_start_with(&f->d, &o);
        f->running = true;
}

/* Stop cleanly (SIGTERM: the journal is compacted); the daemon must exit 0. */
static void stop(struct fixture *f) {
        f->running = false;
        assert_int_equal(harness_stop(&f->d), 0);
}

/* SIGKILL the daemon: nothing of it runs after this returns. */
static void crash(struct fixture *f) {
        harness_kill(f->d.pid);
        f->d.pid = 0;
        f->running = false;
        (void) harness_stop(&f->d);
}

/* SIGKILL the daemon while m is connected to it, and start it again: m's successor. */
static mpx *crash_restart(struct fixture *f, mpx *m) {
        crash(f);
        mpx_disconnect(m);
        start(f);
        return harness_connect(&f->d);
}

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog("test-durable", harness_under_valgrind() ? WATCHDOG_VALGRIND_S : WATCHDOG_S);
        snprintf(f->dir, sizeof(f->dir), "/tmp/mpx-durable-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        write_conf(f, "always", 64u << 20);
        *state = f;
        return 0;
}

/* Remove the durability directory's files, then the folders. */
static void remove_state(struct fixture *f) {
        assert_int_equal(temp_dir_remove(f->dir), 0);
}

static int teardown(void **state) {
        struct fixture *f = *state;
        bool was_running = f->running;
        int status = 0;

        if (was_running)
                status = harness_stop(&f->d);
        remove_state(f);
        free(f);
        alarm(0);
        if (was_running)
                assert_int_equal(status, 0);
        return 0;
}

/* Take an item that must be there now, and compare it. */
static void expect_item(mpx *m, const char *queue, const char *want, uint64_t *ret_tag) {
        mpx_item it = { 0 };

        assert_int_equal(mpx_queue_get(m, queue, 0, &it), 0);
        assert_int_equal(it.size, strlen(want));
        assert_memory_equal(it.data, want, it.size);
        if (ret_tag)
                *ret_tag = it.tag;
        mpx_item_clear(&it);
}

/* The queue holds these items (a NULL-terminated list) in this order, and nothing else. */
static void expect_items(mpx *m, const char *queue, ...) {
        const char *want;
        va_list ap;

        va_start(ap, queue);
        while ((want = va_arg(ap, const char *)))
                expect_item(m, queue, want, NULL);
        va_end(ap);
        assert_int_equal(mpx_queue_get(m, queue, 0, &(mpx_item) { 0 }), -EAGAIN);
}

/* A clean restart keeps each durable type's contents and forgets the other objects. */
static void test_restart_keeps_contents(void **state) {
        struct fixture *f = *state;
        mpx_buf v = { 0 }, key = { 0 };
        int32_t ints[3] = { 1, 2, 3 }, got[3];
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "q", 0, MPX_DURABLE), 1);
        assert_int_equal(mpx_queue_put(m, "q", "one", 3, 0), 0);
        assert_int_equal(mpx_queue_put(m, "q", "two", 3, 0), 0);
        assert_int_equal(mpx_dict_declare_flags(m, "d", MPX_DURABLE), 1);
        assert_int_equal(mpx_dict_set(m, "d", "k", 1, "v", 1), 0);
        assert_int_equal(mpx_list_declare_flags(m, "l", MPX_DURABLE), 1);
        assert_true(mpx_list_append(m, "l", "x", 1) >= 0);
        /* A splice and a popitem are recorded as the deletions and insertions they make. */
        assert_true(mpx_list_append(m, "l", "gone", 4) >= 0);
        assert_int_equal(mpx_list_splice(m, "l", 1, 2, 0, (struct iovec[]) { { "p", 1 }, { "q", 1 } }, 2, NULL), 1);
        assert_int_equal(mpx_dict_set(m, "d", "k2", 2, "v2", 2), 0);
        assert_int_equal(mpx_dict_popitem(m, "d", &key, &v), 0);
        assert_int_equal(key.size, 2);
        mpx_buf_clear(&key);
        mpx_buf_clear(&v);
        assert_int_equal(mpx_sem_declare(m, "s", 4, 0, MPX_SEM_NO_UNDO | MPX_DURABLE), 1);
        assert_int_equal(mpx_sem_acquire(m, "s", 0), 0);
        assert_int_equal(mpx_array_declare_flags(m, "a", 'i', 3, ints, MPX_DURABLE), 1);
        assert_int_equal(mpx_queue_declare(m, "plain", 0, 0), 1);
        assert_int_equal(mpx_queue_put(m, "plain", "gone", 4, 0), 0);
        m = mpx_disconnect(m);
        stop(f);

        start(f);
        m = harness_connect(&f->d);
        expect_item(m, "q", "one", NULL);
        expect_item(m, "q", "two", NULL);
        assert_int_equal(mpx_dict_get(m, "d", "k", 1, &v), 0);
        assert_int_equal(v.size, 1);
        mpx_buf_clear(&v);
        assert_int_equal(mpx_list_len(m, "l"), 3);
        assert_int_equal(mpx_list_get(m, "l", 2, &v), 0);
        assert_memory_equal(v.data, "q", 1);
        mpx_buf_clear(&v);
        assert_int_equal(mpx_dict_len(m, "d"), 1);
        assert_int_equal(mpx_sem_value(m, "s"), 3);
        assert_int_equal(mpx_array_get(m, "a", 'i', 0, 3, got), 0);
        assert_memory_equal(got, ints, sizeof(ints));
        assert_int_equal(harness_field(m, "q", "durable"), 1);
        assert_int_equal(mpx_queue_declare(m, "plain", 0, 0), 1);
        /* The other durability is another object. */
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), -EEXIST);
        m = mpx_disconnect(m);
        stop(f);
}

/* Joinable items handed out and not done when mpxd is killed come back ready, in their places. */
static void test_joinable_undone_come_back(void **state) {
        struct fixture *f = *state;
        uint64_t tag;
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "j", 0, MPX_QUEUE_JOINABLE | MPX_DURABLE), 1);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", "d", NULL }; *s; s++)
                assert_int_equal(mpx_queue_put(m, "j", *s, 1, 0), 0);
        expect_item(m, "j", "a", NULL);
        expect_item(m, "j", "b", &tag);
        expect_item(m, "j", "c", NULL);
        assert_int_equal(mpx_queue_task_done(m, "j", tag), 0);
        m = crash_restart(f, m);
        expect_items(m, "j", "a", "c", "d", NULL);
        m = mpx_disconnect(m);
        stop(f);
}

/* Take an item that must be there now, delivered for the deliveries-th time. */
static void expect_delivery(mpx *m, const char *queue, unsigned flags, const char *want, uint32_t deliveries) {
        mpx_item it = { 0 };

        assert_int_equal(mpx_queue_get_flags(m, queue, 0, flags, &it), 0);
        assert_int_equal(it.size, strlen(want));
        assert_memory_equal(it.data, want, it.size);
        assert_int_equal(it.deliveries, deliveries);
        mpx_item_clear(&it);
}

/*
 * How many times a durable joinable item was handed out survives a SIGKILL
 * and a clean stop (which compacts the journal into a snapshot), detached
 * deliveries as well as a connection's.
 */
static void test_delivery_counts_survive_restarts(void **state) {
        struct fixture *f = *state;
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "j", 0, MPX_QUEUE_JOINABLE | MPX_DURABLE), 1);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", NULL }; *s; s++)
                assert_int_equal(mpx_queue_put(m, "j", *s, 1, 0), 0);
        expect_delivery(m, "j", 0, "a", 1);
        expect_delivery(m, "j", MPX_GET_DETACH, "b", 1);
        m = crash_restart(f, m);
        expect_delivery(m, "j", MPX_GET_DETACH, "a", 2);
        m = mpx_disconnect(m);
        stop(f);

        start(f);
        m = harness_connect(&f->d);
        expect_delivery(m, "j", 0, "a", 3);
        expect_delivery(m, "j", 0, "b", 2);
        expect_delivery(m, "j", 0, "c", 1);
        m = mpx_disconnect(m);
        stop(f);
}

/*
 * Writes through a mapping bypass the daemon: it records an image of a
 * durable array that changed once a second, and a SIGKILL after that loses
 * nothing of them.
 */
static void test_mapping_writes_survive(void **state) {
        struct fixture *f = *state;
        int32_t got[4], want[4] = { 11, 22, 33, 44 };
        int64_t deadline, written;
        mpx_map map = { 0 };
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_array_declare_flags(m, "mapped", 'i', 4, NULL, MPX_DURABLE), 1);
        assert_int_equal(mpx_array_map(m, "mapped", &map), 0);
        written = harness_stat(m, "journal_written_bytes");
        memcpy(map.addr, want, sizeof(want));
        /*
         * The daemon notices within about a second: wait, with a deadline, until
         * its image record is written to the file. journal_records counts a
         * record as soon as it is buffered, which is before the write at the
         * end of the loop iteration: a kill in between would lose it.
         */
        deadline = monotonic_ms() + PROGRESS_DEADLINE_MS;
        while (harness_stat(m, "journal_written_bytes") == written) {
                struct timespec pause = { 0, 20000000 };

                if (monotonic_ms() > deadline)
                        fail_msg("no image of the mapped array was journaled in %d ms", PROGRESS_DEADLINE_MS);
                nanosleep(&pause, NULL);
        }
        mpx_map_release(&map);
        m = crash_restart(f, m);
        assert_int_equal(mpx_array_get(m, "mapped", 'i', 0, 4, got), 0);
        assert_memory_equal(got, want, sizeof(want));
        m = mpx_disconnect(m);
        stop(f);
}

struct worker {
        const char *socket;
        const char *queue;
        struct shared *shared;
        unsigned id;
        bool joinable;
};

/* Put n items one at a time on a queue, each waiting for its acknowledgement. */
static int sync_putter(void *arg) {
        const struct worker *w = arg;
        mpx *m = NULL;

        if (mpx_connect(w->socket, &m) < 0)
                return 1;
        for (unsigned n = 0; n < SYNC_PUTS; n++)
                if (mpx_queue_put(m, w->queue, "x", 1, -1) < 0)
                        return 1;
        mpx_disconnect(m);
        return 0;
}

/* Wait until STATS counts at least want fdatasync calls; the once-a-second timer is the only pace. */
static int64_t wait_fsyncs(mpx *m, int64_t want) {
        int64_t deadline = monotonic_ms() + PROGRESS_DEADLINE_MS, fsyncs;

        while ((fsyncs = harness_stat(m, "journal_fsyncs")) < want) {
                struct timespec pause = { 0, 20000000 };

                if (monotonic_ms() > deadline)
                        fail_msg("journal_fsyncs still %" PRId64 " after %d ms, waiting for %" PRId64, fsyncs,
                                 PROGRESS_DEADLINE_MS, want);
                nanosleep(&pause, NULL);
        }
        return fsyncs;
}

/*
 * What each sync policy does with fdatasync: "always" before every reply,
 * shared by the clients served together (group commit); "everysec" within
 * about a second of a change; "no" never.
 */
static void test_sync_policies(void **state) {
        struct fixture *f = *state;
        static const char *const policies[] = { "always", "everysec", "no" };
        struct worker w[SYNC_PUTTERS];
        pid_t pids[SYNC_PUTTERS];
        int64_t fsyncs;
        mpx *m;

        for (size_t p = 0; p < ARRAY_LEN(policies); p++) {
                write_conf(f, policies[p], 64u << 20);
                start(f);
                m = harness_connect(&f->d);
                assert_int_equal(mpx_queue_declare(m, "sync", 0, MPX_DURABLE), 1);
                for (unsigned i = 0; i < SYNC_PUTTERS; i++) {
                        w[i] = (struct worker) { .socket = f->d.socket, .queue = "sync" };
                        pids[i] = harness_fork(sync_putter, &w[i]);
                }
                for (unsigned i = 0; i < SYNC_PUTTERS; i++)
                        assert_int_equal(harness_wait(pids[i]), 0);
                fsyncs = harness_stat(m, "journal_fsyncs");
                if (p == 0) {
                        /* Every put was flushed before its reply, and concurrent puts shared flushes. */
                        assert_true(fsyncs >= 1);
                        assert_true(fsyncs < SYNC_PUTTERS * SYNC_PUTS);
                        fprintf(stderr, "test-durable: sync always: %d synchronous puts from %d clients, %" PRId64
                                " fdatasync calls\n", SYNC_PUTTERS * SYNC_PUTS, SYNC_PUTTERS, fsyncs);
                } else if (p == 1)
                        wait_fsyncs(m, 1);
                else
                        assert_int_equal(fsyncs, 0);
                assert_int_equal(harness_field(m, "sync", "size"), SYNC_PUTTERS * SYNC_PUTS);
                assert_int_equal(mpx_delete(m, "sync"), 0);
                m = mpx_disconnect(m);
                stop(f);
        }
}

/* The threads of process pid. */
static int task_count(pid_t pid) {
        char path[64];
        struct dirent *e;
        DIR *d;
        int n = 0;

        snprintf(path, sizeof(path), "/proc/%ld/task", (long) pid);
        d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static void expect_journal_state(mpx *m, const char *want) {
        mpx_info info = { 0 };
        const mpx_field *fl;

        assert_int_equal(mpx_stats(m, &info), 0);
        fl = mpx_info_get(&info, "journal_state");
        assert_true(fl && fl->is_str);
        assert_string_equal(fl->str, want);
        mpx_info_clear(&info);
}

/*
 * Under everysec the fdatasync runs in the daemon's sync thread: the fsyncs
 * count rises after puts, and again after later ones (one thread, syncing
 * again and again), and after SIGKILL a restart finds every put that was
 * acknowledged, in order. SIGKILL keeps the page cache, so what this checks
 * is the daemon's side: the thread and the loop's commits never lose or
 * reorder a write.
 */
static void test_everysec_syncs_survive_crash(void **state) {
        struct fixture *f = *state;
        char item[16];
        int64_t fsyncs;
        mpx *m;

        write_conf(f, "everysec", 64u << 20);
        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "es", 0, MPX_DURABLE), 1);
        for (unsigned round = 0; round < 3; round++) {
                for (unsigned n = 0; n < SYNC_PUTS; n++) {
                        int len = snprintf(item, sizeof(item), "%u", round * SYNC_PUTS + n);

                        assert_int_equal(mpx_queue_put(m, "es", item, (size_t) len, -1), 0);
                }
                /* A sync that started during the puts may cover part of them: wait for the next one. */
                fsyncs = harness_stat(m, "journal_fsyncs");
                wait_fsyncs(m, fsyncs + 1);
        }
        /* The loop's thread and the sync thread. */
        assert_true(task_count(f->d.pid) >= 2);
        expect_journal_state(m, "ok");
        m = mpx_disconnect(m);
        crash(f);

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(harness_field(m, "es", "size"), 3 * SYNC_PUTS);
        for (unsigned n = 0; n < 3 * SYNC_PUTS; n++) {
                snprintf(item, sizeof(item), "%u", n);
                expect_item(m, "es", item, NULL);
        }
        m = mpx_disconnect(m);
        stop(f);
}

/* ---- the kill loop ---- */


/* Put items "id:n" one at a time and record each acknowledgement, until the daemon goes away. */
static int producer(void *arg) {
        const struct worker *w = arg;
        char item[32];
        mpx *m = NULL;

        if (mpx_connect(w->socket, &m) < 0)
                return 0;
        for (unsigned n = 0; n < MAX_ITEMS; n++) {
                int len = snprintf(item, sizeof(item), "%u:%u", w->id, n);

                if (mpx_queue_put(m, w->queue, item, (size_t) len, -1) < 0)
                        break;
                atomic_store(&w->shared->acked[w->id], n + 1);
        }
        mpx_disconnect(m);
        return 0;
}

/*
 * Take items and record each one received, then (joinable) mark it done. An
 * item is recorded as soon as its get returns: a kill between a joinable
 * get and its task_done brings it back, and it is then there twice, which
 * at-least-once allows.
 */
static int consumer(void *arg) {
        const struct worker *w = arg;
        mpx *m = NULL;

        if (mpx_connect(w->socket, &m) < 0)
                return 0;
        for (;;) {
                mpx_item it = { 0 };
                unsigned p, n;

                if (mpx_queue_get(m, w->queue, -1, &it) < 0)
                        break;
                if (!harness_parse_item(it.data, it.size, PRODUCERS, MAX_ITEMS, &p, &n)) {
                        mpx_item_clear(&it);
                        return 1;
                }
                atomic_fetch_add(&w->shared->taken[p][n], 1);
                mpx_item_clear(&it);
                if (w->joinable && mpx_queue_task_done(m, w->queue, it.tag) < 0)
                        break;
        }
        mpx_disconnect(m);
        return 0;
}

/* Totals over every round, for the figures. */
struct totals {
        unsigned rounds;
        uint64_t acknowledged, consumed, recovered, lost, duplicated, in_flight_kept, gets_cut;
};

/* Wait until the producers together have n acknowledgements (or one of them stopped). */
static void wait_acks(struct shared *s, unsigned n) {
        int64_t deadline = monotonic_ms() + PROGRESS_DEADLINE_MS;
        struct timespec pause = { 0, 200000 };

        for (;;) {
                unsigned sum = 0;

                for (unsigned p = 0; p < PRODUCERS; p++)
                        sum += atomic_load(&s->acked[p]);
                if (sum >= n)
                        return;
                if (monotonic_ms() > deadline)
                        fail_msg("only %u of %u puts were acknowledged in %d ms", sum, n, PROGRESS_DEADLINE_MS);
                nanosleep(&pause, NULL);
        }
}

/*
 * After a restart, drain the queue and check it against what was
 * acknowledged: every acknowledged item exactly once between the queue and
 * the consumers (plain queues), or at least once (joinable), each
 * producer's items in order; an item whose put was in flight may be there
 * or not. A plain get removes its item for good once its record is written:
 * a kill after that and before the reply reached the consumer loses that
 * one item, so up to in_flight_gets items may be missing (the consumers'
 * gets in flight at the kill).
 */
static void check_round(mpx *m, const char *queue, struct shared *s, bool joinable, unsigned in_flight_gets,
                        struct totals *t) {
        uint64_t missing = 0;
        static uint8_t found[PRODUCERS][MAX_ITEMS];
        int last[PRODUCERS];

        t->recovered += harness_drain_items(m, queue, joinable, PRODUCERS, MAX_ITEMS, &found[0][0], last);
        for (unsigned p = 0; p < PRODUCERS; p++) {
                unsigned acked = atomic_load(&s->acked[p]);

                t->acknowledged += acked;
                for (unsigned n = 0; n < MAX_ITEMS; n++) {
                        unsigned taken = atomic_load(&s->taken[p][n]), copies = taken + found[p][n];

                        t->consumed += taken;
                        if (n < acked && copies == 0 && ++missing > in_flight_gets) {
                                t->lost++;
                                fail_msg("%s: acknowledged item %u:%u is lost (%u acknowledged, the last recovered %d)",
                                         queue, p, n, acked, last[p]);
                        }
                        if (!joinable && copies > 1) {
                                t->duplicated++;
                                fail_msg("%s: item %u:%u was delivered %u times", queue, p, n, copies);
                        }
                        if (n > acked && copies > 0)
                                fail_msg("%s: item %u:%u was never put", queue, p, n);
                        if (n == acked && found[p][n])
                                t->in_flight_kept++;
                }
        }
        t->gets_cut += missing;
}

/*
 * One round on a fresh queue: producers, and for a joinable queue a consumer
 * that marks items done; SIGKILL after a random count of acknowledged puts,
 * restart, check.
 */
static void kill_round(struct fixture *f, struct shared *s, unsigned round, struct totals *t) {
        struct worker w[PRODUCERS + 1];
        pid_t pids[PRODUCERS + 1];
        bool joinable = round % 2 == 1;
        unsigned workers = PRODUCERS + (joinable ? 1 : 0);
        char queue[32];
        mpx *m;

        snprintf(queue, sizeof(queue), "%s%u", joinable ? "j" : "q", round);
        memset(s, 0, sizeof(*s));
        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, queue, 0, MPX_DURABLE | (joinable ? MPX_QUEUE_JOINABLE : 0)), 1);
        m = mpx_disconnect(m);
        for (unsigned i = 0; i < workers; i++) {
                w[i] = (struct worker) { .socket = f->d.socket, .queue = queue, .shared = s, .id = i,
                                         .joinable = joinable };
                pids[i] = harness_fork(i < PRODUCERS ? producer : consumer, &w[i]);
        }
        wait_acks(s, 1 + (unsigned) random() % KILL_AFTER_MAX);
        crash(f);
        for (unsigned i = 0; i < workers; i++)
                assert_int_equal(harness_wait(pids[i]), 0);

        start(f);
        m = harness_connect(&f->d);
        check_round(m, queue, s, joinable, 0, t);
        assert_int_equal(mpx_delete(m, queue), 0);
        m = mpx_disconnect(m);
        stop(f);
        t->rounds++;
}

static void test_kill_loop(void **state) {
        struct fixture *f = *state;
        long runs = env_long("MPX_DURABLE_RUNS", harness_under_valgrind() ? 3 : 20);
        int64_t budget_ms = env_long("MPX_DURABLE_SECONDS", harness_under_valgrind() ? 600 : 60) * 1000;
        int64_t started = monotonic_ms();
        struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct totals t = { 0 };
        unsigned seed = (unsigned) env_long("MPX_DURABLE_SEED", (long) (time(NULL) ^ getpid()));

        assert_true(s != MAP_FAILED);
        srandom(seed);
        for (long i = 0; i < runs && (i == 0 || monotonic_ms() - started < budget_ms); i++)
                kill_round(f, s, (unsigned) i, &t);
        fprintf(stderr,
                "test-durable: kill loop (seed %u): %u runs killed with SIGKILL under sync=always; %" PRIu64
                " puts acknowledged, %" PRIu64 " items received by consumers of joinable queues before the kills, "
                "%" PRIu64 " items recovered after them, %" PRIu64 " acknowledged items lost, %" PRIu64
                " delivered twice from plain queues, %" PRIu64 " unacknowledged puts in flight kept; %.1f s\n",
                seed, t.rounds, t.acknowledged, t.consumed, t.recovered, t.lost, t.duplicated, t.in_flight_kept,
                (double) (monotonic_ms() - started) / 1000);
        assert_true(t.rounds >= 1);
        munmap(s, sizeof(*s));
}

/* The sum of the sizes of the files in a directory. */
static uint64_t dir_bytes(const char *dir) {
        char path[400];
        struct stat st;
        uint64_t total = 0;
        const char *names[] = { "snapshot", NULL };

        for (size_t i = 0; names[i]; i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                if (stat(path, &st) == 0)
                        total += (uint64_t) st.st_size;
        }
        for (unsigned n = 1; n < 10000; n++) {
                snprintf(path, sizeof(path), "%s/journal.%u", dir, n);
                if (stat(path, &st) == 0)
                        total += (uint64_t) st.st_size;
        }
        return total;
}

/* An integer field of a STATS reply. */
static int64_t info_num(const mpx_info *info, const char *key) {
        const mpx_field *fl = mpx_info_get(info, key);

        assert_non_null(fl);
        return fl->num;
}

/* true if the durability directory holds a snapshot. */
static bool info_snapshot_exists(const char *state) {
        char path[400];
        struct stat st;

        snprintf(path, sizeof(path), "%s/snapshot", state);
        return stat(path, &st) == 0;
}

/*
 * Compaction while producers and consumers run on a plain queue: nothing
 * acknowledged is lost (but the gets in flight at the kill, see
 * check_round), nothing comes back twice, and the directory stays small.
 */
static void test_compaction_under_load(void **state) {
        struct fixture *f = *state;
        struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct worker w[2 * PRODUCERS];
        pid_t pids[2 * PRODUCERS];
        struct totals t = { 0 };
        int64_t deadline, written, on_disk, compactions;
        mpx_info info = { 0 };
        uint64_t bytes;
        mpx *m;

        assert_true(s != MAP_FAILED);
        memset(s, 0, sizeof(*s));
        /* A small segment and no fdatasync: many compactions in a short time. */
        write_conf(f, "no", LOAD_COMPACT_SIZE);
        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "load", 0, MPX_DURABLE), 1);
        /* As many consumers as producers, so that the queue, and the snapshot, stay short. */
        for (unsigned i = 0; i < 2 * PRODUCERS; i++) {
                w[i] = (struct worker) { .socket = f->d.socket, .queue = "load", .shared = s, .id = i };
                pids[i] = harness_fork(i < PRODUCERS ? producer : consumer, &w[i]);
        }
        deadline = monotonic_ms() + PROGRESS_DEADLINE_MS;
        while (harness_stat(m, "journal_compactions") < 5) {
                struct timespec pause = { 0, 2000000 };

                if (monotonic_ms() > deadline)
                        fail_msg("fewer than 5 compactions in %d ms", PROGRESS_DEADLINE_MS);
                nanosleep(&pause, NULL);
        }
        /*
         * The journal shrinks: each compaction deleted the segments its
         * snapshot covers, at least compact_size bytes each time, so what is
         * left on disk is at least that much under what was written (one
         * STATS reply: the figures are of one instant), less one segment
         * for the records of the same instant not yet written, which
         * journal_bytes counts and journal_written_bytes does not (a
         * loaded machine makes that batch large).
         */
        assert_int_equal(mpx_stats(m, &info), 0);
        written = info_num(&info, "journal_written_bytes");
        on_disk = info_num(&info, "journal_bytes");
        compactions = info_num(&info, "journal_compactions");
        mpx_info_clear(&info);
        assert_true(compactions >= 5);
        assert_true(on_disk + (compactions - 1) * (int64_t) LOAD_COMPACT_SIZE <= written);
        assert_true(info_snapshot_exists(f->state));
        m = mpx_disconnect(m);
        crash(f);
        for (unsigned i = 0; i < 2 * PRODUCERS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        bytes = dir_bytes(f->state);

        start(f);
        m = harness_connect(&f->d);
        check_round(m, "load", s, false, PRODUCERS, &t);
        fprintf(stderr, "test-durable: compaction under load: %" PRId64 " compactions, %" PRId64 " bytes journaled, %"
                PRId64 " left in segments, %" PRIu64 " bytes in the directory at the kill; %" PRIu64
                " puts acknowledged, %" PRIu64 " received, %" PRIu64 " recovered, %" PRIu64 " lost (%" PRIu64
                " in the consumers' gets in flight)\n", compactions, written, on_disk, bytes, t.acknowledged,
                t.consumed, t.recovered, t.lost, t.gets_cut);
        m = mpx_disconnect(m);
        stop(f);
        munmap(s, sizeof(*s));
}

/* A raw connection that sends HELLO and a GET_MANY of max items of queue, and closes without reading. */
static void get_many_and_close(const struct fixture *f, const char *queue, uint32_t max) {
        int fd = harness_raw_connect(f->d.socket);
        struct wire_buf b;

        assert_true(fd >= 0);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "durable");
        append_request(&b, 2, WIRE_OP_QUEUE_GET_MANY, "niww", queue, (int64_t) 0, (uint32_t) 0, max);
        assert_int_equal(write(fd, b.data, b.len), (ssize_t) b.len);
        close(fd);
        wire_buf_done(&b);
}

/*
 * Items of a durable plain queue whose GET_MANY reply could not be written
 * (the client closed first, while the daemon was stopped) go back to the
 * head of the queue, and the journal says so: after a SIGKILL they are
 * still there, in order, and an item taken normally after that stays taken.
 */
static void test_unwritten_get_comes_back(void **state) {
        struct fixture *f = *state;
        int status;
        mpx *m;

        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "q", 0, MPX_DURABLE), 1);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", "d", NULL }; *s; s++)
                assert_int_equal(mpx_queue_put(m, "q", *s, 1, 0), 0);
        assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
        assert_int_equal(waitpid(f->d.pid, &status, WUNTRACED), f->d.pid);
        assert_true(WIFSTOPPED(status));
        get_many_and_close(f, "q", 2);
        assert_int_equal(kill(f->d.pid, SIGCONT), 0);
        harness_wait_field(m, "q", "redelivered", 2);
        expect_item(m, "q", "a", NULL);
        m = crash_restart(f, m);
        expect_items(m, "q", "b", "c", "d", NULL);
        m = mpx_disconnect(m);
        stop(f);
}

/* The first child of process pid, from /proc/PID/task/PID/children; 0 when it has none. */
static pid_t first_child(pid_t pid) {
        char path[64];
        long child = 0;
        FILE *in;

        snprintf(path, sizeof(path), "/proc/%ld/task/%ld/children", (long) pid, (long) pid);
        in = fopen(path, "re");
        if (!in)
                return 0;
        if (fscanf(in, "%ld", &child) != 1)
                child = 0;
        fclose(in);
        return (pid_t) child;
}

/* The state letter and parent of process pid, from /proc/PID/stat; false when it is gone. */
static bool proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid) {
        char path[64], comm[64];
        long ppid = 0;
        bool ok;
        FILE *in;

        snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
        in = fopen(path, "re");
        if (!in)
                return false;
        /* The command name (mpxd, or memcheck's) has no parenthesis. */
        ok = fscanf(in, "%*d (%63[^)]) %c %ld", comm, ret_state, &ppid) == 3;
        fclose(in);
        *ret_ppid = (pid_t) ppid;
        return ok;
}

/*
 * Stop the process of pidfd, a child of daemon, and wait until it is
 * stopped: true, or false if it ended (or is no longer the daemon's) first.
 */
/* Descriptors process pid holds now, -1 if it is gone. */
static int open_fds(pid_t pid) {
        char path[64];
        struct dirent *e;
        int n = 0;
        DIR *d;

        snprintf(path, sizeof(path), "/proc/%ld/fd", (long) pid);
        d = opendir(path);
        if (!d)
                return -1;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

static bool stop_child_of(int pidfd, pid_t pid, pid_t daemon) {
        char state;
        pid_t ppid;

        if (syscall(SYS_pidfd_send_signal, pidfd, SIGSTOP, NULL, 0) < 0)
                return false;
        for (;;) {
                struct timespec pause = { 0, 100000 };

                if (!proc_stat(pid, &state, &ppid) || ppid != daemon || state == 'Z' || state == 'X')
                        return false;
                if (state == 'T')
                        break;
                nanosleep(&pause, NULL);
        }
        /*
         * Stopped too early, right after fork(), it may not have asked for
         * its parent-death signal yet: it asks first, then closes every
         * descriptor but a few. Until it has, let it run and look again.
         */
        if (open_fds(pid) > 5) {
                (void) syscall(SYS_pidfd_send_signal, pidfd, SIGCONT, NULL, 0);
                return false;
        }
        return true;
}

/*
 * A descriptor that becomes readable when the daemon's compaction child
 * exits: found while the daemon runs under load, checked to be the daemon's
 * child once the descriptor holds it (so a reused pid cannot fool the test),
 * and stopped (SIGSTOP), so that it cannot end on its own: only a SIGKILL
 * ends it now. Fails the test if no compaction runs within the deadline.
 */
static int compaction_child_pidfd(pid_t daemon, pid_t *ret_pid) {
        int64_t deadline = monotonic_ms() + PROGRESS_DEADLINE_MS;

        for (;;) {
                struct timespec pause = { 0, 200000 };
                pid_t child = first_child(daemon);

                if (child > 0) {
                        int fd = (int) syscall(SYS_pidfd_open, child, 0);

                        if (fd >= 0 && stop_child_of(fd, child, daemon)) {
                                *ret_pid = child;
                                return fd;
                        }
                        if (fd >= 0)
                                close(fd);
                }
                if (monotonic_ms() > deadline)
                        fail_msg("no compaction child seen in %d ms", PROGRESS_DEADLINE_MS);
                nanosleep(&pause, NULL);
        }
}

/*
 * SIGKILL the daemon while a compaction child writes the snapshot (stopped
 * there by the test): the child dies with it (it asked for SIGKILL when its
 * parent dies), and a daemon
 * started again on the directory, with a torn snapshot.tmp left in it,
 * recovers every acknowledged put from the snapshot and segments and never
 * reads the torn file; its own clean stop compacts over it.
 */
static void test_kill_during_compaction(void **state) {
        struct fixture *f = *state;
        struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct worker w[PRODUCERS];
        pid_t pids[PRODUCERS], child;
        struct totals t = { 0 };
        struct pollfd gone;
        char tmp[400];
        mpx *m;

        /*
         * Under valgrind the child was seen to outlive the SIGKILLed daemon:
         * what this checks is the kernel's parent-death signal of the daemon
         * itself, which the run without valgrind does.
         */
        if (harness_under_valgrind()) {
                munmap(s, sizeof(*s));
                skip();
        }

        assert_true(s != MAP_FAILED);
        memset(s, 0, sizeof(*s));
        write_conf(f, "no", LOAD_COMPACT_SIZE);
        start(f);
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "load", 0, MPX_DURABLE), 1);
        m = mpx_disconnect(m);
        /* Producers only: the queue grows, and each snapshot takes longer to write. */
        for (unsigned i = 0; i < PRODUCERS; i++) {
                w[i] = (struct worker) { .socket = f->d.socket, .queue = "load", .shared = s, .id = i };
                pids[i] = harness_fork(producer, &w[i]);
        }
        gone.fd = compaction_child_pidfd(f->d.pid, &child);
        gone.events = POLLIN;
        crash(f);
        /* The stopped child is gone too: its parent's death sent it SIGKILL. */
        if (poll(&gone, 1, PROGRESS_DEADLINE_MS) != 1) {
                (void) syscall(SYS_pidfd_send_signal, gone.fd, SIGKILL, NULL, 0);
                fail_msg("compaction child %ld outlived the daemon", (long) child);
        }
        close(gone.fd);
        for (unsigned i = 0; i < PRODUCERS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);

        snprintf(tmp, sizeof(tmp), "%s/snapshot.tmp", f->state);
        text_file_write(tmp, "not a snapshot");
        start(f);
        m = harness_connect(&f->d);
        check_round(m, "load", s, false, 0, &t);
        fprintf(stderr, "test-durable: killed during compaction (child %ld gone with it): %" PRIu64
                " puts acknowledged, %" PRIu64 " recovered, %" PRIu64 " lost\n", (long) child, t.acknowledged,
                t.recovered, t.lost);
        m = mpx_disconnect(m);
        stop(f);
        assert_int_equal(access(tmp, F_OK), -1);
        munmap(s, sizeof(*s));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_restart_keeps_contents),
                harness_own_test(test_joinable_undone_come_back),
                harness_own_test(test_delivery_counts_survive_restarts),
                harness_own_test(test_mapping_writes_survive),
                harness_own_test(test_sync_policies),
                harness_own_test(test_everysec_syncs_survive_crash),
                harness_own_test(test_compaction_under_load),
                harness_own_test(test_kill_loop),
                harness_own_test(test_unwritten_get_comes_back),
                harness_own_test(test_kill_during_compaction),
        };

        /* scripts/check.d/40-durable.sh runs the kill loop alone, longer. */
        if (getenv("MPX_DURABLE_FILTER"))
                cmocka_set_test_filter(getenv("MPX_DURABLE_FILTER"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
