/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of a queue's item storage (daemon/queue-store.c) on its own:
 * records read back as written at every varint boundary, the bytes a
 * small item costs, chunks growing from 256 bytes to 8 KiB, records taken
 * from the head, from the middle and put back at the head, delivery counts
 * rewritten in place and in a chunk that must grow, and chunks of another
 * allocation linked in and freed with it. Charges are checked to come back
 * to zero; valgrind checks that every chunk is freed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mpxd.h"
#include "queue-store.h"
#include "user.h"

/* Payloads of up to 70,000 bytes, each byte telling its item and position apart. */
static uint8_t payload[70000];

static struct item item_of(uint32_t size, uint32_t deliveries, uint64_t put_ms, uint64_t seq, struct user *u) {
        return (struct item){ .data = payload, .size = size, .deliveries = deliveries, .put_ms = put_ms,
                              .seq = seq, .user = u };
}

/* Append a copy of *it at the tail of s, as one put does, charged as the queue charges it. */
static void append(struct item_store *s, const struct item *it, bool seqs) {
        assert_int_equal(store_add(s, it, seqs), 0);
        user_charge(it->user, item_cost(it->size));
}

static void assert_item(const struct item *got, const struct item *want) {
        assert_int_equal(got->size, want->size);
        assert_int_equal(got->deliveries, want->deliveries);
        assert_int_equal(got->put_ms, want->put_ms);
        assert_int_equal(got->seq, want->seq);
        assert_ptr_equal(got->user, want->user);
        assert_memory_equal(got->data, want->data, want->size);
        assert_int_equal(got->len, record_len(got->chunk, got));
}

static unsigned chunks(const struct item_store *s) {
        const struct chunk *c;
        unsigned n = 0;

        TAILQ_FOREACH(c, &s->chunks, link)
                n++;
        return n;
}

static int setup(void **state) {
        (void) state;
        for (size_t i = 0; i < sizeof(payload); i++)
                payload[i] = (uint8_t) (i * 7 + i / 251);
        return 0;
}

static int teardown(void **state) {
        (void) state;
        assert_int_equal(mpxd.bytes_held, 0);
        user_free_all();
        return 0;
}

/* Every field at the lengths where its varint gains a byte, and differences either way from the chunk's bases. */
static void test_records_read_back(void **state) {
        static const uint32_t sizes[] = { 0, 1, 127, 128, 16383, 16384, 70000 };
        static const uint32_t deliveries[] = { 0, 1, 127, 128, UINT32_MAX };
        static const uint64_t times[] = { 1000, 0, 1000 + 64, 1000 - 65, UINT64_MAX / 2, 999 };
        struct item want[64], got;
        struct item_store s;
        unsigned n = 0, i = 0;

        (void) state;
        for (int seqs = 0; seqs < 2; seqs++) {
                /* A user lives while something is charged to it: made again after the first round's clear. */
                struct user *u = user_get(4242);

                assert_non_null(u);
                store_init(&s);
                n = i = 0;
                for (size_t a = 0; a < 7; a++) {
                        for (size_t b = 0; b < 5; b++) {
                                uint64_t seq = seqs ? (n % 3 ? 5000 - n : (uint64_t) 1 << 40) : 0;

                                want[n] = item_of(sizes[a], deliveries[b], times[(a + b) % 6], seq, b % 2 ? u : NULL);
                                want[n].data = payload + (a + b);
                                if (want[n].size + a + b > sizeof(payload))
                                        want[n].size -= (uint32_t) (a + b);
                                append(&s, &want[n], seqs);
                                n++;
                        }
                }
                STORE_FOREACH(&s, got)
                        assert_item(&got, &want[i++]);
                assert_int_equal(i, n);
                store_clear(&s);
                assert_true(store_empty(&s));
        }
}

/* What the memory target rests on: a 64-byte item put once costs 67 bytes, 68 in a durable queue. */
static void test_small_item_cost(void **state) {
        struct item_store s;
        struct item first, next, got;

        (void) state;
        for (int seqs = 0; seqs < 2; seqs++) {
                struct user *u = user_get(1000);

                first = item_of(64, 0, 5000, 77, u);
                next = item_of(64, 0, 5001, 78, u);
                store_init(&s);
                append(&s, &first, seqs);
                append(&s, &next, seqs);
                assert_true(store_head(&s, &got));
                assert_int_equal(got.len, 67 + seqs);
                assert_true(store_next(&s, &got));
                assert_int_equal(got.len, 67 + seqs);
                assert_false(store_next(&s, &got));
                store_clear(&s);
        }
}

