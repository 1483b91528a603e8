/* SPDX-License-Identifier: MIT */
/*
 * libmpx queues and joinable queues: declare, put and get (one or many),
 * qsize and its friends, close, purge, task_done and join.
 *
 * Each call checks its arguments (names, flags, payload sizes against the
 * daemon's limits) before anything is queued, builds one request and names
 * the parser of its reply (mpx-internal.h); the synchronous form waits for
 * the asynchronous one. Payloads handed to the caller are malloc'd copies.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* DECLARE, with the optional TTR field when ttr_ms is not negative. */
static int64_t queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags, int64_t ttr_ms,
                             mpx_callback *cb, void *userdata) {
        if (flags & ~(MPX_QUEUE_JOINABLE | MPX_QUEUE_CONNECTION | CONN_DECLARE_FLAGS))
                return -EINVAL;
        return conn_call(m, WIRE_OP_QUEUE_DECLARE, &conn_reply_created, cb, userdata, ttr_ms >= 0 ? "nQII" : "nQI",
                         name, maxsize,
                         ((flags & MPX_QUEUE_JOINABLE) ? WIRE_QUEUE_JOINABLE : 0) |
                         ((flags & MPX_QUEUE_CONNECTION) ? WIRE_QUEUE_CONNECTION : 0) | conn_declare_flags(flags),
                         (uint32_t) ttr_ms);
}

int64_t mpx_queue_declare_async(mpx *m, const char *name, uint64_t maxsize, unsigned flags,
                                mpx_callback *cb, void *userdata) {
        return queue_declare(m, name, maxsize, flags, -1, cb, userdata);
}

int mpx_queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags) {
        return (int) conn_sync(m, mpx_queue_declare_async(m, name, maxsize, flags, CONN_SYNC));
}

int64_t mpx_queue_declare_ttr_async(mpx *m, const char *name, uint64_t maxsize, unsigned flags, uint32_t ttr_ms,
                                    mpx_callback *cb, void *userdata) {
        return queue_declare(m, name, maxsize, flags, ttr_ms, cb, userdata);
}

int mpx_queue_declare_ttr(mpx *m, const char *name, uint64_t maxsize, unsigned flags, uint32_t ttr_ms) {
        return (int) conn_sync(m, mpx_queue_declare_ttr_async(m, name, maxsize, flags, ttr_ms, CONN_SYNC));
}

/* Append one item to a queue. */
int64_t mpx_queue_put_async(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms,
                            mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_PUT, NULL, cb, userdata, "nqb", name, timeout_ms, data, size);
}

int mpx_queue_put(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms) {
        int r = conn_pipeline_begin(m, timeout_ms);

        if (r != 0)
                return r < 0 ? r : conn_pipelined(m, mpx_queue_put_async(m, name, data, size, timeout_ms,
                                                                         CONN_PIPELINE));
        return (int) conn_sync(m, mpx_queue_put_async(m, name, data, size, timeout_ms, CONN_SYNC));
}

/* Append n items to a queue in one request, all or none. */
int64_t mpx_queue_put_many_async(mpx *m, const char *name, const struct iovec *items, size_t n,
                                 int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        if (!m || !name || !items || n == 0)
                return -EINVAL;
        if (!wire_name_valid(name, strnlen(name, WIRE_NAME_MAX + 1)))
                return -EINVAL;
        return conn_call_entries(m, WIRE_OP_QUEUE_PUT_MANY, NULL, cb, userdata, name,
                                 &(struct conn_entries) { { items }, 1, n }, "q", timeout_ms);
}

int mpx_queue_put_many(mpx *m, const char *name, const struct iovec *items, size_t n, int64_t timeout_ms) {
        int r = conn_pipeline_begin(m, timeout_ms);

        if (r != 0)
                return r < 0 ? r : conn_pipelined(m, mpx_queue_put_many_async(m, name, items, n, timeout_ms,
                                                                              CONN_PIPELINE));
        return (int) conn_sync(m, mpx_queue_put_many_async(m, name, items, n, timeout_ms, CONN_SYNC));
}

/* Free an item's payload and zero the item. */
void mpx_item_clear(mpx_item *item) {
        if (!item)
                return;
        free(item->data);
        memset(item, 0, sizeof(*item));
}

