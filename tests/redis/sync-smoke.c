/* SPDX-License-Identifier: MIT */
/*
 * A smoke test of semaphores, events, barriers, values and arrays through
 * libmpx's Redis backend: run by sync-smoke.sh with MPX_REDIS set to a
 * redis+unix:// address of a scratch server.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "monotonic.h"
#include "mpx.h"
#include "smoke.h"

static const char *addr;
static mpx *conn(void) {
        return smoke_connect(addr);
}

static void store(mpx *m, int64_t result, void *userdata) {
        (void) m;
        *(int64_t *) userdata = result;
}

/* An integer field of the object's INFO, or -999. */
static int64_t info_int(mpx *m, const char *name, const char *key) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int64_t v = -999;

        if (mpx_object_info(m, name, &info) == 0 && (f = mpx_info_get(&info, key)) && !f->is_str)
                v = f->num;
        mpx_info_clear(&info);
        return v;
}

/* How long a wait for a state may take before it fails: a loaded machine is slow, not this slow. */
#define WAIT_MS 10000

/*
 * Wait till an integer field of an object's INFO is want: a semaphore's or an
 * event's "waiters", a barrier's "waiting" (its parties parked in the round).
 * Each try is a round trip to Redis, so there is no pause between them. After
 * WAIT_MS it fails, and the test ends there: the steps after it rely on that
 * state, and might otherwise hang.
 */
static void wait_info(mpx *m, const char *name, const char *key, int64_t want, int line) {
        int64_t deadline = monotonic_ms() + WAIT_MS, v;

        while ((v = info_int(m, name, key)) != want)
                if (monotonic_ms() > deadline) {
                        fprintf(stderr, "%s:%d: %s's %s still %lld after %d ms, not %lld\n", __FILE__, line, name, key,
                                (long long) v, WAIT_MS, (long long) want);
                        _exit(1);
                }
}

#define WAIT_INFO(m, name, key, want) wait_info(m, name, key, want, __LINE__)

/* Wait till something comes on m's descriptor (for a request whose INFO shows it ran: its answer), and read it. */
static void read_answer(mpx *m, int line) {
        struct pollfd p = { .fd = mpx_fd(m), .events = POLLIN };
        int r;

        do
                r = poll(&p, 1, WAIT_MS);
        while (r < 0 && errno == EINTR);
        if (r <= 0) {
                fprintf(stderr, "%s:%d: no answer in %d ms\n", __FILE__, line, WAIT_MS);
                _exit(1);
        }
        CHECK_EQ(mpx_process(m) >= 0, 1);
}

#define READ_ANSWER(m) read_answer(m, __LINE__)

/*
 * Run m as an event loop does (send what is queued, wait for its descriptor,
 * read) till a callback sets *res (from -999), for up to WAIT_MS.
 */
static void run_until_set(mpx *m, const int64_t *res) {
        int64_t deadline = monotonic_ms() + WAIT_MS, left;

        while (mpx_process(m) >= 0 && *res == -999 && (left = deadline - monotonic_ms()) > 0) {
                struct pollfd p = { .fd = mpx_fd(m), .events = POLLIN };

                poll(&p, 1, (int) left);
        }
}

static void test_lock(void) {
        mpx *a = conn(), *b = conn();

        CHECK_EQ(mpx_sem_declare(a, "lk", 1, 1, MPX_SEM_BOUNDED), 1);
        CHECK_EQ(mpx_sem_declare(b, "lk", 1, 1, MPX_SEM_BOUNDED), 0);
        CHECK_EQ(mpx_sem_declare(b, "lk", 2, 2, MPX_SEM_BOUNDED), -EEXIST);
        CHECK_EQ(mpx_sem_declare(b, "lk", 2, 1, MPX_SEM_BOUNDED), -EINVAL);
        CHECK_EQ(mpx_sem_acquire(a, "lk", 0), 0);
        CHECK_EQ(mpx_sem_acquire(b, "lk", 0), -EAGAIN);
        CHECK_EQ(mpx_sem_value(b, "lk"), 0);
        int64_t t0 = monotonic_ms();
        CHECK_EQ(mpx_sem_acquire(b, "lk", 300), -ETIMEDOUT);
        CHECK_EQ(monotonic_ms() - t0 >= 290, 1);
        CHECK_EQ(mpx_sem_release(a, "lk"), 0);
        CHECK_EQ(mpx_sem_release(a, "lk"), -ERANGE);
        CHECK_EQ(mpx_sem_acquire(b, "lk", 0), 0);
        /* b disconnects holding it: the unit comes back, and the next acquirer is told. */
        mpx_disconnect(b);
        CHECK_EQ(mpx_sem_value(a, "lk"), 1);
        CHECK_EQ(mpx_sem_acquire(a, "lk", 0), -EOWNERDEAD);
        CHECK_EQ(mpx_sem_release(a, "lk"), 0);
        CHECK_EQ(mpx_sem_acquire(a, "lk", 0), 0);
        CHECK_EQ(mpx_sem_release(a, "lk"), 0);
        CHECK_EQ(mpx_sem_acquire(a, "nosuch", 0), -ENOENT);
        CHECK_EQ(mpx_event_set(a, "lk"), -EPROTOTYPE);
        mpx_disconnect(a);
}

