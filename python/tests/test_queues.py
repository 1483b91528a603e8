# SPDX-License-Identifier: MIT
"""Tests of mpx.queues: Queue, SimpleQueue, JoinableQueue, ShutDown."""

import queue
import threading
import unittest

import mpx
from mpxtest import TestCase, fresh, info, wait_for


class TestQueue(TestCase):
    def test_put_get_fifo(self):
        q = mpx.Queue()
        for obj in (1, "two", b"\xff", [3], None):
            q.put(obj)
        self.assertEqual(q.qsize(), 5)
        self.assertFalse(q.empty())
        self.assertEqual([q.get() for _ in range(5)], [1, "two", b"\xff", [3], None])
        self.assertTrue(q.empty())

    def test_empty_and_full(self):
        q = mpx.Queue(2)
        self.assertEqual(q.maxsize, 2)
        with self.assertRaises(queue.Empty):
            q.get(block=False)
        with self.assertRaises(queue.Empty):
            q.get_nowait()
        with self.assertRaises(queue.Empty):
            q.get(timeout=0.01)
        q.put(1)
        q.put_nowait(2)
        self.assertTrue(q.full())
        with self.assertRaises(queue.Full):
            q.put(3, block=False)
        with self.assertRaises(queue.Full):
            q.put(3, timeout=0.01)
        self.assertIs(mpx.Empty, queue.Empty)
        self.assertIs(mpx.Full, queue.Full)

    def test_blocking_get_woken_by_another_process(self):
        q = mpx.Queue(name=fresh("q"))
        self.addCleanup(q.delete)
        got = []
        t = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
        t.start()
        wait_for(lambda: info(q.name)["getters"] >= 1, "a getter")
        self.run_python("""
            import sys, mpx
            mpx.Queue(name=sys.argv[1], create=False).put({"from": "elsewhere"})
        """, q.name)
        t.join()
        self.assertEqual(got, [{"from": "elsewhere"}])

    def test_close_and_join_thread(self):
        q = mpx.Queue()
        with self.assertRaises(ValueError):
            q.join_thread()
        q.cancel_join_thread()
        q.close()
        q.join_thread()
        with self.assertRaises(ValueError):
            q.put(1)

    def test_shutdown(self):
        q = mpx.Queue()
        q.put(1)
        other = mpx.Queue(name=q.name, create=False)
        other.shutdown()
        with self.assertRaises(mpx.ShutDown):
            q.put(2)
        self.assertEqual(q.get(), 1)
        with self.assertRaises(mpx.ShutDown):
            q.get()
        self.assertTrue(issubclass(mpx.ShutDown, Exception))

    def test_serializers(self):
        q = mpx.Queue(serializer="json")
        q.put({"a": [1]})
        self.assertEqual(q.get(), {"a": [1]})
        raw = mpx.Queue(serializer="raw")
        raw.put(b"abc")
        self.assertEqual(raw.get(), b"abc")
        with self.assertRaises(TypeError):
            raw.put("text")
        with self.assertRaises(ValueError):
            mpx.Queue(serializer="xml")

    def test_negative_timeout(self):
        with self.assertRaises(ValueError):
            mpx.Queue().get(timeout=-1)


class TestSimpleQueue(TestCase):
    def test_calls(self):
        q = mpx.SimpleQueue()
        self.assertTrue(q.empty())
        q.put("a")
        self.assertFalse(q.empty())
        self.assertEqual(q.get(), "a")
        self.assertEqual(q.maxsize, 0)
        q.close()


class TestJoinableQueue(TestCase):
    def test_task_done_and_join(self):
        q = mpx.JoinableQueue()
        q.put(1)
        q.put(2)
        self.assertFalse(q.join(timeout=0))
        self.assertFalse(q.join(timeout=0.01))
        self.assertEqual(q.get(), 1)
        self.assertEqual(q.get(), 2)
        q.task_done()
        self.assertEqual(info(q.name)["unfinished"], 1)
        q.task_done()
        self.assertTrue(q.join(timeout=0))
        self.assertTrue(q.join())
        with self.assertRaises(ValueError):
            q.task_done()

    def test_task_done_from_another_thread(self):
        q = mpx.JoinableQueue()
        q.put("x")
        q.get()
        t = threading.Thread(target=q.task_done)
        t.start()
        t.join()
        self.assertTrue(q.join(timeout=30))

    def test_join_woken_by_other_processes(self):
        q = mpx.JoinableQueue(name=fresh("jq"))
        self.addCleanup(q.delete)
        for i in range(5):
            q.put(i)
        out = self.run_python("""
            import sys, mpx
            q = mpx.JoinableQueue(name=sys.argv[1], create=False)
            total = 0
            for _ in range(5):
                total += q.get(timeout=30)
                q.task_done()
            print(total)
        """, q.name)
        self.assertEqual(out.strip(), "10")
        self.assertTrue(q.join(timeout=30))

    def test_plain_queue_is_not_joinable(self):
        name = fresh("plain")
        mpx.Queue(name=name)
        with self.assertRaises(TypeError):
            mpx.JoinableQueue(name=name, create=False)
        mpx.Queue(name=name).delete()


if __name__ == "__main__":
    unittest.main()
