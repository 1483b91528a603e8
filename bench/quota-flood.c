/* SPDX-License-Identifier: MIT */
/*
 * quota-flood: what one user flooding mpxd costs every other user, with the
 * per-uid quotas of limits.per_user in force. One run, two phases on one
 * daemon it starts itself:
 *
 *      baseline  -c clients of one uid do request/reply round trips (a put,
 *                then a get, on a queue of their own) for -t seconds;
 *      flood     the same, while -f clients of another uid put -d byte items
 *                until their quota (--quota) refuses with ENOSPC, purge, and
 *                put again, as fast as the daemon answers, and try to declare
 *                an object past their quota (one queue each: EUSERS).
 *
 * With --pipeline-flood the flooders pipeline instead, on a raw connection,
 * and read their replies slowly (64 KiB per --read-delay microseconds):
 *
 *      gets      fill a queue of their own with -n items of -d bytes (16,000
 *                of 4 KiB unless given), then send -n QUEUE_GETs at once,
 *                without reading, then read the replies slowly; again;
 *      small     send -n small requests at once (200,000 unless given: a
 *                16-byte QUEUE_PUT and a QUEUE_GET by turns), then read
 *                slowly; again.
 *
 * It prints the round-trip latency of the others, p50, p99, p99.9 and max,
 * in each phase, and what the flooders got. Run as root: the clients fork
 * and take two uids of their own (setuid), as two users of one machine would.
 *
 *      quota-flood [--mpxd PATH] [-c CLIENTS] [-f FLOODERS] [-t SECONDS]
 *                  [-d BYTES] [--quota BYTES]
 *                  [--pipeline-flood[=gets|small] [-n REQUESTS] [--read-delay US]]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

#define FLOOD_UID 64201
#define OTHER_UID 64202

/* Latencies are counted per microsecond up to this, and above it in one bucket. */
#define HIST_US 200000
#define MAX_PROCS 256

struct options {
        const char *mpxd;
        int clients;
        int flooders;
        double secs;
        size_t size;                    /* bytes of a flooder's item */
        const char *quota;              /* limits.per_user.max_memory */
        int pipeline;                   /* PIPELINE_*: how the flooders flood */
        unsigned long requests;         /* -n: requests of one pipelined burst */
        long read_delay_us;             /* between two 64 KiB reads of a pipelining flooder */
};

enum { PIPELINE_NONE, PIPELINE_GETS, PIPELINE_SMALL };

/* Wire constants (common/wire.h) for the raw connections of the pipelining flooders. */
#define RAW_HEADER_SIZE 12u
#define RAW_OP_HELLO 1
#define RAW_OP_QUEUE_PUT 201
#define RAW_OP_QUEUE_GET 202
#define RAW_READ_CHUNK (64u * 1024)

/* One client's latencies, in memory shared with the parent. */
struct hist {
        uint64_t n;
        uint64_t max_us;
        uint64_t errors;
        uint64_t at_us[HIST_US + 1];
};

/* What the flooders did, shared. */
struct flood_counts {
        uint64_t puts;                  /* accepted */
        uint64_t enospc;                /* refused by the quota */
        uint64_t eusers;                /* declares refused by the object quota */
        uint64_t other_errors;
        uint64_t bursts;                /* pipelined bursts sent and read back in full */
        uint64_t replies;               /* replies to pipelined requests */
        int filled;                     /* a flooder reached its quota once (or sent a first burst) */
};

static struct options opt = {
        .mpxd = "./mpxd", .clients = 4, .flooders = 4, .secs = 5, .size = 64 * 1024, .quota = "64M",
        .read_delay_us = 1000,
};
static char dir[64], sock_path[128];
static pid_t daemon_pid;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *shared_alloc(size_t size) {
        void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
                perror("quota-flood: mmap");
                exit(1);
        }
        return p;
}

/* Become uid, with the group of the same number and no other. */
static void become(uid_t uid) {
        if (setgroups(0, NULL) < 0 || setgid((gid_t) uid) < 0 || setuid(uid) < 0) {
                perror("quota-flood: setuid");
                _exit(2);
        }
}

static void record(struct hist *h, int64_t ns) {
        uint64_t us = (uint64_t) (ns / 1000);

        h->n++;
        if (us > h->max_us)
                h->max_us = us;
        h->at_us[us < HIST_US ? us : HIST_US]++;
}

