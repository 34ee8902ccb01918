/* dwp: split compile units out of a DWARF package for libdw 0.188.
 *
 * libdw 0.188 links a skeleton unit to its split unit only by opening the
 * file the skeleton's DW_AT_[GNU_]dwo_name names. So for each unit asked
 * for this writes two small ELF files into memfds: a .dwo holding just that
 * unit's contributions (the package index gives offset and size per section
 * per unit), and a copy of the skeleton whose dwo_name is /proc/self/fd/N of
 * that .dwo, holding what libdw takes from the skeleton's file (.debug_addr,
 * DWARF 4's .debug_ranges, the line program). libdw then does the linking,
 * with its own handling of str_offsets, addr_base and ranges_base.
 *
 * Index format: DWARF 5 section 7.3.5, and its GNU version 2 for DWARF 4
 * (https://gcc.gnu.org/wiki/DebugFissionDWP). */
#include "dwp.h"

#include <dwarf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The package's sections a unit can have a contribution in. */
enum kind {
    K_INFO,
    K_ABBREV,
    K_LINE,
    K_LOC,      /* DWARF 4 */
    K_LOCLISTS, /* DWARF 5 */
    K_STR_OFFSETS,
    K_RNGLISTS, /* DWARF 5 */
    K_OTHER,    /* types, macinfo, macro: not read */
    K_N,
};

static const char *const kind_names[K_OTHER] = {
    [K_INFO] = ".debug_info.dwo",         [K_ABBREV] = ".debug_abbrev.dwo",
    [K_LINE] = ".debug_line.dwo",         [K_LOC] = ".debug_loc.dwo",
    [K_LOCLISTS] = ".debug_loclists.dwo", [K_STR_OFFSETS] = ".debug_str_offsets.dwo",
    [K_RNGLISTS] = ".debug_rnglists.dwo",
};

/* Section ids are 1 to 8 in both versions, one column each. */
#define MAX_COLUMNS 8

struct unit {
    uint64_t id;
    Dwarf *skel; /* owns the split Dwarf too (libdw ends it with the skeleton) */
    Dwarf *split;
    Dwarf_Die cu;
};

struct btc_dwp {
    int fd;
    Elf *elf;
    Elf_Data *sect[K_OTHER];
    Elf_Data *str;
    /* .debug_cu_index */
    const uint8_t *hash, *rows, *offsets, *sizes;
    uint32_t version, ncols, nunits, nslots;
    enum kind cols[MAX_COLUMNS];
    struct unit *units;
    size_t nloaded;
};

