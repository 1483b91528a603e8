/* SPDX-License-Identifier: MIT */
/*
 * libmpx: the C client library of mpx, the IPC broker.
 *
 * A connection (mpx) talks to the daemon mpxd over its AF_UNIX socket. Use one
 * connection per thread; a connection is not safe to share between threads
 * without a lock of your own.
 *
 * Every call returns a non-negative value on success and a negative errno code
 * on failure, in the style of libsystemd:
 *   -EAGAIN       a call with timeout 0 would have blocked
 *   -ETIMEDOUT    a positive timeout passed
 *   -ENOENT       no object of that name (or no such delivery tag)
 *   -EEXIST       the object exists with other parameters
 *   -EPROTOTYPE   the object exists with another type
 *   -EINVAL       a bad argument: a bad name, task_done called too often ...
 *   -EMSGSIZE     a payload larger than the daemon's limit (mpx_max_message)
 *   -EPIPE        the queue was closed (for getters: and is drained)
 *   -EIDRM        the object was deleted while the call waited
 *   -ESHUTDOWN    the daemon is stopping
 *   -ECONNRESET   the connection to the daemon is lost; disconnect and reconnect
 *   -ECANCELED    (asynchronous calls) ended by mpx_cancel() before it was served
 *   -ENOMEM, -ENOSPC, -EUSERS  the client or the daemon is out of memory or over a limit;
 *                 -ENOSPC also: a change of a durable object, and the disk of the
 *                 daemon's journal is full (nothing changed; try again later)
 *   -EIO          a change of a durable object, and the daemon's journal cannot be
 *                 written (nothing changed; try again later)
 *   -EPROTO       the daemon sent something this library does not understand
 *   -ERANGE       an index or value out of range
 *   -ENOTRECOVERABLE  a barrier is broken until reset
 *   -EOWNERDEAD   (mpx_sem_acquire only) NOT a failure: the unit is held, and a
 *                 previous holder died holding the semaphore
 * mpx_strerror() says it in words.
 *
 * Timeouts are in milliseconds: negative waits forever, 0 never blocks, positive
 * waits at most that long. They are enforced by the daemon.
 *
 * Object names are 1 to 255 bytes of [A-Za-z0-9._:/@-].
 */
#ifndef MPX_H
#define MPX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The system socket, used when neither a path nor $MPX_SOCKET is given. */
#define MPX_DEFAULT_SOCKET "/run/mpxd/mpxd.sock"

/* An open connection to mpxd. */
typedef struct mpx mpx;

/* The completion of an asynchronous call: see "asynchronous use" below. */
typedef void mpx_callback(mpx *m, int64_t result, void *userdata);

/*
 * mpx_connect() - connect to mpxd and agree the protocol version.
 * @path:  the daemon's socket; NULL means $MPX_SOCKET, else MPX_DEFAULT_SOCKET.
 * @ret:   on success, the new connection; untouched on failure.
 *
 * Return: 0, or -ENOENT / -ECONNREFUSED / -EACCES when no daemon can be reached
 * there, -ENAMETOOLONG for a path too long for a socket address, -EPROTO when
 * the daemon speaks another protocol version, -ENOMEM.
 */
int mpx_connect(const char *path, mpx **ret);

/*
 * mpx_connect_named() - as mpx_connect(), and tell the daemon a client name
 * (it appears in the daemon's log); NULL uses the program's name.
 */
int mpx_connect_named(const char *path, const char *client_name, mpx **ret);

/*
 * mpx_disconnect() - close a connection and free it. What the connection held
 * (undone deliveries of joinable queues) is given back by the daemon.
 * Accepts NULL. Return: NULL.
 */
mpx *mpx_disconnect(mpx *m);

/*
 * mpx_fd() - the connection's socket, for poll(); do not read or write it,
 * and do not change its flags (libmpx keeps it blocking and asks for
 * non-blocking steps with MSG_DONTWAIT).
 */
int mpx_fd(const mpx *m);

/* mpx_max_message() - the largest payload the daemon accepts, in bytes. */
size_t mpx_max_message(const mpx *m);

/*
 * mpx_strerror() - a message for a negative errno code returned by libmpx,
 * in the words of mpx where they differ from strerror(3). Never NULL; the
 * string is static.
 */
const char *mpx_strerror(int r);

/*
 * mpx_ping() - a round trip to the daemon. Return: 0 or a negative errno code.
 */
int mpx_ping(mpx *m);
int64_t mpx_ping_async(mpx *m, mpx_callback *cb, void *userdata);

/*
 * mpx_delete() - delete an object of any type. Everyone waiting on it gets
 * -EIDRM. Return: 0, -ENOENT, -EINVAL (bad name).
 */
int mpx_delete(mpx *m, const char *name);
int64_t mpx_delete_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_chmod() - set an object's mode, as chmod(2) does a file's: the read (4)
 * and write (2) bits for its owner, its group and everyone else, such as
 * 0660. Reading is get, peek, info and the like; writing is put, set,
 * release and the like. Deleting, purging, closing and chmod itself are the
 * owner's alone. Root, mpxd's own user and the configured admin group may do
 * everything. Only the owner or one of those may change the mode.
 * Return: 0, -ENOENT, -EACCES, -EINVAL (mode above 07777, bad name).
 */
int mpx_chmod(mpx *m, const char *name, unsigned mode);
int64_t mpx_chmod_async(mpx *m, const char *name, unsigned mode, mpx_callback *cb, void *userdata);

/*
 * mpx_chown() - give an object to another owner and group; (uid_t) -1 or
 * (gid_t) -1 leaves that one as it is. As chown(2): root, mpxd's own user
 * and the admin group may give it to anyone; its owner may only change its
 * group, to one of the owner's own groups.
 * Return: 0, -ENOENT, -EACCES, -EINVAL (bad name).
 */
int mpx_chown(mpx *m, const char *name, uid_t uid, gid_t gid);
int64_t mpx_chown_async(mpx *m, const char *name, uid_t uid, gid_t gid, mpx_callback *cb, void *userdata);

/*
 * mpx_ref() - take a reference to a counted object (MPX_COUNTED). With
 * lease_ms 0 it is held by this connection until mpx_unref() or until the
 * connection closes. Otherwise it is in transit: tied to no connection, it
 * ends when any connection passes its token to mpx_unref(), or by itself
 * after lease_ms (at most 86,400,000, a day). A handle on its way to another
 * process takes one, so that the object outlives its sender: the receiver
 * takes its own reference, then ends the one in transit.
 * @ret_token: the reference's token (never 0), or NULL.
 * Return: 0, -ENOENT, -EACCES, -EINVAL (the object is not counted, or the
 * lease is too long), -EUSERS (65,536 references held by this connection,
 * or in transit on the object), -ENOSPC (a reference counts against the
 * daemon's memory limits, charged to the uid that took it).
 */
int mpx_ref(mpx *m, const char *name, uint32_t lease_ms, uint64_t *ret_token);
int64_t mpx_ref_async(mpx *m, const char *name, uint32_t lease_ms, uint64_t *ret_token,
                      mpx_callback *cb, void *userdata);

/*
 * mpx_unref() - end a reference to a counted object: the one token names,
 * or with token 0 one this connection holds.
 * Return: 1 when it was the last and the object is deleted, 0 when the
 * object lives on, -ENOENT (no such object or reference), -EACCES, -EINVAL
 * (not counted).
 */
int mpx_unref(mpx *m, const char *name, uint64_t token);
int64_t mpx_unref_async(mpx *m, const char *name, uint64_t token, mpx_callback *cb, void *userdata);

/* ---- asynchronous use: many requests in flight, inside any event loop ---- */

/*
 * Every call that talks to the daemon has an asynchronous twin,
 * mpx_X_async(), taking the same arguments followed by a callback and its
 * userdata (all but mpx_connect(), mpx_disconnect() and mpx_worker_run(), a
 * loop of its own). It queues the request and returns at once with the
 * request's id (> 0), or with a negative errno code when nothing was queued
 * (a bad argument, -ECONNRESET on a lost connection). Later, once the reply
 * is in, the callback runs with exactly the result the synchronous call
 * returns, and what the synchronous call writes through its out pointers
 * (items, buffers, counts) has been written through the same pointers,
 * which must therefore stay valid until the callback runs. Arguments passed
 * in (names, payloads) are copied before mpx_X_async() returns.
 *
 * Three calls are several requests, each made once the one before is
 * answered: mpx_list_slice() (a page per reply frame), mpx_job_submit()
 * (declare the result queue, put the job) and mpx_job_wait() (take the
 * result, delete the result queue). Their callback runs once, at the end;
 * the id returned is the first request's, so mpx_cancel() reaches that one
 * only (for mpx_job_wait(), the wait for the result, which is the one that
 * blocks).
 *
 * Callbacks run inside mpx_process(), or inside any synchronous call made on
 * the same connection (which runs the connection while it waits), in the
 * thread that called it. A callback may make further calls, synchronous ones
 * included, cancel, and disconnect. Every request's callback runs exactly
 * once: with its result, or with -ECONNRESET when the connection is lost or
 * closed by mpx_disconnect() (which runs them before it returns), oldest
 * first. No callback runs after the connection is freed.
 *
 * Requests are answered in any order (a parked get waits while later
 * requests complete), and a blocking request and non-blocking ones may share
 * a connection. There are no timers in libmpx: every timeout is the
 * daemon's, so a loop needs only the descriptor and the events below.
 *
 * Threads: a connection belongs to one thread at a time. Use one connection
 * per thread, or hold a lock of your own around every call on it, callbacks
 * included (they run inside those calls).
 */
