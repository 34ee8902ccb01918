/* tailcall: see tailcall.h. */
#include "tailcall.h"
#include "call_sites.h"
#include "index.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>
#include <elfutils/libdw.h>

/* Bounds on the search through tail-calling functions: chains are short in
 * practice, and a corrupt or recursive call graph must not stall the helper. */
#define MAX_DEPTH  8
#define MAX_CHAINS 16
#define MAX_SITES  4096

struct search {
    struct btc_index *ix;
    struct btc_call_sites *sites;
    uint64_t callee_entry;
    uint64_t path[MAX_DEPTH];    /* return pcs of the tail-call sites so far, caller side first */
    uint64_t targets[MAX_DEPTH]; /* the functions entered along the path, to stop cycles */
    size_t depth;
    uint64_t chains[MAX_CHAINS][MAX_DEPTH];
    size_t chain_len[MAX_CHAINS];
    size_t nchains;
    size_t sites_seen;
};

/* The address a direct call site jumps to. Its DW_AT_call_origin is the
 * definition when that is in the same unit, otherwise a declaration, which
 * only names the function (as gdb resolves it, through the symbol table). */
static bool
site_target(struct btc_index *ix, Dwfl_Module *mod, Dwarf_Addr bias, Dwarf_Die *site, uint64_t *ret)
{
    Dwarf_Attribute attr;
    Dwarf_Die origin;
    Dwarf_Addr pc;
    const char *name;

    if (!dwarf_attr(site, DW_AT_call_origin, &attr) &&
        !dwarf_attr(site, DW_AT_abstract_origin, &attr))
        return false; /* an indirect call: DW_AT_call_target needs register values */
    if (!dwarf_formref_die(&attr, &origin))
        return false;
    if (dwarf_entrypc(&origin, &pc) == 0) {
        *ret = pc + bias;
        return true;
    }
    name = dwarf_formstring(dwarf_attr_integrate(&origin, DW_AT_linkage_name, &attr));
    if (name && btc_index_symbol_named(ix, mod, name, ret) == 1)
        return true;
    name = dwarf_diename(&origin);
    return name && btc_index_symbol_named(ix, mod, name, ret) == 1;
}

/* The concrete DW_TAG_subprogram whose code contains @addr, and its bias. */
static bool
subprogram_at(struct btc_index *ix, uint64_t addr, Dwfl_Module **ret_mod, Dwarf_Die *ret_die,
              Dwarf_Addr *ret_bias)
{
    struct btc_index_at *at = malloc(sizeof(*at));
    bool found = false;

    /* The physical nesting: past inlined subroutines, the function they
     * were inlined into. */
    if (at && btc_index_lookup(ix, addr, at) == 0 && at->nlevels > 0 &&
        dwarf_tag(&at->level[at->nlevels - 1]) == DW_TAG_subprogram) {
        *ret_mod = at->mod;
        *ret_die = at->level[at->nlevels - 1];
        *ret_bias = at->bias;
        found = true;
    }
    free(at);
    return found;
}

static void search_from(struct search *s, uint64_t target);

/* The entry of the function holding @addr in @mod: its DWARF subprogram's
 * entry pc, which needs no symbol table (sorting python3.11's costs more
 * than symbolizing its frames), else its ELF symbol's address.
 * Returns: 1 and *ret, 0 when there is none, or -ENOMEM. */
static int
function_entry(struct btc_index *ix, Dwfl_Module *mod, uint64_t addr, Dwarf_Addr *ret)
{
    Dwfl_Module *fn_mod;
    Dwarf_Die fn;
    Dwarf_Addr bias, pc;
    const char *name;

    if (subprogram_at(ix, addr, &fn_mod, &fn, &bias) && dwarf_entrypc(&fn, &pc) == 0) {
        *ret = pc + bias;
        return 1;
    }
    return btc_index_symbol(ix, mod, addr, &name, ret);
}

