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

/*
 * Options with one meaning wherever a command takes them: --timeout S
 * (ctl_args.timeout_ms) and --durable (ctl_given(a, 'D')).
 */
#define CTL_OPTION_TIMEOUT { "timeout", required_argument, NULL, 't' }
#define CTL_OPTION_DURABLE { "durable", no_argument, NULL, 'D' }

/* Options every command accepts; end a command's option table with this. */
#define CTL_OPTIONS_COMMON \
        { "help", no_argument, NULL, 'h' }, \
        { "json", no_argument, NULL, CTL_OPT_JSON }, \
        { NULL, 0, NULL, 0 }

/* The options of a command that has none of its own, and of one that waits (--timeout S). */
extern const struct option ctl_no_options[];
extern const struct option ctl_timeout_options[];

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
/*
 * Print n entries of keys, values or both (either may be NULL), done
 * printed before: KEY=VALUE, KEY or VALUE a line, or with --json the
 * elements of a JSON array (KEY:VALUE those of an object).
 */
void ctl_print_entries(const struct ctl *ctl, const mpx_buf *keys, const mpx_buf *values, size_t n, size_t done);
/* A byte count as ls -h says it: 512, 1.2K, 34M. */
void ctl_human_bytes(int64_t v, char *buf, size_t size);
/* Free what ctl_collect returned. */
void ctl_infos_free(mpx_info *items, size_t n);

/* What a paged listing lists. */
enum ctl_source {
        CTL_OBJECTS,                    /* mpx_list_objects(): the objects, of one type or all */
        CTL_CLIENTS,                    /* mpx_clients() */
        CTL_USERS,                      /* mpx_users() */
};
/* Fetch every page of a listing (of objects: of type, or all when NULL); 0 or a negative errno. */
int ctl_collect(struct ctl *ctl, enum ctl_source source, const char *type, mpx_info **ret_items, size_t *ret_n);

/* A command that lists every item of a paged call: ls, clients, users, pool ls. */
struct ctl_listing {
        const char *what;               /* the command, for its error line */
        const struct option *options;   /* any of --type (t), --sort (S), --names (N) */
        enum ctl_source source;
        const char *type;               /* the objects' type; NULL: --type, or all */
        const struct ctl_column *columns;
        size_t n_columns;
};
/* Run a listing command: a table, a JSON array, or with --names the names only. */
int ctl_list_cmd(struct ctl *ctl, int argc, char **argv, const struct ctl_listing *l);

/* Write {"name":NAME to stdout: the start of a JSON answer about one object. */
void ctl_json_name(const char *name);

/*
 * Print a count about the object name: N, or {"name":NAME,"FIELD":N} with
 * --json. A negative n is the errno of the call that failed instead, and is
 * reported as ctl_fail(n, what, name, NULL). CTL_EXIT_OK or that status.
 */
int ctl_print_count(const struct ctl *ctl, const char *what, const char *name, const char *field, int64_t n);

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

/* Whether the command being run is name: for a run function that serves several commands. */
bool ctl_is(const struct ctl *ctl, const char *name);

/* Check the number of positional arguments: CTL_EXIT_OK, or a usage error. */
int ctl_check_args(struct ctl *ctl, int n, int min, int max);

/* Check an object name against the rule of mpx.h: CTL_EXIT_OK, or a usage error. */
int ctl_check_name(struct ctl *ctl, const char *name);

/* Connect to the daemon once: CTL_EXIT_OK, or CTL_EXIT_NO_DAEMON after saying why. */
int ctl_connect(struct ctl *ctl);

/* ---- reading argv (ctl-args.c) ---- */

/* Options are kept by their short letter: a to z, then A to Z. */
#define CTL_LETTERS 52

/* How a command's argv reads, for ctl_parse(). */
struct ctl_syntax {
        const struct option *options;   /* ended by CTL_OPTIONS_COMMON */
        unsigned flags;                 /* CTL_ARGS_* */
        int min, max;                   /* arguments after NAME (max -1: any number) */
        const char *numbers;            /* letters of the options whose value is a decimal u64 */
        /*
         * Called with every other option but --timeout as it comes, with its
         * value (NULL for a flag): CTL_EXIT_OK, or what the command returns.
         */
        int (*option)(struct ctl *ctl, int c, const char *arg, void *userdata);
};

