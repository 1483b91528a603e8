/* SPDX-License-Identifier: MIT */
/*
 * The seeds' Manager().dict() and Manager().list() programs, with mpx: a
 * child process stores two keys in a shared dict, another appends three
 * items to a shared list, and the main process prints both once the child
 * is done, as Python's print() would.
 *
 * Then several processes at once: four workers each count 100 hits with an
 * atomic increment, mark themselves done in the dict, put their name at
 * their own index of a list and append 25 squares to another list. Python's
 * `d['hits'] += 1` on a Manager dict is a read and a write, and loses
 * updates when processes race; mpx_dict_incr() is one atomic request, so the
 * count is always exact. The main process creates the keys and slots in
 * order first, so that what it prints does not depend on which worker ran
 * first: a value overwritten keeps its key's place, as in Python.
 *
 * The objects are left in the daemon afterwards, to look at with
 * "mpxctl dict items examples.counters". The daemon is found through
 * $MPX_SOCKET, else the system socket.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpx.h"

#define DICT            "examples.dict"
#define LIST            "examples.list"
#define COUNTERS        "examples.counters"
#define WORKERS         "examples.workers"
#define RESULTS         "examples.results"

#define N_WORKERS       4
#define HITS_EACH       100
#define SQUARES_EACH    25

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

/* Say what failed and return 1 (an exit status). */
static int failed(const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, mpx_strerror(r));
        return 1;
}

/* The seed's fun(Dict): Dict['x'] = 'x'; Dict['y'] = 'y'. */
static int fill_dict(void) {
        mpx *m = connect_or_die();
        int r;

        r = mpx_dict_set(m, DICT, "x", 1, "x", 1);
        if (r >= 0)
                r = mpx_dict_set(m, DICT, "y", 1, "y", 1);
        mpx_disconnect(m);
        return r < 0 ? failed("dict set", r) : 0;
}

/* The seed's fun(my_list): append 'x', 'y' and 'z'. */
static int fill_list(void) {
        static const char *const items[] = { "x", "y", "z" };
        mpx *m = connect_or_die();
        int64_t r = 0;

        for (int i = 0; i < 3 && r >= 0; i++)
                r = mpx_list_append(m, LIST, items[i], 1);
        mpx_disconnect(m);
        return r < 0 ? failed("list append", (int) r) : 0;
}

/* One of several workers updating the same dict and lists at once. */
static int worker(int index) {
        struct iovec squares[SQUARES_EACH];
        char name[32], text[SQUARES_EACH][24];
        mpx *m = connect_or_die();
        int n = snprintf(name, sizeof(name), "worker%d", index);
        int64_t r = 0;

        for (int i = 0; i < HITS_EACH && r >= 0; i++)
                r = mpx_dict_incr(m, COUNTERS, "hits", 4, 1, NULL);
        if (r < 0)
                return failed("incr", (int) r);
        r = mpx_dict_set(m, COUNTERS, name, (size_t) n, "done", 4);
        if (r < 0)
                return failed("set", (int) r);
        r = mpx_list_set(m, WORKERS, index, name, (size_t) n);
        if (r < 0)
                return failed("list set", (int) r);
        for (int i = 0; i < SQUARES_EACH; i++) {
                int64_t k = index * SQUARES_EACH + i;
                int len = snprintf(text[i], sizeof(text[i]), "%" PRId64, k * k);

                squares[i] = (struct iovec) { .iov_base = text[i], .iov_len = (size_t) len };
        }
        r = mpx_list_extend(m, RESULTS, squares, SQUARES_EACH);
        if (r < 0)
                return failed("extend", (int) r);
        mpx_disconnect(m);
        return 0;
}

/* Run fn(arg) in a child process and wait for it, like Process(target=fn).start(); join(). */
static pid_t start(int (*fn)(int), int arg) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(fn(arg) | fflush(stdout));
        return pid;
}

