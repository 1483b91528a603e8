/* SPDX-License-Identifier: MIT */
/*
 * libmpx lists: declare, append, extend, get, set, insert, pop, remove,
 * index, len, slice and clear.
 *
 * Each call checks its arguments (names, pointers, item sizes against the
 * daemon's limits, an extend against one frame) before anything is sent,
 * builds one request and parses the reply strictly. A slice larger than one
 * reply frame is fetched with several requests, each continuing at the
 * absolute index where the previous reply stopped. Items handed to the
 * caller are malloc'd copies in mpx_buf. Output parameters are left alone
 * when a call fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* Check an item given as pointer and size: 0, -EINVAL or -EMSGSIZE. */
static int list_check_item(const mpx *m, const void *p, size_t size) {
        if (!p && size > 0)
                return -EINVAL;
        if (size > m->max_message || size > UINT32_MAX)
                return -EMSGSIZE;
        return 0;
}

/* Parse one bytes field of a reply into a caller-owned buffer. */
static int list_get_buf(struct wire_reader *rd, mpx_buf *ret) {
        const void *data;
        uint32_t size;
        void *copy;

        if (!wire_get_bytes(rd, &data, &size))
                return -EPROTO;
        copy = conn_memdup(data, size);
        if (!copy)
                return -ENOMEM;
        *ret = (mpx_buf) { .data = copy, .size = size };
        return 0;
}

/* A reply that is exactly one bytes field, into *ret. */
static int list_reply_buf(struct wire_reader *rd, mpx_buf *ret) {
        mpx_buf buf;
        int r;

        r = list_get_buf(rd, &buf);
        if (r < 0)
                return r;
        if (!wire_reader_done(rd)) {
                mpx_buf_clear(&buf);
                return -EPROTO;
        }
        *ret = buf;
        return 0;
}

/* A reply that is exactly one u64, as a non-negative int64_t. */
static int64_t list_reply_u64(struct wire_reader *rd) {
        uint64_t v;

        if (!wire_get_u64(rd, &v) || !wire_reader_done(rd))
                return -EPROTO;
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

/* Send a request whose body is the name, then an optional i64, then an optional item. */
static int list_call(mpx *m, uint16_t op, const char *name, const int64_t *index, const void *item,
                     size_t size, bool with_item, struct wire_reader *ret) {
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = with_item ? list_check_item(m, item, size) : 0;
        if (r >= 0)
                r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0 && index)
                r = wire_put_i64(&m->out, *index);
        if (r >= 0 && with_item)
                r = wire_put_bytes(&m->out, item, (uint32_t) size);
        if (r >= 0)
                r = conn_call(m, start, ret);
        return r;
}

/* Create a list with flags (MPX_DURABLE), or check that the name is one with the same durability. */
int mpx_list_declare_flags(mpx *m, const char *name, unsigned flags) {
        return conn_declare_name_flags(m, WIRE_OP_LIST_DECLARE, name, flags);
}

/* Create a list, or check that the name is one. */
int mpx_list_declare(mpx *m, const char *name) {
        return conn_declare_name_flags(m, WIRE_OP_LIST_DECLARE, name, 0);
}

/* l.append(item); the new length. */
int64_t mpx_list_append(mpx *m, const char *name, const void *item, size_t size) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_APPEND, name, NULL, item, size, true, &rd);
        if (r < 0)
                return r;
        return list_reply_u64(&rd);
}