/*
 * mpx_events() - the poll(2) events the connection waits for: POLLIN, and
 * POLLOUT while requests are queued and not yet sent. 0 once it is lost.
 */
short mpx_events(const mpx *m);

/*
 * mpx_process() - do what the socket allows without blocking: send queued
 * requests, read the replies that have come, run their callbacks, and send
 * what the callbacks queued. Call it when poll(2) reports the events of
 * mpx_events() on mpx_fd(), level-triggered: it stops reading after a read
 * that did not fill its buffer, so that replies arriving meanwhile are left
 * for the next wake-up (an edge-triggered loop would miss them). Return: the number of requests completed, or
 * -ECONNRESET once the connection is lost (every pending request has then
 * completed with -ECONNRESET).
 */
int mpx_process(mpx *m);

/*
 * mpx_send() - send what is queued as far as the socket takes it now, and
 * read nothing: for a producer that makes asynchronous requests one after
 * another and reads their replies from time to time with mpx_process(),
 * one system call a request instead of three. What the socket does not take
 * stays queued (mpx_events() says POLLOUT). Return: 0, -EINVAL, or
 * -ECONNRESET once the connection is lost (every pending request has then
 * completed with -ECONNRESET, as in mpx_process()).
 */
int mpx_send(mpx *m);

/*
 * mpx_set_watch() - have fn called whenever the value of mpx_events()
 * changes (a request queued on an idle connection, everything sent, the
 * connection lost), so that a loop can add or drop its write interest; it is
 * called once at once with the current events. NULL stops it. mpx-libevent.h
 * uses it. Return: 0 or -EINVAL.
 */
typedef void mpx_watch_fn(mpx *m, short events, void *userdata);
int mpx_set_watch(mpx *m, mpx_watch_fn *fn, void *userdata);

/* mpx_pending() - the number of requests made and not yet completed. */
size_t mpx_pending(const mpx *m);

/*
 * mpx_cancel() - ask the daemon to end a request made with an mpx_X_async()
 * call that is still waiting there (a get on an empty queue, an acquire, a
 * wait ...). Its callback still runs exactly once: with -ECANCELED if the
 * daemon ended it, or with its ordinary result if it completed first. A get
 * never swallows an item: either the daemon took none (-ECANCELED), or the
 * item is handed to the callback as usual. A request that does not wait is
 * answered normally. A cancelled barrier wait withdraws its party without
 * breaking the barrier.
 * Return: 0 once the cancel is queued; -ENOENT when the request has already
 * completed (or is synchronous), -EINVAL, -ECONNRESET.
 */
int mpx_cancel(mpx *m, int64_t id);

/*
 * mpx_pipeline() - with on set, a synchronous put (mpx_queue_put(),
 * mpx_queue_put_many()) with a negative timeout returns 0 as soon as its
 * request is queued and sent as far as the socket takes it, without waiting
 * for the reply, as multiprocessing's Queue.put() returns before the item
 * reaches the pipe. Such a put still fails if the queue does not exist, is
 * closed, or a permission, memory or disk limit refuses it: the first such
 * failure is kept and returned, once, by the next pipelined put (which is
 * then not made) or by mpx_flush(). Puts with a timeout of 0 or more, and
 * every other call, still wait for their replies; their results are their
 * own. At most 4096 pipelined puts are in flight: the next one waits for
 * replies, so a put on a full bounded queue still blocks.
 * Return: 0 or -EINVAL.
 */
int mpx_pipeline(mpx *m, int on);

/*
 * mpx_pipeline_batch() - mpx_pipeline() whose puts are gathered: they are
 * written n at a time (or once 64 KiB wait), as stdio writes a fully
 * buffered stream, so that a producer loop costs one write per n puts. What
 * is gathered goes out at the latest at the next call of another kind on
 * the connection (any synchronous call, mpx_process()), at mpx_flush() and
 * at mpx_disconnect(): a program that stops calling the library with puts
 * gathered must call mpx_flush(), or they stay in its memory and no
 * consumer sees them. n 1 is mpx_pipeline(m, 1) (every put written at
 * once), n 0 turns pipelining off.
 * Return: 0, or -EINVAL (n above 4096).
 */
int mpx_pipeline_batch(mpx *m, unsigned n);

/*
 * mpx_flush() - send everything queued and wait until every pipelined put
 * has been answered, running callbacks that come due meanwhile.
 * Return: 0 when all of them succeeded; else the first failure not yet
 * reported (reported once); -ECONNRESET if the connection is lost.
 * mpx_disconnect() sends what is queued but does not wait for replies: call
 * mpx_flush() first to learn that every put landed.
 */
int mpx_flush(mpx *m);

/* ---- queues and joinable queues ---- */

/*
 * MPX_DURABLE, a flag of every declare that takes flags (queues, semaphores,
 * and the _flags variants for dicts, lists, values and arrays): the object's
 * changes are journaled and it comes back as it was when mpxd starts again
 * (see durability in mpxd.conf(5)). Declaring an existing object with the
 * other durability is -EEXIST; a daemon without durability.directory
 * answers -EINVAL.
 */
#define MPX_DURABLE             (1u << 31)

/*
 * MPX_COUNTED, a flag of every declare that takes flags (and of
 * mpx_event_declare_flags() and mpx_barrier_declare_flags()): the object is
 * counted. It lives while something refers to it and is deleted (its
 * waiters get -EIDRM) when the last reference ends, as the objects of
 * Python's managers live while a proxy does. A declare that creates it, or
 * finds it, takes a reference held by this connection; see mpx_ref().
 * Declaring an existing object that is not counted changes nothing (no
 * reference). Never with MPX_DURABLE (-EINVAL).
 */
#define MPX_COUNTED             (1u << 30)

/* Flags of mpx_queue_declare(). */
#define MPX_QUEUE_JOINABLE      (1u << 0)
/* The queue is deleted when the connection that created it closes (never durable). */
#define MPX_QUEUE_CONNECTION    (1u << 1)

/*
 * mpx_queue_declare() - create a queue, or check that it exists as asked.
 * @maxsize: the most items it holds (0: unbounded); a put on a full queue blocks.
 * @flags:   MPX_QUEUE_JOINABLE for a joinable queue (task_done and join);
 *           MPX_QUEUE_CONNECTION for a queue that this connection owns, if
 *           it creates it: it is deleted when the connection closes.
 *
 * Return: 1 if created, 0 if it already existed with the same type and
 * parameters, -EEXIST if it exists with another maxsize, -EPROTOTYPE if the
 * name belongs to an object of another type, -EINVAL for a bad name or flag.
 */
int mpx_queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags);
int64_t mpx_queue_declare_async(mpx *m, const char *name, uint64_t maxsize, unsigned flags, mpx_callback *cb,
                                void *userdata);

/*
 * mpx_queue_declare_ttr() - as mpx_queue_declare(), for a joinable queue whose
 * deliveries have a lease, a time-to-run of ttr_ms milliseconds (0: none, the
 * default): a delivery not done within it, nor extended by
 * mpx_queue_touch(), goes back to the head of the queue and is delivered
 * again with deliveries + 1, detached or not. The TTR is part of what must
 * match when the queue exists (-EEXIST otherwise); mpx_queue_declare()
 * accepts any. Return: as mpx_queue_declare(); -EINVAL for a TTR on a plain
 * queue.
 */
