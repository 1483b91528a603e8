/* SPDX-License-Identifier: MIT */
/*
 * The loader of mpxd's configuration: errors collected with their file,
 * line and setting and reported in the order of the file, and the readers of
 * typed values (integers, sizes, booleans, modes, users and groups) that
 * record what was expected when a value does not fit. An integer written
 * over 32 bits without the L suffix, which libconfig keeps cut to 32 bits, is
 * caught by reading its line again. config.c reads the sections with them,
 * config-objects.c the objects.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config-loader.h"
#include "perm.h"

/* ---- messages ---- */

/* The dotted path of a setting: "objects.queues[2].maxsize". */
void setting_path(const config_setting_t *s, char *buf, size_t size) {
        const config_setting_t *chain[16];
        size_t n = 0, len = 0;

        for (; s && config_setting_parent(s) && n < ARRAY_SIZE(chain); s = config_setting_parent(s))
                chain[n++] = s;
        buf[0] = '\0';
        while (n-- > 0 && len < size) {
                const char *name = config_setting_name(chain[n]);
                int w;

                if (name)
                        w = snprintf(buf + len, size - len, "%s%s", len ? "." : "", name);
                else
                        w = snprintf(buf + len, size - len, "[%d]", config_setting_index(chain[n]));
                if (w < 0)
                        break;
                len += (size_t) w;
        }
}

/* How a value reads in a message: 12, "text", 1.5, true, a group ... */
void describe_value(const config_setting_t *s, char *buf, size_t size) {
        switch (config_setting_type(s)) {
        case CONFIG_TYPE_INT:
                snprintf(buf, size, "%d", config_setting_get_int(s));
                break;
        case CONFIG_TYPE_INT64:
                snprintf(buf, size, "%lld", config_setting_get_int64(s));
                break;
        case CONFIG_TYPE_FLOAT:
                snprintf(buf, size, "%g", config_setting_get_float(s));
                break;
        case CONFIG_TYPE_STRING:
                snprintf(buf, size, "\"%.64s%s\"", config_setting_get_string(s),
                         strlen(config_setting_get_string(s)) > 64 ? "..." : "");
                break;
        case CONFIG_TYPE_BOOL:
                snprintf(buf, size, "%s", config_setting_get_bool(s) ? "true" : "false");
                break;
        case CONFIG_TYPE_GROUP:
                snprintf(buf, size, "a group");
                break;
        case CONFIG_TYPE_ARRAY:
                snprintf(buf, size, "an array");
                break;
        case CONFIG_TYPE_LIST:
                snprintf(buf, size, "a list");
                break;
        default:
                snprintf(buf, size, "nothing");
                break;
        }
}

/* Record one error: "FILE:LINE: SETTING: MESSAGE". */
void loader_error(struct loader *l, const char *file, unsigned line, const char *setting, const char *fmt, ...) {
        struct loader_error *grown;
        char msg[1024], where[16] = "";
        va_list ap;
        char *text;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        /* Line 0 is the file as a whole (it cannot be opened). */
        if (line > 0)
                snprintf(where, sizeof(where), ":%u", line);
        if (asprintf(&text, "%s%s: %s%s%s", file ? file : l->path, where, setting && *setting ? setting : "",
                     setting && *setting ? ": " : "", msg) < 0) {
                l->oom = true;
                return;
        }
        grown = realloc(l->errors, (l->n_errors + 1) * sizeof(*grown));
        if (!grown) {
                free(text);
                l->oom = true;
                return;
        }
        l->errors = grown;
        l->errors[l->n_errors] = (struct loader_error) { .line = line, .seq = l->n_errors, .text = text };
        l->n_errors++;
}

