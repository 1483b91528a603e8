# SPDX-License-Identifier: MIT
"""What the tests of the package share: fresh names, waiting on conditions, helper processes.

Helper processes are started with ``spawn_python(code)`` and ended by the
test's cleanup even when the test fails; waiting is on conditions the daemon
reports, never on sleeps.
"""

import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import mpx
from mpx import _mpx

_names = itertools.count()


def fresh(prefix):
    """A name no other test uses."""
    return "pyt.%s.%d.%d" % (prefix, os.getpid(), next(_names))


def wait_for(cond, what, seconds=30):
    """Spin on cond() (each call a round trip to the daemon) until it holds."""
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)


def exists(name):
    """True if the daemon has an object of that name."""
    c = _mpx.Connection()
    try:
        c.object_info(name)
        return True
    except FileNotFoundError:
        return False
    finally:
        c.close()


def info(name):
    """The daemon's description of the object."""
    with _mpx.Connection() as c:
        return c.object_info(name)


def on_redis():
    """True if the suite runs against libmpx's Redis backend (MPX_SOCKET is a redis address)."""
    return os.environ.get("MPX_SOCKET", "").startswith("redis")


def mpxd_only(reason):
    """Skip a test over Redis: reason names the difference from mpxd (docs/REDIS.md)."""
    return unittest.skipIf(on_redis(), "Redis backend: " + reason)


def interrupt_with_keyboard_interrupt(test):
    """Have SIGINT raise KeyboardInterrupt during test, as in an interactive shell.

    A process started in the background by a shell without job control
    inherits SIGINT ignored, and Python then leaves it ignored: the tests of
    interruption must not depend on how the suite was started.
    """
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    test.addCleanup(signal.signal, signal.SIGINT, old)


class TestCase(unittest.TestCase):
    """A TestCase with helper processes that its cleanup ends."""

    def spawn_python(self, code, *args, stdout=subprocess.PIPE):
        """Start python running code (dedented, from a file, so that spawn finds __main__) with args.

        The process is ended by the cleanup.
        """
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "helper.py")
        with open(path, "w") as f:
            f.write(textwrap.dedent(code))
        p = subprocess.Popen([sys.executable, path] + [str(a) for a in args],
                             stdout=stdout, stderr=subprocess.PIPE)
        self.addCleanup(self._stop, p)
        return p

    def run_python(self, code, *args, timeout=60):
        """Run python code to its end; return its stdout as text; fail on a nonzero status."""
        p = self.spawn_python(code, *args)
        out, err = p.communicate(timeout=timeout)
        if p.returncode != 0:
            self.fail("helper exited %d:\n%s" % (p.returncode, err.decode(errors="replace")))
        return out.decode()

    @staticmethod
    def _stop(p):
        if p.poll() is None:
            p.kill()
        p.communicate()


__all__ = ["on_redis", "mpxd_only", "fresh", "wait_for", "exists", "info", "interrupt_with_keyboard_interrupt", "TestCase", "mpx", "_mpx"]
