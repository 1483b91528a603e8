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
 * Two more modes issue commands given on the command line, through
 * hiredis's synchronous API, the least a client can do per command; they are
 * the peers of libmpx's Redis backend (bench/compare runs the FCALLs the
 * backend sends, and the plain Redis commands nearest to them):
 *
 *      hiredis-bench -s SOCKET loop [-w WINDOW] [-d BYTES] [-t SECONDS]
 *                    [--keys N] -- CMD ARG... [';' CMD ARG...]
 *      hiredis-bench -s SOCKET handoff [-d BYTES] [-t SECONDS] [--wake CHANNEL]
 *                    -- PRODUCER-CMD ARG... '|' CMD ARG... [';' CMD ARG...]
 *
 *      loop    one connection runs the sequence of commands (';' between
 *              them) again and again until -t runs out, one operation a
 *              sequence: -w sequences in flight (16 unless given, as for put
 *              and get), each command of a batch of -w written in one go,
 *              then its -w replies read (mpx-bench --refill-all); -w 1 is a
 *              synchronous loop. Ends early, with "drained":true, when the first
 *              command is answered nil or EAGAIN (a get from an empty list or
 *              queue).
 *      handoff a producer process runs its command again and again, a
 *              consumer process its sequence; counted at the consumer, whose
 *              first command takes an item (BLPOP, or an mpx get); latency is
 *              put-to-get, from the time the producer wrote into the first 8
 *              bytes of @value. With --wake, a consumer command answered
 *              EAGAIN waits for a message on CHANNEL (SSUBSCRIBEd at the
 *              start), a second at most, and is sent again: what the backend
 *              does with a get that parks.
 *
 * Words that stand for something, one per argument:
 *      @value  -d bytes of 'x'          @key    key:NNNNNN, over --keys keys (1000)
 *      @cid    a client id (32 hex digits, one per process, as the backend's)
 *      @id     a request number (1, 2, ...), as the backend's request ids
 *      @prev   the previous command's answer: its first element if an array
 *              (an mpx get's delivery tag), else its text (BLMOVE's item)
 *
 * Standalone; bench/compare builds it with the system C compiler and
 * `pkg-config --cflags --libs hiredis libevent`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static const char *sock_path, *key = "hiredis-bench", *wake_channel;
static size_t size = 64, window = 16, keys = 1000;
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

/* ---- loop and handoff: commands from the command line, synchronous ---- */

#define MAX_STEPS 4
#define MAX_ARGS 16
#define RETRY_MS 1000           /* a get that waits for a wake is sent again after this at the latest */

/* One command of a sequence, its words as given (some standing for something: fill()). */
struct step {
        int argc;
        char **argv;
};

struct seq {
        int n;
        struct step steps[MAX_STEPS];
};

/* A sequence in flight: when it began, and the previous answer for @prev. */
struct run_slot {
        int64_t t0;
        char *prev;
        size_t prev_len;
};

static char cid[33];
static uint64_t next_id = 1, next_key;

static void die_ctx(const redisContext *c, const char *what) {
        fprintf(stderr, "hiredis-bench: %s: %s\n", what, c && c->err ? c->errstr : "out of memory");
        exit(1);
}

static redisContext *connect_sync(void) {
        redisContext *c = redisConnectUnix(sock_path);

        if (!c || c->err)
                die_ctx(c, sock_path);
        return c;
}

/* Split words into sequences: ';' ends a command, '|' a sequence. Returns the words used. */
static int parse_seq(char **words, int n, struct seq *q) {
        int i = 0;

        q->n = 0;
        while (i < n && strcmp(words[i], "|") != 0) {
                struct step *st = &q->steps[q->n];

                if (q->n == MAX_STEPS) {
                        fprintf(stderr, "hiredis-bench: at most %d commands a sequence\n", MAX_STEPS);
                        exit(2);
                }
                st->argv = &words[i];
                st->argc = 0;
                while (i < n && strcmp(words[i], ";") != 0 && strcmp(words[i], "|") != 0) {
                        st->argc++;
                        i++;
                }
                if (st->argc == 0 || st->argc > MAX_ARGS) {
                        fprintf(stderr, "hiredis-bench: a command has 1 to %d words\n", MAX_ARGS);
                        exit(2);
                }
                q->n++;
                if (i < n && strcmp(words[i], ";") == 0)
                        i++;
        }
        return i;
}

/* What word w of a command stands for: its bytes in *p, *len (buf holds numbers and keys). */
static void fill(const char *w, const struct run_slot *s, char *buf, size_t cap, const char **p, size_t *len) {
        if (strcmp(w, "@value") == 0) {
                *p = value;
                *len = size;
        } else if (strcmp(w, "@key") == 0) {
                *p = buf;
                *len = (size_t) snprintf(buf, cap, "key:%06u", (unsigned) (next_key++ % keys));
        } else if (strcmp(w, "@cid") == 0) {
                *p = cid;
                *len = strlen(cid);
        } else if (strcmp(w, "@id") == 0) {
                *p = buf;
                *len = (size_t) snprintf(buf, cap, "%llu", (unsigned long long) next_id++);
        } else if (strcmp(w, "@prev") == 0) {
                *p = s->prev ? s->prev : "";
                *len = s->prev_len;
        } else {
                *p = w;
                *len = strlen(w);
        }
}

/* Queue step st of slot s on c (hiredis writes it at the next redisGetReply()). */
static void append(redisContext *c, const struct step *st, const struct run_slot *s) {
        const char *argv[MAX_ARGS];
        size_t lens[MAX_ARGS];
        char bufs[MAX_ARGS][32];

        for (int i = 0; i < st->argc; i++)
                fill(st->argv[i], s, bufs[i], sizeof(bufs[i]), &argv[i], &lens[i]);
        if (redisAppendCommandArgv(c, st->argc, argv, lens) != REDIS_OK)
                die_ctx(c, "append a command");
}

static redisReply *get_reply(redisContext *c) {
        void *r = NULL;

        if (redisGetReply(c, &r) != REDIS_OK || !r)
                die_ctx(c, "read a reply");
        return r;
}

/* Keep what @prev stands for: an array's first element, else the answer's text. */
static void keep_prev(struct run_slot *s, const redisReply *r) {
        char num[32];
        const char *p = num;
        size_t n = 0;

        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
                r = r->element[0];
        if (r->type == REDIS_REPLY_INTEGER)
                n = (size_t) snprintf(num, sizeof(num), "%lld", r->integer);
        else if (r->type == REDIS_REPLY_STRING) {
                p = r->str;
                n = r->len;
        }
        free(s->prev);
        s->prev = malloc(n + 1);
        if (!s->prev) {
                fprintf(stderr, "hiredis-bench: out of memory\n");
                exit(1);
        }
        memcpy(s->prev, p, n);
        s->prev_len = n;
}

/* Nothing to take: nil (an empty list, BLPOP's timeout) or mpx's EAGAIN. */
static bool is_empty(const redisReply *r) {
        return r->type == REDIS_REPLY_NIL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "EAGAIN", 6) == 0);
}

