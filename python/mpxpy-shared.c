/* SPDX-License-Identifier: MIT */
/*
 * Dicts and lists: Connection.dict_* and Connection.list_*. Keys, values and
 * items are bytes; none of these calls waits in the daemon, so they are made
 * synchronously with the GIL released.
 */
#include "mpxpy.h"

/* Return a buffer as bytes and free it; or the error. */
static PyObject *buf_result(int64_t r, mpx_buf *b) {
        PyObject *o = r < 0 ? mpxpy_error(r) : PyBytes_FromStringAndSize(b->data, (Py_ssize_t) b->size);

        mpx_buf_clear(b);
        return o;
}

/* ---- dicts ---- */

PyDoc_STRVAR(dict_declare_doc,
"dict_declare(name, flags=0)\n--\n\n"
"Create a dict (flags: DURABLE or COUNTED). Returns 1 if created, 0 if it existed.");
static PyObject *dict_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "flags", NULL };
        const char *name;
        unsigned flags = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|I:dict_declare", kwlist, &name, &flags))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_declare_flags(self->m, name, flags));
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(dict_set_doc, "dict_set(name, key, value)\n--\n\nd[key] = value.");
static PyObject *dict_set(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "key", "value", NULL };
        const char *name, *key, *value;
        Py_ssize_t ks, vs;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#y#:dict_set", kwlist, &name, &key, &ks, &value, &vs))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_set(self->m, name, key, (size_t) ks, value, (size_t) vs));
        return mpxpy_none_result(r);
}

