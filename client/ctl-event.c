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

/* The arguments of an event or barrier command. */
struct sync_args {
        const char *name;               /* NAME, checked */
        int64_t timeout_ms;             /* --timeout, default forever */
        uint64_t parties;               /* --parties */
        bool parties_set;
};

/*
 * Parse "COMMAND NAME" with options into *a, then connect. CTL_EXIT_OK, or
 * what the command returns at once.
 */
static int sync_parse(struct ctl *ctl, int argc, char **argv, const struct option *options,
                      struct sync_args *a) {
        int c, r;

        *a = (struct sync_args) { .timeout_ms = -1 };
        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                switch (c) {
                case 't':
                        r = ctl_parse_timeout(ctl, optarg, &a->timeout_ms);
                        if (r != CTL_EXIT_OK)
                                return r;
                        break;
                case 'p':
                        r = ctl_parse_u64(ctl, "parties", optarg, &a->parties);
                        if (r != CTL_EXIT_OK)
                                return r;
                        a->parties_set = true;
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
        return ctl_connect(ctl);
}

/* The options of a command that has none of its own. */
static const struct option sync_no_options[] = { CTL_OPTIONS_COMMON };

/* The options of a command that waits. */
static const struct option sync_timeout_options[] = {
        { "timeout", required_argument, NULL, 't' },
        CTL_OPTIONS_COMMON
};

/* ---- events ---- */

/* mpxctl event declare NAME */
static int event_declare(struct ctl *ctl, int argc, char **argv) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_event_declare(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "event", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl event set|clear NAME */
static int event_set_or_clear(struct ctl *ctl, int argc, char **argv, int (*op)(mpx *, const char *)) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = op(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "event", a.name, NULL);
        return CTL_EXIT_OK;
}

static int event_set(struct ctl *ctl, int argc, char **argv) {
        return event_set_or_clear(ctl, argc, argv, mpx_event_set);
}

static int event_clear(struct ctl *ctl, int argc, char **argv) {
        return event_set_or_clear(ctl, argc, argv, mpx_event_clear);
}

/* mpxctl event is-set NAME: prints 1 or 0. */
static int event_is_set(struct ctl *ctl, int argc, char **argv) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_event_is_set(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "event", a.name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"set\":%s}\n", r ? "true" : "false");
        } else
                printf("%d\n", r);
        return CTL_EXIT_OK;
}

/* mpxctl event wait NAME [--timeout S] */
static int event_wait(struct ctl *ctl, int argc, char **argv) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_timeout_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_event_wait(ctl->m, a.name, a.timeout_ms);
        if (r < 0)
                return ctl_fail(r, "event", a.name, r == -EAGAIN ? "event is not set" : NULL);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_event_commands[] = {
        { "declare", "NAME", "create an event, initially clear, or check that it exists",
          event_declare, NULL },
        { "set", "NAME", "set the flag and wake every waiter", event_set, NULL },
        { "clear", "NAME", "clear the flag", event_clear, NULL },
        { "is-set", "NAME", "print 1 if the flag is set, 0 if not", event_is_set, NULL },
        { "wait", "NAME [--timeout S]", "wait until the flag is set", event_wait, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};

/* ---- barriers ---- */

/* mpxctl barrier declare NAME --parties N */
static int barrier_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "parties", required_argument, NULL, 'p' },
                CTL_OPTIONS_COMMON
        };
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (!a.parties_set)
                return ctl_usage_error(ctl, "missing --parties");
        if (a.parties == 0 || a.parties > UINT32_MAX)
                return ctl_usage_error(ctl, "parties must be from 1 to %" PRIu32, UINT32_MAX);
        r = mpx_barrier_declare(ctl->m, a.name, (uint32_t) a.parties);
        if (r < 0)
                return ctl_fail(r, "barrier", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl barrier wait NAME [--timeout S]: prints the arrival index. */
static int barrier_wait(struct ctl *ctl, int argc, char **argv) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_timeout_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_barrier_wait(ctl->m, a.name, a.timeout_ms);
        if (r == -EAGAIN)
                return ctl_fail(r, "barrier", a.name, "not the last party (and --timeout 0)");
        if (r == -ETIMEDOUT)
                return ctl_fail(r, "barrier", a.name, "timed out; the barrier is now broken");
        if (r < 0)
                return ctl_fail(r, "barrier", a.name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"index\":%d}\n", r);
        } else
                printf("%d\n", r);
        return CTL_EXIT_OK;
}

/* mpxctl barrier reset|abort NAME */
static int barrier_reset_or_abort(struct ctl *ctl, int argc, char **argv, int (*op)(mpx *, const char *)) {
        struct sync_args a;
        int r;

        r = sync_parse(ctl, argc, argv, sync_no_options, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = op(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "barrier", a.name, NULL);
        return CTL_EXIT_OK;
}

static int barrier_reset(struct ctl *ctl, int argc, char **argv) {
        return barrier_reset_or_abort(ctl, argc, argv, mpx_barrier_reset);
}

static int barrier_abort(struct ctl *ctl, int argc, char **argv) {
        return barrier_reset_or_abort(ctl, argc, argv, mpx_barrier_abort);
}

const struct ctl_command ctl_barrier_commands[] = {
        { "declare", "NAME --parties N", "create a barrier for N parties, or check that it exists so",
          barrier_declare, NULL },
        { "wait", "NAME [--timeout S]", "wait until every party waits, then print this arrival's index",
          barrier_wait, NULL },
        { "reset", "NAME", "make the barrier whole and empty; parties waiting get an error", barrier_reset,
          NULL },
        { "abort", "NAME", "break the barrier: parties waiting and later waits get an error", barrier_abort,
          NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
