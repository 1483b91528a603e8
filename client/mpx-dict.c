/* SPDX-License-Identifier: MIT */
/*
 * libmpx dicts: declare, set, get, del, contains, len, pop, setdefault,
 * update, clear, incr, cas and the paged walk of keys, values or items.
 *
 * Each call checks its arguments (names, pointers, key and value sizes
 * against the daemon's limits, a whole update against one frame) before
 * anything is queued, builds one request and names the parser of its reply;
 * the synchronous form waits for the asynchronous one. Values handed to the
 * caller are malloc'd copies in mpx_buf. Output parameters are left alone
 * when a call fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* A u8 that is 0 or 1. */
static int64_t dict_parse_present(struct conn_request *rq, struct wire_reader *rd) {
        uint8_t present;

        (void) rq;
        if (!wire_get_u8(rd, &present) || present > 1 || !wire_reader_done(rd))
                return -EPROTO;
        return present;
}

/* Create a dict with flags (MPX_DURABLE), or check that the name is one with the same durability. */
int64_t mpx_dict_declare_flags_async(mpx *m, const char *name, unsigned flags, mpx_callback *cb, void *userdata) {
        return conn_declare_name_flags_async(m, WIRE_OP_DICT_DECLARE, name, flags, cb, userdata);
}

int mpx_dict_declare_flags(mpx *m, const char *name, unsigned flags) {
        return conn_declare_name_flags(m, WIRE_OP_DICT_DECLARE, name, flags);
}

/* Create a dict, or check that the name is one. */
int64_t mpx_dict_declare_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_declare_name_flags_async(m, WIRE_OP_DICT_DECLARE, name, 0, cb, userdata);
}

int mpx_dict_declare(mpx *m, const char *name) {
        return conn_declare_name_flags(m, WIRE_OP_DICT_DECLARE, name, 0);
}

/* d[key] = value. */
int64_t mpx_dict_set_async(mpx *m, const char *name, const void *key, size_t key_size, const void *value,
                           size_t value_size, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_SET, NULL, cb, userdata, "nbb", name, key, key_size, value, value_size);
}

int mpx_dict_set(mpx *m, const char *name, const void *key, size_t key_size, const void *value,
                 size_t value_size) {
        return (int) conn_sync(m, mpx_dict_set_async(m, name, key, key_size, value, value_size, CONN_SYNC));
}

/* d[key], copied into *ret. */
int64_t mpx_dict_get_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret,
                           mpx_callback *cb, void *userdata) {
        return conn_call_buf(m, WIRE_OP_DICT_GET, ret, cb, userdata, "nb", name, key, key_size);
}

int mpx_dict_get(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_dict_get_async(m, name, key, key_size, ret, CONN_SYNC));
}

/* del d[key]. */
int64_t mpx_dict_del_async(mpx *m, const char *name, const void *key, size_t key_size,
                           mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_DEL, NULL, cb, userdata, "nb", name, key, key_size);
}

int mpx_dict_del(mpx *m, const char *name, const void *key, size_t key_size) {
        return (int) conn_sync(m, mpx_dict_del_async(m, name, key, key_size, CONN_SYNC));
}

/* key in d. */
int64_t mpx_dict_contains_async(mpx *m, const char *name, const void *key, size_t key_size,
                                mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_CONTAINS, &(struct conn_reply) { .parse = dict_parse_present }, cb,
                         userdata, "nb", name, key, key_size);
}

int mpx_dict_contains(mpx *m, const char *name, const void *key, size_t key_size) {
        return (int) conn_sync(m, mpx_dict_contains_async(m, name, key, key_size, CONN_SYNC));
}

/* len(d). */
int64_t mpx_dict_len_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_LEN, &conn_reply_u64, cb, userdata, "n", name);
}

int64_t mpx_dict_len(mpx *m, const char *name) {
        return conn_sync(m, mpx_dict_len_async(m, name, CONN_SYNC));
}

/* d.pop(key), copied into *ret. */
int64_t mpx_dict_pop_async(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret,
                           mpx_callback *cb, void *userdata) {
        return conn_call_buf(m, WIRE_OP_DICT_POP, ret, cb, userdata, "nb", name, key, key_size);
}

int mpx_dict_pop(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_dict_pop_async(m, name, key, key_size, ret, CONN_SYNC));
}

/* POPITEM's reply: bytes key, bytes value, copied to the mpx_bufs at out[0] and out[1]. */
static int64_t dict_parse_popitem(struct conn_request *rq, struct wire_reader *rd) {
        const void *key, *value;
        uint32_t key_size, value_size;
        void *key_copy, *value_copy;

        if (!wire_get_bytes(rd, &key, &key_size) || !wire_get_bytes(rd, &value, &value_size) ||
            !wire_reader_done(rd))
                return -EPROTO;
        key_copy = conn_memdup(key, key_size);
        value_copy = conn_memdup(value, value_size);
        if (!key_copy || !value_copy) {
                free(key_copy);
                free(value_copy);
                return -ENOMEM;
        }
        *(mpx_buf *) rq->reply.out[0] = (mpx_buf) { .data = key_copy, .size = key_size };
        *(mpx_buf *) rq->reply.out[1] = (mpx_buf) { .data = value_copy, .size = value_size };
        return 0;
}

