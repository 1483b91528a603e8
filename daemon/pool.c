/* SPDX-License-Identifier: MIT */
/*
 * Supervised pools of worker processes: Python's Pool(processes), run by
 * the daemon like a service manager runs a service. A pool is a named object
 * holding a command (argv, no shell), a number of workers wanted and a
 * restart policy. This file is the object: its requests (START, SCALE,
 * SIGNAL, STOP, and DELETE and INFO through object.c), who may make them,
 * the quota of workers a user pool counts against, and the policy that
 * restarts a worker that ended, with exponential back-off, or stops them all
 * (SIGTERM, a grace period, SIGKILL) before the pool is deleted. The
 * processes themselves (fork and exec as a user, output to the log, reaping,
 * signals) are supervisor.c's.
 *
 * Slots. A pool has one slot per worker index 0 .. workers-1; a slot holds
 * the process running for that index, its back-off and its start timer. A
 * process leaves its slot when it is scaled away or its pool stops (it is
 * "leaving": signalled, never restarted), and outlives a pool that is
 * deleted outright (supervisor_abandon). The pool keeps the processes that
 * are its own on a list, in start order, leaving ones included; the
 * supervisor tells it of each one's end (pool_worker_ended).
 *
 * Nothing here blocks the loop or sleeps: starts and restarts are timers.
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "pool.h"
#include "server.h"
#include "supervisor.h"
#include "user.h"
#include "wait.h"
#include "wire.h"

/* Back-off of restarts: the first delay, the most, and how long a worker must run to reset it. */
#define POOL_BACKOFF_MIN_MS     100u
#define POOL_BACKOFF_MAX_MS     30000u
#define POOL_BACKOFF_RESET_MS   10000u
/* How long a worker scaled away has between SIGTERM and SIGKILL. */
#define POOL_SCALE_GRACE_MS     10000
/* The "command" field shows this much of a long command. */
#define POOL_COMMAND_TEXT_MAX   4096u

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

struct pool {
        struct object obj;
        uint8_t restart;                /* WIRE_RESTART_* */
        uint32_t wanted;                /* slots */
        char *command;                  /* argc NUL-terminated strings, back to back */
        size_t command_size;
        char **argv;                    /* pointers into command, NULL-terminated */
        char *command_text;             /* argv quoted as a shell would read it, for INFO and logs */
        struct slot **slots;            /* wanted of them */
        struct worker_list workers;     /* its processes not reaped yet, in start order, leaving ones too */
        unsigned running;               /* live processes, leaving ones included */
        uint64_t started, restarts, exits, signals;
        bool stopping;
        struct waiter_list waiters;     /* POOL_STOP requests, answered when running reaches 0 */
        bool user_pool;                 /* its workers run as the client that started it (cred) */
        struct worker_cred cred;        /* user pools: the uid, gid and resource limits of its workers */
        struct user *charged;           /* charged for its slots (limits.per_user.max_workers); NULL: none */
};

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

/* ---- slots ---- */

static worker_ended_fn pool_worker_ended;

static void slot_arm(struct slot *s, uint64_t delay_ms, bool is_restart) {
        struct timeval tv = { .tv_sec = (time_t) (delay_ms / 1000), .tv_usec = (suseconds_t) (delay_ms % 1000) * 1000 };

        s->is_restart = is_restart;
        if (evtimer_add(&s->timer, &tv) == 0)
                s->timer_armed = true;
        else
                log_object(LOG_LEVEL_ERR, s->pool->obj.name, "pool '%s': cannot arm the start timer of worker %u; "
                           "it stays down until the pool is scaled", s->pool->obj.name, s->index);
}

/* Start the process of a slot. 0 or a negative errno. */
static int slot_spawn(struct pool *p, struct slot *s) {
        struct worker_spec spec = {
                .pool = p,
                .pool_name = p->obj.name,
                .index = s->index,
                .argv = p->argv,
                .cred = p->user_pool ? &p->cred : NULL,
                .ended = pool_worker_ended,
        };
        struct worker *w;
        int r = supervisor_start(&spec, &w);

        if (r < 0)
                return r;
        TAILQ_INSERT_TAIL(&p->workers, w, pool_link);
        s->worker = w;
        p->running++;
        p->started++;
        return 0;
}

