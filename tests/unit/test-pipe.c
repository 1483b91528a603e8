/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's pipe rendezvous (daemon/pipe.c), without a daemon
 * process. The parties are real socketpair clients ("peers"): requests are
 * fed with client_feed(), the daemon's output is flushed to the socket with
 * client_flush_dirty(), and the test reads each reply with recvmsg() to get
 * the descriptor that came with it, then checks what that descriptor is (a
 * socket, a pipe's read or write end) and whom it connects to, by sending
 * bytes through it. INFO, LIST, DELETE and declarations go through a
 * socketless client whose replies are taken from its output buffer.
 *
 * Covered: duplex and read/write pairing in both arrival orders, modes that
 * do not match waiting side by side, strict arrival order, a third party,
 * timeouts < 0, 0 and > 0, a pipelined request behind a waiting open, a
 * connection pairing with itself, disconnect, delete and shutdown while
 * waiting, malformed bodies, bad modes, the wrong object type, the object
 * limit, the INFO fields, and that the daemon keeps no descriptor of a
 * channel it made. Allocation failures are not injected here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client.h"
#include "mpxd.h"
#include "object.h"
#include "open-fds.h"
#include "wait.h"
#include "round-trip.h"

/* A party with a real socket: the daemon's client and the test's end of its connection. */
struct peer {
        struct client *c;
        int fd;
};

/* The clients of a test (unit-fixture.h), the test's ends of their sockets, and one socketless client. */
struct pipe_fixture {
        struct fixture f;
        int fds[MAX_CLIENTS];           /* the test's ends of socket clients, closed at teardown */
        size_t n_fds;
        struct client *admin;           /* socketless: INFO, LIST, DELETE, declarations */
};

/* ---- peers ---- */

/* A new party on a real socketpair. */
static struct peer peer_add(struct pipe_fixture *f) {
        struct peer p;
        int sv[2];

        assert_true(f->n_fds < MAX_CLIENTS);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
        p.c = client_add(&f->f, sv[0]);
        f->fds[f->n_fds++] = sv[1];
        p.fd = sv[1];
        return p;
}

/* Lose a peer's client as if its process had died; the test's end sees end of file. */
static void peer_drop(struct pipe_fixture *f, struct peer *p) {
        client_drop(&f->f, p->c);
        p->c = NULL;
}

/* PIPE_OPEN from a peer with request id. */
static void open_pipe(struct peer *p, uint32_t id, const char *name, unsigned mode, int64_t timeout_ms) {
        send_request(p->c, id, WIRE_OP_PIPE_OPEN, "nbi", name, mode, timeout_ms);
}

/*
 * Flush the daemon's output and read the peer's next frame: a PIPE_OPEN
 * reply with request id and status. On OK the reply body is the party's own
 * mode and the end comes with it (returned); otherwise there is no body and
 * no descriptor (returns -1).
 */
static int expect_open(struct peer *p, uint32_t id, uint16_t status, unsigned mode) {
        struct wire_header h;
        uint8_t body[4096];
        int fd;

        client_flush_dirty();
        recv_frame(p->fd, &h, body, &fd);
        assert_int_equal(h.id, id);
        assert_int_equal(h.op, WIRE_OP_PIPE_OPEN);
        assert_int_equal(h.status, status);
        if (status != WIRE_OK) {
                assert_int_equal(h.body_len, 0);
                assert_int_equal(fd, -1);
                return -1;
        }
        assert_int_equal(h.body_len, 1);
        assert_int_equal(body[0], mode);
        assert_true(fd >= 0);
        /* Received with MSG_CMSG_CLOEXEC, as libmpx does. */
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        return fd;
}

/* Flush the daemon's output: nothing has come for this peer (it still waits). */
static void expect_nothing(struct peer *p) {
        struct pollfd pfd = { .fd = p->fd, .events = POLLIN };

        client_flush_dirty();
        assert_int_equal(poll(&pfd, 1, 0), 0);
}

/* The connection of a lost client was closed with nothing more sent. */
static void expect_eof(int fd) {
        char b;

        client_flush_dirty();
        assert_int_equal(recv(fd, &b, 1, MSG_DONTWAIT), 0);
}

/* ---- the ends ---- */

/* fd is one end of a socketpair (duplex). */
static void assert_socket_end(int fd) {
        struct stat st;
        int type = 0;
        socklen_t len = sizeof(type);

        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len), 0);
        assert_int_equal(type, SOCK_STREAM);
}

