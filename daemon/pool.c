/* SPDX-License-Identifier: MIT */
/*
 * Supervised pools of worker processes: Python's Pool(processes), run by
 * the daemon like a service manager runs a service. A pool is a named object
 * holding a command (argv, no shell), a number of workers wanted and a
 * restart policy. This file forks and execs the workers, reads what they
 * write, learns of their ends from server.c's SIGCHLD handling, restarts them
 * by policy with exponential back-off, forwards signals, and stops them
 * (SIGTERM, a grace period, SIGKILL) before the pool is deleted.
 *
 * Processes and slots. A pool has one slot per worker index 0 .. workers-1;
 * a slot holds the process running for that index, its back-off and its
 * start timer. A process (struct worker) is also on one daemon-wide list,
 * found there by pid when it is reaped. A process leaves its slot when it is
 * scaled away or its pool stops (it is "leaving": signalled, never
 * restarted) and outlives a pool that is deleted outright (it is killed at
 * once and only waited for). Each worker's stdout and stderr is one pipe,
 * read by a libevent read event, split into lines that go to the daemon's
 * log; a reader lives until the pipe's end of file, which may come after the
 * process is reaped.
 *
 * Nothing here blocks the loop or sleeps: starts and restarts are timers,
 * reaping is server.c's non-blocking waitpid loop, output is read as it
 * comes. The one exception is pool_stop_all(), called as the daemon stops:
 * it signals every worker and waits for them, bounded, so that no worker
 * outlives mpxd.
 *
 * Who may operate pools. Any client may start one, and the rule is kill(2)'s:
 * nobody gets processes of a uid it could not signal itself.
 *
 *  - The superusers of perm.c (root, the daemon's own user, members of the
 *    configured admin group) start "daemon pools": when mpxd runs as root,
 *    their workers run as the configured pool_user, and without one as root,
 *    which only root may then ask for; otherwise as mpxd's own user.
 *  - Anyone else starts a "user pool": its workers run as the client's own
 *    uid and primary group (SO_PEERCRED), with no other group, never as root
 *    or pool_user. Only a root mpxd can change users, so a daemon that is not
 *    root refuses them EACCES. So that a user gets nothing through mpxd that
 *    it could not get itself: a user pool's workers count against the uid's
 *    quota of workers (limits.per_user.max_workers), which bounds what mpxd
 *    forks for it; they take the resource limits of the client's process
 *    (RLIMIT_NPROC bounds what they fork in turn); and its executable is
 *    looked up with the user's own file access rights, so that the ENOENT of
 *    START tells nothing about files the user may not see.
 *
 * Scaling, signalling, stopping and deleting a pool is for superusers and,
 * for a user pool, for its owner when it is the user its workers run as (the
 * owner check is op.c's ADMIN access; pool_check_control adds the uid, so
 * that a CHOWN never hands one user's processes to another). A pool is
 * created readable by every client, as it always was; its mode and owner
 * otherwise work as any object's.
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
#include "mpxd.h"

/* Back-off of restarts: the first delay, the most, and how long a worker must run to reset it. */
#define POOL_BACKOFF_MIN_MS     100u
#define POOL_BACKOFF_MAX_MS     30000u
#define POOL_BACKOFF_RESET_MS   10000u
/* How long a worker scaled away has between SIGTERM and SIGKILL. */
#define POOL_SCALE_GRACE_MS     10000
/* When mpxd stops: SIGTERM, this long, SIGKILL, at most this long again. */
#define POOL_SHUTDOWN_TERM_MS   1000
#define POOL_SHUTDOWN_KILL_MS   800
/* One line of a worker's output in the log; a longer one is cut into several. */
#define POOL_LOG_LINE_MAX       2048u
/* What one read of a worker's pipe takes, so that a chatty worker cannot hold the loop. */
#define POOL_LOG_READ           16384u
/* The "command" field shows this much of a long command. */
#define POOL_COMMAND_TEXT_MAX   4096u

struct pool;

/* One worker process, from fork to reaping. */
struct worker {
        struct pool *pool;              /* NULL once its pool is deleted */
        unsigned index;
        pid_t pid;
        uint64_t started_ms;
        bool leaving;                   /* scaled away or stopping: signalled, never restarted */
        bool kill_armed;
        uint64_t kill_at_ms;            /* when kill_timer sends SIGKILL */
        struct user *charged;           /* charged for it since it left its slot (user pools); NULL: not */
        struct event kill_timer;
        TAILQ_ENTRY(worker) link;       /* in all_workers */
};

/* One worker index of a pool. Allocated on its own, because its timer must not move. */
struct slot {
        struct pool *pool;
        unsigned index;
        struct worker *worker;          /* the process running for this index, or NULL */
        uint64_t backoff_ms;            /* the last restart delay; 0 before the first */
        bool timer_armed;
        bool is_restart;                /* the pending start replaces a worker that ended */
        struct event timer;
};

/* A worker's stdout and stderr, read until end of file. */
struct pool_log {
        int fd;
        struct event ev;
        char object[WIRE_NAME_MAX + 1]; /* the pool's name, which may be gone before the pipe ends */
        unsigned index;
        size_t len;
        char line[POOL_LOG_LINE_MAX];
        TAILQ_ENTRY(pool_log) link;
};

