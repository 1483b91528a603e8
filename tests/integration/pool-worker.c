/* SPDX-License-Identifier: MIT */
/*
 * A worker program for tests/integration/test-pool: mpxd starts it in a
 * pool, and it reports what the test checks through the daemon itself (a
 * queue named on its command line). One mode per behaviour:
 *
 *   env QUEUE          put a report of its process (ids, groups, environment,
 *                      open descriptors and their limit, signal mask and
 *                      dispositions, stdio),
 *                      write a line to stdout and one to stderr, then wait
 *                      for a signal
 *   stamp QUEUE CODE   put the monotonic time in ms, then exit with CODE
 *   crash              exit 3 (even MPX_WORKER) or die of SIGKILL (odd)
 *   signals QUEUE      put "ready W", then "W SIGNO" for each SIGUSR1,
 *                      SIGUSR2 or SIGHUP it receives
 *   ignore-term QUEUE  ignore SIGTERM, put "ready PID", wait for SIGKILL
 *   echo QUEUE         mpx_worker_run() on the joinable queue QUEUE: the
 *                      result of a job is "W:DATA:DELIVERIES" in capitals;
 *                      the job "fail" fails with EIO, "big" has a result over
 *                      the message limit, "die" kills the worker the first
 *                      time it is delivered
 *
 * It exits 2 on a usage error and 1 when talking to the daemon fails. So
 * that a test that fails half-way leaves nothing behind, it dies with the
 * daemon (PR_SET_PDEATHSIG), unless POOL_WORKER_OUTLIVE_MPXD is set: the
 * test that checks that mpxd itself stops its workers sets it.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "monotonic.h"
#include "mpx.h"

static const char *worker_index(void) {
        const char *w = getenv("MPX_WORKER");

        return w ? w : "?";
}

static mpx *connect_or_die(void) {
        mpx *m = NULL;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "pool-worker: cannot connect: %s\n", mpx_strerror(r));
                exit(1);
        }
        return m;
}

static void put_or_die(mpx *m, const char *queue, const char *text) {
        int r = mpx_queue_put(m, queue, text, strlen(text), -1);

        if (r < 0) {
                fprintf(stderr, "pool-worker: cannot put on %s: %s\n", queue, mpx_strerror(r));
                exit(1);
        }
}

/* The value of a line "Key:\tvalue" of /proc/self/status. */
static void proc_status(const char *key, char *buf, size_t size) {
        char line[512];
        FILE *f = fopen("/proc/self/status", "re");

        snprintf(buf, size, "?");
        if (!f)
                return;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0 && line[strlen(key)] == ':') {
                        char *v = line + strlen(key) + 1;

                        size_t len;

                        v += strspn(v, " \t");
                        v[strcspn(v, "\n")] = '\0';
                        /* Some kernels end "Groups:" with a space. */
                        for (len = strlen(v); len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'); len--)
                                v[len - 1] = '\0';
                        snprintf(buf, size, "%s", v);
                }
        fclose(f);
}

/* Open descriptors other than 0, 1, 2 and the ones this process opened itself, as "3,7". */
static void other_fds(int own, char *buf, size_t size) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        size_t len = 0;

        buf[0] = '\0';
        if (!d)
                return;
        while ((e = readdir(d))) {
                int fd = atoi(e->d_name);

                if (e->d_name[0] == '.' || fd <= 2 || fd == own || fd == dirfd(d))
                        continue;
                len += (size_t) snprintf(buf + len, len < size ? size - len : 0, "%s%d", len ? "," : "", fd);
        }
        closedir(d);
}

static void link_of(int fd, char *buf, size_t size) {
        char path[64];
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, buf, size - 1);
        buf[n > 0 ? n : 0] = '\0';
}

static __attribute__((noreturn)) int mode_env(const char *queue) {
        char report[8192], fds[256], blk[64], ign[64], groups[1024], uids[128], gids[128], in[256], out[256];
        mpx *m = connect_or_die();
        struct rlimit nofile = { 0, 0 };

        other_fds(mpx_fd(m), fds, sizeof(fds));
        proc_status("SigBlk", blk, sizeof(blk));
        proc_status("SigIgn", ign, sizeof(ign));
        proc_status("Groups", groups, sizeof(groups));
        /* Real, effective, saved and filesystem ids, tab-separated. */
        proc_status("Uid", uids, sizeof(uids));
        proc_status("Gid", gids, sizeof(gids));
        (void) getrlimit(RLIMIT_NOFILE, &nofile);
        link_of(0, in, sizeof(in));
        link_of(1, out, sizeof(out));
        snprintf(report, sizeof(report),
                 "pid=%ld\nppid=%ld\npgid=%ld\nsid=%ld\nuid=%ld\ngid=%ld\nuids=%s\ngids=%s\ngroups=%s\n"
                 "nofile=%llu/%llu\nuser=%s\nhome=%s\npool=%s\nworker=%s\nsocket=%s\n"
                 "notify=%s\nfds=%s\nsigblk=%s\nsigign=%s\nstdin=%s\nstdout=%s\n",
                 (long) getpid(), (long) getppid(), (long) getpgid(0), (long) getsid(0), (long) getuid(),
                 (long) getgid(), uids, gids, groups, (unsigned long long) nofile.rlim_cur,
                 (unsigned long long) nofile.rlim_max, getenv("USER") ?: "",
                 getenv("HOME") ?: "", getenv("MPX_POOL") ?: "", worker_index(), getenv("MPX_SOCKET") ?: "",
                 getenv("NOTIFY_SOCKET") ?: "", fds, blk, ign, in, out);
        printf("hello from worker %s\n", worker_index());
        fflush(stdout);
        fprintf(stderr, "a line on stderr from worker %s\n", worker_index());
        put_or_die(m, queue, report);
        for (;;)
                pause();
}

