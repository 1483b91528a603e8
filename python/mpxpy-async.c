/* SPDX-License-Identifier: MIT */
/*
 * The asynchronous face of Connection, for an event loop (mpx.aio): the
 * blocking calls started without waiting (queue_get_start(),
 * sem_acquire_start() ...), each with a Python callback, and what a loop
 * calls when the connection's descriptor is ready: process(), events(),
 * send(), cancel().
 *
 * libmpx completes a request inside mpx_process(), or inside any
 * synchronous call made on the connection meanwhile, and both run without
 * the GIL. So a completion only moves the request to the connection's done
 * list, and process() hands the results to the callbacks, with the GIL, in
 * the caller's thread, once it has left the connection (a callback may call
 * it again).
 *
 * cancel(id) asks the daemon to end a request, and from then on the
 * request is disposed of here: its callback is not called, and whatever it
 * got anyway is undone as an interrupted blocking call undoes it. An item is
 * kept in the held list, so that the next get of its queue on this
 * Connection returns it (process() names the queues that kept one, so that
 * the loop can wake a get already waiting); a unit of a semaphore is
 * released again; a round of an action barrier that fell to it is aborted,
 * since nobody is left to run the action and the other parties would wait
 * forever.
 */
#include "mpxpy.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

enum aio_kind {
        AIO_GET,
        AIO_ACQUIRE,
        AIO_BARRIER,
        AIO_OTHER,      /* put, join, event wait: nothing to undo */
};

struct mpxpy_aio {
        ConnObject *c;
        PyObject *callback;     /* NULL: nobody to tell (a request the loop only fires) */
        int64_t id;
        int64_t result;
        enum aio_kind kind;
        int cancelled;          /* disposed of here, callback not called */
        int detach;             /* AIO_GET: a detached delivery */
        int64_t abort_index;    /* AIO_BARRIER: the index whose round a cancel aborts; -1 none */
        mpx_item item;          /* AIO_GET: filled by libmpx */
        STAILQ_ENTRY(mpxpy_aio) next;
        char name[];
};

STAILQ_HEAD(aio_list, mpxpy_aio);

/* The completion, without the GIL, under the connection: queue the request for process(). */
static void aio_complete(mpx *m, int64_t result, void *userdata) {
        struct mpxpy_aio *a = userdata;

        (void) m;
        a->result = result;
        a->c->aio_in_flight--;
        STAILQ_INSERT_TAIL(&a->c->aio_done, a, next);
}

/* The completion of a request made only for its effect (an undo). */
static void aio_ignore(mpx *m, int64_t result, void *userdata) {
        (void) m;
        (void) result;
        (void) userdata;
}

static struct mpxpy_aio *aio_new(ConnObject *c, const char *name, PyObject *callback, enum aio_kind kind) {
        size_t len = strlen(name);
        struct mpxpy_aio *a;

        if (callback != Py_None && !PyCallable_Check(callback)) {
                PyErr_SetString(PyExc_TypeError, "callback must be callable or None");
                return NULL;
        }
        if (!(a = calloc(1, sizeof(*a) + len + 1))) {
                PyErr_NoMemory();
                return NULL;
        }
        a->c = c;
        a->kind = kind;
        a->abort_index = -1;
        a->callback = callback == Py_None ? NULL : Py_NewRef(callback);
        memcpy(a->name, name, len + 1);
        return a;
}

/* With the GIL. */
static void aio_free(struct mpxpy_aio *a) {
        mpx_item_clear(&a->item);
        Py_XDECREF(a->callback);
        free(a);
}

/* Forget request a's id; the pending exception is left as it is. */
static void aio_forget(ConnObject *c, struct mpxpy_aio *a) {
        mpxpy_exc e;
        PyObject *key;

        if (!c->aio_requests)
                return;
        mpxpy_exc_save(&e);
        key = PyLong_FromLongLong(a->id);
        if (!key || PyDict_DelItem(c->aio_requests, key) < 0)
                PyErr_Clear();
        Py_XDECREF(key);
        mpxpy_exc_restore(&e);
}

