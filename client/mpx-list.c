/* SPDX-License-Identifier: MIT */
/*
 * libmpx lists: declare, append, extend, get, set, insert, pop, remove,
 * index, len, slice and clear.
 *
 * Each call checks its arguments (names, pointers, item sizes against the
 * daemon's limits, an extend against one frame) before anything is queued,
 * builds one request and names the parser of its reply; the synchronous
 * form waits for the asynchronous one. A slice larger than one reply frame
 * is fetched with several requests, each made once the one before is
 * answered (a chain: mpx-internal.h). Items handed to the caller are
 * malloc'd copies in mpx_buf. Output parameters are left alone when a call
 * fails.
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

/* Queue a request of the shape "name[, i64 index][, bytes item]" with how its reply is read. */
static int64_t list_submit(mpx *m, uint16_t op, const char *name, const int64_t *index, const void *item,
                           size_t size, bool with_item, const struct conn_reply *reply,
                           mpx_callback *cb, void *userdata) {
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = with_item ? list_check_item(m, item, size) : 0;
        if (r < 0)
                return r;
        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0 && index)
                r = wire_put_i64(&m->out, *index);
        if (r >= 0 && with_item)
                r = wire_put_bytes(&m->out, item, (uint32_t) size);
        return conn_submit(m, start, r, reply, cb, userdata);
}

static const struct conn_reply list_reply_len = { .parse = conn_parse_u64 };

/* Create a list with flags (MPX_DURABLE), or check that the name is one with the same durability. */
int64_t mpx_list_declare_flags_async(mpx *m, const char *name, unsigned flags, mpx_callback *cb, void *userdata) {
        return conn_declare_name_flags_async(m, WIRE_OP_LIST_DECLARE, name, flags, cb, userdata);
}

int mpx_list_declare_flags(mpx *m, const char *name, unsigned flags) {
        return conn_declare_name_flags(m, WIRE_OP_LIST_DECLARE, name, flags);
}

/* Create a list, or check that the name is one. */
int64_t mpx_list_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_declare_name_flags_async(m, WIRE_OP_LIST_DECLARE, name, 0, cb, userdata);
}

int mpx_list_declare(mpx *m, const char *name) {
        return conn_declare_name_flags(m, WIRE_OP_LIST_DECLARE, name, 0);
}

/* l.append(item); the new length. */
int64_t mpx_list_append_async(mpx *m, const char *name, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_APPEND, name, NULL, item, size, true, &list_reply_len, cb, userdata);
}

int64_t mpx_list_append(mpx *m, const char *name, const void *item, size_t size) {
        return conn_sync(m, mpx_list_append_async(m, name, item, size, CONN_SYNC));
}

/* l.extend(items) in one atomic request; the new length. */
/*
 * The size of a body of the name, head bytes of fixed fields, a u32 count
 * and n items, checked against the limits before anything is queued: the
 * size, or -EINVAL, -EMSGSIZE.
 */
static int64_t list_items_body(const mpx *m, const char *name, size_t head, const struct iovec *items, size_t n) {
        size_t body;
        int r;

        if (!m || !name || (n > 0 && !items))
                return -EINVAL;
        if (n > UINT32_MAX)
                return -EMSGSIZE;
        body = 1 + strnlen(name, WIRE_NAME_MAX + 1) + head + 4;
        for (size_t i = 0; i < n; i++) {
                r = list_check_item(m, items[i].iov_base, items[i].iov_len);
                if (r < 0)
                        return r;
                body += 4 + items[i].iov_len;
                if (body > m->max_frame)
                        return -EMSGSIZE;
        }
        return (int64_t) body;
}

/* Append the u32 count and the items of a body list_items_body() measured. */
static int list_put_items(mpx *m, size_t body, const struct iovec *items, size_t n) {
        int r = wire_put_u32(&m->out, (uint32_t) n);

        if (r >= 0)
                r = wire_buf_reserve(&m->out, body);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = wire_put_bytes(&m->out, items[i].iov_base, (uint32_t) items[i].iov_len);
        return r;
}

