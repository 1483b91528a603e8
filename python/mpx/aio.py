# SPDX-License-Identifier: MIT
"""asyncio forms of mpx's queues, locks, semaphores, events and barriers.

Each class here opens the same mpxd object as the synchronous class of the
same name in ``mpx`` (same ``name=``, ``create=``, ``exclusive=``,
``serializer=`` and ``address=`` arguments, same encoding, same
exceptions), so that a synchronous process and an asyncio one share a
queue, a lock or a barrier by its name. Only the calls that wait are
coroutines::

    q = mpx.aio.Queue(name="jobs")
    item = await q.get()                    # or await q.get(timeout=5)
    await q.put(item)
    async with mpx.aio.Lock(name="printer"):
        ...

No thread waits for the daemon. Each event loop has one connection to it
per address, opened on first use and closed when the loop closes (or when
the process exits): every coroutine of that loop makes its request
through it, without waiting (libmpx's asynchronous calls), and the loop
watches the connection's descriptor with ``add_reader()`` (and
``add_writer()`` only while requests are still to be written). Thousands of
tasks may wait on one connection at once.

A waiting coroutine can be cancelled (``task.cancel()``,
``asyncio.wait_for()``, ``asyncio.timeout()``): the request is cancelled in
the daemon, and what it got anyway before the cancel reached the daemon is
not lost. An item is kept by the loop's connection and returned first by the
next get of that queue in that loop (a get already waiting there is woken
for it); a unit of a semaphore or lock is released again; a barrier party
is withdrawn without breaking the barrier (or, when the round of a barrier
with an action fell to it, the barrier is aborted, since the action will not
run). Items still kept when the loop closes are given back to their queues.

The methods that do not wait (``put_nowait``, ``get_nowait``, ``qsize``,
``release``, ``set`` ...) are plain calls, made on the same connection from
inside the loop: each is one quick round trip to the daemon.
"""

import asyncio
import atexit
import errno
import functools
import os
import select
import warnings
import weakref

from . import _codec
from . import _conn
from . import _mpx
from . import queues as _queues
from . import synchronize as _synchronize

Empty = _queues.Empty
Full = _queues.Full
ShutDown = _queues.ShutDown
BrokenBarrierError = _synchronize.BrokenBarrierError
OwnerDiedWarning = _synchronize.OwnerDiedWarning

__all__ = ["Queue", "SimpleQueue", "JoinableQueue", "Lock", "Semaphore", "BoundedSemaphore", "Event", "Barrier",
           "Empty", "Full", "ShutDown", "BrokenBarrierError", "OwnerDiedWarning"]


