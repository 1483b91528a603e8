/* SPDX-License-Identifier: MIT */
/*
 * The mpx wire codec: bounds-checked little-endian encoding and decoding of
 * frame headers and body fields, and the status code mapping. It does no I/O
 * and never trusts a length it has not checked; it is fuzzed.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const struct {
        uint16_t status;
        int err;
} status_table[] = {
        { WIRE_OK, 0 },
        { WIRE_EAGAIN, EAGAIN },
        { WIRE_ETIMEDOUT, ETIMEDOUT },
        { WIRE_ENOENT, ENOENT },
        { WIRE_EEXIST, EEXIST },
        { WIRE_EACCES, EACCES },
        { WIRE_EMSGSIZE, EMSGSIZE },
        { WIRE_EPIPE, EPIPE },
        { WIRE_EIDRM, EIDRM },
        { WIRE_ESHUTDOWN, ESHUTDOWN },
        { WIRE_EINVAL, EINVAL },
        { WIRE_EPROTO, EPROTO },
        { WIRE_EOPNOTSUPP, EOPNOTSUPP },
        { WIRE_ENOMEM, ENOMEM },
        { WIRE_ENOSPC, ENOSPC },
        { WIRE_ERANGE, ERANGE },
        { WIRE_EPROTOTYPE, EPROTOTYPE },
        { WIRE_EUSERS, EUSERS },
        { WIRE_ENOTRECOVERABLE, ENOTRECOVERABLE },
        { WIRE_EOWNERDEAD, EOWNERDEAD },
        { WIRE_EIO, EIO },
        { WIRE_ECANCELED, ECANCELED },
};

int wire_status_to_errno(uint16_t status) {
        for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
                if (status_table[i].status == status)
                        return -status_table[i].err;
        return -EPROTO;
}

uint16_t wire_status_from_errno(int neg_errno) {
        for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++)
                if (status_table[i].err == -neg_errno)
                        return status_table[i].status;
        /* An errno with no wire code is the daemon's own failure. */
        return WIRE_EINVAL;
}

static const struct {
        uint16_t op;
        const char *name;
} op_table[] = {
        { WIRE_OP_HELLO, "hello" },
        { WIRE_OP_PING, "ping" },
        { WIRE_OP_CANCEL, "cancel" },
        { WIRE_OP_LIST, "list" },
        { WIRE_OP_INFO, "info" },
        { WIRE_OP_DELETE, "delete" },
        { WIRE_OP_STATS, "stats" },
        { WIRE_OP_CLIENTS, "clients" },
        { WIRE_OP_CHMOD, "chmod" },
        { WIRE_OP_CHOWN, "chown" },
        { WIRE_OP_USERS, "users" },
        { WIRE_OP_REF, "ref" },
        { WIRE_OP_UNREF, "unref" },
        { WIRE_OP_QUEUE_DECLARE, "queue.declare" },
        { WIRE_OP_QUEUE_PUT, "queue.put" },
        { WIRE_OP_QUEUE_GET, "queue.get" },
        { WIRE_OP_QUEUE_PUT_MANY, "queue.put_many" },
        { WIRE_OP_QUEUE_GET_MANY, "queue.get_many" },
        { WIRE_OP_QUEUE_QSIZE, "queue.qsize" },
        { WIRE_OP_QUEUE_CLOSE, "queue.close" },
        { WIRE_OP_QUEUE_TASK_DONE, "queue.task_done" },
        { WIRE_OP_QUEUE_JOIN, "queue.join" },
        { WIRE_OP_QUEUE_PURGE, "queue.purge" },
        { WIRE_OP_QUEUE_PEEK, "queue.peek" },
        { WIRE_OP_QUEUE_TOUCH, "queue.touch" },
        { WIRE_OP_QUEUE_DONE_GET, "queue.done_get" },
        { WIRE_OP_DICT_DECLARE, "dict.declare" },
        { WIRE_OP_DICT_SET, "dict.set" },
        { WIRE_OP_DICT_GET, "dict.get" },
        { WIRE_OP_DICT_DEL, "dict.del" },
        { WIRE_OP_DICT_CONTAINS, "dict.contains" },
        { WIRE_OP_DICT_LEN, "dict.len" },
        { WIRE_OP_DICT_ITEMS, "dict.items" },
        { WIRE_OP_DICT_POP, "dict.pop" },
        { WIRE_OP_DICT_SETDEFAULT, "dict.setdefault" },
        { WIRE_OP_DICT_UPDATE, "dict.update" },
        { WIRE_OP_DICT_CLEAR, "dict.clear" },
        { WIRE_OP_DICT_INCR, "dict.incr" },
        { WIRE_OP_DICT_CAS, "dict.cas" },
        { WIRE_OP_DICT_POPITEM, "dict.popitem" },
        { WIRE_OP_LIST_DECLARE, "list.declare" },
        { WIRE_OP_LIST_APPEND, "list.append" },
        { WIRE_OP_LIST_EXTEND, "list.extend" },
        { WIRE_OP_LIST_GET, "list.get" },
        { WIRE_OP_LIST_SET, "list.set" },
        { WIRE_OP_LIST_INSERT, "list.insert" },
        { WIRE_OP_LIST_POP, "list.pop" },
        { WIRE_OP_LIST_REMOVE, "list.remove" },
        { WIRE_OP_LIST_INDEX, "list.index" },
        { WIRE_OP_LIST_LEN, "list.len" },
        { WIRE_OP_LIST_SLICE, "list.slice" },
        { WIRE_OP_LIST_CLEAR, "list.clear" },
        { WIRE_OP_LIST_SPLICE, "list.splice" },
        { WIRE_OP_SEM_DECLARE, "sem.declare" },
        { WIRE_OP_SEM_ACQUIRE, "sem.acquire" },
        { WIRE_OP_SEM_RELEASE, "sem.release" },
        { WIRE_OP_SEM_VALUE, "sem.value" },
        { WIRE_OP_EVENT_DECLARE, "event.declare" },
        { WIRE_OP_EVENT_SET, "event.set" },
        { WIRE_OP_EVENT_CLEAR, "event.clear" },
        { WIRE_OP_EVENT_IS_SET, "event.is_set" },
        { WIRE_OP_EVENT_WAIT, "event.wait" },
        { WIRE_OP_BARRIER_DECLARE, "barrier.declare" },
        { WIRE_OP_BARRIER_WAIT, "barrier.wait" },
        { WIRE_OP_BARRIER_RESET, "barrier.reset" },
        { WIRE_OP_BARRIER_ABORT, "barrier.abort" },
        { WIRE_OP_BARRIER_PASS, "barrier.pass" },
        { WIRE_OP_ARRAY_DECLARE, "array.declare" },
        { WIRE_OP_ARRAY_GET, "array.get" },
        { WIRE_OP_ARRAY_SET, "array.set" },
        { WIRE_OP_ARRAY_ADD, "array.add" },
        { WIRE_OP_ARRAY_CAS, "array.cas" },
        { WIRE_OP_ARRAY_MAP, "array.map" },
        { WIRE_OP_PIPE_OPEN, "pipe.open" },
        { WIRE_OP_POOL_START, "pool.start" },
        { WIRE_OP_POOL_SCALE, "pool.scale" },
        { WIRE_OP_POOL_SIGNAL, "pool.signal" },
        { WIRE_OP_POOL_STOP, "pool.stop" },
};

