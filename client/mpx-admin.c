/* SPDX-License-Identifier: MIT */
/*
 * libmpx inspection and object-wide calls: delete, chmod, chown, info, list and stats,
 * and the field lists their replies carry.
 *
 * Everything returned here is a deep, NUL-terminated, malloc'd copy of the
 * reply, so that it outlives the connection's reply buffer; mpx_info_clear()
 * and mpx_objects_free() undo it. What the fields mean is the daemon's business:
 * this file passes through whatever keys it sends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-internal.h"

/* Delete an object of any type; its waiters get -EIDRM. */
int64_t mpx_delete_async(mpx *m, const char *name, mpx_callback *cb, void *userdata) {
        return conn_name_only(m, WIRE_OP_DELETE, name, NULL, cb, userdata);
}

int mpx_delete(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_delete_async(m, name, CONN_SYNC));
}

/* Set an object's mode: the owner's or a superuser's. */
int64_t mpx_chmod_async(mpx *m, const char *name, unsigned mode, mpx_callback *cb, void *userdata) {
        size_t start;
        int r;

        if (mode > 07777)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_CHMOD, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u16(&m->out, (uint16_t) mode);
        return conn_submit(m, start, r, NULL, cb, userdata);
}

int mpx_chmod(mpx *m, const char *name, unsigned mode) {
        return (int) conn_sync(m, mpx_chmod_async(m, name, mode, CONN_SYNC));
}

/* Give an object to another owner or group; (uid_t) -1 and (gid_t) -1 leave them. */
int64_t mpx_chown_async(mpx *m, const char *name, uid_t uid, gid_t gid, mpx_callback *cb, void *userdata) {
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_CHOWN, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, uid == (uid_t) -1 ? WIRE_ID_UNCHANGED : (uint32_t) uid);
        if (r >= 0)
                r = wire_put_u32(&m->out, gid == (gid_t) -1 ? WIRE_ID_UNCHANGED : (uint32_t) gid);
        return conn_submit(m, start, r, NULL, cb, userdata);
}

int mpx_chown(mpx *m, const char *name, uid_t uid, gid_t gid) {
        return (int) conn_sync(m, mpx_chown_async(m, name, uid, gid, CONN_SYNC));
}

/* Free an array of fields and the strings they hold. */
void conn_fields_free(mpx_field *fields, size_t n) {
        if (!fields)
                return;
        for (size_t i = 0; i < n; i++) {
                free(fields[i].key);
                free(fields[i].str);
        }
        free(fields);
}

/* Parse one field (u8 key_len, key, u8 kind, value) into *ret. */
static int admin_get_field(struct wire_reader *r, mpx_field *ret) {
        char key[UINT8_MAX];
        const char *s;
        uint8_t key_len, kind;
        uint16_t s_len;
        int64_t v;
        mpx_field f = {};

        if (!wire_get_u8(r, &key_len))
                return -EPROTO;
        for (size_t i = 0; i < key_len; i++)
                if (!wire_get_u8(r, (uint8_t *) &key[i]))
                        return -EPROTO;
        if (!wire_get_u8(r, &kind))
                return -EPROTO;
        switch (kind) {
        case WIRE_FIELD_INT:
                if (!wire_get_i64(r, &v))
                        return -EPROTO;
                f.num = v;
                break;
        case WIRE_FIELD_STR:
                if (!wire_get_str(r, &s, &s_len))
                        return -EPROTO;
                f.is_str = 1;
                f.str = conn_strndup(s, s_len);
                if (!f.str)
                        return -ENOMEM;
                break;
        default:
                return -EPROTO;
        }
        f.key = conn_strndup(key, key_len);
        if (!f.key) {
                free(f.str);
                return -ENOMEM;
        }
        *ret = f;
        return 0;
}

/* Parse a field list into a heap array of fields. */
int conn_get_fields(struct wire_reader *r, mpx_field **ret_fields, size_t *ret_n) {
        mpx_field *fields;
        uint16_t n;
        size_t i;
        int k;

        if (!wire_get_u16(r, &n))
                return -EPROTO;
        /* A field takes at least 4 bytes: do not let a bad count size an allocation. */
        if (n > r->left / 4)
                return -EPROTO;
        /* Never NULL, even for an empty list, so callers may index without a check. */
        fields = calloc(n ? n : 1, sizeof(*fields));
        if (!fields)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                k = admin_get_field(r, &fields[i]);
                if (k < 0) {
                        conn_fields_free(fields, i);
                        return k;
                }
        }
        *ret_fields = fields;
        *ret_n = n;
        return 0;
}

/* The name of an object type; one this library does not know yet gets a made-up name. */
static char *admin_type_name(uint8_t type) {
        const char *s = wire_type_name(type);
        char buf[16];

        if (!s || type == WIRE_TYPE_ANY) {
                snprintf(buf, sizeof(buf), "type-%u", (unsigned) type);
                s = buf;
        }
        return conn_strndup(s, strlen(s));
}

/* Free what an mpx_info holds and zero it. */
void mpx_info_clear(mpx_info *info) {
        if (!info)
                return;
        free(info->name);
        free(info->type);
        conn_fields_free(info->fields, info->n_fields);
        memset(info, 0, sizeof(*info));
}

/* Look up a field of an mpx_info by key. */
const mpx_field *mpx_info_get(const mpx_info *info, const char *key) {
        if (!info || !key)
                return NULL;
        for (size_t i = 0; i < info->n_fields; i++)
                if (strcmp(info->fields[i].key, key) == 0)
                        return &info->fields[i];
        return NULL;
}

