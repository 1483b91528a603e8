/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of mpxd's configuration file (daemon/config.c): the defaults
 * without a file, every setting read into struct config, command-line
 * overrides, the shipped conf/mpxd.conf, and every kind of error, each
 * checked against its whole message: file, line, setting and what was
 * expected. Declaring configured objects is checked against a daemon state
 * without sockets (mpxd_init), including the object limit.
 *
 * Each test writes its files into a temporary folder of its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "configfile.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "queue.h"
#include "temp-dir.h"
#include "text-file.h"

struct fixture {
        char dir[256];
        char path[300];                 /* dir/mpxd.conf */
        struct config *c;
        char *errors;
};

static int setup(void **state) {
        struct fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        assert_non_null(temp_dir_make(f->dir, sizeof(f->dir), "mpx-config"));
        snprintf(f->path, sizeof(f->path), "%s/mpxd.conf", f->dir);
        assert_int_equal(mpxd_init(), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        struct fixture *f = *state;

        config_free(f->c);
        free(f->errors);
        mpxd_done();
        assert_int_equal(temp_dir_remove(f->dir), 0);
        free(f);
        return 0;
}

/* Write text as the fixture's configuration file. */
static void write_file(struct fixture *f, const char *text) {
        text_file_write(f->path, "%s", text);
}

/* Load the fixture's file, which must be valid. */
static struct config *load_ok(struct fixture *f, const char *text) {
        int r;

        write_file(f, text);
        config_free(f->c);
        f->c = NULL;
        /* The messages of a load_bad() before. */
        free(f->errors);
        f->errors = NULL;
        r = config_load(f->path, true, &f->c, &f->errors);
        if (r < 0)
                fail_msg("config_load: %s: %s", strerror(-r), f->errors ? f->errors : "(no message)");
        assert_null(f->errors);
        return f->c;
}

/*
 * Load text, which must be refused with -EINVAL and exactly the expected
 * messages: one line each, "LINE: SETTING: MESSAGE" after the file's path.
 */
#define load_bad(f, text, ...) load_bad_at(__FILE__, __LINE__, f, text, __VA_ARGS__, NULL)
static void load_bad_at(const char *file, int line, struct fixture *f, const char *text, ...) {
        char want[4096] = "";
        size_t len = 0;
        const char *e;
        va_list ap;
        int r;

        va_start(ap, text);
        while ((e = va_arg(ap, const char *)))
                len += (size_t) snprintf(want + len, sizeof(want) - len, "%s%s:%s", len ? "\n" : "", f->path, e);
        va_end(ap);
        write_file(f, text);
        free(f->errors);
        f->errors = NULL;
        r = config_load(f->path, true, &f->c, &f->errors);
        if (r != -EINVAL || !f->errors || strcmp(f->errors, want) != 0) {
                print_error("config_load returned %d\n--- got:\n%s\n--- expected:\n%s\n", r,
                            f->errors ? f->errors : "(none)", want);
                _fail(file, line);
        }
}

/* ---- defaults, files ---- */

static void test_defaults_without_file(void **state) {
        struct fixture *f = *state;

        assert_int_equal(config_load(f->path, false, &f->c, &f->errors), 0);
        assert_null(f->errors);
        assert_null(f->c->path);
        assert_string_equal(f->c->socket_path, "/run/mpxd/mpxd.sock");
        assert_int_equal(f->c->socket_mode, 0660);
        assert_int_equal(f->c->socket_gid, (gid_t) -1);
        assert_int_equal(f->c->log_level, LOG_LEVEL_INFO);
        assert_int_equal(f->c->max_message, WIRE_DEFAULT_MAX_MESSAGE);
        assert_int_equal(f->c->max_clients, CONFIG_DEFAULT_MAX_CLIENTS);
        assert_int_equal(f->c->max_objects, CONFIG_DEFAULT_MAX_OBJECTS);
        assert_int_equal(f->c->max_memory, 0);
        assert_int_equal(f->c->max_output, CONFIG_DEFAULT_MAX_OUTPUT);
        assert_int_equal(f->c->max_waiters_per_client, 0);
        assert_int_equal(f->c->per_user.max_memory, 0);
        assert_int_equal(f->c->per_user.max_objects, 0);
        assert_int_equal(f->c->per_user.max_clients, 0);
        assert_int_equal(f->c->per_user.max_waiters, 0);
        assert_int_equal(f->c->per_user.max_workers, CONFIG_DEFAULT_MAX_WORKERS);
        assert_int_equal(f->c->n_objects, 0);
        /* Durability is off until a directory is configured. */
        assert_null(f->c->durability_dir);
        assert_int_equal(f->c->durability_sync, JOURNAL_SYNC_EVERYSEC);
        assert_false(f->c->durability_default);
        assert_int_equal(f->c->compact_size, JOURNAL_DEFAULT_COMPACT_SIZE);
}

/* The durability group and the durable key of objects. */
static void test_durability(void **state) {
        struct fixture *f = *state;
        struct config *c;

        c = load_ok(f, "durability = { directory = \"/var/lib/x\"; sync = \"always\"; default = true;\n"
                    "  compact_size = 8192; };\nobjects = { queues = ( { name = \"q\"; durable = true; } );\n"
                    "  dicts = ( \"plain\", { name = \"d\"; durable = true; } ); };\n");
        assert_string_equal(c->durability_dir, "/var/lib/x");
        assert_int_equal(c->durability_sync, JOURNAL_SYNC_ALWAYS);
        assert_true(c->durability_default);
        assert_int_equal(c->compact_size, 8192);
        assert_int_equal(c->n_objects, 3);
        assert_true(c->objects[0].durable);
        assert_false(c->objects[1].durable);
        assert_true(c->objects[2].durable);
        c = load_ok(f, "durability = { sync = \"no\"; };\n");
        assert_null(c->durability_dir);
        assert_int_equal(c->durability_sync, JOURNAL_SYNC_NO);
        load_bad(f, "durability = { directory = \"relative\"; sync = \"sometimes\"; compact_size = 10; };\n",
                 "1: durability.directory: expected an absolute path, got \"relative\"",
                 "1: durability.sync: expected one of \"always\", \"everysec\", \"no\", got \"sometimes\"",
                 "1: durability.compact_size: expected an integer from 4096 to 9223372036854775807, got 10");
        load_bad(f, "objects = {\n  dicts = ( { name = \"d\"; durable = true; } ); };\n",
                 "2: objects: \"d\" is durable; expected durability.directory to be set");
        load_bad(f, "objects = { events = ( { name = \"e\"; durable = true; } ); };\n",
                 "1: objects.events[0].durable: unknown setting; expected one of name, owner, group, mode");
}

static void test_empty_file_is_defaults(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f, "# nothing but a comment\n");

        assert_string_equal(c->path, f->path);
        assert_string_equal(c->socket_path, "/run/mpxd/mpxd.sock");
        assert_int_equal(c->n_objects, 0);
}

