/* SPDX-License-Identifier: MIT */
/* The fixture of the unit tests that run mpxd's code (see unit-fixture.h). */
#include "unit-fixture.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "log.h"
#include "mpxd.h"

/* ---- requests fed to a client ---- */

/* Feed the whole buffer to c and free the buffer. */
void feed_buf(struct client *c, struct wire_buf *b) {
        client_feed(c, b->data, b->len);
        wire_buf_done(b);
}

/* Feed c one frame with this body. */
void send_body(struct client *c, uint32_t id, uint16_t op, const void *body, size_t len) {
        struct wire_buf b;
        size_t start;

        wire_buf_init(&b);
        assert_int_equal(wire_frame_begin(&b, id, op, 0, &start), 0);
        assert_int_equal(wire_put_raw(&b, body, len), 0);
        wire_frame_end(&b, start);
        feed_buf(c, &b);
}

/* Feed c one request built from fmt. */
void send_request_v(struct client *c, uint32_t id, uint16_t op, const char *fmt, va_list ap) {
        struct wire_buf b;

        wire_buf_init(&b);
        append_request_v(&b, id, op, fmt, ap);
        feed_buf(c, &b);
}

/* Feed c one request built from fmt. */
void send_request(struct client *c, uint32_t id, uint16_t op, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        send_request_v(c, id, op, fmt, ap);
        va_end(ap);
}

/* Feed c a request whose body is a name. */
void send_named(struct client *c, uint32_t id, uint16_t op, const char *name) {
        send_request(c, id, op, "n", name);
}

/* ---- clients and the fixture ---- */

struct client *fixture_keep(struct fixture *f, struct client *c) {
        size_t i;

        assert_non_null(c);
        for (i = 0; i < MAX_CLIENTS && f->c[i]; i++)
                ;
        assert_true(i < MAX_CLIENTS);
        f->c[i] = c;
        return c;
}

void client_drop(struct fixture *f, struct client *c) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (f->c[i] == c) {
                        f->c[i] = NULL;
                        client_lost(c, "test");
                        return;
                }
        fail_msg("client not in the fixture");
}

void client_forget(struct fixture *f, struct client *c) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (f->c[i] == c) {
                        assert_true(client_is_gone(c));
                        f->c[i] = NULL;
                        return;
                }
        fail_msg("client not in the fixture");
}

void run_until_waiters(unsigned n) {
        for (int i = 0; i < 1000 && mpxd.n_waiters != n; i++)
                assert_true(event_base_loop(mpxd.base, EVLOOP_ONCE) >= 0);
        assert_int_equal(mpxd.n_waiters, n);
}

int fixture_setup(void **state, size_t size) {
        struct fixture *f = calloc(1, size);

        if (!f)
                return -1;
        log_set_level(LOG_LEVEL_ERR);
        if (mpxd_init() < 0) {
                free(f);
                return -1;
        }
        *state = f;
        return 0;
}

void fixture_teardown(struct fixture *f) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                if (f->c[i])
                        client_lost(f->c[i], "test");
        mpxd_done();
        free(f);
}
