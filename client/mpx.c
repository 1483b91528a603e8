/* SPDX-License-Identifier: MIT */
/*
 * libmpx connections: connect and HELLO, the request path every call uses
 * (build a frame, send it whole, read frames until the reply with the same
 * request id arrives, map its status to an errno code), PING, and
 * mpx_strerror().
 *
 * The library never prints, never exits and never raises SIGPIPE in the
 * calling process. Once the byte stream with the daemon is lost (a failed
 * send or receive, a frame this library cannot trust) the connection is
 * marked broken and every later call returns -ECONNRESET; the caller
 * disconnects and connects again. Object families live in their own files
 * (mpx-queue.c, mpx-admin.c).
 *
 * Frames are read with recvmsg() and a control buffer, because the daemon
 * may pass a descriptor with a reply (ARRAY_MAP sends a memfd with
 * SCM_RIGHTS, tied to the first bytes of the reply frame): a plain recv()
 * would let the kernel close it. Since frames are read exactly, header then
 * body, a descriptor arrives while its own frame is read. It is received
 * with MSG_CMSG_CLOEXEC and kept in m->in_fd until conn_take_fd() claims it;
 * an unclaimed one is closed when the next frame is read, or on disconnect.
 */
/* program_invocation_short_name, strerrordesc_np(); config.h may have said so already. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "mpx-internal.h"

/* Replies may exceed max_frame by this much before the stream is distrusted. */
#define CONN_FRAME_SLACK        (64u * 1024)

/* Largest buffer kept between requests; a bigger one is released. */
#define CONN_BUF_KEEP           (1024u * 1024)

/* Mark the stream lost and return the error the caller sees. */
static int conn_broken(struct mpx *m, int r) {
        m->broken = true;
        return r;
}

/* Start a request: reset the output buffer and append a header with a fresh id. */
int conn_begin(struct mpx *m, uint16_t op, size_t *ret_start) {
        if (!m)
                return -EINVAL;
        if (m->broken)
                return -ECONNRESET;
        /* Give back memory a large request left behind. */
        if (m->out.cap > CONN_BUF_KEEP)
                wire_buf_done(&m->out);
        m->out.len = 0;
        m->pending_id = m->next_id++;
        if (m->next_id == 0)
                m->next_id = 1;
        return wire_frame_begin(&m->out, m->pending_id, op, 0, ret_start);
}

/* Write the whole output buffer; EINTR and partial writes are retried. */
static int conn_send(struct mpx *m) {
        size_t off = 0;

        while (off < m->out.len) {
                ssize_t n = send(m->fd, m->out.data + off, m->out.len - off, MSG_NOSIGNAL);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EPIPE || errno == ECONNRESET)
                                return conn_broken(m, -ECONNRESET);
                        /* Part of a frame may be out: the stream cannot be trusted any more. */
                        return conn_broken(m, -errno);
                }
                off += (size_t) n;
        }
        return 0;
}

/* Most descriptors taken from one read; the daemon sends one at a time. */
#define CONN_FDS_MAX            4

/* Close the descriptor of the last frame if nobody claimed it. */
static void conn_drop_fd(struct mpx *m) {
        if (m->in_fd >= 0)
                close(m->in_fd);
        m->in_fd = -1;
}

/* Keep the descriptors a read brought (the last one wins; the others are closed). */
static void conn_keep_fds(struct mpx *m, struct msghdr *msg) {
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
                size_t n;

                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                        conn_drop_fd(m);
                        m->in_fd = fd;
                }
        }
}

int conn_call_declare(struct mpx *m, size_t start, int r) {
        struct wire_reader rd;
        uint8_t created;

        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u8(&rd, &created) || !wire_reader_done(&rd))
                return -EPROTO;
        return created ? 1 : 0;
}

int conn_declare_name_flags(struct mpx *m, uint16_t op, const char *name, unsigned flags) {
        size_t start;
        int r;

        if (flags & ~MPX_DURABLE)
                return -EINVAL;
        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0 && flags)
                r = wire_put_u32(&m->out, WIRE_DECLARE_DURABLE);
        return conn_call_declare(m, start, r);
}

/* Hand the descriptor of the last reply frame to the caller, who closes it. */
int conn_take_fd(struct mpx *m) {
        int fd = m->in_fd;

        m->in_fd = -1;
        return fd;
}

