// cxx_uncaught: C++ exceptions nobody catches (issue 5, point 4).
//   main    std::runtime_error("boom") out of main
//   thread  the same, out of a std::thread's function
//   custom  a type derived from std::logic_error
//   stale   an exception thrown and caught, then a plain abort(): the
//           report must not name the old exception
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace app
{
struct config_error : std::logic_error {
    explicit config_error(const char *what) : std::logic_error(what)
    {
    }
};
} // namespace app

static void
fail_hard(int how)
{
    if (how == 2)
        throw app::config_error("bad config"); // @custom
    throw std::runtime_error("boom");          // @fault
}

static void
worker()
{
    fail_hard(1); // @worker
}

static int
caught_then_abort()
{
    try {
        fail_hard(1);
    } catch (const std::exception &e) {
        std::printf("cxx_uncaught: caught %s\n", e.what());
    }
    std::abort(); // @stale
}

int
main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "main";

    std::setvbuf(stdout, nullptr, _IONBF, 0);
    std::printf("cxx_uncaught: %s\n", mode);
    if (std::strcmp(mode, "thread") == 0) {
        std::thread t(worker);
        t.join();
    } else if (std::strcmp(mode, "custom") == 0) {
        fail_hard(2); // @call_custom
    } else if (std::strcmp(mode, "stale") == 0) {
        return caught_then_abort(); // @call_stale
    } else {
        fail_hard(1); // @call_main
    }
    return 0;
}
