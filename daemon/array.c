/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int array_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_handle_add(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_handle_cas(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_handle_map(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int array_declare(const char *name, size_t len, char typecode, uint32_t length, uint32_t flags,
                  const void *initial) {
        return -EOPNOTSUPP;
}
