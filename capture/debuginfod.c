/* debuginfod: see debuginfod.h. */
#include "debuginfod.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <elfutils/debuginfod.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "clock.h"
#include "hex.h"

#define MAX_ID   64
#define MAX_PATH 4096

extern char **environ;

enum fetch_state { FETCH_RUNNING, FETCH_FOUND, FETCH_FAILED, FETCH_ABANDONED };

struct fetch {
    unsigned char id[MAX_ID];
    size_t id_len;
    pid_t pid;
    int out; /* the child's stdout, until it ends */
    char path[MAX_PATH];
    size_t path_len;
    enum fetch_state state;
};

struct btc_debuginfod {
    char *urls_var; /* "DEBUGINFOD_URLS=..." for the children */
    char *exe;      /* what they run */
    int64_t deadline_ns;
    bool debug;
    struct fetch fetches[BTC_DEBUGINFOD_MAX_FETCHES];
    size_t n;
    size_t abandoned;
};

int
btc_debuginfod_new(const char *urls, const char *self, int64_t deadline_ns, bool debug,
                   struct btc_debuginfod **ret)
{
    struct btc_debuginfod *d;

    *ret = NULL;
    if (!urls || urls[strspn(urls, " \t")] == '\0')
        return 0;
    d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->exe = strdup(self && self[0] == '/' ? self : "/proc/self/exe");
    if (!d->exe || asprintf(&d->urls_var, "DEBUGINFOD_URLS=%s", urls) < 0) {
        free(d->exe);
        free(d);
        return -ENOMEM;
    }
    d->deadline_ns = deadline_ns;
    d->debug = debug;
    *ret = d;
    return 0;
}

static struct fetch *
find_fetch(struct btc_debuginfod *d, const void *id, size_t id_len)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->fetches[i].id_len == id_len && memcmp(d->fetches[i].id, id, id_len) == 0)
            return &d->fetches[i];
    return NULL;
}

/* The helper's environment with DEBUGINFOD_URLS, which the helper took out
 * of its own so that libdwfl never asks a server without a deadline. */
static char **
child_env(const struct btc_debuginfod *d)
{
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "DEBUGINFOD_URLS=", 16) != 0)
            env[k++] = environ[i];
    env[k++] = d->urls_var;
    env[k] = NULL;
    return env;
}

static int
spawn(struct btc_debuginfod *d, struct fetch *f)
{
    char hex[2 * MAX_ID + 1];
    char *argv[] = {"btcrash", BTC_DEBUGINFOD_FETCH_MODE, hex, NULL};
    posix_spawn_file_actions_t fa;
    char **env = child_env(d);
    int pipefd[2], r;

    if (!env)
        return -ENOMEM;
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        free(env);
        return -errno;
    }
    btc_hex_encode(f->id, f->id_len, hex);
    posix_spawn_file_actions_init(&fa);
    /* stdin from /dev/null, stdout to the pipe; stderr the helper's only
     * when debugging (libdebuginfod prints its failures there). */
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    if (!d->debug)
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Nothing else: not the crashed process's record or notification pipe,
     * which it would hold open after the helper is gone. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    r = -posix_spawn(&f->pid, d->exe, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(pipefd[1]);
    if (r < 0) {
        close(pipefd[0]);
        return r;
    }
    f->out = pipefd[0];
    return 0;
}

int
btc_debuginfod_find(struct btc_debuginfod *d, const void *id, size_t id_len)
{
    struct fetch *f;
    int r;

    if (id_len == 0 || id_len > MAX_ID)
        return 0;
    if (find_fetch(d, id, id_len))
        return 1;
    if (d->n == BTC_DEBUGINFOD_MAX_FETCHES || btc_clock_now_ns() >= d->deadline_ns)
        return 0;
    f = &d->fetches[d->n];
    *f = (struct fetch){.id_len = id_len, .out = -1, .state = FETCH_RUNNING};
    memcpy(f->id, id, id_len);
    r = spawn(d, f);
    if (r == -ENOMEM)
        return r;
    if (r < 0)
        return 0;
    d->n++;
    return 1;
}

/* The child closed its stdout, or is given up: reap it and close its
 * pipe. One that is still there at @deadline_ns is killed, and failed. */
