/* symbolize: see symbolize.h. */
#include "symbolize.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

#include "modules.h"
#include "names.h"
#include "scopes_at.h"
#include "units.h"

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

/* The source position of the innermost (possibly inlined) function at
 * @addr, from the line table. */
static int
line_loc(Dwfl_Module *mod, Dwarf_Addr addr, struct loc *ret)
{
    Dwarf_Addr bias;
    Dwarf_Die cudie;
    Dwarf_Line *line = NULL;
    const char *file = NULL;
    int lineno = 0, col = 0;

    *ret = (struct loc){0};
    if (btc_unwind_unit_at(mod, addr, &cudie, &bias))
        line = gdb_line_row(&cudie, addr - bias);
    if (line) {
        file = dwarf_linesrc(line, NULL, NULL);
        dwarf_lineno(line, &lineno);
        dwarf_linecol(line, &col);
    } else {
        /* Not in a unit's table (or no CU found): libdwfl's own lookup. */
        Dwfl_Line *dl = dwfl_module_getsrc(mod, addr);

        if (dl)
            file = dwfl_lineinfo(dl, NULL, &lineno, &col, NULL, NULL);
    }
    if (!file)
        return 0;
    ret->file = strdup(file);
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
        ret->file = strdup(file);
        if (!ret->file)
            return -ENOMEM;
    }
    ret->line = (int)line;
    ret->column = (int)col;
    return 0;
}

/* The ELF symbol covering @addr, demangled; for code without DWARF
 * subprograms (assembly such as glibc's string functions, stripped code).
 * Of several names for one address (clone3 and __clone3) gdb shows the
 * last in strcmp order, so this does too. */
static int
symbol_name(Dwfl_Module *mod, Dwarf_Addr addr, char **ret)
{
    GElf_Off off;
    GElf_Sym sym;
    GElf_Addr start;
    const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
    int n;

    *ret = NULL;
    if (!name)
        return 0;
    start = addr - off;
    n = dwfl_module_getsymtab(mod);
    for (int i = 1; i < n; i++) {
        GElf_Sym alias;
        GElf_Addr a;
        const char *s = dwfl_module_getsym_info(mod, i, &alias, &a, NULL, NULL, NULL);

        if (s && a == start && alias.st_shndx != SHN_UNDEF &&
            GELF_ST_TYPE(alias.st_info) == GELF_ST_TYPE(sym.st_info) && strcmp(s, name) > 0)
            name = s;
    }
    *ret = btc_unwind_demangle(name);
    return *ret ? 0 : -ENOMEM;
}

static int
function_name(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *die, char **ret)
{
    int r = 0;

    *ret = NULL;
    if (die)
        r = btc_unwind_die_name(die, ret);
    if (r == 0 && !*ret)
        r = symbol_name(mod, addr, ret);
    return r;
}