class _Link:
    """One event loop's connection to one daemon, watched by the loop.

    Requests are started with the connection's ``*_start()`` methods; the
    reader runs ``process()``, which calls their callbacks, and a writer is
    added only while ``events()`` asks for POLLOUT.
    """

    def __init__(self, loop, address):
        self.conn = _conn._opening(_mpx.Connection(address, "python-%d-aio" % os.getpid()))
        self.fd = self.conn.fileno()
        self.pid = os.getpid()
        self.closed = False
        self._loop = weakref.ref(loop)
        self._writing = False
        self._poked = False
        self.kept = 0                   # items that cancelled gets took and this link kept
        # Gets waiting in the daemon, by queue, oldest first: {name: {id: None}}.
        self.getters = {}
        loop.add_reader(self.fd, self._ready)

    def _ready(self):
        if self.closed:
            return
        kept = self.conn.process()
        self.kept += len(kept)
        for name in kept:
            self.wake_getter(name)
        self._watch_output()

    def _watch_output(self):
        events = self.conn.events()
        if not events:                  # lost: every request has completed with an error
            self.close()
            return
        loop = self._loop()
        want = bool(events & select.POLLOUT)
        if want and not self._writing:
            loop.add_writer(self.fd, self._ready)
        elif self._writing and not want:
            loop.remove_writer(self.fd)
        self._writing = want

    def poke(self):
        """A plain call is made on the connection: completions it read are handed over soon."""
        if not self._poked:
            self._poked = True
            self._loop().call_soon(self._after_call)

    def _after_call(self):
        self._poked = False
        self._ready()

    def start(self, method, *args, undo=None, **kwds):
        """Start a request with the connection's method; return (id, future of its result).

        undo(result) undoes what the request got, should nobody take it.
        """
        fut = self._loop().create_future()
        rid = method(*args, callback=functools.partial(_settle, fut, undo), **kwds)
        self._watch_output()
        return rid, fut

    async def wait(self, rid, fut, undo=None):
        """Await the request's result; cancelled, cancel it and undo what it got anyway (see the module docstring)."""
        try:
            return await fut
        except BaseException:
            # cancel() is False once the callback ran: a result in fut is undone here.
            if not self.closed and not self.conn.cancel(rid) and undo is not None:
                if fut.done() and not fut.cancelled() and fut.exception() is None:
                    undo(fut.result())
            raise

    async def call(self, method, *args, undo=None, **kwds):
        """Start a request and await its result."""
        rid, fut = self.start(method, *args, undo=undo, **kwds)
        return await self.wait(rid, fut, undo)

    def hold(self, name, item, detach=False):
        """Keep an item nobody took, for the next get of its queue in this loop."""
        data, tag = item if isinstance(item, tuple) else (item, 0)
        self.conn.queue_hold(name, data, tag, detach)
        self.kept += 1
        self.wake_getter(name)

    def wake_getter(self, name):
        """An item is kept for queue name: have the oldest get waiting in the daemon for it take it instead."""
        waiting = self.getters.get(name)
        if waiting:
            rid = next(iter(waiting))
            del waiting[rid]
            # Its callback sees ECANCELED (then it takes the kept item) or an item of its own.
            self.conn.cancel(rid, dispose=False)
            self._watch_output()

    def close(self):
        """Stop watching the connection and close it (requests in flight are cancelled and undone)."""
        if self.closed:
            return
        self.closed = True
        loop = self._loop()
        if loop is not None and not loop.is_closed() and self.pid == os.getpid():
            loop.remove_reader(self.fd)
            if self._writing:
                loop.remove_writer(self.fd)
        self.conn.close()


def _settle(fut, undo, result):
    # The callback of every request, called by process(). A task cancelled
    # meanwhile has its future cancelled at once, but cancels its request only
    # when it runs next: what the request got is undone here.
    if fut.done():
        if undo is not None and not isinstance(result, BaseException):
            undo(result)
        return
    if isinstance(result, BaseException):
        fut.set_exception(result)
    else:
        fut.set_result(result)


_links = weakref.WeakKeyDictionary()    # loop -> {address: _Link}


def _close_links(links):
    for link in list(links.values()):
        link.close()
    links.clear()


def _hook_loop(loop, links):
    """Close the loop's links when it closes, else when it is collected, else at exit."""
    weakref.finalize(loop, _close_links, links)
    close = loop.close

    def closing():
        loop.__dict__.pop("close", None)
        _close_links(links)
        close()

    try:
        loop.close = closing
    except AttributeError:             # a loop type without instance attributes
        pass


def _link(loop, address):
    links = _links.get(loop)
    if links is None:
        links = _links[loop] = {}
        _hook_loop(loop, links)
    link = links.get(address)
    if link is None or link.closed or link.pid != os.getpid():
        link = links[address] = _Link(loop, address)
    return link


def _link_of(handle):
    """The running loop's link to the handle's daemon, the handle's reference taken first."""
    handle._check_open()
    return _link(asyncio.get_running_loop(), handle._address)


@atexit.register
def _close_all():
    for links in list(_links.values()):
        _close_links(links)


class _OnLoop:
    """Calls of a synchronous handle go through the running loop's connection (else the thread's)."""

    def _c(self):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return super()._c()
        self._check_open()
        link = _link(loop, self._address)
        link.poke()
        return link.conn


class _SyncQueue(_OnLoop, _queues.Queue):
    pass


class _SyncJoinableQueue(_OnLoop, _queues.JoinableQueue):
    pass


class _SyncSemaphore(_OnLoop, _synchronize.Semaphore):
    pass


class _SyncBoundedSemaphore(_OnLoop, _synchronize.BoundedSemaphore):
    pass


