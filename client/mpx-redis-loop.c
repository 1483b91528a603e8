/* SPDX-License-Identifier: MIT */
/*
 * The request loop of libmpx's Redis backend. Each request frame libmpx
 * queues is answered at once or becomes a call, which is sent to the node
 * serving its object (with wait_replicas=, followed by a WAIT), parked on
 * its object's wake channel while it cannot go on, woken by a message or
 * the timer, redirected (MOVED, ASK), kept while its node is out of reach,
 * and in the end answered with a reply frame. redis_send() takes the
 * requests in; redis_read() reads the epoll descriptor and keeps time.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mpx-redis-private.h"

/* ---- the life of a call ---- */

/* Keep call c until its node can be reached; the first one kept sets when they are all tried again. */
static void redis_unreachable_push(struct redis_backend *rb, struct redis_call *c) {
        if (c->unavailable_since < 0)
                c->unavailable_since = now_ms();
        if (!rb->unreachable)
                rb->unreachable_retry_at = now_ms() + REDIS_UNREACHABLE_RETRY_MS;
        c->next = rb->unreachable;
        rb->unreachable = c;
}

static struct redis_waitlist *redis_waitlist_of(struct redis_backend *rb, const char *name, bool create) {
        struct redis_waitlist *w;

        HASH_FIND_STR(rb->waits, name, w);
        if (w || !create)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        strcpy(w->name, name);
        w->node = -1;
        HASH_ADD_STR(rb->waits, name, w);
        return w;
}

/* Append a call to the node's calls in flight. */
static void redis_fifo_push(struct redis_node *n, struct redis_call *c) {
        c->next = NULL;
        if (n->tail)
                n->tail->next = c;
        else
                n->head = c;
        n->tail = c;
}

/* Requests that change nothing: no WAIT for replicas after them. */
static bool redis_op_reads_only(uint16_t op) {
        switch (op) {
        case WIRE_OP_PING: case WIRE_OP_LIST: case WIRE_OP_INFO: case WIRE_OP_QUEUE_QSIZE: case WIRE_OP_QUEUE_PEEK:
        case WIRE_OP_QUEUE_JOIN: case WIRE_OP_DICT_GET: case WIRE_OP_DICT_CONTAINS: case WIRE_OP_DICT_LEN:
        case WIRE_OP_DICT_ITEMS: case WIRE_OP_LIST_GET: case WIRE_OP_LIST_INDEX: case WIRE_OP_LIST_LEN:
        case WIRE_OP_LIST_SLICE: case WIRE_OP_SEM_VALUE: case WIRE_OP_EVENT_IS_SET: case WIRE_OP_EVENT_WAIT:
        case WIRE_OP_ARRAY_GET:
                return true;
        default:
                return false;
        }
}

/*
 * Changes that hand the client something it then holds (an item, a value, a
 * unit). When fewer replicas than asked have such a change, its answer is
 * given anyway: refused, the item taken would be lost to everyone (the
 * client would not know it has it); given, a failover may at worst give it
 * again. A change the client makes (a put, a set) is answered EIO instead,
 * so that the client may make it again.
 */
static bool redis_op_takes(uint16_t op) {
        switch (op) {
        case WIRE_OP_QUEUE_GET: case WIRE_OP_QUEUE_GET_MANY: case WIRE_OP_QUEUE_DONE_GET:
        case WIRE_OP_DICT_POP: case WIRE_OP_DICT_POPITEM: case WIRE_OP_LIST_POP: case WIRE_OP_SEM_ACQUIRE:
                return true;
        default:
                return false;
        }
}

/*
 * wait_replicas=N: WAIT N timeout after a change, in the same pipeline; the
 * change's answer is kept until WAIT says how many replicas have it.
 */
static void redis_send_wait(struct redis_backend *rb, struct redis_node *n, struct redis_call *c) {
        struct redis_call *ack = calloc(1, sizeof(*ack));

        if (!ack || redisAppendCommand(n->ctx, "WAIT %u %u", rb->wait_replicas, rb->wait_timeout_ms) != REDIS_OK) {
                /* Without its WAIT the answer cannot be vouched for: say so when it comes. */
                free(ack);
                c->ack = NULL;
                c->kept_err = -ENOMEM;
                return;
        }
        ack->rb = rb;
        ack->ack_of = c;
        c->ack = ack;
        wire_buf_init(&ack->kept_body);
        redis_fifo_push(n, ack);
}

