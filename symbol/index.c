/* index: see index.h. */
#include "index.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "blocks.h"
#include "dwp.h"
#include "elf_syms.h"
#include "scope_map.h"
#include "upper_bound.h"

/* How far back a unit lookup looks past the closest range when units'
 * ranges overlap (rustc's codegen units, corrupt DWARF). */
#define MAX_BACK 8

struct unit {
    Dwfl_Module *mod; /* NULL for a unit first met through a DIE */
    Dwarf_CU *key;    /* the unit DIE's CU: what a DIE of the unit points to */
    Dwarf_Die cu;     /* the unit DIE, a skeleton's for split DWARF */
    Dwarf_Die root;   /* where its code's DIEs are: the split unit, or cu */
    bool root_done, blocks_done, scopes_done;
    struct btc_blocks blocks;
    struct btc_scope_map *scopes;
};

struct range {
    Dwarf_Addr lo, hi; /* DWARF addresses; lo first: the key of btc_upper_bound_u64 */
    struct unit *u;
};

struct modix {
    Dwfl_Module *mod;
    Dwarf *dw; /* NULL: no DWARF */
    Dwarf_Addr bias;
    struct range *ranges; /* by lo */
    size_t nranges;
    struct btc_elfsyms *syms;
    struct btc_dwp *dwp; /* the module's .dwp package, or NULL */
    bool dw_done, units_done, syms_done, dwp_done;
};

struct btc_index {
    Dwfl *dwfl;
    struct modix *mods;
    size_t nmods, capmods, last;
    /* Every unit record by its Dwarf_CU, open addressing; a power of two
     * in size, at most half full. */
    struct unit **table;
    size_t tcap, tcount;
};

int
btc_index_new(Dwfl *dwfl, struct btc_index **ret)
{
    struct btc_index *ix = calloc(1, sizeof(*ix));

    if (!ix)
        return -ENOMEM;
    ix->dwfl = dwfl;
    *ret = ix;
    return 0;
}

void
btc_index_free(struct btc_index *ix)
{
    if (!ix)
        return;
    for (size_t i = 0; i < ix->tcap; i++) {
        struct unit *u = ix->table[i];

        if (!u)
            continue;
        btc_blocks_free(&u->blocks);
        btc_scope_map_free(u->scopes);
        free(u);
    }
    free(ix->table);
    for (size_t i = 0; i < ix->nmods; i++) {
        free(ix->mods[i].ranges);
        btc_elfsyms_free(ix->mods[i].syms);
        btc_dwp_free(ix->mods[i].dwp);
    }
    free(ix->mods);
    free(ix);
}

Dwfl *
btc_index_dwfl(const struct btc_index *ix)
{
    return ix->dwfl;
}

static size_t
slot_of(const struct btc_index *ix, const Dwarf_CU *key)
{
    uintptr_t h = (uintptr_t)key;

    /* Fibonacci hashing of the pointer; its low bits are alignment. */
    h = (h >> 4) * (uintptr_t)0x9e3779b97f4a7c15ull;
    return (size_t)(h >> 20) & (ix->tcap - 1);
}

static int
table_grow(struct btc_index *ix)
{
    size_t cap = ix->tcap ? ix->tcap * 2 : 64, old = ix->tcap;
    struct unit **t = ix->table, **nt = calloc(cap, sizeof(*nt));

    if (!nt)
        return -ENOMEM;
    ix->table = nt;
    ix->tcap = cap;
    for (size_t i = 0; i < old; i++) {
        size_t s;

        if (!t[i])
            continue;
        for (s = slot_of(ix, t[i]->key); nt[s]; s = (s + 1) & (cap - 1))
            ;
        nt[s] = t[i];
    }
    free(t);
    return 0;
}

/* The record of the unit whose DIE is @cudie, made on first sight. */
static int
unit_of(struct btc_index *ix, Dwarf_Die *cudie, struct unit **ret)
{
    struct unit *u;
    size_t s;

    if (ix->tcap > 0) {
        for (s = slot_of(ix, cudie->cu); ix->table[s]; s = (s + 1) & (ix->tcap - 1)) {
            if (ix->table[s]->key == cudie->cu) {
                *ret = ix->table[s];
                return 0;
            }
        }
    }
    if ((ix->tcount + 1) * 2 > ix->tcap && table_grow(ix) < 0)
        return -ENOMEM;
    u = calloc(1, sizeof(*u));
    if (!u)
        return -ENOMEM;
    u->key = cudie->cu;
    u->cu = *cudie;
    for (s = slot_of(ix, u->key); ix->table[s]; s = (s + 1) & (ix->tcap - 1))
        ;
    ix->table[s] = u;
    ix->tcount++;
    *ret = u;
    return 0;
}

static struct modix *mod_of(struct btc_index *ix, Dwfl_Module *mod);

/* The module's DWARF package, "<file>.dwp" beside it or its debug file,
 * opened on first use. libdw 0.188 reads .dwo files but no package. */
