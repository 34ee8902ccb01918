/* fuzz: the entry point every target in tests/fuzz defines, for libFuzzer
 * (clang, BTCRASH_FUZZ) and for replay.c, which feeds it the files kept
 * under corpus/ and regressions/ in every build. */
#ifndef BTCRASH_FUZZ_H
#define BTCRASH_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant: say which, and abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond);                                                  \
    } while (0)

_Noreturn void fuzz_fail(const char *file, int line, const char *what);

#endif
