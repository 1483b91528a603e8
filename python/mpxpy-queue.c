/* SPDX-License-Identifier: MIT */
/*
 * Queues and joinable queues: Connection.queue_*.
 *
 * An interrupted get must not lose an item the daemon handed over before
 * the cancel reached it. Such items are kept on the Connection (its "held"
 * list) and the next get of the same queue through the same Connection
 * returns them first, in the order they were taken; close() gives back
 * those still kept (see mpxpy_queue_give_back()). A get that takes items
 * ahead (queue_get(ahead=n)) keeps the ones it does not return there too.
 *
 * A pipelined put (queue_put_pipelined()) returns once its request is
 * written to the socket, without waiting for the reply, as
 * multiprocessing's Queue.put() returns before its feeder thread writes.
 * Its reply is read later, by any call on the connection; a failure is
 * kept and raised by the next pipelined put or by flush().
 */
#include "mpxpy.h"

#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Pipelined puts awaiting their reply beyond which the next one waits:
 * enough to keep the daemon busy, few enough that the replies the daemon
 * writes never fill its output buffer for this connection.
 */
#define PIPELINE_WINDOW 256

/* Seconds of a lease to libmpx's milliseconds; 0 is "none". */
static int ttr_ms(double s, uint32_t *ret) {
        if (isnan(s) || s < 0 || s * 1000.0 > (double) UINT32_MAX) {
                PyErr_SetString(PyExc_ValueError, "ttr must be between 0 and 4294967 seconds");
                return -1;
        }
        *ret = (uint32_t) ceil(s * 1000.0);
        return 0;
}

/* What a get returns: the bytes, or (bytes, tag) for a delivery of a joinable queue. */
static PyObject *delivery(PyObject *data, uint64_t tag) {
        if (!data || !tag)
                return data;
        return Py_BuildValue("(NK)", data, (unsigned long long) tag);
}

PyObject *mpxpy_item_to_python(const mpx_item *it) {
        return delivery(PyBytes_FromStringAndSize(it->data, (Py_ssize_t) it->size), it->tag);
}

void mpxpy_held_add(ConnObject *c, const char *name, mpx_item *items, size_t n, int detached) {
        mpxpy_exc e;

        mpxpy_exc_save(&e);
        for (size_t i = 0; i < n; i++) {
                PyObject *t = Py_BuildValue("(sy#KO)", name, (const char *) items[i].data,
                                            (Py_ssize_t) items[i].size, (unsigned long long) items[i].tag,
                                            detached ? Py_True : Py_False);

                /* Out of memory here: the daemon still redelivers a joinable item on close. */
                if (!t || PyList_Append(c->held, t) < 0)
                        PyErr_Clear();
                Py_XDECREF(t);
        }
        mpxpy_exc_restore(&e);
}

PyObject *mpxpy_held_take(ConnObject *c, const char *name, Py_ssize_t max) {
        PyObject *out = PyList_New(0);

        for (Py_ssize_t i = 0; out && i < PyList_GET_SIZE(c->held) && PyList_GET_SIZE(out) < max;) {
                PyObject *t = PyList_GET_ITEM(c->held, i);
                PyObject *r;

                if (strcmp(PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 0)), name) != 0) {
                        i++;
                        continue;
                }
                r = delivery(Py_NewRef(PyTuple_GET_ITEM(t, 1)), PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(t, 2)));
                if (!r || PyList_Append(out, r) < 0 || PySequence_DelItem(c->held, i) < 0)
                        Py_CLEAR(out);
                Py_XDECREF(r);
        }
        return out;
}

/*
 * A plain item goes back to the tail of its queue; a detached delivery too,
 * as a copy whose original is then marked done. A delivery tied to the
 * connection needs nothing: the daemon puts it back at the head, with
 * deliveries + 1, when the connection closes. A put that fails (the queue
 * is gone or closed) drops the item: there is nowhere left to put it.
 */
void mpxpy_queue_give_back(ConnObject *c) {
        if (!c->held)
                return;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->held); i++) {
                PyObject *t = PyList_GET_ITEM(c->held, i);
                const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(t, 0));
                PyObject *data = PyTuple_GET_ITEM(t, 1);
                uint64_t tag = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(t, 2));
                int detached = PyTuple_GET_ITEM(t, 3) == Py_True;

                if (tag && !detached)
                        continue;
                Py_BEGIN_ALLOW_THREADS
                if (mpx_queue_put(c->m, name, PyBytes_AS_STRING(data), (size_t) PyBytes_GET_SIZE(data), -1) == 0 &&
                    tag)
                        mpx_queue_task_done(c->m, name, tag);
                Py_END_ALLOW_THREADS
        }
        PyList_SetSlice(c->held, 0, PyList_GET_SIZE(c->held), NULL);
}