/* A client of the other uid: put then get on its own queue, each timed, until the deadline. */
static int other_client(int index, struct hist *h, int64_t deadline) {
        char queue[32], payload[64];
        mpx *m;

        become(OTHER_UID);
        snprintf(queue, sizeof(queue), "other-%d", index);
        memset(payload, 'o', sizeof(payload));
        if (mpx_connect_named(sock_path, "quota-flood other", &m) < 0 || mpx_queue_declare(m, queue, 0, 0) < 0)
                return 3;
        while (now_ns() < deadline) {
                mpx_item item;
                int64_t t0 = now_ns();
                int r = mpx_queue_put(m, queue, payload, sizeof(payload), 0);
                int64_t t1 = now_ns();

                record(h, t1 - t0);
                if (r < 0)
                        h->errors++;
                r = mpx_queue_get(m, queue, 0, &item);
                record(h, now_ns() - t1);
                if (r < 0)
                        h->errors++;
                else
                        mpx_item_clear(&item);
        }
        mpx_disconnect(m);
        return 0;
}

/* A flooder: put until the quota refuses, purge, again; and declare past the object quota. */
static int flooder(int index, struct flood_counts *fc, const volatile int *stop) {
        char queue[32], extra[32];
        void *data = calloc(1, opt.size);
        mpx *m;

        become(FLOOD_UID);
        snprintf(queue, sizeof(queue), "flood-%d", index);
        if (!data || mpx_connect_named(sock_path, "quota-flood flooder", &m) < 0 ||
            mpx_queue_declare(m, queue, 0, 0) < 0)
                return 4;
        for (unsigned n = 0; !*stop; n++) {
                int r = mpx_queue_put(m, queue, data, opt.size, 0);

                if (r == 0)
                        __atomic_add_fetch(&fc->puts, 1, __ATOMIC_RELAXED);
                else if (r == -ENOSPC) {
                        __atomic_add_fetch(&fc->enospc, 1, __ATOMIC_RELAXED);
                        __atomic_store_n(&fc->filled, 1, __ATOMIC_RELEASE);
                        snprintf(extra, sizeof(extra), "flood-%d-%u", index, n);
                        r = mpx_dict_declare(m, extra);
                        if (r == -EUSERS)
                                __atomic_add_fetch(&fc->eusers, 1, __ATOMIC_RELAXED);
                        else if (r == 1)
                                (void) mpx_delete(m, extra);
                        if (mpx_queue_purge(m, queue) < 0)
                                __atomic_add_fetch(&fc->other_errors, 1, __ATOMIC_RELAXED);
                } else
                        __atomic_add_fetch(&fc->other_errors, 1, __ATOMIC_RELAXED);
        }
        mpx_disconnect(m);
        free(data);
        return 0;
}

/* A growable buffer of request frames for a raw connection. */
struct obuf {
        uint8_t *p;
        size_t len, cap;
};

static void ob_raw(struct obuf *b, const void *src, size_t n) {
        if (b->len + n > b->cap) {
                size_t cap = b->cap ? b->cap : 4096;

                while (cap < b->len + n)
                        cap *= 2;
                b->p = realloc(b->p, cap);
                if (!b->p) {
                        perror("quota-flood: realloc");
                        _exit(5);
                }
                b->cap = cap;
        }
        memcpy(b->p + b->len, src, n);
        b->len += n;
}

/* Little-endian integers, as on the wire. */
static void ob_le(struct obuf *b, uint64_t v, size_t n) {
        uint8_t le[8];

        for (size_t i = 0; i < n; i++)
                le[i] = (uint8_t) (v >> (8 * i));
        ob_raw(b, le, n);
}

/* Start a frame: its header, with the body length filled in by ob_frame_end. */
static size_t ob_frame_begin(struct obuf *b, uint32_t id, uint16_t op) {
        size_t start = b->len;

        ob_le(b, 0, 4);
        ob_le(b, id, 4);
        ob_le(b, op, 2);
        ob_le(b, 0, 2);
        return start;
}

static void ob_frame_end(struct obuf *b, size_t start) {
        uint32_t body = (uint32_t) (b->len - start - RAW_HEADER_SIZE);

        for (size_t i = 0; i < 4; i++)
                b->p[start + i] = (uint8_t) (body >> (8 * i));
}

static void ob_name(struct obuf *b, const char *name) {
        ob_le(b, strlen(name), 1);
        ob_raw(b, name, strlen(name));
}

