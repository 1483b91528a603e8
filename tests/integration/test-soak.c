/* SPDX-License-Identifier: MIT */
/*
 * A bounded soak of a real mpxd: a few hundred client processes (forked,
 * each with its own connection) do random operations on plain and joinable
 * queues, a semaphore, a lock and a dict, while a killer SIGKILLs random
 * clients and starts replacements. It runs for $MPX_SOAK_SECONDS (3 by
 * default, so that make check stays fast) with $MPX_SOAK_CLIENTS clients
 * (200), then stops every client, drains every queue and checks that the
 * books balance exactly, despite the kills:
 *
 * - Every item carries a unique id. Its fate is kept in a MAP_SHARED
 *   anonymous mapping made before the first fork: a put is marked sent
 *   before the request and acknowledged only once its reply is read; a get
 *   is recorded once its reply is read; a client marks what it has in
 *   flight (a get, a task_done, an increment) in its slot first, and the
 *   killer reads the slot of the process it killed and reaped.
 * - Plain queues: every acknowledged item is got once or drained at the
 *   end, or it was in flight to a consumer killed with a get pending; those
 *   are counted apart and must not exceed the items such gets asked for.
 *   Nothing is got twice, and nothing appears that was never sent.
 * - Joinable queues: nothing acknowledged is lost at all (at least once):
 *   every acknowledged item is finished (task_done acknowledged), drained at
 *   the end, or was the object of a task_done in flight when its client was
 *   killed; and nothing finished comes back.
 * - The lock: an acquire answered 0 finds nobody inside; one answered
 *   -EOWNERDEAD finds inside at most a process that was killed, and repairs.
 * - The dict counter lies between the acknowledged increments and those
 *   plus the increments in flight at a kill.
 * - The daemon's own counters: puts = gets - redelivered + size + delivered
 *   for every queue, acknowledged puts <= its puts <= sent puts, the
 *   semaphores are back to their initial values with nothing held, and once
 *   drained the queues hold no byte and the per-uid accounts (clients,
 *   waiters, objects, bytes) match the daemon's totals.
 *
 * Under ASan and LSan (./configure --enable-asan) the daemon exits non-zero
 * on any report, which fails the test. It prints its figures: operations,
 * kills, items, duration. It stops by itself, and reaps every process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "monotonic.h"
#include "macros.h"

#define DEFAULT_SECONDS         3
#define DEFAULT_CLIENTS         200
#define MAX_CLIENTS             1000
#define MAX_IDS                 (1u << 22)      /* items over the whole run */
#define KILL_EVERY_MS           10              /* the killer's pace, kept by the daemon's timer */
#define OP_TIMEOUT_MS           50              /* every blocking call gives up after this */
#define STOP_GRACE_MS           20000           /* clients told to stop must be gone by then */
#define MAX_BATCH               4
#define PID_SLOTS               (1u << 22)      /* Linux's largest pid_max */

#define N_PLAIN                 2
#define N_JOINABLE              2
static const char *const plain_names[N_PLAIN] = { "plain0", "plain1" };
static const char *const joinable_names[N_JOINABLE] = { "joinable0", "joinable1" };
#define SEM_UNITS               3

/* The fate of one item id. */
enum {
        ITEM_SENT       = 1 << 0,       /* its put was (or was about to be) sent */
        ITEM_ACKED      = 1 << 1,       /* its put was answered 0 */
        ITEM_REFUSED    = 1 << 2,       /* its put was answered an error: it never entered */
        ITEM_DONE       = 1 << 3,       /* joinable: its task_done was answered 0 */
        ITEM_MAYBE_DONE = 1 << 4,       /* joinable: its task_done was in flight at a kill */
        ITEM_JOINABLE   = 1 << 5,
};

/* What one client process has in flight; read by the killer once the process is reaped. */
struct slot {
        pid_t pid;
        atomic_uint plain_get_pending;  /* items a plain get in flight asked for */
        atomic_uint_least64_t done_pending;     /* id whose task_done is in flight, or 0 */
        atomic_uint incr_pending;       /* a dict increment is in flight */
};

