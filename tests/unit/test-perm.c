/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of object permissions (daemon/perm.c): the decision function
 * over the whole matrix of classes, rights and modes, and its use by real
 * request handling with socketless clients given other credentials: the
 * access classes of op.c's table, DECLARE of an object that exists, CHMOD
 * and CHOWN, superusers and the admin group, owners of configured objects,
 * the fields of INFO, what LIST shows of objects a client may not read,
 * PIPE_OPEN of a pipe that exists, and one logged
 * refusal per client and object (remembered for at most 1024 objects).
 */
#include "client-internal.h"
#include "client.h"
#include "configfile.h"
#include "hash.h"
#include "mpxd.h"
#include "perm.h"
#include "unit-client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <sys/socket.h>

/* Credentials no test process has (the tests skip when they do). */
#define OWNER_UID       4101u
#define MEMBER_UID      4102u
#define OTHER_UID       4103u
#define SHARED_GID      4201u   /* the owner's primary group, the member's too */
#define OTHER_GID       4202u
#define EXTRA_GID       4203u   /* a supplementary group of the owner */
#define ADMIN_GID       4204u

/* ---- the decision function ---- */

/*
 * What each class may do under a mode, as a string of nine characters:
 * owner's r w a, group's r w a, other's r w a ('-' where refused).
 */
static const struct {
        unsigned mode;
        const char *rights;
} matrix[] = {
        { 0660, "rwarw----" },
        { 0640, "rwar-----" },
        { 0600, "rwa------" },
        { 0666, "rwarw-rw-" },
        { 0644, "rwar--r--" },
        { 0777, "rwarw-rw-" },
        { 0000, "--a------" },
        { 0400, "r-a------" },
        { 0200, "-wa------" },
        { 0060, "--arw----" },          /* the owner gets nothing from the group's bits */
        { 0006, "--a---rw-" },          /* nor the group from the other's */
        { 0046, "--ar--rw-" },
        { 0462, "r-arw--w-" },
        { 0111, "--a------" },          /* x means nothing */
        { 07660, "rwarw----" },         /* nor do the three high bits */
};

static void test_matrix(void **state) {
        static const enum perm_access rights[] = { PERM_READ, PERM_WRITE, PERM_ADMIN };
        static const struct perm_who classes[] = {
                { .owner = true },
                { .in_group = true },
                { 0 },
        };

        for (size_t m = 0; m < ARRAY_SIZE(matrix); m++)
                for (size_t c = 0; c < ARRAY_SIZE(classes); c++)
                        for (size_t r = 0; r < ARRAY_SIZE(rights); r++) {
                                bool want = matrix[m].rights[c * 3 + r] != '-';
                                struct perm_who su = classes[c];

                                if (perm_allows(&classes[c], matrix[m].mode, rights[r]) != want)
                                        fail_msg("mode %04o class %zu %s: expected %s", matrix[m].mode, c,
                                                 perm_access_name(rights[r]), want ? "allowed" : "refused");
                                /* A superuser may do everything, whatever its class and the mode. */
                                su.superuser = true;
                                assert_true(perm_allows(&su, matrix[m].mode, rights[r]));
                        }
        /* An owner that is also in the group is judged as the owner. */
        assert_false(perm_allows(&(struct perm_who) { .owner = true, .in_group = true }, 0060, PERM_READ));
        /* Requests that name no object need nothing. */
        assert_true(perm_allows(&(struct perm_who) { 0 }, 0, PERM_NONE));
}

/* ---- requests ---- */

/* A socketless client with these credentials and supplementary groups that has said HELLO. */
static struct client *client_as(struct fixture *f, uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups) {
        struct client *c = client_add(f, "perm");

        client_shared(c)->uid = uid;
        client_shared(c)->gid = gid;
        free(c->groups);
        c->groups = NULL;
        c->n_groups = 0;
        if (n_groups) {
                c->groups = calloc(n_groups, sizeof(*groups));
                assert_non_null(c->groups);
                memcpy(c->groups, groups, n_groups * sizeof(*groups));
                c->n_groups = n_groups;
        }
        c->groups_known = true;
        return c;
}

