/* SPDX-License-Identifier: MIT */
/*
 * mpxctl commands about objects of any type and the daemon itself: ls (a
 * table like ipcs), info, stats, clients, users, peek, purge and rm, and the
 * parts of the group commands that are the same for several types (info,
 * declare with flags alone).
 *
 * The fields shown come from the daemon, by key; a column whose field an
 * object does not have shows "-". Nothing here knows a particular type.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpxctl.h"

static const struct ctl_column ls_columns[] = {
        { "NAME", "name", CTL_CELL_TEXT },
        { "TYPE", "type", CTL_CELL_TEXT },
        { "SIZE", "size", CTL_CELL_NUMBER },
        { "MAXSIZE", "maxsize", CTL_CELL_LIMIT },
        { "WAITERS", "waiters", CTL_CELL_NUMBER },
        { "UNFINISHED", "unfinished", CTL_CELL_NUMBER },
        { "BYTES", "bytes", CTL_CELL_BYTES },
        { "REQUESTS", "requests", CTL_CELL_NUMBER },
        { "IDLE", "idle_ms", CTL_CELL_MS },
        { "OWNER", "uid", CTL_CELL_USER },
        { "MODE", "mode", CTL_CELL_MODE },
};

/*
 * mpxctl ls [--type TYPE] [--sort FIELD] [--names]: every object, page by
 * page, as a table, a JSON array, or only the names (for completion).
 */
int ctl_object_ls(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "type", required_argument, NULL, 't' },
                { "sort", required_argument, NULL, 'S' },
                { "names", no_argument, NULL, 'N' },
                CTL_OPTIONS_COMMON
        };
        static const struct ctl_listing ls = {
                "ls", options, CTL_OBJECTS, NULL, ls_columns, ARRAY_SIZE(ls_columns)
        };

        return ctl_list_cmd(ctl, argc, argv, &ls);
}

static const struct ctl_column clients_columns[] = {
        { "ID", "id", CTL_CELL_NUMBER },
        { "PID", "pid", CTL_CELL_NUMBER },
        { "UID", "uid", CTL_CELL_NUMBER },
        { "COMM", "comm", CTL_CELL_TEXT },
        { "NAME", "name", CTL_CELL_TEXT },
        { "AGE", "age_ms", CTL_CELL_MS },
        { "REQUESTS", "requests", CTL_CELL_NUMBER },
        { "UNDONE", "deliveries", CTL_CELL_NUMBER },
        { "LEASE", "lease_ms", CTL_CELL_MS },
        { "UNITS", "sem_units", CTL_CELL_NUMBER },
        { "WAITING", "waiting", CTL_CELL_NUMBER },
        { "WAITING ON", "waiting_on", CTL_CELL_TEXT },
};

/* The options of clients and users. */
static const struct option sort_options[] = {
        { "sort", required_argument, NULL, 'S' },
        CTL_OPTIONS_COMMON
};

/* mpxctl clients [--sort FIELD]: every connection, what it holds and what it waits on. */
int ctl_object_clients(struct ctl *ctl, int argc, char **argv) {
        static const struct ctl_listing clients = {
                "clients", sort_options, CTL_CLIENTS, NULL, clients_columns, ARRAY_SIZE(clients_columns)
        };

        return ctl_list_cmd(ctl, argc, argv, &clients);
}

/* Parse "COMMAND NAME" with no options but the common ones, then connect. */
static int object_parse_name(struct ctl *ctl, int argc, char **argv, struct ctl_args *a) {
        return ctl_parse_args(ctl, argc, argv, ctl_no_options, CTL_ARGS_CONNECT, 0, 0, a);
}

