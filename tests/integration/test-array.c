/* SPDX-License-Identifier: MIT */
/*
 * Typed values and arrays against a real mpxd, driven through libmpx by
 * real forked processes, each with its own connection: the seeds' money
 * program done right (concurrent atomic adds, through the daemon and
 * through a mapping at once, end at the exact sum), two unrelated processes
 * playing ping-pong through a mapped array at memory speed, the daemon's
 * get/set/add/cas and mappings seeing one memory, a mapping outliving its
 * object, arrays larger than one message, descriptors not leaking, one
 * round trip per element access, a wrong type code refused with nothing
 * read or written, and the error paths of the API (-ERANGE, -EINVAL,
 * -EPROTOTYPE, -EEXIST, -ENOENT).
 *
 * Each test starts its own daemon and stops it in teardown, where a crash or
 * (with MPX_TEST_VALGRIND=1) a memory error of the daemon fails the test.
 * Processes wait for each other through pipes, blocking calls and the
 * shared memory itself (bounded spins on atomic loads), never through sleeps.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "monotonic.h"
#include "open-fds.h"

#define WATCHDOG_S              60
#define WATCHDOG_VALGRIND_S     900

/* A spin on shared memory that has not seen its value after this long has failed. */
#define SPIN_LIMIT_MS           20000

/* The daemon of each test (harness_test). */
static const struct harness_options harness_options = { "test-array", WATCHDOG_S, WATCHDOG_VALGRIND_S, NULL };

/* ---- helpers of the forked children: no cmocka in there, just an exit status ---- */

/*
 * Block until the parent closes the write end of the start pipe: everyone
 * starts together. The child's own copy of the write end (inherited at fork)
 * must be closed first, or the end of file never comes.
 */
static void wait_start(int fd, int write_end) {
        char c;

        close(write_end);

        while (read(fd, &c, 1) < 0 && errno == EINTR)
                ;
        close(fd);
}

/*
 * Spin on *p with atomic loads until it equals want, or give up after
 * SPIN_LIMIT_MS (checking the clock only every so many loads). Returns true
 * when the value came.
 */
static bool spin_until(const int32_t *p, int32_t want) {
        int64_t deadline = monotonic_ms() + SPIN_LIMIT_MS;

        for (;;) {
                for (int i = 0; i < 1 << 16; i++)
                        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
                                return true;
                if (monotonic_ms() > deadline)
                        return false;
        }
}

/* The number of descriptors open in this process. */
static int count_fds(void) {
        int n = open_fds_count();

        assert_true(n >= 0);
        return n;
}

/* ---- 1. the seeds' money program, done right ---- */

#define MONEY_ROUNDS 10000

/*
 * Two processes add to Value('i', 5000) through the daemon, MONEY_ROUNDS
 * times each, while a third adds 1 through a mapping with C11 atomics for as
 * long as the other two run. "tally" (an Array('q', 2)) says when the two
 * are done (element 0) and how many adds the third made (element 1).
 */
struct money_arg {
        const char *socket;
        int start_fd;
        int start_write_fd;             /* the parent's end, closed in the child */
        int32_t amount;                 /* added MONEY_ROUNDS times through the daemon */
        bool mapped;                    /* adds 1 through a mapping until the others are done */
};

static int money_child(void *arg) {
        const struct money_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        mpx_map map = { 0 }, tally = { 0 };
        int64_t one = 1, n = 0;

        child_check(m);
        if (a->mapped) {
                child_check_r(mpx_array_map(m, "money", &map), 0);
                child_check(map.typecode == 'i' && map.length == 1 && map.size == 4);
                child_check_r(mpx_array_map(m, "tally", &tally), 0);
        }
        wait_start(a->start_fd, a->start_write_fd);
        if (a->mapped) {
                int64_t deadline = monotonic_ms() + SPIN_LIMIT_MS;

                /* At least MONEY_ROUNDS adds, and on until both others have finished theirs. */
                while (n < MONEY_ROUNDS || __atomic_load_n((int64_t *) tally.addr, __ATOMIC_ACQUIRE) < 2) {
                        __atomic_fetch_add((int32_t *) map.addr, 1, __ATOMIC_SEQ_CST);
                        n++;
                        child_check((n & 0xffff) || monotonic_ms() < deadline);
                }
                child_check_r(mpx_array_set(m, "tally", 'q', 1, 1, &n), 0);
        } else {
                for (int i = 0; i < MONEY_ROUNDS; i++)
                        child_check_r(mpx_array_add(m, "money", 'i', 0, &a->amount, NULL), 0);
                child_check_r(mpx_array_add(m, "tally", 'q', 0, &one, NULL), 0);
        }
        mpx_map_release(&map);
        mpx_map_release(&tally);
        mpx_disconnect(m);
        return 0;
}

