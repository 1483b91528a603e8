/* SPDX-License-Identifier: MIT */
/*
 * libmpx pools of worker processes: start, scale, signal and stop (one
 * request each), and jobs on top of joinable queues: mpx_job_submit() and
 * mpx_job_wait() for the submitting side, mpx_worker_run() for a worker.
 *
 * Every call but mpx_worker_run() (a loop of synchronous calls) has an
 * asynchronous form. A job call is a chain of queue calls, each made once
 * the one before is answered, so its asynchronous form carries the caller's
 * callback from one to the next and its synchronous form waits for the
 * chain's end rather than for one request.
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
int64_t mpx_pool_start_async(mpx *m, const char *name, uint32_t workers, int restart, const char *const *argv,
                             mpx_callback *cb, void *userdata) {
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
                r = conn_put(m, "nIBH", name, workers,
                             restart == MPX_RESTART_ALWAYS ? WIRE_RESTART_ALWAYS :
                             restart == MPX_RESTART_ON_FAILURE ? WIRE_RESTART_ON_FAILURE : WIRE_RESTART_NEVER,
                             (unsigned) argc);
        for (size_t i = 0; r >= 0 && i < argc; i++)
                r = conn_put(m, "S", argv[i]);
        return conn_submit(m, start, r, &conn_reply_created, cb, userdata);
}

int mpx_pool_start(mpx *m, const char *name, uint32_t workers, int restart, const char *const *argv) {
        return (int) conn_sync(m, mpx_pool_start_async(m, name, workers, restart, argv, CONN_SYNC));
}

/* Run workers workers in a pool. */
int64_t mpx_pool_scale_async(mpx *m, const char *name, uint32_t workers, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_POOL_SCALE, NULL, cb, userdata, "nI", name, workers);
}

int mpx_pool_scale(mpx *m, const char *name, uint32_t workers) {
        return (int) conn_sync(m, mpx_pool_scale_async(m, name, workers, CONN_SYNC));
}

/* POOL_SIGNAL's reply: u32, the workers signalled, as a result capped at INT_MAX. */
static int64_t pool_parse_signalled(struct conn_request *rq, struct wire_reader *rd) {
        uint32_t n;

        (void) rq;
        if (!wire_get_u32(rd, &n) || !wire_reader_done(rd))
                return -EPROTO;
        return n > INT_MAX ? INT_MAX : (int64_t) n;
}

/* Send a signal to every worker of a pool. */
int64_t mpx_pool_signal_async(mpx *m, const char *name, int sig, mpx_callback *cb, void *userdata) {
        if (sig <= 0 || sig >= NSIG)
                return -EINVAL;
        return conn_call(m, WIRE_OP_POOL_SIGNAL, &(struct conn_reply) { .parse = pool_parse_signalled },
                         cb, userdata, "nI", name, (uint32_t) sig);
}

int mpx_pool_signal(mpx *m, const char *name, int sig) {
        return (int) conn_sync(m, mpx_pool_signal_async(m, name, sig, CONN_SYNC));
}

/* Stop a pool and wait until its workers have exited. */
int64_t mpx_pool_stop_async(mpx *m, const char *name, int64_t grace_ms, mpx_callback *cb, void *userdata) {
        return conn_call(m, WIRE_OP_POOL_STOP, NULL, cb, userdata, "nq", name, grace_ms);
}

