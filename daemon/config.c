/* SPDX-License-Identifier: MIT */
/*
 * The configuration file of mpxd (libconfig syntax, mpxd.conf(5)): reading
 * it into a struct config, checking every setting, and declaring the objects
 * it lists through their types' declare functions. Every error names the
 * file, the line and the setting ("objects.queues[1].maxsize") and says what
 * was expected, and checking goes on after an error so that one run shows
 * every mistake.
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

/* One error found in a file; they are reported in the order of their lines. */
struct loader_error {
        unsigned line;
        unsigned seq;                   /* order of discovery, among errors of one line */
        char *text;
};

/* Reading one file: the configuration being built and the errors found. */
struct loader {
        const char *path;
        struct config *c;
        struct loader_error *errors;
        unsigned n_errors;
        bool oom;                       /* an error could not be recorded */
};

/* One kind of object under "objects": the setting's name and what it holds. */
struct kind {
        const char *key;                /* "queues" */
        const char *what;               /* "queue", for messages */
        uint8_t type;                   /* enum wire_type */
        bool name_only;                 /* an element may be just a name string */
        const char *const *settings;    /* allowed settings of an element's group */
        void (*load)(struct loader *l, const config_setting_t *group, struct config_object *o);
};

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

/* ---- messages ---- */

/* The dotted path of a setting: "objects.queues[2].maxsize". */
static void setting_path(const config_setting_t *s, char *buf, size_t size) {
        const config_setting_t *chain[16];
        size_t n = 0, len = 0;

        for (; s && config_setting_parent(s) && n < ARRAY_SIZE(chain); s = config_setting_parent(s))
                chain[n++] = s;
        buf[0] = '\0';
        while (n-- > 0 && len < size) {
                const char *name = config_setting_name(chain[n]);
                int w;

                if (name)
                        w = snprintf(buf + len, size - len, "%s%s", len ? "." : "", name);
                else
                        w = snprintf(buf + len, size - len, "[%d]", config_setting_index(chain[n]));
                if (w < 0)
                        break;
                len += (size_t) w;
        }
}

/* How a value reads in a message: 12, "text", 1.5, true, a group ... */
static void describe_value(const config_setting_t *s, char *buf, size_t size) {
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
                snprintf(buf, size, "%d", config_setting_get_int(s));
                break;
        case CONFIG_TYPE_INT64:
                snprintf(buf, size, "%lld", config_setting_get_int64(s));
                break;
        case CONFIG_TYPE_FLOAT:
                snprintf(buf, size, "%g", config_setting_get_float(s));
                break;
        case CONFIG_TYPE_STRING:
                snprintf(buf, size, "\"%.64s%s\"", config_setting_get_string(s),
                         strlen(config_setting_get_string(s)) > 64 ? "..." : "");
                break;
        case CONFIG_TYPE_BOOL:
                snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
                break;
        case CONFIG_TYPE_GROUP:
                snprintf(buf, size, "a group");
                break;
        case CONFIG_TYPE_ARRAY:
                snprintf(buf, size, "an array");
                break;
        case CONFIG_TYPE_LIST:
                snprintf(buf, size, "a list");
                break;
        default:
                snprintf(buf, size, "nothing");
                break;
        }
}

/* Record one error: "FILE:LINE: SETTING: MESSAGE". */
static void loader_error(struct loader *l, const char *file, unsigned line, const char *setting,
                         const char *fmt, ...) _printf_(5, 6);
static void loader_error(struct loader *l, const char *file, unsigned line, const char *setting,
                         const char *fmt, ...) {
        struct loader_error *grown;
        char msg[1024], where[16] = "";
        va_list ap;
        char *text;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Line 0 is the file as a whole (it cannot be opened). */
        if (line > 0)
                snprintf(where, sizeof(where), ":%u", line);
        if (asprintf(&text, "%s%s: %s%s%s", file ? file : l->path, where, setting && *setting ? setting : "",
                     setting && *setting ? ": " : "", msg) < 0) {
                l->oom = true;
                return;
        }
        grown = realloc(l->errors, (l->n_errors + 1) * sizeof(*grown));
        if (!grown) {
                free(text);
                l->oom = true;
                return;
        }
        l->errors = grown;
        l->errors[l->n_errors] = (struct loader_error) { .line = line, .seq = l->n_errors, .text = text };
        l->n_errors++;
}