struct shared {
        atomic_bool stop;
        atomic_uint_least64_t next_id;
        atomic_uint_least64_t ops;
        atomic_uint_least64_t incr_acked;
        atomic_uint_least64_t owner_dead_reports;
        atomic_int lock_owner;          /* pid of the process inside the lock, 0 if none */
        atomic_uint errors;
        char first_error[256];
        atomic_flag error_claimed;
        struct slot slots[MAX_CLIENTS];
        _Atomic uint8_t killed[PID_SLOTS];      /* by pid: set by the killer before SIGKILL */
        _Atomic uint8_t state[MAX_IDS];
        _Atomic uint8_t got[MAX_IDS];   /* times handed out, as recorded by the getters */
        uint8_t queue[MAX_IDS];         /* index: plain 0..N_PLAIN-1, joinable N_PLAIN.. */
};

struct soak {
        struct harness_daemon d;
        mpx *m;
        struct shared *sh;
        unsigned n_clients;
        unsigned seconds;
};

static unsigned env_unsigned(const char *name, unsigned def, unsigned max) {
        const char *v = getenv(name);
        char *end;
        unsigned long n;

        if (!v || !*v)
                return def;
        n = strtoul(v, &end, 10);
        if (*end || n == 0 || n > max)
                fail_msg("%s=%s: expected 1 to %u", name, v, max);
        return (unsigned) n;
}

/* ---- the client processes ---- */

struct client_ctx {
        struct shared *sh;
        struct slot *slot;
        int index;
        const char *socket;
        mpx *m;
        uint64_t rng;
};

static uint64_t next_random(uint64_t *s) {
        /* xorshift64*: plenty for picking operations. */
        *s ^= *s >> 12;
        *s ^= *s << 25;
        *s ^= *s >> 27;
        return *s * 2685821657736338717ull;
}

static unsigned pick(struct client_ctx *c, unsigned n) {
        return (unsigned) (next_random(&c->rng) % n);
}

/* Record the first unexpected result and make the client exit 1. */
static int client_error(struct client_ctx *c, const char *what, int r) {
        atomic_fetch_add(&c->sh->errors, 1);
        if (!atomic_flag_test_and_set(&c->sh->error_claimed))
                snprintf(c->sh->first_error, sizeof(c->sh->first_error), "client %d (pid %ld): %s: %s",
                         c->index, (long) getpid(), what, mpx_strerror(r));
        return -1;
}

/* A new item id, or 0 when the run has used them all. */
static uint64_t new_id(struct client_ctx *c, unsigned queue) {
        uint64_t id = atomic_fetch_add(&c->sh->next_id, 1);

        if (id >= MAX_IDS)
                return 0;
        c->sh->queue[id] = (uint8_t) queue;
        atomic_store(&c->sh->state[id], ITEM_SENT | (queue >= N_PLAIN ? ITEM_JOINABLE : 0));
        return id;
}

/* An item's payload: its id, then some bytes so that sizes vary. */
static size_t make_payload(struct client_ctx *c, uint64_t id, uint8_t *buf) {
        size_t size = sizeof(id) + pick(c, 200);

        memcpy(buf, &id, sizeof(id));
        memset(buf + sizeof(id), (int) (id & 0xff), size - sizeof(id));
        return size;
}

static uint64_t payload_id(const mpx_item *it) {
        uint64_t id = 0;

        if (it->size >= sizeof(id))
                memcpy(&id, it->data, sizeof(id));
        return id;
}

/* Put one or a few items on queue (an index over both kinds). */
static int op_put(struct client_ctx *c, unsigned queue) {
        const char *name = queue < N_PLAIN ? plain_names[queue] : joinable_names[queue - N_PLAIN];
        unsigned n = queue < N_PLAIN ? 1 + pick(c, MAX_BATCH) : 1;
        uint8_t bufs[MAX_BATCH][256];
        struct iovec iov[MAX_BATCH];
        uint64_t ids[MAX_BATCH];
        int r;

        for (unsigned i = 0; i < n; i++) {
                ids[i] = new_id(c, queue);
                if (!ids[i])
                        return 0;
                iov[i].iov_base = bufs[i];
                iov[i].iov_len = make_payload(c, ids[i], bufs[i]);
        }
        r = n == 1 ? mpx_queue_put(c->m, name, iov[0].iov_base, iov[0].iov_len, OP_TIMEOUT_MS)
                   : mpx_queue_put_many(c->m, name, iov, n, OP_TIMEOUT_MS);
        if (r < 0 && r != -ETIMEDOUT)
                return client_error(c, "put", r);
        for (unsigned i = 0; i < n; i++)
                atomic_fetch_or(&c->sh->state[ids[i]], r == 0 ? ITEM_ACKED : ITEM_REFUSED);
        return 0;
}

