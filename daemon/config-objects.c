/* SPDX-License-Identifier: MIT */
/*
 * The "objects" section of mpxd's configuration: each kind of object
 * (queues, semaphores, arrays, pools ...) with the settings it allows, read
 * into the struct config_object that config_declare() later declares.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config-loader.h"
#include "configfile.h"
#include "journal.h"
#include "macros.h"
#include "perm.h"
#include "pool.h"
#include "typecode.h"
#include "wire.h"

/* One kind of object under "objects": the setting's name and what it holds. */
struct kind {
        const char *key;                /* "queues" */
        const char *what;               /* "queue", for messages */
        uint8_t type;                   /* enum wire_type */
        bool name_only;                 /* an element may be just a name string */
        const char *const *settings;    /* allowed settings of an element's group */
        void (*load)(struct loader *l, const config_setting_t *group, struct config_object *o);
};


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
                else if (fail_if_cut(l, s, UINT64_MAX, "expected a number"))
                        return false;
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
                char expected[96];

                snprintf(expected, sizeof(expected), "expected an integer from %lld to %lld for type code '%c'", lo,
                         hi, t->code);
                if (fail_if_cut(l, s, (uint64_t) hi, expected))
                        return false;
                if (v < lo || v > hi) {
                        fail_at(l, s, "%s", expected);
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
        int restart;

        o->workers = 1;
        o->restart = WIRE_RESTART_ON_FAILURE;
        s = config_setting_get_member(g, "workers");
        if (s && get_uint(l, s, 1, POOL_MAX_WORKERS, &v))
                o->workers = (uint32_t) v;
        s = config_setting_get_member(g, "restart");
        if (s && (restart = get_choice(l, s, pool_restart_from_string,
                                       "one of \"always\", \"on-failure\", \"never\"")) >= 0)
                o->restart = (uint8_t) restart;
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
        const struct passwd *user;
        struct passwd pw;
        char buf[4096];
        const char *v;
        unsigned mode;
        gid_t gid;

        s = config_setting_get_member(g, "owner");
        if (s && (user = get_user(l, s, &pw, buf, sizeof(buf))))
                o->uid = user->pw_uid;
        s = config_setting_get_member(g, "group");
        if (s && get_group(l, s, &v, &gid))
                o->gid = gid;
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

void load_objects(struct loader *l, const config_setting_t *g) {
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
