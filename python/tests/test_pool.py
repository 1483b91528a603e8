# SPDX-License-Identifier: MIT
"""Tests of mpx.Pool: multiprocessing's Pool API over workers that mpxd supervises."""

import multiprocessing
import os
import pickle
import threading
import unittest

import mpx
from mpxtest import TestCase, fresh, exists, info, wait_for


def square(x):
    return x * x


def add(a, b):
    return a + b


def fail(x):
    raise KeyError("no %r here" % (x,))


def pid(_=None):
    return os.getpid()


def die_once(path):
    """Kill the worker the first time (the marker file is not there yet); return its pid the next."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return os.getpid()
    os._exit(7)


def die(_=None):
    os._exit(9)


def block_on(name):
    """Wait for an item on the queue name (what a long task looks like)."""
    return mpx.Queue(name=name, create=False).get(timeout=60)


_initialised = []


def remember(value):
    _initialised.append(value)


def initialised(_=None):
    return list(_initialised)


# Every wait has a deadline: workers that cannot start (a broken environment) fail the test, not hang it.
T = 120


class TestPool(TestCase):
    def setUp(self):
        self.pool = mpx.Pool(2)
        self.addCleanup(self.pool.terminate)

    def test_apply_and_map(self):
        p = self.pool
        self.assertEqual(p.apply_async(square, (7,)).get(T), 49)
        self.assertEqual(p.apply_async(add, (1,), {"b": 2}).get(T), 3)
        self.assertEqual(p.map_async(square, range(100)).get(T), [x * x for x in range(100)])
        self.assertEqual(p.map_async(square, range(10), chunksize=3).get(T), [x * x for x in range(10)])
        self.assertEqual(p.map_async(square, []).get(T), [])
        self.assertEqual(p.starmap_async(add, [(1, 2), (3, 4)]).get(T), [3, 7])
        it = p.imap(square, range(10))
        self.assertEqual([it.next(T) for _ in range(10)], [x * x for x in range(10)])
        self.assertEqual(list(p.imap(square, iter(range(10)), chunksize=4)), [x * x for x in range(10)])
        it = p.imap_unordered(square, range(10))
        self.assertEqual(sorted(it.next(T) for _ in range(10)), [x * x for x in range(10)])

    def test_async_results_and_callbacks(self):
        got, errors = [], []
        done = threading.Event()
        r = self.pool.apply_async(square, (3,), callback=got.append)
        self.assertEqual(r.get(timeout=30), 9)
        self.assertTrue(r.ready())
        self.assertTrue(r.successful())
        self.assertEqual(got, [9])
        m = self.pool.map_async(square, range(5), callback=lambda v: (got.append(v), done.set()))
        m.wait(30)
        self.assertTrue(done.wait(30))
        self.assertEqual(got[-1], [0, 1, 4, 9, 16])
        e = self.pool.apply_async(fail, (1,), error_callback=errors.append)
        with self.assertRaises(KeyError):
            e.get(timeout=30)
        self.assertFalse(e.successful())
        self.assertIsInstance(errors[0], KeyError)

    def test_remote_traceback(self):
        with self.assertRaises(KeyError) as cm:
            self.pool.apply_async(fail, ("x",)).get(T)
        cause = cm.exception.__cause__
        self.assertEqual(type(cause).__name__, "RemoteTraceback")
        self.assertIn("in fail", str(cause))
        self.assertIn("no 'x' here", str(cause))

    def test_get_timeout(self):
        q = mpx.Queue(name=fresh("block"))
        r = self.pool.apply_async(block_on, (q.name,))
        with self.assertRaises(multiprocessing.TimeoutError):
            r.get(timeout=0.05)
        self.assertFalse(r.ready())
        q.put("go")
        self.assertEqual(r.get(timeout=30), "go")

    def test_workers_are_supervised_processes(self):
        pids = set(self.pool.map_async(pid, range(50), chunksize=1).get(T))
        self.assertTrue(pids)
        self.assertNotIn(os.getpid(), pids)
        i = info(self.pool.name)
        self.assertEqual(i["type"], "pool")
        self.assertEqual(i["workers"], 2)

    def test_task_of_a_dead_worker_runs_again(self):
        marker = os.path.join(self.tmpdir(), "died")
        first = self.pool.apply_async(die_once, (marker,)).get(T)
        self.assertTrue(os.path.exists(marker))
        self.assertNotEqual(first, os.getpid())
        # the pool restarted the worker that died
        wait_for(lambda: info(self.pool.name)["size"] == 2, "the pool to have its two workers again")

    def test_task_that_kills_every_worker_fails(self):
        with self.assertRaises(mpx.WorkerLostError):
            self.pool.apply_async(die).get(T)
        self.assertEqual(self.pool.apply_async(square, (5,)).get(T), 25)

    def test_close_join_ends_an_anonymous_pool(self):
        p = mpx.Pool(1)
        name = p.name
        self.assertEqual(p.apply_async(square, (2,)).get(T), 4)     # the worker is up
        r = p.map_async(square, range(20))
        with self.assertRaises(ValueError):
            p.join()
        p.close()
        with self.assertRaises(ValueError):
            p.apply(square, (1,))
        p.join()
        self.assertEqual(r.get(0), [x * x for x in range(20)])
        self.assertFalse(exists(name))
        self.assertFalse(exists(name + ".jobs"))

    def test_terminate_fails_what_is_pending(self):
        q = mpx.Queue(name=fresh("never"))
        p = mpx.Pool(1)
        r = p.apply_async(block_on, (q.name,))
        p.terminate()
        with self.assertRaises(mpx.pool.PoolTerminated):
            r.get(timeout=30)
        self.assertFalse(exists(p.name))

    def test_context_manager(self):
        with mpx.Pool(1) as p:
            self.assertEqual(p.apply_async(square, (4,)).get(T), 16)
            name = p.name
        self.assertFalse(exists(name))

    def test_initializer(self):
        with mpx.Pool(1, initializer=remember, initargs=("ready",)) as p:
            self.assertEqual(p.apply_async(initialised).get(T), ["ready"])

    def test_no_result_queue_no_pool(self):
        # The result queue cannot be made (an unknown flag stands for a quota): Pool() raises, and leaves nothing.
        from unittest import mock
        before = {o["name"] for o in mpx.Connection().list_objects()}
        with mock.patch.object(mpx.pool._mpx, "QUEUE_CONNECTION", 1 << 20):
            with self.assertRaises(OSError):
                mpx.Pool(1)
        after = {o["name"] for o in mpx.Connection().list_objects()}
        self.assertEqual(after - before, set())

    def test_arguments_and_pickling_refused(self):
        with self.assertRaises(ValueError):
            mpx.Pool(0)
        with self.assertRaises(TypeError):
            mpx.Pool(1, initializer=3)
        with self.assertRaises(ValueError):
            mpx.Pool(1, maxtasksperchild=5)
        with self.assertRaises(NotImplementedError):
            pickle.dumps(self.pool)

    def test_named_pool_shared_by_unrelated_processes(self):
        name = fresh("shared-pool")
        p = mpx.Pool(2, name=name)
        self.addCleanup(lambda: mpx.Connection().pool_stop(name, 0))
        self.addCleanup(p.terminate)
        out = self.run_python("""
            import sys, mpx
            def cube(x):
                return x ** 3
            if __name__ == "__main__":
                p = mpx.Pool(name=sys.argv[1])
                print(p.map_async(cube, range(5)).get(120))
                p.close()
                p.join()
            """, name)
        self.assertEqual(out.strip(), "[0, 1, 8, 27, 64]")
        # the other process's join() left the named pool running
        self.assertEqual(p.apply_async(square, (6,)).get(T), 36)
        self.assertTrue(exists(name))

    def tmpdir(self):
        import shutil
        import tempfile
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        return d


if __name__ == "__main__":
    unittest.main()
