/* SPDX-License-Identifier: MIT */
/*
 * A call of libmpx's Redis backend as Redis sees it: the FCALL command an op
 * builds (redis_call_begin(), redis_arg_*()), the reading of the reply
 * (redis_reply_*() and the reply functions ops share), what an error reply
 * names (an errno, a state that passes, a missing function library), and
 * the reply frame that answers the request. Nothing here sends or reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpx-redis-private.h"

/* ---- replies ---- */

bool redis_reply_i64(const redisReply *r, int64_t *v) {
        char buf[32], *end;

        if (!r)
                return false;
        if (r->type == REDIS_REPLY_INTEGER) {
                *v = r->integer;
                return true;
        }
        if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(buf))
                return false;
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
        errno = 0;
        *v = strtoll(buf, &end, 10);
        return errno == 0 && *end == '\0';
}

bool redis_reply_u64(const redisReply *r, uint64_t *v) {
        char buf[32], *end;

        if (!r)
                return false;
        if (r->type == REDIS_REPLY_INTEGER) {
                if (r->integer < 0)
                        return false;
                *v = (uint64_t) r->integer;
                return true;
        }
        if (r->type != REDIS_REPLY_STRING || r->len == 0 || r->len >= sizeof(buf) || r->str[0] == '-')
                return false;
        memcpy(buf, r->str, r->len);
        buf[r->len] = '\0';
        errno = 0;
        *v = strtoull(buf, &end, 10);
        return errno == 0 && *end == '\0';
}

bool redis_reply_bytes(const redisReply *r, const void **p, size_t *n) {
        if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_STATUS))
                return false;
        *p = r->str;
        *n = r->len;
        return true;
}

const redisReply *redis_reply_at(const redisReply *r, size_t i) {
        if (!r || r->type != REDIS_REPLY_ARRAY || i >= r->elements)
                return NULL;
        return r->element[i];
}

int redis_reply_empty(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        (void) c;
        (void) r;
        (void) body;
        return 0;
}

int redis_reply_as_u8(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) c;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        return wire_put_u8(body, v != 0);
}

int redis_reply_as_u64(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        uint64_t v;

        (void) c;
        if (!redis_reply_u64(r, &v))
                return -EPROTO;
        return wire_put_u64(body, v);
}

int redis_reply_as_i64(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t v;

        (void) c;
        if (!redis_reply_i64(r, &v))
                return -EPROTO;
        return wire_put_i64(body, v);
}

int redis_reply_as_bytes(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        const void *p;
        size_t n;

        (void) c;
        if (!redis_reply_bytes(r, &p, &n) || n > UINT32_MAX)
                return -EPROTO;
        return wire_put_bytes(body, p, (uint32_t) n);
}

/*
 * u8 created. A counted declare gives this client a reference (the first of
 * an object it creates, or one more), which its lease keeps.
 */
int redis_reply_declared(struct redis_call *c, const redisReply *r, struct wire_buf *body) {
        int64_t created;

        if (!redis_reply_i64(r, &created))
                return -EPROTO;
        if (c->u[0])
                c->holds = true;
        return wire_put_u8(body, created != 0);
}

/* The errno an error reply of the library names by its first word, or 0. */
int redis_error_errno(const char *err) {
        static const struct {
                const char *name;
                int err;
        } names[] = {
                { "EAGAIN", EAGAIN }, { "ETIMEDOUT", ETIMEDOUT }, { "ENOENT", ENOENT }, { "EEXIST", EEXIST },
                { "EACCES", EACCES }, { "EMSGSIZE", EMSGSIZE }, { "EPIPE", EPIPE }, { "EIDRM", EIDRM },
                { "EINVAL", EINVAL }, { "EPROTO", EPROTO }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOMEM", ENOMEM },
                { "ENOSPC", ENOSPC }, { "ERANGE", ERANGE }, { "EPROTOTYPE", EPROTOTYPE }, { "EUSERS", EUSERS },
                { "ENOTRECOVERABLE", ENOTRECOVERABLE }, { "EOWNERDEAD", EOWNERDEAD }, { "EIO", EIO },
                { "ECANCELED", ECANCELED },
                /* Redis's own: over maxmemory; an ACL that refuses a command or a key. */
                { "OOM", ENOSPC }, { "NOPERM", EACCES }, { "NOAUTH", EACCES }, { "WRONGPASS", EACCES },
        };
        size_t len = strcspn(err, " ");

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                if (strlen(names[i].name) == len && strncmp(err, names[i].name, len) == 0)
                        return names[i].err;
        return 0;
}

/* An error that goes away by itself: the node is loading, failing over, or the slot is migrating. */
bool redis_error_transient(const char *err) {
        return strncmp(err, "LOADING", 7) == 0 || strncmp(err, "TRYAGAIN", 8) == 0 ||
               strncmp(err, "CLUSTERDOWN", 11) == 0 || strncmp(err, "MASTERDOWN", 10) == 0 ||
               strncmp(err, "READONLY", 8) == 0 || strncmp(err, "BUSY", 4) == 0;
}

/* The function library is missing or another version: load ours and call again. */
bool redis_error_no_function(const char *err) {
        return strstr(err, "Function not found") != NULL || strncmp(err, "NOSCRIPT", 8) == 0;
}

/* ---- building calls ---- */

