/* SPDX-License-Identifier: MIT */
/*
 * The request engine of libmpx: the output queue, the requests in flight,
 * reading and matching replies, completions, cancelling, pipelined puts and
 * the hooks an event loop needs (mpx_fd, mpx_events, mpx_process).
 *
 * A connection may have any number of requests in flight. Each is queued as
 * a frame at the end of m->out and recorded in m->pending by id; replies are
 * read into m->in, matched by id and turned into results by the request's
 * parser, and the request's callback runs. A synchronous call is a request
 * whose callback only marks it done, and conn_sync() runs the connection
 * (sending, reading, running any other completions that come in) until it
 * is. Callbacks may make further calls, synchronous ones included, and may
 * disconnect: the connection is then freed when the outermost library call
 * running it returns, and no callback runs after that.
 *
 * The socket stays in blocking mode. Non-blocking steps use MSG_DONTWAIT, so
 * a synchronous call sends its request and blocks in recvmsg() with no
 * poll() in between: two system calls per round trip.
 *
 * Frames are read with recvmsg() and a control buffer, because the daemon
 * passes descriptors with some replies (ARRAY_MAP, PIPE_OPEN). It sends such
 * a descriptor with the first bytes of its frame, and a read ends with the
 * bytes that came with a descriptor (it may begin with earlier replies), so
 * the descriptor belongs to the first reply of that kind that starts in the
 * read that brought it. It is received with MSG_CMSG_CLOEXEC and closed
 * unless the request's parser takes it.
 *
 * Once the byte stream is lost (EOF, a failed send or receive, a frame this
 * library cannot trust), every pending request completes with -ECONNRESET,
 * in the order they were made, and later calls fail at once.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mpx-internal.h"
#include "mpx-redis.h"

/* Replies may exceed max_frame by this much before the stream is distrusted. */
#define CONN_FRAME_SLACK        (64u * 1024)

/* Largest buffer kept once empty; a bigger one is released. */
#define CONN_BUF_KEEP           (1024u * 1024)

/* Room asked of the input buffer for each read. */
#define CONN_READ_CHUNK         (64u * 1024)

/* Spare request records kept for reuse. */
#define CONN_FREE_KEEP          256

/* Pipelined puts in flight before a put waits for the oldest replies. */
#define CONN_PIPELINE_MAX       4096

/* Pipelined puts in flight past which a put first takes in what replies have come. */
#define CONN_PIPELINE_READ      256
/* Gathered pipelined puts are written once this many bytes wait, whatever the batch. */
#define CONN_GATHER_BYTES       65536

/* Most descriptors taken from one read; the daemon sends one at a time. */
#define CONN_FDS_MAX            4

/* Mark the stream lost and return the error the caller sees. */
static int conn_broken(struct mpx *m, int r) {
        m->broken = true;
        return r;
}

/* Bytes queued and not yet sent. */
static size_t conn_unsent(const struct mpx *m) {
        return m->out.len - m->out_off;
}

short mpx_events(const mpx *m) {
        if (!m || m->broken)
                return 0;
        return POLLIN | (conn_unsent(m) > 0 ? POLLOUT : 0);
}

/* Tell the watcher, if any, when the events wanted have changed. */
static void conn_watch_update(struct mpx *m) {
        short ev;

        if (!m->watch)
                return;
        ev = mpx_events(m);
        if (ev == m->watched)
                return;
        m->watched = ev;
        m->watch(m, ev, m->watch_userdata);
}

int mpx_set_watch(mpx *m, mpx_watch_fn *fn, void *userdata) {
        if (!m)
                return -EINVAL;
        m->watch = fn;
        m->watch_userdata = userdata;
        m->watched = -1;
        conn_watch_update(m);
        return 0;
}

size_t mpx_pending(const mpx *m) {
        return m ? m->n_pending : 0;
}

int conn_begin(struct mpx *m, uint16_t op, size_t *ret_start) {
        if (!m)
                return -EINVAL;
        if (m->broken)
                return -ECONNRESET;
        /* A call that failed while building its request left it behind: drop it. */
        if (m->building != SIZE_MAX) {
                m->out.len = m->building;
                m->building = SIZE_MAX;
        }
        if (conn_unsent(m) == 0) {
                /* Everything went out: start over, and give back what a large request took. */
                if (m->out.cap > CONN_BUF_KEEP)
                        wire_buf_done(&m->out);
                m->out.len = 0;
                m->out_off = 0;
        }
        m->building = m->out.len;
        return wire_frame_begin(&m->out, m->next_id, op, 0, ret_start);
}

