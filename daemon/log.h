/* SPDX-License-Identifier: MIT */
/*
 * Logging (log.c): levels, and the functions and macros every file logs with.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "macros.h"

enum log_level {
        LOG_LEVEL_ERR = 3,
        LOG_LEVEL_WARNING = 4,
        LOG_LEVEL_NOTICE = 5,
        LOG_LEVEL_INFO = 6,
        LOG_LEVEL_DEBUG = 7,
};

/* Log messages up to level (a command-line option or the configuration sets it). */
void log_set_level(enum log_level level);
/* The level in force. */
enum log_level log_get_level(void);
/* true if messages of level are logged. */
/* The most verbose level logged; read inline so that a debug line costs one compare when off. */
extern enum log_level log_max_level;
static inline bool log_enabled(enum log_level level) {
        return level <= log_max_level;
}
/* Name of a level as the configuration writes it ("info"); NULL if unknown. */
const char *log_level_to_string(enum log_level level);
/* The level a name stands for, or -EINVAL. */
int log_level_from_string(const char *s);
/* Log one message; the text is built from fmt. */
void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/*
 * Log one message about an object or a client. In the journal the message
 * carries MPX_OBJECT= or MPX_CLIENT_ID=, MPX_CLIENT_PID=, MPX_CLIENT_UID=
 * fields; on plain stderr it reads as log_msg's.
 */
void log_object(enum log_level level, const char *object, const char *fmt, ...) _printf_(3, 4);
void log_client(enum log_level level, uint64_t id, pid_t pid, uid_t uid, const char *fmt, ...) _printf_(5, 6);
#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(LOG_LEVEL_DEBUG)) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
