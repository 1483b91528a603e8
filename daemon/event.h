/* SPDX-License-Identifier: MIT */
/*
 * Events, as Python's Event (event.c).
 *
 * Not libevent's compatibility header <event.h>, which mpxd never includes
 * (it uses <event2/...>): this one is included by name, "event.h".
 */
#pragma once

#include <stddef.h>

struct client;
struct request;
struct wire_reader;

/* Declare an event: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int event_declare(const char *name, size_t len);

int event_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int event_handle_set(struct client *c, const struct request *req, struct wire_reader *r);
int event_handle_clear(struct client *c, const struct request *req, struct wire_reader *r);
int event_handle_is_set(struct client *c, const struct request *req, struct wire_reader *r);
int event_handle_wait(struct client *c, const struct request *req, struct wire_reader *r);
