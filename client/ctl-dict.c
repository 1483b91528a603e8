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

/* The arguments of a dict command; options a command does not take keep their defaults. */
struct dict_args {
        const char *name;               /* NAME, checked */
        char **pos;                     /* the arguments after NAME */
        int n;                          /* how many */
        const char *expect;             /* cas --expect */
        const char *new_value;          /* cas --new */
        bool absent;                    /* cas --absent */
        bool delete;                    /* cas --delete */
        bool durable;                   /* declare --durable */
};

/*
 * Parse "COMMAND NAME ARGS..." with options into *a, with min to max
 * arguments after NAME (max -1: any number), then connect. CTL_EXIT_OK, or
 * what the command returns at once.
 */
static int dict_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, int min, int max,
                      struct dict_args *a) {
        int c, r, n_opts;

        *a = (struct dict_args) { 0 };
        n_opts = ctl_sort_args(&argc, argv, options);
        if (n_opts < 0) {
                ctl_error("out of memory");
                return CTL_EXIT_FAILED;
        }
        /* getopt sees the options only; the arguments follow them. */
        while ((c = ctl_getopt(ctl, 1 + n_opts, argv, options)) >= 0) {
                switch (c) {
                case 'e':
                        a->expect = optarg;
                        break;
                case 'n':
                        a->new_value = optarg;
                        break;
                case 'a':
                        a->absent = true;
                        break;
                case 'd':
                        a->delete = true;
                        break;
                case 'D':
                        a->durable = true;
                        break;
                }
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_sorted_name_args(ctl, argc, argv, n_opts, min, max, &a->name, &a->pos, &a->n);
        if (r != CTL_EXIT_OK)
                return r;
        return ctl_connect(ctl);
}

/* The options of a command that has none of its own. */
static const struct option dict_no_options[] = { CTL_OPTIONS_COMMON };

/* Report a failed call about one key, telling a missing key from a missing dict. */
static int dict_fail_key(struct ctl *ctl, int r, const struct dict_args *a, const char *key) {
        char msg[512];

        if (r == -ENOENT && mpx_dict_len(ctl->m, a->name) >= 0) {
                snprintf(msg, sizeof(msg), "no such key '%s'", key);
                return ctl_fail(r, "dict", a->name, msg);
        }
        return ctl_fail(r, "dict", a->name, NULL);
}

/* {"name":NAME,"key":KEY, ... the start of a JSON answer about one key. */
static void dict_json_begin(const struct dict_args *a, const char *key) {
        fputs("{\"name\":", stdout);
        ctl_json_string(a->name, strlen(a->name));
        if (key) {
                fputs(",\"key\":", stdout);
                ctl_json_string(key, strlen(key));
        }
}

/* Print one value: raw, or {"name","key","value"} with --json. */
static void dict_print_value(struct ctl *ctl, const struct dict_args *a, const char *key, const mpx_buf *v) {
        if (ctl->json) {
                dict_json_begin(a, key);
                fputs(",\"value\":", stdout);
                ctl_json_string(v->data, v->size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(v->data, v->size);
}

/* Print a count: N, or {"name":NAME,"FIELD":N} with --json. */
static void dict_print_count(struct ctl *ctl, const struct dict_args *a, const char *field, int64_t n) {
        if (ctl->json) {
                dict_json_begin(a, NULL);
                printf(",\"%s\":%" PRId64 "}\n", field, n);
        } else
                printf("%" PRId64 "\n", n);
}

/* mpxctl dict declare NAME [--durable] */
static int dict_declare_cmd(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "durable", no_argument, NULL, 'D' },
                CTL_OPTIONS_COMMON
        };
        struct dict_args a;
        int r;

        r = dict_parse(ctl, argc, argv, options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_declare_flags(ctl->m, a.name, a.durable ? MPX_DURABLE : 0);
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl dict set NAME KEY [VALUE]: VALUE, or all of stdin. */
static int dict_set_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        const char *value;
        char *input;
        size_t size;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "dict", a.name, a.n > 1 ? a.pos[1] : NULL, &value, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_set(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), value, size);
        free(input);
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl dict get NAME KEY: the value on stdout. */
static int dict_get_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        mpx_buf v;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_get(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), &v);
        if (r < 0)
                return dict_fail_key(ctl, r, &a, a.pos[0]);
        dict_print_value(ctl, &a, a.pos[0], &v);
        mpx_buf_clear(&v);
        return CTL_EXIT_OK;
}

/* mpxctl dict del NAME KEY */
static int dict_del_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_del(ctl->m, a.name, a.pos[0], strlen(a.pos[0]));
        if (r < 0)
                return dict_fail_key(ctl, r, &a, a.pos[0]);
        return CTL_EXIT_OK;
}

/* mpxctl dict has NAME KEY: "true" and status 0, or "false" and status 1. */
static int dict_has_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_contains(ctl->m, a.name, a.pos[0], strlen(a.pos[0]));
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        if (ctl->json) {
                dict_json_begin(&a, a.pos[0]);
                printf(",\"present\":%s}\n", r ? "true" : "false");
        } else
                puts(r ? "true" : "false");
        return r ? CTL_EXIT_OK : CTL_EXIT_FAILED;
}

