/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd under memory exhaustion in uthash: every HASH_ADD site
 * of the daemon is made to fail (hash_fail_countdown, see hash.h) at the
 * allocation of a new table or of a bucket expansion, and the request must
 * be answered ENOMEM with the state as it was (counts, bytes, contents,
 * serials and tags, user accounting); the same request then succeeds once
 * allocations do. valgrind (make check-valgrind) checks that nothing leaks.
 *
 * Covered: DECLARE of each object type but pools (the registry's table made
 * and expanded), a pipe made by PIPE_OPEN, dict SET (either of its two tables failing, the first add
 * undone) and UPDATE (a batch failing halfway, every key linked so far
 * unlinked), a joinable queue's delivery of GET and of a parked getter, the
 * set of logged permission denials, and a client whose user cannot be
 * created.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "hash.h"
#include "mpxd.h"
#include "object.h"
#include "perm.h"
#include "user.h"
#include "unit-client.h"

/* Enough distinct keys in one table that a bucket reaches uthash's expansion threshold. */
#define MANY 1000

static int oom_teardown(void **state) {
        hash_fail_countdown = 0;
        return unit_teardown(state);
}

/* The status of a DECLARE whose body is built from fmt; created must be 1 when OK. */
static uint16_t declare_status(struct client *c, uint16_t op, const char *fmt, ...) {
        struct wire_buf b;
        struct reply rep;
        va_list ap;
        uint8_t created;

        wire_buf_init(&b);
        va_start(ap, fmt);
        append_request_v(&b, HELPER_ID, op, fmt, ap);
        va_end(ap);
        feed_buf(c, &b);
        take_reply_at(c, &rep, __FILE__, __LINE__);
        if (rep.h.status == WIRE_OK) {
                assert_true(wire_get_u8(&rep.r, &created));
                assert_int_equal(created, 1);
        }
        return rep.h.status;
}

/* Declare name as the type of op (the body after the name is per type). */
static uint16_t declare_any(struct client *c, uint16_t op, const char *name) {
        switch (op) {
        case WIRE_OP_QUEUE_DECLARE:
                return declare_status(c, op, "nqw", name, (uint64_t) 0, WIRE_QUEUE_JOINABLE);
        case WIRE_OP_SEM_DECLARE:
                return declare_status(c, op, "nqqw", name, (uint64_t) 1, (uint64_t) 0, 0u);
        case WIRE_OP_BARRIER_DECLARE:
                return declare_status(c, op, "nw", name, 2u);
        case WIRE_OP_ARRAY_DECLARE:
                return declare_status(c, op, "nbwwx", name, (unsigned) 'i', 4u, 0u, (const void *) "", (size_t) 0);
        default:
                return declare_status(c, op, "n", name);
        }
}

/* ---- the registry of names (object.c) ---- */

static void test_declare_each_type(void **state) {
        static const uint16_t ops[] = {
                WIRE_OP_QUEUE_DECLARE, WIRE_OP_DICT_DECLARE, WIRE_OP_LIST_DECLARE, WIRE_OP_SEM_DECLARE,
                WIRE_OP_EVENT_DECLARE, WIRE_OP_BARRIER_DECLARE, WIRE_OP_ARRAY_DECLARE,
        };
        struct client *a = client_add(*state, "a");
        uint64_t bytes = mpxd.bytes_held;

        for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
                uint64_t serial = mpxd.next_serial;

                /* No object: the first one makes the table (two allocations, either may fail). */
                assert_null(mpxd.objects);
                for (unsigned nth = 1; nth <= 2; nth++) {
                        hash_fail_countdown = nth;
                        assert_int_equal(declare_any(a, ops[i], "o"), WIRE_ENOMEM);
                        assert_int_equal(hash_fail_countdown, 0);
                        assert_null(mpxd.objects);
                        assert_null(object_find("o", 1));
                        assert_int_equal(mpxd.n_objects, 0);
                        assert_true(TAILQ_EMPTY(&mpxd.objects_ordered));
                        assert_int_equal(mpxd.next_serial, serial);
                        assert_int_equal(client_shared(a)->user->n_objects, 0);
                        assert_int_equal(mpxd.bytes_held, bytes);
                }
                assert_int_equal(declare_any(a, ops[i], "o"), WIRE_OK);
                assert_int_equal(mpxd.n_objects, 1);
                assert_int_equal(client_shared(a)->user->n_objects, 1);
                expect_empty(a, WIRE_OP_DELETE, "n", "o");
                assert_int_equal(client_shared(a)->user->n_objects, 0);
        }
        assert_int_equal(mpxd.bytes_held, bytes);
}

