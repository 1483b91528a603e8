/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of the daemon's limits with a real mpxd and real
 * configuration files: limits.max_memory (ENOSPC, nothing evicted, empty
 * elements counted too), a
 * SIGHUP that lowers it (what is held stays, new puts are refused), the
 * per-uid quota of connections (EUSERS, then closed), limits.max_output (a
 * client that pipelines requests and reads steadily gets every reply; one
 * that never reads has its requests paused, the daemon's memory stays
 * bounded and others are served; one pushed past the cap by other clients'
 * puts is disconnected and what it took from a joinable queue comes back),
 * and, when the test runs as root, two uids at
 * once: the one that floods gets ENOSPC and EUSERS while the other's puts,
 * declares and connections still succeed.
 *
 * Nothing waits by sleeping: the test polls the daemon's own figures
 * (harness_wait_stat) or reads pipes and sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>

#include "harness.h"
#include "request-builder.h"
#include "text-file.h"
#include "wire.h"
#include "temp-dir.h"

/* Two uids with no other use on the machine, for the test run as root. */
#define FLOOD_UID 64101
#define OTHER_UID 64102

struct fixture {
        struct harness_daemon d;
        bool running;
        char dir[256];                  /* the test's own folder */
        char conf[300];                 /* dir/mpxd.conf */
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_non_null(temp_dir_make(f->dir, sizeof(f->dir), "mpx-limits"));
        snprintf(f->conf, sizeof(f->conf), "%s/mpxd.conf", f->dir);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        if (f->running)
                assert_int_equal(harness_stop(&f->d), 0);
        assert_int_equal(temp_dir_remove(f->dir), 0);
        free(f);
        return 0;
}

/* Replace the configuration file at once (rename), so that a reload never reads half of it. */
static void write_config(struct fixture *f, const char *text) {
        text_file_replace(f->conf, "%s", text);
}

static void start(struct fixture *f, const char *config) {
        struct daemon_options o = { .config = f->conf };

        write_config(f, config);
        harness_start_with(&f->d, &o);
        f->running = true;
}

/*
 * What the daemon counts for an empty element besides its payload, as STATS
 * shows it: the bytes held grow by it when add() adds one, and are back
 * when remove() takes it away.
 */
static int64_t overhead_of(mpx *m, int (*add)(mpx *m), int (*remove)(mpx *m)) {
        int64_t before = harness_stat(m, "bytes"), cost;

        assert_int_equal(add(m), 0);
        cost = harness_stat(m, "bytes") - before;
        assert_int_equal(remove(m), 0);
        assert_int_equal(harness_stat(m, "bytes"), before);
        /* An empty element is never free: at least the 8 bytes of a queue item's record and share of a chunk. */
        assert_true(cost >= 8);
        return cost;
}

static int probe_queue_put(mpx *m) {
        return mpx_queue_declare(m, "probe", 0, 0) >= 0 ? mpx_queue_put(m, "probe", "", 0, 0) : -1;
}

static int probe_delete(mpx *m) {
        return mpx_delete(m, "probe");
}

static int probe_dict_set(mpx *m) {
        return mpx_dict_declare(m, "probe") >= 0 ? mpx_dict_set(m, "probe", "", 0, "", 0) : -1;
}

static int probe_list_append(mpx *m) {
        return mpx_list_declare(m, "probe") >= 0 && mpx_list_append(m, "probe", "", 0) == 1 ? 0 : -1;
}

/* ---- raw connections, for pipelined requests libmpx would not send ---- */

