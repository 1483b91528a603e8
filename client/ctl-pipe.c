/* SPDX-License-Identifier: MIT */
/*
 * mpxctl pipe open: meet another process at a pipe name from the shell.
 *
 * Once the daemon has paired the two parties, mpxctl holds one end of a
 * plain pipe (--read, --write) or socket (--duplex), and the daemon is out
 * of the way. Bytes are copied raw, not framed as mpx_pipe_send() frames
 * them, so the other side is any program that reads or writes plain bytes:
 *
 *  - without COMMAND, --read copies what arrives to stdout until the writer
 *    closes, --write copies stdin to the pipe until end of file, and
 *    --duplex does both at once (stdin to the peer, the peer to stdout; at
 *    the end of stdin the sending half is shut down, and mpxctl exits when
 *    the peer has closed);
 *  - with COMMAND, mpxctl becomes COMMAND (exec, no fork): the end is its
 *    stdin (--read), its stdout (--write) or both (--duplex), and its exit
 *    status is mpxctl's.
 *
 * A waiting mpxctl that is interrupted simply goes: the daemon drops a
 * party whose connection closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpxctl.h"

/* Copy buffer: as large as a default pipe's capacity. */
#define PIPE_COPY_CHUNK (64u * 1024)

/* The help that --help adds after the usage line and the summary. */
static const char pipe_open_help[] =
        "\n"
        "Wait (up to --timeout seconds; forever by default) for another process to open\n"
        "NAME, then take one end of the channel the daemon makes for the two of you:\n"
        "  -r, --read      pairs with a writer; this side gets the read end of a pipe\n"
        "  -w, --write     pairs with a reader; this side gets the write end\n"
        "  -d, --duplex    pairs with another duplex party: a socket (the default)\n"
        "  -t, --timeout S give up after S seconds (0: only if a partner waits already)\n"
        "\n"
        "Without COMMAND: --read copies what arrives to stdout until the writer closes;\n"
        "--write copies stdin to the pipe until end of file; --duplex copies both ways\n"
        "and exits when the other side closes. Bytes are copied raw (no message framing).\n"
        "\n"
        "With COMMAND: mpxctl runs COMMAND in its place, with the pipe end as its stdin\n"
        "(--read), its stdout (--write) or both (--duplex), and exits with its status.\n"
        "\n"
        "Exit status: 0 done, 1 no partner came (timeout) or the other side went away,\n"
        "2 usage, 3 no daemon; with COMMAND, COMMAND's status (127: not found).\n";

/* What "pipe open" was given. */
struct pipe_args {
        struct ctl_args args;           /* NAME and --timeout */
        int mode;                       /* MPX_PIPE_*, default duplex */
        int modes;                      /* how many of --read, --write and --duplex were given */
        char **cmd;                     /* NULL-terminated COMMAND, or NULL */
};

/* --read, --write or --duplex: the last one given is the mode. */
static int pipe_option(struct ctl *ctl, int c, const char *arg, void *userdata) {
        struct pipe_args *a = userdata;

        a->mode = c == 'r' ? MPX_PIPE_READ : c == 'w' ? MPX_PIPE_WRITE : MPX_PIPE_DUPLEX;
        a->modes++;
        return CTL_EXIT_OK;
}

/* Parse "open NAME [options] [-- COMMAND ...]" into *a. CTL_EXIT_OK or what to return at once. */
static int pipe_parse(struct ctl *ctl, int argc, char **argv, struct pipe_args *a) {
        static const struct option options[] = {
                { "read", no_argument, NULL, 'r' },
                { "write", no_argument, NULL, 'w' },
                { "duplex", no_argument, NULL, 'd' },
                CTL_OPTION_TIMEOUT,
                CTL_OPTIONS_COMMON
        };
        int first, split, r;

        *a = (struct pipe_args) { .mode = MPX_PIPE_DUPLEX };
        /* Only what comes before COMMAND is mpxctl's. */
        split = ctl_split_command(argc, argv, options, &first);
        r = ctl_parse(ctl, split, argv,
                      &(struct ctl_syntax) { .options = options, .flags = CTL_ARGS_RAW, .option = pipe_option }, a,
                      &a->args);
        if (r == CTL_EXIT_DONE)
                fputs(pipe_open_help, stdout);
        if (r != CTL_EXIT_OK)
                return r;
        if (a->modes > 1)
                return ctl_usage_error(ctl, "give one of --read, --write and --duplex");
        r = ctl_parse_name(ctl, 0, 0, &a->args);
        if (r != CTL_EXIT_OK)
                return r;
        if (split < argc && strcmp(argv[split], "--") == 0 && first >= argc)
                return ctl_usage_error(ctl, "missing COMMAND after --");
        a->cmd = first < argc ? argv + first : NULL;
        return CTL_EXIT_OK;
}

/* Write all of size bytes to fd: 0 or a negative errno. */
static int write_all(int fd, const char *p, size_t size) {
        while (size > 0) {
                ssize_t n = write(fd, p, size);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t) n;
        }
        return 0;
}

/*
 * Move what one read() of from gives to to: bytes moved, 0 at end of file,
 * or a negative errno, with *ret_failed_fd the descriptor that failed.
 */
static ssize_t copy_once(int from, int to, char *buf, int *ret_failed_fd) {
        ssize_t n;
        int r;

        do
                n = read(from, buf, PIPE_COPY_CHUNK);
        while (n < 0 && errno == EINTR);
        *ret_failed_fd = from;
        if (n < 0)
                return errno == ECONNRESET ? 0 : -errno;
        if (n == 0)
                return 0;
        *ret_failed_fd = to;
        r = write_all(to, buf, (size_t) n);
        return r < 0 ? r : n;
}