/* A queue's chunks grow from 256 bytes to 8 KiB, and a million-item queue pays under 69 bytes per 64-byte item. */
static void test_chunks_grow(void **state) {
        struct item_store s;
        struct item it = item_of(64, 0, 1, 0, NULL), got;
        const struct chunk *c;
        size_t bytes = 0, first = 0, last = 0;
        unsigned n = 20000, seen = 0;

        (void) state;
        store_init(&s);
        for (unsigned i = 0; i < n; i++) {
                it.data = payload + i % 100;
                append(&s, &it, false);
        }
        TAILQ_FOREACH(c, &s.chunks, link) {
                if (!first)
                        first = chunk_size(c->cap);
                last = chunk_size(c->cap);
                assert_true(last <= 8192);
                bytes += last;
        }
        assert_int_equal(first, 256);
        assert_int_equal(last, 8192);
        /* Chunks' own sizes; malloc adds 8 bytes to each 8 KiB. */
        assert_true(bytes < (size_t) n * 68);
        STORE_FOREACH(&s, got) {
                assert_memory_equal(got.data, payload + seen % 100, 64);
                seen++;
        }
        assert_int_equal(seen, n);
        /* Taken from the head one by one, each chunk is freed as it empties. */
        while (store_head(&s, &got)) {
                user_uncharge(got.user, item_cost(got.size));
                store_remove(&s, &got);
        }
        assert_int_equal(chunks(&s), 0);
}

/* Taken from the middle, put back at the head (in the room the head left, or a chunk of its own), in order. */
static void test_remove_and_insert_head(void **state) {
        struct item_store s;
        struct item it, got;
        uint64_t order[12];
        unsigned n = 0;

        (void) state;
        store_init(&s);
        for (uint64_t i = 1; i <= 10; i++)
                append(&s, &(struct item){ .data = payload, .size = 10, .put_ms = 100, .seq = i }, true);
        /* Remove 5 (the middle) and 1 (the head). */
        STORE_FOREACH(&s, it)
                if (it.seq == 5)
                        break;
        user_uncharge(it.user, item_cost(it.size));
        store_remove(&s, &it);
        assert_true(store_head(&s, &it));
        assert_int_equal(it.seq, 1);
        user_uncharge(it.user, item_cost(it.size));
        store_remove(&s, &it);
        /* 1 goes back into the room it left; 0 needs a chunk of its own. */
        it = (struct item){ .data = payload, .size = 10, .put_ms = 90, .seq = 1 };
        assert_int_equal(store_insert_head(&s, &it, true), 0);
        user_charge(NULL, item_cost(10));
        assert_int_equal(chunks(&s), 1);
        it.seq = 0;
        it.size = 300;
        assert_int_equal(store_insert_head(&s, &it, true), 0);
        user_charge(NULL, item_cost(300));
        assert_int_equal(chunks(&s), 2);
        STORE_FOREACH(&s, got)
                order[n++] = got.seq;
        assert_int_equal(n, 10);
        for (unsigned i = 0; i < n; i++)
                assert_int_equal(order[i], i < 5 ? i : i + 1);
        store_clear(&s);
}

/* The delivery count of the record at seq set to d; the record read again into *it. */
static void set_deliveries(struct item_store *s, uint64_t seq, uint32_t d, struct item *it) {
        bool found = false;

        STORE_FOREACH(s, *it)
                if (it->seq == seq) {
                        found = true;
                        break;
                }
        assert_true(found);
        assert_int_equal(store_set_deliveries(s, it, d), 0);
        assert_int_equal(it->seq, seq);
        assert_int_equal(it->deliveries, d);
}