static int loader_error_compare(const void *a, const void *b) {
        const struct loader_error *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The errors, one per line in the order of the file, as one string (free it); NULL when out of memory. */
char *loader_take_errors(struct loader *l) {
        size_t len = 0, off = 0;
        char *all;

        qsort(l->errors, l->n_errors, sizeof(*l->errors), loader_error_compare);
        for (unsigned i = 0; i < l->n_errors; i++)
                len += strlen(l->errors[i].text) + 1;
        all = malloc(len + 1);
        if (all) {
                for (unsigned i = 0; i < l->n_errors; i++)
                        off += (size_t) sprintf(all + off, "%s%s", i ? "\n" : "", l->errors[i].text);
                all[off] = '\0';
        }
        return all;
}

static void source_close(struct loader_source *src) {
        if (src->f)
                fclose(src->f);
        free(src->file);
        free(src->text);
        *src = (struct loader_source) { 0 };
}

void loader_done(struct loader *l) {
        source_close(&l->source);
        for (unsigned i = 0; i < l->n_errors; i++)
                free(l->errors[i].text);
        free(l->errors);
        l->errors = NULL;
        l->n_errors = 0;
}

/* The file a setting comes from (an @include may have brought it). */
const char *setting_file(struct loader *l, const config_setting_t *s) {
        const char *f = config_setting_source_file(s);

        return f ? f : l->path;
}

/* An error about a setting missing from group. */
void fail_missing(struct loader *l, const config_setting_t *group, const char *key, const char *expected) {
        char path[256], full[300];

        setting_path(group, path, sizeof(path));
        snprintf(full, sizeof(full), "%s%s%s", path, *path ? "." : "", key);
        loader_error(l, setting_file(l, group), config_setting_source_line(group), full,
                     "missing; expected %s", expected);
}

/* ---- values ---- */

/* Check that every setting of group is one of allowed (NULL-terminated). */
void check_keys(struct loader *l, const config_setting_t *group, const char *const *allowed) {
        int n = config_setting_length(group);

        for (int i = 0; i < n; i++) {
                const config_setting_t *s = config_setting_get_elem(group, (unsigned) i);
                const char *name = config_setting_name(s);
                char list[256] = "";
                size_t len = 0;
                bool known = false;

                for (size_t k = 0; allowed[k]; k++) {
                        if (name && strcmp(name, allowed[k]) == 0)
                                known = true;
                        len += (size_t) snprintf(list + len, len < sizeof(list) ? sizeof(list) - len : 0,
                                                 "%s%s", k ? ", " : "", allowed[k]);
                }
                if (!known)
                        fail_about(l, s, "unknown setting; expected one of %s", list);
        }
}

/* ---- integers over 32 bits ---- */

/* A character of a setting's name, as libconfig's grammar has them. */
static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
               c == '-' || c == '*';
}

/*
 * Line number line (from 1) of file, NULL when it cannot be read. Settings
 * come mostly in the order of the file, so the file stays open and is read
 * forward; it is read again from its start only to go back.
 */
static const char *source_line(struct loader_source *src, const char *file, unsigned line) {
        if (line == 0)
                return NULL;
        if (src->f && strcmp(src->file, file) != 0)
                source_close(src);
        if (!src->f) {
                src->file = strdup(file);
                src->f = src->file ? fopen(file, "re") : NULL;
                if (!src->f) {
                        source_close(src);
                        return NULL;
                }
        }
        if (line < src->line) {
                rewind(src->f);
                src->line = 0;
        }
        while (src->line < line) {
                if (getline(&src->text, &src->size, src->f) < 0) {
                        source_close(src);
                        return NULL;
                }
                src->line++;
        }
        return src->text;
}

/*
 * Whether the integer literal at p does not fit an int, has no L suffix and
 * comes out of such a cut as stored: then it is what the setting was written
 * as, and it goes to buf.
 */
static bool literal_is_cut(const char *p, int stored, char *buf, size_t size) {
        const char *start = p, *digits;
        unsigned long long v;
        bool hex, negative;
        size_t n;

        negative = *p == '-';
        if (*p == '-' || *p == '+')
                p++;
        hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        digits = hex ? p + 2 : p;
        n = strspn(digits, hex ? "0123456789abcdefABCDEF" : "0123456789");
        if (n == 0 || digits[n] == 'L' || (size_t) (digits + n - start) >= size)
                return false;
        errno = 0;
        v = strtoull(digits, NULL, hex ? 16 : 10);
        /* Past 64 bits nothing is left to compare: the literal is wrong whatever was stored. */
        if (errno != ERANGE) {
                if (hex ? v <= UINT32_MAX : v <= (negative ? (unsigned long long) INT_MAX + 1 : INT_MAX))
                        return false;
                if ((uint32_t) (negative ? 0 - v : v) != (uint32_t) stored)
                        return false;
        }
        snprintf(buf, size, "%.*s", (int) (digits + n - start), start);
        return true;
}

/*
 * libconfig 1.5 reads an integer literal that does not fit 32 bits, written
 * without the L suffix, as an int cut to 32 bits (4294967296 as 0,
 * 4296015872 as 1048576) and keeps no trace of it. So the setting's line is
 * read again and its literal found after its name. True, and the literal in
 * buf, when it was cut. A setting without a name (an element of an array)
 * cannot be found again; it is taken as libconfig read it.
 */
