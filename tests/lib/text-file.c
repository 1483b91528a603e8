/* SPDX-License-Identifier: MIT */
/* Text files the tests write (see text-file.h). */
#include "text-file.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

static void write_v(const char *path, const char *fmt, va_list ap) {
        FILE *out = fopen(path, "w");

        if (!out)
                print_error("cannot write %s: %s\n", path, strerror(errno));
        assert_non_null(out);
        assert_true(vfprintf(out, fmt, ap) >= 0);
        assert_int_equal(fclose(out), 0);
}

void text_file_write(const char *path, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        write_v(path, fmt, ap);
        va_end(ap);
}

void text_file_replace(const char *path, const char *fmt, ...) {
        char tmp[4096];
        va_list ap;

        assert_true((size_t) snprintf(tmp, sizeof(tmp), "%s.new", path) < sizeof(tmp));
        va_start(ap, fmt);
        write_v(tmp, fmt, ap);
        va_end(ap);
        assert_int_equal(rename(tmp, path), 0);
}
