/* SPDX-License-Identifier: MIT */
/*
 * many-objects: a million objects in one daemon (issue 19). For mpxd and for
 * Redis as its peer, one after the other in one run, on a server it starts
 * itself in a temporary folder and stops by pid at the end:
 *
 *      declare   -n objects (1,000,000) created by one client, -P requests
 *                in flight: empty queues o.0 .. o.N-1 declared with
 *                mpx_queue_declare_async(), or SET o.i "" in hiredis's
 *                pipeline; the time per declare, the server's RSS before and
 *                after (VmRSS in /proc/PID/status), hence the bytes per
 *                empty object;
 *      list      every object, a page at a time, as `mpxctl ls` does:
 *                mpx_list_objects() with a cursor, or SCAN with COUNT; the
 *                time, the pages, and the slowest page;
 *      delete    every object again, -P in flight (mpx_delete_async(), DEL);
 *                the time per delete and the RSS after.
 *
 * Requests in flight go in batches (redis-benchmark's -P, bench/compare's
 * --refill-all): -P requests are queued and written, then all -P replies are
 * read, then the next batch.
 *
 * Why SET o.i "": Redis has no empty container (a list, hash or set is
 * deleted with its last element), so the nearest thing to mpxd's empty
 * queue is a key holding the smallest value, an empty string: the least a
 * name costs in Redis, which favours Redis.
 *
 * Meanwhile a probe, another process with a connection of its own, does
 * round trips on a small queue of its own (mpx_queue_put then
 * mpx_queue_get of 64 bytes; LPUSH then RPOP), --probe-interval apart, and
 * times each: p50, p99 and the longest per phase, the longest being the
 * longest stall another client sees. An idle phase (--idle seconds before
 * the declares) gives its baseline.
 *
 * The server's CPU time per phase (utime + stime of /proc/PID/stat) is
 * printed too. With --cpu every process (this one, the probe, the servers)
 * runs on one CPU, as `taskset -c 0 many-objects` would.
 *
 *      many-objects [-n N] [-P DEPTH] [--page N] [--only mpxd|redis] [--cpu[=CPU]]
 *                   [--mpxd PATH] [--redis-server PATH] [--probe-interval US] [--idle S]
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <sched.h>
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

#include <hiredis/hiredis.h>

#include "mpx.h"

/*
 * Probe latencies in microseconds, in buckets exact below 1024 us and of
 * 1/512 of their value above (a relative error under 0.2%), up to 2^40 us.
 */
#define HIST_SUB 512
#define HIST_BUCKETS (2 * HIST_SUB + 31 * HIST_SUB)
#define PROBE_SIZE 64
#define NAME_PREFIX "o."

enum system { SYS_MPXD, SYS_REDIS, N_SYSTEMS };
enum phase { PH_IDLE, PH_DECLARE, PH_LIST, PH_DELETE, N_PHASES };

static const char *const system_names[N_SYSTEMS] = { "mpxd", "redis" };
static const char *const phase_names[N_PHASES] = { "idle", "declare", "list", "delete" };

struct options {
        const char *mpxd;
        const char *redis;
        unsigned long n;                /* objects */
        unsigned depth;                 /* requests in flight, a batch */
        unsigned page;                  /* objects asked for per LIST page / SCAN COUNT */
        long probe_interval_us;         /* the probe's pause between two put+get pairs */
        double idle_s;
        int only;                       /* -1: both, else a system */
        int cpu;                        /* -1: the scheduler decides, else every process on this CPU */
};

static struct options opt = {
        .mpxd = "./mpxd", .redis = "redis-server", .n = 1000000, .depth = 1000, .page = 1000,
        .probe_interval_us = 1000, .idle_s = 1, .only = -1, .cpu = -1,
};

/* One phase's probe latencies. */
struct hist {
        uint64_t n;
        uint64_t max_us;
        uint64_t errors;
        uint64_t at[HIST_BUCKETS];
};

/* What the driver and the probe share (an anonymous shared mapping). */
struct probe_shared {
        int phase;                      /* the phase the driver is in; N_PHASES: stop */
        int ready;                      /* the probe is connected: 1; failed to: -1 */
        struct hist h[N_PHASES];
};

/* One phase's figures. */
struct phase_result {
        bool done;
        double secs;
        uint64_t ops;                   /* objects declared, listed, deleted */
        uint64_t pages;
        double slowest_page_ms, first_pages_ms, last_pages_ms;
        double slowest_batch_ms;        /* declares, deletes: the longest batch, queued to last reply */
        uint64_t slowest_batch_end;     /* the objects done once it was answered */
        long rss_kib;                   /* the server's VmRSS at the end of the phase */
        double cpu_s;                   /* the server's CPU time during the phase */
        uint64_t probe_n, probe_errors;
        uint64_t p50_us, p99_us, max_us;
};

struct system_result {
        bool ran, ok;
        long rss_before_kib;
        struct phase_result ph[N_PHASES];
};

