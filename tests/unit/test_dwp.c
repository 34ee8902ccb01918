/* symbol/dwp.c on packages built from tests/unit/dwp by gcc (DWARF 4,
 * binutils dwp; DWARF 5, llvm-dwp) and clang (the same), whose
 * .dwo files were removed after packing: every answer comes from the .dwp.
 * Addresses are checked against the executable's symbol table, lines
 * against tests/unit/dwp/prog.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "dwp.h"

struct prog {
    int fd;
    Dwarf *dw;
    char exe[512];
    char dwp[512];
};

static void
prog_open(struct prog *p, const char *name)
{
    snprintf(p->exe, sizeof(p->exe), "%s/%s/prog", BTC_DWP_PROGS, name);
    snprintf(p->dwp, sizeof(p->dwp), "%s/%s/prog.dwp", BTC_DWP_PROGS, name);
    p->fd = open(p->exe, O_RDONLY | O_CLOEXEC);
    assert_true(p->fd >= 0);
    p->dw = dwarf_begin(p->fd, DWARF_C_READ);
    assert_non_null(p->dw);
}

static void
prog_close(struct prog *p)
{
    dwarf_end(p->dw);
    close(p->fd);
}

/* The skeleton of the unit whose DW_AT_name ends in @file. */
static bool
skeleton(struct prog *p, const char *file, Dwarf_Die *ret, uint64_t *ret_id)
{
    Dwarf_CU *cu = NULL;
    uint8_t unit_type;
    Dwarf_Die cudie;

    while (dwarf_get_units(p->dw, cu, &cu, NULL, &unit_type, &cudie, NULL) == 0) {
        const char *name = dwarf_diename(&cudie);
        size_t n = strlen(file);

        /* The skeleton has no DW_AT_name; its dwo name says the file. */
        Dwarf_Attribute a;
        if (!name &&
            (dwarf_attr(&cudie, DW_AT_dwo_name, &a) || dwarf_attr(&cudie, DW_AT_GNU_dwo_name, &a)))
            name = dwarf_formstring(&a);
        if (unit_type == DW_UT_skeleton && name && strlen(name) >= n &&
            strcmp(name + strlen(name) - n, file) == 0) {
            assert_int_equal(dwarf_cu_info(cu, NULL, NULL, NULL, NULL, ret_id, NULL, NULL), 0);
            *ret = cudie;
            return true;
        }
    }
    return false;
}

static GElf_Addr
symbol_value(struct prog *p, const char *name)
{
    Elf *elf = dwarf_getelf(p->dw);
    Elf_Scn *scn = NULL;

    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *d;

        gelf_getshdr(scn, &sh);
        if (sh.sh_type != SHT_SYMTAB)
            continue;
        d = elf_getdata(scn, NULL);
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            gelf_getsym(d, (int)i, &sym);
            const char *n = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (n && strcmp(n, name) == 0)
                return sym.st_value;
        }
    }
    fail_msg("no symbol %s", name);
    return 0;
}

/* Depth-first search below @die for a DIE with @tag whose (integrated)
 * name is @name. */
static bool
find_die(Dwarf_Die *die, int tag, const char *name, Dwarf_Die *ret)
{
    Dwarf_Die child;

    if (dwarf_child(die, &child) != 0)
        return false;
    do {
        Dwarf_Attribute a;
        const char *n = dwarf_formstring(dwarf_attr_integrate(&child, DW_AT_name, &a));

        if (dwarf_tag(&child) == tag && n && strcmp(n, name) == 0) {
            *ret = child;
            return true;
        }
        if (find_die(&child, tag, name, ret))
            return true;
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
}

static bool
ends_with(const char *s, const char *suffix)
{
    return s && strlen(s) >= strlen(suffix) && !strcmp(s + strlen(s) - strlen(suffix), suffix);
}

/* The first address of @die: its low pc or the start of its first
 * non-empty range (gcc emits empty ones, e.g. [0x1150, 0x1150)). */
static Dwarf_Addr
first_pc(Dwarf_Die *die)
{
    Dwarf_Addr base, start, end;
    ptrdiff_t off = 0;

    if (dwarf_lowpc(die, &start) == 0)
        return start;
    while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0)
        if (start < end)
            return start;
    fail_msg("no range: %s", dwarf_errmsg(-1));
    return 0;
}

/* @split's ranges (through libdw's dwarf_ranges) are @skel's, non-empty. */
static void
check_same_ranges(Dwarf_Die *split, Dwarf_Die *skel)
{
    Dwarf_Addr base, s1, e1, s2, e2;
    ptrdiff_t o1 = 0, o2 = 0;
    int n = 0;

    for (;;) {
        do
            o1 = dwarf_ranges(split, o1, &base, &s1, &e1);
        while (o1 > 0 && s1 == e1);
        do
            o2 = dwarf_ranges(skel, o2, &base, &s2, &e2);
        while (o2 > 0 && s2 == e2);
        assert_true(o1 >= 0 && o2 >= 0);
        assert_int_equal(o1 > 0, o2 > 0);
        if (o1 == 0)
            break;
        assert_int_equal(s1, s2);
        assert_int_equal(e1, e2);
        n++;
    }
    assert_true(n > 0);
}

