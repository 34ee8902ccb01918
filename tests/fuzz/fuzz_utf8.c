/* fuzz_utf8: btc_utf8_repair and btc_utf8_is_valid on arbitrary bytes.
 * Checks the contract: the repair is valid UTF-8, NUL-terminated, of the
 * length it says; valid input comes back byte for byte; repairing twice
 * changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char *out = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    bool valid = btc_utf8_is_valid(s, size);

    if (btc_utf8_repair(s, size, &out, &len) < 0)
        return 0;
    FUZZ_CHECK(out[len] == '\0');
    FUZZ_CHECK(btc_utf8_is_valid(out, len));
    if (valid)
        FUZZ_CHECK(len == size && memcmp(out, s, size) == 0);
    else
        FUZZ_CHECK(len != size || memcmp(out, s, size) != 0);
    /* At most one U+FFFD (3 bytes) per input byte. */
    FUZZ_CHECK(len <= 3 * size);
    if (btc_utf8_repair(out, len, &again, &len2) == 0) {
        FUZZ_CHECK(len2 == len && memcmp(again, out, len) == 0);
        free(again);
    }
    free(out);
    return 0;
}
