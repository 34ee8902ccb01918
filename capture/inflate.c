/* inflate: see inflate.h. */
#include "inflate.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <gelf.h>
#include <zlib.h>

#include "clock.h"
#include "fileio.h"

/* Two: .debug_info, a single zlib stream, takes about as long as all the
 * other sections of libc's debug file together. */
#define WORKERS     2
#define WORKER_NICE 10
/* Descriptors left free while an image waits to be taken: a store takes
 * two (the directory and the file), and libdwfl one per file it opens. */
#define RESERVED_FDS 8

enum job_state { JOB_QUEUED, JOB_DONE, JOB_FAILED };

struct span {
    uint64_t off, size;
};

/* One debug file. Its image's layout is fixed when it is queued, from the
 * compression headers, so that the tasks write their parts independently. */
struct job {
    struct job *next;
    unsigned char id[BTC_INFLATE_MAX_ID];
    size_t id_len;
    char *path;
    const unsigned char *src; /* the file, mapped */
    size_t src_size;
    int memfd;
    Elf64_Shdr *shdrs;       /* the image's section header table */
    struct span *compressed; /* where the file's compressed sections are, by offset */
    size_t ncompressed;
    size_t shnum;
    uint64_t shoff;
    size_t tasks_left;
    bool failed;
    enum job_state state;
};

/* One piece of a job's image: the zlib stream at @in inflated to @out, or
 * (@in.size 0) the file copied as it is but for its compressed sections. */
struct task {
    struct task *next;
    struct job *job;
    struct span in, out;
};

struct btc_inflate {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* on CLOCK_MONOTONIC, the clock of deadlines */
    struct job *jobs, **jobs_tail;
    struct task *tasks; /* not taken yet, in the order to take them */
    uint64_t room;      /* image bytes still allowed */
    size_t started;     /* threads */
    bool cancel;
    int refs; /* the owner's, and each running thread's */
};

static void
job_free(struct job *j)
{
    if (j->src)
        munmap((void *)j->src, j->src_size);
    if (j->memfd >= 0)
        close(j->memfd);
    free(j->shdrs);
    free(j->compressed);
    free(j->path);
    free(j);
}

static void
free_tasks(struct task *t)
{
    while (t) {
        struct task *next = t->next;

        free(t);
        t = next;
    }
}

static void
destroy(struct btc_inflate *in)
{
    free_tasks(in->tasks);
    while (in->jobs) {
        struct job *j = in->jobs;

        in->jobs = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&in->changed);
    pthread_mutex_destroy(&in->lock);
    free(in);
}

int
btc_inflate_new(uint64_t max_bytes, struct btc_inflate **ret)
{
    struct btc_inflate *in = calloc(1, sizeof(*in));
    pthread_condattr_t attr;

    if (!in)
        return -ENOMEM;
    if (pthread_condattr_init(&attr) != 0) {
        free(in);
        return -ENOMEM;
    }
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&in->lock, NULL) != 0 || pthread_cond_init(&in->changed, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        free(in);
        return -ENOMEM;
    }
    pthread_condattr_destroy(&attr);
    in->jobs_tail = &in->jobs;
    in->room = max_bytes;
    in->refs = 1;
    *ret = in;
    return 0;
}

static uint64_t
align_up(uint64_t v, uint64_t a)
{
    return a > 1 ? (v + a - 1) / a * a : v;
}

/* Inflate @t's stream straight into the memfd, mapped over the part it
 * fills: one pass over the memory, where libelf would inflate into a
 * buffer of its own to be copied. Stops early once @in is cancelled. */
static int
inflate_into(struct btc_inflate *in, const struct task *t)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t at = t->out.off / page * page, len = t->out.off + t->out.size - at;
    unsigned char *map;
    z_stream z = {0};
    int r, zr = Z_OK;

    if (t->out.size == 0)
        return 0;
    map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, t->job->memfd, (off_t)at);
    if (map == MAP_FAILED)
        return -errno;
    if (inflateInit(&z) != Z_OK) {
        munmap(map, len);
        return -ENOMEM;
    }
    z.next_in = (unsigned char *)t->job->src + t->in.off;
    z.next_out = map + (t->out.off - at);
    /* zlib counts in uInt; a megabyte at a time also lets a cancel in. */
    while (zr == Z_OK) {
        size_t in_left = t->in.size - (size_t)(z.next_in - (t->job->src + t->in.off));
        size_t out_left = t->out.size - (size_t)(z.next_out - (map + (t->out.off - at)));

        if (__atomic_load_n(&in->cancel, __ATOMIC_RELAXED))
            break;
        z.avail_in = (uInt)(in_left < (1u << 30) ? in_left : (1u << 30));
        z.avail_out = (uInt)(out_left < (1u << 20) ? out_left : (1u << 20));
        if (z.avail_out == 0)
            break;
        zr = inflate(&z, Z_NO_FLUSH);
    }
    r = zr == Z_STREAM_END && z.total_out == t->out.size ? 0 : -EINVAL;
    inflateEnd(&z);
    munmap(map, len);
    return r;
}

