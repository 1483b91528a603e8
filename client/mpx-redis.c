/* SPDX-License-Identifier: MIT */
/*
 * libmpx's Redis backend: addresses, the connections to Redis, the request
 * loop that turns request frames into function calls and answers into reply
 * frames, parked calls, timeouts, and the leases of what a client holds.
 * mpx-redis.h says how the pieces fit.
 *
 * One mpx connection may speak to several Redis nodes (the masters of a
 * cluster, or one server). Each node has a command connection, on which
 * calls are pipelined and answered in order (a FIFO of calls in flight),
 * and, once something waits on an object it serves, a subscriber
 * connection for the objects' wake channels. Both are hiredis contexts in
 * non-blocking mode, watched by one epoll descriptor together with a timer:
 * that descriptor is what mpx_fd() returns, so an event loop watches one
 * descriptor for POLLIN whatever the number of nodes.
 *
 * A thread renews the leases of the objects this client holds something in
 * (mpx_renew) on connections of its own, so that a process that computes for
 * a long time without calling libmpx keeps its locks and deliveries; it
 * stops with the connection. A process that dies stops renewing, and what it
 * held comes back once its lease has run out.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

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

        struct redis_node *nodes;
        size_t n_nodes;
        int16_t slot_node[REDIS_SLOTS]; /* node index of each slot (all 0 outside a cluster), -1 unknown */
        bool slots_stale;               /* a node was lost or moved slots: ask the cluster again */
        int64_t slots_next_refresh;     /* ... not before this time */

        struct redis_waitlist *waits;   /* uthash by name */
        uint64_t heard;                 /* wake messages and confirmations read so far, of any object */
        struct redis_call *unreachable; /* calls waiting for their node */
        bool fresh;                     /* reply frames were added to m->in since the last read */

        pthread_t heartbeat;
        bool heartbeat_running;
        pthread_mutex_t lock;           /* held, stop */
        pthread_cond_t wakeup;
        struct redis_held *held;
        bool stop;
};

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- addresses ---- */

bool redis_address(const char *address) {
        return address && (strncmp(address, "redis://", 8) == 0 || strncmp(address, "redis+unix://", 13) == 0 ||
                           strncmp(address, "redis+cluster://", 16) == 0);
}

/* Add a node of address host:port (port 0: host is a socket path); its index, or -ENOMEM/-EINVAL. */
static int redis_node_add(struct redis_backend *rb, const char *host, size_t host_len, int port) {
        struct redis_node *nodes;

        if (host_len == 0 || host_len >= sizeof(rb->nodes[0].host))
                return -EINVAL;
        for (size_t i = 0; i < rb->n_nodes; i++)
                if (rb->nodes[i].port == port && strlen(rb->nodes[i].host) == host_len &&
                    memcmp(rb->nodes[i].host, host, host_len) == 0)
                        return (int) i;
        if (rb->n_nodes >= INT16_MAX)
                return -EUSERS;
        nodes = realloc(rb->nodes, (rb->n_nodes + 1) * sizeof(*nodes));
        if (!nodes)
                return -ENOMEM;
        rb->nodes = nodes;
        memset(&nodes[rb->n_nodes], 0, sizeof(nodes[0]));
        memcpy(nodes[rb->n_nodes].host, host, host_len);
        nodes[rb->n_nodes].port = port;
        return (int) rb->n_nodes++;
}

/* One option of the query string: lease_ms=N. */
static int redis_option(struct redis_backend *rb, const char *opt, size_t len) {
        char buf[64], *end;
        unsigned long v;

        if (len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, opt, len);
        buf[len] = '\0';
        if (strncmp(buf, "lease_ms=", 9) == 0) {
                v = strtoul(buf + 9, &end, 10);
                if (*end || end == buf + 9 || v < 100 || v > 86400000)
                        return -EINVAL;
                rb->lease_ms = (uint32_t) v;
                return 0;
        }
        if (strncmp(buf, "wait_replicas=", 14) == 0) {
                v = strtoul(buf + 14, &end, 10);
                if (*end || end == buf + 14 || v > 64)
                        return -EINVAL;
                rb->wait_replicas = (unsigned) v;
                return 0;
        }
        if (strncmp(buf, "wait_timeout_ms=", 16) == 0) {
                v = strtoul(buf + 16, &end, 10);
                if (*end || end == buf + 16 || v == 0 || v > 86400000)
                        return -EINVAL;
                rb->wait_timeout_ms = (uint32_t) v;
                return 0;
        }
        return -EINVAL;
}

/* user[:password]@ before the host, if there. */
static int redis_userinfo(struct redis_backend *rb, const char **p, const char *end) {
        const char *at = memchr(*p, '@', (size_t) (end - *p)), *colon;

        if (!at)
                return 0;
        colon = memchr(*p, ':', (size_t) (at - *p));
        if (!colon)
                colon = at;
        if ((size_t) (colon - *p) >= sizeof(rb->user) || (size_t) (at - colon) > sizeof(rb->password))
                return -EINVAL;
        memcpy(rb->user, *p, (size_t) (colon - *p));
        if (colon < at)
                memcpy(rb->password, colon + 1, (size_t) (at - colon - 1));
        *p = at + 1;
        return 0;
}

/* host[:port] */
static int redis_hostport(struct redis_backend *rb, const char *p, const char *end) {
        const char *colon = NULL;
        unsigned long port = 6379;
        char *e;

        for (const char *q = p; q < end; q++)
                if (*q == ':')
                        colon = q;
        if (colon) {
                port = strtoul(colon + 1, &e, 10);
                if (e != end || port == 0 || port > 65535)
                        return -EINVAL;
                end = colon;
        }
        return redis_node_add(rb, p, (size_t) (end - p), (int) port);
}

/*
 * redis://[user[:password]@]host[:port][/db][?opt&...]
 * redis+unix://[user[:password]@]/path/to/socket[?opt&...]
 * redis+cluster://[user[:password]@]host:port[,host:port...][?opt&...]
 */
static int redis_parse_address(struct redis_backend *rb, const char *address) {
        const char *p = strchr(address, ':') + 3, *query, *end, *slash;
        int r;

        query = strchr(p, '?');
        end = query ? query : p + strlen(p);
        r = redis_userinfo(rb, &p, end);
        if (r < 0)
                return r;
        if (strncmp(address, "redis+unix://", 13) == 0) {
                if (*p != '/')
                        return -EINVAL;
                r = redis_node_add(rb, p, (size_t) (end - p), 0);
        } else if (strncmp(address, "redis+cluster://", 16) == 0) {
                rb->cluster = true;
                while (p < end && r >= 0) {
                        const char *comma = memchr(p, ',', (size_t) (end - p));

                        r = redis_hostport(rb, p, comma ? comma : end);
                        p = comma ? comma + 1 : end;
                }
        } else {
                slash = memchr(p, '/', (size_t) (end - p));
                r = redis_hostport(rb, p, slash ? slash : end);
                if (r >= 0 && slash && slash + 1 < end) {
                        char *e;

                        rb->db = (int) strtol(slash + 1, &e, 10);
                        if (e != end || rb->db < 0)
                                r = -EINVAL;
                }
        }
        if (r >= 0 && rb->n_nodes == 0)
                r = -EINVAL;
        for (p = query ? query + 1 : NULL; r >= 0 && p && *p;) {
                const char *amp = strchr(p, '&');

                r = redis_option(rb, p, amp ? (size_t) (amp - p) : strlen(p));
                p = amp ? amp + 1 : NULL;
        }
        return r < 0 ? r : 0;
}

/* ---- replies ---- */

bool redis_reply_i64(const redisReply *r, int64_t *v) {
        char buf[32], *end;

        if (!r)
                return false;
        if (r->type == REDIS_REPLY_INTEGER) {
                *v = r->integer;
                return true;
        }
        if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(buf))
                return false;
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
        errno = 0;
        *v = strtoll(buf, &end, 10);
        return errno == 0 && *end == '\0';
}