static int loader_error_compare(const void *a, const void *b) {
        const struct loader_error *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The errors, one per line in the order of the file, as one string (free it); NULL when out of memory. */
static char *loader_take_errors(struct loader *l) {
        size_t len = 0, off = 0;
        char *all;

        qsort(l->errors, l->n_errors, sizeof(*l->errors), loader_error_compare);
        for (unsigned i = 0; i < l->n_errors; i++)
                len += strlen(l->errors[i].text) + 1;
        all = malloc(len + 1);
        if (all) {
                for (unsigned i = 0; i < l->n_errors; i++)
                        off += (size_t) sprintf(all + off, "%s%s", i ? "\n" : "", l->errors[i].text);
                all[off] = '\0';
        }
        return all;
}

static void loader_done(struct loader *l) {
        for (unsigned i = 0; i < l->n_errors; i++)
                free(l->errors[i].text);
        free(l->errors);
        l->errors = NULL;
        l->n_errors = 0;
}

/* The file a setting comes from (an @include may have brought it). */
static const char *setting_file(struct loader *l, const config_setting_t *s) {
        const char *f = config_setting_source_file(s);

        return f ? f : l->path;
}

/* An error about a setting that is there; ", got VALUE" is appended. */
#define fail_at(l, s, fmt, ...)                                                                 \
        do {                                                                                    \
                char _path[256], _got[96];                                                      \
                setting_path((s), _path, sizeof(_path));                                        \
                describe_value((s), _got, sizeof(_got));                                        \
                loader_error((l), setting_file((l), (s)), config_setting_source_line(s), _path,  \
                             fmt ", got %s", ##__VA_ARGS__, _got);                              \
        } while (0)

/* An error about a setting that is there, without its value. */
#define fail_about(l, s, fmt, ...)                                                              \
        do {                                                                                    \
                char _path[256];                                                                \
                setting_path((s), _path, sizeof(_path));                                        \
                loader_error((l), setting_file((l), (s)), config_setting_source_line(s), _path,  \
                             fmt, ##__VA_ARGS__);                                               \
        } while (0)

/* An error about a setting missing from group. */
static void fail_missing(struct loader *l, const config_setting_t *group, const char *key, const char *expected) {
        char path[256], full[300];

        setting_path(group, path, sizeof(path));
        snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "", key);
        loader_error(l, setting_file(l, group), config_setting_source_line(group), full,
                     "missing; expected %s", expected);
}

/* ---- values ---- */

/* Check that every setting of group is one of allowed (NULL-terminated). */
static void check_keys(struct loader *l, const config_setting_t *group, const char *const *allowed) {
        int n = config_setting_length(group);

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
                const char *name = config_setting_name(s);
                char list[256] = "";
                size_t len = 0;
                bool known = false;

                for (size_t k = 0; allowed[k]; k++) {
                        if (name && strcmp(name, allowed[k]) == 0)
                                known = true;
                        len += (size_t) snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
                                                 "%s%s", k ? ", " : "", allowed[k]);
                }
                if (!known)
                        fail_about(l, s, "unknown setting; expected one of %s", list);
        }
}

/* An integer setting in [min, max]; false (and an error) otherwise. */
static bool get_uint(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret) {
        long long v;

        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
                fail_at(l, s, "expected an integer from %llu to %llu", (unsigned long long) min,
                        (unsigned long long) max);
                return false;
        }
        v = config_setting_get_int64(s);
        if (v < 0 || (uint64_t) v < min || (uint64_t) v > max) {
                fail_at(l, s, "expected an integer from %llu to %llu", (unsigned long long) min,
                        (unsigned long long) max);
                return false;
        }
        *ret = (uint64_t) v;
        return true;
}

/* A boolean setting. */
static bool get_bool(struct loader *l, const config_setting_t *s, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                fail_at(l, s, "expected true or false");
                return false;
        }
        *ret = config_setting_get_bool(s);
        return true;
}

/* A string setting. */
static const char *get_string(struct loader *l, const config_setting_t *s, const char *expected) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                fail_at(l, s, "expected %s", expected);
                return NULL;
        }
        return config_setting_get_string(s);
}