/* The processes and files of the system being measured: stopped and removed at exit, even on failure. */
static char dir[64], sock_path[128], conf_path[128], notify_path[128], log_path[128];
static volatile pid_t server_pid, probe_pid;

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- the servers ---- */

/* Stop what runs (SIGKILL the probe, SIGTERM the server) and remove the folder; async-signal-safe. */
static void stop_all(void) {
        pid_t p;

        if ((p = probe_pid) > 0) {
                kill(p, SIGKILL);
                waitpid(p, NULL, 0);
                probe_pid = 0;
        }
        if ((p = server_pid) > 0) {
                kill(p, SIGTERM);
                waitpid(p, NULL, 0);
                server_pid = 0;
        }
        if (dir[0]) {
                unlink(sock_path);
                unlink(conf_path);
                unlink(notify_path);
                unlink(log_path);
                /* mpxd's lock file next to its socket. */
                {
                        char lock[sizeof(sock_path) + 8];
                        size_t k = strlen(sock_path);

                        memcpy(lock, sock_path, k);
                        memcpy(lock + k, ".lock", 6);
                        unlink(lock);
                }
                rmdir(dir);
                dir[0] = '\0';
        }
}

static void on_signal(int sig) {
        stop_all();
        signal(sig, SIG_DFL);
        raise(sig);
}

static void at_exit(void) {
        stop_all();
}

static long rss_kib(pid_t pid) {
        char path[64], line[256];
        long kib = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) pid);
        f = fopen(path, "r");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        return kib;
}

/* utime + stime of a process, in seconds. */
static double cpu_seconds(pid_t pid) {
        char path[64], buf[1024], *p;
        unsigned long long ut, st;
        ssize_t k;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -1;
        k = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (k <= 0)
                return -1;
        buf[k] = '\0';
        p = strrchr(buf, ')');
        /* After "pid (comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime. */
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -1;
        return (double) (ut + st) / (double) sysconf(_SC_CLK_TCK);
}

/* Make the temporary folder and the paths in it. */
static bool make_dir(const char *sock_name) {
        snprintf(dir, sizeof(dir), "/tmp/mpx-many-objects-XXXXXX");
        if (!mkdtemp(dir)) {
                perror("many-objects: temporary folder");
                dir[0] = '\0';
                return false;
        }
        snprintf(sock_path, sizeof(sock_path), "%s/%s", dir, sock_name);
        snprintf(conf_path, sizeof(conf_path), "%s/mpxd.conf", dir);
        snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
        snprintf(log_path, sizeof(log_path), "%s/server.log", dir);
        return true;
}

/* Print the server's log (on failure). */
static void show_log(void) {
        char line[512];
        FILE *f = fopen(log_path, "r");

        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                fprintf(stderr, "  | %s", line);
        fclose(f);
}

/*
 * Run argv as the server, its output in the log, with NOTIFY_SOCKET set, and
 * wait for its READY=1. The server gets SIGTERM should this process die.
 */
