/* SPDX-License-Identifier: MIT */
/*
 * Pipe rendezvous (pipe.c): Pipe() between processes that are not parent
 * and child.
 */
#pragma once

#include "op.h"

op_handler pipe_handle_open;
