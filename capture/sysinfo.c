/* sysinfo: automatic attributes, named as backtrace-python and Backtrace's
 * other clients name them, so the same queries work across languages. */
#include "sysinfo.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fileio.h"
#include "json_util.h"
#include "uuid.h"
#include "path.h"

/* /proc/PID/cmdline can be as large as ARG_MAX allows; a bounded read keeps
 * a hostile argv from exhausting the helper. */
#define CMDLINE_MAX (256u * 1024u)

/* Any file, symbolic links followed, cut at @max bytes: the /proc files
 * read here report a size of 0, so only reading tells their length. */
static int
read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
    return btc_file_read_at(AT_FDCWD, path, max, 0, ret_data, ret_len);
}

int
btc_sysinfo_readlink(int pid, const char *what, char **ret_target)
{
    char path[64], *buf;
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
    buf = malloc(PATH_MAX + 1);
    if (!buf)
        return -ENOMEM;
    n = readlink(path, buf, PATH_MAX);
    if (n < 0) {
        int r = -errno;

        free(buf);
        return r;
    }
    buf[n] = '\0';
    *ret_target = buf;
    return 0;
}

int
btc_sysinfo_argv(int pid, json_t **ret_argv)
{
    char path[64], *data;
    size_t len;
    json_t *argv;
    int r;

    snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
    r = read_file(path, CMDLINE_MAX, &data, &len);
    if (r < 0)
        return r;
    argv = json_array();
    if (!argv) {
        free(data);
        return -ENOMEM;
    }
    /* Arguments are NUL-terminated; a process that rewrote its argv area
     * (setproctitle) may leave a last one without the NUL. */
    for (size_t i = 0; i < len;) {
        size_t n = strnlen(data + i, len - i);

        if (btc_json_append(argv, btc_json_strn(data + i, n)) < 0) {
            free(data);
            json_decref(argv);
            return -ENOMEM;
        }
        i += n + 1;
    }
    free(data);
    *ret_argv = argv;
    return 0;
}

/* "Name:   value kB" lines of /proc/meminfo and /proc/PID/status. */
struct kv_attr {
    const char *field;
    const char *attr;
    bool kib; /* value is in kB: report bytes */
};

static const struct kv_attr g_meminfo[] = {
    {"MemTotal", "system.memory.total", true},
    {"MemFree", "system.memory.free", true},
    {"MemAvailable", "system.memory.available", true},
    {"Buffers", "system.memory.buffers", true},
    {"Cached", "system.memory.cached", true},
    {"SwapCached", "system.memory.swap.cached", true},
    {"Active", "system.memory.active", true},
    {"Inactive", "system.memory.inactive", true},
    {"SwapTotal", "system.memory.swap.total", true},
    {"SwapFree", "system.memory.swap.free", true},
    {"Dirty", "system.memory.dirty", true},
    {"Writeback", "system.memory.writeback", true},
    {"Slab", "system.memory.slab", true},
    {"VmallocTotal", "system.memory.vmalloc.total", true},
    {"VmallocUsed", "system.memory.vmalloc.used", true},
    {"VmallocChunk", "system.memory.vmalloc.chunk", true},
    {NULL, NULL, false},
};

/* The names backtrace-python's LinuxMemoryAttributeProvider uses. */
static const struct kv_attr g_status[] = {
    {"Threads", "process.thread.count", false},
    {"VmPeak", "vm.vma.peak", true},
    {"VmSize", "vm.vma.size", true},
    {"VmLck", "vm.locked.size", true},
    {"VmHWM", "vm.rss.peak", true},
    {"VmRSS", "vm.rss.size", true},
    {"VmData", "vm.data.size", true},
    {"VmStk", "vm.stack.size", true},
    {"VmLib", "vm.shared.size", true},
    {"VmPTE", "vm.pte.size", true},
    {"VmSwap", "vm.swap.size", true},
    {"voluntary_ctxt_switches", "sched.cs.voluntary", false},
    {"nonvoluntary_ctxt_switches", "sched.cs.involuntary", false},
    {NULL, NULL, false},
};

