/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int event_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int event_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int event_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int event_handle_is_set(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int event_handle_wait(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int event_declare(const char *name, size_t len) {
        return -EOPNOTSUPP;
}
