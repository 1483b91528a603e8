/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor: the worker processes of pools, run by the daemon
 * like a service manager runs a service. This file forks and execs a worker
 * as the user it is told, reads what it writes, learns of its end from
 * server.c's SIGCHLD handling and tells its pool (whose policy decides on a
 * restart: pool.c), forwards signals, and stops it (SIGTERM, a grace period,
 * SIGKILL). supervisor.h has the interface.
 *
 * A process (struct worker) is on one daemon-wide list, found there by pid
 * when it is reaped. It belongs to its pool until it ends, and outlives a
 * pool that is deleted outright (it is killed at once and only waited for).
 * Each worker's stdout and stderr is one pipe, read by a libevent read
 * event, split into lines that go to the daemon's log; a reader lives until
 * the pipe's end of file, which may come after the process is reaped.
 *
 * Nothing here blocks the loop or sleeps: reaping is server.c's non-blocking
 * waitpid loop, output is read as it comes. The one exception is
 * supervisor_stop_all(), called as the daemon stops: it signals every worker
 * and waits for them, bounded, so that no worker outlives mpxd.
 *
 * Whom a worker runs as is decided in the daemon before the fork, so that
 * the child only makes system calls: the user of a user pool (its uid and
 * primary group, no other group, and the resource limits of the client that
 * started the pool), or else the configured pool_user when mpxd is root, or
 * mpxd's own user. The checks a pool makes before starting one as a user
 * are here too: whether its command is there with that user's file access
 * rights, and what resource limits the client's process has.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "configfile.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "server.h"
#include "supervisor.h"
#include "user.h"
#include "wire.h"

/* When mpxd stops: SIGTERM, this long, SIGKILL, at most this long again. */
#define SUPERVISOR_SHUTDOWN_TERM_MS     1000
#define SUPERVISOR_SHUTDOWN_KILL_MS     800
/* One line of a worker's output in the log; a longer one is cut into several. */
#define SUPERVISOR_LOG_LINE_MAX         2048u
/* What one read of a worker's pipe takes, so that a chatty worker cannot hold the loop. */
#define SUPERVISOR_LOG_READ             16384u

/* A worker's stdout and stderr, read until end of file. */
struct worker_log {
        int fd;
        struct event ev;
        char object[WIRE_NAME_MAX + 1]; /* the pool's name, which may be gone before the pipe ends */
        unsigned index;
        size_t len;
        char line[SUPERVISOR_LOG_LINE_MAX];
        TAILQ_ENTRY(worker_log) link;
};

/* Every worker not reaped yet, of every pool (and of deleted ones), in start order. */
static TAILQ_HEAD(, worker) all_workers = TAILQ_HEAD_INITIALIZER(all_workers);
/* Every worker output pipe not at its end yet. */
static TAILQ_HEAD(, worker_log) logs = TAILQ_HEAD_INITIALIZER(logs);

/* How a process ended, for the log: "exited with status 3", "was killed by signal 9 (SIGKILL)". */
static void describe_exit(int status, char *buf, size_t size) {
        if (WIFEXITED(status))
                snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status)) {
                const char *abbrev = sigabbrev_np(WTERMSIG(status));

                snprintf(buf, size, "was killed by signal %d (SIG%s)%s", WTERMSIG(status), abbrev ? abbrev : "?",
                         WCOREDUMP(status) ? ", core dumped" : "");
        } else
                snprintf(buf, size, "ended with wait status %d", status);
}

/* ---- worker output ---- */

static void worker_log_line(struct worker_log *lg) {
        log_object(LOG_LEVEL_INFO, lg->object, "pool '%s' worker %u: %.*s", lg->object, lg->index, (int) lg->len,
                   lg->line);
        lg->len = 0;
}

/* Split bytes into lines; control characters would garble the log, so they become '?'. */
static void worker_log_feed(struct worker_log *lg, const uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint8_t ch = buf[i];

                if (ch == '\n') {
                        worker_log_line(lg);
                        continue;
                }
                if (ch == '\r' && i + 1 < n && buf[i + 1] == '\n')
                        continue;
                lg->line[lg->len++] = (char) ((ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : ch);
                if (lg->len == sizeof(lg->line))
                        worker_log_line(lg);
        }
}