static bool start_server(char *const argv[]) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int64_t deadline = now_ns() + 30 * (int64_t) 1000000000;
        pid_t parent = getpid();
        char buf[256];
        int nfd;

        memcpy(sa.sun_path, notify_path, strlen(notify_path) + 1);
        nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (nfd < 0 || bind(nfd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                perror("many-objects: notify socket");
                if (nfd >= 0)
                        close(nfd);
                return false;
        }
        fflush(NULL);
        server_pid = fork();
        if (server_pid < 0) {
                perror("many-objects: fork");
                server_pid = 0;
                close(nfd);
                return false;
        }
        if (server_pid == 0) {
                int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

                prctl(PR_SET_PDEATHSIG, SIGTERM);
                if (getppid() != parent)
                        _exit(1);
                if (fd >= 0) {
                        dup2(fd, 1);
                        dup2(fd, 2);
                }
                setenv("NOTIFY_SOCKET", notify_path, 1);
                execvp(argv[0], argv);
                fprintf(stderr, "many-objects: cannot run %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        for (;;) {
                struct pollfd p = { .fd = nfd, .events = POLLIN };
                int left = (int) ((deadline - now_ns()) / 1000000);
                ssize_t k;

                if (left <= 0 || waitpid(server_pid, NULL, WNOHANG) == server_pid) {
                        fprintf(stderr, "many-objects: %s did not start\n", argv[0]);
                        if (left > 0)
                                server_pid = 0;
                        show_log();
                        close(nfd);
                        return false;
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
        unlink(notify_path);
        return true;
}

/* SIGTERM the server and wait for it; false if it did not exit 0 (mpxd must). */
static bool stop_server(bool must_exit_0) {
        pid_t p = server_pid;
        int status = 0;

        if (p <= 0)
                return true;
        kill(p, SIGTERM);
        if (waitpid(p, &status, 0) != p)
                status = -1;
        server_pid = 0;
        if (must_exit_0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                fprintf(stderr, "many-objects: the server ended with status 0x%x\n", (unsigned) status);
                show_log();
                return false;
        }
        return true;
}

static bool start_mpxd(void) {
        char *argv[] = { (char *) opt.mpxd, "-c", conf_path, "-s", sock_path, NULL };
        FILE *f;

        if (!make_dir("mpxd.sock"))
                return false;
        f = fopen(conf_path, "w");
        if (!f) {
                perror("many-objects: configuration");
                return false;
        }
        /* Room for every object and the probe's queue; no quota of objects per uid. */
        fprintf(f, "log = { level = \"warning\"; };\n"
                   "limits = { max_objects = %lu; per_user = { max_objects = 0; }; };\n",
                opt.n + 16);
        fclose(f);
        return start_server(argv);
}

static bool start_redis(void) {
        char *argv[] = { (char *) opt.redis, "--port", "0", "--unixsocket", sock_path, "--unixsocketperm", "700",
                         "--save", "", "--appendonly", "no", "--supervised", "systemd", "--dir", dir,
                         "--loglevel", "warning", NULL };

        if (!make_dir("redis.sock"))
                return false;
        return start_server(argv);
}

/* ---- the probe ---- */

static unsigned hist_bucket(uint64_t us) {
        unsigned e = 0;

        if (us < 2 * HIST_SUB)
                return (unsigned) us;
        while ((us >> e) >= 2 * HIST_SUB)
                e++;
        if (e > 30)
                return HIST_BUCKETS - 1;
        return 2 * HIST_SUB + (e - 1) * HIST_SUB + (unsigned) ((us >> e) - HIST_SUB);
}

/* The smallest value of a bucket. */
static uint64_t hist_value(unsigned b) {
        unsigned e;

        if (b < 2 * HIST_SUB)
                return b;
        e = (b - 2 * HIST_SUB) / HIST_SUB + 1;
        return ((uint64_t) ((b - 2 * HIST_SUB) % HIST_SUB) + HIST_SUB) << e;
}

static void record(struct hist *h, int64_t ns) {
        uint64_t us = (uint64_t) (ns / 1000);

        h->n++;
        if (us > h->max_us)
                h->max_us = us;
        h->at[hist_bucket(us)]++;
}

static void probe_pause(void) {
        struct timespec ts = { opt.probe_interval_us / 1000000, (opt.probe_interval_us % 1000000) * 1000 };

        if (opt.probe_interval_us > 0)
                nanosleep(&ts, NULL);
}

static int probe_mpxd(struct probe_shared *ps) {
        char payload[PROBE_SIZE];
        int phase;
        mpx *m;

        memset(payload, 'p', sizeof(payload));
        if (mpx_connect_named(sock_path, "many-objects probe", &m) < 0 || mpx_queue_declare(m, "probe", 0, 0) < 0) {
                __atomic_store_n(&ps->ready, -1, __ATOMIC_RELEASE);
                return 3;
        }
        __atomic_store_n(&ps->ready, 1, __ATOMIC_RELEASE);
        while ((phase = __atomic_load_n(&ps->phase, __ATOMIC_ACQUIRE)) < N_PHASES) {
                struct hist *h = &ps->h[phase];
                mpx_item item;
                int64_t t0 = now_ns(), t1;
                int r = mpx_queue_put(m, "probe", payload, sizeof(payload), 0);

                t1 = now_ns();
                record(h, t1 - t0);
                if (r < 0)
                        h->errors++;
                r = mpx_queue_get(m, "probe", 0, &item);
                record(h, now_ns() - t1);
                if (r < 0)
                        h->errors++;
                else
                        mpx_item_clear(&item);
                if (r == -ECONNRESET)
                        return 4;
                probe_pause();
        }
        mpx_disconnect(m);
        return 0;
}

static int probe_redis(struct probe_shared *ps) {
        char payload[PROBE_SIZE];
        redisContext *rc = redisConnectUnix(sock_path);
        int phase;

        memset(payload, 'p', sizeof(payload));
        if (!rc || rc->err) {
                __atomic_store_n(&ps->ready, -1, __ATOMIC_RELEASE);
                return 3;
        }
        __atomic_store_n(&ps->ready, 1, __ATOMIC_RELEASE);
        while ((phase = __atomic_load_n(&ps->phase, __ATOMIC_ACQUIRE)) < N_PHASES) {
                struct hist *h = &ps->h[phase];
                int64_t t0 = now_ns(), t1;
                redisReply *rep = redisCommand(rc, "LPUSH probe %b", payload, sizeof(payload));

                t1 = now_ns();
                record(h, t1 - t0);
                if (!rep || rep->type != REDIS_REPLY_INTEGER)
                        h->errors++;
                if (!rep)
                        return 4;
                freeReplyObject(rep);
                rep = redisCommand(rc, "RPOP probe");
                record(h, now_ns() - t1);
                if (!rep || rep->type != REDIS_REPLY_STRING || rep->len != PROBE_SIZE)
                        h->errors++;
                if (!rep)
                        return 4;
                freeReplyObject(rep);
                probe_pause();
        }
        redisFree(rc);
        return 0;
}

/* Fork the probe and wait until it is connected. */
static bool start_probe(enum system sys, struct probe_shared *ps) {
        pid_t parent = getpid();

        fflush(NULL);
        probe_pid = fork();
        if (probe_pid < 0) {
                perror("many-objects: fork");
                probe_pid = 0;
                return false;
        }
        if (probe_pid == 0) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                _exit(sys == SYS_MPXD ? probe_mpxd(ps) : probe_redis(ps));
        }
        while (__atomic_load_n(&ps->ready, __ATOMIC_ACQUIRE) == 0) {
                if (waitpid(probe_pid, NULL, WNOHANG) == probe_pid) {
                        probe_pid = 0;
                        break;
                }
                poll(NULL, 0, 5);
        }
        if (__atomic_load_n(&ps->ready, __ATOMIC_ACQUIRE) != 1) {
                fprintf(stderr, "many-objects: the probe could not connect\n");
                return false;
        }
        return true;
}

/* Stop the probe (it finishes its round trip); false if it failed. */
static bool stop_probe(struct probe_shared *ps) {
        pid_t p = probe_pid;
        int status = 0;

        __atomic_store_n(&ps->phase, N_PHASES, __ATOMIC_RELEASE);
        if (p <= 0)
                return false;
        if (waitpid(p, &status, 0) != p)
                status = -1;
        probe_pid = 0;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
                fprintf(stderr, "many-objects: the probe failed (status 0x%x)\n", (unsigned) status);
                return false;
        }
        return true;
}

/* The microseconds under which a fraction q of the samples lie. */
static uint64_t percentile(const struct hist *h, double q) {
        uint64_t want = (uint64_t) ((double) h->n * q), seen = 0;

        for (unsigned b = 0; b < HIST_BUCKETS; b++) {
                seen += h->at[b];
                if (seen > want)
                        return hist_value(b) < h->max_us ? hist_value(b) : h->max_us;
        }
        return h->max_us;
}

/* ---- the driver's work ---- */

/* The slowest page, and the mean of the first and of the last tenth of the pages (ms). */
struct page_times {
        double *ms;
        size_t n, cap;
};

static void page_add(struct page_times *pt, double ms) {
        if (pt->n == pt->cap) {
                size_t cap = pt->cap ? 2 * pt->cap : 1024;
                double *p = realloc(pt->ms, cap * sizeof(*p));

                if (!p) {
                        perror("many-objects: realloc");
                        exit(1);
                }
                pt->ms = p;
                pt->cap = cap;
        }
        pt->ms[pt->n++] = ms;
}

static void page_summary(struct page_times *pt, struct phase_result *pr) {
        size_t tenth = pt->n / 10 ? pt->n / 10 : 1;
        double first = 0, last = 0;

        pr->slowest_page_ms = 0;
        for (size_t i = 0; i < pt->n; i++)
                if (pt->ms[i] > pr->slowest_page_ms)
                        pr->slowest_page_ms = pt->ms[i];
        if (pt->n) {
                for (size_t i = 0; i < tenth && i < pt->n; i++)
                        first += pt->ms[i];
                for (size_t i = pt->n - (tenth < pt->n ? tenth : pt->n); i < pt->n; i++)
                        last += pt->ms[i];
                pr->first_pages_ms = first / (double) tenth;
                pr->last_pages_ms = last / (double) tenth;
        }
        free(pt->ms);
        pt->ms = NULL;
        pt->n = pt->cap = 0;
}

/* A batch of declares or deletes took ns and ended at object end. */
static void batch_time(struct phase_result *pr, int64_t ns, uint64_t end) {
        double ms = (double) ns / 1e6;

        if (ms > pr->slowest_batch_ms) {
                pr->slowest_batch_ms = ms;
                pr->slowest_batch_end = end;
        }
}

static void object_name(char *buf, size_t size, unsigned long i) {
        snprintf(buf, size, NAME_PREFIX "%lu", i);
}

/* The replies of a batch of mpxd requests: each declare must create, each delete succeed. */
struct batch {
        uint64_t replies, bad;
        int64_t first_bad;
        int64_t expect;
};

static void batch_done(mpx *m, int64_t result, void *userdata) {
        struct batch *b = userdata;

        (void) m;
        b->replies++;
        if (result != b->expect) {
                if (!b->bad++)
                        b->first_bad = result;
        }
}

/* Declare (or delete) every object, opt.depth in flight, a batch at a time. */
static bool mpxd_all(mpx *m, bool declare, struct phase_result *pr) {
        struct batch b = { .expect = declare ? 1 : 0 };
        char name[64];

        for (unsigned long i = 0; i < opt.n;) {
                unsigned long end = i + opt.depth < opt.n ? i + opt.depth : opt.n;
                int64_t t0 = now_ns();

                for (; i < end; i++) {
                        int64_t id;

                        object_name(name, sizeof(name), i);
                        id = declare ? mpx_queue_declare_async(m, name, 0, 0, batch_done, &b)
                                     : mpx_delete_async(m, name, batch_done, &b);
                        if (id < 0) {
                                fprintf(stderr, "many-objects: mpxd: queue a request: %s\n", mpx_strerror((int) id));
                                return false;
                        }
                }
                while (mpx_pending(m) > 0) {
                        struct pollfd p = { .fd = mpx_fd(m), .events = mpx_events(m) };
                        int r;

                        if (poll(&p, 1, -1) < 0 && errno != EINTR) {
                                perror("many-objects: poll");
                                return false;
                        }
                        r = mpx_process(m);
                        if (r < 0) {
                                fprintf(stderr, "many-objects: mpxd: %s\n", mpx_strerror(r));
                                return false;
                        }
                }
                batch_time(pr, now_ns() - t0, end);
        }
        if (b.bad || b.replies != opt.n) {
                fprintf(stderr, "many-objects: mpxd: %" PRIu64 " of %" PRIu64 " %s failed, the first with %s\n",
                        b.bad, b.replies, declare ? "declares" : "deletes", mpx_strerror((int) b.first_bad));
                return false;
        }
        return true;
}

/* List every object a page at a time; count ours. */
static bool mpxd_list(mpx *m, struct phase_result *pr) {
        struct page_times pt = { 0 };
        uint64_t cursor = 0, ours = 0;

        do {
                mpx_info *items = NULL;
                size_t n = 0;
                uint64_t next = 0;
                int64_t t0 = now_ns();
                int r = mpx_list_objects(m, cursor, opt.page, NULL, &items, &n, &next);

                page_add(&pt, (double) (now_ns() - t0) / 1e6);
                if (r < 0) {
                        fprintf(stderr, "many-objects: mpxd: list: %s\n", mpx_strerror(r));
                        page_summary(&pt, pr);
                        return false;
                }
                for (size_t i = 0; i < n; i++)
                        if (items[i].name && strncmp(items[i].name, NAME_PREFIX, strlen(NAME_PREFIX)) == 0)
                                ours++;
                mpx_objects_free(items, n);
                pr->pages++;
                cursor = next;
        } while (cursor);
        pr->ops = ours;
        page_summary(&pt, pr);
        if (ours != opt.n) {
                fprintf(stderr, "many-objects: mpxd: listed %" PRIu64 " objects of %lu\n", ours, opt.n);
                return false;
        }
        return true;
}

/* The objects the daemon holds, from its statistics. */
static int64_t mpxd_objects(mpx *m) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int64_t n = -1;

        if (mpx_stats(m, &info) == 0 && (f = mpx_info_get(&info, "objects")) && !f->is_str)
                n = f->num;
        mpx_info_clear(&info);
        return n;
}

