# SPDX-License-Identifier: MIT
"""Tests of mpx.queues: Queue, SimpleQueue, JoinableQueue, ShutDown."""

import os
import queue
import signal
import threading
import unittest

import mpx
from mpxtest import TestCase, fresh, info, interrupt_with_keyboard_interrupt, wait_for


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
        q = mpx.Queue(5)
        q.put(1)
        other = mpx.Queue(name=q.name, create=False)
        other.shutdown()
        with self.assertRaises(mpx.ShutDown):
            q.put(2)
        self.assertEqual(q.get(), 1)
        with self.assertRaises(mpx.ShutDown):
            q.get()
        self.assertTrue(issubclass(mpx.ShutDown, Exception))

    def test_shutdown_seen_by_a_pipelined_put(self):
        # A put to an unbounded queue does not wait for its answer: the
        # failure comes with join_thread() (or the queue's next put).
        q = mpx.Queue()
        other = mpx.Queue(name=q.name, create=False)
        other.shutdown()
        q.put(1)
        q.close()
        with self.assertRaises(mpx.ShutDown) as cm:
            q.join_thread()
        self.assertIn(q.name, str(cm.exception))
        q.join_thread()                 # raised once
        other.close()

    def test_close_lands_the_puts_before_the_last_reference_ends(self):
        # The puts travel on the thread's connection, the reference on another:
        # were the reference (the queue's last) dropped first, the puts would
        # find no queue, and join_thread() would raise FileNotFoundError.
        big = b"x" * 60000              # the daemon reads such puts over several passes of its loop
        for _ in range(10):
            q = mpx.Queue()
            for _ in range(40):
                q.put(big)
            q.close()
            q.join_thread()

    def test_pipelined_failure_raised_by_the_next_put_of_its_queue(self):
        q = mpx.Queue()
        mpx.Queue(name=q.name, create=False).shutdown()
        q.put(1)
        c = q._c()
        c.queue_qsize(q.name)           # any call reads the answers that came
        unrelated = mpx.Queue()
        unrelated.put(2)                # another queue's put does not raise it
        with self.assertRaises(mpx.ShutDown):
            q.put(3)
        self.assertEqual(unrelated.get(), 2)

    def test_pipelined_puts_land_in_order(self):
        q = mpx.Queue()
        for i in range(2000):
            q.put(i)
        self.assertEqual(q.qsize(), 2000)
        self.assertEqual([q.get() for _ in range(2000)], list(range(2000)))

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
        with self.assertRaises(ValueError):
            mpx.Queue().put(1, timeout=-1)         # an unbounded queue's put never waits, but checks


class TestQueueOnJoinable(TestCase):
    def test_queue_opens_a_joinable_queue(self):
        j = mpx.JoinableQueue(name=fresh("joinable"))
        j.put("a")
        j.put("b")
        q = mpx.Queue(name=j.name)
        self.assertEqual([q.get(), q.get()], ["a", "b"])
        self.assertFalse(j.join(timeout=0.01))      # taken, not done
        j.task_done()
        j.task_done()
        self.assertTrue(j.join(timeout=30))


