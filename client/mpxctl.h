/* SPDX-License-Identifier: MIT */
/*
 * The inside of mpxctl, the admin CLI: the command table entry, the state a
 * command runs with, and the helpers every command file shares (option
 * parsing, error lines and exit statuses, number parsing, JSON output).
 *
 * mpxctl is built on libmpx's public API only. A command handler returns the
 * process's exit status (enum ctl_exit), never a negative errno: the helpers
 * below turn libmpx's errors into one line on stderr and a status.
 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpx.h"

#ifndef MPX_VERSION
#define MPX_VERSION "unknown"
#endif

#define CTL_PROGRAM "mpxctl"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit statuses, as documented in mpxctl(1). */
enum ctl_exit {
        CTL_EXIT_OK = 0,                /* done */
        CTL_EXIT_FAILED = 1,            /* the operation failed: empty, timed out, not found ... */
        CTL_EXIT_USAGE = 2,             /* unknown command or option, missing argument, bad number */
        CTL_EXIT_NO_DAEMON = 3,         /* no daemon reachable, or the connection was lost */

        /* Not an exit status: stop the command now and exit 0 (after --help). */
        CTL_EXIT_DONE = -1,
};

struct ctl;

/* One command, or a group of commands (such as queue) with a table of its own. */
struct ctl_command {
        const char *name;
        const char *usage;              /* what follows the name in a usage line */
        const char *summary;            /* one line for --help */
        int (*run)(struct ctl *ctl, int argc, char **argv);
        const struct ctl_command *group; /* sub-commands, ended by an entry without a name */
};

/* What a command runs with. */
struct ctl {
        const char *socket;             /* the socket path, resolved as libmpx would */
        bool json;                      /* --json */
        mpx *m;                         /* NULL until ctl_connect() */
        const char *group;              /* "queue" for queue commands, else NULL */
        const struct ctl_command *cmd;  /* the command being run */
        int stop_status;                /* what to return when ctl_getopt() says CTL_GETOPT_STOP */
};

/* Option values without a short option. */
enum {
        CTL_OPT_JSON = 0x100,
};

/* Options every command accepts; end a command's option table with this. */
#define CTL_OPTIONS_COMMON \
        { "help", no_argument, NULL, 'h' }, \
        { "json", no_argument, NULL, CTL_OPT_JSON }, \
        { NULL, 0, NULL, 0 }

/* ctl_getopt() at the end of the options, and when the command must stop (see stop_status). */
#define CTL_GETOPT_END          (-1)
#define CTL_GETOPT_STOP         (-2)

/* ---- tables (ctl-table.c) ---- */

enum ctl_cell_format {
        CTL_CELL_TEXT,                  /* left-aligned */
        CTL_CELL_NUMBER,                /* right-aligned count */
        CTL_CELL_LIMIT,                 /* a count where 0 means no limit: "-" */
        CTL_CELL_BYTES,                 /* a byte count in human units: 1.2K */
        CTL_CELL_MS,                    /* milliseconds as 850ms, 12s, 5m, 3h, 2d */
        CTL_CELL_USER,                  /* a uid as its user name, else the number; left-aligned */
        CTL_CELL_MODE,                  /* permission bits as ls shows them: rw-rw---- */
};

/* A column: its header, the field it shows ("name" and "type" are the item's own), its format. */
struct ctl_column {
        const char *header;
        const char *key;
        enum ctl_cell_format format;
};

#define CTL_MAX_COLUMNS 16

/* Print items as an aligned table with a header line. */
void ctl_print_table(const struct ctl_column *cols, size_t n_cols, const mpx_info *items, size_t n);
/* Sort items by a field: numbers largest first, text A to Z, items without it last. */
void ctl_sort(mpx_info *items, size_t n, const char *key);
/* Print items as one JSON array. */
void ctl_json_infos(const mpx_info *items, size_t n);
/* A byte count as ls -h says it: 512, 1.2K, 34M. */
void ctl_human_bytes(int64_t v, char *buf, size_t size);
/* Free what ctl_collect returned. */
void ctl_infos_free(mpx_info *items, size_t n);

/* One page of a paged listing, as mpx_list_objects() and mpx_clients() give it. */
typedef int (*ctl_page_fn)(mpx *m, uint64_t cursor, size_t max, const void *arg,
                           mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next);
/* Fetch every page; 0 or a negative errno. */
int ctl_collect(struct ctl *ctl, ctl_page_fn fetch, const void *arg, mpx_info **ret_items, size_t *ret_n);

/* The sub-commands of each group, one file each: ctl-queue.c, ctl-dict.c ... */
extern const struct ctl_command ctl_queue_commands[];
extern const struct ctl_command ctl_dict_commands[];
extern const struct ctl_command ctl_list_commands[];
extern const struct ctl_command ctl_sem_commands[];
extern const struct ctl_command ctl_event_commands[];      /* ctl-event.c */
extern const struct ctl_command ctl_barrier_commands[];    /* ctl-event.c */
extern const struct ctl_command ctl_value_commands[];      /* ctl-array.c */
extern const struct ctl_command ctl_array_commands[];      /* ctl-array.c */
extern const struct ctl_command ctl_pipe_commands[];
extern const struct ctl_command ctl_pool_commands[];

