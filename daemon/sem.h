/* SPDX-License-Identifier: MIT */
/*
 * Semaphores and locks, with SEM_UNDO (sem.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct client;
struct request;
struct sem_hold;
struct wire_reader;

/* Declare a semaphore: 1 created, 0 existed with the same parameters, or a negative errno (see queue.h). */
int sem_declare(const char *name, size_t len, uint64_t value, uint64_t max, uint32_t flags);

int sem_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int sem_handle_acquire(struct client *c, const struct request *req, struct wire_reader *r);
int sem_handle_release(struct client *c, const struct request *req, struct wire_reader *r);
int sem_handle_value(struct client *c, const struct request *req, struct wire_reader *r);
/* How many semaphore units the client holds, over all semaphores. */
uint64_t sem_client_units(const struct client *c);