bool redis_reply_u64(const redisReply *r, uint64_t *v) {
        char buf[32], *end;

        if (!r)
                return false;
        if (r->type == REDIS_REPLY_INTEGER) {
                if (r->integer < 0)
                        return false;
                *v = (uint64_t) r->integer;
                return true;
        }
        if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(buf) || r->str[0] == '-')
                return false;
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
        errno = 0;
        *v = strtoull(buf, &end, 10);
        return errno == 0 && *end == '\0';
}

bool redis_reply_bytes(const redisReply *r, const void **p, size_t *n) {
        if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
                return false;
        *p = r->str;
        *n = r->len;
        return true;
}

const redisReply *redis_reply_at(const redisReply *r, size_t i) {
        if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
                return NULL;
        return r->element[i];
}

int redis_reply_empty(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        (void) c;
        (void) r;
        (void) body;
        return 0;
}

int redis_reply_as_u8(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) c;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        return wire_put_u8(body, v != 0);
}

int redis_reply_as_u64(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t v;

        (void) c;
        if (!redis_reply_u64(r, &v))
                return -EPROTO;
        return wire_put_u64(body, v);
}

int redis_reply_as_i64(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) c;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        return wire_put_i64(body, v);
}

int redis_reply_as_bytes(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        const void *p;
        size_t n;

        (void) c;
        if (!redis_reply_bytes(r, &p, &n) || n > UINT32_MAX)
                return -EPROTO;
        return wire_put_bytes(body, p, (uint32_t) n);
}

/* The errno an error reply of the library names by its first word, or 0. */
static int redis_error_errno(const char *err) {
        static const struct {
                const char *name;
                int err;
        } names[] = {
                { "EAGAIN", EAGAIN }, { "ETIMEDOUT", ETIMEDOUT }, { "ENOENT", ENOENT }, { "EEXIST", EEXIST },
                { "EACCES", EACCES }, { "EMSGSIZE", EMSGSIZE }, { "EPIPE", EPIPE }, { "EIDRM", EIDRM },
                { "EINVAL", EINVAL }, { "EPROTO", EPROTO }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOMEM", ENOMEM },
                { "ENOSPC", ENOSPC }, { "ERANGE", ERANGE }, { "EPROTOTYPE", EPROTOTYPE }, { "EUSERS", EUSERS },
                { "ENOTRECOVERABLE", ENOTRECOVERABLE }, { "EOWNERDEAD", EOWNERDEAD }, { "EIO", EIO },
                { "ECANCELED", ECANCELED },
                /* Redis's own: over maxmemory; an ACL that refuses a command or a key. */
                { "OOM", ENOSPC }, { "NOPERM", EACCES }, { "NOAUTH", EACCES }, { "WRONGPASS", EACCES },
        };
        size_t len = strcspn(err, " ");

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i].name) == len && strncmp(err, names[i].name, len) == 0)
                        return names[i].err;
        return 0;
}

/* An error that goes away by itself: the node is loading, failing over, or the slot is migrating. */
static bool redis_error_transient(const char *err) {
        return strncmp(err, "LOADING", 7) == 0 || strncmp(err, "TRYAGAIN", 8) == 0 ||
               strncmp(err, "CLUSTERDOWN", 11) == 0 || strncmp(err, "MASTERDOWN", 10) == 0 ||
               strncmp(err, "READONLY", 8) == 0 || strncmp(err, "BUSY", 4) == 0;
}

/* The function library is missing or another version: load ours and call again. */
static bool redis_error_no_function(const char *err) {
        return strstr(err, "Function not found") != NULL || strncmp(err, "NOSCRIPT", 8) == 0;
}

/* ---- building calls ---- */

static int redis_arg_push(struct redis_call *c, const void *p, size_t n) {
        char *copy;

        if (c->argc == c->argcap) {
                int cap = c->argcap ? c->argcap * 2 : 8;
                char **argv = realloc(c->argv, (size_t) cap * sizeof(*argv));
                size_t *lens;

                if (!argv)
                        return -ENOMEM;
                c->argv = argv;
                lens = realloc(c->argvlen, (size_t) cap * sizeof(*lens));
                if (!lens)
                        return -ENOMEM;
                c->argvlen = lens;
                c->argcap = cap;
        }
        copy = conn_memdup(p, n);
        if (!copy)
                return -ENOMEM;
        c->argv[c->argc] = copy;
        c->argvlen[c->argc++] = n;
        return 0;
}

static void redis_args_clear(struct redis_call *c) {
        for (int i = 0; i < c->argc; i++)
                free(c->argv[i]);
        c->argc = 0;
}

int redis_call_begin(struct redis_call *c, const char *fn, redis_reply_fn *reply) {
        char key[WIRE_NAME_MAX + 8];
        int r, n;

        redis_args_clear(c);
        c->reply = reply;
        n = snprintf(key, sizeof(key), "mpx:{%s}", c->name);
        r = redis_arg_push(c, "FCALL", 5);
        if (r >= 0)
                r = redis_arg_push(c, fn, strlen(fn));
        if (r >= 0)
                r = redis_arg_push(c, "1", 1);
        if (r >= 0)
                r = redis_arg_push(c, key, (size_t) n);
        return r;
}

int redis_call_begin_keyless(struct redis_call *c, const char *fn, redis_reply_fn *reply) {
        int r;

        redis_args_clear(c);
        c->reply = reply;
        c->name[0] = '\0';
        r = redis_arg_push(c, "FCALL", 5);
        if (r >= 0)
                r = redis_arg_push(c, fn, strlen(fn));
        if (r >= 0)
                r = redis_arg_push(c, "0", 1);
        return r;
}

int redis_call_name(struct redis_call *c, struct wire_reader *body) {
        const char *name;
        size_t len;

        if (!wire_get_name(body, &name, &len))
                return -EPROTO;
        memcpy(c->name, name, len);
        c->name[len] = '\0';
        return 0;
}

int redis_arg_bytes(struct redis_call *c, const void *p, size_t n) {
        return redis_arg_push(c, p, n);
}

int redis_arg_str(struct redis_call *c, const char *s) {
        return redis_arg_push(c, s, strlen(s));
}

int redis_arg_i64(struct redis_call *c, int64_t v) {
        char buf[32];

        return redis_arg_push(c, buf, (size_t) snprintf(buf, sizeof(buf), "%lld", (long long) v));
}

int redis_arg_u64(struct redis_call *c, uint64_t v) {
        char buf[32];

        return redis_arg_push(c, buf, (size_t) snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v));
}

int redis_arg_client(struct redis_call *c) {
        return redis_arg_str(c, c->rb->client_id);
}

int redis_arg_lease(struct redis_call *c) {
        return redis_arg_u64(c, c->rb->lease_ms);
}

/* The arguments of the function start after FCALL, its name, 1 and the key. */
#define REDIS_FIRST_ARG 4

int redis_arg_set_str(struct redis_call *c, int i, const char *s) {
        char *copy;

        if (i < 0 || REDIS_FIRST_ARG + i >= c->argc)
                return -EINVAL;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(c->argv[REDIS_FIRST_ARG + i]);
        c->argv[REDIS_FIRST_ARG + i] = copy;
        c->argvlen[REDIS_FIRST_ARG + i] = strlen(s);
        return 0;
}

int redis_arg_set_u64(struct redis_call *c, int i, uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        return redis_arg_set_str(c, i, buf);
}

static void redis_call_free(struct redis_call *c) {
        wire_buf_done(&c->kept_body);
        redis_args_clear(c);
        free(c->argv);
        free(c->argvlen);
        free(c);
}

/* The call's WAIT will vouch for nothing: its answer is dropped when it comes. */
static void redis_ack_drop(struct redis_call *c) {
        if (!c->ack)
                return;
        c->ack->ack_of = NULL;
        c->ack->orphan = true;
        c->ack = NULL;
}

