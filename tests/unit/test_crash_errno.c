/* Unit tests of preload/crash_errno.c: the words the crash path prints for
 * an errno value instead of its number. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "crash.h"

static void
test_crash_errno_names_the_limit_of_too_many_open_files(void **state)
{
    (void)state;
    assert_string_equal(btc_crash_errno_words(EMFILE), "too many open files (RLIMIT_NOFILE)");
    assert_non_null(strstr(btc_crash_errno_words(EFBIG), "RLIMIT_FSIZE"));
    assert_non_null(strstr(btc_crash_errno_words(ENFILE), "system"));
}

static void
test_crash_errno_accepts_either_sign(void **state)
{
    (void)state;
    assert_ptr_equal(btc_crash_errno_words(-ENOMEM), btc_crash_errno_words(ENOMEM));
    assert_string_equal(btc_crash_errno_words(-ENOMEM), "out of memory");
}

static void
test_crash_errno_knows_the_common_failures(void **state)
{
    (void)state;
    const int common[] = {EMFILE, ENFILE, ENOMEM, EFBIG,  ENOSPC, EACCES, EPERM,
                          EAGAIN, EDQUOT, EROFS,  ENOENT, ENOSYS, EINVAL};

    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        const char *w = btc_crash_errno_words(common[i]);
        assert_non_null(w);
        /* Words, not a number. */
        assert_true(w[0] >= 'a' && w[0] <= 'z');
    }
}

static void
test_crash_errno_returns_null_for_unknown_values(void **state)
{
    (void)state;
    assert_null(btc_crash_errno_words(0));
    assert_null(btc_crash_errno_words(4095));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_errno_names_the_limit_of_too_many_open_files),
        cmocka_unit_test(test_crash_errno_accepts_either_sign),
        cmocka_unit_test(test_crash_errno_knows_the_common_failures),
        cmocka_unit_test(test_crash_errno_returns_null_for_unknown_values),
    };
    return cmocka_run_group_tests_name("crash_errno", tests, NULL, NULL);
}