static bool int_was_cut(struct loader *l, const config_setting_t *s, char *buf, size_t size) {
        const char *name = config_setting_name(s), *text;
        size_t n;

        if (config_setting_type(s) != CONFIG_TYPE_INT || !name)
                return false;
        text = source_line(&l->source, setting_file(l, s), config_setting_source_line(s));
        if (!text)
                return false;
        n = strlen(name);
        for (const char *p = strstr(text, name); p; p = strstr(p + 1, name)) {
                const char *q = p + n;

                if ((p > text && is_name_char(p[-1])) || is_name_char(*q))
                        continue;
                q += strspn(q, " \t");
                if (*q != '=' && *q != ':')
                        continue;
                q += 1 + strspn(q + 1, " \t");
                if (literal_is_cut(q, config_setting_get_int(s), buf, size))
                        return true;
        }
        return false;
}

/*
 * When libconfig cut the integer literal of s: an error with what was
 * expected and what was written, and how to write it when the setting takes
 * integers that large (max); true. False when s was read as written.
 */
bool fail_if_cut(struct loader *l, const config_setting_t *s, uint64_t max, const char *expected) {
        char literal[32];

        if (!int_was_cut(l, s, literal, sizeof(literal)))
                return false;
        if (literal[0] != '-' && max > INT_MAX)
                fail_about(l, s, "%s, got %s without the L suffix that integers over %d need: write %sL", expected,
                           literal, INT_MAX, literal);
        else
                fail_about(l, s, "%s, got %s", expected, literal);
        return true;
}

/* ---- the readers ---- */

/* An integer setting in [min, max]; false (and an error) otherwise. */
bool get_uint(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char expected[96];
        long long v;

        snprintf(expected, sizeof(expected), "expected an integer from %llu to %llu", (unsigned long long) min,
                 (unsigned long long) max);
        if (fail_if_cut(l, s, max, expected))
                return false;
        if (config_setting_type(s) != CONFIG_TYPE_INT && config_setting_type(s) != CONFIG_TYPE_INT64) {
                fail_at(l, s, "expected an integer from %llu to %llu", (unsigned long long) min,
                        (unsigned long long) max);
                return false;
        }
        v = config_setting_get_int64(s);
        if (v < 0 || (uint64_t) v < min || (uint64_t) v > max) {
                fail_at(l, s, "expected an integer from %llu to %llu", (unsigned long long) min,
                        (unsigned long long) max);
                return false;
        }
        *ret = (uint64_t) v;
        return true;
}

/* A boolean setting. */
bool get_bool(struct loader *l, const config_setting_t *s, bool *ret) {
        if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
                fail_at(l, s, "expected true or false");
                return false;
        }
        *ret = config_setting_get_bool(s);
        return true;
}

/* A string setting. */
const char *get_string(struct loader *l, const config_setting_t *s, const char *expected) {
        if (config_setting_type(s) != CONFIG_TYPE_STRING) {
                fail_at(l, s, "expected %s", expected);
                return NULL;
        }
        return config_setting_get_string(s);
}

int get_choice(struct loader *l, const config_setting_t *s, int (*from_string)(const char *), const char *expected) {
        int v = config_setting_type(s) == CONFIG_TYPE_STRING ? from_string(config_setting_get_string(s)) : -EINVAL;

        if (v < 0) {
                fail_at(l, s, "expected %s", expected);
                return -1;
        }
        return v;
}

bool get_group(struct loader *l, const config_setting_t *s, const char **ret_name, gid_t *ret_gid) {
        const char *v = get_string(l, s, "a group name or number in quotes");

        if (!v)
                return false;
        if (resolve_group(v, ret_gid) < 0) {
                fail_at(l, s, "expected the name or number of an existing group");
                return false;
        }
        *ret_name = v;
        return true;
}

const struct passwd *get_user(struct loader *l, const config_setting_t *s, struct passwd *pw, char *buf,
                              size_t size) {
        const char *v = get_string(l, s, "a user name or number in quotes");
        struct passwd *res = NULL;

        if (!v)
                return NULL;
        if (resolve_user(v, pw, buf, size, &res) < 0) {
                fail_at(l, s, "expected the name or number of an existing user");
                return NULL;
        }
        return res;
}

