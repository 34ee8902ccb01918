/* dlopen_fault: loads libfaulty.so (next to this executable) with dlopen and
 * calls a function in it that writes to NULL. */
#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

int
main(void)
{
    char exe[PATH_MAX], lib[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    void *h;
    void (*entry)(int *);

    if (n < 0)
        return 2;
    exe[n] = '\0';
    snprintf(lib, sizeof(lib), "%s/libfaulty.so", dirname(exe));
    h = dlopen(lib, RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen_fault: %s\n", dlerror());
        return 2;
    }
    *(void **)&entry = dlsym(h, "faulty_entry");
    if (!entry) {
        fprintf(stderr, "dlopen_fault: %s\n", dlerror());
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    puts("dlopen_fault: about to call into libfaulty.so");
    entry(NULL); /* @main */
    return 0;
}
