/* SPDX-License-Identifier: MIT */
/*
 * Typed shared values and arrays (array.c): Value() and Array().
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "op.h"

/* Declare a value or an array: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int array_declare(const char *name, size_t len, char typecode, uint32_t length, uint32_t flags,
                  const void *initial);

/* The object types an element request may name (1 << type). */
#define ARRAY_TYPES ((1u << WIRE_TYPE_VALUE) | (1u << WIRE_TYPE_ARRAY))

/* The request handlers (op.c's table). */
op_handler array_handle_declare, array_handle_get, array_handle_set, array_handle_add, array_handle_cas,
        array_handle_map;
