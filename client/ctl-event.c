/* SPDX-License-Identifier: MIT */
/*
 * mpxctl event (declare, set, clear, is-set, wait) and mpxctl barrier
 * (declare, wait, reset, abort), one libmpx call each.
 *
 * Neither holds anything for its connection, so unlike a semaphore's unit
 * nothing is undone when mpxctl exits: a set event stays set, and a barrier
 * round that "barrier wait" completed stays completed. A "barrier wait" that
 * is interrupted while it waits (Ctrl-C) closes its connection, which breaks
 * the barrier for the other parties, as a party that dies does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mpxctl.h"

/* Parse "COMMAND NAME" with options (--timeout, --parties), then connect. */
static int sync_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, struct ctl_args *a) {
        const struct ctl_syntax syntax = { .options = options, .flags = CTL_ARGS_CONNECT, .numbers = "p" };

        return ctl_parse(ctl, argc, argv, &syntax, NULL, a);
}

/* mpxctl event declare|set|clear NAME and mpxctl barrier reset|abort NAME */
static int sync_call_cmd(struct ctl *ctl, int argc, char **argv) {
        static const struct {
                const char *cmd;
                int (*call)(mpx *m, const char *name);
        } calls[] = {
                { "declare", mpx_event_declare }, { "set", mpx_event_set }, { "clear", mpx_event_clear },
                { "reset", mpx_barrier_reset }, { "abort", mpx_barrier_abort },
        };
        size_t i = 0;

        /* The names are unique across both groups; barrier declare is a command of its own. */
        while (i < ARRAY_SIZE(calls) - 1 && !ctl_is(ctl, calls[i].cmd))
                i++;
        return ctl_call_cmd(ctl, argc, argv, calls[i].call);
}

/* ---- events ---- */

/* mpxctl event is-set NAME: prints 1 or 0. */
static int event_is_set(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int r;

        r = sync_parse(ctl, argc, argv, ctl_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_event_is_set(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "event", a.name, NULL);
        if (ctl->json) {
                ctl_json_name(a.name);
                printf(",\"set\":%s}\n", r ? "true" : "false");
        } else
                printf("%d\n", r);
        return CTL_EXIT_OK;
}

/*
 * mpxctl event wait NAME [--timeout S] and mpxctl barrier wait NAME
 * [--timeout S]; a barrier's prints the arrival index.
 */
static int sync_wait_cmd(struct ctl *ctl, int argc, char **argv) {
        bool event = strcmp(ctl->group, "event") == 0;
        struct ctl_args a;
        int r;

        r = sync_parse(ctl, argc, argv, ctl_timeout_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (event) {
                r = mpx_event_wait(ctl->m, a.name, a.timeout_ms);
                return ctl_status(r, "event", a.name, r == -EAGAIN ? "event is not set" : NULL);
        }
        r = mpx_barrier_wait(ctl->m, a.name, a.timeout_ms);
        if (r == -EAGAIN)
                return ctl_fail(r, "barrier", a.name, "not the last party (and --timeout 0)");
        if (r == -ETIMEDOUT)
                return ctl_fail(r, "barrier", a.name, "timed out; the barrier is now broken");
        return ctl_print_count(ctl, "barrier", a.name, "index", r);
}

const struct ctl_command ctl_event_commands[] = {
        { "declare", "NAME", "create an event, initially clear, or check that it exists",
          sync_call_cmd, NULL },
        { "set", "NAME", "set the flag and wake every waiter", sync_call_cmd, NULL },
        { "clear", "NAME", "clear the flag", sync_call_cmd, NULL },
        { "is-set", "NAME", "print 1 if the flag is set, 0 if not", event_is_set, NULL },
        { "wait", "NAME [--timeout S]", "wait until the flag is set", sync_wait_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};

/* ---- barriers ---- */

/* mpxctl barrier declare NAME --parties N */
static int barrier_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "parties", required_argument, NULL, 'p' },
                CTL_OPTIONS_COMMON
        };
        struct ctl_args a;
        uint64_t parties;
        int r;

        r = sync_parse(ctl, argc, argv, options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (!ctl_given(&a, 'p'))
                return ctl_usage_error(ctl, "missing --parties");
        parties = ctl_number(&a, 'p', 0);
        if (parties == 0 || parties > UINT32_MAX)
                return ctl_usage_error(ctl, "parties must be from 1 to %" PRIu32, UINT32_MAX);
        return ctl_status(mpx_barrier_declare(ctl->m, a.name, (uint32_t) parties), "barrier", a.name, NULL);
}

const struct ctl_command ctl_barrier_commands[] = {
        { "declare", "NAME --parties N", "create a barrier for N parties, or check that it exists so",
          barrier_declare, NULL },
        { "wait", "NAME [--timeout S]", "wait until every party waits, then print this arrival's index",
          sync_wait_cmd, NULL },
        { "reset", "NAME", "make the barrier whole and empty; parties waiting get an error", sync_call_cmd,
          NULL },
        { "abort", "NAME", "break the barrier: parties waiting and later waits get an error", sync_call_cmd,
          NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
