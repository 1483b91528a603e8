#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Semaphore(3) over ten tasks: never more than three run at once.

Role `task`: take a unit of "pyexamples.tasks", count itself in the value
"pyexamples.running" (atomic add) and record the highest count in
"pyexamples.max" (a dict, under a lock), wait until the gate event
"pyexamples.gate" is set, and give the unit back. Without a role, ten
tasks run as separate processes; the gate opens once three tasks run, so
that the limit is reached.
"""

import os
import sys

import mpx
from _roles import finish, fresh, say, start

SEM, RUNNING, STATS, GATE = "pyexamples.tasks", "pyexamples.running", "pyexamples.max", "pyexamples.gate"


def task():
    sem = mpx.Semaphore(name=SEM, create=False)
    running = mpx.Value("i", name=RUNNING, create=False)
    stats = mpx.dict(name=STATS, create=False)
    gate = mpx.Event(name=GATE, create=False)
    with sem:
        say("%d start" % os.getpid())
        now = running.add(1)
        with mpx.Lock(name=STATS + ".lock"):
            stats["max"] = max(stats.get("max", 0), now)
        if now == 3:
            gate.set()
        gate.wait(60)
        running.add(-1)
        say("%d done" % os.getpid())


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "task":
        task()
    else:
        fresh(SEM, RUNNING, RUNNING + ".lock", STATS, STATS + ".lock", GATE)
        sem = mpx.Semaphore(3, name=SEM, exclusive=True)
        mpx.Value("i", 0, name=RUNNING, exclusive=True)
        stats = mpx.dict(name=STATS, exclusive=True)
        mpx.Event(name=GATE, exclusive=True)
        finish(*[start(__file__, "task") for _ in range(10)])
        say("max concurrent: %d" % stats["max"])
        say("units back: %d" % sem.get_value())
