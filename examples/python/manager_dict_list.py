#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Manager().dict() and Manager().list(), as named objects of unrelated processes.

Role `worker N`: store N*N under key N of the dict "pyexamples.squares" and
append N to the list "pyexamples.done". Without a role, five workers run as
separate processes, then the dict and the (sorted) list are printed.
"""

import sys

import mpx
from _roles import finish, fresh, start

SQUARES, DONE = "pyexamples.squares", "pyexamples.done"


def worker(n):
    mpx.dict(name=SQUARES, create=False)[n] = n * n
    mpx.list(name=DONE, create=False).append(n)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "worker":
        worker(int(sys.argv[2]))
    else:
        fresh(SQUARES, DONE)
        squares = mpx.dict(name=SQUARES, exclusive=True)
        done = mpx.list(name=DONE, exclusive=True)
        finish(*[start(__file__, "worker", n) for n in range(5)])
        done.sort()
        print("squares:", dict(sorted(squares.items())))
        print("done:", done.copy())
