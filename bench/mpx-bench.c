/* SPDX-License-Identifier: MIT */
/*
 * mpx-bench: measure mpxd. Each scenario prints one JSON line: operations per
 * second and latency percentiles (p50, p99, p99.9) in microseconds.
 *
 *      mpx-bench [-s SOCKET | --spawn MPXD] [-T SCENARIO[,SCENARIO...]] [-c CLIENTS]
 *                [-P DEPTH] [-d BYTES] [-t SECONDS | -n COUNT] [options]
 *
 * Scenarios (-T, a comma-separated list, or as arguments):
 *      put        QUEUE_PUT into an unbounded queue (like redis-benchmark -t lpush)
 *      get        QUEUE_GET from a queue filled beforehand (-t rpop); ends early,
 *                 with "drained":true, if the queue runs empty
 *      put_many   QUEUE_PUT_MANY of -b items (64) per request
 *      get_many   QUEUE_GET_MANY of up to -b items per request, from a filled queue
 *      handoff    a producer process puts, a consumer process blocked in get takes:
 *                 -c connections on each side, -P requests in flight on each;
 *                 counted at the consumer; latency is put-to-get (payload timestamp)
 *      joinable   handoff on a joinable queue, the consumer doing get + task_done;
 *                 one operation is one get+task_done pair
 *      joinable_done_get   the same, the consumer finishing each delivery with the
 *                 request that takes the next (QUEUE_DONE_GET): one request an item
 *      dict_set, dict_get, dict_incr   on a dict of -k keys (1000)
 *      sem        acquire + release on a semaphore that never blocks (one op = pair)
 *      ping       PING with a -d byte echo
 *      putget     (--lib only, -P 1) one connection puts an item, then gets it
 *                 back from the same queue: one operation is the put+get pair, the
 *                 loop the Python package's q.put(x); q.get() runs over libmpx
 *      wake       -c connections each parked in a get; one producer puts one item at
 *                 a time; latency is put-to-wake of the oldest waiter. With --pause
 *                 it prints a "ready" line once all are parked and waits for a line
 *                 on stdin (to let a caller measure the daemon's memory)
 *
 * Dict and semaphore scenarios are skipped, with a JSON line saying so, when the
 * daemon answers EOPNOTSUPP.
 *
 * Clients: all connections of one side live in ONE process (epoll, non-blocking
 * sockets, as redis-benchmark does); hand-off scenarios use two processes, the
 * producers' and the consumers'. Each connection keeps -P requests in flight:
 * whenever replies arrive the window is refilled and the new requests go out in
 * one write(). Replies are matched by id; latency is measured from the write()
 * that carried a request to the read() that brought its reply. With one
 * connection the socket is blocking (write, then read; no epoll).
 *
 * The protocol is spoken directly (docs/PROTOCOL.md); libmpx is used only for
 * setting objects up, and, with --lib, for the put/get/ping/handoff scenarios
 * (one process per client): synchronous calls with -P 1, asynchronous ones
 * keeping -P requests in flight otherwise, and with --pipelined, synchronous
 * puts on a pipelined connection; which shows libmpx's own cost. joinable,
 * dict_set, dict_get and sem have synchronous --lib loops too (-P 1).
 *
 * With --lib every request goes through libmpx (the prefill of get too), so -s
 * takes any address mpx_connect() does: "redis+unix:///path/redis.sock"
 * measures libmpx's Redis backend.
 *
 * --durable declares the queues and dicts durable: bench/compare-durable runs
 * put that way against mpxd under each sync policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"
#include "wire.h"       /* opcodes, status codes and sizes only: the encoding is done here */

/* ---- options ---- */

struct options {
        const char *socket;
        const char *spawn;              /* path of an mpxd to start */
        const char *queue;
        int clients;
        int depth;                      /* requests in flight per connection */
        size_t size;                    /* payload bytes */
        unsigned batch;                 /* items per put_many/get_many */
        unsigned keys;                  /* dict keyspace */
        double secs;                    /* run time, when count is 0 */
        long count;                     /* operations in all, or 0 */
        long prefill;                   /* items put before get/get_many without --reuse */
        bool lib;                       /* use libmpx (synchronous; asynchronous with -P > 1) */
        bool pipelined;                 /* --lib puts through a pipelined connection */
        bool reuse;                     /* do not delete/declare the queue at start */
        bool keep;                      /* do not delete the queue at the end */
        bool pause;                     /* wake: wait for stdin once ready */
        bool refill_all;                /* send -P requests, wait for all -P replies (redis-benchmark) */
        bool durable;                   /* declare queues and dicts durable (MPX_DURABLE) */
        const char *label;              /* extra "label" field */
};

static struct options opt = {
        .queue = "bench", .clients = 1, .depth = 1, .size = 64, .batch = 64, .keys = 1000,
        .secs = 3.0, .prefill = 1000000,
};

/* ---- time and latency histogram ---- */

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* fork() a worker that ends with this process, whatever ends it. */
static pid_t fork_worker(void) {
        pid_t parent = getpid(), pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("mpx-bench: fork");
                exit(1);
        }
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
        }
        return pid;
}

/*
 * Latencies: 100 ns buckets up to 100 ms, then 100 us buckets up to 100 s, then
 * one overflow bucket. Allocated with mmap(MAP_SHARED) so that a consumer
 * process can fill the histogram its parent reports.
 */
#define HIST_FINE_NS    100
#define HIST_FINE       1000000
#define HIST_COARSE_NS  100000
#define HIST_COARSE     1000000
#define HIST_BUCKETS    (HIST_FINE + HIST_COARSE)

struct hist {
        uint64_t n;
        int64_t max_ns;
        uint64_t bucket[HIST_BUCKETS + 1];
};

static struct hist *hist_new(void) {
        struct hist *h = mmap(NULL, sizeof(*h), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (h == MAP_FAILED) {
                perror("mpx-bench: mmap");
                exit(1);
        }
        return h;
}

static void hist_add(struct hist *h, int64_t ns) {
        int64_t i;

        if (ns < 0)
                ns = 0;
        if (ns < (int64_t) HIST_FINE * HIST_FINE_NS)
                i = ns / HIST_FINE_NS;
        else {
                i = HIST_FINE + ns / HIST_COARSE_NS;
                if (i > HIST_BUCKETS)
                        i = HIST_BUCKETS;
        }
        h->bucket[i]++;
        h->n++;
        if (ns > h->max_ns)
                h->max_ns = ns;
}

/* The q-quantile in microseconds (upper edge of its bucket). */
static double hist_quantile(const struct hist *h, double q) {
        uint64_t want = (uint64_t) ((double) h->n * q), seen = 0;

        if (want >= h->n)
                want = h->n - 1;
        for (size_t i = 0; i <= HIST_BUCKETS; i++) {
                seen += h->bucket[i];
                if (seen > want) {
                        if (i < HIST_FINE)
                                return (double) (i + 1) * HIST_FINE_NS / 1e3;
                        if (i < HIST_BUCKETS)
                                return (double) (i - HIST_FINE + 1) * HIST_COARSE_NS / 1e3;
                        break;
                }
        }
        return h->max_ns / 1e3;
}

/* ---- little-endian encoding ---- */

static void le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v) {
        for (int i = 0; i < 8; i++)
                p[i] = (uint8_t) (v >> (8 * i));
}

