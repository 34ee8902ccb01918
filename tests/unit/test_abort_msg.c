/* test_abort_msg: reading glibc's abort message (unwind/abort_msg.c): the
 * text's cleanup, the bounded read of struct abort_msg_s, and the lookup of
 * libc's __abort_msg, all against this test's own process. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "abort_msg.h"
#include "memory.h"
#include "modules.h"

#define PAGE BTC_UNWIND_MEM_PAGE

/* Clean up @lit (its bytes, without the literal's NUL) and compare. */
static void
check_text(const char *buf, size_t len, const char *expected)
{
    char *msg = NULL;
    int r = btc_unwind_abort_text(buf, len, &msg);

    if (!expected) {
        assert_int_equal(r, 0);
        assert_null(msg);
        return;
    }
    assert_int_equal(r, 1);
    assert_string_equal(msg, expected);
    free(msg);
}

#define TEXT(lit, expected) check_text(lit, sizeof(lit) - 1, expected)

static void
test_abort_text_strips_the_printed_newline(void **state)
{
    (void)state;
    TEXT("free(): double free detected in tcache 2\n\0junk after the NUL",
         "free(): double free detected in tcache 2");
    TEXT("*** stack smashing detected ***: terminated\n\0",
         "*** stack smashing detected ***: terminated");
    /* Inner newlines are the message's own. */
    TEXT("first line\nsecond line\n\n\0", "first line\nsecond line");
}

static void
test_abort_text_empty_is_no_message(void **state)
{
    (void)state;
    TEXT("\0text after the NUL", NULL);
    TEXT("\n\0", NULL);
    TEXT("", NULL);
}

static void
test_abort_text_cut_drops_an_incomplete_utf8_sequence(void **state)
{
    (void)state;
    /* No NUL within the bytes read: the text was cut at the bound. */
    TEXT("ab\xc3", "ab");
    TEXT("ab\xe2\x82", "ab");
    TEXT("ab\xf0\x9f\x92", "ab");
    TEXT("ab\xe2\x82\xac", "ab\xe2\x82\xac");
    TEXT("ab\xc3\xa9", "ab\xc3\xa9");
    /* Invalid bytes before the cut stay for the report's UTF-8 repair. */
    TEXT("a\xff"
         "b",
         "a\xff"
         "b");
}

/* @npages readable pages followed by one PROT_NONE page. */
static unsigned char *
map_pages(size_t npages)
{
    unsigned char *p =
        mmap(NULL, (npages + 1) * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + npages * PAGE, PAGE, PROT_NONE), 0);
    return p;
}

/* Read the message that the pointer variable @var points to, as the helper
 * reads a crashed process: process_vm_readv on this process. */
static int
read_own(void *const *var, char **ret_msg)
{
    struct btc_unwind_mem mem;
    int r;

    btc_unwind_mem_init(&mem, getpid(), 0, NULL, 0, 0);
    r = btc_unwind_abort_msg_read(&mem, (uint64_t)(uintptr_t)var, ret_msg);
    btc_unwind_mem_done(&mem);
    return r;
}

/* struct abort_msg_s { unsigned int size; char msg[]; } at @p. */
static void
put_abort_msg(unsigned char *p, uint32_t size, const char *text, size_t len)
{
    memcpy(p, &size, sizeof(size));
    memcpy(p + 4, text, len);
}

static void
test_abort_msg_read_as_glibc_stores_it(void **state)
{
    static const char text[] = "prog: prog.c:12: main: Assertion `x == 2' failed.\n";
    unsigned char *p = map_pages(1);
    void *var = p;
    char *msg = NULL;

    (void)state;
    /* glibc: size is the whole mapping, the text is NUL-terminated. */
    put_abort_msg(p, PAGE, text, sizeof(text));
    assert_int_equal(read_own(&var, &msg), 1);
    assert_string_equal(msg, "prog: prog.c:12: main: Assertion `x == 2' failed.");
    free(msg);
    munmap(p, 2 * PAGE);
}

static void
test_abort_msg_null_pointer_is_no_message(void **state)
{
    void *var = NULL;
    char *msg = NULL;

    (void)state;
    assert_int_equal(read_own(&var, &msg), 0);
    assert_null(msg);
}