/*
 * The end of every *_start() method, which holds the connection: the id
 * that mpx_X_async() returned for a. The request goes out at once; what
 * the socket does not take is left to the loop (events() says POLLOUT).
 */
static PyObject *aio_started(ConnObject *c, struct mpxpy_aio *a, int64_t id) {
        PyObject *key = NULL, *addr = NULL;

        if (id < 0) {
                mpxpy_leave(c);
                aio_free(a);
                return mpxpy_error(id);
        }
        a->id = id;
        c->aio_in_flight++;
        if ((c->aio_requests || (c->aio_requests = PyDict_New())) && (key = PyLong_FromLongLong(id)) &&
            (addr = PyLong_FromVoidPtr(a)) && PyDict_SetItem(c->aio_requests, key, addr) == 0) {
                Py_DECREF(key);
                Py_DECREF(addr);
                mpx_send(c->m);
                mpxpy_leave(c);
                return PyLong_FromLongLong(id);
        }
        /* Out of memory: nobody could cancel it, so dispose of it here now. */
        Py_XDECREF(key);
        Py_XDECREF(addr);
        a->cancelled = 1;
        mpx_cancel(c->m, id);
        mpx_send(c->m);
        mpxpy_leave(c);
        return NULL;
}

/* Undo what cancelled request a got anyway; names collects the queues that kept an item (or is NULL). */
static void aio_undo(ConnObject *c, struct mpxpy_aio *a, PyObject *names) {
        switch (a->kind) {
        case AIO_GET:
                if (a->result < 0)
                        break;
                mpxpy_held_add(c, a->name, &a->item, 1, a->detach);
                if (names) {
                        PyObject *n = PyUnicode_FromString(a->name);

                        if (!n || PyList_Append(names, n) < 0)
                                PyErr_Clear();
                        Py_XDECREF(n);
                }
                break;
        case AIO_ACQUIRE:
                /* The unit is held (-EOWNERDEAD too): give it back, so that the cancel leaves nothing held. */
                if (a->result == 0 || a->result == -EOWNERDEAD)
                        mpx_sem_release_async(c->m, a->name, aio_ignore, NULL);
                break;
        case AIO_BARRIER:
                if (a->abort_index >= 0 && a->result == a->abort_index)
                        mpx_barrier_abort_async(c->m, a->name, aio_ignore, NULL);
                break;
        case AIO_OTHER:
                break;
        }
}

/*
 * Take the done list, under the connection: cancelled requests are undone
 * and freed; the others are moved to out, for their callbacks.
 */
static void aio_take_done(ConnObject *c, struct aio_list *out, PyObject *names) {
        struct mpxpy_aio *a;

        while ((a = STAILQ_FIRST(&c->aio_done))) {
                STAILQ_REMOVE_HEAD(&c->aio_done, next);
                if (!a->cancelled) {
                        STAILQ_INSERT_TAIL(out, a, next);
                        continue;
                }
                aio_undo(c, a, names);
                aio_forget(c, a);
                aio_free(a);
        }
}

/* A new reference to the exception raised, normalized, and cleared. */
static PyObject *raised(void) {
        PyObject *type, *value, *tb;

        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        if (value && tb)
                PyException_SetTraceback(value, tb);
        Py_XDECREF(type);
        Py_XDECREF(tb);
        return value ? value : Py_NewRef(Py_None);
}

/* OSError(errno, message) as an object, which Python turns into its subclass. */
static PyObject *error_value(int64_t r) {
        int e = r < 0 && r > -4096 ? (int) -r : EPROTO;
        PyObject *exc = PyObject_CallFunction(PyExc_OSError, "is", e, mpx_strerror(-e));

        return exc ? exc : raised();
}

/*
 * What the callback of a is given: the result (an item, True/False for an
 * acquire, an index for a barrier wait, else None), or the exception.
 */
