/* SPDX-License-Identifier: MIT */
/*
 * Typed values and arrays: Connection.value_* and array_*, and Mapping, the
 * object array_map() returns. Elements are Python ints for the integer type
 * codes (stored wrapping around, as ctypes does), floats for 'f' and 'd',
 * and bytes of length 1 for 'c' (an int 0-255 is accepted too).
 */
#include "mpxpy.h"

#include <string.h>

/* The largest element, for buffers of one. */
typedef union {
        int64_t q;
        double d;
        float f;
        char c;
} element;

static int elem_size(char tc) {
        int n = mpx_typecode_size(tc);

        if (n < 0)
                PyErr_Format(PyExc_ValueError, "'%c' is not a type code of mpx (bBhHiIlLqQfdc)", tc);
        return n;
}

/* Store o as one element of type tc at dst. */
static int elem_from_python(char tc, PyObject *o, void *dst) {
        unsigned long long u;
        double d;

        if (tc == 'f' || tc == 'd') {
                d = PyFloat_AsDouble(o);
                if (d == -1.0 && PyErr_Occurred())
                        return -1;
                if (tc == 'f')
                        *(float *) dst = (float) d;
                else
                        *(double *) dst = d;
                return 0;
        }
        if (tc == 'c' && PyBytes_Check(o)) {
                if (PyBytes_GET_SIZE(o) != 1) {
                        PyErr_SetString(PyExc_TypeError, "an element of type 'c' is bytes of length 1");
                        return -1;
                }
                *(char *) dst = PyBytes_AS_STRING(o)[0];
                return 0;
        }
        if (!PyLong_Check(o)) {
                PyErr_Format(PyExc_TypeError, "an element of type '%c' is an int", tc);
                return -1;
        }
        u = PyLong_AsUnsignedLongLongMask(o);
        if (u == (unsigned long long) -1 && PyErr_Occurred())
                return -1;
        /* Little-endian x86-64 and the like: the low bytes are the element, as C's conversion gives them. */
        switch (mpx_typecode_size(tc)) {
        case 1: *(uint8_t *) dst = (uint8_t) u; break;
        case 2: *(uint16_t *) dst = (uint16_t) u; break;
        case 4: *(uint32_t *) dst = (uint32_t) u; break;
        default: *(uint64_t *) dst = (uint64_t) u; break;
        }
        return 0;
}

static PyObject *elem_to_python(char tc, const void *src) {
        switch (tc) {
        case 'b': return PyLong_FromLong(*(const int8_t *) src);
        case 'B': return PyLong_FromUnsignedLong(*(const uint8_t *) src);
        case 'h': return PyLong_FromLong(*(const int16_t *) src);
        case 'H': return PyLong_FromUnsignedLong(*(const uint16_t *) src);
        case 'i': return PyLong_FromLong(*(const int32_t *) src);
        case 'I': return PyLong_FromUnsignedLong(*(const uint32_t *) src);
        case 'l': case 'q': return PyLong_FromLongLong(*(const int64_t *) src);
        case 'L': case 'Q': return PyLong_FromUnsignedLongLong(*(const uint64_t *) src);
        case 'f': return PyFloat_FromDouble(*(const float *) src);
        case 'd': return PyFloat_FromDouble(*(const double *) src);
        case 'c': return PyBytes_FromStringAndSize(src, 1);
        }
        PyErr_Format(PyExc_ValueError, "'%c' is not a type code of mpx", tc);
        return NULL;
}