/* Resolve a group name or number; 0 and *ret, or -ENOENT. */
static int resolve_group(const char *name, gid_t *ret) {
        struct group gr, *res = NULL;
        char buf[4096], *end;
        unsigned long id;

        errno = 0;
        id = strtoul(name, &end, 10);
        if (*name && !*end && name[0] != '-' && !errno && id < (gid_t) -1) {
                *ret = (gid_t) id;
                return 0;
        }
        if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
                return -ENOENT;
        *ret = res->gr_gid;
        return 0;
}

/* Resolve a user name or number; 0 and *ret_pw (its strings in buf), or -ENOENT. */
static int resolve_user(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **ret_pw) {
        struct passwd *res = NULL;
        char *end;
        unsigned long id;

        errno = 0;
        id = strtoul(name, &end, 10);
        if (*name && !*end && name[0] != '-' && !errno && id < (uid_t) -1) {
                if (getpwuid_r((uid_t) id, pw, buf, size, &res) != 0 || !res)
                        return -ENOENT;
        } else if (getpwnam_r(name, pw, buf, size, &res) != 0 || !res)
                return -ENOENT;
        *ret_pw = res;
        return 0;
}

/*
 * An object mode: an octal string ("0640") or an integer written in octal
 * digits (0640; libconfig reads it as decimal 640, so its digits are read
 * again as octal), at most 07777 as chmod(2) takes.
 */
static bool get_mode(struct loader *l, const config_setting_t *s, unsigned *ret) {
        const char *expected = "an octal mode from \"0000\" to \"7777\", such as \"0660\" or 0660";
        char digits[32], *end;
        unsigned long m;

        if (config_setting_type(s) == CONFIG_TYPE_STRING)
                snprintf(digits, sizeof(digits), "%s", config_setting_get_string(s));
        /* A hex integer (0x1B0) has no octal digits to read again: refused rather than misread. */
        else if ((config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) &&
                 config_setting_get_format(s) != CONFIG_FORMAT_HEX)
                snprintf(digits, sizeof(digits), "%lld", config_setting_get_int64(s));
        else
                digits[0] = '\0';
        errno = 0;
        m = strtoul(digits, &end, 8);
        if (!digits[0] || *end || errno || digits[0] == '-' || digits[0] == '+' || m > PERM_MODE_MASK) {
                fail_at(l, s, "expected %s", expected);
                return false;
        }
        *ret = (unsigned) m;
        return true;
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
        const char *v;

        s = config_setting_get_member(root, "admin_group");
        if (s && (v = get_string(l, s, "a group name or number in quotes"))) {
                gid_t gid;
                char *p;

                if (resolve_group(v, &gid) < 0)
                        fail_at(l, s, "expected the name or number of an existing group");
                else if ((p = strdup(v))) {
                        free(l->c->admin_group);
                        l->c->admin_group = p;
                        l->c->admin_gid = gid;
                }
        }
        s = config_setting_get_member(root, "pool_user");
        if (s && (v = get_string(l, s, "a user name or number in quotes"))) {
                struct passwd pw, *res = NULL;
                char buf[4096], *p;

                if (resolve_user(v, &pw, buf, sizeof(buf), &res) < 0)
                        fail_at(l, s, "expected the name or number of an existing user");
                else if ((p = strdup(res->pw_name))) {
                        free(l->c->pool_user);
                        l->c->pool_user = p;
                        l->c->pool_uid = res->pw_uid;
                        l->c->pool_gid = res->pw_gid;
                }
        }
}

/* ---- the sections ---- */

static void load_socket(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "path", "mode", "group", NULL };
        const config_setting_t *s;
        const char *v;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "path");
        if (s && (v = get_string(l, s, "an absolute path in quotes"))) {
                if (v[0] != '/' || strlen(v) >= sizeof(((struct sockaddr_un *) 0)->sun_path))
                        fail_at(l, s, "expected an absolute path of at most %zu bytes",
                                sizeof(((struct sockaddr_un *) 0)->sun_path) - 1);
                else {
                        char *p = strdup(v);
                        if (p) {
                                free(l->c->socket_path);
                                l->c->socket_path = p;
                        }
                }
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
        if (s && (v = get_string(l, s, "a group name or number in quotes"))) {
                gid_t gid;

                if (resolve_group(v, &gid) < 0)
                        fail_at(l, s, "expected the name or number of an existing group");
                else {
                        char *p = strdup(v);
                        if (p) {
                                free(l->c->socket_group);
                                l->c->socket_group = p;
                                l->c->socket_gid = gid;
                        }
                }
        }
}

