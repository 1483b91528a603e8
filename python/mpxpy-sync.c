/* SPDX-License-Identifier: MIT */
/*
 * Semaphores, events, barriers and the pipe rendezvous: Connection.sem_*,
 * event_*, barrier_*, pipe_open, and the module's pipe_send/pipe_recv.
 * The calls that wait in the daemon (acquire, wait, pipe_open) go through
 * mpxpy_wait() and can be interrupted; what an interrupted one got anyway
 * (a unit, a descriptor) is given back, so that nothing leaks.
 */
#include "mpxpy.h"

#include <errno.h>
#include <poll.h>
#include <unistd.h>

/* A call taking a name and a timeout, made asynchronously and waited for. */
typedef int64_t name_timeout_async(mpx *m, const char *name, int64_t timeout_ms, mpx_callback *cb,
                                   void *userdata);

/*
 * Parse (name, timeout=None), run call, and return its result, or -1 with
 * an exception (a bad argument, or an interruption: *interrupted is then set
 * and the result is in *ret).
 */
static int name_timeout_wait(ConnObject *self, PyObject *args, PyObject *kwds, const char *fmt,
                             name_timeout_async *call, const char **ret_name, int64_t *ret) {
        static char *kwlist[] = { "name", "timeout", NULL };
        int64_t ms = -1;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, fmt, kwlist, ret_name, mpxpy_timeout, &ms) ||
            mpxpy_enter(self) < 0)
                return -1;
        *ret = mpxpy_wait(self, call(self->m, *ret_name, ms, mpxpy_req_done, &rq), &rq);
        if (rq.interrupted)
                return -2;      /* the connection is still taken: the caller undoes, then leaves */
        mpxpy_leave(self);
        return 0;
}

/* ---- semaphores ---- */

PyDoc_STRVAR(sem_declare_doc,
"sem_declare(name, value=1, max=0, flags=0)\n--\n\n"
"Create a semaphore with an initial value; flags: SEM_BOUNDED (release past\n"
"max fails; a lock is value 1, max 1, SEM_BOUNDED), SEM_NO_UNDO (units of a\n"
"closing connection are not given back), DURABLE or COUNTED. max is the bound of a\n"
"bounded one (0: the initial value), and must be 0 for others.\n"
"Returns 1 if created, 0 if it existed; FileExistsError for other parameters.");
static PyObject *sem_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "value", "max", "flags", NULL };
        const char *name;
        unsigned long long value = 1, max = 0;
        unsigned flags = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|KKI:sem_declare", kwlist, &name, &value, &max, &flags))
                return NULL;
        if (!max && (flags & MPX_SEM_BOUNDED))
                max = value;
        MPXPY_SYNC(self, r, mpx_sem_declare(self->m, name, value, max, flags));
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(sem_acquire_doc,
"sem_acquire(name, timeout=None)\n--\n\n"
"Take one unit, waiting up to timeout seconds. Returns True, or False when\n"
"the unit is held but its previous holder died holding it (EOWNERDEAD: repair\n"
"what it guards, then release as usual). BlockingIOError (timeout 0),\n"
"TimeoutError, OSError(EIDRM). Interrupted by a signal whose handler\n"
"raises, the acquire is cancelled; a unit granted before the cancel\n"
"arrived is released again, so that the exception leaves nothing held.");
static PyObject *sem_acquire(ConnObject *self, PyObject *args, PyObject *kwds) {
        const char *name;
        int64_t r;
        int st = name_timeout_wait(self, args, kwds, "s|O&:sem_acquire", mpx_sem_acquire_async, &name, &r);

        if (st == -2) {
                if (r == 0 || r == -EOWNERDEAD) {
                        Py_BEGIN_ALLOW_THREADS
                        mpx_sem_release(self->m, name);
                        Py_END_ALLOW_THREADS
                }
                mpxpy_leave(self);
        }
        if (st < 0)
                return NULL;
        if (r == -EOWNERDEAD)
                Py_RETURN_FALSE;
        return r < 0 ? mpxpy_error(r) : Py_NewRef(Py_True);
}

