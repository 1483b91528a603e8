/* SPDX-License-Identifier: MIT */
/* Work in progress. */
#include "mpxctl.h"

const struct ctl_command ctl_event_commands[] = {
        { NULL, NULL, NULL, NULL, NULL },
};
const struct ctl_command ctl_barrier_commands[] = {
        { NULL, NULL, NULL, NULL, NULL },
};
