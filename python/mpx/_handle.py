# SPDX-License-Identifier: MIT
"""Handles: what a Python object holds of an mpxd object, and how long it lives.

A handle keeps the daemon's address and the object's name, and makes each
call on the calling thread's connection (see ``mpx._conn``). Every factory
takes ``name=None, create=True, exclusive=False``, as posix_ipc's O_CREAT
and O_EXCL:

* ``create=True`` creates the object if it is missing, or opens it; opening
  never requires the creator's parameters (a declare that answers "exists
  with other parameters" attaches anyway);
* ``create=False`` only opens: FileNotFoundError when missing;
* ``exclusive=True`` only creates: FileExistsError when it exists.

An object of another type under the name is an ``OSError(EPROTOTYPE)``
(or ``TypeError`` when opened with ``create=False``).

Named objects live until deleted (``handle.delete()``, ``mpxctl rm``).
Without a name, an object is anonymous and *counted*: its name is
``"py."`` and 32 hex digits, and it lives while some process holds a
reference to it (``_mpx.COUNTED``, ``Connection.ref``/``unref``):

* each process that uses a handle takes its own reference on first use
  (the creator by its declare), held by the process's reference connection
  until ``close()`` or garbage collection of the handle, or the end of the
  process;
* pickling a handle (to send it through a queue, a pipe, or to a spawned
  or forkserver process) takes a reference *in transit*, whose token is in
  the pickle and which lasts ``mpx.TRANSIT_LEASE`` seconds (60) unless
  ended earlier; unpickling takes the receiver's reference and ends the
  transit one. So the object outlives a sender that exits before the
  receiver reads the pickle, as long as the receiver does so within the
  lease. A handle stored in a shared dict or list is read any number of
  times, not once: reading it there takes the reader's reference and leaves
  the transit one to its lease, so that every read within the lease finds
  the object (as a manager's nested proxies do), and after it only while
  some process holds a handle;
* ``os.fork()``: before it, the parent takes a transit reference per
  anonymous handle it holds; in the child, each handle takes the child's
  reference and ends the transit one.

Named objects opened by name that happen to be counted (made by C code
with MPX_COUNTED) are referenced in the same way.
"""

import errno
import os
import sys
import threading
import uuid
import weakref

from . import _codec
from . import _conn
from . import _mpx

DEFAULT_TRANSIT_LEASE = 60.0

# Counted handles of this process, for the fork hooks (by id: some handles are unhashable).
_live = weakref.WeakValueDictionary()


def transit_lease():
    """mpx.TRANSIT_LEASE: the seconds a reference in transit lasts."""
    pkg = sys.modules.get(__package__)
    return getattr(pkg, "TRANSIT_LEASE", DEFAULT_TRANSIT_LEASE)


def new_name():
    """A fresh name for an anonymous object."""
    return "py." + uuid.uuid4().hex


# Set while a value of a shared dict or list is unpickled (see the module docstring).
_reading = threading.local()


def decode_stored(data, serializer):
    """Decode a value read from a shared dict or list: handles in it keep their references in transit.

    A stored value is read again and again, so unpickling it must not end
    the references in transit its handles hold (see the module docstring).
    """
    if data[:1] != b"\x80":            # not a pickle: no handle inside
        return _codec.decode(data, serializer)
    before = getattr(_reading, "keep", False)
    _reading.keep = True
    try:
        return _codec.decode(data, serializer)
    finally:
        _reading.keep = before


def _rebuild(cls, address, name, token, state):
    h = cls.__new__(cls)
    h._init_handle(address, name)
    h._set_state(state)
    if token:
        rc = _conn.ref_connection(address)
        h._token = rc.ref(name)
        h._counted = True
        h._ref_pid = os.getpid()
        _live[id(h)] = h
        if not getattr(_reading, "keep", False):
            try:
                rc.unref(name, token)
            except FileNotFoundError:
                pass
    return h