static PyObject *aio_result(ConnObject *c, struct mpxpy_aio *a) {
        PyObject *r;

        if (a->kind == AIO_ACQUIRE && a->result == -EOWNERDEAD)
                return Py_NewRef(Py_False);     /* held, from a holder that died */
        if (a->result < 0)
                return error_value(a->result);
        switch (a->kind) {
        case AIO_GET:
                if ((r = mpxpy_item_to_python(&a->item)))
                        return r;
                /* No memory for it: the item is kept for the next get. */
                r = raised();
                mpxpy_held_add(c, a->name, &a->item, 1, a->detach);
                return r;
        case AIO_ACQUIRE:
                return Py_NewRef(Py_True);
        case AIO_BARRIER:
                return PyLong_FromLongLong(a->result);
        case AIO_OTHER:
                break;
        }
        return Py_NewRef(Py_None);
}

/*
 * A request of out cancelled by an earlier callback of the same
 * process(): undone as aio_take_done() does, the connection taken again.
 */
static void aio_undo_late(ConnObject *c, struct mpxpy_aio *a, PyObject *names) {
        if (mpxpy_enter(c) < 0) {
                PyErr_WriteUnraisable(NULL);
                return;
        }
        aio_undo(c, a, names);
        mpx_send(c->m);
        mpxpy_leave(c);
}

/*
 * Hand the results of out to their callbacks; an exception a callback
 * raises is reported, not raised. names collects the queues that kept an
 * item.
 */
static void aio_dispatch(ConnObject *c, struct aio_list *out, PyObject *names) {
        struct mpxpy_aio *a;

        while ((a = STAILQ_FIRST(out))) {
                PyObject *arg, *r = NULL;

                STAILQ_REMOVE_HEAD(out, next);
                aio_forget(c, a);
                if (a->cancelled) {
                        aio_undo_late(c, a, names);
                        aio_free(a);
                        continue;
                }
                arg = aio_result(c, a);
                if (a->callback && arg)
                        r = PyObject_CallOneArg(a->callback, arg);
                if (a->callback && !r)
                        PyErr_WriteUnraisable(a->callback);
                Py_XDECREF(r);
                Py_XDECREF(arg);
                aio_free(a);
        }
}

