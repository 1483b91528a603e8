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

/* Report a failed call, telling a missing item or index from a missing list. */
static int list_fail(struct ctl *ctl, int r, const struct ctl_args *a) {
        if (r == -ERANGE)
                return ctl_fail(r, "list", a->name, "index out of range");
        if (r == -ENOENT && mpx_list_len(ctl->m, a->name) >= 0)
                return ctl_fail(r, "list", a->name, "no such item");
        return ctl_fail(r, "list", a->name, NULL);
}

/* Print the item a get or pop gave: raw, or {"name","index","item"} with --json; or its failure r. */
static int list_print_item(struct ctl *ctl, const struct ctl_args *a, int r, int64_t index, mpx_buf *item) {
        if (r < 0)
                return list_fail(ctl, r, a);
        if (ctl->json) {
                ctl_json_name(a->name);
                printf(",\"index\":%" PRId64 ",\"item\":", index);
                ctl_json_string(item->data, item->size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(item->data, item->size);
        mpx_buf_clear(item);
        return CTL_EXIT_OK;
}

/* What append, extend and insert print: the new length, with --json only; or the failure of len < 0. */
static int list_print_len(struct ctl *ctl, const struct ctl_args *a, int64_t len) {
        return len >= 0 && !ctl->json ? CTL_EXIT_OK : ctl_print_count(ctl, "list", a->name, "len", len);
}

/* mpxctl list declare NAME [--durable] */
static int list_declare_cmd(struct ctl *ctl, int argc, char **argv) {
        return ctl_declare_cmd(ctl, argc, argv, "list", mpx_list_declare_flags);
}

/*
 * mpxctl list extend NAME [ITEM...]: the items given, or with none (or
 * "-") one item per line of stdin, in one atomic request.
 */
static int list_extend_cmd(struct ctl *ctl, int argc, char **argv) {
        struct iovec *items = NULL;
        struct ctl_args a;
        char *input;
        size_t n;
        int64_t len;
        int r;

        r = ctl_parse_items(ctl, argc, argv, &a, &items, &n, &input);
        if (r != CTL_EXIT_OK)
                return r;
        len = mpx_list_extend(ctl->m, a.name, items, n);
        free(items);
        free(input);
        return list_print_len(ctl, &a, len);
}

/* Parse "NAME INDEX ..." and the INDEX. */
static int list_parse_index(struct ctl *ctl, int argc, char **argv, int max, struct ctl_args *a, int64_t *ret) {
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 1, max, a);
        return r != CTL_EXIT_OK ? r : ctl_arg_i64(ctl, a, 0, "index", ret);
}

/* mpxctl list get NAME INDEX: the item on stdout. */
static int list_get_cmd(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int64_t index;
        mpx_buf item;
        int r;

        r = list_parse_index(ctl, argc, argv, 1, &a, &index);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_get(ctl->m, a.name, index, &item);
        return list_print_item(ctl, &a, r, index, &item);
}

/*
 * mpxctl list set NAME INDEX [ITEM] and mpxctl list insert NAME INDEX
 * [ITEM]: ITEM, or all of stdin; insert clamps INDEX as Python does.
 */
static int list_store_cmd(struct ctl *ctl, int argc, char **argv) {
        bool insert = ctl_is(ctl, "insert");
        struct ctl_payload item;
        struct ctl_args a;
        int64_t index, r;

        r = list_parse_index(ctl, argc, argv, 2, &a, &index);
        if (r == CTL_EXIT_OK)
                r = ctl_payload_of(ctl, "list", &a, 1, &item);
        if (r != CTL_EXIT_OK)
                return (int) r;
        r = insert ? mpx_list_insert(ctl->m, a.name, index, item.data, item.size)
                   : mpx_list_set(ctl->m, a.name, index, item.data, item.size);
        ctl_payload_done(&item);
        if (r < 0)
                return list_fail(ctl, (int) r, &a);
        return insert ? list_print_len(ctl, &a, r) : CTL_EXIT_OK;
}

/* mpxctl list pop NAME [INDEX]: remove the item at INDEX (default the last) and print it. */
static int list_pop_cmd(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int64_t index = -1;
        mpx_buf item;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 0, 1, &a);
        if (r == CTL_EXIT_OK)
                r = ctl_arg_i64(ctl, &a, 0, "index", &index);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_list_pop(ctl->m, a.name, index, &item);
        if (r == -ERANGE && a.n == 0)
                return ctl_fail(r, "list", a.name, "list is empty");
        return list_print_item(ctl, &a, r, index, &item);
}