static void test_missing_required_file(void **state) {
        struct fixture *f = *state;
        char want[400];

        assert_int_equal(config_load(f->path, true, &f->c, &f->errors), -ENOENT);
        snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", f->path);
        assert_string_equal(f->errors, want);
        assert_null(f->c);
}

static void test_directory_is_refused(void **state) {
        struct fixture *f = *state;
        char want[400];

        assert_int_equal(config_load(f->dir, false, &f->c, &f->errors), -EISDIR);
        snprintf(want, sizeof(want), "%s: cannot read: Is a directory; expected a file", f->dir);
        assert_string_equal(f->errors, want);
}

static void test_unreadable_file(void **state) {
        struct fixture *f = *state;

        if (geteuid() == 0)
                skip();         /* root reads anything */
        write_file(f, "log = { level = \"debug\"; };\n");
        assert_int_equal(chmod(f->path, 0), 0);
        assert_int_equal(config_load(f->path, false, &f->c, &f->errors), -EACCES);
        assert_non_null(strstr(f->errors, ": cannot open: Permission denied"));
}

/* ---- every setting ---- */

static void test_every_setting(void **state) {
        struct fixture *f = *state;
        const struct config_object *o;
        struct config *c = load_ok(f,
                "socket = { path = \"/tmp/x/mpxd.sock\"; mode = \"0600\"; group = \"0\"; };\n"
                "log = { level = \"debug\"; };\n"
                "limits = { max_message = 1000; max_clients = 10; max_objects = 20; };\n"
                "objects = {\n"
                "  queues = ( { name = \"jobs\"; maxsize = 100; joinable = true; },\n"
                "             { name = \"plain\"; } );\n"
                "  semaphores = ( { name = \"db\"; value = 3; max = 5; undo = false; },\n"
                "                 { name = \"lock\"; bounded = true; },\n"
                "                 { name = \"free\"; value = 7; } );\n"
                "  dicts = ( \"config\", { name = \"cache\"; } );\n"
                "  lists = [ \"log\" ];\n"
                "  events = ( \"go\" );\n"
                "  barriers = ( { name = \"start\"; parties = 4; } );\n"
                "  values = ( { name = \"counter\"; typecode = \"i\"; initial = 5000; },\n"
                "             { name = \"ratio\"; typecode = \"d\"; initial = 0.5; },\n"
                "             { name = \"zero\"; typecode = \"Q\"; } );\n"
                "  arrays = ( { name = \"hello\"; typecode = \"c\"; initial = \"Hello\"; },\n"
                "             { name = \"grid\"; typecode = \"h\"; length = 4; initial = [ 1, -2 ]; },\n"
                "             { name = \"big\"; typecode = \"q\"; length = 1000; } );\n"
                "};\n");
        int32_t i32;
        double d;
        int16_t h[4];

        assert_string_equal(c->socket_path, "/tmp/x/mpxd.sock");
        assert_int_equal(c->socket_mode, 0600);
        assert_int_equal(c->socket_gid, 0);
        assert_string_equal(c->socket_group, "0");
        assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
        assert_int_equal(c->max_message, 1000);
        assert_int_equal(c->max_clients, 10);
        assert_int_equal(c->max_objects, 20);
        assert_int_equal(c->n_objects, 16);

        o = &c->objects[0];
        assert_string_equal(o->name, "jobs");
        assert_int_equal(o->name_len, 4);
        assert_int_equal(o->type, WIRE_TYPE_JOINABLE);
        assert_int_equal(o->maxsize, 100);
        assert_int_equal(o->line, 5);
        o = &c->objects[1];
        assert_string_equal(o->name, "plain");
        assert_int_equal(o->type, WIRE_TYPE_QUEUE);
        assert_int_equal(o->maxsize, 0);
        assert_int_equal(o->line, 6);

        o = &c->objects[2];
        assert_string_equal(o->name, "db");
        assert_int_equal(o->type, WIRE_TYPE_SEMAPHORE);
        assert_int_equal(o->value, 3);
        assert_int_equal(o->max, 5);
        assert_int_equal(o->flags, WIRE_SEM_BOUNDED | WIRE_SEM_NO_UNDO);
        o = &c->objects[3];
        assert_string_equal(o->name, "lock");
        assert_int_equal(o->value, 1);
        assert_int_equal(o->max, 1);
        assert_int_equal(o->flags, WIRE_SEM_BOUNDED);
        o = &c->objects[4];
        assert_string_equal(o->name, "free");
        assert_int_equal(o->value, 7);
        assert_int_equal(o->max, 0);
        assert_int_equal(o->flags, 0);

        assert_string_equal(c->objects[5].name, "config");
        assert_int_equal(c->objects[5].type, WIRE_TYPE_DICT);
        assert_string_equal(c->objects[6].name, "cache");
        assert_int_equal(c->objects[6].type, WIRE_TYPE_DICT);
        assert_string_equal(c->objects[7].name, "log");
        assert_int_equal(c->objects[7].type, WIRE_TYPE_LIST);
        assert_string_equal(c->objects[8].name, "go");
        assert_int_equal(c->objects[8].type, WIRE_TYPE_EVENT);
        assert_string_equal(c->objects[9].name, "start");
        assert_int_equal(c->objects[9].type, WIRE_TYPE_BARRIER);
        assert_int_equal(c->objects[9].parties, 4);

        o = &c->objects[10];
        assert_string_equal(o->name, "counter");
        assert_int_equal(o->type, WIRE_TYPE_VALUE);
        assert_int_equal(o->typecode, 'i');
        assert_int_equal(o->length, 1);
        assert_int_equal(o->flags, WIRE_ARRAY_VALUE);
        memcpy(&i32, o->initial, sizeof(i32));
        assert_int_equal(i32, 5000);
        o = &c->objects[11];
        memcpy(&d, o->initial, sizeof(d));
        assert_true(d == 0.5);
        assert_null(c->objects[12].initial);
        assert_int_equal(c->objects[12].typecode, 'Q');

        o = &c->objects[13];
        assert_string_equal(o->name, "hello");
        assert_int_equal(o->type, WIRE_TYPE_ARRAY);
        assert_int_equal(o->flags, 0);
        assert_int_equal(o->length, 5);
        assert_memory_equal(o->initial, "Hello", 5);
        o = &c->objects[14];
        assert_int_equal(o->length, 4);
        memcpy(h, o->initial, sizeof(h));
        assert_int_equal(h[0], 1);
        assert_int_equal(h[1], -2);
        assert_int_equal(h[2], 0);
        assert_int_equal(h[3], 0);
        o = &c->objects[15];
        assert_string_equal(o->name, "big");
        assert_int_equal(o->length, 1000);
        assert_null(o->initial);
}

