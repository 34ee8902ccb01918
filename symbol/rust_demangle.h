/* rust_demangle: Rust symbol names (v0 "_R..." manglings of RFC 2603 and
 * legacy "_ZN...17h<hash>E" ones) as readable paths, the way gdb and
 * rustc-demangle's alternate form show them: without crate disambiguators
 * and hashes. Helper process only (allocates). */
#ifndef BTCRASH_SYMBOL_RUST_DEMANGLE_H
#define BTCRASH_SYMBOL_RUST_DEMANGLE_H

#include <stdbool.h>

/* The longest name produced; a symbol whose name would be longer (backrefs
 * can double the output at each step) counts as malformed. */
#define BTC_RUST_DEMANGLE_MAX_OUT 16384

/**
 * Whether @sym is a legacy Rust symbol: an Itanium-style nested name whose
 * last component is the crate's hash, "17h" and 16 hex digits, then "E",
 * optionally followed by a "."-suffix (".llvm.123").
 */
bool btc_rust_is_legacy(const char *sym);

/**
 * Demangle @sym when it is a Rust symbol: a v0 mangling ("_R...") or a
 * legacy one (see btc_rust_is_legacy). Nesting is bounded, hostile input
 * is rejected rather than followed.
 *
 * Returns: 0 and *ret_name (a new string), -EINVAL when @sym is not a
 *          well-formed Rust symbol (*ret_name untouched), or -ENOMEM.
 */
int btc_rust_demangle(const char *sym, char **ret_name);

#endif