/* Follow every tail-call site of function @fn. */
static void
follow_tail_sites(struct search *s, Dwfl_Module *mod, Dwarf_Addr bias, Dwarf_Die *fn)
{
    const struct btc_call_site *sites;
    size_t n;

    if (btc_call_sites_of(s->sites, fn, &sites, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        Dwarf_Die site = sites[i].die;
        uint64_t target;

        if (s->nchains == MAX_CHAINS || ++s->sites_seen > MAX_SITES)
            return;
        if (!sites[i].tail || !site_target(s->ix, mod, bias, &site, &target))
            continue;
        s->path[s->depth++] = sites[i].ret_pc + bias;
        search_from(s, target);
        s->depth--;
    }
}

/* Record every chain of tail calls that leads from function @target to the
 * callee. */
static void
search_from(struct search *s, uint64_t target)
{
    Dwfl_Module *mod;
    Dwarf_Die fn;
    Dwarf_Addr bias;

    if (target == s->callee_entry) {
        if (s->depth > 0 && s->nchains < MAX_CHAINS) {
            memcpy(s->chains[s->nchains], s->path, s->depth * sizeof(s->path[0]));
            s->chain_len[s->nchains++] = s->depth;
        }
        return;
    }
    if (s->depth == MAX_DEPTH)
        return;
    for (size_t i = 0; i < s->depth; i++)
        if (s->targets[i] == target)
            return;
    if (!subprogram_at(s->ix, target, &mod, &fn, &bias))
        return;
    s->targets[s->depth] = target;
    follow_tail_sites(s, mod, bias, &fn);
}

/* Keep what all chains agree on, as gdb does for ambiguous tail calls: the
 * sites next to the caller and those next to the callee. Writes them
 * innermost first. */
static int
common_sites(const struct search *s, uint64_t **ret_pcs, size_t *ret_n)
{
    size_t minlen = s->chain_len[0], prefix, suffix, n = 0;
    uint64_t *pcs;

    for (size_t c = 1; c < s->nchains; c++)
        if (s->chain_len[c] < minlen)
            minlen = s->chain_len[c];
    for (prefix = 0; prefix < minlen; prefix++) {
        bool same = true;

        for (size_t c = 1; c < s->nchains && same; c++)
            same = s->chains[c][prefix] == s->chains[0][prefix];
        if (!same)
            break;
    }
    for (suffix = 0; prefix + suffix < minlen; suffix++) {
        bool same = true;
        uint64_t pc0 = s->chains[0][s->chain_len[0] - 1 - suffix];

        for (size_t c = 1; c < s->nchains && same; c++)
            same = s->chains[c][s->chain_len[c] - 1 - suffix] == pc0;
        if (!same)
            break;
    }
    if (prefix + suffix == 0) {
        *ret_pcs = NULL;
        *ret_n = 0;
        return 0;
    }
    pcs = malloc((prefix + suffix) * sizeof(*pcs));
    if (!pcs)
        return -ENOMEM;
    for (size_t i = 0; i < suffix; i++)
        pcs[n++] = s->chains[0][s->chain_len[0] - 1 - i];
    /* With one chain prefix already covers it all and suffix is 0. */
    for (size_t i = prefix; i > 0; i--)
        pcs[n++] = s->chains[0][i - 1];
    *ret_pcs = pcs;
    *ret_n = n;
    return 0;
}

int
btc_unwind_tailcalls(struct btc_index *ix, struct btc_call_sites *cache, uint64_t callee_addr,
                     uint64_t caller_ra, uint64_t **ret_pcs, size_t *ret_n)
{
    struct search *s;
    Dwfl_Module *callee_mod = dwfl_addrmodule(btc_index_dwfl(ix), callee_addr), *mod;
    const struct btc_call_site *sites, *site;
    Dwarf_Die fn, site_die;
    size_t nsites;
    Dwarf_Addr bias, callee_entry;
    uint64_t target;
    int r = 0;

    *ret_pcs = NULL;
    *ret_n = 0;
    if (!callee_mod || caller_ra == 0)
        return 0;
    r = function_entry(ix, callee_mod, callee_addr, &callee_entry);
    if (r <= 0)
        return r;
    r = 0;
    if (!subprogram_at(ix, caller_ra - 1, &mod, &fn, &bias))
        return 0;
    r = btc_call_sites_of(cache, &fn, &sites, &nsites);
    if (r < 0)
        return r;
    site = btc_call_sites_find(sites, nsites, caller_ra - bias);
    if (!site)
        return 0;
    site_die = site->die;
    if (!site_target(ix, mod, bias, &site_die, &target))
        return 0;
    if (target == callee_entry)
        return 0; /* the caller called the callee itself: nothing is missing */
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->ix = ix;
    s->sites = cache;
    s->callee_entry = callee_entry;
    search_from(s, target);
    if (s->nchains > 0)
        r = common_sites(s, ret_pcs, ret_n);
    free(s);
    return r;
}
