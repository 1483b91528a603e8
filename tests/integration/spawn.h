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

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct harness_daemon {
        pid_t pid;
        char dir[256];                  /* temporary folder, removed by daemon_stop */
        char socket[300];               /* dir/mpxd.sock */
        int notify_fd;                  /* with keep_notify: the notify socket, for the test to read */
        bool notify_kept;               /* notify_fd is open */
        char ready[512];                /* the datagram that said READY=1 */
        unsigned before_ready;          /* datagrams that came before it */
};

/* What daemon_spawn_with may do besides what daemon_spawn does; zero means "as daemon_spawn". */
struct daemon_options {
        const char *const *args;        /* extra arguments, NULL-terminated, may be NULL */
        const char *const *env;         /* extra NAME=VALUE for the daemon, NULL-terminated, may be NULL */
        const char *config;             /* -c FILE; NULL: an empty file in the daemon's folder */
        const char *stderr_path;        /* the daemon's stderr goes to this file; NULL: the test's own */
        bool watchdog_pid;              /* set WATCHDOG_PID to the daemon's own pid */
        bool keep_notify;               /* keep the notify socket open in d->notify_fd */
        unsigned nofile;                /* the daemon's limit of open files (soft and hard); 0: the test's */
};

/*
 * Start mpxd with extra arguments (NULL-terminated, may be NULL) and wait
 * until it is ready. Returns 0, or -1 with a reason in err. The daemon reads
 * an empty configuration file of its own, never the system's.
 */
int daemon_spawn(struct harness_daemon *d, const char *const *extra_args, char *err, size_t err_size);

/* As daemon_spawn, with the options o (NULL for none). */
int daemon_spawn_with(struct harness_daemon *d, const struct daemon_options *o, char *err, size_t err_size);

/* SIGTERM the daemon, reap it, remove its folder; returns its exit status (128 + signal if killed). */
int daemon_stop(struct harness_daemon *d);

/* Reap a child; its exit status, 128 + signal number, or -1. */
int child_wait(pid_t pid);

/*
 * Put the valgrind command that runs mpxd under memcheck (exit status 99 on
 * any error or definite or indirect leak) at the start of argv; returns how
 * many arguments it took (6). daemon_spawn_with() and test-protocol, which
 * starts daemons of its own, both use it.
 */
int daemon_valgrind_argv(const char **argv);
