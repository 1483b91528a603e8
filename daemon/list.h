/* SPDX-License-Identifier: MIT */
/*
 * Shared lists (list.c): Manager().list() as a named object.
 */
#pragma once

#include <stddef.h>

#include "op.h"

/* Declare a list: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int list_declare(const char *name, size_t len);

/* The request handlers (op.c's table). */
op_handler list_handle_declare, list_handle_append, list_handle_extend, list_handle_get, list_handle_set,
        list_handle_insert, list_handle_pop, list_handle_remove, list_handle_index, list_handle_len,
        list_handle_slice, list_handle_clear, list_handle_splice;
