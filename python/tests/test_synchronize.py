# SPDX-License-Identifier: MIT
"""Tests of mpx.synchronize: locks, semaphores, conditions, events, barriers."""

import pickle
import threading
import unittest
import warnings

import mpx
from mpxtest import TestCase, fresh, info, wait_for


class TestLock(TestCase):
    def test_acquire_release(self):
        lock = mpx.Lock()
        self.assertTrue(lock.acquire())
        self.assertFalse(lock.acquire(False))
        self.assertFalse(lock.acquire(timeout=0.01))
        lock.release()
        with self.assertRaises(ValueError):
            lock.release()
        with lock:
            self.assertFalse(lock.acquire(block=False))
        self.assertTrue(lock.acquire(block=False))
        lock.release()

    def test_other_process_waits(self):
        lock = mpx.Lock(name=fresh("lock"))
        self.addCleanup(lock.delete)
        lock.acquire()
        p = self.spawn_python("""
            import sys, mpx
            lock = mpx.Lock(name=sys.argv[1], create=False)
            print("got" if lock.acquire(timeout=30) else "timeout", flush=True)
            lock.release()
        """, lock.name)
        wait_for(lambda: info(lock.name)["waiters"] >= 1, "the helper waiting")
        lock.release()
        self.assertEqual(p.stdout.readline().strip(), b"got")
        p.wait()

    def test_owner_died(self):
        lock = mpx.Lock(name=fresh("robust"))
        self.addCleanup(lock.delete)
        self.run_python("""
            import os, sys, mpx
            mpx.Lock(name=sys.argv[1], create=False).acquire()
            os._exit(0)
        """, lock.name)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            self.assertTrue(lock.acquire(timeout=30))
        self.assertTrue(lock.owner_died)
        self.assertTrue(any(issubclass(x.category, mpx.OwnerDiedWarning) for x in w))
        lock.release()


class TestRLock(TestCase):
    def test_recursion(self):
        r = mpx.RLock()
        self.assertTrue(r.acquire())
        self.assertTrue(r.acquire())
        self.assertEqual(info(r.name)["value"], 0)
        r.release()
        self.assertEqual(info(r.name)["value"], 0)
        r.release()
        self.assertEqual(info(r.name)["value"], 1)
        with self.assertRaises(AssertionError):
            r.release()

    def test_other_thread_cannot_take_or_release(self):
        r = mpx.RLock()
        r.acquire()
        res = []

        def other():
            res.append(r.acquire(False))
            try:
                r.release()
            except AssertionError:
                res.append("assert")
        t = threading.Thread(target=other)
        t.start()
        t.join()
        self.assertEqual(res, [False, "assert"])
        r.release()


class TestSemaphore(TestCase):
    def test_counts(self):
        s = mpx.Semaphore(2)
        self.assertEqual(s.get_value(), 2)
        self.assertTrue(s.acquire())
        self.assertTrue(s.acquire())
        self.assertFalse(s.acquire(False))
        s.release()
        s.release()
        s.release()
        self.assertEqual(s.get_value(), 3)
        with self.assertRaises(ValueError):
            mpx.Semaphore(-1)

    def test_units_taken_by_a_dead_process_stay_taken(self):
        s = mpx.Semaphore(1, name=fresh("sem"))
        self.addCleanup(s.delete)
        self.run_python("""
            import sys, mpx
            mpx.Semaphore(name=sys.argv[1], create=False).acquire()
        """, s.name)
        self.assertEqual(s.get_value(), 0)

    def test_bounded(self):
        b = mpx.BoundedSemaphore(2)
        b.acquire()
        b.release()
        with self.assertRaises(ValueError):
            b.release()
        self.assertEqual(b.get_value(), 2)


class TestCondition(TestCase):
    def test_wait_notify_across_processes(self):
        name = fresh("cond")
        cond = mpx.Condition(name=name)
        state = mpx.Event(name=name + ".state")
        self.addCleanup(state.delete)
        p = self.spawn_python("""
            import sys, mpx
            cond = mpx.Condition(name=sys.argv[1], create=False)
            state = mpx.Event(name=sys.argv[1] + ".state", create=False)
            with cond:
                ok = cond.wait_for(state.is_set, timeout=30)
            print("woken" if ok else "timeout", flush=True)
        """, name)
        wait_for(lambda: info(name + ".sleeping")["value"] >= 1, "the helper waiting")
        with cond:
            state.set()
            cond.notify()
        self.assertEqual(p.stdout.readline().strip(), b"woken")
        p.wait()

    def test_wait_timeout_and_notify_all(self):
        cond = mpx.Condition()
        with cond:
            self.assertFalse(cond.wait(0.01))
        with self.assertRaises(AssertionError):
            cond.wait(0)
        woken = []

        def waiter():
            with cond:
                woken.append(cond.wait(30))
        threads = [threading.Thread(target=waiter) for _ in range(3)]
        for t in threads:
            t.start()
        # The timed out wait above left its count, which notify() settles.
        wait_for(lambda: cond._sleeping_count.get_value() >= 4, "three waiters")
        with cond:
            cond.notify_all()
        for t in threads:
            t.join()
        self.assertEqual(woken, [True, True, True])

    def test_with_a_lock_and_pickled(self):
        lock = mpx.Lock()
        cond = mpx.Condition(lock)
        back = pickle.loads(pickle.dumps(cond))
        self.assertEqual(back._lock.name, lock.name)
        with back:
            self.assertFalse(lock.acquire(False))
            back.notify()


