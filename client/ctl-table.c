/* SPDX-License-Identifier: MIT */
/*
 * What mpxctl prints: tables of described things (collecting every page
 * of a paged listing, sorting by a field, printing aligned columns the way
 * ipcs does; cells come from fields by key, and a row without the field
 * shows "-"), the listing commands built on them (ls, clients, users, pool
 * ls; top shares the tables), and the small answers about one object that
 * every group prints alike: a count, or the start of a JSON object.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpxctl.h"

/* Items asked for per page. */
#define CTL_PAGE 1000

void ctl_human_bytes(int64_t v, char *buf, size_t size) {
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

/* A duration in milliseconds as a person reads it: 850ms, 12s, 5m, 3h, 2d. */
static void human_ms(int64_t ms, char *buf, size_t size) {
        if (ms < 0)
                snprintf(buf, size, "-");       /* none, as for a lease nobody holds */
        else if (ms < 1000)
                snprintf(buf, size, "%" PRId64 "ms", ms);
        else if (ms < 120 * 1000)
                snprintf(buf, size, "%" PRId64 "s", ms / 1000);
        else if (ms < 120 * 60 * 1000)
                snprintf(buf, size, "%" PRId64 "m", ms / 60000);
        else if (ms < 48LL * 3600 * 1000)
                snprintf(buf, size, "%" PRId64 "h", ms / 3600000);
        else
                snprintf(buf, size, "%" PRId64 "d", ms / 86400000);
}

/* A uid as its user name, or as the number when no user has it. */
static void user_name(int64_t uid, char *buf, size_t size) {
        struct passwd *pw = uid >= 0 && uid <= UINT32_MAX ? getpwuid((uid_t) uid) : NULL;

        if (pw)
                snprintf(buf, size, "%s", pw->pw_name);
        else
                snprintf(buf, size, "%" PRId64, uid);
}

/* Permission bits as ls shows them: 0640 is rw-r-----. */
static void mode_string(int64_t mode, char *buf, size_t size) {
        static const char rwx[] = "rwx";

        if (size < 10)
                return;
        for (int i = 0; i < 9; i++)
                buf[i] = mode & (0400 >> i) ? rwx[i % 3] : '-';
        buf[9] = '\0';
}

/* The text of one cell; points into buf, into the item, or at a constant. */
static const char *table_cell(const mpx_info *item, const struct ctl_column *col, char *buf, size_t size) {
        /* The formats that write a number in a way of their own. */
        static void (*const formats[])(int64_t v, char *buf, size_t size) = {
                [CTL_CELL_BYTES] = ctl_human_bytes,
                [CTL_CELL_MS] = human_ms,
                [CTL_CELL_USER] = user_name,
                [CTL_CELL_MODE] = mode_string,
        };
        const mpx_field *f;

        if (strcmp(col->key, "name") == 0 && item->name)
                return item->name;
        if (strcmp(col->key, "type") == 0 && item->type)
                return item->type;
        f = mpx_info_get(item, col->key);
        if (!f)
                return "-";
        if (f->is_str)
                return *f->str ? f->str : "-";
        if (col->format == CTL_CELL_LIMIT && f->num == 0)
                return "-";
        if (col->format < ARRAY_SIZE(formats) && formats[col->format])
                formats[col->format](f->num, buf, size);
        else
                snprintf(buf, size, "%" PRId64, f->num);
        return buf;
}

/* Print one row; the last column, when text, gets no trailing blanks. */
static void table_row(const struct ctl_column *cols, size_t n_cols, const char *const cells[], const int widths[]) {
        for (size_t c = 0; c < n_cols; c++) {
                bool last = c == n_cols - 1;

                if (cols[c].format == CTL_CELL_TEXT || cols[c].format == CTL_CELL_USER ||
                    cols[c].format == CTL_CELL_MODE)
                        printf("%-*s", last ? 0 : widths[c], cells[c]);
                else
                        printf("%*s", widths[c], cells[c]);
                fputs(last ? "\n" : "  ", stdout);
        }
}

void ctl_print_table(const struct ctl_column *cols, size_t n_cols, const mpx_info *items, size_t n) {
        const char *cells[CTL_MAX_COLUMNS];
        int widths[CTL_MAX_COLUMNS];
        char bufs[CTL_MAX_COLUMNS][32];

        if (n_cols > CTL_MAX_COLUMNS)
                n_cols = CTL_MAX_COLUMNS;
        for (size_t c = 0; c < n_cols; c++) {
                cells[c] = cols[c].header;
                widths[c] = (int) strlen(cols[c].header);
        }
        for (size_t i = 0; i < n; i++)
                for (size_t c = 0; c < n_cols; c++) {
                        int w = (int) strlen(table_cell(&items[i], &cols[c], bufs[c], sizeof(bufs[c])));

                        if (w > widths[c])
                                widths[c] = w;
                }
        table_row(cols, n_cols, cells, widths);
        for (size_t i = 0; i < n; i++) {
                for (size_t c = 0; c < n_cols; c++)
                        cells[c] = table_cell(&items[i], &cols[c], bufs[c], sizeof(bufs[c]));
                table_row(cols, n_cols, cells, widths);
        }
}

static const char *sort_key;

/* Order for ctl_sort: numbers largest first, text A to Z, rows without the field last. */
static int sort_compare(const void *a, const void *b) {
        const mpx_info *x = a, *y = b;
        const char *sx = NULL, *sy = NULL;
        const mpx_field *fx, *fy;

        if (strcmp(sort_key, "name") == 0) {
                sx = x->name;
                sy = y->name;
        } else if (strcmp(sort_key, "type") == 0) {
                sx = x->type;
                sy = y->type;
        }
        if (sx || sy)
                return strcmp(sx ? sx : "", sy ? sy : "");
        fx = mpx_info_get(x, sort_key);
        fy = mpx_info_get(y, sort_key);
        if (!fx || !fy)
                return (fx == NULL) - (fy == NULL);
        if (fx->is_str || fy->is_str)
                return strcmp(fx->is_str ? fx->str : "", fy->is_str ? fy->str : "");
        return (fx->num < fy->num) - (fx->num > fy->num);
}

void ctl_sort(mpx_info *items, size_t n, const char *key) {
        sort_key = key;
        qsort(items, n, sizeof(*items), sort_compare);
        sort_key = NULL;
}

void ctl_infos_free(mpx_info *items, size_t n) {
        mpx_objects_free(items, n);
}

/* One page of a listing. */
static int collect_page(mpx *m, enum ctl_source source, const char *type, uint64_t cursor, mpx_info **ret_items,
                        size_t *ret_n, uint64_t *ret_next) {
        if (source == CTL_CLIENTS)
                return mpx_clients(m, cursor, CTL_PAGE, ret_items, ret_n, ret_next);
        if (source == CTL_USERS)
                return mpx_users(m, cursor, CTL_PAGE, ret_items, ret_n, ret_next);
        return mpx_list_objects(m, cursor, CTL_PAGE, type, ret_items, ret_n, ret_next);
}

int ctl_collect(struct ctl *ctl, enum ctl_source source, const char *type, mpx_info **ret_items, size_t *ret_n) {
        mpx_info *all = NULL, *page, *p;
        size_t n_all = 0, n;
        uint64_t cursor = 0, next;
        int r;

        do {
                r = collect_page(ctl->m, source, type, cursor, &page, &n, &next);
                if (r < 0) {
                        ctl_infos_free(all, n_all);
                        return r;
                }
                if (n > 0) {
                        p = realloc(all, (n_all + n) * sizeof(*all));
                        if (!p) {
                                mpx_objects_free(page, n);
                                ctl_infos_free(all, n_all);
                                return -ENOMEM;
                        }
                        /* The items move into all; only the page's array is freed. */
                        all = p;
                        memcpy(all + n_all, page, n * sizeof(*page));
                        n_all += n;
                }
                mpx_objects_free(page, 0);
                /* A cursor that does not move would loop forever. */
                if (next != 0 && next == cursor) {
                        ctl_infos_free(all, n_all);
                        return -EPROTO;
                }
                cursor = next;
        } while (cursor != 0);
        *ret_items = all;
        *ret_n = n_all;
        return 0;
}

/* Entries are printed as they come, page by page, so that a large dict never has to fit in memory. */
void ctl_print_entries(const struct ctl *ctl, const mpx_buf *keys, const mpx_buf *values, size_t n, size_t done) {
        for (size_t i = 0; i < n; i++) {
                if (ctl->json) {
                        if (done + i)
                                putchar(',');
                        if (keys)
                                ctl_json_string(keys[i].data, keys[i].size);
                        if (keys && values)
                                putchar(':');
                        if (values)
                                ctl_json_string(values[i].data, values[i].size);
                        continue;
                }
                if (keys)
                        fwrite(keys[i].data, 1, keys[i].size, stdout);
                if (keys && values)
                        putchar('=');
                if (values)
                        fwrite(values[i].data, 1, values[i].size, stdout);
                putchar('\n');
        }
}

void ctl_json_infos(const mpx_info *items, size_t n) {
        putchar('[');
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        putchar(',');
                ctl_json_info(&items[i]);
        }
        fputs("]\n", stdout);
}

