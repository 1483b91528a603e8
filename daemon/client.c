/* SPDX-License-Identifier: MIT */
/*
 * One client connection: its socket, its input and output buffers, framing,
 * and its end. A client reads with one persistent libevent read event and
 * plain read(); replies are appended to its output buffer and written with
 * plain write() once the current event is handled, so that a pipelined batch
 * of requests is answered with one write. Only when the socket is full does
 * a write event wait for room (bufferevents cost a third to a half of the
 * throughput here). While too much of a client's output is unsent
 * (limits.max_output, or CLIENT_MAX_OUT_FDS descriptors) its requests wait
 * in its input buffer and it is not read, until it has read enough.
 *
 * A client's life is one state (enum client_state: new, ready, closing,
 * overflowed, dead) that only client_set_state() changes. A lost client is
 * unlinked at once and freed from a zero-timeout event, so that nothing on
 * the stack of its own callback touches freed memory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <unistd.h>

#include "client-internal.h"
#include "client.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "queue.h"
#include "user.h"
#include "wait.h"
#include "wire.h"

/* Read at least this much at a time. */
#define CLIENT_READ_CHUNK (64u * 1024)

/*
 * The most descriptors (ARRAY_MAP replies) queued for one client before its
 * requests wait: each is an open file of the daemon until it is sent.
 */
#define CLIENT_MAX_OUT_FDS 64u

/* A descriptor to pass with the reply frame at offset in the output buffer. */
struct out_fd {
        TAILQ_ENTRY(out_fd) link;
        size_t offset;
        int fd;
};

static void client_read_cb(evutil_socket_t fd, short what, void *arg);
static void client_write_cb(evutil_socket_t fd, short what, void *arg);
static void client_process_input(struct client *c);

/* The command name of the peer, from /proc/PID/comm; empty if it cannot be read. */
static void client_read_comm(struct client *c) {
        char path[32];
        ssize_t n;
        int fd;

        c->comm[0] = '\0';
        if (c->shared.pid <= 0)
                return;
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long) c->shared.pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        n = read(fd, c->comm, sizeof(c->comm) - 1);
        close(fd);
        if (n <= 0)
                n = 0;
        while (n > 0 && (c->comm[n - 1] == '\n' || c->comm[n - 1] == '\0'))
                n--;
        c->comm[n] = '\0';
}

/*
 * The supplementary groups of pid from the Groups: line of /proc/PID/status,
 * if that process still runs as uid (the pid is the one the connection had,
 * and might have been reused): 0 and a malloc'ed array (NULL when empty), or
 * a negative errno.
 */
static int proc_read_groups(pid_t pid, uid_t uid, gid_t **ret, size_t *ret_n) {
        char path[64], *line = NULL;
        gid_t *groups = NULL;
        size_t n = 0, cap = 0;
        bool uid_ok = false, seen = false;
        int err = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%ld/status", (long) pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (getline(&line, &cap, f) > 0) {
                unsigned long real, effective;

                if (strncmp(line, "Uid:", 4) == 0 && sscanf(line + 4, "%lu %lu", &real, &effective) == 2)
                        uid_ok = effective == uid;
                else if (strncmp(line, "Groups:", 7) == 0) {
                        char *p = line + 7, *end;

                        seen = true;
                        for (;;) {
                                unsigned long g = strtoul(p, &end, 10);
                                gid_t *grown;

                                if (end == p)
                                        break;
                                p = end;
                                grown = realloc(groups, (n + 1) * sizeof(*groups));
                                if (!grown) {
                                        err = -ENOMEM;
                                        break;
                                }
                                groups = grown;
                                groups[n++] = (gid_t) g;
                        }
                }
        }
        free(line);
        fclose(f);
        if (!err && (!uid_ok || !seen))
                err = -ESRCH;
        if (err < 0) {
                free(groups);
                return err;
        }
        *ret = groups;
        *ret_n = n;
        return 0;
}

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59                /* Linux 4.13; older C libraries lack the name */
#endif

/*
 * The peer's supplementary groups as the kernel recorded them at connect
 * (SO_PEERGROUPS): 0 and a malloc'ed array, or a negative errno (an older
 * kernel says ENOPROTOOPT).
 */