struct pool {
        struct object obj;
        uint8_t restart;                /* WIRE_RESTART_* */
        uint32_t wanted;                /* slots */
        char *command;                  /* argc NUL-terminated strings, back to back */
        size_t command_size;
        char **argv;                    /* pointers into command, NULL-terminated */
        char *command_text;             /* argv quoted as a shell would read it, for INFO and logs */
        struct slot **slots;            /* wanted of them */
        unsigned running;               /* live processes, leaving ones included */
        uint64_t started, restarts, exits, signals;
        bool stopping;
        struct waiter_list waiters;     /* POOL_STOP requests, answered when running reaches 0 */
        bool user_pool;                 /* its workers run as the client that started it (run_uid, run_gid) */
        uid_t run_uid;
        gid_t run_gid;
        struct user *charged;           /* charged for its slots (limits.per_user.max_workers); NULL: none */
        bool has_limits;                /* user pools: its workers take these resource limits */
        struct rlimit limits[RLIMIT_NLIMITS];
};

/* Every worker not reaped yet, of every pool (and of deleted ones), in start order. */
static TAILQ_HEAD(, worker) all_workers = TAILQ_HEAD_INITIALIZER(all_workers);
/* Every worker output pipe not at its end yet. */
static TAILQ_HEAD(, pool_log) logs = TAILQ_HEAD_INITIALIZER(logs);

static const struct object_type pool_type;

static struct pool *pool_of(struct object *o) {
        return container_of(o, struct pool, obj);
}

static const char *const restart_names[] = {
        [WIRE_RESTART_ALWAYS] = "always",
        [WIRE_RESTART_ON_FAILURE] = "on-failure",
        [WIRE_RESTART_NEVER] = "never",
};

