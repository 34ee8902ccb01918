/* symbolize: see symbolize.h. */
#include "symbolize.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

#include "index.h"
#include "modules.h"
#include "names.h"

struct loc {
    char *file;
    int line;
    int column;
};

static void
loc_clear(struct loc *l)
{
    free(l->file);
    *l = (struct loc){0};
}

/* Appends a frame, taking over @func and @l->file (freed if not appended).
 * Returns 1 when @out is full, 0, or -ENOMEM. */
static int
push_frame(struct btc_unwind_frames *out, uint64_t pc, char *func, struct loc *l,
           const char *module, bool inlined)
{
    if (out->n >= out->max) {
        free(func);
        loc_clear(l);
        return 1;
    }
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        struct btc_frame *v;

        if (cap > out->max)
            cap = out->max;
        v = realloc(out->v, cap * sizeof(*v));
        if (!v) {
            free(func);
            loc_clear(l);
            return -ENOMEM;
        }
        out->v = v;
        out->cap = cap;
    }
    out->v[out->n++] = (struct btc_frame){
        .pc = pc,
        .func = func,
        .file = l->file,
        .line = l->line,
        .column = l->column,
        .module = module,
        .inlined = inlined,
    };
    *l = (struct loc){0};
    return 0;
}

/* The line-table row that describes @addr (module-relative) in @cudie's
 * table, chosen as gdb chooses it, so that both show the same line: the
 * last row at the greatest address <= @addr; if that row is not a
 * statement, an earlier statement row at the same address wins. Several
 * rows share an address where code of inlined functions interleaves. */
