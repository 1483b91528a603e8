/* SPDX-License-Identifier: MIT */
/*
 * The core types of mpxd and the functions each daemon file exports, grouped
 * by file. mpxd is one thread and one libevent loop: nothing here locks.
 *
 * Lifetimes in one paragraph: a client owns its buffers and is freed from a
 * deferred event after it is lost; an object owns its items and its waiters'
 * pending data; a waiter is linked into its object's wait list and its
 * client's list at once, and only wait.c links or unlinks it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

/*
 * uthash must not exit on out-of-memory (its default): a failed allocation in
 * HASH_ADD (a new table, or a bucket expansion, which is rolled back) leaves
 * the element out of the table and sets hash_oom. Every HASH_ADD site checks
 * hash_add_failed() and answers -ENOMEM with nothing changed. hash.c.
 */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) do { (void) (obj); hash_oom = true; } while (0)
#define uthash_malloc(sz) hash_malloc(sz)
#define uthash_free(ptr, sz) free(ptr)
extern bool hash_oom;
void *hash_malloc(size_t size);
/* true (once) if the last HASH_ADD failed for lack of memory. */
static inline bool hash_add_failed(void) {
        bool failed = hash_oom;

        hash_oom = false;
        return failed;
}
/*
 * For unit tests only, to reach the failure paths: when non-zero, the
 * hash_fail_countdown-th next uthash allocation fails (1: the next one),
 * once. The daemon never sets it.
 */
extern unsigned hash_fail_countdown;
#include <uthash.h>

#include "macros.h"
#include "wire.h"

struct client;
struct object;
struct user;
struct waiter;
struct perm_denial;

/* ---- log.c ---- */