int64_t mpx_list_extend_async(mpx *m, const char *name, const struct iovec *items, size_t n,
                              mpx_callback *cb, void *userdata) {
        int64_t body = list_items_body(m, name, 0, items, n);
        size_t start;
        int r;

        if (body < 0)
                return body;
        r = conn_begin(m, WIRE_OP_LIST_EXTEND, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = list_put_items(m, (size_t) body, items, n);
        return conn_submit(m, start, r, &list_reply_len, cb, userdata);
}

int64_t mpx_list_extend(mpx *m, const char *name, const struct iovec *items, size_t n) {
        return conn_sync(m, mpx_list_extend_async(m, name, items, n, CONN_SYNC));
}

/* l[index], copied into *ret. */
int64_t mpx_list_get_async(mpx *m, const char *name, int64_t index, mpx_buf *ret, mpx_callback *cb, void *userdata) {
        if (!ret)
                return -EINVAL;
        return list_submit(m, WIRE_OP_LIST_GET, name, &index, NULL, 0, false, &(struct conn_reply) { .parse = conn_parse_buf, .out = { ret } }, cb, userdata);
}

int mpx_list_get(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_list_get_async(m, name, index, ret, CONN_SYNC));
}

/* l[index] = item. */
int64_t mpx_list_set_async(mpx *m, const char *name, int64_t index, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_SET, name, &index, item, size, true, NULL, cb, userdata);
}

int mpx_list_set(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        return (int) conn_sync(m, mpx_list_set_async(m, name, index, item, size, CONN_SYNC));
}

/* l.insert(index, item); the new length. */
int64_t mpx_list_insert_async(mpx *m, const char *name, int64_t index, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_INSERT, name, &index, item, size, true, &list_reply_len, cb, userdata);
}

int64_t mpx_list_insert(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        return conn_sync(m, mpx_list_insert_async(m, name, index, item, size, CONN_SYNC));
}

/* l.pop(index), copied into *ret. */
int64_t mpx_list_pop_async(mpx *m, const char *name, int64_t index, mpx_buf *ret, mpx_callback *cb, void *userdata) {
        if (!ret)
                return -EINVAL;
        return list_submit(m, WIRE_OP_LIST_POP, name, &index, NULL, 0, false, &(struct conn_reply) { .parse = conn_parse_buf, .out = { ret } }, cb, userdata);
}

int mpx_list_pop(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_list_pop_async(m, name, index, ret, CONN_SYNC));
}

/* l.remove(item). */
int64_t mpx_list_remove_async(mpx *m, const char *name, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_REMOVE, name, NULL, item, size, true, NULL, cb, userdata);
}

int mpx_list_remove(mpx *m, const char *name, const void *item, size_t size) {
        return (int) conn_sync(m, mpx_list_remove_async(m, name, item, size, CONN_SYNC));
}

/* l.index(item). */
int64_t mpx_list_index_async(mpx *m, const char *name, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_INDEX, name, NULL, item, size, true, &list_reply_len, cb, userdata);
}

int64_t mpx_list_index(mpx *m, const char *name, const void *item, size_t size) {
        return conn_sync(m, mpx_list_index_async(m, name, item, size, CONN_SYNC));
}

/* len(l). */
int64_t mpx_list_len_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_LEN, name, NULL, NULL, 0, false, &list_reply_len, cb, userdata);
}

