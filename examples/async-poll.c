/* SPDX-License-Identifier: MIT */
/*
 * libmpx's asynchronous interface in a plain poll(2) loop: one connection
 * keeps 16 gets and up to 16 puts in flight on a queue, and the loop does
 * nothing but wait for the socket and let mpx_process() run the completions.
 * At the end a get that has nothing to wait for is cancelled.
 *
 *      async-poll [ITEMS]
 *
 * Prints each thousandth item as it arrives, then "received N items in
 * order" and what the cancelled get was told. The daemon is found through
 * $MPX_SOCKET, else the system socket.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpx.h"

#define QUEUE "examples.async"
#define WINDOW 16

struct state;

/* Where one get in flight delivers its item; its address is the get's userdata. */
struct slot {
        struct state *s;
        mpx_item item;
        bool busy;
};

struct state {
        long items;                     /* to send and receive */
        long sent, put_done, received;  /* puts made and answered, items taken */
        int gets_in_flight;
        struct slot slots[WINDOW];
        int failed;                     /* the first error, if any */
};

static void on_put(mpx *m, int64_t result, void *userdata);
static void on_get(mpx *m, int64_t result, void *userdata);

static void fail(struct state *s, const char *what, int64_t r) {
        if (!s->failed) {
                fprintf(stderr, "%s: %s\n", what, mpx_strerror((int) r));
                s->failed = (int) r;
        }
}

/* Keep WINDOW puts in flight until every item is sent. */
static void put_more(mpx *m, struct state *s) {
        while (!s->failed && s->sent < s->items && s->sent - s->put_done < WINDOW) {
                char text[32];
                int n = snprintf(text, sizeof(text), "item %ld", s->sent);
                int64_t id = mpx_queue_put_async(m, QUEUE, text, (size_t) n, -1, on_put, s);

                if (id < 0)
                        return fail(s, "put", id);
                s->sent++;
        }
}

/* Keep WINDOW gets in flight until every item is asked for. */
static void get_more(mpx *m, struct state *s) {
        for (int i = 0; i < WINDOW && !s->failed; i++) {
                struct slot *slot = &s->slots[i];
                int64_t id;

                if (slot->busy || s->received + s->gets_in_flight >= s->items)
                        continue;
                slot->s = s;
                id = mpx_queue_get_async(m, QUEUE, -1, &slot->item, on_get, slot);
                if (id < 0)
                        return fail(s, "get", id);
                slot->busy = true;
                s->gets_in_flight++;
        }
}

static void on_put(mpx *m, int64_t result, void *userdata) {
        struct state *s = userdata;

        s->put_done++;
        if (result < 0)
                return fail(s, "put", result);
        put_more(m, s);
}

static void on_get(mpx *m, int64_t result, void *userdata) {
        struct slot *slot = userdata;
        struct state *s = slot->s;
        mpx_item *item = &slot->item;
        char want[32];
        int n;

        slot->busy = false;
        s->gets_in_flight--;
        if (result < 0)
                return fail(s, "get", result);
        /* Gets parked on one queue are served in the order they were made, so items come in order. */
        n = snprintf(want, sizeof(want), "item %ld", s->received);
        if (item->size != (size_t) n || memcmp(item->data, want, (size_t) n) != 0) {
                fprintf(stderr, "got '%.*s', expected '%s'\n", (int) item->size, (char *) item->data, want);
                s->failed = -EPROTO;
        }
        if (s->received % 1000 == 0)
                printf("%.*s\n", (int) item->size, (char *) item->data);
        mpx_item_clear(item);
        s->received++;
        get_more(m, s);
}

/* The whole program: poll the socket for what libmpx wants until done(s) holds. */
static int run_until(mpx *m, struct state *s, bool (*done)(const struct state *)) {
        while (!done(s) && !s->failed) {
                struct pollfd p = { .fd = mpx_fd(m), .events = mpx_events(m) };
                int r;

                if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                        perror("poll");
                        return -errno;
                }
                r = mpx_process(m);
                if (r < 0) {
                        fail(s, "connection", r);
                        return r;
                }
        }
        return s->failed;
}

static bool all_received(const struct state *s) {
        return s->received == s->items && s->put_done == s->items;
}

static int cancelled_result;
static bool cancel_done;

static void on_cancelled_get(mpx *m, int64_t result, void *userdata) {
        (void) m;
        mpx_item_clear(userdata);
        cancelled_result = (int) result;
        cancel_done = true;
}

static bool cancelled(const struct state *s) {
        (void) s;
        return cancel_done;
}

int main(int argc, char **argv) {
        static struct state state;
        struct state *s = &state;
        mpx_item spare = { 0 };
        int64_t id;
        mpx *m;
        int r;

        s->items = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
        if (s->items <= 0) {
                fprintf(stderr, "usage: async-poll [ITEMS]\n");
                return 2;
        }
        r = mpx_connect(NULL, &m);
        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                return 3;
        }
        r = mpx_queue_declare(m, QUEUE, 0, 0);
        if (r >= 0)
                r = (int) mpx_queue_purge(m, QUEUE);
        if (r < 0) {
                fprintf(stderr, "queue '%s': %s\n", QUEUE, mpx_strerror(r));
                return 1;
        }

        get_more(m, s);
        put_more(m, s);
        if (run_until(m, s, all_received) < 0)
                return 1;
        printf("received %ld items in order, %d gets and %d puts in flight\n", s->received, WINDOW, WINDOW);

        /* The queue is empty: this get parks in the daemon until cancelled. */
        id = mpx_queue_get_async(m, QUEUE, -1, &spare, on_cancelled_get, &spare);
        if (id < 0 || (r = mpx_cancel(m, id)) < 0) {
                fprintf(stderr, "cancel: %s\n", mpx_strerror(id < 0 ? (int) id : r));
                return 1;
        }
        if (run_until(m, s, cancelled) < 0)
                return 1;
        printf("the last get was told: %s\n", mpx_strerror(cancelled_result));
        mpx_disconnect(m);
        return cancelled_result == -ECANCELED ? 0 : 1;
}