enum log_level {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/* Log messages up to level (a command-line option or the configuration sets it). */
void log_set_level(enum log_level level);
/* The level in force. */
enum log_level log_get_level(void);
/* true if messages of level are logged. */
/* The most verbose level logged; read inline so that a debug line costs one compare when off. */
extern enum log_level log_max_level;
static inline bool log_enabled(enum log_level level) {
        return level <= log_max_level;
}
/* Name of a level as the configuration writes it ("info"); NULL if unknown. */
const char *log_level_to_string(enum log_level level);
/* The level a name stands for, or -EINVAL. */
int log_level_from_string(const char *s);
/* Log one message; the text is built from fmt. */
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/*
 * Log one message about an object or a client. In the journal the message
 * carries MPX_OBJECT= or MPX_CLIENT_ID=, MPX_CLIENT_PID=, MPX_CLIENT_UID=
 * fields; on plain stderr it reads as log_msg's.
 */
void log_object(enum log_level level, const char *object, const char *fmt, ...) _printf_(3, 4);
void log_client(enum log_level level, uint64_t id, pid_t pid, uid_t uid, const char *fmt, ...) _printf_(5, 6);
#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)

/* ---- config.c: the configuration file ---- */

/* Bounds of the limits a configuration may set. */
#define CONFIG_MAX_MESSAGE_LIMIT (WIRE_DEFAULT_MAX_FRAME - 1024)   /* a payload plus its request fits one frame */
#define CONFIG_MAX_CLIENTS_LIMIT 1000000u
#define CONFIG_MAX_OBJECTS_LIMIT 100000000u
#define CONFIG_DEFAULT_MAX_CLIENTS 4096u
#define CONFIG_DEFAULT_MAX_OBJECTS 100000u
#define CONFIG_DEFAULT_OBJECT_MODE 0660u       /* permissions.default_mode */
#define CONFIG_DEFAULT_MAX_OUTPUT (UINT64_C(64) << 20)
#define CONFIG_MIN_MAX_OUTPUT (UINT64_C(64) << 10)     /* a reply of a few items must fit */
#define CONFIG_MAX_WAITERS_LIMIT 100000000u
#define CONFIG_MAX_MEMORY_LIMIT (UINT64_C(1) << 50)     /* a petabyte: past any machine */
#define CONFIG_DEFAULT_MAX_WORKERS 64u          /* limits.per_user.max_workers */
#define CONFIG_MAX_WORKERS_LIMIT 1000000u

/* Quotas of one uid (limits.per_user); 0 is unlimited. */
struct user_limits {
        uint64_t max_memory;            /* bytes held (payload and per-element overhead) */
        uint32_t max_objects;
        uint32_t max_clients;
        uint32_t max_waiters;
        uint32_t max_workers;           /* workers of the pools that run as the uid (pool.c) */
};

/* One object the configuration declares at start and on each reload. */
struct config_object {
        uint8_t type;                   /* enum wire_type */
        char name[WIRE_NAME_MAX + 1];   /* NUL-terminated */
        size_t name_len;
        unsigned line;                  /* where the file declares it */
        uint64_t maxsize;               /* queue, joinable: 0 unbounded */
        uint64_t value;                 /* semaphore: initial value */
        uint64_t max;                   /* semaphore: bound, with WIRE_SEM_BOUNDED */
        uint32_t flags;                 /* semaphore: WIRE_SEM_*; value, array: WIRE_ARRAY_VALUE */
        uint32_t parties;               /* barrier */
        char typecode;                  /* value, array */
        uint32_t length;                /* value (1), array */
        void *initial;                  /* value, array: length elements, or NULL for zeros;
                                           pool: the command, argc NUL-terminated strings */
        size_t command_size;            /* pool: bytes of the command in initial */
        uint32_t workers;               /* pool */
        uint8_t restart;                /* pool: WIRE_RESTART_* */
        uid_t uid;                      /* owner; (uid_t) -1: mpxd's own user */
        gid_t gid;                      /* group; (gid_t) -1: mpxd's own group */
        int mode;                       /* permission bits; -1: permissions.default_mode */
        bool durable;                   /* queue, dict, list, semaphore, value, array: journaled */
};

/* A configuration: the file's settings over the defaults. */
struct config {
        char *path;                     /* the file read; NULL when there was none */
        char *socket_path;
        unsigned socket_mode;
        gid_t socket_gid;               /* (gid_t) -1: the daemon's own group */
        char *socket_group;             /* as written, for messages; NULL if unset */
        enum log_level log_level;
        uint32_t max_message;
        uint32_t max_clients;
        uint32_t max_objects;
        uint64_t max_memory;            /* bytes held by all objects; 0 unlimited */
        uint64_t max_output;            /* unsent reply bytes of one client */
        uint32_t max_waiters_per_client; /* 0 unlimited */
        struct user_limits per_user;
        struct config_object *objects;
        size_t n_objects;
        gid_t admin_gid;                /* may operate pools; (gid_t) -1: none (root and mpxd's user only) */
        char *admin_group;              /* as written, for messages; NULL if unset */
        char *pool_user;                /* pool workers run as this user when mpxd is root; NULL if unset */
        uid_t pool_uid;
        gid_t pool_gid;                 /* pool_user's primary group */
        unsigned default_mode;          /* permissions.default_mode: of objects created from now on */
        char *durability_dir;           /* NULL: durability is off */
        uint8_t durability_sync;        /* enum journal_sync */
        bool durability_default;        /* every new object of a durable type is durable */
        uint64_t compact_size;          /* journal bytes that start a compaction */
};

/* What the command line set; it wins over the file, at start and on reload. */
struct config_overrides {
        const char *socket_path;        /* NULL: not given */
        int socket_mode;                /* -1: not given */
        const char *socket_group;       /* NULL: not given */
        int log_level;                  /* -1: not given */
        int64_t max_message;            /* -1: not given */
        int64_t max_clients;
        int64_t max_objects;
};

/* The default configuration file ($(sysconfdir)/mpx/mpxd.conf). */
#ifndef MPXD_CONFIG_PATH
#define MPXD_CONFIG_PATH "/etc/mpx/mpxd.conf"
#endif

/* A configuration with every default and no objects; NULL when out of memory. */
struct config *config_new(void);
/* Free a configuration; accepts NULL, returns NULL. */
struct config *config_free(struct config *c);
/* Overrides that override nothing. */
void config_overrides_init(struct config_overrides *o);
/*
 * Read the file at path into a new configuration. A missing file is an error
 * when must_exist, else the defaults apply (*ret has path NULL). On failure
 * *ret_errors (free it) holds one line per error, each naming the file, the
 * line and the setting and saying what was expected; returns -EINVAL
 * (a bad file), -ENOENT, -EACCES and the like (unreadable), or -ENOMEM.
 */
int config_load(const char *path, bool must_exist, struct config **ret, char **ret_errors);
/*
 * Apply command-line overrides to a configuration. On failure (an unknown
 * group) *ret_errors says why and -EINVAL is returned.
 */
int config_override(struct config *c, const struct config_overrides *o, char **ret_errors);
/*
 * Declare one configured object through its type's declare function: 1
 * created, 0 existed as configured, or a negative errno (-EEXIST: it exists
 * with other parameters; -EPROTOTYPE: the name has another type; -EUSERS: at
 * the object limit).
 */
int config_declare(const struct config_object *o);

/* ---- server.c: the process-wide state ---- */

struct refusal;

struct mpxd {
        struct event_base *base;

        /* limits announced in HELLO */
        uint32_t max_message;           /* bytes in one payload */
        uint32_t max_frame;             /* bytes in one frame body */

        /* listener */
        const char *socket_path;
        unsigned socket_mode;
        int listen_fd;
        int lock_fd;
        bool socket_owned;              /* we bound it, so we unlink it */
        struct event *ev_listen;
        struct event *ev_signals[4];