/* A request record, from the spare ones when there are. */
static struct conn_request *conn_request_new(struct mpx *m) {
        struct conn_request *rq = m->free_requests;

        if (rq) {
                m->free_requests = rq->next_free;
                m->n_free--;
        } else {
                rq = malloc(sizeof(*rq));
                if (!rq)
                        return NULL;
        }
        memset(rq, 0, sizeof(*rq));
        rq->fd = -1;
        return rq;
}

static void conn_request_free(struct mpx *m, struct conn_request *rq) {
        if (rq->fd >= 0)
                close(rq->fd);
        if (m->n_free >= CONN_FREE_KEEP) {
                free(rq);
                return;
        }
        rq->next_free = m->free_requests;
        m->free_requests = rq;
        m->n_free++;
}

static int conn_send(struct mpx *m, bool block);

int64_t conn_submit(struct mpx *m, size_t start, int r, const struct conn_reply *reply,
                    mpx_callback *cb, void *userdata) {
        size_t begun = m ? m->building : SIZE_MAX;
        struct conn_request *rq;
        bool was_idle;

        if (m)
                m->building = SIZE_MAX;
        if (r >= 0 && begun == SIZE_MAX)
                r = -EINVAL;
        if (r >= 0 && !cb)
                r = -EINVAL;
        if (r >= 0) {
                wire_frame_end(&m->out, start);
                if (m->out.len - start - WIRE_HEADER_SIZE > m->max_frame)
                        r = -EMSGSIZE;
        }
        if (r >= 0) {
                rq = conn_request_new(m);
                if (!rq)
                        r = -ENOMEM;
        }
        if (r < 0) {
                /* Nothing was begun when conn_begin() itself failed (start is then unset). */
                if (begun != SIZE_MAX)
                        m->out.len = begun;
                return r;
        }

        was_idle = conn_unsent(m) == m->out.len - start;
        rq->id = m->next_id++;
        if (m->next_id == 0)
                m->next_id = 1;
        if (reply)
                rq->reply = *reply;
        rq->cb = cb;
        rq->userdata = userdata;
        HASH_ADD(hh, m->pending, id, sizeof(rq->id), rq);
        m->n_pending++;
        /*
         * Redis's backend takes the request now, outside callbacks (what they
         * queue goes out as mpx_process() returns): its descriptor is an
         * epoll set, never writable, so a loop waiting for POLLOUT to send
         * would wait for ever.
         */
        if (m->redis && m->depth == 0 && conn_send(m, false) < 0)
                return rq->id;  /* lost: it completes with ECONNRESET at the next mpx_process() */
        if (was_idle)
                conn_watch_update(m);
        return rq->id;
}

/* Send what the socket takes now; block only when block is set. 0, or the connection is lost. */
static int conn_send(struct mpx *m, bool block) {
        if (m->redis) {
                /* Redis's backend takes every whole frame at once and sends on its own connections. */
                if (redis_send(m) < 0)
                        return conn_broken(m, -ECONNRESET);
                m->out_off = m->out.len;
        }
        while (conn_unsent(m) > 0) {
                ssize_t n = send(m->fd, m->out.data + m->out_off, conn_unsent(m),
                                 MSG_NOSIGNAL | (block ? 0 : MSG_DONTWAIT));

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        /* Part of a frame may be out: the stream cannot be trusted any more. */
                        return conn_broken(m, -ECONNRESET);
                }
                m->out_off += (size_t) n;
        }
        if (conn_unsent(m) == 0) {
                m->out.len = 0;
                m->out_off = 0;
                m->n_gathered = 0;
        }
        conn_watch_update(m);
        return 0;
}