const char *wire_op_name(uint16_t op) {
        for (size_t i = 0; i < sizeof(op_table) / sizeof(op_table[0]); i++)
                if (op_table[i].op == op)
                        return op_table[i].name;
        return NULL;
}

static const char *const type_names[_WIRE_TYPE_MAX] = {
        [WIRE_TYPE_ANY] = "any",
        [WIRE_TYPE_QUEUE] = "queue",
        [WIRE_TYPE_JOINABLE] = "joinable",
        [WIRE_TYPE_DICT] = "dict",
        [WIRE_TYPE_LIST] = "list",
        [WIRE_TYPE_SEMAPHORE] = "semaphore",
        [WIRE_TYPE_EVENT] = "event",
        [WIRE_TYPE_BARRIER] = "barrier",
        [WIRE_TYPE_VALUE] = "value",
        [WIRE_TYPE_ARRAY] = "array",
        [WIRE_TYPE_PIPE] = "pipe",
        [WIRE_TYPE_POOL] = "pool",
};

const char *wire_type_name(uint8_t type) {
        return type < _WIRE_TYPE_MAX ? type_names[type] : NULL;
}

int wire_type_from_name(const char *s) {
        for (int i = 0; i < _WIRE_TYPE_MAX; i++)
                if (strcmp(type_names[i], s) == 0)
                        return i;
        return -EINVAL;
}

/* The bytes a name may hold: letters, digits and "._:/@-". */
static const bool name_byte[256] = {
        ['a' ... 'z'] = true, ['A' ... 'Z'] = true, ['0' ... '9'] = true,
        ['.'] = true, ['_'] = true, [':'] = true, ['/'] = true, ['@'] = true, ['-'] = true,
};

bool wire_name_valid(const void *name, size_t len) {
        const unsigned char *p = name;

        if (len < 1 || len > WIRE_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!name_byte[p[i]])
                        return false;
        return true;
}

/* Little-endian loads and stores, byte by byte so alignment never matters. */
static uint16_t load16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}

static uint32_t load32(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}

static uint64_t load64(const uint8_t *p) {
        return (uint64_t) load32(p) | ((uint64_t) load32(p + 4) << 32);
}

static void store16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

