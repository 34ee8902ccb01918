// lto_cxx (lto_cxx.h): Painter::stroke, inlined into run_scene, which
// keeps its frame.
#include "lto_cxx.h"

namespace geo
{

void
Painter::stroke(int n)
{
    grid_.put(0, n * 2); // @stroke
    g_puts++;
}

__attribute__((noinline)) int
run_scene(int n)
{
    Grid<int> grid(g_cells);
    Painter painter(grid);
    painter.stroke(n + 1); // @scene
    return g_puts;
}

} // namespace geo
