#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the fuzz harnesses (tests/fuzz/corpus/).

corpus/daemon/: inputs of fuzz-daemon.c, one scenario per file, in its
record format (a control byte: client slot and action; for a feed, a u16
length and the bytes). Together they send a valid request for every opcode
of common/wire.h, and the cross-client cases: a getter served by another
client's put, an acquirer by a release, a barrier, a pipe, timeouts, a
client lost while it holds things.

corpus/journal/: inputs of fuzz-journal.c: journal files (a layout byte,
then records without their crc) holding every kind of record, a snapshot
with later segments, and torn and corrupt records.

corpus/config/: inputs of fuzz-config.c: the shipped mpxd.conf, a file
declaring every kind of object with every setting, and a file of errors.

corpus/wire/: inputs of fuzz-wire.c: a reader program (a count, then one
reader per byte: u8 u16 u32 u64 i64 name bytes str) followed by a request
body that program reads, one per opcode family, and field lists.

daemon.dict: every opcode, a dictionary for libFuzzer (-dict=).

Run it from anywhere after changing the protocol, and commit what it
writes: python3 tests/fuzz/make-corpus.py. It reads the opcode numbers from
common/wire.h and fails when an opcode has no seed.
"""
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WIRE_H = os.path.join(HERE, "..", "..", "common", "wire.h")

OPS = {m.group(1)[len("WIRE_OP_"):]: int(m.group(2))
       for m in re.finditer(r"\b(WIRE_OP_\w+)\s*=\s*(\d+)", open(WIRE_H).read())}
# Opcodes the daemon harness defuses (they start processes); seeded for the record.
PROCESS_OPS = {"POOL_START", "POOL_SCALE", "POOL_SIGNAL", "POOL_STOP"}


def u8(v): return struct.pack("<B", v)
def u16(v): return struct.pack("<H", v)
def u32(v): return struct.pack("<I", v)
def u64(v): return struct.pack("<Q", v)
def i64(v): return struct.pack("<q", v)


def name(s):
    b = s.encode()
    return u8(len(b)) + b


def blob(b):
    if isinstance(b, str):
        b = b.encode()
    return u32(len(b)) + b


def text(s):
    b = s.encode()
    return u16(len(b)) + b


seeded = set()


def frame(op, body=b"", rid=1):
    seeded.add(op)
    return struct.pack("<IIHH", len(body), rid, OPS[op], 0) + body


# ---- fuzz-daemon records ----

FEED, FEED_AND_TURN, RECONNECT, RECONNECT_NO_HELLO, FIRE_TIMERS = 0, 4, 5, 6, 7


SOCKET, PAUSE, RELOAD = 1 << 5, 1 << 6, 1 << 7


def feed(slot, *frames, turn=False, pause=False):
    data = b"".join(frames)
    assert len(data) <= 0xffff
    return u8(slot | (FEED_AND_TURN if turn else FEED) << 2 | (PAUSE if pause else 0)) + u16(len(data)) + data


def reconnect(slot, hello=True, socket=False):
    return u8(slot | (RECONNECT if hello else RECONNECT_NO_HELLO) << 2 | (SOCKET if socket else 0))


def fire_timers(reload=False):
    return u8(FIRE_TIMERS << 2 | (RELOAD if reload else 0))


FOREVER = -1


def daemon_seeds():
    s = {}
    s["session"] = (
        feed(0, frame("PING", blob(b"hello")), frame("HELLO", u32(1) + text("again")),
             frame("HELLO", u32(99) + text("future")))
        + feed(0, struct.pack("<IIHH", 0, 7, 999, 0))            # unknown opcode
        + reconnect(1, hello=False)
        + feed(1, frame("PING", blob(b"")), frame("QUEUE_DECLARE", name("q") + u64(0) + u32(0)))
        + feed(1, frame("HELLO", u32(1) + text("late")), frame("QUEUE_DECLARE", name("q") + u64(0) + u32(0)))
        + feed(2, struct.pack("<IIHH", 0x7fffffff, 1, OPS["PING"], 0)))   # over max_frame: closes
    s["admin"] = (
        feed(0, frame("QUEUE_DECLARE", name("jobs") + u64(10) + u32(0)),
             frame("DICT_DECLARE", name("conf")), frame("SEM_DECLARE", name("lock") + u64(1) + u64(1) + u32(1)))
        + feed(1, frame("LIST", u64(0) + u32(10) + u8(0)), frame("LIST", u64(1) + u32(1) + u8(1)),
               frame("INFO", name("jobs")), frame("INFO", name("none")), frame("STATS"),
               frame("CLIENTS", u64(0) + u32(10)), frame("USERS", u64(0) + u32(0)), frame("USERS", u64(1002) + u32(1)),
               frame("DELETE", name("conf")), frame("DELETE", name("conf"))))
    # Slot 0 is a superuser; slots 1 and 2 are user 1001 of group 1000, slot 3 user 1003 of group 1003.
    s["permissions"] = (
        feed(0, frame("QUEUE_DECLARE", name("mine") + u64(0) + u32(0)),
             frame("CHOWN", name("mine") + u32(0xffffffff) + u32(1000)),
             frame("CHMOD", name("mine") + u16(0o620)),
             frame("DICT_DECLARE", name("shared")),
             frame("CHOWN", name("shared") + u32(1001) + u32(1000)))
        + feed(1, frame("QUEUE_PUT", name("mine") + i64(0) + blob("x")),
               frame("QUEUE_GET", name("mine") + i64(0) + u32(0)),
               frame("CHMOD", name("shared") + u16(0o600)),
               frame("DICT_SET", name("shared") + blob("k") + blob("v")),
               frame("CHOWN", name("shared") + u32(0xffffffff) + u32(1003)))
        + feed(3, frame("QUEUE_PUT", name("mine") + i64(0) + blob("y")),
               frame("DICT_GET", name("shared") + blob("k")),
               frame("CHMOD", name("shared") + u16(0o777)),
               frame("DELETE", name("shared")),
               frame("LIST", u64(0) + u32(10) + u8(0)))
        + feed(2, frame("QUEUE_DECLARE", name("theirs") + u64(0) + u32(0)),
               frame("INFO", name("shared")), frame("CHOWN", name("theirs") + u32(1003) + u32(0xffffffff))))
    # The harness's limits: max_message 1 KiB, 16 objects (8 per user), 64 KiB per user and
    # 96 KiB in all, 8 waiters per client and 12 per user, 64 KiB of unread output.
    big = 4095
    s["limits"] = (
        feed(3, frame("LIST_DECLARE", name("l3")),
             frame("LIST_EXTEND", name("l3") + u32(3) + blob(b"z" * 1000) + blob(b"y" * 1000) + blob(b"x" * 24)),
             frame("LIST_APPEND", name("l3") + blob(b"w" * 1025)),
             *[frame("LIST_SLICE", name("l3") + i64(0) + i64(3)) for _ in range(40)])
        + feed(3, frame("DELETE", name("l3")))
        + feed(1, *[frame("ARRAY_DECLARE", name(f"big{i}") + u8(ord("d")) + u32(big) + u32(0) + blob(b""))
                  for i in range(3)],
             frame("STATS"))
        + feed(3, *[frame("ARRAY_DECLARE", name(f"other{i}") + u8(ord("Q")) + u32(big) + u32(0) + blob(b""))
                    for i in range(2)])
        + feed(2, frame("EVENT_DECLARE", name("never")),
               *[frame("EVENT_WAIT", name("never") + i64(FOREVER), rid=i) for i in range(10)])
        + feed(1, *[frame("EVENT_WAIT", name("never") + i64(FOREVER), rid=i) for i in range(6)])
        + feed(0, *[frame("QUEUE_DECLARE", name(f"q{i}") + u64(0) + u32(0)) for i in range(12)]))
    # Clients over socketpairs: descriptors passed with replies, replies left unread.
    s["sockets"] = (
        reconnect(0, socket=True) + reconnect(1, hello=False, socket=True)
        + feed(0, frame("ARRAY_DECLARE", name("m") + u8(ord("q")) + u32(128) + u32(0) + blob(b"")),
               frame("ARRAY_MAP", name("m")), frame("PIPE_OPEN", name("p") + u8(0) + i64(FOREVER)))
        + feed(1, frame("HELLO", u32(1) + text("socket")), frame("PIPE_OPEN", name("p") + u8(0) + i64(FOREVER)))
        + feed(2, frame("PIPE_OPEN", name("p") + u8(1) + i64(FOREVER)))
        + feed(1, frame("PIPE_OPEN", name("p") + u8(2) + i64(0)), frame("ARRAY_MAP", name("m")))
        + feed(0, frame("LIST_DECLARE", name("big")),
               frame("LIST_EXTEND", name("big") + u32(2) + blob(b"a" * 1000) + blob(b"b" * 1000)),
               *[frame("LIST_SLICE", name("big") + i64(0) + i64(2)) for _ in range(8)],
               frame("ARRAY_MAP", name("m")), pause=True)
        + feed(0, *[frame("LIST_SLICE", name("big") + i64(0) + i64(2)) for _ in range(10)], pause=True)
        + feed(0, frame("PING", blob(b"read again")))
        + reconnect(0, socket=True)
        + feed(0, frame("QUEUE_DECLARE", name("sq") + u64(0) + u32(1)), frame("QUEUE_PUT", name("sq") + i64(0) + blob(b"x")),
               frame("QUEUE_GET", name("sq") + i64(0) + u32(0)), pause=True)
        + reconnect(0, socket=True))
    # Durable objects of every type, changed by every request that records something.
    D = 1 << 31
    s["durable"] = (
        feed(0, frame("QUEUE_DECLARE", name("dq") + u64(0) + u32(D)),
             frame("QUEUE_PUT_MANY", name("dq") + i64(0) + u32(3) + blob("a") + blob("b") + blob("c")),
             frame("QUEUE_GET", name("dq") + i64(0) + u32(0)),
             frame("QUEUE_DECLARE", name("dj") + u64(4) + u32(D | 1)),
             frame("QUEUE_PUT", name("dj") + i64(0) + blob("job")), frame("QUEUE_PUT", name("dj") + i64(0) + blob("job2")),
             frame("QUEUE_GET", name("dj") + i64(0) + u32(0)), frame("QUEUE_TASK_DONE", name("dj") + u64(0)),
             frame("QUEUE_GET", name("dj") + i64(0) + u32(0)),
             frame("DICT_DECLARE", name("dd") + u32(D)),
             frame("DICT_SET", name("dd") + blob("k") + blob("v")),
             frame("DICT_UPDATE", name("dd") + u32(2) + blob("a") + blob("1") + blob("b") + blob("2")),
             frame("DICT_INCR", name("dd") + blob("n") + i64(3)), frame("DICT_POP", name("dd") + blob("a")),
             frame("DICT_CAS", name("dd") + blob("k") + u8(1) + blob("v") + u8(1) + blob("w")),
             frame("DICT_SETDEFAULT", name("dd") + blob("s") + blob("x")), frame("DICT_DEL", name("dd") + blob("b")),
             frame("LIST_DECLARE", name("dl") + u32(D)),
             frame("LIST_EXTEND", name("dl") + u32(3) + blob("x") + blob("y") + blob("z")),
             frame("LIST_INSERT", name("dl") + i64(1) + blob("i")), frame("LIST_SET", name("dl") + i64(-1) + blob("Z")),
             frame("LIST_POP", name("dl") + i64(0)), frame("LIST_REMOVE", name("dl") + blob("y")),
             frame("SEM_DECLARE", name("ds") + u64(2) + u64(2) + u32(D | 1)),
             frame("SEM_ACQUIRE", name("ds") + i64(0)),
             frame("ARRAY_DECLARE", name("da") + u8(ord("i")) + u32(4) + u32(D) + blob(b"")),
             frame("ARRAY_SET", name("da") + u8(ord("i")) + i64(1) + blob(struct.pack("<2i", 7, 8))),
             frame("ARRAY_ADD", name("da") + u8(ord("i")) + i64(0) + blob(struct.pack("<i", 5))),
             frame("ARRAY_CAS", name("da") + u8(ord("i")) + i64(3) + blob(struct.pack("<i", 0)) + blob(struct.pack("<i", 9))),
             frame("ARRAY_DECLARE", name("dv") + u8(ord("d")) + u32(1) + u32(D | 1) + blob(struct.pack("<d", 1.5))),
             frame("CHMOD", name("dd") + u16(0o666)), frame("CHOWN", name("dl") + u32(1001) + u32(1000)),
             frame("DICT_DECLARE", name("gone") + u32(D)), frame("DELETE", name("gone")),
             frame("QUEUE_DECLARE", name("plain") + u64(0) + u32(0)))
        + feed(1, frame("QUEUE_GET", name("dj") + i64(0) + u32(0)), frame("LIST_APPEND", name("dl") + blob("mine")),
               frame("SEM_ACQUIRE", name("ds") + i64(0)))
        + reconnect(1)          # its joinable delivery comes back, its semaphore unit is given back
        + feed(0, frame("DICT_CLEAR", name("dd")), frame("QUEUE_CLOSE", name("dq")), frame("LIST_CLEAR", name("dl"))))
    # A reload to tighter limits with everything in place, and back.
    s["reload"] = (
        feed(1, frame("DICT_DECLARE", name("d1")), frame("DICT_SET", name("d1") + blob("k") + blob(b"v" * 600)),
             frame("QUEUE_DECLARE", name("q1") + u64(0) + u32(0)), frame("LIST_DECLARE", name("l1")),
             *[frame("QUEUE_GET", name("q1") + i64(FOREVER) + u32(0), rid=i) for i in range(5)])
        + fire_timers(reload=True)
        + feed(1, frame("DICT_SET", name("d1") + blob("k2") + blob(b"w" * 300)), frame("LIST_APPEND", name("l1") + blob("x")),
               frame("QUEUE_GET", name("q1") + i64(FOREVER) + u32(0)), frame("EVENT_DECLARE", name("e1")))
        + feed(2, frame("QUEUE_PUT", name("q1") + i64(0) + blob("served")))
        + fire_timers(reload=True)
        + feed(1, frame("EVENT_DECLARE", name("e1")), frame("DICT_SET", name("d1") + blob("k2") + blob(b"w" * 300))))
    s["queue"] = feed(0,
        frame("QUEUE_DECLARE", name("q") + u64(0) + u32(0)),
        frame("QUEUE_PUT", name("q") + i64(0) + blob("one")),
        frame("QUEUE_PUT_MANY", name("q") + i64(0) + u32(3) + blob("a") + blob("b") + blob("")),
        frame("QUEUE_PEEK", name("q") + u32(2)),
        frame("QUEUE_QSIZE", name("q")),
        frame("QUEUE_GET", name("q") + i64(0) + u32(0)),
        frame("QUEUE_GET_MANY", name("q") + i64(0) + u32(0) + u32(2)),
        frame("QUEUE_PURGE", name("q")),
        frame("QUEUE_CLOSE", name("q")),
        frame("QUEUE_GET", name("q") + i64(FOREVER) + u32(0)),
        frame("QUEUE_PUT", name("q") + i64(0) + blob("late")))
    s["queue-joinable"] = (
        feed(0, frame("QUEUE_DECLARE", name("jq") + u64(2) + u32(1)),
             frame("QUEUE_PUT_MANY", name("jq") + i64(0) + u32(2) + blob("x") + blob("y")),
             frame("QUEUE_GET", name("jq") + i64(0) + u32(0)),
             frame("QUEUE_GET", name("jq") + i64(0) + u32(1)),
             frame("QUEUE_TASK_DONE", name("jq") + u64(1)),
             frame("QUEUE_TASK_DONE", name("jq") + u64(0)))
        + feed(1, frame("QUEUE_JOIN", name("jq") + i64(FOREVER)), frame("QUEUE_GET", name("jq") + i64(0) + u32(0)))
        + reconnect(0)          # redelivers what slot 0 took and did not finish
        + feed(2, frame("QUEUE_GET_MANY", name("jq") + i64(0) + u32(0) + u32(5)),
               frame("QUEUE_TASK_DONE", name("jq") + u64(0)), frame("QUEUE_TASK_DONE", name("jq") + u64(0)))
        + reconnect(2)
        # a consumer's step in one request: finish, then take (parked until the put)
        + feed(1, frame("QUEUE_PUT", name("jq") + i64(0) + blob("z")), frame("QUEUE_GET", name("jq") + i64(0) + u32(0)),
               frame("QUEUE_DONE_GET", name("jq") + u64(0) + i64(FOREVER) + u32(0), rid=4),
               frame("QUEUE_DONE_GET", name("jq") + u64(99) + i64(0) + u32(0) + u32(5)))
        + feed(2, frame("QUEUE_PUT", name("jq") + i64(0) + blob("w"))))
    # Leases: a detached delivery of a queue with a 1 ms TTR, touched, then given back by its timer.
    s["queue-lease"] = (
        feed(0, frame("QUEUE_DECLARE", name("lq") + u64(0) + u32(1) + u32(1)),
             frame("QUEUE_PUT", name("lq") + i64(0) + blob("job")),
             frame("QUEUE_GET", name("lq") + i64(0) + u32(1)),
             frame("QUEUE_TOUCH", name("lq") + u64(1)),
             frame("QUEUE_JOIN", name("lq") + i64(FOREVER)))
        + fire_timers()
        + feed(0, frame("QUEUE_GET", name("lq") + i64(FOREVER) + u32(0)), frame("QUEUE_TASK_DONE", name("lq") + u64(1)),
               frame("QUEUE_TOUCH", name("lq") + u64(2)), frame("QUEUE_TASK_DONE", name("lq") + u64(2))))
    s["queue-blocking"] = (
        feed(0, frame("QUEUE_DECLARE", name("b") + u64(1) + u32(0)),
             frame("QUEUE_GET", name("b") + i64(FOREVER) + u32(0), rid=2),
             frame("QUEUE_GET_MANY", name("b") + i64(60000) + u32(0) + u32(3), rid=3))
        + feed(1, frame("QUEUE_PUT", name("b") + i64(0) + blob("for slot 0")),
               frame("QUEUE_PUT", name("b") + i64(0) + blob("x")),
               frame("QUEUE_PUT", name("b") + i64(0) + blob("full")),
               frame("QUEUE_PUT", name("b") + i64(60000) + blob("waits")),
               frame("QUEUE_PUT_MANY", name("b") + i64(FOREVER) + u32(2) + blob("m") + blob("n")))
        + fire_timers()
        + feed(2, frame("QUEUE_GET", name("b") + i64(0) + u32(0)), frame("QUEUE_GET_MANY", name("b") + i64(0) + u32(0) + u32(10)))
        + feed(0, frame("DELETE", name("b"))))
    s["dict"] = feed(0,
        frame("DICT_DECLARE", name("d")),
        frame("DICT_SET", name("d") + blob("k") + blob("v")),
        frame("DICT_GET", name("d") + blob("k")),
        frame("DICT_CONTAINS", name("d") + blob("k")),
        frame("DICT_LEN", name("d")),
        frame("DICT_UPDATE", name("d") + u32(2) + blob("a") + blob("1") + blob("b") + blob("2")),
        frame("DICT_ITEMS", name("d") + u64(0) + u32(10) + u8(3)),
        frame("DICT_ITEMS", name("d") + u64(1) + u32(1) + u8(1)),
        frame("DICT_INCR", name("d") + blob("n") + i64(5)),
        frame("DICT_INCR", name("d") + blob("n") + i64(-(1 << 63))),
        frame("DICT_SETDEFAULT", name("d") + blob("s") + blob("dflt")),
        frame("DICT_CAS", name("d") + blob("k") + u8(1) + blob("v") + u8(1) + blob("w")),
        frame("DICT_CAS", name("d") + blob("z") + u8(0) + blob("") + u8(1) + blob("new")),
        frame("DICT_POP", name("d") + blob("a")),
        frame("DICT_POPITEM", name("d")),
        frame("DICT_DEL", name("d") + blob("b")),
        frame("DICT_CLEAR", name("d")),
        frame("DICT_POPITEM", name("d")))
    s["list"] = feed(0,
        frame("LIST_DECLARE", name("l")),
        frame("LIST_APPEND", name("l") + blob("a")),
        frame("LIST_EXTEND", name("l") + u32(3) + blob("b") + blob("c") + blob("b")),
        frame("LIST_GET", name("l") + i64(-1)),
        frame("LIST_SET", name("l") + i64(0) + blob("A")),
        frame("LIST_INSERT", name("l") + i64(-100) + blob("first")),
        frame("LIST_POP", name("l") + i64(1)),
        frame("LIST_REMOVE", name("l") + blob("b")),
        frame("LIST_INDEX", name("l") + blob("c")),
        frame("LIST_LEN", name("l")),
        frame("LIST_SLICE", name("l") + i64(0) + i64(1 << 62)),
        frame("LIST_SLICE", name("l") + i64(-2) + i64(-1)),
        frame("LIST_SLICE", name("l") + i64(0) + i64(1 << 62) + u32(1)),
        frame("LIST_SPLICE", name("l") + i64(1) + i64(2) + u64(0) + u32(2) + blob("x") + blob("yy")),
        frame("LIST_SPLICE", name("l") + i64(0) + i64(1 << 62) + u64(12345) + u32(0)),
        frame("LIST_SPLICE", name("l") + i64(-1) + i64(-5) + u64(0) + u32(1) + blob("z")),
        frame("LIST_CLEAR", name("l")))
    s["sem"] = (
        feed(0, frame("SEM_DECLARE", name("s") + u64(1) + u64(2) + u32(1)),
             frame("SEM_ACQUIRE", name("s") + i64(0)),
             frame("SEM_VALUE", name("s")),
             frame("SEM_DECLARE", name("nu") + u64(0) + u64(0) + u32(2)))
        + feed(1, frame("SEM_ACQUIRE", name("s") + i64(FOREVER)), frame("SEM_ACQUIRE", name("nu") + i64(5000)))
        + feed(0, frame("SEM_RELEASE", name("s")), frame("SEM_RELEASE", name("s")), frame("SEM_RELEASE", name("s")))
        + fire_timers()
        + reconnect(1)          # gives back the unit slot 1 held
        + feed(2, frame("SEM_VALUE", name("s")), frame("SEM_RELEASE", name("nu"))))
    s["event"] = (
        feed(0, frame("EVENT_DECLARE", name("e")), frame("EVENT_IS_SET", name("e")))
        + feed(1, frame("EVENT_WAIT", name("e") + i64(FOREVER)), frame("EVENT_WAIT", name("e") + i64(10)))
        + feed(0, frame("EVENT_SET", name("e")), frame("EVENT_WAIT", name("e") + i64(0)),
               frame("EVENT_CLEAR", name("e")))
        + feed(1, frame("EVENT_WAIT", name("e") + i64(10)))
        + fire_timers())
    s["barrier"] = (
        feed(0, frame("BARRIER_DECLARE", name("br") + u32(2)), frame("BARRIER_WAIT", name("br") + i64(FOREVER)))
        + feed(1, frame("BARRIER_WAIT", name("br") + i64(FOREVER)))
        + feed(2, frame("BARRIER_WAIT", name("br") + i64(100)))
        + fire_timers()
        + feed(0, frame("BARRIER_WAIT", name("br") + i64(0)), frame("BARRIER_RESET", name("br")),
               frame("BARRIER_WAIT", name("br") + i64(FOREVER)))
        + feed(1, frame("BARRIER_ABORT", name("br"))))
    # A barrier with an action and a timeout of its own: the last party holds the round, others
    # queue for the next one; PASS from the holder and from another, the holder lost, a stale PASS.
    s["barrier-action"] = (
        feed(0, frame("BARRIER_DECLARE", name("ba") + u32(2) + u32(1) + i64(50)),
             frame("BARRIER_DECLARE", name("ba") + u32(2) + u32(0)),
             frame("BARRIER_DECLARE", name("bt") + u32(2) + u32(0) + i64(-(1 << 63))),
             frame("BARRIER_WAIT", name("ba") + i64(-(1 << 63))))
        + feed(1, frame("BARRIER_WAIT", name("ba") + i64(FOREVER)))
        + feed(2, frame("BARRIER_WAIT", name("ba") + i64(FOREVER)), frame("BARRIER_PASS", name("ba")))
        + feed(1, frame("BARRIER_PASS", name("ba")), frame("BARRIER_WAIT", name("ba") + i64(FOREVER)))
        + feed(2, frame("BARRIER_WAIT", name("ba") + i64(0)))
        + reconnect(2)
        + fire_timers()
        + feed(0, frame("BARRIER_RESET", name("ba")), frame("BARRIER_PASS", name("ba"))))
    # Every type code: ADD, CAS and INFO format each kind of element.
    sizes = {"b": 1, "B": 1, "h": 2, "H": 2, "i": 4, "I": 4, "l": 8, "L": 8, "q": 8, "Q": 8, "f": 4, "d": 8, "c": 1}
    s["array-types"] = feed(0, *[f for code in sizes for f in (
        frame("ARRAY_DECLARE", name("t" + code) + u8(ord(code)) + u32(2) + u32(0) + blob(b"")),
        frame("ARRAY_ADD", name("t" + code) + u8(ord(code)) + i64(1) + blob(b"\x01" * sizes[code])),
        frame("ARRAY_CAS", name("t" + code) + u8(ord(code)) + i64(0) + blob(b"\x00" * sizes[code])
              + blob(b"\x41" * sizes[code])),
        frame("INFO", name("t" + code)),
        frame("DELETE", name("t" + code)))])
    s["array"] = feed(0,
        frame("ARRAY_DECLARE", name("a") + u8(ord("i")) + u32(4) + u32(0) + blob(struct.pack("<4i", 1, 2, 3, 4))),
        frame("ARRAY_DECLARE", name("v") + u8(ord("d")) + u32(1) + u32(1) + blob(b"")),
        frame("ARRAY_DECLARE", name("c") + u8(ord("c")) + u32(5) + u32(0) + blob(b"Hello")),
        frame("ARRAY_GET", name("a") + u8(ord("i")) + i64(-2) + u32(2)),
        frame("ARRAY_SET", name("a") + u8(ord("i")) + i64(1) + blob(struct.pack("<2i", 7, 8))),
        frame("ARRAY_ADD", name("a") + u8(ord("i")) + i64(0) + blob(struct.pack("<i", 0x7fffffff))),
        frame("ARRAY_ADD", name("v") + u8(ord("d")) + i64(0) + blob(struct.pack("<d", 1.5))),
        frame("ARRAY_CAS", name("a") + u8(ord("i")) + i64(3) + blob(struct.pack("<i", 4)) + blob(struct.pack("<i", 5))),
        frame("ARRAY_GET", name("c") + u8(ord("b")) + i64(0) + u32(1)),
        frame("ARRAY_MAP", name("a")),
        frame("ARRAY_MAP", name("v")))
    s["pipe"] = (
        feed(0, frame("PIPE_OPEN", name("p") + u8(0) + i64(FOREVER)))
        + feed(1, frame("PIPE_OPEN", name("p") + u8(0) + i64(FOREVER)))
        + feed(2, frame("PIPE_OPEN", name("rw") + u8(1) + i64(1000)))
        + feed(3, frame("PIPE_OPEN", name("rw") + u8(2) + i64(0)), frame("PIPE_OPEN", name("rw") + u8(2) + i64(1000)))
        + fire_timers()
        + feed(0, frame("PIPE_OPEN", name("p") + u8(0) + i64(FOREVER)), frame("INFO", name("p")))
        + reconnect(0))
    # The daemon harness turns these into unknown opcodes: it never starts processes.
    s["pool"] = feed(0,
        frame("POOL_START", name("w") + u32(1) + u8(2) + u16(1) + text("true")),
        frame("POOL_SCALE", name("w") + u32(2)),
        frame("POOL_SIGNAL", name("w") + u32(15)),
        frame("POOL_STOP", name("w") + i64(100)))
    # CANCEL of parked requests of every kind, of an id already answered, of one never
    # sent, malformed; slot 1 parks a GET with the same id as slot 0's, which it keeps.
    s["cancel"] = (
        feed(0, frame("QUEUE_DECLARE", name("cq") + u64(1) + u32(1)),
             frame("SEM_DECLARE", name("cs") + u64(0) + u64(1) + u32(0)),
             frame("BARRIER_DECLARE", name("cb") + u32(3)), frame("EVENT_DECLARE", name("ce")),
             frame("QUEUE_GET", name("cq") + i64(FOREVER) + u32(0), rid=5),
             frame("SEM_ACQUIRE", name("cs") + i64(FOREVER), rid=6),
             frame("BARRIER_WAIT", name("cb") + i64(FOREVER), rid=7))
        + feed(1, frame("QUEUE_GET", name("cq") + i64(FOREVER) + u32(0), rid=5),
               frame("BARRIER_WAIT", name("cb") + i64(FOREVER), rid=7))
        + feed(0, frame("CANCEL", u32(5), rid=20), frame("CANCEL", u32(7), rid=21),
               frame("QUEUE_PUT", name("cq") + i64(0) + blob("x"), rid=8),
               frame("QUEUE_PUT", name("cq") + i64(FOREVER) + blob("y"), rid=9),
               frame("QUEUE_JOIN", name("cq") + i64(FOREVER), rid=10),
               frame("EVENT_WAIT", name("ce") + i64(60000), rid=11),
               frame("PIPE_OPEN", name("cp") + u8(1) + i64(FOREVER), rid=12),
               frame("CANCEL", u32(9), rid=22), frame("CANCEL", u32(10), rid=23), frame("CANCEL", u32(11), rid=24),
               frame("CANCEL", u32(12), rid=25), frame("CANCEL", u32(6), rid=26), frame("CANCEL", u32(8), rid=27),
               frame("CANCEL", u32(99), rid=28), frame("CANCEL", u32(5) + u8(0), rid=29), frame("CANCEL", rid=30))
        + feed(2, frame("BARRIER_WAIT", name("cb") + i64(FOREVER)), frame("SEM_RELEASE", name("cs")))
        + reconnect(1))
    # Counted objects: references held, in transit, taken over, a lease run out; the last
    # reference ended by UNREF, by a connection lost and by DELETE; malformed bodies.
    s["ref"] = (
        feed(0, frame("QUEUE_DECLARE", name("rq") + u64(0) + u32(1 << 30)),
             frame("EVENT_DECLARE", name("re") + u32(1 << 30)),
             frame("BARRIER_DECLARE", name("rb") + u32(2) + u32(1 << 30)),
             frame("DICT_DECLARE", name("rd") + u32((1 << 30) | (1 << 31))),
             frame("REF", name("rq") + u32(0)), frame("REF", name("rq") + u32(5)),
             frame("REF", name("re") + u32(86400001)), frame("REF", name("rq")),
             frame("QUEUE_GET", name("re") + i64(FOREVER) + u32(0)))
        + feed(1, frame("QUEUE_GET", name("rq") + i64(FOREVER) + u32(0)),
               frame("REF", name("re") + u32(0)), frame("UNREF", name("rq") + u64(2)),
               frame("UNREF", name("rq") + u64(99)), frame("UNREF", name("rq") + u64(0)))
        + fire_timers()
        + feed(0, frame("UNREF", name("rq") + u64(0)), frame("UNREF", name("rq") + u64(0)),
               frame("DELETE", name("rb")), frame("UNREF", name("re") + u32(0)))
        + reconnect(1))
    # Frames split across reads, and several objects of one name.
    whole = frame("QUEUE_DECLARE", name("split") + u64(0) + u32(0)) + frame("QUEUE_PUT", name("split") + i64(0) + blob("x" * 40))
    s["split-frames"] = (
        feed(0, whole[:5]) + feed(0, whole[5:30]) + feed(0, whole[30:], turn=True)
        + feed(1, frame("DICT_DECLARE", name("split")), frame("QUEUE_GET", name("split") + i64(0) + u32(0))))
    return s


# ---- fuzz-wire inputs: a reader program, then the body it reads ----

U8, U16, U32, U64, I64, NAME, BYTES, STR = range(8)


def program(readers, body):
    return u8(len(readers)) + bytes(readers) + body


def fields(items):
    out = u16(len(items))
    for key, value in items:
        out += u8(len(key)) + key.encode()
        if isinstance(value, int):
            out += u8(0) + i64(value)
        else:
            out += u8(1) + text(value)
    return out


def wire_seeds():
    s = {}
    s["hello"] = program([U32, STR], u32(1) + text("client"))
    s["put"] = program([NAME, I64, BYTES], name("jobs") + i64(-1) + blob("payload"))
    s["put-many"] = program([NAME, I64, U32, BYTES, BYTES], name("q") + i64(0) + u32(2) + blob("a") + blob("bc"))
    s["get-many"] = program([NAME, I64, U32, U32], name("q") + i64(1000) + u32(1) + u32(16))
    s["declare"] = program([NAME, U64, U32], name("a.b:c/d@e-f_") + u64(1 << 40) + u32(1))
    s["dict-cas"] = program([NAME, BYTES, U8, BYTES, U8, BYTES],
                            name("d") + blob("k") + u8(1) + blob("old") + u8(1) + blob("new"))
    s["array-set"] = program([NAME, U8, I64, BYTES], name("arr") + u8(ord("d")) + i64(-1) + blob(struct.pack("<d", 2.5)))
    s["pool-start"] = program([NAME, U32, U8, U16, STR, STR],
                              name("pool") + u32(4) + u8(0) + u16(2) + text("/bin/echo") + text("hi"))
    s["chown"] = program([NAME, U32, U32], name("obj") + u32(1000) + u32(0xffffffff))
    s["chmod"] = program([NAME, U16], name("obj") + u16(0o640))
    s["bad-name"] = program([NAME, NAME], name("ok") + u8(3) + b"a b")
    s["short"] = program([U64, BYTES], u32(7) + b"\x05\x00\x00\x00ab")
    s["fields"] = fields([("size", 3), ("type", "queue"), ("min", -(1 << 63)), ("empty", "")])
    s["fields-bad-kind"] = u16(1) + u8(1) + b"k" + u8(2) + i64(0)
    s["cancel"] = program([U32], u32(7))
    s["ref"] = program([NAME, U32], name("r") + u32(60000))
    s["unref"] = program([NAME, U64], name("r") + u64(2))
    s["frames"] = frame("PING", blob(b"ping"), rid=9) + frame("STATS", rid=10) + struct.pack("<IIHH", 100, 1, 2, 0)
    return s


# ---- fuzz-journal inputs: a layout byte, then records (u32 length, u16 kind, body) ----

J_HEADER, J_CREATE, J_DELETE, J_OWNER = 1, 2, 3, 4
J_QUEUE_PUT, J_QUEUE_REMOVE, J_QUEUE_CLOSE, J_QUEUE_DELIVERED = 10, 11, 12, 13
J_DICT_SET, J_DICT_DEL, J_DICT_CLEAR = 20, 21, 22
J_LIST_INSERT, J_LIST_SET, J_LIST_DEL, J_LIST_CLEAR = 30, 31, 32, 33
J_SEM_VALUE, J_ARRAY_SET, J_ARRAY_IMAGE = 40, 50, 51
BAD_CRC, NEXT_FILE = 1 << 31, 1 << 30
TYPES = {"queue": 1, "joinable": 2, "dict": 3, "list": 4, "semaphore": 5, "value": 8, "array": 9}


def record(kind, body=b"", flags=0):
    return u32((2 + len(body)) | flags) + u16(kind) + body


def jheader(segment, flags=0):
    return record(J_HEADER, text("mpx-journal") + u32(1) + u64(segment), flags)


def jcreate(obj, type_name, a=0, b=0, flags=0):
    return record(J_CREATE, name(obj) + u8(TYPES[type_name]) + u64(a) + u64(b) + u32(flags))


def journal_seeds():
    s = {}
    s["every-type"] = u8(0) + jheader(1) + b"".join([
        jcreate("q", "queue", 10), record(J_QUEUE_PUT, name("q") + u64(1) + blob("one")),
        record(J_QUEUE_PUT, name("q") + u64(2) + blob("two")), record(J_QUEUE_REMOVE, name("q") + u64(1)),
        jcreate("jq", "joinable"), record(J_QUEUE_PUT, name("jq") + u64(7) + blob("job")),
        record(J_QUEUE_DELIVERED, name("jq") + u64(7) + u32(2)), record(J_QUEUE_CLOSE, name("jq")),
        jcreate("d", "dict"), record(J_DICT_SET, name("d") + blob("k") + blob("v")),
        record(J_DICT_SET, name("d") + blob("k2") + blob("v2")), record(J_DICT_DEL, name("d") + blob("k")),
        jcreate("l", "list"), record(J_LIST_INSERT, name("l") + u64(0) + blob("a")),
        record(J_LIST_INSERT, name("l") + u64(1) + blob("b")), record(J_LIST_SET, name("l") + u64(0) + blob("A")),
        record(J_LIST_DEL, name("l") + u64(1)),
        jcreate("s", "semaphore", 2, 3, 1), record(J_SEM_VALUE, name("s") + u64(1)),
        jcreate("v", "value", ord("d"), 1, 1), record(J_ARRAY_IMAGE, name("v") + blob(struct.pack("<d", 2.5))),
        jcreate("a", "array", ord("i"), 4), record(J_ARRAY_SET, name("a") + u32(1) + blob(struct.pack("<2i", 5, 6))),
        record(J_OWNER, name("a") + u32(1000) + u32(1000) + u16(0o640)),
        jcreate("gone", "dict"), record(J_DELETE, name("gone")),
        record(J_DICT_CLEAR, name("d")), record(J_LIST_CLEAR, name("l"))])
    s["snapshot-and-segments"] = (
        u8(1) + jheader(1) + jcreate("q", "queue") + record(J_QUEUE_PUT, name("q") + u64(5) + blob("kept"))
        + jheader(2, NEXT_FILE) + record(J_QUEUE_PUT, name("q") + u64(4) + blob("covered"))
        + jheader(4, NEXT_FILE) + record(J_QUEUE_PUT, name("q") + u64(6) + blob("later"))
        + jcreate("d", "dict") + record(J_DICT_SET, name("d") + blob("x") + blob("1")))
    s["torn-and-corrupt"] = (
        u8(0) + jheader(1) + jcreate("l", "list") + record(J_LIST_INSERT, name("l") + u64(0) + blob("a"))
        + record(J_LIST_INSERT, name("l") + u64(1) + blob("bad crc"), BAD_CRC)
        + jheader(2, NEXT_FILE) + record(J_LIST_INSERT, name("l") + u64(5) + blob("out of range"))
        + record(J_CREATE, name("bad") + u8(99) + u64(0) + u64(0) + u32(0))
        + u32(100) + u16(J_DICT_SET) + b"torn")
    return s


# ---- fuzz-config inputs: configuration files ----

def config_seeds():
    s = {}
    with open(os.path.join(HERE, "..", "..", "conf", "mpxd.conf"), "rb") as f:
        s["shipped"] = f.read()
    s["every-object"] = b"""socket = { path = "/run/mpxd/test.sock"; mode = "0660"; };
