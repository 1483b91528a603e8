/* SPDX-License-Identifier: MIT */
/*
 * libmpx's asynchronous interface against a real mpxd: every asynchronous
 * call completes with its synchronous twin's result; cancels racing with
 * wake-ups never lose or duplicate an item; a lost connection completes
 * each pending request exactly once; callbacks may call, cancel and
 * disconnect; pipelined puts report every failure; descriptors reach the
 * reply they came with; calls made of several requests (a slice, a job)
 * complete once, cancelled or cut short.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WATCHDOG_S              120
#define WATCHDOG_VALGRIND_S     900

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-async", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* ---- a completion that records what it was given ---- */

struct done {
        int calls;
        int64_t result;
};

static void on_done(mpx *m, int64_t result, void *userdata) {
        struct done *d = userdata;

        (void) m;
        d->calls++;
        d->result = result;
}

/* Run the connection in a poll loop until the completion has run; its result. */
static int64_t await(mpx *m, int64_t id, struct done *d) {
        if (id < 0)
                return id;
        while (d->calls == 0) {
                struct pollfd p = { .fd = mpx_fd(m), .events = mpx_events(m) };

                assert_true(poll(&p, 1, -1) >= 0 || errno == EINTR);
                assert_true(mpx_process(m) >= 0 || d->calls > 0);
        }
        assert_int_equal(d->calls, 1);
        return d->result;
}

/* ---- 1. every asynchronous call equals its synchronous twin ---- */

/*
 * A row makes one call, synchronously or not, on objects named after prefix
 * (so that the two runs do not meet), and describes what it wrote through
 * its out pointers in desc. Rows set up what they need first with ordinary
 * synchronous calls; the call under test is the last.
 */
struct twin_ctx {
        mpx *m;
        bool async;
        char n1[64], n2[64];            /* object names */
        char desc[256];
        struct done done;
        bool queued;                    /* the asynchronous call returned a request id */
};

#define TWIN(call, ...) \
        (c->async ? twin_await(c, call##_async(c->m, __VA_ARGS__, on_done, &c->done)) \
                  : (int64_t) call(c->m, __VA_ARGS__))

static int64_t twin_await(struct twin_ctx *c, int64_t id) {
        c->queued = id > 0;
        return await(c->m, id, &c->done);
}

static void describe(struct twin_ctx *c, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(c->desc, sizeof(c->desc), fmt, ap);
        va_end(ap);
}

static int64_t row_ping(struct twin_ctx *c) {
        return c->async ? twin_await(c, mpx_ping_async(c->m, on_done, &c->done)) : mpx_ping(c->m);
}

static int64_t row_queue_declare(struct twin_ctx *c) {
        return TWIN(mpx_queue_declare, c->n1, 10, MPX_QUEUE_JOINABLE);
}

static int64_t row_queue_declare_exists(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 10, 0);
        return TWIN(mpx_queue_declare, c->n1, 10, 0);
}

static int64_t row_queue_declare_other(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 10, 0);
        return TWIN(mpx_queue_declare, c->n1, 11, 0);
}

static int64_t row_queue_declare_bad_name(struct twin_ctx *c) {
        return TWIN(mpx_queue_declare, "bad name", 0, 0);
}

static int64_t row_queue_declare_ttr(struct twin_ctx *c) {
        return TWIN(mpx_queue_declare_ttr, c->n1, 0, MPX_QUEUE_JOINABLE, 5000);
}

static int64_t row_queue_put(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_queue_put, c->n1, "abc", 3, -1);
}

static int64_t row_queue_put_missing(struct twin_ctx *c) {
        return TWIN(mpx_queue_put, c->n1, "abc", 3, -1);
}

static int64_t row_queue_put_full(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 1, 0);
        mpx_queue_put(c->m, c->n1, "a", 1, 0);
        return TWIN(mpx_queue_put, c->n1, "b", 1, 0);
}

static int64_t row_queue_put_timeout(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 1, 0);
        mpx_queue_put(c->m, c->n1, "a", 1, 0);
        return TWIN(mpx_queue_put, c->n1, "b", 1, 20);
}

static int64_t row_queue_put_wrong_type(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 1, 0, 0);
        return TWIN(mpx_queue_put, c->n1, "b", 1, 0);
}

static int64_t row_queue_put_too_big(struct twin_ctx *c) {
        static char big[1];

        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_queue_put, c->n1, big, mpx_max_message(c->m) + 1, 0);
}

static int64_t row_queue_put_many(struct twin_ctx *c) {
        struct iovec v[2] = { { "x", 1 }, { "yy", 2 } };

        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_queue_put_many, c->n1, v, 2, 0);
}

static int64_t row_queue_get(struct twin_ctx *c) {
        mpx_item item = { .tag = 99 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "hello", 5, 0);
        r = TWIN(mpx_queue_get, c->n1, 0, &item);
        describe(c, "%zu:%.*s d=%u tagged=%d", item.size, (int) item.size, item.data ? (char *) item.data : "",
                 item.deliveries, item.tag != 0);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_get_empty(struct twin_ctx *c) {
        mpx_item item = { .tag = 99 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, 0);
        r = TWIN(mpx_queue_get, c->n1, 0, &item);
        describe(c, "untouched=%d", item.tag == 99 && item.data == NULL);
        return r;
}

static int64_t row_queue_get_closed(struct twin_ctx *c) {
        mpx_item item = { 0 };

        mpx_queue_declare(c->m, c->n1, 0, 0);
        mpx_queue_close(c->m, c->n1);
        return TWIN(mpx_queue_get, c->n1, -1, &item);
}

static int64_t row_queue_get_flags(struct twin_ctx *c) {
        mpx_item item = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "d", 1, 0);
        r = TWIN(mpx_queue_get_flags, c->n1, 0, MPX_GET_DETACH, &item);
        describe(c, "%zu", item.size);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_get_ttr(struct twin_ctx *c) {
        mpx_item item = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "t", 1, 0);
        r = TWIN(mpx_queue_get_ttr, c->n1, 0, 0, 60000, &item);
        describe(c, "%zu", item.size);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_get_many(struct twin_ctx *c) {
        struct iovec v[3] = { { "1", 1 }, { "22", 2 }, { "333", 3 } };
        mpx_item items[5] = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, 0);
        mpx_queue_put_many(c->m, c->n1, v, 3, 0);
        r = TWIN(mpx_queue_get_many, c->n1, items, 5, 0);
        describe(c, "%zu %zu %zu %p", items[0].size, items[1].size, items[2].size, items[3].data);
        for (int i = 0; i < 5; i++)
                mpx_item_clear(&items[i]);
        return r;
}

static int64_t row_queue_peek(struct twin_ctx *c) {
        mpx_item items[2] = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, 0);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        r = TWIN(mpx_queue_peek, c->n1, items, 2);
        describe(c, "%zu %p", items[0].size, items[1].data);
        mpx_item_clear(&items[0]);
        return r;
}

static int64_t row_queue_stat(struct twin_ctx *c) {
        mpx_queue_status st = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 7, 0);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        r = TWIN(mpx_queue_stat, c->n1, &st);
        describe(c, "%llu %llu %llu %d", (unsigned long long) st.size, (unsigned long long) st.maxsize,
                 (unsigned long long) st.unfinished, st.closed);
        return r;
}

static int64_t row_queue_qsize(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        mpx_queue_put(c->m, c->n1, "q", 1, 0);
        return TWIN(mpx_queue_qsize, c->n1);
}

static int64_t row_queue_qsize_missing(struct twin_ctx *c) {
        return TWIN(mpx_queue_qsize, c->n1);
}

static int64_t row_queue_empty(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_queue_empty, c->n1);
}

static int64_t row_queue_full(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 1, 0);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        return TWIN(mpx_queue_full, c->n1);
}

static int64_t row_queue_close(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_queue_close, c->n1);
}

static int64_t row_queue_purge(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        mpx_queue_put(c->m, c->n1, "q", 1, 0);
        return TWIN(mpx_queue_purge, c->n1);
}

