/* SPDX-License-Identifier: MIT */
/*
 * Semaphores and locks, with SEM_UNDO (sem.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "op.h"

struct sem_hold;

/* Declare a semaphore: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int sem_declare(const char *name, size_t len, uint64_t value, uint64_t max, uint32_t flags);

/* The request handlers (op.c's table). */
op_handler sem_handle_declare, sem_handle_acquire, sem_handle_release, sem_handle_value;
/* How many semaphore units the client holds, over all semaphores. */
uint64_t sem_client_units(const struct client *c);