/* Little-endian stores as one move each (a byte loop was left as a loop by the compiler). */
static void store32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof(v));
}

static void store64(uint8_t *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, sizeof(v));
}

void wire_header_decode(const uint8_t *src, struct wire_header *ret) {
        ret->body_len = load32(src);
        ret->id = load32(src + 4);
        ret->op = load16(src + 8);
        ret->status = load16(src + 10);
}

void wire_header_encode(uint8_t *dst, const struct wire_header *h) {
        store32(dst, h->body_len);
        store32(dst + 4, h->id);
        store16(dst + 8, h->op);
        store16(dst + 10, h->status);
}

void wire_reader_init(struct wire_reader *r, const void *body, size_t len) {
        r->p = body;
        r->left = len;
        r->bad = false;
}

/* Take n bytes from the reader, or mark it bad. */
static const uint8_t *take(struct wire_reader *r, size_t n) {
        const uint8_t *p;

        if (r->bad || r->left < n) {
                r->bad = true;
                return NULL;
        }
        p = r->p;
        r->p += n;
        r->left -= n;
        return p;
}

bool wire_get_u8(struct wire_reader *r, uint8_t *ret) {
        const uint8_t *p = take(r, 1);

        if (!p)
                return false;
        *ret = p[0];
        return true;
}

bool wire_get_u16(struct wire_reader *r, uint16_t *ret) {
        const uint8_t *p = take(r, 2);

        if (!p)
                return false;
        *ret = load16(p);
        return true;
}

bool wire_get_u32(struct wire_reader *r, uint32_t *ret) {
        const uint8_t *p = take(r, 4);

        if (!p)
                return false;
        *ret = load32(p);
        return true;
}

bool wire_get_u64(struct wire_reader *r, uint64_t *ret) {
        const uint8_t *p = take(r, 8);

        if (!p)
                return false;
        *ret = load64(p);
        return true;
}

bool wire_get_i64(struct wire_reader *r, int64_t *ret) {
        uint64_t v;

        if (!wire_get_u64(r, &v))
                return false;
        memcpy(ret, &v, sizeof(v));
        return true;
}

bool wire_get_name(struct wire_reader *r, const char **ret, size_t *ret_len) {
        uint8_t len;
        const uint8_t *p;

        if (!wire_get_u8(r, &len))
                return false;
        p = take(r, len);
        if (!p)
                return false;
        if (!wire_name_valid(p, len)) {
                r->bad = true;
                return false;
        }
        *ret = (const char *) p;
        *ret_len = len;
        return true;
}

bool wire_get_bytes(struct wire_reader *r, const void **ret, uint32_t *ret_len) {
        uint32_t len;
        const uint8_t *p;

        if (!wire_get_u32(r, &len))
                return false;
        p = take(r, len);
        if (!p)
                return false;
        *ret = p;
        *ret_len = len;
        return true;
}

bool wire_get_str(struct wire_reader *r, const char **ret, uint16_t *ret_len) {
        uint16_t len;
        const uint8_t *p;

        if (!wire_get_u16(r, &len))
                return false;
        p = take(r, len);
        if (!p)
                return false;
        *ret = (const char *) p;
        *ret_len = len;
        return true;
}

bool wire_reader_done(const struct wire_reader *r) {
        return !r->bad && r->left == 0;
}

void wire_buf_init(struct wire_buf *b) {
        b->data = NULL;
        b->len = 0;
        b->cap = 0;
}

void wire_buf_done(struct wire_buf *b) {
        free(b->data);
        wire_buf_init(b);
}

int wire_buf_grow(struct wire_buf *b, size_t extra) {
        size_t want, cap;
        uint8_t *d;

        if (extra > SIZE_MAX / 2 - b->len)
                return -ENOMEM;
        want = b->len + extra;
        if (want <= b->cap)
                return 0;
        cap = b->cap ? b->cap : 256;
        while (cap < want)
                cap *= 2;
        d = realloc(b->data, cap);
        if (!d)
                return -ENOMEM;
        b->data = d;
        b->cap = cap;
        return 0;
}

void wire_patch_u32(struct wire_buf *b, size_t at, uint32_t v) {
        store32(b->data + at, v);
}

void wire_patch_u64(struct wire_buf *b, size_t at, uint64_t v) {
        store64(b->data + at, v);
}

