/* SPDX-License-Identifier: MIT */
/*
 * libmpx's Redis backend: connecting (the address parsed, a client id
 * drawn, the epoll descriptor and its timer made, a node reached, the lease
 * thread started) and disconnecting (the answers still due read, what this
 * client holds given back, all freed). mpx-redis.h says how the backend and
 * the per-family files fit; mpx-redis-private.h, how the backend's own
 * pieces do.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mpx-redis-private.h"

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
        rb->tick_at = INT64_MAX;
        pthread_mutex_init(&rb->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&rb->wakeup, &ca);
        pthread_condattr_destroy(&ca);
        m->redis = rb;
        for (unsigned s = 0; s < REDIS_SLOTS; s++)
                rb->slot_node[s] = 0;

        r = redis_parse_address(rb, address);
        if (r >= 0) {
                snprintf(rb->beat_host, sizeof(rb->beat_host), "%s", rb->nodes[0].host);
                rb->beat_port = rb->nodes[0].port;
                r = redis_client_id(rb);
        }
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
        /*
         * A child of fork() copied the held set as the parent's lease thread
         * left it: if that thread held the lock at the fork, the set may be
         * half changed, and is left as it is (a few bytes) rather than walked.
         */
        if (owner || pthread_mutex_trylock(&rb->lock) == 0) {
                HASH_ITER(hh, rb->held, h, tmp) {
                        HASH_DEL(rb->held, h);
                        free(h);
                }
                if (!owner)
                        pthread_mutex_unlock(&rb->lock);
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