PyDoc_STRVAR(process_doc,
"process()\n--\n\n"
"Do what the socket allows without blocking: send what is queued, read the\n"
"replies that came, and call the callbacks of the requests they complete,\n"
"in this thread. Call it when the descriptor (fileno()) is readable, or\n"
"writable while events() has POLLOUT. Returns the list of queues for which\n"
"a cancelled get kept an item (see cancel()), usually empty. After the\n"
"connection is lost, every request has completed with ConnectionResetError\n"
"and events() is 0.");
static PyObject *aio_process(ConnObject *self, PyObject *unused) {
        struct aio_list out = STAILQ_HEAD_INITIALIZER(out);
        PyObject *names = PyList_New(0);

        if (!names || mpxpy_enter(self) < 0) {
                Py_XDECREF(names);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        mpx_process(self->m);
        Py_END_ALLOW_THREADS
        aio_take_done(self, &out, names);
        /* What the undoing queued goes out now, not at the next wake-up. */
        if (mpx_events(self->m) & POLLOUT)
                mpx_send(self->m);
        mpxpy_leave(self);
        aio_dispatch(self, &out, names);
        return names;
}

PyDoc_STRVAR(events_doc,
"events()\n--\n\n"
"The poll events the connection waits for: select.POLLIN, with\n"
"select.POLLOUT while requests are queued and not yet sent; 0 once the\n"
"connection is lost.");
static PyObject *aio_events(ConnObject *self, PyObject *unused) {
        short ev;

        if (mpxpy_enter(self) < 0)
                return NULL;
        ev = mpx_events(self->m);
        mpxpy_leave(self);
        return PyLong_FromLong(ev);
}

PyDoc_STRVAR(send_doc,
"send()\n--\n\n"
"Send what is queued as far as the socket takes it now, reading nothing;\n"
"returns events() afterwards.");
static PyObject *aio_send(ConnObject *self, PyObject *unused) {
        short ev;

        if (mpxpy_enter(self) < 0)
                return NULL;
        mpx_send(self->m);
        ev = mpx_events(self->m);
        mpxpy_leave(self);
        return PyLong_FromLong(ev);
}

PyDoc_STRVAR(cancel_doc,
"cancel(id, dispose=True)\n--\n\n"
"Ask the daemon to end the request id, started by a *_start() method, if\n"
"it still waits there. Returns False when its callback has already been\n"
"called (nothing to cancel any more), else True.\n"
"With dispose (the default), the request is this Connection's from now on:\n"
"its callback is never called, and what it got anyway is undone. An item is\n"
"kept, and returned first by the next get of its queue on this Connection\n"
"(queue_take_held(), queue_get(); close() gives it back); a unit of a\n"
"semaphore is released; the round of an action barrier that fell to it is\n"
"aborted. Without dispose, the callback is still called once, with\n"
"OSError(ECANCELED), or with what the request got if it completed first.");
static PyObject *cancel(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "id", "dispose", NULL };
        long long id;
        int dispose = 1;
        PyObject *key, *addr;
        struct mpxpy_aio *a;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "L|p:cancel", kwlist, &id, &dispose) ||
            mpxpy_enter(self) < 0)
                return NULL;
        key = PyLong_FromLongLong(id);
        addr = key && self->aio_requests ? PyDict_GetItemWithError(self->aio_requests, key) : NULL;
        Py_XDECREF(key);
        if (!addr) {
                mpxpy_leave(self);
                if (PyErr_Occurred())
                        return NULL;
                Py_RETURN_FALSE;
        }
        a = PyLong_AsVoidPtr(addr);
        if (dispose)
                a->cancelled = 1;
        /* -ENOENT: it completed already and waits in the done list, where process() finds it. */
        mpx_cancel(self->m, a->id);
        mpx_send(self->m);
        mpxpy_leave(self);
        Py_RETURN_TRUE;
}

/* ---- the requests ---- */

PyDoc_STRVAR(queue_get_start_doc,
"queue_get_start(name, timeout, callback, detach=False)\n--\n\n"
"Start a get (see queue_get()) and return its id. callback(result) is called\n"
"by process() with bytes, or (bytes, tag) for a delivery of a joinable\n"
"queue, or an OSError instance (BlockingIOError, TimeoutError,\n"
"BrokenPipeError ...). Items kept for this queue are not looked at: take\n"
"them first with queue_take_held().");
static PyObject *queue_get_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "timeout", "callback", "detach", NULL };
        const char *name;
        int64_t ms;
        PyObject *cb;
        int detach = 0;
        struct mpxpy_aio *a;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO&O|p:queue_get_start", kwlist, &name, mpxpy_timeout, &ms,
                                         &cb, &detach) ||
            !(a = aio_new(self, name, cb, AIO_GET)))
                return NULL;
        a->detach = detach;
        if (mpxpy_enter(self) < 0) {
                aio_free(a);
                return NULL;
        }
        return aio_started(self, a, mpx_queue_get_flags_async(self->m, name, ms, detach ? MPX_GET_DETACH : 0,
                                                              &a->item, aio_complete, a));
}

PyDoc_STRVAR(queue_put_start_doc,
"queue_put_start(name, data, timeout, callback)\n--\n\n"
"Start a put (see queue_put()) and return its id; callback(None) or\n"
"callback(OSError instance). A cancelled put may still have put the item,\n"
"when room came first.");
static PyObject *queue_put_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "data", "timeout", "callback", NULL };
        const char *name, *data;
        Py_ssize_t size;
        int64_t ms;
        PyObject *cb;
        struct mpxpy_aio *a;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#O&O:queue_put_start", kwlist, &name, &data, &size,
                                         mpxpy_timeout, &ms, &cb) ||
            !(a = aio_new(self, name, cb, AIO_OTHER)))
                return NULL;
        if (mpxpy_enter(self) < 0) {
                aio_free(a);
                return NULL;
        }
        return aio_started(self, a, mpx_queue_put_async(self->m, name, data, (size_t) size, ms, aio_complete, a));
}