static void check_reply(const redisReply *r) {
        if (r->type == REDIS_REPLY_ERROR) {
                fprintf(stderr, "hiredis-bench: error reply: %s\n", r->str);
                exit(1);
        }
}

/* The first string of -d bytes in an answer (an item's payload), or NULL. */
static const char *payload_of(const redisReply *r) {
        if (r->type == REDIS_REPLY_STRING && r->len == size)
                return r->str;
        for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
                const char *p = payload_of(r->element[i]);

                if (p)
                        return p;
        }
        return NULL;
}

/* A client id as the backend makes one: 16 random bytes in hex. */
static void make_cid(void) {
        uint8_t raw[16];

        if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw)) {
                fprintf(stderr, "hiredis-bench: getrandom failed\n");
                exit(1);
        }
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(cid + 2 * i, 3, "%02x", raw[i]);
}

/*
 * One batch of the loop: each step of the sequence for every slot, the -w
 * commands written together, then their replies. false once drained.
 */
static bool loop_batch(redisContext *c, const struct seq *q, struct run_slot *slots) {
        bool drained = false;
        int64_t t1;

        for (size_t i = 0; i < window; i++)
                slots[i].t0 = now_ns();
        for (int k = 0; k < q->n; k++) {
                for (size_t i = 0; i < window; i++)
                        append(c, &q->steps[k], &slots[i]);
                for (size_t i = 0; i < window; i++) {
                        redisReply *r = get_reply(c);

                        if (k == 0 && is_empty(r))
                                drained = true;
                        else
                                check_reply(r);
                        keep_prev(&slots[i], r);
                        freeReplyObject(r);
                }
                if (drained)
                        return false;
        }
        t1 = now_ns();
        for (size_t i = 0; i < window; i++)
                hist_add(&hist, t1 - slots[i].t0);
        ops += window;
        last = t1;
        return true;
}

