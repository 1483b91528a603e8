/* SPDX-License-Identifier: MIT */
/*
 * Round trips of the unit tests whose clients may own a real socket (the
 * arrays' shared memory and the pipes' descriptors, which travel beside a
 * reply): a request is fed to the client with one fixed id, and its one
 * reply is taken straight from the client's output buffer, before it could
 * reach any socket, and kept whole; what does reach a socket is read from
 * the test's end of it, with the descriptor that came along. The other unit
 * tests of object types, whose clients never have a socket, use
 * unit-client.h instead.
 */
#ifndef MPX_ROUND_TRIP_H
#define MPX_ROUND_TRIP_H

#include <stdbool.h>
#include <stdint.h>

#include "client.h"
#include "unit-fixture.h"

/* The id of every request of a round trip. */
#define ROUND_TRIP_ID   0x77u
#define REPLY_BODY_MAX  4096

/* One parsed reply frame. */
struct reply {
        struct wire_header h;
        uint8_t body[REPLY_BODY_MAX];
};

/*
 * A new client on fd (-1: socketless) registered in the fixture, after a
 * HELLO whose reply is taken from its output buffer: it never reaches a socket.
 */
struct client *client_add(struct fixture *f, int fd);

/* Parse the single reply waiting in c's output (to op) into *ret and clear the output. */
void take_reply(struct client *c, uint16_t op, struct reply *ret);

/*
 * Feed c one request built from fmt (see request-builder.h) and take its one
 * reply into *ret (may be NULL); an error reply must have no body. Returns
 * the reply's status.
 */
uint16_t call(struct client *c, uint16_t op, struct reply *ret, const char *fmt, ...);

/*
 * Find an INFO field of name: the object's type in *ret_type, the field's
 * kind in *ret_kind and its value in *ret_num or ret_str (NUL-terminated,
 * room for 256); any of them may be NULL. Returns false when the object has
 * no such field.
 */
bool info_field(struct client *c, const char *name, const char *key, uint8_t *ret_type, uint8_t *ret_kind,
                int64_t *ret_num, char *ret_str);

/* An integer INFO field that must exist. */
int64_t info_int(struct client *c, const char *name, const char *key);

/* A str INFO field that must exist, into s (room for 256). */
void info_str(struct client *c, const char *name, const char *key, char *s);

/*
 * Read one frame from fd, the test's end of a client's socket, with
 * recvmsg(): its header, its body (into body, room for REPLY_BODY_MAX) and
 * the descriptor that came with it (-1 if none; at most one may come). The
 * frame must be there already (the daemon's output was flushed).
 */
void recv_frame(int fd, struct wire_header *ret_h, uint8_t *body, int *ret_fd);

#endif
