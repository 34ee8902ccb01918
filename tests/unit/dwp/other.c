/* The package's second unit (see prog.c). */
__attribute__((noinline)) int
dwp_other(int y)
{
    return y + 7;
}
