/* SPDX-License-Identifier: MIT */
/*
 * What a client of libmpx's Redis backend holds, and the leases that keep
 * it. A call that leaves this client holding something in an object (a
 * delivery, semaphore units, a reference, a connection's queue) adds the
 * object to the set held. A thread renews the leases of the objects this
 * client holds something in (mpx_renew) on connections of its own, so that
 * a process that computes for a long time without calling libmpx keeps its
 * locks and deliveries; it stops with the connection, and a clean
 * disconnect gives everything back at once. A process that dies stops
 * renewing, and what it held comes back once its lease has run out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpx-redis-private.h"

/* ---- holdings and their leases ---- */

void redis_held_add(struct redis_backend *rb, const char *name) {
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
        int port = rb->beat_port, hops;
        bool holds = true;

        snprintf(key, sizeof(key), "mpx:{%s}", name);
        snprintf(lease, sizeof(lease), "%u", rb->lease_ms);
        snprintf(host, sizeof(host), "%s", rb->beat_host);
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
void *redis_heartbeat(void *arg) {
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

/* ---- giving back at disconnect ---- */

/* Give back what this client holds: what a closing connection gives back in mpxd. */
void redis_give_back(struct redis_backend *rb) {
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