/* A WAIT's answer: the call's kept answer goes out, or EIO if too few replicas have the change. */
static void redis_wait_done(struct redis_backend *rb, struct redis_call *ack, const redisReply *r) {
        struct redis_call *c = ack->ack_of;
        int64_t replicas = -1;

        if (c) {
                c->ack = NULL;
                if (c->answered) {
                        redis_reply_i64(r, &replicas);
                        if (c->kept_err == 0 && replicas < (int64_t) rb->wait_replicas && !redis_op_takes(c->op))
                                c->kept_err = -EIO;
                        redis_answer(rb, c->id, c->op, c->kept_err, &c->kept_body);
                        redis_call_free(c);
                }
        }
        redis_call_free(ack);
}

/* Send a call to the node serving its object, or keep it until that node is reachable. */
static void redis_send_call(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w = redis_waitlist_of(rb, c->name, false);
        struct redis_node *n;
        int i = redis_node_of(rb, c);

        if (i < 0 || !redis_node_ready(rb, i)) {
                /* The slot's node is out of reach: a replica may be taking over. */
                if (rb->cluster)
                        rb->slots_stale = true;
                if (c->unavailable_since >= 0 && now_ms() - c->unavailable_since >= REDIS_UNREACHABLE_MS) {
                        redis_end(rb, c, -ECONNRESET);
                        return;
                }
                redis_unreachable_push(rb, c);
                return;
        }
        n = &rb->nodes[i];
        if (redisAppendCommandArgv(n->ctx, c->argc, (const char **) c->argv, c->argvlen) != REDIS_OK) {
                redis_end(rb, c, -ENOMEM);
                return;
        }
        c->unavailable_since = -1;
        c->sent_confirmed = w && w->confirmed;
        c->sent_heard = rb->heard;
        redis_fifo_push(n, c);
        if (rb->wait_replicas && !redis_op_reads_only(c->op))
                redis_send_wait(rb, n, c);
}

/* Subscribe to the wake channel of waitlist w on the subscriber connection of its node. */
static void redis_subscribe(struct redis_backend *rb, struct redis_waitlist *w) {
        struct redis_call probe = { .rb = rb };
        struct redis_node *n;
        int i;

        strcpy(probe.name, w->name);
        i = redis_node_of(rb, &probe);
        if (i < 0)
                return;
        n = &rb->nodes[i];
        if (!n->sub) {
                int err;

                n->sub = redis_open(rb, n, &err);
                if (!n->sub)
                        return;
                redis_nonblocking(n->sub);
                redis_watch(rb, EPOLL_CTL_ADD, n->sub->fd, EPOLLIN, (uint64_t) i * 2 + 1);
        }
        if (redisAppendCommand(n->sub, "SSUBSCRIBE mpx:{%s}:wake", w->name) != REDIS_OK)
                return;
        w->node = i;
        redis_node_flush(rb, i);
        {
                int done = 0;

                if (redisBufferWrite(n->sub, &done) != REDIS_OK)
                        redis_sub_lost(rb, i);
        }
}

/*
 * Park call c until its object changes: on the wake channel's next message,
 * or REDIS_RETRY_MS at the latest, it is sent again.
 */
static void redis_park(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w;
        struct redis_call **p;

        if (c->timeout_ms == 0) {
                redis_end(rb, c, -EAGAIN);
                return;
        }
        /*
         * Redis told it to wait, and listed it in its object's line for INFO:
         * from here on, whatever ends it (a cancel that came while it was in
         * flight included) takes it out of the line.
         */
        c->was_parked = true;
        if (c->cancelled) {
                redis_end(rb, c, -ECANCELED);
                return;
        }
        if (c->deadline >= 0 && now_ms() >= c->deadline) {
                redis_end(rb, c, -ETIMEDOUT);
                return;
        }
        /* A reply function may have learned the timeout only now (a barrier's own). */
        if (c->deadline < 0 && c->timeout_ms > 0)
                c->deadline = now_ms() + c->timeout_ms;
        w = redis_waitlist_of(rb, c->name, true);
        if (!w) {
                redis_end(rb, c, -ENOMEM);
                return;
        }
        if (w->confirmed && (!c->sent_confirmed || w->heard > c->sent_heard)) {
                /*
                 * It ran before the subscription, or a wake came while it was
                 * in flight (read before its answer, it found no call parked):
                 * a change since it ran may not be heard again. Once more.
                 */
                redis_send_call(rb, c);
                return;
        }
        c->parked_at = now_ms();
        /* At the tail: woken, the calls go out again in the order they came, and their answers too. */
        p = &w->calls;
        while (*p)
                p = &(*p)->next;
        c->next = NULL;
        *p = c;
        if (w->node < 0)
                redis_subscribe(rb, w);
}