static void test_group_by_name(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f, "socket = { group = \"root\"; };\n");

        assert_int_equal(c->socket_gid, 0);
        assert_string_equal(c->socket_group, "root");
}

static void test_int64_values(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f, "objects = { queues = ( { name = \"q\"; maxsize = 5000000000L; } ); };\n");

        assert_int_equal(c->objects[0].maxsize, 5000000000ULL);
}

/*
 * An integer over 32 bits without the L suffix: libconfig 1.5 keeps it cut
 * to 32 bits (4294967296 as 0, 4296015872 as 1048576) and does not say so.
 * It is refused with what was written and, where the setting takes such
 * values, what to write; never taken as its cut value.
 */
static void test_int_without_suffix(void **state) {
        struct fixture *f = *state;
        struct config *c;

        load_bad(f, "durability = { compact_size = 4294967296; };\n",
                 "1: durability.compact_size: expected an integer from 4096 to 9223372036854775807, got 4294967296 "
                 "without the L suffix that integers over 2147483647 need: write 4294967296L");
        load_bad(f, "durability = {\n  compact_size = 4296015872;\n};\n"
                    "limits = { max_clients = 4294967297; max_memory = 0x100000000; };\n"
                    "permissions = { default_mode = 4294967296; };\n",
                 "2: durability.compact_size: expected an integer from 4096 to 9223372036854775807, got 4296015872 "
                 "without the L suffix that integers over 2147483647 need: write 4296015872L",
                 "4: limits.max_clients: expected an integer from 1 to 1000000, got 4294967297",
                 "4: limits.max_memory: expected 0 or a size from 1 to 1125899906842624 bytes: an integer, or a "
                 "string with an optional K, M or G suffix such as \"512M\", got 0x100000000 without the L suffix "
                 "that integers over 2147483647 need: write 0x100000000L",
                 "5: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got 4294967296");
        /* Another setting of the same name on the line is read as libconfig read it. */
        load_bad(f, "objects = { queues = ( { name = \"a\"; maxsize = -4294967296; },\n"
                    "  { name = \"b\"; maxsize = 8589934592; }, { name = \"c\"; maxsize = 5; } ); };\n",
                 "1: objects.queues[0].maxsize: expected an integer from 0 to 9223372036854775807, got -4294967296",
                 "2: objects.queues[1].maxsize: expected an integer from 0 to 9223372036854775807, got 8589934592 "
                 "without the L suffix that integers over 2147483647 need: write 8589934592L");
        load_bad(f, "objects = { values = ( { name = \"q\"; typecode = \"q\"; initial = 4294967296; },\n"
                    "  { name = \"d\"; typecode = \"d\"; initial = 4294967296; },\n"
                    "  { name = \"i\"; typecode = \"i\"; initial = 4294967296; } ); };\n",
                 "1: objects.values[0].initial: expected an integer from -9223372036854775808 to "
                 "9223372036854775807 for type code 'q', got 4294967296 without the L suffix that integers over "
                 "2147483647 need: write 4294967296L",
                 "2: objects.values[1].initial: expected a number, got 4294967296 without the L suffix that "
                 "integers over 2147483647 need: write 4294967296L",
                 "3: objects.values[2].initial: expected an integer from -2147483648 to 2147483647 for type code "
                 "'i', got 4294967296");
        c = load_ok(f, "durability = { compact_size = 4294967296L; };\n"
                       "objects = { queues = ( { name = \"q\"; maxsize = 2147483647; } );\n"
                       "  values = ( { name = \"v\"; typecode = \"q\"; initial = 4294967296L; } ); };\n");
        assert_int_equal(c->compact_size, UINT64_C(4294967296));
        assert_int_equal(c->objects[0].maxsize, 2147483647);
        assert_int_equal(*(int64_t *) c->objects[1].initial, INT64_C(4294967296));
}

