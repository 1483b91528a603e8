/* SPDX-License-Identifier: MIT */
/*
 * The mpx wire protocol: frame header, opcodes, status codes and the
 * primitive encoders and decoders both mpxd and libmpx use.
 *
 * This file owns the bytes on the wire and nothing else: no I/O, no policy
 * about which limits apply. docs/PROTOCOL.md is the normative description;
 * change both together. Bump WIRE_VERSION for any incompatible change.
 *
 * Every integer is little-endian. A frame is a 12-byte header followed by
 * body_len bytes of body:
 *
 *      offset  size  field
 *      0       4     body_len   bytes after the header
 *      4       4     id         request id, chosen by the client, echoed in the reply
 *      8       2     op         opcode (enum wire_op)
 *      10      2     status     0 in requests; enum wire_status in replies
 *
 * Body fields use a handful of primitive types:
 *      u8 u16 u32 u64 i64      fixed width integers
 *      name                    u8 length (1..255), then that many bytes of [A-Za-z0-9._:/@-]
 *      bytes                   u32 length, then that many bytes
 *      str                     u16 length, then that many bytes (UTF-8 text, no NUL)
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_VERSION            1u
#define WIRE_HEADER_SIZE        12u
#define WIRE_NAME_MAX           255u

/* Defaults the daemon announces in HELLO unless configured otherwise. */
#define WIRE_DEFAULT_MAX_MESSAGE (4u * 1024 * 1024)     /* one payload, key or value */
#define WIRE_DEFAULT_MAX_FRAME   (16u * 1024 * 1024)    /* one frame body */

/*
 * Opcodes, in ranges of 100 per family. Numbers are never reused; an
 * opcode the daemon does not know is answered with WIRE_EOPNOTSUPP and the
 * connection goes on.
 */
enum wire_op {
        /* session: 1..99 */
        WIRE_OP_HELLO           = 1,    /* u32 version, str client_name -> u32 version, u32 max_message, u32 max_frame, str server */
        WIRE_OP_PING            = 2,    /* bytes echo -> bytes echo */
        WIRE_OP_CANCEL          = 3,    /* u32 id -> u32 n: parked requests of this connection with that id ended */

        /* objects and daemon: 100..199 */
        WIRE_OP_LIST            = 100,  /* u64 cursor, u32 max, u8 type -> u64 next_cursor, u32 n, n x (name, u8 type, fields) */
        WIRE_OP_INFO            = 101,  /* name -> u8 type, fields */
        WIRE_OP_DELETE          = 102,  /* name -> (empty) */
        WIRE_OP_STATS           = 103,  /* (empty) -> fields */
        WIRE_OP_CLIENTS         = 104,  /* u64 cursor, u32 max -> u64 next_cursor, u32 n, n x fields */
        WIRE_OP_CHMOD           = 105,  /* name, u16 mode -> (empty) */
        WIRE_OP_CHOWN           = 106,  /* name, u32 uid, u32 gid (WIRE_ID_UNCHANGED) -> (empty) */
        WIRE_OP_USERS           = 107,  /* u64 cursor, u32 max -> u64 next_cursor, u32 n, n x fields */
        WIRE_OP_REF             = 108,  /* name, u32 lease_ms -> u64 token */
        WIRE_OP_UNREF           = 109,  /* name, u64 token -> u8 deleted */

