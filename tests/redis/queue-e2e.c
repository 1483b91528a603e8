/* SPDX-License-Identifier: MIT */
/*
 * End-to-end smoke test of queues over the Redis backend, through libmpx:
 *      queue-e2e redis+unix:///path/to/redis.sock
 * (tests/redis/queue-smoke.sh builds and runs it when libmpx is built).
 * Checks what only a live backend shows: parked requests woken by another
 * connection, timeouts, redelivery at disconnect and at the end of a lease,
 * a connection's queue deleted with it, DONE_GET's retries, a wake that
 * comes while a get is in flight, a get cancelled in flight.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "monotonic.h"
#include "mpx.h"
#include "smoke.h"

static const char *url;

static mpx *conn(void) {
        return smoke_connect(url);
}

static bool item_is(const mpx_item *it, const char *s) {
        return it->size == strlen(s) && memcmp(it->data, s, it->size) == 0;
}

/* An INFO field of an object, or -999 when there is none. */
static long long info_field(mpx *m, const char *name, const char *key) {
        mpx_info info = { 0 };
        const mpx_field *f;
        long long v = -999;

        if (mpx_object_info(m, name, &info) == 0 && (f = mpx_info_get(&info, key)))
                v = f->num;
        mpx_info_clear(&info);
        return v;
}

/* How long a wait for a state may take before it fails: a loaded machine is slow, not this slow. */
#define WAIT_MS 10000

/*
 * Wait till an INFO field of an object is want (a parked request counts in its
 * queue's getters, putters or joiners). Each try is a round trip to Redis, so
 * there is no pause between them. After WAIT_MS it fails, and the test ends
 * there: the steps after it rely on that state, and might otherwise hang.
 */
static void wait_field(mpx *m, const char *name, const char *key, long long want, int line) {
        int64_t deadline = monotonic_ms() + WAIT_MS;
        long long v;

        while ((v = info_field(m, name, key)) != want)
                if (monotonic_ms() > deadline) {
                        printf("FAIL %s's %s still %lld after %d ms, not %lld (line %d)\n", name, key, v, WAIT_MS,
                               want, line);
                        fflush(stdout);
                        _exit(1);
                }
}

#define WAIT_FIELD(m, name, key, want) wait_field(m, name, key, want, __LINE__)

/* A request run in a thread on its own connection. */
struct job {
        int op;                 /* 'g' get, 'p' put, 'j' join, 'd' done_get */
        const char *name;
        const char *data;
        uint64_t tag;
        int64_t timeout;
        int r;
        mpx_item item;
        pthread_t t;
        mpx *m;
};

static void *run(void *arg) {
        struct job *j = arg;

        switch (j->op) {
        case 'g':
                j->r = mpx_queue_get(j->m, j->name, j->timeout, &j->item);
                break;
        case 'p':
                j->r = mpx_queue_put(j->m, j->name, j->data, strlen(j->data), j->timeout);
                break;
        case 'j':
                j->r = mpx_queue_join(j->m, j->name, j->timeout);
                break;
        case 'd':
                j->r = mpx_queue_done_get(j->m, j->name, j->tag, j->timeout, 0, 0, &j->item);
                break;
        }
        return NULL;
}

/*
 * Start a request in a thread, and return once it is parked: once a's INFO of
 * the queue counts it in line ("getters", "putters" or "joiners": 1).
 */
static struct job *start_at(int at, mpx *a, const char *line, int op, const char *name, const char *data,
                            uint64_t tag, int64_t timeout) {
        struct job *j = calloc(1, sizeof(*j));

        *j = (struct job) { .op = op, .name = name, .data = data, .tag = tag, .timeout = timeout, .r = 1 };
        j->m = conn();
        pthread_create(&j->t, NULL, run, j);
        wait_field(a, name, line, 1, at);
        return j;
}

#define start(...) start_at(__LINE__, __VA_ARGS__)

static int finish(struct job *j) {
        pthread_join(j->t, NULL);
        mpx_disconnect(j->m);
        return j->r;
}