        TAILQ_HEAD(, client) clients;
        TAILQ_HEAD(, client) dirty;     /* clients with output to flush */
        TAILQ_HEAD(, client) held;      /* clients whose output waits for the journal */
        unsigned n_clients;
        uint64_t next_client_id;

        /* objects: by name, and in creation order for listing */
        struct object *objects;         /* uthash head */
        TAILQ_HEAD(, object) objects_ordered;
        unsigned n_objects;
        uint64_t next_serial;

        unsigned n_waiters;
        uint64_t requests;
        uint64_t requests_by_family[10];        /* by opcode / 100: session, admin, queue ... */
        uint64_t started_ms;
        bool stopping;

        /* configuration: config.c reads it, server.c applies it */
        const char *config_path;        /* read at start and on SIGHUP */
        bool config_required;           /* given with -c: a missing file is an error */
        struct config_overrides overrides;
        struct config *config;          /* in force */
        uint32_t max_clients;
        uint32_t max_objects;
        uint64_t max_memory;            /* 0: unlimited */
        uint64_t max_output;
        uint32_t max_waiters_per_client; /* 0: unlimited */
        struct user_limits per_user;
        gid_t socket_gid;               /* (gid_t) -1: leave the socket's group alone */

        /* memory: bytes every object holds (payload and per-element overhead), kept on add and remove */
        uint64_t bytes_held;
        struct user *users;             /* uthash by uid: every uid with something charged */
        unsigned n_users;
        /* connections over max_clients, waiting to be told EUSERS */
        TAILQ_HEAD(, refusal) refusals;
        unsigned n_refusals;
        uint64_t refused;               /* since start, for the log */
        uint64_t refused_logged_ms;
        /*
         * Out of descriptors (server.c): one held in reserve to accept a
         * client and refuse it EUSERS; accepting paused meanwhile.
         */
        int reserve_fd;
        bool accept_paused;
        struct event *ev_accept_resume;
        uint64_t fd_shortages;          /* accept() failures for want of descriptors, since start */
        uint64_t fd_refused;            /* clients refused EUSERS for it, since start */
        uint64_t fd_logged_ms, fd_shortages_logged, fd_refused_logged;