/* Open file descriptors, and how many of them are not close-on-exec. */
static int
count_fds(int *ret_inherited)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    *ret_inherited = 0;
    while ((e = readdir(d))) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        n++;
        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            (*ret_inherited)++;
    }
    closedir(d);
    return n;
}

static void
check_package(const char *name, const char *producer)
{
    struct prog p;
    struct btc_dwp *dwp;
    Dwarf_Die skel, skel2, cu, cu2, outer, inlined, other, origin, *scopes;
    Dwarf_Attribute a;
    Dwarf *dw, *dw2;
    Dwarf_Lines *lines;
    Dwarf_Line *line;
    Dwarf_Word call_line;
    Dwarf_Addr pc, outer_pc;
    uint64_t id;
    size_t nlines;
    int nscopes, lineno, fds, inherited, inherited2;

    prog_open(&p, name);
    fds = count_fds(&inherited);
    assert_int_equal(btc_dwp_open(p.dwp, &dwp), 0);

    /* prog.c's unit with other.c's skeleton: refused (it would take the
     * addresses of the wrong unit). */
    assert_true(skeleton(&p, "other.dwo", &skel, &id));
    assert_true(skeleton(&p, "prog.dwo", &skel2, &id));
    assert_int_equal(btc_dwp_unit(dwp, id, &skel, &dw, &cu), -EINVAL);

    /* prog.c: functions, strings, addresses through the skeleton. */
    assert_true(skeleton(&p, "prog.dwo", &skel, &id));
    assert_int_equal(btc_dwp_unit(dwp, id, &skel, &dw, &cu), 0);
    assert_true(ends_with(dwarf_diename(&cu), "prog.c"));
    assert_non_null(strstr(dwarf_formstring(dwarf_attr(&cu, DW_AT_producer, &a)), producer));
    assert_true(find_die(&cu, DW_TAG_subprogram, "dwp_outer", &outer));
    assert_true(dwarf_hasattr(&outer, DW_AT_low_pc));
    outer_pc = first_pc(&outer);
    assert_int_equal(outer_pc, symbol_value(&p, "dwp_outer"));
    assert_true(ends_with(dwarf_decl_file(&outer), "prog.c"));
    assert_int_equal(dwarf_decl_line(&outer, &lineno), 0);
    assert_int_equal(lineno, 14);

    /* The unit's code: the split unit's ranges are the skeleton's. */
    check_same_ranges(&cu, &skel);
    assert_int_equal(dwarf_haspc(&cu, outer_pc), 1);

    /* The inlined call: origin, call site, scopes by pc (its ranges). */
    assert_true(find_die(&outer, DW_TAG_inlined_subroutine, "dwp_inner", &inlined));
    assert_non_null(dwarf_formref_die(dwarf_attr(&inlined, DW_AT_abstract_origin, &a), &origin));
    assert_string_equal(dwarf_diename(&origin), "dwp_inner");
    assert_int_equal(dwarf_formudata(dwarf_attr(&inlined, DW_AT_call_line, &a), &call_line), 0);
    assert_int_equal(call_line, 16);
    {
        Dwarf_Files *files;
        Dwarf_Word idx;
        size_t nfiles;
        assert_int_equal(dwarf_formudata(dwarf_attr(&inlined, DW_AT_call_file, &a), &idx), 0);
        assert_int_equal(dwarf_getsrcfiles(&cu, &files, &nfiles), 0);
        assert_true(idx < nfiles);
        assert_true(ends_with(dwarf_filesrc(files, idx, NULL, NULL), "prog.c"));
    }
    pc = first_pc(&inlined);
    /* By pc: the inlined instance, then (libdw's way, as on a build
     * without split DWARF) the scopes of its abstract origin: the CU. */
    assert_int_equal(dwarf_haspc(&outer, pc), 1);
    nscopes = dwarf_getscopes(&cu, pc, &scopes);
    assert_int_equal(nscopes, 2);
    assert_int_equal(dwarf_tag(&scopes[0]), DW_TAG_inlined_subroutine);
    assert_string_equal(dwarf_diename(&scopes[0]), "dwp_inner");
    assert_int_equal(dwarf_tag(&scopes[1]), DW_TAG_compile_unit);
    assert_true(ends_with(dwarf_diename(&scopes[1]), "prog.c"));
    free(scopes);
    nscopes = dwarf_getscopes_die(&inlined, &scopes);
    assert_true(nscopes >= 3);
    assert_int_equal(dwarf_dieoffset(&scopes[1]), dwarf_dieoffset(&outer));
    free(scopes);

    /* Line table: the skeleton's line program, reached from the split. */
    assert_int_equal(dwarf_getsrclines(&cu, &lines, &nlines), 0);
    assert_true(nlines > 4);
    line = dwarf_getsrc_die(&cu, pc);
    assert_non_null(line);
    assert_int_equal(dwarf_lineno(line, &lineno), 0);
    assert_int_equal(lineno, 10);
    assert_true(ends_with(dwarf_linesrc(line, NULL, NULL), "prog.c"));

    /* The same unit again is the same unit. */
    assert_int_equal(btc_dwp_unit(dwp, id, &skel, &dw2, &cu2), 0);
    assert_ptr_equal(dw, dw2);
    assert_int_equal(dwarf_dieoffset(&cu), dwarf_dieoffset(&cu2));

    /* other.c: the package's second unit. */
    assert_true(skeleton(&p, "other.dwo", &skel, &id));
    assert_int_equal(btc_dwp_unit(dwp, id, &skel, &dw2, &cu2), 0);
    assert_ptr_not_equal(dw, dw2);
    assert_true(ends_with(dwarf_diename(&cu2), "other.c"));
    check_same_ranges(&cu2, &skel);
    assert_true(find_die(&cu2, DW_TAG_subprogram, "dwp_other", &other));
    assert_int_equal(first_pc(&other), symbol_value(&p, "dwp_other"));
    line = dwarf_getsrc_die(&cu2, first_pc(&other));
    assert_non_null(line);
    assert_int_equal(dwarf_lineno(line, &lineno), 0);
    assert_int_equal(lineno, 5); /* 4 and 5 share the address: llvm-symbolizer and gdb say 5 */

    /* No such unit. */
    assert_int_equal(btc_dwp_unit(dwp, id ^ 1, &skel, &dw2, &cu2), -ENOENT);

    /* The package keeps its own file open, close-on-exec; the units none. */
    assert_int_equal(count_fds(&inherited2), fds + 1);
    assert_int_equal(inherited2, inherited);
    btc_dwp_free(dwp);
    assert_int_equal(count_fds(&inherited2), fds);
    prog_close(&p);
}