static void test_money(void **state) {
        struct harness_fixture *f = *state;
        int32_t initial = 5000, balance = 0, delta = 0, after = 0, one = 1;
        int64_t counts[2] = { 0, 0 }, requests;
        uint32_t expected;
        struct money_arg args[3] = {
                { .socket = f->d.socket, .amount = 7 },                 /* man: earns */
                { .socket = f->d.socket, .amount = -3 },                /* girl: spends */
                { .socket = f->d.socket, .mapped = true },              /* a third, through memory */
        };
        pid_t pids[3];
        int start[2];
        mpx_info info = { 0 };
        const mpx_field *fl;
        char text[32];

        assert_int_equal(mpx_value_declare(f->m, "money", 'i', &initial), 1);
        assert_int_equal(mpx_array_declare(f->m, "tally", 'q', 2, NULL), 1);
        /* Declaring and INFO are not requests on the value; every array access is. */
        requests = harness_field(f->m, "money", "requests");
        assert_int_equal(pipe2(start, O_CLOEXEC), 0);
        for (int i = 0; i < 3; i++) {
                args[i].start_fd = start[0];
                args[i].start_write_fd = start[1];
                pids[i] = harness_fork(money_child, &args[i]);
        }
        close(start[0]);
        /* Every child blocks on the pipe until now: they all run at once. */
        close(start[1]);
        for (int i = 0; i < 3; i++)
                assert_int_equal(harness_wait(pids[i]), 0);
        /*
         * One round trip per add, the type code sent along: the value was
         * named by the 2 * MONEY_ROUNDS adds and the third child's MAP, and
         * by nothing else (no lookup of the type before an add).
         */
        assert_int_equal(harness_field(f->m, "money", "requests") - requests, 2 * MONEY_ROUNDS + 1);
        /* "tally": the two adds, the set and the MAP. */
        assert_int_equal(harness_field(f->m, "tally", "requests"), 4);

        assert_int_equal(mpx_array_get(f->m, "tally", 'q', 0, 2, counts), 0);
        assert_int_equal(counts[0], 2);
        assert_true(counts[1] >= MONEY_ROUNDS);
        /* Exact, not one add lost, modulo 2**32 since an int wraps. */
        expected = 5000u + MONEY_ROUNDS * (7u - 3u) + (uint32_t) counts[1];
        assert_int_equal(mpx_array_get(f->m, "money", 'i', 0, 1, &balance), 0);
        assert_int_equal((uint32_t) balance, expected);
        assert_int_equal(harness_field(f->m, "money", "adds"), 2 * MONEY_ROUNDS);

        /* The value is listed as a value, and its text follows it. */
        assert_int_equal(mpx_object_info(f->m, "money", &info), 0);
        assert_string_equal(info.type, "value");
        fl = mpx_info_get(&info, "value");
        assert_non_null(fl);
        assert_true(fl->is_str);
        snprintf(text, sizeof(text), "%d", balance);
        assert_string_equal(fl->str, text);
        mpx_info_clear(&info);
        /* add returns the new value. */
        delta = -balance;
        assert_int_equal(mpx_array_add(f->m, "money", 'i', -1, &delta, &after), 0);
        assert_int_equal(after, 0);

        /* From one connection, in sequence: N adds are N requests. */
        requests = harness_field(f->m, "money", "requests");
        for (int i = 0; i < 100; i++)
                assert_int_equal(mpx_array_add(f->m, "money", 'i', 0, &one, NULL), 0);
        assert_int_equal(harness_field(f->m, "money", "requests") - requests, 100);
        assert_int_equal(mpx_array_get(f->m, "money", 'i', 0, 1, &balance), 0);
        assert_int_equal(balance, 100);
}

/* ---- 2. two unrelated processes, one memory ---- */

#define PINGPONG_ROUNDS 2000
#define PINGPONG_SLOTS  64

