/* Unit tests of capture/scan.c: which bytes end with an x86-64 call, the
 * stack scan's bounds, and the default in-function predicate on this very
 * process. The bytes are those gas assembles for each form. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "modules.h"
#include "scan.h"

/* Bytes ending at a return address, padded in front with nops. */
static bool
after_call(const unsigned char *insn, size_t len)
{
    unsigned char b[BTC_SCAN_CALL_BYTES];

    assert_true(len <= sizeof(b));
    memset(b, 0x90, sizeof(b));
    memcpy(b + sizeof(b) - len, insn, len);
    return btc_scan_after_call(b);
}

#define INSN(...)                                                                                  \
    ((const unsigned char[]){__VA_ARGS__}), sizeof((const unsigned char[]){__VA_ARGS__})

static void
test_scan_knows_every_call_form(void **state)
{
    (void)state;
    assert_true(after_call(INSN(0xe8, 0x00, 0x00, 0x00, 0x00)));       /* call rel32 */
    assert_true(after_call(INSN(0xe8, 0x10, 0xff, 0xff, 0xff)));       /* backwards */
    assert_true(after_call(INSN(0xff, 0xd0)));                         /* call *%rax */
    assert_true(after_call(INSN(0x41, 0xff, 0xd0)));                   /* call *%r8 */
    assert_true(after_call(INSN(0x3e, 0xff, 0xd0)));                   /* notrack call *%rax */
    assert_true(after_call(INSN(0xff, 0x10)));                         /* call *(%rax) */
    assert_true(after_call(INSN(0x41, 0xff, 0x13)));                   /* call *(%r11) */
    assert_true(after_call(INSN(0xff, 0x14, 0x24)));                   /* call *(%rsp) */
    assert_true(after_call(INSN(0xff, 0x54, 0x24, 0x08)));             /* call *8(%rsp) */
    assert_true(after_call(INSN(0xff, 0x94, 0x24, 0x00, 0x01, 0, 0))); /* call *0x100(%rsp) */
    assert_true(after_call(INSN(0xff, 0x53, 0x08)));                   /* call *8(%rbx) */
    assert_true(after_call(INSN(0xff, 0x93, 0x78, 0x56, 0x34, 0x12))); /* call *disp32(%rbx) */
    assert_true(after_call(INSN(0xff, 0x15, 0x00, 0x00, 0x00, 0x00))); /* call *g(%rip) */
    assert_true(after_call(INSN(0xff, 0x14, 0xc5, 0, 0, 0, 0)));       /* call *t(,%rax,8) */
    assert_true(after_call(INSN(0xff, 0x14, 0x25, 0, 0, 0, 0)));       /* call *abs32 */
    assert_true(after_call(INSN(0xff, 0x14, 0xd8)));                   /* call *(%rax,%rbx,8) */
    assert_true(after_call(INSN(0xff, 0x54, 0xd8, 0x10)));             /* call *16(%rax,%rbx,8) */
    /* call *0x1000(%r12,%r13,4): REX.XB, SIB, disp32: 8 bytes. */
    assert_true(after_call(INSN(0x43, 0xff, 0x94, 0xac, 0x00, 0x10, 0x00, 0x00)));
    assert_true(after_call(INSN(0x41, 0xff, 0xd5)));             /* call *%r13 */
    assert_true(after_call(INSN(0x41, 0xff, 0x55, 0x00)));       /* call *0(%r13) */
    assert_true(after_call(INSN(0x41, 0xff, 0x54, 0x24, 0x08))); /* call *8(%r12) */
}

static void
test_scan_refuses_what_is_no_call(void **state)
{
    (void)state;
    assert_false(after_call(INSN(0x90)));                               /* nop */
    assert_false(after_call(INSN(0xc3)));                               /* ret */
    assert_false(after_call(INSN(0x48, 0x89, 0xc3)));                   /* mov %rax,%rbx */
    assert_false(after_call(INSN(0xff, 0xe0)));                         /* jmp *%rax (FF /4) */
    assert_false(after_call(INSN(0xff, 0x25, 0, 0, 0, 0)));             /* jmp *g(%rip) */
    assert_false(after_call(INSN(0xff, 0x30)));                         /* push (%rax) (FF /6) */
    assert_false(after_call(INSN(0xff, 0x1c, 0x24)));                   /* lcall *(%rsp) (FF /3) */
    assert_false(after_call(INSN(0xe9, 0x00, 0x00, 0x00, 0x00)));       /* jmp rel32 */
    assert_false(after_call(INSN(0xe8, 0x00, 0x00, 0x00, 0x00, 0x90))); /* one byte past */
    assert_false(after_call(INSN(0xff, 0xd0, 0x90)));                   /* one byte past */
    /* A ModRM that needs more bytes than there are before the end. */
    assert_false(after_call(INSN(0xff, 0x15)));                   /* RIP-relative, no disp32 */
    assert_false(after_call(INSN(0xff, 0x15, 0x00, 0x00)));       /* half its disp32 */
    assert_false(after_call(INSN(0xff, 0x14)));                   /* SIB missing */
    assert_false(after_call(INSN(0xff, 0x54, 0x24)));             /* disp8 missing */
    assert_false(after_call(INSN(0xff, 0x94, 0x24, 0x00, 0x01))); /* disp32 cut */
}

