/* SPDX-License-Identifier: MIT */
/* Round trips of the unit tests whose clients may own a real socket (see round-trip.h). */
#include "round-trip.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>

#include "client-internal.h"
#include "client.h"
#include "field-list.h"

void take_reply(struct client *c, uint16_t op, struct reply *ret) {
        size_t avail = c->out.len - c->out_off;

        assert_true(avail >= WIRE_HEADER_SIZE);
        wire_header_decode(c->out.data + c->out_off, &ret->h);
        assert_int_equal(ret->h.id, ROUND_TRIP_ID);
        assert_int_equal(ret->h.op, op);
        assert_true(ret->h.body_len <= REPLY_BODY_MAX);
        /* Exactly one frame. */
        assert_int_equal(avail, WIRE_HEADER_SIZE + ret->h.body_len);
        memcpy(ret->body, c->out.data + c->out_off + WIRE_HEADER_SIZE, ret->h.body_len);
        c->out.len = 0;
        c->out_off = 0;
}

struct client *client_add(struct fixture *f, int fd) {
        struct client *c = fixture_keep(f, client_new(fd));
        struct reply r;

        assert_int_equal(call(c, WIRE_OP_HELLO, &r, "wr", WIRE_VERSION, "\x04\0test", (size_t) 6), WIRE_OK);
        assert_int_equal(client_state(c), CLIENT_READY);
        return c;
}

uint16_t call(struct client *c, uint16_t op, struct reply *ret, const char *fmt, ...) {
        struct reply scratch;
        va_list ap;

        if (!ret)
                ret = &scratch;
        va_start(ap, fmt);
        send_request_v(c, ROUND_TRIP_ID, op, fmt, ap);
        va_end(ap);
        take_reply(c, op, ret);
        /* Error replies have no body. */
        if (ret->h.status != WIRE_OK)
                assert_int_equal(ret->h.body_len, 0);
        return ret->h.status;
}

bool info_field(struct client *c, const char *name, const char *key, uint8_t *ret_type, uint8_t *ret_kind,
                int64_t *ret_num, char *ret_str) {
        struct reply r;
        struct wire_reader rd;
        struct field f;
        uint8_t type = 0;

        assert_int_equal(call(c, WIRE_OP_INFO, &r, "n", name), WIRE_OK);
        wire_reader_init(&rd, r.body, r.h.body_len);
        assert_true(wire_get_u8(&rd, &type));
        if (ret_type)
                *ret_type = type;
        if (!field_list_read(&rd, key, &f)) {
                assert_true(wire_reader_done(&rd));
                return false;
        }
        if (ret_kind)
                *ret_kind = f.kind;
        if (f.kind == WIRE_FIELD_INT && ret_num)
                *ret_num = f.num;
        if (f.kind == WIRE_FIELD_STR && ret_str) {
                memcpy(ret_str, f.str, f.str_len);
                ret_str[f.str_len] = '\0';
        }
        return true;
}

/* An integer INFO field that must exist. */
int64_t info_int(struct client *c, const char *name, const char *key) {
        uint8_t kind = 0xff;
        int64_t v = 0;
        char s[256];

        if (!info_field(c, name, key, NULL, &kind, &v, s))
                fail_msg("INFO '%s' has no field %s", name, key);
        assert_int_equal(kind, WIRE_FIELD_INT);
        return v;
}

/* A str INFO field that must exist, into s (room for 256). */
void info_str(struct client *c, const char *name, const char *key, char *s) {
        uint8_t kind = 0xff;
        int64_t v = 0;

        if (!info_field(c, name, key, NULL, &kind, &v, s))
                fail_msg("INFO '%s' has no field %s", name, key);
        assert_int_equal(kind, WIRE_FIELD_STR);
}

void recv_frame(int fd, struct wire_header *ret_h, uint8_t *body, int *ret_fd) {
        union {
                char buf[CMSG_SPACE(sizeof(int) * 4)];
                struct cmsghdr align;
        } control;
        uint8_t hdr[WIRE_HEADER_SIZE];
        struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(hdr) };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        struct cmsghdr *cmsg;
        ssize_t n;

        *ret_fd = -1;
        assert_int_equal(poll(&pfd, 1, 0), 1);
        n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL | MSG_DONTWAIT);
        assert_int_equal(n, WIRE_HEADER_SIZE);
        assert_false(msg.msg_flags & MSG_CTRUNC);
        for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg))
                if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
                        /* One descriptor per frame, never more. */
                        assert_int_equal(cmsg->cmsg_len, CMSG_LEN(sizeof(int)));
                        assert_int_equal(*ret_fd, -1);
                        memcpy(ret_fd, CMSG_DATA(cmsg), sizeof(int));
                }
        wire_header_decode(hdr, ret_h);
        assert_true(ret_h->body_len <= REPLY_BODY_MAX);
        if (ret_h->body_len > 0)
                assert_int_equal(recv(fd, body, ret_h->body_len, MSG_WAITALL | MSG_DONTWAIT), ret_h->body_len);
}
