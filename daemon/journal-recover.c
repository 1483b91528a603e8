/* SPDX-License-Identifier: MIT */
/*
 * Reading the journal back when mpxd starts: the snapshot, then every later
 * segment in order, each record's crc checked. A record cut short or whose
 * crc does not match ends its file: the file is truncated there, and the
 * log says how many bytes of which file were dropped. Queue items carry a
 * sequence number, so that items handed out and not done come back in
 * their places.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "dict.h"
#include "journal-internal.h"
#include "list.h"
#include "log.h"
#include "mpxd.h"
#include "queue.h"
#include "sem.h"

/* The largest record accepted when reading: an array image of 1 GiB and its name. */
#define RECORD_MAX ((UINT32_C(1) << 30) + 1024)

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
                    journal_crc32(map + off + RECORD_PREFIX, len) != crc)
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
int journal_recover(uint64_t *ret_last) {
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

                journal_segment_name(name, sizeof(name), segments[i]);
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
