/* table: the one symbol libbtcrash-api.so exports (libbtcrash-api.map),
 * looked up by libbtcrash.so's shims (preload/api_shim.c). */
#include "api_table.h"

#include "options.h"
#include "report.h"
#include "send.h"

/* Default visibility on this one definition; the version script keeps
 * everything else local anyway. */
__attribute__((visibility("default"))) const struct btc_api_table btc_api_table = {
    .abi = BTC_API_ABI,
    .size = sizeof(struct btc_api_table),
    .attach = btc_api_options_attach,
    .initialize = btc_api_options_initialize,
    .report_new = btc_api_report_new,
    .set_attribute = btc_api_report_set_attribute,
    .set_attribute_int = btc_api_report_set_attribute_int,
    .set_attribute_double = btc_api_report_set_attribute_double,
    .set_attribute_bool = btc_api_report_set_attribute_bool,
    .set_dict_attributes = btc_api_report_set_dict_attributes,
    .get_attributes = btc_api_report_get_attributes,
    .set_annotation = btc_api_report_set_annotation,
    .set_dict_annotations = btc_api_report_set_dict_annotations,
    .add_attachment = btc_api_report_add_attachment,
    .get_attachments = btc_api_report_get_attachments,
    .set_error = btc_api_report_set_error,
    .capture_stack = btc_api_report_capture_stack,
    .logv = btc_api_report_logv,
    .send = btc_api_report_send,
    .report_free = btc_api_report_free,
    .send_last_exception = btc_api_send_last_exception,
};
