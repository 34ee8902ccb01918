/* test_index: the per-module symbol index (symbol/index.c, blocks.c,
 * elf_syms.c) against independent readers of the same files.
 *
 * - Inlined calls: for every byte of every unit's address ranges in
 *   tests/unit/index/nest.c (nested inlined calls) and in a shared object
 *   of real sources (common/, symbol/names.c, rust_demangle.c), built by
 *   gcc and clang -O2 with DWARF 4 and 5, the functions the index finds,
 *   innermost first, are those llvm-symbolizer --inlines prints: the same
 *   names (btc_unwind_die_name with btc_index_scopes, as symbolize.c names
 *   frames) and the same depth. The same at every line-table row of
 *   Debian's /usr/bin/python3.11 (gcc -O3 -flto; python3.11-dbg), whose
 *   inlined calls' origins are in other units. llvm-symbolizer is run once
 *   per program, all addresses on its stdin, with --functions=short: its
 *   default takes the outermost function's name from the ELF symbol
 *   (konst.part.0 for DWARF's konst). A name the index takes from
 *   DW_AT_linkage_name (gcc's clones, pytime_fromtimespec.isra.0, which
 *   gdb shows too) is accepted where the DIE's DW_AT_name is
 *   llvm-symbolizer's.
 * - ELF symbols: tests/unit/index/aliases.s (aliases at one address of
 *   types FUNC, OBJECT and NOTYPE, global, weak and local, sized and
 *   sizeless, symbols inside others) at every address, against
 *   dwfl_module_addrinfo, and the index's own rule where they part: of a
 *   start's names of one type the last in strcmp order, as gdb shows them.
 * - Degenerate input: a unit with no code, code in no unit, an address in
 *   no module; hand-written DWARF (tests/unit/index/hostile.s) whose
 *   inlined calls' ranges overlap, lie outside their parent's, are empty,
 *   or run past the unit's end. */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "index.h"
#include "names.h"

#ifndef MAX_SHOWN
#define MAX_SHOWN 20
#endif

struct session {
    Dwfl *dwfl;
    Dwfl_Module *mod;
    Dwarf_Addr bias;
    struct btc_index *ix;
};

static void
open_session(const char *path, struct session *s)
{
    static const Dwfl_Callbacks callbacks = {
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
    };

    if (access(path, R_OK) != 0)
        fail_msg("%s: %s (built with the tests, target index_progs)", path, strerror(errno));
    s->dwfl = dwfl_begin(&callbacks);
    assert_non_null(s->dwfl);
    s->mod = dwfl_report_offline(s->dwfl, "prog", path, -1);
    assert_non_null(s->mod);
    assert_int_equal(dwfl_report_end(s->dwfl, NULL, NULL), 0);
    s->bias = 0;
    assert_int_equal(btc_index_new(s->dwfl, &s->ix), 0);
}

static void
close_session(struct session *s)
{
    btc_index_free(s->ix);
    dwfl_end(s->dwfl);
}

static int
index_scopes(void *arg, Dwarf_Die *die, Dwarf_Die **ret)
{
    return btc_index_scopes(arg, die, ret);
}

/* Every DWARF address of every code unit's ranges, sorted, unique. */
struct addrs {
    Dwarf_Addr *v;
    size_t n, cap;
};

static void
addrs_push(struct addrs *a, Dwarf_Addr x)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4096;
        a->v = realloc(a->v, a->cap * sizeof(*a->v));
        assert_non_null(a->v);
    }
    a->v[a->n++] = x;
}

static int
cmp_addr(const void *x, const void *y)
{
    Dwarf_Addr a = *(const Dwarf_Addr *)x, b = *(const Dwarf_Addr *)y;

    return a < b ? -1 : a > b;
}

static void
unit_addrs(struct session *s, struct addrs *out)
{
    Dwarf_Addr bias;
    Dwarf *dw = dwfl_module_getdwarf(s->mod, &bias);
    Dwarf_CU *cu = NULL, *next;
    Dwarf_Die cudie;
    uint8_t type;
    size_t k = 0;

    assert_non_null(dw);
    s->bias = bias;
    while (dwarf_get_units(dw, cu, &next, NULL, &type, &cudie, NULL) == 0) {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;

        cu = next;
        while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0)
            for (Dwarf_Addr a = lo; a < hi; a++)
                addrs_push(out, a);
    }
    qsort(out->v, out->n, sizeof(*out->v), cmp_addr);
    for (size_t i = 0; i < out->n; i++)
        if (k == 0 || out->v[k - 1] != out->v[i])
            out->v[k++] = out->v[i];
    out->n = k;
}

