#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Producers and consumers across a Redis Cluster, and a master killed mid run.

Run under ``with-redis --cluster`` (MPX_SOCKET and MPX_REDIS_NODES set).
Producers put numbered items into joinable queues spread over the three
masters' slots; a put that fails because its node was lost (ECONNRESET,
outcome unknown) is made again, so an item may arrive twice. Consumers take
items, record them, then mark them done. Once a third of the items are
acknowledged, the master serving the first queue is SIGKILLed; its replica
takes over and the run goes on. At the end every queue is drained: by the
consumers, then here, of what came back once they ended (drain()).

Prints one line of figures: acknowledged, received, lost (acknowledged and
never received), duplicated (received more than once), and fails if an
item arrived that was never put, if the run did not finish, or if more was
lost than the lost bound allows: with MPX_REDIS_WAIT_REPLICAS=N (the
address's wait_replicas=N, N being every replica a master has) nothing
acknowledged may be lost. Then a change is on every replica before it is
answered, so whichever replica is promoted has it; the new master has one
replica fewer and answers EIO (a put made again) until the killed server,
started again here from its own command line, has rejoined as a replica.

    cluster_failover.py [ITEMS_PER_PRODUCER]
"""

import faulthandler
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import mpx
from mpx import _mpx

PRODUCERS = 2
CONSUMERS = 2
QUEUES = ["failover.q%d" % i for i in range(6)]
RETRYABLE = (ConnectionResetError, TimeoutError, OSError)
DEADLINE_SECONDS = 240


def address():
    addr = os.environ["MPX_SOCKET"]
    if os.environ.get("MPX_REDIS_WAIT_REPLICAS"):
        addr += "&wait_replicas=%s" % os.environ["MPX_REDIS_WAIT_REPLICAS"]
    return addr


def connect():
    """A connection, asked again while the cluster settles."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return _mpx.Connection(address())
        except RETRYABLE:
            if time.monotonic() > deadline:
                raise


def report_if_stuck():
    """A producer or consumer still running near the run's deadline prints where it is (every thread's
    stack, the C call it is in included) and exits 1, so that the run's failure says where it stalled."""
    faulthandler.dump_traceback_later(DEADLINE_SECONDS - 20, exit=True)


def producer(index, count, out):
    report_if_stuck()
    c = connect()
    with open(out, "w") as f:
        for i in range(count):
            item = ("%d:%d" % (index, i)).encode()
            q = QUEUES[i % len(QUEUES)]
            while True:
                try:
                    c.queue_put(q, item, timeout=5)
                    break
                except RETRYABLE:
                    continue
            f.write(item.decode() + "\n")
            f.flush()


def consumer(out, stop_file):
    report_if_stuck()
    c = connect()
    idle_rounds = 0
    with open(out, "w") as f:
        while True:
            got = False
            for q in QUEUES:
                try:
                    data, tag = c.queue_get(q, timeout=0.05)
                except (BlockingIOError, TimeoutError):
                    continue
                except RETRYABLE:
                    continue
                f.write(data.decode() + "\n")
                f.flush()
                got = True
                try:
                    c.queue_task_done(q, tag)
                except RETRYABLE:
                    pass
            idle_rounds = 0 if got else idle_rounds + 1
            if not got and idle_rounds >= 3 and os.path.exists(stop_file):
                return


def drain(c, deadline):
    """What comes back to the queues once the consumers have ended.

    A get whose answer was lost with the killed master (ECONNRESET) may have
    taken its item on the replica that took over: the delivery stays with
    that consumer until it disconnects or its lease runs out, then goes back
    to the head of its queue. Take everything until no queue holds an
    unfinished item.
    """
    got = []
    while True:
        unfinished = 0
        for q in QUEUES:
            try:
                data, tag = c.queue_get(q, timeout=0.05)
            except (BlockingIOError, TimeoutError):
                try:
                    unfinished += c.object_info(q)["unfinished"]
                except RETRYABLE:
                    unfinished += 1
                continue
            except RETRYABLE:
                unfinished += 1
                continue
            got.append(data.decode())
            unfinished += 1
            try:
                c.queue_task_done(q, tag)
            except RETRYABLE:
                pass
        if unfinished == 0:
            return got
        if time.monotonic() > deadline:
            raise SystemExit("FAIL: items were still unfinished at the end")


def nodes():
    """(pid, port) of every server, and which of them are masters now."""
    out = []
    for entry in os.environ["MPX_REDIS_NODES"].split():
        pid, port = entry.split(":")
        out.append((int(pid), int(port)))
    return out


def master_of(name):
    """The (pid, port) of the master serving the queue's slot."""
    for pid, port in nodes():
        # Asked of a node that answers (not the one killed).
        out = subprocess.run(["redis-cli", "-p", str(port), "cluster", "keyslot", "mpx:{%s}" % name],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        if not out.isdigit():
            continue
        slot = int(out)
        shards = subprocess.run(["redis-cli", "-p", str(port), "cluster", "slots"],
                                stdout=subprocess.PIPE, text=True, check=True).stdout.split()
        # CLUSTER SLOTS: start, end, master ip, master port, master id, replicas...
        for i in range(len(shards) - 3):
            if shards[i].isdigit() and shards[i + 1].isdigit() and int(shards[i]) <= slot <= int(shards[i + 1]):
                master_port = int(shards[i + 3])
                return [n for n in nodes() if n[1] == master_port][0]
    raise RuntimeError("no master for " + name)


def command_line(port):
    """The command line with-redis started the server on port with (redis-server rewrites its own)."""
    d = subprocess.run(["redis-cli", "-p", str(port), "config", "get", "dir"],
                       stdout=subprocess.PIPE, text=True, check=True).stdout.split()[1]
    with open(os.path.join(d, "argv.json")) as f:
        return json.load(f)


def restart_when_replaced(argv, port, name, deadline):
    """Once another node serves the queue's slot, start the killed server again: it rejoins as a replica."""
    while master_of(name)[1] == port:
        if time.monotonic() > deadline:
            raise SystemExit("FAIL: no replica took over")
        time.sleep(0.05)
    d = argv[argv.index("--dir") + 1]
    log = open(os.path.join(d, "redis.log"), "a")
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)


def lines(path):
    try:
        with open(path) as f:
            return [l.strip() for l in f if l.strip()]
    except FileNotFoundError:
        return []


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    work = tempfile.mkdtemp(prefix="mpx-failover-")
    stop_file = os.path.join(work, "stop")
    me = os.path.abspath(__file__)
    procs = []
    restarted = None
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        c = connect()
        for q in QUEUES:
            c.queue_declare(q, flags=_mpx.QUEUE_JOINABLE)
        for i in range(CONSUMERS):
            procs.append(subprocess.Popen([sys.executable, me, "--consumer", os.path.join(work, "got.%d" % i),
                                           stop_file]))
        producers = [subprocess.Popen([sys.executable, me, "--producer", str(i), str(count),
                                       os.path.join(work, "put.%d" % i)]) for i in range(PRODUCERS)]
        procs += producers
        victim = master_of(QUEUES[0])
        while sum(len(lines(os.path.join(work, "put.%d" % i))) for i in range(PRODUCERS)) < count * PRODUCERS // 3:
            if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
                raise SystemExit("FAIL: the run stalled before the kill")
            time.sleep(0.05)
        victim_argv = command_line(victim[1])
        os.kill(victim[0], signal.SIGKILL)
        killed_at = sum(len(lines(os.path.join(work, "put.%d" % i))) for i in range(PRODUCERS))
        if os.environ.get("MPX_REDIS_WAIT_REPLICAS"):
            restarted = restart_when_replaced(victim_argv, victim[1], QUEUES[0], deadline)
        for i, p in enumerate(producers):
            p.wait(timeout=max(1, deadline - time.monotonic()))
            if p.returncode != 0:
                raise SystemExit("FAIL: producer %d exited with %d after %d of %d puts acknowledged" % (
                    i, p.returncode, len(lines(os.path.join(work, "put.%d" % i))), count))
        open(stop_file, "w").close()
        for p in procs:
            p.wait(timeout=max(1, deadline - time.monotonic()))
            if p.returncode != 0:
                raise SystemExit("FAIL: a consumer exited with %d" % p.returncode)
        acked = set()
        for i in range(PRODUCERS):
            acked.update(lines(os.path.join(work, "put.%d" % i)))
        got = []
        for i in range(CONSUMERS):
            got += lines(os.path.join(work, "got.%d" % i))
        late = drain(connect(), deadline)
        got += late
        produced = {"%d:%d" % (p, i) for p in range(PRODUCERS) for i in range(count)}
        stray = set(got) - produced
        lost = acked - set(got)
        dup = len(got) - len(set(got))
        print("failover: acknowledged %d, received %d (distinct %d; %d after the consumers ended), lost %d, "
              "duplicated %d; killed the master on port %d after %d acknowledged puts%s" % (
                  len(acked), len(got), len(set(got)), len(late), len(lost), dup, victim[1], killed_at,
                  ", wait_replicas=" + os.environ["MPX_REDIS_WAIT_REPLICAS"]
                  if os.environ.get("MPX_REDIS_WAIT_REPLICAS") else ""))
        if len(acked) != count * PRODUCERS:
            raise SystemExit("FAIL: not every put was acknowledged")
        if stray:
            raise SystemExit("FAIL: items never put arrived: %r" % sorted(stray)[:5])
        if os.environ.get("MPX_REDIS_WAIT_REPLICAS") and lost:
            raise SystemExit("FAIL: %d acknowledged items lost with wait_replicas" % len(lost))
        return 0
    finally:
        for p in procs + ([restarted] if restarted else []):
            if p.poll() is None:
                p.kill()
                p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--producer":
        producer(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) > 1 and sys.argv[1] == "--consumer":
        consumer(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
