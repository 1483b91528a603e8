# SPDX-License-Identifier: MIT
"""Pipes: multiprocessing.connection.Connection objects over mpx pipe rendezvous.

``Pipe(duplex=True)`` returns two connected ``multiprocessing.connection
.Connection`` objects, as multiprocessing.Pipe does, whose descriptors come
from the daemon's pipe rendezvous (a socket pair for a duplex pipe, a pipe
otherwise). ``open_pipe(name, mode)`` lets unrelated processes meet: each
side opens the same name, the first waits for the second::

    conn = mpx.open_pipe("login", "r")     # one process
    conn = mpx.open_pipe("login", "w")     # another
    conn.send({"user": "ann"})

``send``/``recv`` pickle as multiprocessing does (with its framing);
``send_bytes``/``recv_bytes`` carry raw messages.
"""

import multiprocessing.connection
import threading

from . import _conn
from . import _mpx
from ._handle import new_name

_MODES = {
    "duplex": (_mpx.PIPE_DUPLEX, True, True),
    "rw": (_mpx.PIPE_DUPLEX, True, True),
    "r": (_mpx.PIPE_READ, True, False),
    "w": (_mpx.PIPE_WRITE, False, True),
}


def open_pipe(name, mode="duplex", timeout=None, *, address=None):
    """Meet another process at name and return a multiprocessing Connection.

    mode: "duplex" (or "rw": both sides send and receive, and the partner
    opens "duplex" too), "r" (receive; the partner opens "w") or "w".
    Waits up to timeout seconds for the partner (None: forever):
    TimeoutError, or BlockingIOError with timeout 0.
    """
    try:
        how, readable, writable = _MODES[mode]
    except KeyError:
        raise ValueError("mode must be one of %s, not %r" % (", ".join(_MODES), mode)) from None
    fd = _conn.get(address).pipe_open(name, how, timeout)
    return multiprocessing.connection.Connection(fd, readable=readable, writable=writable)


def Pipe(duplex=True, *, address=None):
    """Two connected Connections, as multiprocessing.Pipe(duplex).

    With duplex False, the first only receives and the second only sends.
    """
    name = new_name()
    first = ("duplex", "duplex") if duplex else ("r", "w")
    other = {}

    def partner():
        try:
            other["conn"] = open_pipe(name, first[1], 60, address=address)
        except BaseException as e:
            other["error"] = e
    t = threading.Thread(target=partner, daemon=True)
    t.start()
    try:
        mine = open_pipe(name, first[0], 60, address=address)
    finally:
        t.join()
    if "error" in other:
        raise other["error"]
    return mine, other["conn"]
