/* SPDX-License-Identifier: MIT */
/*
 * Pools of worker processes: Connection.pool_*, and the one queue call a
 * worker needs besides the others, queue_get_delivery(), which says how
 * often the item was handed out (a job whose workers keep dying is failed
 * rather than run for ever: python/mpx/pool.py).
 */
#include "mpxpy.h"

#include <string.h>

PyDoc_STRVAR(pool_start_doc,
"pool_start(name, workers, argv, restart=RESTART_ALWAYS)\n--\n\n"
"Have mpxd start and supervise workers processes running argv (a sequence\n"
"of str, argv[0] an absolute path or a name found in the daemon's PATH),\n"
"with MPX_SOCKET, MPX_POOL and MPX_WORKER in their environment, restarted\n"
"by restart (RESTART_ALWAYS, RESTART_ON_FAILURE, RESTART_NEVER).\n"
"Returns 1 when started, 0 when a pool of that name already runs the same\n"
"command; FileExistsError for another command, PermissionError when this\n"
"user may not start pools, FileNotFoundError for argv[0].");
static PyObject *pool_start(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "workers", "argv", "restart", NULL };
        const char *name;
        unsigned workers;
        int restart = MPX_RESTART_ALWAYS, r;
        PyObject *argv, *seq;
        const char **v;
        Py_ssize_t n;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sIO|i:pool_start", kwlist, &name, &workers, &argv, &restart))
                return NULL;
        if (!(seq = PySequence_Fast(argv, "argv must be a sequence of str")))
                return NULL;
        n = PySequence_Fast_GET_SIZE(seq);
        if (n < 1 || !(v = PyMem_Calloc((size_t) n + 1, sizeof(*v)))) {
                Py_DECREF(seq);
                return n < 1 ? (PyErr_SetString(PyExc_ValueError, "argv must not be empty"), NULL)
                             : PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++)
                if (!(v[i] = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i)))) {
                        PyMem_Free(v);
                        Py_DECREF(seq);
                        return NULL;
                }
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(v);
                Py_DECREF(seq);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = mpx_pool_start(self->m, name, workers, restart, v);
        Py_END_ALLOW_THREADS
        mpxpy_leave(self);
        PyMem_Free(v);
        Py_DECREF(seq);
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(pool_scale_doc,
"pool_scale(name, workers)\n--\n\n"
"Run workers workers: new indexes start, those scaled away get SIGTERM.");
static PyObject *pool_scale(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "workers", NULL };
        const char *name;
        unsigned workers;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sI:pool_scale", kwlist, &name, &workers))
                return NULL;
        MPXPY_SYNC(self, r, mpx_pool_scale(self->m, name, workers));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(pool_signal_doc,
"pool_signal(name, sig)\n--\n\n"
"Send sig to every running worker's process group; returns how many.");
static PyObject *pool_signal(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "sig", NULL };
        const char *name;
        int sig, r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "si:pool_signal", kwlist, &name, &sig))
                return NULL;
        MPXPY_SYNC(self, r, mpx_pool_signal(self->m, name, sig));
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(pool_stop_doc,
"pool_stop(name, grace=None)\n--\n\n"
"SIGTERM every worker, SIGKILL those still running after grace seconds\n"
"(None: never; 0: at once), and wait until all have exited and the pool is\n"
"deleted. Interruptible: the pool goes on stopping.");
static PyObject *pool_stop(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "grace", NULL };
        const char *name;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O&:pool_stop", kwlist, &name, mpxpy_timeout, &ms) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, mpx_pool_stop_async(self->m, name, ms, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        return rq.interrupted ? NULL : mpxpy_none_result(r);
}

PyDoc_STRVAR(queue_get_delivery_doc,
"queue_get_delivery(name, timeout=None, done=0)\n--\n\n"
"A worker's get from a joinable queue: take the oldest item as a delivery\n"
"tied to this connection (put back at the head if the connection closes\n"
"before queue_task_done(name, tag)), and return (data, tag, deliveries),\n"
"deliveries counting this one (1 the first time). Errors as queue_get().\n"
"done: the tag of a delivery to finish first, in the same request (the\n"
"daemon's DONE_GET): FileNotFoundError or OSError(EINVAL) when that finish\n"
"is refused, and then nothing else happened; any other outcome means the\n"
"delivery is finished.\n"
"Interrupted by a signal whose handler raises, the get is cancelled; an\n"
"item taken anyway goes back when the connection closes.");
static PyObject *queue_get_delivery(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "timeout", "done", NULL };
        const char *name;
        int64_t ms = -1, r;
        unsigned long long done = 0;
        mpx_item it = { 0 };
        struct mpxpy_req rq = { 0 };
        PyObject *res;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O&K:queue_get_delivery", kwlist, &name, mpxpy_timeout,
                                         &ms, &done) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, done ? mpx_queue_done_get_async(self->m, name, done, ms, 0, 0, &it, mpxpy_req_done, &rq)
                                  : mpx_queue_get_async(self->m, name, ms, &it, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        if (rq.interrupted)
                res = NULL;
        else if (r < 0)
                res = mpxpy_error(r);
        else
                res = Py_BuildValue("(y#KI)", (const char *) it.data, (Py_ssize_t) it.size,
                                    (unsigned long long) it.tag, (unsigned) it.deliveries);
        mpx_item_clear(&it);
        return res;
}

PyMethodDef mpxpy_pool_methods[] = {
        MPXPY_METHOD(pool_start),
        MPXPY_METHOD(pool_scale),
        MPXPY_METHOD(pool_signal),
        MPXPY_METHOD(pool_stop),
        MPXPY_METHOD(queue_get_delivery),
        { NULL }
};