/* info and pool info: an object's name, type and fields, of any type or of type. */
int ctl_info_cmd(struct ctl *ctl, int argc, char **argv, const char *what, const char *type) {
        struct ctl_args a;
        mpx_info info;
        int r;

        r = object_parse_name(ctl, argc, argv, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_object_info(ctl->m, a.name, &info);
        if (r < 0)
                return ctl_fail(r, what, a.name, NULL);
        if (type && (!info.type || strcmp(info.type, type) != 0)) {
                mpx_info_clear(&info);
                return ctl_fail(-EPROTOTYPE, what, a.name, NULL);
        }
        ctl_show_info(ctl, &info);
        mpx_info_clear(&info);
        return CTL_EXIT_OK;
}

/* mpxctl info NAME: the object's name, type and fields. */
int ctl_object_info(struct ctl *ctl, int argc, char **argv) {
        return ctl_info_cmd(ctl, argc, argv, "object", NULL);
}

/* mpxctl stats: the daemon's statistics. */
/* One line that reads the memory fields of STATS: "memory: 1.5 MiB held of 64.0 MiB (max_memory)". */
static void print_memory(const mpx_info *info) {
        const mpx_field *bytes = mpx_info_get(info, "bytes"), *max = mpx_info_get(info, "max_memory");
        char held[32], limit[32];

        if (!bytes || bytes->is_str || !max || max->is_str)
                return;
        ctl_human_bytes(bytes->num, held, sizeof(held));
        if (max->num > 0) {
                ctl_human_bytes(max->num, limit, sizeof(limit));
                printf("memory: %s held of %s (max_memory, %" PRId64 "%%)\n", held, limit,
                       bytes->num * 100 / max->num);
        } else
                printf("memory: %s held, no limit (max_memory)\n", held);
}

int ctl_object_stats(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        mpx_info info;
        int r;

        r = ctl_parse_args(ctl, argc, argv, ctl_no_options, CTL_ARGS_NO_NAME | CTL_ARGS_CONNECT, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_stats(ctl->m, &info);
        if (r < 0)
                return ctl_fail(r, "stats", NULL, NULL);
        ctl_show_info(ctl, &info);
        if (!ctl->json)
                print_memory(&info);
        mpx_info_clear(&info);
        return CTL_EXIT_OK;
}

static const struct ctl_column users_columns[] = {
        { "UID", "uid", CTL_CELL_NUMBER },
        { "USER", "uid", CTL_CELL_USER },
        { "CLIENTS", "clients", CTL_CELL_NUMBER },
        { "OBJECTS", "objects", CTL_CELL_NUMBER },
        { "WAITERS", "waiters", CTL_CELL_NUMBER },
        { "BYTES", "bytes", CTL_CELL_BYTES },
        { "WORKERS", "workers", CTL_CELL_NUMBER },
        { "REFUSED BYTES", "refused_memory", CTL_CELL_NUMBER },
        { "REFUSED OBJECTS", "refused_objects", CTL_CELL_NUMBER },
        { "REFUSED CONNS", "refused_clients", CTL_CELL_NUMBER },
        { "REFUSED WAITS", "refused_waiters", CTL_CELL_NUMBER },
        { "REFUSED WORKERS", "refused_workers", CTL_CELL_NUMBER },
};

/* mpxctl users [--sort FIELD]: each uid, what it holds against its quotas, and what it was refused. */
int ctl_object_users(struct ctl *ctl, int argc, char **argv) {
        static const struct ctl_listing users = {
                "users", sort_options, CTL_USERS, NULL, users_columns, ARRAY_SIZE(users_columns)
        };

        return ctl_list_cmd(ctl, argc, argv, &users);
}

/* Many commands make one call about NAME and print nothing: one run function serves them all. */
int ctl_call_cmd(struct ctl *ctl, int argc, char **argv, int (*call)(mpx *m, const char *name)) {
        struct ctl_args a;
        int r;

        r = object_parse_name(ctl, argc, argv, &a);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_status(call(ctl->m, a.name), ctl->group ? ctl->group : "object", a.name, NULL);
}

/* mpxctl rm NAME: delete an object of any type. */
int ctl_object_rm(struct ctl *ctl, int argc, char **argv) {
        return ctl_call_cmd(ctl, argc, argv, mpx_delete);
}

/* Print a payload on one line, escaping what would break it: tabs, newlines, other controls. */
static void print_escaped_line(const void *data, size_t size) {
        const unsigned char *p = data;

        for (size_t i = 0; i < size; i++) {
                if (p[i] == '\\')
                        fputs("\\\\", stdout);
                else if (p[i] == '\n')
                        fputs("\\n", stdout);
                else if (p[i] == '\t')
                        fputs("\\t", stdout);
                else if (p[i] < 0x20 || p[i] == 0x7f)
                        printf("\\x%02x", p[i]);
                else
                        putchar(p[i]);
        }
        putchar('\n');
}

/*
 * mpxctl peek NAME [-n N]: the first N items of a queue (default 10), left
 * in place: one line each, escaped, or a JSON array of {deliveries, data}.
 */
int ctl_object_peek(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "count", required_argument, NULL, 'n' },
                CTL_OPTIONS_COMMON
        };
        struct ctl_args a;
        uint64_t count;
        mpx_item *items;
        int r, n;

        r = ctl_parse(ctl, argc, argv, &(struct ctl_syntax) { .options = options, .numbers = "n" }, NULL, &a);
        if (r != CTL_EXIT_OK)
                return r;
        count = ctl_number(&a, 'n', 10);
        if (count == 0 || count > 100000)
                return ctl_usage_error(ctl, "--count must be from 1 to 100000");
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        items = calloc(count, sizeof(*items));
        if (!items)
                return ctl_fail(-ENOMEM, "queue", a.name, NULL);
        n = mpx_queue_peek(ctl->m, a.name, items, count);
        if (n < 0) {
                free(items);
                return ctl_fail(n, "queue", a.name, NULL);
        }
        if (ctl->json)
                putchar('[');
        for (int i = 0; i < n; i++) {
                if (ctl->json) {
                        printf("%s{\"deliveries\":%" PRIu32 ",\"data\":", i ? "," : "", items[i].deliveries);
                        ctl_json_string(items[i].data, items[i].size);
                        putchar('}');
                } else
                        print_escaped_line(items[i].data, items[i].size);
                mpx_item_clear(&items[i]);
        }
        if (ctl->json)
                fputs("]\n", stdout);
        free(items);
        return CTL_EXIT_OK;
}

/* mpxctl purge NAME: drop every item waiting in a queue; prints how many. */
int ctl_object_purge(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int r;

        r = object_parse_name(ctl, argc, argv, &a);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_print_count(ctl, "object", a.name, "removed", mpx_queue_purge(ctl->m, a.name));
}

/* The types whose declare takes no more than flags are declared alike. */
int ctl_declare_cmd(struct ctl *ctl, int argc, char **argv, const char *what,
                    int (*declare)(mpx *m, const char *name, unsigned flags)) {
        static const struct option options[] = {
                CTL_OPTION_DURABLE,
                CTL_OPTIONS_COMMON
        };
        struct ctl_args a;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_status(declare(ctl->m, a.name, ctl_given(&a, 'D') ? MPX_DURABLE : 0), what, a.name, NULL);
}

/* dict and list len and clear NAME alike: the number of entries, or how many were removed. */
int ctl_count_cmd(struct ctl *ctl, int argc, char **argv, int64_t (*len)(mpx *m, const char *name),
                  int64_t (*clear)(mpx *m, const char *name)) {
        bool cleared = ctl_is(ctl, "clear");
        struct ctl_args a;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_print_count(ctl, ctl->group, a.name, cleared ? "removed" : "len",
                               (cleared ? clear : len)(ctl->m, a.name));
}
