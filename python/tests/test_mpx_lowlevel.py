# SPDX-License-Identifier: MIT
"""Tests of mpx._mpx, the low-level binding, against the mpxd of $MPX_SOCKET.

Run by tests/integration/test-python.sh under with-mpxd. Waiting is on
conditions the daemon reports (object_info's getters, queues, events), never
on sleeps.
"""

import errno
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import unittest

import mpx
from mpx import _mpx
from mpxtest import interrupt_with_keyboard_interrupt, mpxd_only, on_redis, exists

_names = itertools.count()


def fresh(prefix):
    """A name no other test uses."""
    return "py.%s.%d.%d" % (prefix, os.getpid(), next(_names))


def wait_for(cond, what, seconds=30):
    """Spin on cond() (each call a round trip to the daemon) until it holds."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)


def stop(child):
    """End a helper process left waiting by a failed test, so that the test ends too."""
    if child.poll() is None:
        child.kill()
    child.wait()


def wait_getters(conn, name, n=1):
    wait_for(lambda: conn.object_info(name)["getters"] >= n, "%d getters on %s" % (n, name))


class Base(unittest.TestCase):
    def setUp(self):
        self.c = _mpx.Connection(name="test-lowlevel")
        self.addCleanup(self.c.close)


class TestModule(Base):
    def test_package_reexports(self):
        self.assertIs(mpx.Connection, _mpx.Connection)
        self.assertTrue(_mpx.__doc__)
        self.assertTrue(_mpx.Connection.__doc__)
        for name in dir(_mpx.Connection):
            if not name.startswith("_"):
                self.assertTrue(getattr(_mpx.Connection, name).__doc__, name)

    def test_error_from_errno(self):
        self.assertIsInstance(mpx.error_from_errno(-errno.ENOENT), FileNotFoundError)
        self.assertIsInstance(mpx.error_from_errno(-errno.ETIMEDOUT), TimeoutError)
        self.assertEqual(mpx.strerror(errno.ENOENT), mpx.strerror(-errno.ENOENT))

    @mpxd_only("STATS describes the backend (masters, client id, lease), not mpxd's clients")
    def test_connection_basics(self):
        self.assertGreater(self.c.max_message, 0)
        self.assertGreaterEqual(self.c.fileno(), 0)
        self.assertIsNone(self.c.ping())
        self.assertEqual(self.c.pid, os.getpid())
        self.assertEqual(self.c.held, 0)
        self.assertIn("clients", self.c.stats())

    def test_context_and_close(self):
        with _mpx.Connection() as c:
            c.ping()
        self.assertTrue(c.closed)
        c.close()
        with self.assertRaises(ValueError):
            c.ping()

    def test_connect_errors(self):
        path = os.path.join(os.environ.get("MPX_TEST_DIR", "/tmp"), "no-such.sock")
        with self.assertRaises(FileNotFoundError) as cm:
            _mpx.Connection(path)
        # The socket's own error, naming it: not libmpx's "no such object".
        self.assertEqual(cm.exception.filename, path)
        self.assertEqual(cm.exception.strerror, os.strerror(errno.ENOENT))
        # Without a path, the one MPX_SOCKET names.
        saved = os.environ.get("MPX_SOCKET")
        os.environ["MPX_SOCKET"] = path
        try:
            with self.assertRaises(FileNotFoundError) as cm:
                _mpx.Connection()
            self.assertEqual(cm.exception.filename, path)
        finally:
            if saved is None:
                del os.environ["MPX_SOCKET"]
            else:
                os.environ["MPX_SOCKET"] = saved

    def test_timeout_argument(self):
        q = fresh("timeout")
        self.c.queue_declare(q)
        with self.assertRaises(ValueError):
            self.c.queue_get(q, timeout=-1)
        with self.assertRaises(TypeError):
            self.c.queue_get(q, timeout="soon")
        with self.assertRaises(BlockingIOError):
            self.c.queue_get(q, timeout=0)
        with self.assertRaises(TimeoutError):
            self.c.queue_get(q, timeout=0.02)

    @mpxd_only("no uids or modes on objects: CHMOD, CHOWN, CLIENTS and USERS are EOPNOTSUPP")
    def test_admin(self):
        q = fresh("admin")
        self.c.queue_declare(q)
        self.c.chmod(q, 0o600)
        self.assertEqual(self.c.object_info(q)["mode"], 0o600)
        self.c.chown(q, -1, os.getgid())
        info = self.c.object_info(q)
        self.assertEqual((info["name"], info["type"]), (q, "queue"))
        names = [o["name"] for o in self.c.list_objects("queue")]
        self.assertIn(q, names)
        with self.assertRaises(OSError) as cm:
            self.c.list_objects("no-such-type")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.c.delete(q)
        with self.assertRaises(FileNotFoundError):
            self.c.object_info(q)
        with self.assertRaises(FileNotFoundError):
            self.c.delete(q)
        with self.assertRaises(OSError) as cm:
            self.c.delete("bad name!")
        self.assertEqual(cm.exception.errno, errno.EINVAL)


class TestQueue(Base):
    def test_plain(self):
        q = fresh("q")
        self.assertEqual(self.c.queue_declare(q, maxsize=3), 1)
        self.assertEqual(self.c.queue_declare(q, maxsize=3), 0)
        with self.assertRaises(FileExistsError):
            self.c.queue_declare(q, maxsize=4)
        self.assertTrue(self.c.queue_empty(q))
        self.c.queue_put(q, b"a")
        self.c.queue_put_many(q, [b"b", b"c"])
        self.assertTrue(self.c.queue_full(q))
        with self.assertRaises(BlockingIOError):
            self.c.queue_put(q, b"d", timeout=0)
        self.assertEqual(self.c.queue_qsize(q), 3)
        self.assertEqual(self.c.queue_peek(q, 2), [(b"a", 0), (b"b", 0)])
        self.assertEqual(self.c.queue_stat(q),
                         {"size": 3, "maxsize": 3, "unfinished": 0, "closed": False})
        self.assertEqual(self.c.queue_get(q), b"a")
        self.assertEqual(self.c.queue_get_many(q, 10), [b"b", b"c"])
        self.c.queue_put_many(q, [b"x", b""])
        self.assertEqual(self.c.queue_purge(q), 2)
        self.c.queue_put(q, b"last")
        self.c.queue_close(q)
        with self.assertRaises(BrokenPipeError):
            self.c.queue_put(q, b"late")
        self.assertEqual(self.c.queue_get(q), b"last")
        with self.assertRaises(BrokenPipeError):
            self.c.queue_get(q)

    def test_errors(self):
        with self.assertRaises(FileNotFoundError):
            self.c.queue_put(fresh("none"), b"x")
        d = fresh("notq")
        self.c.dict_declare(d)
        with self.assertRaises(OSError) as cm:
            self.c.queue_declare(d)
        self.assertEqual(cm.exception.errno, errno.EPROTOTYPE)
        q = fresh("big")
        self.c.queue_declare(q)
        with self.assertRaises(OSError) as cm:
            self.c.queue_put(q, b"x" * (self.c.max_message + 1))
        self.assertEqual(cm.exception.errno, errno.EMSGSIZE)
        with self.assertRaises(ValueError):
            self.c.queue_get_many(q, 0)
        with self.assertRaises(TypeError):
            self.c.queue_put(q, "str is not bytes")

    def test_joinable(self):
        q = fresh("jq")
        self.c.queue_declare(q, flags=_mpx.QUEUE_JOINABLE, ttr=30)
        self.c.queue_put_many(q, [b"1", b"2", b"3"])
        data, tag = self.c.queue_get(q)
        self.assertEqual(data, b"1")
        self.c.queue_touch(q, tag)
        with self.assertRaises(BlockingIOError):
            self.c.queue_join(q, timeout=0)
        self.c.queue_task_done(q, tag)
        with self.assertRaises(FileNotFoundError):
            self.c.queue_touch(q, tag)
        (d2, t2), (d3, t3) = self.c.queue_get_many(q, 5)
        self.assertEqual((d2, d3), (b"2", b"3"))
        self.c.queue_task_done(q)
        self.c.queue_task_done(q, t3)
        with self.assertRaises(OSError) as cm:
            self.c.queue_task_done(q)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertIsNone(self.c.queue_join(q, timeout=5))
        self.c.queue_put(q, b"4")
        data, tag = self.c.queue_get(q, detach=True, ttr=10)
        with _mpx.Connection() as other:
            other.queue_task_done(q, tag)
        self.c.queue_join(q)
        with self.assertRaises(OSError) as cm:
            self.c.queue_touch(fresh("none"), 1)

    def test_blocked_get_woken_by_another_process(self):
        q = fresh("wake")
        self.c.queue_declare(q)
        child = subprocess.Popen([sys.executable, "-c", """if True:
            import sys, time
            from mpx import _mpx
            q = sys.argv[1]
            with _mpx.Connection() as c:
                deadline = time.monotonic() + 30
                while c.object_info(q)["getters"] < 1:
                    assert time.monotonic() < deadline
                c.queue_put(q, b"from another process")
            """, q])
        self.addCleanup(stop, child)
        self.assertEqual(self.c.queue_get(q, timeout=30), b"from another process")
        self.assertEqual(child.wait(), 0)

    def test_join_woken_by_task_done_in_thread(self):
        q = fresh("join")
        self.c.queue_declare(q, flags=_mpx.QUEUE_JOINABLE)
        self.c.queue_put(q, b"job")

        def worker():
            with _mpx.Connection() as w:
                w.queue_get(q)
                wait_for(lambda: w.object_info(q)["joiners"] >= 1, "a joiner")
                w.queue_task_done(q)
        t = threading.Thread(target=worker)
        t.start()
        self.c.queue_join(q, timeout=30)
        t.join()


class TestInterrupt(Base):
    """A real SIGINT, sent by another process, during a blocked get."""

    def setUp(self):
        super().setUp()
        interrupt_with_keyboard_interrupt(self)

    ROUNDS = 200

    @mpxd_only("a put does not hand its item to a parked get, which takes it when its client asks again: INFO `getters` counts it meanwhile, so the helper cannot tell that the next get is parked")
    def test_sigint_during_get_loses_nothing(self):
        q = fresh("race")
        go = fresh("race-go")
        self.c.queue_declare(q)
        self.c.queue_declare(go)
        # The helper, each round: wait until our get is parked, SIGINT us, then
        # put the round's item at once, racing the cancel the signal causes.
        child = subprocess.Popen([sys.executable, "-c", """if True:
            import os, signal, sys, time
            from mpx import _mpx
            q, go, rounds, target = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
            with _mpx.Connection() as c:
                for i in range(rounds):
                    deadline = time.monotonic() + 30
                    while c.object_info(q)["getters"] < 1:
                        assert time.monotonic() < deadline
                    os.kill(target, signal.SIGINT)
                    c.queue_put(q, b"%d" % i)
                    c.queue_get(go)
            """, q, go, str(self.ROUNDS), str(os.getpid())])
        self.addCleanup(stop, child)
        kept = cancelled = 0
        conn = self.c
        for i in range(self.ROUNDS):
            with self.assertRaises(KeyboardInterrupt):
                conn.queue_get(q)
            if conn.held:
                kept += 1
            else:
                cancelled += 1
            if i % 10 == 9:
                # Give back on close: the item is at the queue for the next connection.
                conn.close()
                conn = _mpx.Connection()
                self.addCleanup(conn.close)
            self.assertEqual(conn.queue_get(q, timeout=30), b"%d" % i)
            self.assertEqual(conn.held, 0)
            conn.queue_put(go, b"next")
        self.assertEqual(child.wait(), 0)
        self.assertEqual(conn.queue_qsize(q), 0)
        print("\n%d rounds: the item came before the cancel %d times, after it %d times"
              % (self.ROUNDS, kept, cancelled), file=sys.stderr)

    def test_interrupted_acquire_holds_nothing(self):
        s = fresh("sem")
        self.c.sem_declare(s, 0)
        other = _mpx.Connection()
        self.addCleanup(other.close)

        def interrupt():
            wait_for(lambda: other.object_info(s)["waiters"] >= 1, "a waiter")
            os.kill(os.getpid(), signal.SIGINT)
        sender = threading.Thread(target=interrupt)
        sender.start()
        with self.assertRaises(KeyboardInterrupt):
            self.c.sem_acquire(s, timeout=30)
        sender.join()
        self.assertEqual(self.c.sem_value(s), 0)
        self.assertEqual(self.c.object_info(s)["waiters"], 0)

    @mpxd_only("a release does not hand its unit to a parked acquire, which takes it when its client asks again: INFO `waiters` counts it meanwhile, so the race cannot be timed")
    def test_sigint_racing_a_release(self):
        # Each round a unit is released just after the signal: granted before
        # the cancel or not, the interrupted acquire leaves it free.
        s = fresh("semrace")
        self.c.sem_declare(s, 0)
        other = _mpx.Connection()
        self.addCleanup(other.close)
        main, rounds = threading.get_ident(), 100

        def sender():
            for _ in range(rounds):
                wait_for(lambda: other.object_info(s)["waiters"] >= 1, "a waiter")
                signal.pthread_kill(main, signal.SIGINT)
                other.sem_release(s)
        t = threading.Thread(target=sender)
        t.start()
        for _ in range(rounds):
            with self.assertRaises(KeyboardInterrupt):
                self.c.sem_acquire(s)
            self.assertTrue(self.c.sem_acquire(s, timeout=30))     # the round's unit is free
        t.join()
        self.assertEqual(self.c.sem_value(s), 0)

    def test_handler_using_the_waiting_connection(self):
        # A handler run inside a wait cannot take the connection it waits on:
        # it gets RuntimeError instead of waiting for itself forever.
        q = fresh("reenter")
        self.c.queue_declare(q)
        other = _mpx.Connection()
        self.addCleanup(other.close)
        seen = []

        def handler(signum, frame):
            try:
                self.c.ping()
            except RuntimeError as e:
                seen.append(e)
            other.queue_put(q, b"done")
        old = signal.signal(signal.SIGUSR1, handler)
        self.addCleanup(signal.signal, signal.SIGUSR1, old)
        main = threading.get_ident()
        sender = threading.Thread(target=lambda: (wait_getters(other, q),
                                                  signal.pthread_kill(main, signal.SIGUSR1)))
        sender.start()
        self.assertEqual(self.c.queue_get(q, timeout=30), b"done")
        sender.join()
        self.assertEqual(len(seen), 1)
        self.c.ping()

    def test_interrupted_held_item_given_back_on_close(self):
        # The same as a race that the item won, made certain: an item handed
        # over after the signal is seen stays held, then goes back on close.
        q = fresh("held")
        self.c.queue_declare(q)
        other = _mpx.Connection()
        self.addCleanup(other.close)

        def handler(signum, frame):
            other.queue_put(q, b"arrived")      # before the cancel is even sent
            raise KeyboardInterrupt
        old = signal.signal(signal.SIGUSR1, handler)
        self.addCleanup(signal.signal, signal.SIGUSR1, old)
        main = threading.get_ident()
        sender = threading.Thread(target=lambda: (wait_getters(other, q),
                                                  signal.pthread_kill(main, signal.SIGUSR1)))
        sender.start()
        with self.assertRaises(KeyboardInterrupt):
            self.c.queue_get(q)
        sender.join()
        # The put and the cancel raced in the daemon; either way nothing is lost.
        self.assertEqual(self.c.held + other.queue_qsize(q), 1)
        self.c.close()
        self.assertEqual(other.queue_get(q, timeout=0), b"arrived")


class TestThreadsAndFork(Base):
    def test_threads_with_their_own_connections(self):
        q = fresh("threads")
        self.c.queue_declare(q)
        n_threads, per_thread = 4, 200
        got = [[] for _ in range(n_threads)]

        def consumer(k):
            with _mpx.Connection() as c:
                for _ in range(per_thread):
                    got[k].append(c.queue_get(q, timeout=30))

        def producer(k):
            with _mpx.Connection() as c:
                for i in range(per_thread):
                    c.queue_put(q, b"%d.%d" % (k, i))
        threads = [threading.Thread(target=consumer, args=(k,)) for k in range(n_threads)]
        threads += [threading.Thread(target=producer, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        everything = sorted(x for g in got for x in g)
        self.assertEqual(everything, sorted(b"%d.%d" % (k, i)
                                            for k in range(n_threads) for i in range(per_thread)))

    def test_threads_sharing_one_connection(self):
        d = fresh("shared")
        self.c.dict_declare(d)

        def worker():
            for _ in range(300):
                self.c.dict_incr(d, b"n")
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(self.c.dict_get(d, b"n"), b"1200")

    def test_blocked_connection_does_not_block_others(self):
        q = fresh("gil")
        self.c.queue_declare(q)
        t = threading.Thread(target=lambda: self.c.queue_get(q, timeout=30))
        t.start()
        with _mpx.Connection() as other:
            wait_getters(other, q)
            other.queue_put(q, b"x")
        t.join()

    def test_fork_child_cannot_use_parent_connection(self):
        self.c.ping()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(r)
                try:
                    self.c.ping()
                except _mpx.InheritedConnectionError:
                    with _mpx.Connection() as mine:
                        mine.ping()
                    self.c.close()          # drops the child's copy only
                    status = 0
                os.write(w, b"%d" % status)
            finally:
                os._exit(status)
        os.close(w)
        self.assertEqual(os.read(r, 10), b"0")
        os.close(r)
        self.assertEqual(os.waitpid(pid, 0)[1], 0)
        self.c.ping()
        self.assertTrue(issubclass(_mpx.InheritedConnectionError, RuntimeError))


class TestDict(Base):
    def test_calls(self):
        d = fresh("d")
        self.assertEqual(self.c.dict_declare(d), 1)
        self.assertEqual(self.c.dict_declare(d), 0)
        self.c.dict_set(d, b"x", b"1")
        self.assertEqual(self.c.dict_get(d, b"x"), b"1")
        self.assertTrue(self.c.dict_contains(d, b"x"))
        self.assertFalse(self.c.dict_contains(d, b"y"))
        self.assertEqual(self.c.dict_setdefault(d, b"y", b"2"), b"2")
        self.assertEqual(self.c.dict_setdefault(d, b"y", b"3"), b"2")
        self.c.dict_update(d, {b"a": b"A", b"b": b"B"})
        self.c.dict_update(d, [(b"c", b"C")])
        self.assertEqual(self.c.dict_len(d), 5)
        self.assertEqual(self.c.dict_items(d, _mpx.DICT_KEYS), [b"x", b"y", b"a", b"b", b"c"])
        self.assertEqual(self.c.dict_items(d, _mpx.DICT_VALUES), [b"1", b"2", b"A", b"B", b"C"])
        self.assertEqual(self.c.dict_items(d)[0], (b"x", b"1"))
        page, cursor = self.c.dict_page(d, 0, 2)
        self.assertEqual(page, [(b"x", b"1"), (b"y", b"2")])
        rest = []
        while cursor:
            more, cursor = self.c.dict_page(d, cursor, 2, _mpx.DICT_KEYS)
            rest += more
        self.assertEqual(rest, [b"a", b"b", b"c"])
        with self.assertRaises(ValueError):
            self.c.dict_items(d, 7)
        self.assertEqual(self.c.dict_pop(d, b"a"), b"A")
        self.c.dict_del(d, b"b")
        self.assertEqual(self.c.dict_incr(d, b"n", 5), 5)
        self.assertEqual(self.c.dict_incr(d, b"n"), 6)
        self.assertEqual(self.c.dict_cas(d, b"n", b"6", b"7"), (True, b"7"))
        self.assertEqual(self.c.dict_cas(d, b"n", b"6", b"8"), (False, b"7"))
        self.assertEqual(self.c.dict_cas(d, b"new", None, b"v"), (True, b"v"))
        self.assertEqual(self.c.dict_cas(d, b"new", b"v", None), (True, None))
        self.assertEqual(self.c.dict_clear(d), 4)     # x, y, c, n

    def test_errors(self):
        d = fresh("derr")
        with self.assertRaises(FileNotFoundError):
            self.c.dict_get(d, b"k")
        self.c.dict_declare(d)
        with self.assertRaises(FileNotFoundError):
            self.c.dict_get(d, b"k")
        with self.assertRaises(FileNotFoundError):
            self.c.dict_pop(d, b"k")
        with self.assertRaises(FileNotFoundError):
            self.c.dict_del(d, b"k")
        self.c.dict_set(d, b"k", b"text")
        with self.assertRaises(OSError) as cm:
            self.c.dict_incr(d, b"k")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(OSError) as cm:
            self.c.list_append(d, b"x")
        self.assertEqual(cm.exception.errno, errno.EPROTOTYPE)


class TestList(Base):
    def test_calls(self):
        l = fresh("l")
        self.assertEqual(self.c.list_declare(l), 1)
        self.assertEqual(self.c.list_append(l, b"a"), 1)
        self.assertEqual(self.c.list_extend(l, [b"b", b"c", b"d"]), 4)
        self.assertEqual(self.c.list_insert(l, 0, b"z"), 5)
        self.assertEqual(self.c.list_get(l, 0), b"z")
        self.assertEqual(self.c.list_get(l, -1), b"d")
        self.c.list_set(l, 1, b"A")
        self.assertEqual(self.c.list_index(l, b"c"), 3)
        self.c.list_remove(l, b"z")
        self.assertEqual(self.c.list_slice(l), [b"A", b"b", b"c", b"d"])
        self.assertEqual(self.c.list_slice(l, 1, -1), [b"b", b"c"])
        self.assertEqual(self.c.list_slice(l, None, 2), [b"A", b"b"])
        self.assertEqual(self.c.list_pop(l), b"d")
        self.assertEqual(self.c.list_pop(l, 0), b"A")
        self.assertEqual(self.c.list_len(l), 2)
        self.assertEqual(self.c.list_clear(l), 2)

    def test_errors(self):
        l = fresh("lerr")
        self.c.list_declare(l)
        with self.assertRaises(OSError) as cm:
            self.c.list_get(l, 0)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        with self.assertRaises(OSError) as cm:
            self.c.list_pop(l)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        with self.assertRaises(FileNotFoundError):
            self.c.list_remove(l, b"x")
        with self.assertRaises(FileNotFoundError):
            self.c.list_index(l, b"x")
        with self.assertRaises(FileNotFoundError):
            self.c.list_len(fresh("none"))


class TestSemaphore(Base):
    def test_calls(self):
        s = fresh("s")
        self.assertEqual(self.c.sem_declare(s, 1, 1, _mpx.SEM_BOUNDED), 1)
        self.assertEqual(self.c.sem_declare(s, 1, 1, _mpx.SEM_BOUNDED), 0)
        with self.assertRaises(FileExistsError):
            self.c.sem_declare(s, 2, 2, _mpx.SEM_BOUNDED)
        with self.assertRaises(OSError) as cm:
            self.c.sem_declare(fresh("bad"), 2, 1, _mpx.SEM_BOUNDED)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertTrue(self.c.sem_acquire(s))
        self.assertEqual(self.c.sem_value(s), 0)
        with self.assertRaises(BlockingIOError):
            self.c.sem_acquire(s, timeout=0)
        with self.assertRaises(TimeoutError):
            self.c.sem_acquire(s, timeout=0.02)
        self.c.sem_release(s)
        with self.assertRaises(OSError) as cm:
            self.c.sem_release(s)
        self.assertEqual(cm.exception.errno, errno.ERANGE)

    def test_owner_dead(self):
        s = fresh("robust")
        self.c.sem_declare(s, 1, 1, _mpx.SEM_BOUNDED)
        with _mpx.Connection() as holder:
            holder.sem_acquire(s)
        self.assertFalse(self.c.sem_acquire(s, timeout=5))   # held, and told
        self.c.sem_release(s)
        self.assertTrue(self.c.sem_acquire(s, timeout=5))

    def test_acquire_deleted(self):
        s = fresh("gone")
        self.c.sem_declare(s, 0)

        def deleter():
            with _mpx.Connection() as other:
                wait_for(lambda: other.object_info(s)["waiters"] >= 1, "a waiter")
                other.delete(s)
        t = threading.Thread(target=deleter)
        t.start()
        with self.assertRaises(OSError) as cm:
            self.c.sem_acquire(s, timeout=30)
        t.join()
        self.assertEqual(cm.exception.errno, errno.EIDRM)


class TestEvent(Base):
    def test_calls(self):
        e = fresh("e")
        self.assertEqual(self.c.event_declare(e), 1)
        self.assertFalse(self.c.event_is_set(e))
        self.assertFalse(self.c.event_wait(e, timeout=0))
        self.assertFalse(self.c.event_wait(e, timeout=0.02))
        self.c.event_set(e)
        self.assertTrue(self.c.event_is_set(e))
        self.assertTrue(self.c.event_wait(e))
        self.c.event_clear(e)
        self.assertFalse(self.c.event_is_set(e))
        with self.assertRaises(FileNotFoundError):
            self.c.event_set(fresh("none"))

    def test_wait_woken(self):
        e = fresh("ew")
        self.c.event_declare(e)

        def setter():
            with _mpx.Connection() as other:
                wait_for(lambda: other.object_info(e)["waiters"] >= 1, "a waiter")
                other.event_set(e)
        t = threading.Thread(target=setter)
        t.start()
        self.assertTrue(self.c.event_wait(e, timeout=30))
        t.join()


class TestBarrier(Base):
    def test_calls(self):
        b = fresh("b")
        self.assertEqual(self.c.barrier_declare(b, 2), 1)
        with self.assertRaises(FileExistsError):
            self.c.barrier_declare(b, 3)
        result = []
        t = threading.Thread(target=lambda: result.append(_mpx.Connection().barrier_wait(b, timeout=30)))
        t.start()
        index = self.c.barrier_wait(b, timeout=30)
        t.join()
        self.assertEqual(sorted(result + [index]), [0, 1])
        with self.assertRaises(BlockingIOError):
            self.c.barrier_wait(b, timeout=0)
        self.c.barrier_reset(b)
        self.c.barrier_abort(b)
        with self.assertRaises(OSError) as cm:
            self.c.barrier_wait(b, timeout=0)
        self.assertEqual(cm.exception.errno, errno.ENOTRECOVERABLE)
        self.c.barrier_reset(b)
        with self.assertRaises(OSError) as cm:
            self.c.barrier_declare(fresh("b0"), 0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


class TestArray(Base):
    def test_value(self):
        v = fresh("v")
        self.assertEqual(self.c.value_declare(v, "i", 5000), 1)
        self.assertEqual(self.c.value_get(v, "i"), 5000)
        self.c.value_set(v, "i", -7)
        self.assertEqual(self.c.value_add(v, "i", 10), 3)
        self.assertEqual(self.c.value_cas(v, "i", 3, 4), (True, 4))
        self.assertEqual(self.c.value_cas(v, "i", 3, 5), (False, 4))
        self.assertEqual(self.c.object_info(v)["type"], "value")
        d = fresh("vd")
        self.c.value_declare(d, "d", 1.5)
        self.assertEqual(self.c.value_add(d, "d", 1.0), 2.5)
        self.c.value_declare(fresh("v0"), "Q")

    def test_array(self):
        a = fresh("a")
        self.assertEqual(self.c.array_declare(a, "i", [1, 2, 3, 4, 5]), 1)
        self.assertEqual(self.c.array_declare(a, "i", 5), 0)
        with self.assertRaises(FileExistsError):
            self.c.array_declare(a, "i", 6)
        self.assertEqual(self.c.array_get(a, "i", 0, 5), [1, 2, 3, 4, 5])
        self.assertEqual(self.c.array_get(a, "i", -1), [5])
        self.c.array_set(a, "i", 1, [10, 20])
        self.assertEqual(self.c.array_add(a, "i", 2, 5), 25)
        self.assertEqual(self.c.array_cas(a, "i", 0, 1, 100), (True, 100))
        self.assertEqual(self.c.array_get(a, "i", 0, 3), [100, 10, 25])
        with self.assertRaises(OSError) as cm:
            self.c.array_get(a, "d", 0)
        self.assertEqual(cm.exception.errno, errno.EPROTOTYPE)
        with self.assertRaises(OSError) as cm:
            self.c.array_get(a, "i", 5)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        with self.assertRaises(ValueError):
            self.c.array_get(a, "x", 0)
        b = fresh("bytes")
        self.c.array_declare(b, "c", b"Hello")
        self.assertEqual(self.c.array_get(b, "c", 0, 5), [b"H", b"e", b"l", b"l", b"o"])
        self.c.array_set(b, "c", 0, b"J")
        with self.assertRaises(OSError) as cm:
            self.c.array_add(b, "c", 0, 1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        u = fresh("wrap")
        self.c.array_declare(u, "B", 1)
        self.c.array_set(u, "B", 0, [257])     # wraps, as ctypes does
        self.assertEqual(self.c.array_get(u, "B"), [1])

    @mpxd_only("no array mapping (mpx_array_map() is EOPNOTSUPP)")
    def test_map(self):
        a = fresh("m")
        self.c.array_declare(a, "q", [1, 2, 3])
        m = self.c.array_map(a)
        self.assertEqual((m.typecode, m.length, len(m)), ("q", 3, 3))
        view = memoryview(m)
        self.assertEqual((view.format, view.itemsize, view.tolist()), ("q", 8, [1, 2, 3]))
        view[1] = 1000
        self.assertEqual(self.c.array_get(a, "q", 1), [1000])
        # Another process's mapping sees it at once.
        out = subprocess.run([sys.executable, "-c", """if True:
            import sys
            from mpx import _mpx
            with _mpx.Connection() as c:
                v = memoryview(c.array_map(sys.argv[1]))
                print(v[1]); v[2] = -5
            """, a], capture_output=True, check=True)
        self.assertEqual(out.stdout.strip(), b"1000")
        self.assertEqual(view[2], -5)
        with self.assertRaises(BufferError):
            m.release()
        view.release()
        m.release()
        self.assertTrue(m.released)
        with self.assertRaises(ValueError):
            memoryview(m)
        with self.assertRaises(OSError) as cm:
            self.c.array_map(fresh("none"))
        self.assertEqual(cm.exception.errno, errno.ENOENT)


@mpxd_only("no pipes (they pass descriptors on one host)")
class TestPipe(Base):
    def test_duplex_and_oneway(self):
        p = fresh("p")
        result = {}

        def peer():
            with _mpx.Connection() as c:
                fd = c.pipe_open(p, timeout=30)
                result["got"] = _mpx.pipe_recv(fd)
                _mpx.pipe_send(fd, b"pong")
                os.close(fd)
        t = threading.Thread(target=peer)
        t.start()
        fd = self.c.pipe_open(p, _mpx.PIPE_DUPLEX, timeout=30)
        _mpx.pipe_send(fd, b"ping")
        self.assertEqual(_mpx.pipe_recv(fd), b"pong")
        t.join()
        self.assertEqual(result["got"], b"ping")
        with self.assertRaises(BrokenPipeError):
            _mpx.pipe_recv(fd)
        os.close(fd)

        w = fresh("w")
        t = threading.Thread(target=lambda: result.update(
            wfd=_mpx.Connection().pipe_open(w, _mpx.PIPE_WRITE, timeout=30)))
        t.start()
        rfd = self.c.pipe_open(w, _mpx.PIPE_READ, timeout=30)
        t.join()
        os.write(result["wfd"], b"raw")
        os.close(result["wfd"])
        self.assertEqual(os.read(rfd, 10), b"raw")
        os.close(rfd)

    def test_errors(self):
        with self.assertRaises(BlockingIOError):
            self.c.pipe_open(fresh("alone"), timeout=0)
        with self.assertRaises(TimeoutError):
            self.c.pipe_open(fresh("alone"), timeout=0.02)
        with self.assertRaises(OSError) as cm:
            self.c.pipe_open(fresh("mode"), 9, timeout=0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)


class TestCounted(Base):
    def test_every_declare_takes_counted(self):
        declares = [
            lambda n: self.c.queue_declare(n, flags=_mpx.COUNTED),
            lambda n: self.c.dict_declare(n, _mpx.COUNTED),
            lambda n: self.c.list_declare(n, _mpx.COUNTED),
            lambda n: self.c.sem_declare(n, 1, 0, _mpx.COUNTED),
            lambda n: self.c.event_declare(n, _mpx.COUNTED),
            lambda n: self.c.barrier_declare(n, 2, _mpx.COUNTED),
            lambda n: self.c.value_declare(n, "i", 5, _mpx.COUNTED),
            lambda n: self.c.array_declare(n, "i", 3, _mpx.COUNTED),
        ]
        for declare in declares:
            name = fresh("counted")
            self.assertEqual(declare(name), 1)
            # The declare's reference is the only one: ending it deletes the object.
            self.assertIs(self.c.unref(name), True)
            with self.assertRaises(FileNotFoundError):
                self.c.object_info(name)

    def test_ref_unref(self):
        name = fresh("ref")
        self.c.dict_declare(name, _mpx.COUNTED)
        other = _mpx.Connection()
        self.addCleanup(other.close)
        token = other.ref(name)
        self.assertIsInstance(token, int)
        self.assertNotEqual(token, 0)
        self.assertIs(self.c.unref(name), False)
        self.c.dict_set(name, b"k", b"v")
        # Closing the last holder ends its reference, and the object with it.
        other.close()
        wait_for(lambda: name not in [o["name"] for o in self.c.list_objects()], "deletion of " + name)

    def test_transit_reference_outlives_sender(self):
        name = fresh("transit")
        sender = _mpx.Connection()
        sender.list_declare(name, _mpx.COUNTED)
        token = sender.ref(name, lease=60)
        sender.close()
        self.c.ref(name)
        self.assertIs(self.c.unref(name, token), False)
        self.assertIs(self.c.unref(name), True)

    def test_lease_runs_out(self):
        name = fresh("lease")
        sender = _mpx.Connection()
        sender.event_declare(name, _mpx.COUNTED)
        sender.ref(name, lease=0.05)
        sender.close()
        self.assertEqual(self.c.event_is_set(name), False)
        if on_redis():
            # Over Redis what ran out is found by the next function touching the object.
            wait_for(lambda: not exists(name), "end of the lease of " + name)
        else:
            wait_for(lambda: name not in [o["name"] for o in self.c.list_objects()], "end of the lease of " + name)

    def test_errors(self):
        plain = fresh("plain")
        self.c.dict_declare(plain)
        with self.assertRaises(OSError) as cm:
            self.c.ref(plain)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(OSError) as cm:
            self.c.unref(plain)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        with self.assertRaises(FileNotFoundError):
            self.c.ref(fresh("missing"))
        with self.assertRaises(ValueError):
            self.c.ref(plain, lease=-1)
        with self.assertRaises(OSError) as cm:
            self.c.dict_declare(fresh("both"), _mpx.COUNTED | _mpx.DURABLE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        counted = fresh("counted")
        self.c.dict_declare(counted, _mpx.COUNTED)
        with self.assertRaises(FileNotFoundError):
            self.c.unref(counted, 12345)
        self.assertIs(self.c.unref(counted), True)


class TestNewShared(Base):
    def test_dict_popitem(self):
        d = fresh("popitem")
        self.c.dict_declare(d)
        self.c.dict_set(d, b"a", b"1")
        self.c.dict_set(d, b"b", b"2")
        self.assertEqual(self.c.dict_popitem(d), (b"b", b"2"))
        self.assertEqual(self.c.dict_popitem(d), (b"a", b"1"))
        with self.assertRaises(FileNotFoundError):
            self.c.dict_popitem(d)
        with self.assertRaises(FileNotFoundError):
            self.c.dict_popitem(fresh("missing"))

    def test_list_slice_version_and_splice(self):
        name = fresh("splice")
        self.c.list_declare(name)
        self.c.list_extend(name, [b"c", b"a", b"b"])
        items, version = self.c.list_slice_version(name)
        self.assertEqual(items, [b"c", b"a", b"b"])
        self.assertIsInstance(version, int)
        self.assertEqual(self.c.list_slice_version(name, 1, None)[0], [b"a", b"b"])
        done, v2 = self.c.list_splice(name, 0, None, sorted(items), if_version=version)
        self.assertIs(done, True)
        self.assertNotEqual(v2, version)
        self.assertEqual(self.c.list_slice(name), [b"a", b"b", b"c"])
        # A stale version changes nothing.
        done, v3 = self.c.list_splice(name, 0, None, [], if_version=version)
        self.assertIs(done, False)
        self.assertEqual(v3, v2)
        self.assertEqual(self.c.list_len(name), 3)
        # Without a version: delete, insert, replace.
        self.assertEqual(self.c.list_splice(name, 0, 1, [])[0], True)
        self.assertEqual(self.c.list_splice(name, 1, 1, [b"x", b"y"])[0], True)
        self.assertEqual(self.c.list_slice(name), [b"b", b"x", b"y", b"c"])
        self.c.list_splice(name, -2, None, [b"z"])
        self.assertEqual(self.c.list_slice(name), [b"b", b"x", b"z"])
        with self.assertRaises(FileNotFoundError):
            self.c.list_splice(fresh("missing"), 0, 0, [b"a"])
        with self.assertRaises(TypeError):
            self.c.list_splice(name, 0, 0, ["text"])
        with self.assertRaises(FileNotFoundError):
            self.c.list_slice_version(fresh("missing"))


class TestBarrierAction(Base):
    def test_constants(self):
        self.assertEqual(_mpx.TIMEOUT_DEFAULT, -(2 ** 63))
        self.assertNotEqual(_mpx.BARRIER_ACTION, 0)
        self.assertNotEqual(_mpx.COUNTED, 0)

    def test_action_round(self):
        b = fresh("action")
        self.assertEqual(self.c.barrier_declare(b, 2, _mpx.BARRIER_ACTION), 1)
        with self.assertRaises(FileExistsError):
            self.c.barrier_declare(b, 2)
        other = _mpx.Connection()
        self.addCleanup(other.close)
        result = []
        t = threading.Thread(target=lambda: result.append(other.barrier_wait(b, timeout=30)))
        t.start()
        wait_for(lambda: self.c.object_info(b)["waiting"] >= 1,
                 "a party waiting on " + b)
        self.assertEqual(self.c.barrier_wait(b, timeout=30), 1)
        # The other party stays parked until the action passes.
        t.join(0.05)
        self.assertTrue(t.is_alive())
        self.c.barrier_pass(b)
        t.join()
        self.assertEqual(result, [0])
        with self.assertRaises(OSError) as cm:
            self.c.barrier_pass(b)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_action_failed(self):
        b = fresh("action-abort")
        self.c.barrier_declare(b, 2, _mpx.BARRIER_ACTION)
        other = _mpx.Connection()
        self.addCleanup(other.close)
        result = []

        def party():
            try:
                other.barrier_wait(b, timeout=30)
            except OSError as e:
                result.append(e.errno)
        t = threading.Thread(target=party)
        t.start()
        wait_for(lambda: self.c.object_info(b)["waiting"] >= 1,
                 "a party waiting on " + b)
        self.assertEqual(self.c.barrier_wait(b, timeout=30), 1)
        self.c.barrier_abort(b)
        t.join()
        self.assertEqual(result, [errno.ENOTRECOVERABLE])

    def test_stored_timeout(self):
        b = fresh("timeout")
        self.assertEqual(self.c.barrier_declare(b, 2, 0, 0.05), 1)
        self.assertEqual(self.c.barrier_declare(b, 2), 0)
        self.assertEqual(self.c.barrier_declare(b, 2, 0, 0.05), 0)
        with self.assertRaises(FileExistsError):
            self.c.barrier_declare(b, 2, 0, 5)
        with self.assertRaises(TimeoutError):
            self.c.barrier_wait(b, _mpx.TIMEOUT_DEFAULT)
        with self.assertRaises(ValueError):
            self.c.barrier_wait(b, -1)


if __name__ == "__main__":
    unittest.main()