        /* queues and joinable queues: 200..299 */
        WIRE_OP_QUEUE_DECLARE   = 200,  /* name, u64 maxsize, u32 flags[, u32 ttr_ms] -> u8 created */
        WIRE_OP_QUEUE_PUT       = 201,  /* name, i64 timeout_ms, bytes payload -> (empty) */
        WIRE_OP_QUEUE_GET       = 202,  /* name, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item */
        WIRE_OP_QUEUE_PUT_MANY  = 203,  /* name, i64 timeout_ms, u32 n, n x bytes -> (empty) */
        WIRE_OP_QUEUE_GET_MANY  = 204,  /* name, i64 timeout_ms, u32 flags, u32 max[, u32 ttr_ms] -> u32 n, n x item */
        WIRE_OP_QUEUE_QSIZE     = 205,  /* name -> u64 size, u64 maxsize, u64 unfinished, u8 closed */
        WIRE_OP_QUEUE_CLOSE     = 206,  /* name -> (empty) */
        WIRE_OP_QUEUE_TASK_DONE = 207,  /* name, u64 tag -> (empty) */
        WIRE_OP_QUEUE_JOIN      = 208,  /* name, i64 timeout_ms -> (empty) */
        WIRE_OP_QUEUE_PURGE     = 209,  /* name -> u64 removed */
        WIRE_OP_QUEUE_PEEK      = 210,  /* name, u32 max -> u32 n, n x item (tag 0), nothing taken */
        WIRE_OP_QUEUE_TOUCH     = 211,  /* name, u64 tag -> (empty): restart a delivery's lease */
        WIRE_OP_QUEUE_DONE_GET  = 212,  /* name, u64 tag, i64 timeout_ms, u32 flags[, u32 ttr_ms] -> item */

        /* dicts: 300..399; keys and values are bytes */
        WIRE_OP_DICT_DECLARE    = 300,  /* name -> u8 created */
        WIRE_OP_DICT_SET        = 301,  /* name, bytes key, bytes value -> (empty) */
        WIRE_OP_DICT_GET        = 302,  /* name, bytes key -> bytes value */
        WIRE_OP_DICT_DEL        = 303,  /* name, bytes key -> (empty) */
        WIRE_OP_DICT_CONTAINS   = 304,  /* name, bytes key -> u8 present */
        WIRE_OP_DICT_LEN        = 305,  /* name -> u64 len */
        WIRE_OP_DICT_ITEMS      = 306,  /* name, u64 cursor, u32 max, u8 what -> u64 next_cursor, u32 n, n x entry */
        WIRE_OP_DICT_POP        = 307,  /* name, bytes key -> bytes value */
        WIRE_OP_DICT_SETDEFAULT = 308,  /* name, bytes key, bytes default -> bytes value */
        WIRE_OP_DICT_UPDATE     = 309,  /* name, u32 n, n x (bytes key, bytes value) -> (empty) */
        WIRE_OP_DICT_CLEAR      = 310,  /* name -> u64 removed */
        WIRE_OP_DICT_INCR       = 311,  /* name, bytes key, i64 delta -> i64 value */
        WIRE_OP_DICT_CAS        = 312,  /* name, bytes key, u8 expect_present, bytes expected, u8 set_present, bytes new
                                           -> u8 swapped, u8 present, bytes current */
        WIRE_OP_DICT_POPITEM    = 313,  /* name -> bytes key, bytes value: the key inserted last, removed */

        /* lists: 400..499; items are bytes; indexes are Python's (negative from the end) */
        WIRE_OP_LIST_DECLARE    = 400,  /* name -> u8 created */
        WIRE_OP_LIST_APPEND     = 401,  /* name, bytes item -> u64 len */
        WIRE_OP_LIST_EXTEND     = 402,  /* name, u32 n, n x bytes -> u64 len */
        WIRE_OP_LIST_GET        = 403,  /* name, i64 index -> bytes item */
        WIRE_OP_LIST_SET        = 404,  /* name, i64 index, bytes item -> (empty) */
        WIRE_OP_LIST_INSERT     = 405,  /* name, i64 index, bytes item -> u64 len */
        WIRE_OP_LIST_POP        = 406,  /* name, i64 index -> bytes item */
        WIRE_OP_LIST_REMOVE     = 407,  /* name, bytes item -> (empty) */
        WIRE_OP_LIST_INDEX      = 408,  /* name, bytes item -> u64 index */
        WIRE_OP_LIST_LEN        = 409,  /* name -> u64 len */
        WIRE_OP_LIST_SLICE      = 410,  /* name, i64 start, i64 stop[, u32 flags] -> u64 next, u64 stop, u32 n, n x bytes[, u64 version] */
        WIRE_OP_LIST_CLEAR      = 411,  /* name -> u64 removed */
        WIRE_OP_LIST_SPLICE     = 412,  /* name, i64 start, i64 stop, u64 if_version, u32 n, n x bytes -> u8 done, u64 version, u64 len */

