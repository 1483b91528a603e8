/* SPDX-License-Identifier: MIT */
/*
 * Durable objects: an append-only journal of their changes, compacted into a
 * snapshot, and read back when mpxd starts.
 *
 * Records. Every change of a durable object is one record, appended to an
 * in-memory buffer while the request is handled:
 *
 *      u32 length      bytes after the crc field (kind and body)
 *      u32 crc32       zlib's crc32 of those bytes
 *      u16 kind        enum journal_kind
 *      body            the object's name (wire "name"), then what the kind says
 *
 * Each type writes and reads the bodies of its own kinds (object_type dump
 * and replay); this file frames them, writes them, and reads them back.
 *
 * Commit. A reply that depends on a record must not leave before the record
 * is written: while records wait in the buffer, the clients they answer are
 * held (client_hold) instead of flushed. One zero-timeout timer, added with
 * the first record of a loop iteration, writes the buffer; libevent runs
 * expired timers after the I/O callbacks of the same iteration, so every
 * client served in the iteration shares one write and, under sync "always",
 * one fdatasync(). Requests that arrive meanwhile form the next batch. Then
 * the held clients are flushed. Under "everysec" replies do not wait for
 * the disk: once a second, when bytes were written since, a timer hands a
 * dup() of the current segment's descriptor to one background thread,
 * which calls fdatasync(), closes its dup and writes the result to a pipe
 * the loop watches; the loop counts it and, on failure, refuses changes
 * until a snapshot (journal_lose). One sync at a time: a second that finds
 * one still running leaves the new bytes to the next. The loop itself
 * still syncs the segment a rotation closes, and at shutdown, after the
 * thread has finished and been joined. Under "no" the kernel writes back
 * when it likes. Objects that are not durable never reach this file, and a
 * client that changed none is never held.
 *
 * Files, in the configured directory: "journal.N" segments, numbered from 1,
 * and "snapshot", which recreates every durable object as it was when
 * segment N was closed. Each file starts with a header record. When the
 * current segment passes compact_size, it is closed, N+1 opened, and a
 * forked child writes "snapshot.tmp" from its copy-on-write image of the
 * objects, fsyncs it and renames it to "snapshot"; the daemon goes on
 * serving and deletes segments <= N once the child exited with success.
 * A clean shutdown compacts the same way without forking. A "lock" file,
 * flock()ed, keeps two daemons (which may have different sockets, or none
 * of their own under socket activation) out of one directory.
 *
 * Recovery: the snapshot, then every later segment in order, each record's
 * crc checked. A record cut short or whose crc does not match ends its file:
 * the file is truncated there, and the log says how many bytes of which file
 * were dropped. Queue items carry a sequence number, so that items handed
 * out and not done come back in their places.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "array.h"
#include "client.h"
#include "configfile.h"
#include "dict.h"
#include "journal.h"
#include "list.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "queue.h"
#include "sem.h"
#include "server.h"
#include "wire.h"

/* Bytes of a record before its kind: u32 length, u32 crc. */
#define RECORD_PREFIX 8u
/* The largest record accepted when reading: an array image of 1 GiB and its name. */
#define RECORD_MAX ((UINT32_C(1) << 30) + 1024)
/* Write the snapshot out whenever this much of it is buffered. */
#define SNAPSHOT_CHUNK (1u << 20)
/* A segment's room on disk grows by this much at a time (at most compact_size). */
#define PREALLOC_CHUNK (UINT64_C(1) << 20)
/* Room kept past every admitted change, for records no request asked for (redeliveries, undos, timeouts). */
#define JOURNAL_RESERVE (UINT64_C(64) << 10)
/* What a change may record beyond its request's body: framing, the name again, sequence numbers. */
#define RECORD_ROOM 512u
/* At most the size of a segment's header record. */
#define HEADER_ROOM 64u
/* Refused changes are counted in the log at most this often. */
#define REFUSAL_LOG_MS 10000
/* After a failed compaction, wait this long before trying again. */
#define COMPACT_RETRY_MS 10000
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

        struct event *ev_commit;        /* zero timeout: the end of this iteration */
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

static struct journal journal = JOURNAL_INIT;

bool journal_replies_held;
uint64_t journal_appended;
unsigned journal_fail_countdown;
int journal_reserve_fails;
int journal_sync_fails;

static const char *const sync_names[] = {
        [JOURNAL_SYNC_ALWAYS] = "always",
        [JOURNAL_SYNC_EVERYSEC] = "everysec",
        [JOURNAL_SYNC_NO] = "no",
};

int journal_sync_from_string(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(sync_names); i++)
                if (strcmp(s, sync_names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

const char *journal_sync_to_string(enum journal_sync sync) {
        return (size_t) sync < ARRAY_SIZE(sync_names) ? sync_names[sync] : NULL;
}

bool journal_enabled(void) {
        return journal.enabled;
}

bool journal_replaying(void) {
        return journal.replaying;
}

void journal_touch_slow(void) {
        /* A reply that shows a change not yet written waits for it, as a reply that made one does. */
        if (journal.buf.len > 0)
                journal_replies_held = true;
}

/* ---- building records ---- */

struct wire_buf *journal_begin(const struct object *o, uint16_t kind) {
        struct wire_buf *b = &journal.buf;

        if (!journal.enabled || journal.replaying)
                return NULL;
        journal.record_start = b->len;
        if ((journal_fail_countdown && --journal_fail_countdown == 0) || wire_put_u32(b, 0) < 0 || wire_put_u32(b, 0) < 0 || wire_put_u16(b, kind) < 0 ||
            (o && wire_put_name(b, o->name, o->name_len) < 0)) {
                journal_end(-ENOMEM);
                return NULL;
        }
        return b;
}

/* Write buffered records to fd; 0 or a negative errno. */
static int write_all(int fd, const uint8_t *p, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, p, len);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                len -= (size_t) n;
        }
        return 0;
}

static void journal_schedule_commit(void);

void journal_end(int err) {
        struct wire_buf *b = &journal.buf;
        size_t start = journal.record_start;
        uint32_t len;

        if (err < 0) {
                b->len = start;
                journal.lost = true;
                if (!journal.dumping) {
                        /* The reply waits for the commit, which sees lost and drops its client unacknowledged. */
                        journal_replies_held = true;
                        log_err("journal: out of memory for a record; the changes of this batch will not be "
                                "acknowledged");
                        journal_schedule_commit();
                }
                return;
        }
        len = (uint32_t) (b->len - start - RECORD_PREFIX);
        wire_patch_u32(b, start, len);
        wire_patch_u32(b, start + 4, (uint32_t) crc32(0, b->data + start + RECORD_PREFIX, len));
        journal.records++;
        if (journal.dumping) {
                if (b->len >= SNAPSHOT_CHUNK && journal.snapshot_fd >= 0) {
                        if (write_all(journal.snapshot_fd, b->data, b->len) < 0)
                                journal.lost = true;
                        b->len = 0;
                }
                return;
        }
        journal_appended++;
        journal_replies_held = true;
        journal_schedule_commit();
}

