/* Unit tests of minidump/: the layout rules readers hold a minidump to
 * (Breakpad's processor refuses a whole module or memory list when two
 * entries overlap), the MDString encoding, the CodeView record, the
 * environment blanked out of the stacks, and the "dump requested" code.
 * The integration tests (test_minidump.py) read real dumps with Breakpad
 * and lldb; these build dumps from a made-up capture, so that each rule
 * is tried on the case that breaks it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capture.h"
#include "dump_state.h"
#include "md_buf.h"
#include "md_format.h"
#include "minidump.h"

struct dump {
    unsigned char *data;
    size_t len;
};

static const struct btc_md_directory *
find_stream(const struct dump *d, uint32_t type)
{
    const struct btc_md_header *h = (const void *)d->data;
    const struct btc_md_directory *dir = (const void *)(d->data + h->stream_directory_rva);

    for (uint32_t i = 0; i < h->stream_count; i++)
        if (dir[i].stream_type == type)
            return &dir[i];
    return NULL;
}

static const unsigned char *
stream(const struct dump *d, uint32_t type, uint32_t *ret_size)
{
    const struct btc_md_directory *e = find_stream(d, type);

    if (!e)
        return NULL;
    assert_true((size_t)e->location.rva + e->location.data_size <= d->len);
    *ret_size = e->location.data_size;
    return d->data + e->location.rva;
}

/* A capture of pid 100 with the modules given, and a dump state of
 * @nthreads threads whose stacks are @stack_starts (each 0x100 bytes of
 * @fill, tid 100 + i). */
struct fake {
    struct btc_capture cap;
    struct btc_dump_state dump;
    struct btc_module mods[3];
    struct btc_dump_thread threads[3];
    unsigned char stacks[3][0x100];
};

static void
fake_init(struct fake *f, size_t nthreads, const uint64_t *stack_starts)
{
    memset(f, 0, sizeof(*f));
    f->cap.rec.pid = 100;
    f->cap.rec.tid = 100;
    f->cap.rec.signo = 11;
    f->cap.rec.si_code = 1;
    f->cap.rec.fault_address = 0x10;
    f->cap.rec.fault_time_ns = 1700000000ll * 1000000000ll;
    f->cap.modules = f->mods;
    f->dump.threads = f->threads;
    f->dump.nthreads = nthreads;
    for (size_t i = 0; i < nthreads; i++) {
        f->threads[i].tid = (int)(100 + i);
        f->threads[i].regs.rsp = stack_starts[i] + 0x80;
        f->threads[i].regs.rip = 0x400000 + i;
        f->threads[i].stack_start = stack_starts[i];
        f->threads[i].stack = f->stacks[i];
        f->threads[i].stack_len = sizeof(f->stacks[i]);
        memset(f->stacks[i], 'a' + (int)i, sizeof(f->stacks[i]));
    }
}

static void
build(struct fake *f, struct dump *d)
{
    assert_int_equal(btc_minidump_build(&f->cap, &f->dump, &d->data, &d->len), 0);
    assert_true(d->len > sizeof(struct btc_md_header));
    assert_int_equal(((const struct btc_md_header *)d->data)->signature, BTC_MD_SIGNATURE);
}

