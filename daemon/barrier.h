/* SPDX-License-Identifier: MIT */
/*
 * Barriers, as Python's Barrier (barrier.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "op.h"

/* What a BARRIER_DECLARE may ask beyond parties; NULL asks nothing and matches any barrier. */
struct barrier_options {
        bool action;                    /* WIRE_BARRIER_ACTION */
        int64_t timeout_ms;             /* the default of WAIT; negative: none */
};
/* Declare a barrier: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int barrier_declare(const char *name, size_t len, uint32_t parties, const struct barrier_options *opt);

/* The request handlers (op.c's table). */
op_handler barrier_handle_declare, barrier_handle_wait, barrier_handle_reset, barrier_handle_abort,
        barrier_handle_pass;