static struct btc_dwp *
mod_dwp(struct btc_index *ix, Dwfl_Module *mod)
{
    struct modix *m = mod_of(ix, mod);
    const char *mainfile = NULL, *debugfile = NULL;
    char *path = NULL;

    if (!m)
        return NULL;
    if (m->dwp_done)
        return m->dwp;
    m->dwp_done = true;
    dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile, &debugfile);
    if (btc_dwp_find(mainfile, debugfile, &path) == 0 && btc_dwp_open(path, &m->dwp) < 0)
        m->dwp = NULL; /* a malformed package: the skeletons' frames keep their lines */
    free(path);
    return m->dwp;
}

/* The DIE holding a unit's code: for a skeleton, its split unit, which
 * libdw finds from DW_AT_dwo_name (or DW_AT_GNU_dwo_name) relative to
 * DW_AT_comp_dir, else the module's .dwp has it. Opened on first use: a
 * program's .dwo files are many. */
static Dwarf_Die *
unit_root(struct btc_index *ix, struct unit *u)
{
    uint8_t type = 0;
    uint64_t dwo_id = 0;
    Dwarf_Die sub;
    Dwarf_Files *files;
    size_t nfiles;
    struct btc_dwp *dwp;
    Dwarf *dw;

    if (u->root_done)
        return &u->root;
    u->root_done = true;
    u->root = u->cu;
    memset(&sub, 0, sizeof(sub));
    if (dwarf_cu_info(u->key, NULL, &type, NULL, &sub, &dwo_id, NULL, NULL) != 0 ||
        type != DW_UT_skeleton)
        return &u->root;
    if (sub.addr == NULL || dwarf_tag(&sub) != DW_TAG_compile_unit) {
        dwp = u->mod ? mod_dwp(ix, u->mod) : NULL;
        if (!dwp || btc_dwp_unit(dwp, dwo_id, &u->cu, &dw, &sub) < 0)
            return &u->root;
    }
    /* libdw 0.188's dwarf_decl_file and call-file lookups on a split unit
     * take its lines from the skeleton but assert on its files unless they
     * were read first. */
    if (dwarf_getsrcfiles(&sub, &files, &nfiles) == 0)
        u->root = sub;
    return &u->root;
}

static const struct btc_blocks *
unit_blocks(struct btc_index *ix, struct unit *u)
{
    if (!u->blocks_done) {
        /* Out of memory leaves the unit without blocks: its frames keep
         * their ELF symbol and line, rather than failing the report. */
        if (btc_blocks_build(unit_root(ix, u), &u->blocks) < 0)
            u->blocks = (struct btc_blocks){0};
        u->blocks_done = true;
    }
    return &u->blocks;
}

static struct modix *
mod_of(struct btc_index *ix, Dwfl_Module *mod)
{
    struct modix *m;

    /* Consecutive frames are mostly in one module. */
    if (ix->last < ix->nmods && ix->mods[ix->last].mod == mod)
        return &ix->mods[ix->last];
    for (size_t i = 0; i < ix->nmods; i++) {
        if (ix->mods[i].mod == mod) {
            ix->last = i;
            return &ix->mods[i];
        }
    }
    if (ix->nmods == ix->capmods) {
        size_t cap = ix->capmods ? ix->capmods * 2 : 16;
        struct modix *v = realloc(ix->mods, cap * sizeof(*v));

        if (!v)
            return NULL;
        ix->mods = v;
        ix->capmods = cap;
    }
    m = &ix->mods[ix->nmods];
    *m = (struct modix){.mod = mod};
    ix->last = ix->nmods++;
    return m;
}

static int
add_range(struct modix *m, size_t *cap, Dwarf_Addr lo, Dwarf_Addr hi, struct unit *u)
{
    if (m->nranges == *cap) {
        size_t ncap = *cap ? *cap * 2 : 64;
        struct range *v = realloc(m->ranges, ncap * sizeof(*v));

        if (!v)
            return -ENOMEM;
        m->ranges = v;
        *cap = ncap;
    }
    m->ranges[m->nranges++] = (struct range){.lo = lo, .hi = hi, .u = u};
    return 0;
}

static int
cmp_range(const void *a, const void *b)
{
    const struct range *x = a, *y = b;

    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return 0;
}

/* Every code unit's own ranges, once per module, for the addresses that
 * .debug_aranges does not place (find_unit). */
