/* SPDX-License-Identifier: MIT */
/*
 * pipe-bench: the throughput of a pipe made by mpxd's rendezvous against a
 * kernel pipe made in one process's family, the way Python's Pipe() is.
 *
 *      pipe-bench [-s SOCKET | --spawn MPXD] [--sizes 64,4096,65536] [--bytes N]
 *                 [--max-messages N] [--repeat R] [--mode simplex|duplex|both]
 *
 * For each mode and message size, two runs are made each round:
 *      kernel  the parent makes the channel (pipe2() for simplex, socketpair()
 *              for duplex) and forks a writer and a reader that inherit it;
 *      mpx     the parent forks a writer and a reader that each connect to
 *              mpxd on their own and meet at a pipe name (mpx_pipe_open()),
 *              then close their connections.
 * Everything else is the same code: once both children hold their ends they
 * say so and wait for the parent's "go"; the writer sends N messages with
 * mpx_pipe_send() (one direction, also on a duplex socket), and the reader
 * receives them with mpx_pipe_recv() and times the whole stream from the
 * "go" to the last byte. The daemon is not in the data path, so the two
 * should be the same, within the noise of the host.
 *
 * Output: one JSON line per (channel, mode, size) with the median of the
 * rounds, then one line per (mode, size) with the ratio mpx / kernel of the
 * throughputs, then one line with the cost of a rendezvous itself (two
 * parties meeting at a name, median microseconds over many pairings).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
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
#include <fcntl.h>

#include "mpx.h"

#define MAX_SIZES       16
#define MAX_REPEAT      31
#define PAIRINGS        2000

enum channel { CHANNEL_KERNEL, CHANNEL_MPX };
enum mode { MODE_SIMPLEX, MODE_DUPLEX };

static const char *const channel_names[] = { "kernel", "mpx" };
static const char *const mode_names[] = { "simplex", "duplex" };

static struct {
        const char *socket;
        const char *spawn;
        size_t sizes[MAX_SIZES];
        size_t n_sizes;
        uint64_t bytes;                 /* per run, before the message limits */
        uint64_t min_messages;
        uint64_t max_messages;
        int repeat;
        bool modes[2];
} opt = {
        .sizes = { 64, 4096, 65536 },
        .n_sizes = 3,
        .bytes = 256u << 20,
        .min_messages = 20000,
        .max_messages = 500000,
        .repeat = 5,
        .modes = { true, true },
};

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what) {
        fprintf(stderr, "pipe-bench: %s: %s\n", what, strerror(errno));
        exit(1);
}

static void die_mpx(const char *what, int r) {
        fprintf(stderr, "pipe-bench: %s: %s\n", what, mpx_strerror(r));
        exit(1);
}

/* Read exactly size bytes; false at end of file or on error. */
static bool read_full(int fd, void *dst, size_t size) {
        char *p = dst;

        while (size > 0) {
                ssize_t n = read(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                size -= (size_t) n;
        }
        return true;
}

static bool write_full(int fd, const void *src, size_t size) {
        const char *p = src;

        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return false;
                p += n;
                size -= (size_t) n;
        }
        return true;
}

/* ---- one run ---- */

/* What a child of a run is given. */
struct role {
        enum channel channel;
        enum mode mode;
        bool writer;
        int fd;                         /* kernel: the inherited end; mpx: -1 */
        const char *name;               /* mpx: the pipe name */
        size_t size;
        uint64_t messages;
        int ready_fd;                   /* write one byte once the end is in hand */
        int go_fd;                      /* end of file: start */
        int result_fd;                  /* reader: the elapsed nanoseconds */
};

/* Get this child's end: the inherited one, or one from mpxd. */
static int role_end(const struct role *r) {
        mpx *m = NULL;
        int fd = -1, mode, err;

        if (r->channel == CHANNEL_KERNEL)
                return r->fd;
        err = mpx_connect(opt.socket, &m);
        if (err < 0)
                die_mpx("connect", err);
        mode = r->mode == MODE_DUPLEX ? MPX_PIPE_DUPLEX : r->writer ? MPX_PIPE_WRITE : MPX_PIPE_READ;
        err = mpx_pipe_open(m, r->name, mode, 30000, &fd);
        if (err < 0)
                die_mpx("mpx_pipe_open", err);
        /* The daemon is out of the way from here on. */
        mpx_disconnect(m);
        return fd;
}

