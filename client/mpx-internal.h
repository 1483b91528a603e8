/* SPDX-License-Identifier: MIT */
/*
 * The inside of libmpx, shared by its files and never installed: struct mpx,
 * and the one request path every call goes through (conn_begin, append the
 * body to m->out, conn_call, parse the reply with the returned reader).
 *
 * The library is synchronous: one request is in flight per connection, and a
 * call returns when its reply has arrived. A descriptor the daemon passes
 * with a reply (SCM_RIGHTS) is kept in in_fd until conn_take_fd() claims it
 * or the next frame is read. Helpers here are prefixed conn_ so
 * that the version script (which exports mpx_*) keeps them private.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mpx.h"
#include "wire.h"

struct mpx {
        int fd;                         /* blocking AF_UNIX stream socket, CLOEXEC */
        bool broken;                    /* the byte stream is lost; every call fails with -ECONNRESET */
        uint32_t next_id;               /* request id of the next request */
        uint32_t pending_id;            /* request id of the request being built */
        size_t max_message;             /* from HELLO: largest payload */
        size_t max_frame;               /* from HELLO: largest frame body */
        struct wire_buf out;            /* the request being built */
        uint8_t *in;                    /* body of the last frame read */
        size_t in_size;                 /* allocated size of in */
        int in_fd;                      /* descriptor received with the last frame read (SCM_RIGHTS), or -1 */
};

/* Start a request of opcode op in m->out; *ret_start is for conn_call. */
int conn_begin(struct mpx *m, uint16_t op, size_t *ret_start);

/*
 * Finish the request begun at start, send it and wait for its reply. On
 * success *ret reads the reply body, which stays valid until the next request
 * on m. A reply status other than OK is returned as a negative errno code.
 */
int conn_call(struct mpx *m, size_t start, struct wire_reader *ret);

/*
 * The end of every DECLARE: r is the result of building the request begun at
 * start (0, or a negative errno that is returned as it is); send it and read
 * the reply's u8 created. Returns 1 created, 0 existed, or a negative errno.
 */
int conn_call_declare(struct mpx *m, size_t start, int r);

/*
 * DECLARE of the types whose body is a name and optional u32 flags (dict,
 * list). Flags are MPX_DURABLE; without them the body is the name alone, as
 * daemons that know no flags read it.
 */
int conn_declare_name_flags(struct mpx *m, uint16_t op, const char *name, unsigned flags);

/*
 * Take the descriptor that came with the last reply frame (SCM_RIGHTS, as
 * with ARRAY_MAP): the caller owns it and must close it. -1 if none came.
 */
int conn_take_fd(struct mpx *m);

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
