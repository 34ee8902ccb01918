/* sanitizer_options: the built-in ASan, UBSan and LSan options of a
 * sanitized btcrash (BTCRASH_SANITIZE), compiled into that build only.
 *
 * The helper runs as a child of the crashed program with the environment
 * that libbtcrash.so filtered (preload/helper_env.c), which drops
 * ASAN_OPTIONS and friends, and its stderr is the crashed program's. So the
 * options that make a report fatal, and the file that keeps the report
 * where the tests look (sanitize.no_reports), are built in. Variables that
 * do reach the process still override these flag by flag. */

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *__lsan_default_options(void);

const char *
__asan_default_options(void)
{
    /* disable_coredump=0: ASan would otherwise set RLIMIT_CORE to 0, which
     * `btcrash run` passes on to the program it execs.
     * detect_leaks=0: LeakSanitizer stops the world with ptrace, which the
     * helper often cannot do (it inherits the crashed program's seccomp
     * filter, or is itself the tracer of the crashed threads) and then dies
     * of a "fatal error". The helper's leaks are checked by the sanitized
     * unit tests of its modules and by valgrind runs instead. */
    return "halt_on_error=1:abort_on_error=1:detect_leaks=0:disable_coredump=0:"
           "log_path=" BTC_SANITIZER_LOG_DIR "/asan";
}

const char *
__ubsan_default_options(void)
{
    return "halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=" BTC_SANITIZER_LOG_DIR
           "/ubsan";
}

const char *
__lsan_default_options(void)
{
    return "log_path=" BTC_SANITIZER_LOG_DIR "/lsan";
}
