# SPDX-License-Identifier: MIT
"""The worker process of an ``mpx.Pool``, started and restarted by mpxd.

mpxd runs ``python3 -c BOOT PACKAGE_DIR JOBS CONFIG`` (see ``mpx.pool``):
BOOT puts the directory holding the package ``mpx`` first on ``sys.path``
(so that a worker runs the package of the process that made the pool),
then calls :func:`main`. CONFIG is a base64 pickle of the maker's
``sys.path`` and ``__main__`` (:func:`prepare`) and of a pickle of the
pool's initializer and its arguments, read once those are in place, so
that an initializer defined in a script or a test module is found.

A worker takes jobs from the joinable queue JOBS as deliveries tied to its
connection, so that the job of a worker that dies goes back to the head of
the queue for another one. Each job is an item in the format of
docs/PROTOCOL.md, "Jobs": the name of the queue that takes its result,
then a pickle of ``(job, index, preparation, task)``, the task itself a
pickle of ``(function, args, kwds)`` read once the submitter's ``sys.path``
and ``__main__`` are in place, which is how functions are found: by module
and qualified name, as pickle refers to them. The result item is the
status 0 and a pickle of ``(job, index, (success, value))``; an exception
travels with its traceback, as multiprocessing sends it.

A job delivered more than ``MAX_RUNS`` times (its workers died running it)
is not run again: it fails with ``mpx.pool.WorkerLostError``.
"""

import base64
import errno
import os
import pickle
import runpy
import struct
import sys
import types

from multiprocessing.pool import ExceptionWithTraceback, MaybeEncodingError

from . import _mpx

MAX_RUNS = 3
MAGIC = b"MPXJOB\x00\x01"
_GONE = (errno.ENOENT, errno.EIDRM, errno.EPROTOTYPE, errno.EPIPE)


def prepare():
    """What a worker needs to find the caller's functions: (sys.path, __main__'s module name, its path)."""
    main = sys.modules.get("__main__")
    name = getattr(getattr(main, "__spec__", None), "name", None)
    path = getattr(main, "__file__", None)
    if name is not None or not path:
        path = None
    else:
        path = os.path.abspath(path)
    return (tuple(sys.path), name, path)


def job_item(result_queue, preparation, job, index, func, args, kwds):
    """The bytes of one job (see the module docstring)."""
    name = result_queue.encode()
    task = pickle.dumps((func, args, kwds), pickle.HIGHEST_PROTOCOL)
    body = pickle.dumps((job, index, preparation, task), pickle.HIGHEST_PROTOCOL)
    return MAGIC + bytes([len(name)]) + name + body


def parse_job(data):
    """(result queue, job bytes) of an item; (None, data) for an item without a result queue."""
    if data[:8] != MAGIC or len(data) < 9 or not data[8] or len(data) < 9 + data[8]:
        return None, data
    n = data[8]
    return data[9:9 + n].decode(errors="replace"), data[9 + n:]


def parse_result(data):
    """(job, index, (success, value)) of a result item, or None for one that is not a pickled result."""
    if len(data) < 4 or struct.unpack_from("<i", data)[0] != 0:
        return None
    return pickle.loads(data[4:])


_prepared = None
_mains = {}


def _apply_preparation(preparation):
    """Make the submitter's sys.path and __main__ this process's (mp's spawn does the same for a child)."""
    global _prepared
    if preparation == _prepared:
        return
    path, main_name, main_path = preparation
    sys.path[:] = list(path) + [p for p in sys.path if p not in path]
    key = main_name or main_path
    if key and not key.endswith("__main__"):
        mod = _mains.get(key)
        if mod is None:
            mod = types.ModuleType("__mp_main__")
            sys.modules["__mp_main__"] = mod
            if main_name:
                content = runpy.run_module(main_name, run_name="__mp_main__", alter_sys=True)
            else:
                mod.__file__ = main_path
                content = runpy.run_path(main_path, run_name="__mp_main__")
            mod.__dict__.update(content)
            _mains[key] = mod
        sys.modules["__main__"] = sys.modules["__mp_main__"] = mod
    _prepared = preparation


def _run(job_bytes, deliveries):
    job, index, preparation, task = pickle.loads(job_bytes)
    if deliveries > MAX_RUNS:
        from .pool import WorkerLostError
        return job, index, (False, WorkerLostError(
            "the workers running this task died %d times: it is not run again" % (deliveries - 1)))
    try:
        _apply_preparation(preparation)
        func, args, kwds = pickle.loads(task)
        return job, index, (True, func(*args, **kwds))
    except Exception as e:
        return job, index, (False, ExceptionWithTraceback(e, e.__traceback__))


def _result_item(result):
    try:
        return struct.pack("<i", 0) + pickle.dumps(result, pickle.HIGHEST_PROTOCOL)
    except Exception as e:
        job, index, (_, value) = result
        wrapped = MaybeEncodingError(e, value)
        return struct.pack("<i", 0) + pickle.dumps((job, index, (False, wrapped)), pickle.HIGHEST_PROTOCOL)


def serve(conn, jobs):
    """Take and run jobs until the queue is closed and drained, deleted, or mpxd stops.

    A job is finished by the request that takes the next one (one round
    trip a job); its result was put before, on the same connection.
    """
    done = 0
    while True:
        try:
            data, tag, deliveries = conn.queue_get_delivery(jobs, None, done)
        except (BrokenPipeError, FileNotFoundError) as e:
            if done and isinstance(e, FileNotFoundError):
                done = 0                # the finish was refused: nothing else happened; take again
                continue
            return 0
        except OSError as e:
            if e.errno in (errno.EIDRM, errno.ESHUTDOWN):
                return 0
            if done and e.errno == errno.EINVAL:
                done = 0
                continue
            raise
        done = 0
        result_queue, job_bytes = parse_job(data)
        try:
            result = _run(job_bytes, deliveries)
        except Exception:               # not a job of mpx.Pool: nobody to tell
            result = None
        if result_queue and result is not None:
            # Not waited for: the finish that follows is answered after it, in order, on this connection.
            try:
                conn.queue_put_pipelined(result_queue, _result_item(result))
            except OSError as e:
                if e.errno not in _GONE:    # an earlier result's submitter gave up
                    raise
        done = tag


def main(argv):
    """The worker: argv is [JOBS, CONFIG]."""
    jobs, config = argv
    preparation, init = pickle.loads(base64.b64decode(config))
    conn = _mpx.Connection(None, "python-worker")
    # The maker's sys.path and __main__ now rather than at its first task; its initializer is found then.
    _apply_preparation(preparation)
    if init is not None:
        initializer, initargs = pickle.loads(init)
        initializer(*initargs)
    return serve(conn, jobs)