/* Send CHMOD name mode. */
static void send_chmod(struct client *c, uint32_t id, const char *name, unsigned mode) {
        struct wire_buf b;

        wire_buf_init(&b);
        assert_int_equal(wire_put_name(&b, name, strlen(name)), 0);
        assert_int_equal(wire_put_u16(&b, (uint16_t) mode), 0);
        send_body(c, id, WIRE_OP_CHMOD, b.data, b.len);
        wire_buf_done(&b);
}

/* CHMOD, expecting status. */
static void expect_chmod(struct client *c, const char *name, unsigned mode, uint16_t status) {
        send_chmod(c, 1, name, mode);
        assert_status(c, 1, WIRE_OP_CHMOD, status);
}

/* CHOWN, expecting status. */
static void expect_chown(struct client *c, const char *name, uint32_t uid, uint32_t gid, uint16_t status) {
        send_request(c, 1, WIRE_OP_CHOWN, "nww", name, uid, gid);
        assert_status(c, 1, WIRE_OP_CHOWN, status);
}

/* The three rights of a client on queue q, tried with real requests: "rwa", "r--" ... */
static void queue_rights(struct client *c, const char *q, char ret[static 4]) {
        struct reply rep;

        rep = call(c, WIRE_OP_QUEUE_QSIZE, "n", q);
        ret[0] = rep.h.status == WIRE_OK ? 'r' : rep.h.status == WIRE_EACCES ? '-' : '?';
        rep = call(c, WIRE_OP_QUEUE_PUT, "nis", q, (int64_t) 0, "x");
        ret[1] = rep.h.status == WIRE_OK ? 'w' : rep.h.status == WIRE_EACCES ? '-' : '?';
        rep = call(c, WIRE_OP_QUEUE_PURGE, "n", q);
        ret[2] = rep.h.status == WIRE_OK ? 'a' : rep.h.status == WIRE_EACCES ? '-' : '?';
        ret[3] = '\0';
}

/* Skip when the test process has one of the test's credentials (it would be a superuser). */
static bool credentials_clash(void) {
        uid_t self = geteuid();

        return self == OWNER_UID || self == MEMBER_UID || self == OTHER_UID;
}

static void test_request_matrix(void **state) {
        struct fixture *f = *state;
        gid_t extra = EXTRA_GID;
        struct client *owner, *member, *other;
        char got[4];

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, &extra, 1);
        member = client_as(f, MEMBER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        assert_u8(owner, 1, WIRE_OP_QUEUE_DECLARE, 1);
        /* Its owner is its creator, with the default mode. */
        assert_int_equal(info_field_at(owner, "q", WIRE_TYPE_QUEUE, "uid", __FILE__, __LINE__), OWNER_UID);
        assert_int_equal(info_field_at(owner, "q", WIRE_TYPE_QUEUE, "gid", __FILE__, __LINE__), SHARED_GID);
        assert_int_equal(info_field_at(owner, "q", WIRE_TYPE_QUEUE, "mode", __FILE__, __LINE__), 0660);

        for (size_t m = 0; m < ARRAY_SIZE(matrix); m++) {
                struct client *who[] = { owner, member, other };

                expect_chmod(owner, "q", matrix[m].mode, WIRE_OK);
                for (size_t i = 0; i < ARRAY_SIZE(who); i++) {
                        queue_rights(who[i], "q", got);
                        if (memcmp(got, matrix[m].rights + i * 3, 3) != 0)
                                fail_msg("mode %04o, client %zu: %s, expected %.3s", matrix[m].mode, i, got,
                                         matrix[m].rights + i * 3);
                }
        }
}

