// lto_cxx (lto_cxx.h): Grid<T>::put, the faulting store, instantiated here
// for int and inlined by LTO into lto_cxx_paint.cpp's Painter::stroke.
#include "lto_cxx.h"

int *volatile g_cells;
volatile int g_puts;

namespace geo
{

template <typename T>
void
Grid<T>::put(int i, T v)
{
    cells_[i] = v + g_puts; // @fault
    g_puts++;
}

template class Grid<int>;

} // namespace geo
