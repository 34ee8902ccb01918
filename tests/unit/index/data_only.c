/* A unit with no code for test_index: data only, so its unit DIE has no
 * address range. */
int btc_index_table[64] = {1, 2, 3, 4};