/* What a thread does on its connection once the object's INFO field key is want (a waiter is parked). */
struct later {
        const char *what, *name, *key;
        int64_t want;
};

static void *do_later(void *arg) {
        struct later *l = arg;
        mpx *m = conn();

        wait_info(m, l->name, l->key, l->want, __LINE__);
        if (strcmp(l->what, "release") == 0)
                mpx_sem_release(m, l->name);
        else if (strcmp(l->what, "set") == 0)
                mpx_event_set(m, l->name);
        else if (strcmp(l->what, "setclear") == 0) {
                mpx_event_set(m, l->name);
                mpx_event_clear(m, l->name);
        } else if (strcmp(l->what, "delete") == 0)
                mpx_delete(m, l->name);
        mpx_disconnect(m);
        return NULL;
}

static pthread_t later(struct later *l) {
        pthread_t t;

        pthread_create(&t, NULL, do_later, l);
        return t;
}

/* An acquire in a thread, on a connection made beforehand (so that it parks soon after the thread starts). */
struct acquirer {
        const char *name;
        int64_t timeout_ms;
        int result;
        mpx *m;
};

static void *do_acquire(void *arg) {
        struct acquirer *q = arg;

        q->result = mpx_sem_acquire(q->m, q->name, q->timeout_ms);
        mpx_disconnect(q->m);
        return NULL;
}

/* Acquirers are served in arrival order: a release goes to the parked one. */
static void test_order(void) {
        mpx *a = conn();
        struct acquirer q1 = { "fifo", 300, -999, conn() }, q2 = { "fifo", 5000, -999, conn() };
        pthread_t t1, t2;

        CHECK_EQ(mpx_sem_declare(a, "fifo", 1, 0, MPX_SEM_NO_UNDO), 1);
        CHECK_EQ(mpx_sem_acquire(a, "fifo", 0), 0);
        pthread_create(&t1, NULL, do_acquire, &q1);
        WAIT_INFO(a, "fifo", "waiters", 1);
        pthread_create(&t2, NULL, do_acquire, &q2);
        /* Both in line, q1 first (its 300 ms have not passed: that timeout is what is tested). */
        WAIT_INFO(a, "fifo", "waiters", 2);
        pthread_join(t1, NULL);
        CHECK_EQ(q1.result, -ETIMEDOUT);
        /* q1 timed out and left the line: q2 is first. */
        CHECK_EQ(info_int(a, "fifo", "waiters"), 1);
        CHECK_EQ(mpx_sem_release(a, "fifo"), 0);
        CHECK_EQ(mpx_sem_acquire(a, "fifo", 0), -EAGAIN);
        pthread_join(t2, NULL);
        CHECK_EQ(q2.result, 0);
        CHECK_EQ(mpx_sem_value(a, "fifo"), 0);

        /* A parked acquirer whose connection closes leaves the line at once. */
        {
                mpx *b = conn();
                int64_t bres;

                CHECK_EQ(mpx_sem_acquire_async(b, "fifo", -1, store, &bres) > 0, 1);
                mpx_flush(b);
                WAIT_INFO(a, "fifo", "waiters", 1);
                READ_ANSWER(b);
                mpx_disconnect(b);
        }
        CHECK_EQ(info_int(a, "fifo", "waiters"), 0);
        CHECK_EQ(mpx_sem_release(a, "fifo"), 0);
        CHECK_EQ(mpx_sem_acquire(a, "fifo", 0), 0);
        mpx_disconnect(a);
}