static void
test_gcc_dwarf4(void **state)
{
    (void)state;
    check_package("gcc4", "GNU C");
}

static void
test_gcc_dwarf5(void **state)
{
    (void)state;
    check_package("gcc5", "GNU C");
}

static void
test_clang_dwarf4(void **state)
{
    (void)state;
    check_package("clang4", "clang");
}

static void
test_clang_dwarf5(void **state)
{
    (void)state;
    check_package("clang5", "clang");
}

/* The way symbol/ will call it: the skeleton from libdwfl's Dwarf of the
 * module, the package found beside the module's file. */
static void
test_dwfl_module(void **state)
{
    static const Dwfl_Callbacks callbacks = {
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .section_address = dwfl_offline_section_address,
    };
    char exe[512], *path;
    struct btc_dwp *dwp;
    Dwfl *dwfl;
    Dwfl_Module *mod;
    Dwarf *dw, *split;
    Dwarf_Addr bias;
    Dwarf_CU *cu = NULL;
    Dwarf_Die cudie, skel, splitcu, fn;
    uint8_t unit_type;
    uint64_t id;
    int found = 0;

    (void)state;
    snprintf(exe, sizeof(exe), "%s/gcc5/prog", BTC_DWP_PROGS);
    dwfl = dwfl_begin(&callbacks);
    assert_non_null(dwfl);
    mod = dwfl_report_offline(dwfl, "prog", exe, -1);
    assert_non_null(mod);
    assert_int_equal(dwfl_report_end(dwfl, NULL, NULL), 0);
    dw = dwfl_module_getdwarf(mod, &bias);
    assert_non_null(dw);
    assert_int_equal(btc_dwp_find(exe, NULL, &path), 0);
    assert_int_equal(btc_dwp_open(path, &dwp), 0);
    free(path);
    while (dwarf_get_units(dw, cu, &cu, NULL, &unit_type, &cudie, NULL) == 0) {
        if (unit_type != DW_UT_skeleton)
            continue;
        skel = cudie;
        assert_int_equal(dwarf_cu_info(cu, NULL, NULL, NULL, NULL, &id, NULL, NULL), 0);
        assert_int_equal(btc_dwp_unit(dwp, id, &skel, &split, &splitcu), 0);
        if (find_die(&splitcu, DW_TAG_subprogram, "dwp_outer", &fn)) {
            Dwarf_Addr pc;
            GElf_Sym sym;
            GElf_Off off;
            /* The module's own symbol lookup agrees, bias and all. */
            assert_int_equal(dwarf_lowpc(&fn, &pc), 0);
            assert_string_equal(dwfl_module_addrinfo(mod, pc + bias, &off, &sym, NULL, NULL, NULL),
                                "dwp_outer");
            assert_int_equal(off, 0);
            found++;
        }
    }
    assert_int_equal(found, 1);
    btc_dwp_free(dwp);
    dwfl_end(dwfl);
}