static int record_got(struct client_ctx *c, const mpx_item *it) {
        uint64_t id = payload_id(it);

        if (id == 0 || id >= MAX_IDS || !(atomic_load(&c->sh->state[id]) & ITEM_SENT))
                return client_error(c, "got an item that was never sent", -EPROTO);
        atomic_fetch_add(&c->sh->got[id], 1);
        return 0;
}

static int op_get_plain(struct client_ctx *c, unsigned queue) {
        mpx_item items[MAX_BATCH] = { 0 };
        unsigned max = 1 + pick(c, MAX_BATCH);
        int r;

        atomic_store(&c->slot->plain_get_pending, max);
        r = mpx_queue_get_many(c->m, plain_names[queue], items, max, OP_TIMEOUT_MS);
        if (r < 0 && r != -ETIMEDOUT)
                return client_error(c, "get_many", r);
        for (int i = 0; i < r; i++) {
                if (record_got(c, &items[i]) < 0)
                        return -1;
                mpx_item_clear(&items[i]);
        }
        atomic_store(&c->slot->plain_get_pending, 0);
        return 0;
}

/* Get from a joinable queue and finish it, or (rarely) keep it undone until this client ends. */
static int op_get_joinable(struct client_ctx *c, unsigned j) {
        const char *name = joinable_names[j];
        mpx_item it = { 0 };
        uint64_t id, tag;
        int r = mpx_queue_get(c->m, name, OP_TIMEOUT_MS, &it);

        if (r == -ETIMEDOUT)
                return 0;
        if (r < 0)
                return client_error(c, "joinable get", r);
        if (record_got(c, &it) < 0)
                return -1;
        id = payload_id(&it);
        tag = it.tag;
        mpx_item_clear(&it);
        if (pick(c, 10) == 0)
                return 0;
        atomic_store(&c->slot->done_pending, id);
        r = mpx_queue_task_done(c->m, name, tag);
        if (r < 0)
                return client_error(c, "task_done", r);
        atomic_fetch_or(&c->sh->state[id], ITEM_DONE);
        atomic_store(&c->slot->done_pending, 0);
        return 0;
}

static int incr_counter(struct client_ctx *c) {
        int r;

        atomic_store(&c->slot->incr_pending, 1);
        r = mpx_dict_incr(c->m, "dict", "counter", 7, 1, NULL);
        if (r < 0)
                return client_error(c, "dict incr", r);
        atomic_fetch_add(&c->sh->incr_acked, 1);
        atomic_store(&c->slot->incr_pending, 0);
        return 0;
}

/* Take the lock; check who was inside; do a little; leave and release. */
static int op_lock(struct client_ctx *c) {
        int r = mpx_sem_acquire(c->m, "lock", OP_TIMEOUT_MS), owner;

        if (r == -ETIMEDOUT)
                return 0;
        if (r < 0 && r != -EOWNERDEAD)
                return client_error(c, "lock acquire", r);
        owner = atomic_load(&c->sh->lock_owner);
        if (r == 0 && owner != 0)
                return client_error(c, "the lock was acquired with another process inside", -EBUSY);
        if (r == -EOWNERDEAD) {
                atomic_fetch_add(&c->sh->owner_dead_reports, 1);
                /* Whoever is inside must have been killed: repair by taking its place. */
                if (owner != 0 && !atomic_load(&c->sh->killed[(unsigned) owner % PID_SLOTS]))
                        return client_error(c, "EOWNERDEAD, but the process inside was not killed", r);
        }
        atomic_store(&c->sh->lock_owner, (int) getpid());
        if (incr_counter(c) < 0)
                return -1;
        atomic_store(&c->sh->lock_owner, 0);
        r = mpx_sem_release(c->m, "lock");
        return r < 0 ? client_error(c, "lock release", r) : 0;
}

static int op_sem(struct client_ctx *c) {
        int r = mpx_sem_acquire(c->m, "sem", OP_TIMEOUT_MS);

        if (r == -ETIMEDOUT)
                return 0;
        if (r < 0 && r != -EOWNERDEAD)
                return client_error(c, "sem acquire", r);
        if (pick(c, 2) && op_put(c, pick(c, N_PLAIN + N_JOINABLE)) < 0)
                return -1;
        r = mpx_sem_release(c->m, "sem");
        return r < 0 ? client_error(c, "sem release", r) : 0;
}