class Handle:
    """The base of every mpx object's Python handle: an address and a name.

    Subclasses define ``_types`` (the daemon's type names they open),
    ``_declare(conn, name, flags)`` (returns 1 if created, 0 if it existed),
    and ``_state()``/``_set_state()`` for what a pickle carries besides the
    name.
    """

    _types = ()

    def _init_handle(self, address, name):
        self._address = address or _conn.get_address()
        self._name = name
        self._counted = False
        self._closed = False
        self._ref_pid = None
        self._token = 0
        self._fork_token = 0

    def _open(self, name, create, exclusive, address=None):
        """Create or open the object as the factory's arguments ask (see the module docstring)."""
        if name is None:
            if not create:
                raise ValueError("create=False needs a name")
            self._init_handle(address, new_name())
            self._declare(_conn.ref_connection(self._address), self._name, _mpx.COUNTED)
            self._counted = True
            self._ref_pid = os.getpid()
            _live[id(self)] = self
            return 1
        if not isinstance(name, str):
            raise TypeError("name must be a str, not %s" % type(name).__name__)
        self._init_handle(address, name)
        c = _conn.get(self._address)
        created = 0
        if create:
            try:
                created = self._declare(c, name, 0)
            except FileExistsError:
                if exclusive:
                    raise
            if exclusive and not created:
                raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), name)
        info = None
        if not created:
            info = c.object_info(name)
            if info.get("type") not in self._types:
                raise TypeError("%s is a %s, not a %s" % (name, info.get("type"), "/".join(self._types)))
            self._attach(info)
            if "refs" in info:
                self._token = _conn.ref_connection(self._address).ref(name)
                self._counted = True
                self._ref_pid = os.getpid()
                _live[id(self)] = self
        return created

    def _declare(self, conn, name, flags):
        raise NotImplementedError

    def _attach(self, info):
        """Read what the handle needs from an existing object's description."""

    def _state(self):
        return None

    def _set_state(self, state):
        pass

    def _check_open(self):
        """ValueError after close(); else take this process's reference to a counted object if not yet taken."""
        if self._closed:
            raise ValueError("%s is closed" % self._name)
        if self._counted and self._ref_pid != _conn.pid:
            self._token = _conn.ref_connection(self._address).ref(self._name)
            self._ref_pid = _conn.pid

    def _c(self):
        """The calling thread's connection, with this process's reference taken first."""
        self._check_open()
        return _conn.get(self._address)

    @property
    def name(self):
        """The object's name in the daemon."""
        return self._name

    @property
    def address(self):
        """The socket of the daemon that holds the object."""
        return self._address

    @property
    def counted(self):
        """True for an anonymous object, which lives while some process holds a handle."""
        return self._counted

    def close(self):
        """Drop this handle's reference (counted objects end with their last one); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._counted and self._ref_pid == os.getpid():
            self._ref_pid = None
            try:
                _conn.ref_connection(self._address).unref(self._name, self._token)
            except (FileNotFoundError, _mpx.InheritedConnectionError):
                pass

    def delete(self):
        """Delete the object in the daemon now; whoever waits on it gets OSError(EIDRM)."""
        self._c().delete(self._name)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __reduce__(self):
        token = 0
        if self._counted:
            if self._closed:
                raise ValueError("%s is closed" % self._name)
            token = _conn.ref_connection(self._address).ref(self._name, lease=transit_lease())
        return (_rebuild, (type(self), self._address, self._name, token, self._state()))

    def __repr__(self):
        return "<%s.%s name=%r>" % (type(self).__module__, type(self).__qualname__, self._name)


def _before_fork():
    pid = os.getpid()
    for h in list(_live.values()):
        h._fork_token = 0
        if h._counted and not h._closed and h._ref_pid == pid:
            try:
                h._fork_token = _conn.ref_connection(h._address).ref(h._name, lease=transit_lease())
            except OSError:
                pass


def _after_fork_in_parent():
    for h in list(_live.values()):
        h._fork_token = 0


def _after_fork_in_child():
    pid = os.getpid()
    for h in list(_live.values()):
        token, h._fork_token = h._fork_token, 0
        if not token:
            continue
        try:
            rc = _conn.ref_connection(h._address)
            h._token = rc.ref(h._name)
            h._ref_pid = pid
            rc.unref(h._name, token)
        except OSError:
            pass


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
