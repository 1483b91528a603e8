/* SPDX-License-Identifier: MIT */
/*
 * mpx._mpx: the low-level CPython binding of libmpx. This file holds the
 * module, the Connection type and what every call shares: errors, timeouts,
 * the per-connection lock, the check against use from a forked child, and
 * the interruptible wait of blocking requests. The calls themselves live in
 * mpxpy-queue.c, mpxpy-shared.c (dicts, lists), mpxpy-sync.c (semaphores,
 * events, barriers, pipes), mpxpy-array.c (values, arrays, mappings) and
 * mpxpy-admin.c (delete, chmod, chown, ping, inspection), mpxpy-pool.c
 * (pools of workers); mpxpy-async.c holds the requests an event loop starts
 * and runs (mpx.aio).
 */
#include "mpxpy.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <structmember.h>

PyObject *mpxpy_inherited_error;

/*
 * Bumped in the child of every fork(): a Connection opened in another
 * generation was inherited. Cheaper than getpid(), a system call, on every
 * call of every method.
 */
static unsigned fork_generation;

static void fork_child(void) {
        fork_generation++;
}

PyObject *mpxpy_error(int64_t r) {
        int e = r < 0 && r > -4096 ? (int) -r : EPROTO;

        PyErr_SetObject(PyExc_OSError, Py_BuildValue("(is)", e, mpx_strerror(-e)));
        return NULL;
}

int mpxpy_timeout(PyObject *o, void *ret_ms) {
        int64_t *ms = ret_ms;
        double s;

        if (o == Py_None) {
                *ms = -1;
                return 1;
        }
        s = PyFloat_AsDouble(o);
        if (s == -1.0 && PyErr_Occurred())
                return 0;
        if (isnan(s) || s < 0) {
                PyErr_SetString(PyExc_ValueError, "timeout must be None or a number of seconds >= 0");
                return 0;
        }
        /* Rounded up, so that a small positive timeout never becomes "do not wait". */
        s = ceil(s * 1000.0);
        *ms = s >= (double) INT64_MAX ? -1 : (int64_t) s;
        return 1;
}

void mpxpy_exc_save(mpxpy_exc *e) {
#if PY_VERSION_HEX >= 0x030C0000
        e->exc = PyErr_GetRaisedException();
#else
        PyErr_Fetch(&e->type, &e->value, &e->tb);
#endif
}

void mpxpy_exc_restore(mpxpy_exc *e) {
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(e->exc);
#else
        PyErr_Restore(e->type, e->value, e->tb);
#endif
}

PyObject *mpxpy_int_result(int64_t r) {
        return r < 0 ? mpxpy_error(r) : PyLong_FromLongLong(r);
}

PyObject *mpxpy_bool_result(int64_t r) {
        return r < 0 ? mpxpy_error(r) : PyBool_FromLong((long) r);
}

PyObject *mpxpy_none_result(int64_t r) {
        if (r < 0)
                return mpxpy_error(r);
        Py_RETURN_NONE;
}

static int conn_check(ConnObject *c) {
        if (!c->m) {
                PyErr_SetString(PyExc_ValueError, "operation on a closed mpx Connection");
                return -1;
        }
        if (c->generation != fork_generation) {
                PyErr_SetString(mpxpy_inherited_error,
                                "this mpx Connection belongs to the parent process; open a new one in the child");
                return -1;
        }
        return 0;
}

int mpxpy_enter(ConnObject *c) {
        PyLockStatus st;

        if (conn_check(c) < 0)
                return -1;
        if (!PyThread_acquire_lock(c->lock, NOWAIT_LOCK)) {
                /* This thread is in a call already: a signal handler run while it waits. */
                if (c->owner == PyThread_get_thread_ident()) {
                        PyErr_SetString(PyExc_RuntimeError,
                                        "mpx Connection used while this thread waits in a call on it "
                                        "(from a signal handler?): use another Connection");
                        return -1;
                }
                /* Another thread is in a call: wait without the GIL, and let signals in. */
                do {
                        Py_BEGIN_ALLOW_THREADS
                        st = PyThread_acquire_lock_timed(c->lock, -1, 1);
                        Py_END_ALLOW_THREADS
                        if (st == PY_LOCK_INTR && PyErr_CheckSignals() < 0)
                                return -1;
                } while (st != PY_LOCK_ACQUIRED);
        }
        /* The other thread may have closed it meanwhile. */
        if (conn_check(c) < 0) {
                PyThread_release_lock(c->lock);
                return -1;
        }
        c->owner = PyThread_get_thread_ident();
        return 0;
}

