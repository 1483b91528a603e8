/* SPDX-License-Identifier: MIT */
/*
 * struct client as client.c sees it: the part shared with the other modules
 * (client.h's struct client_shared) first, then the socket, the buffers and
 * the flags of the state machine, which are client.c's alone. Only client.c
 * includes this header, and the unit tests, which look at a client's
 * buffers and flags from outside.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "client.h"
#include "wire.h"

struct out_fd;

struct client {
        struct client_shared shared;    /* first: client_shared() is a cast */
        int fd;                         /* -1 for a client without a socket (unit tests) */
        gid_t *groups;                  /* supplementary groups when it connected */
        size_t n_groups;
        bool groups_known;              /* false: the peer's groups could not be read (socketless) */
        char name[64];                  /* from HELLO */
        char comm[16];                  /* /proc/PID/comm when it connected */

        struct event ev_read;
        struct event ev_write;
        bool write_armed;

        struct wire_buf in;             /* unparsed input */
        struct wire_buf out;            /* replies not yet written, from out_off */
        size_t out_off;
        TAILQ_HEAD(, out_fd) out_fds;   /* descriptors to send with replies */
        unsigned n_out_fds;
        uint64_t out_written;           /* bytes of replies the kernel accepted */

        bool paused;                    /* too much unsent: its requests wait in in, unread */
        bool dispatching;               /* one of its own requests is being handled */
        bool is_dirty;                  /* on the dirty list: output to write once the event is handled */
        bool held;                      /* on the held list: replies wait for journal records */
        uint64_t requests;
        uint64_t connected_ms;
        uint64_t active_ms;             /* last request */

        TAILQ_ENTRY(client) link;
        TAILQ_ENTRY(client) dirty_link;
        TAILQ_ENTRY(client) held_link;
};
