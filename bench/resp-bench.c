/* SPDX-License-Identifier: MIT */
/*
 * resp-bench: the Redis side of two shapes redis-benchmark cannot make.
 *
 *      resp-bench -s SOCKET handoff [-w WINDOW] [-d BYTES] [-t SECONDS]
 *              A producer process LPUSHes onto a list, a consumer process
 *              blocked in BRPOP takes: -w requests in flight on each side (the
 *              BRPOPs are pipelined; Redis serves them one after the other).
 *              Counted at the consumer, like mpx-bench handoff; latency is
 *              put-to-get from a timestamp in the payload.
 *      resp-bench -s SOCKET conns [-C N]
 *              Open N connections, each blocked in BRPOP on an empty list;
 *              once Redis reports N blocked clients print a "ready" line and
 *              wait for a line on stdin (the caller measures the server's RSS).
 *
 * A small RESP client of its own: no hiredis. Standalone; bench/compare builds
 * it with the system C compiler when make did not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FINE_NS 100
#define BUCKETS 1000000         /* 100 ns buckets up to 100 ms */
#define COARSE_NS 100000
#define COARSE 1000000          /* then 100 us buckets up to 100 s */

struct hist {
        uint64_t n;
        int64_t max;
        uint64_t b[BUCKETS + COARSE + 1];
};

static const char *sock_path;
static size_t size = 64, window = 1;
static double secs = 3;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "resp-bench: %s: %s\n", what, strerror(errno));
        exit(1);
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

static int connect_redis(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (strlen(sock_path) >= sizeof(sa.sun_path))
                die("socket path too long");
        strcpy(sa.sun_path, sock_path);
        if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("connect");
        return fd;
}

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        die("write");
                p += k;
                n -= (size_t) k;
        }
}

/*
 * Parse one reply at p (n bytes). Returns its length, 0 if incomplete, -1 if
 * malformed. last, last_len: the last bulk string in it (BRPOP: the value).
 */
static ssize_t resp_parse(const char *p, size_t n, const char **last, size_t *last_len) {
        const char *eol = memmem(p, n, "\r\n", 2);
        long v;

        if (!eol)
                return 0;
        v = strtol(p + 1, NULL, 10);
        size_t head = (size_t) (eol - p) + 2;
        switch (p[0]) {
        case '+':
        case '-':
        case ':':
                if (p[0] == '-')
                        fprintf(stderr, "resp-bench: error reply: %.*s\n", (int) (eol - p), p);
                return (ssize_t) head;
        case '$':
                if (v < 0)
                        return (ssize_t) head;
                if (n < head + (size_t) v + 2)
                        return 0;
                if (last) {
                        *last = p + head;
                        *last_len = (size_t) v;
                }
                return (ssize_t) (head + (size_t) v + 2);
        case '*': {
                size_t off = head;
                for (long i = 0; i < v; i++) {
                        ssize_t k = resp_parse(p + off, n - off, last, last_len);
                        if (k <= 0)
                                return k;
                        off += (size_t) k;
                }
                return (ssize_t) off;
        }
        }
        return -1;
}

/* Send one command and wait for its reply into buf (synchronous setup requests). */
static void command(int fd, const char *cmd, char *buf, size_t cap) {
        size_t have = 0;

        write_all(fd, cmd, strlen(cmd));
        for (;;) {
                ssize_t k = read(fd, buf + have, cap - have - 1);
                if (k <= 0)
                        die("read");
                have += (size_t) k;
                buf[have] = '\0';
                if (resp_parse(buf, have, NULL, NULL) > 0)
                        return;
        }
}

/* Wait until Redis reports at least n blocked clients (a poll with a deadline). */
static void wait_blocked(int fd, long n) {
        int64_t deadline = now_ns() + 60 * (int64_t) 1000000000;
        char buf[8192];

        for (;;) {
                command(fd, "*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n", buf, sizeof(buf));
                const char *b = strstr(buf, "blocked_clients:");
                if (b && atol(b + strlen("blocked_clients:")) >= n)
                        return;
                if (now_ns() > deadline) {
                        fprintf(stderr, "resp-bench: Redis never reported %ld blocked clients\n", n);
                        exit(1);
                }
                /* Let the server run before asking again. */
                poll(NULL, 0, 1);
        }
}

struct shared {
        uint64_t ops;
        int64_t last;
        struct hist h;
};

static const char brpop[] = "*3\r\n$5\r\nBRPOP\r\n$5\r\nrbq:h\r\n$1\r\n0\r\n";

static void consumer(struct shared *sh, int ready_fd, int go_fd) {
        int fd = connect_redis();
        size_t cap = (size + 64) * window + 65536, have = 0;
        char *in = malloc(cap);
        int64_t start, deadline, t = 0;

        for (size_t i = 0; i < window; i++)
                write_all(fd, brpop, sizeof(brpop) - 1);
        if (write(ready_fd, "r", 1) != 1 || read(go_fd, &start, sizeof(start)) != sizeof(start))
                _exit(1);
        deadline = start + (int64_t) (secs * 1e9);
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int timeout = (int) ((deadline - now_ns()) / 1000000) + 1;
                size_t k = 0, off = 0;

                if (timeout <= 0 || poll(&pfd, 1, timeout) == 0)
                        break;
                ssize_t r = read(fd, in + have, cap - have);
                if (r <= 0)
                        die("read");
                t = now_ns();
                have += (size_t) r;
                for (;;) {
                        const char *val = NULL;
                        size_t vlen = 0;
                        ssize_t n = resp_parse(in + off, have - off, &val, &vlen);
                        if (n < 0) {
                                fprintf(stderr, "resp-bench: bad reply\n");
                                _exit(1);
                        }
                        if (n == 0)
                                break;
                        if (val && vlen >= 8) {
                                int64_t put;
                                memcpy(&put, val, sizeof(put));
                                hist_add(&sh->h, t - put);
                        }
                        off += (size_t) n;
                        k++;
                }
                memmove(in, in + off, have - off);
                have -= off;
                if (t >= deadline)
                        break;
                sh->ops += k;
                sh->last = t;
                /* One BRPOP again for each reply, in one write. */
                for (size_t i = 0; i < k; i++)
                        write_all(fd, brpop, sizeof(brpop) - 1);
        }
        _exit(0);
}