static void test_include(void **state) {
        struct fixture *f = *state;
        char inc[320];
        struct config *c;

        snprintf(inc, sizeof(inc), "%s/limits.conf", f->dir);
        text_file_write(inc, "limits = { max_clients = 7; };\n");
        c = load_ok(f, "@include \"limits.conf\"\n");
        assert_int_equal(c->max_clients, 7);
}

static void test_shipped_file(void **state) {
        struct fixture *f = *state;
        const char *path = getenv("MPX_CONF");
        int r;

        if (!path)
                skip();
        r = config_load(path, true, &f->c, &f->errors);
        if (r < 0)
                fail_msg("%s: %s", path, f->errors ? f->errors : strerror(-r));
        /* Every setting is shown commented out, with its default. */
        assert_string_equal(f->c->socket_path, "/run/mpxd/mpxd.sock");
        assert_int_equal(f->c->max_message, WIRE_DEFAULT_MAX_MESSAGE);
        assert_int_equal(f->c->n_objects, 0);
        /* The one setting that is not commented out: the service's StateDirectory. */
        assert_string_equal(f->c->durability_dir, "/var/lib/mpx");
}

/* ---- overrides ---- */

static void test_overrides(void **state) {
        struct fixture *f = *state;
        struct config_overrides o;
        struct config *c = load_ok(f,
                "socket = { path = \"/tmp/a.sock\"; mode = \"0600\"; };\n"
                "log = { level = \"debug\"; };\n"
                "limits = { max_message = 1000; max_clients = 10; max_objects = 20; };\n");

        /* Nothing given: the file stands. */
        config_overrides_init(&o);
        assert_int_equal(config_override(c, &o, &f->errors), 0);
        assert_string_equal(c->socket_path, "/tmp/a.sock");
        assert_int_equal(c->log_level, LOG_LEVEL_DEBUG);
        assert_int_equal(c->max_clients, 10);

        o.socket_path = "/tmp/b.sock";
        o.socket_mode = 0666;
        o.socket_group = "root";
        o.log_level = LOG_LEVEL_WARNING;
        o.max_message = 2000;
        o.max_clients = 30;
        o.max_objects = 40;
        assert_int_equal(config_override(c, &o, &f->errors), 0);
        assert_null(f->errors);
        assert_string_equal(c->socket_path, "/tmp/b.sock");
        assert_int_equal(c->socket_mode, 0666);
        assert_int_equal(c->socket_gid, 0);
        assert_int_equal(c->log_level, LOG_LEVEL_WARNING);
        assert_int_equal(c->max_message, 2000);
        assert_int_equal(c->max_clients, 30);
        assert_int_equal(c->max_objects, 40);

        config_overrides_init(&o);
        o.socket_group = "no-such-group-of-mpx";
        assert_int_equal(config_override(c, &o, &f->errors), -EINVAL);
        assert_string_equal(f->errors,
                            "--socket-group: 'no-such-group-of-mpx' is not the name or number of an existing group");
}

