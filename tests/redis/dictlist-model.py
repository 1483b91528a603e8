#!/usr/bin/env python3
"""The Lua of dicts and lists (client/redis/dict.lua, list.lua) against
Python's own dict and list: random requests, each answer and the whole
content compared after every step, and DICT_ITEMS walks while keys come and
go. The mpx library must be loaded in the Redis at the unix socket given:
    dictlist-model.py SOCKET [SEED]"""
import random
import socket
import sys


class Redis:
    """Just enough RESP2 to call functions."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.file = self.sock.makefile('rb')

    def __call__(self, *args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = str(a).encode() if isinstance(a, (int, str)) else a
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        self.sock.sendall(b''.join(out))
        return self.read()

    def read(self):
        line = self.file.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b'-':
            return Error(rest.decode())
        if kind == b':':
            return int(rest)
        if kind == b'$':
            return None if int(rest) < 0 else self.file.read(int(rest) + 2)[:-2]
        if kind == b'*':
            return [self.read() for _ in range(int(rest))]
        return rest.decode()


class Error(str):
    pass


def failed(got, code):
    return isinstance(got, Error) and got.split()[0] == code


def clamp(i, n):
    if i < 0:
        i = max(0, i + n)
    return min(i, n)


def index(i, n):
    j = i + n if i < 0 else i
    return j if 0 <= j < n else None


def test_list(r, steps):
    key = 'mpx:{model.list}'
    r('FCALL', 'mpx_delete', 1, key)
    assert r('FCALL', 'mpx_list_declare', 1, key, 0) == 1
    call = lambda fn, *a: r('FCALL', 'mpx_list_' + fn, 1, key, *a)
    model = []
    # Items equal to the Lua's placeholders, to make it look for another.
    vals = [b'x', b'y', b'\0mpx:hole:0', b'\0mpx:hole:1', b'', b'z' * 10]
    idx = lambda: random.choice([random.randint(-12, 12), -2**63, 2**63 - 1])
    version = r('HGET', key, 'version')
    for _ in range(steps):
        op, n, v = random.randrange(8), len(model), random.choice(vals)
        if op == 0:
            i = idx()
            model.insert(clamp(i, n), v)
            assert call('insert', i, v) == len(model)
        elif op == 1:
            i = idx()
            got, p = call('pop', i), index(i, n)
            assert failed(got, 'ERANGE') if p is None else got == model.pop(p)
        elif op == 2 and n < 30:
            items = [random.choice(vals) for _ in range(random.randrange(4))]
            model.extend(items)
            assert call('extend', *items) == len(model)
        elif op == 3:
            a, b = idx(), idx()
            items = [random.choice(vals) for _ in range(random.randrange(4))]
            if random.random() < 0.2:
                assert call('splice', a, b, 12345, *items) == [0, version, n]
                continue
            got = call('splice', a, b, random.choice([0, int(version)]), *items)
            s = clamp(a, n)
            model[s:max(s, clamp(b, n))] = items
            assert got[0] == 1 and got[2] == len(model) and int(got[1]) > int(version)
        elif op == 4:
            got = call('remove', v)
            if v in model:
                model.remove(v)
                assert got == 1
            else:
                assert failed(got, 'ENOENT')
        elif op == 5:
            i = idx()
            got, p = call('set', i, v), index(i, n)
            if p is None:
                assert failed(got, 'ERANGE')
            else:
                model[p] = v
        elif op == 6:
            a, b, limit = idx(), idx(), random.choice([0, 30, 100000])
            got = call('slice', a, b, 1, limit)
            s = clamp(a, n)
            e = max(s, clamp(b, n))
            assert got[1] == e and got[2] == version and got[3:] == model[s:got[0]]
            assert got[0] == e or (got[0] > s and limit < 100000)
        elif op == 7:
            got = call('index', v)
            assert got == model.index(v) if v in model else failed(got, 'ENOENT')
        assert r('LRANGE', key + ':l', 0, -1) == model
        assert call('len') == len(model)
        new = r('HGET', key, 'version')
        assert new == version or op in (0, 1, 2, 3, 4, 5)
        version = new
    r('FCALL', 'mpx_delete', 1, key)


def test_dict(r, steps):
    key = 'mpx:{model.dict}'
    r('FCALL', 'mpx_delete', 1, key)
    assert r('FCALL', 'mpx_dict_declare', 1, key, 0) == 1
    call = lambda fn, *a: r('FCALL', 'mpx_dict_' + fn, 1, key, *a)
    model = {}
    keys = [b'k%d' % i for i in range(12)] + [b'']
    vals = [b'1', b'-5', b'007', b'-0', b'+1', b' 1', b'x', b'', b'9223372036854775807',
            b'-9223372036854775808', b'9223372036854775808']
    for _ in range(steps):
        op, k, v = random.randrange(10), random.choice(keys), random.choice(vals)
        if op == 0:
            call('set', k, v)
            model[k] = v
        elif op == 1:
            got = call('pop', k)
            assert got == model.pop(k) if k in model else failed(got, 'ENOENT')
        elif op == 2:
            got = call('popitem')
            if model:
                last = list(model)[-1]
                assert got == [last, model.pop(last)]
            else:
                assert failed(got, 'ENOENT')
        elif op == 3:
            delta = random.choice([1, -1, 2**62, -2**63, 2**63 - 1])
            got, text = call('incr', k, delta), model.get(k, b'0')
            digits = text[1:] if text[:1] == b'-' else text
            if not digits.isdigit():
                assert failed(got, 'EINVAL')
            elif not -2**63 <= int(text) < 2**63 or not -2**63 <= int(text) + delta < 2**63:
                # Nothing changes, not even the text of the value.
                assert failed(got, 'ERANGE') and (k not in model or call('get', k) == model[k])
            else:
                model[k] = str(int(text) + delta).encode()
                assert got == model[k]
        elif op == 4:
            ep, sp = random.randrange(2), random.randrange(2)
            exp, new = random.choice(vals), random.choice(vals)
            got = call('cas', k, ep, exp if ep else b'', sp, new if sp else b'')
            match = model.get(k) == exp if ep else k not in model
            if match and sp:
                model[k] = new
            elif match:
                model.pop(k, None)
            assert got == [int(match), int(k in model), model.get(k, b'')]
        elif op == 5:
            assert call('setdefault', k, v) == model.setdefault(k, v)
        elif op == 6:
            pairs = [(random.choice(keys), random.choice(vals)) for _ in range(random.randrange(4))]
            call('update', *[x for p in pairs for x in p])
            model.update(pairs)
        elif op == 7:
            what, most, limit = random.randint(1, 3), random.randint(0, 4), random.choice([0, 20, 100000])
            got, cursor = [], 0
            while True:
                page = call('items', cursor, most, what, limit)
                got += page[1:]
                cursor = int(page[0])
                if cursor == 0:
                    break
            want = []
            for a, b in model.items():
                want += ([a] if what & 1 else []) + ([b] if what & 2 else [])
            assert got == want
        elif op == 8:
            got = call('del', k)
            assert failed(got, 'ENOENT') if k not in model else got == 1
            model.pop(k, None)
        elif op == 9 and random.random() < 0.05:
            assert call('clear') == len(model)
            model.clear()
        assert call('len') == len(model)
        assert call('contains', k) == int(k in model)
        for x in model:
            assert call('get', x) == model[x]
    r('FCALL', 'mpx_delete', 1, key)


def test_paging(r, walks):
    """A key present during the whole walk is returned exactly once (11.2)."""
    key = 'mpx:{model.paging}'
    call = lambda fn, *a: r('FCALL', 'mpx_dict_' + fn, 1, key, *a)
    for _ in range(walks):
        r('FCALL', 'mpx_delete', 1, key)
        call('declare', 0)
        keys = [b'k%d' % i for i in range(30)]
        call('update', *[x for k in keys for x in (k, b'v')])
        stable, seen, cursor, fresh = set(keys), [], 0, 0
        while True:
            page = call('items', cursor, random.randint(1, 4), 1, 100000)
            seen += page[1:]
            cursor = int(page[0])
            for _ in range(3):
                k, x = random.choice(keys), random.random()
                if x < 0.3:
                    call('del', k)
                    stable.discard(k)
                elif x < 0.6:
                    call('set', k, b'w')
                else:
                    call('set', b'n%d' % fresh, b'v')
                    fresh += 1
            if cursor == 0:
                break
        assert all(seen.count(k) == 1 for k in stable)
    r('FCALL', 'mpx_delete', 1, key)


def main():
    r = Redis(sys.argv[1])
    random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    test_list(r, 5000)
    test_dict(r, 5000)
    test_paging(r, 100)
    print('dict and list Lua: ok')


if __name__ == '__main__':
    main()