/* fd is a pipe's end, opened for access (O_RDONLY or O_WRONLY). */
static void assert_pipe_end(int fd, int access) {
        struct stat st;
        int flags = fcntl(fd, F_GETFL);

        assert_int_equal(fstat(fd, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
        assert_true(flags >= 0);
        assert_int_equal(flags & O_ACCMODE, access);
}

/* Bytes written to from arrive at to, at once. */
static void assert_connected(int from, int to, const char *what) {
        char buf[64];
        size_t len = strlen(what);

        assert_int_equal(write(from, what, len), (ssize_t) len);
        assert_int_equal(read(to, buf, sizeof(buf)), (ssize_t) len);
        assert_memory_equal(buf, what, len);
}

/* Nothing is readable on fd now (it is not the other end of anything written). */
static void assert_quiet(int fd) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };

        assert_int_equal(poll(&pfd, 1, 0), 0);
}

/* The other end of fd is closed everywhere: reading gives end of file at once. */
static void assert_peer_closed(int fd) {
        char b;

        assert_int_equal(read(fd, &b, 1), 0);
}

/* How many descriptors this process has open. */
static int count_fds(void) {
        int n = open_fds_count();

        assert_true(n >= 0);
        return n;
}

static int setup(void **state) {
        struct pipe_fixture *f;

        if (fixture_setup(state, sizeof(*f)) < 0)
                return -1;
        f = *state;
        f->admin = client_add(&f->f, -1);
        return 0;
}

static int teardown(void **state) {
        struct pipe_fixture *f = *state;

        for (size_t i = 0; i < f->n_fds; i++)
                close(f->fds[i]);
        fixture_teardown(&f->f);
        return 0;
}

/* ---- tests ---- */

/* Two duplex parties: the first waits, the second pairs with it, each gets one end of a socketpair. */
static void test_duplex_pair(void **state) {
        struct pipe_fixture *f = *state;
        struct peer a = peer_add(f), b = peer_add(f);
        uint8_t type = 0;
        int fa, fb;

        open_pipe(&a, 1, "p", WIRE_PIPE_DUPLEX, -1);
        expect_nothing(&a);
        assert_true(info_field(f->admin, "p", "size", &type, NULL, NULL, NULL));
        assert_int_equal(type, WIRE_TYPE_PIPE);
        assert_int_equal(info_int(f->admin, "p", "size"), 1);
        assert_int_equal(info_int(f->admin, "p", "waiters"), 1);
        assert_int_equal(info_int(f->admin, "p", "duplex"), 1);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 0);
        assert_int_equal(mpxd.n_waiters, 1);

        open_pipe(&b, 2, "p", WIRE_PIPE_DUPLEX, -1);
        fa = expect_open(&a, 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fb = expect_open(&b, 2, WIRE_OK, WIRE_PIPE_DUPLEX);
        assert_socket_end(fa);
        assert_socket_end(fb);
        assert_connected(fa, fb, "ping");
        assert_connected(fb, fa, "pong");
        assert_int_equal(info_int(f->admin, "p", "size"), 0);
        assert_int_equal(info_int(f->admin, "p", "waiters"), 0);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 1);
        assert_int_equal(info_int(f->admin, "p", "opens"), 2);
        assert_int_equal(mpxd.n_waiters, 0);
        /* The object stays, with nobody waiting. */
        assert_int_equal(mpxd.n_objects, 1);
        close(fa);
        close(fb);
}

