#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Send the hex examples of docs/PROTOCOL.md, section 17, to a running mpxd and
compare its replies with the page, byte for byte.

    protocol-examples.py PROTOCOL.md MPXD [WORKER]

Each subsection (### 17.N) is a scenario run on a fresh daemon: 17.1 to 17.8
build on each other and run as one; from 17.9 on the page says each was
captured after a HELLO (id 1), which the runner sends first on every connection
whose first request is not a HELLO. Frames are read out of the code blocks
whatever their layout: annotated dumps (an offset, the bytes, then words),
`request:` and `reply:` lines with the bytes on them, and bare frames (a block
of them is the client's when it is the first of its subsection, the daemon's
otherwise). A block introduced as "a plain dump" repeats the one before it and
must hold the same bytes. In a reply, `..` stands for a byte that varies (a
time, a pid) and is not compared.

The page marks the rest of what the runner needs, and the runner checks it:

  connection B:         on a line of its own: the frames after it, in this block
                        and the next ones of the subsection, go on connection B
                        (a subsection starts on connection A). Before it sends
                        on another connection, the runner makes sure the daemon
                        has read what it sent so far (a PING round trip).
  connection C: closed  the daemon has closed connection C (end of file).
  request header:       a frame header sent alone (its body never comes).
  ancillary data: ... SCM_RIGHTS, one int
                        the reply above it carries one descriptor (every other
                        reply must carry none). A descriptor of ARRAY_MAP is
                        mapped, and `mapping: BYTES` says what it holds; the
                        two descriptors of the PIPE_OPEN replies of a
                        subsection must be the two ends of one channel (a
                        message written on each is read on the other).
  payload:              first line of a block of queue payloads, not frames:
                        each must be found in a frame the scenario sent or
                        received.
  ...                   a block that ends with it shows the start of a reply:
                        that start is compared, the rest is read and ignored.

A reply shown without its request fails its scenario: the page must show
what was sent. In POOL_START, an argv[0] `worker` stands for a worker program:
the runner puts WORKER (the test's pool-worker) in its place; any other argv[0]
must be an executable present on this system. After the last frame of a scenario, every connection
still open must have nothing more to read (a PING round trip).

Prints one line per scenario and exits 1 if any reply differs, or if a
subsection was not run or compared no reply.
"""
import mmap
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HEX = re.compile(r'^(?:[0-9a-f]{2}|\.\.)$')
CONNECTION = re.compile(r'^connection ([A-Z])\s*:\s*(.*)$')
NUMBERS = {'one': 1, 'two': 2, 'three': 3}
OP_POOL_START, OP_ARRAY_MAP, OP_PIPE_OPEN, OP_PING = 850, 705, 800, 2
SYNC_ID = 0x7ffffff0
PIPE_MESSAGE = struct.pack('<I', 5) + b'hello'


def hex_of(line):
    """The bytes a line shows: after an offset or a label, up to the words."""
    line = re.sub(r'^\s*(request header|request|reply)\s*:?\s*', '', line)
    if re.match(r'^\d+ bytes', line):
        return []
    line = re.sub(r"^\s*[0-9a-f]{4}  ", "", line)
    out = []
    for tok in re.split(r'\s+', re.split(r'\s{3,}', line.strip())[0]):
        if not HEX.match(tok):
            break
        out.append(tok)
    return out


def frames_of(tokens, partial=False, header_only=False):
    """Split a run of byte tokens into frames by their body_len."""
    if header_only:
        if len(tokens) != 12:
            raise ValueError('a request header is 12 bytes, not %d' % len(tokens))
        return [tokens]
    frames = []
    while len(tokens) >= 12:
        body_len = int(''.join(reversed(tokens[0:4])), 16)
        if partial and len(tokens) < 12 + body_len:
            break
        frames.append(tokens[:12 + body_len])
        tokens = tokens[12 + body_len:]
    if partial and tokens:
        frames.append(tokens)
    elif tokens:
        raise ValueError('%d bytes left over after the frames' % len(tokens))
    return frames


def section(path):
    text = open(path, encoding='utf-8').read()
    sect = text[text.index('\n## 17.'):]
    return sect[:sect.index('\n## 18.')]


def parse(path):
    """{subsection: [step] or ValueError} for section 17."""
    sect = section(path)
    scenarios = {}
    for part in re.split(r'\n### ', sect)[1:]:
        number = part.split()[0]
        try:
            scenarios[number] = parse_scenario(number, part)
        except ValueError as e:
            scenarios[number] = e
    return scenarios


def step(kind, conn, frame=None, **extra):
    d = {'kind': kind, 'conn': conn, 'frame': frame, 'fds': 0, 'mapping': None}
    d.update(extra)
    return d


def parse_scenario(number, part):
    """
    The steps of one subsection, in order: dicts with a kind ('request',
    'header', 'reply', 'prefix', 'unpaired', 'closed' or 'payload'), the
    connection, the frame's byte tokens, the descriptors a reply carries and
    what a mapping holds.
    """
    steps, pending = [], []
    previous = None
    conn = 'A'
    for m in re.finditer(r'(?:(.*?)\n)?```(\w*)\n(.*?)```', part, re.S):
        lead, lang, block = m.group(1) or '', m.group(2), m.group(3)
        if lang:
            continue            # code in a language, not a dump
        lines = block.rstrip('\n').split('\n')
        if lines and lines[0].strip().startswith('payload:'):
            toks = [t for line in lines[1:] for t in hex_of(line)]
            steps.append(step('payload', conn, toks))
            continue
        partial = lines[-1].strip() == '...'
        first_block = not [s for s in steps if s['kind'] != 'payload']
        runs, label = [], None      # [label, connection, tokens]
        block_steps = []
        for line in lines:
            s = line.strip()
            c = CONNECTION.match(s)
            if c:
                conn, label = c.group(1), None
                if c.group(2).startswith('closed'):
                    runs.append(['closed', conn, []])
                continue
            lab = re.match(r'^(request header|request|reply)\b', s)
            if lab and (lab.group(1) != label or not runs or runs[-1][1] != conn):
                label = lab.group(1)
                runs.append([label, conn, []])
            toks = hex_of(line)
            if toks and (not runs or runs[-1][1] != conn or runs[-1][0] == 'closed'):
                runs.append([None, conn, []])
            if toks:
                runs[-1][2].extend(toks)
            if 'SCM_RIGHTS' in s:
                n = re.search(r'SCM_RIGHTS, (\w+) int', s)
                runs.append(['fds', conn, NUMBERS.get(n.group(1), 0) if n else 0])
            mp = re.match(r'^mapping\b[^:]*:\s*(.*)$', s)
            if mp:
                runs.append(['mapping', conn, hex_of(mp.group(1))])
        if 'plain dump' in lead:
            # The same exchange again, as one line per frame.
            flat = [t for lab, _, toks in runs if lab not in ('fds', 'mapping', 'closed') for t in toks]
            if flat != [t for st in previous for t in st['frame'] or []]:
                raise ValueError('%s: the plain dump differs from the frames above it' % number)
            continue
        for i, (label, c, toks) in enumerate(runs):
            if label == 'fds' or label == 'mapping':
                replies = [st for st in block_steps if st['kind'] in ('reply', 'prefix')]
                if not replies:
                    raise ValueError('%s: ancillary data or a mapping without a reply above it' % number)
                replies[-1]['fds' if label == 'fds' else 'mapping'] = toks
                continue
            if label == 'closed':
                block_steps.append(step('closed', c))
                continue
            last_run = i == max(j for j, r in enumerate(runs) if r[0] not in ('fds', 'mapping', 'closed'))
            frames = frames_of(toks, partial and last_run, label == 'request header')
            for k, f in enumerate(frames):
                if label == 'request header':
                    kind = 'header'
                else:
                    followed = k + 1 < len(frames) and key(frames[k + 1]) == key(f)
                    kind = label or classify((c, key(f)), pending, first_block or followed)
                if kind in ('request', 'header'):
                    pending.append((c, key(f)))
                elif (c, key(f)) in pending:
                    pending.remove((c, key(f)))
                    if partial and last_run and k == len(frames) - 1:
                        kind = 'prefix'
                else:
                    # A reply shown without its request: nothing to send for it.
                    kind = 'unpaired'
                block_steps.append(step(kind, c, f))
        steps += block_steps
        previous = block_steps
    return steps


def key(frame):
    """A frame's id and opcode, which a reply shares with its request."""
    return tuple(frame[4:10])


def classify(k, pending, may_be_request):
    """
    A frame shown without a label: the reply of a request shown before it;
    else a request when it may be one (it is in the first block of its
    subsection, or its reply follows it), and otherwise a reply shown without
    its request.
    """
    return 'reply' if k in pending or not may_be_request else 'request'


def op_of(frame):
    return int(frame[9] + frame[8], 16)


def start(mpxd, folder):
    path = os.path.join(folder, 'mpxd.sock')
    proc = subprocess.Popen([mpxd, '-s', path, '-c', '/dev/null'], stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                s.close()
                return proc, path
            except OSError:
                s.close()
        if proc.poll() is not None:
            raise RuntimeError('mpxd exited with %d' % proc.returncode)
        time.sleep(0.01)
    raise RuntimeError('mpxd did not listen')


class Connection:
    """A connection to the daemon, with the frames read ahead of the page."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.backlog = []       # (frame, descriptors) read while syncing
        self.outstanding = 0    # requests sent whose reply the page has not shown yet
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n, fds):
        buf = b''
        while len(buf) < n:
            data, anc, _, _ = self.sock.recvmsg(n - len(buf), socket.CMSG_SPACE(4 * 16))
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    cdata = cdata[:len(cdata) - len(cdata) % 4]
                    fds.extend(struct.unpack('<%di' % (len(cdata) // 4), cdata))
            if not data:
                raise EOFError('the daemon closed the connection')
            buf += data
        return buf

    def read_frame(self):
        """(frame bytes, descriptors that came with it)."""
        if self.backlog:
            return self.backlog.pop(0)
        fds = []
        hdr = self.recv_exact(12, fds)
        body_len = struct.unpack('<I', hdr[:4])[0]
        return hdr + (self.recv_exact(body_len, fds) if body_len else b''), fds

    def sync(self):
        """A PING round trip: what was sent before it has been read by the daemon."""
        self.send(struct.pack('<IIHH', 4, SYNC_ID, OP_PING, 0) + b'sync')
        ahead = []
        while True:
            frame, fds = self.read_frame()
            if frame[4:10] == struct.pack('<IH', SYNC_ID, OP_PING):
                self.backlog = ahead + self.backlog
                return ahead
            ahead.append((frame, fds))

    def expect_eof(self):
        if self.backlog:
            raise RuntimeError('a frame came before the end of the connection')
        data = self.sock.recv(1)
        if data:
            raise RuntimeError('the connection is still open')
        self.closed = True

    def close(self):
        self.sock.close()


def matches(want, got):
    return len(want) == len(got) and all(w == '..' or int(w, 16) == g for w, g in zip(want, got))


def contains(frame, payload):
    n = len(payload)
    return any(matches(payload, frame[i:i + n]) for i in range(len(frame) - n + 1))


HELLO = bytes.fromhex('0a000000 01000000 0100 0000 01000000 0400 64656d6f'.replace(' ', ''))


def pool_start(frame, worker):
    """A POOL_START frame with argv[0] `worker` replaced by the worker program."""
    data = bytes(int(t, 16) for t in frame)
    body = data[12:]
    pos = 1 + body[0] + 4 + 1
    argc = struct.unpack_from('<H', body, pos)[0]
    pos += 2
    args = []
    for _ in range(argc):
        n = struct.unpack_from('<H', body, pos)[0]
        args.append(body[pos + 2:pos + 2 + n])
        pos += 2 + n
    if args[0] == b'worker':
        if not worker:
            raise RuntimeError('POOL_START runs `worker`: give the worker program as third argument')
        args[0] = worker.encode()
    elif not (args[0].startswith(b'/') and os.access(args[0], os.X_OK)):
        raise RuntimeError('POOL_START runs %r, which is not an executable here' % args[0].decode())
    head = body[:1 + body[0] + 4 + 1 + 2]
    body = head + b''.join(struct.pack('<H', len(a)) + a for a in args)
    return struct.pack('<I', len(body)) + data[4:12] + body


def run(mpxd, steps, hello_first, worker):
    """Run the steps of one scenario; None, or what went wrong. Also the number of replies compared."""
    exchanged = []      # the frames sent and received, for the payload blocks
    compared = 0
    received = []       # (step, frame, descriptors) of every reply compared
    with tempfile.TemporaryDirectory() as folder:
        proc, path = start(mpxd, folder)
        conns = {}
        last = None
        try:
            def connection(c):
                if c not in conns:
                    conns[c] = Connection(path)
                    first = next(st for st in steps if st['conn'] == c)
                    if hello_first and not (first['kind'] == 'request' and first['frame'][8:10] == ['01', '00']):
                        conns[c].send(HELLO)
                        frame, fds = conns[c].read_frame()
                        if frame[8:12] != b'\x01\x00\x00\x00' or fds:
                            raise RuntimeError('connection %s: HELLO answered %s' % (c, frame.hex(' ')))
                return conns[c]

            for st in steps:
                kind, c, frame = st['kind'], st['conn'], st['frame']
                if kind in ('unpaired', 'payload'):
                    continue
                conn = connection(c)
                if kind in ('request', 'header'):
                    if last is not None and last != c and conns[last].outstanding and not conns[last].closed:
                        conns[last].sync()
                    last = c
                    if kind == 'request' and op_of(frame) == OP_POOL_START:
                        data = pool_start(frame, worker)
                    else:
                        data = bytes(int(t, 16) for t in frame)
                    conn.send(data)
                    conn.outstanding += 1
                    exchanged.append(data)
                    continue
                if kind == 'closed':
                    conn.expect_eof()
                    continue
                got, fds = conn.read_frame()
                conn.outstanding -= 1
                exchanged.append(got)
                if kind == 'prefix':
                    same = len(frame) <= len(got) and matches(frame, got[:len(frame)])
                else:
                    same = matches(frame, got)
                if not same:
                    shown = got if kind == 'reply' else got[:len(frame)]
                    return 'connection %s: reply differs:\n  page:   %s\n  daemon: %s%s' % (
                        c, ' '.join(frame), shown.hex(' '), ' ...' if len(shown) < len(got) else ''), compared
                if len(fds) != st['fds']:
                    return 'connection %s: reply %s came with %d descriptors, the page says %d' % (
                        c, got[:12].hex(' '), len(fds), st['fds']), compared
                compared += 1
                received.append((st, got, fds))
            err = check_descriptors(received)
            if err:
                return err, compared
            for p in (st for st in steps if st['kind'] == 'payload'):
                if not any(contains(e, p['frame']) for e in exchanged):
                    return 'the payload %s is in no frame sent or received' % ' '.join(p['frame']), compared
            for c, conn in sorted(conns.items()):
                if not conn.closed:
                    try:
                        extra = conn.sync()
                    except (OSError, EOFError) as e:
                        return 'connection %s: %s after the last frame of the page' % (c, e), compared
                    if extra:
                        return 'connection %s: a reply the page does not show: %s' % (
                            c, extra[0][0].hex(' ')), compared
            return None, compared
        finally:
            for _, _, fds in received:
                for fd in fds:
                    os.close(fd)
            for conn in conns.values():
                conn.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def check_descriptors(received):
    """The descriptors that came with the replies are what the page says they are."""
    ends = []
    for st, got, fds in received:
        if not fds:
            continue
        op = struct.unpack_from('<H', got, 8)[0]
        if op == OP_ARRAY_MAP:
            size = struct.unpack_from('<Q', got, 12 + 5)[0]
            with mmap.mmap(fds[0], size) as m:
                if st['mapping'] is None:
                    return 'ARRAY_MAP: the page does not say what the mapping holds'
                if not matches(st['mapping'], m[:len(st['mapping'])]):
                    return 'ARRAY_MAP: the mapping holds %s, the page says %s' % (
                        m[:len(st['mapping'])].hex(' '), ' '.join(st['mapping']))
        elif op == OP_PIPE_OPEN:
            ends.append(fds[0])
        else:
            return 'a descriptor came with op %d, which the runner cannot check' % op
    if ends:
        if len(ends) != 2:
            return 'PIPE_OPEN: %d ends received, not 2' % len(ends)
        a, b = (socket.socket(fileno=os.dup(fd)) for fd in ends)
        try:
            for x, y in ((a, b), (b, a)):
                x.sendall(PIPE_MESSAGE)
                y.settimeout(5)
                got = b''
                while len(got) < len(PIPE_MESSAGE):
                    chunk = y.recv(len(PIPE_MESSAGE) - len(got))
                    if not chunk:
                        return 'PIPE_OPEN: the other end is closed'
                    got += chunk
                if got != PIPE_MESSAGE:
                    return 'PIPE_OPEN: the ends are not one channel'
        finally:
            a.close()
            b.close()
    return None


def main():
    path, mpxd = sys.argv[1], sys.argv[2]
    worker = sys.argv[3] if len(sys.argv) > 3 else None
    scenarios = parse(path)
    failed = checked = shown_alone = ran = 0
    chained = [ex for n, ex in scenarios.items() if int(n.split('.')[1]) <= 8]
    bad = [ex for ex in chained if isinstance(ex, ValueError)]
    runs = [('17.1-17.8', bad[0] if bad else [e for ex in chained for e in ex], False)]
    for n, ex in scenarios.items():
        if int(n.split('.')[1]) > 8:
            runs.append((n, ex, True))
    for name, ex, hello in runs:
        if isinstance(ex, ValueError):
            print('%s: FAIL: the page cannot be read: %s' % (name, ex))
            failed += 1
            continue
        replies = sum(1 for st in ex if st['kind'] in ('reply', 'prefix'))
        requests = sum(1 for st in ex if st['kind'] in ('request', 'header'))
        unpaired = sum(1 for st in ex if st['kind'] == 'unpaired')
        conns = len({st['conn'] for st in ex if st['kind'] != 'payload'})
        try:
            err, compared = run(mpxd, ex, hello, worker)
        except (OSError, RuntimeError, EOFError, ValueError) as e:
            err, compared = '%s: %s' % (type(e).__name__, e), 0
        ran += 1
        checked += compared
        shown_alone += unpaired
        if not err and not compared:
            err = 'no reply compared'
        if not err and unpaired:
            err = '%d replies shown without their request' % unpaired
        if err:
            failed += 1
            print('%s: FAIL: %s' % (name, err))
        else:
            print('%s: %d requests, %d replies as on the page, on %d connection%s' % (
                name, requests, replies, conns, 's' if conns > 1 else ''))
    # Every subsection of the page is a scenario that ran, or a part of the first one with a reply in it.
    headings = re.findall(r'^### (17\.\d+) ', section(path), re.M)
    expected = 1 + sum(1 for n in headings if int(n.split('.')[1]) > 8)
    if ran != expected:
        print('FAIL: %d scenarios ran, the page has %d' % (ran, expected))
        failed += 1
    for n in headings:
        ex = scenarios.get(n)
        if not isinstance(ex, list) or not any(st['kind'] in ('reply', 'prefix') for st in ex):
            print('FAIL: %s: no reply of it was compared' % n)
            failed += 1
    print('%d replies checked, %d shown without their request, %d scenarios run, %d failed' %
          (checked, shown_alone, ran, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
