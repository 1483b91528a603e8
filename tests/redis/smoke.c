/* SPDX-License-Identifier: MIT */
/* What the Redis backend's end-to-end programs share (see smoke.h). */
#include "smoke.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>

#include "monotonic.h"

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

int smoke_loop_until(mpx *m, const int *done, int want) {
        int64_t deadline = monotonic_ms() + 10000;

        while (*done < want && monotonic_ms() < deadline) {
                struct pollfd p = { .fd = mpx_fd(m), .events = (short) mpx_events(m) };

                if (poll(&p, 1, 100) < 0)
                        return 0;
                if (p.revents & POLLOUT)
                        mpx_send(m);
                if (p.revents & (POLLIN | POLLERR | POLLHUP))
                        mpx_process(m);
        }
        return *done >= want;
}

int smoke_end(void) {
        if (failures)
                printf("%d failed\n", failures);
        else
                printf("all passed\n");
        return failures != 0;
}
