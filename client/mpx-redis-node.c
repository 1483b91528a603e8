/* SPDX-License-Identifier: MIT */
/*
 * The Redis nodes of libmpx's Redis backend, and which of them serves a slot.
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
 * Here: connecting to a node (AUTH, SELECT, and the function library loaded
 * unless it is there), losing one (its calls in flight fail), a cluster's
 * slot map (asked again once a node is lost), and STATS, which tells of them.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "mpx-redis-private.h"

/* ---- nodes ---- */

void redis_watch(struct redis_backend *rb, int op, int fd, uint32_t events, uint64_t data) {
        struct epoll_event ev = { .events = events, .data.u64 = data };

        epoll_ctl(rb->epfd, op, fd, &ev);
}

/* Make a blocking context non-blocking, as the loop drives it. */
void redis_nonblocking(redisContext *ctx) {
        fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) | O_NONBLOCK);
        ctx->flags &= ~REDIS_BLOCK;
}

void redis_blocking(redisContext *ctx) {
        fcntl(ctx->fd, F_SETFL, fcntl(ctx->fd, F_GETFL) & ~O_NONBLOCK);
        ctx->flags |= REDIS_BLOCK;
}

/* A command on a blocking context: its reply (free it), or NULL with the context's error set. */
redisReply *redis_command(redisContext *ctx, int argc, const char **argv) {
        size_t lens[8];

        for (int i = 0; i < argc; i++)
                lens[i] = strlen(argv[i]);
        return redisCommandArgv(ctx, argc, argv, lens);
}

/* Check the function library on a node and load ours unless it is there: 0, or -errno. */
int redis_load_library(redisContext *ctx) {
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
redisContext *redis_open(struct redis_backend *rb, const struct redis_node *n, int *ret_err) {
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
int redis_node_connect(struct redis_backend *rb, int i) {
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
bool redis_node_ready(struct redis_backend *rb, int i) {
        if (rb->nodes[i].ctx)
                return true;
        if (now_ms() < rb->nodes[i].retry_at)
                return false;
        return redis_node_connect(rb, i) == 0;
}

/* Forget the subscriptions made on node i: they are made again by the next tick. */
void redis_sub_lost(struct redis_backend *rb, int i) {
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
void redis_node_lost(struct redis_backend *rb, int i) {
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
void redis_node_flush(struct redis_backend *rb, int i) {
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
int redis_slots_refresh(struct redis_backend *rb) {
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
int redis_node_of(struct redis_backend *rb, const struct redis_call *c) {
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
