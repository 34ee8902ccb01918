/* md_system: see md_system.h. */
#include "md_system.h"

#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

/* The CPU's family, model and stepping (cpuid 1), with the extended
 * fields Intel and AMD add for families 6 and 15. */
static void
cpu_fields(struct btc_md_system_info *si)
{
    unsigned eax, ebx, ecx, edx, family, model, stepping;

    if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx))
        return;
    si->vendor_id[0] = ebx;
    si->vendor_id[1] = edx;
    si->vendor_id[2] = ecx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return;
    si->version_information = eax;
    si->feature_information = edx;
    family = (eax >> 8) & 0xf;
    model = (eax >> 4) & 0xf;
    stepping = eax & 0xf;
    if (family == 0xf)
        family += (eax >> 20) & 0xff;
    if (family == 0x6 || family >= 0xf)
        model += ((eax >> 16) & 0xf) << 4;
    si->level = (uint16_t)family;
    si->revision = (uint16_t)(model << 8 | stepping);
    if (__get_cpuid(0x80000001, &eax, &ebx, &ecx, &edx))
        si->amd_extended_features = ebx;
}

struct btc_md_location
btc_md_system_info(struct btc_md_buf *b)
{
    struct btc_md_system_info si = {.arch = BTC_MD_CPU_AMD64, .platform_id = BTC_MD_OS_LINUX};
    struct utsname u;
    char csd[4 * sizeof(u.release)];
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    uint32_t rva;

    si.nprocs = (uint8_t)(n <= 0 ? 1 : n > 255 ? 255 : n);
    cpu_fields(&si);
    if (uname(&u) == 0) {
        unsigned major = 0, minor = 0, build = 0;

        /* "6.1.0-28-amd64": 6, 1, 0. */
        (void)sscanf(u.release, "%u.%u.%u", &major, &minor, &build);
        si.major = major;
        si.minor = minor;
        si.build = build;
        snprintf(csd, sizeof(csd), "%s %s %s %s", u.sysname, u.release, u.version, u.machine);
    } else {
        snprintf(csd, sizeof(csd), "Linux");
    }
    rva = btc_md_buf_append(b, &si, sizeof(si), 8);
    /* The string goes after the stream, which names it. */
    si.csd_version_rva = btc_md_buf_string(b, csd, strlen(csd));
    btc_md_buf_patch(b, rva, &si, sizeof(si));
    return (struct btc_md_location){.data_size = b->failed ? 0 : sizeof(si), .rva = rva};
}
