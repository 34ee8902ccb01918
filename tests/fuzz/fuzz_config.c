/* fuzz_config: btc_cfg_load and btc_cfg_default_database_path on a fuzzed
 * environment. The input is the values of the variables below, in order,
 * separated by NUL bytes; a variable past the input's last NUL is unset. */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"

static const char *const k_names[] = {
    "BACKTRACE_TIMEOUT",
    "BACKTRACE_CONTEXT_LINE_COUNT",
    "BACKTRACE_TAB_WIDTH",
    "BACKTRACE_ENDPOINT",
    "BACKTRACE_IGNORE_SSL_CERTIFICATE",
    "BACKTRACE_DEBUG_BACKTRACE",
    "BACKTRACE_DISABLE_GLOBAL_HANDLER",
    "BACKTRACE_COLLECT_SOURCE_CODE",
    "BACKTRACE_DATABASE_PATH",
    "BACKTRACE_HELPER_PATH",
    "BACKTRACE_LIBRARY_PATH",
    "BACKTRACE_TOKEN",
    "BACKTRACE_ATTRIBUTES",
    "BACKTRACE_ATTACHMENTS",
    "XDG_STATE_HOME",
    "HOME",
};
#define NNAMES (sizeof(k_names) / sizeof(k_names[0]))

struct env {
    const char *values[NNAMES];
};

static const char *
lookup(const char *name, void *ctx)
{
    const struct env *env = ctx;

    for (size_t i = 0; i < NNAMES; i++)
        if (strcmp(name, k_names[i]) == 0)
            return env->values[i];
    return NULL;
}

static void
warn(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    /* The contract: one complete line, its length given. */
    FUZZ_CHECK(len > 0 && strlen(line) == len && line[len - 1] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[1 << 16];
    struct env env = {{NULL}};
    struct btc_config cfg;
    char path[256];
    size_t start = 0, n = 0;

    if (size >= sizeof(buf))
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    /* Each NUL ends one value; text after the last NUL is ignored, so
     * variables without a NUL of their own are unset. */
    for (size_t i = 0; i < size && n < NNAMES; i++)
        if (buf[i] == '\0') {
            env.values[n++] = buf + start;
            start = i + 1;
        }
    FUZZ_CHECK(btc_cfg_load(lookup, &env, warn, NULL, &cfg) >= 0);
    FUZZ_CHECK(cfg.timeout_ms > 0 && cfg.timeout_ms <= BTC_CFG_MAX_TIMEOUT_MS);
    FUZZ_CHECK(cfg.context_line_count <= BTC_CFG_MAX_CONTEXT_LINES);
    FUZZ_CHECK(cfg.tab_width >= 1 && cfg.tab_width <= BTC_CFG_MAX_TAB_WIDTH);
    FUZZ_CHECK(!cfg.endpoint || strncasecmp(cfg.endpoint, "http://", 7) == 0 ||
               strncasecmp(cfg.endpoint, "https://", 8) == 0);
    FUZZ_CHECK(!cfg.database_path || cfg.database_path[0] == '/');
    /* A small buffer too: the function must fail, not overflow. */
    for (size_t sz = 1; sz <= sizeof(path); sz *= 4) {
        int r = btc_cfg_default_database_path(lookup, &env, 1000, path, sz);
        FUZZ_CHECK(r < 0 || strlen(path) < sz);
    }
    return 0;
}