int pool_restart_from_string(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(restart_names); i++)
                if (s && strcmp(s, restart_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *pool_restart_to_string(uint8_t restart) {
        return restart < ARRAY_SIZE(restart_names) ? restart_names[restart] : NULL;
}

uint64_t pool_backoff_next_ms(uint64_t prev_ms, uint64_t ran_ms) {
        if (prev_ms == 0 || ran_ms >= POOL_BACKOFF_RESET_MS)
                return POOL_BACKOFF_MIN_MS;
        return prev_ms >= POOL_BACKOFF_MAX_MS / 2 ? POOL_BACKOFF_MAX_MS : prev_ms * 2;
}

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

static void pool_log_line(struct pool_log *lg) {
        log_object(LOG_LEVEL_INFO, lg->object, "pool '%s' worker %u: %.*s", lg->object, lg->index, (int) lg->len,
                   lg->line);
        lg->len = 0;
}

/* Split bytes into lines; control characters would garble the log, so they become '?'. */
static void pool_log_feed(struct pool_log *lg, const uint8_t *buf, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint8_t ch = buf[i];

                if (ch == '\n') {
                        pool_log_line(lg);
                        continue;
                }
                if (ch == '\r' && i + 1 < n && buf[i + 1] == '\n')
                        continue;
                lg->line[lg->len++] = (char) ((ch < 0x20 && ch != '\t') || ch == 0x7f ? '?' : ch);
                if (lg->len == sizeof(lg->line))
                        pool_log_line(lg);
        }
}

static void pool_log_free(struct pool_log *lg) {
        if (lg->len > 0)
                pool_log_line(lg);
        event_del(&lg->ev);
        close(lg->fd);
        TAILQ_REMOVE(&logs, lg, link);
        free(lg);
}

/* Read once (a bounded amount) per wake-up; end of file ends the reader. */
static void pool_log_cb(evutil_socket_t fd, short what, void *arg) {
        struct pool_log *lg = arg;
        uint8_t buf[POOL_LOG_READ];
        ssize_t n = read(fd, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (n <= 0) {
                pool_log_free(lg);
                return;
        }
        pool_log_feed(lg, buf, (size_t) n);
}

/* Take what is in a pipe now, without waiting, then end its reader (mpxd is stopping). */
static void pool_log_drain(struct pool_log *lg) {
        uint8_t buf[POOL_LOG_READ];
        ssize_t n;

        while ((n = read(lg->fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
                if (n > 0)
                        pool_log_feed(lg, buf, (size_t) n);
        pool_log_free(lg);
}

/* ---- processes ---- */

/* Signal a worker's process group (setsid made it one), or the worker alone before it got there. */
static int worker_signal(struct worker *w, int sig) {
        if (kill(-w->pid, sig) == 0 || kill(w->pid, sig) == 0)
                return 0;
        return -errno;
}

static const char *worker_pool_name(const struct worker *w) {
        return w->pool ? w->pool->obj.name : "(deleted)";
}

static void worker_kill_cb(evutil_socket_t fd, short what, void *arg) {
        struct worker *w = arg;

        w->kill_armed = false;
        log_object(LOG_LEVEL_NOTICE, worker_pool_name(w),
                   "pool '%s': worker %u (pid %ld) is still running after its grace period; sending SIGKILL",
                   worker_pool_name(w), w->index, (long) w->pid);
        (void) worker_signal(w, SIGKILL);
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
                (void) worker_signal(w, SIGKILL);
                return;
        }
        w->kill_armed = true;
        w->kill_at_ms = at;
}

/* SIGTERM a worker that is to go, and SIGKILL it after grace_ms. */
static void worker_stop(struct worker *w, int64_t grace_ms) {
        if (!w->leaving) {
                w->leaving = true;
                (void) worker_signal(w, SIGTERM);
        }
        worker_arm_kill(w, grace_ms);
}

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
static int run_as_starter(const struct pool *p, struct run_as *as) {
        struct passwd pw, *res = NULL;
        char buf[4096];

        as->change = true;
        as->uid = p->run_uid;
        as->gid = p->run_gid;
        as->groups = malloc(sizeof(*as->groups));
        if (!as->groups)
                return -ENOMEM;
        as->groups[0] = as->gid;
        as->n_groups = 1;
        as->limits = p->has_limits ? p->limits : NULL;
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

/* Resolve whom p's workers run as in the parent, so that the child only makes system calls. */
static int run_as_resolve(const struct pool *p, struct run_as *as) {
        const struct config *c = mpxd.config;
        struct passwd pw, *res = NULL;
        static bool warned;
        char buf[4096];
        int n = 16;

        memset(as, 0, sizeof(*as));
        if (p->user_pool)
                return run_as_starter(p, as);
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
static char **worker_env(const struct pool *p, unsigned index, const struct run_as *as) {
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
            asprintf(&env[k++], "MPX_POOL=%s", p->obj.name) < 0 ||
            asprintf(&env[k++], "MPX_WORKER=%u", index) < 0) {
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
 * In the child: default signal dispositions, a session and process group of
 * its own, /dev/null and the log pipe as stdio and nothing else, the pool
 * user's rights, an empty signal mask, then the command. Only system calls
 * here: everything was prepared by the parent.
 */
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

/* Fork and exec one worker for a slot, with a reader for its output. 0 or a negative errno. */
static int worker_spawn(struct pool *p, struct slot *s) {
        struct run_as as = { .change = false };
        struct worker *w = calloc(1, sizeof(*w));
        struct pool_log *lg = calloc(1, sizeof(*lg));
        int pfd[2] = { -1, -1 }, devnull = -1, r = 0;
        char **env = NULL;
        sigset_t all, old;
        pid_t pid;

        if (!w || !lg || run_as_resolve(p, &as) < 0 || !(env = worker_env(p, s->index, &as))) {
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
                worker_exec(p->argv, env, devnull, pfd[1], &as);
        if (pid < 0)
                r = -errno;
        (void) sigprocmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto fail;
        close(pfd[1]);
        close(devnull);
        env_free(env);
        free(as.groups);

        w->pool = p;
        w->index = s->index;
        w->pid = pid;
        w->started_ms = now_ms();
        evtimer_assign(&w->kill_timer, mpxd.base, worker_kill_cb, w);
        TAILQ_INSERT_TAIL(&all_workers, w, link);
        s->worker = w;
        p->running++;
        p->started++;

        lg->fd = pfd[0];
        lg->index = s->index;
        memcpy(lg->object, p->obj.name, p->obj.name_len + 1);
        (void) fcntl(lg->fd, F_SETFL, fcntl(lg->fd, F_GETFL) | O_NONBLOCK);
        event_assign(&lg->ev, mpxd.base, lg->fd, EV_READ | EV_PERSIST, pool_log_cb, lg);
        if (event_add(&lg->ev, NULL) < 0) {
                log_object(LOG_LEVEL_WARNING, p->obj.name, "pool '%s': cannot read the output of worker %u, "
                           "ignoring", p->obj.name, s->index);
                close(lg->fd);
                free(lg);
        } else
                TAILQ_INSERT_TAIL(&logs, lg, link);
        if (as.change)
                log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': worker %u started (pid %ld) as user %s (uid "
                           "%ld, gid %ld)", p->obj.name, s->index, (long) pid, as.user, (long) as.uid,
                           (long) as.gid);
        else
                log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': worker %u started (pid %ld) as mpxd's own "
                           "user (uid %ld, gid %ld)", p->obj.name, s->index, (long) pid, (long) geteuid(),
                           (long) getegid());
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

/* ---- slots ---- */

static void slot_arm(struct slot *s, uint64_t delay_ms, bool is_restart) {
        struct timeval tv = { .tv_sec = (time_t) (delay_ms / 1000), .tv_usec = (suseconds_t) (delay_ms % 1000) * 1000 };

        s->is_restart = is_restart;
        if (evtimer_add(&s->timer, &tv) == 0)
                s->timer_armed = true;
        else
                log_object(LOG_LEVEL_ERR, s->pool->obj.name, "pool '%s': cannot arm the start timer of worker %u; "
                           "it stays down until the pool is scaled", s->pool->obj.name, s->index);
}

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg) {
        struct slot *s = arg;
        struct pool *p = s->pool;
        int r;

        s->timer_armed = false;
        if (p->stopping || mpxd.stopping || s->worker)
                return;
        r = worker_spawn(p, s);
        if (r >= 0) {
                if (s->is_restart)
                        p->restarts++;
                return;
        }
        s->backoff_ms = pool_backoff_next_ms(s->backoff_ms, 0);
        log_object(LOG_LEVEL_WARNING, p->obj.name, "pool '%s': cannot start worker %u: %s; trying again in "
                   "%llu ms", p->obj.name, s->index, strerror(-r), (unsigned long long) s->backoff_ms);
        slot_arm(s, s->backoff_ms, s->is_restart);
}

static struct slot *slot_new(struct pool *p, unsigned index) {
        struct slot *s = calloc(1, sizeof(*s));

        if (!s)
                return NULL;
        s->pool = p;
        s->index = index;
        evtimer_assign(&s->timer, mpxd.base, slot_timer_cb, s);
        user_workers_added(p->charged, 1);
        return s;
}

/* Free a slot; its process, if any, must have been dealt with (worker_detach). */
static void slot_free(struct slot *s) {
        if (!s)
                return;
        if (s->timer_armed)
                evtimer_del(&s->timer);
        user_workers_removed(s->pool->charged, 1);
        free(s);
}

/*
 * A user pool's worker leaves its slot (scaled away, its pool deleted) but
 * runs on until it is reaped: it is charged on its own until then.
 */
static void worker_detach(struct worker *w) {
        if (!w->pool || !w->pool->charged || w->charged)
                return;
        w->charged = w->pool->charged;
        user_workers_added(w->charged, 1);
}

/* A worker is reaped or forgotten: what it was charged on its own is given back. */
static void worker_uncharge(struct worker *w) {
        user_workers_removed(w->charged, 1);
        w->charged = NULL;
}

/* ---- pools ---- */

/* A pool whose last worker is gone after POOL_STOP: answer the stoppers, then delete it. */
static void pool_stopped(struct pool *p) {
        log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': every worker has exited; deleting the pool",
                   p->obj.name);
        wait_fail_all(&p->waiters, 0);
        object_delete(&p->obj, -EIDRM);
}

/* A worker was reaped: log how it ended, restart it by policy. The pool may be deleted here. */
static void worker_reaped(struct worker *w, int status) {
        struct pool *p = w->pool;
        uint64_t ran_ms = now_ms() - w->started_ms;
        bool failed = !WIFEXITED(status) || WEXITSTATUS(status) != 0;
        struct slot *s = NULL;
        const char *why = NULL;
        char how[96];

        describe_exit(status, how, sizeof(how));
        TAILQ_REMOVE(&all_workers, w, link);
        if (w->kill_armed)
                evtimer_del(&w->kill_timer);
        worker_uncharge(w);
        if (!p) {
                log_info("worker %u (pid %ld) of a deleted pool %s", w->index, (long) w->pid, how);
                free(w);
                return;
        }
        p->exits++;
        p->running--;
        if (w->index < p->wanted && p->slots[w->index]->worker == w) {
                s = p->slots[w->index];
                s->worker = NULL;
        }
        if (!s || w->leaving || p->stopping)
                why = "";
        else if (mpxd.stopping)
                why = "; mpxd is stopping";
        else if (p->restart == WIRE_RESTART_NEVER)
                why = "; not restarted (restart never)";
        else if (p->restart == WIRE_RESTART_ON_FAILURE && !failed)
                why = "; not restarted (restart on-failure)";
        if (why)
                log_object(failed && !w->leaving ? LOG_LEVEL_NOTICE : LOG_LEVEL_INFO, p->obj.name,
                           "pool '%s': worker %u (pid %ld) %s after %llu ms%s", p->obj.name, w->index,
                           (long) w->pid, how, (unsigned long long) ran_ms, why);
        else {
                s->backoff_ms = pool_backoff_next_ms(s->backoff_ms, ran_ms);
                log_object(failed ? LOG_LEVEL_NOTICE : LOG_LEVEL_INFO, p->obj.name,
                           "pool '%s': worker %u (pid %ld) %s after %llu ms; restarting it in %llu ms",
                           p->obj.name, w->index, (long) w->pid, how, (unsigned long long) ran_ms,
                           (unsigned long long) s->backoff_ms);
                slot_arm(s, s->backoff_ms, true);
        }
        free(w);
        if (p->stopping && p->running == 0)
                pool_stopped(p);
}

/* server.c reaped a child: ours if a worker has its pid. */
static void pool_child_exited(pid_t pid, int status) {
        struct worker *w;

        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pid == pid) {
                        worker_reaped(w, status);
                        /* A stop may have been answered: send it now, as every event does. */
                        client_flush_dirty();
                        return;
                }
}

int pool_init(void) {
        static bool registered;
        int r;

        if (registered)
                return 0;
        r = server_on_child_exit(pool_child_exited);
        if (r < 0) {
                log_err("cannot watch pool workers: %s", strerror(-r));
                return r;
        }
        registered = true;
        return 0;
}

/* Reap the workers that have exited; wait for SIGCHLD until deadline while any is left. */
static void pool_reap_until(uint64_t deadline_ms) {
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

void pool_stop_all(void) {
        struct worker *w, *next;
        unsigned n = 0;

        TAILQ_FOREACH(w, &all_workers, link) {
                if (w->pool)
                        w->leaving = true;
                (void) worker_signal(w, SIGTERM);
                n++;
        }
        if (n > 0) {
                log_info("stopping %u pool worker%s", n, n == 1 ? "" : "s");
                pool_reap_until(now_ms() + POOL_SHUTDOWN_TERM_MS);
        }
        n = 0;
        TAILQ_FOREACH(w, &all_workers, link) {
                (void) worker_signal(w, SIGKILL);
                n++;
        }
        if (n > 0) {
                log_warning("%u pool worker%s still running a second after SIGTERM; sending SIGKILL", n,
                            n == 1 ? " is" : "s are");
                pool_reap_until(now_ms() + POOL_SHUTDOWN_KILL_MS);
        }
        for (w = TAILQ_FIRST(&all_workers); w; w = next) {
                next = TAILQ_NEXT(w, link);
                log_err("pool '%s': worker %u (pid %ld) could not be reaped after SIGKILL; leaving it",
                        worker_pool_name(w), w->index, (long) w->pid);
                TAILQ_REMOVE(&all_workers, w, link);
                if (w->kill_armed)
                        evtimer_del(&w->kill_timer);
                worker_uncharge(w);
                if (w->pool)
                        w->pool->running--;
                free(w);
        }
        while (!TAILQ_EMPTY(&logs))
                pool_log_drain(TAILQ_FIRST(&logs));
}

static void pool_serve(struct object *o) {
        /* Stoppers wait for the workers' ends, not for anything a waiter's leaving changes. */
        (void) o;
}

static void pool_wake_all(struct object *o, int neg_errno) {
        wait_fail_all(&pool_of(o)->waiters, neg_errno);
}

/* Free a pool. Workers still running (DELETE of a live pool) are killed now and only waited for. */
static void pool_free(struct object *o) {
        struct pool *p = pool_of(o);
        struct worker *w;
        unsigned killed = 0;

        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pool == p) {
                        worker_detach(w);
                        w->pool = NULL;
                        w->leaving = true;
                        if (w->kill_armed)
                                evtimer_del(&w->kill_timer);
                        w->kill_armed = false;
                        (void) worker_signal(w, SIGKILL);
                        killed++;
                }
        if (killed > 0)
                log_object(LOG_LEVEL_NOTICE, o->name, "pool '%s' deleted with %u worker%s running; killed them",
                           o->name, killed, killed == 1 ? "" : "s");
        for (uint32_t i = 0; i < p->wanted; i++)
                slot_free(p->slots[i]);
        free(p->slots);
        free(p->argv);
        free(p->command);
        free(p->command_text);
        free(p);
}

/* The pids of the pool's processes, in index order, leaving ones last: "4242 4243". */
static char *pool_pids(const struct pool *p) {
        size_t size = 16 + (size_t) p->running * 12, len = 0;
        char *s = malloc(size);
        const struct worker *w;

        if (!s)
                return NULL;
        s[0] = '\0';
        for (uint32_t i = 0; i < p->wanted; i++)
                if (p->slots[i]->worker && len + 12 < size)
                        len += (size_t) snprintf(s + len, size - len, "%s%ld", len ? " " : "",
                                                 (long) p->slots[i]->worker->pid);
        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pool == p && (w->index >= p->wanted || p->slots[w->index]->worker != w) && len + 12 < size)
                        len += (size_t) snprintf(s + len, size - len, "%s%ld", len ? " " : "", (long) w->pid);
        return s;
}

static int pool_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct pool *p = pool_of(o);
        uint64_t t = now_ms();
        const struct waiter *w;
        unsigned waiters = 0;
        char *pids = pool_pids(p);
        int r = 0;

        if (!pids)
                return -ENOMEM;
        TAILQ_FOREACH(w, &p->waiters, obj_link)
                waiters++;
        r |= wire_put_field_int(b, f, "size", p->running);
        r |= wire_put_field_int(b, f, "workers", p->wanted);
        r |= wire_put_field_str(b, f, "restart", pool_restart_to_string(p->restart));
        r |= wire_put_field_str(b, f, "command", p->command_text);
        r |= wire_put_field_str(b, f, "pids", pids);
        r |= wire_put_field_int(b, f, "started", (int64_t) p->started);
        r |= wire_put_field_int(b, f, "restarts", (int64_t) p->restarts);
        r |= wire_put_field_int(b, f, "exits", (int64_t) p->exits);
        r |= wire_put_field_int(b, f, "signals", (int64_t) p->signals);
        r |= wire_put_field_int(b, f, "stopping", p->stopping);
        r |= wire_put_field_int(b, f, "waiters", waiters);
        r |= wire_put_field_int(b, f, "age_ms", (int64_t) (t - o->created_ms));
        r |= wire_put_field_int(b, f, "idle_ms", (int64_t) (t - o->active_ms));
        free(pids);
        return r < 0 ? -ENOMEM : 0;
}

static int pool_check_control(const struct client *c, const struct pool *p, const char *what);

/* Deleting a pool kills its workers: only those who may stop it may delete it. */
static int pool_may_delete(struct object *o, const struct client *c) {
        return pool_check_control(c, pool_of(o), "delete");
}

static const struct object_type pool_type = {
        .type = WIRE_TYPE_POOL,
        .wake_all = pool_wake_all,
        .serve = pool_serve,
        .describe = pool_describe,
        .free = pool_free,
        .may_delete = pool_may_delete,
};

/* Append s to buf at *len, quoted for a shell when it needs to be; false when it does not fit. */
static bool quote_arg(char *buf, size_t size, size_t *len, const char *s) {
        static const char plain[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-";
        bool quote = !*s || strspn(s, plain) != strlen(s);
        size_t need = quote ? 2 : 0;
        char *o;

        for (const char *c = s; *c; c++)
                need += quote && *c == '\'' ? 4 : 1;
        /* Keep room for " ..." and the NUL after it. */
        if (*len + need + 5 > size)
                return false;
        o = buf + *len;
        if (quote)
                *o++ = '\'';
        for (const char *c = s; *c; c++)
                if (quote && *c == '\'') {
                        memcpy(o, "'\\''", 4);
                        o += 4;
                } else
                        *o++ = *c;
        if (quote)
                *o++ = '\'';
        *o = '\0';
        *len = (size_t) (o - buf);
        return true;
}

/* argv as one line a shell would split back the same way; cut with "..." when long. */
static char *command_text(char *const *argv) {
        char *buf = malloc(POOL_COMMAND_TEXT_MAX);
        size_t len = 0;

        if (!buf)
                return NULL;
        buf[0] = '\0';
        for (size_t i = 0; argv[i]; i++) {
                if (i > 0)
                        buf[len++] = ' ';
                if (!quote_arg(buf, POOL_COMMAND_TEXT_MAX, &len, argv[i])) {
                        memcpy(buf + len, "...", 4);
                        break;
                }
        }
        return buf;
}

/* Count the strings of a packed command: argc, or -EINVAL when it is not one. */
static int command_argc(const char *command, size_t size) {
        int argc = 0;

        if (size == 0 || size > POOL_MAX_COMMAND || command[size - 1] != '\0' || command[0] == '\0')
                return -EINVAL;
        for (size_t i = 0; i < size; i++)
                if (command[i] == '\0')
                        argc++;
        return argc > (int) POOL_MAX_ARGS ? -EINVAL : argc;
}

/* Whom a new pool's workers run as: the daemon's choice (NULL), or the starter's own user. */
struct pool_starter {
        uid_t uid;
        gid_t gid;
        struct user *user;              /* charged for the workers */
        bool has_limits;                /* false: mpxd's own (a socketless client is mpxd itself) */
        struct rlimit limits[RLIMIT_NLIMITS];
};

/* pool_declare, for a user pool when as is not NULL. */
static int pool_declare_as(const char *name, size_t len, uint32_t workers, uint8_t restart, const char *command,
                           size_t command_size, const struct pool_starter *as) {
        struct object *o;
        int argc = command ? command_argc(command, command_size) : -EINVAL;
        struct pool *p;
        char *a;
        int err;

        /* An object that exists is found for the request: declaring it again needs read access. */
        err = object_lookup(name, len, &o);
        if (err < 0)
                return err;
        if (o) {
                if (o->ops != &pool_type)
                        return -EPROTOTYPE;
                p = pool_of(o);
                /* The same pool is also one whose workers run as the same user. */
                return !p->stopping && p->restart == restart && p->command_size == command_size &&
                       memcmp(p->command, command, command_size) == 0 && p->user_pool == !!as &&
                       (!as || p->run_uid == as->uid) ? 0 : -EEXIST;
        }
        if (argc < 0 || workers == 0 || workers > POOL_MAX_WORKERS || !pool_restart_to_string(restart))
                return -EINVAL;
        /* Each worker holds a log pipe open in the daemon: refuse what would starve clients of descriptors. */
        if (object_check_limit() < 0 || (as && user_may_run_workers(as->user, workers) < 0) ||
            server_fds_check(workers) < 0)
                return -EUSERS;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        if (as) {
                /* Before the slots, which charge it. */
                p->user_pool = true;
                p->run_uid = as->uid;
                p->run_gid = as->gid;
                p->charged = as->user;
                p->has_limits = as->has_limits;
                memcpy(p->limits, as->limits, sizeof(p->limits));
        }
        p->restart = restart;
        p->wanted = workers;
        p->command_size = command_size;
        p->command = malloc(command_size);
        p->argv = calloc((size_t) argc + 1, sizeof(*p->argv));
        p->slots = calloc(workers, sizeof(*p->slots));
        if (!p->command || !p->argv || !p->slots)
                goto nomem;
        memcpy(p->command, command, command_size);
        a = p->command;
        for (int i = 0; i < argc; i++) {
                p->argv[i] = a;
                a += strlen(a) + 1;
        }
        p->command_text = command_text(p->argv);
        if (!p->command_text)
                goto nomem;
        for (uint32_t i = 0; i < workers; i++)
                if (!(p->slots[i] = slot_new(p, i)))
                        goto nomem;
        TAILQ_INIT(&p->waiters);
        if (object_register(&p->obj, name, len, &pool_type) < 0)
                goto nomem;
        /* Anyone could always read about a pool; only who may operate pools may control it. */
        p->obj.mode |= 0444;
        /* Fork from the loop: at start the socket workers connect to is not listening yet. */
        for (uint32_t i = 0; i < workers; i++)
                slot_arm(p->slots[i], 0, false);
        log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': starting %u worker%s (restart %s): %s", p->obj.name,
                   workers, workers == 1 ? "" : "s", pool_restart_to_string(restart), p->command_text);
        return 1;

nomem:
        for (uint32_t i = 0; p->slots && i < workers; i++)
                slot_free(p->slots[i]);
        free(p->slots);
        free(p->argv);
        free(p->command);
        free(p->command_text);
        free(p);
        return -ENOMEM;
}

int pool_declare(const char *name, size_t len, uint32_t workers, uint8_t restart, const char *command,
                 size_t command_size) {
        return pool_declare_as(name, len, workers, restart, command, command_size, NULL);
}

/* Grow or shrink a pool: new slots start now, slots scaled away stop their workers. */
static int pool_scale(struct pool *p, uint32_t workers) {
        uint32_t old = p->wanted;

        if (workers > old) {
                struct slot **grown;

                if (user_may_run_workers(p->charged, workers - old) < 0 || server_fds_check(workers - old) < 0)
                        return -EUSERS;
                grown = realloc(p->slots, workers * sizeof(*grown));
                if (!grown)
                        return -ENOMEM;
                p->slots = grown;
                for (uint32_t i = old; i < workers; i++)
                        if (!(grown[i] = slot_new(p, i))) {
                                while (i-- > old)
                                        slot_free(grown[i]);
                                return -ENOMEM;
                        }
                for (uint32_t i = old; i < workers; i++)
                        slot_arm(grown[i], 0, false);
        } else {
                for (uint32_t i = workers; i < old; i++) {
                        if (p->slots[i]->worker) {
                                worker_detach(p->slots[i]->worker);
                                worker_stop(p->slots[i]->worker, POOL_SCALE_GRACE_MS);
                        }
                        slot_free(p->slots[i]);
                        p->slots[i] = NULL;
                }
        }
        p->wanted = workers;
        return 0;
}

/* Begin stopping a pool: SIGTERM every worker, SIGKILL after grace_ms (negative: never). */
static void pool_stop_begin(struct pool *p, int64_t grace_ms) {
        struct worker *w;

        if (!p->stopping) {
                p->stopping = true;
                for (uint32_t i = 0; i < p->wanted; i++)
                        if (p->slots[i]->timer_armed) {
                                evtimer_del(&p->slots[i]->timer);
                                p->slots[i]->timer_armed = false;
                        }
                log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': stopping %u worker%s", p->obj.name, p->running,
                           p->running == 1 ? "" : "s");
        }
        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pool == p)
                        worker_stop(w, grace_ms);
}

