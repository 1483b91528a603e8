/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the daemon's limits and per-uid quotas, run without any
 * socket: socketless clients of chosen uids (client_add_as) are fed request
 * frames and their replies read back. Every test checks the error a limit
 * returns, that nothing changed and nothing was evicted, and that the
 * counters are back to zero once everything is removed. The first test
 * checks that the daemon-wide byte counter always equals the sum of the
 * objects' bytes() hooks, and the users' bytes sum to it, through a long
 * run of random operations.
 */
#include "client-internal.h"
#include "client.h"
#include "configfile.h"
#include "hash.h"
#include "mpxd.h"
#include "object.h"
#include "queue.h"
#include "user.h"
#include "unit-client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define UID_A 1000
#define UID_B 1001
#define UID_C 1002
/* Every client's primary group, so that the uids share their objects (mode 0660). */
#define SHARED_GID 2000

/* What each element costs on top of its payload (see user_may_hold()). */
#define QI queue_item_overhead
#define LI list_item_overhead
#define DE dict_entry_overhead

/* ---- invariants ---- */

/* The daemon's counter equals the objects' own counts, and the users' charges add up to it. */
static void check_counters_at(const char *file, int line) {
        uint64_t objects = 0, users = 0, nobody = 0;
        struct object *o;
        struct user *u, *tmp;

        TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                objects += object_bytes(o);
        HASH_ITER(hh, mpxd.users, u, tmp)
                users += u->bytes;
        /* Arrays are charged to their creator, and configured ones to nobody. */
        TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                if (!o->user && (o->ops->type == WIRE_TYPE_ARRAY || o->ops->type == WIRE_TYPE_VALUE))
                        nobody += object_bytes(o);
        check_at(mpxd.bytes_held == objects, file, line, "bytes_held %llu, objects hold %llu",
                 (unsigned long long) mpxd.bytes_held, (unsigned long long) objects);
        check_at(users + nobody == mpxd.bytes_held, file, line, "users hold %llu + nobody %llu, bytes_held %llu",
                 (unsigned long long) users, (unsigned long long) nobody, (unsigned long long) mpxd.bytes_held);
}

#define check_counters() check_counters_at(__FILE__, __LINE__)

/* The user of uid holds this many bytes (0 when it does not exist). */
static uint64_t user_bytes(uid_t uid) {
        struct user *u = user_find(uid);

        return u ? u->bytes : 0;
}

/* A payload of size bytes, all c; static, overwritten four calls later (one request may need several). */
static const char *payload(size_t size, char c) {
        static char bufs[4][4096];
        static unsigned next;
        char *buf = bufs[next++ % ARRAY_SIZE(bufs)];

        assert_true(size < sizeof(bufs[0]));
        memset(buf, c, size);
        buf[size] = '\0';
        return buf;
}

static void declare_queue(struct client *c, const char *name, uint64_t maxsize, uint32_t flags) {
        struct reply rep = call(c, WIRE_OP_QUEUE_DECLARE, "nqw", name, maxsize, flags);

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
}

static uint64_t qsize(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_QUEUE_QSIZE, "n", name);
        uint64_t size;

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &size));
        return size;
}

/* ---- the counter through random operations ---- */

/* One random request of any kind that holds or frees payload; its replies are dropped. */
static void random_request(struct client *c, uint32_t id) {
        char key[8], value[300];
        size_t size = (size_t) (rand() % 200);
        int64_t index = rand() % 12 - 6;

        snprintf(key, sizeof(key), "k%d", rand() % 16);
        memset(value, 'a' + rand() % 26, size);
        value[size] = '\0';
        switch (rand() % 26) {
        case 0:
                send_request(c, id, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, value);
                break;
        case 1:
                send_request(c, id, WIRE_OP_QUEUE_PUT_MANY, "niwsss", "jq", (int64_t) 0, 3u, value, key, "");
                break;
        case 2:
                send_request(c, id, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) (rand() % 2 ? 0 : -1), 0u);
                break;
        case 3:
                send_request(c, id, WIRE_OP_QUEUE_GET_MANY, "niww", "jq", (int64_t) 0,
                             rand() % 4 ? 0u : WIRE_GET_DETACH, 2u);
                break;
        case 4:
                send_request(c, id, WIRE_OP_QUEUE_TASK_DONE, "nq", "jq", (uint64_t) 0);
                break;
        case 5:
                send_request(c, id, WIRE_OP_QUEUE_PUT, "nis", "bq", (int64_t) (rand() % 3 ? -1 : 0), value);
                break;
        case 6:
                send_request(c, id, WIRE_OP_QUEUE_GET, "niw", "bq", (int64_t) 0, 0u);
                break;
        case 7:
                send_named(c, id, WIRE_OP_QUEUE_PURGE, rand() % 3 == 0 ? "q" : rand() % 2 ? "jq" : "bq");
                break;
        case 8:
                send_request(c, id, WIRE_OP_DICT_SET, "nss", "d", key, value);
                break;
        case 9:
                send_request(c, id, WIRE_OP_DICT_DEL, "ns", "d", key);
                break;
        case 10:
                send_request(c, id, WIRE_OP_DICT_POP, "ns", "d", key);
                break;
        case 11:
                send_request(c, id, WIRE_OP_DICT_UPDATE, "nwssssss", "d", 3u, key, value, "k1", "one", key, "x");
                break;
        case 12:
                send_request(c, id, WIRE_OP_DICT_INCR, "nsi", "d", key, (int64_t) 12345);
                break;
        case 13:
                send_request(c, id, WIRE_OP_DICT_CAS, "nsbsbs", "d", key, 0u, "", 1u, value);
                break;
        case 14:
                send_request(c, id, WIRE_OP_DICT_SETDEFAULT, "nss", "d", key, value);
                break;
        case 15:
                if (rand() % 8 == 0)
                        send_named(c, id, WIRE_OP_DICT_CLEAR, "d");
                break;
        case 16:
                send_request(c, id, WIRE_OP_LIST_APPEND, "ns", "l", value);
                break;
        case 17:
                send_request(c, id, WIRE_OP_LIST_EXTEND, "nwsss", "l", 3u, value, key, "");
                break;
        case 18:
                send_request(c, id, WIRE_OP_LIST_SET, "nis", "l", index, value);
                break;
        case 19:
                send_request(c, id, WIRE_OP_LIST_INSERT, "nis", "l", index, value);
                break;
        case 20:
                send_request(c, id, WIRE_OP_LIST_POP, "ni", "l", index);
                break;
        case 21:
                send_request(c, id, WIRE_OP_LIST_REMOVE, "ns", "l", key);
                break;
        case 22:
                if (rand() % 8 == 0)
                        send_named(c, id, WIRE_OP_LIST_CLEAR, "l");
                break;
        case 23:
                send_request(c, id, WIRE_OP_ARRAY_DECLARE, "nbwwx", "arr", (unsigned) 'q', 16u, 0u, "", (size_t) 0);
                break;
        case 24:
                send_named(c, id, WIRE_OP_DELETE, (const char *const[]) { "q", "jq", "bq", "d", "l", "arr" }[rand() % 6]);
                break;
        default:
                send_request(c, id, WIRE_OP_QUEUE_PEEK, "nw", "jq", 2u);
                break;
        }
        drop_replies(c);
}

