/* SPDX-License-Identifier: MIT */
/*
 * A robust lock, as a robust mutex's EOWNERDEAD: two accounts in a shared
 * dict, "alice" and "bob", 100 units between them, and processes moving
 * units from one to the other under a lock. A transfer writes its intent to
 * a journal entry first ("alice=97 bob=3": the balances it is about to set),
 * then sets both balances, then removes the entry.
 *
 * One of the workers is killed with SIGKILL in the middle of a transfer,
 * after the first balance is set and before the second. The daemon gives
 * its lock back (SEM_UNDO), and the next process to take the lock gets
 * -EOWNERDEAD from mpx_sem_acquire: it holds the lock, and it repairs what
 * the dead one left by applying the journal again, before its own transfer.
 * Exactly one process is told. At the end the program prints the balances,
 * which still add up to 100, and each repair prints a line.
 *
 * Run it with no argument; the daemon is found through $MPX_SOCKET, else the
 * system socket.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpx.h"

#define LOCK "examples.accounts.lock"
#define DICT "examples.accounts"
#define TOTAL 100
#define WORKERS 4
#define TRANSFERS 50
#define VICTIM 2                /* this worker dies ... */
#define VICTIM_AT 10            /* ... in the middle of this transfer */

static int fail(const char *what, int r) {
        fprintf(stderr, "%s: %s\n", what, mpx_strerror(r));
        return 1;
}

static int get_balance(mpx *m, const char *who, int64_t *ret) {
        mpx_buf v = { 0 };
        char text[32];
        int r = mpx_dict_get(m, DICT, who, strlen(who), &v);

        if (r < 0)
                return r;
        snprintf(text, sizeof(text), "%.*s", (int) v.size, (const char *) v.data);
        mpx_buf_clear(&v);
        *ret = strtoll(text, NULL, 10);
        return 0;
}

static int set_balance(mpx *m, const char *who, int64_t value) {
        char text[32];

        snprintf(text, sizeof(text), "%" PRId64, value);
        return mpx_dict_set(m, DICT, who, strlen(who), text, strlen(text));
}

/* Set the balances a journal entry names, and remove it: safe to do twice. */
static int apply_journal(mpx *m, const char *entry) {
        int64_t alice, bob;
        int r;

        if (sscanf(entry, "alice=%" SCNd64 " bob=%" SCNd64, &alice, &bob) != 2)
                return -EINVAL;
        r = set_balance(m, "alice", alice);
        if (r >= 0)
                r = set_balance(m, "bob", bob);
        if (r >= 0)
                r = mpx_dict_del(m, DICT, "journal", 7);
        return r;
}

/* The lock is ours after a holder died: finish what its journal says, if anything. */
static int repair(mpx *m) {
        mpx_buf v = { 0 };
        char entry[64];
        int r = mpx_dict_get(m, DICT, "journal", 7, &v);

        if (r == -ENOENT) {
                printf("%ld: the previous holder died outside a transfer\n", (long) getpid());
                return 0;
        }
        if (r < 0)
                return r;
        snprintf(entry, sizeof(entry), "%.*s", (int) v.size, (const char *) v.data);
        mpx_buf_clear(&v);
        printf("%ld: repaired an interrupted transfer (%s)\n", (long) getpid(), entry);
        fflush(stdout);
        return apply_journal(m, entry);
}

/* Move amount from one account to the other (negative: the other way) under the lock. */
static int transfer(mpx *m, int64_t amount, int die_midway) {
        int64_t alice, bob;
        char entry[64];
        int r = mpx_sem_acquire(m, LOCK, -1);

        if (r == -EOWNERDEAD)
                r = repair(m);
        if (r < 0)
                return fail("acquire", r);
        if ((r = get_balance(m, "alice", &alice)) < 0 || (r = get_balance(m, "bob", &bob)) < 0)
                return fail("balance", r);
        if (alice - amount < 0 || bob + amount < 0)
                amount = 0;
        snprintf(entry, sizeof(entry), "alice=%" PRId64 " bob=%" PRId64, alice - amount, bob + amount);
        r = mpx_dict_set(m, DICT, "journal", 7, entry, strlen(entry));
        if (r >= 0)
                r = set_balance(m, "alice", alice - amount);
        if (r >= 0 && die_midway)
                raise(SIGKILL);
        if (r >= 0)
                r = set_balance(m, "bob", bob + amount);
        if (r >= 0)
                r = mpx_dict_del(m, DICT, "journal", 7);
        if (r < 0)
                return fail("transfer", r);
        r = mpx_sem_release(m, LOCK);
        return r < 0 ? fail("release", r) : 0;
}

static mpx *connect_or_die(void) {
        mpx *m;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "cannot reach mpxd: %s\n", mpx_strerror(r));
                exit(3);
        }
        return m;
}

static int worker(int index) {
        mpx *m = connect_or_die();

        for (int i = 0; i < TRANSFERS; i++) {
                int64_t amount = (i % 5 + 1) * (index % 2 ? -1 : 1);

                if (transfer(m, amount, index == VICTIM && i == VICTIM_AT) != 0)
                        return 1;
        }
        mpx_disconnect(m);
        return 0;
}

int main(void) {
        int64_t alice, bob;
        pid_t pids[WORKERS];
        int failed = 0, r;
        mpx *m = connect_or_die();

        /* A fresh start: a lock, and all the units with alice. */
        (void) mpx_delete(m, LOCK);
        (void) mpx_delete(m, DICT);
        if ((r = mpx_sem_declare(m, LOCK, 1, 1, MPX_SEM_BOUNDED)) < 0 || (r = mpx_dict_declare(m, DICT)) < 0 ||
            (r = set_balance(m, "alice", TOTAL)) < 0 || (r = set_balance(m, "bob", 0)) < 0)
                return fail("setup", r);
        fflush(stdout);
        for (int i = 0; i < WORKERS; i++) {
                pids[i] = fork();
                if (pids[i] < 0)
                        return fail("fork", -errno);
                if (pids[i] == 0)
                        _exit(worker(i));
        }
        for (int i = 0; i < WORKERS; i++) {
                int status, want_signal = i == VICTIM;

                if (waitpid(pids[i], &status, 0) < 0 ||
                    (want_signal ? !WIFSIGNALED(status) : !WIFEXITED(status) || WEXITSTATUS(status) != 0))
                        failed++;
        }
        /* Whoever is last to take the lock finds it in order (or repairs, if nobody did yet). */
        if (transfer(m, 0, 0) != 0)
                return 1;
        if ((r = get_balance(m, "alice", &alice)) < 0 || (r = get_balance(m, "bob", &bob)) < 0)
                return fail("balance", r);
        printf("alice: %" PRId64 " bob: %" PRId64 " total: %" PRId64 "\n", alice, bob, alice + bob);
        mpx_disconnect(m);
        if (failed)
                fprintf(stderr, "%d workers did not end as expected\n", failed);
        return failed || alice + bob != TOTAL ? 1 : 0;
}
