/* SPDX-License-Identifier: MIT */
/*
 * Counted objects (MPX_COUNTED, mpx_ref(), mpx_unref()) against a real mpxd:
 * an object lives while a connection or a reference in transit refers to
 * it, and is deleted when the last reference ends, whichever way it ends
 * (unref, a connection closed or a process killed, a lease run out), its
 * waiters answered -EIDRM; every type can be counted; the errors.
 *
 * Each test starts its own daemon and stops it in teardown, where a crash
 * or (with MPX_TEST_VALGRIND=1) a memory error or leak fails the test.
 * Deletions are observed through a get blocked on the object, never by
 * sleeping.
 */
#include <errno.h>
#include <setjmp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define WATCHDOG_S              120
#define WATCHDOG_VALGRIND_S     900

struct fixture {
        struct harness_daemon d;
        mpx *a, *b;                     /* two connections of the test's own */
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        harness_watchdog("test-ref", harness_under_valgrind() ? WATCHDOG_VALGRIND_S : WATCHDOG_S);
        harness_start(&f->d, NULL);
        f->a = harness_connect(&f->d);
        f->b = harness_connect(&f->d);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;
        int status;

        mpx_disconnect(f->a);
        mpx_disconnect(f->b);
        status = harness_stop(&f->d);
        free(f);
        alarm(0);
        assert_int_equal(status, 0);
        return 0;
}

static void on_done(mpx *m, int64_t result, void *userdata) {
        (void) m;
        *(int64_t *) userdata = result;
}

/* Queue a get that waits forever on name: its result lands in *result once the object is gone. */
static void park_get(mpx *m, const char *name, mpx_item *item, int64_t *result) {
        *result = 1;
        assert_true(mpx_queue_get_async(m, name, -1, item, on_done, result) > 0);
        /* A round trip after it: the get is parked in the daemon. */
        assert_int_equal(mpx_ping(m), 0);
        assert_int_equal(*result, 1);
}

/* Run m until the parked get has its result. */
static int64_t await_get(mpx *m, int64_t *result) {
        while (*result == 1) {
                struct pollfd p = { .fd = mpx_fd(m), .events = mpx_events(m) };

                assert_true(poll(&p, 1, -1) >= 0 || errno == EINTR);
                assert_true(mpx_process(m) >= 0 || *result != 1);
        }
        return *result;
}

/* A counted queue lives while either connection refers to it, and goes with the last. */
static void test_connections_refer(void **state) {
        struct fixture *f = *state;
        mpx *c = harness_connect(&f->d);
        mpx_item item;
        int64_t got;

        assert_int_equal(mpx_queue_declare(f->a, "q", 0, MPX_COUNTED), 1);
        assert_int_equal(harness_field(f->a, "q", "refs"), 1);
        /* Declaring it again, counted, refers to it too; a plain declare does not. */
        assert_int_equal(mpx_queue_declare(f->b, "q", 0, MPX_COUNTED), 0);
        assert_int_equal(mpx_queue_declare(f->b, "q", 0, 0), 0);
        assert_int_equal(harness_field(f->a, "q", "refs"), 2);
        assert_int_equal(mpx_queue_put(f->a, "q", "x", 1, 0), 0);

        /* A closes: the queue and its item stay, B refers to it. */
        f->a = mpx_disconnect(f->a);
        harness_wait_field(f->b, "q", "refs", 1);
        assert_int_equal(mpx_queue_qsize(f->b, "q"), 1);
        assert_int_equal(mpx_queue_get(f->b, "q", 0, &item), 0);
        mpx_item_clear(&item);

        /* C, which holds no reference, waits on it; B's unref is the last: C is told. */
        park_get(c, "q", &item, &got);
        assert_int_equal(mpx_unref(f->b, "q", 0), 1);
        assert_int_equal(await_get(c, &got), -EIDRM);
        assert_int_equal(mpx_queue_qsize(f->b, "q"), -ENOENT);
        mpx_disconnect(c);
}

