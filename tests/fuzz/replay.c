/* replay: runs a fuzz target's LLVMFuzzerTestOneInput on every file named
 * on the command line, or found in the directories named there, so the
 * corpus and every input a fuzzer once crashed on are tested in every
 * build, with gcc and without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;

    if (!f) {
        fprintf(stderr, "replay: fopen %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t n;

        if (len == cap) {
            unsigned char *nb = realloc(buf, cap ? cap * 2 : 4096);
            if (!nb) {
                fclose(f);
                free(buf);
                return -1;
            }
            buf = nb;
            cap = cap ? cap * 2 : 4096;
        }
        n = fread(buf + len, 1, cap - len, f);
        if (n == 0)
            break;
        len += n;
    }
    fclose(f);
    /* An exact-size copy, so ASan sees a read past the input's end. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        return -1;
    }
    if (len)
        memcpy(exact, buf, len);
    free(buf);
    printf("replay: %s (%zu bytes)\n", path, len);
    fflush(stdout);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
run_path(const char *path, int *count)
{
    struct stat st;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0;
    DIR *d;
    int r = 0;

    if (stat(path, &st) != 0) {
        /* An empty regressions/ directory is not in git. */
        if (errno == ENOENT && *count >= 0) {
            printf("replay: %s: none\n", path);
            return 0;
        }
        fprintf(stderr, "replay: stat %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        (*count)++;
        return run_file(path);
    }
    d = opendir(path);
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char **nn;

        if (de->d_name[0] == '.')
            continue;
        nn = realloc(names, (n + 1) * sizeof(*names));
        if (!nn)
            break;
        names = nn;
        if (asprintf(&names[n], "%s/%s", path, de->d_name) < 0)
            break;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), compare_names);
    for (size_t i = 0; i < n; i++) {
        if (r == 0)
            r = run_path(names[i], count);
        free(names[i]);
    }
    free(names);
    return r;
}

int
main(int argc, char **argv)
{
    int count = 0;

    for (int i = 1; i < argc; i++)
        if (run_path(argv[i], &count) < 0)
            return 1;
    printf("replay: %d input%s passed\n", count, count == 1 ? "" : "s");
    return 0;
}