/* ---- reply frames ---- */

/* Append the reply frame of call c to the connection's input: status from err (0: OK), body. */
static void redis_answer(struct redis_backend *rb, uint32_t id, uint16_t op, int err, const struct wire_buf *body) {
        struct mpx *m = rb->m;
        size_t start;

        if (wire_frame_begin(&m->in, id, op, wire_status_from_errno(err), &start) < 0)
                goto nomem;
        if (err == 0 && body && body->len > 0 && wire_put_raw(&m->in, body->data, body->len) < 0) {
                wire_frame_abort(&m->in, start);
                goto nomem;
        }
        wire_frame_end(&m->in, start);
        rb->fresh = true;
        return;
nomem:
        /* The request cannot be told its result; the connection is not to be trusted any more. */
        m->broken = true;
}

/* ---- holdings and their leases ---- */

static void redis_held_add(struct redis_backend *rb, const char *name) {
        struct redis_held *h;

        pthread_mutex_lock(&rb->lock);
        HASH_FIND_STR(rb->held, name, h);
        if (!h) {
                h = calloc(1, sizeof(*h));
                if (h) {
                        strcpy(h->name, name);
                        HASH_ADD_STR(rb->held, name, h);
                }
        }
        if (h)
                h->gen++;
        pthread_mutex_unlock(&rb->lock);
}

/* ---- nodes ---- */

static void redis_watch(struct redis_backend *rb, int op, int fd, uint32_t events, uint64_t data) {
        struct epoll_event ev = { .events = events, .data.u64 = data };

        epoll_ctl(rb->epfd, op, fd, &ev);
}

/* Make a blocking context non-blocking, as the loop drives it. */
static void redis_nonblocking(redisContext *ctx) {
        fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) | O_NONBLOCK);
        ctx->flags &= ~REDIS_BLOCK;
}

static void redis_blocking(redisContext *ctx) {
        fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) & ~O_NONBLOCK);
        ctx->flags |= REDIS_BLOCK;
}

/* A command on a blocking context: its reply (free it), or NULL with the context's error set. */
static redisReply *redis_command(redisContext *ctx, int argc, const char **argv) {
        size_t lens[8];

        for (int i = 0; i < argc; i++)
                lens[i] = strlen(argv[i]);
        return redisCommandArgv(ctx, argc, argv, lens);
}

/* Check the function library on a node and load ours unless it is there: 0, or -errno. */
static int redis_load_library(redisContext *ctx) {
        const char *version[] = { "FCALL", "mpx_version", "0" };
        redisReply *r = redis_command(ctx, 3, version);
        bool ours;

        if (!r)
                return -ECONNRESET;
        ours = r->type == REDIS_REPLY_STRING && strcmp(r->str, redis_lua_library_version) == 0;
        freeReplyObject(r);
        if (ours)
                return 0;
        r = redisCommand(ctx, "FUNCTION LOAD REPLACE %s", redis_lua_library);
        if (!r)
                return -ECONNRESET;
        ours = r->type != REDIS_REPLY_ERROR;
        freeReplyObject(r);
        /* A server without functions (before Redis 7) cannot serve mpx. */
        return ours ? 0 : -EOPNOTSUPP;
}

/* Connect to node i, blocking for at most the connect timeout, and say who we are: a context, or NULL. */
static redisContext *redis_open(struct redis_backend *rb, const struct redis_node *n, int *ret_err) {
        struct timeval tv = { REDIS_CONNECT_TIMEOUT_MS / 1000, (REDIS_CONNECT_TIMEOUT_MS % 1000) * 1000 };
        redisContext *ctx;
        redisReply *r = NULL;

        ctx = n->port ? redisConnectWithTimeout(n->host, n->port, tv) : redisConnectUnixWithTimeout(n->host, tv);
        if (!ctx || ctx->err) {
                *ret_err = ctx && ctx->err == REDIS_ERR_IO && errno ? -errno : -ECONNREFUSED;
                if (ctx)
                        redisFree(ctx);
                return NULL;
        }
        fcntl(ctx->fd, F_SETFD, FD_CLOEXEC);
        redisSetTimeout(ctx, tv);
        if (rb->password[0] || rb->user[0]) {
                if (rb->user[0])
                        r = redisCommand(ctx, "AUTH %s %s", rb->user, rb->password);
                else
                        r = redisCommand(ctx, "AUTH %s", rb->password);
        } else if (rb->db)
                r = redisCommand(ctx, "SELECT %d", rb->db);
        if ((rb->password[0] || rb->user[0]) && r && r->type != REDIS_REPLY_ERROR && rb->db) {
                freeReplyObject(r);
                r = redisCommand(ctx, "SELECT %d", rb->db);
        }
        if ((rb->password[0] || rb->user[0] || rb->db) && (!r || r->type == REDIS_REPLY_ERROR)) {
                *ret_err = !r ? -ECONNRESET : strncmp(r->str, "ERR DB", 6) == 0 ? -EINVAL : -EACCES;
                if (r)
                        freeReplyObject(r);
                redisFree(ctx);
                return NULL;
        }
        if (r)
                freeReplyObject(r);
        return ctx;
}

/* Connect the command connection of node i and check its library: 0, or -errno. */
static int redis_node_connect(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        int err = 0;

        n->ctx = redis_open(rb, n, &err);
        if (n->ctx) {
                err = redis_load_library(n->ctx);
                if (err < 0) {
                        redisFree(n->ctx);
                        n->ctx = NULL;
                }
        }
        if (!n->ctx) {
                n->retry_at = now_ms() + REDIS_UNREACHABLE_RETRY_MS;
                return err;
        }
        redis_nonblocking(n->ctx);
        n->out_watched = false;
        redis_watch(rb, EPOLL_CTL_ADD, n->ctx->fd, EPOLLIN, (uint64_t) i * 2);
        return 0;
}

/* Node i's command connection is up, or was just brought up; false while it cannot be. */
static bool redis_node_ready(struct redis_backend *rb, int i) {
        if (rb->nodes[i].ctx)
                return true;
        if (now_ms() < rb->nodes[i].retry_at)
                return false;
        return redis_node_connect(rb, i) == 0;
}

static void redis_send_call(struct redis_backend *rb, struct redis_call *c);
static void redis_end(struct redis_backend *rb, struct redis_call *c, int err);

/* Forget the subscriptions made on node i: they are made again by the next tick. */
static void redis_sub_lost(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        struct redis_waitlist *w, *tmp;

        if (n->sub) {
                redis_watch(rb, EPOLL_CTL_DEL, n->sub->fd, 0, 0);
                redisFree(n->sub);
                n->sub = NULL;
        }
        HASH_ITER(hh, rb->waits, w, tmp) {
                if (w->node == i) {
                        w->node = -1;
                        w->confirmed = false;
                }
        }
}

/*
 * Node i's connection is lost. Its calls in flight may or may not have been
 * carried out: each fails with ECONNRESET, which says so (the mpx connection
 * itself goes on). A cluster's slot map is asked again.
 */
static void redis_node_lost(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        struct redis_call *c;

        if (n->ctx) {
                redis_watch(rb, EPOLL_CTL_DEL, n->ctx->fd, 0, 0);
                redisFree(n->ctx);
                n->ctx = NULL;
        }
        redis_sub_lost(rb, i);
        n->retry_at = now_ms() + REDIS_UNREACHABLE_RETRY_MS;
        if (rb->cluster)
                rb->slots_stale = true;
        while ((c = n->head)) {
                n->head = c->next;
                c->next = NULL;
                if (c->ack_of && c->ack_of->answered) {
                        /* Answered, but whether its replicas have the change is unknown. */
                        c->ack_of->ack = NULL;
                        c->ack_of->answered = false;
                        redis_end(rb, c->ack_of, -ECONNRESET);
                }
                if (c->ack_of || c->orphan)
                        redis_call_free(c);
                else {
                        redis_ack_drop(c);
                        redis_end(rb, c, -ECONNRESET);
                }
        }
        n->tail = NULL;
}

