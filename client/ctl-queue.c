/* SPDX-License-Identifier: MIT */
/*
 * mpxctl queue: declare, put, get, done, touch, consume, join, close, size and purge on
 * queues and joinable queues, one libmpx call each.
 *
 * Payloads are bytes: put sends its DATA argument or all of stdin as is, and
 * get writes the payload to stdout as is, with no newline. Since mpxctl
 * exits right after a get, a joinable queue's item is taken detached, so it
 * stays unfinished until "queue done" instead of being redelivered when the
 * connection closes (on a plain queue the flag changes nothing).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mpxctl.h"

/* The arguments of a queue command; options a command does not take keep their defaults. */
struct queue_args {
        const char *name;               /* NAME, checked */
        const char *arg;                /* the optional argument after NAME, or NULL */
        int64_t timeout_ms;             /* --timeout, default forever */
        uint64_t maxsize;               /* --maxsize, default unbounded */
        bool joinable;                  /* --joinable */
        bool durable;                   /* --durable */
        int64_t ttr_ms;                 /* --ttr, -1 when not given */
};

/* --ttr S: seconds, as a timeout is written, into milliseconds that fit the wire's u32. */
static int queue_parse_ttr(struct ctl *ctl, const char *s, int64_t *ret_ms) {
        int r = ctl_parse_timeout(ctl, s, ret_ms);

        if (r != CTL_EXIT_OK)
                return r;
        if (*ret_ms < 0 || *ret_ms > UINT32_MAX)
                return ctl_usage_error(ctl, "bad time-to-run '%s' (0 to 4294967 seconds)", s);
        return CTL_EXIT_OK;
}

/*
 * Parse "COMMAND NAME [ARG]" (ARG when max_args is 2) with options into *a,
 * then connect. CTL_EXIT_OK, or what the command returns at once.
 */
static int queue_parse(struct ctl *ctl, int argc, char **argv, const struct option *options,
                       int max_args, struct queue_args *a) {
        int c, r;

        *a = (struct queue_args) { .timeout_ms = -1, .ttr_ms = -1 };
        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                switch (c) {
                case 't':
                        r = ctl_parse_timeout(ctl, optarg, &a->timeout_ms);
                        if (r != CTL_EXIT_OK)
                                return r;
                        break;
                case 'm':
                        r = ctl_parse_u64(ctl, "maxsize", optarg, &a->maxsize);
                        if (r != CTL_EXIT_OK)
                                return r;
                        break;
                case 'j':
                        a->joinable = true;
                        break;
                case 'D':
                        a->durable = true;
                        break;
                case 'T':
                        r = queue_parse_ttr(ctl, optarg, &a->ttr_ms);
                        if (r != CTL_EXIT_OK)
                                return r;
                        break;
                }
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        r = ctl_check_args(ctl, argc - optind, 1, max_args);
        if (r != CTL_EXIT_OK)
                return r;
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        a->name = argv[optind];
        a->arg = argc - optind > 1 ? argv[optind + 1] : NULL;
        return ctl_connect(ctl);
}

/* The options of a command that has none of its own. */
static const struct option queue_no_options[] = { CTL_OPTIONS_COMMON };

/* The options of a command that waits. */
static const struct option queue_timeout_options[] = {
        { "timeout", required_argument, NULL, 't' },
        CTL_OPTIONS_COMMON
};

