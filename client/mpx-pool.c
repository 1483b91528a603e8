/* SPDX-License-Identifier: MIT */
/*
 * libmpx pools of worker processes: start, scale, signal and stop (one
 * request each), and jobs on top of joinable queues: mpx_job_submit() and
 * mpx_job_wait() for the submitting side, mpx_worker_run() for a worker.
 *
 * Jobs are made of queue calls only; the daemon knows nothing of them. A
 * job item is a header naming the job's private result queue, then the
 * job's data; a result item is an i32 status, then the result's bytes. Both
 * are specified in docs/PROTOCOL.md ("Jobs"), so that a worker or a
 * submitter in another language can take part.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mpx-internal.h"

/* The header of a job item: magic, version, then the result queue's name (u8 length, bytes). */
#define JOB_MAGIC               "MPXJOB\0\1"
#define JOB_MAGIC_SIZE          8u
/* A result item starts with the handler's status, an i32. */
#define RESULT_STATUS_SIZE      4u

/* Start a pool of worker processes running argv. */
int mpx_pool_start(mpx *m, const char *name, uint32_t workers, int restart, const char *const *argv) {
        size_t start, argc = 0;
        int r;

        if (!argv || !argv[0] || !argv[0][0] || workers == 0 ||
            (restart != MPX_RESTART_ALWAYS && restart != MPX_RESTART_ON_FAILURE && restart != MPX_RESTART_NEVER))
                return -EINVAL;
        for (; argv[argc]; argc++)
                if (argc == UINT16_MAX || strlen(argv[argc]) > UINT16_MAX)
                        return -EINVAL;
        r = conn_begin(m, WIRE_OP_POOL_START, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, workers);
        if (r >= 0)
                r = wire_put_u8(&m->out, restart == MPX_RESTART_ALWAYS ? WIRE_RESTART_ALWAYS :
                                restart == MPX_RESTART_ON_FAILURE ? WIRE_RESTART_ON_FAILURE : WIRE_RESTART_NEVER);
        if (r >= 0)
                r = wire_put_u16(&m->out, (uint16_t) argc);
        for (size_t i = 0; r >= 0 && i < argc; i++)
                r = wire_put_str(&m->out, argv[i], strlen(argv[i]));
        return conn_call_declare(m, start, r);
}

/* A request of a name and one u32, with an empty reply or a u32 one. */
static int pool_name_u32(mpx *m, uint16_t op, const char *name, uint32_t v, uint32_t *ret) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, op, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_u32(&m->out, v);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        if (ret && !wire_get_u32(&rd, ret))
                return -EPROTO;
        return conn_done(&rd);
}

/* Run workers workers in a pool. */
int mpx_pool_scale(mpx *m, const char *name, uint32_t workers) {
        return pool_name_u32(m, WIRE_OP_POOL_SCALE, name, workers, NULL);
}

/* Send a signal to every worker of a pool. */
int mpx_pool_signal(mpx *m, const char *name, int sig) {
        uint32_t n = 0;
        int r;

        if (sig <= 0 || sig >= NSIG)
                return -EINVAL;
        r = pool_name_u32(m, WIRE_OP_POOL_SIGNAL, name, (uint32_t) sig, &n);
        if (r < 0)
                return r;
        return n > INT_MAX ? INT_MAX : (int) n;
}

/* Stop a pool and wait until its workers have exited. */
int mpx_pool_stop(mpx *m, const char *name, int64_t grace_ms) {
        struct wire_reader rd;
        size_t start;
        int r;

        r = conn_begin(m, WIRE_OP_POOL_STOP, &start);
        if (r >= 0)
                r = conn_put_name(m, name);
        if (r >= 0)
                r = wire_put_i64(&m->out, grace_ms);
        if (r >= 0)
                r = conn_call(m, start, &rd);
        if (r < 0)
                return r;
        return conn_done(&rd);
}

/* ---- jobs ---- */

/* A result queue name no other job of any process has: mpx.job.PID.SEQ.RANDOM. */
static void job_result_name(char *buf, size_t size) {
        static uint64_t seq;
        uint64_t rnd = 0;

        if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd)) {
                struct timespec ts;

                clock_gettime(CLOCK_REALTIME, &ts);
                rnd = ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec) ^ ((uint64_t) getpid() << 32) ^
                      (uint64_t) (uintptr_t) buf;
        }
        snprintf(buf, size, "mpx.job.%ld.%llu.%016llx", (long) getpid(), (unsigned long long) ++seq,
                 (unsigned long long) rnd);
}

/* Submit one job to a joinable queue, with a result queue of its own. */
int mpx_job_submit(mpx *m, const char *queue, const void *data, size_t size, mpx_job *ret_job) {
        mpx_job job;
        size_t name_len, header, total;
        uint8_t *item;
        int r;

        if (!m || !queue || !ret_job || (!data && size > 0))
                return -EINVAL;
        job_result_name(job.result_queue, sizeof(job.result_queue));
        name_len = strlen(job.result_queue);
        header = JOB_MAGIC_SIZE + 1 + name_len;
        if (size > mpx_max_message(m) || header + size > mpx_max_message(m))
                return -EMSGSIZE;
        total = header + size;
        item = malloc(total);
        if (!item)
                return -ENOMEM;
        memcpy(item, JOB_MAGIC, JOB_MAGIC_SIZE);
        item[JOB_MAGIC_SIZE] = (uint8_t) name_len;
        memcpy(item + JOB_MAGIC_SIZE + 1, job.result_queue, name_len);
        if (size > 0)
                memcpy(item + header, data, size);
        /*
         * The result queue first, so that a worker fast enough finds it. It
         * belongs to this connection: if the submitter dies before
         * mpx_job_wait(), the daemon deletes it. A daemon older than the
         * flag refuses it; then the queue is an ordinary one.
         */
        r = mpx_queue_declare(m, job.result_queue, 0, MPX_QUEUE_CONNECTION);
        if (r == -EINVAL)
                r = mpx_queue_declare(m, job.result_queue, 0, 0);
        if (r >= 0) {
                r = mpx_queue_put(m, queue, item, total, -1);
                if (r < 0)
                        (void) mpx_delete(m, job.result_queue);
        }
        free(item);
        if (r < 0)
                return r;
        *ret_job = job;
        return 0;
}

