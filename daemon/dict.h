/* SPDX-License-Identifier: MIT */
/*
 * Shared dicts (dict.c): Manager().dict() as a named object.
 */
#pragma once

#include <stddef.h>

#include "op.h"

/* Declare a dict: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int dict_declare(const char *name, size_t len);

/* The request handlers (op.c's table). */
op_handler dict_handle_declare, dict_handle_set, dict_handle_get, dict_handle_del, dict_handle_contains,
        dict_handle_len, dict_handle_items, dict_handle_pop, dict_handle_setdefault, dict_handle_update,
        dict_handle_clear, dict_handle_incr, dict_handle_cas, dict_handle_popitem;
