/* SPDX-License-Identifier: MIT */
/*
 * libmpx pipes: meeting another process at a pipe name (PIPE_OPEN, whose
 * reply brings one end of a new channel over SCM_RIGHTS), and sending and
 * receiving whole messages over such an end, as Python's Connection.send()
 * and recv() do.
 *
 * A message on the channel is a u32 length, little-endian, then that many
 * bytes; nothing else is ever written, so the descriptor stays an ordinary
 * pipe or socket that the caller may read, write and poll as it likes, and
 * a program in another language reads the same messages with two reads.
 * The helpers never read past the message they return (no buffering), so
 * they can be mixed with plain read() and write() on the same descriptor.
 * They cope with a non-blocking descriptor (they poll() for it), retry
 * EINTR and partial transfers, and never raise SIGPIPE.
 *
 * mpx_pipe_open() is the one request to mpxd: its asynchronous form queues
 * it and names the parser of its reply (mpx-internal.h), which takes the
 * descriptor; the synchronous form waits for the asynchronous one. Once it
 * has completed, the daemon holds no reference to the channel: nothing here
 * talks to mpxd again for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mpx-internal.h"

/* Receive buffers grow by doubling from this size, so a bogus length cannot take memory up front. */
#define PIPE_RECV_CHUNK         (1024u * 1024)

/* Check that a received descriptor is what mode promised: 0 or -EPROTO. */
static int pipe_check_end(int fd, int mode) {
        struct stat st;
        int flags;

        if (fstat(fd, &st) < 0)
                return -errno;
        flags = fcntl(fd, F_GETFL);
        if (flags < 0)
                return -errno;
        switch (mode) {
        case MPX_PIPE_DUPLEX:
                return S_ISSOCK(st.st_mode) ? 0 : -EPROTO;
        case MPX_PIPE_READ:
                return S_ISFIFO(st.st_mode) && (flags & O_ACCMODE) == O_RDONLY ? 0 : -EPROTO;
        default:
                return S_ISFIFO(st.st_mode) && (flags & O_ACCMODE) == O_WRONLY ? 0 : -EPROTO;
        }
}

/* PIPE_OPEN's reply: u8 mode (arg[0], as asked) and the end, to the int at out[0]. */
static int64_t pipe_parse_open(struct conn_request *rq, struct wire_reader *rd) {
        uint8_t reply_mode;
        int fd, r;

        /* From here on this function owns the descriptor, if one came. */
        fd = conn_claim_fd(rq);
        if (fd < 0 || !wire_get_u8(rd, &reply_mode) || !wire_reader_done(rd) || reply_mode != rq->reply.arg[0]) {
                r = -EPROTO;
                goto fail;
        }
        r = pipe_check_end(fd, (int) rq->reply.arg[0]);
        if (r < 0)
                goto fail;
        *(int *) rq->reply.out[0] = fd;
        return 0;
fail:
        if (fd >= 0)
                close(fd);
        return r;
}

/* PIPE_OPEN: wait for a partner at name and take the end the daemon passes. */
int64_t mpx_pipe_open_async(mpx *m, const char *name, int mode, int64_t timeout_ms, int *ret_fd,
                            mpx_callback *cb, void *userdata) {
        if (!m || !ret_fd)
                return -EINVAL;
        if (mode != MPX_PIPE_DUPLEX && mode != MPX_PIPE_READ && mode != MPX_PIPE_WRITE)
                return -EINVAL;
        return conn_call(m, WIRE_OP_PIPE_OPEN,
                         &(struct conn_reply) { .parse = pipe_parse_open, .out = { ret_fd }, .arg = { mode } },
                         cb, userdata, "nBq", name, (unsigned) mode, timeout_ms);
}

int mpx_pipe_open(mpx *m, const char *name, int mode, int64_t timeout_ms, int *ret_fd) {
        return (int) conn_sync(m, mpx_pipe_open_async(m, name, mode, timeout_ms, ret_fd, CONN_SYNC));
}

/*
 * After a transfer on fd failed with errno: 1 to try again (EINTR, or
 * EAGAIN from a non-blocking descriptor once it is ready for events), 0
 * for a failure errno still tells, or the negative errno of the wait.
 */
static int pipe_again(int fd, short events) {
        struct pollfd p = { .fd = fd, .events = events };

        if (errno == EINTR)
                return 1;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
                return 0;
        while (poll(&p, 1, -1) < 0)
                if (errno != EINTR)
                        return -errno;
        return 1;
}

/*
 * Write the iovecs whole: to a socket with sendmsg() and MSG_NOSIGNAL, or
 * with writev() (a pipe, or any descriptor). Returns 0, or a negative errno;
 * on a socket, -ENOTSOCK before anything was written when fd is not one,
 * and -EPIPE for a peer that reset the connection.
 */
