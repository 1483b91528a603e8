/* SPDX-License-Identifier: MIT */
/*
 * What the files of the journal share (journal.h is what the rest of mpxd
 * sees): the constants of the format, the one struct journal, and the
 * functions each file offers the others. journal.c builds records and
 * answers the types, starts and stops the journal; journal-write.c writes
 * the segments and refuses changes it has no room for; journal-sync.c
 * runs the everysec fdatasync() in a thread; journal-snapshot.c writes
 * snapshots (the compaction child); journal-recover.c reads everything
 * back at start.
 */
#pragma once

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "wire.h"

/* Bytes of a record before its kind: u32 length, u32 crc. */
#define RECORD_PREFIX 8u
/* Write the snapshot out whenever this much of it is buffered. */
#define SNAPSHOT_CHUNK (1u << 20)
/* Written in every header record, with the format's version. */
#define JOURNAL_MAGIC "mpx-journal"
#define JOURNAL_FORMAT 3u
/*
 * The oldest format read back: 1 lacks the owner-dead flag of semaphores,
 * read as clear; 1 and 2 lack the delivery counts of joinable items, read
 * as never delivered.
 */
#define JOURNAL_FORMAT_OLDEST 1u

struct journal {
        bool enabled;                   /* a directory is configured and open */
        bool replaying;                 /* reading the files back: record nothing */
        bool dumping;                   /* writing a snapshot: records go to the snapshot */
        bool lost;                      /* a record could not be buffered: hold nothing back as acknowledged */
        char *dir;
        int dir_fd;
        int lock_fd;
        int fd;                         /* the current segment */
        int snapshot_fd;                /* while dumping */
        uint64_t segment;               /* its number */
        uint64_t segment_bytes;
        uint64_t older_bytes;           /* bytes of the segments before it that still exist */
        uint64_t snapshot_bytes;
        uint64_t allocated;             /* bytes of the current segment reserved on disk (fallocate) */
        bool header_pending;            /* its header is not written yet: it goes out first */
        bool segment_spoiled;           /* a failed write left bytes that could not be cut: open the next */
        bool no_fallocate;              /* the filesystem reserves nothing: a full disk stalls commits */
        struct wire_buf buf;            /* records not yet written */
        size_t record_start;            /* of the record being built */
        uint64_t unsynced;              /* bytes written and not yet fdatasync()ed */

        /*
         * When durable changes are refused (see journal_admit): a commit
         * that cannot be written keeps its records and is tried again every
         * second (stalled); records lost to a lack of memory or a failed
         * fdatasync() wait for the snapshot that writes memory out whole
         * (losses counts them; the compaction child covers child_losses).
         */
        int stalled;                    /* the negative errno of the failed commit, or 0 */
        int disk_error;                 /* the last reservation failed: -ENOSPC or -EIO; 0 once one succeeds */
        uint64_t disk_error_need;       /* what it needed past the end, asked again every second */
        int refusing;                   /* journal_refusal() when last looked at */
        bool refusal_announced;         /* the log said the refusals started */
        bool lost_pending;
        uint64_t losses, child_losses;
        uint64_t refused;               /* durable changes refused since start */
        uint64_t refused_logged;        /* refused when the last line about it was logged */
        uint64_t refusing_since_ms, refusal_logged_ms, transition_logged_ms;

        enum journal_sync sync;
        bool durable_default;
        uint64_t compact_size;

        struct event *ev_commit;        /* the commit: made active, or a zero timeout under "always" */
        bool commit_scheduled;          /* ev_commit is active or pending */
        struct event *ev_second;        /* everysec syncs, array images */

