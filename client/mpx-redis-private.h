/* SPDX-License-Identifier: MIT */
/*
 * What the pieces of libmpx's Redis backend share, and the per-family files
 * do not see: the state of a connection (its nodes, parked calls and
 * holdings), the timings, and the functions one piece calls in another.
 * mpx-redis.h stays the contract between the backend and the families.
 *
 *      mpx-redis.c             connecting and disconnecting
 *      mpx-redis-address.c     addresses and their options
 *      mpx-redis-call.c        a call's command and reply, error names, reply frames
 *      mpx-redis-node.c        connections to nodes, the function library, the slot map
 *      mpx-redis-loop.c        the request loop: calls sent, parked, woken, answered
 *      mpx-redis-lease.c       holdings, the lease thread, giving back
 */
#pragma once

#include <pthread.h>
#include <time.h>

#include "mpx-redis.h"

/*
 * mpx-internal.h hashes request ids by their own four bytes; the tables here
 * are keyed by object names: uthash's own string hash for them.
 */
#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv) HASH_JEN(keyptr, keylen, hashv)

/* Lease of what a client holds, unless the address says lease_ms=. */
#define REDIS_LEASE_MS          10000u
/* A cluster's slot map is asked again at most this often while a node is out of reach. */
#define REDIS_SLOTS_REFRESH_MS  250
/* A parked call is tried again at least this often, whatever the wake channel says. */
#define REDIS_RETRY_MS          1000
/* A call whose node is out of reach is tried again this often ... */
#define REDIS_UNREACHABLE_RETRY_MS 100
/* ... for this long, then fails with ECONNRESET (a failover takes a few seconds). */
#define REDIS_UNREACHABLE_MS    15000
/* Connecting to a node may take this long. */
#define REDIS_CONNECT_TIMEOUT_MS 2000
/* With wait_replicas=, a change waits this long for its replicas unless wait_timeout_ms= says. */
#define REDIS_WAIT_TIMEOUT_MS   1000
/* A clean disconnect waits this long for the answers it gives back holdings with. */
#define REDIS_CLOSE_TIMEOUT_MS  5000

/* epoll data of the timer; a node's descriptors are its index * 2 (+ 1 for the subscriber). */
#define REDIS_EV_TIMER          UINT64_MAX

struct redis_node {
        char host[256];                 /* host name or address, or a unix socket's path */
        int port;                       /* 0 for a unix socket */
        redisContext *ctx;              /* commands, or NULL while not connected */
        redisContext *sub;              /* wake channels, or NULL */
        struct redis_call *head, *tail; /* calls in flight on ctx, in the order sent */
        int64_t retry_at;               /* after a failure: no new attempt to connect before this */
        bool out_watched;               /* EPOLLOUT is asked for ctx */
};

/* The calls parked on one object, and whether its wake channel is subscribed. */
struct redis_waitlist {
        char name[WIRE_NAME_MAX + 1];
        struct redis_call *calls;
        int node;                       /* the node whose subscriber connection subscribed, or -1 */
        bool confirmed;                 /* the subscription is active */
        uint64_t heard;                 /* rb->heard when its last message or confirmation came */
        UT_hash_handle hh;
};

/* An object this client holds something in; gen changes whenever a call holds again. */
struct redis_held {
        char name[WIRE_NAME_MAX + 1];
        uint64_t gen;
        UT_hash_handle hh;
};

struct redis_backend {
        struct mpx *m;
        int epfd;
        int timerfd;
        bool cluster;
        char user[128];
        char password[256];
        int db;
        char client_id[33];
        uint32_t lease_ms;
        unsigned wait_replicas;         /* wait_replicas=: changes are answered once this many replicas have them */
        uint32_t wait_timeout_ms;       /* wait_timeout_ms=: ... or, after this long, EIO */

        struct redis_node *nodes;       /* grows (realloc) as redirections name new nodes: the loop's only */
        size_t n_nodes;
        char beat_host[256];            /* the first address given, where the lease thread starts: */
        int beat_port;                  /* ... copied, as the thread may not read nodes */
        int16_t slot_node[REDIS_SLOTS]; /* node index of each slot (all 0 outside a cluster), -1 unknown */
        bool slots_stale;               /* a node was lost or moved slots: ask the cluster again */
        int64_t slots_next_refresh;     /* ... not before this time */

        struct redis_waitlist *waits;   /* uthash by name */
        uint64_t heard;                 /* wake messages and confirmations read so far, of any object */
        struct redis_call *unreachable; /* calls waiting for their node */
        int64_t unreachable_retry_at;   /* ... sent again at this time */
        int64_t tick_at;                /* the time the timer is armed for, INT64_MAX when disarmed */
        bool fresh;                     /* reply frames were added to m->in since the last read */
        bool reading;                   /* inside redis_read(), which returns what is fresh */

        pthread_t heartbeat;
        bool heartbeat_running;
        pthread_mutex_t lock;           /* held, stop */
        pthread_cond_t wakeup;
        struct redis_held *held;
        bool stop;
};

static inline int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mpx-redis-address.c: a node added by its address (its index, or -errno); an address parsed. */
int redis_node_add(struct redis_backend *rb, const char *host, size_t host_len, int port);
int redis_parse_address(struct redis_backend *rb, const char *address);

/* mpx-redis-call.c: what an error reply names; a call freed; its WAIT dropped; its reply frame. */
int redis_error_errno(const char *err);
bool redis_error_transient(const char *err);
bool redis_error_no_function(const char *err);
void redis_call_free(struct redis_call *c);
void redis_ack_drop(struct redis_call *c);
void redis_answer(struct redis_backend *rb, uint32_t id, uint16_t op, int err, const struct wire_buf *body);

/* mpx-redis-node.c: descriptors watched, connections to nodes, the library, a node lost, the slot map. */
void redis_watch(struct redis_backend *rb, int op, int fd, uint32_t events, uint64_t data);
void redis_nonblocking(redisContext *ctx);
void redis_blocking(redisContext *ctx);
redisReply *redis_command(redisContext *ctx, int argc, const char **argv);
int redis_load_library(redisContext *ctx);
redisContext *redis_open(struct redis_backend *rb, const struct redis_node *n, int *ret_err);
int redis_node_connect(struct redis_backend *rb, int i);
bool redis_node_ready(struct redis_backend *rb, int i);
void redis_sub_lost(struct redis_backend *rb, int i);
void redis_node_lost(struct redis_backend *rb, int i);
void redis_node_flush(struct redis_backend *rb, int i);
int redis_slots_refresh(struct redis_backend *rb);
int redis_node_of(struct redis_backend *rb, const struct redis_call *c);

/* mpx-redis-loop.c: end a call that will not succeed. */
void redis_end(struct redis_backend *rb, struct redis_call *c, int err);

/* mpx-redis-lease.c: an object held (again); the lease thread; giving back at disconnect. */
void redis_held_add(struct redis_backend *rb, const char *name);
void *redis_heartbeat(void *arg);
void redis_give_back(struct redis_backend *rb);
