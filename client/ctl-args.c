/* SPDX-License-Identifier: MIT */
/*
 * mpxctl: commands whose arguments may come before their options. The dict
 * and list commands take negative numbers as arguments ("list get NAME -1",
 * "dict incr NAME KEY -5"), which getopt would read as options; so their
 * argv is sorted first, options in front, and getopt sees only those.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpxctl.h"

/* True if s is a negative decimal number, which is an argument and not an option. */
static bool is_negative_number(const char *s) {
        return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
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

/* Sorting keeps the order within options and within arguments, so that getopt and the command see it. */
int ctl_sort_args(int *argc, char **argv, const struct option *options) {
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

                if (only_args || a[0] != '-' || a[1] == '\0' || is_negative_number(a)) {
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

/* Every sorted command names an object first; the checks are the ones unsorted commands make. */
int ctl_sorted_name_args(struct ctl *ctl, int argc, char **argv, int n_opts, int min, int max,
                         const char **ret_name, char ***ret_pos, int *ret_n) {
        int r;

        r = ctl_check_args(ctl, argc - 1 - n_opts, 1 + min, max < 0 ? -1 : 1 + max);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[1 + n_opts]);
        if (r != CTL_EXIT_OK)
                return r;
        *ret_name = argv[1 + n_opts];
        *ret_pos = argv + 2 + n_opts;
        *ret_n = argc - 2 - n_opts;
        return CTL_EXIT_OK;
}