int set_string(char **field, const char *s) {
        char *p = strdup(s);

        if (!p)
                return -ENOMEM;
        free(*field);
        *field = p;
        return 0;
}

/* Resolve a group name or number; 0 and *ret, or -ENOENT. */
int resolve_group(const char *name, gid_t *ret) {
        struct group gr, *res = NULL;
        char buf[4096], *end;
        unsigned long id;

        errno = 0;
        id = strtoul(name, &end, 10);
        if (*name && !*end && name[0] != '-' && !errno && id < (gid_t) -1) {
                *ret = (gid_t) id;
                return 0;
        }
        if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
                return -ENOENT;
        *ret = res->gr_gid;
        return 0;
}

/* Resolve a user name or number; 0 and *ret_pw (its strings in buf), or -ENOENT. */
int resolve_user(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **ret_pw) {
        struct passwd *res = NULL;
        char *end;
        unsigned long id;

        errno = 0;
        id = strtoul(name, &end, 10);
        if (*name && !*end && name[0] != '-' && !errno && id < (uid_t) -1) {
                if (getpwuid_r((uid_t) id, pw, buf, size, &res) != 0 || !res)
                        return -ENOENT;
        } else if (getpwnam_r(name, pw, buf, size, &res) != 0 || !res)
                return -ENOENT;
        *ret_pw = res;
        return 0;
}

/*
 * An object mode: an octal string ("0640") or an integer written in octal
 * digits (0640; libconfig reads it as decimal 640, so its digits are read
 * again as octal), at most 07777 as chmod(2) takes.
 */
bool get_mode(struct loader *l, const config_setting_t *s, unsigned *ret) {
        const char *expected = "an octal mode from \"0000\" to \"7777\", such as \"0660\" or 0660";
        char digits[32], what[96], *end;
        unsigned long m;

        snprintf(what, sizeof(what), "expected %s", expected);
        if (fail_if_cut(l, s, PERM_MODE_MASK, what))
                return false;
        if (config_setting_type(s) == CONFIG_TYPE_STRING)
                snprintf(digits, sizeof(digits), "%s", config_setting_get_string(s));
        /* A hex integer (0x1B0) has no octal digits to read again: refused rather than misread. */
        else if ((config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) &&
                 config_setting_get_format(s) != CONFIG_FORMAT_HEX)
                snprintf(digits, sizeof(digits), "%lld", config_setting_get_int64(s));
        else
                digits[0] = '\0';
        errno = 0;
        m = strtoul(digits, &end, 8);
        if (!digits[0] || *end || errno || digits[0] == '-' || digits[0] == '+' || m > PERM_MODE_MASK) {
                fail_at(l, s, "expected %s", expected);
                return false;
        }
        *ret = (unsigned) m;
        return true;
}

/*
 * A size in bytes: an integer, or a string of digits with an optional K, M
 * or G suffix (powers of 1024), such as "512M"; 0, or from min to max.
 */
bool get_size(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret) {
        char expected[192];
        uint64_t v = 0;

        snprintf(expected, sizeof(expected), "expected 0 or a size from %llu to %llu bytes: an integer, or a "
                 "string with an optional K, M or G suffix such as \"512M\"", (unsigned long long) min,
                 (unsigned long long) max);
        if (fail_if_cut(l, s, max, expected))
                return false;
        if (config_setting_type(s) == CONFIG_TYPE_INT || config_setting_type(s) == CONFIG_TYPE_INT64) {
                long long n = config_setting_get_int64(s);

                if (n < 0)
                        goto bad;
                v = (uint64_t) n;
        } else if (config_setting_type(s) == CONFIG_TYPE_STRING) {
                const char *p = config_setting_get_string(s);
                unsigned shift = 0;

                if (!*p)
                        goto bad;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (v > (UINT64_MAX - 9) / 10)
                                goto bad;
                        v = v * 10 + (uint64_t) (*p - '0');
                }
                if (*p == 'K' || *p == 'k')
                        shift = 10;
                else if (*p == 'M' || *p == 'm')
                        shift = 20;
                else if (*p == 'G' || *p == 'g')
                        shift = 30;
                if (shift)
                        p++;
                if (*p || p == config_setting_get_string(s) + (shift ? 1 : 0) || v > (max >> shift))
                        goto bad;
                v <<= shift;
        } else
                goto bad;
        if (v != 0 && (v < min || v > max))
                goto bad;
        *ret = v;
        return true;
bad:
        fail_at(l, s, "%s", expected);
        return false;
}
