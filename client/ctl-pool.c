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

/* Parse "COMMAND NAME [ARG]" without options of its own; the caller connects. */
static int pool_parse_name(struct ctl *ctl, int argc, char **argv, struct ctl_args *a) {
        return ctl_parse_args(ctl, argc, argv, ctl_no_options, 0, 0, 1, a);
}

/* What "pool start" is given beyond NAME and COMMAND. */
struct pool_start_args {
        uint64_t workers;
        int restart;                    /* MPX_RESTART_* */
};

/* --workers N or --restart WHEN of "pool start". */
static int pool_start_option(struct ctl *ctl, int c, const char *arg, void *userdata) {
        struct pool_start_args *p = userdata;
        int r;

        if (c == 'w') {
                r = ctl_parse_u64(ctl, "number of workers", arg, &p->workers);
                if (r != CTL_EXIT_OK)
                        return r;
                if (p->workers == 0 || p->workers > 1024)
                        return ctl_usage_error(ctl, "--workers: expected 1 to 1024, got %s", arg);
        } else if (c == 'r') {
                if (strcmp(arg, "always") == 0)
                        p->restart = MPX_RESTART_ALWAYS;
                else if (strcmp(arg, "on-failure") == 0)
                        p->restart = MPX_RESTART_ON_FAILURE;
                else if (strcmp(arg, "never") == 0)
                        p->restart = MPX_RESTART_NEVER;
                else
                        return ctl_usage_error(ctl, "--restart: expected always, on-failure or never, "
                                               "got '%s'", arg);
        }
        return CTL_EXIT_OK;
}

/* Start the pool, with a relative COMMAND made absolute, since mpxd runs it from its own directory. */
static int pool_start_run(struct ctl *ctl, const char *name, const struct pool_start_args *p, char **argv, int n) {
        const char **cmd;
        char *abs = NULL;
        int started = 0, r;

        cmd = calloc((size_t) n + 1, sizeof(*cmd));
        if (!cmd) {
                ctl_error("out of memory");
                return CTL_EXIT_FAILED;
        }
        memcpy(cmd, argv, (size_t) n * sizeof(*cmd));
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
                started = mpx_pool_start(ctl->m, name, (uint32_t) p->workers, p->restart, cmd);
                r = ctl_status(started, "pool", name,
                               started == -ENOENT ? "COMMAND is not an executable file in mpxd's PATH" :
                               started == -EEXIST ? "a pool of that name runs another command or policy, "
                                                    "as another user, or is stopping" :
                               started == -EACCES ? "not yours, or mpxd cannot run workers as you (only "
                                                    "an mpxd that runs as root can; see its log)" : NULL);
        }
        if (r == CTL_EXIT_OK && ctl->json) {
                ctl_json_name(name);
                printf(",\"created\":%s}\n", started ? "true" : "false");
        }
        free(abs);
        free(cmd);
        return r;
}

/* mpxctl pool start NAME [--workers N] [--restart WHEN] -- COMMAND [ARGS...] */
static int pool_start(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "workers", required_argument, NULL, 'w' },
                { "restart", required_argument, NULL, 'r' },
                CTL_OPTIONS_COMMON
        };
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        struct pool_start_args p = {
                .workers = cpus > 0 && cpus <= 1024 ? (uint64_t) cpus : 1,
                .restart = MPX_RESTART_ON_FAILURE,
        };
        struct ctl_args a;
        int first, split, r;

        /* Only what comes before COMMAND is mpxctl's. */
        split = ctl_split_command(argc, argv, options, &first);
        r = ctl_parse(ctl, split, argv, &(struct ctl_syntax) { .options = options, .option = pool_start_option },
                      &p, &a);
        if (r == CTL_EXIT_DONE)
                fputs(pool_start_help, stdout);
        if (r != CTL_EXIT_OK)
                return r;
        if (first >= argc)
                return ctl_usage_error(ctl, "missing COMMAND");
        return pool_start_run(ctl, a.name, &p, argv + first, argc - first);
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

/* mpxctl pool ls [--sort FIELD] [--names] */
static int pool_ls(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "sort", required_argument, NULL, 'S' },
                { "names", no_argument, NULL, 'N' },
                CTL_OPTIONS_COMMON
        };
        static const struct ctl_listing ls = {
                "ls", options, CTL_OBJECTS, "pool", pool_columns, ARRAY_SIZE(pool_columns)
        };

        return ctl_list_cmd(ctl, argc, argv, &ls);
}

/* mpxctl pool info NAME */
static int pool_info(struct ctl *ctl, int argc, char **argv) {
        return ctl_info_cmd(ctl, argc, argv, "pool", "pool");
}

/* mpxctl pool scale NAME N */
static int pool_scale(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        uint64_t n;
        int r;

        r = pool_parse_name(ctl, argc, argv, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n < 1)
                return ctl_usage_error(ctl, "missing the number of workers");
        r = ctl_parse_u64(ctl, "number of workers", a.pos[0], &n);
        if (r != CTL_EXIT_OK)
                return r;
        if (n > 1024)
                return ctl_usage_error(ctl, "expected 0 to 1024 workers, got %s", a.pos[0]);
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pool_scale(ctl->m, a.name, (uint32_t) n);
        return ctl_status(r, "pool", a.name, r == -EINVAL ? "the pool is stopping" : NULL);
}

/* mpxctl pool signal NAME SIG: print how many workers were signalled. */
static int pool_signal(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int r, sig;

        r = pool_parse_name(ctl, argc, argv, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n < 1)
                return ctl_usage_error(ctl, "missing the signal");
        sig = parse_signal(a.pos[0]);
        if (sig < 0)
                return ctl_usage_error(ctl, "unknown signal '%s' (a name such as TERM or HUP, or a number)",
                                       a.pos[0]);
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pool_signal(ctl->m, a.name, sig);
        if (r < 0)
                return ctl_fail(r, "pool", a.name, NULL);
        if (ctl->json) {
                ctl_json_name(a.name);
                printf(",\"signal\":%d,\"signalled\":%d}\n", sig, r);
        } else
                printf("%d\n", r);
        return CTL_EXIT_OK;
}

/* --grace S of "pool stop". */
static int pool_grace_option(struct ctl *ctl, int c, const char *arg, void *userdata) {
        return ctl_parse_timeout(ctl, arg, userdata);
}

/* mpxctl pool stop NAME [--grace S]: returns once every worker has exited. */
static int pool_stop(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "grace", required_argument, NULL, 'g' },
                CTL_OPTIONS_COMMON
        };
        int64_t grace_ms = POOL_STOP_GRACE_MS;
        struct ctl_args a;
        int r;

        r = ctl_parse(ctl, argc, argv,
                      &(struct ctl_syntax) {
                              .options = options,
                              .flags = CTL_ARGS_CONNECT,
                              .option = pool_grace_option,
                      },
                      &grace_ms, &a);
        return r != CTL_EXIT_OK ? r : ctl_status(mpx_pool_stop(ctl->m, a.name, grace_ms), "pool", a.name, NULL);
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