/* The listings differ only in what they list and show: one command serves them all. */
int ctl_list_cmd(struct ctl *ctl, int argc, char **argv, const struct ctl_listing *l) {
        const char *type, *sort;
        mpx_info *all = NULL;
        struct ctl_args a;
        size_t n_all = 0;
        int r;

        r = ctl_parse_args(ctl, argc, argv, l->options, CTL_ARGS_NO_NAME | CTL_ARGS_CONNECT, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        type = ctl_value(&a, 't');
        r = ctl_collect(ctl, l->source, l->type ? l->type : type, &all, &n_all);
        if (r == -EINVAL && type)
                return ctl_usage_error(ctl, "unknown object type '%s'", type);
        if (r < 0)
                return ctl_fail(r, l->what, NULL, NULL);
        sort = ctl_value(&a, 'S');
        if (sort)
                ctl_sort(all, n_all, sort);
        if (ctl_given(&a, 'N'))
                for (size_t i = 0; i < n_all; i++)
                        puts(all[i].name);
        else if (ctl->json)
                ctl_json_infos(all, n_all);
        else
                ctl_print_table(l->columns, l->n_columns, all, n_all);
        ctl_infos_free(all, n_all);
        return CTL_EXIT_OK;
}

void ctl_json_name(const char *name) {
        fputs("{\"name\":", stdout);
        ctl_json_string(name, strlen(name));
}

/* Every group prints a count the same way, so that scripts read them alike. */
int ctl_print_count(const struct ctl *ctl, const char *what, const char *name, const char *field, int64_t n) {
        if (n < 0)
                return ctl_fail((int) n, what, name, NULL);
        if (ctl->json) {
                ctl_json_name(name);
                printf(",\"%s\":%" PRId64 "}\n", field, n);
        } else
                printf("%" PRId64 "\n", n);
        return CTL_EXIT_OK;
}
