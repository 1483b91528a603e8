/* SPDX-License-Identifier: MIT */
/*
 * How many descriptors the test process has open, from /proc/self/fd: what
 * the tests compare before and after to find a descriptor the daemon or the
 * library left behind.
 */
#ifndef MPX_TESTS_OPEN_FDS_H
#define MPX_TESTS_OPEN_FDS_H

/* The number of descriptors open in this process (not counting the one that reads them), or -1. */
int open_fds_count(void);

#endif
