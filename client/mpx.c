/* SPDX-License-Identifier: MIT */
/*
 * libmpx connections: connect and HELLO, disconnect, PING, the reply
 * parsers and request helpers the object files share, buffers, and
 * mpx_strerror(). The request engine itself (queueing, reading, matching
 * replies, completions) is mpx-conn.c.
 *
 * The library never prints, never exits and never raises SIGPIPE in the
 * calling process. Once the byte stream with the daemon is lost (a failed
 * send or receive, a frame this library cannot trust) the connection is
 * marked broken and every later call returns -ECONNRESET; the caller
 * disconnects and connects again. Object families live in their own files
 * (mpx-queue.c, mpx-admin.c).
 */
/* program_invocation_short_name, strerrordesc_np(); config.h may have said so already. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "mpx-internal.h"
#include "mpx-redis.h"

int64_t conn_parse_created(struct conn_request *rq, struct wire_reader *rd) {
        uint8_t created;

        (void) rq;
        if (!wire_get_u8(rd, &created) || !wire_reader_done(rd))
                return -EPROTO;
        return created ? 1 : 0;
}

int64_t conn_parse_bool(struct conn_request *rq, struct wire_reader *rd) {
        return conn_parse_created(rq, rd);
}

int64_t conn_parse_u64(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t v;

        (void) rq;
        if (!wire_get_u64(rd, &v) || !wire_reader_done(rd))
                return -EPROTO;
        return v > INT64_MAX ? INT64_MAX : (int64_t) v;
}

int64_t conn_parse_i64_out(struct conn_request *rq, struct wire_reader *rd) {
        int64_t v;

        if (!wire_get_i64(rd, &v) || !wire_reader_done(rd))
                return -EPROTO;
        if (rq->reply.out[0])
                *(int64_t *) rq->reply.out[0] = v;
        return 0;
}

int64_t conn_parse_buf(struct conn_request *rq, struct wire_reader *rd) {
        const void *data;
        uint32_t size;
        void *copy;

        if (!wire_get_bytes(rd, &data, &size) || !wire_reader_done(rd))
                return -EPROTO;
        copy = conn_memdup(data, size);
        if (!copy)
                return -ENOMEM;
        *(mpx_buf *) rq->reply.out[0] = (mpx_buf) { .data = copy, .size = size };
        return 0;
}

/* Parse one bytes field of a reply into a caller-owned buffer. */
int conn_get_buf(struct wire_reader *rd, mpx_buf *ret) {
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

const struct conn_reply conn_reply_created = { .parse = conn_parse_created };
const struct conn_reply conn_reply_bool = { .parse = conn_parse_bool };
const struct conn_reply conn_reply_u64 = { .parse = conn_parse_u64 };

/* Check the bytes of a key, value or item against the daemon's limits. */
int conn_check_bytes(const struct mpx *m, const void *p, size_t size) {
        if (!p && size > 0)
                return -EINVAL;
        if (size > m->max_message || size > UINT32_MAX)
                return -EMSGSIZE;
        return 0;
}

/* A field of fixed size (B, H, I, Q, q), v its bits. */
static int conn_put_fixed(struct mpx *m, char field, uint64_t v) {
        switch (field) {
        case 'B':
                return wire_put_u8(&m->out, (uint8_t) v);
        case 'H':
                return wire_put_u16(&m->out, (uint16_t) v);
        case 'I':
                return wire_put_u32(&m->out, (uint32_t) v);
        case 'Q':
                return wire_put_u64(&m->out, v);
        default:
                return wire_put_i64(&m->out, (int64_t) v);
        }
}

/*
 * One field of fmt, its value taken from ap, appended to the request; b
 * fields are checked against the daemon's limits first.
 */
static int conn_field(struct mpx *m, char field, va_list *ap) {
        const void *p;
        size_t size;
        uint64_t v;
        int r;

        switch (field) {
        case 'n':
                return conn_put_name(m, va_arg(*ap, const char *));
        case 'S':
                p = va_arg(*ap, const char *);
                return wire_put_str(&m->out, p, strlen(p));
        case 'B':
        case 'H':
        case 'I':
                /* A u8 and a u16 come promoted; a u32 is an unsigned int on every ABI this builds for. */
                v = va_arg(*ap, unsigned);
                return conn_put_fixed(m, field, v);
        case 'Q':
        case 'q':
                v = field == 'Q' ? va_arg(*ap, uint64_t) : (uint64_t) va_arg(*ap, int64_t);
                return conn_put_fixed(m, field, v);
        case 'b':
        case 's':
                p = va_arg(*ap, const void *);
                size = va_arg(*ap, size_t);
                r = field == 'b' ? conn_check_bytes(m, p, size) : 0;
                /* Sizes were checked against the limits, which are below 4 GiB. */
                return r < 0 ? r : wire_put_bytes(&m->out, p, (uint32_t) size);
        default:
                return -EINVAL;
        }
}

/* Every field of fmt, appended; the first that fails ends it. */
static int conn_fields(struct mpx *m, const char *fmt, va_list ap) {
        va_list copy;
        int r = 0;

        va_copy(copy, ap);
        for (const char *f = fmt; *f && r >= 0; f++)
                r = conn_field(m, *f, &copy);
        va_end(copy);
        return r;
}

int conn_put(struct mpx *m, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = conn_fields(m, fmt, ap);
        va_end(ap);
        return r;
}

/*
 * Most calls are one frame of fields: begin, put, submit, in one place.
 * What cannot be sent is refused with nothing queued: conn_submit() drops
 * the frame of a field that failed.
 */
static int64_t conn_vcall(struct mpx *m, uint16_t op, const struct conn_reply *reply, mpx_callback *cb,
                          void *userdata, const char *fmt, va_list ap) {
        size_t start;
        int r;

        if (!m)
                return -EINVAL;
        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_fields(m, fmt, ap);
        return conn_submit(m, start, r, reply, cb, userdata);
}

int64_t conn_call(struct mpx *m, uint16_t op, const struct conn_reply *reply, mpx_callback *cb, void *userdata,
                  const char *fmt, ...) {
        va_list ap;
        int64_t id;

        va_start(ap, fmt);
        id = conn_vcall(m, op, reply, cb, userdata, fmt, ap);
        va_end(ap);
        return id;
}

int64_t conn_call_buf(struct mpx *m, uint16_t op, mpx_buf *ret, mpx_callback *cb, void *userdata, const char *fmt,
                      ...) {
        va_list ap;
        int64_t id;

        if (!ret)
                return -EINVAL;
        va_start(ap, fmt);
        id = conn_vcall(m, op, &(struct conn_reply) { .parse = conn_parse_buf, .out = { ret } }, cb, userdata, fmt,
                        ap);
        va_end(ap);
        return id;
}

/* The size of fixed fields (no name, no bytes) in a request, as fmt gives them. */
static size_t conn_fixed_size(const char *fmt) {
        size_t size = 0;

        for (; *fmt; fmt++)
                size += *fmt == 'B' ? 1 : *fmt == 'H' ? 2 : *fmt == 'I' ? 4 : 8;
        return size;
}

/* The size of the entries' part of a body (their count and bytes), after checking each: or a negative errno. */
static int64_t conn_entries_size(const struct mpx *m, size_t head, const struct conn_entries *e) {
        size_t body = head + 4;
        int r;

        for (size_t i = 0; i < e->n; i++) {
                for (size_t l = 0; l < e->n_lists; l++) {
                        r = conn_check_bytes(m, e->lists[l][i].iov_base, e->lists[l][i].iov_len);
                        if (r < 0)
                                return r;
                        body += 4 + e->lists[l][i].iov_len;
                }
                if (body > m->max_frame)
                        return -EMSGSIZE;
        }
        return (int64_t) body;
}

/* Every size is checked before anything is copied: name, fixed fields, count, then the entries. */
int64_t conn_call_entries(struct mpx *m, uint16_t op, const struct conn_reply *reply, mpx_callback *cb,
                          void *userdata, const char *name, const struct conn_entries *e, const char *fmt, ...) {
        int64_t body;
        va_list ap;
        size_t start;
        int r;

        if (!m || !name || (e->n > 0 && (!e->lists[0] || (e->n_lists > 1 && !e->lists[1]))))
                return -EINVAL;
        if (e->n > UINT32_MAX)
                return -EMSGSIZE;
        body = conn_entries_size(m, 1 + strnlen(name, WIRE_NAME_MAX + 1) + conn_fixed_size(fmt), e);
        if (body < 0)
                return body;
        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0) {
                va_start(ap, fmt);
                r = conn_fields(m, fmt, ap);
                va_end(ap);
        }
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) e->n);
        if (r >= 0)
                r = wire_buf_reserve(&m->out, (size_t) body);
        for (size_t i = 0; r >= 0 && i < e->n; i++)
                for (size_t l = 0; r >= 0 && l < e->n_lists; l++)
                        r = wire_put_bytes(&m->out, e->lists[l][i].iov_base, (uint32_t) e->lists[l][i].iov_len);
        return conn_submit(m, start, r, reply, cb, userdata);
}

