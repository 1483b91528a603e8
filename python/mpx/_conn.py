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

When the process exits, each connection it opened finishes its queue work
(``Connection.finish()``): the replies of pipelined puts are awaited (a
failure is a RuntimeWarning) and items taken ahead by gets and not returned
are given back to their queues. This runs from ``atexit``, and in a child
of ``multiprocessing``, which leaves by ``os._exit()``, from its exit
finalizers; a connection busy in another thread's call is left alone.
"""

import atexit
import os
import sys
import threading
import weakref

from . import _mpx

_address = None
_local = threading.local()
_refs = {}
_refs_lock = threading.Lock()
pid = os.getpid()                # this process's, kept by the fork hook below
_opened = weakref.WeakSet()     # every connection this process opened
_exit_finalizer = None          # multiprocessing's exit finalizer that runs _finish_all()


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
    # For a fork that ran no Python hook (a fork() of C code).
    if pid != os.getpid():
        _after_fork_in_child()


def get(address=None):
    """The calling thread's connection to the daemon at address (None: get_address()).

    Called by every method of every handle: the common case is two lookups.
    """
    if address is None:
        address = get_address()
    try:
        c = _local.conns[address]
        if not c.closed:
            return c
    except AttributeError:
        _check_pid()
        _local.conns = {}
    except KeyError:
        pass
    c = _local.conns[address] = _opening(_mpx.Connection(address, "python-%d" % os.getpid()))
    return c


def _opening(c):
    """Track a new connection so that the process's exit finishes it (see the module docstring)."""
    global _exit_finalizer
    _opened.add(c)
    if _exit_finalizer is None or not _exit_finalizer.still_active():
        # A multiprocessing child leaves by os._exit() after its exit
        # finalizers. A child's start clears those it inherited, and any made
        # before (by fork hooks), so the check is made at each new connection.
        util = sys.modules.get("multiprocessing.util")
        if util is not None:
            _exit_finalizer = util.Finalize(None, _finish_all, exitpriority=5)
    return c


def _finish_all():
    for c in list(_opened):
        try:
            c.finish()
        except Exception:       # the process is leaving: finish what can be
            pass


atexit.register(_finish_all)


def ref_connection(address=None):
    """The process's connection that holds references to counted objects at address."""
    _check_pid()
    address = address or get_address()
    with _refs_lock:
        c = _refs.get(address)
        if c is None or c.closed:
            c = _refs[address] = _opening(_mpx.Connection(address, "python-%d-refs" % os.getpid()))
        return c


def _after_fork_in_child():
    global _local, _refs, _refs_lock, pid, _opened
    # The inherited connections are dropped, never used nor closed: their
    # descriptors are the parent's connections too.
    _local = threading.local()
    _refs = {}
    _refs_lock = threading.Lock()
    pid = os.getpid()
    _opened = weakref.WeakSet()


os.register_at_fork(after_in_child=_after_fork_in_child)