int mpx_queue_declare_ttr(mpx *m, const char *name, uint64_t maxsize, unsigned flags, uint32_t ttr_ms);
int64_t mpx_queue_declare_ttr_async(mpx *m, const char *name, uint64_t maxsize, unsigned flags,
                                    uint32_t ttr_ms, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_put() - append one item (a copy of data) to a queue, waiting up to
 * timeout_ms for room when the queue is full.
 *
 * Return: 0, -EAGAIN (full, timeout 0), -ETIMEDOUT, -EPIPE (closed),
 * -EMSGSIZE (size over mpx_max_message()), -ENOENT, -EIDRM, -ESHUTDOWN.
 */
int mpx_queue_put(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms);
int64_t mpx_queue_put_async(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms,
                            mpx_callback *cb, void *userdata);

/*
 * mpx_queue_put_many() - append n items in one round trip, all or none: the
 * call waits until there is room for all of them, and they enter the queue
 * one after another. n larger than a non-zero maxsize gives -EINVAL.
 *
 * Return: 0, or as mpx_queue_put(); -EMSGSIZE also when the batch does not fit
 * in one frame.
 */
int mpx_queue_put_many(mpx *m, const char *name, const struct iovec *items, size_t n, int64_t timeout_ms);
int64_t mpx_queue_put_many_async(mpx *m, const char *name, const struct iovec *items, size_t n,
                                 int64_t timeout_ms, mpx_callback *cb, void *userdata);

/*
 * An item taken from a queue. data is allocated with malloc() and belongs to
 * the caller: release it with mpx_item_clear() (or free(data)).
 */
typedef struct mpx_item {
        void *data;
        size_t size;
        uint64_t tag;           /* delivery tag for mpx_queue_task_done(); 0 for a plain queue */
        uint32_t deliveries;    /* 1 the first time; more when the item was redelivered */
} mpx_item;

/* mpx_item_clear() - free an item's data and zero it. Accepts NULL. */
void mpx_item_clear(mpx_item *item);

/* Flags of mpx_queue_get_flags(). */
#define MPX_GET_DETACH          (1u << 0)       /* see mpx_queue_get_flags() */

/*
 * mpx_queue_get() - take the oldest item of a queue, waiting up to timeout_ms
 * for one. Getters are served strictly in the order they asked.
 *
 * For a joinable queue the item stays "unfinished" until
 * mpx_queue_task_done(); if this connection closes first, the item goes back
 * to the head of the queue and is delivered again with deliveries + 1.
 *
 * Return: 0 and *ret filled, -EAGAIN (empty, timeout 0), -ETIMEDOUT,
 * -EPIPE (closed and drained), -ENOENT, -EIDRM, -ESHUTDOWN. On failure *ret is
 * untouched.
 */
int mpx_queue_get(mpx *m, const char *name, int64_t timeout_ms, mpx_item *ret);
int64_t mpx_queue_get_async(mpx *m, const char *name, int64_t timeout_ms, mpx_item *ret, mpx_callback *cb,
                            void *userdata);

/*
 * mpx_queue_get_flags() - as mpx_queue_get(); with MPX_GET_DETACH a delivery
 * of a joinable queue is not tied to this connection: it is not redelivered
 * when the connection closes, and any connection may finish it, by tag or by
 * an untagged task_done, as with Python's JoinableQueue.
 */
int mpx_queue_get_flags(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret);
int64_t mpx_queue_get_flags_async(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret,
                                  mpx_callback *cb, void *userdata);

/*
 * mpx_queue_get_ttr() - as mpx_queue_get_flags(), with a lease of ttr_ms
 * milliseconds for this delivery instead of the queue's TTR (0: the queue's);
 * mpx_queue_touch() restarts it for as long again. Return: as
 * mpx_queue_get(); -EINVAL for a TTR on a plain queue.
 */
int mpx_queue_get_ttr(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, uint32_t ttr_ms, mpx_item *ret);
int64_t mpx_queue_get_ttr_async(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, uint32_t ttr_ms,
                                mpx_item *ret, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_get_many() - take up to max items in one round trip: waits up to
 * timeout_ms for at least one, then takes as many as are there (and fit in
 * one reply frame). items must have room for max entries.
 *
 * Return: the number of items taken (>= 1), or as mpx_queue_get().
 */
int mpx_queue_get_many(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms);
int64_t mpx_queue_get_many_async(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms,
                                 mpx_callback *cb, void *userdata);

/* What mpx_queue_stat() tells. */
typedef struct mpx_queue_status {
        uint64_t size;          /* items waiting in the queue */
        uint64_t maxsize;       /* 0: unbounded */
        uint64_t unfinished;    /* joinable: items put and not yet done (queued + delivered) */
        int closed;             /* 1 after mpx_queue_close() */
} mpx_queue_status;

/*
 * mpx_queue_touch() - restart the lease of a delivery not yet done: it now
 * ends its TTR (its get's, or the queue's) from now. Return: 0 (also on a queue without leases),
 * -ENOENT when the delivery is not there any more (done, or its lease ran
 * out and the item went back to the queue: the work is someone else's now),
 * -EPROTOTYPE for a plain queue.
 */
int mpx_queue_touch(mpx *m, const char *name, uint64_t tag);
int64_t mpx_queue_touch_async(mpx *m, const char *name, uint64_t tag, mpx_callback *cb, void *userdata);

/* mpx_queue_stat() - the queue's exact size and state. Return: 0, -ENOENT, -EPROTOTYPE. */
int mpx_queue_stat(mpx *m, const char *name, mpx_queue_status *ret);
int64_t mpx_queue_stat_async(mpx *m, const char *name, mpx_queue_status *ret, mpx_callback *cb,
                             void *userdata);

/* mpx_queue_qsize() - the exact number of items waiting; negative errno on failure. */
int64_t mpx_queue_qsize(mpx *m, const char *name);
int64_t mpx_queue_qsize_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* mpx_queue_empty() - 1 if the queue holds no item, 0 if it does, or a negative errno. */
int mpx_queue_empty(mpx *m, const char *name);
int64_t mpx_queue_empty_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_full() - 1 if the queue holds maxsize items or more, 0 if not, or
 * a negative errno. Like Python's Queue.full() it is a snapshot: a put can
 * still wait behind other putters that were first.
 */
int mpx_queue_full(mpx *m, const char *name);
int64_t mpx_queue_full_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_close() - close a queue: further puts fail with -EPIPE (blocked
 * putters too); getters take what is left, then get -EPIPE. Closing twice is
 * not an error. Return: 0, -ENOENT, -EPROTOTYPE.
 */
int mpx_queue_close(mpx *m, const char *name);
int64_t mpx_queue_close_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_purge() - drop every item waiting in the queue (not the ones
 * delivered and not yet done). Return: the number dropped, or -ENOENT, -EPROTOTYPE.
 */
int64_t mpx_queue_purge(mpx *m, const char *name);
int64_t mpx_queue_purge_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_peek() - copy up to max items from the head of the queue without
 * taking them (tag 0; deliveries tells how often each was handed out
 * before). items must have room for max entries; a large peek may return
 * fewer items than are there. Return: the number copied (0 when empty),
 * -ENOENT, -EPROTOTYPE.
 */
int mpx_queue_peek(mpx *m, const char *name, mpx_item *items, size_t max);
int64_t mpx_queue_peek_async(mpx *m, const char *name, mpx_item *items, size_t max, mpx_callback *cb,
                             void *userdata);

/*
 * mpx_queue_task_done() - mark a delivery of a joinable queue finished.
 * @tag: the item's tag, which any connection may finish; 0 means this
 *       connection's oldest undone delivery of the queue or, when it has
 *       none, the queue's oldest detached delivery.
 *
 * Return: 0, -ENOENT (no such tag, or no such queue), -EINVAL (tag 0 and
 * nothing left to finish: task_done called too many times), -EPROTOTYPE
 * (not a joinable queue).
 */
int mpx_queue_task_done(mpx *m, const char *name, uint64_t tag);
int64_t mpx_queue_task_done_async(mpx *m, const char *name, uint64_t tag, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_done_get() - a consumer's step in one round trip: finish the
 * delivery tag (as mpx_queue_task_done()), then take the next item (as
 * mpx_queue_get_ttr(); ttr_ms 0 for the queue's lease), in one request.
 *
 * Return: 0 and *ret; -ENOENT or -EINVAL when the finish was refused, and
 * then nothing else happened; any other result (0, or a get's failure:
 * -EAGAIN, -ETIMEDOUT, -EPIPE, -EIDRM ...) means the delivery is finished.
 * -EPROTOTYPE (not a joinable queue); -EINVAL for unknown flags, before
 * anything is finished.
 */
int mpx_queue_done_get(mpx *m, const char *name, uint64_t tag, int64_t timeout_ms, unsigned flags,
                       uint32_t ttr_ms, mpx_item *ret);
int64_t mpx_queue_done_get_async(mpx *m, const char *name, uint64_t tag, int64_t timeout_ms, unsigned flags,
                                 uint32_t ttr_ms, mpx_item *ret, mpx_callback *cb, void *userdata);

/*
 * mpx_queue_join() - wait until every item put in a joinable queue has been
 * taken and marked done. Return: 0, -EAGAIN (timeout 0 and unfinished items),
 * -ETIMEDOUT, -ENOENT, -EIDRM, -ESHUTDOWN, -EPROTOTYPE.
 */
int mpx_queue_join(mpx *m, const char *name, int64_t timeout_ms);
int64_t mpx_queue_join_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata);

/* ---- buffers returned by the shared-state calls ---- */

/*
 * A byte string returned by the daemon (a dict value, a list item ...).
 * data is allocated with malloc() (never NULL on success, even when size is 0)
 * and belongs to the caller: release it with mpx_buf_clear() or free(data).
 */
typedef struct mpx_buf {
        void *data;
        size_t size;
} mpx_buf;

/* mpx_buf_clear() - free a buffer's data and zero it. Accepts NULL. */
void mpx_buf_clear(mpx_buf *buf);

/* mpx_bufs_free() - free an array of n buffers and their data. Return: NULL. */
mpx_buf *mpx_bufs_free(mpx_buf *bufs, size_t n);

/* ---- dicts: Manager().dict(), with atomic increment and compare-and-set ---- */

/*
 * Keys and values are byte strings of up to mpx_max_message() bytes. Every
 * call is atomic in the daemon. Iteration follows insertion order, as in
 * Python; a value overwritten keeps its key's place.
 */

/* mpx_dict_declare() - create a dict. Return: 1 created, 0 existed, -EPROTOTYPE, -EINVAL. */
int mpx_dict_declare(mpx *m, const char *name);
int64_t mpx_dict_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/* mpx_dict_declare_flags() - mpx_dict_declare with flags: MPX_DURABLE. Also -EEXIST (other durability). */
int mpx_dict_declare_flags(mpx *m, const char *name, unsigned flags);
int64_t mpx_dict_declare_flags_async(mpx *m, const char *name, unsigned flags, mpx_callback *cb,
                                     void *userdata);

/* mpx_dict_set() - d[key] = value. Return: 0, -ENOENT (no such dict), -EMSGSIZE, -EPROTOTYPE. */
int mpx_dict_set(mpx *m, const char *name, const void *key, size_t key_size, const void *value, size_t value_size);
int64_t mpx_dict_set_async(mpx *m, const char *name, const void *key, size_t key_size, const void *value,
                           size_t value_size, mpx_callback *cb, void *userdata);

/* mpx_dict_get() - d[key] into *ret. Return: 0, -ENOENT (no such dict or key). */
int mpx_dict_get(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret);
int64_t mpx_dict_get_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret,
                           mpx_callback *cb, void *userdata);

/* mpx_dict_del() - del d[key]. Return: 0, -ENOENT (no such dict or key). */
int mpx_dict_del(mpx *m, const char *name, const void *key, size_t key_size);
int64_t mpx_dict_del_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_callback *cb,
                           void *userdata);

/* mpx_dict_contains() - key in d: 1 or 0, or a negative errno. */
int mpx_dict_contains(mpx *m, const char *name, const void *key, size_t key_size);
int64_t mpx_dict_contains_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_callback *cb,
                                void *userdata);

