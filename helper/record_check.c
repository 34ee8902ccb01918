/* record_check: see record_check.h. */
#include <errno.h>

#include "crash_record.h"
#include "record_check.h"

int
btc_record_check(const void *mem, size_t size)
{
    const struct btc_crash_record *rec = mem;

    if (size < sizeof(*rec))
        return -EBADMSG;
    /* stack_len and maps_len are compared with their bounds first, so the
     * sum below cannot wrap. */
    if (rec->magic != BTC_RECORD_MAGIC || rec->version != BTC_RECORD_VERSION ||
        rec->header_size != sizeof(*rec) || rec->stack_len > BTC_STACK_SNAPSHOT_MAX ||
        rec->maps_len > BTC_MAPS_MAX || sizeof(*rec) + rec->stack_len + rec->maps_len > size)
        return -EBADMSG;
    return 0;
}
