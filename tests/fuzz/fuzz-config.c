/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the configuration file (daemon/config.c): each input is written
 * as mpxd.conf in a directory of its own and read with config_load, as
 * `mpxd --check-config` and a reload read it. A file that is refused must
 * say why (the errors are not empty); a file that is accepted has its
 * objects declared in a fresh daemon state, as at start, and then
 * everything is freed for LeakSanitizer to check.
 *
 * Two things are kept from the daemon: inputs that contain "@include" are
 * skipped (the file could include /dev/zero, an operator's mistake and not
 * the daemon's), and so are the configured pools (declaring one starts its
 * workers: a fuzzer must never start processes) and values and arrays of
 * more than 4095 elements (a fully allocated memfd of up to 1 GiB each).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "configfile.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "fuzz.h"
#include "fuzz-support.h"

#define ARRAY_LENGTH_MAX 0x0fffu

static char dir[FUZZ_DIR_MAX];

static _Noreturn void fuzz_fail(const char *what) {
        fprintf(stderr, "fuzz-config: %s\n", what);
        abort();
}

/*
 * libconfig 1.5, the version of Debian 12, leaks the tokens it was reading
 * when a syntax error follows them: the scanner's string buffer
 * (strbuf_append) and the strings it made (libconfig_yylex) are discarded
 * without being freed (hyperrealm/libconfig#142, fixed in 1.7.3). A refused
 * file costs mpxd a few hundred bytes, in the library; the fuzzer finds
 * variants of it within seconds. LeakSanitizer is told to leave memory that
 * libconfig allocated alone, and reports every leak of mpx's own code.
 */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
        return "leak:libconfig.so\n";
}

static bool contains(const uint8_t *data, size_t size, const char *s) {
        size_t n = strlen(s);

        for (size_t i = 0; i + n <= size; i++)
                if (memcmp(data + i, s, n) == 0)
                        return true;
        return false;
}

/* Declare what the configuration declares, as mpxd does at start. */
static void declare_objects(const struct config *c) {
        if (mpxd_init() < 0)
                fuzz_fail("mpxd_init failed");
        for (size_t i = 0; i < c->n_objects; i++) {
                const struct config_object *o = &c->objects[i];

                if (o->type == WIRE_TYPE_POOL || o->length > ARRAY_LENGTH_MAX)
                        continue;
                (void) config_declare(o);
        }
        object_delete_all(-ESHUTDOWN);
        mpxd_done();
        if (mpxd.n_users != 0 || mpxd.bytes_held != 0)
                fuzz_fail("bytes or users are still charged after every object went away");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[FUZZ_DIR_MAX + 16];
        struct config *c = NULL;
        char *errors = NULL;
        int fd, r;

        if (!dir[0]) {
                log_set_level(LOG_LEVEL_ERR);
                fuzz_dir_make(dir, "mpx-fuzz-config");
        }
        if (contains(data, size, "@include"))
                return 0;
        snprintf(path, sizeof(path), "%s/mpxd.conf", dir);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || (size && write(fd, data, size) != (ssize_t) size) || close(fd) < 0)
                fuzz_fail("cannot write the configuration file");
        r = config_load(path, true, &c, &errors);
        if (r < 0) {
                if (r == -EINVAL && (!errors || !*errors))
                        fuzz_fail("a configuration was refused without saying why");
                free(errors);
                return 0;
        }
        if (errors)
                fuzz_fail("errors came with an accepted configuration");
        declare_objects(c);
        config_free(c);
        return 0;
}