MPXPY_NAME_CALL(sem_release, mpx_sem_release, mpxpy_none_result,
                "sem_release(name)\n--\n\nGive one unit back; OSError(ERANGE) past a bounded maximum.")
MPXPY_NAME_CALL(sem_value, mpx_sem_value, mpxpy_int_result, "sem_value(name)\n--\n\nThe current value.")

/* ---- events ---- */

PyDoc_STRVAR(event_declare_doc,
"event_declare(name, flags=0)\n--\n\n"
"Create an event, clear (flags: COUNTED; an event is never durable).\n"
"Returns 1 if created, 0 if it existed.");
static PyObject *event_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "flags", NULL };
        const char *name;
        unsigned flags = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|I:event_declare", kwlist, &name, &flags))
                return NULL;
        MPXPY_SYNC(self, r, mpx_event_declare_flags(self->m, name, flags));
        return mpxpy_int_result(r);
}
MPXPY_NAME_CALL(event_set, mpx_event_set, mpxpy_none_result,
                "event_set(name)\n--\n\nSet the flag and wake every waiter.")
MPXPY_NAME_CALL(event_clear, mpx_event_clear, mpxpy_none_result, "event_clear(name)\n--\n\nClear the flag.")
MPXPY_NAME_CALL(event_is_set, mpx_event_is_set, mpxpy_bool_result,
                "event_is_set(name)\n--\n\nTrue if the flag is set.")

PyDoc_STRVAR(event_wait_doc,
"event_wait(name, timeout=None)\n--\n\n"
"Wait until the flag is set: True, or False when timeout seconds passed\n"
"(timeout 0 too), as threading.Event.wait(). OSError(EIDRM). Interruptible.");
static PyObject *event_wait(ConnObject *self, PyObject *args, PyObject *kwds) {
        const char *name;
        int64_t r;
        int st = name_timeout_wait(self, args, kwds, "s|O&:event_wait", mpx_event_wait_async, &name, &r);

        if (st == -2)
                mpxpy_leave(self);
        if (st < 0)
                return NULL;
        if (r == -ETIMEDOUT || r == -EAGAIN)
                Py_RETURN_FALSE;
        return r < 0 ? mpxpy_error(r) : Py_NewRef(Py_True);
}

/* ---- barriers ---- */

/*
 * A converter for "O&" of barrier timeouts: TIMEOUT_DEFAULT (the barrier's
 * own timeout) as it is, else as mpxpy_timeout().
 */
int mpxpy_barrier_timeout(PyObject *o, void *ret_ms) {
        if (PyLong_Check(o)) {
                int overflow;
                long long v = PyLong_AsLongLongAndOverflow(o, &overflow);

                if (!overflow && v == MPX_TIMEOUT_DEFAULT) {
                        *(int64_t *) ret_ms = MPX_TIMEOUT_DEFAULT;
                        return 1;
                }
        }
        return mpxpy_timeout(o, ret_ms);
}