/* Read exactly n bytes, and any descriptor with them; EOF or any error means the connection is lost. */
static int conn_recv_all(struct mpx *m, void *dst, size_t n) {
        uint8_t *p = dst;

        while (n > 0) {
                union {
                        char buf[CMSG_SPACE(sizeof(int) * CONN_FDS_MAX)];
                        struct cmsghdr align;
                } control;
                struct iovec iov = { .iov_base = p, .iov_len = n };
                struct msghdr msg = {
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = control.buf,
                        .msg_controllen = sizeof(control.buf),
                };
                ssize_t k = recvmsg(m->fd, &msg, MSG_CMSG_CLOEXEC);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return conn_broken(m, -ECONNRESET);
                conn_keep_fds(m, &msg);
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Read one frame: its header into *ret, its body into m->in. */
static int conn_recv_frame(struct mpx *m, struct wire_header *ret) {
        uint8_t hdr[WIRE_HEADER_SIZE];
        struct wire_header h;
        int r;

        /* A descriptor still here came with an earlier frame and nobody wanted it. */
        conn_drop_fd(m);
        r = conn_recv_all(m, hdr, sizeof(hdr));
        if (r < 0)
                return r;
        wire_header_decode(hdr, &h);
        if (h.body_len > m->max_frame + CONN_FRAME_SLACK)
                return conn_broken(m, -EPROTO);
        if (h.body_len > m->in_size) {
                uint8_t *p = realloc(m->in, h.body_len);

                if (!p)
                        /* The body is still in the socket: the stream is lost. */
                        return conn_broken(m, -ENOMEM);
                m->in = p;
                m->in_size = h.body_len;
        }
        r = conn_recv_all(m, m->in, h.body_len);
        if (r < 0)
                return r;
        *ret = h;
        return 0;
}

/* Send the request begun at start and wait for its reply. */
int conn_call(struct mpx *m, size_t start, struct wire_reader *ret) {
        struct wire_header h;
        int r;

        wire_frame_end(&m->out, start);
        if (m->out.len - start - WIRE_HEADER_SIZE > m->max_frame)
                return -EMSGSIZE;

        /* Give back memory a large reply left behind. */
        if (m->in_size > CONN_BUF_KEEP) {
                free(m->in);
                m->in = NULL;
                m->in_size = 0;
        }

        r = conn_send(m);
        if (r < 0)
                return r;

        for (;;) {
                r = conn_recv_frame(m, &h);
                if (r < 0)
                        return r;
                /* Anything else answers no request of ours (calls are synchronous): skip it. */
                if (h.id == m->pending_id)
                        break;
        }
        if (h.status != WIRE_OK)
                return wire_status_to_errno(h.status);
        wire_reader_init(ret, m->in, h.body_len);
        return 0;
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
        if (!wire_name_valid(name, len))
                return -EINVAL;
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

/* HELLO: agree the version and learn the daemon's limits. */
static int conn_hello(struct mpx *m, const char *client_name) {
        struct wire_reader rd;
        uint32_t version, max_message, max_frame;
        const char *server;
        uint16_t server_len;
        size_t start;
        int r;

        if (!client_name)
                client_name = program_invocation_short_name;
        r = conn_begin(m, WIRE_OP_HELLO, &start);
        if (r >= 0)
                r = wire_put_u32(&m->out, WIRE_VERSION);
        if (r >= 0)
                r = wire_put_str(&m->out, client_name, strlen(client_name));
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                /* A daemon of another version answers with status EPROTO. */
                return r;
        if (!wire_get_u32(&rd, &version) || !wire_get_u32(&rd, &max_message) ||
            !wire_get_u32(&rd, &max_frame) || !wire_get_str(&rd, &server, &server_len) ||
            !wire_reader_done(&rd))
                return -EPROTO;
        if (version != WIRE_VERSION)
                return -EPROTO;
        m->max_message = max_message;
        m->max_frame = max_frame;
        return 0;
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
        m->max_message = WIRE_DEFAULT_MAX_MESSAGE;
        m->max_frame = WIRE_DEFAULT_MAX_FRAME;
        wire_buf_init(&m->out);

        r = conn_socket(path);
        if (r < 0) {
                free(m);
                return r;
        }
        m->fd = r;

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

/* Close the socket and free the connection. */
mpx *mpx_disconnect(mpx *m) {
        if (!m)
                return NULL;
        if (m->fd >= 0)
                close(m->fd);
        conn_drop_fd(m);
        wire_buf_done(&m->out);
        free(m->in);
        free(m);
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

/* One round trip, checking that the daemon echoes what it was sent. */
int mpx_ping(mpx *m) {
        struct wire_reader rd;
        const void *echo;
        uint32_t echo_len, token;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_PING, &start);
        if (r < 0)
                return r;
        /* Echo the request id: a stale or mixed-up reply shows. */
        token = m->pending_id;
        r = wire_put_bytes(&m->out, &token, sizeof(token));
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_bytes(&rd, &echo, &echo_len) || !wire_reader_done(&rd))
                return -EPROTO;
        if (echo_len != sizeof(token) || memcmp(echo, &token, sizeof(token)) != 0)
                return -EPROTO;
        return 0;
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
        { ECONNRESET, "connection to mpxd lost" },
        { EPROTO, "protocol error: mpxd sent something this library does not understand" },
        { EOPNOTSUPP, "operation not supported by this mpxd" },
        { EACCES, "permission denied" },
        { ENOMEM, "out of memory" },
        { ENOSPC, "daemon memory limit reached, or no room on disk for its journal" },
        { ERANGE, "value out of range" },
        { EUSERS, "too many clients or objects" },
        { ENOTRECOVERABLE, "barrier is broken" },
        { EOWNERDEAD, "acquired, but a previous holder died holding the semaphore" },
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
