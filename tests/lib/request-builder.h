/* SPDX-License-Identifier: MIT */
/*
 * Request frames built by hand, for the tests that speak the wire protocol
 * (docs/PROTOCOL.md) themselves instead of through libmpx: the unit tests
 * that feed mpxd's socketless clients, and the integration tests that write
 * raw (often malformed) frames to a real daemon's socket. One builder, so
 * that every test encodes a field the same way.
 *
 * Failures are cmocka assertions, but for request_append(), which forked
 * children use, where cmocka must not run.
 */
#ifndef MPX_TESTS_REQUEST_BUILDER_H
#define MPX_TESTS_REQUEST_BUILDER_H

#include <stdarg.h>
#include <stdint.h>

#include "wire.h"

/*
 * Append body fields to out. Each character of fmt encodes one argument:
 *      n  name (const char *)
 *      b  u8 (unsigned)
 *      h  u16 (unsigned)
 *      w  u32 (uint32_t)
 *      q  u64 (uint64_t)
 *      i  i64 (int64_t)
 *      s  bytes (const char *, its strlen)
 *      t  str (const char *, its strlen)
 *      x  bytes (const void *, size_t)
 *      r  raw bytes (const void *, size_t)
 */
void append_fields_v(struct wire_buf *out, const char *fmt, va_list ap);

/* Append one request frame whose body is built from fmt to out. */
void append_request_v(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, va_list ap);

/* Append one request frame whose body is built from fmt to out. */
void append_request(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, ...);

/*
 * The same without cmocka, for a forked child: 0, or a negative errno when
 * the frame could not be built (out of memory, a bad format character).
 */
int request_append(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, ...);

#endif
