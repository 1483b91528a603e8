/* SPDX-License-Identifier: MIT */
/*
 * What the files of the extension mpx._mpx share: the Connection object, the
 * way a call enters and leaves it, and the wait of a blocking request.
 *
 * Every method of Connection runs under the connection's own lock (so that
 * two threads may share one Connection safely) and with the GIL released
 * while it talks to mpxd (so that the threads of other Connections go on).
 * Calls that can wait in the daemon are made with their asynchronous form
 * and waited for by mpxpy_wait(), which runs signal handlers and cancels the
 * request when one raises.
 */
#ifndef MPXPY_H
#define MPXPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <mpx.h>

#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) {
        Py_INCREF(o);
        return o;
}
#endif

/*
 * Run one synchronous libmpx call, call, storing its result in r, with the
 * connection taken and the GIL released; returns NULL from the calling
 * method when the connection cannot be taken (closed, forked, interrupted).
 */
#define MPXPY_SYNC(c, r, call) do { \
                if (mpxpy_enter(c) < 0) \
                        return NULL; \
                Py_BEGIN_ALLOW_THREADS \
                (r) = (call); \
                Py_END_ALLOW_THREADS \
                mpxpy_leave(c); \
        } while (0)

/* The end of a method whose call returns a count or a flag: an int, or the error. */
PyObject *mpxpy_int_result(int64_t r);
/* ... whose call returns only 0 or an error: None, or the error. */
PyObject *mpxpy_none_result(int64_t r);
/* ... whose call returns 1 or 0: a bool, or the error. */
PyObject *mpxpy_bool_result(int64_t r);