/* QUEUE_GET name, timeout 0, flags 0. */
static void ob_get(struct obuf *b, uint32_t id, const char *queue) {
        size_t start = ob_frame_begin(b, id, RAW_OP_QUEUE_GET);

        ob_name(b, queue);
        ob_le(b, 0, 8);
        ob_le(b, 0, 4);
        ob_frame_end(b, start);
}

/* QUEUE_PUT name, timeout 0, payload. */
static void ob_put(struct obuf *b, uint32_t id, const char *queue, const void *data, uint32_t size) {
        size_t start = ob_frame_begin(b, id, RAW_OP_QUEUE_PUT);

        ob_name(b, queue);
        ob_le(b, 0, 8);
        ob_le(b, size, 4);
        ob_raw(b, data, size);
        ob_frame_end(b, start);
}

static uint32_t le32(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

/*
 * Send every frame of b and read n replies: what the socket takes is written
 * at once, without reading; then the replies are read 64 KiB at a time with
 * opt.read_delay_us between two reads. Returns the replies whose status is
 * not OK, or -1 when the connection failed.
 */
static long raw_exchange(int fd, const struct obuf *b, unsigned long n, bool slow) {
        static uint8_t in[2 * RAW_READ_CHUNK];
        size_t woff = 0, have = 0;
        unsigned long seen = 0;
        long bad = 0;

        while (seen < n) {
                ssize_t k;

                while (woff < b->len) {
                        k = write(fd, b->p + woff, b->len - woff);
                        if (k <= 0)
                                break;
                        woff += (size_t) k;
                }
                if (woff < b->len) {
                        struct pollfd p = { .fd = fd, .events = POLLOUT | POLLIN };

                        /* The daemon stopped reading us (backpressure): read a little, then write on. */
                        if (errno != EAGAIN || poll(&p, 1, -1) < 0)
                                return -1;
                        if (!(p.revents & POLLIN))
                                continue;
                }
                if (slow && opt.read_delay_us > 0)
                        usleep((useconds_t) opt.read_delay_us);
                k = read(fd, in + have, RAW_READ_CHUNK);
                if (k < 0 && errno == EAGAIN) {
                        struct pollfd p = { .fd = fd, .events = POLLIN };

                        poll(&p, 1, 100);
                        continue;
                }
                if (k <= 0)
                        return -1;
                have += (size_t) k;
                for (;;) {
                        uint32_t body;

                        if (have < RAW_HEADER_SIZE)
                                break;
                        body = le32(in);
                        if (body > sizeof(in) - RAW_HEADER_SIZE) {
                                /* A reply larger than the buffer: skip its body as it comes. */
                                fprintf(stderr, "quota-flood: reply of %u bytes, over %zu\n", body, sizeof(in));
                                return -1;
                        }
                        if (have < RAW_HEADER_SIZE + body)
                                break;
                        if (in[10] | in[11])
                                bad++;
                        seen++;
                        memmove(in, in + RAW_HEADER_SIZE + body, have - RAW_HEADER_SIZE - body);
                        have -= RAW_HEADER_SIZE + body;
                }
        }
        return bad;
}

/* A raw connection of the flooder's uid that has said HELLO; -1 on failure. */
static int raw_connect(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct obuf b = { 0 };
        const char *name = "quota-flood pipeliner";
        size_t start;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
                return -1;
        start = ob_frame_begin(&b, 1, RAW_OP_HELLO);
        ob_le(&b, 1, 4);
        ob_le(&b, strlen(name), 2);
        ob_raw(&b, name, strlen(name));
        ob_frame_end(&b, start);
        if (raw_exchange(fd, &b, 1, false) != 0) {
                free(b.p);
                close(fd);
                return -1;
        }
        free(b.p);
        return fd;
}

/*
 * A pipelining flooder: bursts of opt.requests requests sent without reading
 * their replies, which are then read slowly, until stopped. In the gets mode
 * the queue is filled first (pipelined puts whose replies are read at once).
 */
static int pipeliner(int index, struct flood_counts *fc, const volatile int *stop) {
        char queue[32];
        uint8_t small[16];
        void *data = calloc(1, opt.size);
        struct obuf fill = { 0 }, burst = { 0 };
        int fd;
        mpx *m;

        become(FLOOD_UID);
        snprintf(queue, sizeof(queue), "flood-%d", index);
        memset(small, 's', sizeof(small));
        if (!data || mpx_connect_named(sock_path, "quota-flood flooder", &m) < 0 ||
            mpx_queue_declare(m, queue, 0, 0) < 0)
                return 4;
        fd = raw_connect();
        if (fd < 0)
                return 4;
        for (uint32_t i = 0; i < opt.requests; i++) {
                if (opt.pipeline == PIPELINE_GETS) {
                        ob_put(&fill, i, queue, data, (uint32_t) opt.size);
                        ob_get(&burst, i, queue);
                } else if (i % 2 == 0)
                        ob_put(&burst, i, queue, small, sizeof(small));
                else
                        ob_get(&burst, i, queue);
        }
        while (!*stop) {
                long bad;

                if (fill.len && raw_exchange(fd, &fill, opt.requests, false) != 0) {
                        __atomic_add_fetch(&fc->other_errors, 1, __ATOMIC_RELAXED);
                        break;
                }
                __atomic_store_n(&fc->filled, 1, __ATOMIC_RELEASE);
                bad = raw_exchange(fd, &burst, opt.requests, true);
                if (bad < 0) {
                        __atomic_add_fetch(&fc->other_errors, 1, __ATOMIC_RELAXED);
                        break;
                }
                __atomic_add_fetch(&fc->bursts, 1, __ATOMIC_RELAXED);
                __atomic_add_fetch(&fc->replies, opt.requests, __ATOMIC_RELAXED);
                __atomic_add_fetch(&fc->other_errors, (uint64_t) bad, __ATOMIC_RELAXED);
        }
        close(fd);
        (void) mpx_queue_purge(m, queue);
        mpx_disconnect(m);
        free(fill.p);
        free(burst.p);
        free(data);
        return 0;
}

/* Fork a child that runs fn and dies with the parent. */
static pid_t spawn_child(int (*fn)(int, void *, const void *), int index, void *a, const void *b) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("quota-flood: fork");
                exit(1);
        }
        if (pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                _exit(fn(index, a, b));
        }
        return pid;
}