static uint16_t rd16(const uint8_t *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t rd64(const uint8_t *p) {
        return (uint64_t) rd32(p) | (uint64_t) rd32(p + 4) << 32;
}

/* ---- buffers ---- */

struct buf {
        uint8_t *data;
        size_t len;     /* bytes held */
        size_t off;     /* bytes already consumed (written or parsed) */
        size_t cap;
};

/* Make room for n more bytes at data + len. */
static uint8_t *buf_room(struct buf *b, size_t n) {
        if (b->off && b->off == b->len)
                b->off = b->len = 0;
        if (b->len + n > b->cap) {
                if (b->off) {
                        memmove(b->data, b->data + b->off, b->len - b->off);
                        b->len -= b->off;
                        b->off = 0;
                }
                if (b->len + n > b->cap) {
                        size_t cap = b->cap ? b->cap : 4096;
                        while (cap < b->len + n)
                                cap *= 2;
                        b->data = realloc(b->data, cap);
                        if (!b->data) {
                                fprintf(stderr, "mpx-bench: out of memory\n");
                                exit(1);
                        }
                        b->cap = cap;
                }
        }
        return b->data + b->len;
}

/* ---- scenarios ---- */

enum kind {
        K_PUT, K_GET, K_PUT_MANY, K_GET_MANY, K_PRODUCE, K_CONSUME, K_CONSUME_DONE, K_CONSUME_DONE_GET,
        K_DICT_SET, K_DICT_GET, K_DICT_INCR, K_SEM, K_PING, K_WAKE, K_PUTGET,
};

static const struct scenario {
        const char *name;
        enum kind kind;
        bool lib;                       /* has a --lib implementation */
} scenarios[] = {
        { "put", K_PUT, true },
        { "get", K_GET, true },
        { "put_many", K_PUT_MANY, false },
        { "get_many", K_GET_MANY, false },
        { "handoff", K_CONSUME, true },
        { "joinable", K_CONSUME_DONE, true },
        { "joinable_done_get", K_CONSUME_DONE_GET, false },
        { "dict_set", K_DICT_SET, true },
        { "dict_get", K_DICT_GET, true },
        { "dict_incr", K_DICT_INCR, false },
        { "sem", K_SEM, true },
        { "ping", K_PING, true },
        { "wake", K_WAKE, false },
        { "putget", K_PUTGET, true },   /* --lib only */
};

/* ---- connections ---- */

struct conn {
        int fd;
        enum kind kind;
        struct buf in, out;
        uint32_t next_id;               /* id of the next request */
        uint32_t stamped;               /* requests below this id carry a send time */
        int64_t *sent_ns;               /* by id & mask */
        uint32_t mask;
        int inflight;
        bool drained;                   /* got EAGAIN: the queue is empty */
        bool want_write;
        uint64_t seq;                   /* requests built (dict keys, sem phase) */
        uint64_t *tags;                 /* joinable: deliveries to finish (ring of mask + 1) */
        uint32_t tags_head, tags_len;
        bool ping_seen;                 /* wake: a PING reply arrived */
};

/* The state of one measuring loop (one process). */
struct run {
        struct conn *conns;
        int n;
        int epfd;
        bool blocking;                  /* one connection: blocking read/write */
        int depth;
        int64_t start_ns, deadline_ns;  /* deadline 0: count mode */
        uint64_t target;                /* count mode: operations wanted */
        uint64_t started;               /* operations begun (count mode limits these) */
        uint64_t ops, items;
        int64_t last_ns;                /* time of the last counted reply */
        struct hist *hist;
        uint8_t *payload;               /* opt.size bytes */
        const char *queue;
        size_t qlen;
        bool stop;
        bool setup;                     /* run_loop returns once pings_pending is 0 */
        /* wake */
        bool wake_item, wake_put, wake_measuring;
        int64_t wake_put_ns;
        struct conn *wake_producer;
        int pings_pending;
};

static int connect_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "mpx-bench: socket path too long\n");
                exit(2);
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                fprintf(stderr, "mpx-bench: cannot connect to %s: %s\n", path, strerror(errno));
                exit(3);
        }
        return fd;
}

static void write_all(int fd, const void *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        fprintf(stderr, "mpx-bench: write: %s\n", strerror(errno));
                        exit(1);
                }
                p = (const uint8_t *) p + k;
                n -= (size_t) k;
        }
}

static void read_all(int fd, void *p, size_t n) {
        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        fprintf(stderr, "mpx-bench: the daemon closed the connection\n");
                        exit(1);
                }
                p = (uint8_t *) p + k;
                n -= (size_t) k;
        }
}

/* Begin a request frame with a body of body_len bytes; returns the body. */
static uint8_t *frame(struct conn *c, uint16_t op, uint32_t body_len) {
        uint8_t *p = buf_room(&c->out, WIRE_HEADER_SIZE + body_len);

        le32(p, body_len);
        le32(p + 4, c->next_id++);
        le16(p + 8, op);
        le16(p + 10, 0);
        c->out.len += WIRE_HEADER_SIZE + body_len;
        c->inflight++;
        return p + WIRE_HEADER_SIZE;
}

static uint8_t *put_name(uint8_t *p, const char *name, size_t len) {
        *p++ = (uint8_t) len;
        memcpy(p, name, len);
        return p + len;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, uint32_t len) {
        le32(p, len);
        memcpy(p + 4, data, len);
        return p + 4 + len;
}

/* Connect, say HELLO synchronously, and leave the socket ready for the loop. */
static void conn_open(struct conn *c, enum kind kind, int depth, bool blocking) {
        static const char name[] = "mpx-bench";
        uint8_t hdr[WIRE_HEADER_SIZE], *p;
        uint32_t body_len;

        memset(c, 0, sizeof(*c));
        c->fd = connect_socket(opt.socket);
        c->kind = kind;
        c->next_id = 1;
        c->mask = 16;
        while (c->mask < 4u * (unsigned) depth)
                c->mask *= 2;
        c->sent_ns = calloc(c->mask, sizeof(*c->sent_ns));
        c->tags = calloc(c->mask, sizeof(*c->tags));
        c->mask--;
        p = frame(c, WIRE_OP_HELLO, 4 + 2 + sizeof(name) - 1);
        le32(p, WIRE_VERSION);
        le16(p + 4, sizeof(name) - 1);
        memcpy(p + 6, name, sizeof(name) - 1);
        write_all(c->fd, c->out.data, c->out.len);
        c->out.len = 0;
        c->inflight = 0;
        read_all(c->fd, hdr, sizeof(hdr));
        body_len = rd32(hdr);
        if (rd16(hdr + 10) != WIRE_OK) {
                fprintf(stderr, "mpx-bench: HELLO refused (status %u)\n", rd16(hdr + 10));
                exit(1);
        }
        p = buf_room(&c->in, body_len);
        read_all(c->fd, p, body_len);
        c->stamped = c->next_id;
        if (!blocking)
                (void) fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

static void conn_close(struct conn *c) {
        close(c->fd);
        free(c->in.data);
        free(c->out.data);
        free(c->sent_ns);
        free(c->tags);
}

/* May a new operation begin? (count mode limits them; duration mode stops at the deadline) */
static bool may_start(struct run *r) {
        if (r->stop)
                return false;
        if (r->deadline_ns == 0 && r->target && r->started >= r->target)
                return false;
        r->started++;
        return true;
}

/* Append the connection's next request; false if there is none to send now. */
static bool build_one(struct run *r, struct conn *c) {
        const size_t nl = 1 + r->qlen;
        char key[16];
        uint8_t *p;

        switch (c->kind) {
        case K_PUT:
        case K_PRODUCE:
                if (!may_start(r))
                        return false;
                p = frame(c, WIRE_OP_QUEUE_PUT, (uint32_t) (nl + 8 + 4 + opt.size));
                p = put_name(p, r->queue, r->qlen);
                le64(p, 0);
                if (c->kind == K_PRODUCE && opt.size >= 8) {
                        /* The consumer measures put-to-get from this timestamp. */
                        int64_t t = now_ns();
                        memcpy(r->payload, &t, sizeof(t));
                }
                put_bytes(p + 8, r->payload, (uint32_t) opt.size);
                return true;
        case K_GET:
        case K_CONSUME:
                if (c->kind == K_GET ? !may_start(r) : r->stop)
                        return false;
                p = frame(c, WIRE_OP_QUEUE_GET, (uint32_t) (nl + 8 + 4));
                p = put_name(p, r->queue, r->qlen);
                le64(p, c->kind == K_GET ? 0 : (uint64_t) -1);
                le32(p + 8, 0);
                return true;
        case K_CONSUME_DONE:
                if (c->tags_len) {
                        uint64_t tag = c->tags[c->tags_head];
                        c->tags_head = (c->tags_head + 1) & c->mask;
                        c->tags_len--;
                        p = frame(c, WIRE_OP_QUEUE_TASK_DONE, (uint32_t) (nl + 8));
                        p = put_name(p, r->queue, r->qlen);
                        le64(p, tag);
                        return true;
                }
                if (r->stop)
                        return false;
                p = frame(c, WIRE_OP_QUEUE_GET, (uint32_t) (nl + 8 + 4));
                p = put_name(p, r->queue, r->qlen);
                le64(p, (uint64_t) -1);
                le32(p + 8, 0);
                return true;
        case K_CONSUME_DONE_GET:
                /* The first requests only take; then each finishes a delivery and takes the next. */
                if (r->stop)
                        return false;
                if (!c->tags_len) {
                        p = frame(c, WIRE_OP_QUEUE_GET, (uint32_t) (nl + 8 + 4));
                        p = put_name(p, r->queue, r->qlen);
                        le64(p, (uint64_t) -1);
                        le32(p + 8, 0);
                        return true;
                }
                p = frame(c, WIRE_OP_QUEUE_DONE_GET, (uint32_t) (nl + 8 + 8 + 4));
                p = put_name(p, r->queue, r->qlen);
                le64(p, c->tags[c->tags_head]);
                c->tags_head = (c->tags_head + 1) & c->mask;
                c->tags_len--;
                le64(p + 8, (uint64_t) -1);
                le32(p + 16, 0);
                return true;
        case K_PUT_MANY:
                if (!may_start(r))
                        return false;
                p = frame(c, WIRE_OP_QUEUE_PUT_MANY, (uint32_t) (nl + 8 + 4 + opt.batch * (4 + opt.size)));
                p = put_name(p, r->queue, r->qlen);
                le64(p, 0);
                le32(p + 8, opt.batch);
                p += 12;
                for (unsigned i = 0; i < opt.batch; i++)
                        p = put_bytes(p, r->payload, (uint32_t) opt.size);
                return true;
        case K_GET_MANY:
                if (!may_start(r))
                        return false;
                p = frame(c, WIRE_OP_QUEUE_GET_MANY, (uint32_t) (nl + 8 + 4 + 4));
                p = put_name(p, r->queue, r->qlen);
                le64(p, 0);
                le32(p + 8, 0);
                le32(p + 12, opt.batch);
                return true;
        case K_DICT_SET:
        case K_DICT_GET:
        case K_DICT_INCR: {
                uint16_t op = c->kind == K_DICT_SET ? WIRE_OP_DICT_SET
                              : c->kind == K_DICT_GET ? WIRE_OP_DICT_GET : WIRE_OP_DICT_INCR;
                uint32_t klen, body;

                if (!may_start(r))
                        return false;
                klen = (uint32_t) snprintf(key, sizeof(key), "key:%06u", (unsigned) (c->seq++ % opt.keys));
                body = (uint32_t) (nl + 4 + klen);
                if (c->kind == K_DICT_SET)
                        body += 4 + (uint32_t) opt.size;
                else if (c->kind == K_DICT_INCR)
                        body += 8;
                p = frame(c, op, body);
                p = put_name(p, r->queue, r->qlen);
                p = put_bytes(p, key, klen);
                if (c->kind == K_DICT_SET)
                        put_bytes(p, r->payload, (uint32_t) opt.size);
                else if (c->kind == K_DICT_INCR)
                        le64(p, 1);
                return true;
        }
        case K_SEM:
                /* acquire, release, acquire, ...: the semaphore never blocks. */
                if (c->seq % 2 == 0) {
                        if (!may_start(r))
                                return false;
                        p = frame(c, WIRE_OP_SEM_ACQUIRE, (uint32_t) (nl + 8));
                        p = put_name(p, r->queue, r->qlen);
                        le64(p, (uint64_t) -1);
                } else {
                        p = frame(c, WIRE_OP_SEM_RELEASE, (uint32_t) nl);
                        put_name(p, r->queue, r->qlen);
                }
                c->seq++;
                return true;
        case K_PING:
                if (!may_start(r))
                        return false;
                p = frame(c, WIRE_OP_PING, (uint32_t) (4 + opt.size));
                put_bytes(p, r->payload, (uint32_t) opt.size);
                return true;
        case K_WAKE:
                return false;           /* driven by wake_step() */
        case K_PUTGET:
                return false;           /* --lib only */
        }
        return false;
}

static void conn_watch(struct run *r, struct conn *c, bool want_write) {
        struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c };

        if (r->blocking || c->want_write == want_write)
                return;
        c->want_write = want_write;
        (void) epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what is queued; stamp the requests it carries with the time of the write. */
static void conn_flush(struct run *r, struct conn *c) {
        int64_t t;

        if (c->out.off == c->out.len)
                return;
        t = now_ns();
        for (; c->stamped != c->next_id; c->stamped++)
                c->sent_ns[c->stamped & c->mask] = t;
        while (c->out.off < c->out.len) {
                ssize_t k = write(c->fd, c->out.data + c->out.off, c->out.len - c->out.off);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN) {
                                conn_watch(r, c, true);
                                return;
                        }
                        fprintf(stderr, "mpx-bench: write: %s\n", strerror(errno));
                        exit(1);
                }
                c->out.off += (size_t) k;
        }
        c->out.off = c->out.len = 0;
        conn_watch(r, c, false);
}