static void plain(mpx *a) {
        mpx_item it = { 0 }, many[8];
        mpx_queue_status st;
        struct job *j;
        long long t0;
        char big[1 << 20];

        CHECK("declare", mpx_queue_declare(a, "q", 2, 0) == 1);
        CHECK("declare again", mpx_queue_declare(a, "q", 2, 0) == 0);
        CHECK("other maxsize", mpx_queue_declare(a, "q", 3, 0) == -EEXIST);
        CHECK("put a", mpx_queue_put(a, "q", "a", 1, -1) == 0);
        CHECK("put b", mpx_queue_put(a, "q", "b", 1, -1) == 0);
        CHECK("put full, timeout 0", mpx_queue_put(a, "q", "c", 1, 0) == -EAGAIN);
        t0 = monotonic_ms();
        CHECK("put full, timeout 300", mpx_queue_put(a, "q", "c", 1, 300) == -ETIMEDOUT &&
                                       info_field(a, "q", "putters") == 0);
        CHECK("... after 300 ms", monotonic_ms() - t0 >= 290 && monotonic_ms() - t0 < 1500);
        CHECK("stat", mpx_queue_stat(a, "q", &st) == 0 && st.size == 2 && st.maxsize == 2 && !st.closed);
        j = start(a, "putters", 'p', "q", "c", 0, -1);
        CHECK("put parked", j->r == 1 && info_field(a, "q", "putters") == 1);
        CHECK("get a", mpx_queue_get(a, "q", 0, &it) == 0 && item_is(&it, "a") && it.tag == 0 &&
                       it.deliveries == 1);
        mpx_item_clear(&it);
        CHECK("parked put admitted", finish(j) == 0 && info_field(a, "q", "putters") == 0);
        free(j);
        CHECK("get_many", mpx_queue_get_many(a, "q", many, 8, 0) == 2 && item_is(&many[0], "b") &&
                          item_is(&many[1], "c"));
        mpx_item_clear(&many[0]);
        mpx_item_clear(&many[1]);
        CHECK("get empty", mpx_queue_get(a, "q", 0, &it) == -EAGAIN);
        j = start(a, "getters", 'g', "q", NULL, 0, -1);
        CHECK("get parked", j->r == 1 && info_field(a, "q", "getters") == 1 && info_field(a, "q", "waiters") == 1);
        CHECK("put d", mpx_queue_put(a, "q", "d\0e", 3, -1) == 0);
        CHECK("parked get served", finish(j) == 0 && j->item.size == 3 && memcmp(j->item.data, "d\0e", 3) == 0 &&
                                   info_field(a, "q", "getters") == 0);
        mpx_item_clear(&j->item);
        free(j);
        CHECK("put empty payload", mpx_queue_put(a, "q", "", 0, -1) == 0);
        CHECK("get empty payload", mpx_queue_get(a, "q", 0, &it) == 0 && it.size == 0);
        mpx_item_clear(&it);
        j = start(a, "getters", 'g', "q", NULL, 0, -1);
        CHECK("close", mpx_queue_close(a, "q") == 0);
        CHECK("close wakes a getter: EPIPE", finish(j) == -EPIPE && info_field(a, "q", "getters") == 0);
        free(j);
        CHECK("put closed", mpx_queue_put(a, "q", "x", 1, -1) == -EPIPE);

        CHECK("declare big", mpx_queue_declare(a, "big", 0, 0) == 1);
        memset(big, 'z', sizeof(big));
        big[17] = 0;
        CHECK("put 1 MiB", mpx_queue_put(a, "big", big, sizeof(big), -1) == 0);
        CHECK("get 1 MiB", mpx_queue_get(a, "big", 0, &it) == 0 && it.size == sizeof(big) &&
                           memcmp(it.data, big, sizeof(big)) == 0);
        mpx_item_clear(&it);
        {
                struct iovec v[3] = { { "1", 1 }, { "2", 1 }, { "3", 1 } };

                CHECK("put_many", mpx_queue_put_many(a, "big", v, 3, -1) == 0);
        }
        CHECK("peek", mpx_queue_peek(a, "big", many, 8) == 3 && item_is(&many[2], "3"));
        for (int i = 0; i < 3; i++)
                mpx_item_clear(&many[i]);
        CHECK("purge", mpx_queue_purge(a, "big") == 3);
        CHECK("qsize 0", mpx_queue_qsize(a, "big") == 0);
        CHECK("no queue", mpx_queue_get(a, "nothere", 0, &it) == -ENOENT);
}