PyDoc_STRVAR(queue_declare_doc,
"queue_declare(name, maxsize=0, flags=0, ttr=0.0)\n--\n\n"
"Create a queue, or check that it exists as asked. maxsize 0 is unbounded;\n"
"flags: QUEUE_JOINABLE, QUEUE_CONNECTION (deleted when this connection\n"
"closes), DURABLE or COUNTED. ttr (seconds, joinable only) is the lease of each\n"
"delivery; with ttr 0 any existing lease matches.\n"
"Returns 1 if created, 0 if it existed; FileExistsError for other\n"
"parameters, OSError(EPROTOTYPE) for another type of object.");
static PyObject *queue_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "maxsize", "flags", "ttr", NULL };
        const char *name;
        unsigned long long maxsize = 0;
        unsigned flags = 0;
        double ttr = 0;
        uint32_t ms;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|KId:queue_declare", kwlist, &name, &maxsize, &flags, &ttr) ||
            ttr_ms(ttr, &ms) < 0)
                return NULL;
        MPXPY_SYNC(self, r, ms ? mpx_queue_declare_ttr(self->m, name, maxsize, flags, ms)
                               : mpx_queue_declare(self->m, name, maxsize, flags));
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(queue_put_doc,
"queue_put(name, data, timeout=None)\n--\n\n"
"Append data (bytes) to the queue, waiting up to timeout seconds for room\n"
"(None: forever). BlockingIOError (full, timeout 0), TimeoutError,\n"
"BrokenPipeError (closed), OSError(EMSGSIZE), FileNotFoundError.\n"
"Interrupted by a signal whose handler raises, the put is cancelled; the\n"
"item may still have been put if room came first.");
static PyObject *queue_put(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "data", "timeout", NULL };
        const char *name, *data;
        Py_ssize_t size;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#|O&:queue_put", kwlist, &name, &data, &size,
                                         mpxpy_timeout, &ms) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, mpx_queue_put_async(self->m, name, data, (size_t) size, ms, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        return rq.interrupted ? NULL : mpxpy_none_result(r);
}

/*
 * A pipelined put in flight: its connection and queue. A failed one stays,
 * as the record of its queue's failure, on the connection's put_failures
 * until it is raised; there is one record a queue at most.
 */
struct pipelined {
        ConnObject *c;
        int error;
        STAILQ_ENTRY(pipelined) next;
        char queue[];
};

static struct pipelined *failure_of(ConnObject *c, const char *queue) {
        struct pipelined *p;

        STAILQ_FOREACH(p, &c->put_failures, next)
                if (!queue || strcmp(p->queue, queue) == 0)
                        return p;
        return NULL;
}

/* The callback of a pipelined put: one reply fewer to wait for; a failure is kept, the first of its queue. */
static void pipelined_done(mpx *m, int64_t result, void *userdata) {
        struct pipelined *p = userdata;
        ConnObject *c = p->c;

        (void) m;
        c->puts_in_flight--;
        /* Once the Connection is closing (m cleared), nobody is left to raise it. */
        if (result < 0 && c->m && !failure_of(c, p->queue)) {
                p->error = (int) -result;
                STAILQ_INSERT_TAIL(&c->put_failures, p, next);
                return;
        }
        free(p);
}

/* Raise the kept failure f as OSError(errno, message, queue) and forget it; -1. */
static int raise_failure(ConnObject *c, struct pipelined *f) {
        STAILQ_REMOVE(&c->put_failures, f, pipelined, next);
        PyErr_SetObject(PyExc_OSError, Py_BuildValue("(iss)", f->error, mpx_strerror(-f->error), f->queue));
        free(f);
        return -1;
}

/* Pipelined puts in flight beyond which a put reads the replies that came. */
#define PIPELINE_READ 32

/*
 * Write the pipelined put just queued, reading replies once PIPELINE_READ
 * await theirs, and run the connection until everything queued is written
 * and at most window puts await their reply. -1 with the exception when a
 * signal handler raised meanwhile (what is queued goes out with the next
 * call).
 */