void mpxpy_leave(ConnObject *c) {
        c->owner = 0;
        PyThread_release_lock(c->lock);
}

void mpxpy_req_done(mpx *m, int64_t result, void *userdata) {
        struct mpxpy_req *rq = userdata;

        rq->result = result;
        rq->done = 1;
}

/*
 * How long poll() waits at most. Python's signal handler only sets a flag:
 * a signal that lands while the GIL is released but outside poll() (during
 * mpx_process()) does not interrupt it, and is seen at the next wake-up.
 */
#define WAIT_SLICE_MS 200

void mpxpy_step(mpx *m) {
        struct pollfd p = { .fd = mpx_fd(m) };
        int n;

        Py_BEGIN_ALLOW_THREADS
        /* A request just made goes out at once, and the poll waits for its reply only. */
        if (mpx_events(m) & POLLOUT)
                mpx_send(m);
        p.events = mpx_events(m);
        if (!p.events)
                n = 1;          /* lost: mpx_process() completes every request */
        else
                n = poll(&p, 1, WAIT_SLICE_MS);
        if (n > 0)
                mpx_process(m);
        Py_END_ALLOW_THREADS
}

int64_t mpxpy_wait(ConnObject *c, int64_t id, struct mpxpy_req *rq) {
        rq->interrupted = 0;
        if (id < 0)
                return id;
        while (!rq->done) {
                /*
                 * Whatever poll() says (EINTR included), go on: the request
                 * must complete before rq, on the caller's stack, goes away.
                 */
                mpxpy_step(c->m);
                if (!rq->interrupted && PyErr_CheckSignals() < 0) {
                        /* The callback still runs once, with -ECANCELED or what was served first. */
                        rq->interrupted = 1;
                        if (!rq->done)
                                mpx_cancel(c->m, id);
                }
        }
        /*
         * A signal that came with the reply raises here rather than after
         * the method returns, where Python would drop what it returned: the
         * caller keeps or undoes what the request did, as for a cancel.
         */
        if (!rq->interrupted && PyErr_CheckSignals() < 0)
                rq->interrupted = 1;
        return rq->result;
}

PyObject *mpxpy_bufs_to_list(const mpx_buf *bufs, size_t n) {
        PyObject *list = PyList_New((Py_ssize_t) n);

        for (size_t i = 0; list && i < n; i++) {
                PyObject *b = PyBytes_FromStringAndSize(bufs[i].data, (Py_ssize_t) bufs[i].size);

                if (!b) {
                        Py_CLEAR(list);
                        break;
                }
                PyList_SET_ITEM(list, (Py_ssize_t) i, b);
        }
        return list;
}

int mpxpy_iovecs(PyObject *items, struct iovec **ret_iov, Py_ssize_t *ret_n, PyObject **ret_seq) {
        PyObject *seq = PySequence_Fast(items, "expected a sequence of bytes");
        struct iovec *iov;
        Py_ssize_t n;

        if (!seq)
                return -1;
        n = PySequence_Fast_GET_SIZE(seq);
        iov = PyMem_Calloc(n ? (size_t) n : 1, sizeof(*iov));
        if (!iov) {
                Py_DECREF(seq);
                PyErr_NoMemory();
                return -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
                char *data;
                Py_ssize_t size;

                if (PyBytes_AsStringAndSize(PySequence_Fast_GET_ITEM(seq, i), &data, &size) < 0) {
                        PyMem_Free(iov);
                        Py_DECREF(seq);
                        return -1;
                }
                iov[i].iov_base = data;
                iov[i].iov_len = (size_t) size;
        }
        *ret_iov = iov;
        *ret_n = n;
        *ret_seq = seq;
        return 0;
}

/* ---- the Connection type ---- */

/*
 * A failed connect: the socket's own error (no such file, connection
 * refused, permission denied) in the system's words with the path, which
 * libmpx's words for object errors ("no such object") would misstate.
 */