/* Records seq 1 to n in order, the payload of each at payload + seq, deliveries as want() says. */
static void assert_records(const struct item_store *s, unsigned n, uint32_t (*want)(uint64_t seq)) {
        struct item got;
        unsigned i = 0;

        STORE_FOREACH(s, got) {
                i++;
                assert_int_equal(got.seq, i);
                assert_int_equal(got.deliveries, want(i));
                assert_memory_equal(got.data, payload + i, 20);
                assert_int_equal(got.len, record_len(got.chunk, &got));
        }
        assert_int_equal(i, n);
}

static uint32_t big_counts(uint64_t seq) {
        return seq == 2 ? 0 : seq % 2 ? UINT32_MAX : 1u << 28;
}

/* Delivery counts rewritten longer in the room a chunk has left, and shorter. */
static void test_set_deliveries_in_place(void **state) {
        struct item_store s;
        struct item it;

        (void) state;
        store_init(&s);
        /* Six records of 24 bytes in a chunk of 200: room for six counts of 5 bytes. */
        for (uint64_t i = 1; i <= 6; i++)
                append(&s, &(struct item){ .data = payload + i, .size = 20, .put_ms = 7, .seq = i }, true);
        assert_int_equal(chunks(&s), 1);
        for (uint64_t seq = 1; seq <= 6; seq++)
                set_deliveries(&s, seq, seq % 2 ? UINT32_MAX : 1u << 28, &it);
        set_deliveries(&s, 2, 0, &it);
        assert_records(&s, 6, big_counts);
        store_clear(&s);
}

static uint32_t third_counted(uint64_t seq) {
        return seq == 3 ? 1000 : 0;
}

/* A chunk without room (here one inside another allocation, as a delivery's) is replaced by a larger one. */
static void test_set_deliveries_regrows(void **state) {
        struct item_store s;
        struct item it = { .size = 20, .put_ms = 7 };
        uint32_t len = 0;
        char *block;
        struct chunk *c, bases;

        (void) state;
        (void) chunk_init(&bases, NULL, 0, true);
        for (it.seq = 1; it.seq <= 4; it.seq++)
                len += record_len(&bases, &it);
        block = malloc(64 + chunk_size(len));
        assert_non_null(block);
        c = chunk_init(block + 64, block, len, true);
        for (it.seq = 1; it.seq <= 4; it.seq++) {
                it.data = payload + it.seq;
                chunk_append(c, &it);
                user_charge(NULL, item_cost(it.size));
        }
        assert_int_equal(chunk_room(c), 0);
        store_init(&s);
        store_push_head(&s, c);
        set_deliveries(&s, 3, 1000, &it);
        assert_int_equal(chunks(&s), 1);
        assert_ptr_not_equal(TAILQ_FIRST(&s.chunks), c);
        assert_records(&s, 4, third_counted);
        store_clear(&s);
}

/* A chunk inside another allocation (a delivery, a reply's record) is linked as it is and freed with it. */
static void test_chunk_of_another_block(void **state) {
        struct item_store s;
        struct item it = item_of(30, 2, 50, 0, NULL), got;
        uint32_t len = record_len_alone(&it, false);
        char *block = malloc(64 + chunk_size(len));
        struct chunk *c;

        (void) state;
        assert_non_null(block);
        c = chunk_init(block + 64, block, len, false);
        chunk_append(c, &it);
        assert_int_equal(chunk_room(c), 0);
        user_charge(NULL, item_cost(30));
        store_init(&s);
        append(&s, &(struct item){ .data = payload, .size = 5, .put_ms = 60 }, false);
        store_push_head(&s, c);
        assert_true(store_head(&s, &got));
        assert_item(&got, &it);
        user_uncharge(NULL, item_cost(30));
        store_remove(&s, &got);
        assert_int_equal(chunks(&s), 1);
        store_clear(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_records_read_back, setup, teardown),
                cmocka_unit_test_setup_teardown(test_small_item_cost, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chunks_grow, setup, teardown),
                cmocka_unit_test_setup_teardown(test_remove_and_insert_head, setup, teardown),
                cmocka_unit_test_setup_teardown(test_set_deliveries_in_place, setup, teardown),
                cmocka_unit_test_setup_teardown(test_set_deliveries_regrows, setup, teardown),
                cmocka_unit_test_setup_teardown(test_chunk_of_another_block, setup, teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
