/* SPDX-License-Identifier: MIT */
/*
 * A smoke test of dicts and lists through libmpx on a redis:// address:
 *      dictlist-smoke ADDRESS
 * Every call is checked against what mpxd answers (docs/PROTOCOL.md 9.19-9.43,
 * 9.75, 9.76); the first difference is reported and the exit status is 1.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "mpx.h"
#include "smoke.h"

#define CHECK_BUF(buf, s)                                                                               \
        do {                                                                                            \
                if ((buf).size != strlen(s) || memcmp((buf).data, (s), (buf).size) != 0) {               \
                        fprintf(stderr, "%s:%d: %s is \"%.*s\", not \"%s\"\n", __FILE__, __LINE__, #buf,  \
                                (int) (buf).size, (const char *) (buf).data, (s));                      \
                        failures++;                                                                     \
                }                                                                                       \
                mpx_buf_clear(&(buf));                                                                  \
        } while (0)

#define S(s) s, strlen(s)

static void test_dict(mpx *m) {
        const char *d = "smoke.dict";
        struct iovec ks[3] = { { "u1", 2 }, { "u2", 2 }, { "a", 1 } };
        struct iovec vs[3] = { { "x", 1 }, { "y", 1 }, { "A2", 2 } };
        mpx_buf b, k, *keys, *values;
        uint64_t cursor, next;
        size_t n, total;
        int64_t v;

        mpx_delete(m, d);
        CHECK_EQ(mpx_dict_set(m, d, S("a"), S("1")), -ENOENT);
        CHECK_EQ(mpx_dict_declare(m, d), 1);
        CHECK_EQ(mpx_dict_declare(m, d), 0);
        CHECK_EQ(mpx_list_declare(m, d), -EPROTOTYPE);
        CHECK_EQ(mpx_dict_set(m, d, S("a"), S("1")), 0);
        CHECK_EQ(mpx_dict_set(m, d, S("b"), S("2")), 0);
        CHECK_EQ(mpx_dict_set(m, d, S("c"), S("")), 0);
        CHECK_EQ(mpx_dict_set(m, d, S("a"), S("3")), 0);
        CHECK_EQ(mpx_dict_len(m, d), 3);
        CHECK_EQ(mpx_dict_get(m, d, S("a"), &b), 0);
        CHECK_BUF(b, "3");
        CHECK_EQ(mpx_dict_get(m, d, S("zz"), &b), -ENOENT);
        CHECK_EQ(mpx_dict_contains(m, d, S("b")), 1);
        CHECK_EQ(mpx_dict_contains(m, d, S("zz")), 0);
        CHECK_EQ(mpx_dict_popitem(m, d, &k, &b), 0);
        CHECK_BUF(k, "c");
        CHECK_BUF(b, "");
        CHECK_EQ(mpx_dict_update(m, d, ks, vs, 3), 0);
        CHECK_EQ(mpx_dict_setdefault(m, d, S("b"), S("z"), &b), 0);
        CHECK_BUF(b, "2");
        CHECK_EQ(mpx_dict_setdefault(m, d, S("e"), S("5"), &b), 0);
        CHECK_BUF(b, "5");
        CHECK_EQ(mpx_dict_pop(m, d, S("e"), &b), 0);
        CHECK_BUF(b, "5");
        CHECK_EQ(mpx_dict_pop(m, d, S("e"), &b), -ENOENT);
        CHECK_EQ(mpx_dict_del(m, d, S("e")), -ENOENT);

        /* Insertion order, a page of 1 at a time. */
        const char *order[] = { "a", "b", "u1", "u2" }, *vals[] = { "A2", "2", "x", "y" };
        cursor = 0;
        total = 0;
        do {
                CHECK_EQ(mpx_dict_items(m, d, cursor, 1, MPX_DICT_ITEMS, &keys, &values, &n, &next), 0);
                CHECK_EQ(n, 1);
                if (n == 1 && total < 4) {
                        CHECK_BUF(keys[0], order[total]);
                        CHECK_BUF(values[0], vals[total]);
                }
                mpx_bufs_free(keys, n);
                mpx_bufs_free(values, n);
                total += n;
                cursor = next;
        } while (cursor != 0 && total < 10);
        CHECK_EQ(total, 4);
        CHECK_EQ(mpx_dict_items(m, d, 0, 0, 4, &keys, &values, &n, &next), -EINVAL);

        /* Integers (11.3). */
        CHECK_EQ(mpx_dict_incr(m, d, S("n"), 5, &v), 0);
        CHECK_EQ(v, 5);
        CHECK_EQ(mpx_dict_set(m, d, S("n"), S("-007")), 0);
        CHECK_EQ(mpx_dict_incr(m, d, S("n"), INT64_MAX, &v), 0);
        CHECK_EQ(v, INT64_MAX - 7);
        CHECK_EQ(mpx_dict_incr(m, d, S("n"), 8, &v), -ERANGE);
        CHECK_EQ(mpx_dict_set(m, d, S("n"), S("9223372036854775808")), 0);
        CHECK_EQ(mpx_dict_incr(m, d, S("n"), 0, &v), -ERANGE);
        CHECK_EQ(mpx_dict_set(m, d, S("n"), S("+1")), 0);
        CHECK_EQ(mpx_dict_incr(m, d, S("n"), 1, &v), -EINVAL);
        CHECK_EQ(mpx_dict_get(m, d, S("n"), &b), 0);
        CHECK_BUF(b, "+1");

        /* Compare and set (9.31). */
        CHECK_EQ(mpx_dict_cas(m, d, S("a"), S("A2"), S("A3"), &b), 1);
        CHECK_BUF(b, "A3");
        CHECK_EQ(mpx_dict_cas(m, d, S("a"), S("A2"), S("A4"), &b), 0);
        CHECK_BUF(b, "A3");
        CHECK_EQ(mpx_dict_cas(m, d, S("new"), NULL, 0, S("N"), NULL), 1);
        CHECK_EQ(mpx_dict_cas(m, d, S("new"), S("N"), NULL, 0, &b), 1);
        CHECK_EQ(b.data == NULL, 1);
        CHECK_EQ(mpx_dict_contains(m, d, S("new")), 0);

        CHECK_EQ(mpx_dict_clear(m, d), 5);
        CHECK_EQ(mpx_dict_len(m, d), 0);
        CHECK_EQ(mpx_dict_popitem(m, d, &k, &b), -ENOENT);
        CHECK_EQ(mpx_delete(m, d), 0);
        CHECK_EQ(mpx_dict_len(m, d), -ENOENT);
}