class _SyncLock(_OnLoop, _synchronize.Lock):
    pass


class _SyncEvent(_OnLoop, _synchronize.Event):
    pass


class _SyncBarrier(_OnLoop, _synchronize.Barrier):
    pass


class _Wrapper:
    """What every class here shares: the synchronous handle it wraps (self._h)."""

    @property
    def name(self):
        """The object's name in the daemon."""
        return self._h.name

    @property
    def address(self):
        """The socket of the daemon that holds the object."""
        return self._h.address

    def close(self):
        """Drop this handle's reference (counted objects end with their last one); idempotent."""
        self._h.close()

    def delete(self):
        """Delete the object in the daemon now; whoever waits on it gets OSError(EIDRM)."""
        self._h.delete()

    def __repr__(self):
        return "<%s.%s name=%r>" % (type(self).__module__, type(self).__qualname__, self._h.name)


def _timeout(timeout):
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout


async def _get(h, timeout, detach):
    """Take an item of h's queue: bytes, or (bytes, tag) with detach; kept items first."""
    if h._closed:
        raise ValueError("Queue %s is closed" % h._name)
    link = _link_of(h)
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + _timeout(timeout)
    name = h._name
    while True:
        item = link.conn.queue_take_held(name)
        if item is not None:
            return item
        left = None if deadline is None else max(deadline - loop.time(), 0)
        undo = functools.partial(link.hold, name, detach=detach)
        rid, fut = link.start(link.conn.queue_get_start, name, left, detach=detach, undo=undo)
        waiting = link.getters.setdefault(name, {})
        waiting[rid] = None
        retry = False
        try:
            return await link.wait(rid, fut, undo)
        except (BlockingIOError, TimeoutError):
            raise Empty from None
        except BrokenPipeError:
            raise ShutDown("queue %s was shut down" % name) from None
        except OSError as e:
            if e.errno != errno.ECANCELED:
                raise
            retry = True                # woken: an item was kept for this queue, take it
        finally:
            woken = rid not in waiting
            waiting.pop(rid, None)
            if woken and not retry and link.conn.held:
                # Woken for a kept item, but served (or cancelled) first: the next getter takes it.
                link.wake_getter(name)
            if not waiting and link.getters.get(name) is waiting:
                del link.getters[name]


class Queue(_Wrapper):
    """mpx.Queue for asyncio: ``await get()``, ``await put()``; the other methods are plain calls.

    Queue(maxsize=0, name=None, create=True, exclusive=False, *,
    serializer="pickle", address=None). Gets take one item a request (no
    items are taken ahead).
    """

    _sync = _SyncQueue

    def __init__(self, maxsize=0, name=None, create=True, exclusive=False, *, serializer="pickle", address=None):
        self._h = self._sync(maxsize, name, create, exclusive, serializer=serializer, address=address, prefetch=1)

    @property
    def maxsize(self):
        """The most items the queue holds (0: unbounded)."""
        return self._h.maxsize

    async def put(self, obj, timeout=None):
        """Put obj in the queue, waiting up to timeout seconds for room (queue.Full).

        ShutDown when the queue was shut down. Cancelled while it waits for
        room, the item may still have been put if room came first.
        """
        h = self._h
        if h._put_closed or h._closed:
            raise ValueError("Queue %s is closed" % h._name)
        data = _codec.encode(obj, h._serializer)
        link = _link_of(h)
        try:
            await link.call(link.conn.queue_put_start, h._name, data, _timeout(timeout))
        except (BlockingIOError, TimeoutError):
            raise Full from None
        except BrokenPipeError:
            raise ShutDown("queue %s was shut down" % h._name) from None

    def put_nowait(self, obj):
        """Put obj without waiting: queue.Full when a bounded queue is full."""
        self._h.put(obj, False)

    async def get(self, timeout=None):
        """Take the oldest item, waiting up to timeout seconds (queue.Empty).

        ShutDown when the queue was shut down and is drained. Cancelled, it
        loses no item (see the module docstring).
        """
        return _codec.decode(await _get(self._h, timeout, False), self._h._serializer)

    def get_nowait(self):
        """Take the oldest item without waiting: queue.Empty when there is none."""
        return self._h.get(False)

    def qsize(self):
        """The number of items in the queue."""
        return self._h.qsize()

    def empty(self):
        """True if the queue holds no item."""
        return self._h.empty()

    def full(self):
        """True if a bounded queue holds maxsize items."""
        return self._h.full()

    def shutdown(self):
        """Close the queue for everyone: puts raise ShutDown; gets drain it, then raise ShutDown."""
        self._h.shutdown()

    def close(self):
        """This process puts no more through this handle, which drops its reference."""
        self._h.close()