static void joinable(mpx *a) {
        mpx_item it = { 0 }, it2 = { 0 };
        mpx_queue_status st;
        struct job *j;
        mpx *c;

        CHECK("declare joinable", mpx_queue_declare(a, "j", 0, MPX_QUEUE_JOINABLE) == 1);
        CHECK("as a plain queue", mpx_queue_declare(a, "j", 0, 0) == -EPROTOTYPE);
        CHECK("put x", mpx_queue_put(a, "j", "x", 1, -1) == 0);
        CHECK("put y", mpx_queue_put(a, "j", "y", 1, -1) == 0);
        CHECK("get x", mpx_queue_get(a, "j", 0, &it) == 0 && item_is(&it, "x") && it.tag != 0);
        CHECK("join, timeout 0", mpx_queue_join(a, "j", 0) == -EAGAIN);
        j = start(a, "joiners", 'j', "j", NULL, 0, -1);
        CHECK("join parked", j->r == 1 && info_field(a, "j", "joiners") == 1);
        CHECK("task_done x", mpx_queue_task_done(a, "j", it.tag) == 0);
        CHECK("done again", mpx_queue_task_done(a, "j", it.tag) == -ENOENT);
        mpx_item_clear(&it);
        CHECK("get y detached", mpx_queue_get_flags(a, "j", 0, MPX_GET_DETACH, &it) == 0 && item_is(&it, "y"));
        mpx_item_clear(&it);
        CHECK("untagged done", mpx_queue_task_done(a, "j", 0) == 0);
        CHECK("join released", finish(j) == 0 && info_field(a, "j", "joiners") == 0);
        free(j);
        CHECK("untagged done, none", mpx_queue_task_done(a, "j", 0) == -EINVAL);

        /* A client that disconnects gives its deliveries back. */
        c = conn();
        CHECK("put p", mpx_queue_put(a, "j", "p", 1, -1) == 0);
        CHECK("put q", mpx_queue_put(a, "j", "q", 1, -1) == 0);
        CHECK("c gets p", mpx_queue_get(c, "j", 0, &it) == 0 && item_is(&it, "p"));
        CHECK("c gets q", mpx_queue_get(c, "j", 0, &it2) == 0 && item_is(&it2, "q"));
        mpx_item_clear(&it);
        mpx_item_clear(&it2);
        mpx_disconnect(c);
        CHECK("back after disconnect", mpx_queue_stat(a, "j", &st) == 0 && st.size == 2 && st.unfinished == 2);
        CHECK("p first, delivered twice", mpx_queue_get(a, "j", 0, &it) == 0 && item_is(&it, "p") &&
                                          it.deliveries == 2);
        /* DONE_GET that parks finishes once. */
        CHECK("get q", mpx_queue_get(a, "j", 0, &it2) == 0 && item_is(&it2, "q"));
        CHECK("done q", mpx_queue_task_done(a, "j", it2.tag) == 0);
        mpx_item_clear(&it2);
        /* On a's connection, in a thread: c watches it park, as a getter. */
        c = conn();
        j = calloc(1, sizeof(*j));
        *j = (struct job) { .op = 'd', .name = "j", .tag = it.tag, .timeout = -1, .r = 1, .m = a };
        pthread_create(&j->t, NULL, run, j);
        WAIT_FIELD(c, "j", "getters", 1);
        CHECK("done_get parked, p finished", j->r == 1 && mpx_queue_stat(c, "j", &st) == 0 && st.unfinished == 0);
        CHECK("put r", mpx_queue_put(c, "j", "r", 1, -1) == 0);
        pthread_join(j->t, NULL);
        CHECK("done_get served", j->r == 0 && item_is(&j->item, "r"));
        mpx_item_clear(&j->item);
        free(j);
        mpx_item_clear(&it);
        CHECK("unfinished 1", mpx_queue_stat(c, "j", &st) == 0 && st.unfinished == 1 && st.size == 0);
        CHECK("done_get, timeout 0", mpx_queue_done_get(a, "j", 0, 0, 0, 0, &it) == -EAGAIN);
        CHECK("... finished", mpx_queue_stat(c, "j", &st) == 0 && st.unfinished == 0);
        mpx_disconnect(c);
}

static void leases(mpx *a) {
        mpx_item it = { 0 }, it2 = { 0 };

        CHECK("declare ttr", mpx_queue_declare_ttr(a, "t", 0, MPX_QUEUE_JOINABLE, 300) == 1);
        CHECK("put", mpx_queue_put(a, "t", "l", 1, -1) == 0);
        CHECK("get", mpx_queue_get_flags(a, "t", 0, MPX_GET_DETACH, &it) == 0);
        /*
         * These two sleeps are the behaviour under test, not synchronisation:
         * with a TTR of 300 ms, the delivery is still leased 350 ms after the
         * get only because the touch at 150 ms restarted its lease.
         */
        usleep(150 * 1000);
        CHECK("touch", mpx_queue_touch(a, "t", it.tag) == 0);
        usleep(200 * 1000);
        CHECK("touch again", mpx_queue_touch(a, "t", it.tag) == 0);
        CHECK("get waits while leased", mpx_queue_get(a, "t", 100, &it2) == -ETIMEDOUT);
        CHECK("back when the lease ends", mpx_queue_get(a, "t", 2000, &it2) == 0 && item_is(&it2, "l") &&
                                          it2.deliveries == 2 && it2.tag != it.tag);
        CHECK("old tag gone", mpx_queue_task_done(a, "t", it.tag) == -ENOENT);
        CHECK("new tag done", mpx_queue_task_done(a, "t", it2.tag) == 0);
        mpx_item_clear(&it);
        mpx_item_clear(&it2);
}

