/* SPDX-License-Identifier: MIT */
/*
 * pool-copy: copy every regular file of a folder (and of its subfolders) to
 * another with a pool of worker processes that mpxd starts and supervises,
 * the seeds' Pool(processes).map(copy, files) made into a service:
 *
 *      pool-copy [-n WORKERS] SRC DST
 *
 * The program starts a pool running itself in worker mode (pool-copy
 * --worker QUEUE), submits one job per file on a joinable queue with
 * mpx_job_submit(), and collects each job's result with mpx_job_wait(),
 * printing the percentage of bytes done as it goes: a progress bar on a
 * terminal, a plain line per percent otherwise. Then it closes the queue
 * (the workers' loops end), stops the pool and deletes the queue.
 *
 * A worker is mpx_worker_run() with a handler that copies one file byte for
 * byte (copy_file_range, or read and write where the kernel cannot) and
 * gives it the source's permission bits. A file that cannot be copied is a
 * result that says so, not a failed job: the worker goes on with the next.
 *
 * Directories are made by the submitting process before the files are
 * submitted; other kinds of files (links, devices) are counted and skipped.
 * At most WINDOW jobs are in flight at once, so that a tree of a million
 * files does not make a million result queues in the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpx.h"

/* Jobs in flight at once. */
#define WINDOW 256
/* Copy chunk of the read/write fallback. */
#define CHUNK (1024 * 1024)

/* ---- the worker ---- */

/* Copy src to dst, byte for byte: the number of bytes copied, or a negative errno. */
static int64_t copy_file(const char *src, const char *dst) {
        struct stat st;
        int64_t done = 0;
        int in, out, r = 0;
        char *buf = NULL;

        in = open(src, O_RDONLY | O_CLOEXEC);
        if (in < 0)
                return -errno;
        if (fstat(in, &st) < 0) {
                r = -errno;
                close(in);
                return r;
        }
        out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (out < 0) {
                r = -errno;
                close(in);
                return r;
        }
        for (;;) {
                ssize_t n = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);

                if (n == 0)
                        break;
                if (n > 0) {
                        done += n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
                        r = -errno;
                        break;
                }
                /* The kernel cannot copy between these two: read and write, from where it stopped. */
                buf = malloc(CHUNK);
                if (!buf) {
                        r = -ENOMEM;
                        break;
                }
                for (;;) {
                        ssize_t got = read(in, buf, CHUNK), off = 0;

                        if (got < 0 && errno == EINTR)
                                continue;
                        if (got <= 0) {
                                r = got < 0 ? -errno : 0;
                                break;
                        }
                        while (off < got) {
                                ssize_t w = write(out, buf + off, (size_t) (got - off));

                                if (w < 0 && errno == EINTR)
                                        continue;
                                if (w < 0) {
                                        r = -errno;
                                        break;
                                }
                                off += w;
                        }
                        if (r < 0)
                                break;
                        done += got;
                }
                break;
        }
        free(buf);
        if (r == 0 && fchmod(out, st.st_mode & 07777) < 0)
                r = -errno;
        if (close(out) < 0 && r == 0)
                r = -errno;
        close(in);
        return r < 0 ? r : done;
}

/*
 * The handler: a job is "SRC\0DST\0"; the result is 8 bytes, little-endian:
 * the bytes copied, or a negative errno when the file could not be copied.
 */
static int copy_job(void *arg, const mpx_item *job, mpx_buf *ret_result) {
        const char *src = job->data, *dst;
        uint8_t *out;
        int64_t v;

        (void) arg;
        dst = memchr(src, '\0', job->size);
        if (!dst || dst + 1 >= src + job->size || !memchr(dst + 1, '\0', job->size - (size_t) (dst + 1 - src)))
                return -EINVAL;
        dst++;
        v = copy_file(src, dst);
        out = malloc(8);
        if (!out)
                return -ENOMEM;
        for (int i = 0; i < 8; i++)
                out[i] = (uint8_t) ((uint64_t) v >> (8 * i));
        ret_result->data = out;
        ret_result->size = 8;
        return 0;
}