static void load_log(struct loader *l, const config_setting_t *g) {
        static const char *const keys[] = { "level", NULL };
        const char *expected = "one of \"error\", \"warning\", \"notice\", \"info\", \"debug\"";
        const config_setting_t *s;

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "level");
        if (s) {
                int level = config_setting_type(s) == CONFIG_TYPE_STRING ?
                        log_level_from_string(config_setting_get_string(s)) : -EINVAL;

                if (level < 0)
                        fail_at(l, s, "expected %s", expected);
                else
                        l->c->log_level = (enum log_level) level;
        }
}

/*
 * A size in bytes: an integer, or a string of digits with an optional K, M
 * or G suffix (powers of 1024), such as "512M"; 0, or from min to max.
 */
static bool get_size(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;

        if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) {
                long long n = config_setting_get_int64(s);

                if (n < 0)
                        goto bad;
                v = (uint64_t) n;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *p = config_setting_get_string(s);
                unsigned shift = 0;

                if (!*p)
                        goto bad;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (v > (UINT64_MAX - 9) / 10)
                                goto bad;
                        v = v * 10 + (uint64_t) (*p - '0');
                }
                if (*p == 'K' || *p == 'k')
                        shift = 10;
                else if (*p == 'M' || *p == 'm')
                        shift = 20;
                else if (*p == 'G' || *p == 'g')
                        shift = 30;
                if (shift)
                        p++;
                if (*p || p == config_setting_get_string(s) + (shift ? 1 : 0) || v > (max >> shift))
                        goto bad;
                v <<= shift;
        } else
                goto bad;
        if (v != 0 && (v < min || v > max))
                goto bad;
        *ret = v;
        return true;
bad:
        fail_at(l, s, "expected 0 or a size from %llu to %llu bytes: an integer, or a string with an optional K, M "
                "or G suffix such as \"512M\"", (unsigned long long) min, (unsigned long long) max);
        return false;
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

        check_keys(l, g, keys);
        s = config_setting_get_member(g, "directory");
        if (s && (v = get_string(l, s, "an absolute path in quotes"))) {
                if (v[0] != '/' || strlen(v) >= PATH_MAX - 64)
                        fail_at(l, s, "expected an absolute path");
                else {
                        char *p = strdup(v);
                        if (p) {
                                free(l->c->durability_dir);
                                l->c->durability_dir = p;
                        }
                }
        }
        s = config_setting_get_member(g, "sync");
        if (s) {
                int sync = config_setting_type(s) == CONFIG_TYPE_STRING ?
                        journal_sync_from_string(config_setting_get_string(s)) : -EINVAL;

                if (sync < 0)
                        fail_at(l, s, "expected one of \"always\", \"everysec\", \"no\"");
                else
                        l->c->durability_sync = (uint8_t) sync;
        }
        s = config_setting_get_member(g, "default");
        if (s)
                (void) get_bool(l, s, &l->c->durability_default);
        s = config_setting_get_member(g, "compact_size");
        if (s && get_uint(l, s, JOURNAL_MIN_COMPACT_SIZE, INT64_MAX, &size))
                l->c->compact_size = size;
}

/* ---- objects ---- */

