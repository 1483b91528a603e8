/* SPDX-License-Identifier: MIT */
/*
 * libmpx dicts: declare, set, get, del, contains, len, pop, setdefault,
 * update, clear, incr, cas and the paged walk of keys, values or items.
 *
 * Each call checks its arguments (names, pointers, key and value sizes
 * against the daemon's limits, a whole update against one frame) before
 * anything is sent, builds one request and parses the reply strictly.
 * Values handed to the caller are malloc'd copies in mpx_buf; the reply
 * buffer itself is reused by the next request. Output parameters are left
 * alone when a call fails.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* Check a key or value given as pointer and size: 0, -EINVAL or -EMSGSIZE. */
static int dict_check_bytes(const mpx *m, const void *p, size_t size) {
        if (!p && size > 0)
                return -EINVAL;
        if (size > m->max_message || size > UINT32_MAX)
                return -EMSGSIZE;
        return 0;
}

/* Parse one bytes field of a reply into a caller-owned buffer. */
static int dict_get_buf(struct wire_reader *rd, mpx_buf *ret) {
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
static int dict_reply_buf(struct wire_reader *rd, mpx_buf *ret) {
        mpx_buf buf;
        int r;

        r = dict_get_buf(rd, &buf);
        if (r < 0)
                return r;
        if (!wire_reader_done(rd)) {
                mpx_buf_clear(&buf);
                return -EPROTO;
        }
        *ret = buf;
        return 0;
}

/* Send a request whose body is "name, bytes key" and wait for its reply. */
static int dict_call_key(mpx *m, uint16_t op, const char *name, const void *key, size_t key_size,
                         struct wire_reader *ret) {
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = dict_check_bytes(m, key, key_size);
        if (r >= 0)
                r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_bytes(&m->out, key, (uint32_t) key_size);
        if (r >= 0)
                r = conn_call(m, start, ret);
        return r;
}

/* Send a request whose body is just the name and wait for its reply. */
static int dict_call_name(mpx *m, uint16_t op, const char *name, struct wire_reader *ret) {
        size_t start;
        int r;

        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, ret);
        return r;
}

