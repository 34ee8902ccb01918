// lto_cxx: C++ in three translation units built with g++ -O2 -flto: a
// class template whose member is defined and explicitly instantiated in
// lto_cxx_grid.cpp, a class in namespace geo whose method (in
// lto_cxx_paint.cpp) calls it, and main (lto_cxx_main.cpp). The link-time
// optimiser inlines Grid<int>::put into Painter::stroke into run_scene,
// across units (issue 11).
#ifndef BTC_TEST_LTO_CXX_H
#define BTC_TEST_LTO_CXX_H

extern int *volatile g_cells; // NULL
extern volatile int g_puts;

namespace geo
{

template <typename T> class Grid
{
  public:
    explicit Grid(T *cells) : cells_(cells)
    {
    }
    void put(int i, T v);

  private:
    T *cells_;
};

extern template class Grid<int>;

class Painter
{
  public:
    explicit Painter(Grid<int> &grid) : grid_(grid)
    {
    }
    void stroke(int n);

  private:
    Grid<int> &grid_;
};

int run_scene(int n);

} // namespace geo

#endif
