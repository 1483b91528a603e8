# SPDX-License-Identifier: MIT
"""Tests of names and lifetimes (mpx._handle) and of connections (mpx._conn)."""

import multiprocessing
import os
import pickle
import threading
import unittest

import mpx
from mpx import _conn
from mpxtest import TestCase, exists, fresh, info, wait_for, _mpx


def _child_put(q, item, ready):
    # Runs in a multiprocessing child: uses handles given by the parent.
    ready.wait()
    q.put(item)


class TestNames(TestCase):
    def test_create_open_exclusive(self):
        name = fresh("names")
        with self.assertRaises(FileNotFoundError):
            mpx.Queue(name=name, create=False)
        q = mpx.Queue(3, name=name, exclusive=True)
        self.assertEqual(q.name, name)
        self.assertFalse(q.counted)
        with self.assertRaises(FileExistsError):
            mpx.Queue(name=name, exclusive=True)
        # Opening never needs the creator's parameters.
        other = mpx.Queue(name=name)
        self.assertEqual(other.maxsize, 3)
        self.assertEqual(mpx.Queue(name=name, create=False).maxsize, 3)
        other.put("x")
        self.assertEqual(q.get(), "x")
        # Another type under the name.
        with self.assertRaises(OSError):
            mpx.Event(name=name)
        with self.assertRaises(TypeError):
            mpx.Event(name=name, create=False)
        q.delete()
        self.assertFalse(exists(name))

    def test_bad_arguments(self):
        with self.assertRaises(ValueError):
            mpx.Queue(create=False)
        with self.assertRaises(TypeError):
            mpx.Queue(name=b"bytes")

    def test_named_objects_are_not_counted(self):
        name = fresh("named")
        e = mpx.Event(name=name)
        e.close()
        del e
        self.assertTrue(exists(name))
        self.assertNotIn("refs", info(name))


