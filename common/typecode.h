/* SPDX-License-Identifier: MIT */
/*
 * The type codes of shared values and arrays: Python's array and ctypes
 * codes ('b', 'i', 'd', 'c' ...), each with the size of one element on
 * x86-64 and aarch64 Linux and the kind of number it holds.
 *
 * A type code travels on the wire as a u8 (the ARRAY_* requests), and the
 * daemon, its configuration parser, libmpx and mpxctl must agree on which
 * codes exist and how large their elements are: this is the one table they
 * all read.
 */
#pragma once

#include <stdint.h>

/* What an element holds, which is how it is parsed, printed and added to. */
enum typecode_kind {
        TYPECODE_SIGNED,                /* a two's complement integer */
        TYPECODE_UNSIGNED,              /* an unsigned integer */
        TYPECODE_FLOAT,                 /* a float (size 4) or a double (size 8) */
        TYPECODE_CHAR,                  /* one byte */
};

/* One type code. */
struct typecode {
        char code;                      /* 'b', 'B', 'h' ... */
        uint8_t size;                   /* bytes in one element */
        enum typecode_kind kind;
};

/* The type code code, or NULL when code is none. */
const struct typecode *typecode_find(char code);
