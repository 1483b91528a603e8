/* SPDX-License-Identifier: MIT */
/*
 * mpxctl value and mpxctl array: declare, get, set, add and cas on typed
 * shared values and arrays, one libmpx call each (a whole-array get or a
 * large set is split into calls of one message each).
 *
 * Numbers are parsed for the element's type: integers in decimal, with a
 * sign, anywhere from -2**63 to 2**64-1, and then truncated to the type's
 * width as ctypes does (200 for 'b' is -56, -1 for 'B' is 255); anything
 * else, or an integer beyond 64 bits, is a usage error. Floats are what
 * strtod() reads in the C locale (inf and nan included); a 'f' is rounded
 * to float. A 'c' element is one byte. Elements are printed one per line:
 * integers in decimal, floats in the fewest digits that read back as the
 * same float or double, and 'c' elements as the raw bytes with no newline;
 * --json prints a JSON array (a JSON string of the bytes for 'c', null for
 * a float that is not finite).
 *
 * Since a negative number looks like an option, any argument that starts
 * with '-' and then a digit, a '.', "inf" or "nan" is taken as an argument;
 * after "--" everything is.
 *
 * libmpx's element calls take the type code the caller believes the array
 * has, and a person names an array without its type: so every get, set,
 * add and cas first asks the daemon for the object's type code and length
 * (mpx_object_info), one extra round trip, then passes that type code on.
 * Should the object be replaced by one of another type code in between, the
 * call fails with EPROTOTYPE and nothing is read or written. The value
 * commands work only on values; the array commands on arrays and on values
 * (arrays of one).
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mpxctl.h"
#include "typecode.h"

#define TYPECODES "b B h H i I l L q Q f d c"

/* The type code a one-character string names, or NULL. */
static const struct typecode *typecode_named(const char *s) {
        if (!s[0] || s[1])
                return NULL;
        return typecode_find(s[0]);
}

/* ---- elements ---- */

/* Write the low size bytes of bits in host order. */
static void bits_put(void *dst, unsigned size, uint64_t bits) {
        uint8_t v8 = (uint8_t) bits;
        uint16_t v16 = (uint16_t) bits;
        uint32_t v32 = (uint32_t) bits;

        if (size == 1)
                memcpy(dst, &v8, 1);
        else if (size == 2)
                memcpy(dst, &v16, 2);
        else if (size == 4)
                memcpy(dst, &v32, 4);
        else
                memcpy(dst, &bits, 8);
}

static uint64_t bits_get(const void *src, unsigned size) {
        uint8_t v8;
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;

        if (size == 1) {
                memcpy(&v8, src, 1);
                return v8;
        }
        if (size == 2) {
                memcpy(&v16, src, 2);
                return v16;
        }
        if (size == 4) {
                memcpy(&v32, src, 4);
                return v32;
        }
        memcpy(&v64, src, 8);
        return v64;
}

/* A decimal integer from -2**63 to 2**64-1, as 64 bits of two's complement: 0, or -ERANGE / -EINVAL. */
static int parse_int(const char *s, uint64_t *ret) {
        const char *p = s;
        bool negative = false;
        uint64_t v = 0;

        if (*p == '-' || *p == '+')
                negative = *p++ == '-';
        if (*p < '0' || *p > '9')
                return -EINVAL;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (*p - '0');
        }
        if (*p)
                return -EINVAL;
        if (negative && v > (UINT64_C(1) << 63))
                return -ERANGE;
        *ret = negative ? (uint64_t) 0 - v : v;
        return 0;
}

