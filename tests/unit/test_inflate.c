/* capture/inflate.c on a debug file whose sections objcopy compressed with
 * zlib: the image it builds must hold, section by section, what objcopy's
 * own decompression holds (location lists left out), libdw must read it
 * as it reads that reference, and every file it must not take is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "clock.h"
#include "inflate.h"

#define LIB_DEBUG BTC_INFLATE_FILES "/lib.debug"
#define LIB_PLAIN BTC_INFLATE_FILES "/lib.plain.debug"
#define LIB_ALT   BTC_INFLATE_FILES "/lib.alt.debug"

#define SECOND (1000 * 1000 * 1000LL)

struct file {
    int fd;
    Elf *elf;
};

static void
file_open(struct file *f, const char *path)
{
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(f->fd >= 0);
    f->elf = elf_begin(f->fd, ELF_C_READ_MMAP, NULL);
    assert_non_null(f->elf);
}

static void
file_close(struct file *f)
{
    elf_end(f->elf);
    close(f->fd);
}

/* The build-id the file carries. */
static size_t
build_id(const char *path, unsigned char *out)
{
    struct file f;
    const void *bits = NULL;
    ssize_t n;

    file_open(&f, path);
    n = dwelf_elf_gnu_build_id(f.elf, &bits);
    assert_true(n > 0 && n <= BTC_INFLATE_MAX_ID);
    memcpy(out, bits, (size_t)n);
    file_close(&f);
    return (size_t)n;
}

static const char *
section_name(Elf *elf, Elf_Scn *scn)
{
    size_t shstrndx;
    GElf_Shdr sh;

    assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
    assert_non_null(gelf_getshdr(scn, &sh));
    return elf_strptr(elf, shstrndx, sh.sh_name);
}

static int
setup(void **state)
{
    (void)state;
    elf_version(EV_CURRENT);
    return 0;
}

/* Queue lib.debug in a fresh set and take its image. */
static struct btc_inflate *
inflated(int *ret_fd)
{
    unsigned char id[BTC_INFLATE_MAX_ID];
    size_t n = build_id(LIB_DEBUG, id);
    struct btc_inflate *in;
    char *path = NULL;

    assert_int_equal(btc_inflate_new(1ULL << 30, &in), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 1);
    assert_int_equal(btc_inflate_take(in, id, n, btc_clock_now_ns() + 30 * SECOND, ret_fd, &path),
                     0);
    assert_string_equal(path, LIB_DEBUG);
    free(path);
    assert_false(btc_inflate_pending(in, id, n));
    return in;
}

static void
test_image_matches_objcopy(void **state)
{
    struct btc_inflate *in;
    struct file img, ref, src;
    size_t nimg, nref, compressed = 0, left_out = 0;
    int fd;

    (void)state;
    in = inflated(&fd);
    /* The descriptor is the caller's, closed on exec, and the file sealed. */
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_WRITE);
    assert_true(write(fd, "x", 1) < 0);
    img.fd = fd;
    img.elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    assert_non_null(img.elf);
    file_open(&ref, LIB_PLAIN);
    file_open(&src, LIB_DEBUG);
    assert_int_equal(elf_getshdrnum(img.elf, &nimg), 0);
    assert_int_equal(elf_getshdrnum(ref.elf, &nref), 0);
    assert_int_equal(nimg, nref);
    for (size_t i = 1; i < nref; i++) {
        Elf_Scn *si = elf_getscn(img.elf, i), *sr = elf_getscn(ref.elf, i);
        Elf_Scn *ss = elf_getscn(src.elf, i);
        const char *name = section_name(ref.elf, sr);
        GElf_Shdr hi, hr, hs;
        Elf_Data *di, *dr;

        assert_string_equal(section_name(img.elf, si), name);
        assert_non_null(gelf_getshdr(si, &hi));
        assert_non_null(gelf_getshdr(sr, &hr));
        assert_non_null(gelf_getshdr(ss, &hs));
        assert_false(hi.sh_flags & SHF_COMPRESSED);
        if (hs.sh_flags & SHF_COMPRESSED)
            compressed++;
        if (strcmp(name, ".debug_loclists") == 0 || strcmp(name, ".debug_loc") == 0) {
            assert_int_equal(hi.sh_type, SHT_NOBITS);
            assert_int_equal(hi.sh_size, 0);
            left_out++;
            continue;
        }
        assert_int_equal(hi.sh_type, hr.sh_type);
        assert_int_equal(hi.sh_size, hr.sh_size);
        if (hr.sh_type == SHT_NOBITS)
            continue;
        di = elf_rawdata(si, NULL);
        dr = elf_rawdata(sr, NULL);
        assert_non_null(di);
        assert_non_null(dr);
        assert_int_equal(di->d_size, dr->d_size);
        assert_memory_equal(di->d_buf, dr->d_buf, dr->d_size);
    }
    /* What the test is about: objcopy compressed the debug sections, and
     * gcc -O2 wrote location lists. */
    assert_true(compressed >= 5);
    assert_int_equal(left_out, 1);
    file_close(&src);
    file_close(&ref);
    file_close(&img);
    btc_inflate_free(in);
}

