/* btcrash: crash reporting for native Linux programs.
 *
 * Preloading libbtcrash.so (LD_PRELOAD) is the whole integration for crash
 * reports; see README.md. This header is the library's public C API. */
#ifndef BTCRASH_H
#define BTCRASH_H

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BTCRASH_BUILDING_LIBRARY)
#define BTCRASH_API __attribute__((visibility("default")))
#else
#define BTCRASH_API
#endif

/**
 * The library's version, e.g. "0.1.0".
 *
 * Returns: a static string; never NULL. Thread-safe.
 */
BTCRASH_API const char *btcrash_version(void);

#ifdef __cplusplus
}
#endif

#endif