/* The calls taking a name and a key and returning a buffer: get and pop. */
#define KEY_BUF_CALL(fn, call, doc) \
        PyDoc_STRVAR(fn##_doc, doc); \
        static PyObject *fn(ConnObject *self, PyObject *args, PyObject *kwds) { \
                static char *kwlist[] = { "name", "key", NULL }; \
                const char *name, *key; \
                Py_ssize_t ks; \
                mpx_buf b = { 0 }; \
                int r; \
                if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#:" #fn, kwlist, &name, &key, &ks)) \
                        return NULL; \
                MPXPY_SYNC(self, r, call(self->m, name, key, (size_t) ks, &b)); \
                return buf_result(r, &b); \
        }

KEY_BUF_CALL(dict_get, mpx_dict_get, "dict_get(name, key)\n--\n\nd[key]; FileNotFoundError when absent.")
KEY_BUF_CALL(dict_pop, mpx_dict_pop, "dict_pop(name, key)\n--\n\nd.pop(key); FileNotFoundError when absent.")

PyDoc_STRVAR(dict_popitem_doc,
"dict_popitem(name)\n--\n\n"
"d.popitem(): remove the key inserted last and return (key, value), in one\n"
"request. FileNotFoundError when the dict is empty or missing.");
static PyObject *dict_popitem(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        mpx_buf k = { 0 }, v = { 0 };
        PyObject *res;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:dict_popitem", kwlist, &name))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_popitem(self->m, name, &k, &v));
        res = r < 0 ? mpxpy_error(r)
                    : Py_BuildValue("y#y#", k.data, (Py_ssize_t) k.size, v.data, (Py_ssize_t) v.size);
        mpx_buf_clear(&k);
        mpx_buf_clear(&v);
        return res;
}

/* The calls taking a name and a key and returning a number: del and contains. */
#define KEY_CALL(fn, call, conv, doc) \
        PyDoc_STRVAR(fn##_doc, doc); \
        static PyObject *fn(ConnObject *self, PyObject *args, PyObject *kwds) { \
                static char *kwlist[] = { "name", "key", NULL }; \
                const char *name, *key; \
                Py_ssize_t ks; \
                int r; \
                if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#:" #fn, kwlist, &name, &key, &ks)) \
                        return NULL; \
                MPXPY_SYNC(self, r, call(self->m, name, key, (size_t) ks)); \
                return conv(r); \
        }

KEY_CALL(dict_del, mpx_dict_del, mpxpy_none_result,
         "dict_del(name, key)\n--\n\ndel d[key]; FileNotFoundError when absent.")
KEY_CALL(dict_contains, mpx_dict_contains, mpxpy_bool_result, "dict_contains(name, key)\n--\n\nkey in d.")
MPXPY_NAME_CALL(dict_len, mpx_dict_len, mpxpy_int_result, "dict_len(name)\n--\n\nlen(d).")
MPXPY_NAME_CALL(dict_clear, mpx_dict_clear, mpxpy_int_result,
                "dict_clear(name)\n--\n\nRemove every key; returns how many were removed.")

PyDoc_STRVAR(dict_setdefault_doc,
"dict_setdefault(name, key, default)\n--\n\n"
"d.setdefault(key, default): the value now stored under key.");
static PyObject *dict_setdefault(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "key", "default", NULL };
        const char *name, *key, *def;
        Py_ssize_t ks, ds;
        mpx_buf b = { 0 };
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#y#:dict_setdefault", kwlist, &name, &key, &ks, &def, &ds))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_setdefault(self->m, name, key, (size_t) ks, def, (size_t) ds, &b));
        return buf_result(r, &b);
}

PyDoc_STRVAR(dict_update_doc,
"dict_update(name, pairs)\n--\n\n"
"Set every (key, value) of pairs (a mapping or a sequence of pairs of\n"
"bytes) in one atomic request.");
static PyObject *dict_update(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "pairs", NULL };
        const char *name;
        PyObject *pairs, *keys = NULL, *values = NULL, *ks = NULL, *vs = NULL, *res = NULL;
        struct iovec *kv = NULL, *vv = NULL;
        Py_ssize_t n, nv;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO:dict_update", kwlist, &name, &pairs))
                return NULL;
        if (PyDict_Check(pairs)) {
                keys = PyDict_Keys(pairs);
                values = PyDict_Values(pairs);
        } else {
                /* zip(*pairs), by hand: two lists. */
                PyObject *seq = PySequence_Fast(pairs, "pairs must be a mapping or a sequence of pairs");

                if (seq && (keys = PyList_New(0)) && (values = PyList_New(0)))
                        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
                                PyObject *k, *v;

                                if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "OO;pairs must be pairs",
                                                      &k, &v) ||
                                    PyList_Append(keys, k) < 0 || PyList_Append(values, v) < 0) {
                                        Py_CLEAR(keys);
                                        break;
                                }
                        }
                Py_XDECREF(seq);
        }
        if (!keys || !values || mpxpy_iovecs(keys, &kv, &n, &ks) < 0 || mpxpy_iovecs(values, &vv, &nv, &vs) < 0)
                goto out;
        MPXPY_SYNC(self, r, mpx_dict_update(self->m, name, kv, vv, (size_t) n));
        res = mpxpy_none_result(r);
out:
        PyMem_Free(kv);
        PyMem_Free(vv);
        Py_XDECREF(ks);
        Py_XDECREF(vs);
        Py_XDECREF(keys);
        Py_XDECREF(values);
        return res;
}

PyDoc_STRVAR(dict_incr_doc,
"dict_incr(name, key, delta=1)\n--\n\n"
"Add delta to the decimal integer stored at key (absent: 0) and return the\n"
"sum. OSError(EINVAL) when the value is not an integer, OSError(ERANGE).");
static PyObject *dict_incr(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "key", "delta", NULL };
        const char *name, *key;
        Py_ssize_t ks;
        long long delta = 1;
        int64_t value = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#|L:dict_incr", kwlist, &name, &key, &ks, &delta))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_incr(self->m, name, key, (size_t) ks, delta, &value));
        return r < 0 ? mpxpy_error(r) : PyLong_FromLongLong(value);
}