/* A request taking a name and a timeout. */
typedef int64_t name_timeout_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb,
                                   void *userdata);

/* The arguments of name_timeout_start(): abort_index is a barrier's only. */
static char *name_timeout_kwlist[] = { "name", "timeout", "callback", NULL };
static char *barrier_kwlist[] = { "name", "timeout", "callback", "abort_index", NULL };

/* Start call(name, timeout) for callback; a barrier's round of index abort_index is aborted when cancelled. */
static PyObject *name_timeout_start(ConnObject *self, PyObject *args, PyObject *kwds, const char *fmt,
                                    int (*conv)(PyObject *, void *), name_timeout_async *call, enum aio_kind kind) {
        char **kwlist = kind == AIO_BARRIER ? barrier_kwlist : name_timeout_kwlist;
        const char *name;
        int64_t ms;
        long long abort_index = -1;
        PyObject *cb;
        struct mpxpy_aio *a;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, &name, conv, &ms, &cb, &abort_index) ||
            !(a = aio_new(self, name, cb, kind)))
                return NULL;
        a->abort_index = abort_index;
        if (mpxpy_enter(self) < 0) {
                aio_free(a);
                return NULL;
        }
        return aio_started(self, a, call(self->m, name, ms, aio_complete, a));
}

PyDoc_STRVAR(queue_join_start_doc,
"queue_join_start(name, timeout, callback)\n--\n\n"
"Start a join (see queue_join()) and return its id; callback(None) or\n"
"callback(OSError instance).");
static PyObject *queue_join_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        return name_timeout_start(self, args, kwds, "sO&O:queue_join_start", mpxpy_timeout, mpx_queue_join_async,
                                  AIO_OTHER);
}

PyDoc_STRVAR(sem_acquire_start_doc,
"sem_acquire_start(name, timeout, callback)\n--\n\n"
"Start an acquire (see sem_acquire()) and return its id; callback(True),\n"
"callback(False) when the unit is held from a holder that died holding it,\n"
"or callback(OSError instance). A cancelled acquire whose unit was granted\n"
"first releases it again.");
static PyObject *sem_acquire_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        return name_timeout_start(self, args, kwds, "sO&O:sem_acquire_start", mpxpy_timeout, mpx_sem_acquire_async,
                                  AIO_ACQUIRE);
}

PyDoc_STRVAR(event_wait_start_doc,
"event_wait_start(name, timeout, callback)\n--\n\n"
"Start a wait for an event (see event_wait()) and return its id;\n"
"callback(None) once it is set, or callback(OSError instance): TimeoutError\n"
"or BlockingIOError when timeout seconds passed.");
static PyObject *event_wait_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        return name_timeout_start(self, args, kwds, "sO&O:event_wait_start", mpxpy_timeout, mpx_event_wait_async,
                                  AIO_OTHER);
}

PyDoc_STRVAR(barrier_wait_start_doc,
"barrier_wait_start(name, timeout, callback, abort_index=-1)\n--\n\n"
"Start a barrier wait (see barrier_wait(); timeout may be TIMEOUT_DEFAULT)\n"
"and return its id; callback(index) or callback(OSError instance). A\n"
"cancelled wait withdraws its party; if it had passed already with index\n"
"abort_index (parties - 1 on a barrier with an action, whose action nobody\n"
"will run now), the barrier is aborted, so that the others do not wait for\n"
"ever.");
static PyObject *barrier_wait_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        return name_timeout_start(self, args, kwds, "sO&O|L:barrier_wait_start", mpxpy_barrier_timeout,
                                  mpx_barrier_wait_async, AIO_BARRIER);
}