static void worker_log_free(struct worker_log *lg) {
        if (lg->len > 0)
                worker_log_line(lg);
        event_del(&lg->ev);
        close(lg->fd);
        TAILQ_REMOVE(&logs, lg, link);
        free(lg);
}

/* Read once (a bounded amount) per wake-up; end of file ends the reader. */
static void worker_log_cb(evutil_socket_t fd, short what, void *arg) {
        struct worker_log *lg = arg;
        uint8_t buf[SUPERVISOR_LOG_READ];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                worker_log_free(lg);
                return;
        }
        worker_log_feed(lg, buf, (size_t) n);
}

/* Take what is in a pipe now, without waiting, then end its reader (mpxd is stopping). */
static void worker_log_drain(struct worker_log *lg) {
        uint8_t buf[SUPERVISOR_LOG_READ];
        ssize_t n;

        while ((n = read(lg->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
                if (n > 0)
                        worker_log_feed(lg, buf, (size_t) n);
        worker_log_free(lg);
}

/* ---- processes ---- */

/* Signal a worker's process group (setsid made it one), or the worker alone before it got there. */
int supervisor_signal(struct worker *w, int sig) {
        if (kill(-w->pid, sig) == 0 || kill(w->pid, sig) == 0)
                return 0;
        return -errno;
}

static const char *worker_pool_name(const struct worker *w) {
        return w->pool_name ? w->pool_name : "(deleted)";
}

static void worker_kill_cb(evutil_socket_t fd, short what, void *arg) {
        struct worker *w = arg;

        w->kill_armed = false;
        log_object(LOG_LEVEL_NOTICE, worker_pool_name(w),
                   "pool '%s': worker %u (pid %ld) is still running after its grace period; sending SIGKILL",
                   worker_pool_name(w), w->index, (long) w->pid);
        (void) supervisor_signal(w, SIGKILL);
}

/* SIGKILL the worker grace_ms from now, unless it is due sooner already; negative: never. */
static void worker_arm_kill(struct worker *w, int64_t grace_ms) {
        uint64_t at;
        struct timeval tv;

        /* Past 68 years is never, as for timeouts: libevent could not keep such a timer. */
        if (grace_ms < 0 || grace_ms / 1000 > INT32_MAX)
                return;
        at = now_ms() + (uint64_t) grace_ms;
        if (w->kill_armed && w->kill_at_ms <= at)
                return;
        tv.tv_sec = (time_t) (grace_ms / 1000);
        tv.tv_usec = (suseconds_t) (grace_ms % 1000) * 1000;
        if (evtimer_add(&w->kill_timer, &tv) < 0) {
                /* No timer: do not leave it running unbounded. */
                (void) supervisor_signal(w, SIGKILL);
                return;
        }
        w->kill_armed = true;
        w->kill_at_ms = at;
}

/* SIGTERM a worker that is to go, and SIGKILL it after grace_ms. */
void supervisor_stop(struct worker *w, int64_t grace_ms) {
        if (!w->leaving) {
                w->leaving = true;
                (void) supervisor_signal(w, SIGTERM);
        }
        worker_arm_kill(w, grace_ms);
}

/* ---- whom workers run as ---- */

/* Whom workers run as: the user of a user pool, or the configured pool_user when mpxd is root. */
struct run_as {
        bool change;
        uid_t uid;
        gid_t gid;
        gid_t *groups;
        int n_groups;
        char user[256];
        char home[1024];
        const struct rlimit *limits;    /* RLIMIT_NLIMITS of them to take first, or NULL */
};

/*
 * A user pool's user: its uid and primary group and no other group. The user
 * database may not know the uid (a container's, say): then USER and LOGNAME
 * are the number and HOME is /.
 */
static int run_as_starter(const struct worker_cred *cred, struct run_as *as) {
        struct passwd pw, *res = NULL;
        char buf[4096];

        as->change = true;
        as->uid = cred->uid;
        as->gid = cred->gid;
        as->groups = malloc(sizeof(*as->groups));
        if (!as->groups)
                return -ENOMEM;
        as->groups[0] = as->gid;
        as->n_groups = 1;
        as->limits = cred->has_limits ? cred->limits : NULL;
        snprintf(as->user, sizeof(as->user), "%ld", (long) as->uid);
        snprintf(as->home, sizeof(as->home), "/");
        if (getpwuid_r(as->uid, &pw, buf, sizeof(buf), &res) == 0 && res) {
                if (res->pw_name && *res->pw_name)
                        snprintf(as->user, sizeof(as->user), "%s", res->pw_name);
                if (res->pw_dir && *res->pw_dir)
                        snprintf(as->home, sizeof(as->home), "%s", res->pw_dir);
        }
        return 0;
}

/* Resolve whom a worker runs as in the parent, so that the child only makes system calls. */
static int run_as_resolve(const struct worker_cred *cred, struct run_as *as) {
        const struct config *c = mpxd.config;
        struct passwd pw, *res = NULL;
        static bool warned;
        char buf[4096];
        int n = 16;

        memset(as, 0, sizeof(*as));
        if (cred)
                return run_as_starter(cred, as);
        if (!c || !c->pool_user)
                return 0;
        if (geteuid() != 0) {
                if (!warned && c->pool_uid != geteuid())
                        log_notice("pool_user \"%s\" applies when mpxd runs as root; workers run as mpxd's own "
                                   "user, ignoring", c->pool_user);
                warned = true;
                return 0;
        }
        as->change = true;
        as->uid = c->pool_uid;
        as->gid = c->pool_gid;
        snprintf(as->user, sizeof(as->user), "%s", c->pool_user);
        snprintf(as->home, sizeof(as->home), "/");
        if (getpwuid_r(as->uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_dir)
                snprintf(as->home, sizeof(as->home), "%s", res->pw_dir);
        for (;;) {
                int got = n;
                gid_t *g = realloc(as->groups, (size_t) n * sizeof(*g));

                if (!g)
                        return -ENOMEM;
                as->groups = g;
                if (getgrouplist(as->user, as->gid, as->groups, &got) >= 0) {
                        as->n_groups = got;
                        return 0;
                }
                if (got <= n || got > 65536)
                        break;
                n = got;
        }
        /* The user's groups cannot be listed: its primary group alone. */
        as->groups[0] = as->gid;
        as->n_groups = 1;
        return 0;
}

/* ---- starting ---- */

/* The daemon's socket path for MPX_SOCKET: what it listens on, made absolute. */
static void daemon_socket_path(char *buf, size_t size) {
        struct sockaddr_un sa;
        socklen_t len = sizeof(sa);
        char path[sizeof(sa.sun_path) + 1] = "";
        char cwd[4096];

        memset(&sa, 0, sizeof(sa));
        if (mpxd.listen_fd >= 0 && getsockname(mpxd.listen_fd, (struct sockaddr *) &sa, &len) == 0 &&
            len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0])
                memcpy(path, sa.sun_path, sizeof(sa.sun_path));
        else if (mpxd.config && mpxd.config->socket_path)
                snprintf(path, sizeof(path), "%s", mpxd.config->socket_path);
        if (path[0] != '/' && getcwd(cwd, sizeof(cwd)))
                snprintf(buf, size, "%s/%s", cwd, path);
        else
                snprintf(buf, size, "%s", path);
}

static char **env_free(char **env) {
        for (size_t i = 0; env && env[i]; i++)
                free(env[i]);
        free(env);
        return NULL;
}

/*
 * A worker's environment: the daemon's, without what belongs to the daemon
 * alone (the service manager's sockets), with MPX_SOCKET, MPX_POOL and
 * MPX_WORKER, and the user's USER, LOGNAME and HOME when it changes.
 */
static char **worker_env(const struct worker_spec *spec, const struct run_as *as) {
        static const char *const drop[] = {
                "MPX_SOCKET", "MPX_POOL", "MPX_WORKER", "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC",
                "LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "JOURNAL_STREAM", "USER", "LOGNAME", "HOME",
        };
        char socket_path[4200];
        size_t n = 0, k = 0;
        char **env;

        for (char **e = environ; e && *e; e++)
                n++;
        env = calloc(n + 8, sizeof(*env));
        if (!env)
                return NULL;
        for (char **e = environ; e && *e; e++) {
                size_t len = strcspn(*e, "=");
                bool dropped = false;

                for (size_t i = 0; i < ARRAY_SIZE(drop) && !dropped; i++)
                        /* USER, LOGNAME and HOME stay when the user does not change. */
                        dropped = strlen(drop[i]) == len && strncmp(*e, drop[i], len) == 0 &&
                                  (as->change || i < ARRAY_SIZE(drop) - 3);
                if (!dropped && !(env[k++] = strdup(*e)))
                        return env_free(env);
        }
        daemon_socket_path(socket_path, sizeof(socket_path));
        if (asprintf(&env[k++], "MPX_SOCKET=%s", socket_path) < 0 ||
            asprintf(&env[k++], "MPX_POOL=%s", spec->pool_name) < 0 ||
            asprintf(&env[k++], "MPX_WORKER=%u", spec->index) < 0) {
                env[k - 1] = NULL;
                return env_free(env);
        }
        if (as->change && (asprintf(&env[k++], "USER=%s", as->user) < 0 ||
                           asprintf(&env[k++], "LOGNAME=%s", as->user) < 0 ||
                           asprintf(&env[k++], "HOME=%s", as->home) < 0)) {
                env[k - 1] = NULL;
                return env_free(env);
        }
        return env;
}

/* Close every descriptor from first on. */
static void close_from(int first) {
        struct rlimit rl;

#ifdef SYS_close_range
        if (syscall(SYS_close_range, (unsigned) first, ~0u, 0) == 0)
                return;
#endif
        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1u << 20)
                rl.rlim_cur = 1u << 16;
        for (int fd = first; fd < (int) rl.rlim_cur; fd++)
                (void) close(fd);
}

/*
 * Set one resource limit in a child. Without CAP_SYS_RESOURCE a hard limit
 * cannot be raised: then the lower of the two applies, and when even that
 * is refused, the limit in force does if it is no higher than the user's.
 * Either way the user gets no more than its own.
 */
static int take_limit(int resource, const struct rlimit *want) {
        struct rlimit lim = *want, cur;

        if (setrlimit(resource, &lim) == 0)
                return 0;
        if (errno != EPERM || getrlimit(resource, &cur) < 0)
                return -1;
        /* RLIM_INFINITY is the largest value: plain minimums. */
        if (lim.rlim_max > cur.rlim_max)
                lim.rlim_max = cur.rlim_max;
        if (lim.rlim_cur > lim.rlim_max)
                lim.rlim_cur = lim.rlim_max;
        if (setrlimit(resource, &lim) == 0 || (cur.rlim_cur <= want->rlim_cur && cur.rlim_max <= want->rlim_max))
                return 0;
        errno = EPERM;
        return -1;
}

/* A kernel struct sigaction of zeros, larger than any architecture's. */
static const unsigned long kernel_sigaction_dfl[16];

/*
 * In the child: default signal dispositions, a session and process group of
 * its own, /dev/null and the log pipe as stdio and nothing else, the pool
 * user's rights, an empty signal mask, then the command. Only system calls
 * here: everything was prepared by the parent.
 */
static __attribute__((noreturn)) void worker_exec(char *const *argv, char **env, int in_fd, int out_fd, const struct run_as *as) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        sigset_t none;
        int in, out;

        for (int sig = 1; sig < NSIG; sig++)
                if (sigaction(sig, &dfl, NULL) < 0 && sig != SIGKILL && sig != SIGSTOP)
                        /*
                         * glibc keeps the signals it reserves (32, 33) to itself, but one
                         * may have come ignored from mpxd's parent, and ignored stays
                         * ignored across exec: a zeroed kernel sigaction is SIG_DFL, no
                         * flags, an empty mask, whatever the architecture's layout.
                         */
                        (void) syscall(SYS_rt_sigaction, sig, kernel_sigaction_dfl, NULL, (size_t) 8);
        (void) setsid();
        /* Out of the way of 0, 1 and 2 first, in case the daemon's own stdio was closed. */
        in = fcntl(in_fd, F_DUPFD, 3);
        out = fcntl(out_fd, F_DUPFD, 3);
        if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
                _exit(126);
        close_from(3);
        /*
         * Real, effective and saved ids all: nothing of root may be taken back
         * after exec. An id of -1 would change nothing: never run so.
         */
        if (as->change && (as->uid == (uid_t) -1 || as->gid == (gid_t) -1)) {
                dprintf(2, "cannot run as user %s: no uid or gid\n", as->user);
                _exit(126);
        }
        /* The user's own limits, taken while root may still raise a hard one. */
        for (int r = 0; as->limits && r < RLIMIT_NLIMITS; r++)
                if (take_limit(r, &as->limits[r]) < 0) {
                        dprintf(2, "cannot take the resource limits of user %s: %s\n", as->user, strerror(errno));
                        _exit(126);
                }
        if (as->change && (setgroups((size_t) as->n_groups, as->groups) < 0 ||
                           setresgid(as->gid, as->gid, as->gid) < 0 || setresuid(as->uid, as->uid, as->uid) < 0)) {
                dprintf(2, "cannot run as user %s: %s\n", as->user, strerror(errno));
                _exit(126);
        }
        sigemptyset(&none);
        (void) sigprocmask(SIG_SETMASK, &none, NULL);
        execvpe(argv[0], argv, env);
        dprintf(2, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
}

/* Fork and exec one worker, with a reader for its output (see supervisor.h). */
int supervisor_start(const struct worker_spec *spec, struct worker **ret) {
        struct run_as as = { .change = false };
        struct worker *w = calloc(1, sizeof(*w));
        struct worker_log *lg = calloc(1, sizeof(*lg));
        int pfd[2] = { -1, -1 }, devnull = -1, r = 0;
        char **env = NULL;
        sigset_t all, old;
        pid_t pid;

        if (!w || !lg || run_as_resolve(spec->cred, &as) < 0 || !(env = worker_env(spec, &as))) {
                r = -ENOMEM;
                goto fail;
        }
        if (pipe2(pfd, O_CLOEXEC) < 0 || (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
                r = -errno;
                goto fail;
        }
        /*
         * Every signal blocked across fork: a signal that reached the child
         * before it reset its handlers would run libevent's handler there, and
         * that writes to the daemon's own signal socket.
         */
        sigfillset(&all);
        (void) sigprocmask(SIG_SETMASK, &all, &old);
        pid = fork();
        if (pid == 0)
                worker_exec(spec->argv, env, devnull, pfd[1], &as);
        if (pid < 0)
                r = -errno;
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto fail;
        close(pfd[1]);
        close(devnull);
        env_free(env);
        free(as.groups);

        w->pool = spec->pool;
        w->pool_name = spec->pool_name;
        w->index = spec->index;
        w->pid = pid;
        w->started_ms = now_ms();
        w->ended = spec->ended;
        evtimer_assign(&w->kill_timer, mpxd.base, worker_kill_cb, w);
        TAILQ_INSERT_TAIL(&all_workers, w, link);

        lg->fd = pfd[0];
        lg->index = spec->index;
        snprintf(lg->object, sizeof(lg->object), "%s", spec->pool_name);
        (void) fcntl(lg->fd, F_SETFL, fcntl(lg->fd, F_GETFL) | O_NONBLOCK);
        event_assign(&lg->ev, mpxd.base, lg->fd, EV_READ | EV_PERSIST, worker_log_cb, lg);
        if (event_add(&lg->ev, NULL) < 0) {
                log_object(LOG_LEVEL_WARNING, spec->pool_name, "pool '%s': cannot read the output of worker %u, "
                           "ignoring", spec->pool_name, spec->index);
                close(lg->fd);
                free(lg);
        } else
                TAILQ_INSERT_TAIL(&logs, lg, link);
        if (as.change)
                log_object(LOG_LEVEL_INFO, spec->pool_name, "pool '%s': worker %u started (pid %ld) as user %s "
                           "(uid %ld, gid %ld)", spec->pool_name, spec->index, (long) pid, as.user, (long) as.uid,
                           (long) as.gid);
        else
                log_object(LOG_LEVEL_INFO, spec->pool_name, "pool '%s': worker %u started (pid %ld) as mpxd's "
                           "own user (uid %ld, gid %ld)", spec->pool_name, spec->index, (long) pid,
                           (long) geteuid(), (long) getegid());
        *ret = w;
        return 0;

fail:
        if (pfd[0] >= 0) {
                close(pfd[0]);
                close(pfd[1]);
        }
        if (devnull >= 0)
                close(devnull);
        env_free(env);
        free(as.groups);
        free(lg);
        free(w);
        return r;
}

/* ---- ends ---- */

/* Charge u for a worker that left its slot, until it is reaped (see supervisor.h). */
void supervisor_charge(struct worker *w, struct user *u) {
        if (!u || w->charged)
                return;
        w->charged = u;
        user_workers_added(u, 1);
}

/* A worker's pool is being deleted: the worker is killed at once and only waited for. */
void supervisor_abandon(struct worker *w) {
        w->pool = NULL;
        w->pool_name = NULL;
        w->leaving = true;
        if (w->kill_armed)
                evtimer_del(&w->kill_timer);
        w->kill_armed = false;
        (void) supervisor_signal(w, SIGKILL);
}

/* A worker is reaped or forgotten: off the list, its timer stopped, what it was charged given back. */
static void worker_unlink(struct worker *w) {
        TAILQ_REMOVE(&all_workers, w, link);
        if (w->kill_armed)
                evtimer_del(&w->kill_timer);
        user_workers_removed(w->charged, 1);
        w->charged = NULL;
}

/* A worker was reaped: tell its pool, which may be deleted here, then free it. */
static void worker_reaped(struct worker *w, int status) {
        struct worker_end end = { .reaped = true, .status = status, .ran_ms = now_ms() - w->started_ms };
        char how[96];

        describe_exit(status, how, sizeof(how));
        end.how = how;
        worker_unlink(w);
        if (w->pool)
                w->ended(w, &end);
        else
                log_info("worker %u (pid %ld) of a deleted pool %s", w->index, (long) w->pid, how);
        free(w);
}

/* server.c reaped a child: ours if a worker has its pid. */
static void supervisor_child_exited(pid_t pid, int status) {
        struct worker *w;

        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pid == pid) {
                        worker_reaped(w, status);
                        /* A stop may have been answered: send it now, as every event does. */
                        client_flush_dirty();
                        return;
                }
}

/* Register for SIGCHLD's reaping, once. */
int supervisor_init(void) {
        static bool registered;
        int r;

        if (registered)
                return 0;
        r = server_on_child_exit(supervisor_child_exited);
        if (r < 0) {
                log_err("cannot watch pool workers: %s", strerror(-r));
                return r;
        }
        registered = true;
        return 0;
}

/* Reap the workers that have exited; wait for SIGCHLD until deadline while any is left. */
static void supervisor_reap_until(uint64_t deadline_ms) {
        sigset_t chld, old;

        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        /* Blocked before each pass, so that an exit after the pass leaves SIGCHLD pending. */
        (void) sigprocmask(SIG_BLOCK, &chld, &old);
        for (;;) {
                struct worker *w, *next;
                uint64_t t = now_ms();
                struct timespec ts;

                for (w = TAILQ_FIRST(&all_workers); w; w = next) {
                        int status;
                        pid_t r;

                        next = TAILQ_NEXT(w, link);
                        r = waitpid(w->pid, &status, WNOHANG);
                        if (r == w->pid)
                                worker_reaped(w, status);
                        else if (r < 0 && errno == ECHILD) {
                                /* Reaped elsewhere: it is gone all the same. */
                                log_debug("worker pid %ld was reaped elsewhere", (long) w->pid);
                                worker_reaped(w, 0);
                        }
                        /* worker_reaped may delete a pool, never another worker: next stays valid. */
                }
                if (TAILQ_EMPTY(&all_workers) || t >= deadline_ms)
                        break;
                ts.tv_sec = (time_t) ((deadline_ms - t) / 1000);
                ts.tv_nsec = (long) ((deadline_ms - t) % 1000) * 1000000;
                (void) sigtimedwait(&chld, NULL, &ts);
        }
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
}

/* mpxd is stopping: SIGTERM, then SIGKILL, every worker, reaped within a bound (see supervisor.h). */
void supervisor_stop_all(void) {
        struct worker *w, *next;
        unsigned n = 0;

        TAILQ_FOREACH(w, &all_workers, link) {
                /* An abandoned worker is leaving already. */
                w->leaving = true;
                (void) supervisor_signal(w, SIGTERM);
                n++;
        }
        if (n > 0) {
                log_info("stopping %u pool worker%s", n, n == 1 ? "" : "s");
                supervisor_reap_until(now_ms() + SUPERVISOR_SHUTDOWN_TERM_MS);
        }
        n = 0;
        TAILQ_FOREACH(w, &all_workers, link) {
                (void) supervisor_signal(w, SIGKILL);
                n++;
        }
        if (n > 0) {
                log_warning("%u pool worker%s still running a second after SIGTERM; sending SIGKILL", n,
                            n == 1 ? " is" : "s are");
                supervisor_reap_until(now_ms() + SUPERVISOR_SHUTDOWN_KILL_MS);
        }
        for (w = TAILQ_FIRST(&all_workers); w; w = next) {
                struct worker_end end = { .reaped = false, .how = "could not be reaped" };

                next = TAILQ_NEXT(w, link);
                log_err("pool '%s': worker %u (pid %ld) could not be reaped after SIGKILL; leaving it",
                        worker_pool_name(w), w->index, (long) w->pid);
                worker_unlink(w);
                if (w->pool)
                        w->ended(w, &end);
                free(w);
        }
        while (!TAILQ_EMPTY(&logs))
                worker_log_drain(TAILQ_FIRST(&logs));
}

/* ---- checks before a worker runs as a user ---- */

/* true if pid is a process whose effective uid is uid, as its /proc/PID/status says. */
static bool proc_euid_is(pid_t pid, uid_t uid) {
        char path[64], line[256];
        bool ok = false;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f)) {
                unsigned long real, effective;

                if (strncmp(line, "Uid:", 4) == 0 && sscanf(line + 4, "%lu %lu", &real, &effective) == 2) {
                        ok = effective == uid;
                        break;
                }
        }
        fclose(f);
        return ok;
}

