/* SPDX-License-Identifier: MIT */
/*
 * libmpx typed values and arrays: declare, get and set runs of elements,
 * atomic add and compare-and-set, and mapping an array's memory into the
 * calling process (the memfd the daemon passes with the ARRAY_MAP reply).
 *
 * Elements travel in the host's byte order and layout, as C arrays of their
 * type. Every element access (get, set, add, cas) names the type code the
 * caller believes the array has: it tells this file how many bytes an
 * element is, so sizes are checked here before anything is queued, and the
 * daemon refuses any type code other than the array's (-EPROTOTYPE) without
 * reading or writing. Each call is one request, queued once its arguments
 * are checked, with the parser of its reply named (mpx-internal.h); the
 * synchronous form waits for the asynchronous one. What a parser must know
 * of the request (the type code asked, the element size) travels with it,
 * never read from the caller's arguments at reply time. A reply whose
 * elements do not match the type code asked for is -EPROTO, and nothing is
 * copied to the caller.
 *
 * This file does not cache anything between calls and never touches the
 * memory of a mapping other than to map and unmap it.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpx-internal.h"
#include "typecode.h"

/* A type code as conn_put() takes a u8. */
#define ARRAY_TYPECODE(typecode) ((unsigned) (uint8_t) (typecode))

/* Every element access starts its body alike: name, u8 typecode, i64 index; then what follows. */
#define ARRAY_HEAD "nBq"

/* The size of one element of a type code, from the table the daemon uses too. */
int mpx_typecode_size(char typecode) {
        const struct typecode *t = typecode_find(typecode);

        return t ? t->size : -EINVAL;
}

/* DECLARE with flags: 1 created, 0 existed as asked, or a negative errno. */
static int64_t array_declare(mpx *m, const char *name, char typecode, uint32_t length, uint32_t flags,
                             const void *initial, mpx_callback *cb, void *userdata) {
        uint64_t bytes;
        int size;

        if (!m)
                return -EINVAL;
        size = mpx_typecode_size(typecode);
        if (size < 0 || length == 0)
                return -EINVAL;
        bytes = initial ? (uint64_t) length * (unsigned) size : 0;
        if (bytes > m->max_message)
                return -EMSGSIZE;
        return conn_call(m, WIRE_OP_ARRAY_DECLARE, &conn_reply_created, cb, userdata, "nBIIs", name,
                         ARRAY_TYPECODE(typecode), length, flags, initial, (size_t) bytes);
}

/* Create an array, or check that it exists with this type code and length. */
int64_t mpx_array_declare_async(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                                mpx_callback *cb, void *userdata) {
        return array_declare(m, name, typecode, length, 0, initial, cb, userdata);
}

int mpx_array_declare(mpx *m, const char *name, char typecode, uint32_t length, const void *initial) {
        return (int) conn_sync(m, mpx_array_declare_async(m, name, typecode, length, initial, CONN_SYNC));
}

/* Create a value (an array of one listed as a value), or check that it exists so. */
int64_t mpx_value_declare_async(mpx *m, const char *name, char typecode, const void *initial,
                                mpx_callback *cb, void *userdata) {
        return array_declare(m, name, typecode, 1, WIRE_ARRAY_VALUE, initial, cb, userdata);
}

int mpx_value_declare(mpx *m, const char *name, char typecode, const void *initial) {
        return (int) conn_sync(m, mpx_value_declare_async(m, name, typecode, initial, CONN_SYNC));
}

/* mpx_array_declare with flags (MPX_DURABLE, MPX_COUNTED). */
int64_t mpx_array_declare_flags_async(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                                      unsigned flags, mpx_callback *cb, void *userdata) {
        if (flags & ~CONN_DECLARE_FLAGS)
                return -EINVAL;
        return array_declare(m, name, typecode, length, conn_declare_flags(flags), initial, cb, userdata);
}

int mpx_array_declare_flags(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                            unsigned flags) {
        return (int) conn_sync(m, mpx_array_declare_flags_async(m, name, typecode, length, initial, flags,
                                                                CONN_SYNC));
}

/* mpx_value_declare with flags (MPX_DURABLE, MPX_COUNTED). */
int64_t mpx_value_declare_flags_async(mpx *m, const char *name, char typecode, const void *initial, unsigned flags,
                                      mpx_callback *cb, void *userdata) {
        if (flags & ~CONN_DECLARE_FLAGS)
                return -EINVAL;
        return array_declare(m, name, typecode, 1, WIRE_ARRAY_VALUE | conn_declare_flags(flags), initial,
                             cb, userdata);
}