PyDoc_STRVAR(dict_cas_doc,
"dict_cas(name, key, expected, new)\n--\n\n"
"Compare-and-set: if key holds expected (None: is absent), store new\n"
"(None: delete key). Returns (swapped, current), current being the value\n"
"after the call, or None when absent.");
static PyObject *dict_cas(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "key", "expected", "new", NULL };
        const char *name, *key, *exp, *nv;
        Py_ssize_t ks, es, ns;
        mpx_buf cur = { 0 };
        PyObject *res;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#z#z#:dict_cas", kwlist, &name, &key, &ks, &exp, &es, &nv,
                                         &ns))
                return NULL;
        MPXPY_SYNC(self, r, mpx_dict_cas(self->m, name, key, (size_t) ks, exp, (size_t) es, nv, (size_t) ns, &cur));
        if (r < 0)
                return mpxpy_error(r);
        if (cur.data)
                res = Py_BuildValue("(Ny#)", PyBool_FromLong(r), (const char *) cur.data, (Py_ssize_t) cur.size);
        else
                res = Py_BuildValue("(NO)", PyBool_FromLong(r), Py_None);
        mpx_buf_clear(&cur);
        return res;
}

/* One page of keys, values or (key, value) pairs, appended to out. */
static int page_append(PyObject *out, unsigned what, mpx_buf *keys, mpx_buf *values, size_t n) {
        for (size_t i = 0; i < n; i++) {
                PyObject *o;

                if (what == MPX_DICT_ITEMS)
                        o = Py_BuildValue("(y#y#)", (const char *) keys[i].data, (Py_ssize_t) keys[i].size,
                                          (const char *) values[i].data, (Py_ssize_t) values[i].size);
                else if (what == MPX_DICT_KEYS)
                        o = PyBytes_FromStringAndSize(keys[i].data, (Py_ssize_t) keys[i].size);
                else
                        o = PyBytes_FromStringAndSize(values[i].data, (Py_ssize_t) values[i].size);
                if (!o || PyList_Append(out, o) < 0) {
                        Py_XDECREF(o);
                        return -1;
                }
                Py_DECREF(o);
        }
        return 0;
}

/* Fetch one page into out; returns the next cursor through *next, or NULL on failure. */
static PyObject *items_page(ConnObject *self, const char *name, uint64_t cursor, size_t max, unsigned what,
                            PyObject *out, uint64_t *next) {
        mpx_buf *keys = NULL, *values = NULL;
        size_t n = 0;
        int r, ok;

        MPXPY_SYNC(self, r, mpx_dict_items(self->m, name, cursor, max, what, &keys, &values, &n, next));
        if (r < 0)
                return mpxpy_error(r);
        ok = page_append(out, what, keys, values, n);
        mpx_bufs_free(keys, keys ? n : 0);
        mpx_bufs_free(values, values ? n : 0);
        return ok < 0 ? NULL : out;
}

static int parse_what(unsigned what) {
        if (what != MPX_DICT_KEYS && what != MPX_DICT_VALUES && what != MPX_DICT_ITEMS) {
                PyErr_SetString(PyExc_ValueError, "what must be DICT_KEYS, DICT_VALUES or DICT_ITEMS");
                return -1;
        }
        return 0;
}

PyDoc_STRVAR(dict_page_doc,
"dict_page(name, cursor=0, max=0, what=DICT_ITEMS)\n--\n\n"
"One page of the dict in insertion order: (entries, next_cursor), entries\n"
"being keys, values or (key, value) pairs as what says; next_cursor is 0\n"
"after the last page. max 0 is the daemon's page size.");
static PyObject *dict_page(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "cursor", "max", "what", NULL };
        const char *name;
        unsigned long long cursor = 0;
        Py_ssize_t max = 0;
        unsigned what = MPX_DICT_ITEMS;
        uint64_t next = 0;
        PyObject *out;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|KnI:dict_page", kwlist, &name, &cursor, &max, &what) ||
            parse_what(what) < 0 || !(out = PyList_New(0)))
                return NULL;
        if (!items_page(self, name, cursor, max < 0 ? 0 : (size_t) max, what, out, &next)) {
                Py_DECREF(out);
                return NULL;
        }
        return Py_BuildValue("(NK)", out, (unsigned long long) next);
}