static int settle(ConnObject *c, size_t window) {
        for (;;) {
                short ev;

                Py_BEGIN_ALLOW_THREADS
                if (c->puts_in_flight > PIPELINE_READ || window == 0)
                        mpx_process(c->m);
                else
                        mpx_send(c->m);
                Py_END_ALLOW_THREADS
                ev = mpx_events(c->m);
                if (!ev || (!(ev & POLLOUT) && c->puts_in_flight <= window))
                        return 0;
                mpxpy_step(c->m);
                if (PyErr_CheckSignals() < 0)
                        return -1;
        }
}

void mpxpy_queue_settle_quietly(ConnObject *c) {
        struct pipelined *f;
        mpxpy_exc e;

        while (c->m && c->puts_in_flight && mpx_events(c->m))
                mpxpy_step(c->m);
        mpxpy_exc_save(&e);
        while ((f = STAILQ_FIRST(&c->put_failures))) {
                STAILQ_REMOVE_HEAD(&c->put_failures, next);
                if (PyErr_WarnFormat(PyExc_RuntimeWarning, 1, "a put to mpx queue %s failed: %s", f->queue,
                                     mpx_strerror(-f->error)) < 0)
                        PyErr_Clear();
                free(f);
        }
        mpxpy_exc_restore(&e);
}

PyDoc_STRVAR(queue_put_pipelined_doc,
"queue_put_pipelined(name, data)\n--\n\n"
"Append data (bytes) to the queue without waiting for the reply: it returns\n"
"once the request is written to the socket (it waits only while 256 such\n"
"puts await their replies). For queues that never make a put wait (an\n"
"unbounded queue): a put that must wait for room waits in the daemon while\n"
"the next ones pile up behind it.\n"
"A failure (FileNotFoundError, BrokenPipeError for a closed queue,\n"
"PermissionError, OSError(ENOSPC) ...) is raised, once for all the puts\n"
"to that queue in flight, by the next pipelined put to the same queue on\n"
"this Connection (which is then not made), or by flush(); the exception's\n"
"filename is the queue. One still unraised when the Connection closes is\n"
"a RuntimeWarning.\n"
"Interrupted by a signal whose handler raises, the put still goes out.");
static PyObject *queue_put_pipelined(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "data", NULL };
        const char *name, *data;
        Py_ssize_t size;
        size_t len;
        struct pipelined *p;
        int64_t id;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#:queue_put_pipelined", kwlist, &name, &data, &size) ||
            mpxpy_enter(self) < 0)
                return NULL;
        if ((p = failure_of(self, name))) {
                raise_failure(self, p);
                mpxpy_leave(self);
                return NULL;
        }
        len = strlen(name);
        if (!(p = malloc(sizeof(*p) + len + 1))) {
                mpxpy_leave(self);
                return PyErr_NoMemory();
        }
        p->c = self;
        p->error = 0;
        memcpy(p->queue, name, len + 1);
        id = mpx_queue_put_async(self->m, name, data, (size_t) size, -1, pipelined_done, p);
        if (id < 0) {
                free(p);
                mpxpy_leave(self);
                return mpxpy_error(id);
        }
        self->puts_in_flight++;
        id = settle(self, PIPELINE_WINDOW);
        mpxpy_leave(self);
        if (id < 0)
                return NULL;
        Py_RETURN_NONE;
}

PyDoc_STRVAR(flush_doc,
"flush(report=True)\n--\n\n"
"Wait until every pipelined put of this Connection is answered, and raise\n"
"the oldest failure not yet raised, whatever its queue (see\n"
"queue_put_pipelined()). With report false it only waits: failures stay\n"
"for the next put of their queue or the next flush().\n"
"Interruptible: the puts stay in flight.");
static PyObject *flush(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "report", NULL };
        int report = 1, r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|p:flush", kwlist, &report) || mpxpy_enter(self) < 0)
                return NULL;
        r = settle(self, 0);
        if (r == 0 && report && !STAILQ_EMPTY(&self->put_failures))
                r = raise_failure(self, STAILQ_FIRST(&self->put_failures));
        mpxpy_leave(self);
        if (r < 0)
                return NULL;
        Py_RETURN_NONE;
}