static void slot_timer_cb(evutil_socket_t fd, short what, void *arg) {
        struct slot *s = arg;
        struct pool *p = s->pool;
        int r;

        s->timer_armed = false;
        if (p->stopping || mpxd.stopping || s->worker)
                return;
        r = slot_spawn(p, s);
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

/* Free a slot; its process, if any, must have been dealt with (supervisor_charge). */
static void slot_free(struct slot *s) {
        if (!s)
                return;
        if (s->timer_armed)
                evtimer_del(&s->timer);
        user_workers_removed(s->pool->charged, 1);
        free(s);
}

/* ---- pools ---- */

/* A pool whose last worker is gone after POOL_STOP: answer the stoppers, then delete it. */
static void pool_stopped(struct pool *p) {
        log_object(LOG_LEVEL_INFO, p->obj.name, "pool '%s': every worker has exited; deleting the pool",
                   p->obj.name);
        wait_fail_all(&p->waiters, 0);
        object_delete(&p->obj, -EIDRM);
}

/*
 * The supervisor tells of a worker's end: log how it ended, restart it by
 * policy. The pool may be deleted here.
 */
static void pool_worker_ended(struct worker *w, const struct worker_end *end) {
        struct pool *p = w->pool;
        bool failed = !WIFEXITED(end->status) || WEXITSTATUS(end->status) != 0;
        struct slot *s = NULL;
        const char *why = NULL;

        TAILQ_REMOVE(&p->workers, w, pool_link);
        p->running--;
        if (w->index < p->wanted && p->slots[w->index]->worker == w) {
                s = p->slots[w->index];
                s->worker = NULL;
        }
        /* Not reaped as mpxd stops: it is forgotten, and nothing more is said or done. */
        if (!end->reaped)
                return;
        p->exits++;
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
                           (long) w->pid, end->how, (unsigned long long) end->ran_ms, why);
        else {
                s->backoff_ms = pool_backoff_next_ms(s->backoff_ms, end->ran_ms);
                log_object(failed ? LOG_LEVEL_NOTICE : LOG_LEVEL_INFO, p->obj.name,
                           "pool '%s': worker %u (pid %ld) %s after %llu ms; restarting it in %llu ms",
                           p->obj.name, w->index, (long) w->pid, end->how, (unsigned long long) end->ran_ms,
                           (unsigned long long) s->backoff_ms);
                slot_arm(s, s->backoff_ms, true);
        }
        if (p->stopping && p->running == 0)
                pool_stopped(p);
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

        while ((w = TAILQ_FIRST(&p->workers))) {
                TAILQ_REMOVE(&p->workers, w, pool_link);
                /* It left its slot but runs on until it is reaped: charged on its own until then. */
                supervisor_charge(w, p->charged);
                supervisor_abandon(w);
                killed++;
        }
        if (killed > 0)
                log_object(LOG_LEVEL_NOTICE, o->name, "pool '%s' deleted with %u worker%s running; killed them",
                           o->name, killed, killed == 1 ? "" : "s");
        /* A pool whose set-up failed has no slots, or some of them. */
        for (uint32_t i = 0; p->slots && i < p->wanted; i++)
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
        TAILQ_FOREACH(w, &p->workers, pool_link)
                if ((w->index >= p->wanted || p->slots[w->index]->worker != w) && len + 12 < size)
                        len += (size_t) snprintf(s + len, size - len, "%s%ld", len ? " " : "", (long) w->pid);
        return s;
}

static int pool_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct pool *p = pool_of(o);
        unsigned waiters = wait_count(&p->waiters);
        char *pids = pool_pids(p);
        int r = 0;

        if (!pids)
                return -ENOMEM;
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
        r |= object_describe_age(o, b, f);
        free(pids);
        return r < 0 ? -ENOMEM : 0;
}

