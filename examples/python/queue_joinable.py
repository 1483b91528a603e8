#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""JoinableQueue: three producers of ten foods, two consumers, and join.

Roles: `produce FOOD` puts FOOD0 .. FOOD9 into "pyexamples.foods";
`consume` takes foods and marks each done (task_done) until the queue is
shut down. Without a role, the three producers and two consumers run as
separate processes; once the producers are done, join() waits until every
food is consumed, then the queue is shut down and the consumers end.
"""

import os
import sys

import mpx
from _roles import finish, fresh, say, start

NAME = "pyexamples.foods"


def produce(food):
    q = mpx.JoinableQueue(name=NAME, create=False)
    for i in range(10):
        q.put("%s%d" % (food, i))


def consume():
    q = mpx.JoinableQueue(name=NAME, create=False)
    while True:
        try:
            food = q.get(timeout=60)
        except mpx.ShutDown:
            return
        say("%d bought %s" % (os.getpid(), food))
        q.task_done()


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else None
    if role == "produce":
        produce(sys.argv[2])
    elif role == "consume":
        consume()
    else:
        fresh(NAME)
        q = mpx.JoinableQueue(name=NAME, exclusive=True)
        consumers = [start(__file__, "consume") for _ in range(2)]
        finish(*[start(__file__, "produce", food) for food in ("spaghetti", "beef", "cola")])
        if not q.join(timeout=60):
            sys.exit("join timed out")
        say("all 30 foods consumed")
        q.shutdown()
        finish(*consumers)
