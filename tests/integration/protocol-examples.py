#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Send the hex examples of docs/PROTOCOL.md, section 17, to a running mpxd and
compare its replies with the page, byte for byte.

    protocol-examples.py PROTOCOL.md MPXD

Each subsection (### 17.N) is a scenario run on a fresh daemon, on one
connection: 17.1 to 17.8 build on each other and run as one; from 17.9 on the
page says each was captured after a HELLO (id 1), which the runner sends first
when the subsection does not. Frames are read out of the code blocks whatever
their layout: annotated dumps (an offset, the bytes, then words), `request:` and
`reply:` lines with the bytes on them, and bare frames (a block of them is the
client's when it is the first of its subsection, the daemon's otherwise). A
block introduced as "a plain dump" repeats the one before it and must hold the
same bytes. A block with `...` is a part of a frame and is not run. Scenarios
that need a second connection, descriptors passed over the socket or worker
processes are listed and skipped. In a reply, `..` stands for a byte that varies
(a time, a pid) and is not compared.

Prints one line per scenario and exits 1 if any reply differs.
"""
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

HEX = re.compile(r'^(?:[0-9a-f]{2}|\.\.)$')
# Scenarios that cannot run on one plain connection, and why.
SKIP = {
    '17.13': 'a second connection',
    '17.14': 'a descriptor passed over the socket',
    '17.15': 'two connections and descriptors passed over the socket',
    '17.16': 'worker processes',
    '17.17': 'worker processes',
}


def hex_of(line):
    """The bytes a line shows: after an offset or a label, up to the words."""
    line = re.sub(r'^\s*(request|reply)\s*:?\s*', '', line)
    if re.match(r'^\d+ bytes', line):
        return []
    line = re.sub(r"^\s*[0-9a-f]{4}  ", "", line)
    out = []
    for tok in re.split(r'\s+', re.split(r'\s{3,}', line.strip())[0]):
        if not HEX.match(tok):
            break
        out.append(tok)
    return out


def frames_of(tokens):
    """Split a run of byte tokens into frames by their body_len."""
    frames = []
    while len(tokens) >= 12:
        body_len = int(''.join(reversed(tokens[0:4])), 16)
        frames.append(tokens[:12 + body_len])
        tokens = tokens[12 + body_len:]
    if tokens:
        raise ValueError('%d bytes left over after the frames' % len(tokens))
    return frames


def parse(path):
    """{subsection: [(kind, frame tokens)]} for section 17, kind 'request' or 'reply'."""
    text = open(path, encoding='utf-8').read()
    sect = text[text.index('\n## 17.'):]
    sect = sect[:sect.index('\n## 18.')]
    scenarios = {}
    for part in re.split(r'\n### ', sect)[1:]:
        number = part.split()[0]
        try:
            scenarios[number] = parse_scenario(number, part)
        except ValueError as e:
            scenarios[number] = e
    return scenarios


def parse_scenario(number, part):
    """The frames of one subsection, in order, each ('request' or 'reply', tokens)."""
    if True:
        exchanges, pending = [], []
        previous = None
        for m in re.finditer(r'(?:(.*?)\n)?```\n(.*?)```', part, re.S):
            lead, block = m.group(1) or '', m.group(2)
            # A part of a frame, or a header alone (a frame over max_frame): nothing to send whole.
            if '...' in block or 'request header' in block:
                continue
            first_block = not exchanges
            runs, label = [], None
            for line in block.split('\n'):
                s = line.strip()
                lab = re.match(r'^(request|reply)\b', s)
                if lab and lab.group(1) != label:
                    label = lab.group(1)
                    runs.append([label, []])
                toks = hex_of(line)
                if toks and not runs:
                    runs.append([None, []])
                if toks:
                    runs[-1][1].extend(toks)
            if 'plain dump' in lead:
                # The same exchange again, as one line per frame.
                flat = [t for _, toks in runs for t in toks]
                if flat != [t for _, f in previous for t in f]:
                    raise ValueError('%s: the plain dump differs from the frames above it' % number)
                continue
            block_frames = []
            for label, toks in runs:
                frames = frames_of(toks)
                for i, f in enumerate(frames):
                    followed = i + 1 < len(frames) and key(frames[i + 1]) == key(f)
                    block_frames.append((label or classify(f, pending, first_block or followed), f))
                    kind = block_frames[-1][0]
                    if kind == 'request':
                        pending.append(key(f))
                    elif key(f) in pending:
                        pending.remove(key(f))
                    else:
                        # A reply shown without its request: nothing to send for it.
                        block_frames[-1] = ('unpaired', f)
            exchanges += block_frames
            previous = block_frames
        return exchanges


def key(frame):
    """A frame's id and opcode, which a reply shares with its request."""
    return tuple(frame[4:10])


def classify(frame, pending, may_be_request):
    """
    A frame shown without a label: the reply of a request shown before it;
    else a request when it may be one (it is in the first block of its
    subsection, or its reply follows it), and otherwise a reply shown without
    its request.
    """
    return 'reply' if key(frame) in pending or not may_be_request else 'request'


def start(mpxd, folder):
    path = os.path.join(folder, 'mpxd.sock')
    proc = subprocess.Popen([mpxd, '-s', path, '-c', '/dev/null'], stderr=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(path)
                return proc, s
            except OSError:
                s.close()
        if proc.poll() is not None:
            raise RuntimeError('mpxd exited with %d' % proc.returncode)
        time.sleep(0.01)
    raise RuntimeError('mpxd did not listen')


def read_frame(s):
    buf = b''
    while len(buf) < 12:
        chunk = s.recv(12 - len(buf))
        if not chunk:
            raise RuntimeError('the daemon closed the connection')
        buf += chunk
    body_len = struct.unpack('<I', buf[:4])[0]
    while len(buf) < 12 + body_len:
        chunk = s.recv(12 + body_len - len(buf))
        if not chunk:
            raise RuntimeError('the daemon closed the connection')
        buf += chunk
    return buf


def matches(want, got):
    return len(want) == len(got) and all(w == '..' or int(w, 16) == g for w, g in zip(want, got))


HELLO = bytes.fromhex('0a000000 01000000 0100 0000 01000000 0400 64656d6f'.replace(' ', ''))


def run(mpxd, number, exchanges, hello_first):
    with tempfile.TemporaryDirectory() as folder:
        proc, s = start(mpxd, folder)
        s.settimeout(10)
        try:
            if hello_first:
                s.sendall(HELLO)
                read_frame(s)
            for kind, frame in exchanges:
                if kind == 'unpaired':
                    continue
                if kind == 'request':
                    s.sendall(bytes(int(t, 16) for t in frame))
                    continue
                got = read_frame(s)
                if not matches(frame, got):
                    return 'reply differs:\n  page:   %s\n  daemon: %s' % (' '.join(frame), got.hex(' '))
            return None
        finally:
            s.close()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)


def main():
    path, mpxd = sys.argv[1], sys.argv[2]
    scenarios = parse(path)
    failed = checked = skipped = shown_alone = 0
    chained = [ex for n, ex in scenarios.items() if int(n.split('.')[1]) <= 8]
    bad = [ex for ex in chained if isinstance(ex, ValueError)]
    runs = [('17.1-17.8', bad[0] if bad else [e for ex in chained for e in ex], False)]
    for n, ex in scenarios.items():
        if int(n.split('.')[1]) > 8:
            hello = isinstance(ex, list) and not (ex and ex[0][0] == 'request' and ex[0][1][8:10] == ['01', '00'])
            runs.append((n, ex, hello))
    for name, ex, hello in runs:
        if name in SKIP:
            print('%s: skipped, it needs %s' % (name, SKIP[name]))
            skipped += 1
            continue
        if isinstance(ex, ValueError):
            print('%s: FAIL: the page cannot be read: %s' % (name, ex))
            failed += 1
            continue
        replies = sum(1 for k, _ in ex if k == 'reply')
        unpaired = sum(1 for k, _ in ex if k == 'unpaired')
        err = run(mpxd, name, ex, hello)
        checked += replies
        shown_alone += unpaired
        if err:
            failed += 1
            print('%s: FAIL: %s' % (name, err))
        else:
            print('%s: %d requests, %d replies as on the page%s' % (name, len(ex) - replies - unpaired, replies,
                  ', %d replies shown without their request' % unpaired if unpaired else ''))
    print('%d replies checked, %d shown without their request, %d scenarios failed, %d skipped' %
          (checked, shown_alone, failed, skipped))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
