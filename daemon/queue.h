/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues (queue.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "op.h"

struct client;

/*
 * Declare a queue (the configuration and QUEUE_DECLARE): 1 created, 0
 * existed with the same parameters, -EEXIST (other parameters), -EPROTOTYPE
 * (a name of another type), -EINVAL or -ENOMEM.
 */
int queue_declare(const char *name, size_t len, uint64_t maxsize, bool joinable);
int queue_declare_lease(const char *name, size_t len, uint64_t maxsize, bool joinable, int64_t ttr_ms);

struct delivery;
TAILQ_HEAD(delivery_list, delivery);

/* The object types a queue request may name (1 << type). */
#define QUEUE_TYPES ((1u << WIRE_TYPE_QUEUE) | (1u << WIRE_TYPE_JOINABLE))

/* The request handlers (op.c's table). */
op_handler queue_handle_declare, queue_handle_put, queue_handle_put_many, queue_handle_get,
        queue_handle_get_many, queue_handle_qsize, queue_handle_close, queue_handle_purge,
        queue_handle_task_done, queue_handle_done_get, queue_handle_join, queue_handle_peek, queue_handle_touch;
/* How many undone joinable deliveries the client holds. */
unsigned queue_client_deliveries(const struct client *c);
/* Milliseconds until the first lease of its attached deliveries runs out, or -1. */
int64_t queue_client_next_lease(const struct client *c);
/* written bytes of the client's replies were written (client_output_end): the plain-queue items of those replies are delivered. */
void queue_client_written(struct client *c, uint64_t written);
/* Free the blocks kept for the records of replies (at exit, once every client is gone). */
void queue_unsent_pool_free(void);