static void test_access_classes(void **state) {
        struct fixture *f = *state;
        struct client *owner, *reader;
        struct reply rep;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        reader = client_as(f, MEMBER_UID, SHARED_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_DICT_DECLARE, "n", "d");
        assert_u8(owner, 1, WIRE_OP_DICT_DECLARE, 1);
        send_request(owner, 2, WIRE_OP_EVENT_DECLARE, "n", "e");
        assert_u8(owner, 2, WIRE_OP_EVENT_DECLARE, 1);
        send_request(owner, 3, WIRE_OP_SEM_DECLARE, "nqqw", "s", (uint64_t) 1, (uint64_t) 0, 0u);
        assert_u8(owner, 3, WIRE_OP_SEM_DECLARE, 1);
        expect(WIRE_OK, owner, WIRE_OP_DICT_SET, "nss", "d", "k", "v");
        expect_chmod(owner, "d", 0640, WIRE_OK);
        expect_chmod(owner, "e", 0640, WIRE_OK);
        expect_chmod(owner, "s", 0640, WIRE_OK);

        /* The group may read: queries, waits, INFO, and declaring what exists. */
        rep = call(reader, WIRE_OP_DICT_GET, "ns", "d", "k");
        check_bytes_at(&rep, "v", 1, __FILE__, __LINE__);
        expect(WIRE_OK, reader, WIRE_OP_DICT_LEN, "n", "d");
        expect(WIRE_OK, reader, WIRE_OP_EVENT_IS_SET, "n", "e");
        expect(WIRE_OK, reader, WIRE_OP_SEM_VALUE, "n", "s");
        expect(WIRE_OK, reader, WIRE_OP_INFO, "n", "d");
        expect(WIRE_OK, reader, WIRE_OP_DICT_DECLARE, "n", "d");
        /* ... but not write: mutations, setting an event, taking a semaphore. */
        expect(WIRE_EACCES, reader, WIRE_OP_DICT_SET, "nss", "d", "k", "w");
        expect(WIRE_EACCES, reader, WIRE_OP_DICT_POP, "ns", "d", "k");
        expect(WIRE_EACCES, reader, WIRE_OP_EVENT_SET, "n", "e");
        expect(WIRE_EACCES, reader, WIRE_OP_SEM_ACQUIRE, "ni", "s", (int64_t) 0);
        /* ... nor what is the owner's alone. */
        expect(WIRE_EACCES, reader, WIRE_OP_DELETE, "n", "d");
        expect_chmod(reader, "d", 0666, WIRE_EACCES);
        expect_chown(reader, "d", WIRE_ID_UNCHANGED, OTHER_GID, WIRE_EACCES);
        /* Who may read it learns its type; a name nobody has is absent. */
        expect(WIRE_EPROTOTYPE, reader, WIRE_OP_QUEUE_DECLARE, "nqw", "d", (uint64_t) 0, 0u);
        expect(WIRE_ENOENT, reader, WIRE_OP_DICT_GET, "ns", "absent", "k");
        /* Nothing changed. */
        rep = call(owner, WIRE_OP_DICT_GET, "ns", "d", "k");
        check_bytes_at(&rep, "v", 1, __FILE__, __LINE__);
        expect(WIRE_OK, owner, WIRE_OP_DELETE, "n", "d");
}

static void test_declare_needs_read(void **state) {
        struct fixture *f = *state;
        struct client *owner, *other;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_LIST_DECLARE, "n", "l");
        assert_u8(owner, 1, WIRE_OP_LIST_DECLARE, 1);
        expect(WIRE_EACCES, other, WIRE_OP_LIST_DECLARE, "n", "l");
        expect(WIRE_EACCES, other, WIRE_OP_INFO, "n", "l");
        /* Anyone may create a new object, which is then its own. */
        send_request(other, 2, WIRE_OP_LIST_DECLARE, "n", "mine");
        assert_u8(other, 2, WIRE_OP_LIST_DECLARE, 1);
        assert_int_equal(info_field_at(other, "mine", WIRE_TYPE_LIST, "uid", __FILE__, __LINE__), OTHER_UID);
        expect_chmod(owner, "l", 0664, WIRE_OK);
        send_request(other, 3, WIRE_OP_LIST_DECLARE, "n", "l");
        assert_u8(other, 3, WIRE_OP_LIST_DECLARE, 0);
}