/* mpxctl dict len NAME */
static int dict_len_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        int64_t n;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        n = mpx_dict_len(ctl->m, a.name);
        if (n < 0)
                return ctl_fail((int) n, "dict", a.name, NULL);
        dict_print_count(ctl, &a, "len", n);
        return CTL_EXIT_OK;
}

/*
 * keys, values, items: walk the whole dict page by page, printing each page
 * as it comes: one line per entry, or one JSON array (keys, values) or
 * object (items).
 */
static int dict_walk(struct ctl *ctl, int argc, char **argv, unsigned what) {
        const char *open = what == MPX_DICT_ITEMS ? "{" : "[", *close = what == MPX_DICT_ITEMS ? "}" : "]";
        struct dict_args a;
        uint64_t cursor = 0;
        size_t printed = 0;
        bool opened = false;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 0, 0, &a);
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
                for (size_t i = 0; i < n; i++, printed++) {
                        if (ctl->json) {
                                if (printed)
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
                mpx_bufs_free(keys, n);
                mpx_bufs_free(values, n);
        } while (cursor != 0);
        if (ctl->json)
                puts(close);
        return CTL_EXIT_OK;
}

/* mpxctl dict keys NAME */
static int dict_keys_cmd(struct ctl *ctl, int argc, char **argv) {
        return dict_walk(ctl, argc, argv, MPX_DICT_KEYS);
}

/* mpxctl dict values NAME */
static int dict_values_cmd(struct ctl *ctl, int argc, char **argv) {
        return dict_walk(ctl, argc, argv, MPX_DICT_VALUES);
}

/* mpxctl dict items NAME */
static int dict_items_cmd(struct ctl *ctl, int argc, char **argv) {
        return dict_walk(ctl, argc, argv, MPX_DICT_ITEMS);
}

/* mpxctl dict pop NAME KEY: the value on stdout; the key is gone. */
static int dict_pop_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        mpx_buf v;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_pop(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), &v);
        if (r < 0)
                return dict_fail_key(ctl, r, &a, a.pos[0]);
        dict_print_value(ctl, &a, a.pos[0], &v);
        mpx_buf_clear(&v);
        return CTL_EXIT_OK;
}

/* mpxctl dict setdefault NAME KEY [DEFAULT]: the value now stored on stdout. */
static int dict_setdefault_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        const char *def;
        char *input;
        size_t size;
        mpx_buf v;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_payload_arg(ctl, "dict", a.name, a.n > 1 ? a.pos[1] : NULL, &def, &size, &input);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_dict_setdefault(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), def, size, &v);
        free(input);
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        dict_print_value(ctl, &a, a.pos[0], &v);
        mpx_buf_clear(&v);
        return CTL_EXIT_OK;
}

/*
 * mpxctl dict update NAME [KEY=VALUE...]: the pairs given, or with none (or
 * "-") one KEY=VALUE per line of stdin, all in one atomic request. The key
 * ends at the first '='.
 */
static int dict_update_cmd(struct ctl *ctl, int argc, char **argv) {
        struct iovec *keys = NULL, *values = NULL;
        struct dict_args a;
        char *input = NULL, **lines = NULL;
        size_t size = 0, n = 0;
        int r, status = CTL_EXIT_OK;

        r = dict_parse(ctl, argc, argv, dict_no_options, 0, -1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n == 0 || (a.n == 1 && strcmp(a.pos[0], "-") == 0)) {
                char *p, *end;
                size_t cap = 0;

                /* On success input is allocated, with room for one more byte than it holds. */
                r = ctl_read_stdin(SIZE_MAX / 4, &input, &size);
                if (r < 0) {
                        ctl_error("cannot read stdin: %s", strerror(-r));
                        return CTL_EXIT_FAILED;
                }
                /* Lines, the last one with or without its newline. */
                for (p = input, end = input ? input + size : NULL; p && p < end;) {
                        char *nl = memchr(p, '\n', (size_t) (end - p));

                        if (n == cap) {
                                char **more = realloc(lines, (cap = cap ? cap * 2 : 64) * sizeof(*lines));

                                if (!more) {
                                        ctl_error("out of memory");
                                        status = CTL_EXIT_FAILED;
                                        goto done;
                                }
                                lines = more;
                        }
                        if (nl)
                                *nl = '\0';
                        else
                                input[size] = '\0';
                        lines[n++] = p;
                        p = nl ? nl + 1 : end;
                }
        } else {
                lines = a.pos;
                n = (size_t) a.n;
        }
        keys = calloc(n ? n : 1, sizeof(*keys));
        values = calloc(n ? n : 1, sizeof(*values));
        if (!keys || !values) {
                ctl_error("out of memory");
                status = CTL_EXIT_FAILED;
                goto done;
        }
        for (size_t i = 0; i < n; i++) {
                char *eq = strchr(lines[i], '=');

                if (!eq) {
                        status = input ? (ctl_error("line %zu of stdin is not KEY=VALUE", i + 1), CTL_EXIT_USAGE)
                                       : ctl_usage_error(ctl, "'%s' is not KEY=VALUE", lines[i]);
                        goto done;
                }
                keys[i] = (struct iovec) { .iov_base = lines[i], .iov_len = (size_t) (eq - lines[i]) };
                values[i] = (struct iovec) { .iov_base = eq + 1, .iov_len = strlen(eq + 1) };
        }
        r = mpx_dict_update(ctl->m, a.name, keys, values, n);
        if (r < 0)
                status = ctl_fail(r, "dict", a.name, NULL);
done:
        free(keys);
        free(values);
        if (input)
                free(lines);
        free(input);
        return status;
}

