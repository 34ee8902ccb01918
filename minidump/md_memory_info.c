/* md_memory_info: see md_memory_info.h. */
#include "md_memory_info.h"

#include <stdio.h>
#include <string.h>

/* The format's protection of a mapping with permissions @perms ("r-xp"):
 * Windows has no write-only or execute-write-only page, so write implies
 * read, as Crashpad maps them too. */
static uint32_t
protection(const char *perms)
{
    bool r = perms[0] == 'r', w = perms[1] == 'w', x = perms[2] == 'x';

    if (x)
        return w ? BTC_MD_PROT_EXECUTE_RW : r ? BTC_MD_PROT_EXECUTE_READ : BTC_MD_PROT_EXECUTE;
    if (w)
        return BTC_MD_PROT_READWRITE;
    return r ? BTC_MD_PROT_READONLY : BTC_MD_PROT_NOACCESS;
}

/* Parse one maps line into @m; false when it is not one. */
static bool
parse_line(const char *line, size_t n, struct btc_md_memory_info *m)
{
    char text[128], perms[5];
    unsigned long long lo, hi;

    /* Only the address range and the permissions are needed: the start. */
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    memcpy(text, line, n);
    text[n] = 0;
    if (sscanf(text, "%llx-%llx %4s", &lo, &hi, perms) != 3 || hi <= lo || strlen(perms) != 4)
        return false;
    *m = (struct btc_md_memory_info){
        .base_address = lo,
        .allocation_base = lo,
        .allocation_protection = protection(perms),
        .region_size = hi - lo,
        .state = BTC_MD_MEM_COMMIT,
        .protection = protection(perms),
        .type = perms[3] == 's' ? BTC_MD_MEM_MAPPED : BTC_MD_MEM_PRIVATE,
    };
    return true;
}

struct btc_md_location
btc_md_memory_info(struct btc_md_buf *b, const char *maps, size_t len)
{
    struct btc_md_memory_info_list h = {.size_of_header = sizeof(h),
                                        .size_of_entry = sizeof(struct btc_md_memory_info)};
    const char *p = maps, *end = maps + len;
    uint32_t rva = btc_md_buf_append(b, &h, sizeof(h), 8);

    while (rva && maps && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        struct btc_md_memory_info m;

        if (parse_line(p, n, &m) && btc_md_buf_append(b, &m, sizeof(m), 1))
            h.number_of_entries++;
        p += n + 1;
    }
    if (!rva || b->failed)
        return (struct btc_md_location){0};
    btc_md_buf_patch(b, rva, &h, sizeof(h));
    return (struct btc_md_location){
        .data_size =
            (uint32_t)(sizeof(h) + h.number_of_entries * sizeof(struct btc_md_memory_info)),
        .rva = rva};
}
