/* SPDX-License-Identifier: MIT */
/*
 * Events, as Python's Event (event.c).
 *
 * Not libevent's compatibility header <event.h>, which mpxd never includes
 * (it uses <event2/...>): this one is included by name, "event.h".
 */
#pragma once

#include <stddef.h>

#include "op.h"

/* Declare an event: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int event_declare(const char *name, size_t len);

/* The request handlers (op.c's table). */
op_handler event_handle_declare, event_handle_set, event_handle_clear, event_handle_is_set, event_handle_wait;