PyDoc_STRVAR(queue_put_many_doc,
"queue_put_many(name, items, timeout=None)\n--\n\n"
"Append a sequence of bytes in one request, all or none. As queue_put().");
static PyObject *queue_put_many(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "items", "timeout", NULL };
        const char *name;
        PyObject *items, *seq;
        struct iovec *iov;
        Py_ssize_t n;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO|O&:queue_put_many", kwlist, &name, &items,
                                         mpxpy_timeout, &ms) ||
            mpxpy_iovecs(items, &iov, &n, &seq) < 0)
                return NULL;
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(iov);
                Py_DECREF(seq);
                return NULL;
        }
        r = mpxpy_wait(self, mpx_queue_put_many_async(self->m, name, iov, (size_t) n, ms, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        PyMem_Free(iov);
        Py_DECREF(seq);
        return rq.interrupted ? NULL : mpxpy_none_result(r);
}

PyDoc_STRVAR(queue_get_doc,
"queue_get(name, timeout=None, detach=False, ttr=0.0, ahead=1)\n--\n\n"
"Take the oldest item, waiting up to timeout seconds (None: forever).\n"
"Returns bytes for a plain queue, and (bytes, tag) for a delivery of a\n"
"joinable queue: pass tag to queue_task_done() (or 0 for the oldest).\n"
"detach: the delivery is not tied to this connection (any connection may\n"
"finish it, and it is not redelivered when this one closes); ttr: a lease\n"
"for this delivery, in seconds, instead of the queue's.\n"
"ahead (without detach and ttr): take up to ahead items in one request,\n"
"as many as are there once one is; the first is returned, the others are\n"
"kept (see the attribute held) and returned by the next gets of the queue\n"
"on this Connection, without a request.\n"
"BlockingIOError (empty, timeout 0), TimeoutError, BrokenPipeError (closed\n"
"and drained), FileNotFoundError, OSError(EIDRM).\n\n"
"Interrupted by a signal whose handler raises (KeyboardInterrupt), the\n"
"get is cancelled and the exception propagates. If the daemon had handed\n"
"over an item before the cancel reached it, the item is not lost: the\n"
"Connection keeps it and the next queue_get() or queue_get_many() of the\n"
"same queue on this Connection returns it first, with its tag, still\n"
"undone. close() and finish() give back what is still kept: a plain\n"
"item, and a detached delivery, are put again at the tail of the queue (the\n"
"detached one as a copy, its delivery then marked done); a delivery tied to\n"
"the connection is put back at the head by the daemon itself when the\n"
"connection closes.");
static PyObject *queue_get(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "timeout", "detach", "ttr", "ahead", NULL };
        const char *name;
        int64_t ms = -1, r;
        int detach = 0;
        double ttr = 0;
        uint32_t lease;
        Py_ssize_t ahead = 1;
        mpx_item one = { 0 }, *items = &one;
        struct mpxpy_req rq = { 0 };
        PyObject *res;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O&pdn:queue_get", kwlist, &name, mpxpy_timeout, &ms,
                                         &detach, &ttr, &ahead) ||
            ttr_ms(ttr, &lease) < 0 || mpxpy_enter(self) < 0)
                return NULL;
        if (PyList_GET_SIZE(self->held)) {
                PyObject *kept = mpxpy_held_take(self, name, 1);

                if (!kept || PyList_GET_SIZE(kept)) {
                        mpxpy_leave(self);
                        res = kept ? Py_NewRef(PyList_GET_ITEM(kept, 0)) : NULL;
                        Py_XDECREF(kept);
                        return res;
                }
                Py_DECREF(kept);
        }
        if (ahead > 1 && !detach && !lease) {
                if (!(items = PyMem_Calloc((size_t) ahead, sizeof(*items)))) {
                        mpxpy_leave(self);
                        return PyErr_NoMemory();
                }
                r = mpxpy_wait(self, mpx_queue_get_many_async(self->m, name, items, (size_t) ahead, ms,
                                                              mpxpy_req_done, &rq), &rq);
        } else {
                ahead = 1;
                r = mpxpy_wait(self, mpx_queue_get_ttr_async(self->m, name, ms, detach ? MPX_GET_DETACH : 0, lease,
                                                             items, mpxpy_req_done, &rq), &rq);
                if (r == 0)
                        r = 1;
        }
        /* Interrupted, everything taken is kept; else all but the first. */
        if (r > 0 && (rq.interrupted || r > 1))
                mpxpy_held_add(self, name, items + !rq.interrupted, (size_t) r - !rq.interrupted, detach);
        mpxpy_leave(self);
        res = rq.interrupted ? NULL : r < 0 ? mpxpy_error(r) : mpxpy_item_to_python(&items[0]);
        for (int64_t i = 0; i < r; i++)
                mpx_item_clear(&items[i]);
        if (items != &one)
                PyMem_Free(items);
        return res;
}