/* mpx_dict_len() - len(d), or a negative errno. */
int64_t mpx_dict_len(mpx *m, const char *name);
int64_t mpx_dict_len_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* mpx_dict_pop() - d.pop(key) into *ret. Return: 0, -ENOENT (no such dict or key). */
int mpx_dict_pop(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret);
int64_t mpx_dict_pop_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret,
                           mpx_callback *cb, void *userdata);

/*
 * mpx_dict_popitem() - d.popitem(): remove the key inserted last (Python's
 * LIFO order) and hand over the key and its value (free both with
 * mpx_buf_clear()). Return: 0, -ENOENT (the dict is empty or missing),
 * -EPROTOTYPE.
 */
int mpx_dict_popitem(mpx *m, const char *name, mpx_buf *ret_key, mpx_buf *ret_value);
int64_t mpx_dict_popitem_async(mpx *m, const char *name, mpx_buf *ret_key, mpx_buf *ret_value,
                               mpx_callback *cb, void *userdata);

/*
 * mpx_dict_setdefault() - d.setdefault(key, default): the value now stored
 * under key (the old one, or the default just stored) into *ret.
 */
int mpx_dict_setdefault(mpx *m, const char *name, const void *key, size_t key_size,
                        const void *def, size_t def_size, mpx_buf *ret);
int64_t mpx_dict_setdefault_async(mpx *m, const char *name, const void *key, size_t key_size, const void *def,
                                  size_t def_size, mpx_buf *ret, mpx_callback *cb, void *userdata);

/*
 * mpx_dict_update() - set n pairs in one atomic request: keys[i] = values[i].
 * Return: 0, -EMSGSIZE (a key or value too large, or the batch over one frame).
 */
int mpx_dict_update(mpx *m, const char *name, const struct iovec *keys, const struct iovec *values, size_t n);
int64_t mpx_dict_update_async(mpx *m, const char *name, const struct iovec *keys, const struct iovec *values,
                              size_t n, mpx_callback *cb, void *userdata);

/* mpx_dict_clear() - remove every key. Return: how many were removed, or a negative errno. */
int64_t mpx_dict_clear(mpx *m, const char *name);
int64_t mpx_dict_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/*
 * mpx_dict_incr() - add delta to the signed 64-bit decimal integer stored at
 * key (absent counts as 0) and store the result as decimal text.
 * Return: 0 and *ret_value, -EINVAL (the value is not a decimal integer),
 * -ERANGE (the stored value or the sum does not fit in 64 bits), -ENOENT
 * (no such dict).
 */
int mpx_dict_incr(mpx *m, const char *name, const void *key, size_t key_size, int64_t delta, int64_t *ret_value);
int64_t mpx_dict_incr_async(mpx *m, const char *name, const void *key, size_t key_size, int64_t delta,
                            int64_t *ret_value, mpx_callback *cb, void *userdata);

/*
 * mpx_dict_cas() - compare-and-set: if key holds expected (or is absent, when
 * expected is NULL), store new (or delete key, when new is NULL).
 * Return: 1 swapped, 0 not swapped, or a negative errno. When ret_current is
 * not NULL it receives the value after the call (data NULL when absent).
 */
int mpx_dict_cas(mpx *m, const char *name, const void *key, size_t key_size,
                 const void *expected, size_t expected_size, const void *new_value, size_t new_size,
                 mpx_buf *ret_current);
int64_t mpx_dict_cas_async(mpx *m, const char *name, const void *key, size_t key_size, const void *expected,
                           size_t expected_size, const void *new_value, size_t new_size, mpx_buf *ret_current,
                           mpx_callback *cb, void *userdata);

/* What mpx_dict_items() returns. */
#define MPX_DICT_KEYS           (1u << 0)
#define MPX_DICT_VALUES         (1u << 1)
#define MPX_DICT_ITEMS          (MPX_DICT_KEYS | MPX_DICT_VALUES)

/*
 * mpx_dict_items() - keys, values or both, a page at a time, in insertion order.
 * @cursor:   0 for the first page, then the *ret_next of the previous page.
 * @max:      the most entries in this page (0: the daemon's page size).
 * @what:     MPX_DICT_KEYS, MPX_DICT_VALUES or MPX_DICT_ITEMS.
 * @ret_keys, @ret_values: arrays of *ret_n buffers (NULL when not asked for);
 *            free each with mpx_bufs_free().
 * @ret_next: the next cursor; 0 when this was the last page.
 * A key present during the whole walk is returned exactly once; keys added or
 * removed meanwhile may or may not be.
 */
int mpx_dict_items(mpx *m, const char *name, uint64_t cursor, size_t max, unsigned what,
                   mpx_buf **ret_keys, mpx_buf **ret_values, size_t *ret_n, uint64_t *ret_next);
int64_t mpx_dict_items_async(mpx *m, const char *name, uint64_t cursor, size_t max, unsigned what,
                             mpx_buf **ret_keys, mpx_buf **ret_values, size_t *ret_n, uint64_t *ret_next,
                             mpx_callback *cb, void *userdata);

/* ---- lists: Manager().list() ---- */

/*
 * Items are byte strings. Indexes are Python's: negative counts from the
 * end. An index out of range gives -ERANGE; an item not found, -ENOENT.
 */

/* mpx_list_declare() - create a list. Return: 1 created, 0 existed, -EPROTOTYPE, -EINVAL. */
int mpx_list_declare(mpx *m, const char *name);
int64_t mpx_list_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/* mpx_list_declare_flags() - mpx_list_declare with flags: MPX_DURABLE. Also -EEXIST (other durability). */
int mpx_list_declare_flags(mpx *m, const char *name, unsigned flags);
int64_t mpx_list_declare_flags_async(mpx *m, const char *name, unsigned flags,
                                     mpx_callback *cb, void *userdata);