static uint32_t
rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static uint64_t
rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static bool
host_is_le(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

/* The data of section @name in @elf, decompressed, or NULL. */
static int
find_section(Elf *elf, const char *name, Elf_Data **ret)
{
    size_t shstrndx;
    Elf_Scn *scn = NULL;

    *ret = NULL;
    if (elf_getshdrstrndx(elf, &shstrndx) < 0)
        return -EINVAL;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr shdr;
        const char *n;

        if (!gelf_getshdr(scn, &shdr))
            return -EINVAL;
        n = elf_strptr(elf, shstrndx, shdr.sh_name);
        if (!n || strcmp(n, name) != 0)
            continue;
        if (shdr.sh_type == SHT_NOBITS)
            return 0;
        if ((shdr.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
            return -EINVAL;
        *ret = elf_getdata(scn, NULL);
        return *ret ? 0 : -EINVAL;
    }
    return 0;
}

static size_t
data_size(const Elf_Data *d)
{
    return d ? d->d_size : 0;
}

static enum kind
column_kind(uint32_t version, uint32_t id)
{
    switch (id) {
    case DW_SECT_INFO:
        return K_INFO;
    case DW_SECT_ABBREV:
        return K_ABBREV;
    case DW_SECT_LINE:
        return K_LINE;
    case DW_SECT_LOCLISTS: /* DW_SECT_LOC in version 2 */
        return version == 2 ? K_LOC : K_LOCLISTS;
    case DW_SECT_STR_OFFSETS:
        return K_STR_OFFSETS;
    case DW_SECT_MACRO: /* DW_SECT_MACINFO in version 2 */
        return K_OTHER;
    case DW_SECT_RNGLISTS: /* DW_SECT_MACRO in version 2 */
        return version == 2 ? K_OTHER : K_RNGLISTS;
    case 2: /* DW_SECT_TYPES in version 2, reserved in 5 */
        return version == 2 ? K_OTHER : K_N;
    default:
        return K_N;
    }
}

/* Offset and size of unit @row's (1-based) contribution to column @c. */
static void
contribution(const struct btc_dwp *p, uint32_t row, uint32_t c, uint64_t *ret_off,
             uint64_t *ret_size)
{
    size_t i = ((size_t)(row - 1) * p->ncols + c) * 4;

    *ret_off = rd32(p->offsets + i);
    *ret_size = rd32(p->sizes + i);
}

/* Check the index header, the tables' bounds, every row number in the hash
 * table and every contribution, so that lookups need no checks. */
static int
parse_index(struct btc_dwp *p, const Elf_Data *d)
{
    const uint8_t *b = d->d_buf;
    uint64_t need;
    bool seen[K_N] = {false};

    if (d->d_size < 16)
        return -EINVAL;
    /* Version 5 is a 2-byte version and 2 bytes of padding; GNU's version 2
     * is 4 bytes. */
    p->version = rd32(b);
    if (p->version != 2 && (p->version & 0xffff) != 5)
        return -EINVAL;
    p->version &= 0xffff;
    p->ncols = rd32(b + 4);
    p->nunits = rd32(b + 8);
    p->nslots = rd32(b + 12);
    if (p->ncols == 0 || p->ncols > MAX_COLUMNS || p->nunits > p->nslots ||
        (p->nslots & (p->nslots - 1)) != 0)
        return -EINVAL;
    need =
        16 + (uint64_t)p->nslots * 12 + (uint64_t)p->ncols * 4 + (uint64_t)p->nunits * p->ncols * 8;
    if (need > d->d_size)
        return -EINVAL;
    p->hash = b + 16;
    p->rows = p->hash + (size_t)p->nslots * 8;
    p->offsets = p->rows + (size_t)p->nslots * 4 + (size_t)p->ncols * 4;
    p->sizes = p->offsets + (size_t)p->nunits * p->ncols * 4;

    for (uint32_t c = 0; c < p->ncols; c++) {
        enum kind k = column_kind(p->version, rd32(p->rows + (size_t)p->nslots * 4 + c * 4));

        if (k == K_N || (k != K_OTHER && seen[k]))
            return -EINVAL;
        seen[k] = true;
        p->cols[c] = k;
    }
    if (!seen[K_INFO] || !seen[K_ABBREV])
        return -EINVAL;
    for (uint32_t s = 0; s < p->nslots; s++)
        if (rd32(p->rows + (size_t)s * 4) > p->nunits)
            return -EINVAL;
    for (uint32_t r = 1; r <= p->nunits; r++)
        for (uint32_t c = 0; c < p->ncols; c++) {
            uint64_t off, size;

            if (p->cols[c] == K_OTHER)
                continue;
            contribution(p, r, c, &off, &size);
            if (off + size > data_size(p->sect[p->cols[c]]))
                return -EINVAL;
        }
    return 0;
}

int
btc_dwp_open(const char *path, struct btc_dwp **ret)
{
    struct btc_dwp *p = calloc(1, sizeof(*p));
    Elf_Data *index;
    GElf_Ehdr ehdr;
    int r;

    if (!p)
        return -ENOMEM;
    p->fd = -1;
    p->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0) {
        r = -errno;
        goto fail;
    }
    elf_version(EV_CURRENT);
    p->elf = elf_begin(p->fd, ELF_C_READ_MMAP, NULL);
    if (!p->elf || elf_kind(p->elf) != ELF_K_ELF || !gelf_getehdr(p->elf, &ehdr)) {
        r = -EINVAL;
        goto fail;
    }
    if (ehdr.e_ident[EI_DATA] != (host_is_le() ? ELFDATA2LSB : ELFDATA2MSB)) {
        r = -ENOTSUP;
        goto fail;
    }
    for (int k = 0; k < K_OTHER; k++) {
        r = find_section(p->elf, kind_names[k], &p->sect[k]);
        if (r < 0)
            goto fail;
    }
    r = find_section(p->elf, ".debug_str.dwo", &p->str);
    if (r < 0)
        goto fail;
    r = find_section(p->elf, ".debug_cu_index", &index);
    if (r < 0)
        goto fail;
    if (!index) {
        r = -EINVAL;
        goto fail;
    }
    r = parse_index(p, index);
    if (r < 0)
        goto fail;
    *ret = p;
    return 0;
fail:
    btc_dwp_free(p);
    return r;
}

void
btc_dwp_free(struct btc_dwp *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nloaded; i++)
        dwarf_end(p->units[i].skel);
    free(p->units);
    if (p->elf)
        elf_end(p->elf);
    if (p->fd >= 0)
        close(p->fd);
    free(p);
}

/* The row of unit @id: the hash lookup of DWARF 5 section 7.3.5.4, at most
 * one probe per slot. */
static int
find_row(const struct btc_dwp *p, uint64_t id, uint32_t *ret_row)
{
    uint32_t mask = p->nslots - 1;
    uint32_t h = (uint32_t)id & mask;
    uint32_t step = ((uint32_t)(id >> 32) & mask) | 1;

    for (uint32_t i = 0; i < p->nslots; i++) {
        uint32_t row = rd32(p->rows + (size_t)h * 4);

        if (row == 0)
            return -ENOENT;
        if (rd64(p->hash + (size_t)h * 8) == id) {
            *ret_row = row;
            return 0;
        }
        h = (h + step) & mask;
    }
    return -ENOENT;
}