/* Parse one element of type t from s into out (t->size bytes): CTL_EXIT_OK or a usage error. */
static int elem_parse(struct ctl *ctl, const struct typecode *t, const char *s, void *out) {
        uint64_t v;
        double d;
        float f;
        char *end;
        int r;

        switch (t->kind) {
        case TYPECODE_CHAR:
                if (strlen(s) != 1)
                        return ctl_usage_error(ctl, "bad element '%s' for type 'c' (one byte)", s);
                memcpy(out, s, 1);
                return CTL_EXIT_OK;
        case TYPECODE_FLOAT:
                /* strtod() would skip leading blanks and accept hex floats; both are fine but for blanks. */
                if (!*s || *s == ' ' || *s == '\t' || *s == '\n')
                        return ctl_usage_error(ctl, "bad number '%s' for type '%c'", s, t->code);
                errno = 0;
                d = strtod(s, &end);
                if (*end)
                        return ctl_usage_error(ctl, "bad number '%s' for type '%c'", s, t->code);
                if (t->size == 4) {
                        f = (float) d;
                        memcpy(out, &f, 4);
                } else
                        memcpy(out, &d, 8);
                return CTL_EXIT_OK;
        default:
                r = parse_int(s, &v);
                if (r == -ERANGE)
                        return ctl_usage_error(ctl, "integer '%s' is beyond 64 bits", s);
                if (r < 0)
                        return ctl_usage_error(ctl, "bad integer '%s' for type '%c'", s, t->code);
                /* Truncated to the type's width, as ctypes does. */
                bits_put(out, t->size, v);
                return CTL_EXIT_OK;
        }
}

/* The fewest significant digits (up to 17) that read back as d. */
static void format_double(double d, char *buf, size_t size) {
        if (isnan(d)) {
                snprintf(buf, size, "nan");
                return;
        }
        if (isinf(d)) {
                snprintf(buf, size, d < 0 ? "-inf" : "inf");
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, size, "%.*g", prec, d);
                if (strtod(buf, NULL) == d)
                        return;
        }
}

/* The fewest significant digits (up to 9) that read back as the float f. */
static void format_float(float f, char *buf, size_t size) {
        if (isnan(f) || isinf(f)) {
                format_double(f, buf, size);
                return;
        }
        for (int prec = 1; prec <= 9; prec++) {
                snprintf(buf, size, "%.*g", prec, (double) f);
                if (strtof(buf, NULL) == f)
                        return;
        }
}

/* One numeric element as text (not 'c'); non-finite floats are null in JSON. */
static void elem_format(const struct typecode *t, const void *src, bool json, char *buf, size_t size) {
        uint64_t bits = bits_get(src, t->size);
        unsigned shift = 64 - 8 * t->size;
        double d;
        float f;

        switch (t->kind) {
        case TYPECODE_SIGNED:
                snprintf(buf, size, "%" PRId64, (int64_t) (bits << shift) >> shift);
                break;
        case TYPECODE_UNSIGNED:
                snprintf(buf, size, "%" PRIu64, bits);
                break;
        default:
                if (t->size == 4) {
                        memcpy(&f, src, 4);
                        d = f;
                } else
                        memcpy(&d, src, 8);
                if (json && !isfinite(d))
                        snprintf(buf, size, "null");
                else if (t->size == 4)
                        format_float(f, buf, size);
                else
                        format_double(d, buf, size);
                break;
        }
}

/*
 * Print n elements: one per line (raw bytes for 'c'), or with --json a JSON
 * array (a JSON string for 'c'); as_scalar prints one element without the
 * brackets.
 */
static void elems_print(const struct ctl *ctl, const struct typecode *t, const void *data, size_t n,
                        bool as_scalar) {
        const uint8_t *p = data;
        char buf[64];

        if (t->kind == TYPECODE_CHAR) {
                if (ctl->json) {
                        ctl_json_string(data, n);
                        putchar('\n');
                } else
                        ctl_print_payload(data, n);
                return;
        }
        if (ctl->json && !as_scalar)
                putchar('[');
        for (size_t i = 0; i < n; i++) {
                elem_format(t, p + i * t->size, ctl->json, buf, sizeof(buf));
                if (ctl->json)
                        printf("%s%s", i ? "," : "", buf);
                else
                        printf("%s\n", buf);
        }
        if (ctl->json)
                fputs(as_scalar ? "\n" : "]\n", stdout);
}

/* ---- arguments ---- */

/*
 * Parse a command's options and its positional arguments, min to max of
 * them after NAME (max < 0: no limit). Any argument that starts with '-'
 * and then a digit, a '.', "inf" or "nan" is a negative number, never an
 * option. CTL_EXIT_OK, or what the command returns at once.
 */