static int pool_check_control(const struct client *c, const struct pool *p, const char *what);

/* Deleting a pool kills its workers: only those who may stop it may delete it. */
static int pool_may_delete(struct object *o, const struct client *c) {
        return pool_check_control(c, pool_of(o), "delete");
}

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
        struct worker_cred cred;
        struct user *user;              /* charged for the workers */
};

/* What a declare asks of a pool: its workers, restart policy and command, whom they run as (NULL: the daemon's choice). */
struct pool_params {
        uint32_t workers;
        uint8_t restart;
        const char *command;            /* argv, each NUL-terminated */
        size_t command_size;
        const struct pool_starter *as;
};

/* The pool that exists runs the same command, restarts alike and runs its workers as the same user. */
static int pool_declare_match(struct object *o, const void *params) {
        const struct pool_params *d = params;
        const struct pool *p = pool_of(o);

        return !p->stopping && p->restart == d->restart && p->command_size == d->command_size &&
               memcmp(p->command, d->command, d->command_size) == 0 && p->user_pool == !!d->as &&
               (!d->as || p->cred.uid == d->as->cred.uid) ? 0 : -EEXIST;
}

static int pool_declare_check_new(const void *params) {
        const struct pool_params *d = params;
        int argc = d->command ? command_argc(d->command, d->command_size) : -EINVAL;

        if (argc < 0 || d->workers == 0 || d->workers > POOL_MAX_WORKERS || !pool_restart_to_string(d->restart))
                return -EINVAL;
        return 0;
}

/* A new pool with its slots, no worker started yet. */
static int pool_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        const struct pool_params *d = params;
        int argc = command_argc(d->command, d->command_size);
        struct pool *p = pool_of(o);
        char *a;

        (void) name, (void) len;
        TAILQ_INIT(&p->workers);
        TAILQ_INIT(&p->waiters);
        /* Each worker holds a log pipe open in the daemon: refuse what would starve clients of descriptors. */
        if ((d->as && user_may_run_workers(d->as->user, d->workers) < 0) || server_fds_check(d->workers) < 0)
                return -EUSERS;
        if (d->as) {
                /* Before the slots, which charge it. */
                p->user_pool = true;
                p->cred = d->as->cred;
                p->charged = d->as->user;
        }
        p->restart = d->restart;
        p->wanted = d->workers;
        p->command_size = d->command_size;
        p->command = malloc(d->command_size);
        p->argv = calloc((size_t) argc + 1, sizeof(*p->argv));
        p->slots = calloc(d->workers, sizeof(*p->slots));
        if (!p->command || !p->argv || !p->slots)
                return -ENOMEM;
        memcpy(p->command, d->command, d->command_size);
        a = p->command;
        for (int i = 0; i < argc; i++) {
                p->argv[i] = a;
                a += strlen(a) + 1;
        }
        p->command_text = command_text(p->argv);
        if (!p->command_text)
                return -ENOMEM;
        for (uint32_t i = 0; i < d->workers; i++)
                if (!(p->slots[i] = slot_new(p, i)))
                        return -ENOMEM;
        return 0;
}

/* A new pool is registered: it starts its workers. */
static void pool_declare_done(struct object *o, const void *params) {
        struct pool *p = pool_of(o);

        (void) params;
        /* Anyone could always read about a pool; only who may operate pools may control it. */
        o->mode |= 0444;
        /* Fork from the loop: at start the socket workers connect to is not listening yet. */
        for (uint32_t i = 0; i < p->wanted; i++)
                slot_arm(p->slots[i], 0, false);
        log_object(LOG_LEVEL_INFO, o->name, "pool '%s': starting %u worker%s (restart %s): %s", o->name,
                   p->wanted, p->wanted == 1 ? "" : "s", pool_restart_to_string(p->restart), p->command_text);
}