uint32_t conn_declare_flags(unsigned flags) {
        return ((flags & MPX_DURABLE) ? WIRE_DECLARE_DURABLE : 0) | ((flags & MPX_COUNTED) ? WIRE_DECLARE_COUNTED : 0);
}

int64_t conn_declare_name_flags_async(struct mpx *m, uint16_t op, const char *name, unsigned flags,
                                      mpx_callback *cb, void *userdata) {
        if (flags & ~CONN_DECLARE_FLAGS)
                return -EINVAL;
        /* Without flags the body is the name alone, as daemons that know no flags read it. */
        return conn_call(m, op, &conn_reply_created, cb, userdata, flags ? "nI" : "n", name,
                         conn_declare_flags(flags));
}

int conn_declare_name_flags(struct mpx *m, uint16_t op, const char *name, unsigned flags) {
        return (int) conn_sync(m, conn_declare_name_flags_async(m, op, name, flags, CONN_SYNC));
}

/* Check that a reply body was consumed to its end. */
int conn_done(const struct wire_reader *r) {
        return wire_reader_done(r) ? 0 : -EPROTO;
}

/* Append an object name after checking it as the daemon will. */
int conn_put_name(struct mpx *m, const char *name) {
        size_t len;

        if (!name)
                return -EINVAL;
        len = strnlen(name, WIRE_NAME_MAX + 1);
        /* wire_put_name() checks the name: -EINVAL. */
        return wire_put_name(&m->out, name, len);
}