int journal_create(const struct object *o, uint64_t a, uint64_t b_, uint32_t flags) {
        struct wire_buf *b = journal_begin(o, JOURNAL_CREATE);

        if (!b)
                return 0;
        journal_end(wire_put_u8(b, o->ops->type) | wire_put_u64(b, a) | wire_put_u64(b, b_) |
                    wire_put_u32(b, flags));
        return 0;
}

void journal_delete(struct object *o) {
        if (o->durable && journal_begin(o, JOURNAL_DELETE))
                journal_end(0);
        if (o->durable && o->ops->checkpoint && journal.n_durable_arrays > 0)
                journal.n_durable_arrays--;
}

void journal_owner_slow(const struct object *o) {
        struct wire_buf *b = journal_begin(o, JOURNAL_OWNER);

        if (b)
                journal_end(wire_put_u32(b, (uint32_t) o->uid) | wire_put_u32(b, (uint32_t) o->gid) |
                            wire_put_u16(b, o->mode));
}

/* The records that recreate an object: its type's, then its owner, group and mode. */
static int journal_dump_object(struct object *o) {
        int r = o->ops->dump(o);

        journal_owner(o);
        return r;
}

/* ---- declaring ---- */

int journal_declare_check(const char *name, size_t len, uint32_t flags, uint32_t need) {
        static uint64_t logged_ms;
        uint64_t now;

        if (!(flags & WIRE_DECLARE_DURABLE) && !(journal.enabled && journal.durable_default))
                return 0;
        if (journal.enabled)
                /* Creating a durable object records it: there must be room for that first. */
                return object_find(name, len) ? 0 : journal_admit_slow(need);
        /* One line per ten seconds at most: a client looping on declare must not flood the log. */
        now = now_ms();
        if (!logged_ms || now - logged_ms >= 10000) {
                logged_ms = now;
                log_warning("a durable object was declared, but no durability.directory is configured; "
                            "refusing it with EINVAL");
        }
        return -EINVAL;
}

int journal_declared(const char *name, size_t len, int created, uint32_t flags) {
        if (created < 0)
                return created;
        return journal_declared_object(object_find(name, len), created, flags);
}

int journal_declared_object(struct object *o, int created, uint32_t flags) {
        bool durable = (flags & WIRE_DECLARE_DURABLE) || (journal.enabled && journal.durable_default);

        if (created < 0)
                return created;
        if (!o)
                return -ENOENT;
        if (created == 0) {
                /* The object may have been created by records not written yet. */
                journal_touch(o);
                return o->durable == durable ? 0 : -EEXIST;
        }
        if (!durable)
                return created;
        o->durable = true;
        if (o->ops->checkpoint)
                journal.n_durable_arrays++;
        if (journal.enabled && !journal.replaying && journal_dump_object(o) < 0) {
                journal.lost = true;
                journal_replies_held = true;
                journal_schedule_commit();
        }
        return created;
}

/* ---- writing ---- */

/* The name of segment n: "journal.7". */
static void segment_name(char *buf, size_t size, uint64_t n) {
        snprintf(buf, size, "journal.%" PRIu64, n);
}

/* The body of a header record after its kind. */
static int journal_put_header_body(struct wire_buf *b, uint64_t number) {
        return wire_put_str(b, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) | wire_put_u32(b, JOURNAL_FORMAT) |
               wire_put_u64(b, number);
}

/* Append the header record of a file to the buffer (the snapshot's). */
static int journal_put_header(uint64_t number) {
        struct wire_buf *b = journal_begin(NULL, JOURNAL_HEADER);

        if (!b)
                return -ENOMEM;
        journal_end(journal_put_header_body(b, number));
        return 0;
}

/*
 * Write the current segment's header record, framed here rather than in
 * the buffer: no reply depends on it, and it must precede whatever the
 * buffer holds, records kept from a failed write included.
 */
static int journal_write_header(void) {
        struct wire_buf b;
        uint32_t len;
        int r;

        wire_buf_init(&b);
        if (wire_put_u32(&b, 0) < 0 || wire_put_u32(&b, 0) < 0 || wire_put_u16(&b, JOURNAL_HEADER) < 0 ||
            journal_put_header_body(&b, journal.segment) < 0) {
                wire_buf_done(&b);
                return -ENOMEM;
        }
        len = (uint32_t) (b.len - RECORD_PREFIX);
        wire_patch_u32(&b, 0, len);
        wire_patch_u32(&b, 4, (uint32_t) crc32(0, b.data + RECORD_PREFIX, len));
        r = write_all(journal.fd, b.data, b.len);
        if (r == 0) {
                journal.segment_bytes += b.len;
                journal.unsynced += b.len;
                journal.written += b.len;
                journal.header_pending = false;
        }
        wire_buf_done(&b);
        return r;
}

static void journal_fsync_dir(void) {
        if (fsync(journal.dir_fd) < 0)
                log_warning("journal: cannot fsync %s: %s", journal.dir, strerror(errno));
}

/* A record may have been lost (out of memory, a failed fdatasync): refuse changes until a snapshot. */
static void journal_refusal_update(void);

static void journal_lose(void) {
        journal.resync = true;
        journal.lost_pending = true;
        journal.losses++;
        journal_refusal_update();
}

/* Give back the room reserved past the end of a segment that is closed. */
static void journal_release_reserve(int fd, uint64_t size, uint64_t allocated) {
        if (allocated > size)
                (void) fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) size,
                                 (off_t) (allocated - size));
}

