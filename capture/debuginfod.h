/* debuginfod: missing debug files fetched by build-id from the servers of
 * DEBUGINFOD_URLS, through elfutils' libdebuginfod, within a deadline.
 * Each fetch runs in a child process ("btcrash __debuginfod-fetch ID",
 * which loads libdebuginfod.so.1 and writes its client cache), killed at
 * the deadline: no server, however slow or silent, holds the helper past
 * it, and nothing of libcurl stays in the helper. libdebuginfod looks in
 * its client cache first, so the next crash of the same build asks no
 * server. Helper process (and the child). */
#ifndef BTCRASH_CAPTURE_DEBUGINFOD_H
#define BTCRASH_CAPTURE_DEBUGINFOD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct btc_debuginfod;

/* The hidden command the helper spawns itself as, for one fetch. */
#define BTC_DEBUGINFOD_FETCH_MODE "__debuginfod-fetch"

/* The most fetches at once; a module past them keeps its raw frames. */
#define BTC_DEBUGINFOD_MAX_FETCHES 8

/**
 * Fetches from @urls (DEBUGINFOD_URLS' value), each abandoned at
 * @deadline_ns (CLOCK_MONOTONIC), by children that run @self (the
 * helper's argv[0]) when it is an absolute path, else /proc/self/exe:
 * under a wrapper such as valgrind, /proc/self/exe is the wrapper's. @urls
 * NULL or blank: *@ret is NULL, there is nothing to fetch from. With
 * @debug, the children's stderr is the helper's.
 * Returns: 0, or -ENOMEM.
 */
int btc_debuginfod_new(const char *urls, const char *self, int64_t deadline_ns, bool debug,
                       struct btc_debuginfod **ret);

/**
 * Start fetching the debug file of build-id @id, unless a fetch of it
 * started already.
 * Returns: 1 when one is under way or done, 0 when none could start
 *          (BTC_DEBUGINFOD_MAX_FETCHES, no process), -ENOMEM.
 */
int btc_debuginfod_find(struct btc_debuginfod *d, const void *id, size_t id_len);

/** Whether the fetch for @id is still under way (it never waits). */
bool btc_debuginfod_pending(struct btc_debuginfod *d, const void *id, size_t id_len);

/**
 * The fetched debug file of @id, waiting for its fetch until the deadline
 * at the latest (then the child is killed). The file must be a regular
 * file of the effective uid, not reached through a symlink, carrying
 * build-id @id.
 * Returns: 0, *@ret_fd (O_CLOEXEC) and *@ret_path, both the caller's;
 *          -ENOENT when it was not found (or not asked for);
 *          -ETIMEDOUT when the deadline came first; -ENOMEM.
 */
int btc_debuginfod_take(struct btc_debuginfod *d, const void *id, size_t id_len, int *ret_fd,
                        char **ret_path);

/** How many fetches the deadline cut short so far. */
size_t btc_debuginfod_abandoned(const struct btc_debuginfod *d);

/** Kill the fetches still running, reap them, free @d; accepts NULL. */
void btc_debuginfod_free(struct btc_debuginfod *d);

/**
 * The child: "__debuginfod-fetch HEX_BUILD_ID". Prints the path of the
 * file libdebuginfod found (in its cache) on stdout.
 * Returns: the exit status, 0 when found.
 */
int btc_debuginfod_child_main(int argc, char **argv);

#endif
