/* SPDX-License-Identifier: MIT */
/*
 * uds-echo: the physical limit of the mpx design on this machine. Two
 * processes joined by an AF_UNIX stream socket; the server echoes every byte
 * it reads with plain blocking read() and write(), the client keeps -w
 * messages of -s bytes in flight (1: a blocking ping-pong) and sends every
 * message the window allows in one write() (with -a, only once the whole
 * previous batch is back, as redis-benchmark -P does). Prints one JSON line like
 * mpx-bench's: round trips per second and latency percentiles in microseconds.
 *
 *      uds-echo [-w WINDOW] [-s BYTES] [-t SECONDS]           a forked server, socketpair
 *      uds-echo -l PATH                                        a server on PATH, like a daemon
 *      uds-echo -p PATH [-w WINDOW] [-s BYTES] [-t SECONDS]    a client of that server
 *
 * The server started apart (-l) gives the same process layout as a daemon and
 * its client, which matters to the scheduler's placement. It serves one
 * connection at a time, says READY=1 on $NOTIFY_SOCKET once it listens, and
 * stops on SIGTERM.
 *
 * Standalone (no mpx code) so that it measures the socket and the scheduler
 * only. Built by bench/compare with the system C compiler when make did not.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FINE_NS 100
#define BUCKETS 1000000         /* 100 ns buckets up to 100 ms, then overflow */

static uint64_t bucket[BUCKETS + 1], n_lat;
static int64_t max_lat;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void lat_add(int64_t ns) {
        int64_t i = ns / FINE_NS;

        if (i < 0)
                i = 0;
        if (i > BUCKETS)
                i = BUCKETS;
        bucket[i]++;
        n_lat++;
        if (ns > max_lat)
                max_lat = ns;
}

static double lat_q(double q) {
        uint64_t want = (uint64_t) ((double) n_lat * q), seen = 0;

        if (want >= n_lat)
                want = n_lat - 1;
        for (size_t i = 0; i < BUCKETS; i++) {
                seen += bucket[i];
                if (seen > want)
                        return (double) (i + 1) * FINE_NS / 1e3;
        }
        return max_lat / 1e3;
}

static void die(const char *what) {
        perror(what);
        exit(1);
}

/* Echo until end of file. */
static void serve(int fd) {
        static char buf[256 * 1024];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof(buf)), off = 0;
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return;
                while (off < n) {
                        ssize_t k = write(fd, buf + off, (size_t) (n - off));
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0)
                                return;
                        off += k;
                }
        }
}

static void unix_addr(struct sockaddr_un *sa, const char *path) {
        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa->sun_path)) {
                fprintf(stderr, "uds-echo: path too long\n");
                exit(2);
        }
        strcpy(sa->sun_path, path);
}

/* -l: listen on path, echo each connection in turn until SIGTERM. */
static void listen_and_serve(const char *path) {
        struct sockaddr_un sa;
        const char *notify = getenv("NOTIFY_SOCKET");
        int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        unix_addr(&sa, path);
        unlink(path);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 16) < 0)
                die("listen");
        if (notify && notify[0] == '/') {
                struct sockaddr_un na;
                int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                unix_addr(&na, notify);
                if (nfd >= 0)
                        (void) sendto(nfd, "READY=1", 7, 0, (struct sockaddr *) &na, sizeof(na));
                close(nfd);
        }
        for (;;) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0) {
                        if (errno == EINTR)
                                continue;
                        die("accept");
                }
                serve(fd);
                close(fd);
        }
}

static void on_term(int sig) {
        (void) sig;
        _exit(0);
}

int main(int argc, char **argv) {
        size_t size = 64, window = 1;
        double secs = 3;
        const char *listen_path = NULL, *connect_path = NULL;
        bool all = false;
        int sv[2], c, status;
        pid_t pid = 0;

        while ((c = getopt(argc, argv, "w:s:t:l:p:ah")) >= 0) {
                switch (c) {
                case 'w': window = (size_t) atol(optarg); break;
                case 's': size = (size_t) atol(optarg); break;
                case 't': secs = atof(optarg); break;
                case 'l': listen_path = optarg; break;
                case 'p': connect_path = optarg; break;
                case 'a': all = true; break;
                default:
                        fprintf(stderr, "usage: uds-echo [-p PATH] [-w WINDOW] [-a] [-s BYTES] [-t SECONDS]\n"
                                        "       uds-echo -l PATH\n");
                        return c == 'h' ? 0 : 2;
                }
        }
        if (window < 1 || size < 1 || secs <= 0)
                return 2;
        if (listen_path) {
                signal(SIGTERM, on_term);
                listen_and_serve(listen_path);
        }
        if (connect_path) {
                struct sockaddr_un sa;
                unix_addr(&sa, connect_path);
                sv[0] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (sv[0] < 0 || connect(sv[0], (struct sockaddr *) &sa, sizeof(sa)) < 0)
                        die("connect");
        } else {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
                        die("socketpair");
                pid = fork();
                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        close(sv[0]);
                        serve(sv[1]);
                        _exit(0);
                }
                close(sv[1]);
        }

        /* One send time per message slot; message i uses slot i % window. */
        int64_t *sent = calloc(window, sizeof(*sent));
        char *out = malloc(size * window), *in = malloc(size * window + 65536);
        uint64_t next_send = 0, next_recv = 0;
        size_t have = 0;
        int64_t start, deadline, t = 0;

        if (!sent || !out || !in)
                die("malloc");
        memset(out, 'x', size * window);
        start = now_ns();
        deadline = start + (int64_t) (secs * 1e9);
        for (;;) {
                /* Fill the window with one write. */
                size_t k = window - (size_t) (next_send - next_recv);
                if (all && next_send != next_recv)
                        k = 0;  /* -a: the next batch once the whole last one is back */
                if (k > 0) {
                        size_t len = k * size, off = 0;
                        t = now_ns();
                        for (size_t i = 0; i < k; i++)
                                sent[(next_send + i) % window] = t;
                        while (off < len) {
                                ssize_t w = write(sv[0], out + off, len - off);
                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w < 0)
                                        die("write");
                                off += (size_t) w;
                        }
                        next_send += k;
                }
                ssize_t r = read(sv[0], in + have, size * window + 65536 - have);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        die("read");
                t = now_ns();
                have += (size_t) r;
                while (have >= size) {
                        lat_add(t - sent[next_recv % window]);
                        next_recv++;
                        have -= size;
                }
                if (t >= deadline)
                        break;
        }
        close(sv[0]);
        if (pid > 0)
                waitpid(pid, &status, 0);
        double el = (double) (t - start) / 1e9;
        printf("{\"system\":\"raw\",\"scenario\":\"echo\",\"clients\":1,\"pipeline\":%zu,\"size\":%zu,"
               "\"ops\":%llu,\"seconds\":%.3f,\"ops_per_sec\":%.0f,\"latency\":\"round-trip\","
               "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f}\n",
               window, size, (unsigned long long) next_recv, el, (double) next_recv / el, lat_q(0.5),
               lat_q(0.99), lat_q(0.999));
        return 0;
}