/* (Re)declare every object the random requests use; those that exist are left alone. */
static void declare_all(struct client *c) {
        send_request(c, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        send_request(c, 2, WIRE_OP_QUEUE_DECLARE, "nqw", "jq", (uint64_t) 0, WIRE_QUEUE_JOINABLE);
        send_request(c, 3, WIRE_OP_QUEUE_DECLARE, "nqw", "bq", (uint64_t) 3, 0u);
        send_named(c, 4, WIRE_OP_DICT_DECLARE, "d");
        send_named(c, 5, WIRE_OP_LIST_DECLARE, "l");
        send_request(c, 6, WIRE_OP_ARRAY_DECLARE, "nbwwx", "arr", (unsigned) 'q', 16u, 0u, "", (size_t) 0);
        drop_replies(c);
}

static void test_counter_matches_objects(void **state) {
        static const uid_t uids[] = { UID_A, UID_A, UID_B, UID_C };
        struct fixture *f = *state;
        struct client *c[ARRAY_SIZE(uids)];
        struct object *o;

        srand(12345);
        for (size_t i = 0; i < ARRAY_SIZE(uids); i++)
                c[i] = client_add_as(f, "random", uids[i], SHARED_GID);
        declare_all(c[2]);
        for (uint32_t step = 0; step < 20000; step++) {
                size_t who = (size_t) rand() % ARRAY_SIZE(c);

                if (rand() % 200 == 0) {
                        /* A lost client: its deliveries come back, its parked puts go. */
                        client_drop(f, c[who]);
                        c[who] = client_add_as(f, "random", uids[who], SHARED_GID);
                } else if (rand() % 100 == 0)
                        declare_all(c[who]);
                else
                        random_request(c[who], step + 10);
                check_counters();
        }
        assert_true(mpxd.bytes_held > 0);
        for (size_t i = 0; i < ARRAY_SIZE(c); i++) {
                client_drop(f, c[i]);
                check_counters();
        }
        /* Only what the objects hold is left, charged to users without a connection. */
        assert_true(mpxd.n_users > 0);
        while ((o = TAILQ_FIRST(&mpxd.objects_ordered))) {
                object_delete(o, -EIDRM);
                check_counters();
        }
        assert_int_equal(mpxd.bytes_held, 0);
        assert_int_equal(mpxd.n_users, 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

/* ---- limits.max_memory ---- */

static void test_max_memory(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *b = client_add_as(f, "b", UID_B, SHARED_GID);
        /* The room left once a 600-byte item is queued: a dict entry of 1000 bytes exactly. */
        const uint64_t room = 1000 + DE;
        struct reply rep;

        mpxd.max_memory = 600 + QI + room;
        declare_queue(a, "q", 0, WIRE_QUEUE_JOINABLE);
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "n", "d");
        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l");
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(600, 'x'));
        assert_int_equal(mpxd.bytes_held, 600 + QI);

        /* Every way of adding is refused one byte past the limit, from any uid, and nothing changes. */
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(room - QI + 1, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT_MANY, "niwss", "q", (int64_t) -1, 2u, payload(200, 'y'),
               payload(room - 2 * QI - 199, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_SET, "nss", "d", "key", payload(room - DE - 2, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_UPDATE, "nwssss", "d", 2u, "k1", payload(200, 'y'), "k2",
               payload(room - 2 * DE - 203, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_SETDEFAULT, "nss", "d", "key", payload(room - DE - 2, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_LIST_APPEND, "ns", "l", payload(room - LI + 1, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_LIST_EXTEND, "nwss", "l", 2u, payload(201, 'y'),
               payload(room - 2 * LI - 200, 'y'));
        expect(WIRE_ENOSPC, b, WIRE_OP_ARRAY_DECLARE, "nbwwx", "arr", (unsigned) 'q', (uint32_t) (room / 8 + 1), 0u,
               "", (size_t) 0);
        assert_null(object_find("arr", 3));
        assert_int_equal(mpxd.bytes_held, 600 + QI);
        assert_int_equal(qsize(a, "q"), 1);
        assert_int_equal(info_field_at(a, "d", WIRE_TYPE_DICT, "size", __FILE__, __LINE__), 0);
        assert_int_equal(info_field_at(a, "l", WIRE_TYPE_LIST, "size", __FILE__, __LINE__), 0);

        /* Up to the limit exactly is fine. */
        expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", "key", payload(room - DE - 3, 'y'));
        assert_int_equal(mpxd.bytes_held, mpxd.max_memory);
        /* A value replaced by one no larger passes even at the limit; a larger one does not. */
        expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", "key", payload(room - DE - 3, 'z'));
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_SET, "nss", "d", "key", payload(room - DE - 2, 'z'));
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_INCR, "nsi", "d", "n", (int64_t) 1);
        /* Refused at once, not parked until there is room. */
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) -1, "x");
        assert_int_equal(mpxd.n_waiters, 0);
        check_counters();

        /* The item queued first is untouched: nothing was evicted. */
        rep = call(a, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        /* Taken but not done: still held. */
        assert_int_equal(mpxd.bytes_held, mpxd.max_memory);
        expect_empty(a, WIRE_OP_QUEUE_TASK_DONE, "nq", "q", (uint64_t) 0);
        assert_int_equal(mpxd.bytes_held, room);
        expect_empty(b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(600, 'y'));
        check_counters();

        /* Removing everything brings every counter back to zero. */
        expect(WIRE_OK, a, WIRE_OP_QUEUE_PURGE, "n", "q");
        expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
        assert_int_equal(mpxd.bytes_held, 0);
        assert_int_equal(user_bytes(UID_A), 0);
        assert_int_equal(user_bytes(UID_B), 0);
}

/*
 * Empty elements are not free: under a limit of ten elements' overhead,
 * exactly ten empty queue items, list items or dict entries fit, for the
 * daemon and for a uid's quota, and one more is refused with ENOSPC.
 */
static void test_empty_elements_count(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *b = client_add_as(f, "b", UID_B, SHARED_GID);
        char key[8];

        declare_queue(a, "q", 0, 0);
        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l");
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "n", "d");

        mpxd.max_memory = 10 * QI;
        for (int i = 0; i < 10; i++)
                expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "");
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "");
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT_MANY, "niwss", "q", (int64_t) 0, 2u, "", "");
        assert_int_equal(qsize(a, "q"), 10);
        assert_int_equal(mpxd.bytes_held, 10 * QI);
        expect(WIRE_OK, a, WIRE_OP_QUEUE_PURGE, "n", "q");

        mpxd.max_memory = 0;
        mpxd.per_user.max_memory = 10 * LI;
        expect(WIRE_ENOSPC, a, WIRE_OP_LIST_EXTEND, "nwsssssssssss", "l", 11u, "", "", "", "", "", "", "", "", "",
               "", "");
        expect(WIRE_OK, a, WIRE_OP_LIST_EXTEND, "nwssssssssss", "l", 10u, "", "", "", "", "", "", "", "", "", "");
        expect(WIRE_ENOSPC, a, WIRE_OP_LIST_APPEND, "ns", "l", "");
        expect(WIRE_OK, b, WIRE_OP_LIST_APPEND, "ns", "l", "");
        assert_int_equal(user_bytes(UID_A), 10 * LI);
        expect(WIRE_OK, a, WIRE_OP_LIST_CLEAR, "n", "l");

        /* Ten entries of a one-byte key and an empty value. */
        mpxd.per_user.max_memory = 10 * (DE + 1);
        for (int i = 0; i < 10; i++) {
                snprintf(key, sizeof(key), "%d", i);
                expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", key, "");
        }
        assert_int_equal(user_bytes(UID_A), 10 * DE + 10);
        expect(WIRE_ENOSPC, a, WIRE_OP_DICT_SET, "nss", "d", "", "");
        expect(WIRE_ENOSPC, a, WIRE_OP_DICT_UPDATE, "nwss", "d", 1u, "x", "");
        /* Replacing an entry's value by one no longer adds nothing. */
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", "0", "");
        expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
        assert_int_equal(mpxd.bytes_held, 0);
        check_counters();
}

