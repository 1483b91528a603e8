/* SPDX-License-Identifier: MIT */
/*
 * mpxctl dict: declare, set, get, del, has, len, keys, items, values, pop,
 * setdefault, update, clear, incr and cas on shared dicts, one libmpx call
 * each (keys, items and values page through the dict).
 *
 * Keys and values are bytes. A value is its argument as given or, when the
 * argument is absent or "-", all of standard input; single values are
 * written to stdout as they are, with no newline (as "queue get" does).
 * Listings print one entry per line: keys and values as they are, items as
 * KEY=VALUE, which "dict update" reads back from standard input. --json
 * prints every listing and value as JSON instead. Arguments are reordered
 * before option parsing so that a negative number ("incr NAME KEY -5") is
 * an argument, not an option.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpxctl.h"

/* Report a failed call about one key, telling a missing key from a missing dict. */
static int dict_fail_key(struct ctl *ctl, int r, const struct ctl_args *a) {
        char msg[512];

        if (r == -ENOENT && mpx_dict_len(ctl->m, a->name) >= 0) {
                snprintf(msg, sizeof(msg), "no such key '%s'", a->pos[0]);
                return ctl_fail(r, "dict", a->name, msg);
        }
        return ctl_fail(r, "dict", a->name, NULL);
}

/* {"name":NAME,"key":KEY, ... the start of a JSON answer about one key. */
static void dict_json_key(const struct ctl_args *a) {
        ctl_json_name(a->name);
        fputs(",\"key\":", stdout);
        ctl_json_string(a->pos[0], strlen(a->pos[0]));
}

/* Print the value of a key, or the failure r of the call that was to give it. */
static int dict_print_value(struct ctl *ctl, const struct ctl_args *a, int r, mpx_buf *v, bool missing_key) {
        if (r < 0)
                return missing_key ? dict_fail_key(ctl, r, a) : ctl_fail(r, "dict", a->name, NULL);
        if (ctl->json) {
                dict_json_key(a);
                fputs(",\"value\":", stdout);
                ctl_json_string(v->data, v->size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(v->data, v->size);
        mpx_buf_clear(v);
        return CTL_EXIT_OK;
}

/* mpxctl dict declare NAME [--durable] */
static int dict_declare_cmd(struct ctl *ctl, int argc, char **argv) {
        return ctl_declare_cmd(ctl, argc, argv, "dict", mpx_dict_declare_flags);
}

/*
 * mpxctl dict set NAME KEY [VALUE] and mpxctl dict setdefault NAME KEY
 * [DEFAULT]: VALUE, or all of stdin; setdefault prints the value now stored.
 */
static int dict_store_cmd(struct ctl *ctl, int argc, char **argv) {
        bool setdefault = ctl_is(ctl, "setdefault");
        struct ctl_payload value;
        struct ctl_args a;
        mpx_buf v;
        int r;

        r = ctl_parse_payload(ctl, argc, argv, "dict", 1, &a, &value);
        if (r != CTL_EXIT_OK)
                return r;
        if (setdefault)
                r = mpx_dict_setdefault(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), value.data, value.size, &v);
        else
                r = mpx_dict_set(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), value.data, value.size);
        ctl_payload_done(&value);
        if (r < 0 || setdefault)
                return dict_print_value(ctl, &a, r, &v, false);
        return CTL_EXIT_OK;
}

/* mpxctl dict get|del|has|pop NAME KEY */
static int dict_key_cmd(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        mpx_buf v;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl_is(ctl, "has")) {
                r = mpx_dict_contains(ctl->m, a.name, a.pos[0], strlen(a.pos[0]));
                if (r < 0)
                        return ctl_fail(r, "dict", a.name, NULL);
                if (ctl->json) {
                        dict_json_key(&a);
                        printf(",\"present\":%s}\n", r ? "true" : "false");
                } else
                        puts(r ? "true" : "false");
                return r ? CTL_EXIT_OK : CTL_EXIT_FAILED;
        }
        if (ctl_is(ctl, "del")) {
                r = mpx_dict_del(ctl->m, a.name, a.pos[0], strlen(a.pos[0]));
                return r < 0 ? dict_fail_key(ctl, r, &a) : CTL_EXIT_OK;
        }
        if (ctl_is(ctl, "pop"))
                r = mpx_dict_pop(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), &v);
        else
                r = mpx_dict_get(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), &v);
        return dict_print_value(ctl, &a, r, &v, true);
}

