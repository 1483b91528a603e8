/* SPDX-License-Identifier: MIT */
/*
 * mpxctl: reading a command's argv. ctl_parse() runs getopt over it and
 * keeps what every command would otherwise keep by hand: which options were
 * given, the value of each, --timeout and the numbers parsed, then checks
 * NAME and the number of arguments after it, and connects.
 *
 * The dict, list, value and array commands take negative numbers as
 * arguments ("list get NAME -1", "dict incr NAME KEY -5"), which getopt
 * would read as options; so their argv is sorted first, options in front,
 * and getopt sees only those. What a command does with its arguments is
 * the command's own business.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpxctl.h"

/* True if s, which starts with '-', is a negative number, which is an argument and not an option. */
static bool is_negative_number(const char *s, bool floats) {
        const char *p = s + 1;

        if (*p >= '0' && *p <= '9')
                return true;
        /* The element types of arrays take ".5", "inf" and "nan" too. */
        return floats && (*p == '.' || strncasecmp(p, "inf", 3) == 0 || strncasecmp(p, "nan", 3) == 0);
}

/* True if the option arg (such as "--new" or "-n") takes the next argument as its value. */
static bool option_takes_next(const char *arg, const struct option *options) {
        for (const struct option *o = options; o->name; o++) {
                if (o->has_arg != required_argument)
                        continue;
                if (arg[1] == '-' && strcmp(arg + 2, o->name) == 0)
                        return true;
                if (arg[1] != '-' && o->val > 0 && o->val < 0x80 && arg[1] == o->val && arg[2] == '\0')
                        return true;
        }
        return false;
}

/*
 * Move the options (with their values) of argv to its front, the other
 * arguments after them in their order, and return how many option elements
 * there are, or -ENOMEM. "-" and negative numbers are arguments, so is
 * everything after "--" (which is dropped: *argc goes down by one). Sorting
 * keeps the order within options and within arguments, so that getopt and
 * the command see it.
 */
static int ctl_sort_args(int *argc, char **argv, const struct option *options, bool floats) {
        char **opts, **args;
        int n_opts = 0, n_args = 0;
        bool only_args = false;

        opts = calloc((size_t) *argc, sizeof(*opts));
        args = calloc((size_t) *argc, sizeof(*args));
        if (!opts || !args) {
                free(opts);
                free(args);
                return -ENOMEM;
        }
        for (int i = 1; i < *argc; i++) {
                const char *a = argv[i];

                if (only_args || a[0] != '-' || a[1] == '\0' || is_negative_number(a, floats)) {
                        args[n_args++] = argv[i];
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        only_args = true;
                        continue;
                }
                opts[n_opts++] = argv[i];
                if (!strchr(a, '=') && option_takes_next(a, options) && i + 1 < *argc)
                        opts[n_opts++] = argv[++i];
        }
        memcpy(argv + 1, opts, (size_t) n_opts * sizeof(*argv));
        memcpy(argv + 1 + n_opts, args, (size_t) n_args * sizeof(*argv));
        *argc = 1 + n_opts + n_args;
        argv[*argc] = NULL;
        free(opts);
        free(args);
        return n_opts;
}

/* The slot of an option letter in struct ctl_args, or -1 for an option without a letter. */
static int letter_slot(int c) {
        if (c >= 'a' && c <= 'z')
                return c - 'a';
        if (c >= 'A' && c <= 'Z')
                return 26 + c - 'A';
        return -1;
}

bool ctl_given(const struct ctl_args *a, int c) {
        int slot = letter_slot(c);

        return slot >= 0 && (a->given & (UINT64_C(1) << slot));
}

const char *ctl_value(const struct ctl_args *a, int c) {
        int slot = letter_slot(c);

        return slot >= 0 ? a->value[slot] : NULL;
}

uint64_t ctl_number(const struct ctl_args *a, int c, uint64_t def) {
        int slot = letter_slot(c);

        return slot >= 0 && ctl_given(a, c) ? a->number[slot] : def;
}

/* The long name of the option whose short letter is c. */
static const char *option_name(const struct option *options, int c) {
        for (const struct option *o = options; o->name; o++)
                if (o->val == c)
                        return o->name;
        return "";
}