static void test_wakeups(void) {
        mpx *a = conn();
        pthread_t t;

        CHECK_EQ(mpx_sem_declare(a, "sem", 0, 0, 0), 1);
        t = later(&(struct later) { "release", "sem", "waiters", 1 });
        int64_t t0 = monotonic_ms();
        CHECK_EQ(mpx_sem_acquire(a, "sem", 5000), 0);
        CHECK_EQ(monotonic_ms() - t0 < 1000, 1);
        pthread_join(t, NULL);

        CHECK_EQ(mpx_event_declare(a, "ev"), 1);
        CHECK_EQ(mpx_event_wait(a, "ev", 0), -EAGAIN);
        CHECK_EQ(mpx_event_is_set(a, "ev"), 0);
        t = later(&(struct later) { "setclear", "ev", "waiters", 1 });
        CHECK_EQ(mpx_event_wait(a, "ev", 5000), 0);
        pthread_join(t, NULL);
        CHECK_EQ(mpx_event_is_set(a, "ev"), 0);
        CHECK_EQ(mpx_event_wait(a, "ev", 200), -ETIMEDOUT);
        CHECK_EQ(info_int(a, "ev", "waiters"), 0);
        {
                int64_t res = -999;

                CHECK_EQ(mpx_event_wait_async(a, "ev", -1, store, &res) > 0, 1);
                mpx_flush(a);
                /* INFO runs a's connection too: its answer to the wait comes first, and parks it. */
                WAIT_INFO(a, "ev", "waiters", 1);
                CHECK_EQ(mpx_event_set(a, "ev"), 0);
                CHECK_EQ(info_int(a, "ev", "waiters"), 0);
                CHECK_EQ(mpx_event_clear(a, "ev"), 0);
                CHECK_EQ(mpx_event_is_set(a, "ev"), 0);
                /* Cleared again, and the parked wait is released all the same once it asks again. */
                run_until_set(a, &res);
                CHECK_EQ(res, 0);
        }
        CHECK_EQ(mpx_event_set(a, "ev"), 0);
        CHECK_EQ(mpx_event_wait(a, "ev", -1), 0);
        CHECK_EQ(mpx_event_is_set(a, "ev"), 1);

        CHECK_EQ(mpx_event_declare(a, "ev2"), 1);
        t = later(&(struct later) { "delete", "ev2", "waiters", 1 });
        CHECK_EQ(mpx_event_wait(a, "ev2", 5000), -EIDRM);
        pthread_join(t, NULL);
        mpx_disconnect(a);
}

struct party {
        const char *name;
        int64_t timeout_ms;
        int result;
        int pass;               /* run the action: see that the round is held, then PASS */
        int64_t held;           /* the barrier's INFO "held" during the action */
};

static void *do_party(void *arg) {
        struct party *p = arg;
        mpx *m = conn();

        p->result = mpx_barrier_wait(m, p->name, p->timeout_ms);
        if (p->pass && p->result >= 0) {
                p->held = info_int(m, p->name, "held");
                p->pass = mpx_barrier_pass(m, p->name);
        }
        mpx_disconnect(m);
        return NULL;
}