/* One value of /proc/PID/limits: a number or "unlimited". */
static bool parse_limit(const char *s, rlim_t *ret) {
        unsigned long long v;
        char *end;

        if (strncmp(s, "unlimited", 9) == 0) {
                *ret = RLIM_INFINITY;
                return true;
        }
        errno = 0;
        v = strtoull(s, &end, 10);
        if (end == s || errno)
                return false;
        *ret = (rlim_t) v;
        return true;
}

/*
 * The resource limits of process pid, from /proc/PID/limits: a line per
 * resource in RLIMIT_* order after a heading, each "%-25s %-20s %-20s" (name,
 * soft, hard) since Linux 2.6.24. Read there rather than with prlimit(2),
 * which wants CAP_SYS_RESOURCE that a root mpxd in a container often lacks.
 */
static int proc_read_limits(pid_t pid, struct rlimit *lim) {
        char path[64], line[256];
        int n = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/limits", (long) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (n < RLIMIT_NLIMITS && fgets(line, sizeof(line), f)) {
                if (n++ < 0)
                        continue;
                if (strlen(line) < 48 || !parse_limit(line + 26, &lim[n - 1].rlim_cur) ||
                    !parse_limit(line + 47, &lim[n - 1].rlim_max))
                        break;
        }
        fclose(f);
        return n == RLIMIT_NLIMITS ? 0 : -EBADMSG;
}