static void test_declare_expansion(void **state) {
        struct client *a = client_add(*state, "a");
        char name[32];
        unsigned n;

        /* The table exists; armed once, the first declare that needs an allocation, an expansion, fails. */
        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, "first"), WIRE_OK);
        hash_fail_countdown = 1;
        for (n = 0; n < MANY; n++) {
                snprintf(name, sizeof(name), "d%u", n);
                if (declare_any(a, WIRE_OP_DICT_DECLARE, name) == WIRE_ENOMEM)
                        break;
        }
        assert_true(n > 0 && n < MANY);
        assert_int_equal(hash_fail_countdown, 0);
        assert_int_equal(mpxd.n_objects, n + 1);
        assert_int_equal(HASH_COUNT(mpxd.objects), n + 1);
        assert_int_equal(client_shared(a)->user->n_objects, n + 1);
        assert_int_equal(mpxd.next_serial, n + 1);
        assert_null(object_find(name, strlen(name)));
        for (unsigned i = 0; i < n; i++) {
                char other[32];

                snprintf(other, sizeof(other), "d%u", i);
                assert_non_null(object_find(other, strlen(other)));
        }
        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, name), WIRE_OK);
        assert_int_equal(mpxd.n_objects, n + 2);
        assert_int_equal(client_shared(a)->user->n_objects, n + 2);
        assert_int_equal(mpxd.next_serial, n + 2);
}

/* A pipe is registered by the first PIPE_OPEN that waits on its name. */
static void test_pipe_open(void **state) {
        struct client *a = client_add(*state, "a");

        for (unsigned nth = 1; nth <= 2; nth++) {
                hash_fail_countdown = nth;
                send_request(a, 1, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_DUPLEX, (int64_t) 60000);
                assert_status(a, 1, WIRE_OP_PIPE_OPEN, WIRE_ENOMEM);
                assert_null(mpxd.objects);
                assert_int_equal(mpxd.n_objects, 0);
                assert_int_equal(client_shared(a)->user->n_objects, 0);
                assert_true(TAILQ_EMPTY(&client_shared(a)->waiters));
        }
        /* Now it waits for a partner, on a pipe that exists. */
        send_request(a, 2, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_DUPLEX, (int64_t) 60000);
        assert_no_reply(a);
        assert_non_null(object_find("p", 1));
        assert_int_equal(client_shared(a)->user->n_objects, 1);
        assert_false(TAILQ_EMPTY(&client_shared(a)->waiters));
}

/* ---- dict.c: two tables per dict ---- */

static uint64_t dict_len(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_DICT_LEN, "n", name);

        return read_u64_at(&rep, __FILE__, __LINE__);
}

static void get_is(struct client *c, const char *name, const char *key, const char *value) {
        struct reply rep = call(c, WIRE_OP_DICT_GET, "ns", name, key);

        check_bytes_at(&rep, value, strlen(value), __FILE__, __LINE__);
}

static void test_dict_set_new_tables(void **state) {
        struct client *a = client_add(*state, "a");
        uint64_t bytes = mpxd.bytes_held, user_bytes = client_shared(a)->user->bytes, charges = client_shared(a)->user->n_charges;

        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, "d"), WIRE_OK);
        /* 1, 2: the table by key; 3, 4: the table by serial, after the add by key is undone. */
        for (unsigned nth = 1; nth <= 4; nth++) {
                hash_fail_countdown = nth;
                expect(WIRE_ENOMEM, a, WIRE_OP_DICT_SET, "nss", "d", "k", "v");
                assert_int_equal(hash_fail_countdown, 0);
                assert_int_equal(dict_len(a, "d"), 0);
                expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "k");
                assert_int_equal(info_field_at(a, "d", WIRE_TYPE_DICT, "bytes", __FILE__, __LINE__), 0);
                assert_int_equal(mpxd.bytes_held, bytes);
                assert_int_equal(client_shared(a)->user->bytes, user_bytes);
                assert_int_equal(client_shared(a)->user->n_charges, charges);
        }
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", "k", "v");
        get_is(a, "d", "k", "v");
        assert_int_equal(dict_len(a, "d"), 1);
        assert_int_equal(mpxd.bytes_held, bytes + 2 + dict_entry_overhead);
        assert_int_equal(client_shared(a)->user->bytes, user_bytes + 2 + dict_entry_overhead);
}

static void test_dict_set_expansion(void **state) {
        struct client *a = client_add(*state, "a");
        char key[32];
        uint64_t bytes = 0;
        unsigned n;

        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, "d"), WIRE_OK);
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", "first", "1");
        hash_fail_countdown = 1;
        for (n = 0; n < MANY; n++) {
                struct reply rep;

                snprintf(key, sizeof(key), "k%u", n);
                bytes = mpxd.bytes_held;
                rep = call(a, WIRE_OP_DICT_SET, "nss", "d", key, "v");
                if (rep.h.status == WIRE_ENOMEM)
                        break;
                check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        }
        assert_true(n < MANY);
        assert_int_equal(dict_len(a, "d"), n + 1);
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", key);
        assert_int_equal(mpxd.bytes_held, bytes);
        assert_int_equal(client_shared(a)->user->bytes, bytes);
        get_is(a, "d", "first", "1");
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", key, "v");
        get_is(a, "d", key, "v");
        assert_int_equal(dict_len(a, "d"), n + 2);
}

