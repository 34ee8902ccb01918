/* fuzz_userdata: the user data of a C API report as the helper reads it
 * from BTC_USERDATA_FD: parsed by jansson as btc_helper_api_read_userdata
 * does, checked by btc_report_userdata_check, and when accepted built into
 * an API report (attributes flattened, annotations, log, error,
 * attachments) and printed as `btcrash show` prints it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config.h"
#include "crash_record.h"
#include "fuzz.h"
#include "print.h"
#include "report.h"

static void
warn(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    FUZZ_CHECK(len > 0 && strlen(line) == len && line[len - 1] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    static struct btc_crash_record rec;
    struct btc_report_parts parts = {0};
    struct btc_config cfg;
    json_t *ud, *report, *problems;
    char why[512];

    if (!devnull)
        devnull = fopen("/dev/null", "w");
    ud = json_loadb((const char *)data, size, 0, NULL);
    if (!ud)
        return 0;
    why[0] = '\0';
    if (btc_report_userdata_check(ud, why, sizeof(why)) < 0) {
        FUZZ_CHECK(strncmp(why, "invalid user data: ", 19) == 0);
        json_decref(ud);
        return 0;
    }
    rec.magic = BTC_RECORD_MAGIC;
    rec.version = BTC_RECORD_VERSION;
    rec.header_size = sizeof(rec);
    rec.flags = BTC_RECORD_F_API;
    rec.pid = rec.tid = 0x7fffffff;
    btc_cfg_defaults(&cfg);
    cfg.collect_source_code = false;
    cfg.attributes_json = "{\"app\":\"fuzz\",\"n\":{\"a\":1}}";
    parts.userdata = ud;
    report = btc_report_build(&rec, &parts, &cfg, warn, NULL);
    problems = json_pack("[s]", "attachment /x skipped: fuzz");
    if (report && problems)
        FUZZ_CHECK(btc_report_note_attachments(report, true, problems) == 0);
    if (report && devnull) {
        btc_print_summary(devnull, report, NULL);
        btc_print_report(devnull, report, false);
    }
    json_decref(problems);
    json_decref(report);
    json_decref(ud);
    return 0;
}