static Dwarf_Line *
gdb_line_row(Dwarf_Die *cudie, Dwarf_Addr addr)
{
    Dwarf_Lines *lines;
    size_t nlines, lo = 0, hi, best;
    Dwarf_Line *row;
    bool stmt = false, end = false;

    if (dwarf_getsrclines(cudie, &lines, &nlines) != 0 || nlines == 0)
        return NULL;
    /* libdw sorts the rows by address, keeping the table's order for rows
     * at one address (an end_sequence first). Find the first row > addr. */
    hi = nlines;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        Dwarf_Addr a = 0;

        dwarf_lineaddr(dwarf_onesrcline(lines, mid), &a);
        if (a <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    best = lo - 1;
    row = dwarf_onesrcline(lines, best);
    if (!row || dwarf_lineendsequence(row, &end) != 0 || end)
        return NULL; /* addr is past the end of a sequence: no line */
    dwarf_linebeginstatement(row, &stmt);
    for (size_t i = best; !stmt && i > 0; i--) {
        Dwarf_Line *prev = dwarf_onesrcline(lines, i - 1);
        Dwarf_Addr pa = 0, a = 0;
        int lineno = 0;
        bool prev_end = false, prev_stmt = false;

        dwarf_lineaddr(prev, &pa);
        dwarf_lineaddr(row, &a);
        dwarf_lineno(prev, &lineno);
        dwarf_lineendsequence(prev, &prev_end);
        if (pa != a || lineno == 0 || prev_end)
            break;
        dwarf_linebeginstatement(prev, &prev_stmt);
        if (prev_stmt) {
            row = prev;
            stmt = true;
        }
    }
    return row;
}

/* @file as a path: a relative one (clang's DWARF 5 line tables name a
 * directory relative to the unit's directory, "progs/x.c") is joined to
 * DW_AT_comp_dir of @cu, as gdb and llvm-symbolizer join them. */
static char *
source_path(Dwarf_Die *cu, const char *file)
{
    Dwarf_Attribute attr;
    const char *dir;
    char *path;

    if (file[0] == '/' || !cu ||
        !(dir = dwarf_formstring(dwarf_attr_integrate(cu, DW_AT_comp_dir, &attr))) || !*dir)
        return strdup(file);
    if (asprintf(&path, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", file) < 0)
        return NULL;
    return path;
}

/* The source position of the innermost (possibly inlined) function at
 * @addr, from the line table of the unit @at found. */
static int
line_loc(struct btc_index_at *at, Dwarf_Addr addr, struct loc *ret)
{
    Dwarf_Line *line = NULL;
    Dwarf_Die *cu = at->has_unit ? &at->lines_cu : NULL;
    const char *file = NULL;
    int lineno = 0, col = 0;

    *ret = (struct loc){0};
    if (cu)
        line = gdb_line_row(cu, addr - at->bias);
    if (line) {
        file = dwarf_linesrc(line, NULL, NULL);
        dwarf_lineno(line, &lineno);
        dwarf_linecol(line, &col);
    } else {
        /* Not in a unit's table (or no CU found): libdwfl's own lookup. */
        Dwfl_Line *dl = dwfl_module_getsrc(at->mod, addr);

        if (dl) {
            file = dwfl_lineinfo(dl, NULL, &lineno, &col, NULL, NULL);
            cu = dwfl_linecu(dl);
        }
    }
    if (!file)
        return 0;
    ret->file = source_path(cu, file);
    if (!ret->file)
        return -ENOMEM;
    ret->line = lineno;
    ret->column = col;
    return 0;
}

/* Where @inlined was called from: its DW_AT_call_file/line/column, the
 * position inside the function that the next frame out shows. */
static int
call_site_loc(Dwarf_Die *inlined, struct loc *ret)
{
    Dwarf_Attribute attr;
    Dwarf_Word file_idx, line = 0, col = 0;
    Dwarf_Die cudie;
    Dwarf_Files *files;
    size_t nfiles;
    const char *file = NULL;

    *ret = (struct loc){0};
    if (dwarf_formudata(dwarf_attr(inlined, DW_AT_call_file, &attr), &file_idx) == 0 &&
        dwarf_diecu(inlined, &cudie, NULL, NULL) &&
        dwarf_getsrcfiles(&cudie, &files, &nfiles) == 0 && file_idx < nfiles)
        file = dwarf_filesrc(files, file_idx, NULL, NULL);
    dwarf_formudata(dwarf_attr(inlined, DW_AT_call_line, &attr), &line);
    dwarf_formudata(dwarf_attr(inlined, DW_AT_call_column, &attr), &col);
    if (file) {
        ret->file = source_path(&cudie, file);
        if (!ret->file)
            return -ENOMEM;
    }
    ret->line = (int)line;
    ret->column = (int)col;
    return 0;
}

/* The ELF symbol covering @addr, demangled; for code without DWARF
 * subprograms (assembly such as glibc's string functions, stripped code). */
static int
symbol_name(struct btc_index *ix, Dwfl_Module *mod, Dwarf_Addr addr, char **ret)
{
    const char *name;
    Dwarf_Addr start;
    int r = btc_index_symbol(ix, mod, addr, &name, &start);

    *ret = NULL;
    if (r <= 0)
        return r;
    *ret = btc_unwind_demangle(name);
    return *ret ? 0 : -ENOMEM;
}

static int
index_scopes(void *arg, Dwarf_Die *die, Dwarf_Die **ret)
{
    return btc_index_scopes(arg, die, ret);
}

static int
function_name(struct btc_index *ix, Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *die, char **ret)
{
    int r = 0;

    *ret = NULL;
    if (die)
        r = btc_unwind_die_name(die, index_scopes, ix, ret);
    if (r == 0 && !*ret)
        r = symbol_name(ix, mod, addr, ret);
    return r;
}

/* The number of levels to show, innermost first: the inlined calls at
 * the pc, then the function they were inlined into. A pc at the first
 * instruction of an inlined block is shown inside it, where the
 * instruction is (eu-addr2line -i and llvm-symbolizer agree): gdb alone
 * counts the thread that stopped there as still at the call site. */
static size_t
levels(struct btc_index_at *at)
{
    size_t n = 0;

    /* The index's chain ends at a function; an entry point, whatever
     * encloses it, is a function too. */
    while (n < at->nlevels) {
        int tag = dwarf_tag(&at->level[n++]);

        if (tag != DW_TAG_inlined_subroutine)
            break;
    }
    return n;
}

int
btc_unwind_symbolize(struct btc_index *ix, const struct btc_module *modules, size_t nmodules,
                     const struct btc_unwind_sym_request *req, struct btc_unwind_frames *out)
{
    /* A return address points just past its call instruction, which for a
     * call to a noreturn function is often the first instruction of the
     * next function, and in general may belong to the next line or inlined
     * block. Looking up pc - 1 lands inside the call itself. An activation
     * (the faulting or interrupted instruction, or the pc saved in a signal
     * frame) is looked up as it is. */
    Dwarf_Addr addr = req->activation ? req->pc : req->pc - 1;
    struct btc_index_at *at = malloc(sizeof(*at));
    const char *module;
    struct loc l = {0};
    char *func = NULL;
    size_t n;
    int r;

    if (!at)
        return -ENOMEM;
    r = btc_index_lookup(ix, addr, at);
    if (r < 0)
        goto out;
    if (!at->mod) {
        r = push_frame(out, req->pc, NULL, &l, NULL, false);
        goto out;
    }
    module = btc_unwind_module_path(at->mod, modules, nmodules);
    if (at->nlevels == 0 || !req->expand_inlines) {
        r = function_name(ix, at->mod, addr, at->nlevels ? &at->level[0] : NULL, &func);
        if (r == 0)
            r = line_loc(at, addr, &l);
        if (r == 0)
            r = push_frame(out, req->pc, func, &l, module, false);
        else
            free(func);
        goto out;
    }
    n = levels(at);
    for (size_t i = 0; i < n && r == 0; i++) {
        Dwarf_Die *die = &at->level[i];

        /* The innermost level is where the pc is; each outer level is where
         * it called the level inside it. */
        r = i == 0 ? line_loc(at, addr, &l) : call_site_loc(&at->level[i - 1], &l);
        if (r == 0)
            r = function_name(ix, at->mod, addr, die, &func);
        if (r < 0) {
            loc_clear(&l);
            break;
        }
        r = push_frame(out, req->pc, func, &l, module, dwarf_tag(die) == DW_TAG_inlined_subroutine);
    }
out:
    free(at);
    return r;
}

void
btc_unwind_frames_free(struct btc_frame *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++) {
        free(v[i].func);
        free(v[i].file);
    }
    free(v);
}
