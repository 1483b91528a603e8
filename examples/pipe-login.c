/* SPDX-License-Identifier: MIT */
/*
 * The seeds' Pipe login handshake, with mpx: app1 asks app2 for a login
 * over a duplex pipe, and app2 answers with a tuple, the user and the
 * password. In the seeds the two are children of one parent that made the
 * Pipe(); here they are two processes that only share a name: each opens
 * the pipe "examples.login" on its own connection, mpxd pairs them and hands
 * each one end of a socketpair, and from then on they talk to each other
 * directly, with mpx_pipe_send() and mpx_pipe_recv().
 *
 *      pipe-login              run app1 and app2 as two processes and wait for both
 *      pipe-login app1         only app1 (start app2 elsewhere, in any order)
 *      pipe-login app2         only app2
 *
 * The tuple travels as one message holding its items one after another,
 * each as a u32 little-endian length and its bytes, and app1 prints it the
 * way Python prints a tuple of strings. Each side waits at most 30 seconds
 * for the other. The daemon is found through $MPX_SOCKET, else the system
 * socket.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpx.h"

#define PIPE_NAME "examples.login"
#define WAIT_MS 30000

static const char request[] = "app1 requests login";

/* Meet the other application at the pipe; the descriptor, or -1 after a message. */
static int meet(const char *who) {
        mpx *m;
        int fd = -1, r;

        r = mpx_connect(NULL, &m);
        if (r < 0) {
                fprintf(stderr, "%s: cannot reach mpxd: %s\n", who, mpx_strerror(r));
                return -1;
        }
        r = mpx_pipe_open(m, PIPE_NAME, MPX_PIPE_DUPLEX, WAIT_MS, &fd);
        /* The pipe does not need the connection: mpxd is out of the way now. */
        mpx_disconnect(m);
        if (r < 0) {
                fprintf(stderr, "%s: pipe '%s': %s\n", who, PIPE_NAME, mpx_strerror(r));
                return -1;
        }
        return fd;
}

/* Append one tuple item: a u32 little-endian length, then the bytes. */
static size_t tuple_put(uint8_t *dst, const char *s) {
        size_t len = strlen(s);

        dst[0] = (uint8_t) len;
        dst[1] = (uint8_t) (len >> 8);
        dst[2] = (uint8_t) (len >> 16);
        dst[3] = (uint8_t) (len >> 24);
        memcpy(dst + 4, s, len);
        return 4 + len;
}

/* Print a message holding tuple items as Python prints a tuple of strings; false if malformed. */
static int tuple_print(const uint8_t *p, size_t size) {
        int first = 1;

        putchar('(');
        while (size > 0) {
                uint32_t len;

                if (size < 4)
                        return 0;
                len = (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
                if (len > size - 4)
                        return 0;
                printf("%s'%.*s'", first ? "" : ", ", (int) len, (const char *) p + 4);
                first = 0;
                p += 4 + len;
                size -= 4 + len;
        }
        printf(")\n");
        return 1;
}

/* app1: ask for a login, print the answer. */
static int app1(void) {
        mpx_buf answer = { 0 };
        int fd, r;

        printf("app1: started, please log in\n");
        printf("app1: asking app2 for authorisation\n");
        fflush(stdout);
        fd = meet("app1");
        if (fd < 0)
                return 1;
        r = mpx_pipe_send(fd, request, strlen(request));
        if (r >= 0)
                r = mpx_pipe_recv(fd, &answer);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "app1: %s\n", mpx_strerror(r));
                return 1;
        }
        printf("app1: login ok: ");
        if (!tuple_print(answer.data, answer.size)) {
                fprintf(stderr, "app1: the answer is not a tuple\n");
                mpx_buf_clear(&answer);
                return 1;
        }
        mpx_buf_clear(&answer);
        return 0;
}

/* app2: wait for the request, print it, answer with the tuple ('Dave', '123'). */
static int app2(void) {
        mpx_buf req = { 0 };
        uint8_t tuple[64];
        size_t len = 0;
        int fd, r;

        fd = meet("app2");
        if (fd < 0)
                return 1;
        r = mpx_pipe_recv(fd, &req);
        if (r < 0) {
                fprintf(stderr, "app2: %s\n", mpx_strerror(r));
                close(fd);
                return 1;
        }
        printf("app2: received '%.*s'\n", (int) req.size, (const char *) req.data);
        fflush(stdout);
        mpx_buf_clear(&req);
        len += tuple_put(tuple + len, "Dave");
        len += tuple_put(tuple + len, "123");
        r = mpx_pipe_send(fd, tuple, len);
        close(fd);
        if (r < 0) {
                fprintf(stderr, "app2: %s\n", mpx_strerror(r));
                return 1;
        }
        return 0;
}

static pid_t spawn(int (*fn)(void)) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(fn() | (fflush(stdout) != 0));
        return pid;
}

/* Wait for a child; true if it exited 0. */
static int reaped_ok(pid_t pid) {
        int status;

        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv) {
        pid_t p1, p2;
        int ok;

        if (argc == 2 && strcmp(argv[1], "app1") == 0)
                return app1();
        if (argc == 2 && strcmp(argv[1], "app2") == 0)
                return app2();
        if (argc != 1) {
                fprintf(stderr, "usage: pipe-login [app1 | app2]\n");
                return 2;
        }
        /* p1 = Process(target=app1); p2 = Process(target=app2); start both; join both. */
        p1 = spawn(app1);
        p2 = spawn(app2);
        ok = reaped_ok(p1);
        ok &= reaped_ok(p2);
        return ok ? 0 : 1;
}
