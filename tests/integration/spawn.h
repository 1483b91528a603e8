/* SPDX-License-Identifier: MIT */
/*
 * Start and stop a real mpxd for a test: a private temporary folder, a
 * socket in it, and readiness known from the daemon's own READY=1 on a
 * notify socket, never from a sleep. Used by the cmocka harness and by the
 * with-mpxd runner of the shell tests.
 *
 * mpxd is found through $MPXD. With MPX_TEST_VALGRIND=1 it runs under
 * valgrind's memcheck and exits 99 on any error or leak.
 */
#pragma once

#include <stddef.h>
#include <sys/types.h>

struct harness_daemon {
        pid_t pid;
        char dir[256];                  /* temporary folder, removed by daemon_stop */
        char socket[300];               /* dir/mpxd.sock */
};

/*
 * Start mpxd with extra arguments (NULL-terminated, may be NULL) and wait
 * until it is ready. Returns 0, or -1 with a reason in err.
 */
int daemon_spawn(struct harness_daemon *d, const char *const *extra_args, char *err, size_t err_size);

/* SIGTERM the daemon, reap it, remove its folder; returns its exit status (128 + signal if killed). */
int daemon_stop(struct harness_daemon *d);

/* Reap a child; its exit status, 128 + signal number, or -1. */
int child_wait(pid_t pid);