static void connection_queue(mpx *a) {
        mpx_item it = { 0 };
        struct job *j;
        mpx *c = conn();

        CHECK("declare connection queue", mpx_queue_declare(c, "mine", 0, MPX_QUEUE_CONNECTION) == 1);
        CHECK("others use it", mpx_queue_put(a, "mine", "m", 1, -1) == 0);
        CHECK("... and get", mpx_queue_get(a, "mine", 0, &it) == 0 && item_is(&it, "m"));
        mpx_item_clear(&it);
        j = start(a, "getters", 'g', "mine", NULL, 0, -1);
        mpx_disconnect(c);
        CHECK("deleted with its connection", mpx_queue_put(a, "mine", "m", 1, -1) == -ENOENT);
        CHECK("its parked getter told", finish(j) == -EIDRM);
        free(j);
}

/* A client that dies (SIGKILL, no disconnect) with a lease of 500 ms: what it held comes back. */
static void died(mpx *a) {
        char dying[512];
        mpx_item it = { 0 };
        long long t0;
        pid_t pid;
        int status;

        snprintf(dying, sizeof(dying), "%s%clease_ms=500", url, strchr(url, '?') ? '&' : '?');
        CHECK("declare dead", mpx_queue_declare(a, "dead", 0, MPX_QUEUE_JOINABLE) == 1);
        CHECK("put", mpx_queue_put(a, "dead", "d", 1, -1) == 0);
        pid = fork();
        if (pid == 0) {
                mpx *m = NULL;
                mpx_item got = { 0 };

                if (mpx_connect(dying, &m) < 0 || mpx_queue_get(m, "dead", 0, &got) < 0 ||
                    mpx_queue_declare(m, "dead-own", 0, MPX_QUEUE_CONNECTION) != 1)
                        _exit(1);
                kill(getpid(), SIGKILL);
        }
        waitpid(pid, &status, 0);
        CHECK("the child took it and died", WIFSIGNALED(status));
        CHECK("its queue is there", mpx_queue_put(a, "dead-own", "x", 1, -1) == 0);
        t0 = monotonic_ms();
        CHECK("back once its lease ran out", mpx_queue_get(a, "dead", 5000, &it) == 0 && item_is(&it, "d") &&
                                             it.deliveries == 2);
        printf("     (after %lld ms)\n", (long long) (monotonic_ms() - t0));
        CHECK("done", mpx_queue_task_done(a, "dead", it.tag) == 0);
        mpx_item_clear(&it);
        CHECK("its queue is gone", mpx_queue_put(a, "dead-own", "x", 1, -1) == -ENOENT);
}

/* A counted queue lives while its declarers' references do; a durable one is accepted. */
static void counted(mpx *a) {
        mpx_item it = { 0 };
        mpx *c = conn();

        CHECK("declare counted", mpx_queue_declare(c, "cq", 0, MPX_QUEUE_JOINABLE | MPX_COUNTED) == 1);
        CHECK("put", mpx_queue_put(a, "cq", "c", 1, -1) == 0);
        CHECK("get", mpx_queue_get(c, "cq", 0, &it) == 0 && item_is(&it, "c"));
        mpx_item_clear(&it);
        mpx_disconnect(c);
        CHECK("gone with its last reference", mpx_queue_put(a, "cq", "c", 1, -1) == -ENOENT);
        CHECK("durable", mpx_queue_declare(a, "dq", 0, MPX_DURABLE) == 1);
        CHECK("connection and durable", mpx_queue_declare(a, "dq2", 0, MPX_QUEUE_CONNECTION | MPX_DURABLE) == -EINVAL);
}

/* A consumer taking n items with blocking gets; the slowest put-to-get time, in ms. */
struct consumer {
        mpx *m;
        int n, got;
        long long worst_ms;
};

