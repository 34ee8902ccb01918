// lto_cxx's main (lto_cxx.h).
#include <cstdio>

#include "lto_cxx.h"

int
main(int argc, char **)
{
    setvbuf(stdout, nullptr, _IONBF, 0);
    std::puts("lto_cxx: about to crash");
    int r = geo::run_scene(argc); // @main
    return r + g_puts;
}