/* mpxctl dict len NAME and mpxctl dict clear NAME: the number of keys, or how many were removed. */
static int dict_count_cmd(struct ctl *ctl, int argc, char **argv) {
        return ctl_count_cmd(ctl, argc, argv, mpx_dict_len, mpx_dict_clear);
}

/*
 * mpxctl dict keys|values|items NAME: walk the whole dict page by page,
 * printing each page as it comes: one line per entry, or one JSON array
 * (keys, values) or object (items).
 */
static int dict_walk_cmd(struct ctl *ctl, int argc, char **argv) {
        unsigned what = ctl_is(ctl, "keys") ? MPX_DICT_KEYS :
                        ctl_is(ctl, "values") ? MPX_DICT_VALUES : MPX_DICT_ITEMS;
        const char *open = what == MPX_DICT_ITEMS ? "{" : "[", *close = what == MPX_DICT_ITEMS ? "}" : "]";
        struct ctl_args a;
        uint64_t cursor = 0;
        size_t printed = 0;
        bool opened = false;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        do {
                mpx_buf *keys = NULL, *values = NULL;
                size_t n = 0;

                r = mpx_dict_items(ctl->m, a.name, cursor, 0, what, &keys, &values, &n, &cursor);
                if (r < 0) {
                        /* What was printed stays; the status says it is not all. */
                        if (opened)
                                putchar('\n');
                        return ctl_fail(r, "dict", a.name, NULL);
                }
                if (ctl->json && !opened) {
                        fputs(open, stdout);
                        opened = true;
                }
                ctl_print_entries(ctl, keys, values, n, printed);
                printed += n;
                mpx_bufs_free(keys, n);
                mpx_bufs_free(values, n);
        } while (cursor != 0);
        if (ctl->json)
                puts(close);
        return CTL_EXIT_OK;
}

/* The pairs of "dict update": KEY=VALUE each, the key ending at the first '='. */
static int dict_split_pairs(struct ctl *ctl, const struct iovec *items, size_t n, bool from_stdin,
                            struct iovec *keys, struct iovec *values) {
        for (size_t i = 0; i < n; i++) {
                char *line = items[i].iov_base, *eq = strchr(line, '=');

                if (!eq) {
                        if (!from_stdin)
                                return ctl_usage_error(ctl, "'%s' is not KEY=VALUE", line);
                        ctl_error("line %zu of stdin is not KEY=VALUE", i + 1);
                        return CTL_EXIT_USAGE;
                }
                keys[i] = (struct iovec) { .iov_base = line, .iov_len = (size_t) (eq - line) };
                values[i] = (struct iovec) { .iov_base = eq + 1, .iov_len = strlen(eq + 1) };
        }
        return CTL_EXIT_OK;
}

/*
 * mpxctl dict update NAME [KEY=VALUE...]: the pairs given, or with none (or
 * "-") one KEY=VALUE per line of stdin, all in one atomic request.
 */
static int dict_update_cmd(struct ctl *ctl, int argc, char **argv) {
        struct iovec *items = NULL, *keys = NULL, *values = NULL;
        struct ctl_args a;
        char *input;
        size_t n;
        int r;

        r = ctl_parse_items(ctl, argc, argv, &a, &items, &n, &input);
        if (r != CTL_EXIT_OK)
                return r;
        keys = calloc(n ? n : 1, sizeof(*keys));
        values = calloc(n ? n : 1, sizeof(*values));
        if (!keys || !values) {
                ctl_error("out of memory");
                r = CTL_EXIT_FAILED;
        } else
                r = dict_split_pairs(ctl, items, n, input, keys, values);
        if (r == CTL_EXIT_OK)
                r = ctl_status(mpx_dict_update(ctl->m, a.name, keys, values, n), "dict", a.name, NULL);
        free(keys);
        free(values);
        free(items);
        free(input);
        return r;
}

