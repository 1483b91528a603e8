/* SPDX-License-Identifier: MIT */
/*
 * Accounting per uid, the way dbus-broker keeps its quotas: every uid that
 * connects gets a struct user holding what it is charged for (bytes held,
 * objects, connections, waiters, the workers of pools that run as it), and
 * every limit is checked here before anything changes, so that one flooding
 * user runs into its own errors (ENOSPC for bytes, EUSERS for the rest)
 * while every other user is served as before.
 *
 * The daemon-wide total of bytes held (mpxd.bytes_held, limits.max_memory)
 * is kept here too: bytes are charged to a user, or to nobody for the
 * objects of the configuration, and always to the total. The object types
 * call user_may_hold() before a change and user_charge()/user_uncharge() on
 * each add and remove path; STATS reports the total without walking.
 *
 * Bytes held are payload plus a fixed overhead per queue item, list item
 * and dict entry (QUEUE_ITEM_OVERHEAD, LIST_ITEM_OVERHEAD,
 * DICT_ENTRY_OVERHEAD, where each element is defined): the types pass the
 * whole cost here, so that an empty element is never free and the limits
 * bound the memory the daemon really holds.
 *
 * A user lives while anything is charged to it. Items and entries point to
 * the user that put them, so n_charges counts them, empty ones included,
 * and the user outlives every pointer to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "op.h"
#include "user.h"

/* A refusal of one kind is logged at most this often per uid. */
#define USER_LOG_INTERVAL_MS 10000

struct user *user_requester(const struct request *req) {
        return req ? client_shared(req->client)->user : NULL;
}

/* Users by their slot (user_slot()); 0 is nobody and never used. */
struct user **user_slots;
static uint32_t n_slots;

/* Give u the lowest free slot; false when the table cannot grow. Users are few: a scan will do. */
static bool user_take_slot(struct user *u) {
        uint32_t i;

        for (i = 1; i < n_slots && user_slots[i]; i++)
                ;
        if (i >= n_slots) {
                uint32_t n = n_slots ? 2 * n_slots : 16;
                struct user **more = realloc(user_slots, n * sizeof(*more));

                if (!more)
                        return false;
                memset(more + n_slots, 0, (n - n_slots) * sizeof(*more));
                user_slots = more;
                n_slots = n;
        }
        user_slots[i] = u;
        u->slot = i;
        return true;
}

struct user *user_find(uid_t uid) {
        struct user *u;

        HASH_FIND(hh, mpxd.users, &uid, sizeof(uid), u);
        return u;
}

struct user *user_get(uid_t uid) {
        struct user *u = user_find(uid);

        if (u)
                return u;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        u->uid = uid;
        if (!user_take_slot(u)) {
                free(u);
                return NULL;
        }
        HASH_ADD(hh, mpxd.users, uid, sizeof(u->uid), u);
        if (hash_add_failed()) {
                user_slots[u->slot] = NULL;
                free(u);
                return NULL;
        }
        mpxd.n_users++;
        return u;
}

/* Free u once nothing is charged to it any more. */
static void user_release(struct user *u) {
        if (!u || u->n_charges || u->n_objects || u->n_clients || u->n_waiters || u->n_workers)
                return;
        HASH_DELETE(hh, mpxd.users, u);
        mpxd.n_users--;
        user_slots[u->slot] = NULL;
        free(u);
}

void user_free_all(void) {
        struct user *u, *tmp;

        HASH_ITER(hh, mpxd.users, u, tmp) {
                HASH_DELETE(hh, mpxd.users, u);
                free(u);
        }
        mpxd.n_users = 0;
        free(user_slots);
        user_slots = NULL;
        n_slots = 0;
}

/* true when a refusal of this kind for u (NULL: daemon-wide) should be logged now. */
static bool user_log_due(struct user *u, enum user_refusal kind) {
        static uint64_t global_logged_ms;
        uint64_t *logged = u ? &u->logged_ms[kind] : &global_logged_ms;
        uint64_t now = now_ms();

        if (u)
                u->refused[kind]++;
        if (*logged && now - *logged < USER_LOG_INTERVAL_MS)
                return false;
        *logged = now;
        return true;
}

int user_may_hold(struct user *u, uint64_t add, uint64_t freed_own, uint64_t freed_other) {
        uint64_t freed = freed_own + freed_other;

        /* What the journal recreates was admitted once: a lower limit must not drop it at start. */
        if (journal_replaying())
                return 0;
        /*
         * Only growth is checked: a change that holds no more than before
         * passes even above a limit lowered by a reload.
         */
        if (mpxd.max_memory && add > freed && mpxd.bytes_held - freed + add > mpxd.max_memory) {
                if (user_log_due(NULL, USER_REFUSED_MEMORY))
                        log_warning("%llu bytes are held, %llu more would pass limits.max_memory (%llu); "
                                    "refusing with ENOSPC", (unsigned long long) mpxd.bytes_held,
                                    (unsigned long long) (add - freed), (unsigned long long) mpxd.max_memory);
                return -ENOSPC;
        }
        if (u && mpxd.per_user.max_memory && add > freed_own &&
            u->bytes - freed_own + add > mpxd.per_user.max_memory) {
                if (user_log_due(u, USER_REFUSED_MEMORY))
                        log_client(LOG_LEVEL_WARNING, 0, 0, u->uid,
                                   "uid %ld holds %llu bytes, %llu more would pass its quota "
                                   "(limits.per_user.max_memory, %llu); refusing with ENOSPC", (long) u->uid,
                                   (unsigned long long) u->bytes, (unsigned long long) (add - freed_own),
                                   (unsigned long long) mpxd.per_user.max_memory);
                return -ENOSPC;
        }
        return 0;
}