static int array_parse(struct ctl *ctl, int argc, char **argv, const struct option *options, int min, int max,
                       struct ctl_args *a) {
        return ctl_parse_args(ctl, argc, argv, options, CTL_ARGS_NEGATIVE | CTL_ARGS_FLOATS, min, max, a);
}

/* Parse an index: a decimal int64, negative from the end. */
static int parse_index(struct ctl *ctl, const char *s, int64_t *ret) {
        uint64_t v;
        int r = parse_int(s, &v);

        if (r < 0 || (s[0] != '-' && v > INT64_MAX))
                return ctl_usage_error(ctl, "bad index '%s' (an integer, negative from the end)", s);
        *ret = (int64_t) v;
        return CTL_EXIT_OK;
}

/*
 * The elements given on the command line (or, with --bytes, on stdin) as a
 * malloc'd buffer of *ret_n elements: one argument per element, or for 'c'
 * the bytes of every argument one after the other. At most max elements.
 * CTL_EXIT_OK or what the command returns.
 */
static int elems_collect(struct ctl *ctl, const struct typecode *t, char **args, int n_args, bool from_stdin,
                         uint64_t max, uint8_t **ret, size_t *ret_n) {
        uint8_t *buf = NULL;
        size_t n = 0;
        int r;

        if (from_stdin) {
                if (t->kind != TYPECODE_CHAR)
                        return ctl_usage_error(ctl, "--bytes is for arrays of type 'c'");
                if (n_args > 0)
                        return ctl_usage_error(ctl, "--bytes reads the elements from stdin: give no VALUES");
                r = ctl_read_stdin(max < SIZE_MAX ? (size_t) max : SIZE_MAX, (char **) &buf, &n);
                if (r == -EMSGSIZE)
                        return ctl_usage_error(ctl, "stdin holds more than %" PRIu64 " bytes", max);
                if (r < 0) {
                        ctl_error("cannot read stdin: %s", strerror(-r));
                        return CTL_EXIT_FAILED;
                }
        } else if (t->kind == TYPECODE_CHAR) {
                for (int i = 0; i < n_args; i++)
                        n += strlen(args[i]);
                if (n > max)
                        return ctl_usage_error(ctl, "%zu bytes given, more than %" PRIu64, n, max);
                buf = malloc(n ? n : 1);
                if (!buf) {
                        ctl_error("out of memory");
                        return CTL_EXIT_FAILED;
                }
                n = 0;
                for (int i = 0; i < n_args; i++) {
                        memcpy(buf + n, args[i], strlen(args[i]));
                        n += strlen(args[i]);
                }
        } else {
                if ((uint64_t) n_args > max)
                        return ctl_usage_error(ctl, "%d values given, more than %" PRIu64, n_args, max);
                buf = malloc((size_t) (n_args ? n_args : 1) * t->size);
                if (!buf) {
                        ctl_error("out of memory");
                        return CTL_EXIT_FAILED;
                }
                for (int i = 0; i < n_args; i++) {
                        r = elem_parse(ctl, t, args[i], buf + (size_t) i * t->size);
                        if (r != CTL_EXIT_OK) {
                                free(buf);
                                return r;
                        }
                }
                n = (size_t) n_args;
        }
        *ret = buf;
        *ret_n = n;
        return CTL_EXIT_OK;
}

/*
 * Ask the daemon what name is: its element type and length. A value command
 * (value) accepts only a value; an array command any array or value.
 * CTL_EXIT_OK, or what the command returns.
 */
