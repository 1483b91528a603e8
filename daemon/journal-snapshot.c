/* SPDX-License-Identifier: MIT */
/*
 * The journal's snapshots. When the current segment passes compact_size, it
 * is closed, N+1 opened, and a forked child writes "snapshot.tmp" from its
 * copy-on-write image of the objects, fsyncs it and renames it to
 * "snapshot"; the daemon goes on serving and deletes segments <= N once the
 * child exited with success. The child runs nicer than the daemon, so that
 * its CPU goes to the loop first. After records were lost the same
 * compaction writes memory out whole. A clean shutdown compacts the same
 * way without forking.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal-internal.h"
#include "log.h"
#include "mpxd.h"

/* After a failed compaction, wait this long before trying again. */
#define COMPACT_RETRY_MS 10000
/* How much nicer than the daemon the compaction child runs. */
#define COMPACT_NICE 10

/* Append the header record of a file to the buffer (the snapshot's). */
static int journal_put_header(uint64_t number) {
        struct wire_buf *b = journal_begin(NULL, JOURNAL_HEADER);

        if (!b)
                return -ENOMEM;
        journal_end(journal_put_header_body(b, number));
        return 0;
}

/*
 * Write "snapshot" from the objects as they are: covers is the last segment
 * whose records it includes. Runs in the compaction child (parent is the
 * daemon's pid), or in the daemon at shutdown (parent 0). 0 or a negative
 * errno.
 */
int journal_write_snapshot(uint64_t covers, pid_t parent) {
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
                r = journal_write_all(fd, journal.buf.data, journal.buf.len);
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
void journal_drop_segments(uint64_t covers) {
        struct stat st;
        char name[64];

        for (uint64_t n = covers; n > 0; n--) {
                journal_segment_name(name, sizeof(name), n);
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
void journal_child_exit(pid_t pid, int status) {
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

/*
 * In the compaction child: give way to the daemon and its clients. Writing
 * a snapshot is all CPU until the disk, for as long as the durable objects
 * take to dump; at the daemon's own priority the child took its share of a
 * CPU the loop needed, and the loop's p99 rose with every compaction. Ten
 * steps of nice leave it about a tenth of a CPU that others keep busy, and
 * all of an idle one: it finishes anyway, and the next compaction waits for
 * it as before (one child at a time), the journal growing past
 * compact_size a while longer. A process may always lower its priority;
 * should it fail all the same, the child runs as it is.
 */
static void journal_child_yield(void) {
        int prio;

        errno = 0;
        prio = getpriority(PRIO_PROCESS, 0);
        if (errno == 0)
                (void) setpriority(PRIO_PROCESS, 0, prio + COMPACT_NICE);
}

/* Start a compaction child when the current segment grew past compact_size, or to resynchronise. */
void journal_maybe_compact(void) {
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
                journal_child_yield();
                _exit(journal_write_snapshot(covers, parent) == 0 ? 0 : 1);
        }
        journal.child = pid;
        journal.child_segment = covers;
        journal.child_resyncs = journal.resync;
        journal.child_losses = journal.losses;
        journal.resync = false;
        log_debug("journal: compacting journal.%" PRIu64 " and before in process %ld", covers, (long) pid);
}

/* Stop a compaction child that is still running and reap it. */
void journal_stop_child(void) {
        int status;

        if (!journal.child)
                return;
        kill(journal.child, SIGKILL);
        while (waitpid(journal.child, &status, 0) < 0 && errno == EINTR)
                ;
        journal.child = 0;
        (void) unlinkat(journal.dir_fd, "snapshot.tmp", 0);
}
