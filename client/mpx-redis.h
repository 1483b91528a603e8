/* SPDX-License-Identifier: MIT */
/*
 * The Redis backend of libmpx: the mpx wire protocol carried out over Redis
 * (or Redis Cluster) instead of mpxd.
 *
 * The seam is the wire protocol itself. Every libmpx call still builds a
 * request frame and parses a reply frame; on a connection made to a
 * redis:// address those frames never reach a socket. The backend takes each
 * request from the output queue, turns it into a call of a function of the
 * "mpx" Redis function library (FCALL), and turns the answer into the reply
 * frame mpxd would have sent, appended to the input buffer. So every call,
 * synchronous or asynchronous, the Python binding and mpxctl work unchanged,
 * and docs/PROTOCOL.md stays the contract; docs/REDIS.md lists where the
 * semantics differ.
 *
 * The work is split the way mpxd's is:
 *      mpx-redis.c             connecting and disconnecting
 *      mpx-redis-address.c     addresses and their options
 *      mpx-redis-call.c        building calls and reading replies
 *      mpx-redis-node.c        connections to nodes and the slot map
 *      mpx-redis-loop.c        the request loop: calls sent, parked, woken, answered
 *      mpx-redis-lease.c       holdings and their leases
 *                              (these six share mpx-redis-private.h)
 *      mpx-redis-cluster.c     hash slots and the slot map of a cluster
 *      mpx-redis-object.c      declare, INFO, LIST, DELETE, REF, UNREF
 *      mpx-redis-queue.c       queues and joinable queues
 *      mpx-redis-dict.c        dicts
 *      mpx-redis-list.c        lists
 *      mpx-redis-sync.c        semaphores, events, barriers
 *      mpx-redis-array.c       values and arrays
 * and the Lua side of each in client/redis/, one .lua file per family, built
 * into one library.
 *
 * Keys. Every key of the object NAME starts with "mpx:{NAME}", so that all of
 * an object's keys hash to one slot (the braces are a hash tag) and every
 * function touches one slot, as Redis Cluster requires. The object's own
 * hash, "mpx:{NAME}", says its type and parameters; the functions receive it
 * as KEYS[1] and derive the others from it.
 *
 * Waiting. A function that cannot go on yet (an empty queue, a taken
 * semaphore) fails with the error "EAGAIN", or its reply function says
 * REDIS_CALL_WAIT. The call is then parked: the backend subscribes to the
 * object's wake channel (SSUBSCRIBE "mpx:{NAME}:wake"), which every function
 * that changes what a waiter waits for publishes to, and calls the function
 * again on each message, at least once a second anyway (a message lost in a
 * failover), until it succeeds, its timeout passes or it is cancelled.
 *
 * Holdings and leases. There are no peer credentials and no connection
 * whose end the server would see: a delivery of a joinable queue, units of
 * a semaphore, a reference to a counted object and a connection-scoped queue
 * are held by a client id (random, one per connection), listed in the
 * object's sorted set "mpx:{NAME}:holders" with the time its lease ends. A
 * thread of the connection renews the leases of the objects it holds
 * something in; a clean disconnect gives every holding back at once; a
 * client that died is found by the next function that touches the object
 * after its lease ended, which gives back what it held as mpxd does when a
 * connection closes.
 */
#pragma once

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "mpx-internal.h"

struct redis_backend;
struct redis_call;

/*
 * What a reply function makes of Redis's answer to the call's function:
 * 0, the reply body is in body and the request succeeded; a negative errno,
 * the request fails with that status (body is dropped); or one of these.
 */
#define REDIS_CALL_WAIT         1       /* park the call until the object changes, then call again */
#define REDIS_CALL_AGAIN        2       /* call again at once (the arguments were changed) */

typedef int redis_reply_fn(struct redis_call *c, const redisReply *r, struct wire_buf *body);

/*
 * A parked call that ends without success (err: -ETIMEDOUT, -ECANCELED,
 * -ECONNRESET at disconnect). Return 0 to fail the request with err, or make
 * the call into a clean-up call (redis_call_begin() again, with a reply
 * function that gives the final answer) and return 1 to send it.
 */
typedef int redis_abandon_fn(struct redis_call *c, int err);

/* One request of the wire protocol being carried out. */
struct redis_call {
        struct redis_backend *rb;
        uint32_t id;                    /* the request's id, echoed in the reply */
        uint16_t op;                    /* its opcode, echoed in the reply */
        char name[WIRE_NAME_MAX + 1];   /* the object, NUL-terminated; "" for none */
        int64_t timeout_ms;             /* how long it may wait: < 0 for ever, 0 not at all */
        bool holds;                     /* a reply function sets it: this client now holds something in the object */
        int node;                       /* a keyless call's node, or -1 for any (set by the op) */
        redis_reply_fn *reply;          /* set by redis_call_begin() */
        redis_abandon_fn *abandon;      /* optional, set by the op */
        uint64_t u[4];                  /* the op's own state between attempts (a flag, a count, an arg index) */

