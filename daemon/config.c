/* SPDX-License-Identifier: MIT */
/*
 * The configuration file of mpxd (libconfig syntax, mpxd.conf(5)): reading
 * it into a struct config, checking every setting, and declaring the objects
 * it lists through their types' declare functions. Every error names the
 * file, the line and the setting ("objects.queues[1].maxsize") and says what
 * was expected, and checking goes on after an error so that one run shows
 * every mistake.
 *
 * The loader and its value readers are in config-loader.c, the "objects"
 * section in config-objects.c.
 *
 * This file does not put anything in force: server.c applies a configuration
 * at start and on SIGHUP, and main.c turns command-line options into
 * overrides. It does not log either; its callers decide what an error means.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <libconfig.h>

#include "array.h"
#include "barrier.h"
#include "config-loader.h"
#include "configfile.h"
#include "dict.h"
#include "event.h"
#include "journal.h"
#include "list.h"
#include "log.h"
#include "macros.h"
#include "object.h"
#include "perm.h"
#include "pool.h"
#include "queue.h"
#include "sem.h"
#include "typecode.h"
#include "wire.h"

/* A configuration with every default and no objects. */
struct config *config_new(void) {
        struct config *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->socket_path = strdup("/run/mpxd/mpxd.sock");
        if (!c->socket_path)
                return config_free(c);
        c->socket_mode = 0660;
        c->socket_gid = (gid_t) -1;
        c->log_level = LOG_LEVEL_INFO;
        c->max_message = WIRE_DEFAULT_MAX_MESSAGE;
        c->max_clients = CONFIG_DEFAULT_MAX_CLIENTS;
        c->max_objects = CONFIG_DEFAULT_MAX_OBJECTS;
        c->max_output = CONFIG_DEFAULT_MAX_OUTPUT;
        c->per_user.max_workers = CONFIG_DEFAULT_MAX_WORKERS;
        c->admin_gid = (gid_t) -1;
        c->pool_uid = (uid_t) -1;
        c->pool_gid = (gid_t) -1;
        c->default_mode = CONFIG_DEFAULT_OBJECT_MODE;
        c->durability_sync = JOURNAL_SYNC_EVERYSEC;
        c->compact_size = JOURNAL_DEFAULT_COMPACT_SIZE;
        return c;
}

/* Free a configuration and its objects; accepts NULL, returns NULL. */
struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < c->n_objects; i++)
                free(c->objects[i].initial);
        free(c->objects);
        free(c->path);
        free(c->socket_path);
        free(c->socket_group);
        free(c->admin_group);
        free(c->pool_user);
        free(c->durability_dir);
        free(c);
        return NULL;
}

/* Overrides that override nothing. */
void config_overrides_init(struct config_overrides *o) {
        *o = (struct config_overrides) {
                .socket_mode = -1,
                .log_level = -1,
                .max_message = -1,
                .max_clients = -1,
                .max_objects = -1,
        };
}

/* permissions: the mode of objects created from now on. */
static void load_permissions(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "default_mode", NULL };
        const config_setting_t *s;
        unsigned mode;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "default_mode");
        if (s && get_mode(l, s, &mode))
                l->c->default_mode = mode;
}

/* admin_group and pool_user: who may operate pools, and whom workers run as. */
static void load_pool_settings(struct loader *l, const config_setting_t *root) {
        const config_setting_t *s;
        const struct passwd *user;
        struct passwd pw;
        char buf[4096];
        const char *v;
        gid_t gid;

        s = config_setting_get_member(root, "admin_group");
        if (s && get_group(l, s, &v, &gid) && set_string(&l->c->admin_group, v) == 0)
                l->c->admin_gid = gid;
        s = config_setting_get_member(root, "pool_user");
        if (s && (user = get_user(l, s, &pw, buf, sizeof(buf))) &&
            set_string(&l->c->pool_user, user->pw_name) == 0) {
                l->c->pool_uid = user->pw_uid;
                l->c->pool_gid = user->pw_gid;
        }
}

/* ---- the sections ---- */

