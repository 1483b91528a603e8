/* SPDX-License-Identifier: MIT */
/*
 * Text files the tests write: a daemon's configuration, a file a test
 * makes for it to find. Failures are cmocka assertions: for cmocka tests
 * only.
 */
#ifndef MPX_TESTS_TEXT_FILE_H
#define MPX_TESTS_TEXT_FILE_H

/* Write the printf-style text to the file at path, made or emptied; the test fails if it cannot. */
void text_file_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * The same, replacing the file at once: the text is written beside it and
 * renamed over it, so that a daemon that reloads it never reads half of it.
 */
void text_file_replace(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