/* A limit lowered under what is held: everything is kept, only growth is refused. */
static void test_max_memory_lowered(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID);

        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l");
        for (int i = 0; i < 10; i++)
                expect(WIRE_OK, a, WIRE_OP_LIST_APPEND, "ns", "l", payload(100, 'a'));
        /* Room for five of the ten items. */
        mpxd.max_memory = 5 * (100 + LI);
        expect(WIRE_ENOSPC, a, WIRE_OP_LIST_APPEND, "ns", "l", "x");
        expect_empty(a, WIRE_OP_LIST_SET, "nis", "l", (int64_t) 0, payload(100, 'b'));
        expect(WIRE_ENOSPC, a, WIRE_OP_LIST_SET, "nis", "l", (int64_t) 0, payload(101, 'b'));
        assert_int_equal(info_field_at(a, "l", WIRE_TYPE_LIST, "size", __FILE__, __LINE__), 10);
        assert_int_equal(mpxd.bytes_held, 10 * (100 + LI));
        for (int i = 0; i < 6; i++)
                expect(WIRE_OK, a, WIRE_OP_LIST_POP, "ni", "l", (int64_t) -1);
        expect(WIRE_OK, a, WIRE_OP_LIST_APPEND, "ns", "l", payload(100, 'c'));
        check_counters();
        expect(WIRE_OK, a, WIRE_OP_LIST_CLEAR, "n", "l");
        assert_int_equal(mpxd.bytes_held, 0);
}

