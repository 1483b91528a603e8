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
 * and replay); the journal frames them, writes them, and reads them back.
 *
 * Files, in the configured directory: "journal.N" segments, numbered from 1,
 * and "snapshot", which recreates every durable object as it was when
 * segment N was closed. Each file starts with a header record. A "lock"
 * file, flock()ed, keeps two daemons (which may have different sockets, or
 * none of their own under socket activation) out of one directory.
 *
 * This file is what the types and the rest of mpxd call: building records,
 * declares, admitting changes, start, reload, stop and STATS, and the
 * once-a-second timer. The rest is in journal-write.c (segments, room on
 * disk, refusals, the commit), journal-sync.c (the everysec sync thread),
 * journal-snapshot.c (snapshots and the compaction child) and
 * journal-recover.c (reading back at start); journal-internal.h is what
 * they share.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "configfile.h"
#include "journal-internal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "server.h"
#include "wire.h"

/* Room kept past every admitted change, for records no request asked for (redeliveries, undos, timeouts). */
#define JOURNAL_RESERVE (UINT64_C(64) << 10)
/* What a change may record beyond its request's body: framing, the name again, sequence numbers. */
#define RECORD_ROOM 512u

struct journal journal = JOURNAL_INIT;
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

/* Records of this many bytes or more go to zlib's crc32(), the faster for long ones. */
#define CRC_SLICED_MAX 256u

/* crc_tables[k][b]: the crc of byte b followed by k zero bytes. */
static uint32_t crc_tables[8][256];
static bool crc_tables_ready;

static void journal_crc_init(void) {
        for (uint32_t b = 0; b < 256; b++) {
                uint32_t c = b;

                for (int i = 0; i < 8; i++)
                        c = c & 1 ? (c >> 1) ^ UINT32_C(0xedb88320) : c >> 1;
                crc_tables[0][b] = c;
        }
        for (int k = 1; k < 8; k++)
                for (int b = 0; b < 256; b++) {
                        uint32_t c = crc_tables[k - 1][b];

                        crc_tables[k][b] = (c >> 8) ^ crc_tables[0][c & 0xff];
                }
        crc_tables_ready = true;
}

/*
 * zlib's crc32() of len bytes, the same value. Most records are short (a
 * put of 64 bytes makes an 84-byte record), and there zlib's braided loop
 * spends more setting up and combining its braids than it saves: 80 ns
 * against 31 for 84 bytes. Eight bytes a step through eight tables
 * (slicing by eight) is the faster up to a few hundred bytes; longer
 * records, array images above all, go to zlib.
 */
uint32_t journal_crc32(const uint8_t *p, size_t len) {
        const uint32_t (*t)[256] = crc_tables;
        uint32_t crc = UINT32_C(0xffffffff);

        if (len >= CRC_SLICED_MAX)
                return (uint32_t) crc32_z(0, p, len);
        if (!crc_tables_ready)
                journal_crc_init();
        for (; len >= 8; p += 8, len -= 8) {
                uint64_t w;

                memcpy(&w, p, 8);
                w = le64toh(w) ^ crc;
                crc = t[7][w & 0xff] ^ t[6][(w >> 8) & 0xff] ^ t[5][(w >> 16) & 0xff] ^ t[4][(w >> 24) & 0xff] ^
                      t[3][(w >> 32) & 0xff] ^ t[2][(w >> 40) & 0xff] ^ t[1][(w >> 48) & 0xff] ^ t[0][w >> 56];
        }
        for (; len > 0; p++, len--)
                crc = (crc >> 8) ^ t[0][(crc ^ *p) & 0xff];
        return ~crc;
}

struct wire_buf *journal_begin(const struct object *o, uint16_t kind) {
        struct wire_buf *b = &journal.buf;

        if (!journal.enabled || journal.replaying)
                return NULL;
        journal.record_start = b->len;
        /* The name was checked when the object was declared: written as it is, u8 length first. */
        if ((journal_fail_countdown && --journal_fail_countdown == 0) || wire_put_u32(b, 0) < 0 || wire_put_u32(b, 0) < 0 || wire_put_u16(b, kind) < 0 ||
            (o && (wire_put_u8(b, (uint8_t) o->name_len) < 0 || wire_put_raw(b, o->name, o->name_len) < 0))) {
                journal_end(-ENOMEM);
                return NULL;
        }
        return b;
}

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
        wire_patch_u32(b, start + 4, journal_crc32(b->data + start + RECORD_PREFIX, len));
        journal.records++;
        if (journal.dumping) {
                if (b->len >= SNAPSHOT_CHUNK && journal.snapshot_fd >= 0) {
                        if (journal_write_all(journal.snapshot_fd, b->data, b->len) < 0)
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
int journal_dump_object(struct object *o) {
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

/* ---- admitting changes ---- */

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
        journal.ev_commit = event_new(mpxd.base, -1, 0, journal_commit_cb, NULL);
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