/* ---- who may ---- */

/* true at most once every ten seconds: a client retrying in a loop must not flood the log. */
static bool pool_refusal_log_due(void) {
        static uint64_t logged_ms;
        uint64_t t = now_ms();

        if (logged_ms && t - logged_ms < 10000)
                return false;
        logged_ms = t;
        return true;
}

/*
 * 0 if c may scale, signal, stop or delete p, else -EACCES (logged, rate
 * limited). The owner check is done by the lookup (op.c's ADMIN access);
 * this adds that a user pool's workers must run as the client, as kill(2)
 * wants, and that a daemon pool is for superusers alone.
 */
static int pool_check_control(const struct client *c, const struct pool *p, const char *what) {
        if (!c || client_is_superuser(c) || (p->user_pool && p->run_uid == c->uid))
                return 0;
        if (pool_refusal_log_due()) {
                if (p->user_pool)
                        log_client(LOG_LEVEL_NOTICE, c->id, c->pid, c->uid, "%s may not %s pool '%s': its workers "
                                   "run as uid %ld; refusing with EACCES", client_describe(c), what, p->obj.name,
                                   (long) p->run_uid);
                else
                        log_client(LOG_LEVEL_NOTICE, c->id, c->pid, c->uid, "%s may not %s pool '%s': only root%s "
                                   "may; refusing with EACCES", client_describe(c), what, p->obj.name,
                                   mpxd.config && mpxd.config->admin_group ? " and the admin group" : "");
        }
        return -EACCES;
}

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