/* ---- errors, each with its message ---- */

static void test_syntax_error(void **state) {
        load_bad(*state, "limits = {\n  max_clients = = 3;\n};\n",
                 "2: syntax error; expected libconfig syntax: name = value; groups in { }, lists in ( )");
        /* libconfig notices an unterminated string where the file ends. */
        load_bad(*state, "objects = {\n  queues = ( { name = \"unterminated; } );\n};\n",
                 "4: syntax error; expected libconfig syntax: name = value; groups in { }, lists in ( )");
}

static void test_unknown_settings(void **state) {
        load_bad(*state, "sockets = { };\nlimits = { max_bytes = 5; };\nlog = { level = \"info\"; colour = true; };\n",
                 "1: sockets: unknown setting; expected one of socket, log, limits, permissions, durability, objects, "
                 "admin_group, pool_user",
                 "2: limits.max_bytes: unknown setting; expected one of max_message, max_clients, max_objects, "
                 "max_memory, max_output, max_waiters_per_client, per_user",
                 "3: log.colour: unknown setting; expected one of level");
}

static void test_section_not_a_group(void **state) {
        load_bad(*state, "limits = 5;\nobjects = ( );\n",
                 "1: limits: expected a group in braces, such as limits = { ... };, got 5",
                 "2: objects: expected a group in braces, such as objects = { ... };, got a list");
}

static void test_bad_socket(void **state) {
        struct fixture *f = *state;
        char text[400];

        load_bad(f, "socket = {\n path = \"relative.sock\";\n mode = 660;\n group = \"no-such-group-of-mpx\";\n};\n",
                 "2: socket.path: expected an absolute path of at most 107 bytes, got \"relative.sock\"",
                 "3: socket.mode: expected an octal mode from \"0000\" to \"0777\" in quotes, such as \"0660\", got 660",
                 "4: socket.group: expected the name or number of an existing group, got \"no-such-group-of-mpx\"");
        load_bad(f, "socket = { mode = \"0999\"; path = 5; };\n",
                 "1: socket.path: expected an absolute path in quotes, got 5",
                 "1: socket.mode: expected an octal mode from \"0000\" to \"0777\" in quotes, such as \"0660\", got \"0999\"");
        /* A long value is cut at 64 characters in the message. */
        snprintf(text, sizeof(text), "socket = { path = \"/%0120d\"; };\n", 0);
        load_bad(f, text, "1: socket.path: expected an absolute path of at most 107 bytes, got "
                 "\"/000000000000000000000000000000000000000000000000000000000000000...\"");
}

static void test_bad_log_level(void **state) {
        load_bad(*state, "log = { level = \"verbose\"; };\n",
                 "1: log.level: expected one of \"error\", \"warning\", \"notice\", \"info\", \"debug\", got \"verbose\"");
}

static void test_bad_limits(void **state) {
        load_bad(*state,
                 "limits = {\n  max_message = 0;\n  max_clients = 1.5;\n  max_objects = \"many\";\n};\n",
                 "2: limits.max_message: expected an integer from 1 to 16776192, got 0",
                 "3: limits.max_clients: expected an integer from 1 to 1000000, got 1.5",
                 "4: limits.max_objects: expected an integer from 1 to 100000000, got \"many\"");
        load_bad(*state, "limits = { max_clients = -3; max_message = true; };\n",
                 "1: limits.max_message: expected an integer from 1 to 16776192, got true",
                 "1: limits.max_clients: expected an integer from 1 to 1000000, got -3");
}

/* Sizes: integers, or strings with K, M or G; the quotas of each uid. */
static void test_memory_limits(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f,
                "limits = { max_memory = \"2G\"; max_output = 1048576; max_waiters_per_client = 7;\n"
                "  per_user = { max_memory = \"64m\"; max_objects = 5; max_clients = 3; max_waiters = 9;\n"
                "    max_workers = 0; };\n"
                "};\n");

        assert_int_equal(c->max_memory, UINT64_C(2) << 30);
        assert_int_equal(c->max_output, 1048576);
        assert_int_equal(c->max_waiters_per_client, 7);
        assert_int_equal(c->per_user.max_memory, UINT64_C(64) << 20);
        assert_int_equal(c->per_user.max_objects, 5);
        assert_int_equal(c->per_user.max_clients, 3);
        assert_int_equal(c->per_user.max_waiters, 9);
        /* 0 is no quota, as for the others. */
        assert_int_equal(c->per_user.max_workers, 0);
        c = load_ok(f, "limits = { max_memory = 10000000000L; max_output = \"512K\"; per_user = { }; };\n");
        assert_int_equal(c->max_memory, UINT64_C(10000000000));
        assert_int_equal(c->max_output, 512 * 1024);
        assert_int_equal(c->per_user.max_memory, 0);
        assert_int_equal(c->per_user.max_workers, CONFIG_DEFAULT_MAX_WORKERS);
        c = load_ok(f, "limits = { max_memory = \"0\"; max_output = 0; };\n");
        assert_int_equal(c->max_memory, 0);
        assert_int_equal(c->max_output, 0);
}

