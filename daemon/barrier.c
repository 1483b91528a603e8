/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int barrier_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int barrier_handle_wait(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int barrier_handle_reset(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int barrier_handle_abort(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int barrier_declare(const char *name, size_t len, uint32_t parties) {
        return -EOPNOTSUPP;
}
