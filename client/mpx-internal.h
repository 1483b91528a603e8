/* SPDX-License-Identifier: MIT */
/*
 * The inside of libmpx, shared by its files and never installed: struct mpx,
 * the requests in flight, and the one path every call goes through.
 *
 * Every public call is built the same way: conn_begin() appends a frame to
 * the output queue, the call appends its body, and conn_submit() closes the
 * frame and records a pending request with a conn_reply saying how its
 * reply becomes the call's result (a parser and the caller's out pointers).
 * Most calls do all three at once with conn_call(), naming the fields of
 * their body in a format string.
 * The asynchronous form (mpx_X_async) returns there with the request id; the
 * synchronous form is the asynchronous one given CONN_SYNC, followed by
 * conn_sync(), which runs the connection until that request completes.
 *
 * Helpers here are prefixed conn_ so that the version script (which exports
 * mpx_*) keeps them private.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
/*
 * Request ids are consecutive: as they are, they spread evenly over uthash's
 * buckets, cheaper than its default hash of the four bytes.
 */
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = *(const uint32_t *) (keyptr))
#include <uthash.h>

#include "mpx.h"
#include "wire.h"

struct conn_request;
struct redis_backend;

/*
 * Turn the body of a reply with status OK into the call's result: a
 * non-negative value, or a negative errno code (-EPROTO for a body that does
 * not parse). What the reply carries goes to rq->reply.out, and only on
 * success: on failure the caller's storage is left as it was.
 */
typedef int64_t conn_parse_fn(struct conn_request *rq, struct wire_reader *rd);

/* How the reply of a request becomes its result. */
struct conn_reply {
        conn_parse_fn *parse;           /* NULL: an empty body, result 0 */
        void *out[4];                   /* the caller's out pointers, in the call's order */
        uint64_t arg[2];                /* what the parser must know of the request (a count, a size) */
};

/* A request sent (or queued to be sent) and not yet answered. */
struct conn_request {
        uint32_t id;
        struct conn_reply reply;
        mpx_callback *cb;               /* conn_sync_done for a synchronous call */
        void *userdata;
        int fd;                         /* descriptor that came with the reply (SCM_RIGHTS), or -1 */
        bool done;                      /* a synchronous request: its result is in */
        int64_t result;
        UT_hash_handle hh;              /* in mpx.pending, by id, in order of submission */
        struct conn_request *next_free;
};

struct mpx {
        int fd;                         /* AF_UNIX stream socket, CLOEXEC, blocking (non-blocking I/O uses MSG_DONTWAIT) */
        bool broken;                    /* the byte stream is lost; every call fails with -ECONNRESET */
        bool closing;                   /* mpx_disconnect() was called inside the library: free on the way out */
        pid_t owner;                    /* the process that connected (a child of fork() only closes its copy) */
        unsigned depth;                 /* library calls running the connection (nested through callbacks) */
        uint32_t next_id;               /* request id of the next request */
        size_t max_message;             /* from HELLO: largest payload */
        size_t max_frame;               /* from HELLO: largest frame body */

        struct wire_buf out;            /* frames queued to be sent ... */
        size_t out_off;                 /* ... from this offset */
        size_t building;                /* offset of a frame begun and not submitted, or SIZE_MAX */
        struct wire_buf in;             /* bytes received ... */
        size_t in_off;                  /* ... of which those before this offset are handled */
        int in_fd;                      /* a descriptor received with the frame starting at in_fd_at, or -1 */
        size_t in_fd_at;

        struct conn_request *pending;   /* uthash by id */
        size_t n_pending;
        struct conn_request *free_requests;
        size_t n_free;

        bool pipelined;                 /* mpx_pipeline(): puts that wait forever return once queued */
        size_t n_pipelined;             /* such puts not yet answered */
        unsigned pipeline_batch;        /* mpx_pipeline_batch(): such puts written this many at a time */
        unsigned n_gathered;            /* such puts queued since the last write */
        int deferred_error;             /* the first failure of such a put not yet reported, or 0 */

