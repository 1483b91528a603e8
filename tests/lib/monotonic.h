/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock, as the test programs read it: deadlines, time-outs
 * and elapsed times that the wall clock's jumps cannot upset. One helper for
 * every test, its daemon spawner and the workers it starts.
 */
#ifndef MPX_TESTS_MONOTONIC_H
#define MPX_TESTS_MONOTONIC_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: deadlines and time-outs. */
int64_t monotonic_ms(void);

/* Microseconds of CLOCK_MONOTONIC: short waits measured finely. */
int64_t monotonic_us(void);

#endif
