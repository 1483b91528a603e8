/* SPDX-License-Identifier: MIT */
/*
 * Shared lists (list.c): Manager().list() as a named object.
 */
#pragma once

#include <stddef.h>

struct client;
struct request;
struct wire_reader;

/* Declare a list: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int list_declare(const char *name, size_t len);

int list_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_append(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_extend(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_get(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_set(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_insert(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_pop(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_remove(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_index(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_len(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_slice(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_clear(struct client *c, const struct request *req, struct wire_reader *r);
int list_handle_splice(struct client *c, const struct request *req, struct wire_reader *r);