/* mpx_list_append() - l.append(item). Return: the new length, or a negative errno. */
int64_t mpx_list_append(mpx *m, const char *name, const void *item, size_t size);
int64_t mpx_list_append_async(mpx *m, const char *name, const void *item, size_t size,
                              mpx_callback *cb, void *userdata);

/* mpx_list_extend() - l.extend(items) atomically. Return: the new length, or a negative errno. */
int64_t mpx_list_extend(mpx *m, const char *name, const struct iovec *items, size_t n);
int64_t mpx_list_extend_async(mpx *m, const char *name, const struct iovec *items, size_t n,
                              mpx_callback *cb, void *userdata);

/* mpx_list_get() - l[index] into *ret. Return: 0, -ERANGE. */
int mpx_list_get(mpx *m, const char *name, int64_t index, mpx_buf *ret);
int64_t mpx_list_get_async(mpx *m, const char *name, int64_t index, mpx_buf *ret,
                           mpx_callback *cb, void *userdata);

/* mpx_list_set() - l[index] = item. Return: 0, -ERANGE. */
int mpx_list_set(mpx *m, const char *name, int64_t index, const void *item, size_t size);
int64_t mpx_list_set_async(mpx *m, const char *name, int64_t index, const void *item, size_t size,
                           mpx_callback *cb, void *userdata);

/* mpx_list_insert() - l.insert(index, item); like Python, never out of range. Return: the new length. */
int64_t mpx_list_insert(mpx *m, const char *name, int64_t index, const void *item, size_t size);
int64_t mpx_list_insert_async(mpx *m, const char *name, int64_t index, const void *item, size_t size,
                              mpx_callback *cb, void *userdata);

/* mpx_list_pop() - l.pop(index) into *ret (index -1 is Python's default). Return: 0, -ERANGE. */
int mpx_list_pop(mpx *m, const char *name, int64_t index, mpx_buf *ret);
int64_t mpx_list_pop_async(mpx *m, const char *name, int64_t index, mpx_buf *ret,
                           mpx_callback *cb, void *userdata);

/* mpx_list_remove() - remove the first item equal to item. Return: 0, -ENOENT. */
int mpx_list_remove(mpx *m, const char *name, const void *item, size_t size);
int64_t mpx_list_remove_async(mpx *m, const char *name, const void *item, size_t size,
                              mpx_callback *cb, void *userdata);

/* mpx_list_index() - the index of the first item equal to item, or -ENOENT. */
int64_t mpx_list_index(mpx *m, const char *name, const void *item, size_t size);
int64_t mpx_list_index_async(mpx *m, const char *name, const void *item, size_t size,
                             mpx_callback *cb, void *userdata);

/* mpx_list_len() - len(l), or a negative errno. */
int64_t mpx_list_len(mpx *m, const char *name);
int64_t mpx_list_len_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* Python's None as a slice bound. */
#define MPX_SLICE_END           INT64_MAX

/*
 * mpx_list_slice() - l[start:stop], with Python's clamping (start 0 and stop
 * MPX_SLICE_END give the whole list). Large slices are fetched in several
 * frames, each of them atomic. Return: the number of items in *ret_items
 * (free with mpx_bufs_free()), or a negative errno.
 */
int64_t mpx_list_slice(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items);
int64_t mpx_list_slice_async(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                             mpx_callback *cb, void *userdata);

/*
 * mpx_list_slice_version() - mpx_list_slice() with the list's version, which
 * changes with every change of the list (never twice the same value while
 * mpxd runs): the items are one state of the list, the one *ret_version
 * names, even when they took several requests (when the list changed in
 * between, the slice starts over; -EAGAIN after 100 times).
 */
int64_t mpx_list_slice_version(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                               uint64_t *ret_version);
int64_t mpx_list_slice_version_async(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                                     uint64_t *ret_version, mpx_callback *cb, void *userdata);

/*
 * mpx_list_splice() - l[start:stop] = items, in one atomic step, with
 * mpx_list_slice()'s clamping: deletes a slice (n 0), inserts (start ==
 * stop), or replaces one by another of any length. With if_version other
 * than 0, only if the list is still at that version (from
 * mpx_list_slice_version() or an earlier splice): read, sort or reverse
 * locally, splice back, and try again on 0 makes sort() and reverse()
 * atomic. The items must fit in one request (mpx_max_message() each, one
 * frame in all: -EMSGSIZE).
 * @ret_version: the list's version after the call, or NULL.
 * Return: 1 done, 0 not done (the version differed: nothing changed),
 * -ENOENT, -EPROTOTYPE, -EMSGSIZE, -EINVAL.
 */
int mpx_list_splice(mpx *m, const char *name, int64_t start, int64_t stop, uint64_t if_version,
                    const struct iovec *items, size_t n, uint64_t *ret_version);
int64_t mpx_list_splice_async(mpx *m, const char *name, int64_t start, int64_t stop, uint64_t if_version,
                              const struct iovec *items, size_t n, uint64_t *ret_version,
                              mpx_callback *cb, void *userdata);

/* mpx_list_clear() - remove every item. Return: how many were removed, or a negative errno. */
int64_t mpx_list_clear(mpx *m, const char *name);
int64_t mpx_list_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* ---- semaphores and locks ---- */

/* Flags of mpx_sem_declare(). */
#define MPX_SEM_BOUNDED         (1u << 0)       /* BoundedSemaphore: release past max fails */
#define MPX_SEM_NO_UNDO         (1u << 1)       /* units held by a closing connection are not given back */

/*
 * mpx_sem_declare() - create a semaphore with an initial value; bounded ones
 * never exceed max. A lock is mpx_sem_declare(m, name, 1, 1, MPX_SEM_BOUNDED).
 * By default units a connection acquired and did not release are given back
 * when it closes (System V's SEM_UNDO).
 * Return: 1 created, 0 existed identically, -EEXIST (other value, max or
 * flags), -EPROTOTYPE, -EINVAL (value > max on a bounded semaphore).
 */
int mpx_sem_declare(mpx *m, const char *name, uint64_t value, uint64_t max, unsigned flags);
int64_t mpx_sem_declare_async(mpx *m, const char *name, uint64_t value, uint64_t max, unsigned flags,
                              mpx_callback *cb, void *userdata);

/*
 * mpx_sem_acquire() - take one unit, waiting up to timeout_ms; waiters are
 * served in arrival order.
 *
 * A connection that closes while holding units (SEM_UNDO) gives them back, but
 * may have left half-done what the semaphore guards. As a robust mutex does,
 * the first acquire that succeeds after that returns -EOWNERDEAD instead of 0:
 * the unit IS acquired, the caller owns it and must release it as usual, after
 * repairing what the dead holder left. Exactly one acquirer is told; the next
 * ones get 0 until another holder dies. (Any connection that closes without
 * releasing counts as a holder that died.)
 *
 * Return: 0 or -EOWNERDEAD (the unit is held); -EAGAIN, -ETIMEDOUT, -EIDRM,
 * -ESHUTDOWN (nothing is held).
 */
int mpx_sem_acquire(mpx *m, const char *name, int64_t timeout_ms);
int64_t mpx_sem_acquire_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata);

/*
 * mpx_sem_release() - give one unit back (any connection may, as in Python).
 * Return: 0, -ERANGE (a bounded semaphore is already at its maximum, or any
 * semaphore at 2^63 - 1).
 */
int mpx_sem_release(mpx *m, const char *name);
int64_t mpx_sem_release_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* mpx_sem_value() - the current value, or a negative errno. */
int64_t mpx_sem_value(mpx *m, const char *name);
int64_t mpx_sem_value_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* ---- events ---- */

/* mpx_event_declare() - create an event, initially clear. Return: 1 created, 0 existed. */
int mpx_event_declare(mpx *m, const char *name);
/* mpx_event_declare_flags() - mpx_event_declare with flags: MPX_COUNTED (an event is never durable). */
int mpx_event_declare_flags(mpx *m, const char *name, unsigned flags);
int64_t mpx_event_declare_flags_async(mpx *m, const char *name, unsigned flags, mpx_callback *cb, void *userdata);
int64_t mpx_event_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/* mpx_event_set() - set the flag and wake every waiter. */
int mpx_event_set(mpx *m, const char *name);
int64_t mpx_event_set_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/* mpx_event_clear() - clear the flag. */
int mpx_event_clear(mpx *m, const char *name);
int64_t mpx_event_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/* mpx_event_is_set() - 1 set, 0 clear, or a negative errno. */
int mpx_event_is_set(mpx *m, const char *name);
int64_t mpx_event_is_set_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);
/*
 * mpx_event_wait() - wait until the flag is set. Return: 0, -EAGAIN (clear,
 * timeout 0), -ETIMEDOUT (where Python returns False), -EIDRM, -ESHUTDOWN.
 */
int mpx_event_wait(mpx *m, const char *name, int64_t timeout_ms);
int64_t mpx_event_wait_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata);