/* Parse one item of a GET or GET_MANY reply into a caller-owned copy; with last, the reply must end there. */
static int queue_get_item(struct wire_reader *rd, bool last, mpx_item *ret) {
        const void *data;
        uint32_t size, deliveries;
        uint64_t tag;
        void *copy;

        if (!wire_get_u64(rd, &tag) || !wire_get_u32(rd, &deliveries) ||
            !wire_get_bytes(rd, &data, &size) || (last && !wire_reader_done(rd)))
                return -EPROTO;
        copy = conn_memdup(data, size);
        if (!copy)
                return -ENOMEM;
        *ret = (mpx_item) {
                .data = copy,
                .size = size,
                .tag = tag,
                .deliveries = deliveries,
        };
        return 0;
}

/* GET's reply: one item, to the mpx_item at out[0]. */
static int64_t queue_parse_item(struct conn_request *rq, struct wire_reader *rd) {
        return queue_get_item(rd, true, rq->reply.out[0]);
}

/*
 * GET_MANY's and PEEK's reply: u32 n, then n items into the array at out[0]
 * of arg[0] entries, through a private array so that it stays untouched on
 * failure. arg[1] says whether n may be 0 (PEEK). Returns n.
 */
static int64_t queue_parse_items(struct conn_request *rq, struct wire_reader *rd) {
        mpx_item *items = rq->reply.out[0], *got;
        uint32_t n;
        size_t i;
        int r;

        if (!wire_get_u32(rd, &n) || n > rq->reply.arg[0] || (n == 0 && !rq->reply.arg[1]))
                return -EPROTO;
        got = calloc(n ? n : 1, sizeof(*got));
        if (!got)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                r = queue_get_item(rd, false, &got[i]);
                if (r < 0)
                        goto fail;
        }
        r = conn_done(rd);
        if (r < 0)
                goto fail;
        memcpy(items, got, n * sizeof(*got));
        free(got);
        return n;

fail:
        while (i > 0)
                mpx_item_clear(&got[--i]);
        free(got);
        return r;
}

/*
 * GET, and with tag DONE_GET: TASK_DONE of tag first, in the same request.
 * Both end with the timeout, the flags, and the TTR when ttr_ms is not 0.
 */
static int64_t queue_get(mpx *m, uint16_t op, const char *name, uint64_t tag, int64_t timeout_ms, unsigned flags,
                         uint32_t ttr_ms, mpx_item *ret, mpx_callback *cb, void *userdata) {
        const struct conn_reply reply = { .parse = queue_parse_item, .out = { ret } };
        uint32_t wflags = (flags & MPX_GET_DETACH) ? WIRE_GET_DETACH : 0;

        if (!ret || (flags & ~MPX_GET_DETACH))
                return -EINVAL;
        if (op == WIRE_OP_QUEUE_DONE_GET)
                return conn_call(m, op, &reply, cb, userdata, ttr_ms ? "nQqII" : "nQqI", name, tag, timeout_ms,
                                 wflags, ttr_ms);
        return conn_call(m, op, &reply, cb, userdata, ttr_ms ? "nqII" : "nqI", name, timeout_ms, wflags, ttr_ms);
}

/* GET, with the optional TTR field when ttr_ms is not 0. */
int64_t mpx_queue_get_ttr_async(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, uint32_t ttr_ms,
                                mpx_item *ret, mpx_callback *cb, void *userdata) {
        return queue_get(m, WIRE_OP_QUEUE_GET, name, 0, timeout_ms, flags, ttr_ms, ret, cb, userdata);
}

int mpx_queue_get_ttr(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, uint32_t ttr_ms, mpx_item *ret) {
        return (int) conn_sync(m, mpx_queue_get_ttr_async(m, name, timeout_ms, flags, ttr_ms, ret, CONN_SYNC));
}

/* DONE_GET: TASK_DONE of tag, then GET, in one request. */
int64_t mpx_queue_done_get_async(mpx *m, const char *name, uint64_t tag, int64_t timeout_ms, unsigned flags,
                                 uint32_t ttr_ms, mpx_item *ret, mpx_callback *cb, void *userdata) {
        return queue_get(m, WIRE_OP_QUEUE_DONE_GET, name, tag, timeout_ms, flags, ttr_ms, ret, cb, userdata);
}