/* Items parked with a putter waiting for room count too, and are given back when it leaves. */
static void test_parked_puts_count(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *b = client_add_as(f, "b", UID_B, SHARED_GID);

        /* Room for 300 bytes in three items. */
        mpxd.max_memory = 300 + 3 * QI;
        declare_queue(a, "q", 1, 0);
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(100, 'a'));
        send_request(b, 7, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) -1, payload(150, 'b'));
        assert_no_reply(b);
        assert_int_equal(mpxd.bytes_held, 250 + 2 * QI);
        check_counters();
        expect(WIRE_ENOSPC, a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) -1, payload(51, 'c'));
        client_drop(f, b);
        assert_int_equal(mpxd.bytes_held, 100 + QI);
        assert_int_equal(user_bytes(UID_B), 0);
        assert_null(user_find(UID_B));
        check_counters();
}

/* ---- limits.per_user ---- */

static void test_user_memory_quota(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *a2 = client_add_as(f, "a2", UID_A, SHARED_GID);
        struct client *b = client_add_as(f, "b", UID_B, SHARED_GID);

        mpxd.per_user.max_memory = 500 + QI + DE;
        declare_queue(a, "q", 0, 0);
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "n", "d");
        expect_empty(a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(300, 'a'));
        expect_empty(a2, WIRE_OP_DICT_SET, "nss", "d", "k", payload(199, 'a'));
        assert_int_equal(user_bytes(UID_A), mpxd.per_user.max_memory);

        /* The quota is the uid's, over all its connections; other uids go on. */
        expect(WIRE_ENOSPC, a, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "x");
        expect(WIRE_ENOSPC, a2, WIRE_OP_DICT_SET, "nss", "d", "k2", "");
        expect_empty(b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(400, 'b'));
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(101 + DE - QI, 'b'));
        assert_int_equal(qsize(a, "q"), 2);

        /* An entry stored by another uid is charged to it from then on. */
        expect_empty(b, WIRE_OP_DICT_SET, "nss", "d", "k", "");
        assert_int_equal(user_bytes(UID_A), 300 + QI);
        assert_int_equal(user_bytes(UID_B), 401 + QI + DE);
        expect(WIRE_ENOSPC, b, WIRE_OP_DICT_SET, "nss", "d", "k", payload(100, 'b'));
        check_counters();

        /* Items are uncharged from who put them, whoever takes them. */
        expect(WIRE_OK, b, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 0, 0u);
        assert_int_equal(user_bytes(UID_A), 0);
        expect_empty(a, WIRE_OP_DICT_SET, "nss", "d", "k", payload(499, 'a'));
        assert_int_equal(user_bytes(UID_A), 500 + DE);
        assert_int_equal(user_bytes(UID_B), 400 + QI);
        expect(WIRE_OK, a, WIRE_OP_QUEUE_PURGE, "n", "q");
        expect(WIRE_OK, a, WIRE_OP_DICT_CLEAR, "n", "d");
        assert_int_equal(user_bytes(UID_A), 0);
        assert_int_equal(user_bytes(UID_B), 0);
        assert_int_equal(mpxd.bytes_held, 0);
        check_counters();
}

