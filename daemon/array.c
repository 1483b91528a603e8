/* SPDX-License-Identifier: MIT */
/*
 * Typed shared values and arrays: Python's Value('i', 5000) and
 * Array('c', b'Hello'), as one implementation with two object types (a value
 * is an array of length 1, declared with WIRE_ARRAY_VALUE and listed as
 * "value"), the way queue.c serves queues and joinable queues.
 *
 * Storage: every array lives from its creation in a memfd (sealed against
 * shrinking and growing, so that no client holding the descriptor can make
 * the daemon's own accesses fault), fully allocated up front and mapped
 * MAP_SHARED into the daemon. GET, SET, ADD and CAS work on that mapping,
 * and MAP hands a duplicate of the memfd to the client (SCM_RIGHTS), so the
 * daemon and every process that mapped the array see one memory. Elements
 * are naturally aligned and accessed with __atomic builtins of their own
 * width: loads and stores one element at a time (no torn elements), ADD as
 * an atomic fetch-and-add on integers and a compare-and-swap loop on the
 * bits of floats, CAS as a compare-exchange of the element's bits. A process
 * that uses C11 atomics on the mapping therefore interoperates with the
 * daemon's operations. Elements are in the host's byte order and layout.
 *
 * Integers wrap around, as ctypes values do: the wire carries exactly one
 * element's bytes, and additions are done on the unsigned type of the
 * element's width.
 *
 * GET, SET, ADD and CAS name the type code the client believes the array
 * has; any other is refused with -EPROTOTYPE before anything is read or
 * written, so that a client never receives or sends elements of a size it
 * did not expect. The element sizes are still checked after that.
 *
 * This file does not decide who may map an array (permissions belong to
 * object.c) and keeps no waiters: nothing on an array blocks.
 *
 * The first half of the file is the storage API, the second the request
 * handlers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "array.h"
#include "client.h"
#include "journal.h"
#include "log.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "typecode.h"
#include "user.h"
#include "wire.h"

/*
 * The largest array, in bytes. Its memory is allocated when it is declared
 * (a shared mapping that could not be backed later would crash the daemon),
 * so one request must not be able to take the host's memory.
 */
#define ARRAY_MAX_BYTES (UINT64_C(1) << 30)

struct array {
        struct object obj;
        const struct typecode *t;
        uint32_t length;                /* elements */
        size_t size_bytes;              /* length * t->size: the memfd's size and the mapping's */
        int memfd;                      /* -1 until created */
        uint8_t *mem;                   /* MAP_SHARED mapping of memfd; NULL until mapped */
        bool charged;                   /* size_bytes are charged to obj.user */

        uint64_t maps;                  /* MAP requests served */
        uint64_t sets;                  /* SET requests, and CAS requests that swapped */
        uint64_t adds;                  /* ADD requests */
        uint8_t *journal_copy;          /* durable: the memory as the journal has it; NULL until the first image */
};

static const struct object_type array_type, value_type;

static struct array *array_of(struct object *o) {
        return container_of(o, struct array, obj);
}

/* ---- elements ---- */

/* The bits of one element read from unaligned bytes (host order), zero-extended. */
static uint64_t bits_get(const void *src, unsigned size) {
        uint8_t v8;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;

        switch (size) {
        case 1:
                memcpy(&v8, src, 1);
                return v8;
        case 2:
                memcpy(&v16, src, 2);
                return v16;
        case 4:
                memcpy(&v32, src, 4);
                return v32;
        default:
                memcpy(&v64, src, 8);
                return v64;
        }
}

/* Write the low size bytes of bits to unaligned bytes, in host order. */
static void bits_put(void *dst, unsigned size, uint64_t bits) {
        uint8_t v8 = (uint8_t) bits;
        uint16_t v16 = (uint16_t) bits;
        uint32_t v32 = (uint32_t) bits;

        switch (size) {
        case 1:
                memcpy(dst, &v8, 1);
                break;
        case 2:
                memcpy(dst, &v16, 2);
                break;
        case 4:
                memcpy(dst, &v32, 4);
                break;
        default:
                memcpy(dst, &bits, 8);
                break;
        }
}

