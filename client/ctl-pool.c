/* SPDX-License-Identifier: MIT */
/*
 * mpxctl pool: start, ls, info, scale, signal and stop pools of worker
 * processes that mpxd supervises, one libmpx call each.
 *
 * "pool start" sends COMMAND as given, with one exception: a relative path
 * with a slash (./worker) is made absolute here, since mpxd runs it from its
 * own working directory. "pool stop" returns once every worker has exited.
 * Whether the caller may do any of this is the daemon's decision (EACCES).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mpxctl.h"

/* The grace period of "pool stop" without --grace, in milliseconds. */
#define POOL_STOP_GRACE_MS 10000

/* The help that --help adds to "pool start". */
static const char pool_start_help[] =
        "\n"
        "Start NAME: mpxd runs COMMAND (looked up in mpxd's PATH; no shell) in N worker\n"
        "processes and keeps them running:\n"
        "  -w, --workers N     how many, 1 to 1024 (default: the number of CPUs)\n"
        "  -r, --restart WHEN  always, on-failure (the default) or never\n"
        "Put -- before COMMAND when it has options of its own. Workers find MPX_SOCKET,\n"
        "MPX_POOL and MPX_WORKER in their environment; their output goes to mpxd's log.\n"
        "A pool that runs the same command already is left as it is.\n";

/* Signals by name, for "pool signal"; numbers work too. */
static const struct {
        const char *name;
        int sig;
} signal_names[] = {
        { "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL }, { "TRAP", SIGTRAP },
        { "ABRT", SIGABRT }, { "BUS", SIGBUS }, { "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 },
        { "SEGV", SIGSEGV }, { "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
        { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP }, { "TSTP", SIGTSTP }, { "TTIN", SIGTTIN },
        { "TTOU", SIGTTOU }, { "URG", SIGURG }, { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM },
        { "PROF", SIGPROF }, { "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

/* A signal name (TERM, SIGTERM, term) or number: the signal, or -1. */
static int parse_signal(const char *s) {
        char *end;
        long v;

        if (strncasecmp(s, "SIG", 3) == 0)
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(signal_names); i++)
                if (strcasecmp(s, signal_names[i].name) == 0)
                        return signal_names[i].sig;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 1 || v >= NSIG)
                return -1;
        return (int) v;
}

/* Parse "COMMAND NAME [ARG]" with options (ARG when max_args is 2); the caller connects. */
static int pool_parse_name(struct ctl *ctl, int argc, char **argv, const struct option *options, int max_args,
                           const char **ret_name) {
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                ;
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, max_args);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        *ret_name = argv[optind];
        return CTL_EXIT_OK;
}

static const struct option pool_no_options[] = { CTL_OPTIONS_COMMON };

/*
 * Where the options of "pool start" end: the index of "--", or of the first
 * argument after NAME (which starts COMMAND), or argc. An option's value is
 * skipped with it, so that "--workers 4" is not taken for NAME.
 */
static int start_split(int argc, char **argv) {
        bool have_name = false;

        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];

                if (strcmp(s, "--") == 0)
                        return i;
                if (s[0] == '-' && s[1] != '\0') {
                        if (strcmp(s, "--workers") == 0 || strcmp(s, "-w") == 0 || strcmp(s, "--restart") == 0 ||
                            strcmp(s, "-r") == 0)
                                i++;
                        continue;
                }
                if (have_name)
                        return i;
                have_name = true;
        }
        return argc;
}

