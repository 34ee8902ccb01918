/* Unit tests of preload/crash_maps.c: the crash handler's copy of
 * /proc/self/maps into the record, whole lines only, bounded in size and
 * time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "crash.h"

#define FAR_AWAY (INT64_MAX / 2)

/* A memfd holding @text, read from its start. */
static int
source(const char *text, size_t len)
{
    int fd = memfd_create("src", MFD_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static int
target(void)
{
    int fd = memfd_create("dst", MFD_CLOEXEC);

    assert_true(fd >= 0);
    /* What the record writes first: the header and the stack copy. */
    assert_int_equal(pwrite(fd, "HEADER", 6, 0), 6);
    return fd;
}

static char *
contents(int fd, size_t *ret_len)
{
    struct stat st;
    char *buf;

    assert_int_equal(fstat(fd, &st), 0);
    buf = calloc(1, (size_t)st.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    *ret_len = (size_t)st.st_size;
    return buf;
}

static void
test_crash_maps_copies_a_whole_text_after_what_is_there(void **state)
{
    (void)state;
    const char text[] = "a-b r-xp 0 00:00 0 /lib/x\nc-d rw-p 0 00:00 0\n";
    int src = source(text, sizeof(text) - 1), dst = target();
    bool cut = true;
    size_t len;

    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 1 << 20, FAR_AWAY, &cut), sizeof(text) - 1);
    assert_false(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 6 + sizeof(text) - 1);
    assert_memory_equal(got, "HEADER", 6);
    assert_string_equal(got + 6, text);
    free(got);
    close(src);
    close(dst);
}

static void
test_crash_maps_cuts_at_the_last_newline_within_the_limit(void **state)
{
    (void)state;
    const char text[] = "first line\nsecond line\nthird\n";
    int src = source(text, sizeof(text) - 1), dst = target();
    bool cut = false;
    size_t len;

    /* The limit falls inside "second line". */
    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 15, FAR_AWAY, &cut), 11);
    assert_true(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 6 + 11);
    assert_memory_equal(got + 6, "first line\n", 11);
    free(got);
    close(src);
    close(dst);
}

static void
test_crash_maps_is_not_cut_when_the_text_ends_at_the_limit(void **state)
{
    (void)state;
    const char text[] = "one\ntwo\n";
    int src = source(text, sizeof(text) - 1), dst = target();
    bool cut = true;

    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 8, FAR_AWAY, &cut), 8);
    assert_false(cut);
    close(src);
    close(dst);
}

static void
test_crash_maps_copies_texts_longer_than_its_buffer(void **state)
{
    (void)state;
    size_t n = 3 * 4096 + 100, len;
    char *text = malloc(n);
    bool cut = true;

    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = i % 50 == 49 ? '\n' : (char)('a' + i % 26);
    text[n - 1] = '\n';
    int src = source(text, n), dst = target();
    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 1 << 20, FAR_AWAY, &cut), n);
    assert_false(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 6 + n);
    assert_memory_equal(got + 6, text, n);
    free(got);
    free(text);
    close(src);
    close(dst);
}

static void
test_crash_maps_drops_a_last_line_without_newline(void **state)
{
    (void)state;
    const char text[] = "whole\npartial";
    int src = source(text, sizeof(text) - 1), dst = target();
    bool cut = false;
    size_t len;

    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 1 << 20, FAR_AWAY, &cut), 6);
    assert_true(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 12);
    free(got);
    close(src);
    close(dst);
}

static void
test_crash_maps_stops_at_the_deadline(void **state)
{
    (void)state;
    const char text[] = "line\n";
    int src = source(text, sizeof(text) - 1), dst = target();
    bool cut = false;
    size_t len;

    /* A deadline already past: nothing is read. */
    assert_int_equal(btc_crash_copy_lines(src, dst, 6, 1 << 20, 1, &cut), 0);
    assert_true(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 6);
    free(got);
    close(src);
    close(dst);
}

static void
test_crash_maps_keeps_the_lines_before_a_failed_write(void **state)
{
    (void)state;
    const char text[] = "kept\n";
    int src = source(text, sizeof(text) - 1);
    int dst = open("/dev/null", O_RDONLY | O_CLOEXEC); /* every write fails (EBADF) */
    bool cut = false;

    assert_true(dst >= 0);
    assert_int_equal(btc_crash_copy_lines(src, dst, 0, 1 << 20, FAR_AWAY, &cut), 0);
    assert_true(cut);
    close(src);
    close(dst);
}

static void
test_crash_maps_copies_this_process_s_map(void **state)
{
    (void)state;
    int src = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), dst = target();
    bool cut = true;
    size_t len;

    assert_true(src >= 0);
    uint64_t kept = btc_crash_copy_lines(src, dst, 6, BTC_MAPS_MAX, FAR_AWAY, &cut);
    assert_false(cut);
    char *got = contents(dst, &len);
    assert_int_equal(len, 6 + kept);
    assert_true(kept > 0 && got[len - 1] == '\n');
    assert_non_null(strstr(got + 6, "[stack]"));
    free(got);
    close(src);
    close(dst);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_maps_copies_a_whole_text_after_what_is_there),
        cmocka_unit_test(test_crash_maps_cuts_at_the_last_newline_within_the_limit),
        cmocka_unit_test(test_crash_maps_is_not_cut_when_the_text_ends_at_the_limit),
        cmocka_unit_test(test_crash_maps_copies_texts_longer_than_its_buffer),
        cmocka_unit_test(test_crash_maps_drops_a_last_line_without_newline),
        cmocka_unit_test(test_crash_maps_stops_at_the_deadline),
        cmocka_unit_test(test_crash_maps_keeps_the_lines_before_a_failed_write),
        cmocka_unit_test(test_crash_maps_copies_this_process_s_map),
    };
    return cmocka_run_group_tests_name("crash_maps", tests, NULL, NULL);
}
