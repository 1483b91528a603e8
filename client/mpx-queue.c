/* SPDX-License-Identifier: MIT */
/*
 * libmpx queues and joinable queues: declare, put and get (one or many),
 * qsize and its friends, close, purge, task_done and join.
 *
 * Each call checks its arguments (names, flags, payload sizes against the
 * daemon's limits) before anything is sent, builds one request and parses
 * the reply strictly. Payloads handed to the caller are malloc'd copies; the
 * reply buffer itself is reused by the next request.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* Create a queue or check that it exists with these parameters. */
/* DECLARE, with the optional TTR field when ttr_ms is not negative. */
static int queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags, int64_t ttr_ms) {
        size_t start;
        int r;

        if (flags & ~(MPX_QUEUE_JOINABLE | MPX_QUEUE_CONNECTION | MPX_DURABLE))
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_QUEUE_DECLARE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u64(&m->out, maxsize);
        if (r >= 0)
                r = wire_put_u32(&m->out, ((flags & MPX_QUEUE_JOINABLE) ? WIRE_QUEUE_JOINABLE : 0) |
                                 ((flags & MPX_QUEUE_CONNECTION) ? WIRE_QUEUE_CONNECTION : 0) |
                                 ((flags & MPX_DURABLE) ? WIRE_DECLARE_DURABLE : 0));
        if (r >= 0 && ttr_ms >= 0)
                r = wire_put_u32(&m->out, (uint32_t) ttr_ms);
        return conn_call_declare(m, start, r);
}

int mpx_queue_declare(mpx *m, const char *name, uint64_t maxsize, unsigned flags) {
        return queue_declare(m, name, maxsize, flags, -1);
}

int mpx_queue_declare_ttr(mpx *m, const char *name, uint64_t maxsize, unsigned flags, uint32_t ttr_ms) {
        return queue_declare(m, name, maxsize, flags, ttr_ms);
}

/* Append one item to a queue. */
int mpx_queue_put(mpx *m, const char *name, const void *data, size_t size, int64_t timeout_ms) {
        struct wire_reader rd;
        size_t start;
        int r;

        if (!m || (!data && size > 0))
                return -EINVAL;
        if (size > m->max_message || size > UINT32_MAX)
                return -EMSGSIZE;
        r = conn_begin(m, WIRE_OP_QUEUE_PUT, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = wire_put_bytes(&m->out, data, (uint32_t) size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Append n items to a queue in one request, all or none. */
int mpx_queue_put_many(mpx *m, const char *name, const struct iovec *items, size_t n,
                       int64_t timeout_ms) {
        struct wire_reader rd;
        size_t start, body;
        int r;

        if (!m || !name || !items || n == 0)
                return -EINVAL;
        if (!wire_name_valid(name, strnlen(name, WIRE_NAME_MAX + 1)))
                return -EINVAL;
        if (n > UINT32_MAX)
                return -EMSGSIZE;

        /* Check sizes before copying anything: name, timeout, count, then the items. */
        body = 1 + strnlen(name, WIRE_NAME_MAX + 1) + 8 + 4;
        for (size_t i = 0; i < n; i++) {
                if (!items[i].iov_base && items[i].iov_len > 0)
                        return -EINVAL;
                if (items[i].iov_len > m->max_message || items[i].iov_len > UINT32_MAX)
                        return -EMSGSIZE;
                body += 4 + items[i].iov_len;
                if (body > m->max_frame)
                        return -EMSGSIZE;
        }

        r = conn_begin(m, WIRE_OP_QUEUE_PUT_MANY, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) n);
        if (r >= 0)
                r = wire_buf_reserve(&m->out, body);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = wire_put_bytes(&m->out, items[i].iov_base, (uint32_t) items[i].iov_len);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Free an item's payload and zero the item. */
void mpx_item_clear(mpx_item *item) {
        if (!item)
                return;
        free(item->data);
        memset(item, 0, sizeof(*item));
}

/* Parse one item of a GET or GET_MANY reply into a caller-owned copy. */
static int queue_get_item(struct wire_reader *rd, mpx_item *ret) {
        const void *data;
        uint32_t size, deliveries;
        uint64_t tag;
        void *copy;

        if (!wire_get_u64(rd, &tag) || !wire_get_u32(rd, &deliveries) ||
            !wire_get_bytes(rd, &data, &size))
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

/*
 * Parse the n items that end a reply into items, through a private array so
 * that items stays untouched on failure. Returns n or a negative errno.
 */
static int queue_get_items(struct wire_reader *rd, uint32_t n, mpx_item *items) {
        mpx_item *got = calloc(n ? n : 1, sizeof(*got));
        size_t i;
        int r;

        if (!got)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                r = queue_get_item(rd, &got[i]);
                if (r < 0)
                        goto fail;
        }
        if (!wire_reader_done(rd)) {
                r = -EPROTO;
                goto fail;
        }
        memcpy(items, got, n * sizeof(*got));
        free(got);
        return (int) n;

fail:
        while (i > 0)
                mpx_item_clear(&got[--i]);
        free(got);
        return r;
}

/* Take the oldest item of a queue, with MPX_GET_* flags. */
int mpx_queue_get_flags(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, mpx_item *ret) {
        return mpx_queue_get_ttr(m, name, timeout_ms, flags, 0, ret);
}

/* GET, with the optional TTR field when ttr_ms is not 0. */
int mpx_queue_get_ttr(mpx *m, const char *name, int64_t timeout_ms, unsigned flags, uint32_t ttr_ms, mpx_item *ret) {
        struct wire_reader rd;
        mpx_item item;
        size_t start;
        int r;

        if (!ret || (flags & ~MPX_GET_DETACH))
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_QUEUE_GET, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = wire_put_u32(&m->out, (flags & MPX_GET_DETACH) ? WIRE_GET_DETACH : 0);
        if (r >= 0 && ttr_ms)
                r = wire_put_u32(&m->out, ttr_ms);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        r = queue_get_item(&rd, &item);
        if (r < 0)
                return r;
        if (!wire_reader_done(&rd)) {
                mpx_item_clear(&item);
                return -EPROTO;
        }
        *ret = item;
        return 0;
}

/* Take the oldest item of a queue. */
int mpx_queue_get(mpx *m, const char *name, int64_t timeout_ms, mpx_item *ret) {
        return mpx_queue_get_flags(m, name, timeout_ms, 0, ret);
}

/* Take up to max items of a queue in one request. */
int mpx_queue_get_many(mpx *m, const char *name, mpx_item *items, size_t max, int64_t timeout_ms) {
        struct wire_reader rd;
        uint32_t n;
        size_t start;
        int r;

        if (!items || max == 0)
                return -EINVAL;
        /* The count is returned as an int. */
        if (max > INT_MAX)
                max = INT_MAX;
        r = conn_begin(m, WIRE_OP_QUEUE_GET_MANY, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, timeout_ms);
        if (r >= 0)
                r = wire_put_u32(&m->out, 0);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) max);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u32(&rd, &n) || n == 0 || n > max)
                return -EPROTO;

        return queue_get_items(&rd, n, items);
}