/* Write what node i's connection has queued; ask for EPOLLOUT while some is left. */
static void redis_node_flush(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        int done = 0;

        if (!n->ctx)
                return;
        if (redisBufferWrite(n->ctx, &done) != REDIS_OK) {
                redis_node_lost(rb, i);
                return;
        }
        if (!done != n->out_watched) {
                n->out_watched = !done;
                redis_watch(rb, EPOLL_CTL_MOD, n->ctx->fd, EPOLLIN | (done ? 0 : EPOLLOUT), (uint64_t) i * 2);
        }
}

/* ---- cluster slots ---- */

static void redis_slots_take(unsigned start, unsigned end, const char *host, int port, void *userdata) {
        struct redis_backend *rb = userdata;
        int i = redis_node_add(rb, host, strlen(host), port);

        for (unsigned s = start; s <= end && i >= 0; s++)
                rb->slot_node[s] = (int16_t) i;
}

/* Ask the nodes known, in turn, for the slot map: 0, or -errno if none answers. */
static int redis_slots_refresh(struct redis_backend *rb) {
        int err = -ECONNREFUSED;

        for (size_t i = 0; i < rb->n_nodes; i++) {
                const char *args[] = { "CLUSTER", "SLOTS" };
                redisContext *ctx = redis_open(rb, &rb->nodes[i], &err);
                redisReply *r;

                if (!ctx)
                        continue;
                r = redis_command(ctx, 2, args);
                redisFree(ctx);
                if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
                        for (unsigned s = 0; s < REDIS_SLOTS; s++)
                                rb->slot_node[s] = -1;
                        err = redis_cluster_slots(r, redis_slots_take, rb);
                        freeReplyObject(r);
                        if (err >= 0) {
                                rb->slots_stale = false;
                                return 0;
                        }
                } else {
                        err = r && r->type == REDIS_REPLY_ERROR ? -EOPNOTSUPP : -EPROTO;
                        if (r)
                                freeReplyObject(r);
                }
        }
        return err;
}

/* The node serving the call's object, or -1 while none is known. */
static int redis_node_of(struct redis_backend *rb, const struct redis_call *c) {
        if (!rb->cluster)
                return 0;
        if (rb->slots_stale && now_ms() >= rb->slots_next_refresh) {
                /* During a failover the map may name the dead master for a while: ask again, not too often. */
                rb->slots_next_refresh = now_ms() + REDIS_SLOTS_REFRESH_MS;
                redis_slots_refresh(rb);
        }
        if (!c->name[0] && c->node >= 0)
                return c->node < (int) rb->n_nodes ? c->node : -1;
        return rb->slot_node[c->name[0] ? redis_slot(c->name) : 0];
}

int redis_master(struct redis_backend *rb, unsigned ordinal) {
        unsigned seen = 0;
        bool *counted;
        int found = -1;

        if (!rb->cluster)
                return ordinal == 0 ? 0 : -1;
        if (rb->slots_stale)
                redis_slots_refresh(rb);
        counted = calloc(rb->n_nodes + 1, sizeof(*counted));
        if (!counted)
                return -1;
        /* Masters in the order of their first slot, which the slot map keeps stable. */
        for (unsigned s = 0; s < REDIS_SLOTS && found < 0; s++) {
                int i = rb->slot_node[s];

                if (i < 0 || counted[i])
                        continue;
                counted[i] = true;
                if (seen++ == ordinal)
                        found = i;
        }
        free(counted);
        return found;
}

int redis_stats(struct redis_backend *rb, struct wire_buf *body) {
        struct wire_fields f;
        unsigned masters = 0;
        int r;

        while (redis_master(rb, masters) >= 0)
                masters++;
        r = wire_fields_begin(body, &f);
        if (r >= 0)
                r = wire_put_field_str(body, &f, "backend", rb->cluster ? "redis-cluster" : "redis");
        if (r >= 0)
                r = wire_put_field_int(body, &f, "masters", masters);
        if (r >= 0)
                r = wire_put_field_str(body, &f, "client_id", rb->client_id);
        if (r >= 0)
                r = wire_put_field_int(body, &f, "lease_ms", rb->lease_ms);
        if (r >= 0) {
                pthread_mutex_lock(&rb->lock);
                r = wire_put_field_int(body, &f, "holding", (int64_t) HASH_COUNT(rb->held));
                pthread_mutex_unlock(&rb->lock);
        }
        if (r >= 0)
                wire_fields_end(body, &f);
        return r;
}

/* ---- the life of a call ---- */

static struct redis_waitlist *redis_waitlist_of(struct redis_backend *rb, const char *name, bool create) {
        struct redis_waitlist *w;

        HASH_FIND_STR(rb->waits, name, w);
        if (w || !create)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        strcpy(w->name, name);
        w->node = -1;
        HASH_ADD_STR(rb->waits, name, w);
        return w;
}

/* Append a call to the node's calls in flight. */
static void redis_fifo_push(struct redis_node *n, struct redis_call *c) {
        c->next = NULL;
        if (n->tail)
                n->tail->next = c;
        else
                n->head = c;
        n->tail = c;
}

/* Requests that change nothing: no WAIT for replicas after them. */
static bool redis_op_reads_only(uint16_t op) {
        switch (op) {
        case WIRE_OP_PING: case WIRE_OP_LIST: case WIRE_OP_INFO: case WIRE_OP_QUEUE_QSIZE: case WIRE_OP_QUEUE_PEEK:
        case WIRE_OP_QUEUE_JOIN: case WIRE_OP_DICT_GET: case WIRE_OP_DICT_CONTAINS: case WIRE_OP_DICT_LEN:
        case WIRE_OP_DICT_ITEMS: case WIRE_OP_LIST_GET: case WIRE_OP_LIST_INDEX: case WIRE_OP_LIST_LEN:
        case WIRE_OP_LIST_SLICE: case WIRE_OP_SEM_VALUE: case WIRE_OP_EVENT_IS_SET: case WIRE_OP_EVENT_WAIT:
        case WIRE_OP_ARRAY_GET:
                return true;
        default:
                return false;
        }
}

/*
 * wait_replicas=N: WAIT N timeout after a change, in the same pipeline; the
 * change's answer is kept until WAIT says how many replicas have it.
 */
static void redis_send_wait(struct redis_backend *rb, struct redis_node *n, struct redis_call *c) {
        struct redis_call *ack = calloc(1, sizeof(*ack));

        if (!ack || redisAppendCommand(n->ctx, "WAIT %u %u", rb->wait_replicas, rb->wait_timeout_ms) != REDIS_OK) {
                /* Without its WAIT the answer cannot be vouched for: say so when it comes. */
                free(ack);
                c->ack = NULL;
                c->kept_err = -ENOMEM;
                return;
        }
        ack->rb = rb;
        ack->ack_of = c;
        c->ack = ack;
        wire_buf_init(&ack->kept_body);
        redis_fifo_push(n, ack);
}

/* A WAIT's answer: the call's kept answer goes out, or EIO if too few replicas have the change. */
static void redis_wait_done(struct redis_backend *rb, struct redis_call *ack, const redisReply *r) {
        struct redis_call *c = ack->ack_of;
        int64_t replicas = -1;

        if (c) {
                c->ack = NULL;
                if (c->answered) {
                        redis_reply_i64(r, &replicas);
                        if (c->kept_err == 0 && replicas < (int64_t) rb->wait_replicas)
                                c->kept_err = -EIO;
                        redis_answer(rb, c->id, c->op, c->kept_err, &c->kept_body);
                        redis_call_free(c);
                }
        }
        redis_call_free(ack);
}