/* A growing byte buffer; @oom remembers a failed growth. */
struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
};

static void
put(struct buf *b, const void *v, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->cap - b->n < n) {
        size_t cap = b->cap ? b->cap : 64;
        uint8_t *np;

        while (cap - b->n < n)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void
put_uleb(struct buf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7f;

        v >>= 7;
        if (v)
            c |= 0x80;
        put(b, &c, 1);
    } while (v);
}

static void
put_u(struct buf *b, uint64_t v, size_t n)
{
    /* Host order: the package's order was checked to be the host's. */
    if (n == 1) {
        uint8_t x = (uint8_t)v;
        put(b, &x, 1);
    } else if (n == 2) {
        uint16_t x = (uint16_t)v;
        put(b, &x, 2);
    } else if (n == 4) {
        uint32_t x = (uint32_t)v;
        put(b, &x, 4);
    } else {
        put(b, &v, 8);
    }
}

struct str_ref {
    uint64_t off;
    size_t idx;
};

static int
cmp_ref(const void *a, const void *b)
{
    const struct str_ref *x = a, *y = b;

    return x->off < y->off ? -1 : x->off > y->off;
}

/* A unit's .debug_str_offsets contribution @so (entries of @osz bytes after
 * a header of @hdr bytes) rewritten into @ret_so to point into @ret_str,
 * which holds only the strings it names: the package's .debug_str.dwo is
 * shared by all units and can be large. Strings are copied once each, in
 * order of their offsets, and an offset into a string already copied (a
 * merged suffix) points into the copy, so @ret_str is never larger than
 * @str. */
static int
compact_strings(const uint8_t *so, size_t so_size, size_t hdr, size_t osz, const Elf_Data *str,
                struct buf *ret_so, struct buf *ret_str)
{
    size_t n = (so_size - hdr) / osz;
    struct str_ref *refs = NULL;
    const uint8_t *s = str ? str->d_buf : NULL;
    size_t s_size = data_size(str);
    uint64_t cur_start = 0, cur_end = 0, cur_new = 0;
    int r = 0;

    put(ret_so, so, hdr + n * osz);
    if (n == 0)
        return ret_so->oom ? -ENOMEM : 0;
    refs = calloc(n, sizeof(*refs));
    if (!refs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        refs[i].off = osz == 4 ? rd32(so + hdr + i * 4) : rd64(so + hdr + i * 8);
        refs[i].idx = i;
    }
    qsort(refs, n, sizeof(*refs), cmp_ref);
    for (size_t i = 0; i < n && !ret_so->oom; i++) {
        uint64_t off = refs[i].off, new_off;

        if (i > 0 && off < cur_end) {
            new_off = cur_new + (off - cur_start);
        } else {
            const uint8_t *nul;

            if (off >= s_size) {
                r = -EINVAL;
                goto out;
            }
            nul = memchr(s + off, 0, s_size - off);
            if (!nul) {
                r = -EINVAL;
                goto out;
            }
            cur_start = off;
            cur_end = (uint64_t)(nul - s) + 1;
            cur_new = new_off = ret_str->n;
            put(ret_str, s + off, cur_end - off);
        }
        if (new_off > (osz == 4 ? UINT32_MAX : UINT64_MAX)) {
            r = -EINVAL;
            goto out;
        }
        if (!ret_so->oom) {
            if (osz == 4) {
                uint32_t v = (uint32_t)new_off;
                memcpy(ret_so->p + hdr + refs[i].idx * 4, &v, 4);
            } else {
                memcpy(ret_so->p + hdr + refs[i].idx * 8, &new_off, 8);
            }
        }
    }
    if (ret_so->oom || ret_str->oom)
        r = -ENOMEM;
out:
    free(refs);
    return r;
}

struct sect {
    const char *name;
    const void *buf;
    size_t size;
};

#define MAX_SECTS 12

/* Write an ELF file of @like's class and machine, holding @n sections, to
 * @fd. The section data are copied into the file. */
