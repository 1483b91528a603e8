/* SPDX-License-Identifier: MIT */
/*
 * Logging of mpxd, the one place where the daemon writes messages. When
 * stderr is the journal (JOURNAL_STREAM names it), each message goes to the
 * journal as a structured record with sd_journal_send: PRIORITY=, MESSAGE=,
 * SYSLOG_IDENTIFIER=mpxd, and MPX_OBJECT= or MPX_CLIENT_ID=, MPX_CLIENT_PID=,
 * MPX_CLIENT_UID= when the caller has them. When the journal's socket cannot
 * be reached, or refuses a record, the line goes to stderr with the "<N>"
 * priority prefix the journal understands. Otherwise lines go to stderr with
 * the level in words. Only the daemon logs; rate limits are the callers'
 * business.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"
#include "macros.h"
#include "wire.h"

/* Longer messages are cut: one line of the log is never this long. */
#define LOG_LINE_MAX 4096

enum log_level log_max_level = LOG_LEVEL_INFO;
static int to_journal = -1;

static const char *const level_names[] = {
        [LOG_LEVEL_ERR] = "error",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

/* The journal's native socket; sd_journal_send drops records silently when it is missing. */
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* true if stderr is the stream systemd connected to the journal. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%lu:%lu", &dev, &ino) != 2)
                return false;
        if (fstat(2, &st) < 0)
                return false;
        return st.st_dev == dev && st.st_ino == ino;
}

/*
 * How to log: 1 structured records (the journal is there), 2 "<N>" lines on
 * stderr (stderr is the journal's stream, its socket is not reachable), 0
 * plain lines.
 */
static int log_target(void) {
        if (!stderr_is_journal())
                return 0;
        return access(JOURNAL_SOCKET, W_OK) == 0 ? 1 : 2;
}

/* Log messages up to level from now on. */
void log_set_level(enum log_level level) {
        log_max_level = level;
}

/* The level in force. */
enum log_level log_get_level(void) {
        return log_max_level;
}

/* true if a message of level would be logged. */

/* "info" for LOG_LEVEL_INFO; NULL for a number that is no level. */
const char *log_level_to_string(enum log_level level) {
        if ((unsigned) level >= ARRAY_SIZE(level_names))
                return NULL;
        return level_names[level];
}

/* LOG_LEVEL_INFO for "info"; -EINVAL for a word that is no level. */
int log_level_from_string(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(level_names); i++)
                if (level_names[i] && strcmp(level_names[i], s) == 0)
                        return (int) i;
        return -EINVAL;
}

/* The fields of a structured record besides the message; n is how many are used. */
struct log_fields {
        char buf[3][WIRE_NAME_MAX + 16];
        size_t n;
};

/* Write one message: to the journal with its fields, else as a line on stderr. */
static void log_write(enum log_level level, const struct log_fields *f, const char *fmt, va_list ap) {
        char text[LOG_LINE_MAX];

        vsnprintf(text, sizeof(text), fmt, ap);
        if (to_journal < 0)
                to_journal = log_target();
        if (to_journal == 2) {
                fprintf(stderr, "<%d>%s\n", (int) level, text);
                return;
        }
        if (to_journal == 1) {
                char priority[16], message[sizeof(text) + 8];
                struct iovec iov[3 + ARRAY_SIZE(f->buf)];
                size_t n = 0;

                snprintf(priority, sizeof(priority), "PRIORITY=%d", (int) level);
                snprintf(message, sizeof(message), "MESSAGE=%s", text);
                iov[n++] = (struct iovec) { .iov_base = priority, .iov_len = strlen(priority) };
                iov[n++] = (struct iovec) { .iov_base = message, .iov_len = strlen(message) };
                iov[n++] = (struct iovec) { .iov_base = (char *) "SYSLOG_IDENTIFIER=mpxd",
                                            .iov_len = strlen("SYSLOG_IDENTIFIER=mpxd") };
                for (size_t i = 0; f && i < f->n; i++)
                        iov[n++] = (struct iovec) { .iov_base = (char *) f->buf[i], .iov_len = strlen(f->buf[i]) };
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        return;
                /* The journal refused the record: the stream still reaches it. */
                fprintf(stderr, "<%d>%s\n", (int) level, text);
                return;
        }
        fprintf(stderr, "mpxd: %s: %s\n", level_names[level], text);
}

/* Log one message with no fields of its own. */
void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;

        if (!log_enabled(level))
                return;
        va_start(ap, fmt);
        log_write(level, NULL, fmt, ap);
        va_end(ap);
}

/* Log one message about an object (MPX_OBJECT= in the journal). */
void log_object(enum log_level level, const char *object, const char *fmt, ...) {
        struct log_fields f = { .n = 1 };
        va_list ap;

        if (!log_enabled(level))
                return;
        snprintf(f.buf[0], sizeof(f.buf[0]), "MPX_OBJECT=%s", object);
        va_start(ap, fmt);
        log_write(level, &f, fmt, ap);
        va_end(ap);
}

/* Log one message about a client (MPX_CLIENT_ID=, _PID=, _UID= in the journal). */
void log_client(enum log_level level, uint64_t id, pid_t pid, uid_t uid, const char *fmt, ...) {
        struct log_fields f = { .n = 3 };
        va_list ap;

        if (!log_enabled(level))
                return;
        snprintf(f.buf[0], sizeof(f.buf[0]), "MPX_CLIENT_ID=%llu", (unsigned long long) id);
        snprintf(f.buf[1], sizeof(f.buf[1]), "MPX_CLIENT_PID=%ld", (long) pid);
        snprintf(f.buf[2], sizeof(f.buf[2]), "MPX_CLIENT_UID=%ld", (long) uid);
        va_start(ap, fmt);
        log_write(level, &f, fmt, ap);
        va_end(ap);
}