static int array_lookup(struct ctl *ctl, const char *group, const char *name, bool value_only,
                        const struct typecode **ret_t, uint32_t *ret_length) {
        mpx_info info = { 0 };
        const mpx_field *code, *length;
        const struct typecode *t = NULL;
        int r;

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_object_info(ctl->m, name, &info);
        if (r < 0)
                return ctl_fail(r, group, name, NULL);
        if (!info.type ||
            (strcmp(info.type, "value") != 0 && (value_only || strcmp(info.type, "array") != 0))) {
                mpx_info_clear(&info);
                return ctl_fail(-EPROTOTYPE, group, name, NULL);
        }
        code = mpx_info_get(&info, "typecode");
        length = mpx_info_get(&info, "length");
        if (code && code->is_str)
                t = typecode_named(code->str);
        if (!t || !length || length->is_str || length->num < 1 || length->num > UINT32_MAX) {
                mpx_info_clear(&info);
                return ctl_fail(-EPROTO, group, name,
                                "the daemon describes it in a way mpxctl does not know");
        }
        *ret_t = t;
        *ret_length = (uint32_t) length->num;
        mpx_info_clear(&info);
        return CTL_EXIT_OK;
}

/* A libmpx failure on an array or value, in words. */
static int array_fail(int r, const char *group, const char *name) {
        const char *msg = NULL;

        if (r == -ERANGE)
                msg = "index out of range";
        else if (r == -EPROTOTYPE)
                /* It was an array of the type code array_lookup() saw, a moment before. */
                msg = "its type changed while mpxctl was using it";
        return ctl_fail(r, group, name, msg);
}

/* Elements that fit in one message. */
static uint32_t elems_per_message(const struct ctl *ctl, const struct typecode *t) {
        size_t n = mpx_max_message(ctl->m) / t->size;

        if (n == 0)
                n = 1;
        return n > UINT32_MAX ? UINT32_MAX : (uint32_t) n;
}

/* Store n elements at index (normalised by the caller when negative), one message at a time. */
static int elems_store(struct ctl *ctl, const char *group, const char *name, const struct typecode *t,
                       int64_t index, const uint8_t *data, size_t n) {
        uint32_t per = elems_per_message(ctl, t);
        size_t done = 0;

        /* An empty run still checks the index. */
        do {
                uint32_t k = n - done > per ? per : (uint32_t) (n - done);
                int r = mpx_array_set(ctl->m, name, t->code, index + (int64_t) done, k, data + done * t->size);

                if (r < 0)
                        return array_fail(r, group, name);
                done += k;
        } while (done < n);
        return CTL_EXIT_OK;
}

/* A negative index as the positive one it means, when it is inside the array. */
static int64_t index_resolve(int64_t index, uint32_t length) {
        return index < 0 && index >= -(int64_t) length ? index + length : index;
}

/* ---- the commands ---- */

static const struct option no_options[] = { CTL_OPTIONS_COMMON };

static const struct option bytes_options[] = {
        { "bytes", no_argument, NULL, 'b' },
        CTL_OPTIONS_COMMON
};

/* The options of declare: --bytes for an array, --durable for both. */
static const struct option declare_options[] = {
        { "bytes", no_argument, NULL, 'b' },
        CTL_OPTION_DURABLE,
        CTL_OPTIONS_COMMON
};

static const struct option value_declare_options[] = {
        CTL_OPTION_DURABLE,
        CTL_OPTIONS_COMMON
};

/* The common end of declare: create, or check; large contents go in message by message. */
static int declare_common(struct ctl *ctl, const char *group, const char *name, const struct typecode *t,
                          uint32_t length, const uint8_t *values, size_t n, bool is_value, bool durable) {
        uint8_t *initial = NULL;
        bool whole;
        int r;

        r = ctl_connect(ctl);
        if (r != CTL_EXIT_OK)
                return r;
        /* Contents that fit in one message go with the declaration, zero-padded to LENGTH. */
        whole = n > 0 && (uint64_t) length * t->size <= mpx_max_message(ctl->m);
        if (whole) {
                initial = calloc(length, t->size);
                if (!initial) {
                        ctl_error("out of memory");
                        return CTL_EXIT_FAILED;
                }
                memcpy(initial, values, n * t->size);
        }
        if (is_value)
                r = mpx_value_declare_flags(ctl->m, name, t->code, initial, durable ? MPX_DURABLE : 0);
        else
                r = mpx_array_declare_flags(ctl->m, name, t->code, length, initial, durable ? MPX_DURABLE : 0);
        free(initial);
        if (r < 0)
                return ctl_fail(r, group, name, r == -ENOSPC ? "too large for the daemon" : NULL);
        /* Too large for one message: a new array is zeros; fill in what was given. */
        if (r == 1 && n > 0 && !whole)
                return elems_store(ctl, group, name, t, 0, values, n);
        return CTL_EXIT_OK;
}

