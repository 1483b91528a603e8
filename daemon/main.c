/* SPDX-License-Identifier: MIT */
/*
 * mpxd: the command line, and the daemon's life from start to exit: parse
 * the options, read the configuration (they override it), put it in force,
 * listen, serve until a stop signal. This is the only file that decides the
 * exit status, and the only one that would call exit().
 */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "configfile.h"
#include "log.h"
#include "mpxd.h"
#include "server.h"
#include "wire.h"

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mpxd [OPTION]...\n"
                "Serve mpx objects to local processes over an AF_UNIX socket.\n"
                "\n"
                "  -c, --config FILE         read FILE (default %s)\n"
                "      --check-config        check the configuration, print what is wrong, and exit\n"
                "  -s, --socket PATH         listen on PATH (default %s)\n"
                "  -m, --socket-mode MODE    permissions of the socket file, octal (default 0660)\n"
                "  -g, --socket-group GROUP  group of the socket file (default the daemon's)\n"
                "      --max-message BYTES   largest payload accepted (default %u)\n"
                "      --max-clients N       most connections at once (default %u)\n"
                "      --max-objects N       most objects at once (default %u)\n"
                "      --log-level LEVEL     error, warning, notice, info or debug (default info)\n"
                "  -v, --verbose             log every request (--log-level debug)\n"
                "  -q, --quiet               log warnings and errors only (--log-level warning)\n"
                "  -h, --help                show this help and exit\n"
                "  -V, --version             show the version and exit\n"
                "\n"
                "Options override the configuration file, at start and on each reload (SIGHUP).\n",
                MPXD_CONFIG_PATH, "/run/mpxd/mpxd.sock", WIRE_DEFAULT_MAX_MESSAGE, CONFIG_DEFAULT_MAX_CLIENTS,
                CONFIG_DEFAULT_MAX_OBJECTS);
}

/* Parse an unsigned number in [min, max] written in base; false if it is not one. */
static bool parse_number(const char *s, int base, unsigned long min, unsigned long max, unsigned long *ret) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, base);
        if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
                return false;
        *ret = v;
        return true;
}

/*
 * The options that set a limit from 1 to max, in the order of their
 * OPT_MAX_* values: what the value is called in the message, and where the
 * overrides keep it.
 */
static const struct limit_option {
        const char *name;
        const char *what;
        unsigned long max;
        size_t offset;                  /* of its int64_t in struct config_overrides */
} limit_options[] = {
        { "max-message", "size", CONFIG_MAX_MESSAGE_LIMIT, offsetof(struct config_overrides, max_message) },
        { "max-clients", "number", CONFIG_MAX_CLIENTS_LIMIT, offsetof(struct config_overrides, max_clients) },
        { "max-objects", "number", CONFIG_MAX_OBJECTS_LIMIT, offsetof(struct config_overrides, max_objects) },
};

/* Set the override of one limit option from its argument: false (said on stderr) when it is out of range. */
static bool parse_limit(const struct limit_option *opt, const char *arg, struct config_overrides *o) {
        unsigned long v;

        if (!parse_number(arg, 10, 1, opt->max, &v)) {
                fprintf(stderr, "mpxd: --%s: '%s' is not a %s from 1 to %lu\n", opt->name, arg, opt->what, opt->max);
                return false;
        }
        *(int64_t *) (void *) ((char *) o + opt->offset) = (int64_t) v;
        return true;
}

/*
 * Parse argv into mpxd.config_path and the overrides; returns -1 to go on,
 * else an exit status. *ret_check is set by --check-config.
 */