int mpx_queue_done_get(mpx *m, const char *name, uint64_t tag, int64_t timeout_ms, unsigned flags,
                       uint32_t ttr_ms, mpx_item *ret) {
        return (int) conn_sync(m, mpx_queue_done_get_async(m, name, tag, timeout_ms, flags, ttr_ms, ret,
                                                           CONN_SYNC));
}

/* Take the oldest item of a queue, with MPX_GET_* flags. */
int64_t mpx_queue_get_flags_async(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret,
                                  mpx_callback *cb, void *userdata) {
        return mpx_queue_get_ttr_async(m, name, timeout_ms, flags, 0, ret, cb, userdata);
}

int mpx_queue_get_flags(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret) {
        return mpx_queue_get_ttr(m, name, timeout_ms, flags, 0, ret);
}

/* Take the oldest item of a queue. */
int64_t mpx_queue_get_async(mpx *m, const char *name, int64_t timeout_ms, mpx_item *ret,
                            mpx_callback *cb, void *userdata) {
        return mpx_queue_get_ttr_async(m, name, timeout_ms, 0, 0, ret, cb, userdata);
}

int mpx_queue_get(mpx *m, const char *name, int64_t timeout_ms, mpx_item *ret) {
        return mpx_queue_get_ttr(m, name, timeout_ms, 0, 0, ret);
}

/*
 * GET_MANY (with timeout_ms) and PEEK (without): up to max items, in one
 * request, into items; the count is returned as an int.
 */
static int64_t queue_items(mpx *m, uint16_t op, const char *name, mpx_item *items, size_t max, int64_t timeout_ms,
                           mpx_callback *cb, void *userdata) {
        bool peek = op == WIRE_OP_QUEUE_PEEK;
        struct conn_reply reply = { .parse = queue_parse_items, .out = { items } };

        if (!items || max == 0)
                return -EINVAL;
        if (max > INT_MAX)
                max = INT_MAX;
        /* The most items the reply may carry, and whether it may carry none. */
        reply.arg[0] = max;
        reply.arg[1] = peek;
        if (peek)
                return conn_call(m, op, &reply, cb, userdata, "nI", name, (uint32_t) max);
        /* GET_MANY's flags: none. */
        return conn_call(m, op, &reply, cb, userdata, "nqII", name, timeout_ms, (uint32_t) 0, (uint32_t) max);
}

/* Take up to max items of a queue in one request. */
int64_t mpx_queue_get_many_async(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms,
                                 mpx_callback *cb, void *userdata) {
        return queue_items(m, WIRE_OP_QUEUE_GET_MANY, name, items, max, timeout_ms, cb, userdata);
}

int mpx_queue_get_many(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_queue_get_many_async(m, name, items, max, timeout_ms, CONN_SYNC));
}

/* Copy up to max items from the head of a queue without taking them. */
int64_t mpx_queue_peek_async(mpx *m, const char *name, mpx_item *items, size_t max,
                             mpx_callback *cb, void *userdata) {
        return queue_items(m, WIRE_OP_QUEUE_PEEK, name, items, max, 0, cb, userdata);
}

int mpx_queue_peek(mpx *m, const char *name, mpx_item *items, size_t max) {
        return (int) conn_sync(m, mpx_queue_peek_async(m, name, items, max, CONN_SYNC));
}

/* What of QSIZE's reply a call returns. */
enum queue_stat_what {
        QUEUE_STAT_ALL,                 /* the mpx_queue_status at out[0]; 0 */
        QUEUE_STAT_SIZE,                /* the size */
        QUEUE_STAT_EMPTY,               /* 1 when it holds no item */
        QUEUE_STAT_FULL,                /* 1 when a put would block */
};