static void connect_error(const char *path, int r) {
        const char *env = getenv("MPX_SOCKET");
        int e = r < 0 && r > -4096 ? -r : EPROTO;

        if (!path)
                path = env && *env ? env : MPX_DEFAULT_SOCKET;
        if (e == EPROTO) {
                mpxpy_error(r);
                return;
        }
        /* OSError(errno, strerror, filename) picks the subclass (FileNotFoundError ...). */
        PyErr_SetObject(PyExc_OSError, Py_BuildValue("(iss)", e, strerror(e), path));
}

static int conn_init(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "path", "name", NULL };
        const char *path = NULL, *name = NULL;
        mpx *m = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|zz:Connection", kwlist, &path, &name))
                return -1;
        if (self->m) {
                PyErr_SetString(PyExc_RuntimeError, "Connection is already initialised");
                return -1;
        }
        Py_BEGIN_ALLOW_THREADS
        r = name ? mpx_connect_named(path, name, &m) : mpx_connect(path, &m);
        Py_END_ALLOW_THREADS
        if (r < 0) {
                connect_error(path, r);
                return -1;
        }
        if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
                mpx_disconnect(m);
                PyErr_NoMemory();
                return -1;
        }
        if (!self->held && !(self->held = PyList_New(0))) {
                mpx_disconnect(m);
                return -1;
        }
        self->m = m;
        self->pid = getpid();
        self->generation = fork_generation;
        STAILQ_INIT(&self->put_failures);
        STAILQ_INIT(&self->aio_done);
        return 0;
}

/* Close without the lock: the caller holds it, or nobody else can (deallocation). */
static void conn_shut(ConnObject *self) {
        mpx *m = self->m;

        if (!m)
                return;
        /* A forked child gives back nothing of its parent's; disconnecting there sends nothing. */
        if (getpid() == self->pid) {
                mpxpy_async_shut(self);
                mpxpy_queue_settle_quietly(self);
                mpxpy_queue_give_back(self);
        }
        self->m = NULL;
        Py_BEGIN_ALLOW_THREADS
        mpx_disconnect(m);
        Py_END_ALLOW_THREADS
        mpxpy_async_free(self);
}

static void conn_dealloc(ConnObject *self) {
        PyTypeObject *tp = Py_TYPE(self);
        mpxpy_exc e;

        if (self->weakrefs)
                PyObject_ClearWeakRefs((PyObject *) self);
        mpxpy_exc_save(&e);
        conn_shut(self);
        mpxpy_exc_restore(&e);
        Py_CLEAR(self->held);
        Py_CLEAR(self->aio_requests);
        if (self->lock)
                PyThread_free_lock(self->lock);
        tp->tp_free((PyObject *) self);
        Py_DECREF(tp);
}

PyDoc_STRVAR(conn_close_doc,
"close()\n--\n\n"
"Close the connection. Items that an interrupted queue_get() took and that\n"
"no later get returned are given back first (see queue_get()). Closing twice\n"
"is allowed. A call in progress in another thread is waited for first. In a\n"
"forked child it only drops the child's copy: the parent's connection is\n"
"left alone.");
static PyObject *conn_close(ConnObject *self, PyObject *unused) {
        if (!self->m)
                Py_RETURN_NONE;
        if (getpid() != self->pid) {
                conn_shut(self);
                Py_RETURN_NONE;
        }
        if (mpxpy_enter(self) < 0)
                return NULL;
        conn_shut(self);
        mpxpy_leave(self);
        Py_RETURN_NONE;
}

PyDoc_STRVAR(conn_fileno_doc,
"fileno()\n--\n\n"
"The connection's socket, for select/poll only: never read or write it.");
static PyObject *conn_fileno(ConnObject *self, PyObject *unused) {
        if (conn_check(self) < 0)
                return NULL;
        return PyLong_FromLong(mpx_fd(self->m));
}

static PyObject *conn_enter_ctx(ConnObject *self, PyObject *unused) {
        if (conn_check(self) < 0)
                return NULL;
        return Py_NewRef(self);
}

static PyObject *conn_exit_ctx(ConnObject *self, PyObject *args) {
        return conn_close(self, NULL);
}

static PyObject *conn_get_max_message(ConnObject *self, void *closure) {
        if (conn_check(self) < 0)
                return NULL;
        return PyLong_FromSize_t(mpx_max_message(self->m));
}

static PyObject *conn_get_closed(ConnObject *self, void *closure) {
        return PyBool_FromLong(self->m == NULL);
}