int mpx_value_declare_flags(mpx *m, const char *name, char typecode, const void *initial, unsigned flags) {
        return (int) conn_sync(m, mpx_value_declare_flags_async(m, name, typecode, initial, flags, CONN_SYNC));
}

/* The size of an element of typecode, or -EINVAL; -EINVAL too without a connection. */
static int array_elem_size(mpx *m, char typecode) {
        if (!m)
                return -EINVAL;
        return mpx_typecode_size(typecode);
}

/*
 * Check a run of count elements of typecode at data (NULL only for none)
 * against the daemon's limits: the size of an element, or a negative errno.
 */
static int array_check_run(mpx *m, char typecode, uint32_t count, const void *data) {
        int size = array_elem_size(m, typecode);

        if (size < 0)
                return size;
        if (!data && count > 0)
                return -EINVAL;
        if ((uint64_t) count * (unsigned) size > m->max_message)
                return -EMSGSIZE;
        return size;
}

/* GET's reply: u8 typecode, then the elements, to dst at out[0]; arg[0] the typecode asked, arg[1] the bytes. */
static int64_t array_parse_get(struct conn_request *rq, struct wire_reader *rd) {
        const void *elements;
        uint32_t len;
        uint8_t code;

        /* dst has room for count elements of typecode, and not a byte more. */
        if (!wire_get_u8(rd, &code) || !wire_get_bytes(rd, &elements, &len) || !wire_reader_done(rd) ||
            code != (uint8_t) rq->reply.arg[0] || len != rq->reply.arg[1])
                return -EPROTO;
        if (len > 0)
                memcpy(rq->reply.out[0], elements, len);
        return 0;
}

/* Copy count elements of type typecode from index into dst. */
int64_t mpx_array_get_async(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, void *dst,
                            mpx_callback *cb, void *userdata) {
        int size = array_check_run(m, typecode, count, dst);

        if (size < 0)
                return size;
        return conn_call(m, WIRE_OP_ARRAY_GET,
                         &(struct conn_reply) {
                                 .parse = array_parse_get,
                                 .out = { dst },
                                 .arg = { (uint8_t) typecode, (uint64_t) count * (unsigned) size },
                         },
                         cb, userdata, ARRAY_HEAD "I", name, ARRAY_TYPECODE(typecode), index, count);
}

int mpx_array_get(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, void *dst) {
        return (int) conn_sync(m, mpx_array_get_async(m, name, typecode, index, count, dst, CONN_SYNC));
}

/* Store count elements of type typecode from src at index. */
int64_t mpx_array_set_async(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, const void *src,
                            mpx_callback *cb, void *userdata) {
        int size = array_check_run(m, typecode, count, src);

        if (size < 0)
                return size;
        return conn_call(m, WIRE_OP_ARRAY_SET, NULL, cb, userdata, ARRAY_HEAD "s", name, ARRAY_TYPECODE(typecode),
                         index, src, (size_t) count * (unsigned) size);
}

int mpx_array_set(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, const void *src) {
        return (int) conn_sync(m, mpx_array_set_async(m, name, typecode, index, count, src, CONN_SYNC));
}

/* ADD's reply: the new element, of arg[0] bytes, to out[0] when not NULL. */
static int64_t array_parse_add(struct conn_request *rq, struct wire_reader *rd) {
        const void *new;
        uint32_t len;

        if (!wire_get_bytes(rd, &new, &len) || !wire_reader_done(rd) || len != rq->reply.arg[0])
                return -EPROTO;
        if (rq->reply.out[0])
                memcpy(rq->reply.out[0], new, len);
        return 0;
}

/* Atomically add one element of type typecode to the element at index. */
int64_t mpx_array_add_async(mpx *m, const char *name, char typecode, int64_t index, const void *delta, void *ret_new,
                            mpx_callback *cb, void *userdata) {
        int size = array_elem_size(m, typecode);

        if (size < 0)
                return size;
        /* Bytes cannot be added to, whatever the array: no need to ask. */
        if (!delta || typecode == 'c')
                return -EINVAL;
        return conn_call(m, WIRE_OP_ARRAY_ADD,
                         &(struct conn_reply) { .parse = array_parse_add, .out = { ret_new }, .arg = { size } },
                         cb, userdata, ARRAY_HEAD "s", name, ARRAY_TYPECODE(typecode), index, delta,
                         (size_t) size);
}

