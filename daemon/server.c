/* SPDX-License-Identifier: MIT */
/*
 * The process-wide state of mpxd, its listening socket, its signals and its
 * end. The socket comes from systemd (sd_listen_fds) or is bound here: a lock
 * file beside it keeps two daemons from racing, a daemon that answers on the
 * path is never disturbed, and only a stale socket file is replaced.
 *
 * Signals are libevent events, so their handlers run in the loop like any
 * other callback and may do real work.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "mpxd.h"

struct mpxd mpxd;

uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

int mpxd_init(void) {
        struct mpxd zero = { 0 };

        mpxd = zero;
        mpxd.listen_fd = -1;
        mpxd.lock_fd = -1;
        mpxd.max_message = WIRE_DEFAULT_MAX_MESSAGE;
        mpxd.max_frame = WIRE_DEFAULT_MAX_FRAME;
        mpxd.socket_mode = 0660;
        TAILQ_INIT(&mpxd.clients);
        TAILQ_INIT(&mpxd.dirty);
        TAILQ_INIT(&mpxd.objects_ordered);
        mpxd.started_ms = now_ms();
        mpxd.base = event_base_new();
        return mpxd.base ? 0 : -ENOMEM;
}

void mpxd_done(void) {
        struct client *c;

        while ((c = TAILQ_FIRST(&mpxd.clients)))
                client_lost(c, "daemon stopping");
        object_delete_all(-ESHUTDOWN);
        for (size_t i = 0; i < ARRAY_SIZE(mpxd.ev_signals); i++)
                if (mpxd.ev_signals[i])
                        event_free(mpxd.ev_signals[i]);
        if (mpxd.ev_listen)
                event_free(mpxd.ev_listen);
        if (mpxd.listen_fd >= 0)
                close(mpxd.listen_fd);
        if (mpxd.socket_owned)
                unlink(mpxd.socket_path);
        if (mpxd.lock_fd >= 0)
                close(mpxd.lock_fd);
        if (mpxd.base) {
                /* Run the deferred frees of the clients lost above. */
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
                event_base_free(mpxd.base);
        }
        mpxd.base = NULL;
}

static void server_accept_cb(evutil_socket_t fd, short what, void *arg) {
        /* Accept what is pending, a bounded number per wake-up to stay fair. */
        for (int i = 0; i < 64; i++) {
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                log_warning("cannot accept a client: %s", strerror(errno));
                        return;
                }
                if (!client_new(cfd)) {
                        log_warning("out of memory for a new client, closing it");
                        close(cfd);
                }
        }
}

/* true if a daemon answers on the socket at path. */
static bool socket_is_live(const struct sockaddr_un *sa) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live;

        if (fd < 0)
                return false;
        live = connect(fd, (const struct sockaddr *) sa, sizeof(*sa)) == 0;
        close(fd);
        return live;
}

/* Create the socket's folder (one level, as /run/mpxd) when it is missing. */
static int make_parent_dir(const char *path) {
        char dir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
        char *slash;

        snprintf(dir, sizeof(dir), "%s", path);
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
                return 0;
        *slash = '\0';
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Lock "<path>.lock" so that two daemons starting at once cannot both bind. */
static int lock_socket_path(const char *path) {
        char lock[sizeof(((struct sockaddr_un *) 0)->sun_path) + 8];
        int fd;

        snprintf(lock, sizeof(lock), "%s.lock", path);
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int err = -errno;
                close(fd);
                return err == -EWOULDBLOCK ? -EADDRINUSE : err;
        }
        mpxd.lock_fd = fd;
        return 0;
}