/* The resource limits of process pid, which must be uid's (see supervisor.h). */
int supervisor_process_limits(pid_t pid, uid_t uid, struct rlimit *ret) {
        /* The uid after the limits: a pid reused by another user's process in between is refused. */
        if (pid <= 0 || proc_read_limits(pid, ret) < 0 || !proc_euid_is(pid, uid))
                return -ESRCH;
        return 0;
}

/*
 * true if path is an executable regular file: for the daemon (as NULL), or
 * for a user pool's user by the mode bits of its uid and its one group (the
 * caller has made them the filesystem ids, so that stat() searches the
 * folders with the user's rights).
 */
static bool executable(const char *path, const struct worker_cred *as) {
        struct stat st;

        if (!as)
                return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
        if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
                return false;
        if (st.st_uid == as->uid)
                return st.st_mode & S_IXUSR;
        return st.st_mode & (st.st_gid == as->gid ? S_IXGRP : S_IXOTH);
}

/* true if prog names an executable file, in PATH when it has no slash (see executable). */
static bool command_exists(const char *prog, const struct worker_cred *as) {
        const char *path = getenv("PATH"), *dir, *end;
        char full[4096];

        if (strchr(prog, '/'))
                return executable(prog, as);
        if (!path || !*path)
                path = "/usr/local/bin:/usr/bin:/bin";
        for (dir = path; ; dir = end + 1) {
                size_t dlen;

                end = strchrnul(dir, ':');
                dlen = (size_t) (end - dir);
                snprintf(full, sizeof(full), "%.*s%s%s", (int) dlen, dir, dlen ? "/" : "", prog);
                if (executable(full, as))
                        return true;
                if (!*end)
                        return false;
        }
}