/* Location list entries described and lists libdw could not read, both
 * sides together. */
static size_t n_locations, n_location_errors;

/* One DIE as text: tag, name, declaration and call lines, addresses and
 * ranges, and its abstract origin's offset, for comparisons. */
static void
describe_die(FILE *f, Dwarf_Die *die)
{
    Dwarf_Attribute a;
    Dwarf_Addr base, start, end;
    Dwarf_Word w;
    Dwarf_Die origin;
    ptrdiff_t off = 0;
    int line;

    fprintf(f, "<%#lx %#x %s", (unsigned long)dwarf_dieoffset(die), dwarf_tag(die),
            dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a)) ?: "-");
    if (dwarf_decl_line(die, &line) == 0)
        fprintf(f, " decl %d %s", line, dwarf_decl_file(die) ?: "-");
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &a), &w) == 0)
        fprintf(f, " call %lu", (unsigned long)w);
    if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &a), &w) == 0)
        fprintf(f, " file %lu", (unsigned long)w);
    if (dwarf_formref_die(dwarf_attr(die, DW_AT_abstract_origin, &a), &origin))
        fprintf(f, " origin %#lx", (unsigned long)dwarf_dieoffset(&origin));
    if (dwarf_tag(die) != DW_TAG_compile_unit)
        while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0)
            fprintf(f, " [%#lx,%#lx)", (unsigned long)start, (unsigned long)end);
    /* Location lists (.debug_loc.dwo, .debug_loclists.dwo): each range and
     * its expression's first operation. */
    if (dwarf_attr(die, DW_AT_location, &a)) {
        Dwarf_Op *expr;
        size_t len;

        off = 0;
        fprintf(f, " loc");
        while ((off = dwarf_getlocations(&a, off, &base, &start, &end, &expr, &len)) > 0) {
            fprintf(f, " [%#lx,%#lx) %zu", (unsigned long)start, (unsigned long)end, len);
            if (len)
                fprintf(f, " %#x %#lx", expr[0].atom, (unsigned long)expr[0].number);
            n_locations++;
        }
        if (off < 0) {
            fprintf(f, " error");
            n_location_errors++;
        }
    }
    fprintf(f, ">");
}

/* Every DIE below @a and @b, in step: the same text. Returns their count. */
static size_t
compare_trees(Dwarf_Die *a, Dwarf_Die *b)
{
    Dwarf_Die ca, cb;
    size_t n = 1;
    int ra = dwarf_child(a, &ca), rb = dwarf_child(b, &cb);
    char *ta, *tb;
    size_t la, lb;

    assert_int_equal(ra, rb);
    while (ra == 0) {
        FILE *fa = open_memstream(&ta, &la), *fb = open_memstream(&tb, &lb);
        describe_die(fa, &ca);
        describe_die(fb, &cb);
        fclose(fa);
        fclose(fb);
        assert_string_equal(ta, tb);
        free(ta);
        free(tb);
        n += compare_trees(&ca, &cb);
        ra = dwarf_siblingof(&ca, &ca);
        rb = dwarf_siblingof(&cb, &cb);
        assert_int_equal(ra, rb);
    }
    return n;
}

/* What a symbolizer takes from @cu at @pc: the scopes and the line row. */
static char *
describe_pc(Dwarf_Die *cu, Dwarf_Addr pc)
{
    Dwarf_Die *scopes;
    Dwarf_Line *line;
    char *t;
    size_t l;
    FILE *f = open_memstream(&t, &l);
    int n = dwarf_getscopes(cu, pc, &scopes), lineno, col;

    for (int i = 0; i < n; i++)
        describe_die(f, &scopes[i]);
    if (n > 0)
        free(scopes);
    line = dwarf_getsrc_die(cu, pc);
    if (line && dwarf_lineno(line, &lineno) == 0 && dwarf_linecol(line, &col) == 0)
        fprintf(f, " %s:%d:%d", dwarf_linesrc(line, NULL, NULL), lineno, col);
    fclose(f);
    return t;
}

/* The units of a package against the same units read by libdw itself from
 * the .dwo files: every DIE (names, lines, ranges, location lists), every
 * line row, and the scopes and line at every row's address and the byte
 * after. */
