// cxx_method: a fault in a method of a class inside a namespace.
#include <cstdio>

namespace shapes
{
int *volatile g_target; // NULL

class Canvas
{
  public:
    explicit Canvas(int w) : width_(w)
    {
    }
    void paint(int x);
    void fill(int times);

  private:
    int width_;
};

void
Canvas::paint(int x)
{
    *g_target = x * width_; // @fault
}

void
Canvas::fill(int times)
{
    for (int i = 0; i < times; i++)
        paint(i); // @fill
}
} // namespace shapes

int
main(int argc, char **argv)
{
    (void)argv;
    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::puts("cxx_method: about to crash");
    shapes::Canvas c(argc + 2);
    c.fill(argc); // @main
    return 0;
}