        /* semaphores and locks: 500..599 */
        WIRE_OP_SEM_DECLARE     = 500,  /* name, u64 value, u64 max, u32 flags -> u8 created */
        WIRE_OP_SEM_ACQUIRE     = 501,  /* name, i64 timeout_ms -> (empty) */
        WIRE_OP_SEM_RELEASE     = 502,  /* name -> (empty) */
        WIRE_OP_SEM_VALUE       = 503,  /* name -> u64 value, u64 max */

        /* events: 600..649 */
        WIRE_OP_EVENT_DECLARE   = 600,  /* name -> u8 created */
        WIRE_OP_EVENT_SET       = 601,  /* name -> (empty) */
        WIRE_OP_EVENT_CLEAR     = 602,  /* name -> (empty) */
        WIRE_OP_EVENT_IS_SET    = 603,  /* name -> u8 set */
        WIRE_OP_EVENT_WAIT      = 604,  /* name, i64 timeout_ms -> (empty) */

        /* barriers: 650..699 */
        WIRE_OP_BARRIER_DECLARE = 650,  /* name, u32 parties[, u32 flags[, i64 timeout_ms]] -> u8 created */
        WIRE_OP_BARRIER_WAIT    = 651,  /* name, i64 timeout_ms -> u32 arrival index */
        WIRE_OP_BARRIER_RESET   = 652,  /* name -> (empty) */
        WIRE_OP_BARRIER_ABORT   = 653,  /* name -> (empty) */
        WIRE_OP_BARRIER_PASS    = 654,  /* name -> (empty): the action ran, release the round */

        /*
         * typed values and arrays: 700..799; elements are in the host's byte
         * order (the daemon and its clients share one host: little-endian on
         * x86-64 and aarch64). GET, SET, ADD and CAS carry the type code the
         * client believes the array has: any other is answered WIRE_EPROTOTYPE,
         * and nothing is read or written.
         */
        WIRE_OP_ARRAY_DECLARE   = 700,  /* name, u8 typecode, u32 length, u32 flags, bytes initial -> u8 created */
        WIRE_OP_ARRAY_GET       = 701,  /* name, u8 typecode, i64 index, u32 count -> u8 typecode, bytes elements */
        WIRE_OP_ARRAY_SET       = 702,  /* name, u8 typecode, i64 index, bytes elements -> (empty) */
        WIRE_OP_ARRAY_ADD       = 703,  /* name, u8 typecode, i64 index, bytes delta (one element)
                                           -> bytes new (one element) */
        WIRE_OP_ARRAY_CAS       = 704,  /* name, u8 typecode, i64 index, bytes expected, bytes new
                                           -> u8 swapped, bytes current */
        WIRE_OP_ARRAY_MAP       = 705,  /* name -> u8 typecode, u32 length, u64 size; the memfd rides along (SCM_RIGHTS) */

        /* pipes: 800..849; the daemon pairs two parties and leaves the data path */
        WIRE_OP_PIPE_OPEN       = 800,  /* name, u8 mode, i64 timeout_ms -> u8 mode; one end of the channel rides along (SCM_RIGHTS) */

