/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int sem_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int sem_handle_acquire(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int sem_handle_release(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int sem_handle_value(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

void sem_client_lost(struct client *c) {
}

int sem_declare(const char *name, size_t len, uint64_t value, uint64_t max, uint32_t flags) {
        return -EOPNOTSUPP;
}