struct pingpong_arg {
        const char *socket;
        bool first;                     /* plays the odd turns */
};

/*
 * Element 0 is the turn. On its turn, a player writes its turn number into
 * every slot (1 .. PINGPONG_SLOTS) with atomic stores, then passes the turn
 * with a release store; the other checks the slots after an acquire load.
 * Nothing but the mapped memory carries the game.
 */
static int pingpong_child(void *arg) {
        const struct pingpong_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        mpx_map map = { 0 };
        int32_t *mem;

        child_check(m);
        child_check_r(mpx_array_map(m, "board", &map), 0);
        child_check(map.length == PINGPONG_SLOTS + 1 && map.typecode == 'i');
        mem = map.addr;
        for (int32_t turn = a->first ? 1 : 2; turn <= PINGPONG_ROUNDS; turn += 2) {
                if (!spin_until(&mem[0], turn - 1)) {
                        fprintf(stderr, "child %ld: turn %d never came (board at %d)\n", (long) getpid(), turn,
                                __atomic_load_n(&mem[0], __ATOMIC_SEQ_CST));
                        return 1;
                }
                /* The other player's writes are all visible. */
                for (int i = 1; i <= PINGPONG_SLOTS; i++)
                        child_check(__atomic_load_n(&mem[i], __ATOMIC_RELAXED) == turn - 1);
                for (int i = 1; i <= PINGPONG_SLOTS; i++)
                        __atomic_store_n(&mem[i], turn, __ATOMIC_RELAXED);
                __atomic_store_n(&mem[0], turn, __ATOMIC_RELEASE);
        }
        mpx_map_release(&map);
        mpx_disconnect(m);
        return 0;
}

static void test_processes_share_memory(void **state) {
        struct harness_fixture *f = *state;
        struct pingpong_arg first = { .socket = f->d.socket, .first = true };
        struct pingpong_arg second = { .socket = f->d.socket, .first = false };
        int32_t got[PINGPONG_SLOTS + 1];
        int64_t started;
        pid_t a, b;

        assert_int_equal(mpx_array_declare(f->m, "board", 'i', PINGPONG_SLOTS + 1, NULL), 1);
        started = monotonic_ms();
        a = harness_fork(pingpong_child, &first);
        b = harness_fork(pingpong_child, &second);
        assert_int_equal(harness_wait(a), 0);
        assert_int_equal(harness_wait(b), 0);
        /* Two thousand hand-overs, none through the daemon, in well under the spin limit. */
        assert_true(monotonic_ms() - started < SPIN_LIMIT_MS);

        /* The daemon sees the last writes of both. */
        assert_int_equal(mpx_array_get(f->m, "board", 'i', 0, PINGPONG_SLOTS + 1, got), 0);
        for (int i = 0; i <= PINGPONG_SLOTS; i++)
                assert_int_equal(got[i], PINGPONG_ROUNDS);
        assert_int_equal(harness_field(f->m, "board", "maps"), 2);
        assert_int_equal(harness_field(f->m, "board", "sets"), 0);
}

/* ---- 3. the daemon and a mapping see one memory ---- */

