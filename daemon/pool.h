/* SPDX-License-Identifier: MIT */
/*
 * Pools of worker processes (pool.c): the named object type, its requests,
 * and what the configuration needs to declare one. The processes themselves
 * are supervisor.c's (supervisor.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "op.h"

#define POOL_MAX_WORKERS 1024u          /* workers of one pool */
#define POOL_MAX_ARGS 1024u             /* arguments of a command, argv[0] included */
#define POOL_MAX_COMMAND (64u * 1024)   /* bytes of a command, NUL terminators included */

/* START: name, u32 workers, u8 restart, u16 argc, argc x str -> u8 created. */
op_handler pool_handle_start;
/* SCALE: name, u32 workers. */
op_handler pool_handle_scale;
/* SIGNAL: name, u32 signal -> u32 workers signalled. */
op_handler pool_handle_signal;
/* STOP: name, i64 grace_ms; answered once every worker has exited, then the pool is deleted. */
op_handler pool_handle_stop;

/*
 * Start a pool (the configuration and POOL_START) running command, argc
 * NUL-terminated strings back to back: 1 started, 0 a pool of that name runs
 * the same command with the same restart policy, -EEXIST, -EPROTOTYPE,
 * -EINVAL, -EUSERS, -ENOMEM. Workers are forked from the loop, not here.
 */
int pool_declare(const char *name, size_t len, uint32_t workers, uint8_t restart, const char *command,
                 size_t command_size);
/* WIRE_RESTART_* for "always", "on-failure" or "never"; -EINVAL for anything else. */
int pool_restart_from_string(const char *s);
/* The name of a restart policy ("on-failure"); NULL if unknown. */
const char *pool_restart_to_string(uint8_t restart);
/*
 * The delay before restarting a worker that ran ran_ms, when the delay before
 * was prev_ms (0: none yet): 100 ms, doubling up to 30 s, and 100 ms again
 * once a worker ran for 10 s.
 */
uint64_t pool_backoff_next_ms(uint64_t prev_ms, uint64_t ran_ms);
