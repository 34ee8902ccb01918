/* units_lto's middle unit (lto_units.h): handle() is called once, from
 * main in lto_main.c, and inlined there; parse_item() keeps its frame. */
#include "lto_units.h"

__attribute__((noinline)) int
parse_item(int v)
{
    g_count += v;
    store_value(v * 2); /* @parse */
    return g_count;
}

int
handle(int argc)
{
    g_count = argc;
    return parse_item(argc + 1) + 1; /* @handle */
}
