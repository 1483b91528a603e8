/* SPDX-License-Identifier: MIT */
/*
 * The seeds' first queue program, with mpx: a bounded queue of two slots
 * (Python's Queue(2)) between a "request" process that puts ten pairs of
 * random numbers and a "handle" process that takes and prints them.
 *
 * The two roles need not be parent and child: run
 *      queue-producer-consumer handle     in one shell, and
 *      queue-producer-consumer request    in another,
 * or with no argument, and the program forks both itself. The producer
 * closes the queue when it is done; the consumer drains it and ends on EPIPE,
 * where the Python version would hang in get() forever.
 *
 * The daemon is found through $MPX_SOCKET, else the system socket.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

#define QUEUE "examples.requests"
#define REQUESTS 10

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        /* Queue(2): at most two requests wait; a third put blocks. */
        r = mpx_queue_declare(m, QUEUE, 2, 0);
        if (r < 0) {
                fprintf(stderr, "queue '%s': %s\n", QUEUE, mpx_strerror(r));
                exit(1);
        }
        return m;
}

static int request(void) {
        mpx *m = connect_or_die();

        srand((unsigned) time(NULL) ^ (unsigned) getpid());
        for (int i = 0; i < REQUESTS; i++) {
                char t[32];
                int n = snprintf(t, sizeof(t), "(%d, %d)", rand() % 100 + 1, rand() % 100 + 1);
                int r = mpx_queue_put(m, QUEUE, t, (size_t) n, -1);
                if (r < 0) {
                        fprintf(stderr, "put: %s\n", mpx_strerror(r));
                        return 1;
                }
                printf("------\n");
                fflush(stdout);
        }
        mpx_queue_close(m, QUEUE);
        mpx_disconnect(m);
        return 0;
}

static int handle(void) {
        mpx *m = connect_or_die();
        int handled = 0, r;
        mpx_item item;

        while ((r = mpx_queue_get(m, QUEUE, -1, &item)) == 0) {
                printf("%.*s\n", (int) item.size, (const char *) item.data);
                fflush(stdout);
                mpx_item_clear(&item);
                handled++;
        }
        mpx_disconnect(m);
        if (r != -EPIPE) {
                fprintf(stderr, "get: %s\n", mpx_strerror(r));
                return 1;
        }
        printf("handled %d requests\n", handled);
        return 0;
}

/* Run a role in a child process. */
static pid_t spawn(int (*role)(void)) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(role() | fflush(stdout));
        return pid;
}

static int both(void) {
        mpx *m = connect_or_die();
        pid_t consumer, producer;
        int s1 = 1, s2 = 1;

        /* Start from a fresh queue, as Queue(2) would be in Python. */
        mpx_delete(m, QUEUE);
        mpx_disconnect(m);
        consumer = spawn(handle);
        producer = spawn(request);
        if (producer < 0 || consumer < 0)
                return 1;
        waitpid(producer, &s1, 0);
        waitpid(consumer, &s2, 0);
        return WIFEXITED(s1) && WEXITSTATUS(s1) == 0 && WIFEXITED(s2) && WEXITSTATUS(s2) == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
        if (argc < 2)
                return both();
        if (strcmp(argv[1], "request") == 0)
                return request();
        if (strcmp(argv[1], "handle") == 0)
                return handle();
        fprintf(stderr, "usage: %s [request|handle]\n", argv[0]);
        return 2;
}