/* Bind our own socket at mpxd.socket_path. */
static int bind_socket(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        const char *path = mpxd.socket_path;
        mode_t old_umask;
        int fd, r;

        if (strlen(path) >= sizeof(sa.sun_path)) {
                log_err("socket path '%s' is too long", path);
                return -ENAMETOOLONG;
        }
        memcpy(sa.sun_path, path, strlen(path) + 1);
        r = make_parent_dir(path);
        if (r < 0) {
                log_err("cannot create the folder of '%s': %s", path, strerror(-r));
                return r;
        }
        r = lock_socket_path(path);
        if (r < 0) {
                log_err("cannot lock '%s.lock': %s", path,
                        r == -EADDRINUSE ? "another mpxd holds it" : strerror(-r));
                return r;
        }
        if (socket_is_live(&sa)) {
                log_err("another mpxd is already serving on '%s'", path);
                return -EADDRINUSE;
        }
        /* Nobody answers: whatever is there is a stale socket of a dead daemon. */
        if (unlink(path) < 0 && errno != ENOENT) {
                log_err("cannot remove stale socket '%s': %s", path, strerror(errno));
                return -errno;
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Create the file with its final mode: no window where it is wider. */
        old_umask = umask(~mpxd.socket_mode & 0777);
        r = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
        umask(old_umask);
        if (r < 0 || listen(fd, SOMAXCONN) < 0) {
                r = -errno;
                log_err("cannot listen on '%s': %s", path, strerror(-r));
                close(fd);
                return r;
        }
        mpxd.socket_owned = true;
        mpxd.listen_fd = fd;
        return 0;
}

/* Adopt a socket passed by systemd, if any: 1 adopted, 0 none, negative on error. */
static int adopt_socket(void) {
        int n = sd_listen_fds(1);

        if (n <= 0)
                return n;
        if (n > 1) {
                log_err("systemd passed %d sockets; mpxd takes exactly one", n);
                return -EINVAL;
        }
        if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
                log_err("the socket systemd passed is not a listening AF_UNIX stream socket");
                return -EINVAL;
        }
        mpxd.listen_fd = SD_LISTEN_FDS_START;
        mpxd.socket_path = "the socket passed by systemd";
        (void) fcntl(mpxd.listen_fd, F_SETFL, fcntl(mpxd.listen_fd, F_GETFL) | O_NONBLOCK);
        (void) fcntl(mpxd.listen_fd, F_SETFD, FD_CLOEXEC);
        return 1;
}

static void server_signal_cb(evutil_socket_t sig, short what, void *arg) {
        switch (sig) {
        case SIGTERM:
        case SIGINT:
                log_info("%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                server_shutdown();
                break;
        case SIGHUP:
                log_info("SIGHUP received; there is no configuration file to reload, ignoring");
                break;
        }
}

int server_listen(void) {
        static const int signals[] = { SIGTERM, SIGINT, SIGHUP };
        int r;

        r = adopt_socket();
        if (r == 0)
                r = bind_socket();
        if (r < 0)
                return r;
        mpxd.ev_listen = event_new(mpxd.base, mpxd.listen_fd, EV_READ | EV_PERSIST, server_accept_cb, NULL);
        if (!mpxd.ev_listen || event_add(mpxd.ev_listen, NULL) < 0)
                return -ENOMEM;
        /* A client that vanishes mid-write must never kill the daemon. */
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
                mpxd.ev_signals[i] = evsignal_new(mpxd.base, signals[i], server_signal_cb, NULL);
                if (!mpxd.ev_signals[i] || evsignal_add(mpxd.ev_signals[i], NULL) < 0)
                        return -ENOMEM;
        }
        return 0;
}

int server_run(void) {
        log_info("serving on %s", mpxd.socket_path);
        (void) sd_notifyf(0, "READY=1\nSTATUS=serving\nMAINPID=%ld", (long) getpid());
        if (event_base_dispatch(mpxd.base) < 0)
                return 1;
        return 0;
}

void server_shutdown(void) {
        struct client *c, *next;

        if (mpxd.stopping)
                return;
        mpxd.stopping = true;
        (void) sd_notify(0, "STOPPING=1");
        /* Stop accepting first, then answer everyone who waits. */
        if (mpxd.ev_listen)
                event_del(mpxd.ev_listen);
        object_delete_all(-ESHUTDOWN);
        /* Best effort: give every client what fits in its socket now. */
        for (c = TAILQ_FIRST(&mpxd.clients); c; c = next) {
                next = TAILQ_NEXT(c, link);
                client_flush(c);
        }
        event_base_loopbreak(mpxd.base);
}