static void test_bad_memory_limits(void **state) {
        load_bad(*state,
                 "limits = {\n  max_memory = \"12X\";\n  max_output = 1000;\n  max_waiters_per_client = -1;\n"
                 "  per_user = 5;\n};\n",
                 "2: limits.max_memory: expected 0 or a size from 1 to 1125899906842624 bytes: an integer, or a "
                 "string with an optional K, M or G suffix such as \"512M\", got \"12X\"",
                 "3: limits.max_output: expected 0 or a size from 65536 to 1125899906842624 bytes: an integer, or a "
                 "string with an optional K, M or G suffix such as \"512M\", got 1000",
                 "4: limits.max_waiters_per_client: expected an integer from 0 to 100000000, got -1",
                 "5: limits.per_user: expected a group in braces, such as per_user = { max_memory = \"64M\"; }, "
                 "got 5");
        load_bad(*state,
                 "limits = { per_user = {\n  max_memory = \"M\";\n  max_objects = -1;\n  max_cpu = 3;\n"
                 "  max_waiters = \"x\";\n  max_clients = 1.5;\n}; };\n",
                 "2: limits.per_user.max_memory: expected 0 or a size from 1 to 1125899906842624 bytes: an integer, "
                 "or a string with an optional K, M or G suffix such as \"512M\", got \"M\"",
                 "3: limits.per_user.max_objects: expected an integer from 0 to 100000000, got -1",
                 "4: limits.per_user.max_cpu: unknown setting; expected one of max_memory, max_objects, max_clients, "
                 "max_waiters, max_workers",
                 "5: limits.per_user.max_waiters: expected an integer from 0 to 100000000, got \"x\"",
                 "6: limits.per_user.max_clients: expected an integer from 0 to 1000000, got 1.5");
        load_bad(*state, "limits = { max_memory = \"2000000G\"; };\n",
                 "1: limits.max_memory: expected 0 or a size from 1 to 1125899906842624 bytes: an integer, or a "
                 "string with an optional K, M or G suffix such as \"512M\", got \"2000000G\"");
}

static void test_too_many_objects(void **state) {
        load_bad(*state,
                 "limits = {\n  max_objects = 1;\n};\nobjects = { dicts = ( \"a\", \"b\" ); };\n",
                 "2: limits.max_objects: expected at least the 2 objects this file declares, got 1");
}

static void test_bad_object_lists(void **state) {
        load_bad(*state,
                 "objects = {\n  queues = \"jobs\";\n  tables = ( );\n  dicts = ( 5 );\n  barriers = ( \"b\" );\n};\n",
                 "2: objects.queues: expected a list in parentheses, such as ( { name = \"x\"; } ), got \"jobs\"",
                 "3: objects.tables: unknown setting; expected one of queues, semaphores, dicts, lists, events, "
                 "barriers, values, arrays, pools",
                 "4: objects.dicts[0]: expected a dict's name in quotes or a group such as { name = \"x\"; }, got 5",
                 "5: objects.barriers[0]: expected a group such as { name = \"x\"; ... } for each barrier, got \"b\"");
}

static void test_bad_names(void **state) {
        load_bad(*state,
                 "objects = {\n"
                 "  queues = ( { maxsize = 3; },\n"
                 "             { name = \"bad name\"; },\n"
                 "             { name = \"jobs\"; size = 3; } );\n"
                 "  dicts = ( \"jobs\" );\n"
                 "};\n",
                 "2: objects.queues[0].name: missing; expected the object's name in quotes",
                 "3: objects.queues[1].name: expected a name of 1 to 255 characters from A-Z a-z 0-9 . _ : / @ -, "
                 "got \"bad name\"",
                 "4: objects.queues[2].size: unknown setting; expected one of name, maxsize, joinable, durable, owner, group, mode",
                 "5: objects.dicts[0]: \"jobs\" is already declared at line 4; expected a name no other object has");
}

static void test_bad_queue(void **state) {
        load_bad(*state, "objects = { queues = (\n { name = \"q\"; maxsize = -1; joinable = 1; }\n); };\n",
                 "2: objects.queues[0].maxsize: expected an integer from 0 to 9223372036854775807, got -1",
                 "2: objects.queues[0].joinable: expected true or false, got 1");
}

