/* SPDX-License-Identifier: MIT */
/*
 * The table of type codes (see typecode.h), linked into both the daemon and
 * the library, and into mpxctl.
 */
#include <stddef.h>

#include "macros.h"
#include "typecode.h"

static const struct typecode typecodes[] = {
        { 'b', 1, TYPECODE_SIGNED },    { 'B', 1, TYPECODE_UNSIGNED },
        { 'h', 2, TYPECODE_SIGNED },    { 'H', 2, TYPECODE_UNSIGNED },
        { 'i', 4, TYPECODE_SIGNED },    { 'I', 4, TYPECODE_UNSIGNED },
        { 'l', 8, TYPECODE_SIGNED },    { 'L', 8, TYPECODE_UNSIGNED },
        { 'q', 8, TYPECODE_SIGNED },    { 'Q', 8, TYPECODE_UNSIGNED },
        { 'f', 4, TYPECODE_FLOAT },     { 'd', 8, TYPECODE_FLOAT },
        { 'c', 1, TYPECODE_CHAR },
};

/* A linear search: the table is short, and callers look up one code per request. */
const struct typecode *typecode_find(char code) {
        for (size_t i = 0; i < ARRAY_SIZE(typecodes); i++)
                if (typecodes[i].code == code)
                        return &typecodes[i];
        return NULL;
}