/*
 * The resource limits of the process that connected c (SO_PEERCRED's pid),
 * which the workers of a user pool take: a user must not get through mpxd
 * what its own limits (RLIMIT_NPROC, say) deny it. The uid is checked after
 * the limits are read, so that a pid reused by another user's process is
 * refused rather than believed. 0, or -ESRCH (logged, rate limited): the
 * process is gone or is no longer the client's.
 */
static int client_limits(const struct client *c, struct pool_starter *as) {
        as->has_limits = false;
        if (c->fd < 0)
                return 0;
        if (c->pid <= 0 || proc_read_limits(c->pid, as->limits) < 0 || !proc_euid_is(c->pid, c->uid)) {
                if (pool_refusal_log_due())
                        log_client(LOG_LEVEL_NOTICE, c->id, c->pid, c->uid, "%s may not start a pool: the "
                                   "resource limits of its process, which its workers would take, cannot be read "
                                   "(the process is gone, or not the one that connected); refusing with EACCES",
                                   client_describe(c));
                return -ESRCH;
        }
        as->has_limits = true;
        return 0;
}

/*
 * Whom the workers of a pool c starts run as: *ret_user_pool false for a
 * superuser (the daemon's choice: pool_user, or mpxd's own user), true for
 * anyone else (c's uid and primary group). -EACCES when that cannot be: a
 * user pool of a daemon that is not root, which cannot change users. Root
 * alone may have workers run as root: the caller checks that once the body
 * is known to be valid.
 */