PyDoc_STRVAR(barrier_declare_doc,
"barrier_declare(name, parties, flags=0, timeout=None)\n--\n\n"
"Create a barrier for parties processes. flags: COUNTED, BARRIER_ACTION (the\n"
"last party of each round gets index parties - 1 while the others stay\n"
"parked, runs the action, then calls barrier_pass(), or barrier_abort() if\n"
"the action failed). timeout: the barrier's own timeout in seconds, used by\n"
"waits given TIMEOUT_DEFAULT; an existing barrier must have the same one.\n"
"None stores no timeout and accepts an existing barrier's, whatever it is.\n"
"Returns 1 if created, 0 if it existed; FileExistsError for other parties,\n"
"another action flag or another timeout.");
static PyObject *barrier_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "parties", "flags", "timeout", NULL };
        const char *name;
        unsigned parties, flags = 0;
        PyObject *timeout = Py_None;
        int64_t ms = -1;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sI|IO:barrier_declare", kwlist, &name, &parties, &flags,
                                         &timeout) ||
            (timeout != Py_None && !mpxpy_timeout(timeout, &ms)))
                return NULL;
        MPXPY_SYNC(self, r, timeout == Py_None ? mpx_barrier_declare_flags(self->m, name, parties, flags)
                                               : mpx_barrier_declare_timeout(self->m, name, parties, flags, ms));
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(barrier_wait_doc,
"barrier_wait(name, timeout=None)\n--\n\n"
"Wait until all parties wait; returns this party's arrival index.\n"
"timeout: seconds, None (forever) or TIMEOUT_DEFAULT (the barrier's own,\n"
"as barrier_declare() stored it). TimeoutError (the barrier is then broken),\n"
"OSError(ENOTRECOVERABLE) (it is broken: Python's BrokenBarrierError),\n"
"BlockingIOError (timeout 0). With BARRIER_ACTION, the party that gets\n"
"parties - 1 returns while the others stay parked until its barrier_pass().\n"
"Interrupted by a signal whose handler raises, the party is withdrawn\n"
"without breaking the barrier (unless all had already arrived).");
static PyObject *barrier_wait(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "timeout", NULL };
        const char *name;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|O&:barrier_wait", kwlist, &name, mpxpy_barrier_timeout,
                                         &ms) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, mpx_barrier_wait_async(self->m, name, ms, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        if (rq.interrupted)
                return NULL;
        return mpxpy_int_result(r);
}

MPXPY_NAME_CALL(barrier_pass, mpx_barrier_pass, mpxpy_none_result,
                "barrier_pass(name)\n--\n\nThe action of the round this connection holds (its barrier_wait()\n"
                "returned parties - 1 on a BARRIER_ACTION barrier) ran: release the round.\n"
                "OSError(EINVAL) when this connection holds no round, OSError(ENOTRECOVERABLE)\n"
                "when the barrier broke meanwhile.")
MPXPY_NAME_CALL(barrier_reset, mpx_barrier_reset, mpxpy_none_result,
                "barrier_reset(name)\n--\n\nBack to empty and unbroken; waiters get OSError(ENOTRECOVERABLE).")
MPXPY_NAME_CALL(barrier_abort, mpx_barrier_abort, mpxpy_none_result,
                "barrier_abort(name)\n--\n\nBreak the barrier: waiters and later waits fail.")

/* ---- pipes ---- */

PyDoc_STRVAR(pipe_open_doc,
"pipe_open(name, mode=PIPE_DUPLEX, timeout=None)\n--\n\n"
"Meet another process at name and return a descriptor (int, close-on-exec,\n"
"yours to close) of the new channel: a socket for PIPE_DUPLEX, the read end\n"
"of a pipe for PIPE_READ (whose partner opened PIPE_WRITE), the write end for\n"
"PIPE_WRITE. Use pipe_send()/pipe_recv() for messages, or os.read/os.write.\n"
"BlockingIOError (no partner, timeout 0), TimeoutError. Interrupted by a\n"
"signal whose handler raises, the wait is cancelled; a descriptor received\n"
"anyway is closed (the partner then sees the channel closed).");
static PyObject *pipe_open(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "mode", "timeout", NULL };
        const char *name;
        int mode = MPX_PIPE_DUPLEX, fd = -1;
        int64_t ms = -1, r;
        struct mpxpy_req rq = { 0 };

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|iO&:pipe_open", kwlist, &name, &mode, mpxpy_timeout, &ms) ||
            mpxpy_enter(self) < 0)
                return NULL;
        r = mpxpy_wait(self, mpx_pipe_open_async(self->m, name, mode, ms, &fd, mpxpy_req_done, &rq), &rq);
        mpxpy_leave(self);
        if (rq.interrupted) {
                if (r == 0)
                        close(fd);
                return NULL;
        }
        return r < 0 ? mpxpy_error(r) : PyLong_FromLong(fd);
}