static int role_run(const struct role *r) {
        int fd = role_end(r);
        mpx_buf got = { 0 };
        char b;
        int64_t t0;

        if (!write_full(r->ready_fd, "r", 1))
                die("ready");
        while (read(r->go_fd, &b, 1) < 0 && errno == EINTR)
                ;
        t0 = now_ns();
        if (r->writer) {
                char *msg = malloc(r->size ? r->size : 1);

                if (!msg)
                        die("malloc");
                memset(msg, 'x', r->size);
                for (uint64_t i = 0; i < r->messages; i++) {
                        int err = mpx_pipe_send(fd, msg, r->size);
                        if (err < 0)
                                die_mpx("mpx_pipe_send", err);
                }
                free(msg);
                return 0;
        }
        for (uint64_t i = 0; i < r->messages; i++) {
                int err = mpx_pipe_recv(fd, &got);
                if (err < 0)
                        die_mpx("mpx_pipe_recv", err);
                if (got.size != r->size) {
                        fprintf(stderr, "pipe-bench: message of %zu bytes, expected %zu\n", got.size, r->size);
                        exit(1);
                }
                mpx_buf_clear(&got);
        }
        {
                int64_t elapsed = now_ns() - t0;

                if (!write_full(r->result_fd, &elapsed, sizeof(elapsed)))
                        die("result");
        }
        return 0;
}

static pid_t spawn_role(const struct role *r, const int *close_fds, int n_close) {
        pid_t pid;

        fflush(NULL);
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                for (int i = 0; i < n_close; i++)
                        if (close_fds[i] >= 0)
                                close(close_fds[i]);
                _exit(role_run(r));
        }
        return pid;
}

static void reap(pid_t pid) {
        int status;

        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        die("waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "pipe-bench: a child failed (status %d)\n", status);
                exit(1);
        }
}

/* One run: the seconds the reader took for messages messages of size bytes. */
static double run_once(enum channel channel, enum mode mode, size_t size, uint64_t messages, unsigned serial) {
        int ready[2], go[2], result[2], chan[2] = { -1, -1 };
        struct role w, r;
        char name[64], b;
        int64_t elapsed;
        pid_t pw, pr;

        if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
                die("pipe2");
        if (channel == CHANNEL_KERNEL) {
                if (mode == MODE_SIMPLEX ? pipe2(chan, O_CLOEXEC) < 0 :
                    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan) < 0)
                        die("channel");
        }
        /* A fresh name per run: no pairing of one run can meet a party of another. */
        snprintf(name, sizeof(name), "bench.pipe.%ld.%u", (long) getpid(), serial);
        r = (struct role) {
                .channel = channel, .mode = mode, .writer = false, .fd = chan[0], .name = name,
                .size = size, .messages = messages, .ready_fd = ready[1], .go_fd = go[0],
                .result_fd = result[1],
        };
        w = r;
        w.writer = true;
        w.fd = chan[1];
        {
                int reader_closes[] = { ready[0], go[1], result[0], chan[1] };
                int writer_closes[] = { ready[0], go[1], result[0], chan[0] };

                pr = spawn_role(&r, reader_closes, 4);
                pw = spawn_role(&w, writer_closes, 4);
        }
        close(ready[1]);
        close(go[0]);
        close(result[1]);
        if (chan[0] >= 0) {
                close(chan[0]);
                close(chan[1]);
        }
        /* Both ends are in hand (for mpx: both parties met): start them together. */
        if (!read_full(ready[0], &b, 1) || !read_full(ready[0], &b, 1))
                die("a child did not get ready");
        close(go[1]);
        if (!read_full(result[0], &elapsed, sizeof(elapsed)))
                die("the reader did not report");
        reap(pw);
        reap(pr);
        close(ready[0]);
        close(result[0]);
        return (double) elapsed / 1e9;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
        qsort(v, (size_t) n, sizeof(*v), cmp_double);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- the rendezvous itself ---- */

/* A partner for the pairing measurement: opens and closes duplex ends n times. */
static int pairing_partner(const char *name, int n) {
        mpx *m = NULL;
        int err = mpx_connect(opt.socket, &m);

        if (err < 0)
                die_mpx("connect", err);
        for (int i = 0; i < n; i++) {
                int fd = -1;

                err = mpx_pipe_open(m, name, MPX_PIPE_DUPLEX, 30000, &fd);
                if (err < 0)
                        die_mpx("mpx_pipe_open", err);
                close(fd);
        }
        mpx_disconnect(m);
        return 0;
}