/* mpxctl pool start NAME [--workers N] [--restart WHEN] -- COMMAND [ARGS...] */
static int pool_start(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "workers", required_argument, NULL, 'w' },
                { "restart", required_argument, NULL, 'r' },
                CTL_OPTIONS_COMMON
        };
        int split = start_split(argc, argv), first, c, r, restart = MPX_RESTART_ON_FAILURE;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        uint64_t workers = cpus > 0 && cpus <= 1024 ? (uint64_t) cpus : 1;
        const char **cmd;
        char *abs = NULL;
        const char *name;

        first = split < argc && strcmp(argv[split], "--") == 0 ? split + 1 : split;
        /* Only what comes before COMMAND is mpxctl's. */
        while ((c = ctl_getopt(ctl, split, argv, options)) >= 0) {
                if (c == 'w') {
                        r = ctl_parse_u64(ctl, "number of workers", optarg, &workers);
                        if (r != CTL_EXIT_OK)
                                return r;
                        if (workers == 0 || workers > 1024)
                                return ctl_usage_error(ctl, "--workers: expected 1 to 1024, got %s", optarg);
                } else if (c == 'r') {
                        if (strcmp(optarg, "always") == 0)
                                restart = MPX_RESTART_ALWAYS;
                        else if (strcmp(optarg, "on-failure") == 0)
                                restart = MPX_RESTART_ON_FAILURE;
                        else if (strcmp(optarg, "never") == 0)
                                restart = MPX_RESTART_NEVER;
                        else
                                return ctl_usage_error(ctl, "--restart: expected always, on-failure or never, "
                                                       "got '%s'", optarg);
                }
        }
        if (c == CTL_GETOPT_STOP) {
                if (ctl->stop_status == CTL_EXIT_DONE)
                        fputs(pool_start_help, stdout);
                return ctl->stop_status;
        }
        r = ctl_check_args(ctl, split - optind, 1, 1);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        name = argv[optind];
        if (first >= argc)
                return ctl_usage_error(ctl, "missing COMMAND");
        cmd = calloc((size_t) (argc - first) + 1, sizeof(*cmd));
        if (!cmd) {
                ctl_error("out of memory");
                return CTL_EXIT_FAILED;
        }
        for (int i = first; i < argc; i++)
                cmd[i - first] = argv[i];
        if (cmd[0][0] != '/' && strchr(cmd[0], '/')) {
                abs = realpath(cmd[0], NULL);
                if (!abs) {
                        ctl_error("cannot find '%s': %s", cmd[0], strerror(errno));
                        free(cmd);
                        return CTL_EXIT_FAILED;
                }
                cmd[0] = abs;
        }
        r = ctl_connect(ctl);
        if (r == CTL_EXIT_OK) {
                int started = mpx_pool_start(ctl->m, name, (uint32_t) workers, restart, cmd);

                if (started == -ENOENT)
                        r = ctl_fail(started, "pool", name, "COMMAND is not an executable file in mpxd's PATH");
                else if (started == -EEXIST)
                        r = ctl_fail(started, "pool", name, "a pool of that name runs another command or policy, "
                                     "as another user, or is stopping");
                else if (started == -EACCES)
                        r = ctl_fail(started, "pool", name, "not yours, or mpxd cannot run workers as you (only "
                                     "an mpxd that runs as root can; see its log)");
                else if (started < 0)
                        r = ctl_fail(started, "pool", name, NULL);
                else if (ctl->json) {
                        fputs("{\"name\":", stdout);
                        ctl_json_string(name, strlen(name));
                        printf(",\"created\":%s}\n", started ? "true" : "false");
                }
        }
        free(abs);
        free(cmd);
        return r;
}

static const struct ctl_column pool_columns[] = {
        { "NAME", "name", CTL_CELL_TEXT },
        { "SIZE", "size", CTL_CELL_NUMBER },
        { "WORKERS", "workers", CTL_CELL_NUMBER },
        { "RESTART", "restart", CTL_CELL_TEXT },
        { "RESTARTS", "restarts", CTL_CELL_NUMBER },
        { "EXITS", "exits", CTL_CELL_NUMBER },
        { "WAITERS", "waiters", CTL_CELL_NUMBER },
        { "AGE", "age_ms", CTL_CELL_MS },
        { "COMMAND", "command", CTL_CELL_TEXT },
};

/* ctl_collect's page function: pools only. */
static int pool_page(mpx *m, uint64_t cursor, size_t max, const void *arg,
                     mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return mpx_list_objects(m, cursor, max, "pool", ret_items, ret_n, ret_next);
}

/* mpxctl pool ls [--sort FIELD] [--names] */
static int pool_ls(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "sort", required_argument, NULL, 'S' },
                { "names", no_argument, NULL, 'N' },
                CTL_OPTIONS_COMMON
        };
        const char *sort = NULL;
        bool names = false;
        mpx_info *all = NULL;
        size_t n_all = 0;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                if (c == 'S')
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
        r = ctl_collect(ctl, pool_page, NULL, &all, &n_all);
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
                ctl_print_table(pool_columns, ARRAY_SIZE(pool_columns), all, n_all);
        ctl_infos_free(all, n_all);
        return CTL_EXIT_OK;
}

