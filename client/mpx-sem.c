/* SPDX-License-Identifier: MIT */
/*
 * libmpx semaphores and locks: declare, acquire, release and value, one
 * request each. A lock is only a way of declaring (value 1 bounded at 1);
 * the calls are the same.
 *
 * Each call checks its arguments before anything is queued, builds one
 * request and names the parser of its reply (mpx-internal.h); the
 * synchronous form waits for the asynchronous one. The units a connection
 * holds are counted by the daemon, not here: closing the connection is what
 * gives them back (SEM_UNDO).
 */
#include <errno.h>
#include <stdint.h>

#include "mpx-internal.h"

/* Create a semaphore or check that it exists with these parameters. */
int64_t mpx_sem_declare_async(mpx *m, const char *name, uint64_t value, uint64_t max, unsigned flags,
                              mpx_callback *cb, void *userdata) {
        uint32_t wflags;

        if (flags & ~(MPX_SEM_BOUNDED | MPX_SEM_NO_UNDO | CONN_DECLARE_FLAGS))
                return -EINVAL;
        wflags = conn_declare_flags(flags);
        if (flags & MPX_SEM_BOUNDED)
                wflags |= WIRE_SEM_BOUNDED;
        if (flags & MPX_SEM_NO_UNDO)
                wflags |= WIRE_SEM_NO_UNDO;
        return conn_call(m, WIRE_OP_SEM_DECLARE, &conn_reply_created, cb, userdata, "nQQI", name, value, max,
                         wflags);
}

int mpx_sem_declare(mpx *m, const char *name, uint64_t value, uint64_t max, unsigned flags) {
        return (int) conn_sync(m, mpx_sem_declare_async(m, name, value, max, flags, CONN_SYNC));
}

/*
 * Take one unit of a semaphore, waiting up to timeout_ms. -EOWNERDEAD (the
 * unit is held, a previous holder died) is the reply's status, which the
 * engine maps like any other: its body is as empty as OK's.
 */
int64_t mpx_sem_acquire_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_SEM_ACQUIRE, NULL, cb, userdata, "nq", name, timeout_ms);
}

int mpx_sem_acquire(mpx *m, const char *name, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_sem_acquire_async(m, name, timeout_ms, CONN_SYNC));
}

/* Give one unit of a semaphore back. */
int64_t mpx_sem_release_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_SEM_RELEASE, NULL, cb, userdata, "n", name);
}

int mpx_sem_release(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_sem_release_async(m, name, CONN_SYNC));
}

/* VALUE's reply: u64 value, u64 max; the value is the result. */
static int64_t sem_parse_value(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t value, max;

        (void) rq;
        if (!wire_get_u64(rd, &value) || !wire_get_u64(rd, &max) || !wire_reader_done(rd))
                return -EPROTO;
        /* The daemon keeps every value within an i64. */
        if (value > (uint64_t) INT64_MAX)
                return -EPROTO;
        return (int64_t) value;
}

/* The number of units free now. */
int64_t mpx_sem_value_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_SEM_VALUE, &(struct conn_reply) { .parse = sem_parse_value },
                         cb, userdata, "n", name);
}

int64_t mpx_sem_value(mpx *m, const char *name) {
        return conn_sync(m, mpx_sem_value_async(m, name, CONN_SYNC));
}
