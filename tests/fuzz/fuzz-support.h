/* SPDX-License-Identifier: MIT */
/*
 * What the harnesses of the daemon share: temporary directories on tmpfs
 * (the journal fsyncs), a journal started on one of them, the records of
 * the snapshot a compaction leaves there, and a count of open descriptors.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "configfile.h"

#define FUZZ_DIR_MAX 256

/* Make a new empty directory named after prefix, removed (with its files) at exit. */
void fuzz_dir_make(char dir[FUZZ_DIR_MAX], const char *prefix);
/* Remove every file of dir. */
void fuzz_dir_clean(const char *dir);
/* Copy the journal's segments (journal.N) of from into to. */
void fuzz_dir_copy_segments(const char *from, const char *to);

/* Start the journal on dir (sync "no"), recovering what it holds; returns the configuration to free after journal_close. */
struct config *fuzz_journal_start(const char *dir);
/* The records of dir's snapshot after its header (which names the segment it covers); free it. */
uint8_t *fuzz_snapshot_records(const char *dir, size_t *ret_size);

/* Descriptors open in this process: an input must leave as many as it found. */
int fuzz_count_open_fds(void);