static void test_bad_semaphores(void **state) {
        load_bad(*state,
                 "objects = { semaphores = (\n"
                 "  { name = \"a\"; value = 5; max = 3; },\n"
                 "  { name = \"b\"; max = 3; bounded = false; },\n"
                 "  { name = \"c\"; max = 0; },\n"
                 "  { name = \"d\"; undo = \"yes\"; }\n"
                 "); };\n",
                 "2: objects.semaphores[0].value: expected at most max (3) for a bounded semaphore, got 5",
                 "3: objects.semaphores[1].max: a bound is for a bounded semaphore; expected no max with "
                 "bounded = false",
                 "4: objects.semaphores[2].max: expected an integer from 1 to 9223372036854775807, got 0",
                 "5: objects.semaphores[3].undo: expected true or false, got \"yes\"");
}

static void test_bad_barriers(void **state) {
        load_bad(*state, "objects = { barriers = (\n { name = \"a\"; },\n { name = \"b\"; parties = 0; }\n); };\n",
                 "2: objects.barriers[0].parties: missing; expected the number of parties, from 1 to 4294967295",
                 "3: objects.barriers[1].parties: expected an integer from 1 to 4294967295, got 0");
}

static void test_bad_values(void **state) {
        load_bad(*state,
                 "objects = { values = (\n"
                 "  { name = \"a\"; },\n"
                 "  { name = \"b\"; typecode = \"x\"; },\n"
                 "  { name = \"c\"; typecode = \"b\"; initial = 200; },\n"
                 "  { name = \"d\"; typecode = \"c\"; initial = \"xy\"; },\n"
                 "  { name = \"e\"; typecode = \"d\"; initial = \"1.5\"; },\n"
                 "  { name = \"f\"; typecode = \"I\"; initial = 1.5; },\n"
                 "  { name = \"g\"; typecode = \"H\"; initial = 65535; length = 2; }\n"
                 "); };\n",
                 "2: objects.values[0].typecode: missing; expected one of \"b\", \"B\", \"h\", \"H\", \"i\", \"I\", "
                 "\"l\", \"L\", \"q\", \"Q\", \"f\", \"d\", \"c\"",
                 "3: objects.values[1].typecode: expected one of \"b\", \"B\", \"h\", \"H\", \"i\", \"I\", \"l\", "
                 "\"L\", \"q\", \"Q\", \"f\", \"d\", \"c\", got \"x\"",
                 "4: objects.values[2].initial: expected an integer from -128 to 127 for type code 'b', got 200",
                 "5: objects.values[3].initial: expected one character in quotes, such as \"x\", got \"xy\"",
                 "6: objects.values[4].initial: expected a number, got \"1.5\"",
                 "7: objects.values[5].initial: expected an integer for type code 'I', got 1.5",
                 "8: objects.values[6].length: unknown setting; expected one of name, typecode, initial, durable, owner, group, "
                 "mode");
}

static void test_bad_arrays(void **state) {
        load_bad(*state,
                 "objects = { arrays = (\n"
                 "  { name = \"a\"; typecode = \"i\"; },\n"
                 "  { name = \"b\"; typecode = \"i\"; length = 2; initial = [ 1, 2, 3 ]; },\n"
                 "  { name = \"c\"; typecode = \"B\"; initial = ( 1, 256 ); },\n"
                 "  { name = \"d\"; typecode = \"i\"; initial = \"abc\"; },\n"
                 "  { name = \"e\"; typecode = \"i\"; length = 0; },\n"
                 "  { name = \"f\"; typecode = \"i\"; initial = [ ]; }\n"
                 "); };\n",
                 "2: objects.arrays[0].length: missing; expected the number of elements (or an initial list of them)",
                 "3: objects.arrays[1].initial: 3 elements do not fit; expected at most length (2)",
                 "4: objects.arrays[2].initial[1]: expected an integer from 0 to 255 for type code 'B', got 256",
                 "5: objects.arrays[3].initial: expected a list of elements such as [1, 2, 3], got \"abc\"",
                 "6: objects.arrays[4].length: expected an integer from 1 to 4294967295, got 0",
                 "7: objects.arrays[5].initial: expected at least one element, got an array");
}

/* ---- declaring ---- */

static void test_declare(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f, "objects = { queues = ( { name = \"jobs\"; maxsize = 3; } );"
                                      " dicts = ( \"d\" ); };\n");
        struct config_object changed;

        assert_int_equal(config_declare(&c->objects[0]), 1);
        assert_int_equal(config_declare(&c->objects[0]), 0);
        assert_non_null(object_find("jobs", 4));
        changed = c->objects[0];
        changed.maxsize = 4;
        assert_int_equal(config_declare(&changed), -EEXIST);
        changed.type = WIRE_TYPE_JOINABLE;
        assert_int_equal(config_declare(&changed), -EPROTOTYPE);

        /* At the object limit, only what exists may be declared again. */
        mpxd.max_objects = 1;
        assert_int_equal(config_declare(&c->objects[1]), -EUSERS);
        assert_int_equal(config_declare(&c->objects[0]), 0);
        assert_int_equal(queue_declare("other", 5, 0, false), -EUSERS);
        mpxd.max_objects = 2;
        assert_int_equal(config_declare(&c->objects[1]), 1);
        assert_int_equal(mpxd.n_objects, 2);
}

