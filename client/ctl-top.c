/* SPDX-License-Identifier: MIT */
/*
 * mpxctl top: a live view of the broker, refreshed every second: a line of
 * daemon-wide figures, then the objects sorted by requests per second, with
 * their sizes and waiters. q quits. It draws with plain ANSI sequences on
 * the alternate screen, so it works in any terminal and in tmux; when stdout
 * is not a terminal it prints one table, measured over one second, and exits.
 * With --json it prints that one measure as a JSON document instead.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "mpxctl.h"

#define TOP_INTERVAL_MS 1000

static const struct ctl_column top_columns[] = {
        { "NAME", "name", CTL_CELL_TEXT },
        { "TYPE", "type", CTL_CELL_TEXT },
        { "REQ/S", "rate", CTL_CELL_NUMBER },
        { "SIZE", "size", CTL_CELL_NUMBER },
        { "MAXSIZE", "maxsize", CTL_CELL_LIMIT },
        { "WAITERS", "waiters", CTL_CELL_NUMBER },
        { "BYTES", "bytes", CTL_CELL_BYTES },
        { "REQUESTS", "requests", CTL_CELL_NUMBER },
};

/* One look at the daemon: every object, sorted by name, and the statistics. */
struct sample {
        mpx_info *items;
        size_t n;
        mpx_info stats;
        int64_t at_ms;
};

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig) {
        top_stop = 1;
}

static int64_t monotonic_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sample_free(struct sample *s) {
        ctl_infos_free(s->items, s->n);
        mpx_info_clear(&s->stats);
        *s = (struct sample) { 0 };
}

static int sample_take(struct ctl *ctl, struct sample *ret) {
        struct sample s = { .at_ms = monotonic_ms() };
        int r = ctl_collect(ctl, CTL_OBJECTS, NULL, &s.items, &s.n);

        if (r < 0)
                return r;
        r = mpx_stats(ctl->m, &s.stats);
        if (r < 0) {
                ctl_infos_free(s.items, s.n);
                return r;
        }
        ctl_sort(s.items, s.n, "name");
        *ret = s;
        return 0;
}

static int compare_name(const void *key, const void *item) {
        return strcmp(key, ((const mpx_info *) item)->name);
}

static int64_t field_num(const mpx_info *info, const char *key) {
        const mpx_field *f = mpx_info_get(info, key);

        return f && !f->is_str ? f->num : 0;
}

/* Requests per second between two counts taken dt_ms apart. */
static int64_t per_second(int64_t before, int64_t now, int64_t dt_ms) {
        return dt_ms > 0 ? (now - before) * 1000 / dt_ms : 0;
}

/* Append a number field to info. */
static int add_field(mpx_info *info, const char *key, int64_t num) {
        mpx_field *f = realloc(info->fields, (info->n_fields + 1) * sizeof(*f));

        if (!f)
                return -ENOMEM;
        info->fields = f;
        f = &info->fields[info->n_fields];
        *f = (mpx_field) { .key = strdup(key), .num = num };
        if (!f->key)
                return -ENOMEM;
        info->n_fields++;
        return 0;
}

/*
 * Add a "rate" field, requests per second since before, to each object of
 * now and to its statistics.
 */
static int add_rates(struct sample *now, const struct sample *before) {
        int64_t dt = now->at_ms - before->at_ms;
        int r;

        for (size_t i = 0; i < now->n; i++) {
                mpx_info *it = &now->items[i];
                const mpx_info *old = bsearch(it->name, before->items, before->n, sizeof(*before->items),
                                              compare_name);

                r = add_field(it, "rate",
                              per_second(old ? field_num(old, "requests") : 0, field_num(it, "requests"), dt));
                if (r < 0)
                        return r;
        }
        return add_field(&now->stats, "rate",
                         per_second(field_num(&before->stats, "requests"), field_num(&now->stats, "requests"), dt));
}

/* The line above the table: what the whole daemon does. */
static void print_header(const struct sample *now) {
        const mpx_field *version = mpx_info_get(&now->stats, "version");
        char rss[32];

        ctl_human_bytes(field_num(&now->stats, "rss_bytes"), rss, sizeof(rss));
        printf("mpxd %s  up %" PRId64 "s  clients %" PRId64 "  objects %" PRId64 "  waiters %" PRId64
               "  requests/s %" PRId64 "  rss %s\n\n",
               version && version->is_str ? version->str : "?", field_num(&now->stats, "uptime_ms") / 1000,
               field_num(&now->stats, "clients"), field_num(&now->stats, "objects"),
               field_num(&now->stats, "waiters"), field_num(&now->stats, "rate"), rss);
}