static void *consume(void *arg) {
        struct consumer *c = arg;

        for (int i = 0; i < c->n; i++) {
                mpx_item it = { 0 };
                long long sent;

                if (mpx_queue_get(c->m, "wq", 5000, &it) != 0 || it.size != sizeof(sent))
                        break;
                memcpy(&sent, it.data, sizeof(sent));
                if (monotonic_ms() - sent > c->worst_ms)
                        c->worst_ms = monotonic_ms() - sent;
                mpx_item_clear(&it);
                c->got++;
        }
        return NULL;
}

/*
 * Puts a little apart into an empty queue, each woken getter taking the item
 * and asking again at once: the wake of the next put often comes while that
 * get is in flight (and is read before its EAGAIN). Such a get must be tried
 * again, not wait for the once-a-second retry.
 */
static void wake_race(mpx *a) {
        struct consumer c = { .m = conn(), .n = 200 };
        pthread_t t;

        CHECK("declare", mpx_queue_declare(a, "wq", 0, 0) >= 0);
        pthread_create(&t, NULL, consume, &c);
        WAIT_FIELD(a, "wq", "getters", 1);
        for (int i = 0; i < c.n; i++) {
                long long sent = monotonic_ms();

                if (mpx_queue_put(a, "wq", &sent, sizeof(sent), -1) != 0)
                        break;
                /* The pace under test: the next wake lands while the last get is in flight. */
                usleep(300);
        }
        pthread_join(t, NULL);
        CHECK("every item got", c.got == c.n);
        printf("     slowest put-to-get %lld ms\n", c.worst_ms);
        CHECK("no get waits for the once-a-second retry", c.worst_ms < 500);
        mpx_disconnect(c.m);
}

struct outcome {
        int done;
        int64_t result;
};

static void record(mpx *m, int64_t result, void *userdata) {
        struct outcome *o = userdata;

        (void) m;
        o->done++;
        o->result = result;
}

/*
 * A get cancelled while its first call is in flight. Redis answered it
 * EAGAIN, which lists it in the queue's getters for INFO; ended ECANCELED, it
 * must leave the line at once, not when the listing runs out seconds later.
 */
static void cancel_in_flight(mpx *a) {
        struct outcome o = { 0 };
        mpx_item it = { 0 };
        mpx *m = conn();
        int64_t id;

        CHECK("declare cq", mpx_queue_declare(a, "cq", 0, 0) >= 0);
        id = mpx_queue_get_async(m, "cq", -1, &it, record, &o);
        CHECK("get sent", id > 0);
        CHECK("cancel asked while it is in flight", mpx_cancel(m, id) == 0);
        CHECK("the get ends", smoke_loop_until(m, &o.done, 1));
        CHECK("... ECANCELED", o.result == -ECANCELED);
        CHECK("... and is out of the getters at once", info_field(a, "cq", "getters") == 0);
        mpx_disconnect(m);
}

/*
 * wait_replicas= asking for more replicas than there are: a put is made and
 * answered EIO (the client may make it again); a get that takes the item is
 * answered with it all the same, as refusing it would lose the item.
 */
static void unconfirmed(void) {
        char address[1024];
        mpx_item it = { 0 };
        mpx *m = NULL;

        snprintf(address, sizeof(address), "%s%swait_replicas=9&wait_timeout_ms=20", url,
                 strchr(url, '?') ? "&" : "?");
        CHECK("connect with wait_replicas=9", mpx_connect(address, &m) == 0);
        if (!m)
                return;
        CHECK("declare made, unconfirmed", mpx_queue_declare(m, "uq", 0, MPX_QUEUE_JOINABLE) == -EIO);
        CHECK("put made, unconfirmed: EIO", mpx_queue_put(m, "uq", "u", 1, -1) == -EIO);
        CHECK("... the item is there", mpx_queue_qsize(m, "uq") == 1);
        CHECK("a get takes it and is answered with it", mpx_queue_get(m, "uq", 0, &it) == 0 && item_is(&it, "u"));
        CHECK("task_done made, unconfirmed: EIO", mpx_queue_task_done(m, "uq", it.tag) == -EIO);
        mpx_item_clear(&it);
        CHECK("... and done", mpx_queue_qsize(m, "uq") == 0);
        mpx_disconnect(m);
}

int main(int argc, char **argv) {
        mpx *a;

        if (argc != 2) {
                fprintf(stderr, "usage: %s redis-address\n", argv[0]);
                return 2;
        }
        url = argv[1];
        a = conn();
        plain(a);
        joinable(a);
        leases(a);
        connection_queue(a);
        died(a);
        counted(a);
        wake_race(a);
        cancel_in_flight(a);
        unconfirmed();
        mpx_disconnect(a);
        return smoke_end();
}