/* Store one element from a setting into dst; false (and an error) if it does not fit the type. */
static bool store_element(struct loader *l, const config_setting_t *s, const struct typecode *t, void *dst) {
        int type = config_setting_type(s);

        if (t->code == 'c') {
                const char *v = type == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;

                if (!v || strlen(v) != 1) {
                        fail_at(l, s, "expected one character in quotes, such as \"x\"");
                        return false;
                }
                memcpy(dst, v, 1);
                return true;
        }
        if (t->kind == TYPECODE_FLOAT) {
                double d;

                if (type == CONFIG_TYPE_FLOAT)
                        d = config_setting_get_float(s);
                else if (type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64)
                        d = (double) config_setting_get_int64(s);
                else {
                        fail_at(l, s, "expected a number");
                        return false;
                }
                if (t->size == 4) {
                        float f = (float) d;
                        memcpy(dst, &f, sizeof(f));
                } else
                        memcpy(dst, &d, sizeof(d));
                return true;
        }
        if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
                fail_at(l, s, "expected an integer for type code '%c'", t->code);
                return false;
        }
        {
                long long v = config_setting_get_int64(s);
                unsigned bits = t->size * 8u;
                bool is_signed = t->kind == TYPECODE_SIGNED;
                long long lo = is_signed ? (bits == 64 ? LLONG_MIN : -(1LL << (bits - 1))) : 0;
                long long hi = bits == 64 ? LLONG_MAX : is_signed ? (1LL << (bits - 1)) - 1 : (1LL << bits) - 1;

                if (v < lo || v > hi) {
                        fail_at(l, s, "expected an integer from %lld to %lld for type code '%c'", lo, hi, t->code);
                        return false;
                }
                switch (t->size) {
                case 1: { int8_t x = (int8_t) v; memcpy(dst, &x, 1); break; }
                case 2: { int16_t x = (int16_t) v; memcpy(dst, &x, 2); break; }
                case 4: { int32_t x = (int32_t) v; memcpy(dst, &x, 4); break; }
                default: { int64_t x = (int64_t) v; memcpy(dst, &x, 8); break; }
                }
        }
        return true;
}

/* typecode = "i": one of Python's type codes. */
static const struct typecode *load_typecode(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const char *expected = "one of \"b\", \"B\", \"h\", \"H\", \"i\", \"I\", \"l\", \"L\", \"q\", \"Q\", "
                               "\"f\", \"d\", \"c\"";
        const config_setting_t *s = config_setting_get_member(g, "typecode");
        const struct typecode *t;
        const char *v;

        if (!s) {
                fail_missing(l, g, "typecode", expected);
                return NULL;
        }
        v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;
        t = v && strlen(v) == 1 ? typecode_find(v[0]) : NULL;
        if (!t) {
                fail_at(l, s, "expected %s", expected);
                return NULL;
        }
        o->typecode = t->code;
        return t;
}

static void load_queue(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const config_setting_t *s;
        bool joinable = false;

        s = config_setting_get_member(g, "maxsize");
        if (s)
                (void) get_uint(l, s, 0, INT64_MAX, &o->maxsize);
        s = config_setting_get_member(g, "joinable");
        if (s && get_bool(l, s, &joinable) && joinable)
                o->type = WIRE_TYPE_JOINABLE;
}

static void load_semaphore(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const config_setting_t *s, *smax = config_setting_get_member(g, "max");
        const config_setting_t *sbounded = config_setting_get_member(g, "bounded");
        bool bounded = smax != NULL, undo = true, ok = true;

        o->value = 1;
        s = config_setting_get_member(g, "value");
        if (s)
                ok &= get_uint(l, s, 0, INT64_MAX, &o->value);
        if (sbounded && get_bool(l, sbounded, &bounded) && !bounded && smax) {
                fail_about(l, smax, "a bound is for a bounded semaphore; expected no max with bounded = false");
                ok = false;
        }
        if (smax)
                ok &= get_uint(l, smax, 1, INT64_MAX, &o->max);
        else if (bounded)
                o->max = o->value;
        if (bounded) {
                o->flags |= WIRE_SEM_BOUNDED;
                if (ok && s && o->value > o->max)
                        fail_at(l, s, "expected at most max (%llu) for a bounded semaphore",
                                (unsigned long long) o->max);
                else if (ok && o->value > o->max)
                        fail_at(l, smax, "expected at least the initial value (%llu)", (unsigned long long) o->value);
        }
        s = config_setting_get_member(g, "undo");
        if (s && get_bool(l, s, &undo) && !undo)
                o->flags |= WIRE_SEM_NO_UNDO;
}

static void load_barrier(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const config_setting_t *s = config_setting_get_member(g, "parties");
        uint64_t v;

        if (!s)
                fail_missing(l, g, "parties", "the number of parties, from 1 to 4294967295");
        else if (get_uint(l, s, 1, UINT32_MAX, &v))
                o->parties = (uint32_t) v;
}

static void load_value(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const struct typecode *t = load_typecode(l, g, o);
        const config_setting_t *s = config_setting_get_member(g, "initial");

        o->flags = WIRE_ARRAY_VALUE;
        o->length = 1;
        if (!t || !s)
                return;
        o->initial = calloc(1, t->size);
        if (o->initial && !store_element(l, s, t, o->initial)) {
                free(o->initial);
                o->initial = NULL;
        }
}