/* Redis: SET o.i "" (declare) or DEL o.i (delete) for every object, opt.depth in a pipeline batch. */
static bool redis_all(redisContext *rc, bool declare, struct phase_result *pr) {
        char name[64];

        for (unsigned long i = 0; i < opt.n;) {
                unsigned long start = i, end = i + opt.depth < opt.n ? i + opt.depth : opt.n;
                int64_t t0 = now_ns();

                for (; i < end; i++) {
                        object_name(name, sizeof(name), i);
                        if ((declare ? redisAppendCommand(rc, "SET %s %b", name, "", (size_t) 0)
                                     : redisAppendCommand(rc, "DEL %s", name)) != REDIS_OK) {
                                fprintf(stderr, "many-objects: redis: %s\n", rc->errstr);
                                return false;
                        }
                }
                for (unsigned long k = start; k < end; k++) {
                        redisReply *rep;
                        bool good;

                        if (redisGetReply(rc, (void **) &rep) != REDIS_OK || !rep) {
                                fprintf(stderr, "many-objects: redis: %s\n", rc->errstr);
                                return false;
                        }
                        good = declare ? rep->type == REDIS_REPLY_STATUS && strcmp(rep->str, "OK") == 0
                                       : rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
                        if (!good) {
                                fprintf(stderr, "many-objects: redis: unexpected reply to the %s of %s%lu\n",
                                        declare ? "SET" : "DEL", NAME_PREFIX, k);
                                freeReplyObject(rep);
                                return false;
                        }
                        freeReplyObject(rep);
                }
                batch_time(pr, now_ns() - t0, end);
        }
        return true;
}

