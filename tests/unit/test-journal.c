/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the journal of durable objects (daemon/journal.c and the
 * dump and replay of each type), in one process: socketless clients change
 * durable objects, the journal is closed (with or without its compaction
 * into a snapshot), the daemon's state is thrown away and the journal read
 * back into a fresh one. A segment cut at every byte offset of its last
 * record comes back as exactly the records before it, and the file is cut
 * there; a flipped byte ends the valid prefix at its record; a commit that
 * cannot be written acknowledges nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zlib.h>

#include "client-internal.h"
#include "client.h"
#include "configfile.h"
#include "journal-internal.h"
#include "journal.h"
#include "mpxd.h"
#include "server.h"
#include "field-list.h"
#include "unit-client.h"

#define QUEUE "jobs"
#define CUT_ITEMS 5
/* The records of a segment before the first item: header, create, owner. */
#define ITEMS_AT 3

struct journal_test {
        struct fixture f;
        char dir[64];
        struct config *config;
};

static int journal_setup(void **state) {
        struct journal_test *t;
        int r = unit_setup(state);

        if (r < 0)
                return r;
        t = calloc(1, sizeof(*t));
        assert_non_null(t);
        t->f = *(struct fixture *) *state;
        free(*state);
        snprintf(t->dir, sizeof(t->dir), "/tmp/mpx-journal-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        t->config = config_new();
        assert_non_null(t->config);
        t->config->durability_dir = strdup(t->dir);
        t->config->durability_sync = JOURNAL_SYNC_NO;
        *state = t;
        return 0;
}

/* Remove every file of the test's folder, then the folder. */
static void remove_files(const char *dir) {
        static const char *const names[] = { "lock", "snapshot", "snapshot.tmp", "journal.1", "journal.2",
                                             "journal.3", "journal.4", "journal.5" };
        char path[128];

        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                (void) unlink(path);
        }
}

static int journal_teardown(void **state) {
        struct journal_test *t = *state;
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        *f = t->f;
        *state = f;
        journal_close(false);
        journal_reserve_fails = 0;
        journal_fail_countdown = 0;
        journal_sync_fails = 0;
        unit_teardown(state);
        remove_files(t->dir);
        (void) rmdir(t->dir);
        config_free(t->config);
        free(t);
        return 0;
}

/* Throw the daemon's state away, as a crash would, and read the journal back. */
static void restart(struct journal_test *t, bool compact) {
        journal_close(compact);
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (t->f.c[i])
                        client_drop(&t->f, t->f.c[i]);
        mpxd_done();
        assert_int_equal(mpxd_init(), 0);
        assert_int_equal(journal_open(t->config), 0);
}

/*
 * A queue item as GET returns it: u64 tag, u32 deliveries, bytes payload.
 * Its delivery count is checked unless deliveries is 0.
 */
#define expect_item(c, queue, want) expect_delivery(c, queue, want, 0)

static void expect_delivery(struct client *c, const char *queue, const char *want, uint32_t want_deliveries) {
        struct reply rep = call(c, WIRE_OP_QUEUE_GET, "niw", queue, (int64_t) 0, 0u);
        uint64_t tag;
        uint32_t deliveries, size;
        const void *data;

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &tag) && wire_get_u32(&rep.r, &deliveries) &&
                    wire_get_bytes(&rep.r, &data, &size));
        assert_int_equal(size, strlen(want));
        assert_memory_equal(data, want, size);
        if (want_deliveries)
                assert_int_equal(deliveries, want_deliveries);
}

static void expect_bytes(struct client *c, uint16_t op, const char *fmt, const char *name, const void *arg,
                         const char *want) {
        struct reply rep = call(c, op, fmt, name, arg);

        check_bytes_at(&rep, want, strlen(want), __FILE__, __LINE__);
}

static uint64_t sem_value(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_SEM_VALUE, "n", name);
        uint64_t v, max;

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &v) && wire_get_u64(&rep.r, &max));
        return v;
}

/* Elements count from index 0 of an array of 'i'. */
static void expect_ints(struct client *c, const char *name, const int32_t *want, uint32_t count) {
        struct reply rep = call(c, WIRE_OP_ARRAY_GET, "nbiw", name, 'i', (int64_t) 0, count);
        const void *data;
        uint32_t size;
        uint8_t code;

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u8(&rep.r, &code) && wire_get_bytes(&rep.r, &data, &size));
        assert_int_equal(size, count * sizeof(int32_t));
        assert_memory_equal(data, want, size);
}