static int run_other(int index, void *h, const void *deadline) {
        return other_client(index, h, *(const int64_t *) deadline);
}

static int run_flooder(int index, void *fc, const void *stop) {
        if (opt.pipeline != PIPELINE_NONE)
                return pipeliner(index, fc, stop);
        return flooder(index, fc, stop);
}

/* Reap a child; complain if it failed. */
static bool reap(pid_t pid) {
        int status;

        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "quota-flood: a client failed (status 0x%x)\n", status);
                return false;
        }
        return true;
}

/* The microseconds under which a fraction q of the samples lie, over n histograms. */
static uint64_t percentile(struct hist *const *hs, int n, double q) {
        uint64_t total = 0, want, seen = 0;

        for (int i = 0; i < n; i++)
                total += hs[i]->n;
        want = (uint64_t) ((double) total * q);
        for (uint64_t us = 0; us <= HIST_US; us++) {
                for (int i = 0; i < n; i++)
                        seen += hs[i]->at_us[us];
                if (seen > want)
                        return us;
        }
        return HIST_US;
}

/* Run the others for opt.secs and print one line of their latencies. */
static bool measure(const char *phase, const struct flood_counts *fc) {
        struct hist *hs[MAX_PROCS];
        pid_t pids[MAX_PROCS];
        int64_t deadline = now_ns() + (int64_t) (opt.secs * 1e9);
        uint64_t n = 0, max = 0, errors = 0;
        bool ok = true;

        for (int i = 0; i < opt.clients; i++) {
                hs[i] = shared_alloc(sizeof(struct hist));
                pids[i] = spawn_child(run_other, i, hs[i], &deadline);
        }
        for (int i = 0; i < opt.clients; i++)
                ok &= reap(pids[i]);
        for (int i = 0; i < opt.clients; i++) {
                n += hs[i]->n;
                errors += hs[i]->errors;
                if (hs[i]->max_us > max)
                        max = hs[i]->max_us;
        }
        printf("%-9s %9llu %8.0f %7llu %7llu %8llu %7llu %6llu", phase, (unsigned long long) n, (double) n / opt.secs,
               (unsigned long long) percentile(hs, opt.clients, 0.50),
               (unsigned long long) percentile(hs, opt.clients, 0.99),
               (unsigned long long) percentile(hs, opt.clients, 0.999), (unsigned long long) max,
               (unsigned long long) errors);
        if (fc && opt.pipeline != PIPELINE_NONE)
                printf("   flooders: %llu bursts, %llu replies read, %llu errors", (unsigned long long) fc->bursts,
                       (unsigned long long) fc->replies, (unsigned long long) fc->other_errors);
        else if (fc)
                printf("   flooders: %llu puts, %llu ENOSPC, %llu EUSERS, %llu other errors",
                       (unsigned long long) fc->puts, (unsigned long long) fc->enospc,
                       (unsigned long long) fc->eusers, (unsigned long long) fc->other_errors);
        putchar('\n');
        for (int i = 0; i < opt.clients; i++)
                munmap(hs[i], sizeof(struct hist));
        return ok;
}

