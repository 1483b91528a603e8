/* SPDX-License-Identifier: MIT */
/*
 * Typed shared values and arrays (array.c): Value() and Array().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct client;
struct request;
struct wire_reader;

/* Declare a value or an array: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int array_declare(const char *name, size_t len, char typecode, uint32_t length, uint32_t flags,
                  const void *initial);

int array_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int array_handle_get(struct client *c, const struct request *req, struct wire_reader *r);
int array_handle_set(struct client *c, const struct request *req, struct wire_reader *r);
int array_handle_add(struct client *c, const struct request *req, struct wire_reader *r);
int array_handle_cas(struct client *c, const struct request *req, struct wire_reader *r);
int array_handle_map(struct client *c, const struct request *req, struct wire_reader *r);