static void test_daemon_and_mapping_agree(void **state) {
        struct harness_fixture *f = *state;
        int64_t init[4] = { 1, -2, 3, -4 }, got[4], v = 0, expected, desired;
        double d_init[2] = { 0.5, 0 }, d_delta = 0.25, d_new = 0;
        mpx_map map = { 0 }, dmap = { 0 }, cmap = { 0 };
        int64_t *mem;
        double *dmem;

        assert_int_equal(mpx_array_declare(f->m, "q", 'q', 4, init), 1);
        assert_int_equal(mpx_array_map(f->m, "q", &map), 0);
        assert_int_equal(map.typecode, 'q');
        assert_int_equal(map.length, 4);
        assert_int_equal(map.size, 32);
        mem = map.addr;
        assert_memory_equal(mem, init, sizeof(init));

        /* A mapped write, seen by the daemon's get. */
        __atomic_store_n(&mem[2], INT64_MAX, __ATOMIC_SEQ_CST);
        assert_int_equal(mpx_array_get(f->m, "q", 'q', -2, 1, &v), 0);
        assert_true(v == INT64_MAX);
        /* The daemon's set and add, seen through the mapping. */
        v = -77;
        assert_int_equal(mpx_array_set(f->m, "q", 'q', 0, 1, &v), 0);
        assert_true(__atomic_load_n(&mem[0], __ATOMIC_SEQ_CST) == -77);
        v = 1;
        assert_int_equal(mpx_array_add(f->m, "q", 'q', 2, &v, &got[0]), 0);
        assert_true(got[0] == INT64_MIN);
        assert_true(__atomic_load_n(&mem[2], __ATOMIC_SEQ_CST) == INT64_MIN);
        /* cas against what the mapping wrote. */
        __atomic_store_n(&mem[3], 1000, __ATOMIC_SEQ_CST);
        expected = -4;
        desired = 5;
        assert_int_equal(mpx_array_cas(f->m, "q", 'q', 3, &expected, &desired, &v), 0);
        assert_true(v == 1000);
        expected = 1000;
        assert_int_equal(mpx_array_cas(f->m, "q", 'q', 3, &expected, &desired, &v), 1);
        assert_true(v == 5);
        assert_true(__atomic_load_n(&mem[3], __ATOMIC_SEQ_CST) == 5);
        /* A run set by the daemon. */
        assert_int_equal(mpx_array_set(f->m, "q", 'q', 1, 3, init), 0);
        assert_memory_equal(mem + 1, init, 3 * sizeof(int64_t));
        assert_int_equal(mpx_array_get(f->m, "q", 'q', 0, 4, got), 0);
        assert_memory_equal(got, mem, sizeof(got));

        /* Doubles add as doubles, wherever the other half was written. */
        assert_int_equal(mpx_array_declare(f->m, "d", 'd', 2, d_init), 1);
        assert_int_equal(mpx_array_map(f->m, "d", &dmap), 0);
        dmem = dmap.addr;
        dmem[1] = 1.5;
        assert_int_equal(mpx_array_add(f->m, "d", 'd', 1, &d_delta, &d_new), 0);
        assert_true(d_new == 1.75);
        assert_true(dmem[1] == 1.75);
        assert_true(dmem[0] == 0.5);

        /* Array('c', b'Hello') */
        assert_int_equal(mpx_array_declare(f->m, "greeting", 'c', 5, "Hello"), 1);
        assert_int_equal(mpx_array_map(f->m, "greeting", &cmap), 0);
        assert_int_equal(cmap.size, 5);
        assert_memory_equal(cmap.addr, "Hello", 5);
        assert_int_equal(mpx_array_set(f->m, "greeting", 'c', 0, 1, "J"), 0);
        assert_memory_equal(cmap.addr, "Jello", 5);

        mpx_map_release(&map);
        assert_null(map.addr);
        mpx_map_release(&dmap);
        mpx_map_release(&cmap);
        mpx_map_release(&cmap);         /* twice is harmless */
        mpx_map_release(NULL);
}

/* ---- 4. a mapping outlives its object ---- */

struct reader_arg {
        const char *socket;
        int ready_fd;                   /* write end: "mapped" */
        int ready_read_fd;              /* the parent's end, closed in the child */
        int go_fd;                      /* read end: the parent deleted the array */
        int go_write_fd;                /* the parent's end, closed in the child */
};

/* Map, tell the parent, wait until it deleted the array, then use the memory. */
static int late_reader(void *arg) {
        const struct reader_arg *a = arg;
        mpx *m = harness_child_connect(a->socket);
        mpx_map map = { 0 };
        int32_t *mem;

        child_check(m);
        child_check_r(mpx_array_map(m, "gone", &map), 0);
        child_check(write(a->ready_fd, "m", 1) == 1);
        close(a->ready_read_fd);
        wait_start(a->go_fd, a->go_write_fd);
        mem = map.addr;
        child_check(__atomic_load_n(&mem[0], __ATOMIC_SEQ_CST) == 42);
        __atomic_store_n(&mem[1], 43, __ATOMIC_SEQ_CST);
        child_check(mem[1] == 43);
        child_check_r(mpx_array_map(m, "gone", &map), -ENOENT);
        mpx_map_release(&map);
        mpx_disconnect(m);
        return 0;
}

