# SPDX-License-Identifier: MIT
"""Queues with the API of multiprocessing.Queue, SimpleQueue and JoinableQueue.

Items are encoded by ``mpx._codec`` (``serializer=``) and kept in mpxd, so
processes that did not fork from one another share a queue by its name::

    q = mpx.Queue(name="jobs")          # in any process

There is no feeder thread, and no item waits in the process. A put to an
unbounded queue is pipelined: it returns once the item is written to the
daemon's socket, without waiting for the answer, as multiprocessing's
``put`` returns before its feeder thread writes. Should such a put fail
after all (the queue was shut down or deleted, a memory or disk limit), the
exception (``ShutDown``, ``FileNotFoundError``, ``OSError`` ENOSPC ...) is
raised by the thread's next put to the same queue, or by ``join_thread()``,
which waits for every answer; one still unraised when the
process exits is a ``RuntimeWarning``. A put to a bounded queue waits for its
answer, so that ``maxsize`` holds exactly, and raises its own failure.

A consumer that comes back for the next item at once (within 200 us of its
last get) takes items ahead: its gets ask for up to twice as many as the
last time, at most ``prefetch`` (64 by default), as many as the queue holds
then, and return them one by one without a request. A consumer that takes
its time gets one item a request, so that items wait in the queue for
whichever consumer is free. Items taken ahead and not returned are given
back to the tail of the queue by ``close()`` of the thread's connection and
when the process exits (multiprocessing's children included); a consumer
that is killed loses them, as it loses the item it was handed.
``prefetch=1`` turns this off. (Items of a plain queue are the consumer's
once they are sent to it: docs/PROTOCOL.md, redelivery.)

``close()`` is multiprocessing's: this process puts (and gets) no more
through this handle, whose reference it drops. ``shutdown()`` closes the
queue for everyone (the daemon's queue close): puts raise ``ShutDown``, gets
take what is left, then raise ``ShutDown`` too.

The names of factories, the lifetime of anonymous queues and pickling are
described in ``mpx._handle``.
"""

import errno
import os
import queue
import threading
import time

from . import _codec
from . import _conn
from . import _mpx
from ._handle import Handle

Empty = queue.Empty
Full = queue.Full

if hasattr(queue, "ShutDown"):
    class ShutDown(queue.ShutDown):
        """The queue was shut down (for everyone): no more puts, and no more gets once drained."""
else:
    class ShutDown(Exception):
        """The queue was shut down (for everyone): no more puts, and no more gets once drained."""


# A get that comes within this many seconds of the last one is a fast consumer's.
_FAST_CONSUMER = 0.0002
DEFAULT_PREFETCH = 64


def _timeout(block, timeout):
    if not block:
        return 0
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout


class _QueueBase(Handle):
    _flags = 0

    def __init__(self, maxsize=0, name=None, create=True, exclusive=False, *, serializer="pickle", address=None,
                 prefetch=DEFAULT_PREFETCH):
        self._maxsize = max(int(maxsize), 0)
        self._serializer = _codec.check_serializer(serializer)
        self._prefetch = int(prefetch)
        if self._prefetch < 1:
            raise ValueError("prefetch must be at least 1")
        self._joinable = bool(self._flags & _mpx.QUEUE_JOINABLE)
        self._reset_local()
        self._open(name, create, exclusive, address)

    def _reset_local(self):
        self._put_closed = False
        self._ahead = 1                 # how many the next get takes
        self._last_get = -1.0           # when the last get returned (time.monotonic())

    def _declare(self, conn, name, flags):
        try:
            return conn.queue_declare(name, self._maxsize, self._flags | flags)
        except OSError as e:
            if e.errno != errno.EPROTOTYPE:
                raise
            return 0        # another kind of queue, or no queue: opening it checks the type

    def _attach(self, info):
        self._maxsize = info.get("maxsize", 0)
        self._joinable = info.get("type") == "joinable"

    def _state(self):
        return (self._maxsize, self._serializer, self._prefetch, self._joinable)

    def _set_state(self, state):
        self._maxsize, self._serializer, self._prefetch, self._joinable = state
        self._reset_local()

    @property
    def maxsize(self):
        """The most items the queue holds (0: unbounded)."""
        return self._maxsize

    def put(self, obj, block=True, timeout=None):
        """Put obj in the queue, waiting up to timeout seconds for room (queue.Full).

        block=False never waits. ShutDown when the queue was shut down;
        ValueError after this handle's close().
        """
        if self._put_closed or self._closed:
            raise ValueError("Queue %s is closed" % self._name)
        data = _codec.encode(obj, self._serializer)
        timeout = _timeout(block, timeout)     # checked even where an unbounded queue never waits
        try:
            if self._maxsize:
                self._c().queue_put(self._name, data, timeout)
            else:
                self._c().queue_put_pipelined(self._name, data)
        except (BlockingIOError, TimeoutError):
            raise Full from None
        except BrokenPipeError as e:
            raise ShutDown("queue %s was shut down" % (e.filename or self._name)) from None

    def put_nowait(self, obj):
        """put(obj, False)."""
        return self.put(obj, False)

    def _get(self, block, timeout, detach=False, ahead=1):
        if self._closed:
            raise ValueError("Queue %s is closed" % self._name)
        try:
            return self._c().queue_get(self._name, _timeout(block, timeout), detach, 0.0, ahead)
        except (BlockingIOError, TimeoutError):
            raise Empty from None
        except BrokenPipeError:
            raise ShutDown("queue %s was shut down" % self._name) from None

    def get(self, block=True, timeout=None):
        """Take the oldest item, waiting up to timeout seconds (queue.Empty).

        block=False never waits. ShutDown when the queue was shut down and
        is drained. A fast consumer takes items ahead (see the module's
        docstring).
        """
        if self._joinable:
            # A joinable queue opened as a Queue: its items are detached deliveries, left for
            # a JoinableQueue's task_done() (of any process), as Python's JoinableQueue.get() leaves them.
            data, _ = self._get(block, timeout, True)
            return _codec.decode(data, self._serializer)
        if self._prefetch == 1:
            return _codec.decode(self._get(block, timeout), self._serializer)
        if time.monotonic() - self._last_get < _FAST_CONSUMER:
            self._ahead = min(self._ahead * 2, self._prefetch)
        else:
            self._ahead = 1
        data = self._get(block, timeout, ahead=self._ahead)
        self._last_get = time.monotonic()
        return _codec.decode(data, self._serializer)

    def get_nowait(self):
        """get(False)."""
        return self.get(False)

    def qsize(self):
        """The number of items in the queue."""
        return self._c().queue_qsize(self._name)

    def empty(self):
        """True if the queue holds no item."""
        return self._c().queue_empty(self._name)

    def full(self):
        """True if a bounded queue holds maxsize items."""
        return self._c().queue_full(self._name)

    def close(self):
        """This process puts no more through this handle, which drops its reference.

        The thread's pipelined puts are answered first, so that they reach the
        queue before the reference ends (which may be the queue's last); their
        failures are left for join_thread().
        """
        if not self._closed and not self._maxsize:
            try:
                _conn.get(self._address).flush(False)
            except OSError:
                pass            # the connection is gone: its puts went with it
        self._put_closed = True
        super().close()

    def join_thread(self):
        """Wait until the daemon answered every put of this thread, and raise the first failure.

        As multiprocessing's, it may be called after close() only.
        """
        if not self._put_closed:
            raise ValueError("Queue %s is not closed" % self._name)
        try:
            _conn.get(self._address).flush()
        except BrokenPipeError as e:
            raise ShutDown("queue %s was shut down" % (e.filename or self._name)) from None

    def cancel_join_thread(self):
        """Nothing to cancel: there is no feeder thread, and no item waits in the process."""

    def shutdown(self):
        """Close the queue for everyone: puts raise ShutDown; gets drain it, then raise ShutDown."""
        self._c().queue_close(self._name)