static void load_socket(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "path", "mode", "group", NULL };
        const config_setting_t *s;
        const char *v;
        gid_t gid;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "path");
        if (s && (v = get_string(l, s, "an absolute path in quotes"))) {
                if (v[0] != '/' || strlen(v) >= sizeof(((struct sockaddr_un *) 0)->sun_path))
                        fail_at(l, s, "expected an absolute path of at most %zu bytes",
                                sizeof(((struct sockaddr_un *) 0)->sun_path) - 1);
                else
                        (void) set_string(&l->c->socket_path, v);
        }
        s = config_setting_get_member(g, "mode");
        if (s) {
                const char *expected = "an octal mode from \"0000\" to \"0777\" in quotes, such as \"0660\"";
                char *end;
                unsigned long m;

                v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
                errno = 0;
                m = v ? strtoul(v, &end, 8) : 0;
                if (!v || !*v || *end || errno || v[0] == '-' || v[0] == '+' || m > 0777)
                        fail_at(l, s, "expected %s", expected);
                else
                        l->c->socket_mode = (unsigned) m;
        }
        s = config_setting_get_member(g, "group");
        if (s && get_group(l, s, &v, &gid) && set_string(&l->c->socket_group, v) == 0)
                l->c->socket_gid = gid;
}

static void load_log(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "level", NULL };
        const char *expected = "one of \"error\", \"warning\", \"notice\", \"info\", \"debug\"";
        const config_setting_t *s;
        int level;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "level");
        if (s && (level = get_choice(l, s, log_level_from_string, expected)) >= 0)
                l->c->log_level = (enum log_level) level;
}

/* limits.per_user: the quotas of each uid. */
static void load_per_user(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "max_memory", "max_objects", "max_clients", "max_waiters", "max_workers",
                                            NULL };
        struct user_limits *q = &l->c->per_user;
        const config_setting_t *s;
        uint64_t v;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "max_memory");
        if (s && get_size(l, s, 1, CONFIG_MAX_MEMORY_LIMIT, &v))
                q->max_memory = v;
        s = config_setting_get_member(g, "max_objects");
        if (s && get_uint(l, s, 0, CONFIG_MAX_OBJECTS_LIMIT, &v))
                q->max_objects = (uint32_t) v;
        s = config_setting_get_member(g, "max_clients");
        if (s && get_uint(l, s, 0, CONFIG_MAX_CLIENTS_LIMIT, &v))
                q->max_clients = (uint32_t) v;
        s = config_setting_get_member(g, "max_waiters");
        if (s && get_uint(l, s, 0, CONFIG_MAX_WAITERS_LIMIT, &v))
                q->max_waiters = (uint32_t) v;
        s = config_setting_get_member(g, "max_workers");
        if (s && get_uint(l, s, 0, CONFIG_MAX_WORKERS_LIMIT, &v))
                q->max_workers = (uint32_t) v;
}

static void load_limits(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "max_message", "max_clients", "max_objects", "max_memory", "max_output",
                                            "max_waiters_per_client", "per_user", NULL };
        const config_setting_t *s;
        uint64_t v;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "max_message");
        if (s && get_uint(l, s, 1, CONFIG_MAX_MESSAGE_LIMIT, &v))
                l->c->max_message = (uint32_t) v;
        s = config_setting_get_member(g, "max_clients");
        if (s && get_uint(l, s, 1, CONFIG_MAX_CLIENTS_LIMIT, &v))
                l->c->max_clients = (uint32_t) v;
        s = config_setting_get_member(g, "max_objects");
        if (s && get_uint(l, s, 1, CONFIG_MAX_OBJECTS_LIMIT, &v))
                l->c->max_objects = (uint32_t) v;
        s = config_setting_get_member(g, "max_memory");
        if (s && get_size(l, s, 1, CONFIG_MAX_MEMORY_LIMIT, &v))
                l->c->max_memory = v;
        s = config_setting_get_member(g, "max_output");
        if (s && get_size(l, s, CONFIG_MIN_MAX_OUTPUT, CONFIG_MAX_MEMORY_LIMIT, &v))
                l->c->max_output = v;
        s = config_setting_get_member(g, "max_waiters_per_client");
        if (s && get_uint(l, s, 0, CONFIG_MAX_WAITERS_LIMIT, &v))
                l->c->max_waiters_per_client = (uint32_t) v;
        s = config_setting_get_member(g, "per_user");
        if (s && config_setting_type(s) != CONFIG_TYPE_GROUP)
                fail_at(l, s, "expected a group in braces, such as per_user = { max_memory = \"64M\"; }");
        else if (s)
                load_per_user(l, s);
}