/* Read pairs with write, whichever comes first; the read end always goes to the reader. */
static void test_read_write_pair(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r = peer_add(f), w = peer_add(f);
        int fr, fw;

        /* The reader waits. */
        open_pipe(&r, 1, "p", WIRE_PIPE_READ, -1);
        expect_nothing(&r);
        assert_int_equal(info_int(f->admin, "p", "readers"), 1);
        assert_int_equal(info_int(f->admin, "p", "writers"), 0);
        open_pipe(&w, 2, "p", WIRE_PIPE_WRITE, -1);
        fr = expect_open(&r, 1, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&w, 2, WIRE_OK, WIRE_PIPE_WRITE);
        assert_pipe_end(fr, O_RDONLY);
        assert_pipe_end(fw, O_WRONLY);
        assert_connected(fw, fr, "hello");
        close(fr);
        close(fw);

        /* The writer waits. */
        open_pipe(&w, 3, "p", WIRE_PIPE_WRITE, -1);
        expect_nothing(&w);
        assert_int_equal(info_int(f->admin, "p", "writers"), 1);
        open_pipe(&r, 4, "p", WIRE_PIPE_READ, -1);
        fw = expect_open(&w, 3, WIRE_OK, WIRE_PIPE_WRITE);
        fr = expect_open(&r, 4, WIRE_OK, WIRE_PIPE_READ);
        assert_pipe_end(fr, O_RDONLY);
        assert_pipe_end(fw, O_WRONLY);
        assert_connected(fw, fr, "again");
        assert_int_equal(info_int(f->admin, "p", "pairs"), 2);
        close(fr);
        close(fw);
}

/* Read does not pair with read, nor duplex with read or write: they wait side by side. */
static void test_modes_do_not_mix(void **state) {
        struct pipe_fixture *f = *state;
        struct peer d = peer_add(f), r1 = peer_add(f), r2 = peer_add(f), e = peer_add(f), w = peer_add(f);
        int fd1, fd2, fr, fw;

        open_pipe(&d, 1, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&r1, 2, "p", WIRE_PIPE_READ, -1);
        open_pipe(&r2, 3, "p", WIRE_PIPE_READ, -1);
        expect_nothing(&d);
        expect_nothing(&r1);
        expect_nothing(&r2);
        assert_int_equal(info_int(f->admin, "p", "size"), 3);
        assert_int_equal(info_int(f->admin, "p", "duplex"), 1);
        assert_int_equal(info_int(f->admin, "p", "readers"), 2);

        /* A duplex party takes the duplex one and leaves the readers alone. */
        open_pipe(&e, 4, "p", WIRE_PIPE_DUPLEX, -1);
        fd1 = expect_open(&d, 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fd2 = expect_open(&e, 4, WIRE_OK, WIRE_PIPE_DUPLEX);
        expect_nothing(&r1);
        expect_nothing(&r2);
        assert_connected(fd2, fd1, "dx");

        /* A writer takes the first reader. */
        open_pipe(&w, 5, "p", WIRE_PIPE_WRITE, -1);
        fr = expect_open(&r1, 2, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&w, 5, WIRE_OK, WIRE_PIPE_WRITE);
        expect_nothing(&r2);
        assert_connected(fw, fr, "rw");
        assert_int_equal(info_int(f->admin, "p", "size"), 1);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 2);
        close(fd1);
        close(fd2);
        close(fr);
        close(fw);
}

/* Waiters are paired in arrival order: the first reader with the first writer, and so on. */
static void test_arrival_order(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r[3] = { peer_add(f), peer_add(f), peer_add(f) };
        struct peer w[2] = { peer_add(f), peer_add(f) };
        int fr[2], fw[2];

        for (unsigned i = 0; i < 3; i++)
                open_pipe(&r[i], 10 + i, "p", WIRE_PIPE_READ, -1);
        for (unsigned i = 0; i < 2; i++) {
                open_pipe(&w[i], 20 + i, "p", WIRE_PIPE_WRITE, -1);
                fr[i] = expect_open(&r[i], 10 + i, WIRE_OK, WIRE_PIPE_READ);
                fw[i] = expect_open(&w[i], 20 + i, WIRE_OK, WIRE_PIPE_WRITE);
        }
        expect_nothing(&r[2]);
        /* Each writer reaches exactly its own reader. */
        assert_connected(fw[0], fr[0], "first");
        assert_quiet(fr[1]);
        assert_connected(fw[1], fr[1], "second");
        assert_quiet(fr[0]);
        assert_int_equal(info_int(f->admin, "p", "readers"), 1);
        for (unsigned i = 0; i < 2; i++) {
                close(fr[i]);
                close(fw[i]);
        }
}

