# SPDX-License-Identifier: MIT
"""Value, Array, RawValue, RawArray: ctypes objects over memory mpxd shares.

As multiprocessing.sharedctypes, but the memory is an mpx value or array,
mapped into each process that uses it (``Connection.array_map``): reading
``.value`` or an element, and writing it, is a memory access, with no round
trip to the daemon. Processes that did not fork from one another share it
by name::

    counter = mpx.Value("i", 0, name="hits")

Type codes and ctypes types: 'b' 'B' 'h' 'H' 'i' 'I' 'l' 'L' 'q' 'Q' 'f' 'd'
'c' (c_byte ... c_double, c_char); 'u' (c_wchar) and '?' (c_bool) have no
mpx counterpart (TypeError).

``Value`` and ``Array`` return wrappers with ``get_lock()`` and
``get_obj()``, whose lock is an mpx RLock (named name + ".lock" when the
object is named), or the lock given, or none with ``lock=False``. Beyond
multiprocessing, ``add()`` adds atomically in the daemon, without the lock:
use either add() or locked read-modify-writes on one value, not both (a
locked ``v.value += 1`` can overwrite an add() made meanwhile).
The lifetime of anonymous objects and pickling are described in
``mpx._handle``; a pickled wrapper or raw object carries its handle.
"""

import ctypes
import errno

from . import _conn
from ._handle import Handle
from .synchronize import RLock

typecode_to_type = {
    "c": ctypes.c_char, "b": ctypes.c_byte, "B": ctypes.c_ubyte, "h": ctypes.c_short, "H": ctypes.c_ushort,
    "i": ctypes.c_int, "I": ctypes.c_uint, "l": ctypes.c_long, "L": ctypes.c_ulong, "q": ctypes.c_longlong,
    "Q": ctypes.c_ulonglong, "f": ctypes.c_float, "d": ctypes.c_double,
}


def _typecode(typecode_or_type):
    if isinstance(typecode_or_type, str):
        tc = typecode_or_type
    else:
        tc = getattr(typecode_or_type, "_type_", None)
        if not isinstance(tc, str) or typecode_to_type.get(tc) is None or \
                ctypes.sizeof(typecode_or_type) != ctypes.sizeof(typecode_to_type[tc]):
            raise TypeError("no mpx type for %r" % (typecode_or_type,))
    if tc not in typecode_to_type:
        raise TypeError("no mpx type for type code %r" % (tc,))
    return tc


class _Memory(Handle):
    """The handle of an mpx value or array, and its mapping in this process."""

    _types = ("value", "array")

    def __init__(self, typecode, init, is_value, name, create, exclusive, address):
        self._typecode = typecode
        self._init = init
        self._is_value = is_value
        self._length = 1 if is_value or init is None else (init if isinstance(init, int) else len(init))
        self._mapping = None
        self._open(name, create, exclusive, address)
        self._init = None

    def _declare(self, conn, name, flags):
        if self._is_value:
            return conn.value_declare(name, self._typecode, self._init, flags)
        return conn.array_declare(name, self._typecode, self._init, flags)

    def _attach(self, info):
        if self._typecode is None:
            self._typecode = info["typecode"]
        elif info["typecode"] != self._typecode:
            raise TypeError("%s holds type %r, not %r" % (self._name, info["typecode"], self._typecode))
        self._length = info["length"]
        self._is_value = info["type"] == "value"

    def _state(self):
        return (self._typecode, self._length, self._is_value)

    def _set_state(self, state):
        self._typecode, self._length, self._is_value = state
        self._mapping = None

    def ctype(self):
        """The ctypes type of the whole: the element type, or an array of it."""
        t = typecode_to_type[self._typecode]
        return t if self._is_value else t * self._length

    def obj(self):
        """A ctypes object over the shared memory, mapped into this process on first use.

        Where the memory cannot be mapped (an address of the Redis backend:
        the elements live on another host), an object with the same
        interface whose every access is a request.
        """
        self._c()
        if self._mapping is None:
            try:
                self._mapping = _conn.ref_connection(self._address).array_map(self._name)
            except OSError as e:
                if e.errno != errno.EOPNOTSUPP:
                    raise
                return _Remote(self)
        cls = _raw_class(self.ctype())
        o = cls.from_buffer(self._mapping)
        o._mpx_memory = self
        return o

    def add(self, index, delta):
        return self._c().array_add(self._name, self._typecode, index, delta)


