/* SPDX-License-Identifier: MIT */
/*
 * What each uid holds, and its quotas (user.c).
 */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "hash.h"

struct client;
struct request;

/* The kinds of refusal, each logged at most once per ten seconds per uid. */
enum user_refusal {
        USER_REFUSED_MEMORY,            /* limits.per_user.max_memory */
        USER_REFUSED_OBJECTS,
        USER_REFUSED_CLIENTS,
        USER_REFUSED_WAITERS,
        USER_REFUSED_CLIENT_WAITERS,    /* limits.max_waiters_per_client */
        USER_REFUSED_WORKERS,           /* limits.per_user.max_workers */
        _USER_REFUSED_MAX,
};

/*
 * One uid: what it holds and when each kind of refusal was last logged. It
 * exists from its first connection while anything is charged to it; items
 * and entries point to the user that put them, so they are uncharged from
 * the right uid whoever removes them.
 */
struct user {
        UT_hash_handle hh;
        uid_t uid;
        uint32_t slot;                  /* its number in the slot table, from 1: how packed items name it */
        uint64_t bytes;                 /* bytes charged: payload and per-element overhead */
        uint64_t n_charges;             /* items, entries and arrays charged (empty ones too) */
        unsigned n_objects;
        unsigned n_clients;
        unsigned n_waiters;
        unsigned n_workers;             /* slots of the pools that run as it, and their processes that left them */
        uint64_t refused[_USER_REFUSED_MAX];
        uint64_t logged_ms[_USER_REFUSED_MAX];
};

/*
 * The user of request req, to whom new objects are charged; NULL outside
 * requests (req NULL), where the daemon itself declares objects (the
 * configuration).
 */
struct user *user_requester(const struct request *req);
/* The user of uid, created when missing; NULL when out of memory. */
struct user *user_get(uid_t uid);
/* The user of uid if it exists. */
struct user *user_find(uid_t uid);
/*
 * The number that names u (NULL: nobody, 0) where a pointer would cost too
 * much (a queue's packed items), and the user it names. A user keeps its
 * number while it lives, so while anything is charged to it.
 */
static inline uint32_t user_slot(const struct user *u) {
        return u ? u->slot : 0;
}
/* user.c's table of users by slot, read in line: a queue's get reads it for every item. */
extern struct user **user_slots;
static inline struct user *user_at_slot(uint32_t slot) {
        return slot ? user_slots[slot] : NULL;
}
/* Free every user (mpxd_done, once nothing is charged any more). */
void user_free_all(void);
/*
 * 0 if u (NULL: nobody) may hold add more bytes once freed_own of its own
 * bytes and freed_other bytes of other users are released, under
 * limits.max_memory and its quota; -ENOSPC if not (logged, rate-limited).
 * Checks only: the caller charges once the change is certain.
 */
int user_may_hold(struct user *u, uint64_t add, uint64_t freed_own, uint64_t freed_other);
/* Charge one item, entry or array of bytes to u (NULL: nobody) and to the daemon's total. */
void user_charge(struct user *u, uint64_t bytes);
/* Give back what user_charge took; u may be freed. */
void user_uncharge(struct user *u, uint64_t bytes);
/* Give back what n calls of user_charge took, bytes in all; u may be freed. */
void user_uncharge_many(struct user *u, uint64_t bytes, uint64_t n);
/*
 * The bytes charged per element on top of its payload (its header and the
 * allocator's), so that limits.max_memory bounds what the daemon holds
 * even for empty elements; defined where each element is.
 */
extern const uint64_t queue_item_overhead;
extern const uint64_t list_item_overhead;
extern const uint64_t dict_entry_overhead;
/* 0 if u may create one more object, -EUSERS over its quota. */
int user_may_create(struct user *u);
void user_object_created(struct user *u);
void user_object_deleted(struct user *u);
/* 0 if one more connection of uid fits its quota, -EUSERS if not (logged, rate-limited). */
int user_may_connect(uid_t uid);
/* A connection of u came or went (client_new, client_lost); u may be freed on the way out. */
void user_client_connected(struct user *u);
void user_client_gone(struct user *u);
/* 0 if client c may park one more request, -EUSERS if not (logged, rate-limited). */
int user_may_wait(const struct client *c);
void user_waiter_added(struct client *c);
void user_waiter_removed(struct client *c);
/*
 * Workers of the pools that run as a uid other than the daemon's choice
 * (pool.c): 0 if u may have more of them, -EUSERS past
 * limits.per_user.max_workers (logged, rate-limited). A worker is charged
 * from its pool's slot being made until the slot is gone and its process
 * reaped, so that scaling down and up again cannot outrun the quota.
 */
int user_may_run_workers(struct user *u, unsigned more);
void user_workers_added(struct user *u, unsigned n);
/* u may be freed. */
void user_workers_removed(struct user *u, unsigned n);
