/* md_format: the minidump file format's structures that btcrash writes,
 * as Breakpad's minidump_format.h and Microsoft's MINIDUMP_* documentation
 * define them (little-endian, x86_64 only). Every size is checked below
 * against the format's: a reader takes them byte for byte. */
#ifndef BTCRASH_MD_FORMAT_H
#define BTCRASH_MD_FORMAT_H

#include <stdint.h>

#define BTC_MD_SIGNATURE 0x504d444du /* "MDMP" */
#define BTC_MD_VERSION   0x0000a793u /* low 16 bits; the high ones are ours: 0 */

enum btc_md_stream {
    BTC_MD_THREAD_LIST = 3,
    BTC_MD_MODULE_LIST = 4,
    BTC_MD_MEMORY_LIST = 5,
    BTC_MD_EXCEPTION = 6,
    BTC_MD_SYSTEM_INFO = 7,
    BTC_MD_MISC_INFO = 15,
    BTC_MD_MEMORY_INFO_LIST = 16,
    BTC_MD_THREAD_NAME_LIST = 24,
    /* Breakpad's own streams, which Crashpad, Sentry and lldb read too. */
    BTC_MD_BREAKPAD_INFO = 0x47670001,
    BTC_MD_LINUX_CPU_INFO = 0x47670003,
    BTC_MD_LINUX_PROC_STATUS = 0x47670004,
    BTC_MD_LINUX_CMD_LINE = 0x47670006,
    BTC_MD_LINUX_ENVIRON = 0x47670007,
    BTC_MD_LINUX_AUXV = 0x47670008,
    BTC_MD_LINUX_MAPS = 0x47670009,
};

#define BTC_MD_CPU_AMD64      9           /* PROCESSOR_ARCHITECTURE_AMD64 */
#define BTC_MD_OS_LINUX       0x8201      /* MD_OS_LINUX */
#define BTC_MD_CV_ELF         0x4270454cu /* "BpEL": the CodeView record holds an ELF build-id */
#define BTC_MD_DUMP_REQUESTED 0xffffffffu /* exception code of a dump without a crash */

/* MDRawContextAMD64.context_flags */
#define BTC_MD_CONTEXT_AMD64          0x00100000u
#define BTC_MD_CONTEXT_AMD64_CONTROL  (BTC_MD_CONTEXT_AMD64 | 0x1u)
#define BTC_MD_CONTEXT_AMD64_INTEGER  (BTC_MD_CONTEXT_AMD64 | 0x2u)
#define BTC_MD_CONTEXT_AMD64_SEGMENTS (BTC_MD_CONTEXT_AMD64 | 0x4u)
#define BTC_MD_CONTEXT_AMD64_FLOAT    (BTC_MD_CONTEXT_AMD64 | 0x8u)

/* MDRawMiscInfo.flags1 */
#define BTC_MD_MISC_PROCESS_ID 0x1u
/* MDRawBreakpadInfo.validity */
#define BTC_MD_BREAKPAD_REQUESTING_THREAD 0x2u

/* MDRawMemoryInfo: state, protection, type */
#define BTC_MD_MEM_COMMIT        0x1000u
#define BTC_MD_PROT_NOACCESS     0x01u
#define BTC_MD_PROT_READONLY     0x02u
#define BTC_MD_PROT_READWRITE    0x04u
#define BTC_MD_PROT_EXECUTE      0x10u
#define BTC_MD_PROT_EXECUTE_READ 0x20u
#define BTC_MD_PROT_EXECUTE_RW   0x40u
#define BTC_MD_MEM_PRIVATE       0x20000u
#define BTC_MD_MEM_MAPPED        0x40000u

struct btc_md_location {
    uint32_t data_size;
    uint32_t rva;
};

struct btc_md_memory {
    uint64_t start;
    struct btc_md_location memory;
};

struct btc_md_header {
    uint32_t signature;
    uint32_t version;
    uint32_t stream_count;
    uint32_t stream_directory_rva;
    uint32_t checksum;
    uint32_t time_date_stamp;
    uint64_t flags;
};

struct btc_md_directory {
    uint32_t stream_type;
    struct btc_md_location location;
};

struct btc_md_thread {
    uint32_t thread_id;
    uint32_t suspend_count;
    uint32_t priority_class;
    uint32_t priority;
    uint64_t teb;
    struct btc_md_memory stack;
    struct btc_md_location context;
};

