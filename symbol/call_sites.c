/* call_sites: see call_sites.h. */
#include "call_sites.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <dwarf.h>

/* Deeper nesting than this is a corrupt or hostile file, not code. */
#define MAX_DEPTH 64
/* More sites than this in one function is a hostile file. */
#define MAX_SITES (1u << 20)

struct fn_sites {
    const void *key; /* the function DIE's address in its section */
    struct btc_call_site *v;
    size_t n;
};

/* Functions by key, open addressing; a power of two, at most half full. */
struct btc_call_sites {
    struct fn_sites *t;
    size_t cap, count;
};

int
btc_call_sites_new(struct btc_call_sites **ret)
{
    *ret = calloc(1, sizeof(**ret));
    return *ret ? 0 : -ENOMEM;
}

void
btc_call_sites_free(struct btc_call_sites *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->cap; i++)
        free(c->t[i].v);
    free(c->t);
    free(c);
}

static size_t
slot_of(const struct btc_call_sites *c, const void *key)
{
    uintptr_t h = ((uintptr_t)key >> 2) * (uintptr_t)0x9e3779b97f4a7c15ull;

    return (size_t)(h >> 20) & (c->cap - 1);
}

static int
grow(struct btc_call_sites *c)
{
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct fn_sites *t = calloc(cap, sizeof(*t)), *old = c->t;
    size_t oldcap = c->cap;

    if (!t)
        return -ENOMEM;
    c->t = t;
    c->cap = cap;
    for (size_t i = 0; i < oldcap; i++) {
        size_t s;

        if (!old[i].key)
            continue;
        for (s = slot_of(c, old[i].key); t[s].key; s = (s + 1) & (cap - 1))
            ;
        t[s] = old[i];
    }
    free(old);
    return 0;
}

struct collect {
    struct btc_call_site *v;
    size_t n, cap;
};

/* DWARF 5 names it DW_AT_call_return_pc; the GNU extension used DW_AT_low_pc. */
static bool
site_return_pc(Dwarf_Die *site, Dwarf_Addr *ret)
{
    Dwarf_Attribute attr;

    if (dwarf_attr(site, DW_AT_call_return_pc, &attr) || dwarf_attr(site, DW_AT_low_pc, &attr))
        return dwarf_formaddr(&attr, ret) == 0;
    return false;
}

static int
add_site(struct collect *co, Dwarf_Die *die)
{
    Dwarf_Addr pc;

    if (!site_return_pc(die, &pc))
        return 0;
    if (co->n == co->cap) {
        size_t cap = co->cap ? co->cap * 2 : 32;
        struct btc_call_site *v;

        if (co->n >= MAX_SITES)
            return -E2BIG;
        v = realloc(co->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        co->v = v;
        co->cap = cap;
    }
    co->v[co->n++] = (struct btc_call_site){
        .ret_pc = pc,
        .tail = dwarf_hasattr(die, DW_AT_call_tail_call) || dwarf_hasattr(die, DW_AT_GNU_tail_call),
        .die = *die,
    };
    return 0;
}

static int
collect(struct collect *co, Dwarf_Die *scope, int depth)
{
    Dwarf_Die child;
    int r = 0;

    if (depth > MAX_DEPTH || dwarf_child(scope, &child) != 0)
        return 0;
    do {
        int tag = dwarf_tag(&child);

        if (tag == DW_TAG_call_site || tag == DW_TAG_GNU_call_site)
            r = add_site(co, &child);
        else if (dwarf_haschildren(&child))
            r = collect(co, &child, depth + 1);
    } while (r == 0 && dwarf_siblingof(&child, &child) == 0);
    return r;
}

static int
cmp_site(const void *a, const void *b)
{
    const struct btc_call_site *x = a, *y = b;

    return x->ret_pc < y->ret_pc ? -1 : x->ret_pc > y->ret_pc;
}

int
btc_call_sites_of(struct btc_call_sites *c, Dwarf_Die *fn, const struct btc_call_site **ret,
                  size_t *ret_n)
{
    struct collect co = {0};
    size_t s;
    int r;

    if (c->cap > 0) {
        for (s = slot_of(c, fn->addr); c->t[s].key; s = (s + 1) & (c->cap - 1)) {
            if (c->t[s].key == fn->addr) {
                *ret = c->t[s].v;
                *ret_n = c->t[s].n;
                return 0;
            }
        }
    }
    if ((c->count + 1) * 2 > c->cap && grow(c) < 0)
        return -ENOMEM;
    r = collect(&co, fn, 0);
    /* A hostile function past MAX_SITES keeps the sites read so far. */
    if (r < 0 && r != -E2BIG) {
        free(co.v);
        return r;
    }
    if (co.n > 1)
        qsort(co.v, co.n, sizeof(*co.v), cmp_site);
    for (s = slot_of(c, fn->addr); c->t[s].key; s = (s + 1) & (c->cap - 1))
        ;
    c->t[s] = (struct fn_sites){.key = fn->addr, .v = co.v, .n = co.n};
    c->count++;
    *ret = co.v;
    *ret_n = co.n;
    return 0;
}

const struct btc_call_site *
btc_call_sites_find(const struct btc_call_site *sites, size_t n, Dwarf_Addr ret_pc)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sites[mid].ret_pc < ret_pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && sites[lo].ret_pc == ret_pc ? &sites[lo] : NULL;
}