/* Report a failed copy: the peer went away, or a read or write error on one side. */
static int pipe_copy_failed(const char *name, ssize_t r, bool on_peer) {
        if (on_peer && (r == -EPIPE || r == -ECONNRESET))
                return ctl_fail(-EPIPE, "pipe", name, "the other side closed the pipe");
        return ctl_fail((int) r, "pipe", name, strerror((int) -r));
}

/* --read or --write without COMMAND: copy until end of file. */
static int pipe_copy_simplex(const char *name, int fd, int mode) {
        int from = mode == MPX_PIPE_READ ? fd : STDIN_FILENO;
        int to = mode == MPX_PIPE_READ ? STDOUT_FILENO : fd;
        char *buf = malloc(PIPE_COPY_CHUNK);
        int failed = -1;
        ssize_t r;

        if (!buf)
                return ctl_fail(-ENOMEM, "pipe", name, NULL);
        while ((r = copy_once(from, to, buf, &failed)) > 0)
                ;
        free(buf);
        if (r < 0)
                return pipe_copy_failed(name, r, failed == fd);
        return CTL_EXIT_OK;
}

/* --duplex without COMMAND: stdin to the peer and the peer to stdout, until the peer closes. */
static int pipe_copy_duplex(const char *name, int fd) {
        struct pollfd p[2] = {
                { .fd = STDIN_FILENO, .events = POLLIN },
                { .fd = fd, .events = POLLIN },
        };
        char *buf = malloc(PIPE_COPY_CHUNK);
        int failed = -1;
        ssize_t r = 0;

        if (!buf)
                return ctl_fail(-ENOMEM, "pipe", name, NULL);
        for (;;) {
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                if (p[1].revents) {
                        r = copy_once(fd, STDOUT_FILENO, buf, &failed);
                        if (r <= 0)
                                break;
                }
                if (p[0].revents) {
                        r = copy_once(STDIN_FILENO, fd, buf, &failed);
                        if (r < 0)
                                break;
                        if (r == 0) {
                                /* End of our input: tell the peer, and go on reading until it closes. */
                                (void) shutdown(fd, SHUT_WR);
                                p[0].fd = -1;
                        }
                }
        }
        free(buf);
        if (r < 0)
                return pipe_copy_failed(name, r, failed == fd);
        return CTL_EXIT_OK;
}

/* Make fd the descriptor target in this process, inherited by programs it runs: 0 or -errno. */
static int pipe_install(int fd, int target) {
        if (fd == target)
                return fcntl(fd, F_SETFD, 0) < 0 ? -errno : 0;
        return dup2(fd, target) < 0 ? -errno : 0;
}

/* Become COMMAND with the end as its stdin, stdout or both; returns only on failure. */
static int pipe_exec(const char *name, int fd, int mode, char **cmd) {
        int r = 0;

        if (mode != MPX_PIPE_WRITE)
                r = pipe_install(fd, STDIN_FILENO);
        if (r >= 0 && mode != MPX_PIPE_READ)
                r = pipe_install(fd, STDOUT_FILENO);
        if (r < 0)
                return ctl_fail(r, "pipe", name, strerror(-r));
        if (fd != STDIN_FILENO && fd != STDOUT_FILENO)
                close(fd);
        fflush(NULL);
        execvp(cmd[0], cmd);
        r = errno;
        ctl_error("cannot run '%s': %s", cmd[0], strerror(r));
        return r == ENOENT ? 127 : 126;
}

/* mpxctl pipe open NAME [--read | --write | --duplex] [--timeout S] [-- COMMAND [ARGS...]] */
static int pipe_open(struct ctl *ctl, int argc, char **argv) {
        struct pipe_args a;
        int fd = -1, r;

        r = pipe_parse(ctl, argc, argv, &a);
        if (r == CTL_EXIT_OK)
                r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_pipe_open(ctl->m, a.args.name, a.mode, a.args.timeout_ms, &fd);
        if (r < 0)
                return ctl_fail(r, "pipe", a.args.name,
                                r == -EAGAIN ? "no partner is waiting" :
                                r == -ETIMEDOUT ? "no partner came" : NULL);
        /* The daemon has no part in what follows: let the connection go now. */
        ctl->m = mpx_disconnect(ctl->m);
        if (a.cmd)
                return pipe_exec(a.args.name, fd, a.mode, a.cmd);
        /*
         * A peer that went away is reported, not a signal that kills mpxctl.
         * --read writes only to stdout, and keeps SIGPIPE as cat(1) does, so
         * that "mpxctl pipe open NAME --read | head" ends quietly.
         */
        if (a.mode != MPX_PIPE_READ)
                signal(SIGPIPE, SIG_IGN);
        if (a.mode == MPX_PIPE_DUPLEX)
                r = pipe_copy_duplex(a.args.name, fd);
        else
                r = pipe_copy_simplex(a.args.name, fd, a.mode);
        close(fd);
        return r;
}

/* The pipe group of mpxctl: one command, open. */
const struct ctl_command ctl_pipe_commands[] = {
        { "open", "NAME [--read | --write | --duplex] [--timeout S] [-- COMMAND [ARGS...]]",
          "meet another process at NAME and copy bytes through the pipe, or run COMMAND on it",
          pipe_open, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
