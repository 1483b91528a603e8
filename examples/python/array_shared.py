#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Array('i', [1, 2, 3, 4, 5]) and Array('c', b'Hello') shared by unrelated processes.

Roles: `double` doubles every number of "pyexamples.numbers" and writes
"World" into "pyexamples.text", then sets the event "pyexamples.written";
`show` waits for the event and prints both arrays. Without a role, both run
as separate processes.
"""

import sys

import mpx
from _roles import finish, fresh, start

NUMBERS, TEXT, WRITTEN = "pyexamples.numbers", "pyexamples.text", "pyexamples.written"


def double():
    numbers = mpx.Array("i", 5, name=NUMBERS, create=False)
    text = mpx.Array("c", 5, name=TEXT, create=False)
    with numbers.get_lock():
        for i in range(len(numbers)):
            numbers[i] *= 2
    text.value = b"World"
    mpx.Event(name=WRITTEN, create=False).set()


def show():
    mpx.Event(name=WRITTEN, create=False).wait(60)
    numbers = mpx.Array("i", 5, name=NUMBERS, create=False)
    text = mpx.Array("c", 5, name=TEXT, create=False)
    print("numbers:", numbers[:])
    print("text:", text.value.decode())


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "double":
        double()
    elif role == "show":
        show()
    else:
        fresh(NUMBERS, NUMBERS + ".lock", TEXT, TEXT + ".lock", WRITTEN)
        mpx.Array("i", [1, 2, 3, 4, 5], name=NUMBERS, exclusive=True)
        mpx.Array("c", b"Hello", name=TEXT, exclusive=True)
        mpx.Event(name=WRITTEN, exclusive=True)
        finish(start(__file__, "show"), start(__file__, "double"))
