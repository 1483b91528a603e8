/* SPDX-License-Identifier: MIT */
/*
 * mpxctl, the admin CLI of mpx: global options, the command table (after
 * tmux's cmd_table), dispatch to a command or a group's sub-command, exit
 * statuses, and the helpers the command files share: option parsing, error
 * lines, numbers and JSON.
 *
 * Commands live in ctl-object.c (ls, info, stats, rm) and one file per
 * object group (ctl-queue.c, ctl-dict.c, ctl-list.c, ctl-sem.c, ctl-event.c
 * for events and barriers, ctl-array.c for values and arrays). This file knows nothing about any object type, and mpxctl as
 * a whole knows the daemon only through libmpx's public API.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mpxctl.h"

static int ctl_help(struct ctl *ctl, int argc, char **argv);

const struct option ctl_no_options[] = { CTL_OPTIONS_COMMON };

const struct option ctl_timeout_options[] = {
        CTL_OPTION_TIMEOUT,
        CTL_OPTIONS_COMMON
};

static const struct ctl_command ctl_commands[] = {
        { "ls", "[--type TYPE] [--sort FIELD] [--names]", "list objects with their sizes, waiters and bytes", ctl_object_ls, NULL },
        { "info", "NAME", "describe an object", ctl_object_info, NULL },
        { "stats", "", "show the daemon's statistics", ctl_object_stats, NULL },
        { "rm", "NAME", "delete an object; whoever waits on it gets an error", ctl_object_rm, NULL },
        { "clients", "[--sort FIELD]", "list connections, what they hold and wait on", ctl_object_clients, NULL },
        { "users", "[--sort FIELD]", "list uids, what each holds and was refused", ctl_object_users, NULL },
        { "peek", "NAME [-n N]", "show the first items of a queue without taking them", ctl_object_peek, NULL },
        { "purge", "NAME", "drop every item waiting in a queue", ctl_object_purge, NULL },
        { "chmod", "MODE NAME", "set who may read and write an object (octal, as chmod)", ctl_perm_chmod, NULL },
        { "chown", "USER[:GROUP] NAME", "give an object to another owner or group", ctl_perm_chown, NULL },
        { "top", "[--sort FIELD]", "a live view of the busiest objects, refreshed every second", ctl_top, NULL },
        { "queue", "COMMAND ...", "operate a queue", NULL, ctl_queue_commands },
        { "dict", "COMMAND ...", "operate a shared dict", NULL, ctl_dict_commands },
        { "list", "COMMAND ...", "operate a shared list", NULL, ctl_list_commands },
        { "sem", "COMMAND ...", "operate a semaphore or lock", NULL, ctl_sem_commands },
        { "event", "COMMAND ...", "operate an event", NULL, ctl_event_commands },
        { "barrier", "COMMAND ...", "operate a barrier", NULL, ctl_barrier_commands },
        { "value", "COMMAND ...", "operate a typed shared value", NULL, ctl_value_commands },
        { "array", "COMMAND ...", "operate a typed shared array", NULL, ctl_array_commands },
        { "pipe", "COMMAND ...", "meet another process at a pipe", NULL, ctl_pipe_commands },
        { "pool", "COMMAND ...", "start and supervise worker processes", NULL, ctl_pool_commands },
        { "help", "", "show this help", ctl_help, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};

/* Read all of stdin up to max bytes; the buffer is one byte larger than max at most. */
int ctl_read_stdin(size_t max, char **ret, size_t *ret_size) {
        size_t size = 0, cap = 0, limit = max < SIZE_MAX ? max + 1 : SIZE_MAX;
        char *buf = NULL, *p;
        ssize_t n;

        for (;;) {
                if (size == cap) {
                        /* Room for one byte over the limit, to see that there is one. */
                        if (cap >= limit) {
                                free(buf);
                                return -EMSGSIZE;
                        }
                        cap = cap ? (cap > limit / 2 ? limit : cap * 2) : 64 * 1024;
                        if (cap > limit)
                                cap = limit;
                        p = realloc(buf, cap);
                        if (!p) {
                                free(buf);
                                return -ENOMEM;
                        }
                        buf = p;
                }
                n = read(STDIN_FILENO, buf + size, cap - size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        n = -errno;
                        free(buf);
                        return (int) n;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > max) {
                free(buf);
                return -EMSGSIZE;
        }
        *ret = buf;
        *ret_size = size;
        return 0;
}

/* One error line, after whatever stdout holds. */
static void ctl_verror(const char *fmt, va_list ap) {
        fflush(stdout);
        fputs(CTL_PROGRAM ": ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
}

/* Print one error line, after whatever stdout holds. */
void ctl_error(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        ctl_verror(fmt, ap);
        va_end(ap);
}

/* "mpxctl queue put NAME [DATA] ..." for the command ctl runs, or the global form. */
static void ctl_print_usage(const struct ctl *ctl, FILE *f) {
        if (!ctl->cmd) {
                fprintf(f, "usage: %s [-s SOCKET] [--json] COMMAND [ARGS...]\n", CTL_PROGRAM);
                return;
        }
        fprintf(f, "usage: %s %s%s%s%s%s\n", CTL_PROGRAM,
                ctl->group ? ctl->group : "", ctl->group ? " " : "",
                ctl->cmd->name, *ctl->cmd->usage ? " " : "", ctl->cmd->usage);
}

/* Print a usage error and the command's usage line. */
int ctl_usage_error(struct ctl *ctl, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        ctl_verror(fmt, ap);
        va_end(ap);
        ctl_print_usage(ctl, stderr);
        return CTL_EXIT_USAGE;
}

/* Say what getopt_long() did not like: c is '?' (unknown option) or ':' (missing argument). */
static int ctl_option_error(struct ctl *ctl, int c, char **argv) {
        const char *opt = argv[optind - 1];

        if (c == ':')
                return ctl_usage_error(ctl, "option '%s' needs an argument", opt);
        if (optopt > 0 && optopt < 0x80 && strncmp(opt, "--", 2) != 0)
                return ctl_usage_error(ctl, "unknown option '-%c'", optopt);
        return ctl_usage_error(ctl, "unknown option '%s'", opt);
}

/* Parse the next option of a command, handling --help, --json and errors. */
int ctl_getopt(struct ctl *ctl, int argc, char **argv, const struct option *options) {
        char shortopts[64] = ":";       /* ':' first: a missing argument is reported as ':' */
        size_t k = 1;
        int c;

        for (const struct option *o = options; o->name; o++) {
                if (o->flag || o->val <= 0 || o->val >= 0x80 || k + 3 > sizeof(shortopts))
                        continue;
                shortopts[k++] = (char) o->val;
                if (o->has_arg == required_argument)
                        shortopts[k++] = ':';
        }
        shortopts[k] = '\0';

        for (;;) {
                c = getopt_long(argc, argv, shortopts, options, NULL);
                switch (c) {
                case CTL_OPT_JSON:
                        ctl->json = true;
                        continue;
                case 'h':
                        ctl_print_usage(ctl, stdout);
                        if (ctl->cmd && ctl->cmd->summary)
                                printf("\n%s.\n", ctl->cmd->summary);
                        ctl->stop_status = CTL_EXIT_DONE;
                        return CTL_GETOPT_STOP;
                case '?':
                case ':':
                        ctl->stop_status = ctl_option_error(ctl, c, argv);
                        return CTL_GETOPT_STOP;
                case -1:
                        return CTL_GETOPT_END;
                default:
                        return c;
                }
        }
}

bool ctl_is(const struct ctl *ctl, const char *name) {
        return ctl->cmd && strcmp(ctl->cmd->name, name) == 0;
}

/* Check how many positional arguments a command got. */
int ctl_check_args(struct ctl *ctl, int n, int min, int max) {
        if (n < min)
                return ctl_usage_error(ctl, "missing argument");
        if (max >= 0 && n > max)
                return ctl_usage_error(ctl, "too many arguments");
        return CTL_EXIT_OK;
}

/* Check an object name before anything is sent. */
int ctl_check_name(struct ctl *ctl, const char *name) {
        size_t len = strlen(name);

        if (len < 1 || len > 255 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                 "0123456789._:/@-") != len)
                return ctl_usage_error(ctl, "invalid object name '%s' "
                                       "(1 to 255 of A-Z a-z 0-9 . _ : / @ -)", name);
        return CTL_EXIT_OK;
}

/* Connect to the daemon, or say why not. */
int ctl_connect(struct ctl *ctl) {
        const char *msg;
        int r;

        if (ctl->m)
                return CTL_EXIT_OK;
        r = mpx_connect_named(ctl->socket, CTL_PROGRAM, &ctl->m);
        if (r >= 0)
                return CTL_EXIT_OK;
        switch (r) {
        case -EPROTO:
                msg = "mpxd speaks another protocol version";
                break;
        case -ECONNRESET:
                msg = "connection closed by mpxd";
                break;
        case -ESHUTDOWN:
        case -EUSERS:
        case -ENOSPC:
                msg = mpx_strerror(r);
                break;
        default:
                /* Socket errors say it best in the system's words. */
                msg = strerror(-r);
                break;
        }
        ctl_error("cannot connect to %s: %s", ctl->socket, msg);
        return CTL_EXIT_NO_DAEMON;
}

/* Write a payload as it is, with a newline for a person. */
void ctl_print_payload(const void *data, size_t size) {
        fwrite(data, 1, size, stdout);
        /* A pipe or a file gets the bytes exactly; a person gets the prompt on a line of its own. */
        if ((size == 0 || ((const char *) data)[size - 1] != '\n') && isatty(STDOUT_FILENO))
                putchar('\n');
}

/* Whether "mpxctl WHAT declare NAME" creates an object of that kind. */
static bool ctl_declarable(const char *what) {
        static const char *const groups[] = { "queue", "dict", "list", "sem", "event", "barrier", "array", "value" };

        for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
                if (strcmp(what, groups[i]) == 0)
                        return true;
        return false;
}

/* Report a failed libmpx call and choose the exit status. */
int ctl_fail(int r, const char *what, const char *name, const char *msg) {
        char hint[400];

        /* Objects are never made by using them: say how to make the one that is missing. */
        if (r == -ENOENT && !msg && name && ctl_declarable(what)) {
                snprintf(hint, sizeof(hint), "%s (declare it first: mpxctl %s declare %s)", mpx_strerror(r), what,
                         name);
                msg = hint;
        }
        if (r == -ECONNRESET || !msg)
                msg = mpx_strerror(r);
        if (name)
                ctl_error("%s '%s': %s", what, name, msg);
        else
                ctl_error("%s: %s", what, msg);
        return r == -ECONNRESET ? CTL_EXIT_NO_DAEMON : CTL_EXIT_FAILED;
}

/* The end of most commands: the call they made worked, or what went wrong. */
int ctl_status(int r, const char *what, const char *name, const char *msg) {
        return r < 0 ? ctl_fail(r, what, name, msg) : CTL_EXIT_OK;
}

/* Parse decimal seconds into milliseconds, exactly, without strtod() and its locale. */
int ctl_parse_timeout(struct ctl *ctl, const char *s, int64_t *ret_ms) {
        const char *p = s;
        bool negative = false, round_up = false;
        int64_t sec = 0, ms = 0;
        int digits = 0, frac = 0;

        if (*p == '-' || *p == '+') {
                negative = *p == '-';
                p++;
        }
        for (; *p >= '0' && *p <= '9'; p++, digits++) {
                /* sec stays below INT64_MAX / 1000, so sec * 10 and sec * 1000 + 999 + 1 fit. */
                sec = sec * 10 + (*p - '0');
                if (sec > INT64_MAX / 1000 - 1)
                        return ctl_usage_error(ctl, "timeout '%s' is too large", s);
        }
        if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9'; p++, digits++, frac++) {
                        if (frac < 3)
                                ms = ms * 10 + (*p - '0');
                        else if (*p != '0')
                                round_up = true;
                }
        }
        if (*p != '\0' || digits == 0)
                return ctl_usage_error(ctl, "bad timeout '%s' (seconds, such as 5 or 0.25)", s);
        for (; frac < 3; frac++)
                ms *= 10;
        ms += sec * 1000 + (round_up ? 1 : 0);
        if (negative && ms > 0)
                *ret_ms = -1;
        else
                *ret_ms = ms;
        return CTL_EXIT_OK;
}