static int
write_elf(int fd, Elf *like, const struct sect *s, size_t n)
{
    GElf_Ehdr like_eh, eh;
    struct buf names = {0};
    size_t name_off[MAX_SECTS + 1];
    Elf *e = NULL;
    Elf_Scn *scn;
    Elf_Data *d;
    GElf_Shdr sh;
    int r = -EIO;

    if (!gelf_getehdr(like, &like_eh))
        return -EINVAL;
    put(&names, "", 1);
    for (size_t i = 0; i <= n; i++) {
        const char *nm = i < n ? s[i].name : ".shstrtab";

        name_off[i] = names.n;
        put(&names, nm, strlen(nm) + 1);
    }
    if (names.oom)
        return -ENOMEM;
    e = elf_begin(fd, ELF_C_WRITE, NULL);
    if (!e || !gelf_newehdr(e, gelf_getclass(like)) || !gelf_getehdr(e, &eh))
        goto out;
    eh.e_ident[EI_DATA] = like_eh.e_ident[EI_DATA];
    eh.e_type = ET_REL;
    eh.e_machine = like_eh.e_machine;
    eh.e_version = EV_CURRENT;
    for (size_t i = 0; i <= n; i++) {
        scn = elf_newscn(e);
        if (!scn || !(d = elf_newdata(scn)) || !gelf_getshdr(scn, &sh))
            goto out;
        d->d_buf = (void *)(i < n ? s[i].buf : names.p);
        d->d_size = i < n ? s[i].size : names.n;
        d->d_type = ELF_T_BYTE;
        d->d_align = 1;
        d->d_version = EV_CURRENT;
        sh.sh_name = name_off[i];
        sh.sh_type = i < n ? SHT_PROGBITS : SHT_STRTAB;
        sh.sh_addralign = 1;
        if (!gelf_update_shdr(scn, &sh))
            goto out;
        if (i == n)
            eh.e_shstrndx = elf_ndxscn(scn);
    }
    if (!gelf_update_ehdr(e, &eh) || elf_update(e, ELF_C_WRITE) < 0)
        goto out;
    r = 0;
out:
    if (e)
        elf_end(e);
    free(names.p);
    return r;
}

/* Length of the DWARF unit (line program, .debug_addr contribution) at
 * @off in @d, header included, if it lies inside @d. */
static int
unit_extent(const Elf_Data *d, uint64_t off, uint64_t *ret_size)
{
    const uint8_t *b = d->d_buf;
    uint64_t len;

    if (off > d->d_size || d->d_size - off < 4)
        return -EINVAL;
    len = rd32(b + off);
    if (len == 0xffffffff) {
        if (d->d_size - off < 12)
            return -EINVAL;
        len = rd64(b + off + 4);
        if (len > d->d_size - off - 12)
            return -EINVAL;
        *ret_size = 12 + len;
    } else {
        if (len > d->d_size - off - 4)
            return -EINVAL;
        *ret_size = 4 + len;
    }
    return 0;
}

/* The .dwo of unit @row: its contributions, with strings compacted. */
static int
build_split(struct btc_dwp *p, uint32_t row, const struct buf *rnglists, int fd)
{
    struct sect s[MAX_SECTS];
    struct buf so = {0}, str = {0};
    const uint8_t *info = NULL, *so_in = NULL;
    uint64_t info_size = 0, so_size = 0;
    size_t n = 0, osz = 4, hdr = 0;
    int r;

    for (uint32_t c = 0; c < p->ncols; c++) {
        enum kind k = p->cols[c];
        uint64_t off, size;

        if (k == K_OTHER || (k == K_RNGLISTS && rnglists->n))
            continue;
        contribution(p, row, c, &off, &size);
        if (size == 0)
            continue;
        if (k == K_STR_OFFSETS) {
            so_in = (const uint8_t *)p->sect[k]->d_buf + off;
            so_size = size;
            continue;
        }
        if (k == K_INFO) {
            info = (const uint8_t *)p->sect[k]->d_buf + off;
            info_size = size;
        }
        s[n++] = (struct sect){kind_names[k], (const uint8_t *)p->sect[k]->d_buf + off, size};
    }
    if (rnglists->n)
        s[n++] = (struct sect){kind_names[K_RNGLISTS], rnglists->p, rnglists->n};
    /* The unit header: offset size, and a version libdw will read. */
    if (!info || info_size < 11)
        return -EINVAL;
    if (rd32(info) == 0xffffffff) {
        if (info_size < 23)
            return -EINVAL;
        osz = 8;
    }
    if (so_in) {
        /* DWARF 5 contributions start with a header (length, version 5,
         * padding); GNU's version 2 ones have none. libdw reads the same
         * way (str_offsets_base_off). */
        size_t h = so_size >= 4 && rd32(so_in) == 0xffffffff ? 16 : 8;
        uint16_t version = 0;

        if (so_size >= h)
            memcpy(&version, so_in + h - 4, 2);
        if (p->version == 5 && version == 5)
            hdr = h;
        /* Entries are as wide as the header says, or as the unit's. */
        if (hdr)
            osz = hdr == 16 ? 8 : 4;
        r = compact_strings(so_in, so_size, hdr, osz, p->str, &so, &str);
        if (r < 0)
            goto out;
        s[n++] = (struct sect){".debug_str_offsets.dwo", so.p, so.n};
        if (str.n)
            s[n++] = (struct sect){".debug_str.dwo", str.p, str.n};
    }
    r = write_elf(fd, p->elf, s, n);
out:
    free(so.p);
    free(str.p);
    return r;
}

