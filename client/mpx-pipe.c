/* SPDX-License-Identifier: MIT */
/* Work in progress. */
#include "mpx-internal.h"
