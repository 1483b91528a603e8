/* SPDX-License-Identifier: MIT */
/*
 * The entry point every fuzz harness defines: libFuzzer calls it once per
 * input, and so does the replay driver (replay.c), which runs the seed
 * corpus and the regression inputs in `make check` without libFuzzer.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Run one input; always returns 0 (a bug is a crash or a sanitizer report). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
