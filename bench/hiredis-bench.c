/* SPDX-License-Identifier: MIT */
/*
 * hiredis-bench: Redis through hiredis's asynchronous API, the peer of the
 * asynchronous libmpx client (mpx-bench --lib -P N): one connection keeps -w
 * requests in flight, made from the reply callbacks, in libevent's loop.
 *
 *      hiredis-bench -s SOCKET put|get [-w WINDOW] [-d BYTES] [-t SECONDS]
 *                    [-k KEY] [--refill-all]
 *
 *      put     LPUSH KEY of -d byte values, on a list emptied first; the items
 *              stay for a get run that follows
 *      get     RPOP KEY of what a put run left; ends early, with
 *              "drained":true, when the list runs empty
 *
 * By default a reply's callback makes the next request at once; with
 * --refill-all a batch of -w goes out only once every reply of the last one
 * is in (redis-benchmark -P, mpx-bench --refill-all). Commands are made with
 * redisAsyncCommandArgv(), the call that takes a value and its length as
 * mpx_queue_put() does, so that both libraries build every request from its
 * arguments. Prints one JSON line, as bench/resp-bench does: replies per
 * second, and round-trip latency percentiles in microseconds from the call
 * that made a request to its callback.
 *
 * Standalone; bench/compare builds it with the system C compiler and
 * `pkg-config --cflags --libs hiredis libevent`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#define FINE_NS 100
#define BUCKETS 1000000         /* 100 ns buckets up to 100 ms */
#define COARSE_NS 100000
#define COARSE 1000000          /* then 100 us buckets up to 100 s */

struct hist {
        uint64_t n;
        int64_t max;
        uint64_t b[BUCKETS + COARSE + 1];
};

/* One request in flight: the slot is reused only after its callback. */
struct slot {
        int64_t t0;
};

static const char *sock_path, *key = "hiredis-bench";
static size_t size = 64, window = 16;
static double secs = 3;
static bool refill_all, put;

static struct hist hist;
static struct slot *slots;
static char *value;
static size_t inflight;
static uint64_t ops;
static int64_t start, last, deadline;
static bool done, drained;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void hist_add(struct hist *h, int64_t ns) {
        int64_t i = ns < (int64_t) BUCKETS * FINE_NS ? ns / FINE_NS : BUCKETS + ns / COARSE_NS;

        if (i < 0)
                i = 0;
        if (i > BUCKETS + COARSE)
                i = BUCKETS + COARSE;
        h->b[i]++;
        h->n++;
        if (ns > h->max)
                h->max = ns;
}

static double hist_q(const struct hist *h, double q) {
        uint64_t want = (uint64_t) ((double) h->n * q), seen = 0;

        if (want >= h->n)
                want = h->n - 1;
        for (size_t i = 0; i < BUCKETS + COARSE; i++) {
                seen += h->b[i];
                if (seen > want)
                        return i < BUCKETS ? (double) (i + 1) * FINE_NS / 1e3
                                           : (double) (i - BUCKETS + 1) * COARSE_NS / 1e3;
        }
        return h->max / 1e3;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata);

static void issue(redisAsyncContext *ac, struct slot *s) {
        const char *argv[3] = { put ? "LPUSH" : "RPOP", key, value };
        size_t lens[3] = { put ? 5 : 4, strlen(key), size };

        s->t0 = now_ns();
        if (done || s->t0 >= deadline) {
                done = true;
                return;
        }
        if (redisAsyncCommandArgv(ac, on_reply, s, put ? 3 : 2, argv, lens) != REDIS_OK) {
                fprintf(stderr, "hiredis-bench: cannot queue a command: %s\n", ac->errstr);
                exit(1);
        }
        inflight++;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata) {
        redisReply *reply = r;
        struct slot *s = privdata;
        int64_t t1 = now_ns();

        inflight--;
        if (!reply) {
                /* hiredis runs the callbacks left with no reply when the connection goes */
                fprintf(stderr, "hiredis-bench: connection lost: %s\n", ac->errstr);
                exit(1);
        }
        if (reply->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "hiredis-bench: error reply: %s\n", reply->str);
                exit(1);
        }
        if (reply->type == REDIS_REPLY_NIL) {
                /* RPOP on an empty list: what came before is the measurement */
                drained = done = true;
        } else {
                hist_add(&hist, t1 - s->t0);
                ops++;
                last = t1;
        }
        if (!refill_all)
                issue(ac, s);
        else if (inflight == 0)
                for (size_t i = 0; i < window; i++)
                        issue(ac, &slots[i]);
        if (inflight == 0)
                /* nothing more to come: hiredis frees the context and the loop runs dry */
                redisAsyncDisconnect(ac);
}