/* UPDATE d with MANY new keys (and one of them twice, and one key present). */
static uint16_t update_many(struct client *c) {
        struct wire_buf body;
        struct reply rep;
        char key[32];

        wire_buf_init(&body);
        assert_int_equal(wire_put_name(&body, "d", 1), 0);
        assert_int_equal(wire_put_u32(&body, MANY + 2), 0);
        assert_int_equal(wire_put_bytes(&body, "old", 3), 0);
        assert_int_equal(wire_put_bytes(&body, "new", 3), 0);
        for (unsigned i = 0; i < MANY; i++) {
                int len = snprintf(key, sizeof(key), "k%u", i);

                assert_int_equal(wire_put_bytes(&body, key, (uint32_t) len), 0);
                assert_int_equal(wire_put_bytes(&body, "v", 1), 0);
        }
        assert_int_equal(wire_put_bytes(&body, "k1", 2), 0);
        assert_int_equal(wire_put_bytes(&body, "again", 5), 0);
        send_body(c, HELPER_ID, WIRE_OP_DICT_UPDATE, body.data, body.len);
        wire_buf_done(&body);
        take_reply_at(c, &rep, __FILE__, __LINE__);
        return rep.h.status;
}

static void test_dict_update_halfway(void **state) {
        struct client *a = client_add(*state, "a");
        uint64_t bytes;
        int64_t sets;

        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, "d"), WIRE_OK);
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", "old", "1");
        bytes = mpxd.bytes_held;
        sets = info_field_at(a, "d", WIRE_TYPE_DICT, "sets", __FILE__, __LINE__);

        /* The tables exist: the one allocation is an expansion, some hundreds of keys in. */
        hash_fail_countdown = 1;
        assert_int_equal(update_many(a), WIRE_ENOMEM);
        assert_int_equal(hash_fail_countdown, 0);
        assert_int_equal(dict_len(a, "d"), 1);
        get_is(a, "d", "old", "1");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "k0");
        expect(WIRE_ENOENT, a, WIRE_OP_DICT_GET, "ns", "d", "k1");
        assert_int_equal(mpxd.bytes_held, bytes);
        assert_int_equal(client_shared(a)->user->bytes, bytes);
        assert_int_equal(info_field_at(a, "d", WIRE_TYPE_DICT, "bytes", __FILE__, __LINE__), bytes);
        assert_int_equal(info_field_at(a, "d", WIRE_TYPE_DICT, "sets", __FILE__, __LINE__), sets);

        assert_int_equal(update_many(a), WIRE_OK);
        assert_int_equal(dict_len(a, "d"), MANY + 1);
        get_is(a, "d", "old", "new");
        get_is(a, "d", "k0", "v");
        get_is(a, "d", "k1", "again");
        /* The keys kept the order of the batch: after "old", k0 comes first. */
        {
                struct reply items = call(a, WIRE_OP_DICT_ITEMS, "nqwb", "d", (uint64_t) 0, 2u,
                                          (unsigned) WIRE_DICT_KEYS);
                uint64_t next;
                uint32_t count, size;
                const void *data;

                check_status_at(&items, WIRE_OK, __FILE__, __LINE__);
                assert_true(wire_get_u64(&items.r, &next) && wire_get_u32(&items.r, &count));
                assert_int_equal(count, 2);
                assert_true(wire_get_bytes(&items.r, &data, &size));
                assert_memory_equal(data, "old", size);
                assert_true(wire_get_bytes(&items.r, &data, &size));
                assert_int_equal(size, 2);
                assert_memory_equal(data, "k0", 2);
        }
}

/* ---- queue.c: deliveries of a joinable queue by tag ---- */

/* The u64 size and unfinished of QSIZE. */
static void qsize_is(struct client *c, uint64_t size, uint64_t unfinished) {
        struct reply rep = call(c, WIRE_OP_QUEUE_QSIZE, "n", "j");
        uint64_t got_size, maxsize, got_unfinished;

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &got_size) && wire_get_u64(&rep.r, &maxsize) &&
                    wire_get_u64(&rep.r, &got_unfinished));
        assert_int_equal(got_size, size);
        assert_int_equal(got_unfinished, unfinished);
}

