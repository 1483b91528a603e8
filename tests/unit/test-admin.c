/* SPDX-License-Identifier: MIT */
/*
 * LIST paging (admin.c): every object listed once, in creation order, page
 * after page, while objects are deleted and created between pages; several
 * listings at once, more than the daemon remembers where they stand; a type
 * filter. The daemon remembers where the last listings go on, so that a page
 * does not walk the objects before it: these tests hold what the cursor
 * means whether a page starts from memory or from a walk.
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
#include "field-list.h"
#include "unit-client.h"

#define OBJECTS 2500
#define NAME_MAX_LEN 32

/* One page of a listing. */
struct page {
        uint64_t next;
        uint32_t n;
        char names[1000][NAME_MAX_LEN];
};

static void declare_dict(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_DICT_DECLARE, "n", name);

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
}

static void declare_queue(struct client *c, const char *name) {
        struct reply rep = call(c, WIRE_OP_QUEUE_DECLARE, "nqw", name, (uint64_t) 0, 0u);

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
}

static void delete(struct client *c, const char *name) {
        expect_empty(c, WIRE_OP_DELETE, "n", name);
}

static void list_page(struct client *c, uint64_t cursor, uint32_t max, uint8_t type, struct page *p) {
        struct reply rep = call(c, WIRE_OP_LIST, "qwb", cursor, max, (unsigned) type);

        check_status_at(&rep, WIRE_OK, __FILE__, __LINE__);
        assert_true(wire_get_u64(&rep.r, &p->next) && wire_get_u32(&rep.r, &p->n));
        assert_true(p->n <= 1000);
        for (uint32_t i = 0; i < p->n; i++) {
                const char *name;
                size_t len;
                uint8_t t;

                assert_true(wire_get_name(&rep.r, &name, &len) && len < NAME_MAX_LEN);
                memcpy(p->names[i], name, len);
                p->names[i][len] = '\0';
                assert_true(wire_get_u8(&rep.r, &t));
                field_list_read(&rep.r, NULL, NULL);
        }
        assert_true(wire_reader_done(&rep.r));
}

static char (*names_of(unsigned n))[NAME_MAX_LEN] {
        char (*names)[NAME_MAX_LEN] = calloc(n, NAME_MAX_LEN);

        assert_non_null(names);
        for (unsigned i = 0; i < n; i++)
                snprintf(names[i], NAME_MAX_LEN, "o.%05u", i);
        return names;
}

/* Page after page, every object once and in creation order. */
static void test_list_pages(void **state) {
        struct client *a = client_add(*state, "test-admin");
        char (*names)[NAME_MAX_LEN] = names_of(OBJECTS);
        struct page *p = malloc(sizeof(*p));
        uint64_t cursor = 0;
        unsigned seen = 0, pages = 0;

        for (unsigned i = 0; i < OBJECTS; i++)
                declare_dict(a, names[i]);
        do {
                list_page(a, cursor, 100, 0, p);
                for (uint32_t i = 0; i < p->n; i++)
                        assert_string_equal(p->names[i], names[seen++]);
                cursor = p->next;
                pages++;
        } while (cursor);
        assert_int_equal(seen, OBJECTS);
        assert_int_equal(pages, OBJECTS / 100);
        /* A cursor asked again gives the same page. */
        list_page(a, 0, 100, 0, p);
        cursor = p->next;
        list_page(a, cursor, 100, 0, p);
        assert_string_equal(p->names[0], names[100]);
        list_page(a, cursor, 100, 0, p);
        assert_string_equal(p->names[0], names[100]);
        assert_string_equal(p->names[99], names[199]);
        free(p);
        free(names);
}

/*
 * Between pages: the object the cursor names (the first not yet listed) is
 * deleted, and so is one already listed, and one is created at the end.
 * The listing goes on from the next object and ends with the new ones.
 */
static void test_list_pages_while_changing(void **state) {
        struct client *a = client_add(*state, "test-admin");
        unsigned total = OBJECTS + OBJECTS / 100;
        char (*names)[NAME_MAX_LEN] = names_of(total);
        bool *gone = calloc(total, sizeof(*gone));
        struct page *p = malloc(sizeof(*p));
        uint64_t cursor = 0;
        unsigned created = OBJECTS, listed = 0, expect_at = 0, skipped = 0;

        for (unsigned i = 0; i < OBJECTS; i++)
                declare_dict(a, names[i]);
        do {
                list_page(a, cursor, 100, 0, p);
                for (uint32_t i = 0; i < p->n; i++) {
                        while (gone[expect_at])
                                expect_at++;
                        assert_string_equal(p->names[i], names[expect_at]);
                        expect_at++;
                        listed++;
                }
                cursor = p->next;
                if (!cursor)
                        break;
                /* The first not yet listed, then one listed, then a new one. */
                while (gone[expect_at])
                        expect_at++;
                delete(a, names[expect_at]);
                gone[expect_at] = true;
                skipped++;
                delete(a, names[expect_at - 2]);
                gone[expect_at - 2] = true;
                declare_dict(a, names[created++]);
        } while (cursor);
        /* Everything but what was deleted before its page came. */
        assert_int_equal(expect_at, created);
        assert_int_equal(listed, created - skipped);
        free(p);
        free(gone);
        free(names);
}

/* Twelve listings at once, a page of each in turn: more than the daemon remembers. */
static void test_list_many_listings(void **state) {
        struct client *a = client_add(*state, "test-admin");
        char (*names)[NAME_MAX_LEN] = names_of(1000);
        struct page *p = malloc(sizeof(*p));
        uint64_t cursors[12] = { 0 };
        unsigned seen[12] = { 0 };
        bool done[12] = { false }, all_done;

        for (unsigned i = 0; i < 1000; i++)
                declare_dict(a, names[i]);
        do {
                all_done = true;
                for (int l = 0; l < 12; l++) {
                        if (done[l])
                                continue;
                        /* Each its own page size, so that no two cursors agree. */
                        list_page(a, cursors[l], 30 + (uint32_t) l, 0, p);
                        for (uint32_t i = 0; i < p->n; i++)
                                assert_string_equal(p->names[i], names[seen[l]++]);
                        cursors[l] = p->next;
                        done[l] = p->next == 0;
                        all_done = all_done && done[l];
                }
        } while (!all_done);
        for (int l = 0; l < 12; l++)
                assert_int_equal(seen[l], 1000);
        free(p);
        free(names);
}

/* A type filter lists only that type, in creation order, across pages. */
static void test_list_type_filter(void **state) {
        struct client *a = client_add(*state, "test-admin");
        char (*names)[NAME_MAX_LEN] = names_of(600);
        struct page *p = malloc(sizeof(*p));
        uint64_t cursor = 0;
        unsigned seen = 0;

        for (unsigned i = 0; i < 600; i++) {
                if (i % 3 == 0)
                        declare_queue(a, names[i]);
                else
                        declare_dict(a, names[i]);
        }
        do {
                list_page(a, cursor, 50, WIRE_TYPE_QUEUE, p);
                for (uint32_t i = 0; i < p->n; i++) {
                        assert_string_equal(p->names[i], names[seen * 3]);
                        seen++;
                }
                cursor = p->next;
        } while (cursor);
        assert_int_equal(seen, 200);
        free(p);
        free(names);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                unit_client_test(test_list_pages),
                unit_client_test(test_list_pages_while_changing),
                unit_client_test(test_list_many_listings),
                unit_client_test(test_list_type_filter),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
