/* config: the BACKTRACE_* environment contract (DESIGN.md §2), parsed once.
 * Runs in the preloaded library's constructor and in the btcrash command.
 * libc only, no allocation: strings point into the environment given. */
#ifndef BTCRASH_CONFIG_H
#define BTCRASH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BTC_CFG_DEFAULT_TIMEOUT_MS    4000u
#define BTC_CFG_MAX_TIMEOUT_MS        3600000u /* an hour: anything longer is a typo */
#define BTC_CFG_DEFAULT_CONTEXT_LINES 200u
#define BTC_CFG_MAX_CONTEXT_LINES     100000u
#define BTC_CFG_DEFAULT_TAB_WIDTH     8u
#define BTC_CFG_MAX_TAB_WIDTH         64u
/* BACKTRACE_CRASH_LOOP_WINDOW: repeats of one crash within it are kept and
 * counted, not sent (DESIGN.md §6); a day at most. */
#define BTC_CFG_DEFAULT_LOOP_WINDOW_MS 60000u
#define BTC_CFG_MAX_LOOP_WINDOW_MS     86400000u

/* BACKTRACE_FORMAT: what the helper sends (DESIGN.md §4). The JSON report is
 * stored either way; a minidump is stored beside it. */
enum btc_cfg_format {
    BTC_CFG_FORMAT_JSON,
    BTC_CFG_FORMAT_MINIDUMP,
};

struct btc_config {
    const char *endpoint;        /* NULL: local mode */
    const char *token;           /* NULL: none */
    const char *attributes_json; /* raw JSON object text, validated by the helper */
    const char *attachments;     /* raw ':'-separated paths */
    const char *database_path;   /* NULL: use btc_cfg_default_database_path() */
    const char *helper_path;     /* BACKTRACE_HELPER_PATH; NULL: next to the library */
    const char *library_path;    /* BACKTRACE_LIBRARY_PATH (btcrash run); NULL: next to it */
    uint32_t timeout_ms;
    uint32_t context_line_count;
    uint32_t tab_width;
    enum btc_cfg_format format; /* BACKTRACE_FORMAT, json or minidump */
    bool ignore_ssl_certificate;
    bool debug;
    bool disable_global_handler;
    bool collect_source_code;
    /* BACKTRACE_MINIDUMP_ENVIRONMENT: the minidump may carry the process
     * environment, which often holds secrets, so it is off unless asked. */
    bool minidump_environment;
    /* BACKTRACE_CRASH_LOOP_WINDOW, in ms; 0 turns crash-loop throttling
     * off. */
    uint32_t crash_loop_window_ms;
    /* BACKTRACE_WAIT_FOR_UPLOAD: the crashed process waits for the upload
     * (1, the default), or only until its report is stored (0). */
    bool wait_for_upload;
};

/* Looks a variable up; returns NULL when unset. getenv() fits. */
typedef const char *(*btc_cfg_lookup_fn)(const char *name, void *ctx);

/* Receives one complete line (ending in '\n') for a rejected value. The value
 * of BACKTRACE_TOKEN is never passed here. */
typedef void (*btc_cfg_warn_fn)(const char *line, size_t len, void *ctx);

/**
 * Fill @ret_cfg from the environment. A value that cannot be parsed, or is out
 * of range, produces one line through @warn (may be NULL) and the default.
 *
 * Returns: the number of rejected values (>= 0). Never fails.
 * Borrows: the strings @lookup returns; they must outlive @ret_cfg.
 */
int btc_cfg_load(btc_cfg_lookup_fn lookup, void *lookup_ctx, btc_cfg_warn_fn warn, void *warn_ctx,
                 struct btc_config *ret_cfg);

/** Defaults only, as if no variable were set. */
void btc_cfg_defaults(struct btc_config *ret_cfg);

/**
 * Parse a boolean the way §2 says: 1/0, true/false, yes/no, on/off, any case.
 *
 * Returns: 0 and *ret_value, or -EINVAL.
 */
int btc_cfg_parse_bool(const char *s, bool *ret_value);

/**
 * Parse seconds with an optional decimal fraction ("2", "0.5", "1.25") into
 * milliseconds, rounding up to whole ms. Rejects signs, exponents, garbage and
 * values above @max_ms.
 *
 * Returns: 0 and *ret_ms, or -EINVAL / -ERANGE.
 */
int btc_cfg_parse_seconds(const char *s, uint32_t max_ms, uint32_t *ret_ms);

/**
 * Parse a decimal count in [min, max].
 *
 * Returns: 0 and *ret_value, or -EINVAL / -ERANGE.
 */
int btc_cfg_parse_count(const char *s, uint32_t min, uint32_t max, uint32_t *ret_value);

/**
 * The database directory when BACKTRACE_DATABASE_PATH is unset:
 * $XDG_STATE_HOME/btcrash, else $HOME/.local/state/btcrash, else
 * /tmp/btcrash-$UID. Relative XDG_STATE_HOME/HOME values are ignored, as the
 * XDG spec asks.
 *
 * Returns: the length written (excluding NUL), or -ENAMETOOLONG.
 */
int btc_cfg_default_database_path(btc_cfg_lookup_fn lookup, void *lookup_ctx, unsigned uid,
                                  char *buf, size_t size);

#endif