static void test_user_object_quota(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *b = client_add_as(f, "b", UID_B, SHARED_GID);
        struct config_object configured = { .type = WIRE_TYPE_DICT, .name = "conf", .name_len = 4 };

        mpxd.per_user.max_objects = 2;
        /* Configured objects belong to nobody and count against no uid. */
        assert_int_equal(config_declare(&configured), 1);
        assert_null(object_find("conf", 4)->user);
        declare_queue(a, "q1", 0, 0);
        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l1");
        expect(WIRE_EUSERS, a, WIRE_OP_DICT_DECLARE, "n", "d1");
        expect(WIRE_EUSERS, a, WIRE_OP_QUEUE_DECLARE, "nqw", "q2", (uint64_t) 0, 0u);
        expect(WIRE_EUSERS, a, WIRE_OP_ARRAY_DECLARE, "nbwwx", "arr", (unsigned) 'i', 4u, 0u, "", (size_t) 0);
        /* Declaring what exists creates nothing and is fine. */
        expect(WIRE_OK, a, WIRE_OP_LIST_DECLARE, "n", "l1");
        assert_null(object_find("d1", 2));
        assert_int_equal(user_find(UID_A)->n_objects, 2);
        /* Another uid is not concerned. */
        expect(WIRE_OK, b, WIRE_OP_DICT_DECLARE, "n", "d1");
        expect(WIRE_OK, b, WIRE_OP_ARRAY_DECLARE, "nbwwx", "arr", (unsigned) 'i', 4u, 0u, "", (size_t) 0);
        assert_int_equal(user_bytes(UID_B), 16);
        /* Deleted objects count no more (deleting is the owner's alone). */
        expect_empty(a, WIRE_OP_DELETE, "n", "q1");
        expect(WIRE_OK, a, WIRE_OP_DICT_DECLARE, "n", "d2");
        expect_empty(b, WIRE_OP_DELETE, "n", "arr");
        assert_int_equal(user_bytes(UID_B), 0);
        check_counters();
        client_drop(f, a);
        client_drop(f, b);
        /* The users live on while their objects do. */
        assert_int_equal(user_find(UID_A)->n_objects, 2);
        object_delete_all(-EIDRM);
        assert_int_equal(mpxd.n_users, 0);
        assert_int_equal(mpxd.n_objects, 0);
}

/* ---- waiters ---- */

static void test_waiters_per_client(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *a2 = client_add_as(f, "a2", UID_A, SHARED_GID);

        mpxd.max_waiters_per_client = 2;
        declare_queue(a, "q", 0, 0);
        send_request(a, 1, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        send_request(a, 2, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) 5000, 0u);
        send_request(a, 3, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        assert_status(a, 3, WIRE_OP_QUEUE_GET, WIRE_EUSERS);
        /* Another connection of the same uid has its own allowance. */
        send_request(a2, 5, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        assert_no_reply(a2);
        assert_int_equal(mpxd.n_waiters, 3);
        /* A served waiter makes room. */
        expect_empty(a2, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "one");
        drop_replies(a);
        send_request(a, 6, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        assert_no_reply(a);
        assert_int_equal(client_shared(a)->n_waiters, 2);
        assert_int_equal(user_find(UID_A)->n_waiters, 3);
        client_drop(f, a);
        client_drop(f, a2);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(user_find(UID_A)->n_waiters, 0);
        object_delete_all(-EIDRM);
        assert_int_equal(mpxd.n_users, 0);
}

static void test_user_waiter_quota(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *a2 = client_add_as(f, "a2", UID_A, SHARED_GID);
        struct client *b = client_add_as(f, "b", UID_B, SHARED_GID), *c = client_add_as(f, "c", UID_C, SHARED_GID);

        mpxd.per_user.max_waiters = 2;
        expect(WIRE_OK, a, WIRE_OP_EVENT_DECLARE, "n", "e");
        expect(WIRE_OK, a, WIRE_OP_SEM_DECLARE, "nqqw", "s", (uint64_t) 0, (uint64_t) 0, 0u);
        send_request(a, 1, WIRE_OP_EVENT_WAIT, "ni", "e", (int64_t) -1);
        send_request(a2, 2, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) -1);
        assert_no_reply(a);
        assert_no_reply(a2);
        send_request(a2, 3, WIRE_OP_EVENT_WAIT, "ni", "e", (int64_t) -1);
        assert_status(a2, 3, WIRE_OP_EVENT_WAIT, WIRE_EUSERS);
        /* The flooding uid is refused; another waits as before. */
        send_request(b, 4, WIRE_OP_EVENT_WAIT, "ni", "e", (int64_t) -1);
        send_request(b, 5, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) -1);
        assert_no_reply(b);
        assert_int_equal(mpxd.n_waiters, 4);
        expect_empty(c, WIRE_OP_EVENT_SET, "n", "e");
        assert_status(a, 1, WIRE_OP_EVENT_WAIT, WIRE_OK);
        assert_int_equal(user_find(UID_A)->n_waiters, 1);
        send_request(a, 7, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) -1);
        assert_no_reply(a);
        client_drop(f, a);
        client_drop(f, a2);
        assert_int_equal(user_find(UID_A)->n_waiters, 0);
        assert_int_equal(mpxd.n_waiters, 1);
        assert_int_equal(user_find(UID_B)->n_waiters, 1);
}

/* ---- connections ---- */

static void test_user_client_quota(void **state) {
        struct fixture *f = *state;
        struct client *a, *a2;

        mpxd.per_user.max_clients = 2;
        assert_int_equal(user_may_connect(UID_A), 0);
        a = client_add_as(f, "a", UID_A, SHARED_GID);
        assert_int_equal(user_may_connect(UID_A), 0);
        a2 = client_add_as(f, "a2", UID_A, SHARED_GID);
        assert_int_equal(user_may_connect(UID_A), -EUSERS);
        assert_int_equal(user_may_connect(UID_B), 0);
        assert_int_equal(user_find(UID_A)->n_clients, 2);
        client_drop(f, a);
        assert_int_equal(user_may_connect(UID_A), 0);
        mpxd.per_user.max_clients = 0;
        client_drop(f, a2);
        assert_null(user_find(UID_A));
        assert_int_equal(mpxd.n_users, 0);
}

/* ---- limits.max_output ---- */

