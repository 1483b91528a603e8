/* SPDX-License-Identifier: MIT */
/*
 * mpxctl commands about objects of any type and the daemon itself: ls (a
 * table like ipcs), info, stats, clients, peek, purge and rm.
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

/* ctl_collect's page function for objects; arg is the type filter or NULL. */
static int ls_page(mpx *m, uint64_t cursor, size_t max, const void *arg,
                   mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return mpx_list_objects(m, cursor, max, arg, ret_items, ret_n, ret_next);
}

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
        const char *type = NULL, *sort = NULL;
        bool names = false;
        mpx_info *all = NULL;
        size_t n_all = 0;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                if (c == 't')
                        type = optarg;
                else if (c == 'S')
                        sort = optarg;
                else if (c == 'N')
                        names = true;
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 0, 0);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_collect(ctl, ls_page, type, &all, &n_all);
        if (r == -EINVAL && type)
                return ctl_usage_error(ctl, "unknown object type '%s'", type);
        if (r < 0)
                return ctl_fail(r, "ls", NULL, NULL);
        if (sort)
                ctl_sort(all, n_all, sort);
        if (names)
                for (size_t i = 0; i < n_all; i++)
                        puts(all[i].name);
        else if (ctl->json)
                ctl_json_infos(all, n_all);
        else
                ctl_print_table(ls_columns, ARRAY_SIZE(ls_columns), all, n_all);
        ctl_infos_free(all, n_all);
        return CTL_EXIT_OK;
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

/* ctl_collect's page function for clients. */
static int clients_page(mpx *m, uint64_t cursor, size_t max, const void *arg,
                        mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return mpx_clients(m, cursor, max, ret_items, ret_n, ret_next);
}

/* mpxctl clients [--sort FIELD]: every connection, what it holds and what it waits on. */
int ctl_object_clients(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "sort", required_argument, NULL, 'S' },
                CTL_OPTIONS_COMMON
        };
        const char *sort = NULL;
        mpx_info *all = NULL;
        size_t n_all = 0;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                if (c == 'S')
                        sort = optarg;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 0, 0);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_collect(ctl, clients_page, NULL, &all, &n_all);
        if (r < 0)
                return ctl_fail(r, "clients", NULL, NULL);
        if (sort)
                ctl_sort(all, n_all, sort);
        if (ctl->json)
                ctl_json_infos(all, n_all);
        else
                ctl_print_table(clients_columns, ARRAY_SIZE(clients_columns), all, n_all);
        ctl_infos_free(all, n_all);
        return CTL_EXIT_OK;
}

/* Parse "COMMAND NAME" with no options but the common ones; *ret_name is the name. */
static int object_parse_name(struct ctl *ctl, int argc, char **argv, const char **ret_name) {
        static const struct option options[] = { CTL_OPTIONS_COMMON };
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                ;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, 1);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        *ret_name = argv[optind];
        return CTL_EXIT_OK;
}

/* mpxctl info NAME: the object's name, type and fields. */
int ctl_object_info(struct ctl *ctl, int argc, char **argv) {
        const char *name = NULL;
        mpx_info info;
        int r;

        r = object_parse_name(ctl, argc, argv, &name);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_object_info(ctl->m, name, &info);
        if (r < 0)
                return ctl_fail(r, "object", name, NULL);
        if (ctl->json) {
                ctl_json_info(&info);
                putchar('\n');
        } else
                ctl_print_info(&info);
        mpx_info_clear(&info);
        return CTL_EXIT_OK;
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
        static const struct option options[] = { CTL_OPTIONS_COMMON };
        mpx_info info;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                ;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 0, 0);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_stats(ctl->m, &info);
        if (r < 0)
                return ctl_fail(r, "stats", NULL, NULL);
        if (ctl->json) {
                ctl_json_info(&info);
                putchar('\n');
        } else {
                ctl_print_info(&info);
                print_memory(&info);
        }
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

/* ctl_collect's page function for users. */
static int users_page(mpx *m, uint64_t cursor, size_t max, const void *arg,
                      mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return mpx_users(m, cursor, max, ret_items, ret_n, ret_next);
}

/* mpxctl users [--sort FIELD]: each uid, what it holds against its quotas, and what it was refused. */
int ctl_object_users(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "sort", required_argument, NULL, 'S' },
                CTL_OPTIONS_COMMON
        };
        const char *sort = NULL;
        mpx_info *all = NULL;
        size_t n_all = 0;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                if (c == 'S')
                        sort = optarg;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 0, 0);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_collect(ctl, users_page, NULL, &all, &n_all);
        if (r < 0)
                return ctl_fail(r, "users", NULL, NULL);
        if (sort)
                ctl_sort(all, n_all, sort);
        if (ctl->json)
                ctl_json_infos(all, n_all);
        else
                ctl_print_table(users_columns, ARRAY_SIZE(users_columns), all, n_all);
        ctl_infos_free(all, n_all);
        return CTL_EXIT_OK;
}

/* mpxctl rm NAME: delete an object of any type. */
int ctl_object_rm(struct ctl *ctl, int argc, char **argv) {
        const char *name = NULL;
        int r;

        r = object_parse_name(ctl, argc, argv, &name);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_delete(ctl->m, name);
        if (r < 0)
                return ctl_fail(r, "object", name, NULL);
        return CTL_EXIT_OK;
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
        uint64_t count = 10;
        mpx_item *items;
        const char *name;
        int c, r, n;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                if (c == 'n' && (r = ctl_parse_u64(ctl, "count", optarg, &count)) != CTL_EXIT_OK)
                        return r;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, 1);
        if (r != CTL_EXIT_OK)
                return r;
        name = argv[optind];
        r = ctl_check_name(ctl, name);
        if (r != CTL_EXIT_OK)
                return r;
        if (count == 0 || count > 100000)
                return ctl_usage_error(ctl, "--count must be from 1 to 100000");
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        items = calloc(count, sizeof(*items));
        if (!items)
                return ctl_fail(-ENOMEM, "queue", name, NULL);
        n = mpx_queue_peek(ctl->m, name, items, count);
        if (n < 0) {
                free(items);
                return ctl_fail(n, "queue", name, NULL);
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
        const char *name = NULL;
        int64_t n;
        int r;

        r = object_parse_name(ctl, argc, argv, &name);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        n = mpx_queue_purge(ctl->m, name);
        if (n < 0)
                return ctl_fail((int) n, "object", name, NULL);
        if (ctl->json) {
                printf("{\"name\":");
                ctl_json_string(name, strlen(name));
                printf(",\"removed\":%" PRId64 "}\n", n);
        } else
                printf("%" PRId64 "\n", n);
        return CTL_EXIT_OK;
}