/* Writers waiting are served in order too, by readers arriving. */
static void test_arrival_order_writers(void **state) {
        struct pipe_fixture *f = *state;
        struct peer w[3] = { peer_add(f), peer_add(f), peer_add(f) };
        struct peer r = peer_add(f);
        int fr, fw;

        for (unsigned i = 0; i < 3; i++)
                open_pipe(&w[i], 10 + i, "p", WIRE_PIPE_WRITE, -1);
        open_pipe(&r, 20, "p", WIRE_PIPE_READ, -1);
        fw = expect_open(&w[0], 10, WIRE_OK, WIRE_PIPE_WRITE);
        fr = expect_open(&r, 20, WIRE_OK, WIRE_PIPE_READ);
        expect_nothing(&w[1]);
        expect_nothing(&w[2]);
        assert_connected(fw, fr, "w0");
        assert_int_equal(info_int(f->admin, "p", "writers"), 2);
        close(fr);
        close(fw);
}

/* A third duplex party waits for the next pairing, and a fourth pairs with it. */
static void test_third_party(void **state) {
        struct pipe_fixture *f = *state;
        struct peer p[4] = { peer_add(f), peer_add(f), peer_add(f), peer_add(f) };
        int fd[4];

        open_pipe(&p[0], 1, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&p[1], 2, "p", WIRE_PIPE_DUPLEX, -1);
        fd[0] = expect_open(&p[0], 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fd[1] = expect_open(&p[1], 2, WIRE_OK, WIRE_PIPE_DUPLEX);

        open_pipe(&p[2], 3, "p", WIRE_PIPE_DUPLEX, -1);
        expect_nothing(&p[2]);
        assert_int_equal(info_int(f->admin, "p", "size"), 1);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 1);

        open_pipe(&p[3], 4, "p", WIRE_PIPE_DUPLEX, -1);
        fd[2] = expect_open(&p[2], 3, WIRE_OK, WIRE_PIPE_DUPLEX);
        fd[3] = expect_open(&p[3], 4, WIRE_OK, WIRE_PIPE_DUPLEX);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 2);
        assert_int_equal(info_int(f->admin, "p", "size"), 0);

        /* Two separate channels. */
        assert_connected(fd[0], fd[1], "a");
        assert_quiet(fd[2]);
        assert_quiet(fd[3]);
        assert_connected(fd[2], fd[3], "b");
        assert_connected(fd[3], fd[2], "c");
        assert_quiet(fd[0]);
        assert_quiet(fd[1]);
        for (int i = 0; i < 4; i++)
                close(fd[i]);
}

/* Timeout 0: pairs at once with a waiting partner, else EAGAIN, and a missing name is not created. */
static void test_timeout_zero(void **state) {
        struct pipe_fixture *f = *state;
        struct peer d = peer_add(f), r = peer_add(f), w = peer_add(f);
        int fr, fw;

        open_pipe(&r, 1, "p", WIRE_PIPE_READ, 0);
        expect_open(&r, 1, WIRE_EAGAIN, 0);
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mpxd.n_waiters, 0);

        /* A duplex party waits; a reader with timeout 0 finds no partner in it. */
        open_pipe(&d, 2, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&r, 3, "p", WIRE_PIPE_READ, 0);
        expect_open(&r, 3, WIRE_EAGAIN, 0);
        expect_nothing(&d);
        assert_int_equal(info_int(f->admin, "p", "size"), 1);

        /* A reader waits; a writer with timeout 0 pairs with it at once. */
        open_pipe(&r, 4, "p", WIRE_PIPE_READ, -1);
        open_pipe(&w, 5, "p", WIRE_PIPE_WRITE, 0);
        fr = expect_open(&r, 4, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&w, 5, WIRE_OK, WIRE_PIPE_WRITE);
        assert_connected(fw, fr, "now");
        expect_nothing(&d);
        close(fr);
        close(fw);
}

