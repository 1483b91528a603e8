/* SPDX-License-Identifier: MIT */
/*
 * mpx-bench: measure mpxd through libmpx. Each scenario runs its processes
 * (one connection each) against a daemon given by -s or $MPX_SOCKET and prints
 * one JSON line: operations per second and, where one operation is one round
 * trip, latency percentiles in microseconds.
 *
 *      mpx-bench [-s SOCKET] [-t SCENARIO] [-n COUNT] [-d BYTES] [-c CLIENTS]
 *
 * Scenarios:
 *      put        COUNT puts into an unbounded queue, per client
 *      get        COUNT gets from a queue filled beforehand, per client
 *      handoff    CLIENTS producers put COUNT items each; as many consumers
 *                 are blocked in get and take them (the producer-to-blocked-
 *                 consumer hand-off of a work queue)
 *      joinable   as handoff on a joinable queue, consumers calling task_done
 *      ping       round trips with no object at all
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

struct options {
        const char *socket;
        const char *scenario;
        long count;
        size_t size;
        int clients;
};

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static mpx *connect_or_die(const struct options *o) {
        mpx *m;
        int r = mpx_connect(o->socket, &m);

        if (r < 0) {
                fprintf(stderr, "mpx-bench: cannot connect: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

static void check(int r, const char *what) {
        if (r < 0) {
                fprintf(stderr, "mpx-bench: %s: %s\n", what, mpx_strerror(r));
                exit(1);
        }
}

static int cmp_i64(const void *a, const void *b) {
        int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

        return (x > y) - (x < y);
}

/*
 * One worker's loop. Latencies of each operation go to lat (count entries,
 * shared memory so the parent can merge them).
 */
static int run_worker(const struct options *o, const char *role, int index, int64_t *lat) {
        mpx *m = connect_or_die(o);
        char *payload = malloc(o->size ? o->size : 1);
        mpx_item item;

        memset(payload, 'x', o->size);
        for (long i = 0; i < o->count; i++) {
                int64_t t0 = now_ns();
                if (strcmp(role, "put") == 0)
                        check(mpx_queue_put(m, "bench", payload, o->size, -1), "put");
                else if (strcmp(role, "get") == 0) {
                        check(mpx_queue_get(m, "bench", -1, &item), "get");
                        mpx_item_clear(&item);
                } else if (strcmp(role, "done") == 0) {
                        check(mpx_queue_get(m, "bench", -1, &item), "get");
                        check(mpx_queue_task_done(m, "bench", item.tag), "task_done");
                        mpx_item_clear(&item);
                } else
                        check(mpx_ping(m), "ping");
                if (lat)
                        lat[(size_t) index * (size_t) o->count + (size_t) i] = now_ns() - t0;
        }
        free(payload);
        mpx_disconnect(m);
        return 0;
}

/* Fork n workers of a role and return after all of them ended. */
static void run_workers(const struct options *o, const char *role, int n, int64_t *lat) {
        pid_t pids[256];

        fflush(NULL);
        for (int i = 0; i < n; i++) {
                pids[i] = fork();
                if (pids[i] == 0)
                        _exit(run_worker(o, role, i, lat));
        }
        for (int i = 0; i < n; i++) {
                int status;
                waitpid(pids[i], &status, 0);
                if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                        fprintf(stderr, "mpx-bench: a %s worker failed\n", role);
                        exit(1);
                }
        }
}

static void report(const struct options *o, int64_t elapsed_ns, long ops, int64_t *lat, size_t n_lat) {
        double secs = (double) elapsed_ns / 1e9;

        printf("{\"system\":\"mpx\",\"scenario\":\"%s\",\"clients\":%d,\"size\":%zu,\"ops\":%ld,"
               "\"seconds\":%.3f,\"ops_per_sec\":%.0f",
               o->scenario, o->clients, o->size, ops, secs, (double) ops / secs);
        if (lat && n_lat) {
                qsort(lat, n_lat, sizeof(*lat), cmp_i64);
                printf(",\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f", lat[n_lat / 2] / 1e3,
                       lat[n_lat * 99 / 100] / 1e3, lat[n_lat * 999 / 1000] / 1e3);
        }
        printf("}\n");
}

static void usage(FILE *f) {
        fprintf(f, "usage: mpx-bench [-s SOCKET] [-t put|get|handoff|joinable|ping] [-n COUNT] "
                   "[-d BYTES] [-c CLIENTS]\n");
}

int main(int argc, char **argv) {
        struct options o = { .scenario = "handoff", .count = 100000, .size = 64, .clients = 1 };
        size_t n_lat;
        int64_t *lat, t0;
        mpx *m;
        int c;

        while ((c = getopt(argc, argv, "s:t:n:d:c:h")) >= 0) {
                switch (c) {
                case 's': o.socket = optarg; break;
                case 't': o.scenario = optarg; break;
                case 'n': o.count = atol(optarg); break;
                case 'd': o.size = (size_t) atol(optarg); break;
                case 'c': o.clients = atoi(optarg); break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (o.count <= 0 || o.clients <= 0 || o.clients > 128) {
                usage(stderr);
                return 2;
        }
        m = connect_or_die(&o);
        (void) mpx_delete(m, "bench");
        check(mpx_queue_declare(m, "bench", 0, strcmp(o.scenario, "joinable") == 0 ? MPX_QUEUE_JOINABLE : 0),
              "declare");
        n_lat = (size_t) o.clients * (size_t) o.count;
        lat = mmap(NULL, n_lat * sizeof(*lat), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (lat == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        if (strcmp(o.scenario, "get") == 0)
                run_workers(&o, "put", o.clients, NULL);
        t0 = now_ns();
        if (strcmp(o.scenario, "put") == 0 || strcmp(o.scenario, "get") == 0 || strcmp(o.scenario, "ping") == 0) {
                run_workers(&o, o.scenario, o.clients, lat);
                report(&o, now_ns() - t0, o.clients * o.count, lat, n_lat);
        } else if (strcmp(o.scenario, "handoff") == 0 || strcmp(o.scenario, "joinable") == 0) {
                pid_t consumers = fork();
                if (consumers == 0) {
                        run_workers(&o, o.scenario[0] == 'j' ? "done" : "get", o.clients, NULL);
                        _exit(0);
                }
                run_workers(&o, "put", o.clients, NULL);
                waitpid(consumers, NULL, 0);
                report(&o, now_ns() - t0, o.clients * o.count, NULL, 0);
        } else {
                usage(stderr);
                return 2;
        }
        (void) mpx_delete(m, "bench");
        mpx_disconnect(m);
        munmap(lat, n_lat * sizeof(*lat));
        return 0;
}