static int pool_start_as(const struct client *c, bool *ret_user_pool) {
        *ret_user_pool = false;
        if (client_is_superuser(c))
                return 0;
        /* Credentials that could not be read: -1 would leave a worker's ids as they are, root's. */
        if (c->uid == (uid_t) -1 || c->gid == (gid_t) -1)
                return -EACCES;
        if (geteuid() != 0) {
                if (pool_refusal_log_due())
                        log_client(LOG_LEVEL_NOTICE, c->id, c->pid, c->uid, "%s may not start a pool: mpxd does "
                                   "not run as root, so it cannot run workers as uid %ld; only root%s may; "
                                   "refusing with EACCES", client_describe(c), (long) c->uid,
                                   mpxd.config && mpxd.config->admin_group ? ", mpxd's user and the admin group" :
                                   " and mpxd's user");
                return -EACCES;
        }
        *ret_user_pool = true;
        return 0;
}

/*
 * true if path is an executable regular file: for the daemon (as NULL), or
 * for a user pool's user by the mode bits of its uid and its one group (the
 * caller has made them the filesystem ids, so that stat() searches the
 * folders with the user's rights).
 */
static bool executable(const char *path, const struct pool_starter *as) {
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
static bool command_exists(const char *prog, const struct pool_starter *as) {
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
static int command_exists_as(const char *prog, const struct pool_starter *as) {
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

/* ---- request handlers ---- */

/* Find the pool a request names, and note the request. */
static int pool_lookup(const char *name, size_t len, struct pool **ret) {
        struct object *o;
        int r = object_find_typed(name, len, 1u << WIRE_TYPE_POOL, &o);

        if (r < 0)
                return r;
        o->active_ms = now_ms();
        *ret = pool_of(o);
        return 0;
}

/* START: name, u32 workers, u8 restart, u16 argc, argc x str -> u8 created. */
int pool_handle_start(struct client *c, const struct request *req, struct wire_reader *r) {
        struct wire_reader args;
        const char *name;
        size_t len, size = 0;
        uint32_t workers;
        uint8_t restart;
        uint16_t argc;
        bool bad = false, user_pool;
        struct pool_starter as = { .uid = c->uid, .gid = c->gid, .user = c->user, .has_limits = false };
        char *command, *p;
        int created;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &workers) || !wire_get_u8(r, &restart) ||
            !wire_get_u16(r, &argc))
                return -EPROTO;
        /* Check the whole body before anything is allocated. */
        args = *r;
        for (uint16_t i = 0; i < argc; i++) {
                const char *s;
                uint16_t n;

                if (!wire_get_str(r, &s, &n))
                        return -EPROTO;
                bad |= memchr(s, '\0', n) != NULL || (i == 0 && n == 0);
                size += (size_t) n + 1;
        }
        if (!wire_reader_done(r))
                return -EPROTO;
        if (pool_start_as(c, &user_pool) < 0)
                return -EACCES;
        if (bad || argc == 0 || argc > POOL_MAX_ARGS || size > POOL_MAX_COMMAND || workers == 0 ||
            workers > POOL_MAX_WORKERS || !pool_restart_to_string(restart))
                return -EINVAL;
        /* Without pool_user, workers of a root mpxd run as root: only root may choose what they run. */
        if (!user_pool && geteuid() == 0 && c->uid != 0 && (!mpxd.config || !mpxd.config->pool_user)) {
                log_client(LOG_LEVEL_NOTICE, c->id, c->pid, c->uid, "%s may not start a pool: mpxd runs as root "
                           "and pool_user is not set, so workers would run as root; refusing with EACCES",
                           client_describe(c));
                return -EACCES;
        }
        command = p = malloc(size);
        if (!command)
                return -ENOMEM;
        for (uint16_t i = 0; i < argc; i++) {
                const char *s;
                uint16_t n;

                (void) wire_get_str(&args, &s, &n);
                memcpy(p, s, n);
                p[n] = '\0';
                p += n + 1;
        }
        if (!object_find(name, len)) {
                int found = user_pool ? command_exists_as(command, &as) :
                                        (command_exists(command, NULL) ? 0 : -ENOENT);

                if (found == 0 && user_pool && client_limits(c, &as) < 0)
                        found = -EACCES;
                if (found < 0) {
                        free(command);
                        return found;
                }
        }
        created = pool_declare_as(name, len, workers, restart, command, size, user_pool ? &as : NULL);
        free(command);
        if (created < 0)
                return created;
        if (created && user_pool)
                log_client(LOG_LEVEL_INFO, c->id, c->pid, c->uid, "pool '%.*s' started by %s; its workers run as "
                           "uid %ld, gid %ld", (int) len, name, client_describe(c), (long) as.uid, (long) as.gid);
        else if (created)
                log_client(LOG_LEVEL_INFO, c->id, c->pid, c->uid, "pool '%.*s' started by %s", (int) len, name,
                           client_describe(c));
        return op_reply_u8(c, req, (uint8_t) created);
}

/* SCALE: name, u32 workers. */
int pool_handle_scale(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = NULL;
        const char *name;
        size_t len;
        uint32_t workers;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &workers) || !wire_reader_done(r))
                return -EPROTO;
        err = pool_lookup(name, len, &p);
        if (err < 0)
                return err;
        if (pool_check_control(c, p, "scale") < 0)
                return -EACCES;
        if (workers > POOL_MAX_WORKERS || p->stopping)
                return -EINVAL;
        if (workers != p->wanted) {
                uint32_t old = p->wanted;

                err = pool_scale(p, workers);
                if (err < 0)
                        return err;
                log_client(LOG_LEVEL_INFO, c->id, c->pid, c->uid, "pool '%s' scaled from %u to %u workers by %s",
                           p->obj.name, old, workers, client_describe(c));
        }
        client_reply_status(c, req->id, req->op, 0);
        return 0;
}