static void test_mapping_outlives_delete(void **state) {
        struct harness_fixture *f = *state;
        int32_t init[2] = { 42, 0 }, v = -1;
        mpx_map map = { 0 }, fresh = { 0 };
        int ready[2], go[2];
        struct reader_arg ra;
        pid_t pid;
        char c;

        assert_int_equal(mpx_array_declare(f->m, "gone", 'i', 2, init), 1);
        assert_int_equal(mpx_array_map(f->m, "gone", &map), 0);
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);
        assert_int_equal(pipe2(go, O_CLOEXEC), 0);
        ra = (struct reader_arg) {
                .socket = f->d.socket,
                .ready_fd = ready[1],
                .ready_read_fd = ready[0],
                .go_fd = go[0],
                .go_write_fd = go[1],
        };
        pid = harness_fork(late_reader, &ra);
        close(ready[1]);
        close(go[0]);
        assert_int_equal(read(ready[0], &c, 1), 1);

        assert_int_equal(mpx_delete(f->m, "gone"), 0);
        assert_int_equal(mpx_array_get(f->m, "gone", 'i', 0, 1, &v), -ENOENT);
        close(go[1]);
        assert_int_equal(harness_wait(pid), 0);
        /* The child's write after the delete, through the memory both still map. */
        assert_int_equal(((int32_t *) map.addr)[1], 43);

        /* The name is free again: a new array with new, zeroed memory. */
        assert_int_equal(mpx_array_declare(f->m, "gone", 'i', 2, NULL), 1);
        assert_int_equal(mpx_array_map(f->m, "gone", &fresh), 0);
        assert_int_equal(((int32_t *) fresh.addr)[0], 0);
        ((int32_t *) map.addr)[0] = 7;
        assert_int_equal(mpx_array_get(f->m, "gone", 'i', 0, 1, &v), 0);
        assert_int_equal(v, 0);
        mpx_map_release(&map);
        mpx_map_release(&fresh);
        close(ready[0]);
}

/* ---- 5. larger than one message ---- */

static void test_large_array(void **state) {
        struct harness_fixture *f = *state;
        size_t max = mpx_max_message(f->m), n = max / 4 + 1000, chunk = max / 4;
        int32_t *buf = malloc(chunk * sizeof(int32_t));
        mpx_map map = { 0 };
        int32_t *mem;

        assert_non_null(buf);
        /* More than one message of initial contents is refused before it is sent. */
        assert_int_equal(mpx_array_declare(f->m, "big", 'i', (uint32_t) n, buf), -EMSGSIZE);
        assert_int_equal(mpx_array_declare(f->m, "big", 'i', (uint32_t) n, NULL), 1);
        assert_int_equal(mpx_array_map(f->m, "big", &map), 0);
        assert_int_equal(map.size, n * 4);
        mem = map.addr;
        for (size_t i = 0; i < n; i++)
                mem[i] = (int32_t) (i * 2654435761u);
        /* A get of the whole is over the limit; in two pieces it is not. */
        assert_int_equal(mpx_array_get(f->m, "big", 'i', 0, (uint32_t) n, buf), -EMSGSIZE);
        assert_int_equal(mpx_array_get(f->m, "big", 'i', 0, (uint32_t) chunk, buf), 0);
        assert_memory_equal(buf, mem, chunk * 4);
        assert_int_equal(mpx_array_get(f->m, "big", 'i', (int64_t) chunk, (uint32_t) (n - chunk), buf), 0);
        assert_memory_equal(buf, mem + chunk, (n - chunk) * 4);
        assert_int_equal(mpx_array_set(f->m, "big", 'i', 0, (uint32_t) n, mem), -EMSGSIZE);
        memset(buf, 0xab, chunk * 4);
        assert_int_equal(mpx_array_set(f->m, "big", 'i', -(int64_t) chunk, (uint32_t) chunk, buf), 0);
        assert_int_equal(mem[n - 1], (int32_t) 0xabababab);
        assert_int_equal(mem[n - chunk - 1], (int32_t) ((n - chunk - 1) * 2654435761u));
        mpx_map_release(&map);
        free(buf);
        /* The connection is still good. */
        assert_int_equal(mpx_ping(f->m), 0);
}

/* ---- 6. descriptors: one per mapping, closed once mapped ---- */

