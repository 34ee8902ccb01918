/* tailcall: see tailcall.h. */
#include "tailcall.h"
#include "scopes_at.h"
#include "units.h"

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
    Dwfl *dwfl;
    uint64_t callee_entry;
    uint64_t path[MAX_DEPTH];    /* return pcs of the tail-call sites so far, caller side first */
    uint64_t targets[MAX_DEPTH]; /* the functions entered along the path, to stop cycles */
    size_t depth;
    uint64_t chains[MAX_CHAINS][MAX_DEPTH];
    size_t chain_len[MAX_CHAINS];
    size_t nchains;
    size_t sites_seen;
};

static bool
is_call_site(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);

    return tag == DW_TAG_call_site || tag == DW_TAG_GNU_call_site;
}

/* DWARF 5 names it DW_AT_call_return_pc; the GNU extension used DW_AT_low_pc. */
static bool
site_return_pc(Dwarf_Die *site, Dwarf_Addr *ret)
{
    Dwarf_Attribute attr;

    if (dwarf_attr(site, DW_AT_call_return_pc, &attr) || dwarf_attr(site, DW_AT_low_pc, &attr))
        return dwarf_formaddr(&attr, ret) == 0;
    return false;
}

static bool
site_is_tail_call(Dwarf_Die *site)
{
    return dwarf_hasattr(site, DW_AT_call_tail_call) || dwarf_hasattr(site, DW_AT_GNU_tail_call);
}

/* Entry address of the ELF function symbol named @name in @mod. */
static bool
symbol_address(Dwfl_Module *mod, const char *name, uint64_t *ret)
{
    int n = dwfl_module_getsymtab(mod);

    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *s = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);

        if (s && sym.st_shndx != SHN_UNDEF &&
            (GELF_ST_TYPE(sym.st_info) == STT_FUNC || GELF_ST_TYPE(sym.st_info) == STT_GNU_IFUNC) &&
            strcmp(s, name) == 0) {
            *ret = addr;
            return true;
        }
    }
    return false;
}

/* The address a direct call site jumps to. Its DW_AT_call_origin is the
 * definition when that is in the same unit, otherwise a declaration, which
 * only names the function (as gdb resolves it, through the symbol table). */
static bool
site_target(Dwfl_Module *mod, Dwarf_Addr bias, Dwarf_Die *site, uint64_t *ret)
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
    if (name && symbol_address(mod, name, ret))
        return true;
    name = dwarf_diename(&origin);
    return name && symbol_address(mod, name, ret);
}

/* The concrete DW_TAG_subprogram whose code contains @addr, and its bias. */
static bool
subprogram_at(Dwfl *dwfl, uint64_t addr, Dwfl_Module **ret_mod, Dwarf_Die *ret_die,
              Dwarf_Addr *ret_bias)
{
    Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
    Dwarf_Die *scopes = NULL;
    Dwarf_Die cudie;
    Dwarf_Addr bias;
    bool found = false;
    int n;

    if (!mod || !btc_unwind_unit_at(mod, addr, &cudie, &bias))
        return false;
    /* The physical nesting: past inlined subroutines, the function they
     * were inlined into. */
    n = btc_unwind_scopes_at(&cudie, addr - bias, &scopes);
    for (int i = 0; i < n && !found; i++) {
        if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
            *ret_die = scopes[i];
            found = true;
        }
    }
    free(scopes);
    if (found) {
        *ret_mod = mod;
        *ret_bias = bias;
    }
    return found;
}

/* Depth-first over @scope's subtree: the call site returning to @ret_pc. */
static bool
find_site(Dwarf_Die *scope, Dwarf_Addr ret_pc, Dwarf_Die *ret)
{
    Dwarf_Die child;

    if (dwarf_child(scope, &child) != 0)
        return false;
    do {
        Dwarf_Addr pc;

        if (is_call_site(&child)) {
            if (site_return_pc(&child, &pc) && pc == ret_pc) {
                *ret = child;
                return true;
            }
        } else if (dwarf_haschildren(&child) && find_site(&child, ret_pc, ret)) {
            return true;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
}

static void search_from(struct search *s, uint64_t target);

/* Follow every tail-call site in @scope's subtree. */
static void
follow_tail_sites(struct search *s, Dwfl_Module *mod, Dwarf_Addr bias, Dwarf_Die *scope)
{
    Dwarf_Die child;

    if (dwarf_child(scope, &child) != 0)
        return;
    do {
        Dwarf_Addr pc;
        uint64_t target;

        if (s->nchains == MAX_CHAINS || ++s->sites_seen > MAX_SITES)
            return;
        if (!is_call_site(&child)) {
            if (dwarf_haschildren(&child))
                follow_tail_sites(s, mod, bias, &child);
            continue;
        }
        if (!site_is_tail_call(&child) || !site_return_pc(&child, &pc) ||
            !site_target(mod, bias, &child, &target))
            continue;
        s->path[s->depth++] = pc + bias;
        search_from(s, target);
        s->depth--;
    } while (dwarf_siblingof(&child, &child) == 0);
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
    if (!subprogram_at(s->dwfl, target, &mod, &fn, &bias))
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
btc_unwind_tailcalls(Dwfl *dwfl, uint64_t callee_addr, uint64_t caller_ra, uint64_t **ret_pcs,
                     size_t *ret_n)
{
    struct search *s;
    Dwfl_Module *callee_mod = dwfl_addrmodule(dwfl, callee_addr), *mod;
    Dwarf_Die fn, site;
    Dwarf_Addr bias;
    GElf_Off off;
    GElf_Sym sym;
    uint64_t target;
    int r = 0;

    *ret_pcs = NULL;
    *ret_n = 0;
    if (!callee_mod || caller_ra == 0 ||
        !dwfl_module_addrinfo(callee_mod, callee_addr, &off, &sym, NULL, NULL, NULL))
        return 0;
    if (!subprogram_at(dwfl, caller_ra - 1, &mod, &fn, &bias) ||
        !find_site(&fn, caller_ra - bias, &site) || !site_target(mod, bias, &site, &target))
        return 0;
    if (target == callee_addr - off)
        return 0; /* the caller called the callee itself: nothing is missing */
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->dwfl = dwfl;
    s->callee_entry = callee_addr - off;
    search_from(s, target);
    if (s->nchains > 0)
        r = common_sites(s, ret_pcs, ret_n);
    free(s);
    return r;
}
