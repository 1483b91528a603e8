/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of daemon/server.c that need no client: SIGCHLD handled as a
 * libevent event, reaping every child that exited (one signal may stand for
 * several) and telling whoever registered with server_on_child_exit, and the
 * configuration put in force at start and on reload (limits, log level,
 * objects declared once, existing objects kept).
 *
 * The daemon's state is set up with mpxd_init and a socket in a temporary
 * folder; children are forked by the test itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "configfile.h"
#include "log.h"
#include "mpxd.h"
#include "object.h"
#include "server.h"
#include "temp-dir.h"
#include "text-file.h"

#define CHILDREN 3

static char dir[256];
static char sock[300];

static pid_t seen_pid[8];
static int seen_status[8];
static unsigned n_seen;

static int setup(void **state) {
        assert_non_null(temp_dir_make(dir, sizeof(dir), "mpx-server"));
        snprintf(sock, sizeof(sock), "%s/mpxd.sock", dir);
        assert_int_equal(mpxd_init(), 0);
        n_seen = 0;
        return 0;
}

static int teardown(void **state) {
        mpxd_done();
        assert_int_equal(temp_dir_remove(dir), 0);
        return 0;
}

static void on_child_exit(pid_t pid, int status) {
        if (n_seen < 8) {
                seen_pid[n_seen] = pid;
                seen_status[n_seen] = status;
        }
        if (++n_seen == CHILDREN)
                event_base_loopbreak(mpxd.base);
}

static void give_up_cb(evutil_socket_t fd, short what, void *arg) {
        event_base_loopbreak(mpxd.base);
}

static void test_sigchld_reaps_every_child(void **state) {
        struct timeval limit = { .tv_sec = 10 };
        struct event *give_up;
        pid_t pids[CHILDREN];

        mpxd.socket_path = sock;
        assert_int_equal(server_listen(), 0);
        assert_int_equal(server_on_child_exit(on_child_exit), 0);
        for (int i = 0; i < CHILDREN; i++) {
                pids[i] = fork();
                assert_true(pids[i] >= 0);
                if (pids[i] == 0)
                        _exit(10 + i);
        }
        give_up = evtimer_new(mpxd.base, give_up_cb, NULL);
        assert_non_null(give_up);
        assert_int_equal(evtimer_add(give_up, &limit), 0);
        assert_int_equal(event_base_dispatch(mpxd.base), 0);
        event_free(give_up);

        assert_int_equal(n_seen, CHILDREN);
        for (int i = 0; i < CHILDREN; i++) {
                unsigned j;

                for (j = 0; j < n_seen && seen_pid[j] != pids[i]; j++)
                        ;
                assert_true(j < n_seen);
                assert_true(WIFEXITED(seen_status[j]));
                assert_int_equal(WEXITSTATUS(seen_status[j]), 10 + i);
        }
        /* Nothing is left to reap. */
        assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
        assert_int_equal(errno, ECHILD);
}

static void test_child_exit_slots(void **state) {
        /* setup's mpxd_init does not clear the slots: one is taken by the test above or here. */
        int r = 0, taken = 0;

        while ((r = server_on_child_exit(on_child_exit)) == 0)
                taken++;
        assert_int_equal(r, -ENOSPC);
        assert_true(taken <= 4);
}

/* A configuration read from text written to dir/mpxd.conf. */
static struct config *config_of(const char *text) {
        char path[320], *errors = NULL;
        struct config *c = NULL;
        int r;

        snprintf(path, sizeof(path), "%s/mpxd.conf", dir);
        text_file_write(path, "%s", text);
        r = config_load(path, true, &c, &errors);
        if (r < 0)
                fail_msg("%s", errors ? errors : strerror(-r));
        return c;
}

static void test_apply_and_reload(void **state) {
        struct config *c = config_of("log = { level = \"warning\"; };\n"
                                     "limits = { max_message = 1000; max_clients = 5; max_objects = 10; };\n"
                                     "objects = { queues = ( { name = \"jobs\"; maxsize = 2; } ); };\n");

        assert_int_equal(server_apply_config(c, false), 0);
        assert_int_equal(log_get_level(), LOG_LEVEL_WARNING);
        assert_int_equal(mpxd.max_message, 1000);
        assert_int_equal(mpxd.max_clients, 5);
        assert_int_equal(mpxd.max_objects, 10);
        assert_string_equal(mpxd.socket_path, "/run/mpxd/mpxd.sock");
        assert_non_null(object_find("jobs", 4));
        assert_int_equal(mpxd.n_objects, 1);

        /* A reload: new limits and level, one new object, the old one kept; socket settings wait. */
        c = config_of("socket = { path = \"/tmp/elsewhere.sock\"; };\n"
                      "log = { level = \"error\"; };\n"
                      "limits = { max_message = 2000; };\n"
                      "objects = { queues = ( { name = \"jobs\"; maxsize = 3; } ); dicts = ( \"d\" ); };\n");
        /* jobs exists with another maxsize: kept as it is, counted as not declared. */
        assert_int_equal(server_apply_config(c, true), 1);
        assert_int_equal(log_get_level(), LOG_LEVEL_ERR);
        assert_int_equal(mpxd.max_message, 2000);
        assert_int_equal(mpxd.max_clients, CONFIG_DEFAULT_MAX_CLIENTS);
        assert_string_equal(mpxd.socket_path, "/run/mpxd/mpxd.sock");
        assert_non_null(object_find("d", 1));
        assert_int_equal(mpxd.n_objects, 2);

        /* At start, an object that cannot be declared is an error. */
        c = config_of("limits = { max_objects = 3; };\n"
                      "objects = { queues = ( { name = \"jobs\"; } ); };\n");
        assert_int_equal(server_apply_config(c, false), -EEXIST);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_sigchld_reaps_every_child, setup, teardown),
                cmocka_unit_test_setup_teardown(test_child_exit_slots, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_and_reload, setup, teardown),
        };

        log_set_level(LOG_LEVEL_ERR);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