class TestCounted(TestCase):
    def test_anonymous_lives_while_a_handle_does(self):
        e = mpx.Event()
        name = e.name
        self.assertTrue(name.startswith("py."))
        self.assertTrue(e.counted)
        self.assertEqual(info(name)["refs"], 1)
        e2 = pickle.loads(pickle.dumps(e))
        self.assertEqual(info(name)["refs"], 2)
        e.close()
        e.close()
        with self.assertRaises(ValueError):
            e.set()
        self.assertTrue(exists(name))
        e2.set()
        del e2
        self.assertFalse(exists(name))

    def test_opening_a_counted_object_by_name_takes_a_reference(self):
        e = mpx.Event()
        other = mpx.Event(name=e.name, create=False)
        self.assertEqual(info(e.name)["refs"], 2)
        e.close()
        other.set()
        other.close()
        self.assertFalse(exists(e.name))

    def test_transit_reference_in_a_pickle(self):
        q = mpx.Queue()
        data = pickle.dumps(q)
        self.assertEqual(info(q.name)["refs_in_transit"], 1)
        name = q.name
        q.close()
        del q
        # Only the reference in transit keeps it.
        self.assertTrue(exists(name))
        back = pickle.loads(data)
        back.put(1)
        self.assertEqual(back.get(), 1)

    def test_lease_runs_out(self):
        old = mpx.TRANSIT_LEASE
        mpx.TRANSIT_LEASE = 0.05
        self.addCleanup(setattr, mpx, "TRANSIT_LEASE", old)
        e = mpx.Event()
        pickle.dumps(e)
        name = e.name
        e.close()
        wait_for(lambda: not exists(name), "the end of the lease")

    def test_handle_in_an_mpx_queue_read_later(self):
        carrier = mpx.Queue(name=fresh("carrier"))
        self.addCleanup(carrier.delete)
        inner = mpx.Queue()
        inner.put("inside")
        carrier.put(inner)
        name = inner.name
        inner.close()
        del inner
        self.assertTrue(exists(name))
        # Another process, started after the sender dropped its handle, reads it.
        out = self.run_python("""
            import sys, mpx
            carrier = mpx.Queue(name=sys.argv[1], create=False)
            inner = carrier.get(timeout=30)
            print(inner.get(timeout=30))
        """, carrier.name)
        self.assertEqual(out.strip(), "inside")
        wait_for(lambda: not exists(name), "the end of the last reference")

    def test_parent_exits_before_spawned_child_attaches(self):
        # A parent makes an anonymous queue, pickles it into a file-like pipe
        # to a grandchild started with spawn, and exits before the child reads.
        gate = mpx.Event(name=fresh("gate"))
        self.addCleanup(gate.delete)
        result = mpx.Queue(name=fresh("result"))
        self.addCleanup(result.delete)
        p = self.spawn_python("""
            import multiprocessing, sys, mpx
            def child(q, gate, result):
                gate.wait(30)
                result.put(q.get(timeout=30))
            if __name__ == "__main__":
                ctx = multiprocessing.get_context(sys.argv[3])
                q = mpx.Queue()
                q.put("from the parent")
                gate = mpx.Event(name=sys.argv[1], create=False)
                result = mpx.Queue(name=sys.argv[2], create=False)
                c = ctx.Process(target=child, args=(q, gate, result))
                c.start()
                print(q.name, flush=True)
                # Exit without waiting for the child (os._exit skips the join at exit).
                import os
                os._exit(0)
        """, gate.name, result.name, "spawn")
        name = p.stdout.readline().decode().strip()
        p.wait()
        # The parent is gone; its child still waits at the gate.
        self.assertTrue(exists(name))
        gate.set()
        self.assertEqual(result.get(timeout=60), "from the parent")

    def test_parent_exits_before_forked_child_attaches(self):
        gate = mpx.Event(name=fresh("gate"))
        self.addCleanup(gate.delete)
        result = mpx.Queue(name=fresh("result"))
        self.addCleanup(result.delete)
        p = self.spawn_python("""
            import os, sys, mpx
            q = mpx.Queue()
            q.put("forked")
            gate = mpx.Event(name=sys.argv[1], create=False)
            result = mpx.Queue(name=sys.argv[2], create=False)
            if os.fork() == 0:
                gate.wait(30)
                result.put(q.get(timeout=30))
                os._exit(0)
            print(q.name, flush=True)
            os._exit(0)
        """, gate.name, result.name)
        name = p.stdout.readline().decode().strip()
        p.wait()
        self.assertTrue(exists(name))
        gate.set()
        self.assertEqual(result.get(timeout=60), "forked")
        wait_for(lambda: not exists(name), "the end of the forked child's reference")

    def test_multiprocessing_fork_and_spawn(self):
        for method in ("fork", "spawn", "forkserver"):
            with self.subTest(method=method):
                ctx = multiprocessing.get_context(method)
                q = mpx.Queue()
                ready = mpx.Event()
                p = ctx.Process(target=_child_put, args=(q, method, ready))
                p.start()
                self.addCleanup(p.join)
                self.addCleanup(p.kill)
                ready.set()
                self.assertEqual(q.get(timeout=60), method)
                p.join()
                self.assertEqual(p.exitcode, 0)


class TestConnections(TestCase):
    def test_one_connection_per_thread(self):
        mine = _conn.get()
        self.assertIs(_conn.get(), mine)
        seen = []
        t = threading.Thread(target=lambda: seen.append(_conn.get()))
        t.start()
        t.join()
        self.assertIsNot(seen[0], mine)

    def test_fork_gets_fresh_connections(self):
        mine = _conn.get()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                c = _conn.get()
                ok = c is not mine and c.pid == os.getpid() and c.ping() is None
                os.write(w, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(w)
        self.assertEqual(os.read(r, 1), b"1")
        os.close(r)
        os.waitpid(pid, 0)

    def test_set_address(self):
        old = _conn.get_address()
        self.assertEqual(old, os.environ.get("MPX_SOCKET", _mpx.DEFAULT_SOCKET))
        mpx.set_address("/nonexistent/mpxd.sock")
        try:
            self.assertEqual(mpx.get_address(), "/nonexistent/mpxd.sock")
            with self.assertRaises(OSError):
                mpx.Event(name=fresh("nowhere"))
        finally:
            mpx.set_address(None)
        self.assertEqual(mpx.get_address(), old)


if __name__ == "__main__":
    unittest.main()