/* ---- barriers ---- */

/*
 * mpx_barrier_declare() - create a barrier for parties processes.
 * Return: 1 created, 0 existed, -EEXIST (other parties), -EINVAL (parties 0).
 */
int mpx_barrier_declare(mpx *m, const char *name, uint32_t parties);

/* A barrier whose last arrival of each round runs an action before the others go. */
#define MPX_BARRIER_ACTION      (1u << 0)
/* mpx_barrier_wait()'s timeout: the barrier's own, as mpx_barrier_declare_timeout() stored it. */
#define MPX_TIMEOUT_DEFAULT     INT64_MIN

/*
 * mpx_barrier_declare_flags() - mpx_barrier_declare with flags: MPX_COUNTED,
 * MPX_BARRIER_ACTION (a barrier is never durable). An existing barrier must
 * have the same action flag (-EEXIST otherwise); its timeout is its own.
 */
int mpx_barrier_declare_flags(mpx *m, const char *name, uint32_t parties, unsigned flags);
int64_t mpx_barrier_declare_flags_async(mpx *m, const char *name, uint32_t parties, unsigned flags,
                                        mpx_callback *cb, void *userdata);

/*
 * mpx_barrier_declare_timeout() - mpx_barrier_declare_flags with the
 * barrier's own timeout, as Python's Barrier(timeout=) keeps it: a wait with
 * MPX_TIMEOUT_DEFAULT waits that long (negative: no default, forever).
 * mpx_object_info() shows it as timeout_ms. An existing barrier must have
 * the same one (-EEXIST otherwise).
 */
int mpx_barrier_declare_timeout(mpx *m, const char *name, uint32_t parties, unsigned flags, int64_t timeout_ms);
int64_t mpx_barrier_declare_timeout_async(mpx *m, const char *name, uint32_t parties, unsigned flags,
                                          int64_t timeout_ms, mpx_callback *cb, void *userdata);
int64_t mpx_barrier_declare_async(mpx *m, const char *name, uint32_t parties, mpx_callback *cb,
                                  void *userdata);

/*
 * mpx_barrier_wait() - wait until parties processes wait, then all go on.
 * Return: this party's arrival index (0 .. parties-1), or -ETIMEDOUT (this
 * party's timeout passed: the barrier is now broken), -ENOTRECOVERABLE (the
 * barrier is broken: another party timed out, disconnected while waiting,
 * or it was reset or aborted; Python's BrokenBarrierError), -EAGAIN (timeout
 * 0 and not the last party), -EIDRM, -ESHUTDOWN. MPX_TIMEOUT_DEFAULT waits
 * the barrier's own timeout.
 *
 * With MPX_BARRIER_ACTION, the last party of a round (index parties - 1)
 * returns at once while the others stay parked: it runs the action, as
 * Python's Barrier(action=) does in one of its threads, then calls
 * mpx_barrier_pass() to release them, or mpx_barrier_abort() when the
 * action failed (the others then get -ENOTRECOVERABLE). Should its
 * connection end first, the barrier breaks. Parties that arrive meanwhile
 * wait for the next round.
 */
int mpx_barrier_wait(mpx *m, const char *name, int64_t timeout_ms);
int64_t mpx_barrier_wait_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb,
                               void *userdata);

/*
 * mpx_barrier_pass() - the action of the round this connection holds (its
 * mpx_barrier_wait() returned parties - 1 on a barrier with an action) ran:
 * release the round. Return: 0, -EINVAL (this connection holds no round of
 * it), -ENOTRECOVERABLE (the barrier broke meanwhile), -ENOENT, -EPROTOTYPE.
 */
int mpx_barrier_pass(mpx *m, const char *name);
int64_t mpx_barrier_pass_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* mpx_barrier_reset() - back to the empty, unbroken state; waiters get -ENOTRECOVERABLE. */
int mpx_barrier_reset(mpx *m, const char *name);
int64_t mpx_barrier_reset_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* mpx_barrier_abort() - break the barrier: waiters and later waits get -ENOTRECOVERABLE. */
int mpx_barrier_abort(mpx *m, const char *name);
int64_t mpx_barrier_abort_async(mpx *m, const char *name, mpx_callback *cb, void *userdata);

/* ---- typed values and arrays: Value() and Array(), and shared memory ---- */

/*
 * Elements have one of Python's type codes: 'b' 'B' 'h' 'H' 'i' 'I' 'l' 'L'
 * 'q' 'Q' (signed and unsigned 8, 16, 32, 64, 64 and 64-bit integers, as on
 * x86-64 Linux), 'f' 'd' (float, double) and 'c' (one byte). Elements are
 * passed in the host's byte order and layout, as C arrays of that type.
 * Integers wrap around on overflow, as ctypes values do. A value is an array
 * of length 1.
 */

/* mpx_typecode_size() - the size of one element of a type code, or -EINVAL. */
int mpx_typecode_size(char typecode);

/*
 * mpx_array_declare() - create an array of length elements, filled from
 * initial (length elements) or with zeros when initial is NULL.
 * Return: 1 created, 0 existed with the same type code and length (initial
 * is then ignored), -EEXIST, -EPROTOTYPE, -EINVAL (bad type code, length 0),
 * -EMSGSIZE (initial over mpx_max_message(): declare without it and fill the
 * array with mpx_array_set() or a mapping), -ENOSPC (over 1 GiB),
 * -EUSERS (the daemon's object limit, or it is out of descriptors).
 */
int mpx_array_declare(mpx *m, const char *name, char typecode, uint32_t length, const void *initial);
int64_t mpx_array_declare_async(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                                mpx_callback *cb, void *userdata);

/* mpx_value_declare() - an array of one, listed as a value: Value('i', 5000). */
int mpx_value_declare(mpx *m, const char *name, char typecode, const void *initial);
int64_t mpx_value_declare_async(mpx *m, const char *name, char typecode, const void *initial,
                                mpx_callback *cb, void *userdata);
/* mpx_array_declare_flags(), mpx_value_declare_flags() - the same with flags: MPX_DURABLE. */
int mpx_array_declare_flags(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                            unsigned flags);
int64_t mpx_array_declare_flags_async(mpx *m, const char *name, char typecode, uint32_t length,
                                      const void *initial, unsigned flags, mpx_callback *cb, void *userdata);
int mpx_value_declare_flags(mpx *m, const char *name, char typecode, const void *initial, unsigned flags);
int64_t mpx_value_declare_flags_async(mpx *m, const char *name, char typecode, const void *initial,
                                      unsigned flags, mpx_callback *cb, void *userdata);

/*
 * Every element access names the type code the caller believes the array
 * has, and the elements it passes or receives are of that type. The daemon
 * refuses a type code other than the array's with -EPROTOTYPE, and then
 * nothing is read or written: a wrong guess never overflows dst nor stores
 * elements of the wrong size. Each call is one round trip. -EPROTOTYPE also
 * means that name is not an array or a value.
 */

/*
 * mpx_array_get() - copy count elements from index (negative from the end)
 * into dst, which has room for count elements of type typecode.
 * Return: 0, -ERANGE, -EMSGSIZE (count elements are more than one message),
 * -ENOENT, -EPROTOTYPE (typecode is not the array's), -EINVAL (not a type
 * code, NULL dst with count > 0).
 */
int mpx_array_get(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, void *dst);
int64_t mpx_array_get_async(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, void *dst,
                            mpx_callback *cb, void *userdata);

/*
 * mpx_array_set() - store count elements of type typecode from src at index.
 * Return: 0, -ERANGE, -EMSGSIZE, -ENOENT, -EPROTOTYPE (typecode is not the
 * array's), -EINVAL (not a type code, NULL src with count > 0).
 */
int mpx_array_set(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, const void *src);
int64_t mpx_array_set_async(mpx *m, const char *name, char typecode, int64_t index, uint32_t count,
                            const void *src, mpx_callback *cb, void *userdata);

/*
 * mpx_array_add() - atomically add *delta (one element of type typecode)
 * to the element at index; the new value goes to *ret_new when not NULL.
 * Return: 0, -ERANGE, -ENOENT, -EPROTOTYPE (typecode is not the array's),
 * -EINVAL (not a type code, or type 'c', which cannot be added to).
 */
int mpx_array_add(mpx *m, const char *name, char typecode, int64_t index, const void *delta, void *ret_new);
int64_t mpx_array_add_async(mpx *m, const char *name, char typecode, int64_t index, const void *delta,
                            void *ret_new, mpx_callback *cb, void *userdata);

/*
 * mpx_array_cas() - atomically store *new_value at index if it holds
 * *expected (compared bit for bit); both are one element of type typecode.
 * The value after the call goes to *ret_current when not NULL.
 * Return: 1 swapped, 0 not, or a negative errno: -ERANGE, -ENOENT,
 * -EPROTOTYPE (typecode is not the array's), -EINVAL (not a type code).
 */
