# SPDX-License-Identifier: MIT
"""Tests of the package as a whole: its names and their documentation."""

import inspect
import unittest

import mpx
from mpx import (_codec, _conn, _handle, _worker, aio, connection, containers, managers, pool, queues, sharedctypes,
                 synchronize)

MODULES = (mpx, _codec, _conn, _handle, _worker, aio, connection, containers, managers, pool, queues, sharedctypes,
           synchronize)


class TestPackage(unittest.TestCase):
    def test_public_names(self):
        for name in ("Queue", "SimpleQueue", "JoinableQueue", "ShutDown", "Empty", "Full", "Lock", "RLock",
                     "Semaphore", "BoundedSemaphore", "Condition", "Event", "Barrier", "BrokenBarrierError",
                     "OwnerDiedWarning", "dict", "list", "Value", "Array", "RawValue", "RawArray", "Pipe",
                     "open_pipe", "Manager", "set_address", "get_address", "TRANSIT_LEASE", "Connection",
                     "COUNTED", "BARRIER_ACTION", "TIMEOUT_DEFAULT", "Pool", "WorkerLostError"):
            self.assertIn(name, mpx.__all__, name)
            self.assertTrue(hasattr(mpx, name), name)

    def test_everything_public_is_documented(self):
        for module in MODULES:
            self.assertTrue(module.__doc__, module.__name__)
            for name, obj in vars(module).items():
                if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                    continue
                if inspect.isclass(obj) or inspect.isfunction(obj):
                    self.assertTrue(obj.__doc__, "%s.%s" % (module.__name__, name))
                if inspect.isclass(obj):
                    for mname, member in vars(obj).items():
                        if mname.startswith("_"):
                            continue
                        if inspect.isfunction(member) or isinstance(member, property):
                            self.assertTrue(member.__doc__, "%s.%s.%s" % (module.__name__, name, mname))


if __name__ == "__main__":
    unittest.main()
