/* SPDX-License-Identifier: MIT */
/*
 * Counted objects: objects declared with WIRE_DECLARE_COUNTED live while
 * something refers to them, as a manager's objects live while a proxy
 * does. A reference is held by a connection (until it releases it or
 * closes) or is in transit (not tied to any connection, for a handle on
 * its way to another process: it ends when anyone releases it by its token,
 * or when its lease runs out). When the last reference ends, the object is
 * deleted, its waiters answered EIDRM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op.h"

struct object;

/* The longest lease of a reference in transit: a day. */
#define REF_LEASE_MAX_MS        (24u * 3600u * 1000u)
/* The most references one connection holds, and the most in transit on one object. */
#define REF_MAX_PER_CLIENT      65536u
#define REF_MAX_IN_TRANSIT      65536u

/*
 * After a declare with WIRE_DECLARE_COUNTED that returned created (1 new,
 * 0 existing, or a negative errno) for o: a new object becomes counted,
 * and the declaring client takes a reference to it, as it does to an
 * existing counted object. An existing object that is not counted is left as it is.
 * Returns created, or -ENOMEM (a new object is then deleted again).
 */
int ref_declared(struct client *c, struct object *o, int created);

/* REF: name, u32 lease_ms -> u64 token. */
op_handler ref_handle_ref;
/* UNREF: name, u64 token -> u8 deleted. */
op_handler ref_handle_unref;

/* A connection is gone: its references end (which may delete objects). */
void ref_client_lost(struct client *c);
/* An object is being deleted: free its references without deleting it again. */
void ref_object_deleted(struct object *o);
