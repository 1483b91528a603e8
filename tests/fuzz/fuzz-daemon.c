/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the daemon's request handling. Every input runs against a fresh
 * daemon state (mpxd_init) with up to four clients, fed byte streams
 * either straight (socketless clients, client_new(-1) and client_feed) or
 * through a socketpair and the event loop, as mpxd reads a connection. At
 * the end every client is lost, every object deleted, the deferred frees
 * run and mpxd_done frees the rest: LeakSanitizer then sees any memory the
 * daemon forgot, a count of open descriptors catches a leaked memfd, pipe
 * or socketpair, and nothing may still be charged to any user.
 *
 * An input is a sequence of records, each starting with a control byte:
 *      bits 0-1        the client slot
 *      bits 2-4        the action:
 *        0-3           u16 length (little-endian), then that many bytes fed
 *                      to the client (fewer when the input ends first)
 *        4             the same, then one non-blocking turn of the event loop
 *        5             the client's connection closes; a new client takes
 *                      the slot and opens its session with HELLO
 *        6             the same, but the new client has not sent HELLO
 *        7             every waiter's timer fires now, whatever its deadline
 *      bit 5           reconnect (5, 6): the new client is connected over a
 *                      socketpair instead of socketless
 *      bit 6           feed (0-4) to a socket client: it stops reading its
 *                      replies, which pile up in the socket and then in the
 *                      daemon (partial writes, limits.max_output), until a
 *                      feed without this bit
 *      bit 7           before the record, a reload swaps the limits in force
 *                      for another set (see set_limits)
 * A slot gets a socketless client (with HELLO) when bytes are first fed to
 * it, so the fuzzer need not learn HELLO (it may still send its own). A
 * socketless client of slot 0 acts as mpxd's own user (a superuser), those
 * of slots 1 and 2 as one unprivileged user of group FUZZ_GID (two
 * connections of one uid share its quotas), slot 3 as another user of
 * another group, so that permissions are checked and refused (CHMOD,
 * CHOWN, each object's mode); a socket client is whoever runs the harness.
 * Several clients let bytes for one of them serve another's blocked
 * request: a put for a getter, a release for an acquirer, the last party
 * of a barrier, the other end of a pipe.
 *
 * Two kinds of request are defused on the way in, by rewriting bytes of
 * the client's stream before they are fed, so that the daemon still sees
 * a well-framed stream and the same input always does the same:
 *  - POOL_START, POOL_SCALE, POOL_SIGNAL and POOL_STOP (850..853) fork and
 *    exec commands and signal processes: a fuzzer must never start
 *    processes. Their opcode becomes one that does not exist.
 *  - ARRAY_DECLARE's length is cut to 12 bits: each array is a fully
 *    allocated memfd of up to 1 GiB, and one input could declare dozens.
 * Durability is on, in a directory of its own: objects declared durable
 * are journaled as the requests change them (sync "no": the records are
 * written, not synced). At the end, once every client is gone, the daemon
 * stops with a compaction, and a copy of the journal's segments, recovered
 * by a fresh daemon state, must give the same snapshot.
 *
 * The limits are lowered as a configuration may (limits.max_objects,
 * max_memory, max_output, max_waiters_per_client, per_user): that bounds
 * the state one input can build and reaches each limit's own path. The
 * daemon's code is not changed.
 *
 * Every reply is checked as it is produced: a whole frame, a known status,
 * and no body on an error (but HELLO's refusal of another version); and
 * after each record, every request a socketless client made was answered
 * exactly once, or is parked as one of its waiters. With
 * FUZZ_TRACE set in the environment, each reply is also printed, to see
 * what an input (a new seed, say) reaches.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client-internal.h"
#include "client.h"
#include "configfile.h"
#include "journal.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "wait.h"
#include "fuzz.h"
#include "fuzz-support.h"

#define SLOTS                   4u
#define ARRAY_LENGTH_MAX        0x0fffu         /* what the filter leaves of ARRAY_DECLARE's length */
#define OP_NONEXISTENT_HIGH     0xffu           /* opcodes 0xff00..0xffff do not exist */
#define FUZZ_UID                1001u           /* slots 1 and 2 */
#define FUZZ_GID                1000u
#define FUZZ_OTHER_UID          1003u           /* slot 3 */
#define FUZZ_OTHER_GID          1003u

#define CONTROL_SOCKET          (1u << 5)       /* reconnect: over a socketpair */
#define CONTROL_PAUSE           (1u << 6)       /* feed, socket client: it reads no replies until told */
#define CONTROL_RELOAD          (1u << 7)       /* any record: the other set of limits comes in force first */

enum action {
        ACTION_FEED_LAST = 3,
        ACTION_FEED_AND_TURN = 4,
        ACTION_RECONNECT = 5,
        ACTION_RECONNECT_NO_HELLO = 6,
        ACTION_FIRE_TIMERS = 7,
};

/* Where a client's stream is, so that requests can be defused on the way in. */
struct stream {
        uint8_t header[WIRE_HEADER_SIZE];
        size_t header_got;              /* < WIRE_HEADER_SIZE: in a header */
        uint16_t op;                    /* of the frame whose body follows */
        uint32_t body_left;
        uint32_t body_pos;
        uint8_t name_len;               /* ARRAY_DECLARE: the length byte of the name */
};

struct slot {
        struct client *client;          /* NULL: none yet, or lost */
        uint64_t id;                    /* the client's, to tell it from a later one at its address */
        int peer;                       /* our end of its socket; -1 for a socketless client */
        bool paused;                    /* socket: it reads no replies for now */
        struct wire_buf rx;             /* socket: the start of a reply not read whole yet */
        uint64_t replies;               /* replies checked */
        struct stream stream;
};

static struct slot slots[SLOTS];
/* Where durable objects are journaled, and where a copy of the journal is recovered. */
static char durable_dir[FUZZ_DIR_MAX], replay_dir[FUZZ_DIR_MAX];
static bool trace;
static bool tighter_limits;

/*
 * The limits in force: small enough to be reached by inputs of a few KiB.
 * A reload record swaps in the other set, tighter still, so that what
 * exists may be over the new limits.
 */
static void set_limits(bool tighter) {
        mpxd.max_message = tighter ? 256 : 1024;
        mpxd.max_objects = tighter ? 4 : 16;
        mpxd.max_memory = tighter ? 8u << 10 : 96u << 10;
        mpxd.max_output = CONFIG_MIN_MAX_OUTPUT;
        mpxd.max_waiters_per_client = tighter ? 2 : 8;
        mpxd.per_user.max_memory = tighter ? 4u << 10 : 64u << 10;
        mpxd.per_user.max_objects = tighter ? 2 : 8;
        mpxd.per_user.max_waiters = tighter ? 3 : 12;
}

/* HELLO, version 1, client name "fuzz", request id 0. */
static const uint8_t hello_frame[] = {
        10, 0, 0, 0,  0, 0, 0, 0,  WIRE_OP_HELLO, 0,  0, 0,
        WIRE_VERSION, 0, 0, 0,  4, 0,  'f', 'u', 'z', 'z',
};

static _Noreturn void fuzz_fail(const char *what) {
        fprintf(stderr, "fuzz-daemon: %s\n", what);
        abort();
}

/* Take one header byte; opcodes that start processes are made nonexistent. */
static uint8_t stream_header_byte(struct stream *s, uint8_t b) {
        if (s->header_got == 9) {
                uint16_t op = (uint16_t) (s->header[8] | b << 8);

                if (op >= WIRE_OP_POOL_START && op <= WIRE_OP_POOL_STOP)
                        b = OP_NONEXISTENT_HIGH;
        }
        s->header[s->header_got++] = b;
        if (s->header_got == WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(s->header, &h);
                s->op = h.op;
                s->body_left = h.body_len;
                s->body_pos = 0;
                if (s->body_left == 0)
                        s->header_got = 0;
        }
        return b;
}

/* Take one body byte; ARRAY_DECLARE's u32 length (after the name and the typecode) is capped. */
static uint8_t stream_body_byte(struct stream *s, uint8_t b) {
        if (s->op == WIRE_OP_ARRAY_DECLARE) {
                uint32_t at = s->body_pos, length_at = s->name_len + 2u;

                if (at == 0)
                        s->name_len = b;
                else if (at == length_at + 1)
                        b &= ARRAY_LENGTH_MAX >> 8;
                else if (at > length_at + 1 && at < length_at + 4)
                        b = 0;
        }
        s->body_pos++;
        if (--s->body_left == 0)
                s->header_got = 0;
        return b;
}

static void slot_send(struct slot *sl, const uint8_t *data, size_t len);

/* true if the slot's client is still connected; forgets it otherwise (it may be freed already). */
static bool slot_alive(struct slot *sl) {
        struct client *c;

        if (!sl->client)
                return false;
        TAILQ_FOREACH(c, &mpxd.clients, link)
                if (c == sl->client && client_shared(c)->id == sl->id)
                        return true;
        sl->client = NULL;
        return false;
}

/*
 * Check reply frames at the start of data: each whole, with a known status
 * and no body on an error (HELLO's refusal of another version has one).
 * Returns the bytes of whole frames.
 */
static size_t check_replies(struct slot *sl, const uint8_t *data, size_t len) {
        size_t off = 0;

        while (len - off >= WIRE_HEADER_SIZE) {
                struct wire_header h;

                wire_header_decode(data + off, &h);
                if (len - off - WIRE_HEADER_SIZE < h.body_len)
                        break;
                if (h.status >= _WIRE_STATUS_MAX)
                        fuzz_fail("a reply has an unknown status");
                if (h.status != WIRE_OK && h.body_len != 0 && h.op != WIRE_OP_HELLO)
                        fuzz_fail("an error reply has a body");
                if (trace)
                        fprintf(stderr, "client %llu: reply to %u, op %u (%s), status %u, %u bytes\n",
                                (unsigned long long) sl->id, h.id, h.op, wire_op_name(h.op) ?: "unknown", h.status,
                                h.body_len);
                sl->replies++;
                off += WIRE_HEADER_SIZE + h.body_len;
        }
        return off;
}

/* Close the descriptors that came with a message (ARRAY_MAP's memfd, a pipe's end). */
static void close_passed_fds(struct msghdr *msg) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm; cm = CMSG_NXTHDR(msg, cm)) {
                size_t n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                for (size_t i = 0; i < n; i++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        close(fd);
                }
        }
}