/* Change one durable object of each type, and one that is not durable. */
static void change_everything(struct client *c) {
        const int32_t two[] = { 7, -8 };
        int64_t add = 42;

        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, WIRE_DECLARE_DURABLE);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", NULL }; *s; s++)
                expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, *s);
        expect_item(c, "q", "a");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "j", (uint64_t) 0,
               WIRE_QUEUE_JOINABLE | WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "x");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "y");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "z");
        /* x is taken and never done: it comes back; y is done: it does not. */
        expect_item(c, "j", "x");
        expect_item(c, "j", "y");
        expect_empty(c, WIRE_OP_QUEUE_TASK_DONE, "nq", "j", (uint64_t) 2);

        expect(WIRE_OK, c, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", "k1", "v1");
        expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", "k2", "v2");
        expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", "k1", "v1b");
        expect_empty(c, WIRE_OP_DICT_DEL, "ns", "d", "k2");
        expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", "k3", "v3");

        expect(WIRE_OK, c, WIRE_OP_LIST_DECLARE, "nw", "l", WIRE_DECLARE_DURABLE);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", NULL }; *s; s++)
                expect(WIRE_OK, c, WIRE_OP_LIST_APPEND, "ns", "l", *s);
        expect_empty(c, WIRE_OP_LIST_SET, "nis", "l", (int64_t) 1, "B");
        expect(WIRE_OK, c, WIRE_OP_LIST_POP, "ni", "l", (int64_t) 0);
        expect(WIRE_OK, c, WIRE_OP_LIST_INSERT, "nis", "l", (int64_t) 0, "z");

        expect(WIRE_OK, c, WIRE_OP_SEM_DECLARE, "nqqw", "s", (uint64_t) 5, (uint64_t) 0,
               WIRE_SEM_NO_UNDO | WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) 0);
        expect_empty(c, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) 0);
        /* Held with SEM_UNDO: given back by the restart, so never journaled as taken. */
        expect(WIRE_OK, c, WIRE_OP_SEM_DECLARE, "nqqw", "u", (uint64_t) 2, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_SEM_ACQUIRE, "ni", "u", (int64_t) 0);

        expect(WIRE_OK, c, WIRE_OP_ARRAY_DECLARE, "nbwwx", "v", 'q', 1u, WIRE_ARRAY_VALUE | WIRE_DECLARE_DURABLE,
               NULL, (size_t) 0);
        expect(WIRE_OK, c, WIRE_OP_ARRAY_ADD, "nbix", "v", 'q', (int64_t) 0, &add, sizeof(add));
        expect(WIRE_OK, c, WIRE_OP_ARRAY_DECLARE, "nbwwx", "a", 'i', 4u, WIRE_DECLARE_DURABLE, NULL, (size_t) 0);
        expect_empty(c, WIRE_OP_ARRAY_SET, "nbix", "a", 'i', (int64_t) 1, two, sizeof(two));

        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "plain", (uint64_t) 0, 0u);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "plain", (int64_t) 0, "gone");
}

/* Every durable object is back as change_everything left it; the other is gone. */
static void check_everything(struct client *c) {
        const int32_t ints[] = { 0, 7, -8, 0 };
        struct reply rep;
        int64_t v;

        expect_item(c, "q", "b");
        expect_item(c, "q", "c");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        /* x was handed out once before: its count goes on from there. */
        expect_delivery(c, "j", "x", 2);
        expect_delivery(c, "j", "z", 1);
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 0, 0u);

        expect_bytes(c, WIRE_OP_DICT_GET, "ns", "d", "k1", "v1b");
        expect_bytes(c, WIRE_OP_DICT_GET, "ns", "d", "k3", "v3");
        expect(WIRE_ENOENT, c, WIRE_OP_DICT_GET, "ns", "d", "k2");
        rep = call(c, WIRE_OP_DICT_LEN, "n", "d");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 2);

        rep = call(c, WIRE_OP_LIST_LEN, "n", "l");
        assert_int_equal(read_u64_at(&rep, __FILE__, __LINE__), 3);
        rep = call(c, WIRE_OP_LIST_GET, "ni", "l", (int64_t) 0);
        check_bytes_at(&rep, "z", 1, __FILE__, __LINE__);
        rep = call(c, WIRE_OP_LIST_GET, "ni", "l", (int64_t) 1);
        check_bytes_at(&rep, "B", 1, __FILE__, __LINE__);
        rep = call(c, WIRE_OP_LIST_GET, "ni", "l", (int64_t) 2);
        check_bytes_at(&rep, "c", 1, __FILE__, __LINE__);

        assert_int_equal(sem_value(c, "s"), 3);
        assert_int_equal(sem_value(c, "u"), 2);

        rep = call(c, WIRE_OP_ARRAY_GET, "nbiw", "v", 'q', (int64_t) 0, 1u);
        {
                const void *data;
                uint32_t size;
                uint8_t code;

                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u8(&rep.r, &code) && wire_get_bytes(&rep.r, &data, &size));
                assert_int_equal(size, 8);
                memcpy(&v, data, 8);
                assert_int_equal(v, 42);
        }
        expect_ints(c, "a", ints, 4);
        assert_int_equal(info_field_at(c, "a", WIRE_TYPE_ARRAY, "durable", __FILE__, __LINE__), 1);
        expect(WIRE_ENOENT, c, WIRE_OP_QUEUE_GET, "niw", "plain", (int64_t) 0, 0u);
}

/* Replayed from the segment's records alone. */
static void test_every_type_from_records(void **state) {
        struct journal_test *t = *state;

        assert_int_equal(journal_open(t->config), 0);
        change_everything(client_add(&t->f, "writer"));
        restart(t, false);
        check_everything(client_add(&t->f, "reader"));
}

/* Compacted into a snapshot at a clean stop, then read from it. */
static void test_every_type_from_snapshot(void **state) {
        struct journal_test *t = *state;
        struct client *c;
        struct stat st;
        char path[128];

        assert_int_equal(journal_open(t->config), 0);
        change_everything(client_add(&t->f, "writer"));
        restart(t, true);
        snprintf(path, sizeof(path), "%s/snapshot", t->dir);
        assert_int_equal(stat(path, &st), 0);
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        assert_int_equal(stat(path, &st), -1);
        check_everything(client_add(&t->f, "reader"));
        /* And once more: the snapshot, then the records of the reads above after it. */
        restart(t, false);
        c = client_add(&t->f, "again");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        expect_delivery(c, "j", "x", 3);
        expect_delivery(c, "j", "z", 2);
}