static void
check_against_dwo(const char *name, size_t min_dies, size_t min_pcs)
{
    char exe[512], dwp_path[512];
    int fd_ref, fd;
    Dwarf *ref, *dw;
    Dwarf_CU *cu_ref = NULL, *cu = NULL;
    Dwarf_Die cudie_ref, sub_ref, cudie, split_cu;
    uint8_t unit_type;
    struct btc_dwp *dwp;
    size_t units = 0, dies = 0, rows = 0, pcs = 0;

    n_locations = n_location_errors = 0;

    snprintf(exe, sizeof(exe), "%s/%s/lib.so", BTC_DWP_PROGS, name);
    snprintf(dwp_path, sizeof(dwp_path), "%s/%s/lib.so.dwp", BTC_DWP_PROGS, name);
    fd_ref = open(exe, O_RDONLY | O_CLOEXEC);
    fd = open(exe, O_RDONLY | O_CLOEXEC);
    assert_true(fd_ref >= 0 && fd >= 0);
    ref = dwarf_begin(fd_ref, DWARF_C_READ);
    dw = dwarf_begin(fd, DWARF_C_READ);
    assert_non_null(ref);
    assert_non_null(dw);
    assert_int_equal(btc_dwp_open(dwp_path, &dwp), 0);
    while (dwarf_get_units(ref, cu_ref, &cu_ref, NULL, &unit_type, &cudie_ref, &sub_ref) == 0) {
        Dwarf_Lines *lines_ref, *lines;
        size_t n_ref, n;
        uint64_t id;
        Dwarf *split;

        assert_int_equal(dwarf_get_units(dw, cu, &cu, NULL, NULL, &cudie, NULL), 0);
        assert_int_equal(unit_type, DW_UT_skeleton);
        assert_non_null(sub_ref.cu); /* libdw found the .dwo */
        assert_int_equal(dwarf_cu_info(cu, NULL, NULL, NULL, NULL, &id, NULL, NULL), 0);
        assert_int_equal(btc_dwp_unit(dwp, id, &cudie, &split, &split_cu), 0);
        units++;
        /* libdw 0.188's dwarf_decl_file asserts on a split unit whose files
         * were not read first (dwp.c does this for its units). */
        {
            Dwarf_Files *files;
            assert_int_equal(dwarf_getsrcfiles(&sub_ref, &files, NULL), 0);
        }
        dies += compare_trees(&sub_ref, &split_cu);

        assert_int_equal(dwarf_getsrclines(&sub_ref, &lines_ref, &n_ref), 0);
        assert_int_equal(dwarf_getsrclines(&split_cu, &lines, &n), 0);
        assert_int_equal(n, n_ref);
        for (size_t i = 0; i < n; i++) {
            Dwarf_Line *lr = dwarf_onesrcline(lines_ref, i), *l = dwarf_onesrcline(lines, i);
            Dwarf_Addr ar, al;
            int line_r, line_l;

            assert_int_equal(dwarf_lineaddr(lr, &ar), 0);
            assert_int_equal(dwarf_lineaddr(l, &al), 0);
            assert_int_equal(ar, al);
            assert_int_equal(dwarf_lineno(lr, &line_r), 0);
            assert_int_equal(dwarf_lineno(l, &line_l), 0);
            assert_int_equal(line_r, line_l);
            assert_string_equal(dwarf_linesrc(lr, NULL, NULL), dwarf_linesrc(l, NULL, NULL));
            rows++;
            for (Dwarf_Addr pc = ar; pc <= ar + 1; pc++) {
                char *tr = describe_pc(&sub_ref, pc), *tl = describe_pc(&split_cu, pc);
                assert_string_equal(tr, tl);
                free(tr);
                free(tl);
                pcs++;
            }
        }
    }
    assert_int_equal(units, BTC_DWP_LIB_UNITS);
    print_message("%s: %zu units, %zu DIEs, %zu locations (%zu lists unreadable), %zu line rows, "
                  "%zu pcs as from the .dwo files\n",
                  name, units, dies, n_locations / 2, n_location_errors / 2, rows, pcs);
    assert_true(dies >= min_dies && pcs >= min_pcs && n_locations > 0);
    btc_dwp_free(dwp);
    dwarf_end(dw);
    dwarf_end(ref);
    close(fd);
    close(fd_ref);
}

static void
test_lib_gcc4_as_dwo(void **state)
{
    (void)state;
    check_against_dwo("lib_gcc4", 1000, 1000);
}

static void
test_lib_gcc5_as_dwo(void **state)
{
    (void)state;
    check_against_dwo("lib_gcc5", 1000, 1000);
}

static void
test_lib_clang5_as_dwo(void **state)
{
    (void)state;
    check_against_dwo("lib_clang5", 1000, 1000);
}

/* The package's bytes and where its sections lie in them. */
struct image {
    uint8_t *b;
    size_t n;
    size_t index_off, index_size, stroff_off, stroff_size;
};

static void
image_load(struct image *im, const char *name)
{
    char path[512];
    int fd;
    Elf *elf;
    Elf_Scn *scn = NULL;
    size_t shstrndx;

    snprintf(path, sizeof(path), "%s/%s/prog.dwp", BTC_DWP_PROGS, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    im->n = (size_t)lseek(fd, 0, SEEK_END);
    im->b = malloc(im->n);
    assert_non_null(im->b);
    assert_int_equal(pread(fd, im->b, im->n, 0), (ssize_t)im->n);
    elf_version(EV_CURRENT);
    elf = elf_memory((char *)im->b, im->n);
    assert_non_null(elf);
    assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        gelf_getshdr(scn, &sh);
        const char *n = elf_strptr(elf, shstrndx, sh.sh_name);
        if (!strcmp(n, ".debug_cu_index")) {
            im->index_off = sh.sh_offset;
            im->index_size = sh.sh_size;
        } else if (!strcmp(n, ".debug_str_offsets.dwo")) {
            im->stroff_off = sh.sh_offset;
            im->stroff_size = sh.sh_size;
        }
    }
    elf_end(elf);
    close(fd);
    assert_true(im->index_size >= 16 && im->stroff_size > 0);
}

