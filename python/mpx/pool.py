# SPDX-License-Identifier: MIT
"""``mpx.Pool``: multiprocessing's Pool with workers that mpxd supervises.

``Pool(processes)`` has mpxd start ``processes`` Python workers (mpxd's
pools: restarted when they die, with a back-off when they die at once) that
take the pool's tasks from a joinable queue ``NAME.jobs``. The API is
multiprocessing's: ``apply``, ``apply_async``, ``map``, ``map_async``,
``imap``, ``imap_unordered``, ``starmap``, ``starmap_async``, ``close``,
``terminate``, ``join``, ``with``; results are multiprocessing's own
``AsyncResult`` classes (``get(timeout)``, ``wait``, ``ready``,
``successful``, ``callback`` and ``error_callback``, run in this process's
result thread), and an exception raised in a worker comes back with its
remote traceback as its ``__cause__``.

Workers find functions as pickle names them, by module and qualified name:
each task carries the submitter's ``sys.path`` and its ``__main__`` (its
module name, or its script's path, which a worker runs as ``__mp_main__``
once, as multiprocessing's spawn does; guard a script's work with ``if
__name__ == "__main__"``). Workers run with mpxd's environment, from the
directory ``/``; the package they run is the one of the process that made
the pool. As whom they run, and who may start pools, is mpxd's rule
(mpx(3)): the pools of root, mpxd's user and its admin group run as the
user mpxd starts pools as (``pool_user``; see mpxd.conf(5)); anyone else's
run as that user itself, which needs an mpxd that runs as root (otherwise
``PermissionError``), within its quota of workers (``limits.per_user``).

**A worker that dies.** A task is a delivery tied to its worker's
connection: when the worker dies running it, mpxd puts it back at the head
of the queue and another worker (or the restarted one) runs it. A task is
run at most three times: after a third death it fails with
``WorkerLostError``, so that a task that kills its workers is reported, and
a result never hangs on a dead worker.

**Lifetime.** A pool without ``name`` belongs to the Pool object: ``join()``
(after ``close()``), ``terminate()``, leaving ``with``, or this process's exit
stop its workers and delete its queue. ``Pool(name="x")`` starts the pool
``x`` unless it runs already, and attaches to it then; a named pool outlives
the processes that use it (``mpxctl pool stop x`` ends it), and each Pool
object's ``join()`` waits for the tasks submitted through it only.

Differences from multiprocessing: ``maxtasksperchild`` is refused
(``ValueError``: mpxd's restart back-off would slow such workers down to a
crawl); ``context`` is accepted and ignored; the pool may not be pickled.
"""

import base64
import itertools
import os
import pickle
import queue
import sys
import threading
import uuid
import warnings
import weakref

from multiprocessing.pool import (ApplyResult, IMapIterator, IMapUnorderedIterator, MapResult, mapstar,
                                  starmapstar)

from . import _conn
from . import _mpx
from . import _worker

RUN, CLOSE, TERMINATE = "RUN", "CLOSE", "TERMINATE"

# Run by mpxd in each worker: the package of the pool's maker first, then the worker's loop.
_BOOT = ("import sys; sys.path.insert(0, sys.argv[1]); from mpx import _worker; "
         "sys.exit(_worker.main(sys.argv[2:]))")


class WorkerLostError(Exception):
    """A task whose workers died each time they ran it (three times): it is not run again."""


class PoolTerminated(Exception):
    """The result of a task the pool was terminated before it finished."""


def _package_dir():
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _helper_reraises_exception(ex):
    raise ex


