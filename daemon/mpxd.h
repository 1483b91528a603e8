/* SPDX-License-Identifier: MIT */
/*
 * The core of mpxd: its process-wide state (struct mpxd, server.c) and its
 * clock. Each module has a header of its own (client.h, object.h, wait.h,
 * queue.h ...); a file includes the ones it uses.
 *
 * mpxd is one thread and one libevent loop: nothing here locks.
 *
 * Lifetimes in one paragraph: a client owns its buffers and is freed from a
 * deferred event after it is lost; an object owns its items and its waiters'
 * pending data; a waiter is linked into its object's wait list and its
 * client's list at once, and only wait.c links or unlinks it.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "configfile.h"

struct client;
struct event;
struct event_base;
struct object;
struct refusal;
struct user;

struct mpxd {
        struct event_base *base;

        /* limits announced in HELLO */
        uint32_t max_message;           /* bytes in one payload */
        uint32_t max_frame;             /* bytes in one frame body */

        /* listener */
        const char *socket_path;
        unsigned socket_mode;
        int listen_fd;
        int lock_fd;
        bool socket_owned;              /* we bound it, so we unlink it */
        struct event *ev_listen;
        struct event *ev_signals[4];

        TAILQ_HEAD(, client) clients;
        TAILQ_HEAD(, client) dirty;     /* clients with output to flush */
        TAILQ_HEAD(, client) held;      /* clients whose output waits for the journal */
        unsigned n_clients;
        uint64_t next_client_id;

        /* objects: by name, and in creation order for listing */
        struct object *objects;         /* uthash head */
        TAILQ_HEAD(, object) objects_ordered;
        unsigned n_objects;
        uint64_t next_serial;

        unsigned n_waiters;
        uint64_t requests;
        uint64_t requests_by_family[10];        /* by opcode / 100: session, admin, queue ... */
        uint64_t started_ms;
        bool stopping;

        /* configuration: config.c reads it, server.c applies it */
        const char *config_path;        /* read at start and on SIGHUP */
        bool config_required;           /* given with -c: a missing file is an error */
        struct config_overrides overrides;
        struct config *config;          /* in force */
        uint32_t max_clients;
        uint32_t max_objects;
        uint64_t max_memory;            /* 0: unlimited */
        uint64_t max_output;
        uint32_t max_waiters_per_client; /* 0: unlimited */
        struct user_limits per_user;
        gid_t socket_gid;               /* (gid_t) -1: leave the socket's group alone */

        /* memory: bytes every object holds (payload and per-element overhead), kept on add and remove */
        uint64_t bytes_held;
        struct user *users;             /* uthash by uid: every uid with something charged */
        unsigned n_users;
        /* connections over max_clients, waiting to be told EUSERS */
        TAILQ_HEAD(, refusal) refusals;
        unsigned n_refusals;
        uint64_t refused;               /* since start, for the log */
        uint64_t refused_logged_ms;
        /*
         * Out of descriptors (server.c): one held in reserve to accept a
         * client and refuse it EUSERS; accepting paused meanwhile.
         */
        int reserve_fd;
        bool accept_paused;
        struct event *ev_accept_resume;
        uint64_t fd_shortages;          /* accept() failures for want of descriptors, since start */
        uint64_t fd_refused;            /* clients refused EUSERS for it, since start */
        uint64_t fd_logged_ms, fd_shortages_logged, fd_refused_logged;

        /* the service manager: STATUS= and WATCHDOG=1 from one timer */
        struct event *ev_tick;
        uint64_t watchdog_usec;         /* 0: no watchdog */
        uint64_t status_ms;             /* when STATUS= was last sent */
        char status[512];               /* what it said */
        char reload_error[200];         /* why the last reload failed; "" after a good one */
};

extern struct mpxd mpxd;

/* Monotonic milliseconds. */
uint64_t now_ms(void);
/*
 * The time the current batch of requests began, read once per batch: for the
 * statistics of the per-request path (last activity, when an item was put),
 * where a clock read per request costs a tenth of the daemon's time on a VM.
 * loop_clock_update() reads the clock into it.
 */
extern uint64_t loop_now_ms;
void loop_clock_update(void);

/* Set up state and the event base without any socket (used by unit tests too). */
int mpxd_init(void);
void mpxd_done(void);