static void load_array(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const struct typecode *t = load_typecode(l, g, o);
        const config_setting_t *slen = config_setting_get_member(g, "length");
        const config_setting_t *s = config_setting_get_member(g, "initial");
        uint64_t length = 0;
        unsigned n = 0;
        bool is_string;

        if (slen && !get_uint(l, slen, 1, UINT32_MAX, &length))
                return;
        if (!t)
                return;
        if (!s) {
                if (!slen)
                        fail_missing(l, g, "length", "the number of elements (or an initial list of them)");
                o->length = (uint32_t) length;
                return;
        }
        is_string = t->code == 'c' && config_setting_type(s) == CONFIG_TYPE_STRING;
        if (is_string)
                n = (unsigned) strlen(config_setting_get_string(s));
        else if (config_setting_type(s) == CONFIG_TYPE_ARRAY || config_setting_type(s) == CONFIG_TYPE_LIST)
                n = (unsigned) config_setting_length(s);
        else {
                fail_at(l, s, "expected a list of elements such as [1, 2, 3]%s",
                        t->code == 'c' ? " or a string" : "");
                return;
        }
        if (n == 0 && !slen) {
                fail_at(l, s, "expected at least one element");
                return;
        }
        if (slen && n > length) {
                fail_about(l, s, "%u elements do not fit; expected at most length (%llu)", n,
                           (unsigned long long) length);
                return;
        }
        o->length = slen ? (uint32_t) length : n;
        o->initial = calloc(o->length, t->size);
        if (!o->initial)
                return;
        if (is_string)
                memcpy(o->initial, config_setting_get_string(s), n);
        else
                for (unsigned i = 0; i < n; i++)
                        if (!store_element(l, config_setting_get_elem(s, i), t, (uint8_t *) o->initial + (size_t) i * t->size))
                                break;
}

/* A pool: workers, restart policy, and the command as an array of strings, packed. */
static void load_pool(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const char *expected = "the program and its arguments as strings, such as [ \"worker\", \"--queue\", \"jobs\" ]";
        const config_setting_t *s;
        size_t size = 0;
        uint64_t v;
        unsigned n;
        char *p;

        o->workers = 1;
        o->restart = WIRE_RESTART_ON_FAILURE;
        s = config_setting_get_member(g, "workers");
        if (s && get_uint(l, s, 1, POOL_MAX_WORKERS, &v))
                o->workers = (uint32_t) v;
        s = config_setting_get_member(g, "restart");
        if (s) {
                int r = config_setting_type(s) == CONFIG_TYPE_STRING ?
                        pool_restart_from_string(config_setting_get_string(s)) : -EINVAL;

                if (r < 0)
                        fail_at(l, s, "expected one of \"always\", \"on-failure\", \"never\"");
                else
                        o->restart = (uint8_t) r;
        }
        s = config_setting_get_member(g, "command");
        if (!s) {
                fail_missing(l, g, "command", expected);
                return;
        }
        if (config_setting_type(s) != CONFIG_TYPE_ARRAY && config_setting_type(s) != CONFIG_TYPE_LIST) {
                fail_at(l, s, "expected %s", expected);
                return;
        }
        n = (unsigned) config_setting_length(s);
        if (n == 0 || n > POOL_MAX_ARGS) {
                fail_about(l, s, "%u strings; expected 1 to %u: %s", n, POOL_MAX_ARGS, expected);
                return;
        }
        for (unsigned i = 0; i < n; i++) {
                const config_setting_t *e = config_setting_get_elem(s, i);

                if (config_setting_type(e) != CONFIG_TYPE_STRING) {
                        fail_at(l, e, "expected a string");
                        return;
                }
                if (i == 0 && !*config_setting_get_string(e)) {
                        fail_at(l, e, "expected the program's name or path");
                        return;
                }
                size += strlen(config_setting_get_string(e)) + 1;
        }
        if (size > POOL_MAX_COMMAND) {
                fail_about(l, s, "%zu bytes; expected a command of at most %u bytes", size, POOL_MAX_COMMAND);
                return;
        }
        o->initial = p = malloc(size);
        if (!p)
                return;
        for (unsigned i = 0; i < n; i++) {
                const char *a = config_setting_get_string(config_setting_get_elem(s, i));

                memcpy(p, a, strlen(a) + 1);
                p += strlen(a) + 1;
        }
        o->command_size = size;
}

