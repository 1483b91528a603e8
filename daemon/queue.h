/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues (queue.c).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct client;
struct request;
struct wire_reader;

/*
 * Declare a queue (the configuration and QUEUE_DECLARE): 1 created, 0
 * existed with the same parameters, -EEXIST (other parameters), -EPROTOTYPE
 * (a name of another type), -EINVAL or -ENOMEM.
 */
int queue_declare(const char *name, size_t len, uint64_t maxsize, bool joinable);
int queue_declare_lease(const char *name, size_t len, uint64_t maxsize, bool joinable, int64_t ttr_ms);

struct delivery;
TAILQ_HEAD(delivery_list, delivery);

int queue_handle_declare(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_put(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_put_many(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_get(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_get_many(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_qsize(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_close(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_purge(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_task_done(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_done_get(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_join(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_peek(struct client *c, const struct request *req, struct wire_reader *r);
int queue_handle_touch(struct client *c, const struct request *req, struct wire_reader *r);
/* How many undone joinable deliveries the client holds. */
unsigned queue_client_deliveries(const struct client *c);
/* Milliseconds until the first lease of its attached deliveries runs out, or -1. */
int64_t queue_client_next_lease(const struct client *c);
/* The client's output reached c->out_written: the plain-queue items of replies written in full are delivered. */
void queue_client_written(struct client *c);
/* Free the blocks kept for the records of replies (at exit, once every client is gone). */
void queue_unsent_pool_free(void);