static int pipe_send_all(int fd, struct iovec *iov, int n, bool is_socket) {
        bool first = true;

        while (n > 0) {
                struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t) n };
                ssize_t k = is_socket ? sendmsg(fd, &msg, MSG_NOSIGNAL) : writev(fd, iov, n);

                if (k < 0) {
                        int again = pipe_again(fd, POLLOUT);

                        if (again < 0)
                                return again;
                        if (again)
                                continue;
                        if (!is_socket)
                                return -errno;
                        if (errno == ENOTSOCK && first)
                                return -ENOTSOCK;
                        return errno == ECONNRESET ? -EPIPE : -errno;
                }
                first = false;
                while (n > 0 && (size_t) k >= iov->iov_len) {
                        k -= (ssize_t) iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (char *) iov->iov_base + k;
                        iov->iov_len -= (size_t) k;
                }
        }
        return 0;
}

/*
 * writev() on a descriptor that is not a socket, with SIGPIPE blocked in
 * this thread so that a closed reader gives -EPIPE instead of killing the
 * process. A SIGPIPE raised here is taken back out of the pending set, unless
 * one was pending already (it is the caller's, and stays).
 */
static int pipe_send_nosignal(int fd, struct iovec *iov, int n) {
        static const struct timespec zero = { 0, 0 };
        sigset_t pipe_set, old, pending;
        bool was_pending;
        int r;

        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        sigemptyset(&pending);
        if (pthread_sigmask(SIG_BLOCK, &pipe_set, &old) != 0)
                return pipe_send_all(fd, iov, n, false);
        was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);
        r = pipe_send_all(fd, iov, n, false);
        if (r == -EPIPE && !was_pending)
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        return r;
}

/* Send one message: a u32 little-endian length, then the bytes, in one writev() when it fits. */
int mpx_pipe_send(int fd, const void *data, size_t size) {
        uint8_t hdr[4];
        struct iovec iov[2];
        int r;

        if (fd < 0 || (!data && size > 0))
                return -EINVAL;
        if (size > UINT32_MAX)
                return -EMSGSIZE;
        hdr[0] = (uint8_t) size;
        hdr[1] = (uint8_t) (size >> 8);
        hdr[2] = (uint8_t) (size >> 16);
        hdr[3] = (uint8_t) (size >> 24);
        iov[0] = (struct iovec) { .iov_base = hdr, .iov_len = sizeof(hdr) };
        iov[1] = (struct iovec) { .iov_base = (void *) data, .iov_len = size };
        r = pipe_send_all(fd, iov, size > 0 ? 2 : 1, true);
        if (r == -ENOTSOCK)
                r = pipe_send_nosignal(fd, iov, size > 0 ? 2 : 1);
        return r;
}

/* Read up to size bytes into dst: how many (0 at end of file), or a negative errno. */
static ssize_t pipe_read_some(int fd, void *dst, size_t size) {
        for (;;) {
                ssize_t k = read(fd, dst, size);
                int again;

                if (k >= 0)
                        return k;
                again = pipe_again(fd, POLLIN);
                if (again < 0)
                        return again;
                if (again)
                        continue;
                /* A socket whose peer closed with data unread says so; it is an end all the same. */
                if (errno == ECONNRESET)
                        return 0;
                return -errno;
        }
}

/* Read exactly size bytes: 0, -EPIPE at end of file before the first byte, -EPROTO after it. */
static int pipe_read_exact(int fd, uint8_t *dst, size_t size, bool started) {
        size_t got = 0;

        while (got < size) {
                ssize_t k = pipe_read_some(fd, dst + got, size - got);

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        return started || got > 0 ? -EPROTO : -EPIPE;
                got += (size_t) k;
        }
        return 0;
}

/* Receive one message sent with mpx_pipe_send(). */
int mpx_pipe_recv(int fd, mpx_buf *ret) {
        uint8_t hdr[4], *data = NULL;
        size_t size, got = 0, cap;
        int r;

        if (fd < 0 || !ret)
                return -EINVAL;
        r = pipe_read_exact(fd, hdr, sizeof(hdr), false);
        if (r < 0)
                return r;
        size = (size_t) hdr[0] | (size_t) hdr[1] << 8 | (size_t) hdr[2] << 16 | (size_t) hdr[3] << 24;
        /*
         * Grow the buffer as the bytes arrive, so that a peer announcing 4 GiB
         * and sending nothing costs one chunk, not 4 GiB.
         */
        cap = size < PIPE_RECV_CHUNK ? size : PIPE_RECV_CHUNK;
        data = malloc(cap ? cap : 1);
        if (!data)
                return -ENOMEM;
        while (got < size) {
                if (got == cap) {
                        size_t ncap = cap * 2 < size ? cap * 2 : size;
                        uint8_t *p = realloc(data, ncap);

                        if (!p) {
                                free(data);
                                return -ENOMEM;
                        }
                        data = p;
                        cap = ncap;
                }
                r = pipe_read_exact(fd, data + got, cap - got, true);
                if (r < 0) {
                        free(data);
                        return r;
                }
                got = cap;
        }
        ret->data = data;
        ret->size = size;
        return 0;
}