/* Every object may also have an owner, a group and a mode (load_ownership). */
#define OWNERSHIP_KEYS "owner", "group", "mode"
static const char *const name_only_keys[] = { "name", OWNERSHIP_KEYS, NULL };
static const char *const durable_name_keys[] = { "name", "durable", OWNERSHIP_KEYS, NULL };
static const char *const queue_keys[] = { "name", "maxsize", "joinable", "durable", OWNERSHIP_KEYS, NULL };
static const char *const semaphore_keys[] = { "name", "value", "max", "bounded", "undo", "durable", OWNERSHIP_KEYS, NULL };
static const char *const barrier_keys[] = { "name", "parties", OWNERSHIP_KEYS, NULL };
static const char *const value_keys[] = { "name", "typecode", "initial", "durable", OWNERSHIP_KEYS, NULL };
static const char *const array_keys[] = { "name", "typecode", "length", "initial", "durable", OWNERSHIP_KEYS, NULL };
static const char *const pool_keys[] = { "name", "workers", "restart", "command", OWNERSHIP_KEYS, NULL };

static const struct kind kinds[] = {
        { "queues", "queue", WIRE_TYPE_QUEUE, false, queue_keys, load_queue },
        { "semaphores", "semaphore", WIRE_TYPE_SEMAPHORE, false, semaphore_keys, load_semaphore },
        { "dicts", "dict", WIRE_TYPE_DICT, true, durable_name_keys, NULL },
        { "lists", "list", WIRE_TYPE_LIST, true, durable_name_keys, NULL },
        { "events", "event", WIRE_TYPE_EVENT, true, name_only_keys, NULL },
        { "barriers", "barrier", WIRE_TYPE_BARRIER, false, barrier_keys, load_barrier },
        { "values", "value", WIRE_TYPE_VALUE, false, value_keys, load_value },
        { "arrays", "array", WIRE_TYPE_ARRAY, false, array_keys, load_array },
        { "pools", "pool", WIRE_TYPE_POOL, false, pool_keys, load_pool },
};

/* An object's owner, group and mode, when its group sets them; unset, mpxd's own and the default. */
static void load_ownership(struct loader *l, const config_setting_t *g, struct config_object *o) {
        const config_setting_t *s;
        const char *v;
        unsigned mode;

        s = config_setting_get_member(g, "owner");
        if (s && (v = get_string(l, s, "a user name or number in quotes"))) {
                struct passwd pw, *res = NULL;
                char buf[4096];

                if (resolve_user(v, &pw, buf, sizeof(buf), &res) < 0)
                        fail_at(l, s, "expected the name or number of an existing user");
                else
                        o->uid = res->pw_uid;
        }
        s = config_setting_get_member(g, "group");
        if (s && (v = get_string(l, s, "a group name or number in quotes"))) {
                gid_t gid;

                if (resolve_group(v, &gid) < 0)
                        fail_at(l, s, "expected the name or number of an existing group");
                else
                        o->gid = gid;
        }
        s = config_setting_get_member(g, "mode");
        if (s && get_mode(l, s, &mode))
                o->mode = (int) mode;
}

/* A name setting: 1 to 255 bytes of [A-Za-z0-9._:/@-]. */
static bool load_name(struct loader *l, const config_setting_t *s, struct config_object *o) {
        const char *v = config_setting_type(s) == CONFIG_TYPE_STRING ? config_setting_get_string(s) : NULL;

        if (!v || !wire_name_valid(v, strlen(v))) {
                fail_at(l, s, "expected a name of 1 to 255 characters from A-Z a-z 0-9 . _ : / @ -");
                return false;
        }
        o->name_len = strlen(v);
        memcpy(o->name, v, o->name_len + 1);
        return true;
}

