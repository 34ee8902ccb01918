/* crash_helper: see crash_helper.h. Runs in the helper process while the
 * crashed process waits in its signal handler, until the record's deadline. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture.h"
#include "crash_helper.h"
#include "config.h"
#include "crash_record.h"
#include "db.h"
#include "print.h"
#include "report.h"

static const char *
lookup_env(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

static void
warn_stderr(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    fwrite(line, 1, len, stderr);
}

/* The crashed process inherited descriptors into us (all those without
 * close-on-exec), and blocked every signal before exec'ing us. */
static void
sanitize_process(void)
{
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    close_range(BTC_NOTIFY_FD + 1, ~0u, 0);
}

/* Tell the crashed process it need not wait for us any longer: it re-raises
 * and dies while we free what we used. */
static void
release_crashed_process(void)
{
    char done = BTC_NOTIFY_DONE;

    if (write(BTC_NOTIFY_FD, &done, 1) != 1 && errno != EBADF)
        fprintf(stderr, "btcrash: could not notify the crashed process: %s\n", strerror(errno));
    close(BTC_NOTIFY_FD);
}

/* Map the record and its stack copy read-only from BTC_RECORD_FD. */
static int
map_record(const struct btc_crash_record **ret_rec, size_t *ret_size)
{
    struct stat st;
    const struct btc_crash_record *rec;
    void *mem;

    if (fstat(BTC_RECORD_FD, &st) != 0)
        return -errno;
    if ((size_t)st.st_size < sizeof(*rec))
        return -EBADMSG;
    mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, BTC_RECORD_FD, 0);
    if (mem == MAP_FAILED)
        return -errno;
    rec = mem;
    if (rec->magic != BTC_RECORD_MAGIC || rec->version != BTC_RECORD_VERSION ||
        rec->header_size != sizeof(*rec) || rec->stack_len > BTC_STACK_SNAPSHOT_MAX ||
        sizeof(*rec) + rec->stack_len > (size_t)st.st_size) {
        munmap(mem, (size_t)st.st_size);
        return -EBADMSG;
    }
    *ret_rec = rec;
    *ret_size = (size_t)st.st_size;
    return 0;
}

int
btc_helper_main(void)
{
    const struct btc_crash_record *rec = NULL;
    struct btc_capture *cap = NULL;
    struct btc_config cfg;
    char dbdir[4096];
    const char *dir;
    char *stored = NULL;
    json_t *report = NULL;
    size_t size = 0;
    int r, status = 1;

    sanitize_process();
    /* The library already reported bad values at start-up: stay quiet. */
    btc_cfg_load(lookup_env, NULL, NULL, NULL, &cfg);

    r = map_record(&rec, &size);
    if (r < 0) {
        fprintf(stderr, "btcrash: no valid crash record on descriptor %d: %s\n", BTC_RECORD_FD,
                strerror(-r));
        return 2;
    }
    r = btc_unwind_capture(rec, (const char *)rec + rec->header_size, &cap);
    if (r < 0) {
        fprintf(stderr, "btcrash: could not capture the crashed process %d: %s\n", rec->pid,
                strerror(-r));
        goto out;
    }
    report = btc_report_build(rec, cap, &cfg, warn_stderr, NULL);
    if (!report) {
        fprintf(stderr, "btcrash: could not build the report: out of memory\n");
        goto out;
    }

    dir = cfg.database_path;
    if (!dir) {
        r = btc_cfg_default_database_path(lookup_env, NULL, getuid(), dbdir, sizeof(dbdir));
        dir = r < 0 ? NULL : dbdir;
    }
    r = dir ? btc_db_store(dir, report, &stored) : -ENAMETOOLONG;
    if (r < 0)
        fprintf(stderr, "btcrash: could not store the report in %s: %s\n", dir ? dir : "(none)",
                strerror(-r));
    else
        status = 0;

    if (cfg.debug)
        btc_print_report(stderr, report, false);
    btc_print_summary(stderr, report, stored);
out:
    fflush(stderr);
    release_crashed_process();
    free(stored);
    json_decref(report);
    btc_capture_free(cap);
    if (rec)
        munmap((void *)rec, size);
    return status;
}