/* Timeout > 0: the waiter gets ETIMEDOUT, leaves, and is not paired afterwards; < 0 has no timer. */
static void test_timeout_expires(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r = peer_add(f), slow = peer_add(f), w = peer_add(f);
        struct waiter *wt;

        open_pipe(&slow, 1, "long", WIRE_PIPE_READ, 60000);
        open_pipe(&r, 2, "p", WIRE_PIPE_READ, 1);
        open_pipe(&w, 3, "forever", WIRE_PIPE_WRITE, -1);
        assert_int_equal(mpxd.n_waiters, 3);
        wt = TAILQ_FIRST(&client_shared(w.c)->waiters);
        assert_non_null(wt);
        assert_false(wt->has_timer);
        wt = TAILQ_FIRST(&client_shared(slow.c)->waiters);
        assert_non_null(wt);
        assert_true(wt->has_timer);

        run_until_waiters(2);
        expect_open(&r, 2, WIRE_ETIMEDOUT, 0);
        expect_nothing(&slow);
        expect_nothing(&w);
        assert_int_equal(info_int(f->admin, "p", "size"), 0);
        assert_int_equal(info_int(f->admin, "p", "timeouts"), 1);

        /* The timed-out reader is gone: a writer finds nobody. */
        open_pipe(&w, 4, "p", WIRE_PIPE_WRITE, 0);
        expect_open(&w, 4, WIRE_EAGAIN, 0);
}

/* A waiting open does not hold up later requests of the same connection. */
static void test_pipelined_behind_wait(void **state) {
        struct pipe_fixture *f = *state;
        struct peer a = peer_add(f), b = peer_add(f);
        struct wire_header h;
        uint8_t body[4096];
        int fd, fa, fb;

        open_pipe(&a, 1, "p", WIRE_PIPE_DUPLEX, -1);
        send_request(a.c, 2, WIRE_OP_PING, "x", "x", (size_t) 1);
        client_flush_dirty();
        recv_frame(a.fd, &h, body, &fd);
        assert_int_equal(h.id, 2);
        assert_int_equal(h.op, WIRE_OP_PING);
        assert_int_equal(fd, -1);
        expect_nothing(&a);
        open_pipe(&b, 3, "p", WIRE_PIPE_DUPLEX, -1);
        fa = expect_open(&a, 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fb = expect_open(&b, 3, WIRE_OK, WIRE_PIPE_DUPLEX);
        assert_connected(fa, fb, "late");
        close(fa);
        close(fb);
}

/* One connection may pipeline both opens and receive both ends of one pipe. */
static void test_self_pair(void **state) {
        struct pipe_fixture *f = *state;
        struct peer a = peer_add(f);
        int fr, fw;

        open_pipe(&a, 1, "p", WIRE_PIPE_READ, -1);
        open_pipe(&a, 2, "p", WIRE_PIPE_WRITE, -1);
        fr = expect_open(&a, 1, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&a, 2, WIRE_OK, WIRE_PIPE_WRITE);
        assert_pipe_end(fr, O_RDONLY);
        assert_pipe_end(fw, O_WRONLY);
        assert_connected(fw, fr, "self");
        close(fr);
        close(fw);
}

/* A party whose connection closes while it waits is removed; nothing is handed to it. */
static void test_disconnect_while_waiting(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r1 = peer_add(f), r2 = peer_add(f), w = peer_add(f), d = peer_add(f), e = peer_add(f);
        int gone = r1.fd, fr, fw;

        open_pipe(&r1, 1, "p", WIRE_PIPE_READ, -1);
        open_pipe(&r2, 2, "p", WIRE_PIPE_READ, 60000);
        open_pipe(&d, 3, "p", WIRE_PIPE_DUPLEX, -1);
        assert_int_equal(mpxd.n_waiters, 3);
        peer_drop(f, &r1);
        expect_eof(gone);
        assert_int_equal(mpxd.n_waiters, 2);
        assert_int_equal(info_int(f->admin, "p", "readers"), 1);

        /* The next writer gets the second reader. */
        open_pipe(&w, 4, "p", WIRE_PIPE_WRITE, -1);
        fr = expect_open(&r2, 2, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&w, 4, WIRE_OK, WIRE_PIPE_WRITE);
        assert_connected(fw, fr, "intact");
        close(fr);
        close(fw);

        /* The duplex party leaves too; the next one waits instead of pairing with it. */
        gone = d.fd;
        peer_drop(f, &d);
        expect_eof(gone);
        open_pipe(&e, 5, "p", WIRE_PIPE_DUPLEX, 0);
        expect_open(&e, 5, WIRE_EAGAIN, 0);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 1);
}