enum {
        CTL_ARGS_CONNECT = 1 << 0,      /* connect once the arguments are right */
        CTL_ARGS_NEGATIVE = 1 << 1,     /* "-5" is an argument, not an option (ctl_sort_args) */
        CTL_ARGS_FLOATS = 1 << 2,       /* with CTL_ARGS_NEGATIVE: so are "-.5", "-inf" and "-nan" */
        CTL_ARGS_NO_NAME = 1 << 3,      /* no NAME, nor any other argument */
        CTL_ARGS_RAW = 1 << 4,          /* the arguments are left unchecked, NAME included */
};

/* What ctl_parse() read. */
struct ctl_args {
        const char *name;               /* NAME, checked; NULL with CTL_ARGS_NO_NAME or CTL_ARGS_RAW */
        char **pos;                     /* the arguments after NAME (all of them when it is NULL) */
        int n;                          /* how many */
        int64_t timeout_ms;             /* --timeout, negative (forever) when not given */
        uint64_t given;                 /* the options given, a bit per letter: ctl_given() */
        const char *value[CTL_LETTERS]; /* the value of each option given with one, the last */
        uint64_t number[CTL_LETTERS];   /* the same parsed, for the letters of ctl_syntax.numbers */
};

/*
 * Read argv (argv[0] is the command's name) as syntax says: the options,
 * then NAME and min to max arguments after it, like ctl_check_args() and
 * ctl_check_name(); then connect if asked. CTL_EXIT_OK, or what the command
 * returns at once (CTL_EXIT_DONE after --help).
 */
int ctl_parse(struct ctl *ctl, int argc, char **argv, const struct ctl_syntax *syntax, void *userdata,
              struct ctl_args *ret);

/* NAME and min to max arguments after it, of what ctl_parse() read with CTL_ARGS_RAW. */
int ctl_parse_name(struct ctl *ctl, int min, int max, struct ctl_args *a);

/* ctl_parse() of a command whose options are all flags or strings: ctl_given(), ctl_value(). */
int ctl_parse_args(struct ctl *ctl, int argc, char **argv, const struct option *options, unsigned flags, int min,
                   int max, struct ctl_args *ret);

/* ctl_parse() for "NAME ARGS..." where ARGS may be negative numbers (dict and list), then connect. */
int ctl_parse_sorted(struct ctl *ctl, int argc, char **argv, const struct option *options, int min, int max,
                     struct ctl_args *ret);

/*
 * The items of "list extend" and "dict update": the n_args arguments, or
 * with none (or "-") the lines of stdin, each NUL-terminated where its
 * newline was. *ret_input is then what was read; free it and *ret_items.
 * CTL_EXIT_OK, or the status of a failure said on stderr.
 */
int ctl_items_arg(char **args, int n_args, struct iovec **ret_items, size_t *ret_n, char **ret_input);

/* Argument k after NAME as a decimal i64 named what, into *ret; *ret stays as it is when there is none. */
int ctl_arg_i64(struct ctl *ctl, const struct ctl_args *a, int k, const char *what, int64_t *ret);

/* ctl_parse_sorted() of "NAME [ITEM...]" without options of its own, then ctl_items_arg() of the ITEMs. */
int ctl_parse_items(struct ctl *ctl, int argc, char **argv, struct ctl_args *a, struct iovec **ret_items,
                    size_t *ret_n, char **ret_input);

/* A payload, as the command was given it. */
struct ctl_payload {
        const char *data;
        size_t size;
        char *input;                    /* what was read from stdin, or NULL: ctl_payload_done() frees it */
};

/*
 * A payload argument about the object name of group what ("queue"): arg
 * itself, or when it is NULL all of stdin, at most one message. CTL_EXIT_OK
 * or the exit status of a failure.
 */
int ctl_payload(struct ctl *ctl, const char *what, const char *name, const char *arg, struct ctl_payload *ret);