PyDoc_STRVAR(dict_items_doc,
"dict_items(name, what=DICT_ITEMS)\n--\n\n"
"The whole dict as a list, walked a page at a time (each page atomic; keys\n"
"present during the whole walk come exactly once): keys, values or (key,\n"
"value) pairs as what says.");
static PyObject *dict_items(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "what", NULL };
        const char *name;
        unsigned what = MPX_DICT_ITEMS;
        uint64_t cursor = 0;
        PyObject *out;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|I:dict_items", kwlist, &name, &what) ||
            parse_what(what) < 0 || !(out = PyList_New(0)))
                return NULL;
        do {
                if (!items_page(self, name, cursor, 0, what, out, &cursor)) {
                        Py_DECREF(out);
                        return NULL;
                }
        } while (cursor);
        return out;
}

/* ---- lists ---- */

PyDoc_STRVAR(list_declare_doc,
"list_declare(name, flags=0)\n--\n\n"
"Create a list (flags: DURABLE or COUNTED). Returns 1 if created, 0 if it existed.");
static PyObject *list_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "flags", NULL };
        const char *name;
        unsigned flags = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|I:list_declare", kwlist, &name, &flags))
                return NULL;
        MPXPY_SYNC(self, r, mpx_list_declare_flags(self->m, name, flags));
        return mpxpy_int_result(r);
}

