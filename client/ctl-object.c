/* SPDX-License-Identifier: MIT */
/*
 * mpxctl commands about objects of any type and the daemon itself: ls (a
 * table like ipcs), info, stats and rm.
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

/* Objects asked for per LIST request. */
#define LS_PAGE 1000

enum ls_format {
        LS_TEXT,                        /* name or type, left-aligned */
        LS_NUMBER,                      /* a count, right-aligned */
        LS_LIMIT,                       /* a count where 0 means no limit */
        LS_BYTES,                       /* a byte count, in human units */
};

static const struct ls_column {
        const char *header;
        const char *key;                /* field key; NULL for name and type */
        enum ls_format format;
} ls_columns[] = {
        { "NAME", NULL, LS_TEXT },
        { "TYPE", NULL, LS_TEXT },
        { "SIZE", "size", LS_NUMBER },
        { "MAXSIZE", "maxsize", LS_LIMIT },
        { "UNFINISHED", "unfinished", LS_NUMBER },
        { "GETTERS", "getters", LS_NUMBER },
        { "PUTTERS", "putters", LS_NUMBER },
        { "BYTES", "bytes", LS_BYTES },
};

#define LS_N_COLUMNS (sizeof(ls_columns) / sizeof(ls_columns[0]))

/* A byte count as ls -h would say it: 512, 1.2K, 34M. */
static void ls_human(int64_t v, char *buf, size_t size) {
        static const char units[] = "KMGTPE";
        double d = (double) v;
        int u = -1;

        if (v < 1024) {
                snprintf(buf, size, "%" PRId64, v);
                return;
        }
        while (d >= 1024 && u < (int) sizeof(units) - 2) {
                d /= 1024;
                u++;
        }
        snprintf(buf, size, d < 9.95 ? "%.1f%c" : "%.0f%c", d, units[u]);
}

/* The text of one cell; points into buf or into the item. */
static const char *ls_cell(const mpx_info *item, const struct ls_column *col, char *buf, size_t size) {
        const mpx_field *f;

        if (!col->key)
                return col == &ls_columns[0] ? item->name : item->type;
        f = mpx_info_get(item, col->key);
        if (!f)
                return "-";
        if (f->is_str)
                return f->str;
        if (col->format == LS_LIMIT && f->num == 0)
                return "-";
        if (col->format == LS_BYTES)
                ls_human(f->num, buf, size);
        else
                snprintf(buf, size, "%" PRId64, f->num);
        return buf;
}

/* Print one row; widths from ls_widths(). */
static void ls_row(const char *const cells[], const int widths[]) {
        for (size_t c = 0; c < LS_N_COLUMNS; c++) {
                bool last = c == LS_N_COLUMNS - 1;

                /* No trailing blanks after a left-aligned last column. */
                if (ls_columns[c].format == LS_TEXT)
                        printf("%-*s", last ? 0 : widths[c], cells[c]);
                else
                        printf("%*s", widths[c], cells[c]);
                fputs(last ? "\n" : "  ", stdout);
        }
}

/* Print the objects as an aligned table with a header. */
static void ls_print_table(const mpx_info *items, size_t n) {
        const char *cells[LS_N_COLUMNS];
        int widths[LS_N_COLUMNS];
        char bufs[LS_N_COLUMNS][32];

        for (size_t c = 0; c < LS_N_COLUMNS; c++) {
                cells[c] = ls_columns[c].header;
                widths[c] = (int) strlen(ls_columns[c].header);
        }
        for (size_t i = 0; i < n; i++)
                for (size_t c = 0; c < LS_N_COLUMNS; c++) {
                        const char *cell = ls_cell(&items[i], &ls_columns[c], bufs[c], sizeof(bufs[c]));
                        int w = (int) strlen(cell);

                        if (w > widths[c])
                                widths[c] = w;
                }

        ls_row(cells, widths);
        for (size_t i = 0; i < n; i++) {
                for (size_t c = 0; c < LS_N_COLUMNS; c++)
                        cells[c] = ls_cell(&items[i], &ls_columns[c], bufs[c], sizeof(bufs[c]));
                ls_row(cells, widths);
        }
}

/* Free the objects collected by ls. */
static void ls_free(mpx_info *items, size_t n) {
        for (size_t i = 0; i < n; i++)
                mpx_info_clear(&items[i]);
        free(items);
}

/* mpxctl ls [--type TYPE]: every object, page by page, as a table or a JSON array. */
int ctl_object_ls(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "type", required_argument, NULL, 't' },
                CTL_OPTIONS_COMMON
        };
        const char *type = NULL;
        mpx_info *all = NULL, *page, *p;
        size_t n_all = 0, n;
        uint64_t cursor = 0, next;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                if (c == 't')
                        type = optarg;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 0, 0);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;

        do {
                r = mpx_list_objects(ctl->m, cursor, LS_PAGE, type, &page, &n, &next);
                if (r == -EINVAL && type && cursor == 0) {
                        ls_free(all, n_all);
                        return ctl_usage_error(ctl, "unknown object type '%s'", type);
                }
                if (r < 0) {
                        ls_free(all, n_all);
                        return ctl_fail(r, "ls", NULL, NULL);
                }
                if (n > 0) {
                        p = realloc(all, (n_all + n) * sizeof(*all));
                        if (!p) {
                                mpx_objects_free(page, n);
                                ls_free(all, n_all);
                                return ctl_fail(-ENOMEM, "ls", NULL, NULL);
                        }
                        /* The items move into all; only the page's array is freed. */
                        all = p;
                        memcpy(all + n_all, page, n * sizeof(*page));
                        n_all += n;
                }
                mpx_objects_free(page, 0);
                if (next != 0 && next == cursor) {
                        ls_free(all, n_all);
                        return ctl_fail(-EPROTO, "ls", NULL, NULL);
                }
                cursor = next;
        } while (cursor != 0);

        if (ctl->json) {
                putchar('[');
                for (size_t i = 0; i < n_all; i++) {
                        if (i > 0)
                                putchar(',');
                        ctl_json_info(&all[i]);
                }
                fputs("]\n", stdout);
        } else
                ls_print_table(all, n_all);
        ls_free(all, n_all);
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
        } else
                ctl_print_info(&info);
        mpx_info_clear(&info);
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