/* Deleting a pipe answers every waiter EIDRM; the name can be opened again, as a new object. */
static void test_delete_while_waiting(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r = peer_add(f), d = peer_add(f), a = peer_add(f), b = peer_add(f);
        int fa, fb;

        open_pipe(&a, 1, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&b, 2, "p", WIRE_PIPE_DUPLEX, -1);
        close(expect_open(&a, 1, WIRE_OK, WIRE_PIPE_DUPLEX));
        close(expect_open(&b, 2, WIRE_OK, WIRE_PIPE_DUPLEX));
        open_pipe(&r, 3, "p", WIRE_PIPE_READ, -1);
        open_pipe(&d, 4, "p", WIRE_PIPE_DUPLEX, 60000);
        assert_int_equal(call(f->admin, WIRE_OP_DELETE, NULL, "n", "p"), WIRE_OK);
        expect_open(&r, 3, WIRE_EIDRM, 0);
        expect_open(&d, 4, WIRE_EIDRM, 0);
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mpxd.n_waiters, 0);
        assert_int_equal(call(f->admin, WIRE_OP_INFO, NULL, "n", "p"), WIRE_ENOENT);

        open_pipe(&a, 5, "p", WIRE_PIPE_DUPLEX, -1);
        expect_nothing(&a);
        assert_int_equal(info_int(f->admin, "p", "pairs"), 0);
        open_pipe(&b, 6, "p", WIRE_PIPE_DUPLEX, -1);
        fa = expect_open(&a, 5, WIRE_OK, WIRE_PIPE_DUPLEX);
        fb = expect_open(&b, 6, WIRE_OK, WIRE_PIPE_DUPLEX);
        assert_connected(fa, fb, "new");
        close(fa);
        close(fb);
}

/* Shutdown answers every waiter ESHUTDOWN. */
static void test_shutdown_while_waiting(void **state) {
        struct pipe_fixture *f = *state;
        struct peer r = peer_add(f), w = peer_add(f);

        open_pipe(&r, 1, "p", WIRE_PIPE_READ, -1);
        open_pipe(&w, 2, "q", WIRE_PIPE_WRITE, 60000);
        object_delete_all(-ESHUTDOWN);
        expect_open(&r, 1, WIRE_ESHUTDOWN, 0);
        expect_open(&w, 2, WIRE_ESHUTDOWN, 0);
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

/* Malformed bodies are EPROTO, and create nothing. */
static void test_malformed_bodies(void **state) {
        struct pipe_fixture *f = *state;
        struct client *a = f->admin;
        const char bad_name[] = { 3, 'a', ' ', 'b' };
        const char empty_name[] = { 0 };
        const char short_name[] = { 5, 'a', 'b' };

        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, ""), WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "n", "p"), WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nb", "p", 0u), WIRE_EPROTO);
        /* A truncated timeout. */
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nbw", "p", 0u, 0u), WIRE_EPROTO);
        /* A byte too many. */
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nbib", "p", 0u, (int64_t) -1, 0u), WIRE_EPROTO);
        /* Names: a space, length 0, shorter than announced. */
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "rbi", bad_name, sizeof(bad_name), 0u, (int64_t) -1),
                         WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "rbi", empty_name, sizeof(empty_name), 0u,
                              (int64_t) -1), WIRE_EPROTO);
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "r", short_name, sizeof(short_name)), WIRE_EPROTO);
        /* A bad mode in a malformed body is still EPROTO. */
        assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nb", "p", 7u), WIRE_EPROTO);
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mpxd.n_waiters, 0);
        /* The connection goes on. */
        assert_int_equal(call(a, WIRE_OP_PING, NULL, "x", "x", (size_t) 1), WIRE_OK);
}

