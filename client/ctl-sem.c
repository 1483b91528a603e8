/* SPDX-License-Identifier: MIT */
/*
 * mpxctl sem: declare, acquire, release and value on semaphores and locks,
 * one libmpx call each, and run, which holds one unit while a command runs,
 * as flock(1) does with a file lock.
 *
 * mpxctl ends right after each command, and the daemon gives back the units
 * a closing connection holds (SEM_UNDO, the default). So "sem acquire" only
 * keeps its unit on a semaphore declared --no-undo, and says so on stderr
 * otherwise (and releases it before exiting, so that its closing is not
 * taken for a holder that died); "sem run" is the way to hold a unit from
 * the shell.
 *
 * An acquire answered -EOWNERDEAD took its unit, and a previous holder died
 * holding the semaphore: both commands warn on stderr and go on, and
 * "sem run" tells COMMAND through MPX_OWNER_DEAD=1 in its environment.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpxctl.h"

/* The arguments of a sem command; options a command does not take keep their defaults. */
struct sem_args {
        const char *name;               /* NAME, checked */
        int64_t timeout_ms;             /* --timeout, default forever */
        uint64_t value;                 /* --value, default 1 */
        uint64_t max;                   /* --max */
        bool value_set, max_set, bounded, lock, no_undo, durable;
};

/*
 * Parse "COMMAND NAME" with options into *a, without connecting. argc may
 * end before argv does (sem run stops at its COMMAND). CTL_EXIT_OK, or what
 * the command returns at once.
 */
static int sem_parse_args(struct ctl *ctl, int argc, char **argv, const struct option *options,
                          struct sem_args *a) {
        int c, r;

        *a = (struct sem_args) { .timeout_ms = -1, .value = 1 };
        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                switch (c) {
                case 't':
                        r = ctl_parse_timeout(ctl, optarg, &a->timeout_ms);
                        if (r != CTL_EXIT_OK)
                                return r;
                        break;
                case 'v':
                        r = ctl_parse_u64(ctl, "value", optarg, &a->value);
                        if (r != CTL_EXIT_OK)
                                return r;
                        a->value_set = true;
                        break;
                case 'm':
                        r = ctl_parse_u64(ctl, "max", optarg, &a->max);
                        if (r != CTL_EXIT_OK)
                                return r;
                        a->max_set = true;
                        break;
                case 'b':
                        a->bounded = true;
                        break;
                case 'l':
                        a->lock = true;
                        break;
                case 'n':
                        a->no_undo = true;
                        break;
                case 'D':
                        a->durable = true;
                        break;
                }
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, 1);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        a->name = argv[optind];
        return CTL_EXIT_OK;
}

/* Parse "COMMAND NAME" with options into *a, then connect. */
static int sem_parse(struct ctl *ctl, int argc, char **argv, const struct option *options,
                     struct sem_args *a) {
        int r = sem_parse_args(ctl, argc, argv, options, a);

        return r != CTL_EXIT_OK ? r : ctl_connect(ctl);
}

/* The options of a command that has none of its own. */
static const struct option sem_no_options[] = { CTL_OPTIONS_COMMON };

/* The options of a command that waits. */
static const struct option sem_timeout_options[] = {
        { "timeout", required_argument, NULL, 't' },
        CTL_OPTIONS_COMMON
};

/* mpxctl sem declare NAME [--value N] [--max N | --bounded | --lock] [--no-undo] [--durable] */
static int sem_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "value", required_argument, NULL, 'v' },
                { "max", required_argument, NULL, 'm' },
                { "bounded", no_argument, NULL, 'b' },
                { "lock", no_argument, NULL, 'l' },
                { "no-undo", no_argument, NULL, 'n' },
                { "durable", no_argument, NULL, 'D' },
                CTL_OPTIONS_COMMON
        };
        struct sem_args a;
        unsigned flags = 0;
        uint64_t max = 0;
        int r;

        r = sem_parse(ctl, argc, argv, options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.lock && (a.value_set || a.max_set || a.bounded))
                return ctl_usage_error(ctl, "--lock is a value of 1 bounded at 1: "
                                       "give it without --value, --max and --bounded");
        if (a.max_set && a.bounded)
                return ctl_usage_error(ctl, "--bounded is --max of the initial value: give one of them");
        if (a.lock) {
                a.value = 1;
                a.bounded = true;
        }
        if (a.max_set) {
                if (a.max < a.value)
                        return ctl_usage_error(ctl, "max %" PRIu64 " is below the value %" PRIu64,
                                               a.max, a.value);
                max = a.max;
                flags |= MPX_SEM_BOUNDED;
        } else if (a.bounded) {
                max = a.value;
                flags |= MPX_SEM_BOUNDED;
        }
        if ((flags & MPX_SEM_BOUNDED) && max == 0)
                return ctl_usage_error(ctl, "a bounded semaphore needs a max of 1 or more");
        if (a.no_undo)
                flags |= MPX_SEM_NO_UNDO;
        if (a.durable)
                flags |= MPX_DURABLE;
        r = mpx_sem_declare(ctl->m, a.name, a.value, max, flags);
        if (r == -EINVAL)
                return ctl_fail(r, "semaphore", a.name, "value or max out of range");
        if (r < 0)
                return ctl_fail(r, "semaphore", a.name, NULL);
        return CTL_EXIT_OK;
}