class Queue(_QueueBase):
    """multiprocessing.Queue(maxsize=0) over an mpx queue.

    Queue(maxsize=0, name=None, create=True, exclusive=False, *,
    serializer="pickle", address=None, prefetch=64). An existing queue is
    opened with the maxsize it has. A Queue may open a joinable queue too.
    Puts to an unbounded queue are pipelined and fast consumers take up to
    prefetch items ahead: see the module's docstring.
    """

    _types = ("queue", "joinable")


class SimpleQueue(_QueueBase):
    """multiprocessing.SimpleQueue over an unbounded mpx queue: put, get, empty, close."""

    _types = ("queue", "joinable")

    def __init__(self, name=None, create=True, exclusive=False, *, serializer="pickle", address=None,
                 prefetch=DEFAULT_PREFETCH):
        super().__init__(0, name, create, exclusive, serializer=serializer, address=address, prefetch=prefetch)


class JoinableQueue(_QueueBase):
    """multiprocessing.JoinableQueue over an mpx joinable queue.

    Each get of this process keeps the tag of its delivery; task_done()
    finishes this process's oldest one (FIFO), or, when it has none, the
    queue's oldest detached delivery; ValueError when there is nothing left
    to finish. Deliveries are detached: any thread of the process may finish
    them, and one this process did not finish stays unfinished (as in
    multiprocessing) should it die.
    """

    _types = ("joinable",)
    _flags = _mpx.QUEUE_JOINABLE

    def _set_state(self, state):
        super()._set_state(state)
        self._tags_init()

    def _tags_init(self):
        self._tags = []
        self._tags_pid = os.getpid()
        self._tags_lock = threading.Lock()

    def _open(self, *args):
        self._tags_init()
        return super()._open(*args)

    def _my_tags(self):
        if self._tags_pid != os.getpid():
            self._tags_init()
        return self._tags

    def get(self, block=True, timeout=None):
        """Take the oldest item, as Queue.get(); the delivery waits for a task_done()."""
        data, tag = self._get(block, timeout, True)
        with self._tags_lock:
            self._my_tags().append(tag)
        return _codec.decode(data, self._serializer)

    def task_done(self):
        """The oldest delivery this process took is done; ValueError when called too often."""
        with self._tags_lock:
            tags = self._my_tags()
            tag = tags.pop(0) if tags else 0
        try:
            self._c().queue_task_done(self._name, tag)
        except OSError as e:
            if tag:
                with self._tags_lock:
                    self._my_tags().insert(0, tag)
            if isinstance(e, FileNotFoundError) or e.errno == 22:
                raise ValueError("task_done() called too many times") from None
            raise

    def join(self, timeout=None):
        """Wait until every item put is taken and done; returns False when timeout seconds passed.

        (multiprocessing's join() takes no timeout and returns None; with the
        default, this one returns True.)
        """
        try:
            self._c().queue_join(self._name, timeout)
        except (BlockingIOError, TimeoutError):
            return False
        return True
