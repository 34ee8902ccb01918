/* Compiled without -g for test_index: code in no unit. */
extern int btc_index_table[64];

__attribute__((noinline)) int
btc_index_nodebug(int i)
{
    return btc_index_table[i & 63] * 7;
}