static bool
is_function_tag(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* gdb's entry pc of a block (gdb 13 ignores DW_AT_entry_pc): its low pc,
 * or the start of the first of its DW_AT_ranges. */
static bool
block_entry(Dwarf_Die *die, Dwarf_Addr *ret)
{
    Dwarf_Addr base, start, end;

    if (dwarf_lowpc(die, ret) == 0)
        return true;
    if (dwarf_ranges(die, 0, &base, &start, &end) > 0) {
        *ret = start;
        return true;
    }
    return false;
}

/* The function levels at one pc, innermost first: the inlined subroutines
 * and then the function containing them, in their physical nesting
 * (dwarf_getscopes_die), not the abstract one. */
struct levels {
    Dwarf_Die *chain; /* from dwarf_getscopes_die, or NULL */
    Dwarf_Die *die[BTC_UNWIND_MAX_FRAMES];
    size_t n;
};

static void
collect_levels(Dwarf_Die *fn, struct levels *lv)
{
    int nchain;

    lv->n = 0;
    lv->chain = NULL;
    if (!fn)
        return;
    lv->die[lv->n++] = fn;
    if (dwarf_tag(fn) != DW_TAG_inlined_subroutine)
        return;
    nchain = dwarf_getscopes_die(fn, &lv->chain);
    for (int i = 1; i < nchain && lv->n < BTC_UNWIND_MAX_FRAMES; i++) {
        int tag = dwarf_tag(&lv->chain[i]);

        if (!is_function_tag(tag))
            continue;
        lv->die[lv->n++] = &lv->chain[i];
        if (tag != DW_TAG_inlined_subroutine)
            break; /* the real function everything was inlined into */
    }
}

/* GNU as 2.40 describes each alias of an assembly function (__clone3,
 * __GI___clone3, clone3) as a subprogram of its own with the same range;
 * gdb shows the last of them, so take that. Compiled code never has
 * sibling functions that overlap. */
static void
last_overlapping_sibling(Dwarf_Die *fn, Dwarf_Addr addr)
{
    Dwarf_Die sib = *fn;

    while (dwarf_siblingof(&sib, &sib) == 0 && dwarf_tag(&sib) == DW_TAG_subprogram &&
           dwarf_haspc(&sib, addr) == 1)
        *fn = sib;
}

int
btc_unwind_symbolize(Dwfl *dwfl, const struct btc_module *modules, size_t nmodules,
                     const struct btc_unwind_sym_request *req, struct btc_unwind_frames *out)
{
    /* A return address points just past its call instruction, which for a
     * call to a noreturn function is often the first instruction of the
     * next function, and in general may belong to the next line or inlined
     * block. Looking up pc - 1 lands inside the call itself. An activation
     * (the faulting or interrupted instruction, or the pc saved in a signal
     * frame) is looked up as it is. */
    Dwarf_Addr addr = req->activation ? req->pc : req->pc - 1;
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    const char *module = btc_unwind_module_path(mod, modules, nmodules);
    Dwarf_Die *scopes = NULL, *fn = NULL;
    struct levels *lv = NULL;
    struct loc l = {0};
    char *func = NULL;
    Dwarf_Addr bias = 0;
    Dwarf_Die cudie;
    size_t first = 0;
    int nscopes = 0, r;

    if (!mod)
        return push_frame(out, req->pc, NULL, &l, NULL, false);
    if (btc_unwind_unit_at(mod, addr, &cudie, &bias))
        nscopes = btc_unwind_scopes_at(&cudie, addr - bias, &scopes);
    /* The innermost function-like scope; collect_levels finds the ones
     * around it. */
    for (int i = 0; i < nscopes; i++) {
        if (is_function_tag(dwarf_tag(&scopes[i]))) {
            fn = &scopes[i];
            if (dwarf_tag(fn) == DW_TAG_subprogram)
                last_overlapping_sibling(fn, addr - bias);
            break;
        }
    }
    if (!fn || !req->expand_inlines) {
        r = function_name(mod, addr, fn, &func);
        if (r == 0)
            r = line_loc(mod, addr, &l);
        if (r == 0)
            r = push_frame(out, req->pc, func, &l, module, false);
        else
            free(func);
        goto out;
    }
    lv = malloc(sizeof(*lv));
    if (!lv) {
        r = -ENOMEM;
        goto out;
    }
    collect_levels(fn, lv);
    /* Like gdb on the thread that stopped: a pc at the very first instruction
     * of an inlined block counts as still being at its call site, so that
     * block's frame is not shown and the frame outside it shows the call. */
    while (req->skip_entry_inlines && first + 1 < lv->n &&
           dwarf_tag(lv->die[first]) == DW_TAG_inlined_subroutine) {
        Dwarf_Addr entry;

        if (!block_entry(lv->die[first], &entry) || entry != addr - bias)
            break;
        first++;
    }
    r = 0;
    for (size_t i = first; i < lv->n && r == 0; i++) {
        /* The innermost level is where the pc is; each outer level is where
         * it called the level inside it. */
        r = i == 0 ? line_loc(mod, addr, &l) : call_site_loc(lv->die[i - 1], &l);
        if (r == 0)
            r = function_name(mod, addr, lv->die[i], &func);
        if (r < 0) {
            loc_clear(&l);
            break;
        }
        r = push_frame(out, req->pc, func, &l, module,
                       dwarf_tag(lv->die[i]) == DW_TAG_inlined_subroutine);
    }
out:
    if (lv)
        free(lv->chain);
    free(lv);
    free(scopes);
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
