/* fuzz_record: the helper's first look at its input, the crash record on
 * BTC_RECORD_FD (btc_record_check), then the report built from a record
 * that passed, without a capture (as when ptrace fails), and printed as
 * `btcrash show` and debug output print it. The record is checked as it
 * came, then again with a valid magic, version and header size so the
 * fuzzer reaches the fields behind them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "crash_record.h"
#include "fuzz.h"
#include "print.h"
#include "record_check.h"
#include "report.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    struct btc_crash_record *rec;
    struct btc_report_parts parts = {0};
    struct btc_config cfg;
    json_t *report, *ud = NULL;

    if (!devnull)
        devnull = fopen("/dev/null", "w");
    /* Aligned, exactly @size bytes: what mmap gives the helper. */
    rec = malloc(size ? size : 1);
    if (!rec)
        return 0;
    memcpy(rec, data, size);
    if (btc_record_check(rec, size) == 0)
        FUZZ_CHECK(rec->magic == BTC_RECORD_MAGIC && size >= sizeof(*rec));
    if (size < sizeof(*rec))
        goto out;
    rec->magic = BTC_RECORD_MAGIC;
    rec->version = BTC_RECORD_VERSION;
    rec->header_size = sizeof(*rec);
    if (btc_record_check(rec, size) < 0) {
        FUZZ_CHECK(rec->stack_len > size - sizeof(*rec));
        goto out;
    }
    /* No process of that id: /proc lookups fail the same way every run. */
    rec->pid = 0x7fffffff;
    btc_cfg_defaults(&cfg);
    cfg.collect_source_code = false;
    if (rec->flags & BTC_RECORD_F_API)
        parts.userdata = ud = json_object();
    report = btc_report_build(rec, &parts, &cfg, NULL, NULL);
    if (report && devnull) {
        btc_print_summary(devnull, report, NULL);
        btc_print_report(devnull, report, false);
    }
    json_decref(report);
    json_decref(ud);
out:
    free(rec);
    return 0;
}