/* Atomic load of one aligned element of the shared memory. */
static uint64_t elem_load(const uint8_t *p, unsigned size) {
        switch (size) {
        case 1:
                return __atomic_load_n(p, __ATOMIC_ACQUIRE);
        case 2:
                return __atomic_load_n((const uint16_t *) (const void *) p, __ATOMIC_ACQUIRE);
        case 4:
                return __atomic_load_n((const uint32_t *) (const void *) p, __ATOMIC_ACQUIRE);
        default:
                return __atomic_load_n((const uint64_t *) (const void *) p, __ATOMIC_ACQUIRE);
        }
}

/* Atomic store of one aligned element of the shared memory. */
static void elem_store(uint8_t *p, unsigned size, uint64_t bits) {
        switch (size) {
        case 1:
                __atomic_store_n(p, (uint8_t) bits, __ATOMIC_RELEASE);
                break;
        case 2:
                __atomic_store_n((uint16_t *) (void *) p, (uint16_t) bits, __ATOMIC_RELEASE);
                break;
        case 4:
                __atomic_store_n((uint32_t *) (void *) p, (uint32_t) bits, __ATOMIC_RELEASE);
                break;
        default:
                __atomic_store_n((uint64_t *) (void *) p, bits, __ATOMIC_RELEASE);
                break;
        }
}

/* float + float on the bits of two floats (a union reads the bits as the other type in C11). */
static uint32_t float_add_bits(uint32_t a, uint32_t b) {
        union { uint32_t bits; float f; } x = { .bits = a }, y = { .bits = b };

        x.f += y.f;
        return x.bits;
}

/* double + double on the bits of two doubles. */
static uint64_t double_add_bits(uint64_t a, uint64_t b) {
        union { uint64_t bits; double f; } x = { .bits = a }, y = { .bits = b };

        x.f += y.f;
        return x.bits;
}

/*
 * Atomically add delta (an element's bits) to the element at p; returns the
 * new element's bits. Integers wrap (unsigned arithmetic of the element's
 * width is two's complement arithmetic of the signed type too); floats add
 * as floats, in a compare-and-swap loop on their bits. Not for 'c'.
 */
