/* SPDX-License-Identifier: MIT */
/*
 * Shared dicts and lists against a real mpxd, driven through libmpx by real
 * forked processes, each with its own connection: 8 processes incrementing
 * one counter, 4 processes appending to one list, a dict of 100000 keys
 * listed page by page while another process keeps changing it and a third
 * keeps reading another dict (the daemon stays responsive while a huge
 * listing goes on), slices and pages larger than a frame, every call of the
 * dict and list API, and each call's error paths (-ENOENT, -ERANGE,
 * -EPROTOTYPE, -EMSGSIZE, -EINVAL), the connection going on after each.
 *
 * Each test starts its own daemon and stops it in teardown, where a crash or
 * (with MPX_TEST_VALGRIND=1) a memory error or leak of the daemon fails the
 * test. Processes synchronise through pipes, blocking calls and the
 * daemon's own counters, never through sleeps.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "monotonic.h"

/* A test that runs longer than this has hung: stop the whole program. */
#define WATCHDOG_S              120
#define WATCHDOG_VALGRIND_S     1800

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-shared", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* A daemon whose payloads are at most 1024 bytes. */
static const struct harness_options small_options = {
        "test-shared", WATCHDOG_S, WATCHDOG_VALGRIND_S, (const char *const[]) { "--max-message", "1024", NULL }
};

/* ---- helpers ---- */

/* True if a buffer holds exactly the string s. */
static bool buf_is(const mpx_buf *b, const char *s) {
        return b->data && b->size == strlen(s) && memcmp(b->data, s, b->size) == 0;
}

/* In the test: d[key] must be the string want. */
#define assert_dict_get(m, name, key, want)                                                     \
        do {                                                                                    \
                mpx_buf b_ = { 0 };                                                             \
                assert_int_equal(mpx_dict_get((m), (name), (key), strlen(key), &b_), 0);        \
                if (!buf_is(&b_, (want)))                                                       \
                        fail_msg("'%s' holds '%.*s', expected '%s'", (key), (int) b_.size,      \
                                 (const char *) b_.data, (want));                               \
                mpx_buf_clear(&b_);                                                             \
        } while (0)

/* ---- 1. eight processes increment one counter ---- */

#define INCR_PROCS      8
#define INCR_EACH       10000

struct incr_arg {
        const char *socket;
        int each;
};

static int incr_child(void *arg) {
        const struct incr_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        int64_t last = 0;

        child_check(m);
        for (int i = 0; i < a->each; i++) {
                int64_t v = 0;

                child_check_r(mpx_dict_incr(m, "counters", "hits", 4, 1, &v), 0);
                /* Others increment in between, never backwards. */
                child_check(v > last && v <= (int64_t) INCR_PROCS * a->each);
                last = v;
        }
        mpx_disconnect(m);
        return 0;
}

