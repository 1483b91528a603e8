/* SPDX-License-Identifier: MIT */
/*
 * The process-wide state of mpxd, its listening socket, its signals and its
 * end. The socket comes from systemd (sd_listen_fds) or is bound here: a lock
 * file beside it keeps two daemons from racing, a daemon that answers on the
 * path is never disturbed, and only a stale socket file is replaced.
 *
 * Signals are libevent events, so their handlers run in the loop like any
 * other callback and may do real work: SIGTERM and SIGINT stop, SIGHUP
 * reloads the configuration, SIGCHLD reaps children, SIGPIPE is ignored.
 *
 * This file also puts a configuration in force (config.c reads it), refuses
 * connections over limits.max_clients or their uid's quota
 * (limits.per_user.max_clients) with an EUSERS frame, and talks to the
 * service manager: READY=1, RELOADING=1, STOPPING=1, and a STATUS= line and
 * WATCHDOG=1 pings from one periodic timer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "client.h"
#include "configfile.h"
#include "journal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "queue.h"
#include "server.h"
#include "supervisor.h"
#include "user.h"
#include "wire.h"

/* Refused connections waiting for their first request; more are closed unanswered. */
#define REFUSALS_MAX 64
/* How long a refused connection may take to send its first request. */
#define REFUSAL_TIMEOUT_MS 1000
/* STATUS= changes at most this often. */
#define STATUS_INTERVAL_MS 1000
/* Out of descriptors: accepting pauses this long when no reserve is left, and the log speaks this often. */
#define ACCEPT_PAUSE_MS 1000
#define FD_LOG_MS 10000
/* What server_fds_check() keeps free for clients to come, beyond what pools ask for. */
#define FDS_HEADROOM 16
/* Descriptors besides the clients': listener, lock, reserve, refusals, libevent's own. */
#define FDS_RESERVED (REFUSALS_MAX + 64)

/*
 * A connection over limits.max_clients or its uid's quota of connections:
 * its first request is answered with EUSERS (so that the client learns
 * why), then it is closed.
 */
struct refusal {
        int fd;
        bool holds_reserve;             /* accepted with the reserve descriptor: give it back at the end */
        struct event ev;
        uint8_t hdr[WIRE_HEADER_SIZE];
        size_t got;
        TAILQ_ENTRY(refusal) link;
};

struct mpxd mpxd;

/* The socket path in force; it changes only when the daemon starts again. */
static char socket_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];

uint64_t loop_now_ms;

void loop_clock_update(void) {
        loop_now_ms = now_ms();
}

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
        mpxd.reserve_fd = -1;
        mpxd.max_message = WIRE_DEFAULT_MAX_MESSAGE;
        mpxd.max_frame = WIRE_DEFAULT_MAX_FRAME;
        mpxd.socket_mode = 0660;
        mpxd.socket_gid = (gid_t) -1;
        mpxd.max_clients = CONFIG_DEFAULT_MAX_CLIENTS;
        mpxd.max_objects = CONFIG_DEFAULT_MAX_OBJECTS;
        mpxd.max_output = CONFIG_DEFAULT_MAX_OUTPUT;
        mpxd.per_user.max_workers = CONFIG_DEFAULT_MAX_WORKERS;
        config_overrides_init(&mpxd.overrides);
        TAILQ_INIT(&mpxd.refusals);
        TAILQ_INIT(&mpxd.clients);
        TAILQ_INIT(&mpxd.dirty);
        TAILQ_INIT(&mpxd.held);
        TAILQ_INIT(&mpxd.objects_ordered);
        mpxd.started_ms = now_ms();
        mpxd.base = event_base_new();
        return mpxd.base ? 0 : -ENOMEM;
}

static void refusal_free(struct refusal *f);

