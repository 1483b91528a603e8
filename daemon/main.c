/* SPDX-License-Identifier: MIT */
/*
 * mpxd: the command line, and the daemon's life from start to exit. This is
 * the only file that calls exit().
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpxd.h"

/* A payload plus its request header and name must fit in one frame. */
#define MAX_MESSAGE_LIMIT (WIRE_DEFAULT_MAX_FRAME - 1024)

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mpxd [OPTION]...\n"
                "Serve mpx queues to local processes over an AF_UNIX socket.\n"
                "\n"
                "  -s, --socket PATH        listen on PATH (default %s)\n"
                "  -m, --socket-mode MODE   permissions of the socket file, octal (default 0660)\n"
                "      --max-message BYTES  largest payload accepted (default %u)\n"
                "  -v, --verbose            log every request (debug level)\n"
                "  -q, --quiet              log warnings and errors only\n"
                "  -h, --help               show this help and exit\n"
                "  -V, --version            show the version and exit\n",
                "/run/mpxd/mpxd.sock", WIRE_DEFAULT_MAX_MESSAGE);
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

/* Parse argv into mpxd's settings; returns -1 to go on, else an exit status. */
static int parse_args(int argc, char **argv) {
        enum { OPT_MAX_MESSAGE = 0x100 };
        static const struct option options[] = {
                { "socket", required_argument, NULL, 's' },
                { "socket-mode", required_argument, NULL, 'm' },
                { "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
                { "verbose", no_argument, NULL, 'v' },
                { "quiet", no_argument, NULL, 'q' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {},
        };
        unsigned long v;
        int c;

        mpxd.socket_path = "/run/mpxd/mpxd.sock";
        while ((c = getopt_long(argc, argv, "s:m:vqhV", options, NULL)) >= 0) {
                switch (c) {
                case 's':
                        mpxd.socket_path = optarg;
                        break;
                case 'm':
                        if (!parse_number(optarg, 8, 0, 0777, &v)) {
                                fprintf(stderr, "mpxd: --socket-mode: '%s' is not an octal mode\n", optarg);
                                return 2;
                        }
                        mpxd.socket_mode = (unsigned) v;
                        break;
                case OPT_MAX_MESSAGE:
                        if (!parse_number(optarg, 10, 1, MAX_MESSAGE_LIMIT, &v)) {
                                fprintf(stderr, "mpxd: --max-message: '%s' is not a size from 1 to %u\n",
                                        optarg, MAX_MESSAGE_LIMIT);
                                return 2;
                        }
                        mpxd.max_message = (uint32_t) v;
                        break;
                case 'v':
                        log_set_level(LOG_LEVEL_DEBUG);
                        break;
                case 'q':
                        log_set_level(LOG_LEVEL_WARNING);
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
        return -1;
}

int main(int argc, char **argv) {
        int status, r;

        if (mpxd_init() < 0) {
                fprintf(stderr, "mpxd: cannot create the event loop\n");
                return 1;
        }
        status = parse_args(argc, argv);
        if (status >= 0) {
                mpxd_done();
                return status;
        }
        r = server_listen();
        if (r < 0) {
                mpxd_done();
                return 1;
        }
        status = server_run();
        mpxd_done();
        log_info("stopped");
        return status;
}