static int parse_args(int argc, char **argv, bool *ret_check) {
        enum {
                OPT_MAX_MESSAGE = 0x100,
                OPT_MAX_CLIENTS,
                OPT_MAX_OBJECTS,
                OPT_LOG_LEVEL,
                OPT_CHECK_CONFIG,
        };
        static const struct option options[] = {
                { "config", required_argument, NULL, 'c' },
                { "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
                { "socket", required_argument, NULL, 's' },
                { "socket-mode", required_argument, NULL, 'm' },
                { "socket-group", required_argument, NULL, 'g' },
                { "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
                { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
                { "max-objects", required_argument, NULL, OPT_MAX_OBJECTS },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        struct config_overrides *o = &mpxd.overrides;
        unsigned long v;
        int c, level;

        mpxd.config_path = MPXD_CONFIG_PATH;
        mpxd.config_required = false;
        while ((c = getopt_long(argc, argv, "c:s:m:g:vqhV", options, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        mpxd.config_path = optarg;
                        mpxd.config_required = true;
                        break;
                case OPT_CHECK_CONFIG:
                        *ret_check = true;
                        break;
                case 's':
                        o->socket_path = optarg;
                        break;
                case 'm':
                        if (!parse_number(optarg, 8, 0, 0777, &v)) {
                                fprintf(stderr, "mpxd: --socket-mode: '%s' is not an octal mode\n", optarg);
                                return 2;
                        }
                        o->socket_mode = (int) v;
                        break;
                case 'g':
                        o->socket_group = optarg;
                        break;
                case OPT_MAX_MESSAGE:
                case OPT_MAX_CLIENTS:
                case OPT_MAX_OBJECTS:
                        if (!parse_limit(&limit_options[c - OPT_MAX_MESSAGE], optarg, o))
                                return 2;
                        break;
                case OPT_LOG_LEVEL:
                        level = log_level_from_string(optarg);
                        if (level < 0) {
                                fprintf(stderr, "mpxd: --log-level: '%s' is not one of error, warning, notice, "
                                        "info, debug\n", optarg);
                                return 2;
                        }
                        o->log_level = level;
                        break;
                case 'v':
                        o->log_level = LOG_LEVEL_DEBUG;
                        break;
                case 'q':
                        o->log_level = LOG_LEVEL_WARNING;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("mpxd %s (protocol %u)\n", MPX_VERSION, WIRE_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "mpxd: unexpected argument '%s'\n", argv[optind]);
                usage(stderr);
                return 2;
        }
        /* Messages before the configuration is read follow the command line already. */
        if (o->log_level >= 0)
                log_set_level((enum log_level) o->log_level);
        return -1;
}

/* Read the configuration file and apply the command line over it. */
static int load_config(struct config **ret, char **ret_errors) {
        struct config *c = NULL;
        int r;

        r = config_load(mpxd.config_path, mpxd.config_required, &c, ret_errors);
        if (r < 0)
                return r;
        r = config_override(c, &mpxd.overrides, ret_errors);
        if (r < 0) {
                config_free(c);
                return r;
        }
        *ret = c;
        return 0;
}

/* --check-config: say what is wrong, or that all is well; the exit status. */
static int check_config(void) {
        struct config *c = NULL;
        char *errors = NULL;
        int r = load_config(&c, &errors);

        if (r < 0) {
                fprintf(stderr, "%s\n", errors ? errors : strerror(-r));
                fprintf(stderr, "mpxd: %s is not valid\n", mpxd.config_path);
                free(errors);
                return 1;
        }
        if (c->path)
                printf("%s: valid; %zu object%s declared\n", c->path, c->n_objects, c->n_objects == 1 ? "" : "s");
        else
                printf("%s: no such file; the defaults apply\n", mpxd.config_path);
        config_free(c);
        return 0;
}

int main(int argc, char **argv) {
        struct config *c = NULL;
        char *errors = NULL, *line, *save = NULL;
        bool check = false;
        int status, r;

        if (mpxd_init() < 0) {
                fprintf(stderr, "mpxd: cannot create the event loop\n");
                return 1;
        }
        status = parse_args(argc, argv, &check);
        if (status < 0 && check)
                status = check_config();
        if (status >= 0) {
                mpxd_done();
                return status;
        }
        r = load_config(&c, &errors);
        if (r < 0) {
                for (line = errors ? strtok_r(errors, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save))
                        log_err("%s", line);
                if (!errors)
                        log_err("cannot read %s: %s", mpxd.config_path, strerror(-r));
                log_err("not starting: the configuration is not valid");
                free(errors);
                mpxd_done();
                return 1;
        }
        if (server_apply_config(c, false) < 0 || server_listen() < 0) {
                mpxd_done();
                return 1;
        }
        status = server_run();
        mpxd_done();
        log_info("stopped");
        return status;
}
