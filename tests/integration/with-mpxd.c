/* SPDX-License-Identifier: MIT */
/*
 * with-mpxd: run a command against a private mpxd, for the shell tests.
 *
 *      with-mpxd [MPXD-OPTION]... -- COMMAND [ARG]...
 *
 * Starts $MPXD on a socket in a new temporary folder, waits until it is
 * ready, runs COMMAND with MPX_SOCKET and MPX_TEST_DIR set, then stops the
 * daemon and removes the folder. The exit status is COMMAND's, or 1 when the
 * daemon itself did not exit cleanly (a crash, or a valgrind report).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"

int main(int argc, char **argv) {
        struct harness_daemon d;
        const char *extra[32];
        int n = 0, i, status, daemon_status;
        char err[512];
        pid_t pid;

        for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
                if (n < 31)
                        extra[n++] = argv[i];
        extra[n] = NULL;
        if (i + 1 >= argc) {
                fprintf(stderr, "usage: with-mpxd [MPXD-OPTION]... -- COMMAND [ARG]...\n");
                return 2;
        }
        if (daemon_spawn(&d, extra, err, sizeof(err)) < 0) {
                fprintf(stderr, "with-mpxd: %s\n", err);
                return 1;
        }
        setenv("MPX_SOCKET", d.socket, 1);
        setenv("MPX_TEST_DIR", d.dir, 1);
        fflush(NULL);
        pid = fork();
        if (pid == 0) {
                execvp(argv[i + 1], argv + i + 1);
                perror("with-mpxd: exec");
                _exit(127);
        }
        status = child_wait(pid);
        daemon_status = daemon_stop(&d);
        if (daemon_status != 0) {
                fprintf(stderr, "with-mpxd: mpxd exited with status %d\n", daemon_status);
                return status ? status : 1;
        }
        return status;
}