/* The calls taking a name and an item: append (length), remove (None), index (int). */
#define ITEM_CALL(fn, call, conv, doc) \
        PyDoc_STRVAR(fn##_doc, doc); \
        static PyObject *fn(ConnObject *self, PyObject *args, PyObject *kwds) { \
                static char *kwlist[] = { "name", "item", NULL }; \
                const char *name, *item; \
                Py_ssize_t size; \
                int64_t r; \
                if (!PyArg_ParseTupleAndKeywords(args, kwds, "sy#:" #fn, kwlist, &name, &item, &size)) \
                        return NULL; \
                MPXPY_SYNC(self, r, call(self->m, name, item, (size_t) size)); \
                return conv(r); \
        }

ITEM_CALL(list_append, mpx_list_append, mpxpy_int_result,
          "list_append(name, item)\n--\n\nl.append(item); returns the new length.")
ITEM_CALL(list_remove, mpx_list_remove, mpxpy_none_result,
          "list_remove(name, item)\n--\n\nRemove the first item equal to item; FileNotFoundError if none.")
ITEM_CALL(list_index, mpx_list_index, mpxpy_int_result,
          "list_index(name, item)\n--\n\nThe index of the first item equal to item; FileNotFoundError if none.")
MPXPY_NAME_CALL(list_len, mpx_list_len, mpxpy_int_result, "list_len(name)\n--\n\nlen(l).")
MPXPY_NAME_CALL(list_clear, mpx_list_clear, mpxpy_int_result,
                "list_clear(name)\n--\n\nRemove every item; returns how many were removed.")

PyDoc_STRVAR(list_extend_doc,
"list_extend(name, items)\n--\n\nl.extend(items) atomically; returns the new length.");
static PyObject *list_extend(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "items", NULL };
        const char *name;
        PyObject *items, *seq;
        struct iovec *iov;
        Py_ssize_t n;
        int64_t r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sO:list_extend", kwlist, &name, &items) ||
            mpxpy_iovecs(items, &iov, &n, &seq) < 0)
                return NULL;
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(iov);
                Py_DECREF(seq);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = mpx_list_extend(self->m, name, iov, (size_t) n);
        Py_END_ALLOW_THREADS
        mpxpy_leave(self);
        PyMem_Free(iov);
        Py_DECREF(seq);
        return mpxpy_int_result(r);
}

/* The calls taking a name and an index and returning a buffer: get and pop. */
#define INDEX_BUF_CALL(fn, call, dflt, doc) \
        PyDoc_STRVAR(fn##_doc, doc); \
        static PyObject *fn(ConnObject *self, PyObject *args, PyObject *kwds) { \
                static char *kwlist[] = { "name", "index", NULL }; \
                const char *name; \
                long long index = dflt; \
                mpx_buf b = { 0 }; \
                int r; \
                if (!PyArg_ParseTupleAndKeywords(args, kwds, dflt ? "s|L:" #fn : "sL:" #fn, kwlist, &name, \
                                                 &index)) \
                        return NULL; \
                MPXPY_SYNC(self, r, call(self->m, name, index, &b)); \
                return buf_result(r, &b); \
        }

INDEX_BUF_CALL(list_get, mpx_list_get, 0, "list_get(name, index)\n--\n\nl[index]; IndexError-like OSError(ERANGE).")
INDEX_BUF_CALL(list_pop, mpx_list_pop, -1, "list_pop(name, index=-1)\n--\n\nl.pop(index); OSError(ERANGE).")

PyDoc_STRVAR(list_set_doc, "list_set(name, index, item)\n--\n\nl[index] = item; OSError(ERANGE).");
static PyObject *list_set(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "index", "item", NULL };
        const char *name, *item;
        long long index;
        Py_ssize_t size;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sLy#:list_set", kwlist, &name, &index, &item, &size))
                return NULL;
        MPXPY_SYNC(self, r, mpx_list_set(self->m, name, index, item, (size_t) size));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(list_insert_doc,
"list_insert(name, index, item)\n--\n\nl.insert(index, item); returns the new length.");
static PyObject *list_insert(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "index", "item", NULL };
        const char *name, *item;
        long long index;
        Py_ssize_t size;
        int64_t r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sLy#:list_insert", kwlist, &name, &index, &item, &size))
                return NULL;
        MPXPY_SYNC(self, r, mpx_list_insert(self->m, name, index, item, (size_t) size));
        return mpxpy_int_result(r);
}

/* A slice bound: None is the end (or the start), else an int. */
static int slice_bound(PyObject *o, int64_t none, int64_t *ret) {
        if (o == Py_None) {
                *ret = none;
                return 0;
        }
        *ret = PyLong_AsLongLong(o);
        return *ret == -1 && PyErr_Occurred() ? -1 : 0;
}

PyDoc_STRVAR(list_slice_doc,
"list_slice(name, start=None, stop=None)\n--\n\n"
"l[start:stop] as a list of bytes, with Python's clamping. Large slices\n"
"come in several requests, each atomic.");
static PyObject *list_slice(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "start", "stop", NULL };
        const char *name;
        PyObject *start = Py_None, *stop = Py_None, *res;
        int64_t a, b, r;
        mpx_buf *items = NULL;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|OO:list_slice", kwlist, &name, &start, &stop) ||
            slice_bound(start, 0, &a) < 0 || slice_bound(stop, MPX_SLICE_END, &b) < 0)
                return NULL;
        MPXPY_SYNC(self, r, mpx_list_slice(self->m, name, a, b, &items));
        if (r < 0)
                return mpxpy_error(r);
        res = mpxpy_bufs_to_list(items, (size_t) r);
        mpx_bufs_free(items, (size_t) r);
        return res;
}

