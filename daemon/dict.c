/* SPDX-License-Identifier: MIT */
/* Work in progress: every request is answered EOPNOTSUPP until this file is written. */
#include <errno.h>

#include "mpxd.h"

int dict_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_get(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_del(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_contains(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_len(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_items(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_pop(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_setdefault(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_update(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_incr(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_handle_cas(struct client *c, const struct request *req, struct wire_reader *r) {
        return -EOPNOTSUPP;
}

int dict_declare(const char *name, size_t len) {
        return -EOPNOTSUPP;
}