/* A method that takes an object's name only and makes one call of it, result converted by conv. */
#define MPXPY_NAME_CALL(fn, call, conv, doc) \
        PyDoc_STRVAR(fn##_doc, doc); \
        static PyObject *fn(ConnObject *self, PyObject *args, PyObject *kwds) { \
                static char *kwlist[] = { "name", NULL }; \
                const char *name; \
                int64_t r; \
                if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:" #fn, kwlist, &name)) \
                        return NULL; \
                MPXPY_SYNC(self, r, call(self->m, name)); \
                return conv(r); \
        }

/* A method table entry of a method taking keywords, documented by fn_doc. */
#define MPXPY_METHOD(fn) { #fn, (PyCFunction) (void (*)(void)) fn, METH_VARARGS | METH_KEYWORDS, fn##_doc }

struct pipelined;
struct mpxpy_aio;

typedef struct {
        PyObject_HEAD
        mpx *m;                 /* NULL once closed */
        pid_t pid;              /* the process that connected */
        unsigned generation;    /* of forks, when it connected (_mpx.c) */
        PyThread_type_lock lock;
        unsigned long owner;    /* the thread in a call, while lock is held */
        /*
         * Items an interrupted get took after all: a list of (queue name,
         * data, tag, detached) given out by the next get of that queue, or
         * given back by close().
         */
        PyObject *held;
        /*
         * Pipelined puts (queue_put_pipelined()): how many await their
         * reply, and the failures not yet raised, the first of each queue,
         * oldest first (mpxpy-queue.c).
         */
        size_t puts_in_flight;
        STAILQ_HEAD(, pipelined) put_failures;
        /*
         * Requests started for an event loop (mpxpy-async.c): those not yet
         * handed to Python, by id (a dict of int to the request's address),
         * how many of them await their reply, and those completed, oldest
         * first, that process() hands over next.
         */
        PyObject *aio_requests;
        size_t aio_in_flight;
        STAILQ_HEAD(, mpxpy_aio) aio_done;
        PyObject *weakrefs;     /* so that the package can track open Connections weakly */
} ConnObject;

/* One asynchronous request, as its callback leaves it. */
struct mpxpy_req {
        int done;
        int interrupted;        /* a signal handler raised while it waited */
        int64_t result;
};

extern PyObject *mpxpy_inherited_error;

/* Raise OSError(-r, mpx_strerror(r)), which Python turns into its subclass; return NULL. */
PyObject *mpxpy_error(int64_t r);

/* A converter for "O&": None -> -1 (forever), seconds (int or float >= 0) -> milliseconds. */
int mpxpy_timeout(PyObject *o, void *ret_ms);

/* Take the connection for one call: -1 with an exception when closed, forked or interrupted. */
int mpxpy_enter(ConnObject *c);
void mpxpy_leave(ConnObject *c);

/* The callback of every request made by mpxpy_wait()'s callers: userdata is a struct mpxpy_req. */
void mpxpy_req_done(mpx *m, int64_t result, void *userdata);

/*
 * Run the connection, without the GIL, until the request id completes, and
 * return its result (id itself when negative: nothing was queued). When a
 * signal handler raises meanwhile, the request is cancelled and still waited
 * for, rq->interrupted is set and the handler's exception is left pending:
 * the caller undoes whatever the request did after all, then returns NULL.
 */
int64_t mpxpy_wait(ConnObject *c, int64_t id, struct mpxpy_req *rq);

/*
 * One step of the connection without the GIL: wait (200 ms at most) for
 * its events, then process. The caller holds the connection.
 */
void mpxpy_step(mpx *m);

/* Save and restore the pending exception around cleanup calls that may use the C API. */
typedef struct {
#if PY_VERSION_HEX >= 0x030C0000
        PyObject *exc;
#else
        PyObject *type, *value, *tb;
#endif
} mpxpy_exc;
void mpxpy_exc_save(mpxpy_exc *e);
void mpxpy_exc_restore(mpxpy_exc *e);

/* Keep items an interrupted get took, for the next get of queue name; the pending exception is left as it is. */
void mpxpy_held_add(ConnObject *c, const char *name, mpx_item *items, size_t n, int detached);
/* Up to max kept items of queue name, oldest first, as get returns them: a list. */
PyObject *mpxpy_held_take(ConnObject *c, const char *name, Py_ssize_t max);
/* What a get returns for an item: bytes, or (bytes, tag) for a delivery of a joinable queue. */
PyObject *mpxpy_item_to_python(const mpx_item *it);

/* A converter for "O&" of barrier timeouts: TIMEOUT_DEFAULT as it is, else as mpxpy_timeout(). */
int mpxpy_barrier_timeout(PyObject *o, void *ret_ms);

/*
 * Before a connection closes (the caller holds it): cancel the requests
 * started for an event loop, wait for them, and undo what they got (an
 * item is kept, then given back with the others). After it closed:
 * mpxpy_async_free() frees what is left. mpxpy-async.c.
 */
void mpxpy_async_shut(ConnObject *c);
void mpxpy_async_free(ConnObject *c);
/* The number of requests started for an event loop and not yet handed to Python. */
Py_ssize_t mpxpy_async_count(ConnObject *c);

/* Give back the items of interrupted gets and gets ahead (close() and deallocation). */
void mpxpy_queue_give_back(ConnObject *c);

/*
 * Wait, without signals, for the replies of every pipelined put, and warn
 * (RuntimeWarning) of a failure not yet raised: a connection that closes
 * reports what it can no longer raise. The pending exception is kept.
 */
void mpxpy_queue_settle_quietly(ConnObject *c);

/* Build a Python list of bytes from n buffers (the buffers are freed by the caller). */
PyObject *mpxpy_bufs_to_list(const mpx_buf *bufs, size_t n);

/*
 * Fill n iovecs from a sequence of bytes-like read-only objects; *ret_seq
 * keeps them alive (a fast sequence) until the caller drops it.
 */
int mpxpy_iovecs(PyObject *items, struct iovec **ret_iov, Py_ssize_t *ret_n, PyObject **ret_seq);

/* The methods of each concept, gathered into Connection's method table. */
extern PyMethodDef mpxpy_queue_methods[];
extern PyMethodDef mpxpy_shared_methods[];
extern PyMethodDef mpxpy_sync_methods[];
extern PyMethodDef mpxpy_array_methods[];
extern PyMethodDef mpxpy_admin_methods[];
extern PyMethodDef mpxpy_pool_methods[];
extern PyMethodDef mpxpy_async_methods[];
/* Module-level functions: pipe messages, strerror. */
extern PyMethodDef mpxpy_module_functions[];

/* The Mapping type of arrays (mpxpy-array.c). */
extern PyTypeObject *mpxpy_mapping_type;
int mpxpy_array_init_module(PyObject *module);

#endif