/* Copy up to max items from the head of a queue without taking them. */
int mpx_queue_peek(mpx *m, const char *name, mpx_item *items, size_t max) {
        struct wire_reader rd;
        uint32_t n;
        size_t start;
        int r;

        if (!items || max == 0)
                return -EINVAL;
        if (max > INT_MAX)
                max = INT_MAX;
        r = conn_begin(m, WIRE_OP_QUEUE_PEEK, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) max);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u32(&rd, &n) || n > max)
                return -EPROTO;
        return queue_get_items(&rd, n, items);
}

/* Read a queue's size, limit, unfinished count and closed flag. */
int mpx_queue_stat(mpx *m, const char *name, mpx_queue_status *ret) {
        struct wire_reader rd;
        uint64_t size, maxsize, unfinished;
        uint8_t closed;
        size_t start;
        int r;

        if (!ret)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_QUEUE_QSIZE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &size) || !wire_get_u64(&rd, &maxsize) ||
            !wire_get_u64(&rd, &unfinished) || !wire_get_u8(&rd, &closed) || !wire_reader_done(&rd))
                return -EPROTO;
        *ret = (mpx_queue_status) {
                .size = size,
                .maxsize = maxsize,
                .unfinished = unfinished,
                .closed = closed ? 1 : 0,
        };
        return 0;
}

/* The number of items waiting in a queue. */
int64_t mpx_queue_qsize(mpx *m, const char *name) {
        mpx_queue_status st;
        int r;

        r = mpx_queue_stat(m, name, &st);
        if (r < 0)
                return r;
        return st.size > INT64_MAX ? INT64_MAX : (int64_t) st.size;
}

/* Whether a queue holds no item. */
int mpx_queue_empty(mpx *m, const char *name) {
        mpx_queue_status st;
        int r;

        r = mpx_queue_stat(m, name, &st);
        if (r < 0)
                return r;
        return st.size == 0;
}

/* Whether a put on a bounded queue would block. */
int mpx_queue_full(mpx *m, const char *name) {
        mpx_queue_status st;
        int r;

        r = mpx_queue_stat(m, name, &st);
        if (r < 0)
                return r;
        return st.maxsize > 0 && st.size >= st.maxsize;
}

/* A request whose body is just the name and whose reply is empty. */
static int queue_simple(mpx *m, uint16_t op, const char *name) {
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

/* Close a queue to further puts. */
int mpx_queue_close(mpx *m, const char *name) {
        return queue_simple(m, WIRE_OP_QUEUE_CLOSE, name);
}

/* Drop every item waiting in a queue. */
int64_t mpx_queue_purge(mpx *m, const char *name) {
        struct wire_reader rd;
        uint64_t removed;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_QUEUE_PURGE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &removed) || !wire_reader_done(&rd))
                return -EPROTO;
        return removed > INT64_MAX ? INT64_MAX : (int64_t) removed;
}

/* A request that names a delivery: name, u64 tag -> empty (TASK_DONE, TOUCH). */
static int queue_call_tag(mpx *m, uint16_t op, const char *name, uint64_t tag) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u64(&m->out, tag);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Mark a delivery of a joinable queue finished. */
int mpx_queue_task_done(mpx *m, const char *name, uint64_t tag) {
        return queue_call_tag(m, WIRE_OP_QUEUE_TASK_DONE, name, tag);
}

/* Restart the lease of a delivery. */
int mpx_queue_touch(mpx *m, const char *name, uint64_t tag) {
        return queue_call_tag(m, WIRE_OP_QUEUE_TOUCH, name, tag);
}

/* Wait until every item of a joinable queue is done. */
int mpx_queue_join(mpx *m, const char *name, int64_t timeout_ms) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_QUEUE_JOIN, &start);
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
