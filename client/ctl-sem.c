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

/*
 * Parse "COMMAND NAME" with options into *a, connecting when connect is
 * set. argc may end before argv does (sem run stops at its COMMAND).
 * CTL_EXIT_OK, or what the command returns at once.
 */
static int sem_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, bool connect,
                     struct ctl_args *a) {
        return ctl_parse(ctl, argc, argv,
                         &(struct ctl_syntax) {
                                 .options = options,
                                 .flags = connect ? CTL_ARGS_CONNECT : 0,
                                 .numbers = "vm",
                         },
                         NULL, a);
}

/* The flags of "sem declare", from its options; a usage error when they do not go together. */
static int sem_declare_flags(struct ctl *ctl, const struct ctl_args *a, uint64_t *value, uint64_t *ret_max,
                             unsigned *ret_flags) {
        bool lock = ctl_given(a, 'l'), bounded = ctl_given(a, 'b') || lock, max_set = ctl_given(a, 'm');
        uint64_t max = max_set ? ctl_number(a, 'm', 0) : lock ? 1 : *value;

        if (lock && (ctl_given(a, 'v') || max_set || ctl_given(a, 'b')))
                return ctl_usage_error(ctl, "--lock is a value of 1 bounded at 1: "
                                       "give it without --value, --max and --bounded");
        if (max_set && bounded)
                return ctl_usage_error(ctl, "--bounded is --max of the initial value: give one of them");
        if (lock)
                *value = 1;
        if (max_set && max < *value)
                return ctl_usage_error(ctl, "max %" PRIu64 " is below the value %" PRIu64, max, *value);
        if ((max_set || bounded) && max == 0)
                return ctl_usage_error(ctl, "a bounded semaphore needs a max of 1 or more");
        *ret_max = max_set || bounded ? max : 0;
        *ret_flags = (max_set || bounded ? MPX_SEM_BOUNDED : 0) | (ctl_given(a, 'n') ? MPX_SEM_NO_UNDO : 0) |
                     (ctl_given(a, 'D') ? MPX_DURABLE : 0);
        return CTL_EXIT_OK;
}

/* mpxctl sem declare NAME [--value N] [--max N | --bounded | --lock] [--no-undo] [--durable] */
static int sem_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "value", required_argument, NULL, 'v' },
                { "max", required_argument, NULL, 'm' },
                { "bounded", no_argument, NULL, 'b' },
                { "lock", no_argument, NULL, 'l' },
                { "no-undo", no_argument, NULL, 'n' },
                CTL_OPTION_DURABLE,
                CTL_OPTIONS_COMMON
        };
        uint64_t value, max = 0;
        unsigned flags = 0;
        struct ctl_args a;
        int r;

        r = sem_parse(ctl, argc, argv, options, true, &a);
        if (r != CTL_EXIT_OK)
                return r;
        value = ctl_number(&a, 'v', 1);
        r = sem_declare_flags(ctl, &a, &value, &max, &flags);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_sem_declare(ctl->m, a.name, value, max, flags);
        return ctl_status(r, "semaphore", a.name, r == -EINVAL ? "value or max out of range" : NULL);
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
 * Acquire one unit: CTL_EXIT_OK with the unit held (*ret_owner_dead when a
 * previous holder died holding it, which is said on stderr), or the status
 * of a failure, with nothing held.
 */
static int sem_take(struct ctl *ctl, const struct ctl_args *a, bool *ret_owner_dead) {
        int r = mpx_sem_acquire(ctl->m, a->name, a->timeout_ms);

        *ret_owner_dead = r == -EOWNERDEAD;
        if (r == -EOWNERDEAD)
                ctl_error("warning: semaphore '%s': a previous holder died holding it; "
                          "what it guards may have been left half-done", a->name);
        else if (r < 0)
                return ctl_fail(r, "semaphore", a->name, r == -EAGAIN ? "no unit free" : NULL);
        return CTL_EXIT_OK;
}