/* Median microseconds of one mpx_pipe_open() pairing, as the second party to arrive sees it. */
static void bench_pairing(void) {
        char name[64];
        double *us = malloc(sizeof(double) * PAIRINGS);
        mpx *m = NULL;
        pid_t pid;
        int err;

        if (!us)
                die("malloc");
        snprintf(name, sizeof(name), "bench.pairing.%ld", (long) getpid());
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0)
                _exit(pairing_partner(name, PAIRINGS));
        err = mpx_connect(opt.socket, &m);
        if (err < 0)
                die_mpx("connect", err);
        for (int i = 0; i < PAIRINGS; i++) {
                int64_t t0 = now_ns();
                int fd = -1;

                err = mpx_pipe_open(m, name, MPX_PIPE_DUPLEX, 30000, &fd);
                if (err < 0)
                        die_mpx("mpx_pipe_open", err);
                us[i] = (double) (now_ns() - t0) / 1e3;
                close(fd);
        }
        mpx_disconnect(m);
        reap(pid);
        printf("{\"bench\":\"pipe\",\"test\":\"rendezvous\",\"pairings\":%d,\"median_us\":%.1f}\n", PAIRINGS,
               median(us, PAIRINGS));
        free(us);
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

        snprintf(tmpdir, sizeof(tmpdir), "/tmp/pipe-bench-XXXXXX");
        if (!mkdtemp(tmpdir))
                die("mkdtemp");
        snprintf(sock_path, sizeof(sock_path), "%s/mpxd.sock", tmpdir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", tmpdir);
        strcpy(sa.sun_path, notify_path);
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                die("notify socket");
        fflush(NULL);
        daemon_pid = fork();
        if (daemon_pid < 0)
                die("fork");
        if (daemon_pid == 0) {
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execl(path, path, "-q", "-s", sock_path, (char *) NULL);
                fprintf(stderr, "pipe-bench: cannot run %s: %s\n", path, strerror(errno));
                _exit(127);
        }
        for (;;) {
                struct pollfd pfd = { .fd = nfd, .events = POLLIN };
                int64_t left = (deadline - now_ns()) / 1000000;
                char msg[256];
                ssize_t k;
                int status;

                if (left <= 0) {
                        fprintf(stderr, "pipe-bench: %s did not say READY=1 within 10 s\n", path);
                        exit(1);
                }
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
                        fprintf(stderr, "pipe-bench: %s exited before it was ready\n", path);
                        exit(1);
                }
        }
        close(nfd);
        opt.socket = sock_path;
}

/* ---- main ---- */

static void usage(FILE *f) {
        fputs("usage: pipe-bench [-s SOCKET | --spawn MPXD] [--sizes N,N,...] [--bytes N]\n"
              "                  [--max-messages N] [--repeat R] [--mode simplex|duplex|both]\n"
              "  -s, --socket SOCKET   the daemon's socket (default: $MPX_SOCKET, else the system's)\n"
              "      --spawn MPXD      start this mpxd on a socket in a temporary folder, stop it at the end\n"
              "      --sizes LIST      message sizes in bytes (default 64,4096,65536)\n"
              "      --bytes N         bytes per run (default 268435456), within the message limits\n"
              "      --max-messages N  at most N messages per run (default 500000; at least 20000)\n"
              "      --repeat R        rounds; the median is reported (default 5)\n"
              "      --mode MODE       simplex (a pipe), duplex (a socketpair) or both (default)\n", f);
}

static uint64_t parse_u64(const char *s, const char *what) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || *end || s[0] == '-') {
                fprintf(stderr, "pipe-bench: bad %s '%s'\n", what, s);
                exit(2);
        }
        return v;
}

static void parse_sizes(char *s) {
        opt.n_sizes = 0;
        for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
                if (opt.n_sizes == MAX_SIZES) {
                        fprintf(stderr, "pipe-bench: at most %d sizes\n", MAX_SIZES);
                        exit(2);
                }
                opt.sizes[opt.n_sizes++] = (size_t) parse_u64(tok, "size");
        }
        if (opt.n_sizes == 0) {
                fprintf(stderr, "pipe-bench: no sizes\n");
                exit(2);
        }
}