/* n elements of a Python sequence (bytes for 'c' too) into a new buffer. */
static void *elems_from_python(char tc, PyObject *values, uint32_t *ret_n) {
        PyObject *seq = PySequence_Fast(values, "expected a sequence of elements");
        Py_ssize_t n;
        int size = elem_size(tc);
        char *buf;

        if (!seq || size < 0) {
                Py_XDECREF(seq);
                return NULL;
        }
        n = PySequence_Fast_GET_SIZE(seq);
        if (n > (Py_ssize_t) UINT32_MAX || !(buf = PyMem_Malloc(n ? (size_t) n * (size_t) size : 1))) {
                Py_DECREF(seq);
                return PyErr_NoMemory();
        }
        for (Py_ssize_t i = 0; i < n; i++)
                if (elem_from_python(tc, PySequence_Fast_GET_ITEM(seq, i), buf + i * size) < 0) {
                        PyMem_Free(buf);
                        Py_DECREF(seq);
                        return NULL;
                }
        Py_DECREF(seq);
        *ret_n = (uint32_t) n;
        return buf;
}

static PyObject *elems_to_list(char tc, const char *buf, uint32_t n) {
        int size = mpx_typecode_size(tc);
        PyObject *list = PyList_New(n);

        for (uint32_t i = 0; list && i < n; i++) {
                PyObject *o = elem_to_python(tc, buf + (size_t) i * (size_t) size);

                if (!o)
                        Py_CLEAR(list);
                else
                        PyList_SET_ITEM(list, i, o);
        }
        return list;
}

PyDoc_STRVAR(array_declare_doc,
"array_declare(name, typecode, length_or_initial, flags=0)\n--\n\n"
"Create an array of type typecode: length zeros when given an int, else\n"
"filled from the sequence given (bytes for 'c'). flags: DURABLE or COUNTED. Returns 1 if\n"
"created, 0 if it existed with the same type and length (initial is then\n"
"ignored); FileExistsError otherwise.");
static PyObject *array_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "length_or_initial", "flags", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        PyObject *init;
        unsigned flags = 0;
        uint32_t n = 0;
        void *buf = NULL;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCO|I:array_declare", kwlist, &name, &tc, &init, &flags))
                return NULL;
        if (PyLong_Check(init)) {
                unsigned long v = PyLong_AsUnsignedLong(init);

                if (PyErr_Occurred() || v > UINT32_MAX) {
                        PyErr_SetString(PyExc_ValueError, "length must be between 0 and 2**32 - 1");
                        return NULL;
                }
                n = (uint32_t) v;
        } else if (!(buf = elems_from_python(tc, init, &n))) {
                return NULL;
        }
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(buf);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = mpx_array_declare_flags(self->m, name, tc, n, buf, flags);
        Py_END_ALLOW_THREADS
        mpxpy_leave(self);
        PyMem_Free(buf);
        return mpxpy_int_result(r);
}

PyDoc_STRVAR(value_declare_doc,
"value_declare(name, typecode, initial=None, flags=0)\n--\n\n"
"Create a value (an array of one, listed as a value): Value('i', 5000) is\n"
"value_declare(name, 'i', 5000). Returns 1 if created, 0 if it existed.");
static PyObject *value_declare(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "initial", "flags", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        PyObject *init = Py_None;
        unsigned flags = 0;
        element e;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sC|OI:value_declare", kwlist, &name, &tc, &init, &flags) ||
            elem_size(tc) < 0 || (init != Py_None && elem_from_python(tc, init, &e) < 0))
                return NULL;
        MPXPY_SYNC(self, r, mpx_value_declare_flags(self->m, name, tc, init == Py_None ? NULL : &e, flags));
        return mpxpy_int_result(r);
}

