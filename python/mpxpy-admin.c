/* SPDX-License-Identifier: MIT */
/*
 * Calls on objects of any type and inspection: Connection.delete, chmod,
 * chown, ping, object_info, list_objects, stats. Descriptions are dicts of
 * their fields, with "name" and "type" when the daemon gives them.
 */
#include "mpxpy.h"

#include <math.h>
#include <string.h>

MPXPY_NAME_CALL(delete, mpx_delete, mpxpy_none_result,
                "delete(name)\n--\n\nDelete an object of any type; its waiters get OSError(EIDRM).")

PyDoc_STRVAR(ref_doc,
"ref(name, lease=0)\n--\n\n"
"Take a reference to a counted object (declared with COUNTED) and return\n"
"its token (an int, never 0). With lease 0 this connection holds it until\n"
"unref() or until it closes; otherwise it is in transit for lease seconds\n"
"(at most a day): held by no connection, it ends when any connection gives\n"
"its token to unref(), or by itself when the lease runs out. A handle on\n"
"its way to another process takes one, so that the object outlives its\n"
"sender. FileNotFoundError, PermissionError, OSError(EINVAL) (not counted,\n"
"or the lease is too long), OSError(EUSERS) (too many references).");
static PyObject *ref(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "lease", NULL };
        const char *name;
        double lease = 0.0;
        uint64_t token = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|d:ref", kwlist, &name, &lease))
                return NULL;
        if (!(lease >= 0.0 && lease <= 4294967.295)) {
                PyErr_SetString(PyExc_ValueError, "lease must be a number of seconds >= 0");
                return NULL;
        }
        MPXPY_SYNC(self, r, mpx_ref(self->m, name, (uint32_t) ceil(lease * 1000.0), &token));
        return r < 0 ? mpxpy_error(r) : PyLong_FromUnsignedLongLong(token);
}

PyDoc_STRVAR(unref_doc,
"unref(name, token=0)\n--\n\n"
"End a reference to a counted object: the one token names (held by any\n"
"connection, or in transit), or with token 0 one this connection holds.\n"
"Returns True when it was the last and the object is now deleted, False\n"
"when the object lives on. FileNotFoundError (no such object or\n"
"reference), PermissionError, OSError(EINVAL) (not counted).");
static PyObject *unref(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "token", NULL };
        const char *name;
        unsigned long long token = 0;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|K:unref", kwlist, &name, &token))
                return NULL;
        MPXPY_SYNC(self, r, mpx_unref(self->m, name, token));
        return mpxpy_bool_result(r);
}

PyDoc_STRVAR(conn_chmod_doc,
"chmod(name, mode)\n--\n\n"
"Set an object's mode as chmod(2) does a file's (read 4 and write 2 for\n"
"owner, group and others, such as 0o660). PermissionError unless the owner\n"
"or an administrator.");
static PyObject *conn_chmod(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "mode", NULL };
        const char *name;
        unsigned mode;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "sI:chmod", kwlist, &name, &mode))
                return NULL;
        MPXPY_SYNC(self, r, mpx_chmod(self->m, name, mode));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(conn_chown_doc,
"chown(name, uid=-1, gid=-1)\n--\n\n"
"Give an object to another owner and group; -1 leaves that one as it is.");
static PyObject *conn_chown(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", "uid", "gid", NULL };
        const char *name;
        long long uid = -1, gid = -1;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s|LL:chown", kwlist, &name, &uid, &gid))
                return NULL;
        MPXPY_SYNC(self, r, mpx_chown(self->m, name, (uid_t) uid, (gid_t) gid));
        return mpxpy_none_result(r);
}

PyDoc_STRVAR(ping_doc, "ping()\n--\n\nA round trip to the daemon.");
static PyObject *ping(ConnObject *self, PyObject *unused) {
        int r;

        MPXPY_SYNC(self, r, mpx_ping(self->m));
        return mpxpy_none_result(r);
}