int main(int argc, char **argv) {
        enum { O_SPAWN = 0x100, O_SIZES, O_BYTES, O_MAX, O_REPEAT, O_MODE };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "spawn", required_argument, NULL, O_SPAWN },
                { "sizes", required_argument, NULL, O_SIZES },
                { "bytes", required_argument, NULL, O_BYTES },
                { "max-messages", required_argument, NULL, O_MAX },
                { "repeat", required_argument, NULL, O_REPEAT },
                { "mode", required_argument, NULL, O_MODE },
                { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        double secs[2][MAX_REPEAT], med[2];
        unsigned serial = 0;
        int c;

        while ((c = getopt_long(argc, argv, "s:h", options, NULL)) != -1) {
                switch (c) {
                case 's': opt.socket = optarg; break;
                case O_SPAWN: opt.spawn = optarg; break;
                case O_SIZES: parse_sizes(optarg); break;
                case O_BYTES: opt.bytes = parse_u64(optarg, "byte count"); break;
                case O_MAX: opt.max_messages = parse_u64(optarg, "message count"); break;
                case O_REPEAT:
                        opt.repeat = (int) parse_u64(optarg, "repeat count");
                        if (opt.repeat < 1 || opt.repeat > MAX_REPEAT) {
                                fprintf(stderr, "pipe-bench: --repeat is 1 to %d\n", MAX_REPEAT);
                                return 2;
                        }
                        break;
                case O_MODE:
                        opt.modes[MODE_SIMPLEX] = strcmp(optarg, "simplex") == 0 || strcmp(optarg, "both") == 0;
                        opt.modes[MODE_DUPLEX] = strcmp(optarg, "duplex") == 0 || strcmp(optarg, "both") == 0;
                        if (!opt.modes[MODE_SIMPLEX] && !opt.modes[MODE_DUPLEX]) {
                                fprintf(stderr, "pipe-bench: --mode is simplex, duplex or both\n");
                                return 2;
                        }
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc || opt.min_messages > opt.max_messages) {
                usage(stderr);
                return 2;
        }
        if (opt.max_messages < opt.min_messages)
                opt.min_messages = opt.max_messages;
        main_pid = getpid();
        atexit(cleanup);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        if (opt.spawn)
                spawn_daemon(opt.spawn);

        for (int mode = MODE_SIMPLEX; mode <= MODE_DUPLEX; mode++) {
                if (!opt.modes[mode])
                        continue;
                for (size_t s = 0; s < opt.n_sizes; s++) {
                        size_t size = opt.sizes[s];
                        uint64_t n = opt.bytes / (size ? size : 1);

                        if (n < opt.min_messages)
                                n = opt.min_messages;
                        if (n > opt.max_messages)
                                n = opt.max_messages;
                        /* Alternate the two channels in every round, so that drift hits both alike. */
                        for (int i = 0; i < opt.repeat; i++)
                                for (int ch = CHANNEL_KERNEL; ch <= CHANNEL_MPX; ch++)
                                        secs[ch][i] = run_once((enum channel) ch, (enum mode) mode, size, n,
                                                               serial++);
                        for (int ch = CHANNEL_KERNEL; ch <= CHANNEL_MPX; ch++) {
                                med[ch] = median(secs[ch], opt.repeat);
                                printf("{\"bench\":\"pipe\",\"channel\":\"%s\",\"mode\":\"%s\",\"size\":%zu,"
                                       "\"messages\":%llu,\"rounds\":%d,\"seconds\":%.4f,\"msgs_per_sec\":%.0f,"
                                       "\"mib_per_sec\":%.1f}\n",
                                       channel_names[ch], mode_names[mode], size, (unsigned long long) n,
                                       opt.repeat, med[ch], (double) n / med[ch],
                                       (double) n * (double) size / med[ch] / (1024.0 * 1024.0));
                        }
                        /* Throughput is messages over time: the ratio is the inverse ratio of the times. */
                        printf("{\"bench\":\"pipe\",\"ratio\":\"mpx/kernel\",\"mode\":\"%s\",\"size\":%zu,"
                               "\"throughput_ratio\":%.3f}\n",
                               mode_names[mode], size, med[CHANNEL_KERNEL] / med[CHANNEL_MPX]);
                        fflush(stdout);
                }
        }
        bench_pairing();
        return 0;
}