        /*
         * Under everysec the fdatasync() runs in a thread of its own (see
         * journal_sync_start), so that the loop never waits for the disk
         * once a second. It shares nothing with the loop but two pipes.
         */
        pthread_t syncer;
        bool syncer_running;            /* the thread exists */
        bool syncer_failed;             /* it could not be started: sync in the loop */
        bool closing;                   /* journal_close: sync in the loop, start no thread */
        int sync_requests;              /* write end: struct sync_request, one at a time */
        int sync_results;               /* read end: an int, 0 or a negative errno, per request */
        struct event *ev_synced;        /* sync_results readable */
        bool syncing;                   /* a request is out: no second one until its result is back */
        uint64_t syncing_segment;       /* the segment it syncs, for the log */
        pid_t child;                    /* the compaction child, or 0 */
        uint64_t child_segment;         /* the last segment its snapshot covers */
        uint64_t retry_ms;              /* no compaction before this */
        bool resync;                    /* records were lost: compact to write memory out whole */
        bool child_resyncs;             /* the running compaction was started for that */

        /* statistics */
        uint64_t records;
        uint64_t written;               /* bytes written to segments since start */
        uint64_t fsyncs;
        uint64_t compactions;
        uint64_t last_compaction_ms;    /* monotonic; 0: none since start */
        uint64_t n_durable_arrays;
};

#define JOURNAL_INIT \
        { .dir_fd = -1, .lock_fd = -1, .fd = -1, .snapshot_fd = -1, .sync_requests = -1, .sync_results = -1 }

/* The one journal of the daemon (journal.c). */
extern struct journal journal;

/* journal.c */
/* zlib's crc32() of len bytes (the crc of a record), faster for short ones. */
uint32_t journal_crc32(const uint8_t *p, size_t len);
/* The records that recreate an object: its type's, then its owner, group and mode. */
int journal_dump_object(struct object *o);

/* journal-write.c: segments, room on disk, refusals, the commit */
/* Write all of p to fd, again after a signal: 0 or a negative errno. */
int journal_write_all(int fd, const uint8_t *p, size_t len);
/* The name of segment n: "journal.7". */
void journal_segment_name(char *buf, size_t size, uint64_t n);
/* The body of a header record after its kind. */
int journal_put_header_body(struct wire_buf *b, uint64_t number);
void journal_fsync_dir(void);
/* Close the current segment (synced) and open segment n, empty: 0 or a negative errno. */
int journal_open_segment(uint64_t n);
/* Room reserved on disk for need bytes past what the segment will hold: 0, -ENOSPC or -EIO. */
int journal_reserve(uint64_t need);
/* What durable changes are refused with now (0: none), why, and the log lines about it. */
int journal_refusal(void);
const char *journal_refusal_reason(void);
void journal_log_refusals(bool force);
void journal_refusal_update(void);
/* A record may have been lost: refuse changes until a snapshot. */
void journal_lose(void);
/* Write the buffered records, then let the held replies go (or stall). */
void journal_commit(void);
void journal_commit_cb(evutil_socket_t fd, short what, void *arg);
/* Commit at the end of this pass of the loop. */
void journal_schedule_commit(void);

/* journal-sync.c: the everysec sync thread */
/* Sync what was written so far: in the thread, or here without one. */
void journal_sync_start(void);
/* Join the thread and take its last result. */
void journal_syncer_stop(void);

/* journal-snapshot.c: snapshots and compaction */
/* Write "snapshot" from the objects as they are, covering segments <= covers. */
int journal_write_snapshot(uint64_t covers, pid_t parent);
/* Delete the segments a new snapshot covers. */
void journal_drop_segments(uint64_t covers);
/* Start a compaction child when the segment grew past compact_size, or to resynchronise. */
void journal_maybe_compact(void);
/* server.c's SIGCHLD: the compaction child exited. */
void journal_child_exit(pid_t pid, int status);
/* Stop a compaction child that is still running and reap it. */
void journal_stop_child(void);

/* journal-recover.c: reading back at start */
/* Load the snapshot and replay later segments; *ret_last is the highest segment number seen. */
int journal_recover(uint64_t *ret_last);
