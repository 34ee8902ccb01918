/* api_inline: btcrash_report_capture_stack called from a function that is
 * inlined into its caller, built at -O2. The report's first frame must be
 * the inlined function (inlined: true), then its caller, as gdb shows them:
 * the frames btcrash drops are its own, never the caller's. */
#include "api_common.h"

void validate(btcrash_report *r, int v);

static inline __attribute__((always_inline)) void
inner_check(btcrash_report *r, int v)
{
    if (v > 0)
        rc_line("capture", btcrash_report_capture_stack(r)); /* @capture */
}

__attribute__((noinline)) void
validate(btcrash_report *r, int v)
{
    inner_check(r, v + 1); /* @inline_call */
    __asm__ volatile("" ::: "memory");
}

int
main(int argc, char **argv)
{
    btcrash_report *r;

    (void)argv;
    api_require_loaded("api_inline");
    r = btcrash_report_new();
    if (r == NULL)
        return 3;
    btcrash_report_set_error(r, "InlineError", "captured in an inlined function");
    validate(r, argc); /* @main */
    rc_line("send", btcrash_report_send(r));
    btcrash_report_free(r);
    return 0;
}
