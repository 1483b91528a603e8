/* SPDX-License-Identifier: MIT */
/*
 * Logging of mpxd to stderr. When stderr is the journal (JOURNAL_STREAM names
 * it), lines carry the "<N>" priority prefix the journal understands;
 * otherwise they carry the level in words. Only the daemon logs.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "mpxd.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static int to_journal = -1;

static const char *const level_names[] = {
        [LOG_LEVEL_ERR] = "error",
        [LOG_LEVEL_WARNING] = "warning",
        [LOG_LEVEL_NOTICE] = "notice",
        [LOG_LEVEL_INFO] = "info",
        [LOG_LEVEL_DEBUG] = "debug",
};

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

void log_set_level(enum log_level level) {
        max_level = level;
}

bool log_enabled(enum log_level level) {
        return level <= max_level;
}

void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;

        if (!log_enabled(level))
                return;
        if (to_journal < 0)
                to_journal = stderr_is_journal();
        if (to_journal)
                fprintf(stderr, "<%d>", (int) level);
        else
                fprintf(stderr, "mpxd: %s: ", level_names[level]);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}
