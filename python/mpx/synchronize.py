# SPDX-License-Identifier: MIT
"""Locks, semaphores, conditions, events and barriers with multiprocessing's API.

Each is an mpxd object (a semaphore, an event, a barrier) shared by name::

    lock = mpx.Lock(name="printer")     # in any process

``Lock`` and ``RLock`` are robust: when a process dies holding one, the
daemon gives the unit back, and the next acquire sets ``owner_died = True``
on its handle and warns with ``mpx.OwnerDiedWarning``: repair what the lock
guards. The daemon's holder is the connection of the thread that acquired
(each thread has its own), so a lock still held when its thread ends is
given back the same way. A Lock may be released by another thread or
process, as in multiprocessing, but the daemon then still counts the
acquiring connection as a holder, and the end of that connection later
reports owner_died although nothing was left held. ``Semaphore`` and
``BoundedSemaphore`` count as POSIX semaphores do: a unit taken by a process
that dies is not given back (the daemon's SEM_NO_UNDO).

Timeouts are seconds (floats); None waits forever; ``block=False`` never
waits. The names of factories, the lifetime of anonymous objects and
pickling are described in ``mpx._handle``.
"""

import errno
import os
import sys
import threading
import warnings

from . import _mpx
from ._handle import Handle

BrokenBarrierError = threading.BrokenBarrierError


class OwnerDiedWarning(RuntimeWarning):
    """A lock or semaphore was acquired from a holder that died holding it."""


def _timeout(block, timeout):
    if not block:
        return 0
    if timeout is not None and timeout < 0:
        return 0
    return timeout


class _Sem(Handle):
    _types = ("semaphore",)
    _sem_flags = _mpx.SEM_NO_UNDO

    def __init__(self, value=1, name=None, create=True, exclusive=False, *, address=None):
        if value < 0:
            raise ValueError("semaphore initial value must be >= 0")
        self._value = value
        self.owner_died = False
        self._open(name, create, exclusive, address)

    def _declare(self, conn, name, flags):
        return conn.sem_declare(name, self._value, 0, self._sem_flags | flags)

    def _set_state(self, state):
        self.owner_died = False

    def _sem_acquire(self, block, timeout):
        try:
            got = self._c().sem_acquire(self._name, _timeout(block, timeout))
        except (BlockingIOError, TimeoutError):
            return False
        if not got:
            self.owner_died = True
            warnings.warn("%s: acquired from a holder that died holding it" % self._name,
                          OwnerDiedWarning, stacklevel=3)
        return True

    def acquire(self, block=True, timeout=None):
        """Take one unit: True, or False when block is False or timeout seconds passed."""
        return self._sem_acquire(block, timeout)

    def release(self):
        """Give one unit back."""
        try:
            self._c().sem_release(self._name)
        except OSError as e:
            if e.errno == errno.ERANGE:
                raise ValueError("semaphore or lock released too many times") from None
            raise

    def get_value(self):
        """The number of free units."""
        return self._c().sem_value(self._name)

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


class Semaphore(_Sem):
    """multiprocessing.Semaphore(value=1): a counter of units."""


class BoundedSemaphore(_Sem):
    """multiprocessing.BoundedSemaphore(value=1): release past the initial value is a ValueError."""

    _sem_flags = _mpx.SEM_NO_UNDO | _mpx.SEM_BOUNDED


class Lock(_Sem):
    """multiprocessing.Lock: a bounded semaphore of one, robust (see the module docstring).

    Any thread or process may release it, as in multiprocessing.
    """

    _sem_flags = _mpx.SEM_BOUNDED

    def __init__(self, name=None, create=True, exclusive=False, *, address=None):
        super().__init__(1, name, create, exclusive, address=address)