static int mode_stamp(const char *queue, int code) {
        char text[32];
        mpx *m = connect_or_die();

        snprintf(text, sizeof(text), "%lld", (long long) monotonic_ms());
        put_or_die(m, queue, text);
        mpx_disconnect(m);
        return code;
}

static int mode_crash(void) {
        if (atoi(worker_index()) % 2 == 0)
                return 3;
        raise(SIGKILL);
        return 4;
}

static __attribute__((noreturn)) int mode_signals(const char *queue) {
        sigset_t set;
        char text[64];
        mpx *m;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGUSR2);
        sigaddset(&set, SIGHUP);
        sigprocmask(SIG_BLOCK, &set, NULL);
        m = connect_or_die();
        snprintf(text, sizeof(text), "ready %s", worker_index());
        put_or_die(m, queue, text);
        for (;;) {
                int sig = sigwaitinfo(&set, NULL);

                if (sig < 0)
                        continue;
                snprintf(text, sizeof(text), "%s %d", worker_index(), sig);
                put_or_die(m, queue, text);
        }
}

static __attribute__((noreturn)) int mode_ignore_term(const char *queue) {
        char text[64];
        mpx *m;

        signal(SIGTERM, SIG_IGN);
        m = connect_or_die();
        snprintf(text, sizeof(text), "ready %ld", (long) getpid());
        put_or_die(m, queue, text);
        for (;;)
                pause();
}

/* The handler of "echo": see the top of the file. */
static int echo_job(void *arg, const mpx_item *job, mpx_buf *ret_result) {
        mpx *m = arg;
        char *text;
        int n;

        if (job->size == 4 && memcmp(job->data, "fail", 4) == 0)
                return -EIO;
        if (job->size == 3 && memcmp(job->data, "big", 3) == 0) {
                ret_result->size = mpx_max_message(m);
                ret_result->data = calloc(1, ret_result->size);
                return ret_result->data ? 0 : -ENOMEM;
        }
        if (job->size == 3 && memcmp(job->data, "die", 3) == 0 && job->deliveries == 1)
                raise(SIGKILL);
        n = asprintf(&text, "%s:%.*s:%u", worker_index(), (int) job->size, (const char *) job->data,
                     job->deliveries);
        if (n < 0)
                return -ENOMEM;
        for (int i = 0; i < n; i++)
                text[i] = (char) toupper((unsigned char) text[i]);
        ret_result->data = text;
        ret_result->size = (size_t) n;
        return 0;
}

static int mode_echo(const char *queue) {
        mpx *m = connect_or_die();
        int r = mpx_worker_run(m, queue, echo_job, m);

        if (r < 0)
                fprintf(stderr, "pool-worker %s: the loop ended: %s\n", worker_index(), mpx_strerror(r));
        mpx_disconnect(m);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        const char *mode = argc > 1 ? argv[1] : "";
        pid_t parent = getppid();

        if (!getenv("POOL_WORKER_OUTLIVE_MPXD")) {
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                /* The daemon may have gone before the line above. */
                if (getppid() != parent)
                        return 1;
        }

        if (strcmp(mode, "env") == 0 && argc == 3)
                return mode_env(argv[2]);
        if (strcmp(mode, "stamp") == 0 && argc == 4)
                return mode_stamp(argv[2], atoi(argv[3]));
        if (strcmp(mode, "crash") == 0 && argc == 2)
                return mode_crash();
        if (strcmp(mode, "signals") == 0 && argc == 3)
                return mode_signals(argv[2]);
        if (strcmp(mode, "ignore-term") == 0 && argc == 3)
                return mode_ignore_term(argv[2]);
        if (strcmp(mode, "echo") == 0 && argc == 3)
                return mode_echo(argv[2]);
        fprintf(stderr, "usage: pool-worker {env|stamp|crash|signals|ignore-term|echo} ...\n");
        return 2;
}
