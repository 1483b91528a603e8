/* SPDX-License-Identifier: MIT */
/*
 * The name registry (object.c): struct object, the hooks of each type
 * (struct object_type), lookup, registration and deletion.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "hash.h"
#include "macros.h"
#include "wire.h"

struct client;
struct object;
struct ref;
struct request;
struct user;
struct waiter;

struct object_type {
        uint8_t type;                   /* enum wire_type */
        /* Wake every waiter with neg_errno (-EIDRM, -ESHUTDOWN); NULL for types nobody waits on. */
        void (*wake_all)(struct object *o, int neg_errno);
        /* Serve waiters after something changed (a waiter left, say); NULL if there is nothing to do. */
        void (*serve)(struct object *o);
        /* Append the fields that describe the object. */
        int (*describe)(struct object *o, struct wire_buf *b, struct wire_fields *f);
        /*
         * Free the object and everything it holds; no waiters are left.
         * NULL for a type whose struct holds nothing allocated apart: the
         * object is freed as object_declare allocated it.
         */
        void (*free)(struct object *o);
        /*
         * Optional: a waiter is about to leave unserved, because its timer
         * fired (why -ETIMEDOUT), its client cancelled it (why -ECANCELED)
         * or its client is gone (why -ECONNRESET). The waiter is still
         * linked; it is answered (on timeout or cancel) and freed by wait.c
         * after this returns. A barrier breaks here, or, on cancel, forgets
         * the party.
         */
        void (*waiter_left)(struct object *o, struct waiter *w, int why);
        /* Optional: free the payload of a waiter of the type (wait_free); w->payload is not NULL. */
        void (*waiter_free)(struct waiter *w);
        /* Optional: bytes the object holds (payload and per-element overhead), for the daemon-wide total. */
        uint64_t (*bytes)(struct object *o);
        /* Optional: 0 if client c may delete the object, else -EACCES (pools: pool.c's rule). */
        int (*may_delete)(struct object *o, const struct client *c);
        /*
         * Types that can be durable: append the journal records that recreate
         * the object as it is (journal_create, then its contents); 0 or -ENOMEM.
         */
        int (*dump)(struct object *o);
        /* Apply one journal record of the type's own kinds; 0, or -EBADMSG when it makes no sense. */
        int (*replay)(struct object *o, uint16_t kind, struct wire_reader *r);
        /* Optional, durable objects changed behind the daemon's back (mapped arrays): journal what changed. */
        void (*checkpoint)(struct object *o);
        /*
         * Optional, for the type as a whole, not one object: client c is gone;
         * release what it held in objects of the type (a queue's deliveries, a
         * semaphore's units, a barrier's party). Its waiters are gone already.
         * Types that share the function (queue and joinable) have it called once.
         */
        void (*client_lost)(struct client *c);

        /*
         * Declaring (object_declare), for the types a client or the
         * configuration declares. params points to the type's own struct of
         * what a declare asks for (NULL for types that take nothing).
         */
        /* Optional: an error for parameters no object of the type may have; checked before the lookup. */
        int (*declare_check)(const void *params);
        /* Optional: 0 if the object that exists is the one params describe, else -EEXIST. NULL: any is. */
        int (*declare_match)(struct object *o, const void *params);
        /* Optional: an error for parameters that only a new object refuses; checked before the object limit. */
        int (*declare_check_new)(const void *params);
        /*
         * The size of the type's struct, which begins with its struct object:
         * object_declare allocates it zeroed, with the name after it.
         */
        size_t size;
        /*
         * Optional: set up a new object for params before it is registered
         * (name labels what it sets up; o->name is already set): 0, or a
         * negative errno, and free then takes the object as it was left.
         */
        int (*declare_init)(struct object *o, const char *name, size_t len, const void *params);
        /* Optional: what a new object does once it is registered (charge its memory, start workers). */
        void (*declare_done)(struct object *o, const void *params);
};

struct object {
        UT_hash_handle hh;
        char *name;                     /* NUL-terminated, in the object's allocation after the type's struct */
        size_t name_len;
        const struct object_type *ops;
        uint64_t serial;                /* creation order, the LIST cursor */
        uint64_t created_ms;
        uint64_t active_ms;             /* last request on it */
        uint64_t timeouts;              /* waiters that timed out */
        uint64_t requests;              /* requests that named it */
        uid_t uid;                      /* owner */
        gid_t gid;                      /* group */
        uint16_t mode;                  /* permission bits, as chmod(2)'s: r 4, w 2 per class */
        struct user *user;              /* its creator, charged for it; NULL: configured */
        bool durable;                   /* its changes are journaled (journal.c) */
        bool counted;                   /* alive while referred to (ref.c) */
        uint32_t n_refs, n_transit;     /* references to it, of which in transit */
        TAILQ_HEAD(, ref) refs;
        TAILQ_ENTRY(object) link;
};

