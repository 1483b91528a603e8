# SPDX-License-Identifier: MIT
"""Tests of mpx._codec: the encoding, and that C (mpxctl) and Python read each other's values."""

import os
import pickle
import subprocess
import unittest

from mpxtest import TestCase, fresh, _mpx
from mpx import _codec


class TestEncoding(unittest.TestCase):
    def roundtrip(self, obj, serializer="pickle"):
        back = _codec.decode(_codec.encode(obj, serializer), serializer)
        self.assertEqual(back, obj)
        self.assertIs(type(back), type(obj) if type(obj) is not bytearray else bytes)
        return back

    def test_ints_are_decimal(self):
        self.assertEqual(_codec.encode(42), b"42")
        self.assertEqual(_codec.encode(-7), b"-7")
        self.assertEqual(_codec.encode(0), b"0")
        self.assertEqual(_codec.encode(10 ** 30), b"1" + b"0" * 30)
        for n in (0, 42, -7, 10 ** 30):
            self.roundtrip(n)

    def test_bool_and_int_subclasses_are_pickled(self):
        self.assertEqual(_codec.encode(True)[:1], b"\x80")
        self.assertIs(self.roundtrip(True), True)

    def test_text(self):
        self.assertEqual(_codec.encode("héllo"), "héllo".encode())
        self.assertEqual(_codec.encode(""), b"")
        for s in ("héllo", "", "42x", "0x10", "-", "007"):
            self.roundtrip(s)
        # Canonical decimal text would read back as an int: pickled.
        for s in ("42", "-7", "0", "-0"):
            self.assertEqual(_codec.encode(s)[:1], b"\x80")
            self.roundtrip(s)
        # Lone surrogates have no UTF-8: pickled.
        self.roundtrip("\udc80")

    def test_bytes(self):
        self.assertEqual(_codec.encode(b"\xff\x00"), b"\xff\x00")
        for b in (b"\xff\x00", b"abc", b"", b"\x80abc", b"12"):
            self.roundtrip(b)
        # Valid UTF-8, or the pickle tag: pickled, so that they read back as bytes.
        self.assertEqual(_codec.encode(b"abc")[:1], b"\x80")
        self.assertEqual(_codec.encode(b"\x80abc")[:1], b"\x80")
        self.assertEqual(_codec.encode(bytearray(b"\xfe")), b"\xfe")
        self.roundtrip(bytearray(b"\xfe"))

    def test_other_objects_are_pickles(self):
        for obj in ({"a": [1, 2.5, None]}, (1, 2), 3.25, None, frozenset({1})):
            data = _codec.encode(obj)
            self.assertEqual(data[:1], b"\x80")
            self.assertEqual(pickle.loads(data), obj)
            self.roundtrip(obj)

    def test_decoding(self):
        self.assertEqual(_codec.decode(b"12"), 12)
        self.assertEqual(_codec.decode(b"-3"), -3)
        self.assertEqual(_codec.decode(b"012"), "012")
        self.assertEqual(_codec.decode(b"x"), "x")
        self.assertEqual(_codec.decode(b"\xff"), b"\xff")

    def test_keys(self):
        self.assertEqual(_codec.encode_key(True), b"1")
        self.assertEqual(_codec.encode_key(False), b"0")
        self.assertEqual(_codec.encode_key(1.0), b"1")
        self.assertEqual(_codec.encode_key(1), b"1")
        self.assertEqual(_codec.encode_key(-2.0), b"-2")
        self.assertNotEqual(_codec.encode_key(1.5), b"1")
        self.assertEqual(_codec.encode_key("a"), b"a")

    def test_json(self):
        self.assertEqual(_codec.encode({"a": 1}, "json"), b'{"a": 1}')
        self.assertEqual(_codec.encode("x", "json"), b'"x"')
        self.assertEqual(_codec.decode(b"[1, 2]", "json"), [1, 2])
        self.roundtrip({"a": [1, "b"]}, "json")

    def test_raw(self):
        self.assertEqual(_codec.encode(b"abc", "raw"), b"abc")
        self.assertEqual(_codec.encode(bytearray(b"ab"), "raw"), b"ab")
        self.assertEqual(_codec.decode(b"12", "raw"), b"12")
        with self.assertRaises(TypeError):
            _codec.encode("text", "raw")
        with self.assertRaises(TypeError):
            _codec.encode(12, "raw")

    def test_unknown_serializer(self):
        with self.assertRaises(ValueError):
            _codec.check_serializer("yaml")
        with self.assertRaises(ValueError):
            _codec.encode(1, "yaml")


@unittest.skipUnless(os.environ.get("MPXCTL"), "needs $MPXCTL")
class TestCrossLanguage(TestCase):
    def setUp(self):
        self.c = _mpx.Connection()
        self.addCleanup(self.c.close)
        self.d = fresh("xlang")
        self.c.dict_declare(self.d)

    def mpxctl(self, *args, input=None):
        return subprocess.run([os.environ["MPXCTL"]] + list(args), input=input, stdout=subprocess.PIPE,
                              check=True, timeout=30).stdout

    def put(self, key, obj):
        self.c.dict_set(self.d, _codec.encode_key(key), _codec.encode(obj))

    def get(self, key):
        return _codec.decode(self.c.dict_get(self.d, _codec.encode_key(key)))

    def test_python_writes_c_reads(self):
        self.put("n", 41)
        self.assertEqual(self.mpxctl("dict", "get", self.d, "n"), b"41")
        # The daemon's incr works on what Python stored, and Python reads its result as an int.
        self.assertEqual(self.mpxctl("dict", "incr", self.d, "n").strip(), b"42")
        self.assertEqual(self.get("n"), 42)
        self.put("t", "héllo")
        self.assertEqual(self.mpxctl("dict", "get", self.d, "t"), "héllo".encode())
        self.put("b", b"\xff\x01")
        self.assertEqual(self.mpxctl("dict", "get", self.d, "b"), b"\xff\x01")
        self.put("p", {"x": (1, 2)})
        self.assertEqual(pickle.loads(self.mpxctl("dict", "get", self.d, "p")), {"x": (1, 2)})
        self.put(7, "seven")
        self.assertEqual(self.mpxctl("dict", "get", self.d, "7"), b"seven")

    def test_c_writes_python_reads(self):
        self.mpxctl("dict", "set", self.d, "n", "-12")
        self.assertEqual(self.get("n"), -12)
        self.mpxctl("dict", "set", self.d, "t", "text")
        self.assertEqual(self.get("t"), "text")
        self.mpxctl("dict", "set", self.d, "b", input=b"\xfe\xff")
        self.assertEqual(self.get("b"), b"\xfe\xff")
        self.mpxctl("dict", "set", self.d, "p", input=pickle.dumps([1, "a"], protocol=pickle.HIGHEST_PROTOCOL))
        self.assertEqual(self.get("p"), [1, "a"])
        self.mpxctl("dict", "set", self.d, "1", "one")
        self.assertEqual(self.get(True), "one")
        self.assertEqual(self.get(1.0), "one")


if __name__ == "__main__":
    unittest.main()
