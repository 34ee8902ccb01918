/* elf_syms: see elf_syms.h. */
#include "elf_syms.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "upper_bound.h"

/* How far back from the closest start a lookup looks for a sized symbol
 * that contains the address (a function holding smaller symbols, such as
 * a local label given a type). Bounded, so that a lookup stays O(log n). */
#define MAX_BACK 64

struct sym {
    Dwarf_Addr start; /* first: the key of btc_upper_bound_u64 */
    Dwarf_Addr size;
    const char *name;
    unsigned char type;
};

struct btc_elfsyms {
    struct sym *v; /* by start, then type, then name */
    size_t n;
    const struct sym **by_name; /* the functions, by name; built on first use */
    size_t nby_name;
    bool by_name_done;
};

static int
cmp_start(const void *a, const void *b)
{
    const struct sym *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return strcmp(x->name, y->name);
}

static bool
is_code_or_data(const GElf_Sym *sym)
{
    int type = GELF_ST_TYPE(sym->st_info);

    /* What libdwfl's address lookup considers: defined symbols other than
     * sections, files and thread-local offsets. */
    return sym->st_shndx != SHN_UNDEF && type != STT_SECTION && type != STT_FILE && type != STT_TLS;
}

int
btc_elfsyms_new(Dwfl_Module *mod, struct btc_elfsyms **ret)
{
    struct btc_elfsyms *s = calloc(1, sizeof(*s));
    int n = dwfl_module_getsymtab(mod);

    if (!s)
        return -ENOMEM;
    if (n > 1) {
        s->v = malloc((size_t)n * sizeof(*s->v));
        if (!s->v) {
            free(s);
            return -ENOMEM;
        }
    }
    /* Index 0 is the null symbol. */
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);

        if (!name || !*name || !is_code_or_data(&sym))
            continue;
        s->v[s->n++] = (struct sym){
            .start = addr,
            .size = sym.st_size,
            .name = name,
            .type = (unsigned char)GELF_ST_TYPE(sym.st_info),
        };
    }
    if (s->n > 0)
        qsort(s->v, s->n, sizeof(*s->v), cmp_start);
    *ret = s;
    return 0;
}

void
btc_elfsyms_free(struct btc_elfsyms *s)
{
    if (!s)
        return;
    free(s->v);
    free(s->by_name);
    free(s);
}

static bool
is_function(const struct sym *c)
{
    return c->type == STT_FUNC || c->type == STT_GNU_IFUNC;
}

/* Of the symbols starting where @i starts that cover @addr (sizeless, or
 * sized and holding it: an alias of another size may end before @addr,
 * as glibc's versions of sys_errlist do), those of one type: a function's
 * if one is there, else @i's; and of them the last by name (the array's
 * order within one start and type). */
static size_t
pick_alias(const struct btc_elfsyms *s, size_t i, Dwarf_Addr addr)
{
    Dwarf_Addr start = s->v[i].start;
    size_t first = i, best;

    while (first > 0 && s->v[first - 1].start == start)
        first--;
    best = i;
    for (size_t k = first; k < s->n && s->v[k].start == start; k++) {
        if (s->v[k].size > 0 && addr - start >= s->v[k].size)
            continue;
        if (is_function(&s->v[k]) && !is_function(&s->v[best]))
            best = k;
        if (s->v[k].type == s->v[best].type)
            best = k;
    }
    return best;
}

bool
btc_elfsyms_at(const struct btc_elfsyms *s, Dwarf_Addr addr, const char **ret_name,
               Dwarf_Addr *ret_start)
{
    size_t end = btc_upper_bound_u64(s->v, s->n, sizeof(*s->v), addr), stop, found = s->n;

    if (end == 0)
        return false;
    stop = end > MAX_BACK ? end - MAX_BACK : 0;
    for (size_t i = end; i > stop && found == s->n; i--) {
        const struct sym *c = &s->v[i - 1];

        if (c->size > 0 && addr - c->start < c->size)
            found = i - 1;
    }
    /* No sized symbol holds it: the closest sizeless one, if any. */
    for (size_t i = end; found == s->n && i > 0 && s->v[i - 1].start == s->v[end - 1].start; i--)
        if (s->v[i - 1].size == 0)
            found = i - 1;
    if (found == s->n)
        return false;
    found = pick_alias(s, found, addr);
    *ret_name = s->v[found].name;
    *ret_start = s->v[found].start;
    return true;
}

static int
cmp_name(const void *a, const void *b)
{
    const struct sym *const *x = a, *const *y = b;

    return strcmp((*x)->name, (*y)->name);
}

static int
build_by_name(struct btc_elfsyms *s)
{
    s->by_name_done = true;
    if (s->n == 0)
        return 0;
    s->by_name = malloc(s->n * sizeof(*s->by_name));
    if (!s->by_name)
        return -ENOMEM;
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].type == STT_FUNC || s->v[i].type == STT_GNU_IFUNC)
            s->by_name[s->nby_name++] = &s->v[i];
    qsort(s->by_name, s->nby_name, sizeof(*s->by_name), cmp_name);
    return 0;
}

bool
btc_elfsyms_named(struct btc_elfsyms *s, const char *name, Dwarf_Addr *ret_addr)
{
    size_t lo = 0, hi;

    if (!s->by_name_done && build_by_name(s) < 0)
        return false;
    hi = s->nby_name;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->by_name[mid]->name, name);

        if (c == 0) {
            *ret_addr = s->by_name[mid]->start;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}