static PyObject *items_to_list(mpx_item *items, size_t n) {
        PyObject *list = PyList_New((Py_ssize_t) n);

        for (size_t i = 0; list && i < n; i++) {
                PyObject *o = mpxpy_item_to_python(&items[i]);

                if (!o)
                        Py_CLEAR(list);
                else
                        PyList_SET_ITEM(list, (Py_ssize_t) i, o);
        }
        return list;
}

static void items_clear(mpx_item *items, size_t n) {
        for (size_t i = 0; i < n; i++)
                mpx_item_clear(&items[i]);
        PyMem_Free(items);
}

PyDoc_STRVAR(queue_get_many_doc,
"queue_get_many(name, max, timeout=None)\n--\n\n"
"Take up to max items in one request: waits up to timeout seconds for at\n"
"least one, then takes as many as are there. Returns a list, of bytes or\n"
"of (bytes, tag) as queue_get(). Items kept from an interrupted get come\n"
"first; an interrupted get_many keeps what it took, as queue_get().");
static PyObject *queue_get_many(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "max", "timeout", NULL };
        const char *name;
        Py_ssize_t max;
        int64_t ms = -1, r;
        mpx_item *items;
        struct mpxpy_req rq = { 0 };
        PyObject *res;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sn|O&:queue_get_many", kwlist, &name, &max, mpxpy_timeout,
                                         &ms))
                return NULL;
        if (max < 1) {
                PyErr_SetString(PyExc_ValueError, "max must be at least 1");
                return NULL;
        }
        if (mpxpy_enter(self) < 0)
                return NULL;
        res = mpxpy_held_take(self, name, max);
        if (!res || PyList_GET_SIZE(res)) {
                mpxpy_leave(self);
                return res;
        }
        Py_DECREF(res);
        if (!(items = PyMem_Calloc((size_t) max, sizeof(*items)))) {
                mpxpy_leave(self);
                return PyErr_NoMemory();
        }
        r = mpxpy_wait(self, mpx_queue_get_many_async(self->m, name, items, (size_t) max, ms, mpxpy_req_done, &rq),
                       &rq);
        if (rq.interrupted && r > 0)
                mpxpy_held_add(self, name, items, (size_t) r, 0);
        mpxpy_leave(self);
        res = rq.interrupted ? NULL : r < 0 ? mpxpy_error(r) : items_to_list(items, (size_t) r);
        items_clear(items, r > 0 ? (size_t) r : 0);
        return res;
}

PyDoc_STRVAR(queue_peek_doc,
"queue_peek(name, max=1)\n--\n\n"
"Copy up to max items from the head without taking them: a list of\n"
"(bytes, deliveries), where deliveries is how often each was handed out.");
static PyObject *queue_peek(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "max", NULL };
        const char *name;
        Py_ssize_t max = 1;
        mpx_item *items;
        int r;
        PyObject *list;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|n:queue_peek", kwlist, &name, &max))
                return NULL;
        if (max < 1) {
                PyErr_SetString(PyExc_ValueError, "max must be at least 1");
                return NULL;
        }
        if (!(items = PyMem_Calloc((size_t) max, sizeof(*items))))
                return PyErr_NoMemory();
        MPXPY_SYNC(self, r, mpx_queue_peek(self->m, name, items, (size_t) max));
        list = r < 0 ? mpxpy_error(r) : PyList_New(r);
        for (int i = 0; list && i < r; i++) {
                PyObject *t = Py_BuildValue("(y#I)", (const char *) items[i].data, (Py_ssize_t) items[i].size,
                                            (unsigned) items[i].deliveries);

                if (!t)
                        Py_CLEAR(list);
                else
                        PyList_SET_ITEM(list, i, t);
        }
        items_clear(items, r > 0 ? (size_t) r : 0);
        return list;
}

PyDoc_STRVAR(queue_stat_doc,
"queue_stat(name)\n--\n\n"
"The queue's state as a dict: size, maxsize (0: unbounded), unfinished\n"
"(joinable: put and not yet done) and closed (bool).");
static PyObject *queue_stat(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        mpx_queue_status st;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:queue_stat", kwlist, &name))
                return NULL;
        MPXPY_SYNC(self, r, mpx_queue_stat(self->m, name, &st));
        if (r < 0)
                return mpxpy_error(r);
        return Py_BuildValue("{sKsKsKsO}", "size", (unsigned long long) st.size, "maxsize",
                             (unsigned long long) st.maxsize, "unfinished", (unsigned long long) st.unfinished,
                             "closed", st.closed ? Py_True : Py_False);
}

MPXPY_NAME_CALL(queue_qsize, mpx_queue_qsize, mpxpy_int_result,
                "queue_qsize(name)\n--\n\nThe exact number of items waiting.")
