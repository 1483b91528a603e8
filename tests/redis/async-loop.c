/* SPDX-License-Identifier: MIT */
/*
 * libmpx's asynchronous calls over the Redis backend, driven the way any
 * event loop drives a connection: poll() on mpx_fd() for mpx_events(),
 * mpx_send() when it may write, mpx_process() when it may read, and requests
 * made outside callbacks as well as inside them. Over Redis the descriptor
 * is an epoll set, never writable: a request made outside a callback must
 * go out without waiting for POLLOUT, and an answer made without Redis (a
 * refusal) must make the descriptor readable. Each wait fails after 10 s
 * rather than hanging.
 *
 *     async-loop redis+unix:///path/redis.sock
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "monotonic.h"
#include "mpx.h"
#include "smoke.h"

struct counter {
        int done;
        int failed;
};

static void counted(mpx *m, int64_t result, void *userdata) {
        struct counter *c = userdata;

        (void) m;
        c->done++;
        if (result < 0)
                c->failed++;
}

static void ignored(mpx *m, int64_t result, void *userdata) {
        (void) m;
        (void) result;
        (void) userdata;
}

struct got {
        int done;
        int64_t result;
        mpx_item item;
};

static void got_item(mpx *m, int64_t result, void *userdata) {
        struct got *g = userdata;

        (void) m;
        g->result = result;
        g->done++;
}

/* A get's callback that puts the next item: requests made inside callbacks. */
struct chain {
        int done;
        int left;
        mpx_item item;
};

static void chain_step(mpx *m, int64_t result, void *userdata) {
        struct chain *c = userdata;

        c->done++;
        mpx_item_clear(&c->item);
        if (result < 0 || --c->left == 0)
                return;
        mpx_queue_put_async(m, "aq", "n", 1, -1, ignored, NULL);
        mpx_queue_get_async(m, "aq", -1, &c->item, chain_step, c);
}

int main(int argc, char **argv) {
        struct counter puts = { 0 };
        struct got g = { 0 };
        struct chain ch = { 0 };
        mpx *m;

        if (argc != 2) {
                fprintf(stderr, "usage: %s redis-address\n", argv[0]);
                return 2;
        }
        if (mpx_connect(argv[1], &m) < 0) {
                fprintf(stderr, "async-loop: cannot connect to %s\n", argv[1]);
                return 1;
        }
        CHECK("declare", mpx_queue_declare(m, "aq", 0, 0) >= 0);

        /* Outside callbacks: 100 puts queued at once, then the loop. */
        for (int i = 0; i < 100; i++)
                mpx_queue_put_async(m, "aq", "x", 1, -1, counted, &puts);
        CHECK("100 puts made outside callbacks complete", smoke_loop_until(m, &puts.done, 100) && puts.failed == 0);
        CHECK("... and are in the queue", mpx_queue_qsize(m, "aq") == 100);
        CHECK("purge", mpx_queue_purge(m, "aq") == 100);

        /* A get that parks, served by a put made later, both outside callbacks. */
        mpx_queue_get_async(m, "aq", 5000, &g.item, got_item, &g);
        mpx_queue_put_async(m, "aq", "y", 1, -1, ignored, NULL);
        CHECK("a parked get is served", smoke_loop_until(m, &g.done, 1) && g.result == 0 && g.item.size == 1);
        mpx_item_clear(&g.item);

        /* Requests made inside callbacks: 50 rounds of get, then put the next. */
        ch.left = 50;
        mpx_queue_put_async(m, "aq", "n", 1, -1, ignored, NULL);
        mpx_queue_get_async(m, "aq", -1, &ch.item, chain_step, &ch);
        CHECK("50 gets chained in callbacks", smoke_loop_until(m, &ch.done, 50) && ch.left == 0);

        /* An answer made without Redis: CHMOD is refused at once, and the loop hears of it. */
        {
                struct counter refused = { 0 };

                mpx_chmod_async(m, "aq", 0600, counted, &refused);
                CHECK("a refusal made without Redis reaches the loop",
                      smoke_loop_until(m, &refused.done, 1) && refused.failed == 1);
        }
        mpx_delete(m, "aq");
        mpx_disconnect(m);
        return smoke_end();
}