/* Start mpxd with the quotas on a socket every uid may use; wait for its READY=1. */
static void start_daemon(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char conf[128], notify[128], buf[256];
        int64_t deadline = now_ns() + 10 * (int64_t) 1000000000;
        FILE *f;
        int nfd;

        snprintf(dir, sizeof(dir), "/tmp/mpx-quota-flood-XXXXXX");
        if (!mkdtemp(dir) || chmod(dir, 0755) < 0) {
                perror("quota-flood: temporary folder");
                exit(1);
        }
        snprintf(sock_path, sizeof(sock_path), "%s/mpxd.sock", dir);
        snprintf(conf, sizeof(conf), "%s/mpxd.conf", dir);
        snprintf(notify, sizeof(notify), "%s/notify", dir);
        f = fopen(conf, "w");
        if (!f) {
                perror("quota-flood: configuration");
                exit(1);
        }
        fprintf(f, "socket = { mode = \"0666\"; };\nlog = { level = \"warning\"; };\n"
                   "limits = { per_user = { max_memory = \"%s\"; max_objects = %d; max_clients = %d; }; };\n",
                opt.quota, opt.clients > opt.flooders ? opt.clients : opt.flooders, opt.clients + 2 * opt.flooders);
        fclose(f);
        memcpy(sa.sun_path, notify, strlen(notify) + 1);
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("quota-flood: notify socket");
                exit(1);
        }
        fflush(NULL);
        daemon_pid = fork();
        if (daemon_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGTERM);
                setenv("NOTIFY_SOCKET", notify, 1);
                execl(opt.mpxd, opt.mpxd, "-c", conf, "-s", sock_path, (char *) NULL);
                fprintf(stderr, "quota-flood: cannot run %s: %s\n", opt.mpxd, strerror(errno));
                _exit(127);
        }
        for (;;) {
                struct pollfd p = { .fd = nfd, .events = POLLIN };
                int left = (int) ((deadline - now_ns()) / 1000000);
                ssize_t k;

                if (left <= 0 || waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
                        fprintf(stderr, "quota-flood: %s did not start\n", opt.mpxd);
                        exit(1);
                }
                if (poll(&p, 1, left < 100 ? left : 100) <= 0)
                        continue;
                k = recv(nfd, buf, sizeof(buf) - 1, 0);
                if (k > 0) {
                        buf[k] = '\0';
                        if (strstr(buf, "READY=1"))
                                break;
                }
        }
        close(nfd);
}

static void stop_daemon(void) {
        char cmd[128];

        if (daemon_pid > 0) {
                kill(daemon_pid, SIGTERM);
                waitpid(daemon_pid, NULL, 0);
        }
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (dir[0] && system(cmd) != 0)
                fprintf(stderr, "quota-flood: cannot remove %s\n", dir);
}