static void test_no_descriptor_leak(void **state) {
        struct harness_fixture *f = *state;
        mpx_map maps[20];
        int before, r;

        assert_int_equal(mpx_array_declare(f->m, "a", 'B', 100, NULL), 1);
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        before = count_fds();
        for (int round = 0; round < 5; round++) {
                for (int i = 0; i < 20; i++)
                        assert_int_equal(mpx_array_map(f->m, "a", &maps[i]), 0);
                /* Failed maps bring no descriptor, and leave the output untouched. */
                maps[0].length = 12345;
                r = mpx_array_map(f->m, "q", &maps[0]);
                assert_int_equal(r, -EPROTOTYPE);
                assert_int_equal(maps[0].length, 12345);
                maps[0].length = 100;
                assert_int_equal(count_fds(), before);
                for (int i = 0; i < 20; i++) {
                        ((uint8_t *) maps[i].addr)[i] = (uint8_t) (round + 1);
                        mpx_map_release(&maps[i]);
                }
        }
        assert_int_equal(count_fds(), before);
        assert_int_equal(harness_field(f->m, "a", "maps"), 100);
        {
                uint8_t got[20];

                assert_int_equal(mpx_array_get(f->m, "a", 'B', 0, 20, got), 0);
                for (int i = 0; i < 20; i++)
                        assert_int_equal(got[i], 5);
        }
}

/* ---- 7. a wrong type code: refused, nothing read or written ---- */

#define CANARY 0x5a

/* true if all n bytes at p are CANARY. */
static bool untouched(const void *p, size_t n) {
        const uint8_t *b = p;

        for (size_t i = 0; i < n; i++)
                if (b[i] != CANARY)
                        return false;
        return true;
}