static int child_declare_and_hang(void *arg) {
        const char *socket = arg;
        mpx *m;

        child_check(mpx_connect(socket, &m) == 0);
        child_check(mpx_queue_declare(m, "orphan", 0, MPX_COUNTED) == 1);
        /* Tell the parent, then wait to be killed. */
        child_check(mpx_queue_put(m, "ready", "", 0, 0) == 0);
        pause();
        return 0;
}

/* The only process that refers to an object is killed: the object goes. */
static void test_killed_holder(void **state) {
        struct fixture *f = *state;
        mpx_item item;
        int64_t got;
        pid_t pid;

        assert_int_equal(mpx_queue_declare(f->a, "ready", 0, 0), 1);
        pid = harness_fork(child_declare_and_hang, (void *) f->d.socket);
        assert_int_equal(mpx_queue_get(f->a, "ready", -1, &item), 0);
        mpx_item_clear(&item);
        assert_int_equal(harness_field(f->a, "orphan", "refs"), 1);
        park_get(f->a, "orphan", &item, &got);
        harness_kill(pid);
        assert_int_equal(await_get(f->a, &got), -EIDRM);
        assert_int_equal(mpx_queue_qsize(f->b, "orphan"), -ENOENT);
}

/* A reference in transit outlives its sender, and the receiver takes over. */
static void test_transit(void **state) {
        struct fixture *f = *state;
        uint64_t token = 0, token2 = 0;

        assert_int_equal(mpx_dict_declare_flags(f->a, "d", MPX_COUNTED), 1);
        assert_int_equal(mpx_dict_set(f->a, "d", "k", 1, "v", 1), 0);
        assert_int_equal(mpx_ref(f->a, "d", 60000, &token), 0);
        assert_true(token != 0);
        assert_int_equal(harness_field(f->a, "d", "refs"), 2);
        assert_int_equal(harness_field(f->a, "d", "refs_in_transit"), 1);
        f->a = mpx_disconnect(f->a);
        harness_wait_field(f->b, "d", "refs", 1);

        /* The receiver: its own reference, then the one in transit ends. */
        assert_int_equal(mpx_ref(f->b, "d", 0, &token2), 0);
        assert_true(token2 != token);
        assert_int_equal(mpx_unref(f->b, "d", token), 0);
        assert_int_equal(mpx_unref(f->b, "d", token), -ENOENT);
        assert_int_equal(harness_field(f->b, "d", "refs"), 1);
        assert_int_equal(harness_field(f->b, "d", "refs_in_transit"), 0);
        assert_int_equal(mpx_dict_contains(f->b, "d", "k", 1), 1);
        /* Its own reference, by its token this time. */
        assert_int_equal(mpx_unref(f->b, "d", token2), 1);
        assert_int_equal(mpx_dict_len(f->b, "d"), -ENOENT);
}

/* A reference in transit no one takes over runs out: the object goes. */
static void test_lease_runs_out(void **state) {
        struct fixture *f = *state;
        mpx_item item;
        int64_t got;

        assert_int_equal(mpx_queue_declare(f->a, "lease", 0, MPX_COUNTED), 1);
        assert_int_equal(mpx_ref(f->a, "lease", 50, NULL), 0);
        assert_int_equal(mpx_unref(f->a, "lease", 0), 0);
        park_get(f->b, "lease", &item, &got);
        assert_int_equal(await_get(f->b, &got), -EIDRM);
}