/* Read count elements from index: a list, or the element itself when one is asked for a value. */
static PyObject *elems_get(ConnObject *self, const char *name, char tc, int64_t index, uint32_t count, int one) {
        int size = elem_size(tc);
        char *buf;
        int r;
        PyObject *res;

        if (size < 0)
                return NULL;
        if (!(buf = PyMem_Malloc(count ? (size_t) count * (size_t) size : 1)))
                return PyErr_NoMemory();
        if (mpxpy_enter(self) < 0) {
                PyMem_Free(buf);
                return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        r = mpx_array_get(self->m, name, tc, index, count, buf);
        Py_END_ALLOW_THREADS
        mpxpy_leave(self);
        if (r < 0)
                res = mpxpy_error(r);
        else
                res = one ? elem_to_python(tc, buf) : elems_to_list(tc, buf, count);
        PyMem_Free(buf);
        return res;
}

PyDoc_STRVAR(array_get_doc,
"array_get(name, typecode, index=0, count=1)\n--\n\n"
"A list of count elements from index (negative counts from the end).\n"
"OSError(ERANGE), OSError(EPROTOTYPE) when typecode is not the array's.");
static PyObject *array_get(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "index", "count", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        long long index = 0;
        unsigned count = 1;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sC|LI:array_get", kwlist, &name, &tc, &index, &count))
                return NULL;
        return elems_get(self, name, tc, index, count, 0);
}

PyDoc_STRVAR(value_get_doc, "value_get(name, typecode)\n--\n\nThe value's element.");
static PyObject *value_get(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", NULL };
        const char *name;
        int tc;         /* "C" stores an int */

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sC:value_get", kwlist, &name, &tc))
                return NULL;
        return elems_get(self, name, tc, 0, 1, 1);
}

static PyObject *elems_set(ConnObject *self, const char *name, char tc, int64_t index, const void *buf,
                           uint32_t n) {
        int r;

        MPXPY_SYNC(self, r, mpx_array_set(self->m, name, tc, index, n, buf));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(array_set_doc,
"array_set(name, typecode, index, values)\n--\n\n"
"Store the sequence values (bytes for 'c') from index on.");
static PyObject *array_set(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "index", "values", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        long long index;
        PyObject *values, *res;
        uint32_t n;
        void *buf;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCLO:array_set", kwlist, &name, &tc, &index, &values) ||
            !(buf = elems_from_python(tc, values, &n)))
                return NULL;
        res = elems_set(self, name, tc, index, buf, n);
        PyMem_Free(buf);
        return res;
}

PyDoc_STRVAR(value_set_doc, "value_set(name, typecode, value)\n--\n\nStore the value's element.");
static PyObject *value_set(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "value", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        PyObject *v;
        element e;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCO:value_set", kwlist, &name, &tc, &v) ||
            elem_size(tc) < 0 || elem_from_python(tc, v, &e) < 0)
                return NULL;
        return elems_set(self, name, tc, 0, &e, 1);
}

static PyObject *elem_add(ConnObject *self, const char *name, char tc, int64_t index, PyObject *delta) {
        element d, out;
        int r;

        if (elem_size(tc) < 0 || elem_from_python(tc, delta, &d) < 0)
                return NULL;
        MPXPY_SYNC(self, r, mpx_array_add(self->m, name, tc, index, &d, &out));
        return r < 0 ? mpxpy_error(r) : elem_to_python(tc, &out);
}

PyDoc_STRVAR(array_add_doc,
"array_add(name, typecode, index, delta)\n--\n\n"
"Atomically add delta to the element at index; returns the new value.\n"
"OSError(EINVAL) for type 'c'.");
static PyObject *array_add(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "index", "delta", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        long long index;
        PyObject *delta;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCLO:array_add", kwlist, &name, &tc, &index, &delta))
                return NULL;
        return elem_add(self, name, tc, index, delta);
}

PyDoc_STRVAR(value_add_doc, "value_add(name, typecode, delta)\n--\n\nAtomically add delta; the new value.");
static PyObject *value_add(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "delta", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        PyObject *delta;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCO:value_add", kwlist, &name, &tc, &delta))
                return NULL;
        return elem_add(self, name, tc, 0, delta);
}