int64_t mpx_list_len(mpx *m, const char *name) {
        return conn_sync(m, mpx_list_len_async(m, name, CONN_SYNC));
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

/*
 * A slice on its way: one request per reply frame, each continuing at the
 * absolute index where the previous reply stopped, with the bounds the
 * first reply resolved. It holds a copy of the list's name, since the
 * caller may reuse its own at once, and the items gathered so far.
 */
struct list_slice {
        mpx_callback *cb;
        void *userdata;
        mpx_buf **ret_items;
        mpx_buf *items;
        size_t n, cap;
        bool first;                     /* the request in flight is the first */
        int64_t start, stop;            /* its bounds */
        uint64_t next, end;             /* from its reply: where to go on, where to stop */
        int64_t asked_start, asked_stop;        /* the caller's bounds, to start over from */
        uint64_t *ret_version;          /* non-NULL: every page carries the list's version */
        uint64_t version, page_version; /* the first page's, the last page's */
        unsigned restarts;              /* times the list changed between two pages */
        char name[];
};

/* A versioned slice whose list keeps changing between its pages gives up after this many tries. */
#define LIST_SLICE_RESTARTS 100

/* LIST_SLICE's reply: u64 next, u64 end, u32 k, k items, appended to the slice at out[0]. */
static int64_t list_parse_slice(struct conn_request *rq, struct wire_reader *rd) {
        struct list_slice *s = rq->reply.out[0];
        uint64_t next, end;
        uint32_t k;
        int r;

        if (!wire_get_u64(rd, &next) || !wire_get_u64(rd, &end) || !wire_get_u32(rd, &k))
                return -EPROTO;
        /* Each item takes at least 4 bytes: a bogus count cannot make us allocate. */
        if (k > rd->left / 4 || end > INT64_MAX || next > end)
                return -EPROTO;
        /* A reply that makes no progress would loop forever. */
        if (k == 0 && next < end)
                return -EPROTO;
        /* Later requests start at an absolute index: the reply must go on from there. */
        if (!s->first && k > 0 && next != (uint64_t) s->start + k)
                return -EPROTO;
        r = list_bufs_grow(&s->items, &s->cap, s->n + k);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < k; i++) {
                r = list_get_buf(rd, &s->items[s->n]);
                if (r < 0)
                        return r;
                s->n++;
        }
        if (s->ret_version && !wire_get_u64(rd, &s->page_version))
                return -EPROTO;
        if (!wire_reader_done(rd))
                return -EPROTO;
        s->next = next;
        s->end = end;
        return 0;
}

static int64_t list_slice_request(mpx *m, struct list_slice *s);

/* The end of a slice: the caller's callback, with the items handed over on success. */
static void list_slice_end(mpx *m, struct list_slice *s, int64_t result) {
        mpx_callback *cb = s->cb;
        void *userdata = s->userdata;

        if (result >= 0) {
                *s->ret_items = s->items;
                if (s->ret_version)
                        *s->ret_version = s->version;
                result = (int64_t) s->n;
        } else
                mpx_bufs_free(s->items, s->n);
        free(s);
        cb(m, result, userdata);
}

static void list_slice_page(mpx *m, int64_t result, void *userdata) {
        struct list_slice *s = userdata;
        int64_t id;

        if (result >= 0 && s->ret_version) {
                if (s->first)
                        s->version = s->page_version;
                else if (s->page_version != s->version) {
                        /* The list changed between two pages: what was read is not one state of it. */
                        if (++s->restarts > LIST_SLICE_RESTARTS) {
                                list_slice_end(m, s, -EAGAIN);
                                return;
                        }
                        mpx_bufs_free(s->items, s->n);
                        s->items = NULL;
                        s->n = s->cap = 0;
                        s->first = true;
                        s->start = s->asked_start;
                        s->stop = s->asked_stop;
                        id = list_slice_request(m, s);
                        if (id < 0)
                                list_slice_end(m, s, id);
                        return;
                }
        }
        if (result < 0 || s->next >= s->end) {
                list_slice_end(m, s, result);
                return;
        }
        /* Go on from where this reply stopped, with the bounds it resolved. */
        s->first = false;
        s->start = (int64_t) s->next;
        s->stop = (int64_t) s->end;
        id = list_slice_request(m, s);
        if (id < 0)
                list_slice_end(m, s, id);
}

static int64_t list_slice_request(mpx *m, struct list_slice *s) {
        size_t begin;
        int r;

        r = conn_begin(m, WIRE_OP_LIST_SLICE, &begin);
        if (r >= 0)
                r = conn_put_name(m, s->name);
        if (r >= 0)
                r = wire_put_i64(&m->out, s->start);
        if (r >= 0)
                r = wire_put_i64(&m->out, s->stop);
        if (r >= 0 && s->ret_version)
                r = wire_put_u32(&m->out, WIRE_SLICE_VERSION);
        return conn_submit(m, begin, r, &(struct conn_reply) { .parse = list_parse_slice, .out = { s } },
                           list_slice_page, s);
}