/* Declaring: the flag needs a directory, and durability is part of what must match. */
static void test_declare_rules(void **state) {
        struct journal_test *t = *state;
        struct client *c = client_add(&t->f, "declarer");

        expect(WIRE_EINVAL, c, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        assert_int_equal(journal_open(t->config), 0);
        expect(WIRE_OK, c, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        expect(WIRE_EEXIST, c, WIRE_OP_DICT_DECLARE, "n", "d");
        expect(WIRE_OK, c, WIRE_OP_DICT_DECLARE, "n", "plain");
        expect(WIRE_EEXIST, c, WIRE_OP_DICT_DECLARE, "nw", "plain", WIRE_DECLARE_DURABLE);
        expect(WIRE_EINVAL, c, WIRE_OP_DICT_DECLARE, "nw", "bad", 1u);
        assert_int_equal(info_field_at(c, "plain", WIRE_TYPE_DICT, "durable", __FILE__, __LINE__), 0);
        /* With durability.default every new object of a durable type is durable. */
        t->config->durability_default = true;
        journal_configure(t->config);
        expect(WIRE_OK, c, WIRE_OP_LIST_DECLARE, "n", "l");
        assert_int_equal(info_field_at(c, "l", WIRE_TYPE_LIST, "durable", __FILE__, __LINE__), 1);
}

/* Read a whole file. */
static uint8_t *read_file(const char *path, size_t *ret_size) {
        struct stat st;
        uint8_t *data;
        int fd = open(path, O_RDONLY);

        assert_true(fd >= 0);
        assert_int_equal(fstat(fd, &st), 0);
        data = malloc((size_t) st.st_size + 1);
        assert_non_null(data);
        assert_int_equal(read(fd, data, (size_t) st.st_size), st.st_size);
        close(fd);
        *ret_size = (size_t) st.st_size;
        return data;
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, size), (ssize_t) size);
        close(fd);
}

static off_t file_size(const char *path) {
        struct stat st;

        assert_int_equal(stat(path, &st), 0);
        return st.st_size;
}

/* Offsets of the records of a segment, and its size at the end. */
static size_t record_offsets(const uint8_t *data, size_t size, size_t *offsets, size_t max) {
        size_t n = 0, off = 0;

        while (off + 8 <= size && n < max) {
                uint32_t len;

                len = (uint32_t) data[off] | (uint32_t) data[off + 1] << 8 | (uint32_t) data[off + 2] << 16 |
                      (uint32_t) data[off + 3] << 24;
                offsets[n++] = off;
                off += 8 + len;
        }
        assert_int_equal(off, size);
        return n;
}

/* Write CUT_ITEMS durable items into journal.1 and return its bytes. */
static uint8_t *journal_of_items(struct journal_test *t, size_t *ret_size) {
        char path[128], item[16];
        struct client *c;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        for (int i = 0; i < CUT_ITEMS; i++) {
                snprintf(item, sizeof(item), "item-%d", i);
                expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, item);
        }
        restart(t, false);
        journal_close(false);
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        return read_file(path, ret_size);
}

/* After recovery, the queue holds exactly items 0 .. n-1. */
static void expect_items(struct journal_test *t, int n) {
        struct client *c = client_add(&t->f, "reader");
        char item[16];

        for (int i = 0; i < n; i++) {
                snprintf(item, sizeof(item), "item-%d", i);
                expect_item(c, QUEUE, item);
        }
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", QUEUE, (int64_t) 0, 0u);
        client_drop(&t->f, c);
}

/* Start over from a directory that holds only journal.1 with these bytes. */
static void recover_from(struct journal_test *t, const uint8_t *data, size_t size) {
        char path[128];

        journal_close(false);
        mpxd_done();
        remove_files(t->dir);
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        write_file(path, data, size);
        assert_int_equal(mpxd_init(), 0);
        assert_int_equal(journal_open(t->config), 0);
}

/* A journal cut at every byte offset of its last record recovers exactly the records before it. */
static void test_cut_at_every_offset(void **state) {
        struct journal_test *t = *state;
        size_t size, offsets[16], n, last;
        uint8_t *data = journal_of_items(t, &size);
        char path[128];

        n = record_offsets(data, size, offsets, ARRAY_SIZE(offsets));
        assert_int_equal(n, ITEMS_AT + CUT_ITEMS);
        last = offsets[n - 1];
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        for (size_t cut = last; cut <= size; cut++) {
                size_t got;
                uint8_t *after;

                recover_from(t, data, cut);
                expect_items(t, cut == size ? CUT_ITEMS : CUT_ITEMS - 1);
                /* The torn tail is cut off the file. */
                after = read_file(path, &got);
                assert_int_equal(got, cut == size ? size : last);
                free(after);
        }
        free(data);
}

/* A flipped byte in a record is caught by its crc: the records before it are recovered. */
static void test_flipped_byte(void **state) {
        struct journal_test *t = *state;
        size_t size, offsets[16], n;
        uint8_t *data = journal_of_items(t, &size);

        n = record_offsets(data, size, offsets, ARRAY_SIZE(offsets));
        for (size_t k = ITEMS_AT; k < n; k++) {
                for (size_t at = offsets[k]; at < (k + 1 < n ? offsets[k + 1] : size); at += 3) {
                        data[at] ^= 0x20;
                        recover_from(t, data, size);
                        expect_items(t, (int) (k - ITEMS_AT));
                        data[at] ^= 0x20;
                }
        }
        free(data);
}

/*
 * A commit that cannot be written (here the file size limit, as a full disk
 * would) acknowledges nothing: the client whose put it carried is dropped
 * with its reply unsent, and the segment is cut back to its last record.
 */
static int64_t journal_stat(const char *key);
static const char *journal_stat_str(const char *key);

/*
 * A commit that cannot be written (a file size limit stands for a disk that
 * fails) keeps its records and its client, whose reply is held; changes of
 * durable objects are refused meanwhile, other requests served. Once the
 * limit is lifted, the retry of the next second writes the batch and the
 * reply goes out: nothing was dropped, nothing acknowledged unwritten.
 */