/* What a copy of the skeleton needs from the real one. */
struct skel_info {
    Dwarf_Half version;
    uint8_t addr_size;
    const char *comp_dir;
    Dwarf_Addr low_pc;
    uint8_t unit_type;
    uint64_t unit_id;
    bool has_addr, has_ranges, has_line;
    Dwarf_Word addr_base, ranges_base, stmt_list;
    /* GNU (DWARF 4) contributions to .debug_addr and .debug_ranges give no
     * length: they end where the next unit's begins, or the section ends. */
    uint64_t addr_end, ranges_end;
    Elf_Data *addr, *ranges, *line, *line_str;
    Elf *elf;
    /* The skeleton's own ranges, the unit's code: [start, end) pairs. */
    Dwarf_Addr *cu_ranges;
    size_t n_cu_ranges;
};

/* A hostile range list is finite (each entry moves on through the section)
 * but can be long: beyond this many ranges the copy has none. */
#define MAX_CU_RANGES 65536

static bool
attr_udata(Dwarf_Die *die, unsigned name, Dwarf_Word *ret)
{
    Dwarf_Attribute a;

    return dwarf_attr(die, name, &a) && dwarf_formudata(&a, ret) == 0;
}

/* The skeleton's ranges, from libdw: the skeleton DIE's are right, which
 * the split DIE's are not in 0.188 (see build_ranges). A failure leaves the
 * copy without ranges, as does an empty list. */
static int
read_cu_ranges(Dwarf_Die *skel, struct skel_info *si)
{
    Dwarf_Addr base, start, end;
    ptrdiff_t off = 0;
    size_t cap = 0;

    while ((off = dwarf_ranges(skel, off, &base, &start, &end)) > 0) {
        if (start >= end)
            continue;
        if (si->n_cu_ranges == MAX_CU_RANGES) {
            si->n_cu_ranges = 0;
            break;
        }
        if (si->n_cu_ranges == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            Dwarf_Addr *nr = realloc(si->cu_ranges, ncap * 2 * sizeof(*nr));

            if (!nr)
                return -ENOMEM;
            si->cu_ranges = nr;
            cap = ncap;
        }
        si->cu_ranges[2 * si->n_cu_ranges] = start;
        si->cu_ranges[2 * si->n_cu_ranges + 1] = end;
        si->n_cu_ranges++;
    }
    if (off < 0)
        si->n_cu_ranges = 0;
    return 0;
}

/* The range list sections of the copies, with the skeleton's ranges at
 * @ret_off (when it has any):
 * - DWARF 4: the skeleton copy's .debug_ranges, the real one's from
 *   ranges_base on (split DIEs' ranges are offsets from there), and then
 *   the skeleton's list, absolute (a base address selection entry first).
 * - DWARF 5: the split unit's .debug_rnglists.dwo contribution (or a
 *   header when it has none), and then the skeleton's list, given to both
 *   copies. Both, because libdw 0.188's dwarf_ranges on a split unit DIE
 *   reads the skeleton's DW_AT_ranges offset in the split unit's section
 *   when that exists, and in the skeleton's otherwise.
 */
static int
build_ranges(const struct btc_dwp *p, uint32_t row, const struct skel_info *si, struct buf *ret,
             uint64_t *ret_off)
{
    size_t as = si->addr_size;

    if (si->version < 5) {
        uint64_t base = si->has_ranges ? si->ranges_base : 0;

        if (si->ranges && base > si->ranges_end)
            return -EINVAL;
        if (si->ranges && si->ranges_end > base)
            put(ret, (const uint8_t *)si->ranges->d_buf + base, si->ranges_end - base);
        *ret_off = ret->n;
        if (si->n_cu_ranges) {
            put_u(ret, as == 4 ? UINT32_MAX : UINT64_MAX, as);
            put_u(ret, 0, as);
            for (size_t i = 0; i < 2 * si->n_cu_ranges; i++)
                put_u(ret, si->cu_ranges[i], as);
            put_u(ret, 0, as);
            put_u(ret, 0, as);
        }
    } else {
        for (uint32_t c = 0; c < p->ncols; c++) {
            uint64_t off, size;

            if (p->cols[c] != K_RNGLISTS)
                continue;
            contribution(p, row, c, &off, &size);
            if (size == 0) /* the section may be absent then */
                continue;
            put(ret, (const uint8_t *)p->sect[K_RNGLISTS]->d_buf + off, size);
        }
        if (!si->n_cu_ranges)
            return ret->oom ? -ENOMEM : 0;
        if (ret->n == 0) {
            /* unit_length, version, address size, segment selector size,
             * offset entry count; the length covers the list below. */
            put_u(ret, 8 + si->n_cu_ranges * (1 + 2 * as) + 1, 4);
            put_u(ret, 5, 2);
            put_u(ret, as, 1);
            put_u(ret, 0, 1);
            put_u(ret, 0, 4);
        }
        *ret_off = ret->n;
        for (size_t i = 0; i < si->n_cu_ranges; i++) {
            put_u(ret, DW_RLE_start_end, 1);
            put_u(ret, si->cu_ranges[2 * i], as);
            put_u(ret, si->cu_ranges[2 * i + 1], as);
        }
        put_u(ret, DW_RLE_end_of_list, 1);
    }
    if (ret->n > UINT32_MAX)
        return -EFBIG;
    return ret->oom ? -ENOMEM : 0;
}