/* Write @im to a temporary file and open it as a package. */
static int
open_image(const struct image *im, struct btc_dwp **ret)
{
    char path[] = "/tmp/btc-test-dwp-XXXXXX";
    int fd = mkstemp(path), r;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, im->b, im->n), (ssize_t)im->n);
    close(fd);
    r = btc_dwp_open(path, ret);
    unlink(path);
    return r;
}

static void
put32(struct image *im, size_t off, uint32_t v)
{
    assert_true(off + 4 <= im->index_size);
    memcpy(im->b + im->index_off + off, &v, 4);
}

static uint32_t
get32(const struct image *im, size_t off)
{
    uint32_t v;
    memcpy(&v, im->b + im->index_off + off, 4);
    return v;
}

/* One corruption of the index, applied to a fresh copy: -EINVAL. */
static void
check_bad_index(const char *name, void (*corrupt)(struct image *))
{
    struct image im;
    struct btc_dwp *dwp = NULL;

    image_load(&im, name);
    assert_int_equal(open_image(&im, &dwp), 0); /* unchanged: fine */
    btc_dwp_free(dwp);
    corrupt(&im);
    assert_int_equal(open_image(&im, &dwp), -EINVAL);
    free(im.b);
}

/* Index header: version, columns, units, slots (DWARF 5 7.3.5.3). */
static void
bad_version(struct image *im)
{
    put32(im, 0, 3);
}

static void
bad_slots_not_power_of_2(struct image *im)
{
    put32(im, 12, 3);
}

static void
bad_units_over_slots(struct image *im)
{
    put32(im, 8, get32(im, 12) + 1);
}

static void
bad_no_columns(struct image *im)
{
    put32(im, 4, 0);
}

static void
bad_tables_past_end(struct image *im)
{
    put32(im, 12, 1u << 30);
}

static size_t
column_ids_off(const struct image *im)
{
    return 16 + (size_t)get32(im, 12) * 12;
}

static void
bad_column_id(struct image *im)
{
    put32(im, column_ids_off(im), 99);
}

static void
bad_column_twice(struct image *im)
{
    put32(im, column_ids_off(im) + 4, get32(im, column_ids_off(im)));
}

static void
bad_row_number(struct image *im)
{
    uint32_t slots = get32(im, 12);

    for (uint32_t s = 0; s < slots; s++)
        if (get32(im, 16 + (size_t)slots * 8 + s * 4) != 0) {
            put32(im, 16 + (size_t)slots * 8 + s * 4, get32(im, 8) + 1);
            return;
        }
    fail();
}

static void
bad_contribution_offset(struct image *im)
{
    /* First unit, first column: offset far past its section. */
    put32(im, column_ids_off(im) + get32(im, 4) * 4, 0xfffff000);
}

static void
bad_contribution_size(struct image *im)
{
    size_t sizes = column_ids_off(im) + get32(im, 4) * 4 + (size_t)get32(im, 8) * get32(im, 4) * 4;

    put32(im, sizes, 0xffffffff);
}

static void
bad_truncated(struct image *im)
{
    put32(im, 4, 8); /* more columns than the section holds for the units */
    put32(im, 8, get32(im, 12));
}

#define BAD(fn)                                                                                    \
    static void test_##fn(void **state)                                                            \
    {                                                                                              \
        (void)state;                                                                               \
        check_bad_index("gcc4", fn);                                                               \
        check_bad_index("gcc5", fn);                                                               \
    }
BAD(bad_version)
BAD(bad_slots_not_power_of_2)
BAD(bad_units_over_slots)
BAD(bad_no_columns)
BAD(bad_tables_past_end)
BAD(bad_column_id)
BAD(bad_column_twice)
BAD(bad_row_number)
BAD(bad_contribution_offset)
BAD(bad_contribution_size)
BAD(bad_truncated)

/* String offsets that point past .debug_str.dwo: the unit is refused, not
 * read out of bounds. */
static void
check_bad_str_offsets(const char *name)
{
    struct image im;
    struct btc_dwp *dwp;
    struct prog p;
    Dwarf_Die skel, cu;
    Dwarf *dw;
    uint64_t id;

    image_load(&im, name);
    memset(im.b + im.stroff_off, 0xff, im.stroff_size);
    assert_int_equal(open_image(&im, &dwp), 0);
    prog_open(&p, name);
    assert_true(skeleton(&p, "prog.dwo", &skel, &id));
    assert_int_equal(btc_dwp_unit(dwp, id, &skel, &dw, &cu), -EINVAL);
    btc_dwp_free(dwp);
    prog_close(&p);
    free(im.b);
}