static void
finish(struct fetch *f, enum fetch_state state, int64_t deadline_ns)
{
    int status = 0;
    pid_t r = 0;

    while (state != FETCH_ABANDONED && (r = waitpid(f->pid, &status, WNOHANG)) == 0 &&
           btc_clock_now_ns() < deadline_ns)
        btc_clock_sleep_ns(1000000);
    if (r == 0) {
        if (state != FETCH_ABANDONED)
            state = FETCH_FAILED;
        /* SIGKILL cannot be caught: the wait that follows is short. */
        kill(f->pid, SIGKILL);
        r = waitpid(f->pid, &status, 0);
    }
    if (r < 0)
        status = 1;
    close(f->out);
    f->out = -1;
    if (state == FETCH_FOUND && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        state = FETCH_FAILED;
    f->state = state;
}

/* Read what the child printed, waiting @timeout_ms (0: not at all), and
 * reap it by @deadline_ns once it has closed its stdout.
 * Returns whether it has ended. */
static bool
advance(struct fetch *f, int timeout_ms, int64_t deadline_ns)
{
    struct pollfd p = {.fd = f->out, .events = POLLIN};
    ssize_t n;

    if (f->state != FETCH_RUNNING)
        return true;
    for (;;) {
        int r = poll(&p, 1, timeout_ms);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        n = read(f->out, f->path + f->path_len, sizeof(f->path) - 1 - f->path_len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n > 0) {
            f->path_len += (size_t)n;
            if (f->path_len < sizeof(f->path) - 1)
                continue; /* until EOF */
        }
        break;
    }
    f->path[f->path_len] = '\0';
    /* One line: the path. Nothing else is taken from the child. */
    if (f->path_len > 0 && f->path[f->path_len - 1] == '\n')
        f->path[--f->path_len] = '\0';
    finish(f,
           n == 0 && f->path_len > 0 && !memchr(f->path, '\n', f->path_len) ? FETCH_FOUND
                                                                            : FETCH_FAILED,
           deadline_ns);
    return true;
}

bool
btc_debuginfod_pending(struct btc_debuginfod *d, const void *id, size_t id_len)
{
    struct fetch *f = find_fetch(d, id, id_len);

    return f && !advance(f, 0, d->deadline_ns);
}

/* @path must be the user's own regular file, reached without a symlink at
 * its end, carrying build-id @id. Returns a descriptor, or -1. */
static int
open_checked(const char *path, const unsigned char *id, size_t id_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    const void *bits = NULL;
    struct stat st;
    Elf *elf = NULL;
    bool ok;

    if (fd < 0)
        return -1;
    ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
         (elf = elf_begin(fd, ELF_C_READ_MMAP, NULL)) &&
         dwelf_elf_gnu_build_id(elf, &bits) == (ssize_t)id_len && memcmp(bits, id, id_len) == 0;
    elf_end(elf);
    if (!ok) {
        close(fd);
        return -1;
    }
    return fd;
}

int
btc_debuginfod_take(struct btc_debuginfod *d, const void *id, size_t id_len, int *ret_fd,
                    char **ret_path)
{
    struct fetch *f = find_fetch(d, id, id_len);
    char *path;
    int fd;

    if (!f)
        return -ENOENT;
    while (f->state == FETCH_RUNNING) {
        int64_t left = d->deadline_ns - btc_clock_now_ns();

        if (left <= 0) {
            finish(f, FETCH_ABANDONED, 0);
            d->abandoned++;
            break;
        }
        advance(f, (int)((left + 999999) / 1000000), d->deadline_ns);
    }
    if (f->state == FETCH_ABANDONED)
        return -ETIMEDOUT;
    if (f->state != FETCH_FOUND)
        return -ENOENT;
    fd = open_checked(f->path, f->id, f->id_len);
    if (fd < 0)
        return -ENOENT;
    path = strdup(f->path);
    if (!path) {
        close(fd);
        return -ENOMEM;
    }
    *ret_fd = fd;
    *ret_path = path;
    return 0;
}

size_t
btc_debuginfod_abandoned(const struct btc_debuginfod *d)
{
    return d ? d->abandoned : 0;
}

void
btc_debuginfod_free(struct btc_debuginfod *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++)
        if (d->fetches[i].state == FETCH_RUNNING)
            finish(&d->fetches[i], FETCH_ABANDONED, 0);
    free(d->urls_var);
    free(d->exe);
    free(d);
}

/* ----- the child ----- */

static int
parse_hex(const char *s, unsigned char *out, size_t max, size_t *ret_len)
{
    size_t n = strlen(s);

    if (n == 0 || n % 2 || n / 2 > max)
        return -EINVAL;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned int v;

        if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdef", s[2 * i]) ||
            !strchr("0123456789abcdef", s[2 * i + 1]))
            return -EINVAL;
        out[i] = (unsigned char)v;
    }
    *ret_len = n / 2;
    return 0;
}

/* dlsym's answer in a function pointer: POSIX says it converts; memcpy
 * says so without a cast between object and function pointers. */
static void
symbol(void *lib, const char *name, void *fn, size_t size)
{
    void *sym = dlsym(lib, name);

    memcpy(fn, &sym, size);
}

int
btc_debuginfod_child_main(int argc, char **argv)
{
    debuginfod_client *(*begin)(void);
    int (*find)(debuginfod_client *, const unsigned char *, int, char **);
    void (*end)(debuginfod_client *);
    unsigned char id[MAX_ID];
    debuginfod_client *c;
    char *path = NULL;
    size_t len;
    void *lib;
    int fd;

    /* Gone with the helper, whatever happens to it. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1)
        return 1;
    if (argc != 3 || parse_hex(argv[2], id, sizeof(id), &len) < 0) {
        fprintf(stderr, "usage: btcrash %s HEX_BUILD_ID\n", BTC_DEBUGINFOD_FETCH_MODE);
        return 2;
    }
    lib = dlopen(DEBUGINFOD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "btcrash: cannot load %s: %s\n", DEBUGINFOD_SONAME, dlerror());
        return 1;
    }
    symbol(lib, "debuginfod_begin", &begin, sizeof(begin));
    symbol(lib, "debuginfod_find_debuginfo", &find, sizeof(find));
    symbol(lib, "debuginfod_end", &end, sizeof(end));
    if (!begin || !find || !end || !(c = begin())) {
        fprintf(stderr, "btcrash: %s is not usable\n", DEBUGINFOD_SONAME);
        return 1;
    }
    fd = find(c, id, (int)len, &path);
    end(c);
    if (fd < 0) {
        fprintf(stderr, "btcrash: debuginfod: %s: %s\n", argv[2], strerror(-fd));
        return 1;
    }
    close(fd);
    printf("%s\n", path);
    free(path);
    return fflush(stdout) == 0 ? 0 : 1;
}