        /* pools of worker processes: 850..899 */
        WIRE_OP_POOL_START      = 850,  /* name, u32 workers, u8 restart, u16 argc, argc x str -> u8 created */
        WIRE_OP_POOL_SCALE      = 851,  /* name, u32 workers -> (empty) */
        WIRE_OP_POOL_SIGNAL     = 852,  /* name, u32 signal -> u32 workers signalled */
        WIRE_OP_POOL_STOP       = 853,  /* name, i64 grace_ms -> (empty), once every worker has exited */
};

/*
 * One flag of every declare that can make a durable object (queue,
 * semaphore, value and array flags; the optional trailing u32 flags of
 * DICT_DECLARE and LIST_DECLARE): its changes are journaled and it survives
 * a restart of mpxd. Declaring an existing object with the other durability
 * is EEXIST; without durability.directory configured, EINVAL.
 */
#define WIRE_DECLARE_DURABLE    (1u << 31)
/*
 * One flag of every declare (the optional trailing u32 flags of
 * EVENT_DECLARE and BARRIER_DECLARE too): a new object is counted, alive
 * while a reference to it exists, and the declaring connection takes one
 * (REF, UNREF). Never with WIRE_DECLARE_DURABLE.
 */
#define WIRE_DECLARE_COUNTED    (1u << 30)

/* DICT_ITEMS: what each entry of the reply holds (entry = [bytes key] [bytes value]). */
#define WIRE_DICT_KEYS          (1u << 0)
#define WIRE_DICT_VALUES        (1u << 1)

/* Flags of SEM_DECLARE. A bounded semaphore's release past max fails with ERANGE. */
#define WIRE_SEM_BOUNDED        (1u << 0)
#define WIRE_SEM_NO_UNDO        (1u << 1)       /* units held by a closing connection are not given back */

/* PIPE_OPEN modes: duplex pairs with duplex (a socketpair), read with write (a pipe). */
#define WIRE_PIPE_DUPLEX        0u
#define WIRE_PIPE_READ          1u
#define WIRE_PIPE_WRITE         2u

/* POOL_START restart policies. */
#define WIRE_RESTART_ALWAYS     0u
#define WIRE_RESTART_ON_FAILURE 1u
#define WIRE_RESTART_NEVER      2u

/* Flags of BARRIER_DECLARE: the last arrival of each round runs an action, then PASS. */
#define WIRE_BARRIER_ACTION     (1u << 0)
/* BARRIER_WAIT's timeout_ms: the barrier's own, as BARRIER_DECLARE stored it. */
#define WIRE_TIMEOUT_DEFAULT    INT64_MIN

/* Flags of LIST_SLICE: the reply ends with the list's version (LIST_SPLICE). */
#define WIRE_SLICE_VERSION      (1u << 0)

/* Flags of ARRAY_DECLARE: a value is an array of length 1 listed as "value". */
#define WIRE_ARRAY_VALUE        (1u << 0)

/* CHOWN: a uid or gid that stays as it is. */
#define WIRE_ID_UNCHANGED       0xffffffffu

/* item (in GET and GET_MANY replies): u64 tag, u32 deliveries, bytes payload */

/* Flags of QUEUE_DECLARE. */
#define WIRE_QUEUE_JOINABLE     (1u << 0)
/* The queue is deleted when the connection that created it closes; never durable. */
#define WIRE_QUEUE_CONNECTION   (1u << 1)

/*
 * Flags of QUEUE_GET and QUEUE_GET_MANY. A detached delivery of a joinable
 * queue is not tied to the connection that took it: it is not redelivered
 * when that connection closes, and an untagged TASK_DONE from any connection
 * may finish it. (Any delivery can be finished by its tag, from any connection.)
 */
#define WIRE_GET_DETACH         (1u << 0)