static int64_t row_queue_task_done(struct twin_ctx *c) {
        mpx_item item = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        mpx_queue_get(c->m, c->n1, 0, &item);
        r = TWIN(mpx_queue_task_done, c->n1, item.tag);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_task_done_unknown(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        return TWIN(mpx_queue_task_done, c->n1, 12345);
}

static int64_t row_queue_done_get(struct twin_ctx *c) {
        mpx_item first = { 0 }, item = { .tag = 99 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "a", 1, 0);
        mpx_queue_put(c->m, c->n1, "bc", 2, 0);
        mpx_queue_get(c->m, c->n1, 0, &first);
        r = TWIN(mpx_queue_done_get, c->n1, first.tag, 0, 0, 0, &item);
        describe(c, "%zu:%.*s d=%u new tag=%d unfinished=%d", item.size, (int) item.size,
                 item.data ? (char *) item.data : "", item.deliveries, item.tag != first.tag,
                 mpx_queue_task_done(c->m, c->n1, first.tag));
        mpx_item_clear(&first);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_done_get_refused(struct twin_ctx *c) {
        mpx_item item = { .tag = 99 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "a", 1, 0);
        r = TWIN(mpx_queue_done_get, c->n1, 12345, 0, 0, 0, &item);
        describe(c, "tag=%d size=%lld", item.tag == 99, (long long) mpx_queue_qsize(c->m, c->n1));
        return r;
}

static int64_t row_queue_touch(struct twin_ctx *c) {
        mpx_item item = { 0 };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        mpx_queue_get_ttr(c->m, c->n1, 0, 0, 60000, &item);
        r = TWIN(mpx_queue_touch, c->n1, item.tag);
        mpx_item_clear(&item);
        return r;
}

static int64_t row_queue_join(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        return TWIN(mpx_queue_join, c->n1, 0);
}

static int64_t row_queue_join_unfinished(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        mpx_queue_put(c->m, c->n1, "p", 1, 0);
        return TWIN(mpx_queue_join, c->n1, 20);
}

static int64_t row_sem_declare(struct twin_ctx *c) {
        return TWIN(mpx_sem_declare, c->n1, 2, 2, 0);
}

static int64_t row_sem_acquire(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 1, 0, 0);
        return TWIN(mpx_sem_acquire, c->n1, 0);
}

static int64_t row_sem_acquire_busy(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 0, 0, 0);
        return TWIN(mpx_sem_acquire, c->n1, 0);
}

static int64_t row_sem_release(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 0, 1, 0);
        return TWIN(mpx_sem_release, c->n1);
}

static int64_t row_sem_release_over(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 1, 1, 0);
        return TWIN(mpx_sem_release, c->n1);
}

static int64_t row_sem_value(struct twin_ctx *c) {
        mpx_sem_declare(c->m, c->n1, 3, 0, 0);
        return TWIN(mpx_sem_value, c->n1);
}

static int64_t row_event_declare(struct twin_ctx *c) {
        return TWIN(mpx_event_declare, c->n1);
}

static int64_t row_event_set(struct twin_ctx *c) {
        mpx_event_declare(c->m, c->n1);
        return TWIN(mpx_event_set, c->n1);
}

static int64_t row_event_clear(struct twin_ctx *c) {
        mpx_event_declare(c->m, c->n1);
        return TWIN(mpx_event_clear, c->n1);
}

static int64_t row_event_is_set(struct twin_ctx *c) {
        mpx_event_declare(c->m, c->n1);
        mpx_event_set(c->m, c->n1);
        return TWIN(mpx_event_is_set, c->n1);
}

static int64_t row_event_wait(struct twin_ctx *c) {
        mpx_event_declare(c->m, c->n1);
        mpx_event_set(c->m, c->n1);
        return TWIN(mpx_event_wait, c->n1, -1);
}

static int64_t row_event_wait_timeout(struct twin_ctx *c) {
        mpx_event_declare(c->m, c->n1);
        return TWIN(mpx_event_wait, c->n1, 10);
}

static int64_t row_barrier_declare(struct twin_ctx *c) {
        return TWIN(mpx_barrier_declare, c->n1, 3);
}

static int64_t row_barrier_wait(struct twin_ctx *c) {
        mpx_barrier_declare(c->m, c->n1, 1);
        return TWIN(mpx_barrier_wait, c->n1, -1);
}

static int64_t row_barrier_wait_broken(struct twin_ctx *c) {
        mpx_barrier_declare(c->m, c->n1, 2);
        mpx_barrier_abort(c->m, c->n1);
        return TWIN(mpx_barrier_wait, c->n1, -1);
}

static int64_t row_barrier_reset(struct twin_ctx *c) {
        mpx_barrier_declare(c->m, c->n1, 2);
        return TWIN(mpx_barrier_reset, c->n1);
}

static int64_t row_barrier_abort(struct twin_ctx *c) {
        mpx_barrier_declare(c->m, c->n1, 2);
        return TWIN(mpx_barrier_abort, c->n1);
}

static int64_t row_value_declare(struct twin_ctx *c) {
        int32_t v = 7;

        return TWIN(mpx_value_declare, c->n1, 'i', &v);
}

static int64_t row_value_declare_flags(struct twin_ctx *c) {
        int32_t v = 7;

        return TWIN(mpx_value_declare_flags, c->n1, 'i', &v, 0);
}

static int64_t row_array_declare(struct twin_ctx *c) {
        return TWIN(mpx_array_declare, c->n1, 'd', 4, NULL);
}

static int64_t row_array_declare_flags(struct twin_ctx *c) {
        return TWIN(mpx_array_declare_flags, c->n1, 'd', 4, NULL, 0);
}

static int64_t row_array_get(struct twin_ctx *c) {
        int32_t init[3] = { 1, 2, 3 }, got[2] = { -1, -1 };
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 3, init);
        r = TWIN(mpx_array_get, c->n1, 'i', 1, 2, got);
        describe(c, "%d %d", got[0], got[1]);
        return r;
}

static int64_t row_array_get_range(struct twin_ctx *c) {
        int32_t got[2] = { -1, -1 };
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 3, NULL);
        r = TWIN(mpx_array_get, c->n1, 'i', 2, 2, got);
        describe(c, "%d %d", got[0], got[1]);
        return r;
}

static int64_t row_array_get_wrong_code(struct twin_ctx *c) {
        int64_t got = 0;

        mpx_array_declare(c->m, c->n1, 'i', 3, NULL);
        return TWIN(mpx_array_get, c->n1, 'q', 0, 1, &got);
}

static int64_t row_array_set(struct twin_ctx *c) {
        int32_t v[2] = { 5, 6 };

        mpx_array_declare(c->m, c->n1, 'i', 3, NULL);
        return TWIN(mpx_array_set, c->n1, 'i', 1, 2, v);
}

static int64_t row_array_add(struct twin_ctx *c) {
        int32_t init = 40, delta = 2, now = 0;
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 1, &init);
        r = TWIN(mpx_array_add, c->n1, 'i', 0, &delta, &now);
        describe(c, "%d", now);
        return r;
}

static int64_t row_array_cas(struct twin_ctx *c) {
        int32_t init = 1, expected = 1, desired = 9, old = 0;
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 1, &init);
        r = TWIN(mpx_array_cas, c->n1, 'i', 0, &expected, &desired, &old);
        describe(c, "%d", old);
        return r;
}

static int64_t row_array_cas_miss(struct twin_ctx *c) {
        int32_t init = 1, expected = 2, desired = 9, old = 0;
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 1, &init);
        r = TWIN(mpx_array_cas, c->n1, 'i', 0, &expected, &desired, &old);
        describe(c, "%d", old);
        return r;
}

static int64_t row_array_map(struct twin_ctx *c) {
        int32_t init[2] = { 11, 22 };
        mpx_map map = { 0 };
        int64_t r;

        mpx_array_declare(c->m, c->n1, 'i', 2, init);
        r = TWIN(mpx_array_map, c->n1, &map);
        describe(c, "%c %u %d", map.typecode, map.length, map.addr ? ((int32_t *) map.addr)[1] : -1);
        mpx_map_release(&map);
        return r;
}

static int64_t row_array_map_missing(struct twin_ctx *c) {
        mpx_map map = { 0 };

        return TWIN(mpx_array_map, c->n1, &map);
}