/* A u64 count as a non-negative int64_t. */
static int64_t dict_count(uint64_t v) {
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

/* Create a dict with flags (MPX_DURABLE), or check that the name is one with the same durability. */
int mpx_dict_declare_flags(mpx *m, const char *name, unsigned flags) {
        return conn_declare_name_flags(m, WIRE_OP_DICT_DECLARE, name, flags);
}

/* Create a dict, or check that the name is one. */
int mpx_dict_declare(mpx *m, const char *name) {
        return conn_declare_name_flags(m, WIRE_OP_DICT_DECLARE, name, 0);
}

/* d[key] = value. */
int mpx_dict_set(mpx *m, const char *name, const void *key, size_t key_size, const void *value,
                 size_t value_size) {
        struct wire_reader rd;
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = dict_check_bytes(m, key, key_size);
        if (r >= 0)
                r = dict_check_bytes(m, value, value_size);
        if (r >= 0)
                r = conn_begin(m, WIRE_OP_DICT_SET, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_bytes(&m->out, key, (uint32_t) key_size);
        if (r >= 0)
                r = wire_put_bytes(&m->out, value, (uint32_t) value_size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* d[key], copied into *ret. */
int mpx_dict_get(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret) {
        struct wire_reader rd;
        int r;

        if (!ret)
                return -EINVAL;
        r = dict_call_key(m, WIRE_OP_DICT_GET, name, key, key_size, &rd);
        if (r < 0)
                return r;
        return dict_reply_buf(&rd, ret);
}

/* del d[key]. */
int mpx_dict_del(mpx *m, const char *name, const void *key, size_t key_size) {
        struct wire_reader rd;
        int r;

        r = dict_call_key(m, WIRE_OP_DICT_DEL, name, key, key_size, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* key in d. */
int mpx_dict_contains(mpx *m, const char *name, const void *key, size_t key_size) {
        struct wire_reader rd;
        uint8_t present;
        int r;

        r = dict_call_key(m, WIRE_OP_DICT_CONTAINS, name, key, key_size, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u8(&rd, &present) || present > 1 || !wire_reader_done(&rd))
                return -EPROTO;
        return present;
}

/* len(d). */
int64_t mpx_dict_len(mpx *m, const char *name) {
        struct wire_reader rd;
        uint64_t len;
        int r;

        r = dict_call_name(m, WIRE_OP_DICT_LEN, name, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &len) || !wire_reader_done(&rd))
                return -EPROTO;
        return dict_count(len);
}

/* d.pop(key), copied into *ret. */
int mpx_dict_pop(mpx *m, const char *name, const void *key, size_t key_size, mpx_buf *ret) {
        struct wire_reader rd;
        int r;

        if (!ret)
                return -EINVAL;
        r = dict_call_key(m, WIRE_OP_DICT_POP, name, key, key_size, &rd);
        if (r < 0)
                return r;
        return dict_reply_buf(&rd, ret);
}

/* d.setdefault(key, default), the value now stored copied into *ret. */
int mpx_dict_setdefault(mpx *m, const char *name, const void *key, size_t key_size,
                        const void *def, size_t def_size, mpx_buf *ret) {
        struct wire_reader rd;
        size_t start;
        int r;

        if (!m || !ret)
                return -EINVAL;
        r = dict_check_bytes(m, key, key_size);
        if (r >= 0)
                r = dict_check_bytes(m, def, def_size);
        if (r >= 0)
                r = conn_begin(m, WIRE_OP_DICT_SETDEFAULT, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_bytes(&m->out, key, (uint32_t) key_size);
        if (r >= 0)
                r = wire_put_bytes(&m->out, def, (uint32_t) def_size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return dict_reply_buf(&rd, ret);
}

/* Set n pairs in one atomic request. */
int mpx_dict_update(mpx *m, const char *name, const struct iovec *keys, const struct iovec *values, size_t n) {
        struct wire_reader rd;
        size_t start, body;
        int r;

        if (!m || !name || (n > 0 && (!keys || !values)))
                return -EINVAL;
        if (n > UINT32_MAX)
                return -EMSGSIZE;

        /* Check every size before copying anything: name, count, then the pairs. */
        body = 1 + strnlen(name, WIRE_NAME_MAX + 1) + 4;
        for (size_t i = 0; i < n; i++) {
                r = dict_check_bytes(m, keys[i].iov_base, keys[i].iov_len);
                if (r >= 0)
                        r = dict_check_bytes(m, values[i].iov_base, values[i].iov_len);
                if (r < 0)
                        return r;
                body += 8 + keys[i].iov_len + values[i].iov_len;
                if (body > m->max_frame)
                        return -EMSGSIZE;
        }

        r = conn_begin(m, WIRE_OP_DICT_UPDATE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) n);
        if (r >= 0)
                r = wire_buf_reserve(&m->out, body);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                r = wire_put_bytes(&m->out, keys[i].iov_base, (uint32_t) keys[i].iov_len);
                if (r >= 0)
                        r = wire_put_bytes(&m->out, values[i].iov_base, (uint32_t) values[i].iov_len);
        }
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Remove every key; the number removed. */
int64_t mpx_dict_clear(mpx *m, const char *name) {
        struct wire_reader rd;
        uint64_t removed;
        int r;

        r = dict_call_name(m, WIRE_OP_DICT_CLEAR, name, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &removed) || !wire_reader_done(&rd))
                return -EPROTO;
        return dict_count(removed);
}

/* Add delta to the decimal integer at key. */
int mpx_dict_incr(mpx *m, const char *name, const void *key, size_t key_size, int64_t delta, int64_t *ret_value) {
        struct wire_reader rd;
        int64_t value;
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = dict_check_bytes(m, key, key_size);
        if (r >= 0)
                r = conn_begin(m, WIRE_OP_DICT_INCR, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_bytes(&m->out, key, (uint32_t) key_size);
        if (r >= 0)
                r = wire_put_i64(&m->out, delta);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_i64(&rd, &value) || !wire_reader_done(&rd))
                return -EPROTO;
        if (ret_value)
                *ret_value = value;
        return 0;
}

/* Compare-and-set: expected NULL means "absent", new_value NULL means "delete". */
int mpx_dict_cas(mpx *m, const char *name, const void *key, size_t key_size,
                 const void *expected, size_t expected_size, const void *new_value, size_t new_size,
                 mpx_buf *ret_current) {
        struct wire_reader rd;
        uint8_t swapped, present;
        mpx_buf current;
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        if (!expected)
                expected_size = 0;
        if (!new_value)
                new_size = 0;
        r = dict_check_bytes(m, key, key_size);
        if (r >= 0)
                r = dict_check_bytes(m, expected, expected_size);
        if (r >= 0)
                r = dict_check_bytes(m, new_value, new_size);
        if (r >= 0)
                r = conn_begin(m, WIRE_OP_DICT_CAS, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_bytes(&m->out, key, (uint32_t) key_size);
        if (r >= 0)
                r = wire_put_u8(&m->out, expected ? 1 : 0);
        if (r >= 0)
                r = wire_put_bytes(&m->out, expected, (uint32_t) expected_size);
        if (r >= 0)
                r = wire_put_u8(&m->out, new_value ? 1 : 0);
        if (r >= 0)
                r = wire_put_bytes(&m->out, new_value, (uint32_t) new_size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u8(&rd, &swapped) || swapped > 1 || !wire_get_u8(&rd, &present) || present > 1)
                return -EPROTO;
        if (!ret_current || !present) {
                const void *data;
                uint32_t size;

                if (!wire_get_bytes(&rd, &data, &size) || !wire_reader_done(&rd) || (!present && size > 0))
                        return -EPROTO;
                if (ret_current)
                        *ret_current = (mpx_buf) { .data = NULL, .size = 0 };
                return swapped;
        }
        r = dict_reply_buf(&rd, &current);
        if (r < 0)
                return r;
        *ret_current = current;
        return swapped;
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
                        r = dict_get_buf(rd, &keys[i]);
                        if (r < 0)
                                goto fail;
                }
                if (values) {
                        r = dict_get_buf(rd, &values[i]);
                        if (r < 0)
                                goto fail;
                }
        }
        if (!wire_reader_done(rd)) {
                r = -EPROTO;
                goto fail;
        }
        *ret_keys = keys;
        *ret_values = values;
        return 0;

fail:
        /* Entries past i are zeroed by calloc; entry i may be half done. */
        mpx_bufs_free(keys, n);
        mpx_bufs_free(values, n);
        return r;
}

/* One page of keys, values or both, in insertion order. */
int mpx_dict_items(mpx *m, const char *name, uint64_t cursor, size_t max, unsigned what,
                   mpx_buf **ret_keys, mpx_buf **ret_values, size_t *ret_n, uint64_t *ret_next) {
        struct wire_reader rd;
        mpx_buf *keys = NULL, *values = NULL;
        uint64_t next;
        uint32_t n;
        size_t start, min_entry;
        int r;

        if (!ret_n || what == 0 || (what & ~MPX_DICT_ITEMS))
                return -EINVAL;
        if (((what & MPX_DICT_KEYS) && !ret_keys) || ((what & MPX_DICT_VALUES) && !ret_values))
                return -EINVAL;
        if (max > UINT32_MAX)
                max = UINT32_MAX;
        r = conn_begin(m, WIRE_OP_DICT_ITEMS, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u64(&m->out, cursor);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) max);
        if (r >= 0)
                r = wire_put_u8(&m->out, (uint8_t) ((what & MPX_DICT_KEYS ? WIRE_DICT_KEYS : 0) |
                                                    (what & MPX_DICT_VALUES ? WIRE_DICT_VALUES : 0)));
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &next) || !wire_get_u32(&rd, &n))
                return -EPROTO;
        /* Each entry takes at least 4 bytes per field: a bogus count cannot make us allocate. */
        min_entry = (what & MPX_DICT_KEYS ? 4 : 0) + (what & MPX_DICT_VALUES ? 4 : 0);
        if (n > rd.left / min_entry || (max > 0 && n > max) || (n == 0 && next != 0))
                return -EPROTO;
        if (n > 0) {
                r = dict_get_page(&rd, n, what, &keys, &values);
                if (r < 0)
                        return r;
        } else if (!wire_reader_done(&rd))
                return -EPROTO;
        if (ret_keys)
                *ret_keys = keys;
        if (ret_values)
                *ret_values = values;
        *ret_n = n;
        if (ret_next)
                *ret_next = next;
        return 0;
}