/* The ends of the skeleton's GNU .debug_addr and .debug_ranges
 * contributions: the next larger base of any unit in @dw. One pass over
 * the unit headers and their first DIE; no unit outside is opened (no
 * split DIE is asked for). */
static void
gnu_contribution_ends(Dwarf *dw, struct skel_info *si)
{
    Dwarf_CU *cu = NULL;
    Dwarf_Die cudie;

    si->addr_end = data_size(si->addr);
    si->ranges_end = data_size(si->ranges);
    while (dwarf_get_units(dw, cu, &cu, NULL, NULL, &cudie, NULL) == 0) {
        Dwarf_Word v;

        if (attr_udata(&cudie, DW_AT_GNU_addr_base, &v) && v > si->addr_base && v < si->addr_end)
            si->addr_end = v;
        /* Without a ranges_base, split DIEs' offsets are absolute: no end. */
        if (si->has_ranges && attr_udata(&cudie, DW_AT_GNU_ranges_base, &v) &&
            v > si->ranges_base && v < si->ranges_end)
            si->ranges_end = v;
    }
}

static int
read_skeleton(Dwarf_Die *skel, struct skel_info *si)
{
    Dwarf_Attribute a;
    uint8_t offset_size;
    Dwarf *dw;
    int r;

    memset(si, 0, sizeof(*si));
    if (!skel || !skel->cu ||
        dwarf_cu_info(skel->cu, &si->version, &si->unit_type, NULL, NULL, &si->unit_id,
                      &si->addr_size, &offset_size) != 0)
        return -EINVAL;
    if (si->version < 4 || si->version > 5 || (si->addr_size != 4 && si->addr_size != 8))
        return -EINVAL;
    dw = dwarf_cu_getdwarf(skel->cu);
    si->elf = dw ? dwarf_getelf(dw) : NULL;
    if (!si->elf)
        return -EINVAL;
    if (dwarf_attr(skel, DW_AT_comp_dir, &a))
        si->comp_dir = dwarf_formstring(&a);
    if (dwarf_attr(skel, DW_AT_low_pc, &a) && dwarf_formaddr(&a, &si->low_pc) != 0)
        return -EINVAL;
    si->has_addr = attr_udata(skel, DW_AT_addr_base, &si->addr_base) ||
                   attr_udata(skel, DW_AT_GNU_addr_base, &si->addr_base);
    si->has_ranges = attr_udata(skel, DW_AT_GNU_ranges_base, &si->ranges_base);
    si->has_line = attr_udata(skel, DW_AT_stmt_list, &si->stmt_list);
    if ((r = find_section(si->elf, ".debug_addr", &si->addr)) < 0 ||
        (r = find_section(si->elf, ".debug_ranges", &si->ranges)) < 0 ||
        (r = find_section(si->elf, ".debug_line", &si->line)) < 0 ||
        (r = find_section(si->elf, ".debug_line_str", &si->line_str)) < 0)
        return r;
    if (si->version < 5)
        gnu_contribution_ends(dw, si);
    return read_cu_ranges(skel, si);
}

/* The skeleton copy: one unit without children naming @dwo_path, with the
 * real skeleton's slices of .debug_addr (at offset 0, or after its 8-byte
 * header) and .debug_line (at 0), its low pc (the base address of split
 * DIEs' ranges) and the range lists of build_ranges. */