/*
 * mpxctl list append|remove|index NAME [ITEM]: ITEM, or all of stdin; add
 * it at the end, remove the first item equal to it, or print its index.
 */
static int list_item_cmd(struct ctl *ctl, int argc, char **argv) {
        struct ctl_payload item;
        struct ctl_args a;
        int64_t r;

        r = ctl_parse_payload(ctl, argc, argv, "list", 0, &a, &item);
        if (r != CTL_EXIT_OK)
                return (int) r;
        if (ctl_is(ctl, "append"))
                r = mpx_list_append(ctl->m, a.name, item.data, item.size);
        else if (ctl_is(ctl, "remove"))
                r = mpx_list_remove(ctl->m, a.name, item.data, item.size);
        else
                r = mpx_list_index(ctl->m, a.name, item.data, item.size);
        ctl_payload_done(&item);
        if (ctl_is(ctl, "append"))
                return list_print_len(ctl, &a, r);
        if (r < 0)
                return list_fail(ctl, (int) r, &a);
        return ctl_is(ctl, "remove") ? CTL_EXIT_OK : ctl_print_count(ctl, "list", a.name, "index", r);
}

/* mpxctl list len NAME and mpxctl list clear NAME: print the length, or how many were removed. */
static int list_count_cmd(struct ctl *ctl, int argc, char **argv) {
        return ctl_count_cmd(ctl, argc, argv, mpx_list_len, mpx_list_clear);
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
        return ctl_parse_i64(ctl, "slice bound", buf, ret);
}

/*
 * mpxctl list slice NAME [START [STOP]] or NAME START:STOP: the items of
 * l[START:STOP], one per line, or a JSON array.
 */
static int list_slice_cmd(struct ctl *ctl, int argc, char **argv) {
        int64_t start = 0, stop = MPX_SLICE_END, n;
        mpx_buf *items = NULL;
        struct ctl_args a;
        const char *colon;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 0, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n == 1 && (colon = strchr(a.pos[0], ':'))) {
                r = list_parse_bound(ctl, a.pos[0], (size_t) (colon - a.pos[0]), 0, &start);
                if (r == CTL_EXIT_OK)
                        r = list_parse_bound(ctl, colon + 1, strlen(colon + 1), MPX_SLICE_END, &stop);
        } else {
                r = ctl_arg_i64(ctl, &a, 0, "start", &start);
                if (r == CTL_EXIT_OK)
                        r = ctl_arg_i64(ctl, &a, 1, "stop", &stop);
        }
        if (r != CTL_EXIT_OK)
                return r;
        n = mpx_list_slice(ctl->m, a.name, start, stop, &items);
        if (n < 0)
                return ctl_fail((int) n, "list", a.name, NULL);
        if (ctl->json)
                putchar('[');
        ctl_print_entries(ctl, NULL, items, (size_t) n, 0);
        if (ctl->json)
                puts("]");
        mpx_bufs_free(items, (size_t) n);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_list_commands[] = {
        { "declare", "NAME [--durable]", "create a list, or check that the name is one", list_declare_cmd, NULL },
        { "append", "NAME [ITEM]", "add ITEM, or all of stdin, at the end", list_item_cmd, NULL },
        { "extend", "NAME [ITEM...]", "add the items, or the lines of stdin, at the end at once",
          list_extend_cmd, NULL },
        { "get", "NAME INDEX", "write the item at INDEX (negative: from the end) to stdout", list_get_cmd,
          NULL },
        { "set", "NAME INDEX [ITEM]", "replace the item at INDEX with ITEM, or all of stdin", list_store_cmd,
          NULL },
        { "insert", "NAME INDEX [ITEM]", "insert ITEM, or all of stdin, before INDEX", list_store_cmd,
          NULL },
        { "pop", "NAME [INDEX]", "remove the item at INDEX (default: the last) and write it",
          list_pop_cmd, NULL },
        { "remove", "NAME [ITEM]", "remove the first item equal to ITEM, or all of stdin",
          list_item_cmd, NULL },
        { "index", "NAME [ITEM]", "print the index of the first item equal to ITEM", list_item_cmd,
          NULL },
        { "len", "NAME", "print the number of items", list_count_cmd, NULL },
        { "slice", "NAME [START [STOP]|START:STOP]", "print the items of l[START:STOP], one per line",
          list_slice_cmd, NULL },
        { "clear", "NAME", "remove every item and print how many there were", list_count_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
