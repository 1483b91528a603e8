/* SPDX-License-Identifier: MIT */
/*
 * mpxctl list: declare, append, extend, get, set, insert, pop, remove,
 * index, len, slice and clear on shared lists, one libmpx call each.
 *
 * Items are bytes. An item is its argument as given or, when the argument
 * is absent or "-", all of standard input ("extend" takes one item per line
 * of stdin instead). A single item is written to stdout as it is, with no
 * newline (as "queue get" does); a slice prints one item per line, or a JSON
 * array with --json. Indexes are Python's: negative ones count from the
 * end, and they may be given as they are ("list get NAME -1"): arguments are
 * reordered before option parsing so that a negative number is not taken
 * for an option.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpxctl.h"

/* The arguments of a list command. */
struct list_args {
        const char *name;               /* NAME, checked */
        char **pos;                     /* the arguments after NAME */
        int n;                          /* how many */
        bool durable;                   /* declare --durable */
};

/*
 * Parse "COMMAND NAME ARGS..." with options into *a, with min to max
 * arguments after NAME (max -1: any number), then connect. CTL_EXIT_OK, or
 * what the command returns at once.
 */
static int list_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, int min, int max,
                      struct list_args *a) {
        int c, r, n_opts;

        *a = (struct list_args) { 0 };
        n_opts = ctl_sort_args(&argc, argv, options);
        if (n_opts < 0) {
                ctl_error("out of memory");
                return CTL_EXIT_FAILED;
        }
        /* getopt sees the options only; the arguments follow them. */
        while ((c = ctl_getopt(ctl, 1 + n_opts, argv, options)) >= 0)
                if (c == 'D')
                        a->durable = true;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_sorted_name_args(ctl, argc, argv, n_opts, min, max, &a->name, &a->pos, &a->n);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_connect(ctl);
}

/* The options of a command that has none of its own. */
static const struct option list_no_options[] = { CTL_OPTIONS_COMMON };

/* Report a failed call, telling a missing item or index from a missing list. */
static int list_fail(struct ctl *ctl, int r, const struct list_args *a) {
        if (r == -ERANGE)
                return ctl_fail(r, "list", a->name, "index out of range");
        if (r == -ENOENT && mpx_list_len(ctl->m, a->name) >= 0)
                return ctl_fail(r, "list", a->name, "no such item");
        return ctl_fail(r, "list", a->name, NULL);
}

/* Parse a decimal signed 64-bit number named what: CTL_EXIT_OK or a usage error. */
static int list_parse_i64(struct ctl *ctl, const char *what, const char *s, int64_t *ret) {
        bool negative = s[0] == '-';
        const char *p = s + (s[0] == '-' || s[0] == '+');
        uint64_t v = 0, limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

        if (*p == '\0')
                return ctl_usage_error(ctl, "bad %s '%s' (a decimal number)", what, s);
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return ctl_usage_error(ctl, "bad %s '%s' (a decimal number)", what, s);
                if (v > (limit - (uint64_t) (*p - '0')) / 10)
                        return ctl_usage_error(ctl, "%s '%s' is out of range", what, s);
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = negative ? (int64_t) (0 - v) : (int64_t) v;
        return CTL_EXIT_OK;
}

/* {"name":NAME ... the start of a JSON answer. */
static void list_json_begin(const struct list_args *a) {
        fputs("{\"name\":", stdout);
        ctl_json_string(a->name, strlen(a->name));
}