class TestEvent(TestCase):
    def test_calls(self):
        e = mpx.Event()
        self.assertFalse(e.is_set())
        self.assertFalse(e.wait(0))
        self.assertFalse(e.wait(0.01))
        e.set()
        self.assertTrue(e.is_set())
        self.assertTrue(e.wait())
        e.clear()
        self.assertFalse(e.is_set())

    def test_set_by_another_process(self):
        e = mpx.Event(name=fresh("ev"))
        self.addCleanup(e.delete)
        p = self.spawn_python("""
            import sys, mpx
            print(mpx.Event(name=sys.argv[1], create=False).wait(30), flush=True)
        """, e.name)
        wait_for(lambda: info(e.name)["waiters"] >= 1, "the helper waiting")
        e.set()
        self.assertEqual(p.stdout.readline().strip(), b"True")
        p.wait()


class TestBarrier(TestCase):
    def run_parties(self, b, n, timeout=None):
        res = []

        def party():
            try:
                res.append(b.wait(timeout))
            except mpx.BrokenBarrierError:
                res.append("broken")
        threads = [threading.Thread(target=party) for _ in range(n)]
        for t in threads:
            t.start()
        return threads, res

    def test_round(self):
        b = mpx.Barrier(3)
        self.assertEqual(b.parties, 3)
        self.assertEqual(b.n_waiting, 0)
        self.assertFalse(b.broken)
        threads, res = self.run_parties(b, 2)
        wait_for(lambda: b.n_waiting == 2, "two parties")
        res.append(b.wait())
        for t in threads:
            t.join()
        self.assertEqual(sorted(res), [0, 1, 2])

    def test_action_runs_once_before_release(self):
        log = mpx.Queue()
        b = mpx.Barrier(3, action=lambda: log.put("action"))
        threads, res = self.run_parties(b, 2)
        wait_for(lambda: b.n_waiting == 2, "two parties")
        res.append(b.wait())
        for t in threads:
            t.join()
        self.assertEqual(sorted(res), [0, 1, 2])
        self.assertEqual(log.get(timeout=0), "action")
        self.assertTrue(log.empty())

    def test_action_raising_breaks(self):
        def fail():
            raise KeyError("x")
        b = mpx.Barrier(2, action=fail)
        threads, res = self.run_parties(b, 1)
        wait_for(lambda: b.n_waiting == 1, "one party")
        with self.assertRaises(KeyError):
            b.wait()
        threads[0].join()
        self.assertEqual(res, ["broken"])
        self.assertTrue(b.broken)
        b.reset()
        self.assertFalse(b.broken)

    def test_action_opened_by_name_in_another_process(self):
        name = fresh("actbar")
        done = mpx.Queue(name=name + ".done")
        self.addCleanup(done.delete)
        b = mpx.Barrier(2, action=lambda: done.put("here"), name=name)
        self.addCleanup(b.delete)
        self.assertEqual(info(name)["action"], 1)
        # The helper, without the action, arrives last: it passes the round.
        threads, res = self.run_parties(b, 1)
        wait_for(lambda: b.n_waiting == 1, "one party")
        out = self.run_python("""
            import sys, mpx
            print(mpx.Barrier(5, name=sys.argv[1]).wait(30))
        """, name)
        threads[0].join()
        self.assertEqual(out.strip(), "1")
        self.assertEqual(res, [0])
        self.assertTrue(done.empty())

    def test_stored_timeout(self):
        name = fresh("tbar")
        b = mpx.Barrier(2, timeout=0.05, name=name)
        self.addCleanup(b.delete)
        out = self.run_python("""
            import sys, mpx
            b = mpx.Barrier(2, name=sys.argv[1])
            try:
                b.wait()
            except mpx.BrokenBarrierError:
                print("broken", b.broken)
        """, name)
        self.assertEqual(out.strip(), "broken True")

    def test_abort_and_timeouts(self):
        b = mpx.Barrier(2)
        with self.assertRaises(mpx.BrokenBarrierError):
            b.wait(0.01)
        self.assertTrue(b.broken)
        b.reset()
        with self.assertRaises(mpx.BrokenBarrierError):
            b.wait(0)
        b.reset()
        threads, res = self.run_parties(b, 1)
        wait_for(lambda: b.n_waiting == 1, "one party")
        b.abort()
        threads[0].join()
        self.assertEqual(res, ["broken"])
        with self.assertRaises(ValueError):
            mpx.Barrier(0)

    def test_pickled_keeps_the_action(self):
        b = mpx.Barrier(1, action=print, timeout=5)
        back = pickle.loads(pickle.dumps(b))
        self.assertIs(back._action, print)
        self.assertEqual(back._timeout, 5)
        self.assertEqual(back.parties, 1)


if __name__ == "__main__":
    unittest.main()