/* d.popitem(): the key inserted last and its value, removed. */
int64_t mpx_dict_popitem_async(mpx *m, const char *name, mpx_buf *ret_key, mpx_buf *ret_value,
                               mpx_callback *cb, void *userdata) {
        if (!ret_key || !ret_value)
                return -EINVAL;
        return conn_call(m, WIRE_OP_DICT_POPITEM,
                         &(struct conn_reply) { .parse = dict_parse_popitem, .out = { ret_key, ret_value } },
                         cb, userdata, "n", name);
}

int mpx_dict_popitem(mpx *m, const char *name, mpx_buf *ret_key, mpx_buf *ret_value) {
        return (int) conn_sync(m, mpx_dict_popitem_async(m, name, ret_key, ret_value, CONN_SYNC));
}

/* d.setdefault(key, default), the value now stored copied into *ret. */
int64_t mpx_dict_setdefault_async(mpx *m, const char *name, const void *key, size_t key_size,
                                  const void *def, size_t def_size, mpx_buf *ret,
                                  mpx_callback *cb, void *userdata) {
        return conn_call_buf(m, WIRE_OP_DICT_SETDEFAULT, ret, cb, userdata, "nbb", name, key, key_size, def,
                             def_size);
}

int mpx_dict_setdefault(mpx *m, const char *name, const void *key, size_t key_size,
                        const void *def, size_t def_size, mpx_buf *ret) {
        return (int) conn_sync(m, mpx_dict_setdefault_async(m, name, key, key_size, def, def_size, ret, CONN_SYNC));
}

/* Set n pairs in one atomic request. */
int64_t mpx_dict_update_async(mpx *m, const char *name, const struct iovec *keys, const struct iovec *values,
                              size_t n, mpx_callback *cb, void *userdata) {
        return conn_call_entries(m, WIRE_OP_DICT_UPDATE, NULL, cb, userdata, name,
                                 &(struct conn_entries) { { keys, values }, 2, n }, "");
}

int mpx_dict_update(mpx *m, const char *name, const struct iovec *keys, const struct iovec *values, size_t n) {
        return (int) conn_sync(m, mpx_dict_update_async(m, name, keys, values, n, CONN_SYNC));
}

/* Remove every key; the number removed. */
int64_t mpx_dict_clear_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_CLEAR, &conn_reply_u64, cb, userdata, "n", name);
}

int64_t mpx_dict_clear(mpx *m, const char *name) {
        return conn_sync(m, mpx_dict_clear_async(m, name, CONN_SYNC));
}

/* Add delta to the decimal integer at key. */
int64_t mpx_dict_incr_async(mpx *m, const char *name, const void *key, size_t key_size, int64_t delta,
                            int64_t *ret_value, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_DICT_INCR,
                         &(struct conn_reply) { .parse = conn_parse_i64_out, .out = { ret_value } },
                         cb, userdata, "nbq", name, key, key_size, delta);
}

int mpx_dict_incr(mpx *m, const char *name, const void *key, size_t key_size, int64_t delta, int64_t *ret_value) {
        return (int) conn_sync(m, mpx_dict_incr_async(m, name, key, key_size, delta, ret_value, CONN_SYNC));
}

/* CAS's reply: u8 swapped, u8 present, bytes current, the current value to out[0] when asked for. */
static int64_t dict_parse_cas(struct conn_request *rq, struct wire_reader *rd) {
        mpx_buf *ret_current = rq->reply.out[0];
        uint8_t swapped, present;
        const void *data;
        uint32_t size;
        void *copy;

        if (!wire_get_u8(rd, &swapped) || swapped > 1 || !wire_get_u8(rd, &present) || present > 1 ||
            !wire_get_bytes(rd, &data, &size) || !wire_reader_done(rd) || (!present && size > 0))
                return -EPROTO;
        if (!ret_current)
                return swapped;
        if (!present) {
                *ret_current = (mpx_buf) { .data = NULL, .size = 0 };
                return swapped;
        }
        copy = conn_memdup(data, size);
        if (!copy)
                return -ENOMEM;
        *ret_current = (mpx_buf) { .data = copy, .size = size };
        return swapped;
}

/* Compare-and-set: expected NULL means "absent", new_value NULL means "delete". */
int64_t mpx_dict_cas_async(mpx *m, const char *name, const void *key, size_t key_size,
                           const void *expected, size_t expected_size, const void *new_value, size_t new_size,
                           mpx_buf *ret_current, mpx_callback *cb, void *userdata) {
        /* Each value is a u8 saying whether there is one, then its bytes (none when there is not). */
        return conn_call(m, WIRE_OP_DICT_CAS,
                         &(struct conn_reply) { .parse = dict_parse_cas, .out = { ret_current } }, cb, userdata,
                         "nbBbBb", name, key, key_size, expected ? 1u : 0u, expected, expected ? expected_size : 0,
                         new_value ? 1u : 0u, new_value, new_value ? new_size : 0);
}