static void test_list(mpx *m) {
        const char *l = "smoke.list";
        struct iovec items[3] = { { "b", 1 }, { "c", 1 }, { "d", 1 } };
        struct iovec sorted[4] = { { "a", 1 }, { "b", 1 }, { "c", 1 }, { "d", 1 } };
        mpx_buf b, *got;
        uint64_t version;
        int64_t n;

        mpx_delete(m, l);
        CHECK_EQ(mpx_list_append(m, l, S("a")), -ENOENT);
        CHECK_EQ(mpx_list_declare(m, l), 1);
        CHECK_EQ(mpx_list_declare(m, l), 0);
        CHECK_EQ(mpx_dict_declare(m, l), -EPROTOTYPE);
        CHECK_EQ(mpx_list_get(m, l, 0, &b), -ERANGE);
        CHECK_EQ(mpx_list_pop(m, l, -1, &b), -ERANGE);
        CHECK_EQ(mpx_list_append(m, l, S("a")), 1);
        CHECK_EQ(mpx_list_extend(m, l, items, 3), 4);
        CHECK_EQ(mpx_list_insert(m, l, 2, S("X")), 5);            /* a b X c d */
        CHECK_EQ(mpx_list_insert(m, l, INT64_MIN, S("F")), 6);    /* F a b X c d */
        CHECK_EQ(mpx_list_insert(m, l, INT64_MAX, S("L")), 7);    /* F a b X c d L */
        CHECK_EQ(mpx_list_get(m, l, -4, &b), 0);
        CHECK_BUF(b, "X");
        CHECK_EQ(mpx_list_get(m, l, 7, &b), -ERANGE);
        CHECK_EQ(mpx_list_get(m, l, INT64_MIN, &b), -ERANGE);
        CHECK_EQ(mpx_list_set(m, l, -1, S("M")), 0);
        CHECK_EQ(mpx_list_set(m, l, 9, S("M")), -ERANGE);
        CHECK_EQ(mpx_list_pop(m, l, 3, &b), 0);
        CHECK_BUF(b, "X");
        CHECK_EQ(mpx_list_pop(m, l, 0, &b), 0);
        CHECK_BUF(b, "F");
        CHECK_EQ(mpx_list_index(m, l, S("M")), 4);
        CHECK_EQ(mpx_list_index(m, l, S("zz")), -ENOENT);
        CHECK_EQ(mpx_list_remove(m, l, S("M")), 0);
        CHECK_EQ(mpx_list_remove(m, l, S("M")), -ENOENT);
        CHECK_EQ(mpx_list_len(m, l), 4);                          /* a b c d */

        n = mpx_list_slice(m, l, -3, MPX_SLICE_END, &got);
        CHECK_EQ(n, 3);
        if (n == 3) {
                CHECK_BUF(got[0], "b");
                CHECK_BUF(got[2], "d");
        }
        mpx_bufs_free(got, n > 0 ? (size_t) n : 0);
        CHECK_EQ(mpx_list_slice(m, l, 3, 1, &got), 0);
        mpx_bufs_free(got, 0);

        /* Reverse, then sort back with the version read. */
        n = mpx_list_slice_version(m, l, 0, MPX_SLICE_END, &got, &version);
        CHECK_EQ(n, 4);
        mpx_bufs_free(got, n > 0 ? (size_t) n : 0);
        CHECK_EQ(mpx_list_splice(m, l, 0, MPX_SLICE_END, version, items, 3, NULL), 1);
        CHECK_EQ(mpx_list_len(m, l), 3);
        CHECK_EQ(mpx_list_splice(m, l, 0, MPX_SLICE_END, version, sorted, 4, NULL), 0);
        CHECK_EQ(mpx_list_len(m, l), 3);
        CHECK_EQ(mpx_list_splice(m, l, 0, MPX_SLICE_END, 0, sorted, 4, NULL), 1);
        CHECK_EQ(mpx_list_len(m, l), 4);
        CHECK_EQ(mpx_list_clear(m, l), 4);
        CHECK_EQ(mpx_list_len(m, l), 0);

        /* A slice bigger than a frame comes in several replies. */
        {
                size_t size = 1u << 20;
                char *big = malloc(size);
                struct iovec one = { big, size };

                memset(big, 'x', size);
                for (int i = 0; i < 20; i++) {
                        big[0] = (char) ('A' + i);
                        CHECK_EQ(mpx_list_extend(m, l, &one, 1), i + 1);
                }
                n = mpx_list_slice_version(m, l, 0, MPX_SLICE_END, &got, &version);
                CHECK_EQ(n, 20);
                for (int64_t i = 0; i < n; i++)
                        CHECK_EQ(got[i].size == size && ((char *) got[i].data)[0] == 'A' + i, 1);
                mpx_bufs_free(got, n > 0 ? (size_t) n : 0);
                free(big);
        }
        CHECK_EQ(mpx_delete(m, l), 0);
}