/* SIGNAL: name, u32 signal -> u32 workers signalled. */
int pool_handle_signal(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = NULL;
        struct wire_buf *b;
        struct worker *w;
        const char *name;
        size_t len, start;
        uint32_t sig, n = 0;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &sig) || !wire_reader_done(r))
                return -EPROTO;
        err = pool_lookup(name, len, &p);
        if (err < 0)
                return err;
        if (pool_check_control(c, p, "signal") < 0)
                return -EACCES;
        if (sig == 0 || sig >= NSIG)
                return -EINVAL;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        TAILQ_FOREACH(w, &all_workers, link)
                if (w->pool == p && worker_signal(w, (int) sig) == 0)
                        n++;
        p->signals += n;
        log_client(LOG_LEVEL_INFO, c->id, c->pid, c->uid, "pool '%s': SIG%s sent to %u worker%s by %s", p->obj.name,
                   sigabbrev_np((int) sig) ? sigabbrev_np((int) sig) : "?", n, n == 1 ? "" : "s",
                   client_describe(c));
        if (wire_put_u32(b, n) < 0) {
                /* The signals are sent: say so as an error rather than not at all. */
                client_reply_abort(c, start, -ENOMEM, req->id, req->op);
                return 0;
        }
        client_reply_end(c, start);
        return 0;
}

/* STOP: name, i64 grace_ms; answered once every worker has exited, then the pool is deleted. */
int pool_handle_stop(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = NULL;
        const char *name;
        size_t len;
        int64_t grace_ms;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_i64(r, &grace_ms) || !wire_reader_done(r))
                return -EPROTO;
        err = pool_lookup(name, len, &p);
        if (err < 0)
                return err;
        if (pool_check_control(c, p, "stop") < 0)
                return -EACCES;
        if (!p->stopping)
                log_client(LOG_LEVEL_INFO, c->id, c->pid, c->uid, "pool '%s' stopped by %s (grace %lld ms)",
                           p->obj.name, client_describe(c), (long long) grace_ms);
        if (!wait_add(c, req, &p->obj, &p->waiters, -1))
                return -errno;
        pool_stop_begin(p, grace_ms);
        if (p->running == 0)
                pool_stopped(p);
        return 0;
}