static void test_write_failure_stalls_until_written(void **state) {
        struct journal_test *t = *state;
        struct rlimit saved, limit;
        struct client *c, *d;
        unsigned clients;
        char path[128];

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        d = client_add(&t->f, "other");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "plain", (uint64_t) 0, 0u);
        /* The commit timer of this batch: the declaration is written. */
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(c->held == false && !client_is_gone(c));
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        assert_true(file_size(path) > 0);

        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        limit = saved;
        limit.rlim_cur = (rlim_t) file_size(path);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
        /* The reply is queued, and held: a client with a socket would not see it. */
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "kept");
        assert_true(c->held);
        clients = mpxd.n_clients;
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        /* The write failed: the client stays, its reply held; the segment is as before. */
        assert_int_equal(mpxd.n_clients, clients);
        assert_true(c->held && !client_is_gone(c));
        assert_int_equal(file_size(path), (off_t) limit.rlim_cur);
        assert_string_equal(journal_stat_str("journal_state"), "stalled");
        /* Changes of durable objects are refused before they are made; the rest is served. */
        expect(WIRE_ENOSPC, d, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "refused");
        expect_empty(d, WIRE_OP_QUEUE_PUT, "nis", "plain", (int64_t) 0, "served");
        assert_true(!d->held);
        assert_int_equal(journal_stat("journal_refused"), 1);

        /* Room again: the retry of the next second writes the batch and lets the reply go. */
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_DFL);
        while (c->held)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        assert_true(!client_is_gone(c));
        assert_true(file_size(path) > (off_t) limit.rlim_cur);
        expect_empty(d, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "after");
        assert_string_equal(journal_stat_str("journal_state"), "ok");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        /* What was acknowledged is back; what was refused is not. */
        restart(t, false);
        c = client_add(&t->f, "reader");
        expect_item(c, "q", "kept");
        expect_item(c, "q", "after");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
}

/* Find key among the journal's STATS fields: its integer in *ret_int, or its text in ret_str. */
static void journal_stats_walk(const char *key, int64_t *ret_int, char *ret_str, size_t str_size) {
        struct wire_fields f;
        struct wire_reader r;
        struct wire_buf b;
        struct field fl;

        wire_buf_init(&b);
        assert_int_equal(wire_fields_begin(&b, &f), 0);
        assert_int_equal(journal_stats(&b, &f), 0);
        wire_fields_end(&b, &f);
        wire_reader_init(&r, b.data, b.len);
        if (field_list_read(&r, key, &fl)) {
                if (ret_int)
                        *ret_int = fl.num;
                if (ret_str)
                        snprintf(ret_str, str_size, "%.*s", (int) fl.str_len, fl.str ? fl.str : "");
        }
        wire_buf_done(&b);
}

/* An integer field of the journal's STATS fields, -1 when absent. */
static int64_t journal_stat(const char *key) {
        int64_t found = -1;

        journal_stats_walk(key, &found, NULL, 0);
        return found;
}

/* A string field of the journal's STATS fields, "" when absent; valid until the next call. */
static const char *journal_stat_str(const char *key) {
        static char found[256];

        found[0] = '\0';
        journal_stats_walk(key, NULL, found, sizeof(found));
        return found;
}

/* Forget c in the fixture: the loop frees a lost client itself. */
static void forget_client(struct journal_test *t, struct client *c) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (t->f.c[i] == c)
                        t->f.c[i] = NULL;
}

/*
 * A record lost to a lack of memory holds its reply like a written one, and
 * the commit, which knows a record is missing, drops the client with the
 * reply unsent: the change is never acknowledged. The same for a durable
 * declaration whose records cannot be buffered.
 */
static void test_lost_record_withholds_acknowledgement(void **state) {
        struct journal_test *t = *state;
        struct client *c, *d;
        unsigned clients;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        d = client_add(&t->f, "declarer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!c->held && !client_is_gone(c));

        journal_fail_countdown = 1;
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "lost");
        assert_int_equal(journal_fail_countdown, 0);
        assert_true(c->held);
        journal_fail_countdown = 1;
        expect(WIRE_OK, d, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        assert_int_equal(journal_fail_countdown, 0);
        assert_true(d->held);
        clients = mpxd.n_clients;
        forget_client(t, c);
        forget_client(t, d);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_int_equal(mpxd.n_clients, clients - 2);
}

/*
 * After a record was lost, memory holds a change the journal lacks: until
 * the snapshot written from memory is on disk, no change of a durable
 * object is acknowledged (each is refused EIO, before it is made), so none
 * can depend on the lost record; other objects are served. The snapshot's
 * end admits changes again, and a restart finds the lost change (it was
 * made in memory) and the later ones.
 */
static void test_lost_record_refuses_until_snapshot(void **state) {
        struct journal_test *t = *state;
        char sock[128];
        struct client *c, *e;

        snprintf(sock, sizeof(sock), "%s/mpxd.sock", t->dir);
        mpxd.socket_path = sock;
        /* The signal events: SIGCHLD tells the journal that its compaction child ended. */
        assert_int_equal(server_listen(), 0);
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        e = client_add(&t->f, "later");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "plain", (uint64_t) 0, 0u);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        journal_fail_countdown = 1;
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        forget_client(t, c);
        /* The commit drops the writer, and starts the compaction that writes memory out. */
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_string_equal(journal_stat_str("journal_state"), "resyncing");
        expect(WIRE_EIO, e, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "refused");
        expect_empty(e, WIRE_OP_QUEUE_PUT, "nis", "plain", (int64_t) 0, "served");
        assert_true(!e->held);
        while (journal_stat("journal_compactions") < 1)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        expect_empty(e, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-1");
        assert_string_equal(journal_stat_str("journal_state"), "ok");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        restart(t, false);
        expect_items(t, 2);
}

/*
 * The first write of a segment carries its header: when it fails, the
 * header is kept with the records and goes first when the retry writes
 * them, and the records after it come back at the next start.
 */
static void test_failed_first_write_keeps_header(void **state) {
        struct journal_test *t = *state;
        struct rlimit saved, limit;
        struct client *c;
        char path[128];

        signal(SIGXFSZ, SIG_IGN);
        assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
        limit = saved;
        limit.rlim_cur = 1;
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
        assert_int_equal(journal_open(t->config), 0);
        /* The commit of the header alone fails and leaves journal.1 empty. */
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        snprintf(path, sizeof(path), "%s/journal.1", t->dir);
        assert_int_equal(file_size(path), 0);
        assert_string_equal(journal_stat_str("journal_state"), "stalled");
        c = client_add(&t->f, "writer");
        expect(WIRE_ENOSPC, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
        signal(SIGXFSZ, SIG_DFL);
        while (file_size(path) == 0)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);

        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!c->held && !client_is_gone(c));
        restart(t, false);
        expect_items(t, 1);
}