/* Object types, as carried in LIST and INFO. 0 in a LIST filter means any. */
enum wire_type {
        WIRE_TYPE_ANY           = 0,
        WIRE_TYPE_QUEUE         = 1,
        WIRE_TYPE_JOINABLE      = 2,
        WIRE_TYPE_DICT          = 3,
        WIRE_TYPE_LIST          = 4,
        WIRE_TYPE_SEMAPHORE     = 5,
        WIRE_TYPE_EVENT         = 6,
        WIRE_TYPE_BARRIER       = 7,
        WIRE_TYPE_VALUE         = 8,
        WIRE_TYPE_ARRAY         = 9,
        WIRE_TYPE_PIPE          = 10,
        WIRE_TYPE_POOL          = 11,
        _WIRE_TYPE_MAX,
};

/*
 * A field list (INFO, LIST, STATS) is u16 n, then n fields:
 *      u8 key_len, key bytes, u8 kind, value
 * where kind 0 is an i64 value and kind 1 a str value.
 */
enum wire_field_kind {
        WIRE_FIELD_INT          = 0,
        WIRE_FIELD_STR          = 1,
};

/*
 * Reply status codes. These are mpx's own numbers, not the host's errno
 * values, so that a client on any system can read them; libmpx maps them to
 * negative errno codes (wire_status_to_errno).
 */
enum wire_status {
        WIRE_OK                 = 0,
        WIRE_EAGAIN             = 1,    /* would block and timeout was 0 */
        WIRE_ETIMEDOUT          = 2,    /* the timeout passed */
        WIRE_ENOENT             = 3,    /* no such object, or no such delivery tag */
        WIRE_EEXIST             = 4,    /* declared with other parameters */
        WIRE_EACCES             = 5,    /* permission denied */
        WIRE_EMSGSIZE           = 6,    /* payload or frame too large */
        WIRE_EPIPE              = 7,    /* queue closed (and drained, for getters) */
        WIRE_EIDRM              = 8,    /* object deleted while waiting */
        WIRE_ESHUTDOWN          = 9,    /* daemon stopping */
        WIRE_EINVAL             = 10,   /* bad argument (unknown flag, task_done too often, ...) */
        WIRE_EPROTO             = 11,   /* malformed or truncated body, invalid name, no HELLO yet */
        WIRE_EOPNOTSUPP         = 12,   /* unknown opcode */
        WIRE_ENOMEM             = 13,   /* daemon out of memory */
        WIRE_ENOSPC             = 14,   /* a memory limit was reached */
        WIRE_ERANGE             = 15,   /* value or index out of range */
        WIRE_EPROTOTYPE         = 16,   /* object is of another type, or an array of another type code */
        WIRE_EUSERS             = 17,   /* too many clients or objects */
        WIRE_ENOTRECOVERABLE    = 18,   /* barrier broken until reset */
        WIRE_EOWNERDEAD         = 19,   /* SEM_ACQUIRE succeeded, and a holder had died holding units */
        WIRE_EIO                = 20,   /* a durable change refused: the journal cannot be written */
        WIRE_ECANCELED          = 21,   /* a parked request ended by CANCEL */
        _WIRE_STATUS_MAX,
};

struct wire_header {
        uint32_t body_len;
        uint32_t id;
        uint16_t op;
        uint16_t status;
};

/* A reader walks a received body; the first failure sticks in ->bad. */
struct wire_reader {
        const uint8_t *p;
        size_t left;
        bool bad;
};

/* A growable output buffer; frames are appended to it. */
struct wire_buf {
        uint8_t *data;
        size_t len;
        size_t cap;
};

/* Status codes <-> negative errno values. */
int wire_status_to_errno(uint16_t status);
uint16_t wire_status_from_errno(int neg_errno);

/* Name of an opcode or object type for logs and tools; NULL if unknown. */
const char *wire_op_name(uint16_t op);
const char *wire_type_name(uint8_t type);
int wire_type_from_name(const char *s);

/* true if name is 1..255 bytes of the allowed characters. */
bool wire_name_valid(const void *name, size_t len);

/* Header access on a buffer of at least WIRE_HEADER_SIZE bytes. */
void wire_header_decode(const uint8_t *src, struct wire_header *ret);
void wire_header_encode(uint8_t *dst, const struct wire_header *h);