/* Every address of a line-table row (not an end of sequence) of every
 * unit: where a debugger may stop. */
static void
line_addrs(struct session *s, struct addrs *out)
{
    Dwarf_Addr bias;
    Dwarf *dw = dwfl_module_getdwarf(s->mod, &bias);
    Dwarf_CU *cu = NULL, *next;
    Dwarf_Die cudie;
    uint8_t type;
    size_t k = 0;

    assert_non_null(dw);
    s->bias = bias;
    while (dwarf_get_units(dw, cu, &next, NULL, &type, &cudie, NULL) == 0) {
        Dwarf_Lines *lines;
        size_t n;

        cu = next;
        if (dwarf_getsrclines(&cudie, &lines, &n) != 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            Dwarf_Line *l = dwarf_onesrcline(lines, i);
            Dwarf_Addr a;
            bool end = false;

            if (l && dwarf_lineaddr(l, &a) == 0 && dwarf_lineendsequence(l, &end) == 0 && !end)
                addrs_push(out, a);
        }
    }
    qsort(out->v, out->n, sizeof(*out->v), cmp_addr);
    for (size_t i = 0; i < out->n; i++)
        if (k == 0 || out->v[k - 1] != out->v[i])
            out->v[k++] = out->v[i];
    out->n = k;
}

/* llvm-symbolizer's answer for one address: its frames' function names,
 * innermost first ("??" for none). */
struct ref {
    char **names;
    size_t n;
};

static char *
read_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);

    if (len < 0) {
        free(line);
        return NULL;
    }
    if (len > 0 && line[len - 1] == '\n')
        line[len - 1] = '\0';
    return line;
}

static struct ref *
run_symbolizer(const char *path, const struct addrs *a)
{
    char tmpl[] = "/tmp/test_index.XXXXXX", cmd[8192];
    int fd = mkstemp(tmpl);
    FILE *in, *out;
    struct ref *refs = calloc(a->n, sizeof(*refs));

    assert_true(fd >= 0);
    assert_non_null(refs);
    in = fdopen(fd, "w");
    assert_non_null(in);
    for (size_t i = 0; i < a->n; i++)
        fprintf(in, "0x%" PRIx64 "\n", (uint64_t)a->v[i]);
    assert_int_equal(fclose(in), 0);
    snprintf(cmd, sizeof(cmd), "'%s' --inlines --functions=short --obj='%s' < %s",
             BTC_LLVM_SYMBOLIZER, path, tmpl);
    out = popen(cmd, "r");
    assert_non_null(out);
    for (size_t i = 0; i < a->n; i++) {
        char *fn, *loc;

        /* Pairs of lines, function then file:line:column, an empty line
         * after each address's. */
        while ((fn = read_line(out)) && *fn) {
            loc = read_line(out);
            assert_non_null(loc);
            free(loc);
            refs[i].names = realloc(refs[i].names, (refs[i].n + 1) * sizeof(char *));
            assert_non_null(refs[i].names);
            refs[i].names[refs[i].n++] = fn;
        }
        if (!fn)
            fail_msg("llvm-symbolizer ended at address %zu of %zu", i, a->n);
        free(fn);
    }
    assert_int_equal(pclose(out), 0);
    unlink(tmpl);
    return refs;
}

static void
free_refs(struct ref *refs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < refs[i].n; k++)
            free(refs[i].names[k]);
        free(refs[i].names);
    }
    free(refs);
}

/* The levels symbolize.c shows: the inlined calls, then the function. */
static size_t
shown_levels(const struct btc_index_at *at)
{
    size_t n = 0;

    while (n < at->nlevels) {
        if (dwarf_tag((Dwarf_Die *)&at->level[n++]) != DW_TAG_inlined_subroutine)
            break;
    }
    return n;
}

