/* SPDX-License-Identifier: MIT */
/*
 * libmpx events and barriers: declare, set, clear, is_set and wait on
 * events; declare, wait, reset and abort on barriers, one request each.
 *
 * Each call checks its arguments before anything is queued, builds one
 * request and names the parser of its reply (mpx-internal.h); the
 * synchronous form waits for the asynchronous one. A barrier's arrival index
 * comes back as the (non-negative) return value of mpx_barrier_wait().
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "mpx-internal.h"

/* Create an event, initially clear, or find it; flags: MPX_COUNTED (an event is never durable). */
int64_t mpx_event_declare_flags_async(mpx *m, const char *name, unsigned flags, mpx_callback *cb, void *userdata) {
        if (flags & MPX_DURABLE)
                return -EINVAL;
        return conn_declare_name_flags_async(m, WIRE_OP_EVENT_DECLARE, name, flags, cb, userdata);
}

int mpx_event_declare_flags(mpx *m, const char *name, unsigned flags) {
        return (int) conn_sync(m, mpx_event_declare_flags_async(m, name, flags, CONN_SYNC));
}

int64_t mpx_event_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return mpx_event_declare_flags_async(m, name, 0, cb, userdata);
}

int mpx_event_declare(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_event_declare_async(m, name, CONN_SYNC));
}

/* Set an event's flag, waking its waiters. */
int64_t mpx_event_set_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_EVENT_SET, NULL, cb, userdata, "n", name);
}

int mpx_event_set(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_event_set_async(m, name, CONN_SYNC));
}

/* Clear an event's flag. */
int64_t mpx_event_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_EVENT_CLEAR, NULL, cb, userdata, "n", name);
}

int mpx_event_clear(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_event_clear_async(m, name, CONN_SYNC));
}

/* Whether an event's flag is set: 1, 0 or -errno. */
int64_t mpx_event_is_set_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_EVENT_IS_SET, &conn_reply_bool, cb, userdata, "n", name);
}

int mpx_event_is_set(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_event_is_set_async(m, name, CONN_SYNC));
}

/* Wait until an event's flag is set, up to timeout_ms. */
int64_t mpx_event_wait_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_EVENT_WAIT, NULL, cb, userdata, "nq", name, timeout_ms);
}

int mpx_event_wait(mpx *m, const char *name, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_event_wait_async(m, name, timeout_ms, CONN_SYNC));
}

/*
 * Create a barrier for parties processes, or check that it exists so; flags:
 * MPX_COUNTED, MPX_BARRIER_ACTION (a barrier is never durable); timeout_ms:
 * the default of its waits, negative for none, or MPX_TIMEOUT_DEFAULT to
 * leave it out (the body then ends at the flags, which matches any timeout).
 * Without with_flags the body ends at parties, which matches any action and
 * timeout.
 */
static int64_t barrier_declare(mpx *m, const char *name, uint32_t parties, bool with_flags, unsigned flags,
                               int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        bool has_timeout = timeout_ms != MPX_TIMEOUT_DEFAULT;

        if (parties == 0 || (flags & ~(MPX_COUNTED | MPX_BARRIER_ACTION)))
                return -EINVAL;
        /* The flags are there when asked for, or when the timeout after them is. */
        return conn_call(m, WIRE_OP_BARRIER_DECLARE, &conn_reply_created, cb, userdata,
                         has_timeout ? "nIIq" : with_flags ? "nII" : "nI", name, parties,
                         conn_declare_flags(flags) | ((flags & MPX_BARRIER_ACTION) ? WIRE_BARRIER_ACTION : 0),
                         timeout_ms < 0 ? (int64_t) -1 : timeout_ms);
}

int64_t mpx_barrier_declare_timeout_async(mpx *m, const char *name, uint32_t parties, unsigned flags,
                                          int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        return barrier_declare(m, name, parties, true, flags, timeout_ms, cb, userdata);
}

int mpx_barrier_declare_timeout(mpx *m, const char *name, uint32_t parties, unsigned flags, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_barrier_declare_timeout_async(m, name, parties, flags, timeout_ms,
                                                                    CONN_SYNC));
}

int64_t mpx_barrier_declare_flags_async(mpx *m, const char *name, uint32_t parties, unsigned flags,
                                        mpx_callback *cb, void *userdata) {
        return barrier_declare(m, name, parties, true, flags, MPX_TIMEOUT_DEFAULT, cb, userdata);
}

int mpx_barrier_declare_flags(mpx *m, const char *name, uint32_t parties, unsigned flags) {
        return (int) conn_sync(m, mpx_barrier_declare_flags_async(m, name, parties, flags, CONN_SYNC));
}

/* The action of the round this connection holds ran: release the round. */
int64_t mpx_barrier_pass_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_BARRIER_PASS, NULL, cb, userdata, "n", name);
}

int mpx_barrier_pass(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_barrier_pass_async(m, name, CONN_SYNC));
}

int64_t mpx_barrier_declare_async(mpx *m, const char *name, uint32_t parties, mpx_callback *cb, void *userdata) {
        return barrier_declare(m, name, parties, false, 0, MPX_TIMEOUT_DEFAULT, cb, userdata);
}

int mpx_barrier_declare(mpx *m, const char *name, uint32_t parties) {
        return (int) conn_sync(m, mpx_barrier_declare_async(m, name, parties, CONN_SYNC));
}

/* BARRIER_WAIT's reply: u32 arrival index, the result. */
static int64_t barrier_parse_index(struct conn_request *rq, struct wire_reader *rd) {
        uint32_t index;

        (void) rq;
        if (!wire_get_u32(rd, &index) || !wire_reader_done(rd))
                return -EPROTO;
        /* An index is below parties, a u32; beyond INT_MAX it cannot be returned. */
        if (index > INT_MAX)
                return -ERANGE;
        return index;
}

/* Wait at a barrier until every party has arrived; the arrival index. */
int64_t mpx_barrier_wait_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_BARRIER_WAIT, &(struct conn_reply) { .parse = barrier_parse_index },
                         cb, userdata, "nq", name, timeout_ms);
}

int mpx_barrier_wait(mpx *m, const char *name, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_barrier_wait_async(m, name, timeout_ms, CONN_SYNC));
}

/* Make a barrier fresh and whole again; its waiters get -ENOTRECOVERABLE. */
int64_t mpx_barrier_reset_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_BARRIER_RESET, NULL, cb, userdata, "n", name);
}

int mpx_barrier_reset(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_barrier_reset_async(m, name, CONN_SYNC));
}

/* Break a barrier until it is reset. */
int64_t mpx_barrier_abort_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_BARRIER_ABORT, NULL, cb, userdata, "n", name);
}

int mpx_barrier_abort(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_barrier_abort_async(m, name, CONN_SYNC));
}