/* Open segment n, empty, and make its name durable; its header goes out with the next commit. */
static int journal_open_segment(uint64_t n) {
        char name[64];
        int fd;

        segment_name(name, sizeof(name), n);
        fd = openat(journal.dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
                int err = -errno;
                log_err("journal: cannot create %s/%s: %s", journal.dir, name, strerror(-err));
                return err;
        }
        journal_fsync_dir();
        if (journal.fd >= 0) {
                /*
                 * Under everysec the once-a-second sync would only ever see
                 * the new segment. This one is synced here, in the loop:
                 * rotations are rare (one per compact_size) and fork a
                 * compaction child just after, which costs more; and the
                 * sync thread, which may be syncing this segment too, is
                 * never handed two requests at once. Its dup shares this
                 * open file, whose writeback error is reported once: to
                 * whichever sync asks first, and both refuse changes.
                 */
                if (journal.sync != JOURNAL_SYNC_NO && journal.unsynced > 0) {
                        if (fdatasync(journal.fd) < 0) {
                                log_err("journal: fdatasync of journal.%" PRIu64 " failed: %s", journal.segment,
                                        strerror(errno));
                                journal_lose();
                        }
                        journal.fsyncs++;
                        journal.unsynced = 0;
                }
                journal_release_reserve(journal.fd, journal.segment_bytes, journal.allocated);
                journal.older_bytes += journal.segment_bytes;
                close(journal.fd);
        }
        journal.fd = fd;
        journal.segment = n;
        journal.segment_bytes = 0;
        journal.allocated = 0;
        journal.header_pending = true;
        journal.segment_spoiled = false;
        return 0;
}

/* ---- room on disk ---- */

/* The bytes the current segment will hold once the buffer is written. */
static uint64_t journal_end_offset(void) {
        return journal.segment_bytes + (journal.header_pending ? HEADER_ROOM : 0) + journal.buf.len;
}

/* Try to reserve len more bytes of the current segment: 0, or a negative errno (-EOPNOTSUPP: it cannot). */
static int journal_fallocate(uint64_t len) {
        while (fallocate(journal.fd, FALLOC_FL_KEEP_SIZE, (off_t) journal.allocated, (off_t) len) < 0)
                if (errno != EINTR)
                        return errno == ENOSYS ? -EOPNOTSUPP : -errno;
        journal.allocated += len;
        return 0;
}

/*
 * Make sure the current segment has room reserved on disk for need bytes
 * past what it will hold, so that writing them cannot fail for want of
 * room: 0, -ENOSPC, or -EIO for any other failure. The reserve grows by
 * PREALLOC_CHUNK (at most compact_size) at a time, or by just what is
 * needed when the disk has no more. A failure is remembered (disk_error)
 * until a reservation succeeds. A filesystem without fallocate() reserves
 * nothing: there a full disk is only learnt from a failed write, which
 * stalls the commit.
 */
static int journal_reserve(uint64_t need) {
        uint64_t chunk = journal.compact_size < PREALLOC_CHUNK ? journal.compact_size : PREALLOC_CHUNK;
        uint64_t upto = journal_end_offset() + need, more;
        int r;

        if (journal.fd < 0)
                return -EIO;
        /* Tests: a full disk whose reserve is used up, whatever this segment reserved already. */
        r = journal_reserve_fails;
        if (r == 0 && (upto <= journal.allocated || journal.no_fallocate))
                return 0;
        more = upto - journal.allocated;
        if (r == 0 && (r = journal_fallocate(more < chunk ? chunk : more)) == -ENOSPC && more < chunk)
                r = journal_fallocate(more);
        if (r == -EOPNOTSUPP) {
                journal.no_fallocate = true;
                log_notice("journal: %s cannot reserve room for records; a full disk will hold replies back "
                           "until a write succeeds", journal.dir);
                return 0;
        }
        if (r < 0) {
                journal.disk_error = r == -ENOSPC || r == -EDQUOT ? -ENOSPC : -EIO;
                journal.disk_error_need = need;
                return journal.disk_error;
        }
        journal.disk_error = 0;
        return 0;
}

/* Why durable changes are refused, for the log and STATS. */
static const char *journal_refusal_reason(void) {
        if (journal.stalled)
                return "a write of the journal failed; it is tried again every second";
        if (journal.lost_pending)
                return "records were lost; waiting for a snapshot of the durable objects";
        return journal.disk_error == -ENOSPC ? "no room on the journal's filesystem" : "the journal's filesystem fails";
}

/* What durable changes are refused with now, or 0. */
static int journal_refusal(void) {
        if (journal.stalled)
                return journal.stalled;
        return journal.lost_pending ? -EIO : journal.disk_error;
}

/* Log how many changes were refused since the last line: once every REFUSAL_LOG_MS at most. */
static void journal_log_refusals(bool force) {
        uint64_t now = now_ms(), n = journal.refused - journal.refused_logged;

        if (n == 0 || (!force && now - journal.refusal_logged_ms < REFUSAL_LOG_MS))
                return;
        log_warning("journal: %" PRIu64 " durable change%s refused in the last %" PRIu64 " s (%s)", n,
                    n == 1 ? "" : "s", (now - journal.refusal_logged_ms + 500) / 1000,
                    journal.refusing ? journal_refusal_reason() : "since resolved");
        journal.refused_logged = journal.refused;
        journal.refusal_logged_ms = now;
}

/*
 * Follow journal_refusal(): the log says when refusals start and end, at
 * most once every REFUSAL_LOG_MS (a disk on the edge of full must not fill
 * the log), and how many there were in between.
 */
static void journal_refusal_update(void) {
        int err = journal_refusal();
        uint64_t now;

        if (err == journal.refusing)
                return;
        now = now_ms();
        if (err && !journal.refusing) {
                journal.refusing_since_ms = now;
                if (now - journal.transition_logged_ms >= REFUSAL_LOG_MS || !journal.transition_logged_ms) {
                        log_err("journal: %s: %s; durable changes are refused with %s until it can be written "
                                "again", journal.dir, journal_refusal_reason(), strerrorname_np(-err));
                        journal.transition_logged_ms = journal.refusal_logged_ms = now;
                        journal.refused_logged = journal.refused;
                        journal.refusal_announced = true;
                }
        } else if (!err && journal.refusing) {
                journal_log_refusals(true);
                if (journal.refusal_announced)
                        log_notice("journal: %s can be written again after %.1f s; durable changes are accepted",
                                   journal.dir, (double) (now - journal.refusing_since_ms) / 1000);
                journal.refusal_announced = false;
                journal.transition_logged_ms = now;
        }
        journal.refusing = err;
}

int journal_admit_slow(size_t need) {
        int r;

        if (!journal.enabled || journal.replaying)
                return 0;
        r = journal_refusal();
        /* What fits in room reserved already is safe even while the disk is full. */
        if (!journal.stalled && !journal.lost_pending)
                r = journal_reserve(need + RECORD_ROOM + JOURNAL_RESERVE);
        journal_refusal_update();
        if (r < 0) {
                journal.refused++;
                journal_log_refusals(false);
        }
        return r;
}

bool journal_has_room(size_t need) {
        bool room = !journal.stalled && !journal.lost_pending &&
                    journal_reserve(need + RECORD_ROOM + JOURNAL_RESERVE) == 0;

        journal_refusal_update();
        return room;
}

/* ---- writing ---- */

static void journal_maybe_compact(void);