/* Copy n bytes to the heap, allocating one byte for an empty copy. */
void *conn_memdup(const void *p, size_t n) {
        void *d = malloc(n ? n : 1);

        if (d && n)
                memcpy(d, p, n);
        return d;
}

/* Copy n bytes of text to the heap with a terminating NUL. */
char *conn_strndup(const char *s, size_t n) {
        char *d = malloc(n + 1);

        if (!d)
                return NULL;
        if (n)
                memcpy(d, s, n);
        d[n] = '\0';
        return d;
}

/* HELLO's reply: the daemon's version and limits, which the connection adopts. */
static int64_t conn_parse_hello(struct conn_request *rq, struct wire_reader *rd) {
        struct mpx *m = rq->reply.out[0];
        uint32_t version, max_message, max_frame;
        const char *server;
        uint16_t server_len;

        if (!wire_get_u32(rd, &version) || !wire_get_u32(rd, &max_message) ||
            !wire_get_u32(rd, &max_frame) || !wire_get_str(rd, &server, &server_len) ||
            !wire_reader_done(rd))
                return -EPROTO;
        if (version != WIRE_VERSION)
                return -EPROTO;
        m->max_message = max_message;
        m->max_frame = max_frame;
        return 0;
}

/* HELLO: agree the version and learn the daemon's limits. */
static int conn_hello(struct mpx *m, const char *client_name) {
        if (!client_name)
                client_name = program_invocation_short_name;
        /* A daemon of another version answers with status EPROTO. */
        return (int) conn_sync(m, conn_call(m, WIRE_OP_HELLO,
                                            &(struct conn_reply) { .parse = conn_parse_hello, .out = { m } },
                                            CONN_SYNC, "IS", (uint32_t) WIRE_VERSION, client_name));
}

/* Connect a new blocking socket to path: the fd, or a negative errno code. */
static int conn_socket(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        size_t len = strlen(path);
        int fd;

        if (len == 0)
                return -EINVAL;
        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;

                close(fd);
                return r;
        }
        return fd;
}

/* Connect to mpxd, say HELLO with a client name, and return the connection. */
int mpx_connect_named(const char *path, const char *client_name, mpx **ret) {
        struct mpx *m;
        int r;

        if (!ret)
                return -EINVAL;
        if (!path) {
                path = getenv("MPX_SOCKET");
                if (!path || !*path)
                        path = MPX_DEFAULT_SOCKET;
        }

        m = calloc(1, sizeof(*m));
        if (!m)
                return -ENOMEM;
        m->next_id = 1;
        m->in_fd = -1;
        m->building = SIZE_MAX;
        m->owner = getpid();
        m->max_message = WIRE_DEFAULT_MAX_MESSAGE;
        m->max_frame = WIRE_DEFAULT_MAX_FRAME;
        wire_buf_init(&m->out);
        wire_buf_init(&m->in);

        if (redis_address(path)) {
                /* The same calls carried out over Redis: mpx-redis.h. */
                m->fd = -1;
                r = redis_connect(m, path, client_name);
                if (r < 0) {
                        conn_free(m);
                        return r;
                }
        } else {
                r = conn_socket(path);
                if (r < 0) {
                        free(m);
                        return r;
                }
                m->fd = r;
        }

        r = conn_hello(m, client_name);
        if (r < 0) {
                mpx_disconnect(m);
                return r;
        }
        *ret = m;
        return 0;
}