/*
 * Fill the window and send: as soon as replies come back (keep -P in flight),
 * or with --refill-all only once every reply of the last batch is in (as
 * redis-benchmark -P does).
 */
static void conn_refill(struct run *r, struct conn *c) {
        if (!opt.refill_all || c->inflight == 0)
                while (c->inflight < r->depth && !c->drained && build_one(r, c))
                        ;
        conn_flush(r, c);
}

static void bad_status(struct conn *c, uint16_t op, uint16_t status) {
        fprintf(stderr, "mpx-bench: request op %u failed with status %u\n", op, status);
        exit(1);
}

static void count(struct run *r, uint64_t items, int64_t t) {
        r->ops++;
        r->items += items;
        r->last_ns = t;
        if (r->target && r->ops >= r->target)
                r->stop = true;
}

static void wake_reply(struct run *r, struct conn *c, uint16_t op, uint16_t status, const uint8_t *body,
                       int64_t t);
static void wake_check(struct run *r, int64_t t);

/* Handle one reply frame. */
static void on_reply(struct run *r, struct conn *c, const uint8_t *h, const uint8_t *body, int64_t t) {
        uint32_t id = rd32(h + 4), len = rd32(h);
        uint16_t op = rd16(h + 8), status = rd16(h + 10);
        int64_t lat = t - c->sent_ns[id & c->mask];

        c->inflight--;
        if (op == WIRE_OP_PING && r->pings_pending > 0) {
                /* setup: the requests sent before this PING were handled (parked) */
                r->pings_pending--;
                if (c->kind == K_WAKE && !r->setup)
                        wake_check(r, t);
                return;
        }
        if (c->kind == K_WAKE) {
                wake_reply(r, c, op, status, body, t);
                return;
        }
        if (status == WIRE_EAGAIN && (op == WIRE_OP_QUEUE_GET || op == WIRE_OP_QUEUE_GET_MANY)) {
                c->drained = true;
                return;
        }
        if (status != WIRE_OK)
                bad_status(c, op, status);
        switch (op) {
        case WIRE_OP_QUEUE_DONE_GET:
        case WIRE_OP_QUEUE_GET:
                if (c->kind == K_GET) {
                        hist_add(r->hist, lat);
                        count(r, 1, t);
                        break;
                }
                /* consumer: latency from the producer's timestamp */
                if (len >= 16 + 4 + 8 && opt.size >= 8) {
                        int64_t put_ns;
                        memcpy(&put_ns, body + 16, sizeof(put_ns));
                        hist_add(r->hist, t - put_ns);
                }
                if (c->kind == K_CONSUME_DONE || c->kind == K_CONSUME_DONE_GET) {
                        c->tags[(c->tags_head + c->tags_len) & c->mask] = rd64(body);
                        c->tags_len++;
                }
                /* A DONE_GET finished one delivery; a TASK_DONE counts for the other consumer. */
                if (c->kind != K_CONSUME_DONE && (c->kind != K_CONSUME_DONE_GET || op == WIRE_OP_QUEUE_DONE_GET))
                        count(r, 1, t);
                break;
        case WIRE_OP_QUEUE_TASK_DONE:
                count(r, 1, t);
                break;
        case WIRE_OP_QUEUE_GET_MANY:
                hist_add(r->hist, lat);
                count(r, rd32(body), t);
                break;
        case WIRE_OP_QUEUE_PUT_MANY:
                hist_add(r->hist, lat);
                count(r, opt.batch, t);
                break;
        case WIRE_OP_SEM_ACQUIRE:
                hist_add(r->hist, lat);
                break;
        default:
                hist_add(r->hist, lat);
                count(r, 1, t);
        }
}

/* Read what the socket has and handle every complete frame. */
static void conn_read(struct run *r, struct conn *c) {
        struct buf *b = &c->in;
        size_t want = 64 * 1024;
        ssize_t k;
        int64_t t;

        if (b->len - b->off >= WIRE_HEADER_SIZE) {
                size_t frame_len = WIRE_HEADER_SIZE + rd32(b->data + b->off);
                if (frame_len > b->len - b->off + want)
                        want = frame_len - (b->len - b->off);
        }
        buf_room(b, want);
        k = read(c->fd, b->data + b->len, b->cap - b->len);
        if (k < 0) {
                if (errno == EINTR || errno == EAGAIN)
                        return;
                fprintf(stderr, "mpx-bench: read: %s\n", strerror(errno));
                exit(1);
        }
        if (k == 0) {
                fprintf(stderr, "mpx-bench: the daemon closed the connection\n");
                exit(1);
        }
        b->len += (size_t) k;
        t = now_ns();
        while (b->len - b->off >= WIRE_HEADER_SIZE) {
                const uint8_t *h = b->data + b->off;
                size_t frame_len = WIRE_HEADER_SIZE + rd32(h);
                if (b->len - b->off < frame_len)
                        break;
                on_reply(r, c, h, h + WIRE_HEADER_SIZE, t);
                b->off += frame_len;
        }
        if (b->off == b->len)
                b->off = b->len = 0;
        conn_refill(r, c);
}