/* Print one item: raw, or {"name","index","item"} with --json. */
static void list_print_item(struct ctl *ctl, const struct list_args *a, int64_t index, const mpx_buf *item) {
        if (ctl->json) {
                list_json_begin(a);
                printf(",\"index\":%" PRId64 ",\"item\":", index);
                ctl_json_string(item->data, item->size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(item->data, item->size);
}

/* Print a number: N, or {"name":NAME,"FIELD":N} with --json. */
static void list_print_count(struct ctl *ctl, const struct list_args *a, const char *field, int64_t n) {
        if (ctl->json) {
                list_json_begin(a);
                printf(",\"%s\":%" PRId64 "}\n", field, n);
        } else
                printf("%" PRId64 "\n", n);
}

/* mpxctl list declare NAME [--durable] */
static int list_declare_cmd(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "durable", no_argument, NULL, 'D' },
                CTL_OPTIONS_COMMON
        };
        struct list_args a;
        int r;

        r = list_parse(ctl, argc, argv, options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_declare_flags(ctl->m, a.name, a.durable ? MPX_DURABLE : 0);
        if (r < 0)
                return ctl_fail(r, "list", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl list append NAME [ITEM]: ITEM, or all of stdin. */
static int list_append_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        const char *item;
        char *input;
        size_t size;
        int64_t len;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "list", a.name, a.n > 0 ? a.pos[0] : NULL, &item, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        len = mpx_list_append(ctl->m, a.name, item, size);
        free(input);
        if (len < 0)
                return ctl_fail((int) len, "list", a.name, NULL);
        if (ctl->json)
                list_print_count(ctl, &a, "len", len);
        return CTL_EXIT_OK;
}

/*
 * mpxctl list extend NAME [ITEM...]: the items given, or with none (or
 * "-") one item per line of stdin, in one atomic request.
 */
static int list_extend_cmd(struct ctl *ctl, int argc, char **argv) {
        struct iovec *items = NULL;
        struct list_args a;
        char *input = NULL;
        size_t size = 0, n = 0, cap = 0;
        int64_t len;
        int r, status = CTL_EXIT_OK;

        r = list_parse(ctl, argc, argv, list_no_options, 0, -1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n == 0 || (a.n == 1 && strcmp(a.pos[0], "-") == 0)) {
                char *p, *end;

                r = ctl_read_stdin(SIZE_MAX / 4, &input, &size);
                if (r < 0) {
                        ctl_error("cannot read stdin: %s", strerror(-r));
                        return CTL_EXIT_FAILED;
                }
                /* Lines, the last one with or without its newline. */
                for (p = input, end = input + size; p < end;) {
                        char *nl = memchr(p, '\n', (size_t) (end - p));

                        if (n == cap) {
                                struct iovec *more = realloc(items, (cap = cap ? cap * 2 : 64) * sizeof(*items));

                                if (!more) {
                                        ctl_error("out of memory");
                                        status = CTL_EXIT_FAILED;
                                        goto done;
                                }
                                items = more;
                        }
                        items[n++] = (struct iovec) { .iov_base = p, .iov_len = (size_t) ((nl ? nl : end) - p) };
                        p = nl ? nl + 1 : end;
                }
        } else {
                n = (size_t) a.n;
                items = calloc(n, sizeof(*items));
                if (!items) {
                        ctl_error("out of memory");
                        status = CTL_EXIT_FAILED;
                        goto done;
                }
                for (size_t i = 0; i < n; i++)
                        items[i] = (struct iovec) { .iov_base = a.pos[i], .iov_len = strlen(a.pos[i]) };
        }
        len = mpx_list_extend(ctl->m, a.name, items, n);
        if (len < 0)
                status = ctl_fail((int) len, "list", a.name, NULL);
        else if (ctl->json)
                list_print_count(ctl, &a, "len", len);
done:
        free(items);
        free(input);
        return status;
}

/* mpxctl list get NAME INDEX: the item on stdout. */
static int list_get_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        int64_t index;
        mpx_buf item;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = list_parse_i64(ctl, "index", a.pos[0], &index);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_get(ctl->m, a.name, index, &item);
        if (r < 0)
                return list_fail(ctl, r, &a);
        list_print_item(ctl, &a, index, &item);
        mpx_buf_clear(&item);
        return CTL_EXIT_OK;
}

/* mpxctl list set NAME INDEX [ITEM]: ITEM, or all of stdin. */
static int list_set_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        const char *item;
        char *input;
        size_t size;
        int64_t index;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 1, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = list_parse_i64(ctl, "index", a.pos[0], &index);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "list", a.name, a.n > 1 ? a.pos[1] : NULL, &item, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_set(ctl->m, a.name, index, item, size);
        free(input);
        if (r < 0)
                return list_fail(ctl, r, &a);
        return CTL_EXIT_OK;
}

/* mpxctl list insert NAME INDEX [ITEM]: insert before INDEX, clamped as Python does. */
static int list_insert_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        const char *item;
        char *input;
        size_t size;
        int64_t index, len;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 1, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = list_parse_i64(ctl, "index", a.pos[0], &index);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "list", a.name, a.n > 1 ? a.pos[1] : NULL, &item, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        len = mpx_list_insert(ctl->m, a.name, index, item, size);
        free(input);
        if (len < 0)
                return list_fail(ctl, (int) len, &a);
        if (ctl->json)
                list_print_count(ctl, &a, "len", len);
        return CTL_EXIT_OK;
}

/* mpxctl list pop NAME [INDEX]: remove the item at INDEX (default the last) and print it. */
static int list_pop_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        int64_t index = -1;
        mpx_buf item;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n > 0) {
                r = list_parse_i64(ctl, "index", a.pos[0], &index);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        r = mpx_list_pop(ctl->m, a.name, index, &item);
        if (r == -ERANGE && a.n == 0)
                return ctl_fail(r, "list", a.name, "list is empty");
        if (r < 0)
                return list_fail(ctl, r, &a);
        list_print_item(ctl, &a, index, &item);
        mpx_buf_clear(&item);
        return CTL_EXIT_OK;
}

/* mpxctl list remove NAME [ITEM]: remove the first item equal to ITEM (or stdin). */
static int list_remove_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        const char *item;
        char *input;
        size_t size;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "list", a.name, a.n > 0 ? a.pos[0] : NULL, &item, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_remove(ctl->m, a.name, item, size);
        free(input);
        if (r < 0)
                return list_fail(ctl, r, &a);
        return CTL_EXIT_OK;
}

