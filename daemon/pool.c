/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int pool_handle_start(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int pool_handle_scale(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int pool_handle_signal(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int pool_handle_stop(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}
