/* SPDX-License-Identifier: MIT */
/* What the Redis backend's end-to-end programs share (see smoke.h). */
#include "smoke.h"

#include <stdlib.h>

int failures;

mpx *smoke_connect(const char *address) {
        mpx *m = NULL;
        int r = mpx_connect(address, &m);

        if (r < 0) {
                fprintf(stderr, "connect %s: %s\n", address, strerror(-r));
                exit(2);
        }
        return m;
}

int smoke_end(void) {
        if (failures)
                printf("%d failed\n", failures);
        else
                printf("all passed\n");
        return failures != 0;
}