class SimpleQueue(Queue):
    """mpx.SimpleQueue for asyncio: an unbounded Queue (``await get()``, ``await put()``, empty)."""

    def __init__(self, name=None, create=True, exclusive=False, *, serializer="pickle", address=None):
        super().__init__(0, name, create, exclusive, serializer=serializer, address=address)


class JoinableQueue(Queue):
    """mpx.JoinableQueue for asyncio: a Queue with task_done() and ``await join()``.

    As in mpx.JoinableQueue, each get keeps the tag of its (detached)
    delivery, and task_done() finishes this process's oldest one.
    """

    _sync = _SyncJoinableQueue

    async def get(self, timeout=None):
        """Take the oldest item, as Queue.get(); the delivery waits for a task_done()."""
        h = self._h
        data, tag = await _get(h, timeout, True)
        with h._tags_lock:
            h._my_tags().append(tag)
        return _codec.decode(data, h._serializer)

    def get_nowait(self):
        """Take the oldest item without waiting (queue.Empty); it waits for a task_done()."""
        return self._h.get(False)

    def task_done(self):
        """The oldest delivery this process took is done; ValueError when called too often."""
        self._h.task_done()

    async def join(self, timeout=None):
        """Wait until every item put is taken and done; False when timeout seconds passed, else True."""
        link = _link_of(self._h)
        try:
            await link.call(link.conn.queue_join_start, self._h._name, _timeout(timeout))
        except (BlockingIOError, TimeoutError):
            return False
        return True


class Semaphore(_Wrapper):
    """mpx.Semaphore for asyncio: ``await acquire()``, release(), ``async with``.

    Semaphore(value=1, name=None, create=True, exclusive=False, *,
    address=None).
    """

    _sync = _SyncSemaphore

    def __init__(self, value=1, name=None, create=True, exclusive=False, *, address=None):
        self._h = self._sync(value, name, create, exclusive, address=address)

    @property
    def owner_died(self):
        """True once an acquire took a unit from a holder that died holding it (Lock)."""
        return self._h.owner_died

    async def acquire(self, timeout=None):
        """Take one unit, waiting up to timeout seconds: True, or False when it passed.

        Cancelled, it leaves nothing held: a unit granted before the cancel
        reached the daemon is released again.
        """
        h = self._h
        link = _link_of(h)

        def undo(result):
            link.conn.sem_release(h._name)
            link.poke()

        try:
            got = await link.call(link.conn.sem_acquire_start, h._name, _timeout(timeout), undo=undo)
        except (BlockingIOError, TimeoutError):
            return False
        if not got:
            h.owner_died = True
            warnings.warn("%s: acquired from a holder that died holding it" % h._name, OwnerDiedWarning,
                          stacklevel=2)
        return True

    def release(self):
        """Give one unit back (ValueError past a bounded semaphore's value)."""
        self._h.release()

    def locked(self):
        """True if no unit is free (an acquire would wait)."""
        return self._h.get_value() == 0

    def get_value(self):
        """The number of free units."""
        return self._h.get_value()

    async def __aenter__(self):
        await self.acquire()
        return None

    async def __aexit__(self, *exc):
        self.release()


class BoundedSemaphore(Semaphore):
    """mpx.BoundedSemaphore for asyncio: release past the initial value is a ValueError."""

    _sync = _SyncBoundedSemaphore


