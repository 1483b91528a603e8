# SPDX-License-Identifier: MIT
"""Connections to mpxd: one per thread, a fresh set in a forked child.

Handles (queues, locks, dicts...) keep only the daemon's address and the
object's name; each call looks up the calling thread's connection with
:func:`get`. The address is the one given to :func:`set_address`, else
``$MPX_SOCKET``, else the daemon's default socket.

References to counted (anonymous) objects are held by one further
connection per process and address, :func:`ref_connection`, which lives as
long as the process: a reference must not end when the thread that took it
ends.

After ``os.fork()`` the child drops the connections it inherited without
using them (the extension refuses use across fork anyway) and opens its own
on first use.
"""

import os
import threading

from . import _mpx

_address = None
_local = threading.local()
_refs = {}
_refs_lock = threading.Lock()
_pid = os.getpid()


def set_address(path):
    """Use the daemon at socket path from now on (None: $MPX_SOCKET, else the default).

    Handles made afterwards use it; existing handles keep the address they were made with.
    """
    global _address
    _address = path


def get_address():
    """The socket path new handles use: set_address()'s, else $MPX_SOCKET, else the default."""
    return _address or os.environ.get("MPX_SOCKET") or _mpx.DEFAULT_SOCKET


def _check_pid():
    global _local, _refs, _pid
    if _pid != os.getpid():
        _after_fork_in_child()


def get(address=None):
    """The calling thread's connection to the daemon at address (None: get_address())."""
    _check_pid()
    address = address or get_address()
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    c = conns.get(address)
    if c is None or c.closed:
        c = conns[address] = _mpx.Connection(address, "python-%d" % os.getpid())
    return c


def ref_connection(address=None):
    """The process's connection that holds references to counted objects at address."""
    _check_pid()
    address = address or get_address()
    with _refs_lock:
        c = _refs.get(address)
        if c is None or c.closed:
            c = _refs[address] = _mpx.Connection(address, "python-%d-refs" % os.getpid())
        return c


def _after_fork_in_child():
    global _local, _refs, _refs_lock, _pid
    # The inherited connections are dropped, never used nor closed: their
    # descriptors are the parent's connections too.
    _local = threading.local()
    _refs = {}
    _refs_lock = threading.Lock()
    _pid = os.getpid()


os.register_at_fork(after_in_child=_after_fork_in_child)
