/* SPDX-License-Identifier: MIT */
/* Private temporary folders of the test programs (see temp-dir.h). */
#include "temp-dir.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

char *temp_dir_make(char *dir, size_t size, const char *prefix) {
        const char *tmp = getenv("TMPDIR");
        int n = snprintf(dir, size, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", prefix);

        if (n < 0 || (size_t) n >= size) {
                errno = ENAMETOOLONG;
                return NULL;
        }
        return mkdtemp(dir);
}

int temp_dir_remove(const char *dir) {
        char cmd[PATH_MAX + 16];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        return system(cmd);
}