/* l.extend(items) in one atomic request; the new length. */
int64_t mpx_list_extend(mpx *m, const char *name, const struct iovec *items, size_t n) {
        struct wire_reader rd;
        size_t start, body;
        int r;

        if (!m || !name || (n > 0 && !items))
                return -EINVAL;
        if (n > UINT32_MAX)
                return -EMSGSIZE;

        /* Check every size before copying anything: name, count, then the items. */
        body = 1 + strnlen(name, WIRE_NAME_MAX + 1) + 4;
        for (size_t i = 0; i < n; i++) {
                r = list_check_item(m, items[i].iov_base, items[i].iov_len);
                if (r < 0)
                        return r;
                body += 4 + items[i].iov_len;
                if (body > m->max_frame)
                        return -EMSGSIZE;
        }

        r = conn_begin(m, WIRE_OP_LIST_EXTEND, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
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
        return list_reply_u64(&rd);
}

/* l[index], copied into *ret. */
int mpx_list_get(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        struct wire_reader rd;
        int r;

        if (!ret)
                return -EINVAL;
        r = list_call(m, WIRE_OP_LIST_GET, name, &index, NULL, 0, false, &rd);
        if (r < 0)
                return r;
        return list_reply_buf(&rd, ret);
}

/* l[index] = item. */
int mpx_list_set(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_SET, name, &index, item, size, true, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* l.insert(index, item); the new length. */
int64_t mpx_list_insert(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_INSERT, name, &index, item, size, true, &rd);
        if (r < 0)
                return r;
        return list_reply_u64(&rd);
}

/* l.pop(index), copied into *ret. */
int mpx_list_pop(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        struct wire_reader rd;
        int r;

        if (!ret)
                return -EINVAL;
        r = list_call(m, WIRE_OP_LIST_POP, name, &index, NULL, 0, false, &rd);
        if (r < 0)
                return r;
        return list_reply_buf(&rd, ret);
}

/* l.remove(item). */
int mpx_list_remove(mpx *m, const char *name, const void *item, size_t size) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_REMOVE, name, NULL, item, size, true, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* l.index(item). */
int64_t mpx_list_index(mpx *m, const char *name, const void *item, size_t size) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_INDEX, name, NULL, item, size, true, &rd);
        if (r < 0)
                return r;
        return list_reply_u64(&rd);
}

/* len(l). */
int64_t mpx_list_len(mpx *m, const char *name) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_LEN, name, NULL, NULL, 0, false, &rd);
        if (r < 0)
                return r;
        return list_reply_u64(&rd);
}

/* Grow an array of buffers to hold at least want: 0 or -ENOMEM. */
static int list_bufs_grow(mpx_buf **items, size_t *cap, size_t want) {
        mpx_buf *p;
        size_t c = *cap ? *cap : 64;

        if (want <= *cap)
                return 0;
        while (c < want)
                c *= 2;
        p = realloc(*items, c * sizeof(*p));
        if (!p)
                return -ENOMEM;
        *items = p;
        *cap = c;
        return 0;
}

/* l[start:stop], in as many requests as it takes. */
int64_t mpx_list_slice(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items) {
        mpx_buf *items = NULL;
        size_t n = 0, cap = 0;
        bool first = true;
        int r;

        if (!ret_items)
                return -EINVAL;
        for (;; first = false) {
                struct wire_reader rd;
                uint64_t next, end;
                uint32_t k;
                size_t begin;

                r = conn_begin(m, WIRE_OP_LIST_SLICE, &begin);
                if (r >= 0)
                        r = conn_put_name(m, name);
                if (r >= 0)
                        r = wire_put_i64(&m->out, start);
                if (r >= 0)
                        r = wire_put_i64(&m->out, stop);
                if (r >= 0)
                        r = conn_call(m, begin, &rd);
                if (r < 0)
                        goto fail;
                r = -EPROTO;
                if (!wire_get_u64(&rd, &next) || !wire_get_u64(&rd, &end) || !wire_get_u32(&rd, &k))
                        goto fail;
                /* Each item takes at least 4 bytes: a bogus count cannot make us allocate. */
                if (k > rd.left / 4 || end > INT64_MAX || next > end)
                        goto fail;
                /* A reply that makes no progress would loop forever. */
                if (k == 0 && next < end)
                        goto fail;
                /* Later requests start at an absolute index: the reply must go on from there. */
                if (!first && k > 0 && next != (uint64_t) start + k)
                        goto fail;
                r = list_bufs_grow(&items, &cap, n + k);
                if (r < 0)
                        goto fail;
                for (uint32_t i = 0; i < k; i++) {
                        r = list_get_buf(&rd, &items[n]);
                        if (r < 0)
                                goto fail;
                        n++;
                }
                r = -EPROTO;
                if (!wire_reader_done(&rd))
                        goto fail;
                if (next >= end)
                        break;
                /* Go on from where this reply stopped, with the bounds it resolved. */
                start = (int64_t) next;
                stop = (int64_t) end;
        }
        *ret_items = items;
        return (int64_t) n;

fail:
        mpx_bufs_free(items, n);
        return r;
}

/* Remove every item; the number removed. */
int64_t mpx_list_clear(mpx *m, const char *name) {
        struct wire_reader rd;
        int r;

        r = list_call(m, WIRE_OP_LIST_CLEAR, name, NULL, NULL, 0, false, &rd);
        if (r < 0)
                return r;
        return list_reply_u64(&rd);
}
