/* SPDX-License-Identifier: MIT */
/*
 * The listening socket, the signals, the configuration in force and the end
 * of the daemon (server.c). The process-wide state itself, struct mpxd, is
 * in mpxd.h.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct config;

/*
 * Put a configuration in force and declare its objects; takes ownership of c.
 * At start (reload false) a failed declaration is an error and returns a
 * negative errno; on reload it is logged and the rest goes on (returns the
 * number of objects that could not be declared).
 */
int server_apply_config(struct config *c, bool reload);
/* Bind or adopt the listening socket and register signals. */
int server_listen(void);
/* Run until SIGTERM or SIGINT; returns the exit status. */
int server_run(void);
/* Read the configuration file again (SIGHUP); a bad file leaves everything as it was. */
void server_reload(void);
/*
 * Be told of every child process the daemon reaps (SIGCHLD): fn(pid, wait
 * status), from the loop, never from a signal handler. Returns 0, or -ENOSPC
 * when every slot is taken. Worker pools register here.
 */
int server_on_child_exit(void (*fn)(pid_t pid, int status));
/* Wake every waiter with -ESHUTDOWN, flush, close everything, stop the loop. */
void server_shutdown(void);
/*
 * Before the daemon opens more descriptors for something lasting (a pool's
 * workers, one log pipe each): 0 when more of them fit under the limit of
 * open files with room left for clients, else -EUSERS (logged at most once
 * every ten seconds).
 */
int server_fds_check(unsigned more);