/* Give the held replies their way out, or drop their clients when their records were not written. */
static void journal_release(bool written) {
        journal_replies_held = false;
        client_release_held(written);
}

/*
 * After a failed write or fdatasync(): cut the segment back to before the
 * batch, so that the batch can be written again whole. When it cannot be
 * cut, the rest goes to a new segment; recovery ends this one at the first
 * record that does not check. Returns err.
 */
static int journal_cut_back(uint64_t before, int err) {
        uint64_t cut = journal.segment_bytes - before;

        if (ftruncate(journal.fd, (off_t) before) < 0) {
                log_err("journal: cannot cut journal.%" PRIu64 " back: %s; records go on in journal.%" PRIu64,
                        journal.segment, strerror(errno), journal.segment + 1);
                journal.segment_spoiled = true;
        }
        journal.written -= cut;
        /* What was written before the batch and not yet synced still is not. */
        journal.unsynced -= cut < journal.unsynced ? cut : journal.unsynced;
        journal.segment_bytes = before;
        if (before == 0)
                journal.header_pending = true;
        return err;
}

/*
 * Write the current segment's header if it is not yet, then the buffered
 * records, into room reserved first, and fdatasync() them under "always".
 * 0, or a negative errno after which the segment is as before the batch.
 */
static int journal_write_batch(void) {
        struct wire_buf *b = &journal.buf;
        uint64_t before;
        int r;

        if (journal.segment_spoiled && (r = journal_open_segment(journal.segment + 1)) < 0)
                return r;
        before = journal.segment_bytes;
        r = journal_reserve(0);
        if (r < 0)
                return r;
        if (journal.header_pending && (r = journal_write_header()) < 0)
                return journal_cut_back(before, r);
        r = write_all(journal.fd, b->data, b->len);
        if (r < 0)
                return journal_cut_back(before, r);
        journal.segment_bytes += b->len;
        journal.unsynced += b->len;
        journal.written += b->len;
        if (journal.sync == JOURNAL_SYNC_ALWAYS) {
                journal.fsyncs++;
                /* After a failed writeback Linux marks the pages clean: write the batch again. */
                if (fdatasync(journal.fd) < 0)
                        return journal_cut_back(before, -errno);
                journal.unsynced = 0;
        }
        return 0;
}

/*
 * A batch could not be written: keep its records and its held replies, try
 * again every second (journal_second_cb), and refuse durable changes until
 * a write succeeds. Nothing is acknowledged that is not written, nothing
 * that was changed is undone, and no client is dropped.
 */
static void journal_stall(int err) {
        int refusal = err == -ENOSPC || err == -EDQUOT || err == -EFBIG ? -ENOSPC : -EIO;

        if (!journal.stalled) {
                log_err("journal: cannot write %" PRIu64 " bytes to %s/journal.%" PRIu64 ": %s; the replies that "
                        "wait for them are held until a write succeeds (tried every second)",
                        journal_end_offset() - journal.segment_bytes, journal.dir, journal.segment, strerror(-err));
        }
        journal.stalled = refusal;
        journal_refusal_update();
        journal_replies_held = false;
}

/*
 * Write the buffered records, fdatasync() them under "always", then let the
 * held replies go, or, if they cannot be written, stall (journal_stall). A
 * batch with a record lost to a lack of memory drops the clients it holds,
 * unacknowledged: their changes are in memory, not in the journal, until
 * the snapshot that follows puts the journal back in step.
 */
static void journal_commit(void) {
        struct wire_buf *b = &journal.buf;
        bool ok = !journal.lost;

        if ((b->len > 0 || journal.header_pending) && journal.fd >= 0) {
                int r = journal_write_batch();

                if (r < 0) {
                        journal_stall(r);
                        return;
                }
        }
        if (journal.stalled) {
                log_notice("journal: %s/journal.%" PRIu64 " written again; the held replies go out",
                           journal.dir, journal.segment);
                journal.stalled = 0;
                journal_refusal_update();
        }
        b->len = 0;
        if (b->cap > SNAPSHOT_CHUNK)
                wire_buf_done(b);
        if (journal.lost)
                journal_lose();
        journal.lost = false;
        /*
         * Rotate before the release, which clears journal_replies_held: the
         * new segment's header holds no reply.
         */
        journal_maybe_compact();
        journal_release(ok);
}

static void journal_commit_cb(evutil_socket_t fd, short what, void *arg) {
        journal_commit();
}

static void journal_schedule_commit(void) {
        static const struct timeval now = { 0, 0 };

        /* A stalled commit is tried again once a second, not at every pass of the loop. */
        if (journal.ev_commit && !journal.stalled && !evtimer_pending(journal.ev_commit, NULL))
                evtimer_add(journal.ev_commit, &now);
}

/* ---- the everysec sync thread ---- */

/* What the loop hands the thread: a descriptor of its own to sync and close. */
struct sync_request {
        int fd;                         /* a dup() of the segment: a rotation or close meanwhile cannot race */
        int fail;                       /* tests: report this negative errno instead (journal_sync_fails) */
};

struct syncer_pipes {
        int requests, results;
};

/* Read or write len bytes of a pipe, again after a signal; false at EOF or on an error. */
static bool pipe_transfer(int fd, void *p, size_t len, bool writing) {
        ssize_t n;

        do
                n = writing ? write(fd, p, len) : read(fd, p, len);
        while (n < 0 && errno == EINTR);
        /* Requests and results are far below PIPE_BUF: they go through whole or not at all. */
        return n == (ssize_t) len;
}

/*
 * The thread: one fdatasync() per request, its result back to the loop. It
 * touches nothing of the daemon but the descriptors it is given, and ends
 * when the loop closes the requests' pipe.
 */
static void *journal_syncer_main(void *arg) {
        struct syncer_pipes pipes = *(struct syncer_pipes *) arg;
        struct sync_request req;

        free(arg);
        while (pipe_transfer(pipes.requests, &req, sizeof(req), false)) {
                int r = fdatasync(req.fd) < 0 ? -errno : 0;

                close(req.fd);
                if (req.fail)
                        r = req.fail;
                if (!pipe_transfer(pipes.results, &r, sizeof(r), true))
                        break;
        }
        close(pipes.requests);
        close(pipes.results);
        return NULL;
}

/*
 * An everysec fdatasync() of segment ended with r (0 or a negative errno).
 * After a failed writeback Linux marks the pages clean: what it held may
 * never reach the disk, so everything is written out again in a snapshot.
 */