class RLock(Lock):
    """multiprocessing.RLock: the owning thread may acquire it again.

    The recursion count is kept by the owning thread, and the daemon's lock
    is held once, as threading.RLock does. Releasing it from another thread
    is an AssertionError, as in multiprocessing.
    """

    def _set_state(self, state):
        super()._set_state(state)
        self._owner = None
        self._count = 0

    def _open(self, *args):
        self._owner = None
        self._count = 0
        return super()._open(*args)

    def _me(self):
        return (os.getpid(), threading.get_ident())

    def acquire(self, block=True, timeout=None):
        """Take the lock, or count one more level if this thread holds it."""
        me = self._me()
        if self._owner == me:
            self._count += 1
            return True
        if not self._sem_acquire(block, timeout):
            return False
        self._owner = me
        self._count = 1
        return True

    def release(self):
        """Leave one level; the last one releases the lock."""
        if self._owner != self._me():
            raise AssertionError("attempt to release recursive lock not owned by thread")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            super().release()

    def _is_owned(self):
        return self._owner == self._me()


class Condition:
    """multiprocessing.Condition(lock=None): its algorithm over three mpx semaphores.

    Condition(lock=None, name=None, create=True, exclusive=False, *,
    address=None). The lock (an RLock by default, named name + ".lock") and
    the semaphores name + ".sleeping", ".woken", ".wait" are mpx objects.
    A lock given must be an mpx Lock or RLock; with a name, other processes
    open the condition by that name (and the lock by its own).
    """

    def __init__(self, lock=None, name=None, create=True, exclusive=False, *, address=None):
        sub = (lambda s: None) if name is None else (lambda s: name + s)
        if lock is None:
            lock = RLock(sub(".lock"), create, exclusive, address=address)
        self._lock = lock
        self._sleeping_count = Semaphore(0, sub(".sleeping"), create, exclusive, address=address)
        self._woken_count = Semaphore(0, sub(".woken"), create, exclusive, address=address)
        self._wait_semaphore = Semaphore(0, sub(".wait"), create, exclusive, address=address)

    def __reduce__(self):
        return (_rebuild_condition, (self._lock, self._sleeping_count, self._woken_count, self._wait_semaphore))

    def close(self):
        """Drop the references of the lock and the semaphores."""
        for h in (self._lock, self._sleeping_count, self._woken_count, self._wait_semaphore):
            h.close()

    def acquire(self, block=True, timeout=None):
        """Acquire the underlying lock."""
        return self._lock.acquire(block, timeout)

    def release(self):
        """Release the underlying lock."""
        self._lock.release()

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *args):
        return self._lock.__exit__(*args)

    def _owned_count(self):
        if isinstance(self._lock, RLock):
            if not self._lock._is_owned():
                raise AssertionError("must acquire() condition before using wait()")
            return self._lock._count
        return 1

    def wait(self, timeout=None):
        """Release the lock, wait for a notify or timeout seconds, take the lock again.

        Returns False when it timed out.
        """
        count = self._owned_count()
        self._sleeping_count.release()
        for _ in range(count):
            self._lock.release()
        try:
            return self._wait_semaphore.acquire(True, timeout)
        finally:
            self._woken_count.release()
            for _ in range(count):
                self._lock.acquire()

    def notify(self, n=1):
        """Wake up to n waiters; the lock must be held."""
        self._owned_count()
        assert not self._wait_semaphore.acquire(False)
        while self._woken_count.acquire(False):
            res = self._sleeping_count.acquire(False)
            assert res, "notify: sleeping_count out of step"
        sleepers = 0
        while sleepers < n and self._sleeping_count.acquire(False):
            self._wait_semaphore.release()
            sleepers += 1
        if sleepers:
            for _ in range(sleepers):
                self._woken_count.acquire()
            while self._wait_semaphore.acquire(False):
                pass

    def notify_all(self):
        """Wake every waiter; the lock must be held."""
        self.notify(n=sys.maxsize)

    def wait_for(self, predicate, timeout=None):
        """Wait until predicate() is true, or timeout seconds passed; returns its last value."""
        import time
        result = predicate()
        if result:
            return result
        if timeout is not None:
            endtime = time.monotonic() + timeout
        else:
            endtime = None
            waittime = None
        while not result:
            if endtime is not None:
                waittime = endtime - time.monotonic()
                if waittime <= 0:
                    break
            self.wait(waittime)
            result = predicate()
        return result


def _rebuild_condition(lock, sleeping, woken, wait):
    c = Condition.__new__(Condition)
    c._lock, c._sleeping_count, c._woken_count, c._wait_semaphore = lock, sleeping, woken, wait
    return c


