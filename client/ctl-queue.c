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

/* --ttr S: seconds, as a timeout is written, into milliseconds (at userdata) that fit the wire's u32. */
static int queue_ttr_option(struct ctl *ctl, int c, const char *s, void *userdata) {
        int64_t *ms = userdata;
        int r;

        if (c != 'T')
                return CTL_EXIT_OK;
        r = ctl_parse_timeout(ctl, s, ms);
        if (r != CTL_EXIT_OK)
                return r;
        if (*ms < 0 || *ms > UINT32_MAX)
                return ctl_usage_error(ctl, "bad time-to-run '%s' (0 to 4294967 seconds)", s);
        return CTL_EXIT_OK;
}

/*
 * Parse "COMMAND NAME [ARG]" (ARG when max is 1) with options into *a and
 * the --ttr of those that take one into *ttr_ms (-1 when not given), then
 * connect. CTL_EXIT_OK, or what the command returns at once.
 */
static int queue_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, int max,
                       struct ctl_args *a, int64_t *ttr_ms) {
        if (ttr_ms)
                *ttr_ms = -1;
        return ctl_parse(ctl, argc, argv,
                         &(struct ctl_syntax) {
                                 .options = options,
                                 .flags = CTL_ARGS_CONNECT,
                                 .max = max,
                                 .numbers = "m",
                                 .option = queue_ttr_option,
                         },
                         ttr_ms, a);
}

/* mpxctl queue declare NAME [--maxsize N] [--joinable] [--durable] [--ttr S] */
static int queue_declare(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "maxsize", required_argument, NULL, 'm' },
                { "joinable", no_argument, NULL, 'j' },
                CTL_OPTION_DURABLE,
                { "ttr", required_argument, NULL, 'T' },
                CTL_OPTIONS_COMMON
        };
        uint64_t maxsize;
        struct ctl_args a;
        int64_t ttr_ms;
        unsigned flags;
        int r;

        r = queue_parse(ctl, argc, argv, options, 0, &a, &ttr_ms);
        if (r != CTL_EXIT_OK)
                return r;
        maxsize = ctl_number(&a, 'm', 0);
        flags = (ctl_given(&a, 'j') ? MPX_QUEUE_JOINABLE : 0) | (ctl_given(&a, 'D') ? MPX_DURABLE : 0);
        if (ttr_ms >= 0)
                r = mpx_queue_declare_ttr(ctl->m, a.name, maxsize, flags, (uint32_t) ttr_ms);
        else
                r = mpx_queue_declare(ctl->m, a.name, maxsize, flags);
        if (r == -EINVAL && ttr_ms > 0 && !ctl_given(&a, 'j'))
                return ctl_fail(r, "queue", a.name, "a time-to-run needs --joinable");
        return ctl_status(r, "queue", a.name, NULL);
}

/* mpxctl queue put NAME [DATA] [--timeout S]: DATA, or all of stdin. */
static int queue_put(struct ctl *ctl, int argc, char **argv) {
        struct ctl_payload data;
        struct ctl_args a;
        int r;

        r = queue_parse(ctl, argc, argv, ctl_timeout_options, 1, &a, NULL);
        if (r == CTL_EXIT_OK)
                r = ctl_payload(ctl, "queue", a.name, a.n > 0 ? a.pos[0] : NULL, &data);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_put(ctl->m, a.name, data.data, data.size, a.timeout_ms);
        ctl_payload_done(&data);
        return ctl_status(r, "queue", a.name, r == -EAGAIN ? "queue is full" : NULL);
}

/* mpxctl queue get NAME [--timeout S]: the payload on stdout, or a JSON object. */
static int queue_get(struct ctl *ctl, int argc, char **argv) {
        struct ctl_args a;
        mpx_item item;
        int r;

        r = queue_parse(ctl, argc, argv, ctl_timeout_options, 0, &a, NULL);
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
                ctl_json_name(a.name);
                printf(",\"tag\":%" PRIu64 ",\"deliveries\":%" PRIu32 ",\"data\":",
                       item.tag, item.deliveries);
                ctl_json_string(item.data, item.size);
                fputs("}\n", stdout);
        } else
                ctl_print_payload(item.data, item.size);
        mpx_item_clear(&item);
        return CTL_EXIT_OK;
}

/*
 * mpxctl queue done NAME [TAG] and mpxctl queue touch NAME TAG: finish a
 * delivery, by tag or the oldest one, or restart its lease.
 */