        struct redis_backend *redis;    /* a redis:// connection: frames go to Redis (mpx-redis*.c), fd is its epoll */

        mpx_watch_fn *watch;            /* told when the events wanted change */
        void *watch_userdata;
        short watched;                  /* the events it was last told */
};

/* Marks a request as synchronous: pass where a call takes (cb, userdata). */
void conn_sync_done(mpx *m, int64_t result, void *userdata);
#define CONN_SYNC conn_sync_done, NULL

/* Start a request of opcode op at the end of the output queue; *ret_start is for conn_submit. */
int conn_begin(struct mpx *m, uint16_t op, size_t *ret_start);

/*
 * Finish the request begun at start. r is the result of building it: a
 * negative errno drops the frame and is returned as it is. Otherwise the
 * request is queued, with cb to run once its reply is in: the request id
 * (> 0), or a negative errno (-EINVAL without cb, -EMSGSIZE past the frame
 * limit, -ECONNRESET on a lost connection) when nothing was queued.
 */
int64_t conn_submit(struct mpx *m, size_t start, int r, const struct conn_reply *reply,
                    mpx_callback *cb, void *userdata);

/* Run the connection until the synchronous request id completes; its result. */
int64_t conn_sync(struct mpx *m, int64_t id);

/*
 * A call made of several requests, each made by the callback of the one
 * before (a job, a slice fetched page by page): its synchronous form passes
 * CONN_CHAIN(&c) as the callback of the whole chain and conn_chain_wait()
 * runs the connection until that callback has run; the chain's result.
 */
struct conn_chain {
        bool done;
        int64_t result;
};
void conn_chain_done(mpx *m, int64_t result, void *userdata);
#define CONN_CHAIN(c) conn_chain_done, (c)
int64_t conn_chain_wait(struct mpx *m, int64_t id, struct conn_chain *c);

/*
 * Pipelined puts (mpx_pipeline()). conn_pipeline_begin() decides how a put
 * that waits timeout_ms goes: 1 pipelined (submit it with CONN_PIPELINE and
 * return conn_pipelined() of the id), 0 synchronous, or the negative errno
 * of an earlier pipelined put, to return now (that put is not made).
 */
void conn_pipeline_done(mpx *m, int64_t result, void *userdata);
#define CONN_PIPELINE conn_pipeline_done, NULL
int conn_pipeline_begin(struct mpx *m, int64_t timeout_ms);
int conn_pipelined(struct mpx *m, int64_t id);

/*
 * The reply parsers most calls share: an empty body; u8 created (1 or 0);
 * u8 as 0/1; u64 as a result capped at INT64_MAX; i64 to *out[0] (result 0);
 * bytes to an mpx_buf *out[0].
 */
int64_t conn_parse_created(struct conn_request *rq, struct wire_reader *rd);
int64_t conn_parse_bool(struct conn_request *rq, struct wire_reader *rd);
int64_t conn_parse_u64(struct conn_request *rq, struct wire_reader *rd);
int64_t conn_parse_i64_out(struct conn_request *rq, struct wire_reader *rd);
int64_t conn_parse_buf(struct conn_request *rq, struct wire_reader *rd);

/* One bytes field of a reply, copied into a caller-owned buffer: 0, -EPROTO or -ENOMEM. */
int conn_get_buf(struct wire_reader *rd, mpx_buf *ret);

/* The flags every declare takes (MPX_DURABLE, MPX_COUNTED), as the wire spells them. */
#define CONN_DECLARE_FLAGS (MPX_DURABLE | MPX_COUNTED)
uint32_t conn_declare_flags(unsigned flags);

/* The replies most calls share: u8 created, u8 as 0/1, u64 as a result. */
extern const struct conn_reply conn_reply_created;
extern const struct conn_reply conn_reply_bool;
extern const struct conn_reply conn_reply_u64;