struct counts {
    size_t addrs, levels, max_depth, mismatches, by_linkage;
};

/* Whether the index named @die by its DW_AT_linkage_name, @name, where
 * llvm-symbolizer --functions=short names it by its DW_AT_name, @ref: gcc
 * gives its clones one (pytime_fromtimespec.isra.0, as gdb shows it), and
 * so does glibc's fortified open (open64). */
static bool
linkage_named(Dwarf_Die *die, const char *name, const char *ref)
{
    Dwarf_Attribute attr;
    const char *linkage = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    const char *plain = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));

    return linkage && plain && strcmp(linkage, name) == 0 && strcmp(plain, ref) == 0;
}

static void
compare_one(struct session *s, Dwarf_Addr a, const struct ref *ref, struct btc_index_at *at,
            struct counts *c)
{
    size_t n;
    bool same;
    char *names[BTC_INDEX_MAX_LEVELS];

    assert_int_equal(btc_index_lookup(s->ix, a + s->bias, at), 0);
    assert_ptr_equal(at->mod, s->mod);
    n = shown_levels(at);
    for (size_t k = 0; k < n; k++) {
        names[k] = NULL;
        assert_int_equal(btc_unwind_die_name(&at->level[k], index_scopes, s->ix, &names[k]), 0);
    }
    /* No function: llvm-symbolizer prints one frame named "??". */
    if (n == 0)
        same = ref->n == 1 && strcmp(ref->names[0], "??") == 0;
    else
        same = ref->n == n;
    for (size_t k = 0; same && k < n; k++) {
        same = names[k] && strcmp(names[k], ref->names[k]) == 0;
        if (!same && names[k] && linkage_named(&at->level[k], names[k], ref->names[k])) {
            same = true;
            c->by_linkage++;
        }
    }
    c->addrs++;
    c->levels += n;
    if (n > c->max_depth)
        c->max_depth = n;
    if (!same && c->mismatches++ < MAX_SHOWN) {
        fprintf(stderr, "0x%" PRIx64 ": index", (uint64_t)a);
        for (size_t k = 0; k < n; k++)
            fprintf(stderr, " %s", names[k] ? names[k] : "(null)");
        fprintf(stderr, "; llvm-symbolizer");
        for (size_t k = 0; k < ref->n; k++)
            fprintf(stderr, " %s", ref->names[k]);
        fprintf(stderr, "\n");
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
}

/* The whole comparison for the program @path (whose DWARF llvm-symbolizer
 * reads from @refpath), at every byte of its units or, @rows, at every
 * line-table row; @min_depth: the deepest nesting it must reach, so that
 * a program built without inlining fails. */
static void
compare_file(const char *path, const char *refpath, bool rows, size_t min_depth)
{
    struct session s;
    struct addrs a = {0};
    struct ref *refs;
    struct counts c = {0};
    struct btc_index_at *at = malloc(sizeof(*at));

    assert_non_null(at);
    open_session(path, &s);
    if (rows)
        line_addrs(&s, &a);
    else
        unit_addrs(&s, &a);
    assert_true(a.n > 0);
    refs = run_symbolizer(refpath ? refpath : path, &a);
    for (size_t i = 0; i < a.n; i++)
        compare_one(&s, a.v[i], &refs[i], at, &c);
    fprintf(stderr,
            "%s: %zu addresses, %zu levels, deepest %zu, %zu named by DW_AT_linkage_name, %zu "
            "mismatches\n",
            path, c.addrs, c.levels, c.max_depth, c.by_linkage, c.mismatches);
    assert_int_equal(c.mismatches, 0);
    assert_true(c.max_depth >= min_depth);
    free_refs(refs, a.n);
    free(a.v);
    free(at);
    close_session(&s);
}

/* nest.c: entry's deep1 → deep2 → deep3 → deep4 → leaf are always inlined. */
static void
compare_program(const char *name, size_t min_depth)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", BTC_INDEX_PROGS, name);
    compare_file(path, NULL, false, min_depth);
}

/* Debian's /usr/bin/python3.11, gcc -O3 -flto: its inlined calls' DIEs
 * refer to abstract origins in other (early-debug) units. Its DWARF is
 * in python3.11-dbg (.ci/packages), found by build id. */
