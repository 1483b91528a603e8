/* SPDX-License-Identifier: MIT */
/* Work in progress. */
int main(void) { return 0; }
