/* SPDX-License-Identifier: MIT */
/*
 * libmpx typed values and arrays: declare, get and set runs of elements,
 * atomic add and compare-and-set, and mapping an array's memory into the
 * calling process (the memfd the daemon passes with the ARRAY_MAP reply).
 *
 * Elements travel in the host's byte order and layout, as C arrays of their
 * type. Every element access (get, set, add, cas) names the type code the
 * caller believes the array has: it tells this file how many bytes an
 * element is, so sizes are checked here before anything is sent, and the
 * daemon refuses any type code other than the array's (-EPROTOTYPE) without
 * reading or writing. Each call is one round trip. A reply whose elements
 * do not match the type code asked for is -EPROTO, and nothing is copied
 * to the caller.
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

/* The size of one element of a type code, as on x86-64 and aarch64 Linux. */
int mpx_typecode_size(char typecode) {
        switch (typecode) {
        case 'b':
        case 'B':
        case 'c':
                return 1;
        case 'h':
        case 'H':
                return 2;
        case 'i':
        case 'I':
        case 'f':
                return 4;
        case 'l':
        case 'L':
        case 'q':
        case 'Q':
        case 'd':
                return 8;
        default:
                return -EINVAL;
        }
}

/* DECLARE with flags: 1 created, 0 existed as asked, or a negative errno. */
static int array_declare(mpx *m, const char *name, char typecode, uint32_t length, uint32_t flags,
                         const void *initial) {
        uint64_t bytes;
        size_t start;
        int size, r;

        if (!m)
                return -EINVAL;
        size = mpx_typecode_size(typecode);
        if (size < 0 || length == 0)
                return -EINVAL;
        bytes = initial ? (uint64_t) length * (unsigned) size : 0;
        if (bytes > m->max_message)
                return -EMSGSIZE;
        r = conn_begin(m, WIRE_OP_ARRAY_DECLARE, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u8(&m->out, (uint8_t) typecode);
        if (r >= 0)
                r = wire_put_u32(&m->out, length);
        if (r >= 0)
                r = wire_put_u32(&m->out, flags);
        if (r >= 0)
                r = wire_put_bytes(&m->out, initial, (uint32_t) bytes);
        return conn_call_declare(m, start, r);
}

/* Create an array, or check that it exists with this type code and length. */
int mpx_array_declare(mpx *m, const char *name, char typecode, uint32_t length, const void *initial) {
        return array_declare(m, name, typecode, length, 0, initial);
}

/* Create a value (an array of one listed as a value), or check that it exists so. */
int mpx_value_declare(mpx *m, const char *name, char typecode, const void *initial) {
        return array_declare(m, name, typecode, 1, WIRE_ARRAY_VALUE, initial);
}

/* mpx_array_declare with flags (MPX_DURABLE). */
int mpx_array_declare_flags(mpx *m, const char *name, char typecode, uint32_t length, const void *initial,
                            unsigned flags) {
        if (flags & ~MPX_DURABLE)
                return -EINVAL;
        return array_declare(m, name, typecode, length, (flags & MPX_DURABLE) ? WIRE_DECLARE_DURABLE : 0, initial);
}

/* mpx_value_declare with flags (MPX_DURABLE). */
int mpx_value_declare_flags(mpx *m, const char *name, char typecode, const void *initial, unsigned flags) {
        if (flags & ~MPX_DURABLE)
                return -EINVAL;
        return array_declare(m, name, typecode, 1,
                             WIRE_ARRAY_VALUE | ((flags & MPX_DURABLE) ? WIRE_DECLARE_DURABLE : 0), initial);
}

/* The size of an element of typecode, or -EINVAL; -EINVAL too without a connection. */
static int array_elem_size(mpx *m, char typecode) {
        if (!m)
                return -EINVAL;
        return mpx_typecode_size(typecode);
}

/* Begin a GET, SET, ADD or CAS request: op, name, u8 typecode, i64 index. */
static int array_begin(mpx *m, uint16_t op, const char *name, char typecode, int64_t index, size_t *ret_start) {
        int r;

        r = conn_begin(m, op, ret_start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u8(&m->out, (uint8_t) typecode);
        if (r >= 0)
                r = wire_put_i64(&m->out, index);
        return r;
}

/* Copy count elements of type typecode from index into dst. */
int mpx_array_get(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, void *dst) {
        struct wire_reader rd;
        const void *elements;
        uint64_t bytes;
        uint32_t len;
        uint8_t code;
        size_t start;
        int size, r;

        size = array_elem_size(m, typecode);
        if (size < 0)
                return size;
        if (!dst && count > 0)
                return -EINVAL;
        bytes = (uint64_t) count * (unsigned) size;
        if (bytes > m->max_message)
                return -EMSGSIZE;
        r = array_begin(m, WIRE_OP_ARRAY_GET, name, typecode, index, &start);
        if (r >= 0)
                r = wire_put_u32(&m->out, count);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        /* dst has room for count elements of typecode, and not a byte more. */
        if (!wire_get_u8(&rd, &code) || !wire_get_bytes(&rd, &elements, &len) || !wire_reader_done(&rd) ||
            code != (uint8_t) typecode || len != bytes)
                return -EPROTO;
        if (len > 0)
                memcpy(dst, elements, len);
        return 0;
}

/* Store count elements of type typecode from src at index. */
int mpx_array_set(mpx *m, const char *name, char typecode, int64_t index, uint32_t count, const void *src) {
        struct wire_reader rd;
        uint64_t bytes;
        size_t start;
        int size, r;

        size = array_elem_size(m, typecode);
        if (size < 0)
                return size;
        if (!src && count > 0)
                return -EINVAL;
        bytes = (uint64_t) count * (unsigned) size;
        if (bytes > m->max_message)
                return -EMSGSIZE;
        r = array_begin(m, WIRE_OP_ARRAY_SET, name, typecode, index, &start);
        if (r >= 0)
                r = wire_put_bytes(&m->out, src, (uint32_t) bytes);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* Atomically add one element of type typecode to the element at index. */
int mpx_array_add(mpx *m, const char *name, char typecode, int64_t index, const void *delta, void *ret_new) {
        struct wire_reader rd;
        const void *new;
        uint32_t len;
        size_t start;
        int size, r;

        size = array_elem_size(m, typecode);
        if (size < 0)
                return size;
        /* Bytes cannot be added to, whatever the array: no need to ask. */
        if (!delta || typecode == 'c')
                return -EINVAL;
        r = array_begin(m, WIRE_OP_ARRAY_ADD, name, typecode, index, &start);
        if (r >= 0)
                r = wire_put_bytes(&m->out, delta, (uint32_t) size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_bytes(&rd, &new, &len) || !wire_reader_done(&rd) || len != (uint32_t) size)
                return -EPROTO;
        if (ret_new)
                memcpy(ret_new, new, len);
        return 0;
}

/* Atomically replace the element at index if it holds expected, bit for bit. */
int mpx_array_cas(mpx *m, const char *name, char typecode, int64_t index, const void *expected,
                  const void *new_value, void *ret_current) {
        struct wire_reader rd;
        const void *current;
        uint32_t len;
        uint8_t swapped;
        size_t start;
        int size, r;

        size = array_elem_size(m, typecode);
        if (size < 0)
                return size;
        if (!expected || !new_value)
                return -EINVAL;
        r = array_begin(m, WIRE_OP_ARRAY_CAS, name, typecode, index, &start);
        if (r >= 0)
                r = wire_put_bytes(&m->out, expected, (uint32_t) size);
        if (r >= 0)
                r = wire_put_bytes(&m->out, new_value, (uint32_t) size);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u8(&rd, &swapped) || !wire_get_bytes(&rd, &current, &len) || !wire_reader_done(&rd) ||
            len != (uint32_t) size || swapped > 1)
                return -EPROTO;
        if (ret_current)
                memcpy(ret_current, current, len);
        return swapped;
}

/* Map an array's memory (the memfd that comes with the MAP reply) read and write. */
int mpx_array_map(mpx *m, const char *name, mpx_map *ret) {
        struct wire_reader rd;
        struct stat st;
        uint64_t size;
        uint32_t length;
        uint8_t typecode;
        size_t start;
        void *addr;
        int itemsize, fd, r;

        if (!m || !ret)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_ARRAY_MAP, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        /* From here on this function owns the descriptor, if one came. */
        fd = conn_take_fd(m);
        if (!wire_get_u8(&rd, &typecode) || !wire_get_u32(&rd, &length) || !wire_get_u64(&rd, &size) ||
            !wire_reader_done(&rd)) {
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
        *ret = (mpx_map) {
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

/* Unmap a mapping made by mpx_array_map() and zero it. */
void mpx_map_release(mpx_map *map) {
        if (!map)
                return;
        if (map->addr)
                munmap(map->addr, map->size);
        *map = (mpx_map) { 0 };
}