/* Send a call to the node serving its object, or keep it until that node is reachable. */
static void redis_send_call(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w = redis_waitlist_of(rb, c->name, false);
        struct redis_node *n;
        int i = redis_node_of(rb, c);

        if (i < 0 || !redis_node_ready(rb, i)) {
                /* The slot's node is out of reach: a replica may be taking over. */
                if (rb->cluster)
                        rb->slots_stale = true;
                if (c->unavailable_since < 0)
                        c->unavailable_since = now_ms();
                if (now_ms() - c->unavailable_since >= REDIS_UNREACHABLE_MS) {
                        redis_end(rb, c, -ECONNRESET);
                        return;
                }
                c->next = rb->unreachable;
                rb->unreachable = c;
                return;
        }
        n = &rb->nodes[i];
        if (redisAppendCommandArgv(n->ctx, c->argc, (const char **) c->argv, c->argvlen) != REDIS_OK) {
                redis_end(rb, c, -ENOMEM);
                return;
        }
        c->unavailable_since = -1;
        c->sent_confirmed = w && w->confirmed;
        c->sent_heard = rb->heard;
        redis_fifo_push(n, c);
        if (rb->wait_replicas && !redis_op_reads_only(c->op))
                redis_send_wait(rb, n, c);
}

/* Subscribe to the wake channel of waitlist w on the subscriber connection of its node. */
static void redis_subscribe(struct redis_backend *rb, struct redis_waitlist *w) {
        struct redis_call probe = { .rb = rb };
        struct redis_node *n;
        int i;

        strcpy(probe.name, w->name);
        i = redis_node_of(rb, &probe);
        if (i < 0)
                return;
        n = &rb->nodes[i];
        if (!n->sub) {
                int err;

                n->sub = redis_open(rb, n, &err);
                if (!n->sub)
                        return;
                redis_nonblocking(n->sub);
                redis_watch(rb, EPOLL_CTL_ADD, n->sub->fd, EPOLLIN, (uint64_t) i * 2 + 1);
        }
        if (redisAppendCommand(n->sub, "SSUBSCRIBE mpx:{%s}:wake", w->name) != REDIS_OK)
                return;
        w->node = i;
        redis_node_flush(rb, i);
        {
                int done = 0;

                if (redisBufferWrite(n->sub, &done) != REDIS_OK)
                        redis_sub_lost(rb, i);
        }
}

/*
 * Park call c until its object changes: on the wake channel's next message,
 * or REDIS_RETRY_MS at the latest, it is sent again.
 */
static void redis_park(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w;

        if (c->timeout_ms == 0) {
                redis_end(rb, c, -EAGAIN);
                return;
        }
        if (c->cancelled) {
                redis_end(rb, c, -ECANCELED);
                return;
        }
        if (c->deadline >= 0 && now_ms() >= c->deadline) {
                redis_end(rb, c, -ETIMEDOUT);
                return;
        }
        /* A reply function may have learned the timeout only now (a barrier's own). */
        if (c->deadline < 0 && c->timeout_ms > 0)
                c->deadline = now_ms() + c->timeout_ms;
        w = redis_waitlist_of(rb, c->name, true);
        if (!w) {
                redis_end(rb, c, -ENOMEM);
                return;
        }
        c->was_parked = true;
        if (w->confirmed && (!c->sent_confirmed || w->heard > c->sent_heard)) {
                /*
                 * It ran before the subscription, or a wake came while it was
                 * in flight (read before its answer, it found no call parked):
                 * a change since it ran may not be heard again. Once more.
                 */
                redis_send_call(rb, c);
                return;
        }
        c->parked_at = now_ms();
        c->next = w->calls;
        w->calls = c;
        if (w->node < 0)
                redis_subscribe(rb, w);
}

/* Send every call of waitlist w again. */
static void redis_wake(struct redis_backend *rb, struct redis_waitlist *w) {
        struct redis_call *c = w->calls, *next;

        w->calls = NULL;
        for (; c; c = next) {
                next = c->next;
                c->parked_at = -1;
                redis_send_call(rb, c);
        }
}

