/* SPDX-License-Identifier: MIT */
/*
 * libmpx inside a libevent loop (mpx-libevent.h), and pipelined puts.
 *
 * A producer process puts ITEMS numbers on a queue through the ordinary
 * synchronous call with the connection pipelined (mpx_pipeline()): each put
 * returns once it is queued, as multiprocessing's Queue.put() does, and
 * mpx_flush() at the end says whether every one of them landed. Then it
 * closes the queue. The consumer is an event-driven program: four gets in
 * flight from one connection attached to an event_base, next to a timer of
 * its own that reports progress, until the closed queue is drained and the
 * gets end with EPIPE.
 *
 *      async-libevent [ITEMS]
 *
 * Prints "sum N of M items" (N is the sum of 1..M) and "drained".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "mpx.h"
#include "mpx-libevent.h"

#define QUEUE "examples.numbers"
#define WINDOW 4

struct consumer;

/* One get in flight: where it delivers. */
struct slot {
        struct consumer *c;
        mpx_item item;
};

struct consumer {
        mpx *m;
        struct event_base *base;
        struct slot slots[WINDOW];
        int in_flight;
        long count, sum;
        int failed;
        bool drained;
};

static void on_item(mpx *m, int64_t result, void *userdata);

static int get_next(struct consumer *c, struct slot *slot) {
        int64_t id = mpx_queue_get_async(c->m, QUEUE, -1, &slot->item, on_item, slot);

        if (id < 0) {
                fprintf(stderr, "get: %s\n", mpx_strerror((int) id));
                c->failed = (int) id;
                return (int) id;
        }
        c->in_flight++;
        return 0;
}

static void on_item(mpx *m, int64_t result, void *userdata) {
        struct slot *slot = userdata;
        struct consumer *c = slot->c;

        (void) m;
        c->in_flight--;
        if (result == -EPIPE)
                /* Closed and drained: this get is over, and so are the others. */
                c->drained = true;
        else if (result < 0) {
                fprintf(stderr, "get: %s\n", mpx_strerror((int) result));
                c->failed = (int) result;
        } else {
                char text[24] = "";

                /* Items are not NUL-terminated. */
                if (slot->item.size < sizeof(text))
                        memcpy(text, slot->item.data, slot->item.size);
                c->sum += strtol(text, NULL, 10);
                c->count++;
                mpx_item_clear(&slot->item);
                if (!c->failed && !c->drained && get_next(c, slot) < 0)
                        return;
        }
        if (c->in_flight == 0)
                event_base_loopbreak(c->base);
}

static void on_timer(evutil_socket_t fd, short what, void *arg) {
        struct consumer *c = arg;

        (void) fd;
        (void) what;
        fprintf(stderr, "%ld items so far\n", c->count);
}

static int produce(long items) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "producer: %s\n", mpx_strerror(r));
                return 3;
        }
        mpx_pipeline(m, 1);
        for (long i = 1; i <= items && r >= 0; i++) {
                char text[24];
                int n = snprintf(text, sizeof(text), "%ld", i);

                r = mpx_queue_put(m, QUEUE, text, (size_t) n, -1);
        }
        /* Every pipelined put answered, or the first failure among them. */
        if (r >= 0)
                r = mpx_flush(m);
        if (r >= 0)
                r = mpx_queue_close(m, QUEUE);
        if (r < 0)
                fprintf(stderr, "producer: %s\n", mpx_strerror(r));
        mpx_disconnect(m);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        static struct consumer c;
        long items = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
        struct timeval second = { .tv_sec = 1 };
        struct mpx_libevent *attached;
        struct event *timer;
        int r, status;
        pid_t pid;

        if (items <= 0) {
                fprintf(stderr, "usage: async-libevent [ITEMS]\n");
                return 2;
        }
        r = mpx_connect(NULL, &c.m);
        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                return 3;
        }
        /* A fresh queue: a closed one stays closed. */
        mpx_delete(c.m, QUEUE);
        r = mpx_queue_declare(c.m, QUEUE, 0, 0);
        if (r < 0) {
                fprintf(stderr, "queue '%s': %s\n", QUEUE, mpx_strerror(r));
                return 1;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                return 1;
        }
        if (pid == 0)
                _exit(produce(items));

        c.base = event_base_new();
        if (!c.base || mpx_libevent_attach(c.m, c.base, &attached) < 0) {
                fprintf(stderr, "cannot set up the event loop\n");
                return 1;
        }
        timer = event_new(c.base, -1, EV_PERSIST, on_timer, &c);
        event_add(timer, &second);
        for (int i = 0; i < WINDOW; i++) {
                c.slots[i].c = &c;
                if (get_next(&c, &c.slots[i]) < 0)
                        break;
        }
        event_base_dispatch(c.base);

        event_free(timer);
        mpx_libevent_detach(attached);
        mpx_disconnect(c.m);
        event_base_free(c.base);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "the producer failed\n");
                return 1;
        }
        printf("sum %ld of %ld items\n", c.sum, c.count);
        if (c.drained)
                printf("drained\n");
        return c.failed || !c.drained || c.count != items ? 1 : 0;
}