static PyObject *elem_cas(ConnObject *self, const char *name, char tc, int64_t index, PyObject *expected,
                          PyObject *new_value) {
        element e, n, cur;
        int r;

        if (elem_size(tc) < 0 || elem_from_python(tc, expected, &e) < 0 || elem_from_python(tc, new_value, &n) < 0)
                return NULL;
        MPXPY_SYNC(self, r, mpx_array_cas(self->m, name, tc, index, &e, &n, &cur));
        if (r < 0)
                return mpxpy_error(r);
        return Py_BuildValue("(NN)", PyBool_FromLong(r), elem_to_python(tc, &cur));
}

PyDoc_STRVAR(array_cas_doc,
"array_cas(name, typecode, index, expected, new)\n--\n\n"
"Atomically store new at index if it holds expected (bit for bit).\n"
"Returns (swapped, current), current being the element after the call.");
static PyObject *array_cas(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "index", "expected", "new", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        long long index;
        PyObject *e, *n;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCLOO:array_cas", kwlist, &name, &tc, &index, &e, &n))
                return NULL;
        return elem_cas(self, name, tc, index, e, n);
}

PyDoc_STRVAR(value_cas_doc,
"value_cas(name, typecode, expected, new)\n--\n\nAs array_cas() at index 0.");
static PyObject *value_cas(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "typecode", "expected", "new", NULL };
        const char *name;
        int tc;         /* "C" stores an int */
        PyObject *e, *n;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sCOO:value_cas", kwlist, &name, &tc, &e, &n))
                return NULL;
        return elem_cas(self, name, tc, 0, e, n);
}

/* ---- Mapping: the shared memory of an array, as a buffer ---- */

typedef struct {
        PyObject_HEAD
        mpx_map map;            /* addr NULL once released */
        Py_ssize_t exports;     /* memoryviews alive over it */
        Py_ssize_t shape;       /* length, as a buffer's shape */
        char format[2];
} MappingObject;

PyTypeObject *mpxpy_mapping_type;

static int mapping_getbuffer(MappingObject *self, Py_buffer *view, int flags) {
        int r;

        if (!self->map.addr) {
                PyErr_SetString(PyExc_ValueError, "the mapping is released");
                return -1;
        }
        r = PyBuffer_FillInfo(view, (PyObject *) self, self->map.addr,
                              (Py_ssize_t) self->map.length * mpx_typecode_size(self->map.typecode), 0, flags);
        if (r < 0)
                return r;
        /*
         * Typed, so that memoryview(m)[i] reads and writes elements, not
         * bytes; strides, when asked for, point at itemsize already.
         */
        if ((flags & PyBUF_FORMAT) && (flags & PyBUF_ND)) {
                view->format = self->format;
                view->itemsize = mpx_typecode_size(self->map.typecode);
                view->shape = &self->shape;
        }
        self->exports++;
        return 0;
}

static void mapping_releasebuffer(MappingObject *self, Py_buffer *view) {
        self->exports--;
}

static int mapping_release_map(MappingObject *self) {
        if (self->exports > 0) {
                PyErr_SetString(PyExc_BufferError, "the mapping has memoryviews alive: release them first");
                return -1;
        }
        mpx_map_release(&self->map);
        self->map.addr = NULL;
        return 0;
}

PyDoc_STRVAR(mapping_release_doc,
"release()\n--\n\n"
"Unmap now (BufferError while memoryviews of it are alive). Deallocation\n"
"unmaps too.");
static PyObject *mapping_release(MappingObject *self, PyObject *unused) {
        if (self->map.addr && mapping_release_map(self) < 0)
                return NULL;
        Py_RETURN_NONE;
}

static void mapping_dealloc(MappingObject *self) {
        PyTypeObject *tp = Py_TYPE(self);

        if (self->map.addr)
                mpx_map_release(&self->map);
        tp->tp_free((PyObject *) self);
        Py_DECREF(tp);
}

static PyObject *mapping_get_typecode(MappingObject *self, void *closure) {
        return PyUnicode_FromStringAndSize(&self->map.typecode, 1);
}

static PyObject *mapping_get_length(MappingObject *self, void *closure) {
        return PyLong_FromUnsignedLong(self->map.length);
}