/* Reader: each call returns false once the reader is bad (and leaves outputs alone). */
void wire_reader_init(struct wire_reader *r, const void *body, size_t len);
bool wire_get_u8(struct wire_reader *r, uint8_t *ret);
bool wire_get_u16(struct wire_reader *r, uint16_t *ret);
bool wire_get_u32(struct wire_reader *r, uint32_t *ret);
bool wire_get_u64(struct wire_reader *r, uint64_t *ret);
bool wire_get_i64(struct wire_reader *r, int64_t *ret);
/* name: validated; *ret points into the body and is not NUL-terminated. */
bool wire_get_name(struct wire_reader *r, const char **ret, size_t *ret_len);
bool wire_get_bytes(struct wire_reader *r, const void **ret, uint32_t *ret_len);
bool wire_get_str(struct wire_reader *r, const char **ret, uint16_t *ret_len);
/* true if the body was well formed and fully consumed. */
bool wire_reader_done(const struct wire_reader *r);

/* Buffer: appends return 0 or -ENOMEM. */
void wire_buf_init(struct wire_buf *b);
void wire_buf_done(struct wire_buf *b);
int wire_buf_grow(struct wire_buf *b, size_t extra);
static inline int wire_buf_reserve(struct wire_buf *b, size_t extra) {
        /* Inline: every wire_put_* asks, and the room is almost always there. */
        return extra <= b->cap - b->len ? 0 : wire_buf_grow(b, extra);
}
/* Overwrite a u32 or u64 written earlier at offset at (a count known only at the end). */
void wire_patch_u32(struct wire_buf *b, size_t at, uint32_t v);
void wire_patch_u64(struct wire_buf *b, size_t at, uint64_t v);
/* Drop the first n bytes (after a partial write). */
void wire_buf_consume(struct wire_buf *b, size_t n);
int wire_put_raw(struct wire_buf *b, const void *src, size_t n);
int wire_put_u8(struct wire_buf *b, uint8_t v);
int wire_put_u16(struct wire_buf *b, uint16_t v);
int wire_put_u32(struct wire_buf *b, uint32_t v);
int wire_put_u64(struct wire_buf *b, uint64_t v);
int wire_put_i64(struct wire_buf *b, int64_t v);
/*
 * A queue item as GET, GET_MANY and PEEK replies carry it: u64 tag, u32
 * deliveries, bytes payload, appended in one step (a get writes one per item).
 */
int wire_put_item(struct wire_buf *b, uint64_t tag, uint32_t deliveries, const void *data, uint32_t size);
int wire_put_name(struct wire_buf *b, const char *name, size_t len);
int wire_put_bytes(struct wire_buf *b, const void *src, uint32_t len);
int wire_put_str(struct wire_buf *b, const char *s, size_t len);
/*
 * Field lists: wire_fields_begin reserves the count, each put adds a field
 * and counts it, wire_fields_end writes the count.
 */
struct wire_fields {
        size_t at;
        uint16_t n;
};
int wire_fields_begin(struct wire_buf *b, struct wire_fields *f);
int wire_put_field_int(struct wire_buf *b, struct wire_fields *f, const char *key, int64_t v);
int wire_put_field_str(struct wire_buf *b, struct wire_fields *f, const char *key, const char *s);
void wire_fields_end(struct wire_buf *b, const struct wire_fields *f);

/*
 * Framing: wire_frame_begin appends a header with body_len 0 and returns its
 * offset in ret_start; append the body, then wire_frame_end patches body_len.
 * wire_frame_abort drops a frame begun at start (e.g. after -ENOMEM).
 */
int wire_frame_begin(struct wire_buf *b, uint32_t id, uint16_t op, uint16_t status, size_t *ret_start);
void wire_frame_end(struct wire_buf *b, size_t start);
void wire_frame_abort(struct wire_buf *b, size_t start);