int mpx_array_cas(mpx *m, const char *name, char typecode, int64_t index, const void *expected,
                  const void *new_value, void *ret_current);
int64_t mpx_array_cas_async(mpx *m, const char *name, char typecode, int64_t index, const void *expected,
                            const void *new_value, void *ret_current, mpx_callback *cb, void *userdata);

/* A shared mapping of an array's memory. */
typedef struct mpx_map {
        void *addr;             /* length elements of the array's type */
        size_t size;            /* bytes mapped */
        uint32_t length;
        char typecode;
} mpx_map;

/*
 * mpx_array_map() - map the array's memory into this process, read and
 * write. The daemon keeps the array in a memfd and passes it over the
 * connection; every process that maps it sees the others' writes at once,
 * and the daemon's get/set/add/cas work on the same memory (add and cas
 * with atomic instructions). Plain loads and stores through the mapping are
 * not atomic with respect to other processes: pair the array with a lock
 * (mpx_sem_declare with 1, 1, MPX_SEM_BOUNDED) or use C11 atomics on the
 * elements. The memory lives until the object is deleted and the last
 * mapping is gone. Return: 0, -ENOENT, -EPROTOTYPE, -EPROTO (no descriptor
 * came with the reply).
 */
int mpx_array_map(mpx *m, const char *name, mpx_map *ret);
int64_t mpx_array_map_async(mpx *m, const char *name, mpx_map *ret, mpx_callback *cb, void *userdata);

/* mpx_map_release() - unmap a mapping made by mpx_array_map(). Accepts NULL. */
void mpx_map_release(mpx_map *map);

/* ---- pipes: Pipe(duplex) between unrelated processes ---- */

/* Modes of mpx_pipe_open(). */
#define MPX_PIPE_DUPLEX         0       /* pairs with another duplex party: a socketpair */
#define MPX_PIPE_READ           1       /* pairs with a writer: this side gets the read end of a pipe */
#define MPX_PIPE_WRITE          2       /* pairs with a reader: this side gets the write end */

/*
 * mpx_pipe_open() - meet another process at a pipe name and receive one end
 * of a new channel. The first party waits (up to timeout_ms) for a matching
 * one; once both are there, the daemon creates the channel, hands each its
 * end over the connection (SCM_RIGHTS) and keeps no reference: data never
 * passes through mpxd. A third party waits for the next pairing.
 * @ret_fd: the descriptor (close-on-exec), owned by the caller.
 * Return: 0, -EAGAIN (no partner, timeout 0), -ETIMEDOUT, -EINVAL (mode),
 * -EPROTOTYPE (the name is another type of object), -EIDRM (the pipe was
 * deleted while waiting), -EUSERS (the daemon's object limit), -ESHUTDOWN,
 * -EPROTO.
 */
int mpx_pipe_open(mpx *m, const char *name, int mode, int64_t timeout_ms, int *ret_fd);
int64_t mpx_pipe_open_async(mpx *m, const char *name, int mode, int64_t timeout_ms, int *ret_fd,
                            mpx_callback *cb, void *userdata);

/*
 * mpx_pipe_send() - write one whole message on a pipe end (a u32 length,
 * little-endian, then the bytes), as Connection.send() does; retries partial
 * writes and EINTR, never raises SIGPIPE. Return: 0, -EPIPE (the other end
 * is closed), -EMSGSIZE (over 4 GiB - 1), or another negative errno.
 */
int mpx_pipe_send(int fd, const void *data, size_t size);

/*
 * mpx_pipe_recv() - read one whole message sent with mpx_pipe_send().
 * Return: 0 and *ret (free with mpx_buf_clear()), -EPIPE (the other end
 * closed before a message began), -EPROTO (it closed mid-message), -ENOMEM.
 */
int mpx_pipe_recv(int fd, mpx_buf *ret);

/* ---- pools of worker processes ---- */

/*
 * A pool is a named set of worker processes that mpxd starts (fork and
 * exec, no shell), supervises and restarts, like multiprocessing.Pool does
 * for a parent, but as a service: any process may submit work, and the
 * workers outlive the process that started them. Pools are declared in
 * mpxd.conf(5) or started at run time; each is an object listed by
 * mpx_list_objects() with type "pool" (fields: size (workers running),
 * workers (wanted), restart, command, pids, started, restarts, exits,
 * signals, stopping, waiters, age_ms, idle_ms).
 *
 * Workers get MPX_SOCKET (the daemon's socket, so mpx_connect(NULL, ...)
 * reaches it), MPX_POOL (the pool's name) and MPX_WORKER (their index, 0 to
 * workers - 1) in their environment, /dev/null as stdin, and a pipe to the
 * daemon's log as stdout and stderr (each line is logged with the pool's
 * name and the worker's index). Each worker leads a process group of its
 * own; signals reach the whole group. A worker that ends is restarted by
 * the pool's policy after a back-off that starts at 100 ms and doubles, up
 * to 30 s, for as long as workers end within 10 s of their start, so that a
 * worker that fails at once does not spin.
 *
 * Who may: any user may start a pool, and who starts it decides as whom its
 * workers run. Root, the user mpxd runs as, and members of the admin group
 * of mpxd.conf start pools that run as mpxd chooses: as its pool_user when
 * mpxd runs as root (as root when none is configured, and then only root
 * may start them), else as mpxd's own user; they may scale, signal, stop and
 * delete every pool. Anyone else starts a pool of its own processes: its
 * workers run as the caller's uid and primary group, with no other group
 * and with the caller's resource limits (setrlimit(2)), which only a root
 * mpxd can do (one that is not root answers -EACCES);
 * only the caller (and the users above) may scale, signal, stop and delete
 * it, others get -EACCES; and its workers count against the caller's quota
 * (limits.per_user.max_workers, 64 unless configured), past which starting
 * or scaling fails with -EUSERS.
 *
 * The usual worker consumes a joinable queue with mpx_worker_run(), and the
 * submitting side uses mpx_job_submit() and mpx_job_wait(), the way
 * apply_async(...).get() works with Python's Pool.
 */

/* Restart policies of mpx_pool_start(). */
#define MPX_RESTART_ALWAYS      0       /* whenever a worker ends */
#define MPX_RESTART_ON_FAILURE  1       /* when it exits non-zero or is killed by a signal */
#define MPX_RESTART_NEVER       2

/*
 * mpx_pool_start() - have the daemon start and supervise a pool of worker
 * processes.
 * @workers: how many, 1 to 1024.
 * @restart: MPX_RESTART_ALWAYS, MPX_RESTART_ON_FAILURE or MPX_RESTART_NEVER.
 * @argv:    the command, a NULL-terminated array: argv[0] is looked up in
 *           mpxd's PATH when it has no slash, and a relative path is relative
 *           to mpxd's working directory (/ under systemd), so pass an
 *           absolute one.
 *
 * The call returns once the pool exists; its workers start right after.
 *
 * Return: 1 started, 0 a pool of that name already runs the same command
 * with the same policy as the same user (its size is left as it is),
 * -EEXIST (it runs another command or policy, as another user, or it is
 * stopping), -ENOENT (argv[0] is not an executable file for the user the
 * workers would run as), -EACCES (see above; or the pool exists and is not
 * the caller's), -EINVAL (workers, restart or argv), -EPROTOTYPE (the name
 * belongs to another type of object), -EUSERS (too many objects, or
 * workers past the caller's quota).
 */
int mpx_pool_start(mpx *m, const char *name, uint32_t workers, int restart, const char *const *argv);
int64_t mpx_pool_start_async(mpx *m, const char *name, uint32_t workers, int restart, const char *const *argv,
                             mpx_callback *cb, void *userdata);

/*
 * mpx_pool_scale() - run workers workers (0 to 1024): new indexes start now;
 * the workers of the indexes scaled away get SIGTERM, and SIGKILL ten
 * seconds later if they are still running. Return: 0, -ENOENT, -EACCES,
 * -EINVAL (too many, or the pool is stopping), -EPROTOTYPE, -EUSERS (past
 * the quota of workers of the user a user's pool runs as).
 */
int mpx_pool_scale(mpx *m, const char *name, uint32_t workers);
int64_t mpx_pool_scale_async(mpx *m, const char *name, uint32_t workers, mpx_callback *cb, void *userdata);

/*
 * mpx_pool_signal() - send sig (1 to 64) to every running worker's process
 * group. What a worker does with it is its own business: a worker a signal
 * ends is restarted by the pool's policy.
 * Return: how many workers were signalled, -ENOENT, -EACCES, -EINVAL, -EPROTOTYPE.
 */