/*
 * A full disk, learnt when room for the next records cannot be reserved:
 * every request that would change a durable object is refused ENOSPC before
 * it changes anything (a put, a get that would take an item out, a declare
 * that would create one, a delete), with the connection kept; reads of
 * durable objects and everything on other objects are served, unheld. Once
 * there is room, changes are admitted again with no restart, and what was
 * refused never happened.
 */
static void test_full_disk_refuses_changes(void **state) {
        struct journal_test *t = *state;
        struct client *c;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "client");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect(WIRE_OK, c, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "plain", (uint64_t) 0, 0u);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", "k", "v");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!c->held);

        journal_reserve_fails = -ENOSPC;
        expect(WIRE_ENOSPC, c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-1");
        expect(WIRE_ENOSPC, c, WIRE_OP_QUEUE_GET, "niw", QUEUE, (int64_t) 0, 0u);
        expect(WIRE_ENOSPC, c, WIRE_OP_DICT_SET, "nss", "d", "k", "other");
        expect(WIRE_ENOSPC, c, WIRE_OP_DELETE, "n", "d");
        expect(WIRE_ENOSPC, c, WIRE_OP_LIST_DECLARE, "nw", "new", WIRE_DECLARE_DURABLE);
        assert_string_equal(journal_stat_str("journal_state"), "full");
        assert_int_equal(journal_stat("journal_refused"), 5);
        /* Declaring what exists changes nothing; reads and other objects are served. */
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_bytes(c, WIRE_OP_DICT_GET, "ns", "d", "k", "v");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "plain", (int64_t) 0, "x");
        expect_item(c, "plain", "x");
        assert_true(!c->held && !client_is_gone(c));
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        /* Room again: admitted at once; STATS says so once the next second's look found it. */
        journal_reserve_fails = 0;
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-1");
        while (strcmp(journal_stat_str("journal_state"), "ok") != 0)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        restart(t, false);
        expect_items(t, 2);
        c = client_add(&t->f, "reader");
        expect_bytes(c, WIRE_OP_DICT_GET, "ns", "d", "k", "v");
        expect(WIRE_ENOENT, c, WIRE_OP_LIST_LEN, "n", "new");
}

/*
 * Records admitted into the reserve but not written because room ran out
 * at the commit (more was recorded than the request's size foretold) stall
 * the commit as a failed write does; the retry writes them once there is
 * room.
 */
static void test_reserve_failure_at_commit_stalls(void **state) {
        struct journal_test *t = *state;
        struct client *c;

        t->config->compact_size = JOURNAL_MIN_COMPACT_SIZE;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "client");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        journal_reserve_fails = -ENOSPC;
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(c->held && !client_is_gone(c));
        assert_string_equal(journal_stat_str("journal_state"), "stalled");
        journal_reserve_fails = 0;
        while (c->held)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        restart(t, false);
        expect_items(t, 1);
}

/*
 * Durable objects come back whole under limits lowered since they were
 * made: max_objects, max_memory and the per-user quotas admit everything
 * the journal recreates (a snapshot written then would make a loss final).
 */
static void test_recovery_ignores_limits(void **state) {
        struct journal_test *t = *state;
        char big[4096], key[16];
        struct client *c;

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", "second", (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "second", (int64_t) 0, big);
        expect(WIRE_OK, c, WIRE_OP_DICT_DECLARE, "nw", "d", WIRE_DECLARE_DURABLE);
        for (int i = 0; i < 4; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                expect_empty(c, WIRE_OP_DICT_SET, "nss", "d", key, big);
        }
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        journal_close(false);
        client_drop(&t->f, c);
        mpxd_done();
        assert_int_equal(mpxd_init(), 0);
        mpxd.max_objects = 1;
        mpxd.max_memory = 1000;
        mpxd.per_user.max_memory = 1000;
        mpxd.per_user.max_objects = 1;
        assert_int_equal(journal_open(t->config), 0);
        mpxd.max_objects = 0;
        mpxd.max_memory = 0;
        mpxd.per_user = (struct user_limits) { 0 };

        expect_items(t, 1);
        c = client_add(&t->f, "reader");
        expect_item(c, "second", big);
        for (int i = 0; i < 4; i++) {
                snprintf(key, sizeof(key), "k%d", i);
                expect_bytes(c, WIRE_OP_DICT_GET, "ns", "d", key, big);
        }
}

/* Rotation under everysec syncs the segment it closes: the once-a-second sync only sees the new one. */
static void test_rotation_syncs_closed_segment(void **state) {
        struct journal_test *t = *state;
        struct client *c;

        t->config->durability_sync = JOURNAL_SYNC_EVERYSEC;
        t->config->compact_size = 1;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_int_equal(journal_stat("journal_fsyncs"), 0);
        /* The commit writes journal.1 past compact_size: journal.2 is opened, and journal.1 synced. */
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_int_equal(journal_stat("journal_segment"), 2);
        assert_int_equal(journal_stat("journal_fsyncs"), 1);
}

/* Run the loop until the journal's STATS counter key reaches want; fail after a deadline. */
static void loop_until_stat(const char *key, int64_t want) {
        uint64_t deadline = now_ms() + 10000;

        /* The once-a-second timer is always pending: EVLOOP_ONCE returns at least that often. */
        while (journal_stat(key) < want) {
                if (now_ms() > deadline)
                        fail_msg("%s stayed at %" PRId64 ", below %" PRId64, key, journal_stat(key), want);
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        }
}

/*
 * Under everysec replies do not wait for the disk, and the sync thread
 * syncs what was written within about a second, again after each change:
 * the fsyncs count rises, the journal stays writable, and a crash after
 * the syncs loses nothing that was acknowledged.
 */