class _Remote:
    """A value or array that cannot be mapped: .value, items and slices are requests.

    Each read or write is atomic on its own; as with the mapped form, take
    the lock around read-modify-write sequences, or use add().
    """

    def __init__(self, memory):
        self._mpx_memory = memory

    def _get(self, index, count):
        m = self._mpx_memory
        return m._c().array_get(m._name, m._typecode, index, count)

    def _set(self, index, values):
        m = self._mpx_memory
        m._c().array_set(m._name, m._typecode, index, values)

    def __len__(self):
        return self._mpx_memory._length

    def _index(self, i):
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("invalid index")
        return i

    def __getitem__(self, i):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if start >= stop:
                return b"" if self._mpx_memory._typecode == "c" else []
            got = self._get(start, stop - start)
            if self._mpx_memory._typecode == "c":
                got = b"".join(got)
            return got[::step]
        return self._get(self._index(i), 1)[0]

    def __setitem__(self, i, value):
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1 or len(value) != stop - start:
                raise ValueError("can only assign a sequence of the same size to a contiguous slice")
            if stop > start:
                self._set(start, value)
            return
        self._set(self._index(i), [value] if self._mpx_memory._typecode != "c" else value)

    def __iter__(self):
        return iter(self[:])

    @property
    def value(self):
        """A value's value; for c arrays, the bytes up to the first NUL."""
        m = self._mpx_memory
        if m._is_value:
            return self._get(0, 1)[0]
        if m._typecode == "c":
            return self.raw.split(b"\0", 1)[0]
        raise AttributeError("an array has no .value")

    @value.setter
    def value(self, v):
        m = self._mpx_memory
        if m._is_value:
            self._set(0, [v] if m._typecode != "c" else v)
        elif m._typecode == "c":
            if len(v) > len(self):
                raise ValueError("byte string too long")
            self._set(0, v + (b"\0" if len(v) < len(self) else b""))
        else:
            raise AttributeError("an array has no .value")

    @property
    def raw(self):
        """For c arrays, all the bytes (one bytes object, as ctypes gives)."""
        return b"".join(self._get(0, len(self)))

    def __reduce__(self):
        return (_rebuild_raw, (self._mpx_memory,))

    def __repr__(self):
        return "<mpx remote %s %r>" % (self._mpx_memory._typecode, self._mpx_memory._name)


_raw_classes = {}


def _raw_class(base):
    cls = _raw_classes.get(base)
    if cls is None:
        cls = type(base.__name__, (base,), {
            "__reduce__": lambda self: (_rebuild_raw, (self._mpx_memory,)),
            "__doc__": "A ctypes %s over memory mpxd shares." % base.__name__,
        })
        _raw_classes[base] = cls
    return cls


def _rebuild_raw(memory):
    return memory.obj()


def _open_only(typecode_or_type, name, create):
    """None as the type opens an existing object by name, with its own type."""
    if typecode_or_type is None:
        if name is None:
            raise TypeError("a type is needed to create a value or array")
        return None, False
    return _typecode(typecode_or_type), create


def RawValue(typecode_or_type, *args, name=None, create=True, exclusive=False, address=None):
    """A ctypes object (its .value) in shared memory, as multiprocessing's RawValue.

    typecode_or_type None opens an existing value by name, whatever its type.
    """
    tc, create = _open_only(typecode_or_type, name, create)
    init = args[0] if args else None
    if len(args) > 1:
        raise TypeError("RawValue takes one initial value")
    return _Memory(tc, init, True, name, create, exclusive, address).obj()


