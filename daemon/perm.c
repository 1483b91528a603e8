/* SPDX-License-Identifier: MIT */
/*
 * Object ownership and permissions, as System V's ipc_perm: every object has
 * an owner uid, a group and a mode whose read and write bits say what its
 * owner, its group and everyone else may do. Operations that change the
 * object as a whole (delete, purge, close, chmod, chown) are its owner's.
 * Superusers (root, mpxd's own user, the configured admin group) may do
 * everything.
 *
 * The check cannot be missed: op_dispatch gives each request its client and
 * access class (op.c's table), and the object lookup that every handler makes
 * with its request calls perm_check. A refusal is logged once per client and
 * object, so a client retrying in a loop does not flood the log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"
#include "configfile.h"
#include "hash.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "perm.h"
#include "wire.h"

/* After this many objects refused to one client, its further refusals are not logged. */
#define PERM_DENIALS_LOGGED_MAX 1024u

const char *perm_access_name(enum perm_access access) {
        switch (access) {
        case PERM_NONE:
                return "none";
        case PERM_READ:
                return "read";
        case PERM_WRITE:
                return "write";
        case PERM_ADMIN:
                return "admin";
        }
        return "?";
}

/* mpxd's own user: read once, it does not change. */
static uid_t self_uid(void) {
        static uid_t uid;
        static bool known;

        if (!known) {
                uid = geteuid();
                known = true;
        }
        return uid;
}

bool client_is_superuser(const struct client *c) {
        const struct config *cf = mpxd.config;

        if (client_shared(c)->uid == 0 || client_shared(c)->uid == self_uid())
                return true;
        return cf && cf->admin_gid != (gid_t) -1 && client_in_group(c, cf->admin_gid);
}

/* "rw-r-----" for 0640: the nine bits as ls shows them. */
static void mode_string(unsigned mode, char buf[static 10]) {
        static const char rwx[] = "rwx";

        for (int i = 0; i < 9; i++)
                buf[i] = mode & (0400u >> i) ? rwx[i % 3] : '-';
        buf[9] = '\0';
}

/* true the first time client c is refused object o (and until too many objects were). */
static bool perm_first_denial(struct client *c, const struct object *o) {
        struct perm_denial *d;

        HASH_FIND(hh, client_shared(c)->denials, &o->serial, sizeof(o->serial), d);
        if (d)
                return false;
        if (HASH_COUNT(client_shared(c)->denials) >= PERM_DENIALS_LOGGED_MAX)
                return false;
        d = calloc(1, sizeof(*d));
        /* Out of memory: log this one, and maybe the next; a log line is worth more than silence. */
        if (!d)
                return true;
        d->serial = o->serial;
        HASH_ADD(hh, client_shared(c)->denials, serial, sizeof(d->serial), d);
        /* Not remembered: this refusal is logged all the same, as above. */
        if (hash_add_failed()) {
                free(d);
                return true;
        }
        if (HASH_COUNT(client_shared(c)->denials) == PERM_DENIALS_LOGGED_MAX)
                client_log(LOG_LEVEL_NOTICE, c,
                           "%s was refused %u objects; its further refusals are not logged",
                           client_describe(c), PERM_DENIALS_LOGGED_MAX);
        return true;
}

/* Refuse request req on o for lacking right ("write", "superuser"); logged once per client and object. */
static int perm_deny(const struct request *req, const struct object *o, const char *right) {
        struct client *c = req->client;
        char mode[10];

        if (perm_first_denial(c, o)) {
                mode_string(o->mode, mode);
                client_log(LOG_LEVEL_NOTICE, c,
                           "%s may not %s %s '%s' (owner %ld, group %ld, mode %s): no %s right; refusing with "
                           "EACCES, once per client and object", client_describe(c),
                           wire_op_name(req->op) ?: "access", wire_type_name(o->ops->type), o->name,
                           (long) o->uid, (long) o->gid, mode, right);
        }
        return -EACCES;
}

bool perm_may(const struct client *c, const struct object *o, enum perm_access access) {
        struct perm_who who = { 0 };

        if (!c || access == PERM_NONE)
                return true;
        who.owner = client_shared(c)->uid == o->uid;
        who.in_group = !who.owner && client_in_group(c, o->gid);
        if (perm_allows(&who, o->mode, access))
                return true;
        /* Asked only when the mode says no: most requests never need the admin group's members. */
        who.superuser = client_is_superuser(c);
        return perm_allows(&who, o->mode, access);
}

int perm_check(const struct request *req, struct object *o) {
        if (!req || perm_may(req->client, o, req->access))
                return 0;
        return perm_deny(req, o, perm_access_name(req->access));
}

void perm_init_object(const struct request *req, struct object *o) {
        const struct client *c = req ? req->client : NULL;

        o->mode = (uint16_t) (mpxd.config ? mpxd.config->default_mode : CONFIG_DEFAULT_OBJECT_MODE);
        if (c) {
                o->uid = client_shared(c)->uid;
                o->gid = client_shared(c)->gid;
        } else {
                o->uid = self_uid();
                o->gid = getegid();
        }
}

void perm_client_free(struct client *c) {
        struct perm_denial *d, *tmp;

        HASH_ITER(hh, client_shared(c)->denials, d, tmp) {
                HASH_DEL(client_shared(c)->denials, d);
                free(d);
        }
}

/* CHMOD: name, u16 mode -> (empty). The owner's or a superuser's (ADMIN in op.c's table). */
int perm_handle_chmod(struct client *c, const struct request *req, struct wire_reader *r) {
        char was[10], now[10];
        const char *name;
        struct object *o;
        uint16_t mode;
        size_t len;
        int err;

        if (!wire_get_name(r, &name, &len) || !wire_get_u16(r, &mode) || !wire_reader_done(r))
                return -EPROTO;
        if (mode & ~PERM_MODE_MASK)
                return -EINVAL;
        err = object_find_typed(req, name, len, ~0u, &o);
        if (err < 0)
                return err;
        if (o->mode != mode) {
                mode_string(o->mode, was);
                mode_string(mode, now);
                log_object(LOG_LEVEL_INFO, o->name, "%s '%s': mode %s -> %s by %s", wire_type_name(o->ops->type),
                           o->name, was, now, client_describe(c));
                o->mode = mode;
                journal_owner(o);
        }
        return op_reply_ok(c, req);
}

/*
 * CHOWN: name, u32 uid, u32 gid (WIRE_ID_UNCHANGED: leave it) -> (empty).
 * As chown(2): superusers may give an object to anyone; its owner may only
 * change its group, to one of its own groups.
 */
int perm_handle_chown(struct client *c, const struct request *req, struct wire_reader *r) {
        struct object *o = req->obj;
        uint32_t uid = req->f[0].w, gid = req->f[1].w;

        if (uid == WIRE_ID_UNCHANGED)
                uid = o->uid;
        if (gid == WIRE_ID_UNCHANGED)
                gid = o->gid;
        if ((uid != o->uid || (gid != o->gid && !client_in_group(c, gid))) && !client_is_superuser(c))
                return perm_deny(req, o, "superuser");
        if (uid != o->uid || gid != o->gid) {
                log_object(LOG_LEVEL_INFO, o->name, "%s '%s': owner %ld:%ld -> %ld:%ld by %s",
                           wire_type_name(o->ops->type), o->name, (long) o->uid, (long) o->gid, (long) uid,
                           (long) gid, client_describe(c));
                o->uid = uid;
                o->gid = gid;
                journal_owner(o);
        }
        return op_reply_ok(c, req);
}
