/* SPDX-License-Identifier: MIT */
/*
 * The seeds' JoinableQueue program, with mpx: three producers put ten foods
 * each, two consumers take them and call task_done, and the main process
 * waits with join() until every food was consumed.
 *
 * In the Python version the consumers are daemon processes killed when the
 * main process ends. Here the main process deletes the queue once join()
 * returned, and the consumers, blocked in get(), are told so (EIDRM) and end
 * on their own. Were a consumer to die holding a food, mpxd would hand that
 * food to the other consumer, and join() would still return.
 *
 * The daemon is found through $MPX_SOCKET, else the system socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpx.h"

#define QUEUE "examples.foods"
#define PER_PRODUCER 10

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

static int producer(const char *food) {
        mpx *m = connect_or_die();

        for (int i = 0; i < PER_PRODUCER; i++) {
                char res[64];
                int n = snprintf(res, sizeof(res), "%s%d", food, i);
                int r = mpx_queue_put(m, QUEUE, res, (size_t) n, -1);
                if (r < 0) {
                        fprintf(stderr, "put: %s\n", mpx_strerror(r));
                        return 1;
                }
                printf("xc made %s\n", res);
                fflush(stdout);
        }
        mpx_disconnect(m);
        return 0;
}

static int consumer(const char *name) {
        mpx *m = connect_or_die();
        mpx_item item;
        int r;

        while ((r = mpx_queue_get(m, QUEUE, -1, &item)) == 0) {
                printf("%s bought %.*s\n", name, (int) item.size, (const char *) item.data);
                fflush(stdout);
                r = mpx_queue_task_done(m, QUEUE, item.tag);
                mpx_item_clear(&item);
                if (r < 0) {
                        fprintf(stderr, "task_done: %s\n", mpx_strerror(r));
                        return 1;
                }
        }
        mpx_disconnect(m);
        /* The queue was deleted once the work was done: the normal end. */
        return r == -EIDRM || r == -ENOENT ? 0 : 1;
}

static pid_t spawn_producer(const char *food) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(producer(food) | fflush(stdout));
        return pid;
}

static pid_t spawn_consumer(const char *name) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(consumer(name) | fflush(stdout));
        return pid;
}

/* Wait for a child; true if it exited 0. */
static int reaped_ok(pid_t pid) {
        int status;

        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
        static const char *const foods[] = { "spaghetti", "beef", "cola" };
        static const char *const consumers[] = { "haha", "xixi" };
        pid_t p[3], c[2];
        mpx *m = connect_or_die();
        int ok = 1, r;

        mpx_delete(m, QUEUE);
        r = mpx_queue_declare(m, QUEUE, 0, MPX_QUEUE_JOINABLE);
        if (r < 0) {
                fprintf(stderr, "queue '%s': %s\n", QUEUE, mpx_strerror(r));
                return 1;
        }
        for (int i = 0; i < 2; i++)
                c[i] = spawn_consumer(consumers[i]);
        for (int i = 0; i < 3; i++)
                p[i] = spawn_producer(foods[i]);
        for (int i = 0; i < 3; i++)
                ok &= reaped_ok(p[i]);
        /* Every food put has been taken and marked done. */
        r = mpx_queue_join(m, QUEUE, -1);
        if (r < 0) {
                fprintf(stderr, "join: %s\n", mpx_strerror(r));
                ok = 0;
        } else
                printf("all %d foods consumed\n", 3 * PER_PRODUCER);
        fflush(stdout);
        mpx_delete(m, QUEUE);
        for (int i = 0; i < 2; i++)
                ok &= reaped_ok(c[i]);
        mpx_disconnect(m);
        return ok ? 0 : 1;
}