class TestPrefetch(TestCase):
    """Gets that take items ahead, and what becomes of the items not returned."""

    def setUp(self):
        # Every consumer here counts as fast, so that items are taken ahead whatever the machine's pace.
        saved = mpx.queues._FAST_CONSUMER
        mpx.queues._FAST_CONSUMER = 3600.0
        self.addCleanup(setattr, mpx.queues, "_FAST_CONSUMER", saved)

    def test_fast_consumer_takes_ahead_in_order(self):
        q = mpx.Queue()
        for i in range(300):
            q.put(i)
        c = q._c()
        got, most_held = [], 0
        for _ in range(300):
            got.append(q.get())
            most_held = max(most_held, c.held)
        self.assertEqual(got, list(range(300)))
        self.assertEqual(most_held, mpx.queues.DEFAULT_PREFETCH - 1)
        self.assertEqual(c.held, 0)
        with self.assertRaises(mpx.Empty):
            q.get(timeout=0.01)

    def test_slow_consumer_takes_one(self):
        mpx.queues._FAST_CONSUMER = 0.0
        q = mpx.Queue()
        for i in range(10):
            q.put(i)
        self.assertEqual([q.get() for _ in range(10)], list(range(10)))
        self.assertEqual(q.qsize(), 0)

    def test_prefetch_one_takes_nothing_ahead(self):
        q = mpx.Queue(prefetch=1)
        for i in range(10):
            q.put(i)
        c = q._c()
        for i in range(10):
            self.assertEqual(q.get(), i)
            self.assertEqual(c.held, 0)
            self.assertEqual(q.qsize(), 9 - i)
        with self.assertRaises(ValueError):
            mpx.Queue(prefetch=0)

    def test_prefetch_survives_pickling(self):
        import pickle
        q = mpx.Queue(prefetch=3)
        self.assertEqual(pickle.loads(pickle.dumps(q))._prefetch, 3)

    def test_connection_close_gives_back(self):
        q = mpx.Queue()
        for i in range(10):
            q.put(i)
        q.get()
        q.get()
        c = q._c()
        self.assertGreater(c.held, 0)
        self.assertEqual(q.qsize(), 10 - 2 - c.held)
        c.close()
        self.assertEqual(q.qsize(), 8)
        self.assertEqual(sorted(q.get() for _ in range(8)), list(range(2, 10)))

    def _child_takes_one(self, q, out):
        import mpx as m
        m.queues._FAST_CONSUMER = 3600.0
        q.get()
        out.put(q.get())
        out.put(q._c().held)

    def test_multiprocessing_child_gives_back_at_exit(self):
        # A multiprocessing child leaves by os._exit(): its exit finalizers give the items back.
        import multiprocessing as mp
        q = mpx.Queue()
        for i in range(20):
            q.put(i)
        out = mpx.Queue(prefetch=1)
        p = mp.get_context("fork").Process(target=self._child_takes_one, args=(q, out))
        p.start()
        self.assertEqual(out.get(timeout=30), 1)
        self.assertGreater(out.get(timeout=30), 0)
        p.join(30)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(q.qsize(), 18)
        self.assertEqual(sorted(q.get() for _ in range(18)), list(range(2, 20)))

    def test_script_gives_back_at_exit(self):
        q = mpx.Queue(name=fresh("giveback"))
        for i in range(20):
            q.put(i)
        out = self.run_python("""
            import sys, mpx
            mpx.queues._FAST_CONSUMER = 3600.0
            q = mpx.Queue(name=sys.argv[1], create=False)
            print(q.get(), q.get(), q._c().held > 0)
            """, q.name)
        self.assertEqual(out.split(), ["0", "1", "True"])
        self.assertEqual(q.qsize(), 18)


class TestPipelinedPuts(TestCase):
    def _child_puts(self, q, n):
        for i in range(n):
            q.put(i)

    def test_child_puts_land_though_it_leaves_at_once(self):
        import multiprocessing as mp
        q = mpx.Queue()
        p = mp.get_context("fork").Process(target=self._child_puts, args=(q, 5000))
        p.start()
        p.join(60)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(q.qsize(), 5000)
        self.assertEqual([q.get() for _ in range(5000)], list(range(5000)))

    def test_failure_unraised_at_exit_is_a_warning(self):
        q = mpx.Queue(name=fresh("warned"))
        r = self.spawn_python("""
            import sys, mpx
            q = mpx.Queue(name=sys.argv[1], create=False)
            mpx.Queue(name=sys.argv[1], create=False).shutdown()
            q.put(1)
            """, q.name)
        out, err = r.communicate(timeout=60)
        self.assertEqual(r.returncode, 0)
        self.assertIn(b"RuntimeWarning: a put to mpx queue %s failed" % q.name.encode(), err)

    def test_bounded_put_waits_for_its_answer(self):
        q = mpx.Queue(2)
        q.put(1)
        q.put(2)
        with self.assertRaises(mpx.Full):
            q.put(3, timeout=0.01)
        self.assertEqual(q.qsize(), 2)


class TestInterruptedGet(TestCase):
    """A real SIGINT from another process while Queue.get() waits: KeyboardInterrupt, nothing lost."""

    ROUNDS = 50

    def setUp(self):
        interrupt_with_keyboard_interrupt(self)

    def test_sigint_during_get_loses_nothing(self):
        q = mpx.Queue(name=fresh("sigint"))
        go = mpx.Queue(name=fresh("sigint-go"))
        helper = self.spawn_python("""
            import os, signal, sys, time
            import mpx
            from mpx import _mpx
            q = mpx.Queue(name=sys.argv[1], create=False)
            go = mpx.Queue(name=sys.argv[2], create=False, prefetch=1)
            rounds, target = int(sys.argv[3]), int(sys.argv[4])
            with _mpx.Connection() as c:
                for i in range(rounds):
                    deadline = time.monotonic() + 30
                    while c.object_info(q.name)["getters"] < 1:
                        assert time.monotonic() < deadline
                    os.kill(target, signal.SIGINT)
                    q.put(i)
                    go.get()
            """, q.name, go.name, self.ROUNDS, os.getpid())
        for i in range(self.ROUNDS):
            with self.assertRaises(KeyboardInterrupt):
                q.get()
            self.assertEqual(q.get(timeout=30), i)
            go.put("next")
        self.assertEqual(helper.wait(timeout=60), 0)
        self.assertEqual(q.qsize(), 0)


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
