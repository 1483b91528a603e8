#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Queue(2) between a producer and a consumer that are unrelated processes.

Roles: `request` puts ten requests into the queue "pyexamples.requests"
(bounded at 2: it waits for room) and shuts the queue down; `handle` takes
them in order until the queue is shut down and drained. Without a role,
both run as separate processes.
"""

import sys

import mpx
from _roles import finish, fresh, say, start

NAME = "pyexamples.requests"


def request():
    q = mpx.Queue(2, name=NAME)
    for i in range(10):
        q.put(("request", i), timeout=30)
    q.shutdown()


def handle():
    q = mpx.Queue(2, name=NAME)
    n = 0
    while True:
        try:
            item = q.get(timeout=30)
        except mpx.ShutDown:
            break
        say(item)
        n += 1
    say("handled %d requests" % n)


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "request":
        request()
    elif role == "handle":
        handle()
    else:
        fresh(NAME)
        mpx.Queue(2, name=NAME, exclusive=True)
        finish(start(__file__, "handle"), start(__file__, "request"))