/* Send every call of waitlist w again. */
static void redis_wake(struct redis_backend *rb, struct redis_waitlist *w) {
        struct redis_call *c = w->calls, *next;

        w->calls = NULL;
        for (; c; c = next) {
                next = c->next;
                c->parked_at = -1;
                redis_send_call(rb, c);
        }
}

/* Take call c out of the waitlist it is parked on. */
static void redis_unpark(struct redis_backend *rb, struct redis_call *c) {
        struct redis_waitlist *w = redis_waitlist_of(rb, c->name, false);

        c->parked_at = -1;
        for (struct redis_call **p = w ? &w->calls : NULL; p && *p; p = &(*p)->next)
                if (*p == c) {
                        *p = c->next;
                        break;
                }
        c->next = NULL;
}

/* End a call that will not succeed: its abandon hook may make one more call; else the error. */
void redis_end(struct redis_backend *rb, struct redis_call *c, int err) {
        redis_abandon_fn *abandon = c->abandon;

        c->abandon = NULL;
        if (abandon && abandon(c, err) == 1) {
                /* The clean-up call answers; it never waits. */
                c->timeout_ms = 0;
                c->deadline = -1;
                redis_send_call(rb, c);
                return;
        }
        redis_answer(rb, c->id, c->op, err, NULL);
        redis_call_free(c);
}

/* Send ASKING to node i, its answer dropped by a placeholder call in its place in the FIFO. */
static int redis_asking(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        struct redis_call *c = calloc(1, sizeof(*c));

        if (!c || redisAppendCommand(n->ctx, "ASKING") != REDIS_OK) {
                free(c);
                return -ENOMEM;
        }
        c->rb = rb;
        c->orphan = true;
        redis_fifo_push(n, c);
        return 0;
}

/* Deal with an error answer: redirections, missing library, transient states, mpx statuses. */
static void redis_call_error(struct redis_backend *rb, int i, struct redis_call *c, const char *err) {
        char host[256];
        unsigned slot;
        int port, kind, e;

        kind = redis_redirection(err, &slot, host, sizeof(host), &port);
        if (kind == 1 && rb->cluster) {
                e = redis_node_add(rb, host, strlen(host), port);
                if (e >= 0)
                        rb->slot_node[slot] = (int16_t) e;
                redis_send_call(rb, c);
                return;
        }
        if (kind == 2 && rb->cluster) {
                /* A slot on its way: ask the other node once, without changing the map. */
                e = redis_node_add(rb, host, strlen(host), port);
                if (e >= 0 && redis_node_ready(rb, e) && redis_asking(rb, e) == 0) {
                        rb->slot_node[slot] = (int16_t) e;
                        redis_send_call(rb, c);
                        rb->slot_node[slot] = (int16_t) i;
                        return;
                }
        }
        if (redis_error_no_function(err) && rb->nodes[i].ctx) {
                redis_blocking(rb->nodes[i].ctx);
                e = redis_load_library(rb->nodes[i].ctx);
                if (rb->nodes[i].ctx)
                        redis_nonblocking(rb->nodes[i].ctx);
                if (e >= 0) {
                        redis_send_call(rb, c);
                        return;
                }
                redis_end(rb, c, e);
                return;
        }
        if (redis_error_transient(err) || kind) {
                redis_unreachable_push(rb, c);
                return;
        }
        e = redis_error_errno(err);
        if (e == EAGAIN) {
                redis_park(rb, c);
                return;
        }
        /* A parked request whose object went away: deleted while it waited. */
        if (e == ENOENT && c->was_parked)
                e = EIDRM;
        redis_end(rb, c, e ? -e : -EIO);
}

