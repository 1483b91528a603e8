/* SPDX-License-Identifier: MIT */
/*
 * mpx-libevent.h: run a libmpx connection inside a libevent event_base.
 *
 * Header only, as hiredis's adapters are, so that libmpx itself does not
 * depend on libevent: a program that includes this links with libevent
 * (pkg-config libevent) and libmpx.
 *
 *     struct mpx_libevent *a;
 *     mpx_libevent_attach(m, base, &a);
 *     mpx_queue_get_async(m, "jobs", -1, &item, on_item, NULL);
 *     event_base_dispatch(base);
 *     ...
 *     mpx_libevent_detach(a);
 *     mpx_disconnect(m);
 *
 * The attachment reads whenever the socket is readable and writes while
 * requests are queued (libmpx tells it through mpx_set_watch()), calling
 * mpx_process(), which runs the completions. Detach before disconnecting;
 * a callback that disconnects detaches first. Once the connection is lost
 * its events are removed, so an event_base with nothing else to do returns.
 */
#ifndef MPX_LIBEVENT_H
#define MPX_LIBEVENT_H

#include <errno.h>
#include <poll.h>
#include <stdlib.h>

#include <event2/event.h>

#include "mpx.h"

struct mpx_libevent {
        mpx *m;
        struct event *read;             /* persistent while the connection lives */
        struct event *write;            /* added while requests wait to be sent */
};

/* The socket is ready: let libmpx send, read and complete what it can. */
static inline void mpx_libevent_ready(evutil_socket_t fd, short what, void *arg) {
        struct mpx_libevent *a = (struct mpx_libevent *) arg;

        (void) fd;
        (void) what;
        mpx_process(a->m);
}

/* libmpx says which events it wants now. */
static inline void mpx_libevent_watch(mpx *m, short events, void *userdata) {
        struct mpx_libevent *a = (struct mpx_libevent *) userdata;

        (void) m;
        if (events == 0) {
                /* Lost: nothing more will come, and the loop must not wait for it. */
                event_del(a->read);
                event_del(a->write);
                return;
        }
        if (events & POLLOUT)
                event_add(a->write, NULL);
        else
                event_del(a->write);
}

/* Stop serving m from the event base and free the attachment. Accepts NULL. */
static inline void mpx_libevent_detach(struct mpx_libevent *a) {
        if (!a)
                return;
        mpx_set_watch(a->m, NULL, NULL);
        if (a->read)
                event_free(a->read);
        if (a->write)
                event_free(a->write);
        free(a);
}

/*
 * Serve m from base: 0 and *ret, to detach later, or -ENOMEM / -EINVAL.
 * Completions then run inside event_base_dispatch().
 */
static inline int mpx_libevent_attach(mpx *m, struct event_base *base, struct mpx_libevent **ret) {
        struct mpx_libevent *a;
        int fd = mpx_fd(m);

        if (!m || !base || !ret || fd < 0)
                return -EINVAL;
        a = (struct mpx_libevent *) calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->m = m;
        a->read = event_new(base, fd, EV_READ | EV_PERSIST, mpx_libevent_ready, a);
        a->write = event_new(base, fd, EV_WRITE | EV_PERSIST, mpx_libevent_ready, a);
        if (!a->read || !a->write || event_add(a->read, NULL) < 0) {
                mpx_libevent_detach(a);
                return -ENOMEM;
        }
        /* Called at once with the current events, so a queued request gets its write event. */
        mpx_set_watch(m, mpx_libevent_watch, a);
        *ret = a;
        return 0;
}

#endif