/* mpxctl list index NAME [ITEM]: print the index of the first item equal to ITEM (or stdin). */
static int list_index_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        const char *item;
        char *input;
        size_t size;
        int64_t index;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "list", a.name, a.n > 0 ? a.pos[0] : NULL, &item, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        index = mpx_list_index(ctl->m, a.name, item, size);
        free(input);
        if (index < 0)
                return list_fail(ctl, (int) index, &a);
        list_print_count(ctl, &a, "index", index);
        return CTL_EXIT_OK;
}

/* mpxctl list len NAME */
static int list_len_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        int64_t n;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        n = mpx_list_len(ctl->m, a.name);
        if (n < 0)
                return ctl_fail((int) n, "list", a.name, NULL);
        list_print_count(ctl, &a, "len", n);
        return CTL_EXIT_OK;
}

/* One bound of "START:STOP": empty is the default (None), else a number. */
static int list_parse_bound(struct ctl *ctl, const char *s, size_t len, int64_t def, int64_t *ret) {
        char buf[32];

        if (len == 0) {
                *ret = def;
                return CTL_EXIT_OK;
        }
        if (len >= sizeof(buf))
                return ctl_usage_error(ctl, "bad slice bound '%.*s'", (int) len, s);
        memcpy(buf, s, len);
        buf[len] = '\0';
        return list_parse_i64(ctl, "slice bound", buf, ret);
}

/*
 * mpxctl list slice NAME [START [STOP]] or NAME START:STOP: the items of
 * l[START:STOP], one per line, or a JSON array.
 */
static int list_slice_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        int64_t start = 0, stop = MPX_SLICE_END, n;
        mpx_buf *items = NULL;
        const char *colon;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n == 1 && (colon = strchr(a.pos[0], ':'))) {
                r = list_parse_bound(ctl, a.pos[0], (size_t) (colon - a.pos[0]), 0, &start);
                if (r == CTL_EXIT_OK)
                        r = list_parse_bound(ctl, colon + 1, strlen(colon + 1), MPX_SLICE_END, &stop);
        } else {
                if (a.n > 0)
                        r = list_parse_i64(ctl, "start", a.pos[0], &start);
                if (r == CTL_EXIT_OK && a.n > 1)
                        r = list_parse_i64(ctl, "stop", a.pos[1], &stop);
        }
        if (r != CTL_EXIT_OK)
                return r;
        n = mpx_list_slice(ctl->m, a.name, start, stop, &items);
        if (n < 0)
                return ctl_fail((int) n, "list", a.name, NULL);
        if (ctl->json)
                putchar('[');
        for (int64_t i = 0; i < n; i++) {
                if (ctl->json) {
                        if (i)
                                putchar(',');
                        ctl_json_string(items[i].data, items[i].size);
                } else {
                        fwrite(items[i].data, 1, items[i].size, stdout);
                        putchar('\n');
                }
        }
        if (ctl->json)
                puts("]");
        mpx_bufs_free(items, (size_t) n);
        return CTL_EXIT_OK;
}

/* mpxctl list clear NAME: remove every item and print how many there were. */
static int list_clear_cmd(struct ctl *ctl, int argc, char **argv) {
        struct list_args a;
        int64_t removed;
        int r;

        r = list_parse(ctl, argc, argv, list_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        removed = mpx_list_clear(ctl->m, a.name);
        if (removed < 0)
                return ctl_fail((int) removed, "list", a.name, NULL);
        list_print_count(ctl, &a, "removed", removed);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_list_commands[] = {
        { "declare", "NAME [--durable]", "create a list, or check that the name is one", list_declare_cmd, NULL },
        { "append", "NAME [ITEM]", "add ITEM, or all of stdin, at the end", list_append_cmd, NULL },
        { "extend", "NAME [ITEM...]", "add the items, or the lines of stdin, at the end at once",
          list_extend_cmd, NULL },
        { "get", "NAME INDEX", "write the item at INDEX (negative: from the end) to stdout", list_get_cmd,
          NULL },
        { "set", "NAME INDEX [ITEM]", "replace the item at INDEX with ITEM, or all of stdin", list_set_cmd,
          NULL },
        { "insert", "NAME INDEX [ITEM]", "insert ITEM, or all of stdin, before INDEX", list_insert_cmd,
          NULL },
        { "pop", "NAME [INDEX]", "remove the item at INDEX (default: the last) and write it",
          list_pop_cmd, NULL },
        { "remove", "NAME [ITEM]", "remove the first item equal to ITEM, or all of stdin",
          list_remove_cmd, NULL },
        { "index", "NAME [ITEM]", "print the index of the first item equal to ITEM", list_index_cmd,
          NULL },
        { "len", "NAME", "print the number of items", list_len_cmd, NULL },
        { "slice", "NAME [START [STOP]|START:STOP]", "print the items of l[START:STOP], one per line",
          list_slice_cmd, NULL },
        { "clear", "NAME", "remove every item and print how many there were", list_clear_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
