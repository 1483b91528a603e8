/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int pipe_handle_open(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}