/* Parse a decimal signed 64-bit number, with an optional sign. */
int ctl_parse_i64(struct ctl *ctl, const char *what, const char *s, int64_t *ret) {
        bool negative = s[0] == '-';
        const char *p = s + (s[0] == '-' || s[0] == '+');
        uint64_t v = 0, limit = negative ? (uint64_t) INT64_MAX + 1 : (uint64_t) INT64_MAX;

        if (*p == '\0')
                return ctl_usage_error(ctl, "bad %s '%s' (a decimal number)", what, s);
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return ctl_usage_error(ctl, "bad %s '%s' (a decimal number)", what, s);
                if (v > (limit - (uint64_t) (*p - '0')) / 10)
                        return ctl_usage_error(ctl, "%s '%s' is out of range", what, s);
                v = v * 10 + (uint64_t) (*p - '0');
        }
        *ret = negative ? (int64_t) (0 - v) : (int64_t) v;
        return CTL_EXIT_OK;
}

/* Parse a plain decimal unsigned 64-bit number. */
int ctl_parse_u64(struct ctl *ctl, const char *what, const char *s, uint64_t *ret) {
        uint64_t v = 0;
        const char *p;

        for (p = s; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return ctl_usage_error(ctl, "%s '%s' is too large", what, s);
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (p == s || *p != '\0')
                return ctl_usage_error(ctl, "bad %s '%s' (a decimal number)", what, s);
        *ret = v;
        return CTL_EXIT_OK;
}

/* Length of a well-formed UTF-8 sequence of more than one byte at p, or 0 (RFC 3629). */
static size_t utf8_sequence(const uint8_t *p, size_t n) {
        uint8_t lo = 0x80, hi = 0xbf;
        size_t len;

        if (p[0] >= 0xc2 && p[0] <= 0xdf)
                len = 2;
        else if (p[0] >= 0xe0 && p[0] <= 0xef) {
                len = 3;
                if (p[0] == 0xe0)
                        lo = 0xa0;              /* no overlong forms */
                else if (p[0] == 0xed)
                        hi = 0x9f;              /* no surrogates */
        } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
                len = 4;
                if (p[0] == 0xf0)
                        lo = 0x90;
                else if (p[0] == 0xf4)
                        hi = 0x8f;              /* nothing above U+10FFFF */
        } else
                return 0;
        if (n < len || p[1] < lo || p[1] > hi)
                return 0;
        for (size_t i = 2; i < len; i++)
                if (p[i] < 0x80 || p[i] > 0xbf)
                        return 0;
        return len;
}