static int socket_read_groups(int fd, gid_t **ret, size_t *ret_n) {
        socklen_t len = 32 * sizeof(gid_t);
        gid_t *groups = NULL;

        for (int tries = 0; tries < 3; tries++) {
                gid_t *grown = realloc(groups, len ? len : sizeof(gid_t));

                if (!grown) {
                        free(groups);
                        return -ENOMEM;
                }
                groups = grown;
                if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == 0) {
                        *ret = groups;
                        *ret_n = len / sizeof(gid_t);
                        return 0;
                }
                /* ERANGE: len now says how much room the list needs. */
                if (errno != ERANGE)
                        break;
        }
        free(groups);
        return -errno;
}

/*
 * Fill in the supplementary groups. SO_PEERGROUPS first: the kernel took them
 * when the peer connected, so there is no race with a process that changes
 * its groups or exits. Kernels before 4.13 lack it: then the Groups: line of
 * /proc/PID/status, checked to still belong to the peer's uid.
 */
static void client_read_groups(struct client *c) {
        c->groups = NULL;
        c->n_groups = 0;
        c->groups_known = false;
        if (c->fd < 0)
                return;
        if (socket_read_groups(c->fd, &c->groups, &c->n_groups) == 0 ||
            (c->shared.pid > 0 && proc_read_groups(c->shared.pid, c->shared.uid, &c->groups, &c->n_groups) == 0))
                c->groups_known = true;
}