static void journal_sync_done(int r, uint64_t segment) {
        journal.fsyncs++;
        if (r < 0) {
                log_warning("journal: fdatasync of journal.%" PRIu64 " failed: %s; changes are refused until a "
                            "snapshot is written", segment, strerror(-r));
                journal_lose();
                /*
                 * The commit starts the snapshot (journal_maybe_compact)
                 * once what is buffered is written; without one now it
                 * would wait for a change, and changes are refused.
                 */
                journal_schedule_commit();
        }
}

/* The thread's results: the sync is over, the next second may start another. */
static void journal_synced_cb(evutil_socket_t fd, short what, void *arg) {
        int r;

        while (pipe_transfer(journal.sync_results, &r, sizeof(r), false)) {
                if (!journal.syncing)
                        continue;
                journal.syncing = false;
                journal_sync_done(r, journal.syncing_segment);
        }
}

/*
 * Start the thread with its two pipes. Every signal is blocked in it: they
 * are the loop's to handle (libevent's handler writes to the loop's socket).
 */
static int journal_syncer_start(void) {
        int req[2] = { -1, -1 }, res[2] = { -1, -1 }, r = -ENOMEM;
        struct syncer_pipes *pipes = NULL;
        sigset_t all, old;

        if (pipe2(req, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        (void) fcntl(res[0], F_SETFL, O_NONBLOCK);
        journal.ev_synced = event_new(mpxd.base, res[0], EV_READ | EV_PERSIST, journal_synced_cb, NULL);
        pipes = malloc(sizeof(*pipes));
        if (!journal.ev_synced || !pipes || event_add(journal.ev_synced, NULL) < 0)
                goto fail;
        *pipes = (struct syncer_pipes) { .requests = req[0], .results = res[1] };
        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        r = -pthread_create(&journal.syncer, NULL, journal_syncer_main, pipes);
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r < 0)
                goto fail;
        journal.syncer_running = true;
        journal.sync_requests = req[1];
        journal.sync_results = res[0];
        return 0;
fail:
        log_warning("journal: cannot start the sync thread: %s; everysec syncs run in the loop", strerror(-r));
        if (journal.ev_synced)
                event_free(journal.ev_synced);
        journal.ev_synced = NULL;
        free(pipes);
        for (int i = 0; i < 2; i++) {
                if (req[i] >= 0)
                        close(req[i]);
                if (res[i] >= 0)
                        close(res[i]);
        }
        journal.syncer_failed = true;
        return r;
}

/*
 * Stop the thread: it finishes the sync it is running, if any, and sees
 * the requests' pipe closed. Its last result is taken here.
 */
static void journal_syncer_stop(void) {
        if (!journal.syncer_running)
                return;
        close(journal.sync_requests);
        journal.sync_requests = -1;
        (void) pthread_join(journal.syncer, NULL);
        journal.syncer_running = false;
        journal_synced_cb(journal.sync_results, EV_READ, NULL);
        /* A result that could not be read: the sync is over all the same, and maybe failed. */
        if (journal.syncing) {
                journal.syncing = false;
                journal_sync_done(-EIO, journal.syncing_segment);
        }
        event_free(journal.ev_synced);
        journal.ev_synced = NULL;
        close(journal.sync_results);
        journal.sync_results = -1;
}

/*
 * Under everysec: the bytes written so far go to the thread, which syncs a
 * dup() of the current segment while the loop goes on. Without a thread
 * (it could not be started, or the journal is closing) the sync runs here.
 */
static void journal_sync_start(void) {
        struct sync_request req = { .fd = -1, .fail = journal_sync_fails };

        if (!journal.closing && !journal.syncer_failed && (journal.syncer_running || journal_syncer_start() == 0)) {
                req.fd = fcntl(journal.fd, F_DUPFD_CLOEXEC, 0);
                if (req.fd >= 0 && pipe_transfer(journal.sync_requests, &req, sizeof(req), true)) {
                        journal.syncing = true;
                        journal.syncing_segment = journal.segment;
                        journal.unsynced = 0;
                        return;
                }
                if (req.fd >= 0)
                        close(req.fd);
        }
        journal_sync_done(fdatasync(journal.fd) < 0 ? -errno : req.fail, journal.segment);
        journal.unsynced = 0;
}

/* Once a second: a stalled commit again, fdatasync() under "everysec", images of arrays written through mappings. */
static void journal_second_cb(evutil_socket_t fd, short what, void *arg) {
        if (journal.stalled)
                journal_commit();
        /* Is the room back? STATS and the log say so without waiting for the next change. */
        else if (journal.disk_error && journal_reserve(journal.disk_error_need) == 0)
                journal.disk_error = 0;
        journal_refusal_update();
        if (journal.n_durable_arrays > 0) {
                struct object *o;

                TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                        if (o->durable && o->ops->checkpoint)
                                o->ops->checkpoint(o);
        }
        /* A sync still running is not doubled: what was written since waits for the next second. */
        if (journal.sync == JOURNAL_SYNC_EVERYSEC && journal.unsynced > 0 && journal.fd >= 0 && !journal.syncing)
                journal_sync_start();
}

/* ---- snapshots ---- */

/*
 * Write "snapshot" from the objects as they are: covers is the last segment
 * whose records it includes. Runs in the compaction child (parent is the
 * daemon's pid), or in the daemon at shutdown (parent 0). 0 or a negative
 * errno.
 */
static int journal_write_snapshot(uint64_t covers, pid_t parent) {
        struct wire_buf saved = journal.buf;
        struct object *o;
        int fd, r = 0;

        fd = openat(journal.dir_fd, "snapshot.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        wire_buf_init(&journal.buf);
        journal.dumping = true;
        journal.lost = false;
        journal.snapshot_fd = fd;
        if (journal_put_header(covers) < 0)
                journal.lost = true;
        TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                if (o->durable && journal_dump_object(o) < 0)
                        journal.lost = true;
        if (!journal.lost)
                r = write_all(fd, journal.buf.data, journal.buf.len);
        if (journal.lost && r == 0)
                r = -ENOMEM;
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        /* A compaction child whose daemon died must not replace the snapshot of the next one. */
        if (r == 0 && parent && getppid() != parent)
                r = -ESRCH;
        if (r == 0 && renameat(journal.dir_fd, "snapshot.tmp", journal.dir_fd, "snapshot") < 0)
                r = -errno;
        if (r == 0)
                journal_fsync_dir();
        wire_buf_done(&journal.buf);
        journal.buf = saved;
        journal.dumping = false;
        journal.lost = false;
        journal.snapshot_fd = -1;
        return r;
}

/* Delete the segments a new snapshot covers. */
static void journal_drop_segments(uint64_t covers) {
        struct stat st;
        char name[64];

        for (uint64_t n = covers; n > 0; n--) {
                segment_name(name, sizeof(name), n);
                if (fstatat(journal.dir_fd, name, &st, 0) < 0)
                        break;
                if (unlinkat(journal.dir_fd, name, 0) < 0)
                        log_warning("journal: cannot delete %s/%s: %s", journal.dir, name, strerror(errno));
        }
        journal.older_bytes = 0;
        if (fstatat(journal.dir_fd, "snapshot", &st, 0) == 0)
                journal.snapshot_bytes = (uint64_t) st.st_size;
        journal_fsync_dir();
}

/* The compaction child exited: keep its snapshot and drop what it covers, or try again later. */
static void journal_child_exit(pid_t pid, int status) {
        if (pid != journal.child || pid == 0)
                return;
        journal.child = 0;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                journal_drop_segments(journal.child_segment);
                journal.compactions++;
                /* Its snapshot holds every change made before it started, those whose records were lost too. */
                if (journal.lost_pending && journal.child_losses == journal.losses) {
                        journal.lost_pending = false;
                        journal_refusal_update();
                }
                journal.last_compaction_ms = now_ms();
                log_info("journal compacted: the snapshot covers journal.%" PRIu64 " and before (%" PRIu64
                         " bytes)", journal.child_segment, journal.snapshot_bytes);
                return;
        }
        journal.retry_ms = now_ms() + COMPACT_RETRY_MS;
        journal.resync |= journal.child_resyncs;
        log_warning("journal: compaction failed (%s %d); the journal is kept and compaction is tried again in %d s",
                    WIFEXITED(status) ? "exit status" : "signal",
                    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), COMPACT_RETRY_MS / 1000);
}