/* Wait until fd is readable, with signals let in: 0, or -1 with an exception. */
static int wait_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n, e;

        for (;;) {
                Py_BEGIN_ALLOW_THREADS
                n = poll(&p, 1, -1);
                e = errno;
                Py_END_ALLOW_THREADS
                if (n > 0)
                        return 0;
                if (e != EINTR) {
                        errno = e;
                        PyErr_SetFromErrno(PyExc_OSError);
                        return -1;
                }
                if (PyErr_CheckSignals() < 0)
                        return -1;
        }
}

PyDoc_STRVAR(pipe_send_doc,
"pipe_send(fd, data)\n--\n\n"
"Write one whole message (a little-endian u32 length, then data) on a pipe\n"
"end. BrokenPipeError when the other end is closed; never raises SIGPIPE.");
static PyObject *mpxpy_pipe_send(PyObject *module, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "fd", "data", NULL };
        Py_buffer data;
        int fd, r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "iy*:pipe_send", kwlist, &fd, &data))
                return NULL;
        Py_BEGIN_ALLOW_THREADS
        r = mpx_pipe_send(fd, data.buf, (size_t) data.len);
        Py_END_ALLOW_THREADS
        PyBuffer_Release(&data);
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(pipe_recv_doc,
"pipe_recv(fd)\n--\n\n"
"Read one whole message sent with pipe_send() and return its bytes.\n"
"BrokenPipeError when the other end closed before a message began,\n"
"OSError(EPROTO) when it closed in the middle of one. Waiting for a message\n"
"to begin can be interrupted by a signal; once one has begun it is read\n"
"whole.");
static PyObject *mpxpy_pipe_recv(PyObject *module, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "fd", NULL };
        mpx_buf b = { 0 };
        PyObject *res;
        int fd, r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:pipe_recv", kwlist, &fd) || wait_readable(fd) < 0)
                return NULL;
        Py_BEGIN_ALLOW_THREADS
        r = mpx_pipe_recv(fd, &b);
        Py_END_ALLOW_THREADS
        if (r < 0)
                return mpxpy_error(r);
        res = PyBytes_FromStringAndSize(b.data, (Py_ssize_t) b.size);
        mpx_buf_clear(&b);
        return res;
}

PyDoc_STRVAR(strerror_doc,
"strerror(errno)\n--\n\n"
"mpx's words for an errno code (positive or negative), as in its OSErrors.");
static PyObject *mpxpy_strerror(PyObject *module, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "errno", NULL };
        int e;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:strerror", kwlist, &e))
                return NULL;
        return PyUnicode_FromString(mpx_strerror(e > 0 ? -e : e));
}

PyMethodDef mpxpy_sync_methods[] = {
        MPXPY_METHOD(sem_declare),
        MPXPY_METHOD(sem_acquire),
        MPXPY_METHOD(sem_release),
        MPXPY_METHOD(sem_value),
        MPXPY_METHOD(event_declare),
        MPXPY_METHOD(event_set),
        MPXPY_METHOD(event_clear),
        MPXPY_METHOD(event_is_set),
        MPXPY_METHOD(event_wait),
        MPXPY_METHOD(barrier_declare),
        MPXPY_METHOD(barrier_pass),
        MPXPY_METHOD(barrier_wait),
        MPXPY_METHOD(barrier_reset),
        MPXPY_METHOD(barrier_abort),
        MPXPY_METHOD(pipe_open),
        { NULL }
};

PyMethodDef mpxpy_module_functions[] = {
        { "pipe_send", (PyCFunction) (void (*)(void)) mpxpy_pipe_send, METH_VARARGS | METH_KEYWORDS, pipe_send_doc },
        { "pipe_recv", (PyCFunction) (void (*)(void)) mpxpy_pipe_recv, METH_VARARGS | METH_KEYWORDS, pipe_recv_doc },
        { "strerror", (PyCFunction) (void (*)(void)) mpxpy_strerror, METH_VARARGS | METH_KEYWORDS, strerror_doc },
        { NULL }
};