        /* The backend's own: the command and where the call is. */
        int argc;
        char **argv;
        size_t *argvlen;
        int argcap;
        int64_t deadline;               /* CLOCK_MONOTONIC ms, or -1 */
        int64_t parked_at;              /* when it was last parked, or -1 while it is not */
        int64_t unavailable_since;      /* when it first found its node out of reach, or -1 */
        bool was_parked;                /* Redis told it to wait once: it is in its object's line; ENOENT now means deleted meanwhile */
        bool cancelled;                 /* CANCEL came while it was in flight */
        bool orphan;                    /* its request was completed without it (disconnect): drop the answer */
        bool sent_confirmed;            /* sent while its object's wake channel was subscribed */
        uint64_t sent_heard;            /* the backend's count of wakes heard when it was sent */
        struct redis_call *ack;         /* the WAIT sent after it (wait_replicas=), while in flight */
        struct redis_call *ack_of;      /* a WAIT: the call whose answer waits for it, or NULL */
        bool answered;                  /* its answer is kept in kept_body/kept_err until its WAIT returns */
        int kept_err;
        struct wire_buf kept_body;
        struct redis_call *next;        /* in the list the call is on */
};

/*
 * An op: parse the request body, then either answer at once (return a
 * negative errno for an error reply, or fill body and return 0 after
 * setting c->reply to NULL) or set up the function call with
 * redis_call_begin() and its arguments and return 0.
 */
typedef int redis_op_fn(struct redis_call *c, struct wire_reader *body, struct wire_buf *reply_body);

struct redis_op {
        uint16_t op;
        redis_op_fn *fn;
};

/* Each family's ops, ended by { 0, NULL }. */
extern const struct redis_op redis_object_ops[];
extern const struct redis_op redis_queue_ops[];
extern const struct redis_op redis_dict_ops[];
extern const struct redis_op redis_list_ops[];
extern const struct redis_op redis_sync_ops[];
extern const struct redis_op redis_array_ops[];

/*
 * Start the command of the call: FCALL fn 1 mpx:{name} [args], name being
 * c->name (set it first, or pass name to set it). Arguments follow with
 * redis_arg_*(). Each returns 0 or -ENOMEM.
 */
int redis_call_begin(struct redis_call *c, const char *fn, redis_reply_fn *reply);
int redis_call_name(struct redis_call *c, struct wire_reader *body);   /* read a name into c->name: 0 or -EPROTO */
/* FCALL fn 0 [args]: a function of no object, run by the node c->node says (-1: any). */
int redis_call_begin_keyless(struct redis_call *c, const char *fn, redis_reply_fn *reply);
/* The node index of the ordinal-th master (LIST walks them in turn), or -1 past the last. */
int redis_master(struct redis_backend *rb, unsigned ordinal);
/* DECLARE of a dict or list (name[, u32 flags]) as FCALL fn name counted [cid lease]. */
int redis_declare_name_flags(struct redis_call *c, struct wire_reader *body, const char *fn);
/* Fields for STATS: how this connection reaches Redis. */
int redis_stats(struct redis_backend *rb, struct wire_buf *body);
int redis_arg_bytes(struct redis_call *c, const void *p, size_t n);
int redis_arg_str(struct redis_call *c, const char *s);
int redis_arg_i64(struct redis_call *c, int64_t v);
int redis_arg_u64(struct redis_call *c, uint64_t v);
int redis_arg_client(struct redis_call *c);    /* this connection's client id */
int redis_arg_lease(struct redis_call *c);     /* the lease, in ms, holdings are given */
/*
 * The arguments a declare of a semaphore, event, barrier, value or array ends
 * with: counted ("1" or "0"), the client id and its lease, for declare() in
 * the Lua to take the first reference. c->u[0] remembers whether the object
 * is counted, for redis_reply_declared().
 */
int redis_arg_declare(struct redis_call *c, uint32_t flags);
/* Replace argument i (0 is the first after the key) with v: for a call made again. */
int redis_arg_set_u64(struct redis_call *c, int i, uint64_t v);
int redis_arg_set_str(struct redis_call *c, int i, const char *s);

/*
 * Reading a reply: each returns false unless r is of that shape. Integers
 * are Redis integers or their decimal text; bytes point into the reply.
 */
bool redis_reply_i64(const redisReply *r, int64_t *v);
bool redis_reply_u64(const redisReply *r, uint64_t *v);
bool redis_reply_bytes(const redisReply *r, const void **p, size_t *n);
/* Element i of an array reply, or NULL. */
const redisReply *redis_reply_at(const redisReply *r, size_t i);

/* Reply functions many ops share: empty body; u8 0/1; u64; i64; bytes. */
redis_reply_fn redis_reply_empty;
redis_reply_fn redis_reply_as_u8;
redis_reply_fn redis_reply_as_u64;
redis_reply_fn redis_reply_as_i64;
redis_reply_fn redis_reply_as_bytes;
/* The answer to a declare whose arguments redis_arg_declare() ended: u8 created. */
redis_reply_fn redis_reply_declared;

/* The library's Lua source, all files in order, and its version (mpx-redis-lua.c, generated). */
extern const char redis_lua_library[];
extern const char redis_lua_library_version[];

/* Redis Cluster (mpx-redis-cluster.c). */
#define REDIS_SLOTS             16384u
unsigned redis_slot(const char *name);                          /* the slot of mpx:{name}... */
typedef void redis_slots_fn(unsigned start, unsigned end, const char *host, int port, void *userdata);
int redis_cluster_slots(const redisReply *r, redis_slots_fn *fn, void *userdata);
int redis_redirection(const char *err, unsigned *slot, char *host, size_t host_size, int *port);

/* The parts of mpx_connect() and the connection engine that differ. */
bool redis_address(const char *address);                        /* redis://, redis+unix://, redis+cluster:// */
int redis_connect(struct mpx *m, const char *address, const char *client_name);
int redis_send(struct mpx *m);                                  /* take every whole frame queued */
int redis_read(struct mpx *m, bool block);                      /* > 0 reply bytes were added to m->in, 0 none, < 0 lost */
void redis_free(struct mpx *m);