/* The type code argument of declare. */
static int typecode_arg(struct ctl *ctl, const char *s, const struct typecode **ret) {
        *ret = typecode_named(s);
        return *ret ? CTL_EXIT_OK : ctl_usage_error(ctl, "bad type code '%s' (one of " TYPECODES ")", s);
}

/* mpxctl value declare NAME TYPECODE [INITIAL] [--durable] */
static int value_declare(struct ctl *ctl, int argc, char **argv) {
        const struct typecode *t = NULL;
        uint8_t initial[8] = { 0 };
        struct ctl_args a;
        int r;

        r = array_parse(ctl, argc, argv, value_declare_options, 1, 2, &a);
        if (r == CTL_EXIT_OK)
                r = typecode_arg(ctl, a.pos[0], &t);
        if (r == CTL_EXIT_OK && a.n > 1)
                r = elem_parse(ctl, t, a.pos[1], initial);
        if (r != CTL_EXIT_OK)
                return r;
        return declare_common(ctl, "value", a.name, t, 1, initial, a.n > 1, true, ctl_given(&a, 'D'));
}

/* A command on one element, once elem_begin() has read it. */
struct elem {
        struct ctl_args a;              /* NAME, INDEX (array commands only), ARGS */
        const struct typecode *t;       /* the element type, as the daemon said */
        int64_t index;                  /* 0 for a value */
        char **args;                    /* the ARGS after NAME and INDEX */
};

/*
 * The start of the commands on one element, of a value or of an array:
 * parse "NAME [INDEX] ARGS..." with n ARGS (INDEX for an array only), and
 * ask the daemon for the element type. CTL_EXIT_OK, or what to return.
 */
static int elem_begin(struct ctl *ctl, int argc, char **argv, int n, struct elem *e) {
        bool value = strcmp(ctl->group, "value") == 0;
        uint32_t length;
        int r;

        e->index = 0;
        r = array_parse(ctl, argc, argv, no_options, n + !value, n + !value, &e->a);
        if (r == CTL_EXIT_OK && !value)
                r = parse_index(ctl, e->a.pos[0], &e->index);
        if (r == CTL_EXIT_OK)
                r = array_lookup(ctl, ctl->group, e->a.name, value, &e->t, &length);
        if (r == CTL_EXIT_OK)
                e->args = e->a.pos + !value;
        return r;
}

/* mpxctl value get NAME and mpxctl value set NAME VALUE */
static int value_cmd(struct ctl *ctl, int argc, char **argv) {
        bool set = ctl_is(ctl, "set");
        uint8_t buf[8];
        struct elem e;
        int r;

        r = elem_begin(ctl, argc, argv, set ? 1 : 0, &e);
        if (r != CTL_EXIT_OK)
                return r;
        if (set) {
                r = elem_parse(ctl, e.t, e.args[0], buf);
                return r != CTL_EXIT_OK ? r : elems_store(ctl, "value", e.a.name, e.t, 0, buf, 1);
        }
        r = mpx_array_get(ctl->m, e.a.name, e.t->code, 0, 1, buf);
        if (r < 0)
                return array_fail(r, "value", e.a.name);
        elems_print(ctl, e.t, buf, 1, true);
        return CTL_EXIT_OK;
}

