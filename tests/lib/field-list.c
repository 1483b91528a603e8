/* SPDX-License-Identifier: MIT */
/* Field lists read back by the tests (see field-list.h). */
#include "field-list.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

/* A check of the list's form, failing at the caller's line (as assert_true() there would). */
#define form_check(cond, what) _assert_true(cast_to_largest_integral_type(cond), what, file, line)

bool field_list_read_at(struct wire_reader *r, const char *key, struct field *ret, const char *file, int line) {
        bool found = false;
        uint16_t n = 0;

        form_check(wire_get_u16(r, &n), "a field list's count");
        for (uint16_t i = 0; i < n; i++) {
                struct field f = { 0 };
                uint8_t key_len = 0;
                bool match;

                form_check(wire_get_u8(r, &key_len) && r->left >= key_len, "a field's key");
                match = key && key_len == strlen(key) && memcmp(r->p, key, key_len) == 0;
                r->p += key_len;
                r->left -= key_len;
                form_check(wire_get_u8(r, &f.kind) && f.kind <= WIRE_FIELD_STR, "a field's kind");
                if (f.kind == WIRE_FIELD_INT)
                        form_check(wire_get_i64(r, &f.num), "an integer field's value");
                else
                        form_check(wire_get_str(r, &f.str, &f.str_len), "a str field's value");
                if (match && !found && ret)
                        *ret = f;
                found = found || match;
        }
        return found;
}
