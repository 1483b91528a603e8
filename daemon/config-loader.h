/* SPDX-License-Identifier: MIT */
/*
 * What the files that read mpxd's configuration share (config-loader.c):
 * the loader, which collects every error with its file, line and setting,
 * and the readers of typed values that report a wrong value through it.
 * Private to config.c and config-objects.c; configfile.h is the interface.
 */
#pragma once

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <libconfig.h>

#include "configfile.h"
#include "macros.h"

/* One error found in a file; they are reported in the order of their lines. */
struct loader_error {
        unsigned line;
        unsigned seq;                   /* order of discovery, among errors of one line */
        char *text;
};

/* A file read again line by line, forward, to see how a value was written (config-loader.c). */
struct loader_source {
        char *file;                     /* the file open in f */
        FILE *f;
        unsigned line;                  /* the number of the line in text; 0 before the first */
        char *text;
        size_t size;
};

/* Reading one file: the configuration being built and the errors found. */
struct loader {
        const char *path;
        struct config *c;
        struct loader_error *errors;
        unsigned n_errors;
        bool oom;                       /* an error could not be recorded */
        struct loader_source source;
};

/* The dotted path of a setting: "objects.queues[2].maxsize". */
void setting_path(const config_setting_t *s, char *buf, size_t size);
/* The setting's value as the file wrote it, for messages. */
void describe_value(const config_setting_t *s, char *buf, size_t size);
/* Record one error: "FILE:LINE: SETTING: MESSAGE". */
void loader_error(struct loader *l, const char *file, unsigned line, const char *setting, const char *fmt, ...)
        _printf_(5, 6);
/* The errors, one per line in the order of the file, as one string (free it); NULL when out of memory. */
char *loader_take_errors(struct loader *l);
void loader_done(struct loader *l);
/* The file a setting comes from (an @include may have brought it). */
const char *setting_file(struct loader *l, const config_setting_t *s);

/* An error about a setting that is there; ", got VALUE" is appended. */
#define fail_at(l, s, fmt, ...)                                                                 \
        do {                                                                                    \
                char _path[256], _got[96];                                                      \
                setting_path((s), _path, sizeof(_path));                                        \
                describe_value((s), _got, sizeof(_got));                                        \
                loader_error((l), setting_file((l), (s)), config_setting_source_line(s), _path,  \
                             fmt ", got %s", ##__VA_ARGS__, _got);                              \
        } while (0)

/* An error about a setting that is there, without its value. */
#define fail_about(l, s, fmt, ...)                                                              \
        do {                                                                                    \
                char _path[256];                                                                \
                setting_path((s), _path, sizeof(_path));                                        \
                loader_error((l), setting_file((l), (s)), config_setting_source_line(s), _path,  \
                             fmt, ##__VA_ARGS__);                                               \
        } while (0)

/* An error about a setting missing from group. */
void fail_missing(struct loader *l, const config_setting_t *group, const char *key, const char *expected);
/* Check that every setting of group is one of allowed (NULL-terminated). */
void check_keys(struct loader *l, const config_setting_t *group, const char *const *allowed);
/*
 * When libconfig cut the integer literal of s to 32 bits (one over 2147483647
 * without the L suffix): an error saying expected, what was written and, when
 * max is over 32 bits, how to write it; true. False when s was read as written.
 */
bool fail_if_cut(struct loader *l, const config_setting_t *s, uint64_t max, const char *expected);
/* The readers of one value: true and *ret, or false with an error recorded. */
bool get_uint(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret);
bool get_bool(struct loader *l, const config_setting_t *s, bool *ret);
const char *get_string(struct loader *l, const config_setting_t *s, const char *expected);
bool get_mode(struct loader *l, const config_setting_t *s, unsigned *ret);
/*
 * One of a few words, which from_string turns into its value: that value
 * (0 or more), or -1 with "expected EXPECTED" recorded.
 */
int get_choice(struct loader *l, const config_setting_t *s, int (*from_string)(const char *), const char *expected);
/* Replace the string *field with a copy of s: 0, or -ENOMEM with *field as it was. */
int set_string(char **field, const char *s);
/* A size in bytes: an integer, or digits with an optional K, M or G suffix; 0, or from min to max. */
bool get_size(struct loader *l, const config_setting_t *s, uint64_t min, uint64_t max, uint64_t *ret);
/* A group by name or number: true, the name as written and its gid, or false with an error recorded. */
bool get_group(struct loader *l, const config_setting_t *s, const char **ret_name, gid_t *ret_gid);
/* A user by name or number, looked up into pw and buf: its entry, or NULL with an error recorded. */
const struct passwd *get_user(struct loader *l, const config_setting_t *s, struct passwd *pw, char *buf,
                              size_t size);
/* A group or user by name or number: 0, or a negative errno. */
int resolve_group(const char *name, gid_t *ret);
int resolve_user(const char *name, struct passwd *pw, char *buf, size_t size, struct passwd **ret_pw);

/* The "objects" section (config-objects.c). */
void load_objects(struct loader *l, const config_setting_t *g);