static const struct object_type pool_type = {
        .type = WIRE_TYPE_POOL,
        .wake_all = pool_wake_all,
        .serve = pool_serve,
        .describe = pool_describe,
        .free = pool_free,
        .may_delete = pool_may_delete,
        .declare_match = pool_declare_match,
        .declare_check_new = pool_declare_check_new,
        .size = sizeof(struct pool),
        .declare_init = pool_declare_init,
        .declare_done = pool_declare_done,
};

/* pool_declare, for request req (NULL: the daemon itself), and for a user pool when as is not NULL. */
static int pool_declare_as(const struct request *req, const char *name, size_t len, uint32_t workers,
                           uint8_t restart, const char *command, size_t command_size, const struct pool_starter *as) {
        struct pool_params p = {
                .workers = workers, .restart = restart, .command = command, .command_size = command_size, .as = as,
        };

        return object_declare(req, name, len, &pool_type, &p, NULL);
}

int pool_declare(const char *name, size_t len, uint32_t workers, uint8_t restart, const char *command,
                 size_t command_size) {
        return pool_declare_as(NULL, name, len, workers, restart, command, command_size, NULL);
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
                                /* It runs on until it is reaped: charged on its own until then. */
                                supervisor_charge(p->slots[i]->worker, p->charged);
                                supervisor_stop(p->slots[i]->worker, POOL_SCALE_GRACE_MS);
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
        TAILQ_FOREACH(w, &p->workers, pool_link)
                supervisor_stop(w, grace_ms);
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
        if (!c || client_is_superuser(c) || (p->user_pool && p->cred.uid == client_shared(c)->uid))
                return 0;
        if (pool_refusal_log_due()) {
                if (p->user_pool)
                        client_log(LOG_LEVEL_NOTICE, c, "%s may not %s pool '%s': its workers "
                                   "run as uid %ld; refusing with EACCES", client_describe(c), what, p->obj.name,
                                   (long) p->cred.uid);
                else
                        client_log(LOG_LEVEL_NOTICE, c, "%s may not %s pool '%s': only root%s "
                                   "may; refusing with EACCES", client_describe(c), what, p->obj.name,
                                   mpxd.config && mpxd.config->admin_group ? " and the admin group" : "");
        }
        return -EACCES;
}

/*
 * The resource limits of the process that connected c (SO_PEERCRED's pid),
 * which the workers of a user pool take: a user must not get through mpxd
 * what its own limits (RLIMIT_NPROC, say) deny it. 0, or -ESRCH (logged,
 * rate limited): the process is gone or is no longer the client's.
 */
static int client_limits(const struct client *c, struct worker_cred *cred) {
        cred->has_limits = false;
        if (!client_has_socket(c))
                return 0;
        if (supervisor_process_limits(client_shared(c)->pid, client_shared(c)->uid, cred->limits) < 0) {
                if (pool_refusal_log_due())
                        client_log(LOG_LEVEL_NOTICE, c, "%s may not start a pool: the "
                                   "resource limits of its process, which its workers would take, cannot be read "
                                   "(the process is gone, or not the one that connected); refusing with EACCES",
                                   client_describe(c));
                return -ESRCH;
        }
        cred->has_limits = true;
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
        if (client_shared(c)->uid == (uid_t) -1 || client_shared(c)->gid == (gid_t) -1)
                return -EACCES;
        if (geteuid() != 0) {
                if (pool_refusal_log_due())
                        client_log(LOG_LEVEL_NOTICE, c, "%s may not start a pool: mpxd does "
                                   "not run as root, so it cannot run workers as uid %ld; only root%s may; "
                                   "refusing with EACCES", client_describe(c), (long) client_shared(c)->uid,
                                   mpxd.config && mpxd.config->admin_group ? ", mpxd's user and the admin group" :
                                   " and mpxd's user");
                return -EACCES;
        }
        *ret_user_pool = true;
        return 0;
}

/* ---- request handlers ---- */