static void test_everysec_syncs_in_background(void **state) {
        struct journal_test *t = *state;
        struct client *c;

        t->config->durability_sync = JOURNAL_SYNC_EVERYSEC;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "first");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        /* Written and acknowledged without waiting for a sync. */
        assert_true(!c->held);
        loop_until_stat("journal_fsyncs", 1);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "second");
        loop_until_stat("journal_fsyncs", 2);
        assert_string_equal(journal_stat_str("journal_state"), "ok");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "third");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        /* As a crash: no compaction; the close syncs the last put after the thread's. */
        restart(t, false);
        c = client_add(&t->f, "reader");
        expect_item(c, QUEUE, "first");
        expect_item(c, QUEUE, "second");
        expect_item(c, QUEUE, "third");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", QUEUE, (int64_t) 0, 0u);
}

/*
 * A failed everysec fdatasync() in the thread: the pages it covered may
 * never reach the disk, so durable changes are refused (EIO) until the
 * snapshot, which starts without waiting for a change, writes memory out
 * whole; then they are accepted again, and a restart finds every
 * acknowledged change.
 */
static void test_everysec_failed_sync_refuses(void **state) {
        struct journal_test *t = *state;
        char sock[128];
        struct client *c;

        snprintf(sock, sizeof(sock), "%s/mpxd.sock", t->dir);
        mpxd.socket_path = sock;
        /* The signal events: SIGCHLD tells the journal that its compaction child ended. */
        assert_int_equal(server_listen(), 0);
        t->config->durability_sync = JOURNAL_SYNC_EVERYSEC;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-0");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!c->held);

        journal_sync_fails = -EIO;
        loop_until_stat("journal_fsyncs", 1);
        journal_sync_fails = 0;
        assert_string_equal(journal_stat_str("journal_state"), "resyncing");
        expect(WIRE_EIO, c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "refused");
        loop_until_stat("journal_compactions", 1);
        assert_string_equal(journal_stat_str("journal_state"), "ok");
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "item-1");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        restart(t, false);
        c = client_add(&t->f, "reader");
        expect_item(c, QUEUE, "item-0");
        expect_item(c, QUEUE, "item-1");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", QUEUE, (int64_t) 0, 0u);
}

/* The inode number of fd, as /proc/PID/fd/N shows a pipe: "pipe:[123]". */
static void pipe_link(int fd, char *buf, size_t size) {
        struct stat st;

        assert_int_equal(fstat(fd, &st), 0);
        snprintf(buf, size, "pipe:[%lu]", (unsigned long) st.st_ino);
}

/* Whether process pid holds a descriptor that reads as link. */
static bool process_holds(pid_t pid, const char *link) {
        char dir[64], path[320], got[128];
        struct dirent *e;
        bool found = false;
        DIR *d;

        snprintf(dir, sizeof(dir), "/proc/%ld/fd", (long) pid);
        d = opendir(dir);
        if (!d)
                return false;
        while ((e = readdir(d))) {
                ssize_t n;

                snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
                n = readlink(path, got, sizeof(got) - 1);
                if (n < 0)
                        continue;
                got[n] = '\0';
                found |= strcmp(got, link) == 0;
        }
        closedir(d);
        return found;
}

/* The nice value of process pid (field 19 of /proc/PID/stat), or 100 when it cannot be read. */
static int process_nice(pid_t pid) {
        char path[64], buf[512], *p;
        int nice = 100;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
        f = fopen(path, "r");
        if (!f)
                return nice;
        /* After the command's closing parenthesis: state is field 3, nice field 19. */
        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) &&
            sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %d", &nice) != 1)
                nice = 100;
        fclose(f);
        return nice;
}

/*
 * The compaction child keeps none of the daemon's descriptors but the
 * directory's: a connection the daemon closes while it runs really ends.
 * Here snapshot.tmp is a FIFO, so the child blocks opening it, after it has
 * closed what it must; a pipe of the daemon stands for a client's socket.
 * It also runs ten steps nicer than the daemon, so as not to take a CPU
 * the loop needs.
 */
static void test_compaction_child_closes_descriptors(void **state) {
        struct journal_test *t = *state;
        char path[128], link[64], children[64];
        uint64_t deadline;
        struct client *c;
        long child = 0;
        int p[2], want_nice;
        FILE *f;

        snprintf(path, sizeof(path), "%s/snapshot.tmp", t->dir);
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(pipe(p), 0);
        pipe_link(p[1], link, sizeof(link));
        t->config->compact_size = 1;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_int_equal(journal_stat("journal_compacting"), 1);

        snprintf(children, sizeof(children), "/proc/self/task/%ld/children", (long) getpid());
        f = fopen(children, "r");
        assert_non_null(f);
        assert_int_equal(fscanf(f, "%ld", &child), 1);
        fclose(f);
        deadline = now_ms() + 10000;
        while (process_holds((pid_t) child, link))
                assert_true(now_ms() < deadline);
        want_nice = getpriority(PRIO_PROCESS, 0) + 10 > 19 ? 19 : getpriority(PRIO_PROCESS, 0) + 10;
        while (process_nice((pid_t) child) != want_nice)
                assert_true(now_ms() < deadline);
        close(p[0]);
        close(p[1]);
        /* The teardown's journal_close stops the child, still blocked on the FIFO. */
}

/*
 * Replies made outside a request that show a change not yet written wait
 * for it too (any record waiting, as for requests): an item redelivered to
 * a parked getter when the connection that held it ends, and a declaration that finds an object whose creation
 * is not written yet.
 */