static PyObject *mapping_get_released(MappingObject *self, void *closure) {
        return PyBool_FromLong(!self->map.addr);
}

static Py_ssize_t mapping_len(MappingObject *self) {
        return self->map.length;
}

static PyGetSetDef mapping_getset[] = {
        { "typecode", (getter) mapping_get_typecode, NULL, "The array's type code.", NULL },
        { "length", (getter) mapping_get_length, NULL, "The number of elements.", NULL },
        { "released", (getter) mapping_get_released, NULL, "True once unmapped.", NULL },
        { NULL }
};

static PyMethodDef mapping_methods[] = {
        { "release", (PyCFunction) mapping_release, METH_NOARGS, mapping_release_doc },
        { NULL }
};

PyDoc_STRVAR(mapping_doc,
"The memory of an array mapped into this process, from Connection.array_map().\n"
"It supports the buffer protocol with the array's type as format:\n"
"memoryview(mapping)[i] reads and writes element i in place, with no\n"
"request to the daemon, and every process mapping the array sees it at\n"
"once. Plain loads and stores are not atomic across processes: pair them\n"
"with a lock, or use array_add()/array_cas(). The mapping lives as long as\n"
"this object (and its memoryviews), independently of the Connection, and\n"
"survives the array's deletion.");

static PyType_Slot mapping_slots[] = {
        { Py_tp_doc, (void *) mapping_doc },
        { Py_tp_dealloc, mapping_dealloc },
        { Py_tp_getset, mapping_getset },
        { Py_tp_methods, mapping_methods },
        { Py_sq_length, mapping_len },
        { Py_bf_getbuffer, mapping_getbuffer },
        { Py_bf_releasebuffer, mapping_releasebuffer },
        { 0, NULL }
};

static PyType_Spec mapping_spec = {
        .name = "mpx._mpx.Mapping",
        .basicsize = sizeof(MappingObject),
        .flags = Py_TPFLAGS_DEFAULT,
        .slots = mapping_slots,
};

PyDoc_STRVAR(array_map_doc,
"array_map(name)\n--\n\n"
"Map the array's (or value's) memory into this process and return a\n"
"Mapping: memoryview(connection.array_map(name)) is a typed, writable view\n"
"shared with every other process that maps it and with the daemon.");
static PyObject *array_map(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        mpx_map map = { 0 };
        MappingObject *o;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:array_map", kwlist, &name))
                return NULL;
        MPXPY_SYNC(self, r, mpx_array_map(self->m, name, &map));
        if (r < 0)
                return mpxpy_error(r);
        o = PyObject_New(MappingObject, mpxpy_mapping_type);
        if (!o) {
                mpx_map_release(&map);
                return NULL;
        }
        o->map = map;
        o->exports = 0;
        o->shape = map.length;
        /* memoryview knows 'c' as bytes of one, and the others by struct's native codes. */
        o->format[0] = map.typecode;
        o->format[1] = '\0';
        return (PyObject *) o;
}

int mpxpy_array_init_module(PyObject *module) {
        PyObject *type = PyType_FromSpec(&mapping_spec);

        if (!type)
                return -1;
        mpxpy_mapping_type = (PyTypeObject *) type;
        return PyModule_AddObject(module, "Mapping", Py_NewRef(type));
}

PyMethodDef mpxpy_array_methods[] = {
        MPXPY_METHOD(array_declare),
        MPXPY_METHOD(value_declare),
        MPXPY_METHOD(array_get),
        MPXPY_METHOD(value_get),
        MPXPY_METHOD(array_set),
        MPXPY_METHOD(value_set),
        MPXPY_METHOD(array_add),
        MPXPY_METHOD(value_add),
        MPXPY_METHOD(array_cas),
        MPXPY_METHOD(value_cas),
        MPXPY_METHOD(array_map),
        { NULL }
};