/* Parse "u8 type, fields" into *ret, named name (name_len bytes). */
static int admin_get_described(struct wire_reader *r, const char *name, size_t name_len,
                               mpx_info *ret) {
        mpx_info info = {};
        uint8_t type;
        int k;

        if (!wire_get_u8(r, &type))
                return -EPROTO;
        info.name = conn_strndup(name, name_len);
        info.type = admin_type_name(type);
        if (!info.name || !info.type) {
                mpx_info_clear(&info);
                return -ENOMEM;
        }
        k = conn_get_fields(r, &info.fields, &info.n_fields);
        if (k < 0) {
                mpx_info_clear(&info);
                return k;
        }
        *ret = info;
        return 0;
}

/* Describe one object: its type and fields. */
int mpx_object_info(mpx *m, const char *name, mpx_info *ret) {
        struct wire_reader rd;
        mpx_info info;
        size_t start;
        int r;

        if (!ret)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_INFO, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        r = admin_get_described(&rd, name, strlen(name), &info);
        if (r < 0)
                return r;
        if (!wire_reader_done(&rd)) {
                mpx_info_clear(&info);
                return -EPROTO;
        }
        *ret = info;
        return 0;
}

/* Free an array returned by mpx_list_objects(). */
mpx_info *mpx_objects_free(mpx_info *items, size_t n) {
        if (!items)
                return NULL;
        for (size_t i = 0; i < n; i++)
                mpx_info_clear(&items[i]);
        free(items);
        return NULL;
}

/* List one page of objects, in creation order. */
int mpx_list_objects(mpx *m, uint64_t cursor, size_t max, const char *type,
             mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        struct wire_reader rd;
        mpx_info *items;
        uint64_t next;
        uint32_t n;
        size_t start, i;
        int r, t = WIRE_TYPE_ANY;

        if (!ret_items || !ret_n || !ret_next)
                return -EINVAL;
        if (type) {
                t = wire_type_from_name(type);
                if (t < 0)
                        return -EINVAL;
        }
        /* The daemon gives at most 1000 a page; 0 asks for its default. */
        if (max > UINT32_MAX)
                max = UINT32_MAX;

        r = conn_begin(m, WIRE_OP_LIST, &start);
        if (r >= 0)
                r = wire_put_u64(&m->out, cursor);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) max);
        if (r >= 0)
                r = wire_put_u8(&m->out, (uint8_t) t);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (!wire_get_u64(&rd, &next) || !wire_get_u32(&rd, &n) || (max > 0 && n > max))
                return -EPROTO;
        /* An item takes at least 5 bytes (name, type, field count): bound n by the body. */
        if (n > rd.left / 5)
                return -EPROTO;

        items = calloc(n ? n : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                const char *name;
                size_t name_len;

                if (!wire_get_name(&rd, &name, &name_len)) {
                        r = -EPROTO;
                        goto fail;
                }
                r = admin_get_described(&rd, name, name_len, &items[i]);
                if (r < 0)
                        goto fail;
        }
        if (!wire_reader_done(&rd)) {
                r = -EPROTO;
                goto fail;
        }
        *ret_items = items;
        *ret_n = n;
        *ret_next = next;
        return 0;

fail:
        mpx_objects_free(items, i);
        return r;
}

/* Daemon-wide statistics as a field list. */
int mpx_stats(mpx *m, mpx_info *ret) {
        struct wire_reader rd;
        mpx_info info = {};
        size_t start;
        int r;

        if (!ret)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_STATS, &start);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        r = conn_get_fields(&rd, &info.fields, &info.n_fields);
        if (r < 0)
                return r;
        if (!wire_reader_done(&rd)) {
                mpx_info_clear(&info);
                return -EPROTO;
        }
        *ret = info;
        return 0;
}

/* One page of a listing whose entries are bare field lists (CLIENTS, USERS). */
static int fields_page(mpx *m, uint16_t op, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n,
                       uint64_t *ret_next) {
        struct wire_reader rd;
        mpx_info *items;
        uint64_t next;
        uint32_t n;
        size_t start, i;
        int r;

        if (!ret_items || !ret_n || !ret_next)
                return -EINVAL;
        if (max > UINT32_MAX)
                max = UINT32_MAX;
        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = wire_put_u64(&m->out, cursor);
        if (r >= 0)
                r = wire_put_u32(&m->out, (uint32_t) max);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        /* An entry takes at least 2 bytes (its field count): bound n by the body. */
        if (!wire_get_u64(&rd, &next) || !wire_get_u32(&rd, &n) || (max > 0 && n > max) || n > rd.left / 2)
                return -EPROTO;
        items = calloc(n ? n : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                r = conn_get_fields(&rd, &items[i].fields, &items[i].n_fields);
                if (r < 0)
                        goto fail;
        }
        if (!wire_reader_done(&rd)) {
                r = -EPROTO;
                goto fail;
        }
        *ret_items = items;
        *ret_n = n;
        *ret_next = next;
        return 0;

fail:
        mpx_objects_free(items, i);
        return r;
}

/* List one page of the daemon's connections. */
int mpx_clients(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return fields_page(m, WIRE_OP_CLIENTS, cursor, max, ret_items, ret_n, ret_next);
}

/* List one page of the uids the daemon accounts for. */
int mpx_users(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return fields_page(m, WIRE_OP_USERS, cursor, max, ret_items, ret_n, ret_next);
}