/*
 * In the compaction child: close every descriptor but stdio and the
 * directory's, so that the clients' sockets, the listening socket and the
 * pipes the daemon closes while the child runs really end (their peers see
 * EOF), and the child holds no memfd alive.
 */
static void journal_child_close_fds(void) {
        int keep = journal.dir_fd;

        if (close_range(3, (unsigned) keep - 1, 0) == 0 && close_range((unsigned) keep + 1, ~0u, 0) == 0)
                return;
        /* A kernel before 5.9 has no close_range(). */
        for (int fd = 3, max = (int) sysconf(_SC_OPEN_MAX); fd < max; fd++)
                if (fd != keep)
                        (void) close(fd);
}

/* Start a compaction child when the current segment grew past compact_size, or to resynchronise. */
static void journal_maybe_compact(void) {
        uint64_t covers = journal.segment;
        pid_t parent, pid;

        if (journal.child || (journal.segment_bytes < journal.compact_size && !journal.resync) ||
            journal.fd < 0 || now_ms() < journal.retry_ms)
                return;
        /* New records go to the next segment; the snapshot covers this one and before. */
        if (journal_open_segment(covers + 1) < 0) {
                journal.retry_ms = now_ms() + COMPACT_RETRY_MS;
                return;
        }
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                log_warning("journal: cannot fork to compact: %s", strerror(errno));
                journal.retry_ms = now_ms() + COMPACT_RETRY_MS;
                return;
        }
        if (pid == 0) {
                /*
                 * The child reads the objects and writes one file; it never
                 * touches the loop or a socket. It dies with the daemon and
                 * lets go of the directory's lock at once, so that a daemon
                 * started after a crash never finds the lock held by it.
                 */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(journal.lock_fd);
                if (getppid() != parent)
                        _exit(2);
                journal_child_close_fds();
                _exit(journal_write_snapshot(covers, parent) == 0 ? 0 : 1);
        }
        journal.child = pid;
        journal.child_segment = covers;
        journal.child_resyncs = journal.resync;
        journal.child_losses = journal.losses;
        journal.resync = false;
        log_debug("journal: compacting journal.%" PRIu64 " and before in process %ld", covers, (long) pid);
}

/* ---- reading back ---- */

/* The state of one file being read. */
struct journal_file {
        const char *name;
        uint64_t number;                /* from its header */
        uint64_t applied, skipped;
};

/* Apply one record (crc already checked); a record that makes no sense is logged and skipped. */
static int journal_apply(struct journal_file *jf, uint16_t kind, const uint8_t *body, size_t len) {
        struct wire_reader r;
        struct object *o;
        const char *name;
        size_t name_len;

        wire_reader_init(&r, body, len);
        if (kind == JOURNAL_HEADER) {
                const char *magic;
                uint16_t magic_len;
                uint32_t format;

                if (!wire_get_str(&r, &magic, &magic_len) || !wire_get_u32(&r, &format) ||
                    !wire_get_u64(&r, &jf->number) || magic_len != strlen(JOURNAL_MAGIC) ||
                    memcmp(magic, JOURNAL_MAGIC, magic_len) != 0 || format < JOURNAL_FORMAT_OLDEST ||
                    format > JOURNAL_FORMAT)
                        return -EBADMSG;
                return 0;
        }
        if (!wire_get_name(&r, &name, &name_len))
                return -EBADMSG;
        o = object_find(name, name_len);
        if (kind == JOURNAL_CREATE) {
                uint8_t type;
                uint64_t a, b;
                uint32_t flags;
                int created;

                if (!wire_get_u8(&r, &type) || !wire_get_u64(&r, &a) || !wire_get_u64(&r, &b) ||
                    !wire_get_u32(&r, &flags) || !wire_reader_done(&r))
                        return -EBADMSG;
                if (o)
                        object_delete(o, -EIDRM);
                switch (type) {
                case WIRE_TYPE_QUEUE:
                case WIRE_TYPE_JOINABLE:
                        /* b: the TTR of its deliveries, 0 before there were leases. */
                        created = queue_declare_lease(name, name_len, a, type == WIRE_TYPE_JOINABLE, (int64_t) b);
                        break;
                case WIRE_TYPE_DICT:
                        created = dict_declare(name, name_len);
                        break;
                case WIRE_TYPE_LIST:
                        created = list_declare(name, name_len);
                        break;
                case WIRE_TYPE_SEMAPHORE:
                        created = sem_declare(name, name_len, a, b, flags);
                        break;
                case WIRE_TYPE_VALUE:
                case WIRE_TYPE_ARRAY:
                        created = array_declare(name, name_len, (char) a, (uint32_t) b, flags, NULL);
                        break;
                default:
                        return -EBADMSG;
                }
                if (created < 0)
                        return created;
                return journal_declared(name, name_len, created, WIRE_DECLARE_DURABLE) < 0 ? -EBADMSG : 0;
        }
        if (!o || !o->durable)
                return -ENOENT;
        if (kind == JOURNAL_DELETE) {
                object_delete(o, -EIDRM);
                return 0;
        }
        if (kind == JOURNAL_OWNER) {
                uint32_t uid, gid;
                uint16_t mode;

                if (!wire_get_u32(&r, &uid) || !wire_get_u32(&r, &gid) || !wire_get_u16(&r, &mode) ||
                    !wire_reader_done(&r))
                        return -EBADMSG;
                o->uid = (uid_t) uid;
                o->gid = (gid_t) gid;
                o->mode = mode;
                return 0;
        }
        if (!o->ops->replay)
                return -EBADMSG;
        return o->ops->replay(o, kind, &r);
}

