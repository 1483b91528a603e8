/* SPDX-License-Identifier: MIT */
/*
 * Private temporary folders for the test programs: a daemon's socket and
 * configuration, a journal, files a test writes. Made under $TMPDIR (/tmp
 * when unset) so that parallel runs never meet, removed with all they hold.
 */
#ifndef MPX_TESTS_TEMP_DIR_H
#define MPX_TESTS_TEMP_DIR_H

#include <stddef.h>

/* Make a new folder "$TMPDIR/<prefix>-XXXXXX" into dir (size bytes): dir, or NULL with errno set. */
char *temp_dir_make(char *dir, size_t size, const char *prefix);

/* Remove a folder and everything in it: system()'s status, 0 when it went. */
int temp_dir_remove(const char *dir);

#endif