static void test_replies_outside_requests_wait(void **state) {
        struct journal_test *t = *state;
        struct client *a, *b, *c, *d;

        assert_int_equal(journal_open(t->config), 0);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        a = client_add(&t->f, "putter");
        b = client_add(&t->f, "waiter");
        c = client_add(&t->f, "holder");
        d = client_add(&t->f, "declarer");
        expect(WIRE_OK, a, WIRE_OP_QUEUE_DECLARE, "nqw", "j", (uint64_t) 0,
               WIRE_QUEUE_JOINABLE | WIRE_DECLARE_DURABLE);
        /* Nothing written yet: the declaration of another connection waits for the creation. */
        expect(WIRE_OK, d, WIRE_OP_QUEUE_DECLARE, "nqw", "j", (uint64_t) 0,
               WIRE_QUEUE_JOINABLE | WIRE_DECLARE_DURABLE);
        assert_true(d->held);
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "nw", "other", WIRE_DECLARE_DURABLE);
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "x");
        expect_item(c, "j", "x");
        send_request(b, 7, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) -1, 0u);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!a->held && !b->held && !c->held && !d->held);
        assert_no_reply(b);
        /* A record (of another object: a put would go to the waiter at once) waits to be written, */
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "other", "k", "v");
        /* and, outside a request, the holder's end redelivers x to the waiter: its reply waits too. */
        client_drop(&t->f, c);
        assert_true(b->held);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        assert_true(!b->held && !client_is_gone(b) && !d->held);
}

/* The status of one SEM_ACQUIRE of c that does not wait. */
static uint16_t acquire_status(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_SEM_ACQUIRE, "ni", name, (int64_t) 0);

        return rep.h.status;
}

/*
 * A restart ends every connection: units held under SEM_UNDO come back
 * with the robust-lock mark, so the first acquire after it is told
 * EOWNERDEAD, as is the first after a mark nobody was told of yet. A lock
 * released before the restart, or whose mark was told, comes back clean.
 */
static void test_sem_owner_dead_survives_restart(void **state) {
        static const char *const names[] = { "held", "died", "released", "told" };
        struct journal_test *t = *state;
        struct client *c, *dying;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "holder");
        dying = client_add(&t->f, "dying");
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                expect(WIRE_OK, c, WIRE_OP_SEM_DECLARE, "nqqw", names[i], (uint64_t) 1, (uint64_t) 1,
                       WIRE_SEM_BOUNDED | WIRE_DECLARE_DURABLE);
        assert_int_equal(acquire_status(c, "held"), WIRE_OK);
        assert_int_equal(acquire_status(dying, "died"), WIRE_OK);
        assert_int_equal(acquire_status(dying, "told"), WIRE_OK);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        client_drop(&t->f, dying);
        assert_int_equal(acquire_status(c, "told"), WIRE_EOWNERDEAD);
        expect_empty(c, WIRE_OP_SEM_RELEASE, "n", "told");
        assert_int_equal(acquire_status(c, "released"), WIRE_OK);
        expect_empty(c, WIRE_OP_SEM_RELEASE, "n", "released");
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);

        restart(t, false);
        c = client_add(&t->f, "after");
        assert_int_equal(acquire_status(c, "held"), WIRE_EOWNERDEAD);
        assert_int_equal(acquire_status(c, "died"), WIRE_EOWNERDEAD);
        assert_int_equal(acquire_status(c, "released"), WIRE_OK);
        assert_int_equal(acquire_status(c, "told"), WIRE_OK);
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                expect_empty(c, WIRE_OP_SEM_RELEASE, "n", names[i]);
        /* Once told, the mark is gone for good, also through a snapshot. */
        restart(t, true);
        c = client_add(&t->f, "later");
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                assert_int_equal(acquire_status(c, names[i]), WIRE_OK);
}

/* A queue's TTR is part of its CREATE record: it survives the records and a snapshot. */
static void test_queue_ttr_survives_restart(void **state) {
        struct journal_test *t = *state;
        struct client *c;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "writer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqww", "j", (uint64_t) 0,
               WIRE_QUEUE_JOINABLE | WIRE_DECLARE_DURABLE, 750u);
        restart(t, false);
        c = client_add(&t->f, "reader");
        assert_int_equal(info_field_at(c, "j", WIRE_TYPE_JOINABLE, "ttr_ms", __FILE__, __LINE__), 750);
        restart(t, true);
        c = client_add(&t->f, "again");
        assert_int_equal(info_field_at(c, "j", WIRE_TYPE_JOINABLE, "ttr_ms", __FILE__, __LINE__), 750);
        expect(WIRE_EEXIST, c, WIRE_OP_QUEUE_DECLARE, "nqww", "j", (uint64_t) 0,
               WIRE_QUEUE_JOINABLE | WIRE_DECLARE_DURABLE, 0u);
}

/*
 * A client over a socketpair whose peer sends bytes and closes at once: run
 * the loop until the daemon has handled them and lost the client (its
 * replies cannot be written).
 */
static void serve_closed_peer(const struct wire_buf *b) {
        unsigned before = mpxd.n_clients;
        int sv[2];

        /* The daemon ignores SIGPIPE; so must the test, which writes as the daemon. */
        signal(SIGPIPE, SIG_IGN);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        assert_non_null(client_new(sv[0]));
        assert_int_equal(write(sv[1], b->data, b->len), (ssize_t) b->len);
        close(sv[1]);
        for (int i = 0; i < 1000 && mpxd.n_clients > before; i++)
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        assert_int_equal(mpxd.n_clients, before);
}

/*
 * Items of a durable plain queue whose GET_MANY reply was never written go
 * back to the head, and the journal replays that: in their order, before
 * the rest, and a later get of one of them stays recorded.
 */
static void test_unwritten_get_put_back_replayed(void **state) {
        struct journal_test *t = *state;
        struct client *c;
        struct wire_buf b;

        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "producer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        for (const char *const *s = (const char *const[]) { "a", "b", "c", NULL }; *s; s++)
                expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, *s);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "gone");
        append_request(&b, 2, WIRE_OP_QUEUE_GET_MANY, "niww", QUEUE, (int64_t) 0, 0u, 2u);
        serve_closed_peer(&b);
        wire_buf_done(&b);
        assert_int_equal(info_field_at(c, QUEUE, WIRE_TYPE_QUEUE, "redelivered", __FILE__, __LINE__), 2);
        assert_int_equal(info_field_at(c, QUEUE, WIRE_TYPE_QUEUE, "size", __FILE__, __LINE__), 3);

        restart(t, false);
        c = client_add(&t->f, "first");
        expect_item(c, QUEUE, "a");
        restart(t, false);
        c = client_add(&t->f, "second");
        expect_item(c, QUEUE, "b");
        expect_item(c, QUEUE, "c");
        expect(WIRE_EAGAIN, c, WIRE_OP_QUEUE_GET, "niw", QUEUE, (int64_t) 0, 0u);
}