/* Write bytes as a JSON string: UTF-8 kept, everything else escaped. */
void ctl_json_string(const void *data, size_t size) {
        /* The characters JSON writes as a backslash and a letter, and those letters. */
        static const char escaped[] = "\"\\\b\f\n\r\t", letters[] = "\"\\bfnrt";
        const uint8_t *p = data;
        const char *e;
        size_t i = 0;

        putchar('"');
        while (i < size) {
                uint8_t c = p[i];
                size_t len = c >= 0x80 ? utf8_sequence(p + i, size - i) : 0;

                if (len > 0) {
                        fwrite(p + i, 1, len, stdout);
                        i += len;
                        continue;
                }
                e = c ? strchr(escaped, c) : NULL;
                if (e) {
                        putchar('\\');
                        putchar(letters[e - escaped]);
                } else if (c >= 0x20 && c < 0x7f)
                        putchar(c);
                else
                        /* Control characters, DEL, and bytes that are not UTF-8. */
                        printf("\\u%04x", c);
                i++;
        }
        putchar('"');
}

/* A field's value as JSON. */
static void ctl_json_value(const mpx_field *f) {
        if (f->is_str)
                ctl_json_string(f->str, strlen(f->str));
        else
                printf("%" PRId64, f->num);
}

/* Whether text is a number as JSON writes one: -?digits[.digits][e[+-]digits]. */
static bool ctl_is_json_number(const char *p) {
        if (*p == '-')
                p++;
        if (!isdigit((unsigned char) *p))
                return false;
        while (isdigit((unsigned char) *p))
                p++;
        if (*p == '.') {
                if (!isdigit((unsigned char) *++p))
                        return false;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        if (*p == 'e' || *p == 'E') {
                if (*++p == '+' || *p == '-')
                        p++;
                if (!isdigit((unsigned char) *p))
                        return false;
                while (isdigit((unsigned char) *p))
                        p++;
        }
        return *p == '\0';
}

/*
 * The daemon's field lists carry some numbers as text, for people: a
 * pool's pids ("12 13") and a value's value ("3.5"). In JSON a script gets
 * them as numbers (pids an array); a value that is no JSON number (inf,
 * nan, a character) stays a string. False for every other field.
 */
static bool ctl_json_numbers_of(const mpx_info *info, const mpx_field *f) {
        const char *p;
        bool first = true;

        if (!f->is_str || !info->type)
                return false;
        if (strcmp(info->type, "value") == 0 && strcmp(f->key, "value") == 0 && ctl_is_json_number(f->str)) {
                fputs(f->str, stdout);
                return true;
        }
        if (strcmp(info->type, "pool") != 0 || strcmp(f->key, "pids") != 0)
                return false;
        putchar('[');
        for (p = f->str; *p;) {
                size_t n = strspn(p, "0123456789");

                if (n > 0) {
                        printf("%s%.*s", first ? "" : ",", (int) n, p);
                        first = false;
                }
                p += n;
                p += strcspn(p, "0123456789");
        }
        putchar(']');
        return true;
}

/* Write an object description as one JSON object. */
void ctl_json_info(const mpx_info *info) {
        bool first = true;

        putchar('{');
        if (info->name) {
                fputs("\"name\":", stdout);
                ctl_json_string(info->name, strlen(info->name));
                first = false;
        }
        if (info->type) {
                fputs(first ? "\"type\":" : ",\"type\":", stdout);
                ctl_json_string(info->type, strlen(info->type));
                first = false;
        }
        for (size_t i = 0; i < info->n_fields; i++) {
                const mpx_field *f = &info->fields[i];
                bool dup = (info->name && strcmp(f->key, "name") == 0) ||
                           (info->type && strcmp(f->key, "type") == 0);

                /* One document with unique keys: the first of equal keys wins. */
                for (size_t j = 0; j < i && !dup; j++)
                        dup = strcmp(info->fields[j].key, f->key) == 0;
                if (dup)
                        continue;
                if (!first)
                        putchar(',');
                ctl_json_string(f->key, strlen(f->key));
                putchar(':');
                if (!ctl_json_numbers_of(info, f))
                        ctl_json_value(f);
                first = false;
        }
        putchar('}');
}

/* Write an object description as "key: value" lines. */
void ctl_print_info(const mpx_info *info) {
        if (info->name)
                printf("name: %s\n", info->name);
        if (info->type)
                printf("type: %s\n", info->type);
        for (size_t i = 0; i < info->n_fields; i++) {
                const mpx_field *f = &info->fields[i];

                if (f->is_str)
                        printf("%s: %s\n", f->key, f->str);
                else if (info->type && strcmp(f->key, "mode") == 0)
                        /* An object's permission bits read as chmod takes them. */
                        printf("%s: %04" PRIo64 "\n", f->key, f->num);
                else
                        printf("%s: %" PRId64 "\n", f->key, f->num);
        }
}

/* info, stats and pool info show what they are told alike. */
void ctl_show_info(const struct ctl *ctl, const mpx_info *info) {
        if (ctl->json) {
                ctl_json_info(info);
                putchar('\n');
        } else
                ctl_print_info(info);
}

/* Print the commands of a table, prefixed with group, in two columns. */
static void ctl_print_commands(const struct ctl_command *table, const char *group, int width) {
        char line[256];

        for (const struct ctl_command *c = table; c->name; c++) {
                if (c->group) {
                        ctl_print_commands(c->group, c->name, width);
                        continue;
                }
                snprintf(line, sizeof(line), "%s%s%s%s%s", group ? group : "", group ? " " : "",
                         c->name, *c->usage ? " " : "", c->usage);
                printf("  %-*s  %s\n", width, line, c->summary);
        }
}

/* The width of the widest "group name usage" of a table. */
static int ctl_commands_width(const struct ctl_command *table, const char *group) {
        int width = 0, w;

        for (const struct ctl_command *c = table; c->name; c++) {
                if (c->group)
                        w = ctl_commands_width(c->group, c->name);
                else
                        w = (int) ((group ? strlen(group) + 1 : 0) + strlen(c->name) +
                                   (*c->usage ? strlen(c->usage) + 1 : 0));
                if (w > width)
                        width = w;
        }
        return width;
}

/* --help: every command. */
static void ctl_print_help(void) {
        printf("usage: %s [-s SOCKET] [--json] COMMAND [ARGS...]\n"
               "\n"
               "Inspect and operate the objects of mpxd, the mpx IPC broker.\n"
               "\n"
               "Options:\n"
               "  -s, --socket PATH  the daemon's socket (default: $MPX_SOCKET, else %s)\n"
               "      --json         print results as JSON\n"
               "  -h, --help         show this help\n"
               "  -V, --version      show the version\n"
               "\n"
               "Commands:\n", CTL_PROGRAM, MPX_DEFAULT_SOCKET);
        ctl_print_commands(ctl_commands, NULL, ctl_commands_width(ctl_commands, NULL));
        printf("\n"
               "A timeout S is in seconds (0.5 is half a second): 0 does not wait, and without\n"
               "--timeout, or with a negative one, a command waits as long as it takes.\n"
               "\n"
               "Exit status: 0 done, 1 the operation failed (empty, timed out, not found ...),\n"
               "2 usage error, 3 no daemon reachable.\n");
}

/* mpxctl help: the same as --help. */
static int ctl_help(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        int r;

        r = ctl_parse_args(ctl, argc, argv, ctl_no_options, CTL_ARGS_RAW, 0, 0, &a);
        if (r != CTL_EXIT_OK)
                return r;
        ctl_print_help();
        return CTL_EXIT_OK;
}

/* "usage: mpxctl queue {declare|put|...} ..." for a group. */
static void ctl_print_group_usage(const struct ctl_command *g, FILE *f) {
        fprintf(f, "usage: %s %s {", CTL_PROGRAM, g->name);
        for (const struct ctl_command *c = g->group; c->name; c++)
                fprintf(f, "%s%s", c == g->group ? "" : "|", c->name);
        fputs("} ...\n", f);
}

/* Run argv[0] of table (argv[0] of a group's table when group is set). */
static int ctl_dispatch(struct ctl *ctl, const struct ctl_command *table,
                        const struct ctl_command *group, int argc, char **argv) {
        const struct ctl_command *cmd;
        int r;

        for (cmd = table; cmd->name; cmd++)
                if (strcmp(cmd->name, argv[0]) == 0)
                        break;
        if (!cmd->name) {
                if (group) {
                        ctl_error("unknown %s command '%s'", group->name, argv[0]);
                        ctl_print_group_usage(group, stderr);
                } else {
                        ctl_error("unknown command '%s'", argv[0]);
                        ctl_print_usage(ctl, stderr);
                }
                return CTL_EXIT_USAGE;
        }

        if (cmd->group) {
                if (argc < 2) {
                        ctl_error("missing %s command", cmd->name);
                        ctl_print_group_usage(cmd, stderr);
                        return CTL_EXIT_USAGE;
                }
                if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
                        ctl_print_group_usage(cmd, stdout);
                        printf("\nCommands:\n");
                        ctl_print_commands(cmd->group, cmd->name,
                                          ctl_commands_width(cmd->group, cmd->name));
                        return CTL_EXIT_OK;
                }
                ctl->group = cmd->name;
                return ctl_dispatch(ctl, cmd->group, cmd, argc - 1, argv + 1);
        }

        ctl->cmd = cmd;
        /* A fresh getopt scan of the command's own argv; 0 makes glibc start over. */
        optind = 0;
        r = cmd->run(ctl, argc, argv);
        return r == CTL_EXIT_DONE ? CTL_EXIT_OK : r;
}

