# SPDX-License-Identifier: MIT
"""Tests of mpx.managers: Manager and Namespace."""

import multiprocessing
import pickle
import unittest

import mpx
from mpxtest import TestCase, exists


def _worker(d, lst, q, ns):
    d["child"] = 1
    lst.append("child")
    q.put(ns.x + 1)


class TestManager(TestCase):
    def test_every_factory(self):
        with mpx.Manager() as m:
            objs = {
                "dict": m.dict(a=1), "list": m.list([1]), "Queue": m.Queue(), "JoinableQueue": m.JoinableQueue(),
                "Lock": m.Lock(), "RLock": m.RLock(), "Semaphore": m.Semaphore(2),
                "BoundedSemaphore": m.BoundedSemaphore(), "Event": m.Event(), "Barrier": m.Barrier(2),
            }
            cond = m.Condition()
            v = m.Value("i", 3)
            a = m.Array("d", [1.0])
            ns = m.Namespace(x=1)
            self.assertEqual(objs["dict"]["a"], 1)
            self.assertEqual(objs["Semaphore"].get_value(), 2)
            self.assertEqual(v.value, 3)
            self.assertEqual(a[0], 1.0)
            with cond:
                cond.notify()
            names = [o.name for o in objs.values()]
            for name in names:
                self.assertTrue(exists(name))
            self.assertTrue(all(o.counted for o in objs.values()))
        # Leaving the block dropped the manager's references: the objects are gone.
        for name in names:
            self.assertFalse(exists(name), name)
        self.assertFalse(exists(v.get_obj()._mpx_memory.name))
        self.assertFalse(exists(ns._dict.name))

    def test_objects_reach_child_processes(self):
        for method in ("fork", "spawn"):
            with self.subTest(method=method), mpx.Manager() as m:
                d, lst, q, ns = m.dict(), m.list(), m.Queue(), m.Namespace(x=41)
                p = multiprocessing.get_context(method).Process(target=_worker, args=(d, lst, q, ns))
                p.start()
                self.addCleanup(p.join)
                self.addCleanup(p.kill)
                self.assertEqual(q.get(timeout=60), 42)
                p.join()
                self.assertEqual(d.copy(), {"child": 1})
                self.assertEqual(lst.copy(), ["child"])


class TestNamespace(TestCase):
    def test_attributes(self):
        ns = mpx.managers.Namespace(a=1)
        ns.b = [2]
        self.assertEqual((ns.a, ns.b), (1, [2]))
        del ns.a
        with self.assertRaises(AttributeError):
            ns.a
        with self.assertRaises(AttributeError):
            del ns.a
        back = pickle.loads(pickle.dumps(ns))
        self.assertEqual(back.b, [2])
        self.assertIn("b=[2]", repr(ns))


if __name__ == "__main__":
    unittest.main()