/* l[start:stop], in as many requests as it takes, with the list's version when ret_version is set. */
static int64_t list_slice_begin(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                                uint64_t *ret_version, mpx_callback *cb, void *userdata) {
        struct list_slice *s;
        size_t len;
        int64_t id;

        if (!m || !name || !ret_items || !cb)
                return -EINVAL;
        len = strlen(name);
        s = malloc(sizeof(*s) + len + 1);
        if (!s)
                return -ENOMEM;
        *s = (struct list_slice) { .cb = cb, .userdata = userdata, .ret_items = ret_items, .first = true,
                                   .start = start, .stop = stop, .asked_start = start, .asked_stop = stop,
                                   .ret_version = ret_version };
        memcpy(s->name, name, len + 1);
        id = list_slice_request(m, s);
        if (id < 0)
                free(s);
        return id;
}

int64_t mpx_list_slice_async(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                             mpx_callback *cb, void *userdata) {
        return list_slice_begin(m, name, start, stop, ret_items, NULL, cb, userdata);
}

int64_t mpx_list_slice_version_async(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                                     uint64_t *ret_version, mpx_callback *cb, void *userdata) {
        if (!ret_version)
                return -EINVAL;
        return list_slice_begin(m, name, start, stop, ret_items, ret_version, cb, userdata);
}

int64_t mpx_list_slice_version(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items,
                               uint64_t *ret_version) {
        struct conn_chain c = { .done = false };

        return conn_chain_wait(m, mpx_list_slice_version_async(m, name, start, stop, ret_items, ret_version,
                                                               CONN_CHAIN(&c)), &c);
}

/* SPLICE's reply: u8 done, u64 version (to *out[0]), u64 len; the result is done. */
static int64_t list_parse_splice(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t version, len;
        uint8_t done;

        if (!wire_get_u8(rd, &done) || !wire_get_u64(rd, &version) || !wire_get_u64(rd, &len) ||
            !wire_reader_done(rd) || done > 1)
                return -EPROTO;
        if (rq->reply.out[0])
                *(uint64_t *) rq->reply.out[0] = version;
        return done;
}

/* l[start:stop] = items, if the list's version is still if_version (0: whatever it is). */
int64_t mpx_list_splice_async(mpx *m, const char *name, int64_t start, int64_t stop, uint64_t if_version,
                              const struct iovec *items, size_t n, uint64_t *ret_version,
                              mpx_callback *cb, void *userdata) {
        int64_t body = list_items_body(m, name, 8 + 8 + 8, items, n);
        size_t begin;
        int r;

        if (body < 0)
                return body;
        r = conn_begin(m, WIRE_OP_LIST_SPLICE, &begin);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, start);
        if (r >= 0)
                r = wire_put_i64(&m->out, stop);
        if (r >= 0)
                r = wire_put_u64(&m->out, if_version);
        if (r >= 0)
                r = list_put_items(m, (size_t) body, items, n);
        return conn_submit(m, begin, r,
                           &(struct conn_reply) { .parse = list_parse_splice, .out = { ret_version } }, cb, userdata);
}

int mpx_list_splice(mpx *m, const char *name, int64_t start, int64_t stop, uint64_t if_version,
                    const struct iovec *items, size_t n, uint64_t *ret_version) {
        return (int) conn_sync(m, mpx_list_splice_async(m, name, start, stop, if_version, items, n, ret_version,
                                                        CONN_SYNC));
}

int64_t mpx_list_slice(mpx *m, const char *name, int64_t start, int64_t stop, mpx_buf **ret_items) {
        struct conn_chain c = { .done = false };

        return conn_chain_wait(m, mpx_list_slice_async(m, name, start, stop, ret_items, CONN_CHAIN(&c)), &c);
}

/* Remove every item; the number removed. */
int64_t mpx_list_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return list_submit(m, WIRE_OP_LIST_CLEAR, name, NULL, NULL, 0, false, &list_reply_len, cb, userdata);
}

int64_t mpx_list_clear(mpx *m, const char *name) {
        return conn_sync(m, mpx_list_clear_async(m, name, CONN_SYNC));
}
