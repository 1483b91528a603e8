/* SPDX-License-Identifier: MIT */
/*
 * Replay driver: runs one fuzz harness (linked in, see fuzz.h) over inputs
 * stored in files, without libFuzzer, so that `make check` (and valgrind
 * through check-valgrind) runs the seed corpus and every input that once
 * found a bug with the ordinary compiler.
 *
 * Usage: replay-NAME [FILE|DIR]...
 * Without arguments it replays the harness's seed corpus,
 * REPLAY_DIR/corpus/NAME/, and the regression inputs of this harness,
 * REPLAY_DIR/regressions/NAME-*. A crash or a sanitizer report ends the
 * program as it would end the fuzzer; a missing corpus is an error.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#ifndef REPLAY_DIR
#error "REPLAY_DIR must name the directory of the corpus and the regressions"
#endif
#ifndef REPLAY_HARNESS
#error "REPLAY_HARNESS must name the harness (its corpus folder and regression prefix)"
#endif

/* Read a whole file into a malloc'd buffer (never NULL on success, even when empty). */
static int read_file(const char *path, uint8_t **ret, size_t *ret_size) {
        FILE *f = fopen(path, "rb");
        uint8_t *data = NULL;
        size_t size = 0, cap = 0;

        if (!f)
                return -errno;
        for (;;) {
                if (size == cap) {
                        uint8_t *p;

                        cap = cap ? cap * 2 : 4096;
                        p = realloc(data, cap);
                        if (!p) {
                                free(data);
                                fclose(f);
                                return -ENOMEM;
                        }
                        data = p;
                }
                size_t n = fread(data + size, 1, cap - size, f);
                size += n;
                if (n == 0)
                        break;
        }
        if (ferror(f)) {
                free(data);
                fclose(f);
                return -EIO;
        }
        fclose(f);
        *ret = data;
        *ret_size = size;
        return 0;
}

static int replay_file(const char *path) {
        uint8_t *data = NULL;
        size_t size = 0;
        int r = read_file(path, &data, &size);

        if (r < 0) {
                fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(-r));
                return r;
        }
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        return 0;
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Replay the files of dir whose names start with prefix, in name order; returns how many, or -errno. */
static int replay_dir(const char *dir, const char *prefix) {
        DIR *d = opendir(dir);
        struct dirent *e;
        char **names = NULL;
        size_t n = 0, cap = 0;
        int r = 0;

        if (!d) {
                fprintf(stderr, "replay: cannot open %s: %s\n", dir, strerror(errno));
                return -errno;
        }
        while ((e = readdir(d))) {
                if (e->d_name[0] == '.' || strncmp(e->d_name, prefix, strlen(prefix)) != 0)
                        continue;
                if (n == cap) {
                        char **p = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*p));
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        names = p;
                }
                if (!(names[n] = strdup(e->d_name))) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof(*names), compare_names);
        for (size_t i = 0; i < n && r == 0; i++) {
                char path[4096];

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                r = replay_file(path);
        }
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0)
                return r;
        printf("replayed %zu input%s from %s%s%s\n", n, n == 1 ? "" : "s", dir, *prefix ? " named " : "",
               *prefix ? prefix : "");
        return (int) n;
}

static int replay_path(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0) {
                fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
                return -errno;
        }
        if (S_ISDIR(st.st_mode))
                return replay_dir(path, "");
        return replay_file(path) < 0 ? -EIO : 1;
}

int main(int argc, char **argv) {
        int r;

        if (argc > 1) {
                for (int i = 1; i < argc; i++)
                        if (replay_path(argv[i]) < 0)
                                return 1;
                return 0;
        }
        r = replay_dir(REPLAY_DIR "/corpus/" REPLAY_HARNESS, "");
        if (r == 0)
                fprintf(stderr, "replay: the corpus of %s is empty\n", REPLAY_HARNESS);
        if (r <= 0)
                return 1;
        return replay_dir(REPLAY_DIR "/regressions", REPLAY_HARNESS "-") < 0 ? 1 : 0;
}
