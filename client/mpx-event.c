/* SPDX-License-Identifier: MIT */
/*
 * libmpx events and barriers: declare, set, clear, is_set and wait on
 * events; declare, wait, reset and abort on barriers, one request each.
 *
 * Each call checks its arguments before anything is sent and parses the
 * reply strictly. A barrier's arrival index comes back as the (non-negative)
 * return value of mpx_barrier_wait().
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "mpx-internal.h"

/* A request whose body is a name and whose reply is empty. */
static int sync_call_named(mpx *m, uint16_t op, const char *name) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Finish a request begun and named by the caller whose reply is u8 created or u8 set: 1, 0 or -errno. */
static int sync_call_u8(mpx *m, size_t start) {
        struct wire_reader rd;
        uint8_t v;
        int r;

        r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u8(&rd, &v) || !wire_reader_done(&rd))
                return -EPROTO;
        return v ? 1 : 0;
}

/* Create an event, initially clear, or find it. */
int mpx_event_declare(mpx *m, const char *name) {
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_EVENT_DECLARE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r < 0)
                return r;
        return sync_call_u8(m, start);
}

/* Set an event's flag, waking its waiters. */
int mpx_event_set(mpx *m, const char *name) {
        return sync_call_named(m, WIRE_OP_EVENT_SET, name);
}

/* Clear an event's flag. */
int mpx_event_clear(mpx *m, const char *name) {
        return sync_call_named(m, WIRE_OP_EVENT_CLEAR, name);
}

/* Whether an event's flag is set: 1, 0 or -errno. */
int mpx_event_is_set(mpx *m, const char *name) {
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_EVENT_IS_SET, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r < 0)
                return r;
        return sync_call_u8(m, start);
}

/* Wait until an event's flag is set, up to timeout_ms. */
int mpx_event_wait(mpx *m, const char *name, int64_t timeout_ms) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_EVENT_WAIT, &start);
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

/* Create a barrier for parties processes, or check that it exists so. */
int mpx_barrier_declare(mpx *m, const char *name, uint32_t parties) {
        size_t start;
        int r;

        if (parties == 0)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_BARRIER_DECLARE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, parties);
        if (r < 0)
                return r;
        return sync_call_u8(m, start);
}

/* Wait at a barrier until every party has arrived; the arrival index. */
int mpx_barrier_wait(mpx *m, const char *name, int64_t timeout_ms) {
        struct wire_reader rd;
        uint32_t index;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_BARRIER_WAIT, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u32(&rd, &index) || !wire_reader_done(&rd))
                return -EPROTO;
        /* An index is below parties, a u32; beyond INT_MAX it cannot be returned. */
        if (index > INT_MAX)
                return -ERANGE;
        return (int) index;
}

/* Make a barrier fresh and whole again; its waiters get -ENOTRECOVERABLE. */
int mpx_barrier_reset(mpx *m, const char *name) {
        return sync_call_named(m, WIRE_OP_BARRIER_RESET, name);
}

/* Break a barrier until it is reset. */
int mpx_barrier_abort(mpx *m, const char *name) {
        return sync_call_named(m, WIRE_OP_BARRIER_ABORT, name);
}