static int queue_tag_cmd(struct ctl *ctl, int argc, char **argv) {
        bool touch = ctl_is(ctl, "touch");
        struct ctl_args a;
        uint64_t tag = 0;
        int r;

        r = queue_parse(ctl, argc, argv, ctl_no_options, 1, &a, NULL);
        if (r == CTL_EXIT_OK && touch && a.n == 0)
                r = ctl_usage_error(ctl, "touch needs a delivery TAG");
        if (r == CTL_EXIT_OK && a.n > 0)
                r = ctl_parse_u64(ctl, "tag", a.pos[0], &tag);
        if (r != CTL_EXIT_OK)
                return r;
        if (touch) {
                r = mpx_queue_touch(ctl->m, a.name, tag);
                if (r == -ENOENT)
                        return ctl_fail(r, "queue", a.name,
                                        "no such queue or delivery tag (done, or its lease ran out)");
                return ctl_status(r, "queue", a.name, NULL);
        }
        r = mpx_queue_task_done(ctl->m, a.name, tag);
        return ctl_status(r, "queue", a.name,
                          r == -EINVAL && tag == 0 ? "no unfinished delivery to mark done" :
                          r == -ENOENT && tag != 0 ? "no such queue or delivery tag" : NULL);
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
        uint64_t count, handled = 0, done = 0;
        int r, interval, result = CTL_EXIT_OK;
        struct ctl_args a;
        int64_t ttr = -1;
        const char *name;
        uint32_t lease;

        r = ctl_parse(ctl, argc, argv,
                      &(struct ctl_syntax) {
                              .options = options,
                              .flags = CTL_ARGS_RAW,
                              .numbers = "n",
                              .option = queue_ttr_option,
                      },
                      &ttr, &a);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n < 2)
                return ctl_usage_error(ctl, "consume needs a queue NAME and a COMMAND");
        r = ctl_check_name(ctl, a.pos[0]);
        if (r != CTL_EXIT_OK)
                return r;
        name = a.pos[0];
        count = ctl_number(&a, 'n', 0);
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
                pid = consume_spawn(a.pos + 1, &item);
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
                                          a.pos[1], WTERMSIG(status));
                        else
                                ctl_error("queue '%s': %s failed; item given back", name, a.pos[1]);
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
        struct ctl_args a;
        int r;

        r = queue_parse(ctl, argc, argv, ctl_timeout_options, 0, &a, NULL);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_queue_join(ctl->m, a.name, a.timeout_ms);
        return ctl_status(r, "queue", a.name, r == -EAGAIN ? "items are unfinished" : NULL);
}

/* mpxctl queue close NAME */
static int queue_close(struct ctl *ctl, int argc, char **argv) {
        return ctl_call_cmd(ctl, argc, argv, mpx_queue_close);
}

/*
 * mpxctl queue size NAME: the number of items waiting (JSON: the whole
 * status); mpxctl queue purge NAME: drop the waiting items and say how many.
 */
static int queue_count_cmd(struct ctl *ctl, int argc, char **argv) {
        mpx_queue_status st;
        struct ctl_args a;
        int r;

        r = queue_parse(ctl, argc, argv, ctl_no_options, 0, &a, NULL);
        if (r != CTL_EXIT_OK)
                return r;
        if (ctl_is(ctl, "purge"))
                return ctl_print_count(ctl, "queue", a.name, "removed", mpx_queue_purge(ctl->m, a.name));
        r = mpx_queue_stat(ctl->m, a.name, &st);
        if (r < 0)
                return ctl_fail(r, "queue", a.name, NULL);
        if (ctl->json) {
                ctl_json_name(a.name);
                printf(",\"size\":%" PRIu64 ",\"maxsize\":%" PRIu64 ",\"unfinished\":%" PRIu64
                       ",\"closed\":%s}\n",
                       st.size, st.maxsize, st.unfinished, st.closed ? "true" : "false");
        } else
                printf("%" PRIu64 "\n", st.size);
        return CTL_EXIT_OK;
}

const struct ctl_command ctl_queue_commands[] = {
        { "declare", "NAME [--maxsize N] [--joinable] [--durable] [--ttr S]",
          "create a queue, or check that it exists so", queue_declare, NULL },
        { "put", "NAME [DATA] [--timeout S]", "add an item: DATA, or all of stdin", queue_put, NULL },
        { "get", "NAME [--timeout S]", "take the oldest item and write it to stdout", queue_get, NULL },
        { "done", "NAME [TAG]", "mark a joinable queue's delivery finished", queue_tag_cmd, NULL },
        { "touch", "NAME TAG", "extend the lease of a joinable queue's delivery", queue_tag_cmd, NULL },
        { "consume", "NAME [-n N] [--ttr S] -- COMMAND [ARGS...]",
          "run COMMAND once per item, the item on its stdin; done when it exits 0", queue_consume, NULL },
        { "join", "NAME [--timeout S]", "wait until every item of a joinable queue is done",
          queue_join, NULL },
        { "close", "NAME", "refuse further puts; getters drain what is left", queue_close, NULL },
        { "size", "NAME", "print the number of items waiting", queue_count_cmd, NULL },
        { "purge", "NAME", "drop every waiting item and print how many", queue_count_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
