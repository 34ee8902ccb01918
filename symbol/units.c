/* units: see units.h. */
#include "units.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

bool
btc_unwind_unit_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Die *ret_cu, Dwarf_Addr *ret_bias)
{
    Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, ret_bias);
    Dwarf_CU *unit = NULL, *next;
    uint8_t type;
    Dwarf *dw;

    /* .debug_aranges may also be wrong (rustc's name units that do not hold
     * the pc by their own ranges): the unit's ranges decide, and the
     * aranges' unit is kept only when no unit claims the pc. */
    if (cu && dwarf_haspc(cu, addr - *ret_bias) > 0) {
        *ret_cu = *cu;
        return true;
    }
    dw = dwfl_module_getdwarf(mod, ret_bias);
    /* Every unit of .debug_info, DWARF 4 and 5 alike; type units and
     * skeletons hold no code, and dwarf_haspc says 0 for them. */
    while (dw && dwarf_get_units(dw, unit, &next, NULL, &type, ret_cu, NULL) == 0) {
        if ((type == DW_UT_compile || type == DW_UT_partial) &&
            dwarf_haspc(ret_cu, addr - *ret_bias) > 0)
            return true;
        unit = next;
    }
    if (cu)
        *ret_cu = *cu;
    return cu != NULL;
}
