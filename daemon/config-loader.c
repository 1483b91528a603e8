/* SPDX-License-Identifier: MIT */
/*
 * The loader of mpxd's configuration: errors collected with their file,
 * line and setting and reported in the order of the file, and the readers of
 * typed values (integers, sizes, booleans, modes, users and groups) that
 * record what was expected when a value does not fit. config.c reads the
 * sections with them, config-objects.c the objects.
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

void loader_done(struct loader *l) {
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

/* An integer setting in [min, max]; false (and an error) otherwise. */
bool get_uint(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret) {
        long long v;

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
        char digits[32], *end;
        unsigned long m;

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
        uint64_t v = 0;

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
        fail_at(l, s, "expected 0 or a size from %llu to %llu bytes: an integer, or a string with an optional K, M "
                "or G suffix such as \"512M\"", (unsigned long long) min, (unsigned long long) max);
        return false;
}