/* Keep the descriptor a read brought, tied to the frame starting at offset at. */
static void conn_keep_fds(struct mpx *m, struct msghdr *msg, size_t at) {
        for (struct cmsghdr *cmsg = CMSG_FIRSTHDR(msg); cmsg; cmsg = CMSG_NXTHDR(msg, cmsg)) {
                size_t n;

                if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS)
                        continue;
                n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int), sizeof(int));
                        /* One frame carries one descriptor: any other is not ours to keep. */
                        if (m->in_fd >= 0)
                                close(m->in_fd);
                        m->in_fd = fd;
                        m->in_fd_at = at;
                }
        }
}

/* Make room for a read: drop handled bytes, then grow to the frame being read or a chunk. */
static int conn_in_room(struct mpx *m) {
        size_t want = CONN_READ_CHUNK;

        if (m->in_off > 0) {
                wire_buf_consume(&m->in, m->in_off);
                /* A descriptor's read may have begun with replies handled since: it keeps its frame. */
                if (m->in_fd >= 0)
                        m->in_fd_at = m->in_fd_at > m->in_off ? m->in_fd_at - m->in_off : 0;
                m->in_off = 0;
        }
        if (m->in.len >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(m->in.data, &h);
                if (h.body_len > m->max_frame + CONN_FRAME_SLACK)
                        return conn_broken(m, -EPROTO);
                if (WIRE_HEADER_SIZE + (size_t) h.body_len > m->in.len + want)
                        want = WIRE_HEADER_SIZE + h.body_len - m->in.len;
        }
        if (m->in.cap - m->in.len >= want || m->in.cap - m->in.len >= WIRE_HEADER_SIZE + (size_t) 0x10000)
                return 0;
        return wire_buf_reserve(&m->in, want) < 0 ? conn_broken(m, -ENOMEM) : 0;
}

/* One read: > 0 bytes came, 0 nothing there (non-blocking), or the connection is lost. */
static int conn_read(struct mpx *m, bool block) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * CONN_FDS_MAX)];
                struct cmsghdr align;
        } control;
        struct iovec iov;
        struct msghdr msg = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = control.buf,
                .msg_controllen = sizeof(control.buf),
        };
        ssize_t n;
        int r;

        if (m->redis) {
                /* Replies come as frames the backend appends to m->in. */
                r = redis_read(m, block);
                return r < 0 ? conn_broken(m, -ECONNRESET) : r;
        }
        r = conn_in_room(m);
        if (r < 0)
                return r;
        iov.iov_base = m->in.data + m->in.len;
        iov.iov_len = m->in.cap - m->in.len;
        do
                n = recvmsg(m->fd, &msg, MSG_CMSG_CLOEXEC | (block ? 0 : MSG_DONTWAIT));
        while (n < 0 && errno == EINTR);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return 0;
        if (n <= 0)
                return conn_broken(m, -ECONNRESET);
        conn_keep_fds(m, &msg, m->in.len);
        m->in.len += (size_t) n;
        /* A read that filled the room may have left more behind. */
        return (size_t) n == iov.iov_len ? 2 : 1;
}

/* Hand a request its result: run its callback, or mark a synchronous one done. */
static void conn_complete(struct mpx *m, struct conn_request *rq, int64_t result) {
        if (rq->cb == conn_sync_done) {
                rq->done = true;
                rq->result = result;
                return;
        }
        rq->cb(m, result, rq->userdata);
        conn_request_free(m, rq);
}

/* Turn one reply into its request's result and complete it. */
static void conn_reply_in(struct mpx *m, const struct wire_header *h, const uint8_t *body, int fd) {
        struct conn_request *rq;
        struct wire_reader rd;
        int64_t result;

        HASH_FIND(hh, m->pending, &h->id, sizeof(h->id), rq);
        if (!rq) {
                /* A reply to no request of ours: not a reason to distrust the stream. */
                if (fd >= 0)
                        close(fd);
                return;
        }
        HASH_DELETE(hh, m->pending, rq);
        m->n_pending--;
        rq->fd = fd;
        if (h->status != WIRE_OK)
                result = wire_status_to_errno(h->status);
        else if (!rq->reply.parse) {
                wire_reader_init(&rd, body, h->body_len);
                result = conn_done(&rd);
        } else {
                wire_reader_init(&rd, body, h->body_len);
                result = rq->reply.parse(rq, &rd);
        }
        if (rq->fd >= 0) {
                close(rq->fd);
                rq->fd = -1;
        }
        conn_complete(m, rq, result);
}

