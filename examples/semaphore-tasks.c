/* SPDX-License-Identifier: MIT */
/*
 * The seeds' semaphore program, with mpx: Semaphore(3) over ten tasks. Ten
 * processes each take a unit of the semaphore "examples.tasks", print that
 * they start, work for a moment, print that they are done and give the unit
 * back, so that at most three work at any time:
 *
 *      sem = Semaphore(3)
 *      def handle():
 *          sem.acquire()
 *          print('%s start' % os.getpid()); sleep(...); print('%s done' % os.getpid())
 *          sem.release()
 *
 * The semaphore lives in mpxd, so the tasks need not be children of one
 * parent: "semaphore-tasks task" runs one task, and any number of them
 * started from anywhere share the three slots. With no argument the program
 * forks the ten tasks itself, waits for them, and prints how many ran at
 * once at most ("max concurrent: N"), counted by the tasks themselves in a
 * shared mapping. A task that dies while it works gives its unit back
 * (SEM_UNDO), where Python's semaphore would stay one short forever.
 *
 * The daemon is found through $MPX_SOCKET, else the system socket.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

#define SEM "examples.tasks"
#define SLOTS 3
#define TASKS 10
#define WORK_MS 100

/* What the forked tasks count together; NULL for a task started on its own. */
struct counters {
        atomic_int inside;
        atomic_int max_inside;
};

/* Connect and declare the semaphore; fresh: start from a new one, as a new Python program would. */
static mpx *connect_or_die(bool fresh) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        if (fresh)
                (void) mpx_delete(m, SEM);
        /* Semaphore(3): declared by whoever comes first, found by the others. */
        r = mpx_sem_declare(m, SEM, SLOTS, 0, 0);
        if (r < 0) {
                fprintf(stderr, "semaphore '%s': %s\n", SEM, mpx_strerror(r));
                exit(1);
        }
        return m;
}

static int task(struct counters *shared) {
        struct timespec work = { .tv_sec = 0, .tv_nsec = WORK_MS * 1000000L };
        mpx *m = connect_or_die(false);
        int r, now, max;

        r = mpx_sem_acquire(m, SEM, -1);
        if (r < 0) {
                fprintf(stderr, "acquire: %s\n", mpx_strerror(r));
                return 1;
        }
        if (shared) {
                now = atomic_fetch_add(&shared->inside, 1) + 1;
                max = atomic_load(&shared->max_inside);
                while (now > max && !atomic_compare_exchange_weak(&shared->max_inside, &max, now))
                        ;
        }
        /* One write per line: lines of different tasks never mix. */
        printf("%ld start\n", (long) getpid());
        fflush(stdout);
        nanosleep(&work, NULL);
        printf("%ld done\n", (long) getpid());
        fflush(stdout);
        if (shared)
                atomic_fetch_sub(&shared->inside, 1);
        r = mpx_sem_release(m, SEM);
        mpx_disconnect(m);
        if (r < 0) {
                fprintf(stderr, "release: %s\n", mpx_strerror(r));
                return 1;
        }
        return 0;
}

static int all(void) {
        struct counters *shared;
        pid_t pids[TASKS];
        int failed = 0;
        mpx *m = connect_or_die(true);

        mpx_disconnect(m);
        shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (shared == MAP_FAILED) {
                perror("mmap");
                return 1;
        }
        atomic_init(&shared->inside, 0);
        atomic_init(&shared->max_inside, 0);
        fflush(stdout);
        for (int i = 0; i < TASKS; i++) {
                pids[i] = fork();
                if (pids[i] < 0) {
                        perror("fork");
                        failed++;
                        continue;
                }
                if (pids[i] == 0)
                        _exit(task(shared));
        }
        for (int i = 0; i < TASKS; i++) {
                int status;

                if (pids[i] > 0 && (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
                                    WEXITSTATUS(status) != 0))
                        failed++;
        }
        printf("max concurrent: %d\n", atomic_load(&shared->max_inside));
        munmap(shared, sizeof(*shared));
        if (failed)
                fprintf(stderr, "%d tasks failed\n", failed);
        return failed ? 1 : 0;
}

int main(int argc, char **argv) {
        if (argc < 2)
                return all();
        if (strcmp(argv[1], "task") == 0)
                return task(NULL);
        fprintf(stderr, "usage: %s [task]\n", argv[0]);
        return 2;
}