/* Add o to the configuration unless its name is taken; takes o->initial. */
static void add_object(struct loader *l, const config_setting_t *name_setting, struct config_object *o) {
        struct config *c = l->c;
        struct config_object *grown;

        for (size_t i = 0; i < c->n_objects; i++)
                if (c->objects[i].name_len == o->name_len && memcmp(c->objects[i].name, o->name, o->name_len) == 0) {
                        fail_about(l, name_setting, "\"%s\" is already declared at line %u; expected a name "
                                   "no other object has", o->name, c->objects[i].line);
                        free(o->initial);
                        return;
                }
        grown = realloc(c->objects, (c->n_objects + 1) * sizeof(*grown));
        if (!grown) {
                free(o->initial);
                loader_error(l, NULL, o->line, NULL, "out of memory");
                return;
        }
        c->objects = grown;
        c->objects[c->n_objects++] = *o;
}

static void load_object(struct loader *l, const struct kind *k, const config_setting_t *e) {
        struct config_object o = {
                .type = k->type, .line = config_setting_source_line(e), .uid = (uid_t) -1, .gid = (gid_t) -1,
                .mode = -1,
        };
        const config_setting_t *name;

        if (config_setting_type(e) == CONFIG_TYPE_STRING && k->name_only)
                name = e;
        else if (config_setting_type(e) == CONFIG_TYPE_GROUP) {
                check_keys(l, e, k->settings);
                name = config_setting_get_member(e, "name");
                if (!name) {
                        fail_missing(l, e, "name", "the object's name in quotes");
                        /* Check the rest all the same, to report every error at once. */
                        if (k->load)
                                k->load(l, e, &o);
                        free(o.initial);
                        return;
                }
        } else {
                if (k->name_only)
                        fail_at(l, e, "expected a %s's name in quotes or a group such as { name = \"x\"; }", k->what);
                else
                        fail_at(l, e, "expected a group such as { name = \"x\"; ... } for each %s", k->what);
                return;
        }
        if (!load_name(l, name, &o))
                return;
        if (k->load)
                k->load(l, e, &o);
        if (config_setting_type(e) == CONFIG_TYPE_GROUP)
                load_ownership(l, e, &o);
        if (config_setting_type(e) == CONFIG_TYPE_GROUP && config_setting_get_member(e, "durable"))
                (void) get_bool(l, config_setting_get_member(e, "durable"), &o.durable);
        /* Even a broken object takes its name, so that a second use of it is reported too. */
        add_object(l, name, &o);
}

static void load_objects(struct loader *l, const config_setting_t *g) {
        const char *keys[ARRAY_SIZE(kinds) + 1];

        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
                keys[i] = kinds[i].key;
        keys[ARRAY_SIZE(kinds)] = NULL;
        check_keys(l, g, keys);
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
                const config_setting_t *list = config_setting_get_member(g, kinds[i].key);
                int n;

                if (!list)
                        continue;
                if (config_setting_type(list) != CONFIG_TYPE_LIST && config_setting_type(list) != CONFIG_TYPE_ARRAY) {
                        fail_at(l, list, "expected a list in parentheses, such as ( { name = \"x\"; } )");
                        continue;
                }
                n = config_setting_length(list);
                for (int j = 0; j < n; j++)
                        load_object(l, &kinds[i], config_setting_get_elem(list, (unsigned) j));
        }
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
        if (o->socket_path) {
                char *p = strdup(o->socket_path);

                if (!p)
                        return -ENOMEM;
                free(c->socket_path);
                c->socket_path = p;
        }
        if (o->socket_mode >= 0)
                c->socket_mode = (unsigned) o->socket_mode;
        if (o->socket_group) {
                char *p;
                gid_t gid;

                if (resolve_group(o->socket_group, &gid) < 0) {
                        if (asprintf(ret_errors, "--socket-group: '%s' is not the name or number of an existing group",
                                     o->socket_group) < 0)
                                *ret_errors = NULL;
                        return -EINVAL;
                }
                p = strdup(o->socket_group);
                if (!p)
                        return -ENOMEM;
                free(c->socket_group);
                c->socket_group = p;
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
                r = object_check_limit();
                if (r < 0)
                        return r;
        }
        /* Events, barriers and pools are never durable: the loader accepts no durable key for them. */
        may_be_durable = o->type != WIRE_TYPE_EVENT && o->type != WIRE_TYPE_BARRIER && o->type != WIRE_TYPE_POOL;
        r = may_be_durable ? journal_declare_check(o->name, o->name_len, durable) : 0;
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
