# SPDX-License-Identifier: MIT
"""Tests of mpx.containers: mpx.dict and mpx.list."""

import threading
import unittest
from collections.abc import MutableMapping, MutableSequence

import mpx
from mpxtest import TestCase, fresh, info


class TestDict(TestCase):
    def test_mapping(self):
        d = mpx.dict({"a": 1}, b=2)
        self.assertIsInstance(d, MutableMapping)
        self.assertEqual(len(d), 2)
        d["c"] = [3]
        self.assertEqual(d["c"], [3])
        self.assertIn("a", d)
        self.assertNotIn("z", d)
        with self.assertRaises(KeyError):
            d["z"]
        with self.assertRaises(KeyError):
            del d["z"]
        del d["c"]
        self.assertEqual(list(d), ["a", "b"])
        self.assertEqual(list(d.keys()), ["a", "b"])
        self.assertEqual(list(d.values()), [1, 2])
        self.assertEqual(list(d.items()), [("a", 1), ("b", 2)])
        self.assertIn(("a", 1), d.items())
        self.assertEqual(d, {"a": 1, "b": 2})
        self.assertNotEqual(d, {"a": 1})
        self.assertEqual(d.copy(), {"a": 1, "b": 2})
        self.assertEqual(d.get("a"), 1)
        self.assertIsNone(d.get("z"))
        self.assertEqual(d.get("z", 5), 5)
        self.assertIn("mpx.dict", repr(d))

    def test_keys_as_python(self):
        d = mpx.dict()
        d[1] = "int"
        self.assertEqual(d[1.0], "int")
        self.assertEqual(d[True], "int")
        d[(1, 2)] = "tuple"
        self.assertEqual(d[(1, 2)], "tuple")
        self.assertEqual(set(d), {1, (1, 2)})

    def test_atomic_operations(self):
        d = mpx.dict()
        self.assertEqual(d.setdefault("k", []), [])
        self.assertEqual(d.setdefault("k", [1]), [])
        d.update({"x": 1}, y=2)
        d.update([("z", 3)])
        self.assertEqual(d.popitem(), ("z", 3))
        self.assertEqual(d.pop("x"), 1)
        self.assertEqual(d.pop("x", "gone"), "gone")
        with self.assertRaises(KeyError):
            d.pop("x")
        d |= {"w": 4}
        self.assertEqual(d | {"v": 5}, {"k": [], "y": 2, "w": 4, "v": 5})
        self.assertEqual(d.incr("n"), 1)
        self.assertEqual(d.incr("n", 5), 6)
        self.assertEqual(d["n"], 6)
        d.clear()
        self.assertEqual(len(d), 0)
        with self.assertRaises(KeyError):
            d.popitem()

    def test_incr_from_many_threads(self):
        d = mpx.dict()

        def work():
            for _ in range(50):
                d.incr("n")
        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(d["n"], 200)

    def test_shared_with_another_process(self):
        d = mpx.dict(name=fresh("dict"))
        self.addCleanup(d.delete)
        d["from parent"] = {"x": 1}
        out = self.run_python("""
            import sys, mpx
            d = mpx.dict(name=sys.argv[1], create=False)
            d["from child"] = d["from parent"]["x"] + 1
            print(len(d))
        """, d.name)
        self.assertEqual(out.strip(), "2")
        self.assertEqual(d["from child"], 2)

    def test_serializers(self):
        d = mpx.dict(serializer="json")
        d["a"] = {"b": [1]}
        self.assertEqual(d["a"], {"b": [1]})
        with self.assertRaises(TypeError):
            mpx.dict(serializer="raw")["k"] = 1