/* The predicate of the scan tests: [lo, hi) are functions; calls counted. */
struct range {
    uint64_t lo, hi;
    int calls;
};

static bool
in_range(void *arg, uint64_t addr, uint64_t *ret_start)
{
    struct range *r = arg;

    r->calls++;
    if (ret_start)
        *ret_start = r->lo;
    return addr >= r->lo && addr < r->hi;
}

__attribute__((noipa)) static uint64_t
return_address(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

/* noipa: not folded into return_address, whose code it shares. */
__attribute__((noipa)) static uint64_t
other_address(void)
{
    return (uint64_t)(uintptr_t)__builtin_return_address(0);
}

/* Data that ends like a call, and a return address that follows one. */
static const unsigned char g_fake_code[16] = {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                              0x90, 0x90, 0x90, 0xe8, 0x00, 0x00, 0x00, 0x00};
static const unsigned char g_jmp_code[16] = {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
                                             0x90, 0x90, 0x90, 0xe9, 0x00, 0x00, 0x00, 0x00};

static void
test_scan_finds_the_first_return_address_into_a_function(void **state)
{
    uint64_t ra = return_address(), stack[16], slot = 0, found = 0;
    uint64_t fake = (uint64_t)(uintptr_t)(g_fake_code + sizeof(g_fake_code));
    uint64_t jmp = (uint64_t)(uintptr_t)(g_jmp_code + sizeof(g_jmp_code));
    struct range code = {.lo = ra - 64, .hi = ra + 64};
    struct range any = {.lo = 0, .hi = UINT64_MAX};
    struct btc_unwind_mem m;

    (void)state;
    /* Small numbers, a stack address, a jump's end, data ending in E8
     * (not in a function), then the return address, then another. */
    for (size_t i = 0; i < 16; i++)
        stack[i] = i;
    stack[3] = (uint64_t)(uintptr_t)&stack[9];
    stack[4] = jmp;
    stack[5] = fake;
    stack[7] = ra;
    stack[10] = ra;
    btc_unwind_mem_init(&m, getpid(), 0, stack, (uint64_t)(uintptr_t)stack, sizeof(stack));
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 16, 0, in_range, &code, 0, &slot, &found),
        1);
    assert_int_equal(slot, (uint64_t)(uintptr_t)&stack[7]);
    assert_int_equal(found, ra);
    /* The predicate decides only for what ends with a call: fake and ra. */
    assert_int_equal(code.calls, 2);
    /* Any address a function: the data that ends with E8 is taken. */
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 16, 0, in_range, &any, 0, &slot, &found), 1);
    assert_int_equal(slot, (uint64_t)(uintptr_t)&stack[5]);
    /* Not within the words it may scan. */
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 7, 0, in_range, &code, 0, &slot, &found), 0);
    /* Nothing is a function. */
    code.lo = code.hi = 0;
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 16, 0, in_range, &code, 0, &slot, &found),
        0);
    btc_unwind_mem_done(&m);
}

/* A frame whose function is known: a return address after a direct call
 * of it wins over one further in, that called something else (a stale
 * value in the frame's locals). */
