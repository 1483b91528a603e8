/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the recovery of durable objects (daemon/journal.c): each input
 * becomes the files of a durability directory, mpxd starts on it
 * (journal_open reads the snapshot and the segments back into objects),
 * stops with a compaction (journal_close(true) writes a new snapshot of
 * what was recovered), and starts and stops again on that snapshot alone.
 * The second snapshot must hold the same records as the first: what mpxd
 * writes, it reads back to the same state. LeakSanitizer and a count of
 * open descriptors check that each round frees everything.
 *
 * An input is a layout byte, then records:
 *      u32 length      bytes of kind and body; bit 31: give the record a
 *                      wrong crc; bit 30: the record starts the next file
 *      u16 kind        enum journal_kind
 *      body
 * The harness writes each record as the journal does (u32 length, u32
 * crc32, kind, body), so that the fuzzer need not compute checksums; a last
 * record longer than the input is written cut short, as a torn write is.
 * The first file is "snapshot" when bit 0 of the layout byte is set, else
 * "journal.1"; each record with bit 30 starts the next segment,
 * "journal.2" and so on, up to MAX_FILES.
 *
 * The length of a value or an array in a CREATE record is cut to 12 bits on
 * the way, as the daemon harness does for ARRAY_DECLARE: each array is a
 * fully allocated memfd of up to 1 GiB. The journal's own code is not
 * changed. The files live in a directory of their own under /dev/shm (or
 * TMPDIR), removed at exit. With FUZZ_TRACE set in the environment the
 * journal logs what it recovered and what it skipped.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "configfile.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "fuzz.h"
#include "fuzz-support.h"

#define MAX_FILES               8
#define RECORD_BAD_CRC          (UINT32_C(1) << 31)
#define RECORD_NEXT_FILE        (UINT32_C(1) << 30)
#define ARRAY_LENGTH_MAX        0x0fffu
#define LAYOUT_SNAPSHOT_FIRST   0x01u

static char dir[FUZZ_DIR_MAX];

static _Noreturn void fuzz_fail(const char *what) {
        fprintf(stderr, "fuzz-journal: %s\n", what);
        abort();
}

/* A CREATE record of a value or an array: cut its length (u64 b) to 12 bits. */
static void cap_array_length(uint8_t *body, size_t len) {
        size_t at;

        if (len < 1)
                return;
        at = 1 + (size_t) body[0];      /* after the name: u8 type, u64 a, u64 b */
        if (len < at + 1 + 16 || (body[at] != WIRE_TYPE_VALUE && body[at] != WIRE_TYPE_ARRAY))
                return;
        at += 1 + 8;
        body[at + 1] &= ARRAY_LENGTH_MAX >> 8;
        memset(body + at + 2, 0, 6);
}

static void write_all_or_fail(int fd, const void *p, size_t len) {
        if (len && write(fd, p, len) != (ssize_t) len)
                fuzz_fail("cannot write a journal file");
}

static int open_file(unsigned n, bool snapshot_first) {
        char path[320];
        int fd;

        if (n == 0 && snapshot_first)
                snprintf(path, sizeof(path), "%s/snapshot", dir);
        else
                snprintf(path, sizeof(path), "%s/journal.%u", dir, snapshot_first ? n : n + 1);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
                fuzz_fail("cannot create a journal file");
        return fd;
}

/* Write the input's records as the journal's files. */
static void write_files(const uint8_t *data, size_t size) {
        static uint8_t record[1u << 16];
        bool snapshot_first = false;
        unsigned n = 0;
        int fd;

        if (size > 0) {
                snapshot_first = data[0] & LAYOUT_SNAPSHOT_FIRST;
                data++;
                size--;
        }
        fd = open_file(n, snapshot_first);
        while (size >= 4) {
                uint32_t word, len, crc;
                size_t have;
                uint8_t prefix[8];

                memcpy(&word, data, 4);
                word = le32toh(word);
                data += 4;
                size -= 4;
                len = word & ~(RECORD_BAD_CRC | RECORD_NEXT_FILE);
                have = len < size ? len : size;
                if (have > sizeof(record))
                        have = sizeof(record);
                memcpy(record, data, have);
                if (have >= 2 && (record[0] | record[1] << 8) == JOURNAL_CREATE)
                        cap_array_length(record + 2, have - 2);
                crc = (uint32_t) crc32(0, record, (uInt) have);
                if (word & RECORD_BAD_CRC)
                        crc = ~crc;
                if ((word & RECORD_NEXT_FILE) && n + 1 < MAX_FILES) {
                        close(fd);
                        fd = open_file(++n, snapshot_first);
                }
                word = htole32(len);
                crc = htole32(crc);
                memcpy(prefix, &word, 4);
                memcpy(prefix + 4, &crc, 4);
                write_all_or_fail(fd, prefix, sizeof(prefix));
                write_all_or_fail(fd, record, have);
                data += have;
                size -= have;
        }
        close(fd);
}

/* Start on the directory, stop with a compaction, and return the records of the snapshot written. */
static uint8_t *run_daemon(size_t *ret_size) {
        struct config *c;

        if (mpxd_init() < 0)
                fuzz_fail("mpxd_init failed");
        c = fuzz_journal_start(dir);
        journal_close(true);
        config_free(c);
        object_delete_all(-ESHUTDOWN);
        mpxd_done();
        if (mpxd.n_users != 0 || mpxd.bytes_held != 0)
                fuzz_fail("bytes or users are still charged after every object went away");
        return fuzz_snapshot_records(dir, ret_size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *first, *second;
        size_t first_size, second_size;
        int fds_before;

        if (!dir[0]) {
                /* FUZZ_TRACE: the journal's own log says what was recovered and what was skipped. */
                log_set_level(getenv("FUZZ_TRACE") ? LOG_LEVEL_INFO : LOG_LEVEL_ERR);
                fuzz_dir_make(dir, "mpx-fuzz-journal");
        }
        fds_before = fuzz_count_open_fds();
        fuzz_dir_clean(dir);
        write_files(data, size);
        first = run_daemon(&first_size);
        /* The snapshot alone now: the segments it covers were deleted. */
        second = run_daemon(&second_size);
        if (first_size != second_size || memcmp(first, second, first_size) != 0)
                fuzz_fail("what was recovered from a snapshot does not write the same snapshot");
        free(first);
        free(second);
        if (fuzz_count_open_fds() != fds_before)
                fuzz_fail("a descriptor was left open");
        return 0;
}