/*
 * command_exists with the file access rights of a user pool's user (its uid
 * and its one group), as its workers will have them: a root mpxd must not
 * tell a user whether files exist where the user may not look. The daemon
 * is one thread, so its filesystem ids and groups may change for the time of
 * the check. 0 when the command is there, -ENOENT when it is not, -EACCES
 * when the daemon cannot take the user's rights (logged).
 */
static int command_exists_as(const char *prog, const struct worker_cred *as) {
        gid_t *saved = NULL;
        int n = getgroups(0, NULL), r = -EACCES, err = 0;

        if (n < 0 || !(saved = calloc((size_t) n + 1, sizeof(*saved))) || getgroups(n, saved) != n) {
                free(saved);
                return -ENOMEM;
        }
        if (setgroups(1, &as->gid) == 0) {
                (void) setfsgid(as->gid);
                (void) setfsuid(as->uid);
                /* setfsuid says nothing of a failure: ask again what is in force. */
                if ((uid_t) setfsuid((uid_t) -1) == as->uid && (gid_t) setfsgid((gid_t) -1) == as->gid)
                        r = command_exists(prog, as) ? 0 : -ENOENT;
                (void) setfsuid(geteuid());
                (void) setfsgid(getegid());
        } else
                err = errno;
        if (setgroups((size_t) n, saved) < 0)
                log_err("cannot restore mpxd's supplementary groups: %s", strerror(errno));
        free(saved);
        if (r == -EACCES)
                log_err("cannot take the file access rights of uid %ld, gid %ld to look for a command: %s",
                        (long) as->uid, (long) as->gid, err ? strerror(err) : "the filesystem ids did not change");
        return r;
}

/* Look for a worker's command as the user it will run as (see supervisor.h). */
int supervisor_find_command(const char *prog, const struct worker_cred *cred) {
        if (!cred)
                return command_exists(prog, NULL) ? 0 : -ENOENT;
        return command_exists_as(prog, cred);
}