int mpx_pool_stop(mpx *m, const char *name, int64_t grace_ms) {
        return (int) conn_sync(m, mpx_pool_stop_async(m, name, grace_ms, CONN_SYNC));
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

/*
 * A job submission on its way: the result queue is declared (with
 * MPX_QUEUE_CONNECTION, then without it for an older daemon), then the job
 * is put, then on failure the result queue is deleted again. It holds copies
 * of the queue's name and of the job item, since the caller may reuse its
 * own at once.
 */
struct job_submit {
        mpx_callback *cb;
        void *userdata;
        mpx_job *ret_job;
        mpx_job job;
        bool plain;                     /* the result queue is declared without MPX_QUEUE_CONNECTION */
        int error;                      /* why the put failed, while the result queue is deleted */
        const char *queue;              /* in the same allocation, after the item */
        size_t size;
        uint8_t item[];
};

/* The end of a submission: the caller's callback, with *ret_job written on success. */
static void job_submit_end(mpx *m, struct job_submit *js, int64_t result) {
        mpx_callback *cb = js->cb;
        void *userdata = js->userdata;

        if (result >= 0)
                *js->ret_job = js->job;
        free(js);
        cb(m, result, userdata);
}

/* Whether the result queue is gone or not, the submission failed as the put did. */
static void job_submit_deleted(mpx *m, int64_t result, void *userdata) {
        struct job_submit *js = userdata;

        (void) result;
        job_submit_end(m, js, js->error);
}

static void job_submit_put(mpx *m, int64_t result, void *userdata) {
        struct job_submit *js = userdata;
        int64_t id;

        if (result >= 0) {
                job_submit_end(m, js, 0);
                return;
        }
        /* Nothing is left behind on failure. */
        js->error = (int) result;
        id = mpx_delete_async(m, js->job.result_queue, job_submit_deleted, js);
        if (id < 0)
                job_submit_end(m, js, result);
}

static void job_submit_declared(mpx *m, int64_t result, void *userdata) {
        struct job_submit *js = userdata;
        int64_t id;

        /* A daemon older than MPX_QUEUE_CONNECTION refuses it; then the queue is an ordinary one. */
        if (result == -EINVAL && !js->plain) {
                js->plain = true;
                id = mpx_queue_declare_async(m, js->job.result_queue, 0, 0, job_submit_declared, js);
                if (id < 0)
                        job_submit_end(m, js, id);
                return;
        }
        if (result < 0) {
                job_submit_end(m, js, result);
                return;
        }
        id = mpx_queue_put_async(m, js->queue, js->item, js->size, -1, job_submit_put, js);
        if (id < 0)
                job_submit_put(m, id, js);
}

/* Submit one job to a joinable queue, with a result queue of its own. */
int64_t mpx_job_submit_async(mpx *m, const char *queue, const void *data, size_t size, mpx_job *ret_job,
                             mpx_callback *cb, void *userdata) {
        struct job_submit *js;
        size_t name_len, header, total, queue_len;
        char *queue_copy;
        int64_t id;
        mpx_job job;

        if (!m || !queue || !ret_job || (!data && size > 0) || !cb)
                return -EINVAL;
        job_result_name(job.result_queue, sizeof(job.result_queue));
        name_len = strlen(job.result_queue);
        header = JOB_MAGIC_SIZE + 1 + name_len;
        if (size > mpx_max_message(m) || header + size > mpx_max_message(m))
                return -EMSGSIZE;
        total = header + size;
        queue_len = strlen(queue);
        js = malloc(sizeof(*js) + total + queue_len + 1);
        if (!js)
                return -ENOMEM;
        *js = (struct job_submit) { .cb = cb, .userdata = userdata, .ret_job = ret_job, .job = job, .size = total };
        memcpy(js->item, JOB_MAGIC, JOB_MAGIC_SIZE);
        js->item[JOB_MAGIC_SIZE] = (uint8_t) name_len;
        memcpy(js->item + JOB_MAGIC_SIZE + 1, job.result_queue, name_len);
        if (size > 0)
                memcpy(js->item + header, data, size);
        queue_copy = (char *) js->item + total;
        memcpy(queue_copy, queue, queue_len + 1);
        js->queue = queue_copy;
        /*
         * The result queue first, so that a worker fast enough finds it. It
         * belongs to this connection: if the submitter dies before
         * mpx_job_wait(), the daemon deletes it.
         */
        id = mpx_queue_declare_async(m, js->job.result_queue, 0, MPX_QUEUE_CONNECTION, job_submit_declared, js);
        if (id < 0)
                free(js);
        return id;
}

int mpx_job_submit(mpx *m, const char *queue, const void *data, size_t size, mpx_job *ret_job) {
        struct conn_chain c = { .done = false };

        return (int) conn_chain_wait(m, mpx_job_submit_async(m, queue, data, size, ret_job, CONN_CHAIN(&c)), &c);
}

/*
 * A result item into the call's result: the handler's status, and on success
 * the bytes after it moved to the front of the item's buffer, which goes to
 * *ret_result (or is freed). The item is consumed either way.
 */
static int job_result(mpx_item *item, mpx_buf *ret_result) {
        uint8_t raw[RESULT_STATUS_SIZE];
        int32_t status;

        if (item->size < RESULT_STATUS_SIZE) {
                mpx_item_clear(item);
                return -EPROTO;
        }
        memcpy(raw, item->data, sizeof(raw));
        status = (int32_t) ((uint32_t) raw[0] | (uint32_t) raw[1] << 8 | (uint32_t) raw[2] << 16 |
                            (uint32_t) raw[3] << 24);
        if (status > 0) {
                mpx_item_clear(item);
                return -EPROTO;
        }
        if (status < 0) {
                mpx_item_clear(item);
                return status;
        }
        if (ret_result) {
                /* The bytes after the status, moved to the front of the caller's buffer. */
                memmove(item->data, (uint8_t *) item->data + RESULT_STATUS_SIZE, item->size - RESULT_STATUS_SIZE);
                ret_result->data = item->data;
                ret_result->size = item->size - RESULT_STATUS_SIZE;
        } else
                mpx_item_clear(item);
        return 0;
}

/*
 * A wait for a job's result on its way: the get on the result queue, then,
 * once a result is taken, the result queue's delete. It holds a copy of the
 * job, since the caller may reuse its own at once.
 */
struct job_wait {
        mpx_callback *cb;
        void *userdata;
        mpx_buf *ret_result;
        mpx_job job;
        mpx_item item;
};

/* Whether the result queue is gone or not, the result is the item's. */
static void job_wait_deleted(mpx *m, int64_t result, void *userdata) {
        struct job_wait *jw = userdata;
        mpx_callback *cb = jw->cb;
        void *cb_userdata = jw->userdata;
        int r;

        (void) result;
        r = job_result(&jw->item, jw->ret_result);
        free(jw);
        cb(m, r, cb_userdata);
}

static void job_wait_got(mpx *m, int64_t result, void *userdata) {
        struct job_wait *jw = userdata;
        mpx_callback *cb = jw->cb;
        void *cb_userdata = jw->userdata;
        int64_t id;

        if (result < 0) {
                free(jw);
                cb(m, result, cb_userdata);
                return;
        }
        /* The job is over whatever the result says: its queue goes. */
        id = mpx_delete_async(m, jw->job.result_queue, job_wait_deleted, jw);
        if (id < 0)
                job_wait_deleted(m, id, jw);
}

/* Wait for a job's result and end the job. */
int64_t mpx_job_wait_async(mpx *m, mpx_job *job, int64_t timeout_ms, mpx_buf *ret_result,
                           mpx_callback *cb, void *userdata) {
        struct job_wait *jw;
        int64_t id;

        if (!m || !job || !memchr(job->result_queue, '\0', sizeof(job->result_queue)) || !cb)
                return -EINVAL;
        jw = malloc(sizeof(*jw));
        if (!jw)
                return -ENOMEM;
        *jw = (struct job_wait) { .cb = cb, .userdata = userdata, .ret_result = ret_result, .job = *job };
        id = mpx_queue_get_async(m, jw->job.result_queue, timeout_ms, &jw->item, job_wait_got, jw);
        if (id < 0)
                free(jw);
        return id;
}

int mpx_job_wait(mpx *m, mpx_job *job, int64_t timeout_ms, mpx_buf *ret_result) {
        struct conn_chain c = { .done = false };

        return (int) conn_chain_wait(m, mpx_job_wait_async(m, job, timeout_ms, ret_result, CONN_CHAIN(&c)), &c);
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
