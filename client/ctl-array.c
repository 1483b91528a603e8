/* SPDX-License-Identifier: MIT */
/* Work in progress. */
#include "mpxctl.h"

const struct ctl_command ctl_value_commands[] = {
        { NULL, NULL, NULL, NULL, NULL },
};
const struct ctl_command ctl_array_commands[] = {
        { NULL, NULL, NULL, NULL, NULL },
};