static void test_chmod_chown(void **state) {
        struct fixture *f = *state;
        gid_t extra = EXTRA_GID;
        struct client *owner, *other, *root;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, &extra, 1);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        root = client_as(f, 0, 0, NULL, 0);
        send_request(owner, 1, WIRE_OP_EVENT_DECLARE, "n", "e");
        assert_u8(owner, 1, WIRE_OP_EVENT_DECLARE, 1);

        expect_chmod(owner, "e", 010000, WIRE_EINVAL);
        expect_chmod(owner, "e", 0600, WIRE_OK);
        assert_int_equal(info_field_at(owner, "e", WIRE_TYPE_EVENT, "mode", __FILE__, __LINE__), 0600);
        expect_chmod(owner, "absent", 0600, WIRE_ENOENT);
        /* The owner may move it to a group of its own, primary or supplementary ... */
        expect_chown(owner, "e", WIRE_ID_UNCHANGED, EXTRA_GID, WIRE_OK);
        expect_chown(owner, "e", OWNER_UID, SHARED_GID, WIRE_OK);
        /* ... but not to a group it is not in, nor give it away. */
        expect_chown(owner, "e", WIRE_ID_UNCHANGED, OTHER_GID, WIRE_EACCES);
        expect_chown(owner, "e", OTHER_UID, WIRE_ID_UNCHANGED, WIRE_EACCES);
        assert_int_equal(info_field_at(owner, "e", WIRE_TYPE_EVENT, "gid", __FILE__, __LINE__), SHARED_GID);
        /* Root may do both; then the new owner has the owner's rights and the old one has none. */
        expect_chown(root, "e", OTHER_UID, OTHER_GID, WIRE_OK);
        assert_int_equal(info_field_at(root, "e", WIRE_TYPE_EVENT, "uid", __FILE__, __LINE__), OTHER_UID);
        assert_int_equal(info_field_at(root, "e", WIRE_TYPE_EVENT, "gid", __FILE__, __LINE__), OTHER_GID);
        expect(WIRE_OK, other, WIRE_OP_EVENT_SET, "n", "e");
        expect(WIRE_EACCES, owner, WIRE_OP_EVENT_SET, "n", "e");
        expect_chmod(owner, "e", 0666, WIRE_EACCES);
        expect_chmod(other, "e", 0666, WIRE_OK);
        /* A malformed body is a protocol error, whoever sends it. */
        send_request(other, 2, WIRE_OP_CHOWN, "nw", "e", 1u);
        assert_status(other, 2, WIRE_OP_CHOWN, WIRE_EPROTO);
        send_request(other, 3, WIRE_OP_CHMOD, "n", "e");
        assert_status(other, 3, WIRE_OP_CHMOD, WIRE_EPROTO);
}

