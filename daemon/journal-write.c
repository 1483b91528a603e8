/* SPDX-License-Identifier: MIT */
/*
 * The journal's writer (see journal.c for the records and the files):
 * segments, room on disk, the refusal of changes, and the commit.
 *
 * Commit. A reply that depends on a record must not leave before the record
 * is written: while records wait in the buffer, the clients they answer are
 * held (client_hold) instead of flushed. The first record of a pass of the
 * loop schedules one commit for every client served until it runs, which
 * then share one write and, under sync "always", one fdatasync(); then the
 * held clients are flushed, and requests that arrive meanwhile form the
 * next batch. When the commit runs depends on the policy:
 *
 *  - "everysec" and "no": at the end of the pass. The event is made active
 *    (event_active), and libevent runs it after the callbacks the pass had
 *    already made active: every client whose request the pass read. The
 *    replies do not wait for the disk (journal-sync.c syncs once a second,
 *    or the kernel writes back when it likes), and a zero-timeout timer
 *    would fire only after one more epoll_wait(): for a lone client, one
 *    system call in five of each durable put.
 *  - "always": in the next pass, at that zero-timeout timer, so that the
 *    requests its epoll_wait() finds join the batch. An fdatasync() costs
 *    far more than the system call, and with 16 clients the batches that
 *    one pass alone reads made a fifth fewer puts a second.
 *
 * Objects that are not durable never reach the journal, and a client that
 * changed none is never held.
 *
 * Room. Before a request changes a durable object, journal_admit (journal.c)
 * asks journal_reserve for room on disk, reserved with fallocate(), so that
 * the write of an admitted change cannot fail for want of room; when there
 * is none, or a write failed, or records were lost, changes are refused and
 * the log says so (journal_refusal_update).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "journal-internal.h"
#include "log.h"
#include "mpxd.h"
#include "wire.h"

/* A segment's room on disk grows by this much at a time (at most compact_size). */
#define PREALLOC_CHUNK (UINT64_C(1) << 20)
/* At most the size of a segment's header record. */
#define HEADER_ROOM 64u
/* Refused changes are counted in the log at most this often. */
#define REFUSAL_LOG_MS 10000

/* Write buffered records to fd; 0 or a negative errno. */
int journal_write_all(int fd, const uint8_t *p, size_t len) {
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

/* ---- segments ---- */

/* The name of segment n: "journal.7". */
void journal_segment_name(char *buf, size_t size, uint64_t n) {
        snprintf(buf, size, "journal.%" PRIu64, n);
}

/* The body of a header record after its kind. */
int journal_put_header_body(struct wire_buf *b, uint64_t number) {
        return wire_put_str(b, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) | wire_put_u32(b, JOURNAL_FORMAT) |
               wire_put_u64(b, number);
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
        wire_patch_u32(&b, 4, journal_crc32(b.data + RECORD_PREFIX, len));
        r = journal_write_all(journal.fd, b.data, b.len);
        if (r == 0) {
                journal.segment_bytes += b.len;
                journal.unsynced += b.len;
                journal.written += b.len;
                journal.header_pending = false;
        }
        wire_buf_done(&b);
        return r;
}

void journal_fsync_dir(void) {
        if (fsync(journal.dir_fd) < 0)
                log_warning("journal: cannot fsync %s: %s", journal.dir, strerror(errno));
}

/* A record may have been lost (out of memory, a failed fdatasync): refuse changes until a snapshot. */
void journal_lose(void) {
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
int journal_open_segment(uint64_t n) {
        char name[64];
        int fd;

        journal_segment_name(name, sizeof(name), n);
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
int journal_reserve(uint64_t need) {
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
const char *journal_refusal_reason(void) {
        if (journal.stalled)
                return "a write of the journal failed; it is tried again every second";
        if (journal.lost_pending)
                return "records were lost; waiting for a snapshot of the durable objects";
        return journal.disk_error == -ENOSPC ? "no room on the journal's filesystem" : "the journal's filesystem fails";
}

/* What durable changes are refused with now, or 0. */
int journal_refusal(void) {
        if (journal.stalled)
                return journal.stalled;
        return journal.lost_pending ? -EIO : journal.disk_error;
}

/* Log how many changes were refused since the last line: once every REFUSAL_LOG_MS at most. */
void journal_log_refusals(bool force) {
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
void journal_refusal_update(void) {
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

/* ---- the commit ---- */

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
        r = journal_write_all(journal.fd, b->data, b->len);
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
void journal_commit(void) {
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

void journal_commit_cb(evutil_socket_t fd, short what, void *arg) {
        journal.commit_scheduled = false;
        journal_commit();
}

void journal_schedule_commit(void) {
        static const struct timeval now = { 0, 0 };

        /* A stalled commit is tried again once a second, not at every pass of the loop. */
        if (!journal.ev_commit || journal.stalled || journal.commit_scheduled)
                return;
        if (journal.sync != JOURNAL_SYNC_ALWAYS)
                event_active(journal.ev_commit, EV_TIMEOUT, 0);
        else if (evtimer_add(journal.ev_commit, &now) < 0)
                /* Not scheduled (out of memory for libevent's timer heap): the next record tries again. */
                return;
        journal.commit_scheduled = true;
}