/* Wait for a child; true if it exited 0. */
static int joined(pid_t pid) {
        int status;

        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int call_fill_dict(int unused) {
        return fill_dict();
}

static int call_fill_list(int unused) {
        return fill_list();
}

/* Print bytes as a Python string literal: 'x'. */
static void print_str(const mpx_buf *b) {
        putchar('\'');
        for (size_t i = 0; i < b->size; i++) {
                unsigned char c = ((const unsigned char *) b->data)[i];

                if (c == '\'' || c == '\\')
                        printf("\\%c", c);
                else if (c >= 0x20 && c < 0x7f)
                        putchar(c);
                else
                        printf("\\x%02x", c);
        }
        putchar('\'');
}

/* print(d): {'k': 'v', ...}, walking the dict a page at a time. */
static int print_dict(mpx *m, const char *name) {
        uint64_t cursor = 0;
        size_t printed = 0;

        putchar('{');
        do {
                mpx_buf *keys, *values;
                size_t n;
                int r = mpx_dict_items(m, name, cursor, 0, MPX_DICT_ITEMS, &keys, &values, &n, &cursor);

                if (r < 0)
                        return failed("items", r);
                for (size_t i = 0; i < n; i++, printed++) {
                        fputs(printed ? ", " : "", stdout);
                        print_str(&keys[i]);
                        fputs(": ", stdout);
                        print_str(&values[i]);
                }
                mpx_bufs_free(keys, n);
                mpx_bufs_free(values, n);
        } while (cursor != 0);
        puts("}");
        return 0;
}

/* print(l): ['a', 'b', ...]. */
static int print_list(mpx *m, const char *name) {
        mpx_buf *items;
        int64_t n = mpx_list_slice(m, name, 0, MPX_SLICE_END, &items);

        if (n < 0)
                return failed("slice", (int) n);
        putchar('[');
        for (int64_t i = 0; i < n; i++) {
                fputs(i ? ", " : "", stdout);
                print_str(&items[i]);
        }
        puts("]");
        mpx_bufs_free(items, (size_t) n);
        return 0;
}

/* Fresh objects of every name this program uses. */
static int declare_all(mpx *m) {
        static const char *const dicts[] = { DICT, COUNTERS };
        static const char *const lists[] = { LIST, WORKERS, RESULTS };
        int r;

        for (size_t i = 0; i < 2; i++) {
                mpx_delete(m, dicts[i]);
                r = mpx_dict_declare(m, dicts[i]);
                if (r < 0)
                        return failed(dicts[i], r);
        }
        for (size_t i = 0; i < 3; i++) {
                mpx_delete(m, lists[i]);
                r = mpx_list_declare(m, lists[i]);
                if (r < 0)
                        return failed(lists[i], r);
        }
        return 0;
}

int main(void) {
        mpx *m = connect_or_die();
        pid_t workers[N_WORKERS];
        mpx_buf *results = NULL;
        int64_t n, sum = 0;
        int ok = 1, r;

        if (declare_all(m))
                return 1;

        /* The seed's dict example. */
        ok &= joined(start(call_fill_dict, 0));
        ok &= print_dict(m, DICT) == 0;
        puts("over");

        /* The seed's list example. */
        ok &= joined(start(call_fill_list, 0));
        ok &= print_list(m, LIST) == 0;
        puts("over");

        /* Four workers at once. The keys and slots they fill exist first, in order. */
        r = mpx_dict_set(m, COUNTERS, "hits", 4, "0", 1);
        for (int i = 0; i < N_WORKERS && r >= 0; i++) {
                char name[32];
                int len = snprintf(name, sizeof(name), "worker%d", i);

                r = mpx_dict_set(m, COUNTERS, name, (size_t) len, "pending", 7);
                if (r >= 0)
                        r = (int) mpx_list_append(m, WORKERS, "", 0);
        }
        if (r < 0)
                return failed("prepare", r);
        for (int i = 0; i < N_WORKERS; i++)
                workers[i] = start(worker, i);
        for (int i = 0; i < N_WORKERS; i++)
                ok &= joined(workers[i]);

        ok &= print_dict(m, COUNTERS) == 0;
        ok &= print_list(m, WORKERS) == 0;
        n = mpx_list_slice(m, RESULTS, 0, MPX_SLICE_END, &results);
        if (n < 0)
                return failed("slice", (int) n);
        for (int64_t i = 0; i < n; i++) {
                char text[24];

                snprintf(text, sizeof(text), "%.*s", (int) results[i].size, (const char *) results[i].data);
                sum += strtoll(text, NULL, 10);
        }
        mpx_bufs_free(results, (size_t) n);
        printf("results: %" PRId64 " items, sum %" PRId64 "\n", n, sum);
        puts("over");

        mpx_disconnect(m);
        return ok ? 0 : 1;
}
