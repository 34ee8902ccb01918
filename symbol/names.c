/* names: see names.h. */
#include "names.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <dwarf.h>

#include "rust_demangle.h"

/* libstdc++'s demangler (cxxabi.h is C++ only). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* DW_AT_abstract_origin/DW_AT_specification chains are short in practice;
 * the bound only guards against a corrupt DIE referring to itself. */
#define MAX_ORIGIN_HOPS 16

char *
btc_unwind_demangle(const char *sym)
{
    char *d = NULL;
    int r = btc_rust_demangle(sym, &d);

    /* Rust first: a legacy Rust symbol is also a valid Itanium name, which
     * __cxa_demangle would give with its hash and its "$LT$" escapes. */
    if (r == 0)
        return d;
    if (r == -ENOMEM)
        return NULL;
    if (strncmp(sym, "_Z", 2) == 0) {
        int status = 0;

        d = __cxa_demangle(sym, NULL, NULL, &status);
        if (d && status == 0)
            return d;
        free(d);
    }
    return strdup(sym);
}

static const char *
linkage_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name;

    /* dwarf_attr_integrate looks through abstract origins and specifications:
     * the linkage name sits on the declaration inside the class, or on the
     * abstract instance of an inlined function. */
    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!name)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    return name;
}

/* A growing string; buf is NUL-terminated once anything was added. */
struct namebuf {
    char *buf;
    size_t len;
    size_t cap;
};

static int
nb_addn(struct namebuf *nb, const char *s, size_t n)
{
    if (nb->len + n + 1 > nb->cap) {
        size_t cap = (nb->len + n + 1) * 2;
        char *b = realloc(nb->buf, cap);

        if (!b)
            return -ENOMEM;
        nb->buf = b;
        nb->cap = cap;
    }
    memcpy(nb->buf + nb->len, s, n);
    nb->len += n;
    nb->buf[nb->len] = '\0';
    return 0;
}

static int
nb_add(struct namebuf *nb, const char *s)
{
    return nb_addn(nb, s, strlen(s));
}

/* The DIE that carries @die's DW_AT_name: its enclosing scopes give the
 * qualification, which the concrete (inlined or out-of-line) DIE lacks. */
static bool
named_die(Dwarf_Die *die, Dwarf_Die *ret)
{
    Dwarf_Die cur = *die;

    for (int i = 0; i < MAX_ORIGIN_HOPS; i++) {
        Dwarf_Attribute attr;
        Dwarf_Die next;

        if (dwarf_hasattr(&cur, DW_AT_name)) {
            *ret = cur;
            return true;
        }
        if (!dwarf_attr(&cur, DW_AT_abstract_origin, &attr) &&
            !dwarf_attr(&cur, DW_AT_specification, &attr))
            return false;
        if (!dwarf_formref_die(&attr, &next))
            return false;
        cur = next;
    }
    return false;
}

/* Appends "name::" for each scope that qualifies @named, outermost first.
 * gdb's rules: namespaces ("(anonymous namespace)" when unnamed) and named
 * classes qualify; an unnamed class (a lambda's closure) or an enclosing
 * function ends the prefix, so a lambda is plain "operator()". */
/* Where a caller finds scopes: its index, or libdw's walk of the unit. */
struct scopes_src {
    btc_unwind_scopes_fn fn;
    void *arg;
};

static int
append_prefix(Dwarf_Die *named, const struct scopes_src *src, struct namebuf *nb)
{
    Dwarf_Die *scopes = NULL;
    int nscopes = src->fn ? src->fn(src->arg, named, &scopes) : dwarf_getscopes_die(named, &scopes);
    int outer = 1, r = 0;

    for (; outer < nscopes; outer++) {
        int tag = dwarf_tag(&scopes[outer]);

        if (tag == DW_TAG_namespace)
            continue;
        if ((tag == DW_TAG_class_type || tag == DW_TAG_structure_type ||
             tag == DW_TAG_union_type) &&
            dwarf_diename(&scopes[outer]))
            continue;
        if (tag == DW_TAG_lexical_block)
            continue;
        break;
    }
    for (int i = outer - 1; i >= 1 && r == 0; i--) {
        int tag = dwarf_tag(&scopes[i]);
        const char *name = dwarf_diename(&scopes[i]);

        if (tag == DW_TAG_lexical_block)
            continue;
        r = nb_add(nb, name ? name : "(anonymous namespace)");
        if (r == 0)
            r = nb_add(nb, "::");
    }
    free(scopes);
    return r;
}