/* Every type can be counted; a delete ends its references with it. */
static void test_every_type(void **state) {
        struct fixture *f = *state;
        static const char *const names[] = { "q", "d", "l", "s", "e", "b", "v", "a" };
        int32_t zero = 0;

        assert_int_equal(mpx_queue_declare(f->a, "q", 0, MPX_QUEUE_JOINABLE | MPX_COUNTED), 1);
        assert_int_equal(mpx_dict_declare_flags(f->a, "d", MPX_COUNTED), 1);
        assert_int_equal(mpx_list_declare_flags(f->a, "l", MPX_COUNTED), 1);
        assert_int_equal(mpx_sem_declare(f->a, "s", 1, 0, MPX_COUNTED), 1);
        assert_int_equal(mpx_event_declare_flags(f->a, "e", MPX_COUNTED), 1);
        assert_int_equal(mpx_barrier_declare_flags(f->a, "b", 2, MPX_COUNTED), 1);
        assert_int_equal(mpx_value_declare_flags(f->a, "v", 'i', &zero, MPX_COUNTED), 1);
        assert_int_equal(mpx_array_declare_flags(f->a, "a", 'i', 4, NULL, MPX_COUNTED), 1);
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                assert_int_equal(harness_field(f->b, names[i], "refs"), 1);
                assert_int_equal(mpx_ref(f->b, names[i], 0, NULL), 0);
                assert_int_equal(mpx_ref(f->b, names[i], 1000, NULL), 0);
        }
        /* Deleted with references held and in transit: those end with it. */
        assert_int_equal(mpx_delete(f->a, "q"), 0);
        assert_int_equal(mpx_unref(f->b, "q", 0), -ENOENT);
        /* A's close is the daemon's to notice: wait for it. */
        f->a = mpx_disconnect(f->a);
        for (size_t i = 1; i < sizeof(names) / sizeof(names[0]); i++)
                harness_wait_field(f->b, names[i], "refs", 2);
        f->b = mpx_disconnect(f->b);
        /* The references in transit keep them until their lease: they are there still. */
        f->a = harness_connect(&f->d);
        harness_wait_field(f->a, "v", "refs", 1);
        assert_int_equal(harness_field(f->a, "v", "refs_in_transit"), 1);
}

static void test_errors(void **state) {
        struct fixture *f = *state;
        mpx_info info = { 0 };
        uint64_t token = 7;

        /* Counted and durable do not go together (checked by the library and by the daemon). */
        assert_int_equal(mpx_queue_declare(f->a, "x", 0, MPX_COUNTED | MPX_DURABLE), -EINVAL);
        assert_int_equal(mpx_event_declare_flags(f->a, "x", MPX_DURABLE), -EINVAL);
        assert_int_equal(mpx_queue_declare(f->a, "x", 0, MPX_COUNTED | MPX_QUEUE_CONNECTION), -EINVAL);
        /* References are for counted objects only. */
        assert_int_equal(mpx_queue_declare(f->a, "plain", 0, 0), 1);
        assert_int_equal(mpx_ref(f->a, "plain", 0, &token), -EINVAL);
        assert_int_equal(token, 7);
        assert_int_equal(mpx_unref(f->a, "plain", 0), -EINVAL);
        assert_int_equal(mpx_ref(f->a, "missing", 0, NULL), -ENOENT);
        assert_int_equal(mpx_unref(f->a, "missing", 0), -ENOENT);
        assert_int_equal(mpx_ref(f->a, "bad name", 0, NULL), -EINVAL);
        /* A counted object: a lease over a day, an unknown token, no reference of B's. */
        assert_int_equal(mpx_list_declare_flags(f->a, "c", MPX_COUNTED), 1);
        assert_int_equal(mpx_ref(f->a, "c", 86400001u, NULL), -EINVAL);
        assert_int_equal(mpx_unref(f->a, "c", 123456789), -ENOENT);
        assert_int_equal(mpx_unref(f->b, "c", 0), -ENOENT);
        /* A plain object declared counted afterwards stays plain. */
        assert_int_equal(mpx_queue_declare(f->a, "plain", 0, MPX_COUNTED), 0);
        assert_int_equal(mpx_object_info(f->a, "plain", &info), 0);
        assert_null(mpx_info_get(&info, "refs"));
        mpx_info_clear(&info);
        /* Its connection goes on. */
        assert_int_equal(mpx_ping(f->a), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_own_test(test_connections_refer),
                harness_own_test(test_killed_holder),
                harness_own_test(test_transit),
                harness_own_test(test_lease_runs_out),
                harness_own_test(test_every_type),
                harness_own_test(test_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