static void run_init(struct run *r, int n, enum kind kind, int depth, struct hist *hist) {
        memset(r, 0, sizeof(*r));
        r->n = n;
        r->depth = depth;
        r->blocking = n == 1 && kind != K_CONSUME && kind != K_CONSUME_DONE && kind != K_CONSUME_DONE_GET &&
                      kind != K_WAKE;
        r->conns = calloc((size_t) n, sizeof(*r->conns));
        r->hist = hist;
        r->queue = opt.queue;
        r->qlen = strlen(opt.queue);
        r->payload = malloc(opt.size + 8);
        memset(r->payload, 'x', opt.size + 8);
        r->epfd = -1;
        for (int i = 0; i < n; i++)
                conn_open(&r->conns[i], kind, depth, r->blocking);
        if (!r->blocking) {
                r->epfd = epoll_create1(EPOLL_CLOEXEC);
                for (int i = 0; i < n; i++) {
                        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->conns[i] };
                        if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->conns[i].fd, &ev) < 0) {
                                perror("mpx-bench: epoll_ctl");
                                exit(1);
                        }
                }
        }
}

static void run_done(struct run *r) {
        for (int i = 0; i < r->n; i++)
                conn_close(&r->conns[i]);
        free(r->conns);
        free(r->payload);
        if (r->epfd >= 0)
                close(r->epfd);
}

static bool all_drained(const struct run *r) {
        for (int i = 0; i < r->n; i++)
                if (!r->conns[i].drained || r->conns[i].inflight)
                        return false;
        return true;
}

/*
 * The loop: fill every window, then handle replies until the deadline, the
 * count, or (gets) until every connection found the queue empty.
 */
static void run_loop(struct run *r) {
        struct epoll_event evs[256];

        for (int i = 0; i < r->n; i++)
                conn_refill(r, &r->conns[i]);
        for (;;) {
                int64_t t = now_ns();

                if (!r->setup && r->deadline_ns && t >= r->deadline_ns) {
                        r->stop = true;
                        break;
                }
                if (r->setup) {
                        if (r->pings_pending == 0)
                                break;
                } else if (r->stop && r->deadline_ns == 0)
                        break;
                if (!r->setup && all_drained(r))
                        break;
                if (r->blocking) {
                        conn_read(r, &r->conns[0]);
                        continue;
                }
                int timeout = -1;
                if (r->deadline_ns)
                        timeout = (int) ((r->deadline_ns - t) / 1000000) + 1;
                int n = epoll_wait(r->epfd, evs, (int) (sizeof(evs) / sizeof(evs[0])), timeout);
                if (n < 0 && errno != EINTR) {
                        perror("mpx-bench: epoll_wait");
                        exit(1);
                }
                for (int i = 0; i < n; i++) {
                        struct conn *c = evs[i].data.ptr;
                        if (evs[i].events & EPOLLOUT)
                                conn_flush(r, c);
                        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                                conn_read(r, c);
                }
        }
}

/* ---- wake: put-to-wake latency with many parked getters ---- */

/* Park one GET (no timeout) on c, followed by a PING that tells when it is parked. */
static void wake_park(struct run *r, struct conn *c) {
        uint8_t *p = frame(c, WIRE_OP_QUEUE_GET, (uint32_t) (1 + r->qlen + 8 + 4));

        p = put_name(p, r->queue, r->qlen);
        le64(p, (uint64_t) -1);
        le32(p + 8, 0);
        p = frame(c, WIRE_OP_PING, 4);
        le32(p, 0);
        r->pings_pending++;
        conn_flush(r, c);
}

static void wake_put(struct run *r) {
        struct conn *c = r->wake_producer;
        uint8_t *p = frame(c, WIRE_OP_QUEUE_PUT, (uint32_t) (1 + r->qlen + 8 + 4 + opt.size));

        r->wake_item = r->wake_put = false;
        p = put_name(p, r->queue, r->qlen);
        le64(p, 0);
        put_bytes(p + 8, r->payload, (uint32_t) opt.size);
        r->wake_put_ns = now_ns();
        conn_flush(r, c);
}

/* One put is complete when its reply, its item and the re-parking of the waiter are seen. */
static void wake_check(struct run *r, int64_t t) {
        if (!r->wake_item || !r->wake_put || r->pings_pending)
                return;
        count(r, 1, t);
        if (!r->stop && (!r->deadline_ns || t < r->deadline_ns))
                wake_put(r);
}

static void wake_reply(struct run *r, struct conn *c, uint16_t op, uint16_t status, const uint8_t *body,
                       int64_t t) {
        if (status != WIRE_OK)
                bad_status(c, op, status);
        if (op == WIRE_OP_QUEUE_PUT)
                r->wake_put = true;
        else if (op == WIRE_OP_QUEUE_GET) {
                hist_add(r->hist, t - r->wake_put_ns);
                r->wake_item = true;
                wake_park(r, c);
        }
        wake_check(r, t);
}

/* ---- reporting ---- */

struct result {
        const char *scenario;
        const char *client;             /* "raw" or "libmpx" */
        const char *latency;            /* what the percentiles measure */
        int clients, depth;
        uint64_t ops, items;
        int64_t elapsed_ns;
        const struct hist *hist;
        bool drained;
};

static void report(const struct result *res) {
        double secs = (double) res->elapsed_ns / 1e9;

        if (secs <= 0)
                secs = 1e-9;
        printf("{\"system\":\"mpx\",\"client\":\"%s\",\"scenario\":\"%s\",\"clients\":%d,\"pipeline\":%d,"
               "\"size\":%zu,", res->client, res->scenario, res->clients, res->depth, opt.size);
        if (strstr(res->scenario, "_many"))
                printf("\"batch\":%u,", opt.batch);
        printf("\"ops\":%llu,\"items\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f,\"items_per_sec\":%.0f",
               (unsigned long long) res->ops, (unsigned long long) res->items, secs, (double) res->ops / secs,
               (double) res->items / secs);
        if (res->hist && res->hist->n)
                printf(",\"latency\":\"%s\",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f",
                       res->latency, hist_quantile(res->hist, 0.5), hist_quantile(res->hist, 0.99),
                       hist_quantile(res->hist, 0.999), res->hist->max_ns / 1e3);
        if (res->drained)
                printf(",\"drained\":true");
        if (opt.label)
                printf(",\"label\":\"%s\"", opt.label);
        printf("}\n");
        fflush(stdout);
}

static void report_skip(const char *scenario, const char *why) {
        printf("{\"system\":\"mpx\",\"scenario\":\"%s\",\"clients\":%d,\"pipeline\":%d,\"size\":%zu,"
               "\"skipped\":\"%s\"}\n", scenario, opt.clients, opt.depth, opt.size, why);
        fflush(stdout);
        fprintf(stderr, "mpx-bench: %s skipped: %s\n", scenario, why);
}

/* ---- setting objects up (through libmpx) ---- */

static mpx *admin_conn;

static mpx *admin(void) {
        int r;

        if (!admin_conn) {
                r = mpx_connect_named(opt.socket, "mpx-bench", &admin_conn);
                if (r < 0) {
                        fprintf(stderr, "mpx-bench: cannot connect to %s: %s\n", opt.socket, mpx_strerror(r));
                        exit(3);
                }
        }
        return admin_conn;
}

static void check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "mpx-bench: %s: %s\n", what, mpx_strerror(r));
                exit(1);
        }
}

static void set_limits(struct run *r) {
        r->start_ns = now_ns();
        r->last_ns = r->start_ns;
        if (opt.count > 0)
                r->target = (uint64_t) opt.count;
        else
                r->deadline_ns = r->start_ns + (int64_t) (opt.secs * 1e9);
}

/*
 * Put n items through libmpx, 64 a request: a --lib run's address may be one
 * only libmpx understands (the Redis backend's).
 */
static void prefill_lib(const char *queue, long n) {
        struct iovec items[64];
        char *payload = calloc(1, opt.size + 1);

        if (!payload) {
                fprintf(stderr, "mpx-bench: out of memory\n");
                exit(1);
        }
        memset(payload, 'x', opt.size);
        for (int i = 0; i < 64; i++)
                items[i] = (struct iovec) { .iov_base = payload, .iov_len = opt.size };
        for (long left = n; left > 0; left -= 64)
                check(mpx_queue_put_many(admin(), queue, items, left < 64 ? (size_t) left : 64, 0), "prefill");
        free(payload);
}