/* Connect to mpxd under the program's name. */
int mpx_connect(const char *path, mpx **ret) {
        return mpx_connect_named(path, NULL, ret);
}

/* Send what is queued, end what is pending, close the socket and free the connection. */
mpx *mpx_disconnect(mpx *m) {
        if (m)
                conn_close(m);
        return NULL;
}

/* The connection's socket. */
int mpx_fd(const mpx *m) {
        return m ? m->fd : -EINVAL;
}

/* The largest payload the daemon announced in HELLO. */
size_t mpx_max_message(const mpx *m) {
        return m ? m->max_message : 0;
}

/* PING's echo must be the token sent: a stale or mixed-up reply shows. */
static int64_t conn_parse_ping(struct conn_request *rq, struct wire_reader *rd) {
        const void *echo;
        uint32_t echo_len;

        if (!wire_get_bytes(rd, &echo, &echo_len) || !wire_reader_done(rd))
                return -EPROTO;
        if (echo_len != sizeof(rq->id) || memcmp(echo, &rq->id, sizeof(rq->id)) != 0)
                return -EPROTO;
        return 0;
}

/* One round trip, echoing the request id. */
int64_t mpx_ping_async(mpx *m, mpx_callback *cb, void *userdata) {
        size_t start;
        uint32_t token;
        int r;

        r = conn_begin(m, WIRE_OP_PING, &start);
        if (r < 0)
                return r;
        /* The id conn_submit() gives this request. */
        token = m->next_id;
        r = wire_put_bytes(&m->out, &token, sizeof(token));
        return conn_submit(m, start, r, &(struct conn_reply) { .parse = conn_parse_ping }, cb, userdata);
}

int mpx_ping(mpx *m) {
        return (int) conn_sync(m, mpx_ping_async(m, CONN_SYNC));
}

/* Free a buffer's data and zero it. */
void mpx_buf_clear(mpx_buf *buf) {
        if (!buf)
                return;
        free(buf->data);
        buf->data = NULL;
        buf->size = 0;
}

/* Free an array of buffers and their data. */
mpx_buf *mpx_bufs_free(mpx_buf *bufs, size_t n) {
        if (!bufs)
                return NULL;
        for (size_t i = 0; i < n; i++)
                free(bufs[i].data);
        free(bufs);
        return NULL;
}

static const struct {
        int err;
        const char *msg;
} error_table[] = {
        { EAGAIN, "would block" },
        { ETIMEDOUT, "timed out" },
        { ENOENT, "no such object" },
        { EEXIST, "object exists with other parameters" },
        { EPROTOTYPE, "object is of another type" },
        { EINVAL, "invalid argument" },
        { EMSGSIZE, "message too large for the daemon" },
        { EPIPE, "queue is closed" },
        { EIDRM, "object was deleted" },
        { ESHUTDOWN, "daemon is shutting down" },
        { ECONNRESET, "connection lost: a request in flight may or may not have been carried out" },
        { EPROTO, "protocol error: mpxd sent something this library does not understand" },
        { EOPNOTSUPP, "operation not supported by this server" },
        { EACCES, "permission denied" },
        { ENOMEM, "out of memory" },
        { ENOSPC, "daemon memory limit reached, or no room on disk for its journal" },
        { ERANGE, "value out of range" },
        { EUSERS, "too many clients or objects" },
        { ENOTRECOVERABLE, "barrier is broken" },
        { EOWNERDEAD, "acquired, but a previous holder died holding the semaphore" },
        { ECANCELED, "request cancelled" },
};

/* A static message for an errno code, in mpx's words where they differ. */
const char *mpx_strerror(int r) {
        const char *s;
        int err = r < 0 ? -r : r;

        if (err == 0)
                return "success";
        for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
                if (error_table[i].err == err)
                        return error_table[i].msg;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
        /* Static text, unlike strerror(), which may format into a shared buffer. */
        s = strerrordesc_np(err);
#else
        s = strerror(err);
#endif
        return s ? s : "unknown error";
}
