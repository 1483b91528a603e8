/* SPDX-License-Identifier: MIT */
/*
 * Counted objects (ref.h): the references that keep them alive.
 *
 * A reference is on two lists: its object's and, when a connection holds
 * it, that connection's. A reference in transit has a libevent timer for
 * its lease instead. Whichever way a reference ends (UNREF, its holder
 * lost, its lease out), ref_end() unlinks it and deletes the object when it
 * was the last one; an object deleted otherwise (DELETE, shutdown) drops its
 * references through ref_object_deleted() without coming back here.
 */
#include <errno.h>
#include <stdlib.h>

#include "client.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "ref.h"
#include "user.h"
#include "wire.h"

struct ref {
        struct object *o;
        struct client *c;               /* the holder; NULL in transit */
        struct user *user;              /* who took it, charged for it until it ends */
        uint64_t token;                 /* names it in UNREF, unique for the daemon's life */
        struct event lease;             /* in transit: when it ends by itself */
        TAILQ_ENTRY(ref) by_object;
        TAILQ_ENTRY(ref) by_client;
};

static uint64_t ref_next_token = 1;

/* What a reference is charged: itself and malloc's header, as items are. */
#define REF_COST ((uint64_t) sizeof(struct ref) + 2 * sizeof(void *))

static void ref_lease_out(evutil_socket_t fd, short what, void *arg);

/*
 * A new reference to o, taken by the client by, held by it (in_transit
 * false) or in transit for lease_ms: 0, or -ENOSPC (over its uid's memory
 * quota or limits.max_memory, which references count against) or -ENOMEM,
 * with nothing taken.
 */
static int ref_new(struct object *o, struct client *by, bool in_transit, uint32_t lease_ms, struct ref **ret) {
        struct client *c = in_transit ? NULL : by;
        struct ref *ref;
        int err;

        err = user_may_hold(client_shared(by)->user, REF_COST, 0, 0);
        if (err < 0)
                return err;
        ref = calloc(1, sizeof(*ref));
        if (!ref)
                return -ENOMEM;
        ref->o = o;
        ref->c = c;
        ref->user = client_shared(by)->user;
        ref->token = ref_next_token++;
        if (!c) {
                struct timeval tv = { .tv_sec = lease_ms / 1000, .tv_usec = (lease_ms % 1000) * 1000 };

                evtimer_assign(&ref->lease, mpxd.base, ref_lease_out, ref);
                if (evtimer_add(&ref->lease, &tv) < 0) {
                        free(ref);
                        return -ENOMEM;
                }
                o->n_transit++;
        } else {
                TAILQ_INSERT_TAIL(&client_shared(c)->refs, ref, by_client);
                client_shared(c)->n_refs++;
        }
        TAILQ_INSERT_TAIL(&o->refs, ref, by_object);
        o->n_refs++;
        user_charge(ref->user, REF_COST);
        if (ret)
                *ret = ref;
        return 0;
}

/* Unlink and free a reference; the object stays. */
static void ref_free(struct ref *ref) {
        struct object *o = ref->o;

        TAILQ_REMOVE(&o->refs, ref, by_object);
        o->n_refs--;
        if (ref->c) {
                TAILQ_REMOVE(&client_shared(ref->c)->refs, ref, by_client);
                client_shared(ref->c)->n_refs--;
        } else {
                evtimer_del(&ref->lease);
                o->n_transit--;
        }
        user_uncharge(ref->user, REF_COST);
        free(ref);
}

/* End a reference; the last one of its object deletes the object. True if it did. */
static bool ref_end(struct ref *ref) {
        struct object *o = ref->o;

        ref_free(ref);
        if (o->n_refs > 0)
                return false;
        log_debug("object '%s' deleted: nothing refers to it any more", o->name);
        object_delete(o, -EIDRM);
        return true;
}

static void ref_lease_out(evutil_socket_t fd, short what, void *arg) {
        struct ref *ref = arg;

        (void) fd;
        (void) what;
        loop_clock_update();
        log_debug("object '%s': a reference in transit ran out (token %llu)", ref->o->name,
                  (unsigned long long) ref->token);
        ref_end(ref);
        /* Outside any request: what the deletion answered its waiters goes out now. */
        client_flush_dirty();
}

int ref_declared(struct client *c, struct object *o, int created) {
        int err;

        if (created < 0)
                return created;
        if (created == 1)
                o->counted = true;
        if (!o->counted)
                return created;
        err = client_shared(c)->n_refs >= REF_MAX_PER_CLIENT ? -EUSERS : ref_new(o, c, false, 0, NULL);
        if (err < 0) {
                /* A new object no one refers to would never be deleted: it goes at once. */
                if (created == 1)
                        object_delete(o, -EIDRM);
                return err;
        }
        return created;
}

/* The counted object a REF or UNREF names: 0, -ENOENT, -EACCES, or -EINVAL for one that is not counted. */
static int ref_lookup(const struct request *req, const char *name, size_t len, struct object **ret) {
        int err = object_find_typed(req, name, len, ~0u, ret);

        if (err < 0)
                return err;
        return (*ret)->counted ? 0 : -EINVAL;
}

int ref_handle_ref(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        uint32_t lease_ms;
        struct object *o;
        struct ref *ref;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u32(r, &lease_ms) || !wire_reader_done(r))
                return -EPROTO;
        if (lease_ms > REF_LEASE_MAX_MS)
                return -EINVAL;
        err = ref_lookup(req, name, len, &o);
        if (err < 0)
                return err;
        if (lease_ms == 0 ? client_shared(c)->n_refs >= REF_MAX_PER_CLIENT : o->n_transit >= REF_MAX_IN_TRANSIT)
                return -EUSERS;
        err = ref_new(o, c, lease_ms > 0, lease_ms, &ref);
        if (err < 0)
                return err;
        return op_reply_u64(c, req, ref->token);
}

/* The reference token names on o; with token 0, the first one c holds. */
static struct ref *ref_find(struct object *o, struct client *c, uint64_t token) {
        struct ref *ref;

        TAILQ_FOREACH(ref, &o->refs, by_object)
                if (token ? ref->token == token : ref->c == c)
                        return ref;
        return NULL;
}

int ref_handle_unref(struct client *c, const struct request *req, struct wire_reader *r) {
        const char *name;
        size_t len;
        uint64_t token;
        struct object *o;
        struct ref *ref;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u64(r, &token) || !wire_reader_done(r))
                return -EPROTO;
        err = ref_lookup(req, name, len, &o);
        if (err < 0)
                return err;
        ref = ref_find(o, c, token);
        if (!ref)
                return -ENOENT;
        return op_reply_u8(c, req, ref_end(ref));
}

void ref_client_lost(struct client *c) {
        struct ref *ref;

        /* One at a time from the head: ending one may delete an object, and with it others of c's. */
        while ((ref = TAILQ_FIRST(&client_shared(c)->refs)))
                ref_end(ref);
}

void ref_object_deleted(struct object *o) {
        struct ref *ref;

        while ((ref = TAILQ_FIRST(&o->refs)))
                ref_free(ref);
}