static int64_t row_pipe_open_timeout(struct twin_ctx *c) {
        int fd = -7;
        int64_t r;

        r = TWIN(mpx_pipe_open, c->n1, MPX_PIPE_READ, 10, &fd);
        describe(c, "%d", fd);
        return r;
}

static int64_t row_pipe_open_bad_mode(struct twin_ctx *c) {
        int fd = -7;

        return TWIN(mpx_pipe_open, c->n1, 9, 10, &fd);
}

static int64_t row_list_declare(struct twin_ctx *c) {
        return TWIN(mpx_list_declare, c->n1);
}

static int64_t row_list_declare_flags(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_list_declare_flags, c->n1, 0);
}

static int64_t row_list_append(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_append, c->n1, "b", 1);
}

static int64_t row_list_extend(struct twin_ctx *c) {
        struct iovec v[2] = { { "x", 1 }, { "yy", 2 } };

        mpx_list_declare(c->m, c->n1);
        return TWIN(mpx_list_extend, c->n1, v, 2);
}

static int64_t row_list_get(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "first", 5);
        r = TWIN(mpx_list_get, c->n1, -1, &b);
        describe(c, "%zu:%.*s", b.size, (int) b.size, b.data ? (char *) b.data : "");
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_list_get_range(struct twin_ctx *c) {
        mpx_buf b = { 0 };

        mpx_list_declare(c->m, c->n1);
        return TWIN(mpx_list_get, c->n1, 3, &b);
}

static int64_t row_list_set(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_set, c->n1, 0, "z", 1);
}

static int64_t row_list_insert(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_insert, c->n1, 0, "z", 1);
}

static int64_t row_list_pop(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        mpx_list_append(c->m, c->n1, "bc", 2);
        r = TWIN(mpx_list_pop, c->n1, -1, &b);
        describe(c, "%zu", b.size);
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_list_remove_missing(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        return TWIN(mpx_list_remove, c->n1, "q", 1);
}

static int64_t row_list_index(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        mpx_list_append(c->m, c->n1, "b", 1);
        return TWIN(mpx_list_index, c->n1, "b", 1);
}

static int64_t row_list_len(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_len, c->n1);
}

static int64_t row_list_clear(struct twin_ctx *c) {
        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_clear, c->n1);
}

static int64_t row_dict_declare(struct twin_ctx *c) {
        return TWIN(mpx_dict_declare, c->n1);
}

static int64_t row_dict_declare_flags(struct twin_ctx *c) {
        return TWIN(mpx_dict_declare_flags, c->n1, 0);
}

static int64_t row_dict_set(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_dict_set, c->n1, "k", 1, "v", 1);
}

static int64_t row_dict_get(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "value", 5);
        r = TWIN(mpx_dict_get, c->n1, "k", 1, &b);
        describe(c, "%zu:%.*s", b.size, (int) b.size, b.data ? (char *) b.data : "");
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_dict_get_missing(struct twin_ctx *c) {
        mpx_buf b = { 0 };

        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_dict_get, c->n1, "k", 1, &b);
}

static int64_t row_dict_del(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "v", 1);
        return TWIN(mpx_dict_del, c->n1, "k", 1);
}

static int64_t row_dict_contains(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "v", 1);
        return TWIN(mpx_dict_contains, c->n1, "k", 1);
}

static int64_t row_dict_len(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "v", 1);
        return TWIN(mpx_dict_len, c->n1);
}

static int64_t row_dict_pop(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "vv", 2);
        r = TWIN(mpx_dict_pop, c->n1, "k", 1, &b);
        describe(c, "%zu", b.size);
        mpx_buf_clear(&b);
        return r;
}

/* The key inserted last goes, even when an earlier key was overwritten since. */
static int64_t row_dict_popitem(struct twin_ctx *c) {
        mpx_buf k = { 0 }, v = { 0 };
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "a", 1, "1", 1);
        mpx_dict_set(c->m, c->n1, "bb", 2, "22", 2);
        mpx_dict_set(c->m, c->n1, "a", 1, "111", 3);
        r = TWIN(mpx_dict_popitem, c->n1, &k, &v);
        describe(c, "%.*s=%.*s %lld", (int) k.size, k.data ? (char *) k.data : "", (int) v.size,
                 v.data ? (char *) v.data : "", (long long) mpx_dict_len(c->m, c->n1));
        mpx_buf_clear(&k);
        mpx_buf_clear(&v);
        return r;
}

static int64_t row_dict_popitem_empty(struct twin_ctx *c) {
        mpx_buf k = { 0 }, v = { 0 };

        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_dict_popitem, c->n1, &k, &v);
}

static int64_t row_dict_setdefault(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        r = TWIN(mpx_dict_setdefault, c->n1, "k", 1, "dflt", 4, &b);
        describe(c, "%zu", b.size);
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_dict_update(struct twin_ctx *c) {
        struct iovec k[2] = { { "a", 1 }, { "b", 1 } }, v[2] = { { "1", 1 }, { "2", 1 } };

        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_dict_update, c->n1, k, v, 2);
}

static int64_t row_dict_clear(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "v", 1);
        return TWIN(mpx_dict_clear, c->n1);
}

static int64_t row_dict_incr(struct twin_ctx *c) {
        int64_t v = 0, r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "n", 1, "40", 2);
        r = TWIN(mpx_dict_incr, c->n1, "n", 1, 2, &v);
        describe(c, "%lld", (long long) v);
        return r;
}

static int64_t row_dict_incr_not_number(struct twin_ctx *c) {
        int64_t v = 0;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "n", 1, "x", 1);
        return TWIN(mpx_dict_incr, c->n1, "n", 1, 2, &v);
}

static int64_t row_dict_cas(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "k", 1, "old", 3);
        r = TWIN(mpx_dict_cas, c->n1, "k", 1, "other", 5, "new", 3, &b);
        describe(c, "%zu:%.*s", b.size, (int) b.size, b.data ? (char *) b.data : "");
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_dict_items(struct twin_ctx *c) {
        mpx_buf *keys = NULL, *values = NULL;
        uint64_t next = 99;
        size_t n = 0;
        int64_t r;

        mpx_dict_declare(c->m, c->n1);
        mpx_dict_set(c->m, c->n1, "a", 1, "1", 1);
        mpx_dict_set(c->m, c->n1, "bb", 2, "22", 2);
        mpx_dict_set(c->m, c->n1, "ccc", 3, "333", 3);
        r = TWIN(mpx_dict_items, c->n1, 0, 2, MPX_DICT_ITEMS, &keys, &values, &n, &next);
        describe(c, "%zu %s %zu %zu next=%d", n, keys ? "keys" : "-", keys ? keys[1].size : 0,
                 values ? values[1].size : 0, next != 0);
        mpx_bufs_free(keys, n);
        mpx_bufs_free(values, n);
        return r;
}

static int64_t row_delete(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_delete, c->n1);
}

static int64_t row_delete_missing(struct twin_ctx *c) {
        return TWIN(mpx_delete, c->n1);
}

static int64_t row_chmod(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_chmod, c->n1, 0600);
}

static int64_t row_chmod_bad_mode(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_chmod, c->n1, 010000);
}

static int64_t row_chown(struct twin_ctx *c) {
        mpx_dict_declare(c->m, c->n1);
        return TWIN(mpx_chown, c->n1, (uid_t) -1, (gid_t) -1);
}

static int64_t row_list_slice(struct twin_ctx *c) {
        mpx_buf *items = NULL;
        int64_t r;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        mpx_list_append(c->m, c->n1, "bb", 2);
        mpx_list_append(c->m, c->n1, "ccc", 3);
        r = TWIN(mpx_list_slice, c->n1, -2, MPX_SLICE_END, &items);
        describe(c, "%zu %zu", r > 0 ? items[0].size : 0, r > 1 ? items[1].size : 0);
        mpx_bufs_free(items, r > 0 ? (size_t) r : 0);
        return r;
}