/* Take one option that getopt returned, with its value (NULL for a flag), into a. */
static int take_option(struct ctl *ctl, const struct ctl_syntax *s, void *userdata, int c, const char *arg,
                       struct ctl_args *a) {
        const char *name = option_name(s->options, c);
        int slot = letter_slot(c), r;

        /* CTL_OPTION_TIMEOUT; ls has a -t of its own, --type. */
        if (strcmp(name, "timeout") == 0)
                r = ctl_parse_timeout(ctl, arg, &a->timeout_ms);
        else if (slot >= 0 && s->numbers && strchr(s->numbers, c))
                r = ctl_parse_u64(ctl, name, arg, &a->number[slot]);
        else
                r = s->option ? s->option(ctl, c, arg, userdata) : CTL_EXIT_OK;
        if (r != CTL_EXIT_OK || slot < 0)
                return r;
        a->given |= UINT64_C(1) << slot;
        if (arg)
                a->value[slot] = arg;
        return CTL_EXIT_OK;
}

/* The checks are the ones every command makes: how many arguments, then the name. */
int ctl_parse_name(struct ctl *ctl, int min, int max, struct ctl_args *a) {
        int r;

        r = ctl_check_args(ctl, a->n, 1 + min, max < 0 ? -1 : 1 + max);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, a->pos[0]);
        if (r != CTL_EXIT_OK)
                return r;
        a->name = a->pos[0];
        a->pos++;
        a->n--;
        return CTL_EXIT_OK;
}

/* Options first, in argv's order, so that the first mistake is the one reported; then the arguments. */
int ctl_parse(struct ctl *ctl, int argc, char **argv, const struct ctl_syntax *s, void *userdata,
              struct ctl_args *ret) {
        int n_opts = -1, first, c, r;

        *ret = (struct ctl_args) { .timeout_ms = -1 };
        if (s->flags & CTL_ARGS_NEGATIVE) {
                n_opts = ctl_sort_args(&argc, argv, s->options, s->flags & CTL_ARGS_FLOATS);
                if (n_opts < 0) {
                        ctl_error("out of memory");
                        return CTL_EXIT_FAILED;
                }
        }
        /* Sorted, getopt sees the options only; the arguments follow them. */
        while ((c = ctl_getopt(ctl, n_opts < 0 ? argc : 1 + n_opts, argv, s->options)) >= 0) {
                r = take_option(ctl, s, userdata, c, optarg, ret);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        first = n_opts < 0 ? optind : 1 + n_opts;
        ret->pos = argv + first;
        ret->n = argc - first;
        if (s->flags & CTL_ARGS_NO_NAME)
                r = ctl_check_args(ctl, ret->n, 0, 0);
        else if (s->flags & CTL_ARGS_RAW)
                r = CTL_EXIT_OK;
        else
                r = ctl_parse_name(ctl, s->min, s->max, ret);
        if (r == CTL_EXIT_OK && (s->flags & CTL_ARGS_CONNECT))
                r = ctl_connect(ctl);
        return r;
}

int ctl_parse_args(struct ctl *ctl, int argc, char **argv, const struct option *options, unsigned flags, int min,
                   int max, struct ctl_args *ret) {
        const struct ctl_syntax syntax = { .options = options, .flags = flags, .min = min, .max = max };

        return ctl_parse(ctl, argc, argv, &syntax, NULL, ret);
}

/* The dict and list commands read their arguments alike, so that a script can switch between them. */
int ctl_parse_sorted(struct ctl *ctl, int argc, char **argv, const struct option *options, int min, int max,
                     struct ctl_args *ret) {
        return ctl_parse_args(ctl, argc, argv, options, CTL_ARGS_NEGATIVE | CTL_ARGS_CONNECT, min, max, ret);
}

int ctl_arg_i64(struct ctl *ctl, const struct ctl_args *a, int k, const char *what, int64_t *ret) {
        return a->n > k ? ctl_parse_i64(ctl, what, a->pos[k], ret) : CTL_EXIT_OK;
}

int ctl_parse_items(struct ctl *ctl, int argc, char **argv, struct ctl_args *a, struct iovec **ret_items,
                    size_t *ret_n, char **ret_input) {
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, 0, -1, a);
        return r != CTL_EXIT_OK ? r : ctl_items_arg(a->pos, a->n, ret_items, ret_n, ret_input);
}