/* mpxctl dict incr NAME KEY [DELTA]: add DELTA (default 1) and print the new value. */
static int dict_incr_cmd(struct ctl *ctl, int argc, char **argv) {
        int64_t delta = 1, value;
        struct ctl_args a;
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 1, 2, &a);
        if (r == CTL_EXIT_OK)
                r = ctl_arg_i64(ctl, &a, 1, "delta", &delta);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_incr(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), delta, &value);
        if (r < 0)
                return ctl_fail(r, "dict", a.name,
                                r == -EINVAL ? "the value is not a decimal integer" :
                                r == -ERANGE ? "the result is out of the 64-bit range" : NULL);
        if (ctl->json) {
                dict_json_key(&a);
                printf(",\"value\":%" PRId64 "}\n", value);
        } else
                printf("%" PRId64 "\n", value);
        return CTL_EXIT_OK;
}

/*
 * mpxctl dict cas NAME KEY (--expect OLD | --absent) (--new NEW | --delete):
 * status 0 when the key held OLD (or was absent) and now holds NEW (or is
 * gone), 1 when it held something else, which is then printed as the
 * current value with --json.
 */
static int dict_cas_cmd(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "expect", required_argument, NULL, 'e' },
                { "absent", no_argument, NULL, 'a' },
                { "new", required_argument, NULL, 'n' },
                { "delete", no_argument, NULL, 'd' },
                CTL_OPTIONS_COMMON
        };
        const char *expect, *new_value;
        mpx_buf current = { 0 };
        struct ctl_args a;
        char msg[512];
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        expect = ctl_value(&a, 'e');
        new_value = ctl_value(&a, 'n');
        if (!expect == !ctl_given(&a, 'a'))
                return ctl_usage_error(ctl, "give exactly one of --expect OLD and --absent");
        if (!new_value == !ctl_given(&a, 'd'))
                return ctl_usage_error(ctl, "give exactly one of --new NEW and --delete");
        r = mpx_dict_cas(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), expect, expect ? strlen(expect) : 0,
                         new_value, new_value ? strlen(new_value) : 0, &current);
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        if (ctl->json) {
                dict_json_key(&a);
                printf(",\"swapped\":%s,\"value\":", r ? "true" : "false");
                if (current.data)
                        ctl_json_string(current.data, current.size);
                else
                        fputs("null", stdout);
                fputs("}\n", stdout);
        }
        mpx_buf_clear(&current);
        if (r)
                return CTL_EXIT_OK;
        snprintf(msg, sizeof(msg), expect ? "key '%s' does not hold the expected value" : "key '%s' exists",
                 a.pos[0]);
        return ctl_fail(-EAGAIN, "dict", a.name, msg);
}

const struct ctl_command ctl_dict_commands[] = {
        { "declare", "NAME [--durable]", "create a dict, or check that the name is one", dict_declare_cmd, NULL },
        { "set", "NAME KEY [VALUE]", "store VALUE, or all of stdin, under KEY", dict_store_cmd, NULL },
        { "get", "NAME KEY", "write the value of KEY to stdout", dict_key_cmd, NULL },
        { "del", "NAME KEY", "remove KEY", dict_key_cmd, NULL },
        { "has", "NAME KEY", "print true (status 0) or false (status 1)", dict_key_cmd, NULL },
        { "len", "NAME", "print the number of keys", dict_count_cmd, NULL },
        { "keys", "NAME", "print every key, one per line, in insertion order", dict_walk_cmd, NULL },
        { "items", "NAME", "print every KEY=VALUE, one per line, in insertion order", dict_walk_cmd, NULL },
        { "values", "NAME", "print every value, one per line, in insertion order", dict_walk_cmd, NULL },
        { "pop", "NAME KEY", "remove KEY and write its value to stdout", dict_key_cmd, NULL },
        { "setdefault", "NAME KEY [DEFAULT]", "store DEFAULT if KEY is absent; write the value",
          dict_store_cmd, NULL },
        { "update", "NAME [KEY=VALUE...]", "store the pairs, or KEY=VALUE lines of stdin, at once",
          dict_update_cmd, NULL },
        { "clear", "NAME", "remove every key and print how many there were", dict_count_cmd, NULL },
        { "incr", "NAME KEY [DELTA]", "add DELTA (default 1) to a decimal value and print it",
          dict_incr_cmd, NULL },
        { "cas", "NAME KEY (--expect OLD|--absent) (--new NEW|--delete)", "compare and set",
          dict_cas_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