/* Append one LPUSH of size bytes, the first 8 the time now. */
static size_t lpush(char *p) {
        int64_t t = now_ns();
        int n = sprintf(p, "*3\r\n$5\r\nLPUSH\r\n$5\r\nrbq:h\r\n$%zu\r\n", size);

        memset(p + n, 'x', size);
        if (size >= 8)
                memcpy(p + n, &t, sizeof(t));
        memcpy(p + n + size, "\r\n", 2);
        return (size_t) n + size + 2;
}

static void producer(int64_t deadline) {
        int fd = connect_redis();
        size_t one = size + 64, cap = one * window + 65536, have = 0, inflight = 0;
        char *out = malloc(one * window), *in = malloc(cap);

        for (;;) {
                size_t len = 0;
                while (inflight < window) {
                        len += lpush(out + len);
                        inflight++;
                }
                write_all(fd, out, len);
                ssize_t r = read(fd, in + have, cap - have);
                if (r <= 0)
                        die("read");
                have += (size_t) r;
                size_t off = 0;
                for (;;) {
                        ssize_t n = resp_parse(in + off, have - off, NULL, NULL);
                        if (n <= 0)
                                break;
                        off += (size_t) n;
                        inflight--;
                }
                memmove(in, in + off, have - off);
                have -= off;
                if (now_ns() >= deadline)
                        break;
        }
        close(fd);
}

static int handoff(void) {
        struct shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        int ready[2], go[2], status, admin = connect_redis();
        char buf[256], byte;
        int64_t start;
        pid_t pid;

        if (sh == MAP_FAILED || pipe(ready) < 0 || pipe(go) < 0)
                die("setup");
        command(admin, "*2\r\n$3\r\nDEL\r\n$5\r\nrbq:h\r\n", buf, sizeof(buf));
        fflush(NULL);
        pid = fork();
        if (pid == 0)
                consumer(sh, ready[1], go[0]);
        if (read(ready[0], &byte, 1) != 1)
                die("consumer");
        /* The consumer is blocked before the producer starts. */
        wait_blocked(admin, 1);
        start = now_ns();
        if (write(go[1], &start, sizeof(start)) != sizeof(start))
                die("write");
        producer(start + (int64_t) (secs * 1e9));
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "resp-bench: the consumer failed\n");
                return 1;
        }
        command(admin, "*2\r\n$3\r\nDEL\r\n$5\r\nrbq:h\r\n", buf, sizeof(buf));
        double el = (double) (sh->last - start) / 1e9;
        printf("{\"system\":\"redis\",\"scenario\":\"handoff\",\"clients\":1,\"pipeline\":%zu,\"size\":%zu,"
               "\"ops\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f",
               window, size, (unsigned long long) sh->ops, el, (double) sh->ops / el);
        if (sh->h.n)
                printf(",\"latency\":\"put-to-get\",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f",
                       hist_q(&sh->h, 0.5), hist_q(&sh->h, 0.99), hist_q(&sh->h, 0.999));
        printf("}\n");
        return 0;
}

static int conns(long n) {
        static const char cmd[] = "*3\r\n$5\r\nBRPOP\r\n$6\r\nrbq:id\r\n$1\r\n0\r\n";
        int admin = connect_redis();
        int *fds = calloc((size_t) n, sizeof(*fds));
        struct rlimit rl;
        char line[64];

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (long i = 0; i < n; i++) {
                fds[i] = connect_redis();
                write_all(fds[i], cmd, sizeof(cmd) - 1);
        }
        wait_blocked(admin, n);
        printf("{\"system\":\"redis\",\"scenario\":\"conns\",\"phase\":\"ready\",\"waiters\":%ld}\n", n);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin))
                fprintf(stderr, "resp-bench: stdin closed\n");
        for (long i = 0; i < n; i++)
                close(fds[i]);
        return 0;
}

int main(int argc, char **argv) {
        long n = 10000;
        int c;

        while ((c = getopt(argc, argv, "s:w:d:t:C:h")) >= 0) {
                switch (c) {
                case 's': sock_path = optarg; break;
                case 'w': window = (size_t) atol(optarg); break;
                case 'd': size = (size_t) atol(optarg); break;
                case 't': secs = atof(optarg); break;
                case 'C': n = atol(optarg); break;
                default:
                        fprintf(stderr, "usage: resp-bench -s SOCKET handoff [-w N] [-d BYTES] [-t SECONDS]\n"
                                        "       resp-bench -s SOCKET conns [-C N]\n");
                        return c == 'h' ? 0 : 2;
                }
        }
        if (!sock_path || optind >= argc || window < 1 || secs <= 0)
                return 2;
        if (strcmp(argv[optind], "handoff") == 0)
                return handoff();
        if (strcmp(argv[optind], "conns") == 0)
                return conns(n);
        fprintf(stderr, "resp-bench: unknown mode '%s'\n", argv[optind]);
        return 2;
}