/* Count and forget the replies waiting in c's output, whatever their size: as if the peer read them. */
static size_t read_all_replies(struct client *c) {
        size_t n = 0;

        while (c->out.len - c->out_off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(c->out.data + c->out_off, &h);
                assert_true(c->out.len - c->out_off - WIRE_HEADER_SIZE >= h.body_len);
                assert_int_equal(h.status, WIRE_OK);
                c->out_off += WIRE_HEADER_SIZE + h.body_len;
                n++;
        }
        assert_int_equal(c->out_off, c->out.len);
        c->out.len = 0;
        c->out_off = 0;
        return n;
}

/*
 * A client that pipelines gets and peeks, 1.3 MiB of replies, against a
 * max_output of 64 KiB: its requests wait in its input buffer once its
 * unsent replies pass the cap, and resume each time it has read them down to
 * half. Read that way, every request is answered and it is never lost.
 */
static void test_output_backpressure(void **state) {
        struct fixture *f = *state;
        struct client *greedy = client_add_as(f, "greedy", UID_A, SHARED_GID), *other = client_add_as(f, "other", UID_B, SHARED_GID);
        struct wire_buf b;
        size_t answered = 0;
        uint32_t id = 1;

        mpxd.max_output = 64 * 1024;
        declare_queue(other, "jq", 0, WIRE_QUEUE_JOINABLE);
        for (int i = 0; i < 100; i++)
                expect_empty(other, WIRE_OP_QUEUE_PUT, "nis", "jq", (int64_t) 0, payload(2000, (char) ('a' + i % 26)));
        wire_buf_init(&b);
        for (int i = 0; i < 60; i++) {
                append_request(&b, id++, WIRE_OP_QUEUE_GET, "niw", "jq", (int64_t) 0, 0u);
                append_request(&b, id++, WIRE_OP_QUEUE_PEEK, "nw", "jq", 10u);
        }
        feed_buf(greedy, &b);
        assert_int_equal(client_state(greedy), CLIENT_READY);
        assert_true(greedy->paused);
        /* Paused at the cap: the rest waits unhandled, the output is the cap and one reply at most. */
        assert_true(greedy->in.len > 0);
        assert_true(queue_client_deliveries(greedy) < 60);
        assert_true(greedy->out.len - greedy->out_off <= mpxd.max_output + 24 * 1024);
        assert_int_equal(qsize(other, "jq"), 100 - queue_client_deliveries(greedy));

        for (int round = 0; round < 1000 && greedy->in.len > 0; round++) {
                answered += read_all_replies(greedy);
                client_flush(greedy);
                assert_int_equal(client_state(greedy), CLIENT_READY);
        }
        answered += read_all_replies(greedy);
        assert_int_equal(answered, 120);
        assert_int_equal(client_state(greedy), CLIENT_READY);
        assert_int_equal(queue_client_deliveries(greedy), 60);
        assert_int_equal(qsize(other, "jq"), 40);

        client_drop(f, greedy);
        /* Everything it took and did not finish is back, first in line. */
        assert_int_equal(qsize(other, "jq"), 100);
        expect(WIRE_OK, other, WIRE_OP_QUEUE_PURGE, "n", "jq");
        assert_int_equal(mpxd.bytes_held, 0);
}

/*
 * Its own requests wait, but parked gets served by another client's puts
 * still add to a client's output: past max_output it is marked overflowed,
 * the queue hands it nothing more, and once it is lost what it took is
 * redelivered.
 */
static void test_output_overflow(void **state) {
        struct fixture *f = *state;
        struct client *greedy = client_add_as(f, "greedy", UID_A, SHARED_GID), *other = client_add_as(f, "other", UID_B, SHARED_GID);
        struct wire_buf b;
        uint32_t id = 1;

        mpxd.max_output = 64 * 1024;
        declare_queue(other, "jq", 0, 0);
        declare_queue(other, "wq", 0, WIRE_QUEUE_JOINABLE);
        for (int i = 0; i < 10; i++)
                expect_empty(other, WIRE_OP_QUEUE_PUT, "nis", "jq", (int64_t) 0, payload(2000, 'p'));
        wire_buf_init(&b);
        append_request(&b, id++, WIRE_OP_QUEUE_GET, "niw", "wq", (int64_t) -1, 0u);
        append_request(&b, id++, WIRE_OP_QUEUE_GET, "niw", "wq", (int64_t) -1, 0u);
        for (int i = 0; i < 20; i++)
                append_request(&b, id++, WIRE_OP_QUEUE_PEEK, "nw", "jq", 10u);
        feed_buf(greedy, &b);
        assert_true(greedy->paused);
        assert_int_equal(client_state(greedy), CLIENT_READY);
        assert_int_equal(client_shared(greedy)->n_waiters, 2);

        expect_empty(other, WIRE_OP_QUEUE_PUT, "nis", "wq", (int64_t) 0, payload(100, '1'));
        /* Overflowed, and lost only once this event is handled. */
        assert_int_equal(client_state(greedy), CLIENT_OVERFLOWED);
        assert_int_equal(queue_client_deliveries(greedy), 1);
        /* Not handed to the overflowed client's other get: it stays queued. */
        expect_empty(other, WIRE_OP_QUEUE_PUT, "nis", "wq", (int64_t) 0, payload(100, '2'));
        assert_int_equal(qsize(other, "wq"), 1);
        assert_int_equal(queue_client_deliveries(greedy), 1);

        client_flush_dirty();
        assert_true(client_is_gone(greedy));
        client_forget(f, greedy);
        assert_int_equal(qsize(other, "wq"), 2);
        assert_int_equal(info_field_at(other, "wq", WIRE_TYPE_JOINABLE, "redelivered", __FILE__, __LINE__), 1);
        expect(WIRE_OK, other, WIRE_OP_QUEUE_PURGE, "n", "wq");
        expect(WIRE_OK, other, WIRE_OP_QUEUE_PURGE, "n", "jq");
        assert_int_equal(mpxd.bytes_held, 0);
        assert_null(user_find(UID_A));
}

