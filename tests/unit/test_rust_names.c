/* test_rust_names: functions of rustc-built programs named from their DWARF
 * (btc_unwind_die_name) as gdb 13 names them: the enclosing namespaces and
 * DW_AT_name, which for Rust already holds the generic arguments
 * ("generic_level<i32>") and closures' indices ("{closure#0}"). The DIEs
 * are found here by walking each unit's tree, namespaces included, not
 * through libdw's dwarf_getscopes (which prunes a namespace, having no pc
 * range, before reaching the functions in it). The programs are
 * tests/integration's rust_fault builds; the expected names are those gdb
 * prints in `bt` for them (test_crashes.py compares them too). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dwarf.h>
#include <elfutils/libdw.h>

#include "names.h"

#define MAX_NAMES  4096
#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct names {
    char *v[MAX_NAMES];
    size_t n;
};

/* Whether @die's own DW_AT_name (or its abstract origin's) ends one of
 * @want: naming every function of a program would take long (each name
 * walks its unit from the top). */
static bool
may_be_wanted(Dwarf_Die *die, const char *const *want, size_t nwant)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    size_t n = name ? strlen(name) : 0;

    for (size_t i = 0; name && i < nwant; i++) {
        size_t w = strlen(want[i]);

        if (w >= n && strcmp(want[i] + w - n, name) == 0)
            return true;
    }
    return false;
}

static void
collect(Dwarf_Die *parent, int want_tag, const char *const *want, size_t nwant, struct names *out,
        int depth)
{
    Dwarf_Die child;

    if (depth > 64 || dwarf_child(parent, &child) != 0)
        return;
    do {
        int tag = dwarf_tag(&child);

        if (tag == want_tag && out->n < MAX_NAMES && may_be_wanted(&child, want, nwant)) {
            char *name = NULL;

            assert_int_equal(btc_unwind_die_name(&child, NULL, NULL, &name), 0);
            if (name)
                out->v[out->n++] = name;
        }
        if (dwarf_haschildren(&child))
            collect(&child, want_tag, want, nwant, out, depth + 1);
    } while (dwarf_siblingof(&child, &child) == 0);
}

/* The names of @prog's concrete subprograms (or inlined calls) that may be
 * among @want. */
static void
load(const char *prog, int tag, const char *const *want, size_t nwant, struct names *out)
{
    char path[4096];
    Dwarf *dw;
    Dwarf_Off off = 0, next;
    size_t hsize;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", BTC_RUST_PROGS, prog);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail_msg("%s: %s (built by tests/integration with /usr/bin/rustc)", path, strerror(errno));
    dw = dwarf_begin(fd, DWARF_C_READ);
    assert_non_null(dw);
    out->n = 0;
    while (dwarf_nextcu(dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
        Dwarf_Die cu;

        if (dwarf_offdie(dw, off + hsize, &cu))
            collect(&cu, tag, want, nwant, out, 0);
        off = next;
    }
    dwarf_end(dw);
    close(fd);
}

static void
assert_has(const struct names *names, const char *want)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->v[i], want) == 0)
            return;
    fail_msg("no function named %s among %zu", want, names->n);
}

static void
free_names(struct names *names)
{
    for (size_t i = 0; i < names->n; i++)
        free(names->v[i]);
    names->n = 0;
}

static struct names g_names;

/* -O0: what gdb's `bt` shows for rust_fault and rust_fault_v0 (the v0
 * build's linkage names differ, its DWARF names do not). */
static void
test_subprograms(void **state)
{
    static const char *const progs[] = {"rust_fault", "rust_fault_v0"};
    static const char *const want[] = {
        "core::ptr::write_volatile<i32>",
        "rust_fault::generic_level<i32>",
        "rust_fault::with_closure::{closure#0}",
        "rust_fault::call_with<rust_fault::with_closure::{closure_env#0}>",
        "rust_fault::with_closure",
        "rust_fault::level1",
        "rust_fault::main",
        /* std's generic code instantiated in the program. */
        "std::rt::lang_start::{closure#0}<()>",
        "std::rt::lang_start<()>",
    };

    (void)state;
    for (size_t p = 0; p < N_ELEMS(progs); p++) {
        load(progs[p], DW_TAG_subprogram, want, N_ELEMS(want), &g_names);
        for (size_t i = 0; i < N_ELEMS(want); i++)
            assert_has(&g_names, want[i]);
        free_names(&g_names);
    }
}

/* -O2: inlined calls are named by their abstract origin, which sits in its
 * own namespaces (core::ptr for write_volatile). */
static void
test_inlined(void **state)
{
    static const char *const want[] = {
        "rust_fault::inner_store",
        "rust_fault::outer_store",
        "core::ptr::write_volatile<i32>",
    };

    (void)state;
    load("rust_fault_o2", DW_TAG_inlined_subroutine, want, N_ELEMS(want), &g_names);
    for (size_t i = 0; i < N_ELEMS(want); i++)
        assert_has(&g_names, want[i]);
    free_names(&g_names);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subprograms),
        cmocka_unit_test(test_inlined),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
