/* SPDX-License-Identifier: MIT */
/*
 * Request frames built by hand for the tests that speak the wire protocol
 * themselves (see request-builder.h).
 */
#include "request-builder.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

/*
 * Append body fields to out, as described in request-builder.h. Checked,
 * each field is a cmocka assertion; unchecked (a forked child, where cmocka
 * must not run), the first failure is returned as a negative errno.
 */
static int put_fields(struct wire_buf *out, const char *fmt, va_list ap, bool checked) {
        for (const char *p = fmt; *p; p++) {
                const char *s;
                const void *raw;
                size_t len;
                int r;

                switch (*p) {
                case 'n':
                        s = va_arg(ap, const char *);
                        r = wire_put_name(out, s, strlen(s));
                        break;
                case 'b':
                        r = wire_put_u8(out, (uint8_t) va_arg(ap, unsigned));
                        break;
                case 'h':
                        r = wire_put_u16(out, (uint16_t) va_arg(ap, unsigned));
                        break;
                case 'w':
                        r = wire_put_u32(out, va_arg(ap, uint32_t));
                        break;
                case 'q':
                        r = wire_put_u64(out, va_arg(ap, uint64_t));
                        break;
                case 'i':
                        r = wire_put_i64(out, va_arg(ap, int64_t));
                        break;
                case 's':
                        s = va_arg(ap, const char *);
                        r = wire_put_bytes(out, s, (uint32_t) strlen(s));
                        break;
                case 't':
                        s = va_arg(ap, const char *);
                        r = wire_put_str(out, s, strlen(s));
                        break;
                case 'x':
                        raw = va_arg(ap, const void *);
                        len = va_arg(ap, size_t);
                        r = wire_put_bytes(out, raw, (uint32_t) len);
                        break;
                case 'r':
                        raw = va_arg(ap, const void *);
                        len = va_arg(ap, size_t);
                        r = wire_put_raw(out, raw, len);
                        break;
                default:
                        if (checked)
                                fail_msg("bad request format character '%c'", *p);
                        return -EINVAL;
                }
                if (checked)
                        assert_int_equal(r, 0);
                else if (r < 0)
                        return r;
        }
        return 0;
}

/* Append body fields to out, as described in request-builder.h. */
void append_fields_v(struct wire_buf *out, const char *fmt, va_list ap) {
        put_fields(out, fmt, ap, true);
}

/* Append one request frame built from fmt to out. */
void append_request_v(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, va_list ap) {
        size_t start;

        assert_int_equal(wire_frame_begin(out, id, op, 0, &start), 0);
        append_fields_v(out, fmt, ap);
        wire_frame_end(out, start);
}

/* Append one request frame built from fmt to out. */
void append_request(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        append_request_v(out, id, op, fmt, ap);
        va_end(ap);
}

/* Append one request frame built from fmt to out, in a forked child: 0 or a negative errno. */
int request_append(struct wire_buf *out, uint32_t id, uint16_t op, const char *fmt, ...) {
        size_t start;
        va_list ap;
        int r;

        r = wire_frame_begin(out, id, op, 0, &start);
        if (r < 0)
                return r;
        va_start(ap, fmt);
        r = put_fields(out, fmt, ap, false);
        va_end(ap);
        if (r < 0)
                return r;
        wire_frame_end(out, start);
        return 0;
}