class Event(Handle):
    """multiprocessing.Event over an mpx event: set, clear, is_set, wait."""

    _types = ("event",)

    def __init__(self, name=None, create=True, exclusive=False, *, address=None):
        self._open(name, create, exclusive, address)

    def _declare(self, conn, name, flags):
        return conn.event_declare(name, flags)

    def __repr__(self):
        # multiprocessing's form, with the name: "<Event at 0x... set>" or "... unset>".
        state = "set" if self.is_set() else "unset"
        return "<Event at %#x name=%r %s>" % (id(self), self._name, state)

    def is_set(self):
        """True if the flag is set."""
        return self._c().event_is_set(self._name)

    def set(self):
        """Set the flag and wake every waiter."""
        self._c().event_set(self._name)

    def clear(self):
        """Clear the flag."""
        self._c().event_clear(self._name)

    def wait(self, timeout=None):
        """Wait until the flag is set: True, or False after timeout seconds."""
        if timeout is not None and timeout < 0:
            timeout = 0
        return self._c().event_wait(self._name, timeout)


class Barrier(Handle):
    """multiprocessing.Barrier(parties, action=None, timeout=None) over an mpx barrier.

    With an action, the barrier is declared with BARRIER_ACTION: the party
    whose wait returns parties - 1 runs it while the others stay parked,
    then releases them (barrier_pass), or breaks the barrier and re-raises
    when the action raised. The timeout is stored in the daemon, so that a
    barrier opened by name elsewhere keeps its creator's. The action is not
    stored in the daemon: it travels with pickled handles, and a process
    that opens an action barrier by name without one passes the round when
    it is last.
    """

    _types = ("barrier",)

    def __init__(self, parties, action=None, timeout=None, name=None, create=True, exclusive=False, *,
                 address=None):
        if parties < 1:
            raise ValueError("parties must be >= 1")
        self._parties = parties
        self._action = action
        self._has_action = action is not None
        self._timeout = timeout
        self._open(name, create, exclusive, address)

    def _declare(self, conn, name, flags):
        flags |= _mpx.BARRIER_ACTION if self._has_action else 0
        return conn.barrier_declare(name, self._parties, flags, self._timeout)

    def _attach(self, info):
        self._parties = info["parties"]
        self._has_action = bool(info.get("action"))
        ms = info.get("timeout_ms", -1)
        self._timeout = None if ms < 0 else ms / 1000.0

    def _state(self):
        return (self._parties, self._action, self._has_action, self._timeout)

    def _set_state(self, state):
        self._parties, self._action, self._has_action, self._timeout = state

    def wait(self, timeout=None):
        """Wait until all parties wait; returns this party's index (0 .. parties - 1).

        timeout None waits the barrier's own timeout. BrokenBarrierError when
        the barrier is or becomes broken, or the timeout passes.
        """
        t = _mpx.TIMEOUT_DEFAULT if timeout is None else max(timeout, 0)
        c = self._c()
        try:
            index = c.barrier_wait(self._name, t)
        except TimeoutError:
            raise BrokenBarrierError from None
        except BlockingIOError:
            c.barrier_abort(self._name)
            raise BrokenBarrierError from None
        except OSError as e:
            if e.errno == errno.ENOTRECOVERABLE:
                raise BrokenBarrierError from None
            raise
        if self._has_action and index == self._parties - 1:
            try:
                if self._action is not None:
                    self._action()
            except BaseException:
                c.barrier_abort(self._name)
                raise
            try:
                c.barrier_pass(self._name)
            except OSError as e:
                if e.errno == errno.ENOTRECOVERABLE:
                    raise BrokenBarrierError from None
                raise
        return index

    def reset(self):
        """Back to empty and unbroken; parties waiting get BrokenBarrierError."""
        self._c().barrier_reset(self._name)

    def abort(self):
        """Break the barrier: parties waiting, and later waits, get BrokenBarrierError."""
        self._c().barrier_abort(self._name)

    @property
    def parties(self):
        """The number of parties a round needs."""
        return self._parties

    @property
    def n_waiting(self):
        """The number of parties waiting now."""
        return self._c().object_info(self._name)["waiting"]

    @property
    def broken(self):
        """True if the barrier is broken."""
        return bool(self._c().object_info(self._name)["broken"])