bool client_in_group(const struct client *c, gid_t gid) {
        gid_t *groups = NULL;
        size_t n = 0;
        bool found = false;

        if (gid == (gid_t) -1)
                return false;
        if (c->shared.gid == gid)
                return true;
        if (c->groups_known) {
                for (size_t i = 0; i < c->n_groups; i++)
                        if (c->groups[i] == gid)
                                return true;
                return false;
        }
        /*
         * Groups unknown at connect: only a socketless client given a pid asks
         * /proc now. A socket peer whose groups could not be read has none
         * beyond its primary group; its pid may have been reused since.
         */
        if (c->fd >= 0 || c->shared.pid <= 0 || proc_read_groups(c->shared.pid, c->shared.uid, &groups, &n) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (groups[i] == gid)
                        found = true;
        free(groups);
        return found;
}

/*
 * pid, uid and gid from SO_PEERCRED. A socketless client is mpxd feeding
 * itself requests (unit tests, fuzzing): it acts as mpxd's own user.
 */
struct client *client_new(int fd) {
        struct ucred cred = { .pid = 0, .uid = geteuid(), .gid = getegid() };
        socklen_t len = sizeof(cred);

        if (fd >= 0 && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                cred = (struct ucred) { .pid = 0, .uid = (uid_t) -1, .gid = (gid_t) -1 };
        return client_new_as(fd, cred.pid, cred.uid, cred.gid);
}

struct client *client_new_as(int fd, pid_t pid, uid_t uid, gid_t gid) {
        struct client *c = calloc(1, sizeof(*c));

        if (!c)
                return NULL;
        c->shared.user = user_get(uid);
        if (!c->shared.user) {
                free(c);
                return NULL;
        }
        c->fd = fd;
        c->shared.pid = pid;
        c->shared.uid = uid;
        c->shared.gid = gid;
        c->shared.id = ++mpxd.next_client_id;
        c->connected_ms = c->active_ms = now_ms();
        wire_buf_init(&c->in);
        wire_buf_init(&c->out);
        TAILQ_INIT(&c->shared.waiters);
        TAILQ_INIT(&c->shared.deliveries);
        TAILQ_INIT(&c->shared.holds);
        TAILQ_INIT(&c->out_fds);
        TAILQ_INIT(&c->shared.unsent);
        TAILQ_INIT(&c->shared.owned_queues);
        TAILQ_INIT(&c->shared.refs);
        client_read_groups(c);
        client_read_comm(c);
        user_client_connected(c->shared.user);
        if (fd >= 0) {
                event_assign(&c->ev_read, mpxd.base, fd, EV_READ | EV_PERSIST, client_read_cb, c);
                event_assign(&c->ev_write, mpxd.base, fd, EV_WRITE | EV_PERSIST, client_write_cb, c);
                if (event_add(&c->ev_read, NULL) < 0) {
                        user_client_gone(c->shared.user);
                        free(c->groups);
                        free(c);
                        return NULL;
                }
        }
        TAILQ_INSERT_TAIL(&mpxd.clients, c, link);
        mpxd.n_clients++;
        log_debug("%s connected", client_describe(c));
        return c;
}

const char *client_describe(const struct client *c) {
        static char buf[160];

        snprintf(buf, sizeof(buf), "client %llu (pid %ld, uid %ld%s%s)", (unsigned long long) c->shared.id,
                 (long) c->shared.pid, (long) c->shared.uid, c->name[0] ? ", " : "", c->name);
        return buf;
}

void client_set_name(struct client *c, const char *name, size_t len) {
        if (len >= sizeof(c->name))
                len = sizeof(c->name) - 1;
        for (size_t i = 0; i < len; i++)
                c->name[i] = name[i] >= 0x20 && name[i] < 0x7f ? name[i] : '?';
        c->name[len] = '\0';
}

bool client_has_socket(const struct client *c) {
        return c->fd >= 0;
}

struct client *client_next(const struct client *c) {
        return c ? TAILQ_NEXT(c, link) : TAILQ_FIRST(&mpxd.clients);
}

int client_put_fields(const struct client *c, struct wire_buf *b, struct wire_fields *f, uint64_t t) {
        int err = 0;

        err |= wire_put_field_int(b, f, "id", (int64_t) c->shared.id);
        err |= wire_put_field_int(b, f, "pid", c->shared.pid);
        err |= wire_put_field_int(b, f, "uid", c->shared.uid);
        err |= wire_put_field_int(b, f, "gid", c->shared.gid);
        err |= wire_put_field_str(b, f, "comm", c->comm);
        err |= wire_put_field_str(b, f, "name", c->name);
        err |= wire_put_field_int(b, f, "age_ms", (int64_t) (t - c->connected_ms));
        err |= wire_put_field_int(b, f, "idle_ms", (int64_t) (t - c->active_ms));
        err |= wire_put_field_int(b, f, "requests", (int64_t) c->requests);
        return err < 0 ? -ENOMEM : 0;
}

int client_reply_reserve(struct client *c, size_t body_size) {
        return wire_buf_reserve(&c->out, WIRE_HEADER_SIZE + body_size);
}

uint64_t client_output_end(const struct client *c) {
        return c->out_written + (c->out.len - c->out_off);
}

static const char *const client_state_names[_CLIENT_STATE_MAX] = {
        [CLIENT_NEW] = "new",
        [CLIENT_READY] = "ready",
        [CLIENT_CLOSING] = "closing",
        [CLIENT_OVERFLOWED] = "overflowed",
        [CLIENT_DEAD] = "dead",
};

#define STATE_BIT(s) (1u << (s))
#define CLIENT_ENDING_STATES \
        (STATE_BIT(CLIENT_CLOSING) | STATE_BIT(CLIENT_OVERFLOWED) | STATE_BIT(CLIENT_DEAD))

/* The moves each state allows (the diagram above client_set_state). */
static const unsigned client_moves[_CLIENT_STATE_MAX] = {
        [CLIENT_NEW] = STATE_BIT(CLIENT_READY) | CLIENT_ENDING_STATES,
        [CLIENT_READY] = CLIENT_ENDING_STATES,
        [CLIENT_CLOSING] = STATE_BIT(CLIENT_OVERFLOWED) | STATE_BIT(CLIENT_DEAD),
        [CLIENT_OVERFLOWED] = STATE_BIT(CLIENT_DEAD),
        [CLIENT_DEAD] = 0,
};

/*
 * The only place a client's state changes. Its life:
 *
 *      NEW ---HELLO accepted---> READY
 *       |                          |
 *       +------------+-------------+
 *                    |
 *                    +---> CLOSING ----------------+
 *                    |        |                    |
 *                    |        v                    v
 *                    +---> OVERFLOWED ---------> DEAD
 *                    |                             ^
 *                    +-----------------------------+
 *
 *   READY       its HELLO is accepted (op.c)
 *   CLOSING     a frame over the size limit (answered EMSGSIZE), or no
 *               memory even for a reply's header
 *   OVERFLOWED  others' replies (parked requests served, timeouts) pushed
 *               its unsent output past limits.max_output
 *   DEAD        client_lost: end of file, a failed read or write, CLOSING
 *               written out, OVERFLOWED flushed, its journal records not
 *               written, the daemon stopping
 *
 * CLOSING and OVERFLOWED are entered from inside replies, where the caller
 * may still hold one of the client's waiters: they only mark the client, and
 * client_flush loses it once the current event is handled. A closing client
 * that overflows is lost at that flush instead of waiting for its peer to
 * read what is queued.
 *
 * A move to where the client is, or to an ending state it is past (closing
 * an overflowed client, anything of a lost one), changes nothing: it ends
 * anyway, no later. A move back to NEW or READY from an ending state cannot
 * happen (nothing of such a client is served): it is logged and ignored.
 * Returns true when the state changed.
 */
static bool client_set_state(struct client *c, enum client_state to) {
        enum client_state from = c->shared.state;

        if (client_moves[from] & STATE_BIT(to)) {
                c->shared.state = to;
                return true;
        }
        if (to != from && !(CLIENT_ENDING_STATES & STATE_BIT(to)))
                log_err("%s: no move from %s to %s; ignoring", client_describe(c), client_state_names[from],
                        client_state_names[to]);
        return false;
}

void client_hello_accepted(struct client *c) {
        client_set_state(c, CLIENT_READY);
}

/* Deferred free: nothing refers to the client any more. */
static void client_free_cb(evutil_socket_t fd, short what, void *arg) {
        struct client *c = arg;
        struct out_fd *f;

        while ((f = TAILQ_FIRST(&c->out_fds))) {
                TAILQ_REMOVE(&c->out_fds, f, link);
                close(f->fd);
                free(f);
        }
        c->n_out_fds = 0;
        wire_buf_done(&c->in);
        wire_buf_done(&c->out);
        perm_client_free(c);
        free(c->groups);
        free(c);
}

void client_lost(struct client *c, const char *why) {
        if (!client_set_state(c, CLIENT_DEAD))
                return;
        log_debug("%s lost: %s", client_describe(c), why);
        if (c->fd >= 0) {
                event_del(&c->ev_read);
                event_del(&c->ev_write);
                close(c->fd);
                c->fd = -1;
        }
        if (c->is_dirty) {
                TAILQ_REMOVE(&mpxd.dirty, c, dirty_link);
                c->is_dirty = false;
        }
        if (c->held) {
                TAILQ_REMOVE(&mpxd.held, c, held_link);
                c->held = false;
        }
        TAILQ_REMOVE(&mpxd.clients, c, link);
        mpxd.n_clients--;
        /* Nothing may be handed to this client from here on. */
        wait_cancel_client(c);
        object_client_lost(c);
        user_client_gone(c->shared.user);
        c->shared.user = NULL;
        if (!mpxd.base || event_base_once(mpxd.base, -1, EV_TIMEOUT, client_free_cb, c, NULL) < 0)
                client_free_cb(-1, 0, c);
}

/* Mark the client as having output, so client_flush_dirty writes it. */
static void client_mark_dirty(struct client *c) {
        if (journal_replies_held) {
                client_hold(c);
                return;
        }
        if (c->is_dirty || client_is_gone(c) || c->held)
                return;
        c->is_dirty = true;
        TAILQ_INSERT_TAIL(&mpxd.dirty, c, dirty_link);
}

void client_hold(struct client *c) {
        if (c->held || client_is_gone(c))
                return;
        if (c->is_dirty) {
                TAILQ_REMOVE(&mpxd.dirty, c, dirty_link);
                c->is_dirty = false;
        }
        c->held = true;
        TAILQ_INSERT_TAIL(&mpxd.held, c, held_link);
}

void client_release_held(bool written) {
        TAILQ_HEAD(, client) batch = TAILQ_HEAD_INITIALIZER(batch);
        struct client *c;

        /* Take the whole batch first: flushing may hold clients again for the next one. */
        TAILQ_CONCAT(&batch, &mpxd.held, held_link);
        while ((c = TAILQ_FIRST(&batch))) {
                TAILQ_REMOVE(&batch, c, held_link);
                c->held = false;
                if (written)
                        client_mark_dirty(c);
                else
                        client_lost(c, "its changes could not be written to the journal");
        }
        client_flush_dirty();
}

int client_reply_attach_fd(struct client *c, size_t start, int fd) {
        struct out_fd *f = malloc(sizeof(*f));

        if (!f)
                return -ENOMEM;
        f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (f->fd < 0) {
                int err = -errno;
                free(f);
                return err;
        }
        f->offset = start;
        TAILQ_INSERT_TAIL(&c->out_fds, f, link);
        c->n_out_fds++;
        return 0;
}

/*
 * Write from out_off: plain write() up to the next frame that carries a
 * descriptor, sendmsg() with SCM_RIGHTS for the bytes that start such a
 * frame. The kernel ties the descriptor to those bytes, so the peer receives
 * it with the frame's header.
 */
static ssize_t client_write_some(struct client *c) {
        struct out_fd *f = TAILQ_FIRST(&c->out_fds), *next;
        size_t end = c->out.len;
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } control;
        struct iovec iov;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
        struct cmsghdr *cmsg;
        ssize_t n;

        if (!f || f->offset > c->out_off)
                return write(c->fd, c->out.data + c->out_off, (f ? f->offset : end) - c->out_off);
        next = TAILQ_NEXT(f, link);
        if (next)
                end = next->offset;
        memset(&control, 0, sizeof(control));
        iov.iov_base = c->out.data + c->out_off;
        iov.iov_len = end - c->out_off;
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &f->fd, sizeof(int));
        n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n > 0) {
                TAILQ_REMOVE(&c->out_fds, f, link);
                close(f->fd);
                free(f);
                c->n_out_fds--;
        }
        return n;
}

