# SPDX-License-Identifier: MIT
"""How Python objects become the bytes mpxd stores, shared with C and mpxctl.

The default serializer, ``"pickle"``, keeps what other languages read and
write readable, and tags everything else by its first byte:

* an ``int`` (exactly int, not bool nor a subclass) is its decimal text,
  ``b"42"``, ``b"-7"``: ``mpxctl dict get`` prints it, and the daemon's dict
  incr (``mpxctl dict incr``, ``mpx_dict_incr``) adds to it;
* a ``str`` is its UTF-8, unless that text is canonical decimal (it matches
  ``-?(0|[1-9][0-9]*)``, and would read back as an int) or starts with byte
  0x80: then it is pickled;
* ``bytes`` and ``bytearray`` are stored as they are, unless they are valid
  UTF-8 (they would read back as str) or start with 0x80: then pickled (a
  bytearray stored as it is reads back as bytes);
* anything else is ``pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)``,
  which starts with 0x80, the PROTO opcode. 0x80 can start neither valid
  UTF-8 nor decimal text, so the first byte is the tag.

Decoding: first byte 0x80 -> unpickled; canonical decimal -> int; valid
UTF-8 -> str; anything else -> bytes.

Dict keys are encoded the same way after one step: ``True``, ``False`` and
floats with an integral value become the int they equal, so that 1, 1.0 and
True are one key, as in a Python dict. Other keys are equal when their
encodings are.

Other serializers, chosen per object with ``serializer=``: ``"json"`` (every
value is its ``json.dumps`` text in UTF-8, read with ``json.loads``) and
``"raw"`` (bytes-like in, bytes out; anything else is a TypeError).

Unpickling runs code chosen by whoever wrote the bytes: anyone who may write
an object may run code in the processes that read it. Restrict who may write
with object permissions (``Connection.chmod``, ``mpxctl chmod``), or use the
``"json"`` or ``"raw"`` serializer for objects others may write.
"""

import json
import pickle
import re

SERIALIZERS = ("pickle", "json", "raw")

_DECIMAL = re.compile(rb"-?(?:0|[1-9][0-9]*)\Z")
_DECIMAL_FIRST = b"-0123456789"      # what decimal text starts with: the regex runs only then
_PICKLE = 0x80


def _pickle(obj):
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _is_utf8(data):
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def check_serializer(serializer):
    """Return serializer if it is one of SERIALIZERS, else raise ValueError."""
    if serializer not in SERIALIZERS:
        raise ValueError("serializer must be one of %s, not %r" % (", ".join(SERIALIZERS), serializer))
    return serializer


def encode(obj, serializer="pickle"):
    """The bytes stored for obj (see the module's docstring)."""
    if serializer == "pickle":
        t = type(obj)
        if t is int:
            return b"%d" % obj
        if t is str:
            try:
                data = obj.encode("utf-8")
            except UnicodeEncodeError:
                return _pickle(obj)
            first = data[:1]
            if first == b"\x80" or (first in _DECIMAL_FIRST and _DECIMAL.match(data)):
                return _pickle(obj)
            return data
        if t is bytes or t is bytearray:
            data = bytes(obj)
            if data[:1] == b"\x80" or _is_utf8(data):
                return _pickle(obj)
            return data
        return _pickle(obj)
    if serializer == "json":
        return json.dumps(obj).encode("utf-8")
    if serializer == "raw":
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return bytes(obj)
        raise TypeError("the raw serializer takes bytes-like objects, not %s" % type(obj).__name__)
    check_serializer(serializer)


def decode(data, serializer="pickle"):
    """The object bytes data stand for (see the module's docstring); unpickling runs code."""
    if serializer == "pickle":
        first = data[:1]
        if first == b"\x80":
            return pickle.loads(data)
        if first in _DECIMAL_FIRST and _DECIMAL.match(data):
            return int(data)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return bytes(data)
    if serializer == "json":
        return json.loads(data.decode("utf-8"))
    if serializer == "raw":
        return bytes(data)
    check_serializer(serializer)


def encode_key(key, serializer="pickle"):
    """The bytes of a dict key: as encode(), with True, False and integral floats as their int."""
    if key is True or key is False:
        key = int(key)
    elif type(key) is float and key.is_integer():
        key = int(key)
    return encode(key, serializer)
