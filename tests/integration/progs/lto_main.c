/* units_lto's main unit (lto_units.h): handle() comes from lto_parse.c.
 * Not a tail call, so main keeps its frame also where handle() is not
 * inlined (split_units, split_dwp: the same units without LTO). */
#include <stdio.h>

#include "lto_units.h"

int
main(int argc, char **argv)
{
    (void)argv;
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("units_lto: about to crash");
    int r = handle(argc); /* @main */

    return r + g_count;
}