void mpxd_done(void) {
        struct client *c;

        journal_close(false);
        while (!TAILQ_EMPTY(&mpxd.refusals))
                refusal_free(TAILQ_FIRST(&mpxd.refusals));
        while ((c = TAILQ_FIRST(&mpxd.clients)))
                client_lost(c, "daemon stopping");
        object_delete_all(-ESHUTDOWN);
        queue_unsent_pool_free();
        user_free_all();
        if (mpxd.ev_tick)
                event_free(mpxd.ev_tick);
        mpxd.ev_tick = NULL;
        mpxd.config = config_free(mpxd.config);
        for (size_t i = 0; i < ARRAY_SIZE(mpxd.ev_signals); i++)
                if (mpxd.ev_signals[i])
                        event_free(mpxd.ev_signals[i]);
        if (mpxd.ev_listen)
                event_free(mpxd.ev_listen);
        if (mpxd.ev_accept_resume)
                event_free(mpxd.ev_accept_resume);
        mpxd.ev_accept_resume = NULL;
        if (mpxd.reserve_fd >= 0)
                close(mpxd.reserve_fd);
        mpxd.reserve_fd = -1;
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

static void reserve_restore(void);

static void refusal_free(struct refusal *f) {
        bool reserve = f->holds_reserve;

        event_del(&f->ev);
        close(f->fd);
        TAILQ_REMOVE(&mpxd.refusals, f, link);
        mpxd.n_refusals--;
        free(f);
        if (reserve)
                reserve_restore();
}

/* The first request header of a refused connection arrived, or its time is up. */
static void refusal_cb(evutil_socket_t fd, short what, void *arg) {
        struct refusal *f = arg;

        if (what & EV_READ) {
                ssize_t n = read(fd, f->hdr + f->got, sizeof(f->hdr) - f->got);
                uint8_t reply[WIRE_HEADER_SIZE], drain[4096];
                struct wire_header h;

                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        return;
                if (n > 0) {
                        f->got += (size_t) n;
                        if (f->got < sizeof(f->hdr))
                                return;
                        wire_header_decode(f->hdr, &h);
                        h.body_len = 0;
                        h.status = WIRE_EUSERS;
                        wire_header_encode(reply, &h);
                        /* A new socket has room for 12 bytes; if not, the client is told nothing. */
                        (void) send(fd, reply, sizeof(reply), MSG_NOSIGNAL | MSG_DONTWAIT);
                        /* Read what is left of the request, so that closing does not reset the reply. */
                        while (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
                                ;
                }
        }
        refusal_free(f);
}

/* Why a connection is refused. */
enum refusal_reason {
        REFUSE_MAX_CLIENTS,             /* limits.max_clients */
        REFUSE_USER_QUOTA,              /* its uid's quota, logged by user_may_connect */
        REFUSE_NO_DESCRIPTORS,          /* accepted with the reserve descriptor, logged by accept_short_of_fds */
};

/*
 * A connection came in over a limit: answer its first request EUSERS, then
 * close it. Over limits.max_clients it is logged here.
 */
static void server_refuse(int fd, const struct ucred *cred, enum refusal_reason why) {
        struct timeval tv = { .tv_sec = REFUSAL_TIMEOUT_MS / 1000, .tv_usec = (REFUSAL_TIMEOUT_MS % 1000) * 1000 };
        struct refusal *f;
        uint64_t now = now_ms();

        mpxd.refused++;
        /* One line per ten seconds at most: a client reconnecting in a loop must not flood the log. */
        if (why == REFUSE_MAX_CLIENTS && (!mpxd.refused_logged_ms || now - mpxd.refused_logged_ms >= 10000)) {
                mpxd.refused_logged_ms = now;
                log_client(LOG_LEVEL_WARNING, 0, cred->pid, cred->uid,
                           "refusing a client (pid %ld, uid %ld) with EUSERS: %u clients are connected, the limit "
                           "(limits.max_clients); %llu refused since start", (long) cred->pid, (long) cred->uid,
                           mpxd.n_clients, (unsigned long long) mpxd.refused);
        }
        if (mpxd.n_refusals >= REFUSALS_MAX || !(f = calloc(1, sizeof(*f)))) {
                close(fd);
                if (why == REFUSE_NO_DESCRIPTORS)
                        reserve_restore();
                return;
        }
        f->fd = fd;
        f->holds_reserve = why == REFUSE_NO_DESCRIPTORS;
        event_assign(&f->ev, mpxd.base, fd, EV_READ | EV_PERSIST, refusal_cb, f);
        TAILQ_INSERT_TAIL(&mpxd.refusals, f, link);
        mpxd.n_refusals++;
        if (event_add(&f->ev, &tv) < 0)
                refusal_free(f);
}

/* ---- running out of descriptors ---- */

/*
 * When accept() fails for want of descriptors (EMFILE, ENFILE), the
 * pending connection stays in the backlog and the listening socket stays
 * readable: the loop would spin. Instead the daemon gives up a descriptor
 * it holds in reserve, accepts one client with it and refuses it EUSERS
 * (server_refuse), and stops accepting until that refusal ends and the
 * reserve is back, or for ACCEPT_PAUSE_MS when there is no reserve. So
 * every client gets an answer, one at a time, and the daemon sleeps in
 * between. The log says so once every FD_LOG_MS at most, with counts.
 */

/* Hold a descriptor back for the next shortage, and accept again if that waited for it. */
static void reserve_restore(void) {
        if (mpxd.reserve_fd < 0)
                mpxd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (mpxd.accept_paused && mpxd.reserve_fd >= 0) {
                mpxd.accept_paused = false;
                evtimer_del(mpxd.ev_accept_resume);
                event_add(mpxd.ev_listen, NULL);
        }
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg) {
        mpxd.accept_paused = false;
        if (mpxd.reserve_fd < 0)
                mpxd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        event_add(mpxd.ev_listen, NULL);
}

/* Stop accepting until the reserve is back, or ACCEPT_PAUSE_MS passed. */
static void accept_pause(void) {
        struct timeval tv = { .tv_sec = ACCEPT_PAUSE_MS / 1000, .tv_usec = (ACCEPT_PAUSE_MS % 1000) * 1000 };

        if (mpxd.accept_paused)
                return;
        mpxd.accept_paused = true;
        event_del(mpxd.ev_listen);
        evtimer_add(mpxd.ev_accept_resume, &tv);
}

/* Say what the shortage did since the last line: once every FD_LOG_MS at most. */
static void accept_log_shortage(int err) {
        uint64_t now = now_ms();

        if (mpxd.fd_logged_ms && now - mpxd.fd_logged_ms < FD_LOG_MS)
                return;
        log_warning("out of file descriptors (%s) with %u clients: %llu accept() failures and %llu clients refused "
                    "with EUSERS since the last report; accepting pauses until one is refused; raise the limit "
                    "of open files (LimitNOFILE=) or lower limits.max_clients", strerrorname_np(err),
                    mpxd.n_clients, (unsigned long long) (mpxd.fd_shortages - mpxd.fd_shortages_logged),
                    (unsigned long long) (mpxd.fd_refused - mpxd.fd_refused_logged));
        mpxd.fd_logged_ms = now;
        mpxd.fd_shortages_logged = mpxd.fd_shortages;
        mpxd.fd_refused_logged = mpxd.fd_refused;
}

/* Descriptors open in the daemon now: the entries of /proc/self/fd, less the one that lists them. */
static int fds_open(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = -1;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                n += e->d_name[0] != '.';
        closedir(d);
        return n;
}

int server_fds_check(unsigned more) {
        static uint64_t logged_ms;
        struct rlimit rl;
        int open_now;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || (open_now = fds_open()) < 0)
                return 0;
        if ((rlim_t) open_now + more + FDS_HEADROOM <= rl.rlim_cur)
                return 0;
        if (!logged_ms || now_ms() - logged_ms >= FD_LOG_MS) {
                logged_ms = now_ms();
                log_warning("refusing %u more descriptors with EUSERS: %d of the %llu open files allowed are open, "
                            "and %d are kept for clients", more, open_now, (unsigned long long) rl.rlim_cur,
                            FDS_HEADROOM);
        }
        return -EUSERS;
}

/* accept() failed with EMFILE or ENFILE: refuse one client with the reserve, and pause. */
static void accept_short_of_fds(int listen_fd, int err) {
        mpxd.fd_shortages++;
        if (mpxd.reserve_fd >= 0) {
                struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
                socklen_t len = sizeof(cred);
                int cfd;

                close(mpxd.reserve_fd);
                mpxd.reserve_fd = -1;
                cfd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd >= 0) {
                        (void) getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
                        mpxd.fd_refused++;
                        server_refuse(cfd, &cred, REFUSE_NO_DESCRIPTORS);
                } else
                        mpxd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        }
        accept_log_shortage(err);
        accept_pause();
}