/* mpxctl value add NAME DELTA and mpxctl array add NAME INDEX DELTA: print the new element. */
static int add_cmd(struct ctl *ctl, int argc, char **argv) {
        uint8_t delta[8], new[8];
        struct elem e;
        int r;

        r = elem_begin(ctl, argc, argv, 1, &e);
        if (r != CTL_EXIT_OK)
                return r;
        /* The daemon says EINVAL too; say why before parsing a delta that cannot be one byte. */
        if (e.t->kind == TYPECODE_CHAR)
                return ctl_fail(-EINVAL, ctl->group, e.a.name, "elements of type 'c' cannot be added to");
        r = elem_parse(ctl, e.t, e.args[0], delta);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_array_add(ctl->m, e.a.name, e.t->code, e.index, delta, new);
        if (r < 0)
                return array_fail(r, ctl->group, e.a.name);
        elems_print(ctl, e.t, new, 1, true);
        return CTL_EXIT_OK;
}

/*
 * mpxctl value cas NAME EXPECTED NEW and mpxctl array cas NAME INDEX
 * EXPECTED NEW: print the element after the call; exit 0 when it was
 * swapped, 1 when it held something else.
 */
static int cas_cmd(struct ctl *ctl, int argc, char **argv) {
        uint8_t expected[8], new[8], current[8];
        struct elem e;
        int r;

        r = elem_begin(ctl, argc, argv, 2, &e);
        if (r == CTL_EXIT_OK)
                r = elem_parse(ctl, e.t, e.args[0], expected);
        if (r == CTL_EXIT_OK)
                r = elem_parse(ctl, e.t, e.args[1], new);
        if (r != CTL_EXIT_OK)
                return r;
        r = mpx_array_cas(ctl->m, e.a.name, e.t->code, e.index, expected, new, current);
        if (r < 0)
                return array_fail(r, ctl->group, e.a.name);
        if (ctl->json) {
                char buf[64];

                printf("{\"swapped\":%s,\"value\":", r ? "true" : "false");
                if (e.t->kind == TYPECODE_CHAR)
                        ctl_json_string(current, 1);
                else {
                        elem_format(e.t, current, true, buf, sizeof(buf));
                        fputs(buf, stdout);
                }
                fputs("}\n", stdout);
        } else
                elems_print(ctl, e.t, current, 1, true);
        if (!r) {
                ctl_error("%s '%s': not swapped: it holds another value", ctl->group, e.a.name);
                return CTL_EXIT_FAILED;
        }
        return CTL_EXIT_OK;
}

/* mpxctl array declare NAME TYPECODE LENGTH [VALUES...] [--bytes] [--durable] */
static int array_declare_cmd(struct ctl *ctl, int argc, char **argv) {
        const struct typecode *t = NULL;
        uint8_t *values = NULL;
        uint64_t length = 0;
        struct ctl_args a;
        size_t n = 0;
        int r;

        r = array_parse(ctl, argc, argv, declare_options, 2, -1, &a);
        if (r == CTL_EXIT_OK)
                r = typecode_arg(ctl, a.pos[0], &t);
        if (r == CTL_EXIT_OK) {
                r = ctl_parse_u64(ctl, "length", a.pos[1], &length);
                if (r == CTL_EXIT_OK && (length == 0 || length > UINT32_MAX))
                        r = ctl_usage_error(ctl, "length %s is not 1 to 4294967295", a.pos[1]);
        }
        if (r == CTL_EXIT_OK)
                r = elems_collect(ctl, t, a.pos + 2, a.n - 2, ctl_given(&a, 'b'), length, &values, &n);
        if (r == CTL_EXIT_OK)
                r = declare_common(ctl, "array", a.name, t, (uint32_t) length, values, n, false,
                                   ctl_given(&a, 'D'));
        free(values);
        return r;
}

