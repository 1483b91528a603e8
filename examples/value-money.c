/* SPDX-License-Identifier: MIT */
/*
 * The seeds' Value('i', 5000) program, with mpx: a shared balance of 5000,
 * a "man" process that earns a random 1..1000 thirty times and a "girl"
 * process that spends a random 100..800 thirty times, each printing the
 * balance after its move; the parent prints the final balance.
 *
 * The Python version does money.value += randint(...), a read, an add and a
 * write that race between the two processes: an update can be lost. Here
 * each move is one atomic add in the daemon (mpx_array_add, one round trip
 * that names the type code 'i' the value was declared with), which returns
 * the new balance, so nothing is lost, whatever the interleaving. The
 * amounts come from a fixed pseudo-random sequence per role, so the parent
 * knows what the final balance must be and checks it.
 *
 * The daemon is found through $MPX_SOCKET, else the system socket. The
 * value is created fresh for each run, as Python creates it in the parent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpx.h"

#define VALUE "examples.money"
#define ROUNDS 30

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

/* A small deterministic generator (xorshift32): the same amounts on every run. */
static uint32_t next_random(uint32_t *state) {
        uint32_t x = *state;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *state = x;
        return x;
}

/* randint(lo, hi) from the role's sequence. */
static int32_t randint(uint32_t *state, int32_t lo, int32_t hi) {
        return lo + (int32_t) (next_random(state) % (uint32_t) (hi - lo + 1));
}

struct role {
        const char *name;
        uint32_t seed;
        int32_t lo, hi;
        int32_t sign;                   /* +1 earns, -1 spends */
};

static const struct role roles[] = {
        { "man", 0x6d616e21u, 1, 1000, +1 },
        { "girl", 0x6769726cu, 100, 800, -1 },
};

/* The sum of a role's moves, with their signs: what it adds to the balance. */
static int64_t role_total(const struct role *r) {
        uint32_t state = r->seed;
        int64_t total = 0;

        for (int i = 0; i < ROUNDS; i++)
                total += r->sign * randint(&state, r->lo, r->hi);
        return total;
}

static int play(const struct role *role) {
        mpx *m = connect_or_die();
        uint32_t state = role->seed;

        for (int i = 0; i < ROUNDS; i++) {
                int32_t amount = role->sign * randint(&state, role->lo, role->hi), balance;
                int r = mpx_array_add(m, VALUE, 'i', 0, &amount, &balance);

                if (r < 0) {
                        fprintf(stderr, "%s: add: %s\n", role->name, mpx_strerror(r));
                        return 1;
                }
                printf("%s: %+d -> %d\n", role->name, amount, balance);
                fflush(stdout);
        }
        mpx_disconnect(m);
        return 0;
}

static pid_t spawn(const struct role *role) {
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid == 0)
                _exit(play(role) | fflush(stdout));
        return pid;
}

/* Wait for a child; true if it exited 0. */
static int reaped_ok(pid_t pid) {
        int status;

        return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
        mpx *m = connect_or_die();
        int32_t money = 5000, balance = 0;
        int64_t expected = money;
        pid_t pids[2];
        int ok = 1, r;

        /* money = Value('i', 5000), new for this run. */
        mpx_delete(m, VALUE);
        r = mpx_value_declare(m, VALUE, 'i', &money);
        if (r < 0) {
                fprintf(stderr, "value '%s': %s\n", VALUE, mpx_strerror(r));
                return 1;
        }
        for (int i = 0; i < 2; i++)
                pids[i] = spawn(&roles[i]);
        for (int i = 0; i < 2; i++) {
                ok &= reaped_ok(pids[i]);
                expected += role_total(&roles[i]);
        }
        r = mpx_array_get(m, VALUE, 'i', 0, 1, &balance);
        if (r < 0) {
                fprintf(stderr, "value '%s': %s\n", VALUE, mpx_strerror(r));
                return 1;
        }
        printf("final balance: %d\n", balance);
        if (balance != expected) {
                fprintf(stderr, "expected %lld: an update was lost\n", (long long) expected);
                ok = 0;
        }
        mpx_delete(m, VALUE);
        mpx_disconnect(m);
        return ok ? 0 : 1;
}