static int
build_skeleton(const struct skel_info *si, uint64_t dwo_id, const char *dwo_path,
               const struct buf *ranges, uint64_t ranges_off, int fd)
{
    struct buf abbrev = {0}, info = {0};
    struct sect s[MAX_SECTS];
    size_t n = 0;
    uint64_t addr_off = 0, addr_size = 0, addr_base = 0, line_size = 0;
    bool v5 = si->version == 5;
    int r;

    if (si->has_addr && si->addr) {
        /* DWARF 5: addr_base points after an 8-byte header giving the
         * contribution's length. GNU: no header, no length; up to the end. */
        if (v5 && si->addr_base >= 8 && unit_extent(si->addr, si->addr_base - 8, &addr_size) == 0 &&
            addr_size >= 8) {
            addr_off = si->addr_base - 8;
            addr_base = 8;
        } else if (!v5 && si->addr_base <= si->addr_end) {
            addr_off = si->addr_base;
            addr_size = si->addr_end - si->addr_base;
        } else if (v5 && si->addr_base <= si->addr->d_size) {
            /* No header found: all the rest, as libdw would read. */
            addr_off = si->addr_base;
            addr_size = si->addr->d_size - si->addr_base;
        } else {
            return -EINVAL;
        }
    }
    if (si->has_line && si->line) {
        r = unit_extent(si->line, si->stmt_list, &line_size);
        if (r < 0)
            return r;
    }
    put_uleb(&abbrev, 1);
    put_uleb(&abbrev, v5 ? DW_TAG_skeleton_unit : DW_TAG_compile_unit);
    put_u(&abbrev, DW_CHILDREN_no, 1);
    put_uleb(&abbrev, v5 ? DW_AT_dwo_name : DW_AT_GNU_dwo_name);
    put_uleb(&abbrev, DW_FORM_string);
    if (si->comp_dir) {
        put_uleb(&abbrev, DW_AT_comp_dir);
        put_uleb(&abbrev, DW_FORM_string);
    }
    if (!v5) {
        put_uleb(&abbrev, DW_AT_GNU_dwo_id);
        put_uleb(&abbrev, DW_FORM_data8);
    }
    if (addr_size) {
        put_uleb(&abbrev, v5 ? DW_AT_addr_base : DW_AT_GNU_addr_base);
        put_uleb(&abbrev, DW_FORM_sec_offset);
    }
    if (!v5) {
        put_uleb(&abbrev, DW_AT_GNU_ranges_base);
        put_uleb(&abbrev, DW_FORM_sec_offset);
    }
    put_uleb(&abbrev, DW_AT_low_pc);
    put_uleb(&abbrev, DW_FORM_addr);
    if (si->n_cu_ranges) {
        put_uleb(&abbrev, DW_AT_ranges);
        put_uleb(&abbrev, DW_FORM_sec_offset);
    }
    if (line_size) {
        put_uleb(&abbrev, DW_AT_stmt_list);
        put_uleb(&abbrev, DW_FORM_sec_offset);
    }
    put_uleb(&abbrev, 0);
    put_uleb(&abbrev, 0);
    put_uleb(&abbrev, 0);

    put_u(&info, 0, 4); /* unit_length, set below */
    put_u(&info, si->version, 2);
    if (v5) {
        put_u(&info, DW_UT_skeleton, 1);
        put_u(&info, si->addr_size, 1);
        put_u(&info, 0, 4);
        put_u(&info, dwo_id, 8);
    } else {
        put_u(&info, 0, 4);
        put_u(&info, si->addr_size, 1);
    }
    put_uleb(&info, 1);
    put(&info, dwo_path, strlen(dwo_path) + 1);
    if (si->comp_dir)
        put(&info, si->comp_dir, strlen(si->comp_dir) + 1);
    if (!v5)
        put_u(&info, dwo_id, 8);
    if (addr_size)
        put_u(&info, addr_base, 4);
    if (!v5)
        put_u(&info, 0, 4);
    put_u(&info, si->low_pc, si->addr_size);
    if (si->n_cu_ranges)
        put_u(&info, ranges_off, 4);
    if (line_size)
        put_u(&info, 0, 4);
    if (abbrev.oom || info.oom) {
        r = -ENOMEM;
        goto out;
    }
    {
        uint32_t len = (uint32_t)(info.n - 4);
        memcpy(info.p, &len, 4);
    }

    s[n++] = (struct sect){".debug_info", info.p, info.n};
    s[n++] = (struct sect){".debug_abbrev", abbrev.p, abbrev.n};
    if (addr_size)
        s[n++] =
            (struct sect){".debug_addr", (const uint8_t *)si->addr->d_buf + addr_off, addr_size};
    if (line_size) {
        s[n++] = (struct sect){".debug_line", (const uint8_t *)si->line->d_buf + si->stmt_list,
                               line_size};
        /* Line headers of DWARF 5 name files by DW_FORM_line_strp. */
        if (si->line_str && si->line_str->d_size)
            s[n++] = (struct sect){".debug_line_str", si->line_str->d_buf, si->line_str->d_size};
    }
    if (ranges->n)
        s[n++] = (struct sect){v5 ? ".debug_rnglists" : ".debug_ranges", ranges->p, ranges->n};
    r = write_elf(fd, si->elf, s, n);
out:
    free(abbrev.p);
    free(info.p);
    return r;
}