/* The answer to call c, which node i was carrying out. */
static void redis_call_done(struct redis_backend *rb, int i, struct redis_call *c, redisReply *r) {
        struct wire_buf body;
        int res;

        if (c->ack_of) {
                redis_wait_done(rb, c, r);
                return;
        }
        if (c->orphan) {
                redis_ack_drop(c);
                redis_call_free(c);
                return;
        }
        if (r->type == REDIS_REPLY_ERROR) {
                redis_ack_drop(c);
                redis_call_error(rb, i, c, r->str);
                return;
        }
        wire_buf_init(&body);
        c->holds = false;
        res = c->reply(c, r, &body);
        if (c->holds)
                redis_held_add(rb, c->name);
        if (res == REDIS_CALL_WAIT || res == REDIS_CALL_AGAIN) {
                /* Not an answer yet: its WAIT has nothing to vouch for. */
                redis_ack_drop(c);
                if (res == REDIS_CALL_WAIT)
                        redis_park(rb, c);
                else
                        redis_send_call(rb, c);
        } else if (c->ack) {
                c->answered = true;
                c->kept_err = res < 0 ? res : 0;
                wire_buf_done(&c->kept_body);
                c->kept_body = body;
                return;
        } else {
                redis_answer(rb, c->id, c->op, res < 0 ? res : c->kept_err, &body);
                redis_call_free(c);
        }
        wire_buf_done(&body);
}

/* Read what node i's command connection has and complete the calls answered. */
static void redis_node_read(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        void *reply;

        if (redisBufferRead(n->ctx) != REDIS_OK) {
                redis_node_lost(rb, i);
                return;
        }
        while (n->ctx && redisGetReplyFromReader(n->ctx, &reply) == REDIS_OK && reply) {
                struct redis_call *c = n->head;

                if (!c) {
                        /* An answer nobody asked for: the stream is out of step. */
                        freeReplyObject(reply);
                        redis_node_lost(rb, i);
                        return;
                }
                n->head = c->next;
                if (!n->head)
                        n->tail = NULL;
                c->next = NULL;
                redis_call_done(rb, i, c, reply);
                freeReplyObject(reply);
        }
        if (n->ctx && n->ctx->err)
                redis_node_lost(rb, i);
}

/* "mpx:{NAME}:wake" -> NAME, or NULL. */
static const char *redis_channel_object(const redisReply *ch, char *name) {
        size_t len;

        if (!ch || ch->type != REDIS_REPLY_STRING || ch->len < 11 || strncmp(ch->str, "mpx:{", 5) != 0 ||
            strcmp(ch->str + ch->len - 6, "}:wake") != 0)
                return NULL;
        len = ch->len - 11;
        if (len > WIRE_NAME_MAX)
                return NULL;
        memcpy(name, ch->str + 5, len);
        name[len] = '\0';
        return name;
}

/* Messages of node i's subscriber connection: confirmations and wakes. */
static void redis_sub_read(struct redis_backend *rb, int i) {
        struct redis_node *n = &rb->nodes[i];
        void *reply;

        if (redisBufferRead(n->sub) != REDIS_OK) {
                redis_sub_lost(rb, i);
                return;
        }
        while (n->sub && redisGetReplyFromReader(n->sub, &reply) == REDIS_OK && reply) {
                redisReply *r = reply;
                const redisReply *kind = redis_reply_at(r, 0);
                char name[WIRE_NAME_MAX + 1];
                struct redis_waitlist *w;

                if (kind && kind->type == REDIS_REPLY_STRING && redis_channel_object(redis_reply_at(r, 1), name) &&
                    (w = redis_waitlist_of(rb, name, false))) {
                        if (strcmp(kind->str, "ssubscribe") == 0 && w->node == i) {
                                w->confirmed = true;
                                w->heard = ++rb->heard;
                                redis_wake(rb, w);
                        } else if (strcmp(kind->str, "smessage") == 0) {
                                w->heard = ++rb->heard;
                                redis_wake(rb, w);
                        }
                }
                freeReplyObject(r);
        }
}

/* ---- time ---- */

/* Deadlines, the once-a-second retry, calls waiting for a node, idle subscriptions. */
static void redis_tick(struct redis_backend *rb) {
        struct redis_waitlist *w, *tmp;
        struct redis_call *c, *next;
        int64_t now = now_ms();

        c = rb->unreachable;
        rb->unreachable = NULL;
        for (; c; c = next) {
                next = c->next;
                redis_send_call(rb, c);
        }
        HASH_ITER(hh, rb->waits, w, tmp) {
                struct redis_call **p = &w->calls;

                while ((c = *p)) {
                        if (c->deadline >= 0 && now >= c->deadline) {
                                *p = c->next;
                                c->parked_at = -1;
                                redis_end(rb, c, -ETIMEDOUT);
                        } else if (now - c->parked_at >= REDIS_RETRY_MS) {
                                *p = c->next;
                                c->parked_at = -1;
                                redis_send_call(rb, c);
                        } else
                                p = &c->next;
                }
                if (!w->calls) {
                        if (w->node >= 0 && rb->nodes[w->node].sub)
                                redisAppendCommand(rb->nodes[w->node].sub, "SUNSUBSCRIBE mpx:{%s}:wake", w->name);
                        HASH_DEL(rb->waits, w);
                        free(w);
                } else if (w->node < 0)
                        redis_subscribe(rb, w);
        }
}