/* Whether a reply is one the daemon sends a descriptor with. */
static bool conn_frame_takes_fd(const struct wire_header *h) {
        return h->status == WIRE_OK && (h->op == WIRE_OP_ARRAY_MAP || h->op == WIRE_OP_PIPE_OPEN);
}

/*
 * Complete the requests of every whole frame received. The frame is marked
 * handled before its callback runs, which may read further frames itself.
 */
static int conn_dispatch(struct mpx *m) {
        int n = 0;

        while (!m->closing && m->in.len - m->in_off >= WIRE_HEADER_SIZE) {
                const uint8_t *frame = m->in.data + m->in_off;
                size_t at = m->in_off;
                struct wire_header h;
                int fd = -1;

                wire_header_decode(frame, &h);
                if (h.body_len > m->max_frame + CONN_FRAME_SLACK)
                        return conn_broken(m, -EPROTO);
                if (m->in.len - m->in_off < WIRE_HEADER_SIZE + (size_t) h.body_len)
                        break;
                m->in_off += WIRE_HEADER_SIZE + h.body_len;
                if (m->in_fd >= 0 && m->in_fd_at <= at && conn_frame_takes_fd(&h)) {
                        fd = m->in_fd;
                        m->in_fd = -1;
                }
                conn_reply_in(m, &h, frame + WIRE_HEADER_SIZE, fd);
                n++;
        }
        if (m->in_off == m->in.len) {
                m->in.len = 0;
                m->in_off = 0;
                if (m->in.cap > CONN_BUF_KEEP)
                        wire_buf_done(&m->in);
        }
        return n;
}

void conn_fail_all(struct mpx *m) {
        struct conn_request *rq;

        m->broken = true;
        m->out.len = 0;
        m->out_off = 0;
        m->building = SIZE_MAX;
        /*
         * Oldest first. Callbacks may submit more (on a broken connection that
         * fails at once, adding nothing) or disconnect, which comes back here.
         */
        while ((rq = m->pending)) {
                HASH_DELETE(hh, m->pending, rq);
                m->n_pending--;
                conn_complete(m, rq, -ECONNRESET);
        }
        conn_watch_update(m);
}

/* Leave a library call that ran the connection; free it if it was disconnected meanwhile. */
static void conn_leave(struct mpx *m) {
        if (m->broken && m->n_pending > 0 && !m->closing)
                conn_fail_all(m);
        m->depth--;
        if (m->depth == 0 && m->closing)
                conn_free(m);
}

int mpx_process(mpx *m) {
        int n = 0, r = 0, k;

        if (!m)
                return -EINVAL;
        if (m->broken) {
                /* Lost outside a call that runs the connection (a send at submit): complete what waits. */
                if (m->n_pending > 0 && m->depth == 0 && !m->closing) {
                        m->depth++;
                        conn_leave(m);
                }
                return -ECONNRESET;
        }
        m->depth++;
        /* What callbacks queue goes out in the same call. */
        do {
                r = conn_send(m, false);
                if (r < 0)
                        break;
                r = conn_read(m, false);
                if (r <= 0)
                        break;
                k = conn_dispatch(m);
                if (k < 0) {
                        r = k;
                        break;
                }
                n += k;
                /*
                 * A short read took all that had come: another would only
                 * say EAGAIN, a system call a wake-up for nothing. What comes
                 * later wakes the caller's poll again.
                 */
                if (r == 1)
                        break;
        } while (!m->closing && !m->broken);
        if (r >= 0 && !m->closing && !m->broken)
                r = conn_send(m, false);
        r = m->broken ? -ECONNRESET : n;
        conn_leave(m);
        return r;
}

int mpx_send(mpx *m) {
        int r;

        if (!m)
                return -EINVAL;
        if (m->broken)
                return -ECONNRESET;
        m->depth++;
        r = conn_send(m, false);
        conn_leave(m);
        return r < 0 ? r : 0;
}

void conn_sync_done(mpx *m, int64_t result, void *userdata) {
        /* Never called: conn_complete() marks synchronous requests done itself. */
        (void) m;
        (void) result;
        (void) userdata;
        abort();
}