static PyObject *conn_get_held(ConnObject *self, void *closure) {
        return PyLong_FromSsize_t(self->held ? PyList_GET_SIZE(self->held) : 0);
}

static PyObject *conn_get_requests(ConnObject *self, void *closure) {
        return PyLong_FromSsize_t(mpxpy_async_count(self));
}

static PyObject *conn_get_pid(ConnObject *self, void *closure) {
        return PyLong_FromLong((long) self->pid);
}

static PyGetSetDef conn_getset[] = {
        { "max_message", (getter) conn_get_max_message, NULL,
          "The largest payload the daemon accepts, in bytes.", NULL },
        { "closed", (getter) conn_get_closed, NULL, "True once close() was called.", NULL },
        { "held", (getter) conn_get_held, NULL,
          "How many items of interrupted gets this connection keeps for the next get.", NULL },
        { "pid", (getter) conn_get_pid, NULL, "The process that opened the connection.", NULL },
        { "requests", (getter) conn_get_requests, NULL,
          "How many requests started by *_start() methods are not yet handed to their callbacks.", NULL },
        { NULL }
};

static PyMethodDef conn_base_methods[] = {
        { "close", (PyCFunction) conn_close, METH_NOARGS, conn_close_doc },
        { "fileno", (PyCFunction) conn_fileno, METH_NOARGS, conn_fileno_doc },
        { "__enter__", (PyCFunction) conn_enter_ctx, METH_NOARGS, "Return the connection itself." },
        { "__exit__", (PyCFunction) conn_exit_ctx, METH_VARARGS, "Close the connection." },
        { NULL }
};

PyDoc_STRVAR(conn_doc,
"Connection(path=None, name=None)\n--\n\n"
"One connection to mpxd. path is the daemon's socket (None: $MPX_SOCKET,\n"
"else " MPX_DEFAULT_SOCKET "); name is the client name the daemon logs\n"
"(None: the program's name).\n\n"
"Every method is one request to the daemon. Payloads are bytes, object\n"
"names str, timeouts None (wait forever) or seconds. A failure raises\n"
"OSError(errno, message), which Python turns into its subclass:\n"
"FileNotFoundError (no such object), PermissionError, TimeoutError,\n"
"BlockingIOError (timeout 0 and it would wait), BrokenPipeError (queue\n"
"closed), FileExistsError ...\n\n"
"Blocking methods release the GIL and can be interrupted by a signal\n"
"(KeyboardInterrupt): the request is cancelled in the daemon, and what it\n"
"did anyway is undone or kept, as each method's docstring says.\n\n"
"Threads: a Connection belongs to one thread at a time. Calls from several\n"
"threads are safe (each takes the connection's lock), but they run one\n"
"after another, so a thread that blocks in a get holds up the others: give\n"
"each thread its own Connection. Processes: a Connection may not be used\n"
"in a child made by fork(); there every call raises\n"
"InheritedConnectionError: open a new Connection in the child.");

static PyMemberDef conn_members[] = {
        { "__weaklistoffset__", T_PYSSIZET, offsetof(ConnObject, weakrefs), READONLY, NULL },
        { NULL }
};

static PyType_Slot conn_slots[] = {
        { Py_tp_members, conn_members },
        { Py_tp_doc, (void *) conn_doc },
        { Py_tp_init, conn_init },
        { Py_tp_new, PyType_GenericNew },
        { Py_tp_dealloc, conn_dealloc },
        { Py_tp_getset, conn_getset },
        { Py_tp_methods, NULL },        /* filled by conn_methods() */
        { 0, NULL }
};

static PyType_Spec conn_spec = {
        .name = "mpx._mpx.Connection",
        .basicsize = sizeof(ConnObject),
        .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
        .slots = conn_slots,
};

/* Gather the method tables of every concept into one, for the type. */
static PyMethodDef *conn_methods(void) {
        PyMethodDef *tables[] = { conn_base_methods, mpxpy_queue_methods, mpxpy_shared_methods,
                                  mpxpy_sync_methods, mpxpy_array_methods, mpxpy_admin_methods,
                                  mpxpy_pool_methods, mpxpy_async_methods };
        static PyMethodDef *all;
        size_t n = 0, k = 0;

        if (all)
                return all;
        for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
                for (PyMethodDef *d = tables[t]; d->ml_name; d++)
                        n++;
        all = PyMem_Calloc(n + 1, sizeof(*all));
        if (!all)
                return (PyMethodDef *) PyErr_NoMemory();
        for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
                for (PyMethodDef *d = tables[t]; d->ml_name; d++)
                        all[k++] = *d;
        return all;
}

