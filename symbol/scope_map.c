/* scope_map: see scope_map.h. */
#include "scope_map.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <dwarf.h>

/* Deeper nesting than this is a corrupt or hostile file, not code. */
#define MAX_DEPTH 64
#define NO_PARENT UINT32_MAX
/* 2^24 entries are 0.8 GiB: a hostile unit, not a program's. */
#define MAX_ENTRIES (1u << 24)

struct entry {
    Dwarf_Off off;
    Dwarf_Die die;
    uint32_t parent; /* index, or NO_PARENT for a child of the unit DIE */
};

struct btc_scope_map {
    Dwarf_Die root;
    struct entry *v; /* by offset: a depth-first walk visits DIEs in order */
    size_t n, cap;
};

static bool
is_scope(int tag)
{
    switch (tag) {
    case DW_TAG_namespace:
    case DW_TAG_module:
    case DW_TAG_structure_type:
    case DW_TAG_class_type:
    case DW_TAG_union_type:
    case DW_TAG_enumeration_type:
    case DW_TAG_interface_type:
    case DW_TAG_subprogram:
    case DW_TAG_lexical_block:
        return true;
    default:
        return false;
    }
}

static int
add(struct btc_scope_map *m, Dwarf_Die *die, uint32_t parent)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 256;
        struct entry *v;

        if (m->n >= MAX_ENTRIES)
            return -E2BIG;
        v = realloc(m->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        m->v = v;
        m->cap = cap;
    }
    m->v[m->n++] = (struct entry){.off = dwarf_dieoffset(die), .die = *die, .parent = parent};
    return 0;
}

static int
walk(struct btc_scope_map *m, Dwarf_Die *die, uint32_t parent, int depth)
{
    Dwarf_Die child;
    int r = 0;

    if (depth > MAX_DEPTH || dwarf_child(die, &child) != 0)
        return 0;
    do {
        if (!is_scope(dwarf_tag(&child)))
            continue;
        r = add(m, &child, parent);
        if (r == 0 && dwarf_haschildren(&child))
            r = walk(m, &child, (uint32_t)(m->n - 1), depth + 1);
    } while (r == 0 && dwarf_siblingof(&child, &child) == 0);
    return r;
}

int
btc_scope_map_build(Dwarf_Die *root, struct btc_scope_map **ret)
{
    struct btc_scope_map *m = calloc(1, sizeof(*m));
    int r;

    if (!m)
        return -ENOMEM;
    m->root = *root;
    r = walk(m, root, NO_PARENT, 0);
    /* Past MAX_ENTRIES the map holds what was read; the rest is named by
     * dwarf_getscopes_die. */
    if (r < 0 && r != -E2BIG) {
        btc_scope_map_free(m);
        return r;
    }
    *ret = m;
    return 0;
}

int
btc_scope_map_scopes(const struct btc_scope_map *m, Dwarf_Die *die, Dwarf_Die **ret)
{
    Dwarf_Off off = dwarf_dieoffset(die);
    size_t lo = 0, hi = m->n, i, n = 2;
    Dwarf_Die *v;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->v[mid].off < off)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->n || m->v[lo].off != off)
        return 0;
    /* @die and the unit DIE, and the entries between. Parents come before
     * their children, so the chain is at most MAX_DEPTH long. */
    for (i = m->v[lo].parent; i != NO_PARENT && n <= MAX_DEPTH + 2; i = m->v[i].parent)
        n++;
    v = malloc(n * sizeof(*v));
    if (!v)
        return -ENOMEM;
    n = 0;
    v[n++] = *die;
    for (i = m->v[lo].parent; i != NO_PARENT && n <= MAX_DEPTH + 1; i = m->v[i].parent)
        v[n++] = m->v[i].die;
    v[n++] = m->root;
    *ret = v;
    return (int)n;
}

void
btc_scope_map_free(struct btc_scope_map *m)
{
    if (!m)
        return;
    free(m->v);
    free(m);
}