class Pool:
    """Pool(processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None, *, name=None,
    address=None): see the module docstring."""

    def __init__(self, processes=None, initializer=None, initargs=(), maxtasksperchild=None, context=None, *,
                 name=None, address=None):
        if processes is None:
            processes = os.cpu_count() or 1
        if processes < 1:
            raise ValueError("Number of processes must be at least 1")
        if initializer is not None and not callable(initializer):
            raise TypeError("initializer must be a callable")
        if maxtasksperchild is not None:
            raise ValueError("maxtasksperchild is not supported by mpx.Pool: mpxd restarts workers with a back-off")
        self._processes = processes
        self._address = address or _conn.get_address()
        self._owned = name is None
        self._name = name or "py.pool." + uuid.uuid4().hex
        self._jobs = self._name + ".jobs"
        self._results = "py.results." + uuid.uuid4().hex
        self._prep = _worker.prepare()
        self._cache = _Cache()
        self._taskqueue = queue.Queue()
        c = _conn.get(self._address)
        c.queue_declare(self._jobs, 0, _mpx.QUEUE_JOINABLE)
        init = None if initializer is None else pickle.dumps((initializer, tuple(initargs)))
        config = base64.b64encode(pickle.dumps((self._prep, init))).decode()
        argv = [sys.executable, "-c", _BOOT, _package_dir(), self._jobs, config]
        try:
            c.pool_start(self._name, processes, argv, _mpx.RESTART_ALWAYS)
        except FileExistsError:
            if self._owned:
                raise
            # a pool of that name runs another command (another maker's): use it as it is
        except BaseException:
            if self._owned:
                self._delete_quietly(c, self._jobs)
            raise
        self._terminating = threading.Event()
        ready, failed = threading.Event(), []
        # The threads hold what they use, not the Pool: an abandoned Pool is collected (and warns).
        self._result_handler = threading.Thread(target=_handle_results, daemon=True, name="mpx-pool-results",
                                                args=(self._address, self._results, self._cache, ready, failed))
        self._result_handler.start()
        ready.wait()
        if failed:                      # no result queue (a quota, say): nothing would come back
            Pool._finish(self._address, self._name, self._jobs, self._results, self._owned)
            raise failed[0]
        self._task_handler = threading.Thread(target=_handle_tasks, daemon=True, name="mpx-pool-tasks",
                                              args=(self._address, self._jobs, self._results, self._prep,
                                                    self._cache, self._taskqueue, self._terminating))
        self._task_handler.start()
        self._finalizer = weakref.finalize(self, Pool._finish, self._address, self._name, self._jobs,
                                           self._results, self._owned)
        self._state = RUN               # last: a Pool that failed to start is not "unclosed"

    # ---- submitting

    def _check_running(self):
        if self._state != RUN:
            raise ValueError("Pool not running")

    def apply(self, func, args=(), kwds={}):
        """func(*args, **kwds) in a worker; its result, or its exception raised here."""
        return self.apply_async(func, args, kwds).get()

    def apply_async(self, func, args=(), kwds={}, callback=None, error_callback=None):
        """Submit func(*args, **kwds); an AsyncResult."""
        self._check_running()
        result = ApplyResult(self, callback, error_callback)
        self._taskqueue.put(([(result._job, 0, func, args, kwds)], None))
        return result

    def map(self, func, iterable, chunksize=None):
        """list(map(func, iterable)), in chunks run by the workers."""
        return self._map_async(func, iterable, mapstar, chunksize).get()

    def map_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """Asynchronous map(): an AsyncResult of the list."""
        return self._map_async(func, iterable, mapstar, chunksize, callback, error_callback)

    def starmap(self, func, iterable, chunksize=None):
        """map() whose items are argument tuples: func(*item)."""
        return self._map_async(func, iterable, starmapstar, chunksize).get()

    def starmap_async(self, func, iterable, chunksize=None, callback=None, error_callback=None):
        """Asynchronous starmap()."""
        return self._map_async(func, iterable, starmapstar, chunksize, callback, error_callback)

    def _map_async(self, func, iterable, mapper, chunksize=None, callback=None, error_callback=None):
        self._check_running()
        if not hasattr(iterable, "__len__"):
            iterable = list(iterable)
        if chunksize is None:
            chunksize, extra = divmod(len(iterable), self._processes * 4)
            if extra:
                chunksize += 1
        if len(iterable) == 0:
            chunksize = 0
        result = MapResult(self, chunksize, len(iterable), callback, error_callback=error_callback)
        self._taskqueue.put((_guarded_tasks(result._job, mapper, _tasks(func, iterable, chunksize)), None))
        return result

    def imap(self, func, iterable, chunksize=1):
        """An iterator over map()'s results, in order, as they come; the iterable is read lazily."""
        return self._imap(IMapIterator, func, iterable, chunksize)

    def imap_unordered(self, func, iterable, chunksize=1):
        """imap() in the order the results come."""
        return self._imap(IMapUnorderedIterator, func, iterable, chunksize)

    def _imap(self, cls, func, iterable, chunksize):
        self._check_running()
        if chunksize < 1:
            raise ValueError("Chunksize must be 1+, not {0!r}".format(chunksize))
        result = cls(self)
        if chunksize == 1:
            self._taskqueue.put((_guarded_tasks(result._job, func, iterable), result._set_length))
            return result
        self._taskqueue.put((_guarded_tasks(result._job, mapstar, _tasks(func, iterable, chunksize)),
                             result._set_length))
        return (item for chunk in result for item in chunk)

    # ---- ending

    def close(self):
        """Take no more tasks; join() then waits for those submitted."""
        if self._state == RUN:
            self._state = CLOSE
            self._taskqueue.put(None)

    def terminate(self):
        """Stop at once: an anonymous pool's workers are killed; results not in fail with PoolTerminated."""
        if self._state == TERMINATE:
            return
        was = self._state
        self._state = TERMINATE
        self._terminating.set()
        if was == RUN:
            self._taskqueue.put(None)
        self._finalizer()
        err = (False, PoolTerminated("the pool was terminated before this task finished"))
        for r in list(self._cache.values()):
            try:
                if isinstance(r, IMapIterator):
                    with r._cond:
                        i = r._index
                    r._set(i, err)
                    r._set_length(i + 1)
                else:
                    r._set(0, err)
            except KeyError:
                pass
        self._result_handler.join()

    def join(self):
        """Wait, after close(), for every task submitted here; then an anonymous pool ends."""
        if self._state == RUN:
            raise ValueError("Pool is still running")
        self._task_handler.join()
        if self._state == CLOSE:
            self._cache.wait_empty()
            self._finalizer()
        self._result_handler.join()

    @staticmethod
    def _finish(address, name, jobs, results, owned):
        """Stop what this Pool object holds: its result thread, and an anonymous pool."""
        c = _mpx.Connection(address, "python-%d-pool" % os.getpid())
        try:
            try:
                c.queue_close(results)      # the result thread's get ends
            except OSError:
                pass
            if owned:
                try:
                    c.pool_stop(name, 0)
                except OSError:
                    pass
                Pool._delete_quietly(c, jobs)
        finally:
            c.close()

    @staticmethod
    def _delete_quietly(c, name):
        try:
            c.delete(name)
        except OSError:
            pass

    def __enter__(self):
        self._check_running()
        return self

    def __del__(self, _warn=warnings.warn, RUN=RUN):
        if getattr(self, "_state", None) == RUN:
            _warn("unclosed running multiprocessing pool %r" % self, ResourceWarning, source=self)

    def __exit__(self, *exc):
        self.terminate()

    def __reduce__(self):
        raise NotImplementedError("pool objects cannot be passed between processes or pickled")

    def __repr__(self):
        return "<mpx.Pool name=%r state=%s processes=%d>" % (self._name, getattr(self, "_state", None), self._processes)

    @property
    def name(self):
        """The pool's name in mpxd (its queue of tasks is name + '.jobs')."""
        return self._name