class Lock(Semaphore):
    """mpx.Lock for asyncio: ``await acquire()``, release(), locked(), ``async with``.

    Lock(name=None, create=True, exclusive=False, *, address=None). Robust
    as mpx.Lock: the daemon gives back a lock whose holder died, and the next
    acquire sets owner_died and warns (OwnerDiedWarning). The holder is the
    loop's connection: release the lock from the loop that acquired it.
    """

    _sync = _SyncLock

    def __init__(self, name=None, create=True, exclusive=False, *, address=None):
        self._h = self._sync(name, create, exclusive, address=address)


class Event(_Wrapper):
    """mpx.Event for asyncio: ``await wait()``, set(), clear(), is_set().

    Event(name=None, create=True, exclusive=False, *, address=None).
    """

    _sync = _SyncEvent

    def __init__(self, name=None, create=True, exclusive=False, *, address=None):
        self._h = self._sync(name, create, exclusive, address=address)

    def is_set(self):
        """True if the flag is set."""
        return self._h.is_set()

    def set(self):
        """Set the flag and wake every waiter."""
        self._h.set()

    def clear(self):
        """Clear the flag."""
        self._h.clear()

    async def wait(self, timeout=None):
        """Wait until the flag is set: True, or False after timeout seconds."""
        if timeout is not None and timeout < 0:
            timeout = 0
        link = _link_of(self._h)
        try:
            await link.call(link.conn.event_wait_start, self._h._name, timeout)
        except (BlockingIOError, TimeoutError):
            return False
        return True


class Barrier(_Wrapper):
    """mpx.Barrier for asyncio: ``await wait()``, reset(), abort(), parties, n_waiting, broken.

    Barrier(parties, action=None, timeout=None, name=None, create=True,
    exclusive=False, *, address=None). The action may be a plain callable
    or a coroutine function; it runs in the loop of the party that arrives
    last, as in mpx.Barrier.
    """

    _sync = _SyncBarrier

    def __init__(self, parties, action=None, timeout=None, name=None, create=True, exclusive=False, *,
                 address=None):
        self._h = self._sync(parties, action, timeout, name, create, exclusive, address=address)

    async def wait(self, timeout=None):
        """Wait until all parties wait; returns this party's index (0 .. parties - 1).

        timeout None waits the barrier's own timeout. BrokenBarrierError when
        the barrier is or becomes broken, or the timeout passes. Cancelled,
        the party is withdrawn without breaking the barrier.
        """
        h = self._h
        t = _mpx.TIMEOUT_DEFAULT if timeout is None else max(timeout, 0)
        last = h._parties - 1 if h._has_action else -1
        link = _link_of(h)
        conn = link.conn

        def undo(index):
            if index == last:
                conn.barrier_abort(h._name)
                link.poke()

        try:
            index = await link.call(conn.barrier_wait_start, h._name, t, abort_index=last, undo=undo)
        except TimeoutError:
            raise BrokenBarrierError from None
        except BlockingIOError:
            conn.barrier_abort(h._name)
            link.poke()
            raise BrokenBarrierError from None
        except OSError as e:
            if e.errno == errno.ENOTRECOVERABLE:
                raise BrokenBarrierError from None
            raise
        if index == last:
            await self._run_action(conn, link)
        return index

    async def _run_action(self, conn, link):
        # The others stay parked until this connection passes the round, or aborts it.
        h = self._h
        try:
            if h._action is not None:
                r = h._action()
                if asyncio.iscoroutine(r):
                    await r
        except BaseException:
            conn.barrier_abort(h._name)
            link.poke()
            raise
        try:
            conn.barrier_pass(h._name)
        except OSError as e:
            if e.errno == errno.ENOTRECOVERABLE:
                raise BrokenBarrierError from None
            raise
        finally:
            link.poke()

    def reset(self):
        """Back to empty and unbroken; parties waiting get BrokenBarrierError."""
        self._h.reset()

    def abort(self):
        """Break the barrier: parties waiting, and later waits, get BrokenBarrierError."""
        self._h.abort()

    @property
    def parties(self):
        """The number of parties a round needs."""
        return self._h.parties

    @property
    def n_waiting(self):
        """The number of parties waiting now."""
        return self._h.n_waiting

    @property
    def broken(self):
        """True if the barrier is broken."""
        return self._h.broken