static int op_dict(struct client_ctx *c) {
        char key[16];
        mpx_buf v = { 0 };
        int r;

        snprintf(key, sizeof(key), "k%u", pick(c, 64));
        if (pick(c, 2))
                r = mpx_dict_set(c->m, "dict", key, strlen(key), "value", 5);
        else {
                r = mpx_dict_get(c->m, "dict", key, strlen(key), &v);
                if (r == -ENOENT)
                        r = 0;
                mpx_buf_clear(&v);
        }
        return r < 0 ? client_error(c, "dict", r) : 0;
}

static int client_step(struct client_ctx *c) {
        unsigned q = pick(c, N_PLAIN), j = pick(c, N_JOINABLE);

        switch (pick(c, 10)) {
        case 0:
        case 1:
                return op_put(c, q);
        case 2:
        case 3:
                return op_get_plain(c, q);
        case 4:
                return op_put(c, N_PLAIN + j);
        case 5:
                return op_get_joinable(c, j);
        case 6:
                return op_lock(c);
        case 7:
                return op_sem(c);
        case 8:
                return incr_counter(c);
        default:
                return op_dict(c);
        }
}

struct client_args {
        struct shared *sh;
        int index;
        const char *socket;
        uint64_t seed;
};

static int client_run(void *arg) {
        const struct client_args *a = arg;
        struct client_ctx c = {
                .sh = a->sh,
                .slot = &a->sh->slots[a->index],
                .index = a->index,
                .socket = a->socket,
                .rng = a->seed | 1,
        };
        int r;

        /* A pid is used again only after pid_max others: this one is alive. */
        atomic_store(&c.sh->killed[(unsigned) getpid() % PID_SLOTS], 0);
        r = mpx_connect(a->socket, &c.m);
        if (r < 0)
                return client_error(&c, "connect", r) < 0 ? 1 : 0;
        while (!atomic_load(&c.sh->stop)) {
                if (client_step(&c) < 0)
                        return 1;
                atomic_fetch_add(&c.sh->ops, 1);
        }
        mpx_disconnect(c.m);
        return 0;
}

/* ---- the test: start, kill and replace, stop, drain, check ---- */

static uint64_t seed;

static void spawn_client(struct soak *s, int index) {
        struct slot *slot = &s->sh->slots[index];
        struct client_args a = {
                .sh = s->sh,
                .index = index,
                .socket = s->d.socket,
                .seed = next_random(&seed),
        };

        atomic_store(&slot->plain_get_pending, 0);
        atomic_store(&slot->done_pending, 0);
        atomic_store(&slot->incr_pending, 0);
        slot->pid = harness_fork(client_run, &a);
}

struct kill_books {
        uint64_t kills;
        uint64_t plain_in_flight;       /* items asked for by plain gets pending at a kill */
        uint64_t incr_in_flight;        /* increments pending at a kill */
        uint64_t done_in_flight;        /* task_done pending at a kill */
};

/* Kill a client, reap it, and book what it had in flight. */
static void kill_client(struct soak *s, int index, struct kill_books *k) {
        struct slot *slot = &s->sh->slots[index];
        uint64_t id;

        atomic_store(&s->sh->killed[(unsigned) slot->pid % PID_SLOTS], 1);
        harness_kill(slot->pid);
        slot->pid = 0;
        k->kills++;
        k->plain_in_flight += atomic_load(&slot->plain_get_pending);
        k->incr_in_flight += atomic_load(&slot->incr_pending);
        id = atomic_load(&slot->done_pending);
        if (id) {
                atomic_fetch_or(&s->sh->state[id], ITEM_MAYBE_DONE);
                k->done_in_flight++;
        }
        /* The dead process may still be "inside" the lock: its successor is told EOWNERDEAD. */
}

/* A client that exited by itself has failed: say why. */
static void check_no_exit(struct soak *s) {
        int status;
        pid_t pid;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                fail_msg("client pid %ld exited by itself (status %d): %s", (long) pid, status,
                         s->sh->errors ? s->sh->first_error : "no error recorded");
}