static void
test_bad_str_offsets(void **state)
{
    (void)state;
    check_bad_str_offsets("gcc4");
    check_bad_str_offsets("gcc5");
}

/* Every byte of the index, and of the string offsets, set in turn to
 * values that make counts and offsets large: whatever btc_dwp_open and
 * btc_dwp_unit answer, they answer it without reading out of bounds (the
 * ASan build checks that) and with one of the documented errors. */
static void
check_mutations(const char *name, size_t sect_off, size_t sect_size)
{
    static const uint8_t values[] = {0xff, 0x80, 0x01};
    struct image im;
    struct prog p;
    Dwarf_Die skel[2], cu;
    uint64_t id[2];
    Dwarf *dw;
    int opened = 0, loaded = 0;

    image_load(&im, name);
    prog_open(&p, name);
    assert_true(skeleton(&p, "prog.dwo", &skel[0], &id[0]));
    assert_true(skeleton(&p, "other.dwo", &skel[1], &id[1]));
    if (sect_off == 0) {
        sect_off = im.index_off;
        sect_size = im.index_size;
    }
    for (size_t i = 0; i < sect_size; i++)
        for (size_t v = 0; v < sizeof(values); v++) {
            uint8_t old = im.b[sect_off + i];
            struct btc_dwp *dwp;
            int r;

            im.b[sect_off + i] = values[v];
            r = open_image(&im, &dwp);
            im.b[sect_off + i] = old;
            if (r < 0) {
                assert_int_equal(r, -EINVAL);
                continue;
            }
            opened++;
            for (int u = 0; u < 2; u++) {
                r = btc_dwp_unit(dwp, id[u], &skel[u], &dw, &cu);
                assert_true(r == 0 || r == -EINVAL || r == -ENOENT);
                if (r == 0) {
                    Dwarf_Lines *lines;
                    size_t n;
                    loaded++;
                    (void)dwarf_diename(&cu);
                    (void)dwarf_getsrclines(&cu, &lines, &n);
                }
            }
            btc_dwp_free(dwp);
        }
    /* Mutations of unused slots or padding leave packages that work. */
    assert_true(opened > 0 && loaded > 0);
    prog_close(&p);
    free(im.b);
}

static void
test_index_mutations(void **state)
{
    (void)state;
    check_mutations("gcc4", 0, 0);
    check_mutations("clang5", 0, 0);
}

static void
test_str_offsets_mutations(void **state)
{
    struct image im;

    (void)state;
    image_load(&im, "gcc5");
    check_mutations("gcc5", im.stroff_off, im.stroff_size);
    free(im.b);
}

/* Where section @name lies in the ELF file image @b. */
static void
section_in(const uint8_t *b, size_t n, const char *name, size_t *ret_off, size_t *ret_size)
{
    Elf *elf = elf_memory((char *)b, n);
    Elf_Scn *scn = NULL;
    size_t shstrndx;

    assert_non_null(elf);
    assert_int_equal(elf_getshdrstrndx(elf, &shstrndx), 0);
    *ret_size = 0;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        gelf_getshdr(scn, &sh);
        if (!strcmp(elf_strptr(elf, shstrndx, sh.sh_name), name)) {
            *ret_off = sh.sh_offset;
            *ret_size = sh.sh_size;
        }
    }
    elf_end(elf);
    assert_true(*ret_size > 0);
}

/* The executable's skeletons (.debug_info) and what their copies take
 * from it (.debug_addr, .debug_line), every byte set in turn to large
 * values: the package's units for them come out or are refused with a
 * documented error, never read out of bounds (the ASan build checks). */