/*
 * Read one file's records into the objects. A record cut short or with a
 * crc that does not match ends the file: it is truncated there (when
 * truncate) and the loss is logged. Returns 0, or a negative errno when the
 * file cannot be read at all.
 */
static int journal_read_file(int dir_fd, const char *name, bool truncate, struct journal_file *jf) {
        struct stat st;
        uint8_t *map;
        size_t size, off = 0;
        int fd;

        fd = openat(dir_fd, name, (truncate ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                int err = -errno;
                if (fd >= 0)
                        close(fd);
                return err;
        }
        size = (size_t) st.st_size;
        map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
        if (size && map == MAP_FAILED) {
                int err = -errno;
                close(fd);
                return err;
        }
        while (size - off >= RECORD_PREFIX + 2) {
                uint32_t len, crc;
                uint16_t kind;
                int r;

                memcpy(&len, map + off, 4);
                memcpy(&crc, map + off + 4, 4);
                len = le32toh(len);
                crc = le32toh(crc);
                if (len < 2 || len > RECORD_MAX || len > size - off - RECORD_PREFIX ||
                    (uint32_t) crc32(0, map + off + RECORD_PREFIX, len) != crc)
                        break;
                memcpy(&kind, map + off + RECORD_PREFIX, 2);
                kind = le16toh(kind);
                if (off == 0 && kind != JOURNAL_HEADER)
                        break;
                r = journal_apply(jf, kind, map + off + RECORD_PREFIX + 2, len - 2);
                if (r < 0) {
                        jf->skipped++;
                        log_warning("journal: %s/%s: record of kind %u at offset %zu skipped: %s", journal.dir,
                                    name, kind, off, r == -EBADMSG ? "malformed" : strerror(-r));
                } else
                        jf->applied++;
                off += RECORD_PREFIX + len;
        }
        if (off < size) {
                log_warning("journal: %s/%s: dropped %zu bytes at offset %zu (a torn or corrupt record and "
                            "everything after it); %" PRIu64 " records before it were recovered", journal.dir,
                            name, size - off, off, jf->applied);
                if (truncate && (ftruncate(fd, (off_t) off) < 0 || fsync(fd) < 0))
                        log_warning("journal: cannot truncate %s/%s: %s", journal.dir, name, strerror(errno));
        }
        if (map)
                munmap(map, size);
        close(fd);
        return 0;
}

/* The segment numbers in the directory, sorted; *ret_n of them. */
static int journal_list_segments(uint64_t **ret, size_t *ret_n) {
        DIR *d = fdopendir(dup(journal.dir_fd));
        uint64_t *list = NULL;
        size_t n = 0, cap = 0;
        struct dirent *e;

        if (!d)
                return -errno;
        while ((e = readdir(d))) {
                char *end;
                uint64_t v;

                if (strncmp(e->d_name, "journal.", 8) != 0 || !e->d_name[8])
                        continue;
                errno = 0;
                v = strtoull(e->d_name + 8, &end, 10);
                if (*end || errno || v == 0)
                        continue;
                if (n == cap) {
                        uint64_t *grown = realloc(list, (cap ? cap * 2 : 16) * sizeof(*list));
                        if (!grown) {
                                free(list);
                                closedir(d);
                                return -ENOMEM;
                        }
                        list = grown;
                        cap = cap ? cap * 2 : 16;
                }
                list[n++] = v;
        }
        closedir(d);
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && list[j - 1] > list[j]; j--) {
                        uint64_t t = list[j];
                        list[j] = list[j - 1];
                        list[j - 1] = t;
                }
        *ret = list;
        *ret_n = n;
        return 0;
}

/* Load the snapshot and replay later segments; *ret_last is the highest segment number seen. */
static int journal_recover(uint64_t *ret_last) {
        struct journal_file snap = { .name = "snapshot" };
        uint64_t *segments = NULL, covers = 0, last = 0, records = 0;
        size_t n = 0;
        struct stat st;
        int r;

        journal.replaying = true;
        if (fstatat(journal.dir_fd, "snapshot", &st, 0) == 0) {
                r = journal_read_file(journal.dir_fd, "snapshot", true, &snap);
                if (r < 0) {
                        log_err("journal: cannot read %s/snapshot: %s", journal.dir, strerror(-r));
                        journal.replaying = false;
                        return r;
                }
                covers = last = snap.number;
                records += snap.applied;
                journal.snapshot_bytes = (uint64_t) st.st_size;
        }
        r = journal_list_segments(&segments, &n);
        if (r < 0) {
                journal.replaying = false;
                return r;
        }
        for (size_t i = 0; i < n; i++) {
                struct journal_file jf = { 0 };
                char name[64];

                segment_name(name, sizeof(name), segments[i]);
                jf.name = name;
                if (segments[i] > last)
                        last = segments[i];
                if (segments[i] <= covers) {
                        /* The snapshot has it: a compaction ended before it could delete it. */
                        (void) unlinkat(journal.dir_fd, name, 0);
                        continue;
                }
                r = journal_read_file(journal.dir_fd, name, true, &jf);
                if (r < 0) {
                        log_err("journal: cannot read %s/%s: %s", journal.dir, name, strerror(-r));
                        free(segments);
                        journal.replaying = false;
                        return r;
                }
                records += jf.applied;
                if (fstatat(journal.dir_fd, name, &st, 0) == 0)
                        journal.older_bytes += (uint64_t) st.st_size;
        }
        free(segments);
        journal.replaying = false;
        if (records > 0) {
                struct object *o;
                unsigned durable = 0;

                TAILQ_FOREACH(o, &mpxd.objects_ordered, link)
                        durable += o->durable;
                log_info("journal: %u durable object%s recovered from %s (%" PRIu64 " records)", durable,
                         durable == 1 ? "" : "s", journal.dir, records);
        }
        *ret_last = last;
        return 0;
}

/* ---- life cycle ---- */