def _handle_results(address, results, cache, ready, failed):
    """The result thread: hand each result to its AsyncResult, until the result queue is closed."""
    # The result queue belongs to this thread's connection: mpxd deletes it if the process ends.
    try:
        c = _conn.get(address)
        c.queue_declare(results, 0, _mpx.QUEUE_CONNECTION)
    except Exception as e:
        failed.append(e)
        return
    finally:
        ready.set()
    while True:
        try:
            data = c.queue_get(results)
        except OSError:                 # closed (the Pool ended), or deleted
            return
        res = _worker.parse_result(data)
        if res is None:
            continue
        job, i, obj = res
        r = cache.get(job)
        if r is not None:               # a task run twice (its first worker died) has one result
            try:
                r._set(i, obj)
            except KeyError:
                pass
        r = res = obj = None


def _handle_tasks(address, jobs, results, prep, cache, taskqueue, terminating):
    """The task thread: put the tasks of each submission on the jobs queue, in order, lazily."""
    c = _conn.get(address)
    for taskseq, set_length in iter(taskqueue.get, None):
        task = None
        try:
            for task in taskseq:
                if terminating.is_set():
                    break
                try:
                    c.queue_put_pipelined(jobs, _worker.job_item(results, prep, *task))
                except Exception as e:
                    r = cache.get(task[0])
                    if r is not None:
                        r._set(task[1], (False, e))
                    r = None
            else:
                if set_length:
                    set_length(task[1] + 1 if task else 0)
        finally:
            # what the tasks refer to is the caller's, not ours to keep alive
            task = taskseq = set_length = None
    try:
        c.flush()
    except OSError:
        pass


def _guarded_tasks(job, func, iterable):
    """The tasks of one submission; an iterable that raises fails the result at the index it reached."""
    i = -1
    try:
        for i, x in enumerate(iterable):
            yield (job, i, func, (x,), {})
    except Exception as e:
        yield (job, i + 1, _helper_reraises_exception, (e,), {})


class _Cache(dict):
    """The results not yet in, by job: join() waits until it is empty."""

    def __init__(self):
        super().__init__()
        self._cond = threading.Condition()

    def __delitem__(self, job):
        with self._cond:
            super().__delitem__(job)
            if not self:
                self._cond.notify_all()

    def wait_empty(self):
        with self._cond:
            self._cond.wait_for(lambda: not self)


def _tasks(func, it, size):
    it = iter(it)
    while True:
        x = tuple(itertools.islice(it, size))
        if not x:
            return
        yield (func, x)
