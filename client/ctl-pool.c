/* SPDX-License-Identifier: MIT */
/* Work in progress. */
#include "mpxctl.h"

const struct ctl_command ctl_pool_commands[] = {
        { NULL, NULL, NULL, NULL, NULL },
};