/* Items of half a message each: the slice takes several reply frames, so several requests. */
static int64_t row_list_slice_pages(struct twin_ctx *c) {
        size_t size = mpx_max_message(c->m) / 2, total = 0;
        mpx_buf *items = NULL;
        char *big = calloc(1, size);
        int64_t r;

        assert_non_null(big);
        mpx_list_declare(c->m, c->n1);
        for (int i = 0; i < 7; i++) {
                memset(big, 'a' + i, size);
                mpx_list_append(c->m, c->n1, big, size);
        }
        free(big);
        r = TWIN(mpx_list_slice, c->n1, 1, 6, &items);
        for (int64_t i = 0; i < r; i++)
                total += items[i].size;
        describe(c, "%zu %c%c", total, r > 0 ? *(char *) items[0].data : '-',
                 r > 4 ? *(char *) items[4].data : '-');
        mpx_bufs_free(items, r > 0 ? (size_t) r : 0);
        return r;
}

static int64_t row_list_slice_missing(struct twin_ctx *c) {
        mpx_buf *items = NULL;

        return TWIN(mpx_list_slice, c->n1, 0, MPX_SLICE_END, &items);
}

static int64_t row_list_slice_bad_name(struct twin_ctx *c) {
        mpx_buf *items = NULL;

        return TWIN(mpx_list_slice, "bad name", 0, MPX_SLICE_END, &items);
}

static const char *const sleeper[] = { "/bin/sleep", "600", NULL };

static int64_t row_pool_start(struct twin_ctx *c) {
        int64_t r = TWIN(mpx_pool_start, c->n1, 1, MPX_RESTART_NEVER, sleeper);

        mpx_pool_stop(c->m, c->n1, 0);
        return r;
}

static int64_t row_pool_start_again(struct twin_ctx *c) {
        int64_t r;

        mpx_pool_start(c->m, c->n1, 1, MPX_RESTART_NEVER, sleeper);
        r = TWIN(mpx_pool_start, c->n1, 1, MPX_RESTART_NEVER, sleeper);
        mpx_pool_stop(c->m, c->n1, 0);
        return r;
}

static int64_t row_pool_start_bad_workers(struct twin_ctx *c) {
        return TWIN(mpx_pool_start, c->n1, 0, MPX_RESTART_NEVER, sleeper);
}

static int64_t row_pool_scale(struct twin_ctx *c) {
        int64_t r;

        mpx_pool_start(c->m, c->n1, 1, MPX_RESTART_NEVER, sleeper);
        r = TWIN(mpx_pool_scale, c->n1, 2);
        mpx_pool_stop(c->m, c->n1, 0);
        return r;
}

static int64_t row_pool_scale_missing(struct twin_ctx *c) {
        return TWIN(mpx_pool_scale, c->n1, 2);
}

/*
 * How many workers a signal reaches depends on how far they have started,
 * which differs from one run to the other: the row compares success only.
 */
static int64_t row_pool_signal(struct twin_ctx *c) {
        int64_t r;

        mpx_pool_start(c->m, c->n1, 1, MPX_RESTART_NEVER, sleeper);
        r = TWIN(mpx_pool_signal, c->n1, SIGCONT);
        mpx_pool_stop(c->m, c->n1, 0);
        return r < 0 ? r : 0;
}

static int64_t row_pool_signal_bad(struct twin_ctx *c) {
        return TWIN(mpx_pool_signal, c->n1, 0);
}

static int64_t row_pool_stop(struct twin_ctx *c) {
        mpx_pool_start(c->m, c->n1, 2, MPX_RESTART_NEVER, sleeper);
        return TWIN(mpx_pool_stop, c->n1, 0);
}

static int64_t row_pool_stop_missing(struct twin_ctx *c) {
        return TWIN(mpx_pool_stop, c->n1, 0);
}

static int64_t row_job_submit(struct twin_ctx *c) {
        mpx_job job = { .result_queue = "" };
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        r = TWIN(mpx_job_submit, c->n1, "work", 4, &job);
        describe(c, "%s %lld", job.result_queue[0] ? "named" : "-",
                 (long long) mpx_queue_qsize(c->m, c->n1));
        if (job.result_queue[0])
                mpx_delete(c->m, job.result_queue);
        return r;
}

/* The job queue is missing: the submission fails and its result queue is gone again. */
static int64_t row_job_submit_missing(struct twin_ctx *c) {
        mpx_info *items = NULL;
        size_t before = 0, after = 0;
        uint64_t next;
        mpx_job job;
        int64_t r;

        mpx_list_objects(c->m, 0, 0, "queue", &items, &before, &next);
        mpx_objects_free(items, before);
        r = TWIN(mpx_job_submit, c->n1, "work", 4, &job);
        mpx_list_objects(c->m, 0, 0, "queue", &items, &after, &next);
        mpx_objects_free(items, after);
        describe(c, "%zd", (ssize_t) (after - before));
        return r;
}

/* A result put the way a worker puts it (docs/PROTOCOL.md, "Jobs"): i32 status 0, then the bytes. */
static int64_t row_job_wait(struct twin_ctx *c) {
        static const char result[] = "\0\0\0\0done";
        mpx_buf b = { 0 };
        mpx_job job;
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        assert_int_equal(mpx_job_submit(c->m, c->n1, "work", 4, &job), 0);
        mpx_queue_put(c->m, job.result_queue, result, sizeof(result) - 1, 0);
        r = TWIN(mpx_job_wait, &job, 0, &b);
        describe(c, "%zu:%.*s %d", b.size, (int) b.size, b.data ? (char *) b.data : "",
                 mpx_queue_qsize(c->m, job.result_queue) == -ENOENT);
        mpx_buf_clear(&b);
        return r;
}

static int64_t row_job_wait_failed(struct twin_ctx *c) {
        static const char result[] = "\xfe\xff\xff\xff";        /* -2: -ENOENT from the handler */
        mpx_buf b = { 0 };
        mpx_job job;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        assert_int_equal(mpx_job_submit(c->m, c->n1, "work", 4, &job), 0);
        mpx_queue_put(c->m, job.result_queue, result, sizeof(result) - 1, 0);
        return TWIN(mpx_job_wait, &job, 0, &b);
}

static int64_t row_job_wait_none_yet(struct twin_ctx *c) {
        mpx_buf b = { 0 };
        mpx_job job;
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_QUEUE_JOINABLE);
        assert_int_equal(mpx_job_submit(c->m, c->n1, "work", 4, &job), 0);
        r = TWIN(mpx_job_wait, &job, 0, &b);
        mpx_delete(c->m, job.result_queue);
        return r;
}

static int64_t row_object_info(struct twin_ctx *c) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 7, 0);
        r = TWIN(mpx_object_info, c->n1, &info);
        f = mpx_info_get(&info, "maxsize");
        describe(c, "%s %s %lld", info.name && strcmp(info.name, c->n1) == 0 ? "named" : "-",
                 info.type ? info.type : "-", f ? (long long) f->num : -1LL);
        mpx_info_clear(&info);
        return r;
}

static int64_t row_object_info_missing(struct twin_ctx *c) {
        mpx_info info = { 0 };

        return TWIN(mpx_object_info, c->n1, &info);
}

/* The first barrier ever made is the same for both runs. */
static int64_t row_list_objects(struct twin_ctx *c) {
        mpx_info *items = NULL;
        uint64_t next = 0;
        size_t n = 0;
        int64_t r;

        mpx_barrier_declare(c->m, c->n1, 2);
        r = TWIN(mpx_list_objects, 0, 1, "barrier", &items, &n, &next);
        describe(c, "%zu %s %s next=%d", n, n ? items[0].name : "-", n ? items[0].type : "-", next != 0);
        mpx_objects_free(items, n);
        return r;
}

static int64_t row_list_objects_bad_type(struct twin_ctx *c) {
        mpx_info *items = NULL;
        uint64_t next;
        size_t n;

        return TWIN(mpx_list_objects, 0, 0, "no-such-type", &items, &n, &next);
}

static int64_t row_stats(struct twin_ctx *c) {
        mpx_info info = { 0 };
        int64_t r;

        r = TWIN(mpx_stats, &info);
        describe(c, "%d %d", mpx_info_get(&info, "version") != NULL, mpx_info_get(&info, "clients") != NULL);
        mpx_info_clear(&info);
        return r;
}

/* A page of one entry: field lists with no name nor type. */
static int64_t row_clients(struct twin_ctx *c) {
        mpx_info *items = NULL;
        uint64_t next = 0;
        size_t n = 0;
        int64_t r;

        r = TWIN(mpx_clients, 0, 1, &items, &n, &next);
        describe(c, "%zu %d %d", n, n && mpx_info_get(&items[0], "pid") != NULL, n && items[0].name == NULL);
        mpx_objects_free(items, n);
        return r;
}