log = { level = "debug"; };
limits = {
        max_message = 65536; max_clients = 10; max_objects = 100; max_memory = 1048576;
        max_output = 1048576; max_waiters_per_client = 10;
        per_user = { max_memory = 65536; max_objects = 10; max_clients = 2; max_waiters = 5; };
};
permissions = { default_mode = "0640"; };
objects = {
        queues = ( { name = "jobs"; maxsize = 1000; joinable = true; owner = "root"; mode = "0600"; },
                   { name = "events"; } );
        semaphores = ( { name = "cron-slots"; value = 3; }, { name = "db-lock"; value = 1; bounded = true; undo = false; } );
        dicts = ( "settings" );
        lists = ( "history" );
        events = ( "go" );
        barriers = ( { name = "start"; parties = 4; } );
        values = ( { name = "balance"; typecode = "i"; initial = 5000; }, { name = "pi"; typecode = "d"; initial = 3.14; } );
        arrays = ( { name = "greeting"; typecode = "c"; initial = "Hello"; },
                   { name = "samples"; typecode = "d"; length = 16; },
                   { name = "small"; typecode = "h"; initial = ( 1, -2, 3 ); length = 5; } );
};
"""
    s["durable"] = b"""durability = { directory = "/nonexistent/mpx"; sync = "everysec"; default = false; compact_size = 65536; };
