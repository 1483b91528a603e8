/* SPDX-License-Identifier: MIT */
/*
 * Inspection and object-wide requests (admin.c): LIST, INFO, DELETE, STATS,
 * CLIENTS and USERS.
 */
#pragma once

struct client;
struct object;
struct request;
struct wire_reader;

int admin_handle_list(struct client *c, const struct request *req, struct wire_reader *r);
/* An object is being deleted: a listing that was to go on from it goes on from the next. */
void admin_object_deleted(struct object *o);
int admin_handle_info(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_delete(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_stats(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_clients(struct client *c, const struct request *req, struct wire_reader *r);
int admin_handle_users(struct client *c, const struct request *req, struct wire_reader *r);
