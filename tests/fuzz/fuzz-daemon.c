/* SPDX-License-Identifier: MIT */
/*
 * Fuzzing the daemon's request handling. Every input runs against a fresh
 * daemon state (mpxd_init) with up to four socketless clients
 * (client_new(-1)), fed byte streams exactly as if read from their sockets.
 * At the end every client is lost, every object deleted, the deferred frees
 * run and mpxd_done frees the rest: LeakSanitizer then sees any memory the
 * daemon forgot, and a count of open descriptors catches a leaked memfd,
 * pipe or socketpair.
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
 * A slot gets a client (with HELLO) when bytes are first fed to it, so the
 * fuzzer need not learn HELLO (it may still send its own). The client of
 * slot 0 acts as mpxd's own user (a superuser, as socketless clients are);
 * those of slots 1 and 2 as one unprivileged user of group FUZZ_GID (two
 * connections of one uid share its quotas), slot 3 as another user of
 * another group, so that permissions are checked and refused (CHMOD, CHOWN,
 * each object's mode). Several clients
 * let bytes for one of them serve another's blocked request: a put for a
 * getter, a release for an acquirer, the last party of a barrier, the
 * other end of a pipe.
 *
 * Two kinds of request are defused on the way in, by rewriting bytes of
 * the client's stream before they are fed, so that the daemon still sees
 * a well-framed stream and the same input always does the same:
 *  - POOL_START, POOL_SCALE, POOL_SIGNAL and POOL_STOP (850..853) fork and
 *    exec commands and signal processes: a fuzzer must never start
 *    processes. Their opcode becomes one that does not exist.
 *  - ARRAY_DECLARE's length is cut to 12 bits: each array is a fully
 *    allocated memfd of up to 1 GiB, and one input could declare dozens.
 * The limits are lowered as a configuration may (limits.max_objects,
 * max_memory, max_output, max_waiters_per_client, per_user): that bounds
 * the state one input can build and reaches each limit's own path. The
 * daemon's code is not changed.
 *
 * Every reply is checked as it is produced: a whole frame, a known status,
 * and no body on an error (but HELLO's refusal of another version). With
 * FUZZ_TRACE set in the environment, each reply is also printed, to see
 * what an input (a new seed, say) reaches.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpxd.h"
#include "fuzz.h"

#define SLOTS                   4u
#define ARRAY_LENGTH_MAX        0x0fffu         /* what the filter leaves of ARRAY_DECLARE's length */
#define OP_NONEXISTENT_HIGH     0xffu           /* opcodes 0xff00..0xffff do not exist */
#define FUZZ_UID                1001u           /* slots 1 and 2 */
#define FUZZ_GID                1000u
#define FUZZ_OTHER_UID          1003u           /* slot 3 */
#define FUZZ_OTHER_GID          1003u

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
        struct stream stream;
};

static struct slot slots[SLOTS];
static bool trace;