/* ---- permissions ---- */

static void test_permissions(void **state) {
        struct fixture *f = *state;
        struct config *c = load_ok(f, "");

        assert_int_equal(c->default_mode, 0660);
        c = load_ok(f, "permissions = { default_mode = \"0640\"; };\n");
        assert_int_equal(c->default_mode, 0640);
        /* libconfig reads 0604 as 604: its digits are read again as octal, as chmod would. */
        c = load_ok(f, "permissions = { default_mode = 0604; };\n");
        assert_int_equal(c->default_mode, 0604);
        c = load_ok(f, "permissions = { default_mode = 7777; };\n");
        assert_int_equal(c->default_mode, 07777);
        c = load_ok(f, "objects = {\n"
                       " dicts = ( { name = \"d\"; owner = \"root\"; group = \"0\"; mode = \"0600\"; }, \"plain\" );\n"
                       " queues = ( { name = \"q\"; owner = \"0\"; mode = 644; } );\n"
                       " pools = ( { name = \"p\"; command = [ \"true\" ]; group = \"root\"; } );\n"
                       "};\n");
        assert_int_equal(c->n_objects, 4);
        for (size_t i = 0; i < c->n_objects; i++) {
                const struct config_object *o = &c->objects[i];

                if (strcmp(o->name, "d") == 0)
                        assert_true(o->uid == 0 && o->gid == 0 && o->mode == 0600);
                else if (strcmp(o->name, "plain") == 0)
                        assert_true(o->uid == (uid_t) -1 && o->gid == (gid_t) -1 && o->mode == -1);
                else if (strcmp(o->name, "q") == 0)
                        assert_true(o->uid == 0 && o->gid == (gid_t) -1 && o->mode == 0644);
                else
                        assert_true(o->uid == (uid_t) -1 && o->gid == 0 && o->mode == -1);
        }
}

static void test_bad_permissions(void **state) {
        /* The unknown setting is reported, and the bad mode after it. */
        load_bad(*state, "permissions = {\n umask = 2;\n default_mode = \"0800\";\n};\n",
                 "2: permissions.umask: unknown setting; expected one of default_mode",
                 "3: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got \"0800\"");
        load_bad(*state, "permissions = {\n default_mode = 10000;\n};\n",
                 "2: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got 10000");
        load_bad(*state, "permissions = { default_mode = 68; };\n",
                 "1: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got 68");
        /* A hex integer is not read as its decimal digits in octal (0x1B0 is 432, not 0432). */
        load_bad(*state, "permissions = { default_mode = 0x1B0; };\n",
                 "1: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got 432");
        load_bad(*state, "permissions = { default_mode = true; };\n",
                 "1: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got true");
        load_bad(*state, "permissions = { default_mode = \"-1\"; };\n",
                 "1: permissions.default_mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got \"-1\"");
        load_bad(*state, "objects = { dicts = (\n"
                         " { name = \"a\"; owner = \"no-such-user-of-mpx\"; },\n"
                         " { name = \"b\"; group = \"no-such-group-of-mpx\"; },\n"
                         " { name = \"c\"; mode = \"rw\"; owner = 5; }\n"
                         "); };\n",
                 "2: objects.dicts[0].owner: expected the name or number of an existing user, got "
                 "\"no-such-user-of-mpx\"",
                 "3: objects.dicts[1].group: expected the name or number of an existing group, got "
                 "\"no-such-group-of-mpx\"",
                 "4: objects.dicts[2].owner: expected a user name or number in quotes, got 5",
                 "4: objects.dicts[2].mode: expected an octal mode from \"0000\" to \"7777\", such as \"0660\" "
                 "or 0660, got \"rw\"");
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        const struct CMUnitTest tests[] = {
                T(test_defaults_without_file),
                T(test_empty_file_is_defaults),
                T(test_missing_required_file),
                T(test_directory_is_refused),
                T(test_unreadable_file),
                T(test_every_setting),
                T(test_group_by_name),
                T(test_int64_values),
                T(test_int_without_suffix),
                T(test_include),
                T(test_shipped_file),
                T(test_durability),
                T(test_overrides),
                T(test_syntax_error),
                T(test_unknown_settings),
                T(test_section_not_a_group),
                T(test_bad_socket),
                T(test_bad_log_level),
                T(test_bad_limits),
                T(test_memory_limits),
                T(test_bad_memory_limits),
                T(test_too_many_objects),
                T(test_bad_object_lists),
                T(test_bad_names),
                T(test_bad_queue),
                T(test_bad_semaphores),
                T(test_bad_barriers),
                T(test_bad_values),
                T(test_bad_arrays),
                T(test_declare),
                T(test_permissions),
                T(test_bad_permissions),
        };

        /* Only errors reach the log, and there are none here. */
        log_set_level(LOG_LEVEL_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