static void test_wrong_typecode(void **state) {
        struct harness_fixture *f = *state;
        int64_t init[4] = { 1, -2, 3, -4 }, got[4], q = 0, requests;
        double d = 0;
        struct {
                int32_t dst[4];         /* room for 4 'i', half of what 4 'q' would be */
                uint8_t after[32];
        } guard;
        int32_t i32 = 1, w32 = 2;
        uint32_t u32[4] = { 0 };
        uint8_t byte = 1;
        mpx_map map = { 0 };

        assert_int_equal(mpx_array_declare(f->m, "q", 'q', 4, init), 1);
        assert_int_equal(mpx_value_declare(f->m, "v", 'd', NULL), 1);
        assert_int_equal(mpx_array_map(f->m, "q", &map), 0);
        requests = harness_field(f->m, "q", "requests");

        /* A get as 'i' of an array of 'q' would write 32 bytes into 16: refused, dst untouched. */
        memset(&guard, CANARY, sizeof(guard));
        assert_int_equal(mpx_array_get(f->m, "q", 'i', 0, 4, guard.dst), -EPROTOTYPE);
        assert_true(untouched(&guard, sizeof(guard)));
        /* The same size is no excuse: 'Q' and 'd' are 8 bytes like 'q'. */
        assert_int_equal(mpx_array_get(f->m, "q", 'Q', 0, 2, guard.dst), -EPROTOTYPE);
        assert_int_equal(mpx_array_get(f->m, "q", 'd', 0, 1, guard.dst), -EPROTOTYPE);
        assert_int_equal(mpx_array_get(f->m, "q", 'i', 0, 0, guard.dst), -EPROTOTYPE);
        assert_true(untouched(&guard, sizeof(guard)));

        /* set, add and cas of the wrong type write nothing, and give nothing back. */
        assert_int_equal(mpx_array_set(f->m, "q", 'i', 0, 4, u32), -EPROTOTYPE);
        assert_int_equal(mpx_array_set(f->m, "q", 'b', 1, 1, &byte), -EPROTOTYPE);
        assert_int_equal(mpx_array_set(f->m, "q", 'Q', 0, 1, &init[3]), -EPROTOTYPE);
        memset(&guard, CANARY, sizeof(guard));
        assert_int_equal(mpx_array_add(f->m, "q", 'i', 0, &i32, guard.dst), -EPROTOTYPE);
        assert_int_equal(mpx_array_add(f->m, "q", 'L', 0, &q, guard.dst), -EPROTOTYPE);
        /* Expected matches element 2 bit for bit as an 'l': only the type code stops the swap. */
        assert_int_equal(mpx_array_cas(f->m, "q", 'l', 2, &init[2], &init[0], guard.dst), -EPROTOTYPE);
        assert_int_equal(mpx_array_cas(f->m, "q", 'i', 2, &i32, &w32, guard.dst), -EPROTOTYPE);
        assert_true(untouched(&guard, sizeof(guard)));
        /* A value is an array of one of its own type code. */
        assert_int_equal(mpx_array_get(f->m, "v", 'f', 0, 1, guard.dst), -EPROTOTYPE);
        assert_int_equal(mpx_array_add(f->m, "v", 'q', 0, &q, NULL), -EPROTOTYPE);
        assert_int_equal(mpx_array_cas(f->m, "v", 'Q', 0, &q, &init[0], NULL), -EPROTOTYPE);
        assert_int_equal(mpx_array_set(f->m, "v", 'l', 0, 1, &init[0]), -EPROTOTYPE);
        assert_true(untouched(&guard, sizeof(guard)));

        /* Nothing changed, in the daemon or in the mapping; each refusal was one request. */
        assert_int_equal(harness_field(f->m, "q", "requests") - requests, 11);
        assert_int_equal(harness_field(f->m, "q", "sets"), 0);
        assert_int_equal(harness_field(f->m, "q", "adds"), 0);
        assert_int_equal(harness_field(f->m, "v", "sets"), 0);
        assert_int_equal(harness_field(f->m, "v", "adds"), 0);
        assert_memory_equal(map.addr, init, sizeof(init));
        assert_int_equal(mpx_array_get(f->m, "q", 'q', 0, 4, got), 0);
        assert_memory_equal(got, init, sizeof(init));
        assert_int_equal(mpx_array_get(f->m, "v", 'd', 0, 1, &d), 0);
        assert_true(d == 0);

        /*
         * What the library can tell alone costs no round trip: not a type
         * code, an add on bytes, more than one message, a NULL buffer.
         */
        requests = harness_field(f->m, "q", "requests");
        assert_int_equal(mpx_array_get(f->m, "q", 'x', 0, 1, got), -EINVAL);
        assert_int_equal(mpx_array_set(f->m, "q", '\0', 0, 1, got), -EINVAL);
        assert_int_equal(mpx_array_add(f->m, "q", 'c', 0, &byte, NULL), -EINVAL);
        assert_int_equal(mpx_array_cas(f->m, "q", 'Z', 0, &q, &q, NULL), -EINVAL);
        assert_int_equal(mpx_array_get(f->m, "q", 'q', 0, (uint32_t) (mpx_max_message(f->m) / 8 + 1), got),
                         -EMSGSIZE);
        assert_int_equal(mpx_array_set(f->m, "q", 'i', 0, (uint32_t) (mpx_max_message(f->m) / 4 + 1), u32),
                         -EMSGSIZE);
        assert_int_equal(mpx_array_get(f->m, "q", 'q', 0, 1, NULL), -EINVAL);
        assert_int_equal(harness_field(f->m, "q", "requests"), requests);

        /* The right type code, and the connection, still work. */
        q = 10;
        assert_int_equal(mpx_array_add(f->m, "q", 'q', -1, &q, &got[0]), 0);
        assert_true(got[0] == 6);
        assert_int_equal(harness_field(f->m, "q", "requests") - requests, 1);
        mpx_map_release(&map);
        assert_int_equal(mpx_ping(f->m), 0);
}

/* ---- 8. errors through the API ---- */