/* 1 if the semaphore gives units back when a connection closes, 0 if not, or a negative errno. */
static int sem_has_undo(mpx *m, const char *name) {
        mpx_info info = { 0 };
        const mpx_field *f;
        int r;

        r = mpx_object_info(m, name, &info);
        if (r < 0)
                return r;
        f = mpx_info_get(&info, "undo");
        r = f && !f->is_str && f->num != 0;
        mpx_info_clear(&info);
        return r;
}

/*
 * Acquire one unit: 0 or -EOWNERDEAD (held either way; the latter is said on
 * stderr), else a negative errno with nothing held.
 */
static int sem_acquire_warn(struct ctl *ctl, const char *name, int64_t timeout_ms) {
        int r = mpx_sem_acquire(ctl->m, name, timeout_ms);

        if (r == -EOWNERDEAD)
                ctl_error("warning: semaphore '%s': a previous holder died holding it; "
                          "what it guards may have been left half-done", name);
        return r;
}

/* mpxctl sem acquire NAME [--timeout S]: meaningful on a --no-undo semaphore only. */
static int sem_acquire(struct ctl *ctl, int argc, char **argv) {
        struct sem_args a;
        int undo, r;

        r = sem_parse(ctl, argc, argv, sem_timeout_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        /* A missing semaphore or another type is reported by the acquire itself. */
        undo = sem_has_undo(ctl->m, a.name);
        if (undo > 0)
                ctl_error("warning: semaphore '%s' gives units back when a connection closes (SEM_UNDO), "
                          "so the unit acquired now is released when mpxctl exits; "
                          "use 'mpxctl sem run' or a semaphore declared --no-undo", a.name);
        r = sem_acquire_warn(ctl, a.name, a.timeout_ms);
        if (r < 0 && r != -EOWNERDEAD)
                return ctl_fail(r, "semaphore", a.name, r == -EAGAIN ? "no unit free" : NULL);
        /* Give it back as a release, not as a holder that died. */
        if (undo > 0) {
                r = mpx_sem_release(ctl->m, a.name);
                if (r < 0 && r != -ENOENT && r != -EIDRM)
                        return ctl_fail(r, "semaphore", a.name, NULL);
        }
        return CTL_EXIT_OK;
}

/* mpxctl sem release NAME */
static int sem_release(struct ctl *ctl, int argc, char **argv) {
        struct sem_args a;
        int r;

        r = sem_parse(ctl, argc, argv, sem_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_sem_release(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "semaphore", a.name,
                                r == -ERANGE ? "already at its maximum (released too many times)" : NULL);
        return CTL_EXIT_OK;
}

/* mpxctl sem value NAME: the units free now. */
static int sem_value(struct ctl *ctl, int argc, char **argv) {
        struct sem_args a;
        int64_t v;
        int r;

        r = sem_parse(ctl, argc, argv, sem_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        v = mpx_sem_value(ctl->m, a.name);
        if (v < 0)
                return ctl_fail((int) v, "semaphore", a.name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"value\":%" PRId64 "}\n", v);
        } else
                printf("%" PRId64 "\n", v);
        return CTL_EXIT_OK;
}

/* ---- sem run ---- */

/* The child running COMMAND, for the signal handler; 0 when there is none. */
static volatile sig_atomic_t run_child;

/* SIGTERM or SIGHUP to mpxctl: pass it on to COMMAND and keep holding the unit until it ends. */
static void run_forward(int sig) {
        if (run_child > 0)
                kill((pid_t) run_child, sig);
}

/*
 * Where the options of "sem run" end: the index of "--", or of the first
 * argument after NAME (which starts COMMAND), or argc. Options that take a
 * value are skipped with it, so that "--timeout 5" is not taken for NAME.
 */
static int run_split(int argc, char **argv) {
        bool have_name = false;

        for (int i = 1; i < argc; i++) {
                const char *s = argv[i];

                if (strcmp(s, "--") == 0)
                        return i;
                if (s[0] == '-' && s[1] != '\0') {
                        if (strcmp(s, "--timeout") == 0 || strcmp(s, "-t") == 0)
                                i++;
                        continue;
                }
                if (have_name)
                        return i;
                have_name = true;
        }
        return argc;
}

/*
 * Fork and exec COMMAND, wait for it: its exit status (128 + signal), or -1
 * when it could not start. MPX_OWNER_DEAD=1 is in its environment when
 * owner_dead, and absent otherwise.
 */
static int run_command(char **cmd, bool owner_dead) {
        struct sigaction fwd = { .sa_handler = run_forward }, ign = { .sa_handler = SIG_IGN };
        struct sigaction old_int, old_quit, old_term, old_hup;
        int status, ret;
        pid_t pid;

        sigemptyset(&fwd.sa_mask);
        sigemptyset(&ign.sa_mask);
        fflush(NULL);
        /*
         * While COMMAND runs, mpxctl waits for it like system(3): Ctrl-C and
         * Ctrl-\ reach COMMAND from the terminal, and mpxctl outlives it to
         * release the unit. SIGTERM and SIGHUP are passed on to it.
         */
        sigaction(SIGINT, &ign, &old_int);
        sigaction(SIGQUIT, &ign, &old_quit);
        sigaction(SIGTERM, &fwd, &old_term);
        sigaction(SIGHUP, &fwd, &old_hup);
        pid = fork();
        if (pid < 0) {
                ctl_error("cannot fork: %s", strerror(errno));
                ret = -1;
                goto out;
        }
        if (pid == 0) {
                sigaction(SIGINT, &old_int, NULL);
                sigaction(SIGQUIT, &old_quit, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                sigaction(SIGHUP, &old_hup, NULL);
                if (owner_dead)
                        setenv("MPX_OWNER_DEAD", "1", 1);
                else
                        unsetenv("MPX_OWNER_DEAD");
                execvp(cmd[0], cmd);
                ret = errno;
                ctl_error("cannot run '%s': %s", cmd[0], strerror(ret));
                _exit(ret == ENOENT ? 127 : 126);
        }
        run_child = pid;
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        ctl_error("cannot wait for '%s': %s", cmd[0], strerror(errno));
                        ret = -1;
                        goto out;
                }
        }
        ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
        run_child = 0;
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGQUIT, &old_quit, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        sigaction(SIGHUP, &old_hup, NULL);
        return ret;
}

/* mpxctl sem run NAME [--timeout S] -- COMMAND [ARGS...]: hold one unit while COMMAND runs. */
static int sem_run(struct ctl *ctl, int argc, char **argv) {
        struct sem_args a;
        int split = run_split(argc, argv), first, status, r;
        char **cmd;

        first = split < argc && strcmp(argv[split], "--") == 0 ? split + 1 : split;
        /* Only what comes before COMMAND is mpxctl's. */
        r = sem_parse_args(ctl, split, argv, sem_timeout_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (first >= argc)
                return ctl_usage_error(ctl, "missing COMMAND");
        cmd = argv + first;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;

        r = sem_acquire_warn(ctl, a.name, a.timeout_ms);
        if (r < 0 && r != -EOWNERDEAD)
                return ctl_fail(r, "semaphore", a.name, r == -EAGAIN ? "no unit free" : NULL);
        status = run_command(cmd, r == -EOWNERDEAD);
        /*
         * Give the unit back now rather than when the connection closes, so
         * that a --no-undo semaphore gets it back too. If the daemon went
         * away meanwhile there is nothing left to give back to.
         */
        r = mpx_sem_release(ctl->m, a.name);
        if (r < 0 && r != -ECONNRESET && r != -ENOENT && r != -EIDRM)
                (void) ctl_fail(r, "semaphore", a.name, NULL);
        if (status < 0)
                return CTL_EXIT_FAILED;
        return status;
}

const struct ctl_command ctl_sem_commands[] = {
        { "declare", "NAME [--value N] [--max N | --bounded | --lock] [--no-undo] [--durable]",
          "create a semaphore (value 1 unless --value), or check that it exists so", sem_declare, NULL },
        { "acquire", "NAME [--timeout S]",
          "take a unit; kept after mpxctl exits only on a --no-undo semaphore", sem_acquire, NULL },
        { "release", "NAME", "give a unit back", sem_release, NULL },
        { "value", "NAME", "print the number of units free", sem_value, NULL },
        { "run", "NAME [--timeout S] -- COMMAND [ARGS...]",
          "hold a unit while COMMAND runs, and exit with its status", sem_run, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