/*
 * Drop what was written from the front of the output buffer once that is
 * most of it, so that a client reading slowly but steadily, whose buffer
 * never empties, does not make it grow without end.
 */
static void client_compact_output(struct client *c) {
        struct out_fd *f;

        if (c->out_off < CLIENT_READ_CHUNK || c->out_off < c->out.len / 2)
                return;
        wire_buf_consume(&c->out, c->out_off);
        TAILQ_FOREACH(f, &c->out_fds, link)
                f->offset -= c->out_off;
        c->out_off = 0;
}

/* Bytes of replies not yet written. */
static size_t client_unsent(const struct client *c) {
        return c->out.len - c->out_off;
}

/*
 * Too much waits to be written: handle no more of the client's requests
 * until it reads. What its own requests queue is then bounded by max_output
 * and one reply, and by CLIENT_MAX_OUT_FDS descriptors.
 */
static bool client_backlogged(const struct client *c) {
        return (mpxd.max_output && client_unsent(c) > mpxd.max_output) || c->n_out_fds >= CLIENT_MAX_OUT_FDS;
}

/* Down to half of both caps: enough room to resume without stopping again at once. */
static bool client_drained(const struct client *c) {
        return (!mpxd.max_output || client_unsent(c) <= mpxd.max_output / 2) &&
               c->n_out_fds <= CLIENT_MAX_OUT_FDS / 2;
}