static int64_t row_users(struct twin_ctx *c) {
        mpx_info *items = NULL;
        uint64_t next = 0;
        size_t n = 0;
        int64_t r;

        r = TWIN(mpx_users, 0, 1, &items, &n, &next);
        describe(c, "%zu %d", n, n && mpx_info_get(&items[0], "uid") != NULL);
        mpx_objects_free(items, n);
        return r;
}

static int64_t row_event_declare_flags(struct twin_ctx *c) {
        return TWIN(mpx_event_declare_flags, c->n1, MPX_COUNTED);
}

static int64_t row_event_declare_durable(struct twin_ctx *c) {
        return TWIN(mpx_event_declare_flags, c->n1, MPX_DURABLE);
}

static int64_t row_barrier_declare_flags(struct twin_ctx *c) {
        return TWIN(mpx_barrier_declare_flags, c->n1, 3, MPX_COUNTED);
}

static int64_t row_ref(struct twin_ctx *c) {
        uint64_t token = 0;
        int64_t r;

        mpx_queue_declare(c->m, c->n1, 0, MPX_COUNTED);
        r = TWIN(mpx_ref, c->n1, 1000, &token);
        describe(c, "%d", token != 0);
        return r;
}

static int64_t row_ref_plain(struct twin_ctx *c) {
        uint64_t token = 0;

        mpx_queue_declare(c->m, c->n1, 0, 0);
        return TWIN(mpx_ref, c->n1, 0, &token);
}

static int64_t row_unref(struct twin_ctx *c) {
        mpx_queue_declare(c->m, c->n1, 0, MPX_COUNTED);
        mpx_ref(c->m, c->n1, 0, NULL);
        return TWIN(mpx_unref, c->n1, 0);
}

static int64_t row_unref_last(struct twin_ctx *c) {
        mpx_dict_declare_flags(c->m, c->n1, MPX_COUNTED);
        return TWIN(mpx_unref, c->n1, 0);
}

static int64_t row_unref_unknown(struct twin_ctx *c) {
        mpx_dict_declare_flags(c->m, c->n1, MPX_COUNTED);
        return TWIN(mpx_unref, c->n1, 999999);
}

static int64_t row_list_slice_version(struct twin_ctx *c) {
        mpx_buf *items = NULL;
        uint64_t v1 = 0, v2 = 0;
        int64_t r;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        mpx_list_slice_version(c->m, c->n1, 0, 0, &items, &v1);
        mpx_bufs_free(items, 0);
        items = NULL;
        r = TWIN(mpx_list_slice_version, c->n1, 0, MPX_SLICE_END, &items, &v2);
        describe(c, "%d", v1 == v2 && v2 != 0);
        mpx_bufs_free(items, r > 0 ? (size_t) r : 0);
        return r;
}

static int64_t row_list_splice(struct twin_ctx *c) {
        struct iovec two[2] = { { "x", 1 }, { "yy", 2 } };
        uint64_t v = 0;
        int64_t r;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        mpx_list_append(c->m, c->n1, "b", 1);
        r = TWIN(mpx_list_splice, c->n1, 0, 1, 0, two, 2, &v);
        describe(c, "%lld %d", (long long) mpx_list_len(c->m, c->n1), v != 0);
        return r;
}

static int64_t row_list_splice_stale(struct twin_ctx *c) {
        uint64_t v = 0;

        mpx_list_declare(c->m, c->n1);
        mpx_list_append(c->m, c->n1, "a", 1);
        return TWIN(mpx_list_splice, c->n1, 0, MPX_SLICE_END, 1, NULL, 0, &v);
}

static int64_t row_barrier_declare_timeout(struct twin_ctx *c) {
        return TWIN(mpx_barrier_declare_timeout, c->n1, 2, MPX_BARRIER_ACTION, 1500);
}

static int64_t row_barrier_declare_timeout_other(struct twin_ctx *c) {
        mpx_barrier_declare_timeout(c->m, c->n1, 2, 0, 1500);
        return TWIN(mpx_barrier_declare_timeout, c->n1, 2, 0, 1000);
}

/* The only party of a barrier of one with an action: it holds the round, and passes it. */
static int64_t row_barrier_pass(struct twin_ctx *c) {
        mpx_barrier_declare_flags(c->m, c->n1, 1, MPX_BARRIER_ACTION);
        describe(c, "%d", mpx_barrier_wait(c->m, c->n1, MPX_TIMEOUT_DEFAULT));
        return TWIN(mpx_barrier_pass, c->n1);
}

static int64_t row_barrier_pass_not_held(struct twin_ctx *c) {
        mpx_barrier_declare_flags(c->m, c->n1, 2, MPX_BARRIER_ACTION);
        return TWIN(mpx_barrier_pass, c->n1);
}

static const struct twin_row {
        const char *name;
        int64_t (*run)(struct twin_ctx *c);
} twin_rows[] = {
#define ROW(n) { #n, row_##n }
        ROW(ping),
        ROW(queue_declare), ROW(queue_declare_exists), ROW(queue_declare_other), ROW(queue_declare_bad_name),
        ROW(queue_declare_ttr), ROW(queue_put), ROW(queue_put_missing), ROW(queue_put_full),
        ROW(queue_put_timeout), ROW(queue_put_wrong_type), ROW(queue_put_too_big), ROW(queue_put_many),
        ROW(queue_get), ROW(queue_get_empty), ROW(queue_get_closed), ROW(queue_get_flags), ROW(queue_get_ttr),
        ROW(queue_get_many), ROW(queue_peek), ROW(queue_stat), ROW(queue_qsize), ROW(queue_qsize_missing),
        ROW(queue_empty), ROW(queue_full), ROW(queue_close), ROW(queue_purge), ROW(queue_task_done),
        ROW(queue_task_done_unknown), ROW(queue_done_get), ROW(queue_done_get_refused), ROW(queue_touch), ROW(queue_join), ROW(queue_join_unfinished),
        ROW(sem_declare), ROW(sem_acquire), ROW(sem_acquire_busy), ROW(sem_release), ROW(sem_release_over),
        ROW(sem_value),
        ROW(event_declare), ROW(event_set), ROW(event_clear), ROW(event_is_set), ROW(event_wait),
        ROW(event_wait_timeout),
        ROW(barrier_declare), ROW(barrier_wait), ROW(barrier_wait_broken), ROW(barrier_reset), ROW(barrier_abort),
        ROW(value_declare), ROW(value_declare_flags), ROW(array_declare), ROW(array_declare_flags),
        ROW(array_get), ROW(array_get_range), ROW(array_get_wrong_code), ROW(array_set), ROW(array_add),
        ROW(array_cas), ROW(array_cas_miss), ROW(array_map), ROW(array_map_missing),
        ROW(pipe_open_timeout), ROW(pipe_open_bad_mode),
        ROW(list_declare), ROW(list_declare_flags), ROW(list_append), ROW(list_extend), ROW(list_get),
        ROW(list_get_range), ROW(list_set), ROW(list_insert), ROW(list_pop), ROW(list_remove_missing),
        ROW(list_index), ROW(list_len), ROW(list_clear),
        ROW(dict_declare), ROW(dict_declare_flags), ROW(dict_set), ROW(dict_get), ROW(dict_get_missing),
        ROW(dict_del), ROW(dict_contains), ROW(dict_len), ROW(dict_pop), ROW(dict_popitem), ROW(dict_popitem_empty), ROW(dict_setdefault), ROW(dict_update),
        ROW(dict_clear), ROW(dict_incr), ROW(dict_incr_not_number), ROW(dict_cas), ROW(dict_items),
        ROW(delete), ROW(delete_missing), ROW(chmod), ROW(chmod_bad_mode), ROW(chown),
        ROW(list_slice), ROW(list_slice_pages), ROW(list_slice_missing), ROW(list_slice_bad_name),
        ROW(pool_start), ROW(pool_start_again), ROW(pool_start_bad_workers), ROW(pool_scale),
        ROW(pool_scale_missing), ROW(pool_signal), ROW(pool_signal_bad), ROW(pool_stop), ROW(pool_stop_missing),
        ROW(job_submit), ROW(job_submit_missing), ROW(job_wait), ROW(job_wait_failed), ROW(job_wait_none_yet),
        ROW(object_info), ROW(object_info_missing), ROW(list_objects), ROW(list_objects_bad_type), ROW(stats),
        ROW(clients), ROW(users),
        ROW(event_declare_flags), ROW(event_declare_durable), ROW(barrier_declare_flags), ROW(ref),
        ROW(ref_plain), ROW(unref), ROW(unref_last), ROW(unref_unknown), ROW(list_slice_version),
        ROW(list_splice), ROW(list_splice_stale), ROW(barrier_declare_timeout),
        ROW(barrier_declare_timeout_other), ROW(barrier_pass), ROW(barrier_pass_not_held),
#undef ROW
};

