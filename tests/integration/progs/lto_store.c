/* units_lto's faulting unit (lto_units.h): store_value() is called once,
 * from parse_item() in lto_parse.c, and inlined there with its
 * always_inline poke(), which writes through NULL. */
#include "lto_units.h"

int *volatile g_slot;
volatile int g_count;

static inline __attribute__((always_inline)) void
poke(int *p, int v)
{
    g_count++;
    *p = v * 5; /* @fault */
}

void
store_value(int v)
{
    g_count += 3;
    poke(g_slot, v + 1); /* @store */
}
