/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the daemon, the library and the tools.
 */
#pragma once

#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The struct that embeds member at address ptr. */
#define container_of(ptr, type, member) ((type *) ((char *) (ptr) - offsetof(type, member)))

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define _printf_(a, b) __attribute__((format(printf, a, b)))