static void test_twins(void **state) {
        struct harness_fixture *f = *state;
        size_t errors = 0;

        for (size_t i = 0; i < sizeof(twin_rows) / sizeof(twin_rows[0]); i++) {
                struct twin_ctx sync = { .m = f->m }, async = { .m = f->m, .async = true };
                int64_t rs, ra;

                snprintf(sync.n1, sizeof(sync.n1), "s.%s", twin_rows[i].name);
                snprintf(async.n1, sizeof(async.n1), "a.%s", twin_rows[i].name);
                rs = twin_rows[i].run(&sync);
                ra = twin_rows[i].run(&async);
                if (rs != ra || strcmp(sync.desc, async.desc) != 0) {
                        fprintf(stderr, "%s: synchronous %lld (%s) '%s', asynchronous %lld (%s) '%s'\n",
                                twin_rows[i].name, (long long) rs, mpx_strerror((int) rs), sync.desc,
                                (long long) ra, mpx_strerror((int) ra), async.desc);
                        errors++;
                }
                /* A call refused before anything was queued runs no callback. */
                assert_int_equal(async.done.calls, async.queued ? 1 : 0);
        }
        assert_int_equal(errors, 0);
        /* Every request completed, nothing is left pending. */
        assert_int_equal(mpx_pending(f->m), 0);
}

/* ---- 2. cancels racing with wake-ups ---- */

#define RACE_GETS 3000
#define RACE_ITEMS 1500

struct race_get {
        mpx_item item;
        int64_t id;
        int calls;
        int64_t result;
        bool cancel_sent;               /* a CANCEL went out while it was pending */
};

static void on_race_get(mpx *m, int64_t result, void *userdata) {
        struct race_get *g = userdata;

        (void) m;
        g->calls++;
        g->result = result;
}

static int race_producer(void *arg) {
        const char *socket = arg;
        mpx *m;

        child_check(mpx_connect(socket, &m) == 0);
        for (int i = 0; i < RACE_ITEMS; i++) {
                char text[16];
                int n = snprintf(text, sizeof(text), "%d", i);

                child_check(mpx_queue_put(m, "race", text, (size_t) n, -1) == 0);
        }
        mpx_disconnect(m);
        return 0;
}

/* The number an item carries as text (items are not NUL-terminated); -1 for anything else. */
static int item_number(const mpx_item *item) {
        char text[16] = "";
        long v;

        if (item->size == 0 || item->size >= sizeof(text))
                return -1;
        memcpy(text, item->data, item->size);
        v = strtol(text, NULL, 10);
        return v >= 0 && v < RACE_ITEMS ? (int) v : -1;
}

static void test_cancel_races_with_puts(void **state) {
        struct harness_fixture *f = *state;
        struct race_get *gets = calloc(RACE_GETS, sizeof(*gets));
        int *seen = calloc(RACE_ITEMS, sizeof(*seen));
        int delivered = 0, cancelled = 0, left = 0, served_first = 0;
        mpx_item item;
        pid_t pid;

        assert_non_null(gets);
        assert_non_null(seen);
        assert_int_equal(mpx_queue_declare(f->m, "race", 0, 0), 1);
        for (int i = 0; i < RACE_GETS; i++) {
                gets[i].id = mpx_queue_get_async(f->m, "race", -1, &gets[i].item, on_race_get, &gets[i]);
                assert_true(gets[i].id > 0);
        }
        assert_int_equal(mpx_flush(f->m), 0);
        harness_wait_field(f->m, "race", "getters", RACE_GETS);
        pid = harness_fork(race_producer, f->d.socket);
        /* Cancel every get while the items come in: each ends either way, exactly once. */
        for (int i = 0; i < RACE_GETS; i++) {
                int r = mpx_cancel(f->m, gets[i].id);

                assert_true(r == 0 || (r == -ENOENT && gets[i].calls == 1));
                gets[i].cancel_sent = r == 0;
                /* A round trip now and then paces the cancels to the producer's puts. */
                if (i % 4 == 0)
                        assert_int_equal(mpx_ping(f->m), 0);
        }
        while (mpx_pending(f->m) > 0) {
                struct pollfd p = { .fd = mpx_fd(f->m), .events = mpx_events(f->m) };

                assert_true(poll(&p, 1, -1) >= 0);
                assert_true(mpx_process(f->m) >= 0);
        }
        assert_int_equal(harness_wait(pid), 0);
        for (int i = 0; i < RACE_GETS; i++) {
                assert_int_equal(gets[i].calls, 1);
                if (gets[i].result == -ECANCELED) {
                        cancelled++;
                        continue;
                }
                assert_int_equal(gets[i].result, 0);
                assert_true(item_number(&gets[i].item) >= 0);
                seen[item_number(&gets[i].item)]++;
                delivered++;
                served_first += gets[i].cancel_sent;
                mpx_item_clear(&gets[i].item);
        }
        while (mpx_queue_get(f->m, "race", 0, &item) == 0) {
                assert_true(item_number(&item) >= 0);
                seen[item_number(&item)]++;
                left++;
                mpx_item_clear(&item);
        }
        for (int i = 0; i < RACE_ITEMS; i++)
                assert_int_equal(seen[i], 1);
        assert_int_equal(delivered + cancelled, RACE_GETS);
        assert_int_equal(delivered + left, RACE_ITEMS);
        fprintf(stderr, "race: %d items delivered to gets (%d of them after their cancel was sent), "
                "%d cancelled, %d left in the queue\n", delivered, served_first, cancelled, left);
        free(gets);
        free(seen);
}

/* A get served before its cancel arrives hands its item over: never swallowed. */
static void test_cancel_after_serve_delivers(void **state) {
        struct harness_fixture *f = *state;
        struct done d = { 0 };
        mpx_item item = { 0 };
        int64_t id;

        assert_int_equal(mpx_queue_declare(f->m, "served", 0, 0), 1);
        assert_int_equal(mpx_queue_put(f->m, "served", "kept", 4, 0), 0);
        id = mpx_queue_get_async(f->m, "served", -1, &item, on_done, &d);
        assert_true(id > 0);
        /* The CANCEL follows the GET on the wire: the daemon has served the GET by then. */
        assert_int_equal(mpx_cancel(f->m, id), 0);
        assert_int_equal(await(f->m, id, &d), 0);
        assert_int_equal(item.size, 4);
        assert_memory_equal(item.data, "kept", 4);
        mpx_item_clear(&item);
        /* Once completed, there is nothing to cancel; a synchronous request cannot be named. */
        assert_int_equal(mpx_cancel(f->m, id), -ENOENT);
        assert_int_equal(mpx_cancel(f->m, 0), -EINVAL);
        assert_int_equal(mpx_pending(f->m), 0);
}

/* ---- 3. the connection lost with requests in flight ---- */

static int lost_calls, lost_resets, lost_after_free;
static bool lost_freed;

static void on_lost(mpx *m, int64_t result, void *userdata) {
        (void) m;
        (void) userdata;
        lost_calls++;
        if (result == -ECONNRESET)
                lost_resets++;
        if (lost_freed)
                lost_after_free++;
}