/*
 * SCAN with COUNT until the cursor comes back to 0; count our keys (SCAN may
 * return a key twice when the table is resized meanwhile; nothing changes it
 * here but the probe's own key).
 */
static bool redis_list(redisContext *rc, struct phase_result *pr) {
        struct page_times pt = { 0 };
        char cursor[32] = "0";
        uint64_t ours = 0;

        do {
                int64_t t0 = now_ns();
                redisReply *rep = redisCommand(rc, "SCAN %s COUNT %u", cursor, opt.page);

                page_add(&pt, (double) (now_ns() - t0) / 1e6);
                if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
                    rep->element[0]->type != REDIS_REPLY_STRING || rep->element[1]->type != REDIS_REPLY_ARRAY) {
                        fprintf(stderr, "many-objects: redis: SCAN: %s\n", rep ? "unexpected reply" : rc->errstr);
                        if (rep)
                                freeReplyObject(rep);
                        page_summary(&pt, pr);
                        return false;
                }
                snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
                for (size_t i = 0; i < rep->element[1]->elements; i++) {
                        const redisReply *k = rep->element[1]->element[i];

                        if (k->type == REDIS_REPLY_STRING && strncmp(k->str, NAME_PREFIX, strlen(NAME_PREFIX)) == 0)
                                ours++;
                }
                freeReplyObject(rep);
                pr->pages++;
        } while (strcmp(cursor, "0") != 0);
        pr->ops = ours;
        page_summary(&pt, pr);
        if (ours < opt.n) {
                fprintf(stderr, "many-objects: redis: SCAN returned %" PRIu64 " keys of %lu\n", ours, opt.n);
                return false;
        }
        return true;
}