/* mpxctl sem acquire NAME [--timeout S]: meaningful on a --no-undo semaphore only. */
static int sem_acquire(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        bool owner_dead;
        int undo, r;

        r = sem_parse(ctl, argc, argv, ctl_timeout_options, true, &a);
        if (r != CTL_EXIT_OK)
                return r;
        /* A missing semaphore or another type is reported by the acquire itself. */
        undo = sem_has_undo(ctl->m, a.name);
        if (undo > 0)
                ctl_error("warning: semaphore '%s' gives units back when a connection closes (SEM_UNDO), "
                          "so the unit acquired now is released when mpxctl exits; "
                          "use 'mpxctl sem run' or a semaphore declared --no-undo", a.name);
        r = sem_take(ctl, &a, &owner_dead);
        if (r != CTL_EXIT_OK || undo <= 0)
                return r;
        /* Give it back as a release, not as a holder that died. */
        r = mpx_sem_release(ctl->m, a.name);
        return ctl_status(r == -ENOENT || r == -EIDRM ? 0 : r, "semaphore", a.name, NULL);
}

/* mpxctl sem release NAME, and mpxctl sem value NAME: the units free now. */
static int sem_call_cmd(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int r;

        r = sem_parse(ctl, argc, argv, ctl_no_options, true, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl_is(ctl, "value"))
                return ctl_print_count(ctl, "semaphore", a.name, "value", mpx_sem_value(ctl->m, a.name));
        r = mpx_sem_release(ctl->m, a.name);
        return ctl_status(r, "semaphore", a.name, r == -ERANGE ? "already at its maximum (released too many times)"
                                                               : NULL);
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
 * Fork and exec COMMAND, wait for it: its exit status (128 + signal), or -1
 * when it could not start. MPX_OWNER_DEAD=1 is in its environment when
 * owner_dead, and absent otherwise.
 */
static int run_command(char **cmd, bool owner_dead) {
        /*
         * While COMMAND runs, mpxctl waits for it like system(3): Ctrl-C and
         * Ctrl-\ reach COMMAND from the terminal, and mpxctl outlives it to
         * release the unit. SIGTERM and SIGHUP are passed on to it.
         */
        static const struct {
                int sig;
                void (*handler)(int sig);
        } dispositions[] = {
                { SIGINT, SIG_IGN }, { SIGQUIT, SIG_IGN }, { SIGTERM, run_forward }, { SIGHUP, run_forward },
        };
        struct sigaction old[ARRAY_SIZE(dispositions)];
        int status, ret;
        pid_t pid;

        fflush(NULL);
        for (size_t i = 0; i < ARRAY_SIZE(dispositions); i++) {
                struct sigaction sa = { .sa_handler = dispositions[i].handler };

                sigemptyset(&sa.sa_mask);
                sigaction(dispositions[i].sig, &sa, &old[i]);
        }
        pid = fork();
        if (pid < 0) {
                ctl_error("cannot fork: %s", strerror(errno));
                ret = -1;
                goto out;
        }
        if (pid == 0) {
                for (size_t i = 0; i < ARRAY_SIZE(dispositions); i++)
                        sigaction(dispositions[i].sig, &old[i], NULL);
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
        for (size_t i = 0; i < ARRAY_SIZE(dispositions); i++)
                sigaction(dispositions[i].sig, &old[i], NULL);
        return ret;
}

/* mpxctl sem run NAME [--timeout S] -- COMMAND [ARGS...]: hold one unit while COMMAND runs. */
static int sem_run(struct ctl *ctl, int argc, char **argv) {
        int first, split, status, r;
        struct ctl_args a;
        bool owner_dead;

        /* Only what comes before COMMAND is mpxctl's. */
        split = ctl_split_command(argc, argv, ctl_timeout_options, &first);
        r = sem_parse(ctl, split, argv, ctl_timeout_options, false, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (first >= argc)
                return ctl_usage_error(ctl, "missing COMMAND");
        r = ctl_connect(ctl);
        if (r == CTL_EXIT_OK)
                r = sem_take(ctl, &a, &owner_dead);
        if (r != CTL_EXIT_OK)
                return r;
        status = run_command(argv + first, owner_dead);
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
        { "release", "NAME", "give a unit back", sem_call_cmd, NULL },
        { "value", "NAME", "print the number of units free", sem_call_cmd, NULL },
        { "run", "NAME [--timeout S] -- COMMAND [ARGS...]",
          "hold a unit while COMMAND runs, and exit with its status", sem_run, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
