/* SPDX-License-Identifier: MIT */
/*
 * Events, with the semantics of Python's Event: a flag, initially clear;
 * SET raises it and wakes every parked waiter at once, CLEAR lowers it, WAIT
 * returns at once while it is raised and otherwise parks until the next SET.
 *
 * Storage: the flag and one FIFO line of waiters. A SET answers all of them
 * together, in arrival order; a waiter released by a SET stays released even
 * if a CLEAR follows at once (Python's semantics too). Events hold nothing
 * for a connection, so a closing connection only loses its parked waits.
 *
 * libevent owns the event_* names (event_free, event_set ...): the helpers
 * here are event_obj_*, and only the exported functions are event_*.
 */
#include <errno.h>

#include "client.h"
#include "event.h"
#include "macros.h"
#include "mpxd.h"
#include "object.h"
#include "op.h"
#include "ref.h"
#include "wait.h"
#include "wire.h"

struct event_obj {
        struct object obj;
        bool set;
        struct waiter_list waiters;
        uint64_t sets;                  /* SET requests */
        uint64_t clears;                /* CLEAR requests */
        uint64_t woken;                 /* waits answered by a SET */
};

static const struct object_type event_obj_type;

static struct event_obj *event_of(struct object *o) {
        return container_of(o, struct event_obj, obj);
}

/* ---- storage API ---- */

/* No serve hook: waiters wait only for SET, so a waiter that leaves changes nothing. */
static void event_obj_wake_all(struct object *o, int neg_errno) {
        wait_fail_all(&event_of(o)->waiters, neg_errno);
}

static int event_obj_describe(struct object *o, struct wire_buf *b, struct wire_fields *f) {
        struct event_obj *e = event_of(o);
        int r = 0;

        r |= wire_put_field_int(b, f, "size", e->set);
        r |= wire_put_field_int(b, f, "set", e->set);
        r |= wire_put_field_int(b, f, "waiters", wait_count(&e->waiters));
        r |= wire_put_field_int(b, f, "sets", (int64_t) e->sets);
        r |= wire_put_field_int(b, f, "clears", (int64_t) e->clears);
        r |= wire_put_field_int(b, f, "woken", (int64_t) e->woken);
        r |= wire_put_field_int(b, f, "timeouts", (int64_t) o->timeouts);
        r |= object_describe_age(o, b, f);
        return r < 0 ? -ENOMEM : 0;
}

/* A new event is clear. */
static int event_obj_declare_init(struct object *o, const char *name, size_t len, const void *params) {
        (void) name, (void) len, (void) params;
        TAILQ_INIT(&event_of(o)->waiters);
        return 0;
}

static const struct object_type event_obj_type = {
        .type = WIRE_TYPE_EVENT,
        .wake_all = event_obj_wake_all,
        .describe = event_obj_describe,
        .size = sizeof(struct event_obj),
        .declare_init = event_obj_declare_init,
};

/* ---- request handlers ---- */

/* Create an event, clear, or find it (see event.h). */
int event_declare(const char *name, size_t len) {
        return object_declare(NULL, name, len, &event_obj_type, NULL, NULL);
}

/* DECLARE: name [, u32 flags] -> u8 created. An event is never durable. */
int event_handle_declare(struct client *c, const struct request *req, struct wire_reader *r) {
        return object_handle_declare_plain(c, req, r, &event_obj_type, WIRE_DECLARE_COUNTED);
}

/* SET: name. Raise the flag and answer every parked waiter. */
int event_handle_set(struct client *c, const struct request *req, struct wire_reader *r) {
        struct event_obj *e = event_of(req->obj);

        e->sets++;
        e->set = true;
        e->woken += wait_count(&e->waiters);
        client_reply_status(c, req->id, req->op, 0);
        wait_fail_all(&e->waiters, 0);
        return 0;
}

/* CLEAR: name. Lower the flag; later waits park. */
int event_handle_clear(struct client *c, const struct request *req, struct wire_reader *r) {
        struct event_obj *e = event_of(req->obj);

        e->clears++;
        e->set = false;
        return op_reply_ok(c, req);
}

/* IS_SET: name -> u8 set. */
int event_handle_is_set(struct client *c, const struct request *req, struct wire_reader *r) {
        struct event_obj *e = event_of(req->obj);

        return op_reply_u8(c, req, e->set);
}

/* WAIT: name, i64 timeout_ms. At once while set, else until the next SET. */
int event_handle_wait(struct client *c, const struct request *req, struct wire_reader *r) {
        struct event_obj *e = event_of(req->obj);
        int64_t timeout_ms = req->f[0].i;

        if (e->set) {
                return op_reply_ok(c, req);
        }
        if (timeout_ms == 0)
                return -EAGAIN;
        return wait_add(c, req, &e->obj, &e->waiters, timeout_ms) ? 0 : -errno;
}