static int worker_main(const char *queue) {
        mpx *m = NULL;
        int r = mpx_connect(NULL, &m);

        if (r < 0) {
                fprintf(stderr, "pool-copy worker: cannot connect to mpxd: %s\n", mpx_strerror(r));
                return 1;
        }
        r = mpx_worker_run(m, queue, copy_job, NULL);
        mpx_disconnect(m);
        if (r < 0) {
                fprintf(stderr, "pool-copy worker %s: %s\n", getenv("MPX_WORKER") ?: "?", mpx_strerror(r));
                return 1;
        }
        return 0;
}

/* ---- the submitting side ---- */

struct file {
        char *src, *dst;
        uint64_t size;
};

/* What the tree walk collects (nftw has no user pointer). */
static struct {
        const char *src_root, *dst_root;
        struct file *files;
        size_t n, cap;
        uint64_t bytes;
        unsigned skipped;
        int error;
} walk;

static char *join(const char *root, const char *rel) {
        char *s;

        return asprintf(&s, "%s%s", root, rel) < 0 ? NULL : s;
}

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        const char *rel = path + strlen(walk.src_root);
        char *dst;

        (void) ftw;
        if (type == FTW_D) {
                dst = join(walk.dst_root, rel);
                if (!dst)
                        return walk.error = -ENOMEM;
                if (mkdir(dst, 0777) < 0 && errno != EEXIST) {
                        fprintf(stderr, "pool-copy: cannot create %s: %s\n", dst, strerror(errno));
                        free(dst);
                        return walk.error = -errno;
                }
                free(dst);
                return 0;
        }
        if (type != FTW_F || !S_ISREG(st->st_mode)) {
                if (type == FTW_DNR || type == FTW_NS) {
                        fprintf(stderr, "pool-copy: cannot read %s\n", path);
                        return walk.error = -EACCES;
                }
                walk.skipped++;
                return 0;
        }
        if (walk.n == walk.cap) {
                size_t cap = walk.cap ? walk.cap * 2 : 256;
                struct file *grown = realloc(walk.files, cap * sizeof(*grown));

                if (!grown)
                        return walk.error = -ENOMEM;
                walk.files = grown;
                walk.cap = cap;
        }
        walk.files[walk.n].src = strdup(path);
        walk.files[walk.n].dst = join(walk.dst_root, rel);
        walk.files[walk.n].size = (uint64_t) st->st_size;
        if (!walk.files[walk.n].src || !walk.files[walk.n].dst)
                return walk.error = -ENOMEM;
        walk.bytes += (uint64_t) st->st_size;
        walk.n++;
        return 0;
}

/* Show progress: a bar on a terminal, a line per new percent otherwise. */
static void progress(size_t files_done, uint64_t bytes_done, bool tty, int *last_percent) {
        int percent = walk.bytes ? (int) (bytes_done * 100 / walk.bytes) :
                      walk.n ? (int) (files_done * 100 / walk.n) : 100;
        char bar[41];
        int filled;

        /* 100% once, when the last file is done (empty files weigh nothing). */
        if (percent == 100 && files_done < walk.n)
                percent = 99;
        if (percent == *last_percent)
                return;
        *last_percent = percent;
        if (!tty) {
                printf("%3d%% (%zu/%zu files)\n", percent, files_done, walk.n);
                fflush(stdout);
                return;
        }
        filled = percent * 40 / 100;
        memset(bar, '#', (size_t) filled);
        memset(bar + filled, '.', (size_t) (40 - filled));
        bar[40] = '\0';
        printf("\r[%s] %3d%% %zu/%zu files", bar, percent, files_done, walk.n);
        if (files_done == walk.n)
                putchar('\n');
        fflush(stdout);
}

