# SPDX-License-Identifier: MIT
"""Shared dicts and lists: complete MutableMapping and MutableSequence over mpxd.

``mpx.dict(name=...)`` and ``mpx.list(name=...)`` behave as Python's dict
and list, with every operation a request to the daemon (values encoded by
``mpx._codec``, ``serializer=`` per handle):

* single operations are atomic: ``d.popitem()``, ``d.setdefault()``,
  ``d.update()`` (one request), ``l.extend()``, ``l.pop()``;
* slice assignment and deletion are one splice; ``sort()``, ``reverse()``,
  ``*=`` and extended slices (step other than 1) read the list with its
  version, work locally, and splice back only if the list did not change
  meanwhile, trying again otherwise: never a lost update;
* iteration and views work on a snapshot taken a page at a time (each page
  atomic).

Equality of items (``in``, ``index``, ``count``, ``remove``) and of keys is
equality of their encodings: 1, 1.0 and True are one dict key as in Python,
but two equal containers whose pickles differ (say dicts built in another
order) are different items.
"""

import builtins
from collections.abc import ItemsView, KeysView, Mapping, MutableMapping, MutableSequence, ValuesView

from . import _codec
from . import _mpx
from ._handle import Handle, decode_stored

_MISSING = object()


class _Keys(KeysView):
    def __iter__(self):
        return iter(self._mapping._all(_mpx.DICT_KEYS))


class _Values(ValuesView):
    def __iter__(self):
        return iter(self._mapping._all(_mpx.DICT_VALUES))


class _Items(ItemsView):
    def __iter__(self):
        return iter(self._mapping._all(_mpx.DICT_ITEMS))


class dict(Handle, MutableMapping):
    """A dict kept in mpxd: dict(mapping_or_iterable=(), /, **kwargs, name=None, ...).

    dict(*args, name=None, create=True, exclusive=False, serializer="pickle",
    address=None, **kwargs): the object's name and lifetime are described in
    mpx._handle; initial items (as dict() takes them) are stored with one
    update. Keys "name", "create", "exclusive", "serializer" and "address"
    cannot be given as keyword items: use the mapping argument.
    """

    _types = ("dict",)

    def __init__(self, *args, name=None, create=True, exclusive=False, serializer="pickle", address=None,
                 **kwargs):
        if len(args) > 1:
            raise TypeError("dict expected at most 1 argument, got %d" % len(args))
        self._serializer = _codec.check_serializer(serializer)
        self._open(name, create, exclusive, address)
        if args or kwargs:
            self.update(*args, **kwargs)

    def _declare(self, conn, name, flags):
        return conn.dict_declare(name, flags)

    def _state(self):
        return self._serializer

    def _set_state(self, state):
        self._serializer = state

    def _k(self, key):
        return _codec.encode_key(key, self._serializer)

    def _v(self, value):
        return _codec.encode(value, self._serializer)

    def _d(self, data):
        return decode_stored(data, self._serializer)

    def _all(self, what):
        entries = self._c().dict_items(self._name, what)
        if what == _mpx.DICT_ITEMS:
            return [(self._d(k), self._d(v)) for k, v in entries]
        return [self._d(e) for e in entries]

    def __getitem__(self, key):
        try:
            return self._d(self._c().dict_get(self._name, self._k(key)))
        except FileNotFoundError:
            raise KeyError(key) from None

    def __setitem__(self, key, value):
        self._c().dict_set(self._name, self._k(key), self._v(value))

    def __delitem__(self, key):
        try:
            self._c().dict_del(self._name, self._k(key))
        except FileNotFoundError:
            raise KeyError(key) from None

    def __contains__(self, key):
        return self._c().dict_contains(self._name, self._k(key))

    def __len__(self):
        return self._c().dict_len(self._name)

    def __iter__(self):
        """The keys, read when iteration starts; RuntimeError if the dict's size changed since iter()."""
        size = len(self)

        def keys():
            found = self._all(_mpx.DICT_KEYS)
            if len(found) != size:
                raise RuntimeError("dictionary changed size during iteration")
            yield from found
        return keys()

    def keys(self):
        """A view of the keys (iterated from a snapshot)."""
        return _Keys(self)

    def values(self):
        """A view of the values (iterated from a snapshot)."""
        return _Values(self)

    def items(self):
        """A view of the (key, value) pairs (iterated from a snapshot)."""
        return _Items(self)

    def get(self, key, default=None):
        """d[key] if key is in d, else default: one request."""
        try:
            return self[key]
        except KeyError:
            return default

    def pop(self, key, default=_MISSING):
        """Remove key and return its value (default, or KeyError, when absent): one request."""
        try:
            return self._d(self._c().dict_pop(self._name, self._k(key)))
        except FileNotFoundError:
            if default is _MISSING:
                raise KeyError(key) from None
            return default

    def popitem(self):
        """Remove the key inserted last and return (key, value), atomically; KeyError when empty."""
        try:
            k, v = self._c().dict_popitem(self._name)
        except FileNotFoundError:
            raise KeyError("popitem(): dictionary is empty") from None
        return self._d(k), self._d(v)

    def setdefault(self, key, default=None):
        """The value of key, storing default first if key is absent: atomic."""
        return self._d(self._c().dict_setdefault(self._name, self._k(key), self._v(default)))

    def update(self, other=(), /, **kwargs):
        """Store the pairs of other (a mapping or pairs) and kwargs in one atomic request."""
        pairs = []
        if isinstance(other, Mapping):
            pairs.extend(other.items())
        elif hasattr(other, "keys"):
            pairs.extend((k, other[k]) for k in other.keys())
        else:
            for pair in other:
                k, v = pair
                pairs.append((k, v))
        pairs.extend(kwargs.items())
        if pairs:
            self._c().dict_update(self._name, [(self._k(k), self._v(v)) for k, v in pairs])

    def clear(self):
        """Remove every key."""
        self._c().dict_clear(self._name)

    def copy(self):
        """A Python dict of the contents."""
        return builtins.dict(self.items())

    def incr(self, key, delta=1):
        """Add delta to the int at key (absent: 0) in the daemon, atomically; returns the sum."""
        return self._c().dict_incr(self._name, self._k(key), delta)

    def __ior__(self, other):
        self.update(other)
        return self

    def __or__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        d = self.copy()
        d.update(other)
        return d

    def __eq__(self, other):
        if not isinstance(other, Mapping):
            return NotImplemented
        return self.copy() == builtins.dict(other.items())

    __hash__ = None

    def __repr__(self):
        return "mpx.dict(%r, name=%r)" % (self.copy(), self._name)