static int redis_arg_push(struct redis_call *c, const void *p, size_t n) {
        char *copy;

        if (c->argc == c->argcap) {
                int cap = c->argcap ? c->argcap * 2 : 8;
                char **argv = realloc(c->argv, (size_t) cap * sizeof(*argv));
                size_t *lens;

                if (!argv)
                        return -ENOMEM;
                c->argv = argv;
                lens = realloc(c->argvlen, (size_t) cap * sizeof(*lens));
                if (!lens)
                        return -ENOMEM;
                c->argvlen = lens;
                c->argcap = cap;
        }
        copy = conn_memdup(p, n);
        if (!copy)
                return -ENOMEM;
        c->argv[c->argc] = copy;
        c->argvlen[c->argc++] = n;
        return 0;
}

static void redis_args_clear(struct redis_call *c) {
        for (int i = 0; i < c->argc; i++)
                free(c->argv[i]);
        c->argc = 0;
}

int redis_call_begin(struct redis_call *c, const char *fn, redis_reply_fn *reply) {
        char key[WIRE_NAME_MAX + 8];
        int r, n;

        redis_args_clear(c);
        c->reply = reply;
        n = snprintf(key, sizeof(key), "mpx:{%s}", c->name);
        r = redis_arg_push(c, "FCALL", 5);
        if (r >= 0)
                r = redis_arg_push(c, fn, strlen(fn));
        if (r >= 0)
                r = redis_arg_push(c, "1", 1);
        if (r >= 0)
                r = redis_arg_push(c, key, (size_t) n);
        return r;
}

int redis_call_begin_keyless(struct redis_call *c, const char *fn, redis_reply_fn *reply) {
        int r;

        redis_args_clear(c);
        c->reply = reply;
        c->name[0] = '\0';
        r = redis_arg_push(c, "FCALL", 5);
        if (r >= 0)
                r = redis_arg_push(c, fn, strlen(fn));
        if (r >= 0)
                r = redis_arg_push(c, "0", 1);
        return r;
}

int redis_call_name(struct redis_call *c, struct wire_reader *body) {
        const char *name;
        size_t len;

        if (!wire_get_name(body, &name, &len))
                return -EPROTO;
        memcpy(c->name, name, len);
        c->name[len] = '\0';
        return 0;
}

int redis_arg_bytes(struct redis_call *c, const void *p, size_t n) {
        return redis_arg_push(c, p, n);
}

int redis_arg_str(struct redis_call *c, const char *s) {
        return redis_arg_push(c, s, strlen(s));
}

int redis_arg_i64(struct redis_call *c, int64_t v) {
        char buf[32];

        return redis_arg_push(c, buf, (size_t) snprintf(buf, sizeof(buf), "%lld", (long long) v));
}

int redis_arg_u64(struct redis_call *c, uint64_t v) {
        char buf[32];

        return redis_arg_push(c, buf, (size_t) snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v));
}

int redis_arg_client(struct redis_call *c) {
        return redis_arg_str(c, c->rb->client_id);
}

int redis_arg_lease(struct redis_call *c) {
        return redis_arg_u64(c, c->rb->lease_ms);
}

int redis_arg_declare(struct redis_call *c, uint32_t flags) {
        int r = 0;

        c->u[0] = (flags & WIRE_DECLARE_COUNTED) != 0;
        r |= redis_arg_str(c, c->u[0] ? "1" : "0");
        r |= redis_arg_client(c);
        r |= redis_arg_lease(c);
        return r < 0 ? -ENOMEM : 0;
}

/* The arguments of the function start after FCALL, its name, 1 and the key. */
#define REDIS_FIRST_ARG 4

int redis_arg_set_str(struct redis_call *c, int i, const char *s) {
        char *copy;

        if (i < 0 || REDIS_FIRST_ARG + i >= c->argc)
                return -EINVAL;
        copy = strdup(s);
        if (!copy)
                return -ENOMEM;
        free(c->argv[REDIS_FIRST_ARG + i]);
        c->argv[REDIS_FIRST_ARG + i] = copy;
        c->argvlen[REDIS_FIRST_ARG + i] = strlen(s);
        return 0;
}

int redis_arg_set_u64(struct redis_call *c, int i, uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "%llu", (unsigned long long) v);
        return redis_arg_set_str(c, i, buf);
}

void redis_call_free(struct redis_call *c) {
        wire_buf_done(&c->kept_body);
        redis_args_clear(c);
        free(c->argv);
        free(c->argvlen);
        free(c);
}

/* The call's WAIT will vouch for nothing: its answer is dropped when it comes. */
void redis_ack_drop(struct redis_call *c) {
        if (!c->ack)
                return;
        c->ack->ack_of = NULL;
        c->ack->orphan = true;
        c->ack = NULL;
}

/* ---- reply frames ---- */

/* Append the reply frame of call c to the connection's input: status from err (0: OK), body. */
void redis_answer(struct redis_backend *rb, uint32_t id, uint16_t op, int err, const struct wire_buf *body) {
        struct mpx *m = rb->m;
        size_t start;

        if (wire_frame_begin(&m->in, id, op, wire_status_from_errno(err), &start) < 0)
                goto nomem;
        if (err == 0 && body && body->len > 0 && wire_put_raw(&m->in, body->data, body->len) < 0) {
                wire_frame_abort(&m->in, start);
                goto nomem;
        }
        wire_frame_end(&m->in, start);
        rb->fresh = true;
        return;
nomem:
        /* The request cannot be told its result; the connection is not to be trusted any more. */
        m->broken = true;
}