/* Stop handling and reading the client's requests; the rest of its input waits in c->in. */
static void client_pause(struct client *c) {
        if (c->paused)
                return;
        c->paused = true;
        if (c->fd >= 0)
                event_del(&c->ev_read);
}

/*
 * A paused client read enough of its replies: handle what waits in c->in,
 * and read again. Not once the daemon is stopping: its last flush only
 * writes.
 */
static void client_resume(struct client *c) {
        if (!c->paused || client_doomed(c) || mpxd.stopping || !client_drained(c))
                return;
        c->paused = false;
        client_process_input(c);
        /* As after a read: not read again if it paused again or is to be closed. */
        if (client_doomed(c) || c->paused || c->fd < 0)
                return;
        if (event_add(&c->ev_read, NULL) < 0)
                client_lost(c, "cannot wait for its input");
}

/* A client whose unsent output passed limits.max_output: it does not read, so it goes. */
static void client_lose_overflowed(struct client *c) {
        log_client(LOG_LEVEL_WARNING, c->shared.id, c->shared.pid, c->shared.uid,
                   "%s has %zu bytes of replies it does not read, over limits.max_output (%llu); "
                   "disconnecting it, and putting back the queue items it did not receive",
                   client_describe(c), client_unsent(c), (unsigned long long) mpxd.max_output);
        client_lost(c, "output over limits.max_output");
}

/* Write what the socket takes: 1 when everything went, 0 when it is full, -1 when the client is lost. */
static int client_write_pending(struct client *c) {
        while (c->out_off < c->out.len) {
                ssize_t n = client_write_some(c);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                return 0;
                        client_lost(c, "write failed");
                        return -1;
                }
                c->out_off += (size_t) n;
                c->out_written += (uint64_t) n;
                if (!TAILQ_EMPTY(&c->shared.unsent))
                        queue_client_written(c, c->out_written);
        }
        return 1;
}