/* Split what was read into lines, the last one with or without its newline, each NUL-terminated. */
static int split_lines(char *input, size_t size, struct iovec **ret_items, size_t *ret_n) {
        struct iovec *items = NULL;
        size_t n = 0, cap = 0;

        for (char *p = input, *end = input + size; p < end;) {
                char *nl = memchr(p, '\n', (size_t) (end - p));

                if (n == cap) {
                        struct iovec *more = realloc(items, (cap = cap ? cap * 2 : 64) * sizeof(*items));

                        if (!more) {
                                free(items);
                                return -ENOMEM;
                        }
                        items = more;
                }
                items[n++] = (struct iovec) { .iov_base = p, .iov_len = (size_t) ((nl ? nl : end) - p) };
                /* input has room for one byte more than it holds. */
                *(nl ? nl : end) = '\0';
                p = nl ? nl + 1 : end;
        }
        *ret_items = items;
        *ret_n = n;
        return 0;
}

/* "list extend" and "dict update" read their items alike, from the arguments or from stdin. */
int ctl_items_arg(char **args, int n_args, struct iovec **ret_items, size_t *ret_n, char **ret_input) {
        struct iovec *items;
        size_t size;
        int r;

        *ret_input = NULL;
        if (n_args > 0 && !(n_args == 1 && strcmp(args[0], "-") == 0)) {
                items = calloc((size_t) n_args, sizeof(*items));
                if (!items) {
                        ctl_error("out of memory");
                        return CTL_EXIT_FAILED;
                }
                for (int i = 0; i < n_args; i++)
                        items[i] = (struct iovec) { .iov_base = args[i], .iov_len = strlen(args[i]) };
                *ret_items = items;
                *ret_n = (size_t) n_args;
                return CTL_EXIT_OK;
        }
        r = ctl_read_stdin(SIZE_MAX / 4, ret_input, &size);
        if (r < 0) {
                ctl_error("cannot read stdin: %s", strerror(-r));
                return CTL_EXIT_FAILED;
        }
        if (split_lines(*ret_input, size, ret_items, ret_n) < 0) {
                ctl_error("out of memory");
                free(*ret_input);
                *ret_input = NULL;
                return CTL_EXIT_FAILED;
        }
        return CTL_EXIT_OK;
}

/* queue put, dict set and list append take a payload alike. */
int ctl_payload(struct ctl *ctl, const char *what, const char *name, const char *arg, struct ctl_payload *ret) {
        int r;

        *ret = (struct ctl_payload) { .data = arg, .size = arg ? strlen(arg) : 0 };
        if (arg)
                return CTL_EXIT_OK;
        r = ctl_read_stdin(mpx_max_message(ctl->m), &ret->input, &ret->size);
        if (r == -EMSGSIZE)
                return ctl_fail(r, what, name, NULL);
        if (r < 0) {
                ctl_error("cannot read stdin: %s", strerror(-r));
                return CTL_EXIT_FAILED;
        }
        ret->data = ret->input ? ret->input : "";
        return CTL_EXIT_OK;
}

/* The dict and list commands take a payload the same way, so that a script can switch between them. */
int ctl_payload_of(struct ctl *ctl, const char *what, const struct ctl_args *a, int k, struct ctl_payload *ret) {
        const char *arg = a->n > k && strcmp(a->pos[k], "-") != 0 ? a->pos[k] : NULL;

        return ctl_payload(ctl, what, a->name, arg, ret);
}

int ctl_parse_payload(struct ctl *ctl, int argc, char **argv, const char *what, int k, struct ctl_args *a,
                      struct ctl_payload *ret) {
        int r;

        r = ctl_parse_sorted(ctl, argc, argv, ctl_no_options, k, k + 1, a);
        return r != CTL_EXIT_OK ? r : ctl_payload_of(ctl, what, a, k, ret);
}

void ctl_payload_done(struct ctl_payload *p) {
        free(p->input);
        *p = (struct ctl_payload) { 0 };
}

/* sem run, pool start and pipe open stop reading options where COMMAND starts. */
int ctl_split_command(int argc, char **argv, const struct option *options, int *ret_first) {
        bool have_name = false;

        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];

                if (strcmp(s, "--") == 0) {
                        *ret_first = i + 1;
                        return i;
                }
                if (s[0] == '-' && s[1] != '\0') {
                        if (option_takes_next(s, options))
                                i++;
                        continue;
                }
                if (have_name) {
                        *ret_first = i;
                        return i;
                }
                have_name = true;
        }
        *ret_first = argc;
        return argc;
}