        /* the service manager: STATUS= and WATCHDOG=1 from one timer */
        struct event *ev_tick;
        uint64_t watchdog_usec;         /* 0: no watchdog */
        uint64_t status_ms;             /* when STATUS= was last sent */
        char status[512];               /* what it said */
        char reload_error[200];         /* why the last reload failed; "" after a good one */
};

extern struct mpxd mpxd;

/* Monotonic milliseconds. */
uint64_t now_ms(void);
/*
 * The time the current batch of requests began, read once per batch: for the
 * statistics of the per-request path (last activity, when an item was put),
 * where a clock read per request costs a tenth of the daemon's time on a VM.
 * loop_clock_update() reads the clock into it.
 */
extern uint64_t loop_now_ms;
void loop_clock_update(void);

/* Set up state and the event base without any socket (used by unit tests too). */
int mpxd_init(void);
void mpxd_done(void);
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

/* ---- user.c: what each uid holds, and its quotas ---- */

/* The kinds of refusal, each logged at most once per ten seconds per uid. */
enum user_refusal {
        USER_REFUSED_MEMORY,            /* limits.per_user.max_memory */
        USER_REFUSED_OBJECTS,
        USER_REFUSED_CLIENTS,
        USER_REFUSED_WAITERS,
        USER_REFUSED_CLIENT_WAITERS,    /* limits.max_waiters_per_client */
        USER_REFUSED_WORKERS,           /* limits.per_user.max_workers */
        _USER_REFUSED_MAX,
};

/*
 * One uid: what it holds and when each kind of refusal was last logged. It
 * exists from its first connection while anything is charged to it; items
 * and entries point to the user that put them, so they are uncharged from
 * the right uid whoever removes them.
 */
struct user {
        UT_hash_handle hh;
        uid_t uid;
        uint64_t bytes;                 /* bytes charged: payload and per-element overhead */
        uint64_t n_charges;             /* items, entries and arrays charged (empty ones too) */
        unsigned n_objects;
        unsigned n_clients;
        unsigned n_waiters;
        unsigned n_workers;             /* slots of the pools that run as it, and their processes that left them */
        uint64_t refused[_USER_REFUSED_MAX];
        uint64_t logged_ms[_USER_REFUSED_MAX];
};

/*
 * The user of the request being handled (op_current), to whom new objects
 * are charged; NULL outside requests, where the daemon itself declares
 * objects (the configuration).
 */
struct user *user_requester(void);
/* The user of uid, created when missing; NULL when out of memory. */
struct user *user_get(uid_t uid);
/* The user of uid if it exists. */
struct user *user_find(uid_t uid);
/* Free every user (mpxd_done, once nothing is charged any more). */
void user_free_all(void);
/*
 * 0 if u (NULL: nobody) may hold add more bytes once freed_own of its own
 * bytes and freed_other bytes of other users are released, under
 * limits.max_memory and its quota; -ENOSPC if not (logged, rate-limited).
 * Checks only: the caller charges once the change is certain.
 */
int user_may_hold(struct user *u, uint64_t add, uint64_t freed_own, uint64_t freed_other);
/* Charge one item, entry or array of bytes to u (NULL: nobody) and to the daemon's total. */
void user_charge(struct user *u, uint64_t bytes);
/* Give back what user_charge took; u may be freed. */
void user_uncharge(struct user *u, uint64_t bytes);
/*
 * The bytes charged per element on top of its payload (its header and the
 * allocator's), so that limits.max_memory bounds what the daemon holds
 * even for empty elements; defined where each element is.
 */
extern const uint64_t queue_item_overhead;
extern const uint64_t list_item_overhead;
extern const uint64_t dict_entry_overhead;
/* 0 if u may create one more object, -EUSERS over its quota. */
int user_may_create(struct user *u);
void user_object_created(struct user *u);
void user_object_deleted(struct user *u);
/* 0 if one more connection of uid fits its quota, -EUSERS if not (logged, rate-limited). */
int user_may_connect(uid_t uid);
/* A connection of u came or went (client_new, client_lost); u may be freed on the way out. */
void user_client_connected(struct user *u);
void user_client_gone(struct user *u);
/* 0 if client c may park one more request, -EUSERS if not (logged, rate-limited). */
int user_may_wait(const struct client *c);
void user_waiter_added(struct client *c);
void user_waiter_removed(struct client *c);
/*
 * Workers of the pools that run as a uid other than the daemon's choice
 * (pool.c): 0 if u may have more of them, -EUSERS past
 * limits.per_user.max_workers (logged, rate-limited). A worker is charged
 * from its pool's slot being made until the slot is gone and its process
 * reaped, so that scaling down and up again cannot outrun the quota.
 */
int user_may_run_workers(struct user *u, unsigned more);
void user_workers_added(struct user *u, unsigned n);
/* u may be freed. */
void user_workers_removed(struct user *u, unsigned n);

/* ---- op.c: the request table ---- */

struct request {
        uint32_t id;
        uint16_t op;
};

/* The access a request needs to the object it names (perm.c decides). */
enum perm_access {
        PERM_NONE,                      /* names no object, or only creates one */
        PERM_READ,
        PERM_WRITE,
        PERM_ADMIN,                     /* the owner's (and superusers') alone */
};

/*
 * The request op_dispatch is handling, for the object lookup to check against;
 * client is NULL between requests, so that nothing done outside a request
 * (the configuration, timers, serving waiters) is checked.
 */
struct op_context {
        struct client *client;
        uint16_t op;
        enum perm_access access;
        bool changes;                   /* it may change the object it names: durable ones need journal room */
        uint32_t body_len;
};
extern struct op_context op_current;

/* Handle one complete frame of a client. */
void op_dispatch(struct client *c, const struct wire_header *h, const uint8_t *body);

/*
 * Reply helpers for handlers: a reply whose body is one value. They return 0
 * (the reply is queued) or -ENOMEM (nothing queued; op_dispatch answers it).
 */
int op_reply_u8(struct client *c, const struct request *req, uint8_t v);
int op_reply_u64(struct client *c, const struct request *req, uint64_t v);
int op_reply_i64(struct client *c, const struct request *req, int64_t v);
int op_reply_bytes(struct client *c, const struct request *req, const void *data, size_t len);

/* ---- admin.c: inspection and object-wide requests ---- */

int admin_handle_list(struct client *c, const struct request *req, struct wire_reader *r);
/* An object is being deleted: a listing that was to go on from it goes on from the next. */
void admin_object_deleted(struct object *o);
int admin_handle_info(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_delete(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_stats(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_clients(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_users(struct client *c, const struct request *req, struct wire_reader *r);

/* ---- perm.c: object ownership and permissions ---- */

#define PERM_MODE_MASK 07777u           /* the bits CHMOD accepts, as chmod(2) */

/* One object a client was refused, by creation serial (names may be reused, serials are not). */
struct perm_denial {
        UT_hash_handle hh;
        uint64_t serial;
};

/* Who asks, relative to one object: the inputs of the permission decision. */
struct perm_who {
        bool superuser;                 /* root, mpxd's own user or a member of admin_group */
        bool owner;                     /* its uid is the object's owner */
        bool in_group;                  /* the object's group is its primary or a supplementary group */
};

/*
 * The permission decision, as System V's ipc_perm: superusers may do
 * everything; PERM_ADMIN is the owner's; read and write are the mode's bits
 * of the first class that matches (owner, else group, else other). Inline:
 * every request that names an object goes through it.
 */
static inline bool perm_allows(const struct perm_who *who, unsigned mode, enum perm_access access) {
        unsigned shift;

        if (who->superuser || access == PERM_NONE)
                return true;
        if (access == PERM_ADMIN)
                return who->owner;
        /* The first class that matches decides, as for files: an owner without a bit has no right by its group. */
        shift = who->owner ? 6 : who->in_group ? 3 : 0;
        return (mode >> shift) & (access == PERM_READ ? 04u : 02u);
}
/* The name of an access class for messages ("read"). */
const char *perm_access_name(enum perm_access access);
/* Root, mpxd's own user, or a member of the configured admin_group: they may do everything. */
bool client_is_superuser(const struct client *c);
/*
 * 0 if the request being handled may access o, else -EACCES, logged once per
 * client and object. Called by the object lookup; see object_lookup.
 */
int perm_check(struct object *o);
/*
 * Whether client c has the right access to o, without logging: for listings
 * that show what a client may see and skip the rest (LIST).
 */
bool perm_may(const struct client *c, const struct object *o, enum perm_access access);
/* Set a new object's owner, group and mode: the requesting client's, or mpxd's own. */
void perm_init_object(struct object *o);
/* Forget what a client was refused (it is being freed). */
void perm_client_free(struct client *c);
int perm_handle_chmod(struct client *c, const struct request *req, struct wire_reader *r);
int perm_handle_chown(struct client *c, const struct request *req, struct wire_reader *r);

/* ---- object.c: the name registry ---- */

struct object_type {
        uint8_t type;                   /* enum wire_type */
        /* Wake every waiter with neg_errno (-EIDRM, -ESHUTDOWN); NULL for types nobody waits on. */
        void (*wake_all)(struct object *o, int neg_errno);
        /* Serve waiters after something changed (a waiter left, say); NULL if there is nothing to do. */
        void (*serve)(struct object *o);
        /* Append the fields that describe the object. */
        int (*describe)(struct object *o, struct wire_buf *b, struct wire_fields *f);
        /* Free the object and everything it holds; no waiters are left. */
        void (*free)(struct object *o);
        /*
         * Optional: a waiter is about to leave unserved, because its timer
         * fired (why -ETIMEDOUT), its client cancelled it (why -ECANCELED)
         * or its client is gone (why -ECONNRESET). The waiter is still
         * linked; it is answered (on timeout or cancel) and freed by wait.c
         * after this returns. A barrier breaks here, or, on cancel, forgets
         * the party.
         */
        void (*waiter_left)(struct object *o, struct waiter *w, int why);
        /* Optional: bytes the object holds (payload and per-element overhead), for the daemon-wide total. */
        uint64_t (*bytes)(struct object *o);
        /* Optional: 0 if client c may delete the object, else -EACCES (pools: pool.c's rule). */
        int (*may_delete)(struct object *o, const struct client *c);
        /*
         * Types that can be durable: append the journal records that recreate
         * the object as it is (journal_create, then its contents); 0 or -ENOMEM.
         */
        int (*dump)(struct object *o);
        /* Apply one journal record of the type's own kinds; 0, or -EBADMSG when it makes no sense. */
        int (*replay)(struct object *o, uint16_t kind, struct wire_reader *r);
        /* Optional, durable objects changed behind the daemon's back (mapped arrays): journal what changed. */
        void (*checkpoint)(struct object *o);
};

struct object {
        UT_hash_handle hh;
        char name[WIRE_NAME_MAX + 1];   /* NUL-terminated */
        size_t name_len;
        const struct object_type *ops;
        uint64_t serial;                /* creation order, the LIST cursor */
        uint64_t created_ms;
        uint64_t active_ms;             /* last request on it */
        uint64_t timeouts;              /* waiters that timed out */
        uint64_t requests;              /* requests that named it */
        uid_t uid;                      /* owner */
        gid_t gid;                      /* group */
        uint16_t mode;                  /* permission bits, as chmod(2)'s: r 4, w 2 per class */
        struct user *user;              /* its creator, charged for it; NULL: configured */
        bool durable;                   /* its changes are journaled (journal.c) */
        bool counted;                   /* alive while referred to (ref.c) */
        uint32_t n_refs, n_transit;     /* references to it, of which in transit */
        TAILQ_HEAD(, ref) refs;
        TAILQ_ENTRY(object) link;
};

/* Find an object by name; NULL if there is none. No permission is checked: not for requests. */
struct object *object_find(const char *name, size_t len);
/*
 * Find an object for the request being handled: 0 and *ret (NULL when there
 * is none), or -EACCES when the request's client may not access it as the
 * request's access class requires (perm_check). Outside a request (the
 * configuration, timers) nothing is checked. Every lookup a request makes
 * goes through here or object_find_typed.
 */
int object_lookup(const char *name, size_t len, struct object **ret);
/*
 * As object_lookup, for an object that must exist and be of one of the types
 * in the mask (1 << type): 0 and *ret set, -ENOENT, -EPROTOTYPE or -EACCES.
 */
int object_find_typed(const char *name, size_t len, unsigned type_mask, struct object **ret);
/*
 * Register a new object, initialised by its type; the name must be free. Its
 * owner is the client of the request being handled, or mpxd itself (perm_init_object).
 * 0, or -ENOMEM with nothing registered: the caller still owns o and frees it.
 */
int object_register(struct object *o, const char *name, size_t len, const struct object_type *ops);
/* Wake its waiters with neg_errno, unregister and free it. */
void object_delete(struct object *o, int neg_errno);
/*
 * The two halves of every DECLARE around the type's own: before, the checks
 * of flags every declare takes (-EINVAL for a counted durable object; for a
 * durable one the journal's, journal_declare_check); after, with created
 * (1, 0 or a negative errno), what those flags ask for: a counted object's
 * reference (ref_declared) or a durable object's record (journal_declared).
 * Both return created, or a negative errno.
 */
int object_declare_check(const char *name, size_t len, uint32_t flags);
int object_declared(struct client *c, const char *name, size_t len, int created, uint32_t flags);
/* Delete every object (shutdown). */
void object_delete_all(int neg_errno);
/*
 * 0 if one more object may be created, -EUSERS when mpxd.max_objects exist
 * already or the requester's uid has its quota of objects. Every declare
 * function calls it before it allocates.
 */
int object_check_limit(void);
/* The bytes the object holds, as its type counts them (0 for types that hold none). */
uint64_t object_bytes(struct object *o);

/* ---- journal.c: durable objects ---- */

enum journal_sync {
        JOURNAL_SYNC_ALWAYS,            /* fdatasync() before acknowledging, shared by a batch */
        JOURNAL_SYNC_EVERYSEC,          /* fdatasync() once a second */
        JOURNAL_SYNC_NO,                /* write() only */
};

#define JOURNAL_DEFAULT_COMPACT_SIZE (UINT64_C(64) << 20)
#define JOURNAL_MIN_COMPACT_SIZE (UINT64_C(4) << 10)

/* Record kinds; the numbers are on disk and never reused. */
enum journal_kind {
        JOURNAL_HEADER = 1,             /* str magic, u32 format, u64 segment (the snapshot: the last it covers) */
        JOURNAL_CREATE = 2,             /* name, u8 type, u64 a, u64 b, u32 flags (see journal_create) */
        JOURNAL_DELETE = 3,             /* name */
        JOURNAL_OWNER = 4,              /* name, u32 uid, u32 gid, u16 mode */
        JOURNAL_QUEUE_PUT = 10,         /* name, u64 seq, bytes item */
        JOURNAL_QUEUE_REMOVE = 11,      /* name, u64 seq */
        JOURNAL_QUEUE_CLOSE = 12,       /* name */
        JOURNAL_QUEUE_DELIVERED = 13,   /* name, u64 seq, u32 deliveries (format 3) */
        JOURNAL_DICT_SET = 20,          /* name, bytes key, bytes value */
        JOURNAL_DICT_DEL = 21,          /* name, bytes key */
        JOURNAL_DICT_CLEAR = 22,        /* name */
        JOURNAL_LIST_INSERT = 30,       /* name, u64 index, bytes item */
        JOURNAL_LIST_SET = 31,          /* name, u64 index, bytes item */
        JOURNAL_LIST_DEL = 32,          /* name, u64 index */
        JOURNAL_LIST_CLEAR = 33,        /* name */
        JOURNAL_SEM_VALUE = 40,         /* name, u64 value (every SEM_UNDO hold given back), u8 owner dead (format 2) */
        JOURNAL_ARRAY_SET = 50,         /* name, u32 first, bytes elements */
        JOURNAL_ARRAY_IMAGE = 51,       /* name, bytes every element */
};

/* "always", "everysec", "no" <-> enum journal_sync; -EINVAL or NULL when unknown. */
int journal_sync_from_string(const char *s);
const char *journal_sync_to_string(enum journal_sync sync);
/*
 * At start: lock the configured directory, recover the durable objects it
 * holds, and open a new segment. 0 (also when durability is off) or a
 * negative errno.
 */
int journal_open(const struct config *c);
/* On reload: the sync policy, the default and compact_size (the directory only at start). */
void journal_configure(const struct config *c);
/* Commit, compact into the snapshot when compact (a clean shutdown), close. */
void journal_close(bool compact);
bool journal_enabled(void);
/* The journal is being read back at start: limits and quotas admit what it recreates. */
bool journal_replaying(void);
/* Tests: the journal_fail_countdown-th next record fails as out of memory (1: the next one), 0 never. */
extern unsigned journal_fail_countdown;
/* Tests: while set (a negative errno), reserving room on disk fails with it, as a full disk would. */
extern int journal_reserve_fails;
/* Tests: while set (a negative errno), the everysec syncs report it, as a failed fdatasync() would. */
extern int journal_sync_fails;
/*
 * Before a request changes durable object o (op.c marks such requests
 * OP_CHANGES; object_lookup asks): 0 when the journal has room for what a
 * request of need bytes may record, on disk and reserved, or the negative
 * errno the change is refused with, before anything changed: -ENOSPC (no
 * room), -EIO (the journal cannot be written, or records were lost and a
 * snapshot is not yet written).
 */
int journal_admit_slow(size_t need);
static inline int journal_admit(const struct object *o, size_t need) {
        return o->durable ? journal_admit_slow(need) : 0;
}
/* For changes no client asked for (array images): whether need bytes of records fit now; refuses nothing. */
bool journal_has_room(size_t need);
/* STATS fields: durability, journal_*. */
int journal_stats(struct wire_buf *b, struct wire_fields *f);

/* Set while records (or reads of uncommitted changes) hold replies back; op.c clears it per request. */
extern bool journal_replies_held;
/* Records appended since start. */
extern uint64_t journal_appended;
void journal_touch_slow(void);
/* A request named o: if it is durable, its reply waits for records not yet written. */
static inline void journal_touch(const struct object *o) {
        if (o->durable)
                journal_touch_slow();
}

/*
 * Build one record of object o (NULL for a header): journal_begin returns
 * the buffer to append the body to (wire_put_*), or NULL when nothing is to
 * be recorded; journal_end(0) seals it, journal_end(err < 0) drops it and
 * withholds the acknowledgements of the batch.
 */
struct wire_buf *journal_begin(const struct object *o, uint16_t kind);
void journal_end(int err);
/*
 * The create record: queue, joinable (a maxsize), semaphore (a initial, b
 * max, flags), value and array (a typecode, b length, flags); dict and list 0.
 */
int journal_create(const struct object *o, uint64_t a, uint64_t b, uint32_t flags);
/* The object is being deleted (DELETE): record it. */
void journal_delete(struct object *o);
/* Its owner, group or mode changed (or were set after its creation): record them. */
void journal_owner_slow(const struct object *o);
static inline void journal_owner(const struct object *o) {
        if (o->durable)
                journal_owner_slow(o);
}
/*
 * Before a declare: -EINVAL for a durable declare without a directory;
 * for one that would create a durable object, what journal_admit says.
 */
int journal_declare_check(const char *name, size_t len, uint32_t flags);
/*
 * After a declare that returned created (1, 0 or a negative errno): make a
 * new object durable as flags (WIRE_DECLARE_DURABLE) or the default say and
 * record it; an existing one of the other durability is -EEXIST.
 */
int journal_declared(const char *name, size_t len, int created, uint32_t flags);

/* ---- wait.c: blocked requests ---- */

TAILQ_HEAD(waiter_list, waiter);

struct item;
STAILQ_HEAD(item_list, item);

struct waiter {
        struct client *client;
        struct object *object;
        struct waiter_list *list;       /* the object's list this waiter is on */
        uint32_t id;
        uint16_t op;
        bool has_timer;
        struct event timer;

        /* what the blocked request needs when it is served */
        uint32_t flags;                 /* GET: WIRE_GET_* */
        uint32_t max;                   /* GET_MANY: most items */
        uint32_t ttr_ms;                /* GET, GET_MANY: the deliveries' lease; 0: the queue's */
        struct item_list pending;       /* PUT, PUT_MANY: items waiting for room */
        uint32_t n_pending;

        TAILQ_ENTRY(waiter) obj_link;
        TAILQ_ENTRY(waiter) client_link;
};

/*
 * Park a request on an object's wait list until it is served, times out
 * (timeout_ms > 0) or is cancelled. timeout_ms < 0 waits forever. Returns
 * NULL with errno set: EUSERS over limits.max_waiters_per_client or the
 * uid's quota of waiters, ENOMEM.
 */
struct waiter *wait_add(struct client *c, const struct request *req, struct object *o,
                        struct waiter_list *list, int64_t timeout_ms);
/* Unlink and free a served or cancelled waiter (its pending items too); no reply. */
void wait_free(struct waiter *w);
/* Reply neg_errno to a waiter and free it. */
void wait_fail(struct waiter *w, int neg_errno);
/* Fail every waiter of a list with neg_errno. */
void wait_fail_all(struct waiter_list *list, int neg_errno);
/* Free every waiter of a client without replying (it is gone), then let the objects serve. */
void wait_cancel_client(struct client *c);
/*
 * CANCEL: answer every parked request of c with this id -ECANCELED, as a
 * timeout that fires now would be (a barrier party withdraws instead of
 * breaking it), then let their objects serve. Returns how many there were.
 */
int wait_cancel_id(struct client *c, uint32_t id);

/* ---- the other object types, one file each ---- */

/*
 * Declaring an object from inside the daemon (the configuration file) and
 * from DECLARE requests goes through one function per type, which returns 1
 * created, 0 existed with the same parameters, -EEXIST (other parameters),
 * -EPROTOTYPE (a name of another type), -EINVAL or -ENOMEM.
 */
int queue_declare(const char *name, size_t len, uint64_t maxsize, bool joinable);
int queue_declare_lease(const char *name, size_t len, uint64_t maxsize, bool joinable, int64_t ttr_ms);
int dict_declare(const char *name, size_t len);
int list_declare(const char *name, size_t len);
int sem_declare(const char *name, size_t len, uint64_t value, uint64_t max, uint32_t flags);
int event_declare(const char *name, size_t len);
/* What a BARRIER_DECLARE may ask beyond parties; NULL asks nothing and matches any barrier. */
struct barrier_options {
        bool action;                    /* WIRE_BARRIER_ACTION */
        int64_t timeout_ms;             /* the default of WAIT; negative: none */
};
int barrier_declare(const char *name, size_t len, uint32_t parties, const struct barrier_options *opt);
/* A connection is gone: a round it held for its action breaks. */
void barrier_client_lost(struct client *c);
int array_declare(const char *name, size_t len, char typecode, uint32_t length, uint32_t flags,
                  const void *initial);

#define HANDLER(fn) int fn(struct client *c, const struct request *req, struct wire_reader *r)

/* dict.c */
HANDLER(dict_handle_declare); HANDLER(dict_handle_set); HANDLER(dict_handle_get);
HANDLER(dict_handle_del); HANDLER(dict_handle_contains); HANDLER(dict_handle_len);
HANDLER(dict_handle_items); HANDLER(dict_handle_pop); HANDLER(dict_handle_setdefault);
HANDLER(dict_handle_update); HANDLER(dict_handle_clear); HANDLER(dict_handle_incr);
HANDLER(dict_handle_cas);
HANDLER(dict_handle_popitem);

/* list.c */
HANDLER(list_handle_declare); HANDLER(list_handle_append); HANDLER(list_handle_extend);
HANDLER(list_handle_get); HANDLER(list_handle_set); HANDLER(list_handle_insert);
HANDLER(list_handle_pop); HANDLER(list_handle_remove); HANDLER(list_handle_index);
HANDLER(list_handle_len); HANDLER(list_handle_slice); HANDLER(list_handle_clear);
HANDLER(list_handle_splice);

/* sem.c */
struct sem_hold;
HANDLER(sem_handle_declare); HANDLER(sem_handle_acquire); HANDLER(sem_handle_release);
HANDLER(sem_handle_value);
/* Give back the units a lost client held (SEM_UNDO) and wake waiters. */
void sem_client_lost(struct client *c);
/* How many semaphore units the client holds, over all semaphores. */
uint64_t sem_client_units(const struct client *c);

/* event.c */
HANDLER(event_handle_declare); HANDLER(event_handle_set); HANDLER(event_handle_clear);
HANDLER(event_handle_is_set); HANDLER(event_handle_wait);

/* barrier.c */
HANDLER(barrier_handle_declare); HANDLER(barrier_handle_wait); HANDLER(barrier_handle_reset);
HANDLER(barrier_handle_abort);
HANDLER(barrier_handle_pass);

/* array.c */
HANDLER(array_handle_declare); HANDLER(array_handle_get); HANDLER(array_handle_set);
HANDLER(array_handle_add); HANDLER(array_handle_cas); HANDLER(array_handle_map);

/* pipe.c */
HANDLER(pipe_handle_open);

/* server.c, asked by pool.c */
/*
 * Before the daemon opens more descriptors for something lasting (a pool's
 * workers, one log pipe each): 0 when more of them fit under the limit of
 * open files with room left for clients, else -EUSERS (logged at most once
 * every ten seconds).
 */
int server_fds_check(unsigned more);

#undef HANDLER

/* ---- queue.c: queues and joinable queues ---- */

struct delivery;
TAILQ_HEAD(delivery_list, delivery);

int queue_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_put(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_put_many(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_get(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_get_many(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_qsize(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_close(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_purge(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_task_done(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_done_get(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_join(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_peek(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_touch(struct client *c, const struct request *req, struct wire_reader *r);
/* How many undone joinable deliveries the client holds. */
unsigned queue_client_deliveries(const struct client *c);
/* Milliseconds until the first lease of its attached deliveries runs out, or -1. */
int64_t queue_client_next_lease(const struct client *c);
/*
 * Put back at the head of their queues, in order, what a lost client had
 * taken: its undone joinable items, and the plain-queue items of replies
 * that were not written in full. Then delete the queues it owns
 * (QUEUE_CONNECTION).
 */
void queue_client_lost(struct client *c);
/* The client's output reached c->out_written: the plain-queue items of replies written in full are delivered. */
void queue_client_written(struct client *c);
/* Free a waiter's pending items. */
void queue_items_free(struct item_list *items);