PyDoc_STRVAR(queue_take_held_doc,
"queue_take_held(name)\n--\n\n"
"The oldest item kept for queue name (see cancel() and queue_get()), as a\n"
"get returns it, or None when none is kept. Makes no request.");
static PyObject *queue_take_held(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        PyObject *kept, *r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:queue_take_held", kwlist, &name) || mpxpy_enter(self) < 0)
                return NULL;
        kept = mpxpy_held_take(self, name, 1);
        mpxpy_leave(self);
        if (!kept)
                return NULL;
        r = Py_NewRef(PyList_GET_SIZE(kept) ? PyList_GET_ITEM(kept, 0) : Py_None);
        Py_DECREF(kept);
        return r;
}

PyDoc_STRVAR(queue_hold_doc,
"queue_hold(name, data, tag=0, detached=False)\n--\n\n"
"Keep an item that a get returned and nobody took (its awaiting task was\n"
"cancelled after the callback ran): the next get of queue name on this\n"
"Connection returns it first, and close() gives it back, as for an item\n"
"kept by cancel().");
static PyObject *queue_hold(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "data", "tag", "detached", NULL };
        const char *name;
        Py_buffer data;
        unsigned long long tag = 0;
        int detached = 0;
        mpx_item it = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy*|Kp:queue_hold", kwlist, &name, &data, &tag, &detached))
                return NULL;
        if (mpxpy_enter(self) < 0) {
                PyBuffer_Release(&data);
                return NULL;
        }
        it.data = data.buf;
        it.size = (size_t) data.len;
        it.tag = tag;
        mpxpy_held_add(self, name, &it, 1, detached);
        mpxpy_leave(self);
        PyBuffer_Release(&data);
        Py_RETURN_NONE;
}

/* ---- closing ---- */

Py_ssize_t mpxpy_async_count(ConnObject *c) {
        return c->aio_requests ? PyDict_GET_SIZE(c->aio_requests) : 0;
}

void mpxpy_async_shut(ConnObject *c) {
        struct aio_list out = STAILQ_HEAD_INITIALIZER(out);
        PyObject *key, *addr;
        Py_ssize_t pos = 0;
        mpxpy_exc e;

        if (!mpxpy_async_count(c))
                return;
        mpxpy_exc_save(&e);
        while (PyDict_Next(c->aio_requests, &pos, &key, &addr)) {
                struct mpxpy_aio *a = PyLong_AsVoidPtr(addr);

                a->cancelled = 1;
                mpx_cancel(c->m, a->id);
        }
        /* The cancels are answered at once; only then is it known what each request got. */
        while (c->aio_in_flight && mpx_events(c->m))
                mpxpy_step(c->m);
        aio_take_done(c, &out, NULL);
        PyDict_Clear(c->aio_requests);
        mpxpy_exc_restore(&e);
}

void mpxpy_async_free(ConnObject *c) {
        struct mpxpy_aio *a;

        /* mpx_disconnect() completed what was left, with -ECONNRESET: nothing to undo. */
        while ((a = STAILQ_FIRST(&c->aio_done))) {
                STAILQ_REMOVE_HEAD(&c->aio_done, next);
                aio_free(a);
        }
        c->aio_in_flight = 0;
        if (c->aio_requests)
                PyDict_Clear(c->aio_requests);
}

PyMethodDef mpxpy_async_methods[] = {
        { "process", (PyCFunction) aio_process, METH_NOARGS, process_doc },
        { "events", (PyCFunction) aio_events, METH_NOARGS, events_doc },
        { "send", (PyCFunction) aio_send, METH_NOARGS, send_doc },
        MPXPY_METHOD(cancel),
        MPXPY_METHOD(queue_get_start),
        MPXPY_METHOD(queue_put_start),
        MPXPY_METHOD(queue_join_start),
        MPXPY_METHOD(sem_acquire_start),
        MPXPY_METHOD(event_wait_start),
        MPXPY_METHOD(barrier_wait_start),
        MPXPY_METHOD(queue_take_held),
        MPXPY_METHOD(queue_hold),
        { NULL }
};