/* Each unit's name and line count, as libdw reads @fd. */
static size_t
units(int fd, char names[][256], size_t *lines, size_t max)
{
    Dwarf *dw = dwarf_begin(fd, DWARF_C_READ);
    Dwarf_Off off = 0, next;
    size_t hsize, n = 0;

    assert_non_null(dw);
    while (n < max && dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        Dwarf_Die cu;
        Dwarf_Lines *l;

        assert_non_null(dwarf_offdie(dw, off + hsize, &cu));
        snprintf(names[n], 256, "%s", dwarf_diename(&cu) ? dwarf_diename(&cu) : "");
        assert_int_equal(dwarf_getsrclines(&cu, &l, &lines[n]), 0);
        n++;
        off = next;
    }
    dwarf_end(dw);
    return n;
}

static void
test_libdw_reads_image(void **state)
{
    static char img_names[64][256], ref_names[64][256];
    size_t img_lines[64], ref_lines[64], n;
    struct btc_inflate *in;
    int fd, ref;

    (void)state;
    in = inflated(&fd);
    ref = open(LIB_PLAIN, O_RDONLY | O_CLOEXEC);
    assert_true(ref >= 0);
    n = units(fd, img_names, img_lines, 64);
    assert_true(n >= 3);
    assert_int_equal(units(ref, ref_names, ref_lines, 64), n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(img_names[i], ref_names[i]);
        assert_int_equal(img_lines[i], ref_lines[i]);
        assert_true(img_lines[i] > 0);
    }
    close(ref);
    close(fd);
    btc_inflate_free(in);
}

static void
test_refused(void **state)
{
    unsigned char id[BTC_INFLATE_MAX_ID], other[BTC_INFLATE_MAX_ID];
    size_t n = build_id(LIB_DEBUG, id);
    struct btc_inflate *in;
    char *path = NULL;
    int fd = -1;

    (void)state;
    assert_int_equal(btc_inflate_new(1ULL << 30, &in), 0);
    /* Nothing compressed; a dwz alternate file that libdw would look for
     * beside the memfd; another build-id; no file; no build-id. */
    assert_int_equal(btc_inflate_queue(in, LIB_PLAIN, id, n), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_ALT, id, n), 0);
    memcpy(other, id, n);
    other[0] ^= 0xff;
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, other, n), 0);
    assert_int_equal(btc_inflate_queue(in, BTC_INFLATE_FILES "/none.debug", id, n), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, 0), 0);
    assert_int_equal(btc_inflate_queue(in, "/etc/passwd", id, n), 0);
    assert_false(btc_inflate_pending(in, id, n));
    assert_int_equal(btc_inflate_take(in, id, n, btc_clock_now_ns() + SECOND, &fd, &path), -ENOENT);
    assert_int_equal(btc_inflate_take(in, other, n, btc_clock_now_ns() + SECOND, &fd, &path),
                     -ENOENT);
    assert_int_equal(fd, -1);
    assert_null(path);
    btc_inflate_free(in);

    /* Over the memory allowed: left to libdw. */
    assert_int_equal(btc_inflate_new(4096, &in), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 0);
    assert_int_equal(btc_inflate_take(in, id, n, btc_clock_now_ns() + SECOND, &fd, &path), -ENOENT);
    btc_inflate_free(in);
}

static void
test_queued_once_taken_once(void **state)
{
    unsigned char id[BTC_INFLATE_MAX_ID];
    size_t n = build_id(LIB_DEBUG, id);
    struct btc_inflate *in;
    char *path = NULL;
    int fd = -1, again = -1;

    (void)state;
    assert_int_equal(btc_inflate_new(1ULL << 30, &in), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 1);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 0);
    assert_int_equal(btc_inflate_take(in, id, n, btc_clock_now_ns() + 30 * SECOND, &fd, &path), 0);
    free(path);
    path = NULL;
    /* The descriptor was handed over: the file itself is read next time. */
    assert_int_equal(btc_inflate_take(in, id, n, btc_clock_now_ns() + SECOND, &again, &path),
                     -ENOENT);
    assert_int_equal(again, -1);
    assert_null(path);
    btc_inflate_free(in);
    /* It outlives the set. */
    assert_true(lseek(fd, 0, SEEK_END) > 0);
    close(fd);
}

/* Short of descriptors, the file is left to libdw: the one an image
 * holds until it is taken would be missed by the stores meanwhile. */
static void
test_few_descriptors(void **state)
{
    unsigned char id[BTC_INFLATE_MAX_ID];
    size_t n = build_id(LIB_DEBUG, id);
    struct rlimit old, low;
    struct btc_inflate *in;
    int probe = dup(0);

    (void)state;
    assert_true(probe >= 0);
    close(probe);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = (rlim_t)probe + 4;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    assert_int_equal(btc_inflate_new(1ULL << 30, &in), 0);
    assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 0);
    btc_inflate_free(in);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
}

/* Dropped with its job queued or running: the threads finish what they
 * hold and free the set (ASan and LSan watch). */
static void
test_free_while_running(void **state)
{
    unsigned char id[BTC_INFLATE_MAX_ID];
    size_t n = build_id(LIB_DEBUG, id);
    struct btc_inflate *in;

    (void)state;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(btc_inflate_new(1ULL << 30, &in), 0);
        assert_int_equal(btc_inflate_queue(in, LIB_DEBUG, id, n), 1);
        btc_inflate_free(in);
    }
    btc_clock_sleep_ns(SECOND / 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_matches_objcopy),
        cmocka_unit_test(test_libdw_reads_image),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_queued_once_taken_once),
        cmocka_unit_test(test_few_descriptors),
        cmocka_unit_test(test_free_while_running),
    };

    return cmocka_run_group_tests(tests, setup, NULL);
}
