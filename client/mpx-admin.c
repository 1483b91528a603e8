/* SPDX-License-Identifier: MIT */
/*
 * libmpx inspection and object-wide calls: delete, chmod, chown, info, list,
 * stats, clients and users, and the field lists their replies carry.
 *
 * Each call builds one request and names the parser of its reply
 * (mpx-internal.h); the synchronous form waits for the asynchronous one.
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
        return conn_call(m, WIRE_OP_DELETE, NULL, cb, userdata, "n", name);
}

int mpx_delete(mpx *m, const char *name) {
        return (int) conn_sync(m, mpx_delete_async(m, name, CONN_SYNC));
}

/* Set an object's mode: the owner's or a superuser's. */
int64_t mpx_chmod_async(mpx *m, const char *name, unsigned mode, mpx_callback *cb, void *userdata) {
        if (mode > 07777)
                return -EINVAL;
        return conn_call(m, WIRE_OP_CHMOD, NULL, cb, userdata, "nH", name, mode);
}

int mpx_chmod(mpx *m, const char *name, unsigned mode) {
        return (int) conn_sync(m, mpx_chmod_async(m, name, mode, CONN_SYNC));
}

/* Give an object to another owner or group; (uid_t) -1 and (gid_t) -1 leave them. */
int64_t mpx_chown_async(mpx *m, const char *name, uid_t uid, gid_t gid, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_CHOWN, NULL, cb, userdata, "nII", name,
                         uid == (uid_t) -1 ? WIRE_ID_UNCHANGED : (uint32_t) uid,
                         gid == (gid_t) -1 ? WIRE_ID_UNCHANGED : (uint32_t) gid);
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

/*
 * INFO's reply does not name the object: its parser takes the name from
 * out[1]. A synchronous call waits for the reply, so that is the caller's
 * own; the caller of an asynchronous one may reuse its name at once, so the
 * request keeps a copy, freed before the caller's callback runs.
 */
struct admin_named {
        mpx_callback *cb;
        void *userdata;
        char name[];
};

static void admin_named_done(mpx *m, int64_t result, void *userdata) {
        struct admin_named *c = userdata;
        mpx_callback *cb = c->cb;
        void *cb_userdata = c->userdata;

        free(c);
        cb(m, result, cb_userdata);
}

/* INFO's reply: u8 type, fields, named out[1]; or with no name STATS' reply, a field list: to out[0]. */
static int64_t admin_parse_info(struct conn_request *rq, struct wire_reader *rd) {
        const char *name = rq->reply.out[1];
        mpx_info info = {};
        int r;

        if (name)
                r = admin_get_described(rd, name, strlen(name), &info);
        else
                r = conn_get_fields(rd, &info.fields, &info.n_fields);
        if (r < 0)
                return r;
        if (!wire_reader_done(rd)) {
                mpx_info_clear(&info);
                return -EPROTO;
        }
        *(mpx_info *) rq->reply.out[0] = info;
        return 0;
}

/* REF's reply: u64 token, to *out[0]. */
static int64_t admin_parse_token(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t token;

        if (!wire_get_u64(rd, &token) || !wire_reader_done(rd) || token == 0)
                return -EPROTO;
        if (rq->reply.out[0])
                *(uint64_t *) rq->reply.out[0] = token;
        return 0;
}

/* Take a reference to a counted object: held by this connection, or in transit for lease_ms. */
int64_t mpx_ref_async(mpx *m, const char *name, uint32_t lease_ms, uint64_t *ret_token, mpx_callback *cb,
                      void *userdata) {
        return conn_call(m, WIRE_OP_REF, &(struct conn_reply) { .parse = admin_parse_token, .out = { ret_token } },
                         cb, userdata, "nI", name, lease_ms);
}

int mpx_ref(mpx *m, const char *name, uint32_t lease_ms, uint64_t *ret_token) {
        return (int) conn_sync(m, mpx_ref_async(m, name, lease_ms, ret_token, CONN_SYNC));
}

/* End a reference: the one token names, or (token 0) one this connection holds. */
int64_t mpx_unref_async(mpx *m, const char *name, uint64_t token, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_UNREF, &conn_reply_bool, cb, userdata, "nQ", name, token);
}

int mpx_unref(mpx *m, const char *name, uint64_t token) {
        return (int) conn_sync(m, mpx_unref_async(m, name, token, CONN_SYNC));
}

/* Describe one object: its type and fields. */
int64_t mpx_object_info_async(mpx *m, const char *name, mpx_info *ret, mpx_callback *cb, void *userdata) {
        struct admin_named *c = NULL;
        size_t start, len;
        int64_t id;
        int r;

        if (!ret)
                return -EINVAL;
        r = conn_begin(m, WIRE_OP_INFO, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0 && cb && cb != conn_sync_done) {
                len = strlen(name);
                c = malloc(sizeof(*c) + len + 1);
                if (c) {
                        *c = (struct admin_named) { .cb = cb, .userdata = userdata };
                        memcpy(c->name, name, len + 1);
                        cb = admin_named_done;
                        userdata = c;
                } else
                        r = -ENOMEM;
        }
        id = conn_submit(m, start, r,
                         &(struct conn_reply) { .parse = admin_parse_info,
                                                .out = { ret, c ? c->name : (void *) name } },
                         cb, userdata);
        if (id < 0)
                free(c);
        return id;
}