static uint64_t elem_add(uint8_t *p, const struct typecode *t, uint64_t delta) {
        if (t->kind == TYPECODE_FLOAT && t->size == 4) {
                uint32_t *q = (uint32_t *) (void *) p, old = __atomic_load_n(q, __ATOMIC_RELAXED), new;

                do
                        new = float_add_bits(old, (uint32_t) delta);
                while (!__atomic_compare_exchange_n(q, &old, new, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
                return new;
        }
        if (t->kind == TYPECODE_FLOAT) {
                uint64_t *q = (uint64_t *) (void *) p, old = __atomic_load_n(q, __ATOMIC_RELAXED), new;

                do
                        new = double_add_bits(old, delta);
                while (!__atomic_compare_exchange_n(q, &old, new, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
                return new;
        }
        switch (t->size) {
        case 1:
                return __atomic_add_fetch(p, (uint8_t) delta, __ATOMIC_SEQ_CST);
        case 2:
                return __atomic_add_fetch((uint16_t *) (void *) p, (uint16_t) delta, __ATOMIC_SEQ_CST);
        case 4:
                return __atomic_add_fetch((uint32_t *) (void *) p, (uint32_t) delta, __ATOMIC_SEQ_CST);
        default:
                return __atomic_add_fetch((uint64_t *) (void *) p, delta, __ATOMIC_SEQ_CST);
        }
}

/*
 * Atomically store desired at p if it holds expected, bit for bit. Returns
 * true if it did; *ret_current gets the element's bits after the call.
 */
static bool elem_cas(uint8_t *p, unsigned size, uint64_t expected, uint64_t desired, uint64_t *ret_current) {
        bool swapped;

        switch (size) {
        case 1: {
                uint8_t e = (uint8_t) expected;
                swapped = __atomic_compare_exchange_n(p, &e, (uint8_t) desired, false, __ATOMIC_SEQ_CST,
                                                      __ATOMIC_SEQ_CST);
                *ret_current = swapped ? (uint8_t) desired : e;
                break;
        }
        case 2: {
                uint16_t e = (uint16_t) expected;
                swapped = __atomic_compare_exchange_n((uint16_t *) (void *) p, &e, (uint16_t) desired, false,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                *ret_current = swapped ? (uint16_t) desired : e;
                break;
        }
        case 4: {
                uint32_t e = (uint32_t) expected;
                swapped = __atomic_compare_exchange_n((uint32_t *) (void *) p, &e, (uint32_t) desired, false,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                *ret_current = swapped ? (uint32_t) desired : e;
                break;
        }
        default: {
                uint64_t e = expected;
                swapped = __atomic_compare_exchange_n((uint64_t *) (void *) p, &e, desired, false,
                                                      __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
                *ret_current = swapped ? desired : e;
                break;
        }
        }
        return swapped;
}

/* An element's bits as text: decimal for integers, %.17g for floats, the byte for 'c'. */
static void elem_format(const struct typecode *t, uint64_t bits, char *buf, size_t size) {
        unsigned shift = 64 - 8 * t->size;
        uint32_t f32;
        float f;
        double d;

        switch (t->kind) {
        case TYPECODE_SIGNED:
                /* Sign-extend from the element's width. */
                snprintf(buf, size, "%" PRId64, (int64_t) (bits << shift) >> shift);
                break;
        case TYPECODE_UNSIGNED:
                snprintf(buf, size, "%" PRIu64, bits);
                break;
        case TYPECODE_FLOAT:
                if (t->size == 4) {
                        f32 = (uint32_t) bits;
                        memcpy(&f, &f32, 4);
                        d = f;
                } else
                        memcpy(&d, &bits, 8);
                snprintf(buf, size, "%.17g", d);
                break;
        case TYPECODE_CHAR:
                /* A str field is text: a byte that is not printable ASCII is written \xNN. */
                if (bits >= 0x20 && bits < 0x7f)
                        snprintf(buf, size, "%c", (char) bits);
                else
                        snprintf(buf, size, "\\x%02" PRIx64, bits);
                break;
        }
}

/* ---- storage API ---- */

/*
 * Resolve index (negative counts from the end) and count against the array:
 * 0 and the first element in *ret_first, or -ERANGE. count may be 0.
 */
static int array_range(const struct array *a, int64_t index, uint64_t count, uint32_t *ret_first) {
        if (index < 0) {
                if (index < -(int64_t) a->length)
                        return -ERANGE;
                index += a->length;
        }
        if ((uint64_t) index > a->length || count > a->length - (uint64_t) index)
                return -ERANGE;
        *ret_first = (uint32_t) index;
        return 0;
}

/* Set up the array's memory: a sealed, fully allocated memfd mapped shared. */
static int array_memory_new(struct array *a, const char *name, size_t len) {
        char label[250];
        void *p;

        /* The label shows in /proc/PID/maps of every process that maps the array. */
        snprintf(label, sizeof(label), "mpx:%.*s", (int) (len < 240 ? len : 240), name);
        a->memfd = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (a->memfd < 0)
                return -errno;
        if (ftruncate(a->memfd, (off_t) a->size_bytes) < 0)
                return -errno;
        /*
         * Back every page now: a page that could not be allocated later would
         * be a SIGBUS in the daemon. tmpfs supports fallocate.
         */
        if (fallocate(a->memfd, 0, 0, (off_t) a->size_bytes) < 0 && errno != EOPNOTSUPP)
                return -errno;
        /*
         * Clients get this descriptor: forbid shrinking it under the daemon's
         * mapping (SIGBUS), growing it, and any further seal.
         */
        if (fcntl(a->memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
                return -errno;
        p = mmap(NULL, a->size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, a->memfd, 0);
        if (p == MAP_FAILED)
                return -errno;
        a->mem = p;
        return 0;
}

/* What a failure to create an array's memory means to the client. */
static int array_memory_error(int err) {
        switch (err) {
        case -ENOMEM:
                return -ENOMEM;
        case -ENOSPC:
        case -EFBIG:
                return -ENOSPC;
        case -EMFILE:
        case -ENFILE:
                return -EUSERS;
        default:
                return -ENOMEM;
        }
}

/* ---- the journal of a durable array ---- */

/* Record count elements from first, as the memory holds them now. */
static void array_journal_set(struct array *a, uint32_t first, uint32_t count) {
        size_t at = (size_t) first * a->t->size, bytes = (size_t) count * a->t->size;
        struct wire_buf *b = journal_begin(&a->obj, JOURNAL_ARRAY_SET);

        if (!b)
                return;
        if (wire_put_u32(b, first) < 0 || wire_buf_reserve(b, 4 + bytes) < 0) {
                journal_end(-ENOMEM);
                return;
        }
        (void) wire_put_u32(b, (uint32_t) bytes);
        /* Element by element with atomic loads: clients may be writing through their mappings. */
        for (uint32_t i = 0; i < count; i++) {
                bits_put(b->data + b->len, a->t->size, elem_load(a->mem + at + (size_t) i * a->t->size, a->t->size));
                b->len += a->t->size;
        }
        if (a->journal_copy)
                memcpy(a->journal_copy + at, b->data + b->len - bytes, bytes);
        journal_end(0);
}

/* Record every element; into copy too when given. */
static void array_journal_image(struct array *a, uint8_t *copy) {
        struct wire_buf *b = journal_begin(&a->obj, JOURNAL_ARRAY_IMAGE);

        if (!b)
                return;
        if (wire_buf_reserve(b, 4 + a->size_bytes) < 0) {
                journal_end(-ENOMEM);
                return;
        }
        (void) wire_put_u32(b, (uint32_t) a->size_bytes);
        for (uint32_t i = 0; i < a->length; i++) {
                bits_put(b->data + b->len, a->t->size, elem_load(a->mem + (size_t) i * a->t->size, a->t->size));
                b->len += a->t->size;
        }
        if (copy)
                memcpy(copy, b->data + b->len - a->size_bytes, a->size_bytes);
        journal_end(0);
}

/* Once a second: an image of the memory when writes through mappings changed it. */
static void array_checkpoint(struct object *o) {
        struct array *a = array_of(o);

        if (!a->journal_copy) {
                /* The first image after a start or a declaration: nothing to compare with yet. */
                a->journal_copy = malloc(a->size_bytes);
                if (a->journal_copy)
                        array_journal_image(a, a->journal_copy);
                return;
        }
        /* Without room on disk the image waits for the next second, when there may be some. */
        if (memcmp(a->journal_copy, a->mem, a->size_bytes) != 0 && journal_has_room(a->size_bytes))
                array_journal_image(a, a->journal_copy);
}

static int array_dump(struct object *o) {
        struct array *a = array_of(o);

        journal_create(o, (uint8_t) a->t->code, a->length, o->ops->type == WIRE_TYPE_VALUE ? WIRE_ARRAY_VALUE : 0);
        array_journal_image(a, NULL);
        return 0;
}

/* Apply a journal record of a durable array, at start. */
static int array_replay(struct object *o, uint16_t kind, struct wire_reader *r) {
        struct array *a = array_of(o);
        const void *data;
        uint32_t first = 0, bytes;

        if ((kind == JOURNAL_ARRAY_SET && !wire_get_u32(r, &first)) ||
            (kind != JOURNAL_ARRAY_SET && kind != JOURNAL_ARRAY_IMAGE) || !wire_get_bytes(r, &data, &bytes) ||
            !wire_reader_done(r) || bytes % a->t->size != 0 ||
            (uint64_t) first * a->t->size + bytes > a->size_bytes ||
            (kind == JOURNAL_ARRAY_IMAGE && bytes != a->size_bytes))
                return -EBADMSG;
        /* Nobody has mapped the memory yet. */
        memcpy(a->mem + (size_t) first * a->t->size, data, bytes);
        return 0;
}

static void array_free(struct object *o) {
        struct array *a = array_of(o);

        free(a->journal_copy);
        /* Mappings made by clients stay valid: the kernel keeps the memory until the last one goes. */
        if (a->mem)
                munmap(a->mem, a->size_bytes);
        if (a->memfd >= 0)
                close(a->memfd);
        if (a->charged)
                user_uncharge(a->obj.user, a->size_bytes);
        free(a);
}

/* Nothing waits on an array. */
static int array_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct array *a = array_of(o);
        char text[64];
        int r = 0;

        r |= wire_put_field_int(b, f, "size", a->length);
        r |= wire_put_field_int(b, f, "length", a->length);
        text[0] = a->t->code;
        text[1] = '\0';
        r |= wire_put_field_str(b, f, "typecode", text);
        r |= wire_put_field_int(b, f, "itemsize", a->t->size);
        r |= wire_put_field_int(b, f, "bytes", (int64_t) a->size_bytes);
        r |= wire_put_field_int(b, f, "maps", (int64_t) a->maps);
        r |= wire_put_field_int(b, f, "sets", (int64_t) a->sets);
        r |= wire_put_field_int(b, f, "adds", (int64_t) a->adds);
        r |= object_describe_age(o, b, f);
        if (o->ops == &value_type) {
                elem_format(a->t, elem_load(a->mem, a->t->size), text, sizeof(text));
                r |= wire_put_field_str(b, f, "value", text);
        }
        return r < 0 ? -ENOMEM : 0;
}

/* The memory an array holds, for the daemon-wide total. */
static uint64_t array_bytes(struct object *o) {
        return array_of(o)->size_bytes;
}

/*
 * What a declare asks of an array or value: its element type and length, and
 * its first contents (NULL: zeros); and the request that declares it (NULL:
 * the daemon itself), whose user must have room for its memory.
 */
struct array_params {
        const struct typecode *t;
        uint32_t length;
        uint32_t flags;
        const void *initial;
        const struct request *req;
};

/* Parameters no array may have: -EINVAL, or -ENOSPC for more memory than an array may hold. */
static int array_declare_check(const void *params) {
        const struct array_params *p = params;
        bool is_value = p->flags & WIRE_ARRAY_VALUE;

        if (!p->t || p->length == 0 || (p->flags & ~WIRE_ARRAY_VALUE) || (is_value && p->length != 1))
                return -EINVAL;
        return (uint64_t) p->length * p->t->size > ARRAY_MAX_BYTES ? -ENOSPC : 0;
}

/* The array that exists has the same element type and length. */
static int array_declare_match(struct object *o, const void *params) {
        const struct array_params *p = params;
        const struct array *a = array_of(o);

        return a->t == p->t && a->length == p->length ? 0 : -EEXIST;
}

/* A new array with its memory; the memory counts against limits.max_memory at once. */
static int array_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        const struct array_params *p = params;
        struct array *a = array_of(o);
        int r;

        a->memfd = -1;
        r = user_may_hold(user_requester(p->req), (uint64_t) p->length * p->t->size, 0, 0);
        if (r < 0)
                return r;
        a->t = p->t;
        a->length = p->length;
        a->size_bytes = (size_t) p->length * p->t->size;
        /* The name labels the memfd; the object is registered only once it is complete. */
        r = array_memory_new(a, name, len);
        if (r < 0) {
                log_warning("%s '%.*s': cannot set up %zu bytes of shared memory: %s",
                            wire_type_name((p->flags & WIRE_ARRAY_VALUE) ? WIRE_TYPE_VALUE : WIRE_TYPE_ARRAY),
                            (int) len, name, a->size_bytes, strerror(-r));
                return array_memory_error(r);
        }
        /* Nobody else can see the memory yet: a plain copy will do. */
        if (p->initial)
                memcpy(a->mem, p->initial, a->size_bytes);
        return 0;
}

/* Once registered, the memory is charged to the array's creator. */
static void array_declare_done(struct object *o, const void *params) {
        struct array *a = array_of(o);

        (void) params;
        user_charge(a->obj.user, a->size_bytes);
        a->charged = true;
}

/* The hooks of arrays and values: the same code, the wire type apart. */
#define ARRAY_TYPE_HOOKS                             \
        .describe = array_describe,                  \
        .free = array_free,                          \
        .bytes = array_bytes,                        \
        .dump = array_dump,                          \
        .replay = array_replay,                      \
        .checkpoint = array_checkpoint,              \
        .declare_check = array_declare_check,        \
        .declare_match = array_declare_match,        \
        .size = sizeof(struct array),                \
        .declare_init = array_declare_init,          \
        .declare_done = array_declare_done

static const struct object_type array_type = {
        .type = WIRE_TYPE_ARRAY,
        ARRAY_TYPE_HOOKS,
};

static const struct object_type value_type = {
        .type = WIRE_TYPE_VALUE,
        ARRAY_TYPE_HOOKS,
};

/* Create an array or value with its memory, or check that it exists as asked. */
int array_declare(const char *name, size_t len, char typecode, uint32_t length, uint32_t flags,
                  const void *initial) {
        struct array_params p = {
                .t = typecode_find(typecode), .length = length, .flags = flags, .initial = initial,
        };

        return object_declare(NULL, name, len, (flags & WIRE_ARRAY_VALUE) ? &value_type : &array_type, &p, NULL);
}

/* ---- request handlers ---- */

/* What every element request starts with: name, u8 typecode, i64 index. */
struct array_target {
        const char *name;
        size_t len;
        uint8_t typecode;
        int64_t index;
};

static bool array_get_target(struct wire_reader *r, struct array_target *t) {
        return wire_get_name(r, &t->name, &t->len) && wire_get_u8(r, &t->typecode) && wire_get_i64(r, &t->index);
}

/*
 * Find the array or value the target names, whose elements have the type
 * code it names: 0, -EINVAL (not a type code at all, whether or not the
 * name exists, as in DECLARE), -ENOENT, or -EPROTOTYPE (another object
 * type, or an array of another type code).
 */
static int array_find_as(const struct request *req, const struct array_target *t, struct array **ret) {
        struct array *a;
        int r;

        if (!typecode_find((char) t->typecode))
                return -EINVAL;
        r = OBJECT_FIND_AS(req, t->name, t->len, ARRAY_TYPES, &a);
        if (r < 0)
                return r;
        if ((uint8_t) a->t->code != t->typecode)
                return -EPROTOTYPE;
        *ret = a;
        return 0;
}

/* DECLARE: name, u8 typecode, u32 length, u32 flags, bytes initial -> u8 created. */
int array_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array_params p;
        const char *name;
        size_t len;
        uint8_t typecode;
        uint32_t flags, initial_len;

        if (!wire_get_name(r, &name, &len) || !wire_get_u8(r, &typecode) || !wire_get_u32(r, &p.length) ||
            !wire_get_u32(r, &flags) || !wire_get_bytes(r, &p.initial, &initial_len) || !wire_reader_done(r))
                return -EPROTO;
        p.t = typecode_find((char) typecode);
        if (!p.t)
                return -EINVAL;
        if (initial_len > mpxd.max_message)
                return -EMSGSIZE;
        /* No initial bytes means zeros; otherwise exactly length elements. */
        if (initial_len != 0 && initial_len != (uint64_t) p.length * p.t->size)
                return -EINVAL;
        if (initial_len == 0)
                p.initial = NULL;
        p.flags = flags & ~(WIRE_DECLARE_DURABLE | WIRE_DECLARE_COUNTED);
        p.req = req;
        return object_handle_declare(c, req, name, len, (p.flags & WIRE_ARRAY_VALUE) ? &value_type : &array_type,
                                     &p, flags);
}

/*
 * GET: name, u8 typecode, i64 index, u32 count -> u8 typecode, bytes elements.
 * Count 0 reads nothing and checks the name, type code and index.
 */
int array_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array *a = NULL;
        struct array_target t;
        struct wire_buf *b;
        size_t start;
        uint32_t count, first, bytes;
        int err;

        if (!array_get_target(r, &t) || !wire_get_u32(r, &count) || !wire_reader_done(r))
                return -EPROTO;
        err = array_find_as(req, &t, &a);
        if (err < 0)
                return err;
        err = array_range(a, t.index, count, &first);
        if (err < 0)
                return err;
        if ((uint64_t) count * a->t->size > mpxd.max_message)
                return -EMSGSIZE;
        bytes = count * a->t->size;
        if (client_reply_reserve(c, 1 + 4 + bytes) < 0)
                return -ENOMEM;
        b = client_reply_begin(c, req->id, req->op, &start);
        if (!b)
                return -ENOMEM;
        /* Room is reserved: none of these can fail. */
        (void) wire_put_u8(b, (uint8_t) a->t->code);
        (void) wire_put_u32(b, bytes);
        for (uint32_t i = 0; i < count; i++) {
                size_t at = (size_t) (first + i) * a->t->size;

                bits_put(b->data + b->len, a->t->size, elem_load(a->mem + at, a->t->size));
                b->len += a->t->size;
        }
        client_reply_end(c, start);
        return 0;
}

/* SET: name, u8 typecode, i64 index, bytes elements -> (empty). */
int array_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array *a = NULL;
        struct array_target t;
        const uint8_t *data;
        const void *raw;
        uint32_t bytes, first, count;
        int err;

        if (!array_get_target(r, &t) || !wire_get_bytes(r, &raw, &bytes) || !wire_reader_done(r))
                return -EPROTO;
        err = array_find_as(req, &t, &a);
        if (err < 0)
                return err;
        if (bytes > mpxd.max_message)
                return -EMSGSIZE;
        if (bytes % a->t->size != 0)
                return -EINVAL;
        count = bytes / a->t->size;
        err = array_range(a, t.index, count, &first);
        if (err < 0)
                return err;
        data = raw;
        for (uint32_t i = 0; i < count; i++) {
                size_t at = (size_t) (first + i) * a->t->size;

                elem_store(a->mem + at, a->t->size, bits_get(data + (size_t) i * a->t->size, a->t->size));
        }
        if (a->obj.durable && count > 0)
                array_journal_set(a, first, count);
        a->sets++;
        return op_reply_ok(c, req);
}

/* ADD: name, u8 typecode, i64 index, bytes delta (one element) -> bytes new (one element). */
int array_handle_add(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array *a = NULL;
        struct array_target t;
        const void *delta;
        uint32_t delta_len, at;
        uint64_t new;
        uint8_t out[8];
        int err;

        if (!array_get_target(r, &t) || !wire_get_bytes(r, &delta, &delta_len) || !wire_reader_done(r))
                return -EPROTO;
        err = array_find_as(req, &t, &a);
        if (err < 0)
                return err;
        if (a->t->kind == TYPECODE_CHAR || delta_len != a->t->size)
                return -EINVAL;
        err = array_range(a, t.index, 1, &at);
        if (err < 0)
                return err;
        new = elem_add(a->mem + (size_t) at * a->t->size, a->t, bits_get(delta, a->t->size));
        if (a->obj.durable)
                array_journal_set(a, at, 1);
        a->adds++;
        bits_put(out, a->t->size, new);
        return op_reply_bytes(c, req, out, a->t->size);
}

/* CAS: name, u8 typecode, i64 index, bytes expected, bytes new -> u8 swapped, bytes current. */
int array_handle_cas(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array *a = NULL;
        struct array_target t;
        const void *expected, *desired;
        uint32_t expected_len, desired_len, at;
        uint64_t current;
        uint8_t out[8];
        bool swapped;
        int err;

        if (!array_get_target(r, &t) || !wire_get_bytes(r, &expected, &expected_len) ||
            !wire_get_bytes(r, &desired, &desired_len) || !wire_reader_done(r))
                return -EPROTO;
        err = array_find_as(req, &t, &a);
        if (err < 0)
                return err;
        if (expected_len != a->t->size || desired_len != a->t->size)
                return -EINVAL;
        err = array_range(a, t.index, 1, &at);
        if (err < 0)
                return err;
        /* Room is reserved before the swap: a swap is never done without its answer. */
        if (client_reply_reserve(c, 1 + 4 + a->t->size) < 0)
                return -ENOMEM;
        swapped = elem_cas(a->mem + (size_t) at * a->t->size, a->t->size, bits_get(expected, a->t->size),
                           bits_get(desired, a->t->size), &current);
        bits_put(out, a->t->size, current);
        if (swapped)
                a->sets++;
        if (swapped && a->obj.durable)
                array_journal_set(a, at, 1);
        return op_reply(c, req, "bs", swapped, out, (uint32_t) a->t->size);
}

/*
 * MAP: name -> u8 typecode, u32 length, u64 size, with a duplicate of the
 * memfd sent (SCM_RIGHTS) together with the first bytes of this reply.
 */
int array_handle_map(struct client *c, const struct request *req, struct wire_reader *r) {
        struct array *a = array_of(req->obj);
        int err;

        err = op_reply_fd(c, req->id, req->op, a->memfd, "bwq", a->t->code, a->length, (uint64_t) a->size_bytes);
        if (err < 0) {
                log_warning("%s '%s': cannot pass its memory to %s: %s", wire_type_name(a->obj.ops->type),
                            a->obj.name, client_describe(c), strerror(-err));
                return err == -EMFILE || err == -ENFILE ? -EUSERS : -ENOMEM;
        }
        a->maps++;
        return 0;
}