static void
test_python_lto(void **state)
{
    static const Dwfl_Callbacks callbacks = {
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
    };
    const char *exe = "/usr/bin/python3.11", *debugfile = NULL;
    char dbg[4096];
    Dwarf_Addr bias;
    Dwfl *dwfl;
    Dwfl_Module *mod;

    (void)state;
    if (access(exe, R_OK) != 0) {
        fprintf(stderr, "%s is not installed\n", exe);
        skip();
    }
    dwfl = dwfl_begin(&callbacks);
    assert_non_null(dwfl);
    mod = dwfl_report_offline(dwfl, "python", exe, -1);
    assert_non_null(mod);
    assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
    if (!dwfl_module_getdwarf(mod, &bias))
        fail_msg("%s has no DWARF: install python3.11-dbg", exe);
    dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, &debugfile);
    assert_non_null(debugfile);
    snprintf(dbg, sizeof(dbg), "%s", debugfile);
    dwfl_end(dwfl);
    compare_file(exe, dbg, true, 8);
}

static void
test_nest_gcc4(void **state)
{
    (void)state;
    compare_program("gcc4/nest", 6);
}

static void
test_nest_gcc5(void **state)
{
    (void)state;
    compare_program("gcc5/nest", 6);
}

static void
test_nest_clang4(void **state)
{
    (void)state;
    compare_program("clang4/nest", 6);
}

static void
test_nest_clang5(void **state)
{
    (void)state;
    compare_program("clang5/nest", 6);
}

static void
test_lib_gcc4(void **state)
{
    (void)state;
    compare_program("gcc4/lib.so", 3);
}

static void
test_lib_gcc5(void **state)
{
    (void)state;
    compare_program("gcc5/lib.so", 3);
}

static void
test_lib_clang4(void **state)
{
    (void)state;
    compare_program("clang4/lib.so", 3);
}

static void
test_lib_clang5(void **state)
{
    (void)state;
    compare_program("clang5/lib.so", 3);
}

/* A unit with no code (data_only.c), code in no unit (nodebug.c, built
 * without -g) and an address in no module. */
static void
test_degenerate(void **state)
{
    char path[4096];
    struct session s;
    struct btc_index_at *at = malloc(sizeof(*at));
    Dwarf_Addr addr, start;
    const char *name;
    GElf_Sym sym;
    GElf_Off off;
    Dwarf_Addr lo, hi;
    bool found_table = false;

    (void)state;
    assert_non_null(at);
    snprintf(path, sizeof(path), "%s/gcc5/nest", BTC_INDEX_PROGS);
    open_session(path, &s);
    dwfl_module_info(s.mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);

    /* Code without DWARF: no unit, no level, but its ELF symbol. */
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "btc_index_nodebug", &addr), 1);
    assert_int_equal(btc_index_lookup(s.ix, addr + 1, at), 0);
    assert_ptr_equal(at->mod, s.mod);
    assert_false(at->has_unit);
    assert_int_equal(at->nlevels, 0);
    assert_int_equal(btc_index_symbol(s.ix, s.mod, addr + 1, &name, &start), 1);
    assert_string_equal(name, "btc_index_nodebug");
    assert_true(start == addr);

    /* The data of a unit without code: no unit claims its address. */
    for (int i = 0; i < dwfl_module_getsymtab(s.mod); i++) {
        const char *n = dwfl_module_getsym_info(s.mod, i, &sym, &addr, NULL, NULL, NULL);

        if (!n || strcmp(n, "btc_index_table") != 0)
            continue;
        found_table = true;
        assert_int_equal(btc_index_lookup(s.ix, addr + 4, at), 0);
        assert_ptr_equal(at->mod, s.mod);
        assert_false(at->has_unit);
        assert_int_equal(at->nlevels, 0);
        assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "btc_index_table", &start), 0);
    }
    assert_true(found_table);

    /* Outside the module, below and above. */
    assert_int_equal(btc_index_lookup(s.ix, hi + 0x10000, at), 0);
    assert_null(at->mod);
    assert_false(at->has_unit);
    assert_int_equal(at->nlevels, 0);
    if (lo > 0) {
        assert_int_equal(btc_index_lookup(s.ix, lo - 1, at), 0);
        assert_null(at->mod);
    }
    (void)off;
    free(at);
    close_session(&s);
}

