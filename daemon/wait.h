/* SPDX-License-Identifier: MIT */
/*
 * Blocked requests (wait.c): struct waiter, which only wait.c links into
 * its object's and its client's lists, unlinks or frees.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event_struct.h>

struct client;
struct object;
struct request;

TAILQ_HEAD(waiter_list, waiter);


struct waiter {
        struct client *client;
        struct object *object;
        struct waiter_list *list;       /* the object's list this waiter is on */
        uint32_t id;
        uint16_t op;
        bool has_timer;
        struct event timer;

        /* What the blocked request needs when it is served, as its type reads it. */
        uint32_t flags;                 /* a queue's GET: WIRE_GET_*; a pipe: the mode */
        uint32_t max;                   /* GET_MANY: most items; a barrier: the arrival index */
        uint32_t ttr_ms;                /* GET, GET_MANY: the deliveries' lease; 0: the queue's */
        /* Owned by the object's type, freed by its waiter_free hook (a put's items waiting for room). */
        void *payload;

        TAILQ_ENTRY(waiter) obj_link;
        TAILQ_ENTRY(waiter) client_link;
};

/*
 * Park a request on an object's wait list until it is served, times out
 * (timeout_ms > 0) or is cancelled. timeout_ms < 0 waits forever. Returns
 * NULL with errno set: EUSERS over limits.max_waiters_per_client or the
 * uid's quota of waiters, ENOMEM.
 */
struct waiter *wait_add(struct client *c, const struct request *req, struct object *o,
                        struct waiter_list *list, int64_t timeout_ms);
/* Unlink and free a served or cancelled waiter (its payload too, by its type); no reply. */
void wait_free(struct waiter *w);
/* Reply neg_errno to a waiter and free it. */
void wait_fail(struct waiter *w, int neg_errno);
/* Fail every waiter of a list with neg_errno. */
void wait_fail_all(struct waiter_list *list, int neg_errno);
/* How many waiters a list holds (INFO: lists are short, or INFO is rare). */
unsigned wait_count(const struct waiter_list *list);
/* Free every waiter of a client without replying (it is gone), then let the objects serve. */
void wait_cancel_client(struct client *c);
/*
 * CANCEL: answer every parked request of c with this id -ECANCELED, as a
 * timeout that fires now would be (a barrier party withdraws instead of
 * breaking it), then let their objects serve. Returns how many there were.
 */
int wait_cancel_id(struct client *c, uint32_t id);
