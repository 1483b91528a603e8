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
 *   -ENOMEM, -ENOSPC, -EUSERS  the client or the daemon is out of memory or over a limit
 *   -EPROTO       the daemon sent something this library does not understand
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
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The system socket, used when neither a path nor $MPX_SOCKET is given. */
#define MPX_DEFAULT_SOCKET "/run/mpxd/mpxd.sock"

/* An open connection to mpxd. */
typedef struct mpx mpx;

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

/* mpx_fd() - the connection's socket, for poll(); do not read or write it. */
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

/*
 * mpx_delete() - delete an object of any type. Everyone waiting on it gets
 * -EIDRM. Return: 0, -ENOENT, -EINVAL (bad name).
 */
int mpx_delete(mpx *m, const char *name);

/* ---- queues and joinable queues ---- */

/* Flags of mpx_queue_declare(). */
#define MPX_QUEUE_JOINABLE      (1u << 0)

/*
 * mpx_queue_declare() - create a queue, or check that it exists as asked.
 * @maxsize: the most items it holds (0: unbounded); a put on a full queue blocks.
 * @flags:   MPX_QUEUE_JOINABLE for a joinable queue (task_done and join).
 *
 * Return: 1 if created, 0 if it already existed with the same type and
 * parameters, -EEXIST if it exists with another maxsize, -EPROTOTYPE if the
 * name belongs to an object of another type, -EINVAL for a bad name or flag.
 */
int mpx_queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags);

/*
 * mpx_queue_put() - append one item (a copy of data) to a queue, waiting up to
 * timeout_ms for room when the queue is full.
 *
 * Return: 0, -EAGAIN (full, timeout 0), -ETIMEDOUT, -EPIPE (closed),
 * -EMSGSIZE (size over mpx_max_message()), -ENOENT, -EIDRM, -ESHUTDOWN.
 */
int mpx_queue_put(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms);

/*
 * mpx_queue_put_many() - append n items in one round trip, all or none: the
 * call waits until there is room for all of them, and they enter the queue
 * one after another. n larger than a non-zero maxsize gives -EINVAL.
 *
 * Return: 0, or as mpx_queue_put(); -EMSGSIZE also when the batch does not fit
 * in one frame.
 */
int mpx_queue_put_many(mpx *m, const char *name, const struct iovec *items, size_t n, int64_t timeout_ms);

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

/*
 * mpx_queue_get_flags() - as mpx_queue_get(); with MPX_GET_DETACH a delivery
 * of a joinable queue is not tied to this connection: it is not redelivered
 * when the connection closes, and any connection may finish it, by tag or by
 * an untagged task_done, as with Python's JoinableQueue.
 */
int mpx_queue_get_flags(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret);

/*
 * mpx_queue_get_many() - take up to max items in one round trip: waits up to
 * timeout_ms for at least one, then takes as many as are there (and fit in
 * one reply frame). items must have room for max entries.
 *
 * Return: the number of items taken (>= 1), or as mpx_queue_get().
 */
int mpx_queue_get_many(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms);

/* What mpx_queue_stat() tells. */
typedef struct mpx_queue_status {
        uint64_t size;          /* items waiting in the queue */
        uint64_t maxsize;       /* 0: unbounded */
        uint64_t unfinished;    /* joinable: items put and not yet done (queued + delivered) */
        int closed;             /* 1 after mpx_queue_close() */
} mpx_queue_status;

/* mpx_queue_stat() - the queue's exact size and state. Return: 0, -ENOENT, -EPROTOTYPE. */
int mpx_queue_stat(mpx *m, const char *name, mpx_queue_status *ret);

/* mpx_queue_qsize() - the exact number of items waiting; negative errno on failure. */
int64_t mpx_queue_qsize(mpx *m, const char *name);

/* mpx_queue_empty() - 1 if the queue holds no item, 0 if it does, or a negative errno. */
int mpx_queue_empty(mpx *m, const char *name);

/*
 * mpx_queue_full() - 1 if the queue holds maxsize items or more, 0 if not, or
 * a negative errno. Like Python's Queue.full() it is a snapshot: a put can
 * still wait behind other putters that were first.
 */
int mpx_queue_full(mpx *m, const char *name);

/*
 * mpx_queue_close() - close a queue: further puts fail with -EPIPE (blocked
 * putters too); getters take what is left, then get -EPIPE. Closing twice is
 * not an error. Return: 0, -ENOENT, -EPROTOTYPE.
 */
int mpx_queue_close(mpx *m, const char *name);

/*
 * mpx_queue_purge() - drop every item waiting in the queue (not the ones
 * delivered and not yet done). Return: the number dropped, or -ENOENT, -EPROTOTYPE.
 */
int64_t mpx_queue_purge(mpx *m, const char *name);

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

/*
 * mpx_queue_join() - wait until every item put in a joinable queue has been
 * taken and marked done. Return: 0, -EAGAIN (timeout 0 and unfinished items),
 * -ETIMEDOUT, -ENOENT, -EIDRM, -ESHUTDOWN, -EPROTOTYPE.
 */
int mpx_queue_join(mpx *m, const char *name, int64_t timeout_ms);

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

/*
 * mpx_list() - list objects a page at a time, in creation order.
 * @cursor: 0 for the first page, then the *ret_next of the previous page.
 * @max:    the most objects in this page; 0 or more than 1000 means 1000.
 * @type:   NULL for all types, or a type name ("queue", "joinable").
 * @ret_items, @ret_n: an array of described objects; free with mpx_list_free().
 * @ret_next: the cursor of the next page; 0 when this was the last page.
 * Return: 0, -EINVAL (unknown type).
 */
int mpx_list(mpx *m, uint64_t cursor, size_t max, const char *type,
             mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next);

/* mpx_list_free() - free an array returned by mpx_list(). Return: NULL. */
mpx_info *mpx_list_free(mpx_info *items, size_t n);

/* mpx_stats() - daemon-wide statistics (version, uptime, clients, objects, waiters ...). */
int mpx_stats(mpx *m, mpx_info *ret);

#ifdef __cplusplus
}
#endif

#endif