static int
index_units(struct btc_index *ix, struct modix *m)
{
    Dwarf_CU *cu = NULL, *next;
    size_t cap = 0;
    uint8_t type;
    Dwarf_Die cudie;
    int r = 0;

    m->units_done = true;
    /* Skeletons are listed without their split units (NULL subdie): libdw
     * would open every .dwo now. */
    while (m->dw && r == 0 && dwarf_get_units(m->dw, cu, &next, NULL, &type, &cudie, NULL) == 0) {
        Dwarf_Addr base, lo, hi;
        ptrdiff_t off = 0;
        struct unit *u = NULL;

        cu = next;
        if (type != DW_UT_compile && type != DW_UT_partial && type != DW_UT_skeleton)
            continue;
        while (r == 0 && (off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
            if (lo >= hi)
                continue;
            if (!u) {
                r = unit_of(ix, &cudie, &u);
                if (r == 0)
                    u->mod = m->mod;
            }
            if (r == 0)
                r = add_range(m, &cap, lo, hi, u);
        }
    }
    if (r < 0)
        return r;
    if (m->nranges > 0)
        qsort(m->ranges, m->nranges, sizeof(*m->ranges), cmp_range);
    return 0;
}

/* The unit holding @addr (DWARF address). .debug_aranges first, when it
 * names a unit whose own ranges hold the address: one binary search in a
 * table libdw reads anyway, where listing every unit's ranges is a pass
 * over all the units (libc's 1,900). clang and rustc emit no aranges, and
 * rustc's may name a unit that does not hold the address: the units' own
 * ranges decide then, and the aranges' unit is taken only when no unit
 * claims the address. */
static int
find_unit(struct btc_index *ix, struct modix *m, Dwarf_Addr addr, struct unit **ret)
{
    Dwarf_Addr bias;
    Dwarf_Die *cudie = dwfl_module_addrdie(m->mod, addr + m->bias, &bias);
    size_t lo;
    int r;

    *ret = NULL;
    if (cudie && dwarf_haspc(cudie, addr) > 0) {
        r = unit_of(ix, cudie, ret);
        if (r == 0 && !(*ret)->mod)
            (*ret)->mod = m->mod;
        return r;
    }
    if (!m->units_done && (r = index_units(ix, m)) < 0)
        return r;
    lo = btc_upper_bound_u64(m->ranges, m->nranges, sizeof(*m->ranges), addr);
    for (size_t back = 0; back < MAX_BACK && lo > back; back++) {
        const struct range *rg = &m->ranges[lo - 1 - back];

        if (rg->lo <= addr && addr < rg->hi) {
            *ret = rg->u;
            return 0;
        }
    }
    return cudie ? unit_of(ix, cudie, ret) : 0;
}

int
btc_index_lookup(struct btc_index *ix, Dwarf_Addr addr, struct btc_index_at *ret)
{
    Dwfl_Module *mod = dwfl_addrmodule(ix->dwfl, addr);
    const struct btc_block *blk;
    struct modix *m;
    struct unit *u;
    int r;

    ret->mod = NULL;
    ret->has_unit = false;
    ret->nlevels = 0;
    if (!mod)
        return 0;
    m = mod_of(ix, mod);
    if (!m)
        return -ENOMEM;
    if (!m->dw_done) {
        m->dw = dwfl_module_getdwarf(mod, &m->bias);
        m->dw_done = true;
    }
    ret->mod = mod;
    ret->bias = m->bias;
    if (!m->dw)
        return 0;
    r = find_unit(ix, m, addr - m->bias, &u);
    if (r < 0 || !u)
        return r;
    ret->has_unit = true;
    ret->lines_cu = u->cu;
    for (blk = btc_blocks_at(unit_blocks(ix, u), addr - m->bias);
         blk && ret->nlevels < BTC_INDEX_MAX_LEVELS;
         blk = blk->parent == BTC_BLOCK_NONE ? NULL : &u->blocks.v[blk->parent])
        ret->level[ret->nlevels++] = blk->die;
    return 0;
}

static int
mod_syms(struct btc_index *ix, Dwfl_Module *mod, struct btc_elfsyms **ret)
{
    struct modix *m = mod_of(ix, mod);
    int r;

    if (!m)
        return -ENOMEM;
    if (!m->syms_done) {
        r = btc_elfsyms_new(mod, &m->syms);
        if (r < 0)
            return r;
        m->syms_done = true;
    }
    *ret = m->syms;
    return 0;
}

int
btc_index_symbol(struct btc_index *ix, Dwfl_Module *mod, Dwarf_Addr addr, const char **ret_name,
                 Dwarf_Addr *ret_start)
{
    struct btc_elfsyms *s;
    int r = mod_syms(ix, mod, &s);

    if (r < 0)
        return r;
    return btc_elfsyms_at(s, addr, ret_name, ret_start) ? 1 : 0;
}

int
btc_index_symbol_named(struct btc_index *ix, Dwfl_Module *mod, const char *name,
                       Dwarf_Addr *ret_addr)
{
    struct btc_elfsyms *s;
    int r = mod_syms(ix, mod, &s);

    if (r < 0)
        return r;
    return btc_elfsyms_named(s, name, ret_addr) ? 1 : 0;
}

int
btc_index_scopes(struct btc_index *ix, Dwarf_Die *die, Dwarf_Die **ret)
{
    Dwarf_Die cudie;
    struct unit *u;
    int n;

    /* The unit the DIE is in, whichever it is: the origin of an LTO
     * function is in an early-debug unit, that of a split unit's function
     * in the split unit. */
    if (!dwarf_diecu(die, &cudie, NULL, NULL) || unit_of(ix, &cudie, &u) < 0)
        return dwarf_getscopes_die(die, ret);
    if (!u->scopes_done) {
        if (btc_scope_map_build(&cudie, &u->scopes) < 0)
            u->scopes = NULL;
        u->scopes_done = true;
    }
    n = u->scopes ? btc_scope_map_scopes(u->scopes, die, ret) : 0;
    return n != 0 ? n : dwarf_getscopes_die(die, ret);
}