/* QSIZE's reply, as arg[0] says. */
static int64_t queue_parse_stat(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t size, maxsize, unfinished;
        uint8_t closed;

        if (!wire_get_u64(rd, &size) || !wire_get_u64(rd, &maxsize) ||
            !wire_get_u64(rd, &unfinished) || !wire_get_u8(rd, &closed) || !wire_reader_done(rd))
                return -EPROTO;
        switch (rq->reply.arg[0]) {
        case QUEUE_STAT_SIZE:
                return size > INT64_MAX ? INT64_MAX : (int64_t) size;
        case QUEUE_STAT_EMPTY:
                return size == 0;
        case QUEUE_STAT_FULL:
                return maxsize > 0 && size >= maxsize;
        default:
                *(mpx_queue_status *) rq->reply.out[0] = (mpx_queue_status) {
                        .size = size,
                        .maxsize = maxsize,
                        .unfinished = unfinished,
                        .closed = closed ? 1 : 0,
                };
                return 0;
        }
}

static int64_t queue_stat(mpx *m, const char *name, enum queue_stat_what what, mpx_queue_status *ret,
                          mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_QSIZE,
                         &(struct conn_reply) { .parse = queue_parse_stat, .out = { ret }, .arg = { what } },
                         cb, userdata, "n", name);
}

/* Read a queue's size, limit, unfinished count and closed flag. */
int64_t mpx_queue_stat_async(mpx *m, const char *name, mpx_queue_status *ret, mpx_callback *cb, void *userdata) {
        if (!ret)
                return -EINVAL;
        return queue_stat(m, name, QUEUE_STAT_ALL, ret, cb, userdata);
}

int mpx_queue_stat(mpx *m, const char *name, mpx_queue_status *ret) {
        return (int) conn_sync(m, mpx_queue_stat_async(m, name, ret, CONN_SYNC));
}

/* The number of items waiting in a queue. */
int64_t mpx_queue_qsize_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return queue_stat(m, name, QUEUE_STAT_SIZE, NULL, cb, userdata);
}

int64_t mpx_queue_qsize(mpx *m, const char *name) {
        return conn_sync(m, mpx_queue_qsize_async(m, name, CONN_SYNC));
}

/* Whether a queue holds no item. */
int64_t mpx_queue_empty_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return queue_stat(m, name, QUEUE_STAT_EMPTY, NULL, cb, userdata);
}

int mpx_queue_empty(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_queue_empty_async(m, name, CONN_SYNC));
}

/* Whether a put on a bounded queue would block. */
int64_t mpx_queue_full_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return queue_stat(m, name, QUEUE_STAT_FULL, NULL, cb, userdata);
}

int mpx_queue_full(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_queue_full_async(m, name, CONN_SYNC));
}

/* Close a queue to further puts. */
int64_t mpx_queue_close_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_CLOSE, NULL, cb, userdata, "n", name);
}

int mpx_queue_close(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_queue_close_async(m, name, CONN_SYNC));
}

/* Drop every item waiting in a queue. */
int64_t mpx_queue_purge_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_PURGE, &conn_reply_u64, cb, userdata, "n", name);
}

int64_t mpx_queue_purge(mpx *m, const char *name) {
        return conn_sync(m, mpx_queue_purge_async(m, name, CONN_SYNC));
}

/* Mark a delivery of a joinable queue finished. */
int64_t mpx_queue_task_done_async(mpx *m, const char *name, uint64_t tag, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_TASK_DONE, NULL, cb, userdata, "nQ", name, tag);
}

int mpx_queue_task_done(mpx *m, const char *name, uint64_t tag) {
        return (int) conn_sync(m, mpx_queue_task_done_async(m, name, tag, CONN_SYNC));
}

/* Restart the lease of a delivery. */
int64_t mpx_queue_touch_async(mpx *m, const char *name, uint64_t tag, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_TOUCH, NULL, cb, userdata, "nQ", name, tag);
}

int mpx_queue_touch(mpx *m, const char *name, uint64_t tag) {
        return (int) conn_sync(m, mpx_queue_touch_async(m, name, tag, CONN_SYNC));
}

/* Wait until every item of a joinable queue is done. */
int64_t mpx_queue_join_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_QUEUE_JOIN, NULL, cb, userdata, "nq", name, timeout_ms);
}

int mpx_queue_join(mpx *m, const char *name, int64_t timeout_ms) {
        return (int) conn_sync(m, mpx_queue_join_async(m, name, timeout_ms, CONN_SYNC));
}