static void test_connection_lost(void **state) {
        struct harness_fixture *f = *state;
        mpx_item items[100];
        int status;

        assert_int_equal(mpx_queue_declare(f->m, "lost", 0, 0), 1);
        for (int i = 0; i < 100; i++)
                assert_true(mpx_queue_get_async(f->m, "lost", -1, &items[i], on_lost, NULL) > 0);
        assert_int_equal(mpx_flush(f->m), 0);
        harness_wait_field(f->m, "lost", "getters", 100);
        /* Some requests sent, some only queued when the daemon dies. */
        for (int i = 0; i < 20; i++)
                assert_true(mpx_sem_value_async(f->m, "nothing", on_lost, NULL) > 0);
        assert_int_equal(kill(f->d.pid, SIGKILL), 0);
        assert_int_equal(waitpid(f->d.pid, &status, 0), f->d.pid);
        f->running = false;
        while (mpx_process(f->m) >= 0) {
                struct pollfd p = { .fd = mpx_fd(f->m), .events = mpx_events(f->m) };

                if (p.events == 0)
                        break;
                assert_true(poll(&p, 1, -1) >= 0);
        }
        assert_int_equal(lost_calls, 120);
        assert_int_equal(lost_resets, 120);
        assert_int_equal(mpx_pending(f->m), 0);
        /* Later calls fail at once and queue nothing. */
        assert_int_equal(mpx_queue_get_async(f->m, "lost", -1, &items[0], on_lost, NULL), -ECONNRESET);
        assert_int_equal(mpx_ping(f->m), -ECONNRESET);
        f->m = mpx_disconnect(f->m);
        lost_freed = true;
        assert_int_equal(lost_after_free, 0);
        assert_int_equal(lost_calls, 120);
        /* The daemon's folder is left for the harness to remove. */
        daemon_stop(&f->d);
}

/* mpx_disconnect() ends what is pending, once each, before it returns. */
static void test_disconnect_pending(void **state) {
        struct harness_fixture *f = *state;
        struct done d[10] = { 0 };
        mpx_item items[10];

        assert_int_equal(mpx_queue_declare(f->m, "parked", 0, 0), 1);
        for (int i = 0; i < 10; i++)
                assert_true(mpx_queue_get_async(f->m, "parked", -1, &items[i], on_done, &d[i]) > 0);
        f->m = mpx_disconnect(f->m);
        for (int i = 0; i < 10; i++) {
                assert_int_equal(d[i].calls, 1);
                assert_int_equal(d[i].result, -ECONNRESET);
        }
}

/* ---- 4. callbacks that call, and disconnect ---- */

struct reentry {
        int calls;
        int64_t qsize_inside;
        bool disconnect;
        mpx **owner;
};

static void on_reentry(mpx *m, int64_t result, void *userdata) {
        struct reentry *e = userdata;

        assert_int_equal(result, 0);
        e->calls++;
        if (e->disconnect) {
                *e->owner = mpx_disconnect(m);
                return;
        }
        /* A synchronous call inside a callback runs the connection itself. */
        e->qsize_inside = mpx_queue_qsize(m, "reentry");
}

static void test_callbacks_call_and_disconnect(void **state) {
        struct harness_fixture *f = *state;
        struct reentry e = { .owner = &f->m };
        struct done later = { 0 }, pong = { 0 };
        mpx_item spare;

        assert_int_equal(mpx_queue_declare(f->m, "reentry", 0, 0), 1);
        assert_true(mpx_queue_put_async(f->m, "reentry", "a", 1, -1, on_reentry, &e) > 0);
        assert_true(mpx_queue_put_async(f->m, "reentry", "b", 1, -1, on_done, &later) > 0);
        /* Replies of requests that do not wait come in order: the ping's comes last. */
        assert_int_equal(await(f->m, mpx_ping_async(f->m, on_done, &pong), &pong), 0);
        assert_int_equal(e.calls, 1);
        assert_int_equal(later.calls, 1);
        assert_true(e.qsize_inside >= 1);

        /* A callback that disconnects: the rest complete with -ECONNRESET, and mpx_process() returns. */
        e.disconnect = true;
        later = (struct done) { 0 };
        assert_true(mpx_queue_put_async(f->m, "reentry", "c", 1, -1, on_reentry, &e) > 0);
        assert_true(mpx_queue_get_async(f->m, "nothing", -1, &spare, on_done, &later) > 0);
        while (f->m) {
                struct pollfd p = { .fd = mpx_fd(f->m), .events = mpx_events(f->m) };

                assert_true(poll(&p, 1, -1) >= 0);
                mpx_process(f->m);
        }
        assert_int_equal(e.calls, 2);
        assert_int_equal(later.calls, 1);
}

/* ---- 5. pipelined puts ---- */

static void test_pipelined_puts(void **state) {
        struct harness_fixture *f = *state;
        mpx_item item;

        assert_int_equal(mpx_queue_declare(f->m, "pipelined", 0, 0), 1);
        assert_int_equal(mpx_pipeline(f->m, 1), 0);
        for (int i = 0; i < 20000; i++) {
                char text[16];
                int n = snprintf(text, sizeof(text), "%d", i);

                assert_int_equal(mpx_queue_put(f->m, "pipelined", text, (size_t) n, -1), 0);
        }
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "pipelined"), 20000);
        /* In order. */
        for (int i = 0; i < 3; i++) {
                char text[16];
                int n = snprintf(text, sizeof(text), "%d", i);

                assert_int_equal(mpx_queue_get(f->m, "pipelined", 0, &item), 0);
                assert_int_equal(item.size, n);
                assert_memory_equal(item.data, text, (size_t) n);
                mpx_item_clear(&item);
        }

        /* A failure is kept and reported once: by mpx_flush() ... */
        assert_int_equal(mpx_queue_put(f->m, "no-such-queue", "x", 1, -1), 0);
        assert_int_equal(mpx_flush(f->m), -ENOENT);
        assert_int_equal(mpx_flush(f->m), 0);
        /* ... or by the next pipelined put, which is then not made. */
        assert_int_equal(mpx_queue_put(f->m, "no-such-queue", "x", 1, -1), 0);
        assert_int_equal(mpx_ping(f->m), 0);
        assert_int_equal(mpx_queue_put(f->m, "pipelined", "skipped", 7, -1), -ENOENT);
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "pipelined"), 19997);
        /* A put with a timeout still answers for itself. */
        assert_int_equal(mpx_queue_put(f->m, "no-such-queue", "x", 1, 0), -ENOENT);
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(mpx_pipeline(f->m, 0), 0);
        assert_int_equal(mpx_queue_put(f->m, "no-such-queue", "x", 1, -1), -ENOENT);
}

static int bounded_consumer(void *arg) {
        const char *socket = arg;
        mpx_item item;
        mpx *m;

        child_check(mpx_connect(socket, &m) == 0);
        for (int i = 0; i < 5000; i++) {
                char text[16];
                int n = snprintf(text, sizeof(text), "%d", i);

                child_check(mpx_queue_get(m, "bounded", -1, &item) == 0);
                child_check(item.size == (size_t) n && memcmp(item.data, text, (size_t) n) == 0);
                mpx_item_clear(&item);
        }
        mpx_disconnect(m);
        return 0;
}

/* Pipelined puts on a bounded queue wait in the daemon, in order, and none is lost. */
static void test_pipelined_bounded(void **state) {
        struct harness_fixture *f = *state;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->m, "bounded", 8, 0), 1);
        pid = harness_fork(bounded_consumer, f->d.socket);
        assert_int_equal(mpx_pipeline(f->m, 1), 0);
        for (int i = 0; i < 5000; i++) {
                char text[16];
                int n = snprintf(text, sizeof(text), "%d", i);

                assert_int_equal(mpx_queue_put(f->m, "bounded", text, (size_t) n, -1), 0);
        }
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "bounded"), 0);
}

/*
 * Gathered puts (mpx_pipeline_batch()) stay in the library until a batch is
 * complete, another call is made, or mpx_flush(): another connection sees
 * them only then. A failure among them is still reported.
 */