PyDoc_STRVAR(list_slice_version_doc,
"list_slice_version(name, start=None, stop=None)\n--\n\n"
"(items, version): list_slice() with the list's version, which changes with\n"
"every change of the list. The items are the one state of the list that\n"
"version names, even when they took several requests; give the version to\n"
"list_splice() to write back only if nothing changed meanwhile.\n"
"OSError(EAGAIN) when the list kept changing.");
static PyObject *list_slice_version(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "start", "stop", NULL };
        const char *name;
        PyObject *start = Py_None, *stop = Py_None, *list;
        int64_t a, b, r;
        uint64_t version = 0;
        mpx_buf *items = NULL;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|OO:list_slice_version", kwlist, &name, &start, &stop) ||
            slice_bound(start, 0, &a) < 0 || slice_bound(stop, MPX_SLICE_END, &b) < 0)
                return NULL;
        MPXPY_SYNC(self, r, mpx_list_slice_version(self->m, name, a, b, &items, &version));
        if (r < 0)
                return mpxpy_error(r);
        list = mpxpy_bufs_to_list(items, (size_t) r);
        mpx_bufs_free(items, (size_t) r);
        if (!list)
                return NULL;
        return Py_BuildValue("NK", list, (unsigned long long) version);
}

PyDoc_STRVAR(list_splice_doc,
"list_splice(name, start, stop, items, if_version=0)\n--\n\n"
"l[start:stop] = items (bytes), in one atomic step, with list_slice()'s\n"
"clamping (None: the start or the end): deletes (no items), inserts\n"
"(start == stop) or replaces. With if_version other than 0, only if the list\n"
"is still at that version (from list_slice_version() or an earlier splice).\n"
"Returns (done, version): done False when the version differed (nothing\n"
"changed), and the list's version after the call. OSError(EMSGSIZE) when\n"
"the items do not fit in one request.");
static PyObject *list_splice(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "start", "stop", "items", "if_version", NULL };
        const char *name;
        PyObject *start, *stop, *items, *seq;
        unsigned long long if_version = 0;
        uint64_t version = 0;
        struct iovec *iov;
        Py_ssize_t n;
        int64_t a, b;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sOOO|K:list_splice", kwlist, &name, &start, &stop, &items,
                                         &if_version) ||
            slice_bound(start, 0, &a) < 0 || slice_bound(stop, MPX_SLICE_END, &b) < 0 ||
            mpxpy_iovecs(items, &iov, &n, &seq) < 0)
                return NULL;
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(iov);
                Py_DECREF(seq);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = mpx_list_splice(self->m, name, a, b, if_version, iov, (size_t) n, &version);
        Py_END_ALLOW_THREADS
        mpxpy_leave(self);
        PyMem_Free(iov);
        Py_DECREF(seq);
        if (r < 0)
                return mpxpy_error(r);
        return Py_BuildValue("NK", PyBool_FromLong(r), (unsigned long long) version);
}

PyMethodDef mpxpy_shared_methods[] = {
        MPXPY_METHOD(dict_declare),
        MPXPY_METHOD(dict_set),
        MPXPY_METHOD(dict_get),
        MPXPY_METHOD(dict_pop),
        MPXPY_METHOD(dict_popitem),
        MPXPY_METHOD(dict_del),
        MPXPY_METHOD(dict_contains),
        MPXPY_METHOD(dict_len),
        MPXPY_METHOD(dict_clear),
        MPXPY_METHOD(dict_setdefault),
        MPXPY_METHOD(dict_update),
        MPXPY_METHOD(dict_incr),
        MPXPY_METHOD(dict_cas),
        MPXPY_METHOD(dict_page),
        MPXPY_METHOD(dict_items),
        MPXPY_METHOD(list_declare),
        MPXPY_METHOD(list_append),
        MPXPY_METHOD(list_extend),
        MPXPY_METHOD(list_get),
        MPXPY_METHOD(list_set),
        MPXPY_METHOD(list_insert),
        MPXPY_METHOD(list_pop),
        MPXPY_METHOD(list_remove),
        MPXPY_METHOD(list_index),
        MPXPY_METHOD(list_len),
        MPXPY_METHOD(list_slice),
        MPXPY_METHOD(list_slice_version),
        MPXPY_METHOD(list_splice),
        MPXPY_METHOD(list_clear),
        { NULL }
};