/* Flags of the declares; a counted dict or list lives while a connection holds a reference. */
static void test_flags(mpx *m, const char *address) {
        mpx *other;

        mpx_delete(m, "smoke.counted");
        CHECK_EQ(mpx_dict_declare_flags(m, "smoke.d", MPX_DURABLE | MPX_COUNTED), -EINVAL);
        CHECK_EQ(mpx_list_declare_flags(m, "smoke.l", 1), -EINVAL);
        if (mpx_connect(address, &other) < 0) {
                failures++;
                return;
        }
        CHECK_EQ(mpx_list_declare_flags(other, "smoke.counted", MPX_COUNTED), 1);
        CHECK_EQ(mpx_list_declare_flags(m, "smoke.counted", MPX_COUNTED), 0);
        CHECK_EQ(mpx_list_append(m, "smoke.counted", S("x")), 1);
        mpx_disconnect(other);
        /* m's reference keeps it. */
        CHECK_EQ(mpx_list_len(m, "smoke.counted"), 1);
        if (mpx_connect(address, &other) < 0) {
                failures++;
                return;
        }
        CHECK_EQ(mpx_dict_declare_flags(other, "smoke.counted2", MPX_COUNTED), 1);
        CHECK_EQ(mpx_dict_len(m, "smoke.counted2"), 0);
        mpx_disconnect(other);
        CHECK_EQ(mpx_dict_len(m, "smoke.counted2"), -ENOENT);
}

int main(int argc, char **argv) {
        mpx *m;
        int r;

        if (argc != 2) {
                fprintf(stderr, "usage: %s ADDRESS\n", argv[0]);
                return 2;
        }
        r = mpx_connect(argv[1], &m);
        if (r < 0) {
                fprintf(stderr, "mpx_connect %s: %s\n", argv[1], strerror(-r));
                return 1;
        }
        test_dict(m);
        test_list(m);
        test_flags(m, argv[1]);
        mpx_disconnect(m);
        /* The last reference went with m. */
        if (mpx_connect(argv[1], &m) == 0) {
                CHECK_EQ(mpx_list_len(m, "smoke.counted"), -ENOENT);
                mpx_disconnect(m);
        }
        if (failures)
                return 1;
        printf("dicts and lists: ok\n");
        return 0;
}
