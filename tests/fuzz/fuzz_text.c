/* fuzz_text: btc_text_escape on arbitrary bytes and buffer sizes, the
 * function every server reply and report field passes through on its way to
 * a terminal. Checks the contract: the output fits and is NUL-terminated,
 * and is valid UTF-8 without a single C0, DEL or C1 control character. */
#include <string.h>

#include "fuzz.h"
#include "text.h"
#include "utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char big[4096 * 4 + 8], small[64];
    size_t cap, n;

    if (size == 0 || size > 4096)
        return 0;
    /* The first byte picks the small buffer's size: 0..63. */
    cap = data[0] % sizeof(small);
    n = btc_text_escape(small, cap, (const char *)data + 1, size - 1, data[0] & 0x80 ? 1u : 0u);
    if (cap > 0) {
        FUZZ_CHECK(n < cap);
        FUZZ_CHECK(small[n] == '\0');
    }
    n = btc_text_escape(big, sizeof(big), (const char *)data + 1, size - 1, 0);
    FUZZ_CHECK(n < sizeof(big) && big[n] == '\0');
    FUZZ_CHECK(strlen(big) == n);
    FUZZ_CHECK(btc_utf8_is_valid(big, n));
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)big[i];

        FUZZ_CHECK(c >= 0x20 && c != 0x7f);
        FUZZ_CHECK(!(c == 0xc2 && i + 1 < n && (unsigned char)big[i + 1] <= 0x9f));
    }
    return 0;
}