/* A raw connection that said HELLO: its fd, or -1. */
static int raw_hello(const char *path) {
        struct wire_header h;
        struct wire_buf b;
        int fd = harness_raw_connect(path);
        bool ok;

        if (fd < 0)
                return -1;
        wire_buf_init(&b);
        ok = request_append(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "raw") == 0 &&
             harness_write_all(fd, b.data, b.len) && harness_read_reply(fd, &h) && h.status == WIRE_OK;
        wire_buf_done(&b);
        if (!ok) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Append a QUEUE_GET of queue, without flags. */
static void append_get(struct wire_buf *b, uint32_t id, const char *queue, int64_t timeout_ms) {
        append_request(b, id, WIRE_OP_QUEUE_GET, "niw", queue, timeout_ms, 0u);
}

/* Append a QUEUE_PEEK of up to max items of queue. */
static void append_peek(struct wire_buf *b, uint32_t id, const char *queue, uint32_t max) {
        append_request(b, id, WIRE_OP_QUEUE_PEEK, "nw", queue, max);
}

/* ---- limits.max_memory ---- */

static void test_max_memory(void **state) {
        struct fixture *f = *state;
        static char big[40 * 1024], more[30 * 1024];
        int64_t item_overhead, entry_overhead;
        mpx_item item;
        mpx *m, *other;

        start(f, "limits = { max_memory = \"64K\"; };\n");
        m = harness_connect(&f->d);
        other = harness_connect(&f->d);
        memset(big, 'b', sizeof(big));
        memset(more, 'm', sizeof(more));
        assert_int_equal(harness_stat(m, "max_memory"), 64 * 1024);
        item_overhead = overhead_of(m, probe_queue_put, probe_delete);
        entry_overhead = overhead_of(m, probe_dict_set, probe_delete);
        assert_int_equal(mpx_queue_declare(m, "q", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        assert_int_equal(mpx_queue_put(m, "q", big, sizeof(big), 0), 0);
        assert_int_equal(harness_stat(m, "bytes"), sizeof(big) + item_overhead);

        /* Refused at once, whatever the timeout, from any connection; nothing is evicted. */
        assert_int_equal(mpx_queue_put(other, "q", more, sizeof(more), -1), -ENOSPC);
        assert_int_equal(mpx_dict_set(other, "d", "k", 1, more, sizeof(more)), -ENOSPC);
        assert_int_equal(mpx_queue_qsize(m, "q"), 1);
        assert_int_equal(mpx_dict_len(m, "d"), 0);
        assert_int_equal(harness_stat(m, "bytes"), sizeof(big) + item_overhead);

        /* Taken but not done, the item is still held; done, it makes room. */
        assert_int_equal(mpx_queue_get(other, "q", 0, &item), 0);
        assert_int_equal(item.size, sizeof(big));
        assert_int_equal(memcmp(item.data, big, sizeof(big)), 0);
        assert_int_equal(mpx_queue_put(m, "q", more, sizeof(more), 0), -ENOSPC);
        assert_int_equal(mpx_queue_task_done(other, "q", item.tag), 0);
        mpx_item_clear(&item);
        assert_int_equal(mpx_queue_put(m, "q", more, sizeof(more), 0), 0);
        assert_int_equal(mpx_dict_set(other, "d", "k", 1, more, 1000), 0);
        assert_int_equal(harness_stat(m, "bytes"), sizeof(more) + item_overhead + 1001 + entry_overhead);
        mpx_disconnect(other);
        mpx_disconnect(m);
}

/*
 * References to counted objects cost memory and count against max_memory:
 * references in transit (tied to no connection) cannot be taken without
 * end, and ending one makes room for another.
 */
static void test_references_count(void **state) {
        struct fixture *f = *state;
        uint64_t token = 0, first = 0;
        int64_t bytes, per_ref;
        int n = 0, r;
        mpx *m;

        start(f, "limits = { max_memory = \"64K\"; };\n");
        m = harness_connect(&f->d);
        assert_int_equal(mpx_event_declare_flags(m, "e", MPX_COUNTED), 1);
        bytes = harness_stat(m, "bytes");
        assert_int_equal(mpx_ref(m, "e", 60000, &first), 0);
        per_ref = harness_stat(m, "bytes") - bytes;
        assert_true(per_ref > 0);
        while ((r = mpx_ref(m, "e", 60000, &token)) == 0)
                n++;
        assert_int_equal(r, -ENOSPC);
        assert_true(n > 0 && (n + 2) * per_ref > 60 * 1024);
        assert_int_equal(harness_stat(m, "bytes"), bytes + (n + 1) * per_ref);
        /* One ends: there is room for one more, and no more. */
        assert_int_equal(mpx_unref(m, "e", first), 0);
        assert_int_equal(mpx_ref(m, "e", 60000, NULL), 0);
        assert_int_equal(mpx_ref(m, "e", 60000, NULL), -ENOSPC);
        /* The object gone, everything it was referred by is given back. */
        assert_int_equal(mpx_delete(m, "e"), 0);
        assert_int_equal(harness_stat(m, "bytes"), 0);
        mpx_disconnect(m);
}

/*
 * One uid floods with empty elements under a small max_memory and quota.
 * Each element costs memory besides its payload, and is counted for it:
 * three PUT_MANY of a million empty items (and as many list items and dict
 * entries) are refused with ENOSPC at once, instead of being accepted with
 * nothing counted while the daemon grows by 150 MB, and single empty puts
 * stop long before a thousand.
 */
#define EMPTY_FLOOD_N (1024 * 1024)

static void test_empty_elements_flood(void **state) {
        struct fixture *f = *state;
        struct iovec *empty = calloc(EMPTY_FLOOD_N, sizeof(*empty));
        int64_t rss_before, rss_after;
        int puts = 0, r;
        mpx *m;

        assert_non_null(empty);
        start(f, "limits = { max_memory = 1024; per_user = { max_memory = 1024; }; };\n");
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        rss_before = harness_stat(m, "rss_bytes");
        for (int round = 0; round < 3; round++) {
                assert_int_equal(mpx_queue_put_many(m, "q", empty, EMPTY_FLOOD_N, 0), -ENOSPC);
                assert_int_equal(mpx_list_extend(m, "l", empty, EMPTY_FLOOD_N), -ENOSPC);
                assert_int_equal(mpx_dict_update(m, "d", empty, empty, EMPTY_FLOOD_N), -ENOSPC);
        }
        assert_int_equal(harness_stat(m, "bytes"), 0);
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
        assert_int_equal(mpx_list_len(m, "l"), 0);
        assert_int_equal(mpx_dict_len(m, "d"), 0);
        while ((r = mpx_queue_put(m, "q", "", 0, 0)) == 0)
                puts++;
        assert_int_equal(r, -ENOSPC);
        /* Each empty item counts at least its record's header and share of a chunk. */
        assert_true(puts > 0 && puts <= 1024 / 8);
        assert_true(harness_stat(m, "bytes") <= 1024);
        rss_after = harness_stat(m, "rss_bytes");
        print_message("rss %lld -> %lld bytes, %d empty items fit in 1024 bytes\n", (long long) rss_before,
                      (long long) rss_after, puts);
        mpx_disconnect(m);
        free(empty);
        /*
         * The daemon read each 4 to 8 MB request; it kept nothing of them.
         * Under AddressSanitizer its quarantine keeps freed buffers resident
         * on purpose, so there only the counts above can tell.
         */
#ifndef __SANITIZE_ADDRESS__
        if (rss_before > 0 && rss_after - rss_before > 32 * 1024 * 1024)
                fail_msg("the daemon grew by %lld bytes for refused empty elements",
                         (long long) (rss_after - rss_before));
#endif
}

/* A SIGHUP lowers the limit below what is held: everything stays, new puts are refused. */
static void test_reload_lowers_limit(void **state) {
        struct fixture *f = *state;
        static char item[10 * 1024];
        int64_t size;
        mpx *m;

        start(f, "limits = { max_memory = \"1M\"; };\nobjects = { lists = ( \"l\" ); };\n");
        m = harness_connect(&f->d);
        /* Items that count 10 KiB each with their overhead: five fill 50K exactly. */
        size = (int64_t) sizeof(item) - overhead_of(m, probe_list_append, probe_delete);
        memset(item, 'i', sizeof(item));
        for (int i = 0; i < 10; i++)
                assert_int_equal(mpx_list_append(m, "l", item, (size_t) size), i + 1);
        assert_int_equal(harness_stat(m, "bytes"), 10 * sizeof(item));

        write_config(f, "limits = { max_memory = \"50K\"; };\nobjects = { lists = ( \"l\" ); };\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        harness_wait_stat(m, "max_memory", 50 * 1024);
        assert_int_equal(mpx_list_len(m, "l"), 10);
        assert_int_equal(harness_stat(m, "bytes"), 10 * sizeof(item));
        assert_int_equal(mpx_list_append(m, "l", "x", 1), -ENOSPC);
        /* An item replaced by one no larger passes even above the limit. */
        assert_int_equal(mpx_list_set(m, "l", 0, item, (size_t) size), 0);
        for (int i = 0; i < 6; i++) {
                mpx_buf popped;

                assert_int_equal(mpx_list_pop(m, "l", -1, &popped), 0);
                mpx_buf_clear(&popped);
        }
        assert_int_equal(mpx_list_append(m, "l", item, (size_t) size), 5);
        assert_int_equal(mpx_list_append(m, "l", "x", 1), -ENOSPC);

        /* Raised again: room at once. */
        write_config(f, "objects = { lists = ( \"l\" ); };\n");
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        harness_wait_stat(m, "max_memory", 0);
        assert_int_equal(mpx_list_append(m, "l", "x", 1), 6);
        mpx_disconnect(m);
}

/* ---- limits.per_user.max_clients ---- */

static void test_user_connections(void **state) {
        struct fixture *f = *state;
        mpx *a, *b, *c = NULL;

        start(f, "limits = { per_user = { max_clients = 2; }; };\n");
        a = harness_connect(&f->d);
        b = harness_connect(&f->d);
        assert_int_equal(mpx_connect(f->d.socket, &c), -EUSERS);
        assert_null(c);
        mpx_disconnect(b);
        harness_wait_stat(a, "clients", 1);
        assert_int_equal(mpx_connect(f->d.socket, &c), 0);
        assert_int_equal(mpx_ping(c), 0);
        mpx_disconnect(c);
        mpx_disconnect(a);
}

/* ---- limits.max_output ---- */

#define OUTPUT_ITEMS 200
#define OUTPUT_ITEM_SIZE (8 * 1024)
#define OUTPUT_PEEKS 250                /* each a reply of about 1.6 MiB: 400 MiB asked for in all */
#define OUTPUT_CAP (1024 * 1024)

/*
 * A client pipelines gets and peeks and never reads. Unbounded, the daemon
 * would build 400 MiB of replies for it; with max_output it stops handling
 * the client's requests once more than 1 MiB waits unsent: the client stays
 * connected, the daemon's resident memory grows by a few MiB at most,
 * another client is served all along, and once the client is gone every
 * item it took from the joinable queue comes back.
 */
static void test_output_cap(void **state) {
        struct fixture *f = *state;
        static char item[OUTPUT_ITEM_SIZE];
        int64_t rss_before, rss_after;
        struct wire_buf b;
        uint32_t id = 10;
        int greedy;
        mpx *m;

        start(f, "limits = { max_output = \"1M\"; };\n");
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "jq", 0, MPX_QUEUE_JOINABLE), 1);
        for (int i = 0; i < OUTPUT_ITEMS; i++) {
                memset(item, 'a' + i % 26, sizeof(item));
                assert_int_equal(mpx_queue_put(m, "jq", item, sizeof(item), 0), 0);
        }
        rss_before = harness_stat(m, "rss_bytes");

        greedy = raw_hello(f->d.socket);
        assert_true(greedy >= 0);
        harness_wait_stat(m, "clients", 2);
        wire_buf_init(&b);
        for (int i = 0; i < OUTPUT_PEEKS; i++) {
                append_get(&b, id++, "jq", 0);
                append_peek(&b, id++, "jq", OUTPUT_ITEMS);
        }
        /* The requests are small: the socket takes them all, nothing is read back. */
        assert_true(harness_write_all(greedy, b.data, b.len));
        wire_buf_done(&b);

        /*
         * The first get and peek pass the cap (1.6 MiB), and the socket
         * cannot take the 1.1 MiB that would bring them down to half of it
         * (a Unix socket holds some 200 KiB): the rest of the requests wait.
         */
        harness_wait_field(m, "jq", "delivered", 1);
        /* Served all along: round trips of another client. */
        for (int i = 0; i < 20; i++)
                assert_int_equal(mpx_queue_qsize(m, "jq"), OUTPUT_ITEMS - 1);
        assert_int_equal(harness_stat(m, "clients"), 2);
        assert_int_equal(harness_field(m, "jq", "delivered"), 1);
        rss_after = harness_stat(m, "rss_bytes");
        print_message("rss grew by %lld bytes, max_output %d\n", (long long) (rss_after - rss_before), OUTPUT_CAP);
        if (rss_before > 0 && rss_after - rss_before > OUTPUT_CAP + 6 * 1024 * 1024)
                fail_msg("the daemon grew by %lld bytes for a client that does not read",
                         (long long) (rss_after - rss_before));

        /* Gone: what it took is back. */
        close(greedy);
        harness_wait_stat(m, "clients", 1);
        assert_int_equal(mpx_queue_qsize(m, "jq"), OUTPUT_ITEMS);
        assert_int_equal(harness_field(m, "jq", "redelivered"), 1);
        assert_int_equal(harness_field(m, "jq", "delivered"), 0);
        mpx_disconnect(m);
}

#define READER_ITEMS 24
#define READER_ITEM_SIZE (16 * 1024)

/*
 * A client pipelines 24 gets of 16 KiB items from a plain queue in one
 * write, 384 KiB of replies against a max_output of 64 KiB, and reads
 * steadily: it gets every item, in order, and stays connected.
 */
static void test_output_pipelined_reader(void **state) {
        struct fixture *f = *state;
        static char item[READER_ITEM_SIZE];
        struct wire_header h;
        struct wire_buf b;
        int reader;
        mpx *m;

        start(f, "limits = { max_output = \"64K\"; };\n");
        m = harness_connect(&f->d);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        for (int i = 0; i < READER_ITEMS; i++) {
                memset(item, 'a' + i, sizeof(item));
                assert_int_equal(mpx_queue_put(m, "q", item, sizeof(item), 0), 0);
        }
        reader = raw_hello(f->d.socket);
        assert_true(reader >= 0);
        wire_buf_init(&b);
        for (uint32_t id = 1; id <= READER_ITEMS; id++)
                append_get(&b, id, "q", 0);
        assert_true(harness_write_all(reader, b.data, b.len));
        wire_buf_done(&b);
        for (uint32_t id = 1; id <= READER_ITEMS; id++) {
                assert_true(harness_read_reply(reader, &h));
                assert_int_equal(h.id, id);
                assert_int_equal(h.status, WIRE_OK);
                assert_true(h.body_len > READER_ITEM_SIZE);
        }
        assert_int_equal(mpx_queue_qsize(m, "q"), 0);
        assert_int_equal(harness_stat(m, "clients"), 2);
        close(reader);
        harness_wait_stat(m, "clients", 1);
        mpx_disconnect(m);
}

/* A joinable "jq" of 20 items that fill 64 KiB of output, "sync" of one item, and an empty "wq" (flags). */
static void declare_overflow_queues(mpx *m, unsigned wq_flags) {
        static char item[OUTPUT_ITEM_SIZE];

        assert_int_equal(mpx_queue_declare(m, "jq", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(m, "wq", 0, wq_flags), 1);
        assert_int_equal(mpx_queue_declare(m, "sync", 0, MPX_QUEUE_JOINABLE), 1);
        memset(item, 'p', sizeof(item));
        for (int i = 0; i < 20; i++)
                assert_int_equal(mpx_queue_put(m, "jq", item, sizeof(item), 0), 0);
        assert_int_equal(mpx_queue_put(m, "sync", "s", 1, 0), 0);
}

/*
 * Send greedy the requests in b, which park, then from id on a get of "sync"
 * and peeks of "jq" whose replies fill its output and pause it. Returns once
 * they were handled: the get of "sync" is in the same read as the peeks, so
 * once it is delivered, they were too.
 */
static void park_and_pause(mpx *m, int greedy, struct wire_buf *b, uint32_t id) {
        append_get(b, id++, "sync", 0);
        for (int i = 0; i < 100; i++)
                append_peek(b, id++, "jq", 20);
        assert_true(harness_write_all(greedy, b->data, b->len));
        wire_buf_done(b);
        harness_wait_field(m, "sync", "delivered", 1);
}

/*
 * Its own requests wait, but a parked get served by another client's put
 * still adds to a client's output: past max_output it is disconnected, the
 * item it was handed is redelivered, and the next item is not handed to it
 * at all.
 */
static void test_output_overflow_by_others(void **state) {
        struct fixture *f = *state;
        struct wire_buf b;
        int greedy;
        mpx *m;

        start(f, "limits = { max_output = \"64K\"; };\n");
        m = harness_connect(&f->d);
        declare_overflow_queues(m, MPX_QUEUE_JOINABLE);
        greedy = raw_hello(f->d.socket);
        assert_true(greedy >= 0);
        wire_buf_init(&b);
        append_get(&b, 10, "wq", -1);
        append_get(&b, 11, "wq", -1);
        park_and_pause(m, greedy, &b, 12);
        assert_int_equal(harness_field(m, "wq", "getters"), 2);
        /* Paused, not lost: the peeks filled its output. */
        assert_int_equal(harness_stat(m, "clients"), 2);

        assert_int_equal(mpx_queue_put(m, "wq", "one", 3, 0), 0);
        assert_int_equal(mpx_queue_put(m, "wq", "two", 3, 0), 0);
        harness_wait_stat(m, "clients", 1);
        assert_int_equal(mpx_queue_qsize(m, "wq"), 2);
        assert_int_equal(harness_field(m, "wq", "redelivered"), 1);
        assert_int_equal(harness_field(m, "wq", "delivered"), 0);
        assert_int_equal(harness_field(m, "sync", "redelivered"), 1);
        close(greedy);
        mpx_disconnect(m);
}

/*
 * A client overflowed by another's put is lost once that event is handled:
 * what the same event frees for its other waiters is not handed to it. A
 * semaphore unit (without SEM_UNDO it would be gone with it) stays, and a
 * pipe's writer is not paired with it.
 */
static void test_output_overflow_grants_nothing(void **state) {
        struct fixture *f = *state;
        static const int64_t forever = -1, now = 0;
        struct wire_header h;
        struct wire_buf b;
        int greedy, other;
        mpx *m;

        start(f, "limits = { max_output = \"64K\"; };\n");
        m = harness_connect(&f->d);
        declare_overflow_queues(m, 0);
        assert_int_equal(mpx_sem_declare(m, "s", 0, 0, MPX_SEM_NO_UNDO), 1);

        /* Parked on a queue, a semaphore and a pipe, then paused by replies it does not read. */
        greedy = raw_hello(f->d.socket);
        assert_true(greedy >= 0);
        wire_buf_init(&b);
        append_get(&b, 10, "wq", -1);
        append_request(&b, 11, WIRE_OP_SEM_ACQUIRE, "ni", "s", forever);
        append_request(&b, 12, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_READ, forever);
        park_and_pause(m, greedy, &b, 13);
        assert_int_equal(harness_field(m, "s", "acquirers"), 1);
        assert_int_equal(harness_field(m, "p", "readers"), 1);

        /* In one event: a put that overflows it, a release, and a writer that would pair with it. */
        other = raw_hello(f->d.socket);
        assert_true(other >= 0);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_QUEUE_PUT, "nis", "wq", (int64_t) 0, "one");
        append_request(&b, 2, WIRE_OP_SEM_RELEASE, "n", "s");
        append_request(&b, 3, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_WRITE, now);
        assert_true(harness_write_all(other, b.data, b.len));
        wire_buf_done(&b);
        assert_true(harness_read_reply(other, &h));
        assert_int_equal(h.status, WIRE_OK);
        assert_true(harness_read_reply(other, &h));
        assert_int_equal(h.status, WIRE_OK);
        assert_true(harness_read_reply(other, &h));
        assert_int_equal(h.status, wire_status_from_errno(-EAGAIN));
        harness_wait_stat(m, "clients", 2);
        assert_int_equal(mpx_sem_value(m, "s"), 1);
        assert_int_equal(harness_field(m, "s", "acquirers"), 0);
        assert_int_equal(harness_field(m, "p", "readers"), 0);
        assert_int_equal(mpx_queue_qsize(m, "wq"), 1);
        close(other);
        close(greedy);
        mpx_disconnect(m);
}

#define MAPS 3000

/* How many descriptors the process has open. */
static int open_fds(pid_t pid) {
        char path[64], cmd[96];
        FILE *ls;
        int n = -1;

        snprintf(path, sizeof(path), "/proc/%ld/fd", (long) pid);
        snprintf(cmd, sizeof(cmd), "ls '%s' | wc -l", path);
        ls = popen(cmd, "r");
        assert_non_null(ls);
        assert_int_equal(fscanf(ls, "%d", &n), 1);
        pclose(ls);
        return n;
}

/*
 * Each ARRAY_MAP reply holds a descriptor of the daemon until it is sent: a
 * client that pipelines thousands and does not read has its requests paused
 * once 64 wait, so the daemon does not run out of descriptors, and reading
 * later it gets every reply.
 */
static void test_output_descriptors(void **state) {
        struct fixture *f = *state;
        struct wire_header h;
        struct wire_buf b;
        int greedy, before, after;
        mpx *m;

        start(f, "");
        m = harness_connect(&f->d);
        assert_int_equal(mpx_array_declare(m, "a", 'i', 16, NULL), 1);
        greedy = raw_hello(f->d.socket);
        assert_true(greedy >= 0);
        harness_wait_stat(m, "clients", 2);
        before = open_fds(f->d.pid);
        wire_buf_init(&b);
        for (uint32_t id = 1; id <= MAPS; id++)
                append_request(&b, id, WIRE_OP_ARRAY_MAP, "n", "a");
        assert_true(harness_write_all(greedy, b.data, b.len));
        wire_buf_done(&b);
        /* The requests arrive in one read, handled up to the pause in one event. */
        for (time_t deadline = time(NULL) + 20; harness_field(m, "a", "maps") == 0;)
                if (time(NULL) > deadline)
                        fail_msg("the daemon handled none of the maps");
        assert_true(harness_field(m, "a", "maps") < MAPS);
        after = open_fds(f->d.pid);
        print_message("the daemon holds %d more descriptors\n", after - before);
        if (after - before > 64 + 8)
                fail_msg("the daemon holds %d more descriptors for a client that does not read", after - before);
        assert_true(mpx_ping(m) == 0);

        for (uint32_t id = 1; id <= MAPS; id++) {
                assert_true(harness_read_reply(greedy, &h));
                assert_int_equal(h.id, id);
                assert_int_equal(h.status, WIRE_OK);
        }
        assert_int_equal(harness_field(m, "a", "maps"), MAPS);
        close(greedy);
        mpx_disconnect(m);
}

/* ---- two uids: the flooder gets its own errors, the other is served ---- */

/* 16 KiB with the item's overhead (well under 128 bytes): 16 fit in a 256 KiB quota, not 17. */
#define FLOOD_ITEM (16 * 1024 - 128)

struct flood_args {
        const char *socket;
        uid_t uid;
        int done_fd;                    /* write one byte when the phase is over */
        int go_fd;                      /* read one byte before leaving */
};

/* Become uid (and the group of the same number), as a client of another user. */
static bool become(uid_t uid) {
        return setgroups(0, NULL) == 0 && setgid((gid_t) uid) == 0 && setuid(uid) == 0;
}

/*
 * The flooder: puts until its quota refuses, declares until it refuses,
 * parks more requests than its quota, and connects more than its quota.
 * Returns 0 when every refusal came as expected, else the step that failed.
 */
static int flooder(void *arg) {
        const struct flood_args *a = arg;
        static char data[FLOOD_ITEM];
        struct wire_header h;
        struct wire_buf b;
        int puts = 0, r, raw, eusers = 0;
        mpx *m, *extra = NULL, *over = NULL;
        char byte = 1;

        if (!become(a->uid))
                return 10;
        if (mpx_connect(a->socket, &m) < 0)
                return 11;
        if (mpx_queue_declare(m, "flood", 0, 0) != 1)
                return 12;
        while ((r = mpx_queue_put(m, "flood", data, sizeof(data), 0)) == 0)
                puts++;
        /* 256 KiB of quota, items of 16 KiB with their overhead: 16 fit, the 17th is refused. */
        if (r != -ENOSPC || puts != 16)
                return 13;
        /* Two objects of its own, no more. */
        if (mpx_queue_declare(m, "flood-wait", 0, 0) != 1 || mpx_list_declare(m, "flood-l") != -EUSERS)
                return 14;
        /* Five blocked gets on one connection: three park, two are refused at once. */
        raw = raw_hello(a->socket);
        if (raw < 0)
                return 15;
        wire_buf_init(&b);
        for (uint32_t id = 1; id <= 5; id++)
                if (request_append(&b, id, WIRE_OP_QUEUE_GET, "niw", "flood-wait", (int64_t) -1, 0u) < 0)
                        return 16;
        if (!harness_write_all(raw, b.data, b.len))
                return 17;
        wire_buf_done(&b);
        for (int i = 0; i < 2; i++) {
                if (!harness_read_reply(raw, &h))
                        return 21;
                eusers += h.status == WIRE_EUSERS;
        }
        if (eusers != 2)
                return 22;
        /* Connections: two open (m, raw), quota 3: one more, then EUSERS. */
        if (mpx_connect(a->socket, &extra) < 0 || mpx_connect(a->socket, &over) != -EUSERS)
                return 23;
        /* Hold every quota while the other uid has its turn. */
        if (write(a->done_fd, &byte, 1) != 1 || read(a->go_fd, &byte, 1) != 1)
                return 24;
        close(raw);
        mpx_disconnect(extra);
        mpx_disconnect(m);
        return 0;
}

/* The other uid, while the flooder holds all its quotas: served as if nothing happened. */
static int bystander(void *arg) {
        const struct flood_args *a = arg;
        static char data[FLOOD_ITEM];
        mpx *m, *second, *third;

        if (!become(a->uid))
                return 30;
        if (mpx_connect(a->socket, &m) < 0 || mpx_connect(a->socket, &second) < 0 ||
            mpx_connect(a->socket, &third) < 0)
                return 31;
        if (mpx_queue_declare(m, "other", 0, 0) != 1 || mpx_dict_declare(second, "other-d") != 1)
                return 32;
        for (int i = 0; i < 16; i++)
                if (mpx_queue_put(i % 2 ? m : third, "other", data, sizeof(data), 0) != 0)
                        return 33;
        if (mpx_queue_put(m, "other", data, sizeof(data), 0) != -ENOSPC)
                return 34;
        if (mpx_queue_purge(m, "other") != 16)
                return 35;
        mpx_disconnect(third);
        mpx_disconnect(second);
        mpx_disconnect(m);
        return 0;
}

static void test_flooder_gets_own_errors(void **state) {
        struct fixture *f = *state;
        struct flood_args fa, ba;
        int done[2], go[2];
        pid_t flood_pid, other_pid;
        char byte;
        mpx *m;

        if (geteuid() != 0) {
                print_message("not root: cannot run clients as two other uids, skipping\n");
                skip();
        }
        start(f, "socket = { mode = \"0666\"; };\n"
                 "limits = { per_user = { max_memory = \"256K\"; max_objects = 2; max_waiters = 3; "
                 "max_clients = 3; }; };\n");
        /* The other uids must reach the socket in the daemon's folder. */
        assert_int_equal(chmod(f->d.dir, 0755), 0);
        m = harness_connect(&f->d);
        assert_int_equal(pipe(done), 0);
        assert_int_equal(pipe(go), 0);
        fa = (struct flood_args) { .socket = f->d.socket, .uid = FLOOD_UID, .done_fd = done[1], .go_fd = go[0] };
        flood_pid = harness_fork(flooder, &fa);
        /* The flooder is done when it says so, or when it failed (its end of the pipe closes). */
        close(done[1]);
        if (read(done[0], &byte, 1) != 1)
                fail_msg("the flooder stopped early: status %d", harness_wait(flood_pid));
        assert_int_equal(harness_stat(m, "waiters"), 3);

        /* Its quotas are full; another uid is served in full. */
        ba = (struct flood_args) { .socket = f->d.socket, .uid = OTHER_UID, .done_fd = -1, .go_fd = -1 };
        other_pid = harness_fork(bystander, &ba);
        assert_int_equal(harness_wait(other_pid), 0);

        assert_int_equal(write(go[1], "g", 1), 1);
        assert_int_equal(harness_wait(flood_pid), 0);
        close(done[0]);
        close(go[0]);
        close(go[1]);
        harness_wait_stat(m, "waiters", 0);
        mpx_disconnect(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_max_memory),
                harness_own_test(test_references_count),
                harness_own_test(test_empty_elements_flood),
                harness_own_test(test_reload_lowers_limit),
                harness_own_test(test_user_connections),
                harness_own_test(test_output_cap),
                harness_own_test(test_output_pipelined_reader),
                harness_own_test(test_output_overflow_by_others),
                harness_own_test(test_output_overflow_grants_nothing),
                harness_own_test(test_output_descriptors),
                harness_own_test(test_flooder_gets_own_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
