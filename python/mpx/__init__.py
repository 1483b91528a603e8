# SPDX-License-Identifier: MIT
"""mpx: the IPC broker mpxd from Python, with the API of multiprocessing.

The objects of this package live in mpxd, not in a process: processes that
did not start one another share them by name::

    q = mpx.Queue(name="jobs")           # producer, any process
    q = mpx.Queue(name="jobs", create=False)   # consumer, any other

and they work with multiprocessing.Process under fork, spawn and forkserver
(handles pickle as the daemon's address and the name). Without a name an
object is anonymous and lives while some process holds a handle to it (see
``mpx._handle`` for the rule, and ``mpx._codec`` for how values are
encoded).

* ``Queue``, ``SimpleQueue``, ``JoinableQueue``, ``ShutDown``
  (``mpx.queues``)
* ``Lock``, ``RLock``, ``Semaphore``, ``BoundedSemaphore``, ``Condition``,
  ``Event``, ``Barrier``, ``OwnerDiedWarning`` (``mpx.synchronize``)
* ``dict``, ``list`` (``mpx.containers``)
* ``Value``, ``Array``, ``RawValue``, ``RawArray`` (``mpx.sharedctypes``)
* ``Pipe``, ``open_pipe`` (``mpx.connection``)
* ``Manager`` (``mpx.managers``)
* ``Pool``, ``WorkerLostError`` (``mpx.pool``): workers supervised by mpxd
* ``set_address``, ``get_address``, ``TRANSIT_LEASE``

``mpx.aio`` (imported on its own: ``import mpx.aio``) has asyncio forms of
the queues, locks, semaphores, events and barriers, whose waiting calls are
coroutines.

The low-level binding is ``mpx._mpx``, whose names the package re-exports:
``Connection`` is one connection to the daemon, with one method per call of
libmpx; failures are ``OSError`` subclasses chosen by errno.
"""

import importlib as _importlib

from . import _mpx
from ._mpx import *  # noqa: F401,F403 (the binding's names are the package's)
from ._mpx import Connection, InheritedConnectionError, Mapping, strerror
from ._conn import get_address, set_address
from ._handle import DEFAULT_TRANSIT_LEASE as TRANSIT_LEASE
from .queues import Empty, Full, JoinableQueue, Queue, ShutDown, SimpleQueue
from .synchronize import (Barrier, BoundedSemaphore, BrokenBarrierError, Condition, Event, Lock,
                          OwnerDiedWarning, RLock, Semaphore)

__all__ = [name for name in dir(_mpx) if not name.startswith("_")]
__all__ += ["get_address", "set_address", "TRANSIT_LEASE", "Empty", "Full", "JoinableQueue", "Queue",
            "ShutDown", "SimpleQueue", "Barrier", "BoundedSemaphore", "BrokenBarrierError", "Condition",
            "Event", "Lock", "OwnerDiedWarning", "RLock", "Semaphore"]

for _module, _names in (("containers", ("dict", "list")),
                        ("sharedctypes", ("Value", "Array", "RawValue", "RawArray")),
                        ("connection", ("Pipe", "open_pipe")),
                        ("managers", ("Manager",)),
                        ("pool", ("Pool", "WorkerLostError"))):
    try:
        _m = _importlib.import_module("." + _module, __name__)
    except ModuleNotFoundError as _e:
        if _e.name != __name__ + "." + _module:
            raise
        continue
    for _n in _names:
        globals()[_n] = getattr(_m, _n)
        __all__.append(_n)


def error_from_errno(r):
    """The exception libmpx's negative errno code r stands for, as the binding raises it.

    OSError's constructor picks the subclass from the errno, so that
    error_from_errno(-errno.ENOENT) is a FileNotFoundError.
    """
    e = -r if r < 0 else r
    return OSError(e, strerror(-e))


__all__.append("error_from_errno")