/* START: name, u32 workers, u8 restart, u16 argc, argc x str -> u8 created. */
int pool_handle_start(struct client *c, const struct request *req, struct wire_reader *r) {
        struct wire_reader args;
        const char *name;
        size_t len, size = 0;
        uint32_t workers;
        uint8_t restart;
        uint16_t argc;
        bool bad = false, user_pool;
        struct pool_starter as = {
                .cred = { .uid = client_shared(c)->uid, .gid = client_shared(c)->gid, .has_limits = false },
                .user = client_shared(c)->user,
        };
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
        if (!user_pool && geteuid() == 0 && client_shared(c)->uid != 0 && (!mpxd.config || !mpxd.config->pool_user)) {
                client_log(LOG_LEVEL_NOTICE, c, "%s may not start a pool: mpxd runs as root "
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
                int found = supervisor_find_command(command, user_pool ? &as.cred : NULL);

                if (found == 0 && user_pool && client_limits(c, &as.cred) < 0)
                        found = -EACCES;
                if (found < 0) {
                        free(command);
                        return found;
                }
        }
        created = pool_declare_as(req, name, len, workers, restart, command, size, user_pool ? &as : NULL);
        free(command);
        if (created < 0)
                return created;
        if (created && user_pool)
                client_log(LOG_LEVEL_INFO, c, "pool '%.*s' started by %s; its workers run as "
                           "uid %ld, gid %ld", (int) len, name, client_describe(c), (long) as.cred.uid,
                           (long) as.cred.gid);
        else if (created)
                client_log(LOG_LEVEL_INFO, c, "pool '%.*s' started by %s", (int) len, name,
                           client_describe(c));
        return op_reply_u8(c, req, (uint8_t) created);
}

/* SCALE: name, u32 workers. */
int pool_handle_scale(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = pool_of(req->obj);
        uint32_t workers = req->f[0].w;
        int err;

        if (pool_check_control(c, p, "scale") < 0)
                return -EACCES;
        if (workers > POOL_MAX_WORKERS || p->stopping)
                return -EINVAL;
        if (workers != p->wanted) {
                uint32_t old = p->wanted;

                err = pool_scale(p, workers);
                if (err < 0)
                        return err;
                client_log(LOG_LEVEL_INFO, c, "pool '%s' scaled from %u to %u workers by %s",
                           p->obj.name, old, workers, client_describe(c));
        }
        return op_reply_ok(c, req);
}

/* SIGNAL: name, u32 signal -> u32 workers signalled. */
int pool_handle_signal(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = pool_of(req->obj);
        uint32_t sig = req->f[0].w, n = 0;
        struct worker *w;

        if (pool_check_control(c, p, "signal") < 0)
                return -EACCES;
        if (sig == 0 || sig >= NSIG)
                return -EINVAL;
        /* Once the signals are sent, the reply must not fail. */
        if (client_reply_reserve(c, 4) < 0)
                return -ENOMEM;
        TAILQ_FOREACH(w, &p->workers, pool_link)
                if (supervisor_signal(w, (int) sig) == 0)
                        n++;
        p->signals += n;
        client_log(LOG_LEVEL_INFO, c, "pool '%s': SIG%s sent to %u worker%s by %s", p->obj.name,
                   sigabbrev_np((int) sig) ? sigabbrev_np((int) sig) : "?", n, n == 1 ? "" : "s",
                   client_describe(c));
        return op_reply(c, req, "w", n);
}

/* STOP: name, i64 grace_ms; answered once every worker has exited, then the pool is deleted. */
int pool_handle_stop(struct client *c, const struct request *req, struct wire_reader *r) {
        struct pool *p = pool_of(req->obj);
        int64_t grace_ms = req->f[0].i;

        if (pool_check_control(c, p, "stop") < 0)
                return -EACCES;
        if (!p->stopping)
                client_log(LOG_LEVEL_INFO, c, "pool '%s' stopped by %s (grace %lld ms)",
                           p->obj.name, client_describe(c), (long long) grace_ms);
        if (!wait_add(c, req, &p->obj, &p->waiters, -1))
                return -errno;
        pool_stop_begin(p, grace_ms);
        if (p->running == 0)
                pool_stopped(p);
        return 0;
}
