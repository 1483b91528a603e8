/* SPDX-License-Identifier: MIT */
/*
 * Pipe rendezvous: Python's Pipe(duplex) between processes that are not
 * parent and child. Two parties open the same pipe name; the first waits
 * on the name, and when a matching party arrives the daemon creates the
 * channel, hands one end to each with its PIPE_OPEN reply (SCM_RIGHTS) and
 * closes its own copies at once. From then on the two processes talk
 * through the kernel alone: no byte of theirs passes through mpxd, and the
 * daemon does not know or care when they stop.
 *
 * Matching: duplex pairs with duplex (a socketpair, one end each); read
 * pairs with write (a pipe, the read end to the party that asked to read).
 * Parties are paired strictly in arrival order within what matches: the
 * first waiting reader with the first writer to arrive, and so on. Since two
 * waiting parties never match each other, at most one duplex party waits at
 * a time, and readers and writers never wait at once; a third arrival simply
 * waits for the next pairing.
 *
 * A pipe object is created by the first PIPE_OPEN that has to wait for its
 * name (there is no PIPE_DECLARE), and it stays, with nobody waiting, until
 * it is deleted: it is cheap, and its counters (pairs made) are what an
 * operator looks at. Deleting it answers its waiters EIDRM; a waiter whose
 * connection closes is removed by wait.c and is never handed anything.
 *
 * This file does not touch the data path, and it does not decide who may
 * open a name (permissions belong to object.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "pipe.h"
#include "wait.h"
#include "wire.h"

struct pipe {
        struct object obj;
        /*
         * Waiting parties by mode (WIRE_PIPE_*), w->flags holding it too: at
         * most one duplex; readers and writers never both.
         */
        struct waiter_list waiting[WIRE_PIPE_WRITE + 1];
        uint64_t pairs;                 /* channels made */
        uint64_t opens;                 /* PIPE_OPEN requests that named it */
};

/* The name of each mode, for logs. */
static const char *const mode_names[] = {
        [WIRE_PIPE_DUPLEX] = "duplex",
        [WIRE_PIPE_READ] = "read",
        [WIRE_PIPE_WRITE] = "write",
};

/* The mode a party of each mode pairs with. */
static const uint8_t partner_modes[] = {
        [WIRE_PIPE_DUPLEX] = WIRE_PIPE_DUPLEX,
        [WIRE_PIPE_READ] = WIRE_PIPE_WRITE,
        [WIRE_PIPE_WRITE] = WIRE_PIPE_READ,
};

static const struct object_type pipe_type;

static struct pipe *pipe_of(struct object *o) {
        return container_of(o, struct pipe, obj);
}

/*
 * The first party on a partner list that can still be answered. A client
 * marked closing (it could not be answered once) or overflowed (past
 * limits.max_output by others' replies) is about to be lost and its waiters
 * cancelled: it is passed over rather than given an end.
 */
static struct waiter *pipe_first_partner(struct waiter_list *list) {
        struct waiter *w;

        TAILQ_FOREACH(w, list, obj_link)
                if (!client_doomed(w->client))
                        return w;
        return NULL;
}

/* No serve hook: waiting parties never match each other, so a waiter that leaves changes nothing. */
static void pipe_wake_all(struct object *o, int neg_errno) {
        struct pipe *p = pipe_of(o);

        for (size_t i = 0; i < ARRAY_SIZE(p->waiting); i++)
                wait_fail_all(&p->waiting[i], neg_errno);
}

static int pipe_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct pipe *p = pipe_of(o);
        unsigned duplex = wait_count(&p->waiting[WIRE_PIPE_DUPLEX]);
        unsigned readers = wait_count(&p->waiting[WIRE_PIPE_READ]), writers = wait_count(&p->waiting[WIRE_PIPE_WRITE]);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", duplex + readers + writers);
        r |= wire_put_field_int(b, f, "waiters", duplex + readers + writers);
        r |= wire_put_field_int(b, f, "duplex", duplex);
        r |= wire_put_field_int(b, f, "readers", readers);
        r |= wire_put_field_int(b, f, "writers", writers);
        r |= wire_put_field_int(b, f, "pairs", (int64_t) p->pairs);
        r |= wire_put_field_int(b, f, "opens", (int64_t) p->opens);
        r |= wire_put_field_int(b, f, "timeouts", (int64_t) o->timeouts);
        r |= object_describe_age(o, b, f);
        return r < 0 ? -ENOMEM : 0;
}

/* A new pipe: nobody waits yet. */
static int pipe_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        struct pipe *p = pipe_of(o);

        (void) name, (void) len, (void) params;
        for (size_t i = 0; i < ARRAY_SIZE(p->waiting); i++)
                TAILQ_INIT(&p->waiting[i]);
        return 0;
}

static const struct object_type pipe_type = {
        .type = WIRE_TYPE_PIPE,
        .wake_all = pipe_wake_all,
        .describe = pipe_describe,
        .size = sizeof(struct pipe),
        .declare_init = pipe_declare_init,
};

/* Close both ends of a channel (or what is left of it). */
static void channel_close(int fds[2]) {
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0) {
                        close(fds[i]);
                        fds[i] = -1;
                }
}

/*
 * Make the channel for a pair: fds[0] for the waiting party, fds[1] for the
 * arriving one. A socketpair for duplex; for read and write a pipe, whose
 * read end goes to the reader, whichever of the two arrived first.
 */