static void test_barrier(void) {
        mpx *a = conn();
        struct party p[3];
        pthread_t t[3];
        int seen = 0;

        CHECK_EQ(mpx_barrier_declare(a, "bar", 3), 1);
        CHECK_EQ(mpx_barrier_declare(a, "bar", 2), -EEXIST);
        CHECK_EQ(mpx_barrier_wait(a, "bar", 0), -EAGAIN);
        /* Each party arrives once the one before is parked: their indexes are 0, 1, 2. */
        for (int i = 0; i < 3; i++) {
                p[i] = (struct party) { "bar", -1, -999, 0, 0 };
                pthread_create(&t[i], NULL, do_party, &p[i]);
                if (i < 2)
                        WAIT_INFO(a, "bar", "waiting", i + 1);
        }
        for (int i = 0; i < 3; i++) {
                pthread_join(t[i], NULL);
                if (p[i].result >= 0 && p[i].result < 3)
                        seen |= 1 << p[i].result;
        }
        CHECK_EQ(seen, 7);
        CHECK_EQ(p[0].result, 0);
        CHECK_EQ(p[2].result, 2);

        /* A timeout breaks it for the others. */
        p[0] = (struct party) { "bar", -1, -999, 0, 0 };
        pthread_create(&t[0], NULL, do_party, &p[0]);
        WAIT_INFO(a, "bar", "waiting", 1);
        CHECK_EQ(mpx_barrier_wait(a, "bar", 300), -ETIMEDOUT);
        pthread_join(t[0], NULL);
        CHECK_EQ(p[0].result, -ENOTRECOVERABLE);
        CHECK_EQ(mpx_barrier_wait(a, "bar", -1), -ENOTRECOVERABLE);
        CHECK_EQ(mpx_barrier_reset(a, "bar"), 0);

        /* A cancelled party withdraws: the next ones move up. */
        int64_t res = -999, id = mpx_barrier_wait_async(a, "bar", -1, store, &res);
        CHECK_EQ(id > 0, 1);
        mpx_flush(a);
        /* INFO runs a's connection too: its answer to the wait comes first, and parks it. */
        WAIT_INFO(a, "bar", "waiting", 1);
        CHECK_EQ(mpx_cancel(a, id) >= 0, 1);
        /*
         * Its callback runs once the party has withdrawn (a call of its own,
         * made at once if the wait is parked, else once its answer is in).
         */
        run_until_set(a, &res);
        CHECK_EQ(res, -ECANCELED);
        CHECK_EQ(info_int(a, "bar", "waiting"), 0);
        CHECK_EQ(mpx_barrier_declare(a, "bar", 3), 0);
        for (int i = 0; i < 3; i++) {
                p[i] = (struct party) { "bar", 5000, -999, 0, 0 };
                pthread_create(&t[i], NULL, do_party, &p[i]);
                if (i < 2)
                        WAIT_INFO(a, "bar", "waiting", i + 1);
        }
        for (int i = 0; i < 3; i++)
                pthread_join(t[i], NULL);
        CHECK_EQ(p[0].result, 0);
        CHECK_EQ(p[1].result, 1);
        CHECK_EQ(p[2].result, 2);

        /* The barrier's own timeout. */
        CHECK_EQ(mpx_barrier_declare_timeout(a, "bt", 2, 0, 300), 1);
        CHECK_EQ(mpx_barrier_declare_timeout(a, "bt", 2, 0, 400), -EEXIST);
        int64_t t0 = monotonic_ms();
        CHECK_EQ(mpx_barrier_wait(a, "bt", MPX_TIMEOUT_DEFAULT), -ETIMEDOUT);
        CHECK_EQ(monotonic_ms() - t0 >= 290 && monotonic_ms() - t0 < 2000, 1);
        CHECK_EQ(mpx_barrier_wait(a, "bt", MPX_TIMEOUT_DEFAULT), -ENOTRECOVERABLE);

        /* An action: the last party holds the round till its PASS. */
        CHECK_EQ(mpx_barrier_declare_flags(a, "ba", 2, MPX_BARRIER_ACTION), 1);
        p[0] = (struct party) { "ba", 5000, -999, 0, 0 };
        p[1] = (struct party) { "ba", 5000, -999, 1, 0 };
        pthread_create(&t[0], NULL, do_party, &p[0]);
        WAIT_INFO(a, "ba", "waiting", 1);
        pthread_create(&t[1], NULL, do_party, &p[1]);
        pthread_join(t[0], NULL);
        pthread_join(t[1], NULL);
        CHECK_EQ(p[0].result, 0);
        CHECK_EQ(p[1].result, 1);
        CHECK_EQ(p[1].held, 1);
        CHECK_EQ(p[1].pass, 0);
        CHECK_EQ(mpx_barrier_pass(a, "ba"), -EINVAL);
        CHECK_EQ(mpx_barrier_abort(a, "ba"), 0);
        CHECK_EQ(mpx_barrier_wait(a, "ba", 0), -ENOTRECOVERABLE);

        /* A parked party's connection closing breaks it. */
        CHECK_EQ(mpx_barrier_declare(a, "bd", 2), 1);
        {
                mpx *b = conn();

                int64_t bres;

                CHECK_EQ(mpx_barrier_wait_async(b, "bd", -1, store, &bres) > 0, 1);
                mpx_flush(b);
                WAIT_INFO(a, "bd", "waiting", 1);
                READ_ANSWER(b);
                mpx_disconnect(b);
        }
        CHECK_EQ(mpx_barrier_wait(a, "bd", 1000), -ENOTRECOVERABLE);
        mpx_disconnect(a);
}

