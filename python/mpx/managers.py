# SPDX-License-Identifier: MIT
"""Manager(): multiprocessing's SyncManager API, with mpxd as the server.

There is no manager process: mpxd holds the objects. A Manager makes
anonymous objects (see ``mpx._handle``: they live while some process holds a
handle, and handles pickle to other processes) and keeps the handles it
made, so that ``shutdown()`` (or the end of a ``with`` block) drops them::

    with mpx.Manager() as m:
        d = m.dict()
        q = m.Queue()

``start()`` only checks that the daemon answers.
"""

from . import _conn
from . import containers
from . import queues
from . import sharedctypes
from . import synchronize


class Namespace:
    """A namespace whose attributes are kept in an mpx dict (names starting with _ are local)."""

    def __init__(self, _dict=None, **kwargs):
        object.__setattr__(self, "_dict", _dict if _dict is not None else containers.dict())
        for k, v in kwargs.items():
            setattr(self, k, v)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._dict[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self._dict[name] = value

    def __delattr__(self, name):
        try:
            del self._dict[name]
        except KeyError:
            raise AttributeError(name) from None

    def __reduce__(self):
        return (Namespace, (self._dict,))

    def __repr__(self):
        return "Namespace(%s)" % ", ".join("%s=%r" % kv for kv in self._dict.items())


class Manager:
    """multiprocessing.Manager()'s objects, made in mpxd; a context manager.

    Manager(address=None): the daemon's socket (None: mpx.get_address()).
    """

    def __init__(self, address=None):
        self._address = address
        self._handles = []
        self._started = False

    def start(self):
        """Check that the daemon answers; the manager is then usable (it is before, too)."""
        _conn.get(self._address).ping()
        self._started = True

    def shutdown(self):
        """Drop the references of every object this manager made."""
        handles, self._handles = self._handles, []
        for h in handles:
            h.close()
        self._started = False

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()

    def _keep(self, obj, *handles):
        self._handles.extend(handles or (obj,))
        return obj

    def dict(self, *args, **kwargs):
        """An anonymous mpx.dict, filled as dict(*args, **kwargs)."""
        return self._keep(containers.dict(*args, address=self._address, **kwargs))

    def list(self, iterable=()):
        """An anonymous mpx.list of the items of iterable."""
        return self._keep(containers.list(iterable, address=self._address))

    def Queue(self, maxsize=0):
        """An anonymous mpx.Queue."""
        return self._keep(queues.Queue(maxsize, address=self._address))

    def JoinableQueue(self, maxsize=0):
        """An anonymous mpx.JoinableQueue."""
        return self._keep(queues.JoinableQueue(maxsize, address=self._address))

    def Lock(self):
        """An anonymous mpx.Lock."""
        return self._keep(synchronize.Lock(address=self._address))

    def RLock(self):
        """An anonymous mpx.RLock."""
        return self._keep(synchronize.RLock(address=self._address))

    def Semaphore(self, value=1):
        """An anonymous mpx.Semaphore."""
        return self._keep(synchronize.Semaphore(value, address=self._address))

    def BoundedSemaphore(self, value=1):
        """An anonymous mpx.BoundedSemaphore."""
        return self._keep(synchronize.BoundedSemaphore(value, address=self._address))

    def Condition(self, lock=None):
        """An anonymous mpx.Condition (with a new RLock unless lock is given)."""
        c = synchronize.Condition(lock, address=self._address)
        return self._keep(c, c)

    def Event(self):
        """An anonymous mpx.Event."""
        return self._keep(synchronize.Event(address=self._address))

    def Barrier(self, parties, action=None, timeout=None):
        """An anonymous mpx.Barrier."""
        return self._keep(synchronize.Barrier(parties, action, timeout, address=self._address))

    def Value(self, typecode, value, lock=True):
        """An anonymous shared value (mpx.Value)."""
        v = sharedctypes.Value(typecode, value, lock=lock, address=self._address)
        return self._keep(v, *_memory_handles(v))

    def Array(self, typecode, sequence, lock=True):
        """An anonymous shared array (mpx.Array)."""
        a = sharedctypes.Array(typecode, sequence, lock=lock, address=self._address)
        return self._keep(a, *_memory_handles(a))

    def Namespace(self, **kwargs):
        """A Namespace whose attributes live in an anonymous mpx.dict."""
        d = containers.dict(address=self._address)
        self._handles.append(d)
        return Namespace(d, **kwargs)


def _memory_handles(v):
    obj = v.get_obj() if hasattr(v, "get_obj") else v
    handles = [obj._mpx_memory]
    lock = getattr(v, "_lock", None)
    if hasattr(lock, "close"):
        handles.append(lock)
    return handles
