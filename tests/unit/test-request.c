/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the order in which the daemon handles a request that names
 * an object: parse the whole body, then look the object up, then act. A
 * malformed body is EPROTO and nothing else, on an object its client may
 * not access as on any other: the object counts no request and is not
 * stamped active, and no permission refusal is noted for the client. A
 * well-formed request of the same client is refused with EACCES, and that
 * refusal is noted. One request of each object type the tests declare.
 */
#include "client.h"
#include "hash.h"
#include "mpxd.h"
#include "object.h"
#include "perm.h"
#include "unit-client.h"

#include <string.h>
#include <unistd.h>

/* Credentials no test process has (the test skips when it has them). */
#define OTHER_UID       4103u
#define OTHER_GID       4202u

/* A request of each type: its opcode, a body that stops short (or runs on), and one that is whole. */
static const struct {
        const char *name;               /* the object it names, declared by setup_objects() */
        uint16_t op;
        const char *bad_fmt;
        const char *good_fmt;
} requests[] = {
        { "q", WIRE_OP_QUEUE_PUT, "n", "nis" },
        { "q", WIRE_OP_QUEUE_QSIZE, "nw", "n" },
        { "d", WIRE_OP_DICT_SET, "ns", "nss" },
        { "d", WIRE_OP_DICT_INCR, "ns", "nsi" },
        { "l", WIRE_OP_LIST_APPEND, "n", "ns" },
        { "s", WIRE_OP_SEM_RELEASE, "nw", "n" },
        { "s", WIRE_OP_SEM_ACQUIRE, "n", "ni" },
        { "e", WIRE_OP_EVENT_WAIT, "n", "ni" },
        { "b", WIRE_OP_BARRIER_WAIT, "n", "ni" },
};

/* The objects of the table, each of mode 0600: nobody but their owner, mpxd's own user, may use them. */
static void setup_objects(struct client *owner) {
        expect(WIRE_OK, owner, WIRE_OP_QUEUE_DECLARE, "nqw", "q", (uint64_t) 0, 0u);
        expect(WIRE_OK, owner, WIRE_OP_DICT_DECLARE, "n", "d");
        expect(WIRE_OK, owner, WIRE_OP_LIST_DECLARE, "n", "l");
        expect(WIRE_OK, owner, WIRE_OP_SEM_DECLARE, "nqqw", "s", (uint64_t) 1, (uint64_t) 0, 0u);
        expect(WIRE_OK, owner, WIRE_OP_EVENT_DECLARE, "n", "e");
        expect(WIRE_OK, owner, WIRE_OP_BARRIER_DECLARE, "nw", "b", 2u);
        for (const char *n = "qdlseb"; *n; n++) {
                char name[2] = { *n, '\0' };

                expect(WIRE_OK, owner, WIRE_OP_CHMOD, "nh", name, 0600u);
        }
}

/* Send a request of fmt whose arguments are taken from the table's kinds: a name, then fixed values. */
static void send_as(struct client *c, uint16_t op, const char *fmt, const char *name) {
        switch (strlen(fmt)) {
        case 1:
                send_request(c, 1, op, fmt, name);
                break;
        case 2:
                if (fmt[1] == 's')
                        send_request(c, 1, op, fmt, name, "k");
                else if (fmt[1] == 'i')
                        send_request(c, 1, op, fmt, name, (int64_t) 0);
                else
                        send_request(c, 1, op, fmt, name, 7u);
                break;
        default:
                if (fmt[1] == 'i')
                        send_request(c, 1, op, fmt, name, (int64_t) 0, "v");
                else if (fmt[2] == 'i')
                        send_request(c, 1, op, fmt, name, "k", (int64_t) 1);
                else
                        send_request(c, 1, op, fmt, name, "k", "v");
                break;
        }
}

static void test_malformed_counts_nothing(void **state) {
        struct fixture *f = *state;
        struct client *owner, *other;
        unsigned refused = 0;

        if (geteuid() == OTHER_UID)
                skip();
        owner = client_add(f, "owner");
        other = client_add_as(f, "other", OTHER_UID, OTHER_GID);
        setup_objects(owner);
        for (size_t i = 0; i < ARRAY_SIZE(requests); i++) {
                const char *name = requests[i].name;
                struct object *o = object_find(name, strlen(name));
                uint64_t requests_before;

                assert_non_null(o);
                requests_before = o->requests;
                o->active_ms = 1;
                send_as(other, requests[i].op, requests[i].bad_fmt, name);
                assert_status(other, 1, requests[i].op, WIRE_EPROTO);
                if (o->requests != requests_before || o->active_ms != 1)
                        fail_msg("request %zu (op %u): a malformed body was counted", i, requests[i].op);
                if (HASH_COUNT(client_shared(other)->denials) != refused)
                        fail_msg("request %zu (op %u): a malformed body was refused by permission", i,
                                 requests[i].op);
                /* The same request, whole: refused for what it is, and noted once per object. */
                send_as(other, requests[i].op, requests[i].good_fmt, name);
                assert_status(other, 1, requests[i].op, WIRE_EACCES);
                if (i == 0 || strcmp(name, requests[i - 1].name) != 0)
                        refused++;
                assert_int_equal(HASH_COUNT(client_shared(other)->denials), refused);
        }
}

