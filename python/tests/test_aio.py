# SPDX-License-Identifier: MIT
"""Tests of mpx.aio: the coroutines, cancellation that loses nothing, sync/async interplay by name."""

import asyncio
import random
import sys

import mpx
import mpx.aio as aio
from mpx import _mpx
from mpxtest import TestCase, fresh, info, mpxd_only, wait_for


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


def link(h):
    """The running loop's connection link of an mpx.aio object."""
    return aio._link(asyncio.get_running_loop(), h.address)


async def until(cond, what, seconds=30):
    """Yield to the loop until cond() (a question to the daemon) holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        await asyncio.sleep(0)


class TestQueue(TestCase):
    def test_put_get_and_plain_calls(self):
        async def main():
            q = aio.Queue()
            for obj in (1, "two", [3]):
                await q.put(obj)
            q.put_nowait(None)
            self.assertEqual(q.qsize(), 4)
            self.assertFalse(q.empty())
            self.assertEqual([await q.get(), await q.get(), q.get_nowait(), await q.get()], [1, "two", [3], None])
            self.assertTrue(q.empty())
            with self.assertRaises(aio.Empty):
                q.get_nowait()
            with self.assertRaises(aio.Empty):
                await q.get(timeout=0.01)
            with self.assertRaises(asyncio.TimeoutError):
                await asyncio.wait_for(q.get(), 0.01)
            await q.put("after")
            self.assertEqual(await q.get(), "after")
            self.assertEqual(link(q).conn.requests, 0)
        run(main())

    def test_bounded_put_waits_for_room(self):
        async def main():
            q = aio.Queue(1)
            self.assertEqual(q.maxsize, 1)
            await q.put(1)
            self.assertTrue(q.full())
            with self.assertRaises(aio.Full):
                await q.put(2, timeout=0.01)
            with self.assertRaises(aio.Full):
                q.put_nowait(2)
            t = asyncio.ensure_future(q.put(2))
            await until(lambda: info(q.name)["waiters"] >= 1, "a putter")
            self.assertEqual(await q.get(), 1)
            await t
            self.assertEqual(await q.get(), 2)
        run(main())

    def test_shutdown(self):
        async def main():
            q = aio.Queue()
            await q.put(1)
            waiter = asyncio.ensure_future(q.get())
            self.assertEqual(await waiter, 1)
            waiter = asyncio.ensure_future(q.get())
            await until(lambda: info(q.name)["getters"] >= 1, "a getter")
            q.shutdown()
            with self.assertRaises(aio.ShutDown):
                await waiter
            with self.assertRaises(aio.ShutDown):
                await q.put(2)
        run(main())

    def test_simple_and_joinable(self):
        async def main():
            s = aio.SimpleQueue()
            await s.put("x")
            self.assertEqual(await s.get(), "x")
            j = aio.JoinableQueue()
            await j.put("a")
            j.put_nowait("b")
            self.assertFalse(await j.join(timeout=0.01))
            joiner = asyncio.ensure_future(j.join())
            self.assertEqual(await j.get(), "a")
            self.assertEqual(j.get_nowait(), "b")
            j.task_done()
            self.assertFalse(joiner.done())
            j.task_done()
            self.assertTrue(await joiner)
            with self.assertRaises(ValueError):
                j.task_done()
        run(main())

    def test_many_getters_one_connection(self):
        async def main():
            q = aio.Queue()
            tasks = [asyncio.ensure_future(q.get()) for _ in range(100)]
            await until(lambda: info(q.name)["getters"] == 100, "100 getters")
            self.assertEqual(link(q).conn.requests, 100)
            for i in range(100):
                q.put_nowait(i)
            self.assertEqual(await asyncio.gather(*tasks), list(range(100)))
        run(main())


class TestCancelledGet(TestCase):
    """A get cancelled after the daemon handed it an item keeps the item for the next get."""

    async def _handed_over(self, q, n=1):
        # n gets wait; an item is put by another connection and handed to the oldest.
        tasks = [asyncio.ensure_future(q.get()) for _ in range(n)]
        await until(lambda: info(q.name)["getters"] == n, "the getters")
        with _mpx.Connection() as c:
            c.queue_put(q.name, mpx._codec.encode("item", "pickle"))
        wait_for(lambda: info(q.name)["getters"] == n - 1, "the item handed over")
        return tasks

    @mpxd_only("a parked get takes its item when its own loop runs (the wake is a message to the client), so no item is handed over while the loop is held")
    def test_cancel_before_the_reply_is_read(self):
        async def main():
            q = aio.Queue(name=fresh("cancel"))
            self.addCleanup(q.delete)
            (t,) = await self._handed_over(q)
            t.cancel()              # the reply is not read yet: the connection disposes of it
            with self.assertRaises(asyncio.CancelledError):
                await t
            lk = link(q)
            await until(lambda: lk.conn.held == 1, "the item kept")
            self.assertEqual(lk.conn.requests, 0)
            self.assertEqual(await q.get(timeout=0), "item")
        run(main())

    def test_cancel_after_the_callback_ran(self):
        async def main():
            q = aio.Queue(name=fresh("cancel"))
            self.addCleanup(q.delete)
            (t,) = await self._handed_over(q)
            lk = link(q)
            while lk.conn.requests:
                lk._ready()         # the callback runs; the task has not resumed yet
            t.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await t
            self.assertEqual(lk.conn.held, 1)
            self.assertEqual(q.get_nowait(), "item")
        run(main())

    @mpxd_only("a parked get takes its item when its own loop runs (the wake is a message to the client), so no item is handed over while the loop is held")
    def test_kept_item_wakes_a_waiting_getter(self):
        async def main():
            q = aio.Queue(name=fresh("wake"))
            self.addCleanup(q.delete)
            first, second = await self._handed_over(q, 2)
            first.cancel()
            self.assertEqual(await second, "item")
            self.assertEqual(link(q).conn.held, 0)
        run(main())

    def test_wait_for_timeout_loses_nothing(self):
        async def main():
            q = aio.Queue()
            for i in range(200):
                try:
                    await asyncio.wait_for(q.get(), 0.0001 * (i % 10))
                except asyncio.TimeoutError:
                    pass
                else:
                    self.fail("got an item from an empty queue")
            lk = link(q)
            await until(lambda: lk.conn.requests == 0, "the cancels answered")
            q.put_nowait("only")
            self.assertEqual(await q.get(), "only")
        run(main())

    @mpxd_only("a parked get takes its item when its own loop runs (the wake is a message to the client), so no item is handed over while the loop is held")
    def test_closing_the_loop_gives_kept_items_back(self):
        q = mpx.Queue(name=fresh("loopclose"), prefetch=1)
        self.addCleanup(q.delete)

        async def main():
            aq = aio.Queue(name=q.name, create=False)
            (t,) = await self._handed_over(aq)
            t.cancel()
            lk = link(aq)
            await until(lambda: lk.conn.held == 1, "the item kept")
            return lk

        lk = asyncio.run(main())
        self.assertTrue(lk.closed)
        self.assertTrue(lk.conn.closed)
        self.assertEqual(q.get(timeout=0), "item")


class TestSync(TestCase):
    def test_lock(self):
        async def main():
            lock = aio.Lock()
            async with lock:
                self.assertTrue(lock.locked())
                self.assertFalse(await lock.acquire(timeout=0.01))
            self.assertFalse(lock.locked())
            self.assertTrue(await lock.acquire())
            lock.release()
            with self.assertRaises(ValueError):
                lock.release()
        run(main())

    def test_semaphore_and_bounded(self):
        async def main():
            s = aio.Semaphore(2)
            self.assertTrue(await s.acquire())
            self.assertTrue(await s.acquire())
            self.assertTrue(s.locked())
            t = asyncio.ensure_future(s.acquire())
            await until(lambda: info(s.name)["waiters"] == 1, "an acquirer")
            s.release()
            self.assertTrue(await t)
            self.assertEqual(s.get_value(), 0)
            b = aio.BoundedSemaphore(1)
            async with b:
                self.assertEqual(b.get_value(), 0)
            with self.assertRaises(ValueError):
                b.release()
        run(main())

    def test_cancelled_acquire_leaves_nothing_held(self):
        async def main():
            lock = aio.Lock(name=fresh("lock"))
            self.addCleanup(lock.delete)
            other = mpx.Lock(name=lock.name, create=False)
            self.assertTrue(other.acquire())
            t = asyncio.ensure_future(lock.acquire())
            await until(lambda: info(lock.name)["waiters"] == 1, "an acquirer")
            other.release()         # the unit is granted to the waiting task ...
            wait_for(lambda: info(lock.name)["waiters"] == 0, "the grant")
            t.cancel()              # ... which is cancelled before it sees it
            with self.assertRaises(asyncio.CancelledError):
                await t
            await until(lambda: lock.get_value() == 1, "the unit back")
            self.assertTrue(other.acquire(timeout=5))
            other.release()
        run(main())

    def test_event(self):
        async def main():
            e = aio.Event()
            self.assertFalse(e.is_set())
            self.assertFalse(await e.wait(0.01))
            t = asyncio.ensure_future(e.wait())
            await until(lambda: info(e.name)["waiters"] == 1, "a waiter")
            e.set()
            self.assertTrue(await t)
            self.assertTrue(e.is_set())
            e.clear()
            self.assertFalse(e.is_set())
        run(main())

    def test_barrier(self):
        async def main():
            ran = []
            b = aio.Barrier(3, action=lambda: ran.append(1))
            self.assertEqual(b.parties, 3)
            self.assertEqual(sorted(await asyncio.gather(*(b.wait() for _ in range(3)))), [0, 1, 2])
            self.assertEqual(ran, [1])
            # A cancelled party is withdrawn without breaking the barrier.
            t = asyncio.ensure_future(b.wait())
            await until(lambda: b.n_waiting == 1, "a party")
            t.cancel()
            with self.assertRaises(asyncio.CancelledError):
                await t
            await until(lambda: b.n_waiting == 0, "the party withdrawn")
            self.assertFalse(b.broken)
            with self.assertRaises(aio.BrokenBarrierError):
                await b.wait(timeout=0.01)
            self.assertTrue(b.broken)
            b.reset()
            self.assertFalse(b.broken)
        run(main())

    def test_async_barrier_action(self):
        async def main():
            ran = []

            async def action():
                await asyncio.sleep(0)
                ran.append(1)

            b = aio.Barrier(2, action=action)
            await asyncio.gather(b.wait(), b.wait())
            self.assertEqual(ran, [1])
        run(main())


class TestAcrossProcesses(TestCase):
    """Sync processes and asyncio tasks share objects by name."""

    def test_sync_put_wakes_async_get(self):
        async def main():
            q = aio.Queue(name=fresh("xq"))
            self.addCleanup(q.delete)
            t = asyncio.ensure_future(q.get())
            await until(lambda: info(q.name)["getters"] == 1, "a getter")
            self.run_python("""
                import sys, mpx
                mpx.Queue(name=sys.argv[1], create=False).put({"from": "sync"})
            """, q.name)
            self.assertEqual(await t, {"from": "sync"})
            await q.put(["to", "sync"])
            out = self.run_python("""
                import sys, mpx
                print(mpx.Queue(name=sys.argv[1], create=False).get(timeout=30))
            """, q.name)
            self.assertEqual(out.strip(), "['to', 'sync']")
        run(main())

    def test_lock_event_barrier_with_a_sync_process(self):
        async def main():
            lock = aio.Lock(name=fresh("xlock"))
            ev = aio.Event(name=fresh("xev"))
            bar = aio.Barrier(2, name=fresh("xbar"))
            for h in (lock, ev, bar):
                self.addCleanup(h.delete)
            p = self.spawn_python("""
                import sys, mpx
                lock = mpx.Lock(name=sys.argv[1], create=False)
                ev = mpx.Event(name=sys.argv[2], create=False)
                bar = mpx.Barrier(2, name=sys.argv[3], create=False)
                lock.acquire()
                ev.set()
                bar.wait(30)            # the async side waits for the lock meanwhile
                lock.release()
                print(bar.wait(30))
            """, lock.name, ev.name, bar.name)
            self.assertTrue(await ev.wait(30))
            getting = asyncio.ensure_future(lock.acquire())
            await until(lambda: info(lock.name)["waiters"] == 1, "an acquirer")
            await bar.wait(30)
            self.assertTrue(await getting)
            lock.release()
            await bar.wait(30)
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn(out.strip(), (b"0", b"1"))
        run(main())


class TestStress(TestCase):
    """Thousands of tasks wait on one connection; a third are cancelled while items come."""

    TASKS = 5000

    async def _cancel_a_third(self, tasks, waiters, feed, seed):
        """Cancel a random third of tasks: half before feed() starts a producer, half while its items come.

        waiters() is the daemon's count of waiting requests. Returns the
        indexes of the cancelled tasks.
        """
        n = len(tasks)
        doomed = random.Random(seed).sample(range(n), n // 3)
        early, racing = doomed[:len(doomed) // 2], doomed[len(doomed) // 2:]
        for i in early:
            tasks[i].cancel()
        await until(lambda: waiters() == n - len(early), "the first cancels")
        feed()
        await until(lambda: waiters() < n - len(early), "the first items")
        for k, i in enumerate(racing):
            tasks[i].cancel()
            if k % 20 == 0:
                await asyncio.sleep(0)
        return set(doomed)

    def test_gets_none_lost_none_duplicated(self):
        n = self.TASKS

        async def main():
            q = aio.Queue(name=fresh("stress"))
            self.addCleanup(q.delete)
            tasks = [asyncio.ensure_future(q.get()) for _ in range(n)]
            await until(lambda: info(q.name)["getters"] == n, "%d getters" % n, 120)
            lk = link(q)
            carried = lk.conn.requests
            self.assertEqual(carried, n)
            producer = []
            doomed = await self._cancel_a_third(tasks, lambda: info(q.name)["getters"], lambda: producer.append(
                self.spawn_python("""
                    import sys, mpx
                    q = mpx.Queue(name=sys.argv[1], create=False)
                    for i in range(int(sys.argv[2])):
                        q.put(i)
                """, q.name, n, stdout=None)), 1)
            producer = producer[0]
            survivors = [t for i, t in enumerate(tasks) if i not in doomed]
            got = await asyncio.gather(*survivors)
            # A task done before its cancel came has its item.
            late = await asyncio.gather(*(tasks[i] for i in doomed), return_exceptions=True)
            got += [r for r in late if not isinstance(r, BaseException)]
            first = len(got) - len(survivors)
            self.assertEqual(producer.wait(timeout=120), 0)
            kept = lk.conn.held
            while True:
                try:
                    got.append(q.get_nowait())
                except aio.Empty:
                    break
            lost = set(range(n)) - set(got)
            duplicated = len(got) - len(set(got))
            sys.stderr.write("\n  %d tasks awaited gets on one connection (%d requests in flight on it), "
                             "%d cancelled (%d of them done first); %d items handed to cancelled gets were kept "
                             "(%d still kept at the end); %d items received, lost %d, duplicated %d ... "
                             % (n, carried, len(doomed), first, lk.kept, kept, len(got), len(lost), duplicated))
            self.assertEqual(lost, set())
            self.assertEqual(duplicated, 0)
            self.assertEqual(len(got), n)
            self.assertEqual(lk.conn.requests, 0)
        run(main())

    def test_semaphore_units_none_lost(self):
        n = self.TASKS

        async def main():
            s = aio.Semaphore(0, name=fresh("stress-sem"))
            self.addCleanup(s.delete)
            tasks = [asyncio.ensure_future(s.acquire()) for _ in range(n)]
            await until(lambda: info(s.name)["waiters"] == n, "%d acquirers" % n, 120)
            lk = link(s)
            self.assertEqual(lk.conn.requests, n)
            releaser = []
            doomed = await self._cancel_a_third(tasks, lambda: info(s.name)["waiters"], lambda: releaser.append(
                self.spawn_python("""
                    import sys, mpx
                    s = mpx.Semaphore(0, name=sys.argv[1], create=False)
                    for i in range(int(sys.argv[2])):
                        s.release()
                """, s.name, n, stdout=None)), 2)
            releaser = releaser[0]
            got = await asyncio.gather(*(t for i, t in enumerate(tasks) if i not in doomed))
            late = await asyncio.gather(*(tasks[i] for i in doomed), return_exceptions=True)
            got += [r for r in late if not isinstance(r, BaseException)]
            self.assertEqual(releaser.wait(timeout=120), 0)
            self.assertTrue(all(got))
            # The releases that undid granted acquires went out on this connection before this question.
            value = s.get_value()
            first = len(got) - (n - len(doomed))
            sys.stderr.write("\n  %d tasks awaited acquires on one connection, %d cancelled (%d of them done "
                             "first); %d acquired, %d units left ... " % (n, len(doomed), first, len(got), value))
            self.assertEqual(value, n - len(got))
        run(main())