/* The file as it is, but for the bytes of its compressed sections, which
 * nothing in the image points at: they stay holes. */
static int
copy_plain_parts(const struct job *j)
{
    uint64_t at = 0;
    int r = 0;

    for (size_t i = 0; i <= j->ncompressed && r == 0; i++) {
        uint64_t until = i < j->ncompressed ? j->compressed[i].off : j->src_size;

        if (until > at)
            r = btc_file_pwrite_all(j->memfd, j->src + at, until - at, (off_t)at);
        if (i < j->ncompressed && j->compressed[i].off + j->compressed[i].size > at)
            at = j->compressed[i].off + j->compressed[i].size;
    }
    return r;
}

static int
run_task(struct btc_inflate *in, const struct task *t)
{
    return t->in.size == 0 ? copy_plain_parts(t->job) : inflate_into(in, t);
}

/* The last task of @j done: the section header table over the copy's, and
 * the seals, so that nobody, libdwfl included, changes the file it reads.
 * Called with the lock held. */
static void
finish_job(struct job *j)
{
    if (!j->failed && (btc_file_pwrite_all(j->memfd, j->shdrs, j->shnum * sizeof(*j->shdrs),
                                           (off_t)j->shoff) < 0 ||
                       fcntl(j->memfd, F_ADD_SEALS,
                             F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0))
        j->failed = true;
    j->state = j->failed ? JOB_FAILED : JOB_DONE;
    munmap((void *)j->src, j->src_size);
    j->src = NULL;
}

static void *
worker(void *arg)
{
    struct btc_inflate *in = arg;
    bool last;

    /* Behind the main thread, which stores the report meanwhile: on Linux
     * a thread has a nice value of its own. */
    (void)setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICE);
    pthread_mutex_lock(&in->lock);
    while (!in->cancel) {
        struct task *t = in->tasks;
        int r;

        if (!t) {
            pthread_cond_wait(&in->changed, &in->lock);
            continue;
        }
        in->tasks = t->next;
        pthread_mutex_unlock(&in->lock);
        r = t->job->failed ? -ECANCELED : run_task(in, t);
        pthread_mutex_lock(&in->lock);
        if (r < 0)
            t->job->failed = true;
        if (--t->job->tasks_left == 0) {
            finish_job(t->job);
            pthread_cond_broadcast(&in->changed);
        }
        free(t);
    }
    last = --in->refs == 0;
    pthread_mutex_unlock(&in->lock);
    if (last)
        destroy(in);
    return NULL;
}

static struct job *
find_job(struct btc_inflate *in, const void *id, size_t id_len)
{
    for (struct job *j = in->jobs; j; j = j->next)
        if (j->id_len == id_len && memcmp(j->id, id, id_len) == 0)
            return j;
    return NULL;
}

/* Sections btcrash never has libdw read: location lists of variables. */
static bool
left_out(const char *name)
{
    return name && (strcmp(name, ".debug_loclists") == 0 || strcmp(name, ".debug_loc") == 0);
}