void user_charge(struct user *u, uint64_t bytes) {
        mpxd.bytes_held += bytes;
        if (!u)
                return;
        u->bytes += bytes;
        u->n_charges++;
}

void user_uncharge(struct user *u, uint64_t bytes) {
        user_uncharge_many(u, bytes, 1);
}

void user_uncharge_many(struct user *u, uint64_t bytes, uint64_t n) {
        mpxd.bytes_held -= bytes;
        if (!u)
                return;
        u->bytes -= bytes;
        u->n_charges -= n;
        user_release(u);
}

int user_may_create(struct user *u) {
        if (!u || !mpxd.per_user.max_objects || u->n_objects < mpxd.per_user.max_objects)
                return 0;
        if (user_log_due(u, USER_REFUSED_OBJECTS))
                log_client(LOG_LEVEL_WARNING, 0, 0, u->uid,
                           "uid %ld created %u objects, its quota (limits.per_user.max_objects); refusing new "
                           "ones with EUSERS", (long) u->uid, u->n_objects);
        return -EUSERS;
}

void user_object_created(struct user *u) {
        if (u)
                u->n_objects++;
}

void user_object_deleted(struct user *u) {
        if (!u)
                return;
        u->n_objects--;
        user_release(u);
}

int user_may_connect(uid_t uid) {
        struct user *u = user_find(uid);

        if (!u || !mpxd.per_user.max_clients || u->n_clients < mpxd.per_user.max_clients)
                return 0;
        if (user_log_due(u, USER_REFUSED_CLIENTS))
                log_client(LOG_LEVEL_WARNING, 0, 0, uid,
                           "uid %ld has %u connections, its quota (limits.per_user.max_clients); refusing more "
                           "with EUSERS", (long) uid, u->n_clients);
        return -EUSERS;
}

void user_client_connected(struct user *u) {
        u->n_clients++;
}

void user_client_gone(struct user *u) {
        u->n_clients--;
        user_release(u);
}

int user_may_wait(const struct client *c) {
        struct user *u = client_shared(c)->user;

        if (mpxd.max_waiters_per_client && client_shared(c)->n_waiters >= mpxd.max_waiters_per_client) {
                if (!u || user_log_due(u, USER_REFUSED_CLIENT_WAITERS))
                        client_log(LOG_LEVEL_WARNING, c,
                                   "%s has %u blocked requests, the limit (limits.max_waiters_per_client); "
                                   "refusing more with EUSERS", client_describe(c), client_shared(c)->n_waiters);
                return -EUSERS;
        }
        if (u && mpxd.per_user.max_waiters && u->n_waiters >= mpxd.per_user.max_waiters) {
                if (user_log_due(u, USER_REFUSED_WAITERS))
                        client_log(LOG_LEVEL_WARNING, c,
                                   "uid %ld has %u blocked requests, its quota (limits.per_user.max_waiters); "
                                   "refusing more with EUSERS", (long) u->uid, u->n_waiters);
                return -EUSERS;
        }
        return 0;
}

void user_waiter_added(struct client *c) {
        client_shared(c)->n_waiters++;
        if (client_shared(c)->user)
                client_shared(c)->user->n_waiters++;
}

void user_waiter_removed(struct client *c) {
        client_shared(c)->n_waiters--;
        if (client_shared(c)->user) {
                client_shared(c)->user->n_waiters--;
                user_release(client_shared(c)->user);
        }
}

int user_may_run_workers(struct user *u, unsigned more) {
        uint32_t max = mpxd.per_user.max_workers;

        if (!u || !max || (uint64_t) u->n_workers + more <= max)
                return 0;
        if (user_log_due(u, USER_REFUSED_WORKERS))
                log_client(LOG_LEVEL_WARNING, 0, 0, u->uid,
                           "uid %ld has %u pool workers, %u more would pass its quota "
                           "(limits.per_user.max_workers, %u); refusing with EUSERS", (long) u->uid, u->n_workers,
                           more, max);
        return -EUSERS;
}

void user_workers_added(struct user *u, unsigned n) {
        if (u)
                u->n_workers += n;
}

void user_workers_removed(struct user *u, unsigned n) {
        if (!u)
                return;
        u->n_workers -= n;
        user_release(u);
}
