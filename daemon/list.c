/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int list_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_append(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_extend(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_insert(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_pop(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_remove(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_index(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_len(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_slice(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int list_declare(const char *name, size_t len) {
        return -EOPNOTSUPP;
}