static double seconds_since(const struct timespec *t0) {
        struct timespec t;

        clock_gettime(CLOCK_MONOTONIC, &t);
        return (double) (t.tv_sec - t0->tv_sec) + (double) (t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void usage(FILE *f) {
        fprintf(f, "usage: pool-copy [-n WORKERS] SRC DST\n"
                   "Copy every regular file under SRC to the same place under DST with a pool of\n"
                   "WORKERS processes (default 4) that mpxd runs (MPX_SOCKET says where it is).\n");
}

/* Submit job i: "SRC\0DST\0". */
static int submit(mpx *m, const char *queue, size_t i, mpx_job *job) {
        size_t ls = strlen(walk.files[i].src) + 1, ld = strlen(walk.files[i].dst) + 1;
        char *data = malloc(ls + ld);
        int r;

        if (!data)
                return -ENOMEM;
        memcpy(data, walk.files[i].src, ls);
        memcpy(data + ls, walk.files[i].dst, ld);
        r = mpx_job_submit(m, queue, data, ls + ld, job);
        free(data);
        return r;
}

int main(int argc, char **argv) {
        char queue[128], pool[128], self[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
        const char *worker_argv[4];
        unsigned long workers = 4;
        mpx_job *jobs = NULL;
        size_t submitted = 0, collected = 0;
        uint64_t bytes_done = 0;
        unsigned failed = 0;
        int c, r, last_percent = -1, status = 1;
        bool tty = isatty(STDOUT_FILENO);
        struct timespec t0;
        ssize_t len;
        mpx *m = NULL;

        if (argc == 3 && strcmp(argv[1], "--worker") == 0)
                return worker_main(argv[2]);
        while ((c = getopt(argc, argv, "n:h")) >= 0) {
                char *end;

                switch (c) {
                case 'n':
                        workers = strtoul(optarg, &end, 10);
                        if (*end || workers < 1 || workers > 1024) {
                                fprintf(stderr, "pool-copy: -n: expected 1 to 1024 workers\n");
                                return 2;
                        }
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (argc - optind != 2) {
                usage(stderr);
                return 2;
        }
        /* Workers run from mpxd's working directory: give them absolute paths. */
        if (!realpath(argv[optind], src)) {
                fprintf(stderr, "pool-copy: %s: %s\n", argv[optind], strerror(errno));
                return 1;
        }
        if (mkdir(argv[optind + 1], 0777) < 0 && errno != EEXIST) {
                fprintf(stderr, "pool-copy: cannot create %s: %s\n", argv[optind + 1], strerror(errno));
                return 1;
        }
        if (!realpath(argv[optind + 1], dst)) {
                fprintf(stderr, "pool-copy: %s: %s\n", argv[optind + 1], strerror(errno));
                return 1;
        }
        if (strcmp(src, dst) == 0 || (strncmp(dst, src, strlen(src)) == 0 && dst[strlen(src)] == '/')) {
                fprintf(stderr, "pool-copy: DST is SRC or inside it\n");
                return 1;
        }
        walk.src_root = src;
        walk.dst_root = dst;
        if (nftw(src, walk_one, 64, FTW_PHYS) != 0 || walk.error) {
                if (!walk.error)
                        fprintf(stderr, "pool-copy: cannot walk %s: %s\n", src, strerror(errno));
                goto out;
        }

        r = mpx_connect(NULL, &m);
        if (r < 0) {
                fprintf(stderr, "pool-copy: cannot connect to mpxd: %s\n", mpx_strerror(r));
                goto out;
        }
        snprintf(queue, sizeof(queue), "pool-copy.%ld.jobs", (long) getpid());
        snprintf(pool, sizeof(pool), "pool-copy.%ld", (long) getpid());
        r = mpx_queue_declare(m, queue, 0, MPX_QUEUE_JOINABLE);
        if (r < 0) {
                fprintf(stderr, "pool-copy: cannot declare %s: %s\n", queue, mpx_strerror(r));
                goto out;
        }
        /* This very program, as mpxd will exec it: the binary, not a wrapper. */
        len = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (len < 0) {
                fprintf(stderr, "pool-copy: cannot find my own binary: %s\n", strerror(errno));
                goto out_queue;
        }
        self[len] = '\0';
        worker_argv[0] = self;
        worker_argv[1] = "--worker";
        worker_argv[2] = queue;
        worker_argv[3] = NULL;
        r = mpx_pool_start(m, pool, (uint32_t) workers, MPX_RESTART_ON_FAILURE, worker_argv);
        if (r < 0) {
                fprintf(stderr, "pool-copy: cannot start a pool: %s%s\n", mpx_strerror(r),
                        r == -EACCES ? " (an mpxd that does not run as root starts pools only for root, its "
                                       "own user and its admin group)" : "");
                goto out_queue;
        }

        clock_gettime(CLOCK_MONOTONIC, &t0);
        jobs = calloc(WINDOW, sizeof(*jobs));
        if (!jobs) {
                fprintf(stderr, "pool-copy: out of memory\n");
                goto out_pool;
        }
        progress(0, 0, tty, &last_percent);
        while (collected < walk.n) {
                mpx_buf res;
                int64_t v = 0;

                while (submitted < walk.n && submitted - collected < WINDOW) {
                        r = submit(m, queue, submitted, &jobs[submitted % WINDOW]);
                        if (r < 0) {
                                fprintf(stderr, "pool-copy: cannot submit %s: %s\n", walk.files[submitted].src,
                                        mpx_strerror(r));
                                goto out_pool;
                        }
                        submitted++;
                }
                /* Results in submission order; the workers run ahead, up to the window. */
                r = mpx_job_wait(m, &jobs[collected % WINDOW], -1, &res);
                if (r < 0) {
                        fprintf(stderr, "pool-copy: %s: the job failed: %s\n", walk.files[collected].src,
                                mpx_strerror(r));
                        goto out_pool;
                }
                if (res.size == 8) {
                        uint64_t u = 0;

                        for (size_t i = 0; i < 8; i++)
                                u |= (uint64_t) ((uint8_t *) res.data)[i] << (8 * i);
                        v = (int64_t) u;
                } else
                        v = -EPROTO;
                mpx_buf_clear(&res);
                if (v < 0) {
                        if (tty)
                                putchar('\n');
                        fprintf(stderr, "pool-copy: %s: %s\n", walk.files[collected].src, strerror((int) -v));
                        failed++;
                } else
                        bytes_done += walk.files[collected].size;
                collected++;
                progress(collected, bytes_done, tty, &last_percent);
        }
        printf("copied %zu of %zu files (%llu bytes) with %lu worker%s in %.2f s%s\n", walk.n - failed, walk.n,
               (unsigned long long) bytes_done, workers, workers == 1 ? "" : "s", seconds_since(&t0),
               walk.skipped ? ", skipping what is not a regular file" : "");
        status = failed ? 1 : 0;

out_pool:
        /* The workers' loops end once the queue is closed and drained; the stop ends the rest. */
        (void) mpx_queue_close(m, queue);
        r = mpx_pool_stop(m, pool, 10000);
        if (r < 0)
                fprintf(stderr, "pool-copy: cannot stop the pool: %s\n", mpx_strerror(r));
        /* Jobs still in flight after a failure: their results are not wanted. */
        for (size_t i = collected; i < submitted; i++)
                (void) mpx_delete(m, jobs[i % WINDOW].result_queue);
out_queue:
        (void) mpx_delete(m, queue);
out:
        mpx_disconnect(m);
        free(jobs);
        for (size_t i = 0; i < walk.n; i++) {
                free(walk.files[i].src);
                free(walk.files[i].dst);
        }
        free(walk.files);
        return status;
}