static void print_result(const char *mode, const char *latency, int64_t t0) {
        double el = (double) (last - t0) / 1e9;

        if (el <= 0)
                el = 1e-9;
        printf("{\"system\":\"redis\",\"client\":\"hiredis\",\"scenario\":\"%s\",\"clients\":1,"
               "\"pipeline\":%zu,\"size\":%zu,\"ops\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f",
               mode, window, size, (unsigned long long) ops, el, (double) ops / el);
        if (hist.n)
                printf(",\"latency\":\"%s\",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f", latency,
                       hist_q(&hist, 0.5), hist_q(&hist, 0.99), hist_q(&hist, 0.999));
        if (drained)
                printf(",\"drained\":true");
        printf("}\n");
}

static int run_loop(char **words, int n) {
        struct run_slot *rs = calloc(window, sizeof(*rs));
        redisContext *c = connect_sync();
        struct seq q;

        if (parse_seq(words, n, &q) != n || q.n == 0) {
                fprintf(stderr, "hiredis-bench: loop takes one sequence of commands\n");
                return 2;
        }
        start = last = now_ns();
        deadline = start + (int64_t) (secs * 1e9);
        while (now_ns() < deadline)
                if (!loop_batch(c, &q, rs)) {
                        drained = true;
                        break;
                }
        print_result("loop", "round-trip", start);
        redisFree(c);
        return 0;
}

/* What the processes of a hand-off share: the consumer's count and histogram. */
struct handoff_shared {
        uint64_t ops;
        int64_t last;
        struct hist h;
};

/* Wait for a message on the subscriber connection, RETRY_MS at most (a message read before counts). */
static void wait_wake(redisContext *sub) {
        struct pollfd p = { .fd = sub->fd, .events = POLLIN };
        void *r = NULL;

        if (redisGetReplyFromReader(sub, &r) == REDIS_OK && r) {
                freeReplyObject(r);
                return;
        }
        if (poll(&p, 1, RETRY_MS) <= 0)
                return;
        if (redisBufferRead(sub) != REDIS_OK)
                die_ctx(sub, "read a wake");
        if (redisGetReplyFromReader(sub, &r) == REDIS_OK && r)
                freeReplyObject(r);
}

/* One command of the consumer; an EAGAIN with --wake waits for a wake and is sent again. */
static redisReply *consumer_command(redisContext *c, redisContext *sub, const struct step *st,
                                    struct run_slot *s) {
        for (;;) {
                redisReply *r;

                append(c, st, s);
                r = get_reply(c);
                if (!sub || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "EAGAIN", 6) != 0 ||
                    now_ns() >= deadline)
                        return r;
                freeReplyObject(r);
                wait_wake(sub);
        }
}

/* Run the sequence until the deadline; its first command takes an item, whose put-to-get time is kept. */
static void consumer(const struct seq *q, struct handoff_shared *sh, int ready_fd, int go_fd) {
        redisContext *c = connect_sync(), *sub = NULL;
        struct run_slot s = { 0 };

        make_cid();
        if (wake_channel) {
                redisReply *r;

                sub = connect_sync();
                r = redisCommand(sub, "SSUBSCRIBE %s", wake_channel);
                if (!r)
                        die_ctx(sub, "SSUBSCRIBE");
                freeReplyObject(r);
        }
        if (write(ready_fd, "r", 1) != 1 || read(go_fd, &start, sizeof(start)) != sizeof(start))
                _exit(1);
        deadline = start + (int64_t) (secs * 1e9);
        while (now_ns() < deadline) {
                bool took = true;

                for (int k = 0; k < q->n && took; k++) {
                        redisReply *r = consumer_command(c, sub, &q->steps[k], &s);
                        int64_t t = now_ns();
                        const char *p;

                        if (k == 0 && is_empty(r))
                                took = false;   /* BLPOP's timeout, or the deadline while waiting */
                        else
                                check_reply(r);
                        if (k == 0 && took && size >= 8 && (p = payload_of(r))) {
                                int64_t put;

                                memcpy(&put, p, sizeof(put));
                                hist_add(&sh->h, t - put);
                        }
                        keep_prev(&s, r);
                        freeReplyObject(r);
                }
                if (took) {
                        sh->ops++;
                        sh->last = now_ns();
                }
        }
        _exit(0);
}