/* A mode other than duplex, read and write is EINVAL, whatever the timeout, and creates nothing. */
static void test_bad_mode(void **state) {
        struct pipe_fixture *f = *state;
        static const unsigned modes[] = { 3, 4, 128, 255 };

        for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
                assert_int_equal(call(f->admin, WIRE_OP_PIPE_OPEN, NULL, "nbi", "p", modes[i], (int64_t) -1),
                                 WIRE_EINVAL);
                assert_int_equal(call(f->admin, WIRE_OP_PIPE_OPEN, NULL, "nbi", "p", modes[i], (int64_t) 0),
                                 WIRE_EINVAL);
        }
        assert_int_equal(mpxd.n_objects, 0);
        assert_int_equal(mpxd.n_waiters, 0);
}

/* A name of another type is EPROTOTYPE for PIPE_OPEN, and a pipe's name is for other types' requests. */
static void test_wrong_type(void **state) {
        struct pipe_fixture *f = *state;
        struct client *a = f->admin;
        struct peer r = peer_add(f);

        assert_int_equal(call(a, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "q", (uint64_t) 0, 0u), WIRE_OK);
        assert_int_equal(call(a, WIRE_OP_DICT_DECLARE, NULL, "n", "d"), WIRE_OK);
        for (unsigned mode = WIRE_PIPE_DUPLEX; mode <= WIRE_PIPE_WRITE; mode++) {
                assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nbi", "q", mode, (int64_t) -1), WIRE_EPROTOTYPE);
                assert_int_equal(call(a, WIRE_OP_PIPE_OPEN, NULL, "nbi", "d", mode, (int64_t) 0), WIRE_EPROTOTYPE);
        }
        assert_int_equal(mpxd.n_waiters, 0);

        /* A pipe with a party waiting is not a queue, nor a dict; the party keeps waiting. */
        open_pipe(&r, 1, "p", WIRE_PIPE_READ, -1);
        assert_int_equal(call(a, WIRE_OP_QUEUE_PUT, NULL, "nix", "p", (int64_t) 0, "x", (size_t) 1),
                         WIRE_EPROTOTYPE);
        assert_int_equal(call(a, WIRE_OP_DICT_LEN, NULL, "n", "p"), WIRE_EPROTOTYPE);
        assert_int_equal(call(a, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "p", (uint64_t) 0, 0u), WIRE_EPROTOTYPE);
        expect_nothing(&r);
        assert_int_equal(info_int(a, "p", "readers"), 1);
}

