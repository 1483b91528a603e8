/* SPDX-License-Identifier: MIT */
/*
 * The configuration file (config.c): what it sets (struct config), the
 * command-line overrides, and the declaration of the objects it lists.
 *
 * Named configfile.h, not config.h: that name is autoconf's header, which
 * the build includes first in every file (-include), and a second one in
 * daemon/, which is on every target's include path, would shadow it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"
#include "wire.h"

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