static void usage(FILE *f) {
        fprintf(f, "Usage: quota-flood [OPTION]...\n"
                   "Measure other users' latency while one uid floods mpxd up to its quotas (run as root).\n\n"
                   "      --mpxd PATH      the mpxd to start (default ./mpxd)\n"
                   "  -c, --clients N      clients of the other uid (default 4)\n"
                   "  -f, --flooders N     clients of the flooding uid (default 4)\n"
                   "  -t, --time SECONDS   length of each phase (default 5)\n"
                   "  -d, --size BYTES     bytes of a flooder's item (default 65536)\n"
                   "      --quota SIZE     limits.per_user.max_memory (default 64M; 1G with --pipeline-flood)\n"
                   "      --pipeline-flood[=gets|small]\n"
                   "                       flooders pipeline bursts of requests and read the replies slowly:\n"
                   "                       gets of -d byte items (default 4096) from a queue they filled,\n"
                   "                       or small puts and gets (default gets)\n"
                   "  -n, --requests N     requests of one burst (default 16000 gets, 200000 small)\n"
                   "      --read-delay US  pause between two 64 KiB reads of a burst's replies (default 1000)\n"
                   "  -h, --help           show this help\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "mpxd", required_argument, NULL, 'm' },     { "clients", required_argument, NULL, 'c' },
                { "flooders", required_argument, NULL, 'f' }, { "time", required_argument, NULL, 't' },
                { "size", required_argument, NULL, 'd' },     { "quota", required_argument, NULL, 'Q' },
                { "pipeline-flood", optional_argument, NULL, 'P' },
                { "requests", required_argument, NULL, 'n' },
                { "read-delay", required_argument, NULL, 'R' },
                { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
        };
        bool size_set = false, flooders_set = false, quota_set = false;
        struct flood_counts *fc;
        pid_t floods[MAX_PROCS];
        volatile int *stop;
        bool ok;
        int c;

        while ((c = getopt_long(argc, argv, "c:f:t:d:n:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'm': opt.mpxd = optarg; break;
                case 'c': opt.clients = atoi(optarg); break;
                case 'f': opt.flooders = atoi(optarg); flooders_set = true; break;
                case 't': opt.secs = atof(optarg); break;
                case 'd': opt.size = (size_t) strtoul(optarg, NULL, 10); size_set = true; break;
                case 'Q': opt.quota = optarg; quota_set = true; break;
                case 'n': opt.requests = strtoul(optarg, NULL, 10); break;
                case 'R': opt.read_delay_us = atol(optarg); break;
                case 'P':
                        if (!optarg || strcmp(optarg, "gets") == 0)
                                opt.pipeline = PIPELINE_GETS;
                        else if (strcmp(optarg, "small") == 0)
                                opt.pipeline = PIPELINE_SMALL;
                        else {
                                usage(stderr);
                                return 2;
                        }
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (opt.pipeline != PIPELINE_NONE) {
                /* One flooder pipelining is the case to show; the queue's items must fit its quota. */
                if (!flooders_set)
                        opt.flooders = 1;
                if (!size_set)
                        opt.size = 4096;
                if (!quota_set)
                        opt.quota = "1G";
                if (!opt.requests)
                        opt.requests = opt.pipeline == PIPELINE_GETS ? 16000 : 200000;
        }
        if (opt.clients < 1 || opt.clients > MAX_PROCS || opt.flooders < 1 || opt.flooders > MAX_PROCS ||
            opt.secs <= 0 || opt.size == 0) {
                usage(stderr);
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "quota-flood: run it as root: its clients take two uids of their own\n");
                return 2;
        }
        start_daemon();
        if (opt.pipeline == PIPELINE_GETS)
                printf("%d clients of uid %d doing put+get round trips; %d flooders of uid %d each pipelining "
                       "%lu gets of %zu-byte items, reading 64 KiB per %ld us; %.1f s per phase\n",
                       opt.clients, OTHER_UID, opt.flooders, FLOOD_UID, opt.requests, opt.size, opt.read_delay_us,
                       opt.secs);
        else if (opt.pipeline == PIPELINE_SMALL)
                printf("%d clients of uid %d doing put+get round trips; %d flooders of uid %d each pipelining "
                       "%lu small puts and gets, reading 64 KiB per %ld us; %.1f s per phase\n",
                       opt.clients, OTHER_UID, opt.flooders, FLOOD_UID, opt.requests, opt.read_delay_us, opt.secs);
        else
                printf("%d clients of uid %d doing put+get round trips; %d flooders of uid %d putting %zu-byte items "
                       "into a quota of %s; %.1f s per phase\n",
                       opt.clients, OTHER_UID, opt.flooders, FLOOD_UID, opt.size, opt.quota, opt.secs);
        printf("%-9s %9s %8s %7s %7s %8s %7s %6s\n", "phase", "requests", "req/s", "p50_us", "p99_us", "p999_us",
               "max_us", "errors");
        ok = measure("baseline", NULL);

        fc = shared_alloc(sizeof(*fc));
        stop = shared_alloc(sizeof(*stop));
        for (int i = 0; i < opt.flooders; i++)
                floods[i] = spawn_child(run_flooder, i, fc, (const void *) stop);
        /* Measure once the flood has reached the quota. */
        while (!__atomic_load_n(&fc->filled, __ATOMIC_ACQUIRE)) {
                if (waitpid(-1, NULL, WNOHANG) > 0) {
                        fprintf(stderr, "quota-flood: a flooder stopped early\n");
                        stop_daemon();
                        return 1;
                }
                poll(NULL, 0, 10);
        }
        ok &= measure("flood", fc);
        *stop = 1;
        for (int i = 0; i < opt.flooders; i++)
                ok &= reap(floods[i]);
        stop_daemon();
        return ok ? 0 : 1;
}