int mpx_dict_cas(mpx *m, const char *name, const void *key, size_t key_size,
                 const void *expected, size_t expected_size, const void *new_value, size_t new_size,
                 mpx_buf *ret_current) {
        return (int) conn_sync(m, mpx_dict_cas_async(m, name, key, key_size, expected, expected_size, new_value,
                                                     new_size, ret_current, CONN_SYNC));
}

/* Parse n buffers of a page (the fields what asks for) into new arrays. */
static int dict_get_page(struct wire_reader *rd, uint32_t n, unsigned what, mpx_buf **ret_keys,
                         mpx_buf **ret_values) {
        mpx_buf *keys = NULL, *values = NULL;
        uint32_t i = 0;
        int r = -ENOMEM;

        if ((what & MPX_DICT_KEYS) && !(keys = calloc(n, sizeof(*keys))))
                goto fail;
        if ((what & MPX_DICT_VALUES) && !(values = calloc(n, sizeof(*values))))
                goto fail;
        for (i = 0; i < n; i++) {
                if (keys) {
                        r = conn_get_buf(rd, &keys[i]);
                        if (r < 0)
                                goto fail;
                }
                if (values) {
                        r = conn_get_buf(rd, &values[i]);
                        if (r < 0)
                                goto fail;
                }
        }
        r = conn_done(rd);
        if (r < 0)
                goto fail;
        *ret_keys = keys;
        *ret_values = values;
        return 0;

fail:
        /* Entries past i are zeroed by calloc; entry i may be half done. */
        mpx_bufs_free(keys, n);
        mpx_bufs_free(values, n);
        return r;
}

/*
 * ITEMS's reply: u64 next, u32 n, the entries. Out pointers: keys, values,
 * n, next (which may be NULL); arg[0] is what, arg[1] the max asked.
 */
static int64_t dict_parse_items(struct conn_request *rq, struct wire_reader *rd) {
        unsigned what = (unsigned) rq->reply.arg[0];
        uint64_t max = rq->reply.arg[1], next;
        mpx_buf *keys = NULL, *values = NULL;
        size_t min_entry;
        uint32_t n;
        int r;

        if (!wire_get_u64(rd, &next) || !wire_get_u32(rd, &n))
                return -EPROTO;
        /* Each entry takes at least 4 bytes per field: a bogus count cannot make us allocate. */
        min_entry = (what & MPX_DICT_KEYS ? 4 : 0) + (what & MPX_DICT_VALUES ? 4 : 0);
        if (n > rd->left / min_entry || (max > 0 && n > max) || (n == 0 && next != 0))
                return -EPROTO;
        if (n > 0) {
                r = dict_get_page(rd, n, what, &keys, &values);
                if (r < 0)
                        return r;
        } else if (!wire_reader_done(rd))
                return -EPROTO;
        if (rq->reply.out[0])
                *(mpx_buf **) rq->reply.out[0] = keys;
        if (rq->reply.out[1])
                *(mpx_buf **) rq->reply.out[1] = values;
        *(size_t *) rq->reply.out[2] = n;
        if (rq->reply.out[3])
                *(uint64_t *) rq->reply.out[3] = next;
        return 0;
}

/* One page of keys, values or both, in insertion order. */
int64_t mpx_dict_items_async(mpx *m, const char *name, uint64_t cursor, size_t max, unsigned what,
                             mpx_buf **ret_keys, mpx_buf **ret_values, size_t *ret_n, uint64_t *ret_next,
                             mpx_callback *cb, void *userdata) {
        if (!ret_n || what == 0 || (what & ~MPX_DICT_ITEMS))
                return -EINVAL;
        if (((what & MPX_DICT_KEYS) && !ret_keys) || ((what & MPX_DICT_VALUES) && !ret_values))
                return -EINVAL;
        if (max > UINT32_MAX)
                max = UINT32_MAX;
        return conn_call(m, WIRE_OP_DICT_ITEMS,
                         &(struct conn_reply) {
                                 .parse = dict_parse_items,
                                 .out = { ret_keys, ret_values, ret_n, ret_next },
                                 .arg = { what, max },
                         },
                         cb, userdata, "nQIB", name, cursor, (uint32_t) max,
                         (what & MPX_DICT_KEYS ? WIRE_DICT_KEYS : 0) |
                         (what & MPX_DICT_VALUES ? WIRE_DICT_VALUES : 0));
}

int mpx_dict_items(mpx *m, const char *name, uint64_t cursor, size_t max, unsigned what,
                   mpx_buf **ret_keys, mpx_buf **ret_values, size_t *ret_n, uint64_t *ret_next) {
        return (int) conn_sync(m, mpx_dict_items_async(m, name, cursor, max, what, ret_keys, ret_values, ret_n,
                                                       ret_next, CONN_SYNC));
}
