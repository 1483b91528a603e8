# SPDX-License-Identifier: MIT
"""Tests of mpx.connection: Pipe and open_pipe."""

import multiprocessing
import multiprocessing.connection
import unittest

import mpx
from mpxtest import TestCase, fresh


def _echo(conn):
    conn.send(conn.recv() * 2)


class TestPipe(TestCase):
    def test_duplex(self):
        a, b = mpx.Pipe()
        self.assertIsInstance(a, multiprocessing.connection.Connection)
        a.send({"x": [1]})
        self.assertEqual(b.recv(), {"x": [1]})
        b.send_bytes(b"back")
        self.assertEqual(a.recv_bytes(), b"back")
        self.assertFalse(a.poll(0))
        a.close()
        with self.assertRaises(EOFError):
            b.recv()
        b.close()

    def test_one_way(self):
        r, w = mpx.Pipe(duplex=False)
        self.assertTrue(r.readable)
        self.assertFalse(r.writable)
        self.assertTrue(w.writable)
        self.assertFalse(w.readable)
        w.send(5)
        self.assertEqual(r.recv(), 5)
        r.close()
        w.close()

    def test_with_a_forked_process(self):
        a, b = mpx.Pipe()
        p = multiprocessing.get_context("fork").Process(target=_echo, args=(b,))
        p.start()
        self.addCleanup(p.join)
        self.addCleanup(p.kill)
        a.send("ab")
        self.assertEqual(a.recv(), "abab")
        p.join()


class TestOpenPipe(TestCase):
    def test_unrelated_processes(self):
        name = fresh("pipe")
        p = self.spawn_python("""
            import sys, mpx
            conn = mpx.open_pipe(sys.argv[1], "w", timeout=30)
            conn.send({"user": "ann"})
            conn.close()
        """, name)
        conn = mpx.open_pipe(name, "r", timeout=30)
        self.assertEqual(conn.recv(), {"user": "ann"})
        conn.close()
        p.wait()

    def test_errors(self):
        with self.assertRaises(ValueError):
            mpx.open_pipe(fresh("pipe"), "x")
        with self.assertRaises(BlockingIOError):
            mpx.open_pipe(fresh("pipe"), "r", timeout=0)
        with self.assertRaises(TimeoutError):
            mpx.open_pipe(fresh("pipe"), timeout=0.01)


if __name__ == "__main__":
    unittest.main()
