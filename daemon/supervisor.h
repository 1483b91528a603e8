/* SPDX-License-Identifier: MIT */
/*
 * The process supervisor (supervisor.c): the worker processes of pools, from
 * fork and exec to reaping. A pool decides how many workers it wants, when
 * one is restarted and who may do what (pool.c); the supervisor starts a
 * worker as the user it is told, signals and stops it, sends its output to
 * the log, reaps it, and tells its pool once that it ended.
 *
 * A worker belongs to its pool until it ends or the pool is deleted
 * (supervisor_abandon): after that it is only killed and waited for, and no
 * pool hears of it again.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <event2/event_struct.h>

struct pool;
struct user;
struct worker;

TAILQ_HEAD(worker_list, worker);

/*
 * Whom a worker runs as when it is not the daemon's choice (a user pool's
 * workers): a uid with its one group, no other group, and the resource
 * limits of the client that started the pool.
 */
struct worker_cred {
        uid_t uid;
        gid_t gid;
        bool has_limits;                /* false: mpxd's own (a socketless client is mpxd itself) */
        struct rlimit limits[RLIMIT_NLIMITS];
};

/* How a worker ended, as its pool is told. */
struct worker_end {
        bool reaped;                    /* false: mpxd is stopping and could not reap it; it is forgotten */
        int status;                     /* waitpid's, when reaped */
        uint64_t ran_ms;
        const char *how;                /* "exited with status 3", for the log */
};

/* Called once when a worker of a pool ends; the worker is freed after it returns. */
typedef void worker_ended_fn(struct worker *w, const struct worker_end *end);

/* What supervisor_start starts. */
struct worker_spec {
        struct pool *pool;              /* the owner, told of the worker's end */
        const char *pool_name;          /* MPX_POOL, and the log's; must live as long as the pool */
        unsigned index;                 /* MPX_WORKER */
        char *const *argv;              /* the command, looked up in PATH */
        const struct worker_cred *cred; /* NULL: the daemon's choice (pool_user when mpxd is root) */
        worker_ended_fn *ended;
};

/*
 * One worker process, from fork to reaping. Its pool reads pool, index, pid
 * and leaving, and keeps it on a list of its own through pool_link; the rest
 * is the supervisor's.
 */
struct worker {
        struct pool *pool;              /* NULL once abandoned */
        const char *pool_name;          /* the pool's, for the log; NULL once abandoned */
        unsigned index;
        pid_t pid;
        uint64_t started_ms;
        bool leaving;                   /* scaled away or stopping: signalled, never restarted */
        TAILQ_ENTRY(worker) pool_link;  /* the pool's */
        worker_ended_fn *ended;
        bool kill_armed;
        uint64_t kill_at_ms;            /* when kill_timer sends SIGKILL */
        struct user *charged;           /* charged for it until reaped (supervisor_charge); NULL: none */
        struct event kill_timer;
        TAILQ_ENTRY(worker) link;       /* in the supervisor's list of every worker */
};

/* Be told of reaped children (server_on_child_exit); once, however often it is called. */
int supervisor_init(void);
/*
 * Fork and exec one worker, with a reader that sends its stdout and stderr
 * to the log: 0 and *ret, or a negative errno. The child runs spec->argv in
 * a session of its own, as spec->cred says, with MPX_SOCKET, MPX_POOL and
 * MPX_WORKER in its environment.
 */
int supervisor_start(const struct worker_spec *spec, struct worker **ret);
/* Send sig to a worker's process group (or to the worker alone before it made one): 0 or a negative errno. */
int supervisor_signal(struct worker *w, int sig);
/*
 * SIGTERM a worker that is to go (once: it is "leaving" from then on), and
 * SIGKILL it grace_ms later, unless it is due sooner already; negative: never.
 */
void supervisor_stop(struct worker *w, int64_t grace_ms);
/*
 * A user pool's worker that leaves its slot runs on until it is reaped:
 * charge u (NULL: nobody) for it until then, unless it is charged already.
 */
void supervisor_charge(struct worker *w, struct user *u);
/* The worker's pool is being deleted: SIGKILL it now; it is only waited for, no pool told of its end. */
void supervisor_abandon(struct worker *w);
/*
 * Stop every worker at once (SIGTERM, SIGKILL after a second, reaped before
 * this returns) and drain their output; mpxd is stopping, so nothing restarts.
 */
void supervisor_stop_all(void);

/*
 * 0 if prog names an executable file (in PATH when it has no slash), with
 * the file access rights of cred (its uid and its one group: a root mpxd
 * must not tell a user whether files exist where the user may not look), or
 * the daemon's when cred is NULL; -ENOENT when it does not, -EACCES when the
 * daemon cannot take cred's rights (logged), -ENOMEM.
 */
int supervisor_find_command(const char *prog, const struct worker_cred *cred);
/*
 * The resource limits of process pid, which must run as uid (checked after
 * the limits are read, so that a pid reused by another user's process is
 * refused rather than believed): 0, or -ESRCH when the process is gone or is
 * not uid's.
 */
int supervisor_process_limits(pid_t pid, uid_t uid, struct rlimit *ret);