static void
test_header_and_threads(void **state)
{
    const uint64_t starts[] = {0x7000, 0x9000};
    struct fake f;
    struct dump d;
    const struct btc_md_header *h;
    const unsigned char *s;
    uint32_t size, n;
    struct btc_md_thread t[2];

    (void)state;
    fake_init(&f, 2, starts);
    build(&f, &d);
    h = (const void *)d.data;
    assert_int_equal(h->version, BTC_MD_VERSION);
    assert_int_equal(h->time_date_stamp, 1700000000u);
    s = stream(&d, BTC_MD_THREAD_LIST, &size);
    assert_non_null(s);
    /* The count, then the entries, with no padding between. */
    memcpy(&n, s, 4);
    assert_int_equal(n, 2);
    assert_int_equal(size, 4 + 2 * sizeof(struct btc_md_thread));
    memcpy(t, s + 4, sizeof(t));
    for (int i = 0; i < 2; i++) {
        struct btc_md_context_amd64 c;

        assert_int_equal(t[i].thread_id, 100 + i);
        assert_int_equal(t[i].stack.start, starts[i]);
        assert_int_equal(t[i].stack.memory.data_size, 0x100);
        assert_memory_equal(d.data + t[i].stack.memory.rva, f.stacks[i], 0x100);
        assert_int_equal(t[i].context.data_size, sizeof(c));
        memcpy(&c, d.data + t[i].context.rva, sizeof(c));
        assert_int_equal(c.rsp, starts[i] + 0x80);
        assert_int_equal(c.rip, 0x400000 + i);
        /* No FXSAVE area was had: the context must not claim one. */
        assert_int_equal(c.context_flags & 0xf, 0x7);
    }
    free(d.data);
}

static void
test_exception_of_a_crash_and_of_an_api_report(void **state)
{
    const uint64_t starts[] = {0x7000};
    struct fake f;
    struct dump d;
    struct btc_md_exception e;
    uint32_t size;
    const unsigned char *s;

    (void)state;
    fake_init(&f, 1, starts);
    build(&f, &d);
    s = stream(&d, BTC_MD_EXCEPTION, &size);
    assert_non_null(s);
    assert_int_equal(size, sizeof(e));
    memcpy(&e, s, sizeof(e));
    assert_int_equal(e.thread_id, 100);
    assert_int_equal(e.code, 11);
    assert_int_equal(e.flags, 1);
    assert_int_equal(e.address, 0x10);
    assert_int_not_equal(e.context.rva, 0);
    free(d.data);

    f.cap.rec.flags |= BTC_RECORD_F_API;
    f.cap.rec.signo = 0;
    build(&f, &d);
    memcpy(&e, stream(&d, BTC_MD_EXCEPTION, &size), sizeof(e));
    assert_int_equal(e.code, BTC_MD_DUMP_REQUESTED);
    assert_int_equal(e.flags, 0);
    free(d.data);
}

/* Two threads' stacks in one mapping that overlap, and the code around
 * the pc inside one of them: the memory list stays sorted and without
 * overlap, covering every byte once. */
static void
test_memory_list_never_overlaps(void **state)
{
    const uint64_t starts[] = {0x7000, 0x7080};
    struct fake f;
    struct dump d;
    const unsigned char *s;
    uint32_t size, n;
    struct btc_md_memory m[4];

    (void)state;
    fake_init(&f, 2, starts);
    f.dump.code_start = 0x70c0;
    f.dump.code_len = 0x80;
    memset(f.dump.code, 0xcc, f.dump.code_len);
    build(&f, &d);
    s = stream(&d, BTC_MD_MEMORY_LIST, &size);
    assert_non_null(s);
    memcpy(&n, s, 4);
    assert_true(n >= 1 && n <= 3);
    assert_int_equal(size, 4 + n * sizeof(struct btc_md_memory));
    memcpy(m, s + 4, n * sizeof(m[0]));
    assert_int_equal(m[0].start, 0x7000);
    for (uint32_t i = 1; i < n; i++)
        assert_int_equal(m[i].start, m[i - 1].start + m[i - 1].memory.data_size);
    assert_int_equal(m[n - 1].start + m[n - 1].memory.data_size, 0x7180);
    /* The bytes after the first stack are the second's, not a copy's. */
    for (uint32_t i = 0; i < n; i++)
        if (m[i].start == 0x7100)
            assert_int_equal(d.data[m[i].memory.rva], 'b');
    free(d.data);
}