static void test_superusers(void **state) {
        struct fixture *f = *state;
        gid_t admin = ADMIN_GID;
        struct client *owner, *self, *member, *other;

        if (credentials_clash())
                skip();
        mpxd.config = config_new();
        assert_non_null(mpxd.config);
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        /* mpxd's own user, and a member of the admin group by a supplementary group. */
        self = client_as(f, geteuid(), OTHER_GID, NULL, 0);
        member = client_as(f, MEMBER_UID, OTHER_GID, &admin, 1);
        other = client_as(f, OTHER_UID, ADMIN_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        assert_u8(owner, 1, WIRE_OP_QUEUE_DECLARE, 1);
        expect_chmod(owner, "q", 0, WIRE_OK);

        expect(WIRE_OK, self, WIRE_OP_QUEUE_PUT, "nis", "q", (int64_t) 0, "x");
        expect_chown(self, "q", MEMBER_UID, WIRE_ID_UNCHANGED, WIRE_OK);
        /* Without an admin group, its members are nobody special. */
        expect(WIRE_EACCES, member, WIRE_OP_QUEUE_QSIZE, "n", "q");
        mpxd.config->admin_gid = ADMIN_GID;
        expect(WIRE_OK, member, WIRE_OP_QUEUE_PURGE, "n", "q");
        expect_chown(member, "q", OWNER_UID, SHARED_GID, WIRE_OK);
        /* The primary group counts too. */
        expect(WIRE_OK, other, WIRE_OP_QUEUE_QSIZE, "n", "q");
        expect(WIRE_OK, other, WIRE_OP_DELETE, "n", "q");
}

static void test_configured_objects(void **state) {
        struct fixture *f = *state;
        struct config_object o = {
                .type = WIRE_TYPE_DICT, .name = "conf", .name_len = 4, .uid = (uid_t) -1, .gid = (gid_t) -1,
                .mode = -1,
        };
        struct client *other;

        if (credentials_clash())
                skip();
        mpxd.config = config_new();
        assert_non_null(mpxd.config);
        mpxd.config->default_mode = 0604;
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        /* mpxd's own, with the default mode in force. */
        assert_int_equal(config_declare(&o), 1);
        assert_int_equal(info_field_at(other, "conf", WIRE_TYPE_DICT, "uid", __FILE__, __LINE__), geteuid());
        assert_int_equal(info_field_at(other, "conf", WIRE_TYPE_DICT, "gid", __FILE__, __LINE__), getegid());
        assert_int_equal(info_field_at(other, "conf", WIRE_TYPE_DICT, "mode", __FILE__, __LINE__), 0604);
        expect(WIRE_EACCES, other, WIRE_OP_DICT_SET, "nss", "conf", "k", "v");
        /* Its own settings win, when it is created. */
        memcpy(o.name, "mine", 5);
        o.uid = OTHER_UID;
        o.gid = SHARED_GID;
        o.mode = 0600;
        assert_int_equal(config_declare(&o), 1);
        assert_int_equal(info_field_at(other, "mine", WIRE_TYPE_DICT, "uid", __FILE__, __LINE__), OTHER_UID);
        assert_int_equal(info_field_at(other, "mine", WIRE_TYPE_DICT, "gid", __FILE__, __LINE__), SHARED_GID);
        expect(WIRE_OK, other, WIRE_OP_DICT_SET, "nss", "mine", "k", "v");
        /* Declared again (a reload), it keeps what it has. */
        expect_chmod(other, "mine", 0666, WIRE_OK);
        assert_int_equal(config_declare(&o), 0);
        assert_int_equal(info_field_at(other, "mine", WIRE_TYPE_DICT, "mode", __FILE__, __LINE__), 0666);
}

static void test_refusals_remembered_once(void **state) {
        struct fixture *f = *state;
        struct client *owner, *other;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_QUEUE_DECLARE, "nqw", "a", (uint64_t) 0, 0u);
        assert_u8(owner, 1, WIRE_OP_QUEUE_DECLARE, 1);
        send_request(owner, 2, WIRE_OP_QUEUE_DECLARE, "nqw", "b", (uint64_t) 0, 0u);
        assert_u8(owner, 2, WIRE_OP_QUEUE_DECLARE, 1);
        for (int i = 0; i < 5; i++) {
                expect(WIRE_EACCES, other, WIRE_OP_QUEUE_QSIZE, "n", "a");
                expect(WIRE_EACCES, other, WIRE_OP_QUEUE_PUT, "nis", "a", (int64_t) 0, "x");
        }
        assert_int_equal(HASH_COUNT(client_shared(other)->denials), 1);
        expect(WIRE_EACCES, other, WIRE_OP_DELETE, "n", "b");
        assert_int_equal(HASH_COUNT(client_shared(other)->denials), 2);
        /* A new object of the same name is another object. */
        expect(WIRE_OK, owner, WIRE_OP_DELETE, "n", "a");
        send_request(owner, 3, WIRE_OP_QUEUE_DECLARE, "nqw", "a", (uint64_t) 0, 0u);
        assert_u8(owner, 3, WIRE_OP_QUEUE_DECLARE, 1);
        expect(WIRE_EACCES, other, WIRE_OP_QUEUE_QSIZE, "n", "a");
        assert_int_equal(HASH_COUNT(client_shared(other)->denials), 3);
        assert_int_equal(HASH_COUNT(client_shared(owner)->denials), 0);
}