/* A client paused at the cap when the daemon stops: the last flush writes, it handles nothing more. */
static void test_output_paused_at_shutdown(void **state) {
        struct fixture *f = *state;
        struct client *c = client_add(f, "paused");
        struct wire_buf b;
        size_t waiting, answered;

        mpxd.max_output = 64 * 1024;
        declare_queue(c, "q", 0, 0);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(4000, 'p'));
        /* 120 KiB of replies: paused once, about half way. */
        wire_buf_init(&b);
        for (int i = 0; i < 30; i++)
                append_request(&b, 1, WIRE_OP_QUEUE_PEEK, "nw", "q", 1u);
        feed_buf(c, &b);
        assert_true(c->paused);
        waiting = c->in.len;
        assert_true(waiting > 0);

        mpxd.stopping = true;
        answered = read_all_replies(c);
        client_flush(c);
        assert_true(c->paused);
        assert_int_equal(c->in.len, waiting);
        assert_int_equal(c->out.len, 0);
        mpxd.stopping = false;
        /* Otherwise the same flush goes on with what waits. */
        client_flush(c);
        assert_false(c->paused);
        assert_int_equal(c->in.len, 0);
        assert_int_equal(answered + read_all_replies(c), 30);
}

/*
 * A paused client whose waiting input ends with a frame over the size limit:
 * resumed, it is answered EMSGSIZE and closed, and not read again meanwhile.
 */
static void test_output_resume_then_oversized(void **state) {
        struct fixture *f = *state;
        struct client *owner = client_add(f, "owner"), *c;
        uint8_t header[WIRE_HEADER_SIZE], sink[16384];
        struct wire_buf b;
        int sv[2];

        mpxd.max_output = 64 * 1024;
        declare_queue(owner, "q", 0, 0);
        expect_empty(owner, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(4000, 'p'));
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        c = client_new(sv[0]);
        assert_non_null(c);
        wire_buf_init(&b);
        append_request(&b, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "paused");
        for (int i = 0; i < 30; i++)
                append_request(&b, 2, WIRE_OP_QUEUE_PEEK, "nw", "q", 1u);
        wire_header_encode(header, &(struct wire_header) { .id = 3, .op = WIRE_OP_PING,
                                                            .body_len = mpxd.max_frame + 1 });
        assert_int_equal(wire_put_raw(&b, header, sizeof(header)), 0);
        feed_buf(c, &b);
        assert_true(c->paused);
        assert_false(event_pending(&c->ev_read, EV_READ, NULL));

        /* Read until the waiting requests are handled: the last one closes it. */
        for (int spins = 0; !client_doomed(c); spins++) {
                assert_true(spins < 100000);
                if (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) <= 0)
                        client_flush(c);
        }
        assert_false(event_pending(&c->ev_read, EV_READ, NULL));
        client_flush_dirty();
        while (!client_is_gone(c) && recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
                client_flush(c);
        assert_true(client_is_gone(c));
        close(sv[1]);
}

/* A client that reads its replies is never lost, however much it asks in total. */
static void test_output_read_in_time(void **state) {
        struct fixture *f = *state;
        struct client *c = client_add_as(f, "reader", UID_A, SHARED_GID);

        mpxd.max_output = 64 * 1024;
        declare_queue(c, "q", 0, 0);
        expect_empty(c, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(900, 'r'));
        for (int i = 0; i < 200; i++) {
                send_request(c, 1, WIRE_OP_QUEUE_PEEK, "nw", "q", 1u);
                drop_replies(c);
        }
        client_flush_dirty();
        assert_int_equal(client_state(c), CLIENT_READY);
}

/* Read exactly len bytes of the daemon's output from fd, letting c flush as room is made. */
static void drain(struct client *c, int fd, size_t len) {
        static uint8_t sink[16384];

        for (int spins = 0; len > 0; spins++) {
                ssize_t n = recv(fd, sink, len < sizeof(sink) ? len : sizeof(sink), MSG_DONTWAIT);

                assert_true(spins < 100000);
                if (n > 0)
                        len -= (size_t) n;
                else
                        client_flush(c);
        }
}

/*
 * A client that reads steadily but a fixed backlog behind: its output
 * buffer never empties, yet it must not grow, and the client is served.
 */