/* mpxctl pool info NAME */
static int pool_info(struct ctl *ctl, int argc, char **argv) {
        const char *name = NULL;
        mpx_info info;
        int r;

        r = pool_parse_name(ctl, argc, argv, pool_no_options, 1, &name);
        if (r == CTL_EXIT_OK)
                r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_object_info(ctl->m, name, &info);
        if (r < 0)
                return ctl_fail(r, "pool", name, NULL);
        if (!info.type || strcmp(info.type, "pool") != 0) {
                mpx_info_clear(&info);
                return ctl_fail(-EPROTOTYPE, "pool", name, NULL);
        }
        if (ctl->json) {
                ctl_json_info(&info);
                putchar('\n');
        } else
                ctl_print_info(&info);
        mpx_info_clear(&info);
        return CTL_EXIT_OK;
}

/* mpxctl pool scale NAME N */
static int pool_scale(struct ctl *ctl, int argc, char **argv) {
        const char *name = NULL;
        uint64_t n;
        int r;

        r = pool_parse_name(ctl, argc, argv, pool_no_options, 2, &name);
        if (r != CTL_EXIT_OK)
                return r;
        if (argc - optind < 2)
                return ctl_usage_error(ctl, "missing the number of workers");
        r = ctl_parse_u64(ctl, "number of workers", argv[optind + 1], &n);
        if (r != CTL_EXIT_OK)
                return r;
        if (n > 1024)
                return ctl_usage_error(ctl, "expected 0 to 1024 workers, got %s", argv[optind + 1]);
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pool_scale(ctl->m, name, (uint32_t) n);
        if (r < 0)
                return ctl_fail(r, "pool", name, r == -EINVAL ? "the pool is stopping" : NULL);
        return CTL_EXIT_OK;
}

/* mpxctl pool signal NAME SIG: print how many workers were signalled. */
static int pool_signal(struct ctl *ctl, int argc, char **argv) {
        const char *name = NULL;
        int r, sig;

        r = pool_parse_name(ctl, argc, argv, pool_no_options, 2, &name);
        if (r != CTL_EXIT_OK)
                return r;
        if (argc - optind < 2)
                return ctl_usage_error(ctl, "missing the signal");
        sig = parse_signal(argv[optind + 1]);
        if (sig < 0)
                return ctl_usage_error(ctl, "unknown signal '%s' (a name such as TERM or HUP, or a number)",
                                       argv[optind + 1]);
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pool_signal(ctl->m, name, sig);
        if (r < 0)
                return ctl_fail(r, "pool", name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(name, strlen(name));
                printf(",\"signal\":%d,\"signalled\":%d}\n", sig, r);
        } else
                printf("%d\n", r);
        return CTL_EXIT_OK;
}

/* mpxctl pool stop NAME [--grace S]: returns once every worker has exited. */
static int pool_stop(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "grace", required_argument, NULL, 'g' },
                CTL_OPTIONS_COMMON
        };
        int64_t grace_ms = POOL_STOP_GRACE_MS;
        const char *name;
        int c, r;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0)
                if (c == 'g') {
                        r = ctl_parse_timeout(ctl, optarg, &grace_ms);
                        if (r != CTL_EXIT_OK)
                                return r;
                }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, 1);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        name = argv[optind];
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pool_stop(ctl->m, name, grace_ms);
        if (r < 0)
                return ctl_fail(r, "pool", name, NULL);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_pool_commands[] = {
        { "start", "NAME [--workers N] [--restart always|on-failure|never] -- COMMAND [ARGS...]",
          "start a pool of N workers running COMMAND, supervised by mpxd", pool_start, NULL },
        { "ls", "[--sort FIELD] [--names]", "list pools with their workers, restarts and commands", pool_ls, NULL },
        { "info", "NAME", "describe a pool: workers, pids, restarts, exits", pool_info, NULL },
        { "scale", "NAME N", "run N workers, starting or stopping some", pool_scale, NULL },
        { "signal", "NAME SIG", "send a signal (TERM, HUP, 10 ...) to every worker", pool_signal, NULL },
        { "stop", "NAME [--grace S]", "SIGTERM the workers, SIGKILL after S seconds (default 10), delete the pool",
          pool_stop, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
