/* SPDX-License-Identifier: MIT */
/* How many descriptors the test process has open (see open-fds.h). */
#include "open-fds.h"

#include <dirent.h>

int open_fds_count(void) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        int n = 0;

        if (!d)
                return -1;
        while ((e = readdir(d)))
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n - 1;           /* the directory's own descriptor */
}