/* A client refused thousands of objects is remembered for 1024 of them, no more. */
static void test_refusals_bounded(void **state) {
        struct fixture *f = *state;
        struct client *owner, *other;
        char name[32];

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        for (int i = 0; i < 1100; i++) {
                snprintf(name, sizeof(name), "e%d", i);
                send_request(owner, 1, WIRE_OP_EVENT_DECLARE, "n", name);
                assert_u8(owner, 1, WIRE_OP_EVENT_DECLARE, 1);
                expect(WIRE_EACCES, other, WIRE_OP_EVENT_SET, "n", name);
        }
        assert_int_equal(HASH_COUNT(client_shared(other)->denials), 1024);
        /* Still refused, whether remembered or not. */
        expect(WIRE_EACCES, other, WIRE_OP_EVENT_IS_SET, "n", "e1099");
        expect(WIRE_EACCES, other, WIRE_OP_EVENT_IS_SET, "n", "e0");
}

/* A pipe that exists (a party waits at it) is opened by whoever may write it. */
static void test_pipe_needs_write(void **state) {
        struct fixture *f = *state;
        struct client *owner, *member, *other;
        struct frame rep;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        member = client_as(f, MEMBER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_DUPLEX, (int64_t) -1);
        assert_no_reply(owner);
        assert_int_equal(info_field_at(owner, "p", WIRE_TYPE_PIPE, "uid", __FILE__, __LINE__), OWNER_UID);
        /* Refused, not told to wait (EAGAIN) nor paired. */
        expect(WIRE_EACCES, other, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_DUPLEX, (int64_t) 0);
        assert_no_reply(owner);
        /* The group may write (0660): it pairs with the owner. */
        send_request(member, 2, WIRE_OP_PIPE_OPEN, "nbi", "p", WIRE_PIPE_DUPLEX, (int64_t) 0);
        assert_reply(member, &rep, 2, WIRE_OP_PIPE_OPEN, WIRE_OK);
        assert_reply(owner, &rep, 1, WIRE_OP_PIPE_OPEN, WIRE_OK);
}

/* True if the n bytes of needle occur in the reply's body. */
static bool reply_contains(const struct reply *rep, const void *needle, size_t n) {
        return memmem(rep->r.p, rep->r.left, needle, n) != NULL;
}

/*
 * LIST shows every object, but of one the client may not read only who owns
 * it: not a Value's contents, not the fields INFO would give (and refuse).
 */