/* Run the one command until the deadline, the time in the first 8 bytes of @value. */
static void producer(const struct seq *q) {
        redisContext *c = connect_sync();
        struct run_slot s = { 0 };

        make_cid();
        while (now_ns() < deadline) {
                int64_t t = now_ns();
                redisReply *r;

                if (size >= 8)
                        memcpy(value, &t, sizeof(t));
                append(c, &q->steps[0], &s);
                r = get_reply(c);
                check_reply(r);
                freeReplyObject(r);
        }
        redisFree(c);
}

static int run_handoff(char **words, int n) {
        struct handoff_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                                         -1, 0);
        int used = 0, ready[2], go[2], status;
        struct seq pq, cq;
        pid_t pid;
        char byte;

        used = parse_seq(words, n, &pq);
        if (used < n)
                used += 1 + parse_seq(words + used + 1, n - used - 1, &cq);
        if (used != n || pq.n != 1 || cq.n == 0) {
                fprintf(stderr, "hiredis-bench: handoff takes a producer's command, '|', the consumer's\n");
                return 2;
        }
        if (sh == MAP_FAILED || pipe(ready) < 0 || pipe(go) < 0) {
                perror("hiredis-bench");
                return 1;
        }
        window = 1;
        fflush(NULL);
        pid = fork();
        if (pid == 0)
                consumer(&cq, sh, ready[1], go[0]);
        if (pid < 0 || read(ready[0], &byte, 1) != 1) {
                fprintf(stderr, "hiredis-bench: the consumer did not start\n");
                return 1;
        }
        start = now_ns();
        deadline = start + (int64_t) (secs * 1e9);
        if (write(go[1], &start, sizeof(start)) != sizeof(start))
                return 1;
        producer(&pq);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "hiredis-bench: the consumer failed\n");
                return 1;
        }
        ops = sh->ops;
        last = sh->last;
        hist = sh->h;
        print_result("handoff", "put-to-get", start);
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "usage: hiredis-bench -s SOCKET put|get [-w WINDOW] [-d BYTES] [-t SECONDS] [-k KEY]\n"
                   "                     [--refill-all]\n"
                   "       hiredis-bench -s SOCKET loop [-w WINDOW] [-d BYTES] [-t SECONDS] [--keys N]\n"
                   "                     -- CMD ARG... [';' CMD ARG...]\n"
                   "       hiredis-bench -s SOCKET handoff [-d BYTES] [-t SECONDS] [--wake CHANNEL]\n"
                   "                     -- PRODUCER-CMD ARG... '|' CMD ARG... [';' CMD ARG...]\n"
                   "  words: @value @key @cid @id @prev\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "refill-all", no_argument, NULL, 'R' },
                { "keys", required_argument, NULL, 'K' },
                { "wake", required_argument, NULL, 'W' },
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
                case 'K': keys = (size_t) atol(optarg); break;
                case 'W': wake_channel = optarg; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (sock_path && optind < argc && window >= 1 && secs > 0 && keys >= 1 &&
            (strcmp(argv[optind], "loop") == 0 || strcmp(argv[optind], "handoff") == 0)) {
                value = malloc(size + 1);
                if (!value) {
                        fprintf(stderr, "hiredis-bench: out of memory\n");
                        return 1;
                }
                memset(value, 'x', size);
                make_cid();
                if (strcmp(argv[optind], "loop") == 0)
                        return run_loop(argv + optind + 1, argc - optind - 1);
                return run_handoff(argv + optind + 1, argc - optind - 1);
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