static void
check_skeleton_mutations(const char *name, const char *section)
{
    static const uint8_t values[] = {0xff, 0x80, 0x01};
    char exe[512], dwp_path[512];
    uint8_t *b;
    size_t n, off, size;
    int fd, loaded = 0;

    snprintf(exe, sizeof(exe), "%s/%s/prog", BTC_DWP_PROGS, name);
    snprintf(dwp_path, sizeof(dwp_path), "%s/%s/prog.dwp", BTC_DWP_PROGS, name);
    fd = open(exe, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    n = (size_t)lseek(fd, 0, SEEK_END);
    b = malloc(n);
    assert_non_null(b);
    assert_int_equal(pread(fd, b, n, 0), (ssize_t)n);
    close(fd);
    section_in(b, n, section, &off, &size);
    for (size_t i = 0; i < size; i++)
        for (size_t v = 0; v < sizeof(values); v++) {
            char path[] = "/tmp/btc-test-dwp-XXXXXX";
            uint8_t old = b[off + i];
            struct btc_dwp *dwp;
            Dwarf_CU *cu = NULL;
            Dwarf_Die cudie, split_cu;
            uint8_t unit_type;
            Dwarf *dw, *split;
            uint64_t id;

            fd = mkstemp(path);
            assert_true(fd >= 0);
            unlink(path);
            b[off + i] = values[v];
            assert_int_equal(write(fd, b, n), (ssize_t)n);
            b[off + i] = old;
            dw = dwarf_begin(fd, DWARF_C_READ);
            assert_int_equal(btc_dwp_open(dwp_path, &dwp), 0);
            while (dw && dwarf_get_units(dw, cu, &cu, NULL, &unit_type, &cudie, NULL) == 0) {
                int r;
                if (dwarf_cu_info(cu, NULL, NULL, NULL, NULL, &id, NULL, NULL) != 0)
                    continue;
                r = btc_dwp_unit(dwp, id, &cudie, &split, &split_cu);
                assert_true(r == 0 || r == -EINVAL || r == -ENOENT);
                if (r == 0) {
                    Dwarf_Lines *lines;
                    Dwarf_Die *scopes;
                    size_t nl;
                    int ns = dwarf_getscopes(&split_cu, 0x1151, &scopes);
                    if (ns > 0)
                        free(scopes);
                    (void)dwarf_getsrclines(&split_cu, &lines, &nl);
                    loaded++;
                }
            }
            btc_dwp_free(dwp);
            dwarf_end(dw);
            close(fd);
        }
    assert_true(loaded > 0);
    free(b);
}

static void
test_skeleton_mutations(void **state)
{
    (void)state;
    check_skeleton_mutations("gcc4", ".debug_info");
    check_skeleton_mutations("gcc5", ".debug_info");
    check_skeleton_mutations("gcc4", ".debug_addr");
    check_skeleton_mutations("clang5", ".debug_addr");
    check_skeleton_mutations("gcc5", ".debug_line");
}

static void
test_not_a_package(void **state)
{
    struct btc_dwp *dwp;
    char path[512];

    (void)state;
    /* An ELF file without .debug_cu_index, and no ELF file at all. */
    snprintf(path, sizeof(path), "%s/gcc4/prog", BTC_DWP_PROGS);
    assert_int_equal(btc_dwp_open(path, &dwp), -EINVAL);
    snprintf(path, sizeof(path), "%s/../../../CMakeCache.txt", BTC_DWP_PROGS);
    assert_int_equal(btc_dwp_open(path, &dwp), -EINVAL);
    assert_int_equal(btc_dwp_open("/nonexistent/prog.dwp", &dwp), -ENOENT);
}

static void
test_find(void **state)
{
    char exe[512], dbg[512], *path;

    (void)state;
    snprintf(exe, sizeof(exe), "%s/gcc4/prog", BTC_DWP_PROGS);
    assert_int_equal(btc_dwp_find(exe, NULL, &path), 0);
    assert_true(ends_with(path, "/gcc4/prog.dwp"));
    free(path);
    /* A debug file "<name>.debug" finds "<name>.dwp" beside it. */
    snprintf(dbg, sizeof(dbg), "%s/gcc5/prog.debug", BTC_DWP_PROGS);
    assert_int_equal(btc_dwp_find("/nonexistent/prog", dbg, &path), 0);
    assert_true(ends_with(path, "/gcc5/prog.dwp"));
    free(path);
    assert_int_equal(btc_dwp_find("/nonexistent/prog", NULL, &path), -ENOENT);
    assert_int_equal(btc_dwp_find(NULL, NULL, &path), -ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gcc_dwarf4),
        cmocka_unit_test(test_gcc_dwarf5),
        cmocka_unit_test(test_clang_dwarf4),
        cmocka_unit_test(test_clang_dwarf5),
        cmocka_unit_test(test_dwfl_module),
        cmocka_unit_test(test_lib_gcc4_as_dwo),
        cmocka_unit_test(test_lib_gcc5_as_dwo),
        cmocka_unit_test(test_lib_clang5_as_dwo),
        cmocka_unit_test(test_bad_version),
        cmocka_unit_test(test_bad_slots_not_power_of_2),
        cmocka_unit_test(test_bad_units_over_slots),
        cmocka_unit_test(test_bad_no_columns),
        cmocka_unit_test(test_bad_tables_past_end),
        cmocka_unit_test(test_bad_column_id),
        cmocka_unit_test(test_bad_column_twice),
        cmocka_unit_test(test_bad_row_number),
        cmocka_unit_test(test_bad_contribution_offset),
        cmocka_unit_test(test_bad_contribution_size),
        cmocka_unit_test(test_bad_truncated),
        cmocka_unit_test(test_bad_str_offsets),
        cmocka_unit_test(test_index_mutations),
        cmocka_unit_test(test_str_offsets_mutations),
        cmocka_unit_test(test_skeleton_mutations),
        cmocka_unit_test(test_not_a_package),
        cmocka_unit_test(test_find),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