objects = { queues = ( { name = "orders"; joinable = true; durable = true; } ); dicts = ( { name = "d"; durable = true; } ); };
"""
    s["errors"] = b"""limits = { max_clients = 0; max_message = "big"; unknown = 1; };
objects = { queues = ( { maxsize = -1; }, { name = "bad name"; } ); values = ( { name = "v"; typecode = "z"; } );
            arrays = ( { name = "a"; typecode = "i"; initial = ( 1, "x" ); } ); };
socket = { mode = "999"; group = "no-such-group-here"; };
"""
    return s


def write_all(folder, seeds):
    path = os.path.join(HERE, "corpus", folder)
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):
        os.unlink(os.path.join(path, old))
    for key, data in sorted(seeds.items()):
        with open(os.path.join(path, key), "wb") as f:
            f.write(data)
    print(f"{len(seeds)} seeds in {os.path.relpath(path)}")


def write_dict():
    """daemon.dict: every opcode as its two bytes, for libFuzzer's -dict=. The
    daemon finds a handler by indexing a table with the opcode, a lookup the
    fuzzer cannot learn from comparisons."""
    path = os.path.join(HERE, "daemon.dict")
    with open(path, "w") as f:
        f.write("# Opcodes of common/wire.h, little-endian; written by make-corpus.py.\n")
        for op, number in sorted(OPS.items(), key=lambda kv: kv[1]):
            f.write('%s="\\x%02x\\x%02x"\n' % (op.lower(), number & 0xff, number >> 8))
    print(f"{len(OPS)} opcodes in {os.path.relpath(path)}")


def main():
    write_dict()
    write_all("daemon", daemon_seeds())
    write_all("wire", wire_seeds())
    write_all("journal", journal_seeds())
    write_all("config", config_seeds())
    missing = sorted(set(OPS) - seeded)
    if missing:
        sys.exit("no seed for: " + ", ".join(missing))


main()