/* mpxctl dict clear NAME: remove every key and print how many there were. */
static int dict_clear_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        int64_t removed;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        removed = mpx_dict_clear(ctl->m, a.name);
        if (removed < 0)
                return ctl_fail((int) removed, "dict", a.name, NULL);
        dict_print_count(ctl, &a, "removed", removed);
        return CTL_EXIT_OK;
}

/* Parse a decimal signed 64-bit number named what: CTL_EXIT_OK or a usage error. */
static int dict_parse_i64(struct ctl *ctl, const char *what, const char *s, int64_t *ret) {
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

/* mpxctl dict incr NAME KEY [DELTA]: add DELTA (default 1) and print the new value. */
static int dict_incr_cmd(struct ctl *ctl, int argc, char **argv) {
        struct dict_args a;
        int64_t delta = 1, value;
        int r;

        r = dict_parse(ctl, argc, argv, dict_no_options, 1, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n > 1) {
                r = dict_parse_i64(ctl, "delta", a.pos[1], &delta);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        r = mpx_dict_incr(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), delta, &value);
        if (r == -EINVAL)
                return ctl_fail(r, "dict", a.name, "the value is not a decimal integer");
        if (r == -ERANGE)
                return ctl_fail(r, "dict", a.name, "the result is out of the 64-bit range");
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        if (ctl->json) {
                dict_json_begin(&a, a.pos[0]);
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
        struct dict_args a;
        mpx_buf current = { 0 };
        int r;

        r = dict_parse(ctl, argc, argv, options, 1, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (!a.expect == !a.absent)
                return ctl_usage_error(ctl, "give exactly one of --expect OLD and --absent");
        if (!a.new_value == !a.delete)
                return ctl_usage_error(ctl, "give exactly one of --new NEW and --delete");
        r = mpx_dict_cas(ctl->m, a.name, a.pos[0], strlen(a.pos[0]), a.expect, a.expect ? strlen(a.expect) : 0,
                         a.new_value, a.new_value ? strlen(a.new_value) : 0, &current);
        if (r < 0)
                return ctl_fail(r, "dict", a.name, NULL);
        if (ctl->json) {
                dict_json_begin(&a, a.pos[0]);
                printf(",\"swapped\":%s,\"value\":", r ? "true" : "false");
                if (current.data)
                        ctl_json_string(current.data, current.size);
                else
                        fputs("null", stdout);
                fputs("}\n", stdout);
        }
        mpx_buf_clear(&current);
        if (r == 0) {
                char msg[512];

                snprintf(msg, sizeof(msg), a.expect ? "key '%s' does not hold the expected value"
                                                    : "key '%s' exists", a.pos[0]);
                return ctl_fail(-EAGAIN, "dict", a.name, msg);
        }
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_dict_commands[] = {
        { "declare", "NAME [--durable]", "create a dict, or check that the name is one", dict_declare_cmd, NULL },
        { "set", "NAME KEY [VALUE]", "store VALUE, or all of stdin, under KEY", dict_set_cmd, NULL },
        { "get", "NAME KEY", "write the value of KEY to stdout", dict_get_cmd, NULL },
        { "del", "NAME KEY", "remove KEY", dict_del_cmd, NULL },
        { "has", "NAME KEY", "print true (status 0) or false (status 1)", dict_has_cmd, NULL },
        { "len", "NAME", "print the number of keys", dict_len_cmd, NULL },
        { "keys", "NAME", "print every key, one per line, in insertion order", dict_keys_cmd, NULL },
        { "items", "NAME", "print every KEY=VALUE, one per line, in insertion order", dict_items_cmd, NULL },
        { "values", "NAME", "print every value, one per line, in insertion order", dict_values_cmd, NULL },
        { "pop", "NAME KEY", "remove KEY and write its value to stdout", dict_pop_cmd, NULL },
        { "setdefault", "NAME KEY [DEFAULT]", "store DEFAULT if KEY is absent; write the value",
          dict_setdefault_cmd, NULL },
        { "update", "NAME [KEY=VALUE...]", "store the pairs, or KEY=VALUE lines of stdin, at once",
          dict_update_cmd, NULL },
        { "clear", "NAME", "remove every key and print how many there were", dict_clear_cmd, NULL },
        { "incr", "NAME KEY [DELTA]", "add DELTA (default 1) to a decimal value and print it",
          dict_incr_cmd, NULL },
        { "cas", "NAME KEY (--expect OLD|--absent) (--new NEW|--delete)", "compare and set",
          dict_cas_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