/*
 * Run the connection until done(m, arg): send what is queued, read and
 * dispatch. With nothing left to send, block in recvmsg(); with output the
 * socket cannot take yet, poll for both directions, since the daemon may be
 * waiting for us to read before it reads more.
 */
static int conn_run_until(struct mpx *m, bool (*done)(struct mpx *, const void *), const void *arg) {
        int r = 0;

        while (!done(m, arg) && !m->broken && !m->closing) {
                r = conn_send(m, false);
                if (r < 0 || done(m, arg))
                        break;
                if (conn_unsent(m) > 0) {
                        struct pollfd p = { .fd = m->fd, .events = POLLIN | POLLOUT };

                        if (poll(&p, 1, -1) < 0 && errno != EINTR)
                                return conn_broken(m, -errno);
                        if (!(p.revents & (POLLIN | POLLERR | POLLHUP)))
                                continue;
                        r = conn_read(m, false);
                } else
                        r = conn_read(m, true);
                if (r < 0)
                        break;
                r = conn_dispatch(m);
                if (r < 0)
                        break;
        }
        return r < 0 ? r : 0;
}

static bool conn_request_done(struct mpx *m, const void *arg) {
        (void) m;
        return ((const struct conn_request *) arg)->done;
}

int64_t conn_sync(struct mpx *m, int64_t id) {
        struct conn_request *rq;
        uint32_t key;
        int64_t result;

        if (id < 0)
                return id;
        key = (uint32_t) id;
        HASH_FIND(hh, m->pending, &key, sizeof(key), rq);
        if (!rq)
                return -EPROTO;
        m->depth++;
        conn_run_until(m, conn_request_done, rq);
        if (!rq->done) {
                /* The connection was lost (or closed under us): everything pending fails. */
                conn_fail_all(m);
        }
        result = rq->result;
        conn_request_free(m, rq);
        conn_leave(m);
        return result;
}

void conn_chain_done(mpx *m, int64_t result, void *userdata) {
        struct conn_chain *c = userdata;

        (void) m;
        c->done = true;
        c->result = result;
}

static bool conn_chain_ended(struct mpx *m, const void *arg) {
        (void) m;
        return ((const struct conn_chain *) arg)->done;
}

int64_t conn_chain_wait(struct mpx *m, int64_t id, struct conn_chain *c) {
        if (id < 0)
                return id;
        m->depth++;
        conn_run_until(m, conn_chain_ended, c);
        if (!c->done) {
                /*
                 * Lost: the step in flight fails with -ECONNRESET, and a step
                 * its callback makes next fails to be queued, which ends the
                 * chain too.
                 */
                conn_fail_all(m);
        }
        conn_leave(m);
        return c->result;
}

/* CANCEL's own reply says how many it ended; the ended request's reply says the rest. */
static int64_t conn_parse_cancel(struct conn_request *rq, struct wire_reader *rd) {
        uint32_t n;

        (void) rq;
        if (!wire_get_u32(rd, &n) || !wire_reader_done(rd))
                return -EPROTO;
        return n;
}

/* The reply to a CANCEL needs no one: the request it names completes by its own reply. */
static void conn_cancel_done(mpx *m, int64_t result, void *userdata) {
        (void) m;
        (void) result;
        (void) userdata;
}

int mpx_cancel(mpx *m, int64_t id) {
        struct conn_request *rq;
        uint32_t key;
        size_t start;
        int64_t r;

        if (!m || id <= 0 || id > UINT32_MAX)
                return -EINVAL;
        if (m->broken)
                return -ECONNRESET;
        key = (uint32_t) id;
        HASH_FIND(hh, m->pending, &key, sizeof(key), rq);
        if (!rq || rq->cb == conn_sync_done)
                return -ENOENT;
        r = conn_begin(m, WIRE_OP_CANCEL, &start);
        if (r >= 0)
                r = wire_put_u32(&m->out, key);
        r = conn_submit(m, start, (int) r, &(struct conn_reply) { .parse = conn_parse_cancel },
                        conn_cancel_done, NULL);
        return r < 0 ? (int) r : 0;
}

void conn_pipeline_done(mpx *m, int64_t result, void *userdata) {
        (void) userdata;
        m->n_pipelined--;
        if (result < 0 && m->deferred_error == 0)
                m->deferred_error = (int) result;
}

