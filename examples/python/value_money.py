#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Value('i', 2000): a deposit and a withdrawal racing on one account.

The notes' demo does `money.value += 1` from two processes and loses
updates. Here both roles take the value's lock around their
read-modify-write of "pyexamples.money", and both count their rounds in
"pyexamples.rounds" with the atomic add() of mpx, which needs no lock (but
must not be mixed with locked read-modify-writes of the same value: the
daemon's add does not take the lock). Without a role, both run as separate
processes; the balance ends where it started, and no round is lost.
"""

import sys

import mpx
from _roles import finish, fresh, start

MONEY, ROUNDS_DONE = "pyexamples.money", "pyexamples.rounds"
ROUNDS = 500


def change(step):
    money = mpx.Value("i", name=MONEY, create=False)
    rounds = mpx.Value("i", name=ROUNDS_DONE, create=False)
    for _ in range(ROUNDS):
        with money.get_lock():
            money.value += step
        rounds.add(1)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "deposit":
        change(1)
    elif role == "withdraw":
        change(-1)
    else:
        fresh(MONEY, MONEY + ".lock", ROUNDS_DONE, ROUNDS_DONE + ".lock")
        money = mpx.Value("i", 2000, name=MONEY, exclusive=True)
        rounds = mpx.Value("i", 0, name=ROUNDS_DONE, exclusive=True)
        finish(start(__file__, "deposit"), start(__file__, "withdraw"))
        print("balance: %d" % money.value)
        print("rounds: %d" % rounds.value)