/* Tell every client to stop and reap them all; any left after the grace is killed. */
static void stop_clients(struct soak *s, struct kill_books *k) {
        int64_t deadline = monotonic_ms() + STOP_GRACE_MS;

        atomic_store(&s->sh->stop, true);
        for (unsigned i = 0; i < s->n_clients; i++) {
                struct slot *slot = &s->sh->slots[i];
                int status = -1;
                pid_t r = 0;

                while (slot->pid > 0 && (r = waitpid(slot->pid, &status, WNOHANG)) == 0 &&
                       monotonic_ms() < deadline) {
                        /* Wait on the daemon's clock, not a sleep: a get that times out. */
                        mpx_item it = { 0 };

                        assert_int_equal(mpx_queue_get(s->m, "tick", 5, &it), -ETIMEDOUT);
                }
                if (slot->pid > 0 && r == 0) {
                        kill_client(s, (int) i, k);
                        continue;
                }
                if (slot->pid > 0 && (r != slot->pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0))
                        fail_msg("client %u did not stop cleanly (status %d): %s", i, status,
                                 s->sh->errors ? s->sh->first_error : "no error recorded");
                slot->pid = 0;
        }
}

/* Take everything left in a queue, finishing joinable deliveries; mark each id drained. */
static uint64_t drain(struct soak *s, const char *name, bool joinable, uint8_t *drained) {
        uint64_t n = 0;

        for (;;) {
                mpx_item it = { 0 };
                uint64_t id;
                int r = mpx_queue_get(s->m, name, 0, &it);

                if (r == -EAGAIN)
                        break;
                assert_int_equal(r, 0);
                id = payload_id(&it);
                if (id == 0 || id >= MAX_IDS || !(atomic_load(&s->sh->state[id]) & ITEM_SENT))
                        fail_msg("%s: drained an item that was never sent (id %" PRIu64 ")", name, id);
                if (drained[id]++)
                        fail_msg("%s: item %" PRIu64 " drained twice", name, id);
                if (joinable)
                        assert_int_equal(mpx_queue_task_done(s->m, name, it.tag), 0);
                mpx_item_clear(&it);
                n++;
        }
        return n;
}

/* puts = gets - redelivered + size + delivered, from the daemon's own INFO. */
static void check_daemon_books(struct soak *s, const char *name) {
        int64_t puts = harness_field(s->m, name, "puts"), gets = harness_field(s->m, name, "gets");
        int64_t redelivered = harness_field(s->m, name, "redelivered");
        int64_t size = harness_field(s->m, name, "size"), delivered = harness_field(s->m, name, "delivered");

        if (puts != gets - redelivered + size + delivered)
                fail_msg("%s: puts %" PRId64 " != gets %" PRId64 " - redelivered %" PRId64 " + size %" PRId64
                         " + delivered %" PRId64, name, puts, gets, redelivered, size, delivered);
}

static int64_t info_num(const mpx_info *info, const char *key) {
        const mpx_field *f = mpx_info_get(info, key);

        if (!f || f->is_str)
                fail_msg("no numeric field %s", key);
        return f->num;
}

/*
 * Once drained, the queues hold no byte, and the daemon's accounts of this
 * uid (the only one here) match the daemon's totals: one client, no waiter,
 * every object, every byte, whatever the kills interrupted.
 */
static void check_memory_books(struct soak *s) {
        mpx_info stats = { 0 }, *users = NULL;
        size_t n = 0;
        uint64_t next = 0;

        for (unsigned q = 0; q < N_PLAIN + N_JOINABLE; q++)
                assert_int_equal(harness_field(s->m, q < N_PLAIN ? plain_names[q] : joinable_names[q - N_PLAIN],
                                               "bytes"), 0);
        assert_int_equal(mpx_stats(s->m, &stats), 0);
        assert_int_equal(mpx_users(s->m, 0, 100, &users, &n, &next), 0);
        assert_int_equal(n, 1);
        assert_int_equal(info_num(&users[0], "uid"), (int64_t) getuid());
        assert_int_equal(info_num(&users[0], "clients"), 1);
        assert_int_equal(info_num(&users[0], "waiters"), 0);
        assert_int_equal(info_num(&users[0], "objects"), info_num(&stats, "objects"));
        assert_int_equal(info_num(&users[0], "bytes"), info_num(&stats, "bytes"));
        mpx_objects_free(users, n);
        mpx_info_clear(&stats);
}