/*
 * Append fields to the request being built, a letter of fmt each, with its
 * value from the arguments, whose types must be exactly these: n an object
 * name (const char *, checked as the daemon will), B a u8 and H a u16
 * (unsigned), I a u32 (uint32_t), Q a u64 (uint64_t), q an i64 (int64_t),
 * b and s bytes (const void *, then size_t), S a string (const char *).
 * 0, or the negative errno of the first field that fails.
 */
int conn_put(struct mpx *m, const char *fmt, ...);

/*
 * A whole request of opcode op whose body is the fields of fmt, as
 * conn_put() takes them; the b fields (a key, a value, an item) are checked
 * against the daemon's limits first (conn_check_bytes()), the s ones are
 * the caller's to check. Then conn_begin(), the fields, and conn_submit()
 * with reply, cb and userdata: the request id, or a negative errno.
 */
int64_t conn_call(struct mpx *m, uint16_t op, const struct conn_reply *reply, mpx_callback *cb, void *userdata,
                  const char *fmt, ...);

/* conn_call() of a request whose reply is bytes, copied into *ret (conn_parse_buf); -EINVAL without ret. */
int64_t conn_call_buf(struct mpx *m, uint16_t op, mpx_buf *ret, mpx_callback *cb, void *userdata, const char *fmt,
                      ...);

/* The entries of a request that carries many: n, each one iovec of every list (an item; a key and a value). */
struct conn_entries {
        const struct iovec *lists[2];
        size_t n_lists;
        size_t n;
};

/*
 * A whole request of opcode op whose body is name, the fixed fields of fmt
 * (no name, no bytes), then a u32 count and the entries. Every entry is
 * checked (conn_check_bytes()), and the body against the frame limit,
 * before anything is queued. The request id, or a negative errno.
 */
int64_t conn_call_entries(struct mpx *m, uint16_t op, const struct conn_reply *reply, mpx_callback *cb,
                          void *userdata, const char *name, const struct conn_entries *e, const char *fmt, ...);

/* Check bytes given as pointer and size (a key, a value, an item): 0, -EINVAL or -EMSGSIZE. */
int conn_check_bytes(const struct mpx *m, const void *p, size_t size);

/*
 * DECLARE of the types whose body is a name and optional u32 flags (dict,
 * list). Flags are MPX_DURABLE; without them the body is the name alone, as
 * daemons that know no flags read it.
 */
int64_t conn_declare_name_flags_async(struct mpx *m, uint16_t op, const char *name, unsigned flags,
                                      mpx_callback *cb, void *userdata);
int conn_declare_name_flags(struct mpx *m, uint16_t op, const char *name, unsigned flags);

/* Take the descriptor that came with a reply: the caller owns it. -1 if none came. */
int conn_claim_fd(struct conn_request *rq);

/* Check that a reply body was fully consumed: 0 or -EPROTO. */
int conn_done(const struct wire_reader *r);

/* Append a NUL-terminated object name to the request: 0, -EINVAL (bad name), -ENOMEM. */
int conn_put_name(struct mpx *m, const char *name);

/* A malloc'd copy of n bytes; never NULL for n == 0 (one byte is allocated). */
void *conn_memdup(const void *p, size_t n);

/* A malloc'd NUL-terminated copy of n bytes of text. */
char *conn_strndup(const char *s, size_t n);

/* Parse a field list (INFO, LIST, STATS) into a malloc'd array: 0, -EPROTO, -ENOMEM. */
int conn_get_fields(struct wire_reader *r, mpx_field **ret_fields, size_t *ret_n);

/* Free an array of n fields as returned by conn_get_fields(). */
void conn_fields_free(mpx_field *fields, size_t n);

/* Complete every pending request with -ECONNRESET and mark the connection lost. */
void conn_fail_all(struct mpx *m);

/*
 * mpx_disconnect(): send what is queued, complete every pending request with
 * -ECONNRESET, and free the connection, at once or, when called from inside
 * the library (a callback), once the outermost call returns.
 */
void conn_close(struct mpx *m);

/* Free what the connection holds (socket, buffers, spare requests); pending ones must be gone. */
void conn_free(struct mpx *m);