void client_flush(struct client *c) {
        int written;

        if (c->is_dirty) {
                TAILQ_REMOVE(&mpxd.dirty, c, dirty_link);
                c->is_dirty = false;
        }
        if (client_is_gone(c))
                return;
        if (client_state(c) == CLIENT_OVERFLOWED) {
                /* The replies the socket still takes reach the client before it goes. */
                if (c->fd >= 0 && !c->held && client_write_pending(c) < 0)
                        return;
                client_lose_overflowed(c);
                return;
        }
        if (c->held) {
                /* Nothing leaves before the journal has what it answers; the commit flushes. */
                if (c->write_armed) {
                        event_del(&c->ev_write);
                        c->write_armed = false;
                }
                return;
        }
        if (c->fd < 0) {
                /* A socketless client's replies are taken from c->out by its caller. */
                client_resume(c);
                return;
        }
        written = client_write_pending(c);
        if (written < 0)
                return;
        if (written == 0) {
                client_compact_output(c);
                if (!c->write_armed && event_add(&c->ev_write, NULL) == 0)
                        c->write_armed = true;
        } else {
                c->out.len = 0;
                c->out_off = 0;
                if (c->out.cap > CLIENT_READ_CHUNK)
                        wire_buf_done(&c->out);
                if (c->write_armed) {
                        event_del(&c->ev_write);
                        c->write_armed = false;
                }
                if (client_state(c) == CLIENT_CLOSING) {
                        client_lost(c, "closed after a fatal protocol error");
                        return;
                }
        }
        client_resume(c);
}

void client_flush_all(void) {
        struct client *c, *next;

        for (c = TAILQ_FIRST(&mpxd.clients); c; c = next) {
                next = TAILQ_NEXT(c, link);
                client_flush(c);
        }
}

void client_flush_dirty(void) {
        struct client *c;

        while ((c = TAILQ_FIRST(&mpxd.dirty)))
                client_flush(c);
}

/*
 * A reply is added at start of the output buffer. The client's own requests
 * wait while its backlog is over limits.max_output (client_process_frames),
 * so only other events (a parked request served by another client's put, a
 * timeout) can push it further: if what was unsent before the reply is past
 * the limit, the client does not read its replies. It is marked overflowed,
 * and client_flush loses it once the current event is handled: never here,
 * as the caller may still hold one of its waiters or deliveries. Checking
 * what was there before the reply lets one large reply (a page of
 * DICT_ITEMS) through whatever the limit.
 */
static void client_check_output(struct client *c, size_t start) {
        if (mpxd.max_output && !c->dispatching && start - c->out_off > mpxd.max_output)
                client_set_state(c, CLIENT_OVERFLOWED);
}

void client_reply_status(struct client *c, uint32_t id, uint16_t op, int neg_errno) {
        size_t start;

        if (client_is_gone(c))
                return;
        client_check_output(c, c->out.len);
        if (wire_frame_begin(&c->out, id, op, wire_status_from_errno(neg_errno), &start) < 0) {
                /*
                 * No room even for a header: this client cannot be answered any
                 * more. Close it once the current event is handled, not now:
                 * the caller may still hold one of its waiters.
                 */
                client_set_state(c, CLIENT_CLOSING);
                client_mark_dirty(c);
                return;
        }
        wire_frame_end(&c->out, start);
        client_mark_dirty(c);
}

struct wire_buf *client_reply_begin(struct client *c, uint32_t id, uint16_t op, size_t *ret_start) {
        if (wire_frame_begin(&c->out, id, op, WIRE_OK, ret_start) < 0)
                return NULL;
        return &c->out;
}

void client_reply_end(struct client *c, size_t start) {
        wire_frame_end(&c->out, start);
        client_check_output(c, start);
        client_mark_dirty(c);
}

void client_reply_discard(struct client *c, size_t start) {
        wire_frame_abort(&c->out, start);
}

/*
 * Handle every complete frame at the start of data and return how many bytes
 * were used; the incomplete rest is left to the caller. A frame over the size
 * limit is answered with -EMSGSIZE and ends the connection: its body cannot be
 * skipped safely without reading it. While the client's unsent replies are
 * over limits.max_output (or hold too many descriptors) the rest waits, and
 * the client is not read, until client_flush has written enough of them:
 * backpressure, so that a client that pipelines many requests and reads
 * steadily is served in full and one that never reads costs bounded memory.
 */
