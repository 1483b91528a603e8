/* SPDX-License-Identifier: MIT */
/*
 * One client connection (client.c): its life from connect to the deferred
 * free, its framing and its replies.
 *
 * struct client is client.c's (client-internal.h): its socket, buffers and
 * state machine are reached through the functions below. What the other
 * modules need without a call is struct client_shared, the first member:
 * the client's identity and state, and the per-connection state the other
 * modules hang on it (wait.c its waiters, queue.c its deliveries, owned
 * queues and unsent items, sem.c its holds, ref.c its references, perm.c
 * its denials, user.c its user and waiter count).
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

struct client;
struct delivery;
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

/*
 * What client.c shares with the other modules: who the client is, where it
 * is in its life, and what each module keeps per client (each list is the
 * named module's to link and walk). The rest of a client, its socket, its
 * buffers and the flags of its state machine, is client.c's alone
 * (client-internal.h). Only client.c writes id, pid, uid, gid, state and
 * user. struct client_shared is the first member of struct client, so
 * client_shared() is a cast, not a call.
 */
struct client_shared {
        uint64_t id;
        pid_t pid;
        uid_t uid;
        gid_t gid;
        enum client_state state;        /* client.c's alone: read it with client_state() */
        struct user *user;              /* what its uid holds (user.c); NULL once it is lost */
        unsigned n_waiters;             /* user.c: waiters it has parked */
        TAILQ_HEAD(, waiter) waiters;           /* wait.c: its blocked requests */
        TAILQ_HEAD(, delivery) deliveries;      /* queue-joinable.c: joinable items taken and not done */
        TAILQ_HEAD(, unsent_items) unsent;      /* queue-client.c: plain-queue items in replies not yet written */
        TAILQ_HEAD(, queue) owned_queues;       /* queue.c: declared with QUEUE_CONNECTION, deleted with it */
        TAILQ_HEAD(, sem_hold) holds;           /* sem.c: semaphore units held (SEM_UNDO) */
        TAILQ_HEAD(, ref) refs;                 /* ref.c: references to counted objects it holds */
        unsigned n_refs;
        struct perm_denial *denials;    /* perm.c: objects it was refused, logged once each (uthash) */
};

/* The part of client c shared with the other modules; const for a const c. */
#define client_shared(c)                                                                        \
        _Generic((c),                                                                           \
                const struct client *: (const struct client_shared *) (const void *) (c),       \
                struct client *: (struct client_shared *) (void *) (c))


/* log_client() about client c: its id, pid and uid go with the message. */
#define client_log(level, c, ...)                                                               \
        log_client((level), client_shared(c)->id, client_shared(c)->pid, client_shared(c)->uid, __VA_ARGS__)

/* Where the client is in its life. */
static inline enum client_state client_state(const struct client *c) {
        return client_shared(c)->state;
}
/*
 * The client is lost, or will be once the current event is handled (closing,
 * overflowed): none of its requests is handled any more, and it must be
 * handed nothing more, since what it would be handed (a semaphore unit, a
 * pipe's end) would go with it.
 */
static inline bool client_doomed(const struct client *c) {
        enum client_state state = client_shared(c)->state;

        return state != CLIENT_NEW && state != CLIENT_READY;
}
/* The client is lost (client_lost): only its memory is left, until the deferred free. */
static inline bool client_is_gone(const struct client *c) {
        return client_shared(c)->state == CLIENT_DEAD;
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
/* Flush every client: what its socket takes now (at shutdown). */
void client_flush_all(void);
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
/* The name from HELLO: it ends up in logs, so printable ASCII is kept, each other byte shown as '?', at most 63 bytes. */
void client_set_name(struct client *c, const char *name, size_t len);
/* false for a client without a socket (unit tests): its replies are taken from its buffer, never written. */
bool client_has_socket(const struct client *c);
/* The client connected after c (c NULL: the first), in connection order; NULL after the last. */
struct client *client_next(const struct client *c);
/*
 * Append the fields CLIENTS gives of the connection itself (id, pid, uid,
 * gid, comm, name, age_ms, idle_ms, requests), t being now: 0 or -ENOMEM.
 */
int client_put_fields(const struct client *c, struct wire_buf *b, struct wire_fields *f, uint64_t t);

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
/* Make sure a reply of body_size bytes can then be begun without allocating: 0 or -ENOMEM. */
int client_reply_reserve(struct client *c, size_t body_size);
/*
 * How many bytes of replies the client will have been written once all that
 * is queued now is: a reply ended now is delivered when the count of bytes
 * written reaches it (queue_client_written).
 */
uint64_t client_output_end(const struct client *c);
/* Drop the reply begun at start, as if it had never been begun. */
void client_reply_discard(struct client *c, size_t start);
