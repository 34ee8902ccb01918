/* helper_path: see helper_path.h. Crash path: async-signal-safe only. */
#include "helper_path.h"

#include "crash.h"
#include "strbuf.h"

#ifndef BTCRASH_HELPER_RELPATH
#define BTCRASH_HELPER_RELPATH "../bin/btcrash"
#endif

/* The places the helper may be, relative to the library's directory: the
 * build tree and an install whose libdir is one level below the prefix, an
 * install with a deeper (multiarch) libdir, and the same directory. */
static const char *const k_helper_relpaths[] = {"../bin/btcrash", BTCRASH_HELPER_RELPATH,
                                                "btcrash"};
#define NCANDIDATES (sizeof(k_helper_relpaths) / sizeof(k_helper_relpaths[0]))

bool
btc_helper_path_candidate(const struct btc_crash_plan *plan, size_t i, char *buf, size_t size)
{
    struct btc_strbuf b;

    btc_strbuf_init(&b, buf, size);
    if (plan->helper_path) {
        if (i > 0)
            return false;
        btc_strbuf_puts(&b, plan->helper_path);
    } else {
        if (i >= NCANDIDATES || !plan->lib_dir)
            return false;
        btc_strbuf_putn(&b, plan->lib_dir, plan->lib_dir_len);
        btc_strbuf_putc(&b, '/');
        btc_strbuf_puts(&b, k_helper_relpaths[i]);
    }
    return !b.overflow;
}
