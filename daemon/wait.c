/* SPDX-License-Identifier: MIT */
/*
 * Blocked requests. A waiter is one request that could not complete at once:
 * it sits on one of its object's FIFO wait lists and on its client's list,
 * with a libevent timer when it has a deadline. This file is the only place
 * that creates, links, unlinks or frees a waiter; the object types decide
 * when a waiter is served and reply to it themselves.
 *
 * Later requests of the same connection go on while one waits, so a client
 * may have any number of waiters, and may end some of them with CANCEL.
 */
#include <errno.h>
#include <stdlib.h>

#include "client.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "user.h"
#include "wait.h"

/* The timer of a waiter fired: answer -ETIMEDOUT and let the object serve the rest. */
static void wait_expire(evutil_socket_t fd, short what, void *arg) {
        struct waiter *w = arg;
        struct object *o = w->object;

        loop_clock_update();
        o->timeouts++;
        if (o->ops->waiter_left)
                o->ops->waiter_left(o, w, -ETIMEDOUT);
        wait_fail(w, -ETIMEDOUT);
        /* A put_many at the head that gave up may let smaller puts behind it in. */
        if (o->ops->serve)
                o->ops->serve(o);
        client_flush_dirty();
}

struct waiter *wait_add(struct client *c, const struct request *req, struct object *o,
                        struct waiter_list *list, int64_t timeout_ms) {
        struct waiter *w;
        int err = user_may_wait(c);

        if (err < 0) {
                errno = -err;
                return NULL;
        }
        w = calloc(1, sizeof(*w));
        if (!w) {
                errno = ENOMEM;
                return NULL;
        }
        w->client = c;
        w->object = o;
        w->list = list;
        w->id = req->id;
        w->op = req->op;
        /* Beyond about 68 years a deadline is as good as none. */
        if (timeout_ms > (int64_t) INT32_MAX * 1000)
                timeout_ms = -1;
        if (timeout_ms > 0) {
                struct timeval tv = {
                        .tv_sec = timeout_ms / 1000,
                        .tv_usec = (timeout_ms % 1000) * 1000,
                };
                evtimer_assign(&w->timer, mpxd.base, wait_expire, w);
                if (evtimer_add(&w->timer, &tv) < 0) {
                        free(w);
                        errno = ENOMEM;
                        return NULL;
                }
                w->has_timer = true;
        }
        TAILQ_INSERT_TAIL(list, w, obj_link);
        TAILQ_INSERT_TAIL(&client_shared(c)->waiters, w, client_link);
        mpxd.n_waiters++;
        user_waiter_added(c);
        return w;
}

void wait_free(struct waiter *w) {
        if (!w)
                return;
        if (w->has_timer)
                evtimer_del(&w->timer);
        TAILQ_REMOVE(w->list, w, obj_link);
        TAILQ_REMOVE(&client_shared(w->client)->waiters, w, client_link);
        if (w->payload && w->object->ops->waiter_free)
                w->object->ops->waiter_free(w);
        mpxd.n_waiters--;
        user_waiter_removed(w->client);
        free(w);
}

void wait_fail(struct waiter *w, int neg_errno) {
        client_reply_status(w->client, w->id, w->op, neg_errno);
        wait_free(w);
}

void wait_fail_all(struct waiter_list *list, int neg_errno) {
        struct waiter *w;

        while ((w = TAILQ_FIRST(list)))
                wait_fail(w, neg_errno);
}

unsigned wait_count(const struct waiter_list *list) {
        const struct waiter *w;
        unsigned n = 0;

        TAILQ_FOREACH(w, list, obj_link)
                n++;
        return n;
}

void wait_cancel_client(struct client *c) {
        struct object **touched = NULL;
        size_t n = 0, cap = 0;
        struct waiter *w;

        /*
         * Unlink all of the client's waiters before any object serves: serving
         * one object could otherwise hand an item to another waiter of this
         * same dead client, and the item would be lost.
         */
        while ((w = TAILQ_FIRST(&client_shared(c)->waiters))) {
                if (n == cap) {
                        size_t ncap = cap ? cap * 2 : 8;
                        struct object **t = realloc(touched, ncap * sizeof(*t));
                        if (t) {
                                touched = t;
                                cap = ncap;
                        }
                }
                if (n < cap)
                        touched[n++] = w->object;
                if (w->object->ops->waiter_left)
                        w->object->ops->waiter_left(w->object, w, -ECONNRESET);
                wait_free(w);
        }
        for (size_t i = 0; i < n; i++)
                if (touched[i]->ops->serve)
                        touched[i]->ops->serve(touched[i]);
        free(touched);
}

/*
 * CANCEL: end every parked request of client c with this id as if its timer
 * fired now, but answered -ECANCELED. A waiter is served whole or not at all,
 * so a cancelled one took nothing and put nothing. After each, its object
 * serves, as after a timeout: a waiter that left (a PUT_MANY at the head,
 * say) may let others through. Serving may answer other waiters of c, one
 * with the same id too (then it completed, and is not counted), so the list
 * is walked again from its head each time. Returns how many were cancelled.
 * Their replies are queued on c before the caller's own; the read path
 * flushes them.
 */
int wait_cancel_id(struct client *c, uint32_t id) {
        struct waiter *w;
        int n = 0;

        for (;;) {
                struct object *o;

                TAILQ_FOREACH(w, &client_shared(c)->waiters, client_link)
                        if (w->id == id)
                                break;
                if (!w)
                        return n;
                o = w->object;
                if (o->ops->waiter_left)
                        o->ops->waiter_left(o, w, -ECANCELED);
                wait_fail(w, -ECANCELED);
                n++;
                if (o->ops->serve)
                        o->ops->serve(o);
        }
}