/* MDRawModule: 108 bytes, packed (its 64-bit first member would pad it). */
struct __attribute__((packed)) btc_md_module {
    uint64_t base;
    uint32_t size;
    uint32_t checksum;
    uint32_t time_date_stamp;
    uint32_t name_rva;
    uint32_t version_info[13]; /* VS_FIXEDFILEINFO: none for ELF */
    struct btc_md_location cv_record;
    struct btc_md_location misc_record;
    uint32_t reserved[4];
};

struct btc_md_exception {
    uint32_t thread_id;
    uint32_t align0;
    uint32_t code;  /* Linux: the signal number */
    uint32_t flags; /* Linux: si_code */
    uint64_t record;
    uint64_t address;
    uint32_t nparams;
    uint32_t align1;
    uint64_t params[15];
    struct btc_md_location context;
};

struct btc_md_system_info {
    uint16_t arch;
    uint16_t level;    /* x86: the CPU family */
    uint16_t revision; /* x86: model << 8 | stepping */
    uint8_t nprocs;
    uint8_t product_type;
    uint32_t major, minor, build;
    uint32_t platform_id;
    uint32_t csd_version_rva; /* Linux: "uname -srvm" */
    uint16_t suite_mask;
    uint16_t reserved;
    uint32_t vendor_id[3];        /* cpuid 0: ebx, edx, ecx */
    uint32_t version_information; /* cpuid 1: eax */
    uint32_t feature_information; /* cpuid 1: edx */
    uint32_t amd_extended_features;
};

struct btc_md_misc_info {
    uint32_t size_of_info;
    uint32_t flags1;
    uint32_t process_id;
    uint32_t process_create_time;
    uint32_t process_user_time;
    uint32_t process_kernel_time;
};

struct btc_md_breakpad_info {
    uint32_t validity;
    uint32_t dump_thread_id;
    uint32_t requesting_thread_id;
};

/* MINIDUMP_THREAD_NAME: packed to 4, as the format has it. */
struct __attribute__((packed, aligned(4))) btc_md_thread_name {
    uint32_t thread_id;
    uint64_t name_rva; /* RVA64 of an MDString */
};

struct btc_md_context_amd64 {
    uint64_t home[6];
    uint32_t context_flags;
    uint32_t mx_csr;
    uint16_t cs, ds, es, fs, gs, ss;
    uint32_t eflags;
    uint64_t dr0, dr1, dr2, dr3, dr6, dr7;
    uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip;
    unsigned char fxsave[512]; /* XMM_SAVE_AREA32: the FXSAVE image */
    unsigned char vector_register[26 * 16];
    uint64_t vector_control;
    uint64_t debug_control;
    uint64_t last_branch_to_rip, last_branch_from_rip;
    uint64_t last_exception_to_rip, last_exception_from_rip;
};

struct btc_md_memory_info_list {
    uint32_t size_of_header;
    uint32_t size_of_entry;
    uint64_t number_of_entries;
};

struct btc_md_memory_info {
    uint64_t base_address;
    uint64_t allocation_base;
    uint32_t allocation_protection;
    uint32_t align1;
    uint64_t region_size;
    uint32_t state;
    uint32_t protection;
    uint32_t type;
    uint32_t align2;
};

_Static_assert(sizeof(struct btc_md_memory_info_list) == 16, "MDRawMemoryInfoList");
_Static_assert(sizeof(struct btc_md_memory_info) == 48, "MDRawMemoryInfo");
_Static_assert(sizeof(struct btc_md_location) == 8, "MDLocationDescriptor");
_Static_assert(sizeof(struct btc_md_memory) == 16, "MDMemoryDescriptor");
_Static_assert(sizeof(struct btc_md_header) == 32, "MDRawHeader");
_Static_assert(sizeof(struct btc_md_directory) == 12, "MDRawDirectory");
_Static_assert(sizeof(struct btc_md_thread) == 48, "MDRawThread");
_Static_assert(sizeof(struct btc_md_module) == 108, "MDRawModule (MD_MODULE_SIZE)");
_Static_assert(sizeof(struct btc_md_exception) == 168, "MDRawExceptionStream");
_Static_assert(sizeof(struct btc_md_system_info) == 56, "MDRawSystemInfo");
_Static_assert(sizeof(struct btc_md_misc_info) == 24, "MDRawMiscInfo (MD_MISCINFO_SIZE)");
_Static_assert(sizeof(struct btc_md_breakpad_info) == 12, "MDRawBreakpadInfo");
_Static_assert(sizeof(struct btc_md_thread_name) == 12, "MDRawThreadName");
_Static_assert(sizeof(struct btc_md_context_amd64) == 1232, "MDRawContextAMD64");

#endif