int mpx_object_info(mpx *m, const char *name, mpx_info *ret) {
        return (int) conn_sync(m, mpx_object_info_async(m, name, ret, CONN_SYNC));
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

/*
 * The reply of a listing: u64 next, u32 n, then n entries into a new array,
 * to out[0] (the array), out[1] (n) and out[2] (next). arg[0] is the most
 * entries asked for (0: the daemon's default); arg[1] says whether entries
 * are named and described objects (LIST) or bare field lists (CLIENTS,
 * USERS).
 */
static int64_t admin_parse_page(struct conn_request *rq, struct wire_reader *rd) {
        uint64_t max = rq->reply.arg[0], next;
        bool named = rq->reply.arg[1];
        mpx_info *items;
        uint32_t n;
        size_t i;
        int r;

        if (!wire_get_u64(rd, &next) || !wire_get_u32(rd, &n) || (max > 0 && n > max))
                return -EPROTO;
        /*
         * An object takes at least 5 bytes (name, type, field count), a field
         * list 2 (its count): bound n by the body.
         */
        if (n > rd->left / (named ? 5 : 2))
                return -EPROTO;

        items = calloc(n ? n : 1, sizeof(*items));
        if (!items)
                return -ENOMEM;
        for (i = 0; i < n; i++) {
                const char *name;
                size_t name_len;

                if (!named) {
                        r = conn_get_fields(rd, &items[i].fields, &items[i].n_fields);
                        if (r < 0)
                                goto fail;
                        continue;
                }
                if (!wire_get_name(rd, &name, &name_len)) {
                        r = -EPROTO;
                        goto fail;
                }
                r = admin_get_described(rd, name, name_len, &items[i]);
                if (r < 0)
                        goto fail;
        }
        r = conn_done(rd);
        if (r < 0)
                goto fail;
        *(mpx_info **) rq->reply.out[0] = items;
        *(size_t *) rq->reply.out[1] = n;
        *(uint64_t *) rq->reply.out[2] = next;
        return 0;

fail:
        mpx_objects_free(items, i);
        return r;
}

/*
 * One page of a listing: LIST, of objects of type t (WIRE_TYPE_ANY: all),
 * named and described; or with t negative CLIENTS or USERS, whose entries
 * are bare field lists.
 */
static int64_t admin_page(mpx *m, uint16_t op, int t, uint64_t cursor, size_t max, mpx_info **ret_items,
                          size_t *ret_n, uint64_t *ret_next, mpx_callback *cb, void *userdata) {
        if (!ret_items || !ret_n || !ret_next)
                return -EINVAL;
        /* The daemon gives at most 1000 a page; 0 asks for its default. */
        if (max > UINT32_MAX)
                max = UINT32_MAX;
        return conn_call(m, op,
                         &(struct conn_reply) { .parse = admin_parse_page, .out = { ret_items, ret_n, ret_next },
                                                .arg = { max, t >= 0 } },
                         cb, userdata, t >= 0 ? "QIB" : "QI", cursor, (uint32_t) max, (unsigned) t);
}

/* List one page of objects, in creation order. */
int64_t mpx_list_objects_async(mpx *m, uint64_t cursor, size_t max, const char *type, mpx_info **ret_items,
                               size_t *ret_n, uint64_t *ret_next, mpx_callback *cb, void *userdata) {
        int t = type ? wire_type_from_name(type) : WIRE_TYPE_ANY;

        if (t < 0)
                return -EINVAL;
        return admin_page(m, WIRE_OP_LIST, t, cursor, max, ret_items, ret_n, ret_next, cb, userdata);
}

int mpx_list_objects(mpx *m, uint64_t cursor, size_t max, const char *type,
             mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return (int) conn_sync(m, mpx_list_objects_async(m, cursor, max, type, ret_items, ret_n, ret_next,
                                                         CONN_SYNC));
}

/* Daemon-wide statistics as a field list. */
int64_t mpx_stats_async(mpx *m, mpx_info *ret, mpx_callback *cb, void *userdata) {
        if (!ret)
                return -EINVAL;
        return conn_call(m, WIRE_OP_STATS, &(struct conn_reply) { .parse = admin_parse_info, .out = { ret } },
                         cb, userdata, "");
}

int mpx_stats(mpx *m, mpx_info *ret) {
        return (int) conn_sync(m, mpx_stats_async(m, ret, CONN_SYNC));
}

/* List one page of the daemon's connections. */
int64_t mpx_clients_async(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n,
                          uint64_t *ret_next, mpx_callback *cb, void *userdata) {
        return admin_page(m, WIRE_OP_CLIENTS, -1, cursor, max, ret_items, ret_n, ret_next, cb, userdata);
}

int mpx_clients(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return (int) conn_sync(m, mpx_clients_async(m, cursor, max, ret_items, ret_n, ret_next, CONN_SYNC));
}

/* List one page of the uids the daemon accounts for. */
int64_t mpx_users_async(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n,
                        uint64_t *ret_next, mpx_callback *cb, void *userdata) {
        return admin_page(m, WIRE_OP_USERS, -1, cursor, max, ret_items, ret_n, ret_next, cb, userdata);
}

int mpx_users(mpx *m, uint64_t cursor, size_t max, mpx_info **ret_items, size_t *ret_n, uint64_t *ret_next) {
        return (int) conn_sync(m, mpx_users_async(m, cursor, max, ret_items, ret_n, ret_next, CONN_SYNC));
}
