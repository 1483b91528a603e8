/* SPDX-License-Identifier: MIT */
/*
 * The seeds' Array program, with mpx: Array('i', [1, 2, 3, 4, 5]),
 * Array('i', 4) and Array('c', b'Hello') in shared memory. A "writer"
 * process maps the first array and does the seeds' shm[1] = 1000; a
 * "reader" process, with a connection of its own, maps all three, waits
 * for that write by watching the memory itself, and prints every element,
 * the way the seeds' child iterates over shm. The parent then reads the
 * array back through the daemon, which works on the same memory.
 *
 * Each process gets the array's memory from the daemon (a memfd passed over
 * the socket) and maps it: the writer's store reaches the reader at memory
 * speed, without a message. A plain store is not atomic across processes;
 * here the one shared element is written and read with C11-style atomic
 * builtins, and anything more needs a lock (a semaphore) around it.
 *
 * The daemon is found through $MPX_SOCKET, else the system socket.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

#define SHM "examples.shm"
#define ZEROS "examples.zeros"
#define GREETING "examples.greeting"

/* How long the reader waits for the writer before it gives up. */
#define WAIT_LIMIT_S 10

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

static int map_or_complain(mpx *m, const char *name, mpx_map *ret) {
        int r = mpx_array_map(m, name, ret);

        if (r < 0)
                fprintf(stderr, "map '%s': %s\n", name, mpx_strerror(r));
        return r;
}

/* shm[1] = 1000, through this process's own mapping. */
static int writer(void) {
        mpx *m = connect_or_die();
        mpx_map shm;

        if (map_or_complain(m, SHM, &shm) < 0)
                return 1;
        __atomic_store_n(&((int32_t *) shm.addr)[1], 1000, __ATOMIC_RELEASE);
        printf("writer: shm[1] = 1000\n");
        mpx_map_release(&shm);
        mpx_disconnect(m);
        return 0;
}

/* Wait until shm[1] holds 1000, spinning on the memory; false after WAIT_LIMIT_S. */
static int wait_for_write(const int32_t *shm) {
        time_t deadline = time(NULL) + WAIT_LIMIT_S;

        while (__atomic_load_n(&shm[1], __ATOMIC_ACQUIRE) != 1000)
                if (time(NULL) > deadline)
                        return 0;
        return 1;
}

/* for i in shm: print(i), once the writer's store has arrived; then the other two arrays. */
static int reader(void) {
        mpx *m = connect_or_die();
        mpx_map shm, zeros, greeting;
        const int32_t *p;

        if (map_or_complain(m, SHM, &shm) < 0 || map_or_complain(m, ZEROS, &zeros) < 0 ||
            map_or_complain(m, GREETING, &greeting) < 0)
                return 1;
        p = shm.addr;
        if (!wait_for_write(p)) {
                fprintf(stderr, "reader: the writer's store never arrived\n");
                return 1;
        }
        for (uint32_t i = 0; i < shm.length; i++)
                printf("reader: shm[%u] = %d\n", i, __atomic_load_n(&p[i], __ATOMIC_RELAXED));
        printf("reader: zeros =");
        for (uint32_t i = 0; i < zeros.length; i++)
                printf(" %d", ((const int32_t *) zeros.addr)[i]);
        /* shm.value of an Array('c'): the bytes. */
        printf("\nreader: greeting = b'%.*s'\n", (int) greeting.length, (const char *) greeting.addr);
        mpx_map_release(&shm);
        mpx_map_release(&zeros);
        mpx_map_release(&greeting);
        mpx_disconnect(m);
        return 0;
}

static pid_t spawn(int (*fn)(void)) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(fn() | fflush(stdout));
        return pid;
}

/* Wait for a child; true if it exited 0. */
static int reaped_ok(pid_t pid) {
        int status;

        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
        static const int32_t numbers[] = { 1, 2, 3, 4, 5 };
        static const char *const names[] = { SHM, ZEROS, GREETING };
        mpx *m = connect_or_die();
        int32_t back[5];
        pid_t r_pid, w_pid;
        int ok, r;

        /* Fresh arrays for this run, as Python creates them in the parent. */
        for (size_t i = 0; i < 3; i++)
                mpx_delete(m, names[i]);
        r = mpx_array_declare(m, SHM, 'i', 5, numbers);                 /* Array('i', [1, 2, 3, 4, 5]) */
        if (r >= 0)
                r = mpx_array_declare(m, ZEROS, 'i', 4, NULL);          /* Array('i', 4) */
        if (r >= 0)
                r = mpx_array_declare(m, GREETING, 'c', 5, "Hello");    /* Array('c', b'Hello') */
        if (r < 0) {
                fprintf(stderr, "declare: %s\n", mpx_strerror(r));
                return 1;
        }
        /* The reader starts first and waits on the memory for the writer. */
        r_pid = spawn(reader);
        w_pid = spawn(writer);
        ok = reaped_ok(w_pid);
        ok &= reaped_ok(r_pid);

        r = mpx_array_get(m, SHM, 'i', 0, 5, back);
        if (r < 0) {
                fprintf(stderr, "get: %s\n", mpx_strerror(r));
                return 1;
        }
        printf("parent: shm = [%d, %d, %d, %d, %d]\n", back[0], back[1], back[2], back[3], back[4]);
        for (size_t i = 0; i < 3; i++)
                mpx_delete(m, names[i]);
        mpx_disconnect(m);
        return ok ? 0 : 1;
}