static void test_errors(void **state) {
        struct harness_fixture *f = *state;
        int32_t v = 1, w = 2, buf[8];
        int8_t b = (int8_t) 200;
        mpx_map map = { .length = 99 };
        static const char codes[] = "bBhHiIlLqQfdc";
        static const int sizes[] = { 1, 1, 2, 2, 4, 4, 8, 8, 8, 8, 4, 8, 1 };

        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
                assert_int_equal(mpx_typecode_size(codes[i]), sizes[i]);
        assert_int_equal(mpx_typecode_size('x'), -EINVAL);
        assert_int_equal(mpx_typecode_size('\0'), -EINVAL);

        /* -EINVAL: bad type code, length 0, add on bytes, bad names and pointers. */
        assert_int_equal(mpx_array_declare(f->m, "a", 'x', 3, NULL), -EINVAL);
        assert_int_equal(mpx_array_declare(f->m, "a", 'i', 0, NULL), -EINVAL);
        assert_int_equal(mpx_array_declare(f->m, "bad name", 'i', 1, NULL), -EINVAL);
        assert_int_equal(mpx_value_declare(f->m, "v", 'y', NULL), -EINVAL);
        assert_int_equal(mpx_array_declare(f->m, "c", 'c', 3, "abc"), 1);
        assert_int_equal(mpx_array_add(f->m, "c", 'c', 0, "x", NULL), -EINVAL);
        assert_int_equal(mpx_array_get(f->m, "c", 'c', 0, 1, NULL), -EINVAL);
        assert_int_equal(mpx_array_map(f->m, "c", NULL), -EINVAL);

        /* -ERANGE: indices and runs outside the array. */
        assert_int_equal(mpx_array_declare(f->m, "a", 'i', 3, NULL), 1);
        assert_int_equal(mpx_array_get(f->m, "a", 'i', 3, 1, buf), -ERANGE);
        assert_int_equal(mpx_array_get(f->m, "a", 'i', -4, 1, buf), -ERANGE);
        assert_int_equal(mpx_array_get(f->m, "a", 'i', 1, 3, buf), -ERANGE);
        assert_int_equal(mpx_array_set(f->m, "a", 'i', 2, 2, buf), -ERANGE);
        assert_int_equal(mpx_array_add(f->m, "a", 'i', 3, &v, NULL), -ERANGE);
        assert_int_equal(mpx_array_cas(f->m, "a", 'i', -4, &v, &w, NULL), -ERANGE);
        assert_int_equal(mpx_array_get(f->m, "a", 'i', -3, 3, buf), 0);

        /* -EEXIST, -EPROTOTYPE, -ENOENT. */
        assert_int_equal(mpx_array_declare(f->m, "a", 'i', 4, NULL), -EEXIST);
        assert_int_equal(mpx_array_declare(f->m, "a", 'h', 3, NULL), -EEXIST);
        assert_int_equal(mpx_array_declare(f->m, "a", 'i', 3, buf), 0);
        assert_int_equal(mpx_value_declare(f->m, "a", 'i', NULL), -EPROTOTYPE);
        assert_int_equal(mpx_queue_declare(f->m, "q", 0, 0), 1);
        assert_int_equal(mpx_array_declare(f->m, "q", 'i', 1, NULL), -EPROTOTYPE);
        assert_int_equal(mpx_array_get(f->m, "q", 'i', 0, 1, buf), -EPROTOTYPE);
        assert_int_equal(mpx_array_set(f->m, "q", 'i', 0, 1, buf), -EPROTOTYPE);
        assert_int_equal(mpx_array_add(f->m, "q", 'i', 0, &v, NULL), -EPROTOTYPE);
        assert_int_equal(mpx_array_cas(f->m, "q", 'i', 0, &v, &w, NULL), -EPROTOTYPE);
        assert_int_equal(mpx_array_map(f->m, "q", &map), -EPROTOTYPE);
        assert_int_equal(map.length, 99);
        assert_int_equal(mpx_array_get(f->m, "none", 'i', 0, 1, buf), -ENOENT);
        assert_int_equal(mpx_array_add(f->m, "none", 'i', 0, &v, NULL), -ENOENT);
        assert_int_equal(mpx_array_map(f->m, "none", &map), -ENOENT);
        assert_int_equal(map.length, 99);

        /* Value('b', 200) holds -56: the caller's byte, truncated to the type. */
        assert_int_equal(mpx_value_declare(f->m, "b", 'b', &b), 1);
        b = 0;
        assert_int_equal(mpx_array_get(f->m, "b", 'b', 0, 1, &b), 0);
        assert_int_equal(b, -56);
        /* Value('i', 2**31 - 1) + 1 */
        v = INT32_MAX;
        assert_int_equal(mpx_value_declare(f->m, "i", 'i', &v), 1);
        v = 1;
        assert_int_equal(mpx_array_add(f->m, "i", 'i', 0, &v, &w), 0);
        assert_int_equal(w, INT32_MIN);

        /* The connection is still good after all of it. */
        assert_int_equal(mpx_ping(f->m), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                harness_test(test_money),
                harness_test(test_processes_share_memory),
                harness_test(test_daemon_and_mapping_agree),
                harness_test(test_mapping_outlives_delete),
                harness_test(test_large_array),
                harness_test(test_no_descriptor_leak),
                harness_test(test_wrong_typecode),
                harness_test(test_errors),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
