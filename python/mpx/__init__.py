# SPDX-License-Identifier: MIT
"""mpx: the IPC broker mpxd from Python.

This package is, for now, the low-level binding only: ``mpx._mpx``, whose
names it re-exports. ``Connection`` is one connection to the daemon, with one
method per call of libmpx; failures are ``OSError`` subclasses chosen by
errno (``FileNotFoundError``, ``TimeoutError``, ``BrokenPipeError``...).
"""

from . import _mpx
from ._mpx import *  # noqa: F401,F403 (the binding's names are the package's)
from ._mpx import Connection, InheritedConnectionError, Mapping, strerror

__all__ = [name for name in dir(_mpx) if not name.startswith("_")]


def error_from_errno(r):
    """The exception libmpx's negative errno code r stands for, as the binding raises it.

    OSError's constructor picks the subclass from the errno, so that
    error_from_errno(-errno.ENOENT) is a FileNotFoundError.
    """
    e = -r if r < 0 else r
    return OSError(e, strerror(-e))


__all__.append("error_from_errno")