static void server_accept_cb(evutil_socket_t fd, short what, void *arg) {
        /* Accept what is pending, a bounded number per wake-up to stay fair. */
        for (int i = 0; i < 64; i++) {
                struct ucred cred = { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
                socklen_t len = sizeof(cred);
                int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE)
                                accept_short_of_fds(fd, errno);
                        return;
                }
                (void) getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
                if (mpxd.n_clients >= mpxd.max_clients) {
                        server_refuse(cfd, &cred, REFUSE_MAX_CLIENTS);
                        continue;
                }
                if (user_may_connect(cred.uid) < 0) {
                        server_refuse(cfd, &cred, REFUSE_USER_QUOTA);
                        continue;
                }
                if (!client_new_as(cfd, cred.pid, cred.uid, cred.gid)) {
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
        /* Clients of the group may connect once the file is theirs (socket.group). */
        if (mpxd.socket_gid != (gid_t) -1 && chown(path, (uid_t) -1, mpxd.socket_gid) < 0) {
                r = -errno;
                log_err("cannot give the socket '%s' to group %lu: %s", path, (unsigned long) mpxd.socket_gid,
                        strerror(-r));
                close(fd);
                unlink(path);
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

/* Who is told of reaped children (server_on_child_exit). */
static void (*child_exit_fns[4])(pid_t pid, int status);

/* Register fn to be told of every reaped child. */
int server_on_child_exit(void (*fn)(pid_t pid, int status)) {
        for (size_t i = 0; i < ARRAY_SIZE(child_exit_fns); i++)
                if (!child_exit_fns[i]) {
                        child_exit_fns[i] = fn;
                        return 0;
                }
        return -ENOSPC;
}

/*
 * Reap every child that has exited, without ever waiting: one SIGCHLD may
 * stand for several children, so loop until there is none left.
 */
static void server_reap_children(void) {
        for (;;) {
                int status;
                pid_t pid = waitpid(-1, &status, WNOHANG);

                if (pid <= 0)
                        return;
                if (WIFEXITED(status))
                        log_debug("child %ld exited with status %d", (long) pid, WEXITSTATUS(status));
                else if (WIFSIGNALED(status))
                        log_debug("child %ld was killed by signal %d", (long) pid, WTERMSIG(status));
                for (size_t i = 0; i < ARRAY_SIZE(child_exit_fns); i++)
                        if (child_exit_fns[i])
                                child_exit_fns[i](pid, status);
        }
}

static void server_signal_cb(evutil_socket_t sig, short what, void *arg) {
        switch (sig) {
        case SIGTERM:
        case SIGINT:
                log_info("%s received, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
                server_shutdown();
                break;
        case SIGHUP:
                server_reload();
                break;
        case SIGCHLD:
                server_reap_children();
                break;
        }
}

/*
 * Raise the soft limit of open files to the hard one, as the daemon may need
 * every descriptor it can have, and say once (for each need) when
 * limits.max_clients and the daemon's own descriptors cannot fit under it.
 */
static void server_raise_nofile(void) {
        static rlim_t warned_for;
        rlim_t want = (rlim_t) mpxd.max_clients + FDS_RESERVED;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        (void) getrlimit(RLIMIT_NOFILE, &rl);
        }
        if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want || warned_for == want)
                return;
        warned_for = want;
        log_warning("the open file limit (%llu) is below the %llu that limits.max_clients (%u) and mpxd's own "
                    "descriptors need; past it clients are refused with EUSERS: raise it (LimitNOFILE=) or lower "
                    "limits.max_clients", (unsigned long long) rl.rlim_cur, (unsigned long long) want,
                    mpxd.max_clients);
}

/* Declare the configuration's objects; on reload a failure is logged and counted, at start it is fatal. */
static int server_declare_objects(const struct config *c, bool reload) {
        int failed = 0, created = 0;

        for (size_t i = 0; i < c->n_objects; i++) {
                const struct config_object *o = &c->objects[i];
                const char *type = wire_type_name(o->type);
                int r = config_declare(o);

                if (r > 0) {
                        created++;
                        log_object(LOG_LEVEL_DEBUG, o->name, "%s '%s' declared by %s:%u", type, o->name,
                                   c->path, o->line);
                        continue;
                }
                if (r == 0)
                        continue;
                failed++;
                if (reload && (r == -EEXIST || r == -EPROTOTYPE)) {
                        log_object(LOG_LEVEL_WARNING, o->name, "%s:%u: %s '%s' %s; keeping it as it is",
                                   c->path, o->line, type, o->name,
                                   r == -EEXIST ? "exists with other parameters" : "is the name of an object of another type");
                        continue;
                }
                log_object(LOG_LEVEL_ERR, o->name, "%s:%u: cannot declare %s '%s': %s", c->path, o->line, type,
                           o->name,
                           r == -EUSERS ? "too many objects (limits.max_objects)" :
                           r == -EEXIST ? "it exists with other parameters" :
                           r == -EPROTOTYPE ? "the name belongs to an object of another type" : strerror(-r));
                if (!reload)
                        return r;
        }
        if (created > 0)
                log_info("%d object%s declared by %s", created, created == 1 ? "" : "s", c->path);
        return failed;
}

/* Put a configuration in force and declare its objects; takes ownership of c. */
int server_apply_config(struct config *c, bool reload) {
        struct config *old = mpxd.config;
        int r;

        if (!reload) {
                snprintf(socket_path, sizeof(socket_path), "%s", c->socket_path);
                mpxd.socket_path = socket_path;
                mpxd.socket_mode = c->socket_mode;
                mpxd.socket_gid = c->socket_gid;
        } else if (strcmp(socket_path, c->socket_path) != 0 || mpxd.socket_mode != c->socket_mode ||
                   mpxd.socket_gid != c->socket_gid)
                log_notice("the socket settings changed; they apply when mpxd starts again, ignoring them until then");
        log_set_level(c->log_level);
        mpxd.max_message = c->max_message;
        mpxd.max_clients = c->max_clients;
        mpxd.max_objects = c->max_objects;
        mpxd.max_memory = c->max_memory;
        mpxd.max_output = c->max_output;
        mpxd.max_waiters_per_client = c->max_waiters_per_client;
        mpxd.per_user = c->per_user;
        if (reload)
                server_raise_nofile();
        mpxd.config = c;
        config_free(old);
        if (!reload) {
                /* Durable objects come back before the configuration declares its own. */
                r = journal_open(c);
                if (r < 0) {
                        log_err("not starting: the durable objects of %s cannot be recovered", c->durability_dir);
                        return r;
                }
        } else
                journal_configure(c);
        r = server_declare_objects(c, reload);
        return r;
}

/* Adopt or bind the listening socket, and turn signals into loop events. */
int server_listen(void) {
        static const int signals[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
        int r;

        server_raise_nofile();
        r = adopt_socket();
        if (r == 0)
                r = bind_socket();
        if (r < 0)
                return r;
        mpxd.ev_listen = event_new(mpxd.base, mpxd.listen_fd, EV_READ | EV_PERSIST, server_accept_cb, NULL);
        mpxd.ev_accept_resume = evtimer_new(mpxd.base, accept_resume_cb, NULL);
        if (!mpxd.ev_listen || !mpxd.ev_accept_resume || event_add(mpxd.ev_listen, NULL) < 0)
                return -ENOMEM;
        /* Held back for a shortage of descriptors: see accept_short_of_fds(). */
        mpxd.reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        /* A client that vanishes mid-write must never kill the daemon. */
        signal(SIGPIPE, SIG_IGN);
        for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
                mpxd.ev_signals[i] = evsignal_new(mpxd.base, signals[i], server_signal_cb, NULL);
                if (!mpxd.ev_signals[i] || evsignal_add(mpxd.ev_signals[i], NULL) < 0)
                        return -ENOMEM;
        }
        /* Pools learn of their workers' ends from the SIGCHLD handling above. */
        return supervisor_init();
}

/* The STATUS= line: what the daemon serves, and a failed reload until a good one. */
static void server_format_status(char *buf, size_t size) {
        int n = snprintf(buf, size, "serving %u client%s, %u object%s, %u waiter%s", mpxd.n_clients,
                         mpxd.n_clients == 1 ? "" : "s", mpxd.n_objects, mpxd.n_objects == 1 ? "" : "s",
                         mpxd.n_waiters, mpxd.n_waiters == 1 ? "" : "s");

        if (mpxd.reload_error[0] && n > 0 && (size_t) n < size)
                snprintf(buf + n, size - (size_t) n, "; last reload failed, old configuration kept: %s",
                         mpxd.reload_error);
}

/* Send STATUS= when it changed, at most once per STATUS_INTERVAL_MS. */
static void server_update_status(void) {
        char status[sizeof(mpxd.status)];
        uint64_t now = now_ms();

        if (now - mpxd.status_ms < STATUS_INTERVAL_MS)
                return;
        server_format_status(status, sizeof(status));
        if (strcmp(status, mpxd.status) == 0)
                return;
        (void) sd_notifyf(0, "STATUS=%s", status);
        memcpy(mpxd.status, status, sizeof(status));
        mpxd.status_ms = now;
}

static void server_tick_cb(evutil_socket_t fd, short what, void *arg) {
        if (mpxd.watchdog_usec)
                (void) sd_notify(0, "WATCHDOG=1");
        server_update_status();
}

/*
 * One periodic timer for the service manager: WATCHDOG=1 at half the
 * watchdog period when systemd set one, and STATUS= updates.
 */
static int server_start_tick(void) {
        uint64_t usec = 0, period_usec = STATUS_INTERVAL_MS * 1000;
        struct timeval tv;

        if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
                mpxd.watchdog_usec = usec;
                if (usec / 2 < period_usec)
                        period_usec = usec / 2;
                log_debug("watchdog of %llu ms: pinging every %llu ms", (unsigned long long) usec / 1000,
                          (unsigned long long) period_usec / 1000);
        } else if (!getenv("NOTIFY_SOCKET"))
                return 0;
        tv.tv_sec = (time_t) (period_usec / 1000000);
        tv.tv_usec = (suseconds_t) (period_usec % 1000000);
        mpxd.ev_tick = event_new(mpxd.base, -1, EV_PERSIST, server_tick_cb, NULL);
        if (!mpxd.ev_tick || event_add(mpxd.ev_tick, &tv) < 0)
                return -ENOMEM;
        return 0;
}

/* Tell the service manager READY=1, then serve until the loop is broken. */
int server_run(void) {
        if (server_start_tick() < 0)
                return 1;
        log_info("serving on %s", mpxd.socket_path);
        server_format_status(mpxd.status, sizeof(mpxd.status));
        mpxd.status_ms = now_ms();
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s\nMAINPID=%ld", mpxd.status, (long) getpid());
        if (mpxd.watchdog_usec)
                (void) sd_notify(0, "WATCHDOG=1");
        if (event_base_dispatch(mpxd.base) < 0)
                return 1;
        return 0;
}

/* SIGHUP: read the configuration again; a bad file changes nothing and is reported. */
void server_reload(void) {
        const char *path = mpxd.config_path;
        struct config *c = NULL;
        char *errors = NULL, *line, *save = NULL;
        struct timespec ts;
        int r;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        (void) sd_notifyf(0, "RELOADING=1\nSTATUS=reloading %s\nMONOTONIC_USEC=%llu", path,
                          (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000);
        log_info("SIGHUP received, reloading %s", path);
        r = config_load(path, mpxd.config_required, &c, &errors);
        if (r >= 0)
                r = config_override(c, &mpxd.overrides, &errors);
        if (r < 0) {
                /* Each error on its own line, then the one line the service manager shows. */
                for (line = errors ? strtok_r(errors, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
                        log_err("%s", line);
                snprintf(mpxd.reload_error, sizeof(mpxd.reload_error), "%s",
                         errors ? errors : strerror(-r));
                log_err("reloading %s failed; keeping the configuration in force", path);
                config_free(c);
                free(errors);
        } else {
                int failed = server_apply_config(c, true);

                if (failed > 0)
                        snprintf(mpxd.reload_error, sizeof(mpxd.reload_error),
                                 "%d object%s of %s could not be declared (see the log)", failed,
                                 failed == 1 ? "" : "s", path);
                else
                        mpxd.reload_error[0] = '\0';
                log_info("reloaded %s", path);
        }
        server_format_status(mpxd.status, sizeof(mpxd.status));
        mpxd.status_ms = now_ms();
        (void) sd_notifyf(0, "READY=1\nSTATUS=%s", mpxd.status);
}

/* Stop accepting, answer every waiter -ESHUTDOWN, flush, and break the loop. */
void server_shutdown(void) {
        if (mpxd.stopping)
                return;
        mpxd.stopping = true;
        (void) sd_notify(0, "STOPPING=1\nSTATUS=stopping");
        /* Stop accepting first, then answer everyone who waits. */
        if (mpxd.ev_listen)
                event_del(mpxd.ev_listen);
        /* Pool workers first: no process of ours outlives the daemon. */
        supervisor_stop_all();
        /* Write what is acknowledged, compact, and stop recording before the objects go. */
        journal_close(true);
        object_delete_all(-ESHUTDOWN);
        /* Best effort: give every client what fits in its socket now. */
        client_flush_all();
        event_base_loopbreak(mpxd.base);
}