static void test_list_hides_what_it_may_not_read(void **state) {
        struct fixture *f = *state;
        struct client *owner, *other;
        int64_t secret = 424242424242;
        struct reply rep;

        if (credentials_clash())
                skip();
        owner = client_as(f, OWNER_UID, SHARED_GID, NULL, 0);
        other = client_as(f, OTHER_UID, OTHER_GID, NULL, 0);
        send_request(owner, 1, WIRE_OP_ARRAY_DECLARE, "nbwwx", "secret", (unsigned) 'q', 1u,
                     (uint32_t) WIRE_ARRAY_VALUE, &secret, sizeof(secret));
        assert_u8(owner, 1, WIRE_OP_ARRAY_DECLARE, 1);
        send_request(owner, 2, WIRE_OP_ARRAY_DECLARE, "nbwwx", "open", (unsigned) 'q', 1u,
                     (uint32_t) WIRE_ARRAY_VALUE, &secret, sizeof(secret));
        assert_u8(owner, 2, WIRE_OP_ARRAY_DECLARE, 1);
        expect_chmod(owner, "secret", 0600, WIRE_OK);
        expect_chmod(owner, "open", 0644, WIRE_OK);
        expect(WIRE_EACCES, other, WIRE_OP_INFO, "n", "secret");

        /* Only "open" shows its contents and counters to the other user. */
        rep = call(other, WIRE_OP_LIST, "qwb", (uint64_t) 0, 0u, 0u);
        assert_int_equal(rep.h.status, WIRE_OK);
        assert_true(reply_contains(&rep, "secret", 6));
        assert_true(reply_contains(&rep, "mode", 4));
        assert_true(reply_contains(&rep, &secret, sizeof(secret)) ||
                    reply_contains(&rep, "424242424242", 12));
        rep = call(other, WIRE_OP_LIST, "qwb", (uint64_t) 0, 1u, 0u);
        assert_int_equal(rep.h.status, WIRE_OK);
        assert_true(reply_contains(&rep, "secret", 6));
        assert_true(reply_contains(&rep, "uid", 3));
        assert_false(reply_contains(&rep, &secret, sizeof(secret)));
        assert_false(reply_contains(&rep, "424242424242", 12));
        assert_false(reply_contains(&rep, "requests", 8));
        assert_false(reply_contains(&rep, "value", 5));

        /* Its owner sees everything. */
        rep = call(owner, WIRE_OP_LIST, "qwb", (uint64_t) 0, 1u, 0u);
        assert_int_equal(rep.h.status, WIRE_OK);
        assert_true(reply_contains(&rep, "requests", 8));
        assert_true(reply_contains(&rep, "value", 5));
}

/*
 * A socket client whose groups could not be read when it connected has its
 * primary group only: /proc is not asked at request time, as its pid may be
 * another process's by then. A socketless client given a pid still asks.
 * Needs a supplementary group: as root the test gives itself one.
 */
static void test_unknown_groups_read_late_only_socketless(void **state) {
        gid_t saved[256], extra = EXTRA_GID;
        int n_saved = getgroups(256, saved), sv[2];
        struct client *sock, *socketless;
        bool as_root = geteuid() == 0;

        (void) state;
        assert_true(n_saved >= 0);
        if (as_root)
                assert_int_equal(setgroups(1, &extra), 0);
        else if (n_saved == 0) {
                print_message("no supplementary group and not root, skipping\n");
                skip();
        } else
                extra = saved[0];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        sock = client_new_as(sv[0], getpid(), geteuid(), OTHER_GID);
        socketless = client_new_as(-1, getpid(), geteuid(), OTHER_GID);
        assert_non_null(sock);
        assert_non_null(socketless);
        /* As if SO_PEERGROUPS and /proc had both failed at connect. */
        free(sock->groups);
        sock->groups = NULL;
        sock->n_groups = 0;
        sock->groups_known = false;
        assert_false(socketless->groups_known);

        assert_true(client_in_group(sock, OTHER_GID));
        assert_false(client_in_group(sock, extra));
        assert_true(client_in_group(socketless, extra));
        client_lost(sock, "test");
        client_lost(socketless, "test");
        close(sv[1]);
        if (as_root)
                assert_int_equal(setgroups((size_t) n_saved, saved), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_matrix),
                unit_client_test(test_request_matrix),
                unit_client_test(test_access_classes),
                unit_client_test(test_declare_needs_read),
                unit_client_test(test_chmod_chown),
                unit_client_test(test_superusers),
                unit_client_test(test_configured_objects),
                unit_client_test(test_refusals_remembered_once),
                unit_client_test(test_refusals_bounded),
                unit_client_test(test_pipe_needs_write),
                unit_client_test(test_list_hides_what_it_may_not_read),
                cmocka_unit_test_setup_teardown(test_unknown_groups_read_late_only_socketless, unit_setup,
                                                unit_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