static void test_output_slow_steady_reader(void **state) {
        enum { ROUNDS = 2000, PER_ROUND = 10, BACKLOG = 40, REPLY = 12 + 4 + 16 + 900 };
        struct fixture *f = *state;
        struct client *owner = client_add(f, "owner"), *c;
        struct wire_buf b;
        int sv[2], small = 1;

        mpxd.max_output = 64 * 1024;
        declare_queue(owner, "q", 0, 0);
        expect_empty(owner, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(900, 'r'));
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        /* The smallest socket buffer: most of the backlog stays in the daemon's output buffer. */
        assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
        c = client_new(sv[0]);
        assert_non_null(c);
        send_request(c, 1, WIRE_OP_HELLO, "wt", WIRE_VERSION, "reader");
        client_flush_dirty();
        drain(c, sv[1], WIRE_HEADER_SIZE + 12 + 2 + strlen("mpxd " MPX_VERSION));

        wire_buf_init(&b);
        for (int i = 0; i < BACKLOG; i++)
                append_request(&b, 2, WIRE_OP_QUEUE_PEEK, "nw", "q", 1u);
        feed_buf(c, &b);
        client_flush_dirty();
        for (int round = 0; round < ROUNDS; round++) {
                wire_buf_init(&b);
                for (int i = 0; i < PER_ROUND; i++)
                        append_request(&b, 3, WIRE_OP_QUEUE_PEEK, "nw", "q", 1u);
                feed_buf(c, &b);
                client_flush_dirty();
                assert_false(client_is_gone(c));
                drain(c, sv[1], PER_ROUND * REPLY);
        }
        /* Some 18 MiB went through; the buffer stayed about the size of the backlog. */
        assert_int_equal(client_state(c), CLIENT_READY);
        assert_true(c->out.len - c->out_off >= (BACKLOG - 8) * REPLY);
        if (c->out.cap > 256 * 1024)
                fail_msg("the output buffer grew to %zu bytes", c->out.cap);
        client_lost(c, "test");
        close(sv[1]);
}

/* ---- USERS ---- */

/* The value of an integer field of a field list being read; the list must hold it. */
static int64_t read_field(struct wire_reader *r, const char *want) {
        uint16_t n;
        int64_t found = -1;

        assert_true(wire_get_u16(r, &n));
        for (uint16_t i = 0; i < n; i++) {
                const char *key;
                size_t key_len;
                uint8_t kind;
                int64_t v;

                assert_true(wire_get_name(r, &key, &key_len));
                assert_true(wire_get_u8(r, &kind));
                assert_int_equal(kind, 0);
                assert_true(wire_get_i64(r, &v));
                if (key_len == strlen(want) && memcmp(key, want, key_len) == 0)
                        found = v;
        }
        return found;
}

/* USERS lists every uid by uid, a page at a time, with what it holds and was refused. */
static void test_users_listing(void **state) {
        struct fixture *f = *state;
        struct client *a = client_add_as(f, "a", UID_A, SHARED_GID), *b = client_add_as(f, "b", UID_B, SHARED_GID);
        struct client *c = client_add_as(f, "c", UID_C, SHARED_GID);
        uint64_t next;
        uint32_t n;
        struct reply rep;

        mpxd.per_user.max_memory = 100 + QI;
        declare_queue(c, "q", 0, 0);
        expect_empty(b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(60, 'b'));
        expect(WIRE_ENOSPC, b, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, payload(60, 'b'));
        send_request(a, 9, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        drop_replies(a);
        send_request(a, 9, WIRE_OP_QUEUE_GET, "niw", "q", (int64_t) -1, 0u);
        assert_no_reply(a);

        /* Two per page: A and B, then C from the cursor. */
        rep = call(c, WIRE_OP_USERS, "qw", (uint64_t) 0, 2u);
        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &next) && wire_get_u32(&rep.r, &n));
        assert_int_equal(n, 2);
        assert_int_equal(next, UID_B + 1);
        /* A's fields, then B's. */
        {
                struct wire_reader again = rep.r;

                assert_int_equal(read_field(&again, "uid"), UID_A);
                assert_int_equal(read_field(&again, "uid"), UID_B);
        }
        assert_int_equal(read_field(&rep.r, "waiters"), 1);
        assert_int_equal(read_field(&rep.r, "refused_memory"), 1);
        assert_true(wire_reader_done(&rep.r));
        rep = call(c, WIRE_OP_USERS, "qw", next, 2u);
        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &next) && wire_get_u32(&rep.r, &n));
        assert_int_equal(n, 1);
        assert_int_equal(next, 0);
        assert_int_equal(read_field(&rep.r, "objects"), 1);
        assert_true(wire_reader_done(&rep.r));
        /* B's put went to A's waiting get: B holds nothing any more. */
        assert_int_equal(user_bytes(UID_B), 0);
        expect(WIRE_EPROTO, c, WIRE_OP_USERS, "q", (uint64_t) 0);
}


int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_counter_matches_objects),
                unit_client_test(test_max_memory),
                unit_client_test(test_empty_elements_count),
                unit_client_test(test_max_memory_lowered),
                unit_client_test(test_parked_puts_count),
                unit_client_test(test_user_memory_quota),
                unit_client_test(test_user_object_quota),
                unit_client_test(test_waiters_per_client),
                unit_client_test(test_user_waiter_quota),
                unit_client_test(test_user_client_quota),
                unit_client_test(test_output_backpressure),
                unit_client_test(test_output_overflow),
                unit_client_test(test_output_paused_at_shutdown),
                unit_client_test(test_output_resume_then_oversized),
                unit_client_test(test_output_read_in_time),
                unit_client_test(test_output_slow_steady_reader),
                unit_client_test(test_users_listing),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