/* Load unit @row for skeleton @skel into @u. */
static int
load_unit(struct btc_dwp *p, uint32_t row, uint64_t dwo_id, Dwarf_Die *skel, struct unit *u)
{
    struct skel_info si;
    struct buf ranges = {0}, no_ranges = {0};
    uint64_t ranges_off = 0;
    char dwo_path[64];
    int split_fd = -1, skel_fd = -1, r;
    Dwarf *dw = NULL;
    Dwarf_CU *cu = NULL;
    uint8_t unit_type;
    Dwarf_Die cudie, subdie;

    r = read_skeleton(skel, &si);
    if (r < 0)
        goto out;
    /* The skeleton of another unit would give this one wrong addresses. */
    if (si.unit_type != DW_UT_skeleton || si.unit_id != dwo_id) {
        r = -EINVAL;
        goto out;
    }
    r = build_ranges(p, row, &si, &ranges, &ranges_off);
    if (r < 0)
        goto out;
    split_fd = memfd_create("btcrash-dwo", MFD_CLOEXEC);
    skel_fd = memfd_create("btcrash-skeleton", MFD_CLOEXEC);
    if (split_fd < 0 || skel_fd < 0) {
        r = -errno;
        goto out;
    }
    r = build_split(p, row, si.version == 5 ? &ranges : &no_ranges, split_fd);
    if (r < 0)
        goto out;
    snprintf(dwo_path, sizeof(dwo_path), "/proc/self/fd/%d", split_fd);
    /* Without /proc libdw would just not link the units: say why. */
    if (access(dwo_path, R_OK) != 0) {
        r = -errno;
        goto out;
    }
    r = build_skeleton(&si, dwo_id, dwo_path, &ranges, ranges_off, skel_fd);
    if (r < 0)
        goto out;
    dw = dwarf_begin(skel_fd, DWARF_C_READ);
    if (!dw) {
        r = -EINVAL;
        goto out;
    }
    /* libdw has read what it needs (its section data are mapped): */
    elf_cntl(dwarf_getelf(dw), ELF_C_FDDONE);
    /* This is where libdw opens dwo_path and links the units. */
    if (dwarf_get_units(dw, NULL, &cu, NULL, &unit_type, &cudie, &subdie) != 0 ||
        unit_type != DW_UT_skeleton || !subdie.cu || dwarf_tag(&subdie) != DW_TAG_compile_unit) {
        r = -EINVAL;
        goto out;
    }
    /* libdw 0.188's dwarf_decl_file on a split unit takes the lines from
     * the skeleton but never the files, and then asserts that it has the
     * files: read the files first. Should the files fail where the lines
     * do not, that assertion would abort the helper: refuse the unit. */
    {
        Dwarf_Files *files;
        Dwarf_Lines *lines;
        size_t n;
        bool files_ok = dwarf_getsrcfiles(&subdie, &files, &n) == 0;
        bool lines_ok = dwarf_getsrclines(&subdie, &lines, &n) == 0;

        if (!files_ok && lines_ok) {
            r = -EINVAL;
            goto out;
        }
    }
    u->id = dwo_id;
    u->skel = dw;
    u->split = dwarf_cu_getdwarf(subdie.cu);
    u->cu = subdie;
    dw = NULL;
    r = 0;
out:
    if (dw)
        dwarf_end(dw);
    if (split_fd >= 0)
        close(split_fd);
    if (skel_fd >= 0)
        close(skel_fd);
    free(ranges.p);
    free(si.cu_ranges);
    return r;
}

int
btc_dwp_unit(struct btc_dwp *p, uint64_t dwo_id, Dwarf_Die *skeleton, Dwarf **ret_dw,
             Dwarf_Die *ret_cu)
{
    struct unit u, *nu;
    uint32_t row;
    int r;

    for (size_t i = 0; i < p->nloaded; i++)
        if (p->units[i].id == dwo_id) {
            *ret_dw = p->units[i].split;
            *ret_cu = p->units[i].cu;
            return 0;
        }
    r = find_row(p, dwo_id, &row);
    if (r < 0)
        return r;
    r = load_unit(p, row, dwo_id, skeleton, &u);
    if (r < 0)
        return r;
    /* At most one per unit of the index: nloaded <= nunits. */
    nu = realloc(p->units, (p->nloaded + 1) * sizeof(*nu));
    if (!nu) {
        dwarf_end(u.skel);
        return -ENOMEM;
    }
    p->units = nu;
    p->units[p->nloaded++] = u;
    *ret_dw = u.split;
    *ret_cu = u.cu;
    return 0;
}

static int
try_path(const char *base, size_t len, char **ret_path)
{
    struct stat st;
    char *path;

    if (asprintf(&path, "%.*s.dwp", (int)len, base) < 0)
        return -ENOMEM;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        *ret_path = path;
        return 0;
    }
    free(path);
    return -ENOENT;
}

int
btc_dwp_find(const char *exe_path, const char *debug_path, char **ret_path)
{
    int r = -ENOENT;

    if (exe_path)
        r = try_path(exe_path, strlen(exe_path), ret_path);
    if (r == -ENOENT && debug_path) {
        size_t len = strlen(debug_path);

        r = try_path(debug_path, len, ret_path);
        if (r == -ENOENT && len > 6 && strcmp(debug_path + len - 6, ".debug") == 0)
            r = try_path(debug_path, len - 6, ret_path);
    }
    return r;
}