static int
compare_span(const void *a, const void *b)
{
    const struct span *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

/* Queue @t in @list, largest output first. */
static void
insert_by_size(struct task **list, struct task *t)
{
    struct task **pos = list;

    while (*pos && (*pos)->out.size >= t->out.size)
        pos = &(*pos)->next;
    t->next = *pos;
    *pos = t;
}

/* Lay out @j's image from @elf, the file mapped at j->src, its tasks in
 * @ret_tasks: largest first, the copy second, as the largest section
 * alone takes about as long as the rest.
 * Returns: the image's size, 0 when @elf is not a file to queue (see
 * btc_inflate_queue), or -ENOMEM. */
static int64_t
plan(struct job *j, Elf *elf, struct task **ret_tasks)
{
    const unsigned char *ident = (const unsigned char *)elf_getident(elf, NULL);
    const void *bits = NULL;
    size_t shstrndx, ntasks = 0;
    struct task *tasks = NULL, *copy;
    uint64_t end = j->src_size;
    GElf_Ehdr eh;
    Elf_Scn *scn = NULL;

    if (!ident || ident[EI_CLASS] != ELFCLASS64 ||
        ident[EI_DATA] != (BYTE_ORDER == LITTLE_ENDIAN ? ELFDATA2LSB : ELFDATA2MSB) ||
        !gelf_getehdr(elf, &eh) || eh.e_shentsize != sizeof(Elf64_Shdr) ||
        elf_getshdrstrndx(elf, &shstrndx) < 0 || elf_getshdrnum(elf, &j->shnum) < 0 ||
        eh.e_shoff > j->src_size || j->shnum > (j->src_size - eh.e_shoff) / sizeof(Elf64_Shdr))
        return 0;
    if (dwelf_elf_gnu_build_id(elf, &bits) != (ssize_t)j->id_len ||
        memcmp(bits, j->id, j->id_len) != 0)
        return 0;
    j->shoff = eh.e_shoff;
    j->shdrs = malloc(j->shnum * sizeof(*j->shdrs));
    j->compressed = malloc(j->shnum * sizeof(*j->compressed));
    if (!j->shdrs || !j->compressed)
        return -ENOMEM;
    memcpy(j->shdrs, j->src + eh.e_shoff, j->shnum * sizeof(*j->shdrs));
    while ((scn = elf_nextscn(elf, scn))) {
        Elf64_Shdr *out = &j->shdrs[elf_ndxscn(scn)];
        const char *name = elf_strptr(elf, shstrndx, out->sh_name);
        struct task *t;
        GElf_Chdr ch;

        if (name && strcmp(name, ".gnu_debugaltlink") == 0)
            goto none;
        if (!(out->sh_flags & SHF_COMPRESSED) || out->sh_type == SHT_NOBITS)
            continue;
        if (!gelf_getchdr(scn, &ch) || ch.ch_type != ELFCOMPRESS_ZLIB ||
            out->sh_offset > j->src_size || out->sh_size > j->src_size - out->sh_offset ||
            out->sh_size < sizeof(Elf64_Chdr))
            goto none; /* libdw 0.188 reads no other compression */
        j->compressed[j->ncompressed++] = (struct span){out->sh_offset, out->sh_size};
        out->sh_flags &= ~(Elf64_Xword)SHF_COMPRESSED;
        out->sh_addralign = ch.ch_addralign;
        if (left_out(name)) {
            out->sh_type = SHT_NOBITS;
            out->sh_size = 0;
            continue;
        }
        t = calloc(1, sizeof(*t));
        if (!t)
            goto nomem;
        end = align_up(end, ch.ch_addralign);
        *t = (struct task){
            .job = j,
            .in = {out->sh_offset + sizeof(Elf64_Chdr), out->sh_size - sizeof(Elf64_Chdr)},
            .out = {end, ch.ch_size},
        };
        out->sh_offset = end;
        out->sh_size = ch.ch_size;
        end += ch.ch_size;
        insert_by_size(&tasks, t);
        ntasks++;
    }
    if (ntasks == 0)
        goto none;
    copy = calloc(1, sizeof(*copy));
    if (!copy)
        goto nomem;
    *copy = (struct task){.job = j, .next = tasks->next};
    tasks->next = copy;
    qsort(j->compressed, j->ncompressed, sizeof(*j->compressed), compare_span);
    j->tasks_left = ntasks + 1;
    *ret_tasks = tasks;
    return (int64_t)end;
nomem:
    free_tasks(tasks);
    return -ENOMEM;
none:
    free_tasks(tasks);
    return 0;
}

/* Called with the lock held. */
static int
start_workers(struct btc_inflate *in)
{
    sigset_t all, old;
    int r = 0;

    /* The threads take no signal: they are the main thread's. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    while (in->started < WORKERS) {
        pthread_t t;

        if (pthread_create(&t, NULL, worker, in) != 0) {
            r = -EAGAIN;
            break;
        }
        pthread_detach(t);
        in->started++;
        in->refs++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return in->started > 0 ? 0 : r;
}

/* Whether holding descriptor @fd until its image is taken leaves the
 * stores that come meanwhile enough others under RLIMIT_NOFILE. */
static bool
fd_room(int fd)
{
    struct rlimit rl;

    return getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
           (rlim_t)fd + RESERVED_FDS < rl.rlim_cur;
}

int
btc_inflate_queue(struct btc_inflate *in, const char *path, const void *id, size_t id_len)
{
    struct task *tasks = NULL, **tail;
    struct job *j;
    struct stat st;
    Elf *elf = NULL;
    int64_t size = 0;
    int fd, r = 0;

    if (id_len == 0 || id_len > BTC_INFLATE_MAX_ID)
        return 0;
    pthread_mutex_lock(&in->lock);
    j = find_job(in, id, id_len);
    pthread_mutex_unlock(&in->lock);
    if (j)
        return 0;
    j = calloc(1, sizeof(*j));
    if (!j)
        return -ENOMEM;
    memcpy(j->id, id, id_len);
    j->id_len = id_len;
    j->memfd = -1;
    j->path = strdup(path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!j->path) {
        r = -ENOMEM;
    } else if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        /* Writable but private: libelf, given the image by elf_memory,
         * may convert in place, and must never fault nor change the file. */
        void *map = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);

        if (map != MAP_FAILED) {
            j->src = map;
            j->src_size = (size_t)st.st_size;
            elf = elf_memory((char *)map, j->src_size);
        }
        size = elf ? plan(j, elf, &tasks) : 0;
        elf_end(elf);
    }
    if (fd >= 0)
        close(fd);
    if (size < 0)
        r = (int)size;
    if (size <= 0)
        goto fail; /* left to libdw */
    j->memfd = memfd_create("btcrash-debug", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (j->memfd < 0 || !fd_room(j->memfd) || ftruncate(j->memfd, size) < 0)
        goto fail;
    pthread_mutex_lock(&in->lock);
    if ((uint64_t)size > in->room || (r = start_workers(in)) < 0) {
        pthread_mutex_unlock(&in->lock);
        goto fail;
    }
    in->room -= (uint64_t)size;
    *in->jobs_tail = j;
    in->jobs_tail = &j->next;
    for (tail = &in->tasks; *tail; tail = &(*tail)->next)
        ;
    *tail = tasks;
    pthread_cond_broadcast(&in->changed);
    pthread_mutex_unlock(&in->lock);
    return 1;
fail:
    free_tasks(tasks);
    job_free(j);
    return r;
}

bool
btc_inflate_pending(struct btc_inflate *in, const void *id, size_t id_len)
{
    struct job *j;
    bool pending;

    pthread_mutex_lock(&in->lock);
    j = find_job(in, id, id_len);
    pending = j && j->state == JOB_QUEUED;
    pthread_mutex_unlock(&in->lock);
    return pending;
}

int
btc_inflate_take(struct btc_inflate *in, const void *id, size_t id_len, int64_t deadline_ns,
                 int *ret_fd, char **ret_path)
{
    struct timespec until = {
        .tv_sec = deadline_ns / 1000000000,
        .tv_nsec = deadline_ns % 1000000000,
    };
    struct job *j;
    char *path;
    int r = 0, fd;

    pthread_mutex_lock(&in->lock);
    j = find_job(in, id, id_len);
    while (j && j->state == JOB_QUEUED && r == 0) {
        r = btc_clock_now_ns() >= deadline_ns
                ? ETIMEDOUT
                : pthread_cond_timedwait(&in->changed, &in->lock, &until);
        if (r == EINTR)
            r = 0;
    }
    if (r != 0) {
        pthread_mutex_unlock(&in->lock);
        return r == ETIMEDOUT ? -ETIMEDOUT : -EIO;
    }
    if (!j || j->state != JOB_DONE || j->memfd < 0) {
        pthread_mutex_unlock(&in->lock);
        return -ENOENT;
    }
    path = strdup(j->path);
    if (!path) {
        pthread_mutex_unlock(&in->lock);
        return -ENOMEM;
    }
    /* Handed over, not duplicated: a process short of descriptors (a low
     * RLIMIT_NOFILE) spends one on the file, as libdw reading it would. */
    fd = j->memfd;
    j->memfd = -1;
    pthread_mutex_unlock(&in->lock);
    *ret_fd = fd;
    *ret_path = path;
    return 0;
}

void
btc_inflate_free(struct btc_inflate *in)
{
    bool last;

    if (!in)
        return;
    pthread_mutex_lock(&in->lock);
    __atomic_store_n(&in->cancel, true, __ATOMIC_RELAXED); /* read by inflate_into unlocked */
    pthread_cond_broadcast(&in->changed);
    last = --in->refs == 0;
    pthread_mutex_unlock(&in->lock);
    if (last)
        destroy(in);
}
