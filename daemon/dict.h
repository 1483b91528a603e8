/* SPDX-License-Identifier: MIT */
/*
 * Shared dicts (dict.c): Manager().dict() as a named object.
 */
#pragma once

#include <stddef.h>

struct client;
struct request;
struct wire_reader;

/* Declare a dict: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int dict_declare(const char *name, size_t len);

int dict_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_set(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_get(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_del(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_contains(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_len(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_items(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_pop(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_setdefault(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_update(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_clear(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_incr(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_cas(struct client *c, const struct request *req, struct wire_reader *r);
int dict_handle_popitem(struct client *c, const struct request *req, struct wire_reader *r);
