/* SPDX-License-Identifier: MIT */
/*
 * A cmocka check that fails at a line the caller names: helpers take their
 * caller's __FILE__ and __LINE__, so that a failure points at the test that
 * called them, not at the helper. For cmocka tests only.
 */
#ifndef MPX_TESTS_CHECK_AT_H
#define MPX_TESTS_CHECK_AT_H

/* Unless cond holds, print the printf-style message and fail the test at file, line. */
#define check_at(cond, file, line, ...)                         \
        do {                                                    \
                if (!(cond)) {                                  \
                        print_error(__VA_ARGS__);               \
                        print_error("\n");                      \
                        _fail(file, line);                      \
                }                                               \
        } while (0)

#endif
