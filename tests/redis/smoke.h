/* SPDX-License-Identifier: MIT */
/*
 * What the programs that drive libmpx's Redis backend end to end share
 * (queue-e2e, sync-smoke, dictlist-smoke, async-loop; tests/redis/test-redis.sh
 * runs them against a redis-server of its own): the count of failed checks,
 * the two kinds of check they make, and a connection that must succeed.
 * They run outside cmocka: a failed check is printed and counted, and the
 * program goes on and exits 1 at its end.
 */
#ifndef MPX_TESTS_REDIS_SMOKE_H
#define MPX_TESTS_REDIS_SMOKE_H

#include <stdio.h>
#include <string.h>

#include "mpx.h"

/* The checks that failed so far. */
extern int failures;

/* A named step: "ok   what" when cond holds, else "FAIL what (line N)", counted. */
#define CHECK(what, cond)                                                                       \
        do {                                                                                    \
                if (cond)                                                                       \
                        printf("ok   %s\n", what);                                              \
                else {                                                                          \
                        printf("FAIL %s (line %d)\n", what, __LINE__);                          \
                        failures++;                                                             \
                }                                                                               \
        } while (0)

/* A call's result: expr must be want, or both are printed (an error by its name too), counted. */
#define CHECK_EQ(expr, want)                                                                           \
        do {                                                                                           \
                long long got_ = (long long) (expr), want_ = (long long) (want);                       \
                if (got_ != want_) {                                                                   \
                        fprintf(stderr, "%s:%d: %s = %lld (%s), want %lld\n", __FILE__, __LINE__,     \
                                #expr, got_, got_ < 0 ? strerror((int) -got_) : "", want_);            \
                        failures++;                                                                    \
                }                                                                                      \
        } while (0)

/* A connection to address; the program exits 2 when there is none, as nothing could be checked. */
mpx *smoke_connect(const char *address);

/* Run m's loop as an event loop would, until *done reaches want or 10 s pass: whether it did. */
int smoke_loop_until(mpx *m, const int *done, int want);

/* The end of a program of named steps: "all passed" or how many failed; its exit status. */
int smoke_end(void);

#endif