static void test_pipelined_batch(void **state) {
        struct harness_fixture *f = *state;
        mpx *other = harness_connect(&f->d);

        assert_int_equal(mpx_pipeline_batch(f->m, 4097), -EINVAL);
        assert_int_equal(mpx_queue_declare(f->m, "gather", 0, 0), 1);
        assert_int_equal(mpx_pipeline_batch(f->m, 16), 0);
        for (int i = 0; i < 5; i++)
                assert_int_equal(mpx_queue_put(f->m, "gather", "g", 1, -1), 0);
        /* Five of sixteen: nothing was written. */
        assert_true(mpx_events(f->m) & POLLOUT);
        assert_int_equal(mpx_queue_qsize(other, "gather"), 0);
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(mpx_queue_qsize(other, "gather"), 5);

        /* The sixteenth put writes the batch; a round trip of the same connection orders the check. */
        for (int i = 0; i < 16; i++)
                assert_int_equal(mpx_queue_put(f->m, "gather", "g", 1, -1), 0);
        assert_false(mpx_events(f->m) & POLLOUT);
        assert_int_equal(mpx_ping(f->m), 0);
        assert_int_equal(mpx_queue_qsize(other, "gather"), 21);

        /* Any other call writes what was gathered before its own request. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(mpx_queue_put(f->m, "gather", "g", 1, -1), 0);
        assert_int_equal(mpx_queue_qsize(f->m, "gather"), 24);

        /* A put that fails among gathered ones is reported by the next put or by mpx_flush(). */
        assert_int_equal(mpx_queue_put(f->m, "missing", "g", 1, -1), 0);
        assert_int_equal(mpx_flush(f->m), -ENOENT);
        assert_int_equal(mpx_flush(f->m), 0);
        assert_int_equal(mpx_pipeline(f->m, 0), 0);
        mpx_disconnect(other);
}

/* ---- 6. descriptors reach their replies; the events a loop waits for ---- */

static void test_descriptor_after_other_replies(void **state) {
        struct harness_fixture *f = *state;
        int32_t init[2] = { 5, 6 };

        assert_int_equal(mpx_array_declare(f->m, "mapped", 'i', 2, init), 1);
        for (int i = 0; i < 200; i++) {
                struct done dg = { 0 }, dm = { 0 };
                int32_t got[2];
                mpx_map map = { 0 };

                /* The two replies are likely to come in one read, the descriptor with the second. */
                assert_true(mpx_array_get_async(f->m, "mapped", 'i', 0, 2, got, on_done, &dg) > 0);
                assert_true(mpx_array_map_async(f->m, "mapped", &map, on_done, &dm) > 0);
                assert_int_equal(await(f->m, 1, &dm), 0);
                assert_int_equal(dg.calls, 1);
                assert_int_equal(dg.result, 0);
                assert_int_equal(((int32_t *) map.addr)[1], 6);
                mpx_map_release(&map);
        }
}

static short watched[8];
static int n_watched;

static void on_watch(mpx *m, short events, void *userdata) {
        (void) m;
        (void) userdata;
        if (n_watched < 8)
                watched[n_watched] = events;
        n_watched++;
}

static void test_events_and_watch(void **state) {
        struct harness_fixture *f = *state;
        struct done d = { 0 };

        assert_int_equal(mpx_events(f->m), POLLIN);
        assert_int_equal(mpx_set_watch(f->m, on_watch, NULL), 0);
        assert_int_equal(n_watched, 1);
        assert_int_equal(watched[0], POLLIN);
        assert_true(mpx_ping_async(f->m, on_done, &d) > 0);
        assert_int_equal(mpx_events(f->m), POLLIN | POLLOUT);
        assert_int_equal(n_watched, 2);
        assert_int_equal(watched[1], POLLIN | POLLOUT);
        assert_int_equal(mpx_pending(f->m), 1);
        assert_int_equal(await(f->m, 1, &d), 0);
        assert_int_equal(mpx_events(f->m), POLLIN);
        assert_int_equal(n_watched, 3);
        assert_int_equal(watched[2], POLLIN);
        assert_int_equal(mpx_set_watch(f->m, NULL, NULL), 0);
        /* Without a callback nothing is queued. */
        assert_int_equal(mpx_ping_async(f->m, NULL, NULL), -EINVAL);
        assert_int_equal(mpx_pending(f->m), 0);
        assert_int_equal(mpx_ping(f->m), 0);
}

/*
 * mpx_send() writes what is queued and reads nothing: the puts are out
 * (no POLLOUT), their callbacks have not run, and mpx_process() runs them
 * once the replies are read; the items are in the queue, in order.
 */
static void test_send_only(void **state) {
        struct harness_fixture *f = *state;
        struct done d[3] = { { 0 } };
        mpx_item it = { 0 };

        assert_int_equal(mpx_queue_declare(f->m, "sendonly", 0, 0), 1);
        for (int i = 0; i < 3; i++) {
                char c = (char) ('a' + i);

                assert_true(mpx_queue_put_async(f->m, "sendonly", &c, 1, -1, on_done, &d[i]) > 0);
                assert_int_equal(mpx_send(f->m), 0);
                assert_int_equal(mpx_events(f->m), POLLIN);
                assert_int_equal(d[i].calls, 0);
        }
        assert_int_equal(mpx_pending(f->m), 3);
        assert_int_equal(await(f->m, 3, &d[2]), 0);
        assert_int_equal(d[0].calls + d[1].calls, 2);
        assert_int_equal(d[0].result | d[1].result, 0);
        for (int i = 0; i < 3; i++) {
                assert_int_equal(mpx_queue_get(f->m, "sendonly", 0, &it), 0);
                assert_int_equal(((const char *) it.data)[0], 'a' + i);
                mpx_item_clear(&it);
        }
        assert_int_equal(mpx_send(NULL), -EINVAL);
        assert_int_equal(mpx_send(f->m), 0);    /* nothing queued */
}

/* ---- 7. calls made of several requests ---- */

/*
 * A job wait is a get, then a delete: cancelling its id ends the wait, the
 * job stays (its result queue is there for a later wait), and the callback
 * runs once. A slice of several pages and a job submission cut short by
 * mpx_disconnect() complete once, with -ECONNRESET, and leave nothing behind
 * (valgrind checks the chains' memory).
 */
static void test_chains(void **state) {
        struct harness_fixture *f = *state;
        struct done wait = { 0 }, slice = { 0 }, submit = { 0 };
        size_t size = mpx_max_message(f->m) / 2;
        mpx_buf b = { 0 }, *items = NULL;
        mpx_job job, job2, kept;
        char *big = calloc(1, size);
        int64_t id;

        assert_non_null(big);
        assert_int_equal(mpx_queue_declare(f->m, "chain.jobs", 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_job_submit(f->m, "chain.jobs", "work", 4, &job), 0);
        id = mpx_job_wait_async(f->m, &job, -1, &b, on_done, &wait);
        assert_true(id > 0);
        /* The caller's job may go at once: the wait keeps its own copy. */
        kept = job;
        memset(&job, 0, sizeof(job));
        assert_int_equal(mpx_ping(f->m), 0);
        assert_int_equal(mpx_cancel(f->m, id), 0);
        assert_int_equal(await(f->m, id, &wait), -ECANCELED);
        assert_null(b.data);
        assert_int_equal(mpx_queue_qsize(f->m, kept.result_queue), 0);

        assert_int_equal(mpx_list_declare(f->m, "chain.list"), 1);
        for (int i = 0; i < 5; i++)
                assert_true(mpx_list_append(f->m, "chain.list", big, size) > 0);
        free(big);
        assert_true(mpx_list_slice_async(f->m, "chain.list", 0, MPX_SLICE_END, &items, on_done, &slice) > 0);
        assert_true(mpx_job_submit_async(f->m, "chain.jobs", "more", 4, &job2, on_done, &submit) > 0);
        f->m = mpx_disconnect(f->m);
        assert_int_equal(slice.calls, 1);
        assert_int_equal(slice.result, -ECONNRESET);
        assert_null(items);
        assert_int_equal(submit.calls, 1);
        assert_int_equal(submit.result, -ECONNRESET);
        assert_int_equal(wait.calls, 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_twins),
                harness_test(test_cancel_races_with_puts),
                harness_test(test_cancel_after_serve_delivers),
                harness_test(test_connection_lost),
                harness_test(test_disconnect_pending),
                harness_test(test_callbacks_call_and_disconnect),
                harness_test(test_pipelined_puts),
                harness_test(test_pipelined_bounded),
                harness_test(test_pipelined_batch),
                harness_test(test_descriptor_after_other_replies),
                harness_test(test_events_and_watch),
                harness_test(test_send_only),
                harness_test(test_chains),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