/* ctl_payload() of a->pos[k], or of stdin when it is absent or "-". */
int ctl_payload_of(struct ctl *ctl, const char *what, const struct ctl_args *a, int k, struct ctl_payload *ret);

/* ctl_parse_sorted() of "NAME ARG1..ARGk [PAYLOAD]" without options of its own, then ctl_payload_of() PAYLOAD. */
int ctl_parse_payload(struct ctl *ctl, int argc, char **argv, const char *what, int k, struct ctl_args *a,
                      struct ctl_payload *ret);

/* Free what a payload read from stdin. */
void ctl_payload_done(struct ctl_payload *p);

/*
 * Where the options of "COMMAND NAME [OPTIONS] [--] PROGRAM [ARGS...]" end
 * (sem run, pool start, pipe open): the index of "--", or of the first
 * argument after NAME, which starts PROGRAM, or argc. An option's value is
 * skipped with it, so that "--timeout 5" is not taken for NAME. *ret_first
 * is where PROGRAM starts (argc when there is none).
 */
int ctl_split_command(int argc, char **argv, const struct option *options, int *ret_first);

/* Whether the option of letter c was given. */
bool ctl_given(const struct ctl_args *a, int c);

/* The value given to the option of letter c (the last one), or NULL. */
const char *ctl_value(const struct ctl_args *a, int c);

/* The number given to the option of letter c, one of ctl_syntax.numbers, or def. */
uint64_t ctl_number(const struct ctl_args *a, int c, uint64_t def);

/*
 * Report a failed libmpx call as "mpxctl: WHAT 'NAME': MESSAGE" ("mpxctl:
 * WHAT: MESSAGE" when name is NULL). msg NULL says mpx_strerror(r).
 * Return: CTL_EXIT_NO_DAEMON for a lost connection, else CTL_EXIT_FAILED.
 */
int ctl_fail(int r, const char *what, const char *name, const char *msg);

/* CTL_EXIT_OK when r, the result of a libmpx call, is not negative; else ctl_fail(r, what, name, msg). */
int ctl_status(int r, const char *what, const char *name, const char *msg);

/* Read all of stdin, at most max bytes: 0 and a malloc'd buffer, -EMSGSIZE when there is more, or -errno. */
int ctl_read_stdin(size_t max, char **ret, size_t *ret_size);

/* Print "mpxctl: MESSAGE" on stderr. */
void ctl_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Parse a timeout in decimal seconds ("5", "0.25") into milliseconds:
 * negative means forever (-1), 0 means do not block. CTL_EXIT_OK or a usage error.
 */
int ctl_parse_timeout(struct ctl *ctl, const char *s, int64_t *ret_ms);

/* Parse a decimal unsigned number named what: CTL_EXIT_OK or a usage error. */
int ctl_parse_u64(struct ctl *ctl, const char *what, const char *s, uint64_t *ret);

/* Parse a decimal signed 64-bit number named what: CTL_EXIT_OK or a usage error. */
int ctl_parse_i64(struct ctl *ctl, const char *what, const char *s, int64_t *ret);

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

/* Write an mpx_info as ctl_print_info() does, or with --json as one JSON object on a line. */
void ctl_show_info(const struct ctl *ctl, const mpx_info *info);

/* Command handlers of ctl-object.c. */
/* COMMAND NAME whose work is one call about NAME, with nothing to print: rm, queue close ... */
int ctl_call_cmd(struct ctl *ctl, int argc, char **argv, int (*call)(mpx *m, const char *name));
/* info NAME (what "object", type NULL) and pool info NAME (what and type "pool"). */
int ctl_info_cmd(struct ctl *ctl, int argc, char **argv, const char *what, const char *type);
/* len NAME and clear NAME of dict and list, with the calls of the group. */
int ctl_count_cmd(struct ctl *ctl, int argc, char **argv, int64_t (*len)(mpx *m, const char *name),
                  int64_t (*clear)(mpx *m, const char *name));
/* declare NAME [--durable] of a type whose declare takes flags alone (dict, list). */
int ctl_declare_cmd(struct ctl *ctl, int argc, char **argv, const char *what,
                    int (*declare)(mpx *m, const char *name, unsigned flags));
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