/* One GET reply for id: its payload must be payload, delivered once; returns the tag. */
static uint64_t got_item(struct client *c, uint32_t id, const char *payload) {
        struct frame rep;
        struct wire_reader r;
        uint64_t tag;
        uint32_t deliveries, size;
        const void *data;

        assert_reply(c, &rep, id, WIRE_OP_QUEUE_GET, WIRE_OK);
        wire_reader_init(&r, rep.body, rep.h.body_len);
        assert_true(wire_get_u64(&r, &tag) && wire_get_u32(&r, &deliveries) && wire_get_bytes(&r, &data, &size));
        assert_int_equal(size, strlen(payload));
        assert_memory_equal(data, payload, size);
        /* Once: a refused take did not count as a delivery. */
        assert_int_equal(deliveries, 1);
        return tag;
}

static void test_queue_delivery(void **state) {
        struct client *a = client_add(*state, "a"), *b = client_add(*state, "b");
        uint64_t bytes;

        assert_int_equal(declare_any(a, WIRE_OP_QUEUE_DECLARE, "j"), WIRE_OK);
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "first");
        bytes = mpxd.bytes_held;

        /* A GET: the item stays at the head, its tag unused. */
        for (unsigned nth = 1; nth <= 2; nth++) {
                hash_fail_countdown = nth;
                send_request(a, 1, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 0, 0u);
                assert_status(a, 1, WIRE_OP_QUEUE_GET, WIRE_ENOMEM);
                qsize_is(a, 1, 1);
                assert_int_equal(mpxd.bytes_held, bytes);
                assert_int_equal(client_shared(a)->user->bytes, bytes);
                assert_true(TAILQ_EMPTY(&client_shared(a)->deliveries));
        }
        send_request(a, 2, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 0, 0u);
        assert_int_equal(got_item(a, 2, "first"), 1);
        qsize_is(a, 0, 1);
        expect_empty(a, WIRE_OP_QUEUE_TASK_DONE, "nq", "j", (uint64_t) 1);
        qsize_is(a, 0, 0);

        /* A parked getter, served by a PUT: answered ENOMEM, the item kept for the next getter. */
        send_request(b, 3, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 60000, 0u);
        assert_no_reply(b);
        hash_fail_countdown = 1;
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "j", (int64_t) 0, "second");
        assert_status(b, 3, WIRE_OP_QUEUE_GET, WIRE_ENOMEM);
        qsize_is(a, 1, 1);
        assert_true(TAILQ_EMPTY(&client_shared(b)->waiters));
        send_request(b, 4, WIRE_OP_QUEUE_GET, "niw", "j", (int64_t) 0, 0u);
        assert_int_equal(got_item(b, 4, "second"), 2);
        expect_empty(b, WIRE_OP_QUEUE_TASK_DONE, "nq", "j", (uint64_t) 2);
        qsize_is(a, 0, 0);
}

/* ---- perm.c: the denials logged once ---- */

static void test_perm_denials(void **state) {
        struct client *a = client_add(*state, "a");
        struct client *other = client_add_as(*state, "other", 4242, 4242);

        assert_int_equal(declare_any(a, WIRE_OP_DICT_DECLARE, "d"), WIRE_OK);
        for (unsigned nth = 1; nth <= 2; nth++) {
                hash_fail_countdown = nth;
                /* Refused all the same; the refusal is just not remembered. */
                expect(WIRE_EACCES, other, WIRE_OP_DICT_LEN, "n", "d");
                assert_int_equal(hash_fail_countdown, 0);
                assert_null(client_shared(other)->denials);
        }
        expect(WIRE_EACCES, other, WIRE_OP_DICT_LEN, "n", "d");
        assert_int_equal(HASH_COUNT(client_shared(other)->denials), 1);
}

/* ---- user.c: a client whose user cannot be created ---- */

static void test_user_get(void **state) {
        unsigned clients = mpxd.n_clients, users = mpxd.n_users;

        for (unsigned nth = 1; nth <= 2; nth++) {
                hash_fail_countdown = nth;
                assert_null(client_new_as(-1, 0, 4242, 4242));
                assert_int_equal(hash_fail_countdown, 0);
                assert_null(user_find(4242));
                assert_int_equal(mpxd.n_users, users);
                assert_int_equal(mpxd.n_clients, clients);
        }
        client_add_as(*state, "other", 4242, 4242);
        assert_non_null(user_find(4242));
        assert_int_equal(user_find(4242)->n_clients, 1);
        assert_int_equal(mpxd.n_users, users + 1);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, unit_setup, oom_teardown)
        const struct CMUnitTest tests[] = {
                T(test_declare_each_type),
                T(test_declare_expansion),
                T(test_pipe_open),
                T(test_dict_set_new_tables),
                T(test_dict_set_expansion),
                T(test_dict_update_halfway),
                T(test_queue_delivery),
                T(test_perm_denials),
                T(test_user_get),
        };
#undef T

        return cmocka_run_group_tests(tests, NULL, NULL);
}