/* aliases.s: the index's symbol at every address of its .text against
 * dwfl_module_addrinfo, and the expected name, which is libdwfl's except
 * where the index picks among aliases of one start and type. */
struct expect {
    Dwarf_Addr from, to; /* offsets from zeta, [from, to) */
    const char *name;    /* NULL: none */
    const char *dwfl;    /* dwfl_module_addrinfo's choice where it differs */
};

static const struct expect aliases_expect[] = {
    /* FUNCs alpha (weak), mid_local (local), zeta (global) of 16 bytes, a
     * 32-byte OBJECT and a NOTYPE label: the last FUNC by name. libdwfl
     * takes the global one, which is zeta too. */
    {0x00, 0x10, "zeta", NULL},
    /* Past the FUNCs' size, inside obj_a's 32 bytes: obj_a holds it. */
    {0x10, 0x20, "obj_a", NULL},
    /* A sizeless label no sized symbol covers. */
    {0x20, 0x30, "gap_label", NULL},
    /* big holds inner_small and the label inner_label: the closest sized
     * symbol that holds the address, as gdb shows it. libdwfl prefers the
     * global big to the closer local inner_small. */
    {0x30, 0x38, "big", NULL},
    {0x38, 0x40, "inner_small", "big"},
    {0x40, 0x50, "big", NULL},
    /* Only sizeless names: the FUNC among NOTYPEs. */
    {0x50, 0x60, "fn_sizeless", NULL},
    {0x60, 0x68, "data_only", NULL},
    /* Past data_only's 8 bytes, before data_sizeless: nothing. */
    {0x68, 0x70, NULL, NULL},
    {0x70, 0x78, "data_sizeless", NULL},
    /* Two global FUNCs: the last by name, as gdb shows them (clone3 over
     * __clone3); libdwfl takes the first in the symbol table. */
    {0x78, 0x80, "e_late", "e_early"},
    {0x80, 0x81, "end_marker", NULL},
};

static void
test_aliases(void **state)
{
    char path[4096];
    struct session s;
    Dwarf_Addr base, addr;
    size_t checked = 0, differ = 0;

    (void)state;
    snprintf(path, sizeof(path), "%s/aliases.so", BTC_INDEX_PROGS);
    open_session(path, &s);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "zeta", &base), 1);
    for (size_t i = 0; i < sizeof(aliases_expect) / sizeof(aliases_expect[0]); i++) {
        const struct expect *e = &aliases_expect[i];

        for (Dwarf_Addr a = base + e->from; a < base + e->to; a++) {
            const char *name = NULL, *dname;
            Dwarf_Addr start = 0;
            GElf_Off off;
            GElf_Sym sym;
            int r = btc_index_symbol(s.ix, s.mod, a, &name, &start);

            dname = dwfl_module_addrinfo(s.mod, a, &off, &sym, NULL, NULL, NULL);
            if (!e->name) {
                assert_int_equal(r, 0);
            } else {
                assert_int_equal(r, 1);
                if (strcmp(name, e->name) != 0)
                    fail_msg("+0x%" PRIx64 ": %s, expected %s", (uint64_t)(a - base), name,
                             e->name);
                assert_true(start <= a);
            }
            /* libdwfl agrees, except where listed. */
            if (e->dwfl) {
                assert_non_null(dname);
                assert_string_equal(dname, e->dwfl);
                differ++;
            } else if (!e->name) {
                assert_null(dname);
            } else {
                assert_non_null(dname);
                if (strcmp(dname, e->name) != 0)
                    fail_msg("+0x%" PRIx64 ": libdwfl %s, expected %s", (uint64_t)(a - base), dname,
                             e->name);
                assert_true(a - off == start);
            }
            checked++;
        }
    }
    fprintf(stderr, "aliases.so: %zu addresses, %zu where libdwfl's alias differs\n", checked,
            differ);

    /* Functions by name: FUNCs of every binding; not OBJECT or NOTYPE. */
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "alpha", &addr), 1);
    assert_true(addr == base);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "mid_local", &addr), 1);
    assert_true(addr == base);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "inner_small", &addr), 1);
    assert_true(addr == base + 0x38);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "fn_sizeless", &addr), 1);
    assert_true(addr == base + 0x50);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "obj_a", &addr), 0);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "label_a", &addr), 0);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "nt_b", &addr), 0);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "no_such_symbol", &addr), 0);
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "", &addr), 0);
    close_session(&s);
}