MPXPY_NAME_CALL(queue_purge, mpx_queue_purge, mpxpy_int_result,
                "queue_purge(name)\n--\n\nDrop every waiting item (not those delivered and undone); "
                "returns how many.")
MPXPY_NAME_CALL(queue_empty, mpx_queue_empty, mpxpy_bool_result,
                "queue_empty(name)\n--\n\nTrue if the queue holds no item.")
MPXPY_NAME_CALL(queue_full, mpx_queue_full, mpxpy_bool_result,
                "queue_full(name)\n--\n\nTrue if the queue holds maxsize items or more.")

PyDoc_STRVAR(queue_close_doc,
"queue_close(name)\n--\n\n"
"Close the queue: puts fail with BrokenPipeError, getters take what is left,\n"
"then get BrokenPipeError. (Connection.close() closes the connection.)");
static PyObject *queue_close(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:queue_close", kwlist, &name))
                return NULL;
        MPXPY_SYNC(self, r, mpx_queue_close(self->m, name));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(queue_task_done_doc,
"queue_task_done(name, tag=0)\n--\n\n"
"Mark a delivery of a joinable queue finished: tag as queue_get() returned\n"
"it, or 0 for this connection's oldest undone delivery (else the oldest\n"
"detached one). ValueError-like OSError(EINVAL) when called too often,\n"
"FileNotFoundError for an unknown tag.");
static PyObject *queue_task_done(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "tag", NULL };
        const char *name;
        unsigned long long tag = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|K:queue_task_done", kwlist, &name, &tag))
                return NULL;
        MPXPY_SYNC(self, r, mpx_queue_task_done(self->m, name, tag));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(queue_touch_doc,
"queue_touch(name, tag)\n--\n\n"
"Restart the lease of an undone delivery. FileNotFoundError when it is gone.");
static PyObject *queue_touch(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "tag", NULL };
        const char *name;
        unsigned long long tag;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sK:queue_touch", kwlist, &name, &tag))
                return NULL;
        MPXPY_SYNC(self, r, mpx_queue_touch(self->m, name, tag));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(queue_join_doc,
"queue_join(name, timeout=None)\n--\n\n"
"Wait until every item put in the joinable queue is taken and done.\n"
"BlockingIOError (timeout 0), TimeoutError, OSError(EIDRM). Interruptible.");
static PyObject *queue_join(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "timeout", NULL };
        const char *name;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O&:queue_join", kwlist, &name, mpxpy_timeout, &ms) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, mpx_queue_join_async(self->m, name, ms, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        return rq.interrupted ? NULL : mpxpy_none_result(r);
}

PyDoc_STRVAR(finish_doc,
"finish()\n--\n\n"
"What close() does before it disconnects, for the exit of a process: wait\n"
"for the replies of pipelined puts (a failure becomes a RuntimeWarning) and\n"
"give back the items kept for later gets. Does nothing, and returns False,\n"
"when another thread is in a call on this Connection, or when it is closed\n"
"or inherited: an exit never waits for a blocked call.");
static PyObject *finish(ConnObject *self, PyObject *unused) {
        if (!self->m || getpid() != self->pid || !PyThread_acquire_lock(self->lock, NOWAIT_LOCK))
                Py_RETURN_FALSE;
        self->owner = PyThread_get_thread_ident();
        mpxpy_queue_settle_quietly(self);
        mpxpy_queue_give_back(self);
        mpxpy_leave(self);
        Py_RETURN_TRUE;
}

PyMethodDef mpxpy_queue_methods[] = {
        MPXPY_METHOD(flush),
        { "finish", (PyCFunction) finish, METH_NOARGS, finish_doc },
        MPXPY_METHOD(queue_declare),
        MPXPY_METHOD(queue_put),
        MPXPY_METHOD(queue_put_pipelined),
        MPXPY_METHOD(queue_put_many),
        MPXPY_METHOD(queue_get),
        MPXPY_METHOD(queue_get_many),
        MPXPY_METHOD(queue_peek),
        MPXPY_METHOD(queue_stat),
        MPXPY_METHOD(queue_qsize),
        MPXPY_METHOD(queue_purge),
        MPXPY_METHOD(queue_empty),
        MPXPY_METHOD(queue_full),
        MPXPY_METHOD(queue_close),
        MPXPY_METHOD(queue_task_done),
        MPXPY_METHOD(queue_touch),
        MPXPY_METHOD(queue_join),
        { NULL }
};