/* Take call c out of the waitlist it is parked on. */
static void redis_unpark(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w = redis_waitlist_of(rb, c->name, false);

        c->parked_at = -1;
        for (struct redis_call **p = w ? &w->calls : NULL; p && *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        c->next = NULL;
}

/* End a call that will not succeed: its abandon hook may make one more call; else the error. */
static void redis_end(struct redis_backend *rb, struct redis_call *c, int err) {
        redis_abandon_fn *abandon = c->abandon;

        c->abandon = NULL;
        if (abandon && abandon(c, err) == 1) {
                /* The clean-up call answers; it never waits. */
                c->timeout_ms = 0;
                c->deadline = -1;
                redis_send_call(rb, c);
                return;
        }
        redis_answer(rb, c->id, c->op, err, NULL);
        redis_call_free(c);
}

/* Send ASKING to node i, its answer dropped by a placeholder call in its place in the FIFO. */
static int redis_asking(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        struct redis_call *c = calloc(1, sizeof(*c));

        if (!c || redisAppendCommand(n->ctx, "ASKING") != REDIS_OK) {
                free(c);
                return -ENOMEM;
        }
        c->rb = rb;
        c->orphan = true;
        redis_fifo_push(n, c);
        return 0;
}

/* Deal with an error answer: redirections, missing library, transient states, mpx statuses. */
static void redis_call_error(struct redis_backend *rb, int i, struct redis_call *c, const char *err) {
        char host[256];
        unsigned slot;
        int port, kind, e;

        kind = redis_redirection(err, &slot, host, sizeof(host), &port);
        if (kind == 1 && rb->cluster) {
                e = redis_node_add(rb, host, strlen(host), port);
                if (e >= 0)
                        rb->slot_node[slot] = (int16_t) e;
                redis_send_call(rb, c);
                return;
        }
        if (kind == 2 && rb->cluster) {
                /* A slot on its way: ask the other node once, without changing the map. */
                e = redis_node_add(rb, host, strlen(host), port);
                if (e >= 0 && redis_node_ready(rb, e) && redis_asking(rb, e) == 0) {
                        rb->slot_node[slot] = (int16_t) e;
                        redis_send_call(rb, c);
                        rb->slot_node[slot] = (int16_t) i;
                        return;
                }
        }
        if (redis_error_no_function(err) && rb->nodes[i].ctx) {
                redis_blocking(rb->nodes[i].ctx);
                e = redis_load_library(rb->nodes[i].ctx);
                if (rb->nodes[i].ctx)
                        redis_nonblocking(rb->nodes[i].ctx);
                if (e >= 0) {
                        redis_send_call(rb, c);
                        return;
                }
                redis_end(rb, c, e);
                return;
        }
        if (redis_error_transient(err) || kind) {
                if (c->unavailable_since < 0)
                        c->unavailable_since = now_ms();
                c->next = rb->unreachable;
                rb->unreachable = c;
                return;
        }
        e = redis_error_errno(err);
        if (e == EAGAIN) {
                redis_park(rb, c);
                return;
        }
        /* A parked request whose object went away: deleted while it waited. */
        if (e == ENOENT && c->was_parked)
                e = EIDRM;
        redis_end(rb, c, e ? -e : -EIO);
}

/* The answer to call c, which node i was carrying out. */
static void redis_call_done(struct redis_backend *rb, int i, struct redis_call *c, redisReply *r) {
        struct wire_buf body;
        int res;

        if (c->ack_of) {
                redis_wait_done(rb, c, r);
                return;
        }
        if (c->orphan) {
                redis_ack_drop(c);
                redis_call_free(c);
                return;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                redis_ack_drop(c);
                redis_call_error(rb, i, c, r->str);
                return;
        }
        wire_buf_init(&body);
        c->holds = false;
        res = c->reply(c, r, &body);
        if (c->holds)
                redis_held_add(rb, c->name);
        if (res == REDIS_CALL_WAIT || res == REDIS_CALL_AGAIN) {
                /* Not an answer yet: its WAIT has nothing to vouch for. */
                redis_ack_drop(c);
                if (res == REDIS_CALL_WAIT)
                        redis_park(rb, c);
                else
                        redis_send_call(rb, c);
        } else if (c->ack) {
                c->answered = true;
                c->kept_err = res < 0 ? res : 0;
                wire_buf_done(&c->kept_body);
                c->kept_body = body;
                return;
        } else {
                redis_answer(rb, c->id, c->op, res < 0 ? res : c->kept_err, &body);
                redis_call_free(c);
        }
        wire_buf_done(&body);
}

/* Read what node i's command connection has and complete the calls answered. */
static void redis_node_read(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        void *reply;

        if (redisBufferRead(n->ctx) != REDIS_OK) {
                redis_node_lost(rb, i);
                return;
        }
        while (n->ctx && redisGetReplyFromReader(n->ctx, &reply) == REDIS_OK && reply) {
                struct redis_call *c = n->head;

                if (!c) {
                        /* An answer nobody asked for: the stream is out of step. */
                        freeReplyObject(reply);
                        redis_node_lost(rb, i);
                        return;
                }
                n->head = c->next;
                if (!n->head)
                        n->tail = NULL;
                c->next = NULL;
                redis_call_done(rb, i, c, reply);
                freeReplyObject(reply);
        }
        if (n->ctx && n->ctx->err)
                redis_node_lost(rb, i);
}

/* "mpx:{NAME}:wake" -> NAME, or NULL. */
static const char *redis_channel_object(const redisReply *ch, char *name) {
        size_t len;

        if (!ch || ch->type != REDIS_REPLY_STRING || ch->len < 11 || strncmp(ch->str, "mpx:{", 5) != 0 ||
            strcmp(ch->str + ch->len - 6, "}:wake") != 0)
                return NULL;
        len = ch->len - 11;
        if (len > WIRE_NAME_MAX)
                return NULL;
        memcpy(name, ch->str + 5, len);
        name[len] = '\0';
        return name;
}

/* Messages of node i's subscriber connection: confirmations and wakes. */
static void redis_sub_read(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        void *reply;

        if (redisBufferRead(n->sub) != REDIS_OK) {
                redis_sub_lost(rb, i);
                return;
        }
        while (n->sub && redisGetReplyFromReader(n->sub, &reply) == REDIS_OK && reply) {
                redisReply *r = reply;
                const redisReply *kind = redis_reply_at(r, 0);
                char name[WIRE_NAME_MAX + 1];
                struct redis_waitlist *w;

                if (kind && kind->type == REDIS_REPLY_STRING && redis_channel_object(redis_reply_at(r, 1), name) &&
                    (w = redis_waitlist_of(rb, name, false))) {
                        if (strcmp(kind->str, "ssubscribe") == 0 && w->node == i) {
                                w->confirmed = true;
                                w->heard = ++rb->heard;
                                redis_wake(rb, w);
                        } else if (strcmp(kind->str, "smessage") == 0) {
                                w->heard = ++rb->heard;
                                redis_wake(rb, w);
                        }
                }
                freeReplyObject(r);
        }
}

/* ---- time ---- */

/* Deadlines, the once-a-second retry, calls waiting for a node, idle subscriptions. */
static void redis_tick(struct redis_backend *rb) {
        struct redis_waitlist *w, *tmp;
        struct redis_call *c, *next;
        int64_t now = now_ms();

        c = rb->unreachable;
        rb->unreachable = NULL;
        for (; c; c = next) {
                next = c->next;
                redis_send_call(rb, c);
        }
        HASH_ITER(hh, rb->waits, w, tmp) {
                struct redis_call **p = &w->calls;

                while ((c = *p)) {
                        if (c->deadline >= 0 && now >= c->deadline) {
                                *p = c->next;
                                c->parked_at = -1;
                                redis_end(rb, c, -ETIMEDOUT);
                        } else if (now - c->parked_at >= REDIS_RETRY_MS) {
                                *p = c->next;
                                c->parked_at = -1;
                                redis_send_call(rb, c);
                        } else
                                p = &c->next;
                }
                if (!w->calls) {
                        if (w->node >= 0 && rb->nodes[w->node].sub)
                                redisAppendCommand(rb->nodes[w->node].sub, "SUNSUBSCRIBE mpx:{%s}:wake", w->name);
                        HASH_DEL(rb->waits, w);
                        free(w);
                } else if (w->node < 0)
                        redis_subscribe(rb, w);
        }
}

/* Arm the timer for the next deadline, retry or unreachable call; disarm it when nothing waits. */
static void redis_arm(struct redis_backend *rb) {
        struct itimerspec its = { 0 };
        struct redis_waitlist *w, *tmp;
        int64_t next = INT64_MAX;

        if (rb->unreachable)
                next = now_ms() + REDIS_UNREACHABLE_RETRY_MS;
        HASH_ITER(hh, rb->waits, w, tmp) {
                if (!w->calls) {
                        /* Idle: unsubscribe at the next tick. */
                        if (next > now_ms() + REDIS_RETRY_MS)
                                next = now_ms() + REDIS_RETRY_MS;
                        continue;
                }
                for (struct redis_call *c = w->calls; c; c = c->next) {
                        if (c->deadline >= 0 && c->deadline < next)
                                next = c->deadline;
                        if (c->parked_at + REDIS_RETRY_MS < next)
                                next = c->parked_at + REDIS_RETRY_MS;
                }
        }
        if (next != INT64_MAX) {
                if (next <= 0)
                        next = 1;
                its.it_value.tv_sec = next / 1000;
                its.it_value.tv_nsec = (next % 1000) * 1000000;
        }
        timerfd_settime(rb->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Flush every node and the subscriber connections. */
static void redis_flush_all(struct redis_backend *rb) {
        for (size_t i = 0; i < rb->n_nodes; i++) {
                int done = 0;

                redis_node_flush(rb, (int) i);
                if (rb->nodes[i].sub && redisBufferWrite(rb->nodes[i].sub, &done) != REDIS_OK)
                        redis_sub_lost(rb, (int) i);
        }
        redis_arm(rb);
}

/* ---- requests in ---- */

static const struct redis_op *const redis_families[] = {
        redis_object_ops, redis_queue_ops, redis_dict_ops, redis_list_ops, redis_sync_ops, redis_array_ops,
};

static redis_op_fn *redis_op_find(uint16_t op) {
        for (size_t f = 0; f < sizeof(redis_families) / sizeof(redis_families[0]); f++)
                for (const struct redis_op *o = redis_families[f]; o->fn; o++)
                        if (o->op == op)
                                return o->fn;
        return NULL;
}

/* HELLO is answered here: the version, the limits libmpx keeps, and which server this is. */
static int redis_hello(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        static const char server[] = "mpx redis backend";
        uint32_t version;
        const char *name;
        uint16_t name_len;
        int r;

        if (!wire_get_u32(body, &version) || !wire_get_str(body, &name, &name_len) || !wire_reader_done(body))
                return -EPROTO;
        if (version != WIRE_VERSION)
                return -EPROTO;
        c->reply = NULL;
        r = wire_put_u32(out, WIRE_VERSION);
        if (r >= 0)
                r = wire_put_u32(out, WIRE_DEFAULT_MAX_MESSAGE);
        if (r >= 0)
                r = wire_put_u32(out, WIRE_DEFAULT_MAX_FRAME);
        if (r >= 0)
                r = wire_put_str(out, server, sizeof(server) - 1);
        return r;
}

/* The call of request id, parked or in flight, or NULL. */
static struct redis_call *redis_call_find(struct redis_backend *rb, uint32_t id, bool *parked) {
        struct redis_waitlist *w, *tmp;

        HASH_ITER(hh, rb->waits, w, tmp)
                for (struct redis_call *c = w->calls; c; c = c->next)
                        if (c->id == id && !c->orphan) {
                                *parked = true;
                                return c;
                        }
        for (size_t i = 0; i < rb->n_nodes; i++)
                for (struct redis_call *c = rb->nodes[i].head; c; c = c->next)
                        if (c->id == id && !c->orphan) {
                                *parked = false;
                                return c;
                        }
        for (struct redis_call *c = rb->unreachable; c; c = c->next)
                if (c->id == id) {
                        *parked = false;
                        return c;
                }
        return NULL;
}

/*
 * CANCEL ends a parked call at once (ECANCELED; n = 1). One in flight is
 * marked: should it have to wait, it ends instead of parking.
 */
static int redis_cancel(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        struct redis_backend *rb = c->rb;
        struct redis_call *target;
        uint32_t id, n = 0;
        bool parked = false;

        if (!wire_get_u32(body, &id) || !wire_reader_done(body))
                return -EPROTO;
        target = redis_call_find(rb, id, &parked);
        if (target && parked) {
                redis_unpark(rb, target);
                redis_end(rb, target, -ECANCELED);
                n = 1;
        } else if (target)
                target->cancelled = true;
        c->reply = NULL;
        return wire_put_u32(out, n);
}

/* One request frame: answer it here, or start its call. */
static void redis_request(struct redis_backend *rb, const struct wire_header *h, const uint8_t *data) {
        struct redis_call *c = calloc(1, sizeof(*c));
        struct wire_reader rd;
        struct wire_buf out;
        redis_op_fn *fn;
        int r;

        if (!c) {
                redis_answer(rb, h->id, h->op, -ENOMEM, NULL);
                return;
        }
        c->rb = rb;
        c->id = h->id;
        c->op = h->op;
        c->node = -1;
        c->parked_at = -1;
        c->unavailable_since = -1;
        c->deadline = -1;
        wire_reader_init(&rd, data, h->body_len);
        wire_buf_init(&out);
        fn = h->op == WIRE_OP_HELLO ? redis_hello : h->op == WIRE_OP_CANCEL ? redis_cancel : redis_op_find(h->op);
        r = fn ? fn(c, &rd, &out) : -EOPNOTSUPP;
        if (r < 0 || !c->reply) {
                redis_answer(rb, c->id, c->op, r < 0 ? r : 0, &out);
                redis_call_free(c);
        } else {
                if (c->timeout_ms > 0)
                        c->deadline = now_ms() + c->timeout_ms;
                redis_send_call(rb, c);
        }
        wire_buf_done(&out);
}

int redis_send(struct mpx *m) {
        struct redis_backend *rb = m->redis;

        while (m->out.len - m->out_off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(m->out.data + m->out_off, &h);
                if (m->out.len - m->out_off < WIRE_HEADER_SIZE + (size_t) h.body_len)
                        break;
                redis_request(rb, &h, m->out.data + m->out_off + WIRE_HEADER_SIZE);
                m->out_off += WIRE_HEADER_SIZE + h.body_len;
        }
        redis_flush_all(rb);
        return m->broken ? -ENOMEM : 0;
}

int redis_read(struct mpx *m, bool block) {
        struct redis_backend *rb = m->redis;
        struct epoll_event ev[16];
        int n;

        for (;;) {
                if (rb->fresh) {
                        rb->fresh = false;
                        return 1;
                }
                n = epoll_wait(rb->epfd, ev, 16, block ? -1 : 0);
                if (n < 0)
                        return errno == EINTR ? 0 : -errno;
                for (int k = 0; k < n; k++) {
                        uint64_t d = ev[k].data.u64;
                        int i = (int) (d / 2);

                        if (d == REDIS_EV_TIMER) {
                                uint64_t expirations;

                                if (read(rb->timerfd, &expirations, sizeof(expirations)) < 0) {
                                        /* Nothing to read: the timer was re-armed meanwhile. */
                                }
                                redis_tick(rb);
                        } else if (d % 2 == 0 && rb->nodes[i].ctx) {
                                if (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                                        redis_node_read(rb, i);
                        } else if (d % 2 == 1 && rb->nodes[i].sub)
                                redis_sub_read(rb, i);
                }
                redis_flush_all(rb);
                if (m->broken)
                        return -ENOMEM;
                if (!block && !rb->fresh)
                        return 0;
        }
}

/* ---- the lease thread ---- */

/* The heartbeat's own connection to each node it has needed, by address. */
struct redis_beat_conn {
        char host[256];
        int port;
        redisContext *ctx;
};

/* Renew this client's lease on one object; false once it holds nothing there. */
static bool redis_renew(struct redis_backend *rb, struct redis_beat_conn **conns, size_t *n_conns,
                        const char *name) {
        char host[256], key[WIRE_NAME_MAX + 8], lease[16];
        size_t at = 0;
        int port = rb->nodes[0].port, hops;
        bool holds = true;

        snprintf(key, sizeof(key), "mpx:{%s}", name);
        snprintf(lease, sizeof(lease), "%u", rb->lease_ms);
        snprintf(host, sizeof(host), "%s", rb->nodes[0].host);
        for (hops = 0; hops < 3; hops++) {
                const char *args[] = { "FCALL", "mpx_renew", "1", key, rb->client_id, lease };
                struct redis_node probe = { .port = port };
                redisReply *r;
                unsigned slot;
                int err;

                for (at = 0; at < *n_conns; at++)
                        if ((*conns)[at].port == port && strcmp((*conns)[at].host, host) == 0)
                                break;
                if (at == *n_conns) {
                        struct redis_beat_conn *more = realloc(*conns, (*n_conns + 1) * sizeof(**conns));

                        if (!more)
                                return true;
                        *conns = more;
                        memset(&more[at], 0, sizeof(more[at]));
                        snprintf(more[at].host, sizeof(more[at].host), "%s", host);
                        more[at].port = port;
                        (*n_conns)++;
                }
                if (!(*conns)[at].ctx) {
                        snprintf(probe.host, sizeof(probe.host), "%s", host);
                        (*conns)[at].ctx = redis_open(rb, &probe, &err);
                        if (!(*conns)[at].ctx)
                                return true;
                }
                r = redis_command((*conns)[at].ctx, 6, args);
                if (!r) {
                        redisFree((*conns)[at].ctx);
                        (*conns)[at].ctx = NULL;
                        return true;
                }
                if (r->type == REDIS_REPLY_ERROR && redis_redirection(r->str, &slot, host, sizeof(host), &port)) {
                        freeReplyObject(r);
                        continue;
                }
                if (r->type == REDIS_REPLY_ERROR && redis_error_no_function(r->str))
                        redis_load_library((*conns)[at].ctx);
                holds = !(r->type == REDIS_REPLY_INTEGER && r->integer == 0);
                freeReplyObject(r);
                break;
        }
        return holds;
}

/* Every third of a lease, renew the lease on each object held; forget those held no more. */
static void *redis_heartbeat(void *arg) {
        struct redis_backend *rb = arg;
        struct redis_beat_conn *conns = NULL;
        size_t n_conns = 0;

        pthread_mutex_lock(&rb->lock);
        while (!rb->stop) {
                struct timespec until;
                struct redis_held *h, *tmp;
                size_t n = HASH_COUNT(rb->held), k = 0;
                struct redis_held *snap = n ? calloc(n, sizeof(*snap)) : NULL;

                HASH_ITER(hh, rb->held, h, tmp) {
                        if (snap)
                                snap[k++] = *h;
                }
                pthread_mutex_unlock(&rb->lock);
                for (size_t j = 0; j < k; j++) {
                        if (redis_renew(rb, &conns, &n_conns, snap[j].name))
                                continue;
                        pthread_mutex_lock(&rb->lock);
                        HASH_FIND_STR(rb->held, snap[j].name, h);
                        /* Held again since the snapshot: keep it. */
                        if (h && h->gen == snap[j].gen) {
                                HASH_DEL(rb->held, h);
                                free(h);
                        }
                        pthread_mutex_unlock(&rb->lock);
                }
                free(snap);
                pthread_mutex_lock(&rb->lock);
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_sec += rb->lease_ms / 3000;
                until.tv_nsec += (long) (rb->lease_ms / 3 % 1000) * 1000000;
                if (until.tv_nsec >= 1000000000) {
                        until.tv_sec++;
                        until.tv_nsec -= 1000000000;
                }
                while (!rb->stop && pthread_cond_timedwait(&rb->wakeup, &rb->lock, &until) == 0) {
                        /* Woken early (stop, or spuriously): look again. */
                }
        }
        pthread_mutex_unlock(&rb->lock);
        for (size_t j = 0; j < n_conns; j++)
                if (conns[j].ctx)
                        redisFree(conns[j].ctx);
        free(conns);
        return NULL;
}

/* ---- connect and disconnect ---- */

static int redis_client_id(struct redis_backend *rb) {
        uint8_t raw[16];

        if (getrandom(raw, sizeof(raw), 0) != (ssize_t) sizeof(raw))
                return -EIO;
        for (size_t i = 0; i < sizeof(raw); i++)
                snprintf(rb->client_id + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

int redis_connect(struct mpx *m, const char *address, const char *client_name) {
        struct redis_backend *rb = calloc(1, sizeof(*rb));
        pthread_condattr_t ca;
        int r;

        (void) client_name;
        if (!rb)
                return -ENOMEM;
        rb->m = m;
        rb->lease_ms = REDIS_LEASE_MS;
        rb->wait_timeout_ms = REDIS_WAIT_TIMEOUT_MS;
        rb->epfd = -1;
        rb->timerfd = -1;
        pthread_mutex_init(&rb->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rb->wakeup, &ca);
        pthread_condattr_destroy(&ca);
        m->redis = rb;
        for (unsigned s = 0; s < REDIS_SLOTS; s++)
                rb->slot_node[s] = 0;

        r = redis_parse_address(rb, address);
        if (r >= 0)
                r = redis_client_id(rb);
        if (r >= 0) {
                rb->epfd = epoll_create1(EPOLL_CLOEXEC);
                rb->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
                if (rb->epfd < 0 || rb->timerfd < 0)
                        r = -errno;
        }
        if (r >= 0) {
                redis_watch(rb, EPOLL_CTL_ADD, rb->timerfd, EPOLLIN, REDIS_EV_TIMER);
                m->fd = rb->epfd;
                r = rb->cluster ? redis_slots_refresh(rb) : 0;
        }
        /* Reach a node now, so that a wrong address or password fails here. */
        if (r >= 0) {
                int i = rb->cluster ? rb->slot_node[0] : 0;

                r = i < 0 ? -ECONNREFUSED : redis_node_connect(rb, i);
        }
        if (r >= 0 && pthread_create(&rb->heartbeat, NULL, redis_heartbeat, rb) == 0)
                rb->heartbeat_running = true;
        else if (r >= 0)
                r = -EAGAIN;
        return r;
}

/* Give back what this client holds: what a closing connection gives back in mpxd. */
static void redis_give_back(struct redis_backend *rb) {
        struct redis_held *h, *tmp;

        HASH_ITER(hh, rb->held, h, tmp) {
                struct redis_call probe = { .rb = rb };
                char key[WIRE_NAME_MAX + 8];
                const char *args[] = { "FCALL", "mpx_client_gone", "1", key, rb->client_id };
                int i;

                snprintf(probe.name, sizeof(probe.name), "%s", h->name);
                snprintf(key, sizeof(key), "mpx:{%s}", h->name);
                i = redis_node_of(rb, &probe);
                if (i >= 0 && rb->nodes[i].ctx) {
                        redisReply *r = redis_command(rb->nodes[i].ctx, 5, args);

                        if (r)
                                freeReplyObject(r);
                        else
                                redis_node_lost(rb, i);
                }
                HASH_DEL(rb->held, h);
                free(h);
        }
}

/*
 * Wait for the answers of the calls still in flight (their requests were
 * completed already), so that what was sent (pipelined puts) is carried out
 * and the stream is in step for the commands that give holdings back.
 */
static void redis_drain(struct redis_backend *rb) {
        for (size_t i = 0; i < rb->n_nodes; i++) {
                struct redis_node *n = &rb->nodes[i];
                struct timeval tv = { REDIS_CLOSE_TIMEOUT_MS / 1000, 0 };
                void *reply;

                if (!n->ctx)
                        continue;
                redis_blocking(n->ctx);
                redisSetTimeout(n->ctx, tv);
                while (n->ctx && n->head) {
                        struct redis_call *c = n->head;

                        if (redisGetReply(n->ctx, &reply) != REDIS_OK) {
                                redis_node_lost(rb, (int) i);
                                break;
                        }
                        n->head = c->next;
                        /* What it took is held by this client: given back below, not when its lease runs out. */
                        if (c->name[0] && ((redisReply *) reply)->type != REDIS_REPLY_ERROR)
                                redis_held_add(rb, c->name);
                        freeReplyObject(reply);
                        redis_call_free(c);
                }
                n->tail = NULL;
        }
}

/* Calls not yet answered when the connection closes: their requests were completed already. */
static void redis_orphan_all(struct redis_backend *rb) {
        struct redis_waitlist *w, *tmp;
        struct redis_call *c, *next;

        HASH_ITER(hh, rb->waits, w, tmp) {
                for (c = w->calls; c; c = next) {
                        next = c->next;
                        redis_call_free(c);
                }
                HASH_DEL(rb->waits, w);
                free(w);
        }
        for (c = rb->unreachable; c; c = next) {
                next = c->next;
                redis_call_free(c);
        }
        rb->unreachable = NULL;
        for (size_t i = 0; i < rb->n_nodes; i++)
                for (c = rb->nodes[i].head; c; c = c->next) {
                        if (c->ack_of && c->ack_of->answered)
                                redis_call_free(c->ack_of);
                        c->ack_of = NULL;
                        c->ack = NULL;
                        c->orphan = true;
                }
}

void redis_free(struct mpx *m) {
        struct redis_backend *rb = m->redis;
        struct redis_held *h, *tmp;
        bool owner = getpid() == m->owner;

        if (!rb)
                return;
        if (rb->heartbeat_running && owner) {
                pthread_mutex_lock(&rb->lock);
                rb->stop = true;
                pthread_cond_signal(&rb->wakeup);
                pthread_mutex_unlock(&rb->lock);
                pthread_join(rb->heartbeat, NULL);
        }
        redis_orphan_all(rb);
        /* A child of fork() closing its copy: the parent's connections and holdings are not its own. */
        if (owner) {
                redis_drain(rb);
                redis_give_back(rb);
        }
        HASH_ITER(hh, rb->held, h, tmp) {
                HASH_DEL(rb->held, h);
                free(h);
        }
        for (size_t i = 0; i < rb->n_nodes; i++) {
                struct redis_call *c, *next;

                for (c = rb->nodes[i].head; c; c = next) {
                        next = c->next;
                        redis_call_free(c);
                }
                if (rb->nodes[i].ctx)
                        redisFree(rb->nodes[i].ctx);
                if (rb->nodes[i].sub)
                        redisFree(rb->nodes[i].sub);
        }
        free(rb->nodes);
        if (rb->timerfd >= 0)
                close(rb->timerfd);
        /* The epoll descriptor is m->fd, which conn_free() closes. */
        if (m->fd != rb->epfd && rb->epfd >= 0)
                close(rb->epfd);
        /* A child of fork(): its copy of the condition may have the parent's heartbeat as a waiter. */
        if (owner) {
                pthread_mutex_destroy(&rb->lock);
                pthread_cond_destroy(&rb->wakeup);
        }
        free(rb);
        m->redis = NULL;
}
