/* SPDX-License-Identifier: MIT */
/*
 * One client connection (client.c): struct client, its life from connect to
 * the deferred free, its framing and its replies.
 *
 * struct client is shared, not private to client.c: the other modules hang
 * their own per-connection state on it (wait.c its waiters, queue.c its
 * deliveries, owned queues and unsent items, sem.c its holds, ref.c its
 * references, perm.c its denials, user.c its user and waiter count), read
 * its identity and counters (admin.c, op.c, perm.c, pool.c, user.c) and
 * reserve room in its output buffer before a reply (dict.c, list.c,
 * array.c, pipe.c, queue.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "wire.h"

struct delivery;
struct out_fd;
struct perm_denial;
struct queue;
struct ref;
struct sem_hold;
struct unsent_items;
struct user;
struct waiter;

/*
 * Where a client is in its life, in order: it only moves down this list
 * (client.c's client_set_state() has the moves and why each happens).
 */
enum client_state {
        CLIENT_NEW,                     /* connected, no HELLO accepted yet: only HELLO and PING are
                                           served (OP_BEFORE_HELLO) */
        CLIENT_READY,                   /* HELLO accepted: every request is served */
        CLIENT_CLOSING,                 /* a frame over the size limit, or no memory even for a reply's
                                           header: nothing more is served; write what is queued, then close */
        CLIENT_OVERFLOWED,              /* others' replies pushed its unsent output past limits.max_output:
                                           lost at its next flush, once the socket took what it takes */
        CLIENT_DEAD,                    /* lost: what it held given back; freed from a deferred event */
        _CLIENT_STATE_MAX,
};

struct client {
        uint64_t id;
        int fd;                         /* -1 for a client without a socket (unit tests) */
        pid_t pid;
        uid_t uid;
        gid_t gid;
        gid_t *groups;                  /* supplementary groups when it connected */
        size_t n_groups;
        bool groups_known;              /* false: the peer's groups could not be read (socketless) */
        struct perm_denial *denials;    /* objects it was refused, logged once each (uthash) */
        struct user *user;              /* what its uid holds; NULL once it is lost */
        unsigned n_waiters;
        char name[64];                  /* from HELLO */
        char comm[16];                  /* /proc/PID/comm when it connected */

        struct event ev_read;
        struct event ev_write;
        bool write_armed;

        struct wire_buf in;             /* unparsed input */
        struct wire_buf out;            /* replies not yet written, from out_off */
        size_t out_off;

        TAILQ_HEAD(, waiter) waiters;           /* this client's blocked requests */
        TAILQ_HEAD(, delivery) deliveries;      /* joinable items taken and not done */
        TAILQ_HEAD(, sem_hold) holds;           /* semaphore units held (SEM_UNDO) */
        TAILQ_HEAD(, queue) owned_queues;       /* declared with QUEUE_CONNECTION: deleted with it */
        TAILQ_HEAD(, ref) refs;                 /* references to counted objects it holds */
        unsigned n_refs;
        TAILQ_HEAD(, out_fd) out_fds;           /* descriptors to send with replies */
        unsigned n_out_fds;
        TAILQ_HEAD(, unsent_items) unsent;      /* plain-queue items in replies not yet written */
        uint64_t out_written;                   /* bytes of replies the kernel accepted */

        enum client_state state;        /* client.c's alone: read it with client_state() */
        bool paused;                    /* too much unsent: its requests wait in in, unread */
        bool dispatching;               /* one of its own requests is being handled */
        bool is_dirty;                  /* on mpxd.dirty: output to write once the event is handled */
        bool held;                      /* on mpxd.held: replies wait for journal records */
        uint64_t requests;
        uint64_t connected_ms;
        uint64_t active_ms;             /* last request */

        TAILQ_ENTRY(client) link;
        TAILQ_ENTRY(client) dirty_link;
        TAILQ_ENTRY(client) held_link;
};

/* Where the client is in its life. */
static inline enum client_state client_state(const struct client *c) {
        return c->state;
}
/*
 * The client is lost, or will be once the current event is handled (closing,
 * overflowed): none of its requests is handled any more, and it must be
 * handed nothing more, since what it would be handed (a semaphore unit, a
 * pipe's end) would go with it.
 */
static inline bool client_doomed(const struct client *c) {
        return c->state != CLIENT_NEW && c->state != CLIENT_READY;
}
/* The client is lost (client_lost): only its memory is left, until the deferred free. */
static inline bool client_is_gone(const struct client *c) {
        return c->state == CLIENT_DEAD;
}

/* Take ownership of a connected fd (or -1 for a socketless client); NULL when out of memory. */
struct client *client_new(int fd);
/* The same with the peer's credentials given (a socketless client of a chosen uid, in unit tests). */
struct client *client_new_as(int fd, pid_t pid, uid_t uid, gid_t gid);
/* Its HELLO was accepted: all requests are served from now on (op.c). */
void client_hello_accepted(struct client *c);
/* The peer went away or broke the protocol: cancel its waiters, give back what it held. */
void client_lost(struct client *c, const char *why);
/* Feed bytes as if read from the socket (unit tests and fuzzing). */
void client_feed(struct client *c, const void *data, size_t len);
/* Write as much queued output as the socket takes. */
void client_flush(struct client *c);
/* Flush every client that has new output; called at the end of each event. */
void client_flush_dirty(void);
/* Keep the client's output back until the journal records it depends on are written. */
void client_hold(struct client *c);
/* The journal committed (written true) or failed: flush the held clients, or drop them unacknowledged. */
void client_release_held(bool written);
/*
 * Send a duplicate of fd with the reply frame that starts at start in the
 * output buffer (SCM_RIGHTS). Returns 0 or a negative errno.
 */
int client_reply_attach_fd(struct client *c, size_t start, int fd);
/* true if gid is the client's primary group or one of its supplementary groups. */
bool client_in_group(const struct client *c, gid_t gid);
/* Describe the client for logs: "client 7 (pid 42, uid 1000)". */
const char *client_describe(const struct client *c);

/*
 * Replies. A reply with a body is written straight into the client's output
 * buffer: client_reply_begin, then wire_put_* on the returned buffer, then
 * client_reply_end, or client_reply_discard when it cannot be finished.
 *
 * Who answers a failure, the one rule: a request handler never replies an
 * error itself. It discards what it began and returns the negative errno,
 * and op_dispatch answers it. A parked request (a waiter) is answered by
 * whoever serves it: wait_fail, or client_reply_status after a discard.
 */
void client_reply_status(struct client *c, uint32_t id, uint16_t op, int neg_errno);
struct wire_buf *client_reply_begin(struct client *c, uint32_t id, uint16_t op, size_t *ret_start);
void client_reply_end(struct client *c, size_t start);
/* Drop the reply begun at start, as if it had never been begun. */
void client_reply_discard(struct client *c, size_t start);