static void on_connect(const redisAsyncContext *ac, int status) {
        if (status != REDIS_OK) {
                fprintf(stderr, "hiredis-bench: connect %s: %s\n", sock_path, ac->errstr);
                exit(1);
        }
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
        if (status != REDIS_OK) {
                fprintf(stderr, "hiredis-bench: disconnected: %s\n", ac->errstr);
                exit(1);
        }
}

/* Empty the list before a put run, on a synchronous connection of its own. */
static void del_key(void) {
        redisContext *c = redisConnectUnix(sock_path);
        redisReply *reply;

        if (!c || c->err) {
                fprintf(stderr, "hiredis-bench: connect %s: %s\n", sock_path, c ? c->errstr : "out of memory");
                exit(1);
        }
        reply = redisCommand(c, "DEL %s", key);
        if (!reply || reply->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "hiredis-bench: DEL %s failed\n", key);
                exit(1);
        }
        freeReplyObject(reply);
        redisFree(c);
}

static void usage(FILE *f) {
        fprintf(f, "usage: hiredis-bench -s SOCKET put|get [-w WINDOW] [-d BYTES] [-t SECONDS] [-k KEY]\n"
                   "                     [--refill-all]\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "refill-all", no_argument, NULL, 'R' },
                { "help", no_argument, NULL, 'h' },
                { 0, 0, 0, 0 },
        };
        struct event_base *base;
        redisAsyncContext *ac;
        double el;
        int c;

        while ((c = getopt_long(argc, argv, "s:w:d:t:k:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 's': sock_path = optarg; break;
                case 'w': window = (size_t) atol(optarg); break;
                case 'd': size = (size_t) atol(optarg); break;
                case 't': secs = atof(optarg); break;
                case 'k': key = optarg; break;
                case 'R': refill_all = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (!sock_path || optind + 1 != argc || window < 1 || secs <= 0 ||
            (strcmp(argv[optind], "put") != 0 && strcmp(argv[optind], "get") != 0)) {
                usage(stderr);
                return 2;
        }
        put = strcmp(argv[optind], "put") == 0;
        slots = calloc(window, sizeof(*slots));
        value = malloc(size + 1);
        if (!slots || !value) {
                fprintf(stderr, "hiredis-bench: out of memory\n");
                return 1;
        }
        memset(value, 'x', size);
        if (put)
                del_key();

        base = event_base_new();
        ac = redisAsyncConnectUnix(sock_path);
        if (!base || !ac || ac->err) {
                fprintf(stderr, "hiredis-bench: connect %s: %s\n", sock_path, ac ? ac->errstr : "out of memory");
                return 1;
        }
        redisLibeventAttach(ac, base);
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        /* The first window is buffered and goes out in one write once the loop runs. */
        start = last = now_ns();
        deadline = start + (int64_t) (secs * 1e9);
        for (size_t i = 0; i < window; i++)
                issue(ac, &slots[i]);
        event_base_dispatch(base);
        event_base_free(base);

        el = (double) (last - start) / 1e9;
        if (el <= 0)
                el = 1e-9;
        printf("{\"system\":\"redis\",\"client\":\"hiredis-async\",\"scenario\":\"%s\",\"clients\":1,"
               "\"pipeline\":%zu,\"size\":%zu,\"ops\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f",
               put ? "lpush" : "rpop", window, size, (unsigned long long) ops, el, (double) ops / el);
        if (hist.n)
                printf(",\"latency\":\"round-trip\",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f",
                       hist_q(&hist, 0.5), hist_q(&hist, 0.99), hist_q(&hist, 0.999));
        if (drained)
                printf(",\"drained\":true");
        printf("}\n");
        free(slots);
        free(value);
        return 0;
}