/* At the object limit a new name is EUSERS; an existing pipe still works. */
static void test_object_limit(void **state) {
        struct pipe_fixture *f = *state;
        struct peer a = peer_add(f), b = peer_add(f), c = peer_add(f);
        int fa, fb;

        open_pipe(&a, 1, "p", WIRE_PIPE_DUPLEX, -1);
        expect_nothing(&a);
        mpxd.max_objects = 1;
        open_pipe(&c, 2, "other", WIRE_PIPE_DUPLEX, -1);
        expect_open(&c, 2, WIRE_EUSERS, 0);
        /* Timeout 0 on a missing name says EAGAIN: nothing would be created. */
        open_pipe(&c, 3, "other", WIRE_PIPE_DUPLEX, 0);
        expect_open(&c, 3, WIRE_EAGAIN, 0);
        open_pipe(&b, 4, "p", WIRE_PIPE_DUPLEX, -1);
        fa = expect_open(&a, 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fb = expect_open(&b, 4, WIRE_OK, WIRE_PIPE_DUPLEX);
        assert_int_equal(mpxd.n_objects, 1);
        close(fa);
        close(fb);
}

/* INFO's fields, and LIST by type. */
static void test_info_and_list(void **state) {
        struct pipe_fixture *f = *state;
        static const char *const keys[] = { "size", "waiters", "duplex", "readers", "writers", "pairs",
                                            "opens", "timeouts", "age_ms", "idle_ms", "requests" };
        struct peer r = peer_add(f);
        struct wire_reader rd;
        struct reply rep;
        uint64_t next = 1;
        uint32_t n = 0;
        const char *name;
        size_t len;
        uint8_t type = 0;

        assert_int_equal(call(f->admin, WIRE_OP_QUEUE_DECLARE, NULL, "nqw", "q", (uint64_t) 0, 0u), WIRE_OK);
        open_pipe(&r, 1, "p", WIRE_PIPE_READ, -1);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
                uint8_t kind = 0xff;

                assert_true(info_field(f->admin, "p", keys[i], NULL, &kind, NULL, NULL));
                assert_int_equal(kind, WIRE_FIELD_INT);
        }
        assert_int_equal(info_int(f->admin, "p", "size"), 1);
        assert_int_equal(info_int(f->admin, "p", "opens"), 1);
        assert_int_equal(info_int(f->admin, "p", "requests"), 1);
        assert_true(info_int(f->admin, "p", "age_ms") >= 0);
        assert_true(info_int(f->admin, "p", "idle_ms") >= 0);
        assert_int_equal(mpxd.n_waiters, 1);

        assert_int_equal(call(f->admin, WIRE_OP_LIST, &rep, "qwb", (uint64_t) 0, 0u, (unsigned) WIRE_TYPE_PIPE),
                         WIRE_OK);
        wire_reader_init(&rd, rep.body, rep.h.body_len);
        assert_true(wire_get_u64(&rd, &next) && wire_get_u32(&rd, &n));
        assert_int_equal(next, 0);
        assert_int_equal(n, 1);
        assert_true(wire_get_name(&rd, &name, &len) && wire_get_u8(&rd, &type));
        assert_int_equal(len, 1);
        assert_memory_equal(name, "p", 1);
        assert_int_equal(type, WIRE_TYPE_PIPE);
}

/* After a pairing the daemon holds no descriptor of the channel: closing one end is seen at the other. */
static void test_daemon_keeps_no_reference(void **state) {
        struct pipe_fixture *f = *state;
        struct peer a = peer_add(f), b = peer_add(f), r = peer_add(f), w = peer_add(f);
        int before = count_fds(), fa, fb, fr, fw;

        open_pipe(&a, 1, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&b, 2, "p", WIRE_PIPE_DUPLEX, -1);
        open_pipe(&r, 3, "p", WIRE_PIPE_READ, -1);
        open_pipe(&w, 4, "p", WIRE_PIPE_WRITE, -1);
        fa = expect_open(&a, 1, WIRE_OK, WIRE_PIPE_DUPLEX);
        fb = expect_open(&b, 2, WIRE_OK, WIRE_PIPE_DUPLEX);
        fr = expect_open(&r, 3, WIRE_OK, WIRE_PIPE_READ);
        fw = expect_open(&w, 4, WIRE_OK, WIRE_PIPE_WRITE);
        /* The daemon's copies went with the replies: only the four received are new. */
        assert_int_equal(count_fds(), before + 4);

        assert_connected(fa, fb, "x");
        close(fb);
        assert_peer_closed(fa);
        assert_connected(fw, fr, "y");
        close(fw);
        assert_peer_closed(fr);
        close(fa);
        close(fr);
        assert_int_equal(count_fds(), before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
                T(test_duplex_pair),
                T(test_read_write_pair),
                T(test_modes_do_not_mix),
                T(test_arrival_order),
                T(test_arrival_order_writers),
                T(test_third_party),
                T(test_timeout_zero),
                T(test_timeout_expires),
                T(test_pipelined_behind_wait),
                T(test_self_pair),
                T(test_disconnect_while_waiting),
                T(test_delete_while_waiting),
                T(test_shutdown_while_waiting),
                T(test_malformed_bodies),
                T(test_bad_mode),
                T(test_wrong_type),
                T(test_object_limit),
                T(test_info_and_list),
                T(test_daemon_keeps_no_reference),
#undef T
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