static void
test_modules_skip_overlaps_and_carry_build_ids(void **state)
{
    const uint64_t starts[] = {0x7000};
    struct fake f;
    struct dump d;
    const unsigned char *s;
    uint32_t size, n, sig, len;
    struct btc_md_module m[3];
    char path0[] = "/bin/prog", path1[] = "/lib/inside", path2[] = "/lib/caf\xc3\xa9\xff";
    char bid0[] = "0a1b2c3d", bid2[] = "not hex!";

    (void)state;
    fake_init(&f, 1, starts);
    f.mods[0] =
        (struct btc_module){.start = 0x1000, .size = 0x3000, .path = path0, .build_id = bid0};
    f.mods[1] = (struct btc_module){.start = 0x2000, .size = 0x1000, .path = path1};
    f.mods[2] =
        (struct btc_module){.start = 0x8000, .size = 0x1000, .path = path2, .build_id = bid2};
    f.cap.nmodules = 3;
    build(&f, &d);
    s = stream(&d, BTC_MD_MODULE_LIST, &size);
    memcpy(&n, s, 4);
    /* The module inside the first is left out: readers refuse overlaps. */
    assert_int_equal(n, 2);
    assert_int_equal(size, 4 + 2 * sizeof(struct btc_md_module));
    memcpy(m, s + 4, 2 * sizeof(m[0]));
    assert_int_equal(m[0].base, 0x1000);
    assert_int_equal(m[1].base, 0x8000);
    /* "BpEL" and the build-id's bytes. */
    assert_int_equal(m[0].cv_record.data_size, 8);
    memcpy(&sig, d.data + m[0].cv_record.rva, 4);
    assert_int_equal(sig, BTC_MD_CV_ELF);
    assert_memory_equal(d.data + m[0].cv_record.rva + 4, "\x0a\x1b\x2c\x3d", 4);
    /* A build-id that is not hex gives no record rather than a wrong one. */
    assert_int_equal(m[1].cv_record.data_size, 0);
    /* The name as UTF-16LE, the bad byte as U+FFFD, the length in bytes
     * without the terminating 0 unit. */
    memcpy(&len, d.data + m[1].name_rva, 4);
    assert_int_equal(len, 2 * 10);
    assert_memory_equal(d.data + m[1].name_rva + 4 + 2 * 7, "f\0\xe9\0\xfd\xff\0\0", 8);
    free(d.data);
}

static void
test_string_surrogate_pairs(void **state)
{
    struct btc_md_buf b = {0};
    uint32_t rva, len;

    (void)state;
    (void)btc_md_buf_append(&b, NULL, 4, 4);            /* RVA 0 is the header's */
    rva = btc_md_buf_string(&b, "\xf0\x9f\x98\x80", 4); /* U+1F600 */
    assert_int_not_equal(rva, 0);
    memcpy(&len, b.data + rva, 4);
    assert_int_equal(len, 4);
    assert_memory_equal(b.data + rva + 4, "\x3d\xd8\x00\xde\0\0", 6);
    btc_md_buf_free(&b);
}

static void
test_environment_blanked_in_stacks(void **state)
{
    const uint64_t starts[] = {0x7000};
    struct fake f;
    struct dump d;
    const unsigned char *s;
    uint32_t size;
    struct btc_md_thread t;
    const unsigned char *stack;

    (void)state;
    fake_init(&f, 1, starts);
    f.dump.environ_start = 0x70f0;
    f.dump.environ_end = 0x7200; /* past the copy's end */
    build(&f, &d);
    s = stream(&d, BTC_MD_THREAD_LIST, &size);
    memcpy(&t, s + 4, sizeof(t));
    stack = d.data + t.stack.memory.rva;
    assert_int_equal(stack[0xef], 'a');
    for (size_t i = 0xf0; i < 0x100; i++)
        assert_int_equal(stack[i], 0);
    /* The source is the capture's: left as it was. */
    assert_int_equal(f.stacks[0][0xf0], 'a');
    assert_null(find_stream(&d, BTC_MD_LINUX_ENVIRON));
    free(d.data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_threads),
        cmocka_unit_test(test_exception_of_a_crash_and_of_an_api_report),
        cmocka_unit_test(test_memory_list_never_overlaps),
        cmocka_unit_test(test_modules_skip_overlaps_and_carry_build_ids),
        cmocka_unit_test(test_string_surrogate_pairs),
        cmocka_unit_test(test_environment_blanked_in_stacks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