/* Put n items with pipelined PUT_MANY (before get and get_many). */
static void prefill(const char *queue, long n) {
        struct hist *h = hist_new();
        unsigned saved = opt.batch;
        struct run r;

        if (opt.lib) {
                prefill_lib(queue, n);
                return;
        }
        opt.batch = 64;
        run_init(&r, 1, K_PUT_MANY, 16, h);
        r.queue = queue;
        r.qlen = strlen(queue);
        r.start_ns = now_ns();
        r.target = (uint64_t) ((n + 63) / 64);
        run_loop(&r);
        run_done(&r);
        opt.batch = saved;
        munmap(h, sizeof(*h));
}

static bool is_queue_kind(enum kind k) {
        return k == K_PUT || k == K_GET || k == K_PUT_MANY || k == K_GET_MANY || k == K_PRODUCE ||
               k == K_CONSUME || k == K_CONSUME_DONE || k == K_CONSUME_DONE_GET || k == K_WAKE || k == K_PUTGET;
}

/* Make the object a scenario needs; false (and a skip line) if the daemon cannot. */
/* The flags of a queue declare for a scenario. */
static unsigned queue_flags(const struct scenario *sc) {
        return (sc->kind == K_CONSUME_DONE || sc->kind == K_CONSUME_DONE_GET ? MPX_QUEUE_JOINABLE : 0) |
               (opt.durable ? MPX_DURABLE : 0);
}

static bool setup_object(const struct scenario *sc, const char *name) {
        mpx *m = admin();
        int r;

        if (is_queue_kind(sc->kind)) {
                if (opt.reuse) {
                        r = mpx_queue_declare(m, name, 0, queue_flags(sc));
                        check(r, "queue declare");
                        return true;
                }
                (void) mpx_delete(m, name);
                check(mpx_queue_declare(m, name, 0, queue_flags(sc)), "queue declare");
                if (sc->kind == K_GET || sc->kind == K_GET_MANY) {
                        long n = opt.count > 0 ? opt.count * (sc->kind == K_GET_MANY ? opt.batch : 1) : opt.prefill;
                        prefill(name, n);
                }
                return true;
        }
        (void) mpx_delete(m, name);
        if (sc->kind == K_DICT_SET || sc->kind == K_DICT_GET || sc->kind == K_DICT_INCR) {
                r = mpx_dict_declare_flags(m, name, opt.durable ? MPX_DURABLE : 0);
                if (r == -EOPNOTSUPP) {
                        report_skip(sc->name, "the daemon answered EOPNOTSUPP: dicts are not implemented");
                        return false;
                }
                check(r, "dict declare");
                if (sc->kind != K_DICT_SET) {
                        for (unsigned i = 0; i < opt.keys; i++) {
                                char key[16];
                                int klen = snprintf(key, sizeof(key), "key:%06u", i);
                                if (sc->kind == K_DICT_GET) {
                                        char *v = malloc(opt.size + 1);
                                        memset(v, 'x', opt.size);
                                        r = mpx_dict_set(m, name, key, (size_t) klen, v, opt.size);
                                        free(v);
                                } else
                                        r = mpx_dict_incr(m, name, key, (size_t) klen, 0, NULL);
                                check(r, "dict prefill");
                        }
                }
                return true;
        }
        if (sc->kind == K_SEM) {
                uint64_t v = (uint64_t) opt.clients * (uint64_t) opt.depth;
                r = mpx_sem_declare(m, name, v, 0, 0);
                if (r == -EOPNOTSUPP) {
                        report_skip(sc->name, "the daemon answered EOPNOTSUPP: semaphores are not implemented");
                        return false;
                }
                check(r, "semaphore declare");
        }
        return true;
}

static void object_name(const struct scenario *sc, char *buf, size_t size) {
        if (is_queue_kind(sc->kind))
                snprintf(buf, size, "%s", opt.queue);
        else if (sc->kind == K_SEM)
                snprintf(buf, size, "%s.sem", opt.queue);
        else if (sc->kind == K_PING)
                buf[0] = '\0';
        else
                snprintf(buf, size, "%s.dict", opt.queue);
}

static void teardown_object(const struct scenario *sc, const char *name) {
        if (name[0] && !opt.keep)
                (void) mpx_delete(admin(), name);
}

/* ---- the raw (protocol) runs ---- */

static void run_simple(const struct scenario *sc, const char *name) {
        struct hist *h = hist_new();
        struct result res = { .scenario = sc->name, .client = "raw", .latency = "round-trip",
                              .clients = opt.clients, .depth = opt.depth, .hist = h };
        struct run r;

        run_init(&r, opt.clients, sc->kind, opt.depth, h);
        r.queue = name;
        r.qlen = strlen(name);
        set_limits(&r);
        run_loop(&r);
        res.ops = r.ops;
        res.items = r.items;
        res.elapsed_ns = r.last_ns - r.start_ns;
        res.drained = all_drained(&r);
        report(&res);
        run_done(&r);
        munmap(h, sizeof(*h));
}

struct shared {
        uint64_t ops, items;
        int64_t last_ns;
};

/* Producer process and consumer process; the consumers are parked before the producers start. */
static void run_handoff(const struct scenario *sc, const char *name) {
        struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct hist *h = hist_new(), *ph = hist_new();
        struct result res = { .scenario = sc->name, .client = "raw", .latency = "put-to-get",
                              .clients = opt.clients, .depth = opt.depth, .hist = h };
        int ready[2], go[2], status;
        int64_t start;
        struct run r;
        pid_t pid;
        char byte;

        if (sh == MAP_FAILED || pipe(ready) < 0 || pipe(go) < 0) {
                perror("mpx-bench");
                exit(1);
        }
        pid = fork_worker();
        if (pid == 0) {
                run_init(&r, opt.clients, sc->kind, opt.depth, h);
                r.queue = name;
                r.qlen = strlen(name);
                for (int i = 0; i < r.n; i++) {
                        struct conn *c = &r.conns[i];
                        uint8_t *p;
                        while (c->inflight < r.depth && build_one(&r, c))
                                ;
                        p = frame(c, WIRE_OP_PING, 4);
                        le32(p, 0);
                        r.pings_pending++;
                        conn_flush(&r, c);
                }
                r.setup = true;
                run_loop(&r);
                r.setup = false;
                if (write(ready[1], "r", 1) != 1 || read(go[0], &start, sizeof(start)) != sizeof(start))
                        _exit(1);
                r.start_ns = r.last_ns = start;
                if (opt.count > 0)
                        r.target = (uint64_t) opt.count;
                else
                        r.deadline_ns = start + (int64_t) (opt.secs * 1e9);
                run_loop(&r);
                sh->ops = r.ops;
                sh->items = r.items;
                sh->last_ns = r.last_ns;
                _exit(0);
        }
        run_init(&r, opt.clients, K_PRODUCE, opt.depth, ph);
        r.queue = name;
        r.qlen = strlen(name);
        if (read(ready[0], &byte, 1) != 1) {
                fprintf(stderr, "mpx-bench: the consumer process failed\n");
                exit(1);
        }
        set_limits(&r);
        start = r.start_ns;
        if (write(go[1], &start, sizeof(start)) != sizeof(start))
                exit(1);
        run_loop(&r);
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "mpx-bench: the consumer process failed\n");
                exit(1);
        }
        res.ops = sh->ops;
        res.items = sh->items;
        res.elapsed_ns = sh->last_ns - start;
        if (opt.size < 8)
                res.hist = NULL;
        report(&res);
        run_done(&r);
        close(ready[0]);
        close(ready[1]);
        close(go[0]);
        close(go[1]);
        munmap(sh, sizeof(*sh));
        munmap(h, sizeof(*h));
        munmap(ph, sizeof(*ph));
}

static void run_wake(const struct scenario *sc, const char *name) {
        struct hist *h = hist_new();
        struct result res = { .scenario = sc->name, .client = "raw", .latency = "put-to-wake",
                              .clients = opt.clients, .depth = 1, .hist = h };
        struct run r;

        /* opt.clients waiters and one producer, all in this process */
        run_init(&r, opt.clients + 1, K_WAKE, 1, h);
        r.queue = name;
        r.qlen = strlen(name);
        r.wake_producer = &r.conns[r.n - 1];
        for (int i = 0; i < r.n - 1; i++)
                wake_park(&r, &r.conns[i]);
        r.setup = true;
        run_loop(&r);
        r.setup = false;
        if (opt.pause) {
                char line[64];
                printf("{\"system\":\"mpx\",\"scenario\":\"wake\",\"phase\":\"ready\",\"waiters\":%d}\n", opt.clients);
                fflush(stdout);
                if (!fgets(line, sizeof(line), stdin))
                        fprintf(stderr, "mpx-bench: stdin closed; going on\n");
        }
        set_limits(&r);
        wake_put(&r);
        run_loop(&r);
        res.ops = r.ops;
        res.items = r.ops;
        res.elapsed_ns = r.last_ns - r.start_ns;
        report(&res);
        run_done(&r);
        munmap(h, sizeof(*h));
}

