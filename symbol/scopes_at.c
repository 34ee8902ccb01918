/* scopes_at: see scopes_at.h. */
#include "scopes_at.h"

#include <stdbool.h>

#include <dwarf.h>

/* Deeper nesting than this is a corrupt or hostile file, not code. */
#define MAX_DEPTH 64

/* DIEs without a range that may hold functions: gdb looks into them too. */
static bool
is_container(int tag)
{
    return tag == DW_TAG_namespace || tag == DW_TAG_module || tag == DW_TAG_structure_type ||
           tag == DW_TAG_class_type || tag == DW_TAG_union_type || tag == DW_TAG_enumeration_type ||
           tag == DW_TAG_interface_type;
}

static bool
is_code_scope(int tag)
{
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_lexical_block || tag == DW_TAG_entry_point;
}

/* Depth first under @parent: the innermost code scope holding @pc, in
 * *@best. Returns true when one was found. A code scope that holds @pc is
 * descended alone: code scopes of one parent never overlap (GNU as's
 * aliases of one function aside, which symbolize.c resolves). */
static bool
innermost(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *best, int depth)
{
    Dwarf_Die child;

    if (depth > MAX_DEPTH || dwarf_child(parent, &child) != 0)
        return false;
    do {
        int tag = dwarf_tag(&child);

        if (is_container(tag)) {
            if (innermost(&child, pc, best, depth + 1))
                return true;
        } else if (is_code_scope(tag) && dwarf_haspc(&child, pc) == 1) {
            *best = child;
            innermost(&child, pc, best, depth + 1);
            return true;
        }
    } while (dwarf_siblingof(&child, &child) == 0);
    return false;
}

int
btc_unwind_scopes_at(Dwarf_Die *cudie, Dwarf_Addr pc, Dwarf_Die **ret)
{
    Dwarf_Die best;

    if (!innermost(cudie, pc, &best, 0))
        return 0;
    return dwarf_getscopes_die(&best, ret);
}