void wire_buf_consume(struct wire_buf *b, size_t n) {
        if (n >= b->len) {
                b->len = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

int wire_put_raw(struct wire_buf *b, const void *src, size_t n) {
        int r = wire_buf_reserve(b, n);

        if (r < 0)
                return r;
        if (n)
                memcpy(b->data + b->len, src, n);
        b->len += n;
        return 0;
}

/* Fixed-size integers are stored straight into the buffer: no copy through memcpy(). */
int wire_put_u8(struct wire_buf *b, uint8_t v) {
        if (wire_buf_reserve(b, 1) < 0)
                return -ENOMEM;
        b->data[b->len++] = v;
        return 0;
}

int wire_put_u16(struct wire_buf *b, uint16_t v) {
        if (wire_buf_reserve(b, 2) < 0)
                return -ENOMEM;
        store16(b->data + b->len, v);
        b->len += 2;
        return 0;
}

int wire_put_u32(struct wire_buf *b, uint32_t v) {
        if (wire_buf_reserve(b, 4) < 0)
                return -ENOMEM;
        store32(b->data + b->len, v);
        b->len += 4;
        return 0;
}

int wire_put_u64(struct wire_buf *b, uint64_t v) {
        if (wire_buf_reserve(b, 8) < 0)
                return -ENOMEM;
        store64(b->data + b->len, v);
        b->len += 8;
        return 0;
}

int wire_put_i64(struct wire_buf *b, int64_t v) {
        uint64_t u;

        memcpy(&u, &v, sizeof(u));
        return wire_put_u64(b, u);
}

int wire_put_name(struct wire_buf *b, const char *name, size_t len) {
        if (!wire_name_valid(name, len))
                return -EINVAL;
        if (wire_buf_reserve(b, 1 + len) < 0)
                return -ENOMEM;
        b->data[b->len] = (uint8_t) len;
        memcpy(b->data + b->len + 1, name, len);
        b->len += 1 + len;
        return 0;
}

int wire_put_bytes(struct wire_buf *b, const void *src, uint32_t len) {
        uint8_t *p;

        /* One room check and direct stores: every item and value goes through here. */
        if (wire_buf_reserve(b, 4 + (size_t) len) < 0)
                return -ENOMEM;
        p = b->data + b->len;
        store32(p, len);
        if (len)
                memcpy(p + 4, src, len);
        b->len += 4 + (size_t) len;
        return 0;
}

int wire_put_item(struct wire_buf *b, uint64_t tag, uint32_t deliveries, const void *data, uint32_t size) {
        uint8_t *p;

        if (wire_buf_reserve(b, 16 + (size_t) size) < 0)
                return -ENOMEM;
        p = b->data + b->len;
        store64(p, tag);
        store32(p + 8, deliveries);
        store32(p + 12, size);
        if (size)
                memcpy(p + 16, data, size);
        b->len += 16 + (size_t) size;
        return 0;
}

int wire_put_str(struct wire_buf *b, const char *s, size_t len) {
        int r;

        if (len > UINT16_MAX)
                len = UINT16_MAX;
        r = wire_buf_reserve(b, 2 + len);
        if (r < 0)
                return r;
        (void) wire_put_u16(b, (uint16_t) len);
        return wire_put_raw(b, s, len);
}

int wire_fields_begin(struct wire_buf *b, struct wire_fields *f) {
        f->at = b->len;
        f->n = 0;
        return wire_put_u16(b, 0);
}

static int put_field_key(struct wire_buf *b, const char *key, uint8_t kind) {
        size_t len = strlen(key);
        int r;

        if (len > UINT8_MAX)
                return -EINVAL;
        r = wire_buf_reserve(b, 2 + len);
        if (r < 0)
                return r;
        (void) wire_put_u8(b, (uint8_t) len);
        (void) wire_put_raw(b, key, len);
        return wire_put_u8(b, kind);
}

int wire_put_field_int(struct wire_buf *b, struct wire_fields *f, const char *key, int64_t v) {
        int r = put_field_key(b, key, WIRE_FIELD_INT);

        if (r >= 0)
                r = wire_put_i64(b, v);
        if (r >= 0)
                f->n++;
        return r;
}

int wire_put_field_str(struct wire_buf *b, struct wire_fields *f, const char *key, const char *s) {
        int r = put_field_key(b, key, WIRE_FIELD_STR);

        if (r >= 0)
                r = wire_put_str(b, s, strlen(s));
        if (r >= 0)
                f->n++;
        return r;
}

void wire_fields_end(struct wire_buf *b, const struct wire_fields *f) {
        store16(b->data + f->at, f->n);
}

int wire_frame_begin(struct wire_buf *b, uint32_t id, uint16_t op, uint16_t status, size_t *ret_start) {
        struct wire_header h = { .body_len = 0, .id = id, .op = op, .status = status };
        int r = wire_buf_reserve(b, WIRE_HEADER_SIZE);

        if (r < 0)
                return r;
        *ret_start = b->len;
        wire_header_encode(b->data + b->len, &h);
        b->len += WIRE_HEADER_SIZE;
        return 0;
}

void wire_frame_end(struct wire_buf *b, size_t start) {
        store32(b->data + start, (uint32_t) (b->len - start - WIRE_HEADER_SIZE));
}

void wire_frame_abort(struct wire_buf *b, size_t start) {
        b->len = start;
}