/* The limits in force: small enough to be reached by inputs of a few KiB. */
static void set_limits(void) {
        mpxd.max_message = 1024;
        mpxd.max_objects = 16;
        mpxd.max_memory = 96u << 10;
        mpxd.max_output = CONFIG_MIN_MAX_OUTPUT;
        mpxd.max_waiters_per_client = 8;
        mpxd.per_user.max_memory = 64u << 10;
        mpxd.per_user.max_objects = 8;
        mpxd.per_user.max_waiters = 12;
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

static void slot_open(struct slot *sl, bool hello) {
        size_t n = (size_t) (sl - slots);

        memset(&sl->stream, 0, sizeof(sl->stream));
        if (n == 0)
                sl->client = client_new(-1);
        else if (n < SLOTS - 1)
                sl->client = client_new_as(-1, 0, FUZZ_UID, FUZZ_GID);
        else
                sl->client = client_new_as(-1, 0, FUZZ_OTHER_UID, FUZZ_OTHER_GID);
        if (!sl->client)
                fuzz_fail("client_new failed");
        if (hello)
                client_feed(sl->client, hello_frame, sizeof(hello_frame));
}

static void slot_close(struct slot *sl) {
        if (sl->client)
                client_lost(sl->client, "fuzz: connection closed");
        sl->client = NULL;
}

/* Feed bytes through the filter, as one read from the socket. */
static void slot_feed(struct slot *sl, const uint8_t *data, size_t len) {
        static uint8_t buf[UINT16_MAX];

        for (size_t i = 0; i < len; i++)
                buf[i] = sl->stream.header_got < WIRE_HEADER_SIZE ? stream_header_byte(&sl->stream, data[i]) :
                                                                     stream_body_byte(&sl->stream, data[i]);
        client_feed(sl->client, buf, len);
}

/* Every reply queued for c is a whole, sane frame; then they are dropped. */
static void check_replies(struct client *c) {
        size_t off = c->out_off;

        while (off < c->out.len) {
                struct wire_header h;

                if (c->out.len - off < WIRE_HEADER_SIZE)
                        fuzz_fail("a reply header is cut short");
                wire_header_decode(c->out.data + off, &h);
                if (c->out.len - off - WIRE_HEADER_SIZE < h.body_len)
                        fuzz_fail("a reply body is cut short");
                if (h.status >= _WIRE_STATUS_MAX)
                        fuzz_fail("a reply has an unknown status");
                if (h.status != WIRE_OK && h.body_len != 0 && h.op != WIRE_OP_HELLO)
                        fuzz_fail("an error reply has a body");
                if (trace)
                        fprintf(stderr, "client %llu: reply to %u, op %u (%s), status %u, %u bytes\n",
                                (unsigned long long) c->id, h.id, h.op, wire_op_name(h.op) ?: "unknown", h.status,
                                h.body_len);
                off += WIRE_HEADER_SIZE + h.body_len;
        }
        c->out.len = 0;
        c->out_off = 0;
}

/*
 * What the daemon does at the end of each event: flush (a socketless
 * client only leaves the dirty list), and lose a client that must close
 * once its output is written. Replies are checked and dropped here.
 */
static void settle(void) {
        client_flush_dirty();
        for (size_t i = 0; i < SLOTS; i++) {
                struct client *c = slots[i].client;

                if (!c)
                        continue;
                check_replies(c);
                if (c->dead)
                        slots[i].client = NULL;         /* the daemon lost it; a deferred event frees it */
                else if (c->closing)
                        slot_close(&slots[i]);
        }
}

/* Fire every waiter's timer now, as if each deadline had passed. */
static void fire_timers(void) {
        struct client *c;
        struct waiter *w;

        TAILQ_FOREACH(c, &mpxd.clients, link)
                TAILQ_FOREACH(w, &c->waiters, client_link)
                        if (w->has_timer)
                                event_active(&w->timer, EV_TIMEOUT, 1);
        event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
}

/* Descriptors open in this process: none may be left behind by an input. */
static int count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        if (!d)
                return -1;
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* One record: returns how many bytes of the input it used. */
static size_t run_record(const uint8_t *data, size_t size) {
        struct slot *sl = &slots[data[0] % SLOTS];
        unsigned action = (data[0] >> 2) & 7u;
        size_t len;

        switch (action) {
        case ACTION_RECONNECT:
        case ACTION_RECONNECT_NO_HELLO:
                slot_close(sl);
                slot_open(sl, action == ACTION_RECONNECT);
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
        if (!sl->client)
                slot_open(sl, true);
        slot_feed(sl, data + 3, len);
        if (action == ACTION_FEED_AND_TURN)
                event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        settle();
        return 3 + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static bool warmed_up;
        int fds_before;

        if (!warmed_up) {
                /* Whatever libraries open once and keep is not a leak of an input's. */
                log_set_level(LOG_LEVEL_ERR);
                trace = getenv("FUZZ_TRACE") != NULL;
                if (mpxd_init() < 0)
                        fuzz_fail("mpxd_init failed");
                mpxd_done();
                warmed_up = true;
        }
        fds_before = count_open_fds();
        if (mpxd_init() < 0)
                fuzz_fail("mpxd_init failed");
        set_limits();
        memset(slots, 0, sizeof(slots));

        while (size > 0) {
                size_t used = run_record(data, size);

                data += used;
                size -= used;
        }

        for (size_t i = 0; i < SLOTS; i++)
                slot_close(&slots[i]);
        object_delete_all(-ESHUTDOWN);
        /* The deferred frees of the clients just lost. */
        event_base_loop(mpxd.base, EVLOOP_NONBLOCK);
        if (mpxd.n_clients != 0 || mpxd.n_objects != 0 || mpxd.n_waiters != 0)
                fuzz_fail("clients, objects or waiters are left after every client and object went away");
        if (mpxd.bytes_held != 0 || mpxd.n_users != 0)
                fuzz_fail("bytes or users are still charged after every client and object went away");
        mpxd_done();
        if (count_open_fds() != fds_before)
                fuzz_fail("a descriptor was left open");
        return 0;
}
