/* blocks: see blocks.h. */
#include "blocks.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <dwarf.h>

#include "upper_bound.h"

/* Deeper nesting than this is a corrupt or hostile file, not code. */
#define MAX_DEPTH 64
/* A unit with more ranges than this is hostile: 2^24 blocks are 1.3 GiB. */
#define MAX_BLOCKS (1u << 24)
/* How far back a lookup looks past the closest block when the tree's
 * ranges are not properly nested (corrupt DWARF). */
#define MAX_BACK 8

struct build {
    struct btc_block *v;
    size_t n, cap;
    int r;
};

/* The parent DIE's blocks, pushed as indexes [first, last): a child range
 * lies in one of them. */
struct parent_span {
    size_t first, last;
    uint32_t depth;
};

static bool
is_container(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_module || tag == DW_TAG_structure_type ||
           tag == DW_TAG_class_type || tag == DW_TAG_union_type || tag == DW_TAG_enumeration_type ||
           tag == DW_TAG_interface_type;
}

static int
push(struct build *b, const struct btc_block *blk)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        struct btc_block *v;

        if (b->n >= MAX_BLOCKS)
            return -E2BIG;
        v = realloc(b->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *blk;
    return 0;
}

/* Push @die's ranges as blocks under @parent. Returns the span pushed. */
static int
push_ranges(struct build *b, Dwarf_Die *die, const struct parent_span *parent,
            struct parent_span *ret)
{
    Dwarf_Addr base, lo, hi;
    ptrdiff_t off = 0;
    int r = 0;

    ret->first = b->n;
    ret->depth = parent ? parent->depth + 1 : 0;
    while (r == 0 && (off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
        struct btc_block blk = {.lo = lo, .hi = hi, .die = *die, .parent = BTC_BLOCK_NONE};

        if (lo >= hi)
            continue;
        for (size_t i = parent ? parent->first : 0; parent && i < parent->last; i++) {
            if (b->v[i].lo <= lo && lo < b->v[i].hi) {
                blk.parent = (uint32_t)i;
                break;
            }
        }
        /* A range outside every range of its parent (corrupt DWARF): a
         * tree of its own rather than a wrong nesting. */
        blk.depth = blk.parent == BTC_BLOCK_NONE ? 0 : ret->depth;
        r = push(b, &blk);
    }
    ret->last = b->n;
    return r;
}

/* Depth first under @die; @parent: the blocks of the innermost enclosing
 * function or inlined call, or NULL at unit level. */
static int
walk(struct build *b, Dwarf_Die *die, const struct parent_span *parent, int depth)
{
    Dwarf_Die child;
    int r = 0;

    if (depth > MAX_DEPTH || dwarf_child(die, &child) != 0)
        return 0;
    do {
        int tag = dwarf_tag(&child);
        struct parent_span span;

        if (is_container(tag)) {
            r = walk(b, &child, parent, depth + 1);
        } else if (tag == DW_TAG_subprogram) {
            /* A nested function's code is its own, outside its parent's
             * ranges: a tree of its own. */
            r = push_ranges(b, &child, NULL, &span);
            if (r == 0)
                r = walk(b, &child, span.first < span.last ? &span : NULL, depth + 1);
        } else if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_entry_point) {
            r = push_ranges(b, &child, parent, &span);
            if (r == 0)
                r = walk(b, &child, span.first < span.last ? &span : parent, depth + 1);
        } else if (tag == DW_TAG_lexical_block) {
            /* Transparent: what it holds nests in the function around it. */
            r = walk(b, &child, parent, depth + 1);
        }
    } while (r == 0 && dwarf_siblingof(&child, &child) == 0);
    return r;
}

/* Sorting moves the blocks: the parent indexes, positions in push order,
 * are rewritten through the permutation, which sorting each block along
 * with its push position gives. */
struct item {
    struct btc_block blk;
    uint32_t pushed;
};

static int
cmp_item(const void *a, const void *b)
{
    const struct btc_block *x = &((const struct item *)a)->blk;
    const struct btc_block *y = &((const struct item *)b)->blk;

    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    /* At one start and depth the later DIE last: of GNU as's aliases of
     * one assembly function (__clone3, clone3), gdb shows the last, and a
     * lookup takes the last block that starts at or below the pc. DIEs of
     * one unit lie in one buffer in DIE order. */
    if (x->die.addr != y->die.addr)
        return (const char *)x->die.addr < (const char *)y->die.addr ? -1 : 1;
    return 0;
}

static int
sort_blocks(struct build *b)
{
    struct item *items = malloc(b->n * sizeof(*items));
    uint32_t *where = malloc(b->n * sizeof(*where));

    if (!items || !where) {
        free(items);
        free(where);
        return -ENOMEM;
    }
    for (size_t i = 0; i < b->n; i++)
        items[i] = (struct item){.blk = b->v[i], .pushed = (uint32_t)i};
    qsort(items, b->n, sizeof(*items), cmp_item);
    for (size_t i = 0; i < b->n; i++) {
        b->v[i] = items[i].blk;
        where[items[i].pushed] = (uint32_t)i;
    }
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].parent != BTC_BLOCK_NONE)
            b->v[i].parent = where[b->v[i].parent];
    free(items);
    free(where);
    return 0;
}

int
btc_blocks_build(Dwarf_Die *root, struct btc_blocks *ret)
{
    struct build b = {0};
    int r = walk(&b, root, NULL, 0);

    if (r == 0 && b.n > 0)
        r = sort_blocks(&b);
    if (r < 0 && r != -E2BIG) {
        free(b.v);
        return r;
    }
    /* A hostile unit past MAX_BLOCKS keeps what was read: still a tree,
     * since a block is pushed only after its parent. */
    if (r == -E2BIG && b.n > 0 && sort_blocks(&b) < 0) {
        free(b.v);
        return -ENOMEM;
    }
    *ret = (struct btc_blocks){.v = b.v, .n = b.n};
    return 0;
}

static bool
holds(const struct btc_block *blk, Dwarf_Addr addr)
{
    return blk->lo <= addr && addr < blk->hi;
}

const struct btc_block *
btc_blocks_at(const struct btc_blocks *b, Dwarf_Addr addr)
{
    /* After the last block starting at or below @addr. Blocks nest: if it
     * does not hold @addr, the innermost one that does encloses it, so it
     * is one of its ancestors. */
    size_t lo = btc_upper_bound_u64(b->v, b->n, sizeof(*b->v), addr);

    for (size_t back = 0; back < MAX_BACK && lo > back; back++) {
        const struct btc_block *blk = &b->v[lo - 1 - back];

        for (int up = 0; up <= MAX_DEPTH && blk; up++) {
            if (holds(blk, addr))
                return blk;
            blk = blk->parent == BTC_BLOCK_NONE ? NULL : &b->v[blk->parent];
        }
        /* Only corrupt DWARF has an enclosing block that is no ancestor;
         * look a few blocks further back for one. */
    }
    return NULL;
}

void
btc_blocks_free(struct btc_blocks *b)
{
    free(b->v);
    *b = (struct btc_blocks){0};
}