static void
test_scan_prefers_a_direct_call_of_the_callee(void **state)
{
    uint64_t ra = return_address(), stale = other_address(), stack[8] = {0}, slot, found;
    uint64_t callee = (uint64_t)(uintptr_t)&return_address;
    struct range any = {.lo = 0, .hi = UINT64_MAX};
    struct btc_unwind_mem m;

    (void)state;
    stack[2] = stale;
    stack[5] = ra;
    btc_unwind_mem_init(&m, getpid(), 0, stack, (uint64_t)(uintptr_t)stack, sizeof(stack));
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 8, callee, in_range, &any, 0, &slot, &found),
        1);
    assert_int_equal(slot, (uint64_t)(uintptr_t)&stack[5]);
    assert_int_equal(found, ra);
    /* The callee unknown, or called by nobody there: the first one. */
    assert_int_equal(
        btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 8, 0, in_range, &any, 0, &slot, &found), 1);
    assert_int_equal(found, stale);
    assert_int_equal(btc_scan_stack(&m, (uint64_t)(uintptr_t)stack, 8, callee + 1, in_range, &any,
                                    0, &slot, &found),
                     1);
    assert_int_equal(slot, (uint64_t)(uintptr_t)&stack[2]);
    btc_unwind_mem_done(&m);
}

/* The scan ends where the stack's mapping does. */
static void
test_scan_stops_at_unreadable_memory(void **state)
{
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *p =
        mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct range any = {.lo = 0, .hi = UINT64_MAX};
    uint64_t *words, slot, ra;
    struct btc_unwind_mem m;

    (void)state;
    assert_true(p != MAP_FAILED);
    assert_int_equal(mprotect(p + page, page, PROT_NONE), 0);
    words = (uint64_t *)(p + page) - 4;
    memset(words, 0, 4 * sizeof(*words));
    btc_unwind_mem_init(&m, getpid(), 0, NULL, 0, 0);
    assert_int_equal(btc_scan_stack(&m, (uint64_t)(uintptr_t)words, BTC_SCAN_MAX_WORDS, 0, in_range,
                                    &any, 0, &slot, &ra),
                     0);
    assert_int_equal(any.calls, 0);
    btc_unwind_mem_done(&m);
    munmap(p, 2 * page);
}

/* libdwfl's symbols: a function's inside and entry; data is no function. */
static void
test_scan_default_predicate_on_this_process(void **state)
{
    uint64_t fn = (uint64_t)(uintptr_t)&return_address, start = 0;
    Dwfl *dwfl = NULL;

    (void)state;
    assert_int_equal(btc_unwind_dwfl_open(getpid(), NULL, 0, &dwfl), 0);
    assert_true(btc_scan_in_function_dwfl(dwfl, fn + 1, &start));
    assert_int_equal(start, fn);
    assert_true(btc_scan_in_function_dwfl(dwfl, return_address() - 1, NULL));
    assert_false(btc_scan_in_function_dwfl(dwfl, (uint64_t)(uintptr_t)g_fake_code, &start));
    assert_false(btc_scan_in_function_dwfl(dwfl, 0, &start));
    assert_false(btc_scan_in_function_dwfl(dwfl, (uint64_t)(uintptr_t)&start, &start));
    dwfl_end(dwfl);
}

/* A process whose memory cannot be read (here: no such process): code
 * comes from the module's file, data does not. */
static void
test_scan_reads_code_from_the_file_when_memory_is_refused(void **state)
{
    uint64_t fn = (uint64_t)(uintptr_t)&return_address;
    unsigned char got[BTC_SCAN_CALL_BYTES];
    struct btc_unwind_mem m;
    Dwfl *dwfl = NULL;

    (void)state;
    btc_unwind_mem_init(&m, INT_MAX, 0, NULL, 0, 0);
    assert_int_equal(btc_unwind_mem_read(&m, fn, got, sizeof(got)), -EFAULT);
    assert_int_equal(btc_unwind_dwfl_open(getpid(), NULL, 0, &dwfl), 0);
    m.dwfl = dwfl;
    assert_int_equal(btc_unwind_mem_read(&m, fn, got, sizeof(got)), 0);
    assert_memory_equal(got, (const void *)&return_address, sizeof(got));
    /* The scan's own question, answered from the file. */
    assert_true(btc_scan_is_return_address(&m, return_address(), btc_scan_in_function_dwfl, dwfl));
    assert_int_equal(btc_unwind_mem_read(&m, (uint64_t)(uintptr_t)g_fake_code, got, sizeof(got)),
                     -EFAULT);
    btc_unwind_mem_done(&m);
    dwfl_end(dwfl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_knows_every_call_form),
        cmocka_unit_test(test_scan_refuses_what_is_no_call),
        cmocka_unit_test(test_scan_finds_the_first_return_address_into_a_function),
        cmocka_unit_test(test_scan_prefers_a_direct_call_of_the_callee),
        cmocka_unit_test(test_scan_stops_at_unreadable_memory),
        cmocka_unit_test(test_scan_default_predicate_on_this_process),
        cmocka_unit_test(test_scan_reads_code_from_the_file_when_memory_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