int mpx_array_add(mpx *m, const char *name, char typecode, int64_t index, const void *delta, void *ret_new) {
        return (int) conn_sync(m, mpx_array_add_async(m, name, typecode, index, delta, ret_new, CONN_SYNC));
}

/* CAS's reply: u8 swapped (the result), then the current element, of arg[0] bytes, to out[0] when not NULL. */
static int64_t array_parse_cas(struct conn_request *rq, struct wire_reader *rd) {
        const void *current;
        uint32_t len;
        uint8_t swapped;

        if (!wire_get_u8(rd, &swapped) || !wire_get_bytes(rd, &current, &len) || !wire_reader_done(rd) ||
            len != rq->reply.arg[0] || swapped > 1)
                return -EPROTO;
        if (rq->reply.out[0])
                memcpy(rq->reply.out[0], current, len);
        return swapped;
}

/* Atomically replace the element at index if it holds expected, bit for bit. */
int64_t mpx_array_cas_async(mpx *m, const char *name, char typecode, int64_t index, const void *expected,
                            const void *new_value, void *ret_current, mpx_callback *cb, void *userdata) {
        int size = array_elem_size(m, typecode);

        if (size < 0)
                return size;
        if (!expected || !new_value)
                return -EINVAL;
        return conn_call(m, WIRE_OP_ARRAY_CAS,
                         &(struct conn_reply) {
                                 .parse = array_parse_cas,
                                 .out = { ret_current },
                                 .arg = { size },
                         },
                         cb, userdata, ARRAY_HEAD "ss", name, ARRAY_TYPECODE(typecode), index,
                         expected, (size_t) size, new_value, (size_t) size);
}

int mpx_array_cas(mpx *m, const char *name, char typecode, int64_t index, const void *expected,
                  const void *new_value, void *ret_current) {
        return (int) conn_sync(m, mpx_array_cas_async(m, name, typecode, index, expected, new_value, ret_current,
                                                      CONN_SYNC));
}

/* MAP's reply: u8 typecode, u32 length, u64 size, and the memfd, mapped to the mpx_map at out[0]. */
static int64_t array_parse_map(struct conn_request *rq, struct wire_reader *rd) {
        struct stat st;
        uint64_t size;
        uint32_t length;
        uint8_t typecode;
        void *addr;
        int itemsize, fd, r;

        /* From here on this function owns the descriptor, if one came. */
        fd = conn_claim_fd(rq);
        if (!wire_get_u8(rd, &typecode) || !wire_get_u32(rd, &length) || !wire_get_u64(rd, &size) ||
            !wire_reader_done(rd)) {
                r = -EPROTO;
                goto out;
        }
        itemsize = mpx_typecode_size((char) typecode);
        if (fd < 0 || itemsize < 0 || length == 0 || size != (uint64_t) length * (unsigned) itemsize ||
            size > SIZE_MAX) {
                r = -EPROTO;
                goto out;
        }
        /* A descriptor smaller than announced would fault on access (SIGBUS). */
        if (fstat(fd, &st) < 0) {
                r = -errno;
                goto out;
        }
        if (st.st_size < 0 || (uint64_t) st.st_size < size) {
                r = -EPROTO;
                goto out;
        }
        addr = mmap(NULL, (size_t) size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (addr == MAP_FAILED) {
                r = -errno;
                goto out;
        }
        *(mpx_map *) rq->reply.out[0] = (mpx_map) {
                .addr = addr,
                .size = (size_t) size,
                .length = length,
                .typecode = (char) typecode,
        };
        r = 0;
out:
        /* The mapping keeps the memory; the descriptor is no longer needed. */
        if (fd >= 0)
                close(fd);
        return r;
}

/* Map an array's memory (the memfd that comes with the MAP reply) read and write. */
int64_t mpx_array_map_async(mpx *m, const char *name, mpx_map *ret, mpx_callback *cb, void *userdata) {
        if (!m || !ret)
                return -EINVAL;
        return conn_call(m, WIRE_OP_ARRAY_MAP, &(struct conn_reply) { .parse = array_parse_map, .out = { ret } },
                         cb, userdata, "n", name);
}

int mpx_array_map(mpx *m, const char *name, mpx_map *ret) {
        return (int) conn_sync(m, mpx_array_map_async(m, name, ret, CONN_SYNC));
}

/* Unmap a mapping made by mpx_array_map() and zero it. */
void mpx_map_release(mpx_map *map) {
        if (!map)
                return;
        if (map->addr)
                munmap(map->addr, map->size);
        *map = (mpx_map) { 0 };
}