/* hostile.s: inlined calls whose ranges do not nest. Every address of
 * the function gets a chain whose innermost level holds it, ending at the
 * function where the DWARF's nesting allows; llvm-symbolizer's answer,
 * where it is the sensible one, is the expectation. */
struct hostile_expect {
    Dwarf_Addr from, to;  /* offsets from hostile, [from, to) */
    const char *chain[4]; /* innermost first */
};

static const struct hostile_expect hostile_expect[] = {
    {0, 8, {"hostile"}},
    {8, 12, {"a", "hostile"}},
    {12, 20, {"a_in", "a", "hostile"}},
    {20, 32, {"a", "hostile"}},
    /* b starts inside a, and ends after it: b, the later start. */
    {32, 48, {"b", "hostile"}},
    {48, 50, {"hostile"}},
    /* a_out, a child of a outside a's range: a tree of its own. */
    {50, 56, {"a_out"}},
    {56, 60, {"hostile"}},
    {60, 70, {"c", "hostile"}},
    /* empty's empty range holds nothing. */
    {70, 100, {"hostile"}},
    /* orphan, in a function without code: a tree of its own. */
    {100, 104, {"orphan"}},
    {104, 112, {"hostile"}},
    {112, 128, {"huge", "hostile"}},
};

static void
test_hostile(void **state)
{
    char path[4096];
    struct session s;
    struct btc_index_at *at = malloc(sizeof(*at));
    Dwarf_Addr base;
    size_t checked = 0;

    (void)state;
    assert_non_null(at);
    snprintf(path, sizeof(path), "%s/hostile.so", BTC_INDEX_PROGS);
    open_session(path, &s);
    assert_non_null(dwfl_module_getdwarf(s.mod, &s.bias));
    assert_int_equal(btc_index_symbol_named(s.ix, s.mod, "hostile", &base), 1);
    for (size_t i = 0; i < sizeof(hostile_expect) / sizeof(hostile_expect[0]); i++) {
        const struct hostile_expect *e = &hostile_expect[i];

        for (Dwarf_Addr a = base + e->from; a < base + e->to; a++) {
            size_t n = 0;

            assert_int_equal(btc_index_lookup(s.ix, a, at), 0);
            assert_true(at->has_unit);
            while (n < 4 && e->chain[n])
                n++;
            for (size_t k = 0; k < at->nlevels || k < n; k++) {
                char *name = NULL;

                if (k < at->nlevels)
                    assert_int_equal(btc_unwind_die_name(&at->level[k], index_scopes, s.ix, &name),
                                     0);
                if (k >= n || k >= at->nlevels || !name || strcmp(name, e->chain[k]) != 0)
                    fail_msg("hostile+%" PRIu64 ": level %zu is %s, expected %s",
                             (uint64_t)(a - base), k, name ? name : "(none)",
                             k < n ? e->chain[k] : "(none)");
                free(name);
            }
            /* The innermost level holds the address. */
            assert_int_equal(dwarf_haspc(&at->level[0], a - s.bias), 1);
            checked++;
        }
    }
    /* Past the unit's end, though huge's range goes on: no unit. */
    assert_int_equal(btc_index_lookup(s.ix, base + 200, at), 0);
    assert_int_equal(at->nlevels, 0);
    fprintf(stderr, "hostile.so: %zu addresses\n", checked);
    free(at);
    close_session(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aliases),     cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_hostile),     cmocka_unit_test(test_nest_gcc4),
        cmocka_unit_test(test_nest_gcc5),   cmocka_unit_test(test_nest_clang4),
        cmocka_unit_test(test_nest_clang5), cmocka_unit_test(test_lib_gcc4),
        cmocka_unit_test(test_lib_gcc5),    cmocka_unit_test(test_lib_clang4),
        cmocka_unit_test(test_lib_clang5),  cmocka_unit_test(test_python_lto),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