static size_t client_process_frames(struct client *c, const uint8_t *data, size_t len) {
        size_t off = 0;

        loop_clock_update();
        while (!client_doomed(c) && len - off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(data + off, &h);
                if (h.body_len > mpxd.max_frame) {
                        log_warning("%s sent a frame of %u bytes, over the limit of %u; closing",
                                    client_describe(c), h.body_len, mpxd.max_frame);
                        client_reply_status(c, h.id, h.op, -EMSGSIZE);
                        client_set_state(c, CLIENT_CLOSING);
                        break;
                }
                if (len - off - WIRE_HEADER_SIZE < h.body_len)
                        break;
                if (client_backlogged(c)) {
                        client_pause(c);
                        break;
                }
                c->dispatching = true;
                c->requests++;
                c->active_ms = loop_now_ms;
                op_dispatch(c, &h, data + off + WIRE_HEADER_SIZE);
                c->dispatching = false;
                off += WIRE_HEADER_SIZE + h.body_len;
        }
        return off;
}

/* Handle what is complete in the client's own input buffer. */
static void client_process_input(struct client *c) {
        size_t used = client_process_frames(c, c->in.data, c->in.len);

        if (client_is_gone(c))
                return;
        wire_buf_consume(&c->in, used);
        /* An idle connection should not keep a large buffer. */
        if (c->in.len == 0 && c->in.cap > CLIENT_READ_CHUNK)
                wire_buf_done(&c->in);
}

void client_feed(struct client *c, const void *data, size_t len) {
        if (client_doomed(c))
                return;
        if (wire_put_raw(&c->in, data, len) < 0) {
                client_lost(c, "out of memory for input");
                return;
        }
        client_process_input(c);
}

/*
 * Whether a read of the client's socket that returned n brought bytes: an
 * error other than EINTR or EAGAIN, or the end of the stream, loses the
 * client, and then nothing more may be done with it.
 */
static bool client_read_ok(struct client *c, ssize_t n) {
        if (n < 0 && errno != EINTR && errno != EAGAIN)
                client_lost(c, "read failed");
        else if (n == 0)
                client_lost(c, "end of file");
        return n > 0;
}

/*
 * Read from a client with nothing buffered: into one scratch buffer shared by
 * all clients, handle the frames in place, and keep only a partial frame.
 * Most reads hold whole frames, so an idle client owns no input buffer at all.
 */
static void client_read_fresh(struct client *c) {
        static uint8_t scratch[CLIENT_READ_CHUNK];
        ssize_t n = read(c->fd, scratch, sizeof(scratch));
        size_t used;

        if (!client_read_ok(c, n))
                return;
        used = client_process_frames(c, scratch, (size_t) n);
        /* The scratch buffer is shared: what is left, paused frames too, goes to c->in. */
        if (client_doomed(c) || used == (size_t) n)
                return;
        if (wire_put_raw(&c->in, scratch + used, (size_t) n - used) < 0)
                client_lost(c, "out of memory for input");
}

/* How much room to make for the next read: the rest of a large frame, or a chunk. */
static size_t client_read_want(const struct client *c) {
        struct wire_header h;

        if (c->in.len >= WIRE_HEADER_SIZE) {
                wire_header_decode(c->in.data, &h);
                if (h.body_len <= mpxd.max_frame && h.body_len + WIRE_HEADER_SIZE > c->in.len + CLIENT_READ_CHUNK)
                        return h.body_len + WIRE_HEADER_SIZE - c->in.len;
        }
        return CLIENT_READ_CHUNK;
}

/* Read more of a partial frame into the client's own buffer. */
static void client_read_more(struct client *c) {
        ssize_t n;

        if (wire_buf_reserve(&c->in, client_read_want(c)) < 0) {
                client_lost(c, "out of memory for input");
                return;
        }
        n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
        if (!client_read_ok(c, n))
                return;
        c->in.len += (size_t) n;
        client_process_input(c);
}

static void client_read_cb(evutil_socket_t fd, short what, void *arg) {
        struct client *c = arg;

        if (c->in.len == 0)
                client_read_fresh(c);
        else
                client_read_more(c);
        /* To be closed: read nothing more (a lost client's events went with its socket). */
        if (client_doomed(c) && !client_is_gone(c))
                event_del(&c->ev_read);
        client_flush_dirty();
}

static void client_write_cb(evutil_socket_t fd, short what, void *arg) {
        client_flush(arg);
        client_flush_dirty();
}