/* ---- the module ---- */

struct constant {
        const char *name;
        long long value;
};

static const struct constant constants[] = {
        { "DURABLE", MPX_DURABLE },
        { "COUNTED", MPX_COUNTED },
        { "BARRIER_ACTION", MPX_BARRIER_ACTION },
        { "TIMEOUT_DEFAULT", MPX_TIMEOUT_DEFAULT },
        { "QUEUE_JOINABLE", MPX_QUEUE_JOINABLE },
        { "QUEUE_CONNECTION", MPX_QUEUE_CONNECTION },
        { "GET_DETACH", MPX_GET_DETACH },
        { "SEM_BOUNDED", MPX_SEM_BOUNDED },
        { "SEM_NO_UNDO", MPX_SEM_NO_UNDO },
        { "DICT_KEYS", MPX_DICT_KEYS },
        { "DICT_VALUES", MPX_DICT_VALUES },
        { "DICT_ITEMS", MPX_DICT_ITEMS },
        { "PIPE_DUPLEX", MPX_PIPE_DUPLEX },
        { "PIPE_READ", MPX_PIPE_READ },
        { "PIPE_WRITE", MPX_PIPE_WRITE },
        { "RESTART_ALWAYS", MPX_RESTART_ALWAYS },
        { "RESTART_ON_FAILURE", MPX_RESTART_ON_FAILURE },
        { "RESTART_NEVER", MPX_RESTART_NEVER },
        { NULL, 0 }
};

static int module_exec(PyObject *module) {
        PyMethodDef *methods = conn_methods();
        PyObject *type;
        static int fork_hooked;

        if (!methods)
                return -1;
        if (!fork_hooked && pthread_atfork(NULL, NULL, fork_child) != 0) {
                PyErr_SetString(PyExc_RuntimeError, "pthread_atfork failed");
                return -1;
        }
        fork_hooked = 1;
        for (PyType_Slot *s = conn_slots; s->slot; s++)
                if (s->slot == Py_tp_methods)
                        s->pfunc = methods;
        type = PyType_FromSpec(&conn_spec);
        if (!type || PyModule_AddObject(module, "Connection", type) < 0) {
                Py_XDECREF(type);
                return -1;
        }
        mpxpy_inherited_error = PyErr_NewExceptionWithDoc("mpx._mpx.InheritedConnectionError",
                "A Connection was used in a process forked from the one that opened it.",
                PyExc_RuntimeError, NULL);
        if (!mpxpy_inherited_error ||
            PyModule_AddObject(module, "InheritedConnectionError", Py_NewRef(mpxpy_inherited_error)) < 0)
                return -1;
        for (const struct constant *k = constants; k->name; k++)
                if (PyModule_AddIntConstant(module, k->name, (long) k->value) < 0)
                        return -1;
        if (PyModule_AddStringConstant(module, "DEFAULT_SOCKET", MPX_DEFAULT_SOCKET) < 0)
                return -1;
        return mpxpy_array_init_module(module);
}

PyDoc_STRVAR(module_doc,
"The low-level binding of libmpx, the client library of the IPC broker mpxd.\n\n"
"Connection is one connection to the daemon, with one method per call of\n"
"libmpx (queue_*, dict_*, list_*, sem_*, event_*, barrier_*, value_*,\n"
"array_*, pipe_open, delete, chmod, chown, ping, object_info,\n"
"list_objects). Errors are OSError subclasses chosen by errno; mapping them\n"
"to multiprocessing's exceptions is the job of the package mpx above this.");

static struct PyModuleDef mpx_module = {
        PyModuleDef_HEAD_INIT,
        .m_name = "mpx._mpx",
        .m_doc = module_doc,
        .m_size = -1,
        .m_methods = mpxpy_module_functions,
};

PyMODINIT_FUNC PyInit__mpx(void);
PyMODINIT_FUNC PyInit__mpx(void) {
        PyObject *module = PyModule_Create(&mpx_module);

        if (module && module_exec(module) < 0)
                Py_CLEAR(module);
        return module;
}
