/* SPDX-License-Identifier: MIT */
/*
 * The fixture of the unit tests that run mpxd's code without a daemon
 * process: the daemon's state set up before each test and freed after it,
 * the clients a test made, lost at teardown, and requests fed to them with
 * client_feed(). It knows nothing of how a test reads replies:
 * unit-client.h (socketless clients, replies read in place) and
 * round-trip.h (clients that may own a socket) build on it.
 */
#ifndef MPX_UNIT_FIXTURE_H
#define MPX_UNIT_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "request-builder.h"

#define MAX_CLIENTS     16

/* The clients of one test; teardown loses those still here. A test's own fixture may begin with it. */
struct fixture {
        struct client *c[MAX_CLIENTS];
};

/* Register c, a new client (client_new() or client_new_as(); must not be NULL), for teardown; returns it. */
struct client *fixture_keep(struct fixture *f, struct client *c);

/* Forget a client the daemon lost by itself (it is freed by the loop); it must not be used afterwards. */
void client_forget(struct fixture *f, struct client *c);

/* Lose a client as if its socket had closed; it must not be used afterwards. */
void client_drop(struct fixture *f, struct client *c);

/* Run the event loop until only n waiters are left: their timers fire. */
void run_until_waiters(unsigned n);

/*
 * Set up the daemon's state (only errors logged) and put a zeroed fixture
 * of size bytes, a struct that begins with struct fixture, into *state.
 * Returns 0, or -1 (cmocka's setup failure).
 */
int fixture_setup(void **state, size_t size);

/* Lose the fixture's clients, free the daemon's state and the fixture. */
void fixture_teardown(struct fixture *f);

/* ---- requests fed to a client (append_request() and its format: request-builder.h) ---- */

/* Feed the whole buffer to c and free the buffer. */
void feed_buf(struct client *c, struct wire_buf *b);

/* Feed c one frame with this body. */
void send_body(struct client *c, uint32_t id, uint16_t op, const void *body, size_t len);

/* Feed c one request whose body is built from fmt. */
void send_request_v(struct client *c, uint32_t id, uint16_t op, const char *fmt, va_list ap);

/* Feed c one request whose body is built from fmt. */
void send_request(struct client *c, uint32_t id, uint16_t op, const char *fmt, ...);

/* Feed c a request whose body is a name (INFO, DELETE, and many of each type). */
void send_named(struct client *c, uint32_t id, uint16_t op, const char *name);

#endif
