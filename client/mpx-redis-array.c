/* SPDX-License-Identifier: MIT */
#include "mpx-redis.h"

const struct redis_op redis_array_ops[] = {
        { 0, NULL },
};
