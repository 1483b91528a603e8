/* SPDX-License-Identifier: MIT */
/*
 * Inspection and object-wide requests (admin.c): LIST, INFO, DELETE, STATS,
 * CLIENTS and USERS.
 */
#pragma once

#include "op.h"

struct object;

/* An object is being deleted: a listing that was to go on from it goes on from the next. */
void admin_object_deleted(struct object *o);

/* The request handlers (op.c's table). */
op_handler admin_handle_list, admin_handle_info, admin_handle_delete, admin_handle_stats, admin_handle_clients,
        admin_handle_users;