/* With --json, one document: the statistics and every object, each with its rate. */
static void print_json(const struct sample *now) {
        fputs("{\"stats\":", stdout);
        ctl_json_info(&now->stats);
        fputs(",\"objects\":[", stdout);
        for (size_t i = 0; i < now->n; i++) {
                if (i > 0)
                        putchar(',');
                ctl_json_info(&now->items[i]);
        }
        fputs("]}\n", stdout);
}

/* Rows that fit the terminal, leaving room for the header and the hint. */
static size_t rows_that_fit(size_t n) {
        struct winsize ws;

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_row < 6)
                return n;
        return n < (size_t) ws.ws_row - 5 ? n : (size_t) ws.ws_row - 5;
}

/* Print one screen (or, without a terminal, one table or one JSON document). */
static int show(const struct ctl *ctl, struct sample *now, const struct sample *before, const char *sort,
                bool tty) {
        int r = add_rates(now, before);

        if (r < 0)
                return r;
        ctl_sort(now->items, now->n, sort);
        if (tty)
                fputs("\033[H\033[2J", stdout);
        if (ctl->json) {
                print_json(now);
        } else {
                print_header(now);
                ctl_print_table(top_columns, ARRAY_SIZE(top_columns), now->items,
                                tty ? rows_that_fit(now->n) : now->n);
        }
        if (tty)
                fputs("\n(q to quit)", stdout);
        fflush(stdout);
        /* Sorted by name again for the next round's lookups. */
        ctl_sort(now->items, now->n, "name");
        return 0;
}

/*
 * Wait up to ms, watching the keyboard when there is one; true when q or Q
 * was pressed or a signal asked to stop.
 */
static bool wait_for_quit(int64_t ms, bool keyboard) {
        struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
        int64_t deadline = monotonic_ms() + ms;

        while (!top_stop) {
                int64_t left = deadline - monotonic_ms();
                char c;

                if (left <= 0)
                        return false;
                if (poll(&p, keyboard ? 1 : 0, (int) left) <= 0)
                        continue;
                if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
                        return true;
        }
        return true;
}

/* mpxctl top [--sort FIELD] [--iterations N] */
int ctl_top(struct ctl *ctl, int argc, char **argv) {
        static const struct option options[] = {
                { "sort", required_argument, NULL, 'S' },
                { "iterations", required_argument, NULL, 'n' },
                CTL_OPTIONS_COMMON
        };
        struct sample before = { 0 }, now = { 0 };
        struct termios saved, raw;
        bool raw_mode = false;
        uint64_t iterations;
        struct ctl_args a;
        const char *sort;
        bool tty;
        int r;

        r = ctl_parse(ctl, argc, argv,
                      &(struct ctl_syntax) {
                              .options = options,
                              .flags = CTL_ARGS_NO_NAME | CTL_ARGS_CONNECT,
                              .numbers = "n",
                      },
                      NULL, &a);
        if (r != CTL_EXIT_OK)
                return r;
        /* Only now: --json may come after "top", and ctl_parse() has just read it. */
        tty = isatty(STDOUT_FILENO) && isatty(STDIN_FILENO) && !ctl->json;
        sort = ctl_value(&a, 'S') ? ctl_value(&a, 'S') : "rate";
        iterations = ctl_number(&a, 'n', 0);
        if (!tty)
                iterations = 1;
        r = sample_take(ctl, &before);
        if (r < 0)
                return ctl_fail(r, "top", NULL, NULL);
        if (tty && tcgetattr(STDIN_FILENO, &saved) == 0) {
                raw = saved;
                raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
                raw.c_cc[VMIN] = 1;
                raw.c_cc[VTIME] = 0;
                raw_mode = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
                signal(SIGINT, top_on_signal);
                signal(SIGTERM, top_on_signal);
                /* The alternate screen: the shell's screen comes back on exit. */
                fputs("\033[?1049h", stdout);
        }
        for (uint64_t i = 0; iterations == 0 || i < iterations; i++) {
                if (wait_for_quit(TOP_INTERVAL_MS, tty))
                        break;
                r = sample_take(ctl, &now);
                if (r >= 0)
                        r = show(ctl, &now, &before, sort, tty);
                if (r < 0)
                        break;
                sample_free(&before);
                before = now;
                now = (struct sample) { 0 };
        }
        if (tty)
                fputs("\033[?1049l", stdout);
        if (raw_mode)
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        sample_free(&before);
        sample_free(&now);
        if (r < 0)
                return ctl_fail(r, "top", NULL, NULL);
        return CTL_EXIT_OK;
}