static int64_t redis_dbsize(redisContext *rc) {
        redisReply *rep = redisCommand(rc, "DBSIZE");
        int64_t n = -1;

        if (rep && rep->type == REDIS_REPLY_INTEGER)
                n = rep->integer;
        if (rep)
                freeReplyObject(rep);
        return n;
}

/* ---- one system ---- */

/* Begin a phase: tell the probe, note the server's CPU time. */
static void phase_begin(struct probe_shared *ps, enum phase ph, double *cpu0, int64_t *t0) {
        __atomic_store_n(&ps->phase, ph, __ATOMIC_RELEASE);
        *cpu0 = cpu_seconds(server_pid);
        *t0 = now_ns();
}

static void phase_end(enum system sys, enum phase ph, struct phase_result *pr, double cpu0, int64_t t0) {
        pr->secs = (double) (now_ns() - t0) / 1e9;
        pr->cpu_s = cpu_seconds(server_pid) - cpu0;
        pr->rss_kib = rss_kib(server_pid);
        pr->done = true;
        fprintf(stderr, "many-objects: %s: %s: %" PRIu64 " objects in %.2f s, RSS %ld KiB\n", system_names[sys],
                phase_names[ph], pr->ops, pr->secs, pr->rss_kib);
}

static bool run_system(enum system sys, struct system_result *res) {
        struct probe_shared *ps;
        mpx *m = NULL;
        redisContext *rc = NULL;
        bool ok = false;
        double cpu0;
        int64_t t0;

        res->ran = true;
        ps = mmap(NULL, sizeof(*ps), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (ps == MAP_FAILED) {
                perror("many-objects: mmap");
                return false;
        }
        if (!(sys == SYS_MPXD ? start_mpxd() : start_redis()))
                goto out;
        if (sys == SYS_MPXD) {
                int r = mpx_connect_named(sock_path, "many-objects", &m);

                if (r < 0) {
                        fprintf(stderr, "many-objects: mpxd: connect: %s\n", mpx_strerror(r));
                        goto out;
                }
        } else {
                rc = redisConnectUnix(sock_path);
                if (!rc || rc->err) {
                        fprintf(stderr, "many-objects: redis: connect: %s\n", rc ? rc->errstr : "out of memory");
                        goto out;
                }
        }
        if (!start_probe(sys, ps))
                goto out;

        /* idle: the probe alone. */
        phase_begin(ps, PH_IDLE, &cpu0, &t0);
        poll(NULL, 0, (int) (opt.idle_s * 1000));
        phase_end(sys, PH_IDLE, &res->ph[PH_IDLE], cpu0, t0);
        res->rss_before_kib = res->ph[PH_IDLE].rss_kib;

        phase_begin(ps, PH_DECLARE, &cpu0, &t0);
        if (!(sys == SYS_MPXD ? mpxd_all(m, true, &res->ph[PH_DECLARE]) : redis_all(rc, true, &res->ph[PH_DECLARE])))
                goto out;
        res->ph[PH_DECLARE].ops = opt.n;
        phase_end(sys, PH_DECLARE, &res->ph[PH_DECLARE], cpu0, t0);

        phase_begin(ps, PH_LIST, &cpu0, &t0);
        if (!(sys == SYS_MPXD ? mpxd_list(m, &res->ph[PH_LIST]) : redis_list(rc, &res->ph[PH_LIST])))
                goto out;
        phase_end(sys, PH_LIST, &res->ph[PH_LIST], cpu0, t0);

        phase_begin(ps, PH_DELETE, &cpu0, &t0);
        if (!(sys == SYS_MPXD ? mpxd_all(m, false, &res->ph[PH_DELETE]) : redis_all(rc, false, &res->ph[PH_DELETE])))
                goto out;
        res->ph[PH_DELETE].ops = opt.n;
        phase_end(sys, PH_DELETE, &res->ph[PH_DELETE], cpu0, t0);

        if (!stop_probe(ps))
                goto out;
        /* Only the probe's queue is left (Redis: its list, when it holds an item). */
        {
                int64_t left = sys == SYS_MPXD ? mpxd_objects(m) : redis_dbsize(rc);

                if (left < 0 || left > 1) {
                        fprintf(stderr, "many-objects: %s: %" PRId64 " objects left after the deletes\n",
                                system_names[sys], left);
                        goto out;
                }
        }
        ok = true;
out:
        if (probe_pid > 0 && !stop_probe(ps))
                ok = false;
        for (int ph = 0; ph < N_PHASES; ph++) {
                const struct hist *h = &ps->h[ph];
                struct phase_result *pr = &res->ph[ph];

                pr->probe_n = h->n;
                pr->probe_errors = h->errors;
                pr->p50_us = percentile(h, 0.50);
                pr->p99_us = percentile(h, 0.99);
                pr->max_us = h->max_us;
                if (h->errors) {
                        fprintf(stderr, "many-objects: %s: %" PRIu64 " of the probe's requests failed during %s\n",
                                system_names[sys], h->errors, phase_names[ph]);
                        ok = false;
                }
        }
        if (m)
                mpx_disconnect(m);
        if (rc)
                redisFree(rc);
        if (!stop_server(sys == SYS_MPXD))
                ok = false;
        stop_all();
        munmap(ps, sizeof(*ps));
        res->ok = ok;
        return ok;
}

/* ---- the report ---- */

static double us_per_op(const struct phase_result *pr) {
        return pr->ops ? pr->secs * 1e6 / (double) pr->ops : 0;
}

static void print_ratio(const char *what, double mpxd, double redis, const char *unit) {
        printf("  %-44s %12.2f %12.2f %-3s %8.2fx\n", what, mpxd, redis, unit, redis > 0 ? mpxd / redis : 0);
}

static void report(const struct system_result *res) {
        printf("\n%-6s %-8s %9s %8s %8s %7s %9s %10s %8s %8s %8s %8s %9s\n", "system", "phase", "objects", "time_s",
               "us/op", "pages", "rss_kib", "srv_cpu_s", "probe_n", "p50_us", "p99_us", "max_us", "B/object");
        for (int s = 0; s < N_SYSTEMS; s++) {
                if (!res[s].ran)
                        continue;
                for (int ph = 0; ph < N_PHASES; ph++) {
                        const struct phase_result *pr = &res[s].ph[ph];
                        char pages[16] = "-", bpo[16] = "-", usop[16] = "-";

                        if (!pr->done)
                                continue;
                        if (ph == PH_LIST)
                                snprintf(pages, sizeof(pages), "%" PRIu64, pr->pages);
                        if (ph == PH_DECLARE)
                                snprintf(bpo, sizeof(bpo), "%.0f",
                                         (double) (pr->rss_kib - res[s].rss_before_kib) * 1024 / (double) opt.n);
                        if (ph == PH_DECLARE || ph == PH_DELETE)
                                snprintf(usop, sizeof(usop), "%.2f", us_per_op(pr));
                        printf("%-6s %-8s %9" PRIu64 " %8.2f %8s %7s %9ld %10.2f %8" PRIu64 " %8" PRIu64 " %8" PRIu64
                               " %8" PRIu64 " %9s\n",
                               system_names[s], phase_names[ph], pr->ops, pr->secs, usop, pages, pr->rss_kib,
                               pr->cpu_s, pr->probe_n, pr->p50_us, pr->p99_us, pr->max_us, bpo);
                }
                for (int ph = PH_DECLARE; ph <= PH_DELETE; ph += PH_DELETE - PH_DECLARE)
                        if (res[s].ph[ph].done)
                                printf("%-6s %s batches of %u: slowest %.2f ms, the one that ended at object %" PRIu64
                                       "\n",
                                       system_names[s], phase_names[ph], opt.depth, res[s].ph[ph].slowest_batch_ms,
                                       res[s].ph[ph].slowest_batch_end);
                if (res[s].ph[PH_LIST].done)
                        printf("%-6s list pages: slowest %.2f ms; mean of the first tenth %.3f ms, of the last "
                               "tenth %.3f ms\n",
                               system_names[s], res[s].ph[PH_LIST].slowest_page_ms, res[s].ph[PH_LIST].first_pages_ms,
                               res[s].ph[PH_LIST].last_pages_ms);
        }
        if (res[SYS_MPXD].ok && res[SYS_REDIS].ok) {
                const struct phase_result *m = res[SYS_MPXD].ph, *r = res[SYS_REDIS].ph;

                printf("\n  %-44s %12s %12s %-3s %9s\n", "mpxd / Redis", "mpxd", "redis", "", "ratio");
                print_ratio("time per declare", us_per_op(&m[PH_DECLARE]), us_per_op(&r[PH_DECLARE]), "us");
                print_ratio("memory per empty object (RSS)",
                            (double) (m[PH_DECLARE].rss_kib - res[SYS_MPXD].rss_before_kib) * 1024 / (double) opt.n,
                            (double) (r[PH_DECLARE].rss_kib - res[SYS_REDIS].rss_before_kib) * 1024 / (double) opt.n,
                            "B");
                print_ratio("time to list everything", m[PH_LIST].secs, r[PH_LIST].secs, "s");
                print_ratio("time per delete", us_per_op(&m[PH_DELETE]), us_per_op(&r[PH_DELETE]), "us");
                for (int ph = 0; ph < N_PHASES; ph++) {
                        char what[64];

                        snprintf(what, sizeof(what), "probe p99, %s", phase_names[ph]);
                        print_ratio(what, (double) m[ph].p99_us / 1000, (double) r[ph].p99_us / 1000, "ms");
                        snprintf(what, sizeof(what), "longest stall seen by the probe, %s", phase_names[ph]);
                        print_ratio(what, (double) m[ph].max_us / 1000, (double) r[ph].max_us / 1000, "ms");
                }
        }
}

static void usage(FILE *f) {
        fprintf(f, "Usage: many-objects [OPTION]...\n"
                   "Declare, list and delete many objects in mpxd and as many keys in Redis, each on a server\n"
                   "of its own, while a probe client times its round trips.\n\n"
                   "  -n, --objects N          objects to declare (default 1000000)\n"
                   "  -P, --depth N            requests in flight, a batch at a time (default 1000)\n"
                   "      --page N             objects per LIST page / SCAN COUNT (default 1000)\n"
                   "      --only mpxd|redis    measure one system only\n"
                   "      --cpu[=CPU]          run every process (servers, probe, this) on CPU (default 0),\n"
                   "                           as taskset -c CPU many-objects does\n"
                   "      --mpxd PATH          the mpxd to start (default ./mpxd)\n"
                   "      --redis-server PATH  the redis-server to start (default redis-server)\n"
                   "      --probe-interval US  the probe's pause between two put+get pairs (default 1000)\n"
                   "      --idle SECONDS       the probe alone before the declares (default 1)\n"
                   "  -h, --help               show this help\n");
}

int main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "objects", required_argument, NULL, 'n' },  { "depth", required_argument, NULL, 'P' },
                { "page", required_argument, NULL, 'g' },     { "only", required_argument, NULL, 'o' },
                { "cpu", optional_argument, NULL, 'C' },      { "mpxd", required_argument, NULL, 'm' },
                { "redis-server", required_argument, NULL, 'r' },
                { "probe-interval", required_argument, NULL, 'i' },
                { "idle", required_argument, NULL, 'I' },     { "help", no_argument, NULL, 'h' },
                { NULL, 0, NULL, 0 },
        };
        struct system_result res[N_SYSTEMS] = { 0 };
        bool ok = true;
        int c;

        while ((c = getopt_long(argc, argv, "n:P:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'n': opt.n = strtoul(optarg, NULL, 10); break;
                case 'P': opt.depth = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'g': opt.page = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'o':
                        if (strcmp(optarg, "mpxd") == 0)
                                opt.only = SYS_MPXD;
                        else if (strcmp(optarg, "redis") == 0)
                                opt.only = SYS_REDIS;
                        else {
                                usage(stderr);
                                return 2;
                        }
                        break;
                case 'C': opt.cpu = optarg ? atoi(optarg) : 0; break;
                case 'm': opt.mpxd = optarg; break;
                case 'r': opt.redis = optarg; break;
                case 'i': opt.probe_interval_us = atol(optarg); break;
                case 'I': opt.idle_s = atof(optarg); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind != argc || opt.n == 0 || opt.n > 100000000 - 16 || opt.depth == 0 || opt.page == 0 ||
            opt.page > 1000 || opt.probe_interval_us < 0 || opt.idle_s < 0 || opt.cpu < -1) {
                usage(stderr);
                return 2;
        }
        if (opt.cpu >= 0) {
                cpu_set_t set;

                CPU_ZERO(&set);
                CPU_SET(opt.cpu, &set);
                if (sched_setaffinity(0, sizeof(set), &set) < 0) {
                        perror("many-objects: sched_setaffinity");
                        return 1;
                }
        }
        atexit(at_exit);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGHUP, on_signal);
        signal(SIGPIPE, SIG_IGN);

        printf("many-objects: %lu objects, %u requests in flight (batches), pages of %u, probe every %ld us; "
               "placement: %s",
               opt.n, opt.depth, opt.page, opt.probe_interval_us, opt.cpu >= 0 ? "every process on CPU " : "default");
        if (opt.cpu >= 0)
                printf("%d", opt.cpu);
        printf("\n");
        fflush(stdout);
        for (int s = 0; s < N_SYSTEMS; s++)
                if (opt.only < 0 || opt.only == s)
                        ok &= run_system((enum system) s, &res[s]);
        report(res);
        return ok ? 0 : 1;
}
