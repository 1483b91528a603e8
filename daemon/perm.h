/* SPDX-License-Identifier: MIT */
/*
 * Object ownership and permissions (perm.c), as System V's ipc_perm.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "hash.h"

struct client;
struct object;
struct request;
struct wire_reader;

/* The access a request needs to the object it names (perm.c decides). */
enum perm_access {
        PERM_NONE,                      /* names no object, or only creates one */
        PERM_READ,
        PERM_WRITE,
        PERM_ADMIN,                     /* the owner's (and superusers') alone */
};

#define PERM_MODE_MASK 07777u           /* the bits CHMOD accepts, as chmod(2) */

/* One object a client was refused, by creation serial (names may be reused, serials are not). */
struct perm_denial {
        UT_hash_handle hh;
        uint64_t serial;
};

/* Who asks, relative to one object: the inputs of the permission decision. */
struct perm_who {
        bool superuser;                 /* root, mpxd's own user or a member of admin_group */
        bool owner;                     /* its uid is the object's owner */
        bool in_group;                  /* the object's group is its primary or a supplementary group */
};

/*
 * The permission decision, as System V's ipc_perm: superusers may do
 * everything; PERM_ADMIN is the owner's; read and write are the mode's bits
 * of the first class that matches (owner, else group, else other). Inline:
 * every request that names an object goes through it.
 */
static inline bool perm_allows(const struct perm_who *who, unsigned mode, enum perm_access access) {
        unsigned shift;

        if (who->superuser || access == PERM_NONE)
                return true;
        if (access == PERM_ADMIN)
                return who->owner;
        /* The first class that matches decides, as for files: an owner without a bit has no right by its group. */
        shift = who->owner ? 6 : who->in_group ? 3 : 0;
        return (mode >> shift) & (access == PERM_READ ? 04u : 02u);
}
/* The name of an access class for messages ("read"). */
const char *perm_access_name(enum perm_access access);
/* Root, mpxd's own user, or a member of the configured admin_group: they may do everything. */
bool client_is_superuser(const struct client *c);
/*
 * 0 if request req may access o (always, for NULL: no request), else
 * -EACCES, logged once per client and object. Called by the object lookup;
 * see object_lookup.
 */
int perm_check(const struct request *req, struct object *o);
/*
 * Whether client c has the right access to o, without logging: for listings
 * that show what a client may see and skip the rest (LIST).
 */
bool perm_may(const struct client *c, const struct object *o, enum perm_access access);
/* Set a new object's owner, group and mode: req's client's, or mpxd's own (req NULL). */
void perm_init_object(const struct request *req, struct object *o);
/* Forget what a client was refused (it is being freed). */
void perm_client_free(struct client *c);
int perm_handle_chmod(struct client *c, const struct request *req, struct wire_reader *r);
int perm_handle_chown(struct client *c, const struct request *req, struct wire_reader *r);
