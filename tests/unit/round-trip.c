/* SPDX-License-Identifier: MIT */
/* Round trips of the unit tests whose clients may own a real socket (see round-trip.h). */
#include "round-trip.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "request-builder.h"

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

uint16_t call(struct client *c, uint16_t op, struct reply *ret, const char *fmt, ...) {
        struct reply scratch;
        struct wire_buf b;
        va_list ap;

        if (!ret)
                ret = &scratch;
        wire_buf_init(&b);
        va_start(ap, fmt);
        append_request_v(&b, ROUND_TRIP_ID, op, fmt, ap);
        va_end(ap);
        client_feed(c, b.data, b.len);
        wire_buf_done(&b);
        take_reply(c, op, ret);
        /* Error replies have no body. */
        if (ret->h.status != WIRE_OK)
                assert_int_equal(ret->h.body_len, 0);
        return ret->h.status;
}