/* A client that dies (no clean disconnect): what it held comes back once its lease ends. */
static void test_died(void) {
        mpx *a = conn();
        pid_t pid;
        int64_t t0;
        int go[2];
        char c;

        CHECK_EQ(mpx_sem_declare(a, "dl", 1, 1, MPX_SEM_BOUNDED), 1);
        CHECK_EQ(mpx_barrier_declare(a, "db", 3), 1);
        if (pipe(go) < 0) {
                perror("pipe");
                exit(2);
        }
        pid = fork();
        if (pid == 0) {
                mpx *m = conn();

                close(go[1]);
                mpx_sem_acquire(m, "dl", 0);
                mpx_barrier_wait_async(m, "db", -1, store, &(int64_t) { 0 });
                mpx_flush(m);
                /* Dies (no disconnect) when told: once its requests are seen carried out. */
                while (read(go[0], &c, 1) < 0 && errno == EINTR)
                        ;
                _exit(0);
        }
        close(go[0]);
        /* The child holds the unit and is parked in the barrier. */
        WAIT_INFO(a, "db", "waiting", 1);
        CHECK_EQ(info_int(a, "dl", "held"), 1);
        close(go[1]);
        waitpid(pid, NULL, 0);
        CHECK_EQ(mpx_sem_acquire(a, "dl", 0), -EAGAIN);
        t0 = monotonic_ms();
        CHECK_EQ(mpx_sem_acquire(a, "dl", 10000), -EOWNERDEAD);
        CHECK_EQ(monotonic_ms() - t0 < 5000, 1);
        t0 = monotonic_ms();
        CHECK_EQ(mpx_barrier_wait(a, "db", 10000), -ENOTRECOVERABLE);
        CHECK_EQ(monotonic_ms() - t0 < 5000, 1);
        mpx_disconnect(a);
}

static void test_array(void) {
        mpx *a = conn();
        int32_t v = 5000, d = -250, got = 0, cur = 0, zero = 0;
        int64_t q = INT64_MAX, one = 1, qgot = 0;
        char buf[16] = { 0 };
        mpx_map map;

        CHECK_EQ(mpx_value_declare(a, "money", 'i', &v), 1);
        CHECK_EQ(mpx_value_declare(a, "money", 'i', &v), 0);
        CHECK_EQ(mpx_array_declare(a, "money", 'i', 1, NULL), -EPROTOTYPE);
        CHECK_EQ(mpx_array_add(a, "money", 'i', 0, &d, &got), 0);
        CHECK_EQ(got, 4750);
        CHECK_EQ(mpx_array_get(a, "money", 'i', -1, 1, &got), 0);
        CHECK_EQ(got, 4750);
        CHECK_EQ(mpx_array_cas(a, "money", 'i', 0, &got, &zero, &cur), 1);
        CHECK_EQ(cur, 0);
        CHECK_EQ(mpx_array_cas(a, "money", 'i', 0, &got, &zero, &cur), 0);
        CHECK_EQ(mpx_array_get(a, "money", 'i', 1, 1, &got), -ERANGE);
        CHECK_EQ(mpx_array_get(a, "money", 'q', 0, 1, &got), -EPROTOTYPE);
        CHECK_EQ(mpx_array_map(a, "money", &map), -EOPNOTSUPP);

        CHECK_EQ(mpx_array_declare(a, "arr", 'q', 4, NULL), 1);
        CHECK_EQ(mpx_array_set(a, "arr", 'q', 2, 1, &q), 0);
        CHECK_EQ(mpx_array_add(a, "arr", 'q', 2, &one, &qgot), 0);
        CHECK_EQ(qgot == INT64_MIN, 1);
        CHECK_EQ(mpx_array_declare(a, "hello", 'c', 5, "Hello"), 1);
        CHECK_EQ(mpx_array_get(a, "hello", 'c', 0, 5, buf), 0);
        CHECK_EQ(strcmp(buf, "Hello"), 0);
        CHECK_EQ(mpx_array_add(a, "hello", 'c', 0, "a", buf), -EINVAL);
        mpx_disconnect(a);
}

int main(void) {
        addr = getenv("MPX_REDIS");
        if (!addr)
                addr = getenv("MPX_SOCKET");     /* tests/redis/with-redis */
        if (!addr) {
                fprintf(stderr, "neither MPX_REDIS nor MPX_SOCKET is set\n");
                return 2;
        }
        test_lock();
        test_wakeups();
        test_order();
        test_barrier();
        test_array();
        test_died();
        if (failures)
                fprintf(stderr, "%d failures\n", failures);
        else
                printf("ok\n");
        return failures != 0;
}
