/* units_lto: three translation units built with gcc -O2 -flto, so that
 * the link-time optimiser inlines functions of one unit into another:
 * lto_main.c's main gets lto_parse.c's handle(), lto_parse.c's
 * parse_item() gets lto_store.c's store_value() and its always_inline
 * poke(). The debug information of each inlined call then refers, through
 * DW_AT_abstract_origin, into another unit (issue 11). */
#ifndef BTC_TEST_LTO_UNITS_H
#define BTC_TEST_LTO_UNITS_H

extern int *volatile g_slot; /* NULL */
extern volatile int g_count;

void store_value(int v);
int parse_item(int v);
int handle(int argc);

#endif