class TestList(TestCase):
    def test_sequence(self):
        lst = mpx.list([1, 2, 3])
        self.assertIsInstance(lst, MutableSequence)
        self.assertEqual(len(lst), 3)
        self.assertEqual(lst[0], 1)
        self.assertEqual(lst[-1], 3)
        with self.assertRaises(IndexError):
            lst[3]
        with self.assertRaises(IndexError):
            lst[3] = 0
        lst[1] = "two"
        self.assertEqual(lst, [1, "two", 3])
        lst.append(4)
        lst.insert(0, 0)
        lst.extend([5, 6])
        self.assertEqual(lst.copy(), [0, 1, "two", 3, 4, 5, 6])
        self.assertEqual(lst.pop(), 6)
        self.assertEqual(lst.pop(0), 0)
        with self.assertRaises(IndexError):
            mpx.list().pop()
        lst.remove("two")
        with self.assertRaises(ValueError):
            lst.remove("two")
        self.assertEqual(lst.index(3), 1)
        self.assertEqual(lst.index(5, 2), 3)
        with self.assertRaises(ValueError):
            lst.index(3, 2)
        with self.assertRaises(ValueError):
            lst.index("nothing")
        self.assertIn(4, lst)
        self.assertNotIn(9, lst)
        lst.append(4)
        self.assertEqual(lst.count(4), 2)
        self.assertEqual(list(reversed(lst)), [4, 5, 4, 3, 1])
        del lst[0]
        self.assertEqual(list(lst), [3, 4, 5, 4])
        self.assertIn("mpx.list", repr(lst))
        lst.clear()
        self.assertEqual(len(lst), 0)

    def test_slices(self):
        lst = mpx.list(range(10))
        self.assertEqual(lst[2:5], [2, 3, 4])
        self.assertEqual(lst[-3:], [7, 8, 9])
        self.assertEqual(lst[::3], [0, 3, 6, 9])
        self.assertEqual(lst[::-1], list(range(9, -1, -1)))
        lst[2:5] = ["a"]
        self.assertEqual(lst.copy(), [0, 1, "a", 5, 6, 7, 8, 9])
        del lst[-2:]
        self.assertEqual(lst.copy(), [0, 1, "a", 5, 6, 7])
        lst[::2] = ["x", "y", "z"]
        self.assertEqual(lst.copy(), ["x", 1, "y", 5, "z", 7])
        with self.assertRaises(ValueError):
            lst[::2] = [1]
        del lst[::2]
        self.assertEqual(lst.copy(), [1, 5, 7])
        lst[len(lst):] = [8]
        self.assertEqual(lst.copy(), [1, 5, 7, 8])

    def test_sort_reverse_and_operators(self):
        lst = mpx.list([3, 1, 2])
        lst.sort()
        self.assertEqual(lst.copy(), [1, 2, 3])
        lst.sort(reverse=True)
        self.assertEqual(lst.copy(), [3, 2, 1])
        lst.sort(key=lambda x: -x)
        self.assertEqual(lst.copy(), [3, 2, 1])
        lst.reverse()
        self.assertEqual(lst.copy(), [1, 2, 3])
        lst += [4]
        self.assertEqual(lst.copy(), [1, 2, 3, 4])
        lst *= 2
        self.assertEqual(len(lst), 8)
        self.assertEqual(lst + [0], [1, 2, 3, 4, 1, 2, 3, 4, 0])
        self.assertEqual([0] + mpx.list([1]), [0, 1])
        self.assertEqual(mpx.list([1]) * 2, [1, 1])
        self.assertTrue(mpx.list([1]) < [2])

    def test_sort_is_never_a_lost_update(self):
        # A writer appends while another thread sorts: every append survives.
        lst = mpx.list(list(range(200, 0, -1)))
        stop = threading.Event()

        def writer():
            for i in range(100):
                lst.append(1000 + i)
            stop.set()

        t = threading.Thread(target=writer)
        t.start()
        while not stop.is_set():
            lst.sort()
        t.join()
        lst.sort()
        self.assertEqual(lst.copy(), list(range(1, 201)) + [1000 + i for i in range(100)])
        self.assertGreater(info(lst.name)["splices"], 0)

    def test_sort_tries_again_when_the_list_changed(self):
        # The key function runs between the read and the splice back: a change
        # made there by another connection makes the splice fail, and sort()
        # reads again, so that the item appended meanwhile is kept and sorted.
        lst = mpx.list([3, 1, 2])
        other = mpx.list(name=lst.name, create=False)
        calls = []

        def key(x):
            if not calls:
                t = threading.Thread(target=other.append, args=(0,))
                t.start()
                t.join()
            calls.append(x)
            return x
        lst.sort(key=key)
        self.assertEqual(lst.copy(), [0, 1, 2, 3])
        self.assertEqual(len(calls), 3 + 4)

    def test_shared_with_another_process(self):
        lst = mpx.list(name=fresh("list"))
        self.addCleanup(lst.delete)
        out = self.run_python("""
            import sys, mpx
            lst = mpx.list(name=sys.argv[1], create=False)
            lst.extend(["b", "a"])
            lst.sort()
            print(lst[0])
        """, lst.name)
        self.assertEqual(out.strip(), "a")
        self.assertEqual(lst.copy(), ["a", "b"])


if __name__ == "__main__":
    unittest.main()