/* The status of the reply to request id among the frames of len bytes at p; fails when there is none. */
static uint16_t reply_status(const uint8_t *p, size_t len, uint32_t id) {
        struct wire_header h;

        while (len >= WIRE_HEADER_SIZE) {
                wire_header_decode(p, &h);
                assert_true(len - WIRE_HEADER_SIZE >= h.body_len);
                if (h.id == id)
                        return h.status;
                p += WIRE_HEADER_SIZE + h.body_len;
                len -= WIRE_HEADER_SIZE + h.body_len;
        }
        fail_msg("no reply to request %u", id);
        return 0;
}

/*
 * Two connections each send HELLO and a durable put, read in one pass of
 * the loop (EVLOOP_ONCE); passes more are run, then both replies must be
 * there, and the items in the queue.
 */
static void put_from_two_sockets(struct journal_test *t, enum journal_sync sync, int passes) {
        uint8_t out[512];
        struct wire_buf b;
        struct client *c;
        unsigned before;
        int sv[2][2];

        t->config->durability_sync = sync;
        assert_int_equal(journal_open(t->config), 0);
        c = client_add(&t->f, "declarer");
        expect(WIRE_OK, c, WIRE_OP_QUEUE_DECLARE, "nqw", QUEUE, (uint64_t) 0, WIRE_DECLARE_DURABLE);
        assert_true(event_base_loop(mpxd.base, EVLOOP_NONBLOCK) >= 0);
        before = mpxd.n_clients;
        signal(SIGPIPE, SIG_IGN);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "putter");
        append_request(&b, 2, WIRE_OP_QUEUE_PUT, "nis", QUEUE, (int64_t) 0, "x");
        for (int i = 0; i < 2; i++) {
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv[i]), 0);
                assert_non_null(client_new(sv[i][0]));
                assert_int_equal(write(sv[i][1], b.data, b.len), (ssize_t) b.len);
        }
        wire_buf_done(&b);
        assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        for (int pass = 1; pass < passes; pass++) {
                /* Not yet: the replies wait for the commit. */
                for (int i = 0; i < 2; i++)
                        assert_true(read(sv[i][1], out, sizeof(out)) < 0 && errno == EAGAIN);
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        }
        for (int i = 0; i < 2; i++) {
                ssize_t n = read(sv[i][1], out, sizeof(out));

                assert_true(n > 0);
                assert_int_equal(reply_status(out, (size_t) n, 2), WIRE_OK);
                close(sv[i][1]);
        }
        expect_item(c, QUEUE, "x");
        expect_item(c, QUEUE, "x");
        for (int i = 0; i < 1000 && mpxd.n_clients > before; i++)
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        assert_int_equal(mpxd.n_clients, before);
}

/*
 * Under "everysec" (and "no"), durable puts read from sockets are answered
 * in the pass of the loop that read them, after every connection of the
 * pass was served: the commit is not a timer that would wait for the next
 * pass (and its epoll_wait()).
 */
static void test_everysec_commits_in_the_pass_that_read(void **state) {
        put_from_two_sockets(*state, JOURNAL_SYNC_EVERYSEC, 1);
}

/*
 * Under "always" the commit waits for the next pass, so that the requests
 * its epoll_wait() finds share the fdatasync() too: the replies come then.
 */
static void test_always_commits_in_the_next_pass(void **state) {
        put_from_two_sockets(*state, JOURNAL_SYNC_ALWAYS, 2);
}

/*
 * The journal's own crc is zlib's crc32(), byte for byte: journals written
 * before it and the fuzz harness's files (zlib's crc) read back, and what
 * it writes reads back with zlib. Every length up to past the point where
 * it hands over to zlib, at every alignment, over bytes of every value.
 */
static void test_crc_is_zlibs(void **state) {
        uint8_t data[1024 + 8];
        uint32_t x = 1;

        for (size_t i = 0; i < sizeof(data); i++) {
                x = x * 1103515245u + 12345u;
                data[i] = (uint8_t) (x >> 16);
        }
        for (size_t align = 0; align < 8; align++)
                for (size_t len = 0; len <= 1024; len++)
                        assert_int_equal(journal_crc32(data + align, len),
                                         (uint32_t) crc32(0, data + align, (uInt) len));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, journal_setup, journal_teardown)
        const struct CMUnitTest tests[] = {
                T(test_every_type_from_records),
                T(test_every_type_from_snapshot),
                T(test_declare_rules),
                T(test_cut_at_every_offset),
                T(test_flipped_byte),
                T(test_write_failure_stalls_until_written),
                T(test_lost_record_withholds_acknowledgement),
                T(test_lost_record_refuses_until_snapshot),
                T(test_failed_first_write_keeps_header),
                T(test_full_disk_refuses_changes),
                T(test_reserve_failure_at_commit_stalls),
                T(test_recovery_ignores_limits),
                T(test_rotation_syncs_closed_segment),
                T(test_everysec_syncs_in_background),
                T(test_everysec_failed_sync_refuses),
                T(test_compaction_child_closes_descriptors),
                T(test_replies_outside_requests_wait),
                T(test_sem_owner_dead_survives_restart),
                T(test_queue_ttr_survives_restart),
                T(test_unwritten_get_put_back_replayed),
                T(test_everysec_commits_in_the_pass_that_read),
                T(test_always_commits_in_the_next_pass),
                cmocka_unit_test(test_crc_is_zlibs),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