static void
test_abort_msg_implausible_size_is_no_message(void **state)
{
    unsigned char *p = map_pages(1);
    void *var = p;
    char *msg = NULL;

    (void)state;
    put_abort_msg(p, 4, "text\n", 6);
    assert_int_equal(read_own(&var, &msg), 0);
    assert_null(msg);
    munmap(p, 2 * PAGE);
}

static void
test_abort_msg_unreadable_pointer_is_efault(void **state)
{
    unsigned char *p = map_pages(0); /* one PROT_NONE page */
    void *var = p;
    char *msg = NULL;

    (void)state;
    assert_int_equal(read_own(&var, &msg), -EFAULT);
    assert_null(msg);
    munmap(p, PAGE);
}

static void
test_abort_msg_stops_at_the_first_unreadable_page(void **state)
{
    unsigned char *p = map_pages(1);
    void *var = p;
    char *msg = NULL;

    (void)state;
    /* A size far beyond the mapping, and no NUL before its end. */
    memset(p + 4, 'x', PAGE - 4);
    put_abort_msg(p, 1u << 20, "y", 1);
    assert_int_equal(read_own(&var, &msg), 1);
    assert_int_equal(strlen(msg), PAGE - 4);
    assert_int_equal(msg[0], 'y');
    free(msg);
    munmap(p, 2 * PAGE);
}

static void
test_abort_msg_is_bounded(void **state)
{
    unsigned char *p = map_pages(3);
    void *var = p;
    char *msg = NULL;

    (void)state;
    memset(p, 'z', 3 * PAGE);
    put_abort_msg(p, 3 * PAGE, "z", 1);
    assert_int_equal(read_own(&var, &msg), 1);
    assert_int_equal(strlen(msg), BTC_UNWIND_ABORT_MSG_MAX);
    free(msg);
    munmap(p, 4 * PAGE);
}

/* The whole path the helper takes: __abort_msg found in libc.so.6's symbol
 * table through libdwfl, then read. This process's own __abort_msg is set
 * for the test and restored. */
static void
test_abort_message_found_in_libc(void **state)
{
    static const char text[] = "free(): double free detected in tcache 2\n";
    void **libc_var = dlsym(RTLD_DEFAULT, "__abort_msg");
    unsigned char *p = map_pages(1);
    struct btc_unwind_mem mem;
    Dwfl *dwfl = NULL;
    uint64_t addr = 0;
    char *msg = NULL;
    void *saved;

    (void)state;
    assert_non_null(libc_var);
    assert_int_equal(btc_unwind_dwfl_open(getpid(), NULL, 0, &dwfl), 0);
    assert_int_equal(btc_unwind_abort_msg_var(dwfl, &addr), 0);
    assert_true(addr == (uint64_t)(uintptr_t)libc_var);

    put_abort_msg(p, PAGE, text, sizeof(text));
    saved = *libc_var;
    assert_null(saved); /* nothing aborted here yet */
    *libc_var = p;
    btc_unwind_mem_init(&mem, getpid(), 0, NULL, 0, 0);
    assert_int_equal(btc_unwind_abort_message(dwfl, &mem, &msg), 1);
    btc_unwind_mem_done(&mem);
    *libc_var = saved;
    assert_string_equal(msg, "free(): double free detected in tcache 2");
    free(msg);

    /* Nothing stored: no message. */
    btc_unwind_mem_init(&mem, getpid(), 0, NULL, 0, 0);
    msg = NULL;
    assert_int_equal(btc_unwind_abort_message(dwfl, &mem, &msg), 0);
    assert_null(msg);
    btc_unwind_mem_done(&mem);
    dwfl_end(dwfl);
    munmap(p, 2 * PAGE);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_abort_text_strips_the_printed_newline),
        cmocka_unit_test(test_abort_text_empty_is_no_message),
        cmocka_unit_test(test_abort_text_cut_drops_an_incomplete_utf8_sequence),
        cmocka_unit_test(test_abort_msg_read_as_glibc_stores_it),
        cmocka_unit_test(test_abort_msg_null_pointer_is_no_message),
        cmocka_unit_test(test_abort_msg_implausible_size_is_no_message),
        cmocka_unit_test(test_abort_msg_unreadable_pointer_is_efault),
        cmocka_unit_test(test_abort_msg_stops_at_the_first_unreadable_page),
        cmocka_unit_test(test_abort_msg_is_bounded),
        cmocka_unit_test(test_abort_message_found_in_libc),
    };

    return cmocka_run_group_tests_name("abort_msg", tests, NULL, NULL);
}