static void test_concurrent_incr(void **state) {
        struct harness_fixture *f = *state;
        struct incr_arg a = { .socket = f->d.socket, .each = INCR_EACH };
        pid_t pids[INCR_PROCS];
        char want[32];
        int64_t t0 = monotonic_us();

        assert_int_equal(mpx_dict_declare(f->m, "counters"), 1);
        for (int i = 0; i < INCR_PROCS; i++)
                pids[i] = harness_fork(incr_child, &a);
        for (int i = 0; i < INCR_PROCS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        print_message("%d x %d increments in %lld ms\n", INCR_PROCS, a.each,
                      (long long) (monotonic_us() - t0) / 1000);
        snprintf(want, sizeof(want), "%d", INCR_PROCS * a.each);
        assert_dict_get(f->m, "counters", "hits", want);
        assert_int_equal(harness_field(f->m, "counters", "incrs"), INCR_PROCS * a.each);
        assert_int_equal(mpx_dict_len(f->m, "counters"), 1);
}

/* ---- 2. four processes append to one list ---- */

#define APPEND_PROCS    4
#define APPEND_EACH     2500

struct append_arg {
        const char *socket;
        int index;
};

static int append_child(void *arg) {
        const struct append_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        int64_t last = 0;

        child_check(m);
        for (int i = 0; i < APPEND_EACH; i++) {
                char item[32];
                int n = snprintf(item, sizeof(item), "p%d-%05d", a->index, i);
                int64_t len = mpx_list_append(m, "log", item, (size_t) n);

                child_check(len > last && len <= APPEND_PROCS * APPEND_EACH);
                last = len;
        }
        mpx_disconnect(m);
        return 0;
}

static void test_concurrent_appends(void **state) {
        struct harness_fixture *f = *state;
        struct append_arg args[APPEND_PROCS];
        pid_t pids[APPEND_PROCS];
        int next[APPEND_PROCS] = { 0 };
        mpx_buf *items = NULL;
        int64_t n;

        assert_int_equal(mpx_list_declare(f->m, "log"), 1);
        for (int i = 0; i < APPEND_PROCS; i++) {
                args[i] = (struct append_arg) { .socket = f->d.socket, .index = i };
                pids[i] = harness_fork(append_child, &args[i]);
        }
        for (int i = 0; i < APPEND_PROCS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        assert_int_equal(mpx_list_len(f->m, "log"), APPEND_PROCS * APPEND_EACH);

        /* Every item exactly once, each process's in its order. */
        n = mpx_list_slice(f->m, "log", 0, MPX_SLICE_END, &items);
        assert_int_equal(n, APPEND_PROCS * APPEND_EACH);
        for (int64_t i = 0; i < n; i++) {
                int p = -1, seq = -1;
                char s[32];

                assert_true(items[i].size < sizeof(s));
                memcpy(s, items[i].data, items[i].size);
                s[items[i].size] = '\0';
                assert_int_equal(sscanf(s, "p%d-%d", &p, &seq), 2);
                assert_true(p >= 0 && p < APPEND_PROCS);
                assert_int_equal(seq, next[p]);
                next[p]++;
        }
        for (int i = 0; i < APPEND_PROCS; i++)
                assert_int_equal(next[i], APPEND_EACH);
        mpx_bufs_free(items, (size_t) n);
}

/*
 * ---- 2b. read, change locally, splice back only if nothing changed ----
 *
 * Each process appends its items and, after each, reverses the whole list
 * the way Python's list.reverse() is made atomic: a versioned slice, then a
 * splice that holds only if the version is still that one, retried
 * otherwise. A splice that ignored the version would drop the items others
 * appended in between; none may be lost or doubled.
 */
#define SPLICE_PROCS    3
#define SPLICE_EACH     150

static int reverse_child(void *arg) {
        const struct append_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        int retries = 0;

        child_check(m);
        for (int i = 0; i < SPLICE_EACH; i++) {
                char item[32];
                int n = snprintf(item, sizeof(item), "p%d-%05d", a->index, i);
                int done = 0;

                child_check(mpx_list_append(m, "spliced", item, (size_t) n) > 0);
                while (!done) {
                        mpx_buf *items = NULL;
                        uint64_t version = 0;
                        int64_t k = mpx_list_slice_version(m, "spliced", 0, MPX_SLICE_END, &items, &version);
                        struct iovec *iov;

                        child_check(k > 0 && version != 0);
                        iov = calloc((size_t) k, sizeof(*iov));
                        child_check(iov);
                        for (int64_t j = 0; j < k; j++)
                                iov[j] = (struct iovec) { items[k - 1 - j].data, items[k - 1 - j].size };
                        done = mpx_list_splice(m, "spliced", 0, MPX_SLICE_END, version, iov, (size_t) k, NULL);
                        child_check(done == 0 || done == 1);
                        retries += !done;
                        free(iov);
                        mpx_bufs_free(items, (size_t) k);
                }
        }
        mpx_disconnect(m);
        return 0;
}

static void test_concurrent_splices(void **state) {
        struct harness_fixture *f = *state;
        struct append_arg args[SPLICE_PROCS];
        pid_t pids[SPLICE_PROCS];
        bool seen[SPLICE_PROCS][SPLICE_EACH] = { { false } };
        mpx_buf *items = NULL;
        int64_t n;

        assert_int_equal(mpx_list_declare(f->m, "spliced"), 1);
        for (int i = 0; i < SPLICE_PROCS; i++) {
                args[i] = (struct append_arg) { .socket = f->d.socket, .index = i };
                pids[i] = harness_fork(reverse_child, &args[i]);
        }
        for (int i = 0; i < SPLICE_PROCS; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        n = mpx_list_slice(f->m, "spliced", 0, MPX_SLICE_END, &items);
        assert_int_equal(n, SPLICE_PROCS * SPLICE_EACH);
        for (int64_t i = 0; i < n; i++) {
                int p = -1, seq = -1;
                char text[32];

                assert_true(items[i].size < sizeof(text));
                memcpy(text, items[i].data, items[i].size);
                text[items[i].size] = '\0';
                assert_int_equal(sscanf(text, "p%d-%d", &p, &seq), 2);
                assert_true(p >= 0 && p < SPLICE_PROCS && seq >= 0 && seq < SPLICE_EACH);
                assert_false(seen[p][seq]);
                seen[p][seq] = true;
        }
        mpx_bufs_free(items, (size_t) n);
}

/* Splices of every shape: delete, insert, replace by more or fewer, clamped bounds, a stale version. */
static void test_list_splice(void **state) {
        struct harness_fixture *f = *state;
        struct iovec two[2] = { { "x", 1 }, { "yy", 2 } };
        mpx_buf *items = NULL, b = { 0 };
        uint64_t v1 = 0, v2 = 0, v3 = 0;
        int64_t n;

        assert_int_equal(mpx_list_declare(f->m, "sp"), 1);
        for (int i = 0; i < 5; i++)
                assert_true(mpx_list_append(f->m, "sp", "abcde" + i, 1) > 0);
        /* l[1:3] = ["x", "yy"]: a b c d e -> a x yy d e */
        assert_int_equal(mpx_list_splice(f->m, "sp", 1, 3, 0, two, 2, &v1), 1);
        assert_int_equal(mpx_list_get(f->m, "sp", 2, &b), 0);
        assert_int_equal(b.size, 2);
        mpx_buf_clear(&b);
        /* del l[-2:]: a x yy */
        assert_int_equal(mpx_list_splice(f->m, "sp", -2, MPX_SLICE_END, 0, NULL, 0, &v2), 1);
        assert_true(v2 != v1);
        assert_int_equal(mpx_list_len(f->m, "sp"), 3);
        /* l[0:0] = ["x", "yy"] inserts at the front; a stop before start is start. */
        assert_int_equal(mpx_list_splice(f->m, "sp", 0, -100, 0, two, 2, NULL), 1);
        assert_int_equal(mpx_list_len(f->m, "sp"), 5);
        /* A version read, then a change by someone else: the splice does nothing. */
        n = mpx_list_slice_version(f->m, "sp", 0, MPX_SLICE_END, &items, &v3);
        assert_int_equal(n, 5);
        mpx_bufs_free(items, (size_t) n);
        assert_true(mpx_list_append(f->m, "sp", "z", 1) > 0);
        assert_int_equal(mpx_list_splice(f->m, "sp", 0, MPX_SLICE_END, v3, NULL, 0, NULL), 0);
        assert_int_equal(mpx_list_len(f->m, "sp"), 6);
        /* With the version now current it holds: the list is emptied. */
        n = mpx_list_slice_version(f->m, "sp", 0, 0, &items, &v3);
        assert_int_equal(n, 0);
        mpx_bufs_free(items, 0);
        assert_int_equal(mpx_list_splice(f->m, "sp", 0, MPX_SLICE_END, v3, NULL, 0, NULL), 1);
        assert_int_equal(mpx_list_len(f->m, "sp"), 0);
        /* Errors: no list, another type, an item over max_message. */
        assert_int_equal(mpx_list_splice(f->m, "nolist", 0, 0, 0, two, 2, NULL), -ENOENT);
        assert_int_equal(mpx_dict_declare(f->m, "notalist"), 1);
        assert_int_equal(mpx_list_splice(f->m, "notalist", 0, 0, 0, two, 2, NULL), -EPROTOTYPE);
        assert_int_equal(mpx_list_splice(f->m, "sp", 0, 0, 0,
                                         &(struct iovec) { "x", mpx_max_message(f->m) + 1 }, 1, NULL), -EMSGSIZE);
        assert_int_equal(mpx_list_slice_version(f->m, "sp", 0, 1, &items, NULL), -EINVAL);
}

/* ---- 3. a huge dict listed while it changes, and others are served meanwhile ---- */

#define BIG_KEYS        100000
#define BIG_BATCH       1000

struct load_arg {
        const char *socket;
        int ready_fd;                   /* a byte is written here once the child is under way */
        int result_fd;                  /* the probe writes its results here */
};

/* Keep changing "big" until "control" has the key "stop": volatile keys go and come back, new keys come. */
static int modifier_child(void *arg) {
        const struct load_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        unsigned round = 0;

        child_check(m);
        for (;; round++) {
                char k[32];
                int n, r;

                if (round == 100)
                        child_check(write(a->ready_fd, "m", 1) == 1);
                if (round % 16 == 0) {
                        r = mpx_dict_contains(m, "control", "stop", 4);
                        child_check(r >= 0);
                        if (r)
                                break;
                }
                /* Odd numbers are volatile: delete one, re-add another, overwrite a third. */
                n = snprintf(k, sizeof(k), "v%06u", (round * 7919u) % (BIG_KEYS / 2) * 2 + 1);
                r = mpx_dict_del(m, "big", k, (size_t) n);
                child_check(r == 0 || r == -ENOENT);
                n = snprintf(k, sizeof(k), "v%06u", (round * 104729u) % (BIG_KEYS / 2) * 2 + 1);
                child_check_r(mpx_dict_set(m, "big", k, (size_t) n, "again", 5), 0);
                /* Stable keys get new values, which keeps their place. */
                n = snprintf(k, sizeof(k), "s%06u", (round * 31u) % (BIG_KEYS / 2) * 2);
                child_check_r(mpx_dict_set(m, "big", k, (size_t) n, "changed", 7), 0);
                n = snprintf(k, sizeof(k), "new%06u", round);
                child_check_r(mpx_dict_set(m, "big", k, (size_t) n, "n", 1), 0);
        }
        mpx_disconnect(m);
        return 0;
}

struct probe_result {
        uint64_t gets;
        int64_t max_us;
};

/* Read "probe" in a loop until "control" has the key "stop"; report how many gets and the slowest. */
static int probe_child(void *arg) {
        const struct load_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        struct probe_result res = { 0 };

        child_check(m);
        for (;;) {
                mpx_buf b = { 0 };
                int64_t t0 = monotonic_us(), dt;
                int r;

                child_check_r(mpx_dict_get(m, "probe", "key", 3, &b), 0);
                child_check(buf_is(&b, "value"));
                mpx_buf_clear(&b);
                child_check(mpx_ping(m) == 0);
                dt = monotonic_us() - t0;
                if (dt > res.max_us)
                        res.max_us = dt;
                if (++res.gets == 100)
                        child_check(write(a->ready_fd, "p", 1) == 1);
                if (res.gets % 16 == 0) {
                        r = mpx_dict_contains(m, "control", "stop", 4);
                        child_check(r >= 0);
                        if (r)
                                break;
                }
        }
        child_check(write(a->result_fd, &res, sizeof(res)) == (ssize_t) sizeof(res));
        mpx_disconnect(m);
        return 0;
}

/* Fill "big" with s000000 (even: stable) and v000001 (odd: volatile) ... in batches. */
static void fill_big(mpx *m) {
        static char keys[BIG_BATCH][16];
        struct iovec k[BIG_BATCH], v[BIG_BATCH];

        for (int i = 0; i < BIG_KEYS; i += BIG_BATCH) {
                for (int j = 0; j < BIG_BATCH; j++) {
                        int n = snprintf(keys[j], sizeof(keys[j]), "%c%06d", (i + j) % 2 ? 'v' : 's', i + j);

                        k[j] = (struct iovec) { .iov_base = keys[j], .iov_len = (size_t) n };
                        v[j] = (struct iovec) { .iov_base = keys[j] + 1, .iov_len = (size_t) n - 1 };
                }
                assert_int_equal(mpx_dict_update(m, "big", k, v, BIG_BATCH), 0);
        }
}

static void test_listing_under_load(void **state) {
        struct harness_fixture *f = *state;
        int ready[2], result[2];
        struct load_arg a;
        struct probe_result res;
        uint8_t *seen = calloc(BIG_KEYS, 1);
        uint64_t cursor = 0, total = 0, pages = 0;
        int64_t sets0, sets1, probe0, probe1, t0, longest_page = 0;
        pid_t modifier, probe;
        char c;

        assert_non_null(seen);
        assert_int_equal(pipe(ready), 0);
        assert_int_equal(pipe(result), 0);
        assert_int_equal(mpx_dict_declare(f->m, "big"), 1);
        assert_int_equal(mpx_dict_declare(f->m, "probe"), 1);
        assert_int_equal(mpx_dict_declare(f->m, "control"), 1);
        assert_int_equal(mpx_dict_set(f->m, "probe", "key", 3, "value", 5), 0);
        fill_big(f->m);
        assert_int_equal(mpx_dict_len(f->m, "big"), BIG_KEYS);

        a = (struct load_arg) { .socket = f->d.socket, .ready_fd = ready[1], .result_fd = result[1] };
        modifier = harness_fork(modifier_child, &a);
        probe = harness_fork(probe_child, &a);
        /* Both are under way before the walk begins. */
        harness_read_pipe(ready[0], &c, 1);
        harness_read_pipe(ready[0], &c, 1);

        sets0 = harness_field(f->m, "big", "sets");
        probe0 = harness_field(f->m, "probe", "gets");
        t0 = monotonic_us();
        do {
                mpx_buf *keys = NULL;
                size_t n = 0;
                int64_t p0 = monotonic_us();

                assert_int_equal(mpx_dict_items(f->m, "big", cursor, 0, MPX_DICT_KEYS, &keys, NULL, &n, &cursor),
                                 0);
                if (monotonic_us() - p0 > longest_page)
                        longest_page = monotonic_us() - p0;
                assert_true(n <= 1000);
                assert_true(n > 0 || cursor == 0);
                for (size_t i = 0; i < n; i++) {
                        char s[32];
                        int idx;

                        assert_true(keys[i].size < sizeof(s));
                        memcpy(s, keys[i].data, keys[i].size);
                        s[keys[i].size] = '\0';
                        if (s[0] == 's') {
                                assert_int_equal(sscanf(s + 1, "%d", &idx), 1);
                                assert_true(idx >= 0 && idx < BIG_KEYS && idx % 2 == 0);
                                if (seen[idx]++)
                                        fail_msg("stable key %s returned twice", s);
                        }
                }
                mpx_bufs_free(keys, n);
                pages++;
                total += n;
        } while (cursor != 0);
        sets1 = harness_field(f->m, "big", "sets");
        probe1 = harness_field(f->m, "probe", "gets");
        print_message("listed %llu keys in %llu pages in %lld ms (longest page %lld us); meanwhile %lld sets, "
                      "%lld probe gets\n", (unsigned long long) total, (unsigned long long) pages,
                      (long long) (monotonic_us() - t0) / 1000, (long long) longest_page,
                      (long long) (sets1 - sets0), (long long) (probe1 - probe0));

        assert_int_equal(mpx_dict_set(f->m, "control", "stop", 4, "1", 1), 0);
        assert_int_equal(harness_wait(modifier), 0);
        assert_int_equal(harness_wait(probe), 0);
        harness_read_pipe(result[0], &res, sizeof(res));
        print_message("probe: %llu gets, slowest %lld us\n", (unsigned long long) res.gets, (long long) res.max_us);

        /* Every stable key exactly once, though the dict changed all along. */
        for (int i = 0; i < BIG_KEYS; i += 2)
                if (seen[i] != 1)
                        fail_msg("stable key s%06d seen %u times", i, seen[i]);
        assert_true(pages >= BIG_KEYS / 1000);
        /* The dict did change during the walk, and the other client was served during it. */
        assert_true(sets1 > sets0);
        assert_true(probe1 > probe0);
        /* No request of the probe waited for the whole walk. */
        assert_true(res.max_us < (harness_under_valgrind() ? 30000000 : 2000000));
        close(ready[0]);
        close(ready[1]);
        close(result[0]);
        close(result[1]);
        free(seen);
}

/* ---- 4. the dict API, call by call ---- */

static void test_dict_api(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        mpx_buf b = { 0 }, *keys = NULL, *values = NULL;
        struct iovec k[3] = { { "a", 1 }, { "b", 1 }, { "c", 1 } }, v[3] = { { "1", 1 }, { "2", 1 }, { "3", 1 } };
        uint64_t next = 7;
        int64_t value = 0;
        size_t n = 0;

        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 0);
        assert_int_equal(mpx_dict_update(m, "d", k, v, 3), 0);
        assert_int_equal(mpx_dict_update(m, "d", NULL, NULL, 0), 0);
        assert_int_equal(mpx_dict_len(m, "d"), 3);
        assert_int_equal(mpx_dict_set(m, "d", "a", 1, "one", 3), 0);
        assert_dict_get(m, "d", "a", "one");
        assert_int_equal(mpx_dict_contains(m, "d", "b", 1), 1);
        assert_int_equal(mpx_dict_contains(m, "d", "z", 1), 0);

        /* Empty key and empty value: data is never NULL. */
        assert_int_equal(mpx_dict_set(m, "d", NULL, 0, NULL, 0), 0);
        assert_int_equal(mpx_dict_get(m, "d", "", 0, &b), 0);
        assert_non_null(b.data);
        assert_int_equal(b.size, 0);
        mpx_buf_clear(&b);
        assert_null(b.data);
        assert_int_equal(mpx_dict_del(m, "d", "", 0), 0);

        /* Items in insertion order; keys only; values only; a page at a time. */
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, MPX_DICT_ITEMS, &keys, &values, &n, &next), 0);
        assert_int_equal(n, 3);
        assert_int_equal(next, 0);
        assert_true(buf_is(&keys[0], "a") && buf_is(&values[0], "one"));
        assert_true(buf_is(&keys[2], "c") && buf_is(&values[2], "3"));
        keys = mpx_bufs_free(keys, n);
        values = mpx_bufs_free(values, n);
        values = (mpx_buf *) 1;         /* set to NULL: not asked for */
        assert_int_equal(mpx_dict_items(m, "d", 0, 2, MPX_DICT_KEYS, &keys, &values, &n, &next), 0);
        assert_int_equal(n, 2);
        assert_null(values);
        assert_true(next != 0);
        assert_true(buf_is(&keys[1], "b"));
        keys = mpx_bufs_free(keys, n);
        assert_int_equal(mpx_dict_items(m, "d", next, 2, MPX_DICT_VALUES, NULL, &values, &n, &next), 0);
        assert_int_equal(n, 1);
        assert_int_equal(next, 0);
        assert_true(buf_is(&values[0], "3"));
        values = mpx_bufs_free(values, n);

        /* pop, setdefault. */
        assert_int_equal(mpx_dict_pop(m, "d", "b", 1, &b), 0);
        assert_true(buf_is(&b, "2"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_contains(m, "d", "b", 1), 0);
        assert_int_equal(mpx_dict_setdefault(m, "d", "a", 1, "x", 1, &b), 0);
        assert_true(buf_is(&b, "one"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_setdefault(m, "d", "e", 1, "x", 1, &b), 0);
        assert_true(buf_is(&b, "x"));
        mpx_buf_clear(&b);

        /* incr. */
        assert_int_equal(mpx_dict_incr(m, "d", "n", 1, 41, &value), 0);
        assert_int_equal(value, 41);
        assert_int_equal(mpx_dict_incr(m, "d", "n", 1, 1, NULL), 0);
        assert_dict_get(m, "d", "n", "42");
        assert_int_equal(mpx_dict_incr(m, "d", "n", 1, -50, &value), 0);
        assert_int_equal(value, -8);

        /* cas, the four combinations. */
        assert_int_equal(mpx_dict_cas(m, "d", "a", 1, "one", 3, "uno", 3, &b), 1);
        assert_true(buf_is(&b, "uno"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_cas(m, "d", "a", 1, "one", 3, "eins", 4, &b), 0);
        assert_true(buf_is(&b, "uno"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_cas(m, "d", "new", 3, NULL, 0, "fresh", 5, NULL), 1);
        assert_int_equal(mpx_dict_cas(m, "d", "new", 3, NULL, 0, "again", 5, &b), 0);
        assert_true(buf_is(&b, "fresh"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_cas(m, "d", "new", 3, "fresh", 5, NULL, 0, &b), 1);
        assert_null(b.data);
        assert_int_equal(b.size, 0);
        assert_int_equal(mpx_dict_contains(m, "d", "new", 3), 0);
        assert_int_equal(mpx_dict_cas(m, "d", "new", 3, NULL, 0, NULL, 0, &b), 1);
        assert_null(b.data);
        assert_int_equal(mpx_dict_cas(m, "d", "new", 3, "fresh", 5, NULL, 0, &b), 0);
        assert_null(b.data);

        /* clear. */
        assert_int_equal(mpx_dict_clear(m, "d"), 4);
        assert_int_equal(mpx_dict_len(m, "d"), 0);
        assert_int_equal(mpx_dict_clear(m, "d"), 0);
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, MPX_DICT_ITEMS, &keys, &values, &n, &next), 0);
        assert_int_equal(n, 0);
        assert_int_equal(next, 0);
        mpx_bufs_free(keys, n);
        mpx_bufs_free(values, n);
}

/* ---- 5. dict errors ---- */

static void test_dict_errors(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        mpx_buf b = { (void *) 1, 77 }, *keys = NULL;
        struct iovec k[5], v[5];
        size_t max = mpx_max_message(m), n = 0;
        char *big = malloc(max + 1);
        int64_t value = 77;
        uint64_t next = 0;

        assert_non_null(big);
        memset(big, 'x', max + 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        assert_int_equal(mpx_dict_set(m, "d", "text", 4, "abc", 3), 0);
        assert_int_equal(mpx_dict_set(m, "d", "max", 3, "9223372036854775807", 19), 0);

        /* -ENOENT: no such dict, no such key; out-params untouched. */
        assert_int_equal(mpx_dict_set(m, "nope", "k", 1, "v", 1), -ENOENT);
        assert_int_equal(mpx_dict_get(m, "nope", "k", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_get(m, "d", "k", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_del(m, "nope", "k", 1), -ENOENT);
        assert_int_equal(mpx_dict_del(m, "d", "k", 1), -ENOENT);
        assert_int_equal(mpx_dict_contains(m, "nope", "k", 1), -ENOENT);
        assert_int_equal(mpx_dict_len(m, "nope"), -ENOENT);
        assert_int_equal(mpx_dict_pop(m, "nope", "k", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_pop(m, "d", "k", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_setdefault(m, "nope", "k", 1, "v", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_update(m, "nope", k, v, 0), -ENOENT);
        assert_int_equal(mpx_dict_clear(m, "nope"), -ENOENT);
        assert_int_equal(mpx_dict_incr(m, "nope", "k", 1, 1, &value), -ENOENT);
        assert_int_equal(mpx_dict_cas(m, "nope", "k", 1, NULL, 0, "v", 1, &b), -ENOENT);
        assert_int_equal(mpx_dict_items(m, "nope", 0, 0, MPX_DICT_KEYS, &keys, NULL, &n, &next), -ENOENT);
        assert_true(b.data == (void *) 1 && b.size == 77 && value == 77 && keys == NULL);

        /* -EPROTOTYPE: a list and a queue are not dicts. */
        static const char *const others[] = { "l", "q" };
        for (size_t i = 0; i < 2; i++) {
                const char *o = others[i];

                assert_int_equal(mpx_dict_declare(m, o), -EPROTOTYPE);
                assert_int_equal(mpx_dict_set(m, o, "k", 1, "v", 1), -EPROTOTYPE);
                assert_int_equal(mpx_dict_get(m, o, "k", 1, &b), -EPROTOTYPE);
                assert_int_equal(mpx_dict_del(m, o, "k", 1), -EPROTOTYPE);
                assert_int_equal(mpx_dict_contains(m, o, "k", 1), -EPROTOTYPE);
                assert_int_equal(mpx_dict_len(m, o), -EPROTOTYPE);
                assert_int_equal(mpx_dict_pop(m, o, "k", 1, &b), -EPROTOTYPE);
                assert_int_equal(mpx_dict_setdefault(m, o, "k", 1, "v", 1, &b), -EPROTOTYPE);
                assert_int_equal(mpx_dict_update(m, o, k, v, 0), -EPROTOTYPE);
                assert_int_equal(mpx_dict_clear(m, o), -EPROTOTYPE);
                assert_int_equal(mpx_dict_incr(m, o, "k", 1, 1, &value), -EPROTOTYPE);
                assert_int_equal(mpx_dict_cas(m, o, "k", 1, NULL, 0, "v", 1, &b), -EPROTOTYPE);
                assert_int_equal(mpx_dict_items(m, o, 0, 0, MPX_DICT_KEYS, &keys, NULL, &n, &next), -EPROTOTYPE);
        }

        /* -EMSGSIZE: a key or value over max_message, or an update over one frame. */
        assert_int_equal(mpx_dict_set(m, "d", big, max + 1, "v", 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_set(m, "d", "k", 1, big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_get(m, "d", big, max + 1, &b), -EMSGSIZE);
        assert_int_equal(mpx_dict_del(m, "d", big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_contains(m, "d", big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_pop(m, "d", big, max + 1, &b), -EMSGSIZE);
        assert_int_equal(mpx_dict_setdefault(m, "d", "k", 1, big, max + 1, &b), -EMSGSIZE);
        assert_int_equal(mpx_dict_incr(m, "d", big, max + 1, 1, &value), -EMSGSIZE);
        assert_int_equal(mpx_dict_cas(m, "d", "k", 1, big, max + 1, NULL, 0, &b), -EMSGSIZE);
        assert_int_equal(mpx_dict_cas(m, "d", "k", 1, NULL, 0, big, max + 1, &b), -EMSGSIZE);
        for (int i = 0; i < 5; i++) {
                k[i] = (struct iovec) { .iov_base = big + i, .iov_len = 1 };
                v[i] = (struct iovec) { .iov_base = big, .iov_len = max };
        }
        assert_int_equal(mpx_dict_update(m, "d", k, v, 1), 0);
        assert_int_equal(mpx_dict_update(m, "d", k, v, 5), -EMSGSIZE);      /* 5 x max_message > max_frame */
        v[0].iov_len = max + 1;
        assert_int_equal(mpx_dict_update(m, "d", k, v, 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_len(m, "d"), 3);

        /* -EINVAL: the value is not a number; bad arguments. -ERANGE: overflow. */
        assert_int_equal(mpx_dict_incr(m, "d", "text", 4, 1, &value), -EINVAL);
        assert_int_equal(mpx_dict_incr(m, "d", "max", 3, 1, &value), -ERANGE);
        assert_int_equal(mpx_dict_incr(m, "d", "max", 3, -1, &value), 0);
        assert_int_equal(value, INT64_MAX - 1);
        assert_int_equal(mpx_dict_declare(m, "bad name"), -EINVAL);
        assert_int_equal(mpx_dict_declare(m, ""), -EINVAL);
        assert_int_equal(mpx_dict_get(m, "d", "k", 1, NULL), -EINVAL);
        assert_int_equal(mpx_dict_set(m, "d", NULL, 1, "v", 1), -EINVAL);
        assert_int_equal(mpx_dict_set(NULL, "d", "k", 1, "v", 1), -EINVAL);
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, 0, &keys, NULL, &n, &next), -EINVAL);
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, 4, &keys, NULL, &n, &next), -EINVAL);
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, MPX_DICT_VALUES, &keys, NULL, &n, &next), -EINVAL);
        assert_int_equal(mpx_dict_items(m, "d", 0, 0, MPX_DICT_KEYS, &keys, NULL, NULL, &next), -EINVAL);
        assert_int_equal(mpx_dict_update(m, "d", NULL, v, 1), -EINVAL);

        /* After all that, the connection works and nothing changed. */
        assert_dict_get(m, "d", "text", "abc");
        assert_int_equal(mpx_ping(m), 0);
        free(big);
}

/* ---- 6. the list API, call by call ---- */

/* The whole list must be the items of want, split at ','. */
static void assert_list_is(mpx *m, const char *name, const char *want) {
        mpx_buf *items = NULL;
        int64_t n = mpx_list_slice(m, name, 0, MPX_SLICE_END, &items);
        char got[1024];
        size_t at = 0;

        assert_true(n >= 0);
        got[0] = '\0';
        for (int64_t i = 0; i < n; i++)
                at += (size_t) snprintf(got + at, sizeof(got) - at, "%s%.*s", i ? "," : "", (int) items[i].size,
                                        (const char *) items[i].data);
        mpx_bufs_free(items, (size_t) n);
        assert_string_equal(got, want);
}

static void test_list_api(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        struct iovec more[3] = { { "c", 1 }, { "d", 1 }, { "e", 1 } };
        mpx_buf b = { 0 }, *items = NULL;
        int64_t n;

        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_list_declare(m, "l"), 0);
        assert_int_equal(mpx_list_append(m, "l", "a", 1), 1);
        assert_int_equal(mpx_list_append(m, "l", "b", 1), 2);
        assert_int_equal(mpx_list_extend(m, "l", more, 3), 5);
        assert_int_equal(mpx_list_extend(m, "l", NULL, 0), 5);
        assert_int_equal(mpx_list_len(m, "l"), 5);
        assert_list_is(m, "l", "a,b,c,d,e");

        assert_int_equal(mpx_list_get(m, "l", -1, &b), 0);
        assert_true(buf_is(&b, "e"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_list_get(m, "l", 0, &b), 0);
        assert_true(buf_is(&b, "a"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_list_set(m, "l", -2, "D", 1), 0);
        assert_int_equal(mpx_list_insert(m, "l", 1, "x", 1), 6);
        assert_int_equal(mpx_list_insert(m, "l", -100, "first", 5), 7);
        assert_int_equal(mpx_list_insert(m, "l", 100, "last", 4), 8);
        assert_list_is(m, "l", "first,a,x,b,c,D,e,last");

        assert_int_equal(mpx_list_pop(m, "l", -1, &b), 0);
        assert_true(buf_is(&b, "last"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_list_pop(m, "l", 0, &b), 0);
        assert_true(buf_is(&b, "first"));
        mpx_buf_clear(&b);
        assert_int_equal(mpx_list_index(m, "l", "D", 1), 4);
        assert_int_equal(mpx_list_remove(m, "l", "x", 1), 0);
        assert_int_equal(mpx_list_index(m, "l", "D", 1), 3);
        assert_list_is(m, "l", "a,b,c,D,e");

        n = mpx_list_slice(m, "l", -3, -1, &items);
        assert_int_equal(n, 2);
        assert_true(buf_is(&items[0], "c") && buf_is(&items[1], "D"));
        mpx_bufs_free(items, (size_t) n);
        items = (mpx_buf *) 1;
        assert_int_equal(mpx_list_slice(m, "l", 4, 2, &items), 0);
        mpx_bufs_free(items, 0);

        /* Empty items. */
        assert_int_equal(mpx_list_append(m, "l", NULL, 0), 6);
        assert_int_equal(mpx_list_get(m, "l", 5, &b), 0);
        assert_non_null(b.data);
        assert_int_equal(b.size, 0);
        mpx_buf_clear(&b);
        assert_int_equal(mpx_list_index(m, "l", "", 0), 5);

        assert_int_equal(mpx_list_clear(m, "l"), 6);
        assert_int_equal(mpx_list_len(m, "l"), 0);
        assert_int_equal(mpx_list_clear(m, "l"), 0);
}

/* ---- 7. list errors ---- */

static void test_list_errors(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        size_t max = mpx_max_message(m);
        char *big = malloc(max + 1);
        mpx_buf b = { (void *) 1, 77 }, *items = (mpx_buf *) 2;
        struct iovec iov[5];

        assert_non_null(big);
        memset(big, 'x', max + 1);
        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        assert_int_equal(mpx_queue_declare(m, "q", 0, 0), 1);
        assert_int_equal(mpx_list_append(m, "l", "a", 1), 1);

        /* -ENOENT: no such list, no such item. */
        assert_int_equal(mpx_list_append(m, "nope", "a", 1), -ENOENT);
        assert_int_equal(mpx_list_extend(m, "nope", iov, 0), -ENOENT);
        assert_int_equal(mpx_list_get(m, "nope", 0, &b), -ENOENT);
        assert_int_equal(mpx_list_set(m, "nope", 0, "a", 1), -ENOENT);
        assert_int_equal(mpx_list_insert(m, "nope", 0, "a", 1), -ENOENT);
        assert_int_equal(mpx_list_pop(m, "nope", -1, &b), -ENOENT);
        assert_int_equal(mpx_list_remove(m, "nope", "a", 1), -ENOENT);
        assert_int_equal(mpx_list_remove(m, "l", "z", 1), -ENOENT);
        assert_int_equal(mpx_list_index(m, "nope", "a", 1), -ENOENT);
        assert_int_equal(mpx_list_index(m, "l", "z", 1), -ENOENT);
        assert_int_equal(mpx_list_len(m, "nope"), -ENOENT);
        assert_int_equal(mpx_list_slice(m, "nope", 0, MPX_SLICE_END, &items), -ENOENT);
        assert_int_equal(mpx_list_clear(m, "nope"), -ENOENT);

        /* -ERANGE: indexes out of range; insert never is. */
        assert_int_equal(mpx_list_get(m, "l", 1, &b), -ERANGE);
        assert_int_equal(mpx_list_get(m, "l", -2, &b), -ERANGE);
        assert_int_equal(mpx_list_set(m, "l", 1, "b", 1), -ERANGE);
        assert_int_equal(mpx_list_set(m, "l", INT64_MIN, "b", 1), -ERANGE);
        assert_int_equal(mpx_list_pop(m, "l", 1, &b), -ERANGE);
        assert_int_equal(mpx_list_pop(m, "l", -2, &b), -ERANGE);
        assert_true(b.data == (void *) 1 && b.size == 77 && items == (mpx_buf *) 2);
        assert_int_equal(mpx_list_insert(m, "l", INT64_MIN, "b", 1), 2);
        assert_int_equal(mpx_list_clear(m, "l"), 2);
        assert_int_equal(mpx_list_pop(m, "l", -1, &b), -ERANGE);
        assert_int_equal(mpx_list_get(m, "l", 0, &b), -ERANGE);

        /* -EPROTOTYPE. */
        static const char *const others[] = { "d", "q" };
        for (size_t i = 0; i < 2; i++) {
                const char *o = others[i];

                assert_int_equal(mpx_list_declare(m, o), -EPROTOTYPE);
                assert_int_equal(mpx_list_append(m, o, "a", 1), -EPROTOTYPE);
                assert_int_equal(mpx_list_extend(m, o, iov, 0), -EPROTOTYPE);
                assert_int_equal(mpx_list_get(m, o, 0, &b), -EPROTOTYPE);
                assert_int_equal(mpx_list_set(m, o, 0, "a", 1), -EPROTOTYPE);
                assert_int_equal(mpx_list_insert(m, o, 0, "a", 1), -EPROTOTYPE);
                assert_int_equal(mpx_list_pop(m, o, -1, &b), -EPROTOTYPE);
                assert_int_equal(mpx_list_remove(m, o, "a", 1), -EPROTOTYPE);
                assert_int_equal(mpx_list_index(m, o, "a", 1), -EPROTOTYPE);
                assert_int_equal(mpx_list_len(m, o), -EPROTOTYPE);
                assert_int_equal(mpx_list_slice(m, o, 0, MPX_SLICE_END, &items), -EPROTOTYPE);
                assert_int_equal(mpx_list_clear(m, o), -EPROTOTYPE);
        }

        /* -EMSGSIZE: an item over max_message, or an extend over one frame; nothing is added. */
        assert_int_equal(mpx_list_append(m, "l", big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_list_set(m, "l", 0, big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_list_insert(m, "l", 0, big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_list_remove(m, "l", big, max + 1), -EMSGSIZE);
        assert_int_equal(mpx_list_index(m, "l", big, max + 1), -EMSGSIZE);
        for (int i = 0; i < 5; i++)
                iov[i] = (struct iovec) { .iov_base = big, .iov_len = max };
        assert_int_equal(mpx_list_extend(m, "l", iov, 5), -EMSGSIZE);
        iov[0].iov_len = max + 1;
        assert_int_equal(mpx_list_extend(m, "l", iov, 1), -EMSGSIZE);
        assert_int_equal(mpx_list_len(m, "l"), 0);

        /* -EINVAL. */
        assert_int_equal(mpx_list_declare(m, "bad/ name"), -EINVAL);
        assert_int_equal(mpx_list_get(m, "l", 0, NULL), -EINVAL);
        assert_int_equal(mpx_list_pop(m, "l", 0, NULL), -EINVAL);
        assert_int_equal(mpx_list_slice(m, "l", 0, 1, NULL), -EINVAL);
        assert_int_equal(mpx_list_append(m, "l", NULL, 1), -EINVAL);
        assert_int_equal(mpx_list_extend(m, "l", NULL, 1), -EINVAL);
        assert_int_equal(mpx_list_append(NULL, "l", "a", 1), -EINVAL);

        assert_int_equal(mpx_ping(m), 0);
        assert_int_equal(mpx_list_append(m, "l", "ok", 2), 1);
        free(big);
}

/* ---- 8. slices and pages larger than a frame ---- */

static void test_large_values(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        const size_t size = 1024 * 1024;
        const int count = 24;
        char *item = malloc(size);
        mpx_buf *items = NULL, *keys = NULL, *values = NULL;
        int64_t req0, n;
        uint64_t cursor = 0;
        size_t got = 0, pages = 0;

        assert_non_null(item);
        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        for (int i = 0; i < count; i++) {
                char k[16];

                memset(item, 'a' + i, size);
                assert_int_equal(mpx_list_append(m, "l", item, size), i + 1);
                snprintf(k, sizeof(k), "k%02d", i);
                assert_int_equal(mpx_dict_set(m, "d", k, strlen(k), item, size), 0);
        }

        /* 24 MiB of items: several replies, each under half a frame (16 MiB), put back together. */
        req0 = harness_stat(m, "requests");
        n = mpx_list_slice(m, "l", 1, -1, &items);
        assert_int_equal(n, count - 2);
        assert_true(harness_stat(m, "requests") - req0 >= 1 + 3);
        for (int i = 0; i < n; i++) {
                assert_int_equal(items[i].size, size);
                assert_true(((char *) items[i].data)[0] == 'a' + i + 1);
                assert_true(((char *) items[i].data)[size - 1] == 'a' + i + 1);
        }
        mpx_bufs_free(items, (size_t) n);

        /* A dict page ends before half a frame too, however large max is. */
        do {
                size_t k = 0;

                assert_int_equal(mpx_dict_items(m, "d", cursor, 1000, MPX_DICT_ITEMS, &keys, &values, &k, &cursor),
                                 0);
                assert_true(k > 0 && k <= 8);
                for (size_t i = 0; i < k; i++)
                        assert_true(values[i].size == size && ((char *) values[i].data)[0] == 'a' + (int) (got + i));
                got += k;
                pages++;
                keys = mpx_bufs_free(keys, k);
                values = mpx_bufs_free(values, k);
        } while (cursor);
        assert_int_equal(got, count);
        assert_true(pages >= 3);
        free(item);
}

/* ---- 9. a daemon with a small max_message ---- */

static void test_small_max_message(void **state) {
        struct harness_fixture *f = *state;
        mpx *m = f->m;
        char buf[1025];
        mpx_buf b = { 0 };

        memset(buf, 'y', sizeof(buf));
        assert_int_equal(mpx_max_message(m), 1024);
        assert_int_equal(mpx_dict_declare(m, "d"), 1);
        assert_int_equal(mpx_list_declare(m, "l"), 1);
        assert_int_equal(mpx_dict_set(m, "d", buf, 1024, buf, 1024), 0);
        assert_int_equal(mpx_dict_set(m, "d", buf, 1025, "v", 1), -EMSGSIZE);
        assert_int_equal(mpx_dict_set(m, "d", "k", 1, buf, 1025), -EMSGSIZE);
        assert_int_equal(mpx_list_append(m, "l", buf, 1024), 1);
        assert_int_equal(mpx_list_append(m, "l", buf, 1025), -EMSGSIZE);
        assert_int_equal(mpx_dict_get(m, "d", buf, 1024, &b), 0);
        assert_int_equal(b.size, 1024);
        mpx_buf_clear(&b);
        assert_int_equal(mpx_dict_cas(m, "d", buf, 1024, buf, 1024, buf, 1025, NULL), -EMSGSIZE);
        assert_int_equal(mpx_dict_cas(m, "d", buf, 1024, buf, 1024, "z", 1, NULL), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_concurrent_incr),
                harness_test(test_concurrent_appends),
                harness_test(test_concurrent_splices),
                harness_test(test_list_splice),
                harness_test(test_listing_under_load),
                harness_test(test_dict_api),
                harness_test(test_dict_errors),
                harness_test(test_list_api),
                harness_test(test_list_errors),
                harness_test(test_large_values),
                harness_test_with(test_small_max_message, &small_options),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
