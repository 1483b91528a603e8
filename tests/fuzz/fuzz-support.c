/* SPDX-License-Identifier: MIT */
/*
 * What the harnesses of the daemon share (see fuzz-support.h). Any failure
 * here is the harness's own and aborts with a message.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configfile.h"
#include "journal.h"
#include "fuzz-support.h"

#define MAX_DIRS 4

static char made[MAX_DIRS][FUZZ_DIR_MAX];
static size_t n_made;

static _Noreturn void fail(const char *what) {
        fprintf(stderr, "fuzz: %s\n", what);
        abort();
}

void fuzz_dir_clean(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *e;

        if (!d)
                return;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        (void) unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
}

static void remove_made(void) {
        for (size_t i = 0; i < n_made; i++) {
                fuzz_dir_clean(made[i]);
                (void) rmdir(made[i]);
        }
}

void fuzz_dir_make(char dir[FUZZ_DIR_MAX], const char *prefix) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

        if (n_made == MAX_DIRS)
                fail("too many temporary directories");
        snprintf(dir, FUZZ_DIR_MAX, "%s/%s.XXXXXX", base, prefix);
        if (!mkdtemp(dir))
                fail("cannot make a temporary directory");
        memcpy(made[n_made], dir, FUZZ_DIR_MAX);
        if (n_made++ == 0)
                atexit(remove_made);
}

/* The whole of a file; NULL if it does not exist. */
static uint8_t *read_whole(const char *path, size_t *ret_size) {
        struct stat st;
        uint8_t *p;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return NULL;
        if (fstat(fd, &st) < 0)
                fail("cannot stat a journal file");
        p = malloc(st.st_size ? (size_t) st.st_size : 1);
        if (!p || read(fd, p, (size_t) st.st_size) != st.st_size)
                fail("cannot read a journal file");
        close(fd);
        *ret_size = (size_t) st.st_size;
        return p;
}

void fuzz_dir_copy_segments(const char *from, const char *to) {
        DIR *d = opendir(from);
        struct dirent *e;

        if (!d)
                fail("cannot list the durability directory");
        while ((e = readdir(d))) {
                char path[FUZZ_DIR_MAX + 300];
                uint8_t *p;
                size_t size;
                int fd;

                if (strncmp(e->d_name, "journal.", 8) != 0)
                        continue;
                snprintf(path, sizeof(path), "%s/%s", from, e->d_name);
                p = read_whole(path, &size);
                if (!p)
                        fail("a segment vanished");
                snprintf(path, sizeof(path), "%s/%s", to, e->d_name);
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || (size && write(fd, p, size) != (ssize_t) size))
                        fail("cannot copy a segment");
                close(fd);
                free(p);
        }
        closedir(d);
}

struct config *fuzz_journal_start(const char *dir) {
        struct config *c = config_new();
        int r;

        if (!c || !(c->durability_dir = strdup(dir)))
                fail("out of memory");
        c->durability_sync = JOURNAL_SYNC_NO;
        r = journal_open(c);
        if (r < 0) {
                fprintf(stderr, "fuzz: journal_open: %s\n", strerror(-r));
                fail("the journal could not be started");
        }
        return c;
}

uint8_t *fuzz_snapshot_records(const char *dir, size_t *ret_size) {
        char path[FUZZ_DIR_MAX + 16];
        uint32_t header_len;
        uint8_t *p;
        size_t size;

        snprintf(path, sizeof(path), "%s/snapshot", dir);
        p = read_whole(path, &size);
        if (!p)
                fail("no snapshot after a compaction");
        if (size < 8)
                fail("a snapshot without its header");
        memcpy(&header_len, p, 4);
        header_len = le32toh(header_len);
        if ((uint64_t) header_len + 8 > size)
                fail("a snapshot with a torn header");
        *ret_size = size - 8 - header_len;
        memmove(p, p + 8 + header_len, *ret_size);
        return p;
}

int fuzz_count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        if (!d)
                return -1;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}