/* Wait for a job's result and end the job. */
int mpx_job_wait(mpx *m, mpx_job *job, int64_t timeout_ms, mpx_buf *ret_result) {
        mpx_item item;
        uint8_t raw[RESULT_STATUS_SIZE];
        int32_t status;
        int r;

        if (!m || !job || !memchr(job->result_queue, '\0', sizeof(job->result_queue)))
                return -EINVAL;
        r = mpx_queue_get(m, job->result_queue, timeout_ms, &item);
        if (r < 0)
                return r;
        /* The job is over whatever the result says: its queue goes. */
        (void) mpx_delete(m, job->result_queue);
        if (item.size < RESULT_STATUS_SIZE) {
                mpx_item_clear(&item);
                return -EPROTO;
        }
        memcpy(raw, item.data, sizeof(raw));
        status = (int32_t) ((uint32_t) raw[0] | (uint32_t) raw[1] << 8 | (uint32_t) raw[2] << 16 |
                            (uint32_t) raw[3] << 24);
        if (status > 0) {
                mpx_item_clear(&item);
                return -EPROTO;
        }
        if (status < 0) {
                mpx_item_clear(&item);
                return status;
        }
        if (ret_result) {
                /* The bytes after the status, moved to the front of the caller's buffer. */
                memmove(item.data, (uint8_t *) item.data + RESULT_STATUS_SIZE, item.size - RESULT_STATUS_SIZE);
                ret_result->data = item.data;
                ret_result->size = item.size - RESULT_STATUS_SIZE;
        } else
                mpx_item_clear(&item);
        return 0;
}

/*
 * Where a job item's data starts, and the result queue it names (NUL-terminated
 * in name). An item without the header is all data and names no queue.
 */
static size_t job_parse(const mpx_item *item, char name[WIRE_NAME_MAX + 1]) {
        const uint8_t *p = item->data;
        size_t len;

        name[0] = '\0';
        if (item->size < JOB_MAGIC_SIZE + 1 || memcmp(p, JOB_MAGIC, JOB_MAGIC_SIZE) != 0)
                return 0;
        len = p[JOB_MAGIC_SIZE];
        if (len == 0 || item->size < JOB_MAGIC_SIZE + 1 + len ||
            !wire_name_valid(p + JOB_MAGIC_SIZE + 1, len))
                return 0;
        memcpy(name, p + JOB_MAGIC_SIZE + 1, len);
        name[len] = '\0';
        return JOB_MAGIC_SIZE + 1 + len;
}

/*
 * Put a job's status and result on its result queue. A result queue that is
 * gone (the submitter gave up) is not an error, nor is one this worker may
 * not write to (its mode says so: ending the loop would only hand the job to
 * the next worker, which may not either); a result too large becomes
 * -EMSGSIZE. Returns 0, or an error that must end the worker's loop.
 */
static int job_reply(mpx *m, const char *name, int status, const mpx_buf *result) {
        size_t size = RESULT_STATUS_SIZE + (status == 0 ? result->size : 0);
        uint32_t u = (uint32_t) status;
        uint8_t *item;
        int r;

        if (status == 0 && (result->size > mpx_max_message(m) || size > mpx_max_message(m)))
                return job_reply(m, name, -EMSGSIZE, result);
        item = malloc(size);
        if (!item)
                return -ENOMEM;
        item[0] = (uint8_t) u;
        item[1] = (uint8_t) (u >> 8);
        item[2] = (uint8_t) (u >> 16);
        item[3] = (uint8_t) (u >> 24);
        if (size > RESULT_STATUS_SIZE)
                memcpy(item + RESULT_STATUS_SIZE, result->data, result->size);
        r = mpx_queue_put(m, name, item, size, -1);
        free(item);
        if (r == -ENOENT || r == -EIDRM || r == -EPROTOTYPE || r == -EPIPE || r == -EACCES)
                return 0;
        return r;
}

/* A worker's loop: take a job, run the handler, reply, mark it done. */
int mpx_worker_run(mpx *m, const char *queue, mpx_worker_fn *handler, void *arg) {
        char name[WIRE_NAME_MAX + 1];

        if (!m || !queue || !handler)
                return -EINVAL;
        for (;;) {
                mpx_buf result = { NULL, 0 };
                mpx_item item, job;
                size_t skip;
                int r, status;

                r = mpx_queue_get(m, queue, -1, &item);
                if (r == -EPIPE)
                        return 0;
                if (r < 0)
                        return r;
                skip = job_parse(&item, name);
                job = item;
                job.data = (uint8_t *) item.data + skip;
                job.size = item.size - skip;
                status = handler(arg, &job, &result);
                if (status > 0)
                        status = 0;
                r = name[0] ? job_reply(m, name, status, &result) : 0;
                mpx_buf_clear(&result);
                /* A plain queue's items need no task_done (their tag is 0). */
                if (r >= 0 && item.tag)
                        r = mpx_queue_task_done(m, queue, item.tag);
                mpx_item_clear(&item);
                if (r < 0)
                        return r;
                if (status < 0)
                        return status;
        }
}