/* gdb prints C++ names in its canonical form (cp_canonicalize_string),
 * while GCC's DW_AT_name spells template arguments as "long int" and the
 * like. The built-in type spellings that differ, longest first. */
static const struct {
    const char *from, *to;
} g_canonical[] = {
    {"long long unsigned int", "unsigned long long"},
    {"long long int", "long long"},
    {"long unsigned int", "unsigned long"},
    {"short unsigned int", "unsigned short"},
    {"long int", "long"},
    {"short int", "short"},
};

static bool
is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Copy @s into @nb with gdb's spelling of built-in types. */
static int
add_canonical(struct namebuf *nb, const char *s)
{
    const char *start = s;
    int r = 0;

    while (*s && r == 0) {
        bool replaced = false;

        if (s == start || !is_ident_char(s[-1])) {
            for (size_t i = 0; i < sizeof(g_canonical) / sizeof(g_canonical[0]); i++) {
                size_t len = strlen(g_canonical[i].from);

                if (strncmp(s, g_canonical[i].from, len) == 0 && !is_ident_char(s[len])) {
                    r = nb_add(nb, g_canonical[i].to);
                    s += len;
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced && r == 0)
            r = nb_addn(nb, s++, 1);
    }
    return r;
}

/* Languages whose functions gdb names by their DWARF: the namespaces and
 * DW_AT_name ("rust_null::level1", "core::ptr::write_volatile<i32>"). */
static bool
is_named_by_dwarf(Dwarf_Die *die)
{
    Dwarf_Die cu;

    if (!dwarf_diecu(die, &cu, NULL, NULL))
        return false;
    switch (dwarf_srclang(&cu)) {
    case DW_LANG_C_plus_plus:
    case DW_LANG_C_plus_plus_03:
    case DW_LANG_C_plus_plus_11:
    case DW_LANG_C_plus_plus_14:
    case DW_LANG_ObjC_plus_plus:
    case DW_LANG_Rust:
        return true;
    default:
        return false;
    }
}

/* "ns::Class::name" from DWARF, canonicalized. Returns 0 and a new string,
 * 1 when @die has no DW_AT_name, or -ENOMEM. */
static int
qualified_name(Dwarf_Die *die, const struct scopes_src *src, char **ret)
{
    struct namebuf raw = {0}, out = {0};
    Dwarf_Die named;
    const char *name;
    int r;

    if (!named_die(die, &named) || !(name = dwarf_diename(&named)))
        return 1;
    r = append_prefix(&named, src, &raw);
    if (r == 0)
        r = nb_add(&raw, name);
    if (r == 0)
        r = add_canonical(&out, raw.buf);
    free(raw.buf);
    if (r < 0) {
        free(out.buf);
        return r;
    }
    *ret = out.buf;
    return 0;
}

int
btc_unwind_die_name(Dwarf_Die *die, btc_unwind_scopes_fn scopes, void *arg, char **ret_name)
{
    const struct scopes_src src = {.fn = scopes, .arg = arg};
    const char *name = linkage_name(die);
    int r;

    /* As gdb names functions that have DWARF. In C++ that is the qualified
     * DW_AT_name: the demangled linkage name would add the return type of
     * template instances and spell a lambda
     * "main::{lambda(int)#1}::operator()(int) const" where gdb says
     * "operator()". Elsewhere the linkage name wins: glibc's C functions
     * carry their internal alias there, which is what gdb shows
     * ("__GI_raise"). Rust is named like C++: its linkage name ends in a
     * hash. */
    if (is_named_by_dwarf(die) || !name) {
        r = qualified_name(die, &src, ret_name);
        if (r <= 0)
            return r;
    }
    if (!name) {
        *ret_name = NULL;
        return 0;
    }
    *ret_name = btc_unwind_demangle(name);
    return *ret_name ? 0 : -ENOMEM;
}