/* Parse the global options and run one command. */
int main(int argc, char **argv) {
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "json", no_argument, NULL, CTL_OPT_JSON },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { NULL, 0, NULL, 0 },
        };
        struct ctl ctl = {};
        const char *socket_path = NULL;
        int c, status;

        opterr = 0;
        /* '+': stop at the command, whose options are its own. */
        while ((c = getopt_long(argc, argv, "+:s:hV", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        socket_path = optarg;
                        break;
                case CTL_OPT_JSON:
                        ctl.json = true;
                        break;
                case 'h':
                        ctl_print_help();
                        return CTL_EXIT_OK;
                case 'V':
                        printf("%s %s\n", CTL_PROGRAM, MPX_VERSION);
                        return CTL_EXIT_OK;
                default:
                        return ctl_option_error(&ctl, c, argv);
                }
        }
        if (optind >= argc)
                return ctl_usage_error(&ctl, "missing command");

        if (socket_path && !*socket_path)
                return ctl_usage_error(&ctl, "empty socket path");
        if (!socket_path) {
                socket_path = getenv("MPX_SOCKET");
                if (!socket_path || !*socket_path)
                        socket_path = MPX_DEFAULT_SOCKET;
        }
        ctl.socket = socket_path;

        status = ctl_dispatch(&ctl, ctl_commands, NULL, argc - optind, argv + optind);
        ctl.m = mpx_disconnect(ctl.m);

        if (fflush(stdout) != 0 || ferror(stdout)) {
                ctl_error("cannot write output: %s", strerror(errno));
                if (status == CTL_EXIT_OK)
                        status = CTL_EXIT_FAILED;
        }
        return status;
}
