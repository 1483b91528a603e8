/* SPDX-License-Identifier: MIT */
/*
 * Start and stop a real mpxd for a test (see spawn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "spawn.h"
#include "monotonic.h"
#include "temp-dir.h"

/* Valgrind makes start-up slow; this is a bound for a broken daemon, not a pace. */
#define READY_TIMEOUT_MS 60000

/* A datagram socket for sd_notify messages, bound in the daemon's folder. */
static int notify_socket(const char *dir, char *ret_path, size_t size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(ret_path, size, "%s/notify.sock", dir);
        if (strlen(ret_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, ret_path, strlen(ret_path) + 1);
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int err = -errno;
                close(fd);
                return err;
        }
        return fd;
}

/*
 * Wait for a datagram containing READY=1, or for the daemon to exit first
 * (*ret_status is then its wait status; else it stays -1).
 */
static bool wait_ready(int fd, struct harness_daemon *d, int *ret_status) {
        int64_t deadline = monotonic_ms() + READY_TIMEOUT_MS;
        pid_t pid = d->pid;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                int64_t left = deadline - monotonic_ms();
                char buf[512];
                ssize_t n;

                if (left <= 0)
                        return false;
                /* Wake now and then to notice a daemon that died instead. */
                if (poll(&p, 1, left < 200 ? (int) left : 200) <= 0) {
                        if (waitpid(pid, ret_status, WNOHANG) == pid)
                                return false;
                        continue;
                }
                n = recv(fd, buf, sizeof(buf) - 1, 0);
                if (n < 0)
                        continue;
                buf[n] = '\0';
                if (strstr(buf, "READY=1")) {
                        snprintf(d->ready, sizeof(d->ready), "%s", buf);
                        return true;
                }
                d->before_ready++;
        }
}

static void remove_dir(const char *dir) {
        if (temp_dir_remove(dir) != 0)
                fprintf(stderr, "could not remove %s\n", dir);
}

/* Create an empty file at path; 0 or -1. */
static int write_empty(const char *path) {
        FILE *f = fopen(path, "we");

        if (!f)
                return -1;
        return fclose(f) == 0 ? 0 : -1;
}

int daemon_spawn(struct harness_daemon *d, const char *const *extra_args, char *err, size_t err_size) {
        struct daemon_options o = { .args = extra_args };

        return daemon_spawn_with(d, &o, err, err_size);
}

int daemon_valgrind_argv(const char **argv) {
        static const char *const valgrind[] = {
                "valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
                "--show-leak-kinds=definite,indirect", "--errors-for-leak-kinds=definite,indirect",
        };

        for (size_t i = 0; i < sizeof(valgrind) / sizeof(valgrind[0]); i++)
                argv[i] = valgrind[i];
        return (int) (sizeof(valgrind) / sizeof(valgrind[0]));
}

/* Start mpxd as daemon_spawn does, with a configuration, environment, stderr and notify socket as o asks. */
int daemon_spawn_with(struct harness_daemon *d, const struct daemon_options *o, char *err, size_t err_size) {
        static const struct daemon_options none;
        const char *mpxd = getenv("MPXD");
        const char *valgrind = getenv("MPX_TEST_VALGRIND");
        char notify_path[300], config[300];
        const char *argv[64];
        int argc = 0, fd, status = -1;

        if (!o)
                o = &none;
        d->notify_fd = -1;
        d->notify_kept = false;
        d->ready[0] = '\0';
        d->before_ready = 0;
        if (!mpxd) {
                snprintf(err, err_size, "MPXD is not set: run the tests with make check");
                return -1;
        }
        if (!temp_dir_make(d->dir, sizeof(d->dir), "mpx-test")) {
                snprintf(err, err_size, "mkdtemp: %s", strerror(errno));
                return -1;
        }
        snprintf(d->socket, sizeof(d->socket), "%s/mpxd.sock", d->dir);
        /* Never the system's configuration: a test sees only what it asks for. */
        snprintf(config, sizeof(config), "%s/empty.conf", d->dir);
        if (!o->config && write_empty(config) < 0) {
                snprintf(err, err_size, "%s: %s", config, strerror(errno));
                remove_dir(d->dir);
                return -1;
        }
        fd = notify_socket(d->dir, notify_path, sizeof(notify_path));
        if (fd < 0) {
                snprintf(err, err_size, "notify socket: %s", strerror(-fd));
                remove_dir(d->dir);
                return -1;
        }
        if (valgrind && strcmp(valgrind, "1") == 0)
                argc += daemon_valgrind_argv(argv + argc);
        argv[argc++] = mpxd;
        argv[argc++] = "-c";
        argv[argc++] = o->config ? o->config : config;
        argv[argc++] = "-s";
        argv[argc++] = d->socket;
        for (size_t i = 0; o->args && o->args[i] && argc < 62; i++)
                argv[argc++] = o->args[i];
        argv[argc] = NULL;

        fflush(NULL);
        d->pid = fork();
        if (d->pid < 0) {
                snprintf(err, err_size, "fork: %s", strerror(errno));
                close(fd);
                remove_dir(d->dir);
                return -1;
        }
        if (d->pid == 0) {
                /* The daemon never outlives the test that started it. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                setenv("NOTIFY_SOCKET", notify_path, 1);
                for (size_t i = 0; o->env && o->env[i]; i++)
                        putenv((char *) o->env[i]);
                if (o->watchdog_pid) {
                        char pid[32];

                        snprintf(pid, sizeof(pid), "%ld", (long) getpid());
                        setenv("WATCHDOG_PID", pid, 1);
                }
                if (o->nofile) {
                        struct rlimit rl = { .rlim_cur = o->nofile, .rlim_max = o->nofile };

                        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                                _exit(127);
                }
                if (o->stderr_path) {
                        int efd = open(o->stderr_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

                        if (efd < 0 || dup2(efd, 2) < 0)
                                _exit(127);
                }
                execvp(argv[0], (char *const *) argv);
                _exit(127);
        }
        if (!wait_ready(fd, d, &status)) {
                close(fd);
                if (status == -1) {
                        kill(d->pid, SIGKILL);
                        (void) child_wait(d->pid);
                }
                d->pid = 0;
                remove_dir(d->dir);
                if (status == -1)
                        snprintf(err, err_size, "mpxd did not become ready on %s", d->socket);
                else if (WIFEXITED(status))
                        snprintf(err, err_size, "mpxd exited with status %d before it was ready on %s",
                                 WEXITSTATUS(status), d->socket);
                else
                        snprintf(err, err_size, "mpxd was killed by signal %d before it was ready on %s",
                                 WTERMSIG(status), d->socket);
                return -1;
        }
        if (o->keep_notify) {
                d->notify_fd = fd;
                d->notify_kept = true;
        } else
                close(fd);
        return 0;
}

int daemon_stop(struct harness_daemon *d) {
        int status = -1;

        if (d->pid > 0 && kill(d->pid, SIGTERM) == 0)
                status = child_wait(d->pid);
        d->pid = 0;
        if (d->notify_kept)
                close(d->notify_fd);
        d->notify_kept = false;
        d->notify_fd = -1;
        remove_dir(d->dir);
        return status;
}

int child_wait(pid_t pid) {
        int status;

        if (pid <= 0)
                return -1;
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        if (WIFEXITED(status))
                return WEXITSTATUS(status);
        return 128 + WTERMSIG(status);
}