static void load_durability(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "directory", "sync", "default", "compact_size", NULL };
        const config_setting_t *s;
        const char *v;
        uint64_t size;
        int sync;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "directory");
        if (s && (v = get_string(l, s, "an absolute path in quotes"))) {
                if (v[0] != '/' || strlen(v) >= PATH_MAX - 64)
                        fail_at(l, s, "expected an absolute path");
                else
                        (void) set_string(&l->c->durability_dir, v);
        }
        s = config_setting_get_member(g, "sync");
        if (s && (sync = get_choice(l, s, journal_sync_from_string,
                                    "one of \"always\", \"everysec\", \"no\"")) >= 0)
                l->c->durability_sync = (uint8_t) sync;
        s = config_setting_get_member(g, "default");
        if (s)
                (void) get_bool(l, s, &l->c->durability_default);
        s = config_setting_get_member(g, "compact_size");
        if (s && get_uint(l, s, JOURNAL_MIN_COMPACT_SIZE, INT64_MAX, &size))
                l->c->compact_size = size;
}

/* Read the parsed tree into l->c. */
static void load_root(struct loader *l, const config_setting_t *root) {
        static const char *const keys[] = {
                "socket", "log", "limits", "permissions", "durability", "objects", "admin_group", "pool_user", NULL,
        };
        static const struct {
                const char *key;
                void (*load)(struct loader *l, const config_setting_t *g);
        } sections[] = {
                { "socket", load_socket },
                { "log", load_log },
                { "limits", load_limits },
                { "permissions", load_permissions },
                { "durability", load_durability },
                { "objects", load_objects },
        };

        check_keys(l, root, keys);
        for (size_t i = 0; i < ARRAY_SIZE(sections); i++) {
                const config_setting_t *g = config_setting_get_member(root, sections[i].key);

                if (!g)
                        continue;
                if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
                        fail_at(l, g, "expected a group in braces, such as %s = { ... };", sections[i].key);
                        continue;
                }
                sections[i].load(l, g);
        }
        load_pool_settings(l, root);
        /* A durable object needs the journal's directory. */
        for (size_t i = 0; l->n_errors == 0 && !l->c->durability_dir && i < l->c->n_objects; i++)
                if (l->c->objects[i].durable)
                        loader_error(l, NULL, l->c->objects[i].line, NULL,
                                     "objects: \"%s\" is durable; expected durability.directory to be set",
                                     l->c->objects[i].name);
        /* The objects of the file itself must fit under the object limit. */
        if (l->n_errors == 0 && l->c->n_objects > l->c->max_objects) {
                const config_setting_t *limits = config_setting_get_member(root, "limits");
                const config_setting_t *s = limits ? config_setting_get_member(limits, "max_objects") : NULL;

                if (s)
                        fail_at(l, s, "expected at least the %zu objects this file declares", l->c->n_objects);
                else
                        fail_about(l, config_setting_get_member(root, "objects"),
                                   "%zu objects are more than limits.max_objects (%u); expected at most that many",
                                   l->c->n_objects, l->c->max_objects);
        }
}

/* Read and check a configuration file (see configfile.h for the contract). */
int config_load(const char *path, bool must_exist, struct config **ret, char **ret_errors) {
        struct loader l = { .path = path };
        char *dir_copy = NULL;
        struct stat st;
        config_t cfg;
        FILE *f;
        int r;

        *ret_errors = NULL;
        l.c = config_new();
        if (!l.c)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f) {
                r = -errno;
                if (r == -ENOENT && !must_exist) {
                        *ret = l.c;
                        return 0;
                }
                loader_error(&l, path, 0, NULL, "cannot open: %s", strerror(-r));
                goto fail;
        }
        if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                r = -EISDIR;
                loader_error(&l, path, 0, NULL, "cannot read: %s; expected a file", strerror(EISDIR));
                goto fail;
        }
        l.c->path = strdup(path);
        dir_copy = strdup(path);
        if (!l.c->path || !dir_copy) {
                r = -ENOMEM;
                goto fail;
        }

        config_init(&cfg);
        /* @include "file" is read relative to the configuration's folder. */
        config_set_include_dir(&cfg, dirname(dir_copy));
        if (config_read(&cfg, f) != CONFIG_TRUE)
                loader_error(&l, config_error_file(&cfg), (unsigned) config_error_line(&cfg), NULL,
                             "%s; expected libconfig syntax: name = value; groups in { }, lists in ( )",
                             config_error_text(&cfg) ? config_error_text(&cfg) : "syntax error");
        else
                load_root(&l, config_root_setting(&cfg));
        config_destroy(&cfg);
        r = l.oom ? -ENOMEM : l.n_errors > 0 ? -EINVAL : 0;
        if (r < 0)
                goto fail;
        fclose(f);
        free(dir_copy);
        loader_done(&l);
        *ret = l.c;
        return 0;

