/* fuzz_attrs: btc_attrs_from_text, the BACKTRACE_ATTRIBUTES parser and the
 * flattening of nested objects. Checks the result holds only primitive
 * values with valid UTF-8 strings, and the warning lines the contract
 * promises. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attrs.h"
#include "fuzz.h"
#include "utf8.h"

static void
warn(const char *line, size_t len, void *ctx)
{
    (void)ctx;
    FUZZ_CHECK(len > 0 && strlen(line) == len && line[len - 1] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *dst = json_object(), *v;
    const char *key;
    char *text = malloc(size + 1);
    int r;

    if (!dst || !text)
        goto out;
    memcpy(text, data, size);
    text[size] = '\0';
    r = btc_attrs_from_text(dst, text, warn, NULL);
    FUZZ_CHECK(r >= 0 || r == -EINVAL || r == -ENOMEM);
    json_object_foreach(dst, key, v)
    {
        FUZZ_CHECK(btc_utf8_is_valid(key, strlen(key)));
        FUZZ_CHECK(json_is_string(v) || json_is_number(v) || json_is_boolean(v));
        if (json_is_string(v))
            FUZZ_CHECK(btc_utf8_is_valid(json_string_value(v), json_string_length(v)));
    }
out:
    free(text);
    json_decref(dst);
    return 0;
}