/* Take the directory: create it if needed, lock it. */
static int journal_take_dir(const char *dir) {
        int fd;

        if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
                int err = -errno;
                log_err("journal: cannot create the directory %s: %s", dir, strerror(-err));
                return err;
        }
        journal.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (journal.dir_fd < 0) {
                int err = -errno;
                log_err("journal: cannot open the directory %s: %s", dir, strerror(-err));
                return err;
        }
        fd = openat(journal.dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0) {
                int err = -errno;
                log_err("journal: cannot lock %s/lock: %s", dir,
                        err == -EWOULDBLOCK ? "another mpxd uses this directory" : strerror(-err));
                if (fd >= 0)
                        close(fd);
                return err == -EWOULDBLOCK ? -EADDRINUSE : err;
        }
        journal.lock_fd = fd;
        return 0;
}

/* The settings a reload may change. */
static void journal_apply_settings(const struct config *c) {
        journal.sync = c->durability_sync;
        journal.durable_default = c->durability_default;
        journal.compact_size = c->compact_size;
}

void journal_configure(const struct config *c) {
        if (!journal.enabled && c->durability_dir)
                log_notice("durability.directory is set; durability starts when mpxd starts again, ignoring it "
                           "until then");
        else if (journal.enabled && c->durability_dir && strcmp(c->durability_dir, journal.dir) != 0)
                log_notice("durability.directory changed; it applies when mpxd starts again, ignoring it until then");
        else if (journal.enabled && !c->durability_dir)
                log_notice("durability.directory was removed; durability stays on until mpxd starts again");
        journal_apply_settings(c);
}

int journal_open(const struct config *c) {
        static const struct timeval second = { 1, 0 };
        static bool child_exit_registered;
        uint64_t last = 0;
        int r;

        journal_apply_settings(c);
        if (!c->durability_dir)
                return 0;
        journal.dir = strdup(c->durability_dir);
        if (!journal.dir)
                return -ENOMEM;
        r = journal_take_dir(journal.dir);
        if (r < 0)
                return r;
        /* Records go through journal_begin only once enabled; replay creates objects without recording. */
        journal.enabled = true;
        r = journal_recover(&last);
        if (r < 0)
                return r;
        r = journal_open_segment(last + 1);
        if (r < 0)
                return r;
        journal.ev_commit = evtimer_new(mpxd.base, journal_commit_cb, NULL);
        journal.ev_second = event_new(mpxd.base, -1, EV_PERSIST, journal_second_cb, NULL);
        if (!journal.ev_commit || !journal.ev_second || event_add(journal.ev_second, &second) < 0)
                return -ENOMEM;
        if (!child_exit_registered && server_on_child_exit(journal_child_exit) < 0)
                return -ENOSPC;
        child_exit_registered = true;
        journal_schedule_commit();
        log_info("journal: durable objects in %s, sync %s", journal.dir, journal_sync_to_string(journal.sync));
        return 0;
}

/* Stop a compaction child that is still running and reap it. */
static void journal_stop_child(void) {
        int status;

        if (!journal.child)
                return;
        kill(journal.child, SIGKILL);
        while (waitpid(journal.child, &status, 0) < 0 && errno == EINTR)
                ;
        journal.child = 0;
        (void) unlinkat(journal.dir_fd, "snapshot.tmp", 0);
}

void journal_close(bool compact) {
        if (!journal.enabled)
                return;
        /* No compaction child from here on: the snapshot is written below, or not at all. */
        journal.retry_ms = UINT64_MAX;
        journal_commit();
        journal_stop_child();
        /* The last syncs run here, after the thread's: one at a time, in order. */
        journal.closing = true;
        journal_syncer_stop();
        if (compact) {
                int r;

                /* Everything so far is in segments <= current; the snapshot replaces them all. */
                (void) journal_second_cb(-1, 0, NULL);
                journal_commit();
                r = journal_write_snapshot(journal.segment, 0);
                if (r == 0) {
                        journal_drop_segments(journal.segment);
                        journal.segment_bytes = 0;
                        log_info("journal: compacted into %s/snapshot (%" PRIu64 " bytes)", journal.dir,
                                 journal.snapshot_bytes);
                } else
                        log_err("journal: cannot write %s/snapshot at shutdown: %s; the journal is kept and "
                                "read at the next start", journal.dir, strerror(-r));
        } else if (journal.fd >= 0 && journal.unsynced > 0)
                (void) fdatasync(journal.fd);
        if (journal.fd >= 0)
                close(journal.fd);
        if (journal.ev_commit)
                event_free(journal.ev_commit);
        if (journal.ev_second)
                event_free(journal.ev_second);
        if (journal.dir_fd >= 0)
                close(journal.dir_fd);
        if (journal.lock_fd >= 0)
                close(journal.lock_fd);
        wire_buf_done(&journal.buf);
        free(journal.dir);
        journal = (struct journal) JOURNAL_INIT;
        journal_replies_held = false;
}

/* One word for STATS: ok, full (ENOSPC), failing (EIO), stalled (a write failed) or resyncing. */
static const char *journal_state(void) {
        if (journal.stalled)
                return "stalled";
        if (journal.lost_pending)
                return "resyncing";
        if (journal.disk_error)
                return journal.disk_error == -ENOSPC ? "full" : "failing";
        return "ok";
}

int journal_stats(struct wire_buf *b, struct wire_fields *f) {
        int err = 0;

        err |= wire_put_field_str(b, f, "durability", journal.enabled ? journal.dir : "off");
        if (!journal.enabled)
                return err;
        err |= wire_put_field_str(b, f, "journal_sync", journal_sync_to_string(journal.sync));
        err |= wire_put_field_str(b, f, "journal_state", journal_state());
        err |= wire_put_field_str(b, f, "journal_refusing", journal_refusal() ? journal_refusal_reason() : "");
        err |= wire_put_field_int(b, f, "journal_refused", (int64_t) journal.refused);
        err |= wire_put_field_int(b, f, "journal_bytes",
                                  (int64_t) (journal.older_bytes + journal.segment_bytes + journal.buf.len));
        err |= wire_put_field_int(b, f, "journal_snapshot_bytes", (int64_t) journal.snapshot_bytes);
        err |= wire_put_field_int(b, f, "journal_segment", (int64_t) journal.segment);
        err |= wire_put_field_int(b, f, "journal_records", (int64_t) journal.records);
        err |= wire_put_field_int(b, f, "journal_written_bytes", (int64_t) journal.written);
        err |= wire_put_field_int(b, f, "journal_fsyncs", (int64_t) journal.fsyncs);
        err |= wire_put_field_int(b, f, "journal_compactions", (int64_t) journal.compactions);
        err |= wire_put_field_int(b, f, "journal_compacting", journal.child != 0);
        err |= wire_put_field_int(b, f, "journal_last_compaction_ms",
                                  journal.last_compaction_ms ? (int64_t) (now_ms() - journal.last_compaction_ms) : -1);
        return err;
}