static bool conn_pipeline_has_room(struct mpx *m, const void *arg) {
        (void) arg;
        return m->n_pipelined < CONN_PIPELINE_MAX;
}

static bool conn_all_sent(struct mpx *m, const void *arg) {
        (void) arg;
        return conn_unsent(m) == 0;
}

static bool conn_pipeline_empty(struct mpx *m, const void *arg) {
        (void) arg;
        return m->n_pipelined == 0;
}

/* Report the deferred failure once, and clear it. */
static int conn_take_deferred(struct mpx *m) {
        int r = m->deferred_error;

        m->deferred_error = 0;
        return r;
}

int conn_pipeline_begin(struct mpx *m, int64_t timeout_ms) {
        if (!m || !m->pipelined || timeout_ms >= 0)
                return 0;
        if (m->deferred_error)
                return conn_take_deferred(m);
        return 1;
}

int conn_pipelined(struct mpx *m, int64_t id) {
        int r = 0;

        if (id < 0)
                return (int) id;
        m->n_pipelined++;
        m->n_gathered++;
        m->depth++;
        /*
         * Out at once, as multiprocessing's feeder thread sends at once, but
         * never a blocking send; or, gathered (mpx_pipeline_batch()), once a
         * batch is complete or a frame's worth is waiting.
         */
        if (m->n_gathered >= m->pipeline_batch || conn_unsent(m) >= CONN_GATHER_BYTES)
                r = conn_send(m, false);
        if (r >= 0 && m->n_pipelined > CONN_PIPELINE_READ && conn_read(m, false) > 0)
                r = conn_dispatch(m);
        if (r >= 0 && m->n_pipelined >= CONN_PIPELINE_MAX)
                r = conn_run_until(m, conn_pipeline_has_room, NULL);
        conn_leave(m);
        return r < 0 ? r : 0;
}

int mpx_pipeline(mpx *m, int on) {
        return mpx_pipeline_batch(m, on ? 1 : 0);
}

int mpx_pipeline_batch(mpx *m, unsigned n) {
        if (!m || n > CONN_PIPELINE_MAX)
                return -EINVAL;
        m->pipelined = n > 0;
        m->pipeline_batch = n > 0 ? n : 1;
        return 0;
}

int mpx_flush(mpx *m) {
        int r;

        if (!m)
                return -EINVAL;
        if (m->broken && m->n_pending == 0)
                return m->deferred_error ? conn_take_deferred(m) : -ECONNRESET;
        m->depth++;
        r = conn_run_until(m, conn_pipeline_empty, NULL);
        if (r >= 0)
                r = conn_run_until(m, conn_all_sent, NULL);
        if (m->broken && !m->closing)
                conn_fail_all(m);
        if (m->deferred_error)
                r = conn_take_deferred(m);
        else if (r >= 0 && m->broken)
                r = -ECONNRESET;
        conn_leave(m);
        return r;
}

void conn_close(struct mpx *m) {
        struct conn_request *rq;

        if (m->closing)
                return;
        if (getpid() != m->owner) {
                /*
                 * A child of fork() closing its copy: what is queued and pending
                 * is the parent's, to be neither sent nor completed here.
                 */
                m->closing = true;
                while ((rq = m->pending)) {
                        HASH_DELETE(hh, m->pending, rq);
                        conn_request_free(m, rq);
                }
                if (m->depth == 0)
                        conn_free(m);
                return;
        }
        m->depth++;
        /* What was queued (pipelined puts above all) goes out before the socket closes. */
        if (!m->broken)
                conn_run_until(m, conn_all_sent, NULL);
        m->closing = true;
        conn_fail_all(m);
        conn_leave(m);
}

int conn_claim_fd(struct conn_request *rq) {
        int fd = rq->fd;

        rq->fd = -1;
        return fd;
}

void conn_free(struct mpx *m) {
        struct conn_request *rq;

        if (m->redis)
                redis_free(m);
        if (m->fd >= 0)
                close(m->fd);
        if (m->in_fd >= 0)
                close(m->in_fd);
        while ((rq = m->free_requests)) {
                m->free_requests = rq->next_free;
                free(rq);
        }
        wire_buf_done(&m->out);
        wire_buf_done(&m->in);
        free(m);
}