/* ---- the libmpx runs: one synchronous process per client ---- */

static void lib_check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "mpx-bench: %s: %s\n", what, mpx_strerror(r));
                _exit(1);
        }
}

/*
 * The key of a dict request: the keys cycle over -k, as the raw clients'
 * do; dict_get's were set up by setup_object().
 */
static size_t lib_dict_key(char *key, size_t size, uint64_t seq) {
        return (size_t) snprintf(key, size, "key:%06u", (unsigned) (seq % opt.keys));
}

/* A blocked get of a hand-off: its item, with the put-to-get latency added to h; false at the deadline. */
static bool lib_consume(mpx *m, const char *name, int64_t deadline, struct hist *h, mpx_item *item) {
        int ret = mpx_queue_get(m, name, deadline ? (deadline - now_ns()) / 1000000 + 1 : -1, item);
        int64_t t1;

        if (ret == -ETIMEDOUT)
                return false;
        lib_check(ret, "get");
        t1 = now_ns();
        if (opt.size >= 8 && item->size >= 8) {
                int64_t put_ns;

                memcpy(&put_ns, item->data, sizeof(put_ns));
                hist_add(h, t1 - put_ns);
        }
        return true;
}

/* One synchronous request (or pair) of a role that measures round trips: 0, or -EAGAIN when drained. */
static int lib_step(mpx *m, char role, const char *name, char *payload, uint64_t seq) {
        char key[16];
        size_t klen;
        mpx_buf value;
        mpx_item item;
        int ret;

        switch (role) {
        case 'p':
                lib_check(mpx_queue_put(m, name, payload, opt.size, 0), "put");
                return 0;
        case 'g':
                ret = mpx_queue_get(m, name, 0, &item);
                if (ret == -EAGAIN)
                        return ret;
                lib_check(ret, "get");
                mpx_item_clear(&item);
                return 0;
        case 'r':
                lib_check(mpx_queue_put(m, name, payload, opt.size, 0), "put");
                lib_check(mpx_queue_get(m, name, 0, &item), "get");
                mpx_item_clear(&item);
                return 0;
        case 'S':
                klen = lib_dict_key(key, sizeof(key), seq);
                lib_check(mpx_dict_set(m, name, key, klen, payload, opt.size), "dict set");
                return 0;
        case 'G':
                klen = lib_dict_key(key, sizeof(key), seq);
                lib_check(mpx_dict_get(m, name, key, klen, &value), "dict get");
                mpx_buf_clear(&value);
                return 0;
        case 's':
                /* one operation is the pair, as the raw clients count it; the semaphore never blocks */
                lib_check(mpx_sem_acquire(m, name, -1), "sem acquire");
                lib_check(mpx_sem_release(m, name), "sem release");
                return 0;
        default:
                lib_check(mpx_ping(m), "ping");
                return 0;
        }
}

/*
 * One worker; role: 'p' put, 'g' get, 'i' ping, 'c' consume (blocked get),
 * 'j' consume from a joinable queue (blocked get, then task_done), 'r' put
 * then get it back, 'S' dict set, 'G' dict get, 's' semaphore acquire and
 * release.
 */
static void lib_worker(char role, const char *name, long count, int64_t deadline, struct hist *h,
                       struct shared *sh) {
        char *payload = malloc(opt.size + 8);
        uint64_t ops = 0;
        int64_t last = 0;
        mpx *m;

        memset(payload, 'x', opt.size + 8);
        lib_check(mpx_connect_named(opt.socket, "mpx-bench", &m), "connect");
        for (long i = 0; count == 0 || i < count; i++) {
                int64_t t0 = now_ns(), t1;
                mpx_item item;

                if (deadline && t0 >= deadline)
                        break;
                if (role == 'c' || role == 'j') {
                        if (!lib_consume(m, name, deadline, h, &item))
                                break;
                        /* the delivery is finished before the next get, as a worker would */
                        if (role == 'j')
                                lib_check(mpx_queue_task_done(m, name, item.tag), "task_done");
                        mpx_item_clear(&item);
                        ops++;
                        last = now_ns();
                        continue;
                }
                if (role == 'p' && opt.size >= 8)
                        memcpy(payload, &t0, sizeof(t0));
                if (lib_step(m, role, name, payload, (uint64_t) i) == -EAGAIN)
                        break;
                t1 = now_ns();
                hist_add(h, t1 - t0);
                ops++;
                last = t1;
        }
        sh->ops = ops;
        sh->last_ns = last;
        mpx_disconnect(m);
        free(payload);
}

/*
 * The asynchronous libmpx worker (--lib with -P > 1): one connection keeps
 * opt.depth requests in flight through the mpx_X_async() calls, refilled from
 * their callbacks, in a poll() loop around mpx_process(). With --refill-all the
 * window is refilled only once every reply of the last batch is in, as the raw
 * clients do with that option, so that the two are measured in the same shape;
 * the batch queued from the last callback goes out in one write. With
 * --pipelined a putter uses the synchronous mpx_queue_put() on a pipelined
 * connection instead, whose puts are written -P at a time
 * (mpx_pipeline_batch(); the puts then have no latency of their own to
 * measure).
 */
struct lib_async {
        mpx *m;
        char role;
        const char *name;
        char *payload;
        long left;                      /* requests still to make; -1 until the deadline */
        int inflight;                   /* requests made and not yet completed */
        struct lib_slot *slots;         /* opt.depth of them */
        int64_t deadline;
        struct hist *h;
        uint64_t ops;
        int64_t last;
        bool done;                      /* a get found the queue empty, or the consumer timed out */
};

struct lib_slot {
        struct lib_async *a;
        int64_t t0;
        mpx_item item;
};

static void lib_async_issue(struct lib_slot *s);

/*
 * A slot's request completed: make the next one from it, or with --refill-all
 * a whole batch from every slot once the last request of this one is in (all
 * slots are free then: a slot is reused only after its callback).
 */
static void lib_async_refill(struct lib_slot *s) {
        struct lib_async *a = s->a;

        if (!opt.refill_all) {
                lib_async_issue(s);
                return;
        }
        if (a->inflight > 0)
                return;
        for (int i = 0; i < opt.depth; i++)
                lib_async_issue(&a->slots[i]);
}

static void lib_async_done(mpx *m, int64_t result, void *userdata) {
        struct lib_slot *s = userdata;
        struct lib_async *a = s->a;
        int64_t t1 = now_ns();

        (void) m;
        a->inflight--;
        if ((a->role == 'g' && result == -EAGAIN) || (a->role == 'c' && result == -ETIMEDOUT)) {
                a->done = true;
                return;
        }
        lib_check((int) result, "asynchronous request");
        if (a->role == 'c') {
                if (opt.size >= 8 && s->item.size >= 8) {
                        int64_t put_ns;

                        memcpy(&put_ns, s->item.data, sizeof(put_ns));
                        hist_add(a->h, t1 - put_ns);
                }
        } else
                hist_add(a->h, t1 - s->t0);
        if (a->role == 'g' || a->role == 'c')
                mpx_item_clear(&s->item);
        a->ops++;
        a->last = t1;
        lib_async_refill(s);
}

static void lib_async_issue(struct lib_slot *s) {
        struct lib_async *a = s->a;
        int64_t id;

        s->t0 = now_ns();
        if (a->done || a->left == 0 || (a->deadline && s->t0 >= a->deadline))
                return;
        if (a->left > 0)
                a->left--;
        switch (a->role) {
        case 'p':
                if (opt.size >= 8)
                        memcpy(a->payload, &s->t0, sizeof(s->t0));
                id = mpx_queue_put_async(a->m, a->name, a->payload, opt.size, 0, lib_async_done, s);
                break;
        case 'g':
                id = mpx_queue_get_async(a->m, a->name, 0, &s->item, lib_async_done, s);
                break;
        case 'c':
                id = mpx_queue_get_async(a->m, a->name, a->deadline ? (a->deadline - s->t0) / 1000000 + 1 : -1,
                                         &s->item, lib_async_done, s);
                break;
        default:
                id = mpx_ping_async(a->m, lib_async_done, s);
        }
        lib_check((int) (id < 0 ? id : 0), "queue a request");
        a->inflight++;
}

