/* SPDX-License-Identifier: MIT */
/*
 * libmpx semaphores and locks: declare, acquire, release and value, one
 * request each. A lock is only a way of declaring (value 1 bounded at 1);
 * the calls are the same.
 *
 * Each call checks its arguments before anything is sent and parses the
 * reply strictly. The units a connection holds are counted by the daemon,
 * not here: closing the connection is what gives them back (SEM_UNDO).
 */
#include <errno.h>
#include <stdint.h>

#include "mpx-internal.h"

/* Create a semaphore or check that it exists with these parameters. */
int mpx_sem_declare(mpx *m, const char *name, uint64_t value, uint64_t max, unsigned flags) {
        uint32_t wflags = 0;
        size_t start;
        int r;

        if (flags & ~(MPX_SEM_BOUNDED | MPX_SEM_NO_UNDO | MPX_DURABLE))
                return -EINVAL;
        if (flags & MPX_DURABLE)
                wflags |= WIRE_DECLARE_DURABLE;
        if (flags & MPX_SEM_BOUNDED)
                wflags |= WIRE_SEM_BOUNDED;
        if (flags & MPX_SEM_NO_UNDO)
                wflags |= WIRE_SEM_NO_UNDO;
        r = conn_begin(m, WIRE_OP_SEM_DECLARE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u64(&m->out, value);
        if (r >= 0)
                r = wire_put_u64(&m->out, max);
        if (r >= 0)
                r = wire_put_u32(&m->out, wflags);
        return conn_call_declare(m, start, r);
}

/* Take one unit of a semaphore, waiting up to timeout_ms. */
int mpx_sem_acquire(mpx *m, const char *name, int64_t timeout_ms) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_SEM_ACQUIRE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Give one unit of a semaphore back. */
int mpx_sem_release(mpx *m, const char *name) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_SEM_RELEASE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* The number of units free now. */
int64_t mpx_sem_value(mpx *m, const char *name) {
        struct wire_reader rd;
        uint64_t value, max;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_SEM_VALUE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &value) || !wire_get_u64(&rd, &max) || !wire_reader_done(&rd))
                return -EPROTO;
        /* The daemon keeps every value within an i64. */
        if (value > (uint64_t) INT64_MAX)
                return -EPROTO;
        return (int64_t) value;
}