/* Read what a socket client was sent and check its replies; true if anything came. */
static bool slot_drain(struct slot *sl) {
        bool got = false;

        for (;;) {
                static uint8_t buf[16384];
                union {
                        char buf[CMSG_SPACE(8 * sizeof(int))];
                        struct cmsghdr align;
                } control;
                struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
                struct msghdr msg = {
                        .msg_iov = &iov, .msg_iovlen = 1,
                        .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
                };
                ssize_t n = recvmsg(sl->peer, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

                if (n <= 0)
                        return got;
                got = true;
                close_passed_fds(&msg);
                if (wire_put_raw(&sl->rx, buf, (size_t) n) < 0)
                        fuzz_fail("out of memory");
                wire_buf_consume(&sl->rx, check_replies(sl, sl->rx.data, sl->rx.len));
        }
}

/*
 * A new client in the slot. A socketless one acts as the slot's user; one
 * over a socketpair (whose buffers are made as small as the kernel allows,
 * so that replies soon wait for room) is mpxd's own user, as SO_PEERCRED says.
 */
static void slot_open(struct slot *sl, bool hello, bool socket) {
        size_t n = (size_t) (sl - slots);
        int fds[2] = { -1, -1 }, small = 1;

        memset(&sl->stream, 0, sizeof(sl->stream));
        wire_buf_init(&sl->rx);
        sl->paused = false;
        sl->peer = -1;
        sl->replies = 0;
        if (socket) {
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
                        fuzz_fail("socketpair failed");
                (void) setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
                (void) setsockopt(fds[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
                sl->peer = fds[1];
                sl->client = client_new(fds[0]);
        } else if (n == 0)
                sl->client = client_new(-1);
        else if (n < SLOTS - 1)
                sl->client = client_new_as(-1, 0, FUZZ_UID, FUZZ_GID);
        else
                sl->client = client_new_as(-1, 0, FUZZ_OTHER_UID, FUZZ_OTHER_GID);
        if (!sl->client)
                fuzz_fail("client_new failed");
        sl->id = client_shared(sl->client)->id;
        if (hello)
                slot_send(sl, hello_frame, sizeof(hello_frame));
}

static void slot_close(struct slot *sl) {
        if (sl->peer >= 0) {
                /* The daemon sees the end of file on its next turn. */
                close(sl->peer);
                sl->peer = -1;
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        }
        if (slot_alive(sl))
                client_lost(sl->client, "fuzz: connection closed");
        sl->client = NULL;
        wire_buf_done(&sl->rx);
}

/* Bytes to a client, as one read: straight to a socketless one, through the socket otherwise. */
static void slot_send(struct slot *sl, const uint8_t *data, size_t len) {
        size_t off = 0;

        if (sl->peer < 0) {
                client_feed(sl->client, data, len);
                return;
        }
        /* Write, let the daemon read and answer, read the answers; until all is written or stuck. */
        for (int round = 0; round < 64; round++) {
                bool got;

                if (off < len) {
                        ssize_t n = send(sl->peer, data + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

                        if (n > 0)
                                off += (size_t) n;
                }
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
                got = !sl->paused && slot_drain(sl);
                if (off == len && !got)
                        break;
        }
}

/* Feed bytes through the filter. */
static void slot_feed(struct slot *sl, const uint8_t *data, size_t len) {
        static uint8_t buf[UINT16_MAX];

        for (size_t i = 0; i < len; i++)
                buf[i] = sl->stream.header_got < WIRE_HEADER_SIZE ? stream_header_byte(&sl->stream, data[i]) :
                                                                     stream_body_byte(&sl->stream, data[i]);
        slot_send(sl, buf, len);
}

/*
 * What the daemon does at the end of each event: flush every client with
 * new output. Socket clients that read get what was written to them until
 * nothing more comes. A socketless client's replies are checked and
 * dropped, and it is lost if it must close once its output is written, as
 * client_flush does for a socket client.
 */
static void settle(void) {
        client_flush_dirty();
        for (int round = 0; round < 64; round++) {
                bool got = false;

                for (size_t i = 0; i < SLOTS; i++)
                        if (slots[i].peer >= 0 && !slots[i].paused)
                                got |= slot_drain(&slots[i]);
                if (!got)
                        break;
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        }
        for (size_t i = 0; i < SLOTS; i++) {
                struct slot *sl = &slots[i];
                struct client *c = sl->client;

                size_t queued;

                if (!slot_alive(sl) || sl->peer >= 0)
                        continue;
                queued = c->out.len - c->out_off;
                if (queued && check_replies(sl, c->out.data + c->out_off, queued) != queued)
                        fuzz_fail("a reply is cut short");
                c->out.len = 0;
                c->out_off = 0;
                /* Closing, or overflowed while its replies were held: it would be lost at its flush. */
                if (client_doomed(c)) {
                        slot_close(sl);
                        continue;
                }
                /* Every request handled so far was answered once, or waits. */
                if (sl->replies + client_shared(c)->n_waiters != c->requests)
                        fuzz_fail("a request was answered more than once, or not at all and does not wait");
        }
}

/* Fire every waiter's timer now, as if each deadline had passed. */
static void fire_timers(void) {
        struct client *c;
        struct waiter *w;

        TAILQ_FOREACH(c, &mpxd.clients, link)
                TAILQ_FOREACH(w, &client_shared(c)->waiters, client_link)
                        if (w->has_timer)
                                event_active(&w->timer, EV_TIMEOUT, 1);
        event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
}

/* One record: returns how many bytes of the input it used. */
static size_t run_record(const uint8_t *data, size_t size) {
        struct slot *sl = &slots[data[0] % SLOTS];
        unsigned action = (data[0] >> 2) & 7u;
        size_t len;

        if (data[0] & CONTROL_RELOAD) {
                tighter_limits = !tighter_limits;
                set_limits(tighter_limits);
        }
        switch (action) {
        case ACTION_RECONNECT:
        case ACTION_RECONNECT_NO_HELLO:
                slot_close(sl);
                slot_open(sl, action == ACTION_RECONNECT, data[0] & CONTROL_SOCKET);
                settle();
                return 1;
        case ACTION_FIRE_TIMERS:
                fire_timers();
                settle();
                return 1;
        }
        if (size < 3)
                return size;
        len = (size_t) data[1] | (size_t) data[2] << 8;
        if (len > size - 3)
                len = size - 3;
        if (!slot_alive(sl)) {
                slot_close(sl);
                slot_open(sl, true, false);
        }
        sl->paused = data[0] & CONTROL_PAUSE;
        slot_feed(sl, data + 3, len);
        if (action == ACTION_FEED_AND_TURN)
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        settle();
        return 3 + len;
}

/* Lose every client and object; nothing may be left, charged to anyone. */
static void tear_down(void) {
        object_delete_all(-ESHUTDOWN);
        /* The deferred frees of the clients lost before. */
        event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        if (mpxd.n_clients != 0 || mpxd.n_objects != 0 || mpxd.n_waiters != 0)
                fuzz_fail("clients, objects or waiters are left after every client and object went away");
        if (mpxd.bytes_held != 0 || mpxd.n_users != 0)
                fuzz_fail("bytes or users are still charged after every client and object went away");
        mpxd_done();
}

/*
 * The durable objects as a clean shutdown leaves them, against what their
 * journal says: the snapshot written from the live objects must hold the
 * same records as the one written after recovering a copy of the segments.
 */
static void check_journal(void) {
        struct config *c;
        uint8_t *live, *replayed;
        size_t live_size, replayed_size;

        /* The commit timer writes what the last requests recorded. */
        event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        fuzz_dir_copy_segments(durable_dir, replay_dir);
        journal_close(true);
        live = fuzz_snapshot_records(durable_dir, &live_size);
        tear_down();

        if (mpxd_init() < 0)
                fuzz_fail("mpxd_init failed");
        c = fuzz_journal_start(replay_dir);
        journal_close(true);
        config_free(c);
        replayed = fuzz_snapshot_records(replay_dir, &replayed_size);
        tear_down();
        if (live_size != replayed_size || memcmp(live, replayed, live_size) != 0)
                fuzz_fail("the journal's segments recover other durable objects than those the daemon had");
        free(live);
        free(replayed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool warmed_up;
        struct config *durability;
        int fds_before;

        if (!warmed_up) {
                /* Whatever libraries open once and keep is not a leak of an input's. */
                log_set_level(LOG_LEVEL_ERR);
                /* As mpxd itself: a peer that closed its socket must not kill the process. */
                signal(SIGPIPE, SIG_IGN);
                trace = getenv("FUZZ_TRACE") != NULL;
                fuzz_dir_make(durable_dir, "mpx-fuzz-daemon");
                fuzz_dir_make(replay_dir, "mpx-fuzz-daemon-replay");
                if (mpxd_init() < 0)
                        fuzz_fail("mpxd_init failed");
                durability = fuzz_journal_start(durable_dir);
                journal_close(false);
                config_free(durability);
                mpxd_done();
                warmed_up = true;
        }
        fds_before = fuzz_count_open_fds();
        fuzz_dir_clean(durable_dir);
        fuzz_dir_clean(replay_dir);
        if (mpxd_init() < 0)
                fuzz_fail("mpxd_init failed");
        tighter_limits = false;
        set_limits(tighter_limits);
        durability = fuzz_journal_start(durable_dir);
        for (size_t i = 0; i < SLOTS; i++) {
                memset(&slots[i], 0, sizeof(slots[i]));
                slots[i].peer = -1;
        }

        while (size > 0) {
                size_t used = run_record(data, size);

                data += used;
                size -= used;
        }

        for (size_t i = 0; i < SLOTS; i++)
                slot_close(&slots[i]);
        check_journal();
        config_free(durability);
        if (fuzz_count_open_fds() != fds_before)
                fuzz_fail("a descriptor was left open");
        return 0;
}
