/* SPDX-License-Identifier: MIT */
#include "mpx-redis.h"

const struct redis_op redis_dict_ops[] = {
        { 0, NULL },
};