static int channel_new(uint8_t waiting_mode, int fds[2]) {
        int p[2];

        if (waiting_mode == WIRE_PIPE_DUPLEX)
                return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0;
        if (pipe2(p, O_CLOEXEC) < 0)
                return -errno;
        fds[0] = waiting_mode == WIRE_PIPE_READ ? p[0] : p[1];
        fds[1] = waiting_mode == WIRE_PIPE_READ ? p[1] : p[0];
        return 0;
}

/*
 * Make sure the next two descriptor duplicates will succeed: take two
 * descriptor slots and give them back. The daemon is one thread, so nothing
 * takes them in between, and client_reply_attach_fd cannot then fail for
 * want of a descriptor after the first party has been answered.
 */
static int reserve_two_fds(int fd) {
        int a, b, err;

        a = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (a < 0)
                return -errno;
        b = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        err = b < 0 ? -errno : 0;
        close(a);
        if (b >= 0)
                close(b);
        return err;
}

/* A failure to make or pass a channel, as the requester sees it. */
static int pipe_channel_error(int err) {
        return err == -EMFILE || err == -ENFILE ? -EUSERS : -ENOMEM;
}

/*
 * Pair the waiting party w with the request req of client c (of mode mode):
 * make the channel, answer both, forget w, close the daemon's copies.
 *
 * Everything that can fail is done before the first party is answered: the
 * channel, room in both output buffers, two spare descriptor slots. If the
 * channel cannot be made, the arriving request fails and w keeps waiting.
 * Only an allocation of a few bytes inside client_reply_attach_fd can still
 * fail between the two replies; then w has its end already, its peer end is
 * closed here (w reads end of file at once), and the arriving request fails
 * with -ENOMEM.
 */
static int pipe_pair(struct pipe *p, struct waiter *w, struct client *c, const struct request *req,
                     uint8_t mode) {
        struct client *wc = w->client;
        uint8_t wmode = (uint8_t) w->flags;
        int fds[2] = { -1, -1 }, err;

        err = channel_new(wmode, fds);
        if (err >= 0)
                err = reserve_two_fds(fds[0]);
        /* One connection may pair with itself (two pipelined opens): then it needs room for both. */
        if (err >= 0 && (client_reply_reserve(wc, wc == c ? WIRE_HEADER_SIZE + 2 : 1) < 0 ||
                         client_reply_reserve(c, 1) < 0))
                err = -ENOMEM;
        if (err >= 0)
                err = op_reply_fd(wc, w->id, w->op, fds[0], "b", wmode);
        if (err < 0) {
                log_warning("pipe '%s': cannot make a channel for %s: %s", p->obj.name, client_describe(c),
                            strerror(-err));
                channel_close(fds);
                return pipe_channel_error(err);
        }
        /* The waiting party is answered: from here on it is served, whatever happens to the other. */
        wait_free(w);
        p->pairs++;
        err = op_reply_fd(c, req->id, req->op, fds[1], "b", mode);
        channel_close(fds);
        if (err < 0) {
                log_warning("pipe '%s': cannot pass its end to %s: %s; its partner sees the channel closed",
                            p->obj.name, client_describe(c), strerror(-err));
                return pipe_channel_error(err);
        }
        if (log_enabled(LOG_LEVEL_DEBUG)) {
                char who[160];

                /* client_describe() has one buffer: copy the first answer out of it. */
                snprintf(who, sizeof(who), "%s", client_describe(wc));
                log_debug("pipe '%s': paired %s (%s) with %s (%s)", p->obj.name, who, mode_names[wmode],
                          client_describe(c), mode_names[mode]);
        }
        return 0;
}

/*
 * PIPE_OPEN: name, u8 mode, i64 timeout_ms -> u8 mode, with one end of the
 * channel attached (SCM_RIGHTS). Pairs with the first waiting party that
 * matches, or waits to be paired.
 */
int pipe_handle_open(struct client *c, const struct request *req, struct wire_reader *r) {
        struct waiter *w;
        struct object *o;
        struct pipe *p;
        int64_t timeout_ms;
        const char *name;
        size_t len;
        uint8_t mode;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u8(r, &mode) || !wire_get_i64(r, &timeout_ms) ||
            !wire_reader_done(r))
                return -EPROTO;
        if (mode > WIRE_PIPE_WRITE)
                return -EINVAL;
        err = object_find_typed(req, name, len, 1u << WIRE_TYPE_PIPE, &o);
        if (err == -ENOENT) {
                /* Nobody waits on a name that does not exist: fail now, or create it to wait. */
                if (timeout_ms == 0)
                        return -EAGAIN;
                err = object_declare(req, name, len, &pipe_type, NULL, &o);
                if (err < 0)
                        return err;
                o->requests++;
        } else if (err < 0)
                return err;
        p = pipe_of(o);
        p->opens++;

        w = pipe_first_partner(&p->waiting[partner_modes[mode]]);
        if (w)
                return pipe_pair(p, w, c, req, mode);
        if (timeout_ms == 0)
                return -EAGAIN;
        w = wait_add(c, req, o, &p->waiting[mode], timeout_ms);
        if (!w)
                return -errno;
        w->flags = mode;
        return 0;
}