def RawArray(typecode_or_type, size_or_initializer=None, *, name=None, create=True, exclusive=False, address=None):
    """A ctypes array in shared memory, as multiprocessing's RawArray.

    typecode_or_type None opens an existing array by name, with its type and
    length; so does any size_or_initializer when the array exists.
    """
    tc, create = _open_only(typecode_or_type, name, create)
    init = size_or_initializer
    if tc is None:
        init = None
    elif not isinstance(init, int):
        init = bytes(init) if tc == "c" else type(init)(init) if isinstance(init, (list, tuple)) else list(init)
    return _Memory(tc, init, False, name, create, exclusive, address).obj()


def _lock_for(lock, name, create, exclusive, address):
    # As multiprocessing's: None, like True, asks for a new lock.
    if lock is True or lock is None:
        return RLock(None if name is None else name + ".lock", create, exclusive, address=address)
    return lock


class Synchronized:
    """multiprocessing's Synchronized: a shared value with its lock.

    .value reads and writes the shared memory directly (take get_lock()
    around read-modify-write sequences, or use add()).
    """

    def __init__(self, obj, lock):
        self._obj = obj
        self._lock = lock
        self.acquire = lock.acquire
        self.release = lock.release

    def __reduce__(self):
        return (type(self), (self._obj, self._lock))

    def get_obj(self):
        """The ctypes object over the shared memory."""
        return self._obj

    def get_lock(self):
        """The lock."""
        return self._lock

    def __enter__(self):
        return self._lock.__enter__()

    def __exit__(self, *args):
        return self._lock.__exit__(*args)

    @property
    def value(self):
        """The value, read from the shared memory."""
        return self._obj.value

    @value.setter
    def value(self, v):
        self._obj.value = v

    def add(self, delta):
        """Add delta atomically in the daemon (no lock needed); returns the new value."""
        return self._obj._mpx_memory.add(0, delta)

    @property
    def name(self):
        """The mpx object's name."""
        return self._obj._mpx_memory.name

    def __repr__(self):
        return "<mpx.Synchronized wrapper for %r>" % (self._obj,)


class SynchronizedArray(Synchronized):
    """multiprocessing's SynchronizedArray: a shared array with its lock."""

    def __len__(self):
        return len(self._obj)

    def __getitem__(self, i):
        with self._lock:
            return self._obj[i]

    def __setitem__(self, i, value):
        with self._lock:
            self._obj[i] = value

    def add(self, index, delta):
        """Add delta to one element atomically in the daemon; returns its new value."""
        return self._obj._mpx_memory.add(index, delta)

    @property
    def value(self):
        """For c arrays, the bytes up to the first NUL, as ctypes' c_char arrays give them."""
        return self._obj.value

    @value.setter
    def value(self, v):
        self._obj.value = v

    @property
    def raw(self):
        """For c arrays, all the bytes."""
        return self._obj.raw


def Value(typecode_or_type, *args, lock=True, name=None, create=True, exclusive=False, address=None):
    """A shared value, as multiprocessing.Value: a Synchronized wrapper unless lock is False.

    lock: True (a new mpx RLock), False (the raw ctypes object), or a lock to use.
    """
    obj = RawValue(typecode_or_type, *args, name=name, create=create, exclusive=exclusive, address=address)
    if lock is False:
        return obj
    return Synchronized(obj, _lock_for(lock, name, create, exclusive, address))


def Array(typecode_or_type, size_or_initializer=None, *, lock=True, name=None, create=True, exclusive=False,
          address=None):
    """A shared array, as multiprocessing.Array: a SynchronizedArray unless lock is False."""
    obj = RawArray(typecode_or_type, size_or_initializer, name=name, create=create, exclusive=exclusive,
                   address=address)
    if lock is False:
        return obj
    return SynchronizedArray(obj, _lock_for(lock, name, create, exclusive, address))