fail:
        if (f)
                fclose(f);
        free(dir_copy);
        if (l.n_errors > 0)
                *ret_errors = loader_take_errors(&l);
        loader_done(&l);
        config_free(l.c);
        return r;
}

/* Apply what the command line set over a configuration. */
int config_override(struct config *c, const struct config_overrides *o, char **ret_errors) {
        *ret_errors = NULL;
        if (o->socket_path && set_string(&c->socket_path, o->socket_path) < 0)
                return -ENOMEM;
        if (o->socket_mode >= 0)
                c->socket_mode = (unsigned) o->socket_mode;
        if (o->socket_group) {
                gid_t gid;

                if (resolve_group(o->socket_group, &gid) < 0) {
                        if (asprintf(ret_errors, "--socket-group: '%s' is not the name or number of an existing group",
                                     o->socket_group) < 0)
                                *ret_errors = NULL;
                        return -EINVAL;
                }
                if (set_string(&c->socket_group, o->socket_group) < 0)
                        return -ENOMEM;
                c->socket_gid = gid;
        }
        if (o->log_level >= 0)
                c->log_level = (enum log_level) o->log_level;
        if (o->max_message >= 0)
                c->max_message = (uint32_t) o->max_message;
        if (o->max_clients >= 0)
                c->max_clients = (uint32_t) o->max_clients;
        if (o->max_objects >= 0)
                c->max_objects = (uint32_t) o->max_objects;
        return 0;
}

/* Declare through the type's declare function: 1 created, 0 existed, or a negative errno. */
static int config_declare_typed(const struct config_object *o) {
        switch (o->type) {
        case WIRE_TYPE_QUEUE:
        case WIRE_TYPE_JOINABLE:
                return queue_declare(o->name, o->name_len, o->maxsize, o->type == WIRE_TYPE_JOINABLE);
        case WIRE_TYPE_DICT:
                return dict_declare(o->name, o->name_len);
        case WIRE_TYPE_LIST:
                return list_declare(o->name, o->name_len);
        case WIRE_TYPE_SEMAPHORE:
                return sem_declare(o->name, o->name_len, o->value, o->max, o->flags);
        case WIRE_TYPE_EVENT:
                return event_declare(o->name, o->name_len);
        case WIRE_TYPE_BARRIER:
                return barrier_declare(o->name, o->name_len, o->parties, NULL);
        case WIRE_TYPE_VALUE:
        case WIRE_TYPE_ARRAY:
                return array_declare(o->name, o->name_len, o->typecode, o->length, o->flags, o->initial);
        case WIRE_TYPE_POOL:
                return pool_declare(o->name, o->name_len, o->workers, o->restart, o->initial, o->command_size);
        }
        return -EINVAL;
}

/*
 * Declare one configured object through its type's declare function, within
 * the object limit. Its owner, group and mode apply when it is created, as its
 * other settings do; an object that exists keeps what it has (chmod, chown).
 */
int config_declare(const struct config_object *o) {
        uint32_t durable = o->durable ? WIRE_DECLARE_DURABLE : 0;
        struct object *obj;
        bool may_be_durable;
        int r;

        if (!object_find(o->name, o->name_len)) {
                r = object_check_limit(NULL);
                if (r < 0)
                        return r;
        }
        /* Events, barriers and pools are never durable: the loader accepts no durable key for them. */
        may_be_durable = o->type != WIRE_TYPE_EVENT && o->type != WIRE_TYPE_BARRIER && o->type != WIRE_TYPE_POOL;
        r = may_be_durable ? journal_declare_check(o->name, o->name_len, durable, 0) : 0;
        if (r < 0)
                return r;
        r = config_declare_typed(o);
        if (may_be_durable)
                r = journal_declared(o->name, o->name_len, r, durable);
        if (r <= 0 || !(obj = object_find(o->name, o->name_len)))
                return r;
        if (o->uid != (uid_t) -1)
                obj->uid = o->uid;
        if (o->gid != (gid_t) -1)
                obj->gid = o->gid;
        if (o->mode >= 0)
                obj->mode = (uint16_t) o->mode;
        /* The create record was written with the defaults: record what the file says. */
        journal_owner(obj);
        return r;
}