/* The objects of the table declared by owner; the one named name. */
static struct object *setup_owned(struct client *owner, const char *name) {
        struct object *o;

        setup_objects(owner);
        o = object_find(name, strlen(name));
        assert_non_null(o);
        return o;
}

/* A malformed body on an object that may be used is EPROTO too, and not counted; a whole one is. */
static void test_malformed_on_own_object(void **state) {
        struct fixture *f = *state;
        struct client *owner = client_add(f, "owner");
        struct object *o = setup_owned(owner, "d");
        uint64_t before = o->requests;

        expect(WIRE_EPROTO, owner, WIRE_OP_DICT_SET, "ns", "d", "k");
        assert_int_equal(o->requests, before);
        expect(WIRE_OK, owner, WIRE_OP_DICT_SET, "nss", "d", "k", "v");
        assert_int_equal(o->requests, before + 1);
}

/*
 * A request that counts in an object's `requests` stamps it active (INFO's
 * idle_ms) too, whatever it then answers: reads such as QSIZE, SEM_VALUE and
 * EVENT_IS_SET, a DICT_GET of a missing key (ENOENT), CHMOD. INFO itself
 * does neither, or idle_ms could never be read above 0.
 */
static void test_counted_request_stamps_active(void **state) {
        static const struct {
                const char *name;
                uint16_t op;
                uint16_t status;
        } counted[] = {
                { "q", WIRE_OP_QUEUE_QSIZE, WIRE_OK },
                { "s", WIRE_OP_SEM_VALUE, WIRE_OK },
                { "e", WIRE_OP_EVENT_IS_SET, WIRE_OK },
                { "d", WIRE_OP_DICT_GET, WIRE_ENOENT },
        };
        struct fixture *f = *state;
        struct client *owner = client_add(f, "owner");
        struct object *o;
        uint64_t before;

        setup_objects(owner);
        for (size_t i = 0; i < ARRAY_SIZE(counted); i++) {
                o = object_find(counted[i].name, 1);
                assert_non_null(o);
                before = o->requests;
                o->active_ms = 1;
                if (counted[i].op == WIRE_OP_DICT_GET)
                        expect(counted[i].status, owner, counted[i].op, "ns", counted[i].name, "missing");
                else
                        expect(counted[i].status, owner, counted[i].op, "n", counted[i].name);
                if (o->requests != before + 1 || o->active_ms == 1)
                        fail_msg("request %zu (op %u): not counted and stamped", i, counted[i].op);
        }
        o = object_find("b", 1);
        o->active_ms = 1;
        expect_empty(owner, WIRE_OP_CHMOD, "nh", "b", 0640u);
        assert_int_not_equal(o->active_ms, 1);
        before = o->requests;
        o->active_ms = 1;
        expect(WIRE_OK, owner, WIRE_OP_INFO, "n", "b");
        assert_int_equal(o->active_ms, 1);
        assert_int_equal(o->requests, before);
}

/*
 * A key or item over max_message, in a body that is otherwise whole, is
 * refused once the object is found: ENOENT or EACCES first, as for any
 * request, then EMSGSIZE, counted. A body that runs on past it is EPROTO.
 */
static void test_value_over_max_message(void **state) {
        struct fixture *f = *state;
        struct client *owner = client_add(f, "owner");
        struct object *o = setup_owned(owner, "l");
        uint64_t before = o->requests;
        uint32_t saved = mpxd.max_message;

        mpxd.max_message = 4;
        expect(WIRE_ENOENT, owner, WIRE_OP_LIST_APPEND, "ns", "none", "12345");
        expect(WIRE_EMSGSIZE, owner, WIRE_OP_LIST_APPEND, "ns", "l", "12345");
        assert_int_equal(o->requests, before + 1);
        expect(WIRE_EPROTO, owner, WIRE_OP_LIST_APPEND, "nsw", "l", "12345", 1u);
        assert_int_equal(o->requests, before + 1);
        expect(WIRE_EMSGSIZE, owner, WIRE_OP_DICT_GET, "ns", "d", "12345");
        expect(WIRE_OK, owner, WIRE_OP_LIST_APPEND, "ns", "l", "1234");
        mpxd.max_message = saved;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_malformed_counts_nothing, unit_setup, unit_teardown),
                cmocka_unit_test_setup_teardown(test_malformed_on_own_object, unit_setup, unit_teardown),
                cmocka_unit_test_setup_teardown(test_counted_request_stamps_active, unit_setup, unit_teardown),
                cmocka_unit_test_setup_teardown(test_value_over_max_message, unit_setup, unit_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
