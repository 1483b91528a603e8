/* SPDX-License-Identifier: MIT */
/*
 * The journal's everysec sync thread. Under sync "everysec" replies do not
 * wait for the disk: once a second, when bytes were written since, the
 * timer (journal.c) hands a dup() of the current segment's descriptor to
 * one background thread, which calls fdatasync(), closes its dup and writes
 * the result to a pipe the loop watches; the loop counts it and, on
 * failure, refuses changes until a snapshot (journal_lose). One sync at a
 * time: a second that finds one still running leaves the new bytes to the
 * next. The loop itself still syncs the segment a rotation closes
 * (journal-write.c), and at shutdown, after the thread has finished and
 * been joined.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "journal-internal.h"
#include "log.h"
#include "mpxd.h"

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
void journal_syncer_stop(void) {
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
void journal_sync_start(void) {
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