static void test_soak(void **state) {
        struct soak s = { 0 };
        struct kill_books k = { 0 };
        uint64_t acked[N_PLAIN + N_JOINABLE] = { 0 }, sent[N_PLAIN + N_JOINABLE] = { 0 };
        uint64_t lost = 0, drained_total = 0, got_total = 0, redelivered_total = 0, ids;
        int64_t start, deadline, counter, daemon_puts;
        uint8_t *drained;
        mpx_buf v = { 0 };
        char text[32];

        (void) state;
        s.seconds = env_unsigned("MPX_SOAK_SECONDS", DEFAULT_SECONDS, 3600);
        s.n_clients = env_unsigned("MPX_SOAK_CLIENTS", DEFAULT_CLIENTS, MAX_CLIENTS);
        seed = (uint64_t) time(NULL) * 2654435761u + (uint64_t) getpid();
        printf("soak: %u clients for %u s, seed %" PRIu64 "\n", s.n_clients, s.seconds, seed);
        s.sh = mmap(NULL, sizeof(*s.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        assert_true(s.sh != MAP_FAILED);
        atomic_store(&s.sh->next_id, 1);
        drained = calloc(MAX_IDS, 1);
        assert_non_null(drained);

        /* Quiet: every kill would log what the daemon gave back. */
        harness_start(&s.d, (const char *const[]) { "--quiet", NULL });
        s.m = harness_connect(&s.d);
        for (unsigned i = 0; i < N_PLAIN; i++)
                assert_int_equal(mpx_queue_declare(s.m, plain_names[i], i == 0 ? 64 : 0, 0), 1);
        for (unsigned i = 0; i < N_JOINABLE; i++)
                assert_int_equal(mpx_queue_declare(s.m, joinable_names[i], 0, MPX_QUEUE_JOINABLE), 1);
        assert_int_equal(mpx_queue_declare(s.m, "tick", 0, 0), 1);
        assert_int_equal(mpx_sem_declare(s.m, "sem", SEM_UNITS, 0, 0), 1);
        assert_int_equal(mpx_sem_declare(s.m, "lock", 1, 1, MPX_SEM_BOUNDED), 1);
        assert_int_equal(mpx_dict_declare(s.m, "dict"), 1);

        start = monotonic_ms();
        for (unsigned i = 0; i < s.n_clients; i++)
                spawn_client(&s, (int) i);
        deadline = start + (int64_t) s.seconds * 1000;
        /* The killer: one random client every KILL_EVERY_MS, replaced at once. */
        while (monotonic_ms() < deadline) {
                mpx_item it = { 0 };
                int victim = (int) (next_random(&seed) % s.n_clients);

                assert_int_equal(mpx_queue_get(s.m, "tick", KILL_EVERY_MS, &it), -ETIMEDOUT);
                check_no_exit(&s);
                kill_client(&s, victim, &k);
                spawn_client(&s, victim);
        }
        stop_clients(&s, &k);
        check_no_exit(&s);
        if (s.sh->errors)
                fail_msg("%u client errors; the first: %s", s.sh->errors, s.sh->first_error);

        /* Every connection is gone; nobody waits, nothing is held. */
        harness_wait_stat(s.m, "clients", 1);
        harness_wait_stat(s.m, "waiters", 0);
        for (unsigned q = 0; q < N_PLAIN + N_JOINABLE; q++)
                check_daemon_books(&s, q < N_PLAIN ? plain_names[q] : joinable_names[q - N_PLAIN]);
        for (unsigned q = 0; q < N_JOINABLE; q++) {
                assert_int_equal(harness_field(s.m, joinable_names[q], "delivered"), 0);
                redelivered_total += (uint64_t) harness_field(s.m, joinable_names[q], "redelivered");
        }
        assert_int_equal(mpx_sem_value(s.m, "sem"), SEM_UNITS);
        assert_int_equal(mpx_sem_value(s.m, "lock"), 1);
        assert_int_equal(harness_field(s.m, "sem", "held") + harness_field(s.m, "lock", "held"), 0);
        if ((int64_t) atomic_load(&s.sh->owner_dead_reports) > harness_field(s.m, "lock", "owner_died"))
                fail_msg("%" PRIu64 " EOWNERDEAD reports for %" PRId64 " holders that died",
                         (uint64_t) atomic_load(&s.sh->owner_dead_reports),
                         harness_field(s.m, "lock", "owner_died"));

        /* The dict counter: acknowledged <= value <= acknowledged + in flight at a kill. */
        assert_int_equal(mpx_dict_get(s.m, "dict", "counter", 7, &v), 0);
        snprintf(text, sizeof(text), "%.*s", (int) v.size, (const char *) v.data);
        mpx_buf_clear(&v);
        counter = strtoll(text, NULL, 10);
        if (counter < (int64_t) s.sh->incr_acked || counter > (int64_t) (s.sh->incr_acked + k.incr_in_flight))
                fail_msg("dict counter %" PRId64 ", acknowledged %" PRIu64 ", in flight at kills %" PRIu64, counter,
                         (uint64_t) s.sh->incr_acked, k.incr_in_flight);

        /* Drain, then account for every id. */
        for (unsigned q = 0; q < N_PLAIN; q++)
                drained_total += drain(&s, plain_names[q], false, drained);
        for (unsigned q = 0; q < N_JOINABLE; q++)
                drained_total += drain(&s, joinable_names[q], true, drained);
        ids = atomic_load(&s.sh->next_id);
        if (ids > MAX_IDS)
                ids = MAX_IDS;
        for (uint64_t id = 1; id < ids; id++) {
                uint8_t st = atomic_load(&s.sh->state[id]), got = atomic_load(&s.sh->got[id]);
                unsigned q = s.sh->queue[id];

                if (!(st & ITEM_SENT))
                        continue;
                got_total += got;
                sent[q]++;
                if (st & ITEM_ACKED)
                        acked[q]++;
                if ((st & ITEM_REFUSED) && (got || drained[id]))
                        fail_msg("item %" PRIu64 " was refused, yet delivered", id);
                if (!(st & ITEM_JOINABLE)) {
                        if (got + drained[id] > 1)
                                fail_msg("plain item %" PRIu64 " delivered %u times", id, got + drained[id]);
                        if ((st & ITEM_ACKED) && !got && !drained[id])
                                lost++;
                        continue;
                }
                if ((st & ITEM_DONE) && drained[id])
                        fail_msg("joinable item %" PRIu64 " came back after it was finished", id);
                if ((st & ITEM_ACKED) && !(st & (ITEM_DONE | ITEM_MAYBE_DONE)) && !drained[id])
                        fail_msg("joinable item %" PRIu64 " was acknowledged and lost", id);
        }
        /* Plain items lost can only be those in flight to a consumer killed with a get pending. */
        if (lost > k.plain_in_flight)
                fail_msg("%" PRIu64 " plain items lost, but gets in flight at kills asked for only %" PRIu64,
                         lost, k.plain_in_flight);
        for (unsigned q = 0; q < N_PLAIN + N_JOINABLE; q++) {
                const char *name = q < N_PLAIN ? plain_names[q] : joinable_names[q - N_PLAIN];

                daemon_puts = harness_field(s.m, name, "puts");
                if (daemon_puts < (int64_t) acked[q] || daemon_puts > (int64_t) sent[q])
                        fail_msg("%s: the daemon counts %" PRId64 " puts; acknowledged %" PRIu64 ", sent %" PRIu64,
                                 name, daemon_puts, acked[q], sent[q]);
                assert_int_equal(harness_field(s.m, name, "size"), 0);
                check_daemon_books(&s, name);
                if (q >= N_PLAIN)
                        assert_int_equal(mpx_queue_join(s.m, name, 0), 0);
        }

        check_memory_books(&s);

        printf("soak: %.1f s, %u clients, %" PRIu64 " operations, %" PRIu64 " kills, %" PRIu64
               " items put (%" PRIu64 " acknowledged), %" PRIu64 " got, %" PRIu64 " redelivered, %" PRIu64
               " drained, %" PRIu64 " plain items lost in flight to killed consumers (bound %" PRIu64 "), %" PRIu64
               " task_done and %" PRIu64 " increments in flight at kills, %" PRIu64 " EOWNERDEAD reports\n",
               (double) (monotonic_ms() - start) / 1000.0, s.n_clients, (uint64_t) atomic_load(&s.sh->ops), k.kills,
               ids - 1, acked[0] + acked[1] + acked[2] + acked[3], got_total, redelivered_total, drained_total, lost,
               k.plain_in_flight, k.done_in_flight, k.incr_in_flight,
               (uint64_t) atomic_load(&s.sh->owner_dead_reports));

        s.m = mpx_disconnect(s.m);
        /* A crash, or an ASan, LSan or valgrind report of the daemon, fails here. */
        assert_int_equal(harness_stop(&s.d), 0);
        free(drained);
        munmap(s.sh, sizeof(*s.sh));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_soak),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