static void lib_worker_async(char role, const char *name, long count, int64_t deadline, struct hist *h,
                             struct shared *sh) {
        struct lib_async a = { .role = role, .name = name, .left = count ? count : -1, .deadline = deadline,
                               .h = h };
        struct lib_slot *slots = calloc((size_t) opt.depth, sizeof(*slots));

        a.slots = slots;
        a.payload = malloc(opt.size + 8);
        memset(a.payload, 'x', opt.size + 8);
        lib_check(mpx_connect_named(opt.socket, "mpx-bench", &a.m), "connect");
        if (role == 'p' && opt.pipelined) {
                /*
                 * Synchronous puts that return once queued, written one by one,
                 * or -P at a time; mpx_flush() collects the replies.
                 */
                lib_check(mpx_pipeline_batch(a.m, (unsigned) opt.depth), "pipeline");
                for (long i = 0; count == 0 || i < count; i++) {
                        int64_t t0 = now_ns();

                        if (deadline && t0 >= deadline)
                                break;
                        if (opt.size >= 8)
                                memcpy(a.payload, &t0, sizeof(t0));
                        lib_check(mpx_queue_put(a.m, name, a.payload, opt.size, -1), "put");
                        a.ops++;
                }
                lib_check(mpx_flush(a.m), "flush");
                a.last = now_ns();
        } else {
                for (int i = 0; i < opt.depth; i++) {
                        slots[i].a = &a;
                        lib_async_issue(&slots[i]);
                }
                /*
                 * The first window goes out in one write now; later ones are
                 * queued by callbacks and sent by mpx_process(). (Waiting for
                 * POLLOUT instead would hang on a Redis connection, whose
                 * descriptor, an epoll set, is never writable.)
                 */
                lib_check(mpx_send(a.m), "send");
                while (mpx_pending(a.m) > 0) {
                        struct pollfd p = { .fd = mpx_fd(a.m), .events = mpx_events(a.m) };

                        if (poll(&p, 1, -1) < 0 && errno != EINTR)
                                lib_check(-errno, "poll");
                        lib_check(mpx_process(a.m), "process");
                }
        }
        sh->ops = a.ops;
        sh->last_ns = a.last;
        mpx_disconnect(a.m);
        free(a.payload);
        free(slots);
}

/* Fork n workers of a role; each gets its own histogram and result slot. */
static void lib_fork(int n, char role, const char *name, long count, int64_t deadline, struct hist **hs,
                     struct shared *sh, pid_t *pids) {
        for (int i = 0; i < n; i++) {
                pids[i] = fork_worker();
                if (pids[i] == 0) {
                        long mine = count ? count / n + (i < count % n) : 0;

                        if (opt.depth > 1 || opt.pipelined)
                                lib_worker_async(role, name, mine, deadline, hs[i], &sh[i]);
                        else
                                lib_worker(role, name, mine, deadline, hs[i], &sh[i]);
                        _exit(0);
                }
        }
}

static void lib_wait(int n, pid_t *pids) {
        for (int i = 0; i < n; i++) {
                int status;
                if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "mpx-bench: a worker failed\n");
                        exit(1);
                }
        }
}

/* The worker role of a scenario's --lib run (the measured side of a hand-off). */
static char lib_role(enum kind kind) {
        switch (kind) {
        case K_PUT: return 'p';
        case K_GET: return 'g';
        case K_PING: return 'i';
        case K_PUTGET: return 'r';
        case K_CONSUME_DONE: return 'j';
        case K_DICT_SET: return 'S';
        case K_DICT_GET: return 'G';
        case K_SEM: return 's';
        default: return 'c';
        }
}