/* mpxctl array get NAME [INDEX [COUNT]]: the whole array, one element, or a run. */
static int array_get_cmd(struct ctl *ctl, int argc, char **argv) {
        const struct typecode *t = NULL;
        uint8_t *buf = NULL;
        int64_t index = 0;
        uint64_t count = 1;
        uint32_t length = 0, per;
        struct ctl_args a;
        int r;

        r = array_parse(ctl, argc, argv, no_options, 0, 2, &a);
        if (r == CTL_EXIT_OK && a.n > 0)
                r = parse_index(ctl, a.pos[0], &index);
        if (r == CTL_EXIT_OK && a.n > 1) {
                r = ctl_parse_u64(ctl, "count", a.pos[1], &count);
                if (r == CTL_EXIT_OK && count > UINT32_MAX)
                        r = ctl_usage_error(ctl, "count %s is too large", a.pos[1]);
        }
        if (r == CTL_EXIT_OK)
                r = array_lookup(ctl, "array", a.name, false, &t, &length);
        if (r != CTL_EXIT_OK)
                return r;
        if (a.n == 0)
                count = length;
        if (count > length)
                return array_fail(-ERANGE, "array", a.name);
        index = index_resolve(index, length);
        per = elems_per_message(ctl, t);
        buf = malloc((size_t) (count ? count : 1) * t->size);
        if (!buf) {
                ctl_error("out of memory");
                return CTL_EXIT_FAILED;
        }
        /* A run longer than one message is read in pieces; each piece is atomic on its own. */
        for (uint64_t done = 0; done < count || (count == 0 && done == 0); ) {
                uint32_t k = count - done > per ? per : (uint32_t) (count - done);

                r = mpx_array_get(ctl->m, a.name, t->code, index + (int64_t) done, k, buf + done * t->size);
                if (r < 0) {
                        free(buf);
                        return array_fail(r, "array", a.name);
                }
                done += k;
                if (count == 0)
                        break;
        }
        elems_print(ctl, t, buf, (size_t) count, false);
        free(buf);
        return CTL_EXIT_OK;
}

/* mpxctl array set NAME INDEX VALUES... [--bytes] */
static int array_set_cmd(struct ctl *ctl, int argc, char **argv) {
        const struct typecode *t = NULL;
        uint8_t *values = NULL;
        int64_t index = 0;
        uint32_t length = 0;
        struct ctl_args a;
        size_t n = 0;
        int r;

        r = array_parse(ctl, argc, argv, bytes_options, 1, -1, &a);
        if (r == CTL_EXIT_OK)
                r = parse_index(ctl, a.pos[0], &index);
        if (r == CTL_EXIT_OK && a.n < 2 && !ctl_given(&a, 'b'))
                r = ctl_usage_error(ctl, "missing argument");
        if (r == CTL_EXIT_OK)
                r = array_lookup(ctl, "array", a.name, false, &t, &length);
        if (r == CTL_EXIT_OK)
                r = elems_collect(ctl, t, a.pos + 1, a.n - 1, ctl_given(&a, 'b'), length, &values, &n);
        if (r == CTL_EXIT_OK)
                r = elems_store(ctl, "array", a.name, t, index_resolve(index, length), values, n);
        free(values);
        return r;
}

const struct ctl_command ctl_value_commands[] = {
        { "declare", "NAME TYPECODE [INITIAL] [--durable]",
          "create a typed value (0 when no INITIAL), or check that it exists so", value_declare, NULL },
        { "get", "NAME", "print the value", value_cmd, NULL },
        { "set", "NAME VALUE", "store a value", value_cmd, NULL },
        { "add", "NAME DELTA", "add atomically and print the new value", add_cmd, NULL },
        { "cas", "NAME EXPECTED NEW", "store NEW if the value is EXPECTED; print the value after", cas_cmd,
          NULL },
        { NULL, NULL, NULL, NULL, NULL },
};

const struct ctl_command ctl_array_commands[] = {
        { "declare", "NAME TYPECODE LENGTH [VALUES...] [--bytes] [--durable]",
          "create a typed array (zeros after the VALUES given), or check that it exists so",
          array_declare_cmd, NULL },
        { "get", "NAME [INDEX [COUNT]]", "print the whole array, one element, or COUNT from INDEX",
          array_get_cmd, NULL },
        { "set", "NAME INDEX VALUES... [--bytes]", "store elements from INDEX", array_set_cmd, NULL },
        { "add", "NAME INDEX DELTA", "add atomically to one element and print its new value", add_cmd,
          NULL },
        { "cas", "NAME INDEX EXPECTED NEW", "store NEW if the element is EXPECTED; print it after",
          cas_cmd, NULL },
        { NULL, NULL, NULL, NULL, NULL },
};
