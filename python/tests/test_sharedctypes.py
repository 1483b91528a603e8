# SPDX-License-Identifier: MIT
"""Tests of mpx.sharedctypes: Value, Array, RawValue, RawArray."""

import ctypes
import multiprocessing
import pickle
import unittest

import mpx
from mpxtest import TestCase, fresh, info, mpxd_only, on_redis


def _add_many(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


class TestValue(TestCase):
    def test_value_and_lock(self):
        v = mpx.Value("i", 5)
        self.assertEqual(v.value, 5)
        v.value = 7
        self.assertEqual(v.get_obj().value, 7)
        self.assertEqual(v.add(3), 10)
        self.assertEqual(v.value, 10)
        self.assertIsInstance(v.get_lock(), mpx.RLock)
        with v:
            v.value += 1
        self.assertTrue(v.acquire())
        v.release()
        self.assertEqual(v.value, 11)
        self.assertIn("Synchronized", repr(v))

    def test_types(self):
        self.assertEqual(mpx.Value(ctypes.c_double, 1.5).value, 1.5)
        self.assertEqual(mpx.Value("c", b"x").value, b"x")
        self.assertEqual(mpx.Value("q").value, 0)
        with self.assertRaises(TypeError):
            mpx.Value("u", "x")
        with self.assertRaises(TypeError):
            mpx.Value(ctypes.c_bool)
        with self.assertRaises(TypeError):
            mpx.RawValue("i", 1, 2)

    def test_raw_and_lock_false(self):
        r = mpx.RawValue("l", 3)
        if not on_redis():  # over Redis no mapping: the remote fallback
            self.assertIsInstance(r, ctypes.c_long)
        r.value = 4
        back = pickle.loads(pickle.dumps(r))
        back.value += 1
        self.assertEqual(r.value, 5)
        if not on_redis():
            self.assertIsInstance(mpx.Value("i", 1, lock=False), ctypes.c_int)
        lock = mpx.Lock()
        self.assertIs(mpx.Value("i", 1, lock=lock).get_lock(), lock)

    @mpxd_only("no array mapping (every access is a request) and no INFO `requests` counter")
    def test_shared_by_name_without_round_trips(self):
        name = fresh("value")
        v = mpx.Value("d", 2.5, name=name)
        self.addCleanup(v.get_obj()._mpx_memory.delete)
        self.assertEqual(info(name)["type"], "value")
        requests = info(name)["requests"]
        for _ in range(10):
            v.value = v.value + 1
        self.assertEqual(info(name)["requests"], requests)
        out = self.run_python("""
            import sys, mpx
            v = mpx.Value("d", name=sys.argv[1], create=False)
            print(v.value)
            v.value = 99.0
        """, name)
        self.assertEqual(float(out), 12.5)
        self.assertEqual(v.value, 99.0)
        with self.assertRaises(TypeError):
            mpx.Value("i", name=name)
        # Opened without a type: the existing one's.
        self.assertEqual(mpx.Value(None, name=name).value, 99.0)
        with self.assertRaises(FileNotFoundError):
            mpx.Value(None, name=fresh("missing"))
        with self.assertRaises(TypeError):
            mpx.Value(None)

    def test_counter_with_processes(self):
        ctx = multiprocessing.get_context("fork")
        counter = mpx.Value("i", 0)
        ps = [ctx.Process(target=_add_many, args=(counter, 100)) for _ in range(3)]
        for p in ps:
            p.start()
            self.addCleanup(p.join)
            self.addCleanup(p.kill)
        for p in ps:
            p.join()
            self.assertEqual(p.exitcode, 0)
        self.assertEqual(counter.value, 300)


class TestArray(TestCase):
    def test_array(self):
        a = mpx.Array("i", [1, 2, 3])
        self.assertEqual(len(a), 3)
        self.assertEqual(a[:], [1, 2, 3])
        a[1] = 20
        self.assertEqual(a[1], 20)
        self.assertEqual(a.add(2, 5), 8)
        self.assertEqual(list(a.get_obj()), [1, 20, 8])
        z = mpx.Array(ctypes.c_double, 4)
        self.assertEqual(z[:], [0.0] * 4)
        c = mpx.Array("c", b"hello")
        self.assertEqual(c.value, b"hello")
        c.value = b"hi"
        self.assertEqual(c.raw[:3], b"hi\x00")

    def test_raw_array(self):
        r = mpx.RawArray("d", range(3))
        if not on_redis():  # over Redis no mapping: the remote fallback
            self.assertIsInstance(r, ctypes.Array)
        back = pickle.loads(pickle.dumps(r))
        back[0] = 7.0
        self.assertEqual(r[0], 7.0)
        self.assertEqual(len(mpx.RawArray(ctypes.c_ubyte, 16)), 16)

    def test_array_by_name(self):
        name = fresh("array")
        a = mpx.Array("i", 5, name=name)
        self.addCleanup(a.get_obj()._mpx_memory.delete)
        other = mpx.Array("i", 99, name=name)
        self.assertEqual(len(other), 5)
        other[4] = 4
        self.assertEqual(a[4], 4)
        self.assertEqual(other.get_lock().name, name + ".lock")
        self.assertEqual(mpx.Array(None, name=name)[:], [0, 0, 0, 0, 4])


if __name__ == "__main__":
    unittest.main()