static int
add_kv_file(json_t *attrs, const char *path, const struct kv_attr *table)
{
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen(path, "re");
    int r = 0;

    if (!f)
        return 0; /* left out, as documented */
    while (r == 0 && getline(&line, &cap, f) > 0) {
        char *colon = strchr(line, ':'), *end;
        unsigned long long v;

        if (!colon)
            continue;
        *colon = '\0';
        for (const struct kv_attr *kv = table; kv->field; kv++) {
            if (strcmp(line, kv->field) != 0)
                continue;
            errno = 0;
            v = strtoull(colon + 1, &end, 10);
            if (errno || end == colon + 1)
                break;
            if (kv->kib)
                v *= 1024;
            if (v > (unsigned long long)INT64_MAX)
                break;
            r = btc_json_set_int(attrs, kv->attr, (long long)v);
            break;
        }
    }
    free(line);
    fclose(f);
    return r;
}

static int
add_cpu_brand(json_t *attrs)
{
    char *line = NULL;
    size_t cap = 0;
    FILE *f = fopen("/proc/cpuinfo", "re");
    ssize_t n;
    int r = 0;

    if (!f)
        return 0;
    while ((n = getline(&line, &cap, f)) > 0) {
        char *colon, *v;

        if (strncmp(line, "model name", 10) != 0 || !(colon = strchr(line, ':')))
            continue;
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        v[strcspn(v, "\n")] = '\0';
        r = btc_json_set_str(attrs, "cpu.brand", v);
        break;
    }
    free(line);
    fclose(f);
    return r;
}

/* The machine id the way backtrace-python reads it: D-Bus's copy first, then
 * systemd's, whitespace removed, lowercase. */
static int
add_guid(json_t *attrs)
{
    static const char *const paths[] = {"/var/lib/dbus/machine-id", "/etc/machine-id"};

    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char *data, *o;
        size_t len;
        bool found;
        int r;

        if (read_file(paths[i], 4096, &data, &len) < 0)
            continue;
        o = data;
        for (size_t j = 0; j < len; j++)
            if (!isspace((unsigned char)data[j]))
                *o++ = (char)tolower((unsigned char)data[j]);
        *o = '\0';
        found = *data != '\0';
        r = found ? btc_json_set_str(attrs, "guid", data) : 0;
        free(data);
        if (found || r < 0)
            return r;
    }
    return 0;
}

/*
 * Seconds the process had been running. starttime (field 22 of
 * /proc/PID/stat) counts clock ticks since boot, so it is compared with
 * /proc/uptime (also since boot) rather than with the wall clock, which
 * may have jumped since the process started.
 */
static int
add_process_age(json_t *attrs, int pid)
{
    char path[64], *stat = NULL, *up = NULL, *p;
    unsigned long long start_ticks;
    double uptime;
    size_t len;
    long hz = sysconf(_SC_CLK_TCK);
    int r = 0;

    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (hz <= 0 || read_file(path, 4096, &stat, &len) < 0 ||
        read_file("/proc/uptime", 256, &up, &len) < 0)
        goto done;
    /* comm (field 2) may hold spaces and parentheses: skip past the last ')'. */
    p = strrchr(stat, ')');
    if (!p)
        goto done;
    /* Fields 3..21 precede starttime. */
    for (int field = 3; field <= 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p || sscanf(p + 1, "%llu", &start_ticks) != 1 || sscanf(up, "%lf", &uptime) != 1)
        goto done;
    {
        double age = uptime - (double)start_ticks / (double)hz;

        r = btc_json_set_int(attrs, "process.age", age > 0 ? (long long)age : 0);
    }
done:
    free(stat);
    free(up);
    return r;
}

