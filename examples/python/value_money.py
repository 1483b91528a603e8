#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Value('i', 2000): a deposit and a withdrawal racing on one account.

The notes' demo does `money.value += 1` from two processes and loses
updates. Here both are right: `deposit` takes the value's lock around its
read-modify-write; `withdraw` uses the atomic add() of mpx. Without a role,
both run as separate processes on "pyexamples.money"; the balance ends
where it started.
"""

import sys

import mpx
from _roles import finish, fresh, start

NAME = "pyexamples.money"
ROUNDS = 500


def deposit():
    money = mpx.Value("i", name=NAME, create=False)
    for _ in range(ROUNDS):
        with money.get_lock():
            money.value += 1


def withdraw():
    money = mpx.Value("i", name=NAME, create=False)
    for _ in range(ROUNDS):
        money.add(-1)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "deposit":
        deposit()
    elif role == "withdraw":
        withdraw()
    else:
        fresh(NAME, NAME + ".lock")
        money = mpx.Value("i", 2000, name=NAME, exclusive=True)
        finish(start(__file__, "deposit"), start(__file__, "withdraw"))
        print("balance: %d" % money.value)