/* Arm the timer for the next deadline, retry or unreachable call; disarm it when nothing waits. */
static void redis_arm(struct redis_backend *rb) {
        struct itimerspec its = { 0 };
        struct redis_waitlist *w, *tmp;
        int64_t next = INT64_MAX;

        /* Not pushed back by each call here: a timer re-armed before it is read would never fire. */
        if (rb->unreachable)
                next = rb->unreachable_retry_at;
        /*
         * Answers made without Redis (a refusal, a cancel) while the caller's
         * loop was not reading: the timer fires at once, so that the
         * connection's descriptor is readable and the loop comes for them.
         */
        if (rb->fresh && !rb->reading)
                next = now_ms();
        HASH_ITER(hh, rb->waits, w, tmp) {
                if (!w->calls) {
                        /* Idle: unsubscribe at the next tick. */
                        if (next > now_ms() + REDIS_RETRY_MS)
                                next = now_ms() + REDIS_RETRY_MS;
                        continue;
                }
                for (struct redis_call *c = w->calls; c; c = c->next) {
                        if (c->deadline >= 0 && c->deadline < next)
                                next = c->deadline;
                        if (c->parked_at + REDIS_RETRY_MS < next)
                                next = c->parked_at + REDIS_RETRY_MS;
                }
        }
        /* As wanted already (disarmed, or armed for that time and not fired yet): no system call. */
        if (next == rb->tick_at && (next == INT64_MAX || next > now_ms()))
                return;
        rb->tick_at = next;
        if (next != INT64_MAX) {
                if (next <= 0)
                        next = 1;
                its.it_value.tv_sec = next / 1000;
                its.it_value.tv_nsec = (next % 1000) * 1000000;
        }
        timerfd_settime(rb->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Flush every node and the subscriber connections. */
static void redis_flush_all(struct redis_backend *rb) {
        for (size_t i = 0; i < rb->n_nodes; i++) {
                int done = 0;

                redis_node_flush(rb, (int) i);
                if (rb->nodes[i].sub && redisBufferWrite(rb->nodes[i].sub, &done) != REDIS_OK)
                        redis_sub_lost(rb, (int) i);
        }
        redis_arm(rb);
}

/* ---- requests in ---- */

static const struct redis_op *const redis_families[] = {
        redis_object_ops, redis_queue_ops, redis_dict_ops, redis_list_ops, redis_sync_ops, redis_array_ops,
};

static redis_op_fn *redis_op_find(uint16_t op) {
        for (size_t f = 0; f < sizeof(redis_families) / sizeof(redis_families[0]); f++)
                for (const struct redis_op *o = redis_families[f]; o->fn; o++)
                        if (o->op == op)
                                return o->fn;
        return NULL;
}

/* HELLO is answered here: the version, the limits libmpx keeps, and which server this is. */
static int redis_hello(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        static const char server[] = "mpx redis backend";
        uint32_t version;
        const char *name;
        uint16_t name_len;
        int r;

        if (!wire_get_u32(body, &version) || !wire_get_str(body, &name, &name_len) || !wire_reader_done(body))
                return -EPROTO;
        if (version != WIRE_VERSION)
                return -EPROTO;
        c->reply = NULL;
        r = wire_put_u32(out, WIRE_VERSION);
        if (r >= 0)
                r = wire_put_u32(out, WIRE_DEFAULT_MAX_MESSAGE);
        if (r >= 0)
                r = wire_put_u32(out, WIRE_DEFAULT_MAX_FRAME);
        if (r >= 0)
                r = wire_put_str(out, server, sizeof(server) - 1);
        return r;
}

/* The call of request id, parked or in flight, or NULL. */
static struct redis_call *redis_call_find(struct redis_backend *rb, uint32_t id, bool *parked) {
        struct redis_waitlist *w, *tmp;

        HASH_ITER(hh, rb->waits, w, tmp)
                for (struct redis_call *c = w->calls; c; c = c->next)
                        if (c->id == id && !c->orphan) {
                                *parked = true;
                                return c;
                        }
        for (size_t i = 0; i < rb->n_nodes; i++)
                for (struct redis_call *c = rb->nodes[i].head; c; c = c->next)
                        if (c->id == id && !c->orphan) {
                                *parked = false;
                                return c;
                        }
        for (struct redis_call *c = rb->unreachable; c; c = c->next)
                if (c->id == id) {
                        *parked = false;
                        return c;
                }
        return NULL;
}

/*
 * CANCEL ends a parked call at once (ECANCELED; n = 1). One in flight is
 * marked: should it have to wait, it ends instead of parking.
 */
static int redis_cancel(struct redis_call *c, struct wire_reader *body, struct wire_buf *out) {
        struct redis_backend *rb = c->rb;
        struct redis_call *target;
        uint32_t id, n = 0;
        bool parked = false;

        if (!wire_get_u32(body, &id) || !wire_reader_done(body))
                return -EPROTO;
        target = redis_call_find(rb, id, &parked);
        if (target && parked) {
                redis_unpark(rb, target);
                redis_end(rb, target, -ECANCELED);
                n = 1;
        } else if (target)
                target->cancelled = true;
        c->reply = NULL;
        return wire_put_u32(out, n);
}

/* One request frame: answer it here, or start its call. */
static void redis_request(struct redis_backend *rb, const struct wire_header *h, const uint8_t *data) {
        struct redis_call *c = calloc(1, sizeof(*c));
        struct wire_reader rd;
        struct wire_buf out;
        redis_op_fn *fn;
        int r;

        if (!c) {
                redis_answer(rb, h->id, h->op, -ENOMEM, NULL);
                return;
        }
        c->rb = rb;
        c->id = h->id;
        c->op = h->op;
        c->node = -1;
        c->parked_at = -1;
        c->unavailable_since = -1;
        c->deadline = -1;
        wire_reader_init(&rd, data, h->body_len);
        wire_buf_init(&out);
        fn = h->op == WIRE_OP_HELLO ? redis_hello : h->op == WIRE_OP_CANCEL ? redis_cancel : redis_op_find(h->op);
        r = fn ? fn(c, &rd, &out) : -EOPNOTSUPP;
        if (r < 0 || !c->reply) {
                redis_answer(rb, c->id, c->op, r < 0 ? r : 0, &out);
                redis_call_free(c);
        } else {
                if (c->timeout_ms > 0)
                        c->deadline = now_ms() + c->timeout_ms;
                redis_send_call(rb, c);
        }
        wire_buf_done(&out);
}

int redis_send(struct mpx *m) {
        struct redis_backend *rb = m->redis;

        while (m->out.len - m->out_off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(m->out.data + m->out_off, &h);
                if (m->out.len - m->out_off < WIRE_HEADER_SIZE + (size_t) h.body_len)
                        break;
                redis_request(rb, &h, m->out.data + m->out_off + WIRE_HEADER_SIZE);
                m->out_off += WIRE_HEADER_SIZE + h.body_len;
        }
        redis_flush_all(rb);
        return m->broken ? -ENOMEM : 0;
}

static int redis_read_events(struct mpx *m, bool block) {
        struct redis_backend *rb = m->redis;
        struct epoll_event ev[16];
        int n;

        for (;;) {
                if (rb->fresh) {
                        rb->fresh = false;
                        return 1;
                }
                n = epoll_wait(rb->epfd, ev, 16, block ? -1 : 0);
                if (n < 0)
                        return errno == EINTR ? 0 : -errno;
                for (int k = 0; k < n; k++) {
                        uint64_t d = ev[k].data.u64;
                        int i = (int) (d / 2);

                        if (d == REDIS_EV_TIMER) {
                                uint64_t expirations;

                                if (read(rb->timerfd, &expirations, sizeof(expirations)) < 0) {
                                        /* Nothing to read: the timer was re-armed meanwhile. */
                                }
                        } else if (d % 2 == 0 && rb->nodes[i].ctx) {
                                if (ev[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                                        redis_node_read(rb, i);
                        } else if (d % 2 == 1 && rb->nodes[i].sub)
                                redis_sub_read(rb, i);
                }
                /*
                 * The clock, not the timer's readability, says when to tick:
                 * sending (redis_send) re-arms the timer, which clears an
                 * expiry that no one has read yet.
                 */
                if (now_ms() >= rb->tick_at)
                        redis_tick(rb);
                redis_flush_all(rb);
                if (m->broken)
                        return -ENOMEM;
                if (!block && !rb->fresh)
                        return 0;
        }
}

int redis_read(struct mpx *m, bool block) {
        int r;

        /* Answers made while reading are returned by this read: the timer need not say so. */
        m->redis->reading = true;
        r = redis_read_events(m, block);
        m->redis->reading = false;
        return r;
}