class list(Handle, MutableSequence):
    """A list kept in mpxd: list(iterable=(), /, name=None, ...).

    list(iterable=(), name=None, create=True, exclusive=False,
    serializer="pickle", address=None): the object's name and lifetime are
    described in mpx._handle; initial items are appended with one extend.
    """

    _types = ("list",)

    def __init__(self, iterable=(), /, name=None, create=True, exclusive=False, *, serializer="pickle",
                 address=None):
        self._serializer = _codec.check_serializer(serializer)
        self._open(name, create, exclusive, address)
        items = builtins.list(iterable)
        if items:
            self.extend(items)

    def _declare(self, conn, name, flags):
        return conn.list_declare(name, flags)

    def _state(self):
        return self._serializer

    def _set_state(self, state):
        self._serializer = state

    def _e(self, item):
        return _codec.encode(item, self._serializer)

    def _d(self, data):
        return decode_stored(data, self._serializer)

    def _snapshot(self):
        return [self._d(x) for x in self._c().list_slice(self._name)]

    def _rewrite(self, change):
        """Apply change (a function of a Python list, editing it in place) atomically.

        Reads the list with its version, changes it locally, splices it back
        only if the list is still at that version, and tries again otherwise.
        Returns what change returned.
        """
        c = self._c()
        while True:
            raw, version = c.list_slice_version(self._name)
            items = [self._d(x) for x in raw]
            result = change(items)
            done, _ = c.list_splice(self._name, None, None, [self._e(x) for x in items], version)
            if done:
                return result

    def __len__(self):
        return self._c().list_len(self._name)

    def __getitem__(self, index):
        if isinstance(index, slice):
            if index.step is None or index.step == 1:
                return [self._d(x) for x in self._c().list_slice(self._name, index.start, index.stop)]
            return self._snapshot()[index]
        try:
            return self._d(self._c().list_get(self._name, index.__index__()))
        except OSError as e:
            if e.errno == 34:  # ERANGE
                raise IndexError("list index out of range") from None
            raise

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            if index.step is None or index.step == 1:
                self._c().list_splice(self._name, index.start, index.stop, [self._e(x) for x in value])
                return
            values = builtins.list(value)

            def change(items):
                items[index] = values
            self._rewrite(change)
            return
        try:
            self._c().list_set(self._name, index.__index__(), self._e(value))
        except OSError as e:
            if e.errno == 34:
                raise IndexError("list assignment index out of range") from None
            raise

    def __delitem__(self, index):
        if isinstance(index, slice):
            if index.step is None or index.step == 1:
                self._c().list_splice(self._name, index.start, index.stop, [])
                return

            def change(items):
                del items[index]
            self._rewrite(change)
            return
        self.pop(index)

    # Items an iterator reads at a time.
    _ITER_PAGE = 256

    def __iter__(self):
        """The items, read a page at a time as iteration goes, as a list iterator reads by index."""
        def items():
            i = 0
            while True:
                page = self._c().list_slice(self._name, i, i + self._ITER_PAGE)
                if not page:
                    return
                for data in page:
                    yield self._d(data)
                i += len(page)
        return items()

    def __reversed__(self):
        return reversed(self._snapshot())

    def __contains__(self, item):
        try:
            self._c().list_index(self._name, self._e(item))
            return True
        except FileNotFoundError:
            return False

    def insert(self, index, item):
        """Insert item before index."""
        self._c().list_insert(self._name, index, self._e(item))

    def append(self, item):
        """Add item at the end."""
        self._c().list_append(self._name, self._e(item))

    def extend(self, items):
        """Add the items at the end, atomically (one request)."""
        encoded = [self._e(x) for x in items]
        if encoded:
            self._c().list_extend(self._name, encoded)

    def pop(self, index=-1):
        """Remove and return the item at index (default the last), atomically; IndexError."""
        try:
            return self._d(self._c().list_pop(self._name, index))
        except OSError as e:
            if e.errno == 34:
                raise IndexError("pop index out of range") from None
            raise

    def remove(self, item):
        """Remove the first item equal to item; ValueError if there is none."""
        try:
            self._c().list_remove(self._name, self._e(item))
        except FileNotFoundError:
            raise ValueError("list.remove(x): x not in list") from None

    def index(self, item, start=0, stop=None):
        """The index of the first item equal to item in [start:stop]; ValueError if none."""
        if start == 0 and stop is None:
            try:
                return self._c().list_index(self._name, self._e(item))
            except FileNotFoundError:
                raise ValueError("%r is not in list" % (item,)) from None
        raw = self._c().list_slice(self._name)
        enc = self._e(item)
        for i in range(*slice(start, stop).indices(len(raw))):
            if raw[i] == enc:
                return i
        raise ValueError("%r is not in list" % (item,))

    def count(self, item):
        """The number of items equal to item."""
        enc = self._e(item)
        return sum(1 for x in self._c().list_slice(self._name) if x == enc)

    def clear(self):
        """Remove every item."""
        self._c().list_clear(self._name)

    def sort(self, *, key=None, reverse=False):
        """Sort the list in place, atomically (read with its version, sort, splice back)."""
        self._rewrite(lambda items: items.sort(key=key, reverse=reverse))

    def reverse(self):
        """Reverse the list in place, atomically."""
        self._rewrite(lambda items: items.reverse())

    def copy(self):
        """A Python list of the items."""
        return self._snapshot()

    def __iadd__(self, other):
        self.extend(other)
        return self

    def __imul__(self, n):
        def change(items):
            items *= n
        self._rewrite(change)
        return self

    def __add__(self, other):
        return self._snapshot() + builtins.list(other)

    def __radd__(self, other):
        return builtins.list(other) + self._snapshot()

    def __mul__(self, n):
        return self._snapshot() * n

    __rmul__ = __mul__

    def __eq__(self, other):
        if isinstance(other, (builtins.list, list)):
            return self._snapshot() == builtins.list(other)
        return NotImplemented

    def __lt__(self, other):
        return self._snapshot() < builtins.list(other)

    def __le__(self, other):
        return self._snapshot() <= builtins.list(other)

    def __gt__(self, other):
        return self._snapshot() > builtins.list(other)

    def __ge__(self, other):
        return self._snapshot() >= builtins.list(other)

    __hash__ = None

    def __repr__(self):
        return "mpx.list(%r, name=%r)" % (self._snapshot(), self._name)