int mpx_pool_signal(mpx *m, const char *name, int sig);
int64_t mpx_pool_signal_async(mpx *m, const char *name, int sig, mpx_callback *cb, void *userdata);

/*
 * mpx_pool_stop() - SIGTERM every worker, SIGKILL those still running after
 * grace_ms (negative: never; 0: at once), and delete the pool once all have
 * exited; the call returns then. Further stops of the same pool wait as well
 * (a shorter grace applies). Return: 0, -ENOENT, -EACCES, -EPROTOTYPE,
 * -EIDRM (the pool was deleted meanwhile), -ESHUTDOWN.
 */
int mpx_pool_stop(mpx *m, const char *name, int64_t grace_ms);
int64_t mpx_pool_stop_async(mpx *m, const char *name, int64_t grace_ms, mpx_callback *cb, void *userdata);

/*
 * Jobs. mpx_job_submit() creates a private result queue for one job, and
 * puts the job on a joinable queue as one item: a small header that names
 * the result queue (docs/PROTOCOL.md, "Jobs"), then the job's data. A worker
 * running mpx_worker_run() takes the item, calls its handler with the data,
 * puts the handler's status and result on the result queue and marks the
 * item done. mpx_job_wait() takes the result and deletes the result queue.
 *
 * A job is run at least once: if a worker dies before it marks the job
 * done, the job goes back to the head of the queue and another worker runs
 * it again (mpx_item.deliveries says so). Only the first result is
 * returned. mpx_queue_join() on the job queue waits for every job, as
 * Pool.close() and Pool.join() do.
 */

/* A submitted job: what mpx_job_wait() needs. A plain value; copy it as you like. */
typedef struct mpx_job {
        char result_queue[64];  /* the name of the job's result queue, NUL-terminated */
} mpx_job;

/*
 * mpx_job_submit() - submit one job: data (size bytes, which with the
 * header must fit in mpx_max_message()) to the joinable queue queue.
 * Waits as long as it takes when the queue is full.
 *
 * Return: 0 and *ret_job, or -EMSGSIZE, -ENOENT (no such queue), -EPIPE (the
 * queue is closed), -EINVAL, or another error of mpx_queue_put(); nothing is
 * left behind on failure.
 */
int mpx_job_submit(mpx *m, const char *queue, const void *data, size_t size, mpx_job *ret_job);
int64_t mpx_job_submit_async(mpx *m, const char *queue, const void *data, size_t size, mpx_job *ret_job,
                             mpx_callback *cb, void *userdata);

/*
 * mpx_job_wait() - wait up to timeout_ms for a job's result, as
 * AsyncResult.get(timeout) does. Once the result is taken the job is over:
 * its result queue is deleted.
 * @ret_result: the handler's result (free with mpx_buf_clear()), or NULL to
 *              discard it; untouched on failure.
 *
 * Return: 0; the handler's own negative errno when it failed the job;
 * -ETIMEDOUT or -EAGAIN (no result yet: the job stays, wait again);
 * -ENOENT (no such job: its result was taken already), -EIDRM (its result
 * queue was deleted meanwhile), -EPROTO (the result is not one a worker
 * wrote), -ESHUTDOWN. A submitter that will not wait deletes
 * job->result_queue with mpx_delete(); the worker's result then goes nowhere.
 */
int mpx_job_wait(mpx *m, mpx_job *job, int64_t timeout_ms, mpx_buf *ret_result);
int64_t mpx_job_wait_async(mpx *m, mpx_job *job, int64_t timeout_ms, mpx_buf *ret_result,
                           mpx_callback *cb, void *userdata);

/*
 * The work of a worker. @job holds the job's data (the item without the
 * header; job->data is valid during the call only), its delivery tag and how
 * often it was delivered. Store a result (malloc'd; libmpx frees it) in
 * *ret_result, or leave it empty. Return 0 for success; a negative errno
 * fails the job: the submitter's mpx_job_wait() returns it.
 */
typedef int mpx_worker_fn(void *arg, const mpx_item *job, mpx_buf *ret_result);

/*
 * mpx_worker_run() - a worker's loop on the joinable queue queue: take an
 * item (waiting as long as it takes), call handler(arg, job, &result), put
 * the status and result where the job says (a result over
 * mpx_max_message() becomes -EMSGSIZE), mark the item done, and go on.
 * Items put without mpx_job_submit() are handled too; their results go
 * nowhere.
 *
 * A handler that fails a job also ends the loop, once the failure is
 * reported and the item done: a worker whose state may be broken is
 * replaced by a fresh process (the pool restarts it by its policy). A
 * handler that wants to go on after a job's failure returns 0 with a result
 * that says so.
 *
 * Return: 0 when the queue is closed and drained (the work is over: exit 0),
 * the handler's negative errno, or the error that ended the loop: -EIDRM
 * (the queue was deleted), -ESHUTDOWN (mpxd is stopping), -ECONNRESET,
 * -ENOENT, -EPROTOTYPE, -EINVAL (NULL handler).
 */
int mpx_worker_run(mpx *m, const char *queue, mpx_worker_fn *handler, void *arg);

/* ---- inspection (mpxctl) ---- */

/* One named value of an inspection reply. */
typedef struct mpx_field {
        char *key;
        int is_str;             /* 1: str is set; 0: num is set */
        int64_t num;
        char *str;
} mpx_field;

/* A described object or the daemon itself. Free with mpx_info_clear(). */
typedef struct mpx_info {
        char *name;             /* NULL for daemon statistics */
        char *type;             /* "queue", "joinable", ...; NULL for daemon statistics */
        size_t n_fields;
        mpx_field *fields;
} mpx_info;

/* mpx_info_clear() - free what an mpx_info holds and zero it. Accepts NULL. */
void mpx_info_clear(mpx_info *info);

/* mpx_info_get() - a field by key, or NULL. */
const mpx_field *mpx_info_get(const mpx_info *info, const char *key);

/*
 * mpx_object_info() - describe one object: its type and fields such as size,
 * maxsize, bytes, getters, putters, puts, gets (docs/PROTOCOL.md lists them).
 * Return: 0, -ENOENT, -EINVAL.
 */
int mpx_object_info(mpx *m, const char *name, mpx_info *ret);
int64_t mpx_object_info_async(mpx *m, const char *name, mpx_info *ret, mpx_callback *cb, void *userdata);

/*
 * mpx_list_objects() - list objects a page at a time, in creation order.
 * @cursor: 0 for the first page, then the *ret_next of the previous page.
 * @max:    the most objects in this page; 0 or more than 1000 means 1000.
 * @type:   NULL for all types, or a type name ("queue", "joinable", "dict",
 *          "list", "semaphore", "event", "barrier", "value", "array", "pipe", "pool").
 * @ret_items, @ret_n: an array of described objects; free with mpx_objects_free().
 * @ret_next: the cursor of the next page; 0 when this was the last page.
 * Return: 0, -EINVAL (unknown type).
 */
int mpx_list_objects(mpx *m, uint64_t cursor, size_t max, const char *type,
             mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next);
int64_t mpx_list_objects_async(mpx *m, uint64_t cursor, size_t max, const char *type, mpx_info **ret_items,
                               size_t *ret_n, uint64_t *ret_next, mpx_callback *cb, void *userdata);

/* mpx_objects_free() - free an array returned by mpx_list_objects(). Return: NULL. */
mpx_info *mpx_objects_free(mpx_info *items, size_t n);

/* mpx_stats() - daemon-wide statistics (version, uptime, clients, objects, waiters ...). */
int mpx_stats(mpx *m, mpx_info *ret);
int64_t mpx_stats_async(mpx *m, mpx_info *ret, mpx_callback *cb, void *userdata);

/*
 * mpx_clients() - list the daemon's connections a page at a time, in
 * connection order, each as fields (id, pid, uid, gid, comm, name, age_ms,
 * idle_ms, requests, deliveries, waiting, waiting_on ...; docs/PROTOCOL.md
 * lists them). name and type of each mpx_info are NULL. Paging as
 * mpx_list_objects(); free with mpx_objects_free().
 */
int mpx_clients(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next);
int64_t mpx_clients_async(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n,
                          uint64_t *ret_next, mpx_callback *cb, void *userdata);

/*
 * mpx_users() - list the uids the daemon accounts for (those with a
 * connection or something charged to them) a page at a time, by uid, each as
 * fields (uid, clients, objects, waiters, bytes, workers, refused_memory,
 * refused_objects, refused_clients, refused_waiters, refused_workers;
 * docs/PROTOCOL.md). name
 * and type of each mpx_info are NULL. Paging as mpx_list_objects(); free
 * with mpx_objects_free().
 */
int mpx_users(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next);
int64_t mpx_users_async(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n,
                        uint64_t *ret_next, mpx_callback *cb, void *userdata);

#ifdef __cplusplus
}
#endif

#endif
