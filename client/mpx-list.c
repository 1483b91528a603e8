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
        return conn_call(m, WIRE_OP_LIST_APPEND, &conn_reply_u64, cb, userdata, "nb", name, item, size);
}

int64_t mpx_list_append(mpx *m, const char *name, const void *item, size_t size) {
        return conn_sync(m, mpx_list_append_async(m, name, item, size, CONN_SYNC));
}

/* l.extend(items) in one atomic request; the new length. */
int64_t mpx_list_extend_async(mpx *m, const char *name, const struct iovec *items, size_t n,
                              mpx_callback *cb, void *userdata) {
        return conn_call_entries(m, WIRE_OP_LIST_EXTEND, &conn_reply_u64, cb, userdata, name,
                                 &(struct conn_entries) { { items }, 1, n }, "");
}

int64_t mpx_list_extend(mpx *m, const char *name, const struct iovec *items, size_t n) {
        return conn_sync(m, mpx_list_extend_async(m, name, items, n, CONN_SYNC));
}

/* l[index], copied into *ret. */
int64_t mpx_list_get_async(mpx *m, const char *name, int64_t index, mpx_buf *ret, mpx_callback *cb, void *userdata) {
        return conn_call_buf(m, WIRE_OP_LIST_GET, ret, cb, userdata, "nq", name, index);
}

int mpx_list_get(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_list_get_async(m, name, index, ret, CONN_SYNC));
}

/* l[index] = item. */
int64_t mpx_list_set_async(mpx *m, const char *name, int64_t index, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_LIST_SET, NULL, cb, userdata, "nqb", name, index, item, size);
}

int mpx_list_set(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        return (int) conn_sync(m, mpx_list_set_async(m, name, index, item, size, CONN_SYNC));
}

/* l.insert(index, item); the new length. */
int64_t mpx_list_insert_async(mpx *m, const char *name, int64_t index, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_LIST_INSERT, &conn_reply_u64, cb, userdata, "nqb", name, index, item, size);
}

int64_t mpx_list_insert(mpx *m, const char *name, int64_t index, const void *item, size_t size) {
        return conn_sync(m, mpx_list_insert_async(m, name, index, item, size, CONN_SYNC));
}

/* l.pop(index), copied into *ret. */
int64_t mpx_list_pop_async(mpx *m, const char *name, int64_t index, mpx_buf *ret, mpx_callback *cb, void *userdata) {
        return conn_call_buf(m, WIRE_OP_LIST_POP, ret, cb, userdata, "nq", name, index);
}

int mpx_list_pop(mpx *m, const char *name, int64_t index, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_list_pop_async(m, name, index, ret, CONN_SYNC));
}

/* l.remove(item). */
int64_t mpx_list_remove_async(mpx *m, const char *name, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_LIST_REMOVE, NULL, cb, userdata, "nb", name, item, size);
}

int mpx_list_remove(mpx *m, const char *name, const void *item, size_t size) {
        return (int) conn_sync(m, mpx_list_remove_async(m, name, item, size, CONN_SYNC));
}

/* l.index(item). */
int64_t mpx_list_index_async(mpx *m, const char *name, const void *item, size_t size, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_LIST_INDEX, &conn_reply_u64, cb, userdata, "nb", name, item, size);
}

int64_t mpx_list_index(mpx *m, const char *name, const void *item, size_t size) {
        return conn_sync(m, mpx_list_index_async(m, name, item, size, CONN_SYNC));
}

/* len(l). */
int64_t mpx_list_len_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_LIST_LEN, &conn_reply_u64, cb, userdata, "n", name);
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
                r = conn_get_buf(rd, &s->items[s->n]);
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
        /* A versioned slice asks every page to carry the list's version. */
        return conn_call(m, WIRE_OP_LIST_SLICE, &(struct conn_reply) { .parse = list_parse_slice, .out = { s } },
                         list_slice_page, s, s->ret_version ? "nqqI" : "nqq", s->name, s->start, s->stop,
                         WIRE_SLICE_VERSION);
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
        return conn_call_entries(m, WIRE_OP_LIST_SPLICE,
                                 &(struct conn_reply) { .parse = list_parse_splice, .out = { ret_version } }, cb,
                                 userdata, name, &(struct conn_entries) { { items }, 1, n }, "qqQ", start, stop,
                                 if_version);
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
        return conn_call(m, WIRE_OP_LIST_CLEAR, &conn_reply_u64, cb, userdata, "n", name);
}

int64_t mpx_list_clear(mpx *m, const char *name) {
        return conn_sync(m, mpx_list_clear_async(m, name, CONN_SYNC));
}
