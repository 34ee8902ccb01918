/* procinfo: see procinfo.h. */
#include "procinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

int
btc_unwind_exe_path(int pid, char **ret_path)
{
    char link[64], buf[PATH_MAX];
    ssize_t len;
    char *path;

    snprintf(link, sizeof(link), "/proc/%d/exe", pid);
    len = readlink(link, buf, sizeof(buf) - 1);
    if (len < 0)
        return -errno;
    buf[len] = '\0';
    path = strdup(buf);
    if (!path)
        return -ENOMEM;
    *ret_path = path;
    return 0;
}

/* The data of the section called @name, or NULL. */
static Elf_Data *
find_section(Elf *elf, const char *name)
{
    size_t shstrndx;
    Elf_Scn *scn = NULL;

    if (elf_getshdrstrndx(elf, &shstrndx) != 0)
        return NULL;
    while ((scn = elf_nextscn(elf, scn)) != NULL) {
        GElf_Shdr shdr;
        const char *sname;

        if (!gelf_getshdr(scn, &shdr) || shdr.sh_type == SHT_NOBITS)
            continue;
        sname = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (sname && strcmp(sname, name) == 0)
            return elf_getdata(scn, NULL);
    }
    return NULL;
}

/* .comment holds NUL-separated strings, the first from the compiler of the
 * first object linked. Skips empty strings; does not trust a final NUL. */
static int
first_string(const char *buf, size_t size, char **ret)
{
    size_t i = 0;
    char *s;

    while (i < size && buf[i] == '\0')
        i++;
    if (i == size)
        return -ENODATA;
    s = strndup(buf + i, size - i);
    if (!s)
        return -ENOMEM;
    *ret = s;
    return 0;
}

int
btc_unwind_exe_comment(int pid, const char *exe_path, char **ret_comment)
{
    char path[64];
    Elf_Data *data;
    Elf *elf = NULL;
    char *comment;
    int fd, r;

    /* Through /proc/PID/exe, which still opens when the file was replaced
     * or deleted since the process started; by its path when the helper
     * may not follow that link (a non-dumpable process). */
    snprintf(path, sizeof(path), "/proc/%d/exe", pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && exe_path)
        fd = open(exe_path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    elf_version(EV_CURRENT);
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf) {
        r = -EINVAL;
        goto out;
    }
    data = find_section(elf, ".comment");
    if (!data || !data->d_buf || data->d_size == 0) {
        r = -ENODATA;
        goto out;
    }
    r = first_string(data->d_buf, data->d_size, &comment);
    if (r < 0)
        goto out;
    *ret_comment = comment;
    r = 0;
out:
    elf_end(elf);
    close(fd);
    return r;
}

int
btc_unwind_thread_name(int pid, int tid, char **ret_name)
{
    char path[64], buf[64];
    ssize_t len;
    char *name;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    do
        len = read(fd, buf, sizeof(buf) - 1);
    while (len < 0 && errno == EINTR);
    if (len < 0) {
        int r = -errno;

        close(fd);
        return r;
    }
    close(fd);
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    name = strdup(buf);
    if (!name)
        return -ENOMEM;
    *ret_name = name;
    return 0;
}
