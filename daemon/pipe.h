/* SPDX-License-Identifier: MIT */
/*
 * Pipe rendezvous (pipe.c): Pipe() between processes that are not parent
 * and child.
 */
#pragma once

struct client;
struct request;
struct wire_reader;

int pipe_handle_open(struct client *c, const struct request *req, struct wire_reader *r);