static void run_lib(const struct scenario *sc, const char *name) {
        int n = opt.clients;
        /* n result slots for the workers measured, n more for producers */
        struct shared *sh = mmap(NULL, sizeof(*sh) * 2 * (size_t) n, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        struct hist **hs = calloc(2 * (size_t) n, sizeof(*hs)), *h = hist_new();
        pid_t *pids = calloc((size_t) n, sizeof(*pids)), *ppids = calloc((size_t) n, sizeof(*ppids));
        struct result res = { .scenario = sc->name,
                              .client = opt.pipelined ? "libmpx-pipelined" : opt.depth > 1 ? "libmpx-async" : "libmpx",
                              .latency = "round-trip", .clients = n, .depth = opt.depth, .hist = h };
        int64_t start = now_ns(), deadline = opt.count > 0 ? 0 : start + (int64_t) (opt.secs * 1e9), last = start;
        char role = lib_role(sc->kind);

        if (sh == MAP_FAILED) {
                perror("mpx-bench: mmap");
                exit(1);
        }
        for (int i = 0; i < 2 * n; i++)
                hs[i] = hist_new();
        if (role == 'c' || role == 'j') {
                /* consumers first (they block in get), then as many producers */
                res.latency = "put-to-get";
                lib_fork(n, role, name, opt.count, deadline, hs, sh, pids);
                lib_fork(n, 'p', name, opt.count, deadline, hs + n, sh + n, ppids);
                lib_wait(n, ppids);
                lib_wait(n, pids);
        } else {
                lib_fork(n, role, name, opt.count, deadline, hs, sh, pids);
                lib_wait(n, pids);
        }
        for (int i = 0; i < n; i++) {
                res.ops += sh[i].ops;
                if (sh[i].last_ns > last)
                        last = sh[i].last_ns;
                for (size_t b = 0; b <= HIST_BUCKETS; b++)
                        h->bucket[b] += hs[i]->bucket[b];
                h->n += hs[i]->n;
                if (hs[i]->max_ns > h->max_ns)
                        h->max_ns = hs[i]->max_ns;
        }
        for (int i = 0; i < 2 * n; i++)
                munmap(hs[i], sizeof(*hs[i]));
        res.items = res.ops;
        res.elapsed_ns = last - start;
        report(&res);
        munmap(h, sizeof(*h));
        munmap(sh, sizeof(*sh) * 2 * (size_t) n);
        free(hs);
        free(pids);
        free(ppids);
}

/* ---- --spawn: a private daemon in a temporary folder ---- */

static pid_t main_pid, daemon_pid;
static char tmpdir[64], sock_path[128], notify_path[128];

static void cleanup(void) {
        char lock[160];

        if (getpid() != main_pid)
                return;
        if (daemon_pid > 0) {
                int status;
                kill(daemon_pid, SIGTERM);
                (void) waitpid(daemon_pid, &status, 0);
                daemon_pid = 0;
        }
        if (tmpdir[0]) {
                snprintf(lock, sizeof(lock), "%s.lock", sock_path);
                unlink(sock_path);
                unlink(lock);
                unlink(notify_path);
                rmdir(tmpdir);
                tmpdir[0] = '\0';
        }
}

static void on_signal(int sig) {
        if (getpid() == main_pid)
                cleanup();
        _exit(128 + sig);
}

/* Start mpxd on a socket in a new temporary folder; wait for its READY=1 (sd_notify). */
static void spawn_daemon(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int64_t deadline = now_ns() + 10 * (int64_t) 1000000000;
        int nfd;

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/mpx-bench-XXXXXX");
        if (!mkdtemp(tmpdir)) {
                perror("mpx-bench: mkdtemp");
                exit(1);
        }
        snprintf(sock_path, sizeof(sock_path), "%s/mpxd.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        strcpy(sa.sun_path, notify_path);
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("mpx-bench: notify socket");
                exit(1);
        }
        fflush(NULL);
        daemon_pid = fork();
        if (daemon_pid < 0) {
                perror("mpx-bench: fork");
                exit(1);
        }
        if (daemon_pid == 0) {
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execl(path, path, "-q", "-s", sock_path, (char *) NULL);
                fprintf(stderr, "mpx-bench: cannot run %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        for (;;) {
                struct pollfd pfd = { .fd = nfd, .events = POLLIN };
                int64_t left = (deadline - now_ns()) / 1000000;
                char msg[256];
                ssize_t k;
                int status;

                if (left <= 0) {
                        fprintf(stderr, "mpx-bench: %s did not say READY=1 within 10 s\n", path);
                        exit(1);
                }
                /* Wake up now and then to notice a daemon that died without a word. */
                if (poll(&pfd, 1, left > 100 ? 100 : (int) left) > 0) {
                        k = recv(nfd, msg, sizeof(msg) - 1, 0);
                        if (k > 0) {
                                msg[k] = '\0';
                                if (strstr(msg, "READY=1"))
                                        break;
                        }
                }
                if (waitpid(daemon_pid, &status, WNOHANG) == daemon_pid) {
                        daemon_pid = 0;
                        fprintf(stderr, "mpx-bench: %s exited before it was ready\n", path);
                        exit(1);
                }
        }
        close(nfd);
        opt.socket = sock_path;
}

/* ---- main ---- */

/* The scenarios whose --lib worker also runs asynchronously (-P > 1) or pipelined. */
static bool lib_async(enum kind kind) {
        return kind == K_PUT || kind == K_GET || kind == K_PING || kind == K_CONSUME;
}

static const struct scenario *find_scenario(const char *name) {
        for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
                if (strcmp(scenarios[i].name, name) == 0)
                        return &scenarios[i];
        return NULL;
}

static void usage(FILE *f) {
        fprintf(f,
                "usage: mpx-bench [-s SOCKET | --spawn MPXD] [-T SCENARIO,...] [options] [SCENARIO...]\n"
                "  -s, --socket PATH     daemon socket (default $MPX_SOCKET, else the system socket)\n"
                "      --spawn MPXD      start this mpxd on a socket in a temporary folder, stop it at the end\n"
                "  -T, --tests LIST      scenarios: put get put_many get_many handoff joinable joinable_done_get dict_set\n"
                "                        dict_get dict_incr sem ping wake putget (default put,get)\n"
                "  -c, --clients N       connections (handoff: N producers and N consumers) (1)\n"
                "  -P, --pipeline N      requests in flight per connection (1)\n"
                "      --refill-all      send N requests, then wait for all N replies before the next N\n"
                "                        (redis-benchmark -P; --lib -P N too); by default the window\n"
                "                        refills as replies come\n"
                "  -d, --size BYTES      payload bytes, 0 to 67108864 (64)\n"
                "  -t, --time SECONDS    run each scenario this long (3)\n"
                "  -n, --count N         or run this many operations in all\n"
                "  -b, --batch N         items per put_many/get_many (64)\n"
                "  -k, --keys N          dict keys (1000)\n"
                "  -q, --queue NAME      object name (bench)\n"
                "      --prefill N       items put before get/get_many in -t mode (1000000)\n"
                "      --reuse           use the queue as it is (no delete, no prefill)\n"
                "      --keep            leave the queue and its items at the end\n"
                "      --lib             libmpx clients, one process each (put get ping handoff putget joinable\n"
                "                        dict_set dict_get sem): synchronous, or asynchronous with -P requests\n"
                "                        in flight when -P > 1 (put get ping handoff); -s takes any address\n"
                "                        mpx_connect() does (redis+unix:///path: the Redis backend)\n"
                "      --pipelined       with --lib: putters use synchronous puts on a pipelined connection,\n"
                "                        written -P at a time (mpx_pipeline_batch)\n"
                "      --pause           wake: print a ready line and wait for a line on stdin\n"
                "      --label TEXT      add \"label\":TEXT to each line\n"
                "      --durable         declare queues and dicts durable (the daemon needs durability.directory)\n");
}

int main(int argc, char **argv) {
        enum { O_SPAWN = 0x100, O_PREFILL, O_REUSE, O_KEEP, O_LIB, O_PAUSE, O_LABEL, O_REFILL_ALL, O_DURABLE, O_PIPELINED };
        static const struct option longopts[] = {
                { "socket", required_argument, NULL, 's' },
                { "spawn", required_argument, NULL, O_SPAWN },
                { "tests", required_argument, NULL, 'T' },
                { "clients", required_argument, NULL, 'c' },
                { "pipeline", required_argument, NULL, 'P' },
                { "size", required_argument, NULL, 'd' },
                { "time", required_argument, NULL, 't' },
                { "count", required_argument, NULL, 'n' },
                { "batch", required_argument, NULL, 'b' },
                { "keys", required_argument, NULL, 'k' },
                { "queue", required_argument, NULL, 'q' },
                { "prefill", required_argument, NULL, O_PREFILL },
                { "reuse", no_argument, NULL, O_REUSE },
                { "keep", no_argument, NULL, O_KEEP },
                { "lib", no_argument, NULL, O_LIB },
                { "pipelined", no_argument, NULL, O_PIPELINED },
                { "pause", no_argument, NULL, O_PAUSE },
                { "label", required_argument, NULL, O_LABEL },
                { "refill-all", no_argument, NULL, O_REFILL_ALL },
                { "durable", no_argument, NULL, O_DURABLE },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        char list[1024] = "", copy[1024], *save, *tok;
        struct rlimit rl;
        struct sigaction sa = { .sa_handler = on_signal };
        int c;

        while ((c = getopt_long(argc, argv, "s:T:c:P:d:t:n:b:k:q:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 's': opt.socket = optarg; break;
                case O_SPAWN: opt.spawn = optarg; break;
                case 'T':
                        strncat(list, ",", sizeof(list) - strlen(list) - 1);
                        strncat(list, optarg, sizeof(list) - strlen(list) - 1);
                        break;
                case 'c': opt.clients = atoi(optarg); break;
                case 'P': opt.depth = atoi(optarg); break;
                case 'd': opt.size = (size_t) atol(optarg); break;
                case 't': opt.secs = atof(optarg); break;
                case 'n': opt.count = atol(optarg); break;
                case 'b': opt.batch = (unsigned) atoi(optarg); break;
                case 'k': opt.keys = (unsigned) atoi(optarg); break;
                case 'q': opt.queue = optarg; break;
                case O_PREFILL: opt.prefill = atol(optarg); break;
                case O_REUSE: opt.reuse = true; break;
                case O_KEEP: opt.keep = true; break;
                case O_LIB: opt.lib = true; break;
                case O_PIPELINED: opt.pipelined = true; break;
                case O_PAUSE: opt.pause = true; break;
                case O_LABEL: opt.label = optarg; break;
                case O_REFILL_ALL: opt.refill_all = true; break;
                case O_DURABLE: opt.durable = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        for (; optind < argc; optind++) {
                strncat(list, ",", sizeof(list) - strlen(list) - 1);
                strncat(list, argv[optind], sizeof(list) - strlen(list) - 1);
        }
        if (!list[0])
                strcpy(list, "put,get");
        if (opt.clients < 1 || opt.clients > 100000 || opt.depth < 1 || opt.depth > 65536 ||
            opt.size > 64u * 1024 * 1024 || opt.batch < 1 || opt.batch > 100000 || opt.keys < 1 ||
            (opt.count <= 0 && opt.secs <= 0) || opt.prefill < 0) {
                usage(stderr);
                return 2;
        }
        if (opt.pipelined && !opt.lib) {
                fprintf(stderr, "mpx-bench: --pipelined is a mode of the --lib clients\n");
                return 2;
        }
        strcpy(copy, list);
        for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                const struct scenario *sc = find_scenario(tok);
                if (!sc) {
                        fprintf(stderr, "mpx-bench: unknown scenario '%s'\n", tok);
                        usage(stderr);
                        return 2;
                }
                if (opt.lib && !sc->lib) {
                        fprintf(stderr, "mpx-bench: scenario '%s' has no --lib version\n", tok);
                        return 2;
                }
                if (sc->kind == K_PUTGET && (!opt.lib || opt.depth > 1 || opt.pipelined)) {
                        fprintf(stderr, "mpx-bench: scenario '%s' is a synchronous --lib loop (--lib, -P 1)\n", tok);
                        return 2;
                }
                if (opt.lib && (opt.depth > 1 || opt.pipelined) && !lib_async(sc->kind)) {
                        fprintf(stderr, "mpx-bench: scenario '%s' has a synchronous --lib loop only (-P 1)\n", tok);
                        return 2;
                }
        }
        /* 10,000 connections need as many descriptors. */
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (!opt.socket) {
                opt.socket = getenv("MPX_SOCKET");
                if (!opt.socket || !*opt.socket)
                        opt.socket = MPX_DEFAULT_SOCKET;
        }
        main_pid = getpid();
        atexit(cleanup);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (opt.spawn)
                spawn_daemon(opt.spawn);

        for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                const struct scenario *sc = find_scenario(tok);
                char name[300];

                object_name(sc, name, sizeof(name));
                if (!setup_object(sc, name))
                        continue;
                if (opt.lib)
                        run_lib(sc, name);
                else if (sc->kind == K_CONSUME || sc->kind == K_CONSUME_DONE || sc->kind == K_CONSUME_DONE_GET)
                        run_handoff(sc, name);
                else if (sc->kind == K_WAKE)
                        run_wake(sc, name);
                else
                        run_simple(sc, name);
                teardown_object(sc, name);
        }
        admin_conn = mpx_disconnect(admin_conn);
        cleanup();
        return 0;
}