/* mpxctl queue declare NAME [--maxsize N] [--joinable] [--durable] [--ttr S] */
static int queue_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "maxsize", required_argument, NULL, 'm' },
                { "joinable", no_argument, NULL, 'j' },
                { "durable", no_argument, NULL, 'D' },
                { "ttr", required_argument, NULL, 'T' },
                CTL_OPTIONS_COMMON
        };
        struct queue_args a;
        unsigned flags;
        int r;

        r = queue_parse(ctl, argc, argv, options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        flags = (a.joinable ? MPX_QUEUE_JOINABLE : 0) | (a.durable ? MPX_DURABLE : 0);
        if (a.ttr_ms >= 0)
                r = mpx_queue_declare_ttr(ctl->m, a.name, a.maxsize, flags, (uint32_t) a.ttr_ms);
        else
                r = mpx_queue_declare(ctl->m, a.name, a.maxsize, flags);
        if (r == -EINVAL && a.ttr_ms > 0 && !a.joinable)
                return ctl_fail(r, "queue", a.name, "a time-to-run needs --joinable");
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl queue put NAME [DATA] [--timeout S]: DATA, or all of stdin. */
static int queue_put(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        const char *data;
        char *input = NULL;
        size_t size = 0;
        int r;

        r = queue_parse(ctl, argc, argv, queue_timeout_options, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        data = a.arg;
        if (data)
                size = strlen(data);
        else {
                r = ctl_read_stdin(mpx_max_message(ctl->m), &input, &size);
                if (r == -EMSGSIZE)
                        return ctl_fail(r, "queue", a.name, NULL);
                if (r < 0) {
                        ctl_error("cannot read stdin: %s", strerror(-r));
                        return CTL_EXIT_FAILED;
                }
                data = input;
        }
        r = mpx_queue_put(ctl->m, a.name, data, size, a.timeout_ms);
        free(input);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, r == -EAGAIN ? "queue is full" : NULL);
        return CTL_EXIT_OK;
}

/* mpxctl queue get NAME [--timeout S]: the payload on stdout, or a JSON object. */
static int queue_get(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        mpx_item item;
        int r;

        r = queue_parse(ctl, argc, argv, queue_timeout_options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;

        /*
         * Detached, so that a joinable delivery outlives this connection,
         * which ends when mpxctl exits; a plain queue ignores the flag.
         */
        r = mpx_queue_get_flags(ctl->m, a.name, a.timeout_ms, MPX_GET_DETACH, &item);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, r == -EAGAIN ? "queue is empty" : NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"tag\":%" PRIu64 ",\"deliveries\":%" PRIu32 ",\"data\":",
                       item.tag, item.deliveries);
                ctl_json_string(item.data, item.size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(item.data, item.size);
        mpx_item_clear(&item);
        return CTL_EXIT_OK;
}

/* mpxctl queue done NAME [TAG]: finish a delivery, by tag or the oldest one. */
static int queue_done(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        uint64_t tag = 0;
        int r;

        r = queue_parse(ctl, argc, argv, queue_no_options, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.arg) {
                r = ctl_parse_u64(ctl, "tag", a.arg, &tag);
                if (r != CTL_EXIT_OK)
                        return r;
        }
        r = mpx_queue_task_done(ctl->m, a.name, tag);
        if (r == -EINVAL && tag == 0)
                return ctl_fail(r, "queue", a.name, "no unfinished delivery to mark done");
        if (r == -ENOENT && tag != 0)
                return ctl_fail(r, "queue", a.name, "no such queue or delivery tag");
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl queue touch NAME TAG: restart the lease of a delivery. */
static int queue_touch(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        uint64_t tag = 0;
        int r;

        r = queue_parse(ctl, argc, argv, queue_no_options, 2, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (!a.arg)
                return ctl_usage_error(ctl, "touch needs a delivery TAG");
        r = ctl_parse_u64(ctl, "tag", a.arg, &tag);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_touch(ctl->m, a.name, tag);
        if (r == -ENOENT)
                return ctl_fail(r, "queue", a.name, "no such queue or delivery tag (done, or its lease ran out)");
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        return CTL_EXIT_OK;
}

/*
 * mpxctl queue consume: how often to touch a delivery while its command
 * runs, a third of its TTR (--ttr, else the queue's), so that a late touch
 * still lands in time; -1 (never) for deliveries without a lease.
 */
static int consume_touch_interval(mpx *m, const char *name, int64_t ttr) {
        mpx_info info;
        const mpx_field *f;

        if (ttr < 0 && mpx_object_info(m, name, &info) >= 0) {
                f = mpx_info_get(&info, "ttr_ms");
                if (f && !f->is_str)
                        ttr = f->num;
                mpx_info_clear(&info);
        }
        if (ttr <= 0)
                return -1;
        return ttr / 3 > 0 ? (int) (ttr / 3) : 1;
}

/* A memory file holding the payload, at offset 0, to be the command's stdin; -1 on failure. */
static int consume_stdin(const mpx_item *item) {
        int fd = memfd_create("mpx-item", MFD_CLOEXEC);
        const char *p = item->data;
        size_t left = item->size;

        if (fd < 0)
                return -1;
        while (left > 0) {
                ssize_t n = write(fd, p, left);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        close(fd);
                        return -1;
                }
                p += n;
                left -= (size_t) n;
        }
        if (lseek(fd, 0, SEEK_SET) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* Start COMMAND with the item on its stdin and MPX_TAG, MPX_DELIVERIES set; its pid or -1. */
static pid_t consume_spawn(char **command, const mpx_item *item) {
        char tag[24], deliveries[16];
        int fd = consume_stdin(item);
        pid_t pid;

        if (fd < 0)
                return -1;
        snprintf(tag, sizeof(tag), "%" PRIu64, item->tag);
        snprintf(deliveries, sizeof(deliveries), "%" PRIu32, item->deliveries);
        fflush(stdout);
        pid = fork();
        if (pid == 0) {
                if (dup2(fd, STDIN_FILENO) < 0 || setenv("MPX_TAG", tag, 1) < 0 ||
                    setenv("MPX_DELIVERIES", deliveries, 1) < 0)
                        _exit(127);
                execvp(command[0], command);
                fprintf(stderr, "mpxctl: cannot run %s: %s\n", command[0], strerror(errno));
                _exit(127);
        }
        close(fd);
        return pid;
}

/*
 * Wait for the command, touching the delivery every interval_ms (-1:
 * never). Its wait status, or -1 if it cannot be waited for.
 */
static int consume_wait(mpx *m, const char *name, uint64_t tag, pid_t pid, int interval_ms) {
        int pidfd = (int) syscall(SYS_pidfd_open, pid, 0);
        int status;

        if (pidfd < 0)
                return waitpid(pid, &status, 0) == pid ? status : -1;
        for (;;) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                int r = poll(&p, 1, interval_ms);

                if (r < 0 && errno != EINTR)
                        break;
                if (r == 0) {
                        r = mpx_queue_touch(m, name, tag);
                        if (r < 0)
                                ctl_error("queue '%s': cannot extend the lease of delivery %" PRIu64 ": %s", name,
                                          tag, mpx_strerror(r));
                        continue;
                }
                if (r > 0)
                        break;
        }
        close(pidfd);
        return waitpid(pid, &status, 0) == pid ? status : -1;
}

/*
 * Give a delivery back at once: it is attached to this connection, so
 * closing the connection puts it back at the head of the queue, with
 * deliveries + 1 at its next get, exactly as if mpxctl had died.
 */
static int consume_give_back(struct ctl *ctl) {
        ctl->m = mpx_disconnect(ctl->m);
        return ctl_connect(ctl);
}

/*
 * mpxctl queue consume NAME [-n N] [--ttr S] -- COMMAND [ARGS...]: run
 * COMMAND once per item; done when it exits 0, given back at once
 * otherwise. The items are taken attached, so they come back if mpxctl
 * itself dies.
 */
static int queue_consume(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "count", required_argument, NULL, 'n' },
                { "ttr", required_argument, NULL, 'T' },
                CTL_OPTIONS_COMMON
        };
        uint64_t count = 0, handled = 0, done = 0;
        int64_t ttr = -1;
        uint32_t lease;
        int c, r, interval, result = CTL_EXIT_OK;
        const char *name;

        while ((c = ctl_getopt(ctl, argc, argv, options)) >= 0) {
                if (c == 'n')
                        r = ctl_parse_u64(ctl, "count", optarg, &count);
                else if (c == 'T')
                        r = queue_parse_ttr(ctl, optarg, &ttr);
                else
                        continue;
                if (r != CTL_EXIT_OK)
                        return r;
        }
        if (c == CTL_GETOPT_STOP)
                return ctl->stop_status;
        if (argc - optind < 2)
                return ctl_usage_error(ctl, "consume needs a queue NAME and a COMMAND");
        r = ctl_check_name(ctl, argv[optind]);
        if (r != CTL_EXIT_OK)
                return r;
        name = argv[optind];
        lease = ttr > 0 ? (uint32_t) ttr : 0;
        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        interval = consume_touch_interval(ctl->m, name, ttr);
        while (count == 0 || handled < count) {
                mpx_item item;
                pid_t pid;
                int status;

                /* The item done before is finished by the request that takes the next: one round trip. */
                if (done) {
                        r = mpx_queue_done_get(ctl->m, name, done, -1, 0, lease, &item);
                        done = 0;
                        if (r == -ENOENT || r == -EINVAL) {
                                /* Refused, nothing else happened (the lease ran out, the queue went). */
                                result = ctl_fail(r, "queue", name, "cannot mark the item done");
                                continue;
                        }
                } else
                        r = mpx_queue_get_ttr(ctl->m, name, -1, 0, lease, &item);
                if (r == -EPIPE)
                        break;          /* closed and drained: the end of the stream */
                if (r < 0)
                        return ctl_fail(r, "queue", name, NULL);
                handled++;
                pid = consume_spawn(argv + optind + 1, &item);
                status = pid < 0 ? -1 : consume_wait(ctl->m, name, item.tag, pid, interval);
                if (item.tag == 0) {
                        /* A plain queue's item left the daemon when taken: nothing to mark or give back. */
                        if (status < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
                                result = CTL_EXIT_FAILED;
                } else if (status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                        done = item.tag;
                } else {
                        if (status >= 0 && WIFSIGNALED(status))
                                ctl_error("queue '%s': %s killed by signal %d; item given back", name,
                                          argv[optind + 1], WTERMSIG(status));
                        else
                                ctl_error("queue '%s': %s failed; item given back", name, argv[optind + 1]);
                        result = CTL_EXIT_FAILED;
                        r = consume_give_back(ctl);
                        if (r != CTL_EXIT_OK) {
                                mpx_item_clear(&item);
                                return r;
                        }
                }
                mpx_item_clear(&item);
        }
        /* The last item, when the count was reached: no next get to finish it with. */
        if (done) {
                r = mpx_queue_task_done(ctl->m, name, done);
                if (r < 0)
                        result = ctl_fail(r, "queue", name, "cannot mark the item done");
        }
        return result;
}

/* mpxctl queue join NAME [--timeout S]: wait until every item is done. */
static int queue_join(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        int r;

        r = queue_parse(ctl, argc, argv, queue_timeout_options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_join(ctl->m, a.name, a.timeout_ms);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, r == -EAGAIN ? "items are unfinished" : NULL);
        return CTL_EXIT_OK;
}

/* mpxctl queue close NAME */
static int queue_close(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        int r;

        r = queue_parse(ctl, argc, argv, queue_no_options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_close(ctl->m, a.name);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        return CTL_EXIT_OK;
}

/* mpxctl queue size NAME: the number of items waiting (JSON: the whole status). */
static int queue_size(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        mpx_queue_status st;
        int r;

        r = queue_parse(ctl, argc, argv, queue_no_options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_stat(ctl->m, a.name, &st);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"size\":%" PRIu64 ",\"maxsize\":%" PRIu64 ",\"unfinished\":%" PRIu64
                       ",\"closed\":%s}\n",
                       st.size, st.maxsize, st.unfinished, st.closed ? "true" : "false");
        } else
                printf("%" PRIu64 "\n", st.size);
        return CTL_EXIT_OK;
}

/* mpxctl queue purge NAME: drop the waiting items and say how many. */
static int queue_purge(struct ctl *ctl, int argc, char **argv) {
        struct queue_args a;
        int64_t removed;
        int r;

        r = queue_parse(ctl, argc, argv, queue_no_options, 1, &a);
        if (r != CTL_EXIT_OK)
                return r;
        removed = mpx_queue_purge(ctl->m, a.name);
        if (removed < 0)
                return ctl_fail((int) removed, "queue", a.name, NULL);
        if (ctl->json) {
                fputs("{\"name\":", stdout);
                ctl_json_string(a.name, strlen(a.name));
                printf(",\"removed\":%" PRId64 "}\n", removed);
        } else
                printf("%" PRId64 "\n", removed);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_queue_commands[] = {
        { "declare", "NAME [--maxsize N] [--joinable] [--durable] [--ttr S]",
          "create a queue, or check that it exists so", queue_declare, NULL },
        { "put", "NAME [DATA] [--timeout S]", "add an item: DATA, or all of stdin", queue_put, NULL },
        { "get", "NAME [--timeout S]", "take the oldest item and write it to stdout", queue_get, NULL },
        { "done", "NAME [TAG]", "mark a joinable queue's delivery finished", queue_done, NULL },
        { "touch", "NAME TAG", "extend the lease of a joinable queue's delivery", queue_touch, NULL },
        { "consume", "NAME [-n N] [--ttr S] -- COMMAND [ARGS...]",
          "run COMMAND once per item, the item on its stdin; done when it exits 0", queue_consume, NULL },
        { "join", "NAME [--timeout S]", "wait until every item of a joinable queue is done",
          queue_join, NULL },
        { "close", "NAME", "refuse further puts; getters drain what is left", queue_close, NULL },
        { "size", "NAME", "print the number of items waiting", queue_size, NULL },
        { "purge", "NAME", "drop every waiting item and print how many", queue_purge, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