static int
add_descriptor_count(json_t *attrs, int pid)
{
    char path[64];
    struct dirent *de;
    long long n = 0;
    DIR *d;

    snprintf(path, sizeof(path), "/proc/%d/fd", pid);
    d = opendir(path);
    if (!d)
        return 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return btc_json_set_int(attrs, "descriptor.count", n);
}

static int
add_process(json_t *attrs, int pid, const char *exe_path, const char *cwd)
{
    int r;

    r = btc_json_set_int(attrs, "process.id", pid);
    if (r == 0 && exe_path)
        r = btc_json_set_str(attrs, "application", btc_basename(exe_path));
    if (r == 0 && cwd)
        r = btc_json_set_str(attrs, "process.cwd", cwd);
    if (r == 0)
        r = add_process_age(attrs, pid);
    if (r == 0)
        r = add_descriptor_count(attrs, pid);
    if (r == 0) {
        char path[64];

        snprintf(path, sizeof(path), "/proc/%d/status", pid);
        r = add_kv_file(attrs, path, g_status);
    }
    return r;
}

static int
add_machine(json_t *attrs)
{
    struct utsname u;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int r = 0;

    if (uname(&u) == 0) {
        if (btc_json_set_str(attrs, "hostname", u.nodename) < 0 ||
            btc_json_set_str(attrs, "uname.sysname", u.sysname) < 0 ||
            btc_json_set_str(attrs, "uname.release", u.release) < 0 ||
            btc_json_set_str(attrs, "uname.version", u.version) < 0 ||
            btc_json_set_str(attrs, "uname.machine", u.machine) < 0)
            return -ENOMEM;
    }
    /* The crashed program's architecture, which the helper shares (both are
     * built from one tree); uname.machine is the kernel's. */
    if (btc_json_set_str(attrs, "cpu.arch", "x86_64") < 0)
        return -ENOMEM;
    if (ncpu > 0)
        r = btc_json_set_int(attrs, "cpu.count", ncpu);
    if (r == 0)
        r = add_cpu_brand(attrs);
    if (r == 0)
        r = add_guid(attrs);
    if (r == 0)
        r = add_kv_file(attrs, "/proc/meminfo", g_meminfo);
    return r;
}

int
btc_sysinfo_collect(int pid, const char *exe_path, json_t **ret_facts)
{
    char session[BTC_UUID_STR_LEN + 1];
    json_t *facts = json_object(), *attrs = json_object(), *argv = NULL;
    char *cwd = NULL;
    int r = -ENOMEM;

    if (!facts || !attrs || btc_json_set(facts, "attributes", json_incref(attrs)) < 0)
        goto out;
    (void)btc_sysinfo_readlink(pid, "cwd", &cwd);
    r = add_process(attrs, pid, exe_path, cwd);
    if (r == 0)
        r = add_machine(attrs);
    if (r < 0)
        goto out;
    r = -ENOMEM;
    /* The helper lives for one crash, so there is no longer session to name:
     * a fresh random id per report, as backtrace-python draws one per
     * interpreter run. */
    if (btc_uuid_v4(session) == 0 && btc_json_set_str(attrs, "application.session", session) < 0)
        goto out;
    if (btc_json_set_str(attrs, "backtrace.agent", "btcrash") < 0 ||
        btc_json_set_str(attrs, "backtrace.version", BTCRASH_VERSION) < 0)
        goto out;
    /* A process already gone, or one whose /proc the helper may not read,
     * just has fewer facts. */
    if (btc_sysinfo_argv(pid, &argv) == 0 && btc_json_set(facts, "argv", argv) < 0)
        goto out;
    if ((exe_path && btc_json_set_str(facts, "exe", exe_path) < 0) ||
        (cwd && btc_json_set_str(facts, "cwd", cwd) < 0))
        goto out;
    *ret_facts = facts;
    facts = NULL;
    r = 0;
out:
    free(cwd);
    json_decref(attrs);
    json_decref(facts);
    return r;
}