/* An mpx_info as a dict: its fields, plus name and type when set. */
static PyObject *info_to_dict(const mpx_info *info) {
        PyObject *d = PyDict_New();

        if (d && info->name && PyDict_SetItemString(d, "name", PyUnicode_FromString(info->name)) < 0)
                Py_CLEAR(d);
        if (d && info->type && PyDict_SetItemString(d, "type", PyUnicode_FromString(info->type)) < 0)
                Py_CLEAR(d);
        for (size_t i = 0; d && i < info->n_fields; i++) {
                const mpx_field *f = &info->fields[i];
                PyObject *v = f->is_str ? PyUnicode_DecodeUTF8(f->str, (Py_ssize_t) strlen(f->str), "replace")
                                        : PyLong_FromLongLong(f->num);

                if (!v || PyDict_SetItemString(d, f->key, v) < 0)
                        Py_CLEAR(d);
                Py_XDECREF(v);
        }
        return d;
}

PyDoc_STRVAR(object_info_doc,
"object_info(name)\n--\n\n"
"Describe one object: a dict with name, type and its fields (size,\n"
"maxsize, getters, puts ...; docs/PROTOCOL.md lists them).");
static PyObject *object_info(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "name", NULL };
        const char *name;
        mpx_info info = { 0 };
        PyObject *d;
        int r;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "s:object_info", kwlist, &name))
                return NULL;
        MPXPY_SYNC(self, r, mpx_object_info(self->m, name, &info));
        if (r < 0)
                return mpxpy_error(r);
        d = info_to_dict(&info);
        mpx_info_clear(&info);
        return d;
}

PyDoc_STRVAR(stats_doc, "stats()\n--\n\nDaemon-wide statistics as a dict (version, uptime, clients ...).");
static PyObject *stats(ConnObject *self, PyObject *unused) {
        mpx_info info = { 0 };
        PyObject *d;
        int r;

        MPXPY_SYNC(self, r, mpx_stats(self->m, &info));
        if (r < 0)
                return mpxpy_error(r);
        d = info_to_dict(&info);
        mpx_info_clear(&info);
        return d;
}

/* Append a page of descriptions to out; NULL on failure. */
static PyObject *infos_append(PyObject *out, mpx_info *items, size_t n) {
        for (size_t i = 0; out && i < n; i++) {
                PyObject *d = info_to_dict(&items[i]);

                if (!d || PyList_Append(out, d) < 0)
                        out = NULL;
                Py_XDECREF(d);
        }
        return out;
}

PyDoc_STRVAR(list_objects_doc,
"list_objects(type=None)\n--\n\n"
"Every object (or those of one type: 'queue', 'joinable', 'dict', 'list',\n"
"'semaphore', 'event', 'barrier', 'value', 'array', 'pipe', 'pool'), in\n"
"creation order, as a list of dicts like object_info()'s; fetched a page\n"
"at a time. OSError(EINVAL) for an unknown type.");
static PyObject *list_objects(ConnObject *self, PyObject *args, PyObject *kwds) {
        static char *kwlist[] = { "type", NULL };
        const char *type = NULL;
        uint64_t cursor = 0;
        PyObject *out;

        if (!PyArg_ParseTupleAndKeywords(args, kwds, "|z:list_objects", kwlist, &type) || !(out = PyList_New(0)))
                return NULL;
        do {
                mpx_info *items = NULL;
                size_t n = 0;
                int r;
                PyObject *ok;

                if (mpxpy_enter(self) < 0) {
                        Py_DECREF(out);
                        return NULL;
                }
                Py_BEGIN_ALLOW_THREADS
                r = mpx_list_objects(self->m, cursor, 0, type, &items, &n, &cursor);
                Py_END_ALLOW_THREADS
                mpxpy_leave(self);
                ok = r < 0 ? mpxpy_error(r) : infos_append(out, items, n);
                mpx_objects_free(items, n);
                if (!ok) {
                        Py_DECREF(out);
                        return NULL;
                }
        } while (cursor);
        return out;
}

PyMethodDef mpxpy_admin_methods[] = {
        MPXPY_METHOD(delete),
        MPXPY_METHOD(ref),
        MPXPY_METHOD(unref),
        { "chmod", (PyCFunction) (void (*)(void)) conn_chmod, METH_VARARGS | METH_KEYWORDS, conn_chmod_doc },
        { "chown", (PyCFunction) (void (*)(void)) conn_chown, METH_VARARGS | METH_KEYWORDS, conn_chown_doc },
        { "ping", (PyCFunction) ping, METH_NOARGS, ping_doc },
        MPXPY_METHOD(object_info),
        { "stats", (PyCFunction) stats, METH_NOARGS, stats_doc },
        MPXPY_METHOD(list_objects),
        { NULL }
};