/* Find an object by name; NULL if there is none. No permission is checked: not for requests. */
struct object *object_find(const char *name, size_t len);
/*
 * Find an object for request req: 0 and *ret (NULL when there is none), or
 * -EACCES when the request's client may not access it as the request's
 * access class requires (perm_check). Outside a request (req NULL: the
 * configuration, timers, replay) nothing is checked. Every lookup a request
 * makes goes through here or object_find_typed.
 */
int object_lookup(const struct request *req, const char *name, size_t len, struct object **ret);
/*
 * The lookup of the object a request names, once its body is parsed: as
 * object_lookup, for an object that must exist and be of one of the types in
 * the mask (1 << type): 0 and *ret set, -ENOENT, -EPROTOTYPE or -EACCES. The
 * object counts the request and is stamped active at this pass of the loop.
 */
int object_find_typed(const struct request *req, const char *name, size_t len, unsigned type_mask,
                      struct object **ret);
/*
 * object_find_typed for a type whose struct embeds its struct object as obj:
 * *ret is set to that struct. A handler calls it once the whole body of the
 * request is parsed, so that a malformed request is -EPROTO and nothing
 * else: not counted, not stamped, not refused (nor logged) by permission.
 */
#define OBJECT_FIND_AS(req, name, len, type_mask, ret)                                          \
        __extension__({                                                                         \
                struct object *found_;                                                          \
                int err_ = object_find_typed((req), (name), (len), (type_mask), &found_);       \
                if (err_ >= 0)                                                                  \
                        *(ret) = container_of(found_, __typeof__(**(ret)), obj);                \
                err_;                                                                           \
        })
/*
 * The lookup op_dispatch makes for a request before its handler runs, for
 * the opcodes whose op_table entry names the types of their object: parse
 * the whole body, a name and one field for each character of fmt into
 * req->f ('b' u8, 'w' u32, 'q' u64, 'i' i64, 's' bytes, 'v' bytes of a
 * value, at most max_message), then find the object into req->obj as
 * object_find_typed does. -EPROTO for a malformed body, whatever the name;
 * then as object_find_typed; then -EMSGSIZE for a 'v' field too large.
 */
int object_parse_request(struct request *req, struct wire_reader *r, unsigned type_mask, const char *fmt);
/* Wake its waiters with neg_errno, unregister and free it. */
void object_delete(struct object *o, int neg_errno);
/*
 * Create an object of type from params for request req (NULL: the daemon
 * itself), or find the one of that name: the name must be valid, an object
 * that exists must be readable by the request (object_lookup), of that type
 * and match params (-EPROTOTYPE, -EEXIST); a new one must fit the object
 * limit, and belongs to the request's client. 1 created, 0 existed, or a
 * negative errno with nothing created; *ret (may be NULL) is the object.
 */
int object_declare(const struct request *req, const char *name, size_t len, const struct object_type *type,
                   const void *params, struct object **ret);
/*
 * The two halves of every DECLARE request around object_declare: before,
 * the checks of flags every declare takes (-EINVAL for a counted durable
 * object; for a durable one the journal's, journal_declare_check); after,
 * with created (1, 0 or a negative errno) and the object, what those flags
 * ask for: a counted object's reference (ref_declared) or, for the types
 * that can be durable (a dump hook), its durability (journal_declared).
 * Both return created, or a negative errno.
 */
int object_declare_check(const struct request *req, const struct object_type *type, const char *name, size_t len,
                         uint32_t flags);
int object_declared(struct client *c, struct object *o, int created, uint32_t flags);
/*
 * A DECLARE request whose body is parsed: object_declare between the two
 * halves, then the reply (u8 created). 0, or a negative errno to answer.
 */
int object_handle_declare(struct client *c, const struct request *req, const char *name, size_t len,
                          const struct object_type *type, const void *params, uint32_t flags);
/* The DECLARE of a type without parameters: name [, u32 flags] -> u8 created; flags outside allowed are -EINVAL. */
int object_handle_declare_plain(struct client *c, const struct request *req, struct wire_reader *r,
                                const struct object_type *type, uint32_t allowed);
/*
 * Client c is gone: the client_lost hook of every type that has had an
 * object, then its references to counted objects are dropped (ref.c), last,
 * since that may delete objects the hooks still had to see.
 */
void object_client_lost(struct client *c);
/* Delete every object (shutdown). */
void object_delete_all(int neg_errno);
/*
 * 0 if one more object may be created for request req (NULL: the daemon
 * itself), -EUSERS when mpxd.max_objects exist already or the requester's
 * uid has its quota of objects. Every declare function calls it before it
 * allocates.
 */
int object_check_limit(const struct request *req);
/* Append the fields every type's description has, age_ms and idle_ms, where the type puts them: 0 or -ENOMEM. */
int object_describe_age(const struct object *o, struct wire_buf *b, struct wire_fields *f);
/* The bytes the object holds, as its type counts them (0 for types that hold none). */
uint64_t object_bytes(struct object *o);