/*
 * getopt_long() for a command's argv (argv[0] is the command's name), with
 * short options taken from the table. Handles --help and --json itself.
 * Return: an option's val, CTL_GETOPT_END, or CTL_GETOPT_STOP after a usage
 * error (CTL_EXIT_USAGE) or --help (CTL_EXIT_DONE), with that in ctl->stop_status.
 */
int ctl_getopt(struct ctl *ctl, int argc, char **argv, const struct option *options);

/* Print "mpxctl: MESSAGE" and the command's usage line; return CTL_EXIT_USAGE. */
int ctl_usage_error(struct ctl *ctl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Helpers that return an enum ctl_exit return CTL_EXIT_OK to mean "go on";
 * anything else is what the command returns at once.
 */

/* Check the number of positional arguments: CTL_EXIT_OK, or a usage error. */
int ctl_check_args(struct ctl *ctl, int n, int min, int max);

/* Check an object name against the rule of mpx.h: CTL_EXIT_OK, or a usage error. */
int ctl_check_name(struct ctl *ctl, const char *name);

/* Connect to the daemon once: CTL_EXIT_OK, or CTL_EXIT_NO_DAEMON after saying why. */
int ctl_connect(struct ctl *ctl);

/* ---- arguments before options (ctl-args.c) ---- */

/*
 * Move the options (with their values) of argv to its front, the other
 * arguments after them in their order, and return how many option elements
 * there are, or -ENOMEM. "-" and negative numbers are arguments, so is
 * everything after "--" (which is dropped: *argc goes down by one). Then
 * give getopt only argv[0] and the options: ctl_getopt(ctl, 1 + n_opts, argv, options).
 */
int ctl_sort_args(int *argc, char **argv, const struct option *options);

/*
 * The arguments after the n_opts options of an argv that ctl_sort_args()
 * sorted: a NAME, then min to max arguments (max -1: any number). Checks
 * both, like ctl_check_args() and ctl_check_name(). CTL_EXIT_OK and NAME,
 * the arguments after it and their number; or a usage error.
 */
int ctl_sorted_name_args(struct ctl *ctl, int argc, char **argv, int n_opts, int min, int max,
                         const char **ret_name, char ***ret_pos, int *ret_n);

/*
 * Report a failed libmpx call as "mpxctl: WHAT 'NAME': MESSAGE" ("mpxctl:
 * WHAT: MESSAGE" when name is NULL). msg NULL says mpx_strerror(r).
 * Return: CTL_EXIT_NO_DAEMON for a lost connection, else CTL_EXIT_FAILED.
 */
int ctl_fail(int r, const char *what, const char *name, const char *msg);

/* Print "mpxctl: MESSAGE" on stderr. */
/* Read all of stdin, at most max bytes: 0 and a malloc'd buffer, -EMSGSIZE when there is more, or -errno. */
int ctl_read_stdin(size_t max, char **ret, size_t *ret_size);

void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A payload argument of the object name of group what ("dict"): arg itself,
 * or all of stdin (at most one message) when arg is NULL or "-"; *ret_input
 * then holds it, to be freed. CTL_EXIT_OK or the exit status of a failure.
 */
int ctl_payload_arg(struct ctl *ctl, const char *what, const char *name, const char *arg, const char **ret,
                    size_t *ret_size, char **ret_input);

/*
 * Parse a timeout in decimal seconds ("5", "0.25") into milliseconds:
 * negative means forever (-1), 0 means do not block. CTL_EXIT_OK or a usage error.
 */
int ctl_parse_timeout(struct ctl *ctl, const char *s, int64_t *ret_ms);

/* Parse a decimal unsigned number named what: CTL_EXIT_OK or a usage error. */
int ctl_parse_u64(struct ctl *ctl, const char *what, const char *s, uint64_t *ret);

/*
 * Write a stored payload (an item, a value) to stdout as it is; on a
 * terminal, end it with a newline if it has none, so that what follows
 * starts on a line of its own.
 */
void ctl_print_payload(const void *data, size_t size);

/* Write bytes to stdout as a JSON string, quoted and escaped. */
void ctl_json_string(const void *data, size_t size);

/* Write an mpx_info to stdout as a JSON object: name and type (when set), then every field. */
void ctl_json_info(const mpx_info *info);

/* Write an mpx_info to stdout as "key: value" lines, name and type first when set. */
void ctl_print_info(const mpx_info *info);

/* Command handlers of ctl-object.c. */
int ctl_object_ls(struct ctl *ctl, int argc, char **argv);
int ctl_object_info(struct ctl *ctl, int argc, char **argv);
int ctl_object_stats(struct ctl *ctl, int argc, char **argv);
int ctl_object_rm(struct ctl *ctl, int argc, char **argv);
int ctl_object_clients(struct ctl *ctl, int argc, char **argv);
int ctl_object_users(struct ctl *ctl, int argc, char **argv);
int ctl_object_peek(struct ctl *ctl, int argc, char **argv);
int ctl_object_purge(struct ctl *ctl, int argc, char **argv);
/* ctl-perm.c */
int ctl_perm_chmod(struct ctl *ctl, int argc, char **argv);
int ctl_perm_chown(struct ctl *ctl, int argc, char **argv);
/* ctl-top.c */
int ctl_top(struct ctl *ctl, int argc, char **argv);
